/*
 * bench_alloc.c -- the counting allocator hook of bench_alloc.h.
 */
#include "bench_alloc.h"

#include <stdlib.h>

void *bench_counting_alloc(void *ud, void *ptr, size_t osize, size_t nsize) {
    bench_counter *c = ud;
    if (nsize == 0) {
        if (ptr != NULL) {
            c->live_bytes -= osize;
            c->live_blocks--;
        }
        free(ptr);
        return NULL;
    }
    void *p = realloc(ptr, nsize);
    if (p == NULL) return NULL;
    if (ptr != NULL) {
        c->live_bytes -= osize;
    } else {
        c->live_blocks++;
    }
    c->live_bytes += nsize;
    c->allocations++;
    return p;
}
