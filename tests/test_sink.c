/*
 * test_sink.c -- counter sinks (fluxgate.h, "counter sinks"): a sink's
 * totals are exactly what its breakers counted, freed breakers' counts stay,
 * the state counts follow transitions, restores, reloads, fg_breaker_set_sink
 * and frees, families ignore sinks, and under threads (run under
 * ThreadSanitizer: `make test-c SANITIZE=thread`) the totals equal the sum of
 * the breakers' counters once the threads are done. Breakers that count
 * into their sink alone (sink_only) keep no counters in their block, which
 * is that much smaller, and report the sink's totals.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>

#include "fg_snapshot.h"
#include "fg_test_support.h"
#include "fluxgate.h"

static const char two_defs[] =
    "breaker api { window = CountWindow(4) tripper = FailureStreak(3) retry = Cooldown(10s) permit = All() "
    "max_half_open_calls = 1 half_open_lease = 5s }\n"
    "breaker api2 { window = CountWindow(8) tripper = FailureStreak(2) retry = Cooldown(20s) permit = All() }\n";

static fg_policy *compile(const char *text) {
    return fg_test_policy(text, "sink.fgp");
}

static fg_breaker *make_counted(fg_policy *p, size_t index, fg_test_clock *clock, fg_sink *sink,
                               int sink_only) {
    fg_breaker_options o = fg_test_options(clock, NULL);
    o.sink = sink;
    o.sink_only = sink_only;
    char err[256];
    fg_breaker *b = fg_breaker_new(p, index, &o, err, sizeof err);
    if (b == NULL) fprintf(stderr, "%s\n", err);
    assert_non_null(b);
    return b;
}

static fg_breaker *make(fg_policy *p, size_t index, fg_test_clock *clock, fg_sink *sink) {
    return make_counted(p, index, clock, sink, 0);
}

/* One call with outcome class cls; the verdict, or -1 when rejected. */
static int call(fg_breaker *b, fg_outcome_class cls) {
    fg_ticket t;
    if (!fg_breaker_acquire(b, &t)) return -1;
    return (int)fg_breaker_record(b, &t, cls, 0.0);
}

static void assert_counters_equal(const fg_counters *a, const fg_counters *b) {
    assert_int_equal(a->success, b->success);
    assert_int_equal(a->failure, b->failure);
    assert_int_equal(a->ignored, b->ignored);
    assert_int_equal(a->rejected, b->rejected);
    assert_int_equal(a->admitted, b->admitted);
    assert_int_equal(a->stale, b->stale);
    assert_int_equal(a->lease_expired, b->lease_expired);
    for (int i = 0; i < FG_STATE_COUNT; i++)
        for (int j = 0; j < FG_STATE_COUNT; j++) assert_int_equal(a->transitions[i][j], b->transitions[i][j]);
}

static void assert_states(const fg_sink *s, uint64_t closed, uint64_t open, uint64_t half_open,
                          uint64_t forced_open) {
    fg_sink_totals t;
    fg_sink_read(s, &t);
    assert_int_equal(t.states[FG_STATE_CLOSED], closed);
    assert_int_equal(t.states[FG_STATE_OPEN], open);
    assert_int_equal(t.states[FG_STATE_HALF_OPEN], half_open);
    assert_int_equal(t.states[FG_STATE_FORCED_OPEN], forced_open);
    assert_int_equal(t.states[FG_STATE_METRICS_ONLY] + t.states[FG_STATE_DISABLED], 0);
    assert_int_equal(t.breakers, closed + open + half_open + forced_open);
}

/* Every kind of count one breaker makes: calls of each class, a trip,
 * rejections, a probe whose lease runs out, a stale outcome, commands. */
static void exercise(fg_breaker *b, fg_test_clock *clock) {
    assert_int_equal(call(b, 0), FG_VERDICT_SUCCESS);
    assert_int_equal(call(b, -1), FG_VERDICT_IGNORED);
    for (int i = 0; i < 3; i++) assert_int_equal(call(b, 1), FG_VERDICT_FAILURE); /* -> open */
    assert_int_equal(fg_breaker_state(b), FG_STATE_OPEN);
    assert_int_equal(call(b, 0), -1);
    fg_test_clock_advance(clock, 11.0);
    fg_ticket lost; /* the probe: its lease runs out, its outcome is stale */
    assert_int_equal(fg_breaker_acquire(b, &lost), 1);
    assert_int_equal(fg_breaker_state(b), FG_STATE_HALF_OPEN);
    fg_test_clock_advance(clock, 6.0);
    assert_int_equal(call(b, 0), FG_VERDICT_SUCCESS); /* a new probe: -> closed */
    assert_int_equal(fg_breaker_record(b, &lost, FG_OUTCOME_SUCCESS, 0.0),
                     FG_VERDICT_STALE_SUCCESS);
    fg_breaker_force_open(b);
    assert_int_equal(call(b, 0), -1);
    fg_breaker_reset(b);
    fg_breaker_reset(b); /* closed -> closed counts too */
}

static void check_one_breaker(unsigned flags) {
    fg_test_alloc counting = {0};
    fg_allocator alloc = fg_test_allocator(&counting);
    fg_policy *p = compile(two_defs);
    fg_sink *s = fg_sink_new(&alloc, flags);
    assert_non_null(s);
    fg_test_clock clock = {100.0, 0};
    fg_breaker *b = make(p, 0, &clock, s);
    assert_states(s, 1, 0, 0, 0);
    exercise(b, &clock);
    fg_info info;
    fg_breaker_info(b, &info);
    assert_int_equal(info.counters.lease_expired, 1); /* the exercise did reach every counter */
    assert_int_equal(info.counters.stale, 1);
    fg_sink_totals t;
    fg_sink_read(s, &t);
    assert_counters_equal(&t.counters, &info.counters);
    assert_states(s, 1, 0, 0, 0);
    fg_breaker_force_open(b);
    assert_states(s, 0, 0, 0, 1);
    fg_breaker_free(b); /* its counts stay; it is no longer counted in a state */
    fg_sink_totals after;
    fg_sink_read(s, &after);
    assert_int_equal(after.counters.transitions[FG_STATE_CLOSED][FG_STATE_FORCED_OPEN], 2);
    assert_int_equal(after.counters.success, info.counters.success);
    assert_states(s, 0, 0, 0, 0);
    fg_sink_free(s);
    fg_policy_free(p);
    fg_test_assert_nothing_live(&counting);
}

static void a_sink_counts_exactly_what_its_breaker_counts(void **state) {
    (void)state;
    check_one_breaker(0);
}

static void a_single_thread_sink_counts_the_same(void **state) {
    (void)state;
    check_one_breaker(FG_SINK_SINGLE_THREAD);
}

static void counts_of_freed_breakers_stay_and_states_add_up(void **state) {
    (void)state;
    fg_policy *p = compile(two_defs);
    fg_sink *s = fg_sink_new(NULL, 0);
    fg_test_clock clock = {0.0, 0};
    fg_breaker *b[3];
    for (int i = 0; i < 3; i++) b[i] = make(p, 0, &clock, s);
    fg_sink_free(s); /* the breakers keep it */
    fg_sink_retain(s); /* ... and so do we, to read it after they are gone */
    assert_states(s, 3, 0, 0, 0);
    for (int i = 0; i < 3; i++) assert_int_equal(call(b[1], 1), FG_VERDICT_FAILURE);
    fg_breaker_force_open(b[2]);
    assert_int_equal(call(b[0], 0), FG_VERDICT_SUCCESS);
    assert_states(s, 1, 1, 0, 1);
    fg_breaker_free(b[1]);
    assert_states(s, 1, 0, 0, 1);
    fg_sink_totals t;
    fg_sink_read(s, &t);
    assert_int_equal(t.counters.failure, 3);
    assert_int_equal(t.counters.success, 1);
    assert_int_equal(t.counters.admitted, 4);
    assert_int_equal(t.counters.transitions[FG_STATE_CLOSED][FG_STATE_OPEN], 1);
    fg_breaker_free(b[0]);
    fg_breaker_free(b[2]);
    fg_sink_read(s, &t);
    assert_int_equal(t.counters.failure, 3);
    assert_int_equal(t.breakers, 0);
    fg_sink_free(s);
    fg_policy_free(p);
}

static void a_reload_keeps_the_sink_and_set_sink_moves_the_state(void **state) {
    (void)state;
    fg_policy *p = compile(two_defs);
    fg_sink *one = fg_sink_new(NULL, FG_SINK_SINGLE_THREAD);
    fg_sink *two = fg_sink_new(NULL, FG_SINK_SINGLE_THREAD);
    fg_test_clock clock = {0.0, 0};
    fg_breaker *b = make(p, 0, &clock, one);
    assert_int_equal(call(b, 0), FG_VERDICT_SUCCESS);
    char err[256];
    assert_int_equal(fg_breaker_reload(b, p, 1, err, sizeof err), 0);
    /* the new definition's handle counts into the same sink */
    assert_int_equal(call(b, 1), FG_VERDICT_FAILURE);
    assert_int_equal(call(b, 1), FG_VERDICT_FAILURE); /* FailureStreak(2): -> open */
    assert_states(one, 0, 1, 0, 0);
    fg_breaker_set_sink(b, two);
    assert_states(one, 0, 0, 0, 0);
    assert_states(two, 0, 1, 0, 0);
    assert_int_equal(call(b, 0), -1); /* counted in two from now on */
    fg_breaker_reset(b);
    fg_sink_totals t1, t2;
    fg_sink_read(one, &t1);
    fg_sink_read(two, &t2);
    assert_int_equal(t1.counters.success, 1);
    assert_int_equal(t1.counters.failure, 2);
    assert_int_equal(t1.counters.rejected, 0);
    assert_int_equal(t1.counters.transitions[FG_STATE_CLOSED][FG_STATE_OPEN], 1);
    assert_int_equal(t2.counters.failure, 0);
    assert_int_equal(t2.counters.rejected, 1);
    assert_int_equal(t2.counters.transitions[FG_STATE_OPEN][FG_STATE_CLOSED], 1);
    assert_states(two, 1, 0, 0, 0);
    fg_breaker_set_sink(b, NULL); /* detached: counted nowhere */
    assert_states(two, 0, 0, 0, 0);
    assert_int_equal(call(b, 0), FG_VERDICT_SUCCESS);
    fg_sink_read(two, &t2);
    assert_int_equal(t2.counters.success, 0);
    fg_breaker_set_sink(b, one); /* attached in its current state */
    assert_states(one, 1, 0, 0, 0);
    fg_breaker_free(b);
    assert_states(one, 0, 0, 0, 0);
    fg_sink_free(one);
    fg_sink_free(two);
    fg_policy_free(p);
}

static void a_restore_moves_the_state_count_and_adds_no_calls(void **state) {
    (void)state;
    fg_policy *p = compile(two_defs);
    fg_sink *s = fg_sink_new(NULL, 0);
    fg_test_clock clock = {0.0, 0};
    fg_breaker *a = make(p, 0, &clock, NULL);
    for (int i = 0; i < 3; i++) assert_int_equal(call(a, 1), FG_VERDICT_FAILURE); /* open */
    unsigned char snap[4096];
    size_t n = fg_breaker_snapshot(a, snap, sizeof snap);
    assert_true(n <= sizeof snap);
    fg_breaker *b = make(p, 0, &clock, s);
    assert_states(s, 1, 0, 0, 0);
    char err[256];
    assert_int_equal(fg_breaker_restore(b, snap, n, err, sizeof err), 0);
    assert_states(s, 0, 1, 0, 0);
    fg_sink_totals t;
    fg_sink_read(s, &t);
    assert_int_equal(t.counters.failure, 0);
    assert_int_equal(t.counters.admitted, 0);
    fg_breaker_free(b);
    fg_breaker_free(a);
    assert_states(s, 0, 0, 0, 0);
    fg_sink_free(s);
    fg_policy_free(p);
}

/* ---- breakers that count into their sink alone ---------------------------- */

/* The block keeps no counters: exactly sizeof(counters) = 184 bytes less,
 * and a CountWindow(10) breaker without duration rules fits 256 bytes. */
static void a_sink_only_block_is_184_bytes_smaller(void **state) {
    (void)state;
    fg_policy *p = compile(two_defs);
    fg_policy *small = compile("breaker small { window = CountWindow(10) tripper = FailureStreak(3) }\n");
    fg_breaker_options o;
    fg_breaker_options_init(&o);
    for (size_t i = 0; i < 2; i++) {
        assert_int_equal(fg_breaker_footprint_with(p, i, NULL), fg_breaker_footprint(p, i));
        assert_int_equal(fg_breaker_footprint_with(p, i, &o), fg_breaker_footprint(p, i));
    }
    o.sink_only = 1;
    for (size_t i = 0; i < 2; i++)
        assert_int_equal(fg_breaker_footprint_with(p, i, &o) + 184, fg_breaker_footprint(p, i));
    assert_true(fg_breaker_footprint_with(small, 0, &o) <= 256);
    assert_int_equal(fg_breaker_footprint_with(p, 7, &o), 0); /* no such definition */
    fg_policy_free(small);
    fg_policy_free(p);
}

/* Every count goes to the sink, once; info reports the sink's totals, the
 * same for every breaker of the sink, counted or not. */
static void a_sink_only_breaker_counts_into_its_sink_and_reports_it(void **state) {
    (void)state;
    fg_test_alloc counting = {0};
    fg_allocator alloc = fg_test_allocator(&counting);
    fg_policy *p = compile(two_defs);
    fg_sink *s = fg_sink_new(&alloc, 0);
    fg_test_clock clock = {100.0, 0};
    fg_breaker *lean = make_counted(p, 0, &clock, s, 1);
    fg_breaker *counted = make(p, 0, &clock, s);
    exercise(lean, &clock);
    fg_info li, ci;
    fg_breaker_info(lean, &li);
    fg_breaker_info(counted, &ci);
    fg_sink_totals t;
    fg_sink_read(s, &t);
    assert_counters_equal(&li.counters, &t.counters);
    assert_int_equal(li.counters.lease_expired, 1); /* every kind of count reached the sink */
    assert_int_equal(li.counters.stale, 1);
    assert_int_equal(li.counters.rejected, 2);
    assert_int_equal(li.counters.transitions[FG_STATE_CLOSED][FG_STATE_CLOSED], 1);
    assert_int_equal(ci.counters.success + ci.counters.admitted, 0); /* its own: nothing yet */
    assert_int_equal(call(counted, 0), FG_VERDICT_SUCCESS);
    fg_breaker_info(lean, &li);
    assert_int_equal(li.counters.success, t.counters.success + 1); /* the sink's: both breakers' */
    assert_states(s, 2, 0, 0, 0);
    fg_breaker_free(lean); /* its counts stay in the sink */
    fg_breaker_free(counted);
    fg_sink_read(s, &t);
    assert_int_equal(t.counters.success, li.counters.success);
    assert_states(s, 0, 0, 0, 0);
    fg_sink_free(s);
    fg_policy_free(p);
    fg_test_assert_nothing_live(&counting);
}

/* A reload keeps the block counter-free (and sized so: placement memory of
 * fg_breaker_footprint_with); a snapshot of it carries no counters, and a
 * restore into it restores the state, adding none to the sink. */
static void a_sink_only_breaker_reloads_snapshots_and_restores_without_counters(void **state) {
    (void)state;
    fg_policy *p = compile(two_defs);
    fg_sink *s = fg_sink_new(NULL, 0);
    fg_test_clock clock = {0.0, 0};
    fg_breaker_options o = fg_test_options(&clock, NULL);
    o.sink = s;
    o.sink_only = 1;
    size_t small = fg_breaker_footprint_with(p, 0, &o), bigger = fg_breaker_footprint_with(p, 1, &o);
    char err[256];
    static _Alignas(8) unsigned char block[2][1024];
    assert_true(bigger <= sizeof block[1]);
    assert_null(fg_breaker_place(p, 0, &o, NULL, block[0], small - 8, 0, err, sizeof err));
    assert_non_null(strstr(err, "fg_breaker_footprint_with"));
    fg_breaker *b = fg_breaker_place(p, 0, &o, NULL, block[0], small, 0, err, sizeof err);
    assert_non_null(b);
    for (int i = 0; i < 3; i++) assert_int_equal(call(b, 1), FG_VERDICT_FAILURE); /* open */
    fg_reload_options ro = {block[1], bigger, NULL, NULL};
    assert_int_equal(fg_breaker_reload_with(b, p, 1, &ro, err, sizeof err), 0);
    assert_int_equal(fg_breaker_state(b), FG_STATE_OPEN);
    assert_int_equal(call(b, 0), -1);
    fg_info info;
    fg_breaker_info(b, &info);
    assert_int_equal(info.counters.failure, 3);
    assert_int_equal(info.counters.rejected, 1);
    /* its snapshot restores into a counted breaker of the definition with no counts */
    unsigned char snap[4096];
    size_t n = fg_breaker_snapshot(b, snap, sizeof snap);
    assert_true(n > 0 && n <= sizeof snap);
    fg_breaker *plain = make(p, 1, &clock, NULL);
    assert_int_equal(call(plain, 0), FG_VERDICT_SUCCESS);
    assert_int_equal(fg_breaker_restore(plain, snap, n, err, sizeof err), 0);
    assert_int_equal(fg_breaker_state(plain), FG_STATE_OPEN);
    fg_breaker_info(plain, &info); /* its own counters: unchanged by a snapshot without any */
    assert_int_equal(info.counters.success, 1);
    assert_int_equal(info.counters.admitted, 1);
    assert_int_equal(info.counters.failure + info.counters.rejected, 0);
    /* a snapshot claiming no counters yet counting is refused */
    unsigned char forged[4096];
    memcpy(forged, snap, n);
    forged[112] = 1; /* success = 1 (the checksum is redone below) */
    fg_snapshot_reseal(forged, n);
    assert_int_equal(fg_breaker_restore(plain, forged, n, err, sizeof err), -1);
    assert_non_null(strstr(err, "no counters, yet counts"));
    /* and a counted breaker's snapshot restores into it: state yes, counts no */
    fg_breaker_reset(plain);
    assert_int_equal(call(plain, 0), FG_VERDICT_SUCCESS);
    n = fg_breaker_snapshot(plain, snap, sizeof snap);
    assert_int_equal(fg_breaker_restore(b, snap, n, err, sizeof err), 0);
    assert_int_equal(fg_breaker_state(b), FG_STATE_CLOSED);
    fg_breaker_info(b, &info);
    assert_int_equal(info.counters.success, 0);
    assert_int_equal(info.counters.failure, 3);
    fg_breaker_free(plain);
    fg_breaker_free(b);
    fg_sink_free(s);
    fg_policy_free(p);
}

/* A counted block and a sink-only breaker do not mix: attaching says so. */
static void attaching_a_block_of_the_other_kind_is_an_error(void **state) {
    (void)state;
    fg_policy *p = compile(two_defs);
    fg_sink *s = fg_sink_new(NULL, 0);
    fg_breaker_options lean, counted;
    fg_breaker_options_init(&lean);
    fg_breaker_options_init(&counted);
    lean.sink = s;
    lean.sink_only = 1;
    static _Alignas(8) unsigned char block[1024];
    char err[256];
    fg_breaker *a = fg_breaker_place(p, 0, &counted, NULL, block, sizeof block, 0, err, sizeof err);
    assert_non_null(a);
    assert_null(fg_breaker_place(p, 0, &lean, NULL, block, sizeof block, 1, err, sizeof err));
    assert_non_null(strstr(err, "keeps counters of its own"));
    fg_breaker_free(a);
    a = fg_breaker_place(p, 0, &lean, NULL, block, sizeof block, 0, err, sizeof err);
    assert_non_null(a);
    assert_null(fg_breaker_place(p, 0, &counted, NULL, block, sizeof block, 1, err, sizeof err));
    assert_non_null(strstr(err, "keeps no counters of its own"));
    fg_breaker_free(a);
    fg_sink_free(s);
    fg_policy_free(p);
}

static void families_ignore_a_sink(void **state) {
    (void)state;
    fg_policy *p = compile(two_defs);
    fg_sink *s = fg_sink_new(NULL, 0);
    fg_family_options o;
    memset(&o, 0, sizeof o);
    o.breaker.sink = s;
    char err[256];
    fg_family *f = fg_family_new(p, 0, &o, err, sizeof err);
    assert_non_null(f);
    fg_family_ticket t;
    assert_int_equal(fg_family_acquire(f, "k", 1, &t, err, sizeof err), 1);
    fg_family_record(f, &t, FG_OUTCOME_SUCCESS, 0.0);
    fg_sink_totals st;
    fg_sink_read(s, &st);
    assert_int_equal(st.breakers, 0);
    assert_int_equal(st.counters.admitted + st.counters.success, 0);
    fg_family_free(f);
    fg_sink_free(s);
    fg_policy_free(p);
}

static void a_sink_that_cannot_be_allocated_is_null(void **state) {
    (void)state;
    fg_test_alloc counting = {0};
    counting.fail_at = 1;
    fg_allocator alloc = fg_test_allocator(&counting);
    assert_null(fg_sink_new(&alloc, 0));
    fg_test_assert_nothing_live(&counting);
    fg_sink_free(NULL);
}

/* ---- threads ------------------------------------------------------------------- */

enum { WORKERS = 4, OWN = 3, CALLS = 20000 };

typedef struct rig {
    fg_breaker *shared;              /* every worker calls it */
    fg_breaker *own[WORKERS][OWN];   /* and its own */
    _Atomic uint64_t micros;
} rig;

typedef struct worker {
    rig *r;
    int id;
    uint64_t rng;
} worker;

static double rig_clock(void *ud) {
    rig *r = ud;
    return (double)atomic_fetch_add(&r->micros, 50) * 1e-6;
}

static void *work(void *ud) {
    worker *w = ud;
    for (int i = 0; i < CALLS; i++) {
        uint32_t r = fg_test_next_random(&w->rng);
        fg_breaker *b = (r & 3) == 0 ? w->r->shared : w->r->own[w->id][(r >> 2) % OWN];
        if ((r >> 8) % 997 == 0) {
            fg_breaker_reset(b);
            continue;
        }
        fg_ticket t;
        if (!fg_breaker_acquire(b, &t)) continue;
        int cls = (int)((r >> 12) % 4) - 1; /* -1 ignored, 0 success, 1 and 2 failure */
        fg_breaker_record(b, &t, cls > 1 ? 1 : cls, -1.0);
    }
    return NULL;
}

static void sink_totals_equal_the_breakers_sums_under_threads(void **state) {
    (void)state;
    fg_policy *p = compile(two_defs);
    fg_sink *s = fg_sink_new(NULL, 0);
    static rig r;
    memset(&r, 0, sizeof r);
    fg_breaker_options o = {0};
    o.clock = rig_clock;
    o.clock_ud = &r;
    o.sink = s;
    r.shared = fg_breaker_new(p, 0, &o, NULL, 0);
    assert_non_null(r.shared);
    for (int i = 0; i < WORKERS; i++)
        for (int j = 0; j < OWN; j++) {
            r.own[i][j] = fg_breaker_new(p, (size_t)(j & 1), &o, NULL, 0);
            assert_non_null(r.own[i][j]);
        }
    pthread_t th[WORKERS];
    worker w[WORKERS];
    for (int i = 0; i < WORKERS; i++) {
        w[i] = (worker){&r, i, UINT64_C(0x9E3779B97F4A7C15) * (uint64_t)(i + 1)};
        assert_int_equal(pthread_create(&th[i], NULL, work, &w[i]), 0);
    }
    for (int i = 0; i < WORKERS; i++) pthread_join(th[i], NULL);

    fg_counters sum;
    memset(&sum, 0, sizeof sum);
    uint64_t states[FG_STATE_COUNT] = {0};
    for (int k = 0; k < 1 + WORKERS * OWN; k++) {
        fg_breaker *b = k == 0 ? r.shared : r.own[(k - 1) / OWN][(k - 1) % OWN];
        fg_info info;
        fg_breaker_info(b, &info);
        const fg_counters *c = &info.counters;
        sum.success += c->success;
        sum.failure += c->failure;
        sum.ignored += c->ignored;
        sum.rejected += c->rejected;
        sum.admitted += c->admitted;
        sum.stale += c->stale;
        sum.lease_expired += c->lease_expired;
        for (int i = 0; i < FG_STATE_COUNT; i++)
            for (int j = 0; j < FG_STATE_COUNT; j++) sum.transitions[i][j] += c->transitions[i][j];
        states[info.state]++;
    }
    fg_sink_totals t;
    fg_sink_read(s, &t);
    assert_counters_equal(&t.counters, &sum);
    assert_true(sum.transitions[FG_STATE_CLOSED][FG_STATE_OPEN] > 0); /* the run did trip */
    assert_true(sum.rejected > 0);
    for (int i = 0; i < FG_STATE_COUNT; i++) assert_int_equal(t.states[i], states[i]);
    assert_int_equal(t.breakers, 1 + WORKERS * OWN);
    fg_breaker_free(r.shared);
    for (int i = 0; i < WORKERS; i++)
        for (int j = 0; j < OWN; j++) fg_breaker_free(r.own[i][j]);
    fg_sink_read(s, &t);
    assert_int_equal(t.breakers, 0);
    assert_counters_equal(&t.counters, &sum);
    fg_sink_free(s);
    fg_policy_free(p);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(a_sink_counts_exactly_what_its_breaker_counts),
        cmocka_unit_test(a_single_thread_sink_counts_the_same),
        cmocka_unit_test(counts_of_freed_breakers_stay_and_states_add_up),
        cmocka_unit_test(a_reload_keeps_the_sink_and_set_sink_moves_the_state),
        cmocka_unit_test(a_restore_moves_the_state_count_and_adds_no_calls),
        cmocka_unit_test(a_sink_only_block_is_184_bytes_smaller),
        cmocka_unit_test(a_sink_only_breaker_counts_into_its_sink_and_reports_it),
        cmocka_unit_test(a_sink_only_breaker_reloads_snapshots_and_restores_without_counters),
        cmocka_unit_test(attaching_a_block_of_the_other_kind_is_an_error),
        cmocka_unit_test(families_ignore_a_sink),
        cmocka_unit_test(a_sink_that_cannot_be_allocated_is_null),
        cmocka_unit_test(sink_totals_equal_the_breakers_sums_under_threads),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
