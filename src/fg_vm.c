/*
 * fg_vm.c -- the bytecode interpreter for trackers and trippers: the hot path.
 *
 * It allocates nothing, takes no lock and reads only the program and its
 * arguments, so one program serves any number of breakers and threads. It
 * trusts the verifier (fg_codegen verified every program): opcodes are
 * known, operands in range, jumps go forward, the code ends in a return,
 * so the loop always terminates within code_length steps.
 *
 * Ratios are compared as a quotient against the threshold with a tiny
 * tolerance (subtracted once, when the constant is made: fg_verify.c's
 * fg_program_prepare_constant, with the tolerance's value), rather than by
 * cross-multiplying: failures/total and the literal `r` are both correctly
 * rounded, so when the exact quotient equals the decimal (3/4 vs 0.75, 7/10 vs 0.7) they are the same double, while
 * failures >= r*total can fail there (0.7*10 is 7.000000000000001). The
 * tolerance (FG_VM_RATIO_EPSILON) absorbs a literal computed with one more
 * rounding (57% as 57*0.01); it can only admit a quotient below r when
 * total * denominator(r) exceeds 1e12, far beyond any real window.
 * Latencies are compared exactly, without a tolerance (SPEC section 5):
 * the windows keep durations as given and their exact sum, so the average
 * of one call is that call's duration, and AvgLatency(t) agrees with
 * SlowRate(r, threshold = t) about it.
 *
 * Also here, because they are answers the VM gives at run time: the tripper
 * memo (fg_vm_trip_memoize, for fg_vm_trip_cached) and fg_vm_classify, which
 * answers a result from the table fg_program_fold_results (fg_verify.c)
 * filled at compile time.
 */
#include <string.h>

#include "fg_glob.h"
#include "fg_program.h"
#include "fg_program_block.h"

/* numerator/total >= limit (a limit from fg_program_prepare_constant); an empty
 * window has no rate. */
static inline int fg_vm_quotient_ge(double numerator, uint64_t total, double limit) {
    return total > 0 && numerator / (double)total >= limit;
}

static inline int fg_vm_type_in(const fg_program *p, const fg_constant *c, const fg_outcome *o) {
    if (!o->is_error || o->type == NULL) return 0;
    for (uint32_t i = 0; i < c->count; i++) {
        fg_strref r = p->strrefs[c->first + i];
        if (r.length == o->type_len && memcmp(p->bytes + r.offset, o->type, r.length) == 0)
            return 1;
    }
    return 0;
}

static inline int fg_vm_status_in(const fg_program *p, const fg_constant *c, const fg_outcome *o) {
    if (!o->has_status) return 0;
    for (uint32_t i = 0; i < c->count; i++) {
        const fg_range *r = &p->ranges[c->first + i];
        if (o->status >= r->low && o->status <= r->high) return 1;
    }
    return 0;
}

static inline int fg_vm_message_matches(const fg_program *p, const fg_constant *c, const fg_outcome *o) {
    if (!o->is_error || o->message == NULL) return 0;
    fg_strref r = p->strrefs[c->first];
    return fg_glob_match(p->bytes + r.offset, r.length, o->message, o->message_len);
}

static inline int fg_vm_custom(const fg_constant *c, const fg_outcome *o, const fg_custom *customs) {
    /* a missing or failing (-1) predicate counts as "does not match" */
    if (customs == NULL || customs[c->first].fn == NULL) return 0;
    return customs[c->first].fn(customs[c->first].ud, o) == 1;
}

/* A tripper's slow-call rate at the constant's threshold. A metric that
 * classified fewer thresholds than the program has counts no slow calls. */
static inline int fg_vm_slow_rate(const fg_constant *c, const fg_metric *m) {
    if (c->first >= m->threshold_count || c->first >= FG_MAX_SLOW_THRESHOLDS) return 0;
    return fg_vm_quotient_ge((double)m->slow_counts[c->first], m->total_count, c->ratio_limit);
}

/* The interpreters, one per program kind (a tracker and a tripper never
 * share a test, so each loop switches over its own tests only and keeps its
 * state in registers). The verifier made sure that a program only uses
 * tests of its kind.
 *
 * One iteration is one step: a return, or a test and the conditional jump
 * that the verifier guarantees right after it (fg_opcodes.h). The flag lives
 * only inside the step, so a jump is never dispatched on its own: the step
 * reads its sense and target and continues two words on or at the target. */

/* The pc after the step of the test at pc, whose flag is the jump opcode
 * `flag` names (JUMP_IF_TRUE: the test held): the jump's target when the
 * jump after the test is taken on that flag, else the next step. */
static inline size_t fg_vm_step_to(const uint32_t *code, size_t pc, fg_opcode flag) {
    uint32_t jump = code[pc + 1];
    return FG_INSN_OP(jump) == (uint32_t)flag ? FG_INSN_OPERAND(jump) : pc + 2;
}

/* In both loops a test that holds jumps to `held`, one that does not
 * breaks out of the switch. The flag is a branch on purpose, not a value:
 * the processor predicts it and runs ahead, where a select of the next pc
 * (flag == sense ? target : pc + 2) would make every instruction fetch wait
 * for the test's data (a division, for rates) and serialise the steps. */

/* Evaluates a verified tripper; see fg_program.h. */
int fg_vm_trip(const fg_program *p, const fg_trip_context *ctx, uint32_t *alternative) {
    const uint32_t *code = p->code;
    const fg_constant *k = p->constants;
    const fg_metric *m = ctx->metric;
    size_t pc = 0;
    for (;;) {
        uint32_t insn = code[pc];
        uint32_t arg = FG_INSN_OPERAND(insn);
        switch ((fg_opcode)FG_INSN_OP(insn)) {
        case FG_OP_RETURN_TRUE:
            if (alternative != NULL) *alternative = arg;
            return 1;
        case FG_OP_IS_CLOSED:
            if (ctx->state == FG_STATE_CLOSED) goto held;
            break;
        case FG_OP_IS_HALF_OPEN:
            if (ctx->state == FG_STATE_HALF_OPEN) goto held;
            break;
        case FG_OP_MIN_REQUESTS_GE:
            if (m->total_count >= k[arg].at_least) goto held;
            break;
        case FG_OP_FAILURE_RATE_GE:
            if (fg_vm_quotient_ge((double)m->failure_count, m->total_count, k[arg].ratio_limit))
                goto held;
            break;
        case FG_OP_AVG_LATENCY_GE:
            if (fg_vm_quotient_ge(m->total_duration, m->total_count, k[arg].latency_limit))
                goto held;
            break;
        case FG_OP_SLOW_RATE_GE:
            if (fg_vm_slow_rate(&k[arg], m)) goto held;
            break;
        case FG_OP_FAILURE_STREAK_GE:
            if (ctx->consecutive_failures >= k[arg].at_least) goto held;
            break;
        default: /* RETURN_FALSE; anything else cannot occur in a verified tripper */
            return 0;
        }
        pc = fg_vm_step_to(code, pc, FG_OP_JUMP_IF_FALSE);
        continue;
    held:
        pc = fg_vm_step_to(code, pc, FG_OP_JUMP_IF_TRUE);
    }
}

/* Evaluates a verified tracker; see fg_program.h. */
int fg_vm_track(const fg_program *p, const fg_outcome *o, const fg_custom *customs) {
    const uint32_t *code = p->code;
    const fg_constant *k = p->constants;
    size_t pc = 0;
    for (;;) {
        uint32_t insn = code[pc];
        uint32_t arg = FG_INSN_OPERAND(insn);
        switch ((fg_opcode)FG_INSN_OP(insn)) {
        case FG_OP_RETURN_TRUE:
            return 1;
        case FG_OP_IS_ERROR:
            if (o->is_error) goto held;
            break;
        case FG_OP_TYPE_IN:
            if (fg_vm_type_in(p, &k[arg], o)) goto held;
            break;
        case FG_OP_MESSAGE_MATCHES:
            if (fg_vm_message_matches(p, &k[arg], o)) goto held;
            break;
        case FG_OP_STATUS_IN:
            if (fg_vm_status_in(p, &k[arg], o)) goto held;
            break;
        case FG_OP_CUSTOM:
            if (fg_vm_custom(&k[arg], o, customs)) goto held;
            break;
        default: /* RETURN_FALSE; anything else cannot occur in a verified tracker */
            return 0;
        }
        pc = fg_vm_step_to(code, pc, FG_OP_JUMP_IF_FALSE);
        continue;
    held:
        pc = fg_vm_step_to(code, pc, FG_OP_JUMP_IF_TRUE);
    }
}

/* See fg_program.h. */
int fg_vm_trip_memoize(const fg_program *p, const fg_trip_context *ctx, uint64_t counts_version,
                       fg_trip_memo *memo) {
    uint32_t alt = 0;
    memo->fired = fg_vm_trip(p, ctx, &alt);
    memo->alternative = alt;
    memo->state = ctx->state;
    memo->consecutive_failures = ctx->consecutive_failures;
    memo->counts_version = counts_version;
    memo->valid = !p->reads_latency; /* the duration is not in the memo */
    return memo->fired;
}

/* ---- trackers classified through their result table (fg_verify.c folds it) */

/* A result's class is the tracker's answer itself (1 matches: a failure). */
_Static_assert(FG_OUTCOME_FAILURE == 1 && FG_OUTCOME_SUCCESS == 0,
               "a result's class is fg_vm_track's 1/0");

/* See fg_program.h. */
fg_outcome_class fg_vm_classify(const fg_program *p, const fg_outcome *o,
                                const fg_custom *customs) {
    if (o->is_error) return fg_vm_track(p, o, customs) ? FG_OUTCOME_FAILURE : FG_OUTCOME_UNTRACKED;
    if (!p->result_folded) return (fg_outcome_class)fg_vm_track(p, o, customs);
    if (!o->has_status) return (fg_outcome_class)p->result_no_status;
    for (uint32_t i = 0; i < p->result_range_count; i++) {
        if (o->status < p->result_ranges[i].low) return FG_OUTCOME_SUCCESS;
        if (o->status <= p->result_ranges[i].high) return FG_OUTCOME_FAILURE;
    }
    return FG_OUTCOME_SUCCESS;
}
