/*
 * bench_family.c -- `make bench`: keyed families (fg_family_*).
 *
 *   - creation: 100k and 1M keys of a CountWindow(10), FailureStreak(3)
 *     definition, each made by its first fg_family_get; time per key, and
 *     the bytes per key that passed through the allocator hook (blocks,
 *     index entries, the key bytes, the hash buckets) beside the state
 *     block alone (fg_breaker_footprint) and a plain fg_breaker_new;
 *   - a call on an existing key: fg_family_acquire_at + fg_family_record_at
 *     (lookup, admission, record) against fg_breaker_acquire_at +
 *     fg_breaker_record_at on one plain breaker, same definition, same
 *     outcomes, in the same run (the ratio is what to read).
 */
#include "bench_family.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "bench_alloc.h"
#include "fluxgate.h"

static uint64_t bench_family_ns(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static fg_policy *bench_family_policy(void) {
    fg_expressions e = {.window = "CountWindow(10)", .tripper = "FailureStreak(3)"};
    fg_report *report = NULL;
    fg_policy *p = fg_policy_from_expressions("player", &e, NULL, &report);
    fg_report_free(report);
    if (p == NULL) {
        fprintf(stderr, "bench_family: the CountWindow(10) definition does not compile\n");
        exit(1);
    }
    return p;
}

/* "player:<n>": the keys a game would use. */
static size_t bench_family_key(char *buf, size_t n) {
    return (size_t)snprintf(buf, 32, "player:%zu", n);
}

static void bench_family_create(fg_policy *p, size_t keys) {
    bench_counter c = {0, 0, 0};
    fg_family_options o;
    memset(&o, 0, sizeof o);
    o.breaker.alloc.fn = bench_counting_alloc;
    o.breaker.alloc.ud = &c;
    char err[256];
    fg_family *f = fg_family_new(p, 0, &o, err, sizeof err);
    if (f == NULL) {
        fprintf(stderr, "bench_family: %s\n", err);
        exit(1);
    }
    size_t empty = c.live_bytes, key_bytes = 0;
    char key[32];
    uint64_t start = bench_family_ns();
    for (size_t i = 0; i < keys; i++) {
        size_t len = bench_family_key(key, i);
        key_bytes += len;
        if (fg_family_get(f, key, len, err, sizeof err) != 0) {
            fprintf(stderr, "bench_family: %s\n", err);
            exit(1);
        }
    }
    uint64_t elapsed = bench_family_ns() - start;
    double per_key = (double)(c.live_bytes - empty) / (double)keys;
    double block = (double)fg_breaker_footprint(p, 0);
    printf("family creation, %zu keys (CountWindow(10), FailureStreak(3)): %.0f ns/key  %.1f B/key "
           "through the hook (block %.0f B + %.1f B index and buckets + %.1f B of key; target "
           "<= 64 B beyond the block)\n",
           keys, (double)elapsed / (double)keys, per_key, block,
           per_key - block - (double)key_bytes / (double)keys, (double)key_bytes / (double)keys);
    fg_family_free(f);
}

enum { BENCH_FAMILY_CALLS = 2000000, BENCH_FAMILY_KEYS = 1024 };

static void bench_family_calls(fg_policy *p) {
    char err[256];
    fg_breaker *b = fg_breaker_new(p, 0, NULL, err, sizeof err);
    fg_family *f = fg_family_new(p, 0, NULL, err, sizeof err);
    if (b == NULL || f == NULL) {
        fprintf(stderr, "bench_family: %s\n", err);
        exit(1);
    }
    static char keys[BENCH_FAMILY_KEYS][32];
    static size_t lens[BENCH_FAMILY_KEYS];
    for (size_t i = 0; i < BENCH_FAMILY_KEYS; i++) {
        lens[i] = bench_family_key(keys[i], i);
        fg_family_get(f, keys[i], lens[i], NULL, 0);
    }
    double best_plain = 1e30, best_family = 1e30;
    uint64_t sum = 0;
    for (int round = 0; round < 3; round++) {
        double now = 1.0;
        uint64_t start = bench_family_ns();
        for (int i = 0; i < BENCH_FAMILY_CALLS; i++) {
            fg_ticket t;
            if (fg_breaker_acquire_at(b, now, &t))
                sum += fg_breaker_record_at(b, &t, FG_OUTCOME_SUCCESS, 0.001, now);
            now += 1e-6;
        }
        double plain = (double)(bench_family_ns() - start) / BENCH_FAMILY_CALLS;
        start = bench_family_ns();
        for (int i = 0; i < BENCH_FAMILY_CALLS; i++) {
            size_t k = (size_t)i & (BENCH_FAMILY_KEYS - 1);
            fg_family_ticket t;
            if (fg_family_acquire_at(f, keys[k], lens[k], now, &t, NULL, 0) == 1)
                sum += fg_family_record_at(f, &t, FG_OUTCOME_SUCCESS, 0.001, now);
            now += 1e-6;
        }
        double family = (double)(bench_family_ns() - start) / BENCH_FAMILY_CALLS;
        if (plain < best_plain) best_plain = plain;
        if (family < best_family) best_family = family;
    }
    printf("family call on an existing key (lookup + acquire + record, %d keys, times given): "
           "%.1f ns/call; one plain breaker %.1f ns/call; family/plain ratio: %.2f (checksum %llu)\n",
           BENCH_FAMILY_KEYS, best_family, best_plain, best_family / best_plain,
           (unsigned long long)(sum & 0xff));
    fg_family_free(f);
    fg_breaker_free(b);
}

void bench_family(void) {
    fg_policy *p = bench_family_policy();
    bench_family_create(p, 100000);
    bench_family_create(p, 1000000);
    bench_family_calls(p);
    fg_policy_free(p);
}
