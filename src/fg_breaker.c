/*
 * fg_breaker.c -- breakers' life cycle (creation from a policy definition,
 * freeing), listeners, queries and the manual commands.
 *
 * Everything a breaker will ever need is allocated here, once, so that the
 * call protocol (fg_breaker_call.c) never allocates.
 */
#include "fg_breaker_internal.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "fg_alloc.h"
#include "fg_clock.h"

static void fg_breaker_error(char *err, size_t cap, const char *fmt, ...) {
    if (err == NULL || cap == 0) return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err, cap, fmt, ap);
    va_end(ap);
}

/* Frees whatever parts of a (possibly half-made) breaker exist, then the
 * breaker itself. Does not touch the policy reference or the lock. */
static void fg_breaker_free_parts(fg_breaker *b) {
    fg_allocator *a = &b->alloc;
    fg_listener *l = atomic_load_explicit(&b->listeners, memory_order_acquire);
    while (l != NULL) {
        fg_listener *next = atomic_load_explicit(&l->next, memory_order_acquire);
        fg_alloc_free(a, l, sizeof *l);
        l = next;
    }
    fg_window_free(&b->window, a);
    if (b->half_open.slots != NULL) fg_half_open_free(&b->half_open, a);
    fg_alloc_free(a, b->customs, (size_t)b->custom_count * sizeof *b->customs);
    fg_alloc_free(a, b->close_reason, b->close_reason_size);
    fg_allocator copy = *a;
    fg_alloc_free(&copy, b, sizeof *b);
}

/* Resolves every Custom() name of the tracker through the embedder. */
static int fg_breaker_resolve_customs(fg_breaker *b, const fg_breaker_options *opt, char *err,
                                      size_t cap) {
    const fg_program *tracker = b->def->tracker;
    uint32_t n = fg_program_custom_count(tracker);
    if (n == 0) return 0;
    b->customs = fg_alloc_new(&b->alloc, (size_t)n * sizeof *b->customs);
    if (b->customs == NULL) {
        fg_breaker_error(err, cap, "out of memory");
        return -1;
    }
    b->custom_count = n;
    for (uint32_t i = 0; i < n; i++) {
        const char *name = fg_program_custom_name(tracker, i);
        b->customs[i].fn = NULL;
        b->customs[i].ud = NULL;
        int found = opt != NULL && opt->resolve_custom != NULL &&
                    opt->resolve_custom(opt->resolve_ud, name, &b->customs[i]) &&
                    b->customs[i].fn != NULL;
        if (!found) {
            fg_breaker_error(err, cap, "Custom(\"%s\") has no registered predicate", name);
            return -1;
        }
    }
    return 0;
}

/* Whether a tripper's text has a `|` or `&` outside parentheses (trippers
 * hold no strings, so every such byte is an operator). */
static int fg_has_top_level_operator(const char *text) {
    int depth = 0;
    for (const char *c = text; *c != '\0'; c++) {
        if (*c == '(') depth++;
        else if (*c == ')') depth--;
        else if ((*c == '|' || *c == '&') && depth == 0) return 1;
    }
    return 0;
}

/* "not <tripper text>": the half_open -> closed reason, built once so that
 * the hot path never formats it. A text with a top-level operator is put in
 * parentheses, so that "not (A | B)" cannot be read as "(not A) | B". */
static int fg_breaker_make_close_reason(fg_breaker *b) {
    const char *text = fg_program_text(b->def->tripper);
    if (text == NULL) text = "";
    size_t len = strlen(text);
    int wrap = fg_has_top_level_operator(text);
    b->close_reason_size = len + 5 + (wrap ? 2 : 0);
    b->close_reason = fg_alloc_new(&b->alloc, b->close_reason_size);
    if (b->close_reason == NULL) return -1;
    char *out = b->close_reason;
    memcpy(out, "not ", 4);
    out += 4;
    if (wrap) *out++ = '(';
    memcpy(out, text, len);
    out += len;
    if (wrap) *out++ = ')';
    *out = '\0';
    return 0;
}

/* Without an explicit seed, mix the breaker's address and the clock so that
 * two breakers (or two runs) do not share a sequence. */
static uint64_t fg_breaker_default_seed(const fg_breaker *b, double now) {
    uint64_t bits = 0;
    memcpy(&bits, &now, sizeof bits < sizeof now ? sizeof bits : sizeof now);
    uint64_t state = (uint64_t)(uintptr_t)b ^ (bits * UINT64_C(0x9E3779B97F4A7C15));
    return fg_random_splitmix64(&state);
}

fg_breaker *fg_breaker_new(fg_policy *policy, size_t index, const fg_breaker_options *opt, char *err,
                           size_t err_cap) {
    if (err != NULL && err_cap > 0) err[0] = '\0';
    if (policy == NULL || index >= policy->breaker_count) {
        fg_breaker_error(err, err_cap, "the policy has no breaker #%zu", index);
        return NULL;
    }
    fg_allocator alloc = fg_alloc_resolve(opt != NULL ? &opt->alloc : NULL);
    fg_breaker *b = fg_alloc_new(&alloc, sizeof *b);
    if (b == NULL) {
        fg_breaker_error(err, err_cap, "out of memory");
        return NULL;
    }
    memset(b, 0, sizeof *b);
    b->alloc = alloc;
    b->def = &policy->breakers[index];
    atomic_init(&b->listeners, NULL);
    b->clock = opt != NULL && opt->clock != NULL ? opt->clock : fg_clock_monotonic;
    b->clock_ud = opt != NULL && opt->clock != NULL ? opt->clock_ud : NULL;

    if (fg_breaker_resolve_customs(b, opt, err, err_cap) != 0) goto fail;
    const fg_program *tripper = b->def->tripper;
    if (fg_breaker_make_close_reason(b) != 0 ||
        fg_window_init(&b->window, &b->def->window, fg_program_thresholds(tripper),
                       fg_program_threshold_count(tripper), &b->alloc) != 0 ||
        fg_half_open_init(&b->half_open, b->def->max_half_open_calls, b->def->half_open_lease,
                          &b->alloc) != 0) {
        fg_breaker_error(err, err_cap, "out of memory");
        goto fail;
    }
    if (fg_lock_init(&b->lock) != 0) {
        fg_breaker_error(err, err_cap, "cannot create the breaker's lock");
        goto fail;
    }

    double raw = b->clock(b->clock_ud);
    b->last_now = isfinite(raw) ? raw : 0.0;
    uint64_t seed = opt != NULL && opt->has_seed ? opt->seed : fg_breaker_default_seed(b, b->last_now);
    fg_random_init(&b->random, opt != NULL ? opt->random : NULL, opt != NULL ? opt->random_ud : NULL, seed);
    b->state = FG_STATE_CLOSED;
    b->changed_at = b->last_now;
    b->retry_factor = 1.0;
    fg_window_advance(&b->window, b->last_now);

    fg_policy_retain(policy);
    b->policy = policy;
    return b;

fail:
    fg_breaker_free_parts(b);
    return NULL;
}

void fg_breaker_free(fg_breaker *b) {
    if (b == NULL) return;
    fg_policy *policy = b->policy;
    fg_lock_destroy(&b->lock);
    fg_breaker_free_parts(b);
    fg_policy_free(policy);
}

int fg_breaker_add_listener(fg_breaker *b, fg_listener_fn fn, void *ud) {
    if (fn == NULL) return -1;
    fg_listener *l = fg_alloc_new(&b->alloc, sizeof *l);
    if (l == NULL) return -1;
    l->fn = fn;
    l->ud = ud;
    atomic_init(&l->next, NULL);
    fg_lock_acquire(&b->lock);
    /* Release: a dispatcher that sees the pointer sees fn and ud too. */
    if (b->listeners_tail == NULL)
        atomic_store_explicit(&b->listeners, l, memory_order_release);
    else
        atomic_store_explicit(&b->listeners_tail->next, l, memory_order_release);
    b->listeners_tail = l;
    fg_lock_release(&b->lock);
    return 0;
}

const char *fg_breaker_name(const fg_breaker *b) {
    return b->def->name;
}

double fg_breaker_now(fg_breaker *b) {
    double raw = b->clock(b->clock_ud);
    fg_lock_acquire(&b->lock);
    double now = fg_breaker_now_locked(b, raw);
    fg_lock_release(&b->lock);
    return now;
}

fg_state fg_breaker_state(fg_breaker *b) {
    fg_lock_acquire(&b->lock);
    fg_state state = b->state;
    fg_lock_release(&b->lock);
    return state;
}

void fg_breaker_info(fg_breaker *b, fg_info *info) {
    double raw = b->clock(b->clock_ud);
    fg_lock_acquire(&b->lock);
    double now = fg_breaker_now_locked(b, raw);
    fg_breaker_expire_leases_locked(b, now);
    info->name = b->def->name;
    info->state = b->state;
    info->changed_at = b->changed_at;
    info->reopens = b->reopens;
    info->consecutive_failures = b->consecutive_failures;
    info->generation = b->generation;
    info->half_open_in_flight = b->half_open.in_flight;
    fg_window_metric(&b->window, now, &info->metric);
    info->counters = b->counters;
    fg_lock_release(&b->lock);
}

/* A manual command: a transition like any other (even closed -> closed). */
static void fg_breaker_command(fg_breaker *b, fg_state to, const char *reason) {
    double raw = b->clock(b->clock_ud);
    fg_pending pending = {0};
    fg_lock_acquire(&b->lock);
    double now = fg_breaker_now_locked(b, raw);
    fg_breaker_transition_locked(b, to, reason, now, &pending);
    fg_lock_release(&b->lock);
    fg_breaker_dispatch(b, &pending);
}

void fg_breaker_reset(fg_breaker *b) {
    fg_breaker_command(b, FG_STATE_CLOSED, "reset()");
}

void fg_breaker_disable(fg_breaker *b) {
    fg_breaker_command(b, FG_STATE_DISABLED, "disable()");
}

void fg_breaker_metrics_only(fg_breaker *b) {
    fg_breaker_command(b, FG_STATE_METRICS_ONLY, "metrics_only()");
}

void fg_breaker_force_open(fg_breaker *b) {
    fg_breaker_command(b, FG_STATE_FORCED_OPEN, "force_open()");
}
