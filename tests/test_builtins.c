/*
 * test_builtins.c -- the constructor table (fg_builtins.c): each name finds
 * its entry, the table is consistent with itself, doc/language.md's
 * "Constructors" table says exactly what it holds (names, kinds, parameters,
 * allowed values, defaults), and suggestions behave.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <float.h>

#include "fg_alloc.h"
#include "fg_builtins.h"
#include "fg_file.h"

/* fg_builtin_find is the checker's only way from a name to a constructor:
 * each name finds its own entry, and a prefix, an extension or another case
 * of a name finds none (the did-you-mean path takes those). */
static void each_constructor_is_found_by_its_exact_name_only(void **state) {
    (void)state;
    for (int i = 0; i < FG_BUILTIN_COUNT; i++) {
        const fg_builtin *b = fg_builtin_get((fg_builtin_id)i);
        size_t len = strlen(b->name);
        assert_int_equal(fg_builtin_find(b->name, len), i);
        assert_int_equal(fg_builtin_find(b->name, len - 1), -1);
        char longer[64], lower[64];
        snprintf(longer, sizeof longer, "%sX", b->name);
        assert_int_equal(fg_builtin_find(longer, len + 1), -1);
        snprintf(lower, sizeof lower, "%s", b->name);
        lower[0] = (char)(lower[0] - 'A' + 'a');
        assert_int_equal(fg_builtin_find(lower, len), -1);
    }
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
            assert_true(fg_param_min_index(b, p) < (int)j); /* a bound refers to an earlier parameter */
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

/* ---- doc/language.md's constructor table, row by row ----------------------- */

static void append(char *out, size_t cap, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 3, 4)))
#endif
    ;

static void append(char *out, size_t cap, const char *fmt, ...) {
    size_t len = strlen(out);
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(out + len, cap - len, fmt, ap);
    va_end(ap);
}

/* "tracker, permit": the kind bits in the order of FG_KIND_*. */
static void kinds_text(int kinds, char *out, size_t cap) {
    static const char *const names[] = {"window", "tracker", "tripper", "retry", "permit"};
    out[0] = '\0';
    for (int bit = 0; bit < 5; bit++)
        if (kinds & (1 << bit)) append(out, cap, "%s%s", out[0] ? ", " : "", names[bit]);
}

/* What the reference must say a parameter accepts, computed from the table's
 * type, bounds and default (never from its hand-written `rule`). Integers
 * are shown with closed bounds ([1, 1000000], not (0, 1000000]); an integer
 * bounded only by the runtime's 32 bits and a number bounded by nothing show
 * no upper bound (the section's preamble says so). */
static void values_text(const fg_param *p, char *out, size_t cap) {
    out[0] = '\0';
    append(out, cap, "%s: ", p->name);
    switch (p->type) {
    case FG_PARAM_STRINGS: append(out, cap, "at least one string"); return;
    case FG_PARAM_CODES: append(out, cap, "at least one integer or range `a..b` with a <= b"); return;
    case FG_PARAM_STRING:
        append(out, cap, "%s", p->quantity == FG_QTY_NAME ? "a string without NUL" : "a string");
        return;
    case FG_PARAM_INTEGER:
    case FG_PARAM_NUMBER: break;
    }
    int integer = p->type == FG_PARAM_INTEGER;
    char lo[64] = "", hi[64] = "";
    int lo_open = p->min_open, hi_open = p->max_open;
    if (p->min_param != NULL) {
        snprintf(lo, sizeof lo, "%s", p->min_param->name);
        lo_open = 0;
    } else if (p->min > -DBL_MAX) {
        snprintf(lo, sizeof lo, "%.15g", p->min);
    }
    int hi_stated = integer ? p->max < 4294967295.0 : p->max < DBL_MAX;
    if (hi_stated) snprintf(hi, sizeof hi, "%.15g", p->max);
    if (integer) append(out, cap, "integer ");
    if (lo[0] && hi_stated) {
        if (integer && lo_open && p->min_param == NULL) {
            snprintf(lo, sizeof lo, "%.15g", p->min + 1);
            lo_open = 0;
        }
        if (integer && hi_open) {
            snprintf(hi, sizeof hi, "%.15g", p->max - 1);
            hi_open = 0;
        }
        append(out, cap, "in %c%s, %s%c", lo_open ? '(' : '[', lo, hi, hi_open ? ')' : ']');
    } else if (lo[0]) {
        append(out, cap, "%s %s", lo_open ? ">" : ">=", lo);
    } else if (hi_stated) {
        append(out, cap, "%s %s", hi_open ? "<" : "<=", hi);
    } else {
        append(out, cap, "any number");
    }
    if (p->has_default) append(out, cap, " (default %.15g)", p->default_value);
}

/* The trimmed text of the cell-th cell of a table row, into out. */
static int row_cell(const char *row, const char *end, int cell, char *out, size_t cap) {
    const char *at = row;
    for (int i = 0; i <= cell; i++) {
        at = memchr(at, '|', (size_t)(end - at));
        if (at == NULL) return 0;
        at++;
    }
    const char *stop = memchr(at, '|', (size_t)(end - at));
    if (stop == NULL) return 0;
    while (at < stop && *at == ' ') at++;
    while (stop > at && stop[-1] == ' ') stop--;
    size_t n = (size_t)(stop - at) < cap - 1 ? (size_t)(stop - at) : cap - 1;
    memcpy(out, at, n);
    out[n] = '\0';
    return 1;
}

/* Compares one row of the reference with builtin b; names what differs. */
static void check_row(const fg_builtin *b, const char *row, const char *end) {
    char cell[512], want[512];
    assert_true(row_cell(row, end, 0, cell, sizeof cell));
    /* the signature names the parameters in order, unless it shows an example */
    int plain = 1;
    for (uint32_t j = 0; j < b->param_count; j++)
        if (b->params[j].type != FG_PARAM_INTEGER && b->params[j].type != FG_PARAM_NUMBER) plain = 0;
    snprintf(want, sizeof want, "`%s(", b->name);
    if (plain) {
        for (uint32_t j = 0; j < b->param_count; j++)
            append(want, sizeof want, "%s%s", j ? ", " : "", b->params[j].name);
        append(want, sizeof want, ")`");
        if (strcmp(cell, want) != 0) fail_msg("doc/language.md: %s is documented as %s", want, cell);
    } else if (strncmp(cell, want, strlen(want)) != 0) {
        fail_msg("doc/language.md: row %s is not %s...", cell, want);
    }
    assert_true(row_cell(row, end, 1, cell, sizeof cell));
    kinds_text(b->kinds, want, sizeof want);
    if (strcmp(cell, want) != 0) fail_msg("doc/language.md: %s() is a %s, not a %s", b->name, want, cell);
    assert_true(row_cell(row, end, 2, cell, sizeof cell));
    want[0] = '\0';
    for (uint32_t j = 0; j < b->param_count; j++) {
        char one[160];
        values_text(&b->params[j], one, sizeof one);
        append(want, sizeof want, "%s%s", j ? "; " : "", one);
    }
    if (b->param_count == 0) snprintf(want, sizeof want, "—");
    if (strcmp(cell, want) != 0)
        fail_msg("doc/language.md: %s()'s parameters are\n  %s\nbut the reference says\n  %s", b->name,
                 want, cell);
}

static void the_reference_table_is_the_constructor_table(void **state) {
    (void)state;
    fg_allocator alloc = fg_alloc_resolve(NULL);
    size_t size, cap;
    char *doc = fg_read_file("doc/language.md", &alloc, 1 << 20, &size, &cap);
    if (doc == NULL) fail_msg("doc/language.md not found: run the tests from the repository root");
    const char *section = strstr(doc, "\n## Constructors\n");
    assert_non_null(section);
    const char *section_end = strstr(section + 1, "\n## ");
    if (section_end == NULL) section_end = doc + size;
    /* every row of the table, in order, is the next constructor of the list */
    int rows = 0;
    for (const char *row = strstr(section, "\n| `"); row != NULL && row < section_end;
         row = strstr(row + 1, "\n| `")) {
        const char *end = strchr(row + 1, '\n');
        if (end == NULL) end = doc + size;
        if (rows >= FG_BUILTIN_COUNT) fail_msg("doc/language.md documents more constructors than there are");
        check_row(fg_builtin_get((fg_builtin_id)rows), row + 1, end);
        rows++;
    }
    if (rows != FG_BUILTIN_COUNT)
        fail_msg("doc/language.md documents %d constructors, the compiler has %d", rows, FG_BUILTIN_COUNT);
    fg_alloc_free(&alloc, doc, cap);
}

/* A range error prints the parameter's hand-written `rule` ("FailureRate()
 * ratio must be in (0, 1], got 2"), and adds "and at most MAX" for an
 * integer with a stated upper bound: so the rule must say exactly what the
 * bounds say, or messages drift from the table the way the old comment
 * table did. */
static void each_rule_says_what_the_bounds_say(void **state) {
    (void)state;
    for (int i = 0; i < FG_BUILTIN_COUNT; i++) {
        const fg_builtin *b = fg_builtin_get((fg_builtin_id)i);
        for (uint32_t j = 0; j < b->param_count; j++) {
            const fg_param *p = &b->params[j];
            char want[160];
            if (p->type == FG_PARAM_INTEGER) {
                /* the lower bound in the rule, the upper one added by the message */
                assert_true(p->min_open && p->min_param == NULL);
                snprintf(want, sizeof want, "an integer > %.15g", p->min);
            } else if (p->type == FG_PARAM_NUMBER) {
                fg_param bounds = *p;
                bounds.has_default = 0;
                char text[160];
                values_text(&bounds, text, sizeof text);
                snprintf(want, sizeof want, "%s", text + strlen(p->name) + 2); /* after "name: " */
            } else {
                continue; /* strings, codes: no bounds */
            }
            if (strcmp(p->rule, want) != 0)
                fail_msg("%s() %s: the rule says \"%s\", the bounds \"%s\"", b->name, p->name, p->rule, want);
        }
    }
}

/* values_text itself, so that the comparison above can fail: a
 * bound or a default that changes in the table changes the text. */
static void the_reference_text_follows_the_bounds(void **state) {
    (void)state;
    char text[160];
    fg_param p = {.name = "size", .type = FG_PARAM_INTEGER, .min = 0, .min_open = 1, .max = 1000000};
    values_text(&p, text, sizeof text);
    assert_string_equal(text, "size: integer in [1, 1000000]");
    p.max = 4294967295.0;
    values_text(&p, text, sizeof text);
    assert_string_equal(text, "size: integer > 0");
    fg_param r = {.name = "ratio", .type = FG_PARAM_NUMBER, .min = 0, .max = 1, .max_open = 1,
                  .has_default = 1, .default_value = 0.25};
    values_text(&r, text, sizeof text);
    assert_string_equal(text, "ratio: in [0, 1) (default 0.25)");
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
        cmocka_unit_test(each_constructor_is_found_by_its_exact_name_only),
        cmocka_unit_test(parameters_are_well_formed),
        cmocka_unit_test(the_reference_table_is_the_constructor_table),
        cmocka_unit_test(the_reference_text_follows_the_bounds),
        cmocka_unit_test(each_rule_says_what_the_bounds_say),
        cmocka_unit_test(edit_distance_is_levenshtein_capped),
        cmocka_unit_test(suggestions_are_close_and_of_the_right_kind),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
