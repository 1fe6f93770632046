/*
 * test_shared_family.c -- keyed breakers in a shared map (fg_shared_family):
 * processes (fork) making the same keys at once get one block per key,
 * a full table says so, a table in use is attached and a changed one
 * starts fresh with its counters, and a process killed while it holds the
 * family lock does not wedge the family.
 *
 * Each test that waits on another process is bounded by alarm().
 */
#define _GNU_SOURCE /* usleep */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "fg_breaker_shared.h"
#include "fg_shared_family.h"
#include "fg_shm.h"
#include "fg_test_child.h"
#include "fg_test_shared.h"
#include "fg_test_support.h"

/* ---- helpers ------------------------------------------------------------------ */

static fg_policy *compile_expr(fg_expressions e) {
    return fg_test_policy_expr("t", e);
}

static void temp_path(char *buf, size_t cap, const char *what) {
    snprintf(buf, cap, "/tmp/fg_test_sfam_%s_%ld.shm", what, (long)getpid());
    unlink(buf);
}

static fg_shm *open_map(const char *path, int want_fresh) {
    char err[300];
    int fresh = -1;
    fg_shm *m = fg_shm_open(path, 4 << 20, NULL, &fresh, err, sizeof err);
    assert_non_null(m);
    assert_int_equal(fresh, want_fresh);
    return m;
}

/* A handle on key's block (made on first use), as the Lua binding makes
 * one; h is caller memory of at least fg_breaker_handle_footprint bytes. */
static fg_breaker *key_handle(fg_shared_family *f, fg_policy *p, const char *key, void *h, int *made) {
    char err[300];
    int dummy = 0;
    void *block = fg_shared_family_block(f, key, strlen(key), made != NULL ? made : &dummy, err, sizeof err);
    if (block == NULL) fail_msg("%s", err);
    fg_breaker *b = fg_breaker_place(p, 0, NULL, h, block, fg_shared_family_block_size(f), 1, err, sizeof err);
    if (b == NULL) fail_msg("%s", err);
    fg_breaker_set_zone(b, fg_shared_family_map(f));
    return b;
}

static void call_at(fg_breaker *b, int failure, double now) {
    fg_ticket t;
    if (fg_breaker_acquire_at(b, now, &t)) fg_breaker_record_at(b, &t, failure, 0.01, now);
}

/* ---- making keys --------------------------------------------------------------- */

enum { KIDS = 4, KEYS = 40 };

static void processes_making_the_same_keys_at_once_get_one_block_per_key(void **state) {
    (void)state;
    char path[128];
    temp_path(path, sizeof path, "race");
    fg_shm *m = open_map(path, 1);
    fg_policy *p = compile_expr((fg_expressions){.tripper = "FailureStreak(1000)"});
    fg_shared_family *f = open_family(m, p, 64, FG_SHM_CREATED);
    int go[2];
    assert_int_equal(pipe(go), 0);
    pid_t kids[KIDS];
    alarm(20);
    for (int k = 0; k < KIDS; k++) {
        kids[k] = fork();
        assert_true(kids[k] >= 0);
        if (kids[k] == 0) {
            close(go[1]);
            char c;
            if (read(go[0], &c, 1) != 0) _exit(3); /* released together when the parent closes it */
            int made_here = 0;
            _Alignas(8) char h[1024];
            for (int i = 0; i < KEYS; i++) {
                char key[32];
                /* each child walks the keys from another start */
                snprintf(key, sizeof key, "upstream-%d", (i + k * 7) % KEYS);
                int made = 0;
                fg_breaker *b = key_handle(f, p, key, h, &made);
                made_here += made;
                call_at(b, i % 2, 1.0 + i);
                fg_breaker_free(b);
            }
            _exit(made_here);
        }
    }
    close(go[0]);
    close(go[1]);
    int made_total = 0;
    for (int k = 0; k < KIDS; k++) {
        int st = 0;
        assert_int_equal(waitpid(kids[k], &st, 0), kids[k]);
        assert_true(WIFEXITED(st));
        made_total += WEXITSTATUS(st);
    }
    alarm(0);
    /* every key was made exactly once, whoever made it */
    assert_int_equal(made_total, KEYS);
    assert_int_equal(fg_shared_family_size(f), KEYS);
    fg_shared_family_totals t;
    fg_shared_family_totals_get(f, &t);
    assert_int_equal(t.keys, KEYS);
    assert_int_equal(t.states[FG_STATE_CLOSED], KEYS);
    assert_int_equal(t.counters.admitted, KIDS * KEYS);
    assert_int_equal(t.counters.success + t.counters.failure, KIDS * KEYS);
    /* each key's one block saw every child's call */
    _Alignas(8) char h[1024];
    for (int i = 0; i < KEYS; i++) {
        char key[32];
        snprintf(key, sizeof key, "upstream-%d", i);
        int made = -1;
        fg_breaker *b = key_handle(f, p, key, h, &made);
        assert_int_equal(made, 0);
        fg_info info;
        fg_breaker_info(b, &info);
        assert_int_equal(info.counters.admitted, KIDS);
        fg_breaker_free(b);
    }
    fg_shared_family_free(f);
    fg_policy_free(p);
    fg_shm_release(m);
    unlink(path);
}

static void a_full_family_says_so_and_keeps_its_keys(void **state) {
    (void)state;
    char path[128], err[300];
    temp_path(path, sizeof path, "full");
    fg_shm *m = open_map(path, 1);
    fg_policy *p = compile_expr((fg_expressions){.tripper = "FailureStreak(3)"});
    fg_shared_family *f = open_family(m, p, 4, FG_SHM_CREATED);
    int made = 0;
    const char *keys[] = {"a", "b", "c", ""};
    for (int i = 0; i < 4; i++) {
        assert_non_null(fg_shared_family_block(f, keys[i], strlen(keys[i]), &made, err, sizeof err));
        assert_int_equal(made, 1);
    }
    assert_null(fg_shared_family_block(f, "e", 1, &made, err, sizeof err));
    assert_string_equal(err, "shared family 't' is full: capacity 4; give a larger capacity "
                             "(a reload applies it, starting a fresh table)");
    /* the keys it has still work, lock-free */
    void *b1 = fg_shared_family_block(f, "b", 1, &made, err, sizeof err);
    assert_non_null(b1);
    assert_int_equal(made, 0);
    assert_ptr_equal(b1, fg_shared_family_block(f, "b", 1, &made, err, sizeof err));
    char long_key[FG_SHARED_FAMILY_KEY_MAX + 1];
    memset(long_key, 'k', sizeof long_key);
    assert_null(fg_shared_family_block(f, long_key, sizeof long_key, &made, err, sizeof err));
    assert_string_equal(err, "a shared family's key is at most 128 bytes, not 129");
    assert_int_equal(fg_shared_family_size(f), 4);
    int status = -1;
    assert_null(fg_shared_family_open(m, p, 0, 0, NULL, &status, err, sizeof err));
    assert_non_null(strstr(err, "capacity must be from 1"));
    fg_shared_family_free(f);
    /* a table larger than the zone: the zone's message */
    assert_null(fg_shared_family_open(m, p, 0, 100000, NULL, &status, err, sizeof err));
    assert_non_null(strstr(err, "the shared zone is full"));
    fg_policy_free(p);
    fg_shm_release(m);
    unlink(path);
}

/* ---- reload --------------------------------------------------------------------- */

static void a_family_in_use_is_attached_and_a_changed_one_starts_fresh_with_its_counters(void **state) {
    (void)state;
    char path[128];
    temp_path(path, sizeof path, "reload");
    fg_shm *m = open_map(path, 1);
    fg_policy *p = compile_expr((fg_expressions){.tripper = "FailureStreak(2)", .retry = "Cooldown(60s)"});
    fg_shared_family *f = open_family(m, p, 16, FG_SHM_CREATED);
    _Alignas(8) char h[1024];
    fg_breaker *b = key_handle(f, p, "down", h, NULL);
    call_at(b, 1, 1.0);
    call_at(b, 1, 2.0);
    call_at(b, 1, 3.0); /* rejected */
    assert_int_equal(fg_breaker_state(b), FG_STATE_OPEN);
    fg_breaker_free(b);
    b = key_handle(f, p, "up", h, NULL);
    call_at(b, 0, 1.0);
    fg_breaker_free(b);

    /* a reload: the zone is in use, the same definition: attached, keys kept */
    fg_shm *m2 = open_map(path, 0);
    fg_policy *p2 = compile_expr((fg_expressions){.tripper = "FailureStreak(2)", .retry = "Cooldown(60s)"});
    fg_shared_family *f2 = open_family(m2, p2, 16, FG_SHM_ATTACHED);
    assert_int_equal(fg_shared_family_size(f2), 2);
    int made = -1;
    b = key_handle(f2, p2, "down", h, &made);
    assert_int_equal(made, 0);
    assert_int_equal(fg_breaker_state(b), FG_STATE_OPEN);
    fg_breaker_free(b);
    fg_shared_family_totals before;
    fg_shared_family_totals_get(f2, &before);
    assert_int_equal(before.states[FG_STATE_OPEN], 1);
    assert_int_equal(before.states[FG_STATE_CLOSED], 1);
    assert_int_equal(before.counters.failure, 2);
    assert_int_equal(before.counters.success, 1);
    assert_int_equal(before.counters.rejected, 1);

    /* a changed definition: a fresh table, the old counters carried */
    fg_policy *p3 = compile_expr((fg_expressions){.tripper = "FailureStreak(5)"});
    fg_shared_family *f3 = open_family(m2, p3, 16, FG_SHM_REPLACED);
    assert_int_equal(fg_shared_family_size(f3), 0);
    fg_shared_family_totals after;
    fg_shared_family_totals_get(f3, &after);
    assert_int_equal(after.keys, 0);
    assert_int_equal(after.counters.failure, before.counters.failure);
    assert_int_equal(after.counters.success, before.counters.success);
    assert_int_equal(after.counters.rejected, before.counters.rejected);
    assert_int_equal(after.counters.admitted, before.counters.admitted);
    assert_int_equal(after.counters.transitions[FG_STATE_CLOSED][FG_STATE_OPEN], 1);
    b = key_handle(f3, p3, "down", h, &made);
    assert_int_equal(made, 1);
    assert_int_equal(fg_breaker_state(b), FG_STATE_CLOSED);
    call_at(b, 1, 5.0);
    fg_breaker_free(b);
    fg_shared_family_totals_get(f3, &after);
    assert_int_equal(after.counters.failure, before.counters.failure + 1);
    /* another capacity is another table too (a reload with it starts afresh) */
    fg_shared_family *f4 = open_family(m2, p3, 32, FG_SHM_REPLACED);
    fg_shared_family_totals_get(f4, &after);
    assert_int_equal(after.counters.failure, before.counters.failure + 1);
    fg_shared_family_free(f4);
    fg_shared_family_free(f3);
    fg_shared_family_free(f2);
    fg_shared_family_free(f);
    fg_policy_free(p3);
    fg_policy_free(p2);
    fg_policy_free(p);
    fg_shm_release(m2);
    fg_shm_release(m);
    unlink(path);
}

/* ---- a killed process ------------------------------------------------------------- */

/* In the child: takes the family's lock (the test hook), to be killed holding it. */
static char hold_the_family_lock(void *ud) {
    fg_shared_family_test_hold_lock(ud);
    return 'L';
}

static void a_process_killed_holding_the_family_lock_does_not_wedge_it(void **state) {
    (void)state;
    char path[128], err[300];
    temp_path(path, sizeof path, "kill");
    fg_shm *m = open_map(path, 1);
    fg_policy *p = compile_expr((fg_expressions){.tripper = "FailureStreak(3)"});
    fg_shared_family *f = open_family(m, p, 8, FG_SHM_CREATED);
    int made = 0;
    assert_non_null(fg_shared_family_block(f, "old", 3, &made, err, sizeof err));
    alarm(20);
    char c = 0;
    pid_t pid = fg_test_child_stuck_after(hold_the_family_lock, f, &c);
    assert_int_equal(c, 'L');
    /* an existing key needs no lock, even now */
    assert_non_null(fg_shared_family_block(f, "old", 3, &made, err, sizeof err));
    assert_int_equal(made, 0);
    kill(pid, SIGKILL);
    int st = 0;
    assert_int_equal(waitpid(pid, &st, 0), pid);
    /* a new key takes the lock over from the dead holder */
    assert_non_null(fg_shared_family_block(f, "new", 3, &made, err, sizeof err));
    assert_int_equal(made, 1);
    alarm(0);
    assert_int_equal(fg_shared_family_size(f), 2);
    fg_shared_family_free(f);
    fg_policy_free(p);
    fg_shm_release(m);
    unlink(path);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(processes_making_the_same_keys_at_once_get_one_block_per_key),
        cmocka_unit_test(a_full_family_says_so_and_keeps_its_keys),
        cmocka_unit_test(a_family_in_use_is_attached_and_a_changed_one_starts_fresh_with_its_counters),
        cmocka_unit_test(a_process_killed_holding_the_family_lock_does_not_wedge_it),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
