/*
 * fg_half_open.c -- half-open slot leases: free list + ordered busy list.
 */
#include "fg_half_open.h"

#include <string.h>

void fg_half_open_init(fg_half_open *h, fg_half_open_state *st, double *acquired_at,
                       fg_half_open_slot *slots, uint32_t capacity, double lease, int fresh) {
    h->st = st;
    h->acquired_at = acquired_at;
    h->slots = slots;
    h->capacity = capacity > 0 ? capacity : 1;
    h->lease = lease;
    if (fresh) {
        memset(st, 0, sizeof *st);
        memset(acquired_at, 0, (size_t)h->capacity * sizeof *acquired_at);
        memset(slots, 0, (size_t)h->capacity * sizeof *slots);
        st->next_seq = 1;
        fg_half_open_reset(h);
    }
}

void fg_half_open_reset(fg_half_open *h) {
    /* O(1): slots held in the old era keep their odd numbers, but
     * fg_half_open_give checks the era, and a slot is handed out again only
     * through `fresh` or the free list, both of which rewrite it. */
    fg_half_open_state *st = h->st;
    st->era_start = st->next_seq;
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
    s->seq++; /* even: free; any ticket still naming the hand-out is void */
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

int32_t fg_half_open_take(fg_half_open *h, double now, uint32_t *seq) {
    fg_half_open_state *st = h->st;
    int32_t i;
    if (st->free_head >= 0) {
        i = st->free_head;
        st->free_head = fg_half_open_link(i, h->slots[i].next);
    } else if (st->fresh < h->capacity) {
        i = (int32_t)st->fresh++;
    } else {
        return -1;
    }
    fg_half_open_slot *s = &h->slots[i];
    s->seq = st->next_seq | 1u; /* odd: held; a number no other hand-out had */
    st->next_seq = s->seq + 2u;
    h->acquired_at[i] = now;
    s->prev = fg_half_open_to_link(i, st->newest);
    s->next = fg_half_open_to_link(i, -1);
    if (st->newest >= 0) h->slots[st->newest].next = (uint16_t)i; else st->oldest = i;
    st->newest = i;
    st->in_flight++;
    *seq = s->seq;
    return i;
}

int fg_half_open_give(fg_half_open *h, int32_t slot, uint32_t seq) {
    if (slot < 0 || (uint32_t)slot >= h->capacity) return 0;
    const fg_half_open_slot *s = &h->slots[slot];
    const fg_half_open_state *st = h->st;
    /* held under this number, handed out since the last reset */
    if (!(s->seq & 1u) || s->seq != seq || seq - st->era_start >= st->next_seq - st->era_start) return 0;
    fg_half_open_unlink(h, slot);
    return 1;
}
