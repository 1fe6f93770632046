/*
 * fg_family_call.c -- calls on one key of a family: acquire (one lookup
 * under the family lock), record (no lookup: the ticket names the entry),
 * queries and manual commands. Each drives the key's state block through a
 * transient handle on the stack (fg_family_bind), so the breaker's own hot
 * path runs unchanged, and adds what it did to the family's counter stripe
 * -- the same classification the block's counters follow, so the family's
 * totals are the sum of its keys' counters, evicted keys included.
 */
#include "fg_family_internal.h"

#include <string.h>

static inline void fg_family_count(fg_family *f, int counter) {
    atomic_fetch_add_explicit(&fg_family_my_stripe(f)->n[counter], 1, memory_order_relaxed);
}

/* Mirrors fg_breaker_call.c: a call admitted while disabled counts nothing. */
static void fg_family_count_admission(fg_family *f, const fg_ticket *t) {
    if (!t->admitted) fg_family_count(f, FG_FAMILY_REJECTED);
    else if (t->state != FG_STATE_DISABLED) fg_family_count(f, FG_FAMILY_ADMITTED);
}

/* Mirrors fg_record: the counters follow the classification, stale or not. */
static void fg_family_count_verdict(fg_family *f, fg_verdict v) {
    switch (v) {
    case FG_VERDICT_SUCCESS: fg_family_count(f, FG_FAMILY_SUCCESS); break;
    case FG_VERDICT_FAILURE: fg_family_count(f, FG_FAMILY_FAILURE); break;
    case FG_VERDICT_IGNORED: fg_family_count(f, FG_FAMILY_IGNORED); break;
    case FG_VERDICT_STALE_SUCCESS:
        fg_family_count(f, FG_FAMILY_SUCCESS);
        fg_family_count(f, FG_FAMILY_STALE);
        break;
    case FG_VERDICT_STALE_FAILURE:
        fg_family_count(f, FG_FAMILY_FAILURE);
        fg_family_count(f, FG_FAMILY_STALE);
        break;
    case FG_VERDICT_UNRECORDED: break;
    }
}

static int fg_family_acquire_when(fg_family *f, const void *key, size_t key_len, int have_now,
                                  double now, fg_family_ticket *t, char *err, size_t err_cap) {
    if (err != NULL && err_cap > 0) err[0] = '\0';
    fg_family_entry *e = fg_family_pin(f, key, key_len, 1, have_now, now, err, err_cap);
    if (e == NULL) {
        memset(t, 0, sizeof *t);
        t->ticket.slot = -1;
        t->ticket.retry_after = -1.0;
        t->ticket.state = FG_STATE_CLOSED;
        return -1;
    }
    fg_breaker view;
    fg_family_hook_ctx ctx;
    fg_family_bind(f, e, &view, &ctx);
    int admitted = have_now ? fg_breaker_acquire_at(&view, now, &t->ticket)
                            : fg_breaker_acquire(&view, &t->ticket);
    t->entry = e;
    fg_family_count_admission(f, &t->ticket);
    fg_family_unpin(e);
    return admitted;
}

int fg_family_get(fg_family *f, const void *key, size_t key_len, char *err, size_t err_cap) {
    if (err != NULL && err_cap > 0) err[0] = '\0';
    fg_family_entry *e = fg_family_pin(f, key, key_len, 1, 0, 0.0, err, err_cap);
    if (e == NULL) return -1;
    fg_family_unpin(e);
    return 0;
}

int fg_family_acquire(fg_family *f, const void *key, size_t key_len, fg_family_ticket *t, char *err,
                      size_t err_cap) {
    return fg_family_acquire_when(f, key, key_len, 0, 0.0, t, err, err_cap);
}

int fg_family_acquire_at(fg_family *f, const void *key, size_t key_len, double now,
                         fg_family_ticket *t, char *err, size_t err_cap) {
    return fg_family_acquire_when(f, key, key_len, 1, now, t, err, err_cap);
}

fg_outcome_class fg_family_classify(const fg_family *f, const fg_outcome *outcome) {
    return fg_breaker_classify(f->proto, outcome);
}

static fg_verdict fg_family_record_when(fg_family *f, const fg_family_ticket *t,
                                        fg_outcome_class outcome_class, double duration,
                                        int have_now, double now) {
    /* Rejected tickets and calls admitted while disabled touch nothing --
     * not even the entry, which such a ticket does not keep alive. */
    if (!t->ticket.admitted || t->ticket.state == FG_STATE_DISABLED || t->entry == NULL)
        return FG_VERDICT_UNRECORDED;
    fg_family_entry *e = t->entry;
    /* The ticket is in flight, so e is alive; pinned before the block is
     * touched, it stays so until we are done (fg_family_internal.h). */
    atomic_fetch_add_explicit(&e->pins, 1, memory_order_seq_cst);
    fg_breaker view;
    fg_family_hook_ctx ctx;
    fg_family_bind(f, e, &view, &ctx);
    fg_verdict v = have_now ? fg_breaker_record_at(&view, &t->ticket, outcome_class, duration, now)
                            : fg_breaker_record(&view, &t->ticket, outcome_class, duration);
    fg_family_count_verdict(f, v);
    fg_family_unpin(e);
    return v;
}

fg_verdict fg_family_record(fg_family *f, const fg_family_ticket *t, fg_outcome_class outcome_class,
                            double duration) {
    return fg_family_record_when(f, t, outcome_class, duration, 0, 0.0);
}

fg_verdict fg_family_record_at(fg_family *f, const fg_family_ticket *t,
                               fg_outcome_class outcome_class, double duration, double now) {
    return fg_family_record_when(f, t, outcome_class, duration, 1, now);
}

fg_verdict fg_family_release(fg_family *f, const fg_family_ticket *t, const fg_outcome *outcome,
                             double duration) {
    if (!t->ticket.admitted || t->ticket.state == FG_STATE_DISABLED) return FG_VERDICT_UNRECORDED;
    return fg_family_record(f, t, fg_family_classify(f, outcome), duration);
}

int fg_family_state(fg_family *f, const void *key, size_t key_len) {
    fg_family_entry *e = fg_family_pin(f, key, key_len, 0, 0, 0.0, NULL, 0);
    if (e == NULL) return -1;
    fg_block *b = fg_family_entry_block(e);
    int state = (int)fg_block_word_state(atomic_load_explicit(&b->word, memory_order_acquire));
    fg_family_unpin(e);
    return state;
}

int fg_family_info(fg_family *f, const void *key, size_t key_len, fg_info *info) {
    fg_family_entry *e = fg_family_pin(f, key, key_len, 0, 0, 0.0, NULL, 0);
    if (e == NULL) return -1;
    fg_breaker view;
    fg_family_hook_ctx ctx;
    fg_family_bind(f, e, &view, &ctx);
    fg_breaker_info(&view, info);
    fg_family_unpin(e);
    return 0;
}

int fg_family_command(fg_family *f, const void *key, size_t key_len, fg_state to) {
    void (*command)(fg_breaker *) = NULL;
    switch (to) {
    case FG_STATE_CLOSED: command = fg_breaker_reset; break;
    case FG_STATE_DISABLED: command = fg_breaker_disable; break;
    case FG_STATE_METRICS_ONLY: command = fg_breaker_metrics_only; break;
    case FG_STATE_FORCED_OPEN: command = fg_breaker_force_open; break;
    default: return -1;
    }
    fg_family_entry *e = fg_family_pin(f, key, key_len, 0, 0, 0.0, NULL, 0);
    if (e == NULL) return -1;
    fg_breaker view;
    fg_family_hook_ctx ctx;
    fg_family_bind(f, e, &view, &ctx);
    command(&view);
    fg_family_unpin(e);
    return 0;
}
