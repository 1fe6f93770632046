/*
 * fg_check.c -- checking expressions: kinds, operators, named definitions
 * and their table, did-you-mean for unknown names, the numeric settings
 * (max_half_open_calls, half_open_lease), and the analyses behind warnings
 * (unused definitions, a tripper that can never fire) (see fg_check.h).
 * Constructor calls are checked in fg_check_call.c.
 */
#include <math.h>
#include <string.h>

#include "fg_builtins.h"
#include "fg_check_internal.h"
#include "fg_fnv.h"
#include "fg_policy_internal.h"

fg_checker *fg_checker_new(fg_arena *arena) {
    fg_checker *c = fg_arena_alloc(arena, sizeof *c);
    if (c == NULL) return NULL;
    c->arena = arena;
    return c;
}

int fg_checker_oom(const fg_checker *c) { return c->oom; }

fg_node *fg_check_node(fg_check_ctx *x, fg_node_kind kind, const fg_syn_expr *e) {
    fg_node *n = fg_arena_alloc(x->c->arena, sizeof *n);
    if (n == NULL) {
        x->c->oom = 1;
        return NULL;
    }
    n->kind = kind;
    n->kind_bits = x->expected;
    n->loc = e->loc;
    n->text = x->sink->source + e->loc.begin;
    return n;
}

/* ---- the definition table -------------------------------------------------- */

/* The definition named name[0..len), or NULL. */
static fg_def *fg_def_find(const fg_checker *c, const char *name, size_t len) {
    if (c->table_cap == 0) return NULL;
    size_t mask = c->table_cap - 1;
    for (size_t i = (size_t)fg_fnv1a(FG_FNV1A_INIT, name, len) & mask;; i = (i + 1) & mask) {
        fg_def *d = c->table[i];
        if (d == NULL) return NULL;
        if (d->len == len && memcmp(d->name, name, len) == 0) return d;
    }
}

/* Inserts d (whose name is not yet in the table); 0, or -1 when out of memory. */
static int fg_def_insert(fg_checker *c, fg_def *d) {
    if ((c->def_count + 1) * 2 > c->table_cap) {
        size_t ncap = c->table_cap ? c->table_cap * 2 : 16;
        fg_def **nt = fg_arena_alloc(c->arena, ncap * sizeof *nt);
        if (nt == NULL) return -1;
        for (size_t i = 0; i < c->table_cap; i++) {
            fg_def *old = c->table[i];
            if (old == NULL) continue;
            size_t j = (size_t)fg_fnv1a(FG_FNV1A_INIT, old->name, old->len) & (ncap - 1);
            while (nt[j] != NULL) j = (j + 1) & (ncap - 1);
            nt[j] = old;
        }
        c->table = nt; /* the old table stays in the arena: bounded by 2x */
        c->table_cap = ncap;
    }
    size_t mask = c->table_cap - 1;
    size_t i = (size_t)fg_fnv1a(FG_FNV1A_INIT, d->name, d->len) & mask;
    while (c->table[i] != NULL) i = (i + 1) & mask;
    c->table[i] = d;
    c->def_count++;
    if (c->last_def) c->last_def->next = d;
    else c->first_def = d;
    c->last_def = d;
    return 0;
}

/* The closest known name for a suggestion: builtins of the expected kind
 * and definitions of the expected kind first, then any builtin. */
static const char *fg_suggest(const fg_checker *c, const char *name, size_t len, int kinds,
                              size_t *out_len) {
    size_t best = (size_t)-1;
    const char *found = fg_builtin_suggest(name, len, kinds, &best);
    *out_len = found ? strlen(found) : 0;
    for (const fg_def *d = c->first_def; d != NULL; d = d->next) {
        if ((fg_setting_kind(d->key) & kinds) == 0) continue;
        if (fg_suggest_consider(name, len, d->name, d->len, &best)) {
            found = d->name;
            *out_len = d->len;
        }
    }
    if (found == NULL) {
        found = fg_builtin_suggest(name, len, 0, &best);
        *out_len = found ? strlen(found) : 0;
    }
    return found;
}

void fg_checker_set_statements(fg_checker *c, const fg_syn_stmt *first) {
    c->statements = first;
}

/* The definition of the kind x expects named like e that is not known yet:
 * the one whose expression holds e, or one further down. NULL if none. */
static const fg_syn_stmt *fg_unknown_defined_below(const fg_check_ctx *x, const fg_syn_expr *e) {
    for (const fg_syn_stmt *st = x->c->statements; st != NULL; st = st->next) {
        if (st->kind != FG_STMT_DEFINE && st->kind != FG_STMT_BAD_DEFINE) continue;
        if ((fg_setting_kind(st->define_key) & x->expected) == 0) continue;
        if (st->name_len == e->name_len && memcmp(st->name, e->name, e->name_len) == 0) return st;
    }
    return NULL;
}

/* Reports an unknown name in x's position, with the closest known name. */
static void fg_report_unknown(fg_check_ctx *x, const fg_syn_expr *e) {
    size_t slen = 0;
    /* Past the error cap nothing is shown: do not pay for a suggestion (it
     * scans every definition). */
    if (fg_diag_full(x->sink)) {
        fg_diag_error(x->sink, e->op_loc, "unknown name");
        return;
    }
    /* A definition sees only the names above it (so there are no cycles):
     * say so when the name is defined, but below its use or by the very
     * definition that uses it. */
    const fg_syn_stmt *below = fg_unknown_defined_below(x, e);
    if (below != NULL && below->name_loc.begin < e->op_loc.begin) {
        fg_diag_error(x->sink, e->op_loc,
                      "unknown %s '" FG_NAME_FMT "' (a definition cannot use itself: it sees only "
                      "the names defined above it)",
                      fg_kind_name(x->expected), FG_NAME_ARG(e->name, e->name_len));
        return;
    }
    if (below != NULL) {
        fg_diag_error(x->sink, e->op_loc,
                      "unknown %s '" FG_NAME_FMT "' (it is defined below, at line %d: a name is "
                      "known only after its definition)",
                      fg_kind_name(x->expected), FG_NAME_ARG(e->name, e->name_len),
                      below->name_loc.line);
        return;
    }
    const char *s = fg_suggest(x->c, e->name, e->name_len, x->expected, &slen);
    if (s != NULL)
        fg_diag_error(x->sink, e->op_loc,
                      "unknown %s '" FG_NAME_FMT "' (did you mean '%.*s'?)",
                      fg_kind_name(x->expected), FG_NAME_ARG(e->name, e->name_len), (int)slen, s);
    else
        fg_diag_error(x->sink, e->op_loc, "unknown %s '" FG_NAME_FMT "'", fg_kind_name(x->expected),
                      FG_NAME_ARG(e->name, e->name_len));
}

/* ---- expressions ------------------------------------------------------------ */

/* Checks any expression in x's position; *depth receives the height of the
 * result with references expanded. NULL after reporting. */
static fg_node *fg_check_any(fg_check_ctx *x, const fg_syn_expr *e, uint32_t *depth);

/* A bare name: a use of a named tracker/tripper, checked against the
 * position. Returns an FG_NODE_REF sharing the definition's tree, or NULL
 * (silently when the definition itself had errors: they were reported). */
static fg_node *fg_check_ref(fg_check_ctx *x, const fg_syn_expr *e, uint32_t *depth) {
    fg_def *d = fg_def_find(x->c, e->name, e->name_len);
    if (d == NULL) {
        int id = fg_builtin_find(e->name, e->name_len);
        if (id >= 0)
            fg_diag_error(x->sink, e->op_loc, "'%s' is a constructor: write %s(...)",
                          fg_builtin_get((fg_builtin_id)id)->name,
                          fg_builtin_get((fg_builtin_id)id)->name);
        else
            fg_report_unknown(x, e);
        return NULL;
    }
    d->used = 1;
    if (d->node == NULL) return NULL; /* its own errors were reported at the definition */
    int kind = fg_setting_kind(d->key);
    if ((kind & x->expected) == 0) {
        fg_diag_error(x->sink, e->op_loc, "'" FG_NAME_FMT "' is a %s, but '%s' expects a %s",
                      FG_NAME_ARG(e->name, e->name_len), fg_kind_name(kind),
                      fg_setting_name(x->key), fg_kind_name(x->expected));
        return NULL;
    }
    if (d->depth + 1 > FG_MAX_EXPANDED_DEPTH) {
        /* The fault is the definition's depth: every further use of it
         * would repeat the same error. */
        if (d->too_deep_reported) return NULL;
        d->too_deep_reported = 1;
        fg_diag_error(x->sink, e->op_loc,
                      "'" FG_NAME_FMT "' nests named definitions too deeply (limit %d levels)",
                      FG_NAME_ARG(e->name, e->name_len), FG_MAX_EXPANDED_DEPTH);
        return NULL;
    }
    fg_ref_node *r = fg_arena_alloc(x->c->arena, sizeof *r);
    if (r == NULL) {
        x->c->oom = 1;
        return NULL;
    }
    r->def = d;
    r->node.kind = FG_NODE_REF;
    r->node.kind_bits = kind;
    r->node.loc = e->loc;
    r->node.text = x->sink->source + e->loc.begin;
    r->node.children = &d->node;
    r->node.child_count = 1;
    r->node.ref_name = d->name;
    *depth = d->depth + 1;
    return &r->node;
}

/* Counts the operands of a `&`/`|` chain, through parenthesized chains of the
 * same operator (which are flattened into it). */
static uint32_t fg_count_operands(const fg_syn_expr *e) {
    uint32_t n = 0;
    for (const fg_syn_expr *k = e->first; k != NULL; k = k->next)
        n += k->kind == e->kind ? fg_count_operands(k) : 1;
    return n;
}

static int fg_flatten(fg_check_ctx *x, const fg_syn_expr *e, fg_node **out, uint32_t *n,
                      uint32_t *depth) {
    int ok = 1;
    for (const fg_syn_expr *k = e->first; k != NULL; k = k->next) {
        if (k->kind == e->kind) {
            if (!fg_flatten(x, k, out, n, depth)) ok = 0;
            continue;
        }
        uint32_t d = 0;
        fg_node *child = fg_check_any(x, k, &d);
        if (child == NULL) {
            ok = 0;
            if (x->c->oom) return 0;
            continue;
        }
        out[(*n)++] = child;
        if (d > *depth) *depth = d;
    }
    return ok;
}

/* The builtin that n is, directly or through references, or -1. O(1): a
 * definition remembers what it is, so chains of names are not walked. */
static int fg_call_of(const fg_node *n) {
    if (n->kind == FG_NODE_CALL) return (int)n->builtin;
    if (n->kind == FG_NODE_REF) return ((const fg_ref_node *)(const void *)n)->def->call;
    return -1;
}

/* Whether n is (a reference to) a call of builtin id. */
static int fg_is_call(const fg_node *n, fg_builtin_id id) { return fg_call_of(n) == (int)id; }

/* `&`, `|`, `~`: only in tracker and tripper positions; the operands are
 * checked in the same position (so kinds never mix) and chains are
 * flattened. Every operand is checked even after one fails, so that all
 * their errors are reported. */
static fg_node *fg_check_operator(fg_check_ctx *x, const fg_syn_expr *e, uint32_t *depth) {
    static const char ops[] = {[FG_SYN_AND] = '&', [FG_SYN_OR] = '|', [FG_SYN_NOT] = '~'};
    if (x->expected != FG_KIND_TRACKER && x->expected != FG_KIND_TRIPPER) {
        fg_diag_error(x->sink, e->op_loc,
                      "'%c' combines trackers or trippers, but '%s' expects a single %s",
                      ops[e->kind], fg_setting_name(x->key), fg_kind_name(x->expected));
        return NULL;
    }
    if (e->kind == FG_SYN_NOT) {
        uint32_t d = 0;
        fg_node *child = fg_check_any(x, e->first, &d);
        if (child == NULL) return NULL;
        fg_node *n = fg_check_node(x, FG_NODE_NOT, e);
        fg_node **kids = fg_arena_alloc(x->c->arena, sizeof *kids);
        if (n == NULL || kids == NULL) {
            x->c->oom = 1;
            return NULL;
        }
        kids[0] = child;
        n->children = kids;
        n->child_count = 1;
        *depth = d + 1;
        return n;
    }
    uint32_t count = fg_count_operands(e), n_kids = 0, d = 0;
    fg_node **kids = fg_arena_alloc(x->c->arena, count * sizeof *kids);
    if (kids == NULL) {
        x->c->oom = 1;
        return NULL;
    }
    if (!fg_flatten(x, e, kids, &n_kids, &d)) return NULL;
    fg_node *n = fg_check_node(x, e->kind == FG_SYN_AND ? FG_NODE_AND : FG_NODE_OR, e);
    if (n == NULL) return NULL;
    n->children = kids;
    n->child_count = n_kids;
    *depth = d + 1;
    if (e->kind == FG_SYN_AND && x->expected == FG_KIND_TRIPPER) {
        int closed = 0, half_opened = 0;
        for (uint32_t i = 0; i < n_kids; i++) {
            closed |= fg_is_call(kids[i], FG_BUILTIN_CLOSED);
            half_opened |= fg_is_call(kids[i], FG_BUILTIN_HALF_OPENED);
        }
        if (closed && half_opened)
            fg_diag_warning(x->sink, e->loc,
                            "this conjunction needs both Closed() and HalfOpened(), so it is never true");
    }
    return n;
}

static fg_node *fg_check_any(fg_check_ctx *x, const fg_syn_expr *e, uint32_t *depth) {
    switch (e->kind) {
    case FG_SYN_CALL: {
        int id = fg_builtin_find(e->name, e->name_len);
        *depth = 1;
        if (id >= 0) return fg_check_call(x, e, (fg_builtin_id)id);
        fg_def *d = fg_def_find(x->c, e->name, e->name_len);
        if (d != NULL) {
            d->used = 1;
            fg_diag_error(x->sink, e->op_loc,
                          "'" FG_NAME_FMT "' is a named %s: use it without parentheses",
                          FG_NAME_ARG(e->name, e->name_len), fg_kind_name(fg_setting_kind(d->key)));
        } else {
            fg_report_unknown(x, e);
        }
        return NULL;
    }
    case FG_SYN_NAME:
        if (x->expected == FG_KIND_TRACKER || x->expected == FG_KIND_TRIPPER)
            return fg_check_ref(x, e, depth);
        if (fg_def_find(x->c, e->name, e->name_len) == NULL) return fg_check_ref(x, e, depth);
        fg_diag_error(x->sink, e->op_loc, "'%s' expects a %s constructor, not a named definition",
                      fg_setting_name(x->key), fg_kind_name(x->expected));
        return NULL;
    case FG_SYN_NUMBER:
        if (!e->bad)
            fg_diag_error(x->sink, e->loc, "'%s' expects a %s, not a number",
                          fg_setting_name(x->key), fg_kind_name(x->expected));
        return NULL;
    default:
        return fg_check_operator(x, e, depth);
    }
}

fg_node *fg_check_expr(fg_checker *c, fg_diag_sink *sink, const fg_syn_expr *e, int key) {
    fg_check_ctx x = {c, sink, key, fg_setting_kind(key)};
    uint32_t depth = 0;
    if (e == NULL || x.expected == 0) return NULL;
    return fg_check_any(&x, e, &depth);
}

int fg_check_number(fg_checker *c, fg_diag_sink *sink, const fg_syn_expr *e, int key, double *out) {
    (void)c;
    const char *name = fg_setting_name(key);
    if (e->kind != FG_SYN_NUMBER) {
        fg_diag_error(sink, e->loc, "'%s' expects a number", name);
        return -1;
    }
    if (e->bad) return -1;
    if (!fg_check_unit(sink, e->loc, e->unit, fg_setting_quantity(key), name)) return -1;
    double v = e->number;
    if (key == FG_SET_MAX_HALF_OPEN_CALLS) {
        /* Slots are allocated when a breaker is made: bounded like windows. */
        if (v != floor(v) || v < 1 || v > FG_MAX_HALF_OPEN_CALLS_LIMIT) {
            fg_diag_error(sink, e->loc,
                          "max_half_open_calls must be an integer in [1, %d], got %.15g",
                          FG_MAX_HALF_OPEN_CALLS_LIMIT, v);
            return -1;
        }
    } else if (!(v > 0)) {
        fg_diag_error(sink, e->loc, "half_open_lease must be a duration > 0, got %.15g", v);
        return -1;
    }
    *out = v;
    return 0;
}

void fg_check_define(fg_checker *c, fg_diag_sink *sink, const fg_syn_stmt *stmt) {
    fg_def *prev = fg_def_find(c, stmt->name, stmt->name_len);
    if (prev != NULL) {
        fg_diag_error(sink, stmt->name_loc, "'" FG_NAME_FMT "' is already defined (line %d)",
                      FG_NAME_ARG(stmt->name, stmt->name_len), prev->loc.line);
        /* Still check the expression for its own errors; the first one wins. */
        if (stmt->kind == FG_STMT_DEFINE) (void)fg_check_expr(c, sink, stmt->expr, stmt->define_key);
        return;
    }
    /* `tripper FailureStreak = ...`: legal, but a reader takes FailureStreak(3)
     * below for a use of it. */
    if (fg_builtin_find(stmt->name, stmt->name_len) >= 0)
        fg_diag_warning(sink, stmt->name_loc,
                        "%s '" FG_NAME_FMT "' has the name of a constructor: '" FG_NAME_FMT
                        "' names this definition, '" FG_NAME_FMT "(...)' still calls the constructor",
                        fg_setting_name(stmt->define_key), FG_NAME_ARG(stmt->name, stmt->name_len),
                        FG_NAME_ARG(stmt->name, stmt->name_len), FG_NAME_ARG(stmt->name, stmt->name_len));
    fg_def *d = fg_arena_alloc(c->arena, sizeof *d);
    if (d == NULL) {
        c->oom = 1;
        return;
    }
    d->name = fg_arena_strndup(c->arena, stmt->name, stmt->name_len); /* ref_name is a C string */
    d->len = stmt->name_len;
    if (d->name == NULL) {
        c->oom = 1;
        return;
    }
    d->key = stmt->define_key;
    d->loc = stmt->name_loc;
    d->sink = sink;
    if (stmt->kind == FG_STMT_DEFINE) {
        fg_check_ctx x = {c, sink, d->key, fg_setting_kind(d->key)};
        d->node = fg_check_any(&x, stmt->expr, &d->depth);
    }
    d->call = d->node != NULL ? fg_call_of(d->node) : -1;
    if (fg_def_insert(c, d) != 0) c->oom = 1;
}

void fg_check_warn_unused(fg_checker *c) {
    for (const fg_def *d = c->first_def; d != NULL; d = d->next) {
        if (!d->used && d->node != NULL)
            fg_diag_warning(d->sink, d->loc, "%s '" FG_NAME_FMT "' is defined but never used",
                            fg_setting_name(d->key), FG_NAME_ARG(d->name, d->len));
    }
}

void **fg_check_ref_slot(const fg_node *node) {
    if (node == NULL || node->kind != FG_NODE_REF) return NULL;
    return &((const fg_ref_node *)(const void *)node)->def->user;
}

/* ---- the never-fires analysis ----------------------------------------------
 * A tree's requirement is the largest MinRequests(n) that every way of
 * making it true needs: the largest over `&` operands, the smallest over `|`
 * alternatives, nothing under `~`. It does not depend on the window, so a
 * definition computes it once and every breaker reuses it: linear in the DAG
 * however many breakers share a definition. */

typedef struct fg_requirement {
    double count;          /* 0: none */
    const fg_node *culprit; /* the MinRequests call that sets count */
} fg_requirement;

static fg_requirement fg_requires(const fg_node *n) {
    fg_requirement none = {0, NULL}, best = none;
    switch (n->kind) {
    case FG_NODE_CALL:
        if (n->builtin != FG_BUILTIN_MIN_REQUESTS) return none;
        best.count = n->args[0].number;
        best.culprit = n;
        return best;
    case FG_NODE_AND:
        for (uint32_t i = 0; i < n->child_count; i++) {
            fg_requirement r = fg_requires(n->children[i]);
            if (r.count > best.count) best = r;
        }
        return best;
    case FG_NODE_OR:
        for (uint32_t i = 0; i < n->child_count; i++) {
            fg_requirement r = fg_requires(n->children[i]);
            if (i == 0 || r.count < best.count) best = r;
        }
        return best;
    case FG_NODE_REF: {
        fg_def *d = ((const fg_ref_node *)(const void *)n)->def;
        if (!d->req_done) {
            fg_requirement r = fg_requires(n->children[0]);
            d->req_count = r.count;
            d->req_culprit = r.culprit;
            d->req_done = 1;
        }
        best.count = d->req_count;
        best.culprit = d->req_culprit;
        return best;
    }
    default:
        return none;
    }
}

const fg_node *fg_check_never_fires(fg_checker *c, const fg_node *tripper, double window_size) {
    (void)c;
    fg_requirement r = fg_requires(tripper);
    return r.count > window_size ? r.culprit : NULL;
}
