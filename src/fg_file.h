/*
 * fg_file.h -- the one function that reads a whole file (fg_policy_load's
 * source; the tests' documents).
 */
#ifndef FG_FILE_H
#define FG_FILE_H

#include <stddef.h>

#include "fluxgate.h"

/* Reads the whole file at path, of at most max bytes, into a block from
 * alloc (a resolved allocator: fg_alloc_resolve) and NUL-terminates it.
 * Returns the block, its length in *size and the block's size in *cap (what
 * the caller passes to fg_alloc_free; cap > size), or NULL with errno set --
 * EFBIG when the file holds more than max bytes. Never reads more than
 * max + 1 bytes nor holds more than max + 1, so an endless input (/dev/zero,
 * a pipe that never closes) stops at the limit. */
char *fg_read_file(const char *path, const fg_allocator *alloc, size_t max, size_t *size,
                   size_t *cap);

#endif /* FG_FILE_H */
