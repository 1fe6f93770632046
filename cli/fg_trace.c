/*
 * fg_trace.c -- reads `fluxgate simulate` traces (the format is described in
 * fg_trace.h). A line-at-a-time cursor over a caller's buffer: nothing is
 * allocated and nothing is copied except a number's digits into a small stack
 * buffer for strtod, so the reader can be fuzzed as it is.
 */
#include "fg_trace.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* time, outcome, duration, status -- and one more to notice extra columns. */
enum { MAX_FIELDS = 5, NUMBER_MAX = 63 };

typedef struct field {
    const char *s;
    size_t len;
} field;

void fg_trace_init(fg_trace_reader *reader, const char *buf, size_t len) {
    memset(reader, 0, sizeof *reader);
    reader->buf = buf;
    reader->len = len;
}

/* Records the error so that the reader stays failed, and formats it. */
#if defined(__GNUC__) || defined(__clang__)
__attribute__((format(printf, 5, 6)))
#endif
static int
fail(fg_trace_reader *r, int *err_line, char *err, size_t err_cap, const char *fmt, ...) {
    r->failed = 1;
    r->failed_line = r->line > 0 ? r->line : 1;
    r->failed_column = 0;
    if (err_line != NULL) *err_line = r->failed_line;
    if (err != NULL && err_cap > 0) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(err, err_cap, fmt, ap);
        va_end(ap);
    }
    return -1;
}

/* fail(), located at field f of line (1-based column). */
#if defined(__GNUC__) || defined(__clang__)
__attribute__((format(printf, 7, 8)))
#endif
static int
fail_at(fg_trace_reader *r, field line, field f, int *err_line, char *err, size_t err_cap,
        const char *fmt, ...) {
    char msg[256];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    fail(r, err_line, err, err_cap, "%s", msg);
    r->failed_column = (int)(f.s - line.s) + 1; /* after a byte order mark, as in policies */
    return -1;
}

static int is_blank(char c) {
    return c == ' ' || c == '\t';
}

static field trim(const char *s, size_t len) {
    while (len > 0 && is_blank(*s)) {
        s++;
        len--;
    }
    while (len > 0 && is_blank(s[len - 1])) len--;
    return (field){.s = s, .len = len};
}

/* Advances to the next line; returns 0 at the end of the buffer. The line
 * excludes its "\n". */
static int next_line(fg_trace_reader *r, field *line) {
    size_t start = r->pos;
    if (r->pos >= r->len) return 0;
    const char *nl = memchr(r->buf + start, '\n', r->len - start);
    size_t end = nl != NULL ? (size_t)(nl - r->buf) : r->len;
    r->pos = nl != NULL ? end + 1 : r->len;
    line->s = r->buf + start;
    line->len = end - start;
    return 1;
}

/* Splits on commas into at most MAX_FIELDS trimmed fields; returns how many
 * there are (MAX_FIELDS means "that many or more"). */
static int split(field line, field *fields) {
    int n = 0;
    size_t start = 0;
    for (size_t i = 0; i <= line.len; i++) {
        if (i == line.len || line.s[i] == ',') {
            fields[n++] = trim(line.s + start, i - start);
            start = i + 1;
            if (n == MAX_FIELDS) break;
        }
    }
    return n;
}

static int field_is(field f, const char *word) {
    size_t n = strlen(word);
    if (f.len != n) return 0;
    for (size_t i = 0; i < n; i++) {
        char c = f.s[i];
        if (c >= 'A' && c <= 'Z') c = (char)(c - 'A' + 'a');
        if (c != word[i]) return 0;
    }
    return 1;
}

/* Printable text for a message: at most 32 bytes of f, non-printables as '?'. */
static void show(field f, char *out, size_t cap) {
    size_t n = f.len < 32 ? f.len : 32;
    if (n + 4 > cap) n = cap > 4 ? cap - 4 : 0;
    for (size_t i = 0; i < n; i++) out[i] = (f.s[i] >= 0x20 && f.s[i] < 0x7f) ? f.s[i] : '?';
    if (n < f.len) {
        memcpy(out + n, "...", 3);
        n += 3;
    }
    out[n] = '\0';
}

/* Parses a decimal number (sign, digits, point, exponent; no hex, inf or nan,
 * which strtod would take). Returns 0 unless the whole field is one finite number. */
static int parse_number(field f, double *out) {
    if (f.len == 0 || f.len > NUMBER_MAX) return 0;
    size_t i = 0;
    int mantissa = 0;
    if (f.s[i] == '+' || f.s[i] == '-') i++;
    for (; i < f.len && f.s[i] >= '0' && f.s[i] <= '9'; i++) mantissa = 1;
    if (i < f.len && f.s[i] == '.') {
        for (i++; i < f.len && f.s[i] >= '0' && f.s[i] <= '9'; i++) mantissa = 1;
    }
    if (!mantissa) return 0;
    if (i < f.len && (f.s[i] == 'e' || f.s[i] == 'E')) {
        size_t exp_digits = 0;
        i++;
        if (i < f.len && (f.s[i] == '+' || f.s[i] == '-')) i++;
        for (; i < f.len && f.s[i] >= '0' && f.s[i] <= '9'; i++) exp_digits++;
        if (exp_digits == 0) return 0;
    }
    if (i != f.len) return 0;
    char digits[NUMBER_MAX + 1];
    memcpy(digits, f.s, f.len);
    digits[f.len] = '\0';
    char *end;
    /* + 0.0 turns -0 (and a negative underflow) into +0: zero is not negative,
     * and a summary should not print "-0.000 s" */
    *out = strtod(digits, &end) + 0.0;
    return *end == '\0' && isfinite(*out);
}

/* A status is a non-negative integer of at most 18 digits (fits int64_t). */
static int parse_status(field f, int64_t *out) {
    if (f.len == 0 || f.len > 18) return 0;
    int64_t v = 0;
    for (size_t i = 0; i < f.len; i++) {
        if (f.s[i] < '0' || f.s[i] > '9') return 0;
        v = v * 10 + (f.s[i] - '0');
    }
    *out = v;
    return 1;
}

static int read_header(fg_trace_reader *r, field line, int *err_line, char *err, size_t err_cap) {
    field f[MAX_FIELDS];
    char shown[40];
    int n = split(line, f);
    if ((n == 3 || n == 4) && field_is(f[0], "time") && field_is(f[1], "outcome") &&
        field_is(f[2], "duration") && (n == 3 || field_is(f[3], "status"))) {
        r->has_status_column = n == 4;
        r->header_done = 1;
        return 0;
    }
    show(line, shown, sizeof shown);
    return fail(r, err_line, err, err_cap,
                "expected the header line 'time,outcome,duration[,status]', got '%s'", shown);
}

static int read_row(fg_trace_reader *r, field line, fg_trace_row *row, int *err_line, char *err,
                    size_t err_cap) {
    field f[MAX_FIELDS];
    char shown[40];
    int columns = r->has_status_column ? 4 : 3;
    int n = split(line, f);

    if (n < 3)
        return fail(r, err_line, err, err_cap,
                    "missing columns: expected time,outcome,duration%s, got %d column%s",
                    r->has_status_column ? "[,status]" : "", n, n == 1 ? "" : "s");
    if (n > columns)
        return fail(r, err_line, err, err_cap, "too many columns: the header has %d", columns);

    memset(row, 0, sizeof *row);
    row->line = r->line;

    if (!parse_number(f[0], &row->time)) {
        show(f[0], shown, sizeof shown);
        return fail(r, err_line, err, err_cap, "time is not a number: '%s'", shown);
    }
    if (row->time < 0) return fail(r, err_line, err, err_cap, "negative time %g", row->time);
    if (row->time > FG_TRACE_MAX_SECONDS)
        return fail_at(r, line, f[0], err_line, err, err_cap,
                       "time %g is out of range (at most %g s)", row->time, FG_TRACE_MAX_SECONDS);
    if (r->rows > 0 && row->time < r->last_time)
        return fail(r, err_line, err, err_cap, "time goes backwards: %g after %g", row->time,
                    r->last_time);

    if (f[1].len == 0)
        return fail(r, err_line, err, err_cap,
                    "empty outcome: expected ok, error or an error type");
    if (f[1].len > FG_TRACE_MAX_WORD)
        return fail(r, err_line, err, err_cap, "outcome longer than %d bytes", FG_TRACE_MAX_WORD);
    for (size_t i = 0; i < f[1].len; i++) {
        char c = f[1].s[i];
        if (c < 0x20 || c >= 0x7f || c == '"') {
            show(f[1], shown, sizeof shown);
            return fail(r, err_line, err, err_cap,
                        "outcome '%s' has a quote or a control character (quoting is not "
                        "supported)",
                        shown);
        }
    }
    if (f[1].len == 2 && f[1].s[0] == 'o' && f[1].s[1] == 'k') {
        row->kind = FG_TRACE_OK;
    } else if (field_is(f[1], "ok")) {
        /* "OK" as an error type is almost surely a typo: say so rather than
         * count every call as a failure. */
        show(f[1], shown, sizeof shown);
        return fail(r, err_line, err, err_cap, "outcome '%s': write 'ok' in lower case", shown);
    } else {
        row->kind = FG_TRACE_ERROR;
        row->type = f[1].s;
        row->type_len = f[1].len;
    }

    if (!parse_number(f[2], &row->duration)) {
        show(f[2], shown, sizeof shown);
        return fail(r, err_line, err, err_cap, "duration is not a number: '%s'", shown);
    }
    if (row->duration < 0)
        return fail(r, err_line, err, err_cap, "negative duration %g", row->duration);
    if (row->duration > FG_TRACE_MAX_SECONDS)
        return fail_at(r, line, f[2], err_line, err, err_cap,
                       "duration %g is out of range (at most %g s)", row->duration,
                       FG_TRACE_MAX_SECONDS);

    if (n == 4 && f[3].len > 0) {
        if (!parse_status(f[3], &row->status)) {
            show(f[3], shown, sizeof shown);
            return fail(r, err_line, err, err_cap, "status is not a non-negative integer: '%s'",
                        shown);
        }
        row->has_status = 1;
    }

    r->rows++;
    r->last_time = row->time;
    return 1;
}

/* The error of a reader that failed before: the same line, a fixed message. */
static int failed_again(fg_trace_reader *reader, int *err_line, char *err, size_t err_cap) {
    if (err_line != NULL) *err_line = reader->failed_line;
    if (err != NULL && err_cap > 0)
        snprintf(err, err_cap, "the trace could not be read past this line");
    return -1;
}

int fg_trace_feed(fg_trace_reader *reader, const char *text, size_t len, fg_trace_row *row,
                  int *err_line, char *err, size_t err_cap) {
    if (reader->failed) return failed_again(reader, err_line, err, err_cap);
    reader->line++;
    /* Spreadsheets often save CSV with a UTF-8 byte order mark: not data. */
    if (reader->line == 1 && len >= 3 && memcmp(text, "\xEF\xBB\xBF", 3) == 0) {
        text += 3;
        len -= 3;
    }
    if (len > 0 && text[len - 1] == '\r') len--;
    field line = {.s = text, .len = len};
    if (trim(line.s, line.len).len == 0) return 0; /* a blank line holds no call */
    if (!reader->header_done) return read_header(reader, line, err_line, err, err_cap) < 0 ? -1 : 0;
    return read_row(reader, line, row, err_line, err, err_cap);
}

int fg_trace_end(fg_trace_reader *reader, int *err_line, char *err, size_t err_cap) {
    if (reader->failed) return failed_again(reader, err_line, err, err_cap);
    if (!reader->header_done)
        return fail(reader, err_line, err, err_cap,
                    "empty trace: expected the header line 'time,outcome,duration[,status]'");
    if (reader->rows == 0)
        return fail(reader, err_line, err, err_cap, "no calls after the header line");
    return 0;
}

int fg_trace_next(fg_trace_reader *reader, fg_trace_row *row, int *err_line, char *err,
                  size_t err_cap) {
    field line;
    if (reader->failed) return failed_again(reader, err_line, err, err_cap);
    for (;;) {
        if (!next_line(reader, &line)) return fg_trace_end(reader, err_line, err, err_cap);
        int rc = fg_trace_feed(reader, line.s, line.len, row, err_line, err, err_cap);
        if (rc != 0) return rc;
    }
}
