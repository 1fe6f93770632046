/*
 * fg_check.h -- the checker: raw parse tree (fg_syntax.h) -> checked tree
 * (fg_ast.h), with every error located and reported, never the first only.
 *
 * The checker resolves constructor names against FG_BUILTIN_LIST, binds
 * positional and keyword arguments to the parameter table (defaults filled,
 * types and ranges checked), checks component kinds, resolves named
 * trackers/trippers (a use becomes an FG_NODE_REF to the definition's one
 * checked tree, so a DAG: nothing is copied and nothing is checked twice),
 * and flattens `&`/`|` to n-ary nodes.
 *
 * All nodes live in the arena given at creation. Recursion is bounded: by
 * the parser's nesting limit inside one expression, and by
 * FG_MAX_EXPANDED_DEPTH across named references.
 */
#ifndef FG_CHECK_H
#define FG_CHECK_H

#include "fg_arena.h"
#include "fg_ast.h"
#include "fg_diag.h"
#include "fg_syntax.h"

/* Documented limit: the depth of a tree with named references expanded. */
enum { FG_MAX_EXPANDED_DEPTH = 1000 };

typedef struct fg_checker fg_checker;

/* A checker whose nodes and tables live in arena; NULL when out of memory.
 * Freed with the arena. */
fg_checker *fg_checker_new(fg_arena *arena);

/* The policy's statements (first of the list), so that a name used before its
 * definition is reported as defined later, or as referring to itself, rather
 * than only as unknown. */
void fg_checker_set_statements(fg_checker *c, const fg_syn_stmt *first);

/* 1 once an allocation failed (the compile must then fail). */
int fg_checker_oom(const fg_checker *c);

/* Checks a definition statement (FG_STMT_DEFINE or FG_STMT_BAD_DEFINE) and
 * makes its name known to later expressions. A definition that fails to
 * check stays known, so its uses are not reported a second time. sink must
 * outlive the checker (unused-definition warnings go to it). */
void fg_check_define(fg_checker *c, fg_diag_sink *sink, const fg_syn_stmt *stmt);

/* Checks e in the position of setting key (FG_SET_WINDOW .. FG_SET_PERMIT):
 * returns the checked tree (a single FG_NODE_CALL for window, retry and
 * permit), or NULL after reporting to sink. */
fg_node *fg_check_expr(fg_checker *c, fg_diag_sink *sink, const fg_syn_expr *e, int key);

/* Checks a numeric setting (FG_SET_MAX_HALF_OPEN_CALLS, FG_SET_HALF_OPEN_LEASE):
 * returns 0 and sets *out, or -1 after reporting. */
int fg_check_number(fg_checker *c, fg_diag_sink *sink, const fg_syn_expr *e, int key, double *out);

/* Names handed on as C strings (breaker names, Custom() names) must not be
 * empty (an empty breaker name is an empty Prometheus label and a lookup by
 * "", an empty Custom() name a predicate nobody can mean) and must not hold
 * a NUL byte, or "a\0b" and "a\0c" would both become "a". Returns 0, or -1
 * after reporting "<what> is empty" at the string, or "<what> contains a
 * NUL byte" at the byte itself (the string's token spans loc in sink's
 * source). */
int fg_check_name(fg_diag_sink *sink, const char *what, const char *s, size_t n, fg_loc loc);

/* Warns at every definition that no expression used. */
void fg_check_warn_unused(fg_checker *c);

/* When every alternative of tripper needs MinRequests(n) with n greater than
 * window_size, returns such a MinRequests call (of the alternative that
 * needs the fewest calls): the tripper can never fire with a
 * CountWindow(window_size). NULL otherwise. Each definition's requirement is
 * computed once (it does not depend on the window), so the work over all
 * breakers is linear in the DAG plus their own trees. */
const fg_node *fg_check_never_fires(fg_checker *c, const fg_node *tripper, double window_size);

/* For an FG_NODE_REF made by this checker: a slot that belongs to the
 * definition it refers to (NULL at first), where the compiler keeps what it
 * made from the definition once, to share it between uses. NULL for any
 * other node. */
void **fg_check_ref_slot(const fg_node *node);

#endif /* FG_CHECK_H */
