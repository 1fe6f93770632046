/*
 * fg_block.h -- a breaker's state block: ALL of its mutable state in one
 * contiguous, pointer-free, position-independent block whose size is a
 * function of the definition alone (fg_breaker_footprint). It may live in
 * the heap, in a Lua userdata or in memory that several processes map;
 * everything that is per process (policy, clock and random callbacks,
 * listeners, Custom() predicates, the allocator) is in the handle
 * (fg_breaker_internal.h). Internal references are byte offsets from the
 * block's start, a function of the definition (fg_block_layout_of); every
 * field is fixed-width and every time a double of the breaker's clock.
 * Snapshots (fg_snapshot.h) are written field by field, never copied, so
 * this layout may change without changing their format.
 *
 * Layout: the fixed part below, then the variable arrays (offsets in
 * fg_block_layout): slow counts, the window's extra totals (TimeWindow,
 * AvgLatency only), the window (CountWindow ring or TimeWindow buckets),
 * the half-open slots. The fixed part is packed: no field is kept apart
 * from another for the cache's sake. Admissions that take no lock add to
 * `admissions`, every record writes under the lock; measured
 * (`bench_core contention`: payment_api, 1, 2 and 4 threads), one
 * admission counter pair instead of one per group of CPUs, 64 bytes from
 * the lock, changed nothing: the records' lock line is what moves between
 * CPUs, and it is written on every call anyway.
 * Then the variable arrays: slow counts (8 bytes per SlowRate threshold),
 * what only some windows keep (a TimeWindow's 64-bit counts and exact
 * duration sum, 40 bytes; a CountWindow's exact sum with AvgLatency, 24;
 * nothing otherwise: fg_window_extra_bytes), the window (4 bytes per
 * CountWindow record without AvgLatency, 8 with it, one bucket per
 * TimeWindow second), the half-open slots (7 bytes each up to 256 slots,
 * 9 beyond, padded to 8: 32-bit lease ticks, prev and next links of 8 or
 * 16 bits, reissue counts; fg_half_open.h).
 *
 * The state word packs the state (3 bits) and the generation (61 bits): an
 * admission in a state that needs no decision reads it once and is done.
 */
#ifndef FG_BLOCK_H
#define FG_BLOCK_H

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "fg_exact_sum.h"
#include "fg_half_open.h"
#include "fg_lock.h"
#include "fg_policy_internal.h"
#include "fg_random.h"
#include "fg_window.h"
#include "fluxgate.h"

enum {
    /* "FGB" and the layout's version in the fourth byte, little-endian */
    FG_BLOCK_VERSION = 8,
    FG_BLOCK_MAGIC_BYTES = 0x00424746u, /* "FGB" */
    FG_BLOCK_MAGIC = FG_BLOCK_MAGIC_BYTES | (uint32_t)FG_BLOCK_VERSION << 24,
    /* in the magic of a block that keeps the breaker's own counters
     * (fg_block_counts) right after its fixed part */
    FG_BLOCK_COUNTED = 0x40000000,
    /* (old, new) pairs that can happen: any state to a manual command's
     * state (4 x 6), closed/half_open -> open, open -> half_open */
    FG_BLOCK_TRANSITION_CELLS = 27,
    /* of which the state machine's own, counted in 64 bits: half_open ->
     * closed, closed -> open, half_open -> open, open -> half_open */
    FG_BLOCK_AUTO_CELLS = 4,
    /* and the rest, reached only by manual commands, in 32 bits */
    FG_BLOCK_MANUAL_CELLS = FG_BLOCK_TRANSITION_CELLS - FG_BLOCK_AUTO_CELLS
};

/* Admissions counted without the lock. */
typedef struct fg_block_admissions {
    _Atomic uint64_t admitted;
    _Atomic uint64_t rejected;
} fg_block_admissions;

/* A breaker's own counters (fg_counters), in its block right after the
 * fixed part -- only in a block made to keep them (a "counted" block:
 * fg_block_counted). A breaker that counts only into its sink
 * (fg_breaker_options.sink_only: the Lua binding's breakers, which count
 * by name) has none, and its block is this much smaller. 184 bytes. */
typedef struct fg_block_counts {
    fg_block_admissions admissions; /* counted without the lock */
    /* The record calls so far, in the lock's order, are success + failure
     * + ignored: each record call adds to exactly one of them. */
    uint64_t success;
    uint64_t failure;
    uint64_t ignored;
    uint64_t stale;
    uint64_t lease_expired;       /* half-open leases taken back */
    /* the state machine's transition counters, and the manual commands'
     * (saturating): fg_block_transitions_get */
    uint64_t transitions_auto[FG_BLOCK_AUTO_CELLS];
    uint32_t transitions_manual[FG_BLOCK_MANUAL_CELLS];
    uint32_t spare;               /* (to 8 bytes) */
} fg_block_counts;

/* The tripper's last evaluation (fg_trip_memo, fixed-width, 12 bytes). The
 * key holds the low 32 bits of the window's counts_version: between two
 * evaluations the version moves by at most one per record plus the buckets
 * dropped by one advance, never by 2^32, so equal low bits mean equal
 * versions. An alternative index past 65535 is not memoised (flags 0). */
typedef struct fg_block_memo {
    uint32_t counts_version;       /* low 32 bits */
    uint32_t consecutive_failures; /* fg_breaker_streak_key of them */
    uint16_t alternative;
    uint8_t state;
    uint8_t flags;                 /* FG_BLOCK_MEMO_VALID | FG_BLOCK_MEMO_FIRED */
} fg_block_memo;

enum { FG_BLOCK_MEMO_VALID = 1, FG_BLOCK_MEMO_FIRED = 2 };

typedef struct fg_block {
    /* ---- read by every admission (read-mostly) ---- */
    _Atomic uint64_t word;        /* state | generation << FG_BLOCK_STATE_BITS */
    _Atomic uint64_t offset_bits; /* the clock offset (a double): time = raw + offset */
    /* ---- header: written once, when the block is placed. The layout is a
     * function of the definition and the version, which the fingerprint
     * and the version name, so no offsets are kept here. ---- */
    uint32_t magic;               /* FG_BLOCK_MAGIC (| FG_BLOCK_COUNTED): the version names
                                   * sizeof(fg_block); with the fingerprint, the layout */
    uint32_t consecutive_failures; /* (here: beside the magic, no padding) */
    /* ---- transitions ---- */
    uint64_t fingerprint;         /* fg_block_fingerprint of the definition */
    double changed_at;
    uint64_t sequence;            /* the latest transition's sequence number */
    uint64_t random;              /* the PRNG's state (SplitMix64, fg_random.h) */
    /* ---- half_open ---- */
    fg_half_open_state half_open; /* the slots' bookkeeping (fg_half_open.h) */
    /* ---- hot: the lock, and what records write under it ---- */
    fg_lock lock;
    /* the last raw clock reading (rebasing), a double: written under the
     * lock, read without it by admissions that read a clock (fg_started_at) */
    _Atomic uint64_t last_raw_bits;
    double last_time;             /* the breaker's time at that reading */
    fg_window_state window;       /* the window's running totals (fg_window.h) */
    fg_block_memo memo;
    uint32_t reopens;             /* (beside the memo: fills its last 4 bytes) */
} fg_block;

_Static_assert(offsetof(fg_block, offset_bits) + 8 <= 16, "the read-mostly words come first");

enum { FG_BLOCK_STATE_BITS = 3, FG_BLOCK_STATE_MASK = 7 };

static inline uint64_t fg_block_word(fg_state state, uint64_t generation) {
    return (uint64_t)state | (generation << FG_BLOCK_STATE_BITS);
}
static inline fg_state fg_block_word_state(uint64_t word) {
    return (fg_state)(word & FG_BLOCK_STATE_MASK);
}
static inline uint64_t fg_block_word_generation(uint64_t word) {
    return word >> FG_BLOCK_STATE_BITS;
}

/* What a definition's block looks like: the header's variable fields. */
typedef struct fg_block_layout {
    uint32_t size;
    uint8_t counted;              /* the block keeps fg_block_counts */
    uint8_t retry_factor;         /* fg_block_keeps_retry_factor */
    uint8_t window_kind;
    uint8_t exact_durations;
    uint8_t threshold_count;
    uint8_t level_bits;
    uint32_t window_size;
    uint32_t slot_capacity;
    uint32_t slow_off, extra_off, window_off, slots_off; /* extra_off 0: none */
} fg_block_layout;

/* Whether the block keeps the breaker's own counters, and where they are
 * (right after the fixed part: a reader of another process's block finds
 * them without its definition), or NULL. */
static inline int fg_block_counted(const fg_block *b) {
    return (b->magic & FG_BLOCK_COUNTED) != 0;
}
static inline fg_block_counts *fg_block_counts_of(fg_block *b) {
    return fg_block_counted(b) ? (fg_block_counts *)((char *)b + sizeof *b) : NULL;
}

/* The retry's jitter factor, drawn when the breaker opened (fg_retry.h), is
 * kept only by a definition whose retry has jitter -- 8 bytes after the
 * fixed part and the counters --, and is 1 for every other one, which never
 * draws one: a block keeps only what its definition needs. */
static inline int fg_block_keeps_retry_factor(const fg_retry_spec *retry) {
    return (retry->kind == FG_RETRY_COOLDOWN || retry->kind == FG_RETRY_BACKOFF) && retry->jitter_ratio > 0.0;
}
static inline size_t fg_block_retry_factor_at(const fg_block *b) {
    return sizeof *b + (fg_block_counted(b) ? sizeof(fg_block_counts) : 0);
}
static inline double fg_block_retry_factor(const fg_block *b, const fg_retry_spec *retry) {
    double factor = 1.0;
    if (fg_block_keeps_retry_factor(retry)) memcpy(&factor, (const char *)b + fg_block_retry_factor_at(b), sizeof factor);
    return factor;
}
/* Stores the factor where the definition keeps one (else it is 1: nothing to store). */
static inline void fg_block_set_retry_factor(fg_block *b, const fg_retry_spec *retry, double factor) {
    if (fg_block_keeps_retry_factor(retry)) memcpy((char *)b + fg_block_retry_factor_at(b), &factor, sizeof factor);
}

/* Computes the layout for def, with the breaker's own counters in the block
 * (counted = 1) or without them (a breaker that counts only into its sink).
 * Returns 0, or -1 when the block would be larger than 4 GiB (an absurd
 * window or slot count). */
int fg_block_layout_of(const fg_breaker_def *def, int counted, fg_block_layout *out);

/* The fingerprint of everything that defines a definition's behaviour (see
 * fg_block_def.c): window kind and size, tracker and tripper programs
 * (bytecode, constants, strings, thresholds, texts), retry and permit
 * parameters, max_half_open_calls, half_open_lease, and the block version.
 * Not the breaker's name. */
uint64_t fg_block_fingerprint(const fg_breaker_def *def);

/* The same fingerprint without the block version: the behaviour alone,
 * which is what a snapshot carries (fg_snapshot.h), so that snapshots
 * outlive changes of the in-memory layout. */
uint64_t fg_block_definition_fingerprint(const fg_breaker_def *def);

/* The smallest AvgLatency threshold of a tripper (+infinity: none), and
 * whether it reads the window's duration at all. */
double fg_block_min_latency_threshold(const fg_program *tripper);
int fg_block_reads_latency(const fg_program *tripper);

/* The smallest and largest count a tripper's FailureStreak tests compare
 * the consecutive failures with (low UINT32_MAX, high 0: no such test),
 * for the tripper memo's streak key (fg_breaker_streak_key). */
void fg_block_streak_bounds(const fg_program *tripper, uint32_t *low, uint32_t *high);

/* Writes a fresh block (closed, generation 0, empty window, times at now)
 * for the layout into memory of layout->size bytes. */
void fg_block_init(fg_block *b, const fg_block_layout *layout, uint64_t fingerprint, double now,
                   uint64_t seed);

/* Checks that an existing block matches the layout and fingerprint;
 * returns NULL or what is wrong. */
const char *fg_block_check(const fg_block *b, size_t size, const fg_block_layout *layout,
                           uint64_t fingerprint);

/* The index of the transition counter for (from, to), or -1 for a pair
 * that cannot happen. */
int fg_block_transition_cell(fg_state from, fg_state to);

/* Where a cell's counter is: cells 2 (half_open -> closed) and 24..26 in
 * transitions_auto[0..3], the others in transitions_manual, in cell order. */
static inline int fg_block_cell_auto(int cell) {
    return cell == 2 ? 0 : cell >= 24 ? cell - 23 : -1;
}
static inline int fg_block_cell_manual(int cell) {
    return cell < 2 ? cell : cell - 1;
}

/* A transition counter (cell from fg_block_transition_cell, >= 0). The
 * manual commands' pairs count up to UINT32_MAX and stay there (a counter
 * never decreases); the state machine's own pairs, which a flapping
 * breaker can repeat without bound, count in 64 bits. Lock held. */
static inline uint64_t fg_block_transitions_get(const fg_block_counts *b, int cell) {
    int a = fg_block_cell_auto(cell);
    return a >= 0 ? b->transitions_auto[a] : b->transitions_manual[fg_block_cell_manual(cell)];
}
static inline void fg_block_transitions_add(fg_block_counts *b, int cell) {
    int a = fg_block_cell_auto(cell);
    if (a >= 0) {
        b->transitions_auto[a]++;
    } else {
        uint32_t *m = &b->transitions_manual[fg_block_cell_manual(cell)];
        *m += *m != UINT32_MAX;
    }
}
static inline void fg_block_transitions_set(fg_block_counts *b, int cell, uint64_t v) {
    int a = fg_block_cell_auto(cell);
    if (a >= 0) b->transitions_auto[a] = v;
    else b->transitions_manual[fg_block_cell_manual(cell)] = v > UINT32_MAX ? UINT32_MAX : (uint32_t)v;
}

#if defined(__GLIBC__) && defined(__x86_64__) && \
    (__GLIBC__ > 2 || (__GLIBC__ == 2 && __GLIBC_MINOR__ >= 35)) && \
    (defined(__GNUC__) && __GNUC__ >= 11 || defined(__clang__))
#define FG_BLOCK_RSEQ 1
extern const ptrdiff_t __rseq_offset; /* glibc >= 2.35 (sys/rseq.h) */
extern const unsigned int __rseq_size;
#endif

/* The CPU the calling thread runs on, from its rseq area (one load), or -1
 * where glibc has not registered rseq (then ask sched_getcpu): families'
 * and sinks' counter stripes. */
static inline int fg_block_cpu(void) {
#ifdef FG_BLOCK_RSEQ
    if (__rseq_size != 0) {
        /* struct rseq starts with cpu_id_start: always a valid CPU number */
        const volatile uint32_t *cpu =
            (const volatile uint32_t *)((char *)__builtin_thread_pointer() + __rseq_offset);
        return (int)(*cpu & 0x7fffffffu);
    }
#endif
    return -1;
}

static inline void *fg_block_at(fg_block *b, uint32_t offset) {
    return (char *)b + offset;
}

#endif /* FG_BLOCK_H */
