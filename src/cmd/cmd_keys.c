/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * cmd_keys.c: the generic keyspace commands, with Redis 7.0's semantics and
 * error strings: DEL UNLINK EXISTS TYPE TOUCH RENAME RENAMENX COPY, the
 * EXPIRE/TTL family and PERSIST, KEYS SCAN RANDOMKEY DBSIZE FLUSHDB FLUSHALL.
 *
 * Every handler implements the whole command over the database of the core
 * it runs on (ctx->db); routing (route.h) decides where that is:
 *
 *   DEL UNLINK EXISTS TOUCH   MULTI: split by owner, integer parts summed
 *   TYPE, EXPIRE ..., TTL ... KEY:   one key, runs on its owner
 *   RENAME RENAMENX COPY      MULTI: run on the owner when both keys share
 *                             one, else the staged gather below
 *   DBSIZE FLUSHDB FLUSHALL   ALL:   every shard, summed / OK
 *   KEYS                      ALL:   every shard, arrays concatenated
 *   RANDOMKEY                 ALL:   every shard, one non-nil answer at random
 *   SCAN                      ALL:   one shard per call (cursor below)
 *
 * SCAN across shards. The client's cursor names a shard and a cursor inside
 * it: cursor = inner * nshards + shard. A call runs on that one shard; when its
 * inner scan ends (inner 0), the next cursor is shard + 1 with inner 0, and 0
 * after the last shard. Shards are visited in order, so a key present for the
 * whole scan is returned at least once (kdict's reverse-binary cursor gives
 * that inside a shard, resizes included), and exactly once when nothing
 * changes. With one shard the cursor is the inner cursor itself.
 *
 * RENAME/RENAMENX/COPY across shards run in stages coordinated by the
 * client's core, with two internal commands that clients cannot name (they
 * are not in the command table):
 *
 *   stage 0  __dump src [READ]              at src's owner: [value|nil, pexpireat|-1]
 *   stage 1  __restore dst value at mode ev at dst's owner: :1 stored, :0 not (NX)
 *   stage 2  __delete src rename_from       at src's owner (RENAME, RENAMENX on :1)
 *
 * A stage whose target is the client's own core is applied directly to that
 * core's keyspace instead of being sent (the gather runs on that core, which
 * owns those keys), and the stage after it follows at once. Cross-shard
 * RENAME is NOT atomic: between the stages another client may see both keys
 * (or, if it writes src in between, lose that write to the final delete).
 * COPY's __dump carries READ: in Redis COPY reads its source (a keyspace hit
 * or miss, and "keymiss"), where RENAME's lookup is a write that counts none.
 *
 * Keyspace notifications (Redis 7.0's, all of class 'g'), published after
 * the write by the owner of the key they name: "del" for each key DEL/UNLINK
 * removes; "rename_from" on src then "rename_to" on dst; "copy_to" on dst
 * (in COPY's destination database); "expire", or "del" when the time is
 * already past; "persist" when a TTL was removed. Across shards, ev ("rename_to"
 * or "copy_to") comes out of stage 1 and "rename_from" out of stage 2, each
 * from its key's owner: "rename_to" is published first there, where Redis
 * publishes "rename_from" first (events of different keys published by
 * different shards keep no order between them anyway).
 *
 * Threading: handlers run on the core that owns their keys; gathers run on
 * the client's core. Nothing here keeps state between commands.
 */
#include "shardis/block.h"
#include "shardis/cmd.h"
#include "shardis/cmd_bind.h"
#include "shardis/cmdtab.h"
#include "shardis/config.h"
#include "shardis/conn.h"
#include "shardis/glob.h"
#include "shardis/kdb.h"
#include "shardis/persist.h"
#include "shardis/prefetch.h"
#include "shardis/pubsub.h"
#include "shardis/rdb.h"
#include "shardis/route.h"
#include "shardis/shard.h"
#include "shardis/thash.h"
#include "shardis/tlist.h"
#include "shardis/tset.h"
#include "shardis/tzset.h"
#include "shardis/util.h"

#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>

#define ERR_NO_SUCH_KEY "ERR no such key"
#define ERR_SAME_OBJECT "ERR source and destination objects are the same"
#define ERR_DB_RANGE    "ERR DB index is out of range"
#define ERR_OOM         "OOM command not allowed when used memory > 'maxmemory'."
#define ERR_CURSOR      "ERR invalid cursor"

/* ---- helpers ---- */

static bool arg_is(const struct cmd_ctx *ctx, int i, const char *word)
{
    return i < ctx->argc && sh_slice_eq_nocase(ctx->argv[i], word);
}

static bool slice_eq(struct sh_slice a, struct sh_slice b)
{
    return a.len == b.len && memcmp(a.ptr, b.ptr, a.len) == 0;
}

static struct kentry *find_key(struct kdb *db, struct sh_slice key, uint64_t hash, int64_t now)
{
    return kdb_find(db, key.ptr, key.len, hash, now);
}

/* Publishes the generic keyspace event `event` for key in database dbid of sh. */
static void notify_key(struct shard *sh, int dbid, struct sh_slice key, const char *event)
{
    pubsub_notify(sh, NOTIFY_GENERIC, event, key.ptr, key.len, dbid);
}

/* The name TYPE reports for a live entry (or "none" for NULL). */
static const char *type_name(const struct kentry *e)
{
    return e ? kval_type_name(&e->val) : "none";
}

/*
 * A value between shards (COPY, RENAME, MOVE across owners) is one byte of
 * type tag and then the string's bytes, or the type's kval_dump form; a
 * stream's is its RDB payload (STREAM_LISTPACKS_2: nodes as they are,
 * groups, PELs and consumers), read back with rdb_get_value's checks.
 */
static const char blob_tags[] = {
    [KVAL_STRING] = 's', [KVAL_LIST] = 'l', [KVAL_SET] = 'S',
    [KVAL_ZSET] = 'z',   [KVAL_HASH] = 'h', [KVAL_STREAM] = 'x',
};

/* A stream's RDB payload (sh_malloc'd). */
static char *stream_blob(const struct kval *v, size_t *n)
{
    struct rdb_out o;

    rdb_out_init(&o, false);
    rdb_put_value_payload(&o, v);
    *n = o.len;
    return o.data;
}

/* *v (KVAL_NONE) from a stream's RDB payload: 0 or -EINVAL. */
static int stream_from_blob(struct kval *v, const char *p, size_t n, struct shard *sh)
{
    struct rdb_in in;

    rdb_in_init(&in, p, n);
    if (!rdb_get_value(&in, RDB_TYPE_STREAM_LISTPACKS_2, v, &sh->cfg.limits, &sh->rnd)) {
        return -EINVAL;
    }
    if (in.pos != n) {
        kval_clear(v);
        return -EINVAL;
    }
    return 0;
}

/* The tagged bytes of a value (sh_malloc'd, the caller frees). O(n). */
static char *value_blob(const struct kval *v, size_t *len)
{
    char buf[24], *out, *dump = NULL;
    const char *p = NULL;
    size_t n = 0;

    switch (v->type) {
    case KVAL_STRING:
        p = kval_string(v, buf, &n);
        break;
    case KVAL_LIST:
        p = dump = tlist_dump(v, &n);
        break;
    case KVAL_SET:
        p = dump = tset_dump(v, &n);
        break;
    case KVAL_ZSET:
        p = dump = tzset_dump(v, &n);
        break;
    case KVAL_STREAM:
        p = dump = stream_blob(v, &n);
        break;
    default:
        SH_ASSERT(v->type == KVAL_HASH);
        p = dump = thash_dump(v, &n);
        break;
    }
    out = sh_malloc(n + 1);
    out[0] = blob_tags[v->type];
    memcpy(out + 1, p, n);
    sh_free(dump);
    *len = n + 1;
    return out;
}

/* Makes *v (KVAL_NONE) the value of tagged bytes. Returns 0, -ENOMEM, or
 * -EINVAL when the bytes are not a value. */
static int value_from_blob(struct kval *v, struct sh_slice b, struct shard *sh)
{
    const struct kval_limits *lim = &sh->cfg.limits;

    if (b.len == 0) {
        return -EINVAL;
    }
    switch (b.ptr[0]) {
    case 's':
        return kval_set_string(v, b.ptr + 1, b.len - 1);
    case 'l':
        return tlist_restore(v, b.ptr + 1, b.len - 1, lim);
    case 'S':
        return tset_load(v, b.ptr + 1, b.len - 1, lim, &sh->rnd);
    case 'z':
        return tzset_restore_seeded(v, b.ptr + 1, b.len - 1, lim, shard_rand(sh));
    case 'h':
        return thash_restore(v, b.ptr + 1, b.len - 1, lim);
    case 'x':
        return stream_from_blob(v, b.ptr + 1, b.len - 1, sh);
    default:
        return -EINVAL;
    }
}

/* A fresh deep copy of a value into *dst (KVAL_NONE before). Returns 0 or
 * -ENOMEM (dst unchanged). O(n) for collections. */
static int copy_value(struct kval *dst, const struct kval *src, struct shard *sh)
{
    char buf[24];
    size_t len;
    const char *p;
    char *blob;
    int rc;

    if (src->type == KVAL_STRING) {
        p = kval_string(src, buf, &len);
        return kval_set_string(dst, p, len);
    }
    blob = value_blob(src, &len);
    rc = value_from_blob(dst, (struct sh_slice){ blob, len }, sh);
    sh_free(blob);
    return rc;
}

/* Stores a string under key in database dbid of sh, as COPY/RENAME's
 * destination, and publishes event (rename_to, copy_to) for it: with replace
 * an existing key is overwritten, else it is left alone (returns 0). An
 * expiry already past is kept, as Redis does: the next lookup (or the active
 * cycle) expires the key, with its "expired" event. Returns 1, 0, or -ENOMEM. */
static int store_value(struct shard *sh, int dbid, struct sh_slice key, uint64_t hash,
                       struct sh_slice val, int64_t pexpireat, bool replace, const char *event)
{
    struct kdb *db = shard_db(sh, dbid);
    struct kentry *e = find_key(db, key, hash, sh->now_ms);
    struct kval v = { 0 };

    int rc;

    if (e && !replace) {
        return 0;
    }
    rc = value_from_blob(&v, val, sh);
    if (rc != 0) {
        return rc;
    }
    if (e) {
        kdb_delete(db, e);
    }
    e = kdb_add(db, key.ptr, key.len, hash);
    v.lru = e->val.lru;
    kentry_set_val(e, v);
    kdb_set_expire(db, e, pexpireat);
    notify_key(sh, dbid, key, event);
    route_touch(sh, dbid, key); /* a stage of a move: no command path */
    return 1;
}

/* Deletes key from database dbid of sh and publishes event for it; returns
 * whether it was there (and live). */
static bool delete_key(struct shard *sh, int dbid, struct sh_slice key, uint64_t hash,
                       const char *event)
{
    struct kdb *db = shard_db(sh, dbid);
    struct kentry *e = find_key(db, key, hash, sh->now_ms);

    if (e) {
        kdb_delete(db, e);
        notify_key(sh, dbid, key, event);
        route_touch(sh, dbid, key); /* a stage of a move: no command path */
    }
    return e != NULL;
}

/* ---- DEL UNLINK EXISTS TOUCH TYPE ---- */

static void cmd_del(struct cmd_ctx *ctx)
{
    long long n = 0;

    for (int i = 1; i < ctx->argc; i++) {
        struct kentry *e;

        if ((i - 1) % PREFETCH_KEYS == 0) {
            cmd_prefetch_keys(ctx, i, 1);
        }
        e = cmd_lookup(ctx, i);
        if (e) {
            kdb_delete(ctx->db, e);
            notify_key(ctx->shard, ctx->dbid, ctx->argv[i], "del");
            route_touch(ctx->shard, ctx->dbid, ctx->argv[i]);
            n++;
        }
    }
    ctx->unchanged = n == 0;
    ctx->touched_own = true;
    reply_int(&ctx->r, n);
}

/* EXISTS and TOUCH: how many arguments name a live key (repeats count). */
static void cmd_exists(struct cmd_ctx *ctx)
{
    long long n = 0;

    for (int i = 1; i < ctx->argc; i++) {
        bool hit = cmd_peek(ctx, i) != NULL;

        cmd_count_lookup(ctx, hit);
        n += hit;
    }
    reply_int(&ctx->r, n);
}

static void cmd_type(struct cmd_ctx *ctx)
{
    struct kentry *e = cmd_peek(ctx, 1);

    cmd_count_lookup(ctx, e != NULL);
    reply_status(&ctx->r, type_name(e));
}

/* ---- RENAME RENAMENX COPY on one shard ---- */

static void rename_generic(struct cmd_ctx *ctx, bool nx)
{
    struct kentry *src = cmd_lookup(ctx, 1), *dst;
    int64_t expire;

    if (!src) {
        reply_error(&ctx->r, ERR_NO_SUCH_KEY);
        return;
    }
    if (slice_eq(ctx->argv[1], ctx->argv[2])) {
        nx ? reply_int(&ctx->r, 0) : reply_ok(&ctx->r);
        ctx->unchanged = true;
        return;
    }
    dst = cmd_lookup(ctx, 2);
    if (dst) {
        if (nx) {
            reply_int(&ctx->r, 0);
            ctx->unchanged = true;
            return;
        }
        kdb_delete(ctx->db, dst);
    }
    /* move the value: src keeps an empty one so deleting it frees nothing */
    dst = kdb_add(ctx->db, ctx->argv[2].ptr, ctx->argv[2].len, cmd_key_hash(ctx, 2));
    kentry_set_val(dst, kentry_take_val(src));
    expire = kdb_expire_of(ctx->db, src);
    kdb_delete(ctx->db, src);
    if (expire >= 0) {
        kdb_set_expire(ctx->db, dst, expire);
    }
    notify_key(ctx->shard, ctx->dbid, ctx->argv[1], "rename_from");
    notify_key(ctx->shard, ctx->dbid, ctx->argv[2], "rename_to");
    nx ? reply_int(&ctx->r, 1) : reply_ok(&ctx->r);
}

static void cmd_rename(struct cmd_ctx *ctx)
{
    rename_generic(ctx, false);
}

static void cmd_renamenx(struct cmd_ctx *ctx)
{
    rename_generic(ctx, true);
}

enum copy_err {
    COPY_OK = 0,
    COPY_ERR_SYNTAX,
    COPY_ERR_NOTINT,
    COPY_ERR_INT_RANGE,
    COPY_ERR_DB_RANGE,
};

/* Parses COPY's options (argv[3..]) in Redis's order: the first bad one
 * decides the error. *dbid starts as the selected database. */
static enum copy_err copy_parse(int argc, const struct sh_slice *argv, long long ndb, int *dbid,
                                bool *replace)
{
    long long v;

    *replace = false;
    for (int j = 3; j < argc; j++) {
        if (sh_slice_eq_nocase(argv[j], "replace")) {
            *replace = true;
        } else if (sh_slice_eq_nocase(argv[j], "db") && j + 1 < argc) {
            if (!util_str2ll(argv[j + 1].ptr, argv[j + 1].len, &v)) {
                return COPY_ERR_NOTINT;
            }
            if (v < INT_MIN || v > INT_MAX) {
                return COPY_ERR_INT_RANGE;
            }
            if (v < 0 || v >= ndb) {
                return COPY_ERR_DB_RANGE;
            }
            *dbid = (int)v;
            j++;
        } else {
            return COPY_ERR_SYNTAX;
        }
    }
    return COPY_OK;
}

static void copy_reply_err(struct reply *r, enum copy_err err)
{
    switch (err) {
    case COPY_ERR_NOTINT:
        reply_err_notint(r);
        break;
    case COPY_ERR_INT_RANGE:
        reply_errorf(r, "ERR value is out of range, value must between %d and %d", INT_MIN,
                     INT_MAX);
        break;
    case COPY_ERR_DB_RANGE:
        reply_error(r, ERR_DB_RANGE);
        break;
    case COPY_ERR_SYNTAX:
    case COPY_OK:
    default:
        reply_err_syntax(r);
        break;
    }
}

static void cmd_copy(struct cmd_ctx *ctx)
{
    int dbid = ctx->dbid;
    bool replace;
    enum copy_err err =
            copy_parse(ctx->argc, ctx->argv, ctx->shard->cfg.databases, &dbid, &replace);
    struct kdb *dstdb = shard_db(ctx->shard, dbid);
    struct kentry *src, *dst;
    struct kval v = { 0 };
    uint64_t hash = cmd_key_hash(ctx, 2);

    if (err != COPY_OK) {
        copy_reply_err(&ctx->r, err);
        return;
    }
    if (dbid == ctx->dbid && slice_eq(ctx->argv[1], ctx->argv[2])) {
        reply_error(&ctx->r, ERR_SAME_OBJECT);
        return;
    }
    src = cmd_lookup(ctx, 1);
    cmd_count_lookup(ctx, src != NULL);
    if (!src) {
        reply_int(&ctx->r, 0);
        ctx->unchanged = true;
        return;
    }
    dst = find_key(dstdb, ctx->argv[2], hash, ctx->shard->now_ms);
    if (dst && !replace) {
        reply_int(&ctx->r, 0);
        ctx->unchanged = true;
        return;
    }
    if (copy_value(&v, &src->val, ctx->shard) != 0) {
        reply_error(&ctx->r, ERR_OOM);
        return;
    }
    if (dst) {
        kdb_delete(dstdb, dst);
    }
    dst = kdb_add(dstdb, ctx->argv[2].ptr, ctx->argv[2].len, hash);
    v.lru = dst->val.lru;
    kentry_set_val(dst, v);
    if (kentry_has_ttl(src)) {
        kdb_set_expire(dstdb, dst, kdb_expire_of(ctx->db, src));
    }
    notify_key(ctx->shard, dbid, ctx->argv[2], "copy_to");
    reply_int(&ctx->r, 1);
}

/* MOVE key db: the key's owner moves it between two of its databases
 * (a key's owner is the same in every database), with its TTL, as Redis's
 * moveCommand: "move_from" in the source database, "move_to" in the
 * destination, both marked for WATCH; a client blocked on the key in the
 * destination is served (the new key wakes it, as any write does). */
static void cmd_move(struct cmd_ctx *ctx)
{
    long long v;
    int dbid;
    struct kdb *dstdb;
    struct kentry *src, *dst;
    uint64_t hash = cmd_key_hash(ctx, 1);
    int64_t expire;

    if (!util_str2ll(ctx->argv[2].ptr, ctx->argv[2].len, &v)) {
        copy_reply_err(&ctx->r, COPY_ERR_NOTINT);
        return;
    }
    if (v < INT_MIN || v > INT_MAX) {
        copy_reply_err(&ctx->r, COPY_ERR_INT_RANGE);
        return;
    }
    if (v < 0 || v >= ctx->shard->cfg.databases) {
        reply_error(&ctx->r, ERR_DB_RANGE);
        return;
    }
    dbid = (int)v;
    if (dbid == ctx->dbid) {
        reply_error(&ctx->r, ERR_SAME_OBJECT);
        return;
    }
    dstdb = shard_db(ctx->shard, dbid);
    src = cmd_lookup(ctx, 1);
    if (!src || find_key(dstdb, ctx->argv[1], hash, ctx->shard->now_ms)) {
        reply_int(&ctx->r, 0);
        ctx->unchanged = true;
        return;
    }
    /* the value moves: src keeps an empty one so deleting it frees nothing */
    dst = kdb_add(dstdb, ctx->argv[1].ptr, ctx->argv[1].len, hash);
    kentry_set_val(dst, kentry_take_val(src));
    expire = kdb_expire_of(ctx->db, src);
    kdb_delete(ctx->db, src);
    if (expire >= 0) {
        kdb_set_expire(dstdb, dst, expire);
    }
    /* the source database's watchers are marked after the handler, as for
     * every write; the destination's here */
    if (ctx->shard->nwatched) {
        route_note_write(ctx->shard, ctx->cmd, dbid, ctx->argc, ctx->argv);
    }
    notify_key(ctx->shard, ctx->dbid, ctx->argv[1], "move_from");
    notify_key(ctx->shard, dbid, ctx->argv[1], "move_to");
    reply_int(&ctx->r, 1);
}

/* ---- the internal commands of cross-shard RENAME/COPY ---- */

/* __dump key [READ] -> [value or nil, pexpireat or -1]. READ: the lookup is
 * a read, counted as a keyspace hit or miss (with its keymiss event), as
 * COPY's source is in Redis; RENAME's is not. */
static void cmd_dump_internal(struct cmd_ctx *ctx)
{
    struct kentry *e = cmd_lookup(ctx, 1);
    size_t len;
    char *p;

    if (ctx->argc > 2) {
        cmd_count_lookup(ctx, e != NULL);
    }
    if (!e) {
        reply_array(&ctx->r, 2);
        reply_null(&ctx->r);
        reply_int(&ctx->r, -1);
        return;
    }
    p = value_blob(&e->val, &len);
    reply_array(&ctx->r, 2);
    reply_bulk(&ctx->r, p, len);
    reply_int(&ctx->r, kdb_expire_of(ctx->db, e));
    sh_free(p);
}

/* The event an internal command was asked to publish (its arguments hold
 * no NUL, so the name maps to a constant), or NULL. */
static const char *move_event(struct sh_slice name)
{
    static const char *const events[] = { "rename_from", "rename_to", "copy_to" };

    for (size_t i = 0; i < SH_ARRAY_LEN(events); i++) {
        if (sh_slice_eq_nocase(name, events[i])) {
            return events[i];
        }
    }
    return NULL;
}

/* __restore key value pexpireat REPLACE|NX event -> :1 stored (event
 * published), :0 not stored */
static void cmd_restore_internal(struct cmd_ctx *ctx)
{
    long long at;
    bool replace = arg_is(ctx, 4, "replace");
    const char *event = move_event(ctx->argv[5]);
    int rc;

    if (!util_str2ll(ctx->argv[3].ptr, ctx->argv[3].len, &at) ||
        (!replace && !arg_is(ctx, 4, "nx")) || !event) {
        reply_err_syntax(&ctx->r);
        return;
    }
    rc = store_value(ctx->shard, ctx->dbid, ctx->argv[1], cmd_key_hash(ctx, 1), ctx->argv[2], at,
                     replace, event);
    if (rc == -EINVAL) {
        reply_error(&ctx->r, "ERR internal error: bad value bytes");
    } else if (rc < 0) {
        reply_error(&ctx->r, ERR_OOM);
    } else {
        reply_int(&ctx->r, rc);
    }
}

/* __delete key event -> :1 deleted (event published), :0 not there */
static void cmd_delete_internal(struct cmd_ctx *ctx)
{
    const char *event = move_event(ctx->argv[2]);

    if (!event) {
        reply_err_syntax(&ctx->r);
        return;
    }
    reply_int(&ctx->r,
              delete_key(ctx->shard, ctx->dbid, ctx->argv[1], cmd_key_hash(ctx, 1), event));
}

static const struct cmd_spec dump_spec = {
    .name = "__dump",
    .fullname = "__dump",
    .arity = -2,
    .proc = cmd_dump_internal,
};

static const struct cmd_spec restore_spec = {
    .name = "__restore",
    .fullname = "__restore",
    .arity = 6,
    .proc = cmd_restore_internal,
};

static const struct cmd_spec delete_spec = {
    .name = "__delete",
    .fullname = "__delete",
    .arity = 3,
    .proc = cmd_delete_internal,
};

/* ---- cross-shard RENAME RENAMENX COPY ---- */

enum move_kind {
    MOVE_RENAME,
    MOVE_RENAMENX,
    MOVE_COPY,
};

/* The staged gather's view of its command. */
struct move {
    enum move_kind kind;
    struct shard *sh; /* the client's core */
    int src_owner, dst_owner;
    uint64_t src_hash, dst_hash;
    int dst_db;
    bool replace;          /* COPY REPLACE */
    const char *dst_event; /* published for dst: rename_to or copy_to */
};

static void move_init(struct coord *c, enum move_kind kind, struct move *m)
{
    m->kind = kind;
    m->sh = c->conn->sh;
    m->src_owner = shard_owner(c->nshards, c->argv[1].ptr, c->argv[1].len, &m->src_hash);
    m->dst_owner = shard_owner(c->nshards, c->argv[2].ptr, c->argv[2].len, &m->dst_hash);
    m->dst_db = c->dbid;
    m->replace = kind == MOVE_RENAME;
    m->dst_event = kind == MOVE_COPY ? "copy_to" : "rename_to";
    if (kind == MOVE_COPY) {
        /* start() already rejected bad options */
        (void)copy_parse(c->argc, c->argv, m->sh->cfg.databases, &m->dst_db, &m->replace);
    }
}

/* Stage 0: ask src's owner for the value. COPY's options are checked first:
 * on error nothing is sent and acc holds the error for done(). */
static void move_start(struct coord *c, enum move_kind kind)
{
    int dbid = c->dbid;
    bool replace;
    struct sh_slice argv[3] = { { "__dump", 6 }, c->argv[1], { "READ", 4 } };
    struct move m;

    c->acc = 0;
    if (kind == MOVE_COPY) {
        enum copy_err err =
                copy_parse(c->argc, c->argv, c->conn->sh->cfg.databases, &dbid, &replace);

        if (err != COPY_OK) {
            c->acc = -(long long)err;
            return;
        }
    }
    move_init(c, kind, &m);
    coord_send(c, m.src_owner, &dump_spec, c->dbid, kind == MOVE_COPY ? 3 : 2, argv);
}

/* Sends stage 1, __restore dst value pexpireat REPLACE|NX event, to dst's
 * owner. */
static void send_restore(struct coord *c, const struct move *m, struct sh_slice val, long long at)
{
    char atbuf[24];
    const char *mode = m->replace ? "REPLACE" : "NX";
    struct sh_slice argv[6] = { { "__restore", 9 }, c->argv[2], val };

    argv[3] = (struct sh_slice){ atbuf, util_ll2str(atbuf, at) };
    argv[4] = (struct sh_slice){ mode, strlen(mode) };
    argv[5] = (struct sh_slice){ m->dst_event, strlen(m->dst_event) };
    coord_send(c, m->dst_owner, &restore_spec, m->dst_db, 6, argv);
}

/* Stage 0 is back: with the value known, store it at dst's owner (directly
 * when that is this core, the result then waits in acc). Returns true when
 * the reply is written (no such key, an error). */
static bool move_restore(struct coord *c, const struct move *m, struct reply *r)
{
    struct sh_slice p = coord_part(c, m->src_owner), val;
    size_t pos = 0;
    long long n, at;

    if (p.len && p.ptr[0] == '-') {
        reply_raw(r, p.ptr, p.len);
        return true;
    }
    if (!coord_read_header(p, &pos, '*', &n) || n != 2 || !coord_read_bulk(p, &pos, &val) ||
        !coord_read_header(p, &pos, ':', &at)) {
        reply_error(r, "ERR internal error: bad __dump reply");
        return true;
    }
    if (!val.ptr) {
        m->kind == MOVE_COPY ? reply_int(r, 0) : reply_error(r, ERR_NO_SUCH_KEY);
        return true;
    }
    if (m->dst_owner == m->sh->id) {
        c->acc = store_value(m->sh, m->dst_db, c->argv[2], m->dst_hash, val, at, m->replace,
                             m->dst_event);
        shard_prop_key(m->sh, c->txn_seq, m->dst_db, c->argv[2].ptr, c->argv[2].len);
    } else {
        send_restore(c, m, val, at);
    }
    return false;
}

/* The result of stage 1 (acc when it ran here); false after writing an error. */
static bool move_stored(struct coord *c, const struct move *m, struct reply *r, long long *out)
{
    struct sh_slice p;
    size_t pos = 0;

    if (m->dst_owner == m->sh->id) {
        *out = c->acc;
    } else {
        p = coord_part(c, m->dst_owner);
        if (p.len && p.ptr[0] == '-') {
            reply_raw(r, p.ptr, p.len);
            return false;
        }
        if (!coord_read_header(p, &pos, ':', out)) {
            reply_error(r, "ERR internal error: bad __restore reply");
            return false;
        }
    }
    if (*out < 0) {
        reply_error(r, ERR_OOM);
        return false;
    }
    return true;
}

static void move_reply_done(const struct move *m, struct reply *r)
{
    m->kind == MOVE_RENAME ? reply_ok(r) : reply_int(r, 1);
}

/* Stage 1 is done: reply, or delete src (stage 2) for a rename that stored. */
static bool move_delete(struct coord *c, const struct move *m, struct reply *r)
{
    long long stored;
    struct sh_slice argv[3] = { { "__delete", 8 }, c->argv[1], { "rename_from", 11 } };

    if (!move_stored(c, m, r, &stored)) {
        return true;
    }
    if (m->kind == MOVE_COPY || stored == 0) {
        reply_int(r, stored);
        return true;
    }
    if (m->src_owner == m->sh->id) {
        delete_key(m->sh, c->dbid, c->argv[1], m->src_hash, "rename_from");
        shard_prop_key(m->sh, c->txn_seq, c->dbid, c->argv[1].ptr, c->argv[1].len);
        move_reply_done(m, r);
        return true;
    }
    coord_send(c, m->src_owner, &delete_spec, c->dbid, 3, argv);
    return false;
}

static bool move_done(struct coord *c, struct reply *r, enum move_kind kind)
{
    struct move m;

    if (c->stage == 0 && c->acc < 0) {
        copy_reply_err(r, (enum copy_err)(-c->acc));
        return true;
    }
    move_init(c, kind, &m);
    switch (c->stage) {
    case 0:
        return move_restore(c, &m, r);
    case 1:
        return move_delete(c, &m, r);
    default:
        move_reply_done(&m, r);
        return true;
    }
}

static void rename_start(struct coord *c)
{
    move_start(c, MOVE_RENAME);
}

static bool rename_done(struct coord *c, struct reply *r)
{
    return move_done(c, r, MOVE_RENAME);
}

static void renamenx_start(struct coord *c)
{
    move_start(c, MOVE_RENAMENX);
}

static bool renamenx_done(struct coord *c, struct reply *r)
{
    return move_done(c, r, MOVE_RENAMENX);
}

static void copy_start(struct coord *c)
{
    move_start(c, MOVE_COPY);
}

static bool copy_done(struct coord *c, struct reply *r)
{
    return move_done(c, r, MOVE_COPY);
}

static const struct gather gather_rename = { .start = rename_start,
                                             .done = rename_done,
                                             .barrier = true };
static const struct gather gather_renamenx = { .start = renamenx_start,
                                               .done = renamenx_done,
                                               .barrier = true };
static const struct gather gather_copy = { .start = copy_start,
                                           .done = copy_done,
                                           .barrier = true };

/* ---- EXPIRE PEXPIRE EXPIREAT PEXPIREAT ---- */

enum {
    EXPIRE_NX = 1 << 0,
    EXPIRE_XX = 1 << 1,
    EXPIRE_GT = 1 << 2,
    EXPIRE_LT = 1 << 3,
};

/* Parses NX XX GT LT at argv[3..]; writes the error and returns false. */
static bool expire_flags(struct cmd_ctx *ctx, int *flags)
{
    *flags = 0;
    for (int j = 3; j < ctx->argc; j++) {
        if (arg_is(ctx, j, "nx")) {
            *flags |= EXPIRE_NX;
        } else if (arg_is(ctx, j, "xx")) {
            *flags |= EXPIRE_XX;
        } else if (arg_is(ctx, j, "gt")) {
            *flags |= EXPIRE_GT;
        } else if (arg_is(ctx, j, "lt")) {
            *flags |= EXPIRE_LT;
        } else {
            reply_errorf(&ctx->r, "ERR Unsupported option %.*s", (int)ctx->argv[j].len,
                         ctx->argv[j].ptr);
            return false;
        }
    }
    if ((*flags & EXPIRE_NX) && (*flags & (EXPIRE_XX | EXPIRE_GT | EXPIRE_LT))) {
        reply_error(&ctx->r, "ERR NX and XX, GT or LT options at the same time are not compatible");
        return false;
    }
    if ((*flags & EXPIRE_GT) && (*flags & EXPIRE_LT)) {
        reply_error(&ctx->r, "ERR GT and LT options at the same time are not compatible");
        return false;
    }
    return true;
}

/* Does the condition of flags allow replacing expiry cur (-1: none) by when? */
static bool expire_allowed(int flags, int64_t cur, long long when)
{
    if ((flags & EXPIRE_NX) && cur != -1) {
        return false;
    }
    if ((flags & EXPIRE_XX) && cur == -1) {
        return false;
    }
    /* no expiry counts as infinite: GT never passes, LT always does */
    if ((flags & EXPIRE_GT) && (cur == -1 || when <= cur)) {
        return false;
    }
    if ((flags & EXPIRE_LT) && cur != -1 && when >= cur) {
        return false;
    }
    return true;
}

/* The deadline in unix ms, or false (error written) on a bad or overflowing
 * time. */
static bool expire_when(struct cmd_ctx *ctx, long long basetime, bool seconds, long long *when)
{
    if (!util_str2ll(ctx->argv[2].ptr, ctx->argv[2].len, when)) {
        reply_err_notint(&ctx->r);
        return false;
    }
    if (seconds) {
        if (*when > LLONG_MAX / 1000 || *when < LLONG_MIN / 1000) {
            goto out_invalid;
        }
        *when *= 1000;
    }
    if (*when > LLONG_MAX - basetime) {
        goto out_invalid;
    }
    *when += basetime;
    return true;

out_invalid:
    reply_errorf(&ctx->r, "ERR invalid expire time in '%s' command", ctx->cmd->fullname);
    return false;
}

static void expire_generic(struct cmd_ctx *ctx, bool relative, bool seconds)
{
    int flags;
    long long when;
    struct kentry *e;
    int64_t now = ctx->shard->now_ms;

    if (!expire_flags(ctx, &flags) || !expire_when(ctx, relative ? now : 0, seconds, &when)) {
        return;
    }
    e = cmd_lookup(ctx, 1);
    if (!e || !expire_allowed(flags, kdb_expire_of(ctx->db, e), when)) {
        reply_int(&ctx->r, 0);
        ctx->unchanged = true;
        return;
    }
    if (when <= now) {
        kdb_delete(ctx->db, e);
        notify_key(ctx->shard, ctx->dbid, ctx->argv[1], "del");
    } else {
        kdb_set_expire(ctx->db, e, when);
        notify_key(ctx->shard, ctx->dbid, ctx->argv[1], "expire");
    }
    reply_int(&ctx->r, 1);
}

static void cmd_expire(struct cmd_ctx *ctx)
{
    expire_generic(ctx, true, true);
}

static void cmd_pexpire(struct cmd_ctx *ctx)
{
    expire_generic(ctx, true, false);
}

static void cmd_expireat(struct cmd_ctx *ctx)
{
    expire_generic(ctx, false, true);
}

static void cmd_pexpireat(struct cmd_ctx *ctx)
{
    expire_generic(ctx, false, false);
}

/* ---- TTL PTTL EXPIRETIME PEXPIRETIME PERSIST ---- */

static void ttl_generic(struct cmd_ctx *ctx, bool ms, bool absolute)
{
    struct kentry *e = cmd_peek(ctx, 1);
    long long ttl;

    cmd_count_lookup(ctx, e != NULL);
    if (!e) {
        reply_int(&ctx->r, -2);
        return;
    }
    if (!kentry_has_ttl(e)) {
        reply_int(&ctx->r, -1);
        return;
    }
    ttl = kdb_expire_of(ctx->db, e);
    ttl = absolute ? ttl : ttl - ctx->shard->now_ms;
    if (ttl < 0) {
        ttl = 0;
    }
    /* (ttl + 500) / 1000, Redis's rounding, without overflowing near LLONG_MAX */
    reply_int(&ctx->r, ms ? ttl : ttl / 1000 + (ttl % 1000 + 500) / 1000);
}

static void cmd_ttl(struct cmd_ctx *ctx)
{
    ttl_generic(ctx, false, false);
}

static void cmd_pttl(struct cmd_ctx *ctx)
{
    ttl_generic(ctx, true, false);
}

static void cmd_expiretime(struct cmd_ctx *ctx)
{
    ttl_generic(ctx, false, true);
}

static void cmd_pexpiretime(struct cmd_ctx *ctx)
{
    ttl_generic(ctx, true, true);
}

static void cmd_persist(struct cmd_ctx *ctx)
{
    struct kentry *e = cmd_lookup(ctx, 1);

    if (e && kentry_has_ttl(e)) {
        kdb_set_expire(ctx->db, e, -1);
        notify_key(ctx->shard, ctx->dbid, ctx->argv[1], "persist");
        reply_int(&ctx->r, 1);
    } else {
        reply_int(&ctx->r, 0);
        ctx->unchanged = true;
    }
}

/* ---- KEYS ---- */

struct keys_walk {
    const struct kdb *db;
    struct reply *r;
    struct sh_slice pat;
    bool all; /* pattern "*": matches the empty key too, as in Redis */
    int64_t now;
    long long n;
};

static void keys_one(void *arg, struct kentry *e)
{
    struct keys_walk *w = arg;

    if (kdb_is_expired(w->db, e, w->now)) {
        return;
    }
    if (!w->all && !glob_match(w->pat.ptr, w->pat.len, kentry_key(e), kentry_klen(e), false)) {
        return;
    }
    reply_bulk(w->r, kentry_key(e), kentry_klen(e));
    w->n++;
}

/* Walks the table with kdict_scan and deletes nothing, so nothing moves and
 * every key is listed exactly once (expired ones are skipped, as in Redis). */
static void cmd_keys(struct cmd_ctx *ctx)
{
    struct keys_walk w = {
        .db = ctx->db,
        .r = &ctx->r,
        .pat = ctx->argv[1],
        .all = ctx->argv[1].len == 1 && ctx->argv[1].ptr[0] == '*',
        .now = ctx->shard->now_ms,
    };
    size_t at = reply_array_begin(&ctx->r);
    uint64_t cursor = 0;

    do {
        cursor = kdict_scan(kdb_dict(ctx->db), cursor, keys_one, &w);
    } while (cursor != 0);
    reply_array_end(&ctx->r, at, w.n);
}

struct scan_opts {
    long long count;
    struct sh_slice pat;
    bool use_pat;
    struct sh_slice type;
    bool use_type;
};

/* SCAN's options at argv[2..]; writes the error and returns false. */
static bool scan_parse(struct cmd_ctx *ctx, struct scan_opts *o)
{
    *o = (struct scan_opts){ .count = 10 };
    for (int i = 2; i < ctx->argc; i += 2) {
        bool has_val = i + 1 < ctx->argc;

        if (arg_is(ctx, i, "count") && has_val) {
            if (!util_str2ll(ctx->argv[i + 1].ptr, ctx->argv[i + 1].len, &o->count)) {
                reply_err_notint(&ctx->r);
                return false;
            }
            if (o->count < 1) {
                reply_err_syntax(&ctx->r);
                return false;
            }
        } else if (arg_is(ctx, i, "match") && has_val) {
            o->pat = ctx->argv[i + 1];
            o->use_pat = !(o->pat.len == 1 && o->pat.ptr[0] == '*');
        } else if (arg_is(ctx, i, "type") && has_val) {
            o->type = ctx->argv[i + 1];
            o->use_type = true;
        } else {
            reply_err_syntax(&ctx->r);
            return false;
        }
    }
    return true;
}

struct scan_acc {
    struct kentry **v;
    size_t n, cap;
};

/* Collects live entries; they stay valid for the whole command, since
 * kdb_scan only deletes entries that were already expired at `now`. */
static void scan_collect(void *arg, struct kentry *e)
{
    struct scan_acc *a = arg;

    if (a->n == a->cap) {
        a->cap = a->cap ? a->cap * 2 : 32;
        a->v = sh_realloc(a->v, a->cap * sizeof(*a->v));
    }
    a->v[a->n++] = e;
}

static bool scan_keep(const struct scan_opts *o, const struct kentry *e)
{
    if (o->use_pat && !glob_match(o->pat.ptr, o->pat.len, kentry_key(e), kentry_klen(e), false)) {
        return false;
    }
    return !o->use_type || sh_slice_eq_nocase(o->type, type_name(e));
}

static void cmd_scan(struct cmd_ctx *ctx)
{
    struct scan_opts o;
    struct scan_acc a = { 0 };
    uint64_t cursor;
    long long maxiter;
    char buf[24];
    size_t at;
    long long n = 0;

    if (!util_parse_cursor(ctx->argv[1].ptr, ctx->argv[1].len, &cursor)) {
        reply_error(&ctx->r, ERR_CURSOR);
        return;
    }
    if (!scan_parse(ctx, &o)) {
        return;
    }
    /* like Redis: at most COUNT*10 buckets, so a sparse table cannot stall */
    maxiter = o.count > LLONG_MAX / 10 ? LLONG_MAX : o.count * 10;
    do {
        cursor = kdb_scan(ctx->db, cursor, ctx->shard->now_ms, scan_collect, &a);
    } while (cursor != 0 && maxiter-- > 0 && a.n < (unsigned long long)o.count);
    reply_array(&ctx->r, 2);
    reply_bulk(&ctx->r, buf, (size_t)snprintf(buf, sizeof(buf), "%" PRIu64, cursor));
    at = reply_array_begin(&ctx->r);
    for (size_t i = 0; i < a.n; i++) {
        if (scan_keep(&o, a.v[i])) {
            reply_bulk(&ctx->r, kentry_key(a.v[i]), kentry_klen(a.v[i]));
            n++;
        }
    }
    reply_array_end(&ctx->r, at, n);
    sh_free(a.v);
}

/* Issues SCAN <inner> <options...> to shard `to`. From done() (local set),
 * the client's own core is run here at once into *local (returns true): a
 * part sent to this core from done() would be released with the stage that
 * issued it (coord_advance frees every part after done returns). */
static bool scan_issue(struct coord *c, int to, uint64_t inner, struct rbuf *local)
{
    struct sh_slice *argv = sh_malloc(sizeof(*argv) * (size_t)c->argc);
    struct shard *sh = c->conn->sh;
    char buf[24];
    bool here = local && to == sh->id; /* only done() passes local */

    memcpy(argv, c->argv, sizeof(*argv) * (size_t)c->argc);
    argv[1].ptr = buf;
    argv[1].len = (size_t)snprintf(buf, sizeof(buf), "%" PRIu64, inner);
    if (here) {
        struct cmd_ctx ctx = {
            .cmd = c->cmd,
            .argc = c->argc,
            .argv = argv,
            .r = { .buf = local, .proto = 2 },
            .shard = sh,
            .db = shard_db(sh, c->dbid),
            .dbid = c->dbid,
            .client_id = c->client_id,
        };

        rbuf_fini(local);
        c->cmd->proc(&ctx);
    } else {
        coord_send(c, to, c->cmd, c->dbid, c->argc, argv);
    }
    sh_free(argv);
    return here;
}

/* start: one part, at the shard the cursor names, with the inner cursor;
 * acc = that shard, or -1 for an invalid cursor (done() reports it). */
static void scan_start(struct coord *c)
{
    uint64_t cursor, n = (uint64_t)c->nshards;

    if (!util_parse_cursor(c->argv[1].ptr, c->argv[1].len, &cursor)) {
        c->acc = -1;
        return;
    }
    c->acc = (long long)(cursor % n);
    scan_issue(c, (int)c->acc, cursor / n, NULL);
}

/* Turns shard `shard`'s [inner, keys] into the client's [cursor, keys] and
 * returns true, or returns false when that shard is finished with nothing
 * to show and another shard follows (so an empty keyspace takes one call). */
static bool scan_reply(struct coord *c, struct sh_slice p, uint64_t shard, struct reply *r)
{
    struct sh_slice cur;
    size_t pos = 0;
    long long two;
    uint64_t inner, next, n = (uint64_t)c->nshards;
    char buf[24];

    if (p.len && p.ptr[0] == '-') {
        reply_raw(r, p.ptr, p.len);
        return true;
    }
    if (!coord_read_header(p, &pos, '*', &two) || two != 2 || !coord_read_bulk(p, &pos, &cur) ||
        !cur.ptr || !util_parse_cursor(cur.ptr, cur.len, &inner)) {
        reply_error(r, "ERR internal error: bad SCAN reply");
        return true;
    }
    if (inner == 0 && shard + 1 < n && p.len - pos == 4 && memcmp(p.ptr + pos, "*0\r\n", 4) == 0) {
        return false;
    }
    if (inner != 0) {
        next = inner * n + shard;
    } else {
        next = shard + 1 < n ? shard + 1 : 0;
    }
    reply_array(r, 2);
    reply_bulk(r, buf, (size_t)snprintf(buf, sizeof(buf), "%" PRIu64, next));
    reply_raw(r, p.ptr + pos, p.len - pos);
    return true;
}

static bool scan_done(struct coord *c, struct reply *r)
{
    struct rbuf local;
    struct sh_slice p;
    bool fin = true;

    if (c->acc < 0) {
        reply_error(r, ERR_CURSOR);
        return true;
    }
    rbuf_init(&local);
    p = coord_part(c, (int)c->acc);
    while (!scan_reply(c, p, (uint64_t)c->acc, r)) {
        c->acc++;
        if (!scan_issue(c, (int)c->acc, 0, &local)) {
            fin = false;
            break;
        }
        p = (struct sh_slice){ local.data, local.len };
    }
    rbuf_fini(&local);
    return fin;
}

static const struct gather gather_scan = { .start = scan_start, .done = scan_done };

/* ---- RANDOMKEY DBSIZE FLUSHDB FLUSHALL ---- */

static void cmd_randomkey(struct cmd_ctx *ctx)
{
    struct kentry *e = kdb_random(ctx->db, shard_rand(ctx->shard), ctx->shard->now_ms);

    if (e) {
        reply_bulk(&ctx->r, kentry_key(e), kentry_klen(e));
    } else {
        reply_null(&ctx->r);
    }
}

static void randomkey_start(struct coord *c)
{
    coord_fanout(c, c->cmd);
}

/* One of the shards' keys at random (shards are equally likely, not keys). */
static bool randomkey_done(struct coord *c, struct reply *r)
{
    struct sh_slice e = coord_first_error(c);
    int found = 0, pick;

    if (e.len) {
        reply_raw(r, e.ptr, e.len);
        return true;
    }
    for (int s = 0; s < c->nshards; s++) {
        struct sh_slice p = coord_part(c, s);

        found += p.len > 1 && p.ptr[0] == '$' && p.ptr[1] != '-';
    }
    if (found == 0) {
        reply_null(r);
        return true;
    }
    pick = (int)(shard_rand(c->conn->sh) % (uint64_t)found);
    for (int s = 0; s < c->nshards; s++) {
        struct sh_slice p = coord_part(c, s);

        if (p.len > 1 && p.ptr[0] == '$' && p.ptr[1] != '-' && pick-- == 0) {
            reply_raw(r, p.ptr, p.len);
            break;
        }
    }
    return true;
}

static const struct gather gather_randomkey = { .start = randomkey_start, .done = randomkey_done };

static void cmd_dbsize(struct cmd_ctx *ctx)
{
    reply_int(&ctx->r, (long long)kdb_size(ctx->db));
}

/* FLUSHDB/FLUSHALL [ASYNC|SYNC]: both flush at once here. */
static bool flush_args_ok(struct cmd_ctx *ctx)
{
    if (ctx->argc == 1 || (ctx->argc == 2 && (arg_is(ctx, 1, "sync") || arg_is(ctx, 1, "async")))) {
        return true;
    }
    reply_err_syntax(&ctx->r);
    return false;
}

static void cmd_flushdb(struct cmd_ctx *ctx)
{
    if (flush_args_ok(ctx)) {
        persist_before_flush(ctx->shard, ctx->dbid); /* a snapshot keeps what it had */
        route_touch_db(ctx->shard, ctx->dbid, -1);
        ctx->touched_own = true;
        kdb_flush(ctx->db);
        reply_ok(&ctx->r);
    }
}

/* SWAPDB index1 index2, on every shard at once (an all-shard transaction):
 * each swaps its two databases. A running snapshot first writes what it has
 * not reached of both (it holds the state at its begin). WATCHed keys of
 * the two databases are touched when they exist in either, as Redis does,
 * and blocked clients are told of every key the swap brought in. */
static bool db_index(struct cmd_ctx *ctx, int i, const char *which, int *out)
{
    long long v;

    if (!util_str2ll(ctx->argv[i].ptr, ctx->argv[i].len, &v)) {
        reply_errorf(&ctx->r, "ERR invalid %s DB index", which);
        return false;
    }
    if (v < 0 || v >= ctx->shard->cfg.databases) {
        reply_error(&ctx->r, ERR_DB_RANGE);
        return false;
    }
    *out = (int)v;
    return true;
}

static void tell_blocked(void *arg, struct kentry *e)
{
    struct cmd_ctx *ctx = arg;

    block_key_added(ctx->shard, ctx->dbid, e);
}

static void cmd_swapdb(struct cmd_ctx *ctx)
{
    struct shard *sh = ctx->shard;
    int a, b;

    if (!db_index(ctx, 1, "first", &a) || !db_index(ctx, 2, "second", &b)) {
        return;
    }
    ctx->touched_own = true;
    if (a != b) {
        persist_before_flush(sh, a);
        persist_before_flush(sh, b);
        route_touch_db(sh, a, b);
        route_touch_db(sh, b, a);
        shard_swap_db(sh, a, b);
        for (int k = 0; k < 2; k++) {
            struct cmd_ctx w = *ctx;
            uint64_t cursor = 0;

            w.dbid = k ? b : a;
            do {
                cursor = kdict_scan(kdb_dict(shard_db(sh, w.dbid)), cursor, tell_blocked, &w);
            } while (cursor);
        }
    }
    reply_ok(&ctx->r);
}

static void cmd_flushall(struct cmd_ctx *ctx)
{
    if (flush_args_ok(ctx)) {
        persist_snap_abort(ctx->shard); /* as Redis kills its saving child */
        for (long long i = 0; i < ctx->shard->cfg.databases; i++) {
            route_touch_db(ctx->shard, (int)i, -1);
            kdb_flush(shard_db(ctx->shard, (int)i));
        }
        ctx->touched_own = true;
        reply_ok(&ctx->r);
    }
}

/* ---- binding ---- */

void cmd_keys_bind(void)
{
    cmd_must_bind("del", cmd_del, CMD_ROUTE_MULTI, &gather_sum_keys);
    cmd_must_bind("unlink", cmd_del, CMD_ROUTE_MULTI, &gather_sum_keys);
    cmd_must_bind("exists", cmd_exists, CMD_ROUTE_MULTI, &gather_sum_keys);
    cmd_must_bind("touch", cmd_exists, CMD_ROUTE_MULTI, &gather_sum_keys);
    cmd_must_bind("type", cmd_type, CMD_ROUTE_KEY, NULL);
    cmd_must_bind("rename", cmd_rename, CMD_ROUTE_MULTI, &gather_rename);
    cmd_must_bind("renamenx", cmd_renamenx, CMD_ROUTE_MULTI, &gather_renamenx);
    cmd_must_bind("copy", cmd_copy, CMD_ROUTE_MULTI, &gather_copy);
    cmd_must_bind("move", cmd_move, CMD_ROUTE_KEY, NULL);
    cmd_must_bind("expire", cmd_expire, CMD_ROUTE_KEY, NULL);
    cmd_must_bind("pexpire", cmd_pexpire, CMD_ROUTE_KEY, NULL);
    cmd_must_bind("expireat", cmd_expireat, CMD_ROUTE_KEY, NULL);
    cmd_must_bind("pexpireat", cmd_pexpireat, CMD_ROUTE_KEY, NULL);
    cmd_must_bind("ttl", cmd_ttl, CMD_ROUTE_KEY, NULL);
    cmd_must_bind("pttl", cmd_pttl, CMD_ROUTE_KEY, NULL);
    cmd_must_bind("expiretime", cmd_expiretime, CMD_ROUTE_KEY, NULL);
    cmd_must_bind("pexpiretime", cmd_pexpiretime, CMD_ROUTE_KEY, NULL);
    cmd_must_bind("persist", cmd_persist, CMD_ROUTE_KEY, NULL);
    cmd_must_bind("keys", cmd_keys, CMD_ROUTE_ALL, &gather_concat_all);
    cmd_must_bind("scan", cmd_scan, CMD_ROUTE_ALL, &gather_scan);
    cmd_must_bind("randomkey", cmd_randomkey, CMD_ROUTE_ALL, &gather_randomkey);
    cmd_must_bind("dbsize", cmd_dbsize, CMD_ROUTE_ALL, &gather_sum_all);
    cmd_must_bind("flushdb", cmd_flushdb, CMD_ROUTE_ALL, &gather_ok_all_txn);
    cmd_must_bind("flushall", cmd_flushall, CMD_ROUTE_ALL, &cmd_persist_gather_flushall);
    cmd_must_bind("swapdb", cmd_swapdb, CMD_ROUTE_ALL, &gather_ok_all_txn);
}
