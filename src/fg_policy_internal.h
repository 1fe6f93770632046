/*
 * fg_policy_internal.h -- a compiled policy as the runtime sees it: the
 * contract between the compiler (fg_compile.c drives it; fg_breaker_def.c
 * builds each definition) and the breaker runtime (fg_breaker.c, which
 * instantiates definitions).
 *
 * Windows, retries and permits are plain parameter records (they are not
 * programs: each is one constructor, no operators); trackers and trippers are
 * verified bytecode programs. Everything here is immutable once the policy is
 * returned to the caller, and is freed by the last fg_policy_free.
 */
#ifndef FG_POLICY_INTERNAL_H
#define FG_POLICY_INTERNAL_H

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

#include "fg_program.h"
#include "fluxgate.h"

typedef enum fg_window_kind { FG_WINDOW_COUNT, FG_WINDOW_TIME } fg_window_kind;
typedef struct fg_window_spec {
    fg_window_kind kind;
    uint32_t size;     /* calls, or one-second buckets */
    const char *text;  /* source text, e.g. "CountWindow(100)" */
} fg_window_spec;

typedef enum fg_retry_kind { FG_RETRY_ALWAYS, FG_RETRY_NEVER, FG_RETRY_COOLDOWN, FG_RETRY_BACKOFF } fg_retry_kind;
typedef struct fg_retry_spec {
    fg_retry_kind kind;
    double duration;      /* Cooldown: duration; Backoff: initial */
    double multiplier;    /* Backoff */
    double max_duration;  /* Backoff */
    double jitter_ratio;  /* Cooldown, Backoff */
    const char *text;
} fg_retry_spec;

typedef enum fg_permit_kind { FG_PERMIT_ALL, FG_PERMIT_RANDOM, FG_PERMIT_RAMP_UP } fg_permit_kind;
typedef struct fg_permit_spec {
    fg_permit_kind kind;
    double ratio;     /* Random: ratio; RampUp: initial */
    double final;     /* RampUp */
    double duration;  /* RampUp */
    const char *text;
} fg_permit_spec;

/* fluxgate's defaults */
#define FG_DEFAULT_WINDOW_TEXT "CountWindow(100)"
#define FG_DEFAULT_TRACKER_TEXT "All()"
#define FG_DEFAULT_TRIPPER_TEXT "MinRequests(100) & FailureRate(0.5)"
#define FG_DEFAULT_RETRY_TEXT "Cooldown(60)"
#define FG_DEFAULT_PERMIT_TEXT "RampUp(0.1, 1.0, 60)"
/* The two numeric defaults are written once, as plain integer tokens: the
 * compiler takes both the number and its text (what listings show) from
 * them (FG_DEFAULT_TEXT). */
#define FG_DEFAULT_MAX_HALF_OPEN_CALLS 10
#define FG_DEFAULT_HALF_OPEN_LEASE 60
#define FG_DEFAULT_TEXT(value) FG_DEFAULT_TEXT_(value)
#define FG_DEFAULT_TEXT_(value) #value
/* Upper bound of max_half_open_calls (slots are allocated up front). */
#define FG_MAX_HALF_OPEN_CALLS_LIMIT 65536

typedef struct fg_breaker_def {
    const char *name;
    fg_loc loc;                    /* where `breaker NAME` stands */
    fg_window_spec window;
    const fg_program *tracker;
    const fg_program *tripper;
    fg_retry_spec retry;
    fg_permit_spec permit;
    uint32_t max_half_open_calls;
    double half_open_lease;        /* seconds */
} fg_breaker_def;

struct fg_policy {
    fg_allocator alloc;            /* what everything below was allocated with */
    atomic_uint refs;
    const char *chunk;
    size_t breaker_count;
    fg_breaker_def *breakers;
    /* Every program is listed once here even when several breakers share it,
     * so that freeing is simple. */
    size_t program_count;
    fg_program **programs;
    void *arena;                   /* names, texts: freed as one (fg_arena.h) */
};

#endif /* FG_POLICY_INTERNAL_H */
