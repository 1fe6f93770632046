/*
 * test_parser.c -- the grammar (grammar/parser.y, SPEC.md 3.2): precedence,
 * n-ary chains, spans, statements, optional semicolons, syntax errors at the
 * offending token, recovery that reports every independent error, and the
 * nesting limit.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#include "fg_arena.h"
#include "fg_diag.h"
#include "fg_parse.h"
#include "fg_test_compile.h"

typedef struct parsed {
    fg_arena *arena;
    fg_report *report;
    fg_diag_sink sink;
    fg_syn_unit *unit;
    const char *text;
} parsed;

static void parse(parsed *p, const char *text, fg_parse_mode mode) {
    p->text = text;
    p->arena = fg_arena_new(NULL);
    p->report = fg_report_new(NULL);
    fg_diag_begin(&p->sink, p->report, "p.fgp", text, strlen(text));
    assert_int_equal(fg_parse(p->arena, &p->sink, NULL, text, strlen(text), mode, &p->unit), 0);
}

static void done(parsed *p) {
    fg_arena_free(p->arena);
    fg_report_free(p->report);
}

static int span_is(const parsed *p, fg_loc loc, const char *want) {
    return loc.end - loc.begin == strlen(want) && memcmp(p->text + loc.begin, want, strlen(want)) == 0;
}

static const fg_syn_expr *child(const fg_syn_expr *e, unsigned i) {
    const fg_syn_expr *k = e->first;
    while (i-- > 0 && k != NULL) k = k->next;
    assert_non_null(k);
    return k;
}

static void and_binds_tighter_than_or_and_not_tighter_than_both(void **state) {
    (void)state;
    parsed p;
    parse(&p, "A | ~B & C", FG_PARSE_EXPRESSION);
    const fg_syn_expr *e = p.unit->expr;
    assert_int_equal(e->kind, FG_SYN_OR);
    assert_int_equal(e->count, 2);
    assert_int_equal(child(e, 0)->kind, FG_SYN_NAME);
    const fg_syn_expr *and = child(e, 1);
    assert_int_equal(and->kind, FG_SYN_AND);
    assert_int_equal(child(and, 0)->kind, FG_SYN_NOT);
    assert_true(span_is(&p, child(and, 0)->loc, "~B"));
    assert_true(span_is(&p, and->loc, "~B & C"));
    done(&p);
}

static void chains_are_one_node_with_many_children(void **state) {
    (void)state;
    parsed p;
    parse(&p, "A | B | C & D & E | F", FG_PARSE_EXPRESSION);
    const fg_syn_expr *e = p.unit->expr;
    assert_int_equal(e->kind, FG_SYN_OR);
    assert_int_equal(e->count, 4);
    assert_int_equal(child(e, 2)->kind, FG_SYN_AND);
    assert_int_equal(child(e, 2)->count, 3);
    assert_true(span_is(&p, e->loc, "A | B | C & D & E | F"));
    assert_true(span_is(&p, e->op_loc, "|"));
    done(&p);
}

static void parentheses_group_and_belong_to_the_span(void **state) {
    (void)state;
    parsed p;
    parse(&p, "(A | B) | C", FG_PARSE_EXPRESSION);
    const fg_syn_expr *e = p.unit->expr;
    assert_int_equal(e->kind, FG_SYN_OR);
    assert_int_equal(e->count, 2); /* a parenthesized chain stays a group here */
    assert_true(child(e, 0)->parenthesized);
    assert_true(span_is(&p, child(e, 0)->loc, "(A | B)"));
    done(&p);
}

static void calls_take_positional_keyword_and_range_arguments(void **state) {
    (void)state;
    parsed p;
    parse(&p, "Backoff(10s, multiplier = 3, max_duration=5m)", FG_PARSE_EXPRESSION);
    const fg_syn_expr *e = p.unit->expr;
    assert_int_equal(e->kind, FG_SYN_CALL);
    assert_int_equal(e->arg_count, 3);
    assert_null(e->args->name);
    assert_int_equal(e->args->next->name_len, 10);
    assert_memory_equal(e->args->next->name, "multiplier", 10);
    assert_true(span_is(&p, e->op_loc, "Backoff"));
    done(&p);
}

static void statements_definitions_defaults_and_breakers(void **state) {
    (void)state;
    parsed p;
    parse(&p,
          "tracker t = All();\n"
          "tripper u = FailureStreak(1)\n"
          "defaults { window = CountWindow(5); retry = Never() }\n"
          "breaker \"my-api\" { tracker = t tripper = u; max_half_open_calls = 3 };\n"
          "breaker plain { }\n",
          FG_PARSE_POLICY);
    assert_int_equal(fg_report_count(p.report), 0);
    const fg_syn_stmt *s = p.unit->first;
    assert_int_equal(s->kind, FG_STMT_DEFINE);
    assert_int_equal(s->define_key, FG_SET_TRACKER);
    s = s->next;
    assert_int_equal(s->define_key, FG_SET_TRIPPER);
    s = s->next;
    assert_int_equal(s->kind, FG_STMT_DEFAULTS);
    assert_int_equal(s->settings->key, FG_SET_WINDOW);
    assert_int_equal(s->settings->next->key, FG_SET_RETRY);
    s = s->next;
    assert_int_equal(s->kind, FG_STMT_BREAKER);
    assert_int_equal(s->name_len, 6);
    assert_memory_equal(s->name, "my-api", 6);
    assert_int_equal(s->settings->next->next->key, FG_SET_MAX_HALF_OPEN_CALLS);
    assert_int_equal(p.unit->breaker_count, 2);
    done(&p);
}

static void a_syntax_error_points_at_the_offending_token(void **state) {
    (void)state;
    const char *text;
    assert_null(fg_test_compile("breaker x {\n  tripper = MinRequests(5) &\n}\n", &text));
    assert_non_null(strstr(text, "t.fgp:3:1: error: syntax error, unexpected '}'"));
    /* the source line and a caret under the column */
    assert_non_null(strstr(text, "\n  }\n  ^\n"));
}

static void every_independent_syntax_error_is_reported(void **state) {
    (void)state;
    size_t n = FG_FAILS("breaker a {\n"
                        "    tripper = FailureStreak(5\n"
                        "    retry = Cooldown(1)\n"
                        "}\n"
                        "breaker b {\n"
                        "    window = CountWindow(10) )\n"
                        "    permit = All()\n"
                        "}\n"
                        "tripper = oops\n"
                        "breaker c { tripper = FailureStreak(2 }\n",
                        "t.fgp:3:5: error: syntax error, unexpected setting name",
                        "t.fgp:6:30: error: syntax error, unexpected ')'",
                        "t.fgp:9:9: error: syntax error, unexpected '='",
                        "t.fgp:10:39: error: syntax error, unexpected '}'");
    assert_int_equal(n, 4);
}

static void an_unknown_setting_is_named_with_a_suggestion(void **state) {
    (void)state;
    size_t n = FG_FAILS("breaker c {\n    windw = CountWindow(10)\n    tripper = FailureStreak(1)\n}\n",
                        "t.fgp:2:5: error: unknown setting 'windw' (did you mean 'window'?)");
    assert_int_equal(n, 1);
}

static void an_unclosed_block_is_reported_at_the_end(void **state) {
    (void)state;
    FG_FAILS("breaker a {\n  tripper = FailureStreak(1)\n", "t.fgp:3:1: error: syntax error, unexpected end of file");
    FG_FAILS("breaker {", "t.fgp:1:9: error: syntax error, unexpected '{'");
    /* a block left open before the next statement ends there: one error, and
     * the next breaker's settings are its own (they were read as the open
     * block's: "'tripper' is set twice in this block") */
    size_t n = FG_FAILS("breaker a {\n  tripper = FailureStreak(1)\n\nbreaker b {\n  tripper = FailureStreak(2)\n}\n"
                        "defaults { retry = Cooldown(1)\nbreaker c { tripper = Zorg(1) }\n",
                        "t.fgp:4:1: error: missing '}': the block opened at line 1 ends before this 'breaker'\n",
                        "t.fgp:8:1: error: missing '}': the block opened at line 7 ends before this 'breaker'\n",
                        "t.fgp:8:23: error: unknown tripper 'Zorg'");
    assert_int_equal(n, 3);
    /* in a single expression `breaker` is no statement: nothing is inserted */
    const char *text;
    assert_null(fg_test_field("tripper", "FailureStreak(1) breaker", &text));
    assert_null(strstr(text, "missing '}'"));
}

static char *repeat(const char *prefix, const char *unit, size_t n, const char *middle,
                    const char *closer, size_t m, const char *suffix) {
    size_t len = strlen(prefix) + strlen(unit) * n + strlen(middle) + strlen(closer) * m + strlen(suffix);
    char *s = malloc(len + 1), *w = s;
    w += sprintf(w, "%s", prefix);
    for (size_t i = 0; i < n; i++) w += sprintf(w, "%s", unit);
    w += sprintf(w, "%s", middle);
    for (size_t i = 0; i < m; i++) w += sprintf(w, "%s", closer);
    sprintf(w, "%s", suffix);
    return s;
}

static void nesting_is_limited_and_the_limit_is_located(void **state) {
    (void)state;
    char *ok = repeat("breaker b { tripper = ", "(~", FG_MAX_NESTING / 2, "FailureStreak(1)", ")",
                      FG_MAX_NESTING / 2, " }");
    fg_policy_free(fg_test_compiles(ok));
    free(ok);
    char *deep = repeat("breaker b { tripper = ", "(", FG_MAX_NESTING + 1, "FailureStreak(1)", ")",
                        FG_MAX_NESTING + 1, " }\nbreaker c { tripper = FailureRate(2) }\n");
    /* reported at the '(' past the limit, once; the next breaker is still checked */
    size_t n = FG_FAILS(deep, "t.fgp:1:223: error: expression nested too deeply (limit 200)",
                        "t.fgp:2:35: error: FailureRate() ratio must be in (0, 1], got 2");
    assert_int_equal(n, 2);
    free(deep);
}

/* The deepest parser stack per level: an `|` and an `&` both pending at every
 * one of the 200 levels still fits. */
static void the_limit_holds_for_the_worst_shape(void **state) {
    (void)state;
    char *src = repeat("breaker a { tripper = ", "FailureStreak(1) | FailureStreak(2) & (", FG_MAX_NESTING,
                       "FailureStreak(3)", ")", FG_MAX_NESTING, " }");
    fg_policy_free(fg_test_compiles(src));
    free(src);
    src = repeat("breaker a { tripper = ", "FailureStreak(1) | FailureStreak(2) & ~", FG_MAX_NESTING,
                 "FailureStreak(3)", "", 0, " }");
    fg_policy_free(fg_test_compiles(src));
    free(src);
}

/* Levels opened before a syntax error are given back: a later expression
 * may use the whole limit again. */
static void recovery_gives_the_nesting_back(void **state) {
    (void)state;
    char *deep = repeat("breaker a { tripper = ", "((~", 60, "FailureStreak(1) }\nbreaker b { tripper = ", "",
                        0, "");
    char *src = repeat(deep, "(~", FG_MAX_NESTING / 2, "FailureStreak(2)", ")", FG_MAX_NESTING / 2, " }\n");
    size_t n = FG_FAILS(src, "t.fgp:1:220: error: syntax error, unexpected '}'");
    assert_int_equal(n, 1); /* and no nesting error in breaker b */
    free(deep);
    free(src);
}

static void a_long_chain_costs_no_depth(void **state) {
    (void)state;
    char *chain = repeat("", "A | ", 50000, "B", "", 0, "");
    parsed p;
    parse(&p, chain, FG_PARSE_EXPRESSION);
    assert_int_equal(fg_report_count(p.report), 0);
    assert_int_equal(p.unit->expr->count, 50001);
    done(&p);
    free(chain);
}

static void an_expression_unit_is_one_expression(void **state) {
    (void)state;
    parsed p;
    parse(&p, "FailureStreak(1);", FG_PARSE_EXPRESSION);
    assert_int_equal(fg_report_count(p.report), 0);
    assert_int_equal(p.unit->expr->kind, FG_SYN_CALL);
    done(&p);
    parse(&p, "FailureStreak(1) FailureStreak(2)", FG_PARSE_EXPRESSION);
    assert_int_equal(fg_report_error_count(p.report), 1);
    assert_int_equal(fg_report_get(p.report, 0)->column, 18);
    assert_string_equal(fg_report_get(p.report, 0)->message,
                        "syntax error, unexpected name after a whole expression (is '&' or '|' "
                        "missing before it?)");
    done(&p);
    parse(&p, "", FG_PARSE_EXPRESSION);
    assert_int_equal(fg_report_error_count(p.report), 1);
    assert_non_null(strstr(fg_report_get(p.report, 0)->message, "unexpected end of file"));
    done(&p);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(and_binds_tighter_than_or_and_not_tighter_than_both),
        cmocka_unit_test(chains_are_one_node_with_many_children),
        cmocka_unit_test(parentheses_group_and_belong_to_the_span),
        cmocka_unit_test(calls_take_positional_keyword_and_range_arguments),
        cmocka_unit_test(statements_definitions_defaults_and_breakers),
        cmocka_unit_test(a_syntax_error_points_at_the_offending_token),
        cmocka_unit_test(every_independent_syntax_error_is_reported),
        cmocka_unit_test(an_unknown_setting_is_named_with_a_suggestion),
        cmocka_unit_test(an_unclosed_block_is_reported_at_the_end),
        cmocka_unit_test(nesting_is_limited_and_the_limit_is_located),
        cmocka_unit_test(the_limit_holds_for_the_worst_shape),
        cmocka_unit_test(recovery_gives_the_nesting_back),
        cmocka_unit_test(a_long_chain_costs_no_depth),
        cmocka_unit_test(an_expression_unit_is_one_expression),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
