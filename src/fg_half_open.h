/*
 * fg_half_open.h -- the half-open probe slots, held as leases.
 *
 * At most `capacity` admitted probes are in flight at once. A slot that is
 * not released within `lease` seconds is taken back, so a lost ticket (an
 * aborted request, a killed coroutine) can never wedge the breaker.
 *
 * Everything is O(1) (but see "Running out of ticks"): a free list, a
 * "never used in this era" bump index, and an acquire-ordered circular
 * doubly linked list of busy slots whose head is the oldest lease (leases
 * all have the same length, so the list is also in expiry order and only
 * its head is ever checked; the newest is the head's prev).
 *
 * Lease times are 32-bit ticks: tick t of slot i stands for the time
 * base + t * unit, where base is a double in the bookkeeping and unit is
 * 2^grid seconds, a power of two chosen from the lease when an era begins
 * (a lease is 2^28 to 2^29 units, so a lease's ticks stay far below the
 * 2^31 a grant's tick may reach). A grant's time is rounded UP to the grid,
 * so a lease is never taken back early (at most one unit, under a 2^-28th
 * of the lease, late); an era's first grant is its base, exactly.
 *
 * A slot is 7 bytes up to 256 slots (a tick, two 8-bit links, a reissue
 * count) and 9 bytes beyond (16-bit links); a link to the slot itself
 * means "none" on the free list, and a free slot's prev is itself, which a
 * busy slot's prev only is when it is alone on the busy list (then it is
 * the head): that is the busy test, so there is no busy bitmap.
 *
 * Identities. A ticket names its slot by index and by an identity derived
 * from the era, the lease's tick and the reissue count (fg_half_open_id).
 * Within an era, a slot handed out again gets a tick at least its previous
 * one; at the same tick its reissue count moves on by one (after 255 of
 * those at one tick the tick moves on by one unit, which lengthens that
 * lease by as much), so every hand-out of a slot in an era has another
 * (tick, reissue) pair and a late or double release never frees someone
 * else's slot. A reset starts a new era, in O(1), which changes every
 * identity; so does a grant with no lease held (the era restarts at that
 * grant, which keeps ticks small). Identities are 32-bit, so two hand-outs
 * of one slot in different eras share one with probability about 2^-32;
 * two in one era exactly 2^32 units apart (with the same reissue count)
 * always do, which is why a release also checks the ticket's admission
 * time against the lease (fg_half_open_give_at). The breaker's generation,
 * which every transition moves on, is the exact guard across transitions.
 *
 * Running out of ticks. Ticks only grow while some lease is held without
 * a break. When a grant's tick would reach 2^31, the base moves up to the
 * oldest held lease (whose age is less than one lease, so the ticks start
 * again below 2^29 + 1) and the era moves on by as many units, which keeps
 * every identity: that rebase rewrites the ticks of the slots used in the
 * era, O(capacity), at most once per 2^31 - 2^29 - 1 units (three leases or
 * more) of continuously held half_open. A live reload to a much longer
 * lease can leave the grid too fine for it; the rebase then coarsens the
 * grid (ticks rounded up: later, never early), and moves the era on, which
 * changes every held lease's identity (their outcomes then come back stale).
 *
 * The bookkeeping (fg_half_open_state) and the slot arrays live in the
 * breaker's state block (fixed-width, indexes instead of pointers);
 * fg_half_open is a per-process view of them. Never allocates. Not
 * thread-safe: the breaker calls it under its lock.
 */
#ifndef FG_HALF_OPEN_H
#define FG_HALF_OPEN_H

#include <stdint.h>
#include <string.h>

#include "fluxgate.h"

/* 24 bytes. oldest is meaningful while in_flight > 0, free_head while
 * the free list, fresh - in_flight slots long, is not empty. fresh is kept
 * modulo 2^16: with a lease held it is >= 1, so 0 then means 65536 (the
 * largest capacity); without one the next grant restarts the era and
 * reads none of them. */
typedef struct fg_half_open_state {
    double base;        /* the time of tick 0 */
    uint32_t era;       /* added to every tick in identities: moved on by every reset */
    uint32_t in_flight;
    uint16_t fresh;     /* slots[fresh .. capacity) were not used in this era */
    uint16_t oldest;    /* busy list head (next to expire) */
    uint16_t free_head; /* the most recently freed slot */
    int16_t grid;       /* a tick is 2^grid seconds */
} fg_half_open_state;

enum {
    FG_HALF_OPEN_NARROW_MAX = 256, /* up to this capacity, links are 8-bit */
    FG_HALF_OPEN_TICK_BITS = 31    /* a grant's tick stays below 2^31 */
};

/* Bytes of one slot, and of `capacity` slots' arrays: ticks, prev links,
 * next links, reissue counts, padded to 8. */
static inline uint32_t fg_half_open_slot_bytes(uint32_t capacity) {
    return capacity <= FG_HALF_OPEN_NARROW_MAX ? 7u : 9u;
}
static inline uint64_t fg_half_open_bytes(uint32_t capacity) {
    return ((uint64_t)capacity * fg_half_open_slot_bytes(capacity) + 7u) / 8u * 8u;
}

/* The identity a ticket holds for a hand-out at `tick` with `reissue` in
 * `era`: a bijective mix of era + tick (so a rebase, which moves both, keeps
 * it), told apart at one tick by the reissue count. */
static inline uint32_t fg_half_open_id(uint32_t era, uint32_t tick, uint8_t reissue) {
    uint32_t x = era + tick;
    x ^= x >> 16;
    x *= 0x85EBCA6Bu;
    x ^= x >> 13;
    x *= 0xC2B2AE35u;
    x ^= x >> 16;
    return x ^ ((uint32_t)reissue * 0x9E3779B9u);
}

typedef struct fg_half_open {
    fg_half_open_state *st;
    uint32_t *ticks;     /* [capacity] */
    void *prev, *next;   /* [capacity] uint8_t (wide 0) or uint16_t (wide 1) */
    uint8_t *reissue;    /* [capacity] */
    uint32_t capacity;
    int wide;
    double lease;        /* seconds */
} fg_half_open;

/* The view over st and the arrays at `arrays` (see fg_half_open_init)
 * without touching them: O(1), made on demand by the breaker. */
static inline fg_half_open fg_half_open_view(fg_half_open_state *st, void *arrays,
                                             uint32_t capacity, double lease) {
    fg_half_open h;
    h.capacity = capacity > 0 ? capacity : 1;
    h.wide = h.capacity > FG_HALF_OPEN_NARROW_MAX;
    h.st = st;
    h.ticks = (uint32_t *)arrays;
    size_t width = h.wide ? 2u : 1u;
    h.prev = (char *)arrays + (size_t)h.capacity * 4u;
    h.next = (char *)h.prev + (size_t)h.capacity * width;
    h.reissue = (uint8_t *)h.next + (size_t)h.capacity * width;
    h.lease = lease;
    return h;
}

/* Slot i's links (indexes below capacity in a well-formed block). */
static inline uint32_t fg_half_open_prev(const fg_half_open *h, uint32_t i) {
    return h->wide ? ((const uint16_t *)h->prev)[i] : ((const uint8_t *)h->prev)[i];
}
static inline uint32_t fg_half_open_next(const fg_half_open *h, uint32_t i) {
    return h->wide ? ((const uint16_t *)h->next)[i] : ((const uint8_t *)h->next)[i];
}
static inline void fg_half_open_set_prev(fg_half_open *h, uint32_t i, uint32_t j) {
    if (h->wide) ((uint16_t *)h->prev)[i] = (uint16_t)j;
    else ((uint8_t *)h->prev)[i] = (uint8_t)j;
}
static inline void fg_half_open_set_next(fg_half_open *h, uint32_t i, uint32_t j) {
    if (h->wide) ((uint16_t *)h->next)[i] = (uint16_t)j;
    else ((uint8_t *)h->next)[i] = (uint8_t)j;
}

/* fresh, decoded (see fg_half_open_state). */
static inline uint32_t fg_half_open_fresh(const fg_half_open_state *st) {
    return st->fresh == 0 && st->in_flight > 0 ? 65536u : st->fresh;
}

/* Seconds of one tick. */
double fg_half_open_unit(const fg_half_open_state *st);

/* The time slot i's latest lease stands for: base + tick * unit. */
double fg_half_open_time(const fg_half_open *h, uint32_t i);

/* Makes a view over st and the arrays at `arrays` (fg_half_open_bytes,
 * 8-byte aligned; capacity >= 1). fresh = 1 also empties them (a new
 * block). */
void fg_half_open_init(fg_half_open *h, fg_half_open_state *st, void *arrays, uint32_t capacity,
                       double lease, int fresh);

/* Frees every slot at once (a transition) and starts a new era, which voids
 * every ticket handed out before. O(1). */
void fg_half_open_reset(fg_half_open *h);

/* Whether the bookkeeping and links of a block someone else wrote (an
 * attached block: another process's memory, or a file) are well-formed
 * enough for every operation to stay inside the slot arrays and for leases
 * to expire: the counts within capacity, every link of a slot used in the
 * era naming such a slot, the list heads too, a finite base time while leases are held.
 * O(capacity): for attaching, never for calls. */
int fg_half_open_sane(const fg_half_open *h);

/* Takes back every lease granted at or before now - lease; returns how
 * many (the breaker counts them: lease_expired). */
uint32_t fg_half_open_expire(fg_half_open *h, double now);

/* Grants a slot at now (at the era's latest grant's tick or later: see
 * above): returns its index and writes the ticket's identity, or returns
 * -1 when every slot is busy. Call fg_half_open_expire first. */
int32_t fg_half_open_take(fg_half_open *h, double now, uint32_t *id);

/* Releases slot if it is still held under id; returns 1 when it was, 0
 * when the lease had already been taken back or released (nothing changes). */
int fg_half_open_give(fg_half_open *h, int32_t slot, uint32_t id);

/* fg_half_open_give for a ticket admitted at `at` (the breaker's time):
 * also 0 unless the slot's lease began within 2^24 ticks after `at` (its
 * grant rounds up by a few ticks at most). An identity comes back after
 * 2^32 ticks of leases held without a break (8 to 16 leases), so a probe
 * lost that long ago would otherwise free the hand-out of its slot that
 * falls on the same tick modulo 2^32 -- with a coarse clock, whose
 * readings hit few ticks modulo 2^32, about one in a few hundred. */
int fg_half_open_give_at(fg_half_open *h, int32_t slot, uint32_t id, double at);

/* Whether slot i (< capacity) is held: handed out in this era, and on the
 * busy list (a prev other than itself, or the list's only slot). */
static inline int fg_half_open_busy(const fg_half_open *h, int32_t i) {
    const fg_half_open_state *st = h->st;
    uint32_t u = (uint32_t)i;
    return st->in_flight > 0 && u < fg_half_open_fresh(st) &&
           (fg_half_open_prev(h, u) != u || st->oldest == u);
}

#endif /* FG_HALF_OPEN_H */
