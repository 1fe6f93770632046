/*
 * fg_window.c -- CountWindow and TimeWindow: running totals over a ring.
 */
#include "fg_window.h"

#include <math.h>
#include <string.h>

#include "fg_alloc.h"

/* A TimeWindow may hold any number of calls, so its per-record cap is fixed:
 * 10^4 s per call leaves room for ~9*10^5 such calls in one window before the
 * nanosecond sum could overflow. */
#define FG_TIME_WINDOW_MAX_DURATION_NS INT64_C(10000000000000)

/* Whole seconds are kept far inside int64 (and exact in a double). */
#define FG_WINDOW_SECOND_LIMIT 9.0e15

int fg_window_init(fg_window *w, const fg_window_spec *spec, const double *thresholds,
                   uint32_t threshold_count, const fg_allocator *alloc) {
    memset(w, 0, sizeof *w);
    w->kind = spec->kind;
    w->size = spec->size > 0 ? spec->size : 1;
    if (threshold_count > FG_MAX_SLOW_THRESHOLDS) threshold_count = FG_MAX_SLOW_THRESHOLDS;
    w->threshold_count = threshold_count;
    for (uint32_t i = 0; i < threshold_count; i++) w->thresholds[i] = thresholds[i];
    w->metric.threshold_count = threshold_count;
    for (uint32_t i = 0; i < threshold_count; i++) w->metric.thresholds[i] = thresholds[i];

    if (w->kind == FG_WINDOW_COUNT) {
        w->max_duration_ns = INT64_MAX / ((int64_t)w->size + 1);
        w->max_duration_ns_d = (double)w->max_duration_ns;
        w->entries = fg_alloc_new(alloc, (size_t)w->size * sizeof *w->entries);
        return w->entries != NULL ? 0 : -1;
    }
    w->max_duration_ns = FG_TIME_WINDOW_MAX_DURATION_NS;
    w->max_duration_ns_d = (double)w->max_duration_ns;
    w->buckets = fg_alloc_new(alloc, (size_t)w->size * sizeof *w->buckets);
    if (w->buckets == NULL) return -1;
    if (threshold_count > 0) {
        w->bucket_slow = fg_alloc_new(alloc, (size_t)w->size * threshold_count * sizeof *w->bucket_slow);
        if (w->bucket_slow == NULL) {
            fg_alloc_free(alloc, w->buckets, (size_t)w->size * sizeof *w->buckets);
            w->buckets = NULL;
            return -1;
        }
    }
    /* Epoch 0 is never current (clearing starts the first real epoch), so
     * the uninitialized stamps of fresh buckets never count. */
    for (uint32_t i = 0; i < w->size; i++) w->buckets[i].epoch = 0;
    fg_window_clear(w);
    return 0;
}

void fg_window_free(fg_window *w, const fg_allocator *alloc) {
    if (w->entries != NULL) fg_alloc_free(alloc, w->entries, (size_t)w->size * sizeof *w->entries);
    if (w->buckets != NULL) fg_alloc_free(alloc, w->buckets, (size_t)w->size * sizeof *w->buckets);
    if (w->bucket_slow != NULL)
        fg_alloc_free(alloc, w->bucket_slow, (size_t)w->size * w->threshold_count * sizeof *w->bucket_slow);
    w->entries = NULL;
    w->buckets = NULL;
    w->bucket_slow = NULL;
}

void fg_window_clear(fg_window *w) {
    w->counts_version++;
    w->metric.total_count = 0;
    w->metric.failure_count = 0;
    w->metric.total_duration = 0.0;
    memset(w->metric.slow_counts, 0, sizeof w->metric.slow_counts);
    w->duration_ns = 0;
    w->head = 0;
    w->filled = 0;
    /* TimeWindow: every bucket stamped with an older epoch is dead; the next
     * advance starts afresh from whatever second it is. */
    w->epoch++;
    w->newest_second = INT64_MIN;
}

static int64_t fg_window_second(double now) {
    double s = floor(now);
    if (!(s > -FG_WINDOW_SECOND_LIMIT)) s = -FG_WINDOW_SECOND_LIMIT; /* also NaN */
    if (s > FG_WINDOW_SECOND_LIMIT) s = FG_WINDOW_SECOND_LIMIT;
    return (int64_t)s;
}

static uint32_t fg_window_bucket_index(const fg_window *w, int64_t second) {
    int64_t m = second % (int64_t)w->size;
    if (m < 0) m += w->size;
    return (uint32_t)m;
}

/* Takes bucket i's counts out of the running totals and empties it. */
static void fg_window_drop_bucket(fg_window *w, uint32_t i) {
    fg_window_bucket *b = &w->buckets[i];
    w->counts_version++;
    w->metric.total_count -= b->total;
    w->metric.failure_count -= b->failures;
    w->duration_ns -= b->duration_ns;
    /* NULL + 0 is undefined: without thresholds there is no slow array. */
    uint64_t *slow = w->threshold_count ? w->bucket_slow + (size_t)i * w->threshold_count : NULL;
    for (uint32_t k = 0; k < w->threshold_count; k++) {
        w->metric.slow_counts[k] -= slow[k];
        slow[k] = 0;
    }
    b->total = 0;
    b->failures = 0;
    b->duration_ns = 0;
    b->epoch = 0; /* dead */
}

void fg_window_advance(fg_window *w, double now) {
    if (w->kind != FG_WINDOW_TIME) return;
    int64_t cur = fg_window_second(now);
    if (w->newest_second == INT64_MIN) {
        w->newest_second = cur;
        return;
    }
    if (cur <= w->newest_second) return; /* the clock is guarded; stay put */
    if (cur - w->newest_second >= (int64_t)w->size) {
        /* Everything has left the window: forget it without a walk. */
        fg_window_clear(w);
        w->newest_second = cur;
        return;
    }
    /* Seconds newest-size+1 .. cur-size leave; each bucket at most once. */
    for (int64_t s = w->newest_second + 1; s <= cur; s++) {
        int64_t leaving = s - (int64_t)w->size;
        uint32_t i = fg_window_bucket_index(w, leaving);
        const fg_window_bucket *b = &w->buckets[i];
        if (b->epoch == w->epoch && b->second == leaving) fg_window_drop_bucket(w, i);
    }
    w->newest_second = cur;
}

/* See fg_window.h: the TimeWindow half of fg_window_record. */
void fg_window_record_time(fg_window *w, int failure, int64_t ns, uint8_t levels, double now) {
    fg_window_advance(w, now);
    int64_t second = w->newest_second;
    uint32_t i = fg_window_bucket_index(w, second);
    fg_window_bucket *b = &w->buckets[i];
    /* NULL + 0 is undefined: without thresholds there is no slow array. */
    uint64_t *slow = w->threshold_count ? w->bucket_slow + (size_t)i * w->threshold_count : NULL;
    if (b->epoch != w->epoch || b->second != second) {
        /* A dead bucket, or one left over from a second that has already
         * been dropped from the totals: start it over. */
        b->second = second;
        b->epoch = w->epoch;
        b->total = 0;
        b->failures = 0;
        b->duration_ns = 0;
        for (uint32_t k = 0; k < w->threshold_count; k++) slow[k] = 0;
    }
    b->total++;
    b->failures += (failure != 0);
    b->duration_ns += ns;
    for (uint8_t k = 0; k < levels; k++) slow[k]++;
    w->counts_version++;
    w->metric.total_count++;
    w->metric.failure_count += (failure != 0);
    w->duration_ns += ns;
    for (uint8_t k = 0; k < levels; k++) w->metric.slow_counts[k]++;
}

void fg_window_metric(fg_window *w, double now, fg_metric *out) {
    *out = *fg_window_view(w, now);
}
