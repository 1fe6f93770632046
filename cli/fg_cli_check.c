/*
 * fg_cli_check.c -- `fluxgate check FILE...`: compiles each policy file and
 * prints every error and warning (with source line and caret) to stderr, and
 * one verdict line per file. Exit 0 when no file has errors (warnings are
 * allowed), 1 when one has, 2 on a usage error.
 */
#include <string.h>

#include "fg_cli.h"

/* "1 error", "2 warnings"; "1000 errors, first 100 shown" when the report
 * kept only some of them (it keeps at most 100 of each). */
static void print_count(FILE *out, size_t n, size_t shown, const char *what) {
    fprintf(out, "%zu %s%s", n, what, n == 1 ? "" : "s");
    if (shown < n) fprintf(out, ", first %zu shown", shown);
}

/* Checks one file; returns 1 when it has errors. */
static int check_one(const char *path) {
    fg_report *report = NULL;
    fg_policy *policy = fg_policy_load(path, NULL, &report);
    if (report == NULL) {
        fprintf(stderr, "%s: error: out of memory\n", path);
        if (policy != NULL) fg_policy_free(policy);
        return 1;
    }
    fg_cli_print_report(stderr, report);
    size_t errors = fg_report_error_count(report);
    size_t warnings = fg_report_count(report) - errors;
    size_t found_errors = fg_report_found(report, FG_SEVERITY_ERROR);
    size_t found_warnings = fg_report_found(report, FG_SEVERITY_WARNING);
    fg_report_free(report);
    if (policy == NULL || errors > 0) {
        fprintf(stderr, "%s: ", path);
        print_count(stderr, found_errors, errors, "error");
        if (found_warnings > 0) {
            fputs(", ", stderr);
            print_count(stderr, found_warnings, warnings, "warning");
        }
        fputc('\n', stderr);
        if (policy != NULL) fg_policy_free(policy);
        return 1;
    }
    size_t n = fg_policy_breaker_count(policy);
    printf("%s: ok", path);
    if (found_warnings > 0) {
        fputs(", ", stdout);
        print_count(stdout, found_warnings, warnings, "warning");
    }
    printf(" (");
    print_count(stdout, n, n, "breaker");
    fg_cli_print_names(stdout, policy, ": ");
    printf(")\n");
    /* Keep the verdicts in step with the diagnostics on stderr when both go
     * to one pipe (2>&1). */
    fflush(stdout);
    fg_policy_free(policy);
    return 0;
}

int fg_cli_check(int argc, char **argv) {
    int first = 1;
    /* Options first; `--` ends them, so that `check -- -odd-name.fgp` works. */
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--") == 0) {
            first = i + 1;
            break;
        }
        if (argv[i][0] == '-' && argv[i][1] != '\0') {
            fprintf(stderr, "fluxgate check: unknown option '%s'\nusage: fluxgate check FILE...\n",
                    argv[i]);
            return FG_EXIT_USAGE;
        }
    }
    int failed = 0, files = 0;
    for (int i = first; i < argc; i++) {
        files++;
        failed |= check_one(argv[i]);
    }
    if (files == 0) {
        fputs("fluxgate check: no policy file given\nusage: fluxgate check FILE...\n", stderr);
        return FG_EXIT_USAGE;
    }
    return failed ? FG_EXIT_ERROR : FG_EXIT_OK;
}
