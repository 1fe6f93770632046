/*
 * fg_lock.c -- the contended half of the block's spinlock (see fg_lock.h):
 * backoff, yielding, and taking a lock over from a dead owner.
 */
#define _GNU_SOURCE /* MADV_WIPEONFORK */
#include "fg_lock.h"

#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

/* FG_LOCK_RELAX_NONE (a build flag, -DFG_LOCK_RELAX_NONE) makes the
 * relax instruction nothing but a compiler barrier: a CPU whose `pause` or
 * `yield` is nearly free (older Intel cores, many ARM ones), simulated on
 * any machine, so that the backoff can be measured where pauses cost
 * nothing (HACKING.md, "Benchmarks"). */
#if defined(FG_LOCK_RELAX_NONE)
#define FG_CPU_RELAX() __asm__ __volatile__("" ::: "memory")
#elif defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>
#define FG_CPU_RELAX() _mm_pause()
#elif defined(__aarch64__)
#define FG_CPU_RELAX() __asm__ __volatile__("yield")
#else
#define FG_CPU_RELAX() ((void)0)
#endif

/* How long a waiter leaves a held lock alone before it looks again: from
 * FG_LOCK_FIRST_WAIT_NS, doubling up to FG_LOCK_MAX_WAIT_NS, measured on
 * the clock rather than counted in `pause`s (64 pauses were 1.7 us on the
 * machine the benchmarks run on, 0.2-0.6 us where a pause is 10 cycles --
 * older Intel cores -- and next to nothing where `yield` is: many ARM
 * cores). The waits are long on purpose: a whole call takes 25 ns there,
 * 11 of them outside the lock, so a wait is hundreds of critical sections,
 * which the holder runs as a burst with the lock's line and the window's
 * in its own cache; the lines cross between cores once per burst, not once
 * per record. Each hand-over costs a fixed 100-150 ns of throughput (the
 * lines moving, the loser's failed attempt, the waiter's looks), and a
 * waiter has nothing else to do meanwhile (its record returns the verdict),
 * so two threads total about 1 - (that cost / burst) of one thread: the
 * `make bench` contention line, runs where both threads had a core,
 * medians of 16-34 rounds alternating the builds: first wait 0.5 us 0.90,
 * 1.5 us 0.95-0.96, 3 us 0.97-0.98, 6 us 0.98-0.99 (0.985 with the relax
 * instruction compiled out, FG_LOCK_RELAX_NONE), 12 us 0.994; 64 pauses
 * 0.38-0.44 (single runs 0.24-0.55). Per record that waits, the price of
 * longer bursts is latency: 6 us and more, at most some 40 us before a
 * yield. */
#define FG_LOCK_FIRST_WAIT_NS 6000u
#define FG_LOCK_MAX_WAIT_NS 24000u
/* Waiting before each yield (checked after each wait, so the first yield
 * comes after 6 + 12 + 24 us): far longer than any critical section that
 * runs, so a holder that takes this long was preempted -- four threads on
 * two cores, or other load on the machine -- and a yield lets it run. A
 * yield with nothing else to run returns in about a microsecond. (With
 * 6 us waits, 20 us and 100 us read the same: four threads on two cores
 * 40.4 and 39.6 M calls/s.) */
#define FG_LOCK_SPIN_NS 20000u
/* Yields between two looks at whether the owner still lives: the look is a
 * /proc read (a few microseconds), and a live owner that was preempted
 * needs a time slice or two anyway. */
#define FG_LOCK_YIELDS_PER_CHECK 64u

enum { FG_LOCK_INCARNATION_MASK = 0x7fffffff };

uint64_t fg_lock_owner_tag(void) {
    return ((uint64_t)(uint32_t)getpid() << 32) | 1u;
}

/* What /proc/<pid>/stat says: 1 and *state, *start (the start time in
 * clock ticks since boot), or 0 when it cannot be read. No stdio: nothing
 * allocates. */
static int fg_lock_proc_stat(long pid, char *state, unsigned long long *start) {
    char path[48];
    if (pid > 0) snprintf(path, sizeof path, "/proc/%ld/stat", pid);
    else snprintf(path, sizeof path, "/proc/self/stat");
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) return 0;
    char buf[1024];
    ssize_t n = read(fd, buf, sizeof buf - 1);
    close(fd);
    if (n <= 0) return 0;
    buf[n] = '\0';
    /* "pid (comm) S ppid ...": comm may hold spaces and parentheses */
    char *p = strrchr(buf, ')');
    if (p == NULL || p[1] != ' ') return 0;
    p += 2;
    *state = *p;
    /* field 3 is the state; the start time is field 22 */
    for (int field = 3; field < 22; field++) {
        p = strchr(p, ' ');
        if (p == NULL) return 0;
        p++;
    }
    unsigned long long v = 0;
    int digits = 0;
    for (; *p >= '0' && *p <= '9'; p++, digits++) v = v * 10u + (unsigned)(*p - '0');
    if (digits == 0) return 0;
    *start = v;
    return 1;
}

uint64_t fg_lock_owner_refresh(const fg_lock_owner *o) {
    uint64_t tag = fg_lock_owner_tag();
    char state;
    unsigned long long start;
    if (fg_lock_proc_stat(0, &state, &start)) tag |= (uint64_t)(start & FG_LOCK_INCARNATION_MASK) << 1;
    if (o->wipes) atomic_store_explicit(o->cell, tag, memory_order_relaxed);
    return tag;
}

static size_t fg_lock_page_size(void) {
    long page = sysconf(_SC_PAGESIZE);
    return page > 0 ? (size_t)page : 4096u;
}

int fg_lock_owner_map(fg_lock_owner *o) {
    o->cell = NULL;
    o->wipes = 0;
    void *p = mmap(NULL, fg_lock_page_size(), PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS,
                   -1, 0);
    if (p == MAP_FAILED) return -1;
    o->cell = p;
    atomic_init(o->cell, 0);
#ifdef MADV_WIPEONFORK
    o->wipes = madvise(p, fg_lock_page_size(), MADV_WIPEONFORK) == 0;
#endif
    return 0;
}

void fg_lock_owner_unmap(fg_lock_owner *o) {
    if (o->cell != NULL) munmap((void *)o->cell, fg_lock_page_size());
    o->cell = NULL;
}

int fg_lock_owner_dead(uint64_t word) {
    long pid = (long)(word >> 32);
    if (word == 0) return 0; /* free */
    /* Every holder writes a tag (pid << 32 | incarnation << 1 | 1) with a
     * pid that is a pid_t > 0. Any other word was written by no process --
     * a corrupted shared zone file -- and no process will ever clear it:
     * waiting for it would wedge every user of the block. (Nor may it reach
     * kill(): a pid past INT32_MAX turns negative as a pid_t, and kill(-n, 0)
     * asks about a process group, kill(-1, 0) about every process.) */
    if ((word & 1u) == 0 || pid <= 0 || pid > 0x7fffffffL) return 1;
    if (pid == (long)getpid()) return 0; /* another thread of ours: alive */
    uint64_t incarnation = (word >> 1) & FG_LOCK_INCARNATION_MASK;
    char state;
    unsigned long long start;
    if (fg_lock_proc_stat(pid, &state, &start)) {
        /* A zombie or a dying process holds nothing any more; a pid that
         * started at another time is another process (the pid was reused). */
        if (state == 'Z' || state == 'X' || state == 'x') return 1;
        if (incarnation != 0 && (start & FG_LOCK_INCARNATION_MASK) != incarnation) return 1;
        return 0;
    }
    /* No /proc (or the entry just went): ask the kernel. EPERM: it lives. */
    return kill((pid_t)pid, 0) == -1 && errno == ESRCH;
}

/* The waiter's clock: CLOCK_MONOTONIC in nanoseconds (a vDSO read, some
 * 20 ns). *now only moves forward; a failed read (none is expected) counts
 * as 100 ns, so that every wait still ends. */
static void fg_lock_tick(uint64_t *now) {
    struct timespec ts;
    if (clock_gettime(CLOCK_MONOTONIC, &ts) == 0) {
        uint64_t t = (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
        if (t > *now) *now = t;
        return;
    }
    *now += 100u;
}

void fg_lock_acquire_slow(fg_lock *l, uint64_t tag, uint64_t seen, fg_lock_repair_fn repair,
                          void *ud) {
    uint64_t now = 0;
    fg_lock_tick(&now);
    uint64_t wait = FG_LOCK_FIRST_WAIT_NS, spun_since = now;
    unsigned yields = 0;
    for (;;) {
        /* seen: the word as last read. Held: wait before looking again,
         * also right after the fast path found it held -- taking the lock
         * the moment its holder lets go of it would hand it (and the lines
         * it guards) back and forth on every record (with an immediate look,
         * up to a third of the bursts of two threads on one breaker were a
         * single record in some runs; without it 1-2 % in every run). 0:
         * the compare-and-swap failed
         * spuriously (load-linked/store-conditional CPUs), try again. */
        while (seen != 0) {
            /* Wait without reading the word (each read shares its line:
             * the holder's next write must fetch it back), until the clock
             * says so. */
            uint64_t until = now + wait;
            do {
                FG_CPU_RELAX();
                fg_lock_tick(&now);
            } while (now < until);
            if (wait < FG_LOCK_MAX_WAIT_NS) wait <<= 1;
            seen = atomic_load_explicit(l, memory_order_relaxed);
            if (seen == 0 || now - spun_since < FG_LOCK_SPIN_NS) continue;
            sched_yield();
            fg_lock_tick(&now);
            spun_since = now;
            if (++yields < FG_LOCK_YIELDS_PER_CHECK) continue;
            yields = 0;
            if (!fg_lock_owner_dead(seen)) continue;
            /* Only the word the dead owner wrote is replaced: if anyone
             * took the lock over first, this fails and we wait for them. */
            uint64_t expected = seen;
            if (atomic_compare_exchange_strong_explicit(l, &expected, tag, memory_order_acquire,
                                                        memory_order_relaxed)) {
                if (repair != NULL) repair(ud);
                return;
            }
            seen = expected;
        }
        uint64_t expected = 0;
        if (atomic_compare_exchange_weak_explicit(l, &expected, tag, memory_order_acquire,
                                                  memory_order_relaxed))
            return;
        seen = expected;
    }
}
