/*
 * fg_cli_help.c -- the `fluxgate` tool's usage and per-subcommand help, in one
 * table so that `fluxgate --help`, `fluxgate help SUBCOMMAND` and the man page
 * (doc/fluxgate.1, kept in step by hand) say the same things.
 */
#include <string.h>

#include "fg_cli.h"

typedef struct help_entry {
    const char *name;
    const char *synopsis;
    const char *text;
} help_entry;

static const help_entry entries[] = {
    {"check", "fluxgate check FILE...",
     "Compiles each policy file and prints every error and warning as\n"
     "  FILE:LINE:COL: error|warning: MESSAGE\n"
     "followed by the source line and a caret under the offending token, then\n"
     "one line per file: 'FILE: ok (N breakers: ...)' or 'FILE: N errors' (with\n"
     "', first 100 shown' when there were more than a report keeps).\n"
     "Warnings include a tripper that can never fire (MinRequests(200) in a\n"
     "CountWindow(100)), HalfOpened() where only closed-state evaluation happens,\n"
     "and a named tracker or tripper that is never used.\n"
     "\n"
     "Exit status: 0 when no file has errors (warnings allowed), 1 when one has,\n"
     "2 on a usage error.\n"},
    {"disasm", "fluxgate disasm FILE [BREAKER]",
     "Prints the compiled form of every breaker in FILE, or of BREAKER only:\n"
     "its window, tracker, tripper, retry, permit and settings with the source\n"
     "text each came from, and the bytecode of the tracker and tripper programs\n"
     "(leaf tests, jumps, constant pool).\n"
     "\n"
     "Exit status: 0 on success, 1 when FILE has errors or no breaker BREAKER,\n"
     "2 on a usage error.\n"},
    {"simulate", "fluxgate simulate FILE BREAKER TRACE.csv [--svg OUT.svg] [--seed N]",
     "Replays a trace of calls through BREAKER of FILE on a simulated clock and\n"
     "prints every transition (time, old -> new state, the rule text that fired,\n"
     "the window's metric at that moment), then a summary: calls admitted and\n"
     "rejected, successes, failures, ignored (untracked) errors, time spent in\n"
     "each state, transitions and reopens.\n"
     "\n"
     "TRACE.csv starts with the header line 'time,outcome,duration[,status]';\n"
     "each further line is one call: arrival time in seconds (never decreasing),\n"
     "outcome 'ok', 'error' or an error type name (e.g. 'timeout'), duration in\n"
     "seconds, and an optional integer status (e.g. 503); times and durations\n"
     "up to 10^9 s. A malformed line stops the run with 'TRACE.csv:LINE: error:\n"
     "...' (LINE:COL for one field) and exit status 1. The trace is streamed:\n"
     "memory follows the calls in flight, not the trace's length.\n"
     "\n"
     "Semantics: the clock starts at the first call's time. A call arriving at t\n"
     "asks the breaker at t; an admitted call completes at t + duration, and\n"
     "completions are recorded in time order: every completion due at or before\n"
     "the next arrival is recorded before that arrival is asked. 'ok' is a result\n"
     "(with its status), 'error' an error of type \"error\", any other word an\n"
     "error of that type and message; the breaker's tracker classifies them.\n"
     "\n"
     "  --svg OUT.svg  also draw the run as a standalone SVG timeline: failure\n"
     "                 rate and call volume over time, states as coloured bands,\n"
     "                 transitions marked (hover one for its rule)\n"
     "  --seed N       seed the breaker's random source, so that Random/RampUp\n"
     "                 permits and retry jitter replay identically\n"
     "  --             end of options\n"
     "\n"
     "Exit status: 0 on success, 1 when FILE or TRACE.csv has errors, 2 on a\n"
     "usage error.\n"},
    {"help", "fluxgate help [SUBCOMMAND]", "Prints the usage, or the help of one subcommand.\n"},
};

void fg_cli_usage(FILE *out) {
    fprintf(out, "fluxgate %s -- check, inspect and simulate circuit-breaker policies\n\nusage:\n",
            fg_version());
    for (size_t i = 0; i < sizeof entries / sizeof entries[0]; i++)
        fprintf(out, "  %s\n", entries[i].synopsis);
    fputs("  fluxgate --help | --version\n"
          "\n"
          "Run 'fluxgate help SUBCOMMAND' for the details of one; 'man fluxgate' for all.\n",
          out);
}

/* The table's entry for subcommand, or NULL when there is none. */
static const help_entry *find_entry(const char *subcommand) {
    for (size_t i = 0; i < sizeof entries / sizeof entries[0]; i++)
        if (strcmp(entries[i].name, subcommand) == 0) return &entries[i];
    return NULL;
}

const char *fg_cli_help_for(const char *subcommand) {
    const help_entry *e = find_entry(subcommand);
    return e != NULL ? e->text : NULL;
}

const char *fg_cli_synopsis_for(const char *subcommand) {
    const help_entry *e = find_entry(subcommand);
    return e != NULL ? e->synopsis : NULL;
}
