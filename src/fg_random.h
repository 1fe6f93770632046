/*
 * fg_random.h -- the per-breaker source of uniform draws in [0, 1).
 *
 * Either the embedder's function (fg_breaker_options.random) or the breaker's
 * own SplitMix64 generator (Steele, Lea and Flood; public domain). Its state
 * is one 64-bit word in the breaker's state block (fg_random_seed,
 * fg_random_draw work on it in place), never in a global, so two breakers
 * (or two users of the library) never share a sequence, and a seeded or
 * scripted source replays exactly. fg_random bundles a function and a
 * state for the parts that take one (permits, retries, their tests).
 * Not thread-safe by itself: the breaker draws only under its lock.
 *
 * Why one word is enough: a breaker draws once per Random/RampUp decision
 * and once per open period (jitter), each draw compared with a ratio or
 * scaled into a jitter range. SplitMix64 passes BigCrush and PractRand, has
 * period 2^64 with every state valid (no all-zero trap), and each output is
 * a bijection of its state, so the top 53 bits are equidistributed: every
 * double of the 2^-53 grid in [0, 1) comes with probability 2^-53, as with
 * the 256-bit xoshiro256** it replaces. What a larger state buys (periods
 * beyond 2^64, many parallel streams) no breaker uses.
 */
#ifndef FG_RANDOM_H
#define FG_RANDOM_H

#include <stdint.h>

#include "fluxgate.h"

typedef struct fg_random {
    fg_random_fn fn; /* NULL: the internal generator below */
    void *ud;
    uint64_t s;      /* SplitMix64 state: any value */
} fg_random;

/* Sets up r to call fn(ud) when fn is not NULL, else to run the internal
 * generator seeded with seed (any value, zero included, is a valid seed). */
void fg_random_init(fg_random *r, fg_random_fn fn, void *ud, uint64_t seed);

/* One draw in [0, 1). A user function's value is clamped into [0, 1):
 * NaN and negatives give 0, values >= 1 give the largest double below 1. */
double fg_random_next(fg_random *r);

/* A generator state for a seed (any seed, zero included): the seed mixed,
 * so that nearby seeds (1, 2, 3...) start far apart in the sequence. */
uint64_t fg_random_seed(uint64_t seed);

/* One draw from fn(ud) (clamped as fg_random_next says) or, when fn is
 * NULL, from the generator state *s, which it advances. */
double fg_random_draw(fg_random_fn fn, void *ud, uint64_t *s);

/* One step of splitmix64: advances *state, returns the next output (also
 * used for seeding from mixed entropy and as a hash finaliser). */
uint64_t fg_random_splitmix64(uint64_t *state);

/* The state of a 256-bit generator (xoshiro256**, which fluxgate used
 * before; snapshots still carry four words, fg_snapshot.h) folded
 * deterministically into one word. */
uint64_t fg_random_fold(const uint64_t s[4]);

#endif /* FG_RANDOM_H */
