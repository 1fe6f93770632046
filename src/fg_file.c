/*
 * fg_file.c -- reading a whole file under a size limit, for fg_policy_load
 * (and for the tests that read the documentation they check).
 */
#include <errno.h>
#include <stdio.h>
#include <sys/stat.h>

#include "fg_alloc.h"
#include "fg_file.h"

char *fg_read_file(const char *path, const fg_allocator *alloc, size_t max, size_t *size,
                   size_t *cap) {
    FILE *f = fopen(path, "rb");
    *size = *cap = 0;
    if (f == NULL) return NULL;
    /* fopen opens a directory for reading, and seeking to its end gives a huge
     * or arbitrary offset: say what it is rather than "too large". */
    struct stat st;
    if (fstat(fileno(f), &st) == 0 && S_ISDIR(st.st_mode)) {
        fclose(f);
        errno = EISDIR;
        return NULL;
    }
    /* A regular file says its size: refuse a big one without reading it. */
    if (fseek(f, 0, SEEK_END) == 0) {
        long end = ftell(f);
        if (end > 0 && (unsigned long)end > max) {
            fclose(f);
            errno = EFBIG;
            return NULL;
        }
        rewind(f);
    } else {
        clearerr(f);
    }
    size_t n = 0, c = max < 8192 ? max + 1 : 8192;
    char *buf = fg_alloc_new(alloc, c);
    int e = buf == NULL ? ENOMEM : 0;
    while (buf != NULL) {
        if (n == c) {
            if (c > max) { /* max + 1 bytes read: one too many */
                e = EFBIG;
                break;
            }
            size_t grow = c > (max + 1) / 2 ? max + 1 : c * 2;
            char *grown = fg_alloc_grow(alloc, buf, c, grow);
            if (grown == NULL) {
                e = ENOMEM;
                break;
            }
            buf = grown;
            c = grow;
        }
        size_t got = fread(buf + n, 1, c - n, f);
        n += got;
        if (got == 0) {
            if (ferror(f)) e = errno ? errno : EIO;
            break;
        }
    }
    fclose(f);
    if (e != 0) {
        fg_alloc_free(alloc, buf, c);
        errno = e;
        return NULL;
    }
    buf[n] = '\0'; /* the loop leaves n < c: a read of 0 bytes ends it */
    *size = n;
    *cap = c;
    return buf;
}

