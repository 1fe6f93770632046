/*
 * fg_test_tree.h -- hand-built checked trees for the back-end unit tests
 * (codegen, VM, verifier, disassembler), so they do not depend on the front
 * end. Every node owns its own text: a string literal spelling the node as
 * it would be written, so alternative texts can be checked.
 *
 *   fg_tree t = {0};
 *   fg_node *e = tt_or(&t, "FailureStreak(5) | MinRequests(20)",
 *                      tt_call1(&t, "FailureStreak(5)", FG_BUILTIN_FAILURE_STREAK, 5),
 *                      tt_call1(&t, "MinRequests(20)", FG_BUILTIN_MIN_REQUESTS, 20), NULL);
 */
#ifndef FG_TEST_TREE_H
#define FG_TEST_TREE_H

#include <stdarg.h>
#include <string.h>

#include "fg_ast.h"

typedef struct fg_tree {
    fg_node nodes[512];
    fg_value values[512];
    fg_node *kids[1024];
    size_t node_count, value_count, kid_count;
} fg_tree;

static inline fg_node *tt_node(fg_tree *t, const char *text, fg_node_kind kind) {
    fg_node *n = &t->nodes[t->node_count++];
    memset(n, 0, sizeof *n);
    n->kind = kind;
    n->text = text;
    n->loc.line = 1;
    n->loc.column = 1;
    n->loc.begin = 0;
    n->loc.end = (uint32_t)strlen(text);
    return n;
}

static inline fg_value tt_num(double x) {
    fg_value v;
    memset(&v, 0, sizeof v);
    v.kind = FG_VALUE_NUMBER;
    v.number = x;
    return v;
}

static inline fg_value tt_str(const char *s) {
    fg_value v;
    memset(&v, 0, sizeof v);
    v.kind = FG_VALUE_STRING;
    v.string = s;
    v.length = strlen(s);
    return v;
}

static inline fg_value tt_range(double low, double high) {
    fg_value v = tt_num(low);
    v.kind = FG_VALUE_RANGE;
    v.high = high;
    return v;
}

/* A call with n arguments given as fg_value. */
static inline fg_node *tt_call(fg_tree *t, const char *text, fg_builtin_id id, uint32_t n, ...) {
    fg_node *node = tt_node(t, text, FG_NODE_CALL);
    node->builtin = id;
    node->args = &t->values[t->value_count];
    node->arg_count = n;
    va_list ap;
    va_start(ap, n);
    for (uint32_t i = 0; i < n; i++) t->values[t->value_count++] = va_arg(ap, fg_value);
    va_end(ap);
    return node;
}

static inline fg_node *tt_call0(fg_tree *t, const char *text, fg_builtin_id id) {
    return tt_call(t, text, id, 0);
}

static inline fg_node *tt_call1(fg_tree *t, const char *text, fg_builtin_id id, double x) {
    return tt_call(t, text, id, 1, tt_num(x));
}

/* An operator node over the NULL-terminated list of children. */
static inline fg_node *tt_op(fg_tree *t, const char *text, fg_node_kind kind, va_list ap) {
    fg_node *n = tt_node(t, text, kind);
    n->children = &t->kids[t->kid_count];
    fg_node *child;
    while ((child = va_arg(ap, fg_node *)) != NULL) {
        t->kids[t->kid_count++] = child;
        n->child_count++;
    }
    return n;
}

static inline fg_node *tt_and(fg_tree *t, const char *text, ...) {
    va_list ap;
    va_start(ap, text);
    fg_node *n = tt_op(t, text, FG_NODE_AND, ap);
    va_end(ap);
    return n;
}

static inline fg_node *tt_or(fg_tree *t, const char *text, ...) {
    va_list ap;
    va_start(ap, text);
    fg_node *n = tt_op(t, text, FG_NODE_OR, ap);
    va_end(ap);
    return n;
}

static inline fg_node *tt_not(fg_tree *t, const char *text, fg_node *child) {
    fg_node *n = tt_node(t, text, FG_NODE_NOT);
    n->children = &t->kids[t->kid_count];
    t->kids[t->kid_count++] = child;
    n->child_count = 1;
    return n;
}

/* A use of a named definition: text is the name as written. */
static inline fg_node *tt_ref(fg_tree *t, const char *name, fg_node *definition) {
    fg_node *n = tt_not(t, name, definition);
    n->kind = FG_NODE_REF;
    n->ref_name = name;
    return n;
}

/* The SPEC 3.2 payment_api tripper (fg_payment_policy.h), built by hand:
 * `standard | (MinRequests(20) & SlowRate(30%, threshold = 2s))`, with
 * standard = FailureStreak(5) | (MinRequests(20) & ((Closed() & FailureRate(60%))
 *                                | (HalfOpened() & FailureRate(50%)))). */
static inline fg_node *tt_payment_api_tripper(fg_tree *t) {
    fg_node *closed_rate =
        tt_and(t, "(Closed() & FailureRate(60%))", tt_call0(t, "Closed()", FG_BUILTIN_CLOSED),
               tt_call1(t, "FailureRate(60%)", FG_BUILTIN_FAILURE_RATE, 0.6), NULL);
    fg_node *half_rate = tt_and(t, "(HalfOpened() & FailureRate(50%))",
                                tt_call0(t, "HalfOpened()", FG_BUILTIN_HALF_OPENED),
                                tt_call1(t, "FailureRate(50%)", FG_BUILTIN_FAILURE_RATE, 0.5), NULL);
    fg_node *rates = tt_or(t, "((Closed() & FailureRate(60%)) | (HalfOpened() & FailureRate(50%)))",
                           closed_rate, half_rate, NULL);
    fg_node *guarded = tt_and(t, "(MinRequests(20) & ((Closed() & FailureRate(60%)) | "
                                 "(HalfOpened() & FailureRate(50%))))",
                              tt_call1(t, "MinRequests(20)", FG_BUILTIN_MIN_REQUESTS, 20), rates,
                              NULL);
    fg_node *standard =
        tt_or(t, "FailureStreak(5) | (MinRequests(20) & ((Closed() & FailureRate(60%)) | "
                 "(HalfOpened() & FailureRate(50%))))",
              tt_call1(t, "FailureStreak(5)", FG_BUILTIN_FAILURE_STREAK, 5), guarded, NULL);
    fg_node *slow = tt_and(t, "(MinRequests(20) & SlowRate(30%, threshold = 2s))",
                           tt_call1(t, "MinRequests(20)", FG_BUILTIN_MIN_REQUESTS, 20),
                           tt_call(t, "SlowRate(30%, threshold = 2s)", FG_BUILTIN_SLOW_RATE, 2,
                                   tt_num(0.3), tt_num(2)),
                           NULL);
    return tt_or(t, "standard | (MinRequests(20) & SlowRate(30%, threshold = 2s))",
                 tt_ref(t, "standard", standard), slow, NULL);
}

#endif /* FG_TEST_TREE_H */
