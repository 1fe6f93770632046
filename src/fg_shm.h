/*
 * fg_shm.h -- a shared map: a file (in /dev/shm or another directory)
 * mapped MAP_SHARED, holding a directory of named regions (breaker blocks,
 * family tables) that every process mapping it sees at the same offsets.
 * Internal: the Lua binding's shared breakers and families use it.
 *
 * Life cycle, decided by flock(2) on the file, which every process using
 * the map holds shared (a lock that fork's children share, through the
 * inherited descriptor, until the last of them exits):
 *   - nobody holds it (a first start, or every user is gone): the file is
 *     emptied and initialised afresh -- a restart starts clean, and the
 *     space of replaced definitions comes back;
 *   - somebody holds it (an nginx reload: the old Lua VM and the old
 *     workers): it is attached as it is. (`nginx -t` does not run
 *     init_by_lua, so it never opens the map.) When the opening process
 *     does not map the file already -- in a reload the master still maps
 *     it through the old Lua VM -- the holders are processes it did not
 *     start: another nginx instance given the same zone (the default one,
 *     say), or an instance still draining. fg_shm_open says so
 *     (FG_SHM_OPEN_FOREIGN) so that the binding can warn: the instances
 *     would share their breakers, and each one's reload with a changed
 *     definition would replace the other's block.
 * The file keeps its size once made: asking for a larger one while it is
 * in use is an error (restart to resize).
 *
 * Regions are allocated from the map once and never freed while anyone
 * uses the map: a replaced definition's block stays where it is (old
 * workers of a graceful reload may still use it) and is retired. When the
 * map is full, fg_shm_region fails with a message that says so.
 *
 * Chains. A region made to replace another (FG_SHM_REPLACED) names it as
 * its predecessor in its directory entry, so the regions of one name and
 * kind form a chain, oldest to newest (the head, the live one). After a
 * graceful reload with a changed definition the old workers still count
 * into the old region while the new ones count into the new: the totals
 * of the name are the sum over its whole chain, which any process can
 * read from any region of it (fg_shm_chain). Nothing is copied from one
 * region to the next, so a call counted anywhere counts once, and since
 * regions are never freed nor reused while the map is in use, a
 * predecessor stays readable as long as anyone could still count into it.
 * Readers take no lock: entries only become live, then retired, keeping
 * their fields; a region's counters only grow.
 *
 * All processes must be in one PID namespace (the lock's owner tags are
 * pids): the map records the namespace it was made in and refuses others.
 */
#ifndef FG_SHM_H
#define FG_SHM_H

#include <stddef.h>
#include <stdint.h>

#include "fg_lock.h"
#include "fluxgate.h"

typedef struct fg_shm fg_shm;

enum {
    FG_SHM_NAME_MAX = 200,   /* bytes of a region's name */
    FG_SHM_ENTRIES = 64,     /* regions in one map, retired ones included */
    FG_SHM_ALIGN = 64        /* every region starts on a cache line */
};

enum fg_shm_kind { FG_SHM_BREAKER = 1, FG_SHM_FAMILY = 2 };

enum fg_shm_status {
    FG_SHM_ATTACHED = 0, /* the region existed with this fingerprint */
    FG_SHM_CREATED = 1,  /* made now */
    FG_SHM_REPLACED = 2  /* made now; a region of another fingerprint had the name */
};

/* How fg_shm_open found the map (its *fresh). */
enum fg_shm_open_status {
    FG_SHM_OPEN_ATTACHED = 0, /* in use, and this process maps it already (a reload) */
    FG_SHM_OPEN_FRESH = 1,    /* nobody used it: (re)initialised */
    FG_SHM_OPEN_FOREIGN = 2   /* in use by processes this one did not start (see above) */
};

/* Opens (creating or re-initialising it as described above) the map at
 * path with at least `size` bytes. *fresh: an fg_shm_open_status (where
 * /proc/self/maps cannot be read, ATTACHED rather than FOREIGN).
 * Returns the map with one reference, or NULL and a message in err. */
fg_shm *fg_shm_open(const char *path, size_t size, const fg_allocator *alloc, int *fresh,
                    char *err, size_t cap);

/* References: the map is unmapped and closed when the last one goes. */
void fg_shm_retain(fg_shm *m);
void fg_shm_release(fg_shm *m);

/* Called under the map's lock for a region made now (zeroed memory of
 * `size` bytes), before any other process can see it. Returns 0, or -1 to
 * give up (the region is not kept). */
typedef int (*fg_shm_init_fn)(void *ud, void *region, size_t size);

/* The region (name, kind) with this fingerprint: the existing one, or a
 * new one of `size` bytes made by init (retiring a region of the same name
 * and kind but another fingerprint, which becomes its predecessor in the
 * chain). *status says which. NULL and a message in err when the map or
 * its directory is full or the name too long. Concurrent calls for the
 * same name get the same region. */
void *fg_shm_region(fg_shm *m, const char *name, uint32_t kind, uint64_t fingerprint, size_t size,
                    fg_shm_init_fn init, void *ud, int *status, char *err, size_t cap);

/* One region of a chain. */
typedef struct fg_shm_span {
    const void *region;
    size_t size;
} fg_shm_span;

/* The chain of the region that starts at `region` (of this kind), read
 * without a lock: out[0] is the newest region (the head), out[n - 1] the
 * oldest (the root, the same for every region of the chain for the map's
 * life). Returns n (at most cap; cap FG_SHM_ENTRIES holds any chain), or 0
 * when no region of this kind starts there. O(FG_SHM_ENTRIES): for
 * readers (metrics, info), never for calls. */
size_t fg_shm_chain(const fg_shm *m, const void *region, uint32_t kind, fg_shm_span *out,
                    size_t cap);

/* A live region (the head of its chain) as fg_shm_heads lists it. */
typedef struct fg_shm_head {
    char name[FG_SHM_NAME_MAX + 1]; /* NUL-terminated copy */
    fg_shm_span span;
} fg_shm_head;

/* The live regions of a kind (every chain's head), read without a lock:
 * what a reader that holds no handle on them finds in the map (the
 * metrics of a name whose last handle in this process is gone: counters
 * never decrease). A live region another names as its predecessor (left
 * live by a process killed while replacing it) is no head. Returns how
 * many, at most cap (FG_SHM_ENTRIES holds them all). O(FG_SHM_ENTRIES). */
size_t fg_shm_heads(const fg_shm *m, uint32_t kind, fg_shm_head *out, size_t cap);

/* Whether a and b map the same file (one opened through two spellings
 * of its path: a symlinked directory, "//"). */
int fg_shm_same_file(const fg_shm *a, const fg_shm *b);

/* The owner tag this process writes into locks in the map. */
const fg_lock_owner *fg_shm_owner(const fg_shm *m);

/* The map whose fg_shm_owner this is: a handle on a block in the map keeps
 * only that pointer (fg_breaker_set_zone), and no byte more, to find the
 * map when a reader asks for its chain. */
fg_shm *fg_shm_of_owner(const fg_lock_owner *owner);

/* Bytes of the map, and bytes allocated so far (header included). */
size_t fg_shm_size(const fg_shm *m);
size_t fg_shm_used(const fg_shm *m);

#endif /* FG_SHM_H */
