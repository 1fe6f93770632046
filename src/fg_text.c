/*
 * fg_text.c -- the snprintf-style appender of fg_text.h.
 */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "fg_text.h"

fg_text fg_text_into(char *buf, size_t cap) {
    fg_text t = {buf, cap, 0};
    if (buf != NULL && cap > 0) buf[0] = '\0';
    return t;
}

char *fg_text_end(const fg_text *t, size_t *room) {
    if (t->buf == NULL || t->len >= t->cap) {
        *room = 0;
        return NULL;
    }
    *room = t->cap - t->len;
    return t->buf + t->len;
}

void fg_text_append(fg_text *t, const char *s, size_t n) {
    size_t room;
    char *at = fg_text_end(t, &room);
    if (at != NULL) {
        size_t copy = n < room - 1 ? n : room - 1;
        memcpy(at, s, copy);
        at[copy] = '\0';
    }
    t->len += n;
}

void fg_text_puts(fg_text *t, const char *s) {
    fg_text_append(t, s, strlen(s));
}

void fg_text_printf(fg_text *t, const char *fmt, ...) {
    size_t room;
    char *at = fg_text_end(t, &room);
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(at, room, fmt, ap);
    va_end(ap);
    if (n > 0) t->len += (size_t)n;
}
