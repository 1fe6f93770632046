/*
 * test_disasm.c -- golden listings: "expression -> expected listing" for every
 * tracker and tripper constructor, the operators, and the SPEC 3.2 payment
 * example. Trees are built by hand (fg_test_tree.h) so that these pin the
 * back end alone; a change in code generation or in the listing format
 * shows up here as a readable diff. The text of each hand-built constructor
 * and operator tree also goes through the front end, which must give the
 * same listing.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <cmocka.h>

#include "fg_alloc.h"
#include "fg_file.h"
#include "fg_opcodes.h"
#include "fg_payment_policy.h"
#include "fg_policy_internal.h"
#include "fg_program.h"
#include "fg_test_tree.h"

/* Compiles root and compares its listing with expected, line by line. */
static void expect_listing(const fg_node *root, fg_program_kind kind, const char *expected) {
    fg_program *p = NULL;
    fg_codegen_error err;
    if (fg_codegen(root, kind, NULL, &p, &err) != 0)
        fail_msg("codegen failed: %s", err.message);
    char buf[8192];
    size_t need = fg_program_disassemble(p, buf, sizeof buf);
    assert_true(need < sizeof buf);
    assert_int_equal(need, strlen(buf));
    if (strcmp(buf, expected) != 0) {
        print_error("expected:\n%s\nactual:\n%s\n", expected, buf);
        fail();
    }
    /* snprintf-style: a short buffer gets a truncated, terminated prefix and the full length */
    char small[16];
    assert_int_equal(fg_program_disassemble(p, small, sizeof small), need);
    assert_int_equal(strlen(small), sizeof small - 1);
    assert_memory_equal(small, expected, sizeof small - 1);
    assert_int_equal(fg_program_disassemble(p, NULL, 0), need);
    fg_program_free(p, NULL);
}

/* Compiles expression as a policy's tracker (tracker = 1) or tripper and
 * compares that program's listing with expected. */
static void expect_listing_from_text(int tracker, const char *expression, const char *expected) {
    fg_expressions exprs = {0};
    if (tracker) exprs.tracker = expression;
    else exprs.tripper = expression;
    fg_report *report = NULL;
    fg_policy *policy = fg_policy_from_expressions("golden", &exprs, NULL, &report);
    if (policy == NULL) fail_msg("'%s' did not compile", expression);
    const fg_breaker_def *def = &policy->breakers[0];
    char buf[8192];
    fg_program_disassemble(tracker ? def->tracker : def->tripper, buf, sizeof buf);
    if (strcmp(buf, expected) != 0) {
        print_error("%s\nexpected:\n%s\nactual:\n%s\n", expression, expected, buf);
        fail();
    }
    fg_report_free(report);
    fg_policy_free(policy);
}

/* Both routes to one listing: root, built by hand, through the back end
 * alone, and root's text through the front end as well. */
static void expect_listing_both_ways(const fg_node *root, fg_program_kind kind, const char *expected) {
    expect_listing(root, kind, expected);
    expect_listing_from_text(kind == FG_PROGRAM_TRACKER, root->text, expected);
}

/* ---- each constructor alone, built by hand and from its text ------------------
 * Every program of one constructor ends alike: its test, then the jump around
 * the RETURN_TRUE of alternative a0. A tripper's header names a0 (and a
 * SlowRate its threshold t0), a Custom() tracker its predicate c0. */
#define ONE_TEST_TAIL               \
    "0001  JUMP_IF_FALSE      0003\n" \
    "0002  RETURN_TRUE        a0\n"   \
    "0003  RETURN_FALSE\n"

/* The arguments as the checker leaves them (what tt_num, tt_str and tt_range make). */
#define NUM(x) {.kind = FG_VALUE_NUMBER, .number = (x)}
#define STR(s) {.kind = FG_VALUE_STRING, .string = (s), .length = sizeof(s) - 1}
#define RANGE(lo, hi) {.kind = FG_VALUE_RANGE, .number = (lo), .high = (hi)}

typedef struct constructor_golden {
    fg_program_kind kind;
    const char *text; /* the call as written: its node's text, and the front end's input */
    fg_builtin_id id;
    uint32_t argc;
    fg_value args[3];
    const char *listing;
} constructor_golden;

static const constructor_golden constructor_goldens[] = {
    {FG_PROGRAM_TRACKER, "All()", FG_BUILTIN_ALL, 0, {{0}},
     "tracker: All()\n"
     "0000  IS_ERROR\n" ONE_TEST_TAIL},
    {FG_PROGRAM_TRACKER, "TypeOf(\"timeout\", \"say \\\"hi\\\"\")", FG_BUILTIN_TYPE_OF, 2,
     {STR("timeout"), STR("say \"hi\"")},
     "tracker: TypeOf(\"timeout\", \"say \\\"hi\\\"\")\n"
     "0000  TYPE_IN            k0  ; \"timeout\", \"say \\\"hi\\\"\"\n" ONE_TEST_TAIL},
    {FG_PROGRAM_TRACKER, "Status(500..599, 429)", FG_BUILTIN_STATUS, 2,
     {RANGE(500, 599), NUM(429)},
     "tracker: Status(500..599, 429)\n"
     "0000  STATUS_IN          k0  ; 500..599, 429\n" ONE_TEST_TAIL},
    {FG_PROGRAM_TRACKER, "Message(\"*time?out*\")", FG_BUILTIN_MESSAGE, 1, {STR("*time?out*")},
     "tracker: Message(\"*time?out*\")\n"
     "0000  MESSAGE_MATCHES    k0  ; \"*time?out*\"\n" ONE_TEST_TAIL},
    {FG_PROGRAM_TRACKER, "Custom(\"is_fatal\")", FG_BUILTIN_CUSTOM, 1, {STR("is_fatal")},
     "tracker: Custom(\"is_fatal\")\n"
     "  c0: \"is_fatal\"\n"
     "0000  CUSTOM             k0  ; c0 \"is_fatal\"\n" ONE_TEST_TAIL},
    {FG_PROGRAM_TRIPPER, "Closed()", FG_BUILTIN_CLOSED, 0, {{0}},
     "tripper: Closed()\n"
     "  a0: Closed()\n"
     "0000  IS_CLOSED\n" ONE_TEST_TAIL},
    {FG_PROGRAM_TRIPPER, "HalfOpened()", FG_BUILTIN_HALF_OPENED, 0, {{0}},
     "tripper: HalfOpened()\n"
     "  a0: HalfOpened()\n"
     "0000  IS_HALF_OPEN\n" ONE_TEST_TAIL},
    {FG_PROGRAM_TRIPPER, "MinRequests(100)", FG_BUILTIN_MIN_REQUESTS, 1, {NUM(100)},
     "tripper: MinRequests(100)\n"
     "  a0: MinRequests(100)\n"
     "0000  MIN_REQUESTS_GE    k0  ; 100\n" ONE_TEST_TAIL},
    {FG_PROGRAM_TRIPPER, "FailureRate(60%)", FG_BUILTIN_FAILURE_RATE, 1, {NUM(0.6)},
     "tripper: FailureRate(60%)\n"
     "  a0: FailureRate(60%)\n"
     "0000  FAILURE_RATE_GE    k0  ; 0.6\n" ONE_TEST_TAIL},
    {FG_PROGRAM_TRIPPER, "AvgLatency(250ms)", FG_BUILTIN_AVG_LATENCY, 1, {NUM(0.25)},
     "tripper: AvgLatency(250ms)\n"
     "  a0: AvgLatency(250ms)\n"
     "0000  AVG_LATENCY_GE     k0  ; 0.25\n" ONE_TEST_TAIL},
    {FG_PROGRAM_TRIPPER, "SlowRate(30%, threshold = 2s)", FG_BUILTIN_SLOW_RATE, 2,
     {NUM(0.3), NUM(2)},
     "tripper: SlowRate(30%, threshold = 2s)\n"
     "  a0: SlowRate(30%, threshold = 2s)\n"
     "  t0: 2s\n"
     "0000  SLOW_RATE_GE       k0  ; 0.3 of calls >= t0 (2s)\n" ONE_TEST_TAIL},
    {FG_PROGRAM_TRIPPER, "FailureStreak(5)", FG_BUILTIN_FAILURE_STREAK, 1, {NUM(5)},
     "tripper: FailureStreak(5)\n"
     "  a0: FailureStreak(5)\n"
     "0000  FAILURE_STREAK_GE  k0  ; 5\n" ONE_TEST_TAIL},
};

static void each_constructor_alone_compiles_to_its_listing(void **state) {
    (void)state;
    for (size_t i = 0; i < sizeof constructor_goldens / sizeof constructor_goldens[0]; i++) {
        const constructor_golden *g = &constructor_goldens[i];
        fg_tree t = {0};
        /* tt_call reads the first argc of the three */
        fg_node *root = tt_call(&t, g->text, g->id, g->argc, g->args[0], g->args[1], g->args[2]);
        expect_listing_both_ways(root, g->kind, g->listing);
    }
}

/* ---- operators (built by hand and from their text) and the SPEC's example ----- */

static void not_tracker(void **state) {
    (void)state;
    fg_tree t = {0};
    fg_node *root =
        tt_not(&t, "~TypeOf(\"Cancelled\")",
               tt_call(&t, "TypeOf(\"Cancelled\")", FG_BUILTIN_TYPE_OF, 1, tt_str("Cancelled")));
    expect_listing_both_ways(root, FG_PROGRAM_TRACKER,
                   "tracker: ~TypeOf(\"Cancelled\")\n"
                   "0000  IS_ERROR\n"
                   "0001  JUMP_IF_FALSE      0005\n"
                   "0002  TYPE_IN            k0  ; \"Cancelled\"\n"
                   "0003  JUMP_IF_TRUE       0005\n"
                   "0004  RETURN_TRUE        a0\n"
                   "0005  RETURN_FALSE\n");
}

static void and_tracker(void **state) {
    (void)state;
    fg_tree t = {0};
    fg_node *root = tt_and(
        &t, "Status(500..599) & ~Message(\"*retry*\")",
        tt_call(&t, "Status(500..599)", FG_BUILTIN_STATUS, 1, tt_range(500, 599)),
        tt_not(&t, "~Message(\"*retry*\")",
               tt_call(&t, "Message(\"*retry*\")", FG_BUILTIN_MESSAGE, 1, tt_str("*retry*"))),
        NULL);
    expect_listing_both_ways(root, FG_PROGRAM_TRACKER,
                   "tracker: Status(500..599) & ~Message(\"*retry*\")\n"
                   "0000  STATUS_IN          k0  ; 500..599\n"
                   "0001  JUMP_IF_FALSE      0007\n"
                   "0002  IS_ERROR\n"
                   "0003  JUMP_IF_FALSE      0007\n"
                   "0004  MESSAGE_MATCHES    k1  ; \"*retry*\"\n"
                   "0005  JUMP_IF_TRUE       0007\n"
                   "0006  RETURN_TRUE        a0\n"
                   "0007  RETURN_FALSE\n");
}

/* The SPEC 3.2 payment example's code, pinned once: payment_transport and
 * payment_api_tripper build its trees by hand, and
 * the_payment_policy_compiles_to_its_listing gets them from the policy text,
 * so back end alone and front end + back end must both give this listing.
 * The tracker's code goes without its header line, which names the
 * expression by hand and `transport` through the front end. */
#define PAYMENT_TRANSPORT_CODE                                                         \
    "0000  TYPE_IN            k0  ; \"timeout\", \"connection refused\", \"closed\"\n" \
    "0001  JUMP_IF_TRUE       0004\n"                                                  \
    "0002  STATUS_IN          k1  ; 500..599\n"                                        \
    "0003  JUMP_IF_FALSE      0005\n"                                                  \
    "0004  RETURN_TRUE        a0\n"                                                    \
    "0005  RETURN_FALSE\n"

#define PAYMENT_API_TRIPPER_LISTING                                                                   \
    "tripper: standard | (MinRequests(20) & SlowRate(30%, threshold = 2s))\n"                         \
    "  a0: FailureStreak(5)\n"                                                                        \
    "  a1: (MinRequests(20) & ((Closed() & FailureRate(60%)) | (HalfOpened() & FailureRate(50%))))\n" \
    "  a2: (MinRequests(20) & SlowRate(30%, threshold = 2s))\n"                                       \
    "  t0: 2s\n"                                                                                      \
    "0000  FAILURE_STREAK_GE  k0  ; 5\n"                                                              \
    "0001  JUMP_IF_FALSE      0003\n"                                                                 \
    "0002  RETURN_TRUE        a0\n"                                                                   \
    "0003  MIN_REQUESTS_GE    k1  ; 20\n"                                                             \
    "0004  JUMP_IF_FALSE      0014\n"                                                                 \
    "0005  IS_CLOSED\n"                                                                               \
    "0006  JUMP_IF_FALSE      0009\n"                                                                 \
    "0007  FAILURE_RATE_GE    k2  ; 0.6\n"                                                            \
    "0008  JUMP_IF_TRUE       0013\n"                                                                 \
    "0009  IS_HALF_OPEN\n"                                                                            \
    "0010  JUMP_IF_FALSE      0014\n"                                                                 \
    "0011  FAILURE_RATE_GE    k3  ; 0.5\n"                                                            \
    "0012  JUMP_IF_FALSE      0014\n"                                                                 \
    "0013  RETURN_TRUE        a1\n"                                                                   \
    "0014  MIN_REQUESTS_GE    k1  ; 20\n"                                                             \
    "0015  JUMP_IF_FALSE      0019\n"                                                                 \
    "0016  SLOW_RATE_GE       k4  ; 0.3 of calls >= t0 (2s)\n"                                        \
    "0017  JUMP_IF_FALSE      0019\n"                                                                 \
    "0018  RETURN_TRUE        a2\n"                                                                   \
    "0019  RETURN_FALSE\n"

static void payment_transport(void **state) {
    (void)state;
    fg_tree t = {0};
    fg_node *root = tt_or(
        &t, "TypeOf(\"timeout\", \"connection refused\", \"closed\") | Status(500..599)",
        tt_call(&t, "TypeOf(\"timeout\", \"connection refused\", \"closed\")", FG_BUILTIN_TYPE_OF,
                3, tt_str("timeout"), tt_str("connection refused"), tt_str("closed")),
        tt_call(&t, "Status(500..599)", FG_BUILTIN_STATUS, 1, tt_range(500, 599)), NULL);
    expect_listing(
        root, FG_PROGRAM_TRACKER,
        "tracker: TypeOf(\"timeout\", \"connection refused\", \"closed\") | Status(500..599)\n"
        PAYMENT_TRANSPORT_CODE);
}

static void not_tripper(void **state) {
    (void)state;
    fg_tree t = {0};
    fg_node *root = tt_not(
        &t, "~(Closed() | FailureStreak(3))",
        tt_or(&t, "(Closed() | FailureStreak(3))", tt_call0(&t, "Closed()", FG_BUILTIN_CLOSED),
              tt_call1(&t, "FailureStreak(3)", FG_BUILTIN_FAILURE_STREAK, 3), NULL));
    expect_listing_both_ways(root, FG_PROGRAM_TRIPPER,
                   "tripper: ~(Closed() | FailureStreak(3))\n"
                   "  a0: ~(Closed() | FailureStreak(3))\n"
                   "0000  IS_CLOSED\n"
                   "0001  JUMP_IF_TRUE       0005\n"
                   "0002  FAILURE_STREAK_GE  k0  ; 3\n"
                   "0003  JUMP_IF_TRUE       0005\n"
                   "0004  RETURN_TRUE        a0\n"
                   "0005  RETURN_FALSE\n");
}

static void default_tripper(void **state) {
    (void)state;
    fg_tree t = {0};
    fg_node *root = tt_and(&t, "MinRequests(100) & FailureRate(0.5)",
                           tt_call1(&t, "MinRequests(100)", FG_BUILTIN_MIN_REQUESTS, 100),
                           tt_call1(&t, "FailureRate(0.5)", FG_BUILTIN_FAILURE_RATE, 0.5), NULL);
    expect_listing_both_ways(root, FG_PROGRAM_TRIPPER,
                   "tripper: MinRequests(100) & FailureRate(0.5)\n"
                   "  a0: MinRequests(100) & FailureRate(0.5)\n"
                   "0000  MIN_REQUESTS_GE    k0  ; 100\n"
                   "0001  JUMP_IF_FALSE      0005\n"
                   "0002  FAILURE_RATE_GE    k1  ; 0.5\n"
                   "0003  JUMP_IF_FALSE      0005\n"
                   "0004  RETURN_TRUE        a0\n"
                   "0005  RETURN_FALSE\n");
}

static void payment_api_tripper(void **state) {
    (void)state;
    fg_tree t = {0};
    fg_node *root = tt_payment_api_tripper(&t);
    expect_listing(root, FG_PROGRAM_TRIPPER, PAYMENT_API_TRIPPER_LISTING);
}

/* ---- through the front end ------------------------------------------------
 * More expressions from source text alone, so that parser + checker + codegen
 * agree on what an expression means (the hand-built trees above are checked
 * from their text as well). */

typedef struct golden {
    int tracker; /* 1: a tracker expression, 0: a tripper */
    const char *expression;
    const char *listing;
} golden;

static const golden expression_goldens[] = {
    {1, "TypeOf(\"a\", \"b\\\"c\")",
     "tracker: TypeOf(\"a\", \"b\\\"c\")\n"
     "0000  TYPE_IN            k0  ; \"a\", \"b\\\"c\"\n"
     "0001  JUMP_IF_FALSE      0003\n"
     "0002  RETURN_TRUE        a0\n"
     "0003  RETURN_FALSE\n"},
    {1, "Message(\"*timeout*\")",
     "tracker: Message(\"*timeout*\")\n"
     "0000  MESSAGE_MATCHES    k0  ; \"*timeout*\"\n"
     "0001  JUMP_IF_FALSE      0003\n"
     "0002  RETURN_TRUE        a0\n"
     "0003  RETURN_FALSE\n"},
    {1, "Custom(\"fatal\") | Custom(\"slow\") & ~Custom(\"fatal\")",
     "tracker: Custom(\"fatal\") | Custom(\"slow\") & ~Custom(\"fatal\")\n"
     "  c0: \"fatal\"\n"
     "  c1: \"slow\"\n"
     "0000  CUSTOM             k0  ; c0 \"fatal\"\n"
     "0001  JUMP_IF_TRUE       0008\n"
     "0002  CUSTOM             k1  ; c1 \"slow\"\n"
     "0003  JUMP_IF_FALSE      0009\n"
     "0004  IS_ERROR\n"
     "0005  JUMP_IF_FALSE      0009\n"
     "0006  CUSTOM             k0  ; c0 \"fatal\"\n"
     "0007  JUMP_IF_TRUE       0009\n"
     "0008  RETURN_TRUE        a0\n"
     "0009  RETURN_FALSE\n"},
    {0, "Closed() & HalfOpened()",
     "tripper: Closed() & HalfOpened()\n"
     "  a0: Closed() & HalfOpened()\n"
     "0000  IS_CLOSED\n"
     "0001  JUMP_IF_FALSE      0005\n"
     "0002  IS_HALF_OPEN\n"
     "0003  JUMP_IF_FALSE      0005\n"
     "0004  RETURN_TRUE        a0\n"
     "0005  RETURN_FALSE\n"},
    {0, "MinRequests(20) & FailureRate(60%)",
     "tripper: MinRequests(20) & FailureRate(60%)\n"
     "  a0: MinRequests(20) & FailureRate(60%)\n"
     "0000  MIN_REQUESTS_GE    k0  ; 20\n"
     "0001  JUMP_IF_FALSE      0005\n"
     "0002  FAILURE_RATE_GE    k1  ; 0.6\n"
     "0003  JUMP_IF_FALSE      0005\n"
     "0004  RETURN_TRUE        a0\n"
     "0005  RETURN_FALSE\n"},
    {0, "SlowRate(0.3, threshold = 2s) | SlowRate(50%, threshold=500ms) | SlowRate(0.3, threshold=2)",
     "tripper: SlowRate(0.3, threshold = 2s) | SlowRate(50%, threshold=500ms) | SlowRate(0.3, threshold=2)\n"
     "  a0: SlowRate(0.3, threshold = 2s)\n"
     "  a1: SlowRate(50%, threshold=500ms)\n"
     "  a2: SlowRate(0.3, threshold=2)\n"
     "  t0: 0.5s\n"
     "  t1: 2s\n"
     "0000  SLOW_RATE_GE       k0  ; 0.3 of calls >= t1 (2s)\n"
     "0001  JUMP_IF_FALSE      0003\n"
     "0002  RETURN_TRUE        a0\n"
     "0003  SLOW_RATE_GE       k1  ; 0.5 of calls >= t0 (0.5s)\n"
     "0004  JUMP_IF_FALSE      0006\n"
     "0005  RETURN_TRUE        a1\n"
     "0006  SLOW_RATE_GE       k0  ; 0.3 of calls >= t1 (2s)\n"
     "0007  JUMP_IF_FALSE      0009\n"
     "0008  RETURN_TRUE        a2\n"
     "0009  RETURN_FALSE\n"},
    {0, "FailureStreak(5) | ~(Closed())",
     "tripper: FailureStreak(5) | ~(Closed())\n"
     "  a0: FailureStreak(5)\n"
     "  a1: ~(Closed())\n"
     "0000  FAILURE_STREAK_GE  k0  ; 5\n"
     "0001  JUMP_IF_FALSE      0003\n"
     "0002  RETURN_TRUE        a0\n"
     "0003  IS_CLOSED\n"
     "0004  JUMP_IF_TRUE       0006\n"
     "0005  RETURN_TRUE        a1\n"
     "0006  RETURN_FALSE\n"},
    {0, "FailureStreak(5) | (MinRequests(20) & FailureRate(0.6))",
     "tripper: FailureStreak(5) | (MinRequests(20) & FailureRate(0.6))\n"
     "  a0: FailureStreak(5)\n"
     "  a1: (MinRequests(20) & FailureRate(0.6))\n"
     "0000  FAILURE_STREAK_GE  k0  ; 5\n"
     "0001  JUMP_IF_FALSE      0003\n"
     "0002  RETURN_TRUE        a0\n"
     "0003  MIN_REQUESTS_GE    k1  ; 20\n"
     "0004  JUMP_IF_FALSE      0008\n"
     "0005  FAILURE_RATE_GE    k2  ; 0.6\n"
     "0006  JUMP_IF_FALSE      0008\n"
     "0007  RETURN_TRUE        a1\n"
     "0008  RETURN_FALSE\n"},
};

static void expressions_compile_to_their_listings(void **state) {
    (void)state;
    for (size_t i = 0; i < sizeof expression_goldens / sizeof expression_goldens[0]; i++)
        expect_listing_from_text(expression_goldens[i].tracker, expression_goldens[i].expression,
                                 expression_goldens[i].listing);
}

/* SPEC 3.2, verbatim (fg_payment_policy.h): named definitions expand where
 * they are used, the alternatives flatten through `standard`, and texts read
 * on one line. */
static void the_payment_policy_compiles_to_its_listing(void **state) {
    (void)state;
    fg_report *report = NULL;
    fg_policy *policy = fg_policy_compile(fg_payment_policy, sizeof fg_payment_policy - 1,
                                          "payment.fgp", NULL, &report);
    assert_non_null(policy);
    assert_int_equal(policy->breaker_count, 1);
    char buf[8192];
    size_t n = fg_program_disassemble(policy->breakers[0].tracker, buf, sizeof buf);
    fg_program_disassemble(policy->breakers[0].tripper, buf + n, sizeof buf - n);
    const char *expected = "tracker: transport\n" PAYMENT_TRANSPORT_CODE PAYMENT_API_TRIPPER_LISTING;
    if (strcmp(buf, expected) != 0) {
        print_error("expected:\n%s\nactual:\n%s\n", expected, buf);
        fail();
    }
    fg_report_free(report);
    fg_policy_free(policy);
}

/* ---- the opcode table in doc/bytecode.md ----------------------------------- */

/* The documentation's table is the X-macro's, row for row (run from the
 * repository root, as `make test-c` does). */
static void the_documented_opcode_table_matches_the_instruction_set(void **state) {
    (void)state;
    fg_allocator alloc = fg_alloc_resolve(NULL);
    size_t size, cap;
    char *doc = fg_read_file("doc/bytecode.md", &alloc, 1 << 20, &size, &cap);
    if (doc == NULL) fail_msg("doc/bytecode.md not found: run the tests from the repository root");
    for (int op = 0; op < FG_OP_COUNT; op++) {
        const char *where = fg_opcode_kinds[op] == FG_OPK_ANY       ? "both"
                            : fg_opcode_kinds[op] == FG_OPK_TRIPPER ? "tripper"
                                                                    : "tracker";
        char row[256];
        snprintf(row, sizeof row, "| `%s` | %s | %s | %s |\n", fg_opcode_names[op],
                 fg_operand_shape_names[fg_opcode_shapes[op]], where, fg_opcode_docs[op]);
        if (strstr(doc, row) == NULL) fail_msg("doc/bytecode.md lacks the row: %s", row);
    }
    fg_alloc_free(&alloc, doc, cap);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(each_constructor_alone_compiles_to_its_listing),
        cmocka_unit_test(not_tracker),
        cmocka_unit_test(and_tracker),
        cmocka_unit_test(payment_transport),
        cmocka_unit_test(not_tripper),
        cmocka_unit_test(default_tripper),
        cmocka_unit_test(payment_api_tripper),
        cmocka_unit_test(expressions_compile_to_their_listings),
        cmocka_unit_test(the_payment_policy_compiles_to_its_listing),
        cmocka_unit_test(the_documented_opcode_table_matches_the_instruction_set),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
