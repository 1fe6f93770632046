/*
 * fg_diag.c -- fg_report: located errors and warnings, and their text form.
 *
 * A report owns its diagnostics; each diagnostic owns one block holding its
 * chunk name, message and source line. Out of memory never loses the fact
 * that compilation failed: the report carries a preallocated "out of memory"
 * diagnostic that needs no allocation to be added.
 *
 * Text form (the C API, the Lua binding and the CLI all print this):
 *
 *     chunk:line:col: error: message
 *       source line
 *           ^
 *
 * Long lines are cut to a window around the column (marked "... "), so a
 * one-line 1 MB input cannot make every diagnostic 1 MB.
 */
#include "fg_diag.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "fg_alloc.h"
#include "fg_text.h"

typedef struct fg_diag_entry {
    fg_diagnostic pub;
    int chunk_seq;
    char *block; /* chunk, message, source line, NUL-separated */
    size_t block_size;
} fg_diag_entry;

struct fg_report {
    fg_allocator alloc;
    fg_diag_entry *entries;
    size_t count, cap;
    size_t errors;
    size_t found[2];         /* errors, warnings: kept or not (FG_SEVERITY_*) */
    int next_chunk_seq;
    int oom;                 /* the preallocated entry below is in use */
    fg_diag_entry oom_entry; /* static strings and oom_chunk only */
    char oom_chunk[256];     /* the chunk it happened in (names the file), cut to fit */
};

/* Bytes of context kept either side of the column on a long line. */
enum { FG_DIAG_LEAD = 120, FG_DIAG_TAIL = 120 };
static const char fg_elided[] = "... ";

fg_report *fg_report_new(const fg_allocator *alloc) {
    fg_allocator a = fg_alloc_resolve(alloc);
    fg_report *r = fg_alloc_new(&a, sizeof *r);
    if (r == NULL) return NULL;
    memset(r, 0, sizeof *r);
    r->alloc = a;
    return r;
}

void fg_diag_begin(fg_diag_sink *sink, fg_report *report, const char *chunk, const char *source,
                   size_t length) {
    memset(sink, 0, sizeof *sink);
    sink->report = report;
    sink->chunk = chunk ? chunk : "policy";
    sink->source = source ? source : "";
    sink->length = source ? length : 0;
    if (report != NULL) sink->chunk_seq = report->next_chunk_seq++;
}

int fg_diag_full(const fg_diag_sink *sink) { return sink->errors >= FG_MAX_ERRORS; }

void fg_diag_oom(fg_diag_sink *sink) {
    fg_report *r = sink->report;
    sink->errors++;
    if (r == NULL || r->oom) return;
    r->oom = 1;
    r->errors++;
    r->found[FG_SEVERITY_ERROR]++;
    r->oom_entry.pub.severity = FG_SEVERITY_ERROR;
    /* The sink's chunk is only borrowed: a copy in the report's own storage
     * needs no allocation, so that "t.fgp: error: out of memory" names the file. */
    snprintf(r->oom_chunk, sizeof r->oom_chunk, "%s", sink->chunk);
    r->oom_entry.pub.chunk = r->oom_chunk;
    r->oom_entry.pub.line = 0;
    r->oom_entry.pub.column = 0;
    r->oom_entry.pub.message = "out of memory";
    r->oom_entry.pub.source_line = "";
    r->oom_entry.chunk_seq = sink->chunk_seq;
}

/* Copies the display form of the source line around loc into out (at least
 * FG_DIAG_LINE_MAX + 2 * sizeof fg_elided + 1 bytes). Control bytes become
 * '?' so a line of binary noise still prints as one line. */
static size_t fg_diag_source_line(const fg_diag_sink *sink, fg_loc loc, char *out) {
    size_t n = 0;
    if (loc.line <= 0 || loc.begin > sink->length) return 0;
    size_t col = loc.column > 0 ? (size_t)loc.column - 1 : 0;
    if (col > loc.begin) col = loc.begin;
    size_t start = loc.begin - col, stop;
    if (col > FG_DIAG_LINE_MAX) {
        memcpy(out, fg_elided, sizeof fg_elided - 1);
        n = sizeof fg_elided - 1;
        start = loc.begin - FG_DIAG_LEAD;
        stop = loc.begin + FG_DIAG_TAIL;
    } else {
        stop = start + FG_DIAG_LINE_MAX + FG_DIAG_TAIL;
    }
    if (stop > sink->length) stop = sink->length;
    const char *nl = memchr(sink->source + start, '\n', stop - start);
    int cut = 0;
    if (nl != NULL) {
        stop = (size_t)(nl - sink->source);
    } else if (stop < sink->length && sink->source[stop] != '\n') {
        cut = 1;
    }
    /* A CRLF line's '\r' is part of its end, not a control byte to show
     * (it must go before the loop below turns it into '?'). */
    if (!cut && stop > start && sink->source[stop - 1] == '\r') stop--;
    for (size_t i = start; i < stop; i++) {
        unsigned char c = (unsigned char)sink->source[i];
        out[n++] = (c < 0x20 && c != '\t') || c == 0x7f ? '?' : (char)c;
    }
    if (cut) {
        memcpy(out + n, " ...", 4);
        n += 4;
    }
    out[n] = '\0';
    return n;
}

static void fg_diag_add(fg_diag_sink *sink, fg_severity sev, fg_loc loc, const char *fmt,
                        va_list ap) {
    if (sink->report != NULL) sink->report->found[sev == FG_SEVERITY_ERROR ? 0 : 1]++;
    if (sev == FG_SEVERITY_ERROR) {
        if (sink->errors >= FG_MAX_ERRORS) return;
        sink->errors++;
    } else {
        if (sink->warnings >= FG_MAX_WARNINGS) return;
        sink->warnings++;
    }
    fg_report *r = sink->report;
    if (r == NULL) return;
    if (sev == FG_SEVERITY_ERROR) r->errors++;

    char message[FG_DIAG_MESSAGE_MAX + 1];
    vsnprintf(message, sizeof message, fmt, ap);
    char line[FG_DIAG_LINE_MAX + FG_DIAG_LEAD + FG_DIAG_TAIL + 16];
    size_t line_len = fg_diag_source_line(sink, loc, line);
    size_t chunk_len = strlen(sink->chunk), msg_len = strlen(message);

    if (r->count == r->cap) {
        size_t ncap = r->cap ? r->cap * 2 : 8;
        fg_diag_entry *grown = fg_alloc_grow(&r->alloc, r->entries, r->cap * sizeof *grown,
                                             ncap * sizeof *grown);
        if (grown == NULL) goto oom;
        r->entries = grown;
        r->cap = ncap;
    }
    size_t size = chunk_len + msg_len + line_len + 3;
    char *block = fg_alloc_new(&r->alloc, size);
    if (block == NULL) goto oom;
    memcpy(block, sink->chunk, chunk_len + 1);
    memcpy(block + chunk_len + 1, message, msg_len + 1);
    memcpy(block + chunk_len + msg_len + 2, line, line_len + 1);

    fg_diag_entry *e = &r->entries[r->count++];
    e->block = block;
    e->block_size = size;
    e->chunk_seq = sink->chunk_seq;
    e->pub.severity = sev;
    e->pub.chunk = block;
    e->pub.message = block + chunk_len + 1;
    e->pub.source_line = block + chunk_len + msg_len + 2;
    e->pub.line = loc.line > 0 ? loc.line : 0;
    e->pub.column = loc.line > 0 ? loc.column : 0;
    return;
oom:
    r->found[sev == FG_SEVERITY_ERROR ? 0 : 1]--; /* fg_diag_oom counts the error */
    if (sev == FG_SEVERITY_ERROR) r->errors--;
    if (sev == FG_SEVERITY_ERROR) sink->errors--;
    fg_diag_oom(sink);
}

void fg_diag_error(fg_diag_sink *sink, fg_loc loc, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    fg_diag_add(sink, FG_SEVERITY_ERROR, loc, fmt, ap);
    va_end(ap);
}

void fg_diag_warning(fg_diag_sink *sink, fg_loc loc, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    fg_diag_add(sink, FG_SEVERITY_WARNING, loc, fmt, ap);
    va_end(ap);
}

/* Report order: chunk, then line, then column. */
static int fg_diag_before(const fg_diag_entry *a, const fg_diag_entry *b) {
    if (a->chunk_seq != b->chunk_seq) return a->chunk_seq < b->chunk_seq;
    if (a->pub.line != b->pub.line) return a->pub.line < b->pub.line;
    return a->pub.column < b->pub.column;
}

void fg_report_finish(fg_report *report) {
    if (report == NULL) return;
    /* Insertion sort: stable, and the count is capped (FG_MAX_ERRORS). */
    for (size_t i = 1; i < report->count; i++) {
        fg_diag_entry e = report->entries[i];
        size_t j = i;
        while (j > 0 && fg_diag_before(&e, &report->entries[j - 1])) {
            report->entries[j] = report->entries[j - 1];
            j--;
        }
        report->entries[j] = e;
    }
}

size_t fg_report_count(const fg_report *report) {
    if (report == NULL) return 0;
    return report->count + (report->oom ? 1 : 0);
}

size_t fg_report_error_count(const fg_report *report) {
    return report == NULL ? 0 : report->errors;
}

size_t fg_report_found(const fg_report *report, fg_severity severity) {
    if (report == NULL) return 0;
    return report->found[severity == FG_SEVERITY_ERROR ? 0 : 1];
}

const fg_diagnostic *fg_report_get(const fg_report *report, size_t index) {
    if (report == NULL) return NULL;
    if (index < report->count) return &report->entries[index].pub;
    if (index == report->count && report->oom) return &report->oom_entry.pub;
    return NULL;
}

/* One diagnostic in the text form described at the top of this file. */
static void fg_diag_write(fg_text *w, const fg_diagnostic *d, int with_source) {
    fg_text_puts(w, d->chunk ? d->chunk : "");
    if (d->line > 0) {
        fg_text_append(w, ":", 1);
        fg_text_printf(w, "%d", d->line);
        fg_text_append(w, ":", 1);
        fg_text_printf(w, "%d", d->column);
    }
    fg_text_puts(w, d->severity == FG_SEVERITY_WARNING ? ": warning: " : ": error: ");
    fg_text_puts(w, d->message ? d->message : "");
    fg_text_append(w, "\n", 1);
    if (!with_source || d->line <= 0 || d->source_line == NULL || d->source_line[0] == '\0')
        return;
    fg_text_append(w, "  ", 2);
    fg_text_puts(w, d->source_line);
    fg_text_append(w, "\n  ", 3);
    /* The caret's offset in source_line follows from the column alone: a
     * line cut to a window always has FG_DIAG_LEAD bytes before it. */
    size_t caret = d->column > 0 ? (size_t)d->column - 1 : 0;
    if (caret > FG_DIAG_LINE_MAX) caret = sizeof fg_elided - 1 + FG_DIAG_LEAD;
    size_t line_len = strlen(d->source_line);
    /* Columns count bytes, but a terminal shows a UTF-8 character (a name
     * in a string, a typographic quote) in one place: its continuation
     * bytes take no room under the line. */
    int continuation = 0;
    for (size_t i = 0; i < caret; i++) {
        unsigned char c = i < line_len ? (unsigned char)d->source_line[i] : ' ';
        if (continuation > 0 && c >= 0x80 && c < 0xC0) {
            continuation--;
            continue;
        }
        continuation = c >= 0xC2 && c <= 0xDF ? 1 : c >= 0xE0 && c <= 0xEF ? 2 : c >= 0xF0 && c <= 0xF4 ? 3 : 0;
        fg_text_append(w, c == '\t' ? "\t" : " ", 1);
    }
    fg_text_append(w, "^\n", 2);
}

size_t fg_diagnostic_format(const fg_diagnostic *d, int with_source, char *buf, size_t cap) {
    fg_text w = fg_text_into(buf, cap);
    if (d != NULL) fg_diag_write(&w, d, with_source);
    return w.len;
}

size_t fg_report_format(const fg_report *report, char *buf, size_t cap) {
    fg_text w = fg_text_into(buf, cap);
    size_t n = fg_report_count(report);
    for (size_t i = 0; i < n; i++) fg_diag_write(&w, fg_report_get(report, i), 1);
    return w.len;
}

void fg_report_free(fg_report *report) {
    if (report == NULL) return;
    for (size_t i = 0; i < report->count; i++)
        fg_alloc_free(&report->alloc, report->entries[i].block, report->entries[i].block_size);
    fg_alloc_free(&report->alloc, report->entries, report->cap * sizeof *report->entries);
    fg_allocator a = report->alloc;
    fg_alloc_free(&a, report, sizeof *report);
}
