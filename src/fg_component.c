/*
 * fg_compile_breaker.c -- from checked settings to a breaker definition:
 * components (one setting's checked value), fluxgate's defaults, program
 * generation shared per component, parameter records for windows, retries
 * and permits, and the never-fires warning (which depends on the window a
 * breaker ends up with, so it is decided here, per breaker).
 */
#include <string.h>

#include "fg_builtins.h"
#include "fg_compile_internal.h"
#include "fg_parse.h"

fg_component *fg_component_new(fg_compiler *cc, fg_diag_sink *sink, int key,
                               const fg_syn_expr *expr) {
    fg_component *c = fg_arena_alloc(cc->arena, sizeof *c);
    if (c == NULL) {
        cc->oom = 1;
        return NULL;
    }
    c->key = key;
    c->sink = sink;
    if (expr == NULL) return c; /* did not parse: already reported */
    c->loc = expr->loc;
    c->text = sink->source + expr->loc.begin;
    c->text_len = expr->loc.end - expr->loc.begin;
    if (fg_setting_kind(key) != 0) {
        c->node = fg_check_expr(cc->checker, sink, expr, key);
        c->ok = c->node != NULL;
    } else {
        c->ok = fg_check_number(cc->checker, sink, expr, key, &c->number) == 0;
    }
    if (fg_checker_oom(cc->checker)) cc->oom = 1;
    return c;
}

/* fluxgate's default for key, compiled from its text once per compilation. */
static fg_component *fg_fallback(fg_compiler *cc, int key) {
    static const char *const texts[FG_SET_COUNT] = {
        [FG_SET_WINDOW] = FG_DEFAULT_WINDOW_TEXT,   [FG_SET_TRACKER] = FG_DEFAULT_TRACKER_TEXT,
        [FG_SET_TRIPPER] = FG_DEFAULT_TRIPPER_TEXT, [FG_SET_RETRY] = FG_DEFAULT_RETRY_TEXT,
        [FG_SET_PERMIT] = FG_DEFAULT_PERMIT_TEXT,
    };
    if (cc->fallback[key] != NULL) return cc->fallback[key];
    fg_component *c;
    if (key == FG_SET_MAX_HALF_OPEN_CALLS || key == FG_SET_HALF_OPEN_LEASE) {
        c = fg_arena_alloc(cc->arena, sizeof *c);
        if (c == NULL) {
            cc->oom = 1;
            return NULL;
        }
        c->key = key;
        c->ok = 1;
        c->number = key == FG_SET_HALF_OPEN_LEASE ? FG_DEFAULT_HALF_OPEN_LEASE
                                                   : FG_DEFAULT_MAX_HALF_OPEN_CALLS;
        c->text = key == FG_SET_HALF_OPEN_LEASE ? FG_DEFAULT_TEXT(FG_DEFAULT_HALF_OPEN_LEASE)
                                                 : FG_DEFAULT_TEXT(FG_DEFAULT_MAX_HALF_OPEN_CALLS);
        c->text_len = strlen(c->text);
    } else {
        const char *text = texts[key];
        fg_diag_sink *sink = fg_compiler_sink(cc, "default", text, strlen(text));
        fg_syn_unit *unit = NULL;
        if (sink == NULL ||
            fg_parse(cc->arena, sink, &cc->alloc, text, strlen(text), FG_PARSE_EXPRESSION, &unit) != 0) {
            cc->oom = 1;
            return NULL;
        }
        c = fg_component_new(cc, sink, key, unit->expr);
        if (c == NULL) return NULL;
    }
    c->is_fallback = 1;
    cc->fallback[key] = c;
    return c;
}

/* The component's program, generated on first use for the breaker named
 * name (at loc; loc.line == 0 for the expression API). NULL after a reported
 * error. A setting that is just a name (`tripper = standard`) shares one
 * program with every other such use of the definition, so a big definition
 * used by many breakers is compiled once. */
static fg_program *fg_component_program(fg_compiler *cc, fg_component *c, const char *name,
                                        size_t name_len, fg_loc loc) {
    void **slot = fg_check_ref_slot(c->node);
    fg_component *owner = slot != NULL ? *slot : NULL;
    if (c->codegen_state == 0 && owner != NULL && owner->key == c->key &&
        owner->text_len == c->text_len && memcmp(owner->text, c->text, c->text_len) == 0) {
        c->codegen_state = owner->codegen_state; /* a failure was reported once, there */
        c->program = owner->program;
    }
    if (c->codegen_state == 0) {
        if (slot != NULL && owner == NULL) *slot = c;
        fg_codegen_error err;
        memset(&err, 0, sizeof err);
        fg_program_kind kind = c->key == FG_SET_TRACKER ? FG_PROGRAM_TRACKER : FG_PROGRAM_TRIPPER;
        if (fg_codegen(c->node, kind, &cc->alloc, &c->program, &err) != 0) {
            c->codegen_state = -1;
            c->program = NULL;
            static const char too_large[] = "program too large: ";
            if (loc.line > 0 && strncmp(err.message, too_large, sizeof too_large - 1) == 0)
                /* A size limit is the whole program's, not the node where
                 * counting crossed it (often deep in a shared definition):
                 * name the breaker whose program it is, at its name (in the
                 * policy file: the compilation's first sink). */
                fg_diag_error(&cc->sinks[0], loc,
                              "program too large: the %s of breaker '%.*s%s': %s", fg_setting_name(c->key),
                              (int)(name_len > 64 ? 64 : name_len), name, name_len > 64 ? "..." : "",
                              err.message + sizeof too_large - 1);
            else
                fg_diag_error(c->sink, err.loc, "%s", err.message[0] ? err.message : "code generation failed");
        } else {
            c->codegen_state = 1;
            c->next_program = cc->programs;
            cc->programs = c;
            cc->program_count++;
        }
    }
    return c->program;
}

/* A NUL-terminated copy of the component's text in the policy arena. */
static const char *fg_component_text(fg_compiler *cc, const fg_component *c) {
    const char *t = fg_arena_strndup(cc->policy_arena, c->text, c->text_len);
    if (t == NULL) cc->oom = 1;
    return t;
}

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

void fg_breaker_build(fg_compiler *cc, const char *name, size_t name_len, fg_loc loc,
                      fg_component *const chosen[FG_SET_COUNT]) {
    fg_component *c[FG_SET_COUNT];
    int ok = 1;
    for (int k = 0; k < FG_SET_COUNT; k++) {
        c[k] = chosen[k] != NULL ? chosen[k] : fg_fallback(cc, k);
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
