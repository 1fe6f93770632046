/*
 * fg_lock.h -- the per-breaker lock.
 *
 * A plain pthread mutex (default type). On glibc and musl its uncontended
 * lock/unlock is one atomic instruction each in user space (a futex syscall
 * happens only under contention), which is what the hot path needs; under
 * contention it sleeps instead of burning the CPU a spinlock would, which
 * matters when a Lua clock or many OpenResty threads share a core. The
 * critical sections it guards are short and O(1) and never call user code
 * (clocks, predicates and listeners all run outside it).
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
