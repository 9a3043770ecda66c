/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * cmd_zset.c: the sorted set command family with Redis 7.0's semantics,
 * replies and error wording (t_zset.c), over the tzset type (tzset.h). This
 * file holds the single-key commands (ZADD ZINCRBY ZREM ZCARD ZSCORE ZMSCORE
 * ZRANK ZREVRANK ZPOPMIN ZPOPMAX ZRANDMEMBER ZSCAN), ZMPOP's handler and the
 * helpers the family shares (cmd_zset_internal.h); cmd_zset_range.c has the
 * ZRANGE family and cmd_zset_multi.c the set algebra and the cross-shard
 * gathers.
 *
 * Routing: every single-key command runs on its key's owner. The commands
 * with several keys (ZMPOP, ZUNION ..., ZRANGESTORE) run whole on the owner
 * when all their keys share one (a {hash tag}, one shard), with the full
 * atomicity of a single-shard command; otherwise a gather coordinates them
 * from the client's core (cmd_zset_multi.c, cmd_zset_range.c). ZMPOP across
 * shards tries its keys in argument order, one stage per run of consecutive
 * keys that share an owner, until one pops (atomic per stage only: a key
 * filled after its stage was tried is not popped).
 *
 * Replies (RESP3 types): scores are doubles (RESP2 bulk strings in "%.17g",
 * "inf"/"-inf"); WITHSCORES ranges are [member, score] pairs in RESP3 and
 * flat in RESP2; ZPOPMIN/ZPOPMAX nest pairs in RESP3 only when a count was
 * given; ZSCAN's scores are bulk strings as Redis 7.0 writes them (the
 * listpack's stored form, or "%.17Lg" of the skiplist's double).
 *
 * Keyspace notifications (class z unless noted), published by the key's
 * owner after the write: "zadd" / "zincr" when ZADD or ZINCRBY added or
 * changed something, "zrem", "zremrangebyrank|score|lex", "zpopmin" /
 * "zpopmax", "zunionstore" / "zinterstore" / "zdiffstore" / "zrangestore";
 * "del" (class g) after any of them when the key was removed (a sorted set
 * is never stored empty).
 *
 * Memory: member bytes and client-sized buffers are allocated with the
 * try_ allocators and a failure becomes the OOM reply; ZADD stops at the
 * member that failed, like its NaN error (earlier members stay added).
 *
 * Threading: handlers run on the owner's core and touch only its keyspace;
 * gathers run on the client's core.
 */
#include "cmd_zset_internal.h"
#include "shardis/cmd_bind.h"
#include "shardis/cmdtab.h"
#include "shardis/config.h"
#include "shardis/glob.h"
#include "shardis/kdb.h"
#include "shardis/pubsub.h"
#include "shardis/reply.h"
#include "shardis/route.h"
#include "shardis/shard.h"
#include "shardis/util.h"
#include "shardis/zsl.h"

#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

#define ERR_NAN          "ERR resulting score is not a number (NaN)"
#define ERR_NOT_FLOAT    "ERR value is not a valid float"
#define ERR_POSITIVE     "ERR value is out of range, must be positive"
#define ERR_NUMKEYS      "ERR numkeys should be greater than 0"
#define ERR_COUNT        "ERR count should be greater than 0"
#define ERR_RANGE        "ERR value is out of range"
#define ERR_CURSOR       "ERR invalid cursor"
/* ZRANDMEMBER with a negative count repeats members: more than this many
 * is refused rather than building a reply that large */
#define ZRAND_MAX_REPEAT (1L << 24)

/* ---- shared helpers (cmd_zset_internal.h) ---- */

bool cmd_zset_lookup(struct cmd_ctx *ctx, int i, bool read, struct kentry **e)
{
    *e = cmd_lookup(ctx, i);
    if (read) {
        cmd_count_lookup(ctx, *e != NULL);
    }
    if (*e && (*e)->val.type != KVAL_ZSET) {
        reply_err_wrongtype(&ctx->r);
        return false;
    }
    return true;
}

void cmd_zset_notify(struct cmd_ctx *ctx, int i, int type, const char *event)
{
    pubsub_notify(ctx->shard, type, event, ctx->argv[i].ptr, ctx->argv[i].len, ctx->dbid);
}

void cmd_zset_reply_elem(struct reply *r, const struct tzset_elem *e, bool withscores)
{
    if (withscores && r->proto == 3) {
        reply_array(r, 2);
    }
    reply_bulk(r, e->member.ptr, e->member.len);
    if (withscores) {
        reply_double(r, e->score);
    }
}

/* Puts v under key, replacing what was there: in place when the key
 * exists (no "new" event, as Redis's setKey), else as a new key. */
static void store_value(struct kdb *db, struct kentry *e, struct sh_slice key, uint64_t hash,
                        const struct kval *v)
{
    if (e) {
        kval_clear(&e->val);
        if (kentry_has_ttl(e)) {
            kdb_set_expire(db, e, -1);
        }
    } else {
        e = kdb_add(db, key.ptr, key.len, hash);
    }
    e->val.type = v->type;
    e->val.enc = v->enc;
    e->val.u = v->u;
}

long long cmd_zset_store(struct shard *sh, int dbid, struct sh_slice key, uint64_t hash,
                         const char *blob, size_t len, const char *event, bool *unchanged)
{
    struct kdb *db = shard_db(sh, dbid);
    struct kentry *e = kdb_find(db, key.ptr, key.len, hash, sh->now_ms);
    struct kval_dump_reader rd;
    struct kval v = { 0 };
    long long n;
    int rc;

    if (!kval_dump_reader_init(&rd, blob, len)) {
        return -EINVAL;
    }
    if (rd.count == 0) {
        if (e) {
            kdb_delete(db, e);
            pubsub_notify(sh, NOTIFY_GENERIC, "del", key.ptr, key.len, dbid);
            route_touch(sh, dbid, key);
        } else {
            *unchanged = true;
        }
        return 0;
    }
    rc = tzset_restore_seeded(&v, blob, len, &sh->cfg.limits, shard_rand(sh));
    if (rc < 0) {
        return rc;
    }
    n = (long long)tzset_card(&v);
    store_value(db, e, key, hash, &v);
    route_touch(sh, dbid, key); /* __zstore and __geostore have no command path */
    pubsub_notify(sh, NOTIFY_ZSET, event, key.ptr, key.len, dbid);
    return n;
}

void cmd_zset_reply_stored(struct reply *r, long long n)
{
    if (n == -ENOMEM) {
        reply_error(r, CMD_ZSET_OOM);
    } else if (n < 0) {
        reply_error(r, "ERR internal error: bad sorted set bytes");
    } else {
        reply_int(r, n);
    }
}

/* ---- local helpers ---- */

static bool arg_ll(struct cmd_ctx *ctx, int i, long long *out)
{
    if (!util_str2ll(ctx->argv[i].ptr, ctx->argv[i].len, out)) {
        reply_err_notint(&ctx->r);
        return false;
    }
    return true;
}

static bool arg_is(const struct cmd_ctx *ctx, int i, const char *word)
{
    return sh_slice_eq_nocase(ctx->argv[i], word);
}

static const struct kval_limits *limits(const struct cmd_ctx *ctx)
{
    return &ctx->shard->cfg.limits;
}

/* ---- ZADD ZINCRBY ---- */

/* ZADD's options from argv[2]: the flags, ch, and the index of the first
 * score. */
static int zadd_options(const struct cmd_ctx *ctx, unsigned *flags, bool *ch)
{
    static const struct {
        const char *name;
        unsigned flag;
    } opts[] = { { "nx", TZSET_IN_NX }, { "xx", TZSET_IN_XX }, { "incr", TZSET_IN_INCR },
                 { "gt", TZSET_IN_GT }, { "lt", TZSET_IN_LT }, { "ch", 0 } };
    int i = 2;

    for (; i < ctx->argc; i++) {
        size_t k = 0;

        while (k < SH_ARRAY_LEN(opts) && !arg_is(ctx, i, opts[k].name)) {
            k++;
        }
        if (k == SH_ARRAY_LEN(opts)) {
            break;
        }
        *flags |= opts[k].flag;
        *ch = *ch || opts[k].flag == 0;
    }
    return i;
}

/* The option and argument errors of ZADD, in Redis's order; false after
 * replying one. Every score is checked before the key is looked up. */
static bool zadd_check(struct cmd_ctx *ctx, unsigned flags, int first, int elements)
{
    double d;

    if (elements == 0 || (ctx->argc - first) % 2) {
        reply_err_syntax(&ctx->r);
        return false;
    }
    if ((flags & TZSET_IN_NX) && (flags & TZSET_IN_XX)) {
        reply_error(&ctx->r, "ERR XX and NX options at the same time are not compatible");
        return false;
    }
    if (((flags & TZSET_IN_NX) && (flags & (TZSET_IN_GT | TZSET_IN_LT))) ||
        ((flags & TZSET_IN_GT) && (flags & TZSET_IN_LT))) {
        reply_error(&ctx->r, "ERR GT, LT, and/or NX options at the same time are not compatible");
        return false;
    }
    if ((flags & TZSET_IN_INCR) && elements > 1) {
        reply_error(&ctx->r, "ERR INCR option supports a single increment-element pair");
        return false;
    }
    for (int j = first; j < ctx->argc; j += 2) {
        if (zsl_parse_score(ctx->argv[j].ptr, ctx->argv[j].len, &d) != 0) {
            reply_error(&ctx->r, ERR_NOT_FLOAT);
            return false;
        }
    }
    return true;
}

struct zadd_result {
    int added, updated, processed;
    double score; /* the last member's score (INCR's reply) */
};

/* Applies the pairs from argv[first]; returns 0, -EDOM (NaN) or -ENOMEM
 * at the pair that failed (the ones before stay applied). */
static int zadd_apply(struct cmd_ctx *ctx, struct kval *v, unsigned flags, int first,
                      struct zadd_result *res)
{
    for (int j = first; j < ctx->argc; j += 2) {
        const struct sh_slice *m = &ctx->argv[j + 1];
        double score = 0, newscore = 0;
        int rc;

        if (zsl_parse_score(ctx->argv[j].ptr, ctx->argv[j].len, &score) != 0) {
            return -EINVAL; /* zadd_check parsed every score already */
        }
        rc = tzset_add(v, m->ptr, m->len, score, flags, &newscore, limits(ctx),
                       shard_rand(ctx->shard));
        if (rc < 0) {
            return rc;
        }
        res->added += (rc & TZSET_OUT_ADDED) != 0;
        res->updated += (rc & TZSET_OUT_UPDATED) != 0;
        res->processed += !(rc & TZSET_OUT_NOP);
        res->score = newscore;
    }
    return 0;
}

static void zadd_reply(struct cmd_ctx *ctx, unsigned flags, bool ch, const struct zadd_result *res)
{
    if (flags & TZSET_IN_INCR) {
        if (res->processed) {
            reply_double(&ctx->r, res->score);
        } else {
            reply_null(&ctx->r);
        }
    } else {
        reply_int(&ctx->r, ch ? res->added + res->updated : res->added);
    }
}

/* Redis's zaddGenericCommand (ZADD, and ZINCRBY with INCR). */
static void zadd_generic(struct cmd_ctx *ctx, unsigned flags)
{
    bool ch = false;
    int first = zadd_options(ctx, &flags, &ch), rc = 0;
    struct zadd_result res = { 0 };
    struct kentry *e;

    if (!zadd_check(ctx, flags, first, (ctx->argc - first) / 2) ||
        !cmd_zset_lookup(ctx, 1, false, &e)) {
        return;
    }
    if (!e && (flags & TZSET_IN_XX)) {
        zadd_reply(ctx, flags, ch, &res);
        ctx->unchanged = true;
        return;
    }
    if (!e) {
        e = kdb_add(ctx->db, ctx->argv[1].ptr, ctx->argv[1].len, cmd_key_hash(ctx, 1));
        tzset_init(&e->val, ctx->argv[first + 1].len, limits(ctx), shard_rand(ctx->shard));
    }
    rc = zadd_apply(ctx, &e->val, flags, first, &res);
    if (tzset_card(&e->val) == 0) {
        kdb_delete(ctx->db, e); /* a new key whose first member failed */
    }
    if (rc == -EDOM) {
        reply_error(&ctx->r, ERR_NAN);
    } else if (rc < 0) {
        reply_error(&ctx->r, CMD_ZSET_OOM);
    } else {
        zadd_reply(ctx, flags, ch, &res);
    }
    if (res.added || res.updated) {
        cmd_zset_notify(ctx, 1, NOTIFY_ZSET, (flags & TZSET_IN_INCR) ? "zincr" : "zadd");
    }
    ctx->unchanged = !res.added && !res.updated;
}

static void cmd_zadd(struct cmd_ctx *ctx)
{
    zadd_generic(ctx, 0);
}

static void cmd_zincrby(struct cmd_ctx *ctx)
{
    zadd_generic(ctx, TZSET_IN_INCR);
}

/* ---- ZREM ZCARD ZSCORE ZMSCORE ZRANK ZREVRANK ---- */

static void cmd_zrem(struct cmd_ctx *ctx)
{
    long long deleted = 0;
    bool removed = false;
    struct kentry *e;

    if (!cmd_zset_lookup(ctx, 1, false, &e)) {
        return;
    }
    for (int j = 2; e && j < ctx->argc && !removed; j++) {
        deleted += tzset_delete(&e->val, ctx->argv[j].ptr, ctx->argv[j].len);
        removed = tzset_card(&e->val) == 0;
    }
    if (removed) {
        kdb_delete(ctx->db, e);
    }
    if (deleted) {
        cmd_zset_notify(ctx, 1, NOTIFY_ZSET, "zrem");
    }
    if (removed) {
        cmd_zset_notify(ctx, 1, NOTIFY_GENERIC, "del");
    }
    ctx->unchanged = deleted == 0;
    reply_int(&ctx->r, deleted);
}

static void cmd_zcard(struct cmd_ctx *ctx)
{
    struct kentry *e;

    if (cmd_zset_lookup(ctx, 1, true, &e)) {
        reply_int(&ctx->r, e ? (long long)tzset_card(&e->val) : 0);
    }
}

static void cmd_zscore(struct cmd_ctx *ctx)
{
    struct kentry *e;
    double score;

    if (!cmd_zset_lookup(ctx, 1, true, &e)) {
        return;
    }
    if (e && tzset_score(&e->val, ctx->argv[2].ptr, ctx->argv[2].len, &score)) {
        reply_double(&ctx->r, score);
    } else {
        reply_null(&ctx->r);
    }
}

static void cmd_zmscore(struct cmd_ctx *ctx)
{
    struct kentry *e;
    double score;

    if (!cmd_zset_lookup(ctx, 1, true, &e)) {
        return;
    }
    reply_array(&ctx->r, ctx->argc - 2);
    for (int j = 2; j < ctx->argc; j++) {
        if (e && tzset_score(&e->val, ctx->argv[j].ptr, ctx->argv[j].len, &score)) {
            reply_double(&ctx->r, score);
        } else {
            reply_null(&ctx->r);
        }
    }
}

static void zrank_generic(struct cmd_ctx *ctx, bool rev)
{
    struct kentry *e;
    size_t rank;

    if (!cmd_zset_lookup(ctx, 1, true, &e)) {
        return;
    }
    if (e && tzset_rank(&e->val, ctx->argv[2].ptr, ctx->argv[2].len, rev, &rank, NULL)) {
        reply_int(&ctx->r, (long long)rank);
    } else {
        reply_null(&ctx->r);
    }
}

static void cmd_zrank(struct cmd_ctx *ctx)
{
    zrank_generic(ctx, false);
}

static void cmd_zrevrank(struct cmd_ctx *ctx)
{
    zrank_generic(ctx, true);
}

/* ---- ZPOPMIN ZPOPMAX ZMPOP ---- */

/* How a pop replies (Redis's genericZpopCommand arguments). */
struct zpop_opts {
    bool max;
    bool emit_key;    /* ZMPOP: [key, elements] */
    bool nested;      /* elements as [member, score] pairs */
    bool nil_if_none; /* no key: null array (ZMPOP), else empty array */
    long long count;  /* -1: no count given (one element) */
};

static void pop_reply_elem(void *arg, const struct tzset_elem *e)
{
    reply_bulk(arg, e->member.ptr, e->member.len);
    reply_double(arg, e->score);
}

static void pop_reply_nested(void *arg, const struct tzset_elem *e)
{
    reply_array(arg, 2);
    pop_reply_elem(arg, e);
}

/* Pops from the first existing key of argv[first .. first + nkeys), as
 * Redis's genericZpopCommand: a key of another type stops the search with
 * WRONGTYPE. */
static void zpop_generic(struct cmd_ctx *ctx, int first, int nkeys, const struct zpop_opts *o)
{
    struct kentry *e = NULL;
    long long count = o->count < 0 ? 1 : o->count;
    int i = first;
    size_t n;

    for (; i < first + nkeys && !e; i++) {
        if (!cmd_zset_lookup(ctx, i, false, &e)) {
            return;
        }
    }
    if (!e) {
        o->nil_if_none ? reply_null_array(&ctx->r) : reply_array(&ctx->r, 0);
        ctx->unchanged = true;
        return;
    }
    if (count == 0) {
        reply_array(&ctx->r, 0);
        ctx->unchanged = true;
        return;
    }
    n = tzset_card(&e->val);
    n = (unsigned long long)count < n ? (size_t)count : n;
    if (o->emit_key) {
        reply_array(&ctx->r, 2);
        reply_bulk(&ctx->r, ctx->argv[i - 1].ptr, ctx->argv[i - 1].len);
    }
    reply_array(&ctx->r, o->nested ? (long long)n : 2 * (long long)n);
    (void)tzset_pop(&e->val, o->max, n, o->nested ? pop_reply_nested : pop_reply_elem, &ctx->r);
    /* ZMPOP changes the key it pops from, not the others it names */
    route_touch(ctx->shard, ctx->dbid, ctx->argv[i - 1]);
    ctx->touched_own = true;
    cmd_zset_notify(ctx, i - 1, NOTIFY_ZSET, o->max ? "zpopmax" : "zpopmin");
    if (tzset_card(&e->val) == 0) {
        kdb_delete(ctx->db, e);
        cmd_zset_notify(ctx, i - 1, NOTIFY_GENERIC, "del");
    }
}

static void zpop_min_max(struct cmd_ctx *ctx, bool max)
{
    struct zpop_opts o = { .max = max, .count = -1 };

    if (ctx->argc > 3) {
        reply_err_syntax(&ctx->r);
        return;
    }
    if (ctx->argc == 3 &&
        (!util_str2ll(ctx->argv[2].ptr, ctx->argv[2].len, &o.count) || o.count < 0)) {
        reply_error(&ctx->r, ERR_POSITIVE); /* a non-integer too, as Redis */
        return;
    }
    o.nested = ctx->r.proto == 3 && ctx->argc == 3;
    zpop_generic(ctx, 1, 1, &o);
}

static void cmd_zpopmin(struct cmd_ctx *ctx)
{
    zpop_min_max(ctx, false);
}

static void cmd_zpopmax(struct cmd_ctx *ctx)
{
    zpop_min_max(ctx, true);
}

const char *cmd_zset_mpop_parse(int argc, const struct sh_slice *argv, long long *numkeys,
                                bool *max, long long *count)
{
    long long where;

    *count = -1;
    if (!util_str2ll(argv[1].ptr, argv[1].len, numkeys) || *numkeys < 1) {
        return ERR_NUMKEYS;
    }
    if (*numkeys >= argc - 2) {
        return "ERR syntax error";
    }
    where = *numkeys + 2;
    if (!sh_slice_eq_nocase(argv[where], "min") && !sh_slice_eq_nocase(argv[where], "max")) {
        return "ERR syntax error";
    }
    *max = sh_slice_eq_nocase(argv[where], "max");
    for (long long j = where + 1; j < argc; j++) {
        if (*count != -1 || !sh_slice_eq_nocase(argv[j], "count") || j + 1 >= argc) {
            return "ERR syntax error";
        }
        j++;
        if (!util_str2ll(argv[j].ptr, argv[j].len, count) || *count < 1) {
            return ERR_COUNT;
        }
    }
    return NULL;
}

/* ZMPOP numkeys key [key ...] MIN|MAX [COUNT count] */
static void cmd_zmpop(struct cmd_ctx *ctx)
{
    struct zpop_opts o = { .emit_key = true, .nested = true, .nil_if_none = true };
    long long numkeys;
    const char *err = cmd_zset_mpop_parse(ctx->argc, ctx->argv, &numkeys, &o.max, &o.count);

    if (err) {
        reply_error(&ctx->r, err);
        return;
    }
    zpop_generic(ctx, 2, (int)numkeys, &o);
}

/* ---- ZRANDMEMBER ---- */

struct rand_reply {
    struct reply *r;
    bool withscores;
};

static void rand_reply_elem(void *arg, const struct tzset_elem *e)
{
    struct rand_reply *rr = arg;

    cmd_zset_reply_elem(rr->r, e, rr->withscores);
}

static void rand_header(struct reply *r, size_t n, bool withscores)
{
    reply_array(r, withscores && r->proto == 2 ? 2 * (long long)n : (long long)n);
}

/* Redis's zrandmemberWithCountCommand: a negative count repeats members,
 * a positive one gives distinct members (all of them when count >= size). */
static void zrandmember_count(struct cmd_ctx *ctx, long long l, bool withscores)
{
    struct rand_reply rr = { &ctx->r, withscores };
    size_t count = l < 0 ? (size_t)-l : (size_t)l, size;
    struct tzset_iter it;
    struct tzset_elem e;
    struct kentry *k;

    if (!cmd_zset_lookup(ctx, 1, true, &k)) {
        return;
    }
    if (!k || count == 0) {
        reply_array(&ctx->r, 0);
        return;
    }
    size = tzset_card(&k->val);
    if (l < 0 || count == 1) {
        if (count > ZRAND_MAX_REPEAT) {
            reply_error(&ctx->r, ERR_RANGE);
            return;
        }
        rand_header(&ctx->r, count, withscores);
        tzset_random_many(&k->val, count, &ctx->shard->rnd, rand_reply_elem, &rr);
        return;
    }
    rand_header(&ctx->r, count < size ? count : size, withscores);
    if (count < size) {
        tzset_sample(&k->val, count, &ctx->shard->rnd, rand_reply_elem, &rr);
        return;
    }
    tzset_iter_rank(&it, &k->val, 0, false, size);
    while (tzset_iter_next(&it, &e)) {
        cmd_zset_reply_elem(&ctx->r, &e, withscores);
    }
}

/* ZRANDMEMBER key [count [WITHSCORES]] */
static void cmd_zrandmember(struct cmd_ctx *ctx)
{
    struct tzset_elem e;
    struct kentry *k;
    long long l;

    if (ctx->argc >= 3) {
        if (!arg_ll(ctx, 2, &l)) {
            return;
        }
        if (l < -LLONG_MAX) {
            reply_errorf(&ctx->r, "ERR value is out of range, value must between %lld and %lld",
                         -LLONG_MAX, LLONG_MAX);
        } else if (ctx->argc > 4 || (ctx->argc == 4 && !arg_is(ctx, 3, "withscores"))) {
            reply_err_syntax(&ctx->r);
        } else if (ctx->argc == 4 && (l < LLONG_MIN / 2 || l > LLONG_MAX / 2)) {
            reply_error(&ctx->r, ERR_RANGE);
        } else {
            zrandmember_count(ctx, l, ctx->argc == 4);
        }
        return;
    }
    if (!cmd_zset_lookup(ctx, 1, true, &k)) {
        return;
    }
    if (!k) {
        reply_null(&ctx->r);
        return;
    }
    tzset_random(&k->val, shard_rand(ctx->shard), &e);
    reply_bulk(&ctx->r, e.member.ptr, e.member.len);
}

/* ---- ZSCAN ---- */

struct zscan_state {
    struct reply r; /* the elements, into a scratch buffer */
    const char *pat;
    size_t patlen;
    bool listpack; /* how Redis 7.0 writes the scores */
    long long n;   /* elements written */
};

/* A score as Redis 7.0's ZSCAN writes it: a listpack's stored form (an
 * integral value within +-2^62 as an integer, else "%.17g"), or "%.17Lg"
 * of a skiplist's double. */
static size_t scan_score(char *buf, size_t cap, double d, bool listpack)
{
    if (isinf(d)) {
        return (size_t)snprintf(buf, cap, "%s", d > 0 ? "inf" : "-inf");
    }
    if (listpack && d >= (double)(-LLONG_MAX / 2) && d <= (double)(LLONG_MAX / 2) &&
        d == (double)(long long)d) {
        return (size_t)snprintf(buf, cap, "%lld", (long long)d);
    }
    if (listpack) {
        return (size_t)snprintf(buf, cap, "%.17g", d);
    }
    return (size_t)snprintf(buf, cap, "%.17Lg", (long double)d);
}

static void scan_elem(void *arg, const struct tzset_elem *e)
{
    struct zscan_state *st = arg;
    char buf[64];

    if (st->pat && !glob_match(st->pat, st->patlen, e->member.ptr, e->member.len, false)) {
        return;
    }
    reply_bulk(&st->r, e->member.ptr, e->member.len);
    reply_bulk(&st->r, buf, scan_score(buf, sizeof(buf), e->score, st->listpack));
    st->n++;
}

/* ZSCAN's options after the key lookup, as Redis's scanGenericCommand:
 * COUNT (>= 1) and MATCH; false after replying an error. */
static bool zscan_options(struct cmd_ctx *ctx, long long *count, struct zscan_state *st)
{
    for (int i = 3; i < ctx->argc; i += 2) {
        if (arg_is(ctx, i, "count") && i + 1 < ctx->argc) {
            if (!arg_ll(ctx, i + 1, count)) {
                return false;
            }
            if (*count < 1) {
                reply_err_syntax(&ctx->r);
                return false;
            }
        } else if (arg_is(ctx, i, "match") && i + 1 < ctx->argc) {
            st->pat = ctx->argv[i + 1].ptr;
            st->patlen = ctx->argv[i + 1].len;
            if (st->patlen == 1 && st->pat[0] == '*') {
                st->pat = NULL;
            }
        } else {
            reply_err_syntax(&ctx->r);
            return false;
        }
    }
    return true;
}

/* ZSCAN key cursor [MATCH pattern] [COUNT count] */
static void cmd_zscan(struct cmd_ctx *ctx)
{
    struct zscan_state st = { .pat = NULL };
    struct rbuf tmp;
    uint64_t cursor = 0;
    long long count = 10, steps;
    struct kentry *e;
    char cbuf[24];

    if (!util_parse_cursor(ctx->argv[2].ptr, ctx->argv[2].len, &cursor)) {
        reply_error(&ctx->r, ERR_CURSOR);
        return;
    }
    if (!cmd_zset_lookup(ctx, 1, true, &e)) {
        return;
    }
    if (!e) {
        reply_array(&ctx->r, 2);
        reply_bulk(&ctx->r, "0", 1);
        reply_array(&ctx->r, 0);
        return;
    }
    if (!zscan_options(ctx, &count, &st)) {
        return;
    }
    rbuf_init(&tmp);
    st.r = (struct reply){ .buf = &tmp, .proto = ctx->r.proto };
    st.listpack = e->val.enc == KVAL_ENC_LISTPACK;
    steps = count > LLONG_MAX / 10 ? LLONG_MAX : count * 10;
    do {
        cursor = tzset_scan(&e->val, cursor, scan_elem, &st);
    } while (cursor && steps-- && st.n < count);
    reply_array(&ctx->r, 2);
    snprintf(cbuf, sizeof(cbuf), "%llu", (unsigned long long)cursor);
    reply_bulk_cstr(&ctx->r, cbuf);
    reply_array(&ctx->r, 2 * st.n);
    reply_raw(&ctx->r, tmp.data, tmp.len);
    rbuf_fini(&tmp);
}

void cmd_zset_bind(void)
{
    static const struct {
        const char *name;
        cmd_fn *proc;
    } key_cmds[] = {
        { "zadd", cmd_zadd },       { "zincrby", cmd_zincrby },         { "zrem", cmd_zrem },
        { "zcard", cmd_zcard },     { "zscore", cmd_zscore },           { "zmscore", cmd_zmscore },
        { "zrank", cmd_zrank },     { "zrevrank", cmd_zrevrank },       { "zpopmin", cmd_zpopmin },
        { "zpopmax", cmd_zpopmax }, { "zrandmember", cmd_zrandmember }, { "zscan", cmd_zscan },
    };

    for (size_t i = 0; i < SH_ARRAY_LEN(key_cmds); i++) {
        cmd_must_bind(key_cmds[i].name, key_cmds[i].proc, CMD_ROUTE_KEY, NULL);
    }
    cmd_must_bind("zmpop", cmd_zmpop, CMD_ROUTE_MULTI, &cmd_zset_multi_mpop_gather);
    cmd_zset_range_bind();
    cmd_zset_multi_bind();
}
