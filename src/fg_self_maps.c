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

/* Read in pieces into fixed buffers; only a line's first 127 bytes matter
 * (the path, which may be longer, is not read). */
int fg_self_maps_each(int (*fn)(const fg_map_line *line, void *ud), void *ud) {
    int fd = open("/proc/self/maps", O_RDONLY | O_CLOEXEC);
    if (fd < 0) return -1;
    char buf[4096], text[128];
    size_t len = 0;
    int answer = 0;
    ssize_t n;
    while (answer == 0 && (n = read(fd, buf, sizeof buf)) > 0) {
        for (ssize_t i = 0; i < n && answer == 0; i++) {
            if (buf[i] != '\n') {
                if (len < sizeof text - 1) text[len++] = buf[i];
                continue;
            }
            text[len] = '\0';
            len = 0;
            fg_map_line line;
            if (fg_self_maps_parse(text, &line)) answer = fn(&line, ud);
        }
    }
    close(fd);
    return answer != 0 ? answer : n < 0 ? -1 : 0;
}
