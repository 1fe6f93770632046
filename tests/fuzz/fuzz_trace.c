/*
 * fuzz_trace.c -- libFuzzer harness for the `fluxgate simulate` trace reader
 * (cli/fg_trace.c): any bytes are read as a trace to the end or to the first
 * error. The input is not NUL-terminated, so an over-read is an ASan report.
 * Properties beyond "no crash": an error is sticky and names a line; rows come
 * in order, with times that never go backwards and sane fields.
 */
#include <math.h>
#include <stdint.h>
#include <stdlib.h>

#include "fg_trace.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    fg_trace_reader r;
    fg_trace_row row;
    char err[256];
    int err_line = 0, last_line = 0;
    double last_time = -INFINITY;
    fg_trace_init(&r, (const char *)data, size);
    for (;;) {
        int rc = fg_trace_next(&r, &row, &err_line, err, sizeof err);
        if (rc == 0) break;
        if (rc < 0) {
            if (err_line < 0 || err[0] == '\0') abort();
            /* sticky: the reader stays on its error */
            if (fg_trace_next(&r, &row, &err_line, err, sizeof err) != -1) abort();
            break;
        }
        if (rc != 1 || row.line <= last_line || row.time < last_time || !(row.duration >= 0))
            abort();
        if (row.kind == FG_TRACE_ERROR && (row.type == NULL || row.type_len == 0 ||
                                           row.type < (const char *)data ||
                                           row.type + row.type_len > (const char *)data + size))
            abort();
        last_line = row.line;
        last_time = row.time;
    }
    return 0;
}
