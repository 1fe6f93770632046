/*
 * fuzz_snapshot.c -- libFuzzer harness for fg_breaker_restore (SPEC section 10).
 *
 * The property: no bytes, however hostile, crash the restore, trip a
 * sanitizer or hang it; bytes it refuses leave the breaker as it was; bytes
 * it accepts make a breaker that works and whose own snapshot restores
 * again (what restore accepts, snapshot can say). Three breakers cover the
 * window storages (CountWindow of 32-bit entries, of exact durations, a
 * TimeWindow with thresholds); a fourth has 300 half-open slots (16-bit
 * links) on a 100 ms lease. The first byte picks the breaker and a mode:
 *   even: the rest of the input is restored as it is (the checksum stops
 *         almost everything, which is itself tested);
 *   odd:  the rest is a script: a few bytes drive a breaker through calls,
 *         commands and clock steps, its snapshot is taken, and the remaining
 *         bytes are (offset, value) patches applied to it before the length
 *         and checksum are recomputed -- so the fuzzer reaches the
 *         structural checks behind the checksum.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "fg_snapshot.h"
#include "fluxgate.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static double fuzz_clock(void *ud) {
    return *(double *)ud;
}

static const fg_expressions fuzz_defs[4] = {
    {.window = "CountWindow(6)",
     .tripper = "FailureStreak(3) | MinRequests(3) & SlowRate(50%, threshold = 1s)",
     .retry = "Cooldown(2s, jitter_ratio = 0.4)", .permit = "Random(0.7)",
     .max_half_open_calls = "3", .half_open_lease = "5s"},
    {.window = "CountWindow(4)", .tripper = "FailureStreak(2) | MinRequests(2) & AvgLatency(500ms)",
     .retry = "Backoff(1s, multiplier = 2, max_duration = 8s)", .permit = "All()",
     .max_half_open_calls = "2", .half_open_lease = "3s"},
    {.window = "TimeWindow(5)",
     .tripper = "FailureStreak(3) | MinRequests(2) & (SlowRate(50%, threshold = 1s) | SlowRate(20%, threshold = 2s))",
     .retry = "Cooldown(1s)", .permit = "RampUp(initial = 30%, final = 100%, duration = 3s)",
     .max_half_open_calls = "2", .half_open_lease = "4s"},
    /* half-open slots with 16-bit links (over 256) and 2^-32 s lease ticks */
    {.window = "CountWindow(3)", .tripper = "FailureStreak(1) | HalfOpened()", .retry = "Always()",
     .permit = "All()", .max_half_open_calls = "300", .half_open_lease = "100ms"},
};

/* max_half_open_calls of each */
static const uint32_t fuzz_slots[4] = {3, 2, 2, 300};

typedef struct fuzz_breaker {
    fg_policy *policy;
    fg_breaker *b;
    double now;
} fuzz_breaker;

static void fuzz_open(fuzz_breaker *f, int which, double now) {
    f->policy = fg_policy_from_expressions("fuzz", &fuzz_defs[which], NULL, NULL);
    if (f->policy == NULL) abort();
    f->now = now;
    fg_breaker_options o;
    memset(&o, 0, sizeof o);
    o.clock = fuzz_clock;
    o.clock_ud = &f->now;
    o.has_seed = 1;
    o.seed = 7;
    f->b = fg_breaker_new(f->policy, 0, &o, NULL, 0);
    if (f->b == NULL) abort();
}

static void fuzz_close(fuzz_breaker *f) {
    fg_breaker_free(f->b);
    fg_policy_free(f->policy);
}

/* One scripted step: calls, held tickets, commands, clock steps. */
static void fuzz_step(fuzz_breaker *f, uint8_t op, fg_ticket *held, int *held_n) {
    fg_ticket t;
    switch (op % 8) {
    case 0: f->now += (op >> 3) * 0.125; break;
    case 1:
    case 2:
        if (fg_breaker_acquire(f->b, &t)) {
            f->now += (op >> 4) * 0.25;
            fg_breaker_record(f->b, &t, op % 8 == 2, -1);
        }
        break;
    case 3:
        if (*held_n < 4 && fg_breaker_acquire(f->b, &t)) held[(*held_n)++] = t;
        break;
    case 4:
        if (*held_n > 0) fg_breaker_record(f->b, &held[--*held_n], (op >> 3) & 1, (op >> 4) * 0.5);
        break;
    case 5: (void)fg_breaker_acquire(f->b, &t); break; /* a lost ticket */
    case 6:
        switch ((op >> 3) % 8) {
        case 0: fg_breaker_force_open(f->b); break;
        case 1: fg_breaker_disable(f->b); break;
        case 2: fg_breaker_metrics_only(f->b); break;
        case 3: fg_breaker_reset(f->b); break;
        default: break;
        }
        break;
    default: f->now += (op >> 3) * 3.0; break;
    }
}

/* A breaker that restored something must work, and its snapshot must
 * restore into a fresh breaker of the same definition. */
static void fuzz_check_accepted(fuzz_breaker *f, int which) {
    fg_info info;
    fg_breaker_info(f->b, &info);
    if (info.metric.failure_count > info.metric.total_count) abort();
    if (info.half_open_in_flight > fuzz_slots[which]) abort();
    fg_ticket held[4];
    int held_n = 0;
    for (uint8_t op = 0; op < 40; op++) fuzz_step(f, (uint8_t)(op * 37 + 1), held, &held_n);
    size_t n = fg_breaker_snapshot(f->b, NULL, 0);
    uint8_t *s = malloc(n);
    if (s == NULL || fg_breaker_snapshot(f->b, s, n) != n) abort();
    fuzz_breaker g;
    fuzz_open(&g, which, 1e6);
    char err[300];
    if (fg_breaker_restore(g.b, s, n, err, sizeof err) != 0) abort();
    free(s);
    fuzz_close(&g);
}

/* Restores bytes; a refusal must change nothing (the snapshots before and
 * after are the same bytes). */
static void fuzz_restore(fuzz_breaker *f, int which, const uint8_t *bytes, size_t len) {
    size_t n0 = fg_breaker_snapshot(f->b, NULL, 0);
    uint8_t *before = malloc(n0);
    if (before == NULL || fg_breaker_snapshot(f->b, before, n0) != n0) abort();
    char err[300];
    if (fg_breaker_restore(f->b, bytes, len, err, sizeof err) == 0) {
        fuzz_check_accepted(f, which);
    } else {
        if (err[0] == '\0') abort(); /* a refusal always says why */
        size_t n1 = fg_breaker_snapshot(f->b, NULL, 0);
        uint8_t *after = malloc(n1 > 0 ? n1 : 1);
        if (after == NULL || fg_breaker_snapshot(f->b, after, n1) != n1) abort();
        if (n1 != n0 || memcmp(before, after, n0) != 0) abort();
        free(after);
    }
    free(before);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (size < 1) return 0;
    int which = (data[0] >> 1) % 4;
    fuzz_breaker victim;
    fuzz_open(&victim, which, 500.0);
    if (!(data[0] & 1)) {
        fuzz_restore(&victim, which, data + 1, size - 1);
        fuzz_close(&victim);
        return 0;
    }
    /* script: n steps, then (offset u16, value u8) patches */
    size_t steps = size > 1 ? data[1] % 64 : 0, at = 2;
    fuzz_breaker source;
    fuzz_open(&source, which, 1000.0);
    fg_ticket held[4];
    int held_n = 0;
    for (size_t i = 0; i < steps && at < size; i++) fuzz_step(&source, data[at++], held, &held_n);
    size_t n = fg_breaker_snapshot(source.b, NULL, 0);
    uint8_t *s = malloc(n + 64);
    if (s == NULL || fg_breaker_snapshot(source.b, s, n) != n) abort();
    size_t len = n;
    for (; at + 2 < size; at += 3) {
        size_t off = ((size_t)data[at] | (size_t)data[at + 1] << 8);
        uint8_t value = data[at + 2];
        if (off == 0xFFFF) { /* grow or shrink by value - 32 bytes before the checksum */
            int delta = (int)value - 32;
            if (delta > 0 && len + (size_t)delta <= n + 64) {
                memmove(s + len - 8 + delta, s + len - 8, 8);
                memset(s + len - 8, 0, (size_t)delta);
                len += (size_t)delta;
            } else if (delta < 0 && len >= 8 + (size_t)-delta + 16) {
                memmove(s + len - 8 + delta, s + len - 8, 8);
                len -= (size_t)-delta;
            }
            continue;
        }
        if (len > 8) s[off % (len - 8)] = value;
    }
    if (len >= 12) fg_snapshot_store(s + FG_SNAP_OFF_LENGTH, 4, len);
    fg_snapshot_reseal(s, len);
    fuzz_restore(&victim, which, s, len);
    free(s);
    fuzz_close(&source);
    fuzz_close(&victim);
    return 0;
}
