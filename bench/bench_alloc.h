/*
 * bench_alloc.h -- an fg_allocator hook that counts what passes through it,
 * so the benchmarks can print bytes per breaker and per key as the engine
 * itself allocated them (through its one allocator hook), not as malloc's
 * bookkeeping rounds them.
 */
#ifndef BENCH_ALLOC_H
#define BENCH_ALLOC_H

#include <stddef.h>

typedef struct bench_counter {
    size_t live_bytes;  /* bytes allocated and not yet freed */
    size_t live_blocks; /* allocations not yet freed */
    size_t allocations; /* allocations and reallocations so far */
} bench_counter;

/* The fg_allocator function; ud is a bench_counter (zeroed by the caller). */
void *bench_counting_alloc(void *ud, void *ptr, size_t osize, size_t nsize);

#endif /* BENCH_ALLOC_H */
