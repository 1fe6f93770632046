/*
 * fg_half_open.h -- the half-open probe slots, held as leases.
 *
 * At most `capacity` admitted probes are in flight at once. A slot that is
 * not released within `lease` seconds is taken back, so a lost ticket (an
 * aborted request, a killed coroutine) can never wedge the breaker.
 *
 * Everything is O(1): a free list, a "never used since the reset" bump
 * index, and an acquire-ordered doubly linked list of busy slots whose head
 * is the oldest lease (leases all have the same length, so the list is also
 * in expiry order and only its head is ever checked).
 * A slot is 12 bytes and one bit: its lease time (a double, kept after
 * the slot is freed), two 16-bit links, and a bit in the busy bitmap. A
 * ticket names its slot by index and by an identity derived from the lease
 * time and the era (fg_half_open_id). A slot handed out again in the same
 * era gets a later lease time than its previous hand-out (a grant at the
 * same clock reading is moved on by one ulp, which lengthens that lease by
 * as much), so it gets another identity and a late or double release never
 * frees someone else's slot; a reset starts a new era, which changes every
 * identity, in O(1). Identities are 32-bit, so two hand-outs of one slot
 * in one era share one with probability about 2^-32; the breaker's
 * generation, which every reset also moves on, is the exact guard across
 * transitions.
 * The bookkeeping (fg_half_open_state), the lease times and the links live
 * in the breaker's state block (fixed-width, indexes instead of pointers);
 * fg_half_open is a per-process view of them. Never allocates. Not
 * thread-safe: the breaker calls it under its lock.
 */
#ifndef FG_HALF_OPEN_H
#define FG_HALF_OPEN_H

#include <stdint.h>
#include <string.h>

#include "fluxgate.h"

typedef struct fg_half_open_state {
    uint64_t expired;   /* leases taken back since creation */
    uint32_t in_flight;
    uint32_t fresh;     /* slots[fresh .. capacity) were not used since the reset */
    int32_t free_head;  /* released slots, or -1 */
    int32_t oldest;     /* busy list head (next to expire), or -1 */
    int32_t newest;     /* busy list tail, or -1 */
    uint32_t era;       /* moved on by every reset */
} fg_half_open_state;

/* Bytes of `capacity` slots' arrays: lease times, links, busy bitmap. */
static inline uint64_t fg_half_open_bytes(uint32_t capacity) {
    return ((uint64_t)capacity * 12u + 7u) / 8u * 8u + ((uint64_t)capacity + 63u) / 64u * 8u;
}

/* 4 bytes: links are 16-bit slot indexes (max_half_open_calls is at most
 * 65536), and a link to the slot itself means "none". */
typedef struct fg_half_open_slot {
    uint16_t prev;  /* busy list: the older neighbour */
    uint16_t next;  /* busy: the newer neighbour; free: the next free slot */
} fg_half_open_slot;

/* A link of slot i as an index, or -1 for none. */
static inline int32_t fg_half_open_link(int32_t i, uint16_t link) {
    return link == (uint16_t)i ? -1 : (int32_t)link;
}

/* The link to store for index j (-1: none) in slot i. */
static inline uint16_t fg_half_open_to_link(int32_t i, int32_t j) {
    return (uint16_t)(j < 0 ? i : j);
}

/* The identity a ticket holds for a lease granted at `at` in `era`. */
static inline uint32_t fg_half_open_id(uint32_t era, double at) {
    uint64_t bits;
    memcpy(&bits, &at, sizeof bits);
    return (uint32_t)bits ^ (uint32_t)(bits >> 32) ^ (era * 0x9E3779B9u);
}

typedef struct fg_half_open {
    fg_half_open_state *st;
    double *acquired_at;       /* [capacity] */
    fg_half_open_slot *slots;  /* [capacity] */
    uint64_t *busy;            /* [(capacity + 63) / 64]: bit i, slot i is held */
    uint32_t capacity;
    double lease;              /* seconds */
} fg_half_open;

/* The view over st and the arrays at `arrays` (see fg_half_open_init)
 * without touching them: O(1), made on demand by the breaker. */
static inline fg_half_open fg_half_open_view(fg_half_open_state *st, void *arrays,
                                             uint32_t capacity, double lease) {
    fg_half_open h;
    h.capacity = capacity > 0 ? capacity : 1;
    h.st = st;
    h.acquired_at = (double *)arrays;
    h.slots = (fg_half_open_slot *)(h.acquired_at + h.capacity);
    /* 12 bytes a slot: the bitmap after the links, 8-byte aligned */
    h.busy = (uint64_t *)((char *)arrays + (((size_t)h.capacity * 12u + 7u) & ~(size_t)7u));
    h.lease = lease;
    return h;
}

/* Makes a view over st and the arrays at `arrays` (fg_half_open_bytes,
 * 8-byte aligned: lease times, links, busy bitmap; capacity >= 1). fresh =
 * 1 also empties them (a new block). */
void fg_half_open_init(fg_half_open *h, fg_half_open_state *st, void *arrays, uint32_t capacity,
                       double lease, int fresh);

/* Frees every slot at once (a transition) and starts a new era, which voids
 * every ticket handed out before. O(1). */
void fg_half_open_reset(fg_half_open *h);

/* Takes back every lease granted at or before now - lease. */
void fg_half_open_expire(fg_half_open *h, double now);

/* Grants a slot at now (later than the era's previous grant: see above):
 * returns its index and writes the ticket's identity, or returns -1 when
 * every slot is busy. Call fg_half_open_expire first. */
int32_t fg_half_open_take(fg_half_open *h, double now, uint32_t *id);

/* Releases slot if it is still held under id; returns 1 when it was, 0
 * when the lease had already been taken back or released (nothing changes). */
int fg_half_open_give(fg_half_open *h, int32_t slot, uint32_t id);

/* Whether slot i is held. */
static inline int fg_half_open_busy(const fg_half_open *h, int32_t i) {
    return (int)((h->busy[(uint32_t)i >> 6] >> ((uint32_t)i & 63u)) & 1u);
}

#endif /* FG_HALF_OPEN_H */
