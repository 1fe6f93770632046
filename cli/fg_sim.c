/*
 * fg_sim.c -- the trace replay behind `fluxgate simulate` (semantics in
 * fg_sim.h). Calls in flight wait in a binary min-heap keyed by completion
 * time (then by row, so that equal times record in arrival order and every
 * run is the same), which interleaves completions with arrivals as a real
 * service would see them.
 */
#include "fg_sim.h"

#include <stdio.h>
#include <string.h>

#include "fg_cli.h"

/* A call in flight: its ticket waits here until the call completes. */
typedef struct pending {
    double due;
    size_t row;
    fg_ticket ticket;
} pending;

typedef struct sim {
    double now;              /* the simulated clock the breaker reads */
    fg_sim_result *result;
    pending *heap;
    size_t heap_len;
} sim;

static double sim_clock(void *ud)
{
    return ((const sim *)ud)->now;
}

static int before(const pending *a, const pending *b)
{
    return a->due < b->due || (a->due == b->due && a->row < b->row);
}

static void heap_push(sim *s, const pending *p)
{
    size_t i = s->heap_len++;
    while (i > 0) {
        size_t parent = (i - 1) / 2;
        if (!before(p, &s->heap[parent]))
            break;
        s->heap[i] = s->heap[parent];
        i = parent;
    }
    s->heap[i] = *p;
}

static pending heap_pop(sim *s)
{
    pending top = s->heap[0], last = s->heap[--s->heap_len];
    size_t i = 0;
    for (;;) {
        size_t child = 2 * i + 1;
        if (child >= s->heap_len)
            break;
        if (child + 1 < s->heap_len && before(&s->heap[child + 1], &s->heap[child]))
            child++;
        if (!before(&s->heap[child], &last))
            break;
        s->heap[i] = s->heap[child];
        i = child;
    }
    if (s->heap_len > 0)
        s->heap[i] = last;
    return top;
}

/* The listener: copies the transition, since its strings live only during the call. */
static void on_transition(void *ud, const fg_transition *t)
{
    fg_sim_result *r = ((sim *)ud)->result;
    fg_sim_transition *slot;
    size_t len = t->reason != NULL ? strlen(t->reason) : 0;
    if (r->transition_count == r->transition_cap) {
        size_t ncap = r->transition_cap == 0 ? 16 : r->transition_cap * 2;
        fg_sim_transition *grown = fg_cli_grow(r->transitions, r->transition_cap * sizeof *grown,
                                               ncap * sizeof *grown);
        if (grown == NULL) {
            r->out_of_memory = 1;
            return;
        }
        r->transitions = grown;
        r->transition_cap = ncap;
    }
    slot = &r->transitions[r->transition_count];
    slot->reason = fg_cli_alloc(len + 1);
    if (slot->reason == NULL) {
        r->out_of_memory = 1;
        return;
    }
    memcpy(slot->reason, len > 0 ? t->reason : "", len);
    slot->reason[len] = '\0';
    slot->reason_size = len + 1;
    slot->time = t->timestamp;
    slot->old_state = t->old_state;
    slot->new_state = t->new_state;
    slot->metric = t->metric;
    r->transition_count++;
}

/* The outcome a row stands for; strings point into the trace buffer. */
static fg_outcome outcome_of(const fg_trace_row *row)
{
    fg_outcome o;
    memset(&o, 0, sizeof o);
    o.has_status = row->has_status;
    o.status = row->status;
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
static void complete_next(sim *s, fg_breaker *breaker, const fg_trace_row *rows)
{
    pending p = heap_pop(s);
    fg_sim_call *call = &s->result->calls[p.row];
    s->now = p.due;
    call->verdict = fg_breaker_record_at(breaker, &p.ticket, call->outcome_class,
                                         rows[p.row].duration, p.due);
    if (p.due > s->result->end)
        s->result->end = p.due;
}

void fg_sim_result_free(fg_sim_result *result)
{
    size_t i;
    for (i = 0; i < result->transition_count; i++)
        fg_cli_free(result->transitions[i].reason, result->transitions[i].reason_size);
    fg_cli_free(result->transitions, result->transition_cap * sizeof *result->transitions);
    fg_cli_free(result->calls, result->call_count * sizeof *result->calls);
    memset(result, 0, sizeof *result);
}

int fg_sim_run(fg_policy *policy, size_t index, const fg_sim_options *options,
               const fg_trace_row *rows, size_t n, fg_sim_result *result, char *err, size_t err_cap)
{
    sim s;
    fg_breaker_options bo;
    fg_breaker *breaker;
    size_t i;

    memset(result, 0, sizeof *result);
    memset(&s, 0, sizeof s);
    s.result = result;
    s.now = rows[0].time;
    result->start = result->end = rows[0].time;
    result->calls = fg_cli_alloc(n * sizeof *result->calls);
    s.heap = fg_cli_alloc(n * sizeof *s.heap);
    if (result->calls == NULL || s.heap == NULL) {
        fg_cli_free(result->calls, n * sizeof *result->calls);
        fg_cli_free(s.heap, n * sizeof *s.heap);
        result->calls = NULL;
        snprintf(err, err_cap, "out of memory");
        return -1;
    }
    result->call_count = n;
    memset(result->calls, 0, n * sizeof *result->calls);

    if (err_cap > 0)
        err[0] = '\0';
    memset(&bo, 0, sizeof bo);
    bo.clock = sim_clock;
    bo.clock_ud = &s;
    bo.has_seed = options->has_seed;
    bo.seed = options->seed;
    breaker = fg_breaker_new(policy, index, &bo, err, err_cap);
    if (breaker == NULL || fg_breaker_add_listener(breaker, on_transition, &s) != 0) {
        if (breaker != NULL) {
            snprintf(err, err_cap, "out of memory");
            fg_breaker_free(breaker);
        } else if (err_cap > 0 && err[0] == '\0') {
            snprintf(err, err_cap, "the breaker could not be made");
        }
        fg_cli_free(s.heap, n * sizeof *s.heap);
        fg_sim_result_free(result);
        return -1;
    }
    {
        fg_info info;
        fg_breaker_info(breaker, &info);
        result->initial_state = info.state;
        result->threshold_count = info.metric.threshold_count;
        memcpy(result->thresholds, info.metric.thresholds, sizeof result->thresholds);
    }

    for (i = 0; i < n; i++) {
        fg_sim_call *call = &result->calls[i];
        fg_outcome outcome = outcome_of(&rows[i]);
        fg_ticket ticket;
        while (s.heap_len > 0 && s.heap[0].due <= rows[i].time)
            complete_next(&s, breaker, rows);
        s.now = rows[i].time;
        if (rows[i].time > result->end)
            result->end = rows[i].time;
        call->arrival = rows[i].time;
        call->completion = rows[i].time + rows[i].duration;
        call->admitted = fg_breaker_acquire_at(breaker, rows[i].time, &ticket);
        call->state = ticket.state;
        call->verdict = FG_VERDICT_UNRECORDED;
        /* Classification does not depend on time or state: do it once, here. */
        call->outcome_class = fg_breaker_classify(breaker, &outcome);
        if (call->admitted) {
            pending p;
            p.due = call->completion;
            p.row = i;
            p.ticket = ticket;
            heap_push(&s, &p);
        }
    }
    while (s.heap_len > 0)
        complete_next(&s, breaker, rows);

    fg_breaker_free(breaker);
    fg_cli_free(s.heap, n * sizeof *s.heap);
    if (result->out_of_memory) {
        snprintf(err, err_cap, "out of memory while collecting transitions");
        fg_sim_result_free(result);
        return -1;
    }
    return 0;
}
