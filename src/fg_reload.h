/*
 * fg_reload.h -- live reload (SPEC section 10, "Reload"): what a reload
 * leaves behind for the rest of the runtime, and the state carry that
 * plain breakers (fg_breaker_reload.c) and family keys (fg_family_reload.c)
 * share.
 *
 * A reload never changes a handle that calls may be reading. It makes a new
 * handle for the new definition (its own Custom() predicates, flags, views)
 * and a new state block, carries the state over under the old block's lock,
 * publishes the new handle in the breaker's `live` pointer and marks the old
 * block FG_STATE_MOVED (fg_breaker_internal.h). Everything a reload made --
 * the new handle, its close reason, the block when the library allocated
 * it -- is one allocation, an fg_reload_gen chunk, kept until
 * fg_breaker_free: a call that read the old handle just before the switch
 * may still be using it, and nothing tells when the last such call is over
 * without costing every call an atomic read-modify-write.
 */
#ifndef FG_RELOAD_H
#define FG_RELOAD_H

#include <stdint.h>

#include "fg_breaker_internal.h"

struct fg_reload_gen {
    fg_reload_gen *older;         /* the previous reload's, or NULL */
    fg_breaker *handle;           /* the new definition's handle (in this chunk) */
    fg_breaker *replaced;         /* the handle whose block this reload retired */
    uint64_t admitted_at_switch;  /* that block's admission counters when carried over */
    uint64_t rejected_at_switch;
    const char *close_reason;     /* "not <tripper text>" of the new definition (in this chunk) */
    size_t bytes;                 /* of this chunk */
};

/* Carries the state of `from`'s block (its lock held) into `to`'s block:
 * a freshly initialised block of the new definition whose views `to` holds
 * (fg_breaker_views(to, layout, 1)), not yet visible to any call. Kept:
 * the state word (state and generation: tickets stay valid), the clock's
 * offset and last readings, changed_at, the retry's jitter factor (clamped
 * into the new retry's range), reopens, consecutive failures, the PRNG,
 * every counter, the transition sequence, the half-open leases whose slot
 * exists in the new capacity (in their order and with their times); the
 * window when fg_reload_window_kept says so. *admitted and *rejected get
 * the admission counts carried. */
void fg_reload_carry(fg_breaker *from, fg_breaker *to, uint64_t *admitted, uint64_t *rejected);

/* Whether the window survives a switch from `from`'s definition to `to`'s:
 * the same kind, size, slow thresholds (values) and duration storage (a
 * CountWindow keeps doubles with AvgLatency, microseconds without). */
int fg_reload_window_kept(const fg_breaker *from, const fg_breaker *to);

#endif /* FG_RELOAD_H */
