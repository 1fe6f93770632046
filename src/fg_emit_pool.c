/*
 * fg_emit_pool.c -- the constant pool of the program being built, and the
 * test instruction of each constructor with its constant.
 *
 * Deduplication is by node first (a named tracker used a thousand times is
 * one shared node: it costs one lookup, never a rehash of its strings), then
 * by content (two `FailureRate(0.5)` written apart share one constant). Each
 * distinct node is hashed once, so the cost stays linear in the source even
 * when a named-reference DAG expands it many times.
 */
#include <string.h>

#include "fg_alloc.h"
#include "fg_emit.h"
#include "fg_fnv.h"

/* ---- hash maps --------------------------------------------------------------- */

static uint64_t fg_hash_mix(uint64_t h) { /* spreads pointer and hash bits over the slots */
    h ^= h >> 33;
    h *= 0xff51afd7ed558ccdull;
    h ^= h >> 33;
    return h;
}

static void fg_map_free(fg_emitter *e, fg_emit_map *m) {
    fg_alloc_free(&e->alloc, m->keys, (size_t)m->capacity * sizeof *m->keys);
    fg_alloc_free(&e->alloc, m->values, (size_t)m->capacity * sizeof *m->values);
    memset(m, 0, sizeof *m);
}

/* Inserts key -> value (duplicate keys allowed: content maps chain equal
 * hashes). Grows at half load. Returns 0 or -1 (map unchanged). */
static int fg_map_put(fg_emitter *e, fg_emit_map *m, uint64_t key, uint32_t value) {
    if ((m->used + 1) * 2 > m->capacity) {
        uint32_t cap = m->capacity ? m->capacity * 2 : 64;
        uint64_t *keys = fg_alloc_new(&e->alloc, (size_t)cap * sizeof *keys);
        uint32_t *values = fg_alloc_new(&e->alloc, (size_t)cap * sizeof *values);
        if (keys == NULL || values == NULL) {
            fg_alloc_free(&e->alloc, keys, (size_t)cap * sizeof *keys);
            fg_alloc_free(&e->alloc, values, (size_t)cap * sizeof *values);
            return -1;
        }
        memset(values, 0, (size_t)cap * sizeof *values);
        for (uint32_t i = 0; i < m->capacity; i++) {
            if (m->values[i] == 0) continue;
            uint32_t s = (uint32_t)fg_hash_mix(m->keys[i]) & (cap - 1);
            while (values[s] != 0) s = (s + 1) & (cap - 1);
            keys[s] = m->keys[i];
            values[s] = m->values[i];
        }
        fg_map_free(e, m);
        m->keys = keys;
        m->values = values;
        m->capacity = cap;
        m->used = 0;
        for (uint32_t i = 0; i < cap; i++) m->used += values[i] != 0;
    }
    uint32_t s = (uint32_t)fg_hash_mix(key) & (m->capacity - 1);
    while (m->values[s] != 0) s = (s + 1) & (m->capacity - 1);
    m->keys[s] = key;
    m->values[s] = value + 1;
    m->used++;
    return 0;
}

/* Iterates over the values stored under key: start with *slot = UINT32_MAX.
 * Returns 1 and sets *value, or 0 when there are no more. */
static int fg_map_next(const fg_emit_map *m, uint64_t key, uint32_t *slot, uint32_t *value) {
    if (m->capacity == 0) return 0;
    uint32_t s = *slot == UINT32_MAX ? (uint32_t)fg_hash_mix(key) & (m->capacity - 1)
                                     : (*slot + 1) & (m->capacity - 1);
    for (; m->values[s] != 0; s = (s + 1) & (m->capacity - 1)) {
        if (m->keys[s] == key) {
            *slot = s;
            *value = m->values[s] - 1;
            return 1;
        }
    }
    return 0;
}
void fg_emit_pool_dispose(fg_emitter *e) {
    fg_map_free(e, &e->by_node);
    fg_map_free(e, &e->by_content);
    fg_map_free(e, &e->custom_names);
}

/* ---- constants ---------------------------------------------------------------- */

static fg_constant *fg_emit_constant_at(const fg_emitter *e, uint32_t index) {
    return (fg_constant *)e->constants.data + index;
}

static const char *fg_emit_str(const fg_emitter *e, fg_strref r) {
    return (const char *)e->bytes.data + r.offset;
}

static int fg_strref_equal(const fg_emitter *e, fg_strref a, fg_strref b) {
    return a.length == b.length && memcmp(fg_emit_str(e, a), fg_emit_str(e, b), a.length) == 0;
}

/* Whether two constants hold the same thing (so one can stand for both). */
static int fg_constant_equal(const fg_emitter *e, const fg_constant *a, const fg_constant *b) {
    if (a->type != b->type || a->count != b->count) return 0;
    const fg_strref *refs = e->strrefs.data;
    const fg_range *ranges = e->ranges.data;
    switch (a->type) {
    case FG_OPERAND_NUMBER:
        return memcmp(&a->number, &b->number, sizeof a->number) == 0;
    case FG_OPERAND_SLOW:
        return a->first == b->first && memcmp(&a->number, &b->number, sizeof a->number) == 0;
    case FG_OPERAND_CUSTOM:
        return a->first == b->first;
    case FG_OPERAND_GLOB:
    case FG_OPERAND_STRINGS:
        for (uint32_t i = 0; i < a->count; i++)
            if (!fg_strref_equal(e, refs[a->first + i], refs[b->first + i])) return 0;
        return 1;
    case FG_OPERAND_RANGES:
        return memcmp(ranges + a->first, ranges + b->first, a->count * sizeof *ranges) == 0;
    default:
        return 0;
    }
}

static uint64_t fg_constant_hash(const fg_emitter *e, const fg_constant *c) {
    uint64_t h = FG_FNV1A_INIT;
    h = fg_fnv1a(h, &c->type, sizeof c->type);
    h = fg_fnv1a(h, &c->count, sizeof c->count);
    const fg_strref *refs = e->strrefs.data;
    switch (c->type) {
    case FG_OPERAND_NUMBER:
        return fg_fnv1a(h, &c->number, sizeof c->number);
    case FG_OPERAND_SLOW:
        h = fg_fnv1a(h, &c->first, sizeof c->first);
        return fg_fnv1a(h, &c->number, sizeof c->number);
    case FG_OPERAND_CUSTOM:
        return fg_fnv1a(h, &c->first, sizeof c->first);
    case FG_OPERAND_GLOB:
    case FG_OPERAND_STRINGS:
        for (uint32_t i = 0; i < c->count; i++) {
            fg_strref r = refs[c->first + i];
            h = fg_fnv1a(h, &r.length, sizeof r.length);
            h = fg_fnv1a(h, fg_emit_str(e, r), r.length);
        }
        return h;
    case FG_OPERAND_RANGES:
        return fg_fnv1a(h, (const fg_range *)e->ranges.data + c->first,
                             c->count * sizeof(fg_range));
    default:
        return h;
    }
}

/* The tentative state of the side buffers, so that a duplicate constant's
 * strings and ranges can be dropped again. */
typedef struct fg_emit_mark {
    uint32_t strrefs, ranges, bytes;
} fg_emit_mark;

static fg_emit_mark fg_emit_mark_now(const fg_emitter *e) {
    fg_emit_mark m = {e->strrefs.length, e->ranges.length, e->bytes.length};
    return m;
}

/* Adds c (whose strings/ranges were appended since mark) to the pool, unless
 * an equal constant exists: then drops what was appended and reuses it.
 * Remembers the result for node. Returns the constant's index or -1. */
static int64_t fg_emit_intern(fg_emitter *e, const fg_constant *c, fg_emit_mark mark,
                              const fg_node *node) {
    uint64_t h = fg_constant_hash(e, c);
    uint32_t slot = UINT32_MAX, index = 0;
    int found = 0;
    while (fg_map_next(&e->by_content, h, &slot, &index)) {
        if (fg_constant_equal(e, fg_emit_constant_at(e, index), c)) {
            found = 1;
            break;
        }
    }
    if (found) {
        e->strrefs.length = mark.strrefs;
        e->ranges.length = mark.ranges;
        e->bytes.length = mark.bytes;
    } else {
        if (e->constants.length >= FG_MAX_CONSTANTS)
            return fg_emit_fail(e, node, "program too large: more than %d constants",
                                (int)FG_MAX_CONSTANTS);
        if (fg_emit_reserve(e, &e->constants, sizeof(fg_constant), 1) != 0 ||
            fg_map_put(e, &e->by_content, h, e->constants.length) != 0)
            return fg_emit_oom(e, node);
        index = e->constants.length++;
        *fg_emit_constant_at(e, index) = *c;
    }
    if (fg_map_put(e, &e->by_node, (uint64_t)(uintptr_t)node, index) != 0)
        return fg_emit_oom(e, node);
    return index;
}

/* The index of Custom(name) among the program's distinct names, adding it
 * on first use. Returns the index or -1. */
static int64_t fg_emit_custom_index(fg_emitter *e, const fg_value *name, const fg_node *node) {
    uint64_t h = fg_fnv1a(FG_FNV1A_INIT, name->string, name->length);
    uint32_t slot = UINT32_MAX, index = 0;
    const fg_strref *customs = e->customs.data;
    while (fg_map_next(&e->custom_names, h, &slot, &index)) {
        fg_strref r = customs[index];
        if (r.length == name->length && memcmp(fg_emit_str(e, r), name->string, r.length) == 0)
            return index;
    }
    fg_strref ref;
    if (fg_emit_bytes(e, name->string, name->length, &ref, node) != 0) return -1;
    if (fg_emit_reserve(e, &e->customs, sizeof(fg_strref), 1) != 0 ||
        fg_map_put(e, &e->custom_names, h, e->customs.length) != 0)
        return fg_emit_oom(e, node);
    ((fg_strref *)e->customs.data)[e->customs.length] = ref;
    return e->customs.length++;
}

/* The index of a SlowRate threshold among the distinct ones (first-use
 * order; fg_emit_finish sorts them). Returns the index or -1. */
static int64_t fg_emit_threshold_index(fg_emitter *e, double threshold, const fg_node *node) {
    for (uint32_t i = 0; i < e->threshold_count; i++)
        if (e->thresholds[i] == threshold) return i;
    if (e->threshold_count >= FG_MAX_SLOW_THRESHOLDS)
        return fg_emit_fail(e, node, "too many distinct SlowRate thresholds (at most %d)",
                            (int)FG_MAX_SLOW_THRESHOLDS);
    e->thresholds[e->threshold_count] = threshold;
    return e->threshold_count++;
}

/* Statuses are integers (the checker made sure); clamp anything beyond int64. */
static int64_t fg_emit_status(double d) {
    if (d != d) return 0;
    if (d <= -9.2e18) return INT64_MIN;
    if (d >= 9.2e18) return INT64_MAX;
    return (int64_t)d;
}

/* Builds the constant of a call whose operand has the given shape. */
/* Whether every argument has the kind the shape reads (a checked tree always
 * does; this keeps a checker bug from becoming a wild read). */
static int fg_emit_args_ok(const fg_node *call, fg_operand_shape shape) {
    for (uint32_t i = 0; i < call->arg_count; i++) {
        fg_value_kind kind = call->args[i].kind;
        switch (shape) {
        case FG_OPERAND_NUMBER:
        case FG_OPERAND_SLOW:
            if (kind != FG_VALUE_NUMBER) return 0;
            break;
        case FG_OPERAND_RANGES:
            if (kind != FG_VALUE_NUMBER && kind != FG_VALUE_RANGE) return 0;
            break;
        default: /* strings, glob, custom name */
            if (kind != FG_VALUE_STRING ||
                (call->args[i].string == NULL && call->args[i].length > 0))
                return 0;
            break;
        }
    }
    return 1;
}

static int64_t fg_emit_call_constant(fg_emitter *e, const fg_node *call, fg_operand_shape shape) {
    uint32_t slot = UINT32_MAX, cached = 0;
    if (fg_map_next(&e->by_node, (uint64_t)(uintptr_t)call, &slot, &cached)) return cached;
    if (!fg_emit_args_ok(call, shape))
        return fg_emit_fail(e, call, "internal error: unchecked call (wrong argument kind)");

    fg_emit_mark mark = fg_emit_mark_now(e);
    fg_constant c;
    memset(&c, 0, sizeof c);
    c.type = shape;
    const fg_value *args = call->args;
    switch (shape) {
    case FG_OPERAND_NUMBER:
        c.number = args[0].number;
        break;
    case FG_OPERAND_SLOW: {
        int64_t k = fg_emit_threshold_index(e, args[1].number, call);
        if (k < 0) return -1;
        c.number = args[0].number;
        c.first = (uint32_t)k;
        break;
    }
    case FG_OPERAND_CUSTOM: {
        int64_t k = fg_emit_custom_index(e, &args[0], call);
        if (k < 0) return -1;
        c.first = (uint32_t)k;
        break;
    }
    case FG_OPERAND_GLOB:
    case FG_OPERAND_STRINGS:
        c.first = e->strrefs.length;
        c.count = shape == FG_OPERAND_GLOB ? 1 : call->arg_count;
        if (fg_emit_reserve(e, &e->strrefs, sizeof(fg_strref), c.count) != 0)
            return fg_emit_oom(e, call);
        for (uint32_t i = 0; i < c.count; i++) {
            fg_strref ref;
            if (fg_emit_bytes(e, args[i].string, args[i].length, &ref, call) != 0) return -1;
            ((fg_strref *)e->strrefs.data)[e->strrefs.length++] = ref;
        }
        break;
    case FG_OPERAND_RANGES:
        c.first = e->ranges.length;
        c.count = call->arg_count;
        if (fg_emit_reserve(e, &e->ranges, sizeof(fg_range), c.count) != 0)
            return fg_emit_oom(e, call);
        for (uint32_t i = 0; i < c.count; i++) {
            fg_range r;
            r.low = fg_emit_status(args[i].number);
            r.high = args[i].kind == FG_VALUE_RANGE ? fg_emit_status(args[i].high) : r.low;
            ((fg_range *)e->ranges.data)[e->ranges.length++] = r;
        }
        break;
    default:
        return fg_emit_fail(e, call, "internal error: no constant for this operand");
    }
    fg_program_prepare_constant(&c);
    return fg_emit_intern(e, &c, mark, call);
}

/* ---- tests ----------------------------------------------------------------------- */

/* How each constructor compiles: its test opcode and how many arguments
 * (at least) the checked call carries. */
typedef struct fg_test_rule {
    int known;
    fg_opcode op;
    uint32_t min_args;
} fg_test_rule;

static fg_test_rule fg_emit_rule(fg_builtin_id id) {
    fg_test_rule r = {1, FG_OP_RETURN_FALSE, 0};
    switch (id) {
    case FG_BUILTIN_ALL: r.op = FG_OP_IS_ERROR; break;
    case FG_BUILTIN_TYPE_OF: r.op = FG_OP_TYPE_IN; r.min_args = 1; break;
    case FG_BUILTIN_STATUS: r.op = FG_OP_STATUS_IN; r.min_args = 1; break;
    case FG_BUILTIN_MESSAGE: r.op = FG_OP_MESSAGE_MATCHES; r.min_args = 1; break;
    case FG_BUILTIN_CUSTOM: r.op = FG_OP_CUSTOM; r.min_args = 1; break;
    case FG_BUILTIN_CLOSED: r.op = FG_OP_IS_CLOSED; break;
    case FG_BUILTIN_HALF_OPENED: r.op = FG_OP_IS_HALF_OPEN; break;
    case FG_BUILTIN_MIN_REQUESTS: r.op = FG_OP_MIN_REQUESTS_GE; r.min_args = 1; break;
    case FG_BUILTIN_FAILURE_RATE: r.op = FG_OP_FAILURE_RATE_GE; r.min_args = 1; break;
    case FG_BUILTIN_AVG_LATENCY: r.op = FG_OP_AVG_LATENCY_GE; r.min_args = 1; break;
    case FG_BUILTIN_SLOW_RATE: r.op = FG_OP_SLOW_RATE_GE; r.min_args = 2; break;
    case FG_BUILTIN_FAILURE_STREAK: r.op = FG_OP_FAILURE_STREAK_GE; r.min_args = 1; break;
    default: r.known = 0; break;
    }
    return r;
}

int fg_emit_test(fg_emitter *e, const fg_node *call) {
    if (e->failed) return -1;
    fg_test_rule rule = fg_emit_rule(call->builtin);
    unsigned want = e->kind == FG_PROGRAM_TRACKER ? FG_OPK_TRACKER : FG_OPK_TRIPPER;
    if (!rule.known || !(fg_opcode_kinds[rule.op] & want))
        return fg_emit_fail(e, call, "internal error: this constructor is not a %s",
                            e->kind == FG_PROGRAM_TRACKER ? "tracker" : "tripper");
    if (call->arg_count < rule.min_args || (rule.min_args > 0 && call->args == NULL))
        return fg_emit_fail(e, call, "internal error: unchecked call (missing arguments)");
    uint32_t operand = 0;
    fg_operand_shape shape = fg_opcode_shapes[rule.op];
    if (shape != FG_OPERAND_NONE) {
        int64_t k = fg_emit_call_constant(e, call, shape);
        if (k < 0) return -1;
        operand = (uint32_t)k;
    }
    return fg_emit_insn(e, FG_INSN(rule.op, operand), call) < 0 ? -1 : 0;
}
