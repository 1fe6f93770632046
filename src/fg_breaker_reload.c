/*
 * fg_breaker_reload.c -- switching a breaker to a new compiled definition
 * while it runs (fg_breaker_reload, fg_breaker_reload_with), the state carry
 * shared with families, and the bookkeeping the rest of the runtime asks
 * reloads about (admission counts that reached a retired block, a
 * definition's close reason, freeing). The design is in fg_reload.h.
 *
 * Cost on the hot path: one acquire load of h->live per call; a locked path
 * also checks, once it holds the lock, that its block is not FG_STATE_MOVED
 * (fg_breaker_lock_live). Nothing else changes.
 */
#include "fg_reload.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "fg_alloc.h"
#include "fg_clock.h"

static void fg_reload_error(char *err, size_t cap, const char *fmt, ...) {
    if (err == NULL || cap == 0) return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err, cap, fmt, ap);
    va_end(ap);
}

static size_t fg_align8(size_t n) {
    return (n + 7u) & ~(size_t)7u;
}

/* ---- the carry ------------------------------------------------------------- */

int fg_reload_window_kept(const fg_breaker *from, const fg_breaker *to) {
    const fg_window *a = &from->window, *b = &to->window;
    if (a->kind != b->kind || a->size != b->size || a->exact != b->exact ||
        a->threshold_count != b->threshold_count)
        return 0;
    /* stored slow levels (CountWindow) and per-bucket slow counts
     * (TimeWindow) were classified against these thresholds */
    for (uint32_t k = 0; k < a->threshold_count; k++)
        if (a->thresholds[k] != b->thresholds[k]) return 0;
    return 1;
}

static void fg_reload_carry_window(const fg_breaker *from, fg_breaker *to) {
    if (!fg_reload_window_kept(from, to)) return; /* `to` starts empty */
    const fg_window *a = &from->window;
    fg_window *b = &to->window;
    *b->st = *a->st;
    /* the same kind and exactness: both have the same extra memory */
    if (a->kind == FG_WINDOW_TIME) *fg_window_wide_of(b) = *fg_window_wide_of(a);
    if (a->sum_at != 0) *fg_window_sum_of(b) = *fg_window_sum_of(a);
    for (uint32_t k = 0; k < a->threshold_count; k++) b->slow[k] = a->slow[k];
    memcpy(b->entries, a->entries,
           fg_window_entries_bytes((fg_window_kind)a->kind, a->size, a->threshold_count, a->exact));
}

/* The newest tick among the slots of `ho` used in its era, or `floor`. */
static uint32_t fg_reload_max_tick(const fg_half_open *ho, uint32_t floor) {
    uint32_t used = ho->st->in_flight > 0 ? fg_half_open_fresh(ho->st) : 0;
    if (used > ho->capacity) used = ho->capacity;
    for (uint32_t i = 0; i < used; i++)
        if (ho->ticks[i] > floor) floor = ho->ticks[i];
    return floor;
}

/* Where the slots of the new block whose history it does not carry start
 * (fg_reload_carry_half_open): past every tick the era has handed out.
 * A hand-out's tick is its time rounded up (every grant read the clock
 * under the lock: none is past the tick of the breaker's latest time) or
 * pushed later still (the newest lease's tick, 256 hand-outs at one tick,
 * an earlier reload's floor); those are in the slots of some block the
 * breaker has had in this era -- the current one, or one a reload replaced,
 * all kept until fg_breaker_free and no longer written -- but not always
 * in the slots a reload carries (a reload to fewer slots drops the rest).
 * So every block of this era is read, newest first: O(capacity) per block
 * replaced since a lease was last held throughout, at a reload, which is
 * rare. (With no lease held the next grant starts a new era, and any pair
 * will do.) */
static uint32_t fg_reload_slot_floor(const fg_breaker *from, const fg_half_open *ho) {
    const fg_half_open_state *s = ho->st;
    if (s->in_flight == 0) return 0;
    double q = (from->block->last_time - s->base) / fg_half_open_unit(s); /* NaN: 0 */
    uint32_t floor = q >= 0x1p31 - 2 ? (uint32_t)0x7FFFFFFE : q > 0.0 ? (uint32_t)ceil(q) : 0;
    floor = fg_reload_max_tick(ho, floor);
    if (from->keyed != NULL) return floor; /* a family key's view: its blocks are the family's */
    double unit = fg_half_open_unit(s);
    for (const fg_reload_gen *g = atomic_load_explicit(&from->home->gens, memory_order_acquire); g != NULL;
         g = g->older) {
        fg_half_open old = fg_breaker_half_open(g->replaced);
        /* Ticks of the same grid whose frame is this one's moved back by a
         * rebase (fg_half_open_rebase: the era on by d, the base d units
         * later, so era + tick is kept): tick t there is t - d here. Any
         * other frame is an earlier era's (a restart, a coarsening): its
         * identities are others, and so are those of every block before
         * it -- eras only move on -- so the walk stops there, at the
         * latest where no lease was held. */
        uint32_t d = s->era - old.st->era;
        if (old.st->grid != s->grid || d >= 0x80000000u ||
            !(fabs(s->base - (old.st->base + (double)d * unit)) <= unit))
            break;
        uint32_t newest = fg_reload_max_tick(&old, 0);
        if (newest > d && newest - d > floor) floor = newest - d;
    }
    return floor;
}

/* The busy slots whose index exists in the new capacity stay busy, oldest
 * first, with their ticks and reissue counts, so that their tickets release
 * them as before (the era, the base and the grid are carried too, so
 * identities stay the same); a lease whose slot is gone is dropped (its
 * ticket's outcome is then stale). Every other slot is free (the new
 * block's are: fresh); those used in this era keep their tick and reissue
 * count (a slot handed out again must not repeat a pair: fg_half_open_take).
 * The others -- new, or dropped by an earlier reload to fewer slots and
 * back now, whose tickets may still be out -- start at `floor` with the
 * last reissue count, so that their next hand-out is a tick past every
 * pair the era has handed out (fg_reload_slot_floor). */
static void fg_reload_carry_half_open(const fg_half_open *from, fg_half_open *to, uint32_t floor) {
    const fg_half_open_state *s = from->st;
    fg_half_open_state *d = to->st;
    d->era = s->era;
    d->base = s->base;
    d->grid = s->grid;
    d->in_flight = 0;
    uint32_t used = s->in_flight > 0 ? fg_half_open_fresh(s) : 0;
    if (used > from->capacity) used = from->capacity;
    uint32_t common = used < to->capacity ? used : to->capacity;
    for (uint32_t i = 0; i < common; i++) {
        to->ticks[i] = from->ticks[i];
        to->reissue[i] = from->reissue[i];
    }
    for (uint32_t j = common; j < to->capacity; j++) {
        to->ticks[j] = floor;
        to->reissue[j] = UINT8_MAX;
    }
    for (uint32_t j = 0; j < to->capacity; j++) fg_half_open_set_prev(to, j, j); /* not busy */
    /* walk from->in_flight steps from the head (the list in the block is
     * well-formed; the bound and the index check keep a damaged one finite) */
    uint32_t n = s->in_flight < from->capacity ? s->in_flight : from->capacity, i = s->oldest;
    for (uint32_t k = 0; k < n && i < from->capacity; k++, i = fg_half_open_next(from, i)) {
        if (i >= common) continue;
        if (d->in_flight == 0) {
            d->oldest = (uint16_t)i;
            fg_half_open_set_prev(to, i, i);
            fg_half_open_set_next(to, i, i);
        } else {
            uint32_t newest = fg_half_open_prev(to, d->oldest);
            fg_half_open_set_next(to, newest, i);
            fg_half_open_set_prev(to, i, newest);
            fg_half_open_set_next(to, i, d->oldest);
            fg_half_open_set_prev(to, d->oldest, i);
        }
        d->in_flight++;
    }
    /* every slot counts as handed out once; the free ones are listed */
    d->fresh = (uint16_t)to->capacity; /* 65536 is kept as 0 (fg_half_open_fresh) */
    uint32_t free_count = 0;
    for (uint32_t j = to->capacity; j-- > 0;) {
        if (fg_half_open_busy(to, (int32_t)j)) continue; /* kept */
        fg_half_open_set_prev(to, j, j);
        fg_half_open_set_next(to, j, free_count > 0 ? d->free_head : j);
        d->free_head = (uint16_t)j;
        free_count++;
    }
}

/* The drawn jitter factor, kept, but inside the new retry's range: with a
 * smaller (or no) jitter the wait must stay within what the new text says. */
static double fg_reload_factor(double factor, const fg_retry_spec *retry) {
    double j = retry->jitter_ratio > 0.0 ? retry->jitter_ratio : 0.0;
    if (!isfinite(factor)) return 1.0;
    if (factor < 1.0 - j) return 1.0 - j;
    if (factor > 1.0 + j) return 1.0 + j;
    return factor;
}

void fg_reload_carry(fg_breaker *from, fg_breaker *to, uint64_t *admitted, uint64_t *rejected) {
    fg_block *a = from->block, *b = to->block;
    atomic_store_explicit(&b->word, atomic_load_explicit(&a->word, memory_order_relaxed),
                          memory_order_relaxed);
    atomic_store_explicit(&b->offset_bits, atomic_load_explicit(&a->offset_bits, memory_order_relaxed),
                          memory_order_relaxed);
    b->changed_at = a->changed_at;
    fg_block_set_retry_factor(b, &to->def->retry,
                              fg_reload_factor(fg_block_retry_factor(a, &from->def->retry), &to->def->retry));
    b->sequence = a->sequence;
    b->random = a->random;
    b->reopens = a->reopens;
    atomic_store_explicit(&b->last_raw_bits, atomic_load_explicit(&a->last_raw_bits, memory_order_relaxed),
                          memory_order_relaxed);
    b->last_time = a->last_time;
    b->consecutive_failures = a->consecutive_failures;
    fg_half_open from_slots = fg_breaker_half_open(from), to_slots = fg_breaker_half_open(to);
    fg_reload_carry_half_open(&from_slots, &to_slots, fg_reload_slot_floor(from, &from_slots));
    fg_reload_carry_window(from, to);
    /* the memo stays invalid (fresh): it answered for the old tripper */
    /* the counters (both blocks keep them, or neither: the new block is
     * made like the old one); admissions that still reach the old block
     * are added by fg_breaker_count_admissions */
    fg_block_counts *ca = fg_block_counts_of(a), *cb = fg_block_counts_of(b);
    *admitted = *rejected = 0;
    if (ca == NULL || cb == NULL) return;
    cb->success = ca->success;
    cb->failure = ca->failure;
    cb->ignored = ca->ignored;
    cb->stale = ca->stale;
    cb->lease_expired = ca->lease_expired;
    memcpy(cb->transitions_auto, ca->transitions_auto, sizeof cb->transitions_auto);
    memcpy(cb->transitions_manual, ca->transitions_manual, sizeof cb->transitions_manual);
    *admitted = atomic_load_explicit(&ca->admissions.admitted, memory_order_relaxed);
    *rejected = atomic_load_explicit(&ca->admissions.rejected, memory_order_relaxed);
    atomic_store_explicit(&cb->admissions.admitted, *admitted, memory_order_relaxed);
    atomic_store_explicit(&cb->admissions.rejected, *rejected, memory_order_relaxed);
}

/* ---- what the runtime asks ---------------------------------------------------- */

void fg_breaker_count_admissions(fg_breaker *h, uint64_t *admitted, uint64_t *rejected) {
    fg_block_counts *c = fg_block_counts_of(h->block);
    *admitted = *rejected = 0;
    if (c == NULL) return; /* counted by the sink alone */
    uint64_t in = atomic_load_explicit(&c->admissions.admitted, memory_order_relaxed);
    uint64_t out = atomic_load_explicit(&c->admissions.rejected, memory_order_relaxed);
    /* a family key's view: its block was never replaced this way */
    if (h->keyed == NULL) {
        for (const fg_reload_gen *g = atomic_load_explicit(&h->home->gens, memory_order_acquire);
             g != NULL; g = g->older) {
            fg_block_counts *r = fg_block_counts_of(g->replaced->block);
            in += atomic_load_explicit(&r->admissions.admitted, memory_order_relaxed) - g->admitted_at_switch;
            out += atomic_load_explicit(&r->admissions.rejected, memory_order_relaxed) - g->rejected_at_switch;
        }
    }
    *admitted = in;
    *rejected = out;
}

const char *fg_breaker_close_reason_of(const fg_breaker *h) {
    const fg_breaker *home = h->home;
    for (const fg_reload_gen *g = atomic_load_explicit(&((fg_breaker *)home)->gens, memory_order_acquire);
         g != NULL; g = g->older)
        if (g->handle->def == h->def) return g->close_reason;
    return fg_breaker_close_reason(home);
}

void fg_breaker_free_gens(fg_breaker *h) {
    fg_reload_gen *g = atomic_load_explicit(&h->gens, memory_order_acquire);
    while (g != NULL) {
        fg_reload_gen *older = g->older;
        fg_policy *policy = g->handle->policy;
        fg_alloc_free(&h->alloc, g, g->bytes);
        fg_policy_free(policy);
        g = older;
    }
    atomic_store_explicit(&h->gens, NULL, memory_order_relaxed);
}

/* ---- reloading -------------------------------------------------------------------- */

static int fg_reload_resolve(fg_breaker *g, fg_custom_resolver resolve, void *ud, char *err,
                             size_t cap) {
    const fg_program *tracker = g->def->tracker;
    uint32_t n = fg_program_custom_count(tracker);
    g->custom_count = n;
    for (uint32_t i = 0; i < n; i++) {
        const char *name = fg_program_custom_name(tracker, i);
        g->customs[i].fn = NULL;
        g->customs[i].ud = NULL;
        if (resolve == NULL || !resolve(ud, name, &g->customs[i]) || g->customs[i].fn == NULL) {
            fg_reload_error(err, cap,
                            "cannot reload: Custom(\"%s\") has no registered predicate (the breaker's "
                            "resolver does not know it); nothing changed",
                            name);
            return -1;
        }
    }
    return 0;
}

int fg_breaker_reload_with(fg_breaker *h, fg_policy *policy, size_t index,
                           const fg_reload_options *opt, char *err, size_t err_cap) {
    if (err != NULL && err_cap > 0) err[0] = '\0';
    if (policy == NULL || index >= policy->breaker_count) {
        if (policy == NULL)
            fg_reload_error(err, err_cap, "cannot reload: no policy (NULL); nothing changed");
        else if (index == (size_t)-1) /* fg_policy_find_breaker's "not found", cast */
            fg_reload_error(err, err_cap,
                            "cannot reload: the policy has no breaker #-1 (fg_policy_find_breaker's "
                            "\"no such name\"); nothing changed");
        else
            fg_reload_error(err, err_cap,
                            "cannot reload: the policy has no breaker #%zu; nothing changed", index);
        return -1;
    }
    /* Other processes' handles on a shared block cannot follow a reload
     * (they would find it moved and reject every call): refused. */
    if (fg_breaker_live(h)->owner != NULL) {
        fg_reload_error(err, err_cap,
                        "cannot reload: the breaker's state block is shared with other processes "
                        "(a shared breaker); nothing changed");
        return -1;
    }
    const fg_breaker_def *def = &policy->breakers[index];
    fg_block_layout layout; /* with counters where the breaker's block keeps them */
    if (fg_block_layout_of(def, fg_block_counted(fg_breaker_live(h)->block), &layout) != 0) {
        fg_reload_error(err, err_cap,
                        "cannot reload: the new state block would be larger than 4 GiB; nothing changed");
        return -1;
    }
    void *memory = opt != NULL ? opt->block : NULL;
    if (memory != NULL) {
        if (((uintptr_t)memory % FG_BLOCK_ALIGN) != 0 || opt->block_size < layout.size) {
            fg_reload_error(err, err_cap,
                            "cannot reload: the new definition's state block needs %u bytes aligned to "
                            "%d (fg_breaker_footprint_with); the memory given has %zu; nothing changed",
                            (unsigned)layout.size, FG_BLOCK_ALIGN, opt->block_size);
            return -1;
        }
    } else if (!fg_breaker_live(h)->own_block) {
        fg_reload_error(err, err_cap,
                        "cannot reload: the breaker's state block is caller memory (fg_breaker_place); "
                        "reload it with fg_breaker_reload_with and %u bytes of new memory; nothing "
                        "changed",
                        (unsigned)layout.size);
        return -1;
    }

    /* One chunk: the record, the handle, the close reason, the block. */
    size_t gen_size = fg_align8(sizeof(fg_reload_gen));
    size_t handle_size = fg_breaker_handle_footprint(policy, index);
    size_t reason_size = fg_align8(fg_breaker_close_reason_write(def->tripper, NULL));
    size_t bytes = gen_size + handle_size + reason_size + (memory == NULL ? layout.size : 0);
    char *chunk = fg_alloc_new(&h->alloc, bytes);
    if (chunk == NULL) {
        fg_reload_error(err, err_cap, "cannot reload: out of memory; nothing changed");
        return -1;
    }
    fg_reload_gen *gen = (fg_reload_gen *)chunk;
    fg_breaker *g = (fg_breaker *)(chunk + gen_size);
    char *reason = chunk + gen_size + handle_size;
    memset(gen, 0, sizeof *gen);
    memset(g, 0, handle_size);
    gen->bytes = bytes;
    gen->handle = g;
    gen->close_reason = reason;
    fg_breaker_close_reason_write(def->tripper, reason);

    /* What is per process comes from h; what depends on the definition is new. */
    atomic_init(&g->live, g);
    atomic_init(&g->gens, NULL);
    atomic_init(&g->listeners, NULL);
    atomic_init(&g->dispatch, NULL);
    g->def = def;
    g->block = memory != NULL ? memory : (fg_block *)(reason + reason_size);
    g->own_block = memory == NULL;
    g->lock_tag = h->lock_tag;
    g->clock = h->clock;
    g->clock_ud = h->clock_ud;
    g->random = h->random;
    g->random_ud = h->random_ud;
    g->alloc = h->alloc;
    g->clock_request = h->clock_request;
    g->single = h->single;
    g->clock_kind = (uint8_t)fg_clock_choose(def, (fg_clock_kind)h->clock_request,
                                             h->clock_kind == FG_CLOCK_CUSTOM);
    g->clock_lag = fg_clock_lag((fg_clock_kind)g->clock_kind);
    g->reads_latency = (uint8_t)fg_block_reads_latency(def->tripper);
    fg_block_streak_bounds(def->tripper, &g->streak_low, &g->streak_high);
    g->needs_duration = (uint8_t)(g->reads_latency || fg_program_threshold_count(def->tripper) > 0);
    fg_breaker_box_attach(g);
    g->home = h;
    g->sink = h->sink; /* the state count stays (sink_state is home's) */
    fg_custom_resolver resolve = opt != NULL && opt->resolve_custom != NULL ? opt->resolve_custom
                                                                             : h->resolve_custom;
    void *resolve_ud = opt != NULL && opt->resolve_custom != NULL ? opt->resolve_ud : h->resolve_ud;
    if (fg_reload_resolve(g, resolve, resolve_ud, err, err_cap) != 0) {
        fg_alloc_free(&h->alloc, chunk, bytes);
        return -1;
    }
    uint64_t fingerprint = fg_block_fingerprint(def);

    /* Under the current block's lock: no record, transition or locked
     * admission runs; lock-free admissions may, and either read the old
     * word (their tickets stay valid: the generation is kept) or MOVED. */
    fg_breaker *cur = fg_breaker_lock_live(fg_breaker_live(h));
    fg_block *old = cur->block;
    if (fg_block_word_state(atomic_load_explicit(&old->word, memory_order_relaxed)) ==
        (fg_state)FG_STATE_MOVED) {
        fg_lock_release(&old->lock);
        fg_alloc_free(&h->alloc, chunk, bytes);
        fg_reload_error(err, err_cap,
                        "cannot reload: another process moved this breaker's shared block; nothing "
                        "changed");
        return -1;
    }
    fg_block_init(g->block, &layout, fingerprint, old->last_time, 0);
    fg_breaker_views(g, &layout, 1);
    fg_reload_carry(cur, g, &gen->admitted_at_switch, &gen->rejected_at_switch);
    gen->replaced = cur;
    fg_policy_retain(policy);
    g->policy = policy;
    gen->older = atomic_load_explicit(&h->gens, memory_order_relaxed);
    atomic_store_explicit(&h->gens, gen, memory_order_release);
    atomic_store_explicit(&h->live, g, memory_order_release);
    /* after `live`: whoever sees MOVED finds the new handle */
    uint64_t word = atomic_load_explicit(&old->word, memory_order_relaxed);
    atomic_store_explicit(&old->word,
                          fg_block_word((fg_state)FG_STATE_MOVED, fg_block_word_generation(word)),
                          memory_order_release);
    fg_lock_release(&old->lock);
    return 0;
}

int fg_breaker_reload(fg_breaker *h, fg_policy *policy, size_t index, char *err, size_t err_cap) {
    return fg_breaker_reload_with(h, policy, index, NULL, err, err_cap);
}
