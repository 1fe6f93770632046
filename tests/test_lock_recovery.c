/*
 * test_lock_recovery.c -- breakers whose block several processes share
 * (fork): the robust lock (a holder killed with SIGKILL is detected and
 * the lock taken over, the block repaired), the owner tag that follows
 * fork, half-open leases held by a killed process, and the shared map
 * (fg_shm: fresh start, attach, replaced definitions and their chains,
 * full zones).
 *
 * Each test that waits on another process is bounded by alarm().
 */
#define _GNU_SOURCE /* usleep, MAP_ANONYMOUS */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#include "fg_breaker_internal.h"
#include "fg_breaker_shared.h"
#include "fg_shm.h"
#include "fg_test_child.h"
#include "fg_test_support.h"

/* ---- helpers ------------------------------------------------------------------ */

static fg_policy *compile_expr(fg_expressions e) {
    return fg_test_policy_expr("t", e);
}

static void temp_path(char *buf, size_t cap, const char *what) {
    snprintf(buf, cap, "/tmp/fg_test_%s_%ld.shm", what, (long)getpid());
    unlink(buf);
}

typedef struct shared_fixture {
    char path[128];
    fg_shm *map;
    fg_policy *policy;
    fg_breaker *b;
    char handle[1024] __attribute__((aligned(8)));
} shared_fixture;

static int place_fresh(void *ud, void *region, size_t size) {
    shared_fixture *f = ud;
    char err[200];
    f->b = fg_breaker_place(f->policy, 0, NULL, f->handle, region, size, 0, err, sizeof err);
    return f->b != NULL ? 0 : -1;
}

/* A breaker whose block lives in a fresh shared map (inherited by children). */
static void make_shared(shared_fixture *f, fg_expressions e, const char *what) {
    memset(f, 0, sizeof *f);
    temp_path(f->path, sizeof f->path, what);
    int fresh = 0;
    char err[300];
    f->map = fg_shm_open(f->path, 1 << 20, NULL, &fresh, err, sizeof err);
    assert_non_null(f->map);
    assert_int_equal(fresh, 1);
    f->policy = compile_expr(e);
    assert_true(fg_breaker_handle_footprint(f->policy, 0) <= sizeof f->handle);
    int status = -1;
    void *block = fg_shm_region(f->map, "t", FG_SHM_BREAKER, fg_breaker_definition_fingerprint(f->policy, 0),
                                fg_breaker_footprint(f->policy, 0), place_fresh, f, &status, err, sizeof err);
    assert_non_null(block);
    assert_int_equal(status, FG_SHM_CREATED);
    fg_breaker_set_zone(f->b, f->map);
}

static void drop_shared(shared_fixture *f) {
    fg_breaker_free(f->b);
    fg_policy_free(f->policy);
    fg_shm_release(f->map);
    unlink(f->path);
}

static fg_verdict call_at(fg_breaker *b, int failure, double now) {
    fg_ticket t;
    if (!fg_breaker_acquire_at(b, now, &t)) return FG_VERDICT_UNRECORDED;
    return fg_breaker_record_at(b, &t, failure, 0.01, now);
}

/* In the child: takes the breaker's lock (the test hook: the lock word
 * itself, as a record would take it) and half-writes a record, as a kill in
 * the middle of one would leave it. */
static char lock_and_half_write(void *ud) {
    fg_breaker *b = ud;
    fg_breaker_lock(b);
    b->block->window.total_count += 1000;
    b->block->window.failure_count += 7;
    b->block->half_open.oldest = 5; /* a busy list of 5 slots that is not there */
    b->block->half_open.in_flight = 5;
    return 'L';
}

/* A child that holds the breaker's lock and waits to be killed; its pid,
 * once it holds the lock. */
static pid_t child_holding_the_lock(fg_breaker *b) {
    char c = 0;
    pid_t pid = fg_test_child_stuck_after(lock_and_half_write, b, &c);
    assert_int_equal(c, 'L');
    return pid;
}

/* ---- the owner tag ------------------------------------------------------------------ */

static void the_owner_tag_names_the_process_that_holds_the_lock_even_after_fork(void **state) {
    (void)state;
    shared_fixture f;
    make_shared(&f, (fg_expressions){.tripper = "FailureStreak(3)"}, "tag");
    uint64_t mine = fg_breaker_tag(f.b);
    assert_int_equal(mine >> 32, (uint64_t)getpid());
    assert_true((mine & 1u) == 1u);
    alarm(20);
    pid_t child = child_holding_the_lock(f.b);
    uint64_t word = atomic_load(&f.b->block->lock);
    assert_int_equal(word >> 32, (uint64_t)child); /* the child's pid, not the parent's */
    assert_int_equal(fg_lock_owner_dead(word), 0);
    /* the same pid with another start time is another process */
    assert_int_equal(fg_lock_owner_dead(word ^ (1u << 1)), 1);
    kill(child, SIGKILL);
    assert_int_equal(waitpid(child, NULL, 0), child);
    assert_int_equal(fg_lock_owner_dead(word), 1);
    atomic_store(&f.b->block->lock, 0); /* not a recovery test */
    alarm(0);
    drop_shared(&f);
}

static void a_word_that_names_no_process_is_never_called_dead(void **state) {
    (void)state;
    assert_int_equal(fg_lock_owner_dead(0), 0);
    assert_int_equal(fg_lock_owner_dead(fg_lock_owner_tag()), 0); /* ourselves */
    assert_int_equal(fg_lock_owner_dead((uint64_t)getppid() << 32 | 1u), 0); /* no incarnation: alive */
}

/* Words no holder writes (a holder's tag is pid << 32 | incarnation << 1 | 1,
 * pid a pid_t > 0): what a corrupted zone file leaves in a lock. */
static const uint64_t garbage_words[] = {
    0x811a9f7d1e3ae762u, /* low bit 0 */
    0x0000000000000001u, /* pid 0 */
    0xffffffff00000001u, /* pid -1 as a pid_t: kill(-1, 0) would ask about every process */
    0x8000000000000001u, /* pid INT32_MIN as a pid_t */
    0x0000000200000000u, /* a pid without the held bit */
};

static void a_word_that_is_no_owner_tag_is_called_dead(void **state) {
    (void)state;
    for (size_t i = 0; i < sizeof garbage_words / sizeof garbage_words[0]; i++)
        assert_int_equal(fg_lock_owner_dead(garbage_words[i]), 1);
}

/* ---- recovery ------------------------------------------------------------------------ */

static void a_lock_held_by_a_killed_process_is_taken_over_and_the_window_repaired(void **state) {
    (void)state;
    shared_fixture f;
    make_shared(&f, (fg_expressions){.window = "CountWindow(10)", .tripper = "FailureRate(50%) & MinRequests(4)"},
                "kill");
    for (int i = 0; i < 3; i++) assert_int_equal(call_at(f.b, 1, 10.0 + i), FG_VERDICT_FAILURE);
    alarm(20);
    pid_t child = child_holding_the_lock(f.b);
    kill(child, SIGKILL);
    assert_int_equal(waitpid(child, NULL, 0), child);
    /* the lock is still held by the dead child: a record must not hang */
    assert_int_equal(call_at(f.b, 1, 20.0), FG_VERDICT_FAILURE);
    alarm(0);
    fg_info info;
    fg_breaker_info(f.b, &info);
    /* the window was cleared (not 1003 / 10 half-written counts): it holds
     * only the record made after the recovery, so MinRequests(4) is not met */
    assert_int_equal(info.metric.total_count, 1);
    assert_int_equal(info.metric.failure_count, 1);
    assert_int_equal(info.state, FG_STATE_CLOSED);
    assert_int_equal(info.counters.failure, 4);
    /* the half-open bookkeeping was reset (the phantom busy list is gone) */
    assert_int_equal(f.b->block->half_open.in_flight, 0);
    assert_int_equal(atomic_load(&f.b->block->lock), 0);
    /* and it works: three more failures open it */
    for (int i = 0; i < 3; i++) call_at(f.b, 1, 21.0 + i);
    assert_int_equal(fg_breaker_state(f.b), FG_STATE_OPEN);
    drop_shared(&f);
}

static int place_nothing(void *ud, void *region, size_t size) {
    (void)ud;
    memset(region, 0xab, size);
    return 0;
}

/* A corrupted zone file may leave any word in a lock: nobody will ever
 * clear it, so it is taken over (and the block repaired) rather than waited
 * for by every process forever -- the breaker's lock and the map's own. */
static void a_lock_word_no_holder_wrote_is_taken_over_not_waited_for(void **state) {
    (void)state;
    shared_fixture f;
    make_shared(&f, (fg_expressions){.tripper = "FailureStreak(3)"}, "garbage");
    alarm(20);
    for (size_t i = 0; i < sizeof garbage_words / sizeof garbage_words[0]; i++) {
        atomic_store(&f.b->block->lock, garbage_words[i]);
        assert_int_equal(call_at(f.b, 0, 10.0 + (double)i), FG_VERDICT_SUCCESS);
        assert_int_equal(atomic_load(&f.b->block->lock), 0);
    }
    /* the map's directory lock: the fourth word after the magic, size,
     * used and pidns words of the file's header */
    int fd = open(f.path, O_RDWR);
    assert_true(fd >= 0);
    for (size_t i = 0; i < sizeof garbage_words / sizeof garbage_words[0]; i++) {
        assert_int_equal(pwrite(fd, &garbage_words[i], 8, 32), 8);
        char err[300], name[16];
        int status = -1;
        snprintf(name, sizeof name, "r%zu", i);
        assert_non_null(fg_shm_region(f.map, name, FG_SHM_BREAKER, 1, 64, place_nothing, NULL, &status, err,
                                      sizeof err));
        uint64_t word = 1;
        assert_int_equal(pread(fd, &word, 8, 32), 8);
        assert_int_equal(word, 0);
    }
    close(fd);
    alarm(0);
    drop_shared(&f);
}

static void a_zombie_holder_is_dead_too(void **state) {
    (void)state;
    shared_fixture f;
    make_shared(&f, (fg_expressions){.tripper = "FailureStreak(2)"}, "zombie");
    alarm(20);
    pid_t child = child_holding_the_lock(f.b);
    kill(child, SIGKILL);
    /* not reaped: the child stays a zombie while we wait on its lock */
    char path[64], stat_line[512];
    snprintf(path, sizeof path, "/proc/%ld/stat", (long)child);
    for (int i = 0; i < 400; i++) {
        FILE *fp = fopen(path, "r");
        if (fp == NULL) break;
        size_t n = fread(stat_line, 1, sizeof stat_line - 1, fp);
        fclose(fp);
        stat_line[n] = '\0';
        char *p = strrchr(stat_line, ')');
        if (p != NULL && p[2] == 'Z') break;
        usleep(5000);
    }
    assert_int_equal(call_at(f.b, 1, 5.0), FG_VERDICT_FAILURE);
    alarm(0);
    assert_int_equal(waitpid(child, NULL, 0), child);
    drop_shared(&f);
}

static void a_live_holder_is_waited_for_not_robbed(void **state) {
    (void)state;
    shared_fixture f;
    make_shared(&f, (fg_expressions){.tripper = "FailureStreak(2)"}, "live");
    _Atomic int *done = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    assert_true(done != MAP_FAILED);
    atomic_store(done, 0);
    int fds[2];
    assert_int_equal(pipe(fds), 0);
    alarm(20);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        fg_breaker_lock(f.b);
        char c = 'L';
        if (write(fds[1], &c, 1) != 1) _exit(2);
        usleep(300000); /* long enough for many liveness checks */
        atomic_store(done, 1);
        fg_breaker_unlock(f.b);
        _exit(0);
    }
    char c;
    assert_int_equal(read(fds[0], &c, 1), 1);
    fg_breaker_lock(f.b);
    assert_int_equal(atomic_load(done), 1); /* we got it only once the child gave it back */
    fg_breaker_unlock(f.b);
    int st = 0;
    assert_int_equal(waitpid(pid, &st, 0), pid);
    assert_true(WIFEXITED(st) && WEXITSTATUS(st) == 0);
    alarm(0);
    close(fds[0]);
    close(fds[1]);
    munmap((void *)done, 4096);
    drop_shared(&f);
}

/* ---- half-open slots of a killed process ------------------------------------------------ */

/* In the child: 'P' when it got a half-open slot at 101.5, else 'N'. */
static char take_a_probe(void *ud) {
    fg_ticket t;
    return fg_breaker_acquire_at(ud, 101.5, &t) && t.slot >= 0 ? 'P' : 'N';
}

static void a_half_open_slot_held_by_a_killed_process_comes_back_after_the_lease(void **state) {
    (void)state;
    shared_fixture f;
    make_shared(&f, (fg_expressions){.tripper = "FailureStreak(1)", .retry = "Cooldown(1s)", .permit = "All()",
                                     .max_half_open_calls = "1", .half_open_lease = "2s"},
                "lease");
    assert_int_equal(call_at(f.b, 1, 100.0), FG_VERDICT_FAILURE);
    assert_int_equal(fg_breaker_state(f.b), FG_STATE_OPEN);
    alarm(20);
    char c = 0;
    /* killed mid-call: the probe it took is never recorded */
    pid_t pid = fg_test_child_stuck_after(take_a_probe, f.b, &c);
    assert_int_equal(c, 'P');
    kill(pid, SIGKILL);
    assert_int_equal(waitpid(pid, NULL, 0), pid);
    alarm(0);
    fg_ticket t;
    assert_int_equal(fg_breaker_acquire_at(f.b, 102.0, &t), 0); /* the slot is still leased */
    assert_int_equal(fg_breaker_state(f.b), FG_STATE_HALF_OPEN);
    assert_int_equal(fg_breaker_acquire_at(f.b, 103.6, &t), 1); /* the lease is over */
    assert_int_equal(fg_breaker_record_at(f.b, &t, FG_OUTCOME_SUCCESS, 0.01, 103.7),
                     FG_VERDICT_SUCCESS);
    assert_int_equal(fg_breaker_state(f.b), FG_STATE_CLOSED);
    fg_info info;
    fg_breaker_info(f.b, &info);
    assert_int_equal(info.counters.lease_expired, 1);
    drop_shared(&f);
}

/* ---- one state for every process ------------------------------------------------------------ */

static void processes_sharing_a_block_open_it_on_the_threshold_together(void **state) {
    (void)state;
    shared_fixture f;
    make_shared(&f, (fg_expressions){.tripper = "FailureStreak(6)", .retry = "Cooldown(60s)"}, "together");
    alarm(20);
    pid_t kids[3];
    for (int k = 0; k < 3; k++) {
        kids[k] = fork();
        assert_true(kids[k] >= 0);
        if (kids[k] == 0) {
            int admitted = 0;
            for (int i = 0; i < 10; i++) {
                fg_ticket t;
                if (!fg_breaker_acquire_at(f.b, 10.0, &t)) continue;
                admitted++;
                fg_breaker_record_at(f.b, &t, FG_OUTCOME_FAILURE, 0.01, 10.0);
                usleep(2000);
            }
            _exit(admitted);
        }
    }
    int admitted = 0;
    for (int k = 0; k < 3; k++) {
        int st = 0;
        assert_int_equal(waitpid(kids[k], &st, 0), kids[k]);
        assert_true(WIFEXITED(st));
        admitted += WEXITSTATUS(st);
    }
    alarm(0);
    /* 3 processes x 10 attempts: the threshold's 6 failures (plus at most
     * one in flight per other process) got through, not 3 x 6 */
    assert_true(admitted >= 6 && admitted <= 8);
    fg_info info;
    fg_breaker_info(f.b, &info);
    assert_int_equal(info.state, FG_STATE_OPEN);
    assert_int_equal(info.counters.failure, (uint64_t)admitted);
    assert_int_equal(info.counters.rejected, (uint64_t)(30 - admitted));
    drop_shared(&f);
}

/* ---- the map ----------------------------------------------------------------------------- */

static void a_map_in_use_is_attached_and_an_unused_one_starts_afresh(void **state) {
    (void)state;
    char path[128], err[300];
    temp_path(path, sizeof path, "map");
    int fresh = -1, status = -1;
    fg_shm *a = fg_shm_open(path, 1 << 16, NULL, &fresh, err, sizeof err);
    assert_non_null(a);
    assert_int_equal(fresh, 1);
    char *r1 = fg_shm_region(a, "x", FG_SHM_BREAKER, 42, 1000, place_nothing, NULL, &status, err, sizeof err);
    assert_non_null(r1);
    assert_int_equal(status, FG_SHM_CREATED);
    assert_int_equal((uintptr_t)r1 % FG_SHM_ALIGN, 0);
    /* a second opening while the first is in use (a reload): attached */
    fg_shm *b = fg_shm_open(path, 1 << 16, NULL, &fresh, err, sizeof err);
    assert_non_null(b);
    assert_int_equal(fresh, 0);
    char *r2 = fg_shm_region(b, "x", FG_SHM_BREAKER, 42, 1000, place_nothing, NULL, &status, err, sizeof err);
    assert_non_null(r2);
    assert_int_equal(status, FG_SHM_ATTACHED);
    assert_int_equal((unsigned char)r2[999], 0xab);
    r2[0] = 7;
    assert_int_equal(r1[0], 7); /* the same memory (the two mappings differ) */
    /* another kind or name is another region */
    char *r3 = fg_shm_region(b, "x", FG_SHM_FAMILY, 42, 1000, place_nothing, NULL, &status, err, sizeof err);
    assert_true(r3 != NULL && r3 != r2 && status == FG_SHM_CREATED);
    /* another definition replaces it: a new region, the old one kept */
    char *r4 = fg_shm_region(b, "x", FG_SHM_BREAKER, 43, 1000, place_nothing, NULL, &status, err, sizeof err);
    assert_true(r4 != NULL && r4 != r2 && status == FG_SHM_REPLACED);
    char *r5 = fg_shm_region(a, "x", FG_SHM_BREAKER, 43, 1000, place_nothing, NULL, &status, err, sizeof err);
    assert_true(r5 != NULL && status == FG_SHM_ATTACHED);
    r4[1] = 9; /* the same memory (mapped at another address) */
    assert_int_equal(r5[1], 9);
    /* the replaced region and its successor are one chain, read from
     * either region in either process: newest first */
    fg_shm_span chain[FG_SHM_ENTRIES];
    assert_int_equal(fg_shm_chain(b, r2, FG_SHM_BREAKER, chain, FG_SHM_ENTRIES), 2);
    assert_ptr_equal(chain[0].region, r4);
    assert_ptr_equal(chain[1].region, r2);
    assert_int_equal(chain[1].size, 1000);
    assert_int_equal(fg_shm_chain(a, r5, FG_SHM_BREAKER, chain, FG_SHM_ENTRIES), 2);
    assert_ptr_equal(chain[0].region, r5);
    assert_ptr_equal(chain[1].region, r1);
    /* the other kind's region is a chain of its own; no region starts
     * inside one */
    assert_int_equal(fg_shm_chain(b, r3, FG_SHM_FAMILY, chain, FG_SHM_ENTRIES), 1);
    assert_int_equal(fg_shm_chain(b, r3, FG_SHM_BREAKER, chain, FG_SHM_ENTRIES), 0);
    assert_int_equal(fg_shm_chain(b, r4 + 64, FG_SHM_BREAKER, chain, FG_SHM_ENTRIES), 0);
    /* larger than the file while in use: refused, saying why */
    assert_null(fg_shm_open(path, 1 << 20, NULL, &fresh, err, sizeof err));
    assert_non_null(strstr(err, "restart"));
    size_t used = fg_shm_used(a);
    fg_shm_release(b);
    fg_shm_release(a);
    /* nobody uses it any more: the next opening starts afresh */
    a = fg_shm_open(path, 1 << 16, NULL, &fresh, err, sizeof err);
    assert_non_null(a);
    assert_int_equal(fresh, 1);
    assert_true(fg_shm_used(a) < used);
    r1 = fg_shm_region(a, "x", FG_SHM_BREAKER, 42, 1000, place_nothing, NULL, &status, err, sizeof err);
    assert_int_equal(status, FG_SHM_CREATED);
    fg_shm_release(a);
    unlink(path);
}

/* A process that does not map the file opens it while others use it
 * (another nginx instance given the same zone): attached, and said to be
 * foreign; the same process opening it again (a reload) is not. */
static void a_map_in_use_by_processes_this_one_did_not_start_is_foreign(void **state) {
    (void)state;
    char path[128], err[300];
    temp_path(path, sizeof path, "foreign");
    int fresh = -1;
    fg_shm *a = fg_shm_open(path, 1 << 16, NULL, &fresh, err, sizeof err);
    assert_non_null(a);
    assert_int_equal(fresh, FG_SHM_OPEN_FRESH);
    fg_shm *b = fg_shm_open(path, 1 << 16, NULL, &fresh, err, sizeof err);
    assert_non_null(b);
    assert_int_equal(fresh, FG_SHM_OPEN_ATTACHED);
    fg_shm_release(b);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        /* without the inherited mapping (the parent keeps the flock): a stranger */
        fg_shm_release(a);
        int f = -1;
        fg_shm *c = fg_shm_open(path, 1 << 16, NULL, &f, err, sizeof err);
        if (c == NULL) _exit(10);
        fg_shm_release(c); /* memcheck checks the child too */
        _exit(f);
    }
    int st = 0;
    assert_int_equal(waitpid(pid, &st, 0), pid);
    assert_true(WIFEXITED(st));
    assert_int_equal(WEXITSTATUS(st), FG_SHM_OPEN_FOREIGN);
    /* a child that keeps the inherited mapping is one of the same processes */
    pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        int f = -1;
        fg_shm *c = fg_shm_open(path, 1 << 16, NULL, &f, err, sizeof err);
        if (c == NULL) _exit(10);
        fg_shm_release(c); /* memcheck checks the child too */
        fg_shm_release(a);
        _exit(f);
    }
    assert_int_equal(waitpid(pid, &st, 0), pid);
    assert_true(WIFEXITED(st));
    assert_int_equal(WEXITSTATUS(st), FG_SHM_OPEN_ATTACHED);
    fg_shm_release(a);
    unlink(path);
}

static void a_full_map_says_so(void **state) {
    (void)state;
    char path[128], err[300], name[16];
    temp_path(path, sizeof path, "full");
    int fresh = -1, status = -1;
    fg_shm *m = fg_shm_open(path, 1 << 16, NULL, &fresh, err, sizeof err);
    assert_non_null(m);
    assert_null(fg_shm_region(m, "big", FG_SHM_BREAKER, 1, 1 << 16, place_nothing, NULL, &status, err, sizeof err));
    assert_non_null(strstr(err, "the shared zone is full"));
    assert_non_null(strstr(err, "'big' needs 65536"));
    char long_name[FG_SHM_NAME_MAX + 2];
    memset(long_name, 'n', sizeof long_name - 1);
    long_name[sizeof long_name - 1] = '\0';
    assert_null(fg_shm_region(m, long_name, FG_SHM_BREAKER, 1, 64, place_nothing, NULL, &status, err, sizeof err));
    assert_non_null(strstr(err, "longer than 200 bytes"));
    int made = 0;
    for (int i = 0; i < FG_SHM_ENTRIES + 1; i++) {
        snprintf(name, sizeof name, "r%d", i);
        if (fg_shm_region(m, name, FG_SHM_BREAKER, 1, 64, place_nothing, NULL, &status, err, sizeof err) == NULL) break;
        made++;
    }
    assert_int_equal(made, FG_SHM_ENTRIES);
    assert_non_null(strstr(err, "directory holds 64 regions"));
    fg_shm_release(m);
    assert_null(fg_shm_open(path, 100, NULL, &fresh, err, sizeof err));
    assert_non_null(strstr(err, "size must be"));
    unlink(path);
}

/* Another program wrote into the file: its directory holds entries in no
 * state, or its used size is past its end. That is a damaged file, not a full
 * zone (a larger size would not help): the message says so. */
static void a_damaged_map_says_so_rather_than_full(void **state) {
    (void)state;
    char path[128], err[300];
    temp_path(path, sizeof path, "damaged");
    int fresh = -1, status = -1;
    fg_shm *m = fg_shm_open(path, 1 << 16, NULL, &fresh, err, sizeof err);
    assert_non_null(m);
    int fd = open(path, O_RDWR);
    assert_true(fd >= 0);
    /* every directory entry's state (the first word of each 256-byte entry,
     * after the 64-byte header) set to garbage */
    for (int i = 0; i < FG_SHM_ENTRIES; i++) {
        uint32_t garbage = 0x5a5a5a5au;
        assert_int_equal(pwrite(fd, &garbage, 4, 64 + 256 * (off_t)i), 4);
    }
    assert_null(fg_shm_region(m, "x", FG_SHM_BREAKER, 1, 64, place_nothing, NULL, &status, err, sizeof err));
    assert_string_equal(err, "the shared zone file is damaged (64 of 64 directory entries are no region): it "
                             "starts afresh once no process uses it (a restart)");
    /* one entry free again, but the used size (the third header word) past the end */
    uint32_t free_state = 0;
    assert_int_equal(pwrite(fd, &free_state, 4, 64), 4);
    uint64_t used = UINT64_C(1) << 40;
    assert_int_equal(pwrite(fd, &used, 8, 16), 8);
    assert_null(fg_shm_region(m, "x", FG_SHM_BREAKER, 1, 64, place_nothing, NULL, &status, err, sizeof err));
    assert_non_null(
        strstr(err, "damaged (63 of 64 directory entries are no region, its used size is past its end)"));
    close(fd);
    fg_shm_release(m);
    unlink(path);
}

static void a_replaced_definition_continues_its_chain_s_counters(void **state) {
    (void)state;
    shared_fixture f;
    make_shared(&f, (fg_expressions){.tripper = "FailureStreak(2)", .retry = "Cooldown(60s)"}, "carry");
    call_at(f.b, 0, 1.0);
    call_at(f.b, 1, 2.0);
    call_at(f.b, 1, 3.0);
    fg_ticket t;
    assert_int_equal(fg_breaker_acquire_at(f.b, 4.0, &t), 0);
    fg_info before;
    fg_breaker_info(f.b, &before);
    /* the same name, another definition: a fresh block, the next in the
     * chain; nothing is copied into it */
    shared_fixture g = f;
    g.policy = compile_expr((fg_expressions){.tripper = "FailureStreak(3)"});
    int status = -1;
    char err[300];
    void *block = fg_shm_region(f.map, "t", FG_SHM_BREAKER, fg_breaker_definition_fingerprint(g.policy, 0),
                                fg_breaker_footprint(g.policy, 0), place_fresh, &g, &status, err, sizeof err);
    assert_non_null(block);
    assert_int_equal(status, FG_SHM_REPLACED);
    fg_breaker_set_zone(g.b, g.map);
    fg_counters own;
    assert_int_equal(fg_breaker_block_counters(block, fg_breaker_footprint(g.policy, 0), &own), 0);
    assert_int_equal(own.failure + own.success + own.rejected, 0);
    /* but the new handle reports the breaker's counters: the chain's */
    fg_info after;
    fg_breaker_info(g.b, &after);
    assert_int_equal(after.state, FG_STATE_CLOSED);
    assert_int_equal(after.counters.success, before.counters.success);
    assert_int_equal(after.counters.failure, 2);
    assert_int_equal(after.counters.rejected, 1);
    assert_int_equal(after.counters.admitted, before.counters.admitted);
    assert_int_equal(after.counters.transitions[FG_STATE_CLOSED][FG_STATE_OPEN], 1);
    /* the old handle too, and both name the same counters */
    fg_breaker_info(f.b, &after);
    assert_int_equal(after.state, FG_STATE_OPEN);
    assert_int_equal(after.counters.failure, 2);
    assert_ptr_equal(fg_breaker_counters_id(f.b), fg_breaker_counters_id(g.b));
    assert_int_equal(fg_breaker_block_counters("not a block", 12, &own), -1);
    fg_breaker_free(g.b);
    fg_policy_free(g.policy);
    drop_shared(&f);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(the_owner_tag_names_the_process_that_holds_the_lock_even_after_fork),
        cmocka_unit_test(a_word_that_names_no_process_is_never_called_dead),
        cmocka_unit_test(a_word_that_is_no_owner_tag_is_called_dead),
        cmocka_unit_test(a_lock_held_by_a_killed_process_is_taken_over_and_the_window_repaired),
        cmocka_unit_test(a_lock_word_no_holder_wrote_is_taken_over_not_waited_for),
        cmocka_unit_test(a_zombie_holder_is_dead_too),
        cmocka_unit_test(a_live_holder_is_waited_for_not_robbed),
        cmocka_unit_test(a_half_open_slot_held_by_a_killed_process_comes_back_after_the_lease),
        cmocka_unit_test(processes_sharing_a_block_open_it_on_the_threshold_together),
        cmocka_unit_test(a_map_in_use_is_attached_and_an_unused_one_starts_afresh),
        cmocka_unit_test(a_map_in_use_by_processes_this_one_did_not_start_is_foreign),
        cmocka_unit_test(a_full_map_says_so),
        cmocka_unit_test(a_damaged_map_says_so_rather_than_full),
        cmocka_unit_test(a_replaced_definition_continues_its_chain_s_counters),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
