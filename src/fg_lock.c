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

/* Pauses between two reads of a held lock: from FG_LOCK_FIRST_BACKOFF,
 * doubling up to FG_LOCK_MAX_BACKOFF. The first wait is long on purpose
 * (64 pauses: about 1.7 us on the AMD EPYC the benchmarks run on, where a
 * pause is 27 ns; 2-3 us on recent Intel cores), tens of critical
 * sections: the holder's next records then find the lock's line and the
 * window's lines in its own cache and run as a burst, so the lines cross
 * between cores once per burst rather than once per record. A short first
 * wait hands the lock over on nearly every record, and each hand-over
 * moves several lines: two threads on two cores then totalled about half
 * of one thread (`make bench`, contention line, builds run in alternation
 * on a quiet machine: 0.48-0.54 with a first wait of 1 pause, 0.90-0.97
 * with 16, 0.92-1.15 with 64, 0.90-1.06 with 128, and 0.44-0.57 with 256,
 * where both threads end up waiting at once). The price is fairness: a
 * record that finds the lock held waits a few microseconds. */
#define FG_LOCK_FIRST_BACKOFF 64u
#define FG_LOCK_MAX_BACKOFF 256u
/* Rounds of spinning (each up to FG_LOCK_MAX_BACKOFF pauses) before each
 * yield: a few microseconds, longer than any critical section that runs. */
#define FG_LOCK_SPIN_ROUNDS 32u
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
    if (pid <= 0 || (word & 1u) == 0) return 0;
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

void fg_lock_acquire_slow(fg_lock *l, uint64_t tag, fg_lock_repair_fn repair, void *ud) {
    unsigned backoff = FG_LOCK_FIRST_BACKOFF, rounds = 0, yields = 0;
    for (;;) {
        uint64_t seen;
        while ((seen = atomic_load_explicit(l, memory_order_relaxed)) != 0) {
            for (unsigned i = 0; i < backoff; i++) FG_CPU_RELAX();
            if (backoff < FG_LOCK_MAX_BACKOFF) backoff <<= 1;
            if (++rounds < FG_LOCK_SPIN_ROUNDS) continue;
            rounds = 0;
            sched_yield();
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
        }
        uint64_t expected = 0;
        if (atomic_compare_exchange_weak_explicit(l, &expected, tag, memory_order_acquire,
                                                  memory_order_relaxed))
            return;
    }
}
