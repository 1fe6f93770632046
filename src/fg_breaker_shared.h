/*
 * fg_breaker_shared.h -- what a breaker whose block lives in memory shared
 * by processes needs beyond fg_breaker_place (internal: the Lua binding's
 * shared breakers and the tests use it).
 */
#ifndef FG_BREAKER_SHARED_H
#define FG_BREAKER_SHARED_H

#include <stddef.h>
#include <stdint.h>

#include "fg_shm.h"
#include "fluxgate.h"

/* h's block is in map m. From now on h writes m's owner tag into its
 * block's lock, a tag that follows fork, so that another process can tell
 * whether the holder of the lock still lives. When the block is a breaker
 * region of m (a shared breaker's, not a family key's), fg_breaker_info
 * reports the counters of the region's whole chain (fg_shm.h "Chains"):
 * the breaker's totals over every definition it had since the map was
 * made, whichever process counted them, the same from a handle on any
 * block of the chain. m must outlive h. Call before h is used. */
void fg_breaker_set_zone(fg_breaker *h, fg_shm *m);

/* The state block h works on (two handles on one shared block: equal). */
const void *fg_breaker_block(const fg_breaker *h);

/* What identifies the counters fg_breaker_info reports for h, for a
 * reader that must count each once however many handles it has: the root
 * of h's chain for a shared breaker (the same for handles on any of its
 * blocks, for the map's life), else h's block. */
const void *fg_breaker_counters_id(const fg_breaker *h);

/* The fingerprint a block of definition `index` carries (0: no such
 * definition). Equal fingerprints: fg_breaker_place can attach. */
uint64_t fg_breaker_definition_fingerprint(const fg_policy *policy, size_t index);

/* The counters of a block of any definition made by this version of the
 * library (size: the bytes it may span), read without its lock, as
 * another process may be counting into it: each word whole, a call in
 * progress counted or not. The half-open leases nobody took back yet are
 * not expired here (lease_expired as last counted). Returns 0, or -1 (out
 * zeroed) when it is no such block. */
int fg_breaker_block_counters(const void *block, size_t size, fg_counters *out);

/* to += from, field by field. */
void fg_counters_add(fg_counters *to, const fg_counters *from);

/* The totals of the shared breaker whose chain's head is `head` (from
 * fg_shm_heads), read from the map alone, without a handle: the counters
 * of every block of its chain, the head block's state, and what identifies
 * the counters (the chain's root, as fg_breaker_counters_id). Returns 0, or
 * -1 when the head holds no block this code made. */
int fg_breaker_zone_totals(const fg_shm *m, const fg_shm_span *head, fg_counters *out, fg_state *state,
                           const void **counters_id);

/* For tests only (the real-nginx test's debug endpoint, through the FFI):
 * takes h's block lock as a record would, and keeps it, so that a test can
 * kill the process while it holds the lock. */
void fg_breaker_test_hold_lock(fg_breaker *h);

#endif /* FG_BREAKER_SHARED_H */
