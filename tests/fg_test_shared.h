/*
 * fg_test_shared.h -- helpers of the shared-zone tests (test_shared_family,
 * test_shared_reload). Header-only.
 *
 * Include after <cmocka.h> (the helpers use cmocka's assertions).
 */
#ifndef FG_TEST_SHARED_H
#define FG_TEST_SHARED_H

#include "fg_shared_family.h"
#include "fg_shm.h"

/* p's first definition as a shared family of `capacity` keys in m, opened
 * with the status the test expects (created, attached, replaced). */
static inline fg_shared_family *open_family(fg_shm *m, fg_policy *p, uint32_t capacity,
                                            int want_status) {
    char err[300];
    int status = -1;
    fg_shared_family *f = fg_shared_family_open(m, p, 0, capacity, NULL, &status, err, sizeof err);
    if (f == NULL) fail_msg("%s", err);
    assert_int_equal(status, want_status);
    return f;
}

#endif /* FG_TEST_SHARED_H */
