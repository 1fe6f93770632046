/*
 * fg_block_def.c -- what the state block needs to know about a compiled
 * definition: its fingerprint (so that a block is only ever joined by a
 * breaker of the same behaviour) and the facts that decide the block's
 * layout and the clock (AvgLatency thresholds).
 *
 * It reads the programs' bytecode and constant pools through the back
 * end's layout header (fg_program_block.h), read-only.
 */
#include "fg_block.h"

#include <math.h>
#include <string.h>

#include "fg_fnv.h"
#include "fg_opcodes.h"
#include "fg_program_block.h"

/* FNV-1a over bytes, then a splitmix64 finaliser: cheap, deterministic,
 * the same on every machine for the same input bytes. Not a defence
 * against forged blocks -- a check that two definitions behave alike. */
typedef struct fg_hash {
    uint64_t h;
} fg_hash;

static void fg_hash_bytes(fg_hash *s, const void *data, size_t n) {
    s->h = fg_fnv1a(s->h, data, n);
}

/* Integers and doubles are hashed as fixed-width little-endian values, so
 * the fingerprint is the same on every machine. */
static void fg_hash_u64(fg_hash *s, uint64_t v) {
    unsigned char b[8];
    for (int i = 0; i < 8; i++) b[i] = (unsigned char)(v >> (8 * i));
    fg_hash_bytes(s, b, 8);
}

static void fg_hash_double(fg_hash *s, double d) {
    uint64_t bits;
    if (d == 0.0) d = 0.0; /* -0 and +0 behave alike */
    memcpy(&bits, &d, sizeof bits);
    fg_hash_u64(s, bits);
}

/* A program's behaviour: its code, its constant pool (types, numbers,
 * the strings and ranges they name), its slow thresholds. The source
 * texts (reasons shown to listeners) are hashed too: a transition's reason
 * comes from them. */
static void fg_hash_program(fg_hash *s, const fg_program *p) {
    fg_hash_u64(s, (uint64_t)p->kind);
    fg_hash_u64(s, p->code_length);
    for (uint32_t i = 0; i < p->code_length; i++) fg_hash_u64(s, p->code[i]);
    fg_hash_u64(s, p->constant_count);
    for (uint32_t i = 0; i < p->constant_count; i++) {
        const fg_constant *c = &p->constants[i];
        fg_hash_u64(s, (uint64_t)c->type);
        fg_hash_u64(s, c->first);
        fg_hash_u64(s, c->count);
        fg_hash_double(s, c->number);
    }
    fg_hash_u64(s, p->strref_count);
    for (uint32_t i = 0; i < p->strref_count; i++) {
        fg_hash_u64(s, p->strrefs[i].length);
        fg_hash_bytes(s, p->bytes + p->strrefs[i].offset, p->strrefs[i].length);
    }
    fg_hash_u64(s, p->range_count);
    for (uint32_t i = 0; i < p->range_count; i++) {
        fg_hash_u64(s, (uint64_t)p->ranges[i].low);
        fg_hash_u64(s, (uint64_t)p->ranges[i].high);
    }
    fg_hash_u64(s, p->threshold_count);
    for (uint32_t i = 0; i < p->threshold_count; i++) fg_hash_double(s, p->thresholds[i]);
    fg_hash_u64(s, p->alternative_count);
    for (uint32_t i = 0; i < p->alternative_count; i++) {
        fg_hash_u64(s, p->alternatives[i].length);
        fg_hash_bytes(s, p->bytes + p->alternatives[i].offset, p->alternatives[i].length);
    }
    fg_hash_u64(s, p->text.length);
    fg_hash_bytes(s, p->bytes + p->text.offset, p->text.length);
}

/* Everything that defines the behaviour, after whatever prefix s holds. */
static uint64_t fg_hash_definition(fg_hash s, const fg_breaker_def *def) {
    fg_hash_u64(&s, (uint64_t)def->window.kind);
    fg_hash_u64(&s, def->window.size);
    fg_hash_program(&s, def->tracker);
    fg_hash_program(&s, def->tripper);
    fg_hash_u64(&s, (uint64_t)def->retry.kind);
    fg_hash_double(&s, def->retry.duration);
    fg_hash_double(&s, def->retry.multiplier);
    fg_hash_double(&s, def->retry.max_duration);
    fg_hash_double(&s, def->retry.jitter_ratio);
    fg_hash_u64(&s, (uint64_t)def->permit.kind);
    fg_hash_double(&s, def->permit.ratio);
    fg_hash_double(&s, def->permit.final);
    fg_hash_double(&s, def->permit.duration);
    fg_hash_u64(&s, def->max_half_open_calls);
    fg_hash_double(&s, def->half_open_lease);
    uint64_t z = s.h;
    return fg_random_splitmix64(&z);
}

uint64_t fg_block_fingerprint(const fg_breaker_def *def) {
    fg_hash s = {FG_FNV1A_INIT};
    fg_hash_u64(&s, FG_BLOCK_VERSION);
    return fg_hash_definition(s, def);
}

uint64_t fg_block_definition_fingerprint(const fg_breaker_def *def) {
    fg_hash s = {FG_FNV1A_INIT};
    return fg_hash_definition(s, def);
}

double fg_block_min_latency_threshold(const fg_program *p) {
    double m = INFINITY;
    if (!p->reads_latency) return m;
    for (uint32_t pc = 0; pc < p->code_length; pc++) {
        uint32_t insn = p->code[pc];
        if (FG_INSN_OP(insn) != FG_OP_AVG_LATENCY_GE) continue;
        uint32_t k = FG_INSN_OPERAND(insn);
        if (k < p->constant_count && p->constants[k].number < m) m = p->constants[k].number;
    }
    return m;
}

int fg_block_reads_latency(const fg_program *p) {
    return p->reads_latency != 0;
}

void fg_block_streak_bounds(const fg_program *p, uint32_t *low, uint32_t *high) {
    uint64_t lo = UINT64_MAX, hi = 0;
    for (uint32_t pc = 0; pc < p->code_length; pc++) {
        uint32_t insn = p->code[pc];
        if (FG_INSN_OP(insn) != FG_OP_FAILURE_STREAK_GE) continue;
        uint32_t k = FG_INSN_OPERAND(insn);
        if (k >= p->constant_count) continue; /* cannot happen in a verified program */
        uint64_t n = p->constants[k].at_least;
        if (n < lo) lo = n;
        if (n > hi) hi = n;
    }
    /* Clamped to 32 bits (the streak's width): a clamped bound only splits
     * keys that could have been shared, it never merges two that differ. */
    *low = lo > UINT32_MAX ? UINT32_MAX : (uint32_t)lo;
    *high = hi > UINT32_MAX ? UINT32_MAX : (uint32_t)hi;
}
