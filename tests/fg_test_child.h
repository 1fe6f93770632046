/*
 * fg_test_child.h -- a child process that does one thing, tells the parent
 * and is then killed while it waits: how the shared-memory tests leave a
 * lock or a half-open slot held by a dead process. Header-only.
 *
 * Include after <cmocka.h> (the helper uses cmocka's assertions).
 */
#ifndef FG_TEST_CHILD_H
#define FG_TEST_CHILD_H

#include <sys/types.h>
#include <unistd.h>

/* Forks a child that runs act(ud), writes the byte act returns to the
 * parent and then waits to be killed, keeping whatever act took. Returns
 * the child's pid once that byte arrived; *said gets it. */
static inline pid_t fg_test_child_stuck_after(char (*act)(void *ud), void *ud, char *said) {
    int fds[2];
    assert_int_equal(pipe(fds), 0);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        close(fds[0]);
        char c = act(ud);
        if (write(fds[1], &c, 1) != 1) _exit(2);
        for (;;) pause();
    }
    close(fds[1]);
    assert_int_equal(read(fds[0], said, 1), 1);
    close(fds[0]);
    return pid;
}

#endif /* FG_TEST_CHILD_H */
