/*
 * fg_ast.h -- the checked expression tree: the contract between the front end
 * (parser + checker, which build and check it) and the code generator (which
 * turns tracker and tripper trees into bytecode).
 *
 * By the time a tree reaches fg_codegen it is fully checked: every call names
 * a builtin of the right kind with its arguments in parameter order (defaults
 * filled, ranges checked), every `&`/`|` is flattened to n-ary form, and named
 * references are resolved to the definition's tree (so a tree is a DAG: a
 * named tripper used twice is shared, not copied). Nodes live in the
 * compiler's arena and die with it; text spans point into the source text,
 * which outlives the compilation.
 */
#ifndef FG_AST_H
#define FG_AST_H

#include <stddef.h>
#include <stdint.h>

#include "fg_builtins.h"

/* A position and the source span a node covers. */
typedef struct fg_loc {
    int line;       /* 1-based */
    int column;     /* 1-based, bytes */
    uint32_t begin; /* byte offset of the first character */
    uint32_t end;   /* byte offset one past the last character */
} fg_loc;

typedef enum fg_value_kind {
    FG_VALUE_NUMBER, /* number: units already applied (500ms -> 0.5, 50% -> 0.5) */
    FG_VALUE_STRING, /* string/length: escapes already decoded; may contain NUL */
    FG_VALUE_RANGE   /* number .. high, both integers, inclusive */
} fg_value_kind;

/* The unit a number literal was written with. The value is already in
 * seconds or as a fraction; the unit stays so that the checker can refuse a
 * unit where it does not belong (CountWindow(5m), Cooldown(10%)). */
typedef enum fg_unit {
    FG_UNIT_NONE,
    FG_UNIT_MS,     /* durations: ms, s, m, h */
    FG_UNIT_S,
    FG_UNIT_M,
    FG_UNIT_H,
    FG_UNIT_PERCENT /* a ratio: % */
} fg_unit;

#define FG_UNIT_IS_DURATION(u) ((u) >= FG_UNIT_MS && (u) <= FG_UNIT_H)

typedef struct fg_value {
    fg_value_kind kind;
    double number;
    double high;
    const char *string;
    size_t length;
    fg_loc loc;
    fg_unit unit;   /* NUMBER, RANGE: the literal's unit (a range: either end's) */
} fg_value;

typedef enum fg_node_kind {
    FG_NODE_CALL, /* builtin(args) */
    FG_NODE_AND,  /* children[0] & children[1] & ... (n >= 2) */
    FG_NODE_OR,   /* children[0] | children[1] | ... (n >= 2) */
    FG_NODE_NOT,  /* ~children[0] */
    FG_NODE_REF   /* a named tracker/tripper: children[0] is the definition's tree */
} fg_node_kind;

typedef struct fg_node fg_node;
struct fg_node {
    fg_node_kind kind;
    int kind_bits;     /* FG_KIND_TRACKER or FG_KIND_TRIPPER (as checked) */
    fg_loc loc;        /* span of the node's text, parentheses included when the
                          node was written in parentheses: "(A & B)" */
    const char *text;  /* start of that span in the source (text[0..loc.end-loc.begin)) */
    /* FG_NODE_CALL */
    fg_builtin_id builtin;
    const fg_value *args; /* fixed parameters in order; for TypeOf/Status the list */
    uint32_t arg_count;
    /* FG_NODE_AND / OR / NOT / REF */
    fg_node *const *children;
    uint32_t child_count;
    const char *ref_name; /* FG_NODE_REF: the name used */
};

#endif /* FG_AST_H */
