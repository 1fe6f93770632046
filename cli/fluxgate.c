/*
 * fluxgate.c -- main() of the `fluxgate` command-line tool: dispatches to the
 * subcommands (fg_cli_check.c, fg_cli_disasm.c, fg_cli_simulate.c) and
 * answers --help, --version and `help SUBCOMMAND`.
 */
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <unistd.h>

#include "fg_cli.h"

static int help(int argc, char **argv) {
    if (argc < 2) {
        fg_cli_usage(stdout);
        return FG_EXIT_OK;
    }
    const char *text = fg_cli_help_for(argv[1]);
    if (text == NULL || argc > 2) {
        fprintf(stderr, "fluxgate help: %s '%s'\n",
                text == NULL ? "no subcommand" : "unexpected argument", argv[text == NULL ? 1 : 2]);
        fg_cli_usage(stderr);
        return FG_EXIT_USAGE;
    }
    printf("usage: %s\n\n%s", fg_cli_synopsis_for(argv[1]), text);
    return FG_EXIT_OK;
}

/* Started with a standard descriptor closed (`fluxgate check x.fgp >&-`),
 * the first file the tool opens would take its number, and what was meant
 * for stdout could land in the SVG being written. /dev/null opened read-only
 * holds the number instead: writes to it fail, and the end of main reports
 * that stdout could not be written. */
static void hold_standard_descriptors(void) {
    for (int fd = 0; fd <= 2; fd++)
        if (fcntl(fd, F_GETFD) == -1 && errno == EBADF && open("/dev/null", O_RDONLY) != fd) return;
}

/* Output lost to a full disk, a closed pipe or a closed stdout is a failure
 * (exit status 1, "a file cannot be written"), never a silent success. */
static int finish_stdout(int status) {
    errno = 0;
    int flushed = fflush(stdout) == 0;
    if (flushed && !ferror(stdout)) return status;
    if (!flushed && errno != 0)
        fprintf(stderr, "fluxgate: error: cannot write to standard output: %s\n", strerror(errno));
    else
        fputs("fluxgate: error: cannot write to standard output\n", stderr);
    return status == FG_EXIT_OK ? FG_EXIT_ERROR : status;
}

static int run(int argc, char **argv) {
    const char *cmd = argc > 1 ? argv[1] : NULL;
    if (cmd == NULL) {
        fg_cli_usage(stderr);
        return FG_EXIT_USAGE;
    }
    if (strcmp(cmd, "--help") == 0 || strcmp(cmd, "-h") == 0) {
        fg_cli_usage(stdout);
        return FG_EXIT_OK;
    }
    if (strcmp(cmd, "--version") == 0) {
        printf("fluxgate %s\n", fg_version());
        return FG_EXIT_OK;
    }
    /* `fluxgate SUBCOMMAND --help` is help too. */
    if (argc == 3 && (strcmp(argv[2], "--help") == 0 || strcmp(argv[2], "-h") == 0) &&
        fg_cli_help_for(cmd) != NULL) {
        char *args[] = {"help", argv[1]};
        return help(2, args);
    }
    if (strcmp(cmd, "check") == 0) return fg_cli_check(argc - 1, argv + 1);
    if (strcmp(cmd, "disasm") == 0) return fg_cli_disasm(argc - 1, argv + 1);
    if (strcmp(cmd, "simulate") == 0) return fg_cli_simulate(argc - 1, argv + 1);
    if (strcmp(cmd, "help") == 0) return help(argc - 1, argv + 1);
    fprintf(stderr, "fluxgate: unknown subcommand '%s'\n", cmd);
    fg_cli_usage(stderr);
    return FG_EXIT_USAGE;
}

int main(int argc, char **argv) {
    hold_standard_descriptors();
    return finish_stdout(run(argc, argv));
}
