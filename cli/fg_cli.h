/*
 * fg_cli.h -- what the `fluxgate` tool's source files share: the subcommands,
 * their help texts, exit codes and a few helpers (allocating, printing a
 * compiler report). Each subcommand lives in its own file (fg_cli_*.c);
 * fluxgate.c only dispatches.
 */
#ifndef FG_CLI_H
#define FG_CLI_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "fluxgate.h"

/* Exit codes, the same for every subcommand. */
enum {
    FG_EXIT_OK = 0,    /* clean (warnings allowed) */
    FG_EXIT_ERROR = 1, /* the input has errors, or a run failed */
    FG_EXIT_USAGE = 2  /* the command line itself is wrong */
};

/* Subcommands: argv[0] is the subcommand's name; each returns an exit code. */
int fg_cli_check(int argc, char **argv);
int fg_cli_disasm(int argc, char **argv);
int fg_cli_simulate(int argc, char **argv);

/* simulate --svg (fg_cli_timeline.c): what the picture needs, collected while
 * the replay streams, in bounded memory. new returns NULL when out of memory;
 * start is called once before the first call (the breaker's first state and
 * SlowRate thresholds), then arrival/completion/transition as fg_sim's
 * observer reports them; write draws the SVG at path and returns 0, or -1
 * after printing "path: error: ..." to stderr. */
typedef struct fg_timeline fg_timeline;
struct fg_sim_call;
fg_timeline *fg_timeline_new(void);
void fg_timeline_start(fg_timeline *t, double start, fg_state initial, uint32_t threshold_count,
                       const double *thresholds);
void fg_timeline_arrival(fg_timeline *t, const struct fg_sim_call *call);
void fg_timeline_completion(fg_timeline *t, const struct fg_sim_call *call);
void fg_timeline_transition(fg_timeline *t, const fg_transition *transition);
int fg_timeline_write(fg_timeline *t, const char *path, const char *title, double start,
                      double end);
void fg_timeline_free(fg_timeline *t);

/* Help (fg_cli_help.c). The _for functions return NULL for an unknown subcommand. */
void fg_cli_usage(FILE *out);
const char *fg_cli_synopsis_for(const char *subcommand);
const char *fg_cli_help_for(const char *subcommand);

/* The tool's allocations, through the same hook as the library's (default
 * allocator). fg_cli_alloc returns NULL when out of memory. */
void *fg_cli_alloc(size_t size);
void *fg_cli_grow(void *ptr, size_t osize, size_t nsize);
void fg_cli_free(void *ptr, size_t size);

/* Prints every diagnostic of report to out with source line and caret, as
 * fg_report_format lays them out. Does not free report. */
void fg_cli_print_report(FILE *out, const fg_report *report);

/* Compiles path, prints its diagnostics (warnings too) to stderr, and returns
 * the policy or NULL on errors. The caller frees the policy. */
fg_policy *fg_cli_load_policy(const char *path);

/* Writes text from a policy file (names, listings) to a terminal: a control
 * byte -- a quoted name may hold ESC and start an escape sequence -- as '?',
 * as the report's source lines show them; newlines and tabs are kept when
 * lines is 1. */
void fg_cli_put_text(FILE *out, const char *text, int lines);

/* Prints the policy's breaker names after prefix, ", "-separated: the first
 * FG_CLI_NAMES_SHOWN, then "... (N more)", so that a policy of a million
 * breakers gives a line, not megabytes; a control byte in a name as '?'.
 * Nothing when it has none. */
enum { FG_CLI_NAMES_SHOWN = 20 };
void fg_cli_print_names(FILE *out, const fg_policy *policy, const char *prefix);

/* Looks a breaker up by name; prints "path: error: no breaker 'x' (breakers: a, b)"
 * to stderr and returns -1 when there is none. */
long fg_cli_find_breaker(const fg_policy *policy, const char *path, const char *name);

#endif /* FG_CLI_H */
