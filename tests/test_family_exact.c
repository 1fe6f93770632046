/*
 * test_family_exact.c -- a family key behaves exactly like a plain breaker
 * of its definition (SPEC section 10), down to the last bit of every time:
 * both are driven call by call with the same acquires and records at the
 * same times -- times built from many inexact steps (0.01, 0.1, 1/3 s),
 * near 0 and near 1e6, through acquire_at/record_at and through the clock
 * -- and after every call they must agree on the admission, the ticket
 * (retry_after bit for bit), the verdict, the state, info() and the
 * family's totals. Each is also held to SPEC section 5 on its own: a
 * transition's changed_at is the caller's time of the call that made it,
 * an open breaker admits exactly when now - changed_at >= the retry's wait
 * (fluxgate's elapsed, the difference in doubles), a call made exactly retry_after
 * seconds after a rejection is admitted, and RampUp admits exactly when
 * the draw is below i + (f - i) * (elapsed / d) (below f once elapsed >= d).
 *
 * Also when the breaker and the family are made while their clocks read a
 * later time than the first call's (a default clock's reading at creation,
 * then a caller's own times; a family key made by fg_family_get first):
 * a block's time starts at its first reading (fg_clock.h), so it runs on
 * the caller's times rather than on an offset that rounds every time after
 * it. And when the times jump back halfway: both sides rebase alike, and
 * retry_after still round-trips on the offset.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <math.h>
#include <stdio.h>
#include <string.h>

#include "fluxgate.h"

/* ---- one side's callbacks -------------------------------------------------- */

/* A manual clock and a random source that hands out one fixed sequence:
 * both sides draw the same numbers as long as they draw in the same order. */
typedef struct side {
    double now;
    uint64_t rng;
    unsigned draws;
    double last_draw;
} side;

static double side_clock(void *ud) {
    return ((side *)ud)->now;
}

static double side_random(void *ud) {
    side *s = ud;
    s->rng ^= s->rng << 13;
    s->rng ^= s->rng >> 7;
    s->rng ^= s->rng << 17;
    s->draws++;
    s->last_draw = (double)(s->rng >> 11) * 0x1p-53;
    return s->last_draw;
}

/* ---- the definitions ---------------------------------------------------------- */

enum { WAIT_UNKNOWN, WAIT_COOLDOWN, WAIT_BACKOFF };

typedef struct definition {
    fg_expressions x;
    int wait_kind;                 /* what the reference knows of the retry */
    double initial, multiplier, max_duration;
    double ramp_initial, ramp_final, ramp_duration; /* RampUp, or ramp_duration 0 */
} definition;

static const definition definitions[] = {
    {{.window = "CountWindow(5)", .tripper = "FailureStreak(2)", .retry = "Cooldown(0.3)", .permit = "All()"},
     WAIT_COOLDOWN, 0.3, 0, 0, 0, 0, 0},
    {{.window = "CountWindow(5)", .tripper = "FailureStreak(1)", .retry = "Cooldown(1.7)", .permit = "All()",
      .max_half_open_calls = "2"},
     WAIT_COOLDOWN, 1.7, 0, 0, 0, 0, 0},
    {{.window = "CountWindow(8)", .tripper = "MinRequests(3) & FailureRate(50%)", .retry = "Cooldown(5)",
      .permit = "All()"},
     WAIT_COOLDOWN, 5.0, 0, 0, 0, 0, 0},
    {{.window = "CountWindow(4)", .tripper = "FailureStreak(1)", .retry = "Cooldown(60)", .permit = "All()"},
     WAIT_COOLDOWN, 60.0, 0, 0, 0, 0, 0},
    {{.window = "CountWindow(5)", .tripper = "FailureStreak(1)",
      .retry = "Backoff(0.1, multiplier = 3, max_duration = 2.7)", .permit = "All()"},
     WAIT_BACKOFF, 0.1, 3.0, 2.7, 0, 0, 0},
    {{.window = "CountWindow(5)", .tripper = "FailureStreak(2)", .retry = "Cooldown(0.3)",
      .permit = "RampUp(0.1, 0.9, 0.7)", .max_half_open_calls = "3"},
     WAIT_COOLDOWN, 0.3, 0, 0, 0.1, 0.9, 0.7},
    {{.window = "CountWindow(10)",
      .tripper = "MinRequests(4) & (FailureRate(60%) | SlowRate(50%, threshold = 0.05) | AvgLatency(0.07))",
      .retry = "Cooldown(0.3)", .permit = "All()"},
     WAIT_COOLDOWN, 0.3, 0, 0, 0, 0, 0},
    {{.window = "TimeWindow(2)", .tripper = "MinRequests(3) & (FailureRate(50%) | SlowRate(40%, threshold = 0.03))",
      .retry = "Cooldown(1.7)", .permit = "All()", .half_open_lease = "0.9"},
     WAIT_COOLDOWN, 1.7, 0, 0, 0, 0, 0},
    /* jitter: compared side by side only (the factor is drawn) */
    {{.window = "CountWindow(5)", .tripper = "FailureStreak(1)", .retry = "Cooldown(1.7, jitter_ratio = 0.5)",
      .permit = "All()"},
     WAIT_UNKNOWN, 0, 0, 0, 0, 0, 0},
};

/* The retry's wait for an open period after `reopens` reopenings, as a
 * caller computes it from the definition (SPEC section 5, "Retries"). */
static double reference_wait(const definition *d, uint32_t reopens) {
    if (d->wait_kind == WAIT_COOLDOWN) return d->initial;
    double w = d->initial * pow(d->multiplier, (double)reopens);
    return w < d->max_duration ? w : d->max_duration;
}

/* The least time t at which a wait opened at changed_at is over, as fluxgate
 * decides it: t - changed_at >= wait (its elapsed >= actual_duration). The
 * sum changed_at + wait is an ulp or two from it, either way. */
static double reference_deadline(double changed_at, double wait) {
    double t = changed_at + wait;
    while (!(t - changed_at >= wait)) t = nextafter(t, INFINITY);
    while (nextafter(t, -INFINITY) - changed_at >= wait) t = nextafter(t, -INFINITY);
    return t;
}

/* ---- one run: a plain breaker and a family key, side by side ------------------- */

typedef struct run_config {
    double start;    /* the first call's time */
    double made_at;  /* what the clocks read when the breaker and the family are made */
    int key_by_get;  /* 1: the key is made by fg_family_get at made_at, before any call */
    int by_clock;    /* 1: acquire/record read the clocks; 0: acquire_at/record_at */
    int jump_back;   /* 1: halfway, the times go back (both rebase) */
    const double *steps;
    size_t step_count;
} run_config;

typedef struct pair {
    const definition *def;
    const run_config *cfg;
    fg_policy *policy;
    fg_breaker *b;
    fg_family *f;
    side ps, fs;        /* the plain breaker's and the family's callbacks */
    fg_ticket held[2];  /* calls in flight, oldest first */
    fg_family_ticket fheld[2];
    int in_flight;
    fg_info pi;         /* the plain breaker's info after the last call */
    int rebased;        /* times went back: the breaker's time is no longer the caller's */
    char where[160];    /* what failed, for the message */
} pair;

static const char key[] = "k\0ey"; /* NUL inside: the key is bytes */
#define KEY_LEN (sizeof key - 1)

static void fail_at(const pair *p, double now, const char *what) {
    print_error("%s: %s at %.17g (start %.17g, made at %.17g, %s, %s%s)\n", p->where, what, now, p->cfg->start,
                p->cfg->made_at, p->cfg->by_clock ? "clock" : "_at", p->cfg->key_by_get ? "get" : "first use",
                p->rebased ? ", rebased" : "");
    fail();
}

#define CHECK(p, now, cond)                          \
    do {                                             \
        if (!(cond)) fail_at((p), (now), #cond);     \
    } while (0)

/* Both info()s (each reading its clock at now) agree field by field; the
 * family's totals are the key's counters. */
static void compare_info(pair *p, double now) {
    fg_info a, b;
    p->ps.now = p->fs.now = now;
    fg_breaker_info(p->b, &a);
    CHECK(p, now, fg_family_info(p->f, key, KEY_LEN, &b) == 0);
    CHECK(p, now, a.state == b.state);
    CHECK(p, now, a.reopens == b.reopens);
    CHECK(p, now, a.consecutive_failures == b.consecutive_failures);
    CHECK(p, now, a.generation == b.generation);
    CHECK(p, now, a.half_open_in_flight == b.half_open_in_flight);
    CHECK(p, now, a.transitions == b.transitions);
    /* before the first transition changed_at is when each was made (the
     * breaker at made_at, the key at its first use) */
    if (a.transitions > 0) CHECK(p, now, a.changed_at == b.changed_at);
    CHECK(p, now, a.metric.total_count == b.metric.total_count);
    CHECK(p, now, a.metric.failure_count == b.metric.failure_count);
    CHECK(p, now, a.metric.total_duration == b.metric.total_duration);
    CHECK(p, now, a.metric.threshold_count == b.metric.threshold_count);
    for (uint32_t i = 0; i < a.metric.threshold_count && i < FG_MAX_SLOW_THRESHOLDS; i++)
        CHECK(p, now, a.metric.slow_counts[i] == b.metric.slow_counts[i]);
    CHECK(p, now, memcmp(&a.counters, &b.counters, sizeof a.counters) == 0);
    fg_family_totals t;
    fg_family_totals_get(p->f, &t);
    CHECK(p, now, memcmp(&t.counters, &a.counters, sizeof a.counters) == 0);
    CHECK(p, now, p->ps.draws == p->fs.draws);
    /* SPEC section 5: a transition's changed_at is the time of the call that made it */
    if (a.transitions != p->pi.transitions && !p->rebased) CHECK(p, now, a.changed_at == now);
    p->pi = a;
}

/* One acquire on both sides at now. Returns the plain ticket's retry_after
 * when it was rejected from open, else -1. */
static double acquire_both(pair *p, double now) {
    const definition *d = p->def;
    fg_info before = p->pi;
    p->ps.now = p->fs.now = now;
    unsigned draws = p->ps.draws;
    fg_ticket t;
    fg_family_ticket ft;
    int a1 = p->cfg->by_clock ? fg_breaker_acquire(p->b, &t) : fg_breaker_acquire_at(p->b, now, &t);
    int a2 = p->cfg->by_clock ? fg_family_acquire(p->f, key, KEY_LEN, &ft, NULL, 0)
                              : fg_family_acquire_at(p->f, key, KEY_LEN, now, &ft, NULL, 0);
    CHECK(p, now, a1 == a2);
    CHECK(p, now, t.admitted == ft.ticket.admitted);
    CHECK(p, now, t.state == ft.ticket.state);
    CHECK(p, now, t.generation == ft.ticket.generation);
    CHECK(p, now, t.started_at == ft.ticket.started_at);
    CHECK(p, now, t.slot == ft.ticket.slot);
    CHECK(p, now, t.slot_seq == ft.ticket.slot_seq);
    CHECK(p, now, t.retry_after == ft.ticket.retry_after);
    /* The references below are in the caller's times, which are the
     * breaker's until a rebase (then only the two sides are compared,
     * and retry_after's round trip, which holds on any offset). */
    int ref = !p->rebased;
    /* a time the ticket carries is the caller's time */
    if (ref) CHECK(p, now, t.started_at == 0.0 || t.started_at == now);
    /* an open breaker lets a probe through exactly when now - changed_at >= wait */
    if (ref && before.state == FG_STATE_OPEN && d->wait_kind != WAIT_UNKNOWN) {
        double elapsed = now - before.changed_at;
        CHECK(p, now, (elapsed >= reference_wait(d, before.reopens)) == (t.state != FG_STATE_OPEN));
    }
    /* RampUp: a drawn number below the ratio of the elapsed time admits */
    if (ref && d->ramp_duration > 0.0 && p->ps.draws == draws + 1) {
        double since = t.state == before.state ? before.changed_at : now; /* opened by this call */
        double elapsed = now - since;
        double ratio = d->ramp_initial + (d->ramp_final - d->ramp_initial) * (elapsed / d->ramp_duration);
        if (ratio > d->ramp_final || elapsed >= d->ramp_duration) ratio = d->ramp_final; /* fluxgate's */
        CHECK(p, now, a1 == (p->ps.last_draw < ratio));
    }
    if (a1 == 1) {
        p->held[p->in_flight] = t;
        p->fheld[p->in_flight] = ft;
        p->in_flight++;
    }
    compare_info(p, now);
    return a1 == 0 && t.state == FG_STATE_OPEN ? t.retry_after : -1.0;
}

/* Records the oldest call in flight on both sides at now. */
static void record_both(pair *p, double now, fg_outcome_class cls, double duration) {
    p->ps.now = p->fs.now = now;
    fg_verdict v1, v2;
    if (p->cfg->by_clock) {
        v1 = fg_breaker_record(p->b, &p->held[0], cls, duration);
        v2 = fg_family_record(p->f, &p->fheld[0], cls, duration);
    } else {
        v1 = fg_breaker_record_at(p->b, &p->held[0], cls, duration, now);
        v2 = fg_family_record_at(p->f, &p->fheld[0], cls, duration, now);
    }
    CHECK(p, now, v1 == v2);
    p->in_flight--;
    p->held[0] = p->held[1];
    p->fheld[0] = p->fheld[1];
    compare_info(p, now);
}

static uint64_t next(uint64_t *s) {
    *s = *s * 6364136223846793005ull + 1442695040888963407ull;
    return *s >> 33;
}

/* Drives one pair through `calls` operations; adds to *checked each
 * retry_after round trip and each visit of an open period's deadline (so
 * that a run that never opened does not pass quietly). */
static void drive(const definition *d, const run_config *cfg, uint64_t seed, int calls, long *checked) {
    pair *p = test_calloc(1, sizeof *p);
    assert_non_null(p);
    p->def = d;
    p->cfg = cfg;
    snprintf(p->where, sizeof p->where, "%s / %s / %s", d->x.retry, d->x.permit, d->x.tripper);
    p->policy = fg_policy_from_expressions("exact", &d->x, NULL, NULL);
    assert_non_null(p->policy);
    p->ps.rng = p->fs.rng = 0x9E3779B97F4A7C15ull ^ seed;
    p->ps.now = p->fs.now = cfg->made_at;
    fg_breaker_options o;
    fg_breaker_options_init(&o);
    o.clock = side_clock;
    o.random = side_random;
    o.clock_ud = o.random_ud = &p->ps;
    char err[256];
    p->b = fg_breaker_new(p->policy, 0, &o, err, sizeof err);
    assert_non_null(p->b);
    fg_family_options fo;
    memset(&fo, 0, sizeof fo);
    fo.breaker = o;
    fo.breaker.clock_ud = fo.breaker.random_ud = &p->fs;
    p->f = fg_family_new(p->policy, 0, &fo, err, sizeof err);
    assert_non_null(p->f);
    if (cfg->key_by_get) assert_int_equal(fg_family_get(p->f, key, KEY_LEN, err, sizeof err), 0);
    /* no info() here: it would read the clocks at made_at */
    p->pi.state = FG_STATE_CLOSED;

    double now = cfg->start;
    double back_at = -1.0; /* a rejection's time + retry_after, when coming back then */
    for (int i = 0; i < calls; i++) {
        uint64_t r = next(&seed);
        if (p->in_flight == 0 || (p->in_flight < 2 && r % 8 < 5)) {
            double ra = acquire_both(p, now);
            if (now == back_at) {
                /* SPEC section 5: exactly retry_after after the rejection: admitted */
                CHECK(p, now, p->pi.state != FG_STATE_OPEN);
                (*checked)++;
            }
            back_at = -1.0;
            if (ra > 0.0 && r % 3 == 0) back_at = now + ra;
        } else {
            fg_outcome_class cls = (r >> 4) % 100 < 55 ? FG_OUTCOME_FAILURE : FG_OUTCOME_SUCCESS;
            if ((r >> 12) % 7 == 0) cls = FG_OUTCOME_UNTRACKED;
            /* measured (now - started_at) or given, in steps of 0.01 s */
            double duration = (r >> 16) % 2 ? -1.0 : 0.01 * (double)((r >> 20) % 9);
            record_both(p, now, cls, duration);
        }
        /* the next time: back after retry_after, the deadline (or the last
         * double before it) as a caller computes it, or a few more steps */
        if (back_at > now) {
            now = back_at;
        } else if (p->pi.state == FG_STATE_OPEN && d->wait_kind != WAIT_UNKNOWN && !p->rebased &&
                   (r >> 24) % 3 != 0) {
            double deadline = reference_deadline(p->pi.changed_at, reference_wait(d, p->pi.reopens));
            double before = nextafter(deadline, -INFINITY);
            now = (r >> 26) % 2 && before > now ? before : deadline > now ? deadline : now;
            (*checked)++;
        } else {
            int n = 1 + (int)((r >> 28) % 4);
            for (int k = 0; k < n; k++) now += cfg->steps[(r >> (30 + k)) % cfg->step_count];
        }
        if (cfg->jump_back && i == calls / 2) {
            now = now * 0.37 - 0.01; /* a jump back by an inexact amount */
            back_at = -1.0;
            p->rebased = 1;
        }
    }
    /* everything still in flight comes back */
    while (p->in_flight > 0) record_both(p, now, FG_OUTCOME_SUCCESS, -1.0);
    fg_family_free(p->f);
    fg_breaker_free(p->b);
    fg_policy_free(p->policy);
    test_free(p);
}

static const double hundredths[] = {0.01};
static const double tenths[] = {0.1, 0.01};
static const double thirds[] = {1.0 / 3.0, 0.01, 0.1};

static void run_all(int by_clock, long *checked) {
    static const struct {
        const double *steps;
        size_t count;
    } steps[] = {{hundredths, 1}, {tenths, 2}, {thirds, 3}};
    /* starts near 0 and near 1e6; clocks reading the start (or 0) when the
     * breaker is made, or a later time, as a default clock would */
    static const double starts[] = {0.0, 1e6};
    static const double later[] = {0.0, 2311.1575421819998};
    uint64_t seed = 1;
    for (size_t di = 0; di < sizeof definitions / sizeof definitions[0]; di++)
        for (size_t si = 0; si < 2; si++)
            for (size_t li = 0; li < 2; li++)
                for (int get = 0; get < 2; get++)
                    for (size_t ti = 0; ti < 3; ti++)
                        for (int jump = 0; jump < 2; jump++) {
                            run_config cfg = {starts[si] + 0.01, starts[si] + later[li], get, by_clock, jump,
                                              steps[ti].steps, steps[ti].count};
                            drive(&definitions[di], &cfg, seed++, 600, checked);
                        }
}

static void a_family_key_answers_as_a_plain_breaker_through_acquire_at(void **state) {
    (void)state;
    long checked = 0;
    run_all(0, &checked);
    assert_true(checked > 1000);
}

static void a_family_key_answers_as_a_plain_breaker_through_the_clock(void **state) {
    (void)state;
    long checked = 0;
    run_all(1, &checked);
    assert_true(checked > 1000);
}

/* The case seen first: a default clock read when the breaker is made (its
 * time far from the caller's), then only the caller's own times. The first
 * call made when (its time) - changed_at >= 0.3 -- the difference in
 * doubles -- is the probe, for the plain breaker as for the family key, and
 * never a call before it. */
static void a_cooldown_ends_when_elapsed_reaches_d_on_the_callers_times(void **state) {
    (void)state;
    fg_policy *policy = fg_policy_from_expressions("c", &definitions[0].x, NULL, NULL);
    assert_non_null(policy);
    fg_breaker *b = fg_breaker_new(policy, 0, NULL, NULL, 0); /* the monotonic clock */
    fg_family *f = fg_family_new(policy, 0, NULL, NULL, 0);
    assert_non_null(b);
    assert_non_null(f);
    double now = 0.0;
    int probes = 0;
    for (int i = 0; i < 20000; i++) {
        now += 0.01;
        fg_ticket t;
        fg_family_ticket ft;
        int a1 = fg_breaker_acquire_at(b, now, &t);
        int a2 = fg_family_acquire_at(f, key, KEY_LEN, now, &ft, NULL, 0);
        assert_int_equal(a1, a2);
        assert_true(t.retry_after == ft.ticket.retry_after);
        if (a1) {
            fg_verdict v1 = fg_breaker_record_at(b, &t, FG_OUTCOME_FAILURE, -1.0, now);
            assert_int_equal(v1, fg_family_record_at(f, &ft, FG_OUTCOME_FAILURE, -1.0, now));
        }
        if (fg_breaker_state(b) == FG_STATE_OPEN && a1 && t.state == FG_STATE_CLOSED) {
            /* just opened, at now: the cooldown ends when elapsed reaches 0.3 */
            double end = reference_deadline(now, 0.3);
            assert_false(fg_breaker_acquire_at(b, nextafter(end, 0.0), &t));
            assert_false(fg_family_acquire_at(f, key, KEY_LEN, nextafter(end, 0.0), &ft, NULL, 0));
            assert_true(fg_breaker_acquire_at(b, end, &t));
            assert_true(fg_family_acquire_at(f, key, KEY_LEN, end, &ft, NULL, 0));
            assert_int_equal(t.state, FG_STATE_HALF_OPEN);
            fg_breaker_record_at(b, &t, FG_OUTCOME_SUCCESS, -1.0, end);
            fg_family_record_at(f, &ft, FG_OUTCOME_SUCCESS, -1.0, end);
            assert_int_equal(fg_breaker_state(b), FG_STATE_CLOSED);
            assert_int_equal(fg_family_state(f, key, KEY_LEN), FG_STATE_CLOSED);
            now = end;
            probes++;
        }
    }
    assert_true(probes > 100);
    fg_family_free(f);
    fg_breaker_free(b);
    fg_policy_free(policy);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(a_family_key_answers_as_a_plain_breaker_through_acquire_at),
        cmocka_unit_test(a_family_key_answers_as_a_plain_breaker_through_the_clock),
        cmocka_unit_test(a_cooldown_ends_when_elapsed_reaches_d_on_the_callers_times),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
