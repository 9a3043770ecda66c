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
 * Across shards the gather sends each owner the command over its own keys
 * (without BLOCK), the parts replying in the client's protocol, and merges
 * the non-empty streams back in argument order. The scheduler makes the
 * parts one atomic step, as a single XREADGROUP is in Redis. A key named
 * twice with different IDs whose owner is another shard may come back at
 * the position of its first occurrence.
 *
 * BLOCK: its timeout is checked as Redis checks it and the command is
 * served at once when any stream has entries for it; shardis does not yet
 * wait (issue 14), so a read that would have to wait gets an error instead
 * of blocking.
 *
 * Threading: the handler runs on the owner of every key; the gather on the
 * client's core.
 */
#include "cmd_stream_internal.h"
#include "shardis/cmd_bind.h"
#include "shardis/cmdtab.h"
#include "shardis/kdb.h"
#include "shardis/kval.h"
#include "shardis/reply.h"
#include "shardis/resp.h"
#include "shardis/route.h"
#include "shardis/shard.h"
#include "shardis/util.h"

#include <stdio.h>
#include <string.h>

#define ERR_BLOCK                                                                                  \
    "ERR BLOCK is not supported yet: no stream has entries to serve now and shardis "              \
    "does not wait"
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

static void cmd_xread(struct cmd_ctx *ctx)
{
    char err[ERRBUF];
    struct xread_args a;
    struct xread_one *one;
    struct rbuf body;
    struct reply r;
    long long served = 0;

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
    rbuf_init(&body);
    r = (struct reply){ .buf = &body, .proto = ctx->r.proto };
    for (int i = 0; i < a.n; i++) {
        served += serve_one(ctx, &r, &a, i, &one[i]);
    }
    sh_free(one);
    if (served) {
        if (ctx->r.proto == 2) {
            reply_array(&ctx->r, served);
        } else {
            reply_map(&ctx->r, served);
        }
        reply_raw(&ctx->r, body.data, body.len);
    } else if (a.timeout != -1) {
        reply_error(&ctx->r, ERR_BLOCK);
    } else {
        reply_null_array(&ctx->r);
    }
    rbuf_fini(&body);
}

/* ---- across shards ---- */

/* Each owner gets the command over its own streams, without BLOCK. */
static void xread_start(struct coord *c)
{
    char err[ERRBUF];
    struct xread_args a;
    struct sh_slice *sub;

    c->part_proto = (uint8_t)c->proto;
    if (!parse_xread(c->argc, c->argv, &a, err)) {
        return;
    }
    sub = sh_malloc(sizeof(*sub) * (size_t)c->argc);
    for (int s = 0; s < c->nshards; s++) {
        int k = 0, nk = 0;

        for (int i = 0; i < a.streams; i++) {
            if (sh_slice_eq_nocase(c->argv[i], "block") && i + 1 < a.streams) {
                i++;
                continue;
            }
            sub[k++] = c->argv[i];
        }
        for (int i = 0; i < a.n; i++) {
            if (coord_key_owner(c, c->argv[a.streams + i]) == s) {
                sub[k + nk++] = c->argv[a.streams + i];
            }
        }
        for (int i = 0, j = 0; i < a.n; i++) {
            if (coord_key_owner(c, c->argv[a.streams + i]) == s) {
                sub[k + nk + j++] = c->argv[a.streams + a.n + i];
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
        struct sh_slice key = c->argv[a->streams + i];
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
    } else if (a->timeout != -1 && !c->nowait) {
        reply_error(r, ERR_BLOCK);
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
    struct sh_slice e;

    if (!parse_xread(c->argc, c->argv, &a, err)) {
        reply_error(r, err);
        return true;
    }
    e = coord_first_error(c);
    if (e.len) {
        reply_raw(r, e.ptr, e.len);
        return true;
    }
    return xread_merge(c, &a, r);
}

static const struct gather gather_xread = { .start = xread_start, .done = xread_done };

void cmd_stream_read_bind(void)
{
    cmd_must_bind("xread", cmd_xread, CMD_ROUTE_MULTI, &gather_xread);
    cmd_must_bind("xreadgroup", cmd_xread, CMD_ROUTE_MULTI, &gather_xread);
}
