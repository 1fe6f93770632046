/*
 * fg_family.c -- a family's index and life cycle (see fg_family_internal.h):
 * making and freeing families, the hash table (chained, buckets through the
 * allocator hook), the recency list, eviction, the family clock, the
 * aggregates' hooks, listing keys.
 */
#define _GNU_SOURCE /* sched_getcpu: rseq/vDSO, no syscall */
#include "fg_family_internal.h"

#include <math.h>
#include <sched.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "fg_alloc.h"
#include "fg_clock.h"
#include "fg_key_hash.h"
#include "fg_random.h"

static void fg_family_error(char *err, size_t cap, const char *fmt, ...) {
    if (err == NULL || cap == 0) return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err, cap, fmt, ap);
    va_end(ap);
}

/* ---- aggregates -------------------------------------------------------------- */

fg_family_stripe *fg_family_my_stripe(fg_family *f) {
    int cpu = fg_block_cpu(); /* rseq: one load */
    if (cpu < 0) cpu = sched_getcpu();
    unsigned i = cpu >= 0 ? (unsigned)cpu : 0;
    return &f->stripes[i & (FG_FAMILY_STRIPES - 1)];
}

/* Under the key's block lock. */
static void fg_family_on_transition(void *ud, fg_state from, fg_state to) {
    fg_family_hook_ctx *c = ud;
    fg_family *f = c->family;
    atomic_fetch_add_explicit(&f->transitions[from][to], 1, memory_order_relaxed);
    if (atomic_load_explicit(&c->entry->detached, memory_order_relaxed)) return;
    atomic_fetch_sub_explicit(&f->states[from], 1, memory_order_relaxed);
    atomic_fetch_add_explicit(&f->states[to], 1, memory_order_relaxed);
}

static void fg_family_on_leases_expired(void *ud, uint64_t count) {
    fg_family_hook_ctx *c = ud;
    atomic_fetch_add_explicit(&c->family->lease_expired, count, memory_order_relaxed);
}

static const fg_breaker_hooks fg_family_hooks = {fg_family_on_transition, fg_family_on_leases_expired};

void fg_family_bind(fg_family *f, fg_family_entry *e, fg_breaker *view, fg_family_hook_ctx *ctx) {
    fg_block *b = fg_family_entry_block(e);
    const fg_family_def *d = fg_family_def_of(f, b);
    fg_breaker_bind(view, d->handle, b, &d->layout, 0);
    ctx->family = f;
    ctx->entry = e;
    ctx->keyed.hooks = &fg_family_hooks;
    ctx->keyed.hooks_ud = ctx;
    ctx->keyed.key = fg_family_entry_key(e);
    ctx->keyed.key_len = e->key_len;
    view->keyed = &ctx->keyed;
}

/* ---- the family clock ----------------------------------------------------- */

static double fg_family_read_raw(const fg_family *f) {
    const fg_breaker *p = f->proto;
    if (p->clock_kind == FG_CLOCK_CUSTOM) return p->clock(p->clock_ud);
    return fg_clock_read((fg_clock_kind)p->clock_kind);
}

/* The family's time for a raw reading (starting and rebasing as a
 * breaker's does; 0 until a finite reading). Lock held. */
static double fg_family_now_locked(fg_family *f, double raw) {
    return fg_clock_advance(raw, &f->last_raw, &f->last_time, &f->offset, NULL, 0.0);
}

/* ---- the index ------------------------------------------------------------------ */

static fg_family_entry *fg_family_find(fg_family *f, uint32_t hash, const void *key, size_t len) {
    for (fg_family_entry *e = f->buckets[hash & (f->bucket_count - 1)]; e != NULL; e = e->chain)
        /* (len 0: no memcmp, whose pointers must not be NULL even then; a
         * NULL key of length 0 is the empty key) */
        if (e->hash == hash && e->key_len == len &&
            (len == 0 || memcmp(fg_family_entry_key(e), key, len) == 0))
            return e;
    return NULL;
}

static void fg_family_list_unlink(fg_family *f, fg_family_entry *e) {
    if (f->sweep_at == e) f->sweep_at = e->newer;
    if (e->newer != NULL) e->newer->older = e->older;
    else f->newest = e->older;
    if (e->older != NULL) e->older->newer = e->newer;
    else f->oldest = e->newer;
    e->newer = e->older = NULL;
}

static void fg_family_list_push(fg_family *f, fg_family_entry *e) {
    e->older = f->newest;
    e->newer = NULL;
    if (f->newest != NULL) f->newest->newer = e;
    f->newest = e;
    if (f->oldest == NULL) f->oldest = e;
}

static void fg_family_touch(fg_family *f, fg_family_entry *e, double now) {
    e->u.last_used = now;
    if (f->newest == e) return;
    fg_family_list_unlink(f, e);
    fg_family_list_push(f, e);
}

/* Doubles the buckets when the table is fuller than one entry per bucket;
 * out of memory keeps the old table (longer chains, still correct). */
static void fg_family_grow(fg_family *f) {
    if (f->count <= f->bucket_count) return;
    size_t n = f->bucket_count * 2;
    fg_family_entry **b = fg_alloc_new(&f->alloc, n * sizeof *b);
    if (b == NULL) return;
    memset(b, 0, n * sizeof *b);
    for (size_t i = 0; i < f->bucket_count; i++) {
        fg_family_entry *e = f->buckets[i];
        while (e != NULL) {
            fg_family_entry *next = e->chain;
            size_t j = e->hash & (n - 1);
            e->chain = b[j];
            b[j] = e;
            e = next;
        }
    }
    fg_alloc_free(&f->alloc, f->buckets, f->bucket_count * sizeof *f->buckets);
    f->buckets = b;
    f->bucket_count = n;
}

static void fg_family_table_remove(fg_family *f, fg_family_entry *e) {
    fg_family_entry **at = &f->buckets[e->hash & (f->bucket_count - 1)];
    while (*at != e) at = &(*at)->chain;
    *at = e->chain;
    e->chain = NULL;
}

static size_t fg_family_entry_size(size_t key_len, size_t block_size) {
    return fg_family_block_offset(key_len) + block_size;
}

static void fg_family_entry_free(fg_family *f, fg_family_entry *e) {
    /* its own definition's size: keys of different definitions after a reload */
    const fg_family_def *d = fg_family_def_of(f, fg_family_entry_block(e));
    fg_alloc_free(&f->alloc, e, fg_family_entry_size(e->key_len, d->layout.size));
}

/* ---- eviction -------------------------------------------------------------------- */

uint64_t fg_family_in_flight_locked(fg_block *b) {
    fg_block_counts *c = fg_block_counts_of(b); /* a key's block keeps its counters */
    uint64_t admitted = atomic_load_explicit(&c->admissions.admitted, memory_order_relaxed);
    uint64_t recorded = c->success + c->failure + c->ignored;
    return admitted > recorded ? admitted - recorded : 0;
}

/* Frees graveyard entries whose transitions have all been delivered. Lock held. */
static void fg_family_reap(fg_family *f) {
    fg_family_entry **at = &f->graveyard;
    while (*at != NULL) {
        fg_family_entry *e = *at;
        if (fg_breaker_dispatch_idle(f->proto, e->u.free_after)) {
            *at = e->chain;
            fg_family_entry_free(f, e);
        } else {
            at = &e->chain;
        }
    }
}

static void fg_family_bury(fg_family *f, fg_family_entry *e) {
    e->u.free_after = fg_breaker_dispatch_numbered(f->proto);
    e->chain = f->graveyard;
    f->graveyard = e;
}

void fg_family_replace_locked(fg_family *f, fg_family_entry *old, fg_family_entry *fresh) {
    fg_family_entry **at = &f->buckets[old->hash & (f->bucket_count - 1)];
    while (*at != old) at = &(*at)->chain;
    fresh->chain = old->chain;
    *at = fresh;
    fresh->newer = old->newer;
    fresh->older = old->older;
    if (old->newer != NULL) old->newer->older = fresh;
    else f->newest = fresh;
    if (old->older != NULL) old->older->newer = fresh;
    else f->oldest = fresh;
    if (f->sweep_at == old) f->sweep_at = fresh;
    old->chain = old->newer = old->older = NULL;
    fg_family_bury(f, old);
}

/* Zombies whose lost calls were recorded after all go to the graveyard.
 * At most `budget` are looked at. Lock held. */
static void fg_family_settle_zombies(fg_family *f, size_t budget) {
    fg_family_entry **at = &f->zombies;
    while (*at != NULL && budget-- > 0) {
        fg_family_entry *e = *at;
        fg_block *b = fg_family_entry_block(e);
        fg_lock_acquire(&b->lock, f->proto->lock_tag);
        int done = fg_family_in_flight_locked(b) == 0 &&
                   atomic_load_explicit(&e->pins, memory_order_acquire) == 0;
        fg_lock_release(&b->lock);
        if (done) {
            *at = e->chain;
            fg_family_bury(f, e);
        } else {
            at = &e->chain;
        }
    }
}

/* Evicts e if it may be: closed, no pins, and no calls in flight -- or only
 * calls older than the lease (then e becomes a zombie). `now` is the
 * family's time (NAN when unknown: no call counts as lost). Returns 1 when
 * evicted. Lock held. */
static int fg_family_try_evict(fg_family *f, fg_family_entry *e, double now) {
    fg_block *b = fg_family_entry_block(e);
    fg_lock_acquire(&b->lock, f->proto->lock_tag);
    fg_state state = fg_block_word_state(atomic_load_explicit(&b->word, memory_order_relaxed));
    uint64_t in_flight = fg_family_in_flight_locked(b);
    int lost = in_flight > 0 && now - e->u.last_used >= f->lease;
    /* pins last: a record pins before it touches the block (see the header) */
    int ok = state == FG_STATE_CLOSED && (in_flight == 0 || lost) &&
             atomic_load_explicit(&e->pins, memory_order_acquire) == 0;
    if (ok) {
        /* under the block lock: later transitions of e leave the counts alone */
        atomic_store_explicit(&e->detached, 1, memory_order_relaxed);
        atomic_fetch_sub_explicit(&f->states[FG_STATE_CLOSED], 1, memory_order_relaxed);
    }
    fg_lock_release(&b->lock);
    if (!ok) return 0;
    fg_family_table_remove(f, e);
    fg_family_list_unlink(f, e);
    f->count--;
    f->evicted++;
    if (in_flight > 0) {
        e->chain = f->zombies;
        f->zombies = e;
    } else {
        fg_family_bury(f, e);
    }
    return 1;
}

/* A few idle keys, oldest first. An idle key that cannot go (open, busy,
 * or the one being looked up) keeps its place in the recency list -- being
 * looked at is not a use: fg_family_keys and max_keys's LRU go by use only
 * -- and the sweep goes on past it next time (f->sweep_at), so that the
 * keys behind it get their turn. The list is in order of last use, so the
 * first key that is not idle ends a pass: the next starts at the oldest
 * again. Lock held. */
static void fg_family_sweep_idle(fg_family *f, double now, int budget) {
    if (!(f->idle > 0.0)) return;
    fg_family_entry *e = f->sweep_at != NULL ? f->sweep_at : f->oldest;
    while (budget-- > 0 && e != NULL) {
        if (!(now - e->u.last_used >= f->idle)) {
            f->sweep_at = NULL;
            return;
        }
        fg_family_entry *newer = e->newer;
        fg_family_try_evict(f, e, now);
        e = newer;
    }
    f->sweep_at = e;
}

/* Room for one more key under max_keys: evicts the least recently used key
 * that may go, looking at FG_FAMILY_EVICT_SCAN keys at most. Lock held. */
static int fg_family_make_room(fg_family *f, double now) {
    if (f->max_keys == 0 || f->count < f->max_keys) return 0;
    fg_family_entry *e = f->oldest;
    for (int seen = 0; e != NULL && seen < FG_FAMILY_EVICT_SCAN; seen++) {
        fg_family_entry *newer = e->newer;
        if (fg_family_try_evict(f, e, now)) return 0;
        e = newer;
    }
    return -1;
}

size_t fg_family_evict_idle(fg_family *f) {
    double raw = f->bounded ? fg_family_read_raw(f) : NAN;
    size_t evicted = 0;
    fg_lock_acquire(&f->lock, f->proto->lock_tag);
    if (f->idle > 0.0) {
        double now = fg_family_now_locked(f, raw);
        fg_family_entry *e = f->oldest;
        while (e != NULL) {
            fg_family_entry *newer = e->newer;
            if (now - e->u.last_used >= f->idle && fg_family_try_evict(f, e, now)) evicted++;
            e = newer;
        }
    }
    fg_family_settle_zombies(f, SIZE_MAX);
    fg_family_reap(f);
    fg_lock_release(&f->lock);
    return evicted;
}

/* ---- making keys ---------------------------------------------------------------- */

/* A new entry for the key, its block fresh (closed, empty) at raw. */
static fg_family_entry *fg_family_entry_make(fg_family *f, const void *key, size_t len, uint32_t hash,
                                             uint64_t full_hash, double raw) {
    const fg_family_def *d = fg_family_current(f);
    fg_family_entry *e = fg_alloc_new(&f->alloc, fg_family_entry_size(len, d->layout.size));
    if (e == NULL) return NULL;
    memset(e, 0, sizeof *e);
    e->hash = hash;
    e->key_len = (uint32_t)len;
    atomic_init(&e->pins, 0);
    atomic_init(&e->detached, 0);
    if (len > 0) memcpy((char *)(e + 1), key, len);
    double now = fg_clock_usable(raw) ? raw : 0.0;
    uint64_t bits = 0;
    memcpy(&bits, &now, sizeof bits);
    /* seeded: the same key gets the same sequence in every run (full_hash
     * is salted per family, so it is not used here) */
    (void)full_hash;
    uint64_t state = f->has_seed ? fg_key_hash(f->seed, key, len)
                                 : (uint64_t)(uintptr_t)e ^ (bits * UINT64_C(0x9E3779B97F4A7C15));
    uint64_t seed = fg_random_splitmix64(&state);
    fg_block *b = fg_family_entry_block(e);
    fg_block_init(b, &d->layout, d->fingerprint, now, seed);
    fg_breaker view;
    fg_breaker_bind(&view, d->handle, b, &d->layout, 1);
    return e;
}

fg_family_entry *fg_family_pin(fg_family *f, const void *key, size_t len, int make, int have_raw,
                               double raw, char *err, size_t err_cap) {
    if (len > UINT32_MAX) {
        fg_family_error(err, err_cap, "a family key is at most 4 GiB long");
        return NULL;
    }
    uint64_t full_hash = fg_key_hash(f->hash_seed, key, len);
    uint32_t hash = (uint32_t)full_hash;
    if (!have_raw && f->bounded) {
        raw = fg_family_read_raw(f);
        have_raw = 1;
    }
    fg_lock_acquire(&f->lock, f->proto->lock_tag);
    double now = f->bounded ? fg_family_now_locked(f, raw) : 0.0;
    fg_family_entry *e = fg_family_find(f, hash, key, len);
    if (e != NULL || !make) {
        if (e != NULL) {
            e = fg_family_migrate(f, e); /* after a reload */
            if (make) fg_family_touch(f, e, now);
            atomic_fetch_add_explicit(&e->pins, 1, memory_order_relaxed);
        }
        fg_family_sweep_idle(f, now, 2);
        fg_lock_release(&f->lock);
        return e;
    }
    fg_lock_release(&f->lock);

    /* Made outside the lock (the allocator and a clock function may be slow). */
    if (!have_raw) raw = fg_family_read_raw(f);
    fg_family_entry *made = fg_family_entry_make(f, key, len, hash, full_hash, raw);
    if (made == NULL) {
        fg_family_error(err, err_cap, "out of memory");
        return NULL;
    }
    fg_lock_acquire(&f->lock, f->proto->lock_tag);
    e = fg_family_find(f, hash, key, len); /* another thread may have made it meanwhile */
    if (e == NULL) {
        fg_family_sweep_idle(f, now, 2);
        fg_family_settle_zombies(f, 2);
        fg_family_reap(f);
        if (fg_family_make_room(f, now) != 0) {
            fg_lock_release(&f->lock);
            fg_family_entry_free(f, made);
            fg_family_error(err, err_cap,
                            "fluxgate family is full: max_keys (%zu) keys, and the %d least recently "
                            "used are not closed or have calls in flight",
                            f->max_keys, FG_FAMILY_EVICT_SCAN);
            return NULL;
        }
        e = made;
        made = NULL;
        size_t i = hash & (f->bucket_count - 1);
        e->chain = f->buckets[i];
        f->buckets[i] = e;
        f->count++;
        f->created++;
        atomic_fetch_add_explicit(&f->states[FG_STATE_CLOSED], 1, memory_order_relaxed);
        fg_family_grow(f);
        fg_family_list_push(f, e);
    }
    e = fg_family_migrate(f, e); /* made (or found) on a definition a reload replaced */
    fg_family_touch(f, e, now);
    atomic_fetch_add_explicit(&e->pins, 1, memory_order_relaxed);
    fg_lock_release(&f->lock);
    if (made != NULL) fg_family_entry_free(f, made);
    return e;
}

/* ---- life cycle ------------------------------------------------------------------ */

fg_family *fg_family_new(fg_policy *policy, size_t index, const fg_family_options *opt, char *err,
                         size_t err_cap) {
    if (err != NULL && err_cap > 0) err[0] = '\0';
    if (opt != NULL && (!(opt->idle >= 0.0) || !(opt->lease >= 0.0))) {
        fg_family_error(err, err_cap, "a family's idle and lease are seconds >= 0");
        return NULL;
    }
    fg_breaker_options bo;
    if (opt != NULL) {
        bo = opt->breaker;
        bo.sink = NULL; /* a family keeps its own aggregates (fg_family_totals_get) */
    }
    fg_breaker *proto = fg_breaker_new(policy, index, opt != NULL ? &bo : NULL, err, err_cap);
    if (proto == NULL) return NULL;
    fg_family *f = fg_alloc_new(&proto->alloc, sizeof *f);
    fg_family_entry **buckets = fg_alloc_new(&proto->alloc, FG_FAMILY_INITIAL_BUCKETS * sizeof *buckets);
    if (f == NULL || buckets == NULL) {
        fg_alloc_free(&proto->alloc, f, sizeof *f);
        fg_alloc_free(&proto->alloc, buckets, FG_FAMILY_INITIAL_BUCKETS * sizeof *buckets);
        /* worded as fg_breaker_new's own out of memory, whichever failed */
        fg_family_error(err, err_cap, "%s: error: breaker '%s': out of memory",
                        proto->policy->chunk, proto->def->name);
        fg_breaker_free(proto);
        return NULL;
    }
    memset(f, 0, sizeof *f);
    memset(buckets, 0, FG_FAMILY_INITIAL_BUCKETS * sizeof *buckets);
    f->alloc = proto->alloc;
    f->proto = proto;
    f->first.handle = proto;
    fg_block_layout_of(proto->def, 1, &f->first.layout); /* succeeded in fg_breaker_new */
    f->first.fingerprint = fg_block_fingerprint(proto->def);
    atomic_init(&f->defs, &f->first);
    f->max_keys = opt != NULL ? opt->max_keys : 0;
    f->idle = opt != NULL ? opt->idle : 0.0;
    f->lease = opt != NULL && opt->lease > 0.0 ? opt->lease : proto->def->half_open_lease;
    f->bounded = f->max_keys > 0 || f->idle > 0.0;
    f->last_raw = FG_CLOCK_NO_READING; /* last_time and offset 0 */
    f->has_seed = opt != NULL && opt->breaker.has_seed;
    f->seed = f->has_seed ? opt->breaker.seed : 0;
    uint64_t s = (uint64_t)(uintptr_t)f ^ (uint64_t)(uintptr_t)buckets ^ f->seed;
    f->hash_seed = fg_random_splitmix64(&s);
    fg_lock_init(&f->lock);
    f->buckets = buckets;
    f->bucket_count = FG_FAMILY_INITIAL_BUCKETS;
    for (int i = 0; i < FG_STATE_COUNT; i++) {
        atomic_init(&f->states[i], 0);
        for (int j = 0; j < FG_STATE_COUNT; j++) atomic_init(&f->transitions[i][j], 0);
    }
    atomic_init(&f->lease_expired, 0);
    for (int i = 0; i < FG_FAMILY_STRIPES; i++)
        for (int j = 0; j < FG_FAMILY_COUNTERS; j++) atomic_init(&f->stripes[i].n[j], 0);
    return f;
}

static void fg_family_free_list(fg_family *f, fg_family_entry *e) {
    while (e != NULL) {
        fg_family_entry *next = e->chain;
        fg_family_entry_free(f, e);
        e = next;
    }
}

void fg_family_free(fg_family *f) {
    if (f == NULL) return;
    for (size_t i = 0; i < f->bucket_count; i++) fg_family_free_list(f, f->buckets[i]);
    fg_family_free_list(f, f->zombies);
    fg_family_free_list(f, f->graveyard);
    fg_family_free_defs(f);
    fg_allocator alloc = f->alloc;
    fg_alloc_free(&alloc, f->buckets, f->bucket_count * sizeof *f->buckets);
    fg_breaker *proto = f->proto;
    fg_alloc_free(&alloc, f, sizeof *f);
    fg_breaker_free(proto);
}

const char *fg_family_name(const fg_family *f) {
    return fg_breaker_name(f->proto); /* the newest definition's */
}

int fg_family_add_listener(fg_family *f, fg_listener_fn fn, void *ud) {
    return fg_breaker_add_listener(f->proto, fn, ud);
}

size_t fg_family_key_footprint(const fg_family *f) {
    /* the entry and the block, plus the bucket pointer it adds (one per key
     * at most, on average) */
    return fg_family_block_offset(0) + fg_family_current(f)->layout.size + sizeof(fg_family_entry *);
}

size_t fg_family_size(fg_family *f) {
    fg_lock_acquire(&f->lock, f->proto->lock_tag);
    size_t n = f->count;
    fg_lock_release(&f->lock);
    return n;
}

size_t fg_family_keys(fg_family *f, fg_family_key_fn fn, void *ud) {
    size_t seen = 0;
    fg_lock_acquire(&f->lock, f->proto->lock_tag);
    for (fg_family_entry *e = f->newest; e != NULL; e = e->older) {
        seen++;
        if (fn(ud, fg_family_entry_key(e), e->key_len) != 0) break;
    }
    fg_lock_release(&f->lock);
    return seen;
}

void fg_family_totals_get(fg_family *f, fg_family_totals *out) {
    memset(out, 0, sizeof *out);
    fg_counters *c = &out->counters;
    uint64_t n[FG_FAMILY_COUNTERS] = {0};
    for (int i = 0; i < FG_FAMILY_STRIPES; i++)
        for (int j = 0; j < FG_FAMILY_COUNTERS; j++)
            n[j] += atomic_load_explicit(&f->stripes[i].n[j], memory_order_relaxed);
    c->success = n[FG_FAMILY_SUCCESS];
    c->failure = n[FG_FAMILY_FAILURE];
    c->ignored = n[FG_FAMILY_IGNORED];
    c->stale = n[FG_FAMILY_STALE];
    c->admitted = n[FG_FAMILY_ADMITTED];
    c->rejected = n[FG_FAMILY_REJECTED];
    c->lease_expired = atomic_load_explicit(&f->lease_expired, memory_order_relaxed);
    for (int i = 0; i < FG_STATE_COUNT; i++) {
        int64_t k = atomic_load_explicit(&f->states[i], memory_order_relaxed);
        out->states[i] = k > 0 ? (uint64_t)k : 0; /* a transition in progress elsewhere */
        for (int j = 0; j < FG_STATE_COUNT; j++)
            c->transitions[i][j] = atomic_load_explicit(&f->transitions[i][j], memory_order_relaxed);
    }
    fg_lock_acquire(&f->lock, f->proto->lock_tag);
    out->keys = f->count;
    out->created = f->created;
    out->evicted = f->evicted;
    fg_lock_release(&f->lock);
}
