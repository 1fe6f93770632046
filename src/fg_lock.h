/*
 * fg_lock.h -- the per-breaker lock.
 *
 * A plain pthread mutex (default type). On glibc and musl its uncontended
 * lock/unlock is one atomic instruction each in user space (a futex syscall
 * happens only under contention), which is what the hot path needs; under
 * contention it sleeps instead of burning the CPU a spinlock would, which
 * matters when a Lua clock or many OpenResty threads share a core. The
 * critical sections it guards are short and O(1); clocks, Custom()
 * predicates and listeners run outside it (only a user random function runs
 * inside, since each draw belongs to exactly one decision). Measured on the
 * payment benchmark, a C11 atomic_flag spinlock with a yield backoff was no
 * faster uncontended, so the mutex stays.
 */
#ifndef FG_LOCK_H
#define FG_LOCK_H

#include <pthread.h>

typedef struct fg_lock {
    pthread_mutex_t mutex;
} fg_lock;

/* Returns 0, or -1 when the system could not set the mutex up. */
static inline int fg_lock_init(fg_lock *l) {
    return pthread_mutex_init(&l->mutex, NULL) == 0 ? 0 : -1;
}

static inline void fg_lock_destroy(fg_lock *l) {
    pthread_mutex_destroy(&l->mutex);
}

static inline void fg_lock_acquire(fg_lock *l) {
    pthread_mutex_lock(&l->mutex);
}

static inline void fg_lock_release(fg_lock *l) {
    pthread_mutex_unlock(&l->mutex);
}

#endif /* FG_LOCK_H */
