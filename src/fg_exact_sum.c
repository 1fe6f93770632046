/*
 * fg_exact_sum.c -- the exact sum's one rounding to a double.
 */
#include "fg_exact_sum.h"

/* Number of leading zero bits of a nonzero x. */
static int fg_clz64(uint64_t x) {
#if defined(__GNUC__) || defined(__clang__)
    return __builtin_clzll(x);
#else
    int n = 0;
    while (!(x & (UINT64_C(1) << 63))) {
        x <<= 1;
        n++;
    }
    return n;
#endif
}

double fg_exact_sum_value(const fg_exact_sum *s) {
    int top = 2;
    while (top >= 0 && s->limb[top] == 0) top--;
    if (top < 0) return 0.0;
    /* The 64 bits from the highest set bit down, and whether any bit below
     * them is set (the sticky bit that decides ties). */
    int lz = fg_clz64(s->limb[top]);
    uint64_t hi = s->limb[top] << lz;
    uint64_t below = top > 0 ? s->limb[top - 1] : 0;
    if (lz > 0) hi |= below >> (64 - lz);
    uint64_t rest = lz > 0 ? below << lz : below;
    int sticky = rest != 0;
    for (int i = top - 2; i >= 0 && !sticky; i--) sticky = s->limb[i] != 0;
    /* hi's MSB has weight 2^(64*top + 63 - lz - 128). */
    int exponent = 64 * top + 63 - lz - FG_EXACT_SUM_FRACTION_BITS;
    uint64_t mant = hi >> 11;            /* 53 bits */
    uint64_t round = hi & 0x7FF;         /* the 11 bits cut off */
    if (round > 0x400 || (round == 0x400 && (sticky || (mant & 1)))) mant++;
    return ldexp((double)mant, exponent - 52);
}

/* a * b as a 128-bit number (hi, lo), in 32-bit pieces (portable C11). */
static void fg_mul64(uint64_t a, uint64_t b, uint64_t *hi, uint64_t *lo) {
    uint64_t a0 = (uint32_t)a, a1 = a >> 32, b0 = (uint32_t)b, b1 = b >> 32;
    uint64_t p00 = a0 * b0, p01 = a0 * b1, p10 = a1 * b0, p11 = a1 * b1;
    uint64_t mid = (p00 >> 32) + (uint32_t)p01 + (uint32_t)p10;
    *lo = (mid << 32) | (uint32_t)p00;
    *hi = p11 + (p01 >> 32) + (p10 >> 32) + (mid >> 32);
}

int fg_exact_sum_mean_ge(const fg_exact_sum *s, uint64_t n, double t) {
    if (n == 0 || t != t) return 0;
    if (!(t > 0.0)) return 1;
    if (t >= 4294967296.0) return 0;
    if (t < 0x1p-76) return fg_exact_sum_value(s) / (double)n >= t;
    /* t = mant * 2^(shift - 128) exactly: from 2^-76 on, its last bit is
     * a whole unit (shift >= 0); below 2^32, shift <= 107 */
    int e = 0;
    double m = frexp(t, &e);
    uint64_t mant = (uint64_t)ldexp(m, 53);
    int shift = e - 53 + FG_EXACT_SUM_FRACTION_BITS;
    /* n * t in units: (n * mant) << shift, at most 64 + 53 + 107 = 224 bits */
    uint64_t hi, lo, p[4] = {0, 0, 0, 0};
    fg_mul64(n, mant, &hi, &lo);
    int limb = shift / 64, bit = shift % 64;
    p[limb] |= lo << bit;
    p[limb + 1] |= hi << bit;
    if (bit != 0) {
        p[limb + 1] |= lo >> (64 - bit);
        p[limb + 2] |= hi >> (64 - bit);
    }
    if (p[3] != 0) return 0; /* the sum has 192 bits */
    for (int i = 2; i >= 0; i--)
        if (s->limb[i] != p[i]) return s->limb[i] > p[i];
    return 1;
}
