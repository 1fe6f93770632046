/*
 * fg_key_hash.h -- the hash of a family key (any bytes), seeded: one function
 * for process-local families (fg_family.c) and shared families
 * (fg_shared_family.c), for their index and for deriving a key's PRNG seed.
 */
#ifndef FG_KEY_HASH_H
#define FG_KEY_HASH_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

/* 8 bytes at a time with multiply-xorshift mixing, then a splitmix64-style
 * finish, so that keys differing in one byte spread over the whole table.
 * Seeded (per family) so that keys cannot be chosen to collide. */
static inline uint64_t fg_key_hash(uint64_t seed, const void *key, size_t len) {
    const unsigned char *p = key;
    uint64_t h = seed ^ (len * UINT64_C(0x9E3779B97F4A7C15));
    while (len >= 8) {
        uint64_t w;
        memcpy(&w, p, 8);
        h = (h ^ w) * UINT64_C(0xBF58476D1CE4E5B9);
        h ^= h >> 31;
        p += 8;
        len -= 8;
    }
    uint64_t w = 0;
    for (size_t i = 0; i < len; i++) w |= (uint64_t)p[i] << (8 * i);
    h = (h ^ w) * UINT64_C(0x94D049BB133111EB);
    h ^= h >> 29;
    h *= UINT64_C(0xBF58476D1CE4E5B9);
    return h ^ (h >> 32);
}

#endif /* FG_KEY_HASH_H */
