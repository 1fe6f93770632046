/*
 * fg_hot_paths.c -- a driver for instruction counts of the engine's hot
 * paths under callgrind (bench/callgrind/run.sh). Not part of `make bench`
 * (bench/*.c are): timings on a shared VM are noisy, instruction counts are
 * not, so optimisations of the hot path are compared with these.
 *
 * Each case runs N calls inside a noinline function named fg_hot_<case>;
 * callgrind --toggle-collect=fg_hot_<case> counts only those, and run.sh
 * divides by N. Cases:
 *   given       payment_api, payment mix, acquire_at + classify + record_at
 *   alternating payment_api, fast 200s and timeouts alternating: the counts
 *               change on almost every record (inside the memo's region)
 *   clock       payment_api, payment mix, default clock: acquire + release(-1)
 *   timewindow  TimeWindow(10), MinRequests(20) & FailureRate(51%), all
 *               successes, default clock: acquire + release (issue 9's rule)
 *   family      CountWindow(10), FailureStreak(3) family of 1024 keys:
 *               acquire_at + record_at on existing keys
 *   sinkmt      `given` with a counter sink (fg_sink_new flags 0: atomic adds)
 *   sinkst      `given` with an FG_SINK_SINGLE_THREAD sink (the Lua binding's)
 *   threshold   payment_api with BENCH_THRESHOLD_TRIPPER (bench_baseline.h)
 *               on the alternating mix: the failure rate crosses 50% on most
 *               records behind a SlowRate that stays false (the memo's
 *               region leaves the failure rate out)
 *   flapping    the same with BENCH_FLAPPING_TRIPPER (bench_baseline.h),
 *               where the failure rate decides which SlowRate is read: the
 *               counts move between two regions on most records (the
 *               newest misses on about half, the older one answers)
 *   base_given, base_alternating, base_threshold, base_flapping
 *               the hand-written breaker (bench/bench_baseline.c) on the
 *               same loops: the exact ratio of the engine's instructions
 *               to the baseline's
 * Under valgrind glibc cannot register rseq, so the CPU number comes from
 * sched_getcpu (a syscall there): counts include that fallback's user-side
 * instructions, identically before and after a change.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bench_baseline.h"
#include "bench_workload.h"
#include "fg_payment_policy.h"
#include "fluxgate.h"

/* A policy from text, or exit status 2. */
static fg_policy *compile_text(const char *text, size_t len, const char *chunk) {
    fg_report *r = NULL;
    fg_policy *p = fg_policy_compile(text, len, chunk, NULL, &r);
    fg_report_free(r);
    if (p == NULL) exit(2);
    return p;
}

static fg_policy *compile_payment(void) {
    return compile_text(fg_payment_policy, sizeof fg_payment_policy - 1, "payment.fgp");
}

/* One breaker called name from expressions, or exit status 2. */
static fg_policy *compile_expressions(const char *name, fg_expressions e) {
    fg_report *r = NULL;
    fg_policy *p = fg_policy_from_expressions(name, &e, NULL, &r);
    fg_report_free(r);
    if (p == NULL) exit(2);
    return p;
}

static fg_breaker *make(fg_policy *p) {
    char err[256];
    fg_breaker *b = fg_breaker_new(p, 0, NULL, err, sizeof err);
    if (b == NULL) {
        fprintf(stderr, "%s\n", err);
        exit(2);
    }
    return b;
}

static volatile uint64_t sink;

__attribute__((noinline)) static void fg_hot_given(fg_breaker *b, const bench_call *mix, long n) {
    double t = 1000.0;
    uint64_t sum = 0;
    for (long i = 0; i < n; i++) {
        const bench_call *c = &mix[i & (BENCH_MIX_SIZE - 1)];
        fg_ticket ticket;
        t += 0.001;
        if (fg_breaker_acquire_at(b, t, &ticket))
            sum += (uint64_t)fg_breaker_record_at(b, &ticket, fg_breaker_classify(b, &c->outcome), c->duration, t);
    }
    sink = sum;
}

__attribute__((noinline)) static void fg_hot_alternating(fg_breaker *b, const bench_call *mix, long n) {
    fg_hot_given(b, mix, n);
}

__attribute__((noinline)) static void fg_hot_threshold(fg_breaker *b, const bench_call *mix, long n) {
    fg_hot_given(b, mix, n);
    sink = sink + 3;
}

__attribute__((noinline)) static void fg_hot_flapping(fg_breaker *b, const bench_call *mix, long n) {
    fg_hot_given(b, mix, n);
    sink = sink + 5;
}

__attribute__((noinline)) static void fg_hot_clock(fg_breaker *b, const bench_call *mix, long n) {
    uint64_t sum = 0;
    for (long i = 0; i < n; i++) {
        const bench_call *c = &mix[i & (BENCH_MIX_SIZE - 1)];
        fg_ticket ticket;
        if (fg_breaker_acquire(b, &ticket)) sum += (uint64_t)fg_breaker_release(b, &ticket, &c->outcome, -1.0);
    }
    sink = sum;
}

__attribute__((noinline)) static void fg_hot_timewindow(fg_breaker *b, long n) {
    fg_outcome ok;
    memset(&ok, 0, sizeof ok);
    uint64_t sum = 0;
    for (long i = 0; i < n; i++) {
        fg_ticket ticket;
        if (fg_breaker_acquire(b, &ticket)) sum += (uint64_t)fg_breaker_release(b, &ticket, &ok, -1.0);
    }
    sink = sum;
}

/* fg_hot_given's loop on the hand-written breaker, with release as its
 * release. A macro, not a function: each fg_hot_base_* compiles to exactly
 * the instructions a copy of the loop gave (an always-inline function taking
 * release as a pointer compiles to another layout of the loop, and the
 * counts are what the engine/baseline ratios divide by). */
#define BASE_LOOP(b, mix, n, release)                                                                    \
    do {                                                                                                 \
        double t = 1000.0;                                                                               \
        uint64_t sum = 0;                                                                                \
        for (long i = 0; i < (n); i++) {                                                                 \
            const bench_call *c = &(mix)[i & (BENCH_MIX_SIZE - 1)];                                      \
            bench_baseline_ticket ticket;                                                                \
            t += 0.001;                                                                                  \
            if (bench_baseline_acquire((b), t, &ticket))                                                 \
                sum += (uint64_t)release((b), &ticket, &c->outcome, c->duration, t);                     \
        }                                                                                                \
        sink = sum;                                                                                      \
    } while (0)

__attribute__((noinline)) static void fg_hot_base_given(bench_baseline *b, const bench_call *mix, long n) {
    BASE_LOOP(b, mix, n, bench_baseline_release);
}

__attribute__((noinline)) static void fg_hot_base_alternating(bench_baseline *b, const bench_call *mix, long n) {
    fg_hot_base_given(b, mix, n);
    sink = sink + 1;
}

__attribute__((noinline)) static void fg_hot_base_threshold(bench_baseline *b, const bench_call *mix, long n) {
    BASE_LOOP(b, mix, n, bench_baseline_release_threshold);
}

__attribute__((noinline)) static void fg_hot_base_flapping(bench_baseline *b, const bench_call *mix,
                                                           long n) {
    BASE_LOOP(b, mix, n, bench_baseline_release_flapping);
}

enum { KEYS = 1024 };
static char keys[KEYS][32];
static size_t lens[KEYS];

__attribute__((noinline)) static void fg_hot_family(fg_family *f, long n) {
    double now = 1.0;
    uint64_t sum = 0;
    for (long i = 0; i < n; i++) {
        size_t k = (size_t)i & (KEYS - 1);
        fg_family_ticket t;
        if (fg_family_acquire_at(f, keys[k], lens[k], now, &t, NULL, 0) == 1)
            sum += (uint64_t)fg_family_record_at(f, &t, 0, 0.001, now);
        now += 1e-6;
    }
    sink = sum;
}

/* (the store after the call keeps it from becoming a tail jump that
 * callgrind's toggle would not see) */
__attribute__((noinline)) static void fg_hot_sinkmt(fg_breaker *b, const bench_call *mix, long n) {
    fg_hot_given(b, mix, n);
    sink = sink + 1;
}

__attribute__((noinline)) static void fg_hot_sinkst(fg_breaker *b, const bench_call *mix, long n) {
    fg_hot_given(b, mix, n);
    sink = sink + 2;
}

int main(int argc, char **argv) {
    const char *which = argc > 1 ? argv[1] : "given";
    long n = argc > 2 ? atol(argv[2]) : 100000;
    static bench_call mix[BENCH_MIX_SIZE];
    if (strcmp(which, "given") == 0 || strcmp(which, "clock") == 0) {
        bench_workload_fill(mix);
        fg_policy *p = compile_payment();
        fg_breaker *b = make(p);
        if (which[0] == 'g') fg_hot_given(b, mix, n);
        else fg_hot_clock(b, mix, n);
        fg_breaker_free(b);
        fg_policy_free(p);
    } else if (strcmp(which, "sinkmt") == 0 || strcmp(which, "sinkst") == 0) {
        bench_workload_fill(mix);
        fg_policy *p = compile_payment();
        fg_sink *s = fg_sink_new(NULL, which[4] == 's' ? FG_SINK_SINGLE_THREAD : 0);
        fg_breaker_options o = {0};
        o.sink = s;
        fg_breaker *b = fg_breaker_new(p, 0, &o, NULL, 0);
        if (s == NULL || b == NULL) exit(2);
        if (which[4] == 's') fg_hot_sinkst(b, mix, n);
        else fg_hot_sinkmt(b, mix, n);
        fg_breaker_free(b);
        fg_sink_free(s);
        fg_policy_free(p);
    } else if (strncmp(which, "base_", 5) == 0) {
        static bench_baseline base;
        bench_baseline_init(&base, 1000.0);
        if (strcmp(which + 5, "given") == 0) {
            bench_workload_fill(mix);
            fg_hot_base_given(&base, mix, n);
        } else if (strcmp(which + 5, "threshold") == 0) {
            bench_workload_fill_alternating(mix);
            fg_hot_base_threshold(&base, mix, n);
        } else if (strcmp(which + 5, "flapping") == 0) {
            bench_workload_fill_alternating(mix);
            fg_hot_base_flapping(&base, mix, n);
        } else {
            bench_workload_fill_alternating(mix);
            fg_hot_base_alternating(&base, mix, n);
        }
    } else if (strcmp(which, "threshold") == 0 || strcmp(which, "flapping") == 0) {
        static const char old[] = "tripper = standard | (MinRequests(20) & SlowRate(30%, threshold = 2s))";
        static char text[sizeof fg_payment_policy + 512];
        const char *at = strstr(fg_payment_policy, old);
        if (at == NULL) return 2;
        const char *tripper = which[0] == 't' ? BENCH_THRESHOLD_TRIPPER : BENCH_FLAPPING_TRIPPER;
        int len = snprintf(text, sizeof text, "%.*stripper = %s%s", (int)(at - fg_payment_policy),
                           fg_payment_policy, tripper, at + sizeof old - 1);
        fg_policy *p = compile_text(text, (size_t)len, "threshold.fgp");
        bench_workload_fill_alternating(mix);
        fg_breaker *b = make(p);
        if (which[0] == 't') fg_hot_threshold(b, mix, n);
        else fg_hot_flapping(b, mix, n);
        fg_breaker_free(b);
        fg_policy_free(p);
    } else if (strcmp(which, "alternating") == 0) {
        bench_workload_fill_alternating(mix);
        fg_policy *p = compile_payment();
        fg_breaker *b = make(p);
        fg_hot_alternating(b, mix, n);
        fg_breaker_free(b);
        fg_policy_free(p);
    } else if (strcmp(which, "timewindow") == 0) {
        fg_expressions e = {.window = "TimeWindow(10)", .tripper = "MinRequests(20) & FailureRate(51%)"};
        fg_policy *p = compile_expressions("tw", e);
        fg_breaker *b = make(p);
        fg_hot_timewindow(b, n);
        fg_breaker_free(b);
        fg_policy_free(p);
    } else if (strcmp(which, "family") == 0) {
        fg_expressions e = {.window = "CountWindow(10)", .tripper = "FailureStreak(3)"};
        fg_policy *p = compile_expressions("player", e);
        char err[256];
        fg_family *f = fg_family_new(p, 0, NULL, err, sizeof err);
        if (f == NULL) return 2;
        for (size_t i = 0; i < KEYS; i++) {
            lens[i] = (size_t)snprintf(keys[i], sizeof keys[i], "player:%zu", i);
            fg_family_get(f, keys[i], lens[i], NULL, 0);
        }
        fg_hot_family(f, n);
        fg_family_free(f);
        fg_policy_free(p);
    } else {
        fprintf(stderr,
                "usage: %s "
                "given|alternating|threshold|flapping|clock|timewindow|family|sinkmt|sinkst|base_"
                "given|base_alternating|base_threshold|base_flapping [calls]\n",
                argv[0]);
        return 2;
    }
    return 0;
}
