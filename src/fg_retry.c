/*
 * fg_retry.c -- the retry strategies' waits, the deadline they give an open
 * period, and an exact retry_after.
 */
#include "fg_retry.h"

#include <math.h>

double fg_retry_draw_factor(const fg_retry_spec *spec, fg_random *random) {
    if (spec->kind != FG_RETRY_COOLDOWN && spec->kind != FG_RETRY_BACKOFF) return 1.0;
    double j = spec->jitter_ratio;
    if (!(j > 0.0)) return 1.0; /* no draw: a scripted source stays in step */
    double u = fg_random_next(random);
    /* fluxgate's 1 + uniform(-j, j), where uniform(a, b) is
     * a + (b - a) * u: the same double for the same u */
    double jitter = -j + (j - -j) * u;
    return 1.0 + jitter;
}

/* min(initial * multiplier ** reopens, max_duration): fluxgate's formula,
 * a power rather than a loop of products, so that replays agree bit for
 * bit. A power that overflows is +inf, which the cap takes care of. */
static double fg_backoff_base(const fg_retry_spec *spec, uint32_t reopens) {
    if (!(spec->duration > 0.0)) return 0.0;
    double wait = spec->duration * pow(spec->multiplier, (double)reopens);
    return wait < spec->max_duration ? wait : spec->max_duration; /* NaN: the cap */
}

double fg_retry_wait(const fg_retry_spec *spec, uint32_t reopens, double factor) {
    switch (spec->kind) {
    case FG_RETRY_ALWAYS: return 0.0;
    case FG_RETRY_NEVER: return INFINITY;
    case FG_RETRY_COOLDOWN: return spec->duration * factor;
    case FG_RETRY_BACKOFF: return fg_backoff_base(spec, reopens) * factor;
    }
    return INFINITY;
}

int fg_retry_over(const fg_retry_spec *spec, double changed_at, double wait, double now) {
    if (spec->kind == FG_RETRY_ALWAYS) return 1;
    if (spec->kind == FG_RETRY_NEVER) return 0;
    return now - changed_at >= wait;
}

/* now - changed_at never decreases as now grows, so the times at which the
 * wait is over are exactly those from the least one on: changed_at + wait
 * is within an ulp or two of it (both roundings are half an ulp), and the
 * steps below close the gap from either side. */
double fg_retry_deadline_of(const fg_retry_spec *spec, double changed_at, double wait) {
    if (spec->kind == FG_RETRY_ALWAYS) return -INFINITY;
    if (spec->kind == FG_RETRY_NEVER) return INFINITY;
    double t = changed_at + wait;
    if (!isfinite(t)) return t;
    for (int i = 0; i < 64 && !(t - changed_at >= wait); i++) t = nextafter(t, INFINITY);
    for (int i = 0; i < 64; i++) {
        double before = nextafter(t, -INFINITY);
        if (!(before - changed_at >= wait)) break;
        t = before;
    }
    return t;
}

double fg_retry_deadline(const fg_retry_spec *spec, double changed_at, uint32_t reopens,
                         double factor) {
    return fg_retry_deadline_of(spec, changed_at, fg_retry_wait(spec, reopens, factor));
}

int fg_retry_ready(const fg_retry_spec *spec, double changed_at, uint32_t reopens, double factor,
                   double now) {
    return fg_retry_over(spec, changed_at, fg_retry_wait(spec, reopens, factor), now);
}

/* The breaker's time of a caller that comes back after r seconds: its raw
 * reading then is raw + r, and the breaker adds its offset. */
static double fg_retry_time_after(double raw, double r, double offset) {
    return (raw + r) + offset;
}

double fg_retry_after_at(double deadline, double now, double raw, double offset) {
    if (deadline == INFINITY) return -1.0;
    double r = deadline - now;
    if (!(r > 0.0)) return 0.0;
    /* r = deadline - now rounds; nudge it up until the caller's own
     * arithmetic lands on or past the deadline. Monotone in r, and each
     * step closes the shortfall, so this ends within a few steps. */
    for (int i = 0; i < 200; i++) {
        double t = fg_retry_time_after(raw, r, offset);
        if (t >= deadline) break;
        double bigger = r + (deadline - t);
        r = bigger > r ? bigger : nextafter(r, INFINITY);
    }
    return r;
}

double fg_retry_after(const fg_retry_spec *spec, double changed_at, uint32_t reopens, double factor,
                      double now) {
    return fg_retry_after_at(fg_retry_deadline(spec, changed_at, reopens, factor), now, now, 0.0);
}
