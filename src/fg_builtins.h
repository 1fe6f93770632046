/*
 * fg_builtins.h -- the language's constructors, declared once.
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

#endif /* FG_BUILTINS_H */
