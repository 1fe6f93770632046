/*
 * test_breaker_api.c -- what fluxgate-c adds around fluxgate's state machine
 * (SPEC sections 5 and 6): half-open leases, stale outcomes, manual commands,
 * retry_after, listeners that call back, creation failures and Custom()
 * resolution, misbehaving clocks, state names.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "fg_breaker_fixture.h"

/* ---- half-open leases ---------------------------------------------------- */

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
    assert_int_equal(fg_breaker_record(f.b, &lost, FG_OUTCOME_SUCCESS, 0),
                     FG_VERDICT_STALE_SUCCESS);
    fg_info i = info_of(&f);
    assert_int_equal(i.half_open_in_flight, 1);
    assert_int_equal(i.state, FG_STATE_HALF_OPEN);
    assert_int_equal(i.counters.lease_expired, 1);
    assert_int_equal(i.counters.stale, 1);
    assert_int_equal(i.counters.success, 1);
    assert_int_equal(fg_breaker_record(f.b, &next, FG_OUTCOME_SUCCESS, 0), FG_VERDICT_SUCCESS);
    assert_int_equal(fg_breaker_state(f.b), FG_STATE_CLOSED);
    done(&f);
}

static void a_lease_is_over_even_when_nobody_else_noticed(void **state) {
    (void)state;
    fixture f;
    make(&f, (fg_expressions){.tripper = "FailureStreak(1)", .retry = "Always()", .permit = "All()",
                              .half_open_lease = "5s"}, NULL, 0);
    fail_n(&f, 1);
    fg_ticket probe;
    assert_true(fg_breaker_acquire(f.b, &probe));
    fg_test_clock_advance(&f.clock, 5);
    /* no acquire or info() in between: the release itself finds the lease over */
    assert_int_equal(fg_breaker_record(f.b, &probe, FG_OUTCOME_SUCCESS, 0),
                     FG_VERDICT_STALE_SUCCESS);
    fg_info i = info_of(&f);
    assert_int_equal(i.state, FG_STATE_HALF_OPEN);
    assert_int_equal(i.half_open_in_flight, 0);
    assert_int_equal(i.counters.lease_expired, 1);
    done(&f);
}

/* Keeps a probe in flight for one second after *holder was taken (so the
 * era goes on): every 1/16 s a new probe is admitted, then the previous one
 * released (a success); at step reload_at (0: never) the breaker is first
 * reloaded to `to`. *holder ends as the last probe taken. */
static void relay_probes_for_a_second(fixture *f, fg_ticket *holder, int reload_at, fg_policy *to) {
    for (int k = 1; k < 16; k++) {
        fg_test_clock_advance(&f->clock, 0.0625);
        if (k == reload_at) {
            char err[200];
            assert_int_equal(fg_breaker_reload(f->b, to, 0, err, sizeof err), 0);
        }
        fg_ticket next;
        assert_true(fg_breaker_acquire(f->b, &next));
        assert_int_equal(fg_breaker_record(f->b, holder, FG_OUTCOME_SUCCESS, 0), FG_VERDICT_SUCCESS);
        *holder = next;
    }
}

/* A ticket's identity is 32 bits of era + lease tick (fg_half_open_id): with
 * leases held without a break, the same value comes back after 2^32 ticks
 * (a lease is 2^28 to 2^29 of them: 100 ms, 2^-32 s ticks, so every second).
 * A probe lost at t0 comes back after its slot was handed out again at
 * exactly t0 + 1 s: written off long ago, it must not free that slot. */
static void a_probe_lost_whole_leases_ago_never_frees_its_slots_new_holder(void **state) {
    (void)state;
    fixture f;
    make(&f, (fg_expressions){.tripper = "FailureStreak(1) | HalfOpened()", .retry = "Always()",
                              .permit = "All()", .max_half_open_calls = "3", .half_open_lease = "100ms"},
         NULL, 0);
    fail_n(&f, 1);
    fg_ticket lost, holder, x, y;
    assert_true(fg_breaker_acquire(f.b, &lost)); /* the era's first grant: its base */
    assert_int_equal(lost.state, FG_STATE_HALF_OPEN);
    assert_true(fg_breaker_acquire(f.b, &holder));
    relay_probes_for_a_second(&f, &holder, 0, NULL); /* a probe always in flight */
    fg_test_clock_advance(&f.clock, 0.0625); /* t0 + 1 s: the lost probe's slot is handed out again */
    assert_true(fg_breaker_acquire(f.b, &x));
    assert_true(fg_breaker_acquire(f.b, &y));
    assert_true(x.slot == lost.slot || y.slot == lost.slot);
    assert_int_equal(info_of(&f).half_open_in_flight, 3);
    assert_int_equal(fg_breaker_record(f.b, &lost, FG_OUTCOME_SUCCESS, 0), FG_VERDICT_STALE_SUCCESS);
    fg_info i = info_of(&f);
    assert_int_equal(i.half_open_in_flight, 3);
    assert_int_equal(i.counters.lease_expired, 1);
    /* and the new holder's ticket still frees it */
    const fg_ticket *now_holder = x.slot == lost.slot ? &x : &y;
    assert_int_equal(fg_breaker_record(f.b, now_holder, FG_OUTCOME_SUCCESS, 0), FG_VERDICT_SUCCESS);
    assert_int_equal(info_of(&f).half_open_in_flight, 2);
    done(&f);
}

/* The same after a live reload to a 2 s lease halfway (the ticks stay 2^-32 s
 * until they run out: 1 s apart is now less than a lease). */
static void a_probe_lost_whole_leases_ago_stays_void_across_a_reload_to_a_longer_lease(void **state) {
    (void)state;
    fixture f;
    fg_expressions e = {.tripper = "FailureStreak(1) | HalfOpened()", .retry = "Always()", .permit = "All()",
                        .max_half_open_calls = "3", .half_open_lease = "100ms"};
    make(&f, e, NULL, 0);
    e.half_open_lease = "2s";
    fg_policy *longer = fg_test_policy_expr("t", e);
    fail_n(&f, 1);
    fg_ticket lost, holder, x, y;
    assert_true(fg_breaker_acquire(f.b, &lost));
    assert_true(fg_breaker_acquire(f.b, &holder));
    relay_probes_for_a_second(&f, &holder, 8, longer); /* reloaded halfway */
    fg_test_clock_advance(&f.clock, 0.0625);
    assert_true(fg_breaker_acquire(f.b, &x));
    assert_true(fg_breaker_acquire(f.b, &y));
    assert_true(x.slot == lost.slot || y.slot == lost.slot);
    assert_int_equal(fg_breaker_record(f.b, &lost, FG_OUTCOME_SUCCESS, 0), FG_VERDICT_STALE_SUCCESS);
    assert_int_equal(info_of(&f).half_open_in_flight, 3);
    const fg_ticket *now_holder = x.slot == lost.slot ? &x : &y;
    assert_int_equal(fg_breaker_record(f.b, now_holder, FG_OUTCOME_SUCCESS, 0), FG_VERDICT_SUCCESS);
    assert_int_equal(fg_breaker_record(f.b, &holder, FG_OUTCOME_SUCCESS, 0), FG_VERDICT_SUCCESS);
    assert_int_equal(info_of(&f).half_open_in_flight, 1);
    fg_policy_free(longer);
    done(&f);
}

/* And when the ticks run out under the longer lease, the grid coarsens (2^-32
 * s ticks -> 2^-20 s after 1000 s): 1 s is 2^20 ticks then, no longer "whole
 * leases ago" in ticks. The lost probe's identity must not survive that. */
static void a_probe_lost_whole_leases_ago_stays_void_when_the_grid_coarsens(void **state) {
    (void)state;
    fixture f;
    fg_expressions e = {.tripper = "FailureStreak(1) | HalfOpened()", .retry = "Always()", .permit = "All()",
                        .max_half_open_calls = "3", .half_open_lease = "100ms"};
    make(&f, e, NULL, 0);
    e.half_open_lease = "3600s";
    fg_policy *longer = fg_test_policy_expr("t", e);
    fail_n(&f, 1);
    fg_ticket lost, holder, x, y;
    assert_true(fg_breaker_acquire(f.b, &lost));
    assert_true(fg_breaker_acquire(f.b, &holder));
    relay_probes_for_a_second(&f, &holder, 0, NULL);
    fg_test_clock_advance(&f.clock, 0.0625); /* t0 + 1 s: the lost probe's identity, on its slot */
    assert_true(fg_breaker_acquire(f.b, &x));
    assert_true(fg_breaker_acquire(f.b, &y));
    assert_true(x.slot == lost.slot || y.slot == lost.slot);
    char err[200];
    assert_int_equal(fg_breaker_reload(f.b, longer, 0, err, sizeof err), 0);
    assert_int_equal(fg_breaker_record(f.b, &holder, FG_OUTCOME_SUCCESS, 0), FG_VERDICT_SUCCESS);
    fg_test_clock_advance(&f.clock, 1000.0);
    fg_ticket z;
    assert_true(fg_breaker_acquire(f.b, &z)); /* ticks run out: the grid coarsens */
    assert_int_equal(info_of(&f).half_open_in_flight, 3);
    assert_int_equal(fg_breaker_record(f.b, &lost, FG_OUTCOME_SUCCESS, 0), FG_VERDICT_STALE_SUCCESS);
    assert_int_equal(info_of(&f).half_open_in_flight, 3);
    assert_int_equal(fg_breaker_record(f.b, &z, FG_OUTCOME_SUCCESS, 0), FG_VERDICT_SUCCESS);
    fg_policy_free(longer);
    done(&f);
}

/* The largest max_half_open_calls (65536, 16-bit links): every slot can be
 * held at once, one more call is rejected, every ticket frees its own slot
 * once, and the leases go through a snapshot and end when their lease does. */
static void sixty_five_thousand_five_hundred_and_thirty_six_probes_fit(void **state) {
    (void)state;
    enum { N = 65536 };
    fg_expressions e = {.tripper = "FailureStreak(1) | HalfOpened()", .retry = "Always()", .permit = "All()",
                        .max_half_open_calls = "65536", .half_open_lease = "5s"};
    fixture f, g;
    make(&f, e, NULL, 0);
    fg_ticket *t = malloc(sizeof *t * N);
    assert_non_null(t);
    fail_n(&f, 1);
    for (int round = 0; round < 2; round++) {
        for (int i = 0; i < N; i++) {
            assert_true(fg_breaker_acquire(f.b, &t[i]));
            assert_int_equal(t[i].state, FG_STATE_HALF_OPEN);
        }
        rejection(&f);
        assert_int_equal(info_of(&f).half_open_in_flight, N);
        if (round == 1) break;
        /* released the last first (slot 65535 is no "none"), each once */
        for (int i = N; i-- > 0;)
            assert_int_equal(fg_breaker_record(f.b, &t[i], FG_OUTCOME_SUCCESS, 0), FG_VERDICT_SUCCESS);
        assert_int_equal(fg_breaker_record(f.b, &t[N - 1], FG_OUTCOME_SUCCESS, 0), FG_VERDICT_STALE_SUCCESS);
        assert_int_equal(info_of(&f).half_open_in_flight, 0);
        assert_int_equal(fg_breaker_state(f.b), FG_STATE_HALF_OPEN); /* HalfOpened() holds it there */
        fg_test_clock_advance(&f.clock, 0.5);
    }
    size_t n = fg_breaker_snapshot(f.b, NULL, 0);
    unsigned char *snap = malloc(n);
    assert_non_null(snap);
    assert_int_equal(fg_breaker_snapshot(f.b, snap, n), n);
    make(&g, e, NULL, 0);
    g.clock.now = 5000.0;
    char err[200];
    assert_int_equal(fg_breaker_restore(g.b, snap, n, err, sizeof err), 0);
    assert_int_equal(info_of(&g).half_open_in_flight, N);
    rejection(&g);
    fg_test_clock_advance(&g.clock, 4.9);
    assert_int_equal(info_of(&g).half_open_in_flight, N);
    fg_test_clock_advance(&g.clock, 0.1);
    fg_info i = info_of(&g);
    assert_int_equal(i.half_open_in_flight, 0);
    assert_int_equal(i.counters.lease_expired, N);
    fg_ticket next;
    assert_true(fg_breaker_acquire(g.b, &next));
    /* the original's tickets still hold theirs */
    assert_int_equal(fg_breaker_record(f.b, &t[12345], FG_OUTCOME_SUCCESS, 0), FG_VERDICT_SUCCESS);
    assert_int_equal(info_of(&f).half_open_in_flight, N - 1);
    free(snap);
    free(t);
    done(&g);
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
    assert_int_equal(fg_breaker_record(f.b, &t, FG_OUTCOME_FAILURE, 0), FG_VERDICT_STALE_FAILURE);
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

static void backoff_with_jitter_is_exact_per_open_period(void **state) {
    (void)state;
    /* factors 1 + (2u - 1) * 0.2: u = 0 -> 0.8, u = 1/2 -> 1.0 */
    const double draws[] = {0.0, 0.5};
    fixture f;
    make(&f, (fg_expressions){.tripper = "FailureStreak(1)", .permit = "All()",
                              .retry = "Backoff(10, multiplier=3, max_duration=60, jitter_ratio=0.2)"},
         draws, 2);
    fail_n(&f, 1);                                   /* opens: 10 * 0.8 */
    assert_float_equal(rejection(&f).retry_after, 8.0, 1e-9);
    fg_test_clock_advance(&f.clock, 8);
    fail_n(&f, 1);                                   /* probe fails: reopens 1, 30 * 1.0 */
    assert_float_equal(rejection(&f).retry_after, 30.0, 1e-9);
    fg_test_clock_advance(&f.clock, 29.5);
    assert_float_equal(rejection(&f).retry_after, 0.5, 1e-9);
    assert_int_equal(f.random.next, 2);
    done(&f);
}

static void callers_may_bring_their_own_time(void **state) {
    (void)state;
    fixture f;
    make(&f, (fg_expressions){.window = "TimeWindow(10)", .tripper = "MinRequests(2) & AvgLatency(1s)"},
         NULL, 0);
    unsigned reads = f.clock.reads;
    fg_ticket t;
    assert_true(fg_breaker_acquire_at(f.b, 2000.0, &t));
    assert_float_equal(t.started_at, 2000.0, 0);
    /* 3 s */
    assert_int_equal(fg_breaker_record_at(f.b, &t, FG_OUTCOME_SUCCESS, -1, 2003.0),
                     FG_VERDICT_SUCCESS);
    assert_int_equal(f.clock.reads, reads); /* the _at calls never read the clock */
    assert_true(fg_breaker_acquire_at(f.b, 2003.0, &t));
    assert_int_equal(fg_breaker_record_at(f.b, &t, FG_OUTCOME_SUCCESS, 0.5, 2003.5),
                     FG_VERDICT_SUCCESS);
    assert_int_equal(fg_breaker_state(f.b), FG_STATE_OPEN); /* average 1.75 s */
    assert_float_equal(f.log[0].metric.total_duration, 3.5, 1e-9);
    assert_float_equal(f.log[0].timestamp, 2003.5, 0);
    /* a caller's time that goes backwards is held at the last good reading */
    assert_false(fg_breaker_acquire_at(f.b, 1.0, &t));
    assert_float_equal(t.started_at, 2003.5, 0);
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
    assert_string_equal(err, "t: error: breaker 't': "
                             "Custom(\"nowhere_registered\") has no registered predicate");
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
    assert_int_equal(fg_breaker_classify(b, &teapot), FG_OUTCOME_FAILURE);
    assert_int_equal(fg_breaker_classify(b, &ok), FG_OUTCOME_SUCCESS);
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
        fg_test_alloc counting = {.fail_at = n};
        fg_breaker_options o = {0};
        o.alloc = fg_test_allocator(&counting);
        char err[100];
        b = fg_breaker_new(p, 0, &o, err, sizeof err);
        if (b == NULL) {
            assert_string_equal(err, "t: error: breaker 't': out of memory");
            assert_int_equal(counting.live_blocks, 0);
        } else {
            fg_breaker_free(b);
            assert_int_equal(counting.live_blocks, 0);
        }
    }
    assert_true(n > 2 && n < 100);
    fg_policy_free(p);
}

static void the_call_protocol_never_allocates(void **state) {
    (void)state;
    fixture f;
    make(&f, (fg_expressions){.window = "TimeWindow(5)", .tripper = "FailureStreak(3) | SlowRate(0.5, threshold=1s)",
                              .retry = "Cooldown(2, jitter_ratio=0.5)", .permit = "RampUp(0.5, 1, 10)",
                              .half_open_lease = "1s"}, NULL, 0);
    long allocations = f.counting.allocations;
    for (int i = 0; i < 5000; i++) {
        fg_ticket t;
        if (fg_breaker_acquire(f.b, &t) && i % 7 != 0) /* every 7th admitted call is lost */
            fg_breaker_record(f.b, &t, i % 5 < 2 ? 1 : 0, (i % 3) * 0.6);
        fg_test_clock_advance(&f.clock, 0.25);
        if (i % 1000 == 999) fg_breaker_reset(f.b);
    }
    fg_info i;
    fg_breaker_info(f.b, &i);
    assert_true(i.counters.transitions[FG_STATE_CLOSED][FG_STATE_OPEN] > 0);
    assert_true(i.counters.transitions[FG_STATE_HALF_OPEN][FG_STATE_CLOSED] > 0);
    assert_int_equal(f.counting.allocations, allocations);
    done(&f);
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
        cmocka_unit_test(lost_probes_lose_their_lease),
        cmocka_unit_test(a_lease_is_over_even_when_nobody_else_noticed),
        cmocka_unit_test(sixty_five_thousand_five_hundred_and_thirty_six_probes_fit),
        cmocka_unit_test(a_probe_lost_whole_leases_ago_never_frees_its_slots_new_holder),
        cmocka_unit_test(a_probe_lost_whole_leases_ago_stays_void_across_a_reload_to_a_longer_lease),
        cmocka_unit_test(a_probe_lost_whole_leases_ago_stays_void_when_the_grid_coarsens),
        cmocka_unit_test(an_outcome_from_before_a_transition_is_discarded),
        cmocka_unit_test(reset_is_a_transition_even_from_closed),
        cmocka_unit_test(disable_admits_everything_and_counts_nothing),
        cmocka_unit_test(force_open_rejects_everything_until_a_command),
        cmocka_unit_test(metrics_only_records_but_never_trips),
        cmocka_unit_test(retry_after_is_exact_with_jitter),
        cmocka_unit_test(retry_after_for_always_and_never),
        cmocka_unit_test(backoff_with_jitter_is_exact_per_open_period),
        cmocka_unit_test(callers_may_bring_their_own_time),
        cmocka_unit_test(listeners_may_call_back_and_do_not_disturb_each_other),
        cmocka_unit_test(an_unresolved_custom_name_fails_creation_with_its_name),
        cmocka_unit_test(custom_predicates_classify_outcomes),
        cmocka_unit_test(creation_cleans_up_after_every_allocation_failure),
        cmocka_unit_test(the_call_protocol_never_allocates),
        cmocka_unit_test(a_misbehaving_clock_is_ignored),
        cmocka_unit_test(state_names_round_trip),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
