/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * cmd_string.c: the string command family (GET SET SETNX SETEX PSETEX GETSET
 * GETDEL GETEX MGET MSET MSETNX APPEND STRLEN INCR DECR INCRBY DECRBY
 * INCRBYFLOAT GETRANGE SUBSTR SETRANGE) with Redis 7.0's semantics and error
 * wording (t_string.c).
 *
 * Every handler runs on the owner of its keys over the local database and
 * implements the whole command: routing sends a command here whole when all
 * its keys live on this core. MGET, MSET and MSETNX may span shards; then a
 * gather (bottom of the file) splits them by owner, runs the same handlers on
 * each owner over that owner's keys (RESP2 parts) and merges the parts:
 *
 *   MGET   a b c   ->  shard0: MGET a c   shard1: MGET b
 *                      reply: walk a b c, take the next element of the
 *                      part of each key's owner
 *   MSET   a 1 b 2 ->  shard0: MSET a 1   shard1: MSET b 2      reply +OK
 *   MSETNX a 1 b 2 ->  stage 0: EXISTS parts; any key found: reply :0
 *                      stage 1: MSET parts; stage 2: reply :1
 *                      (atomic per shard only, see msetnx_start)
 *
 * TTL rules, as in Redis: a write that replaces a value (SET without KEEPTTL,
 * GETSET, MSET) drops the key's TTL; writes that modify the value in place
 * (APPEND, SETRANGE, INCR*, SET KEEPTTL) keep it. A GETEX with an absolute
 * expire time already past deletes the key at once; a SET with one, as in
 * Redis 7.0, stores the key with that TTL, so its next lookup (or the active
 * cycle) expires it.
 *
 * Keyspace notifications (Redis 7.0's events, published after the write by
 * the key's owner): "set" for each key SET, SETNX, SETEX, PSETEX, GETSET, MSET
 * and MSETNX write, followed by "expire" when an expire time came with it;
 * "append", "setrange" (a non-empty value only), "incrby" (INCR DECR INCRBY
 * DECRBY), "incrbyfloat"; GETDEL "del"; GETEX "expire", "del" (time already
 * past) or "persist" (only when a TTL was removed).
 *
 * Fast path: GET allocates nothing (the value is copied straight into the
 * reply buffer; an integer is formatted on the stack); SET of an existing key
 * reuses the value's buffer when it fits (kval_set_string) and parses options
 * only when there are any.
 *
 * Threading: handlers run on the owner's core; gathers on the client's core.
 */
#include "shardis/cmd.h"
#include "shardis/cmd_bind.h"
#include "shardis/cmdtab.h"
#include "shardis/config.h"
#include "shardis/kdb.h"
#include "shardis/kval.h"
#include "shardis/prefetch.h"
#include "shardis/pubsub.h"
#include "shardis/reply.h"
#include "shardis/resp.h"
#include "shardis/route.h"
#include "shardis/shard.h"
#include "shardis/util.h"

#include <limits.h>
#include <math.h>
#include <string.h>

#define OOM_MSG "OOM command not allowed when used memory > 'maxmemory'."
#define LD_BUF  (5 * 1024 + 64) /* util_ld2str's worst case, with room */

/* Options of SET (NX XX GET KEEPTTL) and GETEX (PERSIST), and the expire
 * options both take; Redis's OBJ_* flags. */
enum {
    SOPT_NX = 1u << 0,
    SOPT_XX = 1u << 1,
    SOPT_GET = 1u << 2,
    SOPT_KEEPTTL = 1u << 3,
    SOPT_PERSIST = 1u << 4,
    SOPT_EX = 1u << 5,
    SOPT_PX = 1u << 6,
    SOPT_EXAT = 1u << 7,
    SOPT_PXAT = 1u << 8,
};
#define SOPT_EXPIRE (SOPT_EX | SOPT_PX | SOPT_EXAT | SOPT_PXAT)

/* ---- helpers ---- */

static bool is_string(const struct kentry *e)
{
    return e->val.type == KVAL_STRING;
}

/* Writes a string value as a bulk reply. */
static void reply_value(struct reply *r, const struct kval *v)
{
    if (v->enc == KVAL_ENC_INT) {
        reply_bulk_ll(r, v->u.i);
    } else {
        char buf[24];
        size_t n;
        const char *p = kval_string(v, buf, &n);

        reply_bulk(r, p, n);
    }
}

/* A string value (not integer-encoded) as a long long, as Redis's
 * getLongLongFromObject. */
static bool value_ll(const struct kval *v, long long *out)
{
    char buf[24];
    size_t n;
    const char *p = kval_string(v, buf, &n);

    return util_str2ll(p, n, out);
}

static void reply_oom(struct cmd_ctx *ctx)
{
    reply_error(&ctx->r, OOM_MSG);
}

/* argv[i] as a long long, or replies Redis's "not an integer" error. */
static bool arg_ll(struct cmd_ctx *ctx, int i, long long *out)
{
    if (!util_str2ll(ctx->argv[i].ptr, ctx->argv[i].len, out)) {
        reply_err_notint(&ctx->r);
        return false;
    }
    return true;
}

/* Does a string of len bytes fit proto-max-bulk-len? Replies if not. */
static bool check_len(struct cmd_ctx *ctx, unsigned long long len)
{
    if (len > (unsigned long long)ctx->shard->cfg.proto_max_bulk_len) {
        reply_error(&ctx->r, "ERR string exceeds maximum allowed size (proto-max-bulk-len)");
        return false;
    }
    return true;
}

/* Adds key argv[i] (absent: the caller looked it up) with an empty value. */
static struct kentry *add_key(struct cmd_ctx *ctx, int i)
{
    return kdb_add(ctx->db, ctx->argv[i].ptr, ctx->argv[i].len, cmd_key_hash(ctx, i));
}

/* Stores val under key argv[i], whose entry is e (NULL: absent), reusing the
 * value's buffer when it can. Leaves the TTL alone. Returns the entry, or
 * NULL after replying OOM (a key added here is removed again). */
static struct kentry *store(struct cmd_ctx *ctx, int i, struct kentry *e,
                            const struct sh_slice *val)
{
    bool added = false;

    if (!e) {
        e = add_key(ctx, i);
        added = true;
    }
    if (kval_set_string(&e->val, val->ptr, val->len) != 0) {
        if (added) {
            kdb_delete(ctx->db, e);
        }
        reply_oom(ctx);
        return NULL;
    }
    return e;
}

/* Publishes keyspace event `event` of class type (NOTIFY_*) for key argv[i]. */
static void notify_key(struct cmd_ctx *ctx, int i, int type, const char *event)
{
    pubsub_notify(ctx->shard, type, event, ctx->argv[i].ptr, ctx->argv[i].len, ctx->dbid);
}

/* ---- SET family ---- */

/* The expire option named by o (SOPT_EX ...), or 0. */
static unsigned expire_opt(struct sh_slice o)
{
    if (sh_slice_eq_nocase(o, "ex")) {
        return SOPT_EX;
    }
    if (sh_slice_eq_nocase(o, "px")) {
        return SOPT_PX;
    }
    if (sh_slice_eq_nocase(o, "exat")) {
        return SOPT_EXAT;
    }
    if (sh_slice_eq_nocase(o, "pxat")) {
        return SOPT_PXAT;
    }
    return 0;
}

/* One option of SET (is_set) or GETEX at argv[j]; Redis's
 * parseExtendedStringArgumentsOrReply: returns the flag it sets, or 0 when it
 * is unknown or conflicts with flags (a syntax error). A repeated option is
 * allowed; the last expire value wins. */
static unsigned ext_opt(struct sh_slice o, bool is_set, bool has_next, unsigned flags)
{
    unsigned e = expire_opt(o);

    if (is_set && sh_slice_eq_nocase(o, "nx") && !(flags & SOPT_XX)) {
        return SOPT_NX;
    }
    if (is_set && sh_slice_eq_nocase(o, "xx") && !(flags & SOPT_NX)) {
        return SOPT_XX;
    }
    if (is_set && sh_slice_eq_nocase(o, "get")) {
        return SOPT_GET;
    }
    if (is_set && sh_slice_eq_nocase(o, "keepttl") && !(flags & SOPT_EXPIRE)) {
        return SOPT_KEEPTTL;
    }
    if (!is_set && sh_slice_eq_nocase(o, "persist") && !(flags & SOPT_EXPIRE)) {
        return SOPT_PERSIST;
    }
    if (e && has_next && !(flags & (SOPT_KEEPTTL | SOPT_PERSIST | (SOPT_EXPIRE & ~e)))) {
        return e;
    }
    return 0;
}

/* Parses the options from argv[first]; *exp_idx is the argv index of the
 * expire value (0 when none). Replies the syntax error and returns false. */
static bool parse_ext(struct cmd_ctx *ctx, int first, bool is_set, unsigned *flags, int *exp_idx)
{
    for (int j = first; j < ctx->argc; j++) {
        unsigned f = ext_opt(ctx->argv[j], is_set, j + 1 < ctx->argc, *flags);

        if (!f) {
            reply_err_syntax(&ctx->r);
            return false;
        }
        if (f & SOPT_EXPIRE) {
            *exp_idx = ++j;
        }
        *flags |= f;
    }
    return true;
}

static bool reply_bad_expire(struct cmd_ctx *ctx)
{
    reply_errorf(&ctx->r, "ERR invalid expire time in '%s' command", ctx->cmd->fullname);
    return false;
}

/* Redis's getExpireMillisecondsOrReply: the expire argument argv[idx] as an
 * absolute unix ms time, or replies the error and returns false. */
static bool expire_ms(struct cmd_ctx *ctx, int idx, unsigned flags, int64_t *when)
{
    bool secs = flags & (SOPT_EX | SOPT_EXAT);
    long long v;

    if (!arg_ll(ctx, idx, &v)) {
        return false;
    }
    if (v <= 0 || (secs && v > LLONG_MAX / 1000)) {
        return reply_bad_expire(ctx);
    }
    if (secs) {
        v *= 1000;
    }
    if (flags & (SOPT_EX | SOPT_PX)) {
        if (v > LLONG_MAX - ctx->shard->now_ms) {
            return reply_bad_expire(ctx);
        }
        v += ctx->shard->now_ms;
    }
    *when = v;
    return true;
}

/* The GET variants: builds the new value first (so OOM leaves everything as
 * it was), then replies the old value and swaps the new one in. */
static struct kentry *swap_value(struct cmd_ctx *ctx, struct kentry *e, const struct sh_slice *val)
{
    struct kval nv;

    memset(&nv, 0, sizeof(nv));
    if (kval_set_string(&nv, val->ptr, val->len) != 0) {
        reply_oom(ctx);
        return NULL;
    }
    if (e) {
        reply_value(&ctx->r, &e->val);
        kval_clear(&e->val);
    } else {
        reply_null(&ctx->r);
        e = add_key(ctx, 1);
    }
    nv.lru = e->val.lru;
    kentry_set_val(e, nv);
    return e;
}

/* The "not done" reply of NX/XX: nothing changed. */
static void reply_abort(struct cmd_ctx *ctx, unsigned flags, const struct kentry *e, bool int_reply)
{
    ctx->unchanged = true;
    if (flags & SOPT_GET) {
        if (e) {
            reply_value(&ctx->r, &e->val);
        } else {
            reply_null(&ctx->r);
        }
    } else if (int_reply) {
        reply_int(&ctx->r, 0);
    } else {
        reply_null(&ctx->r);
    }
}

/* Redis's setGenericCommand: SET, SETNX, SETEX, PSETEX, GETSET. The value is
 * argv[val_idx], the expire value argv[exp_idx] (0: none). int_reply: :1/:0
 * instead of +OK/nil (SETNX). */
static void set_generic(struct cmd_ctx *ctx, unsigned flags, int exp_idx, int val_idx,
                        bool int_reply)
{
    int64_t when = -1;
    struct kentry *e;

    if (exp_idx && !expire_ms(ctx, exp_idx, flags, &when)) {
        return;
    }
    e = cmd_lookup(ctx, 1);
    if (flags & SOPT_GET) {
        if (e && !is_string(e)) {
            reply_err_wrongtype(&ctx->r);
            return;
        }
        cmd_count_lookup(ctx, e != NULL);
    }
    if (((flags & SOPT_NX) && e) || ((flags & SOPT_XX) && !e)) {
        reply_abort(ctx, flags, e, int_reply);
        return;
    }
    if (flags & SOPT_GET) {
        e = swap_value(ctx, e, &ctx->argv[val_idx]);
    } else {
        e = store(ctx, 1, e, &ctx->argv[val_idx]);
    }
    if (!e) {
        return;
    }
    if (when < 0 && !(flags & SOPT_KEEPTTL) && kentry_has_ttl(e)) {
        kdb_set_expire(ctx->db, e, -1);
    }
    notify_key(ctx, 1, NOTIFY_STRING, "set");
    if (when >= 0) {
        kdb_set_expire(ctx->db, e, when);
        notify_key(ctx, 1, NOTIFY_GENERIC, "expire");
    }
    if (flags & SOPT_GET) {
        return;
    }
    if (int_reply) {
        reply_int(&ctx->r, 1);
    } else {
        reply_ok(&ctx->r);
    }
}

/* SET key value [NX|XX] [GET] [EX s|PX ms|EXAT s|PXAT ms|KEEPTTL] */
static void cmd_set(struct cmd_ctx *ctx)
{
    unsigned flags = 0;
    int exp_idx = 0;

    if (ctx->argc > 3 && !parse_ext(ctx, 3, true, &flags, &exp_idx)) {
        return;
    }
    set_generic(ctx, flags, exp_idx, 2, false);
}

static void cmd_setnx(struct cmd_ctx *ctx)
{
    set_generic(ctx, SOPT_NX, 0, 2, true);
}

static void cmd_setex(struct cmd_ctx *ctx)
{
    set_generic(ctx, SOPT_EX, 2, 3, false);
}

static void cmd_psetex(struct cmd_ctx *ctx)
{
    set_generic(ctx, SOPT_PX, 2, 3, false);
}

static void cmd_getset(struct cmd_ctx *ctx)
{
    set_generic(ctx, SOPT_GET, 0, 2, false);
}

/* ---- GET family ---- */

static void cmd_get(struct cmd_ctx *ctx)
{
    struct kentry *e = cmd_lookup(ctx, 1);

    cmd_count_lookup(ctx, e != NULL);
    if (!e) {
        reply_null(&ctx->r);
    } else if (SH_UNLIKELY(!is_string(e))) {
        reply_err_wrongtype(&ctx->r);
    } else {
        reply_value(&ctx->r, &e->val);
    }
}

/* The live string entry of argv[1] for a read, counted as hit or miss; NULL
 * after replying nil (missing) or WRONGTYPE. */
static struct kentry *lookup_read(struct cmd_ctx *ctx)
{
    struct kentry *e = cmd_lookup(ctx, 1);

    cmd_count_lookup(ctx, e != NULL);
    if (!e) {
        reply_null(&ctx->r);
        return NULL;
    }
    if (!is_string(e)) {
        reply_err_wrongtype(&ctx->r);
        return NULL;
    }
    return e;
}

static void cmd_getdel(struct cmd_ctx *ctx)
{
    struct kentry *e = lookup_read(ctx);

    if (e) {
        reply_value(&ctx->r, &e->val);
        kdb_delete(ctx->db, e);
        notify_key(ctx, 1, NOTIFY_GENERIC, "del");
    } else {
        ctx->unchanged = true; /* missing (or not a string: an error) */
    }
}

/* GETEX key [EX s|PX ms|EXAT s|PXAT ms|PERSIST]: as Redis, a missing key
 * answers nil before the expire value is even checked. */
static void cmd_getex(struct cmd_ctx *ctx)
{
    unsigned flags = 0;
    int exp_idx = 0;
    int64_t when = -1;
    struct kentry *e;

    if (!parse_ext(ctx, 2, false, &flags, &exp_idx)) {
        return;
    }
    e = lookup_read(ctx);
    if (!e || (exp_idx && !expire_ms(ctx, exp_idx, flags, &when))) {
        return;
    }
    reply_value(&ctx->r, &e->val);
    if (when >= 0 && when <= ctx->shard->now_ms) {
        kdb_delete(ctx->db, e);
        notify_key(ctx, 1, NOTIFY_GENERIC, "del");
    } else if (when >= 0) {
        kdb_set_expire(ctx->db, e, when);
        notify_key(ctx, 1, NOTIFY_GENERIC, "expire");
    } else if ((flags & SOPT_PERSIST) && kentry_has_ttl(e)) {
        kdb_set_expire(ctx->db, e, -1);
        notify_key(ctx, 1, NOTIFY_GENERIC, "persist");
    } else {
        ctx->unchanged = true; /* a read, as Redis counts it */
    }
}

static void cmd_strlen(struct cmd_ctx *ctx)
{
    struct kentry *e = cmd_lookup(ctx, 1);

    cmd_count_lookup(ctx, e != NULL);
    if (!e) {
        reply_int(&ctx->r, 0);
    } else if (!is_string(e)) {
        reply_err_wrongtype(&ctx->r);
    } else {
        reply_int(&ctx->r, (long long)kval_strlen(&e->val));
    }
}

/* GETRANGE key start end (and its old name SUBSTR): inclusive, negative
 * indexes count from the end, clamped to the string. */
static void cmd_getrange(struct cmd_ctx *ctx)
{
    long long start, end, len;
    struct kentry *e;
    const char *p;
    char buf[24];
    size_t n;

    if (!arg_ll(ctx, 2, &start) || !arg_ll(ctx, 3, &end)) {
        return;
    }
    e = cmd_lookup(ctx, 1);
    cmd_count_lookup(ctx, e != NULL);
    if (e && !is_string(e)) {
        reply_err_wrongtype(&ctx->r);
        return;
    }
    if (!e || (start < 0 && end < 0 && start > end)) {
        reply_bulk(&ctx->r, "", 0);
        return;
    }
    p = kval_string(&e->val, buf, &n);
    len = (long long)n;
    start = start < 0 ? (start + len < 0 ? 0 : start + len) : start;
    end = end < 0 ? (end + len < 0 ? 0 : end + len) : end;
    if (end >= len) {
        end = len - 1;
    }
    if (start > end || len == 0) {
        reply_bulk(&ctx->r, "", 0);
    } else {
        reply_bulk(&ctx->r, p + start, (size_t)(end - start + 1));
    }
}

/* ---- in-place writes (keep the TTL) ---- */

/* Appends a to the value of key argv[1], whose entry is e (NULL: absent).
 * Returns the new length, or -1 after replying an error. */
static long long append_value(struct cmd_ctx *ctx, struct kentry *e, const struct sh_slice *a)
{
    struct kstr *s;
    size_t len;

    if (!e) {
        return store(ctx, 1, NULL, a) ? (long long)a->len : -1;
    }
    if (!is_string(e)) {
        reply_err_wrongtype(&ctx->r);
        return -1;
    }
    len = kval_strlen(&e->val);
    if (!check_len(ctx, (unsigned long long)len + a->len)) {
        return -1;
    }
    s = kval_make_raw(&e->val, len + a->len);
    if (!s) {
        reply_oom(ctx);
        return -1;
    }
    memcpy(s->data + s->len, a->ptr, a->len);
    s->len += a->len;
    return (long long)s->len;
}

static void cmd_append(struct cmd_ctx *ctx)
{
    long long len = append_value(ctx, cmd_lookup(ctx, 1), &ctx->argv[2]);

    if (len >= 0) {
        notify_key(ctx, 1, NOTIFY_STRING, "append");
        reply_int(&ctx->r, len);
    }
}

/* Writes v at off of e's value, zero-padding the gap; false when out of
 * memory (the value is unchanged). */
static bool write_at(struct kentry *e, size_t off, const struct sh_slice *v)
{
    struct kstr *s = kval_make_raw(&e->val, off + v->len);

    if (!s) {
        return false;
    }
    if (off > s->len) {
        memset(s->data + s->len, 0, off - s->len);
    }
    memcpy(s->data + off, v->ptr, v->len);
    if (off + v->len > s->len) {
        s->len = off + v->len;
    }
    return true;
}

/* SETRANGE key offset value: an empty value writes nothing (and creates no
 * key) but reports the current length. */
static void cmd_setrange(struct cmd_ctx *ctx)
{
    const struct sh_slice *v = &ctx->argv[3];
    struct kentry *e;
    bool added = false;
    long long off;

    if (!arg_ll(ctx, 2, &off)) {
        return;
    }
    if (off < 0) {
        reply_error(&ctx->r, "ERR offset is out of range");
        return;
    }
    e = cmd_lookup(ctx, 1);
    if (e && !is_string(e)) {
        reply_err_wrongtype(&ctx->r);
        return;
    }
    if (v->len == 0) {
        reply_int(&ctx->r, e ? (long long)kval_strlen(&e->val) : 0);
        ctx->unchanged = true;
        return;
    }
    if (!check_len(ctx, (unsigned long long)off + v->len)) {
        return;
    }
    if (!e) {
        e = add_key(ctx, 1);
        added = true;
        if (kval_set_string(&e->val, "", 0) != 0) {
            goto out_delete_key;
        }
    }
    if (!write_at(e, (size_t)off, v)) {
        goto out_delete_key;
    }
    notify_key(ctx, 1, NOTIFY_STRING, "setrange");
    reply_int(&ctx->r, (long long)kval_strlen(&e->val));
    return;
out_delete_key:
    if (added) {
        kdb_delete(ctx->db, e);
    }
    reply_oom(ctx);
}

/* INCR DECR INCRBY DECRBY: Redis's incrDecrCommand. An integer-encoded value
 * is updated in place; a raw one must be a canonical long long. */
static void incr_by(struct cmd_ctx *ctx, long long incr)
{
    struct kentry *e = cmd_lookup(ctx, 1);
    long long v = 0;

    if (e && !is_string(e)) {
        reply_err_wrongtype(&ctx->r);
        return;
    }
    if (e && e->val.enc == KVAL_ENC_INT) {
        v = e->val.u.i;
    } else if (e && !value_ll(&e->val, &v)) {
        reply_err_notint(&ctx->r);
        return;
    }
    if ((incr < 0 && v < 0 && incr < LLONG_MIN - v) ||
        (incr > 0 && v > 0 && incr > LLONG_MAX - v)) {
        reply_error(&ctx->r, "ERR increment or decrement would overflow");
        return;
    }
    v += incr;
    if (!e) {
        e = add_key(ctx, 1);
    }
    kval_set_int(&e->val, v);
    notify_key(ctx, 1, NOTIFY_STRING, "incrby");
    reply_int(&ctx->r, v);
}

static void cmd_incr(struct cmd_ctx *ctx)
{
    incr_by(ctx, 1);
}

static void cmd_decr(struct cmd_ctx *ctx)
{
    incr_by(ctx, -1);
}

static void cmd_incrby(struct cmd_ctx *ctx)
{
    long long incr;

    if (arg_ll(ctx, 2, &incr)) {
        incr_by(ctx, incr);
    }
}

static void cmd_decrby(struct cmd_ctx *ctx)
{
    long long incr;

    if (!arg_ll(ctx, 2, &incr)) {
        return;
    }
    if (incr == LLONG_MIN) {
        reply_error(&ctx->r, "ERR decrement would overflow");
        return;
    }
    incr_by(ctx, -incr);
}

/* A string value as a long double, as Redis's getLongDoubleFromObject. */
static bool value_ld(const struct kval *v, long double *out)
{
    if (v->enc == KVAL_ENC_INT) {
        *out = (long double)v->u.i;
        return true;
    }
    char buf[24];
    size_t n;
    const char *p = kval_string(v, buf, &n);

    return util_str2ld(p, n, out);
}

/* INCRBYFLOAT key increment: stored and replied (a bulk string, in RESP3
 * too) in the "%.17Lf" form with trailing zeros trimmed. */
static void cmd_incrbyfloat(struct cmd_ctx *ctx)
{
    struct kentry *e = cmd_lookup(ctx, 1);
    long double v = 0, incr;
    struct sh_slice out;
    char buf[LD_BUF];

    if (e && !is_string(e)) {
        reply_err_wrongtype(&ctx->r);
        return;
    }
    if ((e && !value_ld(&e->val, &v)) || !util_str2ld(ctx->argv[2].ptr, ctx->argv[2].len, &incr)) {
        reply_error(&ctx->r, "ERR value is not a valid float");
        return;
    }
    v += incr;
    if (isnan(v) || isinf(v)) {
        reply_error(&ctx->r, "ERR increment would produce NaN or Infinity");
        return;
    }
    out.ptr = buf;
    out.len = util_ld2str(buf, sizeof(buf), v);
    if (store(ctx, 1, e, &out)) {
        notify_key(ctx, 1, NOTIFY_STRING, "incrbyfloat");
        reply_bulk(&ctx->r, out.ptr, out.len);
    }
}

/* ---- multi-key commands, on one shard ---- */

static void cmd_mget(struct cmd_ctx *ctx)
{
    reply_array(&ctx->r, ctx->argc - 1);
    for (int i = 1; i < ctx->argc; i++) {
        struct kentry *e;

        if ((i - 1) % PREFETCH_KEYS == 0) {
            cmd_prefetch_keys(ctx, i, 1);
        }
        e = cmd_lookup(ctx, i);

        cmd_count_lookup(ctx, e != NULL);
        if (e && is_string(e)) {
            reply_value(&ctx->r, &e->val);
        } else {
            reply_null(&ctx->r);
        }
    }
}

/* Sets every pair, dropping TTLs. False after replying OOM (the pairs before
 * stay written). */
static bool mset_pairs(struct cmd_ctx *ctx)
{
    for (int i = 1; i + 1 < ctx->argc; i += 2) {
        struct kentry *e;

        if ((i - 1) % (2 * PREFETCH_KEYS) == 0) {
            cmd_prefetch_keys(ctx, i, 2);
        }
        e = store(ctx, i, cmd_lookup(ctx, i), &ctx->argv[i + 1]);
        if (!e) {
            return false;
        }
        if (kentry_has_ttl(e)) {
            kdb_set_expire(ctx->db, e, -1);
        }
        notify_key(ctx, i, NOTIFY_STRING, "set");
    }
    return true;
}

static void cmd_mset(struct cmd_ctx *ctx)
{
    if (ctx->argc % 2 == 0) {
        reply_err_arity(&ctx->r, ctx->cmd->fullname);
        return;
    }
    if (mset_pairs(ctx)) {
        reply_ok(&ctx->r);
    }
}

static void cmd_msetnx(struct cmd_ctx *ctx)
{
    if (ctx->argc % 2 == 0) {
        reply_err_arity(&ctx->r, ctx->cmd->fullname);
        return;
    }
    for (int i = 1; i < ctx->argc; i += 2) {
        if (cmd_lookup(ctx, i)) {
            reply_int(&ctx->r, 0);
            ctx->unchanged = true;
            return;
        }
    }
    if (mset_pairs(ctx)) {
        reply_int(&ctx->r, 1);
    }
}

/* ---- gathers: multi-key commands across shards (client's core) ---- */

static bool forward_error(const struct coord *c, struct reply *r)
{
    struct sh_slice e = coord_first_error(c);

    if (e.len) {
        reply_raw(r, e.ptr, e.len);
        return true;
    }
    return false;
}

/* Size of the "*N\r\n" header of an array part (0 when none). */
static size_t array_header(struct sh_slice p)
{
    const char *lf = p.len ? memchr(p.ptr, '\n', p.len) : NULL;

    return lf && p.ptr[0] == '*' ? (size_t)(lf - p.ptr) + 1 : 0;
}

static void mget_start(struct coord *c)
{
    coord_split_keys(c, 1, 1);
}

/* Walks the keys in argument order, taking the next element of the part of
 * each key's owner. Parts are RESP2; only nil differs in RESP3. */
static bool mget_done(struct coord *c, struct reply *r)
{
    size_t *pos;

    if (forward_error(c, r)) {
        return true;
    }
    pos = sh_calloc((size_t)c->nshards, sizeof(*pos));
    for (int s = 0; s < c->nshards; s++) {
        pos[s] = array_header(coord_part(c, s));
    }
    reply_array(r, c->argc - 1);
    for (int i = 1; i < c->argc; i++) {
        int o = c->owner[i];
        struct sh_slice p = coord_part(c, o);
        size_t n = pos[o] < p.len ? resp_value_size(p.ptr + pos[o], p.len - pos[o]) : 0;

        if (n == 0 || (n == 5 && memcmp(p.ptr + pos[o], "$-1\r\n", 5) == 0)) {
            reply_null(r);
        } else {
            reply_raw(r, p.ptr + pos[o], n);
        }
        pos[o] += n;
    }
    sh_free(pos);
    return true;
}

static void mset_start(struct coord *c)
{
    if (c->argc % 2 == 1) {
        coord_split_keys(c, 1, 2);
    }
}

static bool mset_done(struct coord *c, struct reply *r)
{
    if (c->argc % 2 == 0) {
        reply_err_arity(r, c->cmd->fullname);
    } else if (!forward_error(c, r)) {
        reply_ok(r);
    }
    return true;
}

/* Sends cmd to each owner over its keys of the pairs (step 1: keys only,
 * step 2: key value). c->owner must be filled. */
static void send_pairs(struct coord *c, const struct cmd_spec *cmd, int step)
{
    struct sh_slice *sub = sh_malloc(sizeof(*sub) * (size_t)c->argc);

    for (int s = 0; s < c->nshards; s++) {
        int k = 0;

        sub[k].ptr = cmd->name;
        sub[k++].len = strlen(cmd->name);
        for (int i = 1; i + 1 < c->argc; i += 2) {
            if (c->owner[i] != s) {
                continue;
            }
            for (int j = 0; j < step; j++) {
                sub[k++] = c->argv[i + j];
            }
        }
        if (k > 1) {
            coord_send(c, s, cmd, c->dbid, k, sub);
        }
    }
    sh_free(sub);
}

/*
 * MSETNX across shards is atomic per shard only: stage 0 asks every owner
 * whether any of its keys exists (EXISTS parts); when none does, the MSET
 * parts follow. A key created by another client between the two steps is
 * overwritten, and another client may see some of the keys set before the
 * others.
 *
 * The merge of stage 0 issues nothing: the coordinator still holds stage 0's
 * parts then (coord_send takes one part per shard per stage) and frees every
 * part after the merge. Stage 1 has no parts, so its merge runs at once and
 * sends the MSET parts; stage 2's merge replies :1. A local MSET part is
 * freed before stage 2 reads it (route.c), so only remote errors are seen.
 */
static void msetnx_start(struct coord *c)
{
    const struct cmd_spec *exists = cmdtab_lookup("exists", 6);
    uint64_t h;

    if (c->argc % 2 == 0 || !exists) {
        return;
    }
    if (!c->owner) {
        c->owner = sh_malloc(sizeof(*c->owner) * (size_t)c->argc);
    }
    for (int i = 0; i < c->argc; i++) {
        c->owner[i] = i % 2 ? shard_owner(c->nshards, c->argv[i].ptr, c->argv[i].len, &h) : -1;
    }
    send_pairs(c, exists, 1);
}

static bool msetnx_done(struct coord *c, struct reply *r)
{
    const struct cmd_spec *mset = cmdtab_lookup("mset", 4);

    if (c->argc % 2 == 0) {
        reply_err_arity(r, c->cmd->fullname);
        return true;
    }
    if (!c->owner || !mset) {
        reply_error(r, "ERR MSETNX across shards needs EXISTS and MSET");
        return true;
    }
    if (forward_error(c, r)) {
        return true;
    }
    switch (c->stage) {
    case 0:
        if (coord_sum(c) > 0) {
            reply_int(r, 0);
            return true;
        }
        return false;
    case 1:
        send_pairs(c, mset, 2);
        return false;
    default:
        reply_int(r, 1);
        return true;
    }
}

static const struct gather gather_mget = { .start = mget_start, .done = mget_done };
static const struct gather gather_mset = { .start = mset_start, .done = mset_done };
static const struct gather gather_msetnx = { .start = msetnx_start,
                                             .done = msetnx_done,
                                             .barrier = true };

void cmd_string_bind(void)
{
    static const struct {
        const char *name;
        cmd_fn *proc;
    } key_cmds[] = {
        { "get", cmd_get },
        { "set", cmd_set },
        { "setnx", cmd_setnx },
        { "setex", cmd_setex },
        { "psetex", cmd_psetex },
        { "getset", cmd_getset },
        { "getdel", cmd_getdel },
        { "getex", cmd_getex },
        { "append", cmd_append },
        { "strlen", cmd_strlen },
        { "incr", cmd_incr },
        { "decr", cmd_decr },
        { "incrby", cmd_incrby },
        { "decrby", cmd_decrby },
        { "incrbyfloat", cmd_incrbyfloat },
        { "getrange", cmd_getrange },
        { "substr", cmd_getrange },
        { "setrange", cmd_setrange },
    };

    for (size_t i = 0; i < SH_ARRAY_LEN(key_cmds); i++) {
        cmd_must_bind(key_cmds[i].name, key_cmds[i].proc, CMD_ROUTE_KEY, NULL);
    }
    cmd_must_bind("mget", cmd_mget, CMD_ROUTE_MULTI, &gather_mget);
    cmd_must_bind("mset", cmd_mset, CMD_ROUTE_MULTI, &gather_mset);
    cmd_must_bind("msetnx", cmd_msetnx, CMD_ROUTE_MULTI, &gather_msetnx);
}
