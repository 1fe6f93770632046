/*
 * fg_verify.c -- the bytecode verifier (libpcap's filter validator, for our
 * instruction set), and the rest of a program's compile-time preparation.
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
 *
 * Also here, the rest of what happens to a program at compile time before
 * any breaker runs it: the constants' precomputed comparison limits
 * (fg_program_prepare_constant, called by the emitter) and a tracker's
 * result table (fg_program_fold_results) and a tripper's plan
 * (fg_program_plan_tripper), both run by fg_codegen on the verified program.
 * They decide what the VM will read; fg_vm.c only reads it.
 */
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

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

/* ---- compile-time preparation ----------------------------------------------- */

/* Precomputes what each comparison reads, so that a test is one compare:
 * the quotients' thresholds (the number as written: no tolerance, see
 * fg_vm.c's header), and for counts the smallest integer that satisfies
 * `count >= number` (so counts are compared as integers, without a
 * conversion). See fg_program_block.h. */
void fg_program_prepare_constant(fg_constant *c) {
    double n = c->number;
    c->ratio_limit = n;
    c->latency_limit = n;
    if (n != n) c->at_least = UINT64_MAX; /* NaN: no count reaches it */
    else if (!(n > 0)) c->at_least = 0;
    else if (n >= 18446744073709551615.0) c->at_least = UINT64_MAX;
    else c->at_least = (uint64_t)ceil(n);
}

/* ---- trackers, folded for results and errors ------------------------------ */

/* Fills *f (its ranges have room for cap) with what the tracker answers for
 * outcomes like *proto at every status: one run per segment between the
 * sorted bounds starts[0 .. n) (the first INT64_MIN), each STATUS_IN being
 * constant on a segment, then one without a status. Returns 0, or -1 when
 * the ranges do not fit (they always do: R ranges make R + 1 runs at most). */
static int fg_fold_statuses(const fg_program *p, fg_outcome proto, const int64_t *starts,
                            uint32_t n, fg_status_fold *f, uint32_t cap) {
    uint32_t count = 0;
    int open = 0; /* the last range written is still growing */
    for (uint32_t i = 0; i < n; i++) {
        if (i > 0 && starts[i] == starts[i - 1]) continue;
        /* the segment [starts[i], next start - 1] */
        uint32_t next = i + 1;
        while (next < n && starts[next] == starts[i]) next++;
        int64_t high = next < n ? starts[next] - 1 : INT64_MAX;
        proto.has_status = 1;
        proto.status = starts[i];
        if (fg_vm_track(p, &proto, NULL)) {
            if (open) {
                f->ranges[count - 1].high = high;
            } else {
                if (count >= cap) return -1;
                f->ranges[count].low = starts[i];
                f->ranges[count].high = high;
                count++;
                open = 1;
            }
        } else {
            open = 0;
        }
    }
    proto.has_status = 0;
    proto.status = 0;
    f->no_status = fg_vm_track(p, &proto, NULL);
    f->range_count = count;
    return 0;
}

/* Collects the distinct strings of p's TypeOf() tests into
 * p->error_types; returns 0, or -1 when the program cannot be folded for
 * errors (Message(), or more strings than there is room for). */
static int fg_fold_error_types(fg_program *p) {
    uint32_t n = 0;
    for (uint32_t pc = 0; pc < p->code_length; pc++) {
        uint32_t op = FG_INSN_OP(p->code[pc]);
        if (op == FG_OP_MESSAGE_MATCHES) return -1; /* the message matters too */
        if (op != FG_OP_TYPE_IN) continue;
        const fg_constant *c = &p->constants[FG_INSN_OPERAND(p->code[pc])];
        for (uint32_t i = 0; i < c->count; i++) {
            fg_strref r = p->strrefs[c->first + i];
            uint32_t j = 0;
            while (j < n && !(p->error_types[j].length == r.length &&
                              memcmp(p->bytes + p->error_types[j].offset, p->bytes + r.offset,
                                     r.length) == 0))
                j++;
            if (j < n) continue;
            if (n >= p->error_type_capacity) return -1;
            p->error_types[n++] = r;
        }
    }
    p->error_type_count = n;
    return 0;
}

/* See fg_program_block.h. For a result, every test but STATUS_IN is false
 * (IS_ERROR, TYPE_IN and MESSAGE_MATCHES need an error; Custom() programs are
 * not folded); for an error of a given type, IS_ERROR is true and each
 * TYPE_IN constant (a program with MESSAGE_MATCHES is not folded for
 * errors); and each STATUS_IN is constant between consecutive bounds (a
 * range's low, and high + 1): so is the program. One run per segment, for
 * a result and for an error of each type (and of none), gives the tables. */
void fg_program_fold_results(fg_program *p) {
    if (p->kind != FG_PROGRAM_TRACKER || p->custom_count != 0 ||
        p->range_count > FG_RESULT_FOLD_MAX_RANGES || p->result_capacity < p->range_count + 1)
        return;
    int64_t starts[2 * FG_RESULT_FOLD_MAX_RANGES + 1];
    uint32_t n = 0;
    starts[n++] = INT64_MIN;
    for (uint32_t i = 0; i < p->range_count; i++) {
        starts[n++] = p->ranges[i].low;
        if (p->ranges[i].high < INT64_MAX) starts[n++] = p->ranges[i].high + 1;
    }
    for (uint32_t i = 1; i < n; i++) { /* insertion sort: n <= 129 */
        int64_t v = starts[i];
        uint32_t j = i;
        for (; j > 0 && starts[j - 1] > v; j--) starts[j] = starts[j - 1];
        starts[j] = v;
    }
    fg_outcome o;
    memset(&o, 0, sizeof o);
    if (fg_fold_statuses(p, o, starts, n, &p->result_fold, p->result_capacity) != 0) return;
    p->result_folded = 1;
    if (p->error_folds == NULL || fg_fold_error_types(p) != 0) return;
    o.is_error = 1;
    for (uint32_t t = 0; t <= p->error_type_count; t++) {
        /* the type of table t (the last: none, which matches no TypeOf()
         * string, as any other type) */
        fg_status_fold *f = &p->error_folds[t];
        f->ranges = p->error_ranges + (size_t)t * p->result_capacity;
        o.type = t < p->error_type_count ? p->bytes + p->error_types[t].offset : NULL;
        o.type_len = t < p->error_type_count ? p->error_types[t].length : 0;
        if (fg_fold_statuses(p, o, starts, n, f, p->result_capacity) != 0) return;
    }
    p->error_folded = 1;
}

/* ---- trippers' plans (compile time; fg_vm_trip_counts runs them) ---------- */

/* See fg_program_block.h. */
uint32_t fg_program_trip_tests(const uint32_t *code, uint32_t length, uint32_t *words) {
    uint32_t seen[FG_TRIP_TABLE_MAX_TESTS];
    uint32_t n = 0;
    for (uint32_t pc = 0; pc < length; pc++) {
        uint32_t op = FG_INSN_OP(code[pc]);
        if (op >= FG_OP_COUNT || fg_opcode_roles[op] != FG_ROLE_TEST) continue;
        if (op == FG_OP_AVG_LATENCY_GE) return FG_TRIP_TABLE_MAX_TESTS + 1;
        uint32_t i = 0;
        while (i < n && seen[i] != code[pc]) i++;
        if (i < n) continue;
        if (n == FG_TRIP_TABLE_MAX_TESTS) return FG_TRIP_TABLE_MAX_TESTS + 1;
        seen[n++] = code[pc];
    }
    if (words != NULL) memcpy(words, seen, n * sizeof *words);
    return n;
}

/* The table's test for a tripper test word (verified: its constant exists
 * and has the type the opcode reads). */
static fg_trip_test fg_trip_test_of(const fg_program *p, uint32_t word) {
    fg_trip_test t;
    memset(&t, 0, sizeof t);
    const fg_constant *k = &p->constants[FG_INSN_OPERAND(word)];
    switch ((fg_opcode)FG_INSN_OP(word)) {
    case FG_OP_IS_CLOSED:
        t.input = FG_TRIP_IN_CLOSED;
        t.k.at_least = 1;
        break;
    case FG_OP_IS_HALF_OPEN:
        t.input = FG_TRIP_IN_HALF_OPEN;
        t.k.at_least = 1;
        break;
    case FG_OP_MIN_REQUESTS_GE:
        t.input = FG_TRIP_IN_TOTAL;
        t.k.at_least = k->at_least;
        break;
    case FG_OP_FAILURE_STREAK_GE:
        t.input = FG_TRIP_IN_STREAK;
        t.k.at_least = k->at_least;
        break;
    case FG_OP_FAILURE_RATE_GE:
        t.input = FG_TRIP_IN_FAILURES;
        t.rate = 1;
        t.k.limit = k->ratio_limit;
        break;
    case FG_OP_SLOW_RATE_GE: /* first < threshold_count <= FG_MAX_SLOW_THRESHOLDS (verified) */
        t.input = (uint8_t)(FG_TRIP_IN_SLOW + k->first);
        t.rate = 1;
        t.k.limit = k->ratio_limit;
        break;
    default: break; /* AVG_LATENCY_GE: never in a table (fg_program_trip_tests) */
    }
    return t;
}

/* Fills the table's entries for every combination of test values that
 * agrees with `vals` on the tests in `fixed` (bits), from the step at pc
 * on: the plan is walked as the VM would walk it, splitting in two at a
 * test whose value is not fixed yet. The walks partition the table, so
 * every entry is written once; the recursion is at most one level per
 * test (a test met again on the path follows its fixed value). */
static void fg_trip_table_fill(fg_program *p, uint32_t pc, unsigned fixed, unsigned vals) {
    for (;;) {
        const fg_trip_step *s = &p->trip_plan[pc];
        if (s->op == FG_OP_RETURN_TRUE || s->op == FG_OP_RETURN_FALSE) {
            uint16_t entry = s->op == FG_OP_RETURN_TRUE ? FG_TRIP_ENTRY(1u, s->alternative) : 0;
            unsigned all = (1u << p->trip_test_count) - 1, free = all & ~fixed, sub = 0;
            do { /* every subset of the free tests */
                p->trip_table[vals | sub] = entry;
                sub = (sub - free) & free;
            } while (sub != 0);
            return;
        }
        unsigned bit = 1u << s->test;
        if (!(fixed & bit)) {
            fg_trip_table_fill(p, s->on_true, fixed | bit, vals | bit);
            fixed |= bit; /* and on, with the test false */
        }
        pc = vals & bit ? s->on_true : s->on_false;
    }
}

/* See fg_program_block.h. The verifier guarantees what the plan relies on:
 * a test is followed by exactly one jump, jumps go forward, every path
 * ends in a return, operands are valid pool indexes of the right type. */
void fg_program_plan_tripper(fg_program *p) {
    if (p->kind != FG_PROGRAM_TRIPPER || p->trip_plan == NULL) return;
    const uint32_t *code = p->code;
    for (uint32_t pc = 0; pc < p->code_length; pc++) {
        uint32_t insn = code[pc];
        uint32_t op = FG_INSN_OP(insn), arg = FG_INSN_OPERAND(insn);
        fg_trip_step *s = &p->trip_plan[pc];
        memset(s, 0, sizeof *s);
        s->op = (uint8_t)op;
        if (op >= FG_OP_COUNT) continue;
        if (fg_opcode_roles[op] == FG_ROLE_RETURN) {
            s->alternative = arg;
            continue;
        }
        if (fg_opcode_roles[op] != FG_ROLE_TEST || pc + 1 >= p->code_length) continue;
        uint32_t jump = code[pc + 1];
        uint32_t target = FG_INSN_OPERAND(jump);
        int on_true = FG_INSN_OP(jump) == FG_OP_JUMP_IF_TRUE;
        s->on_true = on_true ? target : pc + 2;
        s->on_false = on_true ? pc + 2 : target;
        if (fg_opcode_shapes[op] == FG_OPERAND_NONE) continue;
        const fg_constant *k = &p->constants[arg];
        switch ((fg_opcode)op) {
        case FG_OP_MIN_REQUESTS_GE:
        case FG_OP_FAILURE_STREAK_GE: s->k.at_least = k->at_least; break;
        case FG_OP_FAILURE_RATE_GE: s->k.limit = k->ratio_limit; break;
        case FG_OP_AVG_LATENCY_GE: s->k.limit = k->latency_limit; break;
        case FG_OP_SLOW_RATE_GE:
            s->k.limit = k->ratio_limit;
            /* an index no metric has (fg_vm_slow_rate: never slow) */
            s->slow = (uint8_t)(k->first < FG_MAX_SLOW_THRESHOLDS ? k->first : FG_MAX_SLOW_THRESHOLDS);
            break;
        default: break;
        }
    }
    p->trip_planned = 1;
    /* the decision table, where the emitter made room for one */
    uint32_t words[FG_TRIP_TABLE_MAX_TESTS];
    uint32_t n = fg_program_trip_tests(p->code, p->code_length, words);
    if (p->trip_table == NULL || n == 0 || n > p->trip_test_capacity) return;
    /* counts first, then rates (fg_trip_table_entry's two loops) */
    uint32_t order[FG_TRIP_TABLE_MAX_TESTS], at = 0;
    for (int rate = 0; rate <= 1; rate++)
        for (uint32_t i = 0; i < n; i++) {
            fg_trip_test t = fg_trip_test_of(p, words[i]);
            if (t.rate != rate) continue;
            if (!rate) p->trip_count_tests = at + 1;
            p->trip_tests[at] = t;
            order[at++] = words[i];
        }
    memcpy(words, order, n * sizeof *words);
    for (uint32_t pc = 0; pc < p->code_length; pc++) {
        fg_trip_step *s = &p->trip_plan[pc];
        if (s->op >= FG_OP_COUNT || fg_opcode_roles[s->op] != FG_ROLE_TEST) continue;
        uint32_t i = 0;
        while (words[i] != p->code[pc]) i++; /* found: words holds every test */
        s->test = (uint8_t)i;
    }
    p->trip_test_count = n;
    fg_trip_table_fill(p, 0, 0, 0);
}
