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

/* The factor is fluxgate's 1 + uniform(-j, j), uniform(a, b) being
 * a + (b - a) * u, bit for bit: for this u, 1 + (2u - 1) * j is one ulp
 * above it (0.9343653509270854), so a replay with the same draws would open
 * for a different wait. */
static void jitter_is_fluxgates_uniform_bit_for_bit(void **state) {
    (void)state;
    const double draws[] = {0.17182675463542674};
    fg_test_random script;
    fg_random r = fg_test_random_scripted(&script, draws, 1);
    fg_retry_spec s = {FG_RETRY_COOLDOWN, 10, 0, 0, 0.1, "Cooldown(10, jitter_ratio=0.1)"};
    assert_true(fg_retry_draw_factor(&s, &r) == 0.9343653509270853);
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

/* fluxgate's test is elapsed >= wait with elapsed = now - changed_at;
 * now >= changed_at + wait rounds differently and let probes through an
 * ulp early or late (found by the differential harness against fluxgate). */
static void the_wait_is_over_when_elapsed_reaches_it(void **state) {
    (void)state;
    fg_retry_spec s = {FG_RETRY_COOLDOWN, 0.1, 0, 0, 0, "Cooldown(0.1)"};
    /* 0.6 - 0.5 = 0.09999999999999998 < 0.1, though 0.5 + 0.1 == 0.6 */
    assert_false(fg_retry_ready(&s, 0.5, 0, 1.0, 0.6));
    assert_true(fg_retry_ready(&s, 0.5, 0, 1.0, nextafter(0.6, 1.0)));
    /* and the other way: 3.866397137863316 - 1.3663971378633162 >= 2.5,
     * though 1.3663971378633162 + 2.5 rounds to 3.8663971378633164 */
    fg_retry_spec c = {FG_RETRY_COOLDOWN, 2.5, 0, 0, 0, "Cooldown(2.5)"};
    assert_true(fg_retry_ready(&c, 1.3663971378633162, 0, 1.0, 3.866397137863316));
    fg_retry_spec b = {FG_RETRY_BACKOFF, 1, 1.01, 1.5, 0, "Backoff(1, 1.01, 1.5)"};
    assert_false(fg_retry_ready(&b, 1000007.1301000004, 2, 1.0, 1000007.1301000004 + 1.0201));
}

/* retry_after aims at the least time at which the wait is over: a call that
 * comes back after it is admitted, one an ulp sooner is not. */
static void retry_after_lands_on_the_first_ready_time(void **state) {
    (void)state;
    const double starts[] = {0.5, 1.3663971378633162, 1000007.1301000004, 100.25, 12345.678};
    const double waits[] = {0.1, 2.5, 1.0201, 0.7, 7.3, 1.1};
    for (size_t i = 0; i < sizeof starts / sizeof starts[0]; i++) {
        for (size_t k = 0; k < sizeof waits / sizeof waits[0]; k++) {
            fg_retry_spec s = {FG_RETRY_COOLDOWN, waits[k], 0, 0, 0, "Cooldown"};
            double c = starts[i];
            double deadline = fg_retry_deadline(&s, c, 0, 1.0);
            assert_true(fg_retry_ready(&s, c, 0, 1.0, deadline));
            assert_false(fg_retry_ready(&s, c, 0, 1.0, nextafter(deadline, -INFINITY)));
            double now = c + waits[k] / 3;
            double r = fg_retry_after(&s, c, 0, 1.0, now);
            assert_true(fg_retry_ready(&s, c, 0, 1.0, now + r));
            assert_false(fg_retry_ready(&s, c, 0, 1.0, now + nextafter(r, 0.0)) &&
                         now + nextafter(r, 0.0) != now + r);
        }
    }
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
        cmocka_unit_test(jitter_is_fluxgates_uniform_bit_for_bit),
        cmocka_unit_test(backoff_multiplies_by_reopens_up_to_max),
        cmocka_unit_test(backoff_huge_reopens_cap_without_overflow),
        cmocka_unit_test(the_wait_is_over_when_elapsed_reaches_it),
        cmocka_unit_test(retry_after_lands_on_the_first_ready_time),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
