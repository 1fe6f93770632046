/*
 * test_snapshot.c -- snapshots and restore (SPEC section 10, issue 9 item 2):
 * every state round-trips on CountWindow (32-bit and exact entries) and
 * TimeWindow breakers whose clocks differ by days; a restored breaker
 * behaves exactly like the original under the same calls (random
 * differential); another definition, every truncation, every bit flip and
 * structurally hostile snapshots with valid checksums are refused and leave
 * the breaker unchanged; the format is pinned by golden bytes; snapshots
 * taken while threads call through the breaker always restore.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <math.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fg_random.h"
#include "fg_snapshot.h"
#include "fg_test_support.h"
#include "fluxgate.h"

enum { DAYS3 = 259200 };

/* ---- breakers on manual clocks ----------------------------------------------- */

typedef struct side {
    fg_test_clock clock;
    fg_breaker *b;
    int heard; /* transitions delivered to the listener */
} side;

static void count_signal(void *ud, const fg_transition *t) {
    (void)t;
    ((side *)ud)->heard++;
}

static fg_policy *compile(fg_expressions e) {
    return fg_test_policy_expr("snap", e);
}

static void side_open(side *s, fg_policy *p, double now, uint64_t seed) {
    memset(s, 0, sizeof *s);
    s->clock.now = now;
    fg_breaker_options o = fg_test_options(&s->clock, NULL);
    o.has_seed = 1;
    o.seed = seed;
    char err[200];
    s->b = fg_breaker_new(p, 0, &o, err, sizeof err);
    assert_non_null(s->b);
    assert_int_equal(fg_breaker_add_listener(s->b, count_signal, s), 0);
}

/* One call: 1 failure, 0 success of `duration` seconds (the clock moves on
 * by it), -1 untracked. Returns the verdict, or -1 when rejected (then
 * *retry_after gets the rejection's). */
static int side_call(side *s, fg_outcome_class outcome_class, double duration,
                     double *retry_after) {
    fg_ticket t;
    if (!fg_breaker_acquire(s->b, &t)) {
        if (retry_after != NULL) *retry_after = t.retry_after;
        return -1;
    }
    s->clock.now += duration;
    return (int)fg_breaker_record(s->b, &t, outcome_class, -1);
}

static unsigned char *take_snapshot(fg_breaker *b, size_t *len) {
    size_t n = fg_breaker_snapshot(b, NULL, 0);
    assert_true(n >= FG_SNAP_MIN);
    unsigned char *buf = malloc(n);
    assert_non_null(buf);
    assert_int_equal(fg_breaker_snapshot(b, buf, n), n);
    *len = n;
    return buf;
}

static int restore(fg_breaker *b, const unsigned char *s, size_t n, char *err, size_t cap) {
    return fg_breaker_restore(b, s, n, err, cap);
}

/* Two breakers look alike: everything info() says but the generation, with
 * changed_at compared relative to each one's now. */
static void assert_same(side *a, side *b) {
    fg_info x, y;
    fg_breaker_info(a->b, &x);
    fg_breaker_info(b->b, &y);
    assert_int_equal(x.state, y.state);
    assert_int_equal(x.reopens, y.reopens);
    assert_int_equal(x.consecutive_failures, y.consecutive_failures);
    assert_int_equal(x.half_open_in_flight, y.half_open_in_flight);
    assert_int_equal(x.transitions, y.transitions);
    assert_true(fabs((x.changed_at - a->clock.now) - (y.changed_at - b->clock.now)) <= 1e-9);
    assert_int_equal(x.metric.total_count, y.metric.total_count);
    assert_int_equal(x.metric.failure_count, y.metric.failure_count);
    assert_true(x.metric.total_duration == y.metric.total_duration);
    assert_int_equal(x.metric.threshold_count, y.metric.threshold_count);
    for (int k = 0; k < FG_MAX_SLOW_THRESHOLDS; k++) assert_int_equal(x.metric.slow_counts[k], y.metric.slow_counts[k]);
    assert_memory_equal(&x.counters, &y.counters, sizeof x.counters);
}

/* The breaker's snapshot now, for "nothing changed" checks. */
static int same_snapshot(fg_breaker *b, const unsigned char *before, size_t n) {
    size_t m;
    unsigned char *now = take_snapshot(b, &m);
    int same = m == n && memcmp(now, before, n) == 0;
    free(now);
    return same;
}

/* ---- the definitions ------------------------------------------------------------ */

/* Four window storages (KINDS); all trip on FailureStreak(3), retry after a
 * jittered cooldown, and lease up to 3 half-open probes for 20 s. Kinds 2
 * and 3 are TimeWindows. */
enum { KINDS = 4 };
static fg_expressions def_of(int kind) {
    fg_expressions e = {0};
    e.retry = "Cooldown(10s, jitter_ratio = 0.3)";
    e.permit = "All()";
    e.max_half_open_calls = "3";
    e.half_open_lease = "20s";
    switch (kind) {
    case 0: /* CountWindow, 32-bit entries */
        e.window = "CountWindow(5)";
        e.tripper = "FailureStreak(3) | MinRequests(3) & SlowRate(50%, threshold = 1s)";
        break;
    case 1: /* CountWindow, exact durations */
        e.window = "CountWindow(5)";
        e.tripper = "FailureStreak(3) | MinRequests(3) & AvgLatency(500ms)";
        break;
    case 2: /* TimeWindow */
        e.window = "TimeWindow(10)";
        e.tripper = "FailureStreak(3) | MinRequests(3) & SlowRate(50%, threshold = 1s)";
        break;
    default: /* TimeWindow whose tripper reads the exact mean */
        e.window = "TimeWindow(10)";
        e.tripper = "FailureStreak(3) | MinRequests(3) & AvgLatency(500ms)";
        break;
    }
    return e;
}

enum { ST_CLOSED_FULL, ST_OPEN, ST_HALF_OPEN, ST_FORCED, ST_DISABLED, ST_METRICS, ST_COUNT };

/* Drives a breaker to one of the states above, with history behind it. */
static void drive(side *s, int target) {
    /* a full, wrapped window that trips nothing: 7 calls half a second apart */
    static const double durations[7] = {0.25, -1, 0.25, 1.25, 0.25, -1, 0.25};
    for (int i = 0; i < 7; i++) {
        int v = side_call(s, durations[i] < 0 ? 1 : 0, durations[i] < 0 ? 0 : durations[i], NULL);
        assert_true(v == FG_VERDICT_SUCCESS || v == FG_VERDICT_FAILURE);
        s->clock.now += 0.5;
    }
    assert_int_equal(fg_breaker_state(s->b), FG_STATE_CLOSED);
    if (target == ST_CLOSED_FULL) return;
    if (target == ST_FORCED) { fg_breaker_force_open(s->b); return; }
    if (target == ST_DISABLED) { fg_breaker_disable(s->b); return; }
    if (target == ST_METRICS) {
        fg_breaker_metrics_only(s->b);
        side_call(s, 0, 0.75, NULL);
        side_call(s, 1, 0, NULL);
        return;
    }
    for (int i = 0; i < 3; i++) side_call(s, 1, 0, NULL);
    assert_int_equal(fg_breaker_state(s->b), FG_STATE_OPEN);
    s->clock.now += 4.0; /* mid-cooldown (7 .. 13 s) */
    if (target == ST_OPEN) return;
    s->clock.now += 10.0;
    fg_ticket t1, t2;
    assert_true(fg_breaker_acquire(s->b, &t1)); /* the first probe moves it to half_open */
    s->clock.now += 1.5;
    assert_true(fg_breaker_acquire(s->b, &t2));
    s->clock.now += 3.0; /* two leases held, 18.5 s and 20 s... left: 15.5 and 17 */
    assert_int_equal(fg_breaker_state(s->b), FG_STATE_HALF_OPEN);
}

/* ---- round trips ------------------------------------------------------------------ */

static void check_round_trip(int kind, int target, double offset) {
    fg_policy *p = compile(def_of(kind));
    side a, b;
    side_open(&a, p, 1000.0, 7);
    drive(&a, target);
    size_t n;
    unsigned char *s = take_snapshot(a.b, &n);
    side_open(&b, p, a.clock.now + offset, 99); /* another seed: the snapshot's wins */
    int heard = b.heard;
    char err[300];
    assert_int_equal(restore(b.b, s, n, err, sizeof err), 0);
    assert_int_equal(b.heard, heard); /* a restore is not a transition */
    assert_same(&a, &b);

    if (target == ST_OPEN) {
        /* the same remaining cooldown, to the nanosecond */
        double ra = 0, rb = 0;
        assert_int_equal(side_call(&a, 0, 0, &ra), -1);
        assert_int_equal(side_call(&b, 0, 0, &rb), -1);
        assert_true(ra > 2.0 && ra < 10.0);
        assert_true(fabs(ra - rb) <= 1e-9);
        a.clock.now += ra;
        b.clock.now += rb;
        assert_int_equal(side_call(&a, 0, 0, NULL), FG_VERDICT_SUCCESS);
        assert_int_equal(side_call(&b, 0, 0, NULL), FG_VERDICT_SUCCESS);
        assert_same(&a, &b);
    }
    if (target == ST_HALF_OPEN) {
        /* the leases keep their remaining times: one more probe fits now;
         * the first lease ends 15.5 s later, the second 1.5 s after it */
        fg_ticket ta, tb;
        assert_true(fg_breaker_acquire(a.b, &ta));
        assert_true(fg_breaker_acquire(b.b, &tb));
        assert_same(&a, &b);
        double steps[3] = {15.5 - 1e-6, 2e-6, 1.5};
        uint32_t in_flight[3] = {3, 2, 1};
        for (int i = 0; i < 3; i++) {
            a.clock.now += steps[i];
            b.clock.now += steps[i];
            fg_info ia, ib;
            fg_breaker_info(a.b, &ia);
            fg_breaker_info(b.b, &ib);
            assert_int_equal(ia.half_open_in_flight, in_flight[i]);
            assert_int_equal(ib.half_open_in_flight, in_flight[i]);
        }
        assert_int_equal(fg_breaker_record(a.b, &ta, FG_OUTCOME_SUCCESS, 0.1), FG_VERDICT_SUCCESS);
        assert_int_equal(fg_breaker_record(b.b, &tb, FG_OUTCOME_SUCCESS, 0.1), FG_VERDICT_SUCCESS);
        assert_same(&a, &b);
        assert_int_equal(fg_breaker_state(b.b), FG_STATE_CLOSED);
    }
    if (target == ST_CLOSED_FULL || target == ST_METRICS) {
        /* window ages: the same records leave at the same times */
        for (int i = 0; i < 12; i++) {
            a.clock.now += 0.5;
            b.clock.now += 0.5;
            assert_same(&a, &b);
        }
        assert_int_equal(side_call(&a, 0, 0.25, NULL), side_call(&b, 0, 0.25, NULL));
        assert_same(&a, &b);
    }
    free(s);
    fg_breaker_free(a.b);
    fg_breaker_free(b.b);
    fg_policy_free(p);
}

static void every_state_round_trips_days_later(void **state) {
    (void)state;
    for (int kind = 0; kind < KINDS; kind++)
        for (int target = 0; target < ST_COUNT; target++)
            check_round_trip(kind, target, kind >= 2 ? DAYS3 : DAYS3 + 0.375);
}

/* A TimeWindow's buckets are whole seconds: restored at another phase of
 * the second, each record keeps its age in whole seconds and the metric is
 * the same; the remaining cooldown and lease times stay exact. */
static void a_time_window_keeps_whole_second_ages_at_any_phase(void **state) {
    (void)state;
    for (int target = 0; target < ST_COUNT; target++) check_round_trip(2, target, DAYS3 + 0.0);
    fg_policy *p = compile(def_of(2));
    side a, b;
    side_open(&a, p, 1000.0, 1);
    drive(&a, ST_CLOSED_FULL); /* 7 calls over 1000.25 .. 1005.25, snapshot at 1005.75 */
    size_t n;
    unsigned char *s = take_snapshot(a.b, &n);
    side_open(&b, p, 5000.6, 1); /* now's second: 5000 (a's: 1005) */
    assert_int_equal(restore(b.b, s, n, NULL, 0), 0);
    fg_info ia, ib;
    fg_breaker_info(a.b, &ia);
    fg_breaker_info(b.b, &ib);
    assert_int_equal(ib.metric.total_count, 7);
    assert_true(ia.metric.total_duration == ib.metric.total_duration);
    /* a's oldest second (1000, two calls) leaves when its clock reaches
     * 1010; b has it as 4995, which leaves at 5005 */
    double at[2][2] = {{1009.99, 1010.0}, {5004.99, 5005.0}};
    side *sides[2] = {&a, &b};
    for (int i = 0; i < 2; i++) {
        fg_info x;
        sides[i]->clock.now = at[i][0];
        fg_breaker_info(sides[i]->b, &x);
        assert_int_equal(x.metric.total_count, 7);
        sides[i]->clock.now = at[i][1];
        fg_breaker_info(sides[i]->b, &x);
        assert_int_equal(x.metric.total_count, 5);
    }
    free(s);
    fg_breaker_free(a.b);
    fg_breaker_free(b.b);
    fg_policy_free(p);
}

/* fg_breaker_record takes any duration: an exact CountWindow kept an
 * infinite one as given, wrote it into the snapshot, and restore refused
 * it ("impossible duration inf"). The snapshot now holds DBL_MAX, the same
 * entry: slow, and the same capped sum. */
static void a_success_of_infinite_duration_round_trips(void **state) {
    (void)state;
    fg_expressions e = def_of(1);
    e.tripper = "MinRequests(3) & AvgLatency(500ms) | "
                "MinRequests(3) & SlowRate(50%, threshold = 1s)";
    fg_policy *p = compile(e);
    side a, b;
    side_open(&a, p, 100.0, 1);
    fg_ticket t;
    assert_true(fg_breaker_acquire(a.b, &t));
    assert_int_equal(fg_breaker_record(a.b, &t, FG_OUTCOME_SUCCESS, INFINITY), FG_VERDICT_SUCCESS);
    assert_int_equal(side_call(&a, 0, 0.25, NULL), FG_VERDICT_SUCCESS);
    size_t n;
    unsigned char *s = take_snapshot(a.b, &n);
    side_open(&b, p, 7.0, 2);
    char err[300] = "";
    assert_int_equal(restore(b.b, s, n, err, sizeof err), 0);
    assert_same(&a, &b);
    fg_info i;
    fg_breaker_info(b.b, &i);
    assert_int_equal(i.metric.slow_counts[0], 1);
    /* the third call trips both on the average and on the slow rate */
    assert_int_equal(side_call(&a, 0, 0.25, NULL), side_call(&b, 0, 0.25, NULL));
    assert_same(&a, &b);
    assert_int_equal(fg_breaker_state(b.b), FG_STATE_OPEN);
    free(s);
    fg_breaker_free(a.b);
    fg_breaker_free(b.b);
    fg_policy_free(p);
}

/* ---- the differential ---------------------------------------------------------------- */

static uint32_t lcg(uint64_t *s) {
    *s = *s * UINT64_C(6364136223846793005) + UINT64_C(1442695040888963407);
    return (uint32_t)(*s >> 33);
}

enum { OPS = 300, HELD = 4 };

typedef struct replay {
    fg_ticket held[HELD];
    int held_n;
} replay;

/* What one operation did, for comparing runs. */
typedef struct step {
    int verdict;
    double retry_after;
    fg_state state;
} step;

/* Applies operation r to s; both sides of a comparison get the same r. */
static step apply_op(side *s, replay *h, uint32_t r) {
    step out = {0, 0.0, FG_STATE_CLOSED};
    uint32_t op = r % 16, arg = r >> 8;
    fg_ticket t;
    if (op < 4) {
        s->clock.now += (double)(arg % 8) * 0.25;
    } else if (op < 8) {
        out.verdict = side_call(s, 0, (double)(arg % 6) * 0.25, &out.retry_after);
    } else if (op < 11) {
        out.verdict = side_call(s, 1, 0, &out.retry_after);
    } else if (op == 11) {
        out.verdict = side_call(s, -1, 0, &out.retry_after);
    } else if (op == 12 && h->held_n < HELD) {
        out.verdict = fg_breaker_acquire(s->b, &t);
        if (t.admitted) h->held[h->held_n++] = t;
        else out.retry_after = t.retry_after;
    } else if (op == 13 && h->held_n > 0) {
        t = h->held[--h->held_n];
        out.verdict = (int)fg_breaker_record(s->b, &t, (int)(arg % 2), (double)(arg % 5) * 0.25);
    } else if (op == 14) {
        out.verdict = fg_breaker_acquire(s->b, &t); /* a lost ticket: its lease must end */
    } else if (op == 15 && arg % 8 == 0) {
        switch (arg / 8 % 6) {
        case 0: fg_breaker_force_open(s->b); break;
        case 1: fg_breaker_disable(s->b); break;
        case 2: fg_breaker_metrics_only(s->b); break;
        default: fg_breaker_reset(s->b); break;
        }
    }
    out.state = fg_breaker_state(s->b);
    return out;
}

static void assert_same_step(step x, step y) {
    assert_int_equal(x.verdict, y.verdict);
    assert_int_equal(x.state, y.state);
    assert_true(fabs(x.retry_after - y.retry_after) <= 1e-9);
}

static void a_restored_breaker_behaves_like_the_original(void **state) {
    (void)state;
    static const char *const retries[KINDS] = {"Cooldown(3s, jitter_ratio = 0.5)",
                                               "Backoff(1s, multiplier = 2, max_duration = 30s, jitter_ratio = 0.2)",
                                               "Cooldown(2s)", "Cooldown(1s, jitter_ratio = 0.1)"};
    static const char *const permits[KINDS] = {"Random(0.6)", "RampUp(initial = 20%, final = 90%, duration = 4s)",
                                               "All()", "Random(0.8)"};
    step *record = malloc(sizeof(step) * OPS);
    assert_non_null(record);
    for (int kind = 0; kind < KINDS; kind++) {
        fg_expressions e = def_of(kind);
        e.retry = retries[kind];
        e.permit = permits[kind];
        e.half_open_lease = "6s";
        fg_policy *p = compile(e);
        for (uint64_t seed = 1; seed <= 25; seed++) {
            uint64_t rng = seed * 7919;
            side a, b;
            replay ha = {0}, hb = {0};
            side_open(&a, p, 1000.0, seed);
            /* a's history */
            uint32_t before = 20 + lcg(&rng) % 200;
            for (uint32_t i = 0; i < before; i++) apply_op(&a, &ha, lcg(&rng));
            while (ha.held_n > 0)
                fg_breaker_record(a.b, &ha.held[--ha.held_n], FG_OUTCOME_SUCCESS, 0.25);
            size_t n;
            unsigned char *s = take_snapshot(a.b, &n);
            side_open(&b, p, a.clock.now + (kind >= 2 ? DAYS3 : DAYS3 + 0.375), seed + 1000);
            assert_int_equal(restore(b.b, s, n, NULL, 0), 0);
            assert_same(&a, &b);
            double a_at_snapshot = a.clock.now;
            uint64_t after_seed = rng;
            for (int i = 0; i < OPS; i++) {
                uint32_t r = lcg(&rng);
                step x = apply_op(&a, &ha, r), y = apply_op(&b, &hb, r);
                if (x.verdict != y.verdict || x.state != y.state)
                    fprintf(stderr, "kind %d seed %llu op %d (r %% 16 = %u): %d/%d %d/%d\n", kind,
                            (unsigned long long)seed, i, r % 16, x.verdict, y.verdict, x.state, y.state);
                assert_same_step(x, y);
                assert_same(&a, &b);
                record[i] = y;
            }
            /* the save loaded again into the original, later: the same run */
            while (ha.held_n > 0)
                fg_breaker_record(a.b, &ha.held[--ha.held_n], FG_OUTCOME_SUCCESS, 0.25);
            /* (whole seconds later: a TimeWindow keeps ages in whole seconds) */
            a.clock.now = a_at_snapshot + ceil(a.clock.now - a_at_snapshot) + 777.0;
            assert_int_equal(restore(a.b, s, n, NULL, 0), 0);
            rng = after_seed;
            for (int i = 0; i < OPS; i++) {
                uint32_t r = lcg(&rng);
                step x = apply_op(&a, &ha, r);
                if (x.verdict != record[i].verdict || x.state != record[i].state)
                    fprintf(stderr, "replay kind %d seed %llu op %d (r %% 16 = %u): %d/%d %d/%d\n", kind,
                            (unsigned long long)seed, i, r % 16, x.verdict, record[i].verdict, x.state, record[i].state);
                assert_same_step(x, record[i]);
            }
            free(s);
            fg_breaker_free(a.b);
            fg_breaker_free(b.b);
        }
        fg_policy_free(p);
    }
    free(record);
}

/* ---- restore: what it does to tickets, listeners, generation ---------------------- */

static void tickets_from_before_a_restore_are_stale(void **state) {
    (void)state;
    fg_policy *p = compile(def_of(0));
    side a;
    side_open(&a, p, 50.0, 3);
    size_t n;
    unsigned char *s = take_snapshot(a.b, &n);
    fg_ticket t;
    assert_true(fg_breaker_acquire(a.b, &t));
    fg_info before;
    fg_breaker_info(a.b, &before);
    assert_int_equal(restore(a.b, s, n, NULL, 0), 0);
    fg_info after;
    fg_breaker_info(a.b, &after);
    assert_true(after.generation > before.generation);
    assert_int_equal(fg_breaker_record(a.b, &t, FG_OUTCOME_FAILURE, 0.0), FG_VERDICT_STALE_FAILURE);
    fg_breaker_info(a.b, &after);
    assert_int_equal(after.metric.total_count, 0);
    assert_int_equal(after.counters.stale, 1);
    assert_int_equal(a.heard, 0);
    free(s);
    fg_breaker_free(a.b);
    fg_policy_free(p);
}

/* Restored leases belong to tickets that no longer exist: they hold their
 * slots until the lease ends, then the slots come back. */
static void restored_leases_end_when_their_lease_does(void **state) {
    (void)state;
    fg_expressions e = def_of(0);
    e.max_half_open_calls = "2";
    fg_policy *p = compile(e);
    side a, b;
    side_open(&a, p, 1000.0, 5);
    drive(&a, ST_CLOSED_FULL);
    for (int i = 0; i < 3; i++) side_call(&a, 1, 0, NULL);
    a.clock.now += 14.0;
    fg_ticket t1, t2;
    assert_true(fg_breaker_acquire(a.b, &t1));
    assert_true(fg_breaker_acquire(a.b, &t2));
    a.clock.now += 5.0;
    size_t n;
    unsigned char *s = take_snapshot(a.b, &n);
    side_open(&b, p, 1.0, 5);
    assert_int_equal(restore(b.b, s, n, NULL, 0), 0);
    double ra = -2;
    assert_int_equal(side_call(&b, 0, 0, &ra), -1); /* both slots held */
    assert_true(ra == 0.0);
    b.clock.now += 15.0; /* the leases end 20 s after they began */
    assert_int_equal(side_call(&b, 0, 0, NULL), FG_VERDICT_SUCCESS);
    fg_info i;
    fg_breaker_info(b.b, &i);
    assert_int_equal(i.counters.lease_expired, 2);
    assert_int_equal(i.state, FG_STATE_CLOSED);
    free(s);
    fg_breaker_free(a.b);
    fg_breaker_free(b.b);
    fg_policy_free(p);
}

/* ---- sizes ------------------------------------------------------------------------- */

static void snapshot_is_snprintf_style(void **state) {
    (void)state;
    fg_policy *p = compile(def_of(1));
    side a;
    side_open(&a, p, 10.0, 1);
    drive(&a, ST_CLOSED_FULL);
    size_t n = fg_breaker_snapshot(a.b, NULL, 0);
    unsigned char *buf = malloc(n + 16);
    memset(buf, 0xAB, n + 16);
    assert_int_equal(fg_breaker_snapshot(a.b, buf, n / 2), n);
    for (size_t i = n / 2; i < n + 16; i++) assert_int_equal(buf[i], 0xAB);
    assert_int_equal(fg_breaker_snapshot(a.b, buf, n), n);
    for (size_t i = n; i < n + 16; i++) assert_int_equal(buf[i], 0xAB);
    assert_int_equal(fg_snapshot_load(buf + FG_SNAP_OFF_LENGTH, 4), n);
    /* 392 fixed + "snap" + 4 + 5 doubles + 4 + 0 leases + 8 */
    assert_int_equal(n, FG_SNAP_FIXED + 4 + 4 + 5 * 8 + 4 + 8);
    free(buf);
    fg_breaker_free(a.b);
    fg_policy_free(p);
}

/* ---- refusals ----------------------------------------------------------------------- */

/* a on def_of(0); b on another definition, the same but for its tripper. */
static void open_two_definitions(side *a, fg_policy **p, side *b, fg_policy **q) {
    *p = compile(def_of(0));
    fg_expressions e = def_of(0);
    e.tripper = "FailureStreak(4)";
    *q = compile(e);
    side_open(a, *p, 10.0, 1);
    side_open(b, *q, 10.0, 1);
}

static void another_definition_is_refused_naming_both(void **state) {
    (void)state;
    fg_policy *p, *q;
    side a, b;
    open_two_definitions(&a, &p, &b, &q);
    size_t n, m;
    unsigned char *s = take_snapshot(a.b, &n);
    unsigned char *before = take_snapshot(b.b, &m);
    char err[400];
    assert_int_equal(restore(b.b, s, n, err, sizeof err), -1);
    char fa[32], fb[32];
    snprintf(fa, sizeof fa, "%016llx", (unsigned long long)fg_snapshot_load(s + FG_SNAP_OFF_FINGERPRINT, 8));
    snprintf(fb, sizeof fb, "%016llx", (unsigned long long)fg_snapshot_load(before + FG_SNAP_OFF_FINGERPRINT, 8));
    assert_string_not_equal(fa, fb);
    assert_non_null(strstr(err, fa));
    assert_non_null(strstr(err, fb));
    assert_non_null(strstr(err, "another definition"));
    assert_true(same_snapshot(b.b, before, m));
    /* the same definition compiled again is the same definition */
    fg_policy *same = compile(def_of(0));
    side c;
    side_open(&c, same, 10.0, 1);
    assert_int_equal(restore(c.b, s, n, err, sizeof err), 0);
    free(s);
    free(before);
    fg_breaker_free(a.b);
    fg_breaker_free(b.b);
    fg_breaker_free(c.b);
    fg_policy_free(p);
    fg_policy_free(q);
    fg_policy_free(same);
}

/* A reloaded breaker snapshots as its new definition: its snapshot restores
 * into a breaker of that definition, and one of the old definition is
 * refused by it. */
static void snapshots_follow_a_reload(void **state) {
    (void)state;
    fg_policy *p, *q;
    side a, b;
    open_two_definitions(&a, &p, &b, &q);
    size_t n_old, n_new;
    unsigned char *old_snapshot = take_snapshot(a.b, &n_old);
    char err[400];
    assert_int_equal(fg_breaker_reload(a.b, q, 0, err, sizeof err), 0);
    unsigned char *new_snapshot = take_snapshot(a.b, &n_new);
    assert_int_equal(restore(b.b, new_snapshot, n_new, err, sizeof err), 0);
    assert_int_equal(restore(a.b, new_snapshot, n_new, err, sizeof err), 0);
    assert_int_equal(restore(a.b, old_snapshot, n_old, err, sizeof err), -1);
    assert_non_null(strstr(err, "another definition"));
    free(old_snapshot);
    free(new_snapshot);
    fg_breaker_free(a.b);
    fg_breaker_free(b.b);
    fg_policy_free(p);
    fg_policy_free(q);
}

/* A victim in a state of its own, to see that refusals change nothing. */
static void make_pair(int kind, int target, side *a, side *victim, fg_policy **p) {
    *p = compile(def_of(kind));
    side_open(a, *p, 1000.0, 11);
    drive(a, target);
    side_open(victim, *p, 500.0, 12);
    drive(victim, ST_OPEN);
}

static void every_truncation_and_bit_flip_is_refused(void **state) {
    (void)state;
    for (int kind = 0; kind < 3; kind++) {
        fg_policy *p;
        side a, v;
        make_pair(kind, kind == 0 ? ST_HALF_OPEN : ST_CLOSED_FULL, &a, &v, &p);
        size_t n, m;
        unsigned char *s = take_snapshot(a.b, &n);
        unsigned char *before = take_snapshot(v.b, &m);
        char err[300];
        for (size_t len = 0; len < n; len++) {
            err[0] = 'x';
            assert_int_equal(restore(v.b, s, len, err, sizeof err), -1);
            assert_true(strncmp(err, "cannot restore: ", 16) == 0);
        }
        assert_int_equal(restore(v.b, NULL, 0, err, sizeof err), -1);
        unsigned char *c = malloc(n + 1);
        memcpy(c, s, n);
        c[n] = 0;
        assert_int_equal(restore(v.b, c, n + 1, err, sizeof err), -1); /* one byte too many */
        for (size_t bit = 0; bit < n * 8; bit++) {
            c[bit / 8] ^= (unsigned char)(1u << (bit % 8));
            assert_int_equal(restore(v.b, c, n, err, sizeof err), -1);
            c[bit / 8] ^= (unsigned char)(1u << (bit % 8));
        }
        assert_true(same_snapshot(v.b, before, m));
        assert_int_equal(restore(v.b, c, n, err, sizeof err), 0); /* and the intact one restores */
        free(c);
        free(s);
        free(before);
        fg_breaker_free(a.b);
        fg_breaker_free(v.b);
        fg_policy_free(p);
    }
}

/* The format says FNV-1a 64 (fg_snapshot.h): the published test vectors,
 * so that a change of the shared hash cannot silently change the format. */
static void the_checksum_is_fnv1a_64(void **state) {
    (void)state;
    assert_true(fg_snapshot_checksum("", 0) == UINT64_C(0xcbf29ce484222325));
    assert_true(fg_snapshot_checksum("a", 1) == UINT64_C(0xaf63dc4c8601ec8c));
    assert_true(fg_snapshot_checksum("foobar", 6) == UINT64_C(0x85944171f73967e8));
}

/* ---- hostile snapshots with valid checksums ------------------------------------------ */

enum { EDIT_ROOM = 4096 };

typedef struct edit {
    unsigned char *data;
    size_t len;
    size_t cap;
} edit;

static edit edit_copy(const unsigned char *s, size_t n) {
    edit e = {malloc(n + EDIT_ROOM), n, n + EDIT_ROOM};
    assert_non_null(e.data);
    memcpy(e.data, s, n);
    return e;
}

/* Inserts `bytes` bytes of `fill` at offset `at`. */
static void edit_insert(edit *e, size_t at, size_t bytes, unsigned char fill) {
    assert_true(at <= e->len && e->len + bytes <= e->cap);
    memmove(e->data + at + bytes, e->data + at, e->len - at);
    memset(e->data + at, fill, bytes);
    e->len += bytes;
}

static void edit_seal(edit *e) {
    fg_snapshot_store(e->data + FG_SNAP_OFF_LENGTH, 4, e->len);
    fg_snapshot_reseal(e->data, e->len);
}

static void edit_put_f64(edit *e, size_t at, double d) {
    uint64_t bits;
    memcpy(&bits, &d, sizeof bits);
    fg_snapshot_store(e->data + at, 8, bits);
}

static size_t window_at(const unsigned char *s) {
    return FG_SNAP_FIXED + s[FG_SNAP_OFF_NAME_LENGTH];
}

/* The lease section's offset, for a CountWindow of 32-bit entries. */
static size_t leases_at_micro(const unsigned char *s) {
    size_t w = window_at(s);
    return w + 4 + 4 * (size_t)fg_snapshot_load(s + w, 4);
}

/* Refused with a message containing `expect`, and the victim unchanged. */
static void assert_refused(side *v, edit *e, const unsigned char *before, size_t m, const char *expect) {
    edit_seal(e);
    char err[400];
    err[0] = '\0';
    int rc = restore(v->b, e->data, e->len, err, sizeof err);
    if (rc != -1 || strstr(err, expect) == NULL) fail_msg("expected a refusal with \"%s\", got %d \"%s\"", expect, rc, err);
    assert_true(same_snapshot(v->b, before, m));
    free(e->data);
}

static void hostile_snapshots_are_refused(void **state) {
    (void)state;
    fg_policy *p;
    side a, v;
    make_pair(0, ST_HALF_OPEN, &a, &v, &p); /* CountWindow(5) of words, 2 leases of 3 */
    size_t n, m;
    unsigned char *s = take_snapshot(a.b, &n);
    unsigned char *before = take_snapshot(v.b, &m);
    size_t w = window_at(s), l = leases_at_micro(s);
    assert_int_equal(fg_snapshot_load(s + w, 4), 0); /* half_open starts with an empty window */
    assert_int_equal(fg_snapshot_load(s + l, 4), 2);
    edit e;

    /* the sealed copy restores: the edits below are what is refused */
    e = edit_copy(s, n);
    edit_seal(&e);
    assert_int_equal(restore(v.b, e.data, e.len, NULL, 0), 0);
    free(e.data);
    fg_breaker_free(v.b);
    side_open(&v, p, 500.0, 12);
    drive(&v, ST_OPEN);
    free(before);
    before = take_snapshot(v.b, &m);

    /* in_flight > capacity: 4 leases of 3 slots */
    e = edit_copy(s, n);
    fg_snapshot_store(e.data + l, 4, 4);
    edit_insert(&e, l + 4 + 16, 16, 0);
    edit_put_f64(&e, l + 4 + 16, -0.5);
    edit_put_f64(&e, l + 4 + 24, -0.25);
    assert_refused(&v, &e, before, m, "more than the 3 slots");
    /* a lease count that runs past the end */
    e = edit_copy(s, n);
    fg_snapshot_store(e.data + l, 4, 3);
    assert_refused(&v, &e, before, m, "cut short");
    /* NaN, future, too old and out-of-order lease times */
    double bad_leases[4][2] = {{NAN, -1.0}, {-1.0, 0.5}, {-25.0, -1.0}, {-1.0, -2.0}};
    for (int i = 0; i < 4; i++) {
        e = edit_copy(s, n);
        edit_put_f64(&e, l + 4, bad_leases[i][0]);
        edit_put_f64(&e, l + 12, bad_leases[i][1]);
        assert_refused(&v, &e, before, m, "impossible time");
    }
    /* a lease from before the state began */
    e = edit_copy(s, n);
    edit_put_f64(&e, FG_SNAP_OFF_CHANGED_AT, -1.0);
    assert_refused(&v, &e, before, m, "impossible time");
    /* NaN, infinite and future times of the last transition */
    double bad_changed[3] = {NAN, -INFINITY, 1.0};
    for (int i = 0; i < 3; i++) {
        e = edit_copy(s, n);
        edit_put_f64(&e, FG_SNAP_OFF_CHANGED_AT, bad_changed[i]);
        assert_refused(&v, &e, before, m, "time of the last transition");
    }
    /* filled > size: 6 entries in a CountWindow(5) */
    e = edit_copy(s, n);
    fg_snapshot_store(e.data + w, 4, 6);
    edit_insert(&e, w + 4, 24, 0);
    assert_refused(&v, &e, before, m, "more than its size 5");
    /* a window entry with a slow level beyond the thresholds (1 bit, one threshold: level 1 max;
     * the failure word with level 1 is impossible) */
    e = edit_copy(s, n);
    fg_snapshot_store(e.data + w, 4, 1);
    edit_insert(&e, w + 4, 4, 0xFF);
    assert_refused(&v, &e, before, m, "impossible slow level");
    /* enums, reserved fields, counts that disagree */
    e = edit_copy(s, n);
    fg_snapshot_store(e.data + FG_SNAP_OFF_STATE, 4, 6);
    assert_refused(&v, &e, before, m, "is not a state");
    e = edit_copy(s, n);
    fg_snapshot_store(e.data + FG_SNAP_OFF_STATE, 4, FG_STATE_OPEN);
    assert_refused(&v, &e, before, m, "half-open leases"); /* leases outside half_open */
    e = edit_copy(s, n);
    fg_snapshot_store(e.data + FG_SNAP_OFF_FLAGS, 4, 2);
    assert_refused(&v, &e, before, m, "flags this version does not know");
    e = edit_copy(s, n); /* "no counters of its own", from a breaker that counted */
    fg_snapshot_store(e.data + FG_SNAP_OFF_FLAGS, 4, FG_SNAPSHOT_NO_COUNTERS);
    assert_refused(&v, &e, before, m, "no counters, yet counts");
    e = edit_copy(s, n);
    fg_snapshot_store(e.data + FG_SNAP_OFF_GENERATION, 8, UINT64_MAX);
    assert_refused(&v, &e, before, m, "generation");
    e = edit_copy(s, n);
    fg_snapshot_store(e.data + FG_SNAP_OFF_SEQUENCE, 8, fg_snapshot_load(s + FG_SNAP_OFF_SEQUENCE, 8) - 1);
    assert_refused(&v, &e, before, m, "transitions");
    e = edit_copy(s, n);
    fg_snapshot_store(e.data + FG_SNAP_OFF_TRANSITIONS, 8, UINT64_MAX); /* the sum overflows */
    assert_refused(&v, &e, before, m, "overflow");
    e = edit_copy(s, n); /* record calls are successes + failures + ignored */
    fg_snapshot_store(e.data + FG_SNAP_OFF_COUNTERS + 8 * 4, 8, fg_snapshot_load(s + FG_SNAP_OFF_COUNTERS + 8 * 4, 8) + 1);
    assert_refused(&v, &e, before, m, "record count");
    e = edit_copy(s, n);
    edit_put_f64(&e, FG_SNAP_OFF_RETRY_FACTOR, NAN);
    assert_refused(&v, &e, before, m, "jitter factor");
    /* in (0, 2) but outside 1 + U(-0.3, 0.3), the definition's: a 10 s
     * cooldown would have waited 19 s (its edges restore: 0.7 and 1.3) */
    e = edit_copy(s, n);
    edit_put_f64(&e, FG_SNAP_OFF_RETRY_FACTOR, 1.9);
    assert_refused(&v, &e, before, m,
                   "jitter factor 1.8999999999999999 is impossible for a jitter ratio of 0.3");
    e = edit_copy(s, n);
    edit_put_f64(&e, FG_SNAP_OFF_RETRY_FACTOR, nextafter(1.0 - 0.3, 0.0));
    assert_refused(&v, &e, before, m, "jitter factor");
    for (int edge = 0; edge < 2; edge++) {
        e = edit_copy(s, n);
        edit_put_f64(&e, FG_SNAP_OFF_RETRY_FACTOR, edge ? 1.0 + 0.3 : 1.0 - 0.3);
        edit_seal(&e);
        side c;
        side_open(&c, p, 3.0, 1);
        assert_int_equal(restore(c.b, e.data, e.len, NULL, 0), 0);
        fg_breaker_free(c.b);
        free(e.data);
    }
    e = edit_copy(s, n);
    memset(e.data + FG_SNAP_OFF_RANDOM, 0, 32);
    assert_refused(&v, &e, before, m, "all zero");
    e = edit_copy(s, n);
    fg_snapshot_store(e.data + FG_SNAP_OFF_VERSION, 2, 2);
    assert_refused(&v, &e, before, m, "version 2 is not supported");
    e = edit_copy(s, n);
    fg_snapshot_store(e.data + FG_SNAP_OFF_WINDOW_SIZE, 4, 6);
    assert_refused(&v, &e, before, m, "do not match");
    e = edit_copy(s, n);
    e.data[FG_SNAP_OFF_NAME_LENGTH] = 255; /* the name runs over the sections */
    assert_refused(&v, &e, before, m, "");
    e = edit_copy(s, n);
    edit_insert(&e, e.len - 8, 8, 0); /* trailing bytes */
    assert_refused(&v, &e, before, m, "too many");
    free(s);
    fg_breaker_free(a.b);

    /* a closed breaker with reopens; entries in a breaker that records nothing */
    side_open(&a, p, 1000.0, 11);
    drive(&a, ST_CLOSED_FULL);
    s = take_snapshot(a.b, &n);
    e = edit_copy(s, n);
    fg_snapshot_store(e.data + FG_SNAP_OFF_REOPENS, 4, 1);
    assert_refused(&v, &e, before, m, "reopens");
    e = edit_copy(s, n); /* forced_open, entered once, but a window of 5 */
    fg_snapshot_store(e.data + FG_SNAP_OFF_STATE, 4, FG_STATE_FORCED_OPEN);
    fg_snapshot_store(e.data + FG_SNAP_OFF_SEQUENCE, 8, 1);
    fg_snapshot_store(e.data + FG_SNAP_OFF_TRANSITIONS + 8 * 18, 8, 1); /* closed -> forced_open */
    assert_refused(&v, &e, before, m, "records nothing");
    e = edit_copy(s, n); /* disabled, never entered */
    fg_snapshot_store(e.data + FG_SNAP_OFF_STATE, 4, FG_STATE_DISABLED);
    assert_refused(&v, &e, before, m, "never entered");
    free(s);
    free(before);
    fg_breaker_free(a.b);
    fg_breaker_free(v.b);
    fg_policy_free(p);
}

/* A retry without jitter waits exactly its duration: its factor is 1. A
 * snapshot saying 1.5 was restored, and the open breaker's Cooldown(10s)
 * rejected calls for 15 s. */
static void a_retry_without_jitter_takes_no_factor_but_one(void **state) {
    (void)state;
    fg_expressions x = def_of(0);
    x.retry = "Cooldown(10s)";
    fg_policy *p = compile(x);
    side a, v;
    side_open(&a, p, 1000.0, 11);
    drive(&a, ST_OPEN);
    side_open(&v, p, 500.0, 12);
    size_t n, m;
    unsigned char *s = take_snapshot(a.b, &n);
    unsigned char *before = take_snapshot(v.b, &m);
    assert_true(fg_snapshot_load(s + FG_SNAP_OFF_RETRY_FACTOR, 8) == 0x3FF0000000000000u); /* 1.0 */
    double bad[3] = {1.5, 0.5, nextafter(1.0, 2.0)};
    for (int i = 0; i < 3; i++) {
        edit e = edit_copy(s, n);
        edit_put_f64(&e, FG_SNAP_OFF_RETRY_FACTOR, bad[i]);
        assert_refused(&v, &e, before, m, "for a jitter ratio of 0");
    }
    assert_int_equal(restore(v.b, s, n, NULL, 0), 0);
    free(s);
    free(before);
    fg_breaker_free(a.b);
    fg_breaker_free(v.b);
    fg_policy_free(p);
}

static void hostile_windows_are_refused(void **state) {
    (void)state;
    /* exact entries: NaN, -2, infinity */
    fg_policy *p;
    side a, v;
    make_pair(1, ST_CLOSED_FULL, &a, &v, &p);
    size_t n, m;
    unsigned char *s = take_snapshot(a.b, &n);
    unsigned char *before = take_snapshot(v.b, &m);
    size_t w = window_at(s);
    assert_int_equal(fg_snapshot_load(s + w, 4), 5);
    double bad[3] = {NAN, -2.0, INFINITY};
    for (int i = 0; i < 3; i++) {
        edit e = edit_copy(s, n);
        edit_put_f64(&e, w + 4 + 8 * 2, bad[i]);
        assert_refused(&v, &e, before, m, "impossible duration");
    }
    free(s);
    free(before);
    fg_breaker_free(a.b);
    fg_breaker_free(v.b);
    fg_policy_free(p);

    /* TimeWindow buckets: out of range, repeated, counts that cannot be */
    make_pair(2, ST_CLOSED_FULL, &a, &v, &p);
    s = take_snapshot(a.b, &n);
    before = take_snapshot(v.b, &m);
    w = window_at(s);
    uint32_t buckets = (uint32_t)fg_snapshot_load(s + w, 4);
    assert_true(buckets >= 2);
    size_t b0 = w + 4, stride = 8 + 4 + 4 + 4 + 24; /* one threshold */
    edit e = edit_copy(s, n);
    fg_snapshot_store(e.data + b0, 8, (uint64_t)-10); /* 10 s old in a TimeWindow(10) */
    assert_refused(&v, &e, before, m, "not within");
    e = edit_copy(s, n);
    fg_snapshot_store(e.data + b0, 8, 1); /* in the future */
    assert_refused(&v, &e, before, m, "not within");
    e = edit_copy(s, n);
    memcpy(e.data + b0 + stride, e.data + b0, 8); /* two buckets for one second */
    assert_refused(&v, &e, before, m, "not after");
    e = edit_copy(s, n);
    fg_snapshot_store(e.data + b0 + 8, 4, 0); /* no calls */
    assert_refused(&v, &e, before, m, "failures of 0 calls");
    e = edit_copy(s, n);
    fg_snapshot_store(e.data + b0 + 12, 4, 1000); /* more failures than calls */
    assert_refused(&v, &e, before, m, "1000 failures");
    e = edit_copy(s, n);
    fg_snapshot_store(e.data + b0 + 16, 4, 1000); /* more slow calls than successes */
    assert_refused(&v, &e, before, m, "slow calls");
    e = edit_copy(s, n);
    fg_snapshot_store(e.data + b0 + 20 + 16, 8, UINT64_MAX); /* an impossible duration sum */
    assert_refused(&v, &e, before, m, "duration sum");
    e = edit_copy(s, n);
    fg_snapshot_store(e.data + w, 4, 11);
    assert_refused(&v, &e, before, m, "more than its size 10");
    e = edit_copy(s, n);
    fg_snapshot_store(e.data + w, 4, 9); /* more buckets than there are bytes */
    assert_refused(&v, &e, before, m, "cut short");
    free(s);
    free(before);
    fg_breaker_free(a.b);
    fg_breaker_free(v.b);
    fg_policy_free(p);
}

/* ---- transition counters ---------------------------------------------------------- */

/* The state machine's own transitions count in 64 bits; a manual command's
 * (from, to) pair in 32 bits that stop at UINT32_MAX (a counter never
 * decreases). Counts near the limits are set through a snapshot. */
static void manual_transition_counters_saturate_automatic_ones_do_not(void **state) {
    (void)state;
    fg_policy *p = compile(def_of(0));
    side a;
    side_open(&a, p, 10.0, 1);
    fg_breaker_force_open(a.b);
    fg_breaker_reset(a.b); /* closed -> forced_open, forced_open -> closed */
    size_t n;
    unsigned char *s = take_snapshot(a.b, &n);
    edit e = edit_copy(s, n);
    const uint64_t big = UINT64_C(1) << 40, near = UINT32_MAX - 1;
    /* pairs 5 (forced_open -> closed), 18 (closed -> forced_open), 24 (closed -> open) */
    fg_snapshot_store(e.data + FG_SNAP_OFF_TRANSITIONS + 8 * 5, 8, near);
    fg_snapshot_store(e.data + FG_SNAP_OFF_TRANSITIONS + 8 * 18, 8, big); /* saturates on restore */
    fg_snapshot_store(e.data + FG_SNAP_OFF_TRANSITIONS + 8 * 24, 8, big);
    fg_snapshot_store(e.data + FG_SNAP_OFF_SEQUENCE, 8, near + 2 * big);
    edit_seal(&e);
    char err[300] = "";
    if (restore(a.b, e.data, e.len, err, sizeof err) != 0) fail_msg("%s", err);
    fg_info i;
    fg_breaker_info(a.b, &i);
    assert_int_equal(i.counters.transitions[FG_STATE_FORCED_OPEN][FG_STATE_CLOSED], near);
    assert_int_equal(i.counters.transitions[FG_STATE_CLOSED][FG_STATE_FORCED_OPEN], UINT32_MAX);
    assert_true(i.counters.transitions[FG_STATE_CLOSED][FG_STATE_OPEN] == big);
    for (int k = 0; k < 2; k++) {
        fg_breaker_force_open(a.b);
        fg_breaker_reset(a.b);
    }
    for (int k = 0; k < 3; k++) side_call(&a, 1, 0, NULL); /* FailureStreak(3): opens */
    fg_breaker_info(a.b, &i);
    assert_int_equal(i.counters.transitions[FG_STATE_FORCED_OPEN][FG_STATE_CLOSED], UINT32_MAX);
    assert_int_equal(i.counters.transitions[FG_STATE_CLOSED][FG_STATE_FORCED_OPEN], UINT32_MAX);
    assert_true(i.counters.transitions[FG_STATE_CLOSED][FG_STATE_OPEN] == big + 1);
    assert_true(i.transitions == near + 2 * big + 5); /* the sequence is exact */
    /* and such a breaker's snapshot restores */
    free(s);
    s = take_snapshot(a.b, &n);
    assert_int_equal(restore(a.b, s, n, NULL, 0), 0);
    free(s);
    free(e.data);
    fg_breaker_free(a.b);
    fg_policy_free(p);
}

/* ---- the PRNG's field ------------------------------------------------------------------ */

static uint64_t random_word(const unsigned char *s, int i) {
    return fg_snapshot_load(s + FG_SNAP_OFF_RANDOM + 8 * i, 8);
}

/* The generator's state is one word, written as (state, tag, 0, 0) in the
 * four words the format has always had: it round-trips exactly (a tagged
 * state of 0 too), and a snapshot of the older 256-bit generator restores
 * to its deterministic fold (fg_random_fold), all zero still refused. */
static void the_prng_state_round_trips_and_old_states_fold(void **state) {
    (void)state;
    fg_policy *p = compile(def_of(0));
    side a, b, c;
    side_open(&a, p, 1000.0, 7);
    drive(&a, ST_CLOSED_FULL);
    size_t n;
    unsigned char *s = take_snapshot(a.b, &n);
    assert_true(random_word(s, 1) == FG_SNAPSHOT_RANDOM_TAG);
    assert_true(random_word(s, 2) == 0 && random_word(s, 3) == 0);

    /* the same state: both open with the same jitter factor drawn */
    side_open(&b, p, 5000.0, 99);
    assert_int_equal(restore(b.b, s, n, NULL, 0), 0);
    for (int i = 0; i < 3; i++) {
        side_call(&a, 1, 0, NULL);
        side_call(&b, 1, 0, NULL);
    }
    assert_int_equal(fg_breaker_state(b.b), FG_STATE_OPEN);
    size_t na, nb;
    unsigned char *sa = take_snapshot(a.b, &na), *sb = take_snapshot(b.b, &nb);
    assert_memory_equal(sa + FG_SNAP_OFF_RETRY_FACTOR, sb + FG_SNAP_OFF_RETRY_FACTOR, 8 + 32);
    assert_true(fg_snapshot_load(sa + FG_SNAP_OFF_RETRY_FACTOR, 8) != 0x3FF0000000000000u); /* drawn, not 1 */
    assert_true(random_word(sa, 0) != random_word(s, 0)); /* and the draw moved the state */
    free(sa);
    free(sb);

    /* an older snapshot: four words, folded the same way every time */
    static const uint64_t old[4] = {UINT64_C(0x0123456789abcdef), UINT64_C(0xfedcba9876543210), 0, 1};
    edit e = edit_copy(s, n);
    for (int i = 0; i < 4; i++) fg_snapshot_store(e.data + FG_SNAP_OFF_RANDOM + 8 * i, 8, old[i]);
    edit_seal(&e);
    side_open(&c, p, 5000.0, 5);
    assert_int_equal(restore(b.b, e.data, e.len, NULL, 0), 0);
    assert_int_equal(restore(c.b, e.data, e.len, NULL, 0), 0);
    sb = take_snapshot(b.b, &nb);
    unsigned char *sc = take_snapshot(c.b, &na);
    assert_true(random_word(sb, 0) == fg_random_fold(old));
    assert_true(random_word(sc, 0) == fg_random_fold(old));
    assert_true(random_word(sb, 1) == FG_SNAPSHOT_RANDOM_TAG);
    free(sb);
    free(sc);
    /* a 256-bit state whose last words are not the tag's pattern folds too */
    fg_snapshot_store(e.data + FG_SNAP_OFF_RANDOM + 8, 8, FG_SNAPSHOT_RANDOM_TAG);
    fg_snapshot_store(e.data + FG_SNAP_OFF_RANDOM + 24, 8, 2);
    edit_seal(&e);
    assert_int_equal(restore(c.b, e.data, e.len, NULL, 0), 0);
    sc = take_snapshot(c.b, &na);
    uint64_t tagged_but_old[4] = {old[0], FG_SNAPSHOT_RANDOM_TAG, 0, 2};
    assert_true(random_word(sc, 0) == fg_random_fold(tagged_but_old));
    free(sc);
    /* a one-word state of 0 is a state like any other */
    fg_snapshot_store(e.data + FG_SNAP_OFF_RANDOM, 8, 0);
    fg_snapshot_store(e.data + FG_SNAP_OFF_RANDOM + 24, 8, 0);
    edit_seal(&e);
    assert_int_equal(restore(c.b, e.data, e.len, NULL, 0), 0);
    sc = take_snapshot(c.b, &na);
    assert_true(random_word(sc, 0) == 0 && random_word(sc, 1) == FG_SNAPSHOT_RANDOM_TAG);
    free(sc);
    free(e.data);
    free(s);
    fg_breaker_free(a.b);
    fg_breaker_free(b.b);
    fg_breaker_free(c.b);
    fg_policy_free(p);
}

/* ---- the format, pinned ------------------------------------------------------------- */

/* A fixed history on a scripted clock and seed: the bytes may only change
 * with a new format version (and a deliberate update of this constant).
 * Updated once within version 1, when the PRNG became SplitMix64: the same
 * layout, but the field at 80 is (state, FG_SNAPSHOT_RANDOM_TAG, 0, 0), the
 * retry factor at 72 is another generator's draw, and so the checksum. */
static const char golden_hex[] =
    "4647534e010088019c010000040000003afbcef86562c846020000000001000401000000000000000100000000000000"
    "0100000000000000020000000000000000000000000004c00751a6ab1f7eed3faaea35afdfab0e5c4647534d36340000"
    "000000000000000000000000000000000200000000000000020000000000000001000000000000000000000000000000"
    "050000000000000005000000000000000100000000000000000000000000000000000000000000000000000000000000"
    "000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000"
    "000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000"
    "000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000"
    "000000000000000000000000000000000000000000000000000000000000000001000000000000000000000000000000"
    "0000000000000000736e6170000000000000000056cd41188746722a";

static void the_format_is_pinned_by_golden_bytes(void **state) {
    (void)state;
    fg_expressions e = {0};
    e.window = "CountWindow(4)";
    e.tripper = "MinRequests(3) & SlowRate(60%, threshold = 1s) | FailureStreak(2)";
    e.retry = "Cooldown(30s, jitter_ratio = 0.25)";
    e.max_half_open_calls = "2";
    fg_policy *p = compile(e);
    side a;
    side_open(&a, p, 100.0, 42);
    assert_int_equal(side_call(&a, 0, 0.25, NULL), FG_VERDICT_SUCCESS);
    assert_int_equal(side_call(&a, 0, 1.5, NULL), FG_VERDICT_SUCCESS);
    assert_int_equal(side_call(&a, -1, 0, NULL), FG_VERDICT_IGNORED);
    assert_int_equal(side_call(&a, 1, 0, NULL), FG_VERDICT_FAILURE);
    assert_int_equal(side_call(&a, 1, 0, NULL), FG_VERDICT_FAILURE); /* opens */
    a.clock.now += 2.5;
    assert_int_equal(side_call(&a, 0, 0, NULL), -1);
    size_t n;
    unsigned char *s = take_snapshot(a.b, &n);
    char *hex = malloc(2 * n + 1);
    for (size_t i = 0; i < n; i++) snprintf(hex + 2 * i, 3, "%02x", s[i]);
    if (strcmp(hex, golden_hex) != 0) fail_msg("the snapshot format changed; its bytes now:\n%s", hex);
    free(hex);
    free(s);
    fg_breaker_free(a.b);
    fg_policy_free(p);
}

/* ---- threads --------------------------------------------------------------------------- */

typedef struct race {
    fg_breaker *b;
    atomic_int stop;
} race;

static void *race_worker(void *arg) {
    race *r = arg;
    uint64_t rng = (uint64_t)(uintptr_t)arg;
    while (!atomic_load(&r->stop)) {
        fg_ticket t;
        if (fg_breaker_acquire(r->b, &t)) fg_breaker_record(r->b, &t, lcg(&rng) % 3 == 0, 0.001);
    }
    return NULL;
}

/* Snapshots taken while threads call through the breaker are consistent:
 * each one restores (into another breaker and into the busy one). */
static void snapshots_under_load_always_restore(void **state) {
    (void)state;
    fg_expressions e = {0};
    e.window = "CountWindow(50)";
    e.tripper = "MinRequests(10) & FailureRate(40%)";
    e.retry = "Cooldown(1ms)";
    e.half_open_lease = "1ms";
    fg_policy *p = compile(e);
    race r;
    char err[300];
    r.b = fg_breaker_new(p, 0, NULL, err, sizeof err);
    assert_non_null(r.b);
    fg_breaker *other = fg_breaker_new(p, 0, NULL, err, sizeof err);
    atomic_init(&r.stop, 0);
    pthread_t th[2];
    for (int i = 0; i < 2; i++) assert_int_equal(pthread_create(&th[i], NULL, race_worker, &r), 0);
    unsigned char buf[4096];
    int refused = 0;
    for (int i = 0; i < 2000; i++) {
        size_t n = fg_breaker_snapshot(r.b, buf, sizeof buf);
        assert_true(n <= sizeof buf);
        refused += restore(other, buf, n, err, sizeof err) != 0;
        if (i % 10 == 0) refused += restore(r.b, buf, n, err, sizeof err) != 0;
    }
    atomic_store(&r.stop, 1);
    for (int i = 0; i < 2; i++) pthread_join(th[i], NULL);
    if (refused) fail_msg("%d snapshots were refused, the last: %s", refused, err);
    fg_breaker_free(r.b);
    fg_breaker_free(other);
    fg_policy_free(p);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(the_checksum_is_fnv1a_64),
        cmocka_unit_test(every_state_round_trips_days_later),
        cmocka_unit_test(a_time_window_keeps_whole_second_ages_at_any_phase),
        cmocka_unit_test(a_success_of_infinite_duration_round_trips),
        cmocka_unit_test(a_restored_breaker_behaves_like_the_original),
        cmocka_unit_test(tickets_from_before_a_restore_are_stale),
        cmocka_unit_test(restored_leases_end_when_their_lease_does),
        cmocka_unit_test(snapshot_is_snprintf_style),
        cmocka_unit_test(another_definition_is_refused_naming_both),
        cmocka_unit_test(snapshots_follow_a_reload),
        cmocka_unit_test(every_truncation_and_bit_flip_is_refused),
        cmocka_unit_test(hostile_snapshots_are_refused),
        cmocka_unit_test(a_retry_without_jitter_takes_no_factor_but_one),
        cmocka_unit_test(hostile_windows_are_refused),
        cmocka_unit_test(manual_transition_counters_saturate_automatic_ones_do_not),
        cmocka_unit_test(the_prng_state_round_trips_and_old_states_fold),
        cmocka_unit_test(the_format_is_pinned_by_golden_bytes),
        cmocka_unit_test(snapshots_under_load_always_restore),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
