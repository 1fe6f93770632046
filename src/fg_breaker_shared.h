/*
 * fg_breaker_shared.h -- what a breaker whose block lives in memory shared
 * by processes needs beyond fg_breaker_place (internal: the Lua binding's
 * shared breakers and the tests use it).
 */
#ifndef FG_BREAKER_SHARED_H
#define FG_BREAKER_SHARED_H

#include <stddef.h>
#include <stdint.h>

#include "fg_lock.h"
#include "fluxgate.h"

/* From now on h writes owner's tag into its block's lock, a tag that
 * follows fork, so that another process can tell whether the holder of the
 * lock still lives. owner must outlive h. Call before h is used. */
void fg_breaker_set_lock_owner(fg_breaker *h, const fg_lock_owner *owner);

/* The state block h works on (two handles on one shared block: equal). */
const void *fg_breaker_block(const fg_breaker *h);

/* The fingerprint a block of definition `index` carries (0: no such
 * definition). Equal fingerprints: fg_breaker_place can attach. */
uint64_t fg_breaker_definition_fingerprint(const fg_policy *policy, size_t index);

/* Copies the call and transition counters of old_block -- a block of an
 * earlier definition of the same breaker, made by this version of the
 * library -- into h's block, which must be fresh: so that the exported
 * counters never decrease when a definition changes. Returns 0, or -1
 * when old_block is not such a block (nothing changes). */
int fg_breaker_carry_counters(fg_breaker *h, const void *old_block, size_t old_size);

/* For tests only (the real-nginx test's debug endpoint, through the FFI):
 * takes h's block lock as a record would, and keeps it, so that a test can
 * kill the process while it holds the lock. */
void fg_breaker_test_hold_lock(fg_breaker *h);

#endif /* FG_BREAKER_SHARED_H */
