/*
 * fg_svg.h -- draws the timeline of a `fluxgate simulate` run as a standalone
 * SVG picture: the breaker's states as coloured bands, the failure rate of
 * completed calls (and, fainter, of every call in the trace; and the share of
 * slow calls when the tripper has a SlowRate) above, the call volume
 * (admitted and rejected) below, every transition marked, with axes, labels
 * and a legend.
 *
 * The writer only draws: the simulation fills an fg_svg_timeline and keeps
 * ownership of everything in it.
 */
#ifndef FG_SVG_H
#define FG_SVG_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "fluxgate.h"

/* Calls of one time bucket [start + i*width, start + (i+1)*width). */
typedef struct fg_svg_bucket {
    uint32_t admitted;  /* arrivals the breaker let through */
    uint32_t rejected;  /* arrivals it turned away */
    uint32_t successes; /* completions recorded as successes */
    uint32_t failures;  /* completions recorded as failures */
    uint32_t slow;      /* successes among them that took >= slow_threshold */
    /* What the trace itself holds, by arrival, rejected calls included: the
     * service's health, which the breaker sees only through admitted calls. */
    uint32_t trace_successes;
    uint32_t trace_failures;
} fg_svg_bucket;

/* One interval during which the breaker stayed in one state. */
typedef struct fg_svg_band {
    double start, end;
    fg_state state;
} fg_svg_band;

/* One transition; reason is the rule text that caused it. */
typedef struct fg_svg_mark {
    double time;
    fg_state old_state, new_state;
    const char *reason;
} fg_svg_mark;

typedef struct fg_svg_timeline {
    const char *title;
    double start, end;      /* the time axis, seconds; end > start */
    double bucket_width;    /* seconds */
    int has_slow_threshold; /* 1: draw the share of slow calls too */
    double slow_threshold;  /* seconds: the tripper's first SlowRate threshold */
    size_t bucket_count;
    const fg_svg_bucket *buckets;
    size_t band_count; /* one band per state interval, in time order */
    const fg_svg_band *bands;
    size_t mark_count;
    const fg_svg_mark *marks;
} fg_svg_timeline;

/* A bucket width (1, 2 or 5 times a power of ten, in seconds) that cuts
 * [0, span] into at most max_buckets buckets. */
double fg_svg_bucket_width(double span, size_t max_buckets);

/* Writes the picture to out. Every band is one <rect class="band"> element,
 * every transition one <line class="transition">, so a test can count them.
 * Returns 0, or -1 when writing failed. */
int fg_svg_write(FILE *out, const fg_svg_timeline *timeline);

#endif /* FG_SVG_H */
