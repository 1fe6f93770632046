/*
 * fg_cli_util.c -- helpers shared by the `fluxgate` subcommands: allocating
 * through the library's hook, printing compiler reports the one way the C
 * API, the Lua binding and the tool all print them.
 */
#include <stdio.h>
#include <string.h>

#include "fg_alloc.h"
#include "fg_cli.h"

void *fg_cli_alloc(size_t size)
{
    return fg_alloc_new(NULL, size);
}

void *fg_cli_grow(void *ptr, size_t osize, size_t nsize)
{
    return fg_alloc_grow(NULL, ptr, osize, nsize);
}

void fg_cli_free(void *ptr, size_t size)
{
    fg_alloc_free(NULL, ptr, size);
}

void fg_cli_print_report(FILE *out, const fg_report *report)
{
    char small[1024];
    size_t need;
    if (report == NULL || fg_report_count(report) == 0)
        return;
    need = fg_report_format(report, small, sizeof small);
    if (need < sizeof small) {
        fputs(small, out);
        return;
    }
    {
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
}

fg_policy *fg_cli_load_policy(const char *path)
{
    fg_report *report = NULL;
    fg_policy *policy = fg_policy_load(path, NULL, &report);
    if (report == NULL) {
        fprintf(stderr, "%s: error: out of memory\n", path);
        if (policy != NULL)
            fg_policy_free(policy);
        return NULL;
    }
    fg_cli_print_report(stderr, report);
    fg_report_free(report);
    return policy;
}

long fg_cli_find_breaker(const fg_policy *policy, const char *path, const char *name)
{
    long index = fg_policy_find_breaker(policy, name);
    size_t i, n;
    if (index >= 0)
        return index;
    n = fg_policy_breaker_count(policy);
    fprintf(stderr, "%s: error: no breaker '%s' (", path, name);
    if (n == 0)
        fputs("the file defines none", stderr);
    for (i = 0; i < n; i++)
        fprintf(stderr, "%s%s", i == 0 ? "breakers: " : ", ", fg_policy_breaker_name(policy, i));
    fputs(")\n", stderr);
    return -1;
}
