/*
 * fuzz_vm.c -- libFuzzer harness for the bytecode verifier and the VM.
 *
 * The property (SPEC section 4): no bytecode, however corrupt, makes the VM
 * read out of bounds -- because fg_program_verify rejects it, or because it
 * runs safely. Each input starts from programs compiled from a valid template
 * (so the constant pool, strings and thresholds are real), then corrupts the
 * code through fg_program_code_mutable (fg_program.h) in one of two ways,
 * chosen by the first byte:
 *   even: the input's bytes overwrite the code words from the start;
 *   odd:  the input is a list of (word index, new value) patches, which keeps
 *         most of the program valid and so probes the verifier's edge cases.
 * A program the verifier accepts is then evaluated by fg_vm_trip / fg_vm_track
 * on several contexts and outcomes; an alternative index it reports must be in
 * range (the runtime looks the rule's text up with it).
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "fg_policy_internal.h"
#include "fg_program.h"
#include "fluxgate.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Programs with many instructions, constants and every leaf kind. */
static const char fuzz_template[] =
    "tracker t = (TypeOf(\"timeout\", \"closed\") | Status(500..599, 429) | Message(\"*reset*\")\n"
    "             | Custom(\"mine\")) & ~TypeOf(\"cancelled\")\n"
    "tripper p = FailureStreak(5) | (MinRequests(20) & ((Closed() & FailureRate(60%))\n"
    "             | (HalfOpened() & FailureRate(50%)))) | ~(MinRequests(3) & AvgLatency(1s))\n"
    "breaker b { tracker = t\n"
    "  tripper = p | (MinRequests(20) & SlowRate(30%, threshold = 2s)) | SlowRate(10%, threshold = 5s) }\n";

static int vm_custom(void *ud, const fg_outcome *outcome) {
    (void)ud;
    return outcome->has_status ? 1 : (outcome->is_error ? 0 : -1);
}

static void fuzz_run(const fg_program *prog) {
    if (fg_program_get_kind(prog) == FG_PROGRAM_TRIPPER) {
        fg_metric m;
        memset(&m, 0, sizeof m);
        uint32_t nt = fg_program_threshold_count(prog);
        m.threshold_count = nt;
        for (uint32_t i = 0; i < nt && i < FG_MAX_SLOW_THRESHOLDS; i++) m.thresholds[i] = fg_program_thresholds(prog)[i];
        uint32_t alternatives = fg_program_alternative_count(prog);
        for (int k = 0; k < 6; k++) {
            m.total_count = (uint64_t)(k * 17);
            m.failure_count = (uint64_t)(k * 9) % (m.total_count + 1);
            m.total_duration = k * 3.5;
            for (uint32_t i = 0; i < nt && i < FG_MAX_SLOW_THRESHOLDS; i++) m.slow_counts[i] = (uint64_t)k * i;
            fg_trip_context ctx = {&m, (k & 1) ? FG_STATE_HALF_OPEN : FG_STATE_CLOSED, (uint32_t)k * 2, NULL};
            uint32_t alt = UINT32_MAX;
            if (fg_vm_trip(prog, &ctx, &alt) && alt >= alternatives) abort();
        }
    } else {
        fg_custom customs[16];
        for (int i = 0; i < 16; i++) customs[i] = (fg_custom){vm_custom, NULL};
        if (fg_program_custom_count(prog) > 16) return;
        const fg_outcome outcomes[] = {
            {1, 0, 0, "timeout", 7, "connection reset by peer", 24, NULL},
            {0, 1, 503, NULL, 0, NULL, 0, NULL},
            {1, 1, 429, "cancelled", 9, NULL, 0, NULL},
            {0, 0, 0, NULL, 0, NULL, 0, NULL},
        };
        for (size_t i = 0; i < sizeof outcomes / sizeof outcomes[0]; i++) fg_vm_track(prog, &outcomes[i], customs);
    }
}

/* The template's programs, compiled once per process (libFuzzer calls the
 * entry point millions of times and compiling dominated each run), with a
 * copy of each program's code: every input corrupts one program in place and
 * the original code is put back before the next input. */
typedef struct vm_template {
    fg_policy *policy;
    uint32_t **saved;
} vm_template;

static vm_template *vm_template_get(void) {
    static vm_template t;
    if (t.policy != NULL) return &t;
    t.policy = fg_policy_compile(fuzz_template, sizeof fuzz_template - 1, "template", NULL, NULL);
    if (t.policy == NULL) abort(); /* the template is valid: anything else is a bug */
    t.saved = calloc(t.policy->program_count, sizeof *t.saved);
    if (t.saved == NULL) abort();
    for (size_t i = 0; i < t.policy->program_count; i++) {
        fg_program *prog = t.policy->programs[i];
        uint32_t length = fg_program_code_length(prog);
        t.saved[i] = malloc((length ? length : 1) * sizeof(uint32_t));
        if (t.saved[i] == NULL) abort();
        memcpy(t.saved[i], fg_program_code_mutable(prog), length * sizeof(uint32_t));
    }
    return &t;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (size < 2) return 0;
    vm_template *t = vm_template_get();
    size_t which = data[1] % t->policy->program_count;
    fg_program *prog = t->policy->programs[which];
    uint32_t *code = fg_program_code_mutable(prog);
    uint32_t length = fg_program_code_length(prog);
    const uint8_t *p = data + 2;
    size_t n = size - 2;
    if ((data[0] & 1) == 0) {
        for (uint32_t w = 0; w < length && n >= 4; w++, p += 4, n -= 4) memcpy(&code[w], p, 4);
    } else {
        for (; n >= 6 && length > 0; p += 6, n -= 6) {
            uint16_t at;
            uint32_t value;
            memcpy(&at, p, 2);
            memcpy(&value, p + 2, 4);
            code[at % length] = value;
        }
    }
    char err[256];
    if (fg_program_verify(prog, err, sizeof err) == 0) {
        fuzz_run(prog);
        char listing[8192];
        fg_program_disassemble(prog, listing, sizeof listing);
    }
    memcpy(code, t->saved[which], length * sizeof(uint32_t));
    return 0;
}
