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
