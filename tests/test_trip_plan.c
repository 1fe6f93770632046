/*
 * test_trip_plan.c -- the breaker's tripper evaluation (fg_vm_trip_counts,
 * from the plan fg_vm_plan_tripper builds out of the verified bytecode)
 * answers exactly what the bytecode interpreter (fg_vm_trip, the source of
 * truth) answers: result and alternative, on generated trippers of every
 * test and combinator, over generated metrics and states.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>

#include "fg_policy_internal.h"
#include "fg_program.h"
#include "fg_program_block.h"
#include "fluxgate.h"

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
    static const char *const leaves[] = {
        "MinRequests(%u)", "FailureRate(%u%%)", "AvgLatency(%u)", "SlowRate(%u%%, threshold = %us)",
        "FailureStreak(%u)", "Closed()", "HalfOpened()"};
    switch (choice) {
    case 0: snprintf(out, room, leaves[0], (unsigned)(rng() % 6)); break;
    case 1: snprintf(out, room, leaves[1], (unsigned)(rng() % 101)); break;
    case 2: snprintf(out, room, leaves[2], (unsigned)(rng() % 3)); break;
    case 3: snprintf(out, room, leaves[3], (unsigned)(rng() % 101), (unsigned)(1 + rng() % 2)); break;
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

/* Compares the two evaluations on `rounds` random contexts. */
static void compare_on(const fg_program *p, const char *text, int rounds) {
    assert_true(p->trip_planned);
    uint32_t nthr = fg_program_threshold_count(p);
    for (int i = 0; i < rounds; i++) {
        fg_metric m;
        memset(&m, 0, sizeof m);
        m.total_count = rng() % 7;
        m.failure_count = m.total_count ? rng() % (m.total_count + 1) : 0;
        m.threshold_count = nthr;
        for (uint32_t k = 0; k < nthr; k++) m.slow_counts[k] = m.total_count ? rng() % (m.total_count + 1) : 0;
        m.total_duration = (double)(rng() % 13) * 0.25;
        fg_state state = rng() & 1 ? FG_STATE_CLOSED : FG_STATE_HALF_OPEN;
        uint32_t streak = (uint32_t)(rng() % 5);
        fg_trip_context ctx = {&m, state, streak};
        fg_trip_counts c = {m.total_count, m.failure_count, m.slow_counts, nthr, state, streak,
                            m.total_duration};
        uint32_t want_alt = 77, got_alt = 77;
        int want = fg_vm_trip(p, &ctx, &want_alt);
        int got = fg_vm_trip_counts(p, &c, &got_alt);
        if (want != got || (want && want_alt != got_alt))
            fail_msg("%s: total %llu failures %llu streak %u state %d: plan %d/a%u, bytecode %d/a%u", text,
                     (unsigned long long)m.total_count, (unsigned long long)m.failure_count, streak,
                     (int)state, got, got_alt, want, want_alt);
    }
}

static const fg_program *tripper_of(fg_policy *policy) {
    assert_non_null(policy);
    assert_int_equal(policy->breaker_count, 1);
    return policy->breakers[0].tripper;
}

static void the_plan_answers_what_the_bytecode_answers(void **state) {
    (void)state;
    int compiled = 0;
    for (int e = 0; e < 400; e++) {
        char text[2048] = "";
        gen_expr(text, sizeof text, 3);
        fg_expressions x;
        memset(&x, 0, sizeof x);
        x.tripper = text;
        fg_report *report = NULL;
        fg_policy *policy = fg_policy_from_expressions("b", &x, NULL, &report);
        fg_report_free(report);
        if (policy == NULL) continue; /* e.g. too many thresholds: not this test's concern */
        compiled++;
        compare_on(tripper_of(policy), text, 200);
        fg_policy_free(policy);
    }
    assert_true(compiled > 300);
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
        fg_expressions x;
        memset(&x, 0, sizeof x);
        x.tripper = shapes[i];
        fg_policy *policy = fg_policy_from_expressions("b", &x, NULL, NULL);
        compare_on(tripper_of(policy), shapes[i], 5000);
        fg_policy_free(policy);
    }
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(the_plan_answers_what_the_bytecode_answers),
        cmocka_unit_test(the_plan_answers_for_the_common_shapes),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
