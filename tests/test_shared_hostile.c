/*
 * test_shared_hostile.c -- a shared zone file that another program (or
 * corruption) rewrites while processes use it: what the directory and a
 * family table's header say is checked once and used as checked, so that
 * no reader or caller divides by zero, reads past the map or the region,
 * reads a block off its cache line, or places a region over the directory.
 * Each case writes the damage into the file the way such a program would.
 * (The directory's layout, private to fg_shm.c: a 64-byte header -- the
 * used size its third word -- then 256-byte entries: offset at +16, pred at
 * +236. A family table's header: capacity at +24, slot_size at +28,
 * block_size at +32; then the carried block, then the slots.)
 */
#define _GNU_SOURCE /* pwrite */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "fg_breaker_shared.h"
#include "fg_shared_family.h"
#include "fg_shm.h"
#include "fg_test_shared.h"
#include "fg_test_support.h"

static void temp_path(char *buf, size_t cap, const char *what) {
    snprintf(buf, cap, "/tmp/fg_test_hostile_%s_%ld.shm", what, (long)getpid());
    unlink(buf);
}

static fg_shm *open_map(const char *path) {
    char err[300];
    int fresh = -1;
    fg_shm *m = fg_shm_open(path, 1 << 20, NULL, &fresh, err, sizeof err);
    if (m == NULL) fail_msg("%s", err);
    return m;
}

static int place_block(void *ud, void *region, size_t size) {
    fg_policy *p = ud;
    char err[200];
    /* the block is placed in the region; the handle is this call's only */
    fg_breaker *b = fg_breaker_place(p, 0, NULL, NULL, region, size, 0, err, sizeof err);
    if (b == NULL) return -1;
    fg_breaker_free(b);
    return 0;
}

/* The block of p's breaker "t" in m (made, replacing another definition's). */
static void *region_of(fg_shm *m, fg_policy *p, int want_status) {
    char err[300];
    int status = -1;
    void *r = fg_shm_region(m, "t", FG_SHM_BREAKER, fg_breaker_definition_fingerprint(p, 0),
                            fg_breaker_footprint(p, 0), place_block, p, &status, err, sizeof err);
    if (r == NULL) fail_msg("%s", err);
    assert_int_equal(status, want_status);
    return r;
}

static fg_policy *definition(int g) {
    char window[32];
    snprintf(window, sizeof window, "CountWindow(%d)", 20 + 10 * g);
    return fg_test_policy_expr("t", (fg_expressions){.window = window, .tripper = "FailureStreak(5)"});
}

/* A used size below the directory's end (the header's third word): the
 * next region would have been placed at the map's start, over the magic,
 * the directory and the very lock being held. */
static void a_used_size_inside_the_directory_is_damage_not_room(void **state) {
    (void)state;
    char path[128], err[300];
    temp_path(path, sizeof path, "used");
    fg_shm *m = open_map(path);
    fg_policy *p0 = definition(0), *p1 = definition(1);
    void *r0 = region_of(m, p0, FG_SHM_CREATED);
    int fd = open(path, O_RDWR);
    assert_true(fd >= 0);
    uint64_t used = 0;
    assert_int_equal(pwrite(fd, &used, 8, 16), 8);
    int status = -1;
    assert_null(fg_shm_region(m, "t", FG_SHM_BREAKER, fg_breaker_definition_fingerprint(p1, 0),
                              fg_breaker_footprint(p1, 0), place_block, p1, &status, err, sizeof err));
    assert_non_null(strstr(err, "damaged (0 of 64 directory entries are no region, its used size is inside its directory)"));
    /* the directory is intact: the existing region is still found */
    assert_ptr_equal(region_of(m, p0, FG_SHM_ATTACHED), r0);
    close(fd);
    fg_policy_free(p1);
    fg_policy_free(p0);
    fg_shm_release(m);
    unlink(path);
}

/* An entry whose offset is not on a cache line (the allocator only makes
 * aligned ones) is no region: a chain read through it would read a block's
 * 64-bit atomics misaligned. */
static void an_entry_off_its_cache_line_is_no_part_of_a_chain(void **state) {
    (void)state;
    char path[128];
    temp_path(path, sizeof path, "align");
    fg_shm *m = open_map(path);
    fg_policy *p0 = definition(0), *p1 = definition(1);
    region_of(m, p0, FG_SHM_CREATED);
    void *r1 = region_of(m, p1, FG_SHM_REPLACED);
    fg_shm_span chain[FG_SHM_ENTRIES];
    assert_int_equal(fg_shm_chain(m, r1, FG_SHM_BREAKER, chain, FG_SHM_ENTRIES), 2);
    int fd = open(path, O_RDWR);
    assert_true(fd >= 0);
    uint64_t offset = 0;
    assert_int_equal(pread(fd, &offset, 8, 64 + 16), 8); /* entry 0's region: the root */
    offset += 8;
    assert_int_equal(pwrite(fd, &offset, 8, 64 + 16), 8);
    assert_int_equal(fg_shm_chain(m, r1, FG_SHM_BREAKER, chain, FG_SHM_ENTRIES), 1);
    assert_ptr_equal(chain[0].region, r1);
    close(fd);
    fg_policy_free(p1);
    fg_policy_free(p0);
    fg_shm_release(m);
    unlink(path);
}

/* A shared block whose state word names no state (6: one past the enum;
 * the lock-free word is the block's first): admission rejects it as
 * forced_open, and the readers say forced_open too -- Lua's stats() indexed
 * an array of the states with it. */
static void a_block_s_word_in_no_state_reads_as_forced_open(void **state) {
    (void)state;
    char path[128];
    temp_path(path, sizeof path, "word");
    fg_shm *m = open_map(path);
    fg_policy *p = definition(0);
    void *block = region_of(m, p, FG_SHM_CREATED);
    char err[300];
    fg_breaker *b = fg_breaker_place(p, 0, NULL, NULL, block, fg_breaker_footprint(p, 0), 1, err, sizeof err);
    if (b == NULL) fail_msg("%s", err);
    fg_breaker_set_zone(b, m);
    uint64_t word = 0;
    memcpy(&word, block, sizeof word);
    word = (word & ~(uint64_t)7) | 6;
    memcpy(block, &word, sizeof word);
    fg_ticket t;
    assert_false(fg_breaker_acquire(b, &t));
    assert_int_equal(fg_breaker_state(b), FG_STATE_FORCED_OPEN);
    fg_info info;
    fg_breaker_info(b, &info);
    assert_int_equal(info.state, FG_STATE_FORCED_OPEN);
    fg_breaker_free(b);
    fg_policy_free(p);
    fg_shm_release(m);
    unlink(path);
}

/* A process killed in fg_shm_region after it published a region and before
 * it retired the one it replaced leaves both live (the state word, the
 * entry's first, back to 1 here; a SIGKILL lands there too rarely to test
 * by timing). The next call retires the older: a process with the oldest
 * definition gets a fresh block at the chain's head, not the old block
 * back, and the chain stays one line. */
static void a_region_left_live_by_a_killed_replacement_is_retired_by_the_next_call(void **state) {
    (void)state;
    char path[128];
    temp_path(path, sizeof path, "retire");
    fg_shm *m = open_map(path);
    fg_policy *p[3] = {definition(0), definition(1), definition(2)};
    void *r0 = region_of(m, p[0], FG_SHM_CREATED);
    region_of(m, p[1], FG_SHM_REPLACED);
    int fd = open(path, O_RDWR);
    assert_true(fd >= 0);
    uint32_t live = 1;
    assert_int_equal(pwrite(fd, &live, 4, 64), 4); /* entry 0: r0 */
    region_of(m, p[2], FG_SHM_REPLACED);
    void *again = region_of(m, p[0], FG_SHM_REPLACED);
    assert_ptr_not_equal(again, r0);
    fg_shm_span chain[FG_SHM_ENTRIES];
    assert_int_equal(fg_shm_chain(m, r0, FG_SHM_BREAKER, chain, FG_SHM_ENTRIES), 4);
    assert_ptr_equal(chain[0].region, again);
    assert_ptr_equal(chain[3].region, r0);
    close(fd);
    for (int g = 0; g < 3; g++) fg_policy_free(p[g]);
    fg_shm_release(m);
    unlink(path);
}

static void put32(void *region, size_t at, uint32_t v) {
    memcpy((char *)region + at, &v, sizeof v);
}

/* A family table's capacity rewritten after the family was opened: 0 (a
 * lookup divided by it), the largest capacity (totals walked slots far past
 * the map). The family keeps the geometry it checked when it opened. */
static void a_family_s_capacity_rewritten_after_opening_is_not_believed(void **state) {
    (void)state;
    char path[128], err[300];
    temp_path(path, sizeof path, "capacity");
    fg_shm *m = open_map(path);
    fg_policy *p = definition(0);
    fg_shared_family *f = open_family(m, p, 4, FG_SHM_CREATED);
    int made = 0;
    assert_non_null(fg_shared_family_block(f, "a", 1, &made, err, sizeof err));
    void *table = (void *)fg_shared_family_counters_id(f); /* the chain's only table */
    put32(table, 24, 0);
    assert_non_null(fg_shared_family_block(f, "b", 1, &made, err, sizeof err));
    assert_int_equal(made, 1);
    put32(table, 24, FG_SHARED_FAMILY_CAPACITY_MAX);
    fg_shared_family_totals t;
    fg_shared_family_totals_get(f, &t);
    assert_int_equal(t.keys, 2);
    assert_int_equal(fg_shared_family_capacity(f), 4);
    fg_shared_family_free(f);
    fg_policy_free(p);
    fg_shm_release(m);
    unlink(path);
}

static int key_len_at_most_max(void *ud, const char *key, size_t len, fg_state s) {
    (void)key;
    (void)s;
    int *keys = ud;
    assert_true(len <= FG_SHARED_FAMILY_KEY_MAX);
    (*keys)++;
    return 0;
}

/* A live slot whose key length is past the key's bytes (a slot's second
 * word): keys() would hand its callback (Lua's fam:keys()) bytes past the
 * slot. Such a slot is no key. */
static void a_slot_s_key_length_past_its_key_is_no_key(void **state) {
    (void)state;
    char path[128], err[300];
    temp_path(path, sizeof path, "keylen");
    fg_shm *m = open_map(path);
    fg_policy *p = definition(0);
    fg_shared_family *f = open_family(m, p, 4, FG_SHM_CREATED);
    int made = 0;
    assert_non_null(fg_shared_family_block(f, "a", 1, &made, err, sizeof err));
    assert_non_null(fg_shared_family_block(f, "b", 1, &made, err, sizeof err));
    char *table = (char *)fg_shared_family_counters_id(f);
    size_t block = (fg_shared_family_block_size(f) + 63) & ~(size_t)63;
    size_t slot = ((sizeof(uint32_t) * 2 + sizeof(uint64_t) + FG_SHARED_FAMILY_KEY_MAX + 63) & ~(size_t)63) + block;
    for (int i = 0; i < 4; i++) put32(table + 128 + block + (size_t)i * slot, 4, 1u << 20);
    int keys = 0;
    fg_shared_family_keys(f, key_len_at_most_max, &keys);
    assert_int_equal(keys, 0);
    fg_shared_family_free(f);
    fg_policy_free(p);
    fg_shm_release(m);
    unlink(path);
}

/* A table whose header names smaller blocks (consistently: it still fits
 * its region) is not this definition's: its keys' blocks would overlap. */
static void a_table_of_other_block_sizes_is_not_attached(void **state) {
    (void)state;
    char path[128], err[300];
    temp_path(path, sizeof path, "blocks");
    fg_shm *m = open_map(path);
    fg_policy *p = definition(0);
    fg_shared_family *f = open_family(m, p, 4, FG_SHM_CREATED);
    char *table = (char *)fg_shared_family_counters_id(f);
    uint32_t block = 0, slot = 0;
    memcpy(&slot, table + 28, 4);
    memcpy(&block, table + 32, 4);
    put32(table, 28, slot - 64);
    put32(table, 32, block - 64);
    int status = -1;
    assert_null(fg_shared_family_open(m, p, 0, 4, NULL, &status, err, sizeof err));
    assert_string_equal(err, "the shared zone holds a damaged table for this family");
    fg_shared_family_free(f);
    fg_policy_free(p);
    fg_shm_release(m);
    unlink(path);
}

/* A directory entry forged the way another program would write one (the
 * entry layout: state +0, kind +4, offset +16, size +24, name_len +32,
 * name +36, pred +236). */
static void forge_entry(int fd, int index, uint32_t kind, uint64_t offset, uint64_t size,
                        const char *name, uint32_t name_len, uint32_t pred) {
    off_t at = 64 + (off_t)index * 256;
    char entry[256];
    memset(entry, 0, sizeof entry);
    uint32_t live = 1;
    memcpy(entry, &live, 4);
    memcpy(entry + 4, &kind, 4);
    memcpy(entry + 16, &offset, 8);
    memcpy(entry + 24, &size, 8);
    memcpy(entry + 32, &name_len, 4);
    memcpy(entry + 36, name, strlen(name) < 200 ? strlen(name) : 200);
    memcpy(entry + 236, &pred, 4);
    assert_int_equal(pwrite(fd, entry, sizeof entry, at), (ssize_t)sizeof entry);
}

/* The zone's readers without a handle (fluxgate.prometheus() in a process
 * that has none: fg_shm_heads, then each head's totals) over a directory
 * another program wrote: odd names, regions past the map, chains in a
 * cycle, a table whose header lies. Nothing read past the map, no name
 * with a NUL inside or longer than the directory holds, no loop. */
static size_t zone_walk(fg_shm *m, uint64_t *keys) {
    fg_shm_head heads[FG_SHM_ENTRIES];
    size_t total = 0;
    *keys = 0;
    static const uint32_t kinds[] = {FG_SHM_BREAKER, FG_SHM_FAMILY};
    for (int k = 0; k < 2; k++) {
        size_t n = fg_shm_heads(m, kinds[k], heads, FG_SHM_ENTRIES);
        for (size_t i = 0; i < n; i++) {
            assert_true(strlen(heads[i].name) <= FG_SHM_NAME_MAX);
            const void *id = NULL;
            if (kinds[k] == FG_SHM_BREAKER) {
                fg_counters c;
                fg_state s;
                if (fg_breaker_zone_totals(m, &heads[i].span, &c, &s, &id) != 0) continue;
                assert_true(s < FG_STATE_COUNT);
            } else {
                fg_shared_family_totals t;
                if (fg_shared_family_zone_totals(m, &heads[i].span, &t, &id) != 0) continue;
                *keys += t.keys;
            }
            assert_non_null(id);
            total++;
        }
    }
    return total;
}

static void the_zone_s_readers_take_no_lie_from_the_directory(void **state) {
    (void)state;
    char path[128];
    temp_path(path, sizeof path, "heads");
    fg_shm *m = open_map(path);
    fg_policy *p0 = definition(0), *p1 = definition(1);
    region_of(m, p0, FG_SHM_CREATED);
    region_of(m, p1, FG_SHM_REPLACED); /* entries 0 (retired) and 1 */
    uint64_t keys = 0;
    assert_int_equal(zone_walk(m, &keys), 1);
    int fd = open(path, O_RDWR);
    assert_true(fd >= 0);
    uint64_t r1 = 0, size = 0;
    assert_int_equal(pread(fd, &r1, 8, 64 + 256 + 16), 8);
    assert_int_equal(pread(fd, &size, 8, 64 + 256 + 24), 8);
    uint64_t map = fg_shm_size(m);
    /* names: a NUL inside, a length past the name's bytes, a length past
     * the entry, no name at all */
    forge_entry(fd, 2, FG_SHM_BREAKER, r1, size, "ab", 5, 0);
    forge_entry(fd, 3, FG_SHM_BREAKER, r1, size, "cd", 201, 0);
    forge_entry(fd, 4, FG_SHM_BREAKER, r1, size, "", 0xFFFFFFFFu, 0);
    /* regions: past the map's end, wrapping, off the cache line, over the
     * directory, a breaker "block" that is a family's kind */
    forge_entry(fd, 5, FG_SHM_BREAKER, map - 64, size, "e", 1, 0);
    forge_entry(fd, 6, FG_SHM_BREAKER, UINT64_MAX - 63, 128, "f", 1, 0);
    forge_entry(fd, 7, FG_SHM_BREAKER, r1 + 8, size, "g", 1, 0);
    forge_entry(fd, 8, FG_SHM_BREAKER, 0, size, "h", 1, 0);
    forge_entry(fd, 9, FG_SHM_FAMILY, r1, size, "i", 1, 0);
    /* a chain in a cycle: j (10) <- j (11) <- j (10) */
    forge_entry(fd, 10, FG_SHM_BREAKER, r1, size, "j", 1, 12);
    forge_entry(fd, 11, FG_SHM_BREAKER, r1, size, "j", 1, 11);
    /* an entry its own predecessor, one naming a predecessor past the directory */
    forge_entry(fd, 12, FG_SHM_BREAKER, r1, size, "k", 1, 13);
    forge_entry(fd, 13, FG_SHM_BREAKER, r1, size, "k", 1, 4096);
    size_t n = zone_walk(m, &keys);
    /* every entry over r1's block whose name is one and that is its
     * chain's head: t, and k twice ("ab" of length 5 holds NULs; j's two
     * name each other as predecessor, so neither is the newest) */
    assert_int_equal(n, 3);
    close(fd);
    fg_policy_free(p1);
    fg_policy_free(p0);
    fg_shm_release(m);
    unlink(path);
}

/* A family table whose header says its blocks take no bytes (consistently:
 * the slot size follows from it, and the table fits its region): a key's
 * block would start where the next slot does, and the last one's past the
 * region -- at the map's end, past the map. The walk read each live key's
 * state word there. Such a table is none this code made. */
static void a_family_table_of_empty_blocks_is_not_read(void **state) {
    (void)state;
    char path[128];
    temp_path(path, sizeof path, "emptyblocks");
    fg_shm *m = open_map(path);
    int fd = open(path, O_RDWR);
    assert_true(fd >= 0);
    /* a table of one slot, the map's last bytes: 128 (header) + 0 (the
     * carried block) + 192 (the slot: its key part, no block) */
    uint64_t size = 128 + 192, at = fg_shm_size(m) - size;
    assert_int_equal(at % 64, 0);
    char table[128 + 192];
    memset(table, 0, sizeof table);
    uint64_t magic = UINT64_C(0x314d41465347);
    memcpy(table, &magic, 8);
    uint32_t geometry[4] = {1, 192, 0, FG_SHARED_FAMILY_KEY_MAX}; /* capacity, slot, block, key_max */
    memcpy(table + 24, geometry, sizeof geometry);
    uint32_t live = 2;
    memcpy(table + 128, &live, 4);
    assert_int_equal(pwrite(fd, table, sizeof table, (off_t)at), (ssize_t)sizeof table);
    forge_entry(fd, 0, FG_SHM_FAMILY, at, size, "x", 1, 0);
    uint64_t keys = 0;
    assert_int_equal(zone_walk(m, &keys), 0);
    close(fd);
    fg_shm_release(m);
    unlink(path);
}

/* A process killed between publishing a replacement and retiring the
 * region it replaced leaves both live until the next fg_shm_region (see
 * above). A reader without a handle listed both as heads: the older one
 * first, so the metrics took the state of the old definition's block
 * (here forced open, the live definition's closed), where a process with
 * a handle on the live one said closed. Only the chain's newest is a head. */
static void a_region_left_live_by_a_killed_replacement_is_no_head(void **state) {
    (void)state;
    char path[128];
    temp_path(path, sizeof path, "twoheads");
    fg_shm *m = open_map(path);
    fg_policy *p0 = definition(0), *p1 = definition(1);
    void *r0 = region_of(m, p0, FG_SHM_CREATED);
    void *r1 = region_of(m, p1, FG_SHM_REPLACED);
    uint64_t word = 0;
    memcpy(&word, r0, sizeof word);
    word = (word & ~(uint64_t)7) | FG_STATE_FORCED_OPEN;
    memcpy(r0, &word, sizeof word);
    int fd = open(path, O_RDWR);
    assert_true(fd >= 0);
    uint32_t live = 1;
    assert_int_equal(pwrite(fd, &live, 4, 64), 4); /* entry 0: r0 */
    fg_shm_head heads[FG_SHM_ENTRIES];
    assert_int_equal(fg_shm_heads(m, FG_SHM_BREAKER, heads, FG_SHM_ENTRIES), 1);
    assert_ptr_equal(heads[0].span.region, r1);
    fg_counters c;
    fg_state s;
    const void *id = NULL;
    assert_int_equal(fg_breaker_zone_totals(m, &heads[0].span, &c, &s, &id), 0);
    assert_int_equal(s, FG_STATE_CLOSED);
    assert_ptr_equal(id, r0);
    close(fd);
    fg_policy_free(p1);
    fg_policy_free(p0);
    fg_shm_release(m);
    unlink(path);
}

/* A key whose block's state word names no state (6, as above): an open
 * family's totals count the key forced_open (fg_breaker_info), and the
 * zone's reader, for a process without the family, must say the same --
 * it left the key out of every state, so that the workers' scrapes
 * differed and the keys per state did not add up to the keys. */
static void a_key_s_word_in_no_state_reads_as_forced_open_in_the_zone_too(void **state) {
    (void)state;
    char path[128], err[300];
    temp_path(path, sizeof path, "keyword");
    fg_shm *m = open_map(path);
    fg_policy *p = definition(0);
    fg_shared_family *f = open_family(m, p, 4, FG_SHM_CREATED);
    int made = 0;
    void *block = fg_shared_family_block(f, "a", 1, &made, err, sizeof err);
    assert_non_null(block);
    assert_non_null(fg_shared_family_block(f, "b", 1, &made, err, sizeof err));
    uint64_t word = 0;
    memcpy(&word, block, sizeof word);
    word = (word & ~(uint64_t)7) | 6;
    memcpy(block, &word, sizeof word);
    fg_shared_family_totals open, zone;
    fg_shared_family_totals_get(f, &open);
    assert_int_equal(open.states[FG_STATE_FORCED_OPEN], 1);
    fg_shm_head heads[FG_SHM_ENTRIES];
    assert_int_equal(fg_shm_heads(m, FG_SHM_FAMILY, heads, FG_SHM_ENTRIES), 1);
    const void *id = NULL;
    assert_int_equal(fg_shared_family_zone_totals(m, &heads[0].span, &zone, &id), 0);
    assert_ptr_equal(id, fg_shared_family_counters_id(f));
    assert_int_equal(zone.keys, open.keys);
    for (int s = 0; s < FG_STATE_COUNT; s++) assert_int_equal(zone.states[s], open.states[s]);
    fg_shared_family_free(f);
    fg_policy_free(p);
    fg_shm_release(m);
    unlink(path);
}

/* xorshift64*: the corruption below is the same on every run. */
static uint64_t next_random(uint64_t *x) {
    *x ^= *x >> 12;
    *x ^= *x << 25;
    *x ^= *x >> 27;
    return *x * UINT64_C(2685821657736338717);
}

/* A value another program might write into a field: a small number, an
 * edge, a place in the map, or anything. */
static uint64_t hostile_value(uint64_t *x, uint64_t map, uint64_t used) {
    uint64_t r = next_random(x);
    switch (r % 12) {
    case 0: return 0;
    case 1: return 1;
    case 2: return 2;
    case 3: return 3;
    case 4: return UINT32_MAX;
    case 5: return UINT64_MAX;
    case 6: return map;
    case 7: return map - 64;
    case 8: return (r >> 8) % (used + 64) & ~(uint64_t)63; /* a cache line of the used part */
    case 9: return (r >> 8) % 65;                         /* an entry index, 1-based */
    case 10: return (r >> 8) % 400;                       /* a length */
    default: return next_random(x);
    }
}

/* The zone's handle-less readers over a zone of shared breakers (a chain of
 * three definitions, another name) and families (a chain of two tables),
 * rewritten a few fields at a time -- directory entries (state, kind,
 * offset, size, name length, name bytes, predecessor), tables' headers and
 * slots, blocks' headers, any byte -- and put back between rounds: no read
 * past the map (ASan, and the map's end on a page), no name longer than a
 * name, no loop; the chain of every head read from each (fg_shm_chain). */
static void the_zone_s_readers_survive_random_damage(void **state) {
    (void)state;
    char path[128], err[300];
    temp_path(path, sizeof path, "random");
    fg_shm *m = open_map(path);
    fg_policy *p[3] = {definition(0), definition(1), definition(2)};
    region_of(m, p[0], FG_SHM_CREATED);
    region_of(m, p[1], FG_SHM_REPLACED);
    region_of(m, p[2], FG_SHM_REPLACED);
    fg_shared_family *f0 = open_family(m, p[0], 3, FG_SHM_CREATED);
    int made = 0;
    assert_non_null(fg_shared_family_block(f0, "a", 1, &made, err, sizeof err));
    fg_shared_family *f1 = open_family(m, p[0], 5, FG_SHM_REPLACED);
    assert_non_null(fg_shared_family_block(f1, "b", 1, &made, err, sizeof err));
    assert_non_null(fg_shared_family_block(f1, "c", 1, &made, err, sizeof err));
    uint64_t keys = 0;
    assert_int_equal(zone_walk(m, &keys), 2);
    assert_int_equal(keys, 2);
    int fd = open(path, O_RDWR);
    assert_true(fd >= 0);
    size_t used = fg_shm_used(m), map = fg_shm_size(m);
    char *pristine = malloc(used);
    assert_non_null(pristine);
    assert_int_equal(pread(fd, pristine, used, 0), (ssize_t)used);
    /* the tables' places, for their headers and slots */
    uint64_t tables[2] = {0, 0};
    for (int i = 0, t = 0; i < FG_SHM_ENTRIES && t < 2; i++) {
        uint32_t kind = 0;
        memcpy(&kind, pristine + 64 + i * 256 + 4, 4);
        if (kind == FG_SHM_FAMILY) memcpy(&tables[t++], pristine + 64 + i * 256 + 16, 8);
    }
    static const int entry_fields[][2] = {{0, 4}, {4, 4}, {16, 8}, {24, 8}, {32, 4}, {36, 1}, {37, 1}, {236, 4}};
    static const int table_fields[][2] = {{0, 8}, {24, 4}, {28, 4}, {32, 4}, {36, 4}};
    uint64_t x = UINT64_C(0x9E3779B97F4A7C15);
    int differed = 0; /* rounds whose damage the readers saw */
    for (int round = 0; round < 3000; round++) {
        int changes = 1 + (int)(next_random(&x) % 6);
        for (int c = 0; c < changes; c++) {
            uint64_t r = next_random(&x), v = hostile_value(&x, map, used);
            off_t at;
            int width;
            if (r % 4 == 0) { /* a directory entry's field (the first 8 entries hold the regions) */
                int k = (int)((r >> 8) % 8);
                at = 64 + (off_t)((r >> 16) % 8) * 256 + entry_fields[k][0];
                width = entry_fields[k][1];
            } else if (r % 4 == 1) { /* a table's header */
                int k = (int)((r >> 8) % 5);
                at = (off_t)tables[(r >> 16) & 1] + table_fields[k][0];
                width = table_fields[k][1];
            } else if (r % 4 == 2) { /* a word somewhere in a table (slot states, block headers) */
                at = (off_t)(tables[(r >> 8) & 1] + ((r >> 16) % 4096 & ~(uint64_t)3));
                width = 4;
            } else { /* any used byte */
                at = (off_t)((r >> 8) % used);
                width = 1;
            }
            if ((uint64_t)at + (uint64_t)width > used) continue;
            assert_int_equal(pwrite(fd, &v, (size_t)width, at), width);
        }
        uint64_t k0 = 0;
        size_t seen = zone_walk(m, &k0);
        if (seen != 2 || k0 != 2) differed++;
        fg_shm_head heads[FG_SHM_ENTRIES];
        static const uint32_t kinds[] = {FG_SHM_BREAKER, FG_SHM_FAMILY};
        for (int k = 0; k < 2; k++) {
            size_t n = fg_shm_heads(m, kinds[k], heads, FG_SHM_ENTRIES);
            for (size_t i = 0; i < n; i++) {
                fg_shm_span chain[FG_SHM_ENTRIES];
                assert_true(fg_shm_chain(m, heads[i].span.region, kinds[k], chain, FG_SHM_ENTRIES) <= FG_SHM_ENTRIES);
            }
        }
        assert_int_equal(pwrite(fd, pristine, used, 0), (ssize_t)used);
    }
    assert_true(differed > 300); /* the damage reached the readers (1045 of 3000 rounds) */
    /* put back, it reads as made */
    assert_int_equal(zone_walk(m, &keys), 2);
    assert_int_equal(keys, 2);
    free(pristine);
    close(fd);
    fg_shared_family_free(f1);
    fg_shared_family_free(f0);
    for (int g = 0; g < 3; g++) fg_policy_free(p[g]);
    fg_shm_release(m);
    unlink(path);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(a_used_size_inside_the_directory_is_damage_not_room),
        cmocka_unit_test(an_entry_off_its_cache_line_is_no_part_of_a_chain),
        cmocka_unit_test(a_region_left_live_by_a_killed_replacement_is_retired_by_the_next_call),
        cmocka_unit_test(a_block_s_word_in_no_state_reads_as_forced_open),
        cmocka_unit_test(a_family_s_capacity_rewritten_after_opening_is_not_believed),
        cmocka_unit_test(a_slot_s_key_length_past_its_key_is_no_key),
        cmocka_unit_test(a_table_of_other_block_sizes_is_not_attached),
        cmocka_unit_test(the_zone_s_readers_take_no_lie_from_the_directory),
        cmocka_unit_test(a_family_table_of_empty_blocks_is_not_read),
        cmocka_unit_test(a_region_left_live_by_a_killed_replacement_is_no_head),
        cmocka_unit_test(a_key_s_word_in_no_state_reads_as_forced_open_in_the_zone_too),
        cmocka_unit_test(the_zone_s_readers_survive_random_damage),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
