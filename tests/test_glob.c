/*
 * test_glob.c -- Message("glob") patterns: `*` any run of bytes, `?` one
 * byte, everything else itself, the whole message matched.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "fg_glob.h"

static int match(const char *pattern, const char *text) {
    return fg_glob_match(pattern, strlen(pattern), text, strlen(text));
}

static void literal_patterns_match_the_whole_text(void **state) {
    (void)state;
    assert_true(match("timeout", "timeout"));
    assert_false(match("timeout", "timeouts"));
    assert_false(match("timeout", "a timeout"));
    assert_false(match("timeout", "Timeout"));
    assert_true(match("", ""));
    assert_false(match("", "x"));
    assert_false(match("x", ""));
}

static void question_mark_is_exactly_one_byte(void **state) {
    (void)state;
    assert_true(match("t?me", "time"));
    assert_true(match("t?me", "tame"));
    assert_false(match("t?me", "tme"));
    assert_false(match("t?me", "tiime"));
    assert_true(match("???", "abc"));
    assert_false(match("???", "ab"));
    assert_true(match("caf??", "caf\xc3\xa9")); /* é is two bytes */
}

static void star_is_any_run_also_empty(void **state) {
    (void)state;
    assert_true(match("*", ""));
    assert_true(match("*", "anything"));
    assert_true(match("**", "x"));
    assert_true(match("*timeout*", "timeout"));
    assert_true(match("*timeout*", "read timeout after 5s"));
    assert_false(match("*timeout*", "read time out"));
    assert_true(match("conn*refused", "connection refused"));
    assert_true(match("conn*refused", "connrefused"));
    assert_false(match("conn*refused", "connection refused!"));
    assert_true(match("a*b*c", "aXbYbZc"));
    assert_false(match("a*b*c", "aXbYbZ"));
}

/* The greedy matcher must retry from the LAST star when a later part fails. */
static void backtracking_to_the_last_star(void **state) {
    (void)state;
    assert_true(match("*ab", "aab"));
    assert_true(match("*aab", "aaab"));
    assert_true(match("a*ab*b", "aXabab"));
    assert_true(match("*?x", "abx"));
    assert_false(match("*?x", "x"));
    assert_true(match("*a?c*", "zzabcabc"));
    assert_true(match("*mississippi", "mississippimississippi"));
    assert_false(match("*x*", "mississippi"));
}

static void lengths_not_nul_terminators_delimit(void **state) {
    (void)state;
    assert_true(fg_glob_match("a\0b", 3, "a\0b", 3));
    assert_false(fg_glob_match("a\0b", 3, "a\0c", 3));
    assert_true(fg_glob_match("a?b", 3, "a\0b", 3));
    assert_true(fg_glob_match("*", 1, NULL, 0));
    assert_true(fg_glob_match(NULL, 0, NULL, 0));
    assert_false(fg_glob_match("abc", 2, "abc", 3)); /* pattern "ab" */
}

/* A pattern that makes naive recursive matchers exponential finishes (and is
 * right) on a long text: many stars against a near-miss. */
static void pathological_patterns_are_answered(void **state) {
    (void)state;
    enum { N = 20000 };
    char *text = malloc(N + 1);
    assert_non_null(text);
    memset(text, 'a', N);
    text[N] = '\0';
    assert_false(match("*a*a*a*a*a*a*a*a*b", text));
    assert_true(match("*a*a*a*a*a*a*a*a*a", text));
    text[N - 1] = 'b';
    assert_true(match("*a*a*a*a*a*a*a*a*b", text));
    free(text);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(literal_patterns_match_the_whole_text),
        cmocka_unit_test(question_mark_is_exactly_one_byte),
        cmocka_unit_test(star_is_any_run_also_empty),
        cmocka_unit_test(backtracking_to_the_last_star),
        cmocka_unit_test(lengths_not_nul_terminators_delimit),
        cmocka_unit_test(pathological_patterns_are_answered),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
