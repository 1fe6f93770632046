/*
 * fg_random.c -- xoshiro256** seeded through splitmix64 (both public domain
 * algorithms by Blackman and Vigna), and the clamp for user-supplied draws.
 */
#include "fg_random.h"

#include <math.h>

uint64_t fg_random_splitmix64(uint64_t *state) {
    uint64_t z = (*state += UINT64_C(0x9E3779B97F4A7C15));
    z = (z ^ (z >> 30)) * UINT64_C(0xBF58476D1CE4E5B9);
    z = (z ^ (z >> 27)) * UINT64_C(0x94D049BB133111EB);
    return z ^ (z >> 31);
}

void fg_random_seed(uint64_t s[4], uint64_t seed) {
    /* splitmix64 spreads any seed (0 included) over the 256-bit state, which
     * then cannot be all zero in practice; guard anyway since xoshiro would
     * stay at zero forever. */
    uint64_t sm = seed;
    for (int i = 0; i < 4; i++) s[i] = fg_random_splitmix64(&sm);
    if ((s[0] | s[1] | s[2] | s[3]) == 0) s[0] = 1;
}

void fg_random_init(fg_random *r, fg_random_fn fn, void *ud, uint64_t seed) {
    r->fn = fn;
    r->ud = ud;
    fg_random_seed(r->s, seed);
}

static uint64_t fg_rotl(uint64_t x, int k) {
    return (x << k) | (x >> (64 - k));
}

static uint64_t fg_xoshiro_next(uint64_t s[4]) {
    uint64_t result = fg_rotl(s[1] * 5, 7) * 9;
    uint64_t t = s[1] << 17;
    s[2] ^= s[0];
    s[3] ^= s[1];
    s[1] ^= s[2];
    s[0] ^= s[3];
    s[2] ^= t;
    s[3] = fg_rotl(s[3], 45);
    return result;
}

double fg_random_next(fg_random *r) {
    return fg_random_draw(r->fn, r->ud, r->s);
}

double fg_random_draw(fg_random_fn fn, void *ud, uint64_t s[4]) {
    if (fn != NULL) {
        double v = fn(ud);
        /* `!(v >= 0)` also catches NaN. */
        if (!(v >= 0.0)) return 0.0;
        if (v >= 1.0) return nextafter(1.0, 0.0);
        return v;
    }
    /* The top 53 bits give every double in [0, 1) on a 2^-53 grid. */
    return (double)(fg_xoshiro_next(s) >> 11) * 0x1.0p-53;
}
