/*
 * fg_snapshot_internal.h -- what the snapshot files share: the byte writer
 * (with the running checksum), the bounds-checked reader, and the parsed
 * fixed part. fg_snapshot.c holds the public functions and the fixed part;
 * fg_snapshot_window.c the variable sections (window entries, leases).
 */
#ifndef FG_SNAPSHOT_INTERNAL_H
#define FG_SNAPSHOT_INTERNAL_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "fg_breaker_internal.h"
#include "fg_snapshot.h"

/* ---- writing: snprintf-style, the checksum follows every byte ------------ */

typedef struct fg_snap_out {
    unsigned char *buf; /* NULL: only count */
    size_t cap;
    size_t pos;         /* bytes produced, also past cap */
    uint64_t hash;      /* FNV-1a of every byte produced */
} fg_snap_out;

void fg_snap_out_bytes(fg_snap_out *o, const void *data, size_t n);

static inline void fg_snap_out_u(fg_snap_out *o, uint64_t v, int bytes) {
    unsigned char b[8];
    fg_snapshot_store(b, bytes, v);
    fg_snap_out_bytes(o, b, (size_t)bytes);
}

static inline void fg_snap_out_f64(fg_snap_out *o, double d) {
    uint64_t bits;
    memcpy(&bits, &d, sizeof bits);
    fg_snap_out_u(o, bits, 8);
}

/* ---- reading: every read is bounds-checked -------------------------------- */

typedef struct fg_snap_in {
    const unsigned char *data;
    size_t end; /* the checksum's offset: nothing at or past it is a field */
    size_t pos;
} fg_snap_in;

/* Whether n more bytes are there to read. */
static inline int fg_snap_in_has(const fg_snap_in *in, size_t n) {
    return in->pos <= in->end && n <= in->end - in->pos;
}

/* Reads bytes (1..8) as a little-endian integer; the caller checked
 * fg_snap_in_has. */
static inline uint64_t fg_snap_in_u(fg_snap_in *in, int bytes) {
    uint64_t v = fg_snapshot_load(in->data + in->pos, bytes);
    in->pos += (size_t)bytes;
    return v;
}

static inline double fg_snap_in_f64(fg_snap_in *in) {
    uint64_t bits = fg_snap_in_u(in, 8);
    double d;
    memcpy(&d, &bits, sizeof d);
    return d;
}

/* ---- the variable sections (fg_snapshot_window.c) -------------------------- */

/* The number of entries the window section will hold, and their bytes
 * (lock held; a TimeWindow advanced to now). */
uint32_t fg_snap_window_count(const fg_breaker *h);
size_t fg_snap_window_entry_bytes(const fg_breaker *h);

/* Writes the window section (count and entries) and the lease section.
 * Lock held, leases expired and the window advanced at now. */
void fg_snap_write_window(fg_breaker *h, fg_snap_out *o, double now);
uint32_t fg_snap_lease_count(const fg_breaker *h);
void fg_snap_write_leases(fg_breaker *h, fg_snap_out *o, double now, double changed_rel);

/* Validates the window section at in->pos against h's definition and the
 * restored state; on success leaves in->pos after it and returns NULL,
 * else returns what is wrong (written into why[0..cap)). No lock needed. */
const char *fg_snap_check_window(const fg_breaker *h, fg_snap_in *in, fg_state state, char *why,
                                 size_t cap);
/* The same for the lease section. */
const char *fg_snap_check_leases(const fg_breaker *h, fg_snap_in *in, fg_state state,
                                 double changed_rel, char *why, size_t cap);

/* Replaces the window's content with the (validated) section at `at`, and
 * the half-open leases with the one at `leases_at`, rebased on now. Lock
 * held. */
void fg_snap_apply_window(fg_breaker *h, const unsigned char *data, size_t at, double now);
void fg_snap_apply_leases(fg_breaker *h, const unsigned char *data, size_t at, double now);

#endif /* FG_SNAPSHOT_INTERNAL_H */
