/*
 * bench_baseline_threshold.c -- bench_baseline_release_threshold: the
 * hand-written breaker's release with BENCH_THRESHOLD_TRIPPER as its
 * tripper, for the "threshold" workload (bench_baseline.h). The same code
 * as bench_baseline.c's release, compiled apart so that the payment
 * release keeps its own code generation.
 */
#define BENCH_BASELINE_VARIANT BENCH_VARIANT_THRESHOLD /* (defined in bench_baseline.c) */
#include "bench_baseline.c"
