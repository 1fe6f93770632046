/*
 * test_permit.c -- All, Random, RampUp (SPEC section 5, "Permits"), the
 * per-breaker PRNG, and the half-open slot leases.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "fg_half_open.h"
#include "fg_permit.h"
#include "fg_test_support.h"

static void all_admits_without_drawing(void **state) {
    (void)state;
    fg_test_random script;
    fg_random r = fg_test_random_scripted(&script, NULL, 0);
    fg_permit_spec s = {FG_PERMIT_ALL, 0, 0, 0, "All()"};
    for (int i = 0; i < 10; i++) assert_true(fg_permit_admit(&s, 0, i, &r));
}

static void random_admits_below_its_ratio_with_one_draw_each(void **state) {
    (void)state;
    const double draws[] = {0.29, 0.3, 0.99, 0.0};
    fg_test_random script;
    fg_random r = fg_test_random_scripted(&script, draws, 4);
    fg_permit_spec s = {FG_PERMIT_RANDOM, 0.3, 0, 0, "Random(0.3)"};
    assert_true(fg_permit_admit(&s, 0, 0, &r));
    assert_false(fg_permit_admit(&s, 0, 0, &r)); /* rand < r, strictly */
    assert_false(fg_permit_admit(&s, 0, 0, &r));
    assert_true(fg_permit_admit(&s, 0, 0, &r));
    assert_int_equal(script.next, 4);
}

static void random_zero_never_admits(void **state) {
    (void)state;
    const double draws[] = {0.0};
    fg_test_random script;
    fg_random r = fg_test_random_scripted(&script, draws, 1);
    fg_permit_spec s = {FG_PERMIT_RANDOM, 0.0, 0, 0, "Random(0)"};
    assert_false(fg_permit_admit(&s, 0, 0, &r));
}

static void ramp_up_rises_linearly_then_holds(void **state) {
    (void)state;
    fg_permit_spec s = {FG_PERMIT_RAMP_UP, 0.1, 0.5, 60, "RampUp(0.1, 0.5, 60)"};
    assert_float_equal(fg_permit_ratio(&s, 100, 100), 0.1, 1e-12);
    assert_float_equal(fg_permit_ratio(&s, 100, 130), 0.3, 1e-12);
    assert_float_equal(fg_permit_ratio(&s, 100, 160), 0.5, 1e-12);
    assert_float_equal(fg_permit_ratio(&s, 100, 1e9), 0.5, 1e-12);
    const double draws[] = {0.29, 0.31};
    fg_test_random script;
    fg_random r = fg_test_random_scripted(&script, draws, 2);
    assert_true(fg_permit_admit(&s, 100, 130, &r));
    assert_false(fg_permit_admit(&s, 100, 130, &r));
}

/* fluxgate answers final itself once elapsed >= duration; the formula
 * there can round below it (0.1 + 0.35 * 1.0 is 0.44999999999999996), and
 * a draw between the two was rejected (found by the differential harness). */
static void ramp_up_is_final_once_the_duration_is_over(void **state) {
    (void)state;
    fg_permit_spec s = {FG_PERMIT_RAMP_UP, 0.1, 0.45, 0.5, "RampUp(0.1, 0.45, 0.5)"};
    assert_true(fg_permit_ratio(&s, 1000008.1459924598, 1000008.6459924598) == 0.45);
    assert_true(fg_permit_ratio(&s, 0.0, 0.5) == 0.45);
    const double draws[] = {0.44999999999999996};
    fg_test_random script;
    fg_random r = fg_test_random_scripted(&script, draws, 1);
    assert_true(fg_permit_admit(&s, 0.0, 0.5, &r));
    /* before the end, the formula with fluxgate's grouping */
    fg_permit_spec t = {FG_PERMIT_RAMP_UP, 0.2, 0.85, 3.0, "RampUp(0.2, 0.85, 3)"};
    double e = nextafter(3.0, 0.0);
    assert_true(fg_permit_ratio(&t, 0.0, e) == 0.2 + (0.85 - 0.2) * (e / 3.0));
    assert_true(fg_permit_ratio(&t, 0.0, 3.0) == 0.85);
}

static void user_draws_are_clamped_into_unit_interval(void **state) {
    (void)state;
    const double draws[] = {-1.0, 1.0, 7.0, 0.25};
    fg_test_random script;
    fg_random r = fg_test_random_scripted(&script, draws, 4);
    assert_float_equal(fg_random_next(&r), 0.0, 0);
    assert_true(fg_random_next(&r) < 1.0);
    assert_true(fg_random_next(&r) < 1.0);
    assert_float_equal(fg_random_next(&r), 0.25, 0);
}

static void seeded_prng_replays_and_stays_in_range(void **state) {
    (void)state;
    fg_random a, b, c;
    fg_random_init(&a, NULL, NULL, 42);
    fg_random_init(&b, NULL, NULL, 42);
    fg_random_init(&c, NULL, NULL, 43);
    int differs = 0;
    double sum = 0;
    for (int i = 0; i < 10000; i++) {
        double x = fg_random_next(&a);
        assert_true(x >= 0.0 && x < 1.0);
        assert_true(x == fg_random_next(&b));
        differs |= x != fg_random_next(&c);
        sum += x;
    }
    assert_true(differs);
    assert_true(sum > 4800 && sum < 5200); /* mean near 1/2 */
}

/* The generator is SplitMix64: Vigna's reference outputs from state 0. */
static void the_prng_is_splitmix64(void **state) {
    (void)state;
    uint64_t s = 0;
    assert_true(fg_random_splitmix64(&s) == UINT64_C(0xE220A8397B1DCDAF));
    assert_true(fg_random_splitmix64(&s) == UINT64_C(0x6E789E6AA1B965F4));
    assert_true(fg_random_splitmix64(&s) == UINT64_C(0x06C45D188009454F));
    /* a seed is mixed once into the state; the first draw is the next output */
    fg_random r;
    fg_random_init(&r, NULL, NULL, 0);
    assert_true(r.s == UINT64_C(0xE220A8397B1DCDAF));
    uint64_t t = r.s;
    double expect = (double)(fg_random_splitmix64(&t) >> 11) * 0x1.0p-53;
    assert_true(fg_random_next(&r) == expect && r.s == t);
}

/* Draws are uniform on the 2^-53 grid of [0, 1): every draw a multiple of
 * 2^-53, the grid's finest bits as often set as not, and the draws spread
 * evenly over 64 bins (chi-square, 63 degrees of freedom: 120 is beyond
 * the 99.999th percentile) for a few seeds, 0 and nearby ones included. */
static void prng_draws_are_uniform_on_the_53_bit_grid(void **state) {
    (void)state;
    static const uint64_t seeds[] = {0, 1, 2, 42, UINT64_MAX};
    for (size_t k = 0; k < sizeof seeds / sizeof seeds[0]; k++) {
        fg_random r;
        fg_random_init(&r, NULL, NULL, seeds[k]);
        enum { DRAWS = 64000, BINS = 64 };
        uint32_t bins[BINS] = {0};
        uint32_t low_bit = 0, second_bit = 0;
        for (int i = 0; i < DRAWS; i++) {
            double x = fg_random_next(&r);
            assert_true(x >= 0.0 && x < 1.0);
            double grid = x * 0x1.0p53;
            assert_true(grid == floor(grid));
            uint64_t g = (uint64_t)grid;
            low_bit += (uint32_t)(g & 1);
            second_bit += (uint32_t)((g >> 1) & 1);
            bins[(int)(x * BINS)]++;
        }
        double chi = 0, expect = (double)DRAWS / BINS;
        for (int b = 0; b < BINS; b++) chi += (bins[b] - expect) * (bins[b] - expect) / expect;
        assert_true(chi < 120.0);
        /* binomial(64000, 1/2): sd 126; 6 sd */
        assert_true(low_bit > 32000 - 760 && low_bit < 32000 + 760);
        assert_true(second_bit > 32000 - 760 && second_bit < 32000 + 760);
    }
}

/* An older 256-bit state folds into one word deterministically, every
 * word counting. */
static void an_old_state_folds_deterministically(void **state) {
    (void)state;
    uint64_t a[4] = {1, 2, 3, 4};
    uint64_t f = fg_random_fold(a);
    assert_true(f == fg_random_fold(a));
    for (int i = 0; i < 4; i++) {
        uint64_t b[4] = {1, 2, 3, 4};
        b[i] ^= UINT64_C(1) << 40;
        assert_true(fg_random_fold(b) != f);
    }
}

/* ---- half-open slot leases ----------------------------------------------- */

typedef struct slots_fixture {
    fg_half_open_state st;
    uint64_t arrays[2]; /* fg_half_open_bytes(2) = 16: ticks, prev and next links, reissue counts */
    fg_half_open h;
} slots_fixture;

static int slots_setup(void **state) {
    static slots_fixture f;
    memset(&f, 0xA5, sizeof f); /* fresh = 1 must not depend on zeroed memory */
    assert_int_equal(fg_half_open_bytes(2), sizeof f.arrays);
    fg_half_open_init(&f.h, &f.st, f.arrays, 2, 10.0, 1);
    *state = &f;
    return 0;
}

static int slots_teardown(void **state) {
    (void)state;
    return 0;
}

static void slots_bound_calls_in_flight(void **state) {
    fg_half_open *h = &((slots_fixture *)*state)->h;
    uint32_t s1, s2, s3;
    int32_t a = fg_half_open_take(h, 0, &s1);
    int32_t b = fg_half_open_take(h, 0, &s2);
    assert_true(a >= 0 && b >= 0 && a != b);
    assert_int_equal(fg_half_open_take(h, 0, &s3), -1);
    assert_int_equal(h->st->in_flight, 2);
    assert_true(fg_half_open_give(h, a, s1));
    assert_int_equal(fg_half_open_take(h, 0, &s3), a);
}

static void a_double_release_never_frees_someone_elses_slot(void **state) {
    fg_half_open *h = &((slots_fixture *)*state)->h;
    uint32_t s1, s2, s3;
    int32_t a = fg_half_open_take(h, 0, &s1);
    fg_half_open_take(h, 0, &s2);
    assert_true(fg_half_open_give(h, a, s1));
    int32_t c = fg_half_open_take(h, 1, &s3); /* reuses slot a */
    assert_int_equal(c, a);
    assert_false(fg_half_open_give(h, a, s1)); /* the first holder again */
    assert_int_equal(h->st->in_flight, 2);
    assert_true(fg_half_open_give(h, c, s3));
}

/* A coarse clock gives the same reading many times: a slot released and
 * handed out again at the same reading must still void the first ticket.
 * Its lease time does not move for that (the reissue count tells the
 * hand-outs apart) until 256 hand-outs at one tick, then by one tick. */
static void a_slot_handed_out_again_at_the_same_time_voids_the_first_ticket(void **state) {
    fg_half_open *h = &((slots_fixture *)*state)->h;
    uint32_t s1, s2, s3;
    int32_t a = fg_half_open_take(h, 5.0, &s1);
    assert_true(fg_half_open_give(h, a, s1));
    int32_t c = fg_half_open_take(h, 5.0, &s2); /* the same slot, the same reading, nothing else held */
    assert_int_equal(c, a);
    assert_true(s2 != s1);
    assert_false(fg_half_open_give(h, a, s1)); /* a double release */
    assert_int_equal(h->st->in_flight, 1);
    assert_true(fg_half_open_time(h, (uint32_t)c) == 5.0);
    /* with another lease held all along (so the era cannot start over) */
    int32_t other = fg_half_open_take(h, 5.0, &s3);
    assert_true(other >= 0 && other != c);
    static uint32_t ids[600];
    ids[0] = s2;
    double unit = fg_half_open_unit(h->st);
    for (int k = 1; k < 600; k++) {
        assert_true(fg_half_open_give(h, c, ids[k - 1]));
        assert_int_equal(fg_half_open_take(h, 5.0, &ids[k]), c);
        for (int j = 0; j < k; j++) {
            assert_true(ids[j] != ids[k]);
            assert_false(fg_half_open_give(h, c, ids[j])); /* every earlier ticket is void */
        }
        /* one tick later after each 256 hand-outs at one tick, never more */
        assert_true(fg_half_open_time(h, (uint32_t)c) == 5.0 + (k / 256) * unit);
    }
    assert_true(fg_half_open_time(h, (uint32_t)other) == 5.0);
    assert_int_equal(h->st->in_flight, 2);
    assert_true(fg_half_open_give(h, other, s3));
    assert_true(fg_half_open_give(h, c, ids[599]));
    /* and two slots taken at one reading keep exactly that time */
    int32_t x = fg_half_open_take(h, 7.0, &s1), y = fg_half_open_take(h, 7.0, &s3);
    assert_true(x >= 0 && y >= 0 && x != y);
    assert_true(fg_half_open_time(h, (uint32_t)x) == 7.0 && fg_half_open_time(h, (uint32_t)y) == 7.0);
}

static void leases_expire_oldest_first(void **state) {
    fg_half_open *h = &((slots_fixture *)*state)->h;
    uint32_t s1, s2, s3;
    int32_t a = fg_half_open_take(h, 0.0, &s1);
    int32_t b = fg_half_open_take(h, 5.0, &s2);
    fg_half_open_expire(h, 9.99);
    assert_int_equal(h->st->in_flight, 2);
    assert_int_equal(fg_half_open_expire(h, 10.0), 1); /* a's lease (10 s) is over, b's is not */
    assert_int_equal(h->st->in_flight, 1);
    assert_false(fg_half_open_give(h, a, s1)); /* a late release is void */
    assert_int_equal(fg_half_open_take(h, 10.0, &s3), a);
    assert_true(fg_half_open_give(h, b, s2));
    assert_int_equal(h->st->in_flight, 1);
}

/* A grant's time is rounded up to the tick: its lease ends up to one tick
 * late, never early. */
static void a_lease_off_the_tick_ends_late_never_early(void **state) {
    fg_half_open *h = &((slots_fixture *)*state)->h;
    uint32_t s1, s2;
    fg_half_open_take(h, 1.0, &s1); /* the era's base: exact */
    double at = 1.0 + 1.0 / 3.0, unit = fg_half_open_unit(h->st);
    assert_true(unit > 0.0 && unit <= 10.0 / 0x1p28);
    int32_t b = fg_half_open_take(h, at, &s2);
    double t = fg_half_open_time(h, (uint32_t)b);
    assert_true(t >= at && t - at < unit);
    fg_half_open_expire(h, 11.0);
    assert_int_equal(h->st->in_flight, 1);
    fg_half_open_expire(h, at + 10.0 - unit / 4); /* a tick-exact test would say "over" too early */
    assert_int_equal(h->st->in_flight, 1);
    fg_half_open_expire(h, t + 10.0);
    assert_int_equal(h->st->in_flight, 0);
}

static void reset_frees_every_slot_and_voids_old_tickets(void **state) {
    fg_half_open *h = &((slots_fixture *)*state)->h;
    uint32_t s1, s2, s3;
    int32_t a = fg_half_open_take(h, 0, &s1);
    int32_t b = fg_half_open_take(h, 0, &s2);
    fg_half_open_reset(h);
    assert_int_equal(h->st->in_flight, 0);
    assert_false(fg_half_open_give(h, a, s1));
    assert_false(fg_half_open_give(h, b, s2));
    assert_true(fg_half_open_take(h, 0, &s3) >= 0);
    assert_true(fg_half_open_take(h, 0, &s3) >= 0);
    assert_int_equal(h->st->in_flight, 2);
}

/* Leases held without a break for far longer than the 2^31 ticks of the
 * range (lease 10 s: 2^-25 s a tick, 64 s of ticks): the base moves up
 * under them, tickets still release their slots, lost leases end exactly
 * one lease after they began and their late releases stay void. */
static void ticks_running_out_move_the_base_and_keep_every_ticket(void **state) {
    (void)state;
    fg_half_open_state st;
    uint64_t arrays[3]; /* 3 slots: a lost lease and two that overlap */
    fg_half_open view, *h = &view;
    fg_half_open_init(h, &st, arrays, 3, 10.0, 1);
    assert_true(fg_half_open_unit(h->st) == 0x1p-25);
    uint32_t id[2], lost_id = 0;
    int32_t slot[2], lost = -1;
    double lost_at = 0.0;
    slot[0] = fg_half_open_take(h, 0.0, &id[0]);
    uint64_t expired = 0;
    for (int k = 1; k <= 300; k++) {
        double now = 3.25 * k;
        if (lost >= 0 && now >= lost_at + 10.0) {
            assert_int_equal(fg_half_open_expire(h, lost_at + 10.0 - 0x1p-20), 0); /* not a moment early */
            assert_int_equal(fg_half_open_expire(h, lost_at + 10.0), 1); /* nor late: it began on a tick */
            expired++;
            assert_false(fg_half_open_give(h, lost, lost_id));
            lost = -1;
        }
        assert_int_equal(fg_half_open_expire(h, now), 0); /* only the lost lease ever expires */
        int cur = k & 1, prev = cur ^ 1;
        slot[cur] = fg_half_open_take(h, now, &id[cur]);
        assert_true(slot[cur] >= 0);
        assert_true(fg_half_open_time(h, (uint32_t)slot[cur]) == now);
        if (k % 7 == 0) { /* the previous probe is lost */
            lost = slot[prev];
            lost_id = id[prev];
            lost_at = now - 3.25;
        } else {
            assert_true(fg_half_open_give(h, slot[prev], id[prev])); /* granted before a rebase or not */
            assert_false(fg_half_open_give(h, slot[prev], id[prev]));
        }
        assert_int_equal(h->st->in_flight, lost >= 0 ? 2 : 1);
    }
    assert_true(h->st->base > 800.0); /* the base did move */
    assert_true(expired > 30);
}

/* A live reload to a much longer lease keeps the era's grid; once a lease
 * is held for longer than its ticks reach, the grid coarsens (lease times
 * rounded up: later, never earlier) and every held lease's ticket is void. */
static void a_grid_too_fine_for_the_lease_coarsens(void **state) {
    slots_fixture *f = *state;
    fg_half_open *h = &f->h;
    uint32_t s1, s2;
    int32_t a = fg_half_open_take(h, 1.0, &s1);
    fg_half_open longer = fg_half_open_view(&f->st, f->arrays, 2, 1000.0);
    int32_t b = fg_half_open_take(&longer, 501.0, &s2); /* 500 s: past 2^31 ticks of 2^-25 s */
    assert_true(b >= 0 && b != a);
    double unit = fg_half_open_unit(&f->st);
    assert_true(unit > 0x1p-25 && unit <= 0x1p-20);
    assert_true(fg_half_open_time(&longer, (uint32_t)a) == 1.0);
    double t = fg_half_open_time(&longer, (uint32_t)b);
    assert_true(t >= 501.0 && t - 501.0 < unit);
    /* its tick (0) did not change, its identity did (the era moved on): a
     * probe lost 2^32 fine ticks before would share it, and that is few
     * coarse ticks, so its ticket is void; the lease ends as before */
    assert_false(fg_half_open_give(&longer, a, s1));
    assert_int_equal(f->st.in_flight, 2);
    fg_half_open_expire(&longer, 1500.0);
    assert_int_equal(f->st.in_flight, 1);
    fg_half_open_expire(&longer, t + 1000.0);
    assert_int_equal(f->st.in_flight, 0);
}

/* Links are 8-bit up to 256 slots and 16-bit beyond, up to 65536 (the
 * largest max_half_open_calls): every slot can be held, released and
 * handed out again, and the last index is told apart from "none". */
static void fill_release_refill(uint32_t capacity) {
    size_t bytes = (size_t)fg_half_open_bytes(capacity);
    assert_int_equal(bytes, ((uint64_t)capacity * (capacity <= 256 ? 7 : 9) + 7) / 8 * 8);
    void *arrays = malloc(bytes);
    uint32_t *ids = malloc(sizeof *ids * capacity);
    unsigned char *seen = calloc(capacity, 1);
    assert_true(arrays != NULL && ids != NULL && seen != NULL);
    memset(arrays, 0x5A, bytes);
    fg_half_open_state st;
    fg_half_open h;
    fg_half_open_init(&h, &st, arrays, capacity, 10.0, 1);
    for (uint32_t k = 0; k < capacity; k++) {
        int32_t i = fg_half_open_take(&h, 0.5, &ids[k]);
        assert_int_equal(i, (int32_t)k);
        assert_true(fg_half_open_busy(&h, i));
    }
    uint32_t extra;
    assert_int_equal(fg_half_open_take(&h, 0.5, &extra), -1);
    assert_int_equal(st.in_flight, capacity);
    /* release every other slot, the last one first */
    for (uint32_t k = capacity; k-- > 0;)
        if (k % 2 == 1 || k == capacity - 1) assert_true(fg_half_open_give(&h, (int32_t)k, ids[k]));
    for (uint32_t k = 0; k < capacity; k++)
        assert_int_equal(fg_half_open_busy(&h, (int32_t)k), !(k % 2 == 1 || k == capacity - 1));
    /* handed out again: exactly the freed slots, the last index among them */
    uint32_t freed = capacity - st.in_flight;
    for (uint32_t k = 0; k < freed; k++) {
        uint32_t id;
        int32_t i = fg_half_open_take(&h, 1.5, &id);
        assert_true(i >= 0 && (uint32_t)i < capacity && !seen[i]);
        assert_true((i % 2 == 1 || (uint32_t)i == capacity - 1));
        assert_false(fg_half_open_give(&h, i, ids[i])); /* the earlier ticket is void */
        seen[i] = 1;
        ids[i] = id;
    }
    assert_true(seen[capacity - 1]);
    assert_int_equal(fg_half_open_take(&h, 1.5, &extra), -1);
    /* the leases end in the order they began */
    assert_int_equal(fg_half_open_expire(&h, 10.5), capacity - freed);
    assert_int_equal(st.in_flight, freed);
    assert_true(fg_half_open_give(&h, (int32_t)capacity - 1, ids[capacity - 1]));
    assert_int_equal(fg_half_open_expire(&h, 11.5), freed - 1);
    assert_int_equal(st.in_flight, 0);
    free(seen);
    free(ids);
    free(arrays);
}

static void links_are_as_wide_as_the_capacity_needs(void **state) {
    (void)state;
    fill_release_refill(1);
    fill_release_refill(255);
    fill_release_refill(256);
    fill_release_refill(257);
    fill_release_refill(65536);
    assert_int_equal(fg_half_open_bytes(256), 256 * 7);
    assert_int_equal(fg_half_open_bytes(257), (257 * 9 + 7) / 8 * 8);
    assert_int_equal(fg_half_open_bytes(10), 72);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(all_admits_without_drawing),
        cmocka_unit_test(random_admits_below_its_ratio_with_one_draw_each),
        cmocka_unit_test(random_zero_never_admits),
        cmocka_unit_test(the_prng_is_splitmix64),
        cmocka_unit_test(prng_draws_are_uniform_on_the_53_bit_grid),
        cmocka_unit_test(an_old_state_folds_deterministically),
        cmocka_unit_test(ramp_up_rises_linearly_then_holds),
        cmocka_unit_test(ramp_up_is_final_once_the_duration_is_over),
        cmocka_unit_test(user_draws_are_clamped_into_unit_interval),
        cmocka_unit_test(seeded_prng_replays_and_stays_in_range),
        cmocka_unit_test_setup_teardown(slots_bound_calls_in_flight, slots_setup, slots_teardown),
        cmocka_unit_test_setup_teardown(a_double_release_never_frees_someone_elses_slot, slots_setup,
                                        slots_teardown),
        cmocka_unit_test_setup_teardown(a_slot_handed_out_again_at_the_same_time_voids_the_first_ticket,
                                        slots_setup, slots_teardown),
        cmocka_unit_test_setup_teardown(leases_expire_oldest_first, slots_setup, slots_teardown),
        cmocka_unit_test_setup_teardown(reset_frees_every_slot_and_voids_old_tickets, slots_setup,
                                        slots_teardown),
        cmocka_unit_test_setup_teardown(a_lease_off_the_tick_ends_late_never_early, slots_setup,
                                        slots_teardown),
        cmocka_unit_test(ticks_running_out_move_the_base_and_keep_every_ticket),
        cmocka_unit_test_setup_teardown(a_grid_too_fine_for_the_lease_coarsens, slots_setup, slots_teardown),
        cmocka_unit_test(links_are_as_wide_as_the_capacity_needs),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
