/*
 * bench_baseline.h -- the payment policy of SPEC section 3.2, written by hand
 * in plain C: the baseline that `make bench` measures the engine against.
 *
 * It does the same work as an fg_breaker built from the policy, without the
 * generality: the CountWindow(100) ring with running totals, the tracker
 * `TypeOf("timeout", "connection refused", "closed") | Status(500..599)` as an
 * inline test, the tripper
 *   FailureStreak(5) | (MinRequests(20) & ((Closed() & FailureRate(60%))
 *                                       | (HalfOpened() & FailureRate(50%))))
 *                    | (MinRequests(20) & SlowRate(30%, threshold = 2s))
 * as an inline expression, generation-checked stale outcomes, call counters,
 * and the same locking as the engine (one mutex, taken once by acquire and
 * once by record). Open and half-open are implemented too (Backoff retry,
 * RampUp permit, max_half_open_calls) so that the state machine's checks are
 * paid for, although the benchmark's mix keeps the breaker closed.
 */
#ifndef BENCH_BASELINE_H
#define BENCH_BASELINE_H

#include <pthread.h>
#include <stdint.h>

#include "fluxgate.h"

enum { BENCH_BASELINE_WINDOW = 100 };

typedef struct bench_baseline_record {
    unsigned char failure;
    unsigned char slow; /* duration >= 2 s */
    double duration;
} bench_baseline_record;

typedef struct bench_baseline {
    pthread_mutex_t lock;
    fg_state state;
    uint64_t generation;
    double changed_at;
    uint32_t reopens;
    uint32_t consecutive_failures;
    uint32_t half_open_in_flight;
    uint64_t prng;
    /* CountWindow(100): a ring plus running totals, O(1) per record. */
    bench_baseline_record ring[BENCH_BASELINE_WINDOW];
    uint32_t head;
    uint32_t count;
    uint64_t failures;
    uint64_t slow;
    double total_duration;
    /* as fg_counters */
    uint64_t success, failure, ignored, rejected, trips;
} bench_baseline;

typedef struct bench_baseline_ticket {
    int admitted;
    fg_state state;
    uint64_t generation;
    double started_at;
} bench_baseline_ticket;

/* Initialises b in place (closed, empty). Returns 0, or -1 if the mutex fails.
 * bench_baseline_destroy releases the mutex; there is nothing else to free. */
int bench_baseline_init(bench_baseline *b, double now);
void bench_baseline_destroy(bench_baseline *b);

/* Returns ticket->admitted. */
int bench_baseline_acquire(bench_baseline *b, double now, bench_baseline_ticket *ticket);

/* Classifies and records one outcome; duration < 0 means now - started_at.
 * Returns the same verdict the engine's fg_breaker_release would. */
fg_verdict bench_baseline_release(bench_baseline *b, const bench_baseline_ticket *ticket,
                                  const fg_outcome *outcome, double duration, double now);

#endif /* BENCH_BASELINE_H */
