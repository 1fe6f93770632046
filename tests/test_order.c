/*
 * test_order.c -- transitions reach listeners in sequence order, each once
 * (SPEC section 5): numbered 1, 2, ... per breaker, also when a listener
 * re-enters the breaker (and causes more transitions than the delivery
 * queue first holds) and when several threads cause transitions at once.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <pthread.h>
#include <stdatomic.h>
#include <string.h>

#include "fg_test_support.h"
#include "fluxgate.h"

enum { SEEN_MAX = 64 };

typedef struct seen {
    fg_breaker *b;
    int count;
    uint64_t sequence[SEEN_MAX];
    fg_state old_state[SEEN_MAX];
    fg_state new_state[SEEN_MAX];
    int commands;  /* re-entrant commands still to issue (the resetting listener) */
} seen;

static void log_transition(seen *s, const fg_transition *t) {
    if (s->count < SEEN_MAX) {
        s->sequence[s->count] = t->sequence;
        s->old_state[s->count] = t->old_state;
        s->new_state[s->count] = t->new_state;
    }
    s->count++;
}

/* Listener 1: on closed -> open, puts the breaker back (re-entering it). */
static void resetting_listener(void *ud, const fg_transition *t) {
    seen *s = ud;
    log_transition(s, t);
    if (t->old_state == FG_STATE_CLOSED && t->new_state == FG_STATE_OPEN) {
        for (; s->commands > 0; s->commands--) {
            if (s->commands % 2) fg_breaker_reset(s->b);
            else fg_breaker_force_open(s->b);
        }
    }
}

static void logging_listener(void *ud, const fg_transition *t) {
    log_transition(ud, t);
}

static fg_breaker *streak_breaker(fg_policy **p) {
    fg_expressions e = {.tripper = "FailureStreak(1)"};
    *p = fg_policy_from_expressions("order", &e, NULL, NULL);
    assert_non_null(*p);
    fg_breaker *b = fg_breaker_new(*p, 0, NULL, NULL, 0);
    assert_non_null(b);
    return b;
}

static void fail_once(fg_breaker *b) {
    fg_ticket t;
    assert_true(fg_breaker_acquire(b, &t));
    fg_breaker_record(b, &t, FG_OUTCOME_FAILURE, 0.0);
}

static void assert_in_order(const seen *s, int expected) {
    assert_int_equal(s->count, expected);
    for (int i = 0; i < s->count && i < SEEN_MAX; i++) assert_int_equal(s->sequence[i], (uint64_t)i + 1);
}

/* A FailureStreak(1) breaker with the resetting listener first (logging into
 * first, issuing `commands` re-entrant commands on closed -> open) and the
 * logging one second, tripped by one failure. */
static fg_breaker *trip_with_reentrant_commands(fg_policy **p, seen *first, seen *second, int commands) {
    fg_breaker *b = streak_breaker(p);
    memset(first, 0, sizeof *first);
    memset(second, 0, sizeof *second);
    first->b = b;
    first->commands = commands;
    assert_int_equal(fg_breaker_add_listener(b, resetting_listener, first), 0);
    assert_int_equal(fg_breaker_add_listener(b, logging_listener, second), 0);
    fail_once(b);
    return b;
}

/* Listener 1 resets on closed -> open; listener 2 must still see
 * closed -> open before open -> closed. */
static void a_reentrant_reset_is_heard_after_the_trip(void **state) {
    (void)state;
    fg_policy *p;
    static seen first, second;
    fg_breaker *b = trip_with_reentrant_commands(&p, &first, &second, 1);
    assert_int_equal(fg_breaker_state(b), FG_STATE_CLOSED);
    for (const seen *s = &first; s != NULL; s = s == &first ? &second : NULL) {
        assert_in_order(s, 2);
        assert_int_equal(s->old_state[0], FG_STATE_CLOSED);
        assert_int_equal(s->new_state[0], FG_STATE_OPEN);
        assert_int_equal(s->old_state[1], FG_STATE_OPEN);
        assert_int_equal(s->new_state[1], FG_STATE_CLOSED);
    }
    fg_info i;
    fg_breaker_info(b, &i);
    assert_int_equal(i.transitions, 2);
    fg_breaker_free(b);
    fg_policy_free(p);
}

/* More re-entrant transitions in one callback than the delivery queue
 * first holds: it grows, and nothing is lost or reordered. */
static void many_reentrant_transitions_are_all_heard_in_order(void **state) {
    (void)state;
    fg_policy *p;
    static seen first, second;
    fg_breaker *b = trip_with_reentrant_commands(&p, &first, &second, 40);
    assert_in_order(&first, 41);
    assert_in_order(&second, 41);
    fg_breaker_free(b);
    fg_policy_free(p);
}

/* The same when the queue cannot grow (out of memory) as the listener
 * re-enters: the transition that found no room is dropped (the one thing
 * the delivery may lose), and every other one -- those queued around it
 * and every later one -- is still heard, in order. The dropped number was
 * a hole the dispatcher waited at for good: nothing after it was heard. */
typedef struct oom_listener {
    fg_breaker *b;
    fg_test_alloc *alloc;
    int calls;
    int reentered;
    uint64_t last;
    int out_of_order;
} oom_listener;

static void hear_and_reset_without_memory(void *ud, const fg_transition *t) {
    oom_listener *l = ud;
    l->calls++;
    if (t->sequence <= l->last) l->out_of_order++;
    l->last = t->sequence;
    if (l->reentered) return;
    l->reentered = 1;
    l->alloc->fail_at = l->alloc->allocations + 1; /* the queue's first growth fails */
    for (int i = 0; i < 12; i++) fg_breaker_reset(l->b); /* the queue holds 8 */
    l->alloc->fail_at = 0;
}

static void a_transition_dropped_for_want_of_memory_loses_only_itself(void **state) {
    (void)state;
    fg_test_alloc a = {0};
    fg_expressions e = {.tripper = "FailureStreak(2)"};
    fg_policy *p = fg_policy_from_expressions("oom", &e, NULL, NULL);
    assert_non_null(p);
    fg_breaker_options o = FG_BREAKER_OPTIONS_INIT;
    o.alloc = fg_test_allocator(&a);
    fg_breaker *b = fg_breaker_new(p, 0, &o, NULL, 0);
    assert_non_null(b);
    oom_listener l = {.b = b, .alloc = &a};
    assert_int_equal(fg_breaker_add_listener(b, hear_and_reset_without_memory, &l), 0);
    fg_breaker_force_open(b); /* 1, then 2..13 from inside the listener */
    assert_int_equal(a.failures, 1);
    assert_int_equal(l.calls, 12); /* one of 13 dropped */
    assert_int_equal(l.last, 13);
    fg_breaker_disable(b);
    fg_breaker_reset(b);
    fg_info info;
    fg_breaker_info(b, &info);
    assert_int_equal(info.transitions, 15);
    assert_int_equal(l.calls, 14);
    assert_int_equal(l.last, 15);
    assert_int_equal(l.out_of_order, 0);
    fg_breaker_free(b);
    fg_policy_free(p);
    fg_test_assert_nothing_live(&a);
}

/* ---- threads ----------------------------------------------------------------- */

enum { ORDER_THREADS = 4, ORDER_ROUNDS = 20000 };

typedef struct checker {
    _Atomic uint64_t last;   /* the sequence number heard last */
    atomic_ulong heard;
    atomic_ulong out_of_order;
} checker;

static void checking_listener(void *ud, const fg_transition *t) {
    checker *c = ud;
    uint64_t last = atomic_load(&c->last);
    if (t->sequence != last + 1) atomic_fetch_add(&c->out_of_order, 1);
    atomic_store(&c->last, t->sequence);
    atomic_fetch_add(&c->heard, 1);
}

typedef struct order_world {
    fg_breaker *b;
    unsigned seed;
} order_world;

static void *order_worker(void *arg) {
    order_world *w = arg;
    uint32_t x = w->seed;
    for (int i = 0; i < ORDER_ROUNDS; i++) {
        x = x * 1664525u + 1013904223u;
        switch ((x >> 24) % 8) {
        case 0: fg_breaker_reset(w->b); break;
        case 1: fg_breaker_force_open(w->b); break;
        case 2: fg_breaker_metrics_only(w->b); break;
        default: {
            fg_ticket t;
            if (fg_breaker_acquire(w->b, &t)) fg_breaker_record(w->b, &t, (x >> 8) % 2, 0.0);
            break;
        }
        }
    }
    return NULL;
}

static void transitions_caused_by_many_threads_are_heard_in_order(void **state) {
    (void)state;
    fg_policy *p;
    fg_breaker *b = streak_breaker(&p);
    static checker c1, c2;
    memset(&c1, 0, sizeof c1);
    memset(&c2, 0, sizeof c2);
    assert_int_equal(fg_breaker_add_listener(b, checking_listener, &c1), 0);
    assert_int_equal(fg_breaker_add_listener(b, checking_listener, &c2), 0);
    order_world worlds[ORDER_THREADS];
    pthread_t id[ORDER_THREADS];
    for (int i = 0; i < ORDER_THREADS; i++) {
        worlds[i].b = b;
        worlds[i].seed = 77u * (unsigned)(i + 1);
        assert_int_equal(pthread_create(&id[i], NULL, order_worker, &worlds[i]), 0);
    }
    for (int i = 0; i < ORDER_THREADS; i++) pthread_join(id[i], NULL);
    fg_info info;
    fg_breaker_info(b, &info);
    assert_true(info.transitions > 1000);
    assert_int_equal(atomic_load(&c1.heard), info.transitions);
    assert_int_equal(atomic_load(&c2.heard), info.transitions);
    assert_int_equal(atomic_load(&c1.out_of_order), 0);
    assert_int_equal(atomic_load(&c2.out_of_order), 0);
    assert_int_equal(atomic_load(&c1.last), info.transitions);
    fg_breaker_free(b);
    fg_policy_free(p);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(a_reentrant_reset_is_heard_after_the_trip),
        cmocka_unit_test(many_reentrant_transitions_are_all_heard_in_order),
        cmocka_unit_test(a_transition_dropped_for_want_of_memory_loses_only_itself),
        cmocka_unit_test(transitions_caused_by_many_threads_are_heard_in_order),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
