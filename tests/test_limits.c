/*
 * test_limits.c -- the documented limits, each at its edge: a policy at the
 * limit compiles (or a breaker is made), one step past it is a located error
 * -- never a crash, a hang or a silent truncation.
 *
 *   limit                                    where                 past it
 *   nesting of ( and ~: 200 (counted together) FG_MAX_NESTING        located error
 *   instructions per program: 65536           FG_MAX_INSTRUCTIONS   located error
 *   constants per program: 65536              FG_MAX_CONSTANTS      located error (*)
 *   distinct SlowRate thresholds per tripper: 8  FG_MAX_SLOW_THRESHOLDS  located error
 *   errors per report: 100                    FG_MAX_ERRORS         report capped
 *   counts and sizes: integers < 2^32         fg_builtins.c         located error
 *   policy text: under 4 GiB                  grammar/parser.y      located error (line 1)
 *   breakers per policy                       none below memory     (tested large)
 *
 * (*) constants are deduplicated and every constant needs an instruction, so
 * the instruction limit is always reached first; a program with more than
 * 65536 distinct leaves reports one or the other, which is what is checked.
 * A window or half-open capacity too big for memory is not a compile-time
 * limit: fg_breaker_new then fails cleanly (checked with an allocator that
 * refuses huge blocks).
 */
/* mmap's MAP_ANONYMOUS / MAP_NORESERVE, for the 4 GiB policy */
#define _DEFAULT_SOURCE 1

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include "fg_diag.h"
#include "fg_parse.h"
#include "fg_program.h"
#include "fluxgate.h"

/* ---- growing text ------------------------------------------------------------ */

typedef struct text {
    char *data;
    size_t length, capacity;
} text;

static void text_add(text *t, const char *s, size_t n) {
    if (t->length + n + 1 > t->capacity) {
        size_t cap = t->capacity ? t->capacity : 4096;
        while (cap < t->length + n + 1) cap *= 2;
        t->data = realloc(t->data, cap);
        assert_non_null(t->data);
        t->capacity = cap;
    }
    memcpy(t->data + t->length, s, n);
    t->length += n;
    t->data[t->length] = '\0';
}

static void text_puts(text *t, const char *s) {
    text_add(t, s, strlen(s));
}

static void text_printf(text *t, const char *fmt, ...) {
    char buf[512];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    assert_true(n >= 0 && (size_t)n < sizeof buf);
    text_add(t, buf, (size_t)n);
}

static void text_repeat(text *t, const char *s, size_t times) {
    for (size_t i = 0; i < times; i++) text_puts(t, s);
}

/* ---- compiling and looking at reports ------------------------------------------ */

static fg_policy *compile(const text *t, fg_report **report) {
    *report = NULL;
    return fg_policy_compile(t->data, t->length, "limits.fgp", NULL, report);
}

static void print_report(fg_report *report) {
    char buf[2048];
    if (report == NULL) return;
    fg_report_format(report, buf, sizeof buf);
    fprintf(stderr, "%s", buf);
}

/* Compiles t and expects success; returns the policy (caller frees). */
static fg_policy *compiles(const text *t) {
    fg_report *report;
    fg_policy *p = compile(t, &report);
    if (p == NULL) print_report(report);
    fg_report_free(report);
    assert_non_null(p);
    return p;
}

/* Compiles t and expects failure with an error at `line` (0: any line) whose
 * message contains fragment; every error must be located. */
static void fails_with(const text *t, int line, const char *fragment) {
    fg_report *report;
    fg_policy *p = compile(t, &report);
    assert_null(p);
    assert_non_null(report);
    assert_true(fg_report_error_count(report) >= 1);
    int found = 0;
    for (size_t i = 0; i < fg_report_count(report); i++) {
        const fg_diagnostic *d = fg_report_get(report, i);
        if (d->severity != FG_SEVERITY_ERROR) continue;
        assert_string_equal(d->chunk, "limits.fgp");
        assert_true(d->line >= 1);
        assert_true(d->column >= 1);
        if (strstr(d->message, fragment) != NULL && (line == 0 || d->line == line)) found = 1;
    }
    if (!found) print_report(report);
    assert_true(found);
    fg_report_free(report);
}

/* ---- nesting ------------------------------------------------------------------- */

static void nesting_up_to_the_limit_compiles(void **state) {
    (void)state;
    text t = {0};
    text_puts(&t, "breaker b {\n  tripper = ");
    text_repeat(&t, "(", FG_MAX_NESTING / 2);
    text_repeat(&t, "~", FG_MAX_NESTING / 2);
    text_puts(&t, "FailureStreak(3)");
    text_repeat(&t, ")", FG_MAX_NESTING / 2);
    text_puts(&t, "\n}\n");
    fg_policy_free(compiles(&t));
    free(t.data);
}

static void nesting_one_past_the_limit_is_a_located_error(void **state) {
    (void)state;
    text t = {0};
    text_puts(&t, "breaker b {\n  tripper = ");
    text_repeat(&t, "(", FG_MAX_NESTING + 1);
    text_puts(&t, "FailureStreak(3)");
    text_repeat(&t, ")", FG_MAX_NESTING + 1);
    text_puts(&t, "\n}\n");
    fails_with(&t, 2, "nest");
    free(t.data);
}

/* A stack-smashing depth: parentheses, ~, and both in a single expression. */
static void absurd_nesting_is_a_located_error_not_a_crash(void **state) {
    (void)state;
    static const char *const openers[] = {"(", "~", "(~"};
    for (size_t k = 0; k < 3; k++) {
        text t = {0};
        text_puts(&t, "breaker b { tripper = ");
        text_repeat(&t, openers[k], 100000);
        text_puts(&t, "FailureStreak(3)");
        if (k != 1) text_repeat(&t, ")", 100000);
        text_puts(&t, " }\n");
        fails_with(&t, 1, "nest");
        free(t.data);
    }
    /* the expression API goes through the same parser */
    text e = {0};
    text_repeat(&e, "(", 100000);
    fg_expressions x;
    memset(&x, 0, sizeof x);
    x.tracker = e.data;
    fg_report *report = NULL;
    assert_null(fg_policy_from_expressions("deep", &x, NULL, &report));
    assert_non_null(report);
    const fg_diagnostic *d = fg_report_get(report, 0);
    assert_non_null(d);
    assert_string_equal(d->chunk, "tracker");
    assert_int_equal(d->line, 1);
    fg_report_free(report);
    free(e.data);
}

/* ---- program size ------------------------------------------------------------------ */

/* Named trippers that double at every step: 2^20 leaves once expanded. The
 * compiler must stop at the instruction limit, located, in linear time. */
static void doubling_definitions_hit_the_instruction_limit(void **state) {
    (void)state;
    text t = {0};
    text_puts(&t, "tripper t0 = FailureStreak(1) | MinRequests(2)\n");
    for (int i = 1; i <= 20; i++) text_printf(&t, "tripper t%d = t%d | (MinRequests(3) & t%d)\n", i, i - 1, i - 1);
    text_puts(&t, "breaker b {\n  tripper = t20\n}\n");
    fails_with(&t, 0, "program too large");
    free(t.data);
}

/* The limit is the whole program's: the error names the breaker and stands
 * at its name, not at the definition (line 1) where counting crossed it. */
static void a_program_too_large_is_reported_at_its_breaker(void **state) {
    (void)state;
    text t = {0};
    text_puts(&t, "tripper t0 = FailureStreak(1) | MinRequests(2)\n");
    for (int i = 1; i <= 20; i++) text_printf(&t, "tripper t%d = t%d | (MinRequests(3) & t%d)\n", i, i - 1, i - 1);
    text_puts(&t, "breaker small { tripper = t3 }\n");
    text_puts(&t, "breaker big {\n  tripper = t20\n}\n");
    fg_report *report;
    assert_null(compile(&t, &report));
    assert_int_equal(fg_report_error_count(report), 1);
    const fg_diagnostic *d = fg_report_get(report, 0);
    assert_int_equal(d->line, 23);
    assert_int_equal(d->column, 9);
    assert_string_equal(d->message,
                        "program too large: the tripper of breaker 'big': more than 65536 instructions");
    fg_report_free(report);
    free(t.data);
}

/* One flat `|` chain of distinct leaves, just past what fits. */
static void a_long_chain_of_distinct_leaves_is_a_located_error(void **state) {
    (void)state;
    text t = {0};
    text_puts(&t, "breaker b {\n  tripper = FailureStreak(1)");
    for (int i = 2; i <= FG_MAX_CONSTANTS + 2; i++) text_printf(&t, "\n    | FailureStreak(%d)", i);
    text_puts(&t, "\n}\n");
    fails_with(&t, 0, "program too large");
    free(t.data);
}

/* A chain that fits: a few thousand alternatives compile and run. */
static void a_large_program_below_the_limits_compiles_and_runs(void **state) {
    (void)state;
    text t = {0};
    text_puts(&t, "breaker b {\n  tripper = FailureStreak(1000)");
    for (int i = 2; i <= 4000; i++) text_printf(&t, " | (MinRequests(%d) & FailureRate(%d%%))", 1000 + i, 1 + i % 99);
    text_puts(&t, "\n  tracker = TypeOf(");
    for (int i = 0; i < 4000; i++) text_printf(&t, "%s\"type%d\"", i ? ", " : "", i);
    text_puts(&t, ")\n}\n");
    fg_policy *p = compiles(&t);
    fg_breaker *b = fg_breaker_new(p, 0, NULL, NULL, 0);
    assert_non_null(b);
    fg_outcome o;
    memset(&o, 0, sizeof o);
    o.is_error = 1;
    o.type = "type3999";
    o.type_len = 8;
    assert_int_equal(fg_breaker_classify(b, &o),
                     FG_OUTCOME_FAILURE); /* the last name was not truncated */
    fg_breaker_free(b);
    fg_policy_free(p);
    free(t.data);
}

/* ---- SlowRate thresholds -------------------------------------------------------------- */

static void slow_thresholds(text *t, int n) {
    text_puts(t, "breaker b {\n  tripper = SlowRate(50%, threshold = 1s)");
    for (int i = 2; i <= n; i++) text_printf(t, "\n    | SlowRate(50%%, threshold = %ds)", i);
    /* repeating a threshold does not add a distinct one */
    text_puts(t, "\n    | (MinRequests(5) & SlowRate(90%, threshold = 1s))\n}\n");
}

static void eight_slow_thresholds_compile(void **state) {
    (void)state;
    text t = {0};
    slow_thresholds(&t, FG_MAX_SLOW_THRESHOLDS);
    fg_policy *p = compiles(&t);
    fg_breaker *b = fg_breaker_new(p, 0, NULL, NULL, 0);
    assert_non_null(b);
    fg_info info;
    fg_breaker_info(b, &info);
    assert_int_equal(info.metric.threshold_count, FG_MAX_SLOW_THRESHOLDS);
    fg_breaker_free(b);
    fg_policy_free(p);
    free(t.data);
}

static void a_ninth_slow_threshold_is_a_located_error(void **state) {
    (void)state;
    text t = {0};
    slow_thresholds(&t, FG_MAX_SLOW_THRESHOLDS + 1);
    fails_with(&t, 0, "SlowRate threshold");
    free(t.data);
}

/* ---- numbers ---------------------------------------------------------------------------- */

static void counts_beyond_32_bits_are_located_errors(void **state) {
    (void)state;
    static const char *const cases[] = {
        "breaker b { window = CountWindow(4294967296) }\n",
        "breaker b { tripper = FailureStreak(1e300) }\n",
        "breaker b { tripper = MinRequests(99999999999) & FailureRate(0.5) }\n",
        "breaker b { window = TimeWindow(1e10) }\n",
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        text t = {0};
        text_puts(&t, cases[i]);
        fails_with(&t, 1, "");
        free(t.data);
    }
}

/* An allocator that refuses any block over 512 KiB, as a constrained host
 * would: below what each case below needs (65536 half-open slots of 12
 * bytes are 768 KiB). */
static void *capped_alloc(void *ud, void *ptr, size_t osize, size_t nsize) {
    (void)ud;
    (void)osize;
    if (nsize == 0) {
        free(ptr);
        return NULL;
    }
    if (nsize > ((size_t)1 << 19)) return NULL;
    return realloc(ptr, nsize);
}

/* The largest window and half-open capacity the language accepts compile;
 * with an allocator capped below what they need, making a breaker from them
 * is then a clean out-of-memory error. */
static void windows_too_big_for_memory_fail_cleanly_at_creation(void **state) {
    (void)state;
    static const char *const cases[] = {
        "breaker b { window = CountWindow(1000000) }\n",
        "breaker b { window = TimeWindow(86400) }\n",
        "breaker b { max_half_open_calls = 65536 }\n",
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        text t = {0};
        text_puts(&t, cases[i]);
        fg_policy *p = compiles(&t);
        fg_breaker_options o;
        memset(&o, 0, sizeof o);
        o.alloc.fn = capped_alloc;
        char err[256] = "";
        fg_breaker *b = fg_breaker_new(p, 0, &o, err, sizeof err);
        assert_null(b);
        assert_true(err[0] != '\0');
        fg_policy_free(p);
        free(t.data);
    }
}

/* ---- many errors, many breakers, big files -------------------------------------------- */

static void errors_are_capped(void **state) {
    (void)state;
    text t = {0};
    for (int i = 0; i < 2000; i++) text_printf(&t, "breaker b%d { tripper = FailureRat(0.5) }\n", i);
    fg_report *report;
    assert_null(compile(&t, &report));
    assert_non_null(report);
    size_t errors = fg_report_error_count(report);
    assert_true(errors >= 10);                 /* many independent errors ... */
    assert_true(errors <= FG_MAX_ERRORS + 1);  /* ... but a bounded report */
    fg_report_free(report);
    free(t.data);
}

static void twenty_thousand_breakers_compile_in_order(void **state) {
    (void)state;
    text t = {0};
    text_puts(&t, "tripper shared = FailureStreak(5) | (MinRequests(20) & FailureRate(60%))\n");
    for (int i = 0; i < 20000; i++) text_printf(&t, "breaker \"upstream-%d\" { tripper = shared }\n", i);
    fg_policy *p = compiles(&t);
    assert_int_equal(fg_policy_breaker_count(p), 20000);
    assert_string_equal(fg_policy_breaker_name(p, 0), "upstream-0");
    assert_string_equal(fg_policy_breaker_name(p, 19999), "upstream-19999");
    assert_int_equal(fg_policy_find_breaker(p, "upstream-12345"), 12345);
    fg_policy_free(p);
    free(t.data);
}

/* 8 MB of comments and a 1 MB string: nothing is truncated. */
static void large_files_and_strings_are_read_whole(void **state) {
    (void)state;
    text t = {0};
    for (int i = 0; i < 100000; i++) text_puts(&t, "# a comment line that pads the policy to several megabytes\n");
    text_puts(&t, "breaker last { tracker = TypeOf(\"");
    size_t name_at = t.length;
    text_repeat(&t, "x", 1 << 20);
    size_t name_len = t.length - name_at;
    text_puts(&t, "\") }\n");
    char *name = malloc(name_len);
    assert_non_null(name);
    memcpy(name, t.data + name_at, name_len);
    fg_policy *p = compiles(&t);
    assert_int_equal(fg_policy_find_breaker(p, "last"), 0);
    fg_breaker *b = fg_breaker_new(p, 0, NULL, NULL, 0);
    assert_non_null(b);
    fg_outcome o;
    memset(&o, 0, sizeof o);
    o.is_error = 1;
    o.type = name;
    o.type_len = name_len;
    assert_int_equal(fg_breaker_classify(b, &o), FG_OUTCOME_FAILURE);
    o.type_len = name_len - 1;
    assert_int_equal(fg_breaker_classify(b, &o), FG_OUTCOME_UNTRACKED);
    fg_breaker_free(b);
    fg_policy_free(p);
    free(name);
    free(t.data);
}

/* An error on the last line of a big file is reported at that line. */
static void errors_far_into_a_file_are_located(void **state) {
    (void)state;
    text t = {0};
    for (int i = 0; i < 50000; i++) text_printf(&t, "breaker ok%d { }\n", i);
    text_puts(&t, "breaker bad { tripper = FailureRate(2) }\n");
    fails_with(&t, 50001, "FailureRate");
    free(t.data);
}

/* Source offsets are 32-bit: a text of 4 GiB or more is refused up front.
 * The 4 GiB are an untouched anonymous mapping (zero pages, no real memory)
 * with a newline early on, so that the caret line stays short. */
static void a_policy_of_4_gib_is_a_located_error(void **state) {
    (void)state;
    size_t length = (size_t)UINT32_MAX + 16;
    char *huge = mmap(NULL, length, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    if (huge == MAP_FAILED) skip(); /* no 4 GiB of address space here */
    memcpy(huge, "breaker b { }\n", 14);
    fg_report *report = NULL;
    fg_policy *p = fg_policy_compile(huge, length, "huge.fgp", NULL, &report);
    munmap(huge, length);
    assert_null(p);
    assert_non_null(report);
    const fg_diagnostic *d = fg_report_get(report, 0);
    assert_non_null(d);
    assert_string_equal(d->chunk, "huge.fgp");
    assert_int_equal(d->line, 1);
    assert_non_null(strstr(d->message, "too large"));
    fg_report_free(report);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(nesting_up_to_the_limit_compiles),
        cmocka_unit_test(nesting_one_past_the_limit_is_a_located_error),
        cmocka_unit_test(absurd_nesting_is_a_located_error_not_a_crash),
        cmocka_unit_test(doubling_definitions_hit_the_instruction_limit),
        cmocka_unit_test(a_program_too_large_is_reported_at_its_breaker),
        cmocka_unit_test(a_long_chain_of_distinct_leaves_is_a_located_error),
        cmocka_unit_test(a_large_program_below_the_limits_compiles_and_runs),
        cmocka_unit_test(eight_slow_thresholds_compile),
        cmocka_unit_test(a_ninth_slow_threshold_is_a_located_error),
        cmocka_unit_test(counts_beyond_32_bits_are_located_errors),
        cmocka_unit_test(windows_too_big_for_memory_fail_cleanly_at_creation),
        cmocka_unit_test(errors_are_capped),
        cmocka_unit_test(twenty_thousand_breakers_compile_in_order),
        cmocka_unit_test(large_files_and_strings_are_read_whole),
        cmocka_unit_test(errors_far_into_a_file_are_located),
        cmocka_unit_test(a_policy_of_4_gib_is_a_located_error),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
