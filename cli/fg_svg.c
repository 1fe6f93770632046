/*
 * fg_svg.c -- the SVG timeline of `fluxgate simulate` (see fg_svg.h).
 *
 * One fixed canvas, two panels sharing the time axis: the failure rate of the
 * calls completed in each bucket (0-100 %) on top, the call volume per bucket
 * (admitted stacked under rejected) below. State bands run behind both panels
 * so that a rate spike lines up with the state it caused. Plain SVG 1.1, no
 * script, no external resources: any browser shows it, xmllint parses it.
 */
#include "fg_svg.h"

#include <math.h>
#include <string.h>

/* The canvas, in SVG user units (pixels). */
enum {
    WIDTH = 1000,
    HEIGHT = 600,
    PLOT_LEFT = 70,
    PLOT_RIGHT = 980,
    RATE_TOP = 56,
    RATE_BOTTOM = 296,
    VOLUME_TOP = 326,
    VOLUME_BOTTOM = 446,
    LEGEND_TOP = 512
};

/* Band colours by state, in FG_STATE_LIST order: pale so the data stays readable. */
static const char *const band_colour[FG_STATE_COUNT] = {
    "#dcefd7", /* closed: green */
    "#f6c9c4", /* open: red */
    "#fde7b0", /* half_open: amber */
    "#d5e5f5", /* metrics_only: blue */
    "#e4e4e4", /* disabled: grey */
    "#e3a6a6", /* forced_open: dark red */
};

#define RATE_COLOUR "#6a1b9a"
#define TRACE_RATE_COLOUR "#777777"
#define SLOW_COLOUR "#00897b"
#define ADMITTED_COLOUR "#5b7fa6"
#define REJECTED_COLOUR "#e67e22"
#define TRANSITION_COLOUR "#333333"

double fg_svg_bucket_width(double span, size_t max_buckets) {
    static const double steps[] = {1, 2, 5};
    double scale = 0.001;
    if (!(span > 0) || max_buckets == 0) return 1;
    for (;;) {
        for (size_t i = 0; i < sizeof steps / sizeof steps[0]; i++) {
            double w = steps[i] * scale;
            if (span / w <= (double)max_buckets) return w;
        }
        scale *= 10;
    }
}

/* A "nice" tick step (1, 2 or 5 times a power of ten) giving about target ticks. */
static double tick_step(double span, int target) {
    double raw = span / target;
    if (!(raw > 0)) return 1;
    double mag = pow(10, floor(log10(raw)));
    double norm = raw / mag;
    return (norm <= 1 ? 1 : norm <= 2 ? 2 : norm <= 5 ? 5 : 10) * mag;
}

static double x_of(const fg_svg_timeline *t, double time) {
    double f = (time - t->start) / (t->end - t->start);
    if (f < 0) f = 0;
    if (f > 1) f = 1;
    return PLOT_LEFT + f * (PLOT_RIGHT - PLOT_LEFT);
}

/* Text content and attribute values: the five XML specials escaped, control
 * characters (not allowed in XML 1.0) dropped. */
static void put_escaped(FILE *out, const char *s) {
    for (; s != NULL && *s != '\0'; s++) {
        switch (*s) {
        case '&': fputs("&amp;", out); break;
        case '<': fputs("&lt;", out); break;
        case '>': fputs("&gt;", out); break;
        case '"': fputs("&quot;", out); break;
        case '\'': fputs("&apos;", out); break;
        default:
            if ((unsigned char)*s >= 0x20 || *s == '\t') fputc(*s, out);
        }
    }
}

/* Seconds as an axis label: no trailing zeros ("90", "2.5"). */
static void put_seconds(FILE *out, double v) {
    fprintf(out, "%.6g", fabs(v) < 1e-9 ? 0.0 : v);
}

static void draw_header(FILE *out, const fg_svg_timeline *t) {
    fprintf(out,
            "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
            "<svg xmlns=\"http://www.w3.org/2000/svg\" version=\"1.1\" width=\"%d\" height=\"%d\""
            " viewBox=\"0 0 %d %d\" font-family=\"Helvetica, Arial, sans-serif\" "
            "font-size=\"12\">\n",
            WIDTH, HEIGHT, WIDTH, HEIGHT);
    fputs("<title>", out);
    put_escaped(out, t->title);
    fputs("</title>\n", out);
    fprintf(out, "<rect x=\"0\" y=\"0\" width=\"%d\" height=\"%d\" fill=\"#ffffff\"/>\n", WIDTH,
            HEIGHT);
    fprintf(out, "<text x=\"%d\" y=\"24\" font-size=\"17\" font-weight=\"bold\">", PLOT_LEFT);
    put_escaped(out, t->title);
    fputs("</text>\n", out);
}

static void draw_bands(FILE *out, const fg_svg_timeline *t) {
    fputs("<g id=\"bands\">\n", out);
    for (size_t i = 0; i < t->band_count; i++) {
        const fg_svg_band *b = &t->bands[i];
        double x0 = x_of(t, b->start), x1 = x_of(t, b->end);
        fprintf(out,
                "<rect class=\"band\" data-state=\"%s\" x=\"%.2f\" y=\"%d\" width=\"%.2f\" "
                "height=\"%d\""
                " fill=\"%s\"><title>%s from ",
                fg_state_name(b->state), x0, RATE_TOP, x1 - x0, VOLUME_BOTTOM - RATE_TOP,
                band_colour[b->state], fg_state_name(b->state));
        put_seconds(out, b->start);
        fputs(" s to ", out);
        put_seconds(out, b->end);
        fputs(" s</title></rect>\n", out);
    }
    fputs("</g>\n", out);
    /* The bands run behind both panels in one piece; blank out the gap between
     * the panels so that each panel reads as its own chart. */
    fprintf(out, "<rect x=\"%d\" y=\"%d\" width=\"%d\" height=\"%d\" fill=\"#ffffff\"/>\n",
            PLOT_LEFT, RATE_BOTTOM + 1, PLOT_RIGHT - PLOT_LEFT, VOLUME_TOP - RATE_BOTTOM - 2);
}

/* Time ticks under the volume panel, and vertical grid lines through both panels. */
static void draw_time_axis(FILE *out, const fg_svg_timeline *t) {
    double step = tick_step(t->end - t->start, 10);
    double v = ceil(t->start / step) * step;
    fputs("<g id=\"time-axis\" stroke=\"#999999\" stroke-width=\"0.5\">\n", out);
    for (; v <= t->end + step * 1e-9; v += step) {
        double x = x_of(t, v);
        fprintf(out,
                "<line x1=\"%.2f\" y1=\"%d\" x2=\"%.2f\" y2=\"%d\" stroke-dasharray=\"2,3\"/>\n", x,
                RATE_TOP, x, VOLUME_BOTTOM + 4);
        fprintf(out,
                "<text x=\"%.2f\" y=\"%d\" text-anchor=\"middle\" stroke=\"none\" "
                "fill=\"#333333\">",
                x, VOLUME_BOTTOM + 18);
        put_seconds(out, v);
        fputs("</text>\n", out);
    }
    fputs("</g>\n", out);
    fprintf(out,
            "<text x=\"%d\" y=\"%d\" text-anchor=\"middle\">time (seconds of the trace)</text>\n",
            (PLOT_LEFT + PLOT_RIGHT) / 2, VOLUME_BOTTOM + 38);
}

/* The lines of the rate panel. */
typedef enum rate_series {
    FAILURES,       /* failures among the completed calls the breaker let through */
    TRACE_FAILURES, /* failures among every call of the trace, by arrival */
    SLOW            /* slow successes among the completed calls let through */
} rate_series;

/* Draws one rate line; it breaks over buckets without calls, since no data
 * is not 0 %. */
static void draw_rate_line(FILE *out, const fg_svg_timeline *t, rate_series series) {
    double h = RATE_BOTTOM - RATE_TOP;
    int pen_down = 0;
    switch (series) {
    case FAILURES:
        fprintf(out, "<path id=\"failure-rate\" fill=\"none\" stroke=\"%s\" stroke-width=\"2\"",
                RATE_COLOUR);
        break;
    case TRACE_FAILURES:
        fprintf(out,
                "<path id=\"trace-failure-rate\" fill=\"none\" stroke=\"%s\" stroke-width=\"1.2\""
                " stroke-dasharray=\"4,2\"",
                TRACE_RATE_COLOUR);
        break;
    case SLOW:
        fprintf(out, "<path id=\"slow-rate\" fill=\"none\" stroke=\"%s\" stroke-width=\"1.5\"",
                SLOW_COLOUR);
        break;
    }
    fputs(" stroke-linejoin=\"round\" d=\"", out);
    for (size_t i = 0; i < t->bucket_count; i++) {
        const fg_svg_bucket *b = &t->buckets[i];
        uint32_t part = series == FAILURES ? b->failures
                        : series == SLOW   ? b->slow
                                           : b->trace_failures;
        uint32_t whole = series == TRACE_FAILURES ? b->trace_failures + b->trace_successes
                                                  : b->failures + b->successes;
        if (whole == 0) {
            pen_down = 0;
            continue;
        }
        double x = x_of(t, t->start + ((double)i + 0.5) * t->bucket_width);
        double y = RATE_BOTTOM - h * part / whole;
        fprintf(out, "%s%.2f,%.2f ", pen_down ? "L" : "M", x, y);
        pen_down = 1;
    }
    fputs("\"/>\n", out);
}

static void draw_rate_panel(FILE *out, const fg_svg_timeline *t) {
    double h = RATE_BOTTOM - RATE_TOP;
    fputs("<g id=\"rate-axis\" font-size=\"11\">\n", out);
    for (int pct = 0; pct <= 100; pct += 25) {
        double y = RATE_BOTTOM - h * pct / 100.0;
        fprintf(out,
                "<line x1=\"%d\" y1=\"%.2f\" x2=\"%d\" y2=\"%.2f\""
                " stroke=\"#999999\" stroke-width=\"0.5\"/>\n",
                PLOT_LEFT - 4, y, PLOT_RIGHT, y);
        fprintf(out, "<text x=\"%d\" y=\"%.2f\" text-anchor=\"end\">%d%%</text>\n", PLOT_LEFT - 7,
                y + 4, pct);
    }
    fputs("</g>\n", out);
    fprintf(out,
            "<text transform=\"translate(18,%d) rotate(-90)\" text-anchor=\"middle\">share of "
            "calls</text>\n",
            (RATE_TOP + RATE_BOTTOM) / 2);

    draw_rate_line(out, t, TRACE_FAILURES);
    if (t->has_slow_threshold) draw_rate_line(out, t, SLOW);
    draw_rate_line(out, t, FAILURES);
}

static void draw_volume_panel(FILE *out, const fg_svg_timeline *t) {
    double h = VOLUME_BOTTOM - VOLUME_TOP;
    double bar_w = (PLOT_RIGHT - PLOT_LEFT) * t->bucket_width / (t->end - t->start);
    uint32_t peak = 1;
    for (size_t i = 0; i < t->bucket_count; i++)
        if (t->buckets[i].admitted + t->buckets[i].rejected > peak)
            peak = t->buckets[i].admitted + t->buckets[i].rejected;
    double step = tick_step(peak, 3);
    if (step < 1) step = 1;
    /* Headroom above the busiest bucket, so its bar does not touch the frame. */
    double top = ceil(peak * 1.08 / step) * step;

    fputs("<g id=\"volume-axis\" font-size=\"11\">\n", out);
    for (double v = 0; v <= top + step * 1e-9; v += step) {
        double y = VOLUME_BOTTOM - h * v / top;
        fprintf(out,
                "<line x1=\"%d\" y1=\"%.2f\" x2=\"%d\" y2=\"%.2f\""
                " stroke=\"#999999\" stroke-width=\"0.5\"/>\n",
                PLOT_LEFT - 4, y, PLOT_RIGHT, y);
        fprintf(out, "<text x=\"%d\" y=\"%.2f\" text-anchor=\"end\">%.0f</text>\n", PLOT_LEFT - 7,
                y + 4, v);
    }
    fputs("</g>\n", out);
    fprintf(out,
            "<text transform=\"translate(18,%d) rotate(-90)\" text-anchor=\"middle\">calls per ",
            (VOLUME_TOP + VOLUME_BOTTOM) / 2);
    put_seconds(out, t->bucket_width);
    fputs(" s</text>\n", out);

    /* Two paths of bars: admitted from the axis up, rejected stacked on top;
     * clipped to the panel, since the last bucket may reach past the end. */
    fprintf(out,
            "<clipPath id=\"volume-clip\">"
            "<rect x=\"%d\" y=\"%d\" width=\"%d\" height=\"%d\"/></clipPath>\n",
            PLOT_LEFT, VOLUME_TOP, PLOT_RIGHT - PLOT_LEFT, VOLUME_BOTTOM - VOLUME_TOP);
    for (int series = 0; series < 2; series++) {
        fprintf(out, "<path id=\"%s\" clip-path=\"url(#volume-clip)\" fill=\"%s\" d=\"",
                series == 0 ? "admitted" : "rejected",
                series == 0 ? ADMITTED_COLOUR : REJECTED_COLOUR);
        for (size_t i = 0; i < t->bucket_count; i++) {
            const fg_svg_bucket *b = &t->buckets[i];
            double base = series == 0 ? 0 : b->admitted;
            double n = series == 0 ? b->admitted : b->rejected;
            double x = PLOT_LEFT + (double)i * bar_w + bar_w * 0.1;
            if (n == 0) continue;
            fprintf(out, "M%.2f,%.2f h%.2f v%.2f h%.2f z ", x, VOLUME_BOTTOM - h * base / top,
                    bar_w * 0.8, -h * n / top, -bar_w * 0.8);
        }
        fputs("\"/>\n", out);
    }
}

static void draw_transitions(FILE *out, const fg_svg_timeline *t) {
    /* Numbers above the plot match the numbered list `simulate` prints; past
     * 40 transitions they would be unreadable, so only the lines remain. A
     * number too close to the previous one goes up a row. */
    int numbered = t->mark_count <= 40, row = 0;
    double last_x = -100;
    fputs("<g id=\"transitions\">\n", out);
    for (size_t i = 0; i < t->mark_count; i++) {
        const fg_svg_mark *m = &t->marks[i];
        double x = x_of(t, m->time);
        fprintf(out,
                "<line class=\"transition\" x1=\"%.2f\" y1=\"%d\" x2=\"%.2f\" y2=\"%d\" "
                "stroke=\"%s\""
                " stroke-width=\"1.2\" stroke-dasharray=\"5,3\"><title>#%zu at ",
                x, RATE_TOP - 6, x, VOLUME_BOTTOM, TRANSITION_COLOUR, i + 1);
        put_seconds(out, m->time);
        fprintf(out, " s: %s -&gt; %s: ", fg_state_name(m->old_state), fg_state_name(m->new_state));
        put_escaped(out, m->reason);
        fputs("</title></line>\n", out);
        if (numbered) {
            row = x - last_x < 16 ? (row + 1) % 2 : 0;
            last_x = x;
            fprintf(out,
                    "<text x=\"%.2f\" y=\"%d\" text-anchor=\"middle\" "
                    "font-size=\"10\">%zu</text>\n",
                    x, RATE_TOP - 9 - 10 * row, i + 1);
        }
    }
    fputs("</g>\n", out);
}

/* Legend entries are laid out left to right; each returns the next x. Text
 * width is estimated at 6.5 units per character of the 12-unit font. */
static int legend_text(FILE *out, int x, int y, const char *label) {
    fprintf(out, "<text x=\"%d\" y=\"%d\">%s</text>\n", x + 19, y + 10, label);
    return x + 19 + (int)(6.5 * (double)strlen(label)) + 24;
}

static int legend_box(FILE *out, int x, int y, const char *fill, const char *label) {
    fprintf(out,
            "<rect x=\"%d\" y=\"%d\" width=\"14\" height=\"12\" fill=\"%s\""
            " stroke=\"#888888\" stroke-width=\"0.5\"/>\n",
            x, y, fill);
    return legend_text(out, x, y, label);
}

static int legend_line(FILE *out, int x, int y, const char *colour, const char *attrs,
                       const char *label) {
    fprintf(out, "<line x1=\"%d\" y1=\"%d\" x2=\"%d\" y2=\"%d\" stroke=\"%s\" %s/>\n", x, y + 6,
            x + 14, y + 6, colour, attrs);
    return legend_text(out, x, y, label);
}

static void draw_legend(FILE *out, const fg_svg_timeline *t) {
    int y = LEGEND_TOP;
    fputs("<g id=\"legend\">\n", out);
    fprintf(out, "<text x=\"%d\" y=\"%d\" font-weight=\"bold\">state</text>\n", PLOT_LEFT, y + 10);
    int x = PLOT_LEFT + 50;
    for (int s = 0; s < FG_STATE_COUNT; s++)
        x = legend_box(out, x, y, band_colour[s], fg_state_name((fg_state)s));
    y += 22;
    fprintf(out, "<text x=\"%d\" y=\"%d\" font-weight=\"bold\">rate</text>\n", PLOT_LEFT, y + 10);
    x = legend_line(out, PLOT_LEFT + 50, y, RATE_COLOUR, "stroke-width=\"2\"",
                    "failures (calls let through)");
    x = legend_line(out, x, y, TRACE_RATE_COLOUR, "stroke-width=\"1.2\" stroke-dasharray=\"4,2\"",
                    "failures (all calls of the trace)");
    if (t->has_slow_threshold) {
        char label[64];
        snprintf(label, sizeof label, "slow, >= %g s (calls let through)", t->slow_threshold);
        legend_line(out, x, y, SLOW_COLOUR, "stroke-width=\"1.5\"", label);
    }
    y += 22;
    fprintf(out, "<text x=\"%d\" y=\"%d\" font-weight=\"bold\">calls</text>\n", PLOT_LEFT, y + 10);
    x = legend_box(out, PLOT_LEFT + 50, y, ADMITTED_COLOUR, "admitted");
    x = legend_box(out, x, y, REJECTED_COLOUR, "rejected");
    fprintf(out,
            "<line x1=\"%d\" y1=\"%d\" x2=\"%d\" y2=\"%d\" stroke=\"%s\""
            " stroke-width=\"1.2\" stroke-dasharray=\"5,3\"/>\n",
            x + 7, y - 1, x + 7, y + 13, TRANSITION_COLOUR);
    legend_text(out, x, y, "transition (numbered as simulate lists them; hover for its rule)");
    fputs("</g>\n", out);
}

int fg_svg_write(FILE *out, const fg_svg_timeline *timeline) {
    draw_header(out, timeline);
    draw_bands(out, timeline);
    draw_time_axis(out, timeline);
    draw_rate_panel(out, timeline);
    draw_volume_panel(out, timeline);
    draw_transitions(out, timeline);
    /* Panel frames last, so that bars and bands do not cover them. */
    fprintf(out,
            "<rect x=\"%d\" y=\"%d\" width=\"%d\" height=\"%d\" fill=\"none\" "
            "stroke=\"#555555\"/>\n",
            PLOT_LEFT, RATE_TOP, PLOT_RIGHT - PLOT_LEFT, RATE_BOTTOM - RATE_TOP);
    fprintf(out,
            "<rect x=\"%d\" y=\"%d\" width=\"%d\" height=\"%d\" fill=\"none\" "
            "stroke=\"#555555\"/>\n",
            PLOT_LEFT, VOLUME_TOP, PLOT_RIGHT - PLOT_LEFT, VOLUME_BOTTOM - VOLUME_TOP);
    draw_legend(out, timeline);
    fputs("</svg>\n", out);
    fflush(out);
    return ferror(out) ? -1 : 0;
}
