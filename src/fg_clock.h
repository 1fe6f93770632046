/*
 * fg_clock.h -- the breaker's default clock and the guard that keeps any
 * clock's readings usable.
 *
 * Breakers read time as seconds on a fixed origin. The default is
 * CLOCK_MONOTONIC (never wall time, which jumps); embedders may replace it.
 * A replaced clock can misbehave, so every reading goes through
 * fg_clock_sanitize: the window and the state machine only ever see finite
 * times that never go backwards.
 */
#ifndef FG_CLOCK_H
#define FG_CLOCK_H

#include <float.h>

/* Seconds of CLOCK_MONOTONIC; ud is ignored (fits fg_clock_fn). */
double fg_clock_monotonic(void *ud);

/* Returns raw when it is finite and not before *last (then stores it in
 * *last); otherwise returns *last, the last good reading. *last must be
 * finite (it only ever holds good readings). Inline: every call of the hot
 * path runs it twice. */
static inline double fg_clock_sanitize(double raw, double *last) {
    /* With *last finite, raw >= *last rules out NaN and -inf; the upper
     * bound rules out +inf: together, isfinite(raw) && raw >= *last. */
    if (raw >= *last && raw <= DBL_MAX) {
        *last = raw;
        return raw;
    }
    return *last;
}

#endif /* FG_CLOCK_H */
