/*
 * test_hostile.c -- input meant to break the compiler: deep nesting, long
 * chains, a million random bytes, NUL bytes, absurd numbers, definitions
 * that double at every step or nest through thousands of names. Every case
 * must give an answer (a policy, or located errors), never a crash, a leak
 * (the counting allocator checks) or super-linear time (the sizes are big
 * enough that a quadratic compiler would not finish the suite).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fg_check.h"
#include "fg_diag.h"
#include "fg_parse.h"
#include "fg_test_support.h"

typedef struct answer {
    fg_policy *policy;
    size_t errors;
    int all_located;   /* every error has a line and a column */
    char first[256];   /* the first error message */
} answer;

/* Compiles src[0..len) with a counting allocator; checks that the policy and
 * report free everything they took. */
static answer compile_n(const char *src, size_t len) {
    fg_test_alloc a = {0};
    fg_allocator alloc = fg_test_allocator(&a);
    fg_report *r = NULL;
    answer out;
    memset(&out, 0, sizeof out);
    out.policy = fg_policy_compile(src, len, "h.fgp", &alloc, &r);
    assert_non_null(r);
    out.errors = fg_report_error_count(r);
    out.all_located = 1;
    for (size_t i = 0; i < fg_report_count(r); i++) {
        const fg_diagnostic *d = fg_report_get(r, i);
        if (d->severity != FG_SEVERITY_ERROR) continue;
        if (d->line < 1 || d->column < 1) out.all_located = 0;
        if (out.first[0] == '\0') snprintf(out.first, sizeof out.first, "%d:%d: %s", d->line, d->column, d->message);
    }
    assert_true((out.policy == NULL) == (out.errors > 0));
    fg_report_free(r);
    fg_policy_free(out.policy);
    out.policy = NULL;
    assert_int_equal(a.live_blocks, 0);
    assert_int_equal(a.live_bytes, 0);
    return out;
}

static answer compile(const char *src) { return compile_n(src, strlen(src)); }

static char *repeated(const char *prefix, const char *unit, size_t n, const char *suffix) {
    size_t ul = strlen(unit), pl = strlen(prefix), sl = strlen(suffix);
    char *s = malloc(pl + ul * n + sl + 1);
    memcpy(s, prefix, pl);
    for (size_t i = 0; i < n; i++) memcpy(s + pl + i * ul, unit, ul);
    memcpy(s + pl + ul * n, suffix, sl + 1);
    return s;
}

static void a_hundred_thousand_parentheses(void **state) {
    (void)state;
    char *open = repeated("breaker a { tripper = ", "(", 100000, "FailureStreak(1)");
    char *src = repeated(open, ")", 100000, " }\nbreaker b { }\n");
    answer a = compile(src);
    assert_int_equal(a.errors, 1);
    assert_true(a.all_located);
    assert_string_equal(a.first, "1:223: expression nested too deeply (limit 200)");
    free(open);
    free(src);
}

static void two_hundred_thousand_tildes(void **state) {
    (void)state;
    char *src = repeated("breaker a { tripper = ", "~", 200000, "FailureStreak(1) }");
    answer a = compile(src);
    assert_int_equal(a.errors, 1);
    assert_non_null(strstr(a.first, "nested too deeply"));
    free(src);
}

static void a_fifty_thousand_term_chain_gets_an_answer(void **state) {
    (void)state;
    char *src = repeated("breaker a { tripper = ", "FailureStreak(1) | ", 50000, "FailureStreak(2) }");
    answer a = compile(src);
    assert_true(a.all_located);
    /* 50,001 alternatives need more than FG_MAX_INSTRUCTIONS: one located error */
    assert_int_equal(a.errors, 1);
    assert_non_null(strstr(a.first, "program too large"));
    free(src);
    /* 20,000 fit */
    src = repeated("breaker a { tripper = ", "FailureStreak(1) | ", 20000, "FailureStreak(2) }");
    a = compile(src);
    assert_int_equal(a.errors, 0);
    free(src);
    /* the same chain through the expression API */
    char *expr = repeated("", "MinRequests(1) & FailureStreak(3) | ", 50000, "Closed()");
    fg_expressions e;
    memset(&e, 0, sizeof e);
    e.tripper = expr;
    fg_report *r = NULL;
    fg_policy *p = fg_policy_from_expressions("t", &e, NULL, &r);
    assert_true(p != NULL || fg_report_error_count(r) > 0);
    if (p == NULL) assert_true(fg_report_get(r, 0)->line == 1);
    fg_policy_free(p);
    fg_report_free(r);
    free(expr);
}

static void a_megabyte_of_random_bytes(void **state) {
    (void)state;
    size_t n = 1 << 20;
    char *noise = malloc(n);
    uint32_t seed = 12345;
    for (size_t i = 0; i < n; i++) {
        seed = seed * 1103515245u + 12345u;
        noise[i] = (char)(seed >> 16);
    }
    answer a = compile_n(noise, n);
    assert_true(a.errors >= 1 && a.errors <= FG_MAX_ERRORS + 1);
    assert_true(a.all_located);
    /* printable noise too: identifiers, numbers and punctuation at random */
    static const char alphabet[] = "breakr{}()=;,&|~#\"\\.. 0123456789eEmsh%-+ \nFailureStreak";
    for (size_t i = 0; i < n; i++) {
        seed = seed * 1103515245u + 12345u;
        noise[i] = alphabet[(seed >> 16) % (sizeof alphabet - 1)];
    }
    a = compile_n(noise, n);
    assert_true(a.errors <= FG_MAX_ERRORS + 1);
    free(noise);
}

static void nul_bytes_everywhere(void **state) {
    (void)state;
    static const char src[] = "breaker\0a { tripper = Failure\0Streak(1) }\0\0\0breaker b { tracker = TypeOf(\"x\0y\") }";
    answer a = compile_n(src, sizeof src - 1);
    assert_true(a.errors >= 1);
    assert_true(a.all_located);
    assert_string_equal(a.first, "1:8: unexpected byte 0x00");
}

static void absurd_numbers(void **state) {
    (void)state;
    answer a = compile("breaker a { tripper = FailureStreak(1e999) window = CountWindow(1e-999) "
                       "retry = Cooldown(-0) permit = Random(nan) }");
    assert_true(a.all_located);
    assert_true(a.errors >= 3);
    assert_non_null(strstr(a.first, "not finite"));
    a = compile("breaker a { max_half_open_calls = 1e999 half_open_lease = 1e400ms }");
    assert_int_equal(a.errors, 2);
}

static void definitions_that_double_at_every_step(void **state) {
    (void)state;
    char *src = malloc(1 << 16), *w = src;
    w += sprintf(w, "tripper t0 = FailureStreak(1) | MinRequests(2)\n");
    for (int i = 1; i <= 40; i++) w += sprintf(w, "tripper t%d = t%d | t%d\n", i, i - 1, i - 1);
    sprintf(w, "breaker a { window = CountWindow(1) tripper = t40 }\n");
    /* 2^41 leaves if expanded: the checker and the warning analysis stay
     * linear (memoized per definition); code generation stops at its limit */
    answer a = compile(src);
    assert_int_equal(a.errors, 1);
    assert_true(a.all_located);
    assert_non_null(strstr(a.first, "program too large"));
    free(src);
}

static void thousands_of_nested_definitions(void **state) {
    (void)state;
    size_t n = FG_MAX_EXPANDED_DEPTH + 10;
    char *src = malloc(n * 40 + 100), *w = src;
    w += sprintf(w, "tripper t0 = FailureStreak(1)\n");
    for (size_t i = 1; i <= n; i++) w += sprintf(w, "tripper t%zu = ~t%zu\n", i, i - 1);
    sprintf(w, "breaker a { tripper = t%zu }\n", n);
    answer a = compile(src);
    assert_true(a.errors >= 1);
    assert_true(a.all_located);
    assert_non_null(strstr(a.first, "nests named definitions too deeply (limit 1000 levels)"));
    free(src);
}

/* The depth is the definition's fault: two uses report it once. */
static void an_over_deep_definition_used_twice_is_reported_once(void **state) {
    (void)state;
    /* t499 is as deep as a use allows (each level: a reference and a `~`);
     * u, which uses it, is one level too deep to be used itself */
    size_t n = FG_MAX_EXPANDED_DEPTH / 2;
    char *src = malloc(n * 40 + 200), *w = src;
    w += sprintf(w, "tripper t0 = FailureStreak(1)\n");
    for (size_t i = 1; i < n; i++) w += sprintf(w, "tripper t%zu = ~t%zu\n", i, i - 1);
    sprintf(w, "tripper u = t%zu | t%zu\nbreaker a { tripper = u | ~u }\nbreaker b { tripper = u }\n",
            n - 1, n - 1);
    answer a = compile(src);
    assert_int_equal(a.errors, 1);
    assert_true(a.all_located);
    char want[80];
    snprintf(want, sizeof want, "%zu:23: 'u' nests named definitions too deeply", n + 2);
    assert_memory_equal(a.first, want, strlen(want));
    free(src);
}

/* Past the cap the report keeps nothing more, but still counts. */
static void the_report_counts_what_it_does_not_keep(void **state) {
    (void)state;
    size_t cap = 64 << 10, len = 0;
    char *src = malloc(cap);
    for (int i = 0; i < 1000; i++) len += (size_t)sprintf(src + len, "tripper t%d = FailureStreak(1)\n", i);
    for (int i = 0; i < 1000; i++) len += (size_t)sprintf(src + len, "$\n");
    fg_report *r = NULL;
    assert_null(fg_policy_compile(src, len, "h.fgp", NULL, &r));
    assert_int_equal(fg_report_error_count(r), FG_MAX_ERRORS);
    assert_int_equal(fg_report_count(r), FG_MAX_ERRORS + FG_MAX_WARNINGS);
    assert_int_equal(fg_report_found(r, FG_SEVERITY_ERROR), 1000);
    assert_int_equal(fg_report_found(r, FG_SEVERITY_WARNING), 1000);
    fg_report_free(r);
    free(src);
}

static void a_megabyte_policy_compiles(void **state) {
    (void)state;
    size_t cap = (1 << 20) + 4096, len = 0;
    char *src = malloc(cap);
    len += (size_t)sprintf(src, "tripper shared = FailureStreak(5) | (MinRequests(20) & FailureRate(60%%))\n");
    for (int i = 0; len < (1 << 20); i++)
        len += (size_t)sprintf(src + len,
                               "breaker b%d { window = CountWindow(%d) tripper = shared | FailureStreak(%d) "
                               "retry = Backoff(1s, jitter_ratio = 0.1) }\n",
                               i, 20 + i % 50, 1 + i % 9);
    answer a = compile_n(src, len);
    assert_int_equal(a.errors, 0);
    free(src);
}

/* Work that a naive compiler repeats per use: suggestions that scan every
 * definition for every unknown name, a big definition compiled and analysed
 * again for every breaker that uses it. Sized so that quadratic work would
 * take minutes. */
static void what_is_shared_is_not_redone(void **state) {
    (void)state;
    size_t cap = 8 << 20, len = 0;
    char *src = malloc(cap);
    for (int i = 0; i < 30000; i++) len += (size_t)sprintf(src + len, "tripper def%d = FailureStreak(%d)\n", i, 1 + i % 7);
    for (int i = 0; i < 30000; i++) len += (size_t)sprintf(src + len, "breaker b%d { tripper = deff%d }\n", i, i);
    answer a = compile_n(src, len);
    assert_true(a.errors >= 100);
    assert_non_null(strstr(a.first, "(did you mean 'def0'?)"));

    len = (size_t)sprintf(src, "tripper big = MinRequests(500) & FailureStreak(1)");
    for (int i = 2; i <= 8000; i++) len += (size_t)sprintf(src + len, " | MinRequests(500) & FailureStreak(%d)", i);
    len += (size_t)sprintf(src + len, "\n");
    for (int i = 0; i < 20000; i++)
        len += (size_t)sprintf(src + len, "breaker b%d { window = CountWindow(%d) tripper = big }\n", i, 10 + i % 2);
    a = compile_n(src, len);
    assert_int_equal(a.errors, 0);
    free(src);
}

static void very_long_names_and_lines(void **state) {
    (void)state;
    char *name = repeated("", "x", 200000, "");
    size_t len = strlen(name) * 2 + 200;
    char *src = malloc(len);
    snprintf(src, len, "breaker a { tripper = FailureStreak(1) | %s }\nbreaker b { tracker = %s }", name, name);
    answer a = compile(src);
    assert_int_equal(a.errors, 2);
    assert_true(a.all_located);
    /* messages cut long names */
    assert_true(strlen(a.first) < 200);
    /* and the report cuts the source line around the column */
    fg_report *r = NULL;
    assert_null(fg_policy_compile(src, strlen(src), "h.fgp", NULL, &r));
    char buf[4096];
    size_t need = fg_report_format(r, buf, sizeof buf);
    assert_true(need < sizeof buf);
    fg_report_free(r);
    free(src);
    free(name);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(a_hundred_thousand_parentheses),
        cmocka_unit_test(two_hundred_thousand_tildes),
        cmocka_unit_test(a_fifty_thousand_term_chain_gets_an_answer),
        cmocka_unit_test(a_megabyte_of_random_bytes),
        cmocka_unit_test(nul_bytes_everywhere),
        cmocka_unit_test(absurd_numbers),
        cmocka_unit_test(definitions_that_double_at_every_step),
        cmocka_unit_test(thousands_of_nested_definitions),
        cmocka_unit_test(an_over_deep_definition_used_twice_is_reported_once),
        cmocka_unit_test(the_report_counts_what_it_does_not_keep),
        cmocka_unit_test(a_megabyte_policy_compiles),
        cmocka_unit_test(what_is_shared_is_not_redone),
        cmocka_unit_test(very_long_names_and_lines),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
