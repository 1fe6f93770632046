/*
 * test_breaker_alloc.c -- out of memory anywhere in breaker creation is a
 * clean error: for a representative set of policies, the 1st, 2nd, ... Nth
 * allocation of fg_breaker_new, of fg_breaker_add_listener, and of compile +
 * creation together (one allocator for both) is made to fail in turn. Each
 * failure must give NULL / -1 (with a message where the API has one), leave
 * nothing allocated, and leave what existed before working.
 * (Compile-only allocation failures are tests/test_compile_alloc.c's.)
 *
 * The allocator is fg_test_support.h's, which is strict: besides counting
 * live blocks and bytes it stores each block's size in a header and checks
 * that every free and growth passes the right osize (the lua_Alloc contract
 * of fluxgate.h).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fg_payment_policy.h"
#include "fg_test_support.h"
#include "fluxgate.h"

/* Give up (and fail) past this many allocations for one operation. */
enum { MAX_STEPS = 20000, LISTENERS = 8 };

/* ---- the policies ------------------------------------------------------------ */

static const char *const policies[] = {
    /* SPEC 3.2: named tracker and tripper, defaults, SlowRate, Backoff, RampUp */
    fg_payment_policy,
    /* TimeWindow, Custom + Message trackers, several slow thresholds, Random, leases */
    "breaker \"search-api\" { window = TimeWindow(30)\n"
    "  tracker = (Custom(\"overloaded\") | Message(\"*reset*\")) & ~TypeOf(\"cancelled\")\n"
    "  tripper = SlowRate(20%, threshold = 1s) | SlowRate(10%, threshold = 5s) | AvgLatency(800ms)\n"
    "  retry = Cooldown(30s, jitter_ratio = 0.2)  permit = Random(0.25)\n"
    "  max_half_open_calls = 5  half_open_lease = 10s }\n",
    /* several breakers, defaults everywhere, Always / Never */
    "breaker a { }\n"
    "breaker b { retry = Always() tripper = ~MinRequests(1000) }\n"
    "breaker c { retry = Never() window = CountWindow(1) max_half_open_calls = 1 }\n",
};

static int always_false(void *ud, const fg_outcome *o) {
    (void)ud;
    (void)o;
    return 0;
}

static int resolve_any(void *ud, const char *name, fg_custom *out) {
    (void)ud;
    (void)name;
    out->fn = always_false;
    out->ud = NULL;
    return 1;
}

/* Compiles policies[which] with a. A compilation may succeed although an
 * injected failure hit its report (fluxgate.h: *report is NULL only when not
 * even the report could be allocated); *report_missing says so. */
static fg_policy *compile_with(size_t which, fg_test_alloc *a, int *report_missing) {
    fg_allocator alloc = fg_test_allocator(a);
    fg_report *report = NULL;
    fg_policy *p = fg_policy_compile(policies[which], strlen(policies[which]), "alloc.fgp", &alloc, &report);
    if (report_missing != NULL) *report_missing = report == NULL;
    if (p == NULL && report != NULL && a->failures == 0) {
        char buf[1024];
        fg_report_format(report, buf, sizeof buf);
        fprintf(stderr, "%s", buf);
    }
    fg_report_free(report);
    return p;
}

/* After a compile with a failing at some step: 1 when the injected failure
 * hit the compile, which must then have cleaned up (the policy, if made at
 * all, lost only its report; the caller's policy is freed here); 0 when the
 * compile saw no failure and the policy is the caller's. */
static int failed_in_compile(fg_test_alloc *a, fg_policy *policy, int report_missing) {
    if (policy != NULL && a->failures == 0) return 0;
    assert_int_equal(a->failures, 1);
    if (policy != NULL) {
        assert_true(report_missing); /* only the report may go */
        fg_policy_free(policy);
    }
    fg_test_assert_nothing_live(a);
    return 1;
}

static fg_breaker_options options_with(fg_test_alloc *a) {
    fg_breaker_options o;
    memset(&o, 0, sizeof o);
    o.alloc = fg_test_allocator(a);
    o.has_seed = 1;
    o.seed = 7;
    o.resolve_custom = resolve_any;
    return o;
}

static void count_call(void *ud, const fg_transition *t) {
    (void)t;
    (*(int *)ud)++;
}

/* A breaker that was made must work: one call through, a manual transition. */
static void exercise(fg_breaker *b) {
    fg_ticket t;
    fg_outcome ok;
    memset(&ok, 0, sizeof ok);
    assert_true(fg_breaker_acquire(b, &t));
    assert_int_equal(fg_breaker_release(b, &t, &ok, 0.01), FG_VERDICT_SUCCESS);
    fg_breaker_force_open(b);
    assert_int_equal(fg_breaker_state(b), FG_STATE_FORCED_OPEN);
}

/* ---- the tests ----------------------------------------------------------------- */

/* fg_breaker_new with its own allocator failing at step n, for every n. */
static void breaker_new_fails_cleanly_at_every_allocation(void **state) {
    (void)state;
    for (size_t which = 0; which < sizeof policies / sizeof policies[0]; which++) {
        fg_test_alloc pa = {0};
        fg_policy *policy = compile_with(which, &pa, NULL);
        assert_non_null(policy);
        for (size_t index = 0; index < fg_policy_breaker_count(policy); index++) {
            int made = 0;
            for (long n = 1; n <= MAX_STEPS && !made; n++) {
                fg_test_alloc ba = {0};
                ba.fail_at = n;
                fg_breaker_options o = options_with(&ba);
                char err[256] = "";
                fg_breaker *b = fg_breaker_new(policy, index, &o, err, sizeof err);
                if (b == NULL) {
                    assert_int_equal(ba.failures, 1); /* only our failure may stop it */
                    assert_true(err[0] != '\0');
                    fg_test_assert_nothing_live(&ba);
                    continue;
                }
                assert_int_equal(ba.failures, 0);     /* a failure must not be swallowed */
                exercise(b);
                fg_breaker_free(b);
                fg_test_assert_nothing_live(&ba);
                made = 1;
            }
            assert_true(made);
        }
        fg_policy_free(policy);
        fg_test_assert_nothing_live(&pa);
    }
}

/* fg_breaker_add_listener failing at step n: -1, and the listeners added
 * before it (and the breaker) still work. */
static void add_listener_fails_cleanly_at_every_allocation(void **state) {
    (void)state;
    fg_test_alloc pa = {0};
    fg_policy *policy = compile_with(0, &pa, NULL);
    assert_non_null(policy);
    int complete = 0;
    for (long n = 1; n <= MAX_STEPS && !complete; n++) {
        fg_test_alloc ba = {0};
        fg_breaker_options o = options_with(&ba);
        fg_breaker *b = fg_breaker_new(policy, 0, &o, NULL, 0);
        assert_non_null(b);
        ba.fail_at = ba.allocations + n;
        int calls[LISTENERS] = {0};
        int added = 0;
        while (added < LISTENERS && fg_breaker_add_listener(b, count_call, &calls[added]) == 0) added++;
        assert_int_equal(ba.failures, added < LISTENERS ? 1 : 0);
        complete = added == LISTENERS;
        exercise(b); /* one transition: every added listener hears it once */
        for (int i = 0; i < LISTENERS; i++) assert_int_equal(calls[i], i < added ? 1 : 0);
        fg_breaker_free(b);
        fg_test_assert_nothing_live(&ba);
    }
    assert_true(complete);
    fg_policy_free(policy);
    fg_test_assert_nothing_live(&pa);
}

/* One allocator for compile, creation and a listener, failing at step n;
 * the policy is freed before the breaker (the breaker's reference keeps it). */
static void compile_and_breaker_fail_cleanly_with_one_allocator(void **state) {
    (void)state;
    for (size_t which = 0; which < sizeof policies / sizeof policies[0]; which++) {
        int complete = 0;
        for (long n = 1; n <= MAX_STEPS && !complete; n++) {
            fg_test_alloc a = {0};
            a.fail_at = n;
            int report_missing = 0;
            fg_policy *policy = compile_with(which, &a, &report_missing);
            if (failed_in_compile(&a, policy, report_missing)) continue;
            fg_breaker_options o = options_with(&a);
            char err[256] = "";
            fg_breaker *b = fg_breaker_new(policy, fg_policy_breaker_count(policy) - 1, &o, err, sizeof err);
            fg_policy_free(policy);
            if (b == NULL) {
                assert_int_equal(a.failures, 1);
                assert_true(err[0] != '\0');
                fg_test_assert_nothing_live(&a);
                continue;
            }
            int calls = 0;
            int rc = fg_breaker_add_listener(b, count_call, &calls);
            assert_int_equal(rc, a.failures == 1 ? -1 : 0);
            complete = a.failures == 0;
            exercise(b);
            assert_int_equal(calls, rc == 0 ? 1 : 0);
            fg_breaker_free(b);
            fg_test_assert_nothing_live(&a);
        }
        assert_true(complete);
    }
}

/* The same through the expression API (fg_policy_from_expressions). */
static void expressions_and_breaker_fail_cleanly_with_one_allocator(void **state) {
    (void)state;
    fg_expressions e;
    memset(&e, 0, sizeof e);
    e.window = "TimeWindow(60)";
    e.tracker = "TypeOf(\"timeout\") | Status(500..599) | Custom(\"overloaded\")";
    e.tripper = "FailureStreak(5) | (MinRequests(20) & SlowRate(30%, threshold = 2s))";
    e.retry = "Backoff(1s, jitter_ratio = 0.5)";
    e.permit = "RampUp(0.1, 0.5, 30s)";
    e.max_half_open_calls = "4";
    e.half_open_lease = "5s";
    int complete = 0;
    for (long n = 1; n <= MAX_STEPS && !complete; n++) {
        fg_test_alloc a = {0};
        a.fail_at = n;
        fg_allocator alloc = fg_test_allocator(&a);
        fg_report *report = NULL;
        fg_policy *policy = fg_policy_from_expressions("expr", &e, &alloc, &report);
        int report_missing = report == NULL;
        fg_report_free(report);
        if (failed_in_compile(&a, policy, report_missing)) continue;
        fg_breaker_options o = options_with(&a);
        fg_breaker *b = fg_breaker_new(policy, 0, &o, NULL, 0);
        fg_policy_free(policy);
        if (b == NULL) {
            assert_int_equal(a.failures, 1);
            fg_test_assert_nothing_live(&a);
            continue;
        }
        complete = a.failures == 0;
        assert_true(complete); /* nothing failed after creation: nothing else allocates */
        exercise(b);
        fg_breaker_free(b);
        fg_test_assert_nothing_live(&a);
    }
    assert_true(complete);
}

/* The hot path never allocates: thousands of calls through every state,
 * with an allocator that fails everything once the breaker exists. */
static void calls_never_allocate(void **state) {
    (void)state;
    fg_test_alloc a = {0};
    fg_policy *policy = compile_with(0, &a, NULL);
    assert_non_null(policy);
    fg_breaker_options o = options_with(&a);
    fg_breaker *b = fg_breaker_new(policy, 0, &o, NULL, 0);
    assert_non_null(b);
    long before = a.allocations;
    a.fail_at = before + 1;
    fg_outcome fail;
    memset(&fail, 0, sizeof fail);
    fail.is_error = 1;
    fail.type = "timeout";
    fail.type_len = 7;
    for (int i = 0; i < 5000; i++) {
        fg_ticket t;
        if (fg_breaker_acquire(b, &t)) fg_breaker_release(b, &t, &fail, 0.5);
        if (i % 1000 == 999) fg_breaker_reset(b);
    }
    assert_int_equal(a.allocations, before);
    fg_breaker_free(b);
    fg_policy_free(policy);
    fg_test_assert_nothing_live(&a);
}

/* ---- alignment ------------------------------------------------------------------ */

/* An allocator whose blocks are 8-byte aligned but never 16-byte aligned, as
 * LuaJIT's lua_Alloc hands them out (the Lua binding passes it through). The
 * engine may rely on alignof(double) and alignof(void *), not on
 * alignof(max_align_t); under SANITIZE=1 UBSan reports any misaligned access.
 * Found by the LuaJIT conformance run under ASan + UBSan (fg_arena.c's chunk
 * header asked for max_align_t). */
typedef struct odd_alloc {
    long live_blocks;
} odd_alloc;

enum { ODD_PAD = 8, ODD_HEADER = 16 };

static void *odd_fn(void *ud, void *ptr, size_t osize, size_t nsize) {
    odd_alloc *a = ud;
    unsigned char *base = ptr ? (unsigned char *)ptr - ODD_PAD : NULL;
    if (nsize == 0) {
        if (ptr != NULL) {
            a->live_blocks--;
            free(base);
        }
        return NULL;
    }
    /* malloc gives 16-byte alignment; base + 8 is then 8 mod 16. */
    unsigned char *block = malloc(nsize + ODD_HEADER);
    if (block == NULL) return NULL;
    if (ptr != NULL) {
        memcpy(block + ODD_PAD, ptr, osize < nsize ? osize : nsize);
        free(base);
    } else {
        a->live_blocks++;
    }
    return block + ODD_PAD;
}

static void eight_byte_aligned_blocks_are_enough(void **state) {
    (void)state;
    for (size_t which = 0; which < sizeof policies / sizeof policies[0]; which++) {
        odd_alloc a = {0};
        fg_allocator alloc = {odd_fn, &a};
        fg_report *report = NULL;
        fg_policy *policy =
            fg_policy_compile(policies[which], strlen(policies[which]), "odd.fgp", &alloc, &report);
        fg_report_free(report);
        assert_non_null(policy);
        fg_breaker_options o;
        memset(&o, 0, sizeof o);
        o.alloc = alloc;
        o.resolve_custom = resolve_any;
        fg_breaker *b = fg_breaker_new(policy, 0, &o, NULL, 0);
        assert_non_null(b);
        int calls = 0;
        assert_int_equal(fg_breaker_add_listener(b, count_call, &calls), 0);
        exercise(b);
        assert_int_equal(calls, 1);
        fg_breaker_free(b);
        fg_policy_free(policy);
        assert_int_equal(a.live_blocks, 0);
    }
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(breaker_new_fails_cleanly_at_every_allocation),
        cmocka_unit_test(add_listener_fails_cleanly_at_every_allocation),
        cmocka_unit_test(compile_and_breaker_fail_cleanly_with_one_allocator),
        cmocka_unit_test(expressions_and_breaker_fail_cleanly_with_one_allocator),
        cmocka_unit_test(calls_never_allocate),
        cmocka_unit_test(eight_byte_aligned_blocks_are_enough),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
