/*
 * fg_builtins.h -- the language's constructors, declared once: the list of
 * names and kinds, the types of the parameter table, lookup by name and
 * did-you-mean suggestions.
 *
 * FG_BUILTIN_LIST is the single source of truth for constructor names and
 * kinds: the parser never knows a constructor's name; the checker looks names
 * up here, the code generator switches on the ids, and the did-you-mean
 * suggestions are generated from it. Parameters (names, types, ranges,
 * defaults) live in the table in fg_builtins.c, one row per entry of this
 * list; a checked call node carries its arguments in exactly that order, with
 * defaults filled in (see fg_ast.h). doc/language.md's "Constructors" table
 * documents both, and tests/test_builtins.c compares it with them row by row
 * (there is deliberately no second copy of that table here).
 *
 * Each numeric parameter also says what it measures (fg_quantity): a count
 * or a code takes no unit, a ratio may be written as a percentage, a
 * duration with ms/s/m/h; a unit anywhere else is a located error.
 */
#ifndef FG_BUILTINS_H
#define FG_BUILTINS_H

#include <stddef.h>
#include <stdint.h>

/* Component kinds, as bits so that All() can be two kinds at once. */
enum {
    FG_KIND_WINDOW = 1 << 0,
    FG_KIND_TRACKER = 1 << 1,
    FG_KIND_TRIPPER = 1 << 2,
    FG_KIND_RETRY = 1 << 3,
    FG_KIND_PERMIT = 1 << 4
};

/* What a numeric parameter or setting measures, and so which literal units
 * it takes: the one place that decides where `ms`/`s`/`m`/`h` and `%` are
 * allowed (fg_check_unit). */
typedef enum fg_quantity {
    FG_QTY_COUNT,    /* calls, slots, codes: a plain number only */
    FG_QTY_FACTOR,   /* a plain number with no dimension (Backoff multiplier) */
    FG_QTY_RATIO,    /* a fraction: plain (0.5) or a percentage (50%) */
    FG_QTY_DURATION, /* seconds: plain (30) or with a unit (30s, 500ms, 2m, 1h) */
    FG_QTY_CODE,     /* a status code: a plain integer */
    FG_QTY_NAME,     /* a string passed on as a C string (Custom): no NUL byte */
    FG_QTY_TEXT      /* strings, components: not a number at all */
} fg_quantity;

#define FG_BUILTIN_LIST(X)                                                     \
    X(COUNT_WINDOW, "CountWindow", FG_KIND_WINDOW)                             \
    X(TIME_WINDOW, "TimeWindow", FG_KIND_WINDOW)                               \
    X(ALL, "All", FG_KIND_TRACKER | FG_KIND_PERMIT)                            \
    X(TYPE_OF, "TypeOf", FG_KIND_TRACKER)                                      \
    X(STATUS, "Status", FG_KIND_TRACKER)                                       \
    X(MESSAGE, "Message", FG_KIND_TRACKER)                                     \
    X(CUSTOM, "Custom", FG_KIND_TRACKER)                                       \
    X(CLOSED, "Closed", FG_KIND_TRIPPER)                                       \
    X(HALF_OPENED, "HalfOpened", FG_KIND_TRIPPER)                              \
    X(MIN_REQUESTS, "MinRequests", FG_KIND_TRIPPER)                            \
    X(FAILURE_RATE, "FailureRate", FG_KIND_TRIPPER)                            \
    X(AVG_LATENCY, "AvgLatency", FG_KIND_TRIPPER)                              \
    X(SLOW_RATE, "SlowRate", FG_KIND_TRIPPER)                                  \
    X(FAILURE_STREAK, "FailureStreak", FG_KIND_TRIPPER)                        \
    X(ALWAYS, "Always", FG_KIND_RETRY)                                         \
    X(NEVER, "Never", FG_KIND_RETRY)                                           \
    X(COOLDOWN, "Cooldown", FG_KIND_RETRY)                                     \
    X(BACKOFF, "Backoff", FG_KIND_RETRY)                                       \
    X(RANDOM, "Random", FG_KIND_PERMIT)                                        \
    X(RAMP_UP, "RampUp", FG_KIND_PERMIT)

typedef enum fg_builtin_id {
#define FG_X(id, name, kind) FG_BUILTIN_##id,
    FG_BUILTIN_LIST(FG_X)
#undef FG_X
    FG_BUILTIN_COUNT
} fg_builtin_id;

/* ---- the parameter table (fg_builtins.c), lookup and suggestions ---------- */

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

#endif /* FG_BUILTINS_H */
