/*
 * bench_workload.h -- the deterministic call mix that every benchmark replays,
 * so that the engine and the hand-written baseline see exactly the same calls.
 *
 * The mix is realistic for a payment API behind the SPEC's payment policy:
 * mostly fast 200s, some slow successes (>= 2 s, the policy's SlowRate
 * threshold), a few tracked failures (transport errors and 503 answers) and a
 * few untracked errors ("cancelled"). It is drawn once from a fixed seed and
 * then cycled; it is built so that it never trips the policy (no five failures
 * in a row, rates far below the thresholds), so both sides measure the same
 * steady-state closed-breaker path and can be compared metric for metric.
 */
#ifndef BENCH_WORKLOAD_H
#define BENCH_WORKLOAD_H

#include <stddef.h>
#include <stdint.h>

#include "fluxgate.h"

/* A power of two, so that cycling is a mask. */
enum { BENCH_MIX_SIZE = 4096 };

typedef struct bench_call {
    fg_outcome outcome; /* strings point into static storage */
    double duration;    /* seconds */
} bench_call;

/* Fills mix[0..BENCH_MIX_SIZE) from a fixed seed; the same on every run. */
void bench_workload_fill(bench_call *mix);

/* Fast 200s and timeouts alternating with a period of 101 calls, so that
 * the record entering a CountWindow(100) almost always differs from the one
 * leaving it and the counts change on nearly every record (failure rate
 * about 50%, streaks of 1: it never trips). How the tripper memo answers
 * depends on the tripper: with bench_baseline.h's flapping tripper the
 * counts move between two regions on most records. */
void bench_workload_fill_alternating(bench_call *mix);

/* The payment mix with its tracked failures made fast 200s: for the
 * contention runs, whose interleaving must never line up five failures. */
void bench_workload_fill_no_failures(bench_call *mix);

/* Monotonic time in nanoseconds. */
uint64_t bench_now_ns(void);

#endif /* BENCH_WORKLOAD_H */
