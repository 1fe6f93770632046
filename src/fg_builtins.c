/*
 * fg_builtins.c -- the constructor parameter table (names, types, ranges,
 * defaults), one row per entry of FG_BUILTIN_LIST, plus did-you-mean.
 *
 * Names and kinds come from FG_BUILTIN_LIST itself; this file adds only what
 * the list does not say. A checked call carries its arguments in exactly the
 * order of these parameters, defaults filled in.
 */
#include "fg_builtins.h"

#include <float.h>
#include <string.h>

#define FG_ANY_MIN (-DBL_MAX)
#define FG_ANY_MAX DBL_MAX
/* Sizes and counts must fit the runtime's 32-bit fields. */
#define FG_U32_MAX 4294967295.0

/* Row builders for the common shapes; every field a row does not name is
 * zero: no default, closed bounds, no bound from another parameter. */
#define FG_COUNT_PARAM(n)                                                                \
    {.name = n, .type = FG_PARAM_INTEGER, .quantity = FG_QTY_COUNT, .min = 0, .min_open = 1, \
     .max = FG_U32_MAX, .rule = "an integer > 0"}
#define FG_DURATION(n)                                                                    \
    {.name = n, .type = FG_PARAM_NUMBER, .quantity = FG_QTY_DURATION, .min = 0, .min_open = 1, \
     .max = FG_ANY_MAX, .rule = "> 0"}
#define FG_RATIO(n)                                                                       \
    {.name = n, .type = FG_PARAM_NUMBER, .quantity = FG_QTY_RATIO, .min = 0, .min_open = 1, \
     .max = 1, .rule = "in (0, 1]"}
#define FG_JITTER                                                                         \
    {.name = "jitter_ratio", .type = FG_PARAM_NUMBER, .quantity = FG_QTY_RATIO, .min = 0,   \
     .max = 1, .max_open = 1, .has_default = 1, .default_value = 0, .rule = "in [0, 1)"}
#define FG_TEXT(n, t, q, r) {.name = n, .type = t, .quantity = q, .rule = r}

/* Windows are allocated whole when a breaker is made, so their sizes are
 * bounded: a typo such as CountWindow(1e9) is a located error, not a
 * gigabyte allocation (doc/language.md, "Limits"). */
#define FG_MAX_COUNT_WINDOW 1000000.0
#define FG_MAX_TIME_WINDOW 86400.0
static const fg_param fg_p_count_window[] = {
    {.name = "size", .type = FG_PARAM_INTEGER, .quantity = FG_QTY_COUNT, .min = 0, .min_open = 1,
     .max = FG_MAX_COUNT_WINDOW, .rule = "an integer > 0"}};
static const fg_param fg_p_time_window[] = {
    {.name = "size", .type = FG_PARAM_INTEGER, .quantity = FG_QTY_DURATION, .min = 0, .min_open = 1,
     .max = FG_MAX_TIME_WINDOW, .rule = "an integer > 0"}};
static const fg_param fg_p_type_of[] = {
    FG_TEXT("types", FG_PARAM_STRINGS, FG_QTY_TEXT, "at least one string")};
static const fg_param fg_p_status[] = {
    {.name = "codes", .type = FG_PARAM_CODES, .quantity = FG_QTY_CODE, .min = FG_ANY_MIN,
     .max = FG_ANY_MAX, .rule = "at least one integer or range a..b"}};
static const fg_param fg_p_message[] = {FG_TEXT("pattern", FG_PARAM_STRING, FG_QTY_TEXT, "a string")};
static const fg_param fg_p_custom[] = {FG_TEXT("name", FG_PARAM_STRING, FG_QTY_NAME, "a string")};
static const fg_param fg_p_count[] = {FG_COUNT_PARAM("count")};
static const fg_param fg_p_ratio[] = {FG_RATIO("ratio")};
static const fg_param fg_p_avg_latency[] = {FG_DURATION("threshold")};
static const fg_param fg_p_slow_rate[] = {FG_RATIO("ratio"), FG_DURATION("threshold")};
static const fg_param fg_p_cooldown[] = {FG_DURATION("duration"), FG_JITTER};
static const fg_param fg_p_backoff[] = {
    FG_DURATION("initial"),
    {.name = "multiplier", .type = FG_PARAM_NUMBER, .quantity = FG_QTY_FACTOR, .min = 1,
     .min_open = 1, .max = FG_ANY_MAX, .has_default = 1, .default_value = 2, .rule = "> 1"},
    {.name = "max_duration", .type = FG_PARAM_NUMBER, .quantity = FG_QTY_DURATION, .min = 0,
     .min_open = 1, .max = FG_ANY_MAX, .min_param = &fg_p_backoff[0], .has_default = 1,
     .default_value = 300, .rule = ">= initial"},
    FG_JITTER};
static const fg_param fg_p_random[] = {
    {.name = "ratio", .type = FG_PARAM_NUMBER, .quantity = FG_QTY_RATIO, .min = 0, .max = 1,
     .rule = "in [0, 1]"}};
static const fg_param fg_p_ramp_up[] = {
    FG_RATIO("initial"),
    {.name = "final", .type = FG_PARAM_NUMBER, .quantity = FG_QTY_RATIO, .min = 0, .min_open = 1,
     .max = 1, .min_param = &fg_p_ramp_up[0], .rule = "in [initial, 1]"},
    FG_DURATION("duration")};

#define FG_PARAMS(arr) arr, (uint32_t)(sizeof arr / sizeof arr[0])
#define FG_NONE NULL, 0
#define FG_P_COUNT_WINDOW FG_PARAMS(fg_p_count_window)
#define FG_P_TIME_WINDOW FG_PARAMS(fg_p_time_window)
#define FG_P_ALL FG_NONE
#define FG_P_TYPE_OF FG_PARAMS(fg_p_type_of)
#define FG_P_STATUS FG_PARAMS(fg_p_status)
#define FG_P_MESSAGE FG_PARAMS(fg_p_message)
#define FG_P_CUSTOM FG_PARAMS(fg_p_custom)
#define FG_P_CLOSED FG_NONE
#define FG_P_HALF_OPENED FG_NONE
#define FG_P_MIN_REQUESTS FG_PARAMS(fg_p_count)
#define FG_P_FAILURE_RATE FG_PARAMS(fg_p_ratio)
#define FG_P_AVG_LATENCY FG_PARAMS(fg_p_avg_latency)
#define FG_P_SLOW_RATE FG_PARAMS(fg_p_slow_rate)
#define FG_P_FAILURE_STREAK FG_PARAMS(fg_p_count)
#define FG_P_ALWAYS FG_NONE
#define FG_P_NEVER FG_NONE
#define FG_P_COOLDOWN FG_PARAMS(fg_p_cooldown)
#define FG_P_BACKOFF FG_PARAMS(fg_p_backoff)
#define FG_P_RANDOM FG_PARAMS(fg_p_random)
#define FG_P_RAMP_UP FG_PARAMS(fg_p_ramp_up)

static const fg_builtin fg_builtins[FG_BUILTIN_COUNT] = {
#define FG_X(id, name, kind) {name, kind, FG_P_##id},
    FG_BUILTIN_LIST(FG_X)
#undef FG_X
};

const fg_builtin *fg_builtin_get(fg_builtin_id id) { return &fg_builtins[id]; }

int fg_builtin_find(const char *name, size_t len) {
    for (int i = 0; i < FG_BUILTIN_COUNT; i++) {
        if (strlen(fg_builtins[i].name) == len && memcmp(fg_builtins[i].name, name, len) == 0)
            return i;
    }
    return -1;
}

const char *fg_kind_name(int kinds) {
    switch (kinds) {
    case FG_KIND_WINDOW: return "window";
    case FG_KIND_TRACKER: return "tracker";
    case FG_KIND_TRIPPER: return "tripper";
    case FG_KIND_RETRY: return "retry";
    case FG_KIND_PERMIT: return "permit";
    case FG_KIND_TRACKER | FG_KIND_PERMIT: return "tracker or permit";
    default: return "component";
    }
}

size_t fg_edit_distance(const char *a, size_t alen, const char *b, size_t blen, size_t cap) {
    /* Names longer than this are never close to a builtin or to each other in
     * a useful way; bounding them keeps one suggestion O(1). */
    enum { FG_EDIT_MAX = 64 };
    if (alen > FG_EDIT_MAX || blen > FG_EDIT_MAX) return cap + 1;
    size_t diff = alen > blen ? alen - blen : blen - alen;
    if (diff > cap) return cap + 1;
    size_t row[FG_EDIT_MAX + 1];
    for (size_t j = 0; j <= blen; j++) row[j] = j;
    for (size_t i = 1; i <= alen; i++) {
        size_t diag = row[0], best = i;
        row[0] = i;
        for (size_t j = 1; j <= blen; j++) {
            size_t up = row[j];
            size_t cost = a[i - 1] == b[j - 1] ? 0 : 1;
            size_t v = diag + cost;
            if (up + 1 < v) v = up + 1;
            if (row[j - 1] + 1 < v) v = row[j - 1] + 1;
            row[j] = v;
            diag = up;
            if (v < best) best = v;
        }
        if (best > cap) return cap + 1;
    }
    return row[blen] > cap ? cap + 1 : row[blen];
}

static int fg_same_ignoring_case(const char *a, const char *b, size_t n) {
    for (size_t i = 0; i < n; i++) {
        unsigned char x = (unsigned char)a[i], y = (unsigned char)b[i];
        if (x >= 'A' && x <= 'Z') x = (unsigned char)(x - 'A' + 'a');
        if (y >= 'A' && y <= 'Z') y = (unsigned char)(y - 'A' + 'a');
        if (x != y) return 0;
    }
    return 1;
}

int fg_suggest_consider(const char *name, size_t len, const char *candidate, size_t clen,
                        size_t *best_dist) {
    size_t cap = len / 3;
    if (cap < 1) cap = 1;
    if (cap > 4) cap = 4;
    if (*best_dist <= cap) cap = *best_dist - 1;
    if (*best_dist == 0) return 0;
    size_t d = fg_edit_distance(name, len, candidate, clen, cap);
    /* FAILURESTREAK, Breaker: only the case is wrong; as close as one typo. */
    if (d > 1 && len == clen && fg_same_ignoring_case(name, candidate, len)) d = 1;
    /* A truncated name ('jitter' for 'jitter_ratio') is close, however much
     * is missing, but ranks below any real near-miss. */
    if (d > cap && cap >= 1 && len >= 3 && clen > len && memcmp(candidate, name, len) == 0) d = cap;
    if (d > cap || d == 0) return 0;
    *best_dist = d;
    return 1;
}

const char *fg_builtin_suggest(const char *name, size_t len, int kinds, size_t *best_dist) {
    const char *best = NULL;
    for (int i = 0; i < FG_BUILTIN_COUNT; i++) {
        if (kinds != 0 && (fg_builtins[i].kinds & kinds) == 0) continue;
        const char *c = fg_builtins[i].name;
        if (fg_suggest_consider(name, len, c, strlen(c), best_dist)) best = c;
    }
    return best;
}
