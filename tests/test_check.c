/*
 * test_check.c -- the checker (SPEC.md 3.3): kinds, operators, arguments
 * (positional, keyword, defaults, types, ranges), names with suggestions,
 * named definitions as a shared DAG, n-ary flattening, warnings, and no
 * cascades from one mistake.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <string.h>

#include "fg_arena.h"
#include "fg_builtins.h"
#include "fg_check.h"
#include "fg_diag.h"
#include "fg_parse.h"
#include "fg_policy_internal.h"
#include "fg_program.h"
#include "fg_test_compile.h"

/* ---- checking through the checker's own API --------------------------------- */

typedef struct checked {
    fg_arena *arena;
    fg_report *report;
    fg_diag_sink sink;
    fg_checker *checker;
} checked;

/* Parses a policy of definitions, checks them, then checks expr as key. */
static fg_node *check(checked *c, const char *policy, int key, const char *expr) {
    c->arena = fg_arena_new(NULL);
    c->report = fg_report_new(NULL);
    c->checker = fg_checker_new(c->arena);
    fg_diag_begin(&c->sink, c->report, "c", policy, strlen(policy));
    fg_syn_unit *unit;
    assert_int_equal(fg_parse(c->arena, &c->sink, NULL, policy, strlen(policy), FG_PARSE_POLICY, &unit), 0);
    for (const fg_syn_stmt *s = unit->first; s != NULL; s = s->next)
        if (s->kind == FG_STMT_DEFINE) fg_check_define(c->checker, &c->sink, s);
    static fg_diag_sink expr_sink;
    fg_diag_begin(&expr_sink, c->report, "e", expr, strlen(expr));
    assert_int_equal(fg_parse(c->arena, &expr_sink, NULL, expr, strlen(expr), FG_PARSE_EXPRESSION, &unit), 0);
    return fg_check_expr(c->checker, &expr_sink, unit->expr, key);
}

static void done(checked *c) {
    fg_arena_free(c->arena);
    fg_report_free(c->report);
}

static void calls_carry_their_arguments_in_parameter_order_with_defaults(void **state) {
    (void)state;
    checked c;
    fg_node *n = check(&c, "", FG_SET_RETRY, "Backoff(max_duration = 10m, initial = 2s)");
    assert_non_null(n);
    assert_int_equal(n->kind, FG_NODE_CALL);
    assert_int_equal(n->builtin, FG_BUILTIN_BACKOFF);
    assert_int_equal(n->arg_count, 4);
    assert_true(n->args[0].number == 2);   /* initial */
    assert_true(n->args[1].number == 2);   /* multiplier: default */
    assert_true(n->args[2].number == 600); /* max_duration */
    assert_true(n->args[3].number == 0);   /* jitter_ratio: default */
    done(&c);

    n = check(&c, "", FG_SET_RETRY, "Cooldown(30)");
    assert_int_equal(n->arg_count, 2);
    assert_true(n->args[0].number == 30 && n->args[1].number == 0);
    done(&c);

    n = check(&c, "", FG_SET_TRACKER, "Status(500..599, 429)");
    assert_int_equal(n->arg_count, 2);
    assert_int_equal(n->args[0].kind, FG_VALUE_RANGE);
    assert_true(n->args[1].number == 429);
    done(&c);
}

static void all_is_a_tracker_or_a_permit_by_position(void **state) {
    (void)state;
    checked c;
    fg_node *n = check(&c, "", FG_SET_TRACKER, "All()");
    assert_int_equal(n->kind_bits, FG_KIND_TRACKER);
    done(&c);
    n = check(&c, "", FG_SET_PERMIT, "All()");
    assert_int_equal(n->kind_bits, FG_KIND_PERMIT);
    done(&c);
}

static void chains_are_flattened_through_parentheses(void **state) {
    (void)state;
    checked c;
    fg_node *n = check(&c, "", FG_SET_TRIPPER,
                       "(FailureStreak(1) | (FailureStreak(2) | FailureStreak(3))) | (Closed() & FailureStreak(4))");
    assert_int_equal(n->kind, FG_NODE_OR);
    assert_int_equal(n->child_count, 4);
    assert_int_equal(n->children[3]->kind, FG_NODE_AND);
    /* a node's text is its span, parentheses included */
    assert_int_equal(n->children[3]->loc.end - n->children[3]->loc.begin,
                     strlen("(Closed() & FailureStreak(4))"));
    assert_memory_equal(n->children[3]->text, "(Closed()", 9);
    done(&c);
}

static void named_definitions_are_shared_not_copied(void **state) {
    (void)state;
    checked c;
    fg_node *n = check(&c, "tripper t = FailureStreak(5) | MinRequests(3)\n", FG_SET_TRIPPER,
                       "t & ~t");
    assert_int_equal(n->kind, FG_NODE_AND);
    const fg_node *a = n->children[0], *b = n->children[1]->children[0];
    assert_int_equal(a->kind, FG_NODE_REF);
    assert_int_equal(b->kind, FG_NODE_REF);
    assert_string_equal(a->ref_name, "t");
    assert_ptr_equal(a->children[0], b->children[0]); /* one tree, two uses */
    assert_int_equal(a->children[0]->kind, FG_NODE_OR);
    done(&c);
}

static void the_never_fires_analysis_follows_alternatives(void **state) {
    (void)state;
    checked c;
    fg_node *n = check(&c, "tripper big = MinRequests(200) & FailureRate(0.5)\n", FG_SET_TRIPPER,
                       "big | (MinRequests(300) & FailureStreak(2))");
    const fg_node *culprit = fg_check_never_fires(c.checker, n, 100);
    assert_non_null(culprit);
    assert_true(culprit->args[0].number == 200);
    assert_null(fg_check_never_fires(c.checker, n, 250)); /* the second fits */
    done(&c);
    n = check(&c, "", FG_SET_TRIPPER, "FailureStreak(3) | MinRequests(200)");
    assert_null(fg_check_never_fires(c.checker, n, 100)); /* one alternative can fire */
    done(&c);
}

/* ---- messages, through the compiler ------------------------------------------ */

static void kind_mismatches_name_both_kinds(void **state) {
    (void)state;
    FG_FAILS("breaker a {\n  tracker = FailureRate(0.5)\n}\n",
             "t.fgp:2:13: error: FailureRate() is a tripper, but 'tracker' expects a tracker");
    FG_FAILS("breaker a { tripper = FailureStreak(2) & TypeOf(\"x\") }",
             "t.fgp:1:42: error: TypeOf() is a tracker, but 'tripper' expects a tripper");
    FG_FAILS("breaker a { tripper = CountWindow(10) }",
             "CountWindow() is a window, but 'tripper' expects a tripper");
    FG_FAILS("breaker a { retry = ~Cooldown(1) }",
             "t.fgp:1:21: error: '~' combines trackers or trippers, but 'retry' expects a single retry");
    FG_FAILS("breaker a { permit = All() | Random(0.5) }", "t.fgp:1:28: error: '|'");
    FG_FAILS("tracker t = All()\nbreaker a { tripper = t }",
             "t.fgp:2:23: error: 't' is a tracker, but 'tripper' expects a tripper");
    FG_FAILS("breaker a { tripper = 5 }", "'tripper' expects a tripper, not a number");
    FG_FAILS("breaker a { max_half_open_calls = All() }", "'max_half_open_calls' expects a number");
}

static void unknown_names_get_suggestions(void **state) {
    (void)state;
    FG_FAILS("breaker a { tripper = MinRequests(5) & FailureRat(0.5) }",
             "t.fgp:1:40: error: unknown tripper 'FailureRat' (did you mean 'FailureRate'?)");
    FG_FAILS("tracker transport = All()\nbreaker a { tracker = transprot }",
             "unknown tracker 'transprot' (did you mean 'transport'?)");
    FG_FAILS("breaker a { tripper = Zorglub(1) }", "unknown tripper 'Zorglub'\n");
    FG_FAILS("breaker a { tripper = FailureStreak }",
             "'FailureStreak' is a constructor: write FailureStreak(...)");
    FG_FAILS("tripper t = FailureStreak(1)\nbreaker a { tripper = t() }",
             "'t' is a named tripper: use it without parentheses");
}

static void argument_binding_errors_name_the_argument(void **state) {
    (void)state;
    FG_FAILS("breaker a { retry = Cooldown(10, jitter=0.1) }",
             "t.fgp:1:34: error: unknown argument 'jitter' to Cooldown() (did you mean 'jitter_ratio'?)");
    FG_FAILS("breaker a { retry = Cooldown(duration=10, duration=20) }",
             "t.fgp:1:43: error: duplicate argument 'duration' to Cooldown()");
    FG_FAILS("breaker a { retry = Cooldown() }", "missing argument 'duration' to Cooldown()");
    FG_FAILS("breaker a { retry = Cooldown(1, 0.5, 3) }", "too many arguments to Cooldown() (it takes 2)");
    FG_FAILS("breaker a { retry = Cooldown(jitter_ratio = 0.5, 3) }",
             "positional argument after keyword arguments in Cooldown()");
    FG_FAILS("breaker a { tripper = Closed(1) }", "Closed() takes no arguments");
    FG_FAILS("breaker a { tripper = FailureRate(\"half\") }",
             "FailureRate() ratio must be a number, got a string");
    FG_FAILS("breaker a { tracker = Message(3) }", "Message() pattern must be a string, got a number");
    FG_FAILS("breaker a { tracker = TypeOf(\"a\", 3) }", "TypeOf() types must be strings, got a number");
    FG_FAILS("breaker a { tracker = TypeOf(types = \"a\") }", "TypeOf() takes no keyword arguments");
}

static void ranges_are_fluxgates(void **state) {
    (void)state;
    static const struct {
        const char *field, *expr, *message;
    } cases[] = {
        {"tripper", "MinRequests(0)", "MinRequests() count must be an integer > 0, got 0"},
        {"tripper", "MinRequests(2.5)", "MinRequests() count must be an integer > 0, got 2.5"},
        {"tripper", "FailureRate(0)", "FailureRate() ratio must be in (0, 1], got 0"},
        {"tripper", "MinRequests(5) & FailureRate(1.5)", "tripper:1:30: error: FailureRate() ratio must be in (0, 1], got 1.5"},
        {"tripper", "AvgLatency(0)", "AvgLatency() threshold must be > 0, got 0"},
        {"tripper", "SlowRate(0.5, threshold=0)", "SlowRate() threshold must be > 0, got 0"},
        {"tripper", "FailureStreak(-1)", "FailureStreak() count must be an integer > 0, got -1"},
        {"window", "CountWindow(0)", "CountWindow() size must be an integer > 0, got 0"},
        {"window", "TimeWindow(86401)", "TimeWindow() size must be an integer > 0 and at most 86400, got 86401"},
        {"window", "CountWindow(1000001)", "CountWindow() size must be an integer > 0 and at most 1000000"},
        {"permit", "Random(1.5)", "Random() ratio must be in [0, 1], got 1.5"},
        {"permit", "RampUp(0, 1, 60)", "RampUp() initial must be in (0, 1], got 0"},
        {"permit", "RampUp(0.6, 0.5, 60)", "RampUp() final must be in [initial, 1], got 0.5 (initial is 0.6)"},
        {"permit", "RampUp(0.1, 0.5, 0)", "RampUp() duration must be > 0, got 0"},
        {"retry", "Cooldown(0)", "Cooldown() duration must be > 0, got 0"},
        {"retry", "Cooldown(10, jitter_ratio=1)", "Cooldown() jitter_ratio must be in [0, 1), got 1"},
        {"retry", "Backoff(10, multiplier=1)", "Backoff() multiplier must be > 1, got 1"},
        {"retry", "Backoff(10, max_duration=5)", "Backoff() max_duration must be >= initial, got 5 (initial is 10)"},
        {"tracker", "TypeOf()", "TypeOf() needs at least one string"},
        {"tracker", "Status()", "Status() needs at least one integer or range a..b"},
        {"tracker", "Status(600..500)", "Status() range 600..500 is empty"},
        {"tracker", "Status(5.5)", "Status() codes must be integers, got 5.5"},
        {"tracker", "Message(1..2)", "a range (a..b) is allowed only in Status()"},
        {"max_half_open_calls", "0", "max_half_open_calls must be an integer in [1, 65536], got 0"},
        {"max_half_open_calls", "2.5", "max_half_open_calls must be an integer in [1, 65536], got 2.5"},
        {"max_half_open_calls", "65537", "max_half_open_calls must be an integer in [1, 65536], got 65537"},
        {"half_open_lease", "0s", "half_open_lease must be a duration > 0, got 0"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        const char *text;
        fg_policy *p = fg_test_field(cases[i].field, cases[i].expr, &text);
        if (p != NULL || strstr(text, cases[i].message) == NULL)
            fprintf(stderr, "%s = %s:\n%s", cases[i].field, cases[i].expr, text);
        assert_null(p);
        assert_non_null(strstr(text, cases[i].message));
        assert_non_null(strstr(text, cases[i].field)); /* the chunk is the field */
    }
}

static void values_at_the_edges_are_accepted(void **state) {
    (void)state;
    static const struct {
        const char *field, *expr;
    } cases[] = {
        {"tripper", "FailureRate(1)"},     {"permit", "Random(0)"},
        {"permit", "Random(1)"},           {"permit", "RampUp(1, 1, 1ms)"},
        {"retry", "Cooldown(1, 0.999)"},   {"retry", "Backoff(10, 1.01, 10)"},
        {"window", "TimeWindow(86400)"}, {"window", "CountWindow(1000000)"}, {"max_half_open_calls", "65536"}, {"tracker", "Custom(\"anything at all\")"},
        {"tracker", "Status(-5..-5)"},     {"half_open_lease", "0.001"},
        {"max_half_open_calls", "1"},      {"tracker", "Message(\"\")"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        const char *text;
        fg_policy *p = fg_test_field(cases[i].field, cases[i].expr, &text);
        if (p == NULL) fprintf(stderr, "%s = %s:\n%s", cases[i].field, cases[i].expr, text);
        assert_non_null(p);
        fg_policy_free(p);
    }
}

/* Bit for bit. */
static int same_double(double a, double b) { return memcmp(&a, &b, sizeof a) == 0; }

static void percentages_and_milliseconds_are_the_decimals_they_spell(void **state) {
    (void)state;
    /* valid policies that a product with a rounded scale refused:
     * 35% was 0.35000000000000003 > 0.35, 700ms was 0.7000000000000001 > 0.7 */
    fg_policy *p = fg_test_compiles("breaker a {\n"
                                    "  permit = RampUp(35%, 0.35, 60)\n"
                                    "  retry = Backoff(700ms, max_duration = 0.7)\n"
                                    "  tripper = SlowRate(1.0, threshold = 700ms) | AvgLatency(1.5h)\n"
                                    "  half_open_lease = 2m\n"
                                    "}\n"
                                    "breaker b { retry = Cooldown(0.1m, jitter_ratio = 57%) permit = Random(7%) }\n");
    const fg_breaker_def *a = &p->breakers[0], *b = &p->breakers[1];
    assert_true(same_double(a->permit.ratio, 0.35) && same_double(a->permit.final, 0.35));
    assert_true(same_double(a->retry.duration, 0.7) && same_double(a->retry.max_duration, 0.7));
    assert_true(same_double(a->half_open_lease, 120));
    assert_int_equal(fg_program_threshold_count(a->tripper), 1);
    assert_true(same_double(fg_program_thresholds(a->tripper)[0], 0.7));
    assert_true(same_double(b->retry.duration, 6) && same_double(b->retry.jitter_ratio, 0.57));
    assert_true(same_double(b->permit.ratio, 0.07));
    fg_policy_free(p);
}

static void a_unit_stands_only_where_its_kind_of_value_is_expected(void **state) {
    (void)state;
    static const struct {
        const char *field, *expr, *message;
    } wrong[] = {
        {"window", "CountWindow(5m)",
         "'5m' is a duration, but CountWindow() size is a count: write it without a unit ('5')"},
        {"tripper", "FailureStreak(1m)", "'1m' is a duration, but FailureStreak() count is a count"},
        {"tripper", "MinRequests(20s)", "MinRequests() count is a count"},
        {"retry", "Cooldown(10%)",
         "'10%' is a percentage, but Cooldown() duration is a duration: write seconds, plain or "
         "with ms, s, m or h ('10s')"},
        {"tripper", "FailureRate(1s)",
         "'1s' is a duration, but FailureRate() ratio is a ratio: write a fraction or a percentage"},
        {"max_half_open_calls", "2m", "'2m' is a duration, but max_half_open_calls is a count"},
        {"half_open_lease", "10%", "'10%' is a percentage, but half_open_lease is a duration"},
        {"tripper", "AvgLatency(50%)", "AvgLatency() threshold is a duration"},
        {"tripper", "SlowRate(0.5, threshold = 5%)", "SlowRate() threshold is a duration"},
        {"tripper", "SlowRate(5ms, threshold = 5)", "SlowRate() ratio is a ratio"},
        {"retry", "Backoff(1, multiplier = 2s)", "Backoff() multiplier is a plain number"},
        {"retry", "Backoff(1%)", "Backoff() initial is a duration"},
        {"retry", "Backoff(1, max_duration = 50%)", "Backoff() max_duration is a duration"},
        {"retry", "Cooldown(1, jitter_ratio = 1ms)", "Cooldown() jitter_ratio is a ratio"},
        {"permit", "Random(1h)", "Random() ratio is a ratio"},
        {"permit", "RampUp(10%, 50%, 10%)", "RampUp() duration is a duration"},
        {"window", "TimeWindow(50%)", "TimeWindow() size is a duration"},
        {"tracker", "Status(500%)", "Status() codes are plain integers"},
        {"tracker", "Status(500..599s)", "Status() codes are plain integers"},
    };
    for (size_t i = 0; i < sizeof wrong / sizeof wrong[0]; i++) {
        const char *text;
        fg_policy *p = fg_test_field(wrong[i].field, wrong[i].expr, &text);
        if (p != NULL || strstr(text, wrong[i].message) == NULL)
            fail_msg("%s = %s: %s", wrong[i].field, wrong[i].expr, p ? "compiled" : text);
        /* located at the literal, which is the last argument here */
        assert_non_null(strstr(text, ":1:"));
    }
    /* and where they belong, they are welcome */
    static const struct {
        const char *field, *expr;
    } right[] = {
        {"window", "TimeWindow(1m)"},    {"tripper", "AvgLatency(250ms) | FailureRate(50%)"},
        {"retry", "Cooldown(1h, 10%)"},  {"permit", "RampUp(1%, 100%, 1m)"},
        {"half_open_lease", "90s"},      {"tripper", "SlowRate(50%, threshold = 0.5s)"},
    };
    for (size_t i = 0; i < sizeof right / sizeof right[0]; i++) {
        const char *text;
        fg_policy *p = fg_test_field(right[i].field, right[i].expr, &text);
        if (p == NULL) fail_msg("%s = %s: %s", right[i].field, right[i].expr, text);
        if (strcmp(right[i].expr, "TimeWindow(1m)") == 0) assert_int_equal(p->breakers[0].window.size, 60);
        fg_policy_free(p);
    }
}

static void every_numeric_parameter_says_what_it_measures(void **state) {
    (void)state;
    for (int i = 0; i < FG_BUILTIN_COUNT; i++) {
        const fg_builtin *b = fg_builtin_get((fg_builtin_id)i);
        for (uint32_t k = 0; k < b->param_count; k++) {
            const fg_param *q = &b->params[k];
            int numeric = q->type == FG_PARAM_INTEGER || q->type == FG_PARAM_NUMBER || q->type == FG_PARAM_CODES;
            assert_int_equal(numeric, q->quantity != FG_QTY_TEXT && q->quantity != FG_QTY_NAME);
        }
    }
    assert_int_equal(fg_setting_quantity(FG_SET_MAX_HALF_OPEN_CALLS), FG_QTY_COUNT);
    assert_int_equal(fg_setting_quantity(FG_SET_HALF_OPEN_LEASE), FG_QTY_DURATION);
}

/* src (n bytes, NULs included) does not compile, with exactly one error, at
 * line:column, saying message. */
static void assert_one_error(const char *src, size_t n, int line, int column, const char *message) {
    fg_report *r = NULL;
    assert_null(fg_policy_compile(src, n, "t.fgp", NULL, &r));
    assert_int_equal(fg_report_error_count(r), 1);
    const fg_diagnostic *d = fg_report_get(r, 0);
    assert_int_equal(d->line, line);
    assert_int_equal(d->column, column);
    assert_string_equal(d->message, message);
    fg_report_free(r);
}

static void an_empty_name_is_refused_where_it_is_written(void **state) {
    (void)state;
    /* a breaker named "" (an empty Prometheus label, found by lookup of ""),
     * beside a good one that still compiles into the report's silence */
    static const char src[] = "breaker ok { }\nbreaker \"\" { window = CountWindow(10) }\n";
    assert_one_error(src, sizeof src - 1, 2, 9, "breaker name is empty");
    /* a Custom() predicate named "" (TypeOf("") is a type like any other) */
    static const char custom[] = "breaker a { tracker = Custom(\"\") | TypeOf(\"\") }";
    assert_one_error(custom, sizeof custom - 1, 1, 30, "Custom() name is empty");
    /* the expression path: the name is its own chunk */
    fg_expressions e = {0};
    e.window = "CountWindow(10)";
    fg_report *r = NULL;
    assert_null(fg_policy_from_expressions("", &e, NULL, &r));
    assert_int_equal(fg_report_error_count(r), 1);
    assert_string_equal(fg_report_get(r, 0)->chunk, "name");
    assert_string_equal(fg_report_get(r, 0)->message, "breaker name is empty");
    fg_report_free(r);
    fg_policy *p = fg_policy_from_expressions("a", &e, NULL, NULL);
    assert_non_null(p);
    fg_policy_free(p);
}

static void a_name_with_a_nul_byte_is_refused_at_the_byte(void **state) {
    (void)state;
    /* two breakers that would both be called "a" */
    static const char src[] = "breaker \"a\0b\" { }\nbreaker \"a\0c\" { }\n";
    fg_report *r = NULL;
    assert_null(fg_policy_compile(src, sizeof src - 1, "t.fgp", NULL, &r));
    assert_int_equal(fg_report_error_count(r), 2);
    for (size_t i = 0; i < 2; i++) {
        const fg_diagnostic *d = fg_report_get(r, i);
        assert_int_equal(d->line, (int)i + 1);
        assert_int_equal(d->column, 11);
        assert_string_equal(d->message, "breaker name contains a NUL byte");
    }
    fg_report_free(r);
    /* Custom() names go to the resolver as C strings too */
    static const char custom[] = "breaker a { tracker = Custom(\"x\0y\") }";
    assert_one_error(custom, sizeof custom - 1, 1, 32, "Custom() name contains a NUL byte");
    /* TypeOf() and Message() compare lengths: a NUL there is data */
    static const char type_of[] = "breaker a { tracker = TypeOf(\"x\0y\") | Message(\"a\0*\") }";
    fg_policy *p = fg_policy_compile(type_of, sizeof type_of - 1, "t.fgp", NULL, NULL);
    assert_non_null(p);
    fg_policy_free(p);
}

static void one_mistake_is_reported_once(void **state) {
    (void)state;
    /* a definition with an error: its uses are not reported again */
    size_t n = FG_FAILS("tripper t = FailureRat(1)\nbreaker a { tripper = t }\nbreaker b { tripper = t | t }\n",
                        "t.fgp:1:13: error: unknown tripper 'FailureRat'");
    assert_int_equal(n, 1);
    /* a definition that did not parse: likewise */
    n = FG_FAILS("tripper t = FailureStreak(1) &\nbreaker a { tripper = t }\n", "t.fgp:2:1:");
    assert_int_equal(n, 1);
    /* an argument the scanner already rejected is not range-checked as well */
    n = FG_FAILS("breaker a { tripper = FailureStreak(1e999) }", "not finite");
    assert_int_equal(n, 1);
    /* a bad defaults setting is reported at the defaults, not at each breaker */
    n = FG_FAILS("defaults { retry = Cooldown(0) }\nbreaker a { }\nbreaker b { }\n", "t.fgp:1:29:");
    assert_int_equal(n, 1);
}

/* Slips a writer of policies makes (copied quotes, a percentage without its
 * '%', a blank before a unit, a string without its quotes, a misspelt or
 * miscapitalised keyword): each is one error, at the slip, that says what to
 * write instead -- not a cascade of stray bytes and syntax errors. */
static void common_slips_get_one_error_that_says_how_to_fix_them(void **state) {
    (void)state;
    static const struct {
        const char *src, *want;
    } slips[] = {
        {"breaker caf\xC3\xA9 { }",
         "t.fgp:1:12: error: unexpected character '\xC3\xA9' (U+00E9): outside strings and comments "
         "the language is ASCII"},
        {"breaker a { tracker = TypeOf(\xE2\x80\x9Ctimeout\xE2\x80\x9D) }",
         "t.fgp:1:30: error: typographic quotes: strings are written in ASCII double quotes"},
        {"breaker a { tracker = TypeOf('timeout') }",
         "t.fgp:1:30: error: strings are written in double quotes (\"...\"), not '...'"},
        {"breaker a { tracker = TypeOf('timeout) }", "t.fgp:1:30: error: unexpected character '''"},
        {"breaker a { tracker = TypeOf(timeout) }",
         "t.fgp:1:30: error: 'timeout' is a name, but an argument is a number or a string (a string "
         "is written in double quotes: \"timeout\")"},
        {"breaker a { tripper = FailureStreak(count = n) }", "t.fgp:1:45: error: 'n' is a name"},
        {"breaker a { tripper = FailureRate(5.) }",
         "t.fgp:1:35: error: malformed number '5.' (write '5' or '5.0')"},
        {"breaker a { retry = Cooldown(5.%) }",
         "t.fgp:1:30: error: malformed number '5.%' (write '5%' or '5.0%')"},
        {"breaker a { tripper = FailureRate(60 %) }",
         "t.fgp:1:35: error: a blank between a number and its unit: write '60%'"},
        {"breaker a { retry = Cooldown(5 ms, 0.1) }",
         "t.fgp:1:30: error: a blank between a number and its unit: write '5ms'"},
        {"breaker a { tracker = Status(500...599) }",
         "t.fgp:1:33: error: '...' is not a range: write a..b"},
        {"breaker a { tripper = FailureRate(60) }",
         "t.fgp:1:35: error: FailureRate() ratio must be in (0, 1], got 60 (did you mean '60%'?)"},
        {"breaker a { tripper = FAILURESTREAK(5) }",
         "unknown tripper 'FAILURESTREAK' (did you mean 'FailureStreak'?)"},
        {"braeker a { }", "t.fgp:1:1: error: syntax error, unknown statement 'braeker' (did you mean 'breaker'?)"},
        {"Breaker a { }", "unknown statement 'Breaker' (did you mean 'breaker'?)"},
        {"breaker a { tripper = FailureStreak(5) FailureRate(50%) }",
         "t.fgp:1:40: error: syntax error, a call 'FailureRate(...)' where a setting starts (is '&' "
         "or '|' missing before it, or the setting's name and '='?)"},
        {"breaker a {\n  FailureStreak(5)\n}", "t.fgp:2:3: error: syntax error, a call 'FailureStreak(...)'"},
        {"breaker a { tracker = Status(1e300) }",
         "Status() codes must be integers in [-2^53, 2^53], got 1e+300"},
    };
    for (size_t i = 0; i < sizeof slips / sizeof slips[0]; i++)
        assert_int_equal(FG_FAILS(slips[i].src, slips[i].want), 1);
    /* what these rules must leave alone */
    fg_policy *p = fg_test_compiles("tracker t = Status(500..599, 1 .. 2)\n"
                                    "breaker a { tracker = t; tripper = FailureRate(1.0) | FailureRate(100%) "
                                    "| FailureRate(50%) | AvgLatency(5s) | AvgLatency(0.5)\n"
                                    "  retry = Cooldown(1m) # it's fine\n  half_open_lease = 5 }");
    fg_policy_free(p);
    /* a ratio of 1.5 is no percentage anyone meant */
    const char *text;
    assert_null(fg_test_compile("breaker a { tripper = FailureRate(1.5) }", &text));
    assert_null(strstr(text, "did you mean"));
}

static void names_are_defined_once_and_before_use(void **state) {
    (void)state;
    FG_FAILS("tracker t = All()\ntripper t = FailureStreak(1)\nbreaker a { tracker = t }",
             "t.fgp:2:9: error: 't' is already defined (line 1)");
    /* a definition sees only what is above it: no cycles */
    FG_FAILS("tripper t = u | FailureStreak(1)\ntripper u = t\nbreaker a { tripper = u }",
             "t.fgp:1:13: error: unknown tripper 'u' (it is defined below, at line 2: a name is known only "
             "after its definition)\n");
    FG_FAILS("tripper t = t\n", "t.fgp:1:13: error: unknown tripper 't' (a definition cannot use itself: it "
                                 "sees only the names defined above it)\n");
    FG_FAILS("tracker t = ~(All() & t)\n", "t.fgp:1:23: error: unknown tracker 't' (a definition cannot use "
                                            "itself");
    /* a breaker or defaults using a name defined further down */
    FG_FAILS("defaults { tripper = late }\nbreaker a { }\ntripper late = FailureStreak(1)\n",
             "t.fgp:1:22: error: unknown tripper 'late' (it is defined below, at line 3:");
    /* a name of another kind below is no hint: the plain message */
    FG_FAILS("breaker a { tripper = later }\ntracker later = All()\n", "t.fgp:1:23: error: unknown tripper 'later'\n");
}

static void warnings_do_not_fail_the_compile(void **state) {
    (void)state;
    const char *text;
    fg_policy *p = fg_test_compile("tripper spare = FailureStreak(2)\n"
                                   "breaker a {\n"
                                   "  window = CountWindow(100)\n"
                                   "  tripper = MinRequests(200) & FailureRate(50%)\n"
                                   "}\n"
                                   "breaker b { tripper = Closed() & HalfOpened() & FailureStreak(1) }\n",
                                   &text);
    assert_non_null(p);
    assert_non_null(strstr(text, "t.fgp:1:9: warning: tripper 'spare' is defined but never used"));
    assert_non_null(strstr(text, "t.fgp:4:13: warning: the tripper can never fire: MinRequests(200) "
                                 "needs more calls than CountWindow(100) holds"));
    assert_non_null(strstr(text, "t.fgp:6:23: warning: this conjunction needs both Closed() and HalfOpened()"));
    fg_policy_free(p);
    /* through named definitions too */
    p = fg_test_compile("tripper c = Closed()\ntripper c2 = c\ntripper h = HalfOpened()\n"
                        "breaker a { tripper = c2 & h & FailureStreak(1) }\n", &text);
    assert_non_null(p);
    assert_non_null(strstr(text, "t.fgp:4:23: warning: this conjunction needs both Closed() and HalfOpened()"));
    fg_policy_free(p);
    /* fluxgate's default tripper needs 100 calls: the window is blamed */
    p = fg_test_compile("breaker a { window = CountWindow(10) }\n", &text);
    assert_non_null(p);
    assert_non_null(strstr(text, "t.fgp:1:22: warning: the default tripper can never fire"));
    fg_policy_free(p);
    /* one alternative that can fire is enough */
    p = fg_test_compile("breaker a { window = CountWindow(10) tripper = FailureStreak(3) | MinRequests(20) }\n", &text);
    assert_non_null(p);
    assert_string_equal(text, "");
    fg_policy_free(p);
    /* a definition named like a constructor: the two read alike below it */
    p = fg_test_compile("tripper FailureStreak = Closed()\n"
                        "breaker a { tripper = FailureStreak | FailureStreak(3) }\n", &text);
    assert_non_null(p);
    assert_string_equal(text, "t.fgp:1:9: warning: tripper 'FailureStreak' has the name of a constructor: "
                              "'FailureStreak' names this definition, 'FailureStreak(...)' still calls the "
                              "constructor\n"
                              "  tripper FailureStreak = Closed()\n"
                              "          ^\n");
    fg_policy_free(p);
}

/* With retry Never() only a manual command leaves open, and none leads to
 * half_open: the tripper runs in the closed state only. */
static void half_opened_under_never_is_a_warning(void **state) {
    (void)state;
    const char *text;
    fg_policy *p = fg_test_compile("breaker a {\n"
                                   "  retry = Never()\n"
                                   "  tripper = FailureStreak(3) | (HalfOpened() & FailureStreak(1))\n"
                                   "}\n",
                                   &text);
    assert_non_null(p);
    assert_non_null(strstr(text, "t.fgp:3:13: warning: HalfOpened() can never be true here: with retry "
                                 "Never() the breaker never enters half_open"));
    fg_policy_free(p);
    /* the same tripper with a retry that probes is fine */
    p = fg_test_compile("breaker a { retry = Cooldown(5s) tripper = FailureStreak(3) | "
                        "(HalfOpened() & FailureStreak(1)) }\n", &text);
    assert_non_null(p);
    assert_string_equal(text, "");
    fg_policy_free(p);
    /* and Never() without HalfOpened() is fine too */
    p = fg_test_compile("breaker a { retry = Never() tripper = FailureStreak(3) }\n", &text);
    assert_non_null(p);
    assert_string_equal(text, "");
    fg_policy_free(p);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(calls_carry_their_arguments_in_parameter_order_with_defaults),
        cmocka_unit_test(percentages_and_milliseconds_are_the_decimals_they_spell),
        cmocka_unit_test(a_unit_stands_only_where_its_kind_of_value_is_expected),
        cmocka_unit_test(every_numeric_parameter_says_what_it_measures),
        cmocka_unit_test(a_name_with_a_nul_byte_is_refused_at_the_byte),
        cmocka_unit_test(an_empty_name_is_refused_where_it_is_written),
        cmocka_unit_test(all_is_a_tracker_or_a_permit_by_position),
        cmocka_unit_test(chains_are_flattened_through_parentheses),
        cmocka_unit_test(named_definitions_are_shared_not_copied),
        cmocka_unit_test(the_never_fires_analysis_follows_alternatives),
        cmocka_unit_test(kind_mismatches_name_both_kinds),
        cmocka_unit_test(unknown_names_get_suggestions),
        cmocka_unit_test(argument_binding_errors_name_the_argument),
        cmocka_unit_test(ranges_are_fluxgates),
        cmocka_unit_test(values_at_the_edges_are_accepted),
        cmocka_unit_test(one_mistake_is_reported_once),
        cmocka_unit_test(common_slips_get_one_error_that_says_how_to_fix_them),
        cmocka_unit_test(names_are_defined_once_and_before_use),
        cmocka_unit_test(warnings_do_not_fail_the_compile),
        cmocka_unit_test(half_opened_under_never_is_a_warning),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
