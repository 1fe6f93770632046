/*
 * fg_snapshot.c -- fg_breaker_snapshot and fg_breaker_restore (SPEC section
 * 10): the fixed part of the format of fg_snapshot.h, the checksum, and the
 * order of things (the variable sections are in fg_snapshot_window.c).
 *
 * Decisions, which doc/c-api.md ("Snapshots") documents:
 *   - Both take the block's lock (a restore is atomic for every thread and
 *     every handle of the block). A snapshot reads the breaker's clock, takes
 *     back the leases that are over and advances a TimeWindow first, so it
 *     holds only what still counts.
 *   - A restore validates the whole snapshot before it takes the lock (it is
 *     a pure function of the bytes and the definition) and then applies it,
 *     which cannot fail: hostile bytes leave the breaker exactly as it was.
 *   - A restore is not a transition: listeners hear nothing, and it moves
 *     the generation on to max(the breaker's, the snapshot's) + 1, so every
 *     ticket handed out before the restore -- by this breaker or by the one
 *     the snapshot came from -- is stale: its outcome is counted (success,
 *     failure, stale) but never recorded in the window.
 *   - Half-open leases come back with their remaining lease times, held by
 *     tickets that no longer exist: the "at most max_half_open_calls probes
 *     at once" bound keeps holding for probes that may still be running,
 *     and each such slot is taken back when its lease ends (counted in
 *     lease_expired) -- the mechanism that already frees a lost ticket's
 *     slot, so it cannot wedge the breaker. (Dropping them would admit a
 *     full new batch of probes beside the old ones.)
 *   - The transition sequence, the counters and the PRNG state are the
 *     snapshot's: a restored breaker continues the saved history.
 */
#include "fg_snapshot.h"

#include <float.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>

#include "fg_fnv.h"
#include "fg_snapshot_internal.h"

/* The generation has 64 - FG_BLOCK_STATE_BITS bits; a restore adds one. */
#define FG_SNAP_GENERATION_MAX ((UINT64_C(1) << (64 - FG_BLOCK_STATE_BITS)) - 2)

/* ---- bytes and the checksum ----------------------------------------------------- */

void fg_snap_out_bytes(fg_snap_out *o, const void *data, size_t n) {
    const unsigned char *p = data;
    for (size_t i = 0; i < n; i++) {
        if (o->buf != NULL && o->pos < o->cap) o->buf[o->pos] = p[i];
        o->pos++;
    }
    o->hash = fg_fnv1a(o->hash, data, n);
}

uint64_t fg_snapshot_checksum(const void *data, size_t len) {
    fg_snap_out o = {NULL, 0, 0, FG_FNV1A_INIT};
    fg_snap_out_bytes(&o, data, len);
    return o.hash;
}

void fg_snapshot_reseal(void *data, size_t len) {
    if (len < 8) return;
    fg_snapshot_store((unsigned char *)data + len - 8, 8, fg_snapshot_checksum(data, len - 8));
}

void fg_snapshot_transition_pair(int i, fg_state *from, fg_state *to) {
    static const fg_state manual[4] = {FG_STATE_CLOSED, FG_STATE_DISABLED, FG_STATE_METRICS_ONLY,
                                       FG_STATE_FORCED_OPEN};
    if (i >= 0 && i < 24) {
        *to = manual[i / 6];
        *from = (fg_state)(i % 6);
    } else if (i == 24) {
        *from = FG_STATE_CLOSED;
        *to = FG_STATE_OPEN;
    } else if (i == 25) {
        *from = FG_STATE_HALF_OPEN;
        *to = FG_STATE_OPEN;
    } else {
        *from = FG_STATE_OPEN;
        *to = FG_STATE_HALF_OPEN;
    }
}

/* The block's cell for the format's i-th pair. */
static int fg_snap_transition_cell(int i) {
    fg_state from, to;
    fg_snapshot_transition_pair(i, &from, &to);
    return fg_block_transition_cell(from, to);
}

static size_t fg_snap_name_length(const fg_breaker *h) {
    const char *name = h->def->name != NULL ? h->def->name : "";
    size_t n = strlen(name);
    return n > 255 ? 255 : n;
}

/* ---- snapshot -------------------------------------------------------------------- */

/* Locks the block of h's breaker as it is now and returns the handle whose
 * definition describes that block (a reload may switch definitions until
 * the lock is held). *when is read before the lock, from that handle. */
static fg_breaker *fg_snap_lock(fg_breaker *h, fg_when *when) {
    h = fg_breaker_live(h);
    for (;;) {
        *when = fg_breaker_when(h);
        fg_breaker *locked = fg_breaker_lock_live(h);
        if (locked == h) return h;
        fg_breaker_unlock(locked);
        h = locked;
    }
}

size_t fg_breaker_snapshot(fg_breaker *h, void *buf, size_t cap) {
    fg_when when;
    h = fg_snap_lock(h, &when);
    fg_block *b = h->block;
    const fg_window *w = &h->window;
    size_t name_length = fg_snap_name_length(h);
    uint64_t fingerprint = fg_block_definition_fingerprint(h->def);
    fg_snap_out o = {buf, buf != NULL ? cap : 0, 0, FG_FNV1A_INIT};
    double now = fg_breaker_now_locked(h, &when);
    fg_breaker_expire_leases_locked(h, now);
    fg_window_advance(&h->window, now);
    uint32_t entries = fg_snap_window_count(h), leases = fg_snap_lease_count(h);
    size_t total = FG_SNAP_FIXED + name_length + 4 + entries * fg_snap_window_entry_bytes(h) + 4 +
                   (size_t)leases * 8 + 8;
    uint64_t word = atomic_load_explicit(&b->word, memory_order_relaxed);
    double changed_rel = b->changed_at - now;
    /* never after now (the block's time only goes forward) nor absurdly far back */
    if (!(changed_rel <= 0.0)) changed_rel = 0.0;
    if (changed_rel < -FG_SNAPSHOT_TIME_LIMIT) changed_rel = -FG_SNAPSHOT_TIME_LIMIT;

    fg_snap_out_u(&o, FG_SNAPSHOT_MAGIC, 4);
    fg_snap_out_u(&o, FG_SNAPSHOT_VERSION, 2);
    fg_snap_out_u(&o, FG_SNAP_FIXED, 2);
    fg_snap_out_u(&o, (uint32_t)total, 4);
    fg_snap_out_u(&o, w->size, 4);
    fg_snap_out_u(&o, fingerprint, 8);
    fg_snap_out_u(&o, h->slot_capacity, 4);
    fg_snap_out_u(&o, w->kind, 1);
    fg_snap_out_u(&o, w->threshold_count, 1);
    fg_snap_out_u(&o, w->exact, 1);
    fg_snap_out_u(&o, name_length, 1);
    fg_snap_out_u(&o, (uint64_t)fg_block_word_state(word), 4);
    fg_snap_out_u(&o, b->reopens, 4);
    fg_snap_out_u(&o, fg_block_word_generation(word), 8);
    fg_snap_out_u(&o, b->sequence, 8);
    fg_snap_out_u(&o, b->consecutive_failures, 4);
    fg_snap_out_u(&o, fg_block_counted(b) ? 0u : (uint64_t)FG_SNAPSHOT_NO_COUNTERS, 4); /* flags */
    fg_snap_out_f64(&o, changed_rel);
    fg_snap_out_f64(&o, fg_block_retry_factor(b, &h->def->retry));
    fg_snap_out_u(&o, b->random, 8);
    fg_snap_out_u(&o, FG_SNAPSHOT_RANDOM_TAG, 8);
    fg_snap_out_u(&o, 0, 8);
    fg_snap_out_u(&o, 0, 8);
    /* the breaker's own counters; zeros for one that counts only into its
     * sink (it has none of its own) */
    uint64_t admitted = 0, rejected = 0;
    fg_breaker_count_admissions(h, &admitted, &rejected);
    const fg_block_counts none = {0}, *c = fg_block_counts_of(b) != NULL ? fg_block_counts_of(b) : &none;
    const uint64_t counters[FG_SNAPSHOT_COUNTERS] = {c->success, c->failure, c->ignored, c->stale,
                                                     c->success + c->failure + c->ignored, admitted,   rejected,   c->lease_expired};
    for (int i = 0; i < FG_SNAPSHOT_COUNTERS; i++) fg_snap_out_u(&o, counters[i], 8);
    for (int i = 0; i < FG_SNAPSHOT_TRANSITION_PAIRS; i++) fg_snap_out_u(&o, fg_block_transitions_get(c, fg_snap_transition_cell(i)), 8);
    fg_snap_out_bytes(&o, h->def->name != NULL ? h->def->name : "", name_length);
    fg_snap_write_window(h, &o, now);
    fg_snap_write_leases(h, &o, now, changed_rel);
    fg_breaker_unlock(h);

    fg_snap_out_u(&o, o.hash, 8);
    return o.pos;
}

/* ---- restore: checking ------------------------------------------------------------- */

/* The fixed part, as read. */
typedef struct fg_snap_fixed {
    fg_state state;
    uint32_t reopens;
    uint64_t generation;
    uint64_t sequence;
    uint32_t consecutive_failures;
    uint32_t flags;   /* FG_SNAPSHOT_NO_COUNTERS */
    double changed_rel;
    double retry_factor;
    uint64_t random[4];
    uint64_t counters[FG_SNAPSHOT_COUNTERS];
    uint64_t transitions[FG_SNAPSHOT_TRANSITION_PAIRS];
    size_t window_at; /* offset of the window section */
    size_t leases_at; /* offset of the lease section */
} fg_snap_fixed;

__attribute__((format(printf, 3, 4)))
static const char *fg_snap_fail(char *why, size_t cap, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(why, cap, fmt, ap);
    va_end(ap);
    return why;
}

/* A name from the bytes, printable (for messages). */
static void fg_snap_printable(char *out, size_t cap, const unsigned char *s, size_t n) {
    size_t j = 0;
    for (size_t i = 0; i < n && j + 1 < cap; i++) out[j++] = s[i] >= 32 && s[i] < 127 ? (char)s[i] : '?';
    out[j] = '\0';
}

/* The envelope: magic, version, length, checksum, definition, shape. */
static const char *fg_snap_check_envelope(const fg_breaker *h, const unsigned char *d, size_t len,
                                          char *why, size_t cap) {
    if (d == NULL || len < 4 || fg_snapshot_load(d, 4) != FG_SNAPSHOT_MAGIC)
        return fg_snap_fail(why, cap, "not a fluxgate breaker snapshot");
    if (len < 6) return fg_snap_fail(why, cap, "the snapshot is truncated (%zu bytes)", len);
    uint64_t version = fg_snapshot_load(d + FG_SNAP_OFF_VERSION, 2);
    if (version != FG_SNAPSHOT_VERSION)
        return fg_snap_fail(why, cap, "snapshot format version %u is not supported (this fluxgate reads version %d)",
                            (unsigned)version, FG_SNAPSHOT_VERSION);
    if (len < FG_SNAP_MIN)
        return fg_snap_fail(why, cap, "the snapshot is truncated (%zu bytes; the smallest is %d)", len, FG_SNAP_MIN);
    uint64_t length = fg_snapshot_load(d + FG_SNAP_OFF_LENGTH, 4);
    if (length != len)
        return fg_snap_fail(why, cap, "the snapshot is %s (%zu bytes, its header says %u)",
                            len < length ? "truncated" : "too long", len, (unsigned)length);
    uint64_t stored = fg_snapshot_load(d + len - 8, 8), computed = fg_snapshot_checksum(d, len - 8);
    if (stored != computed) return fg_snap_fail(why, cap, "the snapshot is corrupted (its checksum does not match)");
    if (fg_snapshot_load(d + FG_SNAP_OFF_FIXED_BYTES, 2) != FG_SNAP_FIXED)
        return fg_snap_fail(why, cap, "the snapshot's header is malformed");
    uint64_t theirs = fg_snapshot_load(d + FG_SNAP_OFF_FINGERPRINT, 8);
    uint64_t ours = fg_block_definition_fingerprint(h->def);
    if (theirs != ours) {
        char name[80];
        size_t n = fg_snapshot_load(d + FG_SNAP_OFF_NAME_LENGTH, 1);
        fg_snap_printable(name, sizeof name, d + FG_SNAP_FIXED, n <= len - FG_SNAP_MIN ? n : 0);
        return fg_snap_fail(why, cap,
                            "the snapshot is of breaker '%s' with definition %016llx; breaker '%s' has "
                            "another definition (%016llx)",
                            name, (unsigned long long)theirs, h->def->name != NULL ? h->def->name : "",
                            (unsigned long long)ours);
    }
    const fg_window *w = &h->window;
    if (fg_snapshot_load(d + FG_SNAP_OFF_WINDOW_SIZE, 4) != w->size ||
        fg_snapshot_load(d + FG_SNAP_OFF_SLOT_CAPACITY, 4) != h->slot_capacity ||
        d[FG_SNAP_OFF_WINDOW_KIND] != w->kind || d[FG_SNAP_OFF_THRESHOLDS] != w->threshold_count ||
        d[FG_SNAP_OFF_EXACT] != w->exact)
        return fg_snap_fail(why, cap, "the snapshot's window or slots do not match its definition");
    return NULL;
}

/* The state and its bookkeeping: every enum in range, the counts that must
 * agree agreeing, every time finite and within range. */
static const char *fg_snap_check_counts(const fg_snap_fixed *f, char *why, size_t cap);

/* A snapshot of a breaker without counters of its own: every counter zero. */
static const char *fg_snap_check_no_counters(const fg_snap_fixed *f, char *why, size_t cap) {
    uint64_t any = 0;
    for (int i = 0; i < FG_SNAPSHOT_COUNTERS; i++) any |= f->counters[i];
    for (int i = 0; i < FG_SNAPSHOT_TRANSITION_PAIRS; i++) any |= f->transitions[i];
    return any != 0 ? fg_snap_fail(why, cap, "the snapshot says it has no counters, yet counts") : NULL;
}

static const char *fg_snap_check_state(const fg_snap_fixed *f, uint32_t state, char *why, size_t cap) {
    if (state >= FG_STATE_COUNT) return fg_snap_fail(why, cap, "the snapshot's state %u is not a state", state);
    if ((f->flags & ~(uint32_t)FG_SNAPSHOT_NO_COUNTERS) != 0)
        return fg_snap_fail(why, cap, "the snapshot has flags this version does not know (0x%x)", (unsigned)f->flags);
    if (f->generation > FG_SNAP_GENERATION_MAX)
        return fg_snap_fail(why, cap, "the snapshot's generation is out of range");
    if (f->flags & FG_SNAPSHOT_NO_COUNTERS) {
        const char *bad = fg_snap_check_no_counters(f, why, cap);
        if (bad != NULL) return bad;
    } else {
        const char *bad = fg_snap_check_counts(f, why, cap);
        if (bad != NULL) return bad;
    }
    if (f->state == FG_STATE_CLOSED && f->reopens != 0)
        return fg_snap_fail(why, cap, "a closed breaker has no reopens, the snapshot has %u", f->reopens);
    if (!(f->changed_rel <= 0.0 && f->changed_rel >= -FG_SNAPSHOT_TIME_LIMIT))
        return fg_snap_fail(why, cap, "the snapshot's time of the last transition is impossible (%.17g s from now)",
                            f->changed_rel);
    /* 1 + U(-j, j) with j in [0, 1) */
    if (!(f->retry_factor > 0.0 && f->retry_factor < 2.0))
        return fg_snap_fail(why, cap, "the snapshot's retry jitter factor %.17g is impossible", f->retry_factor);
    if ((f->random[0] | f->random[1] | f->random[2] | f->random[3]) == 0)
        return fg_snap_fail(why, cap, "the snapshot's random generator state is all zero");
    return NULL;
}

/* The counters of a breaker that keeps its own: consistent with its state
 * and sequence. */
static const char *fg_snap_check_counts(const fg_snap_fixed *f, char *why, size_t cap) {
    uint64_t sum = 0, into = 0;
    for (int i = 0; i < FG_SNAPSHOT_TRANSITION_PAIRS; i++) {
        fg_state from, to;
        fg_snapshot_transition_pair(i, &from, &to);
        if (sum + f->transitions[i] < sum) return fg_snap_fail(why, cap, "the snapshot's transition counts overflow");
        sum += f->transitions[i];
        if (to == f->state) into += f->transitions[i];
    }
    /* equal, unless a manual command's counter has saturated (fg_block.h) */
    if (sum > f->sequence)
        return fg_snap_fail(why, cap, "the snapshot counts %llu transitions but numbers the latest %llu",
                            (unsigned long long)sum, (unsigned long long)f->sequence);
    if (f->sequence == 0 ? f->state != FG_STATE_CLOSED : into == 0)
        return fg_snap_fail(why, cap, "the snapshot's state %s was never entered", fg_state_name(f->state));
    /* record calls: each one counted once as a success, failure or ignored */
    uint64_t c = f->counters[0] + f->counters[1];
    if (c < f->counters[0] || c + f->counters[2] < c || c + f->counters[2] != f->counters[4])
        return fg_snap_fail(why, cap, "the snapshot's record count is not its successes, failures and ignored calls");
    return NULL;
}

/* Reads and checks everything; fills *f. NULL, or what is wrong. */
static const char *fg_snap_check(const fg_breaker *h, const unsigned char *d, size_t len,
                                 fg_snap_fixed *f, char *why, size_t cap) {
    const char *bad = fg_snap_check_envelope(h, d, len, why, cap);
    if (bad != NULL) return bad;
    fg_snap_in in = {d, len - 8, FG_SNAP_OFF_STATE};
    uint32_t state = (uint32_t)fg_snap_in_u(&in, 4);
    f->state = state < FG_STATE_COUNT ? (fg_state)state : FG_STATE_CLOSED;
    f->reopens = (uint32_t)fg_snap_in_u(&in, 4);
    f->generation = fg_snap_in_u(&in, 8);
    f->sequence = fg_snap_in_u(&in, 8);
    f->consecutive_failures = (uint32_t)fg_snap_in_u(&in, 4);
    f->flags = (uint32_t)fg_snap_in_u(&in, 4);
    f->changed_rel = fg_snap_in_f64(&in);
    f->retry_factor = fg_snap_in_f64(&in);
    for (int i = 0; i < 4; i++) f->random[i] = fg_snap_in_u(&in, 8);
    for (int i = 0; i < FG_SNAPSHOT_COUNTERS; i++) f->counters[i] = fg_snap_in_u(&in, 8);
    for (int i = 0; i < FG_SNAPSHOT_TRANSITION_PAIRS; i++) f->transitions[i] = fg_snap_in_u(&in, 8);
    bad = fg_snap_check_state(f, state, why, cap);
    if (bad != NULL) return bad;
    /* 1 + U(-j, j) as this definition's retry draws it (exactly 1 without
     * jitter), the range a reload clamps into too (fg_breaker_reload.c):
     * any other factor stretches or shortens the open period's wait */
    double j = h->def->retry.jitter_ratio > 0.0 ? h->def->retry.jitter_ratio : 0.0;
    if (!(f->retry_factor >= 1.0 - j && f->retry_factor <= 1.0 + j))
        return fg_snap_fail(why, cap,
                            "the snapshot's retry jitter factor %.17g is impossible for a jitter "
                            "ratio of %g",
                            f->retry_factor, j);
    size_t name_length = d[FG_SNAP_OFF_NAME_LENGTH];
    if (!fg_snap_in_has(&in, name_length)) return fg_snap_fail(why, cap, "the snapshot's name is cut short");
    in.pos += name_length;
    f->window_at = in.pos;
    bad = fg_snap_check_window(h, &in, f->state, why, cap);
    if (bad != NULL) return bad;
    f->leases_at = in.pos;
    bad = fg_snap_check_leases(h, &in, f->state, f->changed_rel, why, cap);
    if (bad != NULL) return bad;
    if (in.pos != in.end) return fg_snap_fail(why, cap, "the snapshot has %zu bytes too many", in.end - in.pos);
    return NULL;
}

/* ---- restore: applying ------------------------------------------------------------ */

/* Sets an admission counter to `value`, keeping the increments of
 * lock-free admissions that race with it. */
static void fg_snap_set_admissions(_Atomic uint64_t *a, uint64_t value) {
    uint64_t now = atomic_load_explicit(a, memory_order_relaxed);
    atomic_fetch_add_explicit(a, value - now, memory_order_relaxed); /* modulo 2^64 */
}

/* The generator's state from the format's four words (fg_snapshot.h): a
 * tagged one-word state as it is, an older 256-bit one folded. */
static uint64_t fg_snap_random_state(const uint64_t r[4]) {
    if (r[1] == FG_SNAPSHOT_RANDOM_TAG && r[2] == 0 && r[3] == 0) return r[0];
    return fg_random_fold(r);
}

static void fg_snap_apply(fg_breaker *h, const unsigned char *d, const fg_snap_fixed *f, double now) {
    fg_block *b = h->block;
    uint64_t word = atomic_load_explicit(&b->word, memory_order_relaxed);
    uint64_t generation = fg_block_word_generation(word);
    if (f->generation > generation) generation = f->generation;
    b->changed_at = now + f->changed_rel;
    fg_block_set_retry_factor(b, &h->def->retry, f->retry_factor);
    b->reopens = f->reopens;
    b->consecutive_failures = f->consecutive_failures;
    b->sequence = f->sequence;
    b->random = fg_snap_random_state(f->random);
    /* a breaker that counts only into its sink restores no counters (the
     * sink's never decrease), nor does a snapshot of one set any */
    fg_block_counts *c = fg_block_counts_of(b);
    if (c != NULL && !(f->flags & FG_SNAPSHOT_NO_COUNTERS)) {
        c->success = f->counters[0];
        c->failure = f->counters[1];
        c->ignored = f->counters[2];
        c->stale = f->counters[3];
        fg_snap_set_admissions(&c->admissions.admitted, f->counters[5]);
        fg_snap_set_admissions(&c->admissions.rejected, f->counters[6]);
        for (int i = 0; i < FG_SNAPSHOT_TRANSITION_PAIRS; i++)
            fg_block_transitions_set(c, fg_snap_transition_cell(i), f->transitions[i]);
        c->lease_expired = f->counters[7];
    }
    fg_snap_apply_window(h, d, f->window_at, now);
    fg_snap_apply_leases(h, d, f->leases_at, now);
    b->memo.flags = 0; /* the tripper runs again on the restored window */
    /* Last: a lock-free admission that sees the new word sees the rest. */
    atomic_store_explicit(&b->word, fg_block_word(f->state, generation + 1), memory_order_release);
    /* not a transition, but the breaker is counted in another state */
    if (h->sink != NULL) fg_sink_state_move(h->sink, &h->home->sink_state, f->state);
}

int fg_breaker_restore(fg_breaker *h, const void *data, size_t len, char *err, size_t err_cap) {
    if (err != NULL && err_cap > 0) err[0] = '\0';
    fg_snap_fixed f;
    char why[320];
    h = fg_breaker_live(h);
    /* A shared block's counters are the instance's: every process reads
     * them (Prometheus), and a restore would set them back to the
     * snapshot's, while counters never decrease (SPEC section 10). Keeping
     * them instead would leave the restored state beside transition counts
     * that never entered it (a snapshot no restore takes). */
    if (h->owner != NULL) {
        if (err != NULL && err_cap > 0)
            snprintf(err, err_cap, "cannot restore: the breaker's state block is shared with other "
                                   "processes (a shared breaker), whose counters never go back; "
                                   "nothing changed");
        return -1;
    }
    for (;;) {
        /* checked against the definition that will be locked: a reload in
         * between means checking again, against the new one */
        memset(&f, 0, sizeof f);
        const char *bad = fg_snap_check(h, data, len, &f, why, sizeof why);
        if (bad != NULL) {
            if (err != NULL && err_cap > 0) snprintf(err, err_cap, "cannot restore: %s", bad);
            return -1;
        }
        fg_when when = fg_breaker_when(h);
        fg_breaker *locked = fg_breaker_lock_live(h);
        if (locked != h) {
            fg_breaker_unlock(locked);
            h = locked;
            continue;
        }
        double now = fg_breaker_now_locked(h, &when);
        fg_snap_apply(h, data, &f, now);
        fg_breaker_unlock(h);
        return 0;
    }
}
