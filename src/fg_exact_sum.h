/*
 * fg_exact_sum.h -- an exact running sum of durations, for the windows.
 *
 * A window adds each recorded duration and later takes the same duration
 * out again when the record leaves. With a double running sum both steps
 * round, so the sum drifts (add 0.1 a hundred thousand times, take it out
 * again: not zero) and an AvgLatency(t) test on it can disagree with a
 * SlowRate(r, threshold = t) test on the same single call. Here the sum is
 * a 192-bit fixed-point integer counting units of 2^-128 s: every double
 * duration in [2^-75 s, 2^32 s) is a whole number of units, so adding and
 * removing it is exact and the sum is always the exact sum of what the
 * window holds; fg_exact_sum_value rounds it once, correctly (to nearest,
 * ties to even), to a double. One duration is therefore reported as itself,
 * and the average of one call is that call's duration, bit for bit.
 * Durations below 2^-75 s (2.6e-23 s) are rounded to a whole unit, the
 * same way when added and when removed, so nothing drifts either; durations
 * of 2^32 s (136 years) or more are capped just below it, so the sum of up
 * to 2^32 records cannot overflow. Fixed-width, pointer-free: it lives in
 * the breaker's state block.
 */
#ifndef FG_EXACT_SUM_H
#define FG_EXACT_SUM_H

#include <math.h>
#include <stdint.h>

typedef struct fg_exact_sum {
    uint64_t limb[3]; /* little-endian: limb[0] holds units 2^-128 .. 2^-65 s */
} fg_exact_sum;

enum { FG_EXACT_SUM_FRACTION_BITS = 128 };

static inline void fg_exact_sum_clear(fg_exact_sum *s) {
    s->limb[0] = s->limb[1] = s->limb[2] = 0;
}

/* d as a 192-bit number of units, in out[0..3): negative, NaN and zero
 * durations are 0; d >= 2^32 is capped just below 2^32 s. */
static inline void fg_exact_sum_units(double d, uint64_t out[3]) {
    out[0] = out[1] = out[2] = 0;
    if (!(d > 0.0)) return;
    if (d >= 4294967296.0) d = nextafter(4294967296.0, 0.0);
    int e = 0;
    double m = frexp(d, &e);                      /* d = m * 2^e, m in [0.5, 1) */
    uint64_t mant = (uint64_t)ldexp(m, 53);      /* exact: 53 significant bits */
    int shift = e - 53 + FG_EXACT_SUM_FRACTION_BITS; /* the LSB's bit position */
    if (shift < 0) {
        /* below 2^-128 s: round to a whole unit (half up, the same on add
         * and remove) */
        if (shift < -63) return;
        uint64_t half = UINT64_C(1) << (-shift - 1);
        mant = (mant + half) >> -shift;
        shift = 0;
    }
    int limb = shift / 64, bit = shift % 64;
    out[limb] = mant << bit;
    if (bit != 0 && limb + 1 < 3) out[limb + 1] = mant >> (64 - bit);
}

static inline void fg_exact_sum_add_units(fg_exact_sum *s, const uint64_t u[3]) {
    uint64_t carry = 0;
    for (int i = 0; i < 3; i++) {
        uint64_t a = s->limb[i] + u[i];
        uint64_t c1 = a < u[i];
        uint64_t b = a + carry;
        uint64_t c2 = b < carry;
        s->limb[i] = b;
        carry = c1 | c2;
    }
}

static inline void fg_exact_sum_sub_units(fg_exact_sum *s, const uint64_t u[3]) {
    uint64_t borrow = 0;
    for (int i = 0; i < 3; i++) {
        uint64_t a = s->limb[i];
        uint64_t b = a - u[i];
        uint64_t b1 = a < u[i];
        uint64_t c = b - borrow;
        uint64_t b2 = b < borrow;
        s->limb[i] = c;
        borrow = b1 | b2;
    }
}

static inline void fg_exact_sum_add(fg_exact_sum *s, double d) {
    uint64_t u[3];
    fg_exact_sum_units(d, u);
    fg_exact_sum_add_units(s, u);
}

/* Takes out a duration added before (the caller's bookkeeping guarantees
 * it is in the sum, so the sum never goes below zero). */
static inline void fg_exact_sum_sub(fg_exact_sum *s, double d) {
    uint64_t u[3];
    fg_exact_sum_units(d, u);
    fg_exact_sum_sub_units(s, u);
}

/* The sum in seconds, correctly rounded (to nearest, ties to even). */
double fg_exact_sum_value(const fg_exact_sum *s);

/* Whether the mean of n durations whose exact sum is *s is at least t,
 * decided exactly: sum >= n * t in whole units, with no rounding of the
 * sum or of the quotient (AvgLatency, SPEC section 5). So n calls of
 * exactly t seconds each have a mean of t, as SlowRate(1.0, threshold = t)
 * says of them too, where the rounded sum divided by n can fall an ulp
 * short (3 x 0.7 s: 2.0999999999999996 / 3 < 0.7). 0 when n is 0; t <= 0:
 * 1; NaN: 0. A threshold below 2^-76 s, finer than the units, is compared
 * as the rounded quotient; one of 2^32 s or more is above every mean
 * (durations are capped below it). */
int fg_exact_sum_mean_ge(const fg_exact_sum *s, uint64_t n, double t);

#endif /* FG_EXACT_SUM_H */
