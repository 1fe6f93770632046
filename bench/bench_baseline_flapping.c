/*
 * bench_baseline_flapping.c -- bench_baseline_release_flapping: the
 * hand-written breaker's release with BENCH_FLAPPING_TRIPPER as its
 * tripper, for the "flapping" workload (bench_baseline.h). The same code
 * as bench_baseline.c's release, compiled apart so that the payment
 * release keeps its own code generation.
 */
#define BENCH_BASELINE_VARIANT BENCH_VARIANT_FLAPPING /* (defined in bench_baseline.c) */
#include "bench_baseline.c"
