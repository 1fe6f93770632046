/*
 * fg_payment_policy.h -- the payment policy of SPEC section 3.2, once, for
 * the tests and the benchmark (bench/ includes it with -Itests).
 *
 * Its rules must match policies/payment.fgp's (only the comments differ):
 * test_disasm.c pins this text's listing and tests/cli/golden/disasm-payment.out
 * pins the file's, so a change to one without the other fails a test.
 * A test that needs a variant (another window, a second breaker) keeps it
 * beside itself and says why.
 */
#ifndef FG_PAYMENT_POLICY_H
#define FG_PAYMENT_POLICY_H

/* One breaker, payment_api; sizeof fg_payment_policy - 1 is its length. */
static const char fg_payment_policy[] =
    "# Failures worth counting: 5xx answers and transport errors.\n"
    "tracker transport = TypeOf(\"timeout\", \"connection refused\", \"closed\") | Status(500..599)\n"
    "\n"
    "tripper standard = FailureStreak(5)\n"
    "                 | (MinRequests(20) & ((Closed() & FailureRate(60%))\n"
    "                                     | (HalfOpened() & FailureRate(50%))))\n"
    "\n"
    "defaults {\n"
    "    window = CountWindow(100)\n"
    "    retry  = Backoff(initial = 10s, multiplier = 2, max_duration = 5m, jitter_ratio = 0.1)\n"
    "}\n"
    "\n"
    "breaker payment_api {\n"
    "    tracker = transport\n"
    "    tripper = standard | (MinRequests(20) & SlowRate(30%, threshold = 2s))\n"
    "    permit  = RampUp(initial = 10%, final = 50%, duration = 1m)\n"
    "}\n";

#endif /* FG_PAYMENT_POLICY_H */
