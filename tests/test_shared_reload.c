/*
 * test_shared_reload.c -- a shared breaker's or family's counters over
 * reloads that change its definition (fg_shm.h "Chains"): processes still
 * on an old block (the old workers of a graceful reload) keep counting
 * there, and every reader -- a handle on any block of the chain, in any
 * process, with the old definition or the new -- reports every call once,
 * and never less than an earlier reading. Processes are emulated with
 * fork, as nginx's workers are; a process killed while it makes a region
 * wedges nothing and breaks no chain.
 *
 * Each test that waits on another process is bounded by alarm().
 */
#define _GNU_SOURCE /* usleep, MAP_ANONYMOUS */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#include "fg_breaker_shared.h"
#include "fg_shared_family.h"
#include "fg_shm.h"
#include "fg_test_shared.h"
#include "fg_test_support.h"

/* ---- helpers ------------------------------------------------------------------ */

static void temp_path(char *buf, size_t cap, const char *what) {
    snprintf(buf, cap, "/tmp/fg_test_reload_%s_%ld.shm", what, (long)getpid());
    unlink(buf);
}

static fg_shm *open_map(const char *path) {
    char err[300];
    int fresh = -1;
    fg_shm *m = fg_shm_open(path, 4 << 20, NULL, &fresh, err, sizeof err);
    if (m == NULL) fail_msg("%s", err);
    return m;
}

/* Definition number g of breaker "t": each one another window size (so
 * another block layout) and another streak. */
static fg_policy *definition(int g) {
    char window[32], tripper[32];
    snprintf(window, sizeof window, "CountWindow(%d)", 20 + 10 * g);
    snprintf(tripper, sizeof tripper, "FailureStreak(%d)", 4 + g % 2);
    return fg_test_policy_expr("t", (fg_expressions){.window = window, .tripper = tripper, .retry = "Cooldown(5ms)"});
}

typedef struct placing {
    fg_policy *policy;
    void *handle;
    fg_breaker *b;
} placing;

static int place_fresh(void *ud, void *region, size_t size) {
    placing *p = ud;
    char err[200];
    p->b = fg_breaker_place(p->policy, 0, NULL, p->handle, region, size, 0, err, sizeof err);
    return p->b != NULL ? 0 : -1;
}

/* A handle in `handle` on the block of p's breaker in m, as the Lua binding
 * places a shared breaker: attached, or made (replacing another
 * definition's block). *status: fg_shm_status. */
static fg_breaker *place_shared(fg_shm *m, fg_policy *p, void *handle, int *status) {
    char err[300];
    placing in = {p, handle, NULL};
    void *block = fg_shm_region(m, "t", FG_SHM_BREAKER, fg_breaker_definition_fingerprint(p, 0),
                                fg_breaker_footprint(p, 0), place_fresh, &in, status, err, sizeof err);
    if (block == NULL) fail_msg("%s", err);
    fg_breaker *b = in.b;
    if (*status == FG_SHM_ATTACHED) b = fg_breaker_place(p, 0, NULL, handle, block, fg_breaker_footprint(p, 0), 1, err, sizeof err);
    if (b == NULL) fail_msg("%s", err);
    fg_breaker_set_zone(b, m);
    return b;
}

/* What a process did, in memory its parent reads once it has exited. */
typedef struct tally {
    uint64_t calls, rejected, success, failure, ignored;
    _Atomic int stop;
} tally;

static tally *shared_tallies(size_t n) {
    void *p = mmap(NULL, n * sizeof(tally), PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    assert_true(p != MAP_FAILED);
    memset(p, 0, n * sizeof(tally));
    return p;
}

/* One call with a drawn outcome: 20 % failures, 5 % untracked errors. */
static void one_call(fg_breaker *b, tally *t, uint64_t *rng) {
    fg_ticket tk;
    uint32_t r = fg_test_next_random(rng) % 100;
    t->calls++;
    if (!fg_breaker_acquire(b, &tk)) {
        t->rejected++;
        return;
    }
    fg_outcome_class c = r < 20 ? FG_OUTCOME_FAILURE : r < 25 ? FG_OUTCOME_UNTRACKED : FG_OUTCOME_SUCCESS;
    fg_breaker_record(b, &tk, c, 0.001);
    if (c == FG_OUTCOME_FAILURE) t->failure++;
    else if (c == FG_OUTCOME_UNTRACKED) t->ignored++;
    else t->success++;
}

/* A worker: calls through b until told to stop. */
static pid_t start_worker(fg_breaker *b, tally *t) {
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        uint64_t rng = (uint64_t)getpid() * UINT64_C(0x9E3779B97F4A7C15);
        while (!atomic_load_explicit(&t->stop, memory_order_relaxed)) {
            one_call(b, t, &rng);
            if (t->calls % 64 == 0) usleep(50); /* let the others run on a busy machine */
        }
        _exit(0);
    }
    return pid;
}

static void stop_worker(pid_t pid, tally *t) {
    atomic_store_explicit(&t->stop, 1, memory_order_relaxed);
    int st = 0;
    assert_int_equal(waitpid(pid, &st, 0), pid);
    assert_true(WIFEXITED(st) && WEXITSTATUS(st) == 0);
}

static uint64_t calls_counted(const fg_counters *c) {
    return c->success + c->failure + c->ignored + c->rejected;
}

/* Every counter of c at least what `least` has. */
static int none_less(const fg_counters *c, const fg_counters *least) {
    if (c->success < least->success || c->failure < least->failure || c->ignored < least->ignored ||
        c->rejected < least->rejected || c->admitted < least->admitted || c->stale < least->stale ||
        c->lease_expired < least->lease_expired)
        return 0;
    for (int a = 0; a < FG_STATE_COUNT; a++)
        for (int b = 0; b < FG_STATE_COUNT; b++)
            if (c->transitions[a][b] < least->transitions[a][b]) return 0;
    return 1;
}

/* ---- breakers ------------------------------------------------------------------- */

static void calls_an_old_process_makes_after_a_replacement_reach_every_reader(void **state) {
    (void)state;
    char path[128];
    temp_path(path, sizeof path, "late");
    fg_shm *m = open_map(path);
    fg_policy *p0 = fg_test_policy_expr("t", (fg_expressions){.tripper = "FailureStreak(1000)"});
    fg_policy *p1 = fg_test_policy_expr("t", (fg_expressions){.window = "CountWindow(50)",
                                                             .tripper = "FailureStreak(999)"});
    _Alignas(8) char ha[1024], hb[1024];
    int status = -1;
    fg_breaker *a = place_shared(m, p0, ha, &status);
    assert_int_equal(status, FG_SHM_CREATED);
    for (int i = 0; i < 10; i++) {
        fg_ticket t;
        assert_true(fg_breaker_acquire(a, &t));
        fg_breaker_record(a, &t, FG_OUTCOME_SUCCESS, 0.001);
    }
    int go[2], done[2];
    assert_int_equal(pipe(go), 0);
    assert_int_equal(pipe(done), 0);
    alarm(20);
    pid_t old_worker = fork();
    assert_true(old_worker >= 0);
    if (old_worker == 0) {
        /* an old worker: it keeps the old definition's handle */
        char c;
        if (read(go[0], &c, 1) != 1) _exit(3);
        for (int i = 0; i < 50; i++) {
            fg_ticket t;
            if (!fg_breaker_acquire(a, &t)) _exit(4);
            fg_breaker_record(a, &t, i % 5 == 0 ? FG_OUTCOME_FAILURE : FG_OUTCOME_SUCCESS, 0.001);
        }
        fg_info info;
        fg_breaker_info(a, &info); /* the old handle reads the newer, larger block too */
        if (write(done[1], &info.counters.success, sizeof info.counters.success) != sizeof info.counters.success)
            _exit(5);
        fg_breaker_free(a); /* this process's copies (memcheck checks each process) */
        fg_policy_free(p1);
        fg_policy_free(p0);
        fg_shm_release(m);
        _exit(0);
    }
    /* the reload: a changed definition gets a new block in the chain */
    fg_breaker *b = place_shared(m, p1, hb, &status);
    assert_int_equal(status, FG_SHM_REPLACED);
    for (int i = 0; i < 20; i++) {
        fg_ticket t;
        assert_true(fg_breaker_acquire(b, &t));
        fg_breaker_record(b, &t, FG_OUTCOME_FAILURE, 0.001);
    }
    /* the old worker counts into the old block after that */
    assert_int_equal(write(go[1], "g", 1), 1);
    uint64_t seen_by_old = 0;
    assert_int_equal(read(done[0], &seen_by_old, sizeof seen_by_old), sizeof seen_by_old);
    int st = 0;
    assert_int_equal(waitpid(old_worker, &st, 0), old_worker);
    assert_true(WIFEXITED(st) && WEXITSTATUS(st) == 0);
    alarm(0);
    /* 10 + 40 successes, 10 + 20 failures, from either handle */
    assert_int_equal(seen_by_old, 50);
    fg_info ia, ib;
    fg_breaker_info(a, &ia);
    fg_breaker_info(b, &ib);
    assert_int_equal(ia.counters.success, 50);
    assert_int_equal(ia.counters.failure, 30);
    assert_int_equal(ia.counters.admitted, 80);
    assert_memory_equal(&ia.counters, &ib.counters, sizeof ia.counters);
    assert_ptr_equal(fg_breaker_counters_id(a), fg_breaker_counters_id(b));
    /* each block holds only what was counted into it: nothing was copied */
    fg_counters own;
    assert_int_equal(fg_breaker_block_counters(fg_breaker_block(b), fg_breaker_footprint(p1, 0), &own), 0);
    assert_int_equal(own.success + own.failure, 20);
    fg_breaker_free(b);
    fg_breaker_free(a);
    fg_policy_free(p1);
    fg_policy_free(p0);
    fg_shm_release(m);
    unlink(path);
}

enum { GENERATIONS = 6, READINGS = 25 };

static void over_a_chain_of_reloads_every_call_counts_once_and_no_reading_decreases(void **state) {
    (void)state;
    char path[128];
    temp_path(path, sizeof path, "chain");
    fg_shm *m = open_map(path);
    tally *tallies = shared_tallies(GENERATIONS);
    fg_policy *p[GENERATIONS];
    fg_breaker *h[GENERATIONS];
    _Alignas(8) static char handles[GENERATIONS][2048];
    pid_t workers[GENERATIONS];
    fg_counters highest;
    memset(&highest, 0, sizeof highest);
    alarm(60);
    for (int g = 0; g < GENERATIONS; g++) {
        p[g] = definition(g);
        assert_true(fg_breaker_handle_footprint(p[g], 0) <= sizeof handles[g]);
        int status = -1;
        h[g] = place_shared(m, p[g], handles[g], &status);
        assert_int_equal(status, g == 0 ? FG_SHM_CREATED : FG_SHM_REPLACED);
        /* the new generation's worker; the one two reloads old finishes
         * draining now, the one before keeps counting into its old block */
        workers[g] = start_worker(h[g], &tallies[g]);
        if (g >= 2) stop_worker(workers[g - 2], &tallies[g - 2]);
        /* readers on every block of the chain, in turn: none ever reads
         * less than any reading before it */
        for (int r = 0; r < READINGS; r++) {
            fg_info info;
            fg_breaker_info(h[r % (g + 1)], &info);
            if (!none_less(&info.counters, &highest))
                fail_msg("generation %d, reading %d (through block %d): %llu calls after %llu", g, r, r % (g + 1),
                         (unsigned long long)calls_counted(&info.counters), (unsigned long long)calls_counted(&highest));
            highest = info.counters;
            usleep(2000);
        }
    }
    for (int g = GENERATIONS - 2; g < GENERATIONS; g++) stop_worker(workers[g], &tallies[g]);
    alarm(0);
    tally all;
    memset(&all, 0, sizeof all);
    for (int g = 0; g < GENERATIONS; g++) {
        all.calls += tallies[g].calls;
        all.rejected += tallies[g].rejected;
        all.success += tallies[g].success;
        all.failure += tallies[g].failure;
        all.ignored += tallies[g].ignored;
    }
    assert_true(all.failure > 0 && all.ignored > 0);
    fg_info first;
    fg_breaker_info(h[0], &first);
    /* every call once, whichever block it was counted in */
    assert_int_equal(first.counters.success, all.success);
    assert_int_equal(first.counters.failure, all.failure);
    assert_int_equal(first.counters.ignored, all.ignored);
    assert_int_equal(first.counters.rejected, all.rejected);
    assert_int_equal(first.counters.admitted, all.calls - all.rejected);
    assert_int_equal(calls_counted(&first.counters), all.calls);
    assert_true(first.counters.transitions[FG_STATE_CLOSED][FG_STATE_OPEN] > 0);
    for (int g = 1; g < GENERATIONS; g++) {
        fg_info info;
        fg_breaker_info(h[g], &info);
        /* lease expiry is counted lazily, by whoever reads a block under its lock */
        info.counters.lease_expired = first.counters.lease_expired;
        assert_memory_equal(&info.counters, &first.counters, sizeof info.counters);
        assert_ptr_equal(fg_breaker_counters_id(h[g]), fg_breaker_counters_id(h[0]));
    }
    for (int g = GENERATIONS; g-- > 0;) {
        fg_breaker_free(h[g]);
        fg_policy_free(p[g]);
    }
    munmap(tallies, GENERATIONS * sizeof(tally));
    fg_shm_release(m);
    unlink(path);
}

/* fg_shm_init_fn of a process to be killed while it makes a region (the
 * map's lock held): says so on the pipe and waits. */
static int hang_in_init(void *ud, void *region, size_t size) {
    (void)region, (void)size;
    int fd = *(int *)ud;
    if (write(fd, "i", 1) != 1) _exit(2);
    for (;;) pause();
}

static void a_process_killed_while_it_makes_a_region_wedges_nothing_and_breaks_no_chain(void **state) {
    (void)state;
    char path[128];
    temp_path(path, sizeof path, "kill");
    fg_shm *m = open_map(path);
    fg_policy *p0 = definition(0), *p1 = definition(1);
    _Alignas(8) char h0[2048], h1[2048];
    int status = -1;
    fg_breaker *a = place_shared(m, p0, h0, &status);
    fg_ticket t;
    assert_true(fg_breaker_acquire(a, &t));
    fg_breaker_record(a, &t, FG_OUTCOME_FAILURE, 0.001);
    int fds[2];
    assert_int_equal(pipe(fds), 0);
    alarm(20);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        char err[300];
        int st = 0;
        fg_shm_region(m, "t", FG_SHM_BREAKER, fg_breaker_definition_fingerprint(p1, 0), fg_breaker_footprint(p1, 0),
                      hang_in_init, &fds[1], &st, err, sizeof err);
        _exit(3);
    }
    char c = 0;
    assert_int_equal(read(fds[0], &c, 1), 1);
    kill(pid, SIGKILL);
    int st = 0;
    assert_int_equal(waitpid(pid, &st, 0), pid);
    /* the map's lock is taken over; the half-made region was never published */
    fg_breaker *b = place_shared(m, p1, h1, &status);
    assert_int_equal(status, FG_SHM_REPLACED);
    alarm(0);
    fg_shm_span chain[FG_SHM_ENTRIES];
    assert_int_equal(fg_shm_chain(m, fg_breaker_block(a), FG_SHM_BREAKER, chain, FG_SHM_ENTRIES), 2);
    assert_ptr_equal(chain[0].region, fg_breaker_block(b));
    assert_int_equal(fg_breaker_acquire(a, &t), 1);
    fg_breaker_record(a, &t, FG_OUTCOME_SUCCESS, 0.001);
    fg_info info;
    fg_breaker_info(b, &info);
    assert_int_equal(info.counters.failure, 1);
    assert_int_equal(info.counters.success, 1);
    close(fds[0]);
    close(fds[1]);
    fg_breaker_free(b);
    fg_breaker_free(a);
    fg_policy_free(p1);
    fg_policy_free(p0);
    fg_shm_release(m);
    unlink(path);
}

/* ---- families --------------------------------------------------------------------- */

/* n calls on key's breaker in f (made if new): failures where i % every == 0. */
static void key_calls(fg_shared_family *f, fg_policy *p, const char *key, int n, int every) {
    char err[300];
    int made = 0;
    void *block = fg_shared_family_block(f, key, strlen(key), &made, err, sizeof err);
    if (block == NULL) fail_msg("%s", err);
    _Alignas(8) char h[2048];
    fg_breaker *b = fg_breaker_place(p, 0, NULL, h, block, fg_shared_family_block_size(f), 1, err, sizeof err);
    if (b == NULL) fail_msg("%s", err);
    fg_breaker_set_zone(b, fg_shared_family_map(f));
    for (int i = 0; i < n; i++) {
        fg_ticket t;
        if (fg_breaker_acquire(b, &t))
            fg_breaker_record(b, &t, every > 0 && i % every == 0 ? FG_OUTCOME_FAILURE : FG_OUTCOME_SUCCESS, 0.001);
    }
    /* a key's breaker reports its own key's counters (keys are not chained) */
    fg_info info;
    fg_breaker_info(b, &info);
    assert_true(calls_counted(&info.counters) >= (uint64_t)n);
    fg_breaker_free(b);
}

static void keys_an_old_process_makes_after_a_replacement_count_in_every_family_reader(void **state) {
    (void)state;
    char path[128];
    temp_path(path, sizeof path, "family");
    fg_shm *m = open_map(path);
    fg_policy *p1 = fg_test_policy_expr("t", (fg_expressions){.tripper = "FailureStreak(1000)"});
    fg_policy *p2 = fg_test_policy_expr("t", (fg_expressions){.window = "CountWindow(40)",
                                                             .tripper = "FailureStreak(999)"});
    fg_shared_family *f1 = open_family(m, p1, 8, FG_SHM_CREATED);
    key_calls(f1, p1, "a", 5, 0);
    /* the reload: a changed definition, a fresh table next in the chain */
    fg_shared_family *f2 = open_family(m, p2, 8, FG_SHM_REPLACED);
    alarm(20);
    pid_t old_worker = fork();
    assert_true(old_worker >= 0);
    if (old_worker == 0) {
        /* an old worker, still on the old table: it even makes a key there */
        key_calls(f1, p1, "late", 10, 2); /* 5 failures, 5 successes */
        key_calls(f1, p1, "a", 3, 0);
        /* this process's copies (memcheck checks each process) */
        fg_shared_family_free(f2);
        fg_shared_family_free(f1);
        fg_policy_free(p2);
        fg_policy_free(p1);
        fg_shm_release(m);
        _exit(0);
    }
    int st = 0;
    assert_int_equal(waitpid(old_worker, &st, 0), old_worker);
    assert_true(WIFEXITED(st) && WEXITSTATUS(st) == 0);
    alarm(0);
    key_calls(f2, p2, "a", 4, 0);
    fg_shared_family_totals t1, t2;
    fg_shared_family_totals_get(f1, &t1);
    fg_shared_family_totals_get(f2, &t2);
    assert_int_equal(t2.counters.success, 5 + 5 + 3 + 4);
    assert_int_equal(t2.counters.failure, 5);
    assert_memory_equal(&t1.counters, &t2.counters, sizeof t1.counters);
    /* keys are each table's own: what the process using it has */
    assert_int_equal(t1.keys, 2);
    assert_int_equal(t2.keys, 1);
    assert_ptr_equal(fg_shared_family_counters_id(f1), fg_shared_family_counters_id(f2));
    /* a third table (another capacity), and the first one's process still counting */
    fg_shared_family *f3 = open_family(m, p2, 16, FG_SHM_REPLACED);
    key_calls(f1, p1, "late", 2, 1);
    fg_shared_family_totals t3;
    fg_shared_family_totals_get(f3, &t3);
    assert_int_equal(t3.counters.failure, 5 + 2);
    assert_int_equal(t3.counters.success, 17);
    assert_int_equal(t3.keys, 0);
    fg_shared_family_totals_get(f1, &t1);
    assert_memory_equal(&t1.counters, &t3.counters, sizeof t1.counters);
    fg_shared_family_free(f3);
    fg_shared_family_free(f2);
    fg_shared_family_free(f1);
    fg_policy_free(p2);
    fg_policy_free(p1);
    fg_shm_release(m);
    unlink(path);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(calls_an_old_process_makes_after_a_replacement_reach_every_reader),
        cmocka_unit_test(over_a_chain_of_reloads_every_call_counts_once_and_no_reading_decreases),
        cmocka_unit_test(a_process_killed_while_it_makes_a_region_wedges_nothing_and_breaks_no_chain),
        cmocka_unit_test(keys_an_old_process_makes_after_a_replacement_count_in_every_family_reader),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
