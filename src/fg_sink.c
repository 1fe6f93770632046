/*
 * fg_sink.c -- counter sinks' life cycle and reading (fluxgate.h, "counter
 * sinks"; the layout and the adds are in fg_sink.h), and moving a breaker
 * from one sink to another.
 */
#define _GNU_SOURCE /* sched_getcpu: rseq/vDSO, no syscall */
#include "fg_sink.h"

#include <sched.h>
#include <string.h>

#include "fg_breaker_internal.h"
#include "fg_reload.h"

static size_t fg_sink_bytes(uint32_t stripes) {
    return sizeof(fg_sink) + (size_t)stripes * sizeof(fg_sink_stripe);
}

fg_sink_stripe *fg_sink_my_stripe_slow(fg_sink *s) {
    int cpu = -1;
#if defined(__linux__)
    cpu = sched_getcpu();
#endif
    if (cpu < 0) {
        /* by stack address, which differs between threads */
        int probe = 0;
        cpu = (int)((((uintptr_t)&probe >> 16) * UINT64_C(0x9E3779B97F4A7C15)) >> 61);
    }
    return &s->stripes[(unsigned)cpu & (FG_SINK_STRIPES - 1)];
}

fg_sink *fg_sink_new(const fg_allocator *alloc, unsigned flags) {
    fg_allocator a = fg_alloc_resolve(alloc);
    uint32_t stripes = (flags & FG_SINK_SINGLE_THREAD) ? 1 : FG_SINK_STRIPES;
    fg_sink *s = fg_alloc_new(&a, fg_sink_bytes(stripes));
    if (s == NULL) return NULL;
    memset(s, 0, fg_sink_bytes(stripes));
    s->alloc = a;
    s->single = (flags & FG_SINK_SINGLE_THREAD) != 0;
    s->stripe_count = stripes;
    atomic_init(&s->refs, 1);
    return s;
}

void fg_sink_retain(fg_sink *s) {
    atomic_fetch_add_explicit(&s->refs, 1, memory_order_relaxed);
}

void fg_sink_free(fg_sink *s) {
    if (s == NULL) return;
    /* acq_rel: the last owner sees every other owner's adds before freeing */
    if (atomic_fetch_sub_explicit(&s->refs, 1, memory_order_acq_rel) != 1) return;
    fg_allocator a = s->alloc;
    fg_alloc_free(&a, s, fg_sink_bytes(s->stripe_count));
}

void fg_sink_read(const fg_sink *s, fg_sink_totals *out) {
    fg_sink *w = (fg_sink *)s; /* atomics are read through non-const pointers */
    memset(out, 0, sizeof *out);
    uint64_t n[FG_SINK_COUNTERS] = {0};
    for (uint32_t i = 0; i < w->stripe_count; i++)
        for (int k = 0; k < FG_SINK_COUNTERS; k++)
            n[k] += atomic_load_explicit(&w->stripes[i].n[k], memory_order_relaxed);
    fg_counters *c = &out->counters;
    c->success = n[FG_SINK_SUCCESS];
    c->failure = n[FG_SINK_FAILURE];
    c->ignored = n[FG_SINK_IGNORED];
    c->stale = n[FG_SINK_STALE];
    c->admitted = n[FG_SINK_ADMITTED];
    c->rejected = n[FG_SINK_REJECTED];
    c->lease_expired = n[FG_SINK_LEASE_EXPIRED];
    for (int i = 0; i < FG_STATE_COUNT; i++) {
        int64_t k = atomic_load_explicit(&w->states[i], memory_order_relaxed);
        out->states[i] = k > 0 ? (uint64_t)k : 0; /* a transition in progress elsewhere */
        out->breakers += out->states[i];
        for (int j = 0; j < FG_STATE_COUNT; j++)
            c->transitions[i][j] = atomic_load_explicit(&w->transitions[i][j], memory_order_relaxed);
    }
}

/* ---- attaching breakers ------------------------------------------------------- */

void fg_breaker_sink_attach(fg_breaker *h, fg_sink *sink, fg_state state) {
    h->sink = sink;
    h->sink_state = (uint8_t)state;
    if (sink == NULL) return;
    fg_sink_retain(sink);
    fg_sink_state_add(sink, state, 1);
}

void fg_breaker_sink_detach(fg_breaker *h) {
    fg_sink *sink = h->sink;
    if (sink == NULL) return;
    h->sink = NULL;
    fg_sink_state_add(sink, (fg_state)h->sink_state, -1);
    fg_sink_free(sink);
}

void fg_breaker_set_sink(fg_breaker *h, fg_sink *sink) {
    fg_breaker *home = h->home;
    if (home->sink == sink) return;
    fg_sink *old = home->sink;
    /* under the lock transitions take: the state cannot change meanwhile */
    fg_breaker *live = fg_breaker_lock_live(fg_breaker_live(home));
    fg_state state = fg_block_word_state(atomic_load_explicit(&live->block->word, memory_order_relaxed));
    if (state >= FG_STATE_COUNT) state = FG_STATE_FORCED_OPEN; /* moved by another process */
    if (old != NULL) {
        home->sink = NULL;
        fg_sink_state_add(old, (fg_state)home->sink_state, -1);
    }
    fg_breaker_sink_attach(home, sink, state);
    /* every handle a call may drive: reloads' handles copy it from home */
    for (fg_reload_gen *g = atomic_load_explicit(&home->gens, memory_order_acquire); g != NULL; g = g->older)
        g->handle->sink = sink;
    fg_breaker_unlock(live);
    fg_sink_free(old);
}
