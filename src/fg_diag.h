/*
 * fg_diag.h -- building diagnostics: the internal side of fg_report.
 *
 * The compiler reports through a sink: one sink per chunk (a policy file, or
 * one field of fg_policy_from_expressions), all sinks of a compilation adding
 * to one fg_report. A sink knows the chunk's name and text, so a caller only
 * gives a location and a printf-style message; the sink copies the source line
 * for the caret display. The number of errors kept is capped (FG_MAX_ERRORS,
 * FG_MAX_WARNINGS) so that hostile input cannot produce an unbounded report;
 * past the cap diagnostics are only counted, so that the report can still
 * say how many there were ("1000 errors, first 100 shown").
 */
#ifndef FG_DIAG_H
#define FG_DIAG_H

#include <stddef.h>

#include "fg_ast.h"
#include "fluxgate.h"

enum { FG_MAX_ERRORS = 100, FG_MAX_WARNINGS = 100 };

#if defined(__GNUC__) || defined(__clang__)
#define FG_PRINTF(f, a) __attribute__((format(printf, f, a)))
#else
#define FG_PRINTF(f, a)
#endif

typedef struct fg_diag_sink {
    fg_report *report;  /* where diagnostics go; NULL: only counted */
    const char *chunk;  /* borrowed; copied into each diagnostic */
    const char *source; /* borrowed; for source lines */
    size_t length;
    int chunk_seq;      /* orders chunks in the report */
    size_t errors;      /* errors kept through this sink (at most FG_MAX_ERRORS) */
    size_t warnings;    /* warnings kept (at most FG_MAX_WARNINGS) */
} fg_diag_sink;

/* A new empty report, allocated with alloc; NULL when out of memory. */
fg_report *fg_report_new(const fg_allocator *alloc);

/* Prepares a sink for one chunk. report may be NULL (errors are then only
 * counted). chunk and source are borrowed for the sink's lifetime. */
void fg_diag_begin(fg_diag_sink *sink, fg_report *report, const char *chunk,
                   const char *source, size_t length);

/* Adds a located error (warning). loc.line == 0 means "no position". Messages
 * longer than FG_DIAG_MESSAGE_MAX bytes are truncated. When memory runs out
 * the report records a single out-of-memory error instead. */
void fg_diag_error(fg_diag_sink *sink, fg_loc loc, const char *fmt, ...) FG_PRINTF(3, 4);
void fg_diag_warning(fg_diag_sink *sink, fg_loc loc, const char *fmt, ...) FG_PRINTF(3, 4);

/* Records that the compilation ran out of memory (one diagnostic, however
 * often it is called); counts as an error. */
void fg_diag_oom(fg_diag_sink *sink);

/* 1 when the sink has reached the error cap: further errors are only counted. */
int fg_diag_full(const fg_diag_sink *sink);

/* Sorts the report's diagnostics by chunk, then position (stable). Called
 * once before the report is handed to the caller. */
void fg_report_finish(fg_report *report);

enum { FG_DIAG_MESSAGE_MAX = 480, FG_DIAG_LINE_MAX = 240 };

#endif /* FG_DIAG_H */
