/*
 * fluxgate_family_ffi.c -- the entry points of LuaJIT's FFI path of
 * families (fluxgate/family_ffi.lua). They take the family's userdata, not
 * its engine pointer, and read the pointer here, in C, right before the
 * engine call.
 *
 * Why: a family is closed by its finalizer, which frees the engine's
 * family. A finalized family can still be reached (through a weak-keyed
 * table, which the collector clears only after finalizers ran) and used.
 * The Lua side checked FGL_CLOSED and then made the FFI call, but with
 * traces compiled, a trace exit between the check and the call materialises
 * the allocations the trace had sunk; that allocation may run a collection
 * step and the finalizer in it, and the call then went to a family just
 * freed (about 1 run in 20 of a stress of every method on such objects).
 * Nothing in C runs the collector, so the check here and the call are one
 * step for Lua: a closed family returns FGL_FFI_CLOSED and the Lua side
 * raises (acquire) or drops the outcome (record, as the C paths do).
 */

#include "fluxgate_family.h"

/* Admits key into *ticket: 1 admitted, 0 rejected, -1 key not made (err),
 * FGL_FFI_CLOSED closed. have_now: now is the Lua clock's reading. */
FGL_EXPORT int fgl_family_ffi_acquire(void *family_ud, const char *key, size_t key_len, int have_now,
                                      double now, fg_family_ticket *ticket, char *err, size_t err_cap) {
    fgl_family *f = family_ud;
    if ((f->host.head.flags & FGL_CLOSED) != 0 || f->family == NULL) return FGL_FFI_CLOSED;
    if (have_now) return fg_family_acquire_at(f->family, key, key_len, now, ticket, err, err_cap);
    return fg_family_acquire(f->family, key, key_len, ticket, err, err_cap);
}

/* Records a ticket's outcome: with outcome_class when it is 0, 1 or -1
 * (Lua classified it), else by the outcome *outcome (the engine
 * classifies); at now when have_now. Returns the verdict, or
 * FGL_FFI_CLOSED (nothing recorded). */
FGL_EXPORT int fgl_family_ffi_record(void *family_ud, const fg_family_ticket *ticket, int outcome_class,
                                     const fg_outcome *outcome, double duration, int have_now, double now) {
    fgl_family *f = family_ud;
    if ((f->host.head.flags & FGL_CLOSED) != 0 || f->family == NULL) return FGL_FFI_CLOSED;
    if (outcome_class < -1 || outcome_class > 1) {
        if (!have_now) return (int)fg_family_release(f->family, ticket, outcome, duration);
        outcome_class = (int)fg_family_classify(f->family, outcome);
    }
    if (have_now)
        return (int)fg_family_record_at(f->family, ticket, (fg_outcome_class)outcome_class, duration, now);
    return (int)fg_family_record(f->family, ticket, (fg_outcome_class)outcome_class, duration);
}
