/*
 * fg_retry.h -- when an open breaker may move to half_open:
 * Always(), Never(), Cooldown(d, j), Backoff(i, m, max, j).
 *
 * The jitter factor 1 + U(-j, j) is drawn once, when the breaker opens
 * (fg_retry_draw_factor), and kept for the whole open period, so the wait is
 * fixed. The wait is over when now - changed_at >= wait (fluxgate's
 * elapsed >= wait); the deadline is the least time at which it is, and
 * retry_after aims at it, so a call made exactly retry_after seconds after
 * a rejection is admitted.
 * Pure functions of their arguments; they never allocate.
 */
#ifndef FG_RETRY_H
#define FG_RETRY_H

#include <stdint.h>

#include "fg_policy_internal.h"
#include "fg_random.h"

/* The jitter factor for one open period: 1 + U(-j, j) when jitter_ratio > 0
 * (one draw), else exactly 1 without drawing. */
double fg_retry_draw_factor(const fg_retry_spec *spec, fg_random *random);

/* Seconds to wait after opening: 0 for Always, +infinity for Never,
 * d*factor for Cooldown, min(i*m^reopens, max)*factor for Backoff (m^reopens
 * saturates at max instead of overflowing). */
double fg_retry_wait(const fg_retry_spec *spec, uint32_t reopens, double factor);

/* Whether the wait since changed_at is over at now: fluxgate's test,
 * elapsed >= wait with elapsed = now - changed_at (a subtraction, so that
 * the same times pass as in fluxgate; now >= changed_at + wait differs by
 * an ulp both ways). Always: 1; Never: 0. */
int fg_retry_over(const fg_retry_spec *spec, double changed_at, double wait, double now);

/* The deadline: the least time at which fg_retry_over holds (-inf for
 * Always, +inf for Never); the wait is over at now exactly when
 * now >= the deadline, so retry_after can aim at it. */
double fg_retry_deadline_of(const fg_retry_spec *spec, double changed_at, double wait);

/* fg_retry_deadline_of and fg_retry_over with the wait of reopens and
 * factor (fg_retry_wait). */
double fg_retry_deadline(const fg_retry_spec *spec, double changed_at, uint32_t reopens,
                         double factor);
int fg_retry_ready(const fg_retry_spec *spec, double changed_at, uint32_t reopens, double factor,
                   double now);

/* Seconds from now until the deadline, exact in the caller's arithmetic: a
 * caller whose raw clock read raw (the breaker's time now = raw + offset)
 * and who comes back at raw + r finds (raw + r) + offset >= deadline, so
 * it is admitted. 0 when the deadline has passed, -1 (unknown) for +inf. */
double fg_retry_after_at(double deadline, double now, double raw, double offset);

/* fg_retry_after_at for a breaker without offset whose caller reads now. */
double fg_retry_after(const fg_retry_spec *spec, double changed_at, uint32_t reopens, double factor,
                      double now);

#endif /* FG_RETRY_H */
