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
 * in expiry order and only its head is ever checked). A ticket names its slot
 * by index and a hand-out number: every hand-out gets a new odd number from
 * one counter, and a slot given back becomes even, so a late or double
 * release never frees someone else's slot; a reset starts a new era (the
 * numbers handed out before it are void) in O(1). Numbers are 32-bit: the
 * era test holds for 2^31 hand-outs after a ticket's own; the breaker's
 * generation, which every reset also moves on, is the exact guard.
 * The bookkeeping (fg_half_open_state), the lease times and the links live
 * in the breaker's state block (fixed-width, indexes instead of pointers);
 * fg_half_open is a per-process view of them. Never allocates. Not
 * thread-safe: the breaker calls it under its lock.
 */
#ifndef FG_HALF_OPEN_H
#define FG_HALF_OPEN_H

#include <stdint.h>

#include "fluxgate.h"

typedef struct fg_half_open_state {
    uint64_t expired;   /* leases taken back since creation */
    uint32_t in_flight;
    uint32_t fresh;     /* slots[fresh .. capacity) were not used since the reset */
    int32_t free_head;  /* released slots, or -1 */
    int32_t oldest;     /* busy list head (next to expire), or -1 */
    int32_t newest;     /* busy list tail, or -1 */
    uint32_t next_seq;  /* the next hand-out's number (odd) */
    uint32_t era_start; /* next_seq at the last reset */
    uint32_t pad;
} fg_half_open_state;

/* 8 bytes: links are 16-bit slot indexes (max_half_open_calls is at most
 * 65536), and a link to the slot itself means "none". */
typedef struct fg_half_open_slot {
    uint32_t seq;   /* the hand-out's number: odd while held */
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

typedef struct fg_half_open {
    fg_half_open_state *st;
    double *acquired_at;       /* [capacity] */
    fg_half_open_slot *slots;  /* [capacity] */
    uint32_t capacity;
    double lease;              /* seconds */
} fg_half_open;

/* Makes a view over st and the arrays (capacity >= 1 each). fresh = 1 also
 * empties them (a new block). */
void fg_half_open_init(fg_half_open *h, fg_half_open_state *st, double *acquired_at,
                       fg_half_open_slot *slots, uint32_t capacity, double lease, int fresh);

/* Frees every slot at once (a transition). O(1); sequence numbers survive. */
void fg_half_open_reset(fg_half_open *h);

/* Takes back every lease granted at or before now - lease. */
void fg_half_open_expire(fg_half_open *h, double now);

/* Grants a slot at now: returns its index and writes its sequence number, or
 * returns -1 when every slot is busy. Call fg_half_open_expire first. */
int32_t fg_half_open_take(fg_half_open *h, double now, uint32_t *seq);

/* Releases slot if it is still held under seq; returns 1 when it was, 0
 * when the lease had already been taken back or released (nothing changes). */
int fg_half_open_give(fg_half_open *h, int32_t slot, uint32_t seq);

#endif /* FG_HALF_OPEN_H */
