/*
 * test_clock_reads.c -- how often the default clocks are read, per call,
 * state and definition (doc/c-api.md, "When clocks are read"; SPEC 5 and
 * 10: a breaker reads the clock only when its definition needs it).
 *
 * This program defines clock_gettime itself: the library is linked in
 * statically, so its reads of CLOCK_MONOTONIC(_COARSE) come here (the
 * vDSO is never a system call, so nothing else would see them). Each read
 * is counted and then made by the system call.
 */
#define _GNU_SOURCE
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "fg_test_support.h"
#include "fluxgate.h"

static unsigned clock_reads;

int clock_gettime(clockid_t id, struct timespec *ts) {
    if (id == CLOCK_MONOTONIC || id == CLOCK_MONOTONIC_COARSE) clock_reads++;
    return (int)syscall(SYS_clock_gettime, id, ts);
}

static fg_breaker *make(fg_expressions e) {
    fg_policy *p = fg_test_policy_expr("t", e);
    fg_breaker *b = fg_breaker_new(p, 0, NULL, NULL, 0);
    assert_non_null(b);
    fg_policy_free(p); /* the breaker keeps its own reference */
    return b;
}

/* Reads of one acquire + record of outcome_class with duration (-1:
 * "measure it"); admitted tells whether the call was admitted. */
static unsigned reads_of_call(fg_breaker *b, fg_outcome_class outcome_class, double duration,
                              int *admitted) {
    unsigned before = clock_reads;
    fg_ticket t;
    *admitted = fg_breaker_acquire(b, &t);
    if (*admitted) fg_breaker_record(b, &t, outcome_class, duration);
    return clock_reads - before;
}

static unsigned reads_of(fg_breaker *b, fg_outcome_class outcome_class, double duration) {
    int admitted;
    unsigned n = reads_of_call(b, outcome_class, duration, &admitted);
    assert_true(admitted);
    return n;
}

/* A CountWindow without a duration rule reads no clock while closed (nor
 * in metrics_only or disabled), whatever the outcome; a transition reads
 * it once, for its timestamp. */
static void a_count_window_without_duration_rules_reads_none(void **state) {
    (void)state;
    fg_breaker *b = make(
        (fg_expressions){.window = "CountWindow(10)", .tripper = "FailureStreak(2)"});
    assert_int_equal(reads_of(b, FG_OUTCOME_SUCCESS, -1), 0);
    assert_int_equal(reads_of(b, FG_OUTCOME_SUCCESS, 0.25), 0);
    assert_int_equal(reads_of(b, FG_OUTCOME_UNTRACKED, -1), 0);
    assert_int_equal(reads_of(b, FG_OUTCOME_FAILURE, -1), 0);
    assert_int_equal(reads_of(b, FG_OUTCOME_FAILURE, -1), 1); /* trips: the timestamp */
    assert_int_equal(fg_breaker_state(b), FG_STATE_OPEN);
    int admitted;
    assert_int_equal(reads_of_call(b, FG_OUTCOME_SUCCESS, -1, &admitted),
                     1); /* the retry asks the time */
    assert_false(admitted);
    fg_breaker_metrics_only(b);
    assert_int_equal(reads_of(b, FG_OUTCOME_FAILURE, -1), 0);
    fg_breaker_disable(b);
    assert_int_equal(reads_of(b, FG_OUTCOME_SUCCESS, -1), 0);
    fg_breaker_force_open(b);
    assert_int_equal(reads_of_call(b, FG_OUTCOME_SUCCESS, -1, &admitted), 0);
    assert_false(admitted);
    fg_breaker_free(b);
}

/* A duration rule: one read at acquire, one when a success's duration is
 * measured, none for a failure or a given duration on a CountWindow. */
static void a_duration_rule_reads_at_both_ends_of_a_success(void **state) {
    (void)state;
    fg_breaker *b = make(
        (fg_expressions){.window = "CountWindow(10)",
                         .tripper = "FailureStreak(9) | SlowRate(0.5, threshold = 2)"});
    assert_int_equal(reads_of(b, FG_OUTCOME_SUCCESS, -1), 2);
    assert_int_equal(reads_of(b, FG_OUTCOME_SUCCESS, 0.25), 1);
    assert_int_equal(reads_of(b, FG_OUTCOME_FAILURE, -1), 1);
    assert_int_equal(reads_of(b, FG_OUTCOME_UNTRACKED, -1), 1);
    fg_breaker_free(b);
}

/* A TimeWindow reads the time under the lock for its bucket; a duration
 * to measure is measured from that same reading, not from a second one
 * taken before the lock (each read of CLOCK_MONOTONIC costs about as much
 * as the rest of the call). */
static void a_time_window_measures_from_its_own_reading(void **state) {
    (void)state;
    fg_breaker *b = make(
        (fg_expressions){.window = "TimeWindow(10)", .tripper = "FailureStreak(9)"});
    assert_int_equal(reads_of(b, FG_OUTCOME_SUCCESS, -1), 1);
    assert_int_equal(reads_of(b, FG_OUTCOME_FAILURE, -1), 1);
    assert_int_equal(reads_of(b, FG_OUTCOME_UNTRACKED, -1), 0);
    fg_breaker_free(b);
    b = make((fg_expressions){.window = "TimeWindow(10)",
                              .tripper = "FailureStreak(9) | SlowRate(0.5, threshold = 2)"});
    assert_int_equal(reads_of(b, FG_OUTCOME_SUCCESS, -1), 2);
    assert_int_equal(reads_of(b, FG_OUTCOME_SUCCESS, 0.25), 2);
    assert_int_equal(reads_of(b, FG_OUTCOME_FAILURE, -1), 2);
    fg_breaker_metrics_only(b);
    assert_int_equal(reads_of(b, FG_OUTCOME_SUCCESS, -1), 2);
    fg_info i;
    fg_breaker_info(b, &i);
    assert_int_equal(i.metric.total_count, 1);
    assert_true(i.metric.total_duration >= 0.0 && i.metric.total_duration < 1.0);
    fg_breaker_free(b);
}

/* A half-open probe: the acquire reads (under the lock), and its record
 * reads once for the lease, the window and the duration together. */
static void a_half_open_probe_reads_once_at_each_end(void **state) {
    (void)state;
    fg_breaker *b = make(
        (fg_expressions){.window = "TimeWindow(10)",
                         .tripper = "FailureStreak(1) | SlowRate(0.5, threshold = 2)",
                         .retry = "Always()",
                         .permit = "All()",
                         .max_half_open_calls = "2"});
    assert_int_equal(reads_of(b, FG_OUTCOME_FAILURE, -1), 2); /* acquire, then the trip */
    assert_int_equal(fg_breaker_state(b), FG_STATE_OPEN);
    unsigned before = clock_reads;
    fg_ticket t;
    assert_true(fg_breaker_acquire(b, &t));
    assert_int_equal(t.state, FG_STATE_HALF_OPEN);
    assert_int_equal(clock_reads - before, 1);
    before = clock_reads;
    fg_breaker_record(b, &t, FG_OUTCOME_SUCCESS, -1); /* closes */
    assert_int_equal(clock_reads - before, 1);
    assert_int_equal(fg_breaker_state(b), FG_STATE_CLOSED);
    fg_breaker_free(b);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(a_count_window_without_duration_rules_reads_none),
        cmocka_unit_test(a_duration_rule_reads_at_both_ends_of_a_success),
        cmocka_unit_test(a_time_window_measures_from_its_own_reading),
        cmocka_unit_test(a_half_open_probe_reads_once_at_each_end),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
