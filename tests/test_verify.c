/*
 * test_verify.c -- the verifier rejects every way a program could make the VM
 * read out of bounds or run forever, naming the instruction. Each test
 * corrupts one instruction of a freshly compiled program and restores it.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <cmocka.h>

#include "fg_opcodes.h"
#include "fg_program.h"
#include "fg_test_tree.h"

typedef struct fixture {
    fg_tree tree;
    fg_program *tripper; /* FailureStreak(5) | (MinRequests(20) & FailureRate(0.5)) */
    fg_program *tracker; /* TypeOf("timeout") | Status(500..599) */
} fixture;

static int setup(void **state) {
    fixture *f = calloc(1, sizeof *f);
    fg_tree *t = &f->tree;
    fg_node *trip = tt_or(t, "FailureStreak(5) | (MinRequests(20) & FailureRate(0.5))",
                          tt_call1(t, "FailureStreak(5)", FG_BUILTIN_FAILURE_STREAK, 5),
                          tt_and(t, "(MinRequests(20) & FailureRate(0.5))",
                                 tt_call1(t, "MinRequests(20)", FG_BUILTIN_MIN_REQUESTS, 20),
                                 tt_call1(t, "FailureRate(0.5)", FG_BUILTIN_FAILURE_RATE, 0.5), NULL),
                          NULL);
    fg_node *track = tt_or(t, "TypeOf(\"timeout\") | Status(500..599)",
                           tt_call(t, "TypeOf(\"timeout\")", FG_BUILTIN_TYPE_OF, 1, tt_str("timeout")),
                           tt_call(t, "Status(500..599)", FG_BUILTIN_STATUS, 1, tt_range(500, 599)),
                           NULL);
    fg_codegen_error err;
    if (fg_codegen(trip, FG_PROGRAM_TRIPPER, NULL, &f->tripper, &err) != 0 ||
        fg_codegen(track, FG_PROGRAM_TRACKER, NULL, &f->tracker, &err) != 0)
        return -1;
    *state = f;
    return 0;
}

static int teardown(void **state) {
    fixture *f = *state;
    fg_program_free(f->tripper, NULL);
    fg_program_free(f->tracker, NULL);
    free(f);
    return 0;
}

/* Replaces instruction pc with insn, expects the verifier to reject the
 * program with a message containing each of the given parts, and restores it. */
static void expect_rejected(fg_program *p, uint32_t pc, uint32_t insn, const char *part1,
                            const char *part2) {
    uint32_t *code = fg_program_code_mutable(p);
    uint32_t saved = code[pc];
    code[pc] = insn;
    char msg[200] = "";
    int rc = fg_program_verify(p, msg, sizeof msg);
    code[pc] = saved;
    if (rc != -1) fail_msg("accepted instruction %u = 0x%08x", (unsigned)pc, (unsigned)insn);
    if (strstr(msg, part1) == NULL || (part2 && strstr(msg, part2) == NULL))
        fail_msg("message '%s' lacks '%s' / '%s'", msg, part1, part2 ? part2 : "");
    assert_int_equal(fg_program_verify(p, NULL, 0), 0); /* restored */
}

/* The tripper's code, for reference:
 *   0000 FAILURE_STREAK_GE k0   0001 JUMP_IF_FALSE 0003   0002 RETURN_TRUE a0
 *   0003 MIN_REQUESTS_GE k1     0004 JUMP_IF_FALSE 0008   0005 FAILURE_RATE_GE k2
 *   0006 JUMP_IF_FALSE 0008     0007 RETURN_TRUE a1       0008 RETURN_FALSE */
static void what_codegen_emits_is_valid(void **state) {
    fixture *f = *state;
    char msg[200] = "unchanged";
    assert_int_equal(fg_program_verify(f->tripper, msg, sizeof msg), 0);
    assert_int_equal(fg_program_verify(f->tracker, msg, sizeof msg), 0);
    assert_int_equal(fg_program_code_length(f->tripper), 9);
}

static void unknown_opcodes_are_rejected(void **state) {
    fixture *f = *state;
    expect_rejected(f->tripper, 3, FG_INSN(FG_OP_COUNT, 1), "instruction 0003", "unknown opcode");
    expect_rejected(f->tripper, 3, FG_INSN(0xff, 0), "instruction 0003", "unknown opcode");
}

static void jumps_must_go_forward_inside_the_code(void **state) {
    fixture *f = *state;
    expect_rejected(f->tripper, 4, FG_INSN(FG_OP_JUMP_IF_FALSE, 4), "instruction 0004", "target 4");
    expect_rejected(f->tripper, 4, FG_INSN(FG_OP_JUMP_IF_FALSE, 0), "instruction 0004", "target 0");
    expect_rejected(f->tripper, 4, FG_INSN(FG_OP_JUMP_IF_TRUE, 9), "instruction 0004", "target 9");
    expect_rejected(f->tripper, 4, FG_INSN(FG_OP_JUMP_IF_TRUE, FG_INSN_OPERAND_MAX),
                    "instruction 0004", NULL);
}

static void pool_operands_must_exist_and_have_the_right_type(void **state) {
    fixture *f = *state;
    uint32_t k = fg_program_constant_count(f->tripper);
    expect_rejected(f->tripper, 3, FG_INSN(FG_OP_MIN_REQUESTS_GE, k), "instruction 0003",
                    "out of range");
    /* k0 of the tracker is a string set, k1 a list of ranges */
    expect_rejected(f->tracker, 0, FG_INSN(FG_OP_STATUS_IN, 0), "instruction 0000", "ranges");
    expect_rejected(f->tracker, 0, FG_INSN(FG_OP_MESSAGE_MATCHES, 0), "instruction 0000", "glob");
    expect_rejected(f->tracker, 0, FG_INSN(FG_OP_CUSTOM, 1), "instruction 0000", "custom");
}

static void alternatives_must_exist(void **state) {
    fixture *f = *state;
    expect_rejected(f->tripper, 7, FG_INSN(FG_OP_RETURN_TRUE, 2), "instruction 0007",
                    "alternative 2");
}

static void operandless_instructions_carry_no_operand(void **state) {
    fixture *f = *state;
    expect_rejected(f->tripper, 8, FG_INSN(FG_OP_RETURN_FALSE, 1), "instruction 0008",
                    "no operand");
}

static void every_path_ends_in_a_return(void **state) {
    fixture *f = *state;
    /* the last instruction falls through past the end */
    expect_rejected(f->tripper, 8, FG_INSN(FG_OP_IS_CLOSED, 0), "instruction 0008",
                    "does not end in a return");
}

/* A test and the jump after it are one step of the VM, which reads the jump
 * from the word after the test and never dispatches a jump on its own. */
static void every_test_is_followed_by_a_jump(void **state) {
    fixture *f = *state;
    /* the jump after FAILURE_STREAK_GE k0 becomes a return */
    expect_rejected(f->tripper, 1, FG_INSN(FG_OP_RETURN_FALSE, 0), "instruction 0000",
                    "not followed by a jump");
    /* a test after a test */
    expect_rejected(f->tripper, 4, FG_INSN(FG_OP_IS_CLOSED, 0), "instruction 0003",
                    "not followed by a jump");
}

static void every_jump_follows_a_test(void **state) {
    fixture *f = *state;
    /* RETURN_TRUE a0 becomes a jump after a jump */
    expect_rejected(f->tripper, 2, FG_INSN(FG_OP_JUMP_IF_FALSE, 8), "instruction 0002",
                    "does not follow a test");
    /* a jump first */
    expect_rejected(f->tracker, 0, FG_INSN(FG_OP_JUMP_IF_TRUE, 4), "instruction 0000",
                    "does not follow a test");
}

static void no_jump_lands_on_a_jump(void **state) {
    fixture *f = *state;
    /* 0001 JUMP_IF_FALSE 0003 retargeted at the jump 0004 */
    expect_rejected(f->tripper, 1, FG_INSN(FG_OP_JUMP_IF_FALSE, 4), "instruction 0001",
                    "target 4 is a jump");
}

static void tests_must_belong_to_the_program_kind(void **state) {
    fixture *f = *state;
    expect_rejected(f->tripper, 0, FG_INSN(FG_OP_IS_ERROR, 0), "instruction 0000", "tripper");
    expect_rejected(f->tracker, 0, FG_INSN(FG_OP_IS_CLOSED, 0), "instruction 0000", "tracker");
}

/* Every single-instruction corruption of a valid program either is rejected
 * or leaves a program the VM runs to a return without reading out of bounds
 * (run under ASan: `make test SANITIZE=1`). */
static void no_single_corruption_escapes(void **state) {
    fixture *f = *state;
    fg_program *programs[] = {f->tripper, f->tracker};
    fg_metric m = {0};
    m.total_count = 30;
    m.failure_count = 20;
    fg_trip_context ctx = {&m, FG_STATE_CLOSED, 3, NULL};
    fg_outcome o = {1, 1, 503, "timeout", 7, "m", 1, NULL};
    for (size_t n = 0; n < 2; n++) {
        fg_program *p = programs[n];
        uint32_t *code = fg_program_code_mutable(p);
        for (uint32_t pc = 0; pc < fg_program_code_length(p); pc++) {
            uint32_t saved = code[pc];
            for (uint32_t op = 0; op < FG_OP_COUNT + 2; op++) {
                for (uint32_t arg = 0; arg < 12; arg++) {
                    code[pc] = FG_INSN(op, arg);
                    if (fg_program_verify(p, NULL, 0) != 0) continue;
                    if (n == 0) (void)fg_vm_trip(p, &ctx, NULL);
                    else (void)fg_vm_track(p, &o, NULL);
                }
            }
            code[pc] = saved;
        }
        assert_int_equal(fg_program_verify(p, NULL, 0), 0);
    }
}

/* The disassembler shows a corrupted program as it is, without trusting it. */
static void the_disassembler_prints_corrupted_code_safely(void **state) {
    fixture *f = *state;
    uint32_t *code = fg_program_code_mutable(f->tracker);
    uint32_t saved0 = code[0], saved2 = code[2];
    code[0] = FG_INSN(FG_OP_COUNT + 7, 5);
    code[2] = FG_INSN(FG_OP_STATUS_IN, 12345);
    char buf[2048];
    fg_program_disassemble(f->tracker, buf, sizeof buf);
    code[0] = saved0;
    code[2] = saved2;
    assert_non_null(strstr(buf, "0000  ?23 5\n"));
    assert_non_null(strstr(buf, "0002  STATUS_IN          k12345  ; (invalid)\n"));
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(what_codegen_emits_is_valid),
        cmocka_unit_test(unknown_opcodes_are_rejected),
        cmocka_unit_test(jumps_must_go_forward_inside_the_code),
        cmocka_unit_test(pool_operands_must_exist_and_have_the_right_type),
        cmocka_unit_test(alternatives_must_exist),
        cmocka_unit_test(operandless_instructions_carry_no_operand),
        cmocka_unit_test(every_path_ends_in_a_return),
        cmocka_unit_test(every_test_is_followed_by_a_jump),
        cmocka_unit_test(every_jump_follows_a_test),
        cmocka_unit_test(no_jump_lands_on_a_jump),
        cmocka_unit_test(tests_must_belong_to_the_program_kind),
        cmocka_unit_test(no_single_corruption_escapes),
        cmocka_unit_test(the_disassembler_prints_corrupted_code_safely),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
