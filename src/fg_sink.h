/*
 * fg_sink.h -- counter sinks (fluxgate.h, "counter sinks"): the layout and
 * the adds the runtime makes where it counts into a block, so that a name's
 * totals are read in O(states + counters) instead of by walking breakers.
 *
 * Threads. A sink is shared by breakers that different threads may drive
 * at once, under different block locks, so every add is an atomic
 * read-modify-write (relaxed: nothing is ordered by them). The call
 * counters, which every call adds to, are striped by CPU like a family's
 * (one stripe per group of CPUs, 128 bytes apart), so that threads on
 * different CPUs do not fight over one cache line; transitions and state
 * counts, which change only on transitions, are not. A sink made with
 * FG_SINK_SINGLE_THREAD (a Lua state: every breaker of the sink runs on
 * one thread) has one stripe and adds with a relaxed load and store -- no
 * locked instruction -- which is exact because nothing runs concurrently.
 */
#ifndef FG_SINK_H
#define FG_SINK_H

#include <stdatomic.h>
#include <stdint.h>

#include "fg_alloc.h"
#include "fg_block.h"
#include "fluxgate.h"

enum {
    FG_SINK_SUCCESS,
    FG_SINK_FAILURE,
    FG_SINK_IGNORED,
    FG_SINK_STALE,
    FG_SINK_ADMITTED,
    FG_SINK_REJECTED,
    FG_SINK_LEASE_EXPIRED,
    FG_SINK_COUNTERS,
    FG_SINK_STRIPES = 8 /* a power of two */
};

typedef struct fg_sink_stripe {
    _Atomic uint64_t n[FG_SINK_COUNTERS];
    char pad[128 - FG_SINK_COUNTERS * 8];
} fg_sink_stripe;

struct fg_sink {
    fg_allocator alloc;
    _Atomic uint64_t refs;
    uint32_t single;      /* FG_SINK_SINGLE_THREAD */
    uint32_t stripe_count; /* 1 or FG_SINK_STRIPES */
    _Atomic uint64_t transitions[FG_STATE_COUNT][FG_STATE_COUNT];
    _Atomic int64_t states[FG_STATE_COUNT];
    fg_sink_stripe stripes[];
};

/* The stripe of the CPU the thread runs on where rseq does not tell it. */
fg_sink_stripe *fg_sink_my_stripe_slow(fg_sink *s);

static inline void fg_sink_add_to(const fg_sink *s, _Atomic uint64_t *c, uint64_t n) {
    if (s->single)
        atomic_store_explicit(c, atomic_load_explicit(c, memory_order_relaxed) + n, memory_order_relaxed);
    else
        atomic_fetch_add_explicit(c, n, memory_order_relaxed);
}

/* Adds n to a call counter (FG_SINK_SUCCESS ...). */
static inline void fg_sink_add_n(fg_sink *s, int counter, uint64_t n) {
    fg_sink_stripe *st = &s->stripes[0];
    if (!s->single) {
        int cpu = fg_block_cpu(); /* rseq: one load */
        st = cpu >= 0 ? &s->stripes[(unsigned)cpu & (FG_SINK_STRIPES - 1)] : fg_sink_my_stripe_slow(s);
    }
    fg_sink_add_to(s, &st->n[counter], n);
}

static inline void fg_sink_add(fg_sink *s, int counter) {
    fg_sink_add_n(s, counter, 1);
}

/* A record's classification, as the block counts it (fg_breaker_classify). */
static inline void fg_sink_add_class(fg_sink *s, fg_outcome_class outcome_class) {
    fg_sink_add(s, outcome_class < 0 ? FG_SINK_IGNORED : outcome_class > 0 ? FG_SINK_FAILURE : FG_SINK_SUCCESS);
}

static inline void fg_sink_state_add(fg_sink *s, fg_state state, int64_t d) {
    _Atomic int64_t *c = &s->states[state];
    if (s->single)
        atomic_store_explicit(c, atomic_load_explicit(c, memory_order_relaxed) + d, memory_order_relaxed);
    else
        atomic_fetch_add_explicit(c, d, memory_order_relaxed);
}

/* A breaker counted in `*counted` is now in state `to`. */
static inline void fg_sink_state_move(fg_sink *s, uint8_t *counted, fg_state to) {
    if ((fg_state)*counted == to) return;
    fg_sink_state_add(s, (fg_state)*counted, -1);
    fg_sink_state_add(s, to, 1);
    *counted = (uint8_t)to;
}

/* A transition (from, to) of a breaker counted in `*counted`. */
static inline void fg_sink_transition(fg_sink *s, uint8_t *counted, fg_state from, fg_state to) {
    fg_sink_add_to(s, &s->transitions[from][to], 1);
    fg_sink_state_move(s, counted, to);
}

#endif /* FG_SINK_H */
