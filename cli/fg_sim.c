/*
 * fg_sim.c -- the trace replay behind `fluxgate simulate` (semantics in
 * fg_sim.h). Calls in flight wait in a binary min-heap keyed by completion
 * time (then by row, so that equal times record in arrival order and every
 * run is the same), which interleaves completions with arrivals as a real
 * service would see them. The heap holds only calls in flight, so memory
 * follows the trace's concurrency, not its length.
 */
#include "fg_sim.h"

#include <stdio.h>
#include <string.h>

#include "fg_cli.h"

struct fg_sim_pending {
    double due;
    size_t row;
    double duration;
    fg_ticket ticket;
    fg_sim_call call;
};

static double sim_clock(void *ud) {
    return ((const fg_sim *)ud)->now;
}

static int before(const fg_sim_pending *a, const fg_sim_pending *b) {
    return a->due < b->due || (a->due == b->due && a->row < b->row);
}

static int heap_push(fg_sim *s, const fg_sim_pending *p) {
    if (s->heap_len == s->heap_cap) {
        size_t ncap = s->heap_cap == 0 ? 64 : s->heap_cap * 2;
        fg_sim_pending *grown = fg_cli_grow(s->heap, s->heap_cap * sizeof *grown,
                                            ncap * sizeof *grown);
        if (grown == NULL) return -1;
        s->heap = grown;
        s->heap_cap = ncap;
    }
    size_t i = s->heap_len++;
    while (i > 0) {
        size_t parent = (i - 1) / 2;
        if (!before(p, &s->heap[parent])) break;
        s->heap[i] = s->heap[parent];
        i = parent;
    }
    s->heap[i] = *p;
    return 0;
}

static fg_sim_pending heap_pop(fg_sim *s) {
    fg_sim_pending top = s->heap[0], last = s->heap[--s->heap_len];
    size_t i = 0;
    for (;;) {
        size_t child = 2 * i + 1;
        if (child >= s->heap_len) break;
        if (child + 1 < s->heap_len && before(&s->heap[child + 1], &s->heap[child])) child++;
        if (!before(&s->heap[child], &last)) break;
        s->heap[i] = s->heap[child];
        i = child;
    }
    if (s->heap_len > 0) s->heap[i] = last;
    return top;
}

static void on_transition(void *ud, const fg_transition *t) {
    fg_sim *s = ud;
    if (s->observer.transition != NULL) s->observer.transition(s->observer.ud, t);
}

/* The outcome a row stands for; strings point into the row's text. */
static fg_outcome outcome_of(const fg_trace_row *row) {
    fg_outcome o = {.has_status = row->has_status, .status = row->status};
    if (row->kind == FG_TRACE_ERROR) {
        o.is_error = 1;
        o.type = row->type;
        o.type_len = row->type_len;
        o.message = row->type;
        o.message_len = row->type_len;
    }
    return o;
}

/* Records the completion that is due first. */
static void complete_next(fg_sim *s) {
    fg_sim_pending p = heap_pop(s);
    s->now = p.due;
    p.call.verdict = fg_breaker_record_at(s->breaker, &p.ticket, p.call.outcome_class, p.duration,
                                          p.due);
    if (p.due > s->end) s->end = p.due;
    if (s->observer.completion != NULL) s->observer.completion(s->observer.ud, &p.call);
}

void fg_sim_open(fg_sim *s, fg_policy *policy, size_t index, const fg_sim_options *options,
                 const fg_sim_observer *observer) {
    memset(s, 0, sizeof *s);
    s->policy = policy;
    s->index = index;
    s->options = *options;
    if (observer != NULL) s->observer = *observer;
}

/* Makes the breaker, its clock at the first row's time. */
static int make_breaker(fg_sim *s) {
    fg_breaker_options bo = FG_BREAKER_OPTIONS_INIT;
    bo.clock = sim_clock;
    bo.clock_ud = s;
    bo.has_seed = s->options.has_seed;
    bo.seed = s->options.seed;
    s->breaker = fg_breaker_new(s->policy, s->index, &bo, s->error, sizeof s->error);
    if (s->breaker == NULL || fg_breaker_add_listener(s->breaker, on_transition, s) != 0) {
        if (s->breaker != NULL) {
            snprintf(s->error, sizeof s->error, "out of memory");
            fg_breaker_free(s->breaker);
            s->breaker = NULL;
        } else if (s->error[0] == '\0') {
            snprintf(s->error, sizeof s->error, "the breaker could not be made");
        } else {
            s->error_is_located = 1;
        }
        return -1;
    }
    fg_info info;
    fg_breaker_info(s->breaker, &info);
    s->initial_state = info.state;
    s->threshold_count = info.metric.threshold_count;
    memcpy(s->thresholds, info.metric.thresholds, sizeof s->thresholds);
    return 0;
}

int fg_sim_feed(fg_sim *s, const fg_trace_row *row) {
    if (s->calls == 0) {
        s->now = s->start = s->end = row->time;
        if (make_breaker(s) != 0) return -1;
    }
    while (s->heap_len > 0 && s->heap[0].due <= row->time) complete_next(s);
    s->now = row->time;
    if (row->time > s->end) s->end = row->time;
    fg_sim_pending p;
    memset(&p, 0, sizeof p);
    p.row = s->calls++;
    p.duration = row->duration;
    p.call.arrival = row->time;
    p.call.completion = row->time + row->duration;
    p.call.admitted = fg_breaker_acquire_at(s->breaker, row->time, &p.ticket);
    p.call.state = p.ticket.state;
    p.call.verdict = FG_VERDICT_UNRECORDED;
    /* Classification does not depend on time or state: do it once, here,
     * while the row's strings exist. */
    fg_outcome outcome = outcome_of(row);
    p.call.outcome_class = fg_breaker_classify(s->breaker, &outcome);
    p.due = p.call.completion;
    if (s->observer.arrival != NULL) s->observer.arrival(s->observer.ud, &p.call);
    if (p.call.admitted && heap_push(s, &p) != 0) {
        snprintf(s->error, sizeof s->error, "out of memory");
        return -1;
    }
    return 0;
}

void fg_sim_finish(fg_sim *s) {
    while (s->heap_len > 0) complete_next(s);
}

void fg_sim_close(fg_sim *s) {
    if (s->breaker != NULL) fg_breaker_free(s->breaker);
    fg_cli_free(s->heap, s->heap_cap * sizeof *s->heap);
    memset(s, 0, sizeof *s);
}
