/*
 * fg_permit.c -- half-open admission decisions.
 */
#include "fg_permit.h"

double fg_permit_ratio(const fg_permit_spec *spec, double changed_at, double now) {
    switch (spec->kind) {
    case FG_PERMIT_ALL: return 1.0;
    case FG_PERMIT_RANDOM: return spec->ratio;
    case FG_PERMIT_RAMP_UP: {
        double elapsed = now - changed_at;
        /* fluxgate: final itself once the ramp is over (the formula there
         * can round a bit below it) */
        if (elapsed >= spec->duration) return spec->final;
        if (!(elapsed > 0.0)) elapsed = 0.0;
        /* fluxgate's grouping: initial + (final - initial) * (elapsed / duration) */
        double ratio = spec->ratio + (spec->final - spec->ratio) * (elapsed / spec->duration);
        return ratio < spec->final ? ratio : spec->final;
    }
    }
    return 0.0;
}

int fg_permit_admit(const fg_permit_spec *spec, double changed_at, double now, fg_random *random) {
    if (spec->kind == FG_PERMIT_ALL) return 1;
    double ratio = fg_permit_ratio(spec, changed_at, now);
    return fg_random_next(random) < ratio;
}
