/*
 * test_window.c -- CountWindow and TimeWindow (SPEC section 5, "Windows").
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "fg_test_support.h"
#include "fg_window.h"

#include <math.h>
#include <string.h>

/* A window and the memory a breaker's block would give it: the totals,
 * the slow counts and the entries (through the counting allocator, with a
 * canary after them: a window never writes outside its memory). */
typedef struct test_window {
    fg_window w;
    fg_window_state st;
    uint64_t extra[5]; /* fg_window_extra_bytes: at most 40 */
    uint64_t slow[FG_MAX_SLOW_THRESHOLDS];
    unsigned char *memory;
    size_t bytes;
} test_window;

enum { CANARY = 64 };

static void make_mode(test_window *t, fg_window_kind kind, uint32_t size, const double *thresholds,
                      uint32_t n, int exact, fg_test_alloc *counting) {
    fg_allocator a = fg_test_allocator(counting);
    memset(t, 0, sizeof *t);
    t->bytes = (size_t)fg_window_entries_bytes(kind, size, n, exact);
    t->memory = a.fn(a.ud, NULL, 0, t->bytes + CANARY);
    assert_non_null(t->memory);
    memset(t->memory, 0xA5, t->bytes + CANARY);
    assert_true(fg_window_extra_bytes(kind, exact) <= sizeof t->extra);
    fg_window_init(&t->w, &t->st, t->extra, t->slow, t->memory, kind, size, thresholds, n, exact, 1);
}

static void make(test_window *t, fg_window_kind kind, uint32_t size, const double *thresholds,
                 uint32_t n, fg_test_alloc *counting) {
    make_mode(t, kind, size, thresholds, n, 0, counting);
}

static void drop(test_window *t, fg_test_alloc *counting) {
    for (size_t i = 0; i < CANARY; i++) assert_int_equal(t->memory[t->bytes + i], 0xA5);
    fg_allocator a = fg_test_allocator(counting);
    a.fn(a.ud, t->memory, t->bytes + CANARY, 0);
    assert_int_equal(counting->live_blocks, 0);
}

static fg_metric metric_at(fg_window *w, double now) {
    fg_metric m;
    fg_window_metric(w, now, &m);
    return m;
}

static void count_window_keeps_the_last_n_records(void **state) {
    (void)state;
    fg_test_alloc counting = {0};
    test_window w;
    make(&w, FG_WINDOW_COUNT, 3, NULL, 0, &counting);
    fg_window_record(&w.w, 1, 0, 0);     /* failure */
    fg_window_record(&w.w, 0, 1.0, 0);
    fg_window_record(&w.w, 0, 2.0, 0);
    fg_metric m = metric_at(&w.w, 0);
    assert_int_equal(m.total_count, 3);
    assert_int_equal(m.failure_count, 1);
    assert_float_equal(m.total_duration, 3.0, 1e-12);
    fg_window_record(&w.w, 0, 4.0, 0);   /* pushes the failure out */
    m = metric_at(&w.w, 0);
    assert_int_equal(m.total_count, 3);
    assert_int_equal(m.failure_count, 0);
    assert_float_equal(m.total_duration, 7.0, 1e-12);
    drop(&w, &counting);
}

/* A CountWindow of the largest size (10^6, fg_builtins.c) fits its counts
 * in the running totals exactly, and its microsecond sum too: 10^6 entries
 * of the longest duration a 32-bit entry holds (2^32 - 2 us) are
 * 4294967294 s in all, 2^52 us, far inside 64 bits. */
static void a_count_window_at_its_largest_size_counts_exactly(void **state) {
    (void)state;
    enum { N = 1000000 };
    fg_test_alloc counting = {0};
    test_window w;
    make(&w, FG_WINDOW_COUNT, N, NULL, 0, &counting);
    for (int i = 0; i < N; i++) fg_window_record(&w.w, 0, 1e9, 0); /* capped at 2^32 - 2 us */
    fg_metric m = metric_at(&w.w, 0);
    assert_int_equal(m.total_count, N);
    assert_int_equal(m.failure_count, 0);
    assert_true(m.total_duration == 4294967294.0);
    fg_window_record(&w.w, 1, 0, 0); /* the oldest leaves, a failure comes */
    m = metric_at(&w.w, 0);
    assert_int_equal(m.total_count, N);
    assert_int_equal(m.failure_count, 1);
    assert_true(m.total_duration == (double)(UINT64_C(4294967294) * (N - 1)) / 1e6);
    for (int i = 0; i < N; i++) fg_window_record(&w.w, 1, 0, 0);
    m = metric_at(&w.w, 0);
    assert_int_equal(m.total_count, N);
    assert_int_equal(m.failure_count, N);
    assert_true(m.total_duration == 0.0);
    drop(&w, &counting);
}

/* A TimeWindow's counts are 64-bit (fg_window_wide): three seconds of
 * nearly 2^32 calls each add up past 2^32, and leave again exactly. */
static void a_time_window_counts_past_2_to_the_32(void **state) {
    (void)state;
    fg_test_alloc counting = {0};
    test_window w;
    make(&w, FG_WINDOW_TIME, 5, NULL, 0, &counting);
    fg_window_advance(&w.w, 100.5);
    static const uint64_t none[3] = {0, 0, 0};
    for (int64_t s = 98; s <= 100; s++) fg_window_put_bucket(&w.w, s, UINT32_MAX - 1, UINT32_MAX / 2, NULL, none);
    fg_window_record(&w.w, 1, 0, 100.5);
    fg_metric m = metric_at(&w.w, 100.5);
    assert_true(m.total_count == 3 * (uint64_t)(UINT32_MAX - 1) + 1);
    assert_true(m.failure_count == 3 * (uint64_t)(UINT32_MAX / 2) + 1);
    m = metric_at(&w.w, 103.0); /* seconds 98 and earlier have left */
    assert_true(m.total_count == 2 * (uint64_t)(UINT32_MAX - 1) + 1);
    assert_true(m.failure_count == 2 * (uint64_t)(UINT32_MAX / 2) + 1);
    m = metric_at(&w.w, 105.0);
    assert_true(m.total_count == 0 && m.failure_count == 0);
    drop(&w, &counting);
}

static void failures_count_with_duration_zero(void **state) {
    (void)state;
    fg_test_alloc counting = {0};
    double t[] = {1.0};
    test_window w;
    make(&w, FG_WINDOW_COUNT, 10, t, 1, &counting);
    fg_window_record(&w.w, 1, 5.0, 0);
    fg_metric m = metric_at(&w.w, 0);
    assert_float_equal(m.total_duration, 0.0, 0);
    assert_int_equal(m.slow_counts[0], 0);
    drop(&w, &counting);
}

static void slow_at_t_means_duration_at_least_t(void **state) {
    (void)state;
    fg_test_alloc counting = {0};
    double t[] = {0.5, 1.0, 2.0};
    test_window w;
    make(&w, FG_WINDOW_COUNT, 2, t, 3, &counting);
    fg_window_record(&w.w, 0, 1.0, 0); /* slow at 0.5 and 1.0, exactly at 1.0 */
    fg_window_record(&w.w, 0, 0.2, 0); /* slow nowhere */
    fg_metric m = metric_at(&w.w, 0);
    assert_int_equal(m.threshold_count, 3);
    assert_float_equal(m.thresholds[1], 1.0, 0);
    assert_int_equal(m.slow_counts[0], 1);
    assert_int_equal(m.slow_counts[1], 1);
    assert_int_equal(m.slow_counts[2], 0);
    fg_window_record(&w.w, 0, 3.0, 0); /* evicts the 1.0 record */
    m = metric_at(&w.w, 0);
    assert_int_equal(m.slow_counts[0], 1);
    assert_int_equal(m.slow_counts[1], 1);
    assert_int_equal(m.slow_counts[2], 1);
    drop(&w, &counting);
}

static void durations_never_drift(void **state) {
    (void)state;
    fg_test_alloc counting = {0};
    test_window w;
    make(&w, FG_WINDOW_COUNT, 7, NULL, 0, &counting);
    /* 0.1 is not exact in binary: a double running sum would drift. */
    for (int i = 0; i < 100000; i++) fg_window_record(&w.w, 0, 0.1, 0);
    for (int i = 0; i < 7; i++) fg_window_record(&w.w, 0, 0.0, 0);
    assert_true(metric_at(&w.w, 0).total_duration == 0.0);
    drop(&w, &counting);
}

static void clear_forgets_everything(void **state) {
    (void)state;
    fg_test_alloc counting = {0};
    double t[] = {1.0};
    test_window w;
    make(&w, FG_WINDOW_COUNT, 3, t, 1, &counting);
    fg_window_record(&w.w, 0, 2.0, 0);
    fg_window_record(&w.w, 1, 0, 0);
    fg_window_clear(&w.w);
    fg_metric m = metric_at(&w.w, 0);
    assert_int_equal(m.total_count, 0);
    assert_int_equal(m.slow_counts[0], 0);
    /* after a clear, the ring refills without evicting ghosts */
    for (int i = 0; i < 3; i++) fg_window_record(&w.w, 0, 1.0, 0);
    m = metric_at(&w.w, 0);
    assert_int_equal(m.total_count, 3);
    assert_int_equal(m.slow_counts[0], 3);
    drop(&w, &counting);
}

static void time_window_covers_exactly_the_last_n_seconds(void **state) {
    (void)state;
    fg_test_alloc counting = {0};
    test_window w;
    make(&w, FG_WINDOW_TIME, 3, NULL, 0, &counting);
    fg_window_record(&w.w, 1, 0, 10.2);  /* second 10 */
    fg_window_record(&w.w, 0, 1, 11.9);  /* second 11 */
    fg_window_record(&w.w, 0, 1, 12.0);  /* second 12 */
    assert_int_equal(metric_at(&w.w, 12.99).total_count, 3);
    fg_metric m = metric_at(&w.w, 13.0); /* seconds 11..13: second 10 has left */
    assert_int_equal(m.total_count, 2);
    assert_int_equal(m.failure_count, 0);
    assert_int_equal(metric_at(&w.w, 14.5).total_count, 1);
    assert_int_equal(metric_at(&w.w, 15.0).total_count, 0);
    drop(&w, &counting);
}

static void time_window_read_after_a_quiet_period_is_empty(void **state) {
    (void)state;
    fg_test_alloc counting = {0};
    double t[] = {0.5};
    test_window w;
    make(&w, FG_WINDOW_TIME, 5, t, 1, &counting);
    for (int i = 0; i < 5; i++) fg_window_record(&w.w, i % 2, 1.0, 100.0 + i);
    assert_int_equal(metric_at(&w.w, 104.0).total_count, 5);
    /* a jump longer than the window clears everything at once */
    fg_metric m = metric_at(&w.w, 1000.0);
    assert_int_equal(m.total_count, 0);
    assert_int_equal(m.failure_count, 0);
    assert_int_equal(m.slow_counts[0], 0);
    assert_float_equal(m.total_duration, 0.0, 0);
    /* the buckets reused later do not resurrect old counts */
    fg_window_record(&w.w, 0, 0.1, 1000.5);
    m = metric_at(&w.w, 1000.5);
    assert_int_equal(m.total_count, 1);
    assert_int_equal(m.slow_counts[0], 0);
    assert_int_equal(metric_at(&w.w, 1005.0).total_count, 0);
    drop(&w, &counting);
}

static void time_window_same_slot_next_lap_starts_over(void **state) {
    (void)state;
    fg_test_alloc counting = {0};
    test_window w;
    make(&w, FG_WINDOW_TIME, 2, NULL, 0, &counting);
    fg_window_record(&w.w, 1, 0, 0.5);   /* bucket 0, second 0 */
    fg_window_record(&w.w, 0, 1, 2.5);   /* bucket 0 again, second 2 */
    fg_metric m = metric_at(&w.w, 2.5);
    assert_int_equal(m.total_count, 1);
    assert_int_equal(m.failure_count, 0);
    drop(&w, &counting);
}

static void time_window_clear_then_record(void **state) {
    (void)state;
    fg_test_alloc counting = {0};
    test_window w;
    make(&w, FG_WINDOW_TIME, 10, NULL, 0, &counting);
    fg_window_record(&w.w, 1, 0, 5.0);
    fg_window_record(&w.w, 1, 0, 6.0);
    fg_window_clear(&w.w);
    fg_window_record(&w.w, 0, 0.25, 6.5);
    fg_metric m = metric_at(&w.w, 7.0);
    assert_int_equal(m.total_count, 1);
    assert_int_equal(m.failure_count, 0);
    /* the cleared seconds must not be subtracted again when they leave */
    m = metric_at(&w.w, 15.9);
    assert_int_equal(m.total_count, 1);
    assert_int_equal(metric_at(&w.w, 16.0).total_count, 0);
    drop(&w, &counting);
}

static void time_window_negative_clock(void **state) {
    (void)state;
    fg_test_alloc counting = {0};
    test_window w;
    make(&w, FG_WINDOW_TIME, 2, NULL, 0, &counting);
    fg_window_record(&w.w, 1, 0, -3.5);  /* second -4 */
    fg_window_record(&w.w, 1, 0, -2.5);  /* second -3 */
    assert_int_equal(metric_at(&w.w, -2.0).total_count, 1);
    drop(&w, &counting);
}

/* counts_version is what lets a breaker skip re-running its tripper: it
 * must change whenever the total, failure or slow counts change, through
 * records (a full CountWindow replacing a record with an equal one changes
 * nothing), clears and a TimeWindow's seconds leaving. A random walk over
 * both kinds checks that an unchanged version always means unchanged counts,
 * and that most records of equal outcomes into a full ring leave it alone. */
static void counts_version_changes_whenever_the_counts_do(void **state) {
    (void)state;
    const double thresholds[] = {1.0, 2.0};
    fg_window_kind kinds[] = {FG_WINDOW_COUNT, FG_WINDOW_TIME};
    uint64_t seed = 0x2545F4914F6CDD1Dull;
    for (size_t n = 0; n < 2; n++) {
        fg_test_alloc counting = {0};
        test_window w;
    make(&w, kinds[n], 4, thresholds, 2, &counting);
        double now = 100.0;
        fg_metric before = metric_at(&w.w, now);
        uint64_t version = w.st.counts_version;
        int unchanged = 0;
        for (int i = 0; i < 20000; i++) {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            unsigned op = (unsigned)(seed % 16);
            if (kinds[n] == FG_WINDOW_TIME) now += (double)((seed >> 8) % 5) * 0.4; /* jumps too */
            if (op == 0) {
                fg_window_clear(&w.w);
            } else if (op == 1) {
                (void)metric_at(&w.w, now); /* a TimeWindow drops the seconds that left */
            } else {
                int failure = (seed >> 12) % 4 == 0;
                double duration = (double)((seed >> 16) % 3) * 0.75; /* 0, 0.75, 1.5: levels 0..1 */
                if ((seed >> 20) % 8 == 0) duration = 2.5;            /* level 2 */
                fg_window_record(&w.w, failure, duration, now);
            }
            fg_metric after = metric_at(&w.w, now);
            if (w.st.counts_version == version) {
                unchanged++;
                assert_int_equal(after.total_count, before.total_count);
                assert_int_equal(after.failure_count, before.failure_count);
                assert_int_equal(after.slow_counts[0], before.slow_counts[0]);
                assert_int_equal(after.slow_counts[1], before.slow_counts[1]);
            }
            before = metric_at(&w.w, now);
            version = w.st.counts_version;
        }
        if (kinds[n] == FG_WINDOW_COUNT) assert_true(unchanged > 1000); /* it does stay put */
        drop(&w, &counting);
    }
}

/* With AvgLatency the ring keeps each duration as given: one record's
 * total is that duration bit for bit (no rounding to nanoseconds), and
 * the exact sum rounds once: 1 + 2^-53 + 2^-53 is 1 + 2^-52, where a
 * double running sum says 1. */
static void exact_durations_are_kept_as_given(void **state) {
    (void)state;
    fg_test_alloc counting = {0};
    test_window w;
    make_mode(&w, FG_WINDOW_COUNT, 3, NULL, 0, 1, &counting);
    fg_window_record(&w.w, 0, 0.049999999999954525, 0);
    assert_true(metric_at(&w.w, 0).total_duration == 0.049999999999954525);
    fg_window_clear(&w.w);
    fg_window_record(&w.w, 0, 1.0, 0);
    fg_window_record(&w.w, 0, 0x1p-53, 0);
    fg_window_record(&w.w, 0, 0x1p-53, 0);
    assert_true(metric_at(&w.w, 0).total_duration == 1.0 + 0x1p-52);
    fg_window_record(&w.w, 1, 7.0, 0); /* a failure pushes 1.0 out and counts 0 s */
    assert_true(metric_at(&w.w, 0).total_duration == 0x1p-52);
    drop(&w, &counting);
}

static void exact_durations_never_drift(void **state) {
    (void)state;
    fg_test_alloc counting = {0};
    test_window w;
    make_mode(&w, FG_WINDOW_COUNT, 7, NULL, 0, 1, &counting);
    for (int i = 0; i < 100000; i++) fg_window_record(&w.w, 0, 0.1 * (double)(i % 13), 0);
    for (int i = 0; i < 6; i++) fg_window_record(&w.w, 0, 0.0, 0);
    fg_window_record(&w.w, 0, 0.3, 0);
    assert_true(metric_at(&w.w, 0).total_duration == 0.3);
    drop(&w, &counting);
}

/* The exact sum against a reference: random durations in and out of a
 * two-record ring, compared with the sum of the two records computed from
 * scratch (one IEEE addition: the correctly rounded exact sum). A double
 * running sum fails this within a few records. */
static void exact_sum_matches_a_sum_from_scratch(void **state) {
    (void)state;
    fg_test_alloc counting = {0};
    test_window w;
    make_mode(&w, FG_WINDOW_COUNT, 2, NULL, 0, 1, &counting);
    uint64_t seed = 88172645463325252ull;
    double ring[2] = {0, 0};
    int head = 0, filled = 0;
    for (int i = 0; i < 20000; i++) {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        double d = (double)(seed >> 11) * 0x1p-53 * 4.0; /* [0, 4) */
        fg_window_record(&w.w, 0, d, 0);
        ring[head] = d;
        head ^= 1;
        if (filled < 2) filled++;
        double sum = ring[0] + (filled == 2 ? ring[1] : 0.0);
        assert_true(metric_at(&w.w, 0).total_duration == sum);
    }
    drop(&w, &counting);
}

/* The exact mean against integer arithmetic: durations that are whole
 * multiples of 2^-10 s, so that their sum S (in those units) is an exact
 * integer, and thresholds j * 2^-10 s and the doubles just above and
 * below: the mean is >= j exactly when S >= n * j, >= the one just below
 * under the same condition (S is whole), >= the one just above only when
 * S > n * j. Then the edges: no records, thresholds <= 0, NaN, at and above
 * 2^32 s (durations are capped below it), below the units (2^-76 s), and
 * counts whose n * t passes 192 bits. */
static void exact_mean_compares_without_rounding(void **state) {
    (void)state;
    uint64_t seed = 0x2545F4914F6CDD1Dull;
    for (int round = 0; round < 20000; round++) {
        fg_exact_sum sum;
        fg_exact_sum_clear(&sum);
        seed ^= seed << 13, seed ^= seed >> 7, seed ^= seed << 17;
        uint64_t n = 1 + seed % 9, s = 0;
        for (uint64_t i = 0; i < n; i++) {
            seed ^= seed << 13, seed ^= seed >> 7, seed ^= seed << 17;
            uint64_t k = seed % 4096; /* up to 4 s */
            s += k;
            fg_exact_sum_add(&sum, ldexp((double)k, -10));
        }
        /* thresholds around the mean: j = floor(s / n) and j + 1 */
        for (uint64_t j = s / n; j <= s / n + 1; j++) {
            if (j == 0) continue;
            double t = ldexp((double)j, -10);
            assert_int_equal(fg_exact_sum_mean_ge(&sum, n, t), s >= n * j);
            assert_int_equal(fg_exact_sum_mean_ge(&sum, n, nextafter(t, 0.0)), s >= n * j);
            assert_int_equal(fg_exact_sum_mean_ge(&sum, n, nextafter(t, INFINITY)), s > n * j);
        }
    }
    /* 3 x 0.7 s: the mean is exactly 0.7, where the rounded sum over 3 is not */
    fg_exact_sum sum;
    fg_exact_sum_clear(&sum);
    for (int i = 0; i < 3; i++) fg_exact_sum_add(&sum, 0.7);
    assert_true(fg_exact_sum_value(&sum) / 3.0 < 0.7);
    assert_true(fg_exact_sum_mean_ge(&sum, 3, 0.7));
    assert_false(fg_exact_sum_mean_ge(&sum, 3, nextafter(0.7, 1.0)));
    assert_false(fg_exact_sum_mean_ge(&sum, 0, 0.7));
    assert_true(fg_exact_sum_mean_ge(&sum, 3, 0.0));
    assert_true(fg_exact_sum_mean_ge(&sum, 3, -1.0));
    assert_false(fg_exact_sum_mean_ge(&sum, 3, NAN));
    assert_false(fg_exact_sum_mean_ge(&sum, 3, INFINITY));
    /* 2^40 calls of 0.7 s would be 2^40 x 0.7 s: n * t needs 64 + 53 bits
     * above the units, beyond what three such calls sum to */
    assert_false(fg_exact_sum_mean_ge(&sum, UINT64_C(1) << 40, 0.7));
    assert_false(fg_exact_sum_mean_ge(&sum, UINT64_MAX, 4294967295.0)); /* past 192 bits */
    /* capped durations: below 2^32 s, never at it */
    fg_exact_sum_clear(&sum);
    fg_exact_sum_add(&sum, 1e300);
    assert_true(fg_exact_sum_mean_ge(&sum, 1, nextafter(4294967296.0, 0.0)));
    assert_false(fg_exact_sum_mean_ge(&sum, 1, 4294967296.0));
    /* below the units: the rounded quotient */
    fg_exact_sum_clear(&sum);
    fg_exact_sum_add(&sum, 0x1p-70);
    assert_true(fg_exact_sum_mean_ge(&sum, 1, 0x1p-80));
    assert_true(fg_exact_sum_mean_ge(&sum, 1, 0x1p-70));
    assert_false(fg_exact_sum_mean_ge(&sum, 2, 0x1p-70));
    assert_true(fg_exact_sum_mean_ge(&sum, 2, 0x1p-71));
}

/* Without AvgLatency a CountWindow keeps a 32-bit word per record: the
 * duration is reported to the microsecond, while slow levels come from
 * the exact duration given (2 s - 1 ns is not slow at 2 s). */
static void microsecond_entries_report_durations_and_classify_exactly(void **state) {
    (void)state;
    fg_test_alloc counting = {0};
    double t[] = {2.0};
    test_window w;
    make(&w, FG_WINDOW_COUNT, 4, t, 1, &counting);
    assert_int_equal(w.bytes, 16); /* 4 records x 4 bytes */
    fg_window_record(&w.w, 0, 2.0 - 1e-9, 0);
    fg_window_record(&w.w, 0, 2.0, 0);
    fg_window_record(&w.w, 0, 0.1, 0);
    fg_metric m = metric_at(&w.w, 0);
    assert_int_equal(m.slow_counts[0], 1);
    assert_true(m.total_duration == 4.1); /* 4100000 us / 1e6, one rounding */
    fg_window_record(&w.w, 0, 1e9, 0);   /* capped, not wrapped */
    assert_true(metric_at(&w.w, 0).total_duration > 2000.0);
    drop(&w, &counting);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(count_window_keeps_the_last_n_records),
        cmocka_unit_test(failures_count_with_duration_zero),
        cmocka_unit_test(a_count_window_at_its_largest_size_counts_exactly),
        cmocka_unit_test(a_time_window_counts_past_2_to_the_32),
        cmocka_unit_test(slow_at_t_means_duration_at_least_t),
        cmocka_unit_test(durations_never_drift),
        cmocka_unit_test(clear_forgets_everything),
        cmocka_unit_test(time_window_covers_exactly_the_last_n_seconds),
        cmocka_unit_test(time_window_read_after_a_quiet_period_is_empty),
        cmocka_unit_test(time_window_same_slot_next_lap_starts_over),
        cmocka_unit_test(time_window_clear_then_record),
        cmocka_unit_test(time_window_negative_clock),
        cmocka_unit_test(counts_version_changes_whenever_the_counts_do),
        cmocka_unit_test(exact_durations_are_kept_as_given),
        cmocka_unit_test(exact_durations_never_drift),
        cmocka_unit_test(exact_sum_matches_a_sum_from_scratch),
        cmocka_unit_test(exact_mean_compares_without_rounding),
        cmocka_unit_test(microsecond_entries_report_durations_and_classify_exactly),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
