/*
 * fg_window.h -- the sliding windows that decide which recent calls count:
 * CountWindow(n) (the last n records) and TimeWindow(n) (the calls of the
 * last n whole seconds of the breaker's clock).
 *
 * Both keep running totals, so recording and reading the metric are O(1)
 * (TimeWindow: amortized, a bucket is dropped at most once per second the
 * clock moves). Durations are summed as integer nanoseconds so that adding
 * and removing records never drifts; fg_window_metric converts to seconds.
 * Every buffer is allocated once by fg_window_init; nothing else allocates.
 * Not thread-safe: the breaker calls it under its lock.
 */
#ifndef FG_WINDOW_H
#define FG_WINDOW_H

#include <stdint.h>

#include "fg_policy_internal.h"
#include "fluxgate.h"

/* One record of a CountWindow. */
typedef struct fg_window_entry {
    int64_t duration_ns;
    uint8_t failure;
    uint8_t slow_levels; /* the record is slow at thresholds[0 .. slow_levels) */
} fg_window_entry;

/* One second of a TimeWindow. A bucket counts only while its stamp
 * (second, epoch) is current: clearing the window bumps the epoch instead of
 * touching every bucket. */
typedef struct fg_window_bucket {
    int64_t second;
    uint64_t epoch;
    uint64_t total;
    uint64_t failures;
    int64_t duration_ns;
} fg_window_bucket;

typedef struct fg_window {
    fg_window_kind kind;
    uint32_t size;
    uint32_t threshold_count;
    double thresholds[FG_MAX_SLOW_THRESHOLDS]; /* ascending */
    int64_t max_duration_ns; /* per-record cap, so that the sums cannot overflow */
    double max_duration_ns_d; /* the same as a double, for the hot path's compare */

    /* Running totals over what the window holds, kept directly in metric
     * form so that evaluating a tripper copies nothing: metric.total_count,
     * failure_count, thresholds and slow_counts are always current;
     * metric.total_duration is refreshed from duration_ns when viewed. */
    fg_metric metric;
    int64_t duration_ns;
    /* Bumped by every change of metric.total_count, failure_count or
     * slow_counts (not of the duration): equal versions of one window mean
     * equal counts, so a tripper that does not read the duration need not
     * run again (fg_vm_trip_cached). Every write of those counts is in this
     * module, next to a bump. */
    uint64_t counts_version;

    /* CountWindow: a ring of size entries, the oldest at head once full */
    fg_window_entry *entries;
    uint32_t head;
    uint32_t filled;

    /* TimeWindow: size buckets, second s in buckets[s mod size];
     * bucket_slow[i * threshold_count + k] is bucket i's slow count at k */
    fg_window_bucket *buckets;
    uint64_t *bucket_slow;
    uint64_t epoch;
    int64_t newest_second; /* the latest second the totals are current for */
} fg_window;

/* Allocates the window's buffers with alloc. thresholds (ascending, at most
 * FG_MAX_SLOW_THRESHOLDS) are copied. Returns 0, or -1 when out of memory
 * (nothing is then left allocated). Release with fg_window_free. */
int fg_window_init(fg_window *w, const fg_window_spec *spec, const double *thresholds,
                   uint32_t threshold_count, const fg_allocator *alloc);
void fg_window_free(fg_window *w, const fg_allocator *alloc);

/* The TimeWindow half of fg_window_record, out of line: a record of ns
 * nanoseconds, slow at thresholds[0 .. levels). */
void fg_window_record_time(fg_window *w, int failure, int64_t ns, uint8_t levels, double now);

/* A duration in whole nanoseconds, capped so that the sums cannot overflow;
 * negative, zero and NaN durations count as 0. */
static inline int64_t fg_window_duration_ns(const fg_window *w, double duration) {
    if (!(duration > 0.0)) return 0;
    double ns = duration * 1e9;
    if (ns >= w->max_duration_ns_d) return w->max_duration_ns;
    return (int64_t)(ns + 0.5); /* ns > 0: rounds to nearest */
}

/* How many thresholds (ascending) the duration reaches: slow at t when d >= t.
 * Counted over every threshold rather than stopping at the first one not
 * reached: the same number (they ascend), and the loop's length no longer
 * depends on the call, so it costs no mispredicted branch. */
static inline uint8_t fg_window_slow_levels(const fg_window *w, double duration) {
    uint8_t levels = 0;
    for (uint32_t k = 0; k < w->threshold_count; k++) levels += duration >= w->thresholds[k];
    return levels;
}

/* Adds one call at time now: a failure (its duration is ignored and counts
 * as 0, as fluxgate does) or a success of duration seconds (negative or NaN
 * durations count as 0). now must not go backwards between calls.
 * Inline for the CountWindow, every recorded outcome's path: a full ring
 * replaces its oldest record, so the totals move by the difference between
 * the record that leaves and the one that comes (the count stays). */
static inline void fg_window_record(fg_window *w, int failure, double duration, double now) {
    int64_t ns = failure ? 0 : fg_window_duration_ns(w, duration);
    uint8_t levels = failure ? 0 : fg_window_slow_levels(w, duration);
    if (w->kind != FG_WINDOW_COUNT) {
        fg_window_record_time(w, failure, ns, levels, now);
        return;
    }
    fg_window_entry *e = &w->entries[w->head];
    uint8_t f = (uint8_t)(failure != 0);
    uint8_t old_levels = 0; /* what the record that leaves counted */
    if (w->filled == w->size) {
        w->metric.failure_count = w->metric.failure_count - e->failure + f;
        w->duration_ns += ns - e->duration_ns;
        old_levels = e->slow_levels;
        /* the counts change only when the record that comes differs from
         * the one that leaves */
        w->counts_version += (f != e->failure) | (levels != old_levels);
    } else {
        w->filled++;
        w->metric.total_count++;
        w->metric.failure_count += f;
        w->duration_ns += ns;
        w->counts_version++;
    }
    /* branch-free per threshold: +1 where the new record is slow, -1 where
     * the old one was (unsigned arithmetic; the counts never go below 0) */
    for (uint32_t k = 0; k < w->threshold_count; k++)
        w->metric.slow_counts[k] += (uint64_t)(k < levels) - (uint64_t)(k < old_levels);
    e->failure = f;
    e->duration_ns = ns;
    e->slow_levels = levels;
    w->head = w->head + 1 == w->size ? 0 : w->head + 1;
}

/* Drops what has left a TimeWindow by time now (no-op for CountWindow). */
void fg_window_advance(fg_window *w, double now);

/* The metric as of now (advances a TimeWindow first), copied into *out. */
void fg_window_metric(fg_window *w, double now, fg_metric *out);

/* The same without a copy: a pointer into the window, valid until the next
 * call that changes it. For the tripper on the hot path, hence inline. */
static inline const fg_metric *fg_window_view(fg_window *w, double now) {
    if (w->kind == FG_WINDOW_TIME) fg_window_advance(w, now);
    w->metric.total_duration = (double)w->duration_ns * 1e-9;
    return &w->metric;
}

/* Forgets every record. O(1). */
void fg_window_clear(fg_window *w);

#endif /* FG_WINDOW_H */
