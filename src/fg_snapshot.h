/*
 * fg_snapshot.h -- the breaker snapshot format (SPEC section 10), version 1,
 * for fg_breaker_snapshot / fg_breaker_restore (fg_snapshot.c) and for the
 * tests and the fuzzer that need to build hostile snapshots.
 *
 * A snapshot is written field by field, every integer little-endian and
 * every time an IEEE-754 double's bits as a little-endian u64, so it is the
 * same bytes on every machine, compiler and Lua. It never copies the state
 * block: the in-memory layout may change without changing the format.
 *
 *   offset  type       field
 *   0       u32        magic "FGSN" (0x4E534746)
 *   4       u16        format version (1)
 *   6       u16        bytes of this fixed part (392)
 *   8       u32        total length, checksum included
 *   12      u32        window size
 *   16      u64        definition fingerprint (fg_block_definition_fingerprint)
 *   24      u32        half-open slot capacity
 *   28      u8 x 4     window kind, threshold count, exact durations, name length
 *   32      u32        state (fg_state)
 *   36      u32        reopens
 *   40      u64        generation
 *   48      u64        transition sequence (the latest transition's number)
 *   56      u32        consecutive failures
 *   60      u32        flags: FG_SNAPSHOT_NO_COUNTERS (1), the breaker kept
 *                      no counters of its own (sink_only): the counter
 *                      fields below are zero and a restore sets none;
 *                      other bits: an error
 *   64      f64        changed_at - now
 *   72      f64        retry factor (the jitter drawn when the breaker opened)
 *   80      u64 x 4    PRNG state: the SplitMix64 word, FG_SNAPSHOT_RANDOM_TAG,
 *                      0, 0 (fg_random.h); any other four words, not all
 *                      zero, are a xoshiro256** state (what fluxgate kept
 *                      before), restored folded into one word
 *                      (fg_random_fold)
 *   112     u64 x 8    counters: success, failure, ignored, stale, records,
 *                      admitted, rejected, lease_expired
 *   176     u64 x 27   transition counters, (from, to) in the order of
 *                      fg_snapshot_transition_pair
 *   392     bytes      the breaker's name (informational; not checked)
 *   then    u32        window entries n, then n entries, oldest first:
 *                        CountWindow, 32-bit entries: u32 as fg_window.h
 *                          encodes them (slow level in the top bits,
 *                          microseconds below, all ones: a failure);
 *                        CountWindow, exact durations: f64 (-1: a failure);
 *                        TimeWindow: i64 second - now's second (in
 *                          (-size, 0], ascending), u32 total, u32 failures,
 *                          u32 slow[threshold count], u64 duration[3] (the
 *                          bucket's exact sum, fg_exact_sum.h)
 *   then    u32        half-open leases n, then n x f64 acquired_at - now,
 *                      oldest first
 *   then    u64        checksum: FNV-1a 64 of every byte before it
 *
 * Times are relative to the breaker's clock when the snapshot was taken and
 * are rebased on the restoring breaker's clock. Running totals (the
 * window's counts, sums and slow counts) are not stored: restore recomputes
 * them from the entries.
 */
#ifndef FG_SNAPSHOT_H
#define FG_SNAPSHOT_H

#include <stddef.h>
#include <stdint.h>

#include "fluxgate.h"

enum {
    FG_SNAPSHOT_MAGIC = 0x4E534746u, /* "FGSN" little-endian */
    FG_SNAPSHOT_VERSION = 1,
    FG_SNAPSHOT_TRANSITION_PAIRS = 27,
    FG_SNAPSHOT_COUNTERS = 8,
    FG_SNAPSHOT_NO_COUNTERS = 1, /* the flags at offset 60 */
    /* offsets of the fixed part */
    FG_SNAP_OFF_MAGIC = 0,
    FG_SNAP_OFF_VERSION = 4,
    FG_SNAP_OFF_FIXED_BYTES = 6,
    FG_SNAP_OFF_LENGTH = 8,
    FG_SNAP_OFF_WINDOW_SIZE = 12,
    FG_SNAP_OFF_FINGERPRINT = 16,
    FG_SNAP_OFF_SLOT_CAPACITY = 24,
    FG_SNAP_OFF_WINDOW_KIND = 28,
    FG_SNAP_OFF_THRESHOLDS = 29,
    FG_SNAP_OFF_EXACT = 30,
    FG_SNAP_OFF_NAME_LENGTH = 31,
    FG_SNAP_OFF_STATE = 32,
    FG_SNAP_OFF_REOPENS = 36,
    FG_SNAP_OFF_GENERATION = 40,
    FG_SNAP_OFF_SEQUENCE = 48,
    FG_SNAP_OFF_CONSECUTIVE = 56,
    FG_SNAP_OFF_FLAGS = 60,
    FG_SNAP_OFF_CHANGED_AT = 64,
    FG_SNAP_OFF_RETRY_FACTOR = 72,
    FG_SNAP_OFF_RANDOM = 80,
    FG_SNAP_OFF_COUNTERS = 112,
    FG_SNAP_OFF_TRANSITIONS = 176,
    FG_SNAP_FIXED = 392,
    /* the smallest snapshot: no name, empty window, no leases */
    FG_SNAP_MIN = FG_SNAP_FIXED + 4 + 4 + 8
};

/* The second word of the PRNG field for a one-word (SplitMix64) state:
 * "FGSM64" and two zero bytes, little-endian. Tagged rather than left
 * zero so that a state of 0 is not the all-zero field that readers of old
 * snapshots (and this one) refuse, and so that no 256-bit state of the
 * older generator is taken for a one-word state unless its last three
 * words happen to be exactly these (probability 2^-192; it would still
 * restore, to a deterministic state). */
#define FG_SNAPSHOT_RANDOM_TAG UINT64_C(0x000034364D534746)

/* The largest number of seconds a stored relative time may span: times
 * stay far inside the range where a double counts whole seconds exactly. */
#define FG_SNAPSHOT_TIME_LIMIT 9.0e15

/* The checksum of the format: FNV-1a 64 over data[0..len). */
uint64_t fg_snapshot_checksum(const void *data, size_t len);

/* Rewrites the checksum of a snapshot of len bytes (len >= 8) so that it
 * matches the bytes before it: for tests and the fuzzer, which edit
 * snapshots and want them to reach the structural checks. */
void fg_snapshot_reseal(void *data, size_t len);

/* The (from, to) pair that the format's i-th transition counter counts
 * (0 <= i < FG_SNAPSHOT_TRANSITION_PAIRS): to closed, disabled,
 * metrics_only, forced_open from each state in fg_state order (4 x 6),
 * then closed -> open, half_open -> open, open -> half_open. */
void fg_snapshot_transition_pair(int i, fg_state *from, fg_state *to);

/* Little-endian loads and stores, for the tests' edits. */
static inline uint64_t fg_snapshot_load(const void *p, int bytes) {
    const unsigned char *b = p;
    uint64_t v = 0;
    for (int i = bytes - 1; i >= 0; i--) v = (v << 8) | b[i];
    return v;
}

static inline void fg_snapshot_store(void *p, int bytes, uint64_t v) {
    unsigned char *b = p;
    for (int i = 0; i < bytes; i++) b[i] = (unsigned char)(v >> (8 * i));
}

#endif /* FG_SNAPSHOT_H */
