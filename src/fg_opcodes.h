/*
 * fg_opcodes.h -- the bytecode instruction set, declared once.
 *
 * FG_OPCODE_LIST is the single source of truth: the enum, the opcode count,
 * the name table (disassembler), the operand-shape and kind tables
 * (verifier) and the documentation table (checked against the table in
 * doc/bytecode.md by test_disasm) are all expanded from it, so nothing has
 * to be kept in order by hand.
 *
 * An instruction is 32 bits: the opcode in the low byte and one 24-bit
 * operand above it. What the operand means is the opcode's shape: a jump
 * target, a constant-pool index (checked against the constant's type), an
 * alternative index, or nothing (operand 0).
 *
 * Booleans flow through control flow, not a value stack: a test sets the
 * VM's one condition flag, the next instruction is a conditional jump (or the
 * code generator's inversion of one), and every path ends in a RETURN_*.
 *
 * A test and the jump after it are one step of the VM: the code generator
 * always emits a test followed by exactly one JUMP_IF_*, the verifier insists
 * on it (and that no jump lands on a jump), so the VM evaluates the test,
 * reads the jump's sense and target from the next word and moves on by two
 * words or to the target -- one dispatch per test instead of two, with the
 * listing still showing both halves.
 */
#ifndef FG_OPCODES_H
#define FG_OPCODES_H

#include <stdint.h>

/* What an operand refers to. Pool shapes name the constant type they need. */
typedef enum fg_operand_shape {
    FG_OPERAND_NONE,        /* no operand: must be 0 */
    FG_OPERAND_TARGET,      /* a jump target: a later instruction index */
    FG_OPERAND_ALTERNATIVE, /* an index into the program's alternatives */
    FG_OPERAND_NUMBER,      /* pool: one number */
    FG_OPERAND_SLOW,        /* pool: a ratio and a SlowRate threshold index */
    FG_OPERAND_STRINGS,     /* pool: a set of strings (TypeOf) */
    FG_OPERAND_RANGES,      /* pool: a list of inclusive integer ranges (Status) */
    FG_OPERAND_GLOB,        /* pool: one glob pattern (Message) */
    FG_OPERAND_CUSTOM,      /* pool: a Custom() predicate index */
    FG_OPERAND_SHAPE_COUNT
} fg_operand_shape;

/* What an instruction does to control flow (see the file comment). */
typedef enum fg_opcode_role {
    FG_ROLE_JUMP,   /* a conditional jump: the second half of a step, after a test */
    FG_ROLE_RETURN, /* ends the program */
    FG_ROLE_TEST    /* sets the flag; always followed by a jump */
} fg_opcode_role;

/* Which programs may contain an opcode (fg_program_kind as bits). */
enum {
    FG_OPK_TRACKER = 1 << 0,
    FG_OPK_TRIPPER = 1 << 1,
    FG_OPK_ANY = FG_OPK_TRACKER | FG_OPK_TRIPPER
};

/* OP(name, role, operand shape, allowed in, what it does) */
#define FG_OPCODE_LIST(OP)                                                                                  \
    /* control flow */                                                                                      \
    OP(JUMP_IF_TRUE, FG_ROLE_JUMP, FG_OPERAND_TARGET, FG_OPK_ANY, "if flag: pc = target")                   \
    OP(JUMP_IF_FALSE, FG_ROLE_JUMP, FG_OPERAND_TARGET, FG_OPK_ANY, "if not flag: pc = target")              \
    OP(RETURN_TRUE, FG_ROLE_RETURN, FG_OPERAND_ALTERNATIVE, FG_OPK_ANY, "return true: alternative a fired") \
    OP(RETURN_FALSE, FG_ROLE_RETURN, FG_OPERAND_NONE, FG_OPK_ANY, "return false")                           \
    /* tripper tests: each sets the flag */                                                                 \
    OP(IS_CLOSED, FG_ROLE_TEST, FG_OPERAND_NONE, FG_OPK_TRIPPER, "flag = state is closed (Closed())")       \
    OP(IS_HALF_OPEN, FG_ROLE_TEST, FG_OPERAND_NONE, FG_OPK_TRIPPER, "flag = state is half_open (HalfOpened())") \
    OP(MIN_REQUESTS_GE, FG_ROLE_TEST, FG_OPERAND_NUMBER, FG_OPK_TRIPPER, "flag = total >= k")               \
    OP(FAILURE_RATE_GE, FG_ROLE_TEST, FG_OPERAND_NUMBER, FG_OPK_TRIPPER,                                    \
       "flag = total > 0 and failures/total >= k")                                                          \
    OP(AVG_LATENCY_GE, FG_ROLE_TEST, FG_OPERAND_NUMBER, FG_OPK_TRIPPER,                                     \
       "flag = total > 0 and total_duration/total >= k")                                                    \
    OP(SLOW_RATE_GE, FG_ROLE_TEST, FG_OPERAND_SLOW, FG_OPK_TRIPPER,                                         \
       "flag = total > 0 and slow[k.threshold]/total >= k.ratio")                                           \
    OP(FAILURE_STREAK_GE, FG_ROLE_TEST, FG_OPERAND_NUMBER, FG_OPK_TRIPPER,                                  \
       "flag = consecutive failures >= k")                                                                  \
    /* tracker tests: each sets the flag */                                                                 \
    OP(IS_ERROR, FG_ROLE_TEST, FG_OPERAND_NONE, FG_OPK_TRACKER, "flag = the outcome is an error (All())")   \
    OP(TYPE_IN, FG_ROLE_TEST, FG_OPERAND_STRINGS, FG_OPK_TRACKER, "flag = error type is in set k (TypeOf)") \
    OP(MESSAGE_MATCHES, FG_ROLE_TEST, FG_OPERAND_GLOB, FG_OPK_TRACKER, "flag = error message matches glob k (Message)") \
    OP(STATUS_IN, FG_ROLE_TEST, FG_OPERAND_RANGES, FG_OPK_TRACKER, "flag = status is in ranges k (Status)") \
    OP(CUSTOM, FG_ROLE_TEST, FG_OPERAND_CUSTOM, FG_OPK_TRACKER, "flag = customs[k](outcome) == 1 (Custom)")

typedef enum fg_opcode {
#define FG_OP_ENUM(name, role, shape, where, doc) FG_OP_##name,
    FG_OPCODE_LIST(FG_OP_ENUM)
#undef FG_OP_ENUM
    FG_OP_COUNT
} fg_opcode;

/* Instruction fields, in the manner of Lua's GET_OPCODE / GETARG_A. */
#define FG_INSN_OPERAND_BITS 24
#define FG_INSN_OPERAND_MAX ((1u << FG_INSN_OPERAND_BITS) - 1u)
#define FG_INSN(op, operand) ((uint32_t)(op) | ((uint32_t)(operand) << 8))
#define FG_INSN_OP(insn) ((uint32_t)(insn) & 0xffu)
#define FG_INSN_OPERAND(insn) ((uint32_t)(insn) >> 8)
#define FG_INSN_WITH_OPERAND(insn, operand) FG_INSN(FG_INSN_OP(insn), (operand))

/* The tables expanded from the list (defined in fg_program.c). Index them
 * only with an opcode below FG_OP_COUNT. */
extern const char *const fg_opcode_names[FG_OP_COUNT];
extern const fg_opcode_role fg_opcode_roles[FG_OP_COUNT];
extern const fg_operand_shape fg_opcode_shapes[FG_OP_COUNT];
extern const unsigned char fg_opcode_kinds[FG_OP_COUNT];
extern const char *const fg_opcode_docs[FG_OP_COUNT];
/* "none", "target", "alternative", "number", ... as doc/bytecode.md names them. */
extern const char *const fg_operand_shape_names[FG_OPERAND_SHAPE_COUNT];

#endif /* FG_OPCODES_H */
