/*
 * fg_window.h -- the sliding windows that decide which recent calls count:
 * CountWindow(n) (the last n records) and TimeWindow(n) (the calls of the
 * last n whole seconds of the breaker's clock).
 *
 * A window's memory is not its own: its running totals (fg_window_state)
 * and its arrays live in the breaker's state block, and fg_window is a
 * per-process view of them (pointers into the block, the constants of the
 * definition). Everything is fixed-width and pointer-free in the block.
 *
 * Storage holds only what the definition needs:
 *   - CountWindow, tripper without AvgLatency: one 32-bit word per record:
 *     the slow level in the top level_bits bits (0 bits without SlowRate
 *     thresholds, 1 for one threshold, ... 4 for eight), and the duration
 *     in whole microseconds in the rest (a failure is the all-ones
 *     duration: failures count with duration 0). The duration there is
 *     only reported (info()'s total_duration); slow levels are classified
 *     from the exact duration given, before it is rounded. Durations are
 *     capped at 2^(32 - level_bits) - 2 microseconds (about 71 minutes
 *     without thresholds, 35 with one).
 *   - CountWindow, tripper with AvgLatency: one double per record, kept
 *     exactly as given (a failure is -1); its slow level is classified
 *     again from the same double when it leaves.
 *   - TimeWindow: one bucket per second with its counts and the exact sum
 *     of its durations.
 * Sums: microseconds are summed as a 64-bit integer in the running totals;
 * exact durations in an fg_exact_sum (a 192-bit fixed-point integer), so
 * adding and removing records never drifts and AvgLatency compares the
 * exact average. The exact sum is not in the running totals: only windows
 * that keep exact durations (TimeWindow, CountWindow with AvgLatency) have
 * one, in the block's variable part (fg_block_layout_of).
 *
 * Recording and reading the metric are O(1) (TimeWindow: amortized, a
 * bucket is dropped at most once per second the clock moves). Not
 * thread-safe: the breaker calls it under its lock. Never allocates.
 */
#ifndef FG_WINDOW_H
#define FG_WINDOW_H

#include <stdint.h>

#include "fg_exact_sum.h"
#include "fg_policy_internal.h"
#include "fluxgate.h"

/* The window's running totals, in the state block's hot part: 24 bytes.
 * A CountWindow's counts fit 32 bits (it holds at most its size, 10^6:
 * fg_builtins.c), and its entries in use are its total_count, so no
 * separate fill count is kept. A TimeWindow's counts may pass 2^32 (86400
 * seconds of up to 2^32 calls each): they are 64-bit, beside the exact
 * duration sum in the block's variable part (fg_window_wide), and its
 * 32-bit counts here stay 0. Read the counts with fg_window_total_count
 * and fg_window_failure_count. */
typedef struct fg_window_state {
    union {
        uint32_t head;  /* CountWindow: next entry to write */
        uint32_t epoch; /* TimeWindow: buckets of other epochs are dead */
    };
    /* Bumped by every change of total_count, failure_count or the slow
     * counts (not of the duration): equal versions mean equal counts, so a
     * tripper that does not read the duration need not run again. 32 bits:
     * between two evaluations it moves by at most one per record plus the
     * buckets one advance drops (at most 86400), never by 2^32, so equal
     * versions still mean equal counts (fg_block_memo keys on it). */
    uint32_t counts_version;
    uint32_t total_count;   /* CountWindow */
    uint32_t failure_count; /* CountWindow */
    union {
        uint64_t micros;       /* CountWindow of 32-bit entries: their durations, in microseconds */
        int64_t newest_second; /* TimeWindow: the latest second the totals cover */
    };
} fg_window_state;

/* A TimeWindow's counts, first in the window's extra memory (then its
 * exact duration sum: fg_window_extra_bytes). */
typedef struct fg_window_wide {
    uint64_t total_count;
    uint64_t failure_count;
} fg_window_wide;

/* One second of a TimeWindow (then uint32_t slow[threshold_count]). A
 * bucket counts only while its stamp (second, epoch) is current: clearing
 * the window bumps the epoch instead of touching every bucket. */
typedef struct fg_window_bucket {
    int64_t second;
    uint32_t epoch;
    uint32_t total;
    uint32_t failures;
    uint32_t pad;
    fg_exact_sum duration;
} fg_window_bucket;

/* A view of a window: per process, made once per breaker. */
typedef struct fg_window {
    fg_window_state *st;
    uint64_t *slow;           /* slow counts, [threshold_count] */
    void *entries;            /* CountWindow ring (uint32_t or double), or buckets */
    const double *thresholds; /* ascending, the tripper's */
    uint32_t size;
    uint16_t bucket_stride;   /* TimeWindow: bytes per bucket (at most 72) */
    /* Where the exact duration sum is, in bytes from st (0: none), a
     * TimeWindow's counts just before it: the same distance in every block
     * of a layout, so a rebased view moves no pointer for them, and small
     * (the extra memory follows the fixed part's hot end and the slow
     * counts: fg_block.c checks that it fits). */
    uint16_t sum_at;
    uint8_t kind;             /* fg_window_kind */
    uint8_t exact;            /* CountWindow: durations kept as doubles */
    uint8_t threshold_count;
    uint8_t level_bits;
    uint32_t failure_word;    /* microsecond entries: the all-ones duration */
} fg_window;

/* A TimeWindow's counts (only for a TimeWindow). */
static inline fg_window_wide *fg_window_wide_of(const fg_window *w) {
    return (fg_window_wide *)((char *)w->st + w->sum_at - sizeof(fg_window_wide));
}

/* The exact duration sum of a window that keeps exact durations, or NULL. */
static inline fg_exact_sum *fg_window_sum_of(const fg_window *w) {
    return w->sum_at != 0 ? (fg_exact_sum *)((char *)w->st + w->sum_at) : NULL;
}

/* Makes *w a view of the same window in another block of the same layout:
 * *from (a view into from_block) with its pointers moved by the distance
 * between the blocks. Cheaper than fg_window_init (no memset, no level
 * bits, no program lookups), for a family's per-call view (fg_breaker_bind). */
static inline void fg_window_rebase(fg_window *w, const fg_window *from, const void *from_block,
                                    void *block) {
    *w = *from;
    w->st = (fg_window_state *)((char *)block + ((const char *)from->st - (const char *)from_block));
    w->slow = (uint64_t *)((char *)block + ((const char *)from->slow - (const char *)from_block));
    w->entries = (char *)block + ((const char *)from->entries - (const char *)from_block);
}

/* Bits for a slow level 0..threshold_count. */
int fg_window_level_bits(uint32_t threshold_count);

/* Bytes of a window's arrays (entries or buckets), 8-byte aligned. */
uint64_t fg_window_entries_bytes(fg_window_kind kind, uint32_t size, uint32_t threshold_count,
                                 int exact);

/* Bytes of what a window keeps beside its running totals, 8-byte aligned:
 * a TimeWindow's counts (fg_window_wide), then the exact duration sum of a
 * window that keeps exact durations (a TimeWindow, or exact = 1): 40 for a
 * TimeWindow, 24 for an exact CountWindow, else 0. */
uint64_t fg_window_extra_bytes(fg_window_kind kind, int exact);

/* Makes a view over st, extra (of fg_window_extra_bytes bytes, after st in
 * the same object: NULL when 0), slow[threshold_count] and entries (of
 * fg_window_entries_bytes bytes); thresholds must outlive it. fresh = 1
 * also empties the window (a new block); 0 joins the state there. */
void fg_window_init(fg_window *w, fg_window_state *st, void *extra, uint64_t *slow, void *entries,
                    fg_window_kind kind, uint32_t size, const double *thresholds,
                    uint32_t threshold_count, int exact, int fresh);

/* The calls the window holds, and the failures among them. */
static inline uint64_t fg_window_total_count(const fg_window *w) {
    return w->kind == FG_WINDOW_TIME ? fg_window_wide_of(w)->total_count : w->st->total_count;
}
static inline uint64_t fg_window_failure_count(const fg_window *w) {
    return w->kind == FG_WINDOW_TIME ? fg_window_wide_of(w)->failure_count : w->st->failure_count;
}

/* The TimeWindow and exact-CountWindow halves of fg_window_record. */
void fg_window_record_other(fg_window *w, int failure, double duration, double now);

/* How many thresholds (ascending) the duration reaches: slow at t when
 * d >= t. Counted over every threshold (the same number: they ascend), so
 * the loop's length does not depend on the call. */
static inline uint32_t fg_window_slow_levels(const fg_window *w, double duration) {
    uint32_t levels = 0;
    for (uint32_t k = 0; k < w->threshold_count; k++) levels += duration >= w->thresholds[k];
    return levels;
}

/* A success's duration in whole microseconds for a 32-bit entry whose
 * failure word is failure_word (rounded to nearest; capped below it). */
static inline uint32_t fg_window_micros_below(uint32_t failure_word, double duration) {
    if (!(duration > 0.0)) return 0;
    double us = duration * 1e6 + 0.5;
    double cap = (double)(failure_word - 1);
    return us >= cap ? failure_word - 1 : (uint32_t)us;
}

/* The CountWindow ring, microsecond entries: the totals move by the
 * difference between the record that leaves and the one that comes.
 * nthr and level_bits are the view's threshold_count and level_bits; the
 * callers in fg_window_record pass literals for the common layouts (no
 * SlowRate: 0, 0; one threshold: 1, 1), so that the compiler drops the
 * loops over thresholds and folds the word's bit layout into constants
 * (this runs on every recorded outcome, under the lock). */
static inline void fg_window_record_micros(fg_window *w, int failure, double duration, uint32_t nthr,
                                           uint32_t level_bits) {
    /* The view's fields in locals first: its uint8_t fields may alias
     * anything the stores below write, so the compiler would reload them. */
    fg_window_state *st = w->st;
    uint32_t *ring = w->entries;
    uint64_t *slow = w->slow;
    const uint32_t size = w->size;
    const uint32_t failure_word = (uint32_t)(UINT32_MAX >> level_bits);
    const uint32_t dur_bits = 32u - level_bits;
    uint32_t levels = 0; /* a failure is never slow */
    if (!failure && nthr == 1) levels = duration >= w->thresholds[0];
    else if (!failure && nthr > 1) levels = fg_window_slow_levels(w, duration);
    uint32_t word = failure ? failure_word : fg_window_micros_below(failure_word, duration);
    if (level_bits) word |= levels << dur_bits;
    uint32_t head = st->head;
    uint32_t old_levels = 0;
    uint32_t f = failure != 0;
    if (st->total_count == size) {
        uint32_t old = ring[head];
        uint32_t old_dur = old & failure_word;
        uint32_t old_failure = old_dur == failure_word;
        old_levels = level_bits ? old >> dur_bits : 0;
        st->failure_count = st->failure_count - old_failure + f;
        /* in 64 bits: the difference may be negative (it wraps back) */
        st->micros += (uint64_t)(f ? 0 : (word & failure_word)) - (uint64_t)(old_failure ? 0 : old_dur);
        st->counts_version += (f != old_failure) | (levels != old_levels);
    } else {
        st->total_count++;
        st->failure_count += f;
        st->micros += f ? 0 : (word & failure_word);
        st->counts_version++;
    }
    /* The slow counts change only when the levels differ: stored only then,
     * so that their cache line is not written by every record. */
    if (levels != old_levels) {
        if (nthr == 1) slow[0] += (uint64_t)levels - (uint64_t)old_levels;
        else for (uint32_t k = 0; k < nthr; k++) slow[k] += (uint64_t)(k < levels) - (uint64_t)(k < old_levels);
    }
    ring[head] = word;
    st->head = head + 1 == size ? 0 : head + 1;
}

/* The bucket that holds `second` (whether or not its stamp says so). */
static inline fg_window_bucket *fg_window_bucket_at(const fg_window *w, int64_t second) {
    int64_t m = second % (int64_t)w->size;
    if (m < 0) m += w->size;
    return (fg_window_bucket *)((char *)w->entries + (size_t)m * w->bucket_stride);
}

/* Adds one call at time now: a failure (its duration counts as 0, as
 * fluxgate does) or a success of duration seconds (negative and NaN count
 * as 0). now must not go backwards between calls. Inline for the common
 * CountWindow and for a TimeWindow's record into its current second
 * without durations or slow counts: every recorded outcome's path. */
static inline void fg_window_record(fg_window *w, int failure, double duration, double now) {
    if (w->kind == FG_WINDOW_COUNT && !w->exact) {
        /* level_bits is a function of threshold_count (fg_window_level_bits) */
        if (w->threshold_count == 0) fg_window_record_micros(w, failure, duration, 0, 0);
        else if (w->threshold_count == 1) fg_window_record_micros(w, failure, duration, 1, 1);
        else fg_window_record_micros(w, failure, duration, w->threshold_count, w->level_bits);
        return;
    }
    if (w->kind == FG_WINDOW_TIME && w->threshold_count == 0 && !(duration > 0.0)) {
        /* A TimeWindow record within the newest second, into that second's
         * live bucket, adding no duration (a failure, or a success nobody
         * measured) and no slow count: only counts move (everything else
         * is fg_window_record_time's, out of line). */
        fg_window_state *st = w->st;
        int64_t s = st->newest_second;
        if (s != INT64_MIN && now >= (double)s && now < (double)s + 1.0) {
            fg_window_bucket *b = fg_window_bucket_at(w, s);
            if (b->epoch == st->epoch && b->second == s) {
                uint32_t f = failure != 0;
                b->total++;
                b->failures += f;
                st->counts_version++;
                fg_window_wide_of(w)->total_count++;
                fg_window_wide_of(w)->failure_count += f;
                return;
            }
        }
    }
    fg_window_record_other(w, failure, duration, now);
}

/* The slow path of fg_window_advance: now is outside the newest second. */
void fg_window_advance_seconds(fg_window *w, double now);

/* Drops what has left a TimeWindow by time now (no-op for CountWindow).
 * Most calls happen within the second the window already covers: that is
 * decided with two compares, without floor() and the clamping of
 * fg_window_second (a second [s, s + 1) whose bounds are exact doubles:
 * |s| <= FG_WINDOW_SECOND_LIMIT < 2^53). */
static inline void fg_window_advance(fg_window *w, double now) {
    if (w->kind != FG_WINDOW_TIME) return;
    int64_t s = w->st->newest_second;
    if (s != INT64_MIN && now >= (double)s && now < (double)s + 1.0) return;
    fg_window_advance_seconds(w, now);
}

/* The total duration of what the window holds, in seconds. */
static inline double fg_window_total_duration(const fg_window *w) {
    /* microseconds / 1e6: one correctly rounded division */
    return w->exact ? fg_exact_sum_value(fg_window_sum_of(w)) : (double)w->st->micros / 1e6;
}

/* What the tripper reads of the metric as of now (advances a TimeWindow
 * first): the counts, threshold_count and slow_counts[0..threshold_count).
 * thresholds[] and the slow counts past threshold_count are NOT written
 * (the VM never reads them: fg_vm_slow_rate stops at threshold_count), so
 * a tripper run does not copy and zero all FG_MAX_SLOW_THRESHOLDS entries.
 * with_duration = 0 leaves total_duration 0 (for a tripper that does not
 * read it). Inline: it runs before every tripper run. */
static inline void fg_window_view(fg_window *w, double now, fg_metric *out, int with_duration) {
    if (w->kind == FG_WINDOW_TIME) fg_window_advance(w, now);
    out->total_count = fg_window_total_count(w);
    out->failure_count = fg_window_failure_count(w);
    out->threshold_count = w->threshold_count;
    out->total_duration = with_duration ? fg_window_total_duration(w) : 0.0;
    for (uint32_t k = 0; k < w->threshold_count; k++) out->slow_counts[k] = w->slow[k];
}

/* The whole metric as of now (info(), listeners): every field written. */
static inline void fg_window_metric(fg_window *w, double now, fg_metric *out) {
    fg_window_view(w, now, out, 1);
    for (uint32_t k = 0; k < FG_MAX_SLOW_THRESHOLDS; k++) {
        int in = k < w->threshold_count;
        out->thresholds[k] = in ? w->thresholds[k] : 0.0;
        if (!in) out->slow_counts[k] = 0;
    }
}

/* Forgets every record. O(1). */
void fg_window_clear(fg_window *w);

/* Whether the running totals of a block someone else wrote (an attached
 * block) keep every write inside the window: a CountWindow's ring position
 * below its size, its counts within it. O(1). */
int fg_window_sane(const fg_window *w);

/* ---- TimeWindow buckets and restoring (fg_snapshot.c) --------------------- */

/* Whole seconds are kept far inside int64 (and exact in a double). */
#define FG_WINDOW_SECOND_LIMIT 9.0e15

/* The whole second of the breaker's time now (clamped to the limit above;
 * NaN gives the lower limit). */
int64_t fg_window_second(double now);

/* A bucket's slow counts, [threshold_count]. */
static inline uint32_t *fg_window_bucket_slow(fg_window_bucket *b) {
    return (uint32_t *)(b + 1);
}

/* Restoring a window, entry by entry, into a cleared one. The caller has
 * validated every value (fg_snapshot.c), so these only add:
 *   - push_word: a CountWindow of 32-bit entries gets one more entry
 *     (oldest first), as fg_window_record_micros encodes it;
 *   - push_exact: a CountWindow of doubles, one more (a failure is -1);
 *   - put_bucket: a TimeWindow bucket for `second` (within the window of
 *     the current newest_second) with its counts and exact duration sum.
 * The running totals follow from the entries. */
void fg_window_push_word(fg_window *w, uint32_t word);
void fg_window_push_exact(fg_window *w, double d);
void fg_window_put_bucket(fg_window *w, int64_t second, uint32_t total, uint32_t failures,
                          const uint32_t *slow, const uint64_t duration[3]);

#endif /* FG_WINDOW_H */
