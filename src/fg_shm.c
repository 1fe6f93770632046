/*
 * fg_shm.c -- the shared map: file, flock life cycle, directory of named
 * regions (see fg_shm.h).
 */
#define _GNU_SOURCE /* flock */
#include "fg_shm.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/file.h>
#include <sys/mman.h>
#include <sys/stat.h>
#ifdef __linux__
#include <sys/sysmacros.h> /* major, minor (elsewhere in sys/types.h) */
#endif
#include <unistd.h>

#include "fg_alloc.h"
#include "fg_self_maps.h"

#define FG_SHM_MAGIC UINT64_C(0x3130304d48534746) /* "FGSHM001" little-endian */
#define FG_SHM_MAX_SIZE ((size_t)1 << 32)         /* regions are addressed in 32 bits elsewhere */

enum { FG_SHM_FREE = 0, FG_SHM_LIVE = 1, FG_SHM_RETIRED = 2 };

typedef struct fg_shm_entry {
    _Atomic uint32_t state; /* stored last (release) when an entry is made, under the lock */
    uint32_t kind;
    uint64_t fingerprint;
    uint64_t offset; /* from the map's start */
    uint64_t size;
    uint32_t name_len;
    char name[FG_SHM_NAME_MAX];
    /* 1 + the index of the entry this region replaced (its predecessor in
     * the chain, fg_shm.h), 0: none. Written before state. Zero in maps
     * made before chains: such regions start chains of their own. */
    uint32_t pred;
    uint8_t pad[256 - 40 - FG_SHM_NAME_MAX];
} fg_shm_entry;
_Static_assert(sizeof(fg_shm_entry) == 256, "directory entries are 256 bytes");

typedef struct fg_shm_header {
    uint64_t magic;
    uint64_t size;  /* the file's size when it was made */
    uint64_t used;  /* bump allocation: the next free byte */
    uint64_t pidns; /* the PID namespace's inode (0: unknown) */
    fg_lock lock;   /* the directory and the allocation */
    uint8_t pad[24];
    fg_shm_entry entries[FG_SHM_ENTRIES];
} fg_shm_header;

struct fg_shm {
    fg_shm_header *h;
    size_t size; /* mapped bytes */
    int fd;      /* holds the shared flock while the map is in use */
    _Atomic int refs;
    fg_lock_owner owner;
    fg_allocator alloc;
};

static void fg_shm_error(char *err, size_t cap, const char *fmt, ...) {
    if (err == NULL || cap == 0) return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err, cap, fmt, ap);
    va_end(ap);
}

static uint64_t fg_shm_pidns(void) {
    struct stat st;
    return stat("/proc/self/ns/pid", &st) == 0 ? (uint64_t)st.st_ino : 0;
}

static size_t fg_shm_align(size_t n) {
    return (n + FG_SHM_ALIGN - 1) & ~(size_t)(FG_SHM_ALIGN - 1);
}

/* fg_self_maps_each's callback: 1 at a mapping of the file st describes. */
static int fg_shm_maps_file(const fg_map_line *line, void *ud) {
    const struct stat *st = ud;
    return line->inode == (unsigned long long)st->st_ino && line->major == major(st->st_dev) &&
           line->minor == minor(st->st_dev);
}

/* 1 when this process maps the file st describes already, 0 when not, -1
 * when /proc/self/maps cannot be read. Once per fg_shm_open of a map in
 * use, never on a call's path. */
static int fg_shm_mapped_here(const struct stat *st) {
    return fg_self_maps_each(fg_shm_maps_file, (void *)st);
}

/* Empties the file and writes a fresh header. We hold the flock exclusively. */
static int fg_shm_format(int fd, size_t size) {
    if (ftruncate(fd, 0) != 0 || ftruncate(fd, (off_t)size) != 0) return -1;
    return 0;
}

fg_shm *fg_shm_open(const char *path, size_t size, const fg_allocator *alloc, int *fresh,
                    char *err, size_t cap) {
    *fresh = 0;
    size_t least = fg_shm_align(sizeof(fg_shm_header)) + 4096;
    if (size < least || size > FG_SHM_MAX_SIZE) {
        fg_shm_error(err, cap, "a shared zone's size must be from %zu bytes to 4 GiB, not %zu", least, size);
        return NULL;
    }
    int fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
    if (fd < 0) {
        fg_shm_error(err, cap, "cannot open the shared zone file %s: %s", path, strerror(errno));
        return NULL;
    }
    struct stat st;
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode) || st.st_uid != geteuid()) {
        fg_shm_error(err, cap, "the shared zone file %s is not a regular file of this user", path);
        close(fd);
        return NULL;
    }
    int initialise = 0;
    if (flock(fd, LOCK_EX | LOCK_NB) == 0) {
        /* Nobody uses it: start afresh. Then keep it shared, like everyone. */
        if (fg_shm_format(fd, size) != 0) {
            fg_shm_error(err, cap, "cannot size the shared zone file %s to %zu bytes: %s", path, size,
                         strerror(errno));
            close(fd);
            return NULL;
        }
        initialise = 1;
    } else if (flock(fd, LOCK_SH) != 0) {
        fg_shm_error(err, cap, "cannot lock the shared zone file %s: %s", path, strerror(errno));
        close(fd);
        return NULL;
    }
    if (fstat(fd, &st) != 0) st.st_size = 0;
    size_t have = (size_t)st.st_size;
    /* before this opening maps it: a reload's master maps it through the old VM */
    int foreign = !initialise && fg_shm_mapped_here(&st) == 0;
    if (!initialise && have < size) {
        fg_shm_error(err, cap,
                     "the shared zone file %s is in use with %zu bytes, fewer than the %zu asked for: "
                     "restart (not reload) to resize it",
                     path, have, size);
        close(fd);
        return NULL;
    }
    size_t length = initialise ? size : have;
    void *p = mmap(NULL, length, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    if (p == MAP_FAILED) {
        fg_shm_error(err, cap, "cannot map the shared zone file %s: %s", path, strerror(errno));
        close(fd);
        return NULL;
    }
    fg_shm_header *h = p;
    uint64_t pidns = fg_shm_pidns();
    if (initialise) {
        /* the file is all zeroes (ftruncate) */
        h->size = length;
        h->used = fg_shm_align(sizeof(fg_shm_header));
        h->pidns = pidns;
        fg_lock_init(&h->lock);
        atomic_thread_fence(memory_order_release);
        h->magic = FG_SHM_MAGIC;
        flock(fd, LOCK_SH); /* from exclusive: nobody else can have it meanwhile but a racer */
    } else if (h->magic != FG_SHM_MAGIC || h->size != length || h->used > length ||
               h->used < fg_shm_align(sizeof(fg_shm_header))) {
        fg_shm_error(err, cap, "the shared zone file %s is in use but holds no fluxgate zone of this version", path);
        munmap(p, length);
        close(fd);
        return NULL;
    } else if (h->pidns != 0 && pidns != 0 && h->pidns != pidns) {
        fg_shm_error(err, cap,
                     "the shared zone file %s is used from another PID namespace (its locks name "
                     "processes by pid): give each namespace its own zone",
                     path);
        munmap(p, length);
        close(fd);
        return NULL;
    }
    fg_allocator a = fg_alloc_resolve(alloc);
    fg_shm *m = fg_alloc_new(&a, sizeof *m);
    if (m == NULL || fg_lock_owner_map(&m->owner) != 0) {
        if (m != NULL) fg_alloc_free(&a, m, sizeof *m);
        fg_shm_error(err, cap, "out of memory");
        munmap(p, length);
        close(fd);
        return NULL;
    }
    m->h = h;
    m->size = length;
    m->fd = fd;
    atomic_init(&m->refs, 1);
    m->alloc = a;
    *fresh = initialise ? FG_SHM_OPEN_FRESH : foreign ? FG_SHM_OPEN_FOREIGN : FG_SHM_OPEN_ATTACHED;
    return m;
}

void fg_shm_retain(fg_shm *m) {
    atomic_fetch_add_explicit(&m->refs, 1, memory_order_relaxed);
}

void fg_shm_release(fg_shm *m) {
    if (m == NULL || atomic_fetch_sub_explicit(&m->refs, 1, memory_order_acq_rel) != 1) return;
    munmap(m->h, m->size);
    close(m->fd); /* drops our share of the flock (children keep theirs) */
    fg_lock_owner_unmap(&m->owner);
    fg_allocator a = m->alloc;
    fg_alloc_free(&a, m, sizeof *m);
}

int fg_shm_same_file(const fg_shm *a, const fg_shm *b) {
    struct stat sa, sb;
    if (a == b) return 1;
    if (fstat(a->fd, &sa) != 0 || fstat(b->fd, &sb) != 0) return 0;
    return sa.st_dev == sb.st_dev && sa.st_ino == sb.st_ino;
}

const fg_lock_owner *fg_shm_owner(const fg_shm *m) {
    return &m->owner;
}

size_t fg_shm_size(const fg_shm *m) {
    return m->size;
}

size_t fg_shm_used(const fg_shm *m) {
    return (size_t)m->h->used;
}

/* A region as a directory entry places it: read once, then checked (a
 * file someone else writes while we read could change a field between a
 * check and its use). */
typedef struct fg_shm_place {
    uint64_t offset, size;
} fg_shm_place;

/* Whether e's region lies inside the map and starts on a cache line (a
 * file someone else wrote could say anything: a region off the line would
 * have its blocks' 64-bit atomics misaligned). Fills *at. */
static int fg_shm_entry_sane(const fg_shm *m, const fg_shm_entry *e, fg_shm_place *at) {
    at->offset = __atomic_load_n(&e->offset, __ATOMIC_RELAXED);
    at->size = __atomic_load_n(&e->size, __ATOMIC_RELAXED);
    uint32_t name_len = __atomic_load_n(&e->name_len, __ATOMIC_RELAXED);
    return name_len <= FG_SHM_NAME_MAX && at->offset >= fg_shm_align(sizeof(fg_shm_header)) &&
           at->offset % FG_SHM_ALIGN == 0 && at->size <= m->size &&
           at->offset <= m->size - at->size;
}

static int fg_shm_same_name(const fg_shm_entry *a, const fg_shm_entry *b) {
    /* each length read once: compared, bounded, then used */
    uint32_t n = __atomic_load_n(&a->name_len, __ATOMIC_RELAXED);
    return n == __atomic_load_n(&b->name_len, __ATOMIC_RELAXED) && n <= FG_SHM_NAME_MAX &&
           memcmp(a->name, b->name, n) == 0;
}

/* The entry an entry names as its predecessor, or NULL (none, or nothing a
 * region of the same name and kind: a file someone else wrote). */
static fg_shm_entry *fg_shm_pred(fg_shm_header *h, const fg_shm_entry *e) {
    uint32_t p = __atomic_load_n(&e->pred, __ATOMIC_RELAXED);
    if (p == 0 || p > FG_SHM_ENTRIES || &h->entries[p - 1] == e) return NULL;
    fg_shm_entry *q = &h->entries[p - 1];
    return q->kind == e->kind && fg_shm_same_name(q, e) ? q : NULL;
}

/* A process killed in fg_shm_region between publishing a region and
 * retiring the one it replaced leaves both live: retire the predecessor,
 * as it would have (else the next replacement could pick it and fork the
 * chain). Lock held. */
static void fg_shm_finish_retirements(fg_shm_header *h) {
    for (int i = 0; i < FG_SHM_ENTRIES; i++) {
        fg_shm_entry *e = &h->entries[i];
        if (atomic_load_explicit(&e->state, memory_order_relaxed) != FG_SHM_LIVE) continue;
        fg_shm_entry *q = fg_shm_pred(h, e);
        if (q != NULL && atomic_load_explicit(&q->state, memory_order_relaxed) == FG_SHM_LIVE)
            atomic_store_explicit(&q->state, FG_SHM_RETIRED, memory_order_relaxed);
    }
}

void *fg_shm_region(fg_shm *m, const char *name, uint32_t kind, uint64_t fingerprint, size_t size,
                    fg_shm_init_fn init, void *ud, int *status, char *err, size_t cap) {
    size_t len = strlen(name);
    if (len > FG_SHM_NAME_MAX) {
        fg_shm_error(err, cap, "the name '%.40s...' is longer than %d bytes (a shared zone's limit)", name,
                     FG_SHM_NAME_MAX);
        return NULL;
    }
    fg_shm_header *h = m->h;
    char *base = (char *)h;
    fg_lock_acquire(&h->lock, fg_lock_owner_get(&m->owner));
    fg_shm_finish_retirements(h);
    fg_shm_entry *old = NULL, *free_entry = NULL;
    void *found = NULL;
    int damaged = 0; /* entries in no state this code writes: a damaged file */
    for (int i = 0; i < FG_SHM_ENTRIES; i++) {
        fg_shm_entry *e = &h->entries[i];
        uint32_t state = atomic_load_explicit(&e->state, memory_order_relaxed);
        if (state == FG_SHM_FREE) {
            if (free_entry == NULL) free_entry = e;
            continue;
        }
        if (state > FG_SHM_RETIRED) damaged++;
        fg_shm_place place;
        if (state != FG_SHM_LIVE || e->kind != kind || !fg_shm_entry_sane(m, e, &place) ||
            e->name_len != len || memcmp(e->name, name, len) != 0)
            continue;
        if (e->fingerprint == fingerprint && place.size == size) {
            found = base + place.offset;
            *status = FG_SHM_ATTACHED;
            break;
        }
        old = e;
    }
    if (found == NULL) {
        /* read once: a used size below the header would place the region
         * over the directory (and the lock we hold) */
        uint64_t used = h->used;
        int used_bad = used > m->size || used < fg_shm_align(sizeof(fg_shm_header));
        size_t at = used_bad ? 0 : fg_shm_align((size_t)used);
        /* Not "full" when the file was damaged (another program wrote into
         * it): that would send its user after a larger size, in vain. */
        if ((free_entry == NULL && damaged > 0) || used_bad) {
            const char *past = used > m->size ? ", its used size is past its end"
                               : used_bad ? ", its used size is inside its directory" : "";
            fg_shm_error(err, cap,
                         "the shared zone file is damaged (%d of %d directory entries are no "
                         "region%s): it starts afresh once no process uses it (a restart)",
                         damaged, FG_SHM_ENTRIES, past);
        } else if (free_entry == NULL) {
            fg_shm_error(err, cap, "the shared zone is full: its directory holds %d regions (replaced "
                         "definitions included until a restart)", FG_SHM_ENTRIES);
        } else if (size > m->size || at > m->size - size) {
            fg_shm_error(err, cap, "the shared zone is full: %zu of %zu bytes used, '%s' needs %zu more: "
                         "give the zone a larger size (a restart applies it)",
                         (size_t)used, m->size, name, size);
        } else {
            void *region = base + at;
            memset(region, 0, size);
            if (init(ud, region, size) == 0) {
                free_entry->kind = kind;
                free_entry->fingerprint = fingerprint;
                free_entry->offset = at;
                free_entry->size = size;
                free_entry->name_len = (uint32_t)len;
                memcpy(free_entry->name, name, len);
                free_entry->pred = old != NULL ? (uint32_t)(old - h->entries) + 1 : 0;
                h->used = at + size;
                /* Published first, then the old one retired: a process
                 * killed between the two leaves both live, which the next
                 * call mends (fg_shm_finish_retirements); the other order
                 * would leave no live region, and the next one would start
                 * a chain of its own, its totals without the old counts. */
                atomic_store_explicit(&free_entry->state, FG_SHM_LIVE, memory_order_release);
                if (old != NULL)
                    atomic_store_explicit(&old->state, FG_SHM_RETIRED, memory_order_relaxed);
                found = region;
                *status = old != NULL ? FG_SHM_REPLACED : FG_SHM_CREATED;
            }
        }
    }
    fg_lock_release(&h->lock);
    return found;
}

size_t fg_shm_chain(const fg_shm *m, const void *region, uint32_t kind, fg_shm_span *out,
                    size_t cap) {
    fg_shm_header *h = m->h;
    const char *base = (const char *)h;
    if ((const char *)region < base || (const char *)region >= base + m->size) return 0;
    uint64_t at = (uint64_t)((const char *)region - base);
    /* One look at the directory: which entries hold regions of this kind,
     * each one's predecessor, each one's successor (the entry that names it
     * as its predecessor). Entries only ever become live, then retired, and
     * keep their fields: a region published after this look is a newer head
     * that the next reading sees. */
    uint64_t usable = 0;
    int self = -1;
    fg_shm_place place[FG_SHM_ENTRIES]; /* each region as checked: used as such below */
    for (int i = 0; i < FG_SHM_ENTRIES; i++) {
        const fg_shm_entry *e = &h->entries[i];
        uint32_t state = atomic_load_explicit(&((fg_shm_entry *)e)->state, memory_order_acquire);
        if ((state != FG_SHM_LIVE && state != FG_SHM_RETIRED) ||
            __atomic_load_n(&e->kind, __ATOMIC_RELAXED) != kind ||
            !fg_shm_entry_sane(m, e, &place[i]))
            continue;
        usable |= UINT64_C(1) << i;
        if (place[i].offset == at) self = i;
    }
    if (self < 0) return 0;
    int pred[FG_SHM_ENTRIES], succ[FG_SHM_ENTRIES];
    for (int i = 0; i < FG_SHM_ENTRIES; i++) pred[i] = succ[i] = -1;
    for (int i = 0; i < FG_SHM_ENTRIES; i++) {
        if (!(usable >> i & 1)) continue;
        const fg_shm_entry *q = fg_shm_pred(h, &h->entries[i]);
        int p = q != NULL ? (int)(q - h->entries) : -1;
        if (p < 0 || !(usable >> p & 1)) continue;
        pred[i] = p;
        if (succ[p] < 0) succ[p] = i; /* (two successors only in a file someone else wrote) */
    }
    /* forward to the newest, then back to the oldest; each entry once */
    int head = self;
    uint64_t seen = UINT64_C(1) << self;
    while (succ[head] >= 0 && !(seen >> succ[head] & 1)) {
        head = succ[head];
        seen |= UINT64_C(1) << head;
    }
    size_t n = 0;
    seen = 0;
    for (int i = head; i >= 0 && !(seen >> i & 1) && n < cap; i = pred[i]) {
        seen |= UINT64_C(1) << i;
        out[n].region = base + place[i].offset;
        out[n].size = (size_t)place[i].size;
        n++;
    }
    return n;
}

size_t fg_shm_heads(const fg_shm *m, uint32_t kind, fg_shm_head *out, size_t cap) {
    fg_shm_header *h = m->h;
    /* Entries another one names as its predecessor are no heads, live or
     * not: a process killed in fg_shm_region between publishing a region
     * and retiring the one it replaced leaves both live (until the next
     * call mends it), and the older one's state is not the name's. */
    uint64_t replaced = 0;
    for (int i = 0; i < FG_SHM_ENTRIES; i++) {
        const fg_shm_entry *e = &h->entries[i];
        uint32_t state = atomic_load_explicit(&((fg_shm_entry *)e)->state, memory_order_acquire);
        fg_shm_place place;
        if ((state != FG_SHM_LIVE && state != FG_SHM_RETIRED) ||
            __atomic_load_n(&e->kind, __ATOMIC_RELAXED) != kind || !fg_shm_entry_sane(m, e, &place))
            continue;
        const fg_shm_entry *q = fg_shm_pred(h, e);
        if (q != NULL) replaced |= UINT64_C(1) << (q - h->entries);
    }
    size_t n = 0;
    for (int i = 0; i < FG_SHM_ENTRIES && n < cap; i++) {
        const fg_shm_entry *e = &h->entries[i];
        fg_shm_place place;
        if ((replaced >> i & 1) ||
            atomic_load_explicit(&((fg_shm_entry *)e)->state, memory_order_acquire) != FG_SHM_LIVE ||
            __atomic_load_n(&e->kind, __ATOMIC_RELAXED) != kind || !fg_shm_entry_sane(m, e, &place))
            continue;
        /* the length read once, bounded, then used (a file someone else wrote) */
        uint32_t len = __atomic_load_n(&e->name_len, __ATOMIC_RELAXED);
        if (len > FG_SHM_NAME_MAX) continue;
        memcpy(out[n].name, e->name, len);
        out[n].name[len] = '\0';
        if (strlen(out[n].name) != len) continue; /* a NUL inside: no name this code wrote */
        out[n].span.region = (const char *)h + place.offset;
        out[n].span.size = (size_t)place.size;
        n++;
    }
    return n;
}

fg_shm *fg_shm_of_owner(const fg_lock_owner *owner) {
    return (fg_shm *)((char *)owner - offsetof(fg_shm, owner));
}
