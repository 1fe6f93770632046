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
#include <stdlib.h>
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

/* Parses text[0..len) as one expression with a token limit of max_token. */
static void scan_limited(scan *s, const char *text, size_t len, size_t max_token) {
    s->arena = fg_arena_new(NULL);
    s->report = fg_report_new(NULL);
    fg_diag_begin(&s->sink, s->report, "x", text, len);
    assert_int_equal(fg_parse_limited(s->arena, &s->sink, NULL, text, len, FG_PARSE_EXPRESSION,
                                      max_token, &s->unit),
                     0);
}

/* A malloc'd string: prefix, then n copies of unit, then suffix. */
static char *repeat(const char *prefix, const char *unit, size_t n, const char *suffix) {
    size_t pl = strlen(prefix), ul = strlen(unit), sl = strlen(suffix);
    char *out = malloc(pl + ul * n + sl + 1);
    assert_non_null(out);
    memcpy(out, prefix, pl);
    for (size_t i = 0; i < n; i++) memcpy(out + pl + i * ul, unit, ul);
    memcpy(out + pl + ul * n, suffix, sl + 1);
    return out;
}

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

/* The value of the number literal `literal` (scanned as F(literal)). */
static double literal_value(const char *literal) {
    char *text = repeat("F(", literal, 1, ")");
    scan s;
    scan_text(&s, text);
    if (fg_report_count(s.report) != 0) fail_msg("%s: %s", literal, fg_report_get(s.report, 0)->message);
    double v = arg_at(&s, 0)->value.number;
    scan_done(&s);
    free(text);
    return v;
}

/* Bit for bit: the same double (0.0 and -0.0 differ, as they should here). */
static void same_double(double got, double want, const char *literal) {
    if (memcmp(&got, &want, sizeof got) != 0)
        fail_msg("%.40s...: got %.17g, want %.17g", literal, got, want);
}

static void a_literal_with_a_unit_is_the_double_nearest_to_the_decimal_it_spells(void **state) {
    (void)state;
    /* literal, and the plain decimal it spells; strtod of the plain one is
     * the nearest double (glibc rounds correctly). */
    static const char *const pairs[][2] = {
        {"35%", "0.35"},       {"700ms", "0.7"},     {"2m", "120"},          {"1.5h", "5400"},
        {"5e-1%", "0.005"},    {"0.1m", "6"},        {"1e-3h", "3.6"},       {"2.5e-1%", "0.0025"},
        {".5ms", "0.0005"},    {"-3.5m", "-210"},    {"1e2%", "1"},          {"7%", "0.07"},
        {"0.3s", "0.3"},       {"1.1m", "66"},       {"0.7h", "2520"},       {"57%", "0.57"},
        {"999ms", "0.999"},    {"-0%", "-0"},        {"1E+2ms", "0.1"},      {"2.675e1%", "0.2675"},
        /* the product rounds on the halfway point 2^53 + 1: ties to even ... */
        {"150119987579016.55m", "9007199254740993"},
    };
    for (size_t i = 0; i < sizeof pairs / sizeof pairs[0]; i++)
        same_double(literal_value(pairs[i][0]), strtod(pairs[i][1], NULL), pairs[i][0]);
    /* ... and a digit 3000 places further decides it the other way */
    char *lit = repeat("150119987579016.55", "0", 3000, "1m");
    char *plain = repeat("9007199254740993.", "0", 3001, "6");
    same_double(literal_value(lit), strtod(plain, NULL), lit);
    same_double(strtod(plain, NULL), 9007199254740994.0, plain);
    free(lit);
    free(plain);
    lit = repeat("0.35", "0", 5000, "1%");
    plain = repeat("0.0035", "0", 5000, "1");
    same_double(literal_value(lit), strtod(plain, NULL), lit);
    free(lit);
    free(plain);
    /* thousands of digits with an exponent that brings them back */
    lit = repeat("0.", "0", 4999, "1e5000ms");
    same_double(literal_value(lit), 0.001, lit);
    free(lit);
    lit = repeat("", "123456789", 500, "e-4500%");
    plain = repeat("", "123456789", 500, "e-4502");
    same_double(literal_value(lit), strtod(plain, NULL), lit);
    free(lit);
    free(plain);
    /* exponents far outside any double: zero, or a located "not finite" */
    same_double(literal_value("1e-99999999999999999999999999h"), 0.0, "1e-999...h");
    same_double(literal_value("0e99999999999999999999999999999"), 0.0, "0e999...");
    scan s;
    scan_text(&s, "F(1, 1e99999999999999999999999999999%)");
    assert_non_null(strstr(only_error(&s)->message, "not finite"));
    assert_int_equal(only_error(&s)->column, 6);
    scan_done(&s);
}

static void numbers_remember_their_unit(void **state) {
    (void)state;
    scan s;
    scan_text(&s, "F(1, 2ms, 3s, 4m, 5h, 6%, 7..8)");
    static const fg_unit want[] = {FG_UNIT_NONE, FG_UNIT_MS, FG_UNIT_S,      FG_UNIT_M,
                                   FG_UNIT_H,    FG_UNIT_PERCENT, FG_UNIT_NONE};
    for (unsigned i = 0; i < sizeof want / sizeof want[0]; i++) assert_int_equal(arg_at(&s, i)->value.unit, want[i]);
    scan_done(&s);
}

static void a_byte_order_mark_at_the_start_is_not_text(void **state) {
    (void)state;
    static const char text[] = "\xEF\xBB\xBF" "F(1, 2)";
    scan s;
    scan_n(&s, text, sizeof text - 1);
    /* columns count from after the mark; offsets still index the caller's text */
    assert_int_equal(fg_report_count(s.report), 0);
    assert_int_equal(arg_at(&s, 0)->value.loc.column, 3);
    assert_int_equal(arg_at(&s, 0)->value.loc.begin, 5);
    scan_done(&s);
    static const char wrong[] = "\xEF\xBB\xBF" "F(1) $";
    scan_n(&s, wrong, sizeof wrong - 1);
    const fg_diagnostic *d = only_error(&s);
    assert_int_equal(d->column, 6);
    assert_string_equal(d->message, "unexpected character '$'");
    assert_string_equal(d->source_line, "F(1) $");
    scan_done(&s);
    /* anywhere else it is one error, at the mark */
    static const char inside[] = "F(1,\xEF\xBB\xBF 2)";
    scan_n(&s, inside, sizeof inside - 1);
    d = only_error(&s);
    assert_int_equal(d->column, 5);
    assert_non_null(strstr(d->message, "byte-order mark"));
    scan_done(&s);
    /* a policy file and a single expression, through the public API */
    const char *report;
    fg_policy *p = fg_test_compiles("\xEF\xBB\xBF" "breaker a { tripper = FailureStreak(2) }");
    assert_string_equal(fg_policy_breaker_name(p, 0), "a");
    fg_policy_free(p);
    p = fg_test_field("tripper", "\xEF\xBB\xBF" "FailureStreak(2)", &report);
    assert_non_null(p);
    fg_policy_free(p);
}

/* Every kind of token, at a limit of 16 bytes: 16 pass, 17 are refused at
 * the token's first byte, and the error is the only one. */
static void a_token_longer_than_the_limit_is_a_located_error(void **state) {
    (void)state;
    static const char *const at_limit[] = {
        "F(1)                ",         /* 16 blanks */
        "F(1) #234567890123456",         /* a 16-byte comment */
        "F(abcdefghijklmnop = 1)",       /* a 16-byte name */
        "F(\"bcdefghijklmno\")",         /* a 16-byte string */
        "F(1234567890123456)",           /* a 16-byte number */
    };
    static const char *const past_limit[] = {
        "F(1)                 ",
        "F(1) #2345678901234567",
        "F(abcdefghijklmnopq = 1)",
        "F(\"bcdefghijklmnop\")",
        "F(12345678901234567)",
    };
    static const int column[] = {5, 6, 3, 3, 3};
    for (unsigned i = 0; i < 5; i++) {
        scan s;
        scan_limited(&s, at_limit[i], strlen(at_limit[i]), 16);
        assert_int_equal(fg_report_count(s.report), 0);
        scan_done(&s);
        scan_limited(&s, past_limit[i], strlen(past_limit[i]), 16);
        const fg_diagnostic *d = only_error(&s);
        assert_string_equal(d->message, "token too long (limit 16 bytes)");
        assert_int_equal(d->column, column[i]);
        scan_done(&s);
    }
}

/* Text much longer than the token limit reaches flex in pieces: many short
 * tokens scan as if in one piece, and a long one is caught where a refill
 * meets it (the path a multi-gigabyte token takes). */
static void long_text_is_fed_in_pieces_and_a_long_token_is_caught_there(void **state) {
    (void)state;
    char *text = repeat("F(", "10ms, ", 2000, "2)");
    scan s;
    scan_limited(&s, text, strlen(text), 8);
    assert_int_equal(fg_report_count(s.report), 0);
    assert_int_equal(s.unit->expr->arg_count, 2001);
    same_double(arg_at(&s, 1999)->value.number, 0.01, "10ms");
    assert_int_equal(arg_at(&s, 2000)->value.loc.column, (int)strlen(text) - 1);
    scan_done(&s);
    free(text);
    /* after 2000 short tokens, a name of 5000 bytes with a limit of 8 */
    char *name = repeat("", "n", 5000, ")");
    text = repeat("F(", "1, ", 2000, name);
    scan_limited(&s, text, strlen(text), 8);
    const fg_diagnostic *d = only_error(&s);
    assert_string_equal(d->message, "token too long (limit 8 bytes)");
    assert_int_equal(d->column, 3 + 3 * 2000);
    scan_done(&s);
    free(text);
    free(name);
    /* the default limit is 16 MiB: a megabyte-long name is fine */
    name = repeat("F(", "n", 1 << 20, " = 1)");
    scan_text(&s, name);
    assert_int_equal(fg_report_count(s.report), 0);
    scan_done(&s);
    free(name);
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

/* A CRLF file's lines show without their '\r' (it was shown as '?'). */
static void a_crlf_line_shows_without_its_carriage_return(void **state) {
    (void)state;
    scan s;
    scan_text(&s, "F(1,\r\n  2) $\r\nG()\r\n");
    const fg_diagnostic *d = only_error(&s);
    assert_int_equal(d->line, 2);
    assert_int_equal(d->column, 6);
    assert_string_equal(d->source_line, "  2) $");
    scan_done(&s);
    /* a '\r' inside a line is still a control byte, shown as '?' */
    scan_text(&s, "F(1)\r $");
    d = only_error(&s);
    assert_string_equal(d->source_line, "F(1)? $");
    scan_done(&s);
}

/* One error per character, not per byte; a byte that starts no UTF-8
 * character is still reported alone. */
static void a_non_ascii_character_is_one_error(void **state) {
    (void)state;
    scan s;
    scan_text(&s, "F(1) \xE2\x82\xAC");
    const fg_diagnostic *d = only_error(&s);
    assert_int_equal(d->column, 6);
    assert_string_equal(d->message, "unexpected character '\xE2\x82\xAC' (U+20AC): outside strings "
                                     "and comments the language is ASCII");
    scan_done(&s);
    scan_text(&s, "F(1) \xF0\x9F\x98\x80");
    d = only_error(&s);
    assert_non_null(strstr(d->message, "(U+1F600)"));
    scan_done(&s);
    scan_text(&s, "F(1,\xC2\xA0" "2)"); /* a pasted no-break space */
    d = only_error(&s);
    assert_int_equal(d->column, 5);
    assert_string_equal(d->message, "unexpected space character U+00A0: write an ASCII space");
    scan_done(&s);
    scan_text(&s, "F(1) \xC3");
    d = only_error(&s);
    assert_string_equal(d->message, "unexpected byte 0xc3");
    scan_done(&s);
    /* in strings and comments any byte is fine */
    scan_text(&s, "F(\"caf\xC3\xA9\") # caf\xC3\xA9");
    assert_int_equal(fg_report_count(s.report), 0);
    assert_string_equal(arg_at(&s, 0)->value.string, "caf\xC3\xA9");
    scan_done(&s);
}

/* `60 %` and `5 s` are the numbers they would be without the blank (so the
 * unit is checked as usual), with one error for the blank. */
static void a_blank_before_a_unit_keeps_the_unit(void **state) {
    (void)state;
    scan s;
    scan_text(&s, "F(60 %, 1.5\th)");
    assert_int_equal(fg_report_error_count(s.report), 2);
    assert_true(arg_at(&s, 0)->value.number == 0.6);
    assert_int_equal(arg_at(&s, 0)->value.unit, FG_UNIT_PERCENT);
    assert_true(arg_at(&s, 1)->value.number == 5400);
    assert_int_equal(arg_at(&s, 1)->value.unit, FG_UNIT_H);
    assert_int_equal(fg_report_get(s.report, 1)->column, 9);
    scan_done(&s);
    /* a name after a blank is a name: `5 sec` is not `5s` and `ec` */
    scan_text(&s, "F(5 sec)");
    assert_null(strstr(fg_report_get(s.report, 0)->message, "blank"));
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
        cmocka_unit_test(a_literal_with_a_unit_is_the_double_nearest_to_the_decimal_it_spells),
        cmocka_unit_test(numbers_remember_their_unit),
        cmocka_unit_test(a_byte_order_mark_at_the_start_is_not_text),
        cmocka_unit_test(a_token_longer_than_the_limit_is_a_located_error),
        cmocka_unit_test(long_text_is_fed_in_pieces_and_a_long_token_is_caught_there),
        cmocka_unit_test(a_number_that_is_not_finite_is_a_located_error),
        cmocka_unit_test(an_unknown_unit_is_a_located_error),
        cmocka_unit_test(strings_decode_their_escapes),
        cmocka_unit_test(a_string_may_hold_a_nul_byte),
        cmocka_unit_test(an_unknown_escape_is_reported_at_the_backslash),
        cmocka_unit_test(an_unterminated_string_is_reported_at_its_quote),
        cmocka_unit_test(comments_and_white_space_are_skipped_and_counted),
        cmocka_unit_test(a_stray_character_is_reported_where_it_stands),
        cmocka_unit_test(a_crlf_line_shows_without_its_carriage_return),
        cmocka_unit_test(a_non_ascii_character_is_one_error),
        cmocka_unit_test(a_blank_before_a_unit_keeps_the_unit),
        cmocka_unit_test(a_nul_byte_outside_a_string_is_reported),
        cmocka_unit_test(keywords_are_not_names),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
