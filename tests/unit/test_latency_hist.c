/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * test_latency_hist.c: the per-command latency histograms of latency.h
 * against a plain model of Redis 7.0's HdrHistogram (lowest 1, highest 1e9,
 * 2 significant digits): a value v >= 256 shares its counter with the
 * 2^b values of [(v >> b) << b, + 2^b) where b = floor(log2 v) - 7; below
 * 256 every value has its own counter. Percentiles and the LATENCY
 * HISTOGRAM levels are checked against the sorted recorded values, and a few
 * figures against what redis-server 7.0.15 printed.
 */
#include "shardis/latency.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

static uint64_t rng = 88172645463325252ULL;

static uint64_t next_rand(void)
{
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    return rng;
}

/* The model's equivalence range of v. */
static void model_range(int64_t v, int64_t *lo, int64_t *hi)
{
    int b = 0;

    if (v < 256) {
        *lo = *hi = v;
        return;
    }
    while ((v >> b) >= 256) {
        b++;
    }
    *lo = (v >> b) << b;
    *hi = *lo + ((int64_t)1 << b) - 1;
}

static int64_t model_ns(int64_t us)
{
    int64_t ns = us * 1000;

    return ns < 1 ? 1 : ns > LATENCY_HIST_MAX_NS ? LATENCY_HIST_MAX_NS : ns;
}

static int cmp_i64(const void *a, const void *b)
{
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;

    return (x > y) - (x < y);
}

static void test_counters_match_the_model(void **state)
{
    int prev = -1;

    (void)state;
    for (int64_t v = 1; v < 70000; v++) {
        int64_t lo, hi;
        int idx = latency_hist_index(v);

        model_range(v, &lo, &hi);
        assert_true(idx >= prev && idx < LATENCY_HIST_LEN);
        assert_int_equal(idx != prev, v == lo); /* a new counter where a range starts */
        assert_int_equal(latency_hist_value_at(idx), lo);
        assert_int_equal(latency_hist_lowest(v), lo);
        assert_int_equal(latency_hist_highest(v), hi);
        prev = idx;
    }
    for (int i = 0; i < 100000; i++) {
        int64_t v = 1 + (int64_t)(next_rand() % (uint64_t)LATENCY_HIST_MAX_NS), lo, hi;
        int idx = latency_hist_index(v);

        model_range(v, &lo, &hi);
        assert_true(idx >= 0 && idx < LATENCY_HIST_LEN);
        assert_int_equal(latency_hist_value_at(idx), lo);
        assert_int_equal(latency_hist_highest(v), hi);
    }
    assert_true(latency_hist_index(LATENCY_HIST_MAX_NS) < LATENCY_HIST_LEN);
}

/* What redis-server 7.0.15 printed for these durations. */
static void test_redis_figures(void **state)
{
    (void)state;
    assert_int_equal(latency_hist_lowest(5000), 4992);
    assert_int_equal(latency_hist_highest(5000), 5023);
    assert_int_equal(latency_hist_highest(600000000), 603979775);
    assert_int_equal(latency_hist_lowest(82000), 81920);
    assert_int_equal(latency_hist_highest(1024) / 1000, 1);
    assert_int_equal(latency_hist_highest(32768) / 1000, 33);
    assert_int_equal(latency_hist_highest(131072) / 1000, 132);
}

static void test_recording_clamps_and_counts(void **state)
{
    struct latency_hist *h = calloc(1, sizeof(*h));

    (void)state;
    latency_hist_record(h, 0);
    latency_hist_record(h, -5);
    latency_hist_record(h, 2000000);
    latency_hist_record(h, INT64_MAX / 2);
    assert_int_equal(h->total, 4);
    assert_int_equal(h->counts[latency_hist_index(1)], 2);
    assert_int_equal(h->counts[latency_hist_index(LATENCY_HIST_MAX_NS)], 2);
    free(h);
}

static void test_percentiles_and_levels_match_the_sorted_values(void **state)
{
    static const double pcts[] = { 0, 0.1, 1, 10, 50, 90, 99, 99.9, 99.99, 100 };

    (void)state;
    for (int round = 0; round < 30; round++) {
        struct latency_hist *h = calloc(1, sizeof(*h));
        int n = 1 + (int)(next_rand() % 2000);
        int64_t *vals = malloc(sizeof(*vals) * (size_t)n);
        int64_t usec[64];
        uint64_t cum[64];
        uint64_t prev = 0;
        int k = 0, got;

        for (int i = 0; i < n; i++) {
            /* durations over six decades, some past the 1 s clamp */
            int64_t us = (int64_t)(next_rand() % 10) * 1;
            int shift = (int)(next_rand() % 22);

            us = (us + 1) << shift;
            us += (int64_t)(next_rand() % ((uint64_t)us + 1));
            latency_hist_record(h, us);
            vals[i] = model_ns(us);
        }
        qsort(vals, (size_t)n, sizeof(*vals), cmp_i64);
        assert_int_equal(h->total, n);
        for (size_t p = 0; p < sizeof(pcts) / sizeof(pcts[0]); p++) {
            int64_t want = (int64_t)(pcts[p] / 100 * n + 0.5), lo, hi;

            want = want < 1 ? 1 : want;
            model_range(vals[want - 1], &lo, &hi);
            assert_int_equal(latency_hist_percentile(h, pcts[p]), pcts[p] == 0 ? lo : hi);
        }
        /* levels 1024 ns .. 2^29 ns, then the last counter (1073741 us) */
        got = latency_hist_cdf(h, usec, cum, 64);
        for (int64_t level = 1024; level <= ((int64_t)1 << 30); level *= 2) {
            int64_t lo, hi;
            uint64_t c = 0;

            if (level == ((int64_t)1 << 30)) {
                hi = 1073741823;
            } else {
                model_range(level, &lo, &hi);
            }
            for (int i = 0; i < n; i++) {
                c += vals[i] <= hi;
            }
            if (c > prev) {
                assert_true(k < got);
                assert_int_equal(usec[k], hi / 1000);
                assert_int_equal(cum[k], c);
                k++;
            }
            prev = c;
        }
        assert_int_equal(k, got);
        assert_int_equal(cum[got - 1], n);
        free(vals);
        free(h);
    }
}

static void test_track_per_command_and_reset(void **state)
{
    struct latency *l = latency_create();

    (void)state;
    assert_null(latency_hist_of(l, 3));
    assert_null(latency_hist_of(NULL, 3));
    latency_track(l, 3, 10, 5);
    latency_track(l, 3, 10, 7);
    latency_track(l, 9, 10, 1);
    latency_track(l, 10, 10, 1); /* past nids: ignored */
    assert_int_equal(latency_hist_of(l, 3)->total, 2);
    assert_int_equal(latency_hist_of(l, 9)->total, 1);
    assert_null(latency_hist_of(l, 4));
    assert_null(latency_hist_of(l, 10));
    latency_hist_reset(l);
    assert_null(latency_hist_of(l, 3));
    latency_track(l, 3, 10, 5);
    assert_int_equal(latency_hist_of(l, 3)->total, 1);
    latency_hist_reset(NULL);
    latency_destroy(l);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_counters_match_the_model),
        cmocka_unit_test(test_redis_figures),
        cmocka_unit_test(test_recording_clamps_and_counts),
        cmocka_unit_test(test_percentiles_and_levels_match_the_sorted_values),
        cmocka_unit_test(test_track_per_command_and_reset),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
