/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * cmd_dump.c: DUMP and RESTORE with Redis 7.0's semantics and replies
 * (cluster.c's dumpCommand, restoreCommand). The payload is rdb.h's:
 * the value's RDB type byte and payload, the RDB version (10) and a CRC-64,
 * so values move between shardis and Redis both ways.
 *
 * RESTORE key ttl payload [REPLACE] [ABSTTL] [IDLETIME s] [FREQ f] checks, in
 * Redis's order: the options (IDLETIME and FREQ exclude each other: the
 * second is a syntax error), the key (BUSYKEY unless REPLACE), the TTL, the
 * payload's footer, then decodes the value. A TTL already past stores
 * nothing: the key REPLACE removed is gone ("del" event) and the reply is
 * OK. Otherwise the key gets the value, its TTL, an access time IDLETIME
 * seconds back, and the "restore" event (class g). FREQ is range-checked and
 * otherwise ignored: there is no LFU policy.
 *
 * Both are single-key commands run on the key's owner; WATCH marks come
 * from routing (RESTORE is a write command). RESTORE-ASKING (what MIGRATE
 * sends from a cluster node) is RESTORE, as in Redis.
 */
#include "shardis/cmd.h"
#include "shardis/cmd_bind.h"
#include "shardis/cmdtab.h"
#include "shardis/config.h"
#include "shardis/kdb.h"
#include "shardis/kval.h"
#include "shardis/pubsub.h"
#include "shardis/rdb.h"
#include "shardis/reply.h"
#include "shardis/route.h"
#include "shardis/shard.h"
#include "shardis/util.h"

#include <limits.h>
#include <string.h>

static void notify_key(struct cmd_ctx *ctx, const char *event)
{
    pubsub_notify(ctx->shard, NOTIFY_GENERIC, event, ctx->argv[1].ptr, ctx->argv[1].len, ctx->dbid);
}

static void cmd_dump(struct cmd_ctx *ctx)
{
    struct kentry *e = cmd_lookup(ctx, 1);
    size_t len;
    char *p;

    cmd_count_lookup(ctx, e != NULL);
    if (!e) {
        reply_null(&ctx->r);
        return;
    }
    p = rdb_dump(&e->val, &len);
    reply_bulk(&ctx->r, p, len);
    sh_free(p);
}

struct restore_opts {
    bool replace;
    bool absttl;
    long long idle; /* -1: none */
    long long freq; /* -1: none */
};

/* RESTORE's options (argv[4..]) as Redis parses them; replies and returns
 * false on the first bad one. */
static bool restore_parse(struct cmd_ctx *ctx, struct restore_opts *o)
{
    *o = (struct restore_opts){ .idle = -1, .freq = -1 };
    for (int j = 4; j < ctx->argc; j++) {
        struct sh_slice a = ctx->argv[j];
        bool more = j + 1 < ctx->argc;

        if (sh_slice_eq_nocase(a, "replace")) {
            o->replace = true;
        } else if (sh_slice_eq_nocase(a, "absttl")) {
            o->absttl = true;
        } else if (sh_slice_eq_nocase(a, "idletime") && more && o->freq == -1) {
            if (!util_str2ll(ctx->argv[j + 1].ptr, ctx->argv[j + 1].len, &o->idle)) {
                reply_err_notint(&ctx->r);
                return false;
            }
            if (o->idle < 0) {
                reply_error(&ctx->r, "ERR Invalid IDLETIME value, must be >= 0");
                return false;
            }
            j++;
        } else if (sh_slice_eq_nocase(a, "freq") && more && o->idle == -1) {
            if (!util_str2ll(ctx->argv[j + 1].ptr, ctx->argv[j + 1].len, &o->freq)) {
                reply_err_notint(&ctx->r);
                return false;
            }
            if (o->freq < 0 || o->freq > 255) {
                reply_error(&ctx->r, "ERR Invalid FREQ value, must be >= 0 and <= 255");
                return false;
            }
            j++;
        } else {
            reply_err_syntax(&ctx->r);
            return false;
        }
    }
    return true;
}

static void cmd_restore(struct cmd_ctx *ctx)
{
    struct restore_opts o;
    struct kentry *e;
    struct kval v = { 0 };
    long long ttl;
    char err[128];
    int64_t now = ctx->shard->now_ms;

    if (!restore_parse(ctx, &o)) {
        return;
    }
    e = cmd_lookup(ctx, 1);
    if (e && !o.replace) {
        reply_error(&ctx->r, "BUSYKEY Target key name already exists.");
        return;
    }
    if (!util_str2ll(ctx->argv[2].ptr, ctx->argv[2].len, &ttl)) {
        reply_err_notint(&ctx->r);
        return;
    }
    if (ttl < 0) {
        reply_error(&ctx->r, "ERR Invalid TTL value, must be >= 0");
        return;
    }
    if (!rdb_restore(ctx->argv[3].ptr, ctx->argv[3].len, &v, &ctx->shard->cfg.limits,
                     &ctx->shard->rnd, err, sizeof(err))) {
        reply_errorf(&ctx->r, "ERR %s", err);
        return;
    }
    if (ttl && !o.absttl) {
        ttl = ttl > LLONG_MAX - now ? LLONG_MAX : ttl + now;
    }
    if (ttl && ttl <= now) {
        if (e) {
            kdb_delete(ctx->db, e);
            notify_key(ctx, "del");
        }
        kval_clear(&v);
        reply_ok(&ctx->r);
        return;
    }
    if (e) {
        kdb_delete(ctx->db, e);
    }
    e = kdb_add(ctx->db, ctx->argv[1].ptr, ctx->argv[1].len, cmd_key_hash(ctx, 1));
    v.lru = e->val.lru;
    if (o.idle >= 0) {
        long long at = now / 1000 - o.idle;

        v.lru = at > 0 ? (uint32_t)at : 0;
    }
    kentry_set_val(e, v);
    if (ttl) {
        kdb_set_expire(ctx->db, e, ttl);
    }
    notify_key(ctx, "restore");
    reply_ok(&ctx->r);
}

void cmd_dump_bind(void)
{
    cmd_must_bind("dump", cmd_dump, CMD_ROUTE_KEY, NULL);
    cmd_must_bind("restore", cmd_restore, CMD_ROUTE_KEY, NULL);
    /* Redis's restoreCommand too: what a cluster's MIGRATE sends */
    cmd_must_bind("restore-asking", cmd_restore, CMD_ROUTE_KEY, NULL);
}
