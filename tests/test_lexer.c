/*
 * test_lexer.c -- the scanner (grammar/lexer.l, SPEC.md 3.1): numbers with
 * units, strings with escapes, comments, keywords, positions in bytes, and
 * every malformed token reported at its own position.
 *
 * The scanner is driven through fg_parse in expression mode, so each case is
 * a call whose arguments show what the tokens became.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <math.h>
#include <string.h>

#include "fg_arena.h"
#include "fg_diag.h"
#include "fg_parse.h"
#include "fg_test_compile.h"

typedef struct scan {
    fg_arena *arena;
    fg_report *report;
    fg_diag_sink sink;
    fg_syn_unit *unit;
} scan;

/* Parses text[0..len) as one expression. */
static void scan_n(scan *s, const char *text, size_t len) {
    s->arena = fg_arena_new(NULL);
    s->report = fg_report_new(NULL);
    fg_diag_begin(&s->sink, s->report, "x", text, len);
    assert_int_equal(fg_parse(s->arena, &s->sink, NULL, text, len, FG_PARSE_EXPRESSION, &s->unit), 0);
}

static void scan_text(scan *s, const char *text) { scan_n(s, text, strlen(text)); }

static void scan_done(scan *s) {
    fg_arena_free(s->arena);
    fg_report_free(s->report);
}

static const fg_syn_arg *arg_at(const scan *s, unsigned i) {
    assert_non_null(s->unit->expr);
    const fg_syn_arg *a = s->unit->expr->args;
    while (i-- > 0 && a != NULL) a = a->next;
    assert_non_null(a);
    return a;
}

static const fg_diagnostic *only_error(const scan *s) {
    assert_int_equal(fg_report_error_count(s->report), 1);
    return fg_report_get(s->report, 0);
}

static void numbers_take_their_units(void **state) {
    (void)state;
    scan s;
    scan_text(&s, "F(10, 0.5, .5, 1e3, -1, +2, 500ms, 2s, 2m, 1h, 50%, 1.5e1ms, 2E-1)");
    static const double want[] = {10, 0.5, 0.5, 1000, -1, 2, 0.5, 2, 120, 3600, 0.5, 0.015, 0.2};
    assert_int_equal(fg_report_count(s.report), 0);
    assert_int_equal(s.unit->expr->arg_count, sizeof want / sizeof want[0]);
    for (unsigned i = 0; i < sizeof want / sizeof want[0]; i++) {
        assert_int_equal(arg_at(&s, i)->value.kind, FG_VALUE_NUMBER);
        assert_true(fabs(arg_at(&s, i)->value.number - want[i]) < 1e-12);
        assert_false(arg_at(&s, i)->bad);
    }
    scan_done(&s);
}

static void a_range_is_two_integers_and_dots(void **state) {
    (void)state;
    scan s;
    scan_text(&s, "Status(500..599, 429)");
    assert_int_equal(fg_report_count(s.report), 0);
    const fg_syn_arg *r = arg_at(&s, 0);
    assert_int_equal(r->value.kind, FG_VALUE_RANGE);
    assert_true(r->value.number == 500 && r->value.high == 599);
    assert_int_equal(r->value.loc.column, 8);
    assert_int_equal(r->value.loc.end - r->value.loc.begin, 8); /* "500..599" */
    scan_done(&s);
}

static void a_number_that_is_not_finite_is_a_located_error(void **state) {
    (void)state;
    static const char *const cases[] = {"F(1e999)", "F(1e308h)", "F(-1e400)"};
    for (unsigned i = 0; i < 3; i++) {
        scan s;
        scan_text(&s, cases[i]);
        const fg_diagnostic *d = only_error(&s);
        assert_int_equal(d->line, 1);
        assert_int_equal(d->column, 3);
        assert_non_null(strstr(d->message, "not finite"));
        assert_true(arg_at(&s, 0)->bad); /* flagged so that no check reports it again */
        scan_done(&s);
    }
}

static void an_unknown_unit_is_a_located_error(void **state) {
    (void)state;
    scan s;
    scan_text(&s, "F(1, 10sec)");
    const fg_diagnostic *d = only_error(&s);
    assert_int_equal(d->column, 6);
    assert_non_null(strstr(d->message, "malformed number '10sec'"));
    scan_done(&s);
}

static void strings_decode_their_escapes(void **state) {
    (void)state;
    scan s;
    scan_text(&s, "F(\"a\\\"b\\\\c\\nd\\te\", \"\")");
    assert_int_equal(fg_report_count(s.report), 0);
    const fg_value *v = &arg_at(&s, 0)->value;
    assert_int_equal(v->kind, FG_VALUE_STRING);
    assert_int_equal(v->length, 9);
    assert_memory_equal(v->string, "a\"b\\c\nd\te", 9);
    assert_int_equal(arg_at(&s, 1)->value.length, 0);
    scan_done(&s);
}

static void a_string_may_hold_a_nul_byte(void **state) {
    (void)state;
    static const char text[] = "F(\"a\0b\")";
    scan s;
    scan_n(&s, text, sizeof text - 1);
    assert_int_equal(fg_report_count(s.report), 0);
    assert_int_equal(arg_at(&s, 0)->value.length, 3);
    assert_memory_equal(arg_at(&s, 0)->value.string, "a\0b", 3);
    scan_done(&s);
}

static void an_unknown_escape_is_reported_at_the_backslash(void **state) {
    (void)state;
    scan s;
    scan_text(&s, "F(\"ab\\qc\")");
    const fg_diagnostic *d = only_error(&s);
    assert_int_equal(d->column, 6);
    assert_non_null(strstr(d->message, "unknown escape '\\q'"));
    scan_done(&s);
}

static void an_unterminated_string_is_reported_at_its_quote(void **state) {
    (void)state;
    scan s;
    scan_text(&s, "F(1,\n  \"abc)\n");
    /* one error: the missing ')' that follows is the same mistake */
    const fg_diagnostic *d = only_error(&s);
    assert_int_equal(d->line, 2);
    assert_int_equal(d->column, 3);
    assert_string_equal(d->message, "unterminated string");
    scan_done(&s);
}

static void comments_and_white_space_are_skipped_and_counted(void **state) {
    (void)state;
    scan s;
    scan_text(&s, "# a comment\n\tF( # another\n\r\n   1, 2s)  # trailing");
    assert_int_equal(fg_report_count(s.report), 0);
    const fg_syn_expr *e = s.unit->expr;
    assert_int_equal(e->loc.line, 2);
    assert_int_equal(e->loc.column, 2); /* columns count bytes: a tab is one */
    assert_int_equal(arg_at(&s, 0)->value.loc.line, 4);
    assert_int_equal(arg_at(&s, 0)->value.loc.column, 4);
    scan_done(&s);
}

static void a_stray_character_is_reported_where_it_stands(void **state) {
    (void)state;
    scan s;
    scan_text(&s, "F(1) $ G(2)");
    assert_true(fg_report_error_count(s.report) >= 1);
    const fg_diagnostic *d = fg_report_get(s.report, 0);
    assert_int_equal(d->column, 6);
    assert_string_equal(d->message, "unexpected character '$'");
    scan_done(&s);
}

static void a_nul_byte_outside_a_string_is_reported(void **state) {
    (void)state;
    static const char text[] = "F(1)\0";
    scan s;
    scan_n(&s, text, sizeof text - 1);
    const fg_diagnostic *d = only_error(&s);
    assert_int_equal(d->column, 5);
    assert_string_equal(d->message, "unexpected byte 0x00");
    scan_done(&s);
}

static void keywords_are_not_names(void **state) {
    (void)state;
    const char *text;
    /* `window` is a keyword: it cannot name a breaker or a definition */
    assert_null(fg_test_compile("breaker window { }", &text));
    assert_non_null(strstr(text, "t.fgp:1:9: error: syntax error, unexpected setting name"));
    assert_null(fg_test_compile("tripper breaker = FailureStreak(1)", &text));
    assert_non_null(strstr(text, "t.fgp:1:9:"));
    /* but a keyword's prefix or extension is an ordinary name */
    fg_policy *p = fg_test_compiles("breaker windows { } breaker breakers { }");
    assert_string_equal(fg_policy_breaker_name(p, 1), "breakers");
    fg_policy_free(p);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(numbers_take_their_units),
        cmocka_unit_test(a_range_is_two_integers_and_dots),
        cmocka_unit_test(a_number_that_is_not_finite_is_a_located_error),
        cmocka_unit_test(an_unknown_unit_is_a_located_error),
        cmocka_unit_test(strings_decode_their_escapes),
        cmocka_unit_test(a_string_may_hold_a_nul_byte),
        cmocka_unit_test(an_unknown_escape_is_reported_at_the_backslash),
        cmocka_unit_test(an_unterminated_string_is_reported_at_its_quote),
        cmocka_unit_test(comments_and_white_space_are_skipped_and_counted),
        cmocka_unit_test(a_stray_character_is_reported_where_it_stands),
        cmocka_unit_test(a_nul_byte_outside_a_string_is_reported),
        cmocka_unit_test(keywords_are_not_names),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
