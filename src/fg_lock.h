/*
 * fg_lock.h -- the breaker's lock: one 64-bit word inside the state block.
 *
 * The block may be shared by threads and by processes (a shared mapping),
 * so the lock cannot be a pthread mutex (its layout is the C library's,
 * and a process-shared one still holds pointers in some implementations).
 * It is a test-and-test-and-set spinlock on a lock-free atomic word, which
 * works wherever the block is mapped:
 *   - uncontended: one compare-and-swap to take it, one release store to
 *     give it back (no syscall);
 *   - contended: the waiter spins reading the word (the line stays shared
 *     in its cache, so it does not steal the line from the holder), with a
 *     `pause` between reads that doubles up to a bound (exponential
 *     backoff: the holder usually takes the lock again from its own cache,
 *     so a burst of records stays on one core instead of the line bouncing
 *     on every call), and after a bounded number of rounds it yields the
 *     CPU (sched_yield), so that a holder that was preempted -- four
 *     threads on two cores -- gets to run.
 * The held word is an owner tag, not just 1: (pid << 32) | 1. A later
 * OpenResty task can find a lock held by a process that was SIGKILLed
 * (kill(pid, 0) fails) and take it back; nothing here does that yet.
 * The critical sections are short and O(1); clocks, Custom() predicates
 * and listeners run outside the lock (the default clocks are read inside
 * it: a vDSO read, no syscall, no user code).
 */
#ifndef FG_LOCK_H
#define FG_LOCK_H

#include <stdatomic.h>
#include <stdint.h>

#if ATOMIC_LLONG_LOCK_FREE != 2
#error "fluxgate needs lock-free 64-bit atomics (the state block is shared memory)"
#endif

typedef _Atomic uint64_t fg_lock;

/* The tag this process writes into a lock it holds. */
uint64_t fg_lock_owner_tag(void);

/* The contended half of fg_lock_acquire: spin, back off, yield. */
void fg_lock_acquire_slow(fg_lock *l, uint64_t tag);

static inline void fg_lock_init(fg_lock *l) {
    atomic_init(l, 0);
}

static inline void fg_lock_acquire(fg_lock *l, uint64_t tag) {
    uint64_t expected = 0;
    if (atomic_compare_exchange_weak_explicit(l, &expected, tag, memory_order_acquire,
                                              memory_order_relaxed))
        return;
    fg_lock_acquire_slow(l, tag);
}

static inline void fg_lock_release(fg_lock *l) {
    atomic_store_explicit(l, 0, memory_order_release);
}

#endif /* FG_LOCK_H */
