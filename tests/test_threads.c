/*
 * test_threads.c -- one breaker, four threads calling through it, a fifth
 * issuing manual commands and reading info(), all at once. The breaker goes
 * through trips, half-open probes, lease expiries and recoveries; at the end
 * every call must be accounted for exactly, and every transition must have
 * reached the listener exactly once.
 *
 * Time is a shared manual clock that each call advances, so the breaker
 * moves through its cooldowns at full speed and no assertion depends on
 * timing. Run it under ThreadSanitizer: `make test SANITIZE=thread`.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <string.h>

#include "fg_test_support.h"
#include "fluxgate.h"

enum { WORKERS = 4, CALLS_PER_WORKER = 100000, HELD = 3 };

typedef struct world {
    fg_breaker *b;
    _Atomic uint64_t micros;      /* the shared clock */
    atomic_int workers_done;
    atomic_ulong transitions_heard;
    atomic_ulong bad_signals;
    _Atomic uint64_t last_sequence; /* the sequence number heard last */
    atomic_ulong out_of_order;      /* deliveries that did not follow the previous one */
} world;

typedef struct books {
    uint64_t admitted;            /* admitted outside disabled */
    uint64_t admitted_disabled;
    uint64_t rejected;
    uint64_t verdicts[FG_VERDICT_UNRECORDED + 1];
} books;

typedef struct worker {
    world *w;
    uint64_t rng;
    books books;
} worker;

static double shared_clock(void *ud) {
    world *w = ud;
    return (double)atomic_load(&w->micros) * 1e-6;
}

static void hear(void *ud, const fg_transition *t) {
    world *w = ud;
    atomic_fetch_add(&w->transitions_heard, 1);
    /* one listener, one breaker: every transition, in sequence order */
    if (t->sequence != atomic_load(&w->last_sequence) + 1) atomic_fetch_add(&w->out_of_order, 1);
    atomic_store(&w->last_sequence, t->sequence);
    if (t->reason == NULL || t->old_state >= FG_STATE_COUNT || t->new_state >= FG_STATE_COUNT ||
        t->metric.failure_count > t->metric.total_count || t->metric.total_count > 20)
        atomic_fetch_add(&w->bad_signals, 1);
    /* a listener may call back into the breaker */
    fg_info info;
    fg_breaker_info(w->b, &info);
}

static void finish(worker *k, const fg_ticket *t) {
    /* 60% successes, 30% tracked failures, 10% untracked errors */
    uint32_t r = fg_test_next_random(&k->rng) % 10;
    fg_outcome_class outcome_class = r < 6   ? FG_OUTCOME_SUCCESS
                                     : r < 9 ? FG_OUTCOME_FAILURE
                                             : FG_OUTCOME_UNTRACKED;
    fg_verdict v = fg_breaker_record(k->w->b, t, outcome_class, -1);
    k->books.verdicts[v]++;
}

static void *work(void *arg) {
    worker *k = arg;
    fg_ticket held[HELD];
    int holding = 0;
    for (int i = 0; i < CALLS_PER_WORKER; i++) {
        atomic_fetch_add(&k->w->micros, 100);
        fg_ticket t;
        if (!fg_breaker_acquire(k->w->b, &t)) {
            k->books.rejected++;
            continue;
        }
        if (t.state == FG_STATE_DISABLED) k->books.admitted_disabled++;
        else k->books.admitted++;
        /* Keep a few calls in flight so that outcomes cross transitions. */
        if (holding < HELD && fg_test_next_random(&k->rng) % 4 == 0) {
            held[holding++] = t;
            continue;
        }
        finish(k, &t);
        if (holding > 0 && fg_test_next_random(&k->rng) % 2 == 0) finish(k, &held[--holding]);
    }
    while (holding > 0) finish(k, &held[--holding]);
    atomic_fetch_add(&k->w->workers_done, 1);
    return NULL;
}

static void *command(void *arg) {
    world *w = arg;
    unsigned n = 0;
    while (atomic_load(&w->workers_done) < WORKERS) {
        fg_info info;
        fg_breaker_info(w->b, &info);
        /* (no cmocka assertion off the main thread: it would longjmp across threads) */
        if (info.metric.failure_count > info.metric.total_count || info.half_open_in_flight > 2)
            atomic_fetch_add(&w->bad_signals, 1);
        switch (n++ % 64) {
        case 10: fg_breaker_force_open(w->b); break;
        case 12: fg_breaker_reset(w->b); break;
        case 30: fg_breaker_metrics_only(w->b); break;
        case 33: fg_breaker_reset(w->b); break;
        case 50: fg_breaker_disable(w->b); break;
        case 51: fg_breaker_reset(w->b); break;
        default: break;
        }
        sched_yield();
    }
    return NULL;
}

static void four_threads_and_commands_keep_exact_books(void **state) {
    (void)state;
    fg_expressions e = {.window = "CountWindow(20)",
                        .tracker = "All()",
                        .tripper = "FailureStreak(3) | (MinRequests(10) & FailureRate(40%))",
                        .retry = "Cooldown(5ms)",
                        .permit = "Random(0.6)",
                        .max_half_open_calls = "2",
                        .half_open_lease = "2ms"};
    fg_policy *p = fg_policy_from_expressions("threads", &e, NULL, NULL);
    assert_non_null(p);
    static world w; /* shared by the threads; static keeps it off a small stack */
    memset(&w, 0, sizeof w);
    fg_breaker_options o = {0};
    o.clock = shared_clock;
    o.clock_ud = &w;
    o.has_seed = 1;
    o.seed = 7;
    w.b = fg_breaker_new(p, 0, &o, NULL, 0);
    fg_policy_free(p);
    assert_non_null(w.b);
    assert_int_equal(fg_breaker_add_listener(w.b, hear, &w), 0);

    static worker workers[WORKERS];
    pthread_t threads[WORKERS], commander;
    for (int i = 0; i < WORKERS; i++) {
        memset(&workers[i], 0, sizeof workers[i]);
        workers[i].w = &w;
        workers[i].rng = UINT64_C(0x9E3779B97F4A7C15) * (uint64_t)(i + 1);
        assert_int_equal(pthread_create(&threads[i], NULL, work, &workers[i]), 0);
    }
    assert_int_equal(pthread_create(&commander, NULL, command, &w), 0);
    for (int i = 0; i < WORKERS; i++) pthread_join(threads[i], NULL);
    pthread_join(commander, NULL);

    books sum = {0};
    for (int i = 0; i < WORKERS; i++) {
        sum.admitted += workers[i].books.admitted;
        sum.admitted_disabled += workers[i].books.admitted_disabled;
        sum.rejected += workers[i].books.rejected;
        for (int v = 0; v <= FG_VERDICT_UNRECORDED; v++) sum.verdicts[v] += workers[i].books.verdicts[v];
    }
    fg_info info;
    fg_breaker_info(w.b, &info);
    const fg_counters *c = &info.counters;

    /* every call was either admitted or rejected */
    assert_int_equal(sum.admitted + sum.admitted_disabled + sum.rejected, (uint64_t)WORKERS * CALLS_PER_WORKER);
    assert_int_equal(c->admitted, sum.admitted);
    assert_int_equal(c->rejected, sum.rejected);
    /* every admitted call was released once and counted once */
    assert_int_equal(c->success, sum.verdicts[FG_VERDICT_SUCCESS] + sum.verdicts[FG_VERDICT_STALE_SUCCESS]);
    assert_int_equal(c->failure, sum.verdicts[FG_VERDICT_FAILURE] + sum.verdicts[FG_VERDICT_STALE_FAILURE]);
    assert_int_equal(c->ignored, sum.verdicts[FG_VERDICT_IGNORED]);
    assert_int_equal(c->stale, sum.verdicts[FG_VERDICT_STALE_SUCCESS] + sum.verdicts[FG_VERDICT_STALE_FAILURE]);
    assert_int_equal(c->success + c->failure + c->ignored, c->admitted);
    assert_int_equal(sum.verdicts[FG_VERDICT_UNRECORDED], sum.admitted_disabled);
    /* every transition was counted, numbered and heard exactly once */
    uint64_t transitions = 0;
    for (int a = 0; a < FG_STATE_COUNT; a++)
        for (int b = 0; b < FG_STATE_COUNT; b++) transitions += c->transitions[a][b];
    assert_int_equal(transitions, info.generation);
    assert_int_equal(transitions, atomic_load(&w.transitions_heard));
    assert_int_equal(transitions, info.transitions);
    assert_int_equal(atomic_load(&w.out_of_order), 0);
    assert_int_equal(atomic_load(&w.last_sequence), info.transitions);
    assert_int_equal(atomic_load(&w.bad_signals), 0);
    /* and the run really went through the state machine */
    assert_true(c->transitions[FG_STATE_CLOSED][FG_STATE_OPEN] > 0);
    assert_true(c->transitions[FG_STATE_OPEN][FG_STATE_HALF_OPEN] > 0);
    assert_true(c->transitions[FG_STATE_HALF_OPEN][FG_STATE_CLOSED] +
                    c->transitions[FG_STATE_HALF_OPEN][FG_STATE_OPEN] > 0);
    assert_true(sum.rejected > 0);
    fg_breaker_free(w.b);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(four_threads_and_commands_keep_exact_books),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
