/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * cmd_geo.c: the geo command family with Redis 7.0's semantics, replies and
 * error wording (geo.c): GEOADD (NX XX CH), GEODIST, GEOHASH, GEOPOS,
 * GEOSEARCH, GEOSEARCHSTORE, GEORADIUS, GEORADIUSBYMEMBER and their _RO
 * forms.
 *
 * A geo set is a sorted set whose scores are 52-bit geohashes (geohash.h):
 * GEOADD is ZADD with scores computed from the coordinates, and every other
 * command reads the sorted set through the tzset layer. A search covers up
 * to 9 geohash cells around its centre; each cell is one score range, walked
 * with tzset_iter_score, and each point in it is decoded and kept when it
 * lies in the circle or box. The points (members copied, since an integer
 * member of a listpack lives in the iterator's buffer) are then sorted by
 * distance when asked (ASC/DESC, or COUNT without ANY): a stable sort, as
 * glibc's qsort (a merge sort) is for redis-server, so points at the same
 * distance come in the same order. COUNT n ANY stops the walk at n points.
 *
 * Replies: distances are bulk strings "%.4f" in both protocols; coordinates
 * are "%.17Lf" with trailing zeros removed, bulk strings in RESP2 and
 * doubles in RESP3; WITHHASH is the integer score. Missing members are nil
 * (GEOPOS: a nil array).
 *
 * The store forms (GEORADIUS ... STORE/STOREDIST, GEOSEARCHSTORE) replace
 * the destination with a sorted set of the results (score: the geohash, or
 * with STOREDIST the distance in the query's unit), or delete it when there
 * are none; events "georadiusstore" / "geosearchstore" (class z) or "del".
 * With source and destination on one owner the handler runs whole there.
 * Across owners (the scheduler runs it as a transaction over both keys) a
 * two-stage gather coordinates it from the client's core:
 *
 *   stage 0  __geoget cmd argv...      at the source's owner: the whole
 *                                      query, replying *2 :dstindex $bytes
 *                                      (the results in tzset_dump form), or
 *                                      its error
 *   stage 1  __geostore dst bytes ev   at dst's owner: :count
 *
 * GEORADIUS finds its destination through its key specs (a keyword search
 * for STORE / STOREDIST); a destination that those did not report (STORE a
 * STORE b names b last) must live on the same owner, else the command gets
 * CROSSSLOT rather than writing a key the scheduler did not lock.
 *
 * Keyspace: GEOADD publishes "zadd" when it added or changed something, like
 * ZADD; read commands count keyspace hits and misses.
 *
 * Threading: handlers run on the owner of their keys, the gather on the
 * client's core.
 */
#include "cmd_zset_internal.h"
#include "shardis/cmd_bind.h"
#include "shardis/cmdtab.h"
#include "shardis/geohash.h"
#include "shardis/kdb.h"
#include "shardis/pubsub.h"
#include "shardis/reply.h"
#include "shardis/route.h"
#include "shardis/shard.h"
#include "shardis/util.h"
#include "shardis/zsl.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define ERR_NOT_FLOAT "ERR value is not a valid float"
#define ERR_DECODE    "ERR could not decode requested zset member"
#define ERR_UNIT      "ERR unsupported unit provided. please use M, KM, FT, MI"
#define ERR_CROSSSLOT "CROSSSLOT Keys in request don't hash to the same slot"

/* What a search command is (Redis's georadiusGeneric flags). */
enum {
    GF_COORDS = 1 << 0,      /* GEORADIUS: the centre is lon lat */
    GF_MEMBER = 1 << 1,      /* GEORADIUSBYMEMBER: the centre is a member */
    GF_NOSTORE = 1 << 2,     /* the _RO forms: no STORE / STOREDIST */
    GF_SEARCH = 1 << 3,      /* GEOSEARCH syntax */
    GF_SEARCHSTORE = 1 << 4, /* GEOSEARCHSTORE: destination at argv[1] */
};

enum { SORT_NONE = 0, SORT_ASC, SORT_DESC };

/* A parsed search. */
struct geo_query {
    struct geohash_shape shape;
    int store; /* argv index of the destination key, 0 when none */
    int sort;
    long long count; /* 0: no limit */
    bool storedist;
    bool withdist, withhash, withcoord;
    bool any;
};

/* Which of GEOSEARCH's alternatives were given. */
struct geo_seen {
    bool frommember, fromloc, byradius, bybox;
};

/* A point found: position, distance from the centre (metres, then the
 * query's unit), score, and its member in geo_result.mem. */
struct geo_point {
    double xy[2];
    double dist;
    double score;
    size_t moff, mlen;
    const char *m; /* res->mem + moff, once the search is over */
    size_t seq;    /* order found: ties of a sort keep it */
};

struct geo_result {
    struct geo_point *p;
    size_t n, cap;
    char *mem; /* the members' bytes, one after the other */
    size_t mlen, mcap;
};

/* ---- argument helpers ---- */

static bool parse_double(struct reply *r, struct sh_slice s, const char *err, double *out)
{
    if (!util_str2d(s.ptr, s.len, out)) {
        reply_error(r, err ? err : ERR_NOT_FLOAT);
        return false;
    }
    return true;
}

/* Redis's extractLongLatOrReply: lon lat at argv[0], argv[1]. */
static bool parse_lonlat(struct reply *r, const struct sh_slice *argv, double xy[2])
{
    if (!parse_double(r, argv[0], NULL, &xy[0]) || !parse_double(r, argv[1], NULL, &xy[1])) {
        return false;
    }
    if (xy[0] < GEOHASH_LONG_MIN || xy[0] > GEOHASH_LONG_MAX || xy[1] < GEOHASH_LAT_MIN ||
        xy[1] > GEOHASH_LAT_MAX) {
        reply_errorf(r, "ERR invalid longitude,latitude pair %f,%f", xy[0], xy[1]);
        return false;
    }
    return true;
}

/* The metres of one unit (m km ft mi, any case); false after replying. */
static bool parse_unit(struct reply *r, struct sh_slice u, double *to_m)
{
    static const struct {
        const char *name;
        double m;
    } units[] = { { "m", 1 }, { "km", 1000 }, { "ft", 0.3048 }, { "mi", 1609.34 } };

    for (size_t i = 0; i < SH_ARRAY_LEN(units); i++) {
        if (sh_slice_eq_nocase(u, units[i].name)) {
            *to_m = units[i].m;
            return true;
        }
    }
    reply_error(r, ERR_UNIT);
    return false;
}

/* "radius unit" at argv[0], argv[1] into the shape. */
static bool parse_radius(struct reply *r, const struct sh_slice *argv, struct geohash_shape *s)
{
    double d;

    if (!parse_double(r, argv[0], "ERR need numeric radius", &d)) {
        return false;
    }
    if (d < 0) {
        reply_error(r, "ERR radius cannot be negative");
        return false;
    }
    s->radius = d;
    return parse_unit(r, argv[1], &s->conversion);
}

/* "width height unit" at argv[0..2] into the shape. */
static bool parse_box(struct reply *r, const struct sh_slice *argv, struct geohash_shape *s)
{
    double w, h;

    if (!parse_double(r, argv[0], "ERR need numeric width", &w) ||
        !parse_double(r, argv[1], "ERR need numeric height", &h)) {
        return false;
    }
    if (h < 0 || w < 0) {
        reply_error(r, "ERR height or width cannot be negative");
        return false;
    }
    s->width = w;
    s->height = h;
    return parse_unit(r, argv[2], &s->conversion);
}

/* The position of member m of z; false when it is not there. */
static bool member_pos(const struct kval *z, struct sh_slice m, double xy[2])
{
    double score;

    if (!tzset_score(z, m.ptr, m.len, &score)) {
        return false;
    }
    geohash_score_decode(score, xy);
    return true;
}

static bool word_is(struct sh_slice s, const char *w)
{
    return sh_slice_eq_nocase(s, w);
}

/* ---- parsing a search (Redis's order of errors) ---- */

/* COUNT's argument; false after replying. */
static bool parse_count(struct reply *r, struct sh_slice s, long long *count)
{
    if (!util_str2ll(s.ptr, s.len, count)) {
        reply_err_notint(r);
        return false;
    }
    if (*count <= 0) {
        reply_error(r, "ERR COUNT must be > 0");
        return false;
    }
    return true;
}

/* parse_option's answer for a word it does not take there */
#define OPT_SYNTAX (-2)

/* GEOSEARCH's FROM* / BY* option at argv[i] (left arguments after it).
 * Returns the arguments it took after the word, -1 after replying an error,
 * OPT_SYNTAX when argv[i] is none of them or is not allowed there. */
static int parse_search_option(struct reply *r, const struct sh_slice *argv, int i, int left,
                               const struct kval *z, struct geo_query *q, struct geo_seen *seen)
{
    if (word_is(argv[i], "frommember") && left >= 1 && !seen->fromloc) {
        /* with no source key the member is not looked up */
        if (z && !member_pos(z, argv[i + 1], q->shape.xy)) {
            reply_error(r, ERR_DECODE);
            return -1;
        }
        seen->frommember = true;
        return 1;
    }
    if (word_is(argv[i], "fromlonlat") && left >= 2 && !seen->frommember) {
        seen->fromloc = true;
        return parse_lonlat(r, argv + i + 1, q->shape.xy) ? 2 : -1;
    }
    if (word_is(argv[i], "byradius") && left >= 2 && !seen->bybox) {
        q->shape.type = GEOHASH_CIRCLE;
        seen->byradius = true;
        return parse_radius(r, argv + i + 1, &q->shape) ? 2 : -1;
    }
    if (word_is(argv[i], "bybox") && left >= 3 && !seen->byradius) {
        q->shape.type = GEOHASH_BOX;
        seen->bybox = true;
        return parse_box(r, argv + i + 1, &q->shape) ? 3 : -1;
    }
    return OPT_SYNTAX;
}

/* The option at argv[i], as parse_search_option answers. */
static int parse_option(struct reply *r, const struct sh_slice *argv, int i, int left, int flags,
                        const struct kval *z, struct geo_query *q, struct geo_seen *seen)
{
    bool can_store = !(flags & (GF_NOSTORE | GF_SEARCH)) && left >= 1;

    if (word_is(argv[i], "withdist")) {
        q->withdist = true;
    } else if (word_is(argv[i], "withhash")) {
        q->withhash = true;
    } else if (word_is(argv[i], "withcoord")) {
        q->withcoord = true;
    } else if (word_is(argv[i], "any")) {
        q->any = true;
    } else if (word_is(argv[i], "asc")) {
        q->sort = SORT_ASC;
    } else if (word_is(argv[i], "desc")) {
        q->sort = SORT_DESC;
    } else if (word_is(argv[i], "count") && left >= 1) {
        return parse_count(r, argv[i + 1], &q->count) ? 1 : -1;
    } else if (can_store && (word_is(argv[i], "store") || word_is(argv[i], "storedist"))) {
        q->store = i + 1; /* the last one given wins */
        q->storedist = word_is(argv[i], "storedist");
        return 1;
    } else if (word_is(argv[i], "storedist") && (flags & GF_SEARCHSTORE)) {
        q->storedist = true;
    } else if (flags & GF_SEARCH) {
        return parse_search_option(r, argv, i, left, z, q, seen);
    } else {
        return OPT_SYNTAX;
    }
    return 0;
}

/* The checks after the options, in Redis's order; false after replying. */
static bool check_query(struct reply *r, const struct sh_slice *argv, int flags,
                        const struct geo_query *q, const struct geo_seen *seen)
{
    if (q->store && (q->withdist || q->withhash || q->withcoord)) {
        reply_errorf(r, "ERR %s is not compatible with WITHDIST, WITHHASH and WITHCOORD options",
                     (flags & GF_SEARCHSTORE) ? "GEOSEARCHSTORE" : "STORE option in GEORADIUS");
        return false;
    }
    if ((flags & GF_SEARCH) && !seen->frommember && !seen->fromloc) {
        reply_errorf(r, "ERR exactly one of FROMMEMBER or FROMLONLAT can be specified for %.*s",
                     (int)argv[0].len, argv[0].ptr);
        return false;
    }
    if ((flags & GF_SEARCH) && !seen->byradius && !seen->bybox) {
        reply_errorf(r, "ERR exactly one of BYRADIUS and BYBOX can be specified for %.*s",
                     (int)argv[0].len, argv[0].ptr);
        return false;
    }
    if (q->any && !q->count) {
        reply_error(r, "ERR the ANY argument requires COUNT argument");
        return false;
    }
    return true;
}

/* Redis's georadiusGeneric argument handling over argv[0..argc) (argv[0]
 * the command's name), with z the source sorted set or NULL when missing.
 * False after replying an error. */
static bool parse_query(struct reply *r, int argc, const struct sh_slice *argv, int flags,
                        const struct kval *z, struct geo_query *q)
{
    struct geo_seen seen = { false, false, false, false };
    int base;

    memset(q, 0, sizeof(*q));
    if (flags & GF_COORDS) {
        base = 6;
        q->shape.type = GEOHASH_CIRCLE;
        if (!parse_lonlat(r, argv + 2, q->shape.xy) || !parse_radius(r, argv + 4, &q->shape)) {
            return false;
        }
    } else if (flags & GF_MEMBER) {
        /* with no source key the member and the radius are not read */
        base = 5;
        q->shape.type = GEOHASH_CIRCLE;
        if (z && !member_pos(z, argv[2], q->shape.xy)) {
            reply_error(r, ERR_DECODE);
            return false;
        }
        if (z && !parse_radius(r, argv + 3, &q->shape)) {
            return false;
        }
    } else {
        base = (flags & GF_SEARCHSTORE) ? 3 : 2;
        q->store = (flags & GF_SEARCHSTORE) ? 1 : 0;
    }
    for (int i = base; i < argc; i++) {
        int took = parse_option(r, argv, i, argc - i - 1, flags, z, q, &seen);

        if (took == OPT_SYNTAX) {
            reply_err_syntax(r);
        }
        if (took < 0) {
            return false;
        }
        i += took;
    }
    if (!check_query(r, argv, flags, q, &seen)) {
        return false;
    }
    /* COUNT asks for the nearest n: sorted, unless ANY n will do */
    if (q->count && q->sort == SORT_NONE && !q->any) {
        q->sort = SORT_ASC;
    }
    return true;
}

/* ---- the search ---- */

static void result_free(struct geo_result *res)
{
    sh_free(res->p);
    sh_free(res->mem);
}

static void result_add(struct geo_result *res, const struct tzset_elem *e, const double xy[2],
                       double dist)
{
    struct geo_point *p;

    if (res->n == res->cap) {
        res->cap = res->cap ? 2 * res->cap : 16;
        res->p = sh_realloc(res->p, res->cap * sizeof(*res->p));
    }
    if (res->mcap - res->mlen < e->member.len) {
        res->mcap = (res->mlen + e->member.len) * 2;
        res->mem = sh_realloc(res->mem, res->mcap);
    }
    p = &res->p[res->n];
    p->xy[0] = xy[0];
    p->xy[1] = xy[1];
    p->dist = dist;
    p->score = e->score;
    p->moff = res->mlen;
    p->mlen = e->member.len;
    p->seq = res->n++;
    if (e->member.len) {
        memcpy(res->mem + res->mlen, e->member.ptr, e->member.len);
    }
    res->mlen += e->member.len;
}

/* The points of one cell that lie in the shape; stops at limit points in
 * all (0: no limit). */
static void search_cell(const struct kval *z, struct geohash_bits cell,
                        const struct geohash_shape *s, size_t limit, struct geo_result *res)
{
    uint64_t min, max;
    struct zsl_range range;
    struct tzset_iter it;
    struct tzset_elem e;

    geohash_cell_scores(cell, &min, &max);
    range = (struct zsl_range){ .min = (double)min, .max = (double)max, .maxex = true };
    tzset_iter_score(&it, z, &range, false, 0, SIZE_MAX);
    while (tzset_iter_next(&it, &e)) {
        double xy[2], dist = 0;

        if (geohash_within(s, e.score, xy, &dist)) {
            result_add(res, &e, xy, dist);
        }
        if (limit && res->n >= limit) {
            break;
        }
    }
}

/* Redis's membersOfAllNeighbors: the cells around the centre, skipping the
 * left-out ones and a cell equal to the one read just before it (a huge
 * radius makes neighbours repeat). */
static void search_areas(const struct kval *z, const struct geohash_shape *s, size_t limit,
                         struct geo_result *res)
{
    struct geohash_areas a;
    int last = 0;

    geohash_areas_of(s, &a);
    for (int i = 0; i < GEOHASH_AREAS; i++) {
        const struct geohash_bits *c = &a.cell[i];

        if (c->bits == 0 && c->step == 0) {
            continue;
        }
        if (last && c->bits == a.cell[last].bits && c->step == a.cell[last].step) {
            continue;
        }
        if (limit && res->n >= limit) {
            break;
        }
        search_cell(z, *c, s, limit, res);
        last = i;
    }
}

static int cmp_asc(const void *a, const void *b)
{
    const struct geo_point *x = a, *y = b;

    if (x->dist != y->dist) {
        return x->dist > y->dist ? 1 : -1;
    }
    return (x->seq > y->seq) - (x->seq < y->seq);
}

static int cmp_desc(const void *a, const void *b)
{
    const struct geo_point *x = a, *y = b;

    if (x->dist != y->dist) {
        return x->dist < y->dist ? 1 : -1;
    }
    return (x->seq > y->seq) - (x->seq < y->seq);
}

/* Runs the query over z: res gets the points, sorted as asked. Returns the
 * number to reply or store (COUNT). */
static size_t run_query(const struct kval *z, const struct geo_query *q, struct geo_result *res)
{
    size_t n;

    search_areas(z, &q->shape, q->any ? (size_t)q->count : 0, res);
    for (size_t i = 0; i < res->n; i++) {
        res->p[i].m = res->mem ? res->mem + res->p[i].moff : "";
    }
    n = (q->count == 0 || res->n < (unsigned long long)q->count) ? res->n : (size_t)q->count;
    if (q->sort != SORT_NONE && res->n > 1) {
        qsort(res->p, res->n, sizeof(*res->p), q->sort == SORT_ASC ? cmp_asc : cmp_desc);
    }
    for (size_t i = 0; i < n; i++) {
        res->p[i].dist /= q->shape.conversion;
    }
    return n;
}

/* ---- replies ---- */

/* A distance: "%.4f" as a bulk string in both protocols. */
static void reply_distance(struct reply *r, double d)
{
    char buf[128];
    int n = snprintf(buf, sizeof(buf), "%.4f", d);

    reply_bulk(r, buf, n > 0 && (size_t)n < sizeof(buf) ? (size_t)n : 0);
}

/* A coordinate as Redis's addReplyHumanLongDouble: RESP2 bulk, RESP3
 * double, "%.17Lf" without trailing zeros. */
static void reply_coord(struct reply *r, double d)
{
    char buf[64];
    size_t n = util_ld2str(buf, sizeof(buf), d);

    if (r->proto == 2) {
        reply_bulk(r, buf, n);
        return;
    }
    reply_raw(r, ",", 1);
    reply_raw(r, buf, n);
    reply_raw(r, "\r\n", 2);
}

static void reply_point(struct reply *r, const struct geo_query *q, const struct geo_point *p)
{
    int extra = q->withdist + q->withhash + q->withcoord;

    if (extra) {
        reply_array(r, extra + 1);
    }
    reply_bulk(r, p->m, p->mlen);
    if (q->withdist) {
        reply_distance(r, p->dist);
    }
    if (q->withhash) {
        reply_int(r, (long long)p->score); /* a cell's score: below 2^52 */
    }
    if (q->withcoord) {
        reply_array(r, 2);
        reply_coord(r, p->xy[0]);
        reply_coord(r, p->xy[1]);
    }
}

/* ---- storing ---- */

/* (score, member) order of the sorted set, where the score is the one
 * stored (put in dist by store_bytes). */
static int cmp_stored(const void *a, const void *b)
{
    const struct geo_point *x = a, *y = b;
    size_t n = x->mlen < y->mlen ? x->mlen : y->mlen;
    int c;

    if (x->dist != y->dist) {
        return x->dist > y->dist ? 1 : -1;
    }
    c = n ? memcmp(x->m, y->m, n) : 0;
    if (c) {
        return c;
    }
    return x->mlen < y->mlen ? -1 : (x->mlen > y->mlen ? 1 : 0);
}

/* The first n points as a sorted set in tzset_dump form (scores: the
 * geohash, or the distance with STOREDIST). The caller frees the bytes. */
static char *store_bytes(const struct geo_query *q, struct geo_result *res, size_t n, size_t *len)
{
    struct kval_dump d;

    for (size_t i = 0; i < n; i++) {
        if (!q->storedist) {
            res->p[i].dist = res->p[i].score;
        }
    }
    if (n > 1) {
        qsort(res->p, n, sizeof(*res->p), cmp_stored);
    }
    kval_dump_init(&d);
    for (size_t i = 0; i < n; i++) {
        const struct geo_point *p = &res->p[i];

        /* a member is found once (cells are disjoint score ranges), but
         * tzset_restore would refuse a repeat: never store one */
        if (i && cmp_stored(p - 1, p) == 0) {
            continue;
        }
        tzset_dump_put(&d, p->m, p->mlen, p->dist);
    }
    return kval_dump_finish(&d, len);
}

/* ---- the search commands ---- */

/* The flags of a search command by its table name. */
static int search_flags(struct sh_slice name)
{
    static const struct {
        const char *name;
        int flags;
    } cmds[] = {
        { "georadius", GF_COORDS },         { "georadius_ro", GF_COORDS | GF_NOSTORE },
        { "georadiusbymember", GF_MEMBER }, { "georadiusbymember_ro", GF_MEMBER | GF_NOSTORE },
        { "geosearch", GF_SEARCH },         { "geosearchstore", GF_SEARCH | GF_SEARCHSTORE },
    };

    for (size_t i = 0; i < SH_ARRAY_LEN(cmds); i++) {
        if (sh_slice_eq_nocase(name, cmds[i].name)) {
            return cmds[i].flags;
        }
    }
    return 0;
}

static const char *store_event(int flags)
{
    return (flags & GF_SEARCH) ? "geosearchstore" : "georadiusstore";
}

/* Whether key argv[i] belongs to this core. */
static bool key_is_here(struct cmd_ctx *ctx, int i)
{
    uint64_t h;
    int n = ctx->shard->srv->nshards;

    return n <= 1 || shard_owner(n, ctx->argv[i].ptr, ctx->argv[i].len, &h) == ctx->shard->id;
}

/* The client's reply of a search without a destination. */
static void reply_results(struct reply *r, const struct geo_query *q, const struct geo_result *res,
                          size_t n)
{
    reply_array(r, (long long)n);
    for (size_t i = 0; i < n; i++) {
        reply_point(r, q, &res->p[i]);
    }
}

/* Redis's georadiusGeneric over ctx->argv[off..] (argv[off] the command's
 * name as the client typed it, for the error messages), a command of flags
 * GF_*: the whole command, or with part (__geoget) the results to store as
 * *2 :dstindex $bytes, for the gather to store elsewhere. */
static void geo_search(struct cmd_ctx *ctx, int off, int flags, bool part)
{
    const struct sh_slice *argv = ctx->argv + off;
    int argc = ctx->argc - off;
    int src = (flags & GF_SEARCHSTORE) ? 2 : 1;
    struct geo_result res = { 0 };
    struct geo_query q;
    struct kentry *e;
    size_t n = 0, len;
    char *blob;

    if (!cmd_zset_lookup(ctx, src + off, true, &e) ||
        !parse_query(&ctx->r, argc, argv, flags, e ? &e->val : NULL, &q)) {
        return;
    }
    if (q.store && !part && !key_is_here(ctx, q.store + off)) {
        reply_error(&ctx->r, ERR_CROSSSLOT);
        return;
    }
    if (e) {
        n = run_query(&e->val, &q, &res);
    }
    if (!q.store) {
        reply_results(&ctx->r, &q, &res, n);
        result_free(&res);
        return;
    }
    blob = store_bytes(&q, &res, n, &len);
    result_free(&res);
    if (part) {
        reply_array(&ctx->r, 2);
        reply_int(&ctx->r, q.store);
        reply_bulk(&ctx->r, blob, len);
    } else {
        long long stored = cmd_zset_store(ctx->shard, ctx->dbid, argv[q.store],
                                          cmd_key_hash(ctx, q.store + off), blob, len,
                                          store_event(flags), &ctx->unchanged);

        cmd_zset_reply_stored(&ctx->r, stored);
    }
    sh_free(blob);
}

static void cmd_geo_search(struct cmd_ctx *ctx)
{
    struct sh_slice name = { ctx->cmd->fullname, strlen(ctx->cmd->fullname) };

    geo_search(ctx, 0, search_flags(name), false);
}

/* __geoget fullname argv... (the client's arguments) -> *2 :dstindex
 * $bytes, or the command's error */
static void cmd_geoget_internal(struct cmd_ctx *ctx)
{
    int flags = search_flags(ctx->argv[1]);

    if (flags == 0) {
        reply_err_syntax(&ctx->r);
        return;
    }
    geo_search(ctx, 2, flags, true);
}

static const struct cmd_spec geoget_spec = {
    .name = "__geoget",
    .fullname = "__geoget",
    .arity = -4,
    .proc = cmd_geoget_internal,
};

/* __geostore dst bytes event -> :count (dst replaced, or deleted when the
 * bytes hold no element) */
static void cmd_geostore_internal(struct cmd_ctx *ctx)
{
    const char *event = NULL;
    long long n;

    if (sh_slice_eq_nocase(ctx->argv[3], "georadiusstore")) {
        event = "georadiusstore";
    } else if (sh_slice_eq_nocase(ctx->argv[3], "geosearchstore")) {
        event = "geosearchstore";
    } else {
        reply_err_syntax(&ctx->r);
        return;
    }
    n = cmd_zset_store(ctx->shard, ctx->dbid, ctx->argv[1], cmd_key_hash(ctx, 1), ctx->argv[2].ptr,
                       ctx->argv[2].len, event, &ctx->unchanged);
    cmd_zset_reply_stored(&ctx->r, n);
}

static const struct cmd_spec geostore_spec = {
    .name = "__geostore",
    .fullname = "__geostore",
    .arity = 4,
    .proc = cmd_geostore_internal,
};

/* ---- the store forms across shards (client's core) ---- */

static int coord_flags(const struct coord *c)
{
    return search_flags((struct sh_slice){ c->cmd->fullname, strlen(c->cmd->fullname) });
}

static void geostore_start(struct coord *c)
{
    int src = (coord_flags(c) & GF_SEARCHSTORE) ? 2 : 1;
    struct sh_slice *argv = sh_malloc(sizeof(*argv) * (size_t)(c->argc + 2));

    argv[0] = (struct sh_slice){ geoget_spec.name, strlen(geoget_spec.name) };
    argv[1] = (struct sh_slice){ c->cmd->fullname, strlen(c->cmd->fullname) };
    memcpy(argv + 2, c->argv, sizeof(*argv) * (size_t)c->argc);
    coord_send(c, coord_key_owner(c, c->argv[src]), &geoget_spec, c->dbid, c->argc + 2, argv);
    sh_free(argv);
}

/* Whether argv index i is one of the keys the command's key specs name
 * (those the scheduler locked). */
static bool is_spec_key(const struct coord *c, long long i)
{
    struct cmd_keys k;
    bool found = false;

    cmd_keys_get(&k, c->cmd, c->argc, c->argv);
    for (int j = 0; j < k.n; j++) {
        found = found || k.pos[j] == i;
    }
    cmd_keys_free(&k);
    return found;
}

/* Stage 0's part: *2 :dstindex $bytes. */
static bool read_geoget(const struct coord *c, struct sh_slice p, long long *dst,
                        struct sh_slice *blob)
{
    size_t pos = 0;
    long long n;

    return coord_read_header(p, &pos, '*', &n) && n == 2 && coord_read_header(p, &pos, ':', dst) &&
           *dst > 0 && *dst < c->argc && coord_read_bulk(p, &pos, blob) && blob->ptr;
}

static bool geostore_done(struct coord *c, struct reply *r)
{
    int flags = coord_flags(c);
    int src = (flags & GF_SEARCHSTORE) ? 2 : 1;
    struct sh_slice p, argv[4];
    long long dst;

    if (c->stage > 0) {
        p = coord_part(c, (int)c->acc);
        reply_raw(r, p.ptr, p.len);
        return true;
    }
    p = coord_part(c, coord_key_owner(c, c->argv[src]));
    if (p.len && p.ptr[0] == '-') {
        reply_raw(r, p.ptr, p.len);
        return true;
    }
    if (!read_geoget(c, p, &dst, &argv[2])) {
        reply_error(r, "ERR internal error: bad __geoget reply");
        return true;
    }
    if (!is_spec_key(c, dst)) {
        reply_error(r, ERR_CROSSSLOT);
        return true;
    }
    argv[0] = (struct sh_slice){ geostore_spec.name, strlen(geostore_spec.name) };
    argv[1] = c->argv[dst];
    argv[3] = (struct sh_slice){ store_event(flags), strlen(store_event(flags)) };
    c->acc = coord_key_owner(c, c->argv[dst]);
    coord_send(c, (int)c->acc, &geostore_spec, c->dbid, 4, argv);
    return false;
}

static const struct gather gather_geostore = {
    .start = geostore_start,
    .done = geostore_done,
    .barrier = true,
};

/* ---- GEOADD ---- */

/* ZADD's work for GEOADD's triples from argv[first] (already checked):
 * adds to e (NULL: a new key, unless XX), replies, and publishes "zadd". */
static void geoadd_apply(struct cmd_ctx *ctx, struct kentry *e, int first, unsigned flags, bool ch)
{
    const struct kval_limits *lim = &ctx->shard->cfg.limits;
    long long added = 0, updated = 0;
    int rc = 0;

    if (!e && (flags & TZSET_IN_XX)) {
        reply_int(&ctx->r, 0);
        ctx->unchanged = true;
        return;
    }
    if (!e) {
        e = kdb_add(ctx->db, ctx->argv[1].ptr, ctx->argv[1].len, cmd_key_hash(ctx, 1));
        tzset_init(&e->val, ctx->argv[first + 2].len, lim, shard_rand(ctx->shard));
    }
    for (int j = first; j < ctx->argc && rc >= 0; j += 3) {
        const struct sh_slice *m = &ctx->argv[j + 2];
        double xy[2] = { 0, 0 };

        (void)util_str2d(ctx->argv[j].ptr, ctx->argv[j].len, &xy[0]);
        (void)util_str2d(ctx->argv[j + 1].ptr, ctx->argv[j + 1].len, &xy[1]);
        rc = tzset_add(&e->val, m->ptr, m->len, (double)geohash_score(xy[0], xy[1]), flags, NULL,
                       lim, shard_rand(ctx->shard));
        added += rc > 0 && (rc & TZSET_OUT_ADDED);
        updated += rc > 0 && (rc & TZSET_OUT_UPDATED);
    }
    if (tzset_card(&e->val) == 0) {
        kdb_delete(ctx->db, e); /* a new key whose first member failed */
    }
    if (rc < 0) {
        reply_error(&ctx->r, CMD_ZSET_OOM);
    } else {
        reply_int(&ctx->r, ch ? added + updated : added);
    }
    if (added || updated) {
        cmd_zset_notify(ctx, 1, NOTIFY_ZSET, "zadd");
    }
    ctx->unchanged = !added && !updated;
}

/* GEOADD key [NX|XX] [CH] lon lat member [lon lat member ...] */
static void cmd_geoadd(struct cmd_ctx *ctx)
{
    bool nx = false, xx = false, ch = false;
    int first = 2, elements;
    struct kentry *e;
    double xy[2];

    for (; first < ctx->argc; first++) {
        if (word_is(ctx->argv[first], "nx")) {
            nx = true;
        } else if (word_is(ctx->argv[first], "xx")) {
            xx = true;
        } else if (word_is(ctx->argv[first], "ch")) {
            ch = true;
        } else {
            break;
        }
    }
    elements = (ctx->argc - first) / 3;
    if ((ctx->argc - first) % 3 || (xx && nx) || elements == 0) {
        reply_err_syntax(&ctx->r);
        return;
    }
    for (int j = first; j < ctx->argc; j += 3) {
        if (!parse_lonlat(&ctx->r, ctx->argv + j, xy)) {
            return;
        }
    }
    if (!cmd_zset_lookup(ctx, 1, false, &e)) {
        return;
    }
    geoadd_apply(ctx, e, first, (nx ? TZSET_IN_NX : 0) | (xx ? TZSET_IN_XX : 0), ch);
}

/* ---- GEODIST GEOPOS GEOHASH ---- */

/* GEODIST key member1 member2 [M|KM|FT|MI] */
static void cmd_geodist(struct cmd_ctx *ctx)
{
    double to_m = 1, a[2], b[2];
    struct kentry *e;

    if (ctx->argc == 5 && !parse_unit(&ctx->r, ctx->argv[4], &to_m)) {
        return;
    }
    if (ctx->argc > 5) {
        reply_err_syntax(&ctx->r);
        return;
    }
    if (!cmd_zset_lookup(ctx, 1, true, &e)) {
        return;
    }
    if (!e || !member_pos(&e->val, ctx->argv[2], a) || !member_pos(&e->val, ctx->argv[3], b)) {
        reply_null(&ctx->r);
        return;
    }
    reply_distance(&ctx->r, geohash_distance(a[0], a[1], b[0], b[1]) / to_m);
}

/* GEOPOS key [member ...] */
static void cmd_geopos(struct cmd_ctx *ctx)
{
    struct kentry *e;
    double xy[2];

    if (!cmd_zset_lookup(ctx, 1, true, &e)) {
        return;
    }
    reply_array(&ctx->r, ctx->argc - 2);
    for (int j = 2; j < ctx->argc; j++) {
        if (!e || !member_pos(&e->val, ctx->argv[j], xy)) {
            reply_null_array(&ctx->r);
            continue;
        }
        reply_array(&ctx->r, 2);
        reply_coord(&ctx->r, xy[0]);
        reply_coord(&ctx->r, xy[1]);
    }
}

/* GEOHASH key [member ...] */
static void cmd_geohash(struct cmd_ctx *ctx)
{
    struct kentry *e;
    double xy[2];
    char buf[11];

    if (!cmd_zset_lookup(ctx, 1, true, &e)) {
        return;
    }
    reply_array(&ctx->r, ctx->argc - 2);
    for (int j = 2; j < ctx->argc; j++) {
        if (!e || !member_pos(&e->val, ctx->argv[j], xy)) {
            reply_null(&ctx->r);
            continue;
        }
        geohash_string(xy, buf);
        reply_bulk(&ctx->r, buf, sizeof(buf));
    }
}

void cmd_geo_bind(void)
{
    static const struct {
        const char *name;
        cmd_fn *proc;
        const struct gather *g;
    } cmds[] = {
        { "geoadd", cmd_geoadd, NULL },
        { "geodist", cmd_geodist, NULL },
        { "geopos", cmd_geopos, NULL },
        { "geohash", cmd_geohash, NULL },
        { "geosearch", cmd_geo_search, NULL },
        { "georadius_ro", cmd_geo_search, NULL },
        { "georadiusbymember_ro", cmd_geo_search, NULL },
        { "georadius", cmd_geo_search, &gather_geostore },
        { "georadiusbymember", cmd_geo_search, &gather_geostore },
        { "geosearchstore", cmd_geo_search, &gather_geostore },
    };

    for (size_t i = 0; i < SH_ARRAY_LEN(cmds); i++) {
        cmd_must_bind(cmds[i].name, cmds[i].proc, cmds[i].g ? CMD_ROUTE_MULTI : CMD_ROUTE_KEY,
                      cmds[i].g);
    }
}
