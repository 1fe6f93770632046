/*
 * fg_component.c -- components: one setting's value, checked once (a
 * breaker's own setting, a `defaults` setting, or fluxgate's default,
 * compiled from its text on first use), and the tracker or tripper program
 * generated from it on first use and shared by every breaker that uses it.
 */
#include <string.h>

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

/* See fg_compile_internal.h. */
fg_component *fg_component_fallback(fg_compiler *cc, int key) {
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

/* See fg_compile_internal.h. A setting that is just a name (`tripper =
 * standard`) shares one program with every other such use of the
 * definition, so a big definition used by many breakers is compiled once. */
fg_program *fg_component_program(fg_compiler *cc, fg_component *c, const char *name,
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

/* See fg_compile_internal.h. */
const char *fg_component_text(fg_compiler *cc, const fg_component *c) {
    const char *t = fg_arena_strndup(cc->policy_arena, c->text, c->text_len);
    if (t == NULL) cc->oom = 1;
    return t;
}
