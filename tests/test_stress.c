/*
 * test_stress.c -- several threads hammer breakers for a bounded time through
 * trips, recoveries and manual commands; afterwards the books must balance
 * exactly, and no half-open slot may have been lost.
 *
 * What is checked, per breaker, after every thread has joined:
 *   - every admission is accounted for: admitted = recorded + stale + ignored
 *     + unrecorded + lost (tickets deliberately never released);
 *   - the breaker's own counters agree with the verdicts it handed out:
 *     success = SUCCESS + STALE_SUCCESS, failure = FAILURE + STALE_FAILURE,
 *     ignored = IGNORED, stale = STALE_*, rejected = the rejections the
 *     threads saw, admitted = the admissions outside `disabled`, and
 *     admitted = success + failure + ignored + the lost tickets;
 *   - every transition was dispatched to the listener exactly once, the
 *     transition counters add up to it, and the generation moved once per
 *     transition;
 *   - after everything is released and the leases of the lost tickets have
 *     expired, a fresh open -> half_open period admits exactly
 *     max_half_open_calls concurrent probes again (no slot leaked).
 * The threads share a manual clock that every operation advances, so the
 * breakers go through cooldowns and lease expiries at any speed; the time
 * bound (FG_STRESS_SECONDS, default 2 per scenario) only caps the work, no
 * assertion depends on timing. The runtime engineer's tests/test_threads.c
 * covers the small 4-thread cases; this file is the long, many-state run.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "fg_breaker_internal.h"
#include "fg_test_support.h"
#include "fluxgate.h"

enum {
    STRESS_THREADS = 4,
    STRESS_MAX_BREAKERS = 16,
    STRESS_HOLD = 4,              /* tickets a thread keeps in flight at once */
    STRESS_OPS = 2000000,         /* per thread; the time bound usually ends it first */
    STRESS_HALF_OPEN_CALLS = 3,
    STRESS_COMMAND_EVERY = 2500   /* ops between manual commands (thread 0) */
};

static const char stress_policy[] =
    "tracker boom = TypeOf(\"boom\") | Status(500..599)\n"
    "tripper flaky = FailureStreak(4) | (MinRequests(10) & FailureRate(50%))\n"
    "defaults { tracker = boom  tripper = flaky  retry = Cooldown(20ms)  permit = Random(0.7)\n"
    "           max_half_open_calls = 3  half_open_lease = 50ms }\n"
    "breaker counted { window = CountWindow(20) }\n"
    "breaker timed { window = TimeWindow(2) }\n";

typedef struct stress_books {
    uint64_t admitted;
    uint64_t admitted_disabled; /* admissions while disabled count nowhere */
    uint64_t rejected;
    uint64_t lost;
    uint64_t lost_disabled;
    uint64_t verdicts[FG_VERDICT_UNRECORDED + 1];
} stress_books;

typedef struct stress_world {
    fg_breaker *breakers[STRESS_MAX_BREAKERS];
    size_t breaker_count;
    _Atomic uint64_t micros;                       /* the shared manual clock */
    atomic_ulong transitions[STRESS_MAX_BREAKERS]; /* seen by the listeners */
    atomic_ulong bad_transitions;                  /* listener-side invariant failures */
    uint32_t window_sizes[STRESS_MAX_BREAKERS];
    double deadline;                               /* CLOCK_MONOTONIC seconds */
} stress_world;

typedef struct stress_thread {
    stress_world *world;
    int id;
    uint64_t rng;
    stress_books books[STRESS_MAX_BREAKERS];
} stress_thread;

typedef struct stress_listener {
    stress_world *world;
    size_t index;
} stress_listener;

static double stress_clock(void *ud) {
    stress_world *w = ud;
    return (double)atomic_load(&w->micros) * 1e-6;
}

static double wall_seconds(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static void on_transition(void *ud, const fg_transition *t) {
    stress_listener *l = ud;
    stress_world *w = l->world;
    atomic_fetch_add(&w->transitions[l->index], 1);
    if (t->old_state >= FG_STATE_COUNT || t->new_state >= FG_STATE_COUNT || t->reason == NULL ||
        t->metric.failure_count > t->metric.total_count ||
        (w->window_sizes[l->index] != 0 && t->metric.total_count > w->window_sizes[l->index]))
        atomic_fetch_add(&w->bad_transitions, 1);
}

static const fg_outcome stress_outcomes[] = {
    {0, 1, 200, NULL, 0, NULL, 0, NULL},            /* success */
    {1, 0, 0, "boom", 4, "it broke", 8, NULL},      /* tracked error */
    {0, 1, 503, NULL, 0, NULL, 0, NULL},            /* tracked result */
    {1, 0, 0, "meh", 3, "not our problem", 15, NULL} /* untracked error */
};

static const fg_outcome *pick_outcome(uint64_t *rng) {
    uint32_t r = fg_test_next_random(rng) % 100;
    if (r < 55) return &stress_outcomes[0];
    if (r < 85) return &stress_outcomes[1];
    if (r < 93) return &stress_outcomes[2];
    return &stress_outcomes[3];
}

typedef struct stress_held {
    fg_ticket ticket;
    size_t breaker;
} stress_held;

static void stress_release(stress_thread *t, stress_held *h) {
    fg_verdict v = fg_breaker_release(t->world->breakers[h->breaker], &h->ticket, pick_outcome(&t->rng),
                                      (double)(fg_test_next_random(&t->rng) % 50) * 1e-3);
    t->books[h->breaker].verdicts[v]++;
}

/* Thread 0 also runs the manual commands, so every state is visited. */
static void stress_command(stress_thread *t, uint64_t n) {
    stress_world *w = t->world;
    fg_breaker *b = w->breakers[fg_test_next_random(&t->rng) % w->breaker_count];
    switch ((n / STRESS_COMMAND_EVERY) % 6) {
    case 0: fg_breaker_force_open(b); break;
    case 2: fg_breaker_metrics_only(b); break;
    case 4: fg_breaker_disable(b); break;
    default: fg_breaker_reset(b); break;
    }
}

static void *stress_worker(void *arg) {
    stress_thread *t = arg;
    stress_world *w = t->world;
    stress_held held[STRESS_HOLD];
    int nheld = 0;
    for (uint64_t n = 0; n < STRESS_OPS; n++) {
        if ((n & 1023) == 0 && wall_seconds() > w->deadline) break;
        atomic_fetch_add(&w->micros, 100); /* 0.1 ms of breaker time per operation */
        if (t->id == 0 && n % STRESS_COMMAND_EVERY == STRESS_COMMAND_EVERY - 1) stress_command(t, n);
        if (nheld < STRESS_HOLD) {
            size_t bi = fg_test_next_random(&t->rng) % w->breaker_count;
            fg_ticket ticket;
            if (fg_breaker_acquire(w->breakers[bi], &ticket)) {
                int disabled = ticket.state == FG_STATE_DISABLED;
                t->books[bi].admitted++;
                t->books[bi].admitted_disabled += disabled;
                if (fg_test_next_random(&t->rng) % 2000 == 0) {
                    t->books[bi].lost++; /* a request that never comes back */
                    t->books[bi].lost_disabled += disabled;
                } else {
                    held[nheld].ticket = ticket;
                    held[nheld].breaker = bi;
                    nheld++;
                }
            } else {
                t->books[bi].rejected++;
            }
        }
        if (nheld > 0 && (nheld == STRESS_HOLD || fg_test_next_random(&t->rng) % 2 == 0)) {
            int k = (int)(fg_test_next_random(&t->rng) % (uint32_t)nheld);
            stress_release(t, &held[k]);
            held[k] = held[--nheld];
        }
    }
    while (nheld > 0) stress_release(t, &held[--nheld]);
    return NULL;
}

static double stress_seconds(void) {
    const char *s = getenv("FG_STRESS_SECONDS");
    double v = s ? atof(s) : 2.0;
    return v > 0 ? v : 2.0;
}

/* Builds count breakers (alternating the two definitions) with a listener each. */
static fg_policy *stress_setup(stress_world *w, stress_listener *listeners, size_t count) {
    atomic_init(&w->micros, 1000000);
    atomic_init(&w->bad_transitions, 0);
    for (size_t i = 0; i < STRESS_MAX_BREAKERS; i++) atomic_init(&w->transitions[i], 0);
    fg_policy *policy = fg_test_policy_n(stress_policy, sizeof stress_policy - 1, "stress");
    fg_breaker_options opt;
    memset(&opt, 0, sizeof opt);
    opt.clock = stress_clock;
    opt.clock_ud = w;
    opt.has_seed = 1;
    for (size_t i = 0; i < count; i++) {
        char err[200] = "";
        opt.seed = 1000 + i;
        w->breakers[i] = fg_breaker_new(policy, i % 2, &opt, err, sizeof err);
        assert_non_null(w->breakers[i]);
        w->window_sizes[i] = i % 2 == 0 ? 20 : 0; /* a TimeWindow holds any number */
        listeners[i].world = w;
        listeners[i].index = i;
        assert_int_equal(fg_breaker_add_listener(w->breakers[i], on_transition, &listeners[i]), 0);
    }
    w->breaker_count = count;
    return policy;
}

static uint64_t transition_total(const fg_counters *c) {
    uint64_t n = 0;
    for (int i = 0; i < FG_STATE_COUNT; i++)
        for (int j = 0; j < FG_STATE_COUNT; j++) n += c->transitions[i][j];
    return n;
}

static void check_books(stress_world *w, stress_thread *threads, const uint64_t *generation0,
                        const uint64_t *transitions0) {
    assert_int_equal(atomic_load(&w->bad_transitions), 0);
    for (size_t bi = 0; bi < w->breaker_count; bi++) {
        stress_books sum;
        memset(&sum, 0, sizeof sum);
        for (int t = 0; t < STRESS_THREADS; t++) {
            const stress_books *b = &threads[t].books[bi];
            sum.admitted += b->admitted;
            sum.admitted_disabled += b->admitted_disabled;
            sum.rejected += b->rejected;
            sum.lost += b->lost;
            sum.lost_disabled += b->lost_disabled;
            for (int v = 0; v <= FG_VERDICT_UNRECORDED; v++) sum.verdicts[v] += b->verdicts[v];
        }
        uint64_t accounted = sum.lost;
        for (int v = 0; v <= FG_VERDICT_UNRECORDED; v++) accounted += sum.verdicts[v];
        assert_int_equal(sum.admitted, accounted);

        fg_info info;
        fg_breaker_info(w->breakers[bi], &info);
        assert_int_equal(info.counters.rejected, sum.rejected);
        assert_int_equal(info.counters.success,
                         sum.verdicts[FG_VERDICT_SUCCESS] + sum.verdicts[FG_VERDICT_STALE_SUCCESS]);
        assert_int_equal(info.counters.failure,
                         sum.verdicts[FG_VERDICT_FAILURE] + sum.verdicts[FG_VERDICT_STALE_FAILURE]);
        assert_int_equal(info.counters.ignored, sum.verdicts[FG_VERDICT_IGNORED]);
        assert_int_equal(info.counters.stale, sum.verdicts[FG_VERDICT_STALE_SUCCESS] +
                                                  sum.verdicts[FG_VERDICT_STALE_FAILURE]);
        /* The breaker's own books: admitted = recorded + stale + ignored + in flight. */
        assert_int_equal(info.counters.admitted, sum.admitted - sum.admitted_disabled);
        assert_int_equal(info.counters.admitted, info.counters.success + info.counters.failure +
                                                     info.counters.ignored + sum.lost - sum.lost_disabled);

        uint64_t transitions = transition_total(&info.counters) - transitions0[bi];
        assert_int_equal(transitions, atomic_load(&w->transitions[bi]));
        assert_int_equal(info.generation - generation0[bi], transitions);
        /* The run must have exercised the machine, not idled in one state. */
        assert_true(sum.admitted > 0);
        assert_true(transitions > 0);
        assert_true(info.metric.failure_count <= info.metric.total_count);
    }
}

/* Every lost slot's lease has expired: a new half-open period must admit
 * exactly STRESS_HALF_OPEN_CALLS concurrent probes. */
static void check_half_open_capacity(stress_world *w, fg_breaker *b) {
    fg_ticket t;
    fg_breaker_reset(b);
    for (int i = 0; i < 20 && fg_breaker_state(b) != FG_STATE_OPEN; i++) {
        atomic_fetch_add(&w->micros, 1000);
        assert_true(fg_breaker_acquire(b, &t));
        fg_breaker_release(b, &t, &stress_outcomes[1], 0.001);
    }
    assert_int_equal(fg_breaker_state(b), FG_STATE_OPEN);
    atomic_fetch_add(&w->micros, 1000000); /* past the cooldown and every lease */
    fg_ticket probes[STRESS_HALF_OPEN_CALLS];
    int admitted = 0;
    for (int i = 0; i < 500; i++) {
        if (fg_breaker_acquire(b, &t)) {
            assert_true(admitted < STRESS_HALF_OPEN_CALLS); /* never more than the slots */
            probes[admitted++] = t;
        }
    }
    assert_int_equal(admitted, STRESS_HALF_OPEN_CALLS);
    assert_int_equal(fg_breaker_state(b), FG_STATE_HALF_OPEN);
    fg_info info;
    fg_breaker_info(b, &info);
    assert_int_equal(info.half_open_in_flight, STRESS_HALF_OPEN_CALLS);
    for (int i = 0; i < admitted; i++) fg_breaker_release(b, &probes[i], &stress_outcomes[0], 0.001);
}

static void run_scenario(size_t breaker_count) {
    /* Large: on the heap rather than the test's stack. */
    stress_world *w = calloc(1, sizeof *w);
    stress_thread *threads = calloc(STRESS_THREADS, sizeof *threads);
    assert_non_null(w);
    assert_non_null(threads);
    stress_listener listeners[STRESS_MAX_BREAKERS];
    fg_policy *policy = stress_setup(w, listeners, breaker_count);
    uint64_t generation0[STRESS_MAX_BREAKERS], transitions0[STRESS_MAX_BREAKERS];
    for (size_t i = 0; i < breaker_count; i++) {
        fg_info info;
        fg_breaker_info(w->breakers[i], &info);
        generation0[i] = info.generation;
        transitions0[i] = transition_total(&info.counters);
    }

    w->deadline = wall_seconds() + stress_seconds();
    pthread_t tids[STRESS_THREADS];
    for (int i = 0; i < STRESS_THREADS; i++) {
        threads[i].world = w;
        threads[i].id = i;
        threads[i].rng = 0x9E3779B97F4A7C15ULL * (uint64_t)(i + 1);
        assert_int_equal(pthread_create(&tids[i], NULL, stress_worker, &threads[i]), 0);
    }
    for (int i = 0; i < STRESS_THREADS; i++) assert_int_equal(pthread_join(tids[i], NULL), 0);

    check_books(w, threads, generation0, transitions0);
    for (size_t i = 0; i < breaker_count; i++) check_half_open_capacity(w, w->breakers[i]);

    for (size_t i = 0; i < breaker_count; i++) fg_breaker_free(w->breakers[i]);
    fg_policy_free(policy);
    free(threads);
    free(w);
}

static void one_breaker_four_threads_keep_exact_books(void **state) {
    (void)state;
    run_scenario(1);
}

static void many_breakers_four_threads_keep_exact_books(void **state) {
    (void)state;
    run_scenario(STRESS_MAX_BREAKERS);
}

/* ---- exactness under contention: a serialised replay --------------------- */

/* Threads record outcomes into one FailureStreak(n) | CountWindow(n) breaker
 * with retry Never() (it trips once and stays open). Every record gets
 * its number in the order the breaker's lock took it; replaying the same
 * outcomes single-threaded in that order on a fresh breaker must trip at
 * the same record and give every record the same verdict (records after
 * the trip are stale: their tickets are of the old generation). */
enum { REPLAY_THREADS = 4, REPLAY_RECORDS = 4000 };

typedef struct replay_entry {
    uint64_t number;
    fg_outcome_class outcome_class;
    fg_verdict verdict;
} replay_entry;

typedef struct replay_thread {
    fg_breaker *b;
    uint64_t rng;
    replay_entry log[REPLAY_RECORDS];
    int count;
} replay_thread;

static void *replay_worker(void *arg) {
    replay_thread *t = arg;
    for (int i = 0; i < REPLAY_RECORDS; i++) {
        fg_ticket ticket;
        if (!fg_breaker_acquire_at(t->b, 0.0, &ticket)) break; /* open: done */
        fg_outcome_class cls = fg_test_next_random(&t->rng) % 100 < 30 ? FG_OUTCOME_FAILURE
                                                               : FG_OUTCOME_SUCCESS;
        replay_entry *e = &t->log[t->count++];
        e->outcome_class = cls;
        e->verdict = fg_breaker_record_numbered(t->b, &ticket, cls, 0.001, 0.0, &e->number);
    }
    return NULL;
}

static int by_number(const void *a, const void *b) {
    const replay_entry *x = a, *y = b;
    return x->number < y->number ? -1 : x->number > y->number;
}

static const char replay_policy[] =
    "breaker replayed { window = CountWindow(12)  tracker = All()\n"
    "  tripper = FailureStreak(5) | (MinRequests(12) & FailureRate(60%))  retry = Never() }\n";

static void a_concurrent_run_trips_where_its_serialised_replay_does(void **state) {
    (void)state;
    fg_policy *policy = fg_policy_compile(replay_policy, sizeof replay_policy - 1, "replay", NULL, NULL);
    assert_non_null(policy);
    static replay_thread threads[REPLAY_THREADS];
    static replay_entry all[REPLAY_THREADS * REPLAY_RECORDS];
    double deadline = wall_seconds() + stress_seconds() / 2;
    int rounds = 0, tripped = 0;
    do {
        fg_breaker *b = fg_breaker_new(policy, 0, NULL, NULL, 0);
        assert_non_null(b);
        pthread_t id[REPLAY_THREADS];
        for (int i = 0; i < REPLAY_THREADS; i++) {
            threads[i].b = b;
            threads[i].rng = 0x9E3779B97F4A7C15ull * (uint64_t)(rounds * REPLAY_THREADS + i + 1);
            threads[i].count = 0;
            assert_int_equal(pthread_create(&id[i], NULL, replay_worker, &threads[i]), 0);
        }
        size_t n = 0;
        for (int i = 0; i < REPLAY_THREADS; i++) {
            pthread_join(id[i], NULL);
            memcpy(all + n, threads[i].log, (size_t)threads[i].count * sizeof *all);
            n += (size_t)threads[i].count;
        }
        qsort(all, n, sizeof *all, by_number);
        for (size_t k = 0; k < n; k++) assert_int_equal(all[k].number, k + 1); /* one number each */

        fg_breaker *serial = fg_breaker_new(policy, 0, NULL, NULL, 0);
        for (size_t k = 0; k < n; k++) {
            fg_ticket t;
            if (fg_breaker_acquire_at(serial, 0.0, &t)) {
                assert_int_equal(fg_breaker_record_at(serial, &t, all[k].outcome_class, 0.001, 0.0),
                                 all[k].verdict);
            } else {
                assert_true(all[k].verdict == FG_VERDICT_STALE_SUCCESS ||
                            all[k].verdict == FG_VERDICT_STALE_FAILURE);
            }
        }
        assert_int_equal(fg_breaker_state(serial), fg_breaker_state(b));
        fg_info a, c;
        fg_breaker_info(b, &a);
        fg_breaker_info(serial, &c);
        assert_int_equal(a.generation, c.generation);
        assert_int_equal(a.counters.admitted, a.counters.success + a.counters.failure + a.counters.ignored);
        tripped += a.state == FG_STATE_OPEN;
        fg_breaker_free(serial);
        fg_breaker_free(b);
        rounds++;
    } while (wall_seconds() < deadline && rounds < 200);
    assert_true(tripped > 0);
    fg_policy_free(policy);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(one_breaker_four_threads_keep_exact_books),
        cmocka_unit_test(many_breakers_four_threads_keep_exact_books),
        cmocka_unit_test(a_concurrent_run_trips_where_its_serialised_replay_does),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
