/*
 * fg_half_open.c -- half-open slot leases: free list + ordered circular
 * busy list, lease times as ticks (see fg_half_open.h).
 */
#include "fg_half_open.h"

#include <math.h>

/* What a reset or a restart adds to the era: odd and far from 0 and 2^31,
 * so that identities of different eras look unrelated. */
#define FG_HALF_OPEN_ERA_STEP 0x9E3779B9u

/* Keeps a unit a normal double whatever the lease (> 0, finite or not). */
enum { FG_HALF_OPEN_GRID_MIN = -1000, FG_HALF_OPEN_GRID_MAX = 990 };

/* The grid for a lease: 2^grid >= lease / 2^29 (so the lease is at most
 * 2^29 units, and a rebase leaves ticks below 2^29 + 1). */
static int16_t fg_half_open_grid_of(double lease) {
    int e = FG_HALF_OPEN_GRID_MAX + 29;
    if (lease > 0.0 && isfinite(lease)) (void)frexp(lease, &e); /* lease <= 2^e */
    int g = e - 29;
    if (g < FG_HALF_OPEN_GRID_MIN) g = FG_HALF_OPEN_GRID_MIN;
    if (g > FG_HALF_OPEN_GRID_MAX) g = FG_HALF_OPEN_GRID_MAX;
    return (int16_t)g;
}

double fg_half_open_unit(const fg_half_open_state *st) {
    int g = st->grid;
    if (g < FG_HALF_OPEN_GRID_MIN || g > FG_HALF_OPEN_GRID_MAX) g = 0; /* a damaged block */
    uint64_t bits = (uint64_t)(g + 1023) << 52; /* 2^g, a normal double: no libm call */
    double unit;
    memcpy(&unit, &bits, sizeof unit);
    return unit;
}

double fg_half_open_time(const fg_half_open *h, uint32_t i) {
    return h->st->base + (double)h->ticks[i] * fg_half_open_unit(h->st);
}

void fg_half_open_init(fg_half_open *h, fg_half_open_state *st, void *arrays, uint32_t capacity,
                       double lease, int fresh) {
    *h = fg_half_open_view(st, arrays, capacity, lease);
    if (fresh) {
        memset(st, 0, sizeof *st);
        memset(arrays, 0, (size_t)fg_half_open_bytes(h->capacity));
        fg_half_open_reset(h);
    }
}

void fg_half_open_reset(fg_half_open *h) {
    /* O(1): slots held in the old era keep their ticks and links, but with
     * none in flight none is busy, and the next grant restarts the era
     * (fg_half_open_take), handing slots out through `fresh` first, which
     * rewrites them. */
    fg_half_open_state *st = h->st;
    st->era += FG_HALF_OPEN_ERA_STEP;
    st->in_flight = 0;
    st->fresh = 0;
    st->grid = fg_half_open_grid_of(h->lease);
}

int fg_half_open_sane(const fg_half_open *h) {
    const fg_half_open_state *st = h->st;
    uint32_t used = fg_half_open_fresh(st), held = st->in_flight;
    if (used > h->capacity || held > used || (held > 0 && !isfinite(st->base))) return 0;
    /* busy slots link busy ones; a free slot's prev is itself and its
     * next another free slot or itself: all below `used` */
    for (uint32_t i = 0; i < used; i++)
        if (fg_half_open_prev(h, i) >= used || fg_half_open_next(h, i) >= used) return 0;
    if (held > 0 && st->oldest >= used) return 0;
    if (used > held && st->free_head >= used) return 0;
    return 1;
}

/* Takes slot i (busy) off the busy list and onto the free list. */
static void fg_half_open_unlink(fg_half_open *h, uint32_t i) {
    fg_half_open_state *st = h->st;
    if (st->in_flight > 1) {
        uint32_t prev = fg_half_open_prev(h, i), next = fg_half_open_next(h, i);
        fg_half_open_set_next(h, prev, next);
        fg_half_open_set_prev(h, next, prev);
        if (st->oldest == i) st->oldest = (uint16_t)next;
    }
    fg_half_open_set_prev(h, i, i); /* free: not busy, its ticket is void */
    if (fg_half_open_fresh(st) > st->in_flight) fg_half_open_set_next(h, i, st->free_head);
    else fg_half_open_set_next(h, i, i);
    st->free_head = (uint16_t)i;
    st->in_flight--;
}

uint32_t fg_half_open_expire(fg_half_open *h, double now) {
    fg_half_open_state *st = h->st;
    if (st->in_flight == 0) return 0;
    double unit = fg_half_open_unit(st), since = now - st->base;
    uint32_t taken = 0;
    while (st->in_flight > 0 && since - (double)h->ticks[st->oldest] * unit >= h->lease) {
        fg_half_open_unlink(h, st->oldest);
        taken++;
    }
    return taken;
}

/* The era starts over at a grant with no lease held: tick 0 is now. */
static void fg_half_open_restart(fg_half_open *h, double now) {
    fg_half_open_state *st = h->st;
    st->era += FG_HALF_OPEN_ERA_STEP;
    st->fresh = 0;
    st->base = now;
    st->grid = fg_half_open_grid_of(h->lease);
}

/* Moves the base up to the oldest held lease (its tick becomes 0; the era
 * moves by as much, so identities stay), then, if now is still too far
 * from it (a reload to a much longer lease), coarsens the grid. Rewrites
 * the ticks of the slots used in the era: O(capacity), rare (see the
 * header). Returns now's tick, or UINT32_MAX if it is still out of range. */
static uint32_t fg_half_open_rebase(fg_half_open *h, double now) {
    fg_half_open_state *st = h->st;
    uint32_t used = fg_half_open_fresh(st), d = h->ticks[st->oldest];
    double unit = fg_half_open_unit(st);
    double shift = (double)d * unit, base = st->base + shift;
    if (base - st->base < shift) base = nextafter(base, INFINITY); /* never earlier */
    st->base = base;
    st->era += d;
    for (uint32_t j = 0; j < used; j++) h->ticks[j] = h->ticks[j] >= d ? h->ticks[j] - d : 0;
    double since = now - st->base, q = since / unit;
    if (q < 0x1p31) return q > 0.0 ? (uint32_t)ceil(q) : 0;
    /* since < 2^p: units of 2^(p - 30) make it < 2^30 ticks */
    int p;
    (void)frexp(since, &p);
    int grid = p - 30, k = grid - st->grid;
    if (!isfinite(since) || grid > FG_HALF_OPEN_GRID_MAX) return UINT32_MAX; /* beyond any lease */
    st->grid = (int16_t)grid;
    /* The held leases' identities change anyway (their ticks do); the era
     * step keeps coarse identities from lining up with fine ones: a probe
     * lost 2^32 fine ticks before its slot's hand-out shares its identity,
     * and that is few coarse ticks (fg_half_open_give_at's check). */
    st->era += FG_HALF_OPEN_ERA_STEP;
    for (uint32_t j = 0; j < used; j++) {
        uint32_t t = h->ticks[j], v = (uint32_t)ceil(ldexp((double)t, -k)); /* later, never earlier */
        h->ticks[j] = t > 0 && v == 0 ? 1 : v;
    }
    q = since / fg_half_open_unit(st);
    return q > 0.0 ? (uint32_t)ceil(q) : 0;
}

/* now's tick, rounded up (a lease is never taken back early). */
static uint32_t fg_half_open_tick(fg_half_open *h, double now) {
    fg_half_open_state *st = h->st;
    double q = (now - st->base) / fg_half_open_unit(st);
    if (q < 0x1p31) return q > 0.0 ? (uint32_t)ceil(q) : 0;
    if (q != q) return 0; /* NaN: no time passed (a breaker never passes one) */
    return fg_half_open_rebase(h, now);
}

int32_t fg_half_open_take(fg_half_open *h, double now, uint32_t *id) {
    fg_half_open_state *st = h->st;
    if (st->in_flight == 0) fg_half_open_restart(h, now);
    uint32_t fresh = fg_half_open_fresh(st), i;
    int from_free = fresh > st->in_flight;
    if (from_free) i = st->free_head;
    else if (fresh < h->capacity) i = fresh;
    else return -1;
    uint32_t tick = fg_half_open_tick(h, now);
    /* not before the newest lease (the list stays in expiry order) */
    if (st->in_flight > 0) {
        uint32_t newest = h->ticks[fg_half_open_prev(h, st->oldest)];
        if (tick < newest) tick = newest;
    }
    uint8_t reissue = 0;
    if (from_free) {
        /* used in this era: the new hand-out must not repeat its (tick,
         * reissue) pair, nor go below its tick (pairs at one tick only
         * grow) */
        st->free_head = (uint16_t)fg_half_open_next(h, i);
        uint32_t before = h->ticks[i];
        if (tick <= before) {
            tick = before;
            reissue = (uint8_t)(h->reissue[i] + 1u);
            if (reissue == 0 && tick < UINT32_MAX) tick++; /* 256 at one tick: one unit later */
        }
    } else {
        st->fresh = (uint16_t)(fresh + 1u); /* 65536 is kept as 0 (fg_half_open_fresh) */
    }
    h->ticks[i] = tick;
    h->reissue[i] = reissue;
    if (st->in_flight == 0) {
        st->oldest = (uint16_t)i;
        fg_half_open_set_prev(h, i, i);
        fg_half_open_set_next(h, i, i);
    } else {
        uint32_t oldest = st->oldest, newest = fg_half_open_prev(h, oldest);
        fg_half_open_set_next(h, newest, i);
        fg_half_open_set_prev(h, i, newest);
        fg_half_open_set_next(h, i, oldest);
        fg_half_open_set_prev(h, oldest, i);
    }
    st->in_flight++;
    *id = fg_half_open_id(st->era, tick, reissue);
    return (int32_t)i;
}

int fg_half_open_give(fg_half_open *h, int32_t slot, uint32_t id) {
    if (slot < 0 || (uint32_t)slot >= h->capacity) return 0;
    /* held, under this identity: handed out in this era, not since freed */
    uint32_t i = (uint32_t)slot;
    if (!fg_half_open_busy(h, slot) || fg_half_open_id(h->st->era, h->ticks[i], h->reissue[i]) != id)
        return 0;
    fg_half_open_unlink(h, i);
    return 1;
}

int fg_half_open_give_at(fg_half_open *h, int32_t slot, uint32_t id, double at) {
    if (slot < 0 || (uint32_t)slot >= h->capacity) return 0;
    /* The hand-out the ticket names began at `at`, rounded up to its tick
     * (a few ticks later at most: a reissue bump, the newest lease's tick);
     * one whose identity comes back is 2^30 ticks or more later (2^32 in
     * one era, the era step across eras and coarsenings; a reload to a
     * longer lease keeps the grid until the ticks run out). NaN (a forged
     * ticket) names none. */
    double unit = fg_half_open_unit(h->st), gap = fg_half_open_time(h, (uint32_t)slot) - at;
    if (!(gap > -unit && gap < 0x1p24 * unit)) return 0;
    return fg_half_open_give(h, slot, id);
}
