/*
 * test_family.c -- keyed families (fluxgate.h, "families"): keys made on
 * first use, each with its own state; keys are bytes (NULs included);
 * eviction by max_keys (least recently used first) and by idleness on the
 * family's clock, never of a breaker that is not closed or has calls in
 * flight, lost calls counted as gone after the lease; totals that keep the
 * counts of evicted keys and count keys per state exactly; listeners that
 * learn the key; threads on overlapping keys with exact books (run it under
 * ThreadSanitizer: `make test-c SANITIZE=thread`); out of memory at every
 * allocation.
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

#include "fg_test_support.h"
#include "fluxgate.h"

/* Three failures in a row open a key; 10 s later one probe may pass. */
static const char family_policy[] =
    "breaker players { window = CountWindow(10) tripper = FailureStreak(3)\n"
    "  retry = Cooldown(10s) permit = All() max_half_open_calls = 1 half_open_lease = 5s }\n";

typedef struct fixture {
    fg_test_clock clock;
    fg_policy *policy;
    fg_family *fam;
    char err[256];
} fixture;

static fg_policy *compile(const char *text) {
    return fg_test_policy(text, "family.fgp");
}

static void make_family(fixture *fx, size_t max_keys, double idle, double lease) {
    fx->clock.now = 100.0;
    fx->policy = compile(family_policy);
    fg_family_options o;
    memset(&o, 0, sizeof o);
    o.breaker = fg_test_options(&fx->clock, NULL);
    o.max_keys = max_keys;
    o.idle = idle;
    o.lease = lease;
    fx->fam = fg_family_new(fx->policy, 0, &o, fx->err, sizeof fx->err);
    assert_non_null(fx->fam);
}

static void drop_family(fixture *fx) {
    fg_family_free(fx->fam);
    fg_policy_free(fx->policy);
}

/* One call on key (a C string) with outcome class cls; returns the verdict,
 * or -1 when not admitted. */
static int call(fixture *fx, const char *key, fg_outcome_class cls) {
    fg_family_ticket t;
    int r = fg_family_acquire(fx->fam, key, strlen(key), &t, fx->err, sizeof fx->err);
    if (r != 1) return -1;
    return (int)fg_family_record(fx->fam, &t, cls, 0.01);
}

static void trip(fixture *fx, const char *key) {
    for (int i = 0; i < 3; i++) assert_int_equal(call(fx, key, 1), FG_VERDICT_FAILURE);
    assert_int_equal(fg_family_state(fx->fam, key, strlen(key)), FG_STATE_OPEN);
}

static int has_key(fixture *fx, const char *key) {
    return fg_family_state(fx->fam, key, strlen(key)) >= 0;
}

/* ---- creation and identity ------------------------------------------------ */

static void keys_are_made_on_first_use_with_their_own_state(void **state) {
    (void)state;
    fixture fx;
    make_family(&fx, 0, 0, 0);
    assert_string_equal(fg_family_name(fx.fam), "players");
    assert_int_equal(fg_family_size(fx.fam), 0);
    assert_int_equal(fg_family_state(fx.fam, "a", 1), -1); /* queries make no key */
    trip(&fx, "a");
    assert_int_equal(call(&fx, "b", 0), FG_VERDICT_SUCCESS);
    assert_int_equal(fg_family_state(fx.fam, "b", 1), FG_STATE_CLOSED);
    assert_int_equal(call(&fx, "a", 0), -1); /* a is open, b is not */
    assert_int_equal(fg_family_size(fx.fam), 2);

    fg_info info;
    assert_int_equal(fg_family_info(fx.fam, "a", 1, &info), 0);
    assert_string_equal(info.name, "players");
    assert_int_equal(info.counters.failure, 3);
    assert_int_equal(info.counters.rejected, 1);
    assert_int_equal(fg_family_info(fx.fam, "zz", 2, &info), -1);
    drop_family(&fx);
}

static void keys_are_bytes_and_nul_bytes_count(void **state) {
    (void)state;
    fixture fx;
    make_family(&fx, 0, 0, 0);
    fg_family_ticket t;
    for (int i = 0; i < 3; i++) {
        assert_int_equal(fg_family_acquire(fx.fam, "a\0b", 3, &t, NULL, 0), 1);
        fg_family_record(fx.fam, &t, FG_OUTCOME_FAILURE, 0);
    }
    assert_int_equal(fg_family_get(fx.fam, "a\0c", 3, NULL, 0), 0);
    assert_int_equal(fg_family_get(fx.fam, "a", 1, NULL, 0), 0);
    assert_int_equal(fg_family_get(fx.fam, "", 0, NULL, 0), 0);
    assert_int_equal(fg_family_size(fx.fam), 4);
    assert_int_equal(fg_family_state(fx.fam, "a\0b", 3), FG_STATE_OPEN);
    assert_int_equal(fg_family_state(fx.fam, "a\0c", 3), FG_STATE_CLOSED);
    assert_int_equal(fg_family_state(fx.fam, "a", 1), FG_STATE_CLOSED);
    assert_int_equal(fg_family_state(fx.fam, "", 0), FG_STATE_CLOSED);
    drop_family(&fx);
}

/* fluxgate.h and doc/c-api.md: only a NULL key "with a nonzero length" is
 * the caller's bug, so NULL with length 0 is the empty key on every call
 * that takes a key. (Found by UBSan, SANITIZE=1: the index compared keys
 * with memcmp(..., NULL, 0), undefined behaviour even for 0 bytes.) */
static void a_null_key_of_length_zero_is_the_empty_key(void **state) {
    (void)state;
    fixture fx;
    make_family(&fx, 0, 0, 0);
    assert_int_equal(fg_family_get(fx.fam, NULL, 0, NULL, 0), 0);
    fg_family_ticket t;
    for (int i = 0; i < 3; i++) {
        assert_int_equal(fg_family_acquire(fx.fam, NULL, 0, &t, NULL, 0), 1);
        assert_int_equal(fg_family_record(fx.fam, &t, FG_OUTCOME_FAILURE, 0), FG_VERDICT_FAILURE);
    }
    assert_int_equal(fg_family_size(fx.fam), 1);
    assert_int_equal(fg_family_state(fx.fam, NULL, 0), FG_STATE_OPEN);
    assert_int_equal(fg_family_state(fx.fam, "", 0), FG_STATE_OPEN);
    fg_info info;
    assert_int_equal(fg_family_info(fx.fam, NULL, 0, &info), 0);
    assert_int_equal(info.counters.failure, 3);
    assert_int_equal(fg_family_command(fx.fam, NULL, 0, FG_STATE_CLOSED), 0);
    assert_int_equal(fg_family_state(fx.fam, "", 0), FG_STATE_CLOSED);
    assert_int_equal(fg_family_size(fx.fam), 1);
    drop_family(&fx);
}

typedef struct key_list {
    char keys[8][8];
    size_t lens[8];
    size_t n;
} key_list;

static int collect(void *ud, const char *key, size_t len) {
    key_list *l = ud;
    assert_true(len < 8);
    memcpy(l->keys[l->n], key, len);
    l->lens[l->n++] = len;
    return 0;
}

static void keys_are_listed_most_recently_used_first(void **state) {
    (void)state;
    fixture fx;
    make_family(&fx, 0, 0, 0);
    fg_family_get(fx.fam, "x", 1, NULL, 0);
    fg_family_get(fx.fam, "y", 1, NULL, 0);
    fg_family_get(fx.fam, "z", 1, NULL, 0);
    fg_family_get(fx.fam, "x", 1, NULL, 0);
    key_list l = {0};
    assert_int_equal(fg_family_keys(fx.fam, collect, &l), 3);
    assert_memory_equal(l.keys[0], "x", 1);
    assert_memory_equal(l.keys[1], "z", 1);
    assert_memory_equal(l.keys[2], "y", 1);
    drop_family(&fx);
}

/* ---- eviction -------------------------------------------------------------- */

static void max_keys_evicts_the_least_recently_used_key(void **state) {
    (void)state;
    fixture fx;
    make_family(&fx, 3, 0, 0);
    assert_int_equal(call(&fx, "a", 0), FG_VERDICT_SUCCESS);
    assert_int_equal(call(&fx, "b", 0), FG_VERDICT_SUCCESS);
    assert_int_equal(call(&fx, "c", 0), FG_VERDICT_SUCCESS);
    assert_int_equal(call(&fx, "a", 0), FG_VERDICT_SUCCESS); /* b is now the oldest */
    assert_int_equal(call(&fx, "d", 0), FG_VERDICT_SUCCESS);
    assert_int_equal(fg_family_size(fx.fam), 3);
    assert_false(has_key(&fx, "b"));
    assert_true(has_key(&fx, "a") && has_key(&fx, "c") && has_key(&fx, "d"));
    assert_int_equal(call(&fx, "e", 0), FG_VERDICT_SUCCESS); /* then c */
    assert_false(has_key(&fx, "c"));
    fg_family_totals tot;
    fg_family_totals_get(fx.fam, &tot);
    assert_int_equal(tot.evicted, 2);
    assert_int_equal(tot.created, 5);
    assert_int_equal(tot.keys, 3);
    drop_family(&fx);
}

static void a_family_full_of_open_keys_refuses_new_keys(void **state) {
    (void)state;
    fixture fx;
    make_family(&fx, 2, 0, 0);
    trip(&fx, "a");
    trip(&fx, "b");
    fg_family_ticket t;
    assert_int_equal(fg_family_acquire(fx.fam, "c", 1, &t, fx.err, sizeof fx.err), -1);
    assert_non_null(strstr(fx.err, "fluxgate family is full"));
    assert_int_equal(t.ticket.admitted, 0);
    assert_true(t.ticket.retry_after < 0);
    assert_int_equal(fg_family_record(fx.fam, &t, FG_OUTCOME_SUCCESS, 0), FG_VERDICT_UNRECORDED);
    assert_int_equal(fg_family_get(fx.fam, "c", 1, fx.err, sizeof fx.err), -1);
    assert_int_equal(fg_family_size(fx.fam), 2);
    /* a reset key may go again */
    assert_int_equal(fg_family_command(fx.fam, "a", 1, FG_STATE_CLOSED), 0);
    assert_int_equal(fg_family_get(fx.fam, "c", 1, fx.err, sizeof fx.err), 0);
    assert_false(has_key(&fx, "a"));
    assert_true(has_key(&fx, "b"));
    drop_family(&fx);
}

static void keys_that_are_not_closed_are_never_evicted(void **state) {
    (void)state;
    fixture fx;
    make_family(&fx, 3, 0, 0);
    fg_family_get(fx.fam, "dis", 3, NULL, 0);
    fg_family_command(fx.fam, "dis", 3, FG_STATE_DISABLED);
    fg_family_get(fx.fam, "met", 3, NULL, 0);
    fg_family_command(fx.fam, "met", 3, FG_STATE_METRICS_ONLY);
    trip(&fx, "hal");
    fx.clock.now += 10.0;
    fg_family_ticket probe;
    assert_int_equal(fg_family_acquire(fx.fam, "hal", 3, &probe, NULL, 0), 1);
    assert_int_equal(fg_family_state(fx.fam, "hal", 3), FG_STATE_HALF_OPEN);
    assert_int_equal(fg_family_get(fx.fam, "new", 3, fx.err, sizeof fx.err), -1);
    assert_int_equal(fg_family_command(fx.fam, "dis", 3, FG_STATE_FORCED_OPEN), 0);
    assert_int_equal(fg_family_get(fx.fam, "new", 3, fx.err, sizeof fx.err), -1);
    assert_int_equal(fg_family_record(fx.fam, &probe, FG_OUTCOME_SUCCESS, 0.01),
                     FG_VERDICT_SUCCESS);
    assert_int_equal(fg_family_state(fx.fam, "hal", 3), FG_STATE_CLOSED);
    assert_int_equal(fg_family_get(fx.fam, "new", 3, fx.err, sizeof fx.err), 0);
    assert_false(has_key(&fx, "hal"));
    drop_family(&fx);
}

static void a_key_with_a_call_in_flight_is_not_evicted(void **state) {
    (void)state;
    fixture fx;
    make_family(&fx, 1, 0, 0);
    fg_family_ticket t;
    assert_int_equal(fg_family_acquire(fx.fam, "a", 1, &t, NULL, 0), 1);
    assert_int_equal(fg_family_get(fx.fam, "b", 1, fx.err, sizeof fx.err), -1);
    assert_int_equal(fg_family_record(fx.fam, &t, FG_OUTCOME_SUCCESS, 0.01), FG_VERDICT_SUCCESS);
    assert_int_equal(fg_family_get(fx.fam, "b", 1, fx.err, sizeof fx.err), 0);
    assert_false(has_key(&fx, "a"));
    drop_family(&fx);
}

static void a_lost_call_stops_pinning_its_key_after_the_lease(void **state) {
    (void)state;
    fixture fx;
    make_family(&fx, 1, 0, 30.0);
    fg_family_ticket lost;
    assert_int_equal(fg_family_acquire(fx.fam, "a", 1, &lost, NULL, 0), 1);
    fx.clock.now += 29.0;
    assert_int_equal(fg_family_get(fx.fam, "b", 1, fx.err, sizeof fx.err), -1);
    fx.clock.now += 1.0;
    assert_int_equal(fg_family_get(fx.fam, "b", 1, fx.err, sizeof fx.err), 0);
    assert_false(has_key(&fx, "a"));
    /* the late outcome is safe, and counted */
    assert_int_equal(fg_family_record(fx.fam, &lost, FG_OUTCOME_FAILURE, 0.0), FG_VERDICT_FAILURE);
    fg_family_totals tot;
    fg_family_totals_get(fx.fam, &tot);
    assert_int_equal(tot.counters.failure, 1);
    assert_int_equal(tot.counters.admitted, 1);
    assert_int_equal(tot.states[FG_STATE_CLOSED], 1);
    assert_int_equal(fg_family_evict_idle(fx.fam), 0); /* settles the zombie */
    drop_family(&fx);
}

static void idle_keys_are_evicted_by_the_family_clock(void **state) {
    (void)state;
    fixture fx;
    make_family(&fx, 0, 10.0, 0);
    fg_family_get(fx.fam, "a", 1, NULL, 0);
    fx.clock.now += 5.0;
    fg_family_get(fx.fam, "b", 1, NULL, 0);
    fx.clock.now += 5.0; /* a: idle for 10 s, b for 5 */
    fg_family_get(fx.fam, "c", 1, NULL, 0);
    assert_false(has_key(&fx, "a"));
    assert_true(has_key(&fx, "b"));
    fx.clock.now += 9.0;
    assert_int_equal(fg_family_evict_idle(fx.fam), 1); /* b; c is 9 s idle */
    assert_int_equal(fg_family_size(fx.fam), 1);
    fx.clock.now += 1.0;
    assert_int_equal(fg_family_evict_idle(fx.fam), 1);
    assert_int_equal(fg_family_size(fx.fam), 0);
    drop_family(&fx);
}

static void idle_open_keys_stay(void **state) {
    (void)state;
    fixture fx;
    make_family(&fx, 0, 10.0, 0);
    trip(&fx, "open");
    fg_family_get(fx.fam, "closed", 6, NULL, 0);
    fx.clock.now += 60.0;
    assert_int_equal(fg_family_evict_idle(fx.fam), 1);
    assert_true(has_key(&fx, "open"));
    assert_false(has_key(&fx, "closed"));
    drop_family(&fx);
}

/* The keys in fg_family_keys order, as one string of one-letter keys. */
static void key_order(fixture *fx, char *out) {
    key_list l = {0};
    size_t n = fg_family_keys(fx->fam, collect, &l);
    for (size_t i = 0; i < n; i++) out[i] = l.keys[i][0];
    out[n] = '\0';
}

/* The lazy idle sweep of every acquire/get/state looks at the oldest keys;
 * one it may not evict (open, or the key being looked up) stays where its
 * last use put it: it is not "used" by being looked at. It used to be moved
 * to the newest end, so fg_family_keys listed it first and max_keys then
 * evicted a key used after it. */
static void the_idle_sweep_leaves_the_recency_order_alone(void **state) {
    (void)state;
    fixture fx;
    char order[8];
    make_family(&fx, 3, 10.0, 0);
    trip(&fx, "a"); /* at 100: open */
    fx.clock.now = 101.0;
    fg_family_get(fx.fam, "b", 1, NULL, 0);
    fx.clock.now = 102.0;
    fg_family_get(fx.fam, "c", 1, NULL, 0);
    fx.clock.now = 110.5; /* a idle (and open), b and c not yet */
    fg_family_get(fx.fam, "c", 1, NULL, 0);
    key_order(&fx, order);
    assert_string_equal(order, "cba");
    fg_family_command(fx.fam, "a", 1, FG_STATE_CLOSED); /* closed again, still unused since 100 */
    key_order(&fx, order);
    assert_string_equal(order, "cba");
    fx.clock.now = 110.6; /* max_keys: the least recently used goes, a (not b) */
    fg_family_get(fx.fam, "d", 1, NULL, 0);
    key_order(&fx, order);
    assert_string_equal(order, "dcb");
    /* looking a key up is no use either: an idle key being looked at stays put */
    fx.clock.now = 111.5; /* b idle */
    assert_int_equal(fg_family_state(fx.fam, "b", 1), FG_STATE_CLOSED);
    key_order(&fx, order);
    assert_string_equal(order, "dcb");
    drop_family(&fx);

    /* and the sweep still gets past idle keys it may not evict: with a and
     * b open at the old end, the idle closed key behind them goes */
    make_family(&fx, 0, 10.0, 0);
    trip(&fx, "a");
    trip(&fx, "b");
    fx.clock.now = 101.0;
    fg_family_get(fx.fam, "c", 1, NULL, 0);
    fx.clock.now = 112.0;
    fg_family_get(fx.fam, "x", 1, NULL, 0); /* looks at a and b */
    fg_family_get(fx.fam, "x", 1, NULL, 0); /* then at c */
    key_order(&fx, order);
    assert_string_equal(order, "xba");
    drop_family(&fx);
}

/* ---- totals ------------------------------------------------------------------- */

static void totals_keep_the_counts_of_evicted_keys_and_count_states_exactly(void **state) {
    (void)state;
    fixture fx;
    make_family(&fx, 2, 0, 0);
    assert_int_equal(call(&fx, "a", 0), FG_VERDICT_SUCCESS);
    assert_int_equal(call(&fx, "a", -1), FG_VERDICT_IGNORED);
    trip(&fx, "b");
    assert_int_equal(call(&fx, "b", 0), -1);
    assert_int_equal(call(&fx, "c", 1), FG_VERDICT_FAILURE); /* evicts a */
    assert_false(has_key(&fx, "a"));
    fg_family_totals tot;
    fg_family_totals_get(fx.fam, &tot);
    assert_int_equal(tot.counters.success, 1);
    assert_int_equal(tot.counters.ignored, 1);
    assert_int_equal(tot.counters.failure, 4);
    assert_int_equal(tot.counters.rejected, 1);
    assert_int_equal(tot.counters.admitted, 6);
    assert_int_equal(tot.counters.transitions[FG_STATE_CLOSED][FG_STATE_OPEN], 1);
    assert_int_equal(tot.states[FG_STATE_CLOSED], 1);
    assert_int_equal(tot.states[FG_STATE_OPEN], 1);
    assert_int_equal(tot.keys, 2);

    fx.clock.now += 10.0; /* b: open -> half_open -> closed, then it may go */
    assert_int_equal(call(&fx, "b", 0), FG_VERDICT_SUCCESS);
    fg_family_totals_get(fx.fam, &tot);
    assert_int_equal(tot.states[FG_STATE_CLOSED], 2);
    assert_int_equal(tot.states[FG_STATE_OPEN], 0);
    assert_int_equal(tot.counters.transitions[FG_STATE_OPEN][FG_STATE_HALF_OPEN], 1);
    assert_int_equal(tot.counters.transitions[FG_STATE_HALF_OPEN][FG_STATE_CLOSED], 1);
    assert_int_equal(call(&fx, "d", 0), FG_VERDICT_SUCCESS); /* evicts c */
    assert_int_equal(call(&fx, "e", 0), FG_VERDICT_SUCCESS); /* evicts b */
    fg_family_totals_get(fx.fam, &tot);
    assert_int_equal(tot.states[FG_STATE_CLOSED], 2);
    assert_int_equal(tot.counters.success, 4);
    assert_int_equal(tot.counters.failure, 4);
    assert_int_equal(tot.counters.transitions[FG_STATE_CLOSED][FG_STATE_OPEN], 1);
    assert_int_equal(tot.evicted, 3);
    drop_family(&fx);
}

/* ---- listeners ------------------------------------------------------------------ */

typedef struct heard {
    int count;
    char key[8];
    size_t key_len;
    char breaker[16];
    fg_state to;
    uint64_t sequence;
} heard;

static void hear(void *ud, const fg_transition *t) {
    heard *h = ud;
    h->count++;
    assert_non_null(t->key);
    assert_true(t->key_len < sizeof h->key);
    memcpy(h->key, t->key, t->key_len);
    h->key_len = t->key_len;
    snprintf(h->breaker, sizeof h->breaker, "%s", t->breaker);
    h->to = t->new_state;
    h->sequence = t->sequence;
}

static void listeners_learn_the_key(void **state) {
    (void)state;
    fixture fx;
    make_family(&fx, 0, 0, 0);
    heard h = {0};
    assert_int_equal(fg_family_add_listener(fx.fam, hear, &h), 0);
    fg_family_ticket t;
    for (int i = 0; i < 3; i++) {
        assert_int_equal(fg_family_acquire(fx.fam, "p\0q", 3, &t, NULL, 0), 1);
        fg_family_record(fx.fam, &t, FG_OUTCOME_FAILURE, 0);
    }
    assert_int_equal(h.count, 1);
    assert_int_equal(h.key_len, 3);
    assert_memory_equal(h.key, "p\0q", 3);
    assert_string_equal(h.breaker, "players");
    assert_int_equal(h.to, FG_STATE_OPEN);
    assert_int_equal(h.sequence, 1);
    assert_int_equal(fg_family_command(fx.fam, "p\0q", 3, FG_STATE_CLOSED), 0);
    assert_int_equal(h.count, 2);
    assert_int_equal(h.sequence, 2);
    drop_family(&fx);
}

/* A listener that keeps its thread delivering: on each transition of key
 * k<i> it makes key k<i+1> (max_keys 2: the least recently used unpinned
 * key is evicted) and resets it, a transition its own thread's outer
 * delivery loop hears next. So one thread stays the dispatcher for the
 * whole chain, as one does under steady transitions from other threads. */
typedef struct chain {
    fg_family *fam;
    fg_test_alloc *alloc;
    int step, steps;
    long most_blocks;      /* live blocks, most seen during the chain */
    int wrong_keys;        /* transitions whose key did not read k<step> */
} chain;

static void chain_key(char *out, int i) {
    snprintf(out, 16, "k%03d", i % 1000);
}

static void chain_on(void *ud, const fg_transition *t) {
    chain *c = ud;
    char key[16];
    chain_key(key, c->step);
    /* the key of the transition being delivered is still readable */
    if (t->key_len != 4 || memcmp(t->key, key, 4) != 0) c->wrong_keys++;
    if (c->alloc->live_blocks > c->most_blocks) c->most_blocks = c->alloc->live_blocks;
    if (++c->step > c->steps) return;
    chain_key(key, c->step);
    assert_int_equal(fg_family_get(c->fam, key, 4, NULL, 0), 0);
    assert_int_equal(fg_family_command(c->fam, key, 4, FG_STATE_CLOSED), 0);
}

/* An evicted key's entry waits until no queued transition can name it;
 * that must not mean until the dispatcher stops (it need not ever, while
 * transitions keep coming): the entries of a long chain are freed as
 * delivery passes them, so memory stays bounded. The chain held every
 * evicted entry until it ended (100 steps: over 100 live blocks). */
static void evicted_keys_are_freed_while_one_thread_keeps_delivering(void **state) {
    (void)state;
    fg_test_alloc a = {0};
    fg_test_clock clock = {.now = 100.0};
    fg_policy *p = compile(family_policy);
    fg_family_options o;
    memset(&o, 0, sizeof o);
    o.breaker = fg_test_options(&clock, NULL);
    o.breaker.alloc = fg_test_allocator(&a);
    o.max_keys = 2;
    chain c = {.alloc = &a, .steps = 100};
    c.fam = fg_family_new(p, 0, &o, NULL, 0);
    assert_non_null(c.fam);
    assert_int_equal(fg_family_add_listener(c.fam, chain_on, &c), 0);
    char key[16];
    chain_key(key, 0);
    assert_int_equal(fg_family_get(c.fam, key, 4, NULL, 0), 0);
    long before = a.live_blocks;
    assert_int_equal(fg_family_command(c.fam, key, 4, FG_STATE_CLOSED), 0);
    assert_int_equal(c.step, c.steps + 1);
    assert_int_equal(c.wrong_keys, 0);
    assert_int_equal(fg_family_size(c.fam), 2);
    /* two keys and at most a couple of buried entries beyond what the
     * family had with one key */
    assert_true(c.most_blocks <= before + 3);
    fg_family_free(c.fam);
    fg_policy_free(p);
    fg_test_assert_nothing_live(&a);
}

typedef struct plain_heard {
    int count;
    const char *key;
    size_t key_len;
} plain_heard;

static void hear_plain(void *ud, const fg_transition *t) {
    plain_heard *h = ud;
    h->count++;
    h->key = t->key;
    h->key_len = t->key_len;
}

static void plain_breakers_signal_no_key(void **state) {
    (void)state;
    fg_policy *p = compile(family_policy);
    fg_breaker *b = fg_breaker_new(p, 0, NULL, NULL, 0);
    assert_non_null(b);
    plain_heard h = {0, "not yet", 99};
    assert_int_equal(fg_breaker_add_listener(b, hear_plain, &h), 0);
    fg_breaker_force_open(b);
    assert_int_equal(h.count, 1);
    assert_null(h.key);
    assert_int_equal(h.key_len, 0);
    fg_breaker_free(b);
    fg_policy_free(p);
}

/* The admissions of 40 half-open calls (Random(0.5) permit) of key in a
 * family seeded with seed, as bits. The family is kept (*keep, freed by the
 * caller), so that the next one lives at another address. */
static uint64_t seeded_pattern(uint64_t seed, const char *key, fg_family **keep) {
    fg_policy *p = compile("breaker r { tripper = FailureStreak(1) retry = Cooldown(1s)\n"
                           "  permit = Random(0.5) max_half_open_calls = 100 }\n");
    fg_test_clock clock = {100.0, 0};
    fg_family_options o;
    memset(&o, 0, sizeof o);
    o.breaker = fg_test_options(&clock, NULL);
    o.breaker.has_seed = 1;
    o.breaker.seed = seed;
    fg_family *f = fg_family_new(p, 0, &o, NULL, 0);
    assert_non_null(f);
    fg_family_ticket t;
    assert_int_equal(fg_family_acquire(f, key, strlen(key), &t, NULL, 0), 1);
    fg_family_record(f, &t, FG_OUTCOME_FAILURE, 0);
    clock.now += 1.0;
    uint64_t bits = 0;
    for (int i = 0; i < 40; i++)
        bits = bits << 1 | (uint64_t)(fg_family_acquire(f, key, strlen(key), &t, NULL, 0) == 1);
    *keep = f;
    fg_policy_free(p); /* the family keeps its own reference */
    return bits;
}

static void a_seeded_family_draws_the_same_numbers_for_a_key_in_every_run(void **state) {
    (void)state;
    fg_family *f[4];
    uint64_t alice = seeded_pattern(42, "alice", &f[0]);
    assert_int_equal(seeded_pattern(42, "alice", &f[1]), alice);
    assert_int_not_equal(seeded_pattern(42, "bob", &f[2]), alice);
    assert_int_not_equal(seeded_pattern(43, "alice", &f[3]), alice);
    for (int i = 0; i < 4; i++) fg_family_free(f[i]);
}

/* ---- threads ------------------------------------------------------------------- */

enum { WORKERS = 4, CALLS = 20000, KEYS = 12 };

typedef struct world {
    fg_family *fam;
    _Atomic uint64_t micros;
} world;

typedef struct books {
    world *w;
    uint64_t rng;
    uint64_t admitted, rejected, unmade;
    uint64_t verdicts[FG_VERDICT_UNRECORDED + 1];
} books;

static double world_clock(void *ud) {
    world *w = ud;
    return (double)atomic_fetch_add(&w->micros, 1000) * 1e-6;
}

static uint32_t next_random(uint64_t *s) {
    *s ^= *s << 13;
    *s ^= *s >> 7;
    *s ^= *s << 17;
    return (uint32_t)(*s >> 11);
}

static void *worker_main(void *arg) {
    books *b = arg;
    for (int i = 0; i < CALLS; i++) {
        uint32_t r = next_random(&b->rng);
        char key[4] = {'k', (char)('a' + r % KEYS), 0, (char)((r >> 4) % 2)};
        fg_family_ticket t;
        int got = fg_family_acquire(b->w->fam, key, sizeof key, &t, NULL, 0);
        if (got < 0) {
            b->unmade++;
            continue;
        }
        if (!got) {
            b->rejected++;
            continue;
        }
        if (t.ticket.state != FG_STATE_DISABLED) b->admitted++;
        fg_outcome_class cls = (r >> 8) % 10 < 3    ? FG_OUTCOME_FAILURE
                               : (r >> 8) % 10 == 3 ? FG_OUTCOME_UNTRACKED
                                                    : FG_OUTCOME_SUCCESS;
        b->verdicts[fg_family_record(b->w->fam, &t, cls, 0.001)]++;
        if ((r >> 16) % 500 == 0) fg_family_command(b->w->fam, key, sizeof key, FG_STATE_CLOSED);
        if ((r >> 16) % 997 == 1) {
            fg_family_totals tot;
            fg_family_totals_get(b->w->fam, &tot);
            fg_family_size(b->w->fam);
        }
    }
    return NULL;
}

static void threads_on_overlapping_keys_keep_exact_books(void **state) {
    (void)state;
    fg_policy *p = compile(family_policy);
    world w;
    atomic_init(&w.micros, 0);
    fg_family_options o;
    memset(&o, 0, sizeof o);
    o.breaker.clock = world_clock;
    o.breaker.clock_ud = &w;
    o.max_keys = KEYS; /* half the keys there are: constant eviction */
    o.idle = 0.5;
    w.fam = fg_family_new(p, 0, &o, NULL, 0);
    assert_non_null(w.fam);
    pthread_t threads[WORKERS];
    books b[WORKERS];
    for (int i = 0; i < WORKERS; i++) {
        memset(&b[i], 0, sizeof b[i]);
        b[i].w = &w;
        b[i].rng = 0x9E3779B97F4A7C15ull * (uint64_t)(i + 1);
        assert_int_equal(pthread_create(&threads[i], NULL, worker_main, &b[i]), 0);
    }
    books sum = {0};
    for (int i = 0; i < WORKERS; i++) {
        pthread_join(threads[i], NULL);
        sum.admitted += b[i].admitted;
        sum.rejected += b[i].rejected;
        sum.unmade += b[i].unmade;
        for (int v = 0; v <= FG_VERDICT_UNRECORDED; v++) sum.verdicts[v] += b[i].verdicts[v];
    }
    fg_family_totals tot;
    fg_family_totals_get(w.fam, &tot);
    assert_int_equal(tot.counters.admitted, sum.admitted);
    assert_int_equal(tot.counters.rejected, sum.rejected);
    assert_int_equal(tot.counters.success,
                     sum.verdicts[FG_VERDICT_SUCCESS] + sum.verdicts[FG_VERDICT_STALE_SUCCESS]);
    assert_int_equal(tot.counters.failure,
                     sum.verdicts[FG_VERDICT_FAILURE] + sum.verdicts[FG_VERDICT_STALE_FAILURE]);
    assert_int_equal(tot.counters.ignored, sum.verdicts[FG_VERDICT_IGNORED]);
    /* every admitted call was recorded once */
    assert_int_equal(tot.counters.admitted, tot.counters.success + tot.counters.failure + tot.counters.ignored);
    assert_true(tot.evicted > 0);
    uint64_t per_state = 0;
    for (int s = 0; s < FG_STATE_COUNT; s++) per_state += tot.states[s];
    assert_int_equal(per_state, tot.keys);
    assert_int_equal(tot.keys, fg_family_size(w.fam));
    assert_true(tot.keys <= KEYS);
    assert_int_equal(tot.created - tot.evicted, tot.keys);
    fg_family_free(w.fam);
    fg_policy_free(p);
}

/* ---- out of memory ---------------------------------------------------------------- */

static void out_of_memory_anywhere_is_a_clean_error(void **state) {
    (void)state;
    fg_policy *p = compile(family_policy);
    int made = 0;
    for (long n = 1; n < 200 && !made; n++) {
        fg_test_alloc a = {0};
        a.fail_at = n;
        fg_family_options o;
        memset(&o, 0, sizeof o);
        o.breaker.alloc = fg_test_allocator(&a);
        o.max_keys = 2;
        char err[128] = "";
        fg_family *f = fg_family_new(p, 0, &o, err, sizeof err);
        if (f == NULL) {
            assert_string_equal(err, "family.fgp: error: breaker 'players': out of memory");
            fg_test_assert_nothing_live(&a);
            continue;
        }
        /* the family exists: keys (and the table's growth) may still fail */
        int fails = 0;
        for (int k = 0; k < 40; k++) {
            char key[8];
            snprintf(key, sizeof key, "k%d", k);
            fg_family_ticket t;
            int r = fg_family_acquire(f, key, strlen(key), &t, err, sizeof err);
            if (r < 0) {
                assert_string_equal(err, "out of memory");
                fails++;
                continue;
            }
            fg_family_record(f, &t, FG_OUTCOME_SUCCESS, 0.0);
        }
        made = a.failures == 0;
        assert_true(fails <= 1);
        assert_true(fg_family_size(f) <= 2);
        fg_family_free(f);
        fg_test_assert_nothing_live(&a);
    }
    assert_true(made);
    fg_policy_free(p);
}

static void unknown_definitions_and_customs_are_errors(void **state) {
    (void)state;
    fg_policy *p = compile(family_policy);
    char err[128];
    assert_null(fg_family_new(p, 1, NULL, err, sizeof err));
    assert_non_null(strstr(err, "no breaker #1"));
    fg_policy_free(p);
    p = compile("breaker c { tracker = Custom(\"x\") }\n");
    assert_null(fg_family_new(p, 0, NULL, err, sizeof err));
    assert_non_null(strstr(err, "Custom(\"x\")"));
    fg_policy_free(p);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(keys_are_made_on_first_use_with_their_own_state),
        cmocka_unit_test(keys_are_bytes_and_nul_bytes_count),
        cmocka_unit_test(a_null_key_of_length_zero_is_the_empty_key),
        cmocka_unit_test(keys_are_listed_most_recently_used_first),
        cmocka_unit_test(max_keys_evicts_the_least_recently_used_key),
        cmocka_unit_test(a_family_full_of_open_keys_refuses_new_keys),
        cmocka_unit_test(keys_that_are_not_closed_are_never_evicted),
        cmocka_unit_test(a_key_with_a_call_in_flight_is_not_evicted),
        cmocka_unit_test(a_lost_call_stops_pinning_its_key_after_the_lease),
        cmocka_unit_test(idle_keys_are_evicted_by_the_family_clock),
        cmocka_unit_test(idle_open_keys_stay),
        cmocka_unit_test(the_idle_sweep_leaves_the_recency_order_alone),
        cmocka_unit_test(totals_keep_the_counts_of_evicted_keys_and_count_states_exactly),
        cmocka_unit_test(listeners_learn_the_key),
        cmocka_unit_test(evicted_keys_are_freed_while_one_thread_keeps_delivering),
        cmocka_unit_test(plain_breakers_signal_no_key),
        cmocka_unit_test(a_seeded_family_draws_the_same_numbers_for_a_key_in_every_run),
        cmocka_unit_test(threads_on_overlapping_keys_keep_exact_books),
        cmocka_unit_test(out_of_memory_anywhere_is_a_clean_error),
        cmocka_unit_test(unknown_definitions_and_customs_are_errors),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
