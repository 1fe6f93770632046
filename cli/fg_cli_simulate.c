/*
 * fg_cli_simulate.c -- `fluxgate simulate FILE BREAKER TRACE.csv [--svg OUT]
 * [--seed N]`: reads and checks the whole trace first (so that a bad row stops
 * the run before any output), replays it (fg_sim.c), prints every transition
 * and a summary, and draws the SVG timeline on request (fg_cli_timeline.c).
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
    const char *svg_path;  /* NULL: no picture */
    fg_sim_options options;
} sim_args;

typedef struct rows {
    fg_trace_row *rows;
    size_t count, cap;
} rows;

static int usage_error(const char *fmt, const char *arg)
{
    fputs("fluxgate simulate: ", stderr);
    fprintf(stderr, fmt, arg);
    fputs("\nusage: fluxgate simulate FILE BREAKER TRACE.csv [--svg OUT.svg] [--seed N]\n", stderr);
    return FG_EXIT_USAGE;
}

/* Parses a decimal seed; the whole string must be digits (no sign). */
static int parse_seed(const char *s, uint64_t *out)
{
    char *end;
    unsigned long long v;
    if (*s < '0' || *s > '9')
        return 0;
    errno = 0;
    v = strtoull(s, &end, 10);
    if (*end != '\0' || errno == ERANGE)
        return 0;
    *out = (uint64_t)v;
    return 1;
}

/* Whether paths a and b name one file: the same string, or the same device
 * and inode (another path, a link) when both exist. */
static int same_file(const char *a, const char *b)
{
    struct stat sa, sb;
    if (strcmp(a, b) == 0)
        return 1;
    if (stat(a, &sa) != 0 || stat(b, &sb) != 0)
        return 0;
    return sa.st_dev == sb.st_dev && sa.st_ino == sb.st_ino;
}

/* Fills *a from argv; returns FG_EXIT_OK or FG_EXIT_USAGE (after saying why).
 * Options may stand anywhere, as --opt VALUE or --opt=VALUE. */
static int parse_args(int argc, char **argv, sim_args *a)
{
    const char *positional[3];
    int npos = 0, i, options_done = 0;
    memset(a, 0, sizeof *a);
    for (i = 1; i < argc; i++) {
        const char *arg = argv[i];
        const char *value = NULL;
        int is_svg = !options_done && strncmp(arg, "--svg", 5) == 0 && (arg[5] == '\0' || arg[5] == '=');
        int is_seed = !options_done && strncmp(arg, "--seed", 6) == 0 && (arg[6] == '\0' || arg[6] == '=');
        if (!options_done && strcmp(arg, "--") == 0) {
            options_done = 1; /* the rest are FILE, BREAKER, TRACE.csv */
            continue;
        }
        /* Given twice, which one was meant? Say so rather than pick one. */
        if ((is_svg && a->svg_path != NULL) || (is_seed && a->options.has_seed))
            return usage_error("%s given twice", is_svg ? "--svg" : "--seed");
        if (is_svg || is_seed) {
            const char *eq = strchr(arg, '=');
            if (eq != NULL)
                value = eq + 1;
            else if (i + 1 < argc)
                value = argv[++i];
            else
                return usage_error("%s needs a value", arg);
            if (is_svg) {
                if (*value == '\0')
                    return usage_error("%s needs a file name", "--svg");
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
        return usage_error("%s", npos == 0 ? "missing FILE, BREAKER and TRACE.csv"
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

/* Reads every row of text; on a bad row prints "path:line: error: ..." and
 * returns -1. The rows point into text. */
static int read_rows(const char *path, const char *text, size_t len, rows *out)
{
    fg_trace_reader reader;
    fg_trace_row row;
    char msg[256];
    int line = 0, rc;
    fg_trace_init(&reader, text, len);
    while ((rc = fg_trace_next(&reader, &row, &line, msg, sizeof msg)) == 1) {
        if (out->count == out->cap) {
            size_t ncap = out->cap == 0 ? 1024 : out->cap * 2;
            fg_trace_row *grown = fg_cli_grow(out->rows, out->cap * sizeof *grown, ncap * sizeof *grown);
            if (grown == NULL) {
                fprintf(stderr, "%s: error: out of memory\n", path);
                return -1;
            }
            out->rows = grown;
            out->cap = ncap;
        }
        out->rows[out->count++] = row;
    }
    if (rc < 0) {
        fprintf(stderr, "%s:%d: error: %s\n", path, line, msg);
        return -1;
    }
    return 0;
}

static void print_metric(const fg_metric *m)
{
    uint32_t i;
    printf("     window: %llu call%s, %llu failure%s", (unsigned long long)m->total_count,
           m->total_count == 1 ? "" : "s", (unsigned long long)m->failure_count,
           m->failure_count == 1 ? "" : "s");
    if (m->total_count > 0)
        printf(" (%.1f%%), avg duration %.3f s", 100.0 * (double)m->failure_count / (double)m->total_count,
               m->total_duration / (double)m->total_count);
    for (i = 0; i < m->threshold_count && i < FG_MAX_SLOW_THRESHOLDS; i++)
        printf(", %llu slow (>= %g s)", (unsigned long long)m->slow_counts[i], m->thresholds[i]);
    putchar('\n');
}

static void print_transitions(const fg_sim_result *r)
{
    size_t i;
    printf("transitions:\n");
    if (r->transition_count == 0)
        printf("  (none: the breaker stayed %s)\n", fg_state_name(r->initial_state));
    for (i = 0; i < r->transition_count; i++) {
        const fg_sim_transition *t = &r->transitions[i];
        printf("  #%zu at %.3f s: %s -> %s\n", i + 1, t->time, fg_state_name(t->old_state),
               fg_state_name(t->new_state));
        printf("     reason: %s\n", t->reason);
        print_metric(&t->metric);
    }
}

/* Seconds spent in each state: the intervals between transitions. */
static void time_in_states(const fg_sim_result *r, double *seconds, int *visited)
{
    double from = r->start;
    fg_state state = r->initial_state;
    size_t i;
    for (i = 0; i < FG_STATE_COUNT; i++) {
        seconds[i] = 0;
        visited[i] = 0;
    }
    for (i = 0; i < r->transition_count; i++) {
        visited[state] = 1;
        seconds[state] += r->transitions[i].time - from;
        from = r->transitions[i].time;
        state = r->transitions[i].new_state;
    }
    visited[state] = 1;
    seconds[state] += r->end - from;
}

static void print_summary(const fg_sim_result *r)
{
    size_t i, admitted = 0, rejected = 0, successes = 0, failures = 0, ignored = 0, stale = 0,
              unrecorded = 0, reopens = 0;
    double seconds[FG_STATE_COUNT], span = r->end - r->start;
    int visited[FG_STATE_COUNT], s, first = 1;

    for (i = 0; i < r->call_count; i++) {
        const fg_sim_call *c = &r->calls[i];
        if (!c->admitted) {
            rejected++;
            continue;
        }
        admitted++;
        switch (c->verdict) {
        case FG_VERDICT_SUCCESS: successes++; break;
        case FG_VERDICT_FAILURE: failures++; break;
        case FG_VERDICT_IGNORED: ignored++; break;
        case FG_VERDICT_STALE_SUCCESS: successes++; stale++; break;
        case FG_VERDICT_STALE_FAILURE: failures++; stale++; break;
        case FG_VERDICT_UNRECORDED: unrecorded++; break;
        }
    }
    for (i = 0; i < r->transition_count; i++)
        if (r->transitions[i].old_state == FG_STATE_HALF_OPEN && r->transitions[i].new_state == FG_STATE_OPEN)
            reopens++;
    time_in_states(r, seconds, visited);

    printf("summary:\n");
    printf("  calls          %zu: %zu admitted, %zu rejected\n", r->call_count, admitted, rejected);
    printf("  outcomes       %zu success%s, %zu failure%s, %zu ignored (untracked errors)\n", successes,
           successes == 1 ? "" : "es", failures, failures == 1 ? "" : "s", ignored);
    if (stale > 0)
        printf("  stale          %zu of those outcomes discarded (their call began before a transition)\n",
               stale);
    if (unrecorded > 0)
        printf("  unrecorded     %zu (admitted while disabled)\n", unrecorded);
    printf("  time in state ");
    for (s = 0; s < FG_STATE_COUNT; s++) {
        if (!visited[s])
            continue;
        printf("%s %s %.3f s (%.1f%%)", first ? "" : ",", fg_state_name((fg_state)s), seconds[s],
               span > 0 ? 100.0 * seconds[s] / span : 100.0);
        first = 0;
    }
    putchar('\n');
    printf("  transitions    %zu\n", r->transition_count);
    printf("  reopens        %zu (half_open -> open)\n", reopens);
}

int fg_cli_simulate(int argc, char **argv)
{
    sim_args a;
    rows trace = {NULL, 0, 0};
    fg_sim_result result;
    fg_policy *policy = NULL;
    char *text = NULL;
    size_t text_len = 0, text_size = 0;
    char err[512];
    long index;
    int status = FG_EXIT_ERROR;

    if (parse_args(argc, argv, &a) != FG_EXIT_OK)
        return FG_EXIT_USAGE;
    policy = fg_cli_load_policy(a.policy_path);
    if (policy == NULL)
        goto done;
    index = fg_cli_find_breaker(policy, a.policy_path, a.breaker);
    if (index < 0)
        goto done;
    text = fg_cli_read_file(a.trace_path, &text_len, &text_size);
    if (text == NULL || read_rows(a.trace_path, text, text_len, &trace) < 0)
        goto done;
    if (fg_sim_run(policy, (size_t)index, &a.options, trace.rows, trace.count, &result, err,
                   sizeof err) < 0) {
        fprintf(stderr, "%s: error: breaker '%s': %s\n", a.policy_path, a.breaker, err);
        goto done;
    }

    printf("simulate: breaker '%s' of %s on %s\n", a.breaker, a.policy_path, a.trace_path);
    printf("  %zu calls from %.3f s to %.3f s", trace.count, result.start, result.end);
    if (a.options.has_seed)
        printf(", seed %llu", (unsigned long long)a.options.seed);
    printf("\n\n");
    print_transitions(&result);
    putchar('\n');
    print_summary(&result);
    status = FG_EXIT_OK;
    if (a.svg_path != NULL) {
        char title[512];
        snprintf(title, sizeof title, "%s on %s", a.breaker, a.trace_path);
        if (fg_cli_write_timeline(a.svg_path, title, &result) < 0)
            status = FG_EXIT_ERROR;
        else
            printf("\ntimeline: %s\n", a.svg_path);
    }
    fg_sim_result_free(&result);

done:
    fg_cli_free(trace.rows, trace.cap * sizeof *trace.rows);
    fg_cli_free(text, text_size);
    if (policy != NULL)
        fg_policy_free(policy);
    return status;
}
