/*
 * fg_text.h -- the one text appender: snprintf-style output into a caller's
 * buffer, used by every function that formats text for the caller
 * (diagnostics, disassembly, policy listings).
 *
 * The length counts everything appended, the buffer holds what fits and is
 * always NUL-terminated when it has room for anything, so the functions
 * built on it return "the length the whole text needs" as snprintf does.
 */
#ifndef FG_TEXT_H
#define FG_TEXT_H

#include <stddef.h>

typedef struct fg_text {
    char *buf;  /* the caller's buffer (may be NULL when cap == 0) */
    size_t cap; /* its size */
    size_t len; /* the length of everything appended, written or not */
} fg_text;

/* A text writing into buf[0..cap); buf[0] is set to '\0' when cap > 0. */
fg_text fg_text_into(char *buf, size_t cap);

/* Appends s[0..n), cutting at the buffer's end but counting everything. */
void fg_text_append(fg_text *t, const char *s, size_t n);

/* Appends the NUL-terminated s. */
void fg_text_puts(fg_text *t, const char *s);

/* Appends printf-style. */
void fg_text_printf(fg_text *t, const char *fmt, ...)
#if defined(__GNUC__) || defined(__clang__)
    __attribute__((format(printf, 2, 3)))
#endif
    ;

/* Where the next byte goes and how much room is left there (NULL and 0
 * once the buffer is full), for a snprintf-style writer of its own: the
 * caller then adds the length that writer returns to t->len. */
char *fg_text_end(const fg_text *t, size_t *room);

#endif /* FG_TEXT_H */
