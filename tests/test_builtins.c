/*
 * test_builtins.c -- the constructor table (fg_builtins.c) is consistent
 * with FG_BUILTIN_LIST and with itself, the language reference documents
 * every constructor and parameter it holds, and suggestions behave.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fg_builtin_table.h"

static void names_and_kinds_come_from_the_list(void **state) {
    (void)state;
    static const struct {
        const char *name;
        int kinds;
    } list[] = {
#define FG_X(id, name, kind) {name, kind},
        FG_BUILTIN_LIST(FG_X)
#undef FG_X
    };
    for (int i = 0; i < FG_BUILTIN_COUNT; i++) {
        const fg_builtin *b = fg_builtin_get((fg_builtin_id)i);
        assert_string_equal(b->name, list[i].name);
        assert_int_equal(b->kinds, list[i].kinds);
        assert_int_equal(fg_builtin_find(b->name, strlen(b->name)), i);
    }
    assert_int_equal(fg_builtin_find("Failure", 7), -1);
    assert_int_equal(fg_builtin_find("FailureRate2", 12), -1);
}

static void parameters_are_well_formed(void **state) {
    (void)state;
    for (int i = 0; i < FG_BUILTIN_COUNT; i++) {
        const fg_builtin *b = fg_builtin_get((fg_builtin_id)i);
        assert_true(b->param_count <= 4);
        for (uint32_t j = 0; j < b->param_count; j++) {
            const fg_param *p = &b->params[j];
            assert_non_null(p->name);
            assert_non_null(p->rule);
            assert_true(p->min <= p->max);
            assert_true(p->min_param < (int)j); /* a bound refers to an earlier parameter */
            if (p->has_default) {
                /* a default satisfies its own rule, and defaults come last */
                assert_true(p->default_value > p->min || (!p->min_open && p->default_value == p->min));
                assert_true(p->default_value < p->max || (!p->max_open && p->default_value == p->max));
            } else {
                for (uint32_t k = 0; k < j; k++) assert_false(b->params[k].has_default);
            }
            if (p->type == FG_PARAM_STRINGS || p->type == FG_PARAM_CODES) assert_int_equal(b->param_count, 1);
        }
    }
}

static char *read_all(const char *path) {
    FILE *f = fopen(path, "rb");
    if (f == NULL) return NULL;
    static char buf[1 << 19];
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    fclose(f);
    buf[n] = '\0';
    return buf;
}

static void the_reference_documents_every_constructor(void **state) {
    (void)state;
    const char *doc = read_all("doc/language.md");
    if (doc == NULL) doc = read_all("../doc/language.md");
    assert_non_null(doc);
    for (int i = 0; i < FG_BUILTIN_COUNT; i++) {
        const fg_builtin *b = fg_builtin_get((fg_builtin_id)i);
        char row[64];
        snprintf(row, sizeof row, "| `%s(", b->name);
        /* some row starting with the constructor names all its parameters */
        int documented = 0;
        for (const char *line = strstr(doc, row); line != NULL && !documented; line = strstr(line + 1, row)) {
            const char *end = strchr(line, '\n');
            documented = 1;
            for (uint32_t j = 0; j < b->param_count; j++) {
                const char *at = strstr(line, b->params[j].name);
                if (at == NULL || at > end) documented = 0;
            }
        }
        if (!documented) fprintf(stderr, "doc/language.md lacks a row for %s with its parameters\n", b->name);
        assert_true(documented);
    }
}

static void edit_distance_is_levenshtein_capped(void **state) {
    (void)state;
    assert_int_equal(fg_edit_distance("kitten", 6, "sitting", 7, 10), 3);
    assert_int_equal(fg_edit_distance("abc", 3, "abc", 3, 0), 0);
    assert_int_equal(fg_edit_distance("kitten", 6, "sitting", 7, 2), 3); /* cap + 1 */
    assert_int_equal(fg_edit_distance("", 0, "abcd", 4, 10), 4);
}

static void suggestions_are_close_and_of_the_right_kind(void **state) {
    (void)state;
    size_t best = (size_t)-1;
    assert_string_equal(fg_builtin_suggest("FailureRat", 10, FG_KIND_TRIPPER, &best), "FailureRate");
    assert_int_equal(best, 1);
    best = (size_t)-1;
    assert_string_equal(fg_builtin_suggest("failurestreak", 13, 0, &best), "FailureStreak");
    best = (size_t)-1;
    assert_null(fg_builtin_suggest("Zorglub", 7, 0, &best));
    best = (size_t)-1;
    assert_null(fg_builtin_suggest("Ab", 2, 0, &best)); /* too short to guess */
    best = (size_t)-1;
    assert_string_equal(fg_builtin_suggest("Coldown", 7, FG_KIND_RETRY, &best), "Cooldown");
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(names_and_kinds_come_from_the_list),
        cmocka_unit_test(parameters_are_well_formed),
        cmocka_unit_test(the_reference_documents_every_constructor),
        cmocka_unit_test(edit_distance_is_levenshtein_capped),
        cmocka_unit_test(suggestions_are_close_and_of_the_right_kind),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
