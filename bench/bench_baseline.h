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
 * as an inline expression evaluated after every record, generation-checked
 * stale outcomes and call counters. Open and half-open are implemented too
 * (Backoff retry, RampUp permit, max_half_open_calls) so that the state
 * machine's checks are paid for, although the benchmark's mixes keep the
 * breaker closed.
 *
 * Same locking and clock reads as the engine: admission in closed reads an
 * atomic state word and counts into one admission counter (a relaxed
 * atomic add) without a lock; release takes the engine's own block spinlock (fg_lock.h);
 * the clock loop reads the same clock the engine picked for payment_api
 * (CLOCK_MONOTONIC_COARSE where it is fine enough), once in acquire and once
 * in release, outside the lock.
 */
#ifndef BENCH_BASELINE_H
#define BENCH_BASELINE_H

#include <stdatomic.h>
#include <stdint.h>

#include "fg_lock.h"
#include "fluxgate.h"

enum { BENCH_BASELINE_WINDOW = 100 };

typedef struct bench_baseline_record {
    unsigned char failure;
    unsigned char slow; /* duration >= 2 s */
    double duration;
} bench_baseline_record;

typedef struct bench_baseline {
    _Atomic uint64_t word; /* state | generation << 3, as the engine's */
    _Atomic uint64_t admitted; /* beside the word, as the engine's block packs them */
    _Atomic uint64_t rejected;
    fg_lock lock;
    uint64_t lock_tag;
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
    uint64_t success, failure, ignored, trips;
} bench_baseline;

/* The variant tripper of the "threshold" workload, as source text: the
 * failure rate is tested before a slow-call rate that never holds, so a
 * failure rate that crosses 50% back and forth changes which tests run
 * without ever tripping (bench_core.c compiles it into payment_api). The
 * engine's tripper memo keeps its region anyway: the answer does not
 * depend on the failure rate (fg_vm_trip_boxed). */
#define BENCH_THRESHOLD_TRIPPER \
    "FailureStreak(5) | (MinRequests(20) & FailureRate(50%) & SlowRate(30%, threshold = 2s))"

/* The variant tripper of the "flapping" workload: never true on the
 * alternating mix either, but whichever side of 50% the failure rate is on,
 * its test decides which SlowRate is read, so the memo's region (made
 * around the tests the answer depends on) holds on one side only: the
 * counts move between two regions on most records (the engine keeps the
 * newest and the one before it, fg_breaker_internal.h's fg_trip_cache). */
#define BENCH_FLAPPING_TRIPPER                                                                     \
    "FailureStreak(5) | (MinRequests(20) & FailureRate(50%) & SlowRate(30%, threshold = 2s)) | "   \
    "(MinRequests(20) & ~FailureRate(50%) & SlowRate(40%, threshold = 2s))"

typedef struct bench_baseline_ticket {
    int admitted;
    fg_state state;
    uint64_t generation;
    double started_at;
} bench_baseline_ticket;

/* Initialises b in place (closed, empty); nothing to free. */
void bench_baseline_init(bench_baseline *b, double now);

/* Returns ticket->admitted. */
int bench_baseline_acquire(bench_baseline *b, double now, bench_baseline_ticket *ticket);

/* Classifies and records one outcome; duration < 0 means now - started_at.
 * Returns the same verdict the engine's fg_breaker_release would. */
fg_verdict bench_baseline_release(bench_baseline *b, const bench_baseline_ticket *ticket,
                                  const fg_outcome *outcome, double duration, double now);
/* The same with BENCH_THRESHOLD_TRIPPER as the tripper. */
fg_verdict bench_baseline_release_threshold(bench_baseline *b, const bench_baseline_ticket *ticket,
                                            const fg_outcome *outcome, double duration, double now);
/* The same with BENCH_FLAPPING_TRIPPER as the tripper. */
fg_verdict bench_baseline_release_flapping(bench_baseline *b, const bench_baseline_ticket *ticket,
                                           const fg_outcome *outcome, double duration, double now);

fg_state bench_baseline_state(const bench_baseline *b);

#endif /* BENCH_BASELINE_H */
