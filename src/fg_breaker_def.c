/*
 * fg_breaker_def.c -- a breaker definition (fg_breaker_def) from the
 * components chosen for its settings: the parameter records of its window,
 * retry and permit, its tracker and tripper programs, and the warnings that
 * depend on the combination a breaker ends up with (a tripper its window can
 * never satisfy; HalfOpened() under retry Never()), given once per tripper.
 */
#include <string.h>

#include "fg_builtins.h"
#include "fg_compile_internal.h"

/* Warns (once per tripper and culprit) when the breaker's CountWindow can
 * never hold the calls that every alternative of its tripper needs. */
static void fg_warn_never_fires(fg_compiler *cc, fg_component *window, fg_component *tripper) {
    const fg_node *w = window->node;
    if (w->builtin != FG_BUILTIN_COUNT_WINDOW) return;
    const fg_node *culprit = fg_check_never_fires(cc->checker, tripper->node, w->args[0].number);
    if (culprit == NULL || culprit == tripper->warned) return;
    tripper->warned = culprit;
    /* fluxgate's default tripper has no source: point at the window instead. */
    fg_diag_sink *sink = tripper->is_fallback ? window->sink : tripper->sink;
    fg_loc loc = tripper->is_fallback ? window->loc : culprit->loc;
    if (sink == NULL || loc.line == 0) return;
    fg_diag_warning(sink, loc,
                    "the %stripper can never fire: MinRequests(%.0f) needs more calls than "
                    "CountWindow(%.0f) holds",
                    tripper->is_fallback ? "default " : "", culprit->args[0].number,
                    w->args[0].number);
}

/* Warns (once per tripper) when the tripper tests HalfOpened() but the
 * breaker's retry is Never(): nothing but a manual command leaves open, and
 * no manual command leads to half_open, so the tripper is only ever
 * evaluated in the closed state and HalfOpened() is always false there. */
static void fg_warn_half_open_unreachable(fg_component *retry,
                                          fg_component *tripper, const fg_program *program) {
    if (retry->node == NULL || retry->node->builtin != FG_BUILTIN_NEVER) return;
    if (tripper->warned_half_open || tripper->is_fallback || tripper->sink == NULL) return;
    if (!fg_program_reads_state(program, FG_STATE_HALF_OPEN)) return;
    tripper->warned_half_open = 1;
    fg_diag_warning(tripper->sink, tripper->loc,
                    "HalfOpened() can never be true here: with retry Never() the breaker "
                    "never enters half_open, so the tripper only runs in the closed state");
}

void fg_breaker_def_build(fg_compiler *cc, const char *name, size_t name_len, fg_loc loc,
                          fg_component *const chosen[FG_SET_COUNT]) {
    fg_component *c[FG_SET_COUNT];
    int ok = 1;
    for (int k = 0; k < FG_SET_COUNT; k++) {
        c[k] = chosen[k] != NULL ? chosen[k] : fg_component_fallback(cc, k);
        if (c[k] == NULL) return; /* out of memory */
        if (!c[k]->ok) ok = 0;
    }
    if (!ok) return; /* each error was reported where it was written */
    fg_warn_never_fires(cc, c[FG_SET_WINDOW], c[FG_SET_TRIPPER]);
    const fg_program *tracker = fg_component_program(cc, c[FG_SET_TRACKER], name, name_len, loc);
    const fg_program *tripper = fg_component_program(cc, c[FG_SET_TRIPPER], name, name_len, loc);
    if (tracker == NULL || tripper == NULL) return;
    fg_warn_half_open_unreachable(c[FG_SET_RETRY], c[FG_SET_TRIPPER], tripper);

    fg_breaker_def *def = &cc->policy->breakers[cc->breakers_made];
    memset(def, 0, sizeof *def);
    def->name = fg_arena_strndup(cc->policy_arena, name, name_len);
    def->loc = loc;
    const fg_node *w = c[FG_SET_WINDOW]->node;
    def->window.kind = w->builtin == FG_BUILTIN_TIME_WINDOW ? FG_WINDOW_TIME : FG_WINDOW_COUNT;
    def->window.size = (uint32_t)w->args[0].number;
    def->window.text = fg_component_text(cc, c[FG_SET_WINDOW]);
    def->tracker = tracker;
    def->tripper = tripper;

    const fg_node *r = c[FG_SET_RETRY]->node;
    switch (r->builtin) {
    case FG_BUILTIN_ALWAYS: def->retry.kind = FG_RETRY_ALWAYS; break;
    case FG_BUILTIN_NEVER: def->retry.kind = FG_RETRY_NEVER; break;
    case FG_BUILTIN_COOLDOWN:
        def->retry.kind = FG_RETRY_COOLDOWN;
        def->retry.duration = r->args[0].number;
        def->retry.jitter_ratio = r->args[1].number;
        break;
    default:
        def->retry.kind = FG_RETRY_BACKOFF;
        def->retry.duration = r->args[0].number;
        def->retry.multiplier = r->args[1].number;
        def->retry.max_duration = r->args[2].number;
        def->retry.jitter_ratio = r->args[3].number;
        break;
    }
    def->retry.text = fg_component_text(cc, c[FG_SET_RETRY]);

    const fg_node *p = c[FG_SET_PERMIT]->node;
    switch (p->builtin) {
    case FG_BUILTIN_RANDOM:
        def->permit.kind = FG_PERMIT_RANDOM;
        def->permit.ratio = p->args[0].number;
        break;
    case FG_BUILTIN_RAMP_UP:
        def->permit.kind = FG_PERMIT_RAMP_UP;
        def->permit.ratio = p->args[0].number;
        def->permit.final = p->args[1].number;
        def->permit.duration = p->args[2].number;
        break;
    default: def->permit.kind = FG_PERMIT_ALL; break;
    }
    def->permit.text = fg_component_text(cc, c[FG_SET_PERMIT]);
    def->max_half_open_calls = (uint32_t)c[FG_SET_MAX_HALF_OPEN_CALLS]->number;
    def->half_open_lease = c[FG_SET_HALF_OPEN_LEASE]->number;
    if (def->name == NULL) cc->oom = 1;
    cc->breakers_made++;
}
