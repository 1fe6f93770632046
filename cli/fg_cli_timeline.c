/*
 * fg_cli_timeline.c -- collects what `fluxgate simulate --svg` draws while the
 * replay streams (fg_sim.h), in memory bounded whatever the trace's length,
 * and hands it to the SVG writer (fg_svg.c) at the end.
 *
 * Calls are counted into fine time buckets whose width is a power of ten
 * (10^-4 s to start with). The picture's buckets (fg_svg_bucket_width: 1, 2 or
 * 5 times a power of ten, at most MAX_BUCKETS across the run) are only known
 * at the end, once the run's span is; when the fine buckets would pass
 * MAX_FINE, ten neighbours merge into one (the width grows tenfold). Why that
 * is enough: after a merge the fine width u is < 10 * span / MAX_FINE =
 * span / 2000, and the picture's width W is >= span / MAX_BUCKETS =
 * span / 200, so W >= 10 u; both are 1, 2 or 5 times powers of ten and u is a
 * power of ten, so W is a whole multiple of u and every picture bucket is an
 * exact sum of fine ones (before any merge u = 10^-4 divides every W >= 10^-3).
 *
 * Transitions are kept exactly (time, states, the first MAX_REASON bytes of
 * the rule) up to MAX_MARKS. A run with more is drawn exactly up to the last
 * kept one and, after it, one band per picture bucket in the most severe state
 * the breaker was in during that bucket (each fine bucket remembers the states
 * it saw): a flapping breaker shows as the states it reached, not as
 * thousands of lines on a 900-pixel plot.
 */
#include <errno.h>
#include <math.h>
#include <stdint.h>
#include <string.h>

#include "fg_cli.h"
#include "fg_sim.h"
#include "fg_svg.h"

/* At most this many buckets across the picture: bars stay a few pixels wide. */
enum { MAX_BUCKETS = 200, MAX_FINE = 100 * MAX_BUCKETS, MAX_MARKS = 2000, MAX_REASON = 240 };

typedef struct fine_bucket {
    fg_svg_bucket counts;
    unsigned states; /* bit per fg_state the breaker was in during the bucket */
} fine_bucket;

typedef struct kept_mark {
    double time;
    fg_state old_state, new_state;
    char reason[MAX_REASON + 1];
} kept_mark;

struct fg_timeline {
    double width; /* of a fine bucket, seconds: a power of ten */
    int64_t base; /* absolute index (floor(time / width)) of fine[0] */
    size_t count; /* fine buckets in use */
    fine_bucket fine[MAX_FINE];
    int has_slow_threshold;
    double slow_threshold;
    int started;
    fg_state initial; /* the state at the first call */
    fg_state state;   /* the state now */
    double state_since;
    size_t mark_count;
    int overflow; /* more transitions than MAX_MARKS: the rest are in `states` */
    int out_of_memory;
    kept_mark marks[MAX_MARKS];
};

fg_timeline *fg_timeline_new(void) {
    fg_timeline *t = fg_cli_alloc(sizeof *t);
    if (t != NULL) {
        memset(t, 0, sizeof *t);
        t->width = 1e-4;
    }
    return t;
}

void fg_timeline_free(fg_timeline *t) {
    if (t != NULL) fg_cli_free(t, sizeof *t);
}

static int64_t floor_div(int64_t a, int64_t b) {
    int64_t q = a / b;
    return (a % b != 0 && (a < 0) != (b < 0)) ? q - 1 : q;
}

/* Merges ten neighbours into one: the width grows tenfold. */
static void coarsen(fg_timeline *t) {
    int64_t nbase = floor_div(t->base, 10);
    size_t ncount = 0;
    for (size_t i = 0; i < t->count; i++) {
        size_t j = (size_t)(floor_div(t->base + (int64_t)i, 10) - nbase);
        fine_bucket *from = &t->fine[i], *to = &t->fine[j];
        if (j != i) {
            if (j >= ncount) memset(to, 0, sizeof *to);
            to->counts.admitted += from->counts.admitted;
            to->counts.rejected += from->counts.rejected;
            to->counts.successes += from->counts.successes;
            to->counts.failures += from->counts.failures;
            to->counts.slow += from->counts.slow;
            to->counts.trace_successes += from->counts.trace_successes;
            to->counts.trace_failures += from->counts.trace_failures;
            to->states |= from->states;
        }
        if (j + 1 > ncount) ncount = j + 1;
    }
    t->base = nbase;
    t->count = ncount;
    t->width *= 10;
}

/* The fine bucket of time (>= the first arrival), made if need be. */
static fine_bucket *bucket_at(fg_timeline *t, double time) {
    if (!t->started) {
        t->started = 1;
        t->base = (int64_t)floor(time / t->width);
        t->count = 0;
    }
    int64_t at;
    for (;;) {
        at = (int64_t)floor(time / t->width) - t->base;
        if (at < 0) at = 0; /* rounding at the very first bucket */
        if ((size_t)at < MAX_FINE) break;
        coarsen(t);
    }
    while (t->count <= (size_t)at) memset(&t->fine[t->count++], 0, sizeof t->fine[0]);
    return &t->fine[at];
}

/* Marks the current state in every fine bucket from state_since to time
 * (linear overall: each call covers the buckets since the previous one). */
static void note_state_until(fg_timeline *t, double time) {
    bucket_at(t, time); /* room up to time first: it may merge buckets */
    int64_t from = (int64_t)floor(t->state_since / t->width) - t->base;
    int64_t to = (int64_t)floor(time / t->width) - t->base;
    if (from < 0) from = 0;
    if (to >= (int64_t)t->count) to = (int64_t)t->count - 1;
    for (; from <= to; from++) t->fine[from].states |= 1u << t->state;
}

void fg_timeline_start(fg_timeline *t, double start, fg_state initial, uint32_t threshold_count,
                       const double *thresholds) {
    bucket_at(t, start);
    t->initial = t->state = initial;
    t->state_since = start;
    if (threshold_count > 0) {
        t->has_slow_threshold = 1;
        t->slow_threshold = thresholds[0];
    }
}

void fg_timeline_arrival(fg_timeline *t, const fg_sim_call *c) {
    fg_svg_bucket *b = &bucket_at(t, c->arrival)->counts;
    if (c->outcome_class == FG_OUTCOME_FAILURE) b->trace_failures++;
    else if (c->outcome_class == FG_OUTCOME_SUCCESS) b->trace_successes++;
    if (c->admitted) b->admitted++;
    else b->rejected++;
}

void fg_timeline_completion(fg_timeline *t, const fg_sim_call *c) {
    fg_svg_bucket *b = &bucket_at(t, c->completion)->counts;
    /* The rate counts what the tracker said, stale or not: a stale failure
     * was still a failing call. Ignored errors are neither. */
    if (c->verdict == FG_VERDICT_SUCCESS || c->verdict == FG_VERDICT_STALE_SUCCESS) {
        b->successes++;
        /* As the breaker classifies: slow when duration >= threshold. */
        if (t->has_slow_threshold && c->completion - c->arrival >= t->slow_threshold) b->slow++;
    } else if (c->verdict == FG_VERDICT_FAILURE || c->verdict == FG_VERDICT_STALE_FAILURE) {
        b->failures++;
    }
}

void fg_timeline_transition(fg_timeline *t, const fg_transition *tr) {
    note_state_until(t, tr->timestamp);
    t->state = tr->new_state;
    t->state_since = tr->timestamp;
    bucket_at(t, tr->timestamp)->states |= 1u << tr->new_state;
    if (t->mark_count < MAX_MARKS) {
        kept_mark *m = &t->marks[t->mark_count++];
        size_t len = tr->reason != NULL ? strlen(tr->reason) : 0;
        m->time = tr->timestamp;
        m->old_state = tr->old_state;
        m->new_state = tr->new_state;
        if (len > MAX_REASON) len = MAX_REASON;
        memcpy(m->reason, len > 0 ? tr->reason : "", len);
        m->reason[len] = '\0';
    } else {
        t->overflow = 1;
    }
}

/* The most severe of the states in mask: what a flapping stretch shows. */
static fg_state worst_state(unsigned mask, fg_state fallback) {
    static const fg_state order[] = {FG_STATE_FORCED_OPEN,  FG_STATE_OPEN,
                                     FG_STATE_HALF_OPEN,    FG_STATE_DISABLED,
                                     FG_STATE_METRICS_ONLY, FG_STATE_CLOSED};
    for (size_t i = 0; i < sizeof order / sizeof order[0]; i++)
        if (mask & (1u << order[i])) return order[i];
    return fallback;
}

/* Adds the fine buckets into the picture's buckets (ratio fine buckets each,
 * the first picture bucket at fine index `first`), and ORs the states seen
 * into masks[]. */
static void fold_buckets(const fg_timeline *t, const fg_svg_timeline *v, int64_t ratio,
                         int64_t first, fg_svg_bucket *buckets, unsigned *masks) {
    for (size_t i = 0; i < t->count; i++) {
        int64_t k = floor_div(t->base + (int64_t)i, ratio) - first;
        if (k < 0) k = 0;
        if ((size_t)k >= v->bucket_count) k = (int64_t)v->bucket_count - 1;
        const fine_bucket *f = &t->fine[i];
        fg_svg_bucket *b = &buckets[k];
        b->admitted += f->counts.admitted;
        b->rejected += f->counts.rejected;
        b->successes += f->counts.successes;
        b->failures += f->counts.failures;
        b->slow += f->counts.slow;
        b->trace_successes += f->counts.trace_successes;
        b->trace_failures += f->counts.trace_failures;
        masks[k] |= f->states;
    }
}

/* One band per state interval, exact up to the last kept transition (whose
 * marks it copies); after it, when transitions overflowed, per picture
 * bucket the most severe state seen, neighbours of one state joined into one
 * band. Returns the number of bands written (at most band_cap). */
static size_t build_bands(const fg_timeline *t, const fg_svg_timeline *v, const unsigned *masks,
                          double start, double end, fg_svg_band *bands, size_t band_cap,
                          fg_svg_mark *marks) {
    size_t band_count = 0;
    double from = start;
    fg_state state = t->initial;
    for (size_t i = 0; i < t->mark_count; i++) {
        const kept_mark *m = &t->marks[i];
        bands[band_count].start = from;
        bands[band_count].end = m->time;
        bands[band_count].state = state;
        band_count++;
        marks[i].time = m->time;
        marks[i].old_state = m->old_state;
        marks[i].new_state = m->new_state;
        marks[i].reason = m->reason;
        from = m->time;
        state = m->new_state;
    }
    if (!t->overflow) {
        bands[band_count].start = from;
        bands[band_count].end = end;
        bands[band_count].state = t->state;
        return band_count + 1;
    }
    for (size_t i = 0; i < v->bucket_count && band_count < band_cap; i++) {
        double b0 = v->start + (double)i * v->bucket_width, b1 = b0 + v->bucket_width;
        if (b1 <= from) continue;
        if (b0 < from) b0 = from;
        if (b1 > end) b1 = end;
        if (b1 <= b0) continue;
        fg_state s = worst_state(masks[i], state);
        if (band_count > 0 && bands[band_count - 1].state == s && bands[band_count - 1].end >= b0) {
            bands[band_count - 1].end = b1;
            continue;
        }
        bands[band_count].start = b0;
        bands[band_count].end = b1;
        bands[band_count].state = s;
        band_count++;
    }
    return band_count;
}

int fg_timeline_write(fg_timeline *t, const char *path, const char *title, double start,
                      double end) {
    note_state_until(t, end);
    fg_svg_timeline v;
    memset(&v, 0, sizeof v);
    v.title = title;
    /* A trace of one instant still gets a one-second axis. */
    v.end = end > start ? end : start + 1;
    v.bucket_width = fg_svg_bucket_width(v.end - start, MAX_BUCKETS);
    if (v.bucket_width < t->width)
        v.bucket_width = t->width; /* cannot happen (see the top of the file); stay safe */
    int64_t ratio = (int64_t)llround(v.bucket_width / t->width);
    if (ratio < 1) ratio = 1;
    /* Buckets (and the axis) start on a multiple of their width: a trace that
     * starts at 0.046 s gets an axis from 0. */
    int64_t first = floor_div(t->base, ratio);
    v.start = (double)first * v.bucket_width;
    v.bucket_count = (size_t)ceil((v.end - v.start) / v.bucket_width);
    if (v.bucket_count == 0) v.bucket_count = 1;
    if (v.bucket_count > MAX_BUCKETS + 2) v.bucket_count = MAX_BUCKETS + 2;
    v.has_slow_threshold = t->has_slow_threshold;
    v.slow_threshold = t->slow_threshold;

    int rc = -1;
    size_t band_cap = t->mark_count + 1 + MAX_BUCKETS;
    fg_svg_bucket *buckets = fg_cli_alloc(v.bucket_count * sizeof *buckets);
    unsigned *masks = fg_cli_alloc(v.bucket_count * sizeof *masks);
    fg_svg_band *bands = fg_cli_alloc(band_cap * sizeof *bands);
    fg_svg_mark *marks = fg_cli_alloc((t->mark_count + 1) * sizeof *marks);
    if (buckets == NULL || masks == NULL || bands == NULL || marks == NULL) {
        fprintf(stderr, "%s: error: out of memory\n", path);
        goto done;
    }
    memset(buckets, 0, v.bucket_count * sizeof *buckets);
    memset(masks, 0, v.bucket_count * sizeof *masks);
    fold_buckets(t, &v, ratio, first, buckets, masks);
    v.buckets = buckets;
    v.bands = bands;
    v.band_count = build_bands(t, &v, masks, start, end, bands, band_cap, marks);
    v.marks = marks;
    v.mark_count = t->mark_count;

    FILE *out = fopen(path, "w");
    if (out == NULL) {
        fprintf(stderr, "%s: error: cannot write: %s\n", path, strerror(errno));
        goto done;
    }
    rc = fg_svg_write(out, &v);
    if (fclose(out) != 0) rc = -1;
    if (rc < 0) fprintf(stderr, "%s: error: writing failed\n", path);

done:
    fg_cli_free(buckets, v.bucket_count * sizeof *buckets);
    fg_cli_free(masks, v.bucket_count * sizeof *masks);
    fg_cli_free(bands, band_cap * sizeof *bands);
    fg_cli_free(marks, (t->mark_count + 1) * sizeof *marks);
    return rc;
}
