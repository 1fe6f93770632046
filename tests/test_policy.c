/*
 * test_policy.c -- compiled policies (fluxgate.h "compiling policies"):
 * breakers in file order, defaults blocks for later breakers, fluxgate's
 * defaults, component texts, the expression API with one chunk per field,
 * loading files, duplicates, reference counting and the disassembly.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "fg_alloc.h"
#include "fg_compile_internal.h"
#include "fg_file.h"
#include "fg_parse.h"
#include "fg_policy_internal.h"
#include "fg_test_compile.h"

/* Not fg_payment_policy.h's text on purpose: a small window (CountWindow(10))
 * and no jitter so that the tests below can reason about exact values, `;`
 * separators, and a second breaker ("search-api") that takes fluxgate's
 * defaults. */
static const char PAYMENT[] =
    "# Failures worth counting\n"
    "tracker transport = TypeOf(\"timeout\", \"connection refused\") | Status(500..599)\n"
    "\n"
    "tripper standard = FailureStreak(5)\n"
    "                 | (MinRequests(20) & ((Closed() & FailureRate(60%))\n"
    "                                     | (HalfOpened() & FailureRate(50%))))\n"
    "\n"
    "defaults {\n"
    "    window = CountWindow(10)\n"
    "    retry  = Backoff(initial = 10s, multiplier = 2, max_duration = 5m, jitter_ratio = 0)\n"
    "}\n"
    "\n"
    "breaker payment_api {\n"
    "    tracker = transport\n"
    "    tripper = standard;\n"
    "    permit  = RampUp(initial = 10%, final = 50%, duration = 1m);\n"
    "}\n"
    "\n"
    "breaker \"search-api\" {\n"
    "    tripper = MinRequests(2) & FailureRate(0.5)\n"
    "    retry = Cooldown(500ms)\n"
    "    max_half_open_calls = 3\n"
    "    half_open_lease = 2m\n"
    "}\n";

static void breakers_are_listed_in_file_order(void **state) {
    (void)state;
    fg_policy *p = fg_test_compiles(PAYMENT);
    assert_int_equal(fg_policy_breaker_count(p), 2);
    assert_string_equal(fg_policy_breaker_name(p, 0), "payment_api");
    assert_string_equal(fg_policy_breaker_name(p, 1), "search-api");
    assert_null(fg_policy_breaker_name(p, 2));
    assert_int_equal(fg_policy_find_breaker(p, "search-api"), 1);
    assert_int_equal(fg_policy_find_breaker(p, "nope"), -1);
    assert_string_equal(p->chunk, "t.fgp");
    fg_policy_free(p);
}

static void settings_defaults_and_fluxgates_defaults_combine(void **state) {
    (void)state;
    fg_policy *p = fg_test_compiles(PAYMENT);
    const fg_breaker_def *a = &p->breakers[0], *b = &p->breakers[1];
    /* from the defaults block */
    assert_int_equal(a->window.kind, FG_WINDOW_COUNT);
    assert_int_equal(a->window.size, 10);
    assert_string_equal(a->window.text, "CountWindow(10)");
    assert_int_equal(a->retry.kind, FG_RETRY_BACKOFF);
    assert_true(a->retry.duration == 10 && a->retry.multiplier == 2 && a->retry.max_duration == 300);
    /* its own */
    assert_int_equal(a->permit.kind, FG_PERMIT_RAMP_UP);
    assert_true(a->permit.ratio == 0.1 && a->permit.final == 0.5 && a->permit.duration == 60);
    assert_string_equal(a->permit.text, "RampUp(initial = 10%, final = 50%, duration = 1m)");
    assert_string_equal(fg_program_text(a->tracker), "transport");
    assert_string_equal(fg_program_text(a->tripper), "standard");
    /* fluxgate's */
    assert_int_equal(a->max_half_open_calls, FG_DEFAULT_MAX_HALF_OPEN_CALLS);
    assert_true(a->half_open_lease == FG_DEFAULT_HALF_OPEN_LEASE);
    assert_string_equal(b->permit.text, FG_DEFAULT_PERMIT_TEXT);
    assert_int_equal(b->permit.kind, FG_PERMIT_RAMP_UP);
    assert_string_equal(fg_program_text(b->tracker), FG_DEFAULT_TRACKER_TEXT);
    /* numeric settings */
    assert_int_equal(b->max_half_open_calls, 3);
    assert_true(b->half_open_lease == 120);
    assert_int_equal(b->retry.kind, FG_RETRY_COOLDOWN);
    assert_true(b->retry.duration == 0.5 && b->retry.jitter_ratio == 0);
    assert_int_equal(b->loc.line, 19);
    fg_policy_free(p);
}

static void defaults_apply_only_to_later_breakers(void **state) {
    (void)state;
    fg_policy *p = fg_test_compiles("breaker before { }\n"
                                    "defaults { window = TimeWindow(30) retry = Never() }\n"
                                    "breaker middle { }\n"
                                    "defaults { retry = Always() }\n"
                                    "breaker after { window = CountWindow(7) }\n");
    assert_int_equal(p->breakers[0].window.size, 100);
    assert_int_equal(p->breakers[0].retry.kind, FG_RETRY_COOLDOWN);
    assert_int_equal(p->breakers[1].window.kind, FG_WINDOW_TIME);
    assert_int_equal(p->breakers[1].retry.kind, FG_RETRY_NEVER);
    /* a later defaults block replaces only what it sets */
    assert_int_equal(p->breakers[2].retry.kind, FG_RETRY_ALWAYS);
    assert_int_equal(p->breakers[2].window.size, 7);
    fg_policy_free(p);
}

static void a_shared_setting_shares_its_program(void **state) {
    (void)state;
    fg_policy *p = fg_test_compiles("defaults { tripper = FailureStreak(2) }\n"
                                    "breaker a { }\nbreaker b { }\nbreaker c { tripper = FailureStreak(3) }\n");
    assert_ptr_equal(p->breakers[0].tripper, p->breakers[1].tripper);
    assert_ptr_not_equal(p->breakers[1].tripper, p->breakers[2].tripper);
    assert_ptr_equal(p->breakers[0].tracker, p->breakers[2].tracker); /* fluxgate's All() */
    assert_int_equal(p->program_count, 3);
    fg_policy_free(p);
}

/* `tripper = t` in many breakers: one program, generated once. */
static void uses_of_a_bare_name_share_one_program(void **state) {
    (void)state;
    fg_policy *p = fg_test_compiles("tripper t = FailureStreak(2) | MinRequests(5)\n"
                                    "breaker a { tripper = t }\nbreaker b { tripper = t }\n"
                                    "breaker c { tripper = (t) }\nbreaker d { tripper = t | Closed() }\n");
    assert_ptr_equal(p->breakers[0].tripper, p->breakers[1].tripper);
    assert_string_equal(fg_program_text(p->breakers[1].tripper), "t");
    /* a different text is a different program: texts are transition reasons */
    assert_string_equal(fg_program_text(p->breakers[2].tripper), "(t)");
    assert_ptr_not_equal(p->breakers[2].tripper, p->breakers[0].tripper);
    assert_ptr_not_equal(p->breakers[3].tripper, p->breakers[0].tripper);
    fg_policy_free(p);
}

static void duplicates_are_errors_at_the_second(void **state) {
    (void)state;
    FG_FAILS("breaker a {}\nbreaker a {}\n", "t.fgp:2:9: error: breaker 'a' is already defined (line 1)");
    FG_FAILS("breaker \"x y\" {}\nbreaker \"x y\" {}\n", "t.fgp:2:9: error: breaker 'x y' is already defined");
    FG_FAILS("breaker a {\n  retry = Never()\n  retry = Always()\n}\n",
             "t.fgp:3:3: error: 'retry' is set twice in this block (first on line 2)");
}

static void several_independent_errors_are_all_reported(void **state) {
    (void)state;
    size_t n = FG_FAILS("breaker a {\n  tripper = FailureRate(2)\n}\nbreaker b {\n  retry = Cooldown(0)\n}\n",
                        "t.fgp:2:25:", "t.fgp:5:20:");
    assert_int_equal(n, 2);
}

static void expressions_compile_one_chunk_per_field(void **state) {
    (void)state;
    fg_expressions e;
    memset(&e, 0, sizeof e);
    e.window = "TimeWindow(60)";
    e.tripper = "FailureStreak(3) | (MinRequests(10) & FailureRate(50%))";
    e.permit = "All()";
    e.max_half_open_calls = "4";
    e.half_open_lease = "30s";
    fg_report *r = NULL;
    fg_policy *p = fg_policy_from_expressions("api", &e, NULL, &r);
    assert_non_null(p);
    assert_int_equal(fg_report_count(r), 0);
    fg_report_free(r);
    assert_int_equal(fg_policy_breaker_count(p), 1);
    assert_string_equal(fg_policy_breaker_name(p, 0), "api");
    const fg_breaker_def *d = &p->breakers[0];
    assert_int_equal(d->window.kind, FG_WINDOW_TIME);
    assert_int_equal(d->permit.kind, FG_PERMIT_ALL);
    assert_int_equal(d->max_half_open_calls, 4);
    assert_true(d->half_open_lease == 30);
    assert_string_equal(d->retry.text, FG_DEFAULT_RETRY_TEXT);
    fg_policy_free(p);

    /* errors name their field as the chunk, in field order */
    e.tripper = "FailureStreak(3) | (MinRequests(10) & FailureRat(50%))";
    e.max_half_open_calls = "0";
    r = NULL;
    assert_null(fg_policy_from_expressions("api", &e, NULL, &r));
    assert_int_equal(fg_report_error_count(r), 2);
    assert_string_equal(fg_report_get(r, 0)->chunk, "tripper");
    assert_int_equal(fg_report_get(r, 0)->column, 39);
    assert_string_equal(fg_report_get(r, 1)->chunk, "max_half_open_calls");
    char buf[512];
    fg_diagnostic_format(fg_report_get(r, 0), 0, buf, sizeof buf);
    assert_string_equal(buf, "tripper:1:39: error: unknown tripper 'FailureRat' (did you mean 'FailureRate'?)\n");
    fg_report_free(r);

    /* a bare number only where a number is meant */
    const char *text;
    assert_null(fg_test_field("tripper", "5", &text));
    assert_non_null(strstr(text, "tripper:1:1: error: 'tripper' expects a tripper, not a number"));
    assert_null(fg_test_field("max_half_open_calls", "FailureStreak(1)", &text));
}

static void custom_trackers_compile_for_any_name(void **state) {
    (void)state;
    const char *text;
    fg_policy *p = fg_test_field("tracker", "Custom(\"not registered anywhere\") | ~Custom(\"x\")", &text);
    assert_non_null(p);
    assert_int_equal(fg_program_custom_count(p->breakers[0].tracker), 2);
    fg_policy_free(p);
}

static void load_reads_a_file_and_names_a_missing_one(void **state) {
    (void)state;
    char path[] = "/tmp/fg_test_policy_XXXXXX";
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    assert_int_equal(write(fd, PAYMENT, sizeof PAYMENT - 1), (long)(sizeof PAYMENT - 1));
    close(fd);
    fg_report *r = NULL;
    fg_policy *p = fg_policy_load(path, NULL, &r);
    unlink(path);
    assert_non_null(p);
    assert_string_equal(p->chunk, path);
    assert_string_equal(fg_policy_breaker_name(p, 0), "payment_api");
    fg_report_free(r);
    fg_policy_free(p);

    r = NULL;
    assert_null(fg_policy_load("/nonexistent/dir/x.fgp", NULL, &r));
    assert_int_equal(fg_report_error_count(r), 1);
    const fg_diagnostic *d = fg_report_get(r, 0);
    assert_string_equal(d->chunk, "/nonexistent/dir/x.fgp");
    assert_int_equal(d->line, 0);
    char buf[512];
    fg_report_format(r, buf, sizeof buf);
    assert_string_equal(buf, "/nonexistent/dir/x.fgp: error: cannot read '/nonexistent/dir/x.fgp': "
                             "No such file or directory\n");
    fg_report_free(r);
}

/* A directory opens for reading and seeks to an arbitrary end: it must be
 * named as one, not called "too large". */
static void load_names_a_directory_as_one(void **state) {
    (void)state;
    fg_report *r = NULL;
    assert_null(fg_policy_load("/tmp", NULL, &r));
    assert_int_equal(fg_report_error_count(r), 1);
    char buf[256];
    fg_report_format(r, buf, sizeof buf);
    assert_string_equal(buf, "/tmp: error: cannot read '/tmp': Is a directory\n");
    fg_report_free(r);
}

/* An endless input stops at the limit: /dev/zero with a limit of 1 MiB (the
 * real limit is 4 GiB, the same code). */
typedef struct peak_alloc {
    size_t live, peak;
} peak_alloc;

static void *peak_alloc_fn(void *ud, void *ptr, size_t osize, size_t nsize) {
    peak_alloc *a = ud;
    if (ptr != NULL) a->live -= osize;
    if (nsize == 0) {
        free(ptr);
        return NULL;
    }
    void *p = realloc(ptr, nsize);
    if (p == NULL) {
        if (ptr != NULL) a->live += osize;
        return NULL;
    }
    a->live += nsize;
    if (a->live > a->peak) a->peak = a->live;
    return p;
}

static void an_endless_input_stops_at_the_size_limit(void **state) {
    (void)state;
    peak_alloc a = {0, 0};
    fg_allocator alloc = {peak_alloc_fn, &a};
    fg_report *r = NULL;
    assert_null(fg_policy_load_limited("/dev/zero", (size_t)1 << 20, &alloc, &r));
    assert_int_equal(fg_report_error_count(r), 1);
    const fg_diagnostic *d = fg_report_get(r, 0);
    assert_string_equal(d->chunk, "/dev/zero");
    assert_string_equal(d->message, "input too large (limit 1048576 bytes)");
    assert_true(a.peak <= ((size_t)1 << 20) + 4096); /* it never held more */
    fg_report_free(r);
    assert_int_equal(a.live, 0);
    /* exactly at the limit is fine */
    char path[] = "/tmp/fg_test_limit_XXXXXX";
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    static const char text[] = "breaker a { }\n";
    assert_int_equal(write(fd, text, sizeof text - 1), (ssize_t)(sizeof text - 1));
    close(fd);
    fg_policy *p = fg_policy_load_limited(path, sizeof text - 1, NULL, NULL);
    assert_non_null(p);
    fg_policy_free(p);
    assert_null(fg_policy_load_limited(path, sizeof text - 2, NULL, &r));
    assert_non_null(strstr(fg_report_get(r, 0)->message, "input too large"));
    fg_report_free(r);
    unlink(path);
}

/* A regular file past 4 GiB is refused by its size, unread (a sparse file:
 * no disk, no memory). */
static void a_file_past_four_gib_is_refused_unread(void **state) {
    (void)state;
    char path[] = "/tmp/fg_test_huge_XXXXXX";
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    if (ftruncate(fd, (off_t)FG_MAX_SOURCE + 1) != 0) {
        close(fd);
        unlink(path);
        skip();
    }
    close(fd);
    fg_report *r = NULL;
    assert_null(fg_policy_load(path, NULL, &r));
    char buf[512];
    fg_report_format(r, buf, sizeof buf);
    char want[256];
    snprintf(want, sizeof want, "%s: error: input too large (limit 4 GiB)\n", path);
    assert_string_equal(buf, want);
    fg_report_free(r);
    unlink(path);
}

static void references_keep_a_policy_alive(void **state) {
    (void)state;
    fg_policy *p = fg_test_compiles("breaker a { }");
    fg_policy_retain(p);
    fg_policy_free(p);
    assert_string_equal(fg_policy_breaker_name(p, 0), "a"); /* still alive */
    fg_policy_free(p);
    fg_policy_free(NULL);
}

static void reports_are_optional_and_chunks_default(void **state) {
    (void)state;
    assert_null(fg_policy_compile("breaker {", 9, NULL, NULL, NULL));
    fg_report *r = NULL;
    assert_null(fg_policy_compile("breaker {", 9, NULL, NULL, &r));
    assert_string_equal(fg_report_get(r, 0)->chunk, "policy");
    fg_report_free(r);
    /* an empty policy is a policy with no breakers */
    fg_policy *p = fg_policy_compile("", 0, NULL, NULL, NULL);
    assert_non_null(p);
    assert_int_equal(fg_policy_breaker_count(p), 0);
    fg_policy_free(p);
}

static void the_format_is_chunk_line_column_message_source_and_caret(void **state) {
    (void)state;
    fg_report *r = NULL;
    const char *src = "breaker a {\n\ttripper = FailureRate(2)\n}\n";
    assert_null(fg_policy_compile(src, strlen(src), "bad.fgp", NULL, &r));
    char buf[512];
    size_t need = fg_report_format(r, buf, sizeof buf);
    assert_string_equal(buf, "bad.fgp:2:24: error: FailureRate() ratio must be in (0, 1], got 2 "
                             "(did you mean '2%'?)\n"
                             "  \ttripper = FailureRate(2)\n"
                             "  \t                      ^\n");
    assert_int_equal(need, strlen(buf));
    /* snprintf-style: a short buffer is cut and NUL-terminated, the length is whole */
    char small[10];
    assert_int_equal(fg_report_format(r, small, sizeof small), need);
    assert_string_equal(small, "bad.fgp:2");
    fg_report_free(r);
}

/* Columns count bytes; the caret counts what a terminal shows, so that it
 * stands under its token after UTF-8 text on the same line. */
static void a_caret_after_utf8_text_stands_under_its_token(void **state) {
    (void)state;
    fg_report *r = NULL;
    const char *src = "breaker a { tracker = TypeOf(\"caf\xC3\xA9\", \"\xE2\x82\xAC\") | Zorg(1) }";
    assert_null(fg_policy_compile(src, strlen(src), "u.fgp", NULL, &r));
    char buf[512];
    fg_report_format(r, buf, sizeof buf);
    assert_string_equal(buf, "u.fgp:1:48: error: unknown tracker 'Zorg'\n"
                             "  breaker a { tracker = TypeOf(\"caf\xC3\xA9\", \"\xE2\x82\xAC\") | Zorg(1) }\n"
                             "                                              ^\n");
    fg_report_free(r);
}

static void disassembly_lists_components_and_programs(void **state) {
    (void)state;
    fg_policy *p = fg_test_compiles(PAYMENT);
    char buf[8192];
    size_t n = fg_policy_disassemble(p, 1, buf, sizeof buf);
    assert_int_equal(n, strlen(buf));
    assert_non_null(strstr(buf, "breaker search-api\n"
                                "window  CountWindow(10)\n"
                                "tracker All()\n"
                                "tripper MinRequests(2) & FailureRate(0.5)\n"
                                "retry   Cooldown(500ms)\n"
                                "permit  RampUp(0.1, 1.0, 60)\n"
                                "max_half_open_calls 3\n"
                                "half_open_lease 120\n"));
    assert_non_null(strstr(buf, "tracker: All()\n"));
    assert_non_null(strstr(buf, "tripper: MinRequests(2) & FailureRate(0.5)\n"));
    assert_int_equal(fg_policy_disassemble(p, 2, buf, sizeof buf), 0);
    fg_policy_free(p);
}

/* doc/language.md's "Settings" table gives fluxgate's defaults: the very
 * texts the compiler falls back to (FG_DEFAULT_*), one definition each. */
static void the_reference_gives_fluxgates_defaults(void **state) {
    (void)state;
    static const char *const defaults[FG_SET_COUNT] = {
        [FG_SET_WINDOW] = FG_DEFAULT_WINDOW_TEXT,
        [FG_SET_TRACKER] = FG_DEFAULT_TRACKER_TEXT,
        [FG_SET_TRIPPER] = FG_DEFAULT_TRIPPER_TEXT,
        [FG_SET_RETRY] = FG_DEFAULT_RETRY_TEXT,
        [FG_SET_PERMIT] = FG_DEFAULT_PERMIT_TEXT,
        [FG_SET_MAX_HALF_OPEN_CALLS] = FG_DEFAULT_TEXT(FG_DEFAULT_MAX_HALF_OPEN_CALLS),
        [FG_SET_HALF_OPEN_LEASE] = FG_DEFAULT_TEXT(FG_DEFAULT_HALF_OPEN_LEASE),
    };
    fg_allocator alloc = fg_alloc_resolve(NULL);
    size_t size, cap;
    char *doc = fg_read_file("doc/language.md", &alloc, 1 << 20, &size, &cap);
    if (doc == NULL) fail_msg("doc/language.md not found: run the tests from the repository root");
    const char *section = strstr(doc, "\n## Settings\n");
    assert_non_null(section);
    for (int key = 0; key < FG_SET_COUNT; key++) {
        char row[64], cell[128];
        snprintf(row, sizeof row, "\n| `%s` |", fg_setting_name(key));
        const char *at = strstr(section, row);
        if (at == NULL) {
            fail_msg("doc/language.md's settings table has no row for %s", fg_setting_name(key));
            return;
        }
        const char *end = at + 1 + strcspn(at + 1, "\n");
        const char *last = end;
        while (last > at && last[-1] != '|') last--; /* after the row's closing bar */
        const char *bar = last - 1;
        while (bar > at && bar[-1] != '|') bar--; /* the last cell's start */
        snprintf(cell, sizeof cell, "%.*s", (int)(last - 1 - bar), bar);
        char want[128];
        snprintf(want, sizeof want, " `%s` ", defaults[key]);
        if (strcmp(cell, want) != 0)
            fail_msg("doc/language.md gives%sas the default of %s; the compiler's is%s", cell,
                     fg_setting_name(key), want);
    }
    /* and the bound of max_half_open_calls */
    char bound[64];
    snprintf(bound, sizeof bound, "an integer in [1, %d]", FG_MAX_HALF_OPEN_CALLS_LIMIT);
    assert_non_null(strstr(section, bound));
    fg_alloc_free(&alloc, doc, cap);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(breakers_are_listed_in_file_order),
        cmocka_unit_test(settings_defaults_and_fluxgates_defaults_combine),
        cmocka_unit_test(defaults_apply_only_to_later_breakers),
        cmocka_unit_test(a_shared_setting_shares_its_program),
        cmocka_unit_test(uses_of_a_bare_name_share_one_program),
        cmocka_unit_test(duplicates_are_errors_at_the_second),
        cmocka_unit_test(several_independent_errors_are_all_reported),
        cmocka_unit_test(expressions_compile_one_chunk_per_field),
        cmocka_unit_test(custom_trackers_compile_for_any_name),
        cmocka_unit_test(load_reads_a_file_and_names_a_missing_one),
        cmocka_unit_test(load_names_a_directory_as_one),
        cmocka_unit_test(an_endless_input_stops_at_the_size_limit),
        cmocka_unit_test(a_file_past_four_gib_is_refused_unread),
        cmocka_unit_test(references_keep_a_policy_alive),
        cmocka_unit_test(reports_are_optional_and_chunks_default),
        cmocka_unit_test(the_format_is_chunk_line_column_message_source_and_caret),
        cmocka_unit_test(a_caret_after_utf8_text_stands_under_its_token),
        cmocka_unit_test(disassembly_lists_components_and_programs),
        cmocka_unit_test(the_reference_gives_fluxgates_defaults),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
