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
    double ratio_limit;   /* number less the ratio tolerance (see fg_vm.c) */
    double latency_limit; /* number less the latency tolerance */
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
    uint16_t pad;
    uint32_t alternative;  /* RETURN_TRUE: the alternative that fired */
    uint32_t on_false;     /* the pc after the test when it does not hold */
    uint32_t on_true;      /* and when it holds */
    union {
        uint64_t at_least; /* MIN_REQUESTS_GE, FAILURE_STREAK_GE */
        double limit;      /* FAILURE_RATE_GE, SLOW_RATE_GE (ratio_limit), AVG_LATENCY_GE */
    } k;
} fg_trip_step;

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
     * into the statuses it matches (fg_program_fold_results): result_ranges
     * (ascending, disjoint, result_range_count of them, room for
     * result_capacity) and result_no_status, the answer for a result
     * without a status. result_folded = 0: no table (a tripper, Custom(),
     * or too many ranges to be worth it). */
    int result_folded;
    int result_no_status;
    uint32_t result_range_count;
    uint32_t result_capacity;
    fg_range *result_ranges;
    /* A tripper's plan (see fg_trip_step), indexed by pc; NULL for a
     * tracker. trip_planned = 0 until fg_program_plan_tripper has filled it. */
    fg_trip_step *trip_plan;
    int trip_planned;
};

/* Trackers with more status ranges than this are not folded for results
 * (folding costs ranges x program length at compile time). */
enum { FG_RESULT_FOLD_MAX_RANGES = 64 };

/* Fills p's result table (see above) by running the verified tracker on one
 * status per segment between the ranges' bounds. Defined in fg_verify.c. */
void fg_program_fold_results(fg_program *p);

/* Builds p's trip_plan from its verified code (fg_verify.c: compile time). */
void fg_program_plan_tripper(fg_program *p);

/* Whether constant c's strings, ranges, threshold or custom index are inside
 * the program (fg_verify.c; the disassembler also uses it). */
int fg_program_constant_ok(const fg_program *p, const fg_constant *c);

/* The NUL-terminated string a reference names. */
static inline const char *fg_program_string(const fg_program *p, fg_strref ref) {
    return p->bytes + ref.offset;
}

#endif /* FG_PROGRAM_BLOCK_H */
