/*
 * fg_arena.h -- a per-compile bump allocator over the fg_allocator hook.
 *
 * The compiler allocates every parse-tree node, checked node, string and
 * table from one arena and frees it with one call, so no error path (a syntax
 * error, a failed range check, an allocation that fails halfway) can leak.
 * A compiled policy keeps its own arena for the names and texts it hands out.
 */
#ifndef FG_ARENA_H
#define FG_ARENA_H

#include <stddef.h>

#include "fluxgate.h"

typedef struct fg_arena fg_arena;

/* A new, empty arena whose chunks come from alloc (NULL: realloc/free).
 * Returns NULL when out of memory. Free it with fg_arena_free. */
fg_arena *fg_arena_new(const fg_allocator *alloc);

/* size zeroed bytes aligned for any object, or NULL when out of memory.
 * The block lives until fg_arena_free; there is no per-block free. */
void *fg_arena_alloc(fg_arena *arena, size_t size);

/* A NUL-terminated copy of s[0..len) in the arena, or NULL. */
char *fg_arena_strndup(fg_arena *arena, const char *s, size_t len);

/* Bytes handed out so far (tests and limits). */
size_t fg_arena_used(const fg_arena *arena);

/* Frees every chunk and the arena itself. NULL is a no-op. */
void fg_arena_free(fg_arena *arena);

#endif /* FG_ARENA_H */
