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
 *   - contended: a waiter that found the word held leaves it alone for a
 *     while (each read shares its line, and the holder's next write of the
 *     word must fetch it back), then looks again: the waits are measured
 *     on the clock, 6 us first (hundreds of critical sections), then
 *     doubling up to 24 us (exponential backoff: the holder takes the lock
 *     again from its own cache, so a burst of records stays on one core
 *     instead of the lines bouncing on every call -- throughput over
 *     fairness, see fg_lock.c). By the clock, not by a count of `pause`s,
 *     whose length differs tenfold between CPUs. After 20 us of waiting
 *     (checked after each wait) it yields the CPU (sched_yield), so that
 *     a holder that was preempted -- four threads on two cores -- gets to
 *     run, and waits again.
 * The held word is an owner tag, not just 1:
 *   (pid << 32) | (incarnation << 1) | 1
 * where the incarnation is 31 bits of the process's start time (0 when
 * unknown). A waiter that has spun and yielded for a while on a word whose
 * owner is dead -- no such process, a zombie, or the pid now belongs to a
 * process that started at another time -- takes the lock over with a
 * compare-and-swap and runs the caller's repair function before it
 * proceeds (fg_lock_acquire_repair): what the dead owner left half-written
 * is the caller's to mend. The liveness test (fg_lock_owner_dead) is a
 * /proc read or a kill(pid, 0), only on that slow path, and only decides
 * "dead" on evidence: an owner that merely runs slowly is waited for. A
 * held word that is no tag at all (low bit 0, no valid pid: a corrupted
 * zone file) names no owner that could ever let go, and is taken over too.
 * PIDs are per PID namespace: every process that maps a shared block must
 * be in the same one (the shared map checks it when it is opened).
 * A process's tag must follow fork: a handle inherited from a parent would
 * otherwise write the parent's pid. fg_lock_owner is a cell that a shared
 * map keeps in a page the kernel zeroes in a child (MADV_WIPEONFORK): 0
 * means "not known in this process yet", computed once per process.
 * The critical sections are short and O(1); clocks, Custom() predicates
 * and listeners run outside the lock (the default clocks are read inside
 * it: a vDSO read, no syscall, no user code).
 */
#ifndef FG_LOCK_H
#define FG_LOCK_H

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

#if ATOMIC_LLONG_LOCK_FREE != 2
#error "fluxgate needs lock-free 64-bit atomics (the state block is shared memory)"
#endif

typedef _Atomic uint64_t fg_lock;

/* The tag this process writes into a lock it holds (incarnation 0: no
 * /proc read; cheap enough for every breaker made). */
uint64_t fg_lock_owner_tag(void);

/* Called with the lock just taken over from a dead owner, before the caller
 * proceeds: mends what the owner may have left half-written. */
typedef void (*fg_lock_repair_fn)(void *ud);

/* A per-process owner tag that follows fork (see above): the tag lives in
 * a word of a page the kernel zeroes in a child (MADV_WIPEONFORK), so a
 * handle inherited through fork computes its process's tag on its first
 * lock (fg_lock_owner_refresh). The struct itself is private memory, which
 * fork copies. */
typedef struct fg_lock_owner {
    _Atomic uint64_t *cell; /* 0: not computed in this process yet */
    int wipes;              /* 0: the kernel cannot wipe it (before Linux
                             * 4.14): the tag is computed on every lock */
} fg_lock_owner;

/* Maps the page; 0, or -1 when no page could be mapped. */
int fg_lock_owner_map(fg_lock_owner *o);
void fg_lock_owner_unmap(fg_lock_owner *o);

/* Computes this process's full tag (with the incarnation) and keeps it in
 * the cell when the cell is wiped on fork. */
uint64_t fg_lock_owner_refresh(const fg_lock_owner *o);

static inline uint64_t fg_lock_owner_get(const fg_lock_owner *o) {
    uint64_t tag = atomic_load_explicit(o->cell, memory_order_relaxed);
    return tag != 0 ? tag : fg_lock_owner_refresh(o);
}

/* 1 when the owner a held lock word names is certainly dead: no such
 * process, a zombie, or a pid reused by a process with another start time;
 * also when the word is no owner tag at all (corruption: nobody will ever
 * clear it). 0 when it lives, or for 0 (the lock is free). A syscall or a
 * /proc read: only for the slow path and tests. */
int fg_lock_owner_dead(uint64_t word);

/* The contended half of fg_lock_acquire, after a compare-and-swap that
 * found the word `seen` (held; 0 when it failed spuriously): back off
 * (reading the monotonic clock: a vDSO read, no syscall), yield, and take
 * the lock over from a dead owner (then repair(ud), when repair is set). */
void fg_lock_acquire_slow(fg_lock *l, uint64_t tag, uint64_t seen, fg_lock_repair_fn repair,
                          void *ud);

static inline void fg_lock_init(fg_lock *l) {
    atomic_init(l, 0);
}

/* Takes the lock; a lock taken over from a dead owner is repaired first. */
static inline void fg_lock_acquire_repair(fg_lock *l, uint64_t tag, fg_lock_repair_fn repair,
                                          void *ud) {
    uint64_t expected = 0;
    if (atomic_compare_exchange_weak_explicit(l, &expected, tag, memory_order_acquire,
                                              memory_order_relaxed))
        return;
    fg_lock_acquire_slow(l, tag, expected, repair, ud);
}

/* Takes the lock, for data a dead owner cannot leave inconsistent. */
static inline void fg_lock_acquire(fg_lock *l, uint64_t tag) {
    fg_lock_acquire_repair(l, tag, NULL, NULL);
}

static inline void fg_lock_release(fg_lock *l) {
    atomic_store_explicit(l, 0, memory_order_release);
}

#endif /* FG_LOCK_H */
