/*
 * fuzz_compile.c -- libFuzzer harness for the compiler front end and back end.
 *
 * Any bytes are compiled twice over:
 *   1. as a policy file (fg_policy_compile, with the exact length: the input
 *      buffer is not NUL-terminated, so an over-read is an ASan report);
 *   2. as a single expression in each of the seven positions of
 *      fg_expressions (window, tracker, tripper, ...), one at a time.
 *   3. through the scanner and parser alone with a token limit of 1 to 64
 *      bytes (fg_parse_limited), so that flex's buffer is refilled every few
 *      bytes and the "token too long" paths run: the paths a multi-gigabyte
 *      input takes, at fuzzing sizes. Every error must be located.
 * Whatever compiles is disassembled, instantiated as a breaker (every Custom()
 * name resolves) and driven through a few calls on a manual clock, so that the
 * runtime sees every program the compiler can produce. Diagnostics are
 * formatted. Crashes, leaks (LeakSanitizer), undefined behaviour and inputs
 * slower than the -timeout all count as failures.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "fg_arena.h"
#include "fg_diag.h"
#include "fg_parse.h"
#include "fluxgate.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int fuzz_custom(void *ud, const fg_outcome *outcome) {
    (void)ud;
    return outcome->has_status && outcome->status == 418;
}

static int fuzz_resolve(void *ud, const char *name, fg_custom *out) {
    (void)ud;
    (void)name;
    out->fn = fuzz_custom;
    out->ud = NULL;
    return 1;
}

/* Breakers get an allocator that refuses blocks over 64 MB: CountWindow(4e9)
 * is a valid policy whose breaker is a clean out-of-memory error (see
 * tests/test_limits.c), not something to spend the fuzzer's memory on. */
static void *fuzz_capped_alloc(void *ud, void *ptr, size_t osize, size_t nsize) {
    (void)ud;
    (void)osize;
    if (nsize == 0) {
        free(ptr);
        return NULL;
    }
    if (nsize > ((size_t)64 << 20)) return NULL;
    return realloc(ptr, nsize);
}

static double fuzz_clock(void *ud) {
    return *(const double *)ud;
}

/* Drives one breaker through calls that reach closed, open and half_open. */
static void fuzz_drive(fg_breaker *b, double *now) {
    static const fg_outcome outcomes[] = {
        {1, 0, 0, "timeout", 7, "read timed out", 14, NULL},
        {0, 1, 503, NULL, 0, NULL, 0, NULL},
        {0, 1, 200, NULL, 0, NULL, 0, NULL},
        {1, 1, 418, "teapot", 6, "short and stout", 15, NULL},
    };
    for (int i = 0; i < 64; i++) {
        fg_ticket t;
        *now += (i % 16 == 15) ? 400.0 : 0.25;
        if (fg_breaker_acquire(b, &t)) fg_breaker_release(b, &t, &outcomes[i % 4], (double)(i % 5));
    }
    fg_info info;
    fg_breaker_info(b, &info);
    fg_breaker_reset(b);
}

static void fuzz_policy(fg_policy *p) {
    char buf[4096];
    double now = 100.0;
    fg_breaker_options opt;
    memset(&opt, 0, sizeof opt);
    opt.clock = fuzz_clock;
    opt.clock_ud = &now;
    opt.has_seed = 1;
    opt.seed = 42;
    opt.resolve_custom = fuzz_resolve;
    opt.alloc.fn = fuzz_capped_alloc;
    size_t n = fg_policy_breaker_count(p);
    for (size_t i = 0; i < n && i < 8; i++) {
        fg_policy_disassemble(p, i, buf, sizeof buf);
        char err[128];
        fg_breaker *b = fg_breaker_new(p, i, &opt, err, sizeof err);
        if (b == NULL) continue;
        fuzz_drive(b, &now);
        fg_breaker_free(b);
    }
}

static void fuzz_report(fg_report *report) {
    char buf[512];
    if (report == NULL) return;
    fg_report_format(report, buf, sizeof buf);
    size_t n = fg_report_count(report);
    for (size_t i = 0; i < n; i++) fg_diagnostic_format(fg_report_get(report, i), 1, buf, sizeof buf);
    fg_report_free(report);
}

/* The scanner fed in pieces of a few bytes, with a token limit to match. */
static void fuzz_small_tokens(const uint8_t *data, size_t size) {
    if (size == 0) return;
    size_t limit = 1 + data[0] % 64;
    fg_arena *arena = fg_arena_new(NULL);
    fg_report *report = fg_report_new(NULL);
    if (arena == NULL || report == NULL) abort();
    fg_diag_sink sink;
    fg_diag_begin(&sink, report, "fuzz.fgp", (const char *)data + 1, size - 1);
    fg_syn_unit *unit = NULL;
    if (fg_parse_limited(arena, &sink, NULL, (const char *)data + 1, size - 1, FG_PARSE_POLICY, limit,
                         &unit) != 0)
        abort(); /* the default allocator does not fail here */
    for (size_t i = 0; i < fg_report_count(report); i++)
        if (fg_report_get(report, i)->line < 1) abort();
    fg_report_free(report);
    fg_arena_free(arena);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    fuzz_small_tokens(data, size);
    fg_report *report = NULL;
    fg_policy *p = fg_policy_compile((const char *)data, size, "fuzz.fgp", NULL, &report);
    fuzz_report(report);
    if (p != NULL) {
        fuzz_policy(p);
        fg_policy_free(p);
    }

    /* The expression API takes C strings: a NUL-terminated copy. */
    char *text = malloc(size + 1);
    if (text == NULL) return 0;
    memcpy(text, data, size);
    text[size] = '\0';
    for (int field = 0; field < 7; field++) {
        fg_expressions e;
        memset(&e, 0, sizeof e);
        const char **slots[7] = {&e.window, &e.tracker, &e.tripper, &e.retry,
                                 &e.permit, &e.max_half_open_calls, &e.half_open_lease};
        *slots[field] = text;
        report = NULL;
        p = fg_policy_from_expressions("fuzz", &e, NULL, &report);
        fuzz_report(report);
        if (p != NULL) {
            fuzz_policy(p);
            fg_policy_free(p);
        }
    }
    free(text);
    return 0;
}
