/*
 * test_retry.c -- Always, Never, Cooldown, Backoff; jitter drawn once;
 * retry_after (SPEC section 5, "Retries").
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>
#include <math.h>

#include "fg_retry.h"
#include "fg_test_support.h"

static void always_is_ready_at_once(void **state) {
    (void)state;
    fg_retry_spec s = {FG_RETRY_ALWAYS, 0, 0, 0, 0, "Always()"};
    assert_true(fg_retry_ready(&s, 10.0, 0, 1.0, 10.0));
    assert_float_equal(fg_retry_after(&s, 10.0, 0, 1.0, 10.0), 0.0, 0);
}

static void never_is_never_ready_and_retry_after_is_unknown(void **state) {
    (void)state;
    fg_retry_spec s = {FG_RETRY_NEVER, 0, 0, 0, 0, "Never()"};
    assert_false(fg_retry_ready(&s, 0.0, 0, 1.0, 1e300));
    assert_true(fg_retry_after(&s, 0.0, 0, 1.0, 5.0) < 0);
}

static void cooldown_waits_its_duration(void **state) {
    (void)state;
    fg_retry_spec s = {FG_RETRY_COOLDOWN, 60, 0, 0, 0, "Cooldown(60)"};
    assert_false(fg_retry_ready(&s, 100.0, 0, 1.0, 159.9));
    assert_true(fg_retry_ready(&s, 100.0, 0, 1.0, 160.0));
    assert_float_equal(fg_retry_after(&s, 100.0, 0, 1.0, 115.0), 45.0, 1e-9);
    assert_float_equal(fg_retry_after(&s, 100.0, 0, 1.0, 170.0), 0.0, 0);
}

static void no_jitter_draws_nothing(void **state) {
    (void)state;
    fg_test_random script;
    fg_random r = fg_test_random_scripted(&script, NULL, 0); /* a draw would fail the test */
    fg_retry_spec s = {FG_RETRY_COOLDOWN, 60, 0, 0, 0, "Cooldown(60)"};
    assert_float_equal(fg_retry_draw_factor(&s, &r), 1.0, 0);
    fg_retry_spec always = {FG_RETRY_ALWAYS, 0, 0, 0, 0.5, "Always()"};
    assert_float_equal(fg_retry_draw_factor(&always, &r), 1.0, 0);
}

static void jitter_is_one_draw_mapped_onto_plus_minus_ratio(void **state) {
    (void)state;
    const double draws[] = {0.0, 0.5, 0.75};
    fg_test_random script;
    fg_random r = fg_test_random_scripted(&script, draws, 3);
    fg_retry_spec s = {FG_RETRY_COOLDOWN, 10, 0, 0, 0.2, "Cooldown(10, jitter_ratio=0.2)"};
    assert_float_equal(fg_retry_draw_factor(&s, &r), 0.8, 1e-12);
    assert_float_equal(fg_retry_draw_factor(&s, &r), 1.0, 1e-12);
    double f = fg_retry_draw_factor(&s, &r);
    assert_float_equal(f, 1.1, 1e-12);
    assert_int_equal(script.next, 3);
    /* with the factor fixed, retry_after is exact */
    assert_float_equal(fg_retry_wait(&s, 0, f), 11.0, 1e-9);
    assert_float_equal(fg_retry_after(&s, 0.0, 0, f, 4.0), 7.0, 1e-9);
    assert_false(fg_retry_ready(&s, 0.0, 0, f, 10.9));
    assert_true(fg_retry_ready(&s, 0.0, 0, f, 11.0));
}

static void backoff_multiplies_by_reopens_up_to_max(void **state) {
    (void)state;
    fg_retry_spec s = {FG_RETRY_BACKOFF, 10, 2, 300, 0, "Backoff(10)"};
    assert_float_equal(fg_retry_wait(&s, 0, 1.0), 10, 1e-9);
    assert_float_equal(fg_retry_wait(&s, 1, 1.0), 20, 1e-9);
    assert_float_equal(fg_retry_wait(&s, 4, 1.0), 160, 1e-9);
    assert_float_equal(fg_retry_wait(&s, 5, 1.0), 300, 1e-9);
    assert_float_equal(fg_retry_after(&s, 0.0, 2, 1.0, 15.0), 25.0, 1e-9);
    assert_false(fg_retry_ready(&s, 0.0, 1, 1.0, 19.99));
    assert_true(fg_retry_ready(&s, 0.0, 1, 1.0, 20.0));
}

static void backoff_huge_reopens_cap_without_overflow(void **state) {
    (void)state;
    fg_retry_spec s = {FG_RETRY_BACKOFF, 1, 1e300, 1e308, 0, "Backoff(1, 1e300, 1e308)"};
    double w = fg_retry_wait(&s, UINT32_MAX, 1.0);
    assert_true(isfinite(w));
    assert_float_equal(w, 1e308, 1e292);
    fg_retry_spec t = {FG_RETRY_BACKOFF, 10, 2, 300, 0.5, "Backoff(10, jitter_ratio=0.5)"};
    assert_float_equal(fg_retry_wait(&t, UINT32_MAX, 1.5), 450, 1e-9);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(always_is_ready_at_once),
        cmocka_unit_test(never_is_never_ready_and_retry_after_is_unknown),
        cmocka_unit_test(cooldown_waits_its_duration),
        cmocka_unit_test(no_jitter_draws_nothing),
        cmocka_unit_test(jitter_is_one_draw_mapped_onto_plus_minus_ratio),
        cmocka_unit_test(backoff_multiplies_by_reopens_up_to_max),
        cmocka_unit_test(backoff_huge_reopens_cap_without_overflow),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
