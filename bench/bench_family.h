/*
 * bench_family.h -- the family benchmark (bench_family.c), run by bench_core's main.
 */
#ifndef BENCH_FAMILY_H
#define BENCH_FAMILY_H

/* Prints keys made per second and bytes per key at 100k and 1M keys, and
 * the cost of a call on an existing key against a plain breaker's. */
void bench_family(void);

#endif /* BENCH_FAMILY_H */
