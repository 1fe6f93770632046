/*
 * fg_program.h -- compiled tracker and tripper programs: the contract between
 * the compiler back end (fg_codegen.c, fg_verify.c, fg_disasm.c, fg_vm.c) and
 * the breaker runtime.
 *
 * A program is one immutable block (instructions, constant pool, strings), so
 * it is shareable between breakers and threads and freed with one call. Every
 * program is verified by fg_codegen before it is handed out; the VM then never
 * reads out of bounds and never allocates.
 */
#ifndef FG_PROGRAM_H
#define FG_PROGRAM_H

#include <stddef.h>
#include <stdint.h>

#include "fg_ast.h"
#include "fg_exact_sum.h"
#include "fluxgate.h"

/* Documented limits (doc/language.md, "Limits"); exceeding one is a located error. */
enum {
    FG_MAX_INSTRUCTIONS = 1 << 16,
    FG_MAX_CONSTANTS = 1 << 16
};

typedef enum fg_program_kind { FG_PROGRAM_TRACKER, FG_PROGRAM_TRIPPER } fg_program_kind;

typedef struct fg_program fg_program;

/* A located code generation error (a size limit, or out of memory). */
typedef struct fg_codegen_error {
    fg_loc loc;
    char message[200];
} fg_codegen_error;

/* Compiles a checked tree into a verified program allocated with alloc
 * (NULL: realloc/free). Returns 0 and sets *out, or -1 and fills *err. */
int fg_codegen(const fg_node *root, fg_program_kind kind, const fg_allocator *alloc,
               fg_program **out, fg_codegen_error *err);

/* Frees a program made by fg_codegen with the same allocator. NULL is a no-op. */
void fg_program_free(fg_program *program, const fg_allocator *alloc);

/* Checks a program's bytecode (known opcodes, jumps and pool indexes in range,
 * every path ends in a return). Returns 0 when valid; otherwise -1 and writes a
 * message into err. fg_codegen runs it on everything it emits. */
int fg_program_verify(const fg_program *program, char *err, size_t err_cap);

/* What a tripper reads. */
typedef struct fg_trip_context {
    const fg_metric *metric; /* slow_counts are indexed like fg_program_thresholds() */
    fg_state state;          /* the state being evaluated (closed or half_open) */
    uint32_t consecutive_failures;
    /* The exact sum behind metric->total_duration, or NULL: AvgLatency
     * then compares the mean exactly (fg_exact_sum_mean_ge) instead of
     * dividing the rounded total_duration. */
    const fg_exact_sum *duration_sum;
} fg_trip_context;

/* Evaluates a tripper. Returns 1 or 0; when 1 and alternative is not NULL,
 * *alternative is the index of the first true alternative of the top-level
 * `|` chain (flattened through parentheses and named references). */
int fg_vm_trip(const fg_program *program, const fg_trip_context *ctx, uint32_t *alternative);

/* What a tripper reads, straight from a window's running totals (the
 * breaker's hot path: nothing is copied into an fg_metric first). */
typedef struct fg_trip_counts {
    uint64_t total_count;
    uint64_t failure_count;
    const uint64_t *slow_counts; /* [threshold_count], indexed like fg_program_thresholds() */
    uint32_t threshold_count;
    fg_state state;
    uint32_t consecutive_failures;
    double total_duration;       /* only read by a program that reads the latency */
    const fg_exact_sum *duration_sum; /* as in fg_trip_context */
} fg_trip_counts;

/* Evaluates a tripper from what was built out of the verified bytecode
 * when the program was compiled: its decision table (every test evaluated,
 * the answer looked up) when it has few enough tests, else its plan (each
 * test with its constant and both successors resolved). Answers exactly
 * what fg_vm_trip answers on the same inputs (test_trip_plan.c compares
 * them), alternative included. A program without a plan (never the case
 * for one fg_codegen made) is run from its bytecode. */
int fg_vm_trip_counts(const fg_program *program, const fg_trip_counts *c, uint32_t *alternative);

/* The same answer from the plan's walk alone (what fg_vm_trip_counts does
 * for a tripper without a decision table: fg_program_block.h's
 * fg_trip_test); tests compare the two. */
int fg_vm_trip_plan(const fg_program *program, const fg_trip_counts *c, uint32_t *alternative);

/* A tripper's last answer and the region of inputs around the inputs it
 * was computed on where the answer (and the alternative) cannot differ:
 * every count in [lo, lo + span] (unsigned arithmetic: x - lo <= span),
 * the same evaluated state. Built by fg_vm_trip_boxed from the tests the
 * evaluation ran and the answer depends on, each of which keeps its value
 * over its part of the region: counts tests over a range of the count,
 * rates by monotonicity (a rate that does not hold at (count c, total t)
 * does not hold for any count <= its threshold at t and any total >= t,
 * and one that holds at (c, t) holds for any count >= that threshold and
 * any total in 1..t: the quotient of correctly rounded division is
 * monotone in each argument). The tests that did not run cannot change the
 * path, nor can a test whose other successor is further along the path
 * (either value leads to the same return). Not valid
 * (valid = 0) for a tripper that reads the total duration, or with counts
 * of 2^32 or more (bounds are 32-bit: a region is cut to 2^32 - 1 counts
 * above its low end, which only makes it smaller). Owned by whoever
 * evaluates (a breaker handle keeps one or two under its block's lock:
 * fg_trip_cache in fg_breaker_internal.h); slow[] holds threshold_count
 * (lo, span) pairs. */
typedef struct fg_trip_box {
    uint32_t total_lo, total_span;
    uint32_t failures_lo, failures_span;
    uint32_t streak_lo, streak_span;
    uint32_t alternative;
    uint8_t valid;
    uint8_t fired;
    uint8_t state;
    uint8_t threshold_count;
    uint32_t slow[]; /* [2 * threshold_count]: lo, span */
} fg_trip_box;

/* Bytes of an fg_trip_box for threshold_count thresholds (a multiple of 8). */
static inline size_t fg_trip_box_size(uint32_t threshold_count) {
    return sizeof(fg_trip_box) + 2u * sizeof(uint32_t) * threshold_count;
}

/* Fills at_least[] (room for fg_program_table_rates) with the threshold of
 * each of the decision table's rate tests at this total: rate i holds on
 * counts (at most total, as a window's) exactly when its count >=
 * at_least[i] -- the quotient is monotone in the count, so that is the
 * smallest count at which the division holds (the regions'
 * fg_vm_rate_threshold). Returns 0, and fills nothing, for a total of 2^53
 * or more (counts no longer convert to doubles exactly). Compile-time work
 * at run time, done once per total by the owner of the thresholds. */
int fg_vm_trip_table_thresholds(const fg_program *program, uint64_t total, uint64_t *at_least);

/* fg_vm_trip_counts that also fills *box (of box->threshold_count >=
 * c->threshold_count pairs) with the answer and its region. */
int fg_vm_trip_boxed(const fg_program *program, const fg_trip_counts *c, fg_trip_box *box);

/* Whether the inputs are inside the box's region (then fg_vm_trip_counts
 * answers box->fired, alternative box->alternative). Counts are compared
 * in 64 bits (a count of 2^32 or more is outside every region). An
 * invalid box names no state (state = UINT8_MAX), so validity costs no
 * test of its own. */
static inline int fg_trip_box_holds(const fg_trip_box *b, uint64_t total, uint64_t failures,
                                    const uint64_t *slow, uint32_t threshold_count, uint32_t streak,
                                    fg_state state) {
    /* & rather than &&: one branch on the outcome, not one per field */
    int in = (b->state == (uint8_t)state) & (total - b->total_lo <= b->total_span) &
             (failures - b->failures_lo <= b->failures_span) & (streak - b->streak_lo <= b->streak_span);
    if (threshold_count == 1) return in & (slow[0] - b->slow[0] <= b->slow[1]);
    for (uint32_t k = 0; k < threshold_count; k++) in &= slow[k] - b->slow[2 * k] <= b->slow[2 * k + 1];
    return in;
}

/* Makes *b invalid (see fg_trip_box_holds). */
static inline void fg_trip_box_invalidate(fg_trip_box *b) {
    b->valid = 0;
    b->state = UINT8_MAX;
}

/* The last evaluation of a tripper and what it read, so that the next one
 * can be answered without running the program when nothing it reads has
 * changed (fg_vm_trip_cached). All zero: empty. Owned by whoever evaluates
 * (a breaker keeps one under its lock); not shareable between threads. */
typedef struct fg_trip_memo {
    int valid;             /* 1: the fields below hold an evaluation */
    int fired;
    uint32_t alternative;
    fg_state state;
    uint32_t consecutive_failures;
    uint64_t counts_version;
} fg_trip_memo;

/* Runs the tripper on ctx and remembers the answer and what it read in
 * *memo (valid only for a program that does not read the total duration).
 * Returns what fg_vm_trip returns. */
int fg_vm_trip_memoize(const fg_program *program, const fg_trip_context *ctx,
                       uint64_t counts_version, fg_trip_memo *memo);

/* fg_vm_trip, answered from *memo when nothing the tripper reads can have
 * changed since the memo's evaluation: the same evaluated state, the same
 * consecutive failures and the same counts_version, which the caller
 * guarantees to change whenever the metric's total, failure or slow counts
 * change (a window's counts_version does). A tripper with an AvgLatency test
 * reads the duration, which changes with almost every call: it always runs.
 * Exact: a tripper is a pure function of what it reads. memo must only ever
 * be used with this one program and one source of counts. Inline, because
 * in a steady window most evaluations are answered here. */
static inline int fg_vm_trip_cached(const fg_program *program, const fg_trip_context *ctx,
                                    uint64_t counts_version, fg_trip_memo *memo,
                                    uint32_t *alternative) {
    /* & rather than &&: one branch on the outcome, not one per field */
    int same = memo->valid & (memo->counts_version == counts_version) &
               (memo->consecutive_failures == ctx->consecutive_failures) &
               (memo->state == ctx->state);
    int fired = same ? memo->fired : fg_vm_trip_memoize(program, ctx, counts_version, memo);
    if (fired && alternative != NULL) *alternative = memo->alternative;
    return fired;
}

/* Classifies an outcome with a tracker as fg_breaker_classify does: a
 * failure when the tracker matches, otherwise untracked for an error and a
 * success for a result. A result is answered from the tracker's folded
 * status table when it has one (a tracker without Custom(): a result's
 * classification depends on its status alone), and an error from the
 * table of its type when there are those (without Custom() and Message(),
 * an error's depends on which TypeOf() string its type is, and its
 * status); the answer is always the one fg_vm_track gives. */
fg_outcome_class fg_vm_classify(const fg_program *program, const fg_outcome *outcome,
                                const fg_custom *customs);

/* Evaluates a tracker: 1 when the outcome matches. customs[i] is the predicate
 * for fg_program_custom_name(program, i). */
int fg_vm_track(const fg_program *program, const fg_outcome *outcome, const fg_custom *customs);

fg_program_kind fg_program_get_kind(const fg_program *program);
/* The source text of the whole expression. */
const char *fg_program_text(const fg_program *program);
/* The top-level alternatives (a program without `|` has one: itself). */
uint32_t fg_program_alternative_count(const fg_program *program);
const char *fg_program_alternative_text(const fg_program *program, uint32_t index);
/* The distinct SlowRate thresholds, ascending. */
uint32_t fg_program_threshold_count(const fg_program *program);
/* The rate tests of a tripper's decision table (fg_program_block.h); 0
 * also when it has no table. */
uint32_t fg_program_table_rates(const fg_program *program);
/* Whether a tripper's regions (fg_trip_box) can differ while its answer
 * stays: at least two distinct tests, and no AvgLatency (which no region
 * holds). A breaker keeps an older region only for such a tripper. */
int fg_program_trip_paths(const fg_program *program);
const double *fg_program_thresholds(const fg_program *program);
/* The distinct Custom() names, in first-use order. */
uint32_t fg_program_custom_count(const fg_program *program);
const char *fg_program_custom_name(const fg_program *program, uint32_t index);
/* Whether the tripper reads the state (Closed()/HalfOpened()), for warnings. */
int fg_program_reads_state(const fg_program *program, fg_state state);

/* A readable listing, one instruction per line (golden tests depend on it).
 * snprintf-style: returns the length needed, excluding the NUL. */
size_t fg_program_disassemble(const fg_program *program, char *buf, size_t cap);

/* Test-only access to the raw code, so tests can corrupt a copy and check that
 * the verifier rejects it. The tripper's plan is not remade: a patched
 * program is for fg_program_verify, fg_vm_trip and fg_vm_track, never for
 * fg_vm_trip_counts or a breaker. */
uint32_t fg_program_code_length(const fg_program *program);
uint32_t *fg_program_code_mutable(fg_program *program);
uint32_t fg_program_constant_count(const fg_program *program);

#endif /* FG_PROGRAM_H */
