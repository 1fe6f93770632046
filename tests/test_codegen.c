/*
 * test_codegen.c -- the code generator's contract: what it emits, how it
 * shares constants, where it stops (size limits, located errors), and that
 * every path frees what it took, on hand-built checked trees.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <cmocka.h>

#include "fg_opcodes.h"
#include "fg_program.h"
#include "fg_test_support.h"
#include "fg_test_tree.h"

static fg_program *compile(const fg_node *root, fg_program_kind kind) {
    fg_program *p = NULL;
    fg_codegen_error err;
    if (fg_codegen(root, kind, NULL, &p, &err) != 0) fail_msg("codegen failed: %s", err.message);
    return p;
}

static uint32_t count_op(const fg_program *p, fg_opcode op) {
    uint32_t n = 0;
    fg_program *mp = (fg_program *)p;
    for (uint32_t i = 0; i < fg_program_code_length(p); i++)
        n += FG_INSN_OP(fg_program_code_mutable(mp)[i]) == (uint32_t)op;
    return n;
}

static void a_leaf_is_a_test_a_jump_and_two_returns(void **state) {
    (void)state;
    fg_tree t = {0};
    fg_program *p = compile(tt_call1(&t, "MinRequests(3)", FG_BUILTIN_MIN_REQUESTS, 3),
                            FG_PROGRAM_TRIPPER);
    assert_int_equal(fg_program_code_length(p), 4);
    uint32_t *code = fg_program_code_mutable(p);
    assert_int_equal(FG_INSN_OP(code[0]), FG_OP_MIN_REQUESTS_GE);
    assert_int_equal(FG_INSN_OP(code[1]), FG_OP_JUMP_IF_FALSE);
    assert_int_equal(FG_INSN_OPERAND(code[1]), 3);
    assert_int_equal(FG_INSN_OP(code[2]), FG_OP_RETURN_TRUE);
    assert_int_equal(FG_INSN_OP(code[3]), FG_OP_RETURN_FALSE);
    assert_int_equal(fg_program_get_kind(p), FG_PROGRAM_TRIPPER);
    assert_int_equal(fg_program_alternative_count(p), 1);
    assert_string_equal(fg_program_alternative_text(p, 0), "MinRequests(3)");
    assert_string_equal(fg_program_text(p), "MinRequests(3)");
    fg_program_free(p, NULL);
}

static void not_costs_no_instruction_in_a_tripper(void **state) {
    (void)state;
    fg_tree t = {0};
    fg_node *leaf = tt_call0(&t, "Closed()", FG_BUILTIN_CLOSED);
    fg_program *plain = compile(leaf, FG_PROGRAM_TRIPPER);
    fg_program *negated = compile(tt_not(&t, "~Closed()", leaf), FG_PROGRAM_TRIPPER);
    assert_int_equal(fg_program_code_length(plain), fg_program_code_length(negated));
    assert_int_equal(count_op(negated, FG_OP_JUMP_IF_TRUE), 1);
    assert_int_equal(count_op(plain, FG_OP_JUMP_IF_TRUE), 0);
    fg_program_free(plain, NULL);
    fg_program_free(negated, NULL);
}

static void a_negated_tracker_tests_for_an_error_first(void **state) {
    (void)state;
    fg_tree t = {0};
    fg_node *leaf = tt_call(&t, "Status(503)", FG_BUILTIN_STATUS, 1, tt_num(503));
    fg_program *p = compile(tt_not(&t, "~Status(503)", leaf), FG_PROGRAM_TRACKER);
    assert_int_equal(FG_INSN_OP(fg_program_code_mutable(p)[0]), FG_OP_IS_ERROR);
    assert_int_equal(count_op(p, FG_OP_IS_ERROR), 1);
    fg_program_free(p, NULL);
}

static void alternatives_flatten_through_parentheses_and_references(void **state) {
    (void)state;
    fg_tree t = {0};
    fg_node *a = tt_call1(&t, "FailureStreak(1)", FG_BUILTIN_FAILURE_STREAK, 1);
    fg_node *b = tt_call1(&t, "FailureStreak(2)", FG_BUILTIN_FAILURE_STREAK, 2);
    fg_node *c = tt_call1(&t, "FailureStreak(3)", FG_BUILTIN_FAILURE_STREAK, 3);
    fg_node *d = tt_call1(&t, "MinRequests(4)", FG_BUILTIN_MIN_REQUESTS, 4);
    fg_node *bc = tt_or(&t, "FailureStreak(2) | FailureStreak(3)", b, c, NULL);
    fg_node *named = tt_ref(&t, "two_or_three", bc);
    fg_node *twice = tt_ref(&t, "alias", named); /* a reference to a reference */
    fg_node *not_d = tt_not(&t, "~MinRequests(4)", d);
    fg_node *root = tt_or(&t, "(FailureStreak(1) | alias) | ~MinRequests(4)",
                          tt_or(&t, "(FailureStreak(1) | alias)", a, twice, NULL), not_d, NULL);
    fg_program *p = compile(root, FG_PROGRAM_TRIPPER);
    assert_int_equal(fg_program_alternative_count(p), 4);
    assert_string_equal(fg_program_alternative_text(p, 0), "FailureStreak(1)");
    assert_string_equal(fg_program_alternative_text(p, 1), "FailureStreak(2)");
    assert_string_equal(fg_program_alternative_text(p, 2), "FailureStreak(3)");
    assert_string_equal(fg_program_alternative_text(p, 3), "~MinRequests(4)");
    assert_int_equal(count_op(p, FG_OP_RETURN_TRUE), 4);

    /* a reference to a single test explains itself with the definition's text */
    fg_program *q = compile(tt_ref(&t, "streak", a), FG_PROGRAM_TRIPPER);
    assert_string_equal(fg_program_text(q), "streak");
    assert_string_equal(fg_program_alternative_text(q, 0), "FailureStreak(1)");
    fg_program_free(p, NULL);
    fg_program_free(q, NULL);
}

static void a_tracker_is_its_own_single_alternative(void **state) {
    (void)state;
    fg_tree t = {0};
    fg_node *root = tt_or(&t, "All() | Status(500)", tt_call0(&t, "All()", FG_BUILTIN_ALL),
                          tt_call(&t, "Status(500)", FG_BUILTIN_STATUS, 1, tt_num(500)), NULL);
    fg_program *p = compile(root, FG_PROGRAM_TRACKER);
    assert_int_equal(fg_program_alternative_count(p), 1);
    assert_string_equal(fg_program_alternative_text(p, 0), "All() | Status(500)");
    assert_int_equal(fg_program_threshold_count(p), 0);
    assert_int_equal(fg_program_custom_count(p), 0);
    assert_false(fg_program_reads_state(p, FG_STATE_CLOSED));
    fg_program_free(p, NULL);
}

/* Reasons and listings read on one line however the file was laid out; a
 * string literal keeps its spaces and its '#'. */
static void source_texts_are_stored_on_one_line(void **state) {
    (void)state;
    fg_tree t = {0};
    fg_node *a = tt_call(&t, "Message(\"a  # b\")", FG_BUILTIN_MESSAGE, 1, tt_str("a  # b"));
    fg_node *root = tt_and(&t, "\n  ~Message(\"a  # b\")   # not retried\n\t& All()  \n",
                           tt_not(&t, "~Message(\"a  # b\")", a),
                           tt_call0(&t, "All()", FG_BUILTIN_ALL), NULL);
    fg_program *p = compile(root, FG_PROGRAM_TRACKER);
    assert_string_equal(fg_program_text(p), "~Message(\"a  # b\") & All()");
    fg_program_free(p, NULL);
    fg_node *esc = tt_call(&t, "TypeOf(\"x\\\"  y\",\n  \"z\")", FG_BUILTIN_TYPE_OF, 2,
                           tt_str("x\"  y"), tt_str("z"));
    p = compile(esc, FG_PROGRAM_TRACKER);
    assert_string_equal(fg_program_text(p), "TypeOf(\"x\\\"  y\", \"z\")");
    fg_program_free(p, NULL);
}

static void equal_constants_are_stored_once(void **state) {
    (void)state;
    fg_tree t = {0};
    fg_node *root = tt_or(
        &t, "...",
        tt_call1(&t, "MinRequests(5)", FG_BUILTIN_MIN_REQUESTS, 5),
        tt_call1(&t, "FailureStreak(5)", FG_BUILTIN_FAILURE_STREAK, 5), /* the same number */
        tt_call1(&t, "FailureRate(0.5)", FG_BUILTIN_FAILURE_RATE, 0.5),
        tt_call1(&t, "FailureRate(0.5)", FG_BUILTIN_FAILURE_RATE, 0.5),
        tt_call(&t, "SlowRate(0.5, threshold=1)", FG_BUILTIN_SLOW_RATE, 2, tt_num(0.5), tt_num(1)),
        tt_call(&t, "SlowRate(0.5, threshold=1)", FG_BUILTIN_SLOW_RATE, 2, tt_num(0.5), tt_num(1)),
        NULL);
    fg_program *p = compile(root, FG_PROGRAM_TRIPPER);
    assert_int_equal(fg_program_constant_count(p), 3); /* 5, 0.5, slow(0.5, t0) */
    fg_program_free(p, NULL);

    fg_node *sets = tt_or(
        &t, "...",
        tt_call(&t, "TypeOf(\"a\", \"b\")", FG_BUILTIN_TYPE_OF, 2, tt_str("a"), tt_str("b")),
        tt_call(&t, "TypeOf(\"a\", \"b\")", FG_BUILTIN_TYPE_OF, 2, tt_str("a"), tt_str("b")),
        tt_call(&t, "TypeOf(\"ab\")", FG_BUILTIN_TYPE_OF, 1, tt_str("ab")),
        tt_call(&t, "Message(\"a\")", FG_BUILTIN_MESSAGE, 1, tt_str("a")),
        tt_call(&t, "Status(1..2)", FG_BUILTIN_STATUS, 1, tt_range(1, 2)),
        tt_call(&t, "Status(1..2)", FG_BUILTIN_STATUS, 1, tt_range(1, 2)),
        tt_call(&t, "Status(1)", FG_BUILTIN_STATUS, 1, tt_num(1)), NULL);
    fg_program *q = compile(sets, FG_PROGRAM_TRACKER);
    /* {a,b}, {ab}, glob a (a glob is not a set), 1..2, 1 */
    assert_int_equal(fg_program_constant_count(q), 5);
    fg_program_free(q, NULL);
}

static void slow_rate_thresholds_are_limited_and_the_error_is_located(void **state) {
    (void)state;
    static const char *texts[] = {"SlowRate(0.5, threshold=1)", "SlowRate(0.5, threshold=2)",
                                  "SlowRate(0.5, threshold=3)", "SlowRate(0.5, threshold=4)",
                                  "SlowRate(0.5, threshold=5)", "SlowRate(0.5, threshold=6)",
                                  "SlowRate(0.5, threshold=7)", "SlowRate(0.5, threshold=8)",
                                  "SlowRate(0.5, threshold=9)"};
    fg_tree t = {0};
    fg_node *calls[9];
    for (int i = 0; i < 9; i++) {
        calls[i] = tt_call(&t, texts[i], FG_BUILTIN_SLOW_RATE, 2, tt_num(0.5), tt_num(i + 1));
        calls[i]->loc.line = 1;
        calls[i]->loc.column = 10 + i;
    }
    fg_node *eight = tt_or(&t, "eight", calls[0], calls[1], calls[2], calls[3], calls[4], calls[5],
                           calls[6], calls[7], calls[0], NULL);
    fg_program *p = compile(eight, FG_PROGRAM_TRIPPER);
    assert_int_equal(fg_program_threshold_count(p), FG_MAX_SLOW_THRESHOLDS);
    fg_program_free(p, NULL);

    fg_node *nine = tt_or(&t, "nine", calls[0], calls[1], calls[2], calls[3], calls[4], calls[5],
                          calls[6], calls[7], calls[8], NULL);
    fg_codegen_error err;
    p = (fg_program *)&err; /* must be reset to NULL */
    assert_int_equal(fg_codegen(nine, FG_PROGRAM_TRIPPER, NULL, &p, &err), -1);
    assert_null(p);
    assert_int_equal(err.loc.column, 18); /* the ninth SlowRate */
    assert_non_null(strstr(err.message, "SlowRate"));
}

/* t[i+1] = t[i] | t[i]: 2^60 alternatives if expanded. It must stop at the
 * instruction limit, at once, with a located error, and free everything. */
static void a_doubling_definition_hits_the_instruction_limit(void **state) {
    (void)state;
    enum { LEVELS = 60 };
    static fg_node nodes[2 * LEVELS + 1];
    static fg_node *ref_kids[LEVELS][1], *or_kids[LEVELS][2];
    fg_tree t = {0};
    nodes[0] = *tt_call1(&t, "FailureStreak(1)", FG_BUILTIN_FAILURE_STREAK, 1);
    fg_node *prev = &nodes[0];
    for (int i = 0; i < LEVELS; i++) {
        fg_node *ref = &nodes[1 + 2 * i], *or = &nodes[2 + 2 * i];
        *ref = *tt_node(&t, "t", FG_NODE_REF);
        ref_kids[i][0] = prev;
        ref->children = ref_kids[i];
        ref->child_count = 1;
        *or = *tt_node(&t, "t | t", FG_NODE_OR);
        or_kids[i][0] = or_kids[i][1] = ref;
        or->children = or_kids[i];
        or->child_count = 2;
        prev = or;
    }
    for (int kind = 0; kind < 2; kind++) {
        fg_test_alloc c = {0};
        fg_allocator alloc = fg_test_allocator(&c);
        fg_codegen_error err;
        fg_program *p = NULL;
        nodes[0].builtin = kind == 0 ? FG_BUILTIN_FAILURE_STREAK : FG_BUILTIN_ALL;
        nodes[0].kind_bits = kind == 0 ? FG_KIND_TRIPPER : FG_KIND_TRACKER;
        assert_int_equal(fg_codegen(prev, kind == 0 ? FG_PROGRAM_TRIPPER : FG_PROGRAM_TRACKER,
                                    &alloc, &p, &err),
                         -1);
        assert_null(p);
        if (strstr(err.message, "too large") == NULL) fail_msg("%s", err.message);
        assert_int_equal(err.loc.line, 1);
        fg_test_assert_nothing_live(&c);
    }
}

/* A chain of a million references (t1 = ~t0, t2 = ~t1, ...) is walked on the
 * heap, not the C stack. */
static void a_very_deep_chain_compiles_without_recursion(void **state) {
    (void)state;
    enum { DEPTH = 1000000 };
    fg_node *nodes = calloc(DEPTH + 1, sizeof *nodes);
    fg_node **kids = calloc(DEPTH, sizeof *kids);
    assert_non_null(nodes);
    assert_non_null(kids);
    fg_tree t = {0};
    nodes[0] = *tt_call0(&t, "Closed()", FG_BUILTIN_CLOSED);
    for (size_t i = 1; i <= DEPTH; i++) {
        nodes[i] = nodes[0];
        nodes[i].kind = (i % 2) ? FG_NODE_NOT : FG_NODE_REF;
        kids[i - 1] = &nodes[i - 1];
        nodes[i].children = &kids[i - 1];
        nodes[i].child_count = 1;
    }
    fg_program *p = compile(&nodes[DEPTH], FG_PROGRAM_TRIPPER);
    /* 500000 negations: an even count, so it is Closed() itself */
    fg_metric m = {0};
    fg_trip_context ctx = {&m, FG_STATE_CLOSED, 0, NULL};
    assert_true(fg_vm_trip(p, &ctx, NULL));
    ctx.state = FG_STATE_HALF_OPEN;
    assert_false(fg_vm_trip(p, &ctx, NULL));
    fg_program_free(p, NULL);
    free(nodes);
    free(kids);
}

/* t[i+1] = x & t[i], 20000 deep: every level hands a long list of false
 * exits up to the next, which must be joined in O(1) (a list walk per level
 * made this quadratic once). */
static void a_long_chain_of_named_conjunctions_compiles(void **state) {
    (void)state;
    enum { DEPTH = 20000 };
    fg_node *nodes = calloc(2 * DEPTH + 1, sizeof *nodes);
    fg_node **kids = calloc(3 * DEPTH, sizeof *kids);
    assert_non_null(nodes);
    assert_non_null(kids);
    fg_tree t = {0};
    fg_node *streak = tt_call1(&t, "FailureStreak(1)", FG_BUILTIN_FAILURE_STREAK, 1);
    fg_node *min = tt_call1(&t, "MinRequests(1)", FG_BUILTIN_MIN_REQUESTS, 1);
    fg_node *prev = streak;
    for (size_t i = 0; i < DEPTH; i++) {
        fg_node *ref = &nodes[2 * i], *and = &nodes[2 * i + 1];
        *ref = *streak;
        ref->kind = FG_NODE_REF;
        kids[3 * i] = prev;
        ref->children = &kids[3 * i];
        ref->child_count = 1;
        *and = *streak;
        and->kind = FG_NODE_AND;
        kids[3 * i + 1] = min;
        kids[3 * i + 2] = ref;
        and->children = &kids[3 * i + 1];
        and->child_count = 2;
        prev = and;
    }
    fg_program *p = compile(prev, FG_PROGRAM_TRIPPER);
    fg_metric m = {0};
    fg_trip_context ctx = {&m, FG_STATE_CLOSED, 1, NULL};
    assert_false(fg_vm_trip(p, &ctx, NULL)); /* MinRequests fails */
    m.total_count = 1;
    assert_true(fg_vm_trip(p, &ctx, NULL));
    ctx.consecutive_failures = 0;
    assert_false(fg_vm_trip(p, &ctx, NULL)); /* the innermost FailureStreak fails */
    fg_program_free(p, NULL);
    free(nodes);
    free(kids);
}

/* A chain of 5000 plain references (t1 = t0, t2 = t1, ...) used 10000 times
 * emits few instructions but would visit 50 million nodes: a located error. */
static void a_long_reference_chain_used_many_times_is_bounded(void **state) {
    (void)state;
    enum { CHAIN = 5000, USES = 10000 };
    fg_node *nodes = calloc(CHAIN + 2, sizeof *nodes);
    fg_node **kids = calloc(CHAIN + USES, sizeof *kids);
    assert_non_null(nodes);
    assert_non_null(kids);
    fg_tree t = {0};
    nodes[0] = *tt_call0(&t, "Closed()", FG_BUILTIN_CLOSED);
    for (size_t i = 1; i <= CHAIN; i++) {
        nodes[i] = nodes[0];
        nodes[i].kind = FG_NODE_REF;
        kids[i - 1] = &nodes[i - 1];
        nodes[i].children = &kids[i - 1];
        nodes[i].child_count = 1;
    }
    fg_node *or = &nodes[CHAIN + 1];
    *or = nodes[0];
    or->kind = FG_NODE_OR;
    or->children = &kids[CHAIN];
    or->child_count = USES;
    for (size_t i = 0; i < USES; i++) kids[CHAIN + i] = &nodes[CHAIN];
    fg_test_alloc c = {0};
    fg_allocator alloc = fg_test_allocator(&c);
    fg_codegen_error err;
    fg_program *p = NULL;
    assert_int_equal(fg_codegen(or, FG_PROGRAM_TRIPPER, &alloc, &p, &err), -1);
    if (strstr(err.message, "too large") == NULL) fail_msg("%s", err.message);
    fg_test_assert_nothing_live(&c);
    /* used a few times, the same chain is fine */
    or->child_count = 3;
    p = compile(or, FG_PROGRAM_TRIPPER);
    assert_int_equal(fg_program_alternative_count(p), 3);
    fg_program_free(p, NULL);
    free(nodes);
    free(kids);
}

static void the_wrong_kind_of_constructor_is_an_error_not_a_crash(void **state) {
    (void)state;
    fg_tree t = {0};
    fg_codegen_error err;
    fg_program *p = NULL;
    assert_int_equal(fg_codegen(tt_call0(&t, "All()", FG_BUILTIN_ALL), FG_PROGRAM_TRIPPER, NULL,
                                &p, &err),
                     -1);
    assert_null(p);
    assert_int_equal(fg_codegen(tt_call1(&t, "CountWindow(3)", FG_BUILTIN_COUNT_WINDOW, 3),
                                FG_PROGRAM_TRACKER, NULL, &p, &err),
                     -1);
    fg_node *bare = tt_call0(&t, "MinRequests()", FG_BUILTIN_MIN_REQUESTS); /* unchecked */
    assert_int_equal(fg_codegen(bare, FG_PROGRAM_TRIPPER, NULL, &p, &err), -1);
    fg_node *numbers = tt_call1(&t, "TypeOf(5)", FG_BUILTIN_TYPE_OF, 5); /* unchecked */
    assert_int_equal(fg_codegen(numbers, FG_PROGRAM_TRACKER, NULL, &p, &err), -1);
    assert_non_null(strstr(err.message, "internal error"));
    assert_int_equal(fg_codegen(NULL, FG_PROGRAM_TRIPPER, NULL, &p, &err), -1);
    assert_null(p);
}

/* Every allocation failure is reported as an error and leaks nothing. */
static void every_allocation_failure_is_clean(void **state) {
    (void)state;
    fg_tree t = {0};
    fg_node *root = tt_or(
        &t, "Custom(\"x\") | TypeOf(\"a\", \"b\") | ~Message(\"m*\") | Status(500..599)",
        tt_call(&t, "Custom(\"x\")", FG_BUILTIN_CUSTOM, 1, tt_str("x")),
        tt_call(&t, "TypeOf(\"a\", \"b\")", FG_BUILTIN_TYPE_OF, 2, tt_str("a"), tt_str("b")),
        tt_not(&t, "~Message(\"m*\")", tt_call(&t, "Message(\"m*\")", FG_BUILTIN_MESSAGE, 1, tt_str("m*"))),
        tt_call(&t, "Status(500..599)", FG_BUILTIN_STATUS, 1, tt_range(500, 599)), NULL);
    size_t successes = 0;
    for (size_t fail_at = 1; fail_at < 200; fail_at++) {
        fg_test_alloc c = {.fail_at = (long)fail_at};
        fg_allocator alloc = fg_test_allocator(&c);
        fg_codegen_error err;
        fg_program *p = NULL;
        int rc = fg_codegen(root, FG_PROGRAM_TRACKER, &alloc, &p, &err);
        if (rc == 0) {
            successes++;
            assert_non_null(p);
            fg_program_free(p, &alloc);
        } else {
            assert_null(p);
            assert_non_null(strstr(err.message, "out of memory"));
        }
        fg_test_assert_nothing_live(&c);
    }
    assert_true(successes > 0); /* the loop went past the last allocation */
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(a_leaf_is_a_test_a_jump_and_two_returns),
        cmocka_unit_test(not_costs_no_instruction_in_a_tripper),
        cmocka_unit_test(a_negated_tracker_tests_for_an_error_first),
        cmocka_unit_test(alternatives_flatten_through_parentheses_and_references),
        cmocka_unit_test(a_tracker_is_its_own_single_alternative),
        cmocka_unit_test(source_texts_are_stored_on_one_line),
        cmocka_unit_test(equal_constants_are_stored_once),
        cmocka_unit_test(slow_rate_thresholds_are_limited_and_the_error_is_located),
        cmocka_unit_test(a_doubling_definition_hits_the_instruction_limit),
        cmocka_unit_test(a_very_deep_chain_compiles_without_recursion),
        cmocka_unit_test(a_long_chain_of_named_conjunctions_compiles),
        cmocka_unit_test(a_long_reference_chain_used_many_times_is_bounded),
        cmocka_unit_test(the_wrong_kind_of_constructor_is_an_error_not_a_crash),
        cmocka_unit_test(every_allocation_failure_is_clean),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
