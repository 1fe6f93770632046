/*
 * fg_verify.c -- the bytecode verifier (libpcap's filter validator, for our
 * instruction set).
 *
 * What it guarantees, so that fg_vm.c can trust a program without checks:
 *  - every opcode is known and allowed in the program's kind;
 *  - an operand without meaning is 0;
 *  - every jump goes forward and stays inside the code, so the VM's pc only
 *    grows and the VM always terminates;
 *  - every pool index is valid and names a constant of the type the opcode
 *    reads, and that constant's own strings, ranges, threshold or custom
 *    index are in range;
 *  - every RETURN_TRUE names an existing alternative;
 *  - the last instruction is a return, so no path falls off the end (with
 *    forward-only jumps, every path reaches the last instruction or an
 *    earlier return);
 *  - the code is a sequence of steps, each a return or a test immediately
 *    followed by a conditional jump: every test is followed by a jump, every
 *    jump follows a test, and no jump targets a jump. The VM executes a test
 *    and its jump as one step (reading the jump from the word after the
 *    test) and never dispatches a jump on its own.
 * Errors name the instruction index.
 */
#include <stdarg.h>
#include <stdio.h>

#include "fg_program.h"
#include "fg_program_block.h"

static int fg_verify_fail(char *err, size_t cap, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 3, 4)))
#endif
    ;

static int fg_verify_fail(char *err, size_t cap, const char *fmt, ...) {
    if (err != NULL && cap > 0) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(err, cap, fmt, ap);
        va_end(ap);
    }
    return -1;
}

static int fg_strref_ok(const fg_program *p, fg_strref r) {
    return r.offset < p->byte_count && r.length < p->byte_count - r.offset &&
           p->bytes[r.offset + r.length] == '\0';
}

/* See fg_program_block.h. */
int fg_program_constant_ok(const fg_program *p, const fg_constant *c) {
    switch (c->type) {
    case FG_OPERAND_NUMBER:
        return 1;
    case FG_OPERAND_SLOW:
        return c->first < p->threshold_count;
    case FG_OPERAND_CUSTOM:
        return c->first < p->custom_count;
    case FG_OPERAND_GLOB:
    case FG_OPERAND_STRINGS:
        if (c->type == FG_OPERAND_GLOB && c->count != 1) return 0;
        if (c->first > p->strref_count || c->count > p->strref_count - c->first) return 0;
        for (uint32_t i = 0; i < c->count; i++)
            if (!fg_strref_ok(p, p->strrefs[c->first + i])) return 0;
        return 1;
    case FG_OPERAND_RANGES:
        return c->first <= p->range_count && c->count <= p->range_count - c->first;
    default:
        return 0;
    }
}

/* Checks the tables every instruction may point into. */
static int fg_verify_tables(const fg_program *p, char *err, size_t cap) {
    if (p->code_length == 0) return fg_verify_fail(err, cap, "empty program");
    if (p->code_length > FG_MAX_INSTRUCTIONS)
        return fg_verify_fail(err, cap, "more than %d instructions", (int)FG_MAX_INSTRUCTIONS);
    if (p->constant_count > FG_MAX_CONSTANTS)
        return fg_verify_fail(err, cap, "more than %d constants", (int)FG_MAX_CONSTANTS);
    if (p->alternative_count == 0) return fg_verify_fail(err, cap, "no alternatives");
    if (p->threshold_count > FG_MAX_SLOW_THRESHOLDS)
        return fg_verify_fail(err, cap, "more than %d thresholds", (int)FG_MAX_SLOW_THRESHOLDS);
    if (!fg_strref_ok(p, p->text)) return fg_verify_fail(err, cap, "bad program text");
    for (uint32_t i = 0; i < p->alternative_count; i++)
        if (!fg_strref_ok(p, p->alternatives[i]))
            return fg_verify_fail(err, cap, "bad text of alternative %u", (unsigned)i);
    for (uint32_t i = 0; i < p->custom_count; i++)
        if (!fg_strref_ok(p, p->customs[i]))
            return fg_verify_fail(err, cap, "bad custom name %u", (unsigned)i);
    for (uint32_t i = 1; i < p->threshold_count; i++)
        if (!(p->thresholds[i - 1] < p->thresholds[i]))
            return fg_verify_fail(err, cap, "thresholds not ascending at %u", (unsigned)i);
    return 0;
}

/* The role of the instruction at pc, or -1 for an unknown opcode. */
static int fg_verify_role(const fg_program *p, uint32_t pc) {
    uint32_t op = FG_INSN_OP(p->code[pc]);
    return op < FG_OP_COUNT ? (int)fg_opcode_roles[op] : -1;
}

/* The instruction at pc (known, operand checked) fits the step structure:
 * a test is followed by a jump, a jump follows a test and lands on a test or
 * a return. The last instruction is known to be a return. */
static int fg_verify_step(const fg_program *p, uint32_t pc, char *err, size_t cap) {
    uint32_t insn = p->code[pc];
    const char *name = fg_opcode_names[FG_INSN_OP(insn)];
    switch (fg_opcode_roles[FG_INSN_OP(insn)]) {
    case FG_ROLE_TEST:
        if (pc + 1 >= p->code_length || fg_verify_role(p, pc + 1) != FG_ROLE_JUMP)
            return fg_verify_fail(err, cap, "instruction %04u: %s is not followed by a jump",
                                  (unsigned)pc, name);
        break;
    case FG_ROLE_JUMP:
        if (pc == 0 || fg_verify_role(p, pc - 1) != FG_ROLE_TEST)
            return fg_verify_fail(err, cap, "instruction %04u: %s does not follow a test",
                                  (unsigned)pc, name);
        /* the target is a later instruction, inside the code (checked) */
        if (fg_verify_role(p, FG_INSN_OPERAND(insn)) == FG_ROLE_JUMP)
            return fg_verify_fail(err, cap, "instruction %04u: %s target %u is a jump",
                                  (unsigned)pc, name, (unsigned)FG_INSN_OPERAND(insn));
        break;
    case FG_ROLE_RETURN:
        break;
    }
    return 0;
}

/* See the file comment and fg_program.h. */
int fg_program_verify(const fg_program *p, char *err, size_t cap) {
    if (p == NULL) return fg_verify_fail(err, cap, "no program");
    if (p->kind != FG_PROGRAM_TRACKER && p->kind != FG_PROGRAM_TRIPPER)
        return fg_verify_fail(err, cap, "unknown program kind");
    if (fg_verify_tables(p, err, cap) != 0) return -1;
    uint32_t last = FG_INSN_OP(p->code[p->code_length - 1]);
    if (last != FG_OP_RETURN_TRUE && last != FG_OP_RETURN_FALSE)
        return fg_verify_fail(err, cap, "instruction %04u: the program does not end in a return",
                              (unsigned)(p->code_length - 1));
    unsigned kind_bit = p->kind == FG_PROGRAM_TRACKER ? FG_OPK_TRACKER : FG_OPK_TRIPPER;
    for (uint32_t pc = 0; pc < p->code_length; pc++) {
        uint32_t op = FG_INSN_OP(p->code[pc]), arg = FG_INSN_OPERAND(p->code[pc]);
        if (op >= FG_OP_COUNT)
            return fg_verify_fail(err, cap, "instruction %04u: unknown opcode %u", (unsigned)pc,
                                  (unsigned)op);
        const char *name = fg_opcode_names[op];
        if (!(fg_opcode_kinds[op] & kind_bit))
            return fg_verify_fail(err, cap, "instruction %04u: %s is not allowed in a %s",
                                  (unsigned)pc, name,
                                  p->kind == FG_PROGRAM_TRACKER ? "tracker" : "tripper");
        fg_operand_shape shape = fg_opcode_shapes[op];
        switch (shape) {
        case FG_OPERAND_NONE:
            if (arg != 0)
                return fg_verify_fail(err, cap, "instruction %04u: %s takes no operand",
                                      (unsigned)pc, name);
            break;
        case FG_OPERAND_TARGET:
            if (arg <= pc || arg >= p->code_length)
                return fg_verify_fail(err, cap,
                                      "instruction %04u: %s target %u is not a later instruction",
                                      (unsigned)pc, name, (unsigned)arg);
            break;
        case FG_OPERAND_ALTERNATIVE:
            if (arg >= p->alternative_count)
                return fg_verify_fail(err, cap, "instruction %04u: %s alternative %u out of range",
                                      (unsigned)pc, name, (unsigned)arg);
            break;
        default:
            if (arg >= p->constant_count)
                return fg_verify_fail(err, cap, "instruction %04u: %s constant k%u out of range",
                                      (unsigned)pc, name, (unsigned)arg);
            if (p->constants[arg].type != shape)
                return fg_verify_fail(err, cap,
                                      "instruction %04u: %s needs a %s constant, k%u is not one",
                                      (unsigned)pc, name, fg_operand_shape_names[shape], (unsigned)arg);
            if (!fg_program_constant_ok(p, &p->constants[arg]))
                return fg_verify_fail(err, cap, "instruction %04u: %s constant k%u is malformed",
                                      (unsigned)pc, name, (unsigned)arg);
            break;
        }
        if (fg_verify_step(p, pc, err, cap) != 0) return -1;
    }
    return 0;
}
