/*
 * fg_emit.h -- the program builder used by the code generator: growable
 * code and constant-pool buffers, constant deduplication (fg_emit_pool.c),
 * size limits, and the final packing of everything into one program block.
 *
 * fg_codegen.c decides WHAT to emit (control flow, jump lists); this module
 * decides HOW it is stored. Every buffer is allocated through the emitter's
 * allocator and released by fg_emit_dispose, whatever happened.
 */
#ifndef FG_EMIT_H
#define FG_EMIT_H

#include <stddef.h>
#include <stdint.h>

#include "fg_program_block.h"

/* A growable array of elem-sized items. */
typedef struct fg_vec {
    void *data;
    uint32_t length;
    uint32_t capacity;
} fg_vec;

/* An open-addressing hash map from a 64-bit key to an index (value + 1; 0 = empty). */
typedef struct fg_emit_map {
    uint64_t *keys;
    uint32_t *values;
    uint32_t capacity; /* a power of two, or 0 */
    uint32_t used;
} fg_emit_map;

typedef struct fg_emitter {
    fg_allocator alloc;
    fg_program_kind kind;
    fg_codegen_error *err;
    int failed;            /* an error has been reported; later calls do nothing */
    fg_vec code;           /* uint32_t */
    fg_vec constants;      /* fg_constant */
    fg_vec strrefs;        /* fg_strref */
    fg_vec ranges;         /* fg_range */
    fg_vec alternatives;   /* fg_strref */
    fg_vec customs;        /* fg_strref */
    fg_vec bytes;          /* char: every string, each followed by a NUL */
    uint32_t threshold_count;
    double thresholds[FG_MAX_SLOW_THRESHOLDS]; /* in first-use order until fg_emit_finish */
    fg_emit_map by_node;    /* call node address -> constant index */
    fg_emit_map by_content; /* content hash -> constant index */
    fg_emit_map custom_names; /* name hash -> custom index */
    uint32_t walk_steps;      /* tree nodes visited so far (see FG_MAX_WALK_STEPS) */
} fg_emitter;

/* Prepares an empty emitter. err receives the first error. Never fails. */
void fg_emit_init(fg_emitter *e, const fg_allocator *alloc, fg_program_kind kind,
                  fg_codegen_error *err);
/* Frees every temporary buffer (not a program returned by fg_emit_finish). */
void fg_emit_dispose(fg_emitter *e);

/* Records the first error, located at node (NULL: no position). Returns -1. */
int fg_emit_fail(fg_emitter *e, const fg_node *node, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 3, 4)))
#endif
    ;

/* Shared by fg_emit.c and fg_emit_pool.c. */
/* Reports running out of memory at node. Returns -1. */
int fg_emit_oom(fg_emitter *e, const fg_node *node);
/* Makes room for `more` items of elem bytes. Returns 0 or -1 (nothing
 * changed, nothing reported). */
int fg_emit_reserve(fg_emitter *e, fg_vec *v, size_t elem, uint32_t more);
/* Appends s[0..length) and a NUL to the string bytes; *out names them.
 * Returns 0 or -1 (reported). */
int fg_emit_bytes(fg_emitter *e, const char *s, size_t length, fg_strref *out,
                  const fg_node *node);
/* Frees the pool's lookup tables (fg_emit_dispose calls it). */
void fg_emit_pool_dispose(fg_emitter *e);

/* The index the next instruction will get. */
static inline uint32_t fg_emit_pc(const fg_emitter *e) { return e->code.length; }
static inline uint32_t *fg_emit_code_at(const fg_emitter *e, uint32_t pc) {
    return (uint32_t *)e->code.data + pc;
}

/* Appends one instruction; returns its index, or -1 (the instruction limit,
 * located at node, or out of memory). */
int64_t fg_emit_insn(fg_emitter *e, uint32_t insn, const fg_node *node);

/* Appends the test instruction of a tracker or tripper constructor call, with
 * its constant. Returns 0 or -1. */
int fg_emit_test(fg_emitter *e, const fg_node *call);

/* Adds an alternative whose source text is node's; returns its index or -1. */
int64_t fg_emit_alternative(fg_emitter *e, const fg_node *node);

/* Packs everything into one program block allocated with the emitter's
 * allocator (thresholds sorted, SlowRate constants renumbered), with root's
 * text as the program text. Returns 0 and sets *out (the caller owns it:
 * fg_program_free), or -1. The emitter still has to be disposed. */
int fg_emit_finish(fg_emitter *e, const fg_node *root, fg_program **out);

#endif /* FG_EMIT_H */
