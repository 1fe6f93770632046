/*
 * fg_breaker_call.c -- the hot path: acquire (admit or reject a call) and
 * record (feed a classified outcome back), plus classify/release.
 *
 * Nothing here allocates, and everything under the lock is O(1) (a
 * TimeWindow's bucket drops are amortized over the seconds that pass).
 * Clocks and tracker predicates run before the lock is taken; listeners
 * after it is released.
 */
#include "fg_breaker_internal.h"

#include <math.h>

#include "fg_clock.h"
#include "fg_permit.h"
#include "fg_retry.h"

void fg_breaker_expire_leases_locked(fg_breaker *b, double now) {
    uint64_t before = b->half_open.expired;
    fg_half_open_expire(&b->half_open, now);
    b->counters.lease_expired += b->half_open.expired - before;
}

static void fg_ticket_reject(fg_breaker *b, fg_ticket *t, double retry_after) {
    t->admitted = 0;
    t->retry_after = retry_after;
    b->counters.rejected++;
}

static void fg_ticket_admit(fg_breaker *b, fg_ticket *t) {
    t->admitted = 1;
    b->counters.admitted++;
}

/* half_open admission: a free slot first (without one the permit is not
 * consulted, so it draws nothing), then the permit. Rejections here say
 * "retry now" (0): a probe may pass as soon as a slot frees or the ramp
 * rises. */
static void fg_acquire_half_open(fg_breaker *b, double now, fg_ticket *t) {
    fg_breaker_expire_leases_locked(b, now);
    if (b->half_open.in_flight >= b->half_open.capacity) {
        fg_ticket_reject(b, t, 0.0);
        return;
    }
    if (!fg_permit_admit(&b->def->permit, b->changed_at, now, &b->random)) {
        fg_ticket_reject(b, t, 0.0);
        return;
    }
    uint32_t seq = 0;
    t->slot = fg_half_open_take(&b->half_open, now, &seq);
    t->slot_seq = seq;
    fg_ticket_admit(b, t);
}

/* acquire in every state but closed and metrics_only. Lock held;
 * t->admitted is 0. */
static void fg_acquire_other(fg_breaker *b, fg_state state, double now, fg_ticket *t,
                             fg_pending *pending) {
    switch (state) {
    case FG_STATE_DISABLED:
        t->admitted = 1; /* disabled counts nothing */
        break;
    case FG_STATE_OPEN: {
        const fg_retry_spec *retry = &b->def->retry;
        if (!fg_retry_ready(retry, b->changed_at, b->reopens, b->retry_factor, now)) {
            fg_ticket_reject(b, t, fg_retry_after(retry, b->changed_at, b->reopens, b->retry_factor, now));
            break;
        }
        /* The call that finds the retry ready is the first probe. */
        fg_breaker_transition_locked(b, FG_STATE_HALF_OPEN, retry->text, now, pending);
        fg_acquire_half_open(b, now, t);
        break;
    }
    case FG_STATE_HALF_OPEN:
        fg_acquire_half_open(b, now, t);
        break;
    case FG_STATE_CLOSED: /* handled by the caller */
    case FG_STATE_METRICS_ONLY:
        fg_ticket_admit(b, t);
        break;
    case FG_STATE_FORCED_OPEN:
    case FG_STATE_COUNT:
        fg_ticket_reject(b, t, -1.0);
        break;
    }
}

int fg_breaker_acquire_at(fg_breaker *b, double now_raw, fg_ticket *t) {
    fg_pending pending;
    pending.active = 0; /* see fg_breaker_dispatch */
    fg_lock_acquire(&b->lock);
    double now = fg_breaker_now_locked(b, now_raw);
    t->started_at = now;
    t->slot = -1;
    t->slot_seq = 0;
    t->retry_after = 0.0;
    fg_state state = b->state;
    if (state == FG_STATE_CLOSED || state == FG_STATE_METRICS_ONLY) {
        /* the common case first: admitted, nothing else to decide */
        fg_ticket_admit(b, t);
    } else {
        t->admitted = 0;
        fg_acquire_other(b, state, now, t, &pending);
    }
    t->state = b->state;
    t->generation = b->generation;
    fg_lock_release(&b->lock);
    fg_breaker_dispatch(b, &pending);
    return t->admitted;
}

int fg_breaker_acquire(fg_breaker *b, fg_ticket *t) {
    return fg_breaker_acquire_at(b, b->clock(b->clock_ud), t);
}

int fg_breaker_classify(const fg_breaker *b, const fg_outcome *outcome) {
    return fg_vm_classify(b->def->tracker, outcome, b->customs);
}

/* Feeds one current-generation outcome (class 1 failure, 0 success) to the
 * window and the state machine. Lock held. */
static fg_verdict fg_record_current(fg_breaker *b, int failure, double duration, double now,
                                    fg_pending *pending) {
    fg_state state = b->state;
    if (state != FG_STATE_CLOSED && state != FG_STATE_METRICS_ONLY && state != FG_STATE_HALF_OPEN)
        return FG_VERDICT_UNRECORDED; /* no admitted ticket of this generation exists */
    fg_window_record(&b->window, failure, duration, now);
    if (failure) {
        if (b->consecutive_failures < UINT32_MAX) b->consecutive_failures++;
    } else {
        b->consecutive_failures = 0;
    }
    fg_verdict verdict = failure ? FG_VERDICT_FAILURE : FG_VERDICT_SUCCESS;
    const char *reason = NULL;
    if (state == FG_STATE_CLOSED) {
        if (fg_breaker_trip_locked(b, FG_STATE_CLOSED, now, &reason))
            fg_breaker_transition_locked(b, FG_STATE_OPEN, reason, now, pending);
    } else if (state == FG_STATE_HALF_OPEN) {
        int fired = fg_breaker_trip_locked(b, FG_STATE_HALF_OPEN, now, &reason);
        if (failure && fired)
            fg_breaker_transition_locked(b, FG_STATE_OPEN, reason, now, pending);
        else if (!failure && !fired)
            fg_breaker_transition_locked(b, FG_STATE_CLOSED, b->close_reason, now, pending);
    }
    return verdict;
}

fg_verdict fg_breaker_record_at(fg_breaker *b, const fg_ticket *t, int outcome_class, double duration,
                                double now_raw) {
    /* Rejected tickets and calls admitted while disabled count nothing. */
    if (!t->admitted || t->state == FG_STATE_DISABLED) return FG_VERDICT_UNRECORDED;
    fg_pending pending;
    pending.active = 0; /* see fg_breaker_dispatch */
    fg_lock_acquire(&b->lock);
    double now = fg_breaker_now_locked(b, now_raw);
    if (!(duration >= 0.0)) duration = now - t->started_at; /* negative or NaN: measure */
    if (!(duration >= 0.0)) duration = 0.0;

    /* The counters follow the tracker's classification, stale or not. */
    if (outcome_class < 0) b->counters.ignored++;
    else if (outcome_class > 0) b->counters.failure++;
    else b->counters.success++;

    int current = t->generation == b->generation;
    /* A half-open probe whose lease is over has been written off (whether or
     * not another call has noticed yet): its late outcome must not free a
     * slot or count as a probe result. */
    if (current && t->slot >= 0) {
        fg_breaker_expire_leases_locked(b, now);
        current = fg_half_open_give(&b->half_open, t->slot, t->slot_seq);
    }

    fg_verdict verdict;
    if (outcome_class < 0) {
        verdict = FG_VERDICT_IGNORED; /* untracked: never recorded */
    } else if (!current) {
        b->counters.stale++;
        verdict = outcome_class > 0 ? FG_VERDICT_STALE_FAILURE : FG_VERDICT_STALE_SUCCESS;
    } else {
        verdict = fg_record_current(b, outcome_class > 0, duration, now, &pending);
    }
    fg_lock_release(&b->lock);
    fg_breaker_dispatch(b, &pending);
    return verdict;
}

fg_verdict fg_breaker_record(fg_breaker *b, const fg_ticket *t, int outcome_class, double duration) {
    if (!t->admitted || t->state == FG_STATE_DISABLED) return FG_VERDICT_UNRECORDED;
    return fg_breaker_record_at(b, t, outcome_class, duration, b->clock(b->clock_ud));
}

fg_verdict fg_breaker_release(fg_breaker *b, const fg_ticket *t, const fg_outcome *outcome,
                              double duration) {
    if (!t->admitted || t->state == FG_STATE_DISABLED) return FG_VERDICT_UNRECORDED;
    return fg_breaker_record(b, t, fg_breaker_classify(b, outcome), duration);
}
