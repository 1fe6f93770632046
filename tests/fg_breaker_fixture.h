/*
 * fg_breaker_fixture.h -- the breaker tests' fixture: one breaker "t" made
 * from expressions, on the manual clock and (optionally) scripted draws of
 * fg_test_support.h, with a listener that logs every transition, and short
 * helpers that push calls through the whole protocol.
 *
 * Include after <cmocka.h>. Helpers are static inline so unused ones do not warn.
 */
#ifndef FG_BREAKER_FIXTURE_H
#define FG_BREAKER_FIXTURE_H

#include <stdio.h>
#include <string.h>

#include "fg_test_support.h"
#include "fluxgate.h"

enum { LOG_MAX = 32 };

typedef struct logged_signal {
    fg_state old_state;
    fg_state new_state;
    double timestamp;
    char reason[160];
    fg_metric metric;
} logged_signal;

typedef struct fixture {
    fg_test_clock clock;
    fg_test_random random;
    fg_test_alloc counting;
    fg_policy *policy;
    fg_breaker *b;
    logged_signal log[LOG_MAX];
    int signals;
} fixture;

static inline void record_signal(void *ud, const fg_transition *t) {
    fixture *f = ud;
    assert_true(f->signals < LOG_MAX);
    logged_signal *s = &f->log[f->signals++];
    s->old_state = t->old_state;
    s->new_state = t->new_state;
    s->timestamp = t->timestamp;
    snprintf(s->reason, sizeof s->reason, "%s", t->reason);
    s->metric = t->metric;
}

/* A breaker "t" from expressions, with the fixture's manual clock (at 1000),
 * its counting allocator, and, when draws is not NULL, scripted draws (else
 * its PRNG with a fixed seed). */
static inline fg_breaker *make(fixture *f, fg_expressions e, const double *draws, size_t n) {
    memset(f, 0, sizeof *f);
    f->clock.now = 1000.0;
    f->policy = fg_test_policy_expr("t", e);
    fg_test_random_script(&f->random, draws, n);
    fg_breaker_options o = fg_test_options(&f->clock, draws != NULL ? &f->random : NULL);
    o.alloc = fg_test_allocator(&f->counting);
    /* without scripted draws, a fixed seed: the breaker's own PRNG would be
     * seeded from its address and the clock, and a test drawing through
     * RampUp or jitter would take another path on every run */
    o.has_seed = 1;
    o.seed = 0x5eed;
    char err[200];
    f->b = fg_breaker_new(f->policy, 0, &o, err, sizeof err);
    assert_non_null(f->b);
    fg_policy_free(f->policy); /* the breaker keeps its own reference */
    assert_int_equal(fg_breaker_add_listener(f->b, record_signal, f), 0);
    return f->b;
}

static inline void done(fixture *f) {
    fg_breaker_free(f->b);
    assert_int_equal(f->counting.live_blocks, 0);
}

/* One call through the whole protocol: 1 failure, 0 success (of duration
 * seconds on the manual clock), -1 untracked error. Returns the verdict, or
 * -1 when the call was rejected. */
static inline int call(fixture *f, fg_outcome_class outcome_class, double duration) {
    fg_ticket t;
    if (!fg_breaker_acquire(f->b, &t)) return -1;
    fg_test_clock_advance(&f->clock, duration);
    return (int)fg_breaker_record(f->b, &t, outcome_class, -1);
}

static inline void fail_n(fixture *f, int n) {
    for (int i = 0; i < n; i++) assert_int_not_equal(call(f, 1, 0), -1);
}

static inline void succeed_n(fixture *f, int n) {
    for (int i = 0; i < n; i++) assert_int_not_equal(call(f, 0, 0), -1);
}

static inline fg_info info_of(fixture *f) {
    fg_info i;
    fg_breaker_info(f->b, &i);
    return i;
}

static inline fg_ticket rejection(fixture *f) {
    fg_ticket t;
    assert_false(fg_breaker_acquire(f->b, &t));
    return t;
}


#endif /* FG_BREAKER_FIXTURE_H */
