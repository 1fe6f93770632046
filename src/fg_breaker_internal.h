/*
 * fg_breaker_internal.h -- the breaker handle, shared by the files that make
 * up the runtime: fg_breaker.c (placement, creation, queries, commands),
 * fg_breaker_call.c (the hot path: acquire, record),
 * fg_breaker_transition.c (the state machine's transitions) and
 * fg_breaker_dispatch.c (ordered delivery to listeners).
 *
 * A breaker is a handle (this struct: per process) around a state block
 * (fg_block.h: all mutable state, possibly shared with other processes).
 *
 * Concurrency:
 *   - Admission in closed, metrics_only, disabled and forced_open takes no
 *     lock: one acquire-load of the block's state word (state and
 *     generation), plus a relaxed add to the block's admission counter. A ticket admitted
 *     that way carries the generation it read; if a transition happens
 *     before its outcome is recorded, the outcome is stale, exactly as if
 *     the admission had been serialised just before the transition.
 *   - Everything else -- recording, open/half_open admission, transitions,
 *     queries -- runs under the block's spinlock (fg_lock.h). The state word
 *     is only written under the lock (release), so a locked path sees it
 *     stable.
 *   - Clocks: a CUSTOM clock (user code) and Custom() predicates run before
 *     the lock is taken, listeners after it is released; the default clocks
 *     are read under the lock where a locked path needs the time (a vDSO
 *     read: no syscall, no user code), so that their readings are ordered
 *     and never look like a jump back. A user random function runs under
 *     the lock, because each draw must belong to exactly one decision.
 *   - Handle fields are fixed at creation, except the listener list
 *     (append-only, atomic pointers), the dispatch queue (its own lock;
 *     it also holds the list's tail and the delivery numbers, which only
 *     exist with listeners), and `live` and `gens`,
 *     which a reload publishes (fg_breaker_reload.c): a reload makes a new
 *     handle for the new definition instead of changing this one, so a
 *     call reads `live` once and then sees one consistent definition; the
 *     replaced block is marked FG_STATE_MOVED, which sends locked paths and
 *     lock-free admissions that read it to the new one.
 */
#ifndef FG_BREAKER_INTERNAL_H
#define FG_BREAKER_INTERNAL_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <string.h>

#include "fg_block.h"
#include "fg_clock.h"
#include "fg_half_open.h"
#include "fg_lock.h"
#include "fg_policy_internal.h"
#include "fg_random.h"
#include "fg_sink.h"
#include "fg_window.h"
#include "fluxgate.h"

typedef struct fg_listener fg_listener;
struct fg_listener {
    fg_listener_fn fn;
    void *ud;
    _Atomic(fg_listener *) next;
};

typedef struct fg_dispatch fg_dispatch; /* fg_breaker_dispatch.c */

/* What a family (fg_family.c) learns from its keys' breakers, under the
 * key's block lock: every transition and every half-open lease taken back.
 * NULL for a plain breaker. */
typedef struct fg_breaker_hooks {
    void (*transition)(void *ud, fg_state from, fg_state to);
    void (*leases_expired)(void *ud, uint64_t count);
} fg_breaker_hooks;

/* What a family key's transient view (fg_family_bind) adds to a handle:
 * the family's hooks and the key's bytes (fg_transition.key). It lives
 * with the view, in the caller's frame; a plain breaker's handle has none,
 * so that its 32 bytes are not in every handle. */
typedef struct fg_breaker_keyed {
    const fg_breaker_hooks *hooks;
    void *hooks_ud;
    const char *key;
    size_t key_len;
} fg_breaker_keyed;

/* A transition collected under the lock, queued for the listeners after it
 * is released. */
typedef struct fg_pending {
    int active;
    uint64_t local;          /* this handle's delivery number */
    fg_transition transition;
} fg_pending;

/* When a call's time comes from: a raw reading taken before the lock (a
 * custom clock, or the caller's own time), or the default clock read under
 * the lock the first time the call needs it. */
typedef struct fg_when {
    double raw;
    int have_raw;
    int have_now;
    double now;              /* the breaker's time, once computed */
} fg_when;

typedef struct fg_reload_gen fg_reload_gen; /* fg_reload.h */

/* A plain breaker's tripper memo beyond its newest region (fg_breaker's
 * `box`): 8 bytes right before that box in the handle's memory (so that
 * the handle needs no pointer to it, and a family key's view, bound twice
 * per call, no store to clear one; fg_breaker_trip_cache), then after the
 * box what older_offset and rates_offset point at:
 *
 *   - The older region: the one made before the newest. A failure rate
 *     hovering at a threshold that decides which tests the answer reads
 *     (`... FailureRate(50%) & SlowRate(30%) | ~FailureRate(50%) &
 *     SlowRate(40%)`) moves the counts back and forth between two regions
 *     on most records; with the previous region kept, both sides are
 *     answered from a region and none is remade. When the older region
 *     answers FG_TRIP_OLDER_RUN records in a row (the counts settled on
 *     its side), the two swap, so that the inline check finds it first.
 *     A tripper with one test, or one that reads the total duration (no
 *     region is ever valid), has none: crossing its one test's threshold
 *     changes the answer (in closed, that trips and clears the window).
 *     Then older_offset is 0: the "older" region is the newest itself.
 *   - The back-off (fg_breaker_trip_box_run_locked): when the counts leave
 *     both regions within FG_BOX_SHORT records of the last region made,
 *     the next `skip` evaluations that neither region answers run the
 *     program (its decision table or plan) without making one.
 *   - For a tripper whose decision table has rate tests, the rates'
 *     thresholds at one total (fg_vm_trip_table_thresholds), so that the
 *     table decides them by integer compares: [0] the total they are for
 *     (FG_TRIP_NO_TOTAL: none yet), then one per rate test; remade when the
 *     total moves (in a full CountWindow, never). rates_offset 0: none.
 *
 * "Records" are counted by the window's counts version, mod 2^16
 * (fg_breaker_trip_clock): it moves by one for each record that changes
 * the counts -- the records that evaluate; the memo answers the others --
 * and by the buckets a TimeWindow drops; a FailureStreak's change without
 * one evaluates at the same value. Only differences are used, to tell a
 * region's age and evaluations in a row (a wrong guess costs time, never
 * an answer).
 * Every region is exact whenever it is valid (fg_vm_trip_boxed), so none
 * of this changes an answer, only its cost. */
typedef struct fg_trip_cache {
    uint16_t built_at;    /* the record number when a region was last made */
    uint16_t older_at;    /* the record number when the older region last answered */
    uint8_t skip;         /* at most FG_BOX_SKIP */
    uint8_t older_run;    /* how many records in a row the older region has answered */
    uint8_t older_offset; /* bytes from the newest box to the older (each box's size), or 0 */
    uint8_t rates_offset; /* bytes from the newest box to the rates' thresholds, or 0 */
} fg_trip_cache;
#define FG_TRIP_NO_TOTAL UINT64_MAX
enum { FG_TRIP_OLDER_RUN = 4 };
_Static_assert(sizeof(fg_trip_cache) == 8, "the cache is 8 bytes before the box");
/* The offsets (past two boxes at most, each of fg_trip_box_size) fit a byte. */
_Static_assert(2 * (sizeof(fg_trip_box) + 2 * sizeof(uint32_t) * FG_MAX_SLOW_THRESHOLDS) <=
                   UINT8_MAX,
               "offsets fit a byte");

struct fg_breaker {
    /* What a call drives: this handle until a reload, then the newest
     * definition's handle (fg_breaker_live). Read first by every call. */
    _Atomic(fg_breaker *) live;
    fg_block *block;
    const fg_breaker_def *def;
    fg_policy *policy;            /* one reference, dropped by fg_breaker_free */
    uint64_t lock_tag;            /* what this process writes into the lock */
    const fg_lock_owner *owner;   /* shared blocks: the tag that follows fork, or NULL */
    fg_clock_fn clock;            /* CUSTOM only */
    void *clock_ud;
    double clock_lag;             /* fg_clock_lag(clock_kind): see fg_acquire_locked */
    fg_random_fn random;          /* NULL: the block's generator */
    void *random_ud;
    fg_allocator alloc;
    size_t allocated;             /* bytes of this handle (and block) we allocated; 0: none */
    fg_window window;             /* the window's view into the block (every record reads it) */
    /* The half-open slots, made into a view on demand (fg_breaker_half_open:
     * their paths are cold): where they are in the block, and how many. */
    uint32_t slots_off, slot_capacity;
    uint32_t streak_low, streak_high; /* fg_block_streak_bounds of the tripper */
    uint32_t custom_count;
    /* (the byte-sized fields together: no padding between them) */
    uint8_t clock_kind;           /* fg_clock_kind, never AUTO */
    uint8_t needs_duration;       /* a SlowRate or AvgLatency rule: durations matter */
    uint8_t reads_latency;        /* the tripper reads the total duration */
    uint8_t clock_request;        /* opts->clock_kind at creation (a reload chooses again) */
    uint8_t own_block;            /* the block is the library's (fg_breaker_new, a reload) */
    uint8_t sink_state;           /* see `sink` below */
    uint8_t single;               /* fg_breaker_options.single_thread: plain stores for the
                                   * lock and the admission counters */
    uint8_t zone_chain;           /* the block is a shared zone's breaker region: info adds
                                   * the rest of its chain (fg_breaker_set_zone) */
    _Atomic(fg_listener *) listeners;
    _Atomic(fg_dispatch *) dispatch; /* made with the first listener */
    /* A family's key is driven through a transient handle (fg_breaker_bind)
     * whose transitions are numbered and heard by the family's handle:
     * `home` is that handle (a plain breaker's is itself). */
    fg_breaker *home;
    const fg_breaker_keyed *keyed; /* a family key's view: its hooks and key; else NULL */
    /* Reloads (fg_breaker_reload.c): the newest first, kept until free; the
     * resolver given at creation resolves the new definitions' Custom(). */
    _Atomic(fg_reload_gen *) gens;
    fg_custom_resolver resolve_custom;
    void *resolve_ud;
    /* The counter sink (fg_sink.h), or NULL: set at creation and by
     * fg_breaker_set_sink (on home and every reload's handle); a family
     * key's view has none. sink_state (home's) is the state the sink
     * counts this breaker in, changed under the block's lock. */
    fg_sink *sink;
    /* The tripper's newest answer and the region of counts it holds for
     * (fg_trip_box), checked inline by every evaluation, right after the
     * rest of the tripper memo (fg_breaker_trip_cache), after customs[] in
     * the handle's memory; the pointer is fixed at creation. NULL in a
     * family key's transient view, which uses the block's memo. What it
     * points at is read and written under the block's lock. */
    fg_trip_box *box;
    fg_custom customs[];          /* one per fg_program_custom_name of the tracker */
};

/* The tripper memo's record clock (fg_trip_cache, above). */
static inline uint16_t fg_breaker_trip_clock(const fg_breaker *h) {
    return (uint16_t)h->window.st->counts_version;
}

/* The rest of a plain breaker's tripper memo (h->box not NULL). */
static inline fg_trip_cache *fg_breaker_trip_cache(const fg_breaker *h) {
    return (fg_trip_cache *)((char *)h->box - sizeof(fg_trip_cache));
}

/* Its older region (h->box itself for a tripper that keeps one region). */
static inline fg_trip_box *fg_breaker_trip_older(const fg_breaker *h, const fg_trip_cache *tc) {
    return (fg_trip_box *)((char *)h->box + tc->older_offset);
}

/* ---- the clock ------------------------------------------------------------ */

static inline double fg_breaker_offset(const fg_block *b) {
    uint64_t bits = atomic_load_explicit(&((fg_block *)b)->offset_bits, memory_order_relaxed);
    double d;
    memcpy(&d, &bits, sizeof d);
    return d;
}

/* The block's last raw reading (FG_CLOCK_NO_READING before the first). */
static inline double fg_breaker_last_raw(const fg_block *b) {
    uint64_t bits = atomic_load_explicit(&((fg_block *)b)->last_raw_bits, memory_order_relaxed);
    double d;
    memcpy(&d, &bits, sizeof d);
    return d;
}

/* A reading for a call: the custom clock's (read here, before any lock), or
 * "read the default clock under the lock when needed". */
static inline fg_when fg_breaker_when(fg_breaker *h) {
    fg_when w = {0.0, 0, 0, 0.0};
    if (h->clock_kind == FG_CLOCK_CUSTOM) {
        w.raw = h->clock(h->clock_ud);
        w.have_raw = 1;
    }
    return w;
}

static inline fg_when fg_breaker_when_at(double raw) {
    fg_when w = {raw, 1, 0, 0.0};
    return w;
}

/* ---- reloads -------------------------------------------------------------- */

/* A block a reload has replaced holds this state: a call that finds it
 * follows fg_breaker_live to the new one. Never a public fg_state. */
enum { FG_STATE_MOVED = 7 };

/* The handle a call on h drives (h until a reload; immutable once published). */
static inline fg_breaker *fg_breaker_live(const fg_breaker *h) {
    return atomic_load_explicit(&((fg_breaker *)h)->live, memory_order_acquire);
}

/* Calls admitted and rejected: the live block's counters, plus what reached
 * the blocks that reloads replaced after their counts were carried over
 * (a lock-free admission that read the state just before a reload). */
void fg_breaker_count_admissions(fg_breaker *h, uint64_t *admitted, uint64_t *rejected);

/* The half_open -> closed reason for h's definition ("not <tripper text>"). */
const char *fg_breaker_close_reason_of(const fg_breaker *h);

/* Frees what reloads made (fg_breaker_free). */
void fg_breaker_free_gens(fg_breaker *h);

/* Mends the clock words of a block this process did not make (attached:
 * another process's, a file's): an offset, last time or changed_at that is
 * not a finite time would make every later time NaN or infinite -- a
 * breaker open for good, saying "retry now" at every call. They restart as
 * if the block had had no reading yet. Lock held. */
void fg_breaker_clock_repair_locked(fg_breaker *h);

/* The same for the window's ring position and counts and the half-open
 * bookkeeping and links of an attached block: where they would send a
 * write or a walk outside the block's arrays, or keep a lease from ever
 * expiring, they are reset as after a killed owner (fg_breaker_repair_locked:
 * the window starts counting again, probes in flight come back stale).
 * O(max_half_open_calls). Lock held. */
void fg_breaker_structure_repair_locked(fg_breaker *h);

/* The breaker's time for this call (computed once per call). Lock held:
 * applies the rebasing rule of fg_clock.h. */
double fg_breaker_now_compute_locked(fg_breaker *h, fg_when *w);
static inline double fg_breaker_now_locked(fg_breaker *h, fg_when *w) {
    return w->have_now ? w->now : fg_breaker_now_compute_locked(h, w);
}

/* ---- the block's lock ---------------------------------------------------------- */

/* Mends what an owner killed inside a critical section may have left
 * half-written (fg_breaker_shared.c). Lock held (just taken over). */
void fg_breaker_repair_locked(void *h);

/* Adds to c the counters of the other blocks of h's chain (h->zone_chain:
 * fg_breaker_shared.c), read without their locks. h's lock not held. */
void fg_breaker_zone_counters_add(const fg_breaker *h, fg_counters *c);

/* The tag this process writes into the block's lock. */
static inline uint64_t fg_breaker_tag(const fg_breaker *h) {
    return h->owner != NULL ? fg_lock_owner_get(h->owner) : h->lock_tag;
}

/* Takes the block's lock (repairing the block if its owner died in it).
 * A single-thread breaker's lock is never contended: the owner's tag is
 * stored without a compare-and-swap (an atomic read-modify-write costs
 * some 20 cycles), so that the word still says who holds it. */
static inline void fg_breaker_lock(fg_breaker *h) {
    if (h->single) {
        atomic_store_explicit(&h->block->lock, h->lock_tag, memory_order_relaxed);
        return;
    }
    fg_lock_acquire_repair(&h->block->lock, fg_breaker_tag(h), fg_breaker_repair_locked, h);
}

static inline void fg_breaker_unlock(fg_breaker *h) {
    fg_lock_release(&h->block->lock);
}

/* Takes the lock of the block h's breaker lives in now, following reloads:
 * returns the handle to use (h, or a newer definition's), its block locked.
 * A block moved by another process's handle (a shared block: not supported
 * for reload) is returned locked as it is. */
static inline fg_breaker *fg_breaker_lock_live(fg_breaker *h) {
    for (;;) {
        fg_breaker_lock(h);
        uint64_t word = atomic_load_explicit(&h->block->word, memory_order_relaxed);
        if (fg_block_word_state(word) != (fg_state)FG_STATE_MOVED) return h;
        fg_breaker *next = fg_breaker_live(h->home);
        if (next == h) return h;
        fg_breaker_unlock(h);
        h = next;
    }
}

/* ---- the state machine ------------------------------------------------------ */

/* The view of h's half-open slots over its block. */
static inline fg_half_open fg_breaker_half_open(const fg_breaker *h) {
    return fg_half_open_view(&h->block->half_open, fg_block_at(h->block, h->slots_off),
                             h->slot_capacity, h->def->half_open_lease);
}

/* Takes back the half-open leases that are over at now, and counts them.
 * Lock held. */
static inline void fg_breaker_expire_leases_locked(fg_breaker *h, double now) {
    fg_half_open ho = fg_breaker_half_open(h);
    uint32_t taken = fg_half_open_expire(&ho, now);
    if (taken == 0) return;
    fg_block_counts *c = fg_block_counts_of(h->block);
    if (c != NULL) c->lease_expired += taken;
    if (h->keyed != NULL) h->keyed->hooks->leases_expired(h->keyed->hooks_ud, taken);
    if (h->sink != NULL) fg_sink_add_n(h->sink, FG_SINK_LEASE_EXPIRED, taken);
}

/* Moves the breaker to state `to` at now for `reason` (text that outlives
 * the dispatch: program text, the close reason, or a literal; NULL for the
 * close reason). Does every piece of bookkeeping of SPEC section 5 and
 * fills *out for fg_breaker_dispatch. Lock held. */
void fg_breaker_transition_locked(fg_breaker *h, fg_state to, const char *reason, double now,
                                  fg_pending *out);

/* The text of the tripper's alternative that fired (the whole text when the
 * index is somehow out of range). */
const char *fg_breaker_trip_reason(const fg_breaker *h, uint32_t alternative);

/* Runs the tripper and remembers the answer in the block's memo. Lock held. */
int fg_breaker_trip_run_locked(fg_breaker *h, fg_state state, double now, const char **reason);

/* Evaluates the tripper for `state` on the current window at now; when it
 * fires and reason is not NULL, *reason is the text of the alternative that
 * fired. The program only runs when something it reads has changed since
 * the last evaluation: a tripper that does not read the duration is a pure
 * function of the counts, the state and the consecutive failures, and in a
 * steady window most records change none of them (the memo in the block
 * answers, inline). Lock held. */
/* What the tripper can tell of the consecutive failures: its FailureStreak
 * tests compare them with counts between streak_low and streak_high, so
 * every streak below streak_low looks the same to it (all those tests
 * false: key 0), and so does every streak from streak_high up (all true).
 * The memo keys on this instead of the raw streak, so that a failure that
 * leaves the counts alone (one failure replacing another in the window)
 * does not run the tripper again just because the streak grew from 1 to 2
 * under a FailureStreak(5). Two streaks with the same key answer every
 * FailureStreak test alike: a memo hit is still exact. */
static inline uint32_t fg_breaker_streak_key(const fg_breaker *h, uint32_t streak) {
    if (streak < h->streak_low) return 0;
    return streak < h->streak_high ? streak : h->streak_high;
}

/* The box's answer (fg_trip_box), or the program's (which remakes the box). */
int fg_breaker_trip_box_run_locked(fg_breaker *h, fg_state state, double now, const char **reason);

static inline int fg_breaker_trip_locked(fg_breaker *h, fg_state state, double now,
                                         const char **reason) {
    const fg_block *b = h->block;
    const fg_trip_box *box = h->box;
    if (box != NULL) {
        const fg_window *w = &h->window;
        if (!fg_trip_box_holds(box, fg_window_total_count(w), fg_window_failure_count(w), w->slow,
                               h->window.threshold_count, b->consecutive_failures, state))
            return fg_breaker_trip_box_run_locked(h, state, now, reason);
        if (box->fired && reason != NULL) *reason = fg_breaker_trip_reason(h, box->alternative);
        return box->fired;
    }
    const fg_block_memo *m = &b->memo;
    int same = (m->flags & FG_BLOCK_MEMO_VALID) & (m->counts_version == (uint32_t)b->window.counts_version) &
               (m->consecutive_failures == fg_breaker_streak_key(h, b->consecutive_failures)) &
               (m->state == (uint8_t)state);
    if (!same) return fg_breaker_trip_run_locked(h, state, now, reason);
    int fired = (m->flags & FG_BLOCK_MEMO_FIRED) != 0;
    if (fired && reason != NULL) *reason = fg_breaker_trip_reason(h, m->alternative);
    return fired;
}

/* One draw from the breaker's random source. Lock held. */
double fg_breaker_draw_locked(fg_breaker *h);

/* ---- listeners -------------------------------------------------------------- */

/* Queues a pending transition and, unless another call is already
 * delivering, delivers every queued transition in order (fg_breaker_dispatch.c).
 * Lock NOT held. */
void fg_breaker_deliver(fg_breaker *h, const fg_pending *pending);

static inline void fg_breaker_dispatch(fg_breaker *h, const fg_pending *pending) {
    if (pending->active) fg_breaker_deliver(h->home, pending);
}

/* Whether every transition numbered below `upto` (a value of
 * fg_breaker_dispatch_numbered) has been delivered and no listener still
 * runs on one of them (one may run on a later number): then nothing still
 * reads a key's bytes from a queued transition. */
int fg_breaker_dispatch_idle(fg_breaker *home, uint64_t upto);

/* The delivery numbers home has handed out so far (0 without listeners). */
uint64_t fg_breaker_dispatch_numbered(fg_breaker *home);

/* The next delivery number of d (under the lock of the block whose
 * transition it numbers; atomic: a family's keys number theirs under their
 * own locks, and one key's numbers still follow its sequence numbers). */
uint64_t fg_breaker_dispatch_take_number(fg_dispatch *d);

/* Appends l to h's listener list, whose tail d keeps (d published; the
 * block's lock held). */
void fg_breaker_dispatch_append_listener(fg_breaker *h, fg_dispatch *d, fg_listener *l);

/* A new dispatch queue for h (for its first listener), not yet published
 * in h->dispatch; NULL when out of memory. _discard frees one that was not
 * published, _free the published one. */
fg_dispatch *fg_breaker_dispatch_make(fg_breaker *h);
void fg_breaker_dispatch_discard(fg_breaker *h, fg_dispatch *d);
void fg_breaker_dispatch_free(fg_breaker *h);
/* The half_open -> closed reason ("not <tripper text>"), owned by the queue. */
const char *fg_breaker_close_reason(const fg_breaker *h);
/* Writes "not <text of tripper>" (with the parentheses rule) and its NUL
 * into out; returns the bytes that takes (out NULL: only counts them). */
size_t fg_breaker_close_reason_write(const fg_program *tripper, char *out);

/* ---- counter sinks (fg_sink.c) ------------------------------------------- */

/* Attaches h (a home handle, not yet attached) to sink (NULL: none),
 * counted in `state`; takes a reference. */
void fg_breaker_sink_attach(fg_breaker *h, fg_sink *sink, fg_state state);
/* Takes h's state out of its sink and drops its reference (fg_breaker_free). */
void fg_breaker_sink_detach(fg_breaker *h);

/* ---- views (families) ---------------------------------------------------- */

/* Sets h->box to its place after customs[] in a handle of
 * fg_breaker_handle_footprint bytes (zeroed: the box is empty). */
void fg_breaker_box_attach(fg_breaker *h);

/* Makes the views of h's window and half-open slots over its block for the
 * layout; fresh = 1 also empties them (a new block). */
void fg_breaker_views(fg_breaker *h, const fg_block_layout *layout, int fresh);

/* Makes *view a transient handle that drives `block` (of proto's
 * definition and `layout`) with proto's clock, random source and
 * definition; its transitions are numbered and delivered by proto's
 * listeners (view->home = proto). The view has no Custom() predicates of
 * its own: classify with proto. fresh = 1 initialises the views' arrays
 * (the block is new). Nothing is allocated; the view is valid while proto
 * and block are. */
void fg_breaker_bind(fg_breaker *view, fg_breaker *proto, fg_block *block,
                     const fg_block_layout *layout, int fresh);

/* ---- for tests ------------------------------------------------------------- */

/* fg_breaker_record_at that also returns the record's number: 1, 2, ... in
 * the order the breaker's lock took the record calls (0 when the ticket
 * was not recorded at all). Lets a stress test replay a concurrent run
 * single-threaded in exactly the order the breaker saw it. */
fg_verdict fg_breaker_record_numbered(fg_breaker *h, const fg_ticket *t,
                                      fg_outcome_class outcome_class, double duration, double now,
                                      uint64_t *number);

#endif /* FG_BREAKER_INTERNAL_H */
