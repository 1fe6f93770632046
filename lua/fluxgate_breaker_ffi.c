/*
 * fluxgate_breaker_ffi.c -- the entry points of LuaJIT's FFI path of
 * breakers (fluxgate/ffi_path.lua): they take the breaker's userdata and
 * read its engine pointer here, in C, right before the engine call, as
 * fluxgate_family_ffi.c does for families (which says why: a finalized
 * breaker reachable through a weak-keyed table, and a collection step
 * that a trace exit between a Lua-side check and the call could run).
 * A closed breaker returns FGL_FFI_CLOSED.
 */

#include "fluxgate_lua.h"

FGL_EXPORT int fgl_breaker_ffi_acquire(void *breaker_ud, int have_now, double now, fg_ticket *ticket) {
    fgl_head *h = breaker_ud;
    if ((h->flags & FGL_CLOSED) != 0 || h->engine == NULL) return FGL_FFI_CLOSED;
    if (have_now) {
        h->now = now; /* what the engine's clock callback returns */
        return fg_breaker_acquire_at(h->engine, now, ticket);
    }
    return fg_breaker_acquire(h->engine, ticket);
}

FGL_EXPORT int fgl_breaker_ffi_record(void *breaker_ud, const fg_ticket *ticket, int outcome_class,
                                      const fg_outcome *outcome, double duration, int have_now, double now) {
    fgl_head *h = breaker_ud;
    if ((h->flags & FGL_CLOSED) != 0 || h->engine == NULL) return FGL_FFI_CLOSED;
    if (outcome_class < -1 || outcome_class > 1) {
        if (!have_now) return (int)fg_breaker_release(h->engine, ticket, outcome, duration);
        outcome_class = (int)fg_breaker_classify(h->engine, outcome);
    }
    if (!have_now) return (int)fg_breaker_record(h->engine, ticket, (fg_outcome_class)outcome_class, duration);
    h->now = now;
    return (int)fg_breaker_record_at(h->engine, ticket, (fg_outcome_class)outcome_class, duration, now);
}
