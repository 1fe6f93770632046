/*
 * fg_breaker_call.c -- the hot path: acquire (admit or reject a call) and
 * record (feed a classified outcome back), plus classify/release.
 *
 * Admission in closed, metrics_only, disabled and forced_open takes no
 * lock: one read of the state word, a relaxed add to the block's admission
 * counter (see fg_breaker_internal.h). open and half_open decide under the
 * lock. Recording always takes the lock: a CountWindow(n) is exactly the
 * last n records in the order the lock admits them, a transition happens
 * once, and an outcome whose generation is gone is stale.
 *
 * Clock reads (the rule doc/c-api.md documents under "Clocks", "When clocks
 * are read"). With a custom clock, every
 * acquire and record reads it once, as before. With the default clocks a
 * call reads the clock only when something needs the time:
 *   - acquire in closed/metrics_only: only when the definition has a
 *     duration rule (SlowRate or AvgLatency), for the ticket's started_at;
 *     otherwise started_at is 0 and nothing is read; disabled and
 *     forced_open read nothing; open and half_open read it (under the lock);
 *   - record: a duration < 0 ("measure it") is measured from started_at
 *     when the definition has a duration rule, and counts as 0 without one
 *     (nothing reads it but info()); the time itself is read (under the
 *     lock) only for a TimeWindow's bucket, a half-open probe's lease, or a
 *     transition's timestamp -- and when it is, a duration to measure is
 *     measured from that reading, so a record reads the clock once at most.
 * Nothing here allocates, and everything under the lock is O(1) (a
 * TimeWindow's bucket drops are amortized over the seconds that pass).
 */
#include "fg_breaker_internal.h"

#include <math.h>

#include "fg_clock.h"
#include "fg_permit.h"
#include "fg_retry.h"

/* One more in an admission counter: atomically; for a single-thread
 * breaker with a plain load and store. */
static inline void fg_count_add(fg_breaker *h, _Atomic uint64_t *c) {
    if (h->single)
        atomic_store_explicit(c, atomic_load_explicit(c, memory_order_relaxed) + 1, memory_order_relaxed);
    else
        atomic_fetch_add_explicit(c, 1, memory_order_relaxed);
}

static inline void fg_count_admitted(fg_breaker *h, fg_block *b) {
    fg_block_counts *c = fg_block_counts_of(b);
    if (c != NULL) fg_count_add(h, &c->admissions.admitted);
    if (h->sink != NULL) fg_sink_add(h->sink, FG_SINK_ADMITTED);
}

static inline void fg_count_rejected(fg_breaker *h, fg_block *b) {
    fg_block_counts *c = fg_block_counts_of(b);
    if (c != NULL) fg_count_add(h, &c->admissions.rejected);
    if (h->sink != NULL) fg_sink_add(h->sink, FG_SINK_REJECTED);
}

/* half_open admission: a free slot first (without one the permit is not
 * consulted, so it draws nothing), then the permit. Rejections here say
 * "retry now" (0): a probe may pass as soon as a slot frees or the ramp
 * rises. Lock held. */
static void fg_acquire_half_open(fg_breaker *h, double now, fg_ticket *t) {
    fg_block *b = h->block;
    fg_breaker_expire_leases_locked(h, now);
    if (b->half_open.in_flight >= h->slot_capacity) {
        t->retry_after = 0.0;
        fg_count_rejected(h, b);
        return;
    }
    if (h->def->permit.kind != FG_PERMIT_ALL) {
        double ratio = fg_permit_ratio(&h->def->permit, b->changed_at, now);
        if (!(fg_breaker_draw_locked(h) < ratio)) {
            t->retry_after = 0.0;
            fg_count_rejected(h, b);
            return;
        }
    }
    uint32_t seq = 0;
    fg_half_open ho = fg_breaker_half_open(h);
    t->slot = fg_half_open_take(&ho, now, &seq);
    t->slot_seq = seq;
    t->admitted = 1;
    fg_count_admitted(h, b);
}

/* acquire under the lock: open and half_open, or whatever the state became
 * since the lock-free read. */
static void fg_acquire_locked(fg_breaker *h, fg_when *when, fg_ticket *t, fg_pending *pending) {
    h = fg_breaker_lock_live(h); /* a reload may have moved the block */
    fg_block *b = h->block;
    double now = fg_breaker_now_locked(h, when);
    t->started_at = now;
    uint64_t word = atomic_load_explicit(&b->word, memory_order_relaxed);
    fg_state state = fg_block_word_state(word);
    switch (state) {
    case FG_STATE_OPEN: {
        const fg_retry_spec *retry = &h->def->retry;
        double wait = fg_retry_wait(retry, b->reopens, fg_block_retry_factor(b, retry));
        if (!fg_retry_over(retry, b->changed_at, wait, now)) {
            double deadline = fg_retry_deadline_of(retry, b->changed_at, wait);
            if (deadline - now <= h->clock_lag && !when->have_raw) {
                /* The coarse clock (clock_lag > 0) reads its last tick's
                 * time, up to clock_lag behind: so close to the deadline,
                 * the precise clock says whether it has passed, so that a
                 * caller who waited retry_after by any clock is not sent
                 * back for a tick (the coarse readings after this one,
                 * behind it, are within the rebasing slack: time stands
                 * still until they pass it). */
                when->raw = fg_clock_read(FG_CLOCK_PRECISE);
                when->have_raw = 1;
                when->have_now = 0;
                now = fg_breaker_now_locked(h, when);
                t->started_at = now;
            }
            if (!fg_retry_over(retry, b->changed_at, wait, now)) {
                double raw = when->have_raw && fg_clock_usable(when->raw) ? when->raw : now - fg_breaker_offset(b);
                t->retry_after = fg_retry_after_at(deadline, now, raw, fg_breaker_offset(b));
                fg_count_rejected(h, b);
                break;
            }
        }
        /* The call that finds the retry ready is the first probe. */
        fg_breaker_transition_locked(h, FG_STATE_HALF_OPEN, retry->text, now, pending);
        fg_acquire_half_open(h, now, t);
        break;
    }
    case FG_STATE_HALF_OPEN:
        fg_acquire_half_open(h, now, t);
        break;
    case FG_STATE_CLOSED:
    case FG_STATE_METRICS_ONLY:
        t->admitted = 1;
        fg_count_admitted(h, b);
        break;
    case FG_STATE_DISABLED:
        t->admitted = 1; /* disabled counts nothing */
        break;
    case FG_STATE_FORCED_OPEN:
    case FG_STATE_COUNT:
    default: /* FG_STATE_MOVED by another process: rejected as forced_open */
        t->retry_after = -1.0;
        fg_count_rejected(h, b);
        break;
    }
    word = atomic_load_explicit(&b->word, memory_order_relaxed);
    t->state = fg_block_word_state(word);
    t->generation = fg_block_word_generation(word);
    fg_breaker_unlock(h);
}

/* A lock-free admission's started_at: the reading on the breaker's time
 * (a reading fg_clock_usable refuses: the start of the current state). A
 * reading earlier than the block's last one is a jump back that no locked
 * read has rebased yet: time stands still there, at the last reading's
 * time, as the rebase will make it. raw + offset would date the call
 * before the jump, and its duration, measured on the rebased time, would
 * count the whole jump (a 0.1 s call after a jump back of 995 s recorded
 * as 995 s: slow, and an AvgLatency trip). */
static inline double fg_started_at(const fg_block *b, double raw) {
    if (!fg_clock_usable(raw)) return b->changed_at;
    double last = fg_breaker_last_raw(b);
    /* behind the last reading (+infinity: an earlier version's "none yet").
     * Written as a select: the branchy form measured 9 ns slower per
     * acquire + release in make bench, for the same instruction count. */
    return (raw < last && last <= FG_CLOCK_LIMIT ? last : raw) + fg_breaker_offset(b);
}

/* Everything but the lock-free admission of fg_acquire: forced_open, and
 * the states that decide under the lock. */
static int fg_acquire_slow(fg_breaker *h, fg_when *when, fg_ticket *t, uint64_t word) {
    fg_block *b = h->block;
    fg_state state = fg_block_word_state(word);
    t->admitted = 0;
    t->slot = -1;
    t->slot_seq = 0;
    t->retry_after = 0.0;
    t->started_at = 0.0;
    if (state == FG_STATE_FORCED_OPEN) {
        t->state = state;
        t->generation = fg_block_word_generation(word);
        t->retry_after = -1.0;
        if (when->have_raw) t->started_at = fg_started_at(b, when->raw);
        fg_count_rejected(h, b);
        return 0;
    }
    fg_pending pending;
    pending.active = 0; /* only read when set: the metric inside is large */
    fg_acquire_locked(h, when, t, &pending);
    fg_breaker_dispatch(h, &pending);
    return t->admitted;
}

/* The common case inline: closed, metrics_only and disabled admit without
 * a decision; each ticket field is written once. have_raw/raw: a reading
 * taken before (fg_when); inlined into both entry points so that it
 * stays in registers. */
#if defined(__GNUC__) || defined(__clang__)
#define FG_ALWAYS_INLINE inline __attribute__((always_inline))
#else
#define FG_ALWAYS_INLINE inline
#endif
static FG_ALWAYS_INLINE int fg_acquire(fg_breaker *h, int have_raw, double raw, fg_ticket *t) {
    fg_block *b = h->block;
    uint64_t word = atomic_load_explicit(&b->word, memory_order_acquire);
    fg_state state = fg_block_word_state(word);
    if (!(state == FG_STATE_CLOSED || state == FG_STATE_METRICS_ONLY || state == FG_STATE_DISABLED)) {
        fg_when when = {raw, have_raw, 0, 0.0};
        return fg_acquire_slow(h, &when, t, word);
    }
    double started_at = 0.0;
    if (have_raw) {
        started_at = fg_started_at(b, raw);
    } else if (h->needs_duration && state != FG_STATE_DISABLED) {
        started_at = fg_started_at(b, fg_clock_read((fg_clock_kind)h->clock_kind));
    }
    t->admitted = 1;
    t->state = state;
    t->generation = fg_block_word_generation(word);
    t->started_at = started_at;
    t->slot = -1;
    t->slot_seq = 0;
    t->retry_after = 0.0;
    if (state != FG_STATE_DISABLED) fg_count_admitted(h, b); /* disabled counts nothing */
    return 1;
}

int fg_breaker_acquire_at(fg_breaker *h, double now, fg_ticket *t) {
    return fg_acquire(fg_breaker_live(h), 1, now, t);
}

int fg_breaker_acquire(fg_breaker *h, fg_ticket *t) {
    h = fg_breaker_live(h);
    if (h->clock_kind == FG_CLOCK_CUSTOM) return fg_acquire(h, 1, h->clock(h->clock_ud), t);
    return fg_acquire(h, 0, 0.0, t);
}

fg_outcome_class fg_breaker_classify(const fg_breaker *h, const fg_outcome *outcome) {
    h = fg_breaker_live(h);
    return fg_vm_classify(h->def->tracker, outcome, h->customs);
}

/* A record that causes a transition: makes it, releases the lock and
 * delivers it to the listeners. Out of line, so that the common record
 * (no transition) never sets up the pending transition's frame. Lock held;
 * released on return. */
static __attribute__((noinline)) fg_verdict fg_record_transition(fg_breaker *h, fg_state to, const char *reason,
                                                                 fg_when *when, fg_verdict verdict) {
    fg_pending pending;
    pending.active = 0; /* see fg_acquire */
    fg_breaker_transition_locked(h, to, reason, fg_breaker_now_locked(h, when), &pending);
    fg_breaker_unlock(h);
    fg_breaker_dispatch(h, &pending);
    return verdict;
}

/* Feeds one current-generation outcome (failure 1, success 0) to the window
 * and the state machine. Lock held; released on return. */
static inline fg_verdict fg_record_current(fg_breaker *h, fg_state state, const fg_ticket *t, int failure,
                                           double duration, fg_when *when) {
    fg_block *b = h->block;
    if (state != FG_STATE_CLOSED && state != FG_STATE_METRICS_ONLY && state != FG_STATE_HALF_OPEN) {
        fg_breaker_unlock(h);
        return FG_VERDICT_UNRECORDED; /* no admitted ticket of this generation exists */
    }
    /* a duration to measure under the lock (a custom clock's reading) */
    if (!(duration >= 0.0)) duration = fg_breaker_now_locked(h, when) - t->started_at;
    if (!(duration >= 0.0)) duration = 0.0;
    double now = h->window.kind == FG_WINDOW_TIME ? fg_breaker_now_locked(h, when) : 0.0;
    fg_window_record(&h->window, failure, duration, now);
    if (failure) {
        if (b->consecutive_failures < UINT32_MAX) b->consecutive_failures++;
    } else if (b->consecutive_failures != 0) {
        /* stored only when it changes: a success after a success writes
         * nothing here */
        b->consecutive_failures = 0;
    }
    fg_verdict verdict = failure ? FG_VERDICT_FAILURE : FG_VERDICT_SUCCESS;
    if (state != FG_STATE_METRICS_ONLY) { /* closed or half_open: one evaluation */
        const char *reason = NULL;
        int fired = fg_breaker_trip_locked(h, state, now, &reason);
        if (fired && (failure || state == FG_STATE_CLOSED))
            return fg_record_transition(h, FG_STATE_OPEN, reason, when, verdict);
        if (!fired && !failure && state == FG_STATE_HALF_OPEN)
            return fg_record_transition(h, FG_STATE_CLOSED, NULL, when, verdict);
    }
    fg_breaker_unlock(h);
    return verdict;
}

static fg_verdict fg_record(fg_breaker *h, const fg_ticket *t, fg_outcome_class outcome_class,
                            double duration, fg_when *when, uint64_t *number) {
    h = fg_breaker_lock_live(h); /* a reload may have moved the block */
    fg_block *b = h->block;
    fg_block_counts *own = fg_block_counts_of(b);
    if (own != NULL) {
        /* one of them grows below; a breaker without counters numbers none */
        if (number != NULL) *number = own->success + own->failure + own->ignored + 1;
        /* The counters follow the tracker's classification, stale or not. */
        if (outcome_class < 0) own->ignored++;
        else if (outcome_class > 0) own->failure++;
        else own->success++;
    }
    if (h->sink != NULL) fg_sink_add_class(h->sink, outcome_class);

    uint64_t word = atomic_load_explicit(&b->word, memory_order_relaxed);
    int current = t->generation == fg_block_word_generation(word);
    /* A half-open probe whose lease is over has been written off (whether or
     * not another call has noticed yet): its late outcome must not free a
     * slot or count as a probe result. */
    if (current && t->slot >= 0) {
        fg_breaker_expire_leases_locked(h, fg_breaker_now_locked(h, when));
        fg_half_open ho = fg_breaker_half_open(h);
        current = fg_half_open_give_at(&ho, t->slot, t->slot_seq, t->started_at);
    }

    fg_verdict verdict;
    if (outcome_class < 0) {
        verdict = FG_VERDICT_IGNORED; /* untracked: never recorded */
    } else if (!current) {
        if (own != NULL) own->stale++;
        if (h->sink != NULL) fg_sink_add(h->sink, FG_SINK_STALE);
        verdict = outcome_class > 0 ? FG_VERDICT_STALE_FAILURE : FG_VERDICT_STALE_SUCCESS;
    } else {
        return fg_record_current(h, fg_block_word_state(word), t, outcome_class > 0, duration, when);
    }
    fg_breaker_unlock(h);
    return verdict;
}

fg_verdict fg_breaker_record_at(fg_breaker *h, const fg_ticket *t, fg_outcome_class outcome_class,
                                double duration, double now) {
    /* Rejected tickets and calls admitted while disabled count nothing. */
    if (!t->admitted || t->state == FG_STATE_DISABLED) return FG_VERDICT_UNRECORDED;
    h = fg_breaker_live(h);
    fg_when when = fg_breaker_when_at(now);
    return fg_record(h, t, outcome_class, duration, &when, NULL);
}

/* fg_breaker_record on the live handle h (the ticket already checked). */
static inline fg_verdict fg_record_live(fg_breaker *h, const fg_ticket *t,
                                        fg_outcome_class outcome_class, double duration) {
    fg_when when = fg_breaker_when(h);
    if (!when.have_raw && !(duration >= 0.0)) {
        /* the default clock: measure outside the lock, or not at all --
         * or under it, from the reading a TimeWindow's bucket or a
         * half-open slot's lease takes there anyway (fg_record_current):
         * a second read would cost as much as the rest of the record */
        if (h->needs_duration && outcome_class == FG_OUTCOME_SUCCESS) {
            if (h->window.kind == FG_WINDOW_TIME || t->slot >= 0)
                return fg_record(h, t, outcome_class, -1.0, &when, NULL);
            duration = fg_started_at(h->block, fg_clock_read((fg_clock_kind)h->clock_kind)) - t->started_at;
        }
        if (!(duration >= 0.0)) duration = 0.0;
    }
    return fg_record(h, t, outcome_class, duration, &when, NULL);
}

fg_verdict fg_breaker_record(fg_breaker *h, const fg_ticket *t, fg_outcome_class outcome_class,
                             double duration) {
    if (!t->admitted || t->state == FG_STATE_DISABLED) return FG_VERDICT_UNRECORDED;
    return fg_record_live(fg_breaker_live(h), t, outcome_class, duration);
}

fg_verdict fg_breaker_record_numbered(fg_breaker *h, const fg_ticket *t,
                                      fg_outcome_class outcome_class, double duration, double now,
                                      uint64_t *number) {
    *number = 0;
    if (!t->admitted || t->state == FG_STATE_DISABLED) return FG_VERDICT_UNRECORDED;
    h = fg_breaker_live(h);
    fg_when when = fg_breaker_when_at(now);
    return fg_record(h, t, outcome_class, duration, &when, number);
}

fg_verdict fg_breaker_release(fg_breaker *h, const fg_ticket *t, const fg_outcome *outcome,
                              double duration) {
    if (!t->admitted || t->state == FG_STATE_DISABLED) return FG_VERDICT_UNRECORDED;
    h = fg_breaker_live(h); /* one definition classifies and records */
    fg_outcome_class outcome_class = fg_vm_classify(h->def->tracker, outcome, h->customs);
    return fg_record_live(h, t, outcome_class, duration);
}
