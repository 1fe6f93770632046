/*
 * fg_glob.h -- glob matching for the Message("pattern") tracker.
 *
 * `*` matches any run of bytes (also none), `?` exactly one byte, every other
 * byte itself. Matching is byte-wise (a multi-byte UTF-8 character is several
 * `?`), allocates nothing and never recurses.
 */
#ifndef FG_GLOB_H
#define FG_GLOB_H

#include <stddef.h>

/* 1 when the whole text[0..text_len) matches pattern[0..pattern_len), else 0.
 * Either may contain NUL bytes; a NULL pointer with length 0 is the empty string. */
int fg_glob_match(const char *pattern, size_t pattern_len, const char *text, size_t text_len);

#endif /* FG_GLOB_H */
