/*
 * test_breaker_new.c -- making breakers through the public API: by index
 * and by name, creation errors that read like compile errors ("chunk:
 * error: ..." with the index or name and what the policy defines), the
 * options initializer (FG_BREAKER_OPTIONS_INIT, fg_breaker_options_init)
 * and the outcome classes' fixed values.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <string.h>

#include "fg_test_support.h"
#include "fluxgate.h"

static const char two_breakers[] = "breaker a { tripper = FailureStreak(2) }\nbreaker b {}\n";

/* Usable at file scope: a constant initializer. */
static const fg_breaker_options file_scope_defaults = FG_BREAKER_OPTIONS_INIT;

/* ---- by name ---------------------------------------------------------------- */

static void a_breaker_is_made_by_its_name(void **state) {
    (void)state;
    fg_policy *p = fg_test_policy(two_breakers, "two.fgp");
    char err[200] = "left over";
    fg_breaker *b = fg_breaker_new_named(p, "b", NULL, err, sizeof err);
    assert_non_null(b);
    assert_string_equal(fg_breaker_name(b), "b");
    assert_string_equal(err, ""); /* cleared on success */
    fg_breaker_free(b);
    fg_policy_free(p);
}

static void a_missing_name_says_so_and_lists_the_names_there_are(void **state) {
    (void)state;
    fg_policy *p = fg_test_policy(two_breakers, "two.fgp");
    fg_test_alloc counting = {0};
    fg_breaker_options o = FG_BREAKER_OPTIONS_INIT;
    o.alloc = fg_test_allocator(&counting);
    char err[200];
    assert_null(fg_breaker_new_named(p, "x", &o, err, sizeof err));
    assert_string_equal(err, "two.fgp: error: no breaker named 'x'; it defines 'a', 'b'");
    assert_int_equal(counting.allocations, 0);
    fg_policy_free(p);
}

static void a_policy_without_breakers_says_it_defines_none(void **state) {
    (void)state;
    fg_policy *p = fg_test_policy("tracker t = Status(500..599)\n", "empty.fgp");
    char err[200];
    assert_null(fg_breaker_new_named(p, "a", NULL, err, sizeof err));
    assert_string_equal(err, "empty.fgp: error: no breaker named 'a'; it defines no breakers");
    assert_null(fg_breaker_new(p, 0, NULL, err, sizeof err));
    assert_string_equal(err, "empty.fgp: error: no breaker #0; it defines no breakers");
    fg_policy_free(p);
}

static void a_null_policy_or_name_is_an_error_not_a_crash(void **state) {
    (void)state;
    fg_policy *p = fg_test_policy(two_breakers, "two.fgp");
    char err[200];
    assert_null(fg_breaker_new_named(NULL, "a", NULL, err, sizeof err));
    assert_string_equal(err, "policy: error: no policy (NULL)");
    assert_null(fg_breaker_new_named(p, NULL, NULL, err, sizeof err));
    assert_string_equal(err, "two.fgp: error: no breaker name (NULL)");
    assert_null(fg_breaker_new(NULL, 0, NULL, err, sizeof err));
    assert_string_equal(err, "policy: error: no policy (NULL)");
    assert_null(fg_breaker_new_named(p, "x", NULL, NULL, 0)); /* no buffer: just NULL */
    fg_policy_free(p);
}

/* ---- by index ------------------------------------------------------------------ */

static void an_index_out_of_range_names_the_index_and_the_definitions(void **state) {
    (void)state;
    fg_policy *p = fg_test_policy(two_breakers, "two.fgp");
    char err[200];
    assert_null(fg_breaker_new(p, 2, NULL, err, sizeof err));
    assert_string_equal(err, "two.fgp: error: no breaker #2; it defines 2: 'a', 'b'");
    fg_policy_free(p);
}

static void a_cast_not_found_index_is_reported_as_minus_one(void **state) {
    (void)state;
    fg_policy *p = fg_test_policy(two_breakers, "two.fgp");
    char err[200];
    assert_null(fg_breaker_new(p, (size_t)fg_policy_find_breaker(p, "x"), NULL, err, sizeof err));
    assert_string_equal(err, "two.fgp: error: "
                             "no breaker #-1 (fg_policy_find_breaker's \"no such name\"); "
                             "it defines 2: 'a', 'b'");
    fg_policy_free(p);
}

static void errors_about_a_definition_name_it(void **state) {
    (void)state;
    fg_policy *p = fg_test_policy("breaker a {}\nbreaker c { tracker = Custom(\"is_bad\") }\n", "c.fgp");
    char err[200];
    assert_null(fg_breaker_new(p, 1, NULL, err, sizeof err));
    const char *expected =
        "c.fgp: error: breaker 'c': Custom(\"is_bad\") has no registered predicate";
    assert_string_equal(err, expected);
    assert_null(fg_breaker_new_named(p, "c", NULL, err, sizeof err));
    assert_string_equal(err, expected);
    fg_policy_free(p);
}

static void a_short_error_buffer_gets_a_terminated_prefix(void **state) {
    (void)state;
    fg_policy *p = fg_test_policy(two_breakers, "two.fgp");
    char err[16];
    memset(err, 'z', sizeof err);
    assert_null(fg_breaker_new_named(p, "x", NULL, err, sizeof err));
    assert_string_equal(err, "two.fgp: error:");
    memset(err, 'z', sizeof err);
    assert_null(fg_breaker_new(p, 7, NULL, err, 1));
    assert_int_equal(err[0], '\0');
    assert_int_equal(err[1], 'z'); /* nothing past cap */
    fg_policy_free(p);
}

/* ---- the options initializer ------------------------------------------------------ */

static void assert_default_options(const fg_breaker_options *o) {
    assert_null(o->alloc.fn);
    assert_null(o->alloc.ud);
    assert_null(o->clock);
    assert_null(o->clock_ud);
    assert_null(o->random);
    assert_null(o->random_ud);
    assert_int_equal(o->has_seed, 0);
    assert_int_equal(o->seed, 0);
    assert_null(o->resolve_custom);
    assert_null(o->resolve_ud);
    assert_int_equal(o->clock_kind, FG_CLOCK_AUTO);
    assert_null(o->sink);
    assert_int_equal(o->single_thread, 0);
}

static void the_options_initializers_set_every_field_to_the_zeroed_default(void **state) {
    (void)state;
    fg_breaker_options zeroed;
    memset(&zeroed, 0, sizeof zeroed);
    assert_default_options(&zeroed); /* the contract: 0 / NULL is every default */
    fg_breaker_options declared = FG_BREAKER_OPTIONS_INIT;
    assert_default_options(&declared);
    assert_default_options(&file_scope_defaults);
    fg_breaker_options garbage;
    memset(&garbage, 0xA5, sizeof garbage);
    fg_breaker_options_init(&garbage);
    assert_default_options(&garbage);
}

static void a_breaker_made_with_initialized_options_behaves_as_with_none(void **state) {
    (void)state;
    fg_policy *p = fg_test_policy(two_breakers, "two.fgp");
    fg_breaker_options o;
    fg_breaker_options_init(&o);
    fg_breaker *with = fg_breaker_new_named(p, "a", &o, NULL, 0);
    fg_breaker *without = fg_breaker_new_named(p, "a", NULL, NULL, 0);
    assert_non_null(with);
    assert_non_null(without);
    fg_info i1, i2;
    fg_breaker_info(with, &i1);
    fg_breaker_info(without, &i2);
    assert_int_equal(i1.clock_kind, i2.clock_kind);
    assert_int_not_equal(i1.clock_kind, FG_CLOCK_CUSTOM);
    fg_outcome failed = {.is_error = 1};
    for (int i = 0; i < 2; i++) {
        fg_ticket t1, t2;
        assert_true(fg_breaker_acquire(with, &t1));
        assert_true(fg_breaker_acquire(without, &t2));
        assert_int_equal(fg_breaker_release(with, &t1, &failed, 0.01), FG_VERDICT_FAILURE);
        assert_int_equal(fg_breaker_release(without, &t2, &failed, 0.01), FG_VERDICT_FAILURE);
    }
    assert_int_equal(fg_breaker_state(with), FG_STATE_OPEN);
    assert_int_equal(fg_breaker_state(without), FG_STATE_OPEN);
    fg_breaker_free(with);
    fg_breaker_free(without);
    fg_policy_free(p);
}

/* ---- outcome classes --------------------------------------------------------------- */

static void outcome_classes_keep_the_numbers_callers_pass(void **state) {
    (void)state;
    assert_int_equal(FG_OUTCOME_FAILURE, 1);
    assert_int_equal(FG_OUTCOME_SUCCESS, 0);
    assert_int_equal(FG_OUTCOME_UNTRACKED, -1);
}

static void classify_answers_with_the_enum_and_record_takes_it(void **state) {
    (void)state;
    fg_policy *p = fg_test_policy("breaker a { tracker = Status(500..599) | TypeOf(\"timeout\") }\n",
                           "a.fgp");
    fg_breaker *b = fg_breaker_new_named(p, "a", NULL, NULL, 0);
    assert_non_null(b);
    fg_outcome ok = {.has_status = 1, .status = 200};
    fg_outcome server_error = {.has_status = 1, .status = 503};
    fg_outcome timeout = {.is_error = 1, .type = "timeout", .type_len = 7};
    fg_outcome other_error = {.is_error = 1, .type = "refused", .type_len = 7};
    assert_int_equal(fg_breaker_classify(b, &ok), FG_OUTCOME_SUCCESS);
    assert_int_equal(fg_breaker_classify(b, &server_error), FG_OUTCOME_FAILURE);
    assert_int_equal(fg_breaker_classify(b, &timeout), FG_OUTCOME_FAILURE);
    assert_int_equal(fg_breaker_classify(b, &other_error), FG_OUTCOME_UNTRACKED);
    static const struct {
        fg_outcome_class cls;
        fg_verdict verdict;
    } cases[] = {{FG_OUTCOME_SUCCESS, FG_VERDICT_SUCCESS},
                 {FG_OUTCOME_FAILURE, FG_VERDICT_FAILURE},
                 {FG_OUTCOME_UNTRACKED, FG_VERDICT_IGNORED}};
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        fg_ticket t;
        assert_true(fg_breaker_acquire(b, &t));
        assert_int_equal(fg_breaker_record(b, &t, cases[i].cls, 0.01), cases[i].verdict);
    }
    fg_info info;
    fg_breaker_info(b, &info);
    assert_int_equal(info.counters.success, 1);
    assert_int_equal(info.counters.failure, 1);
    assert_int_equal(info.counters.ignored, 1);
    fg_breaker_free(b);
    fg_policy_free(p);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(a_breaker_is_made_by_its_name),
        cmocka_unit_test(a_missing_name_says_so_and_lists_the_names_there_are),
        cmocka_unit_test(a_policy_without_breakers_says_it_defines_none),
        cmocka_unit_test(a_null_policy_or_name_is_an_error_not_a_crash),
        cmocka_unit_test(an_index_out_of_range_names_the_index_and_the_definitions),
        cmocka_unit_test(a_cast_not_found_index_is_reported_as_minus_one),
        cmocka_unit_test(errors_about_a_definition_name_it),
        cmocka_unit_test(a_short_error_buffer_gets_a_terminated_prefix),
        cmocka_unit_test(the_options_initializers_set_every_field_to_the_zeroed_default),
        cmocka_unit_test(a_breaker_made_with_initialized_options_behaves_as_with_none),
        cmocka_unit_test(outcome_classes_keep_the_numbers_callers_pass),
        cmocka_unit_test(classify_answers_with_the_enum_and_record_takes_it),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
