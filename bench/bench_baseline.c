/*
 * bench_baseline.c -- the hand-written payment breaker (see bench_baseline.h).
 * Everything the engine reads from bytecode is a literal here, and the
 * tripper is an inline expression that runs after every record. The
 * engine runs its tripper only when the counts leave the region around its
 * last answer (the tripper memo): on the payment, alternating and threshold
 * mixes that answers almost every record without running the program, so
 * their ratios understate the cost of the bytecode; on the "flapping"
 * workload the newest region misses on about half the records (the counts
 * move between two regions), which the region made before it answers.
 */
#include "bench_baseline.h"

#include <math.h>
#include <string.h>

/* bench_baseline_threshold.c and bench_baseline_flapping.c compile this
 * file again with BENCH_BASELINE_VARIANT defined: the release only, with
 * BENCH_THRESHOLD_TRIPPER or BENCH_FLAPPING_TRIPPER as the tripper, each in
 * its own translation unit so that the payment breaker's code is exactly
 * what it was. */
#define BENCH_VARIANT_THRESHOLD 1
#define BENCH_VARIANT_FLAPPING 2
#if !defined(BENCH_BASELINE_VARIANT)
#define BENCH_BASELINE_RELEASE bench_baseline_release
#elif BENCH_BASELINE_VARIANT == BENCH_VARIANT_THRESHOLD
#define BENCH_BASELINE_RELEASE bench_baseline_release_threshold
#elif BENCH_BASELINE_VARIANT == BENCH_VARIANT_FLAPPING
#define BENCH_BASELINE_RELEASE bench_baseline_release_flapping
#else
#error "BENCH_BASELINE_VARIANT: BENCH_VARIANT_THRESHOLD or BENCH_VARIANT_FLAPPING"
#endif

/* The policy's constants, as literals. */
#define PAY_STREAK 5u
#define PAY_MIN_REQUESTS 20u
#define PAY_CLOSED_RATE 0.6
#define PAY_HALF_OPEN_RATE 0.5
#define PAY_SLOW_RATE 0.3
#define VARIANT_FAILURE_RATE 0.5   /* the variants' FailureRate(50%) */
#define FLAPPING_LOW_SLOW_RATE 0.4 /* flapping's SlowRate(40%) behind ~FailureRate(50%) */
#define PAY_SLOW_THRESHOLD 2.0
#define PAY_BACKOFF_INITIAL 10.0
#define PAY_BACKOFF_MULTIPLIER 2.0
#define PAY_BACKOFF_MAX 300.0
#define PAY_RAMP_INITIAL 0.1
#define PAY_RAMP_FINAL 0.5
#define PAY_RAMP_DURATION 60.0
#define PAY_MAX_HALF_OPEN 10u

static int type_is(const fg_outcome *o, const char *name, size_t len) {
    return o->type_len == len && memcmp(o->type, name, len) == 0;
}

/* TypeOf("timeout", "connection refused", "closed") | Status(500..599):
 * 1 failure, 0 success, -1 untracked error (as fg_breaker_classify). */
static int pay_classify(const fg_outcome *o) {
    int matches = o->has_status && o->status >= 500 && o->status <= 599;
    if (!matches && o->is_error && o->type != NULL)
        matches = type_is(o, "timeout", 7) || type_is(o, "connection refused", 18) ||
                  type_is(o, "closed", 6);
    if (matches) return 1;
    return o->is_error ? -1 : 0;
}

#ifdef BENCH_BASELINE_VARIANT
/* BENCH_THRESHOLD_TRIPPER or BENCH_FLAPPING_TRIPPER (bench_baseline.h), the
 * same in either state: at a failure rate of 50% or more, SlowRate(30%);
 * below it, nothing (threshold) or SlowRate(40%) (flapping). */
static int pay_trips(const bench_baseline *b, fg_state evaluated) {
    (void)evaluated;
    uint64_t total = b->count;
    if (b->consecutive_failures >= PAY_STREAK) return 1;
    if (total < PAY_MIN_REQUESTS) return 0;
    if ((double)b->failures / (double)total >= VARIANT_FAILURE_RATE)
        return (double)b->slow / (double)total >= PAY_SLOW_RATE;
#if BENCH_BASELINE_VARIANT == BENCH_VARIANT_FLAPPING
    return (double)b->slow / (double)total >= FLAPPING_LOW_SLOW_RATE;
#else
    return 0;
#endif
}
#else
static int pay_trips(const bench_baseline *b, fg_state evaluated) {
    uint64_t total = b->count;
    if (b->consecutive_failures >= PAY_STREAK) return 1;
    if (total >= PAY_MIN_REQUESTS) {
        double failure_rate = (double)b->failures / (double)total;
        if (evaluated == FG_STATE_CLOSED && failure_rate >= PAY_CLOSED_RATE) return 1;
        if (evaluated == FG_STATE_HALF_OPEN && failure_rate >= PAY_HALF_OPEN_RATE) return 1;
        if ((double)b->slow / (double)total >= PAY_SLOW_RATE) return 1;
    }
    return 0;
}
#endif

static void window_clear(bench_baseline *b) {
    b->head = 0;
    b->count = 0;
    b->failures = 0;
    b->slow = 0;
    b->total_duration = 0;
}

static void window_record(bench_baseline *b, int failure, double duration) {
    bench_baseline_record *r = &b->ring[b->head];
    if (b->count == BENCH_BASELINE_WINDOW) { /* the oldest record leaves */
        b->failures -= r->failure;
        b->slow -= r->slow;
        b->total_duration -= r->duration;
    } else {
        b->count++;
    }
    r->failure = (unsigned char)failure;
    r->duration = failure ? 0.0 : duration; /* failures count with duration 0 (fluxgate) */
    r->slow = (unsigned char)(!failure && duration >= PAY_SLOW_THRESHOLD);
    b->failures += r->failure;
    b->slow += r->slow;
    b->total_duration += r->duration;
    b->head = b->head + 1 == BENCH_BASELINE_WINDOW ? 0 : b->head + 1;
}

static void transition(bench_baseline *b, fg_state to, double now) {
    fg_state from = bench_baseline_state(b);
    if (to == FG_STATE_OPEN) {
        b->trips++;
        if (from == FG_STATE_HALF_OPEN) b->reopens++;
    }
    if (to == FG_STATE_CLOSED) b->reopens = 0;
    if (to == FG_STATE_CLOSED || to == FG_STATE_HALF_OPEN) b->consecutive_failures = 0;
    b->changed_at = now;
    window_clear(b);
    uint64_t word = atomic_load_explicit(&b->word, memory_order_relaxed);
    atomic_store_explicit(&b->word, (uint64_t)to | (((word >> 3) + 1) << 3), memory_order_release);
}

#ifndef BENCH_BASELINE_VARIANT /* (the variants' files: the release only) */
static double pay_random(bench_baseline *b) {
    uint64_t x = b->prng;
    x ^= x >> 12;
    x ^= x << 25;
    x ^= x >> 27;
    b->prng = x;
    return (double)((x * 2685821657736338717ULL) >> 11) * (1.0 / 9007199254740992.0);
}

fg_state bench_baseline_state(const bench_baseline *b) {
    return (fg_state)(atomic_load_explicit(&((bench_baseline *)b)->word, memory_order_acquire) & 7);
}

void bench_baseline_init(bench_baseline *b, double now) {
    memset(b, 0, sizeof *b);
    atomic_init(&b->word, (uint64_t)FG_STATE_CLOSED);
    fg_lock_init(&b->lock);
    b->lock_tag = fg_lock_owner_tag();
    b->changed_at = now;
    b->prng = 0x2545F4914F6CDD1DULL;
}

int bench_baseline_acquire(bench_baseline *b, double now, bench_baseline_ticket *ticket) {
    uint64_t word = atomic_load_explicit(&b->word, memory_order_acquire);
    fg_state state = (fg_state)(word & 7);
    ticket->started_at = now;
    if (state == FG_STATE_CLOSED) { /* the lock-free case, as the engine's */
        ticket->admitted = 1;
        ticket->state = state;
        ticket->generation = word >> 3;
        atomic_fetch_add_explicit(&b->admitted, 1, memory_order_relaxed);
        return 1;
    }
    int admitted = 1;
    fg_lock_acquire(&b->lock, b->lock_tag);
    state = bench_baseline_state(b);
    if (state == FG_STATE_OPEN) {
        double wait = PAY_BACKOFF_INITIAL * pow(PAY_BACKOFF_MULTIPLIER, (double)b->reopens);
        if (wait > PAY_BACKOFF_MAX) wait = PAY_BACKOFF_MAX;
        if (now >= b->changed_at + wait) transition(b, FG_STATE_HALF_OPEN, now);
        else admitted = 0;
    } else if (state == FG_STATE_FORCED_OPEN) {
        admitted = 0;
    }
    if (admitted && bench_baseline_state(b) == FG_STATE_HALF_OPEN) {
        double ratio = PAY_RAMP_INITIAL +
                       (PAY_RAMP_FINAL - PAY_RAMP_INITIAL) * ((now - b->changed_at) / PAY_RAMP_DURATION);
        if (ratio > PAY_RAMP_FINAL) ratio = PAY_RAMP_FINAL;
        admitted = b->half_open_in_flight < PAY_MAX_HALF_OPEN && pay_random(b) < ratio;
        if (admitted) b->half_open_in_flight++;
    }
    if (admitted) atomic_fetch_add_explicit(&b->admitted, 1, memory_order_relaxed);
    else atomic_fetch_add_explicit(&b->rejected, 1, memory_order_relaxed);
    word = atomic_load_explicit(&b->word, memory_order_relaxed);
    ticket->admitted = admitted;
    ticket->state = (fg_state)(word & 7);
    ticket->generation = word >> 3;
    fg_lock_release(&b->lock);
    return admitted;
}

#endif

fg_verdict BENCH_BASELINE_RELEASE(bench_baseline *b, const bench_baseline_ticket *ticket,
                                  const fg_outcome *outcome, double duration, double now) {
    if (!ticket->admitted) return FG_VERDICT_UNRECORDED;
    int cls = pay_classify(outcome); /* outside the lock, as the engine's tracker */
    if (duration < 0) duration = now - ticket->started_at;
    fg_verdict verdict;
    fg_lock_acquire(&b->lock, b->lock_tag);
    uint64_t word = atomic_load_explicit(&b->word, memory_order_relaxed);
    fg_state state = (fg_state)(word & 7);
    int current = ticket->generation == word >> 3;
    if (ticket->state == FG_STATE_HALF_OPEN && current) b->half_open_in_flight--;
    if (cls < 0) {
        b->ignored++;
        verdict = FG_VERDICT_IGNORED;
    } else if (!current) {
        if (cls) b->failure++;
        else b->success++;
        verdict = cls ? FG_VERDICT_STALE_FAILURE : FG_VERDICT_STALE_SUCCESS;
    } else if (state == FG_STATE_DISABLED) {
        verdict = FG_VERDICT_UNRECORDED;
    } else {
        window_record(b, cls, duration);
        if (cls) {
            b->failure++;
            b->consecutive_failures++;
            verdict = FG_VERDICT_FAILURE;
        } else {
            b->success++;
            b->consecutive_failures = 0;
            verdict = FG_VERDICT_SUCCESS;
        }
        if (state == FG_STATE_CLOSED && pay_trips(b, FG_STATE_CLOSED))
            transition(b, FG_STATE_OPEN, now);
        else if (state == FG_STATE_HALF_OPEN) {
            int trips = pay_trips(b, FG_STATE_HALF_OPEN);
            if (cls && trips) transition(b, FG_STATE_OPEN, now);
            else if (!cls && !trips) transition(b, FG_STATE_CLOSED, now);
        }
    }
    fg_lock_release(&b->lock);
    return verdict;
}
