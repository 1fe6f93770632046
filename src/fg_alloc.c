/*
 * fg_alloc.c -- the default allocator and the thin helpers over the hook.
 */
#include "fg_alloc.h"

#include <stdlib.h>
#include <string.h>

static void *fg_default_alloc(void *ud, void *ptr, size_t osize, size_t nsize) {
    (void)ud;
    (void)osize;
    if (nsize == 0) {
        free(ptr);
        return NULL;
    }
    return realloc(ptr, nsize);
}

fg_allocator fg_alloc_resolve(const fg_allocator *a) {
    fg_allocator out = {fg_default_alloc, NULL};
    if (a != NULL && a->fn != NULL) out = *a;
    return out;
}

void *fg_alloc_new(const fg_allocator *a, size_t size) {
    fg_allocator r = fg_alloc_resolve(a);
    if (size == 0) size = 1; /* a zero-size request must still be a distinct block */
    return r.fn(r.ud, NULL, 0, size);
}

void *fg_alloc_grow(const fg_allocator *a, void *ptr, size_t osize, size_t nsize) {
    fg_allocator r = fg_alloc_resolve(a);
    if (nsize == 0) nsize = 1;
    return r.fn(r.ud, ptr, ptr ? osize : 0, nsize);
}

void fg_alloc_free(const fg_allocator *a, void *ptr, size_t size) {
    if (ptr == NULL) return;
    fg_allocator r = fg_alloc_resolve(a);
    r.fn(r.ud, ptr, size == 0 ? 1 : size, 0);
}

char *fg_alloc_strndup(const fg_allocator *a, const char *s, size_t len) {
    char *copy = fg_alloc_new(a, len + 1);
    if (copy == NULL) return NULL;
    if (len > 0) memcpy(copy, s, len);
    copy[len] = '\0';
    return copy;
}
