/*
 * fg_breaker_shared.c -- breakers on shared blocks: the lock owner that
 * follows fork, the repair after a lock was taken over from a dead owner,
 * counters carried over from a replaced definition's block, the block and
 * the definition's fingerprint for the binding's placement, and a test hook
 * that holds the lock (for the SIGKILL tests).
 */
#include "fg_breaker_shared.h"

#include "fg_breaker_internal.h"

void fg_breaker_set_lock_owner(fg_breaker *h, const fg_lock_owner *owner) {
    h->owner = owner;
}

const void *fg_breaker_block(const fg_breaker *h) {
    return h->block;
}

uint64_t fg_breaker_definition_fingerprint(const fg_policy *policy, size_t index) {
    if (policy == NULL || index >= policy->breaker_count) return 0;
    return fg_block_fingerprint(&policy->breakers[index]);
}

/* What a process killed under the lock may have left half-done, and why
 * this mends it:
 *   - a record: the counters are single aligned 64-bit words (each whole,
 *     at worst one call short); but the window's running totals move in
 *     several stores (count, failures, duration sum -- three limbs for an
 *     exact sum --, slow counts, the ring head, a TimeWindow bucket), so
 *     they may disagree with the entries. The window is cleared: it starts
 *     counting again (O(1), rewrites every total and retires every entry by
 *     epoch), which never opens or closes the breaker by itself;
 *   - a half-open grant or release: the busy/free lists are doubly linked
 *     and may be half-relinked (a cycle would make expiry loop). They are
 *     reset: a new era, every slot free; outcomes of the probes in flight
 *     come back stale, and new probes are admitted;
 *   - a transition: the state word is stored last (release), so the state
 *     is the old one or the new one, never a mix; the window and slots are
 *     reset above as a transition resets them; at worst a transition
 *     counter or the sequence counts one transition that did not happen;
 *   - the tripper's memo may describe totals that no longer exist: it is
 *     invalidated, so the tripper runs again on the next record;
 *   - the clock's rebasing words are each written whole: time stays
 *     monotonic (a torn pair reads as a jump, which fg_clock rebases).
 * Lock held. */
void fg_breaker_repair_locked(void *ud) {
    fg_breaker *h = ud;
    fg_block *b = h->block;
    fg_window_clear(&h->window);
    fg_half_open ho = fg_breaker_half_open(h);
    fg_half_open_reset(&ho);
    b->memo.flags = 0;
}

int fg_breaker_carry_counters(fg_breaker *h, const void *old_block, size_t old_size) {
    const fg_block *old = old_block;
    if (old == NULL || old_size < sizeof(fg_block) || old->magic != FG_BLOCK_MAGIC ||
        old->version != FG_BLOCK_VERSION || old->fixed_bytes != sizeof(fg_block))
        return -1;
    fg_block *b = h->block;
    fg_breaker_lock(h);
    b->success += old->success;
    b->failure += old->failure;
    b->ignored += old->ignored;
    b->stale += old->stale;
    b->half_open.expired += old->half_open.expired;
    for (int k = 0; k < FG_BLOCK_TRANSITION_CELLS; k++)
        fg_block_transitions_set(b, k, fg_block_transitions_get(b, k) + fg_block_transitions_get(old, k));
    fg_breaker_unlock(h);
    const fg_block_stripe *from[2] = {&old->stripe0, &old->stripe1};
    fg_block_stripe *to[2] = {&b->stripe0, &b->stripe1};
    for (int i = 0; i < 2; i++) {
        uint64_t admitted = atomic_load_explicit(&((fg_block_stripe *)from[i])->admitted, memory_order_relaxed);
        uint64_t rejected = atomic_load_explicit(&((fg_block_stripe *)from[i])->rejected, memory_order_relaxed);
        atomic_fetch_add_explicit(&to[i]->admitted, admitted, memory_order_relaxed);
        atomic_fetch_add_explicit(&to[i]->rejected, rejected, memory_order_relaxed);
    }
    return 0;
}

void fg_breaker_test_hold_lock(fg_breaker *h) {
    fg_breaker_lock(h);
}
