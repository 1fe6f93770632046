/*
 * test_breaker.c -- the breaker's state machine (SPEC section 5), scenario by
 * scenario, on a manual clock and a scripted random source. The scenarios
 * follow fluxgate's tests for its synchronous breaker, plus what fluxgate-c
 * adds: stale outcomes, half-open leases, retry_after, transition reasons.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <math.h>
#include <stdio.h>
#include <string.h>

#include "fg_test_support.h"
#include "fluxgate.h"

/* ---- fixture: one breaker, its clock, its random script, its signals ---- */

enum { LOG_MAX = 32 };

typedef struct signal {
    fg_state old_state;
    fg_state new_state;
    double timestamp;
    char reason[160];
    fg_metric metric;
} signal;

typedef struct fixture {
    fg_test_clock clock;
    fg_test_random random;
    fg_test_alloc counting;
    fg_policy *policy;
    fg_breaker *b;
    signal log[LOG_MAX];
    int signals;
} fixture;

static void record_signal(void *ud, const fg_transition *t) {
    fixture *f = ud;
    assert_true(f->signals < LOG_MAX);
    signal *s = &f->log[f->signals++];
    s->old_state = t->old_state;
    s->new_state = t->new_state;
    s->timestamp = t->timestamp;
    snprintf(s->reason, sizeof s->reason, "%s", t->reason);
    s->metric = t->metric;
}

/* A breaker "t" from expressions, with the fixture's manual clock (at 1000),
 * its counting allocator, and, when draws is not NULL, scripted draws. */
static fg_breaker *make(fixture *f, fg_expressions e, const double *draws, size_t n) {
    memset(f, 0, sizeof *f);
    f->clock.now = 1000.0;
    fg_report *report = NULL;
    f->policy = fg_policy_from_expressions("t", &e, NULL, &report);
    if (f->policy == NULL && report != NULL) {
        char buf[1024];
        fg_report_format(report, buf, sizeof buf);
        fprintf(stderr, "%s", buf);
    }
    fg_report_free(report);
    assert_non_null(f->policy);
    fg_test_random_script(&f->random, draws, n);
    fg_breaker_options o = fg_test_options(&f->clock, draws != NULL ? &f->random : NULL);
    o.alloc = fg_test_allocator(&f->counting);
    char err[200];
    f->b = fg_breaker_new(f->policy, 0, &o, err, sizeof err);
    assert_non_null(f->b);
    fg_policy_free(f->policy); /* the breaker keeps its own reference */
    assert_int_equal(fg_breaker_add_listener(f->b, record_signal, f), 0);
    return f->b;
}

static void done(fixture *f) {
    fg_breaker_free(f->b);
    assert_int_equal(f->counting.live_blocks, 0);
}

/* One call through the whole protocol: 1 failure, 0 success (of duration
 * seconds on the manual clock), -1 untracked error. Returns the verdict, or
 * -1 when the call was rejected. */
static int call(fixture *f, int outcome_class, double duration) {
    fg_ticket t;
    if (!fg_breaker_acquire(f->b, &t)) return -1;
    fg_test_clock_advance(&f->clock, duration);
    return (int)fg_breaker_record(f->b, &t, outcome_class, -1);
}

static void fail_n(fixture *f, int n) {
    for (int i = 0; i < n; i++) assert_int_not_equal(call(f, 1, 0), -1);
}

static void succeed_n(fixture *f, int n) {
    for (int i = 0; i < n; i++) assert_int_not_equal(call(f, 0, 0), -1);
}

static fg_info info_of(fixture *f) {
    fg_info i;
    fg_breaker_info(f->b, &i);
    return i;
}

static fg_ticket rejection(fixture *f) {
    fg_ticket t;
    assert_false(fg_breaker_acquire(f->b, &t));
    return t;
}

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
    assert_int_equal(fg_breaker_record(f.b, &t, 0, 0.25), FG_VERDICT_SUCCESS);
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
    assert_int_equal(fg_breaker_classify(f.b, &other), -1);
    assert_int_equal(fg_breaker_classify(f.b, &conn), 1);
    assert_int_equal(fg_breaker_classify(f.b, &fine), 0);
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
    assert_int_equal(fg_breaker_record(f.b, &t, 1, 0), FG_VERDICT_UNRECORDED);
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
    assert_int_equal(fg_breaker_record(f.b, &t, 0, 0.1), FG_VERDICT_SUCCESS);
    assert_int_equal(fg_breaker_state(f.b), FG_STATE_CLOSED);
    assert_int_equal(f.signals, 3);
    assert_int_equal(f.log[1].new_state, FG_STATE_HALF_OPEN);
    assert_string_equal(f.log[1].reason, "Cooldown(60)");
    assert_float_equal(f.log[1].timestamp, 1060.0, 0);
    assert_int_equal(f.log[2].old_state, FG_STATE_HALF_OPEN);
    assert_int_equal(f.log[2].new_state, FG_STATE_CLOSED);
    assert_string_equal(f.log[2].reason, "not MinRequests(2) & FailureRate(0.5)");
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
    assert_int_equal(fg_breaker_record(f.b, &t1, 1, 0), FG_VERDICT_FAILURE);
    assert_true(fg_breaker_acquire(f.b, &t4)); /* a slot is free again */
    assert_int_equal(info_of(&f).half_open_in_flight, 2);
    /* 1 failure of 2 is below MinRequests(3): the tripper is false, so the
     * success closes the breaker, and the probe still out becomes stale. */
    assert_int_equal(fg_breaker_record(f.b, &t2, 0, 0), FG_VERDICT_SUCCESS);
    assert_int_equal(fg_breaker_state(f.b), FG_STATE_CLOSED);
    assert_int_equal(fg_breaker_record(f.b, &t4, 0, 0), FG_VERDICT_STALE_SUCCESS);
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

static void lost_probes_lose_their_lease(void **state) {
    (void)state;
    fixture f;
    make(&f, (fg_expressions){.tripper = "MinRequests(1) & FailureRate(0.5)", .retry = "Always()",
                              .permit = "All()", .max_half_open_calls = "1",
                              .half_open_lease = "5s"}, NULL, 0);
    fail_n(&f, 1);
    fg_ticket lost, next;
    assert_true(fg_breaker_acquire(f.b, &lost)); /* Always(): straight to half_open */
    assert_int_equal(lost.state, FG_STATE_HALF_OPEN);
    fg_test_clock_advance(&f.clock, 4.9);
    rejection(&f);
    fg_test_clock_advance(&f.clock, 0.1);
    assert_int_equal(info_of(&f).half_open_in_flight, 0); /* taken back */
    assert_true(fg_breaker_acquire(f.b, &next));
    /* The lost probe comes back late: written off, it frees nothing. */
    assert_int_equal(fg_breaker_record(f.b, &lost, 0, 0), FG_VERDICT_STALE_SUCCESS);
    fg_info i = info_of(&f);
    assert_int_equal(i.half_open_in_flight, 1);
    assert_int_equal(i.state, FG_STATE_HALF_OPEN);
    assert_int_equal(i.counters.lease_expired, 1);
    assert_int_equal(i.counters.stale, 1);
    assert_int_equal(i.counters.success, 1);
    assert_int_equal(fg_breaker_record(f.b, &next, 0, 0), FG_VERDICT_SUCCESS);
    assert_int_equal(fg_breaker_state(f.b), FG_STATE_CLOSED);
    done(&f);
}

/* ---- stale outcomes ------------------------------------------------------- */

static void an_outcome_from_before_a_transition_is_discarded(void **state) {
    (void)state;
    fixture f;
    make(&f, (fg_expressions){.tripper = "MinRequests(1) & FailureRate(0.5)"}, NULL, 0);
    fg_ticket t;
    assert_true(fg_breaker_acquire(f.b, &t));
    fg_breaker_force_open(f.b);
    fg_breaker_reset(f.b);
    assert_int_equal(fg_breaker_record(f.b, &t, 1, 0), FG_VERDICT_STALE_FAILURE);
    fg_info i = info_of(&f);
    assert_int_equal(i.metric.total_count, 0);
    assert_int_equal(i.state, FG_STATE_CLOSED);
    assert_int_equal(i.counters.failure, 1); /* counted as classified */
    assert_int_equal(i.counters.stale, 1);
    assert_int_equal(i.generation, 2);
    done(&f);
}

/* ---- manual commands ---------------------------------------------------- */

static void reset_is_a_transition_even_from_closed(void **state) {
    (void)state;
    fixture f;
    make(&f, (fg_expressions){.tripper = "MinRequests(5) & FailureRate(0.5)"}, NULL, 0);
    fail_n(&f, 2);
    fg_test_clock_advance(&f.clock, 3);
    fg_breaker_reset(f.b);
    assert_int_equal(f.signals, 1);
    assert_int_equal(f.log[0].old_state, FG_STATE_CLOSED);
    assert_int_equal(f.log[0].new_state, FG_STATE_CLOSED);
    assert_string_equal(f.log[0].reason, "reset()");
    assert_int_equal(f.log[0].metric.failure_count, 2);
    fg_info i = info_of(&f);
    assert_float_equal(i.changed_at, 1003.0, 0);
    assert_int_equal(i.metric.total_count, 0);
    assert_int_equal(i.consecutive_failures, 0);
    assert_int_equal(i.counters.transitions[FG_STATE_CLOSED][FG_STATE_CLOSED], 1);
    done(&f);
}

static void disable_admits_everything_and_counts_nothing(void **state) {
    (void)state;
    fixture f;
    make(&f, (fg_expressions){.tripper = "MinRequests(2) & FailureRate(0.5)"}, NULL, 0);
    fg_breaker_disable(f.b);
    for (int k = 0; k < 20; k++) assert_int_equal(call(&f, 1, 0), FG_VERDICT_UNRECORDED);
    fg_info i = info_of(&f);
    assert_int_equal(i.state, FG_STATE_DISABLED);
    assert_int_equal(i.metric.total_count, 0);
    assert_int_equal(i.counters.failure, 0);
    assert_int_equal(i.counters.admitted, 0);
    assert_string_equal(f.log[0].reason, "disable()");
    done(&f);
}

static void force_open_rejects_everything_until_a_command(void **state) {
    (void)state;
    fixture f;
    make(&f, (fg_expressions){.retry = "Always()"}, NULL, 0);
    fg_breaker_force_open(f.b);
    fg_test_clock_advance(&f.clock, 1e6);
    fg_ticket t = rejection(&f);
    assert_int_equal(t.state, FG_STATE_FORCED_OPEN);
    assert_true(t.retry_after < 0); /* unknown */
    assert_string_equal(f.log[0].reason, "force_open()");
    fg_breaker_reset(f.b);
    succeed_n(&f, 1);
    done(&f);
}

static void metrics_only_records_but_never_trips(void **state) {
    (void)state;
    fixture f;
    make(&f, (fg_expressions){.tripper = "MinRequests(2) & FailureRate(0.5)"}, NULL, 0);
    fg_breaker_metrics_only(f.b);
    fail_n(&f, 10);
    succeed_n(&f, 1);
    assert_int_equal(call(&f, -1, 0), FG_VERDICT_IGNORED);
    fg_info i = info_of(&f);
    assert_int_equal(i.state, FG_STATE_METRICS_ONLY);
    assert_int_equal(i.metric.total_count, 11);
    assert_int_equal(i.metric.failure_count, 10);
    assert_string_equal(f.log[0].reason, "metrics_only()");
    done(&f);
}

/* ---- retry_after -------------------------------------------------------- */

static void retry_after_is_exact_with_jitter(void **state) {
    (void)state;
    const double draws[] = {0.75}; /* factor 1 + (2*0.75 - 1) * 0.5 = 1.25 */
    fixture f;
    make(&f, (fg_expressions){.tripper = "FailureStreak(1)", .retry = "Cooldown(10, jitter_ratio=0.5)",
                              .permit = "All()"}, draws, 1);
    fail_n(&f, 1);
    fg_test_clock_advance(&f.clock, 2);
    assert_float_equal(rejection(&f).retry_after, 10.5, 1e-9);
    fg_test_clock_advance(&f.clock, 10.4);
    assert_float_equal(rejection(&f).retry_after, 0.1, 1e-9);
    fg_test_clock_advance(&f.clock, 0.1);
    assert_int_equal(call(&f, 0, 0), FG_VERDICT_SUCCESS);
    assert_int_equal(f.random.next, 1); /* one draw per open period, none per check */
    done(&f);
}

static void retry_after_for_always_and_never(void **state) {
    (void)state;
    fixture f;
    make(&f, (fg_expressions){.tripper = "FailureStreak(1)", .retry = "Never()"}, NULL, 0);
    fail_n(&f, 1);
    fg_test_clock_advance(&f.clock, 1e9);
    assert_true(rejection(&f).retry_after < 0);
    assert_int_equal(fg_breaker_state(f.b), FG_STATE_OPEN);
    done(&f);

    make(&f, (fg_expressions){.tripper = "FailureStreak(1)", .retry = "Always()", .permit = "Random(0)"},
         (const double[]){0.5}, 1);
    fail_n(&f, 1);
    fg_ticket t = rejection(&f); /* moved to half_open at once, then the permit said no */
    assert_int_equal(t.state, FG_STATE_HALF_OPEN);
    assert_float_equal(t.retry_after, 0.0, 0);
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

/* ---- listeners ----------------------------------------------------------- */

typedef struct rude {
    fg_breaker *b;
    int calls;
    fg_info seen;
    int added;
} rude;

static void count_call(void *ud, const fg_transition *t) {
    (void)t;
    ((rude *)ud)->calls++;
}

/* Calls back into the breaker (no deadlock: listeners run unlocked) and adds
 * a listener while the list is being walked. */
static void reentrant_listener(void *ud, const fg_transition *t) {
    rude *r = ud;
    (void)t;
    fg_breaker_info(r->b, &r->seen);
    if (!r->added) {
        r->added = 1;
        assert_int_equal(fg_breaker_add_listener(r->b, count_call, r), 0);
    }
}

static void listeners_may_call_back_and_do_not_disturb_each_other(void **state) {
    (void)state;
    fixture f;
    make(&f, (fg_expressions){.tripper = "FailureStreak(1)"}, NULL, 0);
    rude r = {f.b, 0, {0}, 0};
    rude counter = {f.b, 0, {0}, 1};
    assert_int_equal(fg_breaker_add_listener(f.b, reentrant_listener, &r), 0);
    assert_int_equal(fg_breaker_add_listener(f.b, count_call, &counter), 0);
    fail_n(&f, 1);
    assert_int_equal(r.seen.state, FG_STATE_OPEN); /* it saw the new state */
    assert_int_equal(counter.calls, 1);
    assert_int_equal(f.signals, 1);
    fg_breaker_reset(f.b);
    assert_int_equal(counter.calls, 2);
    assert_true(r.calls >= 1); /* the listener added during the first dispatch */
    assert_int_equal(fg_breaker_add_listener(f.b, NULL, NULL), -1);
    done(&f);
}

/* ---- creation ------------------------------------------------------------ */

static int resolve_only_known(void *ud, const char *name, fg_custom *out) {
    (void)ud;
    if (strcmp(name, "known") != 0) return 0;
    out->fn = NULL;
    return 0;
}

static void an_unresolved_custom_name_fails_creation_with_its_name(void **state) {
    (void)state;
    fg_expressions e = {.tracker = "Custom(\"nowhere_registered\")"};
    fg_policy *p = fg_policy_from_expressions("t", &e, NULL, NULL);
    assert_non_null(p);
    fg_test_alloc counting = {0};
    fg_breaker_options o = {0};
    o.alloc = fg_test_allocator(&counting);
    o.resolve_custom = resolve_only_known;
    char err[200] = "";
    assert_null(fg_breaker_new(p, 0, &o, err, sizeof err));
    assert_string_equal(err, "Custom(\"nowhere_registered\") has no registered predicate");
    assert_int_equal(counting.live_blocks, 0);
    assert_null(fg_breaker_new(p, 1, NULL, err, sizeof err)); /* no such definition */
    fg_policy_free(p);
}

static int is_teapot(void *ud, const fg_outcome *o) {
    (*(int *)ud)++;
    return o->has_status && o->status == 418;
}

static int resolve_teapot(void *ud, const char *name, fg_custom *out) {
    if (strcmp(name, "teapot") != 0) return 0;
    out->fn = is_teapot;
    out->ud = ud;
    return 1;
}

static void custom_predicates_classify_outcomes(void **state) {
    (void)state;
    fg_expressions e = {.tracker = "Custom(\"teapot\")"};
    fg_policy *p = fg_policy_from_expressions("t", &e, NULL, NULL);
    assert_non_null(p);
    int calls = 0;
    fg_breaker_options o = {0};
    o.resolve_custom = resolve_teapot;
    o.resolve_ud = &calls;
    fg_breaker *b = fg_breaker_new(p, 0, &o, NULL, 0);
    fg_policy_free(p);
    assert_non_null(b);
    fg_outcome teapot = {0, 1, 418, NULL, 0, NULL, 0, NULL};
    fg_outcome ok = {0, 1, 200, NULL, 0, NULL, 0, NULL};
    assert_int_equal(fg_breaker_classify(b, &teapot), 1);
    assert_int_equal(fg_breaker_classify(b, &ok), 0);
    assert_true(calls >= 2);
    fg_breaker_free(b);
}

static void creation_cleans_up_after_every_allocation_failure(void **state) {
    (void)state;
    fg_expressions e = {.window = "TimeWindow(30)", .tripper = "SlowRate(0.5, threshold=1s)"};
    fg_policy *p = fg_policy_from_expressions("t", &e, NULL, NULL);
    assert_non_null(p);
    fg_breaker *b = NULL;
    long n = 1;
    for (; b == NULL && n < 100; n++) {
        fg_test_alloc counting = {0, 0, 0, n};
        fg_breaker_options o = {0};
        o.alloc = fg_test_allocator(&counting);
        char err[100];
        b = fg_breaker_new(p, 0, &o, err, sizeof err);
        if (b == NULL) {
            assert_string_equal(err, "out of memory");
            assert_int_equal(counting.live_blocks, 0);
        } else {
            fg_breaker_free(b);
            assert_int_equal(counting.live_blocks, 0);
        }
    }
    assert_true(n > 2 && n < 100);
    fg_policy_free(p);
}

/* ---- clocks -------------------------------------------------------------- */

static void a_misbehaving_clock_is_ignored(void **state) {
    (void)state;
    fixture f;
    make(&f, (fg_expressions){.window = "TimeWindow(5)", .tripper = "MinRequests(3) & FailureRate(0.5)"},
         NULL, 0);
    fail_n(&f, 1);
    f.clock.now = NAN;
    fail_n(&f, 1);
    f.clock.now = 10.0; /* backwards */
    assert_float_equal(fg_breaker_now(f.b), 1000.0, 0);
    fg_info i = info_of(&f);
    assert_int_equal(i.metric.total_count, 2);
    f.clock.now = INFINITY;
    fail_n(&f, 1);
    assert_int_equal(fg_breaker_state(f.b), FG_STATE_OPEN);
    assert_float_equal(f.log[0].timestamp, 1000.0, 0);
    done(&f);
}

static void state_names_round_trip(void **state) {
    (void)state;
    for (int s = 0; s < FG_STATE_COUNT; s++) assert_int_equal(fg_state_from_name(fg_state_name((fg_state)s)), s);
    assert_string_equal(fg_state_name(FG_STATE_HALF_OPEN), "half_open");
    assert_int_equal(fg_state_from_name("ajar"), -1);
    assert_string_equal(fg_version(), FG_VERSION);
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
        cmocka_unit_test(lost_probes_lose_their_lease),
        cmocka_unit_test(an_outcome_from_before_a_transition_is_discarded),
        cmocka_unit_test(reset_is_a_transition_even_from_closed),
        cmocka_unit_test(disable_admits_everything_and_counts_nothing),
        cmocka_unit_test(force_open_rejects_everything_until_a_command),
        cmocka_unit_test(metrics_only_records_but_never_trips),
        cmocka_unit_test(retry_after_is_exact_with_jitter),
        cmocka_unit_test(retry_after_for_always_and_never),
        cmocka_unit_test(failure_streak_counts_consecutive_failures_only),
        cmocka_unit_test(slow_rate_trips_on_slow_successes),
        cmocka_unit_test(avg_latency_trips_on_slow_successes),
        cmocka_unit_test(the_reason_is_the_alternative_that_fired),
        cmocka_unit_test(the_default_window_keeps_the_last_100_calls),
        cmocka_unit_test(the_default_tripper_needs_100_calls_at_half_failing),
        cmocka_unit_test(a_time_window_forgets_quiet_seconds),
        cmocka_unit_test(listeners_may_call_back_and_do_not_disturb_each_other),
        cmocka_unit_test(an_unresolved_custom_name_fails_creation_with_its_name),
        cmocka_unit_test(custom_predicates_classify_outcomes),
        cmocka_unit_test(creation_cleans_up_after_every_allocation_failure),
        cmocka_unit_test(a_misbehaving_clock_is_ignored),
        cmocka_unit_test(state_names_round_trip),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
