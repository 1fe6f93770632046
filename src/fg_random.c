/*
 * fg_random.c -- SplitMix64 (public domain, Steele, Lea and Flood; the
 * constants of Vigna's reference), and the clamp for user-supplied draws.
 */
#include "fg_random.h"

#include <math.h>

uint64_t fg_random_splitmix64(uint64_t *state) {
    uint64_t z = (*state += UINT64_C(0x9E3779B97F4A7C15));
    z = (z ^ (z >> 30)) * UINT64_C(0xBF58476D1CE4E5B9);
    z = (z ^ (z >> 27)) * UINT64_C(0x94D049BB133111EB);
    return z ^ (z >> 31);
}

uint64_t fg_random_seed(uint64_t seed) {
    uint64_t sm = seed;
    return fg_random_splitmix64(&sm);
}

uint64_t fg_random_fold(const uint64_t s[4]) {
    /* each word through the mixer in turn: every bit of all four words
     * reaches every bit of the result */
    uint64_t h = 0;
    for (int i = 0; i < 4; i++) {
        uint64_t sm = h ^ s[i];
        h = fg_random_splitmix64(&sm);
    }
    return h;
}

void fg_random_init(fg_random *r, fg_random_fn fn, void *ud, uint64_t seed) {
    r->fn = fn;
    r->ud = ud;
    r->s = fg_random_seed(seed);
}

double fg_random_next(fg_random *r) {
    return fg_random_draw(r->fn, r->ud, &r->s);
}

double fg_random_draw(fg_random_fn fn, void *ud, uint64_t *s) {
    if (fn != NULL) {
        double v = fn(ud);
        /* `!(v >= 0)` also catches NaN. */
        if (!(v >= 0.0)) return 0.0;
        if (v >= 1.0) return nextafter(1.0, 0.0);
        return v;
    }
    /* The top 53 bits give every double in [0, 1) on a 2^-53 grid. */
    return (double)(fg_random_splitmix64(s) >> 11) * 0x1.0p-53;
}
