/*
 * fg_program.c -- the opcode tables, the read-only accessors of a compiled
 * program, freeing it, and the fuzzer's and tests' one way to corrupt its
 * code (fg_program_code_mutable). The block layout is in fg_program_block.h.
 */
#include "fg_program.h"

#include "fg_alloc.h"
#include "fg_program_block.h"

const char *const fg_opcode_names[FG_OP_COUNT] = {
#define FG_OP_NAME(name, role, shape, where, doc) #name,
    FG_OPCODE_LIST(FG_OP_NAME)
#undef FG_OP_NAME
};

const fg_opcode_role fg_opcode_roles[FG_OP_COUNT] = {
#define FG_OP_ROLE(name, role, shape, where, doc) role,
    FG_OPCODE_LIST(FG_OP_ROLE)
#undef FG_OP_ROLE
};

const fg_operand_shape fg_opcode_shapes[FG_OP_COUNT] = {
#define FG_OP_SHAPE(name, role, shape, where, doc) shape,
    FG_OPCODE_LIST(FG_OP_SHAPE)
#undef FG_OP_SHAPE
};

const unsigned char fg_opcode_kinds[FG_OP_COUNT] = {
#define FG_OP_KIND(name, role, shape, where, doc) where,
    FG_OPCODE_LIST(FG_OP_KIND)
#undef FG_OP_KIND
};

const char *const fg_opcode_docs[FG_OP_COUNT] = {
#define FG_OP_DOC(name, role, shape, where, doc) doc,
    FG_OPCODE_LIST(FG_OP_DOC)
#undef FG_OP_DOC
};

const char *const fg_operand_shape_names[FG_OPERAND_SHAPE_COUNT] = {
    [FG_OPERAND_NONE] = "none",     [FG_OPERAND_TARGET] = "target",
    [FG_OPERAND_ALTERNATIVE] = "alternative", [FG_OPERAND_NUMBER] = "number",
    [FG_OPERAND_SLOW] = "slow",     [FG_OPERAND_STRINGS] = "strings",
    [FG_OPERAND_RANGES] = "ranges", [FG_OPERAND_GLOB] = "glob",
    [FG_OPERAND_CUSTOM] = "custom",
};

/* The program was allocated as one block of block_size bytes with alloc. */
void fg_program_free(fg_program *program, const fg_allocator *alloc) {
    if (program == NULL) return;
    fg_alloc_free(alloc, program, program->block_size);
}

fg_program_kind fg_program_get_kind(const fg_program *program) { return program->kind; }

const char *fg_program_text(const fg_program *program) {
    return fg_program_string(program, program->text);
}

uint32_t fg_program_alternative_count(const fg_program *program) {
    return program->alternative_count;
}

/* NULL when index is out of range. The string lives as long as the program. */
const char *fg_program_alternative_text(const fg_program *program, uint32_t index) {
    if (index >= program->alternative_count) return NULL;
    return fg_program_string(program, program->alternatives[index]);
}

uint32_t fg_program_threshold_count(const fg_program *program) {
    return program->threshold_count;
}

uint32_t fg_program_table_rates(const fg_program *program) {
    return program->trip_test_count - program->trip_count_tests;
}

int fg_program_trip_paths(const fg_program *program) {
    return !program->reads_latency &&
           fg_program_trip_tests(program->code, program->code_length, NULL) >= 2;
}

const double *fg_program_thresholds(const fg_program *program) { return program->thresholds; }

uint32_t fg_program_custom_count(const fg_program *program) { return program->custom_count; }

/* NULL when index is out of range. The string lives as long as the program. */
const char *fg_program_custom_name(const fg_program *program, uint32_t index) {
    if (index >= program->custom_count) return NULL;
    return fg_program_string(program, program->customs[index]);
}

int fg_program_reads_state(const fg_program *program, fg_state state) {
    if ((unsigned)state >= FG_STATE_COUNT) return 0;
    return (program->reads_state >> (unsigned)state) & 1u;
}

uint32_t fg_program_code_length(const fg_program *program) { return program->code_length; }

uint32_t *fg_program_code_mutable(fg_program *program) { return program->code; }

uint32_t fg_program_constant_count(const fg_program *program) {
    return program->constant_count;
}
