/*
 * test_block.c -- the flat state block (SPEC section 10): footprints,
 * placement into caller memory, attaching to a block that holds a breaker
 * (and refusing one of another definition), the clock choice and when the
 * default clocks are read, clock rebasing (SPEC section 5, "Clock"), and
 * the exact retry_after round trip.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "fg_block.h"
#include "fg_breaker_internal.h"
#include "fg_breaker_fixture.h"
#include "fg_payment_policy.h"

static fg_policy *compile_expr(fg_expressions e) {
    return fg_test_policy_expr("t", e);
}

/* ---- footprints and placement --------------------------------------------- */

static void footprints_depend_on_the_definition_only(void **state) {
    (void)state;
    fg_policy *small = compile_expr((fg_expressions){.window = "CountWindow(10)", .tripper = "FailureStreak(3)"});
    fg_policy *big = compile_expr((fg_expressions){.window = "CountWindow(1000)", .tripper = "FailureStreak(3)"});
    size_t s = fg_breaker_footprint(small, 0), b = fg_breaker_footprint(big, 0);
    assert_true(s > 0 && b > s);
    assert_int_equal(s % FG_BLOCK_ALIGN, 0);
    /* a CountWindow record without AvgLatency is one 32-bit word */
    assert_int_equal(b - s, 990 * 4);
    assert_int_equal(fg_breaker_footprint(small, 1), 0);
    assert_int_equal(fg_breaker_handle_footprint(small, 1), 0);
    assert_true(fg_breaker_handle_footprint(small, 0) > 0);
    fg_policy_free(small);
    fg_policy_free(big);
}

/* The window's running totals are 24 bytes for every kind; the rest is in
 * the variable part, only for the windows that need it (issue 9): a
 * TimeWindow's 64-bit counts (16 bytes), the exact duration sum (24) of a
 * window that keeps exact durations (a TimeWindow, or a CountWindow whose
 * tripper reads AvgLatency). */
static void only_exact_windows_have_an_exact_sum(void **state) {
    (void)state;
    assert_int_equal(sizeof(fg_window_state), 24);
    static const fg_expressions defs[4] = {
        {.window = "CountWindow(10)", .tripper = "FailureStreak(3)"},
        {.window = "CountWindow(10)", .tripper = "FailureStreak(3) | AvgLatency(1s)"},
        {.window = "TimeWindow(10)", .tripper = "FailureStreak(3)"},
        {.window = "CountWindow(10)", .tripper = "MinRequests(3) & SlowRate(50%, threshold = 1s)"}};
    static const int exact[4] = {0, 1, 1, 0};
    static const uint32_t extra[4] = {0, 24, 40, 0};
    for (int i = 0; i < 4; i++) {
        fg_policy *p = compile_expr(defs[i]);
        fg_block_layout l;
        assert_int_equal(fg_block_layout_of(&p->breakers[0], 1, &l), 0);
        assert_int_equal(l.exact_durations, exact[i]);
        assert_int_equal(fg_window_extra_bytes((fg_window_kind)l.window_kind, l.exact_durations), extra[i]);
        if (extra[i] == 0) {
            assert_int_equal(l.extra_off, 0);
        } else {
            /* after the slow counts, 8-aligned, before the entries */
            assert_true(l.extra_off >= l.slow_off + 8u * l.threshold_count);
            assert_int_equal(l.extra_off % 8, 0);
            assert_int_equal(l.window_off, l.extra_off + extra[i]);
        }
        fg_policy_free(p);
    }
    /* the same CountWindow costs 8 bytes per record with AvgLatency, and
     * the sum once */
    fg_policy *a = compile_expr(defs[0]), *b = compile_expr(defs[1]);
    assert_int_equal(fg_breaker_footprint(b, 0) - fg_breaker_footprint(a, 0), 10 * 4 + sizeof(fg_exact_sum));
    fg_policy_free(a);
    fg_policy_free(b);
}

/* The retry's jitter factor is kept only by definitions whose retry has
 * jitter (8 bytes after the fixed part); the others read 1 and never
 * store one. A reload between the two kinds carries the factor where both
 * keep one, else the new definition's range takes it (1 without jitter). */
static void only_a_jittered_retry_keeps_a_factor(void **state) {
    (void)state;
    static const struct { const char *retry; int keeps; } retries[] = {
        {"Cooldown(10)", 0}, {"Always()", 0}, {"Never()", 0}, {"Backoff(1)", 0},
        {"Cooldown(10, jitter_ratio = 0.5)", 1}, {"Backoff(1, jitter_ratio = 0.1)", 1}};
    fg_policy *plain = compile_expr((fg_expressions){.tripper = "FailureStreak(1)", .retry = "Cooldown(10)"});
    size_t base = fg_breaker_footprint(plain, 0);
    for (size_t k = 0; k < sizeof retries / sizeof retries[0]; k++) {
        fg_policy *p = compile_expr((fg_expressions){.tripper = "FailureStreak(1)", .retry = retries[k].retry});
        assert_int_equal(fg_breaker_footprint(p, 0) - base, retries[k].keeps ? 8 : 0);
        fg_policy_free(p);
    }
    /* the drawn factor is kept: retry_after is 10 s times it, in [5, 15] */
    fg_policy *jittered = compile_expr((fg_expressions){.tripper = "FailureStreak(1)",
                                                        .retry = "Cooldown(10, jitter_ratio = 0.5)"});
    fixture f;
    memset(&f, 0, sizeof f);
    fg_breaker_options o = fg_test_options(&f.clock, NULL);
    o.has_seed = 1;
    o.seed = 42;
    f.clock.now = 100.0;
    f.b = fg_breaker_new(jittered, 0, &o, NULL, 0);
    assert_non_null(f.b);
    fg_ticket t;
    assert_true(fg_breaker_acquire(f.b, &t));
    fg_breaker_record(f.b, &t, FG_OUTCOME_FAILURE, 0.0);
    assert_false(fg_breaker_acquire(f.b, &t));
    double wait = t.retry_after;
    assert_true(wait >= 5.0 && wait <= 15.0 && wait != 10.0);
    fg_test_clock_advance(&f.clock, 1.0);
    assert_false(fg_breaker_acquire(f.b, &t));
    assert_true(fabs(t.retry_after - (wait - 1.0)) < 1e-9);
    /* to a definition without jitter: the factor is 1, the wait 10 s from the opening */
    char err[256];
    assert_int_equal(fg_breaker_reload(f.b, plain, 0, err, sizeof err), 0);
    assert_false(fg_breaker_acquire(f.b, &t));
    assert_true(fabs(t.retry_after - 9.0) < 1e-9);
    /* and back: the range [5, 15] holds 1, so the wait stays 10 s */
    assert_int_equal(fg_breaker_reload(f.b, jittered, 0, err, sizeof err), 0);
    assert_false(fg_breaker_acquire(f.b, &t));
    assert_true(fabs(t.retry_after - 9.0) < 1e-9);
    fg_breaker_free(f.b);
    fg_policy_free(jittered);
    fg_policy_free(plain);
}

/* Issue 9's budget for the state block of payment_api (CountWindow(100),
 * one SlowRate threshold, 10 half-open slots): 1,024 bytes. The parts: a
 * fixed part (the 64-byte separations filled with cold fields), 8 bytes of
 * slow counts, 4 bytes per record, 16 bytes per half-open slot. */
static void the_payment_block_fits_its_budget(void **state) {
    (void)state;
    fg_report *report = NULL;
    fg_policy *pay = fg_policy_compile(fg_payment_policy, sizeof fg_payment_policy - 1, "pay", NULL, &report);
    fg_report_free(report);
    assert_non_null(pay);
    long index = fg_policy_find_breaker(pay, "payment_api");
    assert_true(index >= 0);
    size_t size = fg_breaker_footprint(pay, (size_t)index);
    assert_true(size <= 1024);
    /* each half-open slot: a 32-bit lease tick, two links (8-bit up to 256
     * slots, 16-bit beyond) and a reissue count; the arrays padded to 8 */
    static const struct { const char *calls; uint64_t bytes; } slots[] = {
        {"1", 8}, {"9", 64}, {"10", 72}, {"256", 256 * 7}, {"257", 257 * 9 + 7}, {"65536", 65536 * 9}};
    fg_policy *one = compile_expr((fg_expressions){.window = "CountWindow(10)", .max_half_open_calls = "1"});
    for (size_t k = 1; k < sizeof slots / sizeof slots[0]; k++) {
        fg_policy *p = compile_expr((fg_expressions){.window = "CountWindow(10)", .max_half_open_calls = slots[k].calls});
        assert_int_equal(fg_breaker_footprint(p, 0) - fg_breaker_footprint(one, 0), slots[k].bytes - slots[0].bytes);
        fg_policy_free(p);
    }
    fg_policy_free(one);
    fg_policy_free(pay);
}

static void a_placed_breaker_lives_in_caller_memory(void **state) {
    (void)state;
    fg_policy *p = compile_expr((fg_expressions){.window = "CountWindow(4)", .tripper = "FailureStreak(2)"});
    size_t bs = fg_breaker_footprint(p, 0), hs = fg_breaker_handle_footprint(p, 0);
    uint64_t *block = malloc(bs + 64), *handle = malloc(hs);
    assert_non_null(block);
    assert_non_null(handle);
    memset(block, 0xEE, bs + 64);
    fg_test_alloc counting = {0};
    fg_breaker_options o = {0};
    o.alloc = fg_test_allocator(&counting);
    char err[200];
    fg_breaker *b = fg_breaker_place(p, 0, &o, handle, block, bs, 0, err, sizeof err);
    assert_non_null(b);
    assert_int_equal(counting.allocations, 0); /* nothing through the allocator */
    fg_ticket t;
    for (int i = 0; i < 2; i++) {
        assert_true(fg_breaker_acquire(b, &t));
        fg_breaker_record(b, &t, FG_OUTCOME_FAILURE, 0.0);
    }
    assert_int_equal(fg_breaker_state(b), FG_STATE_OPEN);
    for (size_t i = bs; i < bs + 64; i++) assert_int_equal(((unsigned char *)block)[i], 0xEE);
    fg_breaker_free(b);
    assert_int_equal(counting.live_blocks, 0);
    fg_policy_free(p);
    free(block);
    free(handle);
}

static void placement_refuses_small_or_misaligned_memory(void **state) {
    (void)state;
    fg_policy *p = compile_expr((fg_expressions){.window = "CountWindow(4)"});
    size_t bs = fg_breaker_footprint(p, 0);
    uint64_t *block = calloc(1, bs + 16);
    char err[200];
    assert_null(fg_breaker_place(p, 0, NULL, NULL, block, bs - 8, 0, err, sizeof err));
    assert_non_null(strstr(err, "bytes"));
    assert_null(fg_breaker_place(p, 0, NULL, NULL, (char *)block + 4, bs, 0, err, sizeof err));
    assert_null(fg_breaker_place(p, 0, NULL, NULL, block, bs, 1, err, sizeof err)); /* zeroes: no breaker */
    assert_non_null(strstr(err, "does not hold"));
    free(block);
    fg_policy_free(p);
}

/* Two handles on one block are one breaker: what one records, the other
 * sees (the way two processes share a block in shared memory). */
static void two_handles_on_one_block_share_one_breaker(void **state) {
    (void)state;
    fg_policy *p = compile_expr((fg_expressions){.window = "CountWindow(10)", .tripper = "FailureStreak(3)"});
    size_t bs = fg_breaker_footprint(p, 0);
    void *block = calloc(1, bs);
    char err[200];
    fg_breaker *a = fg_breaker_place(p, 0, NULL, NULL, block, bs, 0, err, sizeof err);
    fg_breaker *b = fg_breaker_place(p, 0, NULL, NULL, block, bs, 1, err, sizeof err);
    assert_non_null(a);
    assert_non_null(b);
    fg_ticket t;
    assert_true(fg_breaker_acquire(a, &t));
    fg_breaker_record(a, &t, FG_OUTCOME_FAILURE, 0.0);
    assert_true(fg_breaker_acquire(b, &t));
    fg_breaker_record(b, &t, FG_OUTCOME_FAILURE, 0.0);
    assert_true(fg_breaker_acquire(a, &t));
    fg_breaker_record(a, &t, FG_OUTCOME_FAILURE, 0.0);
    assert_int_equal(fg_breaker_state(b), FG_STATE_OPEN);
    fg_info i;
    fg_breaker_info(b, &i);
    assert_int_equal(i.counters.admitted, 3);
    assert_int_equal(i.counters.failure, 3);
    assert_int_equal(i.transitions, 1);
    fg_breaker_free(b);
    fg_breaker_free(a);
    free(block);
    fg_policy_free(p);
}

static double monotonic_now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

/* Handles on one block may read different default clocks (forced, or
 * processes configured differently). CLOCK_MONOTONIC_COARSE lags
 * CLOCK_MONOTONIC by up to a tick; that lag is no jump back. Rebased on
 * each alternation, the breaker's time gained the lag every time: 20000
 * alternations made it run tens of seconds ahead of the clocks. */
static void handles_reading_coarse_and_precise_clocks_keep_time(void **state) {
    (void)state;
    fg_policy *p = compile_expr((fg_expressions){.window = "CountWindow(10)", .tripper = "FailureStreak(3)"});
    size_t bs = fg_breaker_footprint(p, 0);
    void *block = calloc(1, bs);
    fg_breaker_options po = {0}, co = {0};
    po.clock_kind = FG_CLOCK_PRECISE;
    co.clock_kind = FG_CLOCK_COARSE;
    fg_breaker *precise = fg_breaker_place(p, 0, &po, NULL, block, bs, 0, NULL, 0);
    fg_breaker *coarse = fg_breaker_place(p, 0, &co, NULL, block, bs, 1, NULL, 0);
    assert_non_null(precise);
    assert_non_null(coarse);
    double real0 = monotonic_now(), time0 = fg_breaker_now(precise);
    for (int i = 0; i < 20000; i++) {
        (void)fg_breaker_now(precise);
        (void)fg_breaker_now(coarse);
    }
    double time1 = fg_breaker_now(precise), real1 = monotonic_now();
    assert_true(time1 - time0 <= real1 - real0 + 1e-6);
    assert_true(time1 - time0 >= 0.0);
    fg_breaker_free(coarse);
    fg_breaker_free(precise);
    free(block);
    fg_policy_free(p);
}

/* A block attached with clock words that are no times (a zone file
 * someone else wrote, a damaged file): they restart as if the block had
 * had no reading yet. A NaN offset made every later time NaN: the breaker
 * stayed open for good, answering "retry_after 0" to every call. */
static void attaching_mends_clock_words_that_are_no_times(void **state) {
    (void)state;
    static const double bad[] = {NAN, INFINITY, -INFINITY, 1e300};
    for (size_t k = 0; k < 3 * sizeof bad / sizeof bad[0]; k++) {
        fixture f;
        memset(&f, 0, sizeof f);
        f.clock.now = 1000.0;
        fg_policy *p = compile_expr((fg_expressions){.tripper = "FailureStreak(1)", .retry = "Cooldown(60)",
                                                     .permit = "All()"});
        size_t bs = fg_breaker_footprint(p, 0);
        fg_block *block = calloc(1, bs);
        fg_breaker_options o = fg_test_options(&f.clock, NULL);
        fg_breaker *a = fg_breaker_place(p, 0, &o, NULL, block, bs, 0, NULL, 0);
        assert_non_null(a);
        fg_ticket t;
        assert_true(fg_breaker_acquire(a, &t));
        fg_breaker_record(a, &t, FG_OUTCOME_FAILURE, 0.0); /* opens at 1000 */
        fg_breaker_free(a);
        double v = bad[k / 3];
        if (k % 3 == 0) {
            uint64_t bits;
            memcpy(&bits, &v, sizeof bits);
            atomic_store(&block->offset_bits, bits);
        } else if (k % 3 == 1) {
            block->last_time = v;
        } else {
            block->changed_at = v;
        }
        fg_breaker *b = fg_breaker_place(p, 0, &o, NULL, block, bs, 1, NULL, 0);
        assert_non_null(b);
        f.clock.now = 1100.0;
        assert_true(fg_breaker_acquire(b, &t)); /* the cooldown is over: a probe */
        assert_int_equal(t.state, FG_STATE_HALF_OPEN);
        assert_true(isfinite(fg_breaker_now(b)));
        fg_breaker_free(b);
        free(block);
        fg_policy_free(p);
    }
}

/* The window's ring position and counts and the half-open bookkeeping and
 * links of an attached block (another process's memory, a file) were
 * trusted: a ring position past the window wrote past the block, a link
 * past the slots walked out of the arrays, a NaN base time kept leases
 * from ever expiring. Attaching now resets what is not well-formed (as
 * after a killed owner); what is, it keeps. (Under ASan, the writes and
 * walks out of bounds fail this test without the repair.) */
static void attaching_resets_a_damaged_window_or_half_open_list(void **state) {
    (void)state;
    enum { HEAD, TOTAL, LINK, HELD, OLDEST, BASE, NONE, CASES };
    for (int k = 0; k < CASES; k++) {
        fixture f;
        memset(&f, 0, sizeof f);
        f.clock.now = 1000.0;
        fg_policy *p = compile_expr((fg_expressions){.window = "CountWindow(10)", .tripper = "FailureStreak(3)",
                                                     .retry = "Cooldown(10)", .permit = "All()",
                                                     .max_half_open_calls = "4", .half_open_lease = "5s"});
        size_t bs = fg_breaker_footprint(p, 0);
        fg_block *block = calloc(1, bs);
        fg_breaker_options o = fg_test_options(&f.clock, NULL);
        fg_breaker *a = fg_breaker_place(p, 0, &o, NULL, block, bs, 0, NULL, 0);
        assert_non_null(a);
        fg_ticket t, probes[2];
        for (int i = 0; i < 3; i++) {
            assert_true(fg_breaker_acquire(a, &t));
            fg_breaker_record(a, &t, FG_OUTCOME_FAILURE, 0.0);
        }
        f.clock.now = 1020.0;
        for (int i = 0; i < 2; i++) assert_true(fg_breaker_acquire(a, &probes[i])); /* two leases held */
        fg_half_open ho = fg_breaker_half_open(a);
        switch (k) {
        case HEAD: a->window.st->head = 1000; break;
        case TOTAL: a->window.st->total_count = 11; break;
        case LINK: fg_half_open_set_next(&ho, 0, 200); break;
        case HELD: block->half_open.in_flight = 9; break;
        case OLDEST: block->half_open.oldest = 3; break;
        case BASE: block->half_open.base = NAN; break;
        default: break;
        }
        fg_breaker_free(a);
        fg_breaker *b = fg_breaker_place(p, 0, &o, NULL, block, bs, 1, NULL, 0);
        assert_non_null(b);
        fg_info info;
        fg_breaker_info(b, &info);
        if (k == NONE) {
            assert_int_equal(info.half_open_in_flight, 2); /* kept: well-formed */
        } else if (k >= LINK) {
            assert_int_equal(info.half_open_in_flight, 0); /* reset: the probes' outcomes are stale */
            assert_int_equal(fg_breaker_record(b, &probes[0], FG_OUTCOME_SUCCESS, 0.0), FG_VERDICT_STALE_SUCCESS);
        }
        if (k <= TOTAL) assert_int_equal(info.metric.total_count, 0); /* the window starts again */
        /* and it works: leases taken, given back, expiring */
        for (int i = 0; i < 3; i++) {
            f.clock.now += 6.0;
            fg_ticket probe;
            if (fg_breaker_acquire(b, &probe)) fg_breaker_record(b, &probe, FG_OUTCOME_SUCCESS, 0.0);
        }
        for (int i = 0; i < 30; i++) {
            fg_ticket c;
            if (fg_breaker_acquire(b, &c)) fg_breaker_record(b, &c, i % 4 ? FG_OUTCOME_SUCCESS : FG_OUTCOME_FAILURE, 0.0);
        }
        fg_breaker_info(b, &info);
        assert_true(info.metric.total_count <= 10);
        fg_breaker_free(b);
        free(block);
        fg_policy_free(p);
    }
}

static void attaching_refuses_another_definition(void **state) {
    (void)state;
    fg_policy *p = compile_expr((fg_expressions){.window = "CountWindow(10)", .tripper = "FailureStreak(3)"});
    fg_policy *q = compile_expr((fg_expressions){.window = "CountWindow(10)", .tripper = "FailureStreak(4)"});
    fg_policy *same = compile_expr((fg_expressions){.window = "CountWindow(10)", .tripper = "FailureStreak(3)"});
    size_t bs = fg_breaker_footprint(p, 0);
    assert_int_equal(fg_breaker_footprint(q, 0), bs); /* same size, other behaviour */
    void *block = calloc(1, bs);
    char err[200];
    fg_breaker *a = fg_breaker_place(p, 0, NULL, NULL, block, bs, 0, err, sizeof err);
    assert_non_null(a);
    assert_null(fg_breaker_place(q, 0, NULL, NULL, block, bs, 1, err, sizeof err));
    assert_non_null(strstr(err, "another definition"));
    /* an equal definition compiled separately has the same fingerprint */
    fg_breaker *b = fg_breaker_place(same, 0, NULL, NULL, block, bs, 1, err, sizeof err);
    assert_non_null(b);
    fg_breaker_free(b);
    fg_breaker_free(a);
    free(block);
    fg_policy_free(p);
    fg_policy_free(q);
    fg_policy_free(same);
}

/* ---- clocks ---------------------------------------------------------------- */

static double coarse_resolution(void) {
    struct timespec r;
    if (clock_getres(CLOCK_MONOTONIC_COARSE, &r) != 0) return INFINITY;
    return (double)r.tv_sec + (double)r.tv_nsec * 1e-9;
}

static fg_clock_kind kind_of(fg_policy *p, fg_clock_kind requested) {
    fg_breaker_options o = {0};
    o.clock_kind = requested;
    fg_breaker *b = fg_breaker_new(p, 0, &o, NULL, 0);
    assert_non_null(b);
    fg_info i;
    fg_breaker_info(b, &i);
    fg_breaker_free(b);
    return i.clock_kind;
}

static void the_clock_is_the_cheapest_one_exact_enough(void **state) {
    (void)state;
    double res = coarse_resolution();
    fg_report *report = NULL;
    fg_policy *pay = fg_policy_compile(fg_payment_policy, sizeof fg_payment_policy - 1, "pay", NULL, &report);
    fg_report_free(report);
    assert_non_null(pay);
    /* payment_api: the smallest duration is the 2 s slow threshold */
    assert_int_equal(kind_of(pay, FG_CLOCK_AUTO), res <= 0.02 ? FG_CLOCK_COARSE : FG_CLOCK_PRECISE);
    assert_int_equal(kind_of(pay, FG_CLOCK_PRECISE), FG_CLOCK_PRECISE);
    assert_int_equal(kind_of(pay, FG_CLOCK_COARSE), FG_CLOCK_COARSE);
    fg_policy_free(pay);
    /* a 10 ms cooldown is not served by a clock of a few milliseconds */
    fg_policy *fast = compile_expr((fg_expressions){.retry = "Cooldown(10ms)"});
    assert_int_equal(kind_of(fast, FG_CLOCK_AUTO), res <= 0.0001 ? FG_CLOCK_COARSE : FG_CLOCK_PRECISE);
    fg_policy_free(fast);
    /* a jittered wait can be as short as d * (1 - j): Cooldown(1s, jitter 0.99)
     * waits 10 ms at least, which a clock of a few milliseconds does not serve */
    fg_policy *jittered = compile_expr((fg_expressions){.retry = "Cooldown(1, jitter_ratio = 0.99)"});
    assert_int_equal(kind_of(jittered, FG_CLOCK_AUTO), res <= 0.0001 ? FG_CLOCK_COARSE : FG_CLOCK_PRECISE);
    fg_policy_free(jittered);
    fg_policy *backoff = compile_expr((fg_expressions){.retry = "Backoff(2, jitter_ratio = 0.9)"});
    assert_int_equal(kind_of(backoff, FG_CLOCK_AUTO), res <= 0.002 ? FG_CLOCK_COARSE : FG_CLOCK_PRECISE);
    fg_policy_free(backoff);
    fg_policy *lat = compile_expr((fg_expressions){.tripper = "AvgLatency(50ms)"});
    assert_int_equal(kind_of(lat, FG_CLOCK_AUTO), res <= 0.0005 ? FG_CLOCK_COARSE : FG_CLOCK_PRECISE);
    fg_policy_free(lat);
    fg_policy *lease = compile_expr((fg_expressions){.half_open_lease = "100ms"});
    assert_int_equal(kind_of(lease, FG_CLOCK_AUTO), res <= 0.001 ? FG_CLOCK_COARSE : FG_CLOCK_PRECISE);
    fg_policy_free(lease);
    /* a custom clock is CUSTOM, whatever was asked */
    fixture f;
    make(&f, (fg_expressions){.window = "CountWindow(3)"}, NULL, 0);
    assert_int_equal(info_of(&f).clock_kind, FG_CLOCK_CUSTOM);
    done(&f);
}

static void sleep_ms(long ms) {
    struct timespec ts = {0, ms * 1000000L};
    nanosleep(&ts, NULL);
}

/* Closed, a CountWindow and no duration rule: no clock is read -- the
 * ticket carries no start time and an unmeasured duration counts 0. */
static void a_breaker_without_duration_rules_reads_no_clock(void **state) {
    (void)state;
    fg_policy *p = compile_expr((fg_expressions){.window = "CountWindow(10)", .tripper = "FailureStreak(3)"});
    fg_breaker *b = fg_breaker_new(p, 0, NULL, NULL, 0);
    fg_ticket t;
    assert_true(fg_breaker_acquire(b, &t));
    assert_true(t.started_at == 0.0);
    sleep_ms(20);
    assert_int_equal(fg_breaker_record(b, &t, FG_OUTCOME_SUCCESS, -1), FG_VERDICT_SUCCESS);
    assert_true(fg_breaker_acquire(b, &t));
    assert_int_equal(fg_breaker_record(b, &t, FG_OUTCOME_SUCCESS, 0.25),
                     FG_VERDICT_SUCCESS); /* given: kept */
    fg_info i;
    fg_breaker_info(b, &i);
    assert_true(i.metric.total_duration == 0.25);
    fg_breaker_free(b);
    fg_policy_free(p);
    /* with a duration rule, the default clock measures */
    fg_policy *q = compile_expr((fg_expressions){.window = "CountWindow(10)",
                                                 .tripper = "MinRequests(5) & SlowRate(0.5, threshold = 1ms)"});
    b = fg_breaker_new(q, 0, NULL, NULL, 0);
    assert_true(fg_breaker_acquire(b, &t));
    assert_true(t.started_at > 0.0);
    sleep_ms(20);
    fg_breaker_record(b, &t, FG_OUTCOME_SUCCESS, -1);
    fg_breaker_info(b, &i);
    assert_true(i.metric.total_duration >= 0.015);
    assert_int_equal(i.metric.slow_counts[0], 1);
    fg_breaker_free(b);
    fg_policy_free(q);
}

/* A jump back rebases: time stands still across it, and the remaining
 * cooldown is kept. */
static void a_clock_that_jumps_back_keeps_the_remaining_cooldown(void **state) {
    (void)state;
    fixture f;
    make(&f, (fg_expressions){.tripper = "FailureStreak(1)", .retry = "Cooldown(60)", .permit = "All()"}, NULL, 0);
    fail_n(&f, 1); /* opens at 1000 */
    fg_test_clock_advance(&f.clock, 30);
    assert_float_equal(rejection(&f).retry_after, 30.0, 1e-9);
    f.clock.now = 5.0; /* back to 5: the breaker's time stays at 1030 */
    assert_float_equal(fg_breaker_now(f.b), 1030.0, 0);
    fg_test_clock_advance(&f.clock, 29.0);
    assert_float_equal(rejection(&f).retry_after, 1.0, 1e-9);
    fg_test_clock_advance(&f.clock, 1.0);
    fg_ticket t;
    assert_true(fg_breaker_acquire(f.b, &t)); /* 30 s after the jump: the probe */
    assert_int_equal(t.state, FG_STATE_HALF_OPEN);
    assert_float_equal(t.started_at, 1060.0, 1e-9);
    done(&f);
}

/* A breaker's time starts at its first reading, not at the reading taken
 * when it was made: made at 1000 and first read at 5, it runs on 5, 5.01,
 * ... with no offset (which would round every later time at 1000's
 * magnitude), counts as made at 5, and a cooldown ends exactly when
 * now - changed_at >= d in the caller's doubles (SPEC 5: elapsed >= d).
 * Later readings rebase as usual. */
static void a_breakers_time_starts_at_its_first_reading(void **state) {
    (void)state;
    fixture f;
    make(&f, (fg_expressions){.tripper = "FailureStreak(1)", .retry = "Cooldown(0.3)", .permit = "All()"}, NULL, 0);
    f.clock.now = 5.0;
    assert_float_equal(fg_breaker_now(f.b), 5.0, 0);
    assert_float_equal(info_of(&f).changed_at, 5.0, 0);
    for (int i = 0; i < 7; i++) fg_test_clock_advance(&f.clock, 0.01);
    double opened = f.clock.now;
    fail_n(&f, 1);
    assert_true(info_of(&f).changed_at == opened);
    double end = opened + 0.3; /* the first time whose elapsed reaches 0.3 */
    while (!(end - opened >= 0.3)) end = nextafter(end, INFINITY);
    while (nextafter(end, 0.0) - opened >= 0.3) end = nextafter(end, 0.0);
    f.clock.now = nextafter(end, 0.0);
    assert_int_equal(call(&f, 0, 0), -1);
    f.clock.now = end;
    assert_int_equal(call(&f, 0, 0), FG_VERDICT_SUCCESS);
    f.clock.now = 4.0; /* a jump back now rebases: time stands still */
    assert_true(fg_breaker_now(f.b) == end);
    done(&f);
}

/* Window ages and leases survive a jump back too. */
static void a_jump_back_keeps_window_ages_and_leases(void **state) {
    (void)state;
    fixture f;
    make(&f, (fg_expressions){.window = "TimeWindow(10)", .tripper = "MinRequests(100) & FailureRate(0.9)"},
         NULL, 0);
    fail_n(&f, 2);            /* second 1000 */
    f.clock.now = 100.0;      /* back: time stays at 1000 */
    assert_float_equal(fg_breaker_now(f.b), 1000.0, 0);
    fg_test_clock_advance(&f.clock, 9.5);
    assert_int_equal(info_of(&f).metric.total_count, 2); /* 1009.5: still inside */
    fg_test_clock_advance(&f.clock, 0.5);
    assert_int_equal(info_of(&f).metric.total_count, 0); /* 1010: the second left */
    done(&f);
}

/* A single wild forward reading does not hold the breaker open for the
 * size of the glitch: time goes on from the glitch. */
static void a_wild_forward_reading_does_not_hold_the_breaker_open(void **state) {
    (void)state;
    fixture f;
    make(&f, (fg_expressions){.tripper = "FailureStreak(1)", .retry = "Cooldown(60)", .permit = "All()"}, NULL, 0);
    fg_ticket t;
    assert_true(fg_breaker_acquire(f.b, &t));
    f.clock.now = 1e9; /* the glitch: the failure trips the breaker "at 1e9" */
    fg_breaker_record(f.b, &t, FG_OUTCOME_FAILURE, 0.0);
    assert_int_equal(fg_breaker_state(f.b), FG_STATE_OPEN);
    assert_float_equal(f.log[0].timestamp, 1e9, 0);
    f.clock.now = 1001.0; /* back to normal: a jump back from the glitch */
    assert_false(fg_breaker_acquire(f.b, &t));
    fg_test_clock_advance(&f.clock, 59.0);
    assert_float_equal(rejection(&f).retry_after, 1.0, 1e-6);
    fg_test_clock_advance(&f.clock, 1.0);
    assert_true(fg_breaker_acquire(f.b, &t)); /* 60 s later, not 1e9 s later */
    done(&f);
}

/* A reading too large for a double to step by seconds (past 9e15, where
 * whole seconds stop being exact) is ignored like NaN. Taken as it came, a
 * glitch of 1e20 left the breaker's time there, where raw + offset moves
 * in steps of 16384 s: open for hours after one bad reading (at 1e300,
 * forever, with a retry_after of 1.5e284 s), and a TimeWindow that never
 * aged. */
static void a_reading_past_the_clock_limit_is_ignored(void **state) {
    (void)state;
    static const double glitches[] = {1e20, 1e300, -1e300, 9.1e15, -9.1e15};
    for (size_t g = 0; g < sizeof glitches / sizeof glitches[0]; g++) {
        fixture f;
        make(&f, (fg_expressions){.tripper = "FailureStreak(1)", .retry = "Cooldown(60)", .permit = "All()"},
             NULL, 0);
        fg_ticket t;
        assert_true(fg_breaker_acquire(f.b, &t));
        f.clock.now = glitches[g];
        fg_breaker_record(f.b, &t, FG_OUTCOME_FAILURE, 0.0); /* opens at the last good time */
        assert_int_equal(fg_breaker_state(f.b), FG_STATE_OPEN);
        assert_float_equal(f.log[0].timestamp, 1000.0, 0);
        assert_float_equal(fg_breaker_now(f.b), 1000.0, 0);
        f.clock.now = 1059.5;
        assert_float_equal(rejection(&f).retry_after, 0.5, 1e-9);
        f.clock.now = 1060.0;
        assert_true(fg_breaker_acquire(f.b, &t));
        done(&f);
    }
    /* a TimeWindow keeps aging */
    fixture f;
    make(&f, (fg_expressions){.window = "TimeWindow(10)", .tripper = "MinRequests(100) & FailureRate(0.9)"},
         NULL, 0);
    fail_n(&f, 1);
    f.clock.now = 1e20;
    fail_n(&f, 1); /* counted in second 1000 */
    assert_int_equal(info_of(&f).metric.total_count, 2);
    f.clock.now = 1010.0;
    assert_int_equal(info_of(&f).metric.total_count, 0);
    done(&f);
}

/* A lock-free admission whose reading is earlier than the block's last
 * one (a jump back no locked read has rebased yet) starts where time
 * stands still, so the call's duration does not count the jump: a 0.1 s
 * call right after the clock went back from 1000.1 to 5 was recorded as
 * 995 s, slow enough to trip AvgLatency(10). */
static void a_call_started_across_a_jump_back_does_not_count_the_jump(void **state) {
    (void)state;
    fixture f;
    make(&f, (fg_expressions){.window = "CountWindow(10)", .tripper = "MinRequests(1) & AvgLatency(10)"}, NULL,
         0);
    assert_int_equal(call(&f, FG_OUTCOME_SUCCESS, 0.1), FG_VERDICT_SUCCESS); /* 1000 .. 1000.1 */
    f.clock.now = 5.0; /* back */
    fg_ticket t;
    assert_true(fg_breaker_acquire(f.b, &t));
    assert_true(t.started_at >= 1000.1);
    f.clock.now = 5.1;
    assert_int_equal(fg_breaker_record(f.b, &t, FG_OUTCOME_SUCCESS, -1), FG_VERDICT_SUCCESS);
    assert_int_equal(fg_breaker_state(f.b), FG_STATE_CLOSED);
    fg_info i = info_of(&f);
    assert_int_equal(i.metric.total_count, 2);
    assert_true(i.metric.total_duration <= 0.2 + 1e-9);
    /* and from there on, durations are the clock's again */
    assert_int_equal(call(&f, FG_OUTCOME_SUCCESS, 0.5), FG_VERDICT_SUCCESS);
    assert_float_equal(info_of(&f).metric.total_duration - i.metric.total_duration, 0.5, 1e-9);
    done(&f);
}

/* With the coarse clock, a reading is the time of the clock's last tick,
 * up to a tick behind: a caller who waits retry_after out by the precise
 * clock may come back while the coarse one still reads a little short of
 * the deadline. Close to the deadline the breaker asks the precise clock,
 * so the caller is admitted; before, about 4 callers in 10 were rejected
 * again (retry_after 1-3 ms) when the deadline fell between two ticks. */
static void retry_after_is_exact_by_the_precise_clock_on_a_coarse_breaker(void **state) {
    (void)state;
    /* 51.3 ms: deadlines between ticks */
    fg_policy *p = compile_expr((fg_expressions){.tripper = "FailureStreak(1)", .retry = "Cooldown(0.0513)",
                                                 .permit = "All()"});
    fg_breaker_options o = {0};
    o.clock_kind = FG_CLOCK_COARSE;
    for (int k = 0; k < 20; k++) {
        fg_breaker *b = fg_breaker_new(p, 0, &o, NULL, 0);
        fg_ticket t;
        assert_true(fg_breaker_acquire(b, &t));
        fg_breaker_record(b, &t, FG_OUTCOME_FAILURE, 0.0);
        sleep_ms(1 + k % 7);
        if (!fg_breaker_acquire(b, &t)) {
            double back = monotonic_now() + t.retry_after;
            while (monotonic_now() < back) {
            }
            assert_true(fg_breaker_acquire(b, &t));
            assert_int_equal(t.state, FG_STATE_HALF_OPEN);
        }
        fg_breaker_free(b);
    }
    fg_policy_free(p);
}

/* retry_after is exact: a call made exactly retry_after seconds after a
 * rejection is admitted. Random cooldowns, backoffs, jitters, reopens,
 * times of every magnitude, with and without a rebased clock. */
static void retry_after_round_trips_exactly(void **state) {
    (void)state;
    static const char *retries[] = {"Cooldown(0.7)", "Cooldown(700ms, jitter_ratio = 0.3)", "Cooldown(1e-3)",
                                    "Backoff(0.1, multiplier = 3, max_duration = 1e4, jitter_ratio = 0.5)",
                                    "Backoff(700ms, max_duration = 0.75)", "Cooldown(12345.678, jitter_ratio = 0.99)"};
    uint64_t seed = 0x9E3779B97F4A7C15ull;
    int trials = 0;
    for (size_t r = 0; r < sizeof retries / sizeof retries[0]; r++) {
        fg_policy *p = compile_expr((fg_expressions){.tripper = "FailureStreak(1)", .retry = retries[r],
                                                     .permit = "All()"});
        for (int k = 0; k < 400; k++) {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            double u = (double)(seed >> 11) * 0x1p-53;
            double v = (double)((seed * 0x2545F4914F6CDD1Dull) >> 11) * 0x1p-53;
            fixture f;
            memset(&f, 0, sizeof f);
            fg_breaker_options o = fg_test_options(&f.clock, NULL);
            o.has_seed = 1;
            o.seed = seed;
            f.clock.now = ldexp(1.0 + u, (int)(seed % 40) - 10); /* 1e-3 .. 1e9 s */
            f.b = fg_breaker_new(p, 0, &o, NULL, 0);
            assert_non_null(f.b);
            if (k % 3 == 1) { /* rebase first: the breaker's time then runs ahead of the clock */
                fg_test_clock_advance(&f.clock, 5.0);
                (void)fg_breaker_now(f.b);
                f.clock.now *= 0.25 + 0.5 * v;
            }
            fg_ticket t;
            for (int reopen = 0; reopen < 1 + (int)(seed % 3); reopen++) {
                /* open (again) with a probe that fails */
                if (!fg_breaker_acquire(f.b, &t)) break;
                fg_breaker_record(f.b, &t, FG_OUTCOME_FAILURE, 0.0);
                assert_int_equal(fg_breaker_state(f.b), FG_STATE_OPEN);
                fg_test_clock_advance(&f.clock, (1e4 + 1) * v * (double)(reopen == 0 ? 0 : 1));
            }
            if (fg_breaker_state(f.b) != FG_STATE_OPEN) {
                fg_breaker_free(f.b);
                continue;
            }
            fg_test_clock_advance(&f.clock, 1e-3 * v); /* somewhere inside the wait */
            double at = f.clock.now;
            if (fg_breaker_acquire(f.b, &t)) { /* already over: nothing to check */
                fg_breaker_free(f.b);
                continue;
            }
            assert_true(t.retry_after > 0.0);
            /* through the clock */
            f.clock.now = at + t.retry_after;
            fg_ticket probe;
            assert_true(fg_breaker_acquire(f.b, &probe));
            trials++;
            fg_breaker_free(f.b);
        }
        fg_policy_free(p);
    }
    assert_true(trials > 1000);
}

/* The same through acquire_at: the caller's own time plus retry_after. */
static void retry_after_round_trips_through_acquire_at(void **state) {
    (void)state;
    fg_policy *p = compile_expr((fg_expressions){.tripper = "FailureStreak(1)",
                                                 .retry = "Cooldown(0.1, jitter_ratio = 0.5)", .permit = "All()"});
    uint64_t seed = 12345;
    for (int k = 0; k < 3000; k++) {
        seed = seed * 6364136223846793005ull + 1442695040888963407ull;
        double u = (double)(seed >> 11) * 0x1p-53;
        fg_breaker_options o = {0};
        o.has_seed = 1;
        o.seed = seed;
        fg_breaker *b = fg_breaker_new(p, 0, &o, NULL, 0);
        double t0 = ldexp(1.0 + u, (int)(seed >> 58) - 20);
        fg_ticket t;
        assert_true(fg_breaker_acquire_at(b, t0, &t));
        fg_breaker_record_at(b, &t, FG_OUTCOME_FAILURE, 0.0, t0);
        double at = t0 + 0.01 * u;
        assert_false(fg_breaker_acquire_at(b, at, &t));
        assert_true(fg_breaker_acquire_at(b, at + t.retry_after, &t));
        fg_breaker_free(b);
    }
    fg_policy_free(p);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(footprints_depend_on_the_definition_only),
        cmocka_unit_test(the_payment_block_fits_its_budget),
        cmocka_unit_test(only_exact_windows_have_an_exact_sum),
        cmocka_unit_test(only_a_jittered_retry_keeps_a_factor),
        cmocka_unit_test(a_placed_breaker_lives_in_caller_memory),
        cmocka_unit_test(placement_refuses_small_or_misaligned_memory),
        cmocka_unit_test(two_handles_on_one_block_share_one_breaker),
        cmocka_unit_test(handles_reading_coarse_and_precise_clocks_keep_time),
        cmocka_unit_test(attaching_refuses_another_definition),
        cmocka_unit_test(attaching_mends_clock_words_that_are_no_times),
        cmocka_unit_test(attaching_resets_a_damaged_window_or_half_open_list),
        cmocka_unit_test(the_clock_is_the_cheapest_one_exact_enough),
        cmocka_unit_test(a_breaker_without_duration_rules_reads_no_clock),
        cmocka_unit_test(a_clock_that_jumps_back_keeps_the_remaining_cooldown),
        cmocka_unit_test(a_breakers_time_starts_at_its_first_reading),
        cmocka_unit_test(a_jump_back_keeps_window_ages_and_leases),
        cmocka_unit_test(a_wild_forward_reading_does_not_hold_the_breaker_open),
        cmocka_unit_test(a_reading_past_the_clock_limit_is_ignored),
        cmocka_unit_test(a_call_started_across_a_jump_back_does_not_count_the_jump),
        cmocka_unit_test(retry_after_is_exact_by_the_precise_clock_on_a_coarse_breaker),
        cmocka_unit_test(retry_after_round_trips_exactly),
        cmocka_unit_test(retry_after_round_trips_through_acquire_at),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
