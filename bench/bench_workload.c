/*
 * bench_workload.c -- the deterministic call mix and the timing helpers shared
 * by the benchmarks (see bench_workload.h).
 */
#include "bench_workload.h"

#include <string.h>
#include <time.h>

/* xorshift64*: a fixed, portable sequence (rand() differs between libcs). */
static uint64_t bench_next(uint64_t *state) {
    uint64_t x = *state;
    x ^= x >> 12;
    x ^= x << 25;
    x ^= x >> 27;
    *state = x;
    return x * 2685821657736338717ULL;
}

/* Uniform in [0, 1). */
static double bench_uniform(uint64_t *state) {
    return (double)(bench_next(state) >> 11) * (1.0 / 9007199254740992.0);
}

static fg_outcome bench_result(int64_t status) {
    fg_outcome o;
    memset(&o, 0, sizeof o);
    o.has_status = 1;
    o.status = status;
    return o;
}

static fg_outcome bench_error(const char *type) {
    fg_outcome o;
    memset(&o, 0, sizeof o);
    o.is_error = 1;
    o.type = type;
    o.type_len = strlen(type);
    o.message = "upstream call failed";
    o.message_len = strlen(o.message);
    return o;
}

void bench_workload_fill(bench_call *mix) {
    uint64_t state = 0x9E3779B97F4A7C15ULL;
    int streak = 0;
    for (size_t i = 0; i < BENCH_MIX_SIZE; i++) {
        double p = bench_uniform(&state);
        double jitter = bench_uniform(&state);
        bench_call c;
        if (p < 0.03) {
            c.outcome = bench_error("timeout");                 /* tracked, 3% */
            c.duration = 0;
        } else if (p < 0.04) {
            c.outcome = bench_error("connection refused");      /* tracked, 1% */
            c.duration = 0;
        } else if (p < 0.05) {
            c.outcome = bench_result(503);                      /* tracked result, 1% */
            c.duration = 0.01 + 0.02 * jitter;
        } else if (p < 0.06) {
            c.outcome = bench_error("cancelled");               /* untracked, 1% */
            c.duration = 0.05;
        } else if (p < 0.14) {
            c.outcome = bench_result(200);                      /* slow success, 8% */
            c.duration = 2.0 + jitter;
        } else {
            c.outcome = bench_result(200);                      /* fast success */
            c.duration = 0.01 + 0.2 * jitter;
        }
        /* Keep the mix from tripping FailureStreak(5): a benchmark of the closed path. */
        int failure = p < 0.05;
        streak = failure ? streak + 1 : (p < 0.06 ? streak : 0);
        if (streak >= 4) {
            c.outcome = bench_result(200);
            c.duration = 0.05;
            streak = 0;
        }
        mix[i] = c;
    }
}

void bench_workload_fill_alternating(bench_call *mix) {
    for (size_t i = 0; i < BENCH_MIX_SIZE; i++) {
        if ((i % 101) % 2 == 1) {
            mix[i].outcome = bench_error("timeout");
            mix[i].duration = 0;
        } else {
            mix[i].outcome = bench_result(200);
            mix[i].duration = 0.05;
        }
    }
}

void bench_workload_fill_no_failures(bench_call *mix) {
    bench_workload_fill(mix);
    for (size_t i = 0; i < BENCH_MIX_SIZE; i++) {
        const fg_outcome *o = &mix[i].outcome;
        int tracked = (o->is_error && strcmp(o->type, "cancelled") != 0) || (o->has_status && o->status >= 500);
        if (tracked) {
            mix[i].outcome = bench_result(200);
            mix[i].duration = 0.05;
        }
    }
}

uint64_t bench_now_ns(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec;
}
