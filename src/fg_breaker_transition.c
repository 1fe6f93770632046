/*
 * fg_breaker_transition.c -- carrying out a transition (SPEC section 5) and
 * what the callers need, under the block's lock, to decide on one.
 *
 * Here: the bookkeeping every transition does (the listeners' queue entry,
 * the transition counts, the window cleared, leases ended, the retry's
 * jitter drawn on opening, the state word published last); running the
 * tripper program when the block's memo cannot answer (the memo itself is
 * fg_breaker_trip_locked, fg_breaker_internal.h) and the text of the
 * alternative that fired; the breaker's clock reads and random draws.
 * When a transition happens is decided elsewhere: by the hot path (a record
 * that trips, a probe's outcome, a retry that lets a call through) and by
 * the manual commands (fg_breaker.c).
 */
#include "fg_breaker_internal.h"

#include <string.h>

#include "fg_program_block.h"
#include "fg_retry.h"

static inline void fg_breaker_store_last_raw(fg_block *b, double raw) {
    uint64_t bits;
    memcpy(&bits, &raw, sizeof bits);
    atomic_store_explicit(&b->last_raw_bits, bits, memory_order_relaxed);
}

/* fg_clock_advance for a reading behind the last one, or one it ignores
 * (out of line: the common reading is neither). */
static __attribute__((noinline)) double fg_breaker_now_rare_locked(fg_breaker *h, const fg_when *w,
                                                                   double raw, double last_raw) {
    fg_block *b = h->block;
    double offset = fg_breaker_offset(b), before = offset;
    /* the slack is for the default clocks' own readings, not for the
     * times a custom clock or an _at caller brings */
    double slack = w->have_raw ? 0.0 : FG_CLOCK_DEFAULT_SLACK;
    /* changed_at: never ahead of the breaker's time, also when the first
     * reading is earlier than the one the block was made at */
    double now = fg_clock_advance(raw, &last_raw, &b->last_time, &offset, &b->changed_at, slack);
    if (offset != before) {
        uint64_t bits;
        memcpy(&bits, &offset, sizeof bits);
        atomic_store_explicit(&b->offset_bits, bits, memory_order_relaxed);
    }
    fg_breaker_store_last_raw(b, last_raw);
    return now;
}

void fg_breaker_clock_repair_locked(fg_breaker *h) {
    fg_block *b = h->block;
    double offset = fg_breaker_offset(b), last_raw = fg_breaker_last_raw(b);
    /* an offset moves times by at most the span of two usable readings */
    int offset_ok = offset <= 2 * FG_CLOCK_LIMIT && offset >= -2 * FG_CLOCK_LIMIT;
    int raw_ok = fg_clock_usable(last_raw) || last_raw == INFINITY; /* (an earlier version's none) */
    int time_ok = b->last_time <= 3 * FG_CLOCK_LIMIT && b->last_time >= -3 * FG_CLOCK_LIMIT;
    int since_ok = b->changed_at <= 3 * FG_CLOCK_LIMIT && b->changed_at >= -3 * FG_CLOCK_LIMIT;
    if (offset_ok && raw_ok && time_ok && since_ok) return;
    double zero = 0.0;
    uint64_t bits;
    memcpy(&bits, &zero, sizeof bits);
    atomic_store_explicit(&b->offset_bits, bits, memory_order_relaxed);
    fg_breaker_store_last_raw(b, FG_CLOCK_NO_READING);
    if (!time_ok) b->last_time = since_ok ? b->changed_at : 0.0;
    if (!since_ok) b->changed_at = b->last_time;
}

double fg_breaker_now_compute_locked(fg_breaker *h, fg_when *w) {
    fg_block *b = h->block;
    double raw = w->have_raw ? w->raw : fg_clock_read((fg_clock_kind)h->clock_kind);
    double last_raw = fg_breaker_last_raw(b);
    double now;
    /* fg_clock_advance's common case: a usable reading (last_raw is usable
     * or FG_CLOCK_NO_READING, the least one), not behind */
    if (__builtin_expect(raw >= last_raw && raw <= FG_CLOCK_LIMIT, 1)) {
        now = fg_clock_forward(raw, &last_raw, &b->last_time, fg_breaker_offset(b), &b->changed_at);
        fg_breaker_store_last_raw(b, raw);
    } else {
        now = fg_breaker_now_rare_locked(h, w, raw, last_raw);
    }
    w->now = now;
    w->have_now = 1;
    return now;
}

double fg_breaker_draw_locked(fg_breaker *h) {
    return fg_random_draw(h->random, h->random_ud, &h->block->random);
}

const char *fg_breaker_trip_reason(const fg_breaker *h, uint32_t alternative) {
    const char *text = NULL;
    if (alternative < fg_program_alternative_count(h->def->tripper))
        text = fg_program_alternative_text(h->def->tripper, alternative);
    return text != NULL ? text : fg_program_text(h->def->tripper);
}

/* What the tripper reads, where it is: the window's running totals, the
 * state being evaluated and the streak (the window's duration only when
 * a test reads it). */
static inline fg_trip_counts fg_breaker_trip_counts(const fg_breaker *h, fg_state state) {
    const fg_window *w = &h->window;
    fg_trip_counts c;
    c.total_count = fg_window_total_count(w);
    c.failure_count = fg_window_failure_count(w);
    c.slow_counts = w->slow;
    c.threshold_count = w->threshold_count;
    c.state = state;
    c.consecutive_failures = h->block->consecutive_failures;
    /* A tripper that reads the duration has an exact window
     * (fg_block_layout_of): AvgLatency compares the exact mean from its sum,
     * so the rounded total is not needed. */
    c.duration_sum = h->reads_latency && w->exact ? fg_window_sum_of(w) : NULL;
    c.total_duration = h->reads_latency && c.duration_sum == NULL ? fg_window_total_duration(w) : 0.0;
    return c;
}

int fg_breaker_trip_run_locked(fg_breaker *h, fg_state state, double now, const char **reason) {
    fg_block *b = h->block;
    fg_block_memo *m = &b->memo;
    fg_window *w = &h->window;
    if (w->kind == FG_WINDOW_TIME) fg_window_advance(w, now);
    const fg_window_state *st = w->st;
    fg_trip_counts c = fg_breaker_trip_counts(h, state);
    uint32_t alternative = 0;
    /* The block's memo is fixed-width and keyed differently from an
     * fg_trip_memo (fg_breaker_trip_locked), so it is written here. */
    int fired = fg_vm_trip_counts(h->def->tripper, &c, &alternative) != 0;
    /* the duration is not in the memo; nor is an alternative past 16 bits */
    int valid = !h->reads_latency && alternative <= UINT16_MAX;
    m->flags = (uint8_t)((valid ? FG_BLOCK_MEMO_VALID : 0) | (fired ? FG_BLOCK_MEMO_FIRED : 0));
    m->alternative = (uint16_t)alternative;
    m->state = (uint8_t)state;
    m->consecutive_failures = fg_breaker_streak_key(h, b->consecutive_failures);
    m->counts_version = (uint32_t)st->counts_version;
    if (fired && reason != NULL) *reason = fg_breaker_trip_reason(h, alternative);
    return fired;
}

/* Swaps the contents of two boxes of n bytes (fg_trip_cache's older_offset).
 * Out of line: rare, and its buffer would give its caller a frame. */
static __attribute__((noinline)) void fg_breaker_box_swap(fg_trip_box *x, fg_trip_box *y,
                                                          size_t n) {
    unsigned char t[sizeof(fg_trip_box) + 2 * sizeof(uint32_t) * FG_MAX_SLOW_THRESHOLDS];
    memcpy(t, x, n);
    memcpy(x, y, n);
    memcpy(y, t, n);
}

/* The answer of a backing-off breaker with a decision table (below): the
 * table answers from the counts where they are, nothing gathered first,
 * its rates integer compares at thresholds kept for the window's total. */
static unsigned fg_breaker_trip_table(fg_breaker *h, fg_state state) {
    const fg_window *w = &h->window;
    const fg_program *tripper = h->def->tripper;
    uint64_t total = fg_window_total_count(w), failures = fg_window_failure_count(w);
    uint32_t streak = h->block->consecutive_failures;
    const fg_trip_cache *tc = fg_breaker_trip_cache(h);
    if (tc->rates_offset == 0) /* no rates: no division */
        return fg_trip_table_entry(tripper, total, failures, w->slow, streak, state);
    uint64_t *rates = (uint64_t *)((char *)h->box + tc->rates_offset); /* [0]: their total */
    if (rates[0] != total && fg_vm_trip_table_thresholds(tripper, total, rates + 1))
        rates[0] = total;
    if (rates[0] == total && total != FG_TRIP_NO_TOTAL)
        return fg_trip_table_entry_at(tripper, rates + 1, total, failures, w->slow, streak, state);
    /* a total of 2^53 and more: divisions */
    return fg_trip_table_entry(tripper, total, failures, w->slow, streak, state);
}

/* Neither region answered (fg_breaker_trip_box_run_locked): the program,
 * or a new region. Out of line, so that the older region's answer, the
 * common way out of a miss, saves and restores no registers for it. */
static __attribute__((noinline)) int
fg_breaker_trip_remake_locked(fg_breaker *h, fg_state state, double now, const char **reason) {
    fg_window *w = &h->window;
    if (w->kind == FG_WINDOW_TIME) fg_window_advance(w, now);
    fg_trip_cache *tc = fg_breaker_trip_cache(h);
    fg_trip_box *box = h->box;
    const fg_program *tripper = h->def->tripper;
    uint32_t alternative = 0;
    int fired;
    /* Backing off (below) with a decision table: the breakers that back off
     * are those whose counts cross a threshold on most records, so this is
     * most of their records' path. */
    if (tc->skip > 0 && fg_trip_table_usable(tripper, w->threshold_count)) {
        tc->skip--;
        unsigned entry = fg_breaker_trip_table(h, state);
        if ((entry & 1) && reason != NULL) *reason = fg_breaker_trip_reason(h, entry >> 1);
        return (int)(entry & 1);
    }
    fg_trip_counts c = fg_breaker_trip_counts(h, state);
    /* Making a region costs about three plain evaluations. When the counts
     * cross thresholds on most records in more than two ways (a failure
     * rate hovering at its limit while slow calls come and go), regions
     * last a record or two and making them is wasted: after one that
     * lasted FG_BOX_SHORT records or fewer, the next FG_BOX_SKIP
     * evaluations the two regions do not answer run the program without
     * making one (its decision table, above, or its plan), then a region
     * is tried again. 63 rather than 15 since the table: a region remade
     * every 16 evaluations cost as much as the table's 16. */
    enum { FG_BOX_SHORT = 2, FG_BOX_SKIP = 63 };
    if (tc->skip > 0) {
        tc->skip--;
        fired = fg_vm_trip_counts(tripper, &c, &alternative);
    } else {
        uint16_t records = fg_breaker_trip_clock(h);
        if (box->valid && (uint16_t)(records - tc->built_at) <= FG_BOX_SHORT)
            tc->skip = FG_BOX_SKIP;
        tc->built_at = records;
        /* the newest region becomes the older one (a region is exact
         * whenever valid: it can be kept for as long as one likes) */
        if (tc->older_offset != 0) memcpy(fg_breaker_trip_older(h, tc), box, tc->older_offset);
        tc->older_run = 0;
        fired = fg_vm_trip_boxed(tripper, &c, box);
        alternative = box->alternative;
    }
    if (fired && reason != NULL) *reason = fg_breaker_trip_reason(h, alternative);
    return fired;
}

/* A region's answer that fired: the reason, when asked. Out of line, so
 * that fg_breaker_trip_box_run_locked reaches its callees by tail calls
 * only and needs no frame. */
static __attribute__((noinline)) int
fg_breaker_trip_fired(const fg_breaker *h, uint32_t alternative, const char **reason) {
    if (reason != NULL) *reason = fg_breaker_trip_reason(h, alternative);
    return 1;
}

/* The older region has answered FG_TRIP_OLDER_RUN records in a row: the
 * counts settled on its side, so it becomes the newest, which the inline
 * check finds first. Then its answer (fired or not). */
static __attribute__((noinline)) int fg_breaker_trip_promote(fg_breaker *h, const char **reason) {
    fg_trip_cache *tc = fg_breaker_trip_cache(h);
    fg_breaker_box_swap(h->box, fg_breaker_trip_older(h, tc), tc->older_offset);
    tc->older_run = 0;
    return h->box->fired ? fg_breaker_trip_fired(h, h->box->alternative, reason) : 0;
}

/* The newest region (h->box) did not answer (fg_breaker_trip_locked): the
 * older one, or fg_breaker_trip_remake_locked. (A TimeWindow was advanced
 * by the record that evaluates, as the inline check assumes too.) Every
 * call here is a tail call: the common way out of a miss, the older
 * region's answer, saves and restores no registers. */
int fg_breaker_trip_box_run_locked(fg_breaker *h, fg_state state, double now, const char **reason) {
    const fg_window *w = &h->window;
    fg_trip_cache *tc = fg_breaker_trip_cache(h);
    /* (a tripper that keeps one region checks it again here: its misses
     * change the answer, which in closed trips, so they are rare) */
    const fg_trip_box *older = fg_breaker_trip_older(h, tc);
    if (!fg_trip_box_holds(older, fg_window_total_count(w), fg_window_failure_count(w), w->slow,
                           w->threshold_count, h->block->consecutive_failures, state))
        return fg_breaker_trip_remake_locked(h, state, now, reason);
    uint16_t records = fg_breaker_trip_clock(h);
    /* (0: the same counts, only the streak moved -- still in a row) */
    tc->older_run = (uint16_t)(records - tc->older_at) <= 1 ? tc->older_run + 1 : 1;
    tc->older_at = records;
    if (tc->older_run >= FG_TRIP_OLDER_RUN) return fg_breaker_trip_promote(h, reason);
    return older->fired ? fg_breaker_trip_fired(h, older->alternative, reason) : 0;
}

void fg_breaker_transition_locked(fg_breaker *h, fg_state to, const char *reason, double now,
                                  fg_pending *out) {
    fg_block *b = h->block;
    uint64_t word = atomic_load_explicit(&b->word, memory_order_relaxed);
    fg_state from = fg_block_word_state(word);
    uint64_t sequence = ++b->sequence;

    /* Listeners exist: the transition is queued with the window that
     * explains it and this handle's next delivery number (assigned here,
     * under the lock, so that delivery numbers follow sequence numbers). */
    fg_breaker *home = h->home;
    fg_dispatch *d = atomic_load_explicit(&home->dispatch, memory_order_acquire);
    if (d != NULL) {
        out->active = 1;
        out->local = fg_breaker_dispatch_take_number(d);
        out->transition.breaker = h->def->name;
        out->transition.key = h->keyed != NULL ? h->keyed->key : NULL;
        out->transition.key_len = h->keyed != NULL ? h->keyed->key_len : 0;
        out->transition.old_state = from;
        out->transition.new_state = to;
        out->transition.timestamp = now;
        out->transition.reason = reason != NULL ? reason : fg_breaker_close_reason_of(h);
        out->transition.sequence = sequence;
        fg_window_metric(&h->window, now, &out->transition.metric);
    }

    if (h->keyed != NULL) h->keyed->hooks->transition(h->keyed->hooks_ud, from, to);
    int cell = fg_block_transition_cell(from, to);
    fg_block_counts *own = fg_block_counts_of(b);
    if (cell >= 0 && own != NULL) fg_block_transitions_add(own, cell);
    if (h->sink != NULL) fg_sink_transition(h->sink, &h->home->sink_state, from, to);
    if (from == FG_STATE_HALF_OPEN && to == FG_STATE_OPEN) b->reopens++;
    b->changed_at = now;
    fg_window_clear(&h->window);
    /* Leases of the old state end with it: their outcomes are stale now. */
    fg_half_open ho = fg_breaker_half_open(h);
    fg_half_open_reset(&ho);
    if (to == FG_STATE_HALF_OPEN) b->consecutive_failures = 0;
    if (to == FG_STATE_CLOSED) {
        b->reopens = 0;
        b->consecutive_failures = 0;
    }
    /* Drawn once per open period, so that the wait (and retry_after) is
     * fixed until the breaker leaves open. */
    if (to == FG_STATE_OPEN) {
        fg_random r = {h->random, h->random_ud, b->random};
        fg_block_set_retry_factor(b, &h->def->retry, fg_retry_draw_factor(&h->def->retry, &r));
        b->random = r.s;
    }
    /* Last: a lock-free admission that sees the new word sees the rest. */
    atomic_store_explicit(&b->word, fg_block_word(to, fg_block_word_generation(word) + 1),
                          memory_order_release);
}
