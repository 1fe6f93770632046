/*
 * fg_check_internal.h -- what the checker's files (fg_check.c for
 * expressions and names, fg_check_call.c for constructor calls) share.
 */
#ifndef FG_CHECK_INTERNAL_H
#define FG_CHECK_INTERNAL_H

#include "fg_check.h"

/* A named tracker or tripper. */
typedef struct fg_def {
    const char *name; /* points into the source */
    size_t len;
    int key;          /* FG_SET_TRACKER or FG_SET_TRIPPER */
    fg_loc loc;       /* the name in the definition */
    fg_node *node;    /* the checked tree; NULL when it had errors */
    uint32_t depth;   /* of node, references expanded */
    int used;
    int call;         /* the builtin the definition is (through references), or -1 */
    int too_deep_reported; /* a use nested it too deeply: said once, not per use */
    void *user;       /* fg_check_ref_slot */
    fg_diag_sink *sink;
    /* fg_check_never_fires: the calls the tree needs, computed once */
    int req_done;
    double req_count;
    const fg_node *req_culprit;
    struct fg_def *next; /* definition order */
} fg_def;

/* A use of a definition: the public node plus the way back to its def. */
typedef struct fg_ref_node {
    fg_node node;
    fg_def *def;
} fg_ref_node;

struct fg_checker {
    fg_arena *arena;
    int oom;
    fg_def **table; /* open addressing, power-of-two capacity */
    size_t table_cap, def_count;
    fg_def *first_def, *last_def;
    const fg_syn_stmt *statements; /* the policy's, for "defined later" hints; NULL: none */
};

/* Where an expression is being checked. */
typedef struct fg_check_ctx {
    fg_checker *c;
    fg_diag_sink *sink;
    int key;      /* the setting, for messages ('tripper' expects a tripper) */
    int expected; /* FG_KIND_* bit */
} fg_check_ctx;

/* A name[0..len) shown in a message: long names are cut. */
#define FG_NAME_FMT "%.*s%s"
#define FG_NAME_ARG(s, n) (int)((n) > 64 ? 64 : (n)), (s), ((n) > 64 ? "..." : "")

/* Whether a number literal written with unit, at loc in sink's source, may
 * stand for a value that measures q; subject names that value in the message
 * ("CountWindow() size", "half_open_lease"). Returns 1, or 0 after reporting
 * the misplaced unit with what to write instead. */
int fg_check_unit(fg_diag_sink *sink, fg_loc loc, fg_unit unit, fg_quantity q, const char *subject);

/* Checks a constructor call e (FG_SYN_CALL) whose builtin is id. */
fg_node *fg_check_call(fg_check_ctx *x, const fg_syn_expr *e, fg_builtin_id id);

/* A node of kind at e's span. NULL (and c->oom) when out of memory. */
fg_node *fg_check_node(fg_check_ctx *x, fg_node_kind kind, const fg_syn_expr *e);

#endif /* FG_CHECK_INTERNAL_H */
