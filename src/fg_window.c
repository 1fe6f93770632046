/*
 * fg_window.c -- CountWindow and TimeWindow: running totals over a ring or
 * over one-second buckets, all in the breaker's state block.
 */
#include "fg_window.h"

#include <math.h>
#include <string.h>

int fg_window_level_bits(uint32_t threshold_count) {
    int bits = 0;
    while ((1u << bits) <= threshold_count) bits++;
    return threshold_count == 0 ? 0 : bits;
}

uint64_t fg_window_entries_bytes(fg_window_kind kind, uint32_t size, uint32_t threshold_count,
                                 int exact) {
    uint64_t n;
    if (kind == FG_WINDOW_COUNT) {
        n = (uint64_t)size * (exact ? sizeof(double) : sizeof(uint32_t));
    } else {
        uint64_t stride = (sizeof(fg_window_bucket) + (uint64_t)threshold_count * 4u + 7u) & ~7ull;
        n = (uint64_t)size * stride;
    }
    return (n + 7u) & ~7ull;
}

uint64_t fg_window_extra_bytes(fg_window_kind kind, int exact) {
    if (kind == FG_WINDOW_TIME) return sizeof(fg_window_wide) + sizeof(fg_exact_sum);
    return exact ? sizeof(fg_exact_sum) : 0;
}

void fg_window_init(fg_window *w, fg_window_state *st, void *extra, uint64_t *slow, void *entries,
                    fg_window_kind kind, uint32_t size, const double *thresholds,
                    uint32_t threshold_count, int exact, int fresh) {
    memset(w, 0, sizeof *w);
    if (threshold_count > FG_MAX_SLOW_THRESHOLDS) threshold_count = FG_MAX_SLOW_THRESHOLDS;
    w->st = st;
    uint16_t at = extra != NULL ? (uint16_t)((char *)extra - (char *)st) : 0;
    if (kind == FG_WINDOW_TIME) w->sum_at = (uint16_t)(at + sizeof(fg_window_wide));
    else if (exact) w->sum_at = at;
    w->slow = slow;
    w->entries = entries;
    w->thresholds = thresholds;
    w->size = size > 0 ? size : 1;
    w->kind = (uint8_t)kind;
    w->exact = (uint8_t)(kind == FG_WINDOW_TIME || exact);
    w->threshold_count = (uint8_t)threshold_count;
    w->level_bits = (uint8_t)fg_window_level_bits(threshold_count);
    w->failure_word = (uint32_t)(UINT32_MAX >> w->level_bits);
    w->bucket_stride = (uint16_t)((sizeof(fg_window_bucket) + threshold_count * 4u + 7u) & ~7u);
    if (fresh) {
        memset(entries, 0, fg_window_entries_bytes(kind, w->size, threshold_count, exact));
        if (kind == FG_WINDOW_TIME) st->epoch = 1; /* epoch 0 is never current: zeroed buckets are dead */
        fg_window_clear(w);
    }
}

int fg_window_sane(const fg_window *w) {
    const fg_window_state *st = w->st;
    if (w->kind == FG_WINDOW_TIME) return 1; /* buckets are found by second modulo the size */
    return st->head < w->size && st->total_count <= w->size && st->failure_count <= st->total_count;
}

void fg_window_clear(fg_window *w) {
    fg_window_state *st = w->st;
    st->counts_version++;
    st->total_count = 0;
    st->failure_count = 0;
    if (w->kind == FG_WINDOW_TIME) fg_window_wide_of(w)->total_count = fg_window_wide_of(w)->failure_count = 0;
    if (w->sum_at != 0) fg_exact_sum_clear(fg_window_sum_of(w));
    for (uint32_t k = 0; k < w->threshold_count; k++) w->slow[k] = 0;
    if (w->kind != FG_WINDOW_TIME) {
        st->head = 0;
        st->micros = 0;
        return;
    }
    /* TimeWindow: every bucket stamped with an older epoch is dead; the next
     * advance starts afresh from whatever second it is. */
    st->epoch++;
    if (st->epoch == 0) st->epoch = 1;
    st->newest_second = INT64_MIN;
}

/* The CountWindow ring, exact entries (doubles; a failure is -1). */
static void fg_window_record_exact(fg_window *w, int failure, double duration) {
    fg_window_state *st = w->st;
    double *ring = w->entries;
    double d = failure ? -1.0 : (duration > 0.0 ? duration : 0.0); /* NaN: 0 */
    uint32_t levels = failure ? 0 : fg_window_slow_levels(w, d);
    uint32_t old_levels = 0;
    if (st->total_count == w->size) {
        double old = ring[st->head];
        int old_failure = old < 0.0;
        old_levels = old_failure ? 0 : fg_window_slow_levels(w, old);
        st->failure_count = st->failure_count - (uint32_t)old_failure + (uint32_t)(failure != 0);
        if (!old_failure) fg_exact_sum_sub(fg_window_sum_of(w), old);
        st->counts_version += ((failure != 0) != old_failure) | (levels != old_levels);
    } else {
        st->total_count++;
        st->failure_count += failure != 0;
        st->counts_version++;
    }
    if (!failure) fg_exact_sum_add(fg_window_sum_of(w), d);
    for (uint32_t k = 0; k < w->threshold_count; k++)
        w->slow[k] += (uint64_t)(k < levels) - (uint64_t)(k < old_levels);
    ring[st->head] = d;
    st->head = st->head + 1 == w->size ? 0 : st->head + 1;
}

int64_t fg_window_second(double now) {
    double s = floor(now);
    if (!(s > -FG_WINDOW_SECOND_LIMIT)) s = -FG_WINDOW_SECOND_LIMIT; /* also NaN */
    if (s > FG_WINDOW_SECOND_LIMIT) s = FG_WINDOW_SECOND_LIMIT;
    return (int64_t)s;
}

/* Takes a bucket's counts out of the running totals and empties it. */
static void fg_window_drop_bucket(fg_window *w, fg_window_bucket *b) {
    fg_window_state *st = w->st;
    st->counts_version++;
    fg_window_wide_of(w)->total_count -= b->total;
    fg_window_wide_of(w)->failure_count -= b->failures;
    fg_exact_sum_sub_units(fg_window_sum_of(w), b->duration.limb);
    uint32_t *slow = fg_window_bucket_slow(b);
    for (uint32_t k = 0; k < w->threshold_count; k++) {
        w->slow[k] -= slow[k];
        slow[k] = 0;
    }
    b->total = 0;
    b->failures = 0;
    fg_exact_sum_clear(&b->duration);
    b->epoch = 0; /* dead */
}

void fg_window_advance_seconds(fg_window *w, double now) {
    fg_window_state *st = w->st;
    int64_t cur = fg_window_second(now);
    if (st->newest_second == INT64_MIN) {
        st->newest_second = cur;
        return;
    }
    if (cur <= st->newest_second) return; /* time never goes back; stay put */
    if (cur - st->newest_second >= (int64_t)w->size) {
        /* Everything has left the window: forget it without a walk. */
        fg_window_clear(w);
        st->newest_second = cur;
        return;
    }
    /* Seconds newest-size+1 .. cur-size leave; each bucket at most once. */
    for (int64_t s = st->newest_second + 1; s <= cur; s++) {
        int64_t leaving = s - (int64_t)w->size;
        fg_window_bucket *b = fg_window_bucket_at(w, leaving);
        if (b->epoch == st->epoch && b->second == leaving) fg_window_drop_bucket(w, b);
    }
    st->newest_second = cur;
}

static void fg_window_record_time(fg_window *w, int failure, double duration, double now) {
    fg_window_advance(w, now);
    fg_window_state *st = w->st;
    int64_t second = st->newest_second;
    fg_window_bucket *b = fg_window_bucket_at(w, second);
    uint32_t *slow = fg_window_bucket_slow(b);
    if (b->epoch != st->epoch || b->second != second) {
        /* A dead bucket, or one left over from a second that has already
         * been dropped from the totals: start it over. */
        b->second = second;
        b->epoch = st->epoch;
        b->total = 0;
        b->failures = 0;
        fg_exact_sum_clear(&b->duration);
        for (uint32_t k = 0; k < w->threshold_count; k++) slow[k] = 0;
    }
    uint32_t levels = failure ? 0 : fg_window_slow_levels(w, duration);
    b->total++;
    b->failures += failure != 0;
    st->counts_version++;
    fg_window_wide_of(w)->total_count++;
    fg_window_wide_of(w)->failure_count += failure != 0;
    /* A zero duration (a failure, or a success nobody measured: no
     * duration rule) adds nothing to the exact sums: skip the conversion. */
    if (!failure && duration > 0.0) {
        uint64_t u[3];
        fg_exact_sum_units(duration, u);
        fg_exact_sum_add_units(&b->duration, u);
        fg_exact_sum_add_units(fg_window_sum_of(w), u);
    }
    for (uint32_t k = 0; k < levels; k++) {
        slow[k]++;
        w->slow[k]++;
    }
}

void fg_window_record_other(fg_window *w, int failure, double duration, double now) {
    if (w->kind == FG_WINDOW_TIME) fg_window_record_time(w, failure, duration, now);
    else fg_window_record_exact(w, failure, duration);
}

/* ---- restoring (fg_snapshot.c) ------------------------------------------------ */

void fg_window_push_word(fg_window *w, uint32_t word) {
    fg_window_state *st = w->st;
    uint32_t *ring = w->entries;
    uint32_t dur = word & w->failure_word;
    uint32_t levels = w->level_bits ? word >> (32u - w->level_bits) : 0;
    int failure = dur == w->failure_word;
    uint32_t at = (uint32_t)st->total_count++;
    ring[at] = word;
    st->failure_count += (uint32_t)failure;
    if (!failure) st->micros += dur;
    for (uint32_t k = 0; k < levels && k < w->threshold_count; k++) w->slow[k]++;
    st->head = at + 1 == w->size ? 0 : at + 1;
    st->counts_version++;
}

void fg_window_push_exact(fg_window *w, double d) {
    fg_window_state *st = w->st;
    double *ring = w->entries;
    int failure = d < 0.0;
    uint32_t levels = failure ? 0 : fg_window_slow_levels(w, d);
    uint32_t at = (uint32_t)st->total_count++;
    ring[at] = d;
    st->failure_count += (uint32_t)failure;
    if (!failure) fg_exact_sum_add(fg_window_sum_of(w), d);
    for (uint32_t k = 0; k < levels; k++) w->slow[k]++;
    st->head = at + 1 == w->size ? 0 : at + 1;
    st->counts_version++;
}

void fg_window_put_bucket(fg_window *w, int64_t second, uint32_t total, uint32_t failures,
                          const uint32_t *slow, const uint64_t duration[3]) {
    fg_window_state *st = w->st;
    fg_window_bucket *b = fg_window_bucket_at(w, second);
    uint32_t *bslow = fg_window_bucket_slow(b);
    b->second = second;
    b->epoch = st->epoch;
    b->total = total;
    b->failures = failures;
    for (int i = 0; i < 3; i++) b->duration.limb[i] = duration[i];
    for (uint32_t k = 0; k < w->threshold_count; k++) {
        bslow[k] = slow[k];
        w->slow[k] += slow[k];
    }
    fg_window_wide_of(w)->total_count += total;
    fg_window_wide_of(w)->failure_count += failures;
    fg_exact_sum_add_units(fg_window_sum_of(w), duration);
    st->counts_version++;
}
