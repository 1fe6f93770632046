/*
 * fg_clock.c -- the default clocks as seconds, and the clock choice.
 */
#include "fg_clock.h"

#include <math.h>

#include "fg_block.h"
#include "fg_program.h"

double fg_clock_monotonic(void *ud) {
    (void)ud;
    return fg_clock_read(FG_CLOCK_PRECISE);
}

double fg_clock_monotonic_coarse(void *ud) {
    (void)ud;
    return fg_clock_read(FG_CLOCK_COARSE);
}

static double fg_min_positive(double a, double b) {
    return b > 0.0 && b < a ? b : a;
}

double fg_clock_smallest_duration(const fg_breaker_def *def) {
    double m = INFINITY;
    uint32_t n = fg_program_threshold_count(def->tripper);
    const double *t = fg_program_thresholds(def->tripper);
    for (uint32_t i = 0; i < n; i++) m = fg_min_positive(m, t[i]);
    m = fg_min_positive(m, fg_block_min_latency_threshold(def->tripper));
    if (def->window.kind == FG_WINDOW_TIME) m = fg_min_positive(m, 1.0);
    /* the shortest wait the jitter can draw: d * (1 - j), j in [0, 1) */
    if (def->retry.kind == FG_RETRY_COOLDOWN || def->retry.kind == FG_RETRY_BACKOFF)
        m = fg_min_positive(m, def->retry.duration * (1.0 - def->retry.jitter_ratio));
    if (def->permit.kind == FG_PERMIT_RAMP_UP) m = fg_min_positive(m, def->permit.duration);
    m = fg_min_positive(m, def->half_open_lease);
    return m;
}

static double fg_clock_coarse_resolution(void) {
#ifdef CLOCK_MONOTONIC_COARSE
    struct timespec res;
    if (clock_getres(CLOCK_MONOTONIC_COARSE, &res) != 0) return INFINITY;
    return (double)res.tv_sec + (double)res.tv_nsec * 1e-9;
#else
    return INFINITY;
#endif
}

double fg_clock_lag(fg_clock_kind kind) {
    if (kind != FG_CLOCK_COARSE) return 0.0;
    double r = fg_clock_coarse_resolution();
    /* unknown: the tick of the slowest kernel (HZ 100) */
    return 2.0 * (r <= 0.01 ? r : 0.01);
}

fg_clock_kind fg_clock_choose(const fg_breaker_def *def, fg_clock_kind requested, int custom) {
    if (custom) return FG_CLOCK_CUSTOM;
    if (requested == FG_CLOCK_PRECISE || requested == FG_CLOCK_COARSE) return requested;
#ifdef CLOCK_MONOTONIC_COARSE
    double resolution = fg_clock_coarse_resolution(); /* +inf when unknown: PRECISE */
    return resolution <= 0.01 * fg_clock_smallest_duration(def) ? FG_CLOCK_COARSE : FG_CLOCK_PRECISE;
#else
    (void)def;
    return FG_CLOCK_PRECISE;
#endif
}
