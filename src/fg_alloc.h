/*
 * fg_alloc.h -- every allocation of the engine goes through an fg_allocator.
 * These helpers give the hook realloc/free semantics when the user gave none,
 * and keep the (ptr, osize) bookkeeping of the lua_Alloc contract in one place.
 */
#ifndef FG_ALLOC_H
#define FG_ALLOC_H

#include <stddef.h>

#include "fluxgate.h"

/* Returns a usable allocator: a copy of *a, or realloc/free when a is NULL or a->fn is NULL. */
fg_allocator fg_alloc_resolve(const fg_allocator *a);

/* malloc/realloc/free through the hook. fg_alloc_free(a, NULL, n) is a no-op. */
void *fg_alloc_new(const fg_allocator *a, size_t size);
void *fg_alloc_grow(const fg_allocator *a, void *ptr, size_t osize, size_t nsize);
void fg_alloc_free(const fg_allocator *a, void *ptr, size_t size);
/* A NUL-terminated copy of s[0..len) (len bytes plus the NUL), or NULL. */
char *fg_alloc_strndup(const fg_allocator *a, const char *s, size_t len);

#endif /* FG_ALLOC_H */
