/*
 * test_trip_plan.c -- the breaker's tripper evaluation (fg_vm_trip_counts,
 * from the decision table or the plan fg_program_plan_tripper builds out of
 * the verified bytecode; fg_vm_trip_plan, the plan alone) answers exactly
 * what the bytecode interpreter (fg_vm_trip, the source of truth) answers:
 * result and alternative, on generated trippers of every test and
 * combinator, over generated metrics and states, and so does the table
 * with integer thresholds (fg_vm_trip_table_thresholds) a breaker backing
 * off from regions uses; the region fg_vm_trip_boxed returns with an
 * answer (the breaker's tripper memo) holds that answer at every point
 * inside it; and breakers that back off answer, call by call, as a family
 * key (no region) and as a breaker without a table (the plan).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>

#include "fg_breaker_internal.h"
#include "fg_policy_internal.h"
#include "fg_program.h"
#include "fg_program_block.h"
#include "fluxgate.h"
#include "fg_test_support.h"

static uint64_t rng_state = 0x9E3779B97F4A7C15ull;

static uint64_t rng(void) {
    rng_state ^= rng_state << 13;
    rng_state ^= rng_state >> 7;
    rng_state ^= rng_state << 17;
    return rng_state;
}

/* Appends a random tripper expression of at most `depth` levels to buf. */
static void gen_expr(char *buf, size_t cap, int depth) {
    size_t len = strlen(buf);
    char *out = buf + len;
    size_t room = cap - len;
    int choice = depth > 0 ? (int)(rng() % 10) : (int)(rng() % 7);
    /* thresholds 1 and 2 s, shared between SlowRate tests, so that slow
     * counts are indexed by more than one threshold */
    static const char *const leaves[] = {"MinRequests(%u)",   "FailureRate(%u%%)",
                                         "AvgLatency(%u)",    "SlowRate(%u%%, threshold = %us)",
                                         "FailureStreak(%u)", "Closed()",
                                         "HalfOpened()"};
    switch (choice) {
    case 0: snprintf(out, room, leaves[0], (unsigned)(rng() % 6)); break;
    case 1: snprintf(out, room, leaves[1], (unsigned)(rng() % 101)); break;
    case 2: snprintf(out, room, leaves[2], (unsigned)(rng() % 3)); break;
    case 3:
        snprintf(out, room, leaves[3], (unsigned)(rng() % 101), (unsigned)(1 + rng() % 2));
        break;
    case 4: snprintf(out, room, leaves[4], (unsigned)(rng() % 4)); break;
    case 5: snprintf(out, room, "%s", leaves[5]); break;
    case 6: snprintf(out, room, "%s", leaves[6]); break;
    case 7:
        snprintf(out, room, "~(");
        gen_expr(buf, cap, depth - 1);
        strncat(buf, ")", cap - strlen(buf) - 1);
        break;
    default: {
        const char *op = choice == 8 ? " & " : " | ";
        strncat(buf, "(", cap - strlen(buf) - 1);
        int n = 2 + (int)(rng() % 3);
        for (int i = 0; i < n; i++) {
            if (i > 0) strncat(buf, op, cap - strlen(buf) - 1);
            gen_expr(buf, cap, depth - 1);
        }
        strncat(buf, ")", cap - strlen(buf) - 1);
        break;
    }
    }
}

/* Appends 2 to 4 expressions of depth 1 joined by one operator: mostly 2
 * to 8 distinct tests, a decision table's size. */
static void gen_combination(char *buf, size_t cap) {
    const char *op = rng() & 1 ? " & " : " | ";
    int n = 2 + (int)(rng() % 3);
    strncat(buf, "(", cap - strlen(buf) - 1);
    for (int i = 0; i < n; i++) {
        if (i > 0) strncat(buf, op, cap - strlen(buf) - 1);
        gen_expr(buf, cap, 1);
    }
    strncat(buf, ")", cap - strlen(buf) - 1);
}

/* Compares the three evaluations on `rounds` random contexts: small
 * windows, where every rate lands on its thresholds' exact quotients (1/2,
 * 3/5...), and now and then a large one. */
static void compare_on(const fg_program *p, const char *text, int rounds) {
    assert_true(p->trip_planned);
    uint32_t nthr = fg_program_threshold_count(p);
    for (int i = 0; i < rounds; i++) {
        fg_metric m;
        memset(&m, 0, sizeof m);
        m.total_count = i % 8 == 7 ? rng() % 1000 : rng() % 7;
        m.failure_count = m.total_count ? rng() % (m.total_count + 1) : 0;
        m.threshold_count = nthr;
        for (uint32_t k = 0; k < nthr; k++)
            m.slow_counts[k] = m.total_count ? rng() % (m.total_count + 1) : 0;
        m.total_duration = (double)(rng() % 13) * 0.25;
        fg_state state = rng() & 1 ? FG_STATE_CLOSED : FG_STATE_HALF_OPEN;
        uint32_t streak = (uint32_t)(rng() % 5);
        fg_trip_context ctx = {&m, state, streak, NULL};
        fg_trip_counts c = {m.total_count, m.failure_count, m.slow_counts,   nthr,
                            state,         streak,          m.total_duration, NULL};
        uint32_t want_alt = 77, got_alt = 77, walk_alt = 77;
        int want = fg_vm_trip(p, &ctx, &want_alt);
        int got = fg_vm_trip_counts(p, &c, &got_alt);
        int walk = fg_vm_trip_plan(p, &c, &walk_alt);
        if (want != got || (want && want_alt != got_alt) || want != walk ||
            (want && want_alt != walk_alt))
            fail_msg("%s: total %llu failures %llu streak %u state %d: %s %d/a%u, plan %d/a%u, "
                     "bytecode %d/a%u",
                     text, (unsigned long long)m.total_count, (unsigned long long)m.failure_count,
                     streak, (int)state, p->trip_test_count > 0 ? "table" : "counts", got, got_alt,
                     walk, walk_alt, want, want_alt);
        /* the table with integer thresholds at this total, as a breaker
         * backing off from regions keeps them (counts <= total here) */
        uint64_t at_least[FG_TRIP_TABLE_MAX_TESTS];
        if (p->trip_test_count > 0) {
            assert_true(fg_vm_trip_table_thresholds(p, m.total_count, at_least));
            unsigned entry = fg_trip_table_entry_at(p, at_least, m.total_count, m.failure_count,
                                                    m.slow_counts, streak, state);
            if ((int)(entry & 1) != want || (want && (entry >> 1) != want_alt))
                fail_msg("%s: total %llu failures %llu streak %u state %d: table at thresholds "
                         "%u/a%u, bytecode %d/a%u",
                         text, (unsigned long long)m.total_count,
                         (unsigned long long)m.failure_count, streak, (int)state, entry & 1,
                         entry >> 1, want, want_alt);
        }
        /* a metric without the program's thresholds counts no slow calls
         * (the table cannot say so: the plan answers) */
        if (nthr > 0) {
            c.threshold_count = 0;
            m.threshold_count = 0;
            want = fg_vm_trip(p, &ctx, &want_alt);
            got = fg_vm_trip_counts(p, &c, &got_alt);
            if (want != got || (want && want_alt != got_alt))
                fail_msg("%s without thresholds: %d/a%u, bytecode %d/a%u", text, got, got_alt, want,
                         want_alt);
        }
    }
}

/* A value in [lo, lo + span], near either end (spans may be "unbounded"). */
static uint64_t pick_in(uint64_t lo, uint64_t span) {
    uint64_t near = rng() % 12;
    if (span <= 24) return lo + rng() % (span + 1);
    return rng() & 1 ? lo + near : (span > 1000 ? lo + 30 + near : lo + span - near);
}

/* Every answer of the box is the bytecode's, at the point it was made and
 * at points drawn inside its region. */
static void check_box_on(const fg_program *p, const char *text, int rounds) {
    uint32_t nthr = fg_program_threshold_count(p);
    uint64_t storage[32];
    fg_trip_box *box = (fg_trip_box *)storage;
    assert_true(fg_trip_box_size(nthr) <= sizeof storage);
    int valid = 0;
    for (int i = 0; i < rounds; i++) {
        uint64_t total = rng() % 40;
        uint64_t failures = total ? rng() % (total + 1) : 0;
        uint64_t slow[FG_MAX_SLOW_THRESHOLDS] = {0};
        for (uint32_t k = 0; k < nthr; k++) slow[k] = total ? rng() % (total + 1) : 0;
        fg_state state = rng() & 1 ? FG_STATE_CLOSED : FG_STATE_HALF_OPEN;
        uint32_t streak = (uint32_t)(rng() % 7);
        memset(storage, 0, sizeof storage);
        box->threshold_count = (uint8_t)nthr;
        fg_trip_counts c = {total, failures, slow, nthr, state, streak, 0.0, NULL};
        int fired = fg_vm_trip_boxed(p, &c, box);
        assert_int_equal(fired, box->fired);
        if (!box->valid) continue;
        valid++;
        assert_true(fg_trip_box_holds(box, total, failures, slow, nthr, streak, state));
        for (int j = 0; j < 20; j++) {
            fg_metric m;
            memset(&m, 0, sizeof m);
            m.total_count = pick_in(box->total_lo, box->total_span);
            m.failure_count = pick_in(box->failures_lo, box->failures_span);
            m.threshold_count = nthr;
            for (uint32_t k = 0; k < nthr; k++)
                m.slow_counts[k] = pick_in(box->slow[2 * k], box->slow[2 * k + 1]);
            uint32_t s = (uint32_t)pick_in(box->streak_lo, box->streak_span);
            assert_true(fg_trip_box_holds(box, m.total_count, m.failure_count, m.slow_counts, nthr,
                                          s, state));
            fg_trip_context ctx = {&m, state, s, NULL};
            uint32_t alt = 77;
            int want = fg_vm_trip(p, &ctx, &alt);
            if (want != box->fired || (want && alt != box->alternative))
                fail_msg("%s: box made at total %llu failures %llu streak %u answers %d/a%u, but "
                         "at total %llu "
                         "failures %llu streak %u the bytecode answers %d/a%u",
                         text, (unsigned long long)total, (unsigned long long)failures, streak,
                         box->fired, box->alternative, (unsigned long long)m.total_count,
                         (unsigned long long)m.failure_count, s, want, alt);
        }
    }
    /* only a tripper that reads the duration has no region */
    if (!p->reads_latency) assert_true(valid > 0);
    else assert_int_equal(valid, 0);
}

static const fg_program *tripper_of(fg_policy *policy) {
    assert_non_null(policy);
    assert_int_equal(policy->breaker_count, 1);
    return policy->breakers[0].tripper;
}

static void the_plan_answers_what_the_bytecode_answers(void **state) {
    (void)state;
    int compiled = 0;
    int tabled = 0, walked = 0;
    /* 400 of depth 3 (most with one test or past a decision table's 8),
     * then 400 combinations (most within) */
    for (int e = 0; e < 800; e++) {
        char text[2048] = "";
        if (e < 400) gen_expr(text, sizeof text, 3);
        else gen_combination(text, sizeof text);
        fg_expressions x;
        memset(&x, 0, sizeof x);
        x.tripper = text;
        fg_report *report = NULL;
        fg_policy *policy = fg_policy_from_expressions("b", &x, NULL, &report);
        fg_report_free(report);
        if (policy == NULL) continue; /* e.g. too many thresholds: not this test's concern */
        compiled++;
        const fg_program *p = tripper_of(policy);
        if (p->trip_test_count > 0) tabled++;
        else walked++;
        compare_on(p, text, 200);
        check_box_on(p, text, 50);
        fg_policy_free(policy);
    }
    assert_true(compiled > 550); /* (some literals are out of range: MinRequests(0)) */
    /* both evaluations were compared, many times each (today 186 and 405) */
    assert_true(tabled > 150);
    assert_true(walked > 300);
}

/* Which trippers get a decision table: 2 to FG_TRIP_TABLE_MAX_TESTS
 * distinct tests (a test used twice is one), none reading the duration. */
static void a_tripper_with_few_distinct_tests_has_a_decision_table(void **state) {
    (void)state;
    static const struct {
        const char *text;
        uint32_t tests; /* 0: no table */
    } cases[] = {
        {"FailureStreak(3)", 0}, /* one test: the walk is as short */
        {"FailureStreak(3) | FailureStreak(3)", 0},
        {"MinRequests(20) & FailureRate(51%)", 2},
        /* payment_api's: MinRequests(20) twice */
        {"FailureStreak(5) | (MinRequests(20) & ((Closed() & FailureRate(60%)) | (HalfOpened() & "
         "FailureRate(50%)))) | (MinRequests(20) & SlowRate(30%, threshold = 2s))",
         7},
        {"MinRequests(2) & AvgLatency(1)", 0},
        {"FailureStreak(1) | FailureStreak(2) | FailureStreak(3) | FailureStreak(4) | "
         "FailureStreak(5) | "
         "FailureStreak(6) | FailureStreak(7) | FailureStreak(8)",
         8},
        {"FailureStreak(1) | FailureStreak(2) | FailureStreak(3) | FailureStreak(4) | "
         "FailureStreak(5) | "
         "FailureStreak(6) | FailureStreak(7) | FailureStreak(8) | FailureStreak(9)",
         0},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        fg_policy *policy = fg_test_policy_expr("b", (fg_expressions){.tripper = cases[i].text});
        const fg_program *p = tripper_of(policy);
        if (p->trip_test_count != cases[i].tests)
            fail_msg("%s: %u tests in its table, expected %u", cases[i].text, p->trip_test_count,
                     cases[i].tests);
        assert_int_equal(p->trip_table != NULL, cases[i].tests > 0);
        /* counts before rates (fg_trip_table_entry's two loops) */
        for (uint32_t t = 0; t < p->trip_test_count; t++)
            assert_int_equal(p->trip_tests[t].rate, t >= p->trip_count_tests);
        compare_on(p, cases[i].text, 3000);
        fg_policy_free(policy);
    }
}

/* The shapes the hot path meets most, each checked on its own. */
static void the_plan_answers_for_the_common_shapes(void **state) {
    (void)state;
    static const char *const shapes[] = {
        "MinRequests(20) & FailureRate(51%)",
        "FailureStreak(5) | (MinRequests(20) & ((Closed() & FailureRate(60%)) | (HalfOpened() & "
        "FailureRate(50%)))) | (MinRequests(20) & SlowRate(30%, threshold = 2s))",
        "FailureStreak(3)",
        "MinRequests(2) & AvgLatency(1)",
        "~SlowRate(25%, threshold = 1s) | SlowRate(50%, threshold = 2s)",
    };
    for (size_t i = 0; i < sizeof shapes / sizeof shapes[0]; i++) {
        fg_policy *policy = fg_test_policy_expr("b", (fg_expressions){.tripper = shapes[i]});
        compare_on(tripper_of(policy), shapes[i], 5000);
        check_box_on(tripper_of(policy), shapes[i], 2000);
        fg_policy_free(policy);
    }
}

/* The region is wide where a steady window lives: issue 9's rule, every
 * call succeeding, keeps its answer as the total grows (a TimeWindow that
 * fills), so the program need not run again on each record. */
static void a_steady_window_stays_inside_its_region(void **state) {
    (void)state;
    fg_policy *policy =
        fg_test_policy_expr("b", (fg_expressions){.tripper = "MinRequests(20) & FailureRate(51%)"});
    const fg_program *p = tripper_of(policy);
    uint64_t storage[16] = {0};
    fg_trip_box *box = (fg_trip_box *)storage;
    fg_trip_counts c = {25, 0, NULL, 0, FG_STATE_CLOSED, 0, 0.0, NULL};
    assert_int_equal(fg_vm_trip_boxed(p, &c, box), 0);
    for (uint64_t t = 25; t < 100000; t += 997)
        assert_true(fg_trip_box_holds(box, t, 0, NULL, 0, 0, FG_STATE_CLOSED));
    /* 13 failures of 25 is 52%: outside */
    assert_false(fg_trip_box_holds(box, 25, 13, NULL, 0, 0, FG_STATE_CLOSED));
    assert_true(fg_trip_box_holds(box, 25, 12, NULL, 0, 0, FG_STATE_CLOSED));
    /* an empty box holds nowhere, whatever the counts */
    fg_trip_box_invalidate(box);
    for (uint64_t t = UINT32_MAX - 1; t <= (uint64_t)UINT32_MAX + 1; t++)
        for (int st = 0; st < FG_STATE_COUNT; st++)
            assert_false(fg_trip_box_holds(box, t, 0, NULL, 0, 0, (fg_state)st));
    assert_false(fg_trip_box_holds(box, 0, 0, NULL, 0, 0, FG_STATE_CLOSED));
    fg_policy_free(policy);
}

/* The region keeps only the tests the answer depends on: behind a SlowRate
 * that is false, a failure rate that crosses its threshold leaves the
 * answer false, so a region made where it held ignores the failures; one
 * made where it did not (the path never reached the SlowRate) keeps them. */
static void a_rate_hovering_behind_a_false_test_stays_inside_its_region(void **state) {
    (void)state;
    fg_policy *policy =
        fg_test_policy_expr("b",
                            (fg_expressions){
                                .tripper = "FailureStreak(5) | (MinRequests(20) & FailureRate(50%) "
                                           "& SlowRate(30%, threshold = 2s))"});
    const fg_program *p = tripper_of(policy);
    uint64_t storage[32] = {0};
    fg_trip_box *box = (fg_trip_box *)storage;
    box->threshold_count = 1;
    uint64_t slow[1] = {10};
    fg_trip_counts c = {100, 50, slow, 1, FG_STATE_CLOSED, 1, 0.0, NULL};
    assert_int_equal(fg_vm_trip_boxed(p, &c, box), 0);
    for (uint64_t f = 0; f <= 100; f++) /* every failure count of a full window */
        assert_true(fg_trip_box_holds(box, 100, f, slow, 1, 1, FG_STATE_CLOSED));
    /* what the answer depends on: the slow calls and the streak */
    uint64_t slow30[1] = {30};
    assert_false(fg_trip_box_holds(box, 100, 50, slow30, 1, 1, FG_STATE_CLOSED));
    assert_false(fg_trip_box_holds(box, 100, 50, slow, 1, 5, FG_STATE_CLOSED));
    c.failure_count = 49; /* the path ends at the FailureRate: it counts */
    assert_int_equal(fg_vm_trip_boxed(p, &c, box), 0);
    assert_true(fg_trip_box_holds(box, 100, 49, slow, 1, 1, FG_STATE_CLOSED));
    assert_false(fg_trip_box_holds(box, 100, 50, slow, 1, 1, FG_STATE_CLOSED));
    fg_policy_free(policy);
}

/* A breaker whose failure rate hovers at its threshold makes regions that
 * last a record or two, so it backs off from making them
 * (fg_breaker_trip_box_run_locked) and runs the plan instead for a while.
 * That must never change an answer: every admission, verdict and state of
 * such a breaker equals a family key's of the same definition, whose
 * evaluations use no region at all (family keys keep the block's memo). */
/* The workloads of the call-by-call comparisons below. */
typedef enum workload {
    RANDOM,   /* failures a little under half of the calls, in runs; some slow */
    FLAPPING, /* the bench's alternating mix (failures at the odd places of a
               * 101-call cycle: the failure rate crosses 50% on most
               * records), 35% or 12% of the calls slow by turns, and now
               * and then a run of failures */
} workload;

/* Call i's class and duration in workload w (rng: its state). */
static void workload_call(workload w, int i, uint32_t *rng, fg_outcome_class *cls,
                          double *duration) {
    *rng = *rng * 1103515245u + 12345u;
    if (w == RANDOM) {
        *cls = ((*rng >> 16) % 100) < 48 ? FG_OUTCOME_FAILURE : FG_OUTCOME_SUCCESS;
        *duration = ((*rng >> 8) % 100) < 30 ? 3.0 : 0.001;
        return;
    }
    int burst = i % 997 >= 990; /* 7 failures in a row: FailureStreak(6) fires */
    *cls = burst || (i % 101) % 2 == 1 ? FG_OUTCOME_FAILURE : FG_OUTCOME_SUCCESS;
    unsigned slow_percent = (i / 1500) % 2 ? 35 : 12; /* phases of more and fewer slow calls */
    *duration = ((*rng >> 8) % 100) < slow_percent ? 3.0 : 0.001;
}

static void answers_as_without_regions(const char *window, const char *tripper, workload wl) {
    fg_policy *policy = fg_test_policy_expr("b", (fg_expressions){.window = window,
                                                                  .tripper = tripper,
                                                                  .retry = "Cooldown(2)",
                                                                  .permit = "All()"});
    char err[256];
    fg_breaker *b = fg_breaker_new(policy, 0, NULL, err, sizeof err);
    assert_non_null(b);
    fg_family *f = fg_family_new(policy, 0, NULL, err, sizeof err);
    assert_non_null(f);
    uint32_t rng = 12345;
    double now = 1.0;
    int opened = 0;
    for (int i = 0; i < 50000; i++) {
        now += 1.0 / 128; /* exact: no boundary is decided by a rounding */
        fg_outcome_class cls;
        double duration;
        workload_call(wl, i, &rng, &cls, &duration);
        fg_ticket t;
        fg_family_ticket ft;
        int a1 = fg_breaker_acquire_at(b, now, &t);
        int a2 = fg_family_acquire_at(f, "k", 1, now, &ft, err, sizeof err);
        assert_int_equal(a1, a2);
        if (a1 == 1) {
            fg_verdict v1 = fg_breaker_record_at(b, &t, cls, duration, now);
            fg_verdict v2 = fg_family_record_at(f, &ft, cls, duration, now);
            assert_int_equal(v1, v2);
        }
        int s1 = (int)fg_breaker_state(b);
        if (s1 != (int)fg_family_state(f, "k", 1))
            fail_msg("%s on %s: call %d: breaker %d, family key %d", tripper, window, i, s1,
                     (int)fg_family_state(f, "k", 1));
        opened += s1 == FG_STATE_OPEN;
    }
    fg_info i1, i2;
    fg_breaker_info(b, &i1);
    assert_int_equal(fg_family_info(f, "k", 1, &i2), 0);
    assert_memory_equal(&i1.counters, &i2.counters, sizeof i1.counters);
    assert_int_equal(i1.transitions, i2.transitions);
    assert_true(opened > 0); /* the run did trip: the answers compared were not all "no" */
    fg_family_free(f);
    fg_breaker_free(b);
    fg_policy_free(policy);
}

static void a_breaker_backing_off_from_regions_answers_as_one_without_them(void **state) {
    (void)state;
    answers_as_without_regions("CountWindow(40)",
                               "FailureStreak(6) | (MinRequests(20) & FailureRate(50%))", RANDOM);
    answers_as_without_regions("CountWindow(40)",
                               "FailureStreak(6) | (MinRequests(20) & FailureRate(50%) & "
                               "SlowRate(30%, threshold = 2s))",
                               RANDOM);
    /* no decision table (AvgLatency): the plan */
    answers_as_without_regions("CountWindow(40)",
                               "FailureStreak(6) | (MinRequests(20) & FailureRate(50%) & "
                               "AvgLatency(1))",
                               RANDOM);
}

/* A failure rate flapping across a threshold that decides which tests the
 * answer reads moves the counts between two regions on most records: the
 * breaker answers from whichever of its two regions (fg_trip_cache) holds,
 * and swaps them when the older one keeps answering. No answer may differ
 * from a family key's (no regions): trippers where the two sides answer
 * alike (the bench's), and where one side fires (then the breaker opens,
 * and its half_open probes are answered from regions of that state). */
static void a_breaker_keeping_two_regions_answers_as_one_without_them(void **state) {
    (void)state;
    static const char *const trippers[] = {
        "FailureStreak(6) | (MinRequests(20) & FailureRate(50%) & SlowRate(30%, threshold = 2s)) | "
        "(MinRequests(20) & ~FailureRate(50%) & SlowRate(40%, threshold = 2s))",
        "FailureStreak(6) | (MinRequests(20) & FailureRate(50%) & SlowRate(30%, threshold = 2s)) | "
        "(MinRequests(20) & ~FailureRate(50%) & SlowRate(90%, threshold = 2s))",
        "(MinRequests(20) & FailureRate(50%) & ~SlowRate(20%, threshold = 2s)) | "
        "(HalfOpened() & ~FailureRate(50%) & SlowRate(35%, threshold = 2s))",
    };
    static const char *const windows[] = {"CountWindow(40)", "CountWindow(100)"};
    for (size_t t = 0; t < sizeof trippers / sizeof trippers[0]; t++)
        for (size_t w = 0; w < sizeof windows / sizeof windows[0]; w++)
            answers_as_without_regions(windows[w], trippers[t], FLAPPING);
}

static double made_at_half_a_second(void *ud) {
    (void)ud;
    return 0.5;
}

/* A breaker backing off from regions answers from its decision table, at
 * integer thresholds it remakes when the total moves (on every record of
 * a TimeWindow); one whose tripper has too many tests for a table walks
 * its plan. Both answer alike, call by call, when the extra tests cannot
 * hold (a streak of a million failures): the second breaker is the
 * reference. (A family key is not one here: its clock is rebased when the
 * family is made, so its TimeWindow's seconds begin elsewhere.) */
static void a_breaker_deciding_by_its_table_answers_as_one_walking_its_plan(void **state) {
    (void)state;
    static const struct {
        const char *window, *tripper;
    } cases[] = {
        {"TimeWindow(1)", "FailureStreak(6) | (MinRequests(20) & FailureRate(50%) & ~SlowRate(20%, "
                          "threshold = 2s))"},
        {"TimeWindow(2)",
         "(MinRequests(30) & FailureRate(45%)) | (HalfOpened() & FailureRate(30%))"},
        {"CountWindow(40)",
         "FailureStreak(6) | (MinRequests(20) & FailureRate(50%) & SlowRate(30%, threshold = 2s))"},
    };
    static const char padding[] =
        " | (FailureStreak(1000001) & FailureStreak(1000002) & FailureStreak(1000003) & "
        "FailureStreak(1000004) & FailureStreak(1000005) & FailureStreak(1000006) & "
        "FailureStreak(1000007) & FailureStreak(1000008))";
    for (size_t k = 0; k < sizeof cases / sizeof cases[0]; k++) {
        char walked[512];
        snprintf(walked, sizeof walked, "%s%s", cases[k].tripper, padding);
        fg_breaker *b[2];
        fg_policy *policy[2];
        for (int j = 0; j < 2; j++) {
            fg_expressions x;
            memset(&x, 0, sizeof x);
            x.window = cases[k].window;
            x.tripper = j == 0 ? cases[k].tripper : walked;
            x.retry = "Cooldown(2)";
            x.permit = "All()";
            policy[j] = fg_policy_from_expressions("b", &x, NULL, NULL);
            assert_non_null(policy[j]);
            assert_int_equal(tripper_of(policy[j])->trip_test_count > 0, j == 0);
            /* both made at the same time: a breaker's time is rebased on
             * the clock's reading when it is made, and that decides where
             * a TimeWindow's seconds begin for the times given below */
            fg_breaker_options opts;
            memset(&opts, 0, sizeof opts);
            opts.clock = made_at_half_a_second;
            char err[256];
            b[j] = fg_breaker_new(policy[j], 0, &opts, err, sizeof err);
            assert_non_null(b[j]);
        }
        uint32_t rng = 777;
        double now = 1.0;
        int rejected = 0;
        for (int i = 0; i < 50000; i++) {
            now += 1.0 / 128;
            rng = rng * 1103515245u + 12345u;
            fg_outcome_class cls = ((rng >> 16) % 100) < 48 ? FG_OUTCOME_FAILURE
                                                            : FG_OUTCOME_SUCCESS;
            double duration = ((rng >> 8) % 100) < 25 ? 3.0 : 0.001;
            fg_ticket t[2];
            int a0 = fg_breaker_acquire_at(b[0], now, &t[0]);
            int a1 = fg_breaker_acquire_at(b[1], now, &t[1]);
            if (a0 != a1)
                fail_msg("%s on %s: call %d: admitted %d, reference %d", cases[k].tripper,
                         cases[k].window, i, a0, a1);
            rejected += a0 == 0;
            if (a0 != 1) continue;
            fg_verdict v0 = fg_breaker_record_at(b[0], &t[0], cls, duration, now);
            fg_verdict v1 = fg_breaker_record_at(b[1], &t[1], cls, duration, now);
            assert_int_equal(v0, v1);
        }
        fg_info i0, i1;
        fg_breaker_info(b[0], &i0);
        fg_breaker_info(b[1], &i1);
        assert_memory_equal(&i0.counters, &i1.counters, sizeof i0.counters);
        assert_int_equal(i0.transitions, i1.transitions);
        assert_true(rejected > 0); /* it did trip */
        for (int j = 0; j < 2; j++) {
            fg_breaker_free(b[j]);
            fg_policy_free(policy[j]);
        }
    }
}

/* Whether region x holds on breaker b's counts now (closed). */
static int region_holds(const fg_breaker *b, const fg_trip_box *x) {
    return fg_trip_box_holds(x, fg_window_total_count(&b->window), fg_window_failure_count(&b->window),
                             b->window.slow, b->window.threshold_count,
                             b->block->consecutive_failures, FG_STATE_CLOSED);
}

/* The cost side of the two regions, on the bench's flapping workload: once
 * both sides of the failure rate have a region, no region is made again
 * nor the program run (a back-off left from filling the window stays where
 * it is: it only counts misses of both regions), every record's counts are
 * inside one of the two, and both answer; when the counts then settle on
 * the older region's side, it becomes the newest (checked inline) within
 * FG_TRIP_OLDER_RUN records. */
static void
a_failure_rate_flapping_across_a_deciding_threshold_is_answered_from_two_regions(void **state) {
    (void)state;
    fg_policy *policy = fg_test_policy_expr(
        "b",
        (fg_expressions){
            .window = "CountWindow(100)",
            .tripper =
                "FailureStreak(5) | (MinRequests(20) & FailureRate(50%) & SlowRate(30%, threshold "
                "= 2s)) | (MinRequests(20) & ~FailureRate(50%) & SlowRate(40%, threshold = 2s))"});
    char err[256];
    fg_breaker *b = fg_breaker_new(policy, 0, NULL, err, sizeof err);
    assert_non_null(b);
    const fg_trip_cache *tc = fg_breaker_trip_cache(b);
    assert_non_null(tc);
    double now = 1.0;
    uint32_t built_at = 0, skip = 0;
    int in_newest = 0, in_older = 0;
    for (int i = 0; i < 3000; i++) {
        fg_ticket t;
        now += 1.0 / 128;
        assert_int_equal(fg_breaker_acquire_at(b, now, &t), 1);
        int failure = (i % 101) % 2 == 1;
        fg_breaker_record_at(b, &t, failure ? FG_OUTCOME_FAILURE : FG_OUTCOME_SUCCESS, 0.05, now);
        assert_int_equal(fg_breaker_state(b), FG_STATE_CLOSED);
        if (i == 300) built_at = tc->built_at, skip = tc->skip;
        if (i < 300) continue;
        assert_int_equal(tc->built_at, built_at); /* no region made again */
        assert_int_equal(tc->skip, skip);         /* nor the program run for want of one */
        int newest = region_holds(b, b->box), older = region_holds(b, fg_breaker_trip_older(b, tc));
        assert_true(newest || older);
        in_newest += newest;
        in_older += older;
    }
    assert_true(in_newest > 500 && in_older > 500); /* both sides of 50% answered */
    /* settle on the older region's side: it is checked first soon after */
    uint64_t failures = fg_window_failure_count(&b->window);
    int older_side = region_holds(b, fg_breaker_trip_older(b, tc)) ? failures >= 50 : failures < 50;
    int settled = -1;
    for (int i = 0; i < 40; i++) {
        fg_ticket t;
        now += 1.0 / 128;
        assert_int_equal(fg_breaker_acquire_at(b, now, &t), 1);
        /* at the edge: keep the failures just on that side of 50 */
        int failure = fg_window_failure_count(&b->window) < 50 ? older_side : 0;
        if (older_side && fg_window_failure_count(&b->window) >= 50) failure = i % 2;
        fg_breaker_record_at(b, &t, failure ? FG_OUTCOME_FAILURE : FG_OUTCOME_SUCCESS, 0.05, now);
        if (settled < 0 && region_holds(b, b->box) &&
            !region_holds(b, fg_breaker_trip_older(b, tc)) && tc->built_at == built_at)
            settled = i;
    }
    assert_true(settled >= 0 && settled <= FG_TRIP_OLDER_RUN + 2);
    assert_int_equal(tc->built_at, built_at); /* swapped, not remade */
    fg_breaker_free(b);
    fg_policy_free(policy);
}

/* Only a tripper whose regions can differ under one answer keeps an older
 * region (and the handle its bytes): not one with a single test, nor one
 * that reads the total duration (no region ever holds). */
static void a_breaker_keeps_an_older_region_only_where_it_can_answer(void **state) {
    (void)state;
    static const struct {
        const char *tripper;
        int older;
    } cases[] = {
        {"FailureStreak(5)", 0},
        {"FailureStreak(5) | AvgLatency(1)", 0},
        {"FailureStreak(5) | FailureRate(50%)", 1},
        {"MinRequests(20) & FailureRate(51%)", 1},
    };
    size_t one = 0, two = 0;
    for (size_t k = 0; k < sizeof cases / sizeof cases[0]; k++) {
        fg_policy *policy = fg_test_policy_expr("b", (fg_expressions){.window = "CountWindow(10)",
                                                                      .tripper = cases[k].tripper});
        char err[256];
        fg_breaker *b = fg_breaker_new(policy, 0, NULL, err, sizeof err);
        assert_non_null(b);
        const fg_trip_cache *tc = fg_breaker_trip_cache(b);
        assert_int_equal(tc->older_offset != 0, cases[k].older);
        assert_int_equal(fg_program_trip_paths(tripper_of(policy)), cases[k].older);
        if (k == 0) one = fg_breaker_handle_footprint(policy, 0);
        if (k == 2) two = fg_breaker_handle_footprint(policy, 0);
        fg_breaker_free(b);
        fg_policy_free(policy);
    }
    assert_true(two > one);
}

/* Rates decided by integer thresholds (fg_vm_trip_table_thresholds) at
 * every total up to 3000, at and around each threshold's count, for
 * ratios whose decimal is not a double (57%, 70%, 1/3...): the bytecode's
 * quotient and the threshold agree on every count. */
static void table_thresholds_decide_rates_as_the_quotient_does(void **state) {
    (void)state;
    /* (a streak that never comes: a table needs two tests) */
    static const char *const rules[] = {"FailureStreak(1000000) | FailureRate(57%)",
                                        "FailureStreak(1000000) | FailureRate(70%)",
                                        "FailureStreak(1000000) | FailureRate(0.333333)",
                                        "FailureStreak(1000000) | FailureRate(100%)",
                                        "FailureRate(1%) | FailureRate(99%)",
                                        "FailureStreak(1000000) | SlowRate(29%, threshold = 1s)"};
    for (size_t r = 0; r < sizeof rules / sizeof rules[0]; r++) {
        fg_policy *policy = fg_test_policy_expr("b", (fg_expressions){.tripper = rules[r]});
        const fg_program *p = tripper_of(policy);
        assert_true(p->trip_test_count > 0);
        uint64_t at_least[FG_TRIP_TABLE_MAX_TESTS];
        for (uint64_t total = 0; total <= 3000; total++) {
            assert_true(fg_vm_trip_table_thresholds(p, total, at_least));
            /* around each rate's threshold (where it is a count), and half */
            uint64_t edges[FG_TRIP_TABLE_MAX_TESTS + 1];
            uint32_t nedges = 0;
            for (uint32_t j = 0; j < fg_program_table_rates(p); j++)
                if (at_least[j] <= total) edges[nedges++] = at_least[j];
            edges[nedges++] = total / 2;
            for (uint32_t e = 0; e < nedges; e++) {
                uint64_t lo = edges[e] > 2 ? edges[e] - 2 : 0,
                         hi = edges[e] + 2 < total ? edges[e] + 2 : total;
                for (uint64_t n = lo; n <= hi; n++) {
                    fg_metric m;
                    memset(&m, 0, sizeof m);
                    m.total_count = total;
                    m.failure_count = n;
                    m.threshold_count = p->threshold_count;
                    m.slow_counts[0] = n;
                    fg_trip_context ctx = {&m, FG_STATE_CLOSED, 0, NULL};
                    uint32_t alt = 0;
                    int want = fg_vm_trip(p, &ctx, &alt);
                    unsigned entry = fg_trip_table_entry_at(p, at_least, total, n, m.slow_counts, 0,
                                                            FG_STATE_CLOSED);
                    if ((int)(entry & 1) != want)
                        fail_msg("%s: %llu of %llu: table at thresholds %u, bytecode %d", rules[r],
                                 (unsigned long long)n, (unsigned long long)total, entry & 1, want);
                }
            }
        }
        fg_policy_free(policy);
    }
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(the_plan_answers_what_the_bytecode_answers),
        cmocka_unit_test(the_plan_answers_for_the_common_shapes),
        cmocka_unit_test(a_tripper_with_few_distinct_tests_has_a_decision_table),
        cmocka_unit_test(a_steady_window_stays_inside_its_region),
        cmocka_unit_test(a_rate_hovering_behind_a_false_test_stays_inside_its_region),
        cmocka_unit_test(a_breaker_backing_off_from_regions_answers_as_one_without_them),
        cmocka_unit_test(a_breaker_keeping_two_regions_answers_as_one_without_them),
        cmocka_unit_test(
            a_failure_rate_flapping_across_a_deciding_threshold_is_answered_from_two_regions),
        cmocka_unit_test(a_breaker_keeps_an_older_region_only_where_it_can_answer),
        cmocka_unit_test(a_breaker_deciding_by_its_table_answers_as_one_walking_its_plan),
        cmocka_unit_test(table_thresholds_decide_rates_as_the_quotient_does),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
