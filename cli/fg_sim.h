/*
 * fg_sim.h -- replays a trace of calls through one breaker on a simulated
 * clock: the engine of `fluxgate simulate`, kept apart from its printing.
 *
 * Semantics (documented in README.md and the man page):
 *   - The clock starts at the first call's time; the breaker reads only it.
 *   - A row at time t asks the breaker at t (fg_breaker_acquire_at).
 *   - An admitted call completes at t + duration. Completions are recorded
 *     (fg_breaker_record_at) in time order, interleaved with later arrivals:
 *     every completion due at or before the next arrival's time is recorded
 *     first (ties in arrival order); the rest are recorded after the last row.
 *   - Outcomes: `ok` is a result (with the row's status, if any); `error` an
 *     error of type "error"; any other word an error with that type and
 *     message. fg_breaker_classify decides failure / success / untracked.
 *   - The breaker's listener collects every transition.
 */
#ifndef FG_SIM_H
#define FG_SIM_H

#include <stddef.h>
#include <stdint.h>

#include "fg_trace.h"
#include "fluxgate.h"

/* What happened to one row of the trace. */
typedef struct fg_sim_call {
    double arrival;
    double completion;   /* arrival + duration; meaningful when admitted */
    int admitted;
    fg_state state;      /* the state that admitted or rejected it */
    int outcome_class;   /* fg_breaker_classify: 1 failure, 0 success, -1 untracked */
    fg_verdict verdict;  /* what recording did (FG_VERDICT_UNRECORDED when rejected) */
} fg_sim_call;

typedef struct fg_sim_transition {
    double time;
    fg_state old_state, new_state;
    char *reason;        /* owned: a copy of the listener's text */
    size_t reason_size;
    fg_metric metric;    /* the window just before it was cleared */
} fg_sim_transition;

typedef struct fg_sim_result {
    double start, end;   /* first arrival, last arrival or completion */
    fg_state initial_state;
    uint32_t threshold_count; /* the tripper's SlowRate thresholds, as the breaker reports them */
    double thresholds[FG_MAX_SLOW_THRESHOLDS];
    size_t call_count;
    fg_sim_call *calls;  /* one per row, in row order */
    size_t transition_count;
    size_t transition_cap;
    fg_sim_transition *transitions;
    int out_of_memory;   /* a transition could not be stored */
} fg_sim_result;

typedef struct fg_sim_options {
    int has_seed;        /* 1: seed the breaker's PRNG (permits, jitter) */
    uint64_t seed;
} fg_sim_options;

/* Runs rows[0..n) (n >= 1, times in order, as fg_trace_next gives them)
 * through a new breaker made from the policy's index-th definition. On
 * success returns 0 and fills *result, which the caller frees with
 * fg_sim_result_free. On failure (the breaker cannot be made, out of memory)
 * returns -1 with a message in err and leaves nothing to free. */
int fg_sim_run(fg_policy *policy, size_t index, const fg_sim_options *options,
               const fg_trace_row *rows, size_t n, fg_sim_result *result, char *err, size_t err_cap);

void fg_sim_result_free(fg_sim_result *result);

#endif /* FG_SIM_H */
