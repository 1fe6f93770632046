/*
 * fg_shared_family.c -- keyed breakers in a shared map: the region's
 * layout, lock-free lookup, making a key under the robust family lock,
 * totals over the whole table (see fg_shared_family.h).
 */
#include "fg_shared_family.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

#include "fg_alloc.h"
#include "fg_breaker_internal.h"
#include "fg_breaker_shared.h"
#include "fg_key_hash.h"

#define FG_SFAM_MAGIC UINT64_C(0x314d41465347) /* "GSFAM1" little-endian */

enum { FG_SFAM_FREE = 0, FG_SFAM_MAKING = 1, FG_SFAM_LIVE = 2 };

/* The region's first bytes. Written once when the region is made, except
 * `live` (under the family lock) and the lock. */
typedef struct fg_sfam_header {
    uint64_t magic;
    uint64_t fingerprint; /* the definition's block fingerprint */
    uint64_t hash_seed;   /* the same for every process: it is in the region */
    uint32_t capacity;
    uint32_t slot_size;
    uint32_t block_size;
    uint32_t key_max;
    uint8_t pad0[24];
    /* ---- written when keys are made ---- */
    fg_lock lock;
    _Atomic uint64_t live;
    uint8_t pad1[48];
} fg_sfam_header;
_Static_assert(sizeof(fg_sfam_header) == 128, "the header is two cache lines");

typedef struct fg_sfam_slot {
    _Atomic uint32_t state; /* FG_SFAM_*: LIVE is stored last (release) */
    uint32_t key_len;
    uint64_t hash;
    char key[FG_SHARED_FAMILY_KEY_MAX];
} fg_sfam_slot;

struct fg_shared_family {
    fg_shm *map;
    fg_sfam_header *h;
    char *slots;       /* the first slot */
    /* The table's geometry as checked when it was opened: the header is in
     * a file anything can write, and a capacity read from it on each call
     * (0: a division by zero; larger: slots past the region) is not the
     * one that was checked. */
    uint32_t capacity;
    uint32_t slot_size;
    fg_breaker *proto; /* on the carried block: views of key blocks copy it */
    fg_block_layout layout;
    fg_policy *policy;
    int has_seed;
    uint64_t seed;
    size_t handle_size;
    fg_allocator alloc;
};

static size_t fg_sfam_align(size_t n) {
    return (n + 63) & ~(size_t)63;
}

static size_t fg_sfam_slot_size(size_t block_size) {
    return fg_sfam_align(sizeof(fg_sfam_slot)) + fg_sfam_align(block_size);
}

static size_t fg_sfam_slots_offset(size_t block_size) {
    return sizeof(fg_sfam_header) + fg_sfam_align(block_size);
}

size_t fg_shared_family_region_size(const fg_policy *policy, size_t index, uint32_t capacity) {
    size_t block = fg_breaker_footprint(policy, index);
    if (block == 0 || capacity == 0 || capacity > FG_SHARED_FAMILY_CAPACITY_MAX) return 0;
    size_t slot = fg_sfam_slot_size(block);
    if (slot > ((size_t)1 << 32) / capacity) return 0;
    return fg_sfam_slots_offset(block) + slot * capacity;
}

static fg_sfam_slot *fg_sfam_slot_at(char *slots, uint32_t slot_size, uint32_t i) {
    return (fg_sfam_slot *)(slots + (size_t)i * slot_size);
}

static fg_block *fg_sfam_slot_block(fg_sfam_slot *s) {
    return (fg_block *)((char *)s + fg_sfam_align(sizeof(fg_sfam_slot)));
}

static fg_block *fg_sfam_carried(fg_sfam_header *h) {
    return (fg_block *)((char *)h + sizeof(fg_sfam_header));
}


/* A table's geometry, read from its header once: what is checked is what
 * is used (another program may write the file while we read it). */
typedef struct fg_sfam_geometry {
    uint32_t capacity;
    uint32_t slot_size;
    uint32_t block_size;
} fg_sfam_geometry;

/* Whether h holds a table that lies inside `size` bytes (a map someone
 * else wrote could say anything); its geometry in *g. */
static int fg_sfam_header_sane(const fg_sfam_header *h, size_t size, fg_sfam_geometry *g) {
    if (size < sizeof *h) return 0;
    g->capacity = __atomic_load_n(&h->capacity, __ATOMIC_RELAXED);
    g->slot_size = __atomic_load_n(&h->slot_size, __ATOMIC_RELAXED);
    g->block_size = __atomic_load_n(&h->block_size, __ATOMIC_RELAXED);
    if (h->magic != FG_SFAM_MAGIC || h->key_max != FG_SHARED_FAMILY_KEY_MAX) return 0;
    if (g->capacity == 0 || g->capacity > FG_SHARED_FAMILY_CAPACITY_MAX) return 0;
    /* a key's block holds at least the fixed part (its state word is read
     * without more checks): with fewer bytes, the last slot's block would
     * start past the region */
    if (g->block_size < sizeof(fg_block)) return 0;
    if (g->slot_size != fg_sfam_slot_size(g->block_size)) return 0;
    size_t need = fg_sfam_slots_offset(g->block_size) + (size_t)g->slot_size * g->capacity;
    return need <= size;
}

/* A process killed while making a key left its slot "being made": free it
 * again (nobody saw the key: lookups only trust live slots). Lock held. */
static void fg_sfam_repair(void *ud) {
    fg_shared_family *f = ud;
    for (uint32_t i = 0; i < f->capacity; i++) {
        fg_sfam_slot *s = fg_sfam_slot_at(f->slots, f->slot_size, i);
        if (atomic_load_explicit(&s->state, memory_order_relaxed) == FG_SFAM_MAKING)
            atomic_store_explicit(&s->state, FG_SFAM_FREE, memory_order_relaxed);
    }
}

/* A custom predicate for the proto handle, which never classifies: the
 * processes' handles on key blocks resolve the real ones. */
static int fg_sfam_no_custom(void *ud, const fg_outcome *o) {
    (void)ud;
    (void)o;
    return 0;
}

static int fg_sfam_resolve_stub(void *ud, const char *name, fg_custom *out) {
    (void)ud;
    (void)name;
    out->fn = fg_sfam_no_custom;
    out->ud = NULL;
    return 1;
}

typedef struct fg_sfam_init {
    fg_shared_family *f;
    size_t index;
    const fg_breaker_options *opt;
    uint32_t capacity;
    char *err;
    size_t cap;
} fg_sfam_init;

/* The proto's options: the caller's clock kind and allocator; no random
 * function or Lua clock (the proto never admits), every Custom() a stub. */
static fg_breaker_options fg_sfam_proto_options(const fg_breaker_options *opt) {
    fg_breaker_options o;
    memset(&o, 0, sizeof o);
    if (opt != NULL) {
        o.alloc = opt->alloc;
        o.clock_kind = opt->clock_kind;
    }
    o.resolve_custom = fg_sfam_resolve_stub;
    return o;
}

/* fg_shm_init_fn: a fresh table (the region is zeroed: every slot free),
 * its carried block placed fresh. Nothing is carried from the table it
 * replaces: the tables are one chain in the map, whose counters
 * fg_shared_family_totals_get adds up. Under the map's lock. */
static int fg_sfam_init_region(void *ud, void *region, size_t size) {
    fg_sfam_init *in = ud;
    fg_shared_family *f = in->f;
    fg_sfam_header *h = region;
    fg_breaker_options o = fg_sfam_proto_options(in->opt);
    f->proto = fg_breaker_place(f->policy, in->index, &o, f->proto, fg_sfam_carried(h), f->layout.size, 0,
                                in->err, in->cap);
    if (f->proto == NULL) return -1;
    fg_breaker_set_zone(f->proto, f->map);
    uint64_t mix = (uint64_t)(uintptr_t)region ^ (uint64_t)fg_clock_read(FG_CLOCK_PRECISE);
    h->fingerprint = fg_breaker_definition_fingerprint(f->policy, in->index);
    h->hash_seed = fg_random_splitmix64(&mix);
    h->capacity = in->capacity;
    h->block_size = f->layout.size;
    h->slot_size = (uint32_t)fg_sfam_slot_size(f->layout.size);
    h->key_max = FG_SHARED_FAMILY_KEY_MAX;
    fg_lock_init(&h->lock);
    atomic_init(&h->live, 0);
    (void)size;
    atomic_thread_fence(memory_order_release);
    h->magic = FG_SFAM_MAGIC;
    return 0;
}

static void fg_sfam_error(char *err, size_t cap, const char *msg) {
    if (err != NULL && cap > 0) snprintf(err, cap, "%s", msg);
}

fg_shared_family *fg_shared_family_open(fg_shm *m, fg_policy *policy, size_t index, uint32_t capacity,
                                        const fg_breaker_options *opt, int *status, char *err, size_t cap) {
    size_t region = fg_shared_family_region_size(policy, index, capacity);
    if (region == 0) {
        if (err != NULL && cap > 0)
            snprintf(err, cap, "a shared family's capacity must be from 1 to %d keys (and its table under 4 GiB)",
                     FG_SHARED_FAMILY_CAPACITY_MAX);
        return NULL;
    }
    fg_allocator a = fg_alloc_resolve(opt != NULL ? &opt->alloc : NULL);
    fg_shared_family *f = fg_alloc_new(&a, sizeof *f);
    if (f == NULL) {
        fg_sfam_error(err, cap, "out of memory");
        return NULL;
    }
    memset(f, 0, sizeof *f);
    f->alloc = a;
    f->map = m;
    f->policy = policy;
    f->handle_size = fg_breaker_handle_footprint(policy, index);
    f->has_seed = opt != NULL && opt->has_seed;
    f->seed = f->has_seed ? opt->seed : 0;
    fg_block_layout_of(&policy->breakers[index], 1, &f->layout);
    void *memory = fg_alloc_new(&a, f->handle_size);
    if (memory == NULL) {
        fg_alloc_free(&a, f, sizeof *f);
        fg_sfam_error(err, cap, "out of memory");
        return NULL;
    }
    memset(memory, 0, f->handle_size);
    f->proto = memory; /* the init function places it there */
    fg_sfam_init in = {f, index, opt, capacity, err, cap};
    const char *name = fg_policy_breaker_name(policy, index);
    uint64_t mix = fg_breaker_definition_fingerprint(policy, index) ^ ((uint64_t)capacity << 40);
    uint64_t fingerprint = fg_random_splitmix64(&mix);
    fg_sfam_header *h =
        fg_shm_region(m, name, FG_SHM_FAMILY, fingerprint, region, fg_sfam_init_region, &in, status, err, cap);
    fg_sfam_geometry g = {capacity, (uint32_t)fg_sfam_slot_size(f->layout.size), f->layout.size};
    if (h != NULL && *status == FG_SHM_ATTACHED) {
        fg_breaker_options o = fg_sfam_proto_options(opt);
        fg_sfam_geometry have;
        /* the keys' blocks are placed with this definition's layout */
        if (!fg_sfam_header_sane(h, region, &have) || have.capacity != capacity ||
            have.block_size != f->layout.size) {
            fg_sfam_error(err, cap, "the shared zone holds a damaged table for this family");
            h = NULL;
        } else {
            f->proto = fg_breaker_place(policy, index, &o, memory, fg_sfam_carried(h), f->layout.size, 1, err, cap);
            if (f->proto == NULL) h = NULL;
            else fg_breaker_set_zone(f->proto, m);
        }
    }
    if (h == NULL) {
        if (f->proto != NULL && f->proto->policy != NULL) fg_breaker_free(f->proto);
        fg_alloc_free(&a, memory, f->handle_size);
        fg_alloc_free(&a, f, sizeof *f);
        return NULL;
    }
    f->h = h;
    f->capacity = g.capacity;
    f->slot_size = g.slot_size;
    f->slots = (char *)h + fg_sfam_slots_offset(g.block_size);
    fg_policy_retain(policy);
    fg_shm_retain(m);
    return f;
}

void fg_shared_family_free(fg_shared_family *f) {
    if (f == NULL) return;
    fg_allocator a = f->alloc;
    void *memory = f->proto;
    fg_breaker_free(f->proto); /* placed in our memory: releases its policy reference only */
    fg_alloc_free(&a, memory, f->handle_size);
    fg_policy_free(f->policy);
    fg_shm_release(f->map);
    fg_alloc_free(&a, f, sizeof *f);
}

static int fg_sfam_slot_is(const fg_sfam_slot *s, uint64_t hash, const void *key, size_t len) {
    return s->hash == hash && s->key_len == len && memcmp(s->key, key, len) == 0;
}

/* Makes key's block in slot s (free, or left "being made"). Lock held. */
static void fg_sfam_make(fg_shared_family *f, fg_sfam_slot *s, uint64_t hash, const void *key, size_t len) {
    atomic_store_explicit(&s->state, FG_SFAM_MAKING, memory_order_relaxed);
    s->hash = hash;
    s->key_len = (uint32_t)len;
    if (len > 0) memcpy(s->key, key, len);
    double raw = fg_clock_read((fg_clock_kind)f->proto->clock_kind);
    double now = fg_clock_usable(raw) ? raw : 0.0;
    uint64_t bits = 0;
    memcpy(&bits, &now, sizeof bits);
    /* seeded: the same key gets the same sequence in every run */
    uint64_t state = f->has_seed ? fg_key_hash(f->seed, key, len)
                                 : hash ^ (uint64_t)(uintptr_t)s ^ (bits * UINT64_C(0x9E3779B97F4A7C15));
    uint64_t seed = fg_random_splitmix64(&state);
    fg_block *b = fg_sfam_slot_block(s);
    fg_block_init(b, &f->layout, f->h->fingerprint, now, seed);
    fg_breaker view;
    fg_breaker_bind(&view, f->proto, b, &f->layout, 1);
    atomic_store_explicit(&s->state, FG_SFAM_LIVE, memory_order_release);
    atomic_fetch_add_explicit(&f->h->live, 1, memory_order_relaxed);
}

void *fg_shared_family_block(fg_shared_family *f, const void *key, size_t len, int *made, char *err,
                             size_t cap) {
    *made = 0;
    if (len > FG_SHARED_FAMILY_KEY_MAX) {
        if (err != NULL && cap > 0)
            snprintf(err, cap, "a shared family's key is at most %d bytes, not %zu", FG_SHARED_FAMILY_KEY_MAX, len);
        return NULL;
    }
    fg_sfam_header *h = f->h;
    uint32_t n = f->capacity;
    uint64_t hash = fg_key_hash(h->hash_seed, key, len);
    uint32_t start = (uint32_t)(hash % n);
    /* Without the lock: live slots never change. A free slot ends the
     * probe (slots are never freed); one being made may be this key. */
    for (uint32_t k = 0; k < n; k++) {
        fg_sfam_slot *s = fg_sfam_slot_at(f->slots, f->slot_size, (start + k) % n);
        uint32_t st = atomic_load_explicit(&s->state, memory_order_acquire);
        if (st != FG_SFAM_LIVE) break;
        if (fg_sfam_slot_is(s, hash, key, len)) return fg_sfam_slot_block(s);
    }
    fg_lock_acquire_repair(&h->lock, fg_lock_owner_get(fg_shm_owner(f->map)), fg_sfam_repair, f);
    void *found = NULL;
    for (uint32_t k = 0; k < n && found == NULL; k++) {
        fg_sfam_slot *s = fg_sfam_slot_at(f->slots, f->slot_size, (start + k) % n);
        uint32_t st = atomic_load_explicit(&s->state, memory_order_acquire);
        if (st == FG_SFAM_LIVE) {
            if (fg_sfam_slot_is(s, hash, key, len)) found = fg_sfam_slot_block(s);
            continue;
        }
        fg_sfam_make(f, s, hash, key, len);
        *made = 1;
        found = fg_sfam_slot_block(s);
    }
    fg_lock_release(&h->lock);
    if (found == NULL && err != NULL && cap > 0)
        snprintf(err, cap,
                 "shared family '%s' is full: capacity %u; give a larger capacity (a reload "
                 "applies it, starting a fresh table)",
                 f->proto->def->name, (unsigned)n);
    return found;
}

size_t fg_shared_family_block_size(const fg_shared_family *f) {
    return f->layout.size;
}

uint32_t fg_shared_family_capacity(const fg_shared_family *f) {
    return f->capacity;
}

size_t fg_shared_family_size(const fg_shared_family *f) {
    return (size_t)atomic_load_explicit(&f->h->live, memory_order_relaxed);
}

fg_shm *fg_shared_family_map(const fg_shared_family *f) {
    return f->map;
}

const void *fg_shared_family_counters_id(const fg_shared_family *f) {
    fg_shm_span chain[FG_SHM_ENTRIES];
    size_t n = fg_shm_chain(f->map, f->h, FG_SHM_FAMILY, chain, FG_SHM_ENTRIES);
    return n > 0 ? chain[n - 1].region : f->h;
}

/* Adds the counters of another table of f's chain (another definition's
 * or capacity's, which other processes may still count into), read
 * without its locks: its carried block and every live key's block. */
static void fg_sfam_add_table(fg_counters *to, const fg_shm_span *table) {
    const fg_sfam_header *h = table->region;
    fg_sfam_geometry g;
    if (!fg_sfam_header_sane(h, table->size, &g)) return;
    fg_counters c;
    if (fg_breaker_block_counters((const char *)h + sizeof *h, g.block_size, &c) == 0)
        fg_counters_add(to, &c);
    char *slots = (char *)h + fg_sfam_slots_offset(g.block_size);
    for (uint32_t i = 0; i < g.capacity; i++) {
        fg_sfam_slot *s = fg_sfam_slot_at(slots, g.slot_size, i);
        if (atomic_load_explicit(&s->state, memory_order_acquire) != FG_SFAM_LIVE) continue;
        if (fg_breaker_block_counters(fg_sfam_slot_block(s), g.block_size, &c) == 0)
            fg_counters_add(to, &c);
    }
}

void fg_shared_family_totals_get(fg_shared_family *f, fg_shared_family_totals *t) {
    memset(t, 0, sizeof *t);
    fg_info info;
    memset(&info, 0, sizeof info);
    fg_breaker_info(f->proto, &info);
    fg_counters_add(&t->counters, &info.counters);
    for (uint32_t i = 0; i < f->capacity; i++) {
        fg_sfam_slot *s = fg_sfam_slot_at(f->slots, f->slot_size, i);
        if (atomic_load_explicit(&s->state, memory_order_acquire) != FG_SFAM_LIVE) continue;
        fg_breaker view;
        fg_breaker_bind(&view, f->proto, fg_sfam_slot_block(s), &f->layout, 0);
        memset(&info, 0, sizeof info);
        fg_breaker_info(&view, &info);
        fg_counters_add(&t->counters, &info.counters);
        if ((int)info.state >= 0 && info.state < FG_STATE_COUNT) t->states[info.state]++;
        t->keys++;
    }
    fg_shm_span chain[FG_SHM_ENTRIES];
    size_t n = fg_shm_chain(f->map, f->h, FG_SHM_FAMILY, chain, FG_SHM_ENTRIES);
    for (size_t i = 0; i < n; i++)
        if (chain[i].region != (const void *)f->h) fg_sfam_add_table(&t->counters, &chain[i]);
}

int fg_shared_family_zone_totals(const fg_shm *m, const fg_shm_span *head, fg_shared_family_totals *t,
                                 const void **counters_id) {
    memset(t, 0, sizeof *t);
    const fg_sfam_header *h = head->region;
    fg_sfam_geometry g;
    if (!fg_sfam_header_sane(h, head->size, &g)) return -1;
    char *slots = (char *)h + fg_sfam_slots_offset(g.block_size);
    for (uint32_t i = 0; i < g.capacity; i++) {
        fg_sfam_slot *s = fg_sfam_slot_at(slots, g.slot_size, i);
        if (atomic_load_explicit(&s->state, memory_order_acquire) != FG_SFAM_LIVE) continue;
        uint64_t word = atomic_load_explicit(&fg_sfam_slot_block(s)->word, memory_order_acquire);
        fg_state state = fg_block_word_state(word);
        /* a word in no state reads as admission reads it (fg_breaker_info,
         * what an open family's totals say) */
        t->states[state < FG_STATE_COUNT ? state : FG_STATE_FORCED_OPEN]++;
        t->keys++;
    }
    fg_shm_span chain[FG_SHM_ENTRIES];
    size_t n = fg_shm_chain(m, head->region, FG_SHM_FAMILY, chain, FG_SHM_ENTRIES);
    *counters_id = n > 0 ? chain[n - 1].region : head->region;
    fg_sfam_add_table(&t->counters, head);
    for (size_t i = 0; i < n; i++)
        if (chain[i].region != head->region) fg_sfam_add_table(&t->counters, &chain[i]);
    return 0;
}

int fg_shared_family_keys(fg_shared_family *f, fg_shared_family_key_fn fn, void *ud) {
    for (uint32_t i = 0; i < f->capacity; i++) {
        fg_sfam_slot *s = fg_sfam_slot_at(f->slots, f->slot_size, i);
        if (atomic_load_explicit(&s->state, memory_order_acquire) != FG_SFAM_LIVE) continue;
        uint32_t len = __atomic_load_n(&s->key_len, __ATOMIC_RELAXED);
        if (len > FG_SHARED_FAMILY_KEY_MAX) continue; /* no key this code made: a damaged file */
        uint64_t word = atomic_load_explicit(&fg_sfam_slot_block(s)->word, memory_order_acquire);
        int rc = fn(ud, s->key, len, fg_block_word_state(word));
        if (rc != 0) return rc;
    }
    return 0;
}

void fg_shared_family_test_hold_lock(fg_shared_family *f) {
    fg_lock_acquire_repair(&f->h->lock, fg_lock_owner_get(fg_shm_owner(f->map)), fg_sfam_repair, f);
}
