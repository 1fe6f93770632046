/*
 * fg_builtins.h -- the language's constructors, declared once.
 *
 * FG_BUILTIN_LIST is the single source of truth for constructor names and
 * kinds: the parser never knows a constructor's name; the checker looks names
 * up here, the code generator switches on the ids, the README table and the
 * did-you-mean suggestions are generated from it. Parameters (names, types,
 * ranges, defaults) live in the table in fg_builtins.c, in the order below;
 * a checked call node carries its arguments in exactly that order, with
 * defaults filled in (see fg_ast.h).
 *
 *   id              name             kind       parameters (in order)
 *   COUNT_WINDOW    CountWindow      window     size: integer > 0
 *   TIME_WINDOW     TimeWindow       window     size: integer > 0 (seconds)
 *   ALL             All              tracker | permit   (none)
 *   TYPE_OF         TypeOf           tracker    types: string, ... (at least one)
 *   STATUS          Status           tracker    codes: integer or range a..b, ... (at least one)
 *   MESSAGE         Message          tracker    pattern: string (glob: * ?)
 *   CUSTOM          Custom           tracker    name: string
 *   CLOSED          Closed           tripper    (none)
 *   HALF_OPENED     HalfOpened       tripper    (none)
 *   MIN_REQUESTS    MinRequests      tripper    count: integer > 0
 *   FAILURE_RATE    FailureRate      tripper    ratio: (0, 1]
 *   AVG_LATENCY     AvgLatency       tripper    threshold: > 0 (seconds)
 *   SLOW_RATE       SlowRate         tripper    ratio: (0, 1], threshold: > 0
 *   FAILURE_STREAK  FailureStreak    tripper    count: integer > 0
 *   ALWAYS          Always           retry      (none)
 *   NEVER           Never            retry      (none)
 *   COOLDOWN        Cooldown         retry      duration: > 0, jitter_ratio = 0: [0, 1)
 *   BACKOFF         Backoff          retry      initial: > 0, multiplier = 2: > 1,
 *                                               max_duration = 300: >= initial, jitter_ratio = 0: [0, 1)
 *   RANDOM          Random           permit     ratio: [0, 1]
 *   RAMP_UP         RampUp           permit     initial: (0, 1], final: [initial, 1], duration: > 0
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
