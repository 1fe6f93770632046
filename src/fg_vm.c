/*
 * fg_vm.c -- the bytecode interpreter for trackers and trippers: the hot path.
 *
 * It allocates nothing, takes no lock and reads only the program and its
 * arguments, so one program serves any number of breakers and threads. It
 * trusts the verifier (fg_codegen verified every program): opcodes are
 * known, operands in range, jumps go forward, the code ends in a return,
 * so the loop always terminates within code_length steps.
 *
 * Ratios are compared as a quotient against the threshold, as fluxgate
 * compares them (failures/total >= r), rather than by cross-multiplying:
 * failures/total and the literal `r` are both correctly rounded (a literal
 * is the double nearest the decimal it spells, SPEC 3.1), so when the exact
 * quotient equals the decimal (3/4 vs 0.75, 7/10 vs 0.7) they are the same
 * double, while failures >= r*total can fail there (0.7*10 is
 * 7.000000000000001). No tolerance: a ratio a hair above a quotient (0.33333333333333337
 * against 1/3) does not hold there, in fluxgate either.
 * Latencies are compared exactly (SPEC section 5): the windows keep
 * durations as given and their exact sum, and a breaker hands that sum to
 * the VM (duration_sum), which compares the exact mean with the threshold
 * (fg_exact_sum_mean_ge), so AvgLatency(t) agrees with
 * SlowRate(1.0, threshold = t) about any calls.
 *
 * Also here, because they are answers the VM gives at run time: the tripper
 * memo (fg_vm_trip_memoize, for fg_vm_trip_cached) and fg_vm_classify, which
 * answers a result, and an error by its type, from the tables
 * fg_program_fold_results (fg_verify.c) filled at compile time.
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

/* AvgLatency: exactly from the window's exact sum when there is one. */
static inline int fg_vm_mean_ge(double total_duration, const fg_exact_sum *sum, uint64_t total,
                                double limit) {
    return sum != NULL ? fg_exact_sum_mean_ge(sum, total, limit)
                       : fg_vm_quotient_ge(total_duration, total, limit);
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
            if (fg_vm_mean_ge(m->total_duration, ctx->duration_sum, m->total_count, k[arg].latency_limit))
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

/* ---- trippers, planned (the plan: fg_verify.c's fg_program_plan_tripper) --- */

/* Each step is one load of the step, one switch, one compare, and the
 * successor taken from the step (no decoding of the jump word, no pool
 * lookup): about half the instructions of fg_vm_trip's step. */
int fg_vm_trip_plan(const fg_program *p, const fg_trip_counts *c, uint32_t *alternative) {
    if (!p->trip_planned) {
        fg_metric m;
        m.total_count = c->total_count;
        m.failure_count = c->failure_count;
        m.total_duration = c->total_duration;
        m.threshold_count = c->threshold_count;
        for (uint32_t i = 0; i < c->threshold_count && i < FG_MAX_SLOW_THRESHOLDS; i++)
            m.slow_counts[i] = c->slow_counts[i];
        fg_trip_context ctx = {&m, c->state, c->consecutive_failures, c->duration_sum};
        return fg_vm_trip(p, &ctx, alternative);
    }
    const fg_trip_step *plan = p->trip_plan;
    const uint64_t total = c->total_count;
    const double dtotal = (double)total;
    uint32_t pc = 0;
    for (;;) {
        const fg_trip_step *s = &plan[pc];
        int held;
        switch ((fg_opcode)s->op) {
        case FG_OP_RETURN_TRUE:
            if (alternative != NULL) *alternative = s->alternative;
            return 1;
        case FG_OP_IS_CLOSED: held = c->state == FG_STATE_CLOSED; break;
        case FG_OP_IS_HALF_OPEN: held = c->state == FG_STATE_HALF_OPEN; break;
        case FG_OP_MIN_REQUESTS_GE: held = total >= s->k.at_least; break;
        case FG_OP_FAILURE_RATE_GE:
            held = total > 0 && (double)c->failure_count / dtotal >= s->k.limit;
            break;
        case FG_OP_AVG_LATENCY_GE:
            held = fg_vm_mean_ge(c->total_duration, c->duration_sum, total, s->k.limit);
            break;
        case FG_OP_SLOW_RATE_GE:
            held = s->slow < c->threshold_count && total > 0 &&
                   (double)c->slow_counts[s->slow] / dtotal >= s->k.limit;
            break;
        case FG_OP_FAILURE_STREAK_GE: held = c->consecutive_failures >= s->k.at_least; break;
        default: /* RETURN_FALSE */
            return 0;
        }
        pc = held ? s->on_true : s->on_false;
    }
}

/* ---- trippers, decided by their table (fg_program_block.h's fg_trip_table_entry) */

int fg_vm_trip_counts(const fg_program *p, const fg_trip_counts *c, uint32_t *alternative) {
    if (!fg_trip_table_usable(p, c->threshold_count)) return fg_vm_trip_plan(p, c, alternative);
    unsigned entry = fg_trip_table_entry(p, c->total_count, c->failure_count, c->slow_counts,
                                         c->consecutive_failures, c->state);
    if ((entry & 1) && alternative != NULL) *alternative = entry >> 1;
    return (int)(entry & 1);
}

/* ---- trippers, with the region of their answer ------------------------------------ */

#define FG_VM_COUNT_LIMIT 9007199254740992.0 /* 2^53: counts convert to doubles exactly below it */

/* The smallest count n with n / total >= limit as the VM computes it
 * (total > 0), or UINT64_MAX when there is none below 2^53. The quotient
 * is monotone in n, so the answer is found from ceil(limit * total) by a
 * step or two either way. */
static uint64_t fg_vm_rate_threshold(uint64_t total, double limit) {
    double t = (double)total;
    if (limit != limit) return UINT64_MAX; /* NaN: never holds */
    if (!(limit > 0.0)) return 0;
    double x = limit * t; /* within a few units of the answer */
    if (!(x < FG_VM_COUNT_LIMIT - 2.0)) return UINT64_MAX;
    uint64_t n = (uint64_t)x; /* truncated: no call to ceil() */
    if ((double)n / t >= limit) {
        while (n > 0 && (double)(n - 1) / t >= limit) n--;
        return n;
    }
    do {
        if ((double)++n >= FG_VM_COUNT_LIMIT) return UINT64_MAX;
    } while (!((double)n / t >= limit));
    return n;
}

typedef struct fg_vm_range {
    uint64_t lo, hi;
} fg_vm_range;

static inline void fg_vm_at_least(fg_vm_range *r, uint64_t lo) {
    if (lo > r->lo) r->lo = lo;
}
static inline void fg_vm_at_most(fg_vm_range *r, uint64_t hi) {
    if (hi < r->hi) r->hi = hi;
}

/* A range's length as a 32-bit span (cut at UINT32_MAX). */
static inline uint32_t fg_vm_span(const fg_vm_range *r) {
    uint64_t span = r->hi - r->lo;
    return span > UINT32_MAX ? UINT32_MAX : (uint32_t)span;
}

/* A rate test count/total >= limit that held (1) or not (0) at (count,
 * total): narrows the count's and the total's ranges to where it still
 * does (see fg_trip_box). */
static void fg_vm_rate_region(fg_vm_range *count, fg_vm_range *total, uint64_t t, double limit, int held) {
    if (t == 0) { /* no rate: held = 0, and stays so while the window is empty */
        fg_vm_at_most(total, 0);
        return;
    }
    uint64_t n = fg_vm_rate_threshold(t, limit);
    if (held) {
        fg_vm_at_least(count, n);
        fg_vm_at_least(total, 1);
        fg_vm_at_most(total, t);
    } else {
        fg_vm_at_most(count, n - 1); /* n > count >= 0 here */
        fg_vm_at_least(total, t);
    }
}

/* See fg_program.h. An empty window has no rate: never (the walk's total > 0). */
int fg_vm_trip_table_thresholds(const fg_program *p, uint64_t total, uint64_t *at_least) {
    if (!((double)total < FG_VM_COUNT_LIMIT)) return 0;
    const fg_trip_test *rates = p->trip_tests + p->trip_count_tests;
    for (uint32_t i = 0; i < p->trip_test_count - p->trip_count_tests; i++)
        at_least[i] = total == 0 ? UINT64_MAX : fg_vm_rate_threshold(total, rates[i].k.limit);
    return 1;
}

/* The regions of the counts a box keeps (see fg_trip_box). */
typedef struct fg_vm_region {
    fg_vm_range total, failures, streak;
    fg_vm_range slow[FG_MAX_SLOW_THRESHOLDS];
} fg_vm_region;

/* Whether the test at step s holds on c (counts below 2^53, no AvgLatency:
 * fg_vm_trip_boxed). The comparisons fg_vm_trip_plan makes. */
static int fg_vm_step_holds(const fg_trip_step *s, const fg_trip_counts *c) {
    const uint64_t total = c->total_count;
    switch ((fg_opcode)s->op) {
    case FG_OP_IS_CLOSED: return c->state == FG_STATE_CLOSED;
    case FG_OP_IS_HALF_OPEN: return c->state == FG_STATE_HALF_OPEN;
    case FG_OP_MIN_REQUESTS_GE: return total >= s->k.at_least;
    case FG_OP_FAILURE_RATE_GE:
        return total > 0 && (double)c->failure_count / (double)total >= s->k.limit;
    case FG_OP_SLOW_RATE_GE: /* a threshold the window does not have: never */
        return s->slow < c->threshold_count && total > 0 &&
               (double)c->slow_counts[s->slow] / (double)total >= s->k.limit;
    case FG_OP_FAILURE_STREAK_GE: return c->consecutive_failures >= s->k.at_least;
    default: return 0; /* AVG_LATENCY_GE: excluded by fg_vm_trip_boxed */
    }
}

/* Narrows r to where the test at step s keeps the value `held` it has on c. */
static void fg_vm_step_narrow(const fg_trip_step *s, const fg_trip_counts *c, int held,
                              fg_vm_region *r) {
    switch ((fg_opcode)s->op) {
    case FG_OP_MIN_REQUESTS_GE:
        if (held) fg_vm_at_least(&r->total, s->k.at_least);
        else fg_vm_at_most(&r->total, s->k.at_least - 1);
        break;
    case FG_OP_FAILURE_RATE_GE:
        fg_vm_rate_region(&r->failures, &r->total, c->total_count, s->k.limit, held);
        break;
    case FG_OP_SLOW_RATE_GE:
        if (s->slow < c->threshold_count)
            fg_vm_rate_region(&r->slow[s->slow], &r->total, c->total_count, s->k.limit, held);
        break;
    case FG_OP_FAILURE_STREAK_GE:
        if (held) fg_vm_at_least(&r->streak, s->k.at_least);
        else fg_vm_at_most(&r->streak, s->k.at_least - 1);
        break;
    default: break; /* the state tests: the box keeps the state itself */
    }
}

/* See fg_program.h. The walk of fg_vm_trip_plan, then the region: only the
 * tests the answer depends on narrow it. A test on the path whose other
 * successor is a later step of the path could take either value: from any
 * point whose other tests keep their values, the walk stays on the path's
 * steps, moving forward (at such a test it goes on or jumps ahead along
 * the path), so it ends at the same return. A failure rate hovering at
 * its threshold behind a test that keeps the answer false -- `MinRequests(20)
 * & FailureRate(50%) & SlowRate(30%)` with few slow calls -- then does not
 * break the region at every crossing. A path longer than FG_VM_PATH_MAX
 * steps is narrowed by every test on it, which is also exact. */
int fg_vm_trip_boxed(const fg_program *p, const fg_trip_counts *c, fg_trip_box *box) {
    enum { FG_VM_PATH_MAX = 64 };
    uint32_t alternative = 0;
    int fired = 0;
    fg_trip_box_invalidate(box);
    const uint64_t total = c->total_count;
    int exact = p->trip_planned && !p->reads_latency && c->threshold_count <= box->threshold_count &&
                (double)total < FG_VM_COUNT_LIMIT && (double)c->failure_count < FG_VM_COUNT_LIMIT;
    for (uint32_t k = 0; exact && k < c->threshold_count; k++)
        exact = (double)c->slow_counts[k] < FG_VM_COUNT_LIMIT;
    if (!exact) {
        fired = fg_vm_trip_counts(p, c, &alternative);
        box->fired = (uint8_t)fired;
        box->alternative = alternative;
        return fired;
    }
    const fg_trip_step *plan = p->trip_plan;
    /* the path: its steps' pcs (ascending: jumps go forward), the last a
     * return, and what each test found */
    uint32_t path[FG_VM_PATH_MAX];
    uint8_t held_at[FG_VM_PATH_MAX];
    uint32_t length = 0, pc = 0;
    for (;;) {
        const fg_trip_step *s = &plan[pc];
        int ret = s->op == FG_OP_RETURN_TRUE || s->op == FG_OP_RETURN_FALSE;
        int held = ret ? 0 : fg_vm_step_holds(s, c);
        if (length < FG_VM_PATH_MAX) {
            path[length] = pc;
            held_at[length] = (uint8_t)held;
        }
        length++;
        if (ret) {
            fired = s->op == FG_OP_RETURN_TRUE;
            alternative = fired ? s->alternative : 0;
            break;
        }
        pc = held ? s->on_true : s->on_false;
    }
    fg_vm_region r;
    r.total = r.failures = (fg_vm_range){0, UINT64_MAX};
    r.streak = (fg_vm_range){0, UINT32_MAX};
    for (uint32_t k = 0; k < c->threshold_count; k++) r.slow[k] = (fg_vm_range){0, UINT64_MAX};
    if (length <= FG_VM_PATH_MAX) {
        for (uint32_t i = 0; i + 1 < length; i++) {
            const fg_trip_step *s = &plan[path[i]];
            uint32_t other = held_at[i] ? s->on_false : s->on_true;
            uint32_t j = i + 1;
            while (j < length && path[j] < other) j++;
            if (j < length && path[j] == other) continue; /* the path goes on there too */
            fg_vm_step_narrow(s, c, held_at[i], &r);
        }
    } else { /* a long path: every test on it */
        for (pc = 0;;) {
            const fg_trip_step *s = &plan[pc];
            if (s->op == FG_OP_RETURN_TRUE || s->op == FG_OP_RETURN_FALSE) break;
            int held = fg_vm_step_holds(s, c);
            fg_vm_step_narrow(s, c, held, &r);
            pc = held ? s->on_true : s->on_false;
        }
    }
    fg_vm_range rt = r.total, rf = r.failures, rs = r.streak;
    fg_vm_range *rslow = r.slow;
    box->fired = (uint8_t)fired;
    box->alternative = alternative;
    /* 32-bit bounds: a region whose low end does not fit is not kept; one
     * longer than 2^32 - 1 counts is cut (a smaller region is still exact). */
    if (rt.lo > UINT32_MAX || rf.lo > UINT32_MAX || rs.lo > UINT32_MAX) return fired;
    for (uint32_t k = 0; k < c->threshold_count; k++)
        if (rslow[k].lo > UINT32_MAX) return fired;
    box->state = (uint8_t)c->state;
    box->total_lo = (uint32_t)rt.lo;
    box->total_span = fg_vm_span(&rt);
    box->failures_lo = (uint32_t)rf.lo;
    box->failures_span = fg_vm_span(&rf);
    box->streak_lo = (uint32_t)rs.lo;
    box->streak_span = fg_vm_span(&rs);
    for (uint32_t k = 0; k < c->threshold_count; k++) {
        box->slow[2 * k] = (uint32_t)rslow[k].lo;
        box->slow[2 * k + 1] = fg_vm_span(&rslow[k]);
    }
    /* thresholds the window does not have hold no count: any value */
    for (uint32_t k = c->threshold_count; k < box->threshold_count; k++) {
        box->slow[2 * k] = 0;
        box->slow[2 * k + 1] = UINT32_MAX;
    }
    box->valid = 1;
    return fired;
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

/* ---- trackers classified through their result and error tables (fg_verify.c folds them) */

/* A result's class is the tracker's answer itself (1 matches: a failure). */
_Static_assert(FG_OUTCOME_FAILURE == 1 && FG_OUTCOME_SUCCESS == 0,
               "a result's class is fg_vm_track's 1/0");

/* Whether the n bytes at a and b are equal, for n from 4 to 16, without
 * a call: two overlapping loads from each side (the first and the last 4
 * or 8 bytes), never a byte outside the n. */
static inline int fg_vm_short_bytes_equal(const char *a, const char *b, size_t n) {
    if (n >= 8) {
        uint64_t a0, a1, b0, b1;
        memcpy(&a0, a, 8);
        memcpy(&b0, b, 8);
        memcpy(&a1, a + n - 8, 8);
        memcpy(&b1, b + n - 8, 8);
        return ((a0 ^ b0) | (a1 ^ b1)) == 0;
    }
    uint32_t a0, a1, b0, b1;
    memcpy(&a0, a, 4);
    memcpy(&b0, b, 4);
    memcpy(&a1, a + n - 4, 4);
    memcpy(&b1, b + n - 4, 4);
    return ((a0 ^ b0) | (a1 ^ b1)) == 0;
}

/* The table of error o's type (fg_program_block.h) for a type shorter than
 * 4 or longer than 16 bytes, through memcmp. Out of line: its calls would
 * make the common lookup below save registers. */
static __attribute__((noinline)) const fg_status_fold *
fg_vm_error_fold_memcmp(const fg_program *p, const fg_outcome *o) {
    uint32_t i = 0;
    for (; i < p->error_type_count; i++) {
        fg_strref r = p->error_types[i];
        if (r.length == o->type_len && memcmp(p->bytes + r.offset, o->type, r.length) == 0) break;
    }
    return &p->error_folds[i];
}

/* The table of error o's type: that of the TypeOf() string it equals, or
 * the last, for any other type or none. */
static inline const fg_status_fold *fg_vm_error_fold(const fg_program *p, const fg_outcome *o) {
    const uint32_t n = p->error_type_count;
    const size_t length = o->type_len;
    if (o->type == NULL) return &p->error_folds[n];
    if (length < 4 || length > 16) return fg_vm_error_fold_memcmp(p, o);
    uint32_t i = 0;
    for (; i < n; i++) {
        fg_strref r = p->error_types[i];
        if (r.length == length && fg_vm_short_bytes_equal(p->bytes + r.offset, o->type, length))
            break;
    }
    return &p->error_folds[i];
}

/* See fg_program.h. */
fg_outcome_class fg_vm_classify(const fg_program *p, const fg_outcome *o,
                                const fg_custom *customs) {
    if (o->is_error) {
        int matches = p->error_folded ? fg_status_fold_matches(fg_vm_error_fold(p, o), o)
                                      : fg_vm_track(p, o, customs);
        return matches ? FG_OUTCOME_FAILURE : FG_OUTCOME_UNTRACKED;
    }
    if (!p->result_folded) return (fg_outcome_class)fg_vm_track(p, o, customs);
    return (fg_outcome_class)fg_status_fold_matches(&p->result_fold, o);
}
