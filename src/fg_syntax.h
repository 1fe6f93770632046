/*
 * fg_syntax.h -- the raw parse tree: what the parser builds, before checking.
 *
 * The parser knows no constructor names and no kinds; it records calls,
 * names, numbers and operators with their locations, and statements with
 * their settings. fg_check.c turns expressions into the checked fg_node tree
 * of fg_ast.h. Everything lives in the compile arena (fg_arena.h).
 *
 * `|` and `&` chains are built n-ary while parsing (a left-recursive rule
 * appends to the node it already has), so a 50,000-term chain is one node
 * with a list of children, not a 50,000-deep tree: nothing downstream
 * recurses along a chain. Nesting comes only from parentheses and `~`, and
 * the parser bounds it (FG_MAX_NESTING in fg_parse.h).
 */
#ifndef FG_SYNTAX_H
#define FG_SYNTAX_H

#include <stddef.h>
#include <stdint.h>

#include "fg_arena.h"
#include "fg_ast.h"

/* The settings of a breaker or defaults block, declared once: the component
 * kind a setting expects, or 0 and what its number measures. */
#define FG_SETTING_LIST(X)                                                     \
    X(WINDOW, "window", FG_KIND_WINDOW, FG_QTY_TEXT)                           \
    X(TRACKER, "tracker", FG_KIND_TRACKER, FG_QTY_TEXT)                        \
    X(TRIPPER, "tripper", FG_KIND_TRIPPER, FG_QTY_TEXT)                        \
    X(RETRY, "retry", FG_KIND_RETRY, FG_QTY_TEXT)                              \
    X(PERMIT, "permit", FG_KIND_PERMIT, FG_QTY_TEXT)                           \
    X(MAX_HALF_OPEN_CALLS, "max_half_open_calls", 0, FG_QTY_COUNT)             \
    X(HALF_OPEN_LEASE, "half_open_lease", 0, FG_QTY_DURATION)

typedef enum fg_setting_key {
#define FG_X(id, name, kind, quantity) FG_SET_##id,
    FG_SETTING_LIST(FG_X)
#undef FG_X
    FG_SET_COUNT
} fg_setting_key;

/* "window", "tracker", ...; NULL when out of range. */
const char *fg_setting_name(int key);
/* The component kind a setting expects (FG_KIND_*), or 0 for the numeric ones. */
int fg_setting_kind(int key);
/* What a numeric setting's value measures (FG_QTY_TEXT for the others). */
fg_quantity fg_setting_quantity(int key);

typedef enum fg_syn_kind {
    FG_SYN_CALL,   /* name(args) */
    FG_SYN_NAME,   /* a bare name: a named tracker/tripper */
    FG_SYN_NUMBER, /* a bare number (max_half_open_calls, half_open_lease) */
    FG_SYN_AND,    /* children, n >= 2 */
    FG_SYN_OR,     /* children, n >= 2 */
    FG_SYN_NOT     /* one child */
} fg_syn_kind;

typedef struct fg_syn_arg {
    const char *name; /* keyword, or NULL for a positional argument */
    size_t name_len;
    fg_loc name_loc;
    fg_value value;   /* kind, number(s) or decoded string, and its location */
    int bad;          /* the lexer already reported this value (e.g. 1e999) */
    struct fg_syn_arg *next;
} fg_syn_arg;

typedef struct fg_syn_expr fg_syn_expr;
struct fg_syn_expr {
    fg_syn_kind kind;
    fg_loc loc;        /* the whole span, parentheses included when parenthesized */
    fg_loc op_loc;     /* the name (CALL, NAME), the first operator (AND, OR, NOT) */
    int parenthesized;
    const char *name;  /* CALL, NAME: points into the source */
    size_t name_len;
    fg_syn_arg *args;  /* CALL, in source order */
    uint32_t arg_count;
    double number;     /* NUMBER */
    fg_unit unit;      /* NUMBER: the unit it was written with */
    int bad;           /* NUMBER already reported by the lexer */
    fg_syn_expr *first, *last; /* AND, OR, NOT: children in order */
    uint32_t count;
    fg_syn_expr *next; /* sibling in the parent's list */
};

typedef struct fg_syn_setting {
    int key;           /* fg_setting_key */
    fg_loc key_loc;
    fg_syn_expr *expr;
    struct fg_syn_setting *next;
} fg_syn_setting;

typedef enum fg_stmt_kind {
    FG_STMT_DEFINE,     /* tracker|tripper NAME = expr */
    FG_STMT_BAD_DEFINE, /* a definition whose expression did not parse */
    FG_STMT_DEFAULTS,
    FG_STMT_BREAKER
} fg_stmt_kind;

typedef struct fg_syn_stmt {
    fg_stmt_kind kind;
    int define_key;    /* FG_SET_TRACKER or FG_SET_TRIPPER for definitions */
    fg_loc loc;        /* the keyword */
    const char *name;  /* definition or breaker name (decoded for strings) */
    size_t name_len;
    fg_loc name_loc;
    fg_syn_expr *expr; /* DEFINE */
    fg_syn_setting *settings; /* DEFAULTS, BREAKER: in order */
    struct fg_syn_stmt *next;
} fg_syn_stmt;

/* What one parse produced. A policy has statements; a single expression
 * unit has expr. Statements that failed to parse are left out. */
typedef struct fg_syn_unit {
    fg_syn_stmt *first, *last;
    uint32_t breaker_count;
    fg_syn_expr *expr;
} fg_syn_unit;

/* A bounded list being built by the parser (settings, arguments). */
typedef struct fg_syn_list {
    void *first, *last;
    uint32_t count;
} fg_syn_list;

/* Builders. Each returns NULL when the arena is out of memory. */
fg_syn_expr *fg_syn_call(fg_arena *a, fg_loc loc, fg_loc name_loc, const char *name,
                         size_t name_len, fg_syn_list args);
fg_syn_expr *fg_syn_name(fg_arena *a, fg_loc loc, const char *name, size_t name_len);
fg_syn_expr *fg_syn_number(fg_arena *a, fg_loc loc, double number, fg_unit unit, int bad);
/* left op right for FG_SYN_AND/OR: appends right to left when left is an
 * unparenthesized node of the same kind (O(1)), else makes a new node. */
fg_syn_expr *fg_syn_binary(fg_arena *a, fg_syn_kind kind, fg_syn_expr *left, fg_syn_expr *right,
                           fg_loc op_loc, fg_loc loc);
fg_syn_expr *fg_syn_not(fg_arena *a, fg_syn_expr *child, fg_loc op_loc, fg_loc loc);
fg_syn_arg *fg_syn_arg_new(fg_arena *a, const char *name, size_t name_len, fg_loc name_loc,
                           fg_value value, int bad);
fg_syn_setting *fg_syn_setting_new(fg_arena *a, int key, fg_loc key_loc, fg_syn_expr *expr);
fg_syn_stmt *fg_syn_stmt_new(fg_arena *a, fg_stmt_kind kind, fg_loc loc);

/* Appends item (whose first member chain is `next`) to a list: O(1). */
void fg_syn_list_append_arg(fg_syn_list *list, fg_syn_arg *arg);
void fg_syn_list_append_setting(fg_syn_list *list, fg_syn_setting *setting);
void fg_syn_unit_add(fg_syn_unit *unit, fg_syn_stmt *stmt);

#endif /* FG_SYNTAX_H */
