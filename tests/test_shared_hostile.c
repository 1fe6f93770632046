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

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(a_used_size_inside_the_directory_is_damage_not_room),
        cmocka_unit_test(an_entry_off_its_cache_line_is_no_part_of_a_chain),
        cmocka_unit_test(a_region_left_live_by_a_killed_replacement_is_retired_by_the_next_call),
        cmocka_unit_test(a_block_s_word_in_no_state_reads_as_forced_open),
        cmocka_unit_test(a_family_s_capacity_rewritten_after_opening_is_not_believed),
        cmocka_unit_test(a_slot_s_key_length_past_its_key_is_no_key),
        cmocka_unit_test(a_table_of_other_block_sizes_is_not_attached),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
