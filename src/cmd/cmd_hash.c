/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * cmd_hash.c: the hash command family (HSET HSETNX HMSET HGET HMGET HDEL
 * HLEN HSTRLEN HEXISTS HKEYS HVALS HGETALL HINCRBY HINCRBYFLOAT HRANDFIELD
 * HSCAN) with Redis 7.0's semantics, replies and error wording (t_hash.c).
 *
 * Every command has one key: routing runs it whole on the key's owner, so
 * each handler is the whole command, atomic like in Redis. Hashes on other
 * shards never meet here; RENAME/COPY/MOVE of a hash between shards go
 * through thash_dump/thash_restore (cmd_keys.c).
 *
 * Values go through thash.h only (encodings, conversion at the
 * hash-max-listpack-* thresholds of ctx->shard->cfg.limits, randomness from
 * the shard's state sh->rnd). A hash is never stored empty: a write to a
 * missing key makes the value (thash_init) and sets its first field at once,
 * or deletes the key again when that fails; HDEL of the last field deletes
 * the key ("del" event after "hdel", as Redis).
 *
 * Lookups: reads count keyspace hits and misses (Redis's lookupKeyRead),
 * writes do not (lookupKeyWrite). Argument checks that Redis makes before
 * the lookup (HSET's pairs, HINCRBY's increment, HRANDFIELD's count, HSCAN's
 * cursor) come first here too, so a wrong argument wins over WRONGTYPE.
 *
 * Keyspace notifications (class h, published by the owner after the write):
 * "hset" once per HSET/HMSET/HSETNX that wrote, "hdel" once per HDEL that
 * deleted, "hincrby", "hincrbyfloat"; "del" (class g) when HDEL emptied it.
 *
 * Out of memory: a client-sized field or value that cannot be allocated
 * (thash_set's -ENOMEM) becomes the OOM reply. An HSET of several pairs may
 * then have written the pairs before the failing one (and publishes "hset"
 * for them); Redis rejects such a command up front by maxmemory only.
 *
 * Threading: every handler runs on the key's owner core.
 */
#include "shardis/cmd.h"
#include "shardis/cmd_bind.h"
#include "shardis/cmdtab.h"
#include "shardis/config.h"
#include "shardis/glob.h"
#include "shardis/kdb.h"
#include "shardis/kval.h"
#include "shardis/pubsub.h"
#include "shardis/reply.h"
#include "shardis/shard.h"
#include "shardis/thash.h"
#include "shardis/util.h"

#include <ctype.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

#define OOM_MSG           "OOM command not allowed when used memory > 'maxmemory'."
#define LD_BUF            (5 * 1024 + 64) /* util_ld2str's worst case, with room */
#define SCAN_DEFAULT_HINT 10

/* ---- helpers ---- */

static bool is_hash(const struct kentry *e)
{
    return e->val.type == KVAL_HASH;
}

static void reply_oom(struct cmd_ctx *ctx)
{
    reply_error(&ctx->r, OOM_MSG);
}

static void reply_slice(struct reply *r, struct sh_slice s)
{
    reply_bulk(r, s.ptr, s.len);
}

/* Publishes keyspace event `event` of class type for the key argv[1]. */
static void notify_key(struct cmd_ctx *ctx, int type, const char *event)
{
    pubsub_notify(ctx->shard, type, event, ctx->argv[1].ptr, ctx->argv[1].len, ctx->dbid);
}

/* The hash at argv[1] for a read, counted as hit or miss. Returns false
 * after replying WRONGTYPE; *e is NULL when the key is missing. */
static bool lookup_read(struct cmd_ctx *ctx, struct kentry **e)
{
    *e = cmd_lookup(ctx, 1);
    cmd_count_lookup(ctx, *e != NULL);
    if (*e && !is_hash(*e)) {
        reply_err_wrongtype(&ctx->r);
        return false;
    }
    return true;
}

/* The hash at argv[1] for a write (not counted). Returns false after
 * replying WRONGTYPE; *e is NULL when the key is missing. */
static bool lookup_write(struct cmd_ctx *ctx, struct kentry **e)
{
    *e = cmd_lookup(ctx, 1);
    if (*e && !is_hash(*e)) {
        reply_err_wrongtype(&ctx->r);
        return false;
    }
    return true;
}

/* Adds the key argv[1] (absent: the caller looked it up) with an empty hash
 * that the caller fills before replying. */
static struct kentry *add_hash(struct cmd_ctx *ctx)
{
    struct kentry *e = kdb_add(ctx->db, ctx->argv[1].ptr, ctx->argv[1].len, cmd_key_hash(ctx, 1));

    thash_init(&e->val);
    return e;
}

/* Sets field f to val in e's hash; 1 added, 0 replaced, -ENOMEM. */
static int set_field(struct cmd_ctx *ctx, struct kentry *e, struct sh_slice f, struct sh_slice val)
{
    return thash_set(&e->val, f.ptr, f.len, val.ptr, val.len, &ctx->shard->cfg.limits,
                     &ctx->shard->rnd);
}

/* After a failed write: a hash left empty (a key just added) is deleted. */
static void drop_if_empty(struct cmd_ctx *ctx, struct kentry *e)
{
    if (thash_len(&e->val) == 0) {
        kdb_delete(ctx->db, e);
    }
}

/* ---- HSET HMSET HSETNX ---- */

/* Sets every field,value pair from argv[2]. Returns the fields added, or -1
 * after replying OOM. */
static long long set_pairs(struct cmd_ctx *ctx, struct kentry *e)
{
    long long created = 0;

    for (int i = 2; i + 1 < ctx->argc; i += 2) {
        int rc = set_field(ctx, e, ctx->argv[i], ctx->argv[i + 1]);

        if (rc < 0) {
            if (i > 2) {
                notify_key(ctx, NOTIFY_HASH, "hset");
            }
            drop_if_empty(ctx, e);
            reply_oom(ctx);
            return -1;
        }
        created += rc;
    }
    return created;
}

/* HSET key field value [field value ...] (:added) and HMSET (+OK). */
static void hset_generic(struct cmd_ctx *ctx, bool ok_reply)
{
    struct kentry *e;
    long long created;

    if (ctx->argc % 2 == 1) {
        reply_err_arity(&ctx->r, ctx->cmd->fullname);
        return;
    }
    if (!lookup_write(ctx, &e)) {
        return;
    }
    if (!e) {
        e = add_hash(ctx);
    }
    created = set_pairs(ctx, e);
    if (created < 0) {
        return;
    }
    notify_key(ctx, NOTIFY_HASH, "hset");
    if (ok_reply) {
        reply_ok(&ctx->r);
    } else {
        reply_int(&ctx->r, created);
    }
}

static void cmd_hset(struct cmd_ctx *ctx)
{
    hset_generic(ctx, false);
}

static void cmd_hmset(struct cmd_ctx *ctx)
{
    hset_generic(ctx, true);
}

static void cmd_hsetnx(struct cmd_ctx *ctx)
{
    struct kentry *e;

    if (!lookup_write(ctx, &e)) {
        return;
    }
    if (e && thash_exists(&e->val, ctx->argv[2].ptr, ctx->argv[2].len)) {
        reply_int(&ctx->r, 0);
        ctx->unchanged = true;
        return;
    }
    if (!e) {
        e = add_hash(ctx);
    }
    if (set_field(ctx, e, ctx->argv[2], ctx->argv[3]) < 0) {
        drop_if_empty(ctx, e);
        reply_oom(ctx);
        return;
    }
    notify_key(ctx, NOTIFY_HASH, "hset");
    reply_int(&ctx->r, 1);
}

/* ---- single-field reads ---- */

static void cmd_hget(struct cmd_ctx *ctx)
{
    char buf[THASH_BUF];
    struct sh_slice val;
    struct kentry *e;

    if (!lookup_read(ctx, &e)) {
        return;
    }
    if (e && thash_get(&e->val, ctx->argv[2].ptr, ctx->argv[2].len, buf, &val)) {
        reply_slice(&ctx->r, val);
    } else {
        reply_null(&ctx->r);
    }
}

static void cmd_hmget(struct cmd_ctx *ctx)
{
    char buf[THASH_BUF];
    struct sh_slice val;
    struct kentry *e;

    if (!lookup_read(ctx, &e)) {
        return;
    }
    reply_array(&ctx->r, ctx->argc - 2);
    for (int i = 2; i < ctx->argc; i++) {
        if (e && thash_get(&e->val, ctx->argv[i].ptr, ctx->argv[i].len, buf, &val)) {
            reply_slice(&ctx->r, val);
        } else {
            reply_null(&ctx->r);
        }
    }
}

static void cmd_hstrlen(struct cmd_ctx *ctx)
{
    char buf[THASH_BUF];
    struct sh_slice val;
    struct kentry *e;

    if (!lookup_read(ctx, &e)) {
        return;
    }
    if (e && thash_get(&e->val, ctx->argv[2].ptr, ctx->argv[2].len, buf, &val)) {
        reply_int(&ctx->r, (long long)val.len);
    } else {
        reply_int(&ctx->r, 0);
    }
}

static void cmd_hexists(struct cmd_ctx *ctx)
{
    struct kentry *e;

    if (lookup_read(ctx, &e)) {
        reply_int(&ctx->r, e && thash_exists(&e->val, ctx->argv[2].ptr, ctx->argv[2].len));
    }
}

static void cmd_hlen(struct cmd_ctx *ctx)
{
    struct kentry *e;

    if (lookup_read(ctx, &e)) {
        reply_int(&ctx->r, e ? (long long)thash_len(&e->val) : 0);
    }
}

/* ---- HDEL ---- */

static void cmd_hdel(struct cmd_ctx *ctx)
{
    long long deleted = 0;
    bool removed = false;
    struct kentry *e;

    if (!lookup_write(ctx, &e)) {
        return;
    }
    for (int i = 2; e && !removed && i < ctx->argc; i++) {
        if (!thash_delete(&e->val, ctx->argv[i].ptr, ctx->argv[i].len)) {
            continue;
        }
        deleted++;
        if (thash_len(&e->val) == 0) {
            kdb_delete(ctx->db, e);
            removed = true;
        }
    }
    if (deleted) {
        notify_key(ctx, NOTIFY_HASH, "hdel");
    }
    if (removed) {
        notify_key(ctx, NOTIFY_GENERIC, "del");
    }
    ctx->unchanged = deleted == 0;
    reply_int(&ctx->r, deleted);
}

/* ---- HKEYS HVALS HGETALL ---- */

enum { WANT_FIELDS = 1, WANT_VALUES = 2 };

static void getall_generic(struct cmd_ctx *ctx, int want)
{
    struct thash_iter it;
    struct sh_slice f, val;
    struct kentry *e;
    bool both = want == (WANT_FIELDS | WANT_VALUES);
    long long n;

    if (!lookup_read(ctx, &e)) {
        return;
    }
    n = e ? (long long)thash_len(&e->val) : 0;
    if (both) {
        reply_map(&ctx->r, n);
    } else {
        reply_array(&ctx->r, n);
    }
    if (!e) {
        return;
    }
    thash_iter_init(&it, &e->val);
    while (thash_iter_next(&it, &f, &val)) {
        if (want & WANT_FIELDS) {
            reply_slice(&ctx->r, f);
        }
        if (want & WANT_VALUES) {
            reply_slice(&ctx->r, val);
        }
    }
    thash_iter_fini(&it);
}

static void cmd_hkeys(struct cmd_ctx *ctx)
{
    getall_generic(ctx, WANT_FIELDS);
}

static void cmd_hvals(struct cmd_ctx *ctx)
{
    getall_generic(ctx, WANT_VALUES);
}

static void cmd_hgetall(struct cmd_ctx *ctx)
{
    getall_generic(ctx, WANT_FIELDS | WANT_VALUES);
}

/* ---- HINCRBY HINCRBYFLOAT ---- */

/* Stores the new value text of field argv[2] in e's hash (a key just added
 * included) and publishes event; false after replying OOM. */
static bool store_number(struct cmd_ctx *ctx, struct kentry *e, struct sh_slice text,
                         const char *event)
{
    if (set_field(ctx, e, ctx->argv[2], text) < 0) {
        drop_if_empty(ctx, e);
        reply_oom(ctx);
        return false;
    }
    notify_key(ctx, NOTIFY_HASH, event);
    return true;
}

/* HINCRBY key field increment: Redis's hincrbyCommand. */
static void cmd_hincrby(struct cmd_ctx *ctx)
{
    char buf[THASH_BUF], out[24];
    long long incr, v = 0;
    struct sh_slice cur, text = { .ptr = out };
    struct kentry *e;

    if (!util_str2ll(ctx->argv[3].ptr, ctx->argv[3].len, &incr)) {
        reply_err_notint(&ctx->r);
        return;
    }
    if (!lookup_write(ctx, &e)) {
        return;
    }
    if (e && thash_get(&e->val, ctx->argv[2].ptr, ctx->argv[2].len, buf, &cur) &&
        !util_str2ll(cur.ptr, cur.len, &v)) {
        reply_error(&ctx->r, "ERR hash value is not an integer");
        return;
    }
    if ((incr < 0 && v < 0 && incr < LLONG_MIN - v) ||
        (incr > 0 && v > 0 && incr > LLONG_MAX - v)) {
        reply_error(&ctx->r, "ERR increment or decrement would overflow");
        return;
    }
    v += incr;
    text.len = util_ll2str(out, v);
    if (store_number(ctx, e ? e : add_hash(ctx), text, "hincrby")) {
        reply_int(&ctx->r, v);
    }
}

/* HINCRBYFLOAT key field increment: Redis's hincrbyfloatCommand; the new
 * value is stored and replied (a bulk string, in RESP3 too) in the "%.17Lf"
 * form with trailing zeros trimmed, like INCRBYFLOAT. */
static void cmd_hincrbyfloat(struct cmd_ctx *ctx)
{
    char buf[THASH_BUF], out[LD_BUF];
    long double incr, v = 0;
    struct sh_slice cur, text = { .ptr = out };
    struct kentry *e;

    if (!util_str2ld(ctx->argv[3].ptr, ctx->argv[3].len, &incr)) {
        reply_error(&ctx->r, "ERR value is not a valid float");
        return;
    }
    if (isnan(incr) || isinf(incr)) {
        reply_error(&ctx->r, "ERR value is NaN or Infinity");
        return;
    }
    if (!lookup_write(ctx, &e)) {
        return;
    }
    if (e && thash_get(&e->val, ctx->argv[2].ptr, ctx->argv[2].len, buf, &cur) &&
        !util_str2ld(cur.ptr, cur.len, &v)) {
        reply_error(&ctx->r, "ERR hash value is not a float");
        return;
    }
    v += incr;
    if (isnan(v) || isinf(v)) {
        reply_error(&ctx->r, "ERR increment would produce NaN or Infinity");
        return;
    }
    text.len = util_ld2str(out, sizeof(out), v);
    if (store_number(ctx, e ? e : add_hash(ctx), text, "hincrbyfloat")) {
        reply_slice(&ctx->r, text);
    }
}

/* ---- HRANDFIELD ---- */

struct rand_out {
    struct reply *r;
    long long n; /* elements of the reply, written before the first pair */
    bool withvalues;
    bool started;
};

static void rand_emit(void *arg, struct sh_slice f, struct sh_slice val)
{
    struct rand_out *o = arg;

    if (!o->started) {
        o->started = true;
        reply_array(o->r, o->withvalues && o->r->proto == 2 ? o->n * 2 : o->n);
    }
    if (o->withvalues && o->r->proto > 2) {
        reply_array(o->r, 2);
    }
    reply_slice(o->r, f);
    if (o->withvalues) {
        reply_slice(o->r, val);
    }
}

/* HRANDFIELD key count [WITHVALUES]: count < 0 allows repetitions. */
/* The most fields a negative HRANDFIELD count may ask for (2^24). */
#define HRAND_MAX_REPEAT (1ULL << 24)

static void hrandfield_count(struct cmd_ctx *ctx, long long count, bool withvalues)
{
    struct rand_out o = { .r = &ctx->r, .withvalues = withvalues };
    bool distinct = count >= 0;
    uint64_t want = distinct ? (uint64_t)count : (uint64_t)-count;
    struct kentry *e;
    uint64_t len;

    if (!lookup_read(ctx, &e)) {
        return;
    }
    if (!e || count == 0) {
        reply_array(&ctx->r, 0);
        return;
    }
    if (!distinct && want > HRAND_MAX_REPEAT) {
        /* repeated fields: the reply would grow without bound (Redis tries);
         * refused, as ZRANDMEMBER and SRANDMEMBER do */
        reply_error(&ctx->r, "ERR value is out of range");
        return;
    }
    len = thash_len(&e->val);
    o.n = (long long)(distinct && want > len ? len : want);
    if (thash_random_pairs(&e->val, want, distinct, &ctx->shard->rnd, rand_emit, &o) != 0) {
        reply_oom(ctx);
    }
}

/* HRANDFIELD key [count [WITHVALUES]] */
static void cmd_hrandfield(struct cmd_ctx *ctx)
{
    char fb[THASH_BUF], vb[THASH_BUF];
    struct sh_slice f, val;
    struct kentry *e;
    long long count;

    if (ctx->argc >= 3) {
        bool withvalues = ctx->argc == 4;

        if (!util_str2ll(ctx->argv[2].ptr, ctx->argv[2].len, &count)) {
            reply_err_notint(&ctx->r);
        } else if (count < -LLONG_MAX) {
            reply_errorf(&ctx->r, "ERR value is out of range, value must between %lld and %lld",
                         -LLONG_MAX, LLONG_MAX);
        } else if (ctx->argc > 4 ||
                   (withvalues && !sh_slice_eq_nocase(ctx->argv[3], "withvalues"))) {
            reply_err_syntax(&ctx->r);
        } else if (withvalues && (count < -LLONG_MAX / 2 || count > LLONG_MAX / 2)) {
            reply_error(&ctx->r, "ERR value is out of range");
        } else {
            hrandfield_count(ctx, count, withvalues);
        }
        return;
    }
    if (!lookup_read(ctx, &e)) {
        return;
    }
    if (!e) {
        reply_null(&ctx->r);
        return;
    }
    thash_random(&e->val, &ctx->shard->rnd, fb, vb, &f, &val);
    reply_slice(&ctx->r, f);
}

/* ---- HSCAN ---- */

struct scan_opts {
    const char *pat; /* NULL: every field */
    size_t plen;
    uint64_t count;
};

/* HSCAN's options from argv[3]; false after replying the error. */
static bool parse_scan_opts(struct cmd_ctx *ctx, struct scan_opts *o)
{
    o->pat = NULL;
    o->count = SCAN_DEFAULT_HINT;
    for (int i = 3; i < ctx->argc; i += 2) {
        const struct sh_slice *a = &ctx->argv[i];
        long long n;

        if (i + 1 < ctx->argc && sh_slice_eq_nocase(*a, "count")) {
            if (!util_str2ll(a[1].ptr, a[1].len, &n)) {
                reply_err_notint(&ctx->r);
                return false;
            }
            if (n < 1) {
                reply_err_syntax(&ctx->r);
                return false;
            }
            o->count = (uint64_t)n;
        } else if (i + 1 < ctx->argc && sh_slice_eq_nocase(*a, "match")) {
            /* "*" matches everything, the empty field included */
            bool all = a[1].len == 1 && a[1].ptr[0] == '*';

            o->pat = all ? NULL : a[1].ptr;
            o->plen = all ? 0 : a[1].len;
        } else {
            reply_err_syntax(&ctx->r);
            return false;
        }
    }
    return true;
}

struct scan_out {
    struct reply r; /* over a private buffer: the cursor goes first */
    const struct scan_opts *o;
    long long n;
};

static void scan_emit(void *arg, struct sh_slice f, struct sh_slice val)
{
    struct scan_out *s = arg;

    if (s->o->pat && !glob_match(s->o->pat, s->o->plen, f.ptr, f.len, false)) {
        return;
    }
    reply_slice(&s->r, f);
    reply_slice(&s->r, val);
    s->n += 2;
}

/* HSCAN key cursor [MATCH pattern] [COUNT count] */
static void cmd_hscan(struct cmd_ctx *ctx)
{
    struct scan_opts o;
    struct scan_out s = { .o = &o };
    struct rbuf body;
    struct kentry *e;
    uint64_t cursor;
    char num[24];

    if (!util_parse_cursor(ctx->argv[2].ptr, ctx->argv[2].len, &cursor)) {
        reply_error(&ctx->r, "ERR invalid cursor");
        return;
    }
    if (!lookup_read(ctx, &e)) {
        return;
    }
    if (!e) {
        reply_array(&ctx->r, 2);
        reply_bulk(&ctx->r, "0", 1);
        reply_array(&ctx->r, 0);
        return;
    }
    if (!parse_scan_opts(ctx, &o)) {
        return;
    }
    rbuf_init(&body);
    s.r.buf = &body;
    s.r.proto = ctx->r.proto;
    cursor = thash_scan(&e->val, cursor, o.count, scan_emit, &s);
    reply_array(&ctx->r, 2);
    reply_bulk(&ctx->r, num,
               (size_t)snprintf(num, sizeof(num), "%llu", (unsigned long long)cursor));
    reply_array(&ctx->r, s.n);
    reply_raw(&ctx->r, body.data, body.len);
    rbuf_fini(&body);
}

void cmd_hash_bind(void)
{
    static const struct {
        const char *name;
        cmd_fn *proc;
    } cmds[] = {
        { "hset", cmd_hset },
        { "hmset", cmd_hmset },
        { "hsetnx", cmd_hsetnx },
        { "hget", cmd_hget },
        { "hmget", cmd_hmget },
        { "hdel", cmd_hdel },
        { "hlen", cmd_hlen },
        { "hstrlen", cmd_hstrlen },
        { "hexists", cmd_hexists },
        { "hkeys", cmd_hkeys },
        { "hvals", cmd_hvals },
        { "hgetall", cmd_hgetall },
        { "hincrby", cmd_hincrby },
        { "hincrbyfloat", cmd_hincrbyfloat },
        { "hrandfield", cmd_hrandfield },
        { "hscan", cmd_hscan },
    };

    for (size_t i = 0; i < SH_ARRAY_LEN(cmds); i++) {
        cmd_must_bind(cmds[i].name, cmds[i].proc, CMD_ROUTE_KEY, NULL);
    }
}
