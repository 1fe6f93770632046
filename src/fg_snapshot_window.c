/*
 * fg_snapshot_window.c -- the snapshot's variable sections: the window's
 * entries and the half-open leases (format in fg_snapshot.h).
 *
 * Only primary data is written (ring entries oldest first, live buckets,
 * lease times); restoring validates every entry before anything changes and
 * then rebuilds the running totals, the ring position, the bucket stamps and
 * the slot lists from them, so no count, index or link is ever taken on
 * trust from the bytes. Lease times and bucket seconds are relative to the
 * breaker's time (and its whole second) when the snapshot was taken.
 */
#include <float.h>
#include <stdarg.h>
#include <stdio.h>

#include "fg_snapshot_internal.h"

/* ---- TimeWindow buckets ------------------------------------------------------ */

static size_t fg_snap_bucket_bytes(const fg_window *w) {
    return 8u + 4u + 4u + 4u * (size_t)w->threshold_count + 24u;
}

/* Whether the bucket for `second` holds calls of the current window. */
static fg_window_bucket *fg_snap_live_bucket(const fg_window *w, int64_t second) {
    fg_window_bucket *b = fg_window_bucket_at(w, second);
    return b->epoch == w->st->epoch && b->second == second && b->total > 0 ? b : NULL;
}

/* The window's seconds, oldest first: newest_second - size + 1 + k. */
static int64_t fg_snap_second(const fg_window *w, uint32_t k) {
    return w->st->newest_second - (int64_t)w->size + 1 + (int64_t)k;
}

/* ---- writing ----------------------------------------------------------------- */

uint32_t fg_snap_window_count(const fg_breaker *h) {
    const fg_window *w = &h->window;
    if (w->kind != FG_WINDOW_TIME) return w->st->total_count <= w->size ? w->st->total_count : w->size;
    if (w->st->newest_second == INT64_MIN) return 0;
    uint32_t n = 0;
    for (uint32_t k = 0; k < w->size; k++) n += fg_snap_live_bucket(w, fg_snap_second(w, k)) != NULL;
    return n;
}

size_t fg_snap_window_entry_bytes(const fg_breaker *h) {
    const fg_window *w = &h->window;
    if (w->kind == FG_WINDOW_TIME) return fg_snap_bucket_bytes(w);
    return w->exact ? 8u : 4u;
}

void fg_snap_write_window(fg_breaker *h, fg_snap_out *o, double now) {
    (void)now;
    const fg_window *w = &h->window;
    uint32_t n = fg_snap_window_count(h);
    fg_snap_out_u(o, n, 4);
    if (w->kind == FG_WINDOW_TIME) {
        for (uint32_t k = 0; k < w->size && n > 0; k++) {
            int64_t second = fg_snap_second(w, k);
            fg_window_bucket *b = fg_snap_live_bucket(w, second);
            if (b == NULL) continue;
            /* in (-size, 0]: two's complement of the difference */
            fg_snap_out_u(o, (uint64_t)(second - w->st->newest_second), 8);
            fg_snap_out_u(o, b->total, 4);
            fg_snap_out_u(o, b->failures, 4);
            const uint32_t *slow = fg_window_bucket_slow(b);
            for (uint32_t t = 0; t < w->threshold_count; t++) fg_snap_out_u(o, slow[t], 4);
            for (int i = 0; i < 3; i++) fg_snap_out_u(o, b->duration.limb[i], 8);
        }
        return;
    }
    uint32_t head = w->st->head < w->size ? w->st->head : 0;
    uint32_t oldest = (uint32_t)(((uint64_t)head + w->size - n) % w->size);
    for (uint32_t k = 0; k < n; k++) {
        uint32_t i = (uint32_t)(((uint64_t)oldest + k) % w->size);
        if (w->exact) {
            /* A success recorded with an infinite duration keeps it in the
             * ring; restore takes only finite ones. DBL_MAX is the same
             * entry: slow at every (finite) threshold, and the same capped
             * units in the exact sum. */
            double d = ((const double *)w->entries)[i];
            fg_snap_out_f64(o, d > DBL_MAX ? DBL_MAX : d);
        } else {
            fg_snap_out_u(o, ((const uint32_t *)w->entries)[i], 4);
        }
    }
}

/* The busy list holds in_flight slots (at most capacity: the list in the
 * block is well-formed; the bound only keeps a damaged one finite). */
uint32_t fg_snap_lease_count(const fg_breaker *h) {
    const fg_half_open view = fg_breaker_half_open(h);
    return view.st->in_flight < view.capacity ? view.st->in_flight : view.capacity;
}

void fg_snap_write_leases(fg_breaker *h, fg_snap_out *o, double now, double changed_rel) {
    const fg_half_open view = fg_breaker_half_open(h), *ho = &view;
    uint32_t n = fg_snap_lease_count(h);
    fg_snap_out_u(o, n, 4);
    double prev = changed_rel;
    uint32_t i = ho->st->oldest;
    for (uint32_t k = 0; k < n; k++, i = fg_half_open_next(ho, i)) {
        if (i >= ho->capacity) i = 0; /* a damaged block: still n well-formed times */
        double rel = fg_half_open_time(ho, i) - now;
        /* a lease is never older than the state nor younger than now; the
         * clamp keeps the written snapshot restorable whatever the block holds */
        if (!(rel >= prev)) rel = prev;
        if (rel > 0.0) rel = 0.0;
        fg_snap_out_f64(o, rel);
        prev = rel;
    }
}

/* ---- checking ------------------------------------------------------------------ */

__attribute__((format(printf, 3, 4)))
static const char *fg_snap_why(char *why, size_t cap, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(why, cap, fmt, ap);
    va_end(ap);
    return why;
}

/* A 32-bit entry: a failure (all ones, level 0) or a success of at most
 * failure_word - 1 microseconds and a slow level of at most the threshold count. */
static int fg_snap_word_ok(const fg_window *w, uint32_t word) {
    uint32_t dur = word & w->failure_word;
    uint32_t level = w->level_bits ? word >> (32u - w->level_bits) : 0;
    if (dur == w->failure_word) return level == 0;
    return level <= w->threshold_count;
}

/* A bucket's counts and exact sum: every success adds less than 2^32 s,
 * which is 2^32 in the sum's top limb. */
static const char *fg_snap_check_bucket(const fg_window *w, fg_snap_in *in, uint32_t k, char *why,
                                        size_t cap) {
    uint32_t total = (uint32_t)fg_snap_in_u(in, 4), failures = (uint32_t)fg_snap_in_u(in, 4);
    if (total == 0 || failures > total)
        return fg_snap_why(why, cap, "window bucket %u: %u failures of %u calls", k, failures, total);
    uint32_t successes = total - failures, prev = successes;
    for (uint32_t t = 0; t < w->threshold_count; t++) {
        uint32_t slow = (uint32_t)fg_snap_in_u(in, 4);
        if (slow > prev)
            return fg_snap_why(why, cap, "window bucket %u: %u slow calls at threshold %u of %u successes", k,
                               slow, t + 1, successes);
        prev = slow;
    }
    uint64_t limb[3];
    for (int i = 0; i < 3; i++) limb[i] = fg_snap_in_u(in, 8);
    int zero = (limb[0] | limb[1] | limb[2]) == 0;
    if (successes == 0 ? !zero : limb[2] >= ((uint64_t)successes << 32))
        return fg_snap_why(why, cap, "window bucket %u: its duration sum is impossible for %u successes", k,
                           successes);
    return NULL;
}

const char *fg_snap_check_window(const fg_breaker *h, fg_snap_in *in, fg_state state, char *why,
                                 size_t cap) {
    const fg_window *w = &h->window;
    if (!fg_snap_in_has(in, 4)) return fg_snap_why(why, cap, "the window section is cut short");
    uint32_t n = (uint32_t)fg_snap_in_u(in, 4);
    if (n > w->size)
        return fg_snap_why(why, cap, "the window holds %u entries, more than its size %u", n, w->size);
    if (n > 0 && state != FG_STATE_CLOSED && state != FG_STATE_HALF_OPEN && state != FG_STATE_METRICS_ONLY)
        return fg_snap_why(why, cap, "a breaker in state %s records nothing, but its window holds %u entries",
                           fg_state_name(state), n);
    size_t each = fg_snap_window_entry_bytes(h);
    if (!fg_snap_in_has(in, 0) || n > (in->end - in->pos) / each)
        return fg_snap_why(why, cap, "the window section is cut short (%u entries of %zu bytes)", n, each);
    int64_t prev = INT64_MIN;
    for (uint32_t k = 0; k < n; k++) {
        if (w->kind == FG_WINDOW_TIME) {
            uint64_t v = fg_snap_in_u(in, 8);
            /* -(size - 1) .. 0, read without an implementation-defined conversion */
            if (v != 0 && (v < (uint64_t)0 - (w->size - 1u) || w->size == 1))
                return fg_snap_why(why, cap, "window bucket %u is not within the window's %u seconds", k, w->size);
            int64_t rel = v == 0 ? 0 : -(int64_t)(~v) - 1;
            if (rel <= prev)
                return fg_snap_why(why, cap, "window bucket %u is not after the one before it", k);
            prev = rel;
            const char *bad = fg_snap_check_bucket(w, in, k, why, cap);
            if (bad != NULL) return bad;
        } else if (w->exact) {
            double d = fg_snap_in_f64(in);
            if (!(d == -1.0 || (d >= 0.0 && d <= DBL_MAX)))
                return fg_snap_why(why, cap, "window entry %u has an impossible duration %.17g", k, d);
        } else {
            uint32_t word = (uint32_t)fg_snap_in_u(in, 4);
            if (!fg_snap_word_ok(w, word))
                return fg_snap_why(why, cap, "window entry %u (0x%08x) has an impossible slow level", k, word);
        }
    }
    return NULL;
}

const char *fg_snap_check_leases(const fg_breaker *h, fg_snap_in *in, fg_state state,
                                 double changed_rel, char *why, size_t cap) {
    const fg_half_open view = fg_breaker_half_open(h), *ho = &view;
    if (!fg_snap_in_has(in, 4)) return fg_snap_why(why, cap, "the lease section is cut short");
    uint32_t n = (uint32_t)fg_snap_in_u(in, 4);
    if (n > ho->capacity)
        return fg_snap_why(why, cap, "%u half-open leases, more than the %u slots", n, ho->capacity);
    if (n > 0 && state != FG_STATE_HALF_OPEN)
        return fg_snap_why(why, cap, "a breaker in state %s holds %u half-open leases", fg_state_name(state), n);
    if (n > (in->end - in->pos) / 8u) return fg_snap_why(why, cap, "the lease section is cut short");
    double prev = changed_rel;
    for (uint32_t k = 0; k < n; k++) {
        double rel = fg_snap_in_f64(in);
        /* acquired after the state began, not after now, in acquisition
         * order, and not yet over (NaN fails every test) */
        if (!(rel >= prev && rel <= 0.0 && -rel < ho->lease))
            return fg_snap_why(why, cap, "half-open lease %u has an impossible time %.17g", k, rel);
        prev = rel;
    }
    return NULL;
}

/* ---- applying ------------------------------------------------------------------ */

void fg_snap_apply_window(fg_breaker *h, const unsigned char *data, size_t at, double now) {
    fg_window *w = &h->window;
    fg_snap_in in = {data, SIZE_MAX, at};
    uint32_t n = (uint32_t)fg_snap_in_u(&in, 4);
    fg_window_clear(w);
    if (w->kind == FG_WINDOW_TIME) {
        w->st->newest_second = fg_window_second(now);
        uint32_t slow[FG_MAX_SLOW_THRESHOLDS];
        for (uint32_t k = 0; k < n; k++) {
            uint64_t v = fg_snap_in_u(&in, 8);
            int64_t rel = v == 0 ? 0 : -(int64_t)(~v) - 1;
            uint32_t total = (uint32_t)fg_snap_in_u(&in, 4), failures = (uint32_t)fg_snap_in_u(&in, 4);
            for (uint32_t t = 0; t < w->threshold_count; t++) slow[t] = (uint32_t)fg_snap_in_u(&in, 4);
            uint64_t limb[3];
            for (int i = 0; i < 3; i++) limb[i] = fg_snap_in_u(&in, 8);
            fg_window_put_bucket(w, w->st->newest_second + rel, total, failures, slow, limb);
        }
        return;
    }
    for (uint32_t k = 0; k < n; k++) {
        if (w->exact) fg_window_push_exact(w, fg_snap_in_f64(&in));
        else fg_window_push_word(w, (uint32_t)fg_snap_in_u(&in, 4));
    }
}

void fg_snap_apply_leases(fg_breaker *h, const unsigned char *data, size_t at, double now) {
    fg_snap_in in = {data, SIZE_MAX, at};
    uint32_t n = (uint32_t)fg_snap_in_u(&in, 4);
    /* A new era: every slot free, every old ticket void. The leases come
     * back in their order, held by tickets that no longer exist, so they
     * end when their lease does (see fg_breaker_restore). */
    fg_half_open ho = fg_breaker_half_open(h);
    fg_half_open_reset(&ho);
    for (uint32_t k = 0; k < n; k++) {
        uint32_t seq;
        (void)fg_half_open_take(&ho, now + fg_snap_in_f64(&in), &seq);
    }
}
