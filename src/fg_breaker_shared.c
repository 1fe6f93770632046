/*
 * fg_breaker_shared.c -- breakers on shared blocks: the lock owner that
 * follows fork, the repair after a lock was taken over from a dead owner,
 * the counters of a shared breaker's chain of blocks (fg_shm.h "Chains"),
 * the block and the definition's fingerprint for the binding's placement,
 * and a test hook that holds the lock (for the SIGKILL tests).
 */
#include "fg_breaker_shared.h"

#include <string.h>

#include "fg_breaker_internal.h"

void fg_breaker_set_zone(fg_breaker *h, fg_shm *m) {
    h->owner = fg_shm_owner(m);
    fg_shm_span head;
    h->zone_chain = fg_shm_chain(m, h->block, FG_SHM_BREAKER, &head, 1) > 0;
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

void fg_breaker_structure_repair_locked(fg_breaker *h) {
    fg_half_open ho = fg_breaker_half_open(h);
    if (!fg_window_sane(&h->window) || !fg_half_open_sane(&ho)) fg_breaker_repair_locked(h);
}

/* A word another process writes under its block's lock, read without it
 * (relaxed: whole, since it is aligned; no order needed between counters). */
static uint64_t fg_shared_load64(const uint64_t *word) {
    return __atomic_load_n(word, __ATOMIC_RELAXED);
}

static uint32_t fg_shared_load32(const uint32_t *word) {
    return __atomic_load_n(word, __ATOMIC_RELAXED);
}

int fg_breaker_block_counters(const void *block, size_t size, fg_counters *out) {
    const fg_block *b = block;
    memset(out, 0, sizeof *out);
    /* the header is written once, before the block was published; shared
     * blocks keep their counters (the instance's) */
    if (b == NULL || size < sizeof(fg_block) + sizeof(fg_block_counts) ||
        b->magic != (FG_BLOCK_MAGIC | (uint32_t)FG_BLOCK_COUNTED))
        return -1;
    fg_block_counts *c = fg_block_counts_of((fg_block *)b); /* atomics: loads only */
    out->success = fg_shared_load64(&c->success);
    out->failure = fg_shared_load64(&c->failure);
    out->ignored = fg_shared_load64(&c->ignored);
    out->stale = fg_shared_load64(&c->stale);
    out->lease_expired = fg_shared_load64(&c->lease_expired);
    for (int from = 0; from < FG_STATE_COUNT; from++)
        for (int to = 0; to < FG_STATE_COUNT; to++) {
            int cell = fg_block_transition_cell((fg_state)from, (fg_state)to);
            if (cell < 0) continue;
            int a = fg_block_cell_auto(cell);
            out->transitions[from][to] =
                a >= 0 ? fg_shared_load64(&c->transitions_auto[a])
                       : fg_shared_load32(&c->transitions_manual[fg_block_cell_manual(cell)]);
        }
    out->admitted = atomic_load_explicit(&c->admissions.admitted, memory_order_relaxed);
    out->rejected = atomic_load_explicit(&c->admissions.rejected, memory_order_relaxed);
    return 0;
}

void fg_counters_add(fg_counters *to, const fg_counters *from) {
    to->success += from->success;
    to->failure += from->failure;
    to->ignored += from->ignored;
    to->rejected += from->rejected;
    to->admitted += from->admitted;
    to->stale += from->stale;
    to->lease_expired += from->lease_expired;
    for (int a = 0; a < FG_STATE_COUNT; a++)
        for (int b = 0; b < FG_STATE_COUNT; b++) to->transitions[a][b] += from->transitions[a][b];
}

void fg_breaker_zone_counters_add(const fg_breaker *h, fg_counters *c) {
    fg_shm_span chain[FG_SHM_ENTRIES];
    size_t n = fg_shm_chain(fg_shm_of_owner(h->owner), h->block, FG_SHM_BREAKER, chain,
                            FG_SHM_ENTRIES);
    for (size_t i = 0; i < n; i++) {
        /* h's own block: the caller read it under its lock */
        if (chain[i].region == (const void *)h->block) continue;
        fg_counters other;
        if (fg_breaker_block_counters(chain[i].region, chain[i].size, &other) == 0)
            fg_counters_add(c, &other);
    }
}

int fg_breaker_zone_totals(const fg_shm *m, const fg_shm_span *head, fg_counters *out, fg_state *state,
                           const void **counters_id) {
    if (fg_breaker_block_counters(head->region, head->size, out) != 0) return -1;
    uint64_t word = atomic_load_explicit(&((fg_block *)head->region)->word, memory_order_acquire);
    fg_state s = fg_block_word_state(word);
    *state = s < FG_STATE_COUNT ? s : FG_STATE_FORCED_OPEN; /* FG_STATE_MOVED: replaced, as admission reads it */
    fg_shm_span chain[FG_SHM_ENTRIES];
    size_t n = fg_shm_chain(m, head->region, FG_SHM_BREAKER, chain, FG_SHM_ENTRIES);
    *counters_id = n > 0 ? chain[n - 1].region : head->region;
    for (size_t i = 0; i < n; i++) {
        if (chain[i].region == head->region) continue; /* counted above */
        fg_counters other;
        if (fg_breaker_block_counters(chain[i].region, chain[i].size, &other) == 0)
            fg_counters_add(out, &other);
    }
    return 0;
}

const void *fg_breaker_counters_id(const fg_breaker *h) {
    if (!h->zone_chain) return h->block;
    fg_shm_span chain[FG_SHM_ENTRIES];
    size_t n = fg_shm_chain(fg_shm_of_owner(h->owner), h->block, FG_SHM_BREAKER, chain,
                            FG_SHM_ENTRIES);
    return n > 0 ? chain[n - 1].region : h->block;
}

void fg_breaker_test_hold_lock(fg_breaker *h) {
    fg_breaker_lock(h);
}
