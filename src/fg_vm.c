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
 * tolerance, rather than by cross-multiplying: failures/total and the
 * literal `r` are both correctly rounded, so when the exact quotient equals
 * the decimal (3/4 vs 0.75, 7/10 vs 0.7) they are the same double, while
 * failures >= r*total can fail there (0.7*10 is 7.000000000000001). The
 * tolerance (FG_VM_RATIO_EPSILON) absorbs a literal computed with one more
 * rounding (57% as 57*0.01); it can only admit a quotient below r when
 * total * denominator(r) exceeds 1e12, far beyond any real window.
 * Latencies are sums of measured doubles, so their tolerance is relative
 * and looser (a nanosecond per second).
 */
#include <string.h>

#include "fg_glob.h"
#include "fg_program.h"
#include "fg_program_block.h"

#define FG_VM_RATIO_EPSILON 1e-12
#define FG_VM_LATENCY_EPSILON 1e-9

/* numerator/denominator >= threshold, with the tolerance described above. */
static int fg_vm_quotient_ge(double numerator, double denominator, double threshold,
                             double epsilon) {
    if (denominator <= 0) return 0;
    double scale = threshold > 1 ? threshold : 1;
    return numerator / denominator >= threshold - epsilon * scale;
}

static int fg_vm_type_in(const fg_program *p, const fg_constant *c, const fg_outcome *o) {
    if (!o->is_error || o->type == NULL) return 0;
    for (uint32_t i = 0; i < c->count; i++) {
        fg_strref r = p->strrefs[c->first + i];
        if (r.length == o->type_len && memcmp(p->bytes + r.offset, o->type, r.length) == 0)
            return 1;
    }
    return 0;
}

static int fg_vm_status_in(const fg_program *p, const fg_constant *c, const fg_outcome *o) {
    if (!o->has_status) return 0;
    for (uint32_t i = 0; i < c->count; i++) {
        const fg_range *r = &p->ranges[c->first + i];
        if (o->status >= r->low && o->status <= r->high) return 1;
    }
    return 0;
}

static int fg_vm_message_matches(const fg_program *p, const fg_constant *c, const fg_outcome *o) {
    if (!o->is_error || o->message == NULL) return 0;
    fg_strref r = p->strrefs[c->first];
    return fg_glob_match(p->bytes + r.offset, r.length, o->message, o->message_len);
}

static int fg_vm_custom(const fg_constant *c, const fg_outcome *o, const fg_custom *customs) {
    /* a missing or failing (-1) predicate counts as "does not match" */
    if (customs == NULL || customs[c->first].fn == NULL) return 0;
    return customs[c->first].fn(customs[c->first].ud, o) == 1;
}

/* A tripper's slow-call rate at the constant's threshold. A metric that
 * classified fewer thresholds than the program has counts no slow calls. */
static int fg_vm_slow_rate(const fg_constant *c, const fg_metric *m) {
    if (c->first >= m->threshold_count || c->first >= FG_MAX_SLOW_THRESHOLDS) return 0;
    return fg_vm_quotient_ge((double)m->slow_counts[c->first], (double)m->total_count, c->number,
                             FG_VM_RATIO_EPSILON);
}

/* The interpreter. Exactly one of ctx (a tripper) and o (a tracker) is set;
 * the verifier made sure that the program only uses tests of its kind. */
static inline int fg_vm_run(const fg_program *p, const fg_trip_context *ctx, const fg_outcome *o,
                            const fg_custom *customs, uint32_t *alternative) {
    uint32_t pc = 0;
    int flag = 0;
    for (;;) {
        uint32_t insn = p->code[pc++];
        uint32_t arg = FG_INSN_OPERAND(insn);
        switch ((fg_opcode)FG_INSN_OP(insn)) {
        case FG_OP_JUMP_IF_TRUE:
            if (flag) pc = arg;
            break;
        case FG_OP_JUMP_IF_FALSE:
            if (!flag) pc = arg;
            break;
        case FG_OP_RETURN_TRUE:
            if (alternative != NULL) *alternative = arg;
            return 1;
        case FG_OP_RETURN_FALSE:
            return 0;
        case FG_OP_IS_CLOSED:
            flag = ctx->state == FG_STATE_CLOSED;
            break;
        case FG_OP_IS_HALF_OPEN:
            flag = ctx->state == FG_STATE_HALF_OPEN;
            break;
        case FG_OP_MIN_REQUESTS_GE:
            flag = (double)ctx->metric->total_count >= p->constants[arg].number;
            break;
        case FG_OP_FAILURE_RATE_GE:
            flag = fg_vm_quotient_ge((double)ctx->metric->failure_count,
                                     (double)ctx->metric->total_count, p->constants[arg].number,
                                     FG_VM_RATIO_EPSILON);
            break;
        case FG_OP_AVG_LATENCY_GE:
            flag = fg_vm_quotient_ge(ctx->metric->total_duration, (double)ctx->metric->total_count,
                                     p->constants[arg].number, FG_VM_LATENCY_EPSILON);
            break;
        case FG_OP_SLOW_RATE_GE:
            flag = fg_vm_slow_rate(&p->constants[arg], ctx->metric);
            break;
        case FG_OP_FAILURE_STREAK_GE:
            flag = (double)ctx->consecutive_failures >= p->constants[arg].number;
            break;
        case FG_OP_IS_ERROR:
            flag = o->is_error != 0;
            break;
        case FG_OP_TYPE_IN:
            flag = fg_vm_type_in(p, &p->constants[arg], o);
            break;
        case FG_OP_MESSAGE_MATCHES:
            flag = fg_vm_message_matches(p, &p->constants[arg], o);
            break;
        case FG_OP_STATUS_IN:
            flag = fg_vm_status_in(p, &p->constants[arg], o);
            break;
        case FG_OP_CUSTOM:
            flag = fg_vm_custom(&p->constants[arg], o, customs);
            break;
        case FG_OP_COUNT:
        default:
            return 0; /* unreachable in a verified program */
        }
    }
}

/* Evaluates a verified tripper; see fg_program.h. */
int fg_vm_trip(const fg_program *p, const fg_trip_context *ctx, uint32_t *alternative) {
    return fg_vm_run(p, ctx, NULL, NULL, alternative);
}

/* Evaluates a verified tracker; see fg_program.h. */
int fg_vm_track(const fg_program *p, const fg_outcome *outcome, const fg_custom *customs) {
    return fg_vm_run(p, NULL, outcome, customs, NULL);
}
