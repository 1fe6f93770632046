/*
 * fg_block.c -- the state block's layout, initialisation and checks (see
 * fg_block.h).
 */
#define _GNU_SOURCE /* sched_getcpu: rseq/vDSO, no syscall */
#include "fg_block.h"

#include <math.h>
#include <sched.h>
#include <stddef.h>
#include <string.h>

#include "fg_clock.h"
#include "fg_program.h"
#include "fg_window.h"

/* The view finds a window's exact sum by a 16-bit distance from the
 * running totals (fg_window.sum_at): the extra memory follows the fixed
 * part, the counters, the retry factor and at most FG_MAX_SLOW_THRESHOLDS
 * slow counts. */
_Static_assert(sizeof(fg_block) - offsetof(fg_block, window) + sizeof(fg_block_counts) + 8 +
                       8 * FG_MAX_SLOW_THRESHOLDS +
                       sizeof(fg_window_wide) <= UINT16_MAX,
               "the window's extra memory is too far from its running totals");

static uint64_t fg_align8(uint64_t n) {
    return (n + 7u) & ~(uint64_t)7u;
}

int fg_block_layout_of(const fg_breaker_def *def, int counted, fg_block_layout *out) {
    memset(out, 0, sizeof *out);
    uint32_t thresholds = fg_program_threshold_count(def->tripper);
    if (thresholds > FG_MAX_SLOW_THRESHOLDS) thresholds = FG_MAX_SLOW_THRESHOLDS;
    out->window_kind = (uint8_t)def->window.kind;
    out->window_size = def->window.size > 0 ? def->window.size : 1;
    out->threshold_count = (uint8_t)thresholds;
    out->exact_durations = (uint8_t)(def->window.kind == FG_WINDOW_TIME ||
                                     fg_block_reads_latency(def->tripper));
    out->level_bits = (uint8_t)fg_window_level_bits(thresholds);
    out->slot_capacity = def->max_half_open_calls > 0 ? def->max_half_open_calls : 1;

    uint64_t at = sizeof(fg_block);
    out->counted = (uint8_t)(counted != 0);
    if (out->counted) at += sizeof(fg_block_counts); /* fg_block_counts_of */
    out->retry_factor = (uint8_t)fg_block_keeps_retry_factor(&def->retry);
    if (out->retry_factor) at += sizeof(double); /* fg_block_retry_factor */
    out->slow_off = (uint32_t)at;
    at = fg_align8(at + (uint64_t)thresholds * sizeof(uint64_t));
    /* what only some windows keep (fg_window.h): a TimeWindow's 64-bit
     * counts, the exact duration sum of a window that keeps exact
     * durations; beside the slow counts, before the entries */
    uint64_t extra = fg_window_extra_bytes(def->window.kind, out->exact_durations);
    out->extra_off = extra > 0 ? (uint32_t)at : 0;
    at += extra;
    out->window_off = (uint32_t)at;
    at += fg_window_entries_bytes(def->window.kind, out->window_size, thresholds, out->exact_durations);
    out->slots_off = (uint32_t)at;
    at = fg_align8(at + fg_half_open_bytes(out->slot_capacity));
    if (at > UINT32_MAX) return -1;
    out->size = (uint32_t)at;
    return 0;
}

void fg_block_init(fg_block *b, const fg_block_layout *l, uint64_t fingerprint, double now,
                   uint64_t seed) {
    memset(b, 0, l->size);
    atomic_init(&b->word, fg_block_word(FG_STATE_CLOSED, 0));
    double zero = 0.0;
    uint64_t bits;
    memcpy(&bits, &zero, sizeof bits);
    atomic_init(&b->offset_bits, bits);
    b->magic = FG_BLOCK_MAGIC | (l->counted ? (uint32_t)FG_BLOCK_COUNTED : 0u);
    b->fingerprint = fingerprint;
    b->changed_at = now;
    if (l->retry_factor) {
        double one = 1.0;
        memcpy((char *)b + fg_block_retry_factor_at(b), &one, sizeof one);
    }
    fg_block_counts *c = fg_block_counts_of(b);
    if (c != NULL) {
        atomic_init(&c->admissions.admitted, 0);
        atomic_init(&c->admissions.rejected, 0);
    }
    b->random = fg_random_seed(seed);
    fg_lock_init(&b->lock);
    /* the reading `now` came from is not one the next rebases against: the
     * block's time starts at its first reading (fg_clock.h) */
    double none = FG_CLOCK_NO_READING;
    memcpy(&bits, &none, sizeof bits);
    atomic_init(&b->last_raw_bits, bits);
    b->last_time = now;
    /* the window and the slots: fg_window_init, fg_half_open_init (fresh) */
}

const char *fg_block_check(const fg_block *b, size_t size, const fg_block_layout *l,
                           uint64_t fingerprint) {
    if (size < sizeof(fg_block) || (b->magic & 0x00ffffffu) != FG_BLOCK_MAGIC_BYTES)
        return "the memory does not hold a fluxgate breaker block";
    if ((b->magic & ~(uint32_t)FG_BLOCK_COUNTED) != FG_BLOCK_MAGIC)
        return "the block was made by another version of fluxgate";
    if (fg_block_counted(b) != l->counted)
        return l->counted ? "the block keeps no counters of its own; this breaker needs them"
                          : "the block keeps counters of its own; this breaker counts only into its sink";
    if (b->fingerprint != fingerprint)
        return "the block holds a breaker of another definition (the fingerprints differ)";
    if (size < l->size) return "the memory is smaller than the block's layout";
    return NULL;
}

int fg_block_transition_cell(fg_state from, fg_state to) {
    if ((unsigned)from >= FG_STATE_COUNT || (unsigned)to >= FG_STATE_COUNT) return -1;
    switch (to) {
    case FG_STATE_CLOSED: return (int)from;            /* 0..5 */
    case FG_STATE_DISABLED: return 6 + (int)from;      /* 6..11 */
    case FG_STATE_METRICS_ONLY: return 12 + (int)from; /* 12..17 */
    case FG_STATE_FORCED_OPEN: return 18 + (int)from;  /* 18..23 */
    case FG_STATE_OPEN:
        if (from == FG_STATE_CLOSED) return 24;
        if (from == FG_STATE_HALF_OPEN) return 25;
        return -1;
    case FG_STATE_HALF_OPEN: return from == FG_STATE_OPEN ? 26 : -1;
    case FG_STATE_COUNT: break;
    }
    return -1;
}
