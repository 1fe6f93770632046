/*
 * test_lock_backoff.c -- the block's spinlock waits by the clock, not by a
 * count of relax instructions (src/fg_lock.c). The lock's source is
 * compiled into this test with FG_LOCK_RELAX_NONE, which makes `pause`
 * (ARM: `yield`) nothing: a CPU where it is nearly free, on which a wait
 * counted in pauses shrinks to nanoseconds and two threads on one breaker
 * hand the lock over on every record (HACKING.md, "Benchmarks"). The
 * library's own fg_lock.o is then not linked: this file defines its
 * functions.
 *
 * Each test that waits on another thread is bounded by alarm().
 */
#define FG_LOCK_RELAX_NONE
#include "fg_lock.c" /* first: it defines _GNU_SOURCE */

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <pthread.h>

static uint64_t now_ns(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static const uint64_t other_tag = ((uint64_t)1 << 32) | 1u; /* pid 1: lives */

/* The fast path's compare-and-swap found the lock held; by the time the
 * slow path runs it is free again. The waiter still leaves it alone for
 * the first wait, on the clock, though its relax instruction costs
 * nothing: taking it at once is what hands it back and forth. */
static void a_waiter_that_found_the_lock_held_waits_the_first_wait_by_the_clock(void **state) {
    (void)state;
    fg_lock l;
    fg_lock_init(&l);
    uint64_t tag = fg_lock_owner_tag();
    for (int i = 0; i < 20; i++) {
        uint64_t t0 = now_ns();
        fg_lock_acquire_slow(&l, tag, other_tag, NULL, NULL);
        uint64_t waited = now_ns() - t0;
        assert_true(waited >= FG_LOCK_FIRST_WAIT_NS);
        assert_true(atomic_load(&l) == tag);
        fg_lock_release(&l);
    }
}

/* A compare-and-swap that failed spuriously (it saw the word free): the
 * waiter tries again at once. Timing is only checked as "at least one of
 * 20 attempts took less than the first wait" (a preempted attempt takes
 * longer; a waiting one never does). */
static void a_spurious_failure_is_retried_without_waiting(void **state) {
    (void)state;
    fg_lock l;
    fg_lock_init(&l);
    uint64_t tag = fg_lock_owner_tag(), fastest = UINT64_MAX;
    for (int i = 0; i < 20; i++) {
        uint64_t t0 = now_ns();
        fg_lock_acquire_slow(&l, tag, 0, NULL, NULL);
        uint64_t took = now_ns() - t0;
        if (took < fastest) fastest = took;
        assert_true(atomic_load(&l) == tag);
        fg_lock_release(&l);
    }
    assert_true(fastest < FG_LOCK_FIRST_WAIT_NS);
}

typedef struct holder {
    fg_lock *l;
    _Atomic int held;
    uint64_t released_at;
} holder;

static void *hold_then_release(void *arg) {
    holder *h = arg;
    fg_lock_acquire(h->l, other_tag);
    atomic_store(&h->held, 1);
    struct timespec ms = {0, 30 * 1000000L};
    nanosleep(&ms, NULL);
    h->released_at = now_ns();
    fg_lock_release(h->l);
    return NULL;
}

/* A holder that keeps the lock for 30 ms (far past the waits and the
 * 20 us before a yield): the waiter backs off, yields, and gets the lock
 * once it is released -- not before. */
static void a_waiter_outlasts_a_long_holder(void **state) {
    (void)state;
    fg_lock l;
    fg_lock_init(&l);
    holder h = {&l, 0, 0};
    pthread_t id;
    alarm(20);
    assert_int_equal(pthread_create(&id, NULL, hold_then_release, &h), 0);
    while (!atomic_load(&h.held)) sched_yield();
    fg_lock_acquire(&l, fg_lock_owner_tag());
    uint64_t got_at = now_ns();
    assert_int_equal(pthread_join(id, NULL), 0);
    alarm(0);
    assert_true(got_at >= h.released_at);
    assert_true(atomic_load(&l) == fg_lock_owner_tag());
    fg_lock_release(&l);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(a_waiter_that_found_the_lock_held_waits_the_first_wait_by_the_clock),
        cmocka_unit_test(a_spurious_failure_is_retried_without_waiting),
        cmocka_unit_test(a_waiter_outlasts_a_long_holder),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
