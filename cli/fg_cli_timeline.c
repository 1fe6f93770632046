/*
 * fg_cli_timeline.c -- turns a simulation run (fg_sim.h) into the picture
 * fg_svg.c draws: calls counted into time buckets, one band per interval
 * spent in one state, one mark per transition.
 */
#include <errno.h>
#include <math.h>
#include <string.h>

#include "fg_cli.h"
#include "fg_sim.h"
#include "fg_svg.h"

/* At most this many buckets across the picture: bars stay a few pixels wide. */
enum { MAX_BUCKETS = 200 };

static size_t bucket_of(const fg_svg_timeline *t, double time)
{
    double i = floor((time - t->start) / t->bucket_width);
    if (i < 0)
        return 0;
    if (i >= (double)t->bucket_count)
        return t->bucket_count - 1;
    return (size_t)i;
}

static void count_calls(const fg_sim_result *r, const fg_svg_timeline *t, fg_svg_bucket *buckets)
{
    size_t i;
    for (i = 0; i < r->call_count; i++) {
        const fg_sim_call *c = &r->calls[i];
        if (c->outcome_class == 1)
            buckets[bucket_of(t, c->arrival)].trace_failures++;
        else if (c->outcome_class == 0)
            buckets[bucket_of(t, c->arrival)].trace_successes++;
        if (!c->admitted) {
            buckets[bucket_of(t, c->arrival)].rejected++;
            continue;
        }
        buckets[bucket_of(t, c->arrival)].admitted++;
        /* The rate counts what the tracker said, stale or not: a stale
         * failure was still a failing call. Ignored errors are neither. */
        if (c->verdict == FG_VERDICT_SUCCESS || c->verdict == FG_VERDICT_STALE_SUCCESS) {
            fg_svg_bucket *b = &buckets[bucket_of(t, c->completion)];
            b->successes++;
            /* As the breaker classifies: slow when duration >= threshold. */
            if (t->has_slow_threshold && c->completion - c->arrival >= t->slow_threshold)
                b->slow++;
        }
        else if (c->verdict == FG_VERDICT_FAILURE || c->verdict == FG_VERDICT_STALE_FAILURE)
            buckets[bucket_of(t, c->completion)].failures++;
    }
}

/* One band per state interval: transition_count + 1 of them. */
static void fill_bands(const fg_sim_result *r, fg_svg_band *bands, fg_svg_mark *marks)
{
    size_t i;
    double from = r->start;
    fg_state state = r->initial_state;
    for (i = 0; i < r->transition_count; i++) {
        const fg_sim_transition *tr = &r->transitions[i];
        bands[i].start = from;
        bands[i].end = tr->time;
        bands[i].state = state;
        marks[i].time = tr->time;
        marks[i].old_state = tr->old_state;
        marks[i].new_state = tr->new_state;
        marks[i].reason = tr->reason;
        from = tr->time;
        state = tr->new_state;
    }
    bands[i].start = from;
    bands[i].end = r->end;
    bands[i].state = state;
}

int fg_cli_write_timeline(const char *path, const char *title, const struct fg_sim_result *result)
{
    fg_svg_timeline t;
    fg_svg_bucket *buckets;
    fg_svg_band *bands;
    fg_svg_mark *marks;
    size_t band_count = result->transition_count + 1;
    FILE *out;
    int rc = -1;

    memset(&t, 0, sizeof t);
    t.title = title;
    /* A trace of one instant still gets a one-second axis. */
    t.end = result->end > result->start ? result->end : result->start + 1;
    t.bucket_width = fg_svg_bucket_width(t.end - result->start, MAX_BUCKETS);
    /* Buckets (and the axis) start on a multiple of their width: a trace that
     * starts at 0.046 s gets an axis from 0. */
    t.start = floor(result->start / t.bucket_width) * t.bucket_width;
    t.bucket_count = (size_t)ceil((t.end - t.start) / t.bucket_width);
    if (t.bucket_count == 0)
        t.bucket_count = 1;
    if (result->threshold_count > 0) {
        t.has_slow_threshold = 1;
        t.slow_threshold = result->thresholds[0];
    }

    buckets = fg_cli_alloc(t.bucket_count * sizeof *buckets);
    bands = fg_cli_alloc(band_count * sizeof *bands);
    marks = fg_cli_alloc(band_count * sizeof *marks);
    if (buckets == NULL || bands == NULL || marks == NULL) {
        fprintf(stderr, "%s: error: out of memory\n", path);
        goto done;
    }
    memset(buckets, 0, t.bucket_count * sizeof *buckets);
    count_calls(result, &t, buckets);
    fill_bands(result, bands, marks);
    t.buckets = buckets;
    t.bands = bands;
    t.band_count = band_count;
    t.marks = marks;
    t.mark_count = result->transition_count;

    out = fopen(path, "w");
    if (out == NULL) {
        fprintf(stderr, "%s: error: cannot write: %s\n", path, strerror(errno));
        goto done;
    }
    rc = fg_svg_write(out, &t);
    if (fclose(out) != 0)
        rc = -1;
    if (rc < 0)
        fprintf(stderr, "%s: error: writing failed\n", path);

done:
    fg_cli_free(buckets, t.bucket_count * sizeof *buckets);
    fg_cli_free(bands, band_count * sizeof *bands);
    fg_cli_free(marks, band_count * sizeof *marks);
    return rc;
}
