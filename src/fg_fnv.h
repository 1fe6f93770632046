/*
 * fg_fnv.h -- FNV-1a 64, the one byte hash of the compiler and the formats:
 * name tables while checking and compiling, the constant pool, a breaker
 * definition's fingerprint, the snapshot checksum.
 *
 * Deterministic and the same on every machine, which the fingerprint and the
 * checksum need; not seeded and not a defence against chosen input, so it is
 * not for keys that callers choose (families use fg_key_hash.h).
 */
#ifndef FG_FNV_H
#define FG_FNV_H

#include <stddef.h>
#include <stdint.h>

#define FG_FNV1A_INIT UINT64_C(0xCBF29CE484222325)

/* Continues the FNV-1a hash h (FG_FNV1A_INIT to start) over data[0..n). */
static inline uint64_t fg_fnv1a(uint64_t h, const void *data, size_t n) {
    const unsigned char *p = data;
    for (size_t i = 0; i < n; i++) h = (h ^ p[i]) * UINT64_C(0x100000001B3);
    return h;
}

#endif /* FG_FNV_H */
