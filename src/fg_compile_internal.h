/*
 * fg_compile_internal.h -- what the compiler's driver files share:
 * fg_compile.c (policy files), fg_compile_expr.c (single expressions),
 * fg_component.c (one setting's checked value and its program) and
 * fg_breaker_def.c (turning a breaker's components into an fg_breaker_def).
 *
 * A component is one setting's value, checked once: a breaker's own
 * setting, a `defaults` setting shared by later breakers, or fluxgate's
 * default. Tracker and tripper programs are generated on first use and then
 * shared by every breaker that uses the component.
 */
#ifndef FG_COMPILE_INTERNAL_H
#define FG_COMPILE_INTERNAL_H

#include "fg_arena.h"
#include "fg_check.h"
#include "fg_diag.h"
#include "fg_policy_internal.h"
#include "fg_syntax.h"

typedef struct fg_component {
    int key;               /* fg_setting_key */
    fg_diag_sink *sink;    /* the chunk the expression came from */
    fg_loc loc;            /* the expression */
    int ok;                /* checked without errors */
    fg_node *node;         /* kinds: the checked tree (a call for window/retry/permit) */
    double number;         /* max_half_open_calls, half_open_lease */
    const char *text;      /* source text (not NUL-terminated) */
    size_t text_len;
    int is_fallback;       /* fluxgate's default, not written anywhere */
    int codegen_state;     /* 0: not yet; 1: program made; -1: failed (reported) */
    fg_program *program;
    const fg_node *warned; /* never-fires culprit already warned about */
    int warned_half_open;  /* the HalfOpened()-under-Never() warning was given */
    struct fg_component *next_program;
} fg_component;

enum { FG_MAX_SINKS = FG_SET_COUNT + 2 };

typedef struct fg_compiler {
    fg_allocator alloc;
    fg_arena *arena;        /* compile-time: trees, components */
    fg_policy *policy;      /* being built; its arena holds names and texts */
    fg_arena *policy_arena;
    fg_checker *checker;
    fg_report *report;      /* may be NULL (out of memory) */
    int oom;
    fg_diag_sink sinks[FG_MAX_SINKS];
    int sink_count;
    fg_component *fallback[FG_SET_COUNT]; /* fluxgate's defaults, made on demand */
    fg_component *programs; /* every component holding a program */
    size_t program_count;
    size_t breakers_made;
} fg_compiler;

/* Sets up cc (policy, arenas, checker, report). Returns 0, or -1 when out of
 * memory (cc is then cleaned up already; the report's out-of-memory error
 * names chunk). */
int fg_compiler_open(fg_compiler *cc, const fg_allocator *alloc, const char *chunk,
                     fg_report **report_out);

/* A new sink for one chunk, or NULL when all are in use. */
fg_diag_sink *fg_compiler_sink(fg_compiler *cc, const char *chunk, const char *source,
                               size_t length);

/* Finishes: on success (no errors, no out-of-memory) returns the policy;
 * otherwise frees everything and returns NULL. Hands the report to
 * *report_out (when not NULL) or frees it. */
fg_policy *fg_compiler_close(fg_compiler *cc, fg_report **report_out);

/* ---- components (fg_component.c) ------------------------------------------ */

/* Checks one setting's expression into a component (never NULL unless out
 * of memory; a component with errors has ok == 0). */
fg_component *fg_component_new(fg_compiler *cc, fg_diag_sink *sink, int key,
                               const fg_syn_expr *expr);

/* fluxgate's default for setting key, compiled from its text once per
 * compilation; NULL when out of memory (cc->oom set). */
fg_component *fg_component_fallback(fg_compiler *cc, int key);

/* The component's program, generated on first use for the breaker named
 * name (at loc; loc.line == 0 for the expression API). NULL after a reported
 * error. */
fg_program *fg_component_program(fg_compiler *cc, fg_component *c, const char *name,
                                 size_t name_len, fg_loc loc);

/* A NUL-terminated copy of the component's text in the policy arena, or NULL
 * (cc->oom set). */
const char *fg_component_text(fg_compiler *cc, const fg_component *c);

/* ---- breaker definitions (fg_breaker_def.c) -------------------------------- */

/* Fills policy->breakers[cc->breakers_made++] from the components chosen
 * for each setting (NULL entries take fluxgate's defaults). Nothing is
 * filled when a component has errors. name[0..name_len) is copied. */
void fg_breaker_def_build(fg_compiler *cc, const char *name, size_t name_len, fg_loc loc,
                          fg_component *const chosen[FG_SET_COUNT]);

/* fg_policy_load for files of at most max bytes (<= FG_MAX_SOURCE): lets a
 * test show that an endless input stops at the limit. */
fg_policy *fg_policy_load_limited(const char *path, size_t max, const fg_allocator *alloc,
                                  fg_report **report);

/* Frees a policy's parts: programs, arena, the struct (fg_policy.c). */
void fg_policy_destroy(fg_policy *policy);

#endif /* FG_COMPILE_INTERNAL_H */
