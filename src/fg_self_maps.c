/*
 * fg_self_maps.c -- the lines of /proc/self/maps (see fg_self_maps.h).
 */
#define _GNU_SOURCE /* O_CLOEXEC under -D_POSIX_C_SOURCE */
#include "fg_self_maps.h"

#include <fcntl.h>
#include <stdio.h>
#include <unistd.h>

/* One line, "start-end perms offset major:minor inode path": 1 when parsed. */
static int fg_self_maps_parse(const char *text, fg_map_line *line) {
    unsigned long long start, end;
    if (sscanf(text, "%llx-%llx %*s %*s %x:%x %llu", &start, &end, &line->major, &line->minor,
               &line->inode) != 5)
        return 0;
    line->start = (uintptr_t)start;
    line->end = (uintptr_t)end;
    return 1;
}

/* Whether a line ends with the kernel's " (deleted)" (its last bytes are
 * in tail[0..n), oldest first, n <= sizeof FG_DELETED - 1). */
#define FG_DELETED " (deleted)"
static int fg_self_maps_deleted(const char *tail, size_t n) {
    size_t want = sizeof FG_DELETED - 1;
    if (n < want) return 0;
    for (size_t i = 0; i < want; i++)
        if (tail[i] != FG_DELETED[i]) return 0;
    return 1;
}

/* Read in pieces into fixed buffers; only a line's first 127 bytes and its
 * last 10 matter (the path, which may be longer, is not read: only whether
 * it ends in " (deleted)"). */
int fg_self_maps_each(int (*fn)(const fg_map_line *line, void *ud), void *ud) {
    int fd = open("/proc/self/maps", O_RDONLY | O_CLOEXEC);
    if (fd < 0) return -1;
    char buf[4096], text[128], tail[sizeof FG_DELETED - 1];
    size_t len = 0, tlen = 0;
    int answer = 0;
    ssize_t n;
    while (answer == 0 && (n = read(fd, buf, sizeof buf)) > 0) {
        for (ssize_t i = 0; i < n && answer == 0; i++) {
            if (buf[i] != '\n') {
                if (len < sizeof text - 1) text[len++] = buf[i];
                if (tlen == sizeof tail) {
                    for (size_t k = 1; k < sizeof tail; k++) tail[k - 1] = tail[k];
                    tlen--;
                }
                tail[tlen++] = buf[i];
                continue;
            }
            text[len] = '\0';
            fg_map_line line;
            if (fg_self_maps_parse(text, &line)) {
                line.deleted = fg_self_maps_deleted(tail, tlen);
                answer = fn(&line, ud);
            }
            len = tlen = 0;
        }
    }
    close(fd);
    return answer != 0 ? answer : n < 0 ? -1 : 0;
}
