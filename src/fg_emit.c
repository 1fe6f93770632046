/*
 * fg_emit.c -- the program builder: growable buffers, instructions and
 * their limit, alternatives and source texts, and packing everything into
 * one program block. The constant pool is fg_emit_pool.c.
 */
#include "fg_emit.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fg_alloc.h"

/* ---- errors --------------------------------------------------------------- */

int fg_emit_fail(fg_emitter *e, const fg_node *node, const char *fmt, ...) {
    if (e->failed) return -1;
    e->failed = 1;
    memset(&e->err->loc, 0, sizeof e->err->loc);
    if (node != NULL) e->err->loc = node->loc;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(e->err->message, sizeof e->err->message, fmt, ap);
    va_end(ap);
    return -1;
}

int fg_emit_oom(fg_emitter *e, const fg_node *node) {
    return fg_emit_fail(e, node, "out of memory while generating code");
}

/* ---- growable arrays -------------------------------------------------------- */

int fg_emit_reserve(fg_emitter *e, fg_vec *v, size_t elem, uint32_t more) {
    if (more <= v->capacity - v->length) return 0;
    if (more > UINT32_MAX - v->length) return -1;
    uint64_t need = (uint64_t)v->length + more;
    uint64_t cap = v->capacity ? v->capacity : 16;
    while (cap < need) cap *= 2;
    if (cap > UINT32_MAX) cap = UINT32_MAX;
    if (cap * elem > SIZE_MAX / 2) return -1;
    void *grown = fg_alloc_grow(&e->alloc, v->data, v->capacity * elem, (size_t)cap * elem);
    if (grown == NULL) return -1;
    v->data = grown;
    v->capacity = (uint32_t)cap;
    return 0;
}

static void fg_vec_free(fg_emitter *e, fg_vec *v, size_t elem) {
    fg_alloc_free(&e->alloc, v->data, v->capacity * elem);
    v->data = NULL;
    v->length = v->capacity = 0;
}

int fg_emit_bytes(fg_emitter *e, const char *s, size_t length, fg_strref *out,
                  const fg_node *node) {
    if (length >= UINT32_MAX / 2 || fg_emit_reserve(e, &e->bytes, 1, (uint32_t)length + 1) != 0)
        return fg_emit_oom(e, node);
    char *dst = (char *)e->bytes.data + e->bytes.length;
    if (length > 0) memcpy(dst, s, length);
    dst[length] = '\0';
    out->offset = e->bytes.length;
    out->length = (uint32_t)length;
    e->bytes.length += (uint32_t)length + 1;
    return 0;
}

/* ---- life cycle ------------------------------------------------------------ */

void fg_emit_init(fg_emitter *e, const fg_allocator *alloc, fg_program_kind kind,
                  fg_codegen_error *err) {
    memset(e, 0, sizeof *e);
    e->alloc = fg_alloc_resolve(alloc);
    e->kind = kind;
    e->err = err;
}

void fg_emit_dispose(fg_emitter *e) {
    fg_vec_free(e, &e->code, sizeof(uint32_t));
    fg_vec_free(e, &e->constants, sizeof(fg_constant));
    fg_vec_free(e, &e->strrefs, sizeof(fg_strref));
    fg_vec_free(e, &e->ranges, sizeof(fg_range));
    fg_vec_free(e, &e->alternatives, sizeof(fg_strref));
    fg_vec_free(e, &e->customs, sizeof(fg_strref));
    fg_vec_free(e, &e->bytes, 1);
    fg_emit_pool_dispose(e);
}

int64_t fg_emit_insn(fg_emitter *e, uint32_t insn, const fg_node *node) {
    if (e->failed) return -1;
    if (e->code.length >= FG_MAX_INSTRUCTIONS)
        return fg_emit_fail(e, node, "program too large: more than %d instructions",
                            (int)FG_MAX_INSTRUCTIONS);
    if (fg_emit_reserve(e, &e->code, sizeof(uint32_t), 1) != 0) return fg_emit_oom(e, node);
    ((uint32_t *)e->code.data)[e->code.length] = insn;
    return e->code.length++;
}

/* ---- alternatives and packing ----------------------------------------------- */

static size_t fg_node_text_length(const fg_node *node) {
    if (node == NULL || node->text == NULL || node->loc.end < node->loc.begin) return 0;
    return node->loc.end - node->loc.begin;
}

static int fg_is_space(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r'; }

/* Stores node's source text as one line: outside string literals, every run
 * of white space and `#` comments becomes one space (none at the ends), so a
 * transition reason or a listing reads on one line however the policy file
 * was laid out. Everything else is kept as written. Returns 0 or -1. */
static int fg_emit_source_text(fg_emitter *e, const fg_node *node, fg_strref *out) {
    size_t n = fg_node_text_length(node);
    const char *src = n > 0 ? node->text : "";
    if (n >= UINT32_MAX / 2 || fg_emit_reserve(e, &e->bytes, 1, (uint32_t)n + 1) != 0)
        return fg_emit_oom(e, node);
    char *dst = (char *)e->bytes.data + e->bytes.length;
    size_t len = 0;
    int in_string = 0, gap = 0;
    for (size_t i = 0; i < n; i++) {
        char c = src[i];
        if (!in_string && (fg_is_space(c) || c == '#')) {
            if (c == '#')
                while (i + 1 < n && src[i + 1] != '\n') i++;
            gap = 1;
            continue;
        }
        if (gap && len > 0) dst[len++] = ' ';
        gap = 0;
        dst[len++] = c;
        if (in_string && c == '\\' && i + 1 < n) {
            dst[len++] = src[++i]; /* an escaped character, `\"` included */
        } else if (c == '"') {
            in_string = !in_string;
        }
    }
    dst[len] = '\0';
    out->offset = e->bytes.length;
    out->length = (uint32_t)len;
    e->bytes.length += (uint32_t)len + 1;
    return 0;
}

int64_t fg_emit_alternative(fg_emitter *e, const fg_node *node) {
    if (e->failed) return -1;
    if (e->alternatives.length >= FG_MAX_INSTRUCTIONS)
        return fg_emit_fail(e, node, "program too large: more than %d alternatives",
                            (int)FG_MAX_INSTRUCTIONS);
    fg_strref ref;
    if (fg_emit_source_text(e, node, &ref) != 0) return -1;
    if (fg_emit_reserve(e, &e->alternatives, sizeof(fg_strref), 1) != 0) return fg_emit_oom(e, node);
    ((fg_strref *)e->alternatives.data)[e->alternatives.length] = ref;
    return e->alternatives.length++;
}

/* Sorts the thresholds ascending and renumbers the SlowRate constants to match. */
static void fg_emit_sort_thresholds(fg_emitter *e, double *sorted) {
    uint32_t n = e->threshold_count, rank[FG_MAX_SLOW_THRESHOLDS];
    for (uint32_t i = 0; i < n; i++) {
        rank[i] = 0; /* the thresholds are distinct: rank = how many are smaller */
        for (uint32_t j = 0; j < n; j++) rank[i] += e->thresholds[j] < e->thresholds[i];
        sorted[rank[i]] = e->thresholds[i];
    }
    fg_constant *c = e->constants.data;
    for (uint32_t i = 0; i < e->constants.length; i++)
        if (c[i].type == FG_OPERAND_SLOW) c[i].first = rank[c[i].first];
}

/* Rounds a byte count up so that the next array is suitably aligned. */
static size_t fg_align(size_t n) {
    const size_t a = sizeof(double) > sizeof(void *) ? sizeof(double) : sizeof(void *);
    return (n + a - 1) / a * a;
}

int fg_emit_finish(fg_emitter *e, const fg_node *root, fg_program **out) {
    *out = NULL;
    if (e->failed) return -1;
    fg_strref text;
    if (fg_emit_source_text(e, root, &text) != 0) return -1;

    size_t off_code = fg_align(sizeof(fg_program));
    size_t off_consts = fg_align(off_code + e->code.length * sizeof(uint32_t));
    size_t off_strrefs = fg_align(off_consts + e->constants.length * sizeof(fg_constant));
    size_t off_ranges = fg_align(off_strrefs + e->strrefs.length * sizeof(fg_strref));
    size_t off_alts = fg_align(off_ranges + e->ranges.length * sizeof(fg_range));
    size_t off_customs = fg_align(off_alts + e->alternatives.length * sizeof(fg_strref));
    uint32_t result_capacity = 0; /* see fg_program_block.h */
    if (e->kind == FG_PROGRAM_TRACKER && e->customs.length == 0 &&
        e->ranges.length <= FG_RESULT_FOLD_MAX_RANGES)
        result_capacity = e->ranges.length + 1;
    /* the error tables: one per TypeOf() string (at most one per string
     * reference) and one for any other type */
    int error_tables = result_capacity > 0 && e->strrefs.length <= FG_ERROR_FOLD_MAX_TYPES;
    uint32_t error_types = error_tables ? e->strrefs.length : 0;
    size_t error_folds = error_tables ? (size_t)error_types + 1 : 0;
    size_t off_results = fg_align(off_customs + e->customs.length * sizeof(fg_strref));
    size_t off_error_types = fg_align(off_results + result_capacity * sizeof(fg_range));
    size_t off_error_folds = fg_align(off_error_types + error_types * sizeof(fg_strref));
    size_t off_error_ranges = fg_align(off_error_folds + error_folds * sizeof(fg_status_fold));
    size_t off_plan = fg_align(off_error_ranges + error_folds * result_capacity * sizeof(fg_range));
    size_t plan_steps = e->kind == FG_PROGRAM_TRIPPER ? e->code.length : 0;
    size_t off_tests = fg_align(off_plan + plan_steps * sizeof(fg_trip_step));
    uint32_t tests = 0; /* the decision table's (see fg_trip_test) */
    if (e->kind == FG_PROGRAM_TRIPPER)
        tests = fg_program_trip_tests(e->code.data, e->code.length, NULL);
    /* one test: one branch either way, the walk is as short */
    if (tests < 2 || tests > FG_TRIP_TABLE_MAX_TESTS ||
        e->alternatives.length > FG_TRIP_ENTRY_MAX_ALTERNATIVE + 1u)
        tests = 0;
    size_t off_table = fg_align(off_tests + tests * sizeof(fg_trip_test));
    size_t table_entries = tests > 0 ? (size_t)1 << tests : 0;
    size_t off_bytes = fg_align(off_table + table_entries * sizeof(uint16_t));
    size_t size = off_bytes + e->bytes.length;

    char *block = fg_alloc_new(&e->alloc, size);
    if (block == NULL) return fg_emit_oom(e, root);
    memset(block, 0, size);
    fg_program *p = (fg_program *)block;
    p->block_size = size;
    p->kind = e->kind;
    p->code_length = e->code.length;
    p->constant_count = e->constants.length;
    p->strref_count = e->strrefs.length;
    p->range_count = e->ranges.length;
    p->alternative_count = e->alternatives.length;
    p->custom_count = e->customs.length;
    p->threshold_count = e->threshold_count;
    p->byte_count = e->bytes.length;
    p->text = text;
    fg_emit_sort_thresholds(e, p->thresholds);
    p->code = (uint32_t *)(block + off_code);
    p->constants = (fg_constant *)(block + off_consts);
    p->strrefs = (fg_strref *)(block + off_strrefs);
    p->ranges = (fg_range *)(block + off_ranges);
    p->alternatives = (fg_strref *)(block + off_alts);
    p->customs = (fg_strref *)(block + off_customs);
    p->result_fold.ranges = (fg_range *)(block + off_results);
    p->result_capacity = result_capacity;
    p->error_type_capacity = error_types;
    p->error_types = (fg_strref *)(block + off_error_types);
    p->error_folds = error_folds > 0 ? (fg_status_fold *)(block + off_error_folds) : NULL;
    p->error_ranges = (fg_range *)(block + off_error_ranges);
    p->trip_plan = plan_steps > 0 ? (fg_trip_step *)(block + off_plan) : NULL;
    p->trip_test_capacity = tests;
    p->trip_tests = tests > 0 ? (fg_trip_test *)(block + off_tests) : NULL;
    p->trip_table = tests > 0 ? (uint16_t *)(block + off_table) : NULL;
    p->bytes = block + off_bytes;
#define FG_COPY(dst, vec, elem)                                                                 \
    if ((vec).length > 0) memcpy((dst), (vec).data, (size_t)(vec).length * (elem))
    FG_COPY(p->code, e->code, sizeof(uint32_t));
    FG_COPY(p->constants, e->constants, sizeof(fg_constant));
    FG_COPY(p->strrefs, e->strrefs, sizeof(fg_strref));
    FG_COPY(p->ranges, e->ranges, sizeof(fg_range));
    FG_COPY(p->alternatives, e->alternatives, sizeof(fg_strref));
    FG_COPY(p->customs, e->customs, sizeof(fg_strref));
    FG_COPY(p->bytes, e->bytes, 1);
#undef FG_COPY
    for (uint32_t pc = 0; pc < p->code_length; pc++) {
        uint32_t op = FG_INSN_OP(p->code[pc]);
        if (op == FG_OP_IS_CLOSED) p->reads_state |= 1u << FG_STATE_CLOSED;
        if (op == FG_OP_IS_HALF_OPEN) p->reads_state |= 1u << FG_STATE_HALF_OPEN;
        if (op == FG_OP_AVG_LATENCY_GE) p->reads_latency = 1;
    }
    *out = p;
    return 0;
}
