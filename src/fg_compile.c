/*
 * fg_compile.c -- compiling a policy file: fg_policy_compile and
 * fg_policy_load, and the compiler's set-up and tear-down that the
 * expression API (fg_compile_expr.c) shares.
 *
 * Pipeline: parse the whole file (syntax errors recovered per setting and
 * statement), then walk the statements in order: definitions are checked and
 * named, `defaults` settings replace the defaults of later breakers, and each
 * breaker's settings are checked and completed with defaults. Every error is
 * reported where it was written; the policy is returned only when there were
 * none. Everything temporary lives in one arena; the policy keeps its own.
 */
#include <errno.h>
#include <string.h>

#include "fg_alloc.h"
#include "fg_compile_internal.h"
#include "fg_file.h"
#include "fg_fnv.h"
#include "fg_parse.h"

int fg_compiler_open(fg_compiler *cc, const fg_allocator *alloc, const char *chunk,
                     fg_report **report_out) {
    memset(cc, 0, sizeof *cc);
    cc->alloc = fg_alloc_resolve(alloc);
    if (report_out != NULL) *report_out = NULL;
    /* Without a report the compilation still runs: errors are counted. */
    cc->report = fg_report_new(&cc->alloc);
    cc->arena = fg_arena_new(&cc->alloc);
    cc->policy_arena = fg_arena_new(&cc->alloc);
    cc->policy = fg_alloc_new(&cc->alloc, sizeof *cc->policy);
    cc->checker = cc->arena ? fg_checker_new(cc->arena) : NULL;
    if (cc->arena == NULL || cc->policy_arena == NULL || cc->policy == NULL || cc->checker == NULL) {
        cc->oom = 1;
        fg_diag_sink s;
        fg_diag_begin(&s, cc->report, chunk, "", 0);
        fg_diag_oom(&s);
        fg_arena_free(cc->arena);
        fg_arena_free(cc->policy_arena);
        fg_alloc_free(&cc->alloc, cc->policy, sizeof *cc->policy);
        if (report_out != NULL) *report_out = cc->report;
        else fg_report_free(cc->report);
        return -1;
    }
    memset(cc->policy, 0, sizeof *cc->policy);
    cc->policy->alloc = cc->alloc;
    atomic_init(&cc->policy->refs, 1u);
    cc->policy->arena = cc->policy_arena;
    return 0;
}

fg_diag_sink *fg_compiler_sink(fg_compiler *cc, const char *chunk, const char *source,
                               size_t length) {
    if (cc->sink_count == FG_MAX_SINKS) return NULL;
    fg_diag_sink *s = &cc->sinks[cc->sink_count++];
    fg_diag_begin(s, cc->report, chunk, source, length);
    return s;
}

fg_policy *fg_compiler_close(fg_compiler *cc, fg_report **report_out) {
    size_t errors = 0;
    for (int i = 0; i < cc->sink_count; i++) errors += cc->sinks[i].errors;
    fg_policy *p = cc->policy;
    if (errors == 0 && !cc->oom) {
        p->programs = fg_arena_alloc(cc->policy_arena,
                                     (cc->program_count ? cc->program_count : 1) * sizeof *p->programs);
        if (p->programs == NULL) cc->oom = 1;
    }
    if (cc->oom && cc->sink_count > 0) fg_diag_oom(&cc->sinks[0]);
    if (cc->oom && cc->sink_count == 0) {
        fg_diag_sink s;
        fg_diag_begin(&s, cc->report, "fluxgate", "", 0);
        fg_diag_oom(&s);
    }
    if (errors == 0 && !cc->oom) {
        for (fg_component *c = cc->programs; c != NULL; c = c->next_program)
            p->programs[p->program_count++] = c->program;
    } else {
        for (fg_component *c = cc->programs; c != NULL; c = c->next_program)
            fg_program_free(c->program, &cc->alloc);
        fg_arena_free(cc->policy_arena);
        fg_alloc_free(&cc->alloc, p, sizeof *p);
        p = NULL;
    }
    fg_arena_free(cc->arena);
    fg_report_finish(cc->report);
    if (report_out != NULL) *report_out = cc->report;
    else fg_report_free(cc->report);
    return p;
}

/* ---- breaker names ---------------------------------------------------------- */

/* An open-addressing set of breaker names, for duplicates. */
typedef struct fg_name_set {
    const fg_syn_stmt **slots;
    size_t cap;
} fg_name_set;

/* Returns the earlier statement with stmt's name, or NULL after adding it. */
static const fg_syn_stmt *fg_name_set_add(fg_name_set *set, const fg_syn_stmt *stmt) {
    size_t mask = set->cap - 1;
    for (size_t i = (size_t)fg_fnv1a(FG_FNV1A_INIT, stmt->name, stmt->name_len) & mask;; i = (i + 1) & mask) {
        const fg_syn_stmt *s = set->slots[i];
        if (s == NULL) {
            set->slots[i] = stmt;
            return NULL;
        }
        if (s->name_len == stmt->name_len && memcmp(s->name, stmt->name, s->name_len) == 0) return s;
    }
}

/* ---- statements -------------------------------------------------------------- */

/* Checks a block's settings into chosen[], reporting repeated settings. */
static void fg_block_settings(fg_compiler *cc, fg_diag_sink *sink, const fg_syn_stmt *stmt,
                              fg_component *chosen[FG_SET_COUNT]) {
    for (const fg_syn_setting *s = stmt->settings; s != NULL && !cc->oom; s = s->next) {
        if (chosen[s->key] != NULL) {
            fg_diag_error(sink, s->key_loc, "'%s' is set twice in this block (first on line %d)",
                          fg_setting_name(s->key), chosen[s->key]->loc.line);
            continue;
        }
        chosen[s->key] = fg_component_new(cc, sink, s->key, s->expr);
        if (chosen[s->key] == NULL) return;
        chosen[s->key]->loc = s->expr->loc;
    }
}

/* Walks the statements in file order: definitions become known, defaults
 * blocks change what later breakers inherit, breakers are built. Fills
 * cc->policy->breakers (in the policy arena). */
static void fg_compile_statements(fg_compiler *cc, fg_diag_sink *sink, const fg_syn_unit *unit) {
    fg_component *defaults[FG_SET_COUNT] = {0};
    fg_name_set names = {NULL, 16};
    while (names.cap < 2 * (size_t)unit->breaker_count + 2) names.cap *= 2;
    names.slots = fg_arena_alloc(cc->arena, names.cap * sizeof *names.slots);
    cc->policy->breakers = fg_arena_alloc(
        cc->policy_arena, (unit->breaker_count ? unit->breaker_count : 1) * sizeof *cc->policy->breakers);
    if (names.slots == NULL || cc->policy->breakers == NULL) {
        cc->oom = 1;
        return;
    }
    fg_checker_set_statements(cc->checker, unit->first);
    for (const fg_syn_stmt *st = unit->first; st != NULL && !cc->oom; st = st->next) {
        switch (st->kind) {
        case FG_STMT_DEFINE:
        case FG_STMT_BAD_DEFINE:
            fg_check_define(cc->checker, sink, st);
            if (fg_checker_oom(cc->checker)) cc->oom = 1;
            break;
        case FG_STMT_DEFAULTS: {
            fg_component *block[FG_SET_COUNT] = {0};
            fg_block_settings(cc, sink, st, block);
            for (int k = 0; k < FG_SET_COUNT; k++)
                if (block[k] != NULL) defaults[k] = block[k];
            break;
        }
        case FG_STMT_BREAKER: {
            const fg_syn_stmt *prev = fg_name_set_add(&names, st);
            if (prev != NULL)
                fg_diag_error(sink, st->name_loc, "breaker '%.*s%s' is already defined (line %d)",
                              (int)(st->name_len > 64 ? 64 : st->name_len), st->name,
                              st->name_len > 64 ? "..." : "", prev->name_loc.line);
            /* Names are C strings to every user of a policy. */
            int named = fg_check_name(sink, "breaker name", st->name, st->name_len, st->name_loc) == 0;
            fg_component *chosen[FG_SET_COUNT] = {0};
            fg_block_settings(cc, sink, st, chosen);
            for (int k = 0; k < FG_SET_COUNT; k++)
                if (chosen[k] == NULL) chosen[k] = defaults[k];
            if (prev == NULL && named) fg_breaker_def_build(cc, st->name, st->name_len, st->name_loc, chosen);
            break;
        }
        }
    }
    cc->policy->breaker_count = cc->breakers_made;
    fg_check_warn_unused(cc->checker);
}

fg_policy *fg_policy_compile(const char *source, size_t length, const char *chunk,
                             const fg_allocator *alloc, fg_report **report) {
    fg_compiler cc;
    if (chunk == NULL) chunk = "policy";
    if (fg_compiler_open(&cc, alloc, chunk, report) != 0) return NULL;
    if (source == NULL) length = 0;
    fg_diag_sink *sink = fg_compiler_sink(&cc, chunk, source ? source : "", length);
    cc.policy->chunk = fg_arena_strndup(cc.policy_arena, chunk, strlen(chunk));
    fg_syn_unit *unit = NULL;
    if (cc.policy->chunk == NULL ||
        fg_parse(cc.arena, sink, &cc.alloc, source ? source : "", length, FG_PARSE_POLICY, &unit) != 0)
        cc.oom = 1;
    if (!cc.oom) fg_compile_statements(&cc, sink, unit);
    return fg_compiler_close(&cc, report);
}

fg_policy *fg_policy_load_limited(const char *path, size_t max, const fg_allocator *alloc,
                                  fg_report **report) {
    fg_allocator a = fg_alloc_resolve(alloc);
    size_t size = 0, cap = 0;
    errno = 0;
    char *text = path ? fg_read_file(path, &a, max, &size, &cap) : NULL;
    if (text == NULL) {
        int e = path ? errno : EINVAL;
        fg_report *r = fg_report_new(&a);
        fg_diag_sink sink;
        fg_diag_begin(&sink, r, path ? path : "(null)", "", 0);
        fg_loc none = {0, 0, 0, 0};
        if (e == ENOMEM) fg_diag_oom(&sink);
        else if (e == EFBIG && max == FG_MAX_SOURCE)
            fg_diag_error(&sink, none, "input too large (limit 4 GiB)");
        else if (e == EFBIG)
            fg_diag_error(&sink, none, "input too large (limit %zu bytes)", max);
        else fg_diag_error(&sink, none, "cannot read '%s': %s", path ? path : "(null)", strerror(e));
        if (report != NULL) *report = r;
        else fg_report_free(r);
        return NULL;
    }
    fg_policy *p = fg_policy_compile(text, size, path, &a, report);
    fg_alloc_free(&a, text, cap);
    return p;
}

fg_policy *fg_policy_load(const char *path, const fg_allocator *alloc, fg_report **report) {
    return fg_policy_load_limited(path, FG_MAX_SOURCE, alloc, report);
}
