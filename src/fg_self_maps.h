/*
 * fg_self_maps.h -- the lines of /proc/self/maps, read without allocating:
 * which files this process maps, and where. Used where a process must tell
 * its own mappings from other processes' (fg_shm: a reload versus another
 * nginx instance; the Lua binding: a core.so replaced on disk since it was
 * loaded). Never on a call's path. Linux only: elsewhere it reads nothing.
 */
#ifndef FG_SELF_MAPS_H
#define FG_SELF_MAPS_H

#include <stdint.h>

typedef struct fg_map_line {
    uintptr_t start, end;     /* the mapped addresses, [start, end) */
    unsigned major, minor;    /* the file's device */
    unsigned long long inode; /* 0: no file */
    int deleted;              /* the kernel marks the path " (deleted)": the file
                                 mapped has no name any more (replaced or removed) */
} fg_map_line;

/* Calls fn for each line of /proc/self/maps until it returns nonzero, and
 * returns that value; 0 when every line was read, -1 when the file cannot
 * be read. */
int fg_self_maps_each(int (*fn)(const fg_map_line *line, void *ud), void *ud);

#endif
