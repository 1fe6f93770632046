/*
 * fg_clock.c -- CLOCK_MONOTONIC as seconds, and the reading guard.
 */
#include "fg_clock.h"

#include <time.h>

double fg_clock_monotonic(void *ud) {
    (void)ud;
    struct timespec ts;
    /* CLOCK_MONOTONIC cannot fail on the platforms we build for; if it ever
     * did, 0 is "earlier than everything" and the sanitizer keeps the last
     * good reading instead. */
    if (clock_gettime(CLOCK_MONOTONIC, &ts) != 0) return 0.0;
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}
