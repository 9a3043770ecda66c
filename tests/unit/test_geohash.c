/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * test_geohash.c: the geo geometry through its public header: scores,
 * positions, GEOHASH strings and distances that redis-server 7.0.15 gave
 * for the same input (exact doubles), encode/decode round trips over random
 * positions (fixed seed), x86-64's conversion of odd scores, neighbours and
 * cell score ranges, step estimates, the 9 search areas covering a circle
 * (checked against a brute-force scan), and the circle and box tests.
 */
#include "shardis/geohash.h"

#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

/* A small deterministic generator (xorshift64*). */
static uint64_t rng_state = 0x9E3779B97F4A7C15ULL;

static uint64_t rng(void)
{
    rng_state ^= rng_state >> 12;
    rng_state ^= rng_state << 25;
    rng_state ^= rng_state >> 27;
    return rng_state * 0x2545F4914F6CDD1DULL;
}

static double uniform(double lo, double hi)
{
    return lo + (hi - lo) * ((double)(rng() >> 11) / 9007199254740992.0);
}

/* got as Redis prints a coordinate ("%.17f", trailing zeros removed) */
static void assert_double_is(double got, const char *want)
{
    char buf[64];
    int n = snprintf(buf, sizeof(buf), "%.17f", got);

    while (n > 1 && buf[n - 1] == '0') {
        buf[--n] = '\0';
    }
    if (n > 1 && buf[n - 1] == '.') {
        buf[--n] = '\0';
    }
    if (strcmp(buf, want) != 0) {
        fail_msg("got %s, want %s", buf, want);
    }
}

static void assert_position(double score, const char *lon, const char *lat)
{
    double xy[2];

    geohash_score_decode(score, xy);
    assert_double_is(xy[0], lon);
    assert_double_is(xy[1], lat);
}

static void assert_hash_string(double score, const char *want)
{
    double xy[2];
    char buf[11];

    geohash_score_decode(score, xy);
    geohash_string(xy, buf);
    assert_memory_equal(buf, want, 11);
}

static void test_scores_match_redis(void **state)
{
    (void)state;
    assert_int_equal(geohash_score(13.361389, 38.115556), 3479099956230698ULL);
    assert_int_equal(geohash_score(15.087269, 37.502669), 3479447370796909ULL);
    assert_int_equal(geohash_score(0, 0), 3377699720527872ULL);
    assert_int_equal(geohash_score(-180, -85.05112878), 0);
    /* the upper edges spill past 52 bits, as in Redis */
    assert_int_equal(geohash_score(180, 85.05112878), 13510798882111488ULL);
}

static void test_positions_match_redis(void **state)
{
    (void)state;
    assert_position(3479099956230698.0, "13.36138933897018433", "38.11555639549629859");
    assert_position(3479447370796909.0, "15.08726745843887329", "37.50266842333162032");
    assert_position(3377699720527872.0, "0.00000268220901489", "0.00000126736058093");
    assert_position(0, "-179.99999731779098511", "-85.05112751263942528");
    assert_position(13510798882111488.0, "180", "85.0511287799999991");
}

static void test_odd_scores_decode_as_on_x86(void **state)
{
    (void)state;
    /* -1 is all ones: clamped to the top corner */
    assert_position(-1, "180", "85.0511287799999991");
    /* 2^64 and above become 0 */
    assert_position(1e30, "-179.99999731779098511", "-85.05112751263942528");
    assert_position(4503599627370496.0, "-179.99999731779098511", "85.0511287799999991");
    assert_position(4503599627370495.0, "179.99999731779098511", "85.05112751263942528");
    /* 2^63 and above: exact up to 2^64 */
    assert_position(1.5e19, "180", "85.0511287799999991");
    /* -2^63 and below, -inf: 2^63, the top longitude bit */
    assert_position(-9.3e18, "180", "-85.05112751263942528");
    assert_position(-INFINITY, "180", "-85.05112751263942528");
    assert_position(INFINITY, "-179.99999731779098511", "-85.05112751263942528");
}

static void test_hash_strings_match_redis(void **state)
{
    (void)state;
    assert_hash_string(3479099956230698.0, "sqc8b49rny0");
    assert_hash_string(3479447370796909.0, "sqdtr74hyu0");
    assert_hash_string(3377699720527872.0, "s0000000000");
    assert_hash_string(0, "00bh0hbj200");
    assert_hash_string(-1, "bp05b5048p0");
    assert_hash_string(4503599627370495.0, "zzpgzgpfxz0");
    assert_hash_string(-INFINITY, "00bh0hbj200");
    assert_hash_string(1.5e19, "bp05b5048p0");
}

static void test_distances_match_redis(void **state)
{
    double a[2], b[2];
    char buf[64];

    (void)state;
    geohash_score_decode(3479099956230698.0, a);
    geohash_score_decode(3479447370796909.0, b);
    snprintf(buf, sizeof(buf), "%.4f", geohash_distance(a[0], a[1], b[0], b[1]));
    assert_string_equal(buf, "166274.1516");
    snprintf(buf, sizeof(buf), "%.4f",
             geohash_distance(180, 85.0511287799999991, -179.99999731779098511,
                              -85.05112751263942528));
    assert_string_equal(buf, "18919844.5891");
    /* along a meridian: the shortcut redis-server 7.0.15 takes (the full
     * haversine formula gives ...463 here) */
    snprintf(buf, sizeof(buf), "%.17g",
             geohash_distance(180, 2.748467, 180, -22.05653392812872937) / 1000);
    assert_string_equal(buf, "2758.9684747323467");
    assert_true(geohash_distance(10, 20, 10, 20) == 0);
}

static void test_encode_decode_round_trips(void **state)
{
    const double cell_lon = 360.0 / (1 << 26), cell_lat = 2 * 85.05112878 / (1 << 26);

    (void)state;
    for (int i = 0; i < 100000; i++) {
        double lon = uniform(-180, 180), lat = uniform(GEOHASH_LAT_MIN, GEOHASH_LAT_MAX), xy[2];
        uint64_t score = geohash_score(lon, lat);

        assert_true(score < (1ULL << 52));
        geohash_score_decode((double)score, xy);
        assert_true(fabs(xy[0] - lon) <= cell_lon / 2 + 1e-12);
        assert_true(fabs(xy[1] - lat) <= cell_lat / 2 + 1e-12);
        /* the centre of a cell encodes to the same cell */
        assert_int_equal(geohash_score(xy[0], xy[1]), score);
    }
}

static void test_encode_rejects_out_of_range(void **state)
{
    struct geohash_range lon = { -180, 180 }, lat = { -85.05112878, 85.05112878 };
    struct geohash_range zero = { 0, 0 };
    struct geohash_bits h;

    (void)state;
    assert_false(geohash_encode(&lon, &lat, 181, 0, 26, &h));
    assert_false(geohash_encode(&lon, &lat, 0, 86, 26, &h));
    assert_false(geohash_encode(&lon, &lat, 0, 0, 0, &h));
    assert_false(geohash_encode(&lon, &lat, 0, 0, 33, &h));
    assert_false(geohash_encode(&zero, &lat, 0, 0, 26, &h));
    assert_true(geohash_encode(&lon, &lat, 0, 0, 1, &h));
    assert_int_equal(h.step, 1);
    assert_int_equal(h.bits, 3); /* the upper right quarter: lon and lat bits set */
}

static void test_decode_of_zero_cell_fails(void **state)
{
    struct geohash_range lon = { -180, 180 }, lat = { -85.05112878, 85.05112878 };
    struct geohash_area a;

    (void)state;
    assert_false(geohash_decode(&lon, &lat, (struct geohash_bits){ 0, 0 }, &a));
    assert_true(geohash_decode(&lon, &lat, (struct geohash_bits){ 0, 1 }, &a));
    assert_true(a.lon.min == -180 && a.lon.max == 0);
    assert_true(a.lat.min == -85.05112878 && a.lat.max == 0);
}

static void area_of(struct geohash_bits h, struct geohash_area *a)
{
    struct geohash_range lon = { -180, 180 }, lat = { -85.05112878, 85.05112878 };

    assert_true(geohash_decode(&lon, &lat, h, a));
}

static void test_neighbors_are_adjacent_and_wrap(void **state)
{
    struct geohash_range lon = { -180, 180 }, lat = { -85.05112878, 85.05112878 };

    (void)state;
    for (int i = 0; i < 2000; i++) {
        uint8_t step = (uint8_t)(1 + rng() % 26);
        struct geohash_bits h, nb[8], back[8];
        struct geohash_area c, n, e;

        assert_true(geohash_encode(&lon, &lat, uniform(-180, 179.9), uniform(-85, 85), step, &h));
        geohash_neighbors(h, nb);
        area_of(h, &c);
        area_of(nb[0], &n);
        area_of(nb[2], &e);
        if (n.lat.min > c.lat.min) { /* no wrap at the top */
            assert_true(n.lat.min == c.lat.max);
            assert_true(n.lon.min == c.lon.min);
        }
        if (e.lon.min > c.lon.min) {
            assert_true(e.lon.min == c.lon.max);
            assert_true(e.lat.min == c.lat.min);
        }
        /* west of east, south of north, north-east of south-west: back */
        geohash_neighbors(nb[2], back);
        assert_int_equal(back[3].bits, h.bits);
        geohash_neighbors(nb[0], back);
        assert_int_equal(back[1].bits, h.bits);
        geohash_neighbors(nb[7], back);
        assert_int_equal(back[4].bits, h.bits);
        for (int k = 0; k < 8; k++) {
            assert_int_equal(nb[k].step, step);
            assert_true(nb[k].bits < (1ULL << (2 * step)));
        }
    }
}

static void test_cell_scores_hold_the_cell_points(void **state)
{
    struct geohash_range lon = { -180, 180 }, lat = { -85.05112878, 85.05112878 };

    (void)state;
    for (int i = 0; i < 2000; i++) {
        double x = uniform(-180, 180), y = uniform(-85, 85);
        uint8_t step = (uint8_t)(1 + rng() % 26);
        uint64_t score = geohash_score(x, y), min, max;
        struct geohash_bits h;

        assert_true(geohash_encode(&lon, &lat, x, y, step, &h));
        geohash_cell_scores(h, &min, &max);
        assert_true(min <= score && score < max);
        assert_int_equal(max - min, 1ULL << (52 - 2 * step));
    }
}

static void test_estimate_steps(void **state)
{
    (void)state;
    assert_int_equal(geohash_estimate_steps(0, 0), 26);
    assert_int_equal(geohash_estimate_steps(1, 0), 24);
    assert_int_equal(geohash_estimate_steps(1000, 0), 14);
    assert_int_equal(geohash_estimate_steps(1000, 70), 13);
    assert_int_equal(geohash_estimate_steps(1000, -81), 12);
    assert_int_equal(geohash_estimate_steps(1e7, 0), 1);
    assert_int_equal(geohash_estimate_steps(1e9, 89), 1);
}

static void test_bounding_box_is_wider_towards_the_pole(void **state)
{
    struct geohash_shape n = {
        .type = GEOHASH_CIRCLE, .xy = { 10, 50 }, .conversion = 1000, .radius = 100
    };
    struct geohash_shape s = n;
    double bn[4], bs[4];

    (void)state;
    s.xy[1] = -50;
    geohash_bounding_box(&n, bn);
    geohash_bounding_box(&s, bs);
    assert_true(fabs((bn[3] - bn[1]) - 2 * 100000 / GEOHASH_EARTH_RADIUS * 180 / M_PI) < 1e-9);
    /* mirrored hemispheres, same box */
    assert_true(fabs(bn[0] - bs[0]) < 1e-9 && fabs(bn[2] - bs[2]) < 1e-9);
    assert_true(bn[2] - bn[0] > 2 * 100000 / GEOHASH_EARTH_RADIUS * 180 / M_PI);
}

/* Whether score lies in one of the areas' cells. */
static bool in_areas(const struct geohash_areas *a, uint64_t score)
{
    for (int i = 0; i < GEOHASH_AREAS; i++) {
        uint64_t min, max;

        if (a->cell[i].bits == 0 && a->cell[i].step == 0) {
            continue;
        }
        geohash_cell_scores(a->cell[i], &min, &max);
        if (score >= min && score < max) {
            return true;
        }
    }
    return false;
}

static void test_areas_cover_every_point_in_the_shape(void **state)
{
    (void)state;
    for (int q = 0; q < 200; q++) {
        struct geohash_shape s = { .xy = { uniform(-170, 170), uniform(-80, 80) },
                                   .conversion = 1 };
        struct geohash_areas a;

        if (q % 2) {
            s.type = GEOHASH_BOX;
            s.width = uniform(10, 400000);
            s.height = uniform(10, 400000);
        } else {
            s.type = GEOHASH_CIRCLE;
            s.radius = uniform(10, 300000);
        }
        geohash_areas_of(&s, &a);
        for (int i = 0; i < 500; i++) {
            double x = s.xy[0] + uniform(-4, 4), y = s.xy[1] + uniform(-4, 4), xy[2], d;
            uint64_t score;

            if (y < GEOHASH_LAT_MIN || y > GEOHASH_LAT_MAX) {
                continue;
            }
            score = geohash_score(x, y);
            if (geohash_within(&s, (double)score, xy, &d)) {
                assert_true(in_areas(&a, score));
            }
        }
    }
}

static void test_within_circle_and_box(void **state)
{
    struct geohash_shape c = {
        .type = GEOHASH_CIRCLE, .xy = { 15, 37 }, .conversion = 1000, .radius = 200
    };
    struct geohash_shape b = {
        .type = GEOHASH_BOX, .xy = { 15, 37 }, .conversion = 1000, .width = 400, .height = 400
    };
    double xy[2], d = -1;
    char buf[32];

    (void)state;
    assert_true(geohash_within(&c, 3479099956230698.0, xy, &d)); /* Palermo */
    snprintf(buf, sizeof(buf), "%.4f", d / 1000);
    assert_string_equal(buf, "190.4424");
    c.radius = 190;
    assert_false(geohash_within(&c, 3479099956230698.0, xy, &d));
    assert_true(geohash_within(&b, 3479099956230698.0, xy, &d));
    b.width = 250; /* Palermo is about 144 km west of the centre */
    assert_false(geohash_within(&b, 3479099956230698.0, xy, &d));
    b.width = 400;
    b.height = 100; /* and about 124 km north */
    assert_false(geohash_within(&b, 3479099956230698.0, xy, &d));
}

/* The circle test's shortcut (points north or south of the radius) never
 * changes an answer of the full formula, even at the edge. */
static void test_within_circle_agrees_with_the_distance(void **state)
{
    (void)state;
    for (int i = 0; i < 200000; i++) {
        struct geohash_shape s = { .type = GEOHASH_CIRCLE,
                                   .xy = { uniform(-179, 179), uniform(-84, 84) },
                                   .conversion = 1 };
        double lon = s.xy[0] + uniform(-0.1, 0.1) * (i % 3), lat = s.xy[1] + uniform(-0.1, 0.1);
        double xy[2], d = -1, full;
        uint64_t score;
        bool in;

        if (lat < GEOHASH_LAT_MIN || lat > GEOHASH_LAT_MAX || lon < -180 || lon > 180) {
            continue;
        }
        score = geohash_score(lon, lat);
        geohash_score_decode((double)score, xy);
        full = geohash_distance(s.xy[0], s.xy[1], xy[0], xy[1]);
        /* a radius right at the point's distance, or one ulp either side */
        s.radius = i % 2 ? full : nextafter(full, (i % 4) < 2 ? 0 : INFINITY);
        in = geohash_within(&s, (double)score, xy, &d);
        assert_int_equal(in, full <= s.radius);
        if (in) {
            assert_true(d == full);
        }
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_scores_match_redis),
        cmocka_unit_test(test_positions_match_redis),
        cmocka_unit_test(test_odd_scores_decode_as_on_x86),
        cmocka_unit_test(test_hash_strings_match_redis),
        cmocka_unit_test(test_distances_match_redis),
        cmocka_unit_test(test_encode_decode_round_trips),
        cmocka_unit_test(test_encode_rejects_out_of_range),
        cmocka_unit_test(test_decode_of_zero_cell_fails),
        cmocka_unit_test(test_neighbors_are_adjacent_and_wrap),
        cmocka_unit_test(test_cell_scores_hold_the_cell_points),
        cmocka_unit_test(test_estimate_steps),
        cmocka_unit_test(test_bounding_box_is_wider_towards_the_pole),
        cmocka_unit_test(test_areas_cover_every_point_in_the_shape),
        cmocka_unit_test(test_within_circle_and_box),
        cmocka_unit_test(test_within_circle_agrees_with_the_distance),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
