/*
 * fg_cli_disasm.c -- `fluxgate disasm FILE [BREAKER]`: the compiled form of
 * each breaker (or of the one named): window, tracker, tripper, retry, permit
 * and settings with the source text each came from, and the bytecode of the
 * tracker and tripper programs. The listing itself is the library's
 * (fg_policy_disassemble), so the tool and the golden tests see one format.
 */
#include <string.h>

#include "fg_cli.h"

/* Prints the index-th breaker's listing; returns 0, or -1 when out of memory. */
static int print_listing(const fg_policy *policy, size_t index) {
    char small[4096];
    size_t need = fg_policy_disassemble(policy, index, small, sizeof small);
    if (need < sizeof small) {
        fg_cli_put_text(stdout, small, 1);
        return 0;
    }
    char *big = fg_cli_alloc(need + 1);
    if (big == NULL) return -1;
    fg_policy_disassemble(policy, index, big, need + 1);
    fg_cli_put_text(stdout, big, 1);
    fg_cli_free(big, need + 1);
    return 0;
}

int fg_cli_disasm(int argc, char **argv) {
    for (size_t i = 1; i < (size_t)argc; i++) {
        /* `--` ends the options: what follows is FILE [BREAKER], dashes or not. */
        if (strcmp(argv[i], "--") == 0) {
            memmove(argv + i, argv + i + 1, (size_t)(argc - (int)i - 1) * sizeof *argv);
            argc--;
            break;
        }
        if (argv[i][0] == '-' && argv[i][1] != '\0') {
            fprintf(stderr,
                    "fluxgate disasm: unknown option '%s'\nusage: fluxgate disasm FILE [BREAKER]\n",
                    argv[i]);
            return FG_EXIT_USAGE;
        }
    }
    if (argc < 2 || argc > 3) {
        fprintf(stderr, "fluxgate disasm: %s\nusage: fluxgate disasm FILE [BREAKER]\n",
                argc < 2 ? "no policy file given" : "too many arguments");
        return FG_EXIT_USAGE;
    }
    fg_policy *policy = fg_cli_load_policy(argv[1]);
    if (policy == NULL) return FG_EXIT_ERROR;
    long only = -1;
    if (argc == 3) {
        only = fg_cli_find_breaker(policy, argv[1], argv[2]);
        if (only < 0) {
            fg_policy_free(policy);
            return FG_EXIT_ERROR;
        }
    }
    size_t n = fg_policy_breaker_count(policy);
    if (n == 0) printf("%s defines no breakers\n", argv[1]);
    int status = FG_EXIT_OK;
    for (size_t i = 0; i < n; i++) {
        if (only >= 0 && i != (size_t)only) continue;
        if (only < 0 && i > 0) putchar('\n');
        if (print_listing(policy, i) < 0) {
            fprintf(stderr, "%s: error: out of memory\n", argv[1]);
            status = FG_EXIT_ERROR;
            break;
        }
    }
    fg_policy_free(policy);
    return status;
}
