/*
 * test_fuzz_regressions.c -- every input the fuzzers found a bug with,
 * replayed through the very harness that found it (the tests/fuzz harnesses are
 * included here with their entry points renamed), so `make test` keeps
 * them fixed without clang or libFuzzer. fuzz_vm has found nothing so far:
 * its table holds only the template's programs as compiled, which keeps that
 * harness built and run by `make test` until it has a finding to hold.
 *
 * Some of these bugs are undefined behaviour that only clang's UBSan names
 * (e.g. "applying zero offset to null pointer"); `make test SANITIZE=1` with
 * gcc runs them without complaint, `make fuzz` (clang) would stop on them
 * at once. To add one: paste the reproducer's bytes (run.sh prints them in
 * hex and base64) as a new entry of the harness's table, with where it came
 * from and what it broke.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#define LLVMFuzzerTestOneInput fuzz_compile_one
#include "fuzz/fuzz_compile.c"
#undef LLVMFuzzerTestOneInput

#define LLVMFuzzerTestOneInput fuzz_vm_one
#include "fuzz/fuzz_vm.c"
#undef LLVMFuzzerTestOneInput

typedef struct regression {
    const char *bytes;
    size_t length;
    const char *what;
} regression;

#define REGRESSION(lit, what) {lit, sizeof(lit) - 1, what}

static const regression compile_regressions[] = {
    /* fuzz_compile, first seconds: a TimeWindow without SlowRate thresholds
     * computed NULL + 0 for its per-bucket slow counts on every record
     * (src/fg_window.c, fg_window_record_time). */
    REGRESSION("TimeWindow(60)", "TimeWindow with no slow thresholds"),
};

/* Not findings (there are none yet): programs 0 and 1 with nothing written over them. */
static const regression vm_inputs[] = {
    REGRESSION("\x00\x00", "program 0 as compiled"),
    REGRESSION("\x00\x01", "program 1 as compiled"),
};

static void replay(const regression *r, size_t n, int (*one)(const uint8_t *, size_t)) {
    for (size_t i = 0; i < n; i++) {
        /* an exact-size heap copy, so that an over-read is an ASan report */
        uint8_t *copy = malloc(r[i].length ? r[i].length : 1);
        assert_non_null(copy);
        memcpy(copy, r[i].bytes, r[i].length);
        assert_int_equal(one(copy, r[i].length), 0);
        free(copy);
    }
}

static void compiler_inputs_found_by_fuzzing_stay_fixed(void **state) {
    (void)state;
    replay(compile_regressions, sizeof compile_regressions / sizeof compile_regressions[0],
           fuzz_compile_one);
}

static void the_bytecode_harness_runs_the_template_programs_as_compiled(void **state) {
    (void)state;
    replay(vm_inputs, sizeof vm_inputs / sizeof vm_inputs[0], fuzz_vm_one);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(compiler_inputs_found_by_fuzzing_stay_fixed),
        cmocka_unit_test(the_bytecode_harness_runs_the_template_programs_as_compiled),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
