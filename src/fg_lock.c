/*
 * fg_lock.c -- the contended half of the block's spinlock (see fg_lock.h).
 */
#include "fg_lock.h"

#include <sched.h>
#include <unistd.h>

#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>
#define FG_CPU_RELAX() _mm_pause()
#elif defined(__aarch64__)
#define FG_CPU_RELAX() __asm__ __volatile__("yield")
#else
#define FG_CPU_RELAX() ((void)0)
#endif

/* Pauses between two reads of a held lock: doubling from 1 up to this. */
#define FG_LOCK_MAX_BACKOFF 256u
/* Rounds of spinning (each up to FG_LOCK_MAX_BACKOFF pauses) before each
 * yield: a few microseconds, longer than any critical section that runs. */
#define FG_LOCK_SPIN_ROUNDS 32u

uint64_t fg_lock_owner_tag(void) {
    return ((uint64_t)(uint32_t)getpid() << 32) | 1u;
}

void fg_lock_acquire_slow(fg_lock *l, uint64_t tag) {
    unsigned backoff = 1, rounds = 0;
    for (;;) {
        while (atomic_load_explicit(l, memory_order_relaxed) != 0) {
            for (unsigned i = 0; i < backoff; i++) FG_CPU_RELAX();
            if (backoff < FG_LOCK_MAX_BACKOFF) backoff <<= 1;
            if (++rounds >= FG_LOCK_SPIN_ROUNDS) {
                rounds = 0;
                sched_yield();
            }
        }
        uint64_t expected = 0;
        if (atomic_compare_exchange_weak_explicit(l, &expected, tag, memory_order_acquire,
                                                  memory_order_relaxed))
            return;
    }
}
