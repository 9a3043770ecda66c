/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * cmd_stream_read.c: XREAD and XREADGROUP with Redis 7.0's semantics,
 * replies and errors (xreadCommand in t_stream.c), over streams on one
 * shard (the handler) or several (a gather).
 *
 * Reply: the streams that had entries, in argument order: an array of
 * [key, entries] pairs in RESP2, a map key -> entries in RESP3; the null
 * array when none had any. XREADGROUP with ">" delivers entries past the
 * group's last ID, moving it and entries_read as Redis does and adding them
 * to the PEL (unless NOACK); with an ID it replays the consumer's own PEL
 * from there ([id, nil] for entries deleted since).
 *
 * Routing: the handler runs first on the client's core (CMD_ROUTE_CONN, as
 * SORT) and picks where the read runs: here, when this core owns every key
 * and no transaction holds them; else through a coordinator whose gather
 * sends each owner the command over its own keys (without BLOCK), the parts
 * replying in the client's protocol, and merges the non-empty streams back
 * in argument order. With keys on several shards that coordinator is a
 * transaction over them, so the parts are one atomic step, as a single
 * XREADGROUP is in Redis. A key named twice with different IDs whose owner
 * is another shard may come back at the position of its first occurrence.
 * The same handler runs as those parts (on the owner, ctx->conn NULL).
 *
 * BLOCK (block.c): the client waits on the streams' owners, which run
 * __xwait (resolve, serve at once or register) and __xclaim (serve a told
 * waiter) below. As in Redis, XREADGROUP with any ID other than ">" never
 * waits (its history is always an answer), and inside MULTI/EXEC and
 * scripts (the gather as a nested coordinator) BLOCK does not wait: the
 * read answers nil when nothing is there.
 *
 * Threading: the handler and __xwait/__xclaim run on the owner of their
 * keys (the handler first on the client's core); the gather on the
 * client's core.
 */
#include "cmd_stream_internal.h"
#include "shardis/block.h"
#include "shardis/cmd_bind.h"
#include "shardis/cmdtab.h"
#include "shardis/conn.h"
#include "shardis/kdb.h"
#include "shardis/kval.h"
#include "shardis/reply.h"
#include "shardis/resp.h"
#include "shardis/route.h"
#include "shardis/sched.h"
#include "shardis/shard.h"
#include "shardis/util.h"

#include <stdio.h>
#include <string.h>

#define ERRBUF 256

struct xread_args {
    long long timeout; /* -1: no BLOCK */
    long long count;   /* 0: no limit */
    int streams, n;    /* first key's index and the number of streams */
    int group;         /* GROUP's argv index, 0 when none */
    bool noack, xreadgroup;
};

/* Parses the options of XREAD/XREADGROUP over argv; returns false with
 * Redis's error in err. */
static bool parse_xread(int argc, const struct sh_slice *argv, struct xread_args *a, char *err)
{
    memset(a, 0, sizeof(*a));
    a->timeout = -1;
    a->xreadgroup = argv[0].len == 10;
    for (int i = 1; i < argc; i++) {
        int more = argc - i - 1;
        struct sh_slice o = argv[i];

        if (sh_slice_eq_nocase(o, "block") && more) {
            i++;
            if (!util_str2ll(argv[i].ptr, argv[i].len, &a->timeout)) {
                snprintf(err, ERRBUF, "ERR timeout is not an integer or out of range");
                return false;
            }
            if (a->timeout < 0) {
                snprintf(err, ERRBUF, "ERR timeout is negative");
                return false;
            }
        } else if (sh_slice_eq_nocase(o, "count") && more) {
            i++;
            if (!util_str2ll(argv[i].ptr, argv[i].len, &a->count)) {
                snprintf(err, ERRBUF, "ERR value is not an integer or out of range");
                return false;
            }
            if (a->count < 0) {
                a->count = 0;
            }
        } else if (sh_slice_eq_nocase(o, "streams") && more) {
            a->streams = i + 1;
            a->n = argc - a->streams;
            if (a->n % 2) {
                /* 7.0's text, XREADGROUP included */
                snprintf(err, ERRBUF,
                         "ERR Unbalanced XREAD list of streams: for each stream key "
                         "an ID or '$' must be specified.");
                return false;
            }
            a->n /= 2;
            break;
        } else if (sh_slice_eq_nocase(o, "group") && more >= 2) {
            if (!a->xreadgroup) {
                snprintf(err, ERRBUF,
                         "ERR The GROUP option is only supported by XREADGROUP. "
                         "You called XREAD instead.");
                return false;
            }
            a->group = i + 1;
            i += 2;
        } else if (sh_slice_eq_nocase(o, "noack")) {
            if (!a->xreadgroup) {
                snprintf(err, ERRBUF,
                         "ERR The NOACK option is only supported by XREADGROUP. "
                         "You called XREAD instead.");
                return false;
            }
            a->noack = true;
        } else {
            snprintf(err, ERRBUF, "ERR syntax error");
            return false;
        }
    }
    if (!a->streams) {
        snprintf(err, ERRBUF, "ERR syntax error");
        return false;
    }
    if (a->xreadgroup && !a->group) {
        snprintf(err, ERRBUF, "ERR Missing GROUP option for XREADGROUP");
        return false;
    }
    return true;
}

/* One stream to read: its value, group and the ID entries must pass. */
struct xread_one {
    struct tstream *s;
    struct tstream_group *g;
    struct tstream_id gt;
};

/* Resolves key i and its ID; false after an error reply. */
static bool resolve_one(struct cmd_ctx *ctx, const struct xread_args *a, int i,
                        struct xread_one *one)
{
    struct sh_slice idarg = ctx->argv[a->streams + a->n + i];
    int key = a->streams + i;
    struct kentry *e;

    memset(one, 0, sizeof(*one));
    if (!cmd_stream_lookup(ctx, key, true, &e)) {
        return false;
    }
    one->s = e ? tstream_of(&e->val) : NULL;
    if (a->group) {
        one->g = one->s ? tstream_group_find(one->s, ctx->argv[a->group].ptr,
                                             ctx->argv[a->group].len)
                        : NULL;
        if (!one->g) {
            cmd_stream_reply_nogroup(ctx, key, a->group, " in XREADGROUP with GROUP option");
            return false;
        }
    }
    if (idarg.len == 1 && idarg.ptr[0] == '$') {
        if (a->xreadgroup) {
            reply_error(&ctx->r,
                        "ERR The $ ID is meaningless in the context of XREADGROUP: you want to "
                        "read the history of this consumer by specifying a proper ID, or use the "
                        "> ID to get new messages. The $ ID would just return an empty result "
                        "set.");
            return false;
        }
        if (one->s) {
            one->gt = one->s->last_id;
        }
        return true;
    }
    if (idarg.len == 1 && idarg.ptr[0] == '>') {
        if (!a->xreadgroup) {
            reply_error(&ctx->r, "ERR The > ID can be specified only when calling XREADGROUP "
                                 "using the GROUP <group> <consumer> option.");
            return false;
        }
        one->gt = (struct tstream_id){ UINT64_MAX, UINT64_MAX };
        return true;
    }
    if (!cmd_stream_parse_id(idarg, &one->gt, 0, true, NULL)) {
        reply_error(&ctx->r, CMD_STREAM_ERR_ID);
        return false;
    }
    return true;
}

static void reply_entry(struct reply *r, struct tstream_iter *it, const struct tstream_id *id,
                        long long nf)
{
    reply_array(r, 2);
    cmd_stream_reply_id(r, id);
    reply_array(r, nf * 2);
    for (long long i = 0; i < nf; i++) {
        struct sh_slice f, v;

        tstream_iter_field(it, &f, &v);
        reply_bulk(r, f.ptr, f.len);
        reply_bulk(r, v.ptr, v.len);
    }
}

/* Records the delivery of id to consumer c of g (Redis's raxTryInsert of
 * a NACK, or its reassignment when XGROUP SETID made it pending already). */
static void deliver(struct tstream_group *g, struct tstream_consumer *c,
                    const struct tstream_id *id, int64_t now)
{
    struct tstream_nack *k = tstream_map_get(&g->pel, id);

    if (!k) {
        (void)tstream_pel_add(g, c, id, now, 1);
        return;
    }
    tstream_pel_move(c, id, k);
    k->delivery_time = now;
    k->delivery_count = 1;
}

/* New entries for a group reader from start; returns how many. */
static long long serve_new(struct cmd_ctx *ctx, struct reply *r, const struct xread_args *a,
                           struct xread_one *one, struct tstream_consumer *c,
                           const struct tstream_id *start)
{
    struct tstream *s = one->s;
    struct tstream_group *g = one->g;
    struct tstream_iter it;
    struct tstream_id id;
    long long nf, n = 0;
    size_t at = reply_array_begin(r);

    tstream_iter_start(&it, s, start, NULL, false);
    while ((!a->count || n < a->count) && tstream_iter_next(&it, &id, &nf)) {
        if (g && tstream_id_cmp(&id, &g->last_id) > 0) {
            if (g->entries_read != TSTREAM_ENTRIES_UNKNOWN &&
                !tstream_range_has_tombstones(s, &id, NULL)) {
                g->entries_read++;
            } else if (s->entries_added) {
                g->entries_read = tstream_estimate_distance(s, &id);
            }
            g->last_id = id;
        }
        reply_entry(r, &it, &id, nf);
        if (g && !a->noack) {
            deliver(g, c, &id, ctx->shard->now_ms);
        }
        n++;
    }
    reply_array_end(r, at, n);
    return n;
}

/* A consumer's own PEL from start (XREADGROUP with an ID). */
static void serve_history(struct cmd_ctx *ctx, struct reply *r, const struct xread_args *a,
                          const struct tstream *s, struct tstream_consumer *c,
                          const struct tstream_id *start)
{
    struct tstream_map_pos pos;
    bool more = tstream_map_seek(&c->pel, start, true, &pos);
    size_t at = reply_array_begin(r);
    long long n = 0;

    while (more && (!a->count || n < a->count)) {
        struct tstream_nack *k = tstream_map_val(&c->pel, pos);
        const struct tstream_id *id = tstream_map_key(&c->pel, pos);

        if (cmd_stream_reply_entries(r, s, id, id, 1, false) == 0) {
            reply_array(r, 2);
            cmd_stream_reply_id(r, id);
            reply_null_array(r);
        } else {
            k->delivery_time = ctx->shard->now_ms;
            k->delivery_count++;
        }
        n++;
        more = tstream_map_next(&c->pel, &pos);
    }
    reply_array_end(r, at, n);
}

/* Serves stream i when there is something for it; returns whether it
 * wrote the stream's [key, entries] element to r. */
static bool serve_one(struct cmd_ctx *ctx, struct reply *r, const struct xread_args *a, int i,
                      struct xread_one *one)
{
    struct tstream_consumer *c = NULL;
    struct tstream_id start = one->gt, maxid;
    bool now = false, history = false;

    if (!one->s) {
        return false;
    }
    if (one->g) {
        if (one->gt.ms != UINT64_MAX || one->gt.seq != UINT64_MAX) {
            now = history = true;
        } else if (one->s->length) {
            tstream_edge_id(one->s, false, &maxid);
            if (tstream_id_cmp(&maxid, &one->g->last_id) > 0) {
                now = true;
                start = one->g->last_id;
            }
        }
        c = cmd_stream_consumer(ctx, one->g, a->group + 1, a->streams + i);
    } else if (one->s->length) {
        tstream_edge_id(one->s, false, &maxid);
        now = tstream_id_cmp(&maxid, &one->gt) > 0;
    }
    if (!now) {
        return false;
    }
    (void)tstream_id_incr(&start);
    if (r->proto == 2) {
        reply_array(r, 2);
    }
    reply_bulk(r, ctx->argv[a->streams + i].ptr, ctx->argv[a->streams + i].len);
    if (history) {
        serve_history(ctx, r, a, one->s, c, &start);
    } else {
        (void)serve_new(ctx, r, a, one, c, &start);
    }
    return true;
}

/* Serves every stream of one[] that has something, writing the read's
 * reply to out; returns how many streams it had (0: out untouched). */
static long long serve_all(struct cmd_ctx *ctx, struct reply *out, const struct xread_args *a,
                           struct xread_one *one, bool *served)
{
    struct rbuf body;
    struct reply r;
    long long n = 0;

    rbuf_init(&body);
    r = (struct reply){ .buf = &body, .proto = out->proto };
    for (int i = 0; i < a->n; i++) {
        bool got = serve_one(ctx, &r, a, i, &one[i]);

        n += got;
        if (served) {
            served[i] = got;
        }
    }
    if (n) {
        if (out->proto == 2) {
            reply_array(out, n);
        } else {
            reply_map(out, n);
        }
        reply_raw(out, body.data, body.len);
    }
    rbuf_fini(&body);
    return n;
}

/* The read over keys of this core: the reply, or nil when nothing. */
static void xread_here(struct cmd_ctx *ctx)
{
    char err[ERRBUF];
    struct xread_args a;
    struct xread_one *one;

    if (!parse_xread(ctx->argc, ctx->argv, &a, err)) {
        reply_error(&ctx->r, err);
        return;
    }
    one = sh_malloc(sizeof(*one) * (size_t)a.n);
    for (int i = 0; i < a.n; i++) {
        if (!resolve_one(ctx, &a, i, &one[i])) {
            sh_free(one);
            return;
        }
    }
    if (!serve_all(ctx, &ctx->r, &a, one, NULL)) {
        reply_null_array(&ctx->r);
    }
    sh_free(one);
}

/* ---- across shards ---- */

/* The client's arguments: its coordinator's (a nested one: EXEC, a script),
 * or the copy the handler gave it (struct xjob) */
struct xjob {
    int argc;
    struct sh_slice *argv;
};

static struct xjob *job_new(int argc, const struct sh_slice *argv)
{
    size_t bytes = 0;
    struct xjob *j;
    char *p;

    for (int i = 0; i < argc; i++) {
        bytes += argv[i].len;
    }
    j = sh_malloc(sizeof(*j) + sizeof(*j->argv) * (size_t)argc + bytes);
    j->argc = argc;
    j->argv = (struct sh_slice *)(j + 1);
    p = (char *)(j->argv + argc);
    for (int i = 0; i < argc; i++) {
        memcpy(p, argv[i].ptr, argv[i].len);
        j->argv[i] = (struct sh_slice){ p, argv[i].len };
        p += argv[i].len;
    }
    return j;
}

static int job_argc(const struct coord *c)
{
    return c->ext ? ((const struct xjob *)c->ext)->argc : c->argc;
}

static const struct sh_slice *job_argv(const struct coord *c)
{
    return c->ext ? ((const struct xjob *)c->ext)->argv : c->argv;
}

/* Writes argv[0 .. STREAMS] without BLOCK and its timeout to sub (a group
 * or consumer may be named "block"); returns how many. */
static int copy_opts(const struct sh_slice *argv, int streams, struct sh_slice *sub)
{
    int k = 0;

    for (int i = 0; i < streams; i++) {
        int take = 1;

        if (i > 0 && sh_slice_eq_nocase(argv[i], "group")) {
            take = 3;
        } else if (i > 0 && sh_slice_eq_nocase(argv[i], "count")) {
            take = 2;
        } else if (i > 0 && sh_slice_eq_nocase(argv[i], "block")) {
            i++;
            continue;
        }
        for (int j = 0; j < take && i < streams; j++) {
            sub[k++] = argv[i++];
        }
        i--;
    }
    return k;
}

/* Run by a script (a nested coordinator whose parent is not EXEC)? */
static bool from_script(const struct coord *c)
{
    return c->parent && strcmp(c->parent->cmd->fullname, "exec") != 0;
}

/* Each owner gets the command over its own streams, without BLOCK. */
static void xread_start(struct coord *c)
{
    char err[ERRBUF];
    struct xread_args a;
    struct sh_slice *sub;
    int argc = job_argc(c);
    const struct sh_slice *argv = job_argv(c);

    c->part_proto = (uint8_t)c->proto;
    if (!parse_xread(argc, argv, &a, err) || (a.timeout != -1 && from_script(c))) {
        return;
    }
    sub = sh_malloc(sizeof(*sub) * (size_t)argc);
    for (int s = 0; s < c->nshards; s++) {
        int k = copy_opts(argv, a.streams, sub), nk = 0;

        for (int i = 0; i < a.n; i++) {
            if (coord_key_owner(c, argv[a.streams + i]) == s) {
                sub[k + nk++] = argv[a.streams + i];
            }
        }
        for (int i = 0, j = 0; i < a.n; i++) {
            if (coord_key_owner(c, argv[a.streams + i]) == s) {
                sub[k + nk + j++] = argv[a.streams + a.n + i];
            }
        }
        if (nk) {
            coord_send(c, s, c->cmd, c->dbid, k + 2 * nk, sub);
        }
    }
    sh_free(sub);
}

/* A part's reader: elements left and where the next one starts. */
struct part_cur {
    struct sh_slice p;
    size_t pos;
    long long left;
};

static bool part_open(struct part_cur *pc, struct sh_slice p, int proto)
{
    pc->p = p;
    pc->pos = 0;
    pc->left = 0;
    if (!p.len) {
        return true;
    }
    if (p.ptr[0] == '_') {
        return true;
    }
    return coord_read_header(p, &pc->pos, proto == 2 ? '*' : '%', &pc->left) && pc->left >= -1;
}

/* Copies the next element of pc to r when its key is key. -1: corrupt. */
static int part_take(struct part_cur *pc, struct sh_slice key, struct reply *r)
{
    size_t pos = pc->pos, n;
    struct sh_slice k;
    long long two;

    if (pc->left <= 0) {
        return 0;
    }
    if (r->proto == 2 && (!coord_read_header(pc->p, &pos, '*', &two) || two != 2)) {
        return -1;
    }
    if (!coord_read_bulk(pc->p, &pos, &k) || !k.ptr) {
        return -1;
    }
    if (k.len != key.len || memcmp(k.ptr, key.ptr, k.len) != 0) {
        return 0;
    }
    n = resp_value_size(pc->p.ptr + pos, pc->p.len - pos);
    if (!n) {
        return -1;
    }
    if (r->proto == 2) {
        reply_array(r, 2);
    }
    reply_bulk(r, k.ptr, k.len);
    reply_raw(r, pc->p.ptr + pos, n);
    pc->pos = pos + n;
    pc->left--;
    return 1;
}

static bool xread_merge(struct coord *c, const struct xread_args *a, struct reply *r)
{
    struct part_cur *pc = sh_malloc(sizeof(*pc) * (size_t)c->nshards);
    struct rbuf body;
    struct reply br;
    long long n = 0;
    bool ok = true;

    rbuf_init(&body);
    br = (struct reply){ .buf = &body, .proto = c->proto };
    for (int s = 0; s < c->nshards && ok; s++) {
        ok = part_open(&pc[s], coord_part(c, s), c->proto);
    }
    for (int i = 0; i < a->n && ok; i++) {
        struct sh_slice key = job_argv(c)[a->streams + i];
        int got = part_take(&pc[coord_key_owner(c, key)], key, &br);

        ok = got >= 0;
        n += got > 0;
    }
    if (!ok) {
        reply_error(r, "ERR internal error: bad XREAD part");
    } else if (n) {
        if (c->proto == 2) {
            reply_array(r, n);
        } else {
            reply_map(r, n);
        }
        reply_raw(r, body.data, body.len);
    } else {
        reply_null_array(r);
    }
    rbuf_fini(&body);
    sh_free(pc);
    return true;
}

static bool xread_done(struct coord *c, struct reply *r)
{
    char err[ERRBUF];
    struct xread_args a;
    const struct sh_slice *argv = job_argv(c);
    bool ok = parse_xread(job_argc(c), argv, &a, err);

    if (!ok) {
        reply_error(r, err);
    } else if (a.timeout != -1 && from_script(c)) {
        reply_errorf(r, "ERR %.*s command is not allowed with BLOCK option from scripts",
                     (int)argv[0].len, argv[0].ptr);
        ok = false;
    }
    /* the error of the first key in argument order, as Redis meets it */
    for (int i = 0; ok && i < a.n; i++) {
        struct sh_slice p = coord_part(c, coord_key_owner(c, argv[a.streams + i]));

        if (p.len && p.ptr[0] == '-') {
            reply_raw(r, p.ptr, p.len);
            ok = false;
        }
    }
    if (ok) {
        xread_merge(c, &a, r);
    }
    sh_free(c->ext);
    c->ext = NULL;
    return true;
}

static const struct gather gather_xread = { .start = xread_start, .done = xread_done };

/* Does XREADGROUP name an ID other than ">" (a history read, never waits)? */
static bool reads_history(const struct cmd_ctx *ctx, const struct xread_args *a)
{
    for (int i = 0; a->xreadgroup && i < a->n; i++) {
        struct sh_slice id = ctx->argv[a->streams + a->n + i];

        if (id.len != 1 || id.ptr[0] != '>') {
            return true;
        }
    }
    return false;
}

/* The handler: on the client's core, picks where the read runs; on an
 * owner (a part of the gather), the read. */
static void cmd_xread(struct cmd_ctx *ctx)
{
    char err[ERRBUF];
    struct xread_args a;
    struct shard *sh = ctx->shard;
    struct sh_slice *pairs;
    int owner = -2;
    uint64_t h;

    if (!ctx->conn) {
        xread_here(ctx);
        return;
    }
    if (!parse_xread(ctx->argc, ctx->argv, &a, err)) {
        reply_error(&ctx->r, err);
        return;
    }
    if (a.timeout != -1 && !reads_history(ctx, &a)) {
        block_xread_start(ctx, a.streams, a.n, a.timeout);
        return;
    }
    for (int i = 0; i < a.n && owner != -1; i++) {
        int o = shard_owner(sh->srv->nshards, ctx->argv[a.streams + i].ptr,
                            ctx->argv[a.streams + i].len, &h);

        owner = owner == -2 || owner == o ? o : -1;
    }
    if (owner == sh->id &&
        (sched_quiet(&sh->sched) || sched_admits(sh, ctx->cmd, ctx->dbid, ctx->argc, ctx->argv))) {
        xread_here(ctx);
        return;
    }
    if (owner != -1) {
        /* one owner: no transaction, the part waits for any locks there */
        coord_start_txn(ctx->conn, ctx->cmd, &gather_xread, job_new(ctx->argc, ctx->argv),
                        ctx->dbid, 0, NULL, false);
        return;
    }
    pairs = sh_malloc(sizeof(*pairs) * 2 * (size_t)a.n);
    for (int i = 0; i < a.n; i++) {
        pairs[2 * i] = a.xreadgroup ? (struct sh_slice){ "w", 1 } : (struct sh_slice){ "r", 1 };
        pairs[2 * i + 1] = ctx->argv[a.streams + i];
    }
    coord_start_txn(ctx->conn, ctx->cmd, &gather_xread, job_new(ctx->argc, ctx->argv), ctx->dbid,
                    a.n, pairs, false);
    sh_free(pairs);
}

/* ---- the owner's part of a blocked read (block.h) ---- */

static bool parse_tok(const struct cmd_ctx *ctx, uint64_t *token, int *origin)
{
    long long t, o;

    if (!util_str2ll(ctx->argv[1].ptr, ctx->argv[1].len, &t) ||
        !util_str2ll(ctx->argv[2].ptr, ctx->argv[2].len, &o)) {
        return false;
    }
    *token = (uint64_t)t;
    *origin = (int)o;
    return true;
}

/* ctx over its argv from `from` on (the read's own arguments). */
static struct cmd_ctx sub_ctx(const struct cmd_ctx *ctx, int from)
{
    struct cmd_ctx sub = *ctx;

    sub.argc -= from;
    sub.argv += from;
    sub.has_key_hash = false;
    return sub;
}

/* __xwait <token> <origin> <serve 1|0> <read...>: see block.h. */
static void cmd_xwait(struct cmd_ctx *ctx)
{
    char err[ERRBUF];
    struct cmd_ctx sub = sub_ctx(ctx, 4);
    struct xread_args a;
    struct xread_one *one;
    struct rbuf eb;
    uint64_t token;
    int origin;

    if (!parse_tok(ctx, &token, &origin) || !parse_xread(sub.argc, sub.argv, &a, err)) {
        sh_panic("corrupt __xwait");
    }
    one = sh_malloc(sizeof(*one) * (size_t)a.n);
    rbuf_init(&eb);
    sub.r.buf = &eb;
    for (int i = 0; i < a.n; i++) {
        if (!resolve_one(&sub, &a, i, &one[i])) {
            reply_array(&ctx->r, 2);
            reply_int(&ctx->r, i);
            reply_raw(&ctx->r, eb.data, eb.len);
            goto out;
        }
    }
    sub.r = ctx->r;
    if (ctx->argv[3].ptr[0] == '1') {
        size_t at = ctx->r.buf->len;

        reply_array(&ctx->r, 2);
        reply_int(&ctx->r, -1);
        if (serve_all(&sub, &ctx->r, &a, one, NULL)) {
            goto out;
        }
        ctx->r.buf->len = at; /* nothing there: it waits */
    }
    reply_array(&ctx->r, 2);
    reply_int(&ctx->r, -2);
    reply_array(&ctx->r, 2 * a.n);
    for (int i = 0; i < a.n; i++) {
        bool told = block_stream_wait(ctx->shard, ctx->dbid, sub.argv[a.streams + i], token, origin,
                                      &one[i].gt, a.group ? &sub.argv[a.group] : NULL);

        if (a.group) {
            /* the consumer is there while it waits, as in Redis */
            (void)cmd_stream_consumer(&sub, one[i].g, a.group + 1, a.streams + i);
            reply_bulk(&ctx->r, ">", 1);
        } else {
            cmd_stream_reply_id(&ctx->r, &one[i].gt);
        }
        reply_int(&ctx->r, told);
    }
out:
    rbuf_fini(&eb);
    sh_free(one);
}

/* Resolves key i of a claim; NULL, or the error that ends the wait. */
static const char *claim_one(struct cmd_ctx *ctx, const struct xread_args *a, int i,
                             struct xread_one *one)
{
    struct sh_slice idarg = ctx->argv[a->streams + a->n + i];
    struct kentry *e = cmd_lookup(ctx, a->streams + i);

    memset(one, 0, sizeof(*one));
    one->s = e && e->val.type == KVAL_STREAM ? tstream_of(&e->val) : NULL;
    if (a->group) {
        /* Redis's texts for a client it unblocks (blocked.c) */
        if (!one->s) {
            return "UNBLOCKED the stream key no longer exists";
        }
        one->g = tstream_group_find(one->s, ctx->argv[a->group].ptr, ctx->argv[a->group].len);
        if (!one->g) {
            return "NOGROUP the consumer group this client was blocked on no longer exists";
        }
    }
    if (idarg.len == 1 && idarg.ptr[0] == '>') {
        one->gt = (struct tstream_id){ UINT64_MAX, UINT64_MAX };
    } else if (!cmd_stream_parse_id(idarg, &one->gt, 0, true, NULL)) {
        sh_panic("corrupt __xclaim");
    }
    return NULL;
}

/* __xclaim <token> <origin> <read...>: see block.h. */
static void cmd_xclaim_blocked(struct cmd_ctx *ctx)
{
    char err[ERRBUF];
    struct cmd_ctx sub = sub_ctx(ctx, 3);
    struct xread_args a;
    struct xread_one *one;
    const char *fail = NULL;
    bool *served;
    uint64_t token;
    int origin;

    if (!parse_tok(ctx, &token, &origin) || !parse_xread(sub.argc, sub.argv, &a, err)) {
        sh_panic("corrupt __xclaim");
    }
    one = sh_malloc(sizeof(*one) * (size_t)a.n);
    served = sh_calloc((size_t)a.n, sizeof(*served));
    for (int i = 0; i < a.n && !fail; i++) {
        fail = claim_one(&sub, &a, i, &one[i]);
    }
    if (fail) {
        reply_error(&ctx->r, fail);
    } else if (!serve_all(&sub, &ctx->r, &a, one, served)) {
        reply_null_array(&ctx->r);
    }
    for (int i = 0; i < a.n; i++) {
        block_stream_claim(ctx->shard, ctx->dbid, sub.argv[a.streams + i], token, origin,
                           served[i]);
    }
    sh_free(served);
    sh_free(one);
}

static const struct cmd_spec spec_xwait = {
    .name = "__xwait", .fullname = "__xwait", .arity = -8, .proc = cmd_xwait
};
static const struct cmd_spec spec_xclaim = {
    .name = "__xclaim", .fullname = "__xclaim", .arity = -7, .proc = cmd_xclaim_blocked
};

void cmd_stream_read_bind(void)
{
    /* CONN: the handler picks where the read runs (see above); the gather
     * is also the nested coordinator of EXEC and scripts */
    cmd_must_bind("xread", cmd_xread, CMD_ROUTE_CONN, &gather_xread);
    cmd_must_bind("xreadgroup", cmd_xread, CMD_ROUTE_CONN, &gather_xread);
    block_set_stream_specs(&spec_xwait, &spec_xclaim);
}
