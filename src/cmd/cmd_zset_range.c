/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * cmd_zset_range.c: the range commands of the sorted set family, as Redis
 * 7.0's zrangeGenericCommand and friends: ZRANGE (BYSCORE BYLEX REV LIMIT
 * WITHSCORES), ZREVRANGE, ZRANGEBYSCORE, ZREVRANGEBYSCORE, ZRANGEBYLEX,
 * ZREVRANGEBYLEX, ZRANGESTORE, ZCOUNT, ZLEXCOUNT and ZREMRANGEBYRANK /
 * BYSCORE / BYLEX.
 *
 * Every range is one walk (tzset_iter_*) that writes into a sink: the
 * client's reply (an array whose length is patched at the end when the range
 * is not counted ahead), or dump bytes (tzset_dump's form) that become the
 * ZRANGESTORE destination through cmd_zset_store. Arguments are parsed
 * completely before the key is looked up, so errors come in Redis's order.
 * LIMIT's offset costs O(log n) in a skiplist (ranks), not a walk.
 *
 * ZRANGESTORE with src and dst on different shards is a two-stage gather
 * run by the client's core (barrier: the connection runs nothing else
 * meanwhile):
 *
 *   stage 0  __zrangeget dst src args...  at src's owner: the range as dump
 *                                         bytes (a bulk), or the error
 *   stage 1  __zstore dst bytes zrangestore at dst's owner: :count
 *
 * It is atomic per shard only: a write to src after stage 0 is not seen,
 * one to dst before stage 1 is overwritten. With one shard, a {hash tag}, or
 * both keys on one owner, the handler runs the whole command there.
 *
 * Threading: handlers on the owner of their keys, the gather on the
 * client's core.
 */
#include "cmd_zset_internal.h"
#include "shardis/cmdtab.h"
#include "shardis/config.h"
#include "shardis/kdb.h"
#include "shardis/reply.h"
#include "shardis/route.h"
#include "shardis/shard.h"
#include "shardis/util.h"
#include "shardis/zsl.h"

#include <errno.h>
#include <limits.h>
#include <string.h>

#define ERR_NOT_FLOAT_RANGE "ERR min or max is not a float"
#define ERR_LEX_RANGE       "ERR min or max not valid string range item"

enum { RT_AUTO = 0, RT_RANK, RT_SCORE, RT_LEX };

/* A parsed range command. */
struct zrange_args {
    int type;
    bool rev;
    bool dir_auto; /* REV may be given (ZRANGE, ZRANGESTORE) */
    bool store;    /* ZRANGESTORE: no WITHSCORES */
    bool withscores;
    long long offset;
    long long limit; /* -1: none */
    long long start, end;
    struct zsl_range score;
    struct zsl_lex_range lex; /* borrows the arguments */
};

/* Where a range goes: the client, or dump bytes for a destination. */
struct zsink {
    struct reply *r; /* NULL: into d */
    struct kval_dump d;
    bool withscores;
    size_t at;   /* reply_array_begin's offset when the length is patched */
    long long n; /* elements emitted */
    bool deferred;
};

/* ---- sinks ---- */

static void sink_init(struct zsink *s, struct reply *r, bool withscores)
{
    memset(s, 0, sizeof(*s));
    s->r = r;
    s->withscores = withscores;
    if (!r) {
        kval_dump_init(&s->d);
    }
}

/* Starts the output; len < 0 when the element count is not known yet. */
static void sink_begin(struct zsink *s, long long len)
{
    if (!s->r) {
        return;
    }
    if (len < 0) {
        s->at = reply_array_begin(s->r);
        s->deferred = true;
    } else {
        reply_array(s->r, s->withscores && s->r->proto == 2 ? 2 * len : len);
    }
}

static void sink_emit(struct zsink *s, const struct tzset_elem *e)
{
    if (s->r) {
        cmd_zset_reply_elem(s->r, e, s->withscores);
    } else {
        tzset_dump_put(&s->d, e->member.ptr, e->member.len, e->score);
    }
    s->n++;
}

static void sink_end(struct zsink *s)
{
    if (s->r && s->deferred) {
        reply_array_end(s->r, s->at, s->withscores && s->r->proto == 2 ? 2 * s->n : s->n);
    }
}

static void sink_walk(struct zsink *s, struct tzset_iter *it)
{
    struct tzset_elem e;

    while (tzset_iter_next(it, &e)) {
        sink_emit(s, &e);
    }
    sink_end(s);
}

/* ---- parsing ---- */

static bool arg_is(const struct cmd_ctx *ctx, int i, const char *word)
{
    return sh_slice_eq_nocase(ctx->argv[i], word);
}

static bool arg_ll(struct cmd_ctx *ctx, int i, long long *out)
{
    if (!util_str2ll(ctx->argv[i].ptr, ctx->argv[i].len, out)) {
        reply_err_notint(&ctx->r);
        return false;
    }
    return true;
}

/* One option at argv[*j] (Redis's loop in zrangeGenericCommand); false
 * after replying an error. */
static bool parse_option(struct cmd_ctx *ctx, int *j, struct zrange_args *a)
{
    int i = *j;

    if (!a->store && arg_is(ctx, i, "withscores")) {
        a->withscores = true;
    } else if (arg_is(ctx, i, "limit") && ctx->argc - i - 1 >= 2) {
        if (!arg_ll(ctx, i + 1, &a->offset) || !arg_ll(ctx, i + 2, &a->limit)) {
            return false;
        }
        *j += 2;
    } else if (a->dir_auto && !a->rev && arg_is(ctx, i, "rev")) {
        a->rev = true;
    } else if (a->type == RT_AUTO && arg_is(ctx, i, "bylex")) {
        a->type = RT_LEX;
    } else if (a->type == RT_AUTO && arg_is(ctx, i, "byscore")) {
        a->type = RT_SCORE;
    } else {
        reply_err_syntax(&ctx->r);
        return false;
    }
    return true;
}

/* The bounds argv[lo], argv[hi] as the range type reads them. */
static bool parse_bounds(struct cmd_ctx *ctx, int lo, int hi, struct zrange_args *a)
{
    const struct sh_slice *mn = &ctx->argv[lo], *mx = &ctx->argv[hi];

    switch (a->type) {
    case RT_SCORE:
        if (zsl_parse_score_range(mn->ptr, mn->len, mx->ptr, mx->len, &a->score) != 0) {
            reply_error(&ctx->r, ERR_NOT_FLOAT_RANGE);
            return false;
        }
        return true;
    case RT_LEX:
        if (zsl_parse_lex_range(mn->ptr, mn->len, mx->ptr, mx->len, &a->lex) != 0) {
            reply_error(&ctx->r, ERR_LEX_RANGE);
            return false;
        }
        return true;
    default:
        return arg_ll(ctx, lo, &a->start) && arg_ll(ctx, hi, &a->end);
    }
}

/* Redis's zrangeGenericCommand argument handling: the key is argv[first],
 * its bounds follow; a->type and a->rev preset by the command (RT_AUTO for
 * ZRANGE and ZRANGESTORE, which take BYSCORE, BYLEX and REV), a->store for
 * ZRANGESTORE. */
static bool zrange_parse(struct cmd_ctx *ctx, int first, struct zrange_args *a)
{
    int lo = first + 1, hi = first + 2;

    a->dir_auto = a->type == RT_AUTO;
    a->offset = 0;
    a->limit = -1;
    a->withscores = false;
    for (int j = first + 3; j < ctx->argc; j++) {
        if (!parse_option(ctx, &j, a)) {
            return false;
        }
    }
    if (a->type == RT_AUTO) {
        a->type = RT_RANK;
    }
    if (a->limit != -1 && a->type == RT_RANK) {
        reply_error(&ctx->r, "ERR syntax error, LIMIT is only supported in combination with "
                             "either BYSCORE or BYLEX");
        return false;
    }
    if (a->withscores && a->type == RT_LEX) {
        reply_error(&ctx->r,
                    "ERR syntax error, WITHSCORES not supported in combination with BYLEX");
        return false;
    }
    if (a->rev && a->type != RT_RANK) {
        lo = first + 2;
        hi = first + 1;
    }
    return parse_bounds(ctx, lo, hi, a);
}

/* ---- the walks ---- */

static void range_by_rank(struct zsink *s, const struct kval *v, const struct zrange_args *a)
{
    long long llen = (long long)tzset_card(v), start = a->start, end = a->end;
    struct tzset_iter it;

    if (start < 0) {
        start = llen + start;
    }
    if (end < 0) {
        end = llen + end;
    }
    if (start < 0) {
        start = 0;
    }
    if (start > end || start >= llen) {
        sink_begin(s, 0);
        return;
    }
    if (end >= llen) {
        end = llen - 1;
    }
    sink_begin(s, end - start + 1);
    tzset_iter_rank(&it, v, (size_t)start, a->rev, (size_t)(end - start + 1));
    sink_walk(s, &it);
}

/* LIMIT as the walks take it: a negative offset reads past the end in
 * Redis (nothing is returned), a negative count means no limit. */
static bool limit_empty(const struct kval *v, const struct zrange_args *a)
{
    return a->offset < 0 || (a->offset > 0 && (unsigned long long)a->offset >= tzset_card(v));
}

static void range_by_score(struct zsink *s, const struct kval *v, const struct zrange_args *a)
{
    size_t limit = a->limit < 0 ? SIZE_MAX : (size_t)a->limit;
    struct tzset_iter it;

    sink_begin(s, -1);
    if (limit_empty(v, a)) {
        sink_end(s);
        return;
    }
    tzset_iter_score(&it, v, &a->score, a->rev, (size_t)a->offset, limit);
    sink_walk(s, &it);
}

static void range_by_lex(struct zsink *s, const struct kval *v, const struct zrange_args *a)
{
    size_t limit = a->limit < 0 ? SIZE_MAX : (size_t)a->limit;
    struct tzset_iter it;

    sink_begin(s, -1);
    if (limit_empty(v, a)) {
        sink_end(s);
        return;
    }
    tzset_iter_lex(&it, v, &a->lex, a->rev, (size_t)a->offset, limit);
    sink_walk(s, &it);
}

/* Runs a parsed range over key argv[first] into the sink; false after
 * replying WRONGTYPE. A missing key is an empty range. */
static bool zrange_run(struct cmd_ctx *ctx, int first, struct zsink *s, const struct zrange_args *a)
{
    struct kentry *e;

    if (!cmd_zset_lookup(ctx, first, true, &e)) {
        return false;
    }
    if (!e) {
        sink_begin(s, 0);
        return true;
    }
    switch (a->type) {
    case RT_SCORE:
        range_by_score(s, &e->val, a);
        break;
    case RT_LEX:
        range_by_lex(s, &e->val, a);
        break;
    default:
        range_by_rank(s, &e->val, a);
        break;
    }
    return true;
}

/* ---- the commands ---- */

static void zrange_client(struct cmd_ctx *ctx, int type, bool rev)
{
    struct zrange_args a = { .type = type, .rev = rev };
    struct zsink s;

    if (!zrange_parse(ctx, 1, &a)) {
        return;
    }
    sink_init(&s, &ctx->r, a.withscores);
    (void)zrange_run(ctx, 1, &s, &a);
}

static void cmd_zrange(struct cmd_ctx *ctx)
{
    zrange_client(ctx, RT_AUTO, false);
}

static void cmd_zrevrange(struct cmd_ctx *ctx)
{
    zrange_client(ctx, RT_RANK, true);
}

static void cmd_zrangebyscore(struct cmd_ctx *ctx)
{
    zrange_client(ctx, RT_SCORE, false);
}

static void cmd_zrevrangebyscore(struct cmd_ctx *ctx)
{
    zrange_client(ctx, RT_SCORE, true);
}

static void cmd_zrangebylex(struct cmd_ctx *ctx)
{
    zrange_client(ctx, RT_LEX, false);
}

static void cmd_zrevrangebylex(struct cmd_ctx *ctx)
{
    zrange_client(ctx, RT_LEX, true);
}

/* Dump bytes of elements in descending order, rewritten ascending (as
 * tzset_restore takes them). Takes the bytes; returns the new ones. */
static char *reverse_bytes(char *blob, size_t *len)
{
    struct kval_dump_reader rd;
    struct sh_slice *m;
    struct kval_dump d;
    double *sc;
    size_t n = 0;

    if (!kval_dump_reader_init(&rd, blob, *len) || rd.count < 4) {
        return blob;
    }
    m = sh_malloc(sizeof(*m) * (rd.count / 2));
    sc = sh_malloc(sizeof(*sc) * (rd.count / 2));
    while (tzset_dump_next(&rd, &m[n], &sc[n])) {
        n++;
    }
    kval_dump_init(&d);
    while (n--) {
        tzset_dump_put(&d, m[n].ptr, m[n].len, sc[n]);
    }
    sh_free(m);
    sh_free(sc);
    sh_free(blob);
    return kval_dump_finish(&d, len);
}

/* ZRANGESTORE's range of src (argv[2]) as dump bytes; NULL after replying
 * an error. The caller frees the bytes. */
static char *zrangestore_bytes(struct cmd_ctx *ctx, size_t *len)
{
    struct zrange_args a = { .type = RT_AUTO, .store = true };
    struct zsink s;
    char *blob;

    if (!zrange_parse(ctx, 2, &a)) {
        return NULL;
    }
    sink_init(&s, NULL, true);
    if (!zrange_run(ctx, 2, &s, &a)) {
        sh_free(s.d.data);
        return NULL;
    }
    blob = kval_dump_finish(&s.d, len);
    return a.rev ? reverse_bytes(blob, len) : blob;
}

/* ZRANGESTORE dst src min max [BYSCORE|BYLEX] [REV] [LIMIT offset count] */
static void cmd_zrangestore(struct cmd_ctx *ctx)
{
    size_t len;
    char *blob = zrangestore_bytes(ctx, &len);
    long long n;

    if (!blob) {
        return;
    }
    n = cmd_zset_store(ctx->shard, ctx->dbid, ctx->argv[1], cmd_key_hash(ctx, 1), blob, len,
                       "zrangestore", &ctx->unchanged);
    sh_free(blob);
    cmd_zset_reply_stored(&ctx->r, n);
}

/* __zrangeget dst src args... -> the range of src as a bulk of dump bytes */
static void cmd_zrangeget_internal(struct cmd_ctx *ctx)
{
    size_t len;
    char *blob = zrangestore_bytes(ctx, &len);

    if (blob) {
        reply_bulk(&ctx->r, blob, len);
        sh_free(blob);
    }
}

static const struct cmd_spec zrangeget_spec = {
    .name = "__zrangeget",
    .fullname = "__zrangeget",
    .arity = -5,
    .proc = cmd_zrangeget_internal,
};

static void zrangestore_start(struct coord *c)
{
    uint64_t h;
    int src = shard_owner(c->nshards, c->argv[2].ptr, c->argv[2].len, &h);
    struct sh_slice *argv = sh_malloc(sizeof(*argv) * (size_t)c->argc);

    memcpy(argv, c->argv, sizeof(*argv) * (size_t)c->argc);
    argv[0] = (struct sh_slice){ zrangeget_spec.name, strlen(zrangeget_spec.name) };
    coord_send(c, src, &zrangeget_spec, c->dbid, c->argc, argv);
    sh_free(argv);
}

static bool zrangestore_done(struct coord *c, struct reply *r)
{
    uint64_t h;
    int src = shard_owner(c->nshards, c->argv[2].ptr, c->argv[2].len, &h);
    int dst = shard_owner(c->nshards, c->argv[1].ptr, c->argv[1].len, &h);
    struct sh_slice p = coord_part(c, c->stage == 0 ? src : dst);
    struct sh_slice argv[4] = { { "__zstore", 8 }, c->argv[1], { NULL, 0 }, { "zrangestore", 11 } };
    size_t pos = 0;

    if (c->stage > 0 || (p.len && p.ptr[0] == '-')) {
        reply_raw(r, p.ptr, p.len);
        return true;
    }
    if (!coord_read_bulk(p, &pos, &argv[2]) || !argv[2].ptr) {
        reply_error(r, "ERR internal error: bad __zrangeget reply");
        return true;
    }
    coord_send(c, dst, &cmd_zset_multi_store_spec, c->dbid, 4, argv);
    return false;
}

static const struct gather gather_zrangestore = {
    .start = zrangestore_start,
    .done = zrangestore_done,
    .barrier = true,
};

/* ---- ZCOUNT ZLEXCOUNT ---- */

static void cmd_zcount(struct cmd_ctx *ctx)
{
    const struct sh_slice *mn = &ctx->argv[2], *mx = &ctx->argv[3];
    struct zsl_range r;
    struct kentry *e;

    if (zsl_parse_score_range(mn->ptr, mn->len, mx->ptr, mx->len, &r) != 0) {
        reply_error(&ctx->r, ERR_NOT_FLOAT_RANGE);
        return;
    }
    if (cmd_zset_lookup(ctx, 1, true, &e)) {
        reply_int(&ctx->r, e ? (long long)tzset_count_score(&e->val, &r) : 0);
    }
}

static void cmd_zlexcount(struct cmd_ctx *ctx)
{
    const struct sh_slice *mn = &ctx->argv[2], *mx = &ctx->argv[3];
    struct zsl_lex_range r;
    struct kentry *e;

    if (zsl_parse_lex_range(mn->ptr, mn->len, mx->ptr, mx->len, &r) != 0) {
        reply_error(&ctx->r, ERR_LEX_RANGE);
        return;
    }
    if (cmd_zset_lookup(ctx, 1, true, &e)) {
        reply_int(&ctx->r, e ? (long long)tzset_count_lex(&e->val, &r) : 0);
    }
}

/* ---- ZREMRANGEBYRANK ZREMRANGEBYSCORE ZREMRANGEBYLEX ---- */

/* Removes the ranks [start, end] as ZREMRANGEBYRANK normalizes them. */
static size_t remove_ranks(struct kval *v, long long start, long long end)
{
    long long llen = (long long)tzset_card(v);

    if (start < 0) {
        start = llen + start;
    }
    if (end < 0) {
        end = llen + end;
    }
    if (start < 0) {
        start = 0;
    }
    if (start > end || start >= llen) {
        return 0;
    }
    if (end >= llen) {
        end = llen - 1;
    }
    return tzset_delete_rank(v, (size_t)start, (size_t)end);
}

/* Redis's zremrangeGenericCommand after parsing. */
static void zremrange_generic(struct cmd_ctx *ctx, const struct zrange_args *a, const char *event)
{
    struct kentry *e;
    size_t n;

    if (!cmd_zset_lookup(ctx, 1, false, &e)) {
        return;
    }
    if (!e) {
        reply_int(&ctx->r, 0);
        ctx->unchanged = true;
        return;
    }
    if (a->type == RT_SCORE) {
        n = tzset_delete_score(&e->val, &a->score);
    } else if (a->type == RT_LEX) {
        n = tzset_delete_lex(&e->val, &a->lex);
    } else {
        n = remove_ranks(&e->val, a->start, a->end);
    }
    if (n) {
        cmd_zset_notify(ctx, 1, NOTIFY_ZSET, event);
    }
    if (tzset_card(&e->val) == 0) {
        kdb_delete(ctx->db, e);
        cmd_zset_notify(ctx, 1, NOTIFY_GENERIC, "del");
    }
    ctx->unchanged = n == 0;
    reply_int(&ctx->r, (long long)n);
}

static void cmd_zremrangebyrank(struct cmd_ctx *ctx)
{
    struct zrange_args a = { .type = RT_RANK };

    if (parse_bounds(ctx, 2, 3, &a)) {
        zremrange_generic(ctx, &a, "zremrangebyrank");
    }
}

static void cmd_zremrangebyscore(struct cmd_ctx *ctx)
{
    struct zrange_args a = { .type = RT_SCORE };

    if (parse_bounds(ctx, 2, 3, &a)) {
        zremrange_generic(ctx, &a, "zremrangebyscore");
    }
}

static void cmd_zremrangebylex(struct cmd_ctx *ctx)
{
    struct zrange_args a = { .type = RT_LEX };

    if (parse_bounds(ctx, 2, 3, &a)) {
        zremrange_generic(ctx, &a, "zremrangebylex");
    }
}

void cmd_zset_range_bind(void)
{
    static const struct {
        const char *name;
        cmd_fn *proc;
    } key_cmds[] = {
        { "zrange", cmd_zrange },
        { "zrevrange", cmd_zrevrange },
        { "zrangebyscore", cmd_zrangebyscore },
        { "zrevrangebyscore", cmd_zrevrangebyscore },
        { "zrangebylex", cmd_zrangebylex },
        { "zrevrangebylex", cmd_zrevrangebylex },
        { "zcount", cmd_zcount },
        { "zlexcount", cmd_zlexcount },
        { "zremrangebyrank", cmd_zremrangebyrank },
        { "zremrangebyscore", cmd_zremrangebyscore },
        { "zremrangebylex", cmd_zremrangebylex },
    };

    for (size_t i = 0; i < SH_ARRAY_LEN(key_cmds); i++) {
        cmd_must_bind(key_cmds[i].name, key_cmds[i].proc, CMD_ROUTE_KEY, NULL);
    }
    cmd_must_bind("zrangestore", cmd_zrangestore, CMD_ROUTE_MULTI, &gather_zrangestore);
}
