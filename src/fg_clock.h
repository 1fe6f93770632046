/*
 * fg_clock.h -- the breaker's clocks: which one a definition gets, how the
 * default ones are read, and how any reading becomes the breaker's time.
 *
 * Clock choice (SPEC section 10). A breaker reads CLOCK_MONOTONIC_COARSE
 * when that clock's resolution is at most 1 % of the smallest duration its
 * definition compares against -- SlowRate/AvgLatency thresholds, a
 * TimeWindow's one-second buckets, the retry's shortest wait (Cooldown's
 * duration, Backoff's initial, times 1 - jitter_ratio: the jitter can draw
 * that), RampUp's duration and half_open_lease -- and
 * CLOCK_MONOTONIC otherwise. The choice is made once, when the breaker is
 * made; fg_breaker_options.clock_kind can force either, and a clock
 * function makes it CUSTOM.
 *
 * Rebasing (SPEC section 5, "Clock"). The breaker's time is raw + offset,
 * offset kept in the state block. A finite reading earlier than the last
 * one (a clock that jumps back, a block attached after a reboot, a saved
 * game loaded) moves the offset so that time stands still across the jump:
 * everything measured in breaker time -- remaining cooldowns, lease times,
 * window ages -- is kept. A wild forward reading is taken as it comes, and
 * the readings after it (earlier than it) rebase, so time goes on from the
 * glitch instead of standing still until the clock catches up with it: a
 * breaker that opened at the glitch is not held open for its size.
 * A reading at most `slack` behind the last one is no jump: time stands
 * still there without a rebase, until the clock passes the last reading.
 * The default clocks' slack is FG_CLOCK_DEFAULT_SLACK: CLOCK_MONOTONIC
 * never goes back, but CLOCK_MONOTONIC_COARSE lags it by up to a tick
 * (4 ms here, a little more when the tick is late), so handles on one
 * block that read different ones (forced to, or in processes configured
 * differently) see each other's readings as that far behind. Rebased
 * each time, the breaker's time gained the lag on every alternation: it
 * ran thousands of times faster than the clocks (cooldowns over at once,
 * TimeWindows emptied). A genuine jump back of a default clock (a block
 * from before a reboot) within the slack only holds time still for that
 * long. A custom clock's slack is 0, and so is that of a time an _at
 * caller brings: any reading behind rebases.
 * Readings that are not usable (fg_clock_usable: NaN, infinities, and
 * magnitudes past FG_CLOCK_LIMIT) are ignored (the last time is used): a
 * glitch of 1e20 s taken as it comes would leave the breaker's time there,
 * where a double's step is 16384 s, so that time stood still for any wait
 * (a breaker that opened then stayed open for hours; at 1e300, forever).
 *
 * First reading. A breaker's time starts at the first reading after its
 * block was made (last_raw is FG_CLOCK_NO_READING until then), on that
 * reading's own base: the reading taken when the block was made (its
 * changed_at) is no reading later ones rebase against. Nothing in a fresh
 * block is kept in its time yet -- no open period, lease or TimeWindow
 * second; what a lock-free admission stamps is the raw reading itself --
 * so nothing needs to stand still, and a rebase there would only put the
 * breaker on an offset: every later time raw + offset rounded at the
 * offset's magnitude, so that a caller's changed_at + d (in its own times)
 * no longer ends a cooldown exactly. A default clock read at creation
 * followed by a caller's own acquire_at times, or a family key made by
 * fg_family_get and then called at _at times, are such cases; a family key
 * made by its first call starts there anyway, so plain breakers and family
 * keys of one definition keep the same times.
 */
#ifndef FG_CLOCK_H
#define FG_CLOCK_H

#include <math.h>
#include <stdint.h>
#include <time.h>

#include "fg_policy_internal.h"
#include "fluxgate.h"

/* The largest reading a breaker takes, in magnitude: below 2^53, whole
 * seconds are exact doubles (a TimeWindow's second limit is the same) and a
 * double's step is at most 1 s, so time still moves after a glitch this
 * large. Far above any clock: 285 million years of seconds. */
#define FG_CLOCK_LIMIT 9.0e15

/* Whether a raw reading is one a breaker takes: finite and within
 * +-FG_CLOCK_LIMIT (false for NaN). */
static inline int fg_clock_usable(double raw) {
    return raw <= FG_CLOCK_LIMIT && raw >= -FG_CLOCK_LIMIT;
}

/* Seconds of CLOCK_MONOTONIC; ud is ignored (fits fg_clock_fn). */
double fg_clock_monotonic(void *ud);
/* Seconds of CLOCK_MONOTONIC_COARSE (CLOCK_MONOTONIC where there is none). */
double fg_clock_monotonic_coarse(void *ud);

/* Reads a default clock (kind PRECISE or COARSE). Inline for the hot path. */
static inline double fg_clock_read(fg_clock_kind kind) {
    struct timespec ts;
#ifdef CLOCK_MONOTONIC_COARSE
    clockid_t id = kind == FG_CLOCK_COARSE ? CLOCK_MONOTONIC_COARSE : CLOCK_MONOTONIC;
#else
    (void)kind;
    clockid_t id = CLOCK_MONOTONIC;
#endif
    /* Cannot fail on the platforms we build for; if it did, NaN is a
     * reading the breaker ignores. */
    if (clock_gettime(id, &ts) != 0) return NAN;
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

/* The smallest duration (seconds) the definition compares against, as
 * listed above; +infinity when there is none. */
double fg_clock_smallest_duration(const fg_breaker_def *def);

/* The clock a breaker of def reads: CUSTOM when it has a clock function,
 * else the forced kind, else COARSE when the coarse clock's resolution is
 * at most 1 % of fg_clock_smallest_duration(def), else PRECISE. */
fg_clock_kind fg_clock_choose(const fg_breaker_def *def, fg_clock_kind requested, int custom);

/* How far behind the time a reading of a clock kind may be, seconds:
 * twice the coarse clock's resolution for COARSE (its reading is the time
 * of its last tick, which may itself come a little late), 0 for the
 * others. An open breaker on the coarse clock that finds its retry's
 * deadline less than that ahead reads the precise clock to decide
 * (fg_breaker_call.c): a caller who comes back retry_after seconds later
 * by any clock is admitted, not sent back for a tick. */
double fg_clock_lag(fg_clock_kind kind);

/* The default clocks' rebasing slack (above), seconds: 25 ticks of a
 * 250 Hz kernel's coarse clock, 10 of a 100 Hz one. */
#define FG_CLOCK_DEFAULT_SLACK 0.1

/* last_raw of a clock that has not been read yet (see "First reading"):
 * the least usable reading, so that every usable reading is "not behind"
 * it -- the common case of fg_clock_advance and of a lock-free admission's
 * check (fg_breaker_call.c), which then pay nothing for a block that has
 * had no reading yet. (A reading of exactly -FG_CLOCK_LIMIT leaves the
 * block as it was: no reading yet.) Blocks of earlier versions held
 * +infinity here, which fg_clock_advance takes as no reading too. */
#define FG_CLOCK_NO_READING (-FG_CLOCK_LIMIT)

/* A usable reading not behind *last_raw: time is raw + offset, never
 * earlier than *last_time -- except on the first reading, where time starts
 * at raw + offset, whatever was read before, and since moves back to it. */
static inline double fg_clock_forward(double raw, double *last_raw, double *last_time,
                                      double offset, double *since) {
    double prev = *last_raw;
    *last_raw = raw;
    double now = raw + offset;
    if (now < *last_time) {
        if (prev != FG_CLOCK_NO_READING) now = *last_time; /* rounding of raw + offset */
        else if (since != NULL && *since > now) *since = now;
    }
    *last_time = now;
    return now;
}

/* The breaker's time for a raw reading, given the last raw reading
 * (usable, or FG_CLOCK_NO_READING), the last time (finite) and the offset;
 * updates them (see the rebasing rule above). Returns the time: raw +
 * offset on the first reading, never earlier than *last_time after it.
 * since (NULL for none) is a time that must never be ahead of the clock's
 * -- a breaker's changed_at: a first reading earlier than it moves it
 * back (the block counts as made then). slack: see above. */
static inline double fg_clock_advance(double raw, double *last_raw, double *last_time,
                                      double *offset, double *since, double slack) {
    if (!fg_clock_usable(raw)) return *last_time;
    if (raw < *last_raw) {
        if (!(*last_raw <= FG_CLOCK_LIMIT)) {
            /* +infinity (an earlier version's "no reading"): the first */
            *last_raw = FG_CLOCK_NO_READING;
            return fg_clock_forward(raw, last_raw, last_time, *offset, since);
        }
        /* a reading from a clock that lags another (no jump): time stands
         * still until the clock passes the last reading */
        if (*last_raw - raw <= slack) return *last_time;
        /* a jump back: time stands still here and goes on from here */
        *offset = *last_time - raw;
        *last_raw = raw;
        return *last_time;
    }
    return fg_clock_forward(raw, last_raw, last_time, *offset, since);
}

#endif /* FG_CLOCK_H */
