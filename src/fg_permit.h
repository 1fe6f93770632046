/*
 * fg_permit.h -- which calls a half_open breaker admits (once a half-open
 * slot is free): All(), Random(r), RampUp(initial, final, duration).
 *
 * Random and RampUp draw exactly one number per decision; All draws none, so
 * a scripted random source replays exactly. Never allocates.
 */
#ifndef FG_PERMIT_H
#define FG_PERMIT_H

#include "fg_policy_internal.h"
#include "fg_random.h"

/* The admission probability at now for a breaker half-open since changed_at:
 * 1 for All, r for Random; for RampUp, f once elapsed >= d, else
 * i + (f - i) * (elapsed / d) (fluxgate's grouping) capped at f. */
double fg_permit_ratio(const fg_permit_spec *spec, double changed_at, double now);

/* 1 to admit, 0 to reject: All admits without drawing; the others admit
 * when one draw is below fg_permit_ratio. */
int fg_permit_admit(const fg_permit_spec *spec, double changed_at, double now, fg_random *random);

#endif /* FG_PERMIT_H */
