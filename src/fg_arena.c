/*
 * fg_arena.c -- chunked bump allocation for the compiler (see fg_arena.h).
 *
 * Chunks grow geometrically (4 KiB up to 256 KiB) so that a small policy costs
 * one or two allocations and a 1 MB one a few dozen; a request larger than a
 * chunk gets a chunk of its own. Every chunk is linked so that one call frees
 * them all.
 */
#include "fg_arena.h"

#include <stdalign.h>
#include <stdint.h>
#include <string.h>

#include "fg_alloc.h"

/* The strictest alignment the compiler's objects need. Not max_align_t:
 * allocator hooks follow lua_Alloc, which promises 8-byte blocks only
 * (LuaJIT's allocator gives exactly that), and no arena object holds a
 * long double. */
typedef union fg_arena_align {
    void *pointer;
    double number;
    int64_t integer;
    size_t size;
} fg_arena_align;

typedef struct fg_chunk {
    struct fg_chunk *next;
    size_t size; /* bytes of the whole chunk, header included */
    size_t used; /* bytes handed out from data[] */
    alignas(fg_arena_align) unsigned char data[];
} fg_chunk;

struct fg_arena {
    fg_allocator alloc;
    fg_chunk *chunks; /* newest first: allocation happens in the head */
    size_t next_size;
    size_t used;
};

enum { FG_ARENA_FIRST = 4096, FG_ARENA_MAX_CHUNK = 256 * 1024 };

fg_arena *fg_arena_new(const fg_allocator *alloc) {
    fg_allocator a = fg_alloc_resolve(alloc);
    fg_arena *arena = fg_alloc_new(&a, sizeof *arena);
    if (arena == NULL) return NULL;
    arena->alloc = a;
    arena->chunks = NULL;
    arena->next_size = FG_ARENA_FIRST;
    arena->used = 0;
    return arena;
}

/* Adds a chunk able to hold at least size bytes; returns it or NULL. */
static fg_chunk *fg_arena_grow(fg_arena *arena, size_t size) {
    size_t want = arena->next_size;
    if (size > SIZE_MAX / 2 - sizeof(fg_chunk)) return NULL;
    if (want < size + sizeof(fg_chunk)) want = size + sizeof(fg_chunk);
    fg_chunk *chunk = fg_alloc_new(&arena->alloc, want);
    if (chunk == NULL) return NULL;
    chunk->size = want;
    chunk->used = 0;
    chunk->next = arena->chunks;
    arena->chunks = chunk;
    if (arena->next_size < FG_ARENA_MAX_CHUNK) arena->next_size *= 2;
    return chunk;
}

void *fg_arena_alloc(fg_arena *arena, size_t size) {
    const size_t align = alignof(fg_arena_align);
    if (size > SIZE_MAX - align) return NULL;
    size = (size + align - 1) & ~(align - 1);
    if (size == 0) size = align;
    fg_chunk *chunk = arena->chunks;
    if (chunk == NULL || chunk->size - sizeof(fg_chunk) - chunk->used < size) {
        chunk = fg_arena_grow(arena, size);
        if (chunk == NULL) return NULL;
    }
    void *p = chunk->data + chunk->used;
    chunk->used += size;
    arena->used += size;
    memset(p, 0, size);
    return p;
}

char *fg_arena_strndup(fg_arena *arena, const char *s, size_t len) {
    if (len == SIZE_MAX) return NULL;
    char *copy = fg_arena_alloc(arena, len + 1);
    if (copy == NULL) return NULL;
    if (len > 0) memcpy(copy, s, len);
    copy[len] = '\0';
    return copy;
}

size_t fg_arena_used(const fg_arena *arena) { return arena->used; }

void fg_arena_free(fg_arena *arena) {
    if (arena == NULL) return;
    fg_chunk *chunk = arena->chunks;
    while (chunk != NULL) {
        fg_chunk *next = chunk->next;
        fg_alloc_free(&arena->alloc, chunk, chunk->size);
        chunk = next;
    }
    fg_allocator a = arena->alloc;
    fg_alloc_free(&a, arena, sizeof *arena);
}
