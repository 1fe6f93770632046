/*
 * fg_program_block.h -- the layout of a compiled program, private to the back
 * end (fg_program.c, fg_emit.c, fg_codegen.c, fg_verify.c, fg_vm.c,
 * fg_disasm.c) and read, never written, by fg_block_def.c (fingerprints).
 *
 * A program is ONE allocation: this header, then the arrays it points at, in
 * this order: code, constants, string references, ranges, alternative texts,
 * custom names, and finally the string bytes. The interior pointers make the
 * VM's reads direct; the block is never moved or copied, so they stay valid.
 * Nothing in it changes after fg_codegen returns (tests excepted, through
 * fg_program_code_mutable).
 */
#ifndef FG_PROGRAM_BLOCK_H
#define FG_PROGRAM_BLOCK_H

#include <stddef.h>
#include <stdint.h>

#include "fg_opcodes.h"
#include "fg_program.h"

/* A constant's type is the operand shape that may refer to it. */
typedef fg_operand_shape fg_constant_type;

/* A span of the string bytes: bytes[offset .. offset+length), NUL after it. */
typedef struct fg_strref {
    uint32_t offset;
    uint32_t length;
} fg_strref;

/* An inclusive range of statuses. */
typedef struct fg_range {
    int64_t low;
    int64_t high;
} fg_range;

/* What a tracker answers for one kind of outcome, by its status: it
 * matches when the status is in one of ranges[0 .. range_count) (ascending,
 * disjoint), or, for an outcome without a status, when no_status is 1.
 * Folded at compile time (fg_program_fold_results). */
typedef struct fg_status_fold {
    fg_range *ranges;
    uint32_t range_count;
    int no_status;
} fg_status_fold;

/* Whether a status fold matches outcome o (its has_status and status). */
static inline int fg_status_fold_matches(const fg_status_fold *f, const fg_outcome *o) {
    if (!o->has_status) return f->no_status;
    for (uint32_t i = 0; i < f->range_count; i++) {
        if (o->status < f->ranges[i].low) return 0;
        if (o->status <= f->ranges[i].high) return 1;
    }
    return 0;
}

/* One pool entry. Which fields mean something depends on type:
 *   NUMBER   number, and what the VM compares against, precomputed from it
 *            (fg_program_prepare_constant): at_least, ratio_limit, latency_limit
 *   SLOW     number = the ratio (and ratio_limit), first = the threshold index
 *   STRINGS  strrefs[first .. first+count)
 *   RANGES   ranges[first .. first+count)
 *   GLOB     strrefs[first]
 *   CUSTOM   first = the custom index
 * The precomputed fields are functions of number, so constants that are
 * equal by type and number (deduplication) are equal in them too. */
typedef struct fg_constant {
    fg_constant_type type;
    uint32_t first;
    uint32_t count;
    double number;        /* as written: listings and deduplication read it */
    uint64_t at_least;    /* the smallest integer >= number: counts compare exactly */
    double ratio_limit;   /* what a rate is compared against: the number (see fg_vm.c) */
    double latency_limit; /* what an average latency is compared against: the number */
} fg_constant;

/* Fills in the fields the VM reads (at_least, ratio_limit, latency_limit)
 * from c->number; the emitter calls it for every NUMBER and SLOW constant.
 * Defined in fg_verify.c, with the rest of a program's compile-time
 * preparation; fg_vm.c's header says why the limits are what they are. */
void fg_program_prepare_constant(fg_constant *c);

/* One step of a tripper's plan (fg_program_plan_tripper): the test at a pc with
 * its constant and both successors resolved, or a return. The plan is a
 * function of the verified bytecode, built once after verification; the
 * bytecode stays the source of truth (fg_vm_trip interprets it, and
 * test_vm.c checks that the plan answers the same on every program shape). */
typedef struct fg_trip_step {
    uint8_t op;            /* a tripper test's fg_opcode, RETURN_TRUE or RETURN_FALSE */
    uint8_t slow;          /* SLOW_RATE_GE: the threshold index */
    uint8_t test;          /* a test: its index in trip_tests (when the program has a table) */
    uint8_t pad;
    uint32_t alternative;  /* RETURN_TRUE: the alternative that fired */
    uint32_t on_false;     /* the pc after the test when it does not hold */
    uint32_t on_true;      /* and when it holds */
    union {
        uint64_t at_least; /* MIN_REQUESTS_GE, FAILURE_STREAK_GE */
        double limit;      /* FAILURE_RATE_GE, SLOW_RATE_GE (ratio_limit), AVG_LATENCY_GE */
    } k;
} fg_trip_step;

/* A tripper's decision table (fg_program_plan_tripper builds it with the
 * plan). A tripper's tests are pure functions of the counts and the state,
 * and short-circuiting only decides which of them are looked at, so a
 * tripper with few distinct tests is a function of their values: the
 * table holds the answer for every combination (entry [bits], bit i = test
 * i held). At run time every test is evaluated, in a fixed order, and the
 * answer is one load (fg_vm_trip_counts): no branch depends on the counts,
 * where walking the plan takes a different path whenever a count crosses a
 * threshold, and the processor mispredicts it. Distinct tests are distinct
 * instruction words (the pool shares equal constants). A tripper with more
 * than FG_TRIP_TABLE_MAX_TESTS distinct tests, or one that reads the total
 * duration (AvgLatency: a double the inputs below do not hold), walks its
 * plan instead; so does one with a single test (one branch either way). */
enum { FG_TRIP_TABLE_MAX_TESTS = 8 };

/* What a table's test reads: one of the inputs fg_vm_trip_counts gathers. */
typedef enum fg_trip_input {
    FG_TRIP_IN_TOTAL,
    FG_TRIP_IN_FAILURES,
    FG_TRIP_IN_STREAK,    /* the consecutive failures */
    FG_TRIP_IN_CLOSED,    /* 1 when the evaluated state is closed, else 0 */
    FG_TRIP_IN_HALF_OPEN, /* 1 when it is half_open, else 0 */
    FG_TRIP_IN_SLOW,      /* .. + FG_MAX_SLOW_THRESHOLDS: the slow count per threshold */
    FG_TRIP_INPUT_COUNT = FG_TRIP_IN_SLOW + FG_MAX_SLOW_THRESHOLDS
} fg_trip_input;

/* One test of a table: input >= at_least, or (a rate) total > 0 and
 * input / total >= limit, the comparisons fg_vm_trip_plan's walk makes
 * (the state tests are counts: closed >= 1). A table lists its
 * count tests first, then its rates (trip_count_tests of them first). */
typedef struct fg_trip_test {
    uint8_t input; /* fg_trip_input */
    uint8_t rate;
    union {
        uint64_t at_least;
        double limit;
    } k;
} fg_trip_test;

/* A table entry: bit 0 fired, the alternative above it. */
#define FG_TRIP_ENTRY(fired, alternative) ((uint16_t)((fired) | ((alternative) << 1)))
#define FG_TRIP_ENTRY_MAX_ALTERNATIVE (UINT16_MAX >> 1)

struct fg_program {
    size_t block_size; /* bytes of the whole allocation, for fg_alloc_free */
    fg_program_kind kind;
    unsigned reads_state; /* bit (1 << fg_state) per state a test reads */
    unsigned reads_latency; /* 1: an AVG_LATENCY_GE test reads total_duration */
    uint32_t code_length;
    uint32_t constant_count;
    uint32_t strref_count;
    uint32_t range_count;
    uint32_t alternative_count;
    uint32_t custom_count;
    uint32_t threshold_count;
    uint32_t byte_count;
    double thresholds[FG_MAX_SLOW_THRESHOLDS]; /* ascending */
    uint32_t *code;
    fg_constant *constants;
    fg_strref *strrefs;
    fg_range *ranges;
    fg_strref *alternatives; /* the source text of each alternative */
    fg_strref *customs;      /* the distinct Custom() names */
    fg_strref text;          /* the whole expression */
    char *bytes;
    /* A tracker without Custom() classifies a result (an outcome that is not
     * an error) by its status alone, so fg_codegen folds it, for results,
     * into the statuses it matches (fg_program_fold_results): result_fold,
     * its ranges with room for result_capacity. result_folded = 0: no table
     * (a tripper, Custom(), or too many ranges to be worth it).
     * Without Message() either, an error is classified by its type and its
     * status alone, and its type only matters through which of the
     * tracker's TypeOf() strings it equals: error_types[0 ..
     * error_type_count) are those strings, distinct, and error_folds[i] is
     * the status fold for an error whose type is error_types[i],
     * error_folds[error_type_count] for any other type or none. Each fold's
     * ranges have room for result_capacity, one after the other in
     * error_ranges. error_folded = 0: no tables (also when there are more
     * than FG_ERROR_FOLD_MAX_TYPES strings). */
    int result_folded;
    uint32_t result_capacity;
    fg_status_fold result_fold;
    int error_folded;
    uint32_t error_type_capacity;
    uint32_t error_type_count;
    fg_strref *error_types;
    fg_status_fold *error_folds; /* [error_type_capacity + 1] */
    fg_range *error_ranges;      /* [(error_type_capacity + 1) * result_capacity] */
    /* A tripper's plan (see fg_trip_step), indexed by pc; NULL for a
     * tracker. trip_planned = 0 until fg_program_plan_tripper has filled it. */
    fg_trip_step *trip_plan;
    int trip_planned;
    /* Its decision table (see fg_trip_test), or trip_table NULL: room for
     * trip_test_capacity tests and 2^trip_test_capacity entries is made
     * by the emitter (fg_program_trip_tests counts them), filled with
     * the plan; trip_test_count tests are in use. */
    uint32_t trip_test_capacity;
    uint32_t trip_test_count;
    uint32_t trip_count_tests;
    fg_trip_test *trip_tests;
    uint16_t *trip_table;
};

/* Whether fg_trip_table_entry can answer for p on a metric with
 * threshold_count slow counts: p has a table, and the metric has every
 * threshold p reads (one that does not counts no slow calls there,
 * fg_vm.c's fg_vm_slow_rate, which the table's inputs cannot say). */
static inline int fg_trip_table_usable(const fg_program *p, uint32_t threshold_count) {
    return p->trip_test_count > 0 && threshold_count >= p->threshold_count;
}

/* The inputs of a decision table's tests (fg_trip_input), in[0 ..
 * FG_TRIP_IN_SLOW + p's threshold count). */
static inline void fg_trip_table_inputs(const fg_program *p, uint64_t *in, uint64_t total,
                                        uint64_t failures, const uint64_t *slow, uint32_t streak,
                                        fg_state state) {
    in[FG_TRIP_IN_TOTAL] = total;
    in[FG_TRIP_IN_FAILURES] = failures;
    in[FG_TRIP_IN_STREAK] = streak;
    in[FG_TRIP_IN_CLOSED] = state == FG_STATE_CLOSED;
    in[FG_TRIP_IN_HALF_OPEN] = state == FG_STATE_HALF_OPEN;
    /* unrolled (a loop becomes a call to memcpy); the cases fall through */
    _Static_assert(FG_MAX_SLOW_THRESHOLDS == 8, "one case per threshold");
    switch (p->threshold_count) {
    case 8: in[FG_TRIP_IN_SLOW + 7] = slow[7]; /* fall through */
    case 7: in[FG_TRIP_IN_SLOW + 6] = slow[6]; /* fall through */
    case 6: in[FG_TRIP_IN_SLOW + 5] = slow[5]; /* fall through */
    case 5: in[FG_TRIP_IN_SLOW + 4] = slow[4]; /* fall through */
    case 4: in[FG_TRIP_IN_SLOW + 3] = slow[3]; /* fall through */
    case 3: in[FG_TRIP_IN_SLOW + 2] = slow[2]; /* fall through */
    case 2: in[FG_TRIP_IN_SLOW + 1] = slow[1]; /* fall through */
    case 1: in[FG_TRIP_IN_SLOW] = slow[0];     /* fall through */
    default: break;
    }
}

/* The entry of p's decision table (FG_TRIP_ENTRY: bit 0 fired, the
 * alternative above) for these counts and state (slow[]: p's thresholds;
 * fg_trip_table_usable). Every test in the table's order, counts then
 * rates, each kind with one loop body, so that the branches follow the
 * program, never the counts; then one load. A rate divides by a total of
 * at least 1, so an empty window makes no NaN: its rates are false by the
 * `some` bit, as the walk's total > 0. */
static inline unsigned fg_trip_table_entry(const fg_program *p, uint64_t total, uint64_t failures,
                                           const uint64_t *slow, uint32_t streak, fg_state state) {
    uint64_t in[FG_TRIP_INPUT_COUNT];
    fg_trip_table_inputs(p, in, total, failures, slow, streak, state);
    const fg_trip_test *t = p->trip_tests;
    const uint32_t counts = p->trip_count_tests, n = p->trip_test_count;
    unsigned bits = 0;
    uint32_t i = 0;
    for (; i < counts; i++) bits |= (unsigned)(in[t[i].input] >= t[i].k.at_least) << i;
    if (i < n) {
        const unsigned some = total > 0;
        const double divisor = some ? (double)total : 1.0;
        for (; i < n; i++) bits |= (some & ((double)in[t[i].input] / divisor >= t[i].k.limit)) << i;
    }
    return p->trip_table[bits];
}

/* The same entry, every rate an integer compare against its threshold at
 * this total (rate_at_least[]: fg_vm_trip_table_thresholds for total;
 * counts at most total, as a window's), as the counts are: no division.
 * Inline: the breaker's hot path runs it where it has the counts in hand. */
static inline unsigned fg_trip_table_entry_at(const fg_program *p, const uint64_t *rate_at_least,
                                              uint64_t total, uint64_t failures,
                                              const uint64_t *slow, uint32_t streak,
                                              fg_state state) {
    uint64_t in[FG_TRIP_INPUT_COUNT];
    fg_trip_table_inputs(p, in, total, failures, slow, streak, state);
    const fg_trip_test *t = p->trip_tests;
    const uint32_t counts = p->trip_count_tests;
    unsigned bits = 0;
    /* unrolled, the cases falling through (a loop's counter and exit cost
     * as much as the compares); k < counts is the same on every call */
#define FG_TRIP_TEST_AT(j)                                                                         \
    bits |= (unsigned)(in[t[j].input] >=                                                           \
                       ((j) < counts ? t[j].k.at_least : rate_at_least[(j) - counts]))             \
            << (j)
    _Static_assert(FG_TRIP_TABLE_MAX_TESTS == 8, "one case per test");
    switch (p->trip_test_count) {
    case 8: FG_TRIP_TEST_AT(7); /* fall through */
    case 7: FG_TRIP_TEST_AT(6); /* fall through */
    case 6: FG_TRIP_TEST_AT(5); /* fall through */
    case 5: FG_TRIP_TEST_AT(4); /* fall through */
    case 4: FG_TRIP_TEST_AT(3); /* fall through */
    case 3: FG_TRIP_TEST_AT(2); /* fall through */
    case 2: FG_TRIP_TEST_AT(1); /* fall through */
    case 1: FG_TRIP_TEST_AT(0); /* fall through */
    default: break;
    }
#undef FG_TRIP_TEST_AT
    return p->trip_table[bits];
}

/* Trackers with more status ranges than this are not folded for results
 * (folding costs ranges x program length at compile time), nor with more
 * strings than FG_ERROR_FOLD_MAX_TYPES for errors (and the type is looked
 * up among them on every error). */
enum { FG_RESULT_FOLD_MAX_RANGES = 64, FG_ERROR_FOLD_MAX_TYPES = 16 };

/* Fills p's result table and error tables (see above) by running the
 * verified tracker on one status per segment between the ranges' bounds,
 * for a result and for an error of each type. Defined in fg_verify.c. */
void fg_program_fold_results(fg_program *p);

/* Builds p's trip_plan from its verified code, and its decision table when
 * the emitter made room for one (fg_verify.c: compile time). */
void fg_program_plan_tripper(fg_program *p);

/* The distinct tests (instruction words) among a tripper's code[0 ..
 * length), or FG_TRIP_TABLE_MAX_TESTS + 1 when there are more, or when a
 * test reads the total duration: the size of its decision table (0: none
 * needed, the program is a return; > FG_TRIP_TABLE_MAX_TESTS: no table).
 * words[] (room for FG_TRIP_TABLE_MAX_TESTS) receives them in first-use
 * order; NULL: only counted. */
uint32_t fg_program_trip_tests(const uint32_t *code, uint32_t length, uint32_t *words);

/* Whether constant c's strings, ranges, threshold or custom index are inside
 * the program (fg_verify.c; the disassembler also uses it). */
int fg_program_constant_ok(const fg_program *p, const fg_constant *c);

/* The NUL-terminated string a reference names. */
static inline const char *fg_program_string(const fg_program *p, fg_strref ref) {
    return p->bytes + ref.offset;
}

#endif /* FG_PROGRAM_BLOCK_H */
