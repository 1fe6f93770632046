/*
 * fg_cli_simulate.c -- `fluxgate simulate FILE BREAKER TRACE.csv [--svg OUT]
 * [--seed N]`: streams the trace a line at a time through the replay
 * (fg_sim.c), prints every transition and a summary, and draws the SVG
 * timeline on request (fg_cli_timeline.c). Memory is bounded by the calls in
 * flight, not by the trace: transitions go to a temporary file as they
 * happen, and nothing is printed on stdout until the whole trace was read, so
 * a bad row still stops the run before any output.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "fg_cli.h"
#include "fg_sim.h"
#include "fg_trace.h"

typedef struct sim_args {
    const char *policy_path;
    const char *breaker;
    const char *trace_path;
    const char *svg_path; /* NULL: no picture */
    fg_sim_options options;
} sim_args;

static int usage_error(const char *fmt, const char *arg) {
    fputs("fluxgate simulate: ", stderr);
    fprintf(stderr, fmt, arg);
    fputs("\nusage: fluxgate simulate FILE BREAKER TRACE.csv [--svg OUT.svg] [--seed N]\n", stderr);
    return FG_EXIT_USAGE;
}

/* Parses a decimal seed; the whole string must be digits (no sign). */
static int parse_seed(const char *s, uint64_t *out) {
    if (*s < '0' || *s > '9') return 0;
    errno = 0;
    char *end;
    unsigned long long v = strtoull(s, &end, 10);
    if (*end != '\0' || errno == ERANGE) return 0;
    *out = (uint64_t)v;
    return 1;
}

/* Whether paths a and b name one file: the same string, or the same device
 * and inode (another path, a link) when both exist. */
static int same_file(const char *a, const char *b) {
    if (strcmp(a, b) == 0) return 1;
    struct stat sa, sb;
    if (stat(a, &sa) != 0 || stat(b, &sb) != 0) return 0;
    return sa.st_dev == sb.st_dev && sa.st_ino == sb.st_ino;
}

/* Fills *a from argv; returns FG_EXIT_OK or FG_EXIT_USAGE (after saying why).
 * Options may stand anywhere, as --opt VALUE or --opt=VALUE. */
static int parse_args(int argc, char **argv, sim_args *a) {
    const char *positional[3];
    int npos = 0, options_done = 0;
    memset(a, 0, sizeof *a);
    for (int i = 1; i < argc; i++) {
        const char *arg = argv[i];
        const char *value = NULL;
        int is_svg = !options_done && strncmp(arg, "--svg", 5) == 0 &&
                     (arg[5] == '\0' || arg[5] == '=');
        int is_seed = !options_done && strncmp(arg, "--seed", 6) == 0 &&
                      (arg[6] == '\0' || arg[6] == '=');
        if (!options_done && strcmp(arg, "--") == 0) {
            options_done = 1; /* the rest are FILE, BREAKER, TRACE.csv */
            continue;
        }
        /* Given twice, which one was meant? Say so rather than pick one. */
        if ((is_svg && a->svg_path != NULL) || (is_seed && a->options.has_seed))
            return usage_error("%s given twice", is_svg ? "--svg" : "--seed");
        if (is_svg || is_seed) {
            const char *eq = strchr(arg, '=');
            if (eq != NULL) value = eq + 1;
            else if (i + 1 < argc) value = argv[++i];
            else return usage_error("%s needs a value", arg);
            if (is_svg) {
                if (*value == '\0') return usage_error("%s needs a file name", "--svg");
                /* not standard output: the report is written there, and a
                 * file named "-" is never what was meant */
                if (strcmp(value, "-") == 0)
                    return usage_error("--svg needs a file name: '%s' (standard output) would mix "
                                       "the picture with the report", value);
                a->svg_path = value;
            } else {
                if (!parse_seed(value, &a->options.seed))
                    return usage_error("--seed takes a non-negative integer, not '%s'", value);
                a->options.has_seed = 1;
            }
        } else if (!options_done && arg[0] == '-' && arg[1] != '\0') {
            return usage_error("unknown option '%s'", arg);
        } else if (npos == 3) {
            return usage_error("unexpected argument '%s'", arg);
        } else {
            positional[npos++] = arg;
        }
    }
    if (npos < 3)
        return usage_error("%s", npos == 0   ? "missing FILE, BREAKER and TRACE.csv"
                                 : npos == 1 ? "missing BREAKER and TRACE.csv"
                                             : "missing TRACE.csv");
    a->policy_path = positional[0];
    a->breaker = positional[1];
    a->trace_path = positional[2];
    /* The picture is written last: it must not replace an input. */
    if (a->svg_path != NULL && same_file(a->svg_path, a->trace_path))
        return usage_error("--svg %s would overwrite the trace", a->svg_path);
    if (a->svg_path != NULL && same_file(a->svg_path, a->policy_path))
        return usage_error("--svg %s would overwrite the policy file", a->svg_path);
    return FG_EXIT_OK;
}

/* ---- reading the trace, a line at a time ------------------------------------- */

/* Longest trace line accepted: a valid one is a few hundred bytes. */
enum { MAX_LINE = 1 << 16 };

typedef struct line_reader {
    FILE *f;
    char *buf;         /* MAX_LINE bytes */
    size_t start, end; /* unread bytes */
    int eof;
} line_reader;

/* The next line (without "\n") in *line, *len; returns 1, 0 at the end, -1
 * when a line is too long or reading fails (errno set; EFBIG: too long). */
static int read_line(line_reader *r, const char **line, size_t *len) {
    for (;;) {
        char *nl = memchr(r->buf + r->start, '\n', r->end - r->start);
        if (nl != NULL) {
            *line = r->buf + r->start;
            *len = (size_t)(nl - *line);
            r->start += *len + 1;
            return 1;
        }
        if (r->eof) {
            if (r->start == r->end) return 0;
            *line = r->buf + r->start;
            *len = r->end - r->start;
            r->start = r->end;
            return 1;
        }
        memmove(r->buf, r->buf + r->start, r->end - r->start);
        r->end -= r->start;
        r->start = 0;
        if (r->end == MAX_LINE) {
            errno = EFBIG;
            return -1;
        }
        size_t got = fread(r->buf + r->end, 1, MAX_LINE - r->end, r->f);
        r->end += got;
        if (got == 0) {
            if (ferror(r->f)) return -1;
            r->eof = 1;
        }
    }
}

/* ---- what the run prints ------------------------------------------------------- */

/* Everything the report needs, gathered while the replay streams: counters,
 * time in each state, and the transitions already formatted into a temporary
 * file (they are printed after the header line, which needs the totals). */
typedef struct run {
    fg_sim sim;
    FILE *transitions;
    size_t transition_count, reopens;
    size_t admitted, rejected, successes, failures, ignored, stale, unrecorded;
    int started;
    fg_state state;
    double since;
    double seconds[FG_STATE_COUNT];
    int visited[FG_STATE_COUNT];
    fg_timeline *timeline; /* NULL without --svg */
} run;

static void start_run(run *r) {
    if (r->started) return;
    r->started = 1;
    r->state = r->sim.initial_state;
    r->since = r->sim.start;
    if (r->timeline != NULL)
        fg_timeline_start(r->timeline, r->sim.start, r->sim.initial_state, r->sim.threshold_count,
                          r->sim.thresholds);
}

static void print_metric(FILE *out, const fg_metric *m) {
    fprintf(out, "     window: %llu call%s, %llu failure%s", (unsigned long long)m->total_count,
            m->total_count == 1 ? "" : "s", (unsigned long long)m->failure_count,
            m->failure_count == 1 ? "" : "s");
    if (m->total_count > 0)
        fprintf(out, " (%.1f%%), avg duration %.3f s",
                100.0 * (double)m->failure_count / (double)m->total_count,
                m->total_duration / (double)m->total_count);
    for (uint32_t i = 0; i < m->threshold_count && i < FG_MAX_SLOW_THRESHOLDS; i++)
        fprintf(out, ", %llu slow (>= %g s)", (unsigned long long)m->slow_counts[i],
                m->thresholds[i]);
    fputc('\n', out);
}

static void on_arrival(void *ud, const fg_sim_call *c) {
    run *r = ud;
    start_run(r);
    if (!c->admitted) r->rejected++;
    if (r->timeline != NULL) fg_timeline_arrival(r->timeline, c);
}

static void on_completion(void *ud, const fg_sim_call *c) {
    run *r = ud;
    r->admitted++;
    switch (c->verdict) {
    case FG_VERDICT_SUCCESS: r->successes++; break;
    case FG_VERDICT_FAILURE: r->failures++; break;
    case FG_VERDICT_IGNORED: r->ignored++; break;
    case FG_VERDICT_STALE_SUCCESS:
        r->successes++;
        r->stale++;
        break;
    case FG_VERDICT_STALE_FAILURE:
        r->failures++;
        r->stale++;
        break;
    case FG_VERDICT_UNRECORDED: r->unrecorded++; break;
    }
    if (r->timeline != NULL) fg_timeline_completion(r->timeline, c);
}

static void on_transition(void *ud, const fg_transition *t) {
    run *r = ud;
    start_run(r);
    r->transition_count++;
    fprintf(r->transitions, "  #%zu at %.3f s: %s -> %s\n", r->transition_count, t->timestamp,
            fg_state_name(t->old_state), fg_state_name(t->new_state));
    fprintf(r->transitions, "     reason: %s\n", t->reason != NULL ? t->reason : "");
    print_metric(r->transitions, &t->metric);
    if (t->old_state == FG_STATE_HALF_OPEN && t->new_state == FG_STATE_OPEN) r->reopens++;
    /* Seconds spent in each state: the intervals between transitions. */
    r->visited[r->state] = 1;
    r->seconds[r->state] += t->timestamp - r->since;
    r->since = t->timestamp;
    r->state = t->new_state;
    if (r->timeline != NULL) fg_timeline_transition(r->timeline, t);
}

/* Copies the formatted transitions to stdout; -1 when reading them back fails. */
static int print_transitions(run *r) {
    printf("transitions:\n");
    if (r->transition_count == 0)
        printf("  (none: the breaker stayed %s)\n", fg_state_name(r->sim.initial_state));
    rewind(r->transitions);
    char buf[8192];
    size_t n;
    while ((n = fread(buf, 1, sizeof buf, r->transitions)) > 0) fwrite(buf, 1, n, stdout);
    return ferror(r->transitions) ? -1 : 0;
}

static void print_summary(run *r) {
    double span = r->sim.end - r->sim.start;
    r->visited[r->state] = 1;
    r->seconds[r->state] += r->sim.end - r->since;
    printf("summary:\n");
    printf("  calls          %zu: %zu admitted, %zu rejected\n", r->sim.calls, r->admitted,
           r->rejected);
    printf("  outcomes       %zu success%s, %zu failure%s, %zu ignored (untracked errors)\n",
           r->successes, r->successes == 1 ? "" : "es", r->failures, r->failures == 1 ? "" : "s",
           r->ignored);
    if (r->stale > 0)
        printf("  stale          %zu of those outcomes discarded (their call began before a "
               "transition)\n",
               r->stale);
    if (r->unrecorded > 0)
        printf("  unrecorded     %zu (admitted while disabled)\n", r->unrecorded);
    printf("  time in state ");
    int first = 1;
    for (int s = 0; s < FG_STATE_COUNT; s++) {
        if (!r->visited[s]) continue;
        printf("%s %s %.3f s (%.1f%%)", first ? "" : ",", fg_state_name((fg_state)s), r->seconds[s],
               span > 0 ? 100.0 * r->seconds[s] / span : 100.0);
        first = 0;
    }
    putchar('\n');
    printf("  transitions    %zu\n", r->transition_count);
    printf("  reopens        %zu (half_open -> open)\n", r->reopens);
}

/* Streams the trace at path through r->sim; on a bad row prints
 * "path:line[:col]: error: ..." and returns -1 (nothing on stdout yet). */
static int replay(const char *path, const char *policy_path, const char *breaker, run *r) {
    line_reader lr = {.f = fopen(path, "rb")};
    if (lr.f == NULL) {
        fprintf(stderr, "%s: error: cannot open: %s\n", path, strerror(errno));
        return -1;
    }
    lr.buf = fg_cli_alloc(MAX_LINE);
    if (lr.buf == NULL) {
        fprintf(stderr, "%s: error: out of memory\n", path);
        fclose(lr.f);
        return -1;
    }
    fg_trace_reader reader;
    fg_trace_init(&reader, NULL, 0);
    fg_trace_row row;
    char msg[256];
    const char *line;
    size_t len;
    int err_line = 0, rc, status = -1;
    while ((rc = read_line(&lr, &line, &len)) == 1) {
        rc = fg_trace_feed(&reader, line, len, &row, &err_line, msg, sizeof msg);
        if (rc < 0) break;
        if (rc == 1 && fg_sim_feed(&r->sim, &row) != 0) {
            if (r->sim.error_is_located) fprintf(stderr, "%s\n", r->sim.error);
            else
                fprintf(stderr, "%s: error: breaker '%s': %s\n", policy_path, breaker,
                        r->sim.error);
            goto done;
        }
    }
    if (rc == -1 && !reader.failed) {
        if (errno == EFBIG)
            fprintf(stderr, "%s:%d: error: line longer than %d bytes\n", path, reader.line + 1,
                    (int)MAX_LINE);
        else fprintf(stderr, "%s: error: cannot read: %s\n", path, strerror(errno));
        goto done;
    }
    if (rc == 0) rc = fg_trace_end(&reader, &err_line, msg, sizeof msg);
    if (rc < 0) {
        if (reader.failed_column > 0)
            fprintf(stderr, "%s:%d:%d: error: %s\n", path, err_line, reader.failed_column, msg);
        else fprintf(stderr, "%s:%d: error: %s\n", path, err_line, msg);
        goto done;
    }
    fg_sim_finish(&r->sim);
    status = 0;
done:
    fg_cli_free(lr.buf, MAX_LINE);
    fclose(lr.f);
    return status;
}

int fg_cli_simulate(int argc, char **argv) {
    sim_args a;
    if (parse_args(argc, argv, &a) != FG_EXIT_OK) return FG_EXIT_USAGE;
    run r = {0};
    int status = FG_EXIT_ERROR;
    fg_policy *policy = fg_cli_load_policy(a.policy_path);
    if (policy == NULL) goto done;
    long index = fg_cli_find_breaker(policy, a.policy_path, a.breaker);
    if (index < 0) goto done;
    r.transitions = tmpfile();
    if (r.transitions == NULL) {
        fprintf(stderr, "fluxgate simulate: error: cannot make a temporary file: %s\n",
                strerror(errno));
        goto done;
    }
    if (a.svg_path != NULL && (r.timeline = fg_timeline_new()) == NULL) {
        fprintf(stderr, "%s: error: out of memory\n", a.svg_path);
        goto done;
    }
    fg_sim_observer observer = {.ud = &r,
                                .arrival = on_arrival,
                                .completion = on_completion,
                                .transition = on_transition};
    fg_sim_open(&r.sim, policy, (size_t)index, &a.options, &observer);
    if (replay(a.trace_path, a.policy_path, a.breaker, &r) != 0) goto done;

    printf("simulate: breaker '%s' of %s on %s\n", a.breaker, a.policy_path, a.trace_path);
    printf("  %zu calls from %.3f s to %.3f s", r.sim.calls, r.sim.start, r.sim.end);
    if (a.options.has_seed) printf(", seed %llu", (unsigned long long)a.options.seed);
    printf("\n\n");
    if (print_transitions(&r) != 0) {
        fprintf(stderr, "fluxgate simulate: error: cannot read back the transitions\n");
        goto done;
    }
    putchar('\n');
    print_summary(&r);
    status = FG_EXIT_OK;
    if (a.svg_path != NULL) {
        char title[512];
        snprintf(title, sizeof title, "%s on %s", a.breaker, a.trace_path);
        if (fg_timeline_write(r.timeline, a.svg_path, title, r.sim.start, r.sim.end) < 0)
            status = FG_EXIT_ERROR;
        else printf("\ntimeline: %s\n", a.svg_path);
    }

done:
    fg_sim_close(&r.sim);
    fg_timeline_free(r.timeline);
    if (r.transitions != NULL) fclose(r.transitions);
    if (policy != NULL) fg_policy_free(policy);
    return status;
}
