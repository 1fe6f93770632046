/*
 * fg_builtin_table.h -- the parameters of every constructor of
 * FG_BUILTIN_LIST (fg_builtins.h), and name lookup with suggestions.
 *
 * The table in fg_builtins.c is the one place that says what a constructor
 * accepts; the checker (fg_check.c) applies it and the language reference
 * (doc/language.md, "Constructors") documents it.
 */
#ifndef FG_BUILTIN_TABLE_H
#define FG_BUILTIN_TABLE_H

#include <stddef.h>
#include <stdint.h>

#include "fg_builtins.h"

typedef enum fg_param_type {
    FG_PARAM_INTEGER, /* a whole number */
    FG_PARAM_NUMBER,  /* any finite number (units applied) */
    FG_PARAM_STRING,  /* one string */
    FG_PARAM_STRINGS, /* one or more strings, positional (TypeOf) */
    FG_PARAM_CODES    /* one or more integers or ranges a..b, positional (Status) */
} fg_param_type;

/* One parameter. The table is written with designated initializers, so a
 * field a row leaves out is zero: closed bounds, no default, no bound from
 * another parameter. */
typedef struct fg_param {
    const char *name;
    fg_param_type type;
    fg_quantity quantity;  /* what a number measures: which units it takes */
    double min, max;       /* bounds for numbers */
    unsigned char min_open, max_open; /* 1: the bound itself is excluded */
    const struct fg_param *min_param; /* an earlier parameter of the same constructor whose
                              value is a further (inclusive) lower bound, e.g. RampUp
                              final >= initial; NULL for none */
    unsigned char has_default;
    double default_value;
    const char *rule;      /* the constraint as messages print it: "in (0, 1]" */
} fg_param;

typedef struct fg_builtin {
    const char *name;      /* "FailureRate" */
    int kinds;             /* FG_KIND_* bits */
    const fg_param *params;
    uint32_t param_count;
} fg_builtin;

/* The index of p->min_param among b's parameters, or -1 when p has none. */
static inline int fg_param_min_index(const struct fg_builtin *b, const fg_param *p) {
    return p->min_param != NULL ? (int)(p->min_param - b->params) : -1;
}

/* The entry for id (0 <= id < FG_BUILTIN_COUNT). */
const fg_builtin *fg_builtin_get(fg_builtin_id id);

/* The builtin named name[0..len), or -1. */
int fg_builtin_find(const char *name, size_t len);

/* "tracker", "tripper", ... for one FG_KIND_* bit; "tracker or permit" style
 * for several. */
const char *fg_kind_name(int kinds);

/* Edit distance between two names (Levenshtein, bytes), capped: returns
 * cap + 1 when the distance is larger (so suggestions stay linear). */
size_t fg_edit_distance(const char *a, size_t alen, const char *b, size_t blen, size_t cap);

/* Whether `candidate` is close enough to `name` to suggest (distance at most
 * a third of the name's length, and at least one). Keeps *best_dist updated
 * so that a caller can fold many candidates: returns 1 when candidate is
 * strictly better than *best_dist. */
int fg_suggest_consider(const char *name, size_t len, const char *candidate, size_t clen,
                        size_t *best_dist);

/* The closest builtin name of one of kinds (any when kinds == 0), or NULL. */
const char *fg_builtin_suggest(const char *name, size_t len, int kinds, size_t *best_dist);

#endif /* FG_BUILTIN_TABLE_H */
