/*
 * fg_sim.h -- replays a trace of calls through one breaker on a simulated
 * clock: the engine of `fluxgate simulate`, kept apart from its printing.
 *
 * Semantics (documented in the man page, doc/fluxgate.1, SIMULATION):
 *   - The clock starts at the first call's time; the breaker reads only it.
 *   - A row at time t asks the breaker at t (fg_breaker_acquire_at).
 *   - An admitted call completes at t + duration. Completions are recorded
 *     (fg_breaker_record_at) in time order, interleaved with later arrivals:
 *     every completion due at or before the next arrival's time is recorded
 *     first (ties in arrival order); the rest are recorded after the last row.
 *   - Outcomes: `ok` is a result (with the row's status, if any); `error` an
 *     error of type "error"; any other word an error with that type and
 *     message. fg_breaker_classify decides failure / success / untracked.
 *   - The breaker's listener reports every transition.
 *
 * The replay streams: rows are fed one at a time (fg_sim_feed) and what
 * happens is handed to an observer as it happens, so its memory is the calls
 * in flight, not the trace. Nothing about a row is kept once its call is done.
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
    double completion; /* arrival + duration; meaningful when admitted */
    int admitted;
    fg_state state;                 /* the state that admitted or rejected it */
    fg_outcome_class outcome_class; /* as fg_breaker_classify answered */
    fg_verdict
        verdict; /* what recording did (FG_VERDICT_UNRECORDED until then, or when rejected) */
} fg_sim_call;

/* Told about every call twice (when it arrives, and when an admitted one
 * completes, verdict known) and about every transition (its strings live only
 * during the call). Any member may be NULL. */
typedef struct fg_sim_observer {
    void *ud;
    void (*arrival)(void *ud, const fg_sim_call *call);
    void (*completion)(void *ud, const fg_sim_call *call);
    void (*transition)(void *ud, const fg_transition *t);
} fg_sim_observer;

typedef struct fg_sim_options {
    int has_seed; /* 1: seed the breaker's PRNG (permits, jitter) */
    uint64_t seed;
} fg_sim_options;

/* A call in flight (private to fg_sim.c). */
typedef struct fg_sim_pending fg_sim_pending;

/* One replay. Fields are read-only outside fg_sim.c. */
typedef struct fg_sim {
    double now;        /* the simulated clock the breaker reads */
    fg_policy *policy; /* borrowed */
    size_t index;
    fg_sim_options options;
    fg_breaker *breaker;  /* made at the first row, with the clock at its time */
    char error[256];      /* why fg_sim_feed failed */
    int error_is_located; /* error is fg_breaker_new's, already "chunk: error: breaker 'x': ..." */
    fg_sim_observer observer;
    fg_sim_pending *heap; /* calls in flight, by completion time */
    size_t heap_len, heap_cap;
    size_t calls;      /* rows fed so far */
    double start, end; /* first arrival; last arrival or completion */
    fg_state initial_state;
    uint32_t threshold_count; /* the tripper's SlowRate thresholds, as the breaker reports them */
    double thresholds[FG_MAX_SLOW_THRESHOLDS];
} fg_sim;

/* Prepares a replay of the policy's index-th breaker reporting to observer.
 * The policy must outlive the replay. Nothing fails here: the breaker is made
 * at the first row, with the clock at that row's time. */
void fg_sim_open(fg_sim *sim, fg_policy *policy, size_t index, const fg_sim_options *options,
                 const fg_sim_observer *observer);

/* Feeds the next row (times in order, as fg_trace_next gives them): records
 * the completions due by its time, then asks the breaker. The row is not
 * kept. Returns 0, or -1 with a message in sim->error (the breaker could not
 * be made: then sim->error_is_located, the message reading as a compile
 * error; out of memory). */
int fg_sim_feed(fg_sim *sim, const fg_trace_row *row);

/* Records every call still in flight. */
void fg_sim_finish(fg_sim *sim);

/* Frees the breaker and the calls in flight. */
void fg_sim_close(fg_sim *sim);

#endif /* FG_SIM_H */
