/*
 * fg_retry.c -- the retry strategies' waits.
 */
#include "fg_retry.h"

#include <math.h>

double fg_retry_draw_factor(const fg_retry_spec *spec, fg_random *random) {
    if (spec->kind != FG_RETRY_COOLDOWN && spec->kind != FG_RETRY_BACKOFF) return 1.0;
    double j = spec->jitter_ratio;
    if (!(j > 0.0)) return 1.0; /* no draw: a scripted source stays in step */
    double u = fg_random_next(random);
    return 1.0 + (2.0 * u - 1.0) * j;
}

/* min(initial * multiplier^reopens, max_duration), without overflowing: the
 * loop stops as soon as the cap is reached, so it runs at most
 * log_m(max/initial) + 1 times whatever reopens is. */
static double fg_backoff_base(const fg_retry_spec *spec, uint32_t reopens) {
    double wait = spec->duration;
    for (uint32_t r = 0; r < reopens && wait < spec->max_duration; r++) {
        wait *= spec->multiplier;
        if (!isfinite(wait)) break;
    }
    return wait < spec->max_duration ? wait : spec->max_duration;
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

int fg_retry_ready(const fg_retry_spec *spec, double changed_at, uint32_t reopens, double factor,
                   double now) {
    if (spec->kind == FG_RETRY_ALWAYS) return 1;
    if (spec->kind == FG_RETRY_NEVER) return 0;
    return now - changed_at >= fg_retry_wait(spec, reopens, factor);
}

double fg_retry_after(const fg_retry_spec *spec, double changed_at, uint32_t reopens, double factor,
                      double now) {
    if (spec->kind == FG_RETRY_NEVER) return -1.0;
    double left = fg_retry_wait(spec, reopens, factor) - (now - changed_at);
    return left > 0.0 ? left : 0.0;
}
