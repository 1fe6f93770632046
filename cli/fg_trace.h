/*
 * fg_trace.h -- the reader of `fluxgate simulate` traces: CSV files of calls.
 *
 *     time,outcome,duration[,status]
 *     0.000,ok,0.120,200
 *     0.250,timeout,2.000
 *     0.500,error,0.010,503
 *
 * The first line is a header naming exactly those columns (status optional).
 * Every further line is one call: `time` (seconds, >= 0, never smaller than the
 * row before), `outcome` (`ok`, `error`, or an error type name such as
 * `timeout` or `connection refused`), `duration` (seconds, >= 0) and, when the
 * header has the column, an optional integer `status` (an empty cell means "no
 * status"). Fields may be padded with blanks; CRLF line ends and a UTF-8
 * byte order mark are accepted; blank lines carry no call and are passed over. Anything else is an error
 * with its line number: the reader never skips a row it cannot read.
 *
 * Times and durations must be at most FG_TRACE_MAX_SECONDS (10^9 s, about
 * 31.7 years): a larger one is an error with its line and column, rather than
 * a 300-digit number in the output.
 *
 * The reader is a pure function over bytes (they need not be NUL-terminated):
 * no allocation, no I/O, no global state, so it can be fuzzed directly. It
 * reads a whole buffer (fg_trace_init, fg_trace_next) or is fed one line at a
 * time (fg_trace_feed, fg_trace_end), so that `fluxgate simulate` streams a
 * trace of any length. Row strings point into the buffer or the line.
 */
#ifndef FG_TRACE_H
#define FG_TRACE_H

#include <stddef.h>
#include <stdint.h>

/* Longest outcome word accepted, in bytes. */
enum { FG_TRACE_MAX_WORD = 128 };

/* Largest time or duration accepted, in seconds. */
#define FG_TRACE_MAX_SECONDS 1e9

typedef enum fg_trace_kind {
    FG_TRACE_OK,   /* `ok`: the call returned a result */
    FG_TRACE_ERROR /* `error` or a type name: the call failed with an error */
} fg_trace_kind;

/* One call. type points into the reader's buffer (not NUL-terminated). */
typedef struct fg_trace_row {
    int line;    /* 1-based line number in the file */
    double time; /* arrival, seconds */
    fg_trace_kind kind;
    const char *type; /* FG_TRACE_ERROR: "error" or the type name; NULL for ok */
    size_t type_len;
    double duration; /* seconds */
    int has_status;
    int64_t status;
} fg_trace_row;

/* Cursor over one trace. Fields are private to fg_trace.c. */
typedef struct fg_trace_reader {
    const char *buf;
    size_t len;
    size_t pos;
    int line; /* number of the last line read */
    int has_status_column;
    int header_done;
    int failed; /* 1 after an error: the reader is stuck there */
    int failed_line;
    int failed_column; /* 1-based column the error is about, or 0 (the whole line) */
    long rows;         /* rows returned so far */
    double last_time;
} fg_trace_reader;

/* Starts reading buf[0..len). The buffer must outlive the reader and the rows. */
void fg_trace_init(fg_trace_reader *reader, const char *buf, size_t len);

/* Reads the next call into *row. Returns 1 for a row, 0 at the end of the
 * trace, -1 on an error: then err[0..err_cap) holds a NUL-terminated message
 * without position (e.g. "time goes backwards (12.5 after 13)"), *err_line the
 * 1-based line it is about, and every later call returns -1 again. An empty
 * file, a missing or wrong header and a trace without any call are errors. */
int fg_trace_next(fg_trace_reader *reader, fg_trace_row *row, int *err_line, char *err,
                  size_t err_cap);

/* Line at a time: fg_trace_init(reader, NULL, 0), then fg_trace_feed for each
 * line (without its "\n"; a "\r" before it and a byte order mark on the
 * first line are dropped), then fg_trace_end. fg_trace_feed returns 1 with a
 * row (its strings point into line), 0 for a line without a call (the
 * header, a blank line), -1 on an error as fg_trace_next does; fg_trace_end
 * returns 0, or -1 for a trace without a header or without calls. */
int fg_trace_feed(fg_trace_reader *reader, const char *line, size_t len, fg_trace_row *row,
                  int *err_line, char *err, size_t err_cap);
int fg_trace_end(fg_trace_reader *reader, int *err_line, char *err, size_t err_cap);

#endif /* FG_TRACE_H */
