/*
 * fg_half_open.c -- half-open slot leases: free list + ordered busy list.
 */
#include "fg_half_open.h"

#include "fg_alloc.h"

int fg_half_open_init(fg_half_open *h, uint32_t capacity, double lease, const fg_allocator *alloc) {
    if (capacity == 0) capacity = 1;
    h->capacity = capacity;
    h->lease = lease;
    h->expired = 0;
    h->era = 0;
    h->slots = fg_alloc_new(alloc, (size_t)capacity * sizeof *h->slots);
    if (h->slots == NULL) return -1;
    for (uint32_t i = 0; i < capacity; i++) {
        h->slots[i].seq = 0;
        h->slots[i].busy = 0;
    }
    fg_half_open_reset(h);
    return 0;
}

void fg_half_open_free(fg_half_open *h, const fg_allocator *alloc) {
    fg_alloc_free(alloc, h->slots, (size_t)h->capacity * sizeof *h->slots);
    h->slots = NULL;
}

void fg_half_open_reset(fg_half_open *h) {
    /* O(1): the old busy flags are left in place but belong to the previous
     * era, which fg_half_open_give checks; a slot is handed out again only
     * through `fresh` or the free list, both of which rewrite it. */
    h->era++;
    h->in_flight = 0;
    h->fresh = 0;
    h->free_head = -1;
    h->oldest = -1;
    h->newest = -1;
}

static void fg_half_open_unlink(fg_half_open *h, int32_t i) {
    fg_slot *s = &h->slots[i];
    if (s->prev >= 0) h->slots[s->prev].next = s->next; else h->oldest = s->next;
    if (s->next >= 0) h->slots[s->next].prev = s->prev; else h->newest = s->prev;
    s->busy = 0;
    s->seq++; /* any ticket still naming this hand-out is now void */
    s->next = h->free_head;
    h->free_head = i;
    h->in_flight--;
}

void fg_half_open_expire(fg_half_open *h, double now) {
    while (h->oldest >= 0 && now - h->slots[h->oldest].acquired_at >= h->lease) {
        fg_half_open_unlink(h, h->oldest);
        h->expired++;
    }
}

int32_t fg_half_open_take(fg_half_open *h, double now, uint32_t *seq) {
    int32_t i;
    if (h->free_head >= 0) {
        i = h->free_head;
        h->free_head = h->slots[i].next;
    } else if (h->fresh < h->capacity) {
        i = (int32_t)h->fresh++;
    } else {
        return -1;
    }
    fg_slot *s = &h->slots[i];
    s->seq++;
    s->busy = 1;
    s->era = h->era;
    s->acquired_at = now;
    s->prev = h->newest;
    s->next = -1;
    if (h->newest >= 0) h->slots[h->newest].next = i; else h->oldest = i;
    h->newest = i;
    h->in_flight++;
    *seq = s->seq;
    return i;
}

int fg_half_open_give(fg_half_open *h, int32_t slot, uint32_t seq) {
    if (slot < 0 || (uint32_t)slot >= h->capacity) return 0;
    const fg_slot *s = &h->slots[slot];
    if (!s->busy || s->era != h->era || s->seq != seq) return 0;
    fg_half_open_unlink(h, slot);
    return 1;
}
