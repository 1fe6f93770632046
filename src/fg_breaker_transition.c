/*
 * fg_breaker_transition.c -- the state machine's transitions (SPEC section 5):
 * the bookkeeping every transition does, the tripper evaluation that causes
 * most of them, and the dispatch of transitions to listeners after the
 * breaker's lock is released.
 */
#include "fg_breaker_internal.h"

#include <string.h>

#include "fg_retry.h"

void fg_breaker_transition_locked(fg_breaker *b, fg_state to, const char *reason, double now,
                                  fg_pending *out) {
    fg_state from = b->state;
    out->active = 1;
    out->transition.breaker = b->def->name;
    out->transition.old_state = from;
    out->transition.new_state = to;
    out->transition.timestamp = now;
    out->transition.reason = reason;
    /* The listeners see the window that explains the transition. */
    fg_window_metric(&b->window, now, &out->transition.metric);

    b->counters.transitions[from][to]++;
    if (from == FG_STATE_HALF_OPEN && to == FG_STATE_OPEN) b->reopens++;
    b->state = to;
    b->changed_at = now;
    b->generation++;
    fg_window_clear(&b->window);
    /* Leases of the old state end with it: their outcomes are stale now. */
    fg_half_open_reset(&b->half_open);

    if (to == FG_STATE_HALF_OPEN) b->consecutive_failures = 0;
    if (to == FG_STATE_CLOSED) {
        b->reopens = 0;
        b->consecutive_failures = 0;
    }
    /* Drawn once per open period, so that the wait (and retry_after) is
     * fixed until the breaker leaves open. */
    if (to == FG_STATE_OPEN) b->retry_factor = fg_retry_draw_factor(&b->def->retry, &b->random);
}

const char *fg_breaker_trip_reason(const fg_breaker *b, uint32_t alternative) {
    const char *text = NULL;
    if (alternative < fg_program_alternative_count(b->def->tripper))
        text = fg_program_alternative_text(b->def->tripper, alternative);
    return text != NULL ? text : fg_program_text(b->def->tripper);
}

void fg_breaker_dispatch_listeners(fg_breaker *b, const fg_transition *transition) {
    /* Acquire pairs with the release in fg_breaker_add_listener: a listener
     * seen here is fully written. Listeners added while we walk may or may
     * not run for this transition; none is ever skipped twice. */
    for (fg_listener *l = atomic_load_explicit(&b->listeners, memory_order_acquire); l != NULL;
         l = atomic_load_explicit(&l->next, memory_order_acquire)) {
        l->fn(l->ud, transition);
    }
}
