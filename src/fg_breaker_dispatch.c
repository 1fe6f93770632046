/*
 * fg_breaker_dispatch.c -- delivering transitions to listeners in order.
 *
 * The guarantee (SPEC section 5): each listener receives a breaker's
 * transitions in sequence order, each exactly once -- also when a listener
 * re-enters the breaker (listener 1 calls fg_breaker_reset on
 * closed -> open: listener 2 still sees closed -> open first) and when
 * several threads cause transitions at once. Listeners run outside the
 * breaker's lock, on a thread that is inside a call of this breaker.
 *
 * How: every transition gets, under the block's lock, the handle's next
 * delivery number (fg_pending.local; it follows the block's sequence
 * numbers). After the lock is released the transition is put into this
 * handle's queue at its number, and the caller tries to become the
 * dispatcher. One thread at a time is: it delivers the queued transitions
 * in number order, each to every listener, and stops at the first number
 * that is not queued yet (its producer is between the block's lock and the
 * queue; that producer finds no dispatcher and delivers it itself). The
 * queue has its own small lock, never held while a listener runs; a thread
 * that finds a dispatcher at work leaves its transition to it and returns
 * -- which is also what a listener that re-enters the breaker does, so
 * its transition comes after the one being delivered.
 *
 * The queue is a ring indexed by delivery number, allocated with the first
 * listener (a breaker without listeners queues nothing). When it is full
 * (as many undelivered transitions as its capacity: a slow listener, or
 * one that causes many transitions from inside one callback) it doubles;
 * that allocation happens only then, never on an ordinary call. If it
 * cannot grow (out of memory), a thread other than the dispatcher waits
 * for room (yielding), and the dispatcher itself, re-entering from a
 * listener, drops the transition and counts it (fg_dispatch.dropped). A
 * dropped number is never queued, so the dispatcher must not wait for it:
 * it skips every number below `skip_to` (the last dropped + 1) that is not
 * queued when it gets there, and a producer that finds its number already
 * passed drops its transition too (only after an out-of-memory drop, when
 * other threads were between the block's lock and the queue).
 * With a block shared by processes, each process's listeners hear the
 * transitions its own calls cause (sequence numbers then have gaps).
 */
#include "fg_breaker_internal.h"

#include <sched.h>
#include <stdlib.h>
#include <string.h>

#include "fg_alloc.h"

struct fg_dispatch {
    fg_lock lock;              /* guards everything below */
    int active;                /* a thread is delivering */
    pthread_t dispatcher;      /* that thread */
    uint64_t delivered;        /* the next delivery number to deliver */
    uint32_t capacity;         /* a power of two */
    fg_transition *ring;       /* [capacity], by number mod capacity */
    uint8_t *present;          /* [capacity] */
    uint64_t dropped;
    uint64_t skip_to;          /* numbers below it not queued are dropped ones */
    char *close_reason;        /* "not <tripper text>" */
    size_t close_reason_size;
    /* Kept here rather than in the handle: they exist only with listeners. */
    fg_listener *listeners_tail; /* written under the block's lock */
    _Atomic uint64_t next_local; /* delivery numbers, taken under a block's lock */
};

enum { FG_DISPATCH_INITIAL = 8 };

/* Whether a tripper's text has a `|` or `&` outside parentheses (trippers
 * hold no strings, so every such byte is an operator). */
static int fg_has_top_level_operator(const char *text) {
    int depth = 0;
    for (const char *c = text; *c != '\0'; c++) {
        if (*c == '(') depth++;
        else if (*c == ')') depth--;
        else if ((*c == '|' || *c == '&') && depth == 0) return 1;
    }
    return 0;
}

/* "not <tripper text>". A text with a top-level operator is put in
 * parentheses, so that "not (A | B)" cannot be read as "(not A) | B". */
size_t fg_breaker_close_reason_write(const fg_program *tripper, char *out) {
    const char *text = fg_program_text(tripper);
    if (text == NULL) text = "";
    size_t len = strlen(text);
    int wrap = fg_has_top_level_operator(text);
    size_t size = len + 5 + (wrap ? 2 : 0);
    if (out == NULL) return size;
    char *p = out;
    memcpy(p, "not ", 4);
    p += 4;
    if (wrap) *p++ = '(';
    memcpy(p, text, len);
    p += len;
    if (wrap) *p++ = ')';
    *p = '\0';
    return size;
}

/* The close reason of h's definition at creation, built once. */
static char *fg_make_close_reason(const fg_breaker *h, size_t *size) {
    *size = fg_breaker_close_reason_write(h->def->tripper, NULL);
    char *out = fg_alloc_new(&h->alloc, *size);
    if (out != NULL) fg_breaker_close_reason_write(h->def->tripper, out);
    return out;
}

fg_dispatch *fg_breaker_dispatch_make(fg_breaker *h) {
    fg_dispatch *d = fg_alloc_new(&h->alloc, sizeof *d);
    if (d == NULL) return NULL;
    memset(d, 0, sizeof *d);
    fg_lock_init(&d->lock);
    atomic_init(&d->next_local, 0);
    d->capacity = FG_DISPATCH_INITIAL;
    d->ring = fg_alloc_new(&h->alloc, d->capacity * sizeof *d->ring);
    d->present = fg_alloc_new(&h->alloc, d->capacity);
    d->close_reason = fg_make_close_reason(h, &d->close_reason_size);
    if (d->ring == NULL || d->present == NULL || d->close_reason == NULL) {
        fg_breaker_dispatch_discard(h, d);
        return NULL;
    }
    memset(d->present, 0, d->capacity);
    return d;
}

void fg_breaker_dispatch_discard(fg_breaker *h, fg_dispatch *d) {
    if (d == NULL) return;
    fg_alloc_free(&h->alloc, d->ring, d->capacity * sizeof *d->ring);
    fg_alloc_free(&h->alloc, d->present, d->capacity);
    fg_alloc_free(&h->alloc, d->close_reason, d->close_reason_size);
    fg_alloc_free(&h->alloc, d, sizeof *d);
}

void fg_breaker_dispatch_free(fg_breaker *h) {
    fg_breaker_dispatch_discard(h, atomic_load_explicit(&h->dispatch, memory_order_acquire));
    atomic_store_explicit(&h->dispatch, NULL, memory_order_relaxed);
}

const char *fg_breaker_close_reason(const fg_breaker *h) {
    fg_dispatch *d = atomic_load_explicit(&((fg_breaker *)h)->dispatch, memory_order_acquire);
    return d != NULL ? d->close_reason : "";
}

/* Doubles the ring, keeping every queued transition at its number. Queue
 * lock held. Returns 0, or -1 when out of memory (nothing changes). */
static int fg_dispatch_grow(fg_breaker *h, fg_dispatch *d) {
    uint32_t cap = d->capacity * 2;
    if (cap < d->capacity) return -1;
    fg_transition *ring = fg_alloc_new(&h->alloc, (size_t)cap * sizeof *ring);
    uint8_t *present = fg_alloc_new(&h->alloc, cap);
    if (ring == NULL || present == NULL) {
        fg_alloc_free(&h->alloc, ring, (size_t)cap * sizeof *ring);
        fg_alloc_free(&h->alloc, present, cap);
        return -1;
    }
    memset(present, 0, cap);
    for (uint64_t n = d->delivered; n < d->delivered + d->capacity; n++) {
        uint32_t from = (uint32_t)(n & (d->capacity - 1)), to = (uint32_t)(n & (cap - 1));
        if (!d->present[from]) continue;
        ring[to] = d->ring[from];
        present[to] = 1;
    }
    fg_alloc_free(&h->alloc, d->ring, (size_t)d->capacity * sizeof *d->ring);
    fg_alloc_free(&h->alloc, d->present, d->capacity);
    d->ring = ring;
    d->present = present;
    d->capacity = cap;
    return 0;
}

static void fg_dispatch_run_listeners(fg_breaker *h, const fg_transition *t) {
    /* Acquire pairs with the release in fg_breaker_add_listener: a listener
     * seen here is fully written. */
    for (fg_listener *l = atomic_load_explicit(&h->listeners, memory_order_acquire); l != NULL;
         l = atomic_load_explicit(&l->next, memory_order_acquire))
        l->fn(l->ud, t);
}

void fg_breaker_deliver(fg_breaker *h, const fg_pending *p) {
    fg_dispatch *d = atomic_load_explicit(&h->dispatch, memory_order_acquire);
    if (d == NULL) return;
    pthread_t self = pthread_self();
    fg_lock_acquire(&d->lock, h->lock_tag);
    int reentrant = d->active && pthread_equal(d->dispatcher, self);
    /* Room for number p->local: it must be within capacity of the oldest
     * undelivered one. */
    while (p->local >= d->delivered + d->capacity) {
        if (fg_dispatch_grow(h, d) == 0) continue;
        if (reentrant) {
            d->dropped++;
            if (p->local + 1 > d->skip_to) d->skip_to = p->local + 1;
            fg_lock_release(&d->lock);
            return;
        }
        fg_lock_release(&d->lock);
        sched_yield(); /* out of memory: wait for the dispatcher to make room */
        fg_lock_acquire(&d->lock, h->lock_tag);
        reentrant = d->active && pthread_equal(d->dispatcher, self);
    }
    if (p->local < d->delivered) {
        /* skipped after a drop: its slot may hold a later number now */
        d->dropped++;
        fg_lock_release(&d->lock);
        return;
    }
    uint32_t i = (uint32_t)(p->local & (d->capacity - 1));
    d->ring[i] = p->transition;
    d->present[i] = 1;
    if (d->active) {
        /* the dispatcher (maybe this very thread, further up) delivers it */
        fg_lock_release(&d->lock);
        return;
    }
    d->active = 1;
    d->dispatcher = self;
    for (;;) {
        uint32_t at = (uint32_t)(d->delivered & (d->capacity - 1));
        if (!d->present[at]) {
            if (d->delivered < d->skip_to) { /* dropped (or to be dropped): no wait */
                d->delivered++;
                continue;
            }
            break; /* not queued yet: its producer delivers it */
        }
        fg_transition t = d->ring[at];
        d->present[at] = 0;
        d->delivered++;
        fg_lock_release(&d->lock);
        fg_dispatch_run_listeners(h, &t);
        fg_lock_acquire(&d->lock, h->lock_tag);
    }
    d->active = 0;
    fg_lock_release(&d->lock);
}

uint64_t fg_breaker_dispatch_numbered(fg_breaker *home) {
    fg_dispatch *d = atomic_load_explicit(&home->dispatch, memory_order_acquire);
    return d != NULL ? atomic_load_explicit(&d->next_local, memory_order_relaxed) : 0;
}

uint64_t fg_breaker_dispatch_take_number(fg_dispatch *d) {
    return atomic_fetch_add_explicit(&d->next_local, 1, memory_order_relaxed);
}

void fg_breaker_dispatch_append_listener(fg_breaker *h, fg_dispatch *d, fg_listener *l) {
    /* Release: a dispatcher that sees the pointer sees fn and ud too. */
    if (d->listeners_tail == NULL)
        atomic_store_explicit(&h->listeners, l, memory_order_release);
    else
        atomic_store_explicit(&d->listeners_tail->next, l, memory_order_release);
    d->listeners_tail = l;
}

int fg_breaker_dispatch_idle(fg_breaker *home, uint64_t upto) {
    fg_dispatch *d = atomic_load_explicit(&home->dispatch, memory_order_acquire);
    if (d == NULL) return 1;
    fg_lock_acquire(&d->lock, home->lock_tag);
    /* Numbers below upto are done once they are all taken off the queue
     * and no listener still runs on the last one, upto - 1: the dispatcher
     * counts a number delivered before its listeners run, and takes the
     * next only after they return. So past upto means done even while a
     * dispatcher is at work -- which may be for as long as transitions
     * keep coming (other threads', or ones its listeners cause). */
    int idle = d->delivered > upto || (!d->active && d->delivered >= upto);
    fg_lock_release(&d->lock);
    return idle;
}
