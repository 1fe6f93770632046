/*
 * bench_baseline.c -- the hand-written payment breaker (see bench_baseline.h).
 * Everything the engine reads from bytecode is a literal here; that is the
 * whole difference the benchmark's ratio measures.
 */
#include "bench_baseline.h"

#include <math.h>
#include <string.h>

/* The policy's constants, as literals. */
#define PAY_STREAK 5u
#define PAY_MIN_REQUESTS 20u
#define PAY_CLOSED_RATE 0.6
#define PAY_HALF_OPEN_RATE 0.5
#define PAY_SLOW_RATE 0.3
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
    if (to == FG_STATE_OPEN) {
        b->trips++;
        if (b->state == FG_STATE_HALF_OPEN) b->reopens++;
    }
    if (to == FG_STATE_CLOSED) b->reopens = 0;
    if (to == FG_STATE_CLOSED || to == FG_STATE_HALF_OPEN) b->consecutive_failures = 0;
    b->state = to;
    b->changed_at = now;
    b->generation++;
    window_clear(b);
}

static double pay_random(bench_baseline *b) {
    uint64_t x = b->prng;
    x ^= x >> 12;
    x ^= x << 25;
    x ^= x >> 27;
    b->prng = x;
    return (double)((x * 2685821657736338717ULL) >> 11) * (1.0 / 9007199254740992.0);
}

int bench_baseline_init(bench_baseline *b, double now) {
    memset(b, 0, sizeof *b);
    if (pthread_mutex_init(&b->lock, NULL) != 0) return -1;
    b->state = FG_STATE_CLOSED;
    b->changed_at = now;
    b->prng = 0x2545F4914F6CDD1DULL;
    return 0;
}

void bench_baseline_destroy(bench_baseline *b) {
    pthread_mutex_destroy(&b->lock);
}

int bench_baseline_acquire(bench_baseline *b, double now, bench_baseline_ticket *ticket) {
    int admitted = 1;
    pthread_mutex_lock(&b->lock);
    if (b->state == FG_STATE_OPEN) {
        double wait = PAY_BACKOFF_INITIAL * pow(PAY_BACKOFF_MULTIPLIER, (double)b->reopens);
        if (wait > PAY_BACKOFF_MAX) wait = PAY_BACKOFF_MAX;
        if (now - b->changed_at >= wait) transition(b, FG_STATE_HALF_OPEN, now);
        else admitted = 0;
    } else if (b->state == FG_STATE_FORCED_OPEN) {
        admitted = 0;
    }
    if (admitted && b->state == FG_STATE_HALF_OPEN) {
        double ratio = PAY_RAMP_INITIAL +
                       (PAY_RAMP_FINAL - PAY_RAMP_INITIAL) * (now - b->changed_at) / PAY_RAMP_DURATION;
        if (ratio > PAY_RAMP_FINAL) ratio = PAY_RAMP_FINAL;
        admitted = b->half_open_in_flight < PAY_MAX_HALF_OPEN && pay_random(b) < ratio;
        if (admitted) b->half_open_in_flight++;
    }
    if (!admitted) b->rejected++;
    ticket->admitted = admitted;
    ticket->state = b->state;
    ticket->generation = b->generation;
    ticket->started_at = now;
    pthread_mutex_unlock(&b->lock);
    return admitted;
}

fg_verdict bench_baseline_release(bench_baseline *b, const bench_baseline_ticket *ticket,
                                  const fg_outcome *outcome, double duration, double now) {
    if (!ticket->admitted) return FG_VERDICT_UNRECORDED;
    int cls = pay_classify(outcome); /* outside the lock, as the engine's tracker */
    if (duration < 0) duration = now - ticket->started_at;
    fg_verdict verdict;
    pthread_mutex_lock(&b->lock);
    if (ticket->state == FG_STATE_HALF_OPEN && ticket->generation == b->generation)
        b->half_open_in_flight--;
    if (cls < 0) {
        b->ignored++;
        verdict = FG_VERDICT_IGNORED;
    } else if (ticket->generation != b->generation) {
        if (cls) b->failure++;
        else b->success++;
        verdict = cls ? FG_VERDICT_STALE_FAILURE : FG_VERDICT_STALE_SUCCESS;
    } else if (b->state == FG_STATE_DISABLED) {
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
        if (b->state == FG_STATE_CLOSED && pay_trips(b, FG_STATE_CLOSED))
            transition(b, FG_STATE_OPEN, now);
        else if (b->state == FG_STATE_HALF_OPEN) {
            int trips = pay_trips(b, FG_STATE_HALF_OPEN);
            if (cls && trips) transition(b, FG_STATE_OPEN, now);
            else if (!cls && !trips) transition(b, FG_STATE_CLOSED, now);
        }
    }
    pthread_mutex_unlock(&b->lock);
    return verdict;
}
