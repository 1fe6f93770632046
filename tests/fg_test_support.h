/*
 * fg_test_support.h -- deterministic stand-ins for the tests: a manual clock,
 * a scripted random source and a counting allocator (which can also be told
 * to fail the n-th allocation), and policies that must compile (the report
 * printed when one does not). Header-only; every helper is static inline
 * so that a test that does not use one does not warn.
 *
 * Include after <cmocka.h> (the helpers use cmocka's assertions).
 */
#ifndef FG_TEST_SUPPORT_H
#define FG_TEST_SUPPORT_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fg_random.h"
#include "fluxgate.h"

/* ---- manual clock ------------------------------------------------------ */

typedef struct fg_test_clock {
    double now;
    unsigned reads;
} fg_test_clock;

static inline double fg_test_clock_read(void *ud) {
    fg_test_clock *c = ud;
    c->reads++;
    return c->now;
}

static inline void fg_test_clock_advance(fg_test_clock *c, double seconds) {
    c->now += seconds;
}

/* ---- scripted random --------------------------------------------------- */

/* Hands out values[0], values[1], ... in order; drawing past the end is a
 * test failure (a decision drew more numbers than the spec allows). */
typedef struct fg_test_random {
    const double *values;
    size_t count;
    size_t next;
} fg_test_random;

static inline double fg_test_random_draw(void *ud) {
    fg_test_random *r = ud;
    assert_true(r->next < r->count);
    return r->values[r->next++];
}

static inline void fg_test_random_script(fg_test_random *r, const double *values, size_t count) {
    r->values = values;
    r->count = count;
    r->next = 0;
}

/* An fg_random that draws from r, scripted with values[0..count). */
static inline fg_random fg_test_random_scripted(fg_test_random *r, const double *values,
                                                size_t count) {
    fg_test_random_script(r, values, count);
    fg_random out;
    fg_random_init(&out, fg_test_random_draw, r, 0);
    return out;
}

/* ---- seeded random bits ------------------------------------------------- */

/* xorshift64*: the next 32 bits of the sequence whose state is *s (seeded
 * non-zero). For the thread tests: each worker its own, reproducible. */
static inline uint32_t fg_test_next_random(uint64_t *s) {
    uint64_t x = *s;
    x ^= x >> 12;
    x ^= x << 25;
    x ^= x >> 27;
    *s = x;
    return (uint32_t)((x * UINT64_C(2685821657736338717)) >> 32);
}

/* ---- counting allocator ------------------------------------------------ */

/* Counts live blocks and bytes and checks the lua_Alloc contract of
 * fluxgate.h: each block carries its size in a header, and a free or growth
 * that passes another osize counts in wrong_osize (live_bytes follows the
 * osize passed, so a wrong one shows there too). fail_at = n makes the n-th
 * allocation (1-based, counting only new blocks and growths, failed ones
 * included) fail and leaves ptr valid; 0 never fails. */
typedef struct fg_test_alloc {
    long live_blocks;
    long live_bytes;
    long allocations;
    long fail_at;
    long failures;    /* failures injected */
    long wrong_osize; /* frees or growths that passed a wrong osize */
} fg_test_alloc;

typedef union fg_test_alloc_header {
    size_t size;
    max_align_t align;
} fg_test_alloc_header;

static inline void *fg_test_alloc_fn(void *ud, void *ptr, size_t osize, size_t nsize) {
    fg_test_alloc *a = ud;
    fg_test_alloc_header *h = ptr != NULL ? (fg_test_alloc_header *)ptr - 1 : NULL;
    if (h != NULL && h->size != osize) a->wrong_osize++;
    if (nsize == 0) {
        if (h != NULL) {
            a->live_blocks--;
            a->live_bytes -= (long)osize;
            free(h);
        }
        return NULL;
    }
    a->allocations++;
    if (a->fail_at > 0 && a->allocations == a->fail_at) {
        a->failures++;
        return NULL; /* ptr, if any, stays valid: lua_Alloc semantics */
    }
    fg_test_alloc_header *n = realloc(h, sizeof *n + nsize);
    if (n == NULL) return NULL;
    if (h == NULL) a->live_blocks++;
    a->live_bytes += (long)nsize - (h != NULL ? (long)osize : 0);
    n->size = nsize;
    return n + 1;
}

/* Everything a handed out was given back, each block with its own size. */
static inline void fg_test_assert_nothing_live(const fg_test_alloc *a) {
    assert_int_equal(a->live_blocks, 0);
    assert_int_equal(a->live_bytes, 0);
    assert_int_equal(a->wrong_osize, 0);
}

static inline fg_allocator fg_test_allocator(fg_test_alloc *a) {
    fg_allocator out = {fg_test_alloc_fn, a};
    return out;
}

/* ---- breaker options ---------------------------------------------------- */

/* Options with the manual clock and, when r is not NULL, the scripted random. */
static inline fg_breaker_options fg_test_options(fg_test_clock *c, fg_test_random *r) {
    fg_breaker_options o = {0};
    o.clock = fg_test_clock_read;
    o.clock_ud = c;
    if (r != NULL) {
        o.random = fg_test_random_draw;
        o.random_ud = r;
    }
    return o;
}

/* ---- policies that must compile ----------------------------------------- */

/* Frees the report of a compile, first printing it when the compile failed:
 * the test then fails on the NULL policy, and stderr says why. */
static inline void fg_test_report_done(const fg_policy *p, fg_report *report) {
    if (p == NULL && report != NULL) {
        char buf[1024];
        fg_report_format(report, buf, sizeof buf);
        fprintf(stderr, "%s", buf);
    }
    fg_report_free(report);
}

/* text[0..len) compiled as chunk, or a failed test. */
static inline fg_policy *fg_test_policy_n(const char *text, size_t len, const char *chunk) {
    fg_report *report = NULL;
    fg_policy *p = fg_policy_compile(text, len, chunk, NULL, &report);
    fg_test_report_done(p, report);
    assert_non_null(p);
    return p;
}

static inline fg_policy *fg_test_policy(const char *text, const char *chunk) {
    return fg_test_policy_n(text, strlen(text), chunk);
}

/* One breaker called name, from expressions, or a failed test. */
static inline fg_policy *fg_test_policy_expr(const char *name, fg_expressions e) {
    fg_report *report = NULL;
    fg_policy *p = fg_policy_from_expressions(name, &e, NULL, &report);
    fg_test_report_done(p, report);
    assert_non_null(p);
    return p;
}

#endif /* FG_TEST_SUPPORT_H */
