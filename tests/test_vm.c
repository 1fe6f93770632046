/*
 * test_vm.c -- what compiled trackers and trippers answer (SPEC 5, 5.1),
 * on hand-built trees so that the back end is tested on its own.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "fg_program.h"
#include "fg_program_block.h"
#include "fg_test_tree.h"

static fg_program *compile(const fg_node *root, fg_program_kind kind) {
    fg_program *p = NULL;
    fg_codegen_error err;
    int rc = fg_codegen(root, kind, NULL, &p, &err);
    if (rc != 0) fail_msg("codegen failed: %s", err.message);
    assert_non_null(p);
    return p;
}

/* ---- trippers --------------------------------------------------------------- */

typedef struct window {
    fg_metric metric;
    fg_trip_context ctx;
} window;

static window *win(window *w, uint64_t total, uint64_t failures, uint32_t streak) {
    memset(w, 0, sizeof *w);
    w->metric.total_count = total;
    w->metric.failure_count = failures;
    w->ctx.metric = &w->metric;
    w->ctx.state = FG_STATE_CLOSED;
    w->ctx.consecutive_failures = streak;
    return w;
}

static int trips(const fg_program *p, const window *w) { return fg_vm_trip(p, &w->ctx, NULL); }

static void min_requests_counts_every_call(void **state) {
    (void)state;
    fg_tree t = {0};
    fg_program *p = compile(tt_call1(&t, "MinRequests(20)", FG_BUILTIN_MIN_REQUESTS, 20),
                            FG_PROGRAM_TRIPPER);
    window w;
    assert_false(trips(p, win(&w, 19, 19, 0)));
    assert_true(trips(p, win(&w, 20, 0, 0)));
    assert_true(trips(p, win(&w, 21, 0, 0)));
    fg_program_free(p, NULL);
}

static void failure_rate_is_inclusive_and_exact_at_the_boundary(void **state) {
    (void)state;
    fg_tree t = {0};
    fg_program *p75 = compile(tt_call1(&t, "FailureRate(0.75)", FG_BUILTIN_FAILURE_RATE, 0.75),
                              FG_PROGRAM_TRIPPER);
    fg_program *p70 = compile(tt_call1(&t, "FailureRate(0.7)", FG_BUILTIN_FAILURE_RATE, 0.7),
                              FG_PROGRAM_TRIPPER);
    fg_program *p60 = compile(tt_call1(&t, "FailureRate(60%)", FG_BUILTIN_FAILURE_RATE, 0.6),
                              FG_PROGRAM_TRIPPER);
    /* 57% is the double nearest 0.57 (the lexer's, SPEC 3.1), which 57/100 rounds to */
    fg_program *p57 = compile(tt_call1(&t, "FailureRate(57%)", FG_BUILTIN_FAILURE_RATE, 0.57),
                              FG_PROGRAM_TRIPPER);
    /* no tolerance (fluxgate compares failures/total >= r as it is): a ratio
     * a hair above 1/3 (less than 1e-12) does not trip at 1/3, nor does one
     * computed with one more rounding (57 * 0.01 is 0.5700000000000001) at 57/100 */
    fg_program *p13 = compile(tt_call1(&t, "FailureRate(0.33333333333333337)", FG_BUILTIN_FAILURE_RATE,
                                       0.33333333333333337),
                              FG_PROGRAM_TRIPPER);
    fg_program *p57x = compile(tt_call1(&t, "FailureRate(0.5700000000000001)", FG_BUILTIN_FAILURE_RATE,
                                        57 * 0.01),
                               FG_PROGRAM_TRIPPER);
    window w;
    assert_true(trips(p75, win(&w, 4, 3, 0)));
    assert_false(trips(p75, win(&w, 4, 2, 0)));
    assert_true(trips(p70, win(&w, 10, 7, 0))); /* 0.7 * 10 is 7.000000000000001 */
    assert_false(trips(p70, win(&w, 10, 6, 0)));
    assert_true(trips(p60, win(&w, 5, 3, 0)));
    assert_false(trips(p60, win(&w, 5, 2, 0)));
    assert_true(trips(p57, win(&w, 100, 57, 0)));
    assert_false(trips(p57, win(&w, 100, 56, 0)));
    assert_false(trips(p57, win(&w, 0, 0, 0))); /* an empty window never trips on a rate */
    assert_false(trips(p13, win(&w, 3, 1, 0)));
    assert_false(trips(p13, win(&w, 300, 100, 0)));
    assert_true(trips(p13, win(&w, 3, 2, 0)));
    assert_false(trips(p57x, win(&w, 100, 57, 0)));
    assert_true(trips(p57x, win(&w, 100, 58, 0)));
    fg_program_free(p13, NULL);
    fg_program_free(p57x, NULL);
    fg_program_free(p75, NULL);
    fg_program_free(p70, NULL);
    fg_program_free(p60, NULL);
    fg_program_free(p57, NULL);
}

static void avg_latency_divides_total_duration(void **state) {
    (void)state;
    fg_tree t = {0};
    fg_program *p = compile(tt_call1(&t, "AvgLatency(0.2)", FG_BUILTIN_AVG_LATENCY, 0.2),
                            FG_PROGRAM_TRIPPER);
    window w;
    assert_false(trips(p, win(&w, 0, 0, 0)));
    win(&w, 3, 0, 0);
    w.metric.total_duration = 0.1 + 0.2 + 0.3; /* 0.6000000000000001 */
    assert_true(trips(p, &w));
    w.metric.total_duration = 0.59;
    assert_false(trips(p, &w));
    fg_program_free(p, NULL);
}

static void slow_rate_reads_the_count_of_its_own_threshold(void **state) {
    (void)state;
    fg_tree t = {0};
    /* written with the larger threshold first: thresholds are still ascending */
    fg_node *root = tt_or(
        &t, "SlowRate(0.5, threshold=2) | SlowRate(0.9, threshold=1)",
        tt_call(&t, "SlowRate(0.5, threshold=2)", FG_BUILTIN_SLOW_RATE, 2, tt_num(0.5), tt_num(2)),
        tt_call(&t, "SlowRate(0.9, threshold=1)", FG_BUILTIN_SLOW_RATE, 2, tt_num(0.9), tt_num(1)),
        NULL);
    fg_program *p = compile(root, FG_PROGRAM_TRIPPER);
    assert_int_equal(fg_program_threshold_count(p), 2);
    assert_true(fg_program_thresholds(p)[0] == 1.0);
    assert_true(fg_program_thresholds(p)[1] == 2.0);
    window w;
    win(&w, 10, 0, 0);
    w.metric.threshold_count = 2;
    w.metric.thresholds[0] = 1;
    w.metric.thresholds[1] = 2;
    w.metric.slow_counts[0] = 8; /* >= 1 s */
    w.metric.slow_counts[1] = 4; /* >= 2 s */
    assert_false(trips(p, &w));
    w.metric.slow_counts[1] = 5;
    uint32_t alt = 99;
    assert_true(fg_vm_trip(p, &w.ctx, &alt));
    assert_int_equal(alt, 0);
    w.metric.slow_counts[1] = 0;
    w.metric.slow_counts[0] = 9;
    assert_true(fg_vm_trip(p, &w.ctx, &alt));
    assert_int_equal(alt, 1);
    assert_false(trips(p, win(&w, 0, 0, 0)));
    fg_program_free(p, NULL);
}

static void failure_streak_reads_consecutive_failures(void **state) {
    (void)state;
    fg_tree t = {0};
    fg_program *p = compile(tt_call1(&t, "FailureStreak(5)", FG_BUILTIN_FAILURE_STREAK, 5),
                            FG_PROGRAM_TRIPPER);
    window w;
    assert_false(trips(p, win(&w, 100, 100, 4)));
    assert_true(trips(p, win(&w, 0, 0, 5)));
    fg_program_free(p, NULL);
}

static void closed_and_half_opened_read_the_evaluated_state(void **state) {
    (void)state;
    fg_tree t = {0};
    fg_program *c = compile(tt_call0(&t, "Closed()", FG_BUILTIN_CLOSED), FG_PROGRAM_TRIPPER);
    fg_program *h = compile(tt_call0(&t, "HalfOpened()", FG_BUILTIN_HALF_OPENED),
                            FG_PROGRAM_TRIPPER);
    window w;
    win(&w, 0, 0, 0);
    assert_true(trips(c, &w));
    assert_false(trips(h, &w));
    w.ctx.state = FG_STATE_HALF_OPEN;
    assert_false(trips(c, &w));
    assert_true(trips(h, &w));
    assert_true(fg_program_reads_state(c, FG_STATE_CLOSED));
    assert_false(fg_program_reads_state(c, FG_STATE_HALF_OPEN));
    assert_true(fg_program_reads_state(h, FG_STATE_HALF_OPEN));
    fg_program_free(c, NULL);
    fg_program_free(h, NULL);
}

static void the_first_true_alternative_explains_the_trip(void **state) {
    (void)state;
    fg_tree t = {0};
    fg_node *root = tt_payment_api_tripper(&t);
    fg_program *p = compile(root, FG_PROGRAM_TRIPPER);
    assert_string_equal(fg_program_text(p),
                        "standard | (MinRequests(20) & SlowRate(30%, threshold = 2s))");
    assert_int_equal(fg_program_alternative_count(p), 3);
    assert_string_equal(fg_program_alternative_text(p, 0), "FailureStreak(5)");
    assert_string_equal(fg_program_alternative_text(p, 1),
                        "(MinRequests(20) & ((Closed() & FailureRate(60%)) | "
                        "(HalfOpened() & FailureRate(50%))))");
    assert_string_equal(fg_program_alternative_text(p, 2),
                        "(MinRequests(20) & SlowRate(30%, threshold = 2s))");
    assert_null(fg_program_alternative_text(p, 3));

    window w;
    uint32_t alt = 99;
    win(&w, 20, 12, 5); /* both the streak and the rate: the first one wins */
    w.metric.threshold_count = 1;
    w.metric.thresholds[0] = 2;
    assert_true(fg_vm_trip(p, &w.ctx, &alt));
    assert_int_equal(alt, 0);
    w.ctx.consecutive_failures = 4;
    assert_true(fg_vm_trip(p, &w.ctx, &alt));
    assert_int_equal(alt, 1);
    w.ctx.state = FG_STATE_HALF_OPEN; /* 12/20 >= 50% too */
    assert_true(fg_vm_trip(p, &w.ctx, &alt));
    assert_int_equal(alt, 1);
    w.metric.failure_count = 9; /* 45%: neither rate */
    assert_false(fg_vm_trip(p, &w.ctx, &alt));
    w.metric.slow_counts[0] = 6; /* 30% slow */
    assert_true(fg_vm_trip(p, &w.ctx, &alt));
    assert_int_equal(alt, 2);
    w.metric.total_count = 19; /* below MinRequests: only the streak could trip */
    assert_false(fg_vm_trip(p, &w.ctx, &alt));
    fg_program_free(p, NULL);
}

static void not_inverts_a_tripper(void **state) {
    (void)state;
    fg_tree t = {0};
    fg_node *root = tt_and(&t, "~Closed() & ~(MinRequests(5) | FailureStreak(2))",
                           tt_not(&t, "~Closed()", tt_call0(&t, "Closed()", FG_BUILTIN_CLOSED)),
                           tt_not(&t, "~(MinRequests(5) | FailureStreak(2))",
                                  tt_or(&t, "(MinRequests(5) | FailureStreak(2))",
                                        tt_call1(&t, "MinRequests(5)", FG_BUILTIN_MIN_REQUESTS, 5),
                                        tt_call1(&t, "FailureStreak(2)",
                                                 FG_BUILTIN_FAILURE_STREAK, 2),
                                        NULL)),
                           NULL);
    fg_program *p = compile(root, FG_PROGRAM_TRIPPER);
    window w;
    win(&w, 4, 0, 1);
    w.ctx.state = FG_STATE_HALF_OPEN;
    assert_true(trips(p, &w));
    w.ctx.state = FG_STATE_CLOSED;
    assert_false(trips(p, &w));
    w.ctx.state = FG_STATE_HALF_OPEN;
    w.metric.total_count = 5;
    assert_false(trips(p, &w));
    w.metric.total_count = 4;
    w.ctx.consecutive_failures = 2;
    assert_false(trips(p, &w));
    /* ~~A is A */
    fg_node *twice = tt_not(&t, "~~Closed()",
                            tt_not(&t, "~Closed()", tt_call0(&t, "Closed()", FG_BUILTIN_CLOSED)));
    fg_program *q = compile(twice, FG_PROGRAM_TRIPPER);
    assert_false(trips(q, &w));
    w.ctx.state = FG_STATE_CLOSED;
    assert_true(trips(q, &w));
    fg_program_free(p, NULL);
    fg_program_free(q, NULL);
}

/* Every combination of three leaves under a mix of operators agrees with C's own
 * boolean operators: the jump lists are patched right. */
static void short_circuit_agrees_with_boolean_algebra(void **state) {
    (void)state;
    fg_tree t = {0};
    /* A = Closed(), B = FailureStreak(1), C = MinRequests(1) */
#define A tt_call0(&t, "Closed()", FG_BUILTIN_CLOSED)
#define B tt_call1(&t, "FailureStreak(1)", FG_BUILTIN_FAILURE_STREAK, 1)
#define C tt_call1(&t, "MinRequests(1)", FG_BUILTIN_MIN_REQUESTS, 1)
    fg_node *exprs[] = {
        tt_and(&t, "A & (B | C)", A, tt_or(&t, "(B | C)", B, C, NULL), NULL),
        tt_or(&t, "(A & B) | C", tt_and(&t, "(A & B)", A, B, NULL), C, NULL),
        tt_and(&t, "~(A & ~B) & ~C", tt_not(&t, "~(A & ~B)", tt_and(&t, "(A & ~B)", A,
                                                                     tt_not(&t, "~B", B), NULL)),
               tt_not(&t, "~C", C), NULL),
        tt_or(&t, "~(A | B) | (B & ~C & A)", tt_not(&t, "~(A | B)", tt_or(&t, "(A | B)", A, B, NULL)),
              tt_and(&t, "(B & ~C & A)", B, tt_not(&t, "~C", C), A, NULL), NULL),
        tt_not(&t, "~(A | B | C)", tt_or(&t, "(A | B | C)", A, B, C, NULL)),
    };
#undef A
#undef B
#undef C
    for (size_t e = 0; e < sizeof exprs / sizeof exprs[0]; e++) {
        fg_program *p = compile(exprs[e], FG_PROGRAM_TRIPPER);
        for (int bits = 0; bits < 8; bits++) {
            int a = bits & 1, b = (bits >> 1) & 1, c = (bits >> 2) & 1;
            window w;
            win(&w, (uint64_t)c, 0, (uint32_t)b);
            w.ctx.state = a ? FG_STATE_CLOSED : FG_STATE_HALF_OPEN;
            int want[] = {a && (b || c), (a && b) || c, !(a && !b) && !c,
                          !(a || b) || (b && !c && a), !(a || b || c)};
            if (trips(p, &w) != want[e])
                fail_msg("expression %zu with a=%d b=%d c=%d", e, a, b, c);
        }
        fg_program_free(p, NULL);
    }
}

/* The memo answers exactly what running the program answers: a random walk
 * over small contexts (so that values repeat and the memo is used; the
 * counts' version is bumped with each change of a count, as a window does)
 * compares fg_vm_trip_cached with fg_vm_trip, the alternative included, for
 * a payment-style tripper and for one that reads the total duration (which
 * is not in the memo: that one always runs). */
static void the_memo_answers_what_the_program_answers(void **state) {
    (void)state;
    fg_tree t = {0};
    fg_node *payment = tt_or(
        &t, "FailureStreak(3) | (MinRequests(2) & ((Closed() & FailureRate(0.5)) | "
            "(HalfOpened() & FailureRate(0.3)))) | (MinRequests(2) & SlowRate(0.5, threshold=2))",
        tt_call1(&t, "FailureStreak(3)", FG_BUILTIN_FAILURE_STREAK, 3),
        tt_and(&t, "(MinRequests(2) & rates)", tt_call1(&t, "MinRequests(2)", FG_BUILTIN_MIN_REQUESTS, 2),
               tt_or(&t, "rates",
                     tt_and(&t, "(Closed() & FailureRate(0.5))", tt_call0(&t, "Closed()", FG_BUILTIN_CLOSED),
                            tt_call1(&t, "FailureRate(0.5)", FG_BUILTIN_FAILURE_RATE, 0.5), NULL),
                     tt_and(&t, "(HalfOpened() & FailureRate(0.3))",
                            tt_call0(&t, "HalfOpened()", FG_BUILTIN_HALF_OPENED),
                            tt_call1(&t, "FailureRate(0.3)", FG_BUILTIN_FAILURE_RATE, 0.3), NULL),
                     NULL),
               NULL),
        tt_and(&t, "(MinRequests(2) & SlowRate(0.5, threshold=2))",
               tt_call1(&t, "MinRequests(2)", FG_BUILTIN_MIN_REQUESTS, 2),
               tt_call(&t, "SlowRate(0.5, threshold=2)", FG_BUILTIN_SLOW_RATE, 2, tt_num(0.5), tt_num(2)),
               NULL),
        NULL);
    fg_node *latency = tt_or(
        &t, "AvgLatency(1) | SlowRate(0.5, threshold=1) | ~SlowRate(0.25, threshold=3)",
        tt_call1(&t, "AvgLatency(1)", FG_BUILTIN_AVG_LATENCY, 1),
        tt_call(&t, "SlowRate(0.5, threshold=1)", FG_BUILTIN_SLOW_RATE, 2, tt_num(0.5), tt_num(1)),
        tt_not(&t, "~SlowRate(0.25, threshold=3)",
               tt_call(&t, "SlowRate(0.25, threshold=3)", FG_BUILTIN_SLOW_RATE, 2, tt_num(0.25), tt_num(3))),
        NULL);
    fg_node *roots[] = {payment, latency};
    uint64_t seed = 0x9E3779B97F4A7C15ull;
    for (size_t r = 0; r < sizeof roots / sizeof roots[0]; r++) {
        fg_program *p = compile(roots[r], FG_PROGRAM_TRIPPER);
        fg_trip_memo memo;
        memset(&memo, 0, sizeof memo);
        window w;
        win(&w, 0, 0, 0);
        w.metric.threshold_count = fg_program_threshold_count(p);
        int hits = 0;
        uint64_t version = 1; /* bumped with every change of a count, as a window does */
        for (int i = 0; i < 20000; i++) {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            /* change one input at a time, often none */
            switch (seed % 8) {
            case 0: w.metric.total_count = (seed >> 8) % 5; version++; break;
            case 1: w.metric.failure_count = (seed >> 8) % (w.metric.total_count + 1); version++; break;
            case 2:
                w.metric.slow_counts[(seed >> 8) % 2] = (seed >> 9) % (w.metric.total_count + 1);
                version++;
                break;
            case 3: w.ctx.consecutive_failures = (uint32_t)((seed >> 8) % 4); break;
            case 4: w.ctx.state = (seed >> 8) & 1 ? FG_STATE_CLOSED : FG_STATE_HALF_OPEN; break;
            case 5: w.metric.total_duration = (double)((seed >> 8) % 4) * 0.75; break;
            default: break;
            }
            uint32_t want_alt = 77, got_alt = 77;
            int want = fg_vm_trip(p, &w.ctx, &want_alt);
            int was_valid = memo.valid;
            fg_trip_memo before = memo;
            int got = fg_vm_trip_cached(p, &w.ctx, version, &memo, &got_alt);
            if (got != want || (want && got_alt != want_alt))
                fail_msg("program %zu step %d: memo %d/a%u, program %d/a%u", r, i, got,
                         (unsigned)got_alt, want, (unsigned)want_alt);
            hits += was_valid && memcmp(&before, &memo, sizeof memo) == 0;
        }
        /* the memo is used, except by the tripper that reads the duration */
        if (r == 0) assert_true(hits > 1000);
        else assert_int_equal(memo.valid, 0);
        fg_program_free(p, NULL);
    }
}

/* ---- trackers --------------------------------------------------------------- */

static fg_outcome result(int has_status, int64_t status) {
    fg_outcome o;
    memset(&o, 0, sizeof o);
    o.has_status = has_status;
    o.status = status;
    return o;
}

static fg_outcome error(const char *type, const char *message) {
    fg_outcome o;
    memset(&o, 0, sizeof o);
    o.is_error = 1;
    o.type = type;
    o.type_len = type ? strlen(type) : 0;
    o.message = message;
    o.message_len = message ? strlen(message) : 0;
    return o;
}

static int tracks(const fg_program *p, fg_outcome o) { return fg_vm_track(p, &o, NULL); }

static void all_matches_every_error_and_no_result(void **state) {
    (void)state;
    fg_tree t = {0};
    fg_program *p = compile(tt_call0(&t, "All()", FG_BUILTIN_ALL), FG_PROGRAM_TRACKER);
    assert_true(tracks(p, error("timeout", "x")));
    assert_true(tracks(p, error(NULL, NULL)));
    assert_false(tracks(p, result(1, 503)));
    assert_false(tracks(p, result(0, 0)));
    fg_program_free(p, NULL);
}

static void type_of_matches_error_types_exactly(void **state) {
    (void)state;
    fg_tree t = {0};
    fg_program *p = compile(tt_call(&t, "TypeOf(\"timeout\", \"closed\")", FG_BUILTIN_TYPE_OF, 2,
                                    tt_str("timeout"), tt_str("closed")),
                            FG_PROGRAM_TRACKER);
    assert_true(tracks(p, error("timeout", NULL)));
    assert_true(tracks(p, error("closed", NULL)));
    assert_false(tracks(p, error("Timeout", NULL)));
    assert_false(tracks(p, error("timeouts", NULL)));
    assert_false(tracks(p, error("time", NULL)));
    assert_false(tracks(p, error(NULL, "timeout")));
    fg_outcome r = result(0, 0);
    r.type = "timeout"; /* a result is never matched by its type */
    r.type_len = 7;
    assert_false(tracks(p, r));
    fg_outcome nul = error("closed", NULL);
    nul.type = "closed\0x"; /* lengths, not NUL terminators, delimit names */
    nul.type_len = 8;
    assert_false(tracks(p, nul));
    fg_program_free(p, NULL);
}

static void message_matches_a_glob(void **state) {
    (void)state;
    fg_tree t = {0};
    fg_program *p = compile(tt_call(&t, "Message(\"*time?out*\")", FG_BUILTIN_MESSAGE, 1,
                                    tt_str("*time?out*")),
                            FG_PROGRAM_TRACKER);
    assert_true(tracks(p, error(NULL, "read time-out after 5s")));
    assert_true(tracks(p, error("x", "time out")));
    assert_false(tracks(p, error("x", "timeout")));
    assert_false(tracks(p, error("x", NULL)));
    fg_outcome r = result(0, 0);
    r.message = "time out";
    r.message_len = 8;
    assert_false(tracks(p, r));
    fg_program_free(p, NULL);
}

static void status_matches_results_and_errors_in_range(void **state) {
    (void)state;
    fg_tree t = {0};
    fg_program *p = compile(tt_call(&t, "Status(500..599, 429)", FG_BUILTIN_STATUS, 2,
                                    tt_range(500, 599), tt_num(429)),
                            FG_PROGRAM_TRACKER);
    assert_true(tracks(p, result(1, 500)));
    assert_true(tracks(p, result(1, 599)));
    assert_true(tracks(p, result(1, 429)));
    assert_false(tracks(p, result(1, 600)));
    assert_false(tracks(p, result(1, 499)));
    assert_false(tracks(p, result(1, 428)));
    assert_false(tracks(p, result(0, 503))); /* no status: the number means nothing */
    fg_outcome e = error("http", NULL);
    e.has_status = 1;
    e.status = 503;
    assert_true(tracks(p, e));
    fg_program_free(p, NULL);
}

/* Results are classified from the tracker's folded status table
 * (fg_vm_classify); it must answer exactly what the program answers,
 * at and around every bound, without a status, and for errors. */
static void folded_results_answer_what_the_program_answers(void **state) {
    (void)state;
    fg_tree t = {0};
#define ST(text, ...) tt_call(&t, text, FG_BUILTIN_STATUS, __VA_ARGS__)
    fg_node *roots[] = {
        tt_or(&t, "TypeOf(\"timeout\") | Status(500..599)",
              tt_call(&t, "TypeOf(\"timeout\")", FG_BUILTIN_TYPE_OF, 1, tt_str("timeout")),
              ST("Status(500..599)", 1, tt_range(500, 599)), NULL),
        tt_and(&t, "Status(400..599) & ~Status(404, 410..419)", ST("Status(400..599)", 1, tt_range(400, 599)),
               tt_not(&t, "~Status(404, 410..419)", ST("Status(404, 410..419)", 2, tt_num(404), tt_range(410, 419))),
               NULL),
        tt_or(&t, "~Status(200..299) | Status(250)",
              tt_not(&t, "~Status(200..299)", ST("Status(200..299)", 1, tt_range(200, 299))),
              ST("Status(250)", 1, tt_num(250)), NULL),
        tt_or(&t, "All() | Status(-5..3, 1e18..9.3e18)", tt_call0(&t, "All()", FG_BUILTIN_ALL),
              ST("Status(-5..3, 1e18..9.3e18)", 2, tt_range(-5, 3), tt_range(1e18, 9.3e18)), NULL),
        tt_or(&t, "Status(1..10, 5..20, 21) | Status(30..40) & Status(35..50)",
              ST("Status(1..10, 5..20, 21)", 3, tt_range(1, 10), tt_range(5, 20), tt_num(21)),
              tt_and(&t, "Status(30..40) & Status(35..50)", ST("Status(30..40)", 1, tt_range(30, 40)),
                     ST("Status(35..50)", 1, tt_range(35, 50)), NULL),
              NULL),
        tt_and(&t, "Message(\"*x*\") & Status(500)",
               tt_call(&t, "Message(\"*x*\")", FG_BUILTIN_MESSAGE, 1, tt_str("*x*")),
               ST("Status(500)", 1, tt_num(500)), NULL),
        tt_call0(&t, "All()", FG_BUILTIN_ALL),
    };
#undef ST
    const int64_t probes[] = {INT64_MIN, INT64_MIN + 1, -6, -5, -4, 0, 3, 4, 9, 10, 11, 20, 21, 22,
                              29, 30, 34, 35, 40, 41, 50, 51, 199, 200, 249, 250, 251, 299, 300,
                              399, 400, 403, 404, 405, 409, 410, 419, 420, 499, 500, 501, 598,
                              599, 600, INT64_C(999999999999999999), INT64_C(1000000000000000000),
                              INT64_MAX - 1, INT64_MAX};
    for (size_t r = 0; r < sizeof roots / sizeof roots[0]; r++) {
        fg_program *p = compile(roots[r], FG_PROGRAM_TRACKER);
        for (size_t i = 0; i < sizeof probes / sizeof probes[0]; i++) {
            for (int has = 0; has <= 1; has++) {
                fg_outcome res = result(has, probes[i]);
                fg_outcome err = error("timeout", "x");
                err.has_status = has;
                err.status = probes[i];
                if (fg_vm_classify(p, &res, NULL) != (fg_vm_track(p, &res, NULL) ? 1 : 0) ||
                    fg_vm_classify(p, &err, NULL) != (fg_vm_track(p, &err, NULL) ? 1 : -1))
                    fail_msg("tracker %zu disagrees at status %lld (has_status %d)", r,
                             (long long)probes[i], has);
            }
        }
        fg_program_free(p, NULL);
    }
}

/* Errors are classified from the table of their type (fg_vm_classify)
 * when the tracker has no Custom() and no Message(): the answer must be
 * the program's for the type of each table, for types that differ from
 * those in their first, middle or last byte, are one byte shorter or
 * longer (lengths 1 to 18: the compares of 4 and 8 bytes and memcmp), for
 * no type and the empty type, at and around every status bound. */
static void folded_errors_answer_what_the_program_answers(void **state) {
    (void)state;
    fg_tree t = {0};
#define TY(text, ...) tt_call(&t, text, FG_BUILTIN_TYPE_OF, __VA_ARGS__)
#define ST(text, ...) tt_call(&t, text, FG_BUILTIN_STATUS, __VA_ARGS__)
    fg_node *roots[] = {
        tt_or(&t, "TypeOf(\"timeout\") | Status(500..599)",
              TY("TypeOf(\"timeout\")", 1, tt_str("timeout")),
              ST("Status(500..599)", 1, tt_range(500, 599)), NULL),
        tt_or(&t, "TypeOf(...) & ~Status(400..499) | TypeOf(\"closed\", \"a\") & Status(500..599)",
              tt_and(&t, "TypeOf(...) & ~Status(400..499)",
                     TY("TypeOf(...)", 7, tt_str("a"), tt_str("abcd"), tt_str("timeout"),
                        tt_str("abcdefgh"), tt_str("connection"), tt_str("abcdefghijklmnop"),
                        tt_str("connection refused")),
                     tt_not(&t, "~Status(400..499)", ST("Status(400..499)", 1, tt_range(400, 499))),
                     NULL),
              tt_and(&t, "TypeOf(\"closed\", \"a\") & Status(500..599)",
                     TY("TypeOf(\"closed\", \"a\")", 2, tt_str("closed"), tt_str("a")),
                     ST("Status(500..599)", 1, tt_range(500, 599)), NULL),
              NULL),
        tt_not(&t, "~TypeOf(\"cancelled\")", TY("TypeOf(\"cancelled\")", 1, tt_str("cancelled"))),
        tt_and(&t, "All() & ~TypeOf(\"ab\") & ~Status(404)", tt_call0(&t, "All()", FG_BUILTIN_ALL),
               tt_not(&t, "~TypeOf(\"ab\")", TY("TypeOf(\"ab\")", 1, tt_str("ab"))),
               tt_not(&t, "~Status(404)", ST("Status(404)", 1, tt_num(404))), NULL),
        tt_or(&t, "Message(\"*x*\") | TypeOf(\"timeout\")",
              tt_call(&t, "Message(\"*x*\")", FG_BUILTIN_MESSAGE, 1, tt_str("*x*")),
              TY("TypeOf(\"timeout\")", 1, tt_str("timeout")), NULL),
        TY("TypeOf(17 strings)", 17, tt_str("t1"), tt_str("t2"), tt_str("t3"), tt_str("t4"),
           tt_str("t5"), tt_str("t6"), tt_str("t7"), tt_str("t8"), tt_str("t9"), tt_str("t10"),
           tt_str("t11"), tt_str("t12"), tt_str("t13"), tt_str("t14"), tt_str("t15"), tt_str("t16"),
           tt_str("timeout")),
    };
    /* which trackers have the tables: not with Message(), nor with more
     * strings than FG_ERROR_FOLD_MAX_TYPES */
    const int folded[] = {1, 1, 1, 1, 0, 0};
#undef ST
#undef TY
    static const char *const types[] =
        {"a",         "ab",       "abcd",       "timeout",          "closed",
         "cancelled", "abcdefgh", "connection", "abcdefghijklmnop", "connection refused",
         "t16",       "timeout"};
    const int64_t statuses[] = {INT64_MIN, 0,   399, 400, 403, 404,      405,
                                499,       500, 501, 599, 600, INT64_MAX};
    for (size_t r = 0; r < sizeof roots / sizeof roots[0]; r++) {
        fg_program *p = compile(roots[r], FG_PROGRAM_TRACKER);
        assert_int_equal(p->error_folded, folded[r]);
        for (size_t k = 0; k < sizeof types / sizeof types[0] + 1; k++) {
            /* the type, then variants: first, middle, last byte changed,
             * one byte shorter, one longer; the last round: none, and "" */
            char variants[6][32];
            size_t n = k < sizeof types / sizeof types[0] ? strlen(types[k]) : 0;
            for (int v = 0; v < 6; v++) {
                if (n > 0) memcpy(variants[v], types[k], n + 1);
                else variants[v][0] = '\0';
            }
            if (n > 0) {
                variants[1][0] ^= 1;
                variants[2][n / 2] ^= 1;
                variants[3][n - 1] ^= 1;
                variants[4][n - 1] = '\0';
                variants[5][n] = 'x';
                variants[5][n + 1] = '\0';
            }
            for (int v = 0; v < 6; v++) {
                for (size_t i = 0; i < sizeof statuses / sizeof statuses[0]; i++) {
                    for (int has = 0; has <= 1; has++) {
                        fg_outcome err = error(variants[v], "x");
                        if (n == 0 && v == 0) err = error(NULL, NULL); /* no type */
                        err.has_status = has;
                        err.status = statuses[i];
                        if (fg_vm_classify(p, &err, NULL) != (fg_vm_track(p, &err, NULL) ? 1 : -1))
                            fail_msg("tracker %zu disagrees on type \"%s\" at status %lld "
                                     "(has_status %d)",
                                     r, err.type ? err.type : "(none)", (long long)statuses[i],
                                     has);
                    }
                }
            }
        }
        fg_program_free(p, NULL);
    }
}

static int match_when_user_says(void *ud, const fg_outcome *o) {
    (void)ud;
    return (int)(intptr_t)o->user;
}

static void custom_calls_the_predicate_of_its_name(void **state) {
    (void)state;
    fg_tree t = {0};
    fg_node *root = tt_or(
        &t, "Custom(\"a\") | Custom(\"b\") | Custom(\"a\")",
        tt_call(&t, "Custom(\"a\")", FG_BUILTIN_CUSTOM, 1, tt_str("a")),
        tt_call(&t, "Custom(\"b\")", FG_BUILTIN_CUSTOM, 1, tt_str("b")),
        tt_call(&t, "Custom(\"a\")", FG_BUILTIN_CUSTOM, 1, tt_str("a")), NULL);
    fg_program *p = compile(root, FG_PROGRAM_TRACKER);
    assert_int_equal(fg_program_custom_count(p), 2);
    assert_string_equal(fg_program_custom_name(p, 0), "a");
    assert_string_equal(fg_program_custom_name(p, 1), "b");
    assert_null(fg_program_custom_name(p, 2));
    fg_custom customs[2] = {{match_when_user_says, NULL}, {NULL, NULL}};
    fg_outcome o = result(0, 0);
    o.user = (void *)(intptr_t)1;
    assert_true(fg_vm_track(p, &o, customs));
    o.user = (void *)(intptr_t)-1; /* a failed predicate does not match */
    assert_false(fg_vm_track(p, &o, customs));
    o.user = (void *)(intptr_t)0;
    assert_false(fg_vm_track(p, &o, customs));
    o.user = (void *)(intptr_t)1;
    assert_false(fg_vm_track(p, &o, NULL)); /* no predicates at all */
    fg_program_free(p, NULL);
}

static void negated_tracker_matches_only_errors(void **state) {
    (void)state;
    fg_tree t = {0};
    fg_node *cancelled = tt_call(&t, "TypeOf(\"Cancelled\")", FG_BUILTIN_TYPE_OF, 1,
                                 tt_str("Cancelled"));
    fg_program *p = compile(tt_not(&t, "~TypeOf(\"Cancelled\")", cancelled), FG_PROGRAM_TRACKER);
    assert_true(tracks(p, error("timeout", NULL)));
    assert_true(tracks(p, error(NULL, NULL)));
    assert_false(tracks(p, error("Cancelled", NULL)));
    assert_false(tracks(p, result(1, 200)));
    assert_false(tracks(p, result(0, 0)));

    /* ~Status(200) must not turn a 503 result into a failure */
    fg_program *q = compile(tt_not(&t, "~Status(200)",
                                   tt_call(&t, "Status(200)", FG_BUILTIN_STATUS, 1, tt_num(200))),
                            FG_PROGRAM_TRACKER);
    assert_false(tracks(q, result(1, 503)));
    assert_true(tracks(q, error("x", NULL)));

    /* ~~Status(503) keeps results out too: it is the errors with status 503 */
    fg_program *r = compile(tt_not(&t, "~~Status(503)",
                                   tt_not(&t, "~Status(503)",
                                          tt_call(&t, "Status(503)", FG_BUILTIN_STATUS, 1,
                                                  tt_num(503)))),
                            FG_PROGRAM_TRACKER);
    fg_outcome e = error("x", NULL);
    e.has_status = 1;
    e.status = 503;
    assert_true(tracks(r, e));
    assert_false(tracks(r, result(1, 503)));
    fg_program_free(p, NULL);
    fg_program_free(q, NULL);
    fg_program_free(r, NULL);
}

static void tracker_union_and_intersection(void **state) {
    (void)state;
    fg_tree t = {0};
    fg_node *transport = tt_or(
        &t, "TypeOf(\"timeout\") | Status(500..599)",
        tt_call(&t, "TypeOf(\"timeout\")", FG_BUILTIN_TYPE_OF, 1, tt_str("timeout")),
        tt_call(&t, "Status(500..599)", FG_BUILTIN_STATUS, 1, tt_range(500, 599)), NULL);
    fg_node *root = tt_and(&t, "transport & ~Message(\"*retry*\")", tt_ref(&t, "transport", transport),
                           tt_not(&t, "~Message(\"*retry*\")",
                                  tt_call(&t, "Message(\"*retry*\")", FG_BUILTIN_MESSAGE, 1,
                                          tt_str("*retry*"))),
                           NULL);
    fg_program *p = compile(root, FG_PROGRAM_TRACKER);
    assert_true(tracks(p, error("timeout", "boom")));
    assert_false(tracks(p, error("timeout", "will retry")));
    assert_false(tracks(p, error("refused", "boom")));
    assert_false(tracks(p, result(1, 503))); /* the ~ part never matches a result */
    fg_program *u = compile(transport, FG_PROGRAM_TRACKER);
    assert_true(tracks(u, result(1, 503)));
    assert_true(tracks(u, error("timeout", NULL)));
    assert_false(tracks(u, result(1, 200)));
    fg_program_free(p, NULL);
    fg_program_free(u, NULL);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(min_requests_counts_every_call),
        cmocka_unit_test(failure_rate_is_inclusive_and_exact_at_the_boundary),
        cmocka_unit_test(avg_latency_divides_total_duration),
        cmocka_unit_test(slow_rate_reads_the_count_of_its_own_threshold),
        cmocka_unit_test(failure_streak_reads_consecutive_failures),
        cmocka_unit_test(closed_and_half_opened_read_the_evaluated_state),
        cmocka_unit_test(the_first_true_alternative_explains_the_trip),
        cmocka_unit_test(not_inverts_a_tripper),
        cmocka_unit_test(short_circuit_agrees_with_boolean_algebra),
        cmocka_unit_test(the_memo_answers_what_the_program_answers),
        cmocka_unit_test(all_matches_every_error_and_no_result),
        cmocka_unit_test(type_of_matches_error_types_exactly),
        cmocka_unit_test(message_matches_a_glob),
        cmocka_unit_test(status_matches_results_and_errors_in_range),
        cmocka_unit_test(folded_results_answer_what_the_program_answers),
        cmocka_unit_test(folded_errors_answer_what_the_program_answers),
        cmocka_unit_test(custom_calls_the_predicate_of_its_name),
        cmocka_unit_test(negated_tracker_matches_only_errors),
        cmocka_unit_test(tracker_union_and_intersection),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
