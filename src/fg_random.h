/*
 * fg_random.h -- the per-breaker source of uniform draws in [0, 1).
 *
 * Either the embedder's function (fg_breaker_options.random) or the breaker's
 * own xoshiro256** generator, seeded through splitmix64. The generator's
 * state is four words in the breaker's state block (fg_random_seed,
 * fg_random_draw work on them in place), never in a global, so two breakers
 * (or two users of the library) never share a sequence, and a seeded or
 * scripted source replays exactly. fg_random bundles a function and a
 * state for the parts that take one (permits, retries, their tests).
 * Not thread-safe by itself: the breaker draws only under its lock.
 */
#ifndef FG_RANDOM_H
#define FG_RANDOM_H

#include <stdint.h>

#include "fluxgate.h"

typedef struct fg_random {
    fg_random_fn fn; /* NULL: the internal generator below */
    void *ud;
    uint64_t s[4];   /* xoshiro256** state, never all zero */
} fg_random;

/* Sets up r to call fn(ud) when fn is not NULL, else to run the internal
 * generator seeded with seed (any value, zero included, is a valid seed). */
void fg_random_init(fg_random *r, fg_random_fn fn, void *ud, uint64_t seed);

/* One draw in [0, 1). A user function's value is clamped into [0, 1):
 * NaN and negatives give 0, values >= 1 give the largest double below 1. */
double fg_random_next(fg_random *r);

/* Seeds a generator state in place (any seed, zero included). */
void fg_random_seed(uint64_t s[4], uint64_t seed);

/* One draw from fn(ud) (clamped as fg_random_next says) or, when fn is
 * NULL, from the generator state s, which it advances. */
double fg_random_draw(fg_random_fn fn, void *ud, uint64_t s[4]);

/* One step of splitmix64 (exposed for seeding from mixed entropy). */
uint64_t fg_random_splitmix64(uint64_t *state);

#endif /* FG_RANDOM_H */
