/*
 * fg_cli_util.c -- helpers shared by the `fluxgate` subcommands: allocating,
 * printing compiler reports the one way the C API, the Lua binding and the
 * tool all print them, finding a breaker by name.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fg_cli.h"

/* The tool is a program, not an embedder: it gives the library no allocator
 * (the C library's, as fg_allocator {NULL, NULL} means) and allocates its own
 * memory from the C library too. The sizes are kept in the signatures so
 * that every call site states what it frees. */
void *fg_cli_alloc(size_t size) {
    return malloc(size > 0 ? size : 1); /* NULL means out of memory, never "empty" */
}

void *fg_cli_grow(void *ptr, size_t osize, size_t nsize) {
    (void)osize;
    return realloc(ptr, nsize > 0 ? nsize : 1);
}

void fg_cli_free(void *ptr, size_t size) {
    (void)size;
    free(ptr);
}

void fg_cli_print_report(FILE *out, const fg_report *report) {
    if (report == NULL || fg_report_count(report) == 0) return;
    char small[1024];
    size_t need = fg_report_format(report, small, sizeof small);
    if (need < sizeof small) {
        fputs(small, out);
        return;
    }
    char *big = fg_cli_alloc(need + 1);
    if (big == NULL) {
        /* Out of memory: the truncated text is better than nothing. */
        fputs(small, out);
        fputs("\n(out of memory: diagnostics truncated)\n", out);
        return;
    }
    fg_report_format(report, big, need + 1);
    fputs(big, out);
    fg_cli_free(big, need + 1);
}

fg_policy *fg_cli_load_policy(const char *path) {
    fg_report *report = NULL;
    fg_policy *policy = fg_policy_load(path, NULL, &report);
    if (report == NULL) {
        fprintf(stderr, "%s: error: out of memory\n", path);
        if (policy != NULL) fg_policy_free(policy);
        return NULL;
    }
    fg_cli_print_report(stderr, report);
    fg_report_free(report);
    return policy;
}

void fg_cli_put_text(FILE *out, const char *text, int lines) {
    for (const unsigned char *c = (const unsigned char *)text; *c != '\0'; c++) {
        int keep = *c >= 0x20 ? *c != 0x7f : lines && (*c == '\n' || *c == '\t');
        fputc(keep ? *c : '?', out);
    }
}

void fg_cli_print_names(FILE *out, const fg_policy *policy, const char *prefix) {
    size_t n = fg_policy_breaker_count(policy);
    size_t shown = n > FG_CLI_NAMES_SHOWN ? FG_CLI_NAMES_SHOWN : n;
    for (size_t i = 0; i < shown; i++) {
        fputs(i == 0 ? prefix : ", ", out);
        fg_cli_put_text(out, fg_policy_breaker_name(policy, i), 0);
    }
    if (shown < n) fprintf(out, ", ... (%zu more)", n - shown);
}

long fg_cli_find_breaker(const fg_policy *policy, const char *path, const char *name) {
    long index = fg_policy_find_breaker(policy, name);
    if (index >= 0) return index;
    size_t n = fg_policy_breaker_count(policy);
    fprintf(stderr, "%s: error: no breaker '%s' (", path, name);
    if (n == 0) fputs("the file defines none", stderr);
    fg_cli_print_names(stderr, policy, "breakers: ");
    fputs(")\n", stderr);
    return -1;
}
