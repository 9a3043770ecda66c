/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * cmd_stream_group.c: the consumer group commands of the stream family
 * (XGROUP CREATE/SETID/DESTROY/CREATECONSUMER/DELCONSUMER/HELP, XACK,
 * XPENDING, XCLAIM, XAUTOCLAIM) with Redis 7.0's semantics, replies and
 * errors (t_stream.c). Groups, consumers and PELs are tstream.h's.
 *
 * Keyspace events (class t): "xgroup-create", "xgroup-setid",
 * "xgroup-destroy", "xgroup-createconsumer" (XGROUP CREATECONSUMER, and
 * XREADGROUP/XCLAIM/XAUTOCLAIM when they create the consumer),
 * "xgroup-delconsumer"; XACK, XCLAIM and XAUTOCLAIM publish none, as in
 * Redis.
 *
 * Times: the shard's cached unix ms (Redis's commandTimeSnapshot).
 *
 * Threading: every handler runs on the key's owner core.
 */
#include "cmd_stream_internal.h"
#include "shardis/block.h"
#include "shardis/cmd_bind.h"
#include "shardis/cmdtab.h"
#include "shardis/kdb.h"
#include "shardis/kval.h"
#include "shardis/reply.h"
#include "shardis/route.h"
#include "shardis/shard.h"
#include "shardis/util.h"

#include <limits.h>
#include <string.h>

#define ERR_NOKEY                                                                                  \
    "ERR The XGROUP subcommand requires the key to exist. Note that for CREATE you may want to "   \
    "use the MKSTREAM option to create an empty stream automatically."
#define ERR_ENTRIESREAD    "ERR value for ENTRIESREAD must be positive or -1"
#define AUTOCLAIM_ATTEMPTS 10

static void reply_subcommand_syntax(struct cmd_ctx *ctx)
{
    reply_errorf(&ctx->r,
                 "ERR unknown subcommand or wrong number of arguments for '%.*s'. Try %.*s "
                 "HELP.",
                 (int)ctx->argv[1].len, ctx->argv[1].ptr, (int)ctx->argv[0].len, ctx->argv[0].ptr);
}

static bool parse_ll(struct cmd_ctx *ctx, struct sh_slice s, long long *v, const char *err)
{
    if (!util_str2ll(s.ptr, s.len, v)) {
        if (err) {
            reply_error(&ctx->r, err);
        } else {
            reply_err_notint(&ctx->r);
        }
        return false;
    }
    return true;
}

static bool parse_entries_read(struct cmd_ctx *ctx, struct sh_slice s, long long *v)
{
    if (!parse_ll(ctx, s, v, NULL)) {
        return false;
    }
    if (*v < 0 && *v != TSTREAM_ENTRIES_UNKNOWN) {
        reply_error(&ctx->r, ERR_ENTRIESREAD);
        return false;
    }
    return true;
}

/* The stream at argv[2] and group argv[3] for XGROUP: false after an error
 * reply. need_group: NOGROUP when the group is missing. */
static bool xgroup_lookup(struct cmd_ctx *ctx, bool mkstream, bool need_group, struct kentry **e,
                          struct tstream_group **g)
{
    if (!cmd_stream_lookup(ctx, 2, false, e)) {
        return false;
    }
    if (!*e && !mkstream) {
        reply_error(&ctx->r, ERR_NOKEY);
        return false;
    }
    *g = *e ? tstream_group_find(tstream_of(&(*e)->val), ctx->argv[3].ptr, ctx->argv[3].len) : NULL;
    if (!*g && need_group) {
        reply_errorf(&ctx->r, "NOGROUP No such consumer group '%.*s' for key name '%.*s'",
                     (int)ctx->argv[3].len, ctx->argv[3].ptr, (int)ctx->argv[2].len,
                     ctx->argv[2].ptr);
        return false;
    }
    return true;
}

/* XGROUP CREATE key group id|$ [MKSTREAM] [ENTRIESREAD n] */
/* Redis 7.0 marks no WATCHer of a stream when its consumer groups change
 * (XGROUP, XACK, XCLAIM, XAUTOCLAIM, nor XSETID): the command path is told
 * the handler marked what it changed, which is nothing (or the key that
 * XGROUP CREATE ... MKSTREAM made). */
static inline void group_write(struct cmd_ctx *ctx)
{
    ctx->touched_own = true;
}

static void cmd_xgroup_create(struct cmd_ctx *ctx)
{
    long long entries_read = TSTREAM_ENTRIES_UNKNOWN;
    struct tstream_group *g;
    struct tstream_id id = { 0, 0 };
    struct kentry *e;
    bool mkstream = false;
    struct sh_slice a = ctx->argv[4];

    group_write(ctx);

    for (int i = 5; i < ctx->argc; i++) {
        if (sh_slice_eq_nocase(ctx->argv[i], "mkstream")) {
            mkstream = true;
        } else if (sh_slice_eq_nocase(ctx->argv[i], "entriesread") && i + 1 < ctx->argc) {
            if (!parse_entries_read(ctx, ctx->argv[++i], &entries_read)) {
                return;
            }
        } else {
            reply_subcommand_syntax(ctx);
            return;
        }
    }
    if (ctx->argc > 8) {
        reply_subcommand_syntax(ctx);
        return;
    }
    if (!xgroup_lookup(ctx, mkstream, false, &e, &g)) {
        return;
    }
    if (a.len == 1 && a.ptr[0] == '$') {
        if (e) {
            id = tstream_of(&e->val)->last_id;
        }
    } else if (!cmd_stream_parse_id(a, &id, 0, true, NULL)) {
        reply_error(&ctx->r, CMD_STREAM_ERR_ID);
        return;
    }
    if (g) {
        reply_error(&ctx->r, "BUSYGROUP Consumer Group name already exists");
        return;
    }
    if (!e) {
        e = kdb_add(ctx->db, ctx->argv[2].ptr, ctx->argv[2].len, cmd_key_hash(ctx, 2));
        tstream_init(&e->val);
        route_touch(ctx->shard, ctx->dbid, ctx->argv[2]); /* MKSTREAM made the key */
    }
    (void)tstream_group_create(tstream_of(&e->val), ctx->argv[3].ptr, ctx->argv[3].len, &id,
                               entries_read);
    reply_ok(&ctx->r);
    cmd_stream_notify(ctx, 2, "xgroup-create");
}

/* XGROUP SETID key group id|$ [ENTRIESREAD n] */
static void cmd_xgroup_setid(struct cmd_ctx *ctx)
{
    long long entries_read = TSTREAM_ENTRIES_UNKNOWN;
    struct tstream_group *g;
    struct tstream_id id;
    struct kentry *e;
    struct sh_slice a = ctx->argv[4];

    group_write(ctx);

    if (ctx->argc != 5 && ctx->argc != 7) {
        reply_subcommand_syntax(ctx);
        return;
    }
    if (!xgroup_lookup(ctx, false, true, &e, &g)) {
        return;
    }
    if (a.len == 1 && a.ptr[0] == '$') {
        id = tstream_of(&e->val)->last_id;
    } else if (!cmd_stream_parse_id(a, &id, 0, false, NULL)) {
        reply_error(&ctx->r, CMD_STREAM_ERR_ID);
        return;
    }
    if (ctx->argc == 7) {
        if (!sh_slice_eq_nocase(ctx->argv[5], "entriesread")) {
            reply_subcommand_syntax(ctx);
            return;
        }
        if (!parse_entries_read(ctx, ctx->argv[6], &entries_read)) {
            return;
        }
    }
    g->last_id = id;
    g->entries_read = entries_read;
    reply_ok(&ctx->r);
    cmd_stream_notify(ctx, 2, "xgroup-setid");
}

static void cmd_xgroup_destroy(struct cmd_ctx *ctx)
{
    struct tstream_group *g;
    struct kentry *e;

    group_write(ctx);

    if (!xgroup_lookup(ctx, false, false, &e, &g)) {
        return;
    }
    if (!g) {
        reply_int(&ctx->r, 0);
        return;
    }
    tstream_group_destroy(tstream_of(&e->val), g);
    block_key_touched(ctx->shard, ctx->dbid, ctx->argv[2]); /* its blocked readers: -NOGROUP */
    reply_int(&ctx->r, 1);
    cmd_stream_notify(ctx, 2, "xgroup-destroy");
}

static void cmd_xgroup_createconsumer(struct cmd_ctx *ctx)
{
    struct tstream_group *g;
    struct kentry *e;

    group_write(ctx);

    if (!xgroup_lookup(ctx, false, true, &e, &g)) {
        return;
    }
    if (tstream_consumer_create(g, ctx->argv[4].ptr, ctx->argv[4].len, ctx->shard->now_ms)) {
        reply_int(&ctx->r, 1);
        cmd_stream_notify(ctx, 2, "xgroup-createconsumer");
    } else {
        reply_int(&ctx->r, 0);
    }
}

static void cmd_xgroup_delconsumer(struct cmd_ctx *ctx)
{
    struct tstream_consumer *c;
    struct tstream_group *g;
    struct kentry *e;

    group_write(ctx);

    if (!xgroup_lookup(ctx, false, true, &e, &g)) {
        return;
    }
    c = tstream_consumer_find(g, ctx->argv[4].ptr, ctx->argv[4].len);
    if (!c) {
        reply_int(&ctx->r, 0);
        return;
    }
    reply_int(&ctx->r, (long long)tstream_consumer_delete(g, c));
    cmd_stream_notify(ctx, 2, "xgroup-delconsumer");
}

static void cmd_xgroup_help(struct cmd_ctx *ctx)
{
    static const char *const lines[] = {
        "XGROUP <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
        "CREATE <key> <groupname> <id|$> [option]",
        "    Create a new consumer group. Options are:",
        "    * MKSTREAM",
        "      Create the empty stream if it does not exist.",
        "    * ENTRIESREAD entries_read",
        "      Set the group's entries_read counter (internal use).",
        "CREATECONSUMER <key> <groupname> <consumer>",
        "    Create a new consumer in the specified group.",
        "DELCONSUMER <key> <groupname> <consumer>",
        "    Remove the specified consumer.",
        "DESTROY <key> <groupname>",
        "    Remove the specified group.",
        "SETID <key> <groupname> <id|$> [ENTRIESREAD entries_read]",
        "    Set the current group ID and entries_read counter.",
        "HELP",
        "    Prints this help.",
    };

    reply_array(&ctx->r, (long long)SH_ARRAY_LEN(lines));
    for (size_t i = 0; i < SH_ARRAY_LEN(lines); i++) {
        reply_status(&ctx->r, lines[i]);
    }
}

/* The stream at argv[1] and group argv[2] (read lookup); NULL group when
 * either is missing. False after WRONGTYPE. */
static bool group_lookup(struct cmd_ctx *ctx, struct tstream **s, struct tstream_group **g)
{
    struct kentry *e;

    *s = NULL;
    *g = NULL;
    if (!cmd_stream_lookup(ctx, 1, true, &e)) {
        return false;
    }
    if (e) {
        *s = tstream_of(&e->val);
        *g = tstream_group_find(*s, ctx->argv[2].ptr, ctx->argv[2].len);
    }
    return true;
}

/* XACK key group id [id ...] */
static void cmd_xack(struct cmd_ctx *ctx)
{
    struct tstream_group *g;
    struct tstream_id *ids;
    struct tstream *s;
    long long acked = 0;

    group_write(ctx);

    if (!group_lookup(ctx, &s, &g)) {
        return;
    }
    if (!g) {
        reply_int(&ctx->r, 0);
        return;
    }
    ids = sh_malloc(sizeof(*ids) * (size_t)(ctx->argc - 3));
    for (int j = 3; j < ctx->argc; j++) {
        if (!cmd_stream_parse_id(ctx->argv[j], &ids[j - 3], 0, true, NULL)) {
            reply_error(&ctx->r, CMD_STREAM_ERR_ID);
            sh_free(ids);
            return;
        }
    }
    for (int j = 0; j < ctx->argc - 3; j++) {
        acked += tstream_pel_ack(g, &ids[j]);
    }
    sh_free(ids);
    reply_int(&ctx->r, acked);
}

/* ---- XPENDING ---- */

struct pending_args {
    struct tstream_id start, end;
    long long count, minidle;
    int consumer; /* argv index or 0 */
};

static bool parse_interval(struct cmd_ctx *ctx, struct sh_slice s, struct tstream_id *id,
                           uint64_t missing, bool start)
{
    bool ex = s.len > 1 && s.ptr[0] == '(';
    bool ok = ex ? cmd_stream_parse_id((struct sh_slice){ s.ptr + 1, s.len - 1 }, id, missing, true,
                                       NULL)
                 : cmd_stream_parse_id(s, id, missing, false, NULL);

    if (!ok) {
        reply_error(&ctx->r, CMD_STREAM_ERR_ID);
        return false;
    }
    if (ex && !(start ? tstream_id_incr(id) : tstream_id_decr(id))) {
        reply_error(&ctx->r, start ? "ERR invalid start ID for the interval"
                                   : "ERR invalid end ID for the interval");
        return false;
    }
    return true;
}

static bool parse_pending(struct cmd_ctx *ctx, struct pending_args *a)
{
    int at = 3;

    memset(a, 0, sizeof(*a));
    if (ctx->argc != 3 && (ctx->argc < 6 || ctx->argc > 9)) {
        reply_err_syntax(&ctx->r);
        return false;
    }
    if (ctx->argc == 3) {
        return true;
    }
    if (sh_slice_eq_nocase(ctx->argv[3], "idle")) {
        if (!parse_ll(ctx, ctx->argv[4], &a->minidle, NULL)) {
            return false;
        }
        if (ctx->argc < 8) {
            reply_err_syntax(&ctx->r);
            return false;
        }
        at += 2;
    }
    if (!parse_ll(ctx, ctx->argv[at + 2], &a->count, NULL)) {
        return false;
    }
    if (a->count < 0) {
        a->count = 0;
    }
    if (!parse_interval(ctx, ctx->argv[at], &a->start, 0, true) ||
        !parse_interval(ctx, ctx->argv[at + 1], &a->end, UINT64_MAX, false)) {
        return false;
    }
    if (at + 3 < ctx->argc) {
        a->consumer = at + 3;
    }
    return true;
}

static void pending_summary(struct cmd_ctx *ctx, const struct tstream_group *g)
{
    struct tstream_map_pos pos;
    size_t at;
    long long n = 0;
    char buf[24];

    reply_array(&ctx->r, 4);
    reply_int(&ctx->r, (long long)g->pel.count);
    if (!g->pel.count) {
        reply_null(&ctx->r);
        reply_null(&ctx->r);
        reply_null_array(&ctx->r);
        return;
    }
    (void)tstream_map_seek(&g->pel, NULL, true, &pos);
    cmd_stream_reply_id(&ctx->r, tstream_map_key(&g->pel, pos));
    (void)tstream_map_seek(&g->pel, NULL, false, &pos);
    cmd_stream_reply_id(&ctx->r, tstream_map_key(&g->pel, pos));
    at = reply_array_begin(&ctx->r);
    for (size_t i = 0; i < g->nconsumers; i++) {
        const struct tstream_consumer *c = g->consumers[i];

        if (!c->pel.count) {
            continue;
        }
        reply_array(&ctx->r, 2);
        reply_bulk(&ctx->r, c->name, c->nlen);
        reply_bulk(&ctx->r, buf, util_ll2str(buf, (long long)c->pel.count));
        n++;
    }
    reply_array_end(&ctx->r, at, n);
}

static void pending_range(struct cmd_ctx *ctx, const struct tstream_group *g,
                          const struct pending_args *a)
{
    const struct tstream_map *pel = &g->pel;
    int64_t now = ctx->shard->now_ms;
    struct tstream_map_pos pos;
    long long count = a->count, n = 0;
    size_t at;
    bool more;

    if (a->consumer) {
        const struct tstream_consumer *c =
                tstream_consumer_find(g, ctx->argv[a->consumer].ptr, ctx->argv[a->consumer].len);

        if (!c) {
            reply_array(&ctx->r, 0);
            return;
        }
        pel = &c->pel;
    }
    at = reply_array_begin(&ctx->r);
    more = tstream_map_seek(pel, &a->start, true, &pos);
    while (count && more && tstream_id_cmp(tstream_map_key(pel, pos), &a->end) <= 0) {
        const struct tstream_nack *k = tstream_map_val(pel, pos);
        int64_t idle = now - k->delivery_time;

        if (!a->minidle || idle >= a->minidle) {
            reply_array(&ctx->r, 4);
            cmd_stream_reply_id(&ctx->r, tstream_map_key(pel, pos));
            reply_bulk(&ctx->r, k->consumer->name, k->consumer->nlen);
            reply_int(&ctx->r, idle < 0 ? 0 : idle);
            reply_int(&ctx->r, (long long)k->delivery_count);
            n++;
            count--;
        }
        more = tstream_map_next(pel, &pos);
    }
    reply_array_end(&ctx->r, at, n);
}

/* XPENDING key group [[IDLE min-idle-time] start end count [consumer]] */
static void cmd_xpending(struct cmd_ctx *ctx)
{
    struct pending_args a;
    struct tstream_group *g;
    struct tstream *s;

    if (!parse_pending(ctx, &a) || !group_lookup(ctx, &s, &g)) {
        return;
    }
    if (!g) {
        cmd_stream_reply_nogroup(ctx, 1, 2, "");
        return;
    }
    if (ctx->argc == 3) {
        pending_summary(ctx, g);
    } else {
        pending_range(ctx, g, &a);
    }
}

/* ---- XCLAIM XAUTOCLAIM ---- */

/* Replies a claimed entry: its ID (justid), or [id, fields], or null when
 * the entry is gone. */
static void reply_claimed(struct cmd_ctx *ctx, const struct tstream *s, const struct tstream_id *id,
                          bool justid)
{
    if (justid) {
        cmd_stream_reply_id(&ctx->r, id);
    } else if (!cmd_stream_reply_entries(&ctx->r, s, id, id, 1, false)) {
        reply_null(&ctx->r);
    }
}

struct claim_opts {
    long long retrycount;
    int64_t deliverytime;
    struct tstream_id lastid;
    bool force, justid;
};

static bool parse_claim_opts(struct cmd_ctx *ctx, int j, int64_t now, struct claim_opts *o)
{
    for (; j < ctx->argc; j++) {
        bool more = ctx->argc - 1 - j > 0;
        struct sh_slice opt = ctx->argv[j];
        long long v;

        if (sh_slice_eq_nocase(opt, "force")) {
            o->force = true;
        } else if (sh_slice_eq_nocase(opt, "justid")) {
            o->justid = true;
        } else if (sh_slice_eq_nocase(opt, "idle") && more) {
            if (!parse_ll(ctx, ctx->argv[++j], &v, "ERR Invalid IDLE option argument for XCLAIM")) {
                return false;
            }
            o->deliverytime = now - v;
        } else if (sh_slice_eq_nocase(opt, "time") && more) {
            if (!parse_ll(ctx, ctx->argv[++j], &v, "ERR Invalid TIME option argument for XCLAIM")) {
                return false;
            }
            o->deliverytime = v;
        } else if (sh_slice_eq_nocase(opt, "retrycount") && more) {
            if (!parse_ll(ctx, ctx->argv[++j], &o->retrycount,
                          "ERR Invalid RETRYCOUNT option argument for XCLAIM")) {
                return false;
            }
        } else if (sh_slice_eq_nocase(opt, "lastid") && more) {
            if (!cmd_stream_parse_id(ctx->argv[++j], &o->lastid, 0, true, NULL)) {
                reply_error(&ctx->r, CMD_STREAM_ERR_ID);
                return false;
            }
        } else {
            reply_errorf(&ctx->r, "ERR Unrecognized XCLAIM option '%.*s'", (int)opt.len, opt.ptr);
            return false;
        }
    }
    return true;
}

/* Claims id for XCLAIM; returns whether it was claimed (and replied). */
static bool claim_one(struct cmd_ctx *ctx, struct tstream *s, struct tstream_group *g,
                      const struct tstream_id *id, long long minidle, const struct claim_opts *o,
                      struct tstream_consumer **cons)
{
    int64_t now = ctx->shard->now_ms;
    struct tstream_nack *k = tstream_map_get(&g->pel, id);
    bool created = false;

    if (!tstream_has(s, id)) {
        if (k) {
            (void)tstream_pel_ack(g, id);
        }
        return false;
    }
    if (!k && !o->force) {
        return false;
    }
    if (k && minidle && now - k->delivery_time < minidle) {
        return false;
    }
    if (!*cons) {
        *cons = cmd_stream_consumer(ctx, g, 3, 1);
    }
    if (!k) {
        k = tstream_pel_add(g, *cons, id, now, 1);
        created = true;
    }
    if (!created) {
        tstream_pel_move(*cons, id, k);
    }
    k->delivery_time = o->deliverytime;
    if (o->retrycount >= 0) {
        k->delivery_count = (uint64_t)o->retrycount;
    } else if (!o->justid) {
        k->delivery_count++;
    }
    reply_claimed(ctx, s, id, o->justid);
    return true;
}

/* XCLAIM key group consumer min-idle-time id [id ...] [options] */
static void cmd_xclaim(struct cmd_ctx *ctx)
{
    struct claim_opts o = { .retrycount = -1, .deliverytime = -1 };
    struct tstream_consumer *cons = NULL;
    int64_t now = ctx->shard->now_ms;
    struct tstream_group *g;
    struct tstream_id id;
    struct tstream *s;
    long long minidle, n = 0;
    size_t at;
    int j;

    group_write(ctx);

    if (!group_lookup(ctx, &s, &g)) {
        return;
    }
    if (!g) {
        cmd_stream_reply_nogroup(ctx, 1, 2, "");
        return;
    }
    if (!parse_ll(ctx, ctx->argv[4], &minidle, "ERR Invalid min-idle-time argument for XCLAIM")) {
        return;
    }
    if (minidle < 0) {
        minidle = 0;
    }
    for (j = 5; j < ctx->argc; j++) {
        if (!cmd_stream_parse_id(ctx->argv[j], &id, 0, true, NULL)) {
            break;
        }
    }
    int last = j - 1;

    if (!parse_claim_opts(ctx, j, now, &o)) {
        return;
    }
    if (tstream_id_cmp(&o.lastid, &g->last_id) > 0) {
        g->last_id = o.lastid;
    }
    if (o.deliverytime == -1 || o.deliverytime < 0 || o.deliverytime > now) {
        o.deliverytime = now;
    }
    at = reply_array_begin(&ctx->r);
    for (j = 5; j <= last; j++) {
        (void)cmd_stream_parse_id(ctx->argv[j], &id, 0, true, NULL);
        n += claim_one(ctx, s, g, &id, minidle, &o, &cons);
    }
    reply_array_end(&ctx->r, at, n);
}

struct autoclaim {
    struct tstream_id *deleted;
    long long ndeleted, claimed;
    struct tstream_id next;
};

/* Walks g's PEL from start as XAUTOCLAIM does, replying the claimed
 * entries (the caller wrote nothing yet for them). */
static void autoclaim_walk(struct cmd_ctx *ctx, struct tstream *s, struct tstream_group *g,
                           struct tstream_id start, long long minidle, long long count, bool justid,
                           struct autoclaim *ac)
{
    int64_t now = ctx->shard->now_ms;
    long long attempts = count * AUTOCLAIM_ATTEMPTS;
    struct tstream_consumer *cons = NULL;
    struct tstream_map_pos pos;
    struct tstream_id id;
    bool more = tstream_map_seek(&g->pel, &start, true, &pos);

    while (attempts-- && count && more) {
        struct tstream_nack *k = tstream_map_val(&g->pel, pos);

        id = *tstream_map_key(&g->pel, pos);
        if (!tstream_has(s, &id)) {
            (void)tstream_pel_ack(g, &id);
            ac->deleted[ac->ndeleted++] = id;
            count--;
            more = tstream_map_seek(&g->pel, &id, true, &pos);
            continue;
        }
        more = tstream_map_next(&g->pel, &pos);
        if (minidle && now - k->delivery_time < minidle) {
            continue;
        }
        if (!cons) {
            cons = cmd_stream_consumer(ctx, g, 3, 1);
            /* the consumer's PEL changed no position of the group's */
        }
        tstream_pel_move(cons, &id, k);
        k->delivery_time = now;
        if (!justid) {
            k->delivery_count++;
        }
        reply_claimed(ctx, s, &id, justid);
        ac->claimed++;
        count--;
    }
    ac->next = more ? *tstream_map_key(&g->pel, pos) : (struct tstream_id){ 0, 0 };
}

/* XAUTOCLAIM key group consumer min-idle-time start [COUNT count] [JUSTID] */
static void cmd_xautoclaim(struct cmd_ctx *ctx)
{
    long long minidle, count = 100;
    struct autoclaim ac = { 0 };
    struct tstream_group *g;
    struct tstream_id start;
    struct tstream *s;
    bool justid = false;
    struct rbuf body;
    struct reply r;

    group_write(ctx);

    if (!parse_ll(ctx, ctx->argv[4], &minidle,
                  "ERR Invalid min-idle-time argument for XAUTOCLAIM")) {
        return;
    }
    if (minidle < 0) {
        minidle = 0;
    }
    if (!parse_interval(ctx, ctx->argv[5], &start, 0, true)) {
        return;
    }
    for (int j = 6; j < ctx->argc; j++) {
        if (sh_slice_eq_nocase(ctx->argv[j], "count") && j + 1 < ctx->argc) {
            if (!util_str2ll(ctx->argv[j + 1].ptr, ctx->argv[j + 1].len, &count) || count < 1 ||
                count > LONG_MAX / 16) {
                reply_error(&ctx->r, "ERR COUNT must be > 0");
                return;
            }
            j++;
        } else if (sh_slice_eq_nocase(ctx->argv[j], "justid")) {
            justid = true;
        } else {
            reply_err_syntax(&ctx->r);
            return;
        }
    }
    if (!group_lookup(ctx, &s, &g)) {
        return;
    }
    if (!g) {
        cmd_stream_reply_nogroup(ctx, 1, 2, "");
        return;
    }
    /* each deleted ID uses up one of count, and only pending ones can go */
    ac.deleted = sh_malloc(sizeof(*ac.deleted) *
                           ((size_t)count < g->pel.count ? (size_t)count : g->pel.count + 1));
    rbuf_init(&body);
    r = (struct reply){ .buf = &body, .proto = ctx->r.proto };
    {
        struct reply saved = ctx->r;

        ctx->r = r;
        autoclaim_walk(ctx, s, g, start, minidle, count, justid, &ac);
        ctx->r = saved;
    }
    reply_array(&ctx->r, 3);
    cmd_stream_reply_id(&ctx->r, &ac.next);
    reply_array(&ctx->r, ac.claimed);
    reply_raw(&ctx->r, body.data, body.len);
    rbuf_fini(&body);
    reply_array(&ctx->r, ac.ndeleted);
    for (long long i = 0; i < ac.ndeleted; i++) {
        cmd_stream_reply_id(&ctx->r, &ac.deleted[i]);
    }
    sh_free(ac.deleted);
}

void cmd_stream_group_bind(void)
{
    static const struct {
        const char *name;
        cmd_fn *proc;
    } cmds[] = {
        { "xgroup|create", cmd_xgroup_create },
        { "xgroup|setid", cmd_xgroup_setid },
        { "xgroup|destroy", cmd_xgroup_destroy },
        { "xgroup|createconsumer", cmd_xgroup_createconsumer },
        { "xgroup|delconsumer", cmd_xgroup_delconsumer },
        { "xack", cmd_xack },
        { "xpending", cmd_xpending },
        { "xclaim", cmd_xclaim },
        { "xautoclaim", cmd_xautoclaim },
    };

    for (size_t i = 0; i < SH_ARRAY_LEN(cmds); i++) {
        cmd_must_bind(cmds[i].name, cmds[i].proc, CMD_ROUTE_KEY, NULL);
    }
    cmd_must_bind("xgroup|help", cmd_xgroup_help, CMD_ROUTE_CONN, NULL);
}
