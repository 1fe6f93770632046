/*
 * test_compile_alloc.c -- allocation failure in the compiler: with an
 * allocator that fails the n-th allocation, for every n until compilation
 * succeeds, compile returns NULL with an error (an "out of memory"
 * diagnostic, or no report at all when even the report could not be made)
 * and every block it took is freed. Policies with errors and warnings are
 * included, so that the error paths are the ones under test.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "fg_test_support.h"

static const char *const policies[] = {
    /* everything: definitions, defaults, quoted names, every constructor kind
     * (so not fg_payment_policy.h's text: this one adds Custom, a second
     * breaker and positional arguments) */
    "tracker transport = TypeOf(\"timeout\", \"connection refused\") | Status(500..599) | Custom(\"c\")\n"
    "tripper standard = FailureStreak(5) | (MinRequests(20) & ((Closed() & FailureRate(60%))\n"
    "                 | (HalfOpened() & FailureRate(50%))))\n"
    "defaults { window = CountWindow(100) retry = Backoff(10s, 2, 5m, 0.1) }\n"
    "breaker payment_api { tracker = transport tripper = standard | SlowRate(30%, threshold = 2s)\n"
    "  permit = RampUp(10%, 50%, 1m) }\n"
    "breaker \"search-api\" { window = TimeWindow(30) tracker = ~Message(\"*x*\")\n"
    "  retry = Cooldown(1) permit = Random(0.5) max_half_open_calls = 2 half_open_lease = 5s }\n",
    /* warnings only: unused, never fires, Closed & HalfOpened */
    "tripper spare = FailureStreak(1)\n"
    "breaker a { window = CountWindow(5) tripper = Closed() & HalfOpened() & MinRequests(10) }\n",
};

/* Policies that never compile: every failing n must still leak nothing. */
static const char *const broken[] = {
    "breaker a {\n  tripper = FailureRat(2) &\n}\nbreaker a { retry = Cooldown(0) }\n"
    "tripper t = t\n \"unterminated\n",
    "breaker b { tracker = TypeOf(\"a\\q\") window = CountWindow(1e999) windw = 3 }\n",
};

enum { MAX_STEPS = 5000 };

/* Checks the result of one step of a sweep (a made with fail_at = n) and
 * frees it: a policy only when no failure was injected or when the failure
 * took the report itself; NULL only when a failure was injected, with a
 * report, if any, that has an error. Returns 1 when the policy was made
 * without any failure injected (the end of the sweep). */
static int step_ends_sweep(const fg_test_alloc *a, fg_policy *p, fg_report *r) {
    int injected = a->failures > 0;
    int made = p != NULL;
    if (made) {
        /* only losing the report itself lets a compile succeed */
        if (injected) assert_null(r);
    } else {
        assert_true(injected);
        if (r != NULL) assert_true(fg_report_error_count(r) >= 1);
    }
    fg_report_free(r);
    fg_policy_free(p);
    fg_test_assert_nothing_live(a);
    return made && !injected;
}

/* The three ways to a policy, each from its input. */
typedef fg_policy *make_policy_fn(const void *input, const fg_allocator *alloc, fg_report **r);

static fg_policy *compile_source(const void *input, const fg_allocator *alloc, fg_report **r) {
    const char *src = input;
    return fg_policy_compile(src, strlen(src), "alloc.fgp", alloc, r);
}

static fg_policy *from_expressions(const void *input, const fg_allocator *alloc, fg_report **r) {
    return fg_policy_from_expressions("x", input, alloc, r);
}

static fg_policy *load_path(const void *input, const fg_allocator *alloc, fg_report **r) {
    return fg_policy_load(input, alloc, r);
}

/* Fails the 1st allocation of making a policy from input, then the 2nd, ...
 * checking each step, until one succeeds without any failure injected (the
 * end of the sweep). Returns the n after that step, or 0 when MAX_STEPS
 * steps did not reach the end. */
static long sweep(make_policy_fn *make, const void *input) {
    for (long n = 1; n <= MAX_STEPS; n++) {
        fg_test_alloc a = {0};
        a.fail_at = n;
        fg_allocator alloc = fg_test_allocator(&a);
        fg_report *r = NULL;
        fg_policy *p = make(input, &alloc, &r);
        if (step_ends_sweep(&a, p, r)) return n + 1;
    }
    return 0;
}

static void every_allocation_of_a_compile_may_fail(void **state) {
    (void)state;
    for (size_t i = 0; i < sizeof policies / sizeof policies[0]; i++) {
        long n = sweep(compile_source, policies[i]);
        assert_true(n != 0);
        assert_true(n > 5); /* the sweep did reach past the first few */
    }
}

static void an_out_of_memory_compile_says_so(void **state) {
    (void)state;
    /* fail the arena's first chunk: the report exists and says why */
    for (long n = 2; n <= 6; n++) {
        fg_test_alloc a = {0};
        a.fail_at = n;
        fg_allocator alloc = fg_test_allocator(&a);
        fg_report *r = NULL;
        assert_null(fg_policy_compile(policies[0], strlen(policies[0]), "alloc.fgp", &alloc, &r));
        assert_non_null(r);
        int oom = 0;
        for (size_t i = 0; i < fg_report_count(r); i++) {
            if (strcmp(fg_report_get(r, i)->message, "out of memory") != 0) continue;
            oom = 1;
            /* it names the file, like every other error */
            assert_string_equal(fg_report_get(r, i)->chunk, "alloc.fgp");
        }
        assert_true(oom);
        fg_report_free(r);
        fg_test_assert_nothing_live(&a);
    }
}

static void broken_policies_leak_nothing_under_failure(void **state) {
    (void)state;
    for (size_t i = 0; i < sizeof broken / sizeof broken[0]; i++) {
        long n;
        for (n = 1; n <= MAX_STEPS; n++) {
            fg_test_alloc a = {0};
            a.fail_at = n;
            fg_allocator alloc = fg_test_allocator(&a);
            fg_report *r = NULL;
            assert_null(fg_policy_compile(broken[i], strlen(broken[i]), "b.fgp", &alloc, &r));
            int reached = a.allocations >= n;
            fg_report_free(r);
            fg_test_assert_nothing_live(&a);
            if (!reached) break; /* this run needed fewer than n allocations: done */
        }
        assert_true(n > 5 && n <= MAX_STEPS);
    }
}

static void expressions_may_fail_at_every_allocation(void **state) {
    (void)state;
    fg_expressions e;
    memset(&e, 0, sizeof e);
    e.window = "TimeWindow(60)";
    e.tracker = "TypeOf(\"timeout\") | Status(500..599)";
    e.tripper = "FailureStreak(5) | (MinRequests(20) & SlowRate(30%, threshold = 2s))";
    e.retry = "Backoff(1s, jitter_ratio = 0.5)";
    e.max_half_open_calls = "4";
    assert_true(sweep(from_expressions, &e) != 0);
}

static void load_may_fail_at_every_allocation(void **state) {
    (void)state;
    char path[] = "/tmp/fg_alloc_policy_XXXXXX";
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    assert_int_equal(write(fd, policies[0], strlen(policies[0])), (long)strlen(policies[0]));
    close(fd);
    long n = sweep(load_path, path);
    unlink(path);
    assert_true(n != 0);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(every_allocation_of_a_compile_may_fail),
        cmocka_unit_test(an_out_of_memory_compile_says_so),
        cmocka_unit_test(broken_policies_leak_nothing_under_failure),
        cmocka_unit_test(expressions_may_fail_at_every_allocation),
        cmocka_unit_test(load_may_fail_at_every_allocation),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
