/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * geohash.h: the geometry of Redis 7.0's geo commands (geohash.c and
 * geohash_helper.c there), bit for bit, so that a geo set is the same sorted
 * set here and in redis-server:
 *
 *   - a position (longitude, latitude) is a 52-bit score: 26 bits of each,
 *     interleaved (latitude in the even bits, longitude in the odd ones),
 *     over longitudes [-180, 180] and latitudes [-85.05112878, 85.05112878]
 *     (the Web Mercator limits);
 *   - a score decodes to the centre of its cell, clamped to those limits;
 *   - a search (a circle, or an axis-aligned box) covers at most 9 cells
 *     of one precision ("step": bits per coordinate) around the centre,
 *     each a contiguous score range [min, max) of the sorted set;
 *   - distances are haversine distances on a sphere of radius
 *     GEOHASH_EARTH_RADIUS metres.
 *
 * Floating-point operations are written in Redis's order: results are the
 * same doubles, so distances print the same ("%.4f") and the same points
 * fall inside a search.
 *
 * Pure functions: no state, any thread.
 */
#pragma once

#include "shardis/sh.h"

#define GEOHASH_STEP_MAX     26 /* bits per coordinate of a score */
#define GEOHASH_LAT_MIN      (-85.05112878)
#define GEOHASH_LAT_MAX      85.05112878
#define GEOHASH_LONG_MIN     (-180.0)
#define GEOHASH_LONG_MAX     180.0
#define GEOHASH_EARTH_RADIUS 6372797.560856 /* metres */

/* A cell: its interleaved bits (2 * step of them). A zero cell (bits 0,
 * step 0) is "no cell": a search area left out. */
struct geohash_bits {
    uint64_t bits;
    uint8_t step;
};

struct geohash_range {
    double min;
    double max;
};

/* The extent of a cell. */
struct geohash_area {
    struct geohash_range lon;
    struct geohash_range lat;
};

enum geohash_shape_type {
    GEOHASH_CIRCLE = 1,
    GEOHASH_BOX = 2,
};

/* A search area, as GEOSEARCH's BYRADIUS / BYBOX give it: the sizes in the
 * command's unit, conversion the metres of one unit. */
struct geohash_shape {
    int type;     /* enum geohash_shape_type */
    double xy[2]; /* the centre: longitude, latitude */
    double conversion;
    double radius; /* GEOHASH_CIRCLE */
    double width;  /* GEOHASH_BOX */
    double height;
};

/* The cells a search reads, in Redis's order: the centre's cell, then its
 * north, south, east, west, north-east, north-west, south-east and
 * south-west neighbours; neighbours that cannot hold a match are zero
 * cells. All of the same step. */
#define GEOHASH_AREAS 9
struct geohash_areas {
    struct geohash_bits cell[GEOHASH_AREAS];
};

/* Encodes (lon, lat) with step bits per coordinate over the given ranges
 * (Redis's geohashEncode). Returns false when step is not in [1, 32] or a
 * coordinate is outside the Web Mercator limits or its range. */
bool geohash_encode(const struct geohash_range *lon_range, const struct geohash_range *lat_range,
                    double lon, double lat, uint8_t step, struct geohash_bits *out);
/* The area of a cell over the given ranges; false for a zero cell. */
bool geohash_decode(const struct geohash_range *lon_range, const struct geohash_range *lat_range,
                    struct geohash_bits hash, struct geohash_area *out);
/* The 52-bit score of a position (GEOADD's), which must be inside the Web
 * Mercator limits (checked by the caller). */
uint64_t geohash_score(double lon, double lat);
/* The position of a sorted-set score: the centre of its cell, clamped to the
 * limits (Redis's decodeGeohash). Any score decodes, as on x86-64 Redis: the
 * double becomes its 64-bit pattern as (uint64_t) does there, including the
 * out-of-range cases that C leaves undefined. */
void geohash_score_decode(double score, double xy[2]);
/* The score range [*min, *max) of the scores inside cell hash. */
void geohash_cell_scores(struct geohash_bits hash, uint64_t *min, uint64_t *max);
/* The 8 neighbours of a cell (wrapping around at the edges), in the order
 * north, south, east, west, north-east, north-west, south-east,
 * south-west. */
void geohash_neighbors(struct geohash_bits hash, struct geohash_bits out[8]);
/* GEOHASH's 11-character string of a position (the standard geohash over
 * latitudes [-90, 90], the 11th character always '0'). out gets no NUL. */
void geohash_string(const double xy[2], char out[11]);

/* Haversine distance in metres, as redis-server 7.0.15 computes it (its
 * geohashGetDistance, with the shortcut along a meridian). */
double geohash_distance(double lon1, double lat1, double lon2, double lat2);
/* Step (bits per coordinate) whose cells are about range_m wide at lat. */
uint8_t geohash_estimate_steps(double range_m, double lat);
/* The longitude/latitude bounds of a shape: bounds[0], bounds[2] the
 * minimum and maximum longitude, bounds[1], bounds[3] the latitudes. */
void geohash_bounding_box(const struct geohash_shape *s, double bounds[4]);
/* The cells to read for a search over shape s. */
void geohash_areas_of(const struct geohash_shape *s, struct geohash_areas *out);
/* Whether the point of score lies in s: sets xy to its position and *dist
 * to its distance in metres from the centre (when inside). */
bool geohash_within(const struct geohash_shape *s, double score, double xy[2], double *dist);
