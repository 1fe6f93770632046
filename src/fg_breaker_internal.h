/*
 * fg_breaker_internal.h -- the breaker object, shared by the files that make
 * up the runtime: fg_breaker.c (creation, listeners, queries, commands),
 * fg_breaker_call.c (the hot path: acquire, record) and
 * fg_breaker_transition.c (the state machine's transitions and their
 * dispatch to listeners).
 *
 * Locking: every field below `lock` is read and written only with the lock
 * held, except the listener list (append-only, atomic pointers, read without
 * the lock) and the fields fixed at creation. The clock is read before the
 * lock is taken, Custom() predicates run without it and listeners after it
 * is released; only a user random function is called under it, because each
 * draw must belong to exactly one decision.
 */
#ifndef FG_BREAKER_INTERNAL_H
#define FG_BREAKER_INTERNAL_H

#include <stdatomic.h>
#include <stdint.h>

#include "fg_clock.h"
#include "fg_half_open.h"
#include "fg_lock.h"
#include "fg_policy_internal.h"
#include "fg_random.h"
#include "fg_window.h"
#include "fluxgate.h"

typedef struct fg_listener fg_listener;
struct fg_listener {
    fg_listener_fn fn;
    void *ud;
    _Atomic(fg_listener *) next;
};

/* A transition collected under the lock, dispatched after it is released. */
typedef struct fg_pending {
    int active;
    fg_transition transition;
} fg_pending;

struct fg_breaker {
    /* fixed at creation */
    fg_allocator alloc;
    fg_policy *policy;            /* one reference, dropped by fg_breaker_free */
    const fg_breaker_def *def;
    fg_clock_fn clock;
    void *clock_ud;
    fg_custom *customs;           /* for each fg_program_custom_name of the tracker */
    uint32_t custom_count;
    char *close_reason;           /* "not <tripper text>", built once */
    size_t close_reason_size;

    /* append-only; dispatch reads it without the lock */
    _Atomic(fg_listener *) listeners;
    fg_listener *listeners_tail;  /* written under the lock */

    fg_lock lock;
    /* everything below: under the lock */
    double last_now;              /* last good clock reading */
    fg_state state;
    double changed_at;
    uint32_t reopens;
    uint32_t consecutive_failures;
    uint64_t generation;
    double retry_factor;          /* jitter factor drawn when the breaker opened */
    fg_window window;
    fg_trip_memo trip_memo;       /* the tripper's last evaluation (fg_vm_trip_cached) */
    fg_counters counters;
    /* last, being cold on the closed path (every call reads the above) */
    fg_random random;
    fg_half_open half_open;
};

/* Guards a raw clock reading (finite, never backwards). Lock held. */
static inline double fg_breaker_now_locked(fg_breaker *b, double raw) {
    return fg_clock_sanitize(raw, &b->last_now);
}

/* Takes back the half-open leases that are over at now, and counts them.
 * Lock held. O(1) amortized (each lease expires once). */
void fg_breaker_expire_leases_locked(fg_breaker *b, double now);

/* Moves b to state `to` at now for `reason` (text that outlives the
 * dispatch: program text, the close reason, or a literal). Does every piece
 * of bookkeeping of SPEC section 5 and fills *out for fg_breaker_dispatch.
 * Lock held. O(1) apart from the window metric's O(thresholds). */
void fg_breaker_transition_locked(fg_breaker *b, fg_state to, const char *reason, double now,
                                  fg_pending *out);

/* Runs the listeners of a transition, in the order added (out of line: the
 * hot path only pays for the check in fg_breaker_dispatch). */
void fg_breaker_dispatch_listeners(fg_breaker *b, const fg_transition *transition);

/* Runs the listeners for a pending transition, if there is one. Lock NOT
 * held, so a listener may call back into the breaker. A pending transition
 * is only read when active is set, so `fg_pending p; p.active = 0;` is all
 * the initialisation it needs (the metric inside is large). */
static inline void fg_breaker_dispatch(fg_breaker *b, const fg_pending *pending) {
    if (pending->active) fg_breaker_dispatch_listeners(b, &pending->transition);
}

/* The text of the tripper's alternative that fired (the whole text when the
 * index is somehow out of range). */
const char *fg_breaker_trip_reason(const fg_breaker *b, uint32_t alternative);

/* Evaluates the tripper for `state` on the current window at now; when it
 * fires and reason is not NULL, *reason is the text of the alternative that
 * fired. Lock held. Inline: every recorded outcome runs it. The program
 * only runs when something it reads has changed since the last evaluation
 * (in a steady window most outcomes change nothing it reads); otherwise the
 * memo answers, with the same result by construction. */
static inline int fg_breaker_trip_locked(fg_breaker *b, fg_state state, double now,
                                         const char **reason) {
    fg_trip_context ctx = {fg_window_view(&b->window, now), state, b->consecutive_failures};
    uint32_t alternative = 0;
    int fired = fg_vm_trip_cached(b->def->tripper, &ctx, b->window.counts_version, &b->trip_memo,
                                  &alternative);
    if (fired && reason != NULL) *reason = fg_breaker_trip_reason(b, alternative);
    return fired;
}

#endif /* FG_BREAKER_INTERNAL_H */
