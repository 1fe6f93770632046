/*
 * fg_compile_expr.c -- fg_policy_from_expressions: a one-breaker policy from
 * single expressions, one per component (what the Lua binding's
 * fluxgate.breaker(name, spec) and the C API's expression path use).
 *
 * Each field is its own chunk named after the field, so an error reads
 * "tripper:1:31: error: ...". Fields left NULL take fluxgate's defaults.
 */
#include <string.h>

#include "fg_compile_internal.h"
#include "fg_parse.h"

fg_policy *fg_policy_from_expressions(const char *name, const fg_expressions *exprs,
                                      const fg_allocator *alloc, fg_report **report) {
    fg_compiler cc;
    if (name == NULL) name = "breaker";
    if (fg_compiler_open(&cc, alloc, name, report) != 0) return NULL;
    const char *fields[FG_SET_COUNT] = {0};
    if (exprs != NULL) {
        fields[FG_SET_WINDOW] = exprs->window;
        fields[FG_SET_TRACKER] = exprs->tracker;
        fields[FG_SET_TRIPPER] = exprs->tripper;
        fields[FG_SET_RETRY] = exprs->retry;
        fields[FG_SET_PERMIT] = exprs->permit;
        fields[FG_SET_MAX_HALF_OPEN_CALLS] = exprs->max_half_open_calls;
        fields[FG_SET_HALF_OPEN_LEASE] = exprs->half_open_lease;
    }
    fg_component *chosen[FG_SET_COUNT] = {0};
    cc.policy->chunk = fg_arena_strndup(cc.policy_arena, name, strlen(name));
    cc.policy->breakers = fg_arena_alloc(cc.policy_arena, sizeof *cc.policy->breakers);
    if (cc.policy->chunk == NULL || cc.policy->breakers == NULL) cc.oom = 1;
    for (int k = 0; k < FG_SET_COUNT && !cc.oom; k++) {
        if (fields[k] == NULL) continue;
        size_t len = strlen(fields[k]);
        fg_diag_sink *sink = fg_compiler_sink(&cc, fg_setting_name(k), fields[k], len);
        fg_syn_unit *unit = NULL;
        if (sink == NULL ||
            fg_parse(cc.arena, sink, &cc.alloc, fields[k], len, FG_PARSE_EXPRESSION, &unit) != 0) {
            cc.oom = 1;
            break;
        }
        chosen[k] = fg_component_new(&cc, sink, k, unit->expr);
    }
    /* the file path's rule (fg_check_name), reported in a chunk of its own */
    if (!cc.oom && name[0] == '\0') {
        fg_diag_sink *sink = fg_compiler_sink(&cc, "name", "", 0);
        if (sink == NULL) cc.oom = 1;
        else fg_diag_error(sink, (fg_loc){1, 1, 0, 0}, "breaker name is empty");
    }
    if (!cc.oom && name[0] != '\0') {
        fg_loc none = {0, 0, 0, 0};
        fg_breaker_def_build(&cc, name, strlen(name), none, chosen);
        cc.policy->breaker_count = cc.breakers_made;
    }
    return fg_compiler_close(&cc, report);
}
