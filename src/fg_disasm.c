/*
 * fg_disasm.c -- a readable listing of a compiled program (`fluxgate disasm`,
 * golden tests). One instruction per line, after a header with the source
 * text, the alternatives, the SlowRate thresholds and the Custom() names:
 *
 *   tripper: FailureStreak(5) | MinRequests(20)
 *     a0: FailureStreak(5)
 *     a1: MinRequests(20)
 *   0000  FAILURE_STREAK_GE  k0  ; 5
 *   0001  JUMP_IF_FALSE      0003
 *   0002  RETURN_TRUE        a0
 *   ...
 * The format is part of the golden tests: change it only with them.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fg_program.h"
#include "fg_program_block.h"
#include "fg_text.h"

/* The shortest %g form that reads back as the same double. */
static void fg_out_number(fg_text *o, double d) {
    char tmp[40];
    for (int digits = 15; digits <= 17; digits++) {
        snprintf(tmp, sizeof tmp, "%.*g", digits, d);
        if (strtod(tmp, NULL) == d) break;
    }
    fg_text_printf(o, "%s", tmp);
}

/* A string in the language's own quoting, so that the listing is unambiguous. */
static void fg_out_quoted(fg_text *o, const char *s, size_t n) {
    fg_text_printf(o, "\"");
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c == '"' || c == '\\') fg_text_printf(o, "\\%c", c);
        else if (c == '\n') fg_text_printf(o, "\\n");
        else if (c == '\t') fg_text_printf(o, "\\t");
        else if (c < 0x20 || c == 0x7f) fg_text_printf(o, "\\x%02x", c);
        else fg_text_printf(o, "%c", c);
    }
    fg_text_printf(o, "\"");
}

static void fg_out_strref(fg_text *o, const fg_program *p, fg_strref r) {
    fg_out_quoted(o, p->bytes + r.offset, r.length);
}

/* The comment after a pool operand: what the constant holds. */
static void fg_out_constant(fg_text *o, const fg_program *p, const fg_constant *c) {
    fg_text_printf(o, "  ; ");
    switch (c->type) {
    case FG_OPERAND_NUMBER:
        fg_out_number(o, c->number);
        break;
    case FG_OPERAND_SLOW:
        fg_out_number(o, c->number);
        fg_text_printf(o, " of calls >= t%u (", (unsigned)c->first);
        fg_out_number(o, p->thresholds[c->first]);
        fg_text_printf(o, "s)");
        break;
    case FG_OPERAND_STRINGS:
    case FG_OPERAND_GLOB:
        for (uint32_t i = 0; i < c->count; i++) {
            if (i > 0) fg_text_printf(o, ", ");
            fg_out_strref(o, p, p->strrefs[c->first + i]);
        }
        break;
    case FG_OPERAND_RANGES:
        for (uint32_t i = 0; i < c->count; i++) {
            const fg_range *r = &p->ranges[c->first + i];
            fg_text_printf(o, "%s%lld", i > 0 ? ", " : "", (long long)r->low);
            if (r->high != r->low) fg_text_printf(o, "..%lld", (long long)r->high);
        }
        break;
    case FG_OPERAND_CUSTOM:
        fg_text_printf(o, "c%u ", (unsigned)c->first);
        fg_out_strref(o, p, p->customs[c->first]);
        break;
    default:
        fg_text_printf(o, "?");
        break;
    }
}

static void fg_out_header(fg_text *o, const fg_program *p) {
    fg_text_printf(o, "%s: %s\n", p->kind == FG_PROGRAM_TRACKER ? "tracker" : "tripper",
                  fg_program_string(p, p->text));
    if (p->kind == FG_PROGRAM_TRIPPER)
        for (uint32_t i = 0; i < p->alternative_count; i++)
            fg_text_printf(o, "  a%u: %s\n", (unsigned)i, fg_program_string(p, p->alternatives[i]));
    for (uint32_t i = 0; i < p->threshold_count; i++) {
        fg_text_printf(o, "  t%u: ", (unsigned)i);
        fg_out_number(o, p->thresholds[i]);
        fg_text_printf(o, "s\n");
    }
    for (uint32_t i = 0; i < p->custom_count; i++) {
        fg_text_printf(o, "  c%u: ", (unsigned)i);
        fg_out_strref(o, p, p->customs[i]);
        fg_text_printf(o, "\n");
    }
}

/* See fg_program.h. Meant for verified programs (every program from
 * fg_codegen is), but it reads nothing out of bounds on a corrupted one:
 * unknown opcodes and unreadable constants are printed as such. */
size_t fg_program_disassemble(const fg_program *p, char *buf, size_t cap) {
    fg_text o = fg_text_into(buf, cap);
    fg_out_header(&o, p);
    for (uint32_t pc = 0; pc < p->code_length; pc++) {
        uint32_t op = FG_INSN_OP(p->code[pc]), arg = FG_INSN_OPERAND(p->code[pc]);
        if (op >= FG_OP_COUNT) {
            fg_text_printf(&o, "%04u  ?%u %u\n", (unsigned)pc, (unsigned)op, (unsigned)arg);
            continue;
        }
        if (fg_opcode_shapes[op] == FG_OPERAND_NONE) {
            fg_text_printf(&o, "%04u  %s\n", (unsigned)pc, fg_opcode_names[op]);
            continue;
        }
        fg_text_printf(&o, "%04u  %-18s", (unsigned)pc, fg_opcode_names[op]);
        switch (fg_opcode_shapes[op]) {
        case FG_OPERAND_TARGET:
            fg_text_printf(&o, " %04u", (unsigned)arg);
            break;
        case FG_OPERAND_ALTERNATIVE:
            fg_text_printf(&o, " a%u", (unsigned)arg);
            break;
        default:
            fg_text_printf(&o, " k%u", (unsigned)arg);
            /* never trust an unverified operand: print what cannot be read safely as such */
            if (arg >= p->constant_count || !fg_program_constant_ok(p, &p->constants[arg]))
                fg_text_printf(&o, "  ; (invalid)");
            else
                fg_out_constant(&o, p, &p->constants[arg]);
            break;
        }
        fg_text_printf(&o, "\n");
    }
    return o.len;
}
