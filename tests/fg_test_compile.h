/*
 * fg_test_compile.h -- helpers for the front end's tests: compile a policy or
 * expressions and look at the report as text. Header-only (static inline).
 *
 * Include after <cmocka.h>.
 */
#ifndef FG_TEST_COMPILE_H
#define FG_TEST_COMPILE_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fluxgate.h"

/* The whole report as text (static buffer; valid until the next call). */
static inline const char *fg_test_report_text(const fg_report *r) {
    static char buf[1 << 16];
    buf[0] = '\0';
    if (r != NULL) fg_report_format(r, buf, sizeof buf);
    return buf;
}

/* Compiles src as chunk "t.fgp"; *text receives the formatted report. */
static inline fg_policy *fg_test_compile(const char *src, const char **text) {
    fg_report *r = NULL;
    fg_policy *p = fg_policy_compile(src, strlen(src), "t.fgp", NULL, &r);
    *text = fg_test_report_text(r);
    fg_report_free(r);
    return p;
}

/* Expects src to compile; returns the policy (the caller frees it). */
static inline fg_policy *fg_test_compiles(const char *src) {
    const char *text;
    fg_policy *p = fg_test_compile(src, &text);
    if (p == NULL) fprintf(stderr, "unexpected errors:\n%s", text);
    assert_non_null(p);
    return p;
}

/* Expects src to fail, and the report to contain every fragment given
 * (NULL-terminated list). Returns the number of errors. */
static inline size_t fg_test_fails(const char *src, const char *const *fragments) {
    fg_report *r = NULL;
    fg_policy *p = fg_policy_compile(src, strlen(src), "t.fgp", NULL, &r);
    const char *text = fg_test_report_text(r);
    if (p != NULL) fprintf(stderr, "compiled, but expected errors:\n%s", src);
    assert_null(p);
    assert_non_null(r);
    for (size_t i = 0; fragments && fragments[i]; i++) {
        if (strstr(text, fragments[i]) == NULL)
            fprintf(stderr, "missing '%s' in:\n%s", fragments[i], text);
        assert_non_null(strstr(text, fragments[i]));
    }
    size_t n = fg_report_error_count(r);
    fg_report_free(r);
    return n;
}

/* fg_test_fails with one or two fragments. */
#define FG_FAILS(src, ...)                                                     \
    fg_test_fails((src), (const char *const[]){__VA_ARGS__, NULL})

/* One field compiled through fg_policy_from_expressions; *text gets the report. */
static inline fg_policy *fg_test_field(const char *field, const char *expr, const char **text) {
    fg_expressions e;
    memset(&e, 0, sizeof e);
    if (strcmp(field, "window") == 0) e.window = expr;
    else if (strcmp(field, "tracker") == 0) e.tracker = expr;
    else if (strcmp(field, "tripper") == 0) e.tripper = expr;
    else if (strcmp(field, "retry") == 0) e.retry = expr;
    else if (strcmp(field, "permit") == 0) e.permit = expr;
    else if (strcmp(field, "max_half_open_calls") == 0) e.max_half_open_calls = expr;
    else e.half_open_lease = expr;
    fg_report *r = NULL;
    fg_policy *p = fg_policy_from_expressions("t", &e, NULL, &r);
    *text = fg_test_report_text(r);
    fg_report_free(r);
    return p;
}

#endif /* FG_TEST_COMPILE_H */
