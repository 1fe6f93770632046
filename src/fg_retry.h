/*
 * fg_retry.h -- when an open breaker may move to half_open:
 * Always(), Never(), Cooldown(d, j), Backoff(i, m, max, j).
 *
 * The jitter factor 1 + U(-j, j) is drawn once, when the breaker opens
 * (fg_retry_draw_factor), and kept for the whole open period, so the wait is
 * fixed and retry_after is exact. Pure functions of their arguments; they
 * never allocate.
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

/* Whether the retry allows a probe at now for a breaker opened at changed_at. */
int fg_retry_ready(const fg_retry_spec *spec, double changed_at, uint32_t reopens, double factor,
                   double now);

/* Seconds from now until fg_retry_ready turns true: 0 when it already is,
 * -1 (unknown) for Never. */
double fg_retry_after(const fg_retry_spec *spec, double changed_at, uint32_t reopens, double factor,
                      double now);

#endif /* FG_RETRY_H */
