/*
 * fg_shared_family.h -- keyed breakers whose state blocks live in a shared
 * map (fg_shm.h), so that every process of a group (the workers of an
 * nginx instance) sees one breaker per key. Internal: the Lua binding's
 * policy:shared_family and the tests use it.
 *
 * The family is one region of the map: a header (with the family lock, a
 * robust fg_lock), a "carried" block (the family's own handle's block; it
 * counts no call: before chains it held the counters of replaced tables,
 * and a table made so is still read whole), and a fixed table of
 * `capacity` slots (open addressing, linear probing). A slot is a state word (free / being made / live), the key
 * (at most FG_SHARED_FAMILY_KEY_MAX bytes) and the key's state block.
 *   - Looking a key up takes no lock: a live slot never changes its key,
 *     and its state word is published (release) after key and block.
 *   - Making a key takes the family lock, probes again, and claims the
 *     first free slot: two processes making the same key get the same
 *     block. A process killed while it makes one leaves a slot "being
 *     made"; whoever takes the lock over frees it again.
 *   - Slots are never freed: no eviction (a process may hold a handle on
 *     a key's block at any time, and nothing in the hot path could notice a
 *     slot reused for another key). When every slot is taken, making a key
 *     fails with a message that says to give a larger capacity.
 * A changed definition or capacity gets a fresh region (fg_shm_region's
 * fingerprint covers both), the next in the chain of the family's tables
 * (fg_shm.h "Chains"): processes still on an old table (the old workers of
 * a graceful reload) keep counting there, even making keys, and the
 * family's totals are those of the whole chain, read from any of its
 * tables, so that they never decrease and count every call once.
 */
#ifndef FG_SHARED_FAMILY_H
#define FG_SHARED_FAMILY_H

#include <stddef.h>
#include <stdint.h>

#include "fg_shm.h"
#include "fluxgate.h"

enum {
    FG_SHARED_FAMILY_KEY_MAX = 128,          /* bytes of a key */
    FG_SHARED_FAMILY_CAPACITY_MAX = 1 << 24  /* slots of one family */
};

typedef struct fg_shared_family fg_shared_family;

/* Opens the family of definition `index` in map m (its region named after
 * the definition): attached when the map holds a table of this definition
 * and capacity, else made (retiring a table of another definition or
 * capacity, its predecessor in the chain). opt: alloc, clock_kind and seed are
 * used (a seeded family gives each key a sequence of its own, the same in
 * every run); customs are not needed. *status: fg_shm_status. Returns the
 * family (it holds a reference on m and on policy), or NULL and err. */
fg_shared_family *fg_shared_family_open(fg_shm *m, fg_policy *policy, size_t index, uint32_t capacity,
                                        const fg_breaker_options *opt, int *status, char *err, size_t cap);
void fg_shared_family_free(fg_shared_family *f);

/* Bytes the region of such a family takes in a map (0: too large). */
size_t fg_shared_family_region_size(const fg_policy *policy, size_t index, uint32_t capacity);

/* The state block of key[0..len): found, or made now (closed, empty
 * window; *made = 1). Attach a handle to it with fg_breaker_place(...,
 * attach = 1) and fg_breaker_set_lock_owner(h, fg_shm_owner(map)). NULL
 * and err when the key is longer than FG_SHARED_FAMILY_KEY_MAX or the
 * table is full. Lock-free for an existing key. */
void *fg_shared_family_block(fg_shared_family *f, const void *key, size_t len, int *made, char *err,
                             size_t cap);

/* Bytes of a key's block (fg_breaker_footprint). */
size_t fg_shared_family_block_size(const fg_shared_family *f);
uint32_t fg_shared_family_capacity(const fg_shared_family *f);
/* Keys made so far, by any process. */
size_t fg_shared_family_size(const fg_shared_family *f);
fg_shm *fg_shared_family_map(const fg_shared_family *f);
/* What identifies the counters fg_shared_family_totals_get reports, for a
 * reader that must count each once however many families it has open on
 * the tables of one chain: the chain's root table (for the map's life). */
const void *fg_shared_family_counters_id(const fg_shared_family *f);

/* The family's totals: the counters of every table of its chain (each
 * one's carried block and live keys: this table's with each key's block
 * lock taken in turn, the others' read without locks, as processes may
 * still count there); keys and keys per state of this table only (what
 * this process uses). O(capacity of every table of the chain). */
typedef struct fg_shared_family_totals {
    fg_counters counters;
    uint64_t states[FG_STATE_COUNT];
    size_t keys;
} fg_shared_family_totals;
void fg_shared_family_totals_get(fg_shared_family *f, fg_shared_family_totals *t);

/* The same totals for the family table whose chain's head is `head` (from
 * fg_shm_heads), read from the map alone, without an open family: what a
 * reader that holds none finds there. *counters_id as
 * fg_shared_family_counters_id. Returns 0, or -1 when the head holds no
 * table this code made. O(capacity). */
int fg_shared_family_zone_totals(const fg_shm *m, const fg_shm_span *head, fg_shared_family_totals *t,
                                 const void **counters_id);

/* Calls fn for every live key, in table order (no lock held: fn may call
 * into the family). Stops when fn returns nonzero, and returns that. */
typedef int (*fg_shared_family_key_fn)(void *ud, const char *key, size_t len, fg_state state);
int fg_shared_family_keys(fg_shared_family *f, fg_shared_family_key_fn fn, void *ud);

/* For tests only: takes the family lock and keeps it (a test kills the
 * process holding it). */
void fg_shared_family_test_hold_lock(fg_shared_family *f);

#endif /* FG_SHARED_FAMILY_H */
