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

static int fg_vm_trip_test(const fg_program *p, uint32_t op, uint32_t k,
                           const fg_trip_context *ctx) {
    const fg_metric *m = ctx->metric;
    double total = (double)m->total_count;
    const fg_constant *c = &p->constants[k];
    switch (op) {
    case FG_OP_IS_CLOSED:
        return ctx->state == FG_STATE_CLOSED;
    case FG_OP_IS_HALF_OPEN:
        return ctx->state == FG_STATE_HALF_OPEN;
    case FG_OP_MIN_REQUESTS_GE:
        return total >= c->number;
    case FG_OP_FAILURE_RATE_GE:
        return fg_vm_quotient_ge((double)m->failure_count, total, c->number, FG_VM_RATIO_EPSILON);
    case FG_OP_AVG_LATENCY_GE:
        return fg_vm_quotient_ge(m->total_duration, total, c->number, FG_VM_LATENCY_EPSILON);
    case FG_OP_SLOW_RATE_GE:
        /* a metric that classified fewer thresholds than we need counts as no slow calls */
        if (c->first >= m->threshold_count || c->first >= FG_MAX_SLOW_THRESHOLDS) return 0;
        return fg_vm_quotient_ge((double)m->slow_counts[c->first], total, c->number,
                                 FG_VM_RATIO_EPSILON);
    case FG_OP_FAILURE_STREAK_GE:
        return (double)ctx->consecutive_failures >= c->number;
    default:
        return 0;
    }
}

/* Runs the shared control flow; test is the kind-specific leaf evaluator. */
#define FG_VM_LOOP(TEST)                                                                    \
    uint32_t pc = 0;                                                                        \
    int flag = 0;                                                                           \
    for (;;) {                                                                              \
        uint32_t insn = p->code[pc++];                                                      \
        uint32_t op = FG_INSN_OP(insn), arg = FG_INSN_OPERAND(insn);                        \
        switch (op) {                                                                       \
        case FG_OP_JUMP_IF_TRUE:                                                            \
            if (flag) pc = arg;                                                             \
            break;                                                                          \
        case FG_OP_JUMP_IF_FALSE:                                                           \
            if (!flag) pc = arg;                                                            \
            break;                                                                          \
        case FG_OP_RETURN_TRUE:                                                             \
            FG_VM_ON_TRUE(arg);                                                             \
            return 1;                                                                       \
        case FG_OP_RETURN_FALSE:                                                            \
            return 0;                                                                       \
        default:                                                                            \
            flag = TEST;                                                                    \
            break;                                                                          \
        }                                                                                   \
    }

/* Evaluates a verified tripper; see fg_program.h. */
int fg_vm_trip(const fg_program *p, const fg_trip_context *ctx, uint32_t *alternative) {
#define FG_VM_ON_TRUE(a)                                                                    \
    if (alternative != NULL) *alternative = (a)
    FG_VM_LOOP(fg_vm_trip_test(p, op, arg, ctx))
#undef FG_VM_ON_TRUE
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

static int fg_vm_track_test(const fg_program *p, uint32_t op, uint32_t k, const fg_outcome *o,
                            const fg_custom *customs) {
    const fg_constant *c = &p->constants[k];
    switch (op) {
    case FG_OP_IS_ERROR:
        return o->is_error != 0;
    case FG_OP_TYPE_IN:
        return fg_vm_type_in(p, c, o);
    case FG_OP_STATUS_IN:
        return fg_vm_status_in(p, c, o);
    case FG_OP_MESSAGE_MATCHES: {
        if (!o->is_error || o->message == NULL) return 0;
        fg_strref r = p->strrefs[c->first];
        return fg_glob_match(p->bytes + r.offset, r.length, o->message, o->message_len);
    }
    case FG_OP_CUSTOM:
        /* a missing or failing (-1) predicate counts as "does not match" */
        if (customs == NULL || customs[c->first].fn == NULL) return 0;
        return customs[c->first].fn(customs[c->first].ud, o) == 1;
    default:
        return 0;
    }
}

/* Evaluates a verified tracker; see fg_program.h. */
int fg_vm_track(const fg_program *p, const fg_outcome *outcome, const fg_custom *customs) {
#define FG_VM_ON_TRUE(a) (void)(a)
    FG_VM_LOOP(fg_vm_track_test(p, op, arg, outcome, customs))
#undef FG_VM_ON_TRUE
}
