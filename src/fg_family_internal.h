/*
 * fg_family_internal.h -- a family of breakers (fluxgate.h, "families"):
 * shared by fg_family.c (the index: hash table, recency list, eviction,
 * life cycle), fg_family_call.c (the calls on one key) and
 * fg_family_reload.c (a new definition, keys moved one by one).
 *
 * Design. A family is one definition with one set of callbacks, so the
 * per-process part of a breaker (fg_breaker: clock, random, Custom()
 * predicates, listeners) exists once, as the family's `proto` handle. Per
 * key there is one allocation: an fg_family_entry (48 bytes: index links,
 * last use, pins), the key's bytes, then the key's state block. A call on a
 * key drives that block through a transient handle on the stack
 * (fg_breaker_bind: no allocation), whose transitions are numbered and
 * delivered by proto's listeners, with the key in fg_transition.key.
 *
 * Locks. The family's lock (an fg_lock) guards the index: buckets, the
 * recency list, counts, the family clock, the zombie and graveyard lists.
 * It is held for O(1) work per call (a lookup, a move to the head of the
 * list, a bounded look at the least recently used keys), never while a
 * clock function, a listener or a Custom() predicate runs. Lock order:
 * family lock, then a key's block lock (eviction looks at the state), then
 * the dispatch queue's lock (fg_breaker_dispatch_idle); nothing takes the
 * family lock while holding a block lock.
 *
 * Lifetime of an entry. `pins` counts family calls running on the entry.
 * Lookups pin under the family lock; a record pins without it (its ticket
 * is in flight, so the entry cannot be freed meanwhile) before it touches
 * the block. Eviction, under the family lock and the key's block lock,
 * requires: closed, no calls in flight (admitted minus recorded, from the
 * block's own counters), no pins. An evicted entry waits in the graveyard
 * until the listeners have delivered every transition that may name its
 * key, then is freed. When the only thing keeping a key is calls in flight
 * older than the lease (lost tickets), the key is evicted all the same, but
 * its entry becomes a zombie -- out of the index, its memory kept -- until
 * those calls are recorded (a late record is then safe) or the family is
 * freed.
 */
#ifndef FG_FAMILY_INTERNAL_H
#define FG_FAMILY_INTERNAL_H

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

#include "fg_block.h"
#include "fg_breaker_internal.h"
#include "fg_lock.h"
#include "fluxgate.h"

typedef struct fg_family_entry fg_family_entry;
struct fg_family_entry {
    fg_family_entry *chain;   /* the next entry of its bucket (or of the zombie/graveyard list) */
    fg_family_entry *newer;   /* recency list: toward the most recently used */
    fg_family_entry *older;
    union {
        double last_used;     /* in the index: the family's time of the last acquire/get */
        uint64_t free_after;  /* in the graveyard: free once transitions below it are delivered */
    } u;
    uint32_t hash;
    uint32_t key_len;
    _Atomic uint32_t pins;    /* family calls running on this entry */
    _Atomic uint8_t detached; /* evicted: its transitions no longer move the state counts */
    uint8_t pad[3];
    /* then key_len bytes of key, then the block at fg_family_block_offset */
};
_Static_assert(sizeof(fg_family_entry) == 48, "the index entry is 48 bytes");

/* Counters that the family's calls add up, one stripe per group of CPUs
 * (128 bytes apart: never one cache line, whatever the alignment). */
enum {
    FG_FAMILY_SUCCESS,
    FG_FAMILY_FAILURE,
    FG_FAMILY_IGNORED,
    FG_FAMILY_STALE,
    FG_FAMILY_ADMITTED,
    FG_FAMILY_REJECTED,
    FG_FAMILY_COUNTERS,
    FG_FAMILY_STRIPES = 8,
    /* how many least recently used keys a creation looks at for one to evict */
    FG_FAMILY_EVICT_SCAN = 64,
    FG_FAMILY_INITIAL_BUCKETS = 16
};
typedef struct fg_family_stripe {
    _Atomic uint64_t n[FG_FAMILY_COUNTERS];
    char pad[128 - FG_FAMILY_COUNTERS * 8];
} fg_family_stripe;

/* A definition the family's keys may run: the family's first, then one in
 * front per reload (fg_family_reload.c). A key's block names its own by
 * fingerprint; keys move to the newest on use (fg_family_migrate). */
typedef struct fg_family_def fg_family_def;
struct fg_family_def {
    fg_family_def *older;
    fg_breaker *handle;            /* proto, or the handle proto's reload made */
    fg_block_layout layout;
    uint64_t fingerprint;
};

struct fg_family {
    fg_allocator alloc;
    fg_breaker *proto;             /* the definition's handle (its own block is unused) */
    fg_family_def first;
    _Atomic(fg_family_def *) defs; /* the newest; changed under lock */
    size_t max_keys;
    double idle;
    double lease;
    int bounded;                   /* max_keys or idle: the family reads its clock */
    int has_seed;
    uint64_t seed;
    uint64_t hash_seed;            /* per family: keys cannot be chosen to collide */
    fg_lock lock;
    /* ---- under lock ---- */
    fg_family_entry **buckets;
    size_t bucket_count;           /* a power of two */
    size_t count;
    fg_family_entry *newest, *oldest;
    fg_family_entry *sweep_at;     /* where the lazy idle sweep goes on (NULL: the oldest) */
    fg_family_entry *zombies;
    fg_family_entry *graveyard;
    double last_raw, last_time, offset; /* the family's clock (fg_clock_advance) */
    uint64_t created, evicted;
    /* ---- aggregates, atomics (written under keys' block locks or by calls) ---- */
    _Atomic uint64_t transitions[FG_STATE_COUNT][FG_STATE_COUNT];
    _Atomic int64_t states[FG_STATE_COUNT];
    _Atomic uint64_t lease_expired;
    fg_family_stripe stripes[FG_FAMILY_STRIPES];
};

/* The hooks' user data for one transient handle, and what the handle
 * points to for its hooks and key (fg_breaker_keyed): lives as long as
 * the view. */
typedef struct fg_family_hook_ctx {
    fg_family *family;
    fg_family_entry *entry;
    fg_breaker_keyed keyed;
} fg_family_hook_ctx;

static inline size_t fg_family_block_offset(size_t key_len) {
    return (sizeof(fg_family_entry) + key_len + 7u) & ~(size_t)7u;
}
static inline const char *fg_family_entry_key(const fg_family_entry *e) {
    return (const char *)(e + 1);
}
static inline fg_block *fg_family_entry_block(fg_family_entry *e) {
    return (fg_block *)((char *)e + fg_family_block_offset(e->key_len));
}

/* Looks the key up and pins its entry, making it when missing (make = 1).
 * have_raw: `raw` is the caller's clock reading. Returns the pinned entry,
 * or NULL: no such key (make = 0), or it could not be made (message in
 * err). Takes and releases the family lock. */
fg_family_entry *fg_family_pin(fg_family *f, const void *key, size_t key_len, int make,
                               int have_raw, double raw, char *err, size_t err_cap);

static inline void fg_family_unpin(fg_family_entry *e) {
    atomic_fetch_sub_explicit(&e->pins, 1, memory_order_release);
}

/* A transient handle for the entry's block (fg_breaker_bind) whose
 * transitions reach the family's aggregates and listeners. */
void fg_family_bind(fg_family *f, fg_family_entry *e, fg_breaker *view, fg_family_hook_ctx *ctx);

static inline fg_family_def *fg_family_current(const fg_family *f) {
    return atomic_load_explicit(&((fg_family *)f)->defs, memory_order_acquire);
}

/* The definition a key's block was made for (the newest, on a key that
 * has moved or was made since the last reload). */
static inline const fg_family_def *fg_family_def_of(const fg_family *f, const fg_block *b) {
    const fg_family_def *d = fg_family_current(f);
    while (d->older != NULL && d->fingerprint != b->fingerprint) d = d->older;
    return d;
}

/* Calls admitted and not yet recorded. Block lock held. */
uint64_t fg_family_in_flight_locked(fg_block *b);

/* Puts `fresh` where `old` is in the index (its bucket and recency place)
 * and sends `old` to the graveyard. Lock held. */
void fg_family_replace_locked(fg_family *f, fg_family_entry *old, fg_family_entry *fresh);

/* Moves the key of e to the family's newest definition when it is on an
 * older one and has no calls in flight (fg_family_reload.c): returns the
 * entry the key has now (e when it stays). Family lock held. */
fg_family_entry *fg_family_migrate(fg_family *f, fg_family_entry *e);

/* Frees the definitions reloads added (fg_family_free). */
void fg_family_free_defs(fg_family *f);

/* The calling thread's counter stripe. */
fg_family_stripe *fg_family_my_stripe(fg_family *f);

#endif /* FG_FAMILY_INTERNAL_H */
