/*
 * test_single_thread.c -- fg_breaker_options.single_thread: a breaker that
 * one thread at a time uses (the Lua binding's) takes its lock and counts
 * its admissions with plain stores, and keeps exactly the books and makes
 * exactly the decisions of a breaker without the option.
 */

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "fg_breaker_internal.h"
#include "fluxgate.h"

static fg_policy *policy_of(const char *tripper) {
    fg_expressions e;
    memset(&e, 0, sizeof e);
    e.window = "CountWindow(10)";
    e.tripper = tripper;
    e.retry = "Cooldown(1)";
    e.permit = "All()";
    fg_policy *p = fg_policy_from_expressions("single", &e, NULL, NULL);
    assert_non_null(p);
    return p;
}

static fg_breaker *make(fg_policy *p, int single) {
    fg_breaker_options o;
    memset(&o, 0, sizeof o);
    o.single_thread = single;
    o.has_seed = 1;
    o.seed = 7;
    char err[128];
    fg_breaker *b = fg_breaker_new(p, 0, &o, err, sizeof err);
    assert_non_null(b);
    return b;
}

/* Both breakers through the same script of calls, times given: closed,
 * tripping, rejected while open, half-open probes, closing again. */
static void a_single_thread_breaker_decides_and_counts_as_any_other(void **state) {
    (void)state;
    fg_policy *p = policy_of("FailureStreak(3)");
    fg_breaker *b[2] = {make(p, 0), make(p, 1)};
    double now = 1.0;
    for (int i = 0; i < 400; i++, now += 0.05) {
        int fail = (i / 7) % 3 == 0; /* runs of failures long enough to trip */
        fg_ticket t[2];
        int admitted[2];
        fg_verdict v[2] = {FG_VERDICT_UNRECORDED, FG_VERDICT_UNRECORDED};
        for (int k = 0; k < 2; k++) {
            admitted[k] = fg_breaker_acquire_at(b[k], now, &t[k]);
            if (admitted[k]) v[k] = fg_breaker_record_at(b[k], &t[k], fail, 0.01, now);
        }
        assert_int_equal(admitted[0], admitted[1]);
        assert_int_equal(v[0], v[1]);
        assert_int_equal(fg_breaker_state(b[0]), fg_breaker_state(b[1]));
    }
    fg_info info[2];
    fg_breaker_info(b[0], &info[0]);
    fg_breaker_info(b[1], &info[1]);
    assert_true(info[0].counters.transitions[FG_STATE_CLOSED][FG_STATE_OPEN] > 0);
    assert_int_equal(info[0].counters.admitted, info[1].counters.admitted);
    assert_int_equal(info[0].counters.rejected, info[1].counters.rejected);
    assert_int_equal(info[0].counters.success, info[1].counters.success);
    assert_int_equal(info[0].counters.failure, info[1].counters.failure);
    assert_memory_equal(info[0].counters.transitions, info[1].counters.transitions,
                        sizeof info[0].counters.transitions);
    for (int k = 0; k < 2; k++) fg_breaker_free(b[k]);
    fg_policy_free(p);
}

/* The plain stores: a single-thread breaker counts its admissions with a
 * plain load and store and leaves its lock free; the counts are those of
 * a default breaker. */
static void a_single_thread_breaker_counts_with_plain_stores(void **state) {
    (void)state;
    fg_policy *p = policy_of("FailureStreak(3)");
    fg_breaker *single = make(p, 1), *plain = make(p, 0);
    for (int i = 0; i < 100; i++) {
        fg_ticket t;
        assert_true(fg_breaker_acquire_at(single, 1.0, &t));
        fg_breaker_record_at(single, &t, 0, 0.01, 1.0);
        assert_true(fg_breaker_acquire_at(plain, 1.0, &t));
        fg_breaker_record_at(plain, &t, 0, 0.01, 1.0);
    }
    assert_int_equal(atomic_load(&fg_block_counts_of(single->block)->admissions.admitted), 100);
    assert_int_equal(atomic_load(&fg_block_counts_of(plain->block)->admissions.admitted), 100);
    assert_int_equal(atomic_load(&single->block->lock), 0);
    fg_breaker_free(single);
    fg_breaker_free(plain);
    fg_policy_free(p);
}

/* An attached block is mapped by others too: the option is not taken. */
static void an_attached_block_is_never_single_thread(void **state) {
    (void)state;
    fg_policy *p = policy_of("FailureStreak(3)");
    size_t block_size = fg_breaker_footprint(p, 0);
    size_t handle_size = fg_breaker_handle_footprint(p, 0);
    _Alignas(16) static unsigned char block[4096], handle[2][1024];
    assert_true(block_size <= sizeof block && handle_size <= sizeof handle[0]);
    fg_breaker_options o;
    memset(&o, 0, sizeof o);
    o.single_thread = 1;
    char err[128];
    fg_breaker *made = fg_breaker_place(p, 0, &o, handle[0], block, block_size, 0, err, sizeof err);
    fg_breaker *attached = fg_breaker_place(p, 0, &o, handle[1], block, block_size, 1, err, sizeof err);
    assert_non_null(made);
    assert_non_null(attached);
    assert_int_equal(made->single, 1);
    assert_int_equal(attached->single, 0);
    fg_breaker_free(attached);
    fg_breaker_free(made);
    fg_policy_free(p);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(a_single_thread_breaker_decides_and_counts_as_any_other),
        cmocka_unit_test(a_single_thread_breaker_counts_with_plain_stores),
        cmocka_unit_test(an_attached_block_is_never_single_thread),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
