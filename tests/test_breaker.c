/*
 * test_breaker.c -- the breaker's state machine (SPEC section 5), scenario by
 * scenario, on a manual clock and a scripted random source: closed, open,
 * half_open, the trippers, the defaults, time windows. The scenarios follow
 * fluxgate's tests for its synchronous breaker. test_breaker_api.c covers what
 * fluxgate-c adds around it (leases, stale outcomes, retry_after, commands,
 * listeners, creation, clocks).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <math.h>
#include <string.h>

#include "fg_breaker_fixture.h"

/* ---- closed -------------------------------------------------------------- */

static void closed_trips_to_open_at_the_threshold(void **state) {
    (void)state;
    fixture f;
    make(&f, (fg_expressions){.tripper = "MinRequests(3) & FailureRate(0.5)"}, NULL, 0);
    fail_n(&f, 2);
    assert_int_equal(fg_breaker_state(f.b), FG_STATE_CLOSED);
    fail_n(&f, 1);
    assert_int_equal(fg_breaker_state(f.b), FG_STATE_OPEN);
    assert_int_equal(f.signals, 1);
    assert_int_equal(f.log[0].old_state, FG_STATE_CLOSED);
    assert_int_equal(f.log[0].new_state, FG_STATE_OPEN);
    assert_float_equal(f.log[0].timestamp, 1000.0, 0);
    assert_string_equal(f.log[0].reason, "MinRequests(3) & FailureRate(0.5)");
    assert_int_equal(f.log[0].metric.total_count, 3); /* the window before clearing */
    assert_int_equal(f.log[0].metric.failure_count, 3);
    fg_info i = info_of(&f);
    assert_int_equal(i.metric.total_count, 0);
    assert_int_equal(i.generation, 1);
    assert_int_equal(i.counters.failure, 3);
    assert_int_equal(i.counters.transitions[FG_STATE_CLOSED][FG_STATE_OPEN], 1);
    done(&f);
}

static void successes_are_recorded_with_their_duration(void **state) {
    (void)state;
    fixture f;
    make(&f, (fg_expressions){.tripper = "MinRequests(100) & FailureRate(0.5)"}, NULL, 0);
    assert_int_equal(call(&f, 0, 2.0), FG_VERDICT_SUCCESS);
    fg_ticket t;
    assert_true(fg_breaker_acquire(f.b, &t));
    assert_int_equal(fg_breaker_record(f.b, &t, FG_OUTCOME_SUCCESS, 0.25), FG_VERDICT_SUCCESS);
    fg_info i = info_of(&f);
    assert_int_equal(i.metric.total_count, 2);
    assert_float_equal(i.metric.total_duration, 2.25, 1e-9);
    assert_int_equal(i.counters.success, 2);
    assert_int_equal(i.counters.admitted, 2);
    done(&f);
}

static void untracked_errors_are_not_recorded(void **state) {
    (void)state;
    fixture f;
    make(&f, (fg_expressions){.tracker = "TypeOf(\"ConnectionError\")",
                              .tripper = "MinRequests(1) & FailureRate(0.5)"}, NULL, 0);
    fg_outcome other = {1, 0, 0, "ValueError", 10, "fail", 4, NULL};
    fg_outcome conn = {1, 0, 0, "ConnectionError", 15, "refused", 7, NULL};
    fg_outcome fine = {0, 0, 0, NULL, 0, NULL, 0, NULL};
    assert_int_equal(fg_breaker_classify(f.b, &other), FG_OUTCOME_UNTRACKED);
    assert_int_equal(fg_breaker_classify(f.b, &conn), FG_OUTCOME_FAILURE);
    assert_int_equal(fg_breaker_classify(f.b, &fine), FG_OUTCOME_SUCCESS);
    for (int k = 0; k < 3; k++) {
        fg_ticket t;
        assert_true(fg_breaker_acquire(f.b, &t));
        assert_int_equal(fg_breaker_release(f.b, &t, &other, 0), FG_VERDICT_IGNORED);
    }
    fg_info i = info_of(&f);
    assert_int_equal(i.state, FG_STATE_CLOSED);
    assert_int_equal(i.metric.total_count, 0);
    assert_int_equal(i.counters.ignored, 3);
    fg_ticket t;
    assert_true(fg_breaker_acquire(f.b, &t));
    assert_int_equal(fg_breaker_release(f.b, &t, &conn, 0), FG_VERDICT_FAILURE);
    assert_int_equal(fg_breaker_state(f.b), FG_STATE_OPEN);
    done(&f);
}

/* ---- open ------------------------------------------------------------------ */

static void open_rejects_and_says_when_to_retry(void **state) {
    (void)state;
    fixture f;
    make(&f, (fg_expressions){.tripper = "MinRequests(2) & FailureRate(0.5)", .retry = "Cooldown(10)"},
         NULL, 0);
    fail_n(&f, 2);
    fg_test_clock_advance(&f.clock, 4);
    fg_ticket t = rejection(&f);
    assert_int_equal(t.state, FG_STATE_OPEN);
    assert_float_equal(t.retry_after, 6.0, 1e-9);
    assert_int_equal(fg_breaker_record(f.b, &t, FG_OUTCOME_FAILURE, 0), FG_VERDICT_UNRECORDED);
    fg_info i = info_of(&f);
    assert_int_equal(i.counters.rejected, 1);
    assert_int_equal(i.counters.failure, 2); /* the rejected call counts nowhere else */
    done(&f);
}

static void half_open_after_the_cooldown_then_closed_on_success(void **state) {
    (void)state;
    fixture f;
    make(&f, (fg_expressions){.tripper = "MinRequests(2) & FailureRate(0.5)", .retry = "Cooldown(60)",
                              .permit = "All()"}, NULL, 0);
    fail_n(&f, 2);
    fg_test_clock_advance(&f.clock, 59);
    rejection(&f);
    fg_test_clock_advance(&f.clock, 1);
    fg_ticket t;
    assert_true(fg_breaker_acquire(f.b, &t));
    assert_int_equal(t.state, FG_STATE_HALF_OPEN);
    assert_int_equal(fg_breaker_state(f.b), FG_STATE_HALF_OPEN);
    assert_int_equal(info_of(&f).half_open_in_flight, 1);
    assert_int_equal(fg_breaker_record(f.b, &t, FG_OUTCOME_SUCCESS, 0.1), FG_VERDICT_SUCCESS);
    assert_int_equal(fg_breaker_state(f.b), FG_STATE_CLOSED);
    assert_int_equal(f.signals, 3);
    assert_int_equal(f.log[1].new_state, FG_STATE_HALF_OPEN);
    assert_string_equal(f.log[1].reason, "Cooldown(60)");
    assert_float_equal(f.log[1].timestamp, 1060.0, 0);
    assert_int_equal(f.log[2].old_state, FG_STATE_HALF_OPEN);
    assert_int_equal(f.log[2].new_state, FG_STATE_CLOSED);
    assert_string_equal(f.log[2].reason, "not (MinRequests(2) & FailureRate(0.5))");
    assert_int_equal(f.log[2].metric.total_count, 1);
    done(&f);
}

static void half_open_reopens_on_failure_and_counts_reopens(void **state) {
    (void)state;
    fixture f;
    make(&f, (fg_expressions){.tripper = "MinRequests(2) & FailureRate(0.5)",
                              .retry = "Backoff(10, multiplier=2, max_duration=300)", .permit = "All()"},
         NULL, 0);
    fail_n(&f, 2);
    assert_float_equal(rejection(&f).retry_after, 10.0, 1e-9);
    fg_test_clock_advance(&f.clock, 10);
    fail_n(&f, 1);
    assert_int_equal(fg_breaker_state(f.b), FG_STATE_HALF_OPEN); /* below MinRequests(2) */
    fail_n(&f, 1);
    fg_info i = info_of(&f);
    assert_int_equal(i.state, FG_STATE_OPEN);
    assert_int_equal(i.reopens, 1);
    /* the second open period waits initial * multiplier^1 */
    assert_float_equal(rejection(&f).retry_after, 20.0, 1e-9);
    fg_test_clock_advance(&f.clock, 19.5);
    rejection(&f);
    fg_test_clock_advance(&f.clock, 0.5);
    succeed_n(&f, 1);
    i = info_of(&f);
    assert_int_equal(i.state, FG_STATE_CLOSED);
    assert_int_equal(i.reopens, 0); /* entering closed forgets the reopens */
    assert_int_equal(i.counters.transitions[FG_STATE_HALF_OPEN][FG_STATE_OPEN], 1);
    done(&f);
}

static void a_probe_success_that_leaves_the_tripper_true_stays_half_open(void **state) {
    (void)state;
    fixture f;
    make(&f, (fg_expressions){.tripper = "MinRequests(1) & SlowRate(0.5, threshold=1s)", .retry = "Cooldown(10)",
                              .permit = "All()"}, NULL, 0);
    call(&f, 0, 2.0); /* one slow success trips */
    assert_int_equal(fg_breaker_state(f.b), FG_STATE_OPEN);
    fg_test_clock_advance(&f.clock, 10);
    /* a slow probe succeeds, but the tripper is still true: only a failure
     * may reopen, only a success with the tripper false may close */
    assert_int_equal(call(&f, 0, 1.5), FG_VERDICT_SUCCESS);
    assert_int_equal(fg_breaker_state(f.b), FG_STATE_HALF_OPEN);
    assert_int_equal(call(&f, 0, 0.1), FG_VERDICT_SUCCESS); /* 1 of 2 slow: still >= 50% */
    assert_int_equal(fg_breaker_state(f.b), FG_STATE_HALF_OPEN);
    assert_int_equal(call(&f, 0, 0.1), FG_VERDICT_SUCCESS); /* 1 of 3 */
    assert_int_equal(fg_breaker_state(f.b), FG_STATE_CLOSED);
    done(&f);
}

static void consecutive_failures_restart_at_half_open_entry(void **state) {
    (void)state;
    fixture f;
    make(&f, (fg_expressions){.tripper = "FailureStreak(2)", .retry = "Cooldown(60)", .permit = "All()"},
         NULL, 0);
    fail_n(&f, 2);
    assert_int_equal(fg_breaker_state(f.b), FG_STATE_OPEN);
    fg_test_clock_advance(&f.clock, 61);
    fail_n(&f, 1);
    assert_int_equal(fg_breaker_state(f.b), FG_STATE_HALF_OPEN);
    assert_int_equal(info_of(&f).consecutive_failures, 1);
    fail_n(&f, 1);
    assert_int_equal(fg_breaker_state(f.b), FG_STATE_OPEN);
    done(&f);
}

/* ---- half_open admission ------------------------------------------------ */

static void the_permit_can_reject_probes(void **state) {
    (void)state;
    const double draws[] = {0.7, 0.2};
    fixture f;
    make(&f, (fg_expressions){.tripper = "MinRequests(2) & FailureRate(0.5)", .retry = "Cooldown(60)",
                              .permit = "Random(0.5)"}, draws, 2);
    fail_n(&f, 2);
    fg_test_clock_advance(&f.clock, 61);
    fg_ticket t = rejection(&f); /* draws 0.7 */
    assert_int_equal(t.state, FG_STATE_HALF_OPEN);
    assert_float_equal(t.retry_after, 0.0, 0);
    assert_true(fg_breaker_acquire(f.b, &t)); /* draws 0.2 */
    assert_int_equal(f.random.next, 2);
    done(&f);
}

static void no_free_slot_rejects_without_consulting_the_permit(void **state) {
    (void)state;
    const double draws[] = {0.0}; /* a second draw would fail the test */
    fixture f;
    make(&f, (fg_expressions){.tripper = "MinRequests(2) & FailureRate(0.5)", .retry = "Cooldown(60)",
                              .permit = "Random(1)", .max_half_open_calls = "1"}, draws, 1);
    fail_n(&f, 2);
    fg_test_clock_advance(&f.clock, 61);
    fg_ticket probe;
    assert_true(fg_breaker_acquire(f.b, &probe));
    fg_ticket t = rejection(&f);
    assert_int_equal(t.state, FG_STATE_HALF_OPEN);
    assert_float_equal(t.retry_after, 0.0, 0);
    assert_int_equal(f.random.next, 1);
    done(&f);
}

static void max_half_open_calls_bounds_probes_in_flight(void **state) {
    (void)state;
    fixture f;
    make(&f, (fg_expressions){.tripper = "MinRequests(3) & FailureRate(0.5)", .retry = "Cooldown(60)",
                              .permit = "All()", .max_half_open_calls = "2"}, NULL, 0);
    fail_n(&f, 3);
    fg_test_clock_advance(&f.clock, 61);
    fg_ticket t1, t2, t4;
    assert_true(fg_breaker_acquire(f.b, &t1));
    assert_true(fg_breaker_acquire(f.b, &t2));
    rejection(&f);
    assert_int_equal(fg_breaker_record(f.b, &t1, FG_OUTCOME_FAILURE, 0), FG_VERDICT_FAILURE);
    assert_true(fg_breaker_acquire(f.b, &t4)); /* a slot is free again */
    assert_int_equal(info_of(&f).half_open_in_flight, 2);
    /* 1 failure of 2 is below MinRequests(3): the tripper is false, so the
     * success closes the breaker, and the probe still out becomes stale. */
    assert_int_equal(fg_breaker_record(f.b, &t2, FG_OUTCOME_SUCCESS, 0), FG_VERDICT_SUCCESS);
    assert_int_equal(fg_breaker_state(f.b), FG_STATE_CLOSED);
    assert_int_equal(fg_breaker_record(f.b, &t4, FG_OUTCOME_SUCCESS, 0), FG_VERDICT_STALE_SUCCESS);
    done(&f);
}

static void an_untracked_error_in_half_open_frees_its_slot_and_records_nothing(void **state) {
    (void)state;
    fixture f;
    make(&f, (fg_expressions){.tripper = "FailureStreak(1)", .retry = "Cooldown(5)", .permit = "All()",
                              .max_half_open_calls = "1"}, NULL, 0);
    fail_n(&f, 1);
    fg_test_clock_advance(&f.clock, 5);
    assert_int_equal(call(&f, -1, 0), FG_VERDICT_IGNORED);
    fg_info i = info_of(&f);
    assert_int_equal(i.state, FG_STATE_HALF_OPEN);
    assert_int_equal(i.metric.total_count, 0);
    assert_int_equal(i.half_open_in_flight, 0);
    assert_int_equal(i.counters.ignored, 1);
    assert_int_equal(call(&f, 0, 0), FG_VERDICT_SUCCESS); /* the slot is free again */
    assert_int_equal(fg_breaker_state(f.b), FG_STATE_CLOSED);
    done(&f);
}

static void the_default_permit_ramps_up_from_ten_percent(void **state) {
    (void)state;
    const double draws[] = {0.15, 0.05};
    fixture f;
    make(&f, (fg_expressions){.tripper = "MinRequests(1) & FailureRate(0.5)", .retry = "Cooldown(1)"},
         draws, 2);
    fail_n(&f, 1);
    fg_test_clock_advance(&f.clock, 2);
    rejection(&f); /* 0.15 >= 0.1 at half_open entry */
    assert_int_equal(call(&f, 0, 0), FG_VERDICT_SUCCESS);
    assert_int_equal(fg_breaker_state(f.b), FG_STATE_CLOSED);
    done(&f);
}

/* ---- trippers ------------------------------------------------------------ */

static void failure_streak_counts_consecutive_failures_only(void **state) {
    (void)state;
    fixture f;
    make(&f, (fg_expressions){.tripper = "FailureStreak(3)"}, NULL, 0);
    fail_n(&f, 2);
    succeed_n(&f, 1);
    assert_int_equal(fg_breaker_state(f.b), FG_STATE_CLOSED);
    fail_n(&f, 3);
    assert_int_equal(fg_breaker_state(f.b), FG_STATE_OPEN);
    done(&f);
}

static void slow_rate_trips_on_slow_successes(void **state) {
    (void)state;
    fixture f;
    make(&f, (fg_expressions){.tripper = "MinRequests(4) & SlowRate(100%, threshold=1.0)"}, NULL, 0);
    for (int k = 0; k < 3; k++) assert_int_equal(call(&f, 0, 1.5), FG_VERDICT_SUCCESS);
    fg_info i = info_of(&f);
    assert_int_equal(i.state, FG_STATE_CLOSED);
    assert_int_equal(i.metric.threshold_count, 1);
    assert_float_equal(i.metric.thresholds[0], 1.0, 0);
    assert_int_equal(i.metric.slow_counts[0], 3);
    assert_float_equal(i.metric.total_duration, 4.5, 1e-9);
    call(&f, 0, 1.0); /* slow at t when duration >= t: 4 of 4 */
    assert_int_equal(fg_breaker_state(f.b), FG_STATE_OPEN);
    done(&f);
}

static void avg_latency_trips_on_slow_successes(void **state) {
    (void)state;
    fixture f;
    make(&f, (fg_expressions){.tripper = "MinRequests(2) & AvgLatency(1.0)"}, NULL, 0);
    call(&f, 0, 0.5);
    assert_int_equal(fg_breaker_state(f.b), FG_STATE_CLOSED);
    call(&f, 0, 2.0);
    assert_int_equal(fg_breaker_state(f.b), FG_STATE_OPEN);
    done(&f);
}

/* AvgLatency compares the exact mean (SPEC 5): three calls of exactly
 * 0.7 s have a mean of 0.7 s -- as SlowRate(100%, threshold = 0.7) says of
 * them -- though their sum rounded to a double and divided by 3 is an ulp
 * short. A threshold one double above 0.7 is not reached. Both windows. */
static void avg_latency_compares_the_exact_mean(void **state) {
    (void)state;
    const char *windows[] = {"CountWindow(10)", "TimeWindow(10)"};
    const char *trippers[] = {"MinRequests(3) & AvgLatency(0.7)",
                              "MinRequests(3) & SlowRate(100%, threshold = 0.7)",
                              "MinRequests(3) & AvgLatency(0.7000000000000001)"};
    for (int wi = 0; wi < 2; wi++) {
        for (int ti = 0; ti < 3; ti++) {
            fixture f;
            make(&f, (fg_expressions){.window = windows[wi], .tripper = trippers[ti]}, NULL, 0);
            for (int k = 0; k < 3; k++) {
                fg_ticket t;
                assert_true(fg_breaker_acquire(f.b, &t));
                assert_int_equal(fg_breaker_record(f.b, &t, FG_OUTCOME_SUCCESS, 0.7), FG_VERDICT_SUCCESS);
            }
            assert_int_equal(fg_breaker_state(f.b), ti < 2 ? FG_STATE_OPEN : FG_STATE_CLOSED);
            done(&f);
        }
    }
}

static void the_reason_is_the_alternative_that_fired(void **state) {
    (void)state;
    fg_expressions e = {.tripper = "FailureStreak(5) | (MinRequests(20) & FailureRate(60%))"};
    fixture f;
    make(&f, e, NULL, 0);
    fail_n(&f, 5);
    assert_string_equal(f.log[0].reason, "FailureStreak(5)");
    done(&f);

    make(&f, e, NULL, 0);
    /* 20 calls, 16 failures, never 5 in a row: F F F S F, four times */
    for (int k = 0; k < 4; k++) {
        fail_n(&f, 3);
        assert_int_equal(fg_breaker_state(f.b), FG_STATE_CLOSED);
        succeed_n(&f, 1);
        fail_n(&f, 1);
    }
    assert_int_equal(fg_breaker_state(f.b), FG_STATE_OPEN);
    assert_int_equal(f.log[0].metric.total_count, 20);
    assert_string_equal(f.log[0].reason, "(MinRequests(20) & FailureRate(60%))");
    done(&f);
}

/* ---- defaults -------------------------------------------------------------- */

static void the_default_window_keeps_the_last_100_calls(void **state) {
    (void)state;
    fixture f;
    make(&f, (fg_expressions){.tripper = "MinRequests(500) & FailureRate(0.5)"}, NULL, 0);
    succeed_n(&f, 150);
    assert_int_equal(info_of(&f).metric.total_count, 100);
    done(&f);
}

static void the_default_tripper_needs_100_calls_at_half_failing(void **state) {
    (void)state;
    fixture f;
    make(&f, (fg_expressions){0}, NULL, 0);
    fail_n(&f, 99);
    assert_int_equal(fg_breaker_state(f.b), FG_STATE_CLOSED);
    fail_n(&f, 1);
    assert_int_equal(fg_breaker_state(f.b), FG_STATE_OPEN);
    assert_float_equal(rejection(&f).retry_after, 60.0, 1e-9); /* Cooldown(60) */
    done(&f);

    make(&f, (fg_expressions){0}, NULL, 0);
    succeed_n(&f, 50);
    fail_n(&f, 49);
    assert_int_equal(fg_breaker_state(f.b), FG_STATE_CLOSED);
    fail_n(&f, 1);
    assert_int_equal(fg_breaker_state(f.b), FG_STATE_OPEN);
    done(&f);
}

/* ---- time windows -------------------------------------------------------- */

static void a_time_window_forgets_quiet_seconds(void **state) {
    (void)state;
    fixture f;
    make(&f, (fg_expressions){.window = "TimeWindow(10)", .tripper = "MinRequests(5) & FailureRate(0.5)"},
         NULL, 0);
    fail_n(&f, 4);
    fg_test_clock_advance(&f.clock, 9.5);
    assert_int_equal(info_of(&f).metric.failure_count, 4);
    fg_test_clock_advance(&f.clock, 0.5); /* second 1000 has left */
    assert_int_equal(info_of(&f).metric.total_count, 0);
    fail_n(&f, 1);
    assert_int_equal(fg_breaker_state(f.b), FG_STATE_CLOSED); /* 1 call, not 5 */
    fg_test_clock_advance(&f.clock, 3600);
    assert_int_equal(info_of(&f).metric.total_count, 0);
    done(&f);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(closed_trips_to_open_at_the_threshold),
        cmocka_unit_test(successes_are_recorded_with_their_duration),
        cmocka_unit_test(untracked_errors_are_not_recorded),
        cmocka_unit_test(open_rejects_and_says_when_to_retry),
        cmocka_unit_test(half_open_after_the_cooldown_then_closed_on_success),
        cmocka_unit_test(half_open_reopens_on_failure_and_counts_reopens),
        cmocka_unit_test(a_probe_success_that_leaves_the_tripper_true_stays_half_open),
        cmocka_unit_test(consecutive_failures_restart_at_half_open_entry),
        cmocka_unit_test(the_permit_can_reject_probes),
        cmocka_unit_test(no_free_slot_rejects_without_consulting_the_permit),
        cmocka_unit_test(max_half_open_calls_bounds_probes_in_flight),
        cmocka_unit_test(an_untracked_error_in_half_open_frees_its_slot_and_records_nothing),
        cmocka_unit_test(the_default_permit_ramps_up_from_ten_percent),
        cmocka_unit_test(failure_streak_counts_consecutive_failures_only),
        cmocka_unit_test(slow_rate_trips_on_slow_successes),
        cmocka_unit_test(avg_latency_trips_on_slow_successes),
        cmocka_unit_test(avg_latency_compares_the_exact_mean),
        cmocka_unit_test(the_reason_is_the_alternative_that_fired),
        cmocka_unit_test(the_default_window_keeps_the_last_100_calls),
        cmocka_unit_test(the_default_tripper_needs_100_calls_at_half_failing),
        cmocka_unit_test(a_time_window_forgets_quiet_seconds),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
