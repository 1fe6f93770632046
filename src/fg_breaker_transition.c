/*
 * fg_breaker_transition.c -- the state machine's transitions (SPEC section 5):
 * the bookkeeping every transition does, the tripper evaluation that causes
 * most of them, the breaker's clock and its random draws.
 */
#include "fg_breaker_internal.h"

#include <string.h>

#include "fg_retry.h"

double fg_breaker_now_locked(fg_breaker *h, fg_when *w) {
    if (w->have_now) return w->now;
    fg_block *b = h->block;
    double raw = w->have_raw ? w->raw : fg_clock_read((fg_clock_kind)h->clock_kind);
    double offset = fg_breaker_offset(b), before = offset;
    w->now = fg_clock_advance(raw, &b->last_raw, &b->last_time, &offset);
    if (offset != before) {
        uint64_t bits;
        memcpy(&bits, &offset, sizeof bits);
        atomic_store_explicit(&b->offset_bits, bits, memory_order_relaxed);
    }
    w->have_now = 1;
    return w->now;
}

double fg_breaker_draw_locked(fg_breaker *h) {
    return fg_random_draw(h->random, h->random_ud, h->block->random);
}

const char *fg_breaker_trip_reason(const fg_breaker *h, uint32_t alternative) {
    const char *text = NULL;
    if (alternative < fg_program_alternative_count(h->def->tripper))
        text = fg_program_alternative_text(h->def->tripper, alternative);
    return text != NULL ? text : fg_program_text(h->def->tripper);
}

int fg_breaker_trip_run_locked(fg_breaker *h, fg_state state, double now, const char **reason) {
    fg_block *b = h->block;
    fg_block_memo *m = &b->memo;
    fg_metric metric; /* the view writes what the tripper reads, no more */
    fg_window_view(&h->window, now, &metric, h->reads_latency);
    fg_trip_context ctx = {&metric, state, b->consecutive_failures};
    uint32_t alternative = 0;
    /* fg_vm_trip itself, not fg_vm_trip_memoize: the block's memo is
     * fixed-width and keyed differently (fg_breaker_trip_locked), so it is
     * written here directly rather than through an fg_trip_memo. */
    int fired = fg_vm_trip(h->def->tripper, &ctx, &alternative) != 0;
    /* the duration is not in the memo; nor is an alternative past 16 bits */
    int valid = !h->reads_latency && alternative <= UINT16_MAX;
    m->flags = (uint8_t)((valid ? FG_BLOCK_MEMO_VALID : 0) | (fired ? FG_BLOCK_MEMO_FIRED : 0));
    m->alternative = (uint16_t)alternative;
    m->state = (uint8_t)state;
    m->consecutive_failures = fg_breaker_streak_key(h, b->consecutive_failures);
    m->counts_version = (uint32_t)b->window.counts_version;
    if (fired && reason != NULL) *reason = fg_breaker_trip_reason(h, alternative);
    return fired;
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
    if (atomic_load_explicit(&home->dispatch, memory_order_acquire) != NULL) {
        out->active = 1;
        /* atomic: a family's keys number their transitions under their own
         * locks; one key's numbers still follow its sequence numbers */
        out->local = atomic_fetch_add_explicit(&home->next_local, 1, memory_order_relaxed);
        out->transition.breaker = h->def->name;
        out->transition.key = h->key;
        out->transition.key_len = h->key_len;
        out->transition.old_state = from;
        out->transition.new_state = to;
        out->transition.timestamp = now;
        out->transition.reason = reason != NULL ? reason : fg_breaker_close_reason_of(h);
        out->transition.sequence = sequence;
        fg_window_metric(&h->window, now, &out->transition.metric);
    }

    if (h->hooks != NULL) h->hooks->transition(h->hooks_ud, from, to);
    int cell = fg_block_transition_cell(from, to);
    if (cell >= 0) fg_block_transitions_add(b, cell);
    if (h->sink != NULL) fg_sink_transition(h->sink, &h->home->sink_state, from, to);
    if (from == FG_STATE_HALF_OPEN && to == FG_STATE_OPEN) b->reopens++;
    b->changed_at = now;
    fg_window_clear(&h->window);
    /* Leases of the old state end with it: their outcomes are stale now. */
    fg_half_open_reset(&h->half_open);
    if (to == FG_STATE_HALF_OPEN) b->consecutive_failures = 0;
    if (to == FG_STATE_CLOSED) {
        b->reopens = 0;
        b->consecutive_failures = 0;
    }
    /* Drawn once per open period, so that the wait (and retry_after) is
     * fixed until the breaker leaves open. */
    if (to == FG_STATE_OPEN) {
        fg_random r = {h->random, h->random_ud, {b->random[0], b->random[1], b->random[2], b->random[3]}};
        b->retry_factor = fg_retry_draw_factor(&h->def->retry, &r);
        memcpy(b->random, r.s, sizeof b->random);
    }
    /* Last: a lock-free admission that sees the new word sees the rest. */
    atomic_store_explicit(&b->word, fg_block_word(to, fg_block_word_generation(word) + 1),
                          memory_order_release);
}
