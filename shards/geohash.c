/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * geohash.c: the geometry of the geo commands, reproducing Redis 7.0's
 * geohash.c and geohash_helper.c result for result (see geohash.h).
 *
 * A cell of step s splits each coordinate range in 2^s parts; its bits are
 * the latitude index and the longitude index interleaved:
 *
 *     bit   2s-1  2s-2  ...   3     2     1     0
 *           lon   lat   ...   lon   lat   lon   lat
 *
 * so that the cells sharing a prefix share a parent cell, and a cell's
 * scores (its bits followed by 52 - 2s zero bits, and up to the next cell)
 * are one contiguous range of the sorted set.
 *
 * A search picks the step whose cells are about as wide as the search area
 * (geohash_estimate_steps), one step coarser when a neighbour would not
 * reach past the area's bounding box, and reads the centre's cell and the 8
 * around it, leaving out those on a side the area does not reach. Every
 * floating-point expression follows Redis's, operation by operation, and
 * conversions from double to integer follow what x86-64 code does where C
 * leaves them undefined (geohash_score_decode), so that results match
 * redis-server's exactly.
 *
 * Threading: pure functions, no state.
 */
#include "shardis/geohash.h"

#include <math.h>

#define DEG_TO_RAD   (M_PI / 180.0)
#define MERCATOR_MAX 20037726.37

static double deg_rad(double ang)
{
    return ang * DEG_TO_RAD;
}

static double rad_deg(double ang)
{
    return ang / DEG_TO_RAD;
}

/* The 32 bits of v spread to the even bits of the result. */
static uint64_t spread(uint32_t v)
{
    uint64_t x = v;

    x = (x | (x << 16)) & 0x0000FFFF0000FFFFULL;
    x = (x | (x << 8)) & 0x00FF00FF00FF00FFULL;
    x = (x | (x << 4)) & 0x0F0F0F0F0F0F0F0FULL;
    x = (x | (x << 2)) & 0x3333333333333333ULL;
    x = (x | (x << 1)) & 0x5555555555555555ULL;
    return x;
}

/* The even bits of x gathered into 32 bits. */
static uint32_t gather(uint64_t x)
{
    x &= 0x5555555555555555ULL;
    x = (x | (x >> 1)) & 0x3333333333333333ULL;
    x = (x | (x >> 2)) & 0x0F0F0F0F0F0F0F0FULL;
    x = (x | (x >> 4)) & 0x00FF00FF00FF00FFULL;
    x = (x | (x >> 8)) & 0x0000FFFF0000FFFFULL;
    x = (x | (x >> 16)) & 0x00000000FFFFFFFFULL;
    return (uint32_t)x;
}

/* A cell index from an offset in [0, 2^step]: the conversion Redis makes by
 * passing a double as uint32_t (x86-64 truncates through 64 bits). */
static uint32_t cell_index(double off)
{
    return (uint32_t)(uint64_t)off;
}

static bool range_is_zero(const struct geohash_range *r)
{
    return r->max == 0 && r->min == 0;
}

bool geohash_encode(const struct geohash_range *lon_range, const struct geohash_range *lat_range,
                    double lon, double lat, uint8_t step, struct geohash_bits *out)
{
    double lat_off, lon_off;

    if (step > 32 || step == 0 || range_is_zero(lat_range) || range_is_zero(lon_range)) {
        return false;
    }
    if (lon > GEOHASH_LONG_MAX || lon < GEOHASH_LONG_MIN || lat > GEOHASH_LAT_MAX ||
        lat < GEOHASH_LAT_MIN) {
        return false;
    }
    out->bits = 0;
    out->step = step;
    if (lat < lat_range->min || lat > lat_range->max || lon < lon_range->min ||
        lon > lon_range->max) {
        return false;
    }
    lat_off = (lat - lat_range->min) / (lat_range->max - lat_range->min);
    lon_off = (lon - lon_range->min) / (lon_range->max - lon_range->min);
    lat_off *= (double)(1ULL << step);
    lon_off *= (double)(1ULL << step);
    out->bits = spread(cell_index(lat_off)) | (spread(cell_index(lon_off)) << 1);
    return true;
}

bool geohash_decode(const struct geohash_range *lon_range, const struct geohash_range *lat_range,
                    struct geohash_bits hash, struct geohash_area *out)
{
    double lat_scale = lat_range->max - lat_range->min;
    double lon_scale = lon_range->max - lon_range->min;
    double cells = (double)(1ULL << hash.step);
    uint32_t ilat = gather(hash.bits);
    uint32_t ilon = gather(hash.bits >> 1);
    uint32_t ilat1 = ilat + 1; /* wraps at 2^32, as Redis's */
    uint32_t ilon1 = ilon + 1;

    if ((hash.bits == 0 && hash.step == 0) || range_is_zero(lat_range) ||
        range_is_zero(lon_range)) {
        return false;
    }
    out->lat.min = lat_range->min + (ilat * 1.0 / cells) * lat_scale;
    out->lat.max = lat_range->min + (ilat1 * 1.0 / cells) * lat_scale;
    out->lon.min = lon_range->min + (ilon * 1.0 / cells) * lon_scale;
    out->lon.max = lon_range->min + (ilon1 * 1.0 / cells) * lon_scale;
    return true;
}

static const struct geohash_range WGS84_LON = { GEOHASH_LONG_MIN, GEOHASH_LONG_MAX };
static const struct geohash_range WGS84_LAT = { GEOHASH_LAT_MIN, GEOHASH_LAT_MAX };

uint64_t geohash_score(double lon, double lat)
{
    struct geohash_bits h = { 0, 0 };

    if (!geohash_encode(&WGS84_LON, &WGS84_LAT, lon, lat, GEOHASH_STEP_MAX, &h)) {
        return 0;
    }
    return h.bits << (52 - 2 * GEOHASH_STEP_MAX);
}

/* (uint64_t)d as x86-64 code computes it: below 2^63 through a signed
 * conversion (negative values wrap; -2^63 and below give 2^63), from 2^63
 * by subtracting 2^63 first (2^64 and above give 0). */
static uint64_t score_bits(double d)
{
    if (d >= 0x1p63) {
        return d >= 0x1p64 ? 0 : (uint64_t)d;
    }
    if (d > -0x1p63) {
        return (uint64_t)(int64_t)d;
    }
    return 1ULL << 63;
}

void geohash_score_decode(double score, double xy[2])
{
    struct geohash_bits h = { score_bits(score), GEOHASH_STEP_MAX };
    struct geohash_area a;

    (void)geohash_decode(&WGS84_LON, &WGS84_LAT, h, &a); /* step 26: never a zero cell */
    xy[0] = (a.lon.min + a.lon.max) / 2;
    if (xy[0] > GEOHASH_LONG_MAX) {
        xy[0] = GEOHASH_LONG_MAX;
    }
    if (xy[0] < GEOHASH_LONG_MIN) {
        xy[0] = GEOHASH_LONG_MIN;
    }
    xy[1] = (a.lat.min + a.lat.max) / 2;
    if (xy[1] > GEOHASH_LAT_MAX) {
        xy[1] = GEOHASH_LAT_MAX;
    }
    if (xy[1] < GEOHASH_LAT_MIN) {
        xy[1] = GEOHASH_LAT_MIN;
    }
}

void geohash_cell_scores(struct geohash_bits hash, uint64_t *min, uint64_t *max)
{
    *min = hash.bits << (52 - hash.step * 2);
    *max = (hash.bits + 1) << (52 - hash.step * 2);
}

/* Moves a cell one step along longitude (odd bits, lon true) or latitude
 * (even bits), wrapping around; d is +1 or -1. */
static uint64_t move(struct geohash_bits h, bool lon, int d)
{
    const uint64_t odd = 0xaaaaaaaaaaaaaaaaULL, even = 0x5555555555555555ULL;
    uint64_t mine = h.bits & (lon ? odd : even);
    uint64_t other = h.bits & (lon ? even : odd);
    uint64_t fill = (lon ? even : odd) >> (64 - h.step * 2);

    /* the other coordinate's bits set to 1 carry an add (or a borrow)
     * straight through to the next bit of this one */
    if (d > 0) {
        mine = mine + (fill + 1);
    } else {
        mine = (mine | fill) - (fill + 1);
    }
    mine &= (lon ? odd : even) >> (64 - h.step * 2);
    return mine | other;
}

static struct geohash_bits moved(struct geohash_bits h, int dlon, int dlat)
{
    if (dlon) {
        h.bits = move(h, true, dlon);
    }
    if (dlat) {
        h.bits = move(h, false, dlat);
    }
    return h;
}

void geohash_neighbors(struct geohash_bits hash, struct geohash_bits out[8])
{
    static const int8_t dir[8][2] = { { 0, 1 }, { 0, -1 }, { 1, 0 },  { -1, 0 },
                                      { 1, 1 }, { -1, 1 }, { 1, -1 }, { -1, -1 } };

    for (int i = 0; i < 8; i++) {
        out[i] = moved(hash, dir[i][0], dir[i][1]);
    }
}

void geohash_string(const double xy[2], char out[11])
{
    static const char alphabet[] = "0123456789bcdefghjkmnpqrstuvwxyz";
    static const struct geohash_range lon = { -180, 180 }, lat = { -90, 90 };
    struct geohash_bits h = { 0, 0 };

    (void)geohash_encode(&lon, &lat, xy[0], xy[1], GEOHASH_STEP_MAX, &h);
    for (int i = 0; i < 10; i++) {
        out[i] = alphabet[(h.bits >> (52 - (i + 1) * 5)) & 0x1f];
    }
    out[10] = alphabet[0]; /* 52 bits make 10.4 characters: the last is 0 */
}

/* The distance along a meridian: the haversine formula when the
 * longitudes are equal (asin(sin(x)) is x on [-pi/2, pi/2]). */
static double lat_distance(double lat1, double lat2)
{
    return GEOHASH_EARTH_RADIUS * fabs(deg_rad(lat2) - deg_rad(lat1));
}

double geohash_distance(double lon1, double lat1, double lon2, double lat2)
{
    double lat1r, lat2r, u, a;
    double v = sin((deg_rad(lon2) - deg_rad(lon1)) / 2);

    /* redis-server 7.0.15 takes this shortcut too: it changes the last bit
     * of some distances, so it is part of the exact result */
    if (v == 0.0) {
        return lat_distance(lat1, lat2);
    }
    lat1r = deg_rad(lat1);
    lat2r = deg_rad(lat2);
    u = sin((lat2r - lat1r) / 2);
    a = u * u + cos(lat1r) * cos(lat2r) * v * v;
    return 2.0 * GEOHASH_EARTH_RADIUS * asin(sqrt(a));
}

uint8_t geohash_estimate_steps(double range_m, double lat)
{
    int step = 1;

    if (range_m == 0) {
        return 26;
    }
    while (range_m < MERCATOR_MAX) {
        range_m *= 2;
        step++;
    }
    step -= 2; /* so that the range fits in most cases */
    /* meridians converge towards the poles: wider cells there */
    if (lat > 66 || lat < -66) {
        step--;
        if (lat > 80 || lat < -80) {
            step--;
        }
    }
    if (step < 1) {
        step = 1;
    }
    if (step > 26) {
        step = 26;
    }
    return (uint8_t)step;
}

void geohash_bounding_box(const struct geohash_shape *s, double bounds[4])
{
    double lon = s->xy[0], lat = s->xy[1];
    double height = s->conversion * (s->type == GEOHASH_CIRCLE ? s->radius : s->height / 2);
    double width = s->conversion * (s->type == GEOHASH_CIRCLE ? s->radius : s->width / 2);
    const double lat_delta = rad_deg(height / GEOHASH_EARTH_RADIUS);
    const double lon_delta_top =
            rad_deg(width / GEOHASH_EARTH_RADIUS / cos(deg_rad(lat + lat_delta)));
    const double lon_delta_bottom =
            rad_deg(width / GEOHASH_EARTH_RADIUS / cos(deg_rad(lat - lat_delta)));
    /* the edge nearer the pole spans more longitude: the top one in the
     * northern hemisphere, the bottom one in the southern */
    bool south = lat < 0;

    bounds[0] = south ? lon - lon_delta_bottom : lon - lon_delta_top;
    bounds[2] = south ? lon + lon_delta_bottom : lon + lon_delta_top;
    bounds[1] = lat - lat_delta;
    bounds[3] = lat + lat_delta;
}

/* Encodes the centre at step and fills the centre cell, its neighbours and
 * its area. */
static void cells_at(const struct geohash_shape *s, uint8_t step, struct geohash_bits *centre,
                     struct geohash_bits nb[8], struct geohash_area *area)
{
    (void)geohash_encode(&WGS84_LON, &WGS84_LAT, s->xy[0], s->xy[1], step, centre);
    geohash_neighbors(*centre, nb);
    (void)geohash_decode(&WGS84_LON, &WGS84_LAT, *centre, area);
}

enum { NB_N, NB_S, NB_E, NB_W, NB_NE, NB_NW, NB_SE, NB_SW };

/* Whether the neighbours at step leave part of the bounding box b out. */
static bool neighbors_too_small(const struct geohash_bits nb[8], const double b[4])
{
    struct geohash_area n, so, e, w;

    (void)geohash_decode(&WGS84_LON, &WGS84_LAT, nb[NB_N], &n);
    (void)geohash_decode(&WGS84_LON, &WGS84_LAT, nb[NB_S], &so);
    (void)geohash_decode(&WGS84_LON, &WGS84_LAT, nb[NB_E], &e);
    (void)geohash_decode(&WGS84_LON, &WGS84_LAT, nb[NB_W], &w);
    return n.lat.max < b[3] || so.lat.min > b[1] || e.lon.max < b[2] || w.lon.min > b[0];
}

static void drop(struct geohash_bits nb[8], int a, int b, int c)
{
    nb[a] = nb[b] = nb[c] = (struct geohash_bits){ 0, 0 };
}

void geohash_areas_of(const struct geohash_shape *s, struct geohash_areas *out)
{
    double b[4], radius_m;
    struct geohash_bits centre = { 0, 0 }, nb[8];
    struct geohash_area area = { { 0, 0 }, { 0, 0 } };
    uint8_t steps;

    geohash_bounding_box(s, b);
    radius_m = s->type == GEOHASH_CIRCLE
                       ? s->radius
                       : sqrt((s->width / 2) * (s->width / 2) + (s->height / 2) * (s->height / 2));
    radius_m *= s->conversion;
    steps = geohash_estimate_steps(radius_m, s->xy[1]);
    cells_at(s, steps, &centre, nb, &area);
    if (steps > 1 && neighbors_too_small(nb, b)) {
        steps--;
        cells_at(s, steps, &centre, nb, &area);
    }
    if (steps >= 2) {
        if (area.lat.min < b[1]) {
            drop(nb, NB_S, NB_SW, NB_SE);
        }
        if (area.lat.max > b[3]) {
            drop(nb, NB_N, NB_NE, NB_NW);
        }
        if (area.lon.min < b[0]) {
            drop(nb, NB_W, NB_SW, NB_NW);
        }
        if (area.lon.max > b[2]) {
            drop(nb, NB_E, NB_SE, NB_NE);
        }
    }
    out->cell[0] = centre;
    for (int i = 0; i < 8; i++) {
        out->cell[i + 1] = nb[i];
    }
}

bool geohash_within(const struct geohash_shape *s, double score, double xy[2], double *dist)
{
    double lon_d, lat_d;

    geohash_score_decode(score, xy);
    if (s->type == GEOHASH_CIRCLE) {
        double r = s->radius * s->conversion;

        /* a point farther north or south than the radius is out: no path
         * between two parallels is shorter than the meridian. The margin
         * (far above the formulas' rounding errors) leaves every point
         * that the full formula could still place inside to that formula,
         * so the answer is Redis's, bit for bit. */
        if (lat_distance(s->xy[1], xy[1]) > r * (1 + 1e-9) + 1e-6) {
            return false;
        }
        *dist = geohash_distance(s->xy[0], s->xy[1], xy[0], xy[1]);
        return *dist <= r;
    }
    /* the box: the point's north-south distance along its meridian and
     * its east-west distance along its own parallel, each within half a
     * side (the cheaper one first) */
    lat_d = lat_distance(xy[1], s->xy[1]);
    if (lat_d > s->height * s->conversion / 2) {
        return false;
    }
    lon_d = geohash_distance(xy[0], xy[1], s->xy[0], xy[1]);
    if (lon_d > s->width * s->conversion / 2) {
        return false;
    }
    *dist = geohash_distance(s->xy[0], s->xy[1], xy[0], xy[1]);
    return true;
}
