/*
 * fg_family_reload.c -- switching a family to a new definition
 * (fg_family_reload, fg_family_reload_with) and moving its keys there one by one
 * (fg_family_migrate).
 *
 * The family's own handle (proto) is reloaded like a plain breaker, so new
 * keys, classification and listeners' texts follow the new definition at
 * once. Keys move lazily: a million keys are not reallocated under the
 * family's lock in one go. A key moves on its next use, under the family's
 * lock and its block's lock, and only when nothing can be holding its
 * entry: no calls in flight (admitted minus recorded, from its own
 * counters) and no pins -- the conditions under which eviction may free it
 * (fg_family_internal.h). Its state is carried into a new entry exactly as
 * a plain breaker's (fg_reload_carry), the new entry takes the old one's
 * place in the index and the recency list, and the old one waits in the
 * graveyard until no queued transition can name its key. A key with calls
 * in flight keeps running its definition (its block says which, by
 * fingerprint: fg_family_def_of) and moves on a later use.
 */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "fg_alloc.h"
#include "fg_family_internal.h"
#include "fg_reload.h"

fg_family_entry *fg_family_migrate(fg_family *f, fg_family_entry *e) {
    fg_family_def *cur = fg_family_current(f);
    fg_block *b = fg_family_entry_block(e);
    if (b->fingerprint == cur->fingerprint) return e; /* the common case: one compare */
    size_t bytes = fg_family_block_offset(e->key_len) + cur->layout.size;
    fg_family_entry *n = fg_alloc_new(&f->alloc, bytes);
    if (n == NULL) return e; /* stays on its definition; tried again later */
    fg_lock_acquire(&b->lock, f->proto->lock_tag);
    /* pins last, as eviction reads them (fg_family_try_evict) */
    if (fg_family_in_flight_locked(b) != 0 || atomic_load_explicit(&e->pins, memory_order_acquire) != 0) {
        fg_lock_release(&b->lock);
        fg_alloc_free(&f->alloc, n, bytes);
        return e;
    }
    memset(n, 0, sizeof *n);
    n->hash = e->hash;
    n->key_len = e->key_len;
    n->u.last_used = e->u.last_used;
    atomic_init(&n->pins, 0);
    atomic_init(&n->detached, 0);
    if (e->key_len > 0) memcpy((char *)(n + 1), fg_family_entry_key(e), e->key_len);
    fg_block *nb = fg_family_entry_block(n);
    fg_block_init(nb, &cur->layout, cur->fingerprint, b->last_time, 0);
    fg_breaker from, to;
    fg_family_hook_ctx ctx;
    fg_family_bind(f, e, &from, &ctx);
    fg_breaker_bind(&to, cur->handle, nb, &cur->layout, 1);
    uint64_t admitted, rejected;
    fg_reload_carry(&from, &to, &admitted, &rejected);
    fg_lock_release(&b->lock);
    fg_family_replace_locked(f, e, n);
    return n;
}

int fg_family_reload_with(fg_family *f, fg_policy *policy, size_t index, const fg_reload_options *options,
                          char *err, size_t err_cap) {
    if (err != NULL && err_cap > 0) err[0] = '\0';
    if (options != NULL && options->block != NULL) {
        if (err != NULL && err_cap > 0)
            snprintf(err, err_cap,
                     "cannot reload: a family's blocks are its own (options->block must be NULL); nothing changed");
        return -1;
    }
    /* Only the resolver is passed on: the prototype's block is allocated. */
    fg_reload_options proto_options;
    memset(&proto_options, 0, sizeof proto_options);
    if (options != NULL) {
        proto_options.resolve_custom = options->resolve_custom;
        proto_options.resolve_ud = options->resolve_ud;
    }
    fg_family_def *d = fg_alloc_new(&f->alloc, sizeof *d);
    if (d == NULL) {
        if (err != NULL && err_cap > 0) snprintf(err, err_cap, "cannot reload: out of memory; nothing changed");
        return -1;
    }
    memset(d, 0, sizeof *d);
    /* Under the family's lock (then proto's block lock: the documented
     * order), so that two reloads publish their definitions in order. */
    fg_lock_acquire(&f->lock, f->proto->lock_tag);
    if (fg_breaker_reload_with(f->proto, policy, index, &proto_options, err, err_cap) != 0) {
        fg_lock_release(&f->lock);
        fg_alloc_free(&f->alloc, d, sizeof *d);
        return -1;
    }
    d->handle = fg_breaker_live(f->proto);
    fg_block_layout_of(d->handle->def, 1, &d->layout); /* succeeded in the reload */
    d->fingerprint = fg_block_fingerprint(d->handle->def);
    d->older = fg_family_current(f);
    atomic_store_explicit(&f->defs, d, memory_order_release);
    fg_lock_release(&f->lock);
    return 0;
}

int fg_family_reload(fg_family *f, fg_policy *policy, size_t index, char *err, size_t err_cap) {
    return fg_family_reload_with(f, policy, index, NULL, err, err_cap);
}

void fg_family_free_defs(fg_family *f) {
    fg_family_def *d = fg_family_current(f);
    while (d != NULL && d != &f->first) {
        fg_family_def *older = d->older;
        fg_alloc_free(&f->alloc, d, sizeof *d);
        d = older;
    }
    atomic_store_explicit(&f->defs, &f->first, memory_order_relaxed);
}
