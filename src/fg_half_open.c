/*
 * fg_half_open.c -- half-open slot leases: free list + ordered busy list.
 */
#include "fg_half_open.h"

#include <math.h>

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
    /* O(1): slots held in the old era keep their lease times, but the era
     * is part of every identity (fg_half_open_give cannot match an old
     * ticket), and a slot is handed out again only through `fresh` or the
     * free list, both of which rewrite it. */
    fg_half_open_state *st = h->st;
    st->era++;
    st->in_flight = 0;
    st->fresh = 0;
    st->free_head = -1;
    st->oldest = -1;
    st->newest = -1;
}

static void fg_half_open_unlink(fg_half_open *h, int32_t i) {
    fg_half_open_state *st = h->st;
    fg_half_open_slot *s = &h->slots[i];
    int32_t prev = fg_half_open_link(i, s->prev), next = fg_half_open_link(i, s->next);
    if (prev >= 0) h->slots[prev].next = fg_half_open_to_link(prev, next); else st->oldest = next;
    if (next >= 0) h->slots[next].prev = fg_half_open_to_link(next, prev); else st->newest = prev;
    h->busy[(uint32_t)i >> 6] &= ~(UINT64_C(1) << ((uint32_t)i & 63u)); /* free: its ticket is void */
    s->next = fg_half_open_to_link(i, st->free_head);
    st->free_head = i;
    st->in_flight--;
}

void fg_half_open_expire(fg_half_open *h, double now) {
    fg_half_open_state *st = h->st;
    while (st->oldest >= 0 && now - h->acquired_at[st->oldest] >= h->lease) {
        fg_half_open_unlink(h, st->oldest);
        st->expired++;
    }
}

int32_t fg_half_open_take(fg_half_open *h, double now, uint32_t *id) {
    fg_half_open_state *st = h->st;
    int32_t i;
    double at = now;
    if (st->free_head >= 0) {
        i = st->free_head;
        st->free_head = fg_half_open_link(i, h->slots[i].next);
        /* freed in this era: its time is its previous hand-out's, which
         * the new one must not repeat (its identity would be the same) */
        if (!(at > h->acquired_at[i])) at = nextafter(h->acquired_at[i], INFINITY);
    } else if (st->fresh < h->capacity) {
        i = (int32_t)st->fresh++; /* not used in this era: any time will do */
    } else {
        return -1;
    }
    fg_half_open_slot *s = &h->slots[i];
    h->acquired_at[i] = at;
    h->busy[(uint32_t)i >> 6] |= UINT64_C(1) << ((uint32_t)i & 63u);
    s->prev = fg_half_open_to_link(i, st->newest);
    s->next = fg_half_open_to_link(i, -1);
    if (st->newest >= 0) h->slots[st->newest].next = (uint16_t)i; else st->oldest = i;
    st->newest = i;
    st->in_flight++;
    *id = fg_half_open_id(st->era, at);
    return i;
}

int fg_half_open_give(fg_half_open *h, int32_t slot, uint32_t id) {
    if (slot < 0 || (uint32_t)slot >= h->capacity) return 0;
    /* held, under this identity: handed out in this era, not since freed */
    if (!fg_half_open_busy(h, slot) || fg_half_open_id(h->st->era, h->acquired_at[slot]) != id) return 0;
    fg_half_open_unlink(h, slot);
    return 1;
}
