/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * cmd_set.c: the set command family (SADD SREM SCARD SISMEMBER SMISMEMBER
 * SMEMBERS SPOP SRANDMEMBER SMOVE SINTER SINTERCARD SUNION SDIFF SINTERSTORE
 * SUNIONSTORE SDIFFSTORE SSCAN) with Redis 7.0's semantics, replies and
 * error wording (t_set.c), over the set type of tset.h.
 *
 * Every handler runs on the owner of its keys over the local database and
 * implements the whole command: routing sends a command here whole when all
 * its keys live on this core (one shard, a shared {hash tag}), and then it
 * is atomic. SMOVE and the multi-key algebra may span shards; then the
 * gathers at the bottom of this file coordinate them from the client's core
 * (their notes say what stays atomic) with three internal commands:
 *
 *   __sdump k1 k2 ...      on each owner: for each of its keys, in order, the
 *                          set in kval_dump form (tset_dump) or nil when
 *                          absent; -WRONGTYPE if any key holds another type
 *   __sstore dst ev dump   on dst's owner: replaces dst with the set of the
 *                          dump ("" = empty: deletes dst), publishes ev or
 *                          "del", replies the cardinality
 *   __stype key            :0 absent, :1 a set, :2 another type (no stats)
 *
 * Replies, as Redis 7.0 writes them: SMEMBERS SINTER SUNION SDIFF and SPOP
 * with a count are sets (RESP3 '~'); SRANDMEMBER with a count and SSCAN's
 * members are arrays; SISMEMBER and SMISMEMBER integers.
 *
 * Keyspace notifications (class 's' unless noted), from the key's owner
 * after the write: "sadd" (SADD, SMOVE's destination when the member is
 * new), "srem" (SREM, SMOVE's source), "spop", "sinterstore", "sunionstore",
 * "sdiffstore"; "del" (class 'g') when a command empties a set or stores an
 * empty result over an existing key. Read commands count keyspace hits and
 * misses (and "keymiss" events) as Redis's lookupKeyRead does.
 *
 * Client-sized allocations (new members, results built for a STORE or an
 * SRANDMEMBER) use the tset_try_* forms; a failure replies OOM and leaves
 * the keys as they were, except SADD, which keeps the members added before
 * the failure. SRANDMEMBER with a negative count whose reply would pass
 * SET_MAX_RANDOM_REPLY bytes replies OOM instead of building it (Redis
 * builds it, however large).
 *
 * Threading: handlers run on the owner's core; gathers on the client's core.
 */
#include "shardis/cmd.h"
#include "shardis/cmd_bind.h"
#include "shardis/cmdtab.h"
#include "shardis/config.h"
#include "shardis/conn.h"
#include "shardis/glob.h"
#include "shardis/kdb.h"
#include "shardis/kval.h"
#include "shardis/pubsub.h"
#include "shardis/reply.h"
#include "shardis/route.h"
#include "shardis/shard.h"
#include "shardis/tset.h"
#include "shardis/util.h"

#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>

#define OOM_MSG              "OOM command not allowed when used memory > 'maxmemory'."
#define SPOP_MOVE_MUL        5 /* Redis's SPOP_MOVE_STRATEGY_MUL */
#define SRAND_SUB_MUL        3 /* Redis's SRANDMEMBER_SUB_STRATEGY_MUL */
#define SET_MAX_RANDOM_REPLY (1ull << 30)

static void reply_oom(struct reply *r)
{
    reply_error(r, OOM_MSG);
}

static void notify_key(struct cmd_ctx *ctx, int i, int type, const char *event)
{
    pubsub_notify(ctx->shard, type, event, ctx->argv[i].ptr, ctx->argv[i].len, ctx->dbid);
}

/* The entry of key argv[i] when it holds a set, else NULL; *bad (after
 * replying WRONGTYPE) when it holds another type. read: a read lookup,
 * counted as a keyspace hit or miss. */
static struct kentry *lookup_set(struct cmd_ctx *ctx, int i, bool read, bool *bad)
{
    struct kentry *e = cmd_lookup(ctx, i);

    if (read) {
        cmd_count_lookup(ctx, e != NULL);
    }
    *bad = e && e->val.type != KVAL_SET;
    if (*bad) {
        reply_err_wrongtype(&ctx->r);
        return NULL;
    }
    return e;
}

/* Deletes key argv[i] (entry e, just emptied) with its "del" event. */
static void delete_emptied(struct cmd_ctx *ctx, int i, struct kentry *e)
{
    kdb_delete(ctx->db, e);
    notify_key(ctx, i, NOTIFY_GENERIC, "del");
}

/* Every member of v, as a set (RESP3 '~') or an array. */
static void reply_members(struct reply *r, const struct kval *v, bool as_set)
{
    struct tset_iter it;
    struct sh_slice m;

    if (as_set) {
        reply_set(r, (long long)tset_size(v));
    } else {
        reply_array(r, (long long)tset_size(v));
    }
    tset_iter_init(&it, v);
    while (tset_iter_next(&it, &m)) {
        reply_bulk(r, m.ptr, m.len);
    }
    tset_iter_fini(&it);
}

/* Members written as bulk strings to a side buffer while their number is
 * not known yet, then moved behind the header (set_sink_flush). */
struct set_sink {
    struct rbuf buf;
    struct reply r;
    long long n;
};

static void set_sink_init(struct set_sink *s)
{
    rbuf_init(&s->buf);
    s->r = (struct reply){ .buf = &s->buf, .proto = 2 };
    s->n = 0;
}

static void set_sink_put(void *arg, const char *p, size_t len)
{
    struct set_sink *s = arg;

    reply_bulk(&s->r, p, len);
    s->n++;
}

static void set_sink_flush(struct set_sink *s, struct reply *r)
{
    reply_set(r, s->n);
    reply_raw(r, s->buf.data, s->buf.len);
    rbuf_fini(&s->buf);
}

/* ---- SADD SREM SCARD SISMEMBER SMISMEMBER ---- */

static void cmd_sadd(struct cmd_ctx *ctx)
{
    struct kval fresh = { 0 };
    struct kval *v;
    long long added = 0;
    bool bad, oom = false;
    struct kentry *e = lookup_set(ctx, 1, false, &bad);

    if (bad) {
        return;
    }
    v = e ? &e->val : &fresh;
    for (int i = 2; i < ctx->argc && !oom; i++) {
        bool is_new = false;

        oom = tset_try_add(v, ctx->argv[i].ptr, ctx->argv[i].len, &ctx->shard->cfg.limits,
                           &ctx->shard->rnd, &is_new) != 0;
        added += is_new;
    }
    if (!e && fresh.type == KVAL_SET) {
        e = kdb_add(ctx->db, ctx->argv[1].ptr, ctx->argv[1].len, cmd_key_hash(ctx, 1));
        kentry_set_val(e, fresh);
    }
    if (added) {
        notify_key(ctx, 1, NOTIFY_SET, "sadd");
    }
    ctx->unchanged = added == 0;
    if (oom) {
        reply_oom(&ctx->r);
    } else {
        reply_int(&ctx->r, added);
    }
}

static void cmd_srem(struct cmd_ctx *ctx)
{
    long long removed = 0;
    bool bad, emptied = false;
    struct kentry *e = lookup_set(ctx, 1, false, &bad);

    if (bad) {
        return;
    }
    for (int i = 2; e && i < ctx->argc && !emptied; i++) {
        if (tset_remove(&e->val, ctx->argv[i].ptr, ctx->argv[i].len)) {
            removed++;
            emptied = tset_size(&e->val) == 0;
        }
    }
    if (removed) {
        notify_key(ctx, 1, NOTIFY_SET, "srem");
    }
    if (emptied) {
        delete_emptied(ctx, 1, e);
    }
    ctx->unchanged = removed == 0;
    reply_int(&ctx->r, removed);
}

static void cmd_scard(struct cmd_ctx *ctx)
{
    bool bad;
    struct kentry *e = lookup_set(ctx, 1, true, &bad);

    if (!bad) {
        reply_int(&ctx->r, e ? (long long)tset_size(&e->val) : 0);
    }
}

static void cmd_sismember(struct cmd_ctx *ctx)
{
    bool bad;
    struct kentry *e = lookup_set(ctx, 1, true, &bad);

    if (!bad) {
        reply_int(&ctx->r, e && tset_has(&e->val, ctx->argv[2].ptr, ctx->argv[2].len));
    }
}

static void cmd_smismember(struct cmd_ctx *ctx)
{
    bool bad;
    struct kentry *e = lookup_set(ctx, 1, true, &bad);

    if (bad) {
        return;
    }
    reply_array(&ctx->r, ctx->argc - 2);
    for (int i = 2; i < ctx->argc; i++) {
        reply_int(&ctx->r, e && tset_has(&e->val, ctx->argv[i].ptr, ctx->argv[i].len));
    }
}

/* ---- SPOP SRANDMEMBER ---- */

/* Replies and removes `count` random members (fewer than the set holds). */
static void spop_some(struct cmd_ctx *ctx, struct kval *v, size_t count)
{
    char buf[TSET_INTBUF];

    reply_set(&ctx->r, (long long)count);
    while (count--) {
        struct sh_slice m = tset_random(v, shard_rand(ctx->shard), buf);

        reply_bulk(&ctx->r, m.ptr, m.len);
        tset_remove(v, m.ptr, m.len);
    }
}

/* Redis's third SPOP case, when few members stay: moves `keep` random
 * members to a new set, replies the rest and keeps the new set. The kept
 * members already live in this shard, so moving them aborts on OOM rather
 * than failing half way (memory stays flat: each is freed as it moves). */
static void spop_most(struct cmd_ctx *ctx, struct kval *v, size_t count, size_t keep)
{
    struct kval kept = { 0 };
    char buf[TSET_INTBUF];

    while (keep--) {
        struct sh_slice m = tset_random(v, shard_rand(ctx->shard), buf);

        tset_add(&kept, m.ptr, m.len, &ctx->shard->cfg.limits, &ctx->shard->rnd, NULL);
        tset_remove(v, m.ptr, m.len);
    }
    SH_ASSERT(tset_size(v) == count);
    reply_members(&ctx->r, v, true);
    kval_clear(v);
    kept.lru = v->lru;
    kval_assign(v, kept);
}

static void spop_count(struct cmd_ctx *ctx)
{
    long long count;
    size_t size;
    bool bad;
    struct kentry *e;

    if (!util_str2ll(ctx->argv[2].ptr, ctx->argv[2].len, &count) || count < 0) {
        reply_error(&ctx->r, "ERR value is out of range, must be positive");
        return;
    }
    e = lookup_set(ctx, 1, false, &bad);
    if (bad) {
        return;
    }
    if (!e || count == 0) {
        reply_set(&ctx->r, 0);
        ctx->unchanged = true;
        return;
    }
    size = tset_size(&e->val);
    notify_key(ctx, 1, NOTIFY_SET, "spop");
    if ((unsigned long long)count >= size) {
        reply_members(&ctx->r, &e->val, true);
        delete_emptied(ctx, 1, e);
    } else if ((size - (size_t)count) * SPOP_MOVE_MUL > (size_t)count) {
        spop_some(ctx, &e->val, (size_t)count);
    } else {
        spop_most(ctx, &e->val, (size_t)count, size - (size_t)count);
    }
}

static void cmd_spop(struct cmd_ctx *ctx)
{
    char buf[TSET_INTBUF];
    struct sh_slice m;
    struct kentry *e;
    bool bad;

    if (ctx->argc == 3) {
        spop_count(ctx);
        return;
    }
    if (ctx->argc > 3) {
        reply_err_syntax(&ctx->r);
        return;
    }
    e = lookup_set(ctx, 1, false, &bad);
    if (bad) {
        return;
    }
    if (!e) {
        reply_null(&ctx->r);
        ctx->unchanged = true;
        return;
    }
    m = tset_random(&e->val, shard_rand(ctx->shard), buf);
    notify_key(ctx, 1, NOTIFY_SET, "spop");
    reply_bulk(&ctx->r, m.ptr, m.len);
    tset_remove(&e->val, m.ptr, m.len);
    if (tset_size(&e->val) == 0) {
        delete_emptied(ctx, 1, e);
    }
}

/* SRANDMEMBER with a negative count (or 1): members drawn independently. */
static void srand_repeat(struct cmd_ctx *ctx, struct kval *v, unsigned long long count)
{
    char buf[TSET_INTBUF];
    struct sh_slice m = tset_random(v, shard_rand(ctx->shard), buf);

    /* a guard Redis lacks: the reply is built in memory before it is sent */
    if (count > SET_MAX_RANDOM_REPLY / (m.len + 16)) {
        reply_oom(&ctx->r);
        return;
    }
    reply_array(&ctx->r, (long long)count);
    reply_bulk(&ctx->r, m.ptr, m.len);
    while (--count) {
        m = tset_random(v, shard_rand(ctx->shard), buf);
        reply_bulk(&ctx->r, m.ptr, m.len);
    }
}

/* Redis's cases 3 and 4 of SRANDMEMBER: count distinct members (count is
 * below the size) gathered in a temporary set: a copy thinned at random
 * when count is close to the size, else random picks until enough. */
static void srand_distinct(struct cmd_ctx *ctx, struct kval *v, size_t count)
{
    const struct kval_limits *lim = &ctx->shard->cfg.limits;
    struct kval pick = { 0 };
    char buf[TSET_INTBUF];
    int rc = 0;

    if (count * SRAND_SUB_MUL > tset_size(v)) {
        rc = tset_try_add_all(&pick, v, lim, &ctx->shard->rnd);
        while (rc == 0 && tset_size(&pick) > count) {
            struct sh_slice m = tset_random(&pick, shard_rand(ctx->shard), buf);

            tset_remove(&pick, m.ptr, m.len);
        }
    } else {
        while (rc == 0 && tset_size(&pick) < count) {
            struct sh_slice m = tset_random(v, shard_rand(ctx->shard), buf);

            rc = tset_try_add(&pick, m.ptr, m.len, lim, &ctx->shard->rnd, NULL);
        }
    }
    if (rc != 0) {
        reply_oom(&ctx->r);
    } else {
        reply_members(&ctx->r, &pick, false);
    }
    kval_clear(&pick);
}

static void srandmember_count(struct cmd_ctx *ctx)
{
    long long l;
    unsigned long long count;
    struct kentry *e;
    bool bad;

    if (!util_str2ll(ctx->argv[2].ptr, ctx->argv[2].len, &l)) {
        reply_err_notint(&ctx->r);
        return;
    }
    if (l == LLONG_MIN) {
        reply_error(&ctx->r, "ERR value is out of range, value must between "
                             "-9223372036854775807 and 9223372036854775807");
        return;
    }
    e = lookup_set(ctx, 1, true, &bad);
    if (bad) {
        return;
    }
    count = l < 0 ? (unsigned long long)-l : (unsigned long long)l;
    if (!e || count == 0) {
        reply_array(&ctx->r, 0);
    } else if (l < 0 || count == 1) {
        srand_repeat(ctx, &e->val, count);
    } else if (count >= tset_size(&e->val)) {
        reply_members(&ctx->r, &e->val, false);
    } else {
        srand_distinct(ctx, &e->val, (size_t)count);
    }
}

static void cmd_srandmember(struct cmd_ctx *ctx)
{
    char buf[TSET_INTBUF];
    struct sh_slice m;
    struct kentry *e;
    bool bad;

    if (ctx->argc == 3) {
        srandmember_count(ctx);
        return;
    }
    if (ctx->argc > 3) {
        reply_err_syntax(&ctx->r);
        return;
    }
    e = lookup_set(ctx, 1, true, &bad);
    if (bad) {
        return;
    }
    if (!e) {
        reply_null(&ctx->r);
        return;
    }
    m = tset_random(&e->val, shard_rand(ctx->shard), buf);
    reply_bulk(&ctx->r, m.ptr, m.len);
}

/* ---- SMOVE ---- */

/* SMOVE's checks, in Redis's order: replies and returns false when the
 * move does not happen. */
static bool smove_checks(struct cmd_ctx *ctx, struct kentry *src, const struct kentry *dst)
{
    const struct sh_slice *m = &ctx->argv[3];

    if (!src) {
        reply_int(&ctx->r, 0);
        return false;
    }
    if (src->val.type != KVAL_SET || (dst && dst->val.type != KVAL_SET)) {
        reply_err_wrongtype(&ctx->r);
        return false;
    }
    if (src == dst) {
        reply_int(&ctx->r, tset_has(&src->val, m->ptr, m->len));
        return false;
    }
    if (!tset_has(&src->val, m->ptr, m->len)) {
        reply_int(&ctx->r, 0);
        return false;
    }
    return true;
}

static void cmd_smove(struct cmd_ctx *ctx)
{
    const struct sh_slice *m = &ctx->argv[3];
    struct kentry *src = cmd_lookup(ctx, 1), *dst = cmd_lookup(ctx, 2);
    struct kval fresh = { 0 };
    bool added;

    if (!smove_checks(ctx, src, dst)) {
        ctx->unchanged = true;
        return;
    }
    /* add first, so that an OOM leaves both sets as they were */
    if (tset_try_add(dst ? &dst->val : &fresh, m->ptr, m->len, &ctx->shard->cfg.limits,
                     &ctx->shard->rnd, &added) != 0) {
        reply_oom(&ctx->r);
        return;
    }
    tset_remove(&src->val, m->ptr, m->len);
    notify_key(ctx, 1, NOTIFY_SET, "srem");
    if (tset_size(&src->val) == 0) {
        delete_emptied(ctx, 1, src);
    }
    if (!dst) {
        dst = kdb_add(ctx->db, ctx->argv[2].ptr, ctx->argv[2].len, cmd_key_hash(ctx, 2));
        kentry_set_val(dst, fresh);
    }
    if (added) {
        notify_key(ctx, 2, NOTIFY_SET, "sadd");
    }
    reply_int(&ctx->r, 1);
}

/* ---- SINTER SUNION SDIFF SINTERCARD and the STORE forms ---- */

/* Looks up the n source sets at argv[first..]: sets[i] is the value or NULL
 * when absent (*missing counts those). Every key is checked, in order, as
 * Redis does; false after replying WRONGTYPE. */
static bool lookup_sources(struct cmd_ctx *ctx, int first, int n, struct kval **sets,
                           size_t *missing)
{
    *missing = 0;
    for (int i = 0; i < n; i++) {
        bool bad;
        struct kentry *e = lookup_set(ctx, first + i, true, &bad);

        if (bad) {
            return false;
        }
        sets[i] = e ? &e->val : NULL;
        *missing += !e;
    }
    return true;
}

/* Replies the members of op over sets[0..n) (as tset_op) as a set:
 * straight from the one set that matters, or from the members found as
 * they come (SINTER, SDIFF's first algorithm), or from a result built
 * apart (SUNION, SDIFF's second). */
static void reply_op(struct reply *r, enum tset_op op, struct kval *const *sets, size_t n,
                     size_t missing, const struct kval_limits *lim, uint64_t *rnd)
{
    struct set_sink sink;
    struct kval u = { 0 };

    if ((op == TSET_INTER && missing) || (op != TSET_UNION && !sets[0]) || missing == n) {
        reply_set(r, 0);
        return;
    }
    if (n == 1 || (op == TSET_UNION && missing == n - 1)) {
        for (size_t i = 0; i < n; i++) {
            if (sets[i]) {
                reply_members(r, sets[i], true);
                return;
            }
        }
    }
    if (op == TSET_UNION || (op == TSET_DIFF && tset_diff_by_removal(sets, n))) {
        if (tset_op(op, sets, n, lim, rnd, &u) != 0) {
            reply_oom(r);
        } else {
            reply_members(r, &u, true);
        }
        kval_clear(&u);
        return;
    }
    set_sink_init(&sink);
    if (op == TSET_INTER) {
        tset_inter(sets, n, 0, set_sink_put, &sink);
    } else {
        tset_diff(sets, n, set_sink_put, &sink);
    }
    set_sink_flush(&sink, r);
}

/* Replaces key argv[i] with *res (taken; KVAL_NONE: deletes the key) as
 * Redis's setKey does (any old value and TTL go), publishes event or "del",
 * and replies the cardinality. An empty result where no key was is no
 * change; any other marks the key's WATCHers itself (__sstore has no
 * command path). */
static void store_result(struct cmd_ctx *ctx, int i, struct kval *res, const char *event)
{
    struct kentry *e = cmd_lookup(ctx, i);
    long long card = res->type == KVAL_SET ? (long long)tset_size(res) : 0;

    if (card == 0) {
        kval_clear(res);
        if (e) {
            delete_emptied(ctx, i, e);
            route_touch(ctx->shard, ctx->dbid, ctx->argv[i]);
        } else {
            ctx->unchanged = true;
        }
        reply_int(&ctx->r, 0);
        return;
    }
    route_touch(ctx->shard, ctx->dbid, ctx->argv[i]);
    if (e) {
        kval_clear(&e->val);
        if (kentry_has_ttl(e)) {
            kdb_set_expire(ctx->db, e, -1);
        }
    } else {
        e = kdb_add(ctx->db, ctx->argv[i].ptr, ctx->argv[i].len, cmd_key_hash(ctx, i));
    }
    kentry_set_val(e, *res);
    notify_key(ctx, i, NOTIFY_SET, event);
    reply_int(&ctx->r, card);
}

static const char *const store_events[] = {
    [TSET_INTER] = "sinterstore",
    [TSET_UNION] = "sunionstore",
    [TSET_DIFF] = "sdiffstore",
};

/* SINTER SUNION SDIFF (dst 0: keys from argv[1]) and their STORE forms
 * (dst 1: the destination is argv[1], keys from argv[2]). */
static void setop_generic(struct cmd_ctx *ctx, enum tset_op op, int dst)
{
    int first = dst + 1, n = ctx->argc - first;
    struct kval **sets = sh_malloc(sizeof(*sets) * (size_t)n);
    struct kval res = { 0 };
    size_t missing;

    if (!lookup_sources(ctx, first, n, sets, &missing)) {
        goto out_free_sets;
    }
    if (!dst) {
        reply_op(&ctx->r, op, sets, (size_t)n, missing, &ctx->shard->cfg.limits, &ctx->shard->rnd);
    } else if (tset_op(op, sets, (size_t)n, &ctx->shard->cfg.limits, &ctx->shard->rnd, &res) != 0) {
        reply_oom(&ctx->r);
    } else {
        store_result(ctx, dst, &res, store_events[op]);
    }
out_free_sets:
    sh_free(sets);
}

static void cmd_sinter(struct cmd_ctx *ctx)
{
    setop_generic(ctx, TSET_INTER, 0);
}

static void cmd_sunion(struct cmd_ctx *ctx)
{
    setop_generic(ctx, TSET_UNION, 0);
}

static void cmd_sdiff(struct cmd_ctx *ctx)
{
    setop_generic(ctx, TSET_DIFF, 0);
}

static void cmd_sinterstore(struct cmd_ctx *ctx)
{
    setop_generic(ctx, TSET_INTER, 1);
}

static void cmd_sunionstore(struct cmd_ctx *ctx)
{
    setop_generic(ctx, TSET_UNION, 1);
}

static void cmd_sdiffstore(struct cmd_ctx *ctx)
{
    setop_generic(ctx, TSET_DIFF, 1);
}

/* SINTERCARD's numkeys and LIMIT, as Redis checks them; the error to reply
 * or NULL. */
static const char *parse_intercard(int argc, const struct sh_slice *argv, long long *numkeys,
                                   long long *limit)
{
    *limit = 0;
    if (!util_str2ll(argv[1].ptr, argv[1].len, numkeys) || *numkeys < 1) {
        return "ERR numkeys should be greater than 0";
    }
    if (*numkeys > argc - 2) {
        return "ERR Number of keys can't be greater than number of args";
    }
    for (int j = 2 + (int)*numkeys; j < argc; j++) {
        if (!sh_slice_eq_nocase(argv[j], "limit") || j + 1 >= argc) {
            return "ERR syntax error";
        }
        j++;
        if (!util_str2ll(argv[j].ptr, argv[j].len, limit) || *limit < 0) {
            return "ERR LIMIT can't be negative";
        }
    }
    return NULL;
}

static void count_member(void *arg, const char *p, size_t len)
{
    (void)arg;
    (void)p;
    (void)len;
}

/* SINTERCARD's answer over sets[0..n) (missing of them absent). */
static long long intercard(struct kval *const *sets, size_t n, size_t missing, long long limit)
{
    if (missing) {
        return 0;
    }
    return (long long)tset_inter(sets, n, (size_t)limit, count_member, NULL);
}

static void cmd_sintercard(struct cmd_ctx *ctx)
{
    long long numkeys, limit;
    const char *err = parse_intercard(ctx->argc, ctx->argv, &numkeys, &limit);
    struct kval **sets;
    size_t missing;

    if (err) {
        reply_error(&ctx->r, err);
        return;
    }
    sets = sh_malloc(sizeof(*sets) * (size_t)numkeys);
    if (lookup_sources(ctx, 2, (int)numkeys, sets, &missing)) {
        reply_int(&ctx->r, intercard(sets, (size_t)numkeys, missing, limit));
    }
    sh_free(sets);
}

/* ---- SSCAN ---- */

struct sscan_state {
    struct set_sink sink;
    struct sh_slice pat;
    bool use_pat;
    long long count;
    long long seen; /* members the scan returned, matching or not */
};

static void sscan_put(void *arg, const char *p, size_t len)
{
    struct sscan_state *st = arg;

    st->seen++;
    if (!st->use_pat || glob_match(st->pat.ptr, st->pat.len, p, len, false)) {
        set_sink_put(&st->sink, p, len);
    }
}

/* COUNT and MATCH at argv[3..] (TYPE is SCAN's only); replies the error. */
static bool sscan_options(struct cmd_ctx *ctx, struct sscan_state *st)
{
    for (int i = 3; i < ctx->argc; i += 2) {
        bool has_val = i + 1 < ctx->argc;

        if (has_val && sh_slice_eq_nocase(ctx->argv[i], "count")) {
            if (!util_str2ll(ctx->argv[i + 1].ptr, ctx->argv[i + 1].len, &st->count)) {
                reply_err_notint(&ctx->r);
                return false;
            }
            if (st->count < 1) {
                reply_err_syntax(&ctx->r);
                return false;
            }
        } else if (has_val && sh_slice_eq_nocase(ctx->argv[i], "match")) {
            st->pat = ctx->argv[i + 1];
            st->use_pat = !(st->pat.len == 1 && st->pat.ptr[0] == '*');
        } else {
            reply_err_syntax(&ctx->r);
            return false;
        }
    }
    return true;
}

static void cmd_sscan(struct cmd_ctx *ctx)
{
    struct sscan_state st = { .count = 10 };
    uint64_t cursor;
    long long maxiter;
    char buf[24];
    struct kentry *e;
    bool bad;

    if (!util_parse_cursor(ctx->argv[2].ptr, ctx->argv[2].len, &cursor)) {
        reply_error(&ctx->r, "ERR invalid cursor");
        return;
    }
    e = lookup_set(ctx, 1, true, &bad);
    if (bad) {
        return;
    }
    if (!e) {
        reply_array(&ctx->r, 2);
        reply_bulk(&ctx->r, "0", 1);
        reply_array(&ctx->r, 0);
        return;
    }
    if (!sscan_options(ctx, &st)) {
        return;
    }
    set_sink_init(&st.sink);
    /* like Redis: at most COUNT*10 buckets, so a sparse table cannot stall */
    maxiter = st.count > LLONG_MAX / 10 ? LLONG_MAX : st.count * 10;
    do {
        cursor = tset_scan(&e->val, cursor, sscan_put, &st);
    } while (cursor != 0 && maxiter-- > 0 && st.seen < st.count);
    reply_array(&ctx->r, 2);
    reply_bulk(&ctx->r, buf, (size_t)snprintf(buf, sizeof(buf), "%" PRIu64, cursor));
    reply_array(&ctx->r, st.sink.n);
    reply_raw(&ctx->r, st.sink.buf.data, st.sink.buf.len);
    rbuf_fini(&st.sink.buf);
}

/* ---- internal commands of the cross-shard forms (gathers below) ---- */

/* __sdump k1 k2 ... -> *n of ($dump | nil), or -WRONGTYPE */
static void cmd_sdump_internal(struct cmd_ctx *ctx)
{
    int n = ctx->argc - 1;
    struct kval **sets = sh_malloc(sizeof(*sets) * (size_t)n);
    size_t missing;

    if (lookup_sources(ctx, 1, n, sets, &missing)) {
        reply_array(&ctx->r, n);
        for (int i = 0; i < n; i++) {
            size_t len;
            char *p = sets[i] ? tset_dump(sets[i], &len) : NULL;

            if (p) {
                reply_bulk(&ctx->r, p, len);
            } else {
                reply_null(&ctx->r);
            }
            sh_free(p);
        }
    }
    sh_free(sets);
}

/* __sstore dst event dump -> :cardinality */
static void cmd_sstore_internal(struct cmd_ctx *ctx)
{
    const char *event = NULL;
    struct kval res = { 0 };
    int rc = 0;

    for (size_t i = 0; i < SH_ARRAY_LEN(store_events); i++) {
        if (sh_slice_eq_nocase(ctx->argv[2], store_events[i])) {
            event = store_events[i];
        }
    }
    if (!event) {
        reply_err_syntax(&ctx->r);
        return;
    }
    if (ctx->argv[3].len) {
        rc = tset_load(&res, ctx->argv[3].ptr, ctx->argv[3].len, &ctx->shard->cfg.limits,
                       &ctx->shard->rnd);
    }
    if (rc == -EINVAL) {
        reply_error(&ctx->r, "ERR internal error: bad set bytes");
    } else if (rc != 0) {
        reply_oom(&ctx->r);
    } else {
        store_result(ctx, 1, &res, event);
    }
}

/* __stype key -> :0 absent, :1 a set, :2 another type (a write lookup:
 * no keyspace statistics, as SMOVE's own lookups) */
static void cmd_stype_internal(struct cmd_ctx *ctx)
{
    struct kentry *e = cmd_lookup(ctx, 1);

    reply_int(&ctx->r, !e ? 0 : e->val.type == KVAL_SET ? 1 : 2);
}

static const struct cmd_spec sdump_spec = {
    .name = "__sdump",
    .fullname = "__sdump",
    .arity = -2,
    .proc = cmd_sdump_internal,
};

static const struct cmd_spec sstore_spec = {
    .name = "__sstore",
    .fullname = "__sstore",
    .arity = 4,
    .proc = cmd_sstore_internal,
};

static const struct cmd_spec stype_spec = {
    .name = "__stype",
    .fullname = "__stype",
    .arity = 2,
    .proc = cmd_stype_internal,
};

/* ---- gathers: the multi-key commands across shards (client's core) ---- */

/* The integer reply of shard s's part; false when it is not one. */
static bool part_int(const struct coord *c, int s, long long *v)
{
    size_t pos = 0;

    return coord_read_header(coord_part(c, s), &pos, ':', v);
}

/* Copies shard s's part as the reply when it is an error. */
static bool forward_part_error(const struct coord *c, int s, struct reply *r)
{
    struct sh_slice p = coord_part(c, s);

    if (p.len && p.ptr[0] == '-') {
        reply_raw(r, p.ptr, p.len);
        return true;
    }
    return false;
}

/* Copies the first error part as the reply. */
static bool forward_first_error(const struct coord *c, struct reply *r)
{
    struct sh_slice e = coord_first_error(c);

    if (e.len) {
        reply_raw(r, e.ptr, e.len);
        return true;
    }
    return false;
}

/* Sends cmd with argv[i] plus the extra arguments to the owner of argv[i]. */
static void send_to_owner(struct coord *c, const struct cmd_spec *cmd, int i, struct sh_slice a,
                          struct sh_slice b)
{
    struct sh_slice argv[4] = { { cmd->name, strlen(cmd->name) }, c->argv[i], a, b };
    int argc = b.ptr ? 4 : a.ptr ? 3 : 2;

    coord_send(c, coord_key_owner(c, c->argv[i]), cmd, c->dbid, argc, argv);
}

/*
 * SINTER SUNION SDIFF SINTERCARD and the STORE forms across shards:
 *
 *   stage 0  __sdump <its keys>   at each owner of source keys, all at once
 *            the client's core rebuilds each set (tset_load) and computes
 *            the result with the same code as the one-shard handlers;
 *            SINTER SUNION SDIFF SINTERCARD reply now
 *   stage 1  __sstore dst ev dump at dst's owner (STORE forms): replaces dst,
 *            replies its cardinality, which is the reply
 *
 * Each owner reads its keys atomically, but the keys of different owners
 * are read at slightly different moments, and a STORE writes its result
 * later still: a client that writes a source meanwhile may or may not see
 * its write reflected (and another client may read dst in between). Keys
 * that share a {hash tag} run on one owner, whole and atomic.
 */
struct setop_form {
    enum tset_op op;
    int dst;   /* 1: argv[1] is the destination (STORE forms) */
    bool card; /* SINTERCARD */
};

/* The source keys argv[*first..*first + *n) and SINTERCARD's limit; the
 * error to reply, or NULL. */
static const char *form_keys(const struct coord *c, const struct setop_form *f, int *first, int *n,
                             long long *limit)
{
    long long numkeys;
    const char *err;

    *limit = 0;
    if (!f->card) {
        *first = 1 + f->dst;
        *n = c->argc - *first;
        return NULL;
    }
    err = parse_intercard(c->argc, c->argv, &numkeys, limit);
    *first = 2;
    *n = err ? 0 : (int)numkeys;
    return err;
}

static void setop_start(struct coord *c, const struct setop_form *f)
{
    struct sh_slice *sub;
    int first, n;
    long long limit;

    if (form_keys(c, f, &first, &n, &limit) != NULL) {
        return; /* no part: done() replies the error at once */
    }
    sub = sh_malloc(sizeof(*sub) * (size_t)c->argc);
    if (!c->owner) {
        c->owner = sh_malloc(sizeof(*c->owner) * (size_t)c->argc);
    }
    for (int i = 0; i < c->argc; i++) {
        c->owner[i] = i >= first && i < first + n ? coord_key_owner(c, c->argv[i]) : -1;
    }
    for (int s = 0; s < c->nshards; s++) {
        int k = 0;

        sub[k++] = (struct sh_slice){ sdump_spec.name, strlen(sdump_spec.name) };
        for (int i = first; i < first + n; i++) {
            if (c->owner[i] == s) {
                sub[k++] = c->argv[i];
            }
        }
        if (k > 1) {
            coord_send(c, s, &sdump_spec, c->dbid, k, sub);
        }
    }
    sh_free(sub);
}

/* The sets of stage 0's parts, rebuilt on this core. */
struct gathered {
    int n;
    size_t missing;
    struct kval *vals;  /* [n] */
    struct kval **sets; /* [n]: &vals[i], or NULL for an absent key */
};

static void gathered_free(struct gathered *g)
{
    for (int i = 0; g->vals && i < g->n; i++) {
        kval_clear(&g->vals[i]);
    }
    sh_free(g->vals);
    sh_free(g->sets);
}

/* Rebuilds the set of key argv[i] from its owner's next dump at pos[owner].
 * Returns 0, -EINVAL (a malformed part) or -ENOMEM. */
static int gather_one(struct coord *c, struct gathered *g, int k, int i, size_t *pos)
{
    struct shard *sh = c->conn->sh;
    int o = c->owner[i];
    struct sh_slice dump;

    if (!coord_read_bulk(coord_part(c, o), &pos[o], &dump)) {
        return -EINVAL;
    }
    g->sets[k] = NULL;
    if (!dump.ptr) {
        g->missing++;
        return 0;
    }
    g->sets[k] = &g->vals[k];
    return tset_load(&g->vals[k], dump.ptr, dump.len, &sh->cfg.limits, &sh->rnd);
}

/* Rebuilds every source set; false after replying an error. */
static bool gather_sets(struct coord *c, int first, struct gathered *g, struct reply *r)
{
    size_t *pos = sh_calloc((size_t)c->nshards, sizeof(*pos));
    long long len;
    int rc = 0;

    for (int s = 0; s < c->nshards && rc == 0; s++) {
        if (coord_part(c, s).len && !coord_read_header(coord_part(c, s), &pos[s], '*', &len)) {
            rc = -EINVAL;
        }
    }
    g->vals = sh_calloc((size_t)g->n + 1, sizeof(*g->vals));
    g->sets = sh_calloc((size_t)g->n + 1, sizeof(*g->sets));
    for (int k = 0; k < g->n && rc == 0; k++) {
        rc = gather_one(c, g, k, first + k, pos);
    }
    sh_free(pos);
    if (rc == -ENOMEM) {
        reply_oom(r);
    } else if (rc != 0) {
        reply_error(r, "ERR internal error: bad __sdump reply");
    }
    return rc == 0;
}

/* Stage 0 of a STORE form: computes the result and sends it to dst's owner.
 * Returns true after replying an error. */
static bool send_store(struct coord *c, const struct setop_form *f, struct gathered *g,
                       struct reply *r)
{
    struct shard *sh = c->conn->sh;
    const char *ev = store_events[f->op];
    struct kval res = { 0 };
    struct sh_slice dump = { "", 0 };
    char *p = NULL;

    if (tset_op(f->op, g->sets, (size_t)g->n, &sh->cfg.limits, &sh->rnd, &res)) {
        reply_oom(r);
        return true;
    }
    if (res.type == KVAL_SET) {
        p = tset_dump(&res, &dump.len);
        dump.ptr = p;
    }
    kval_clear(&res);
    send_to_owner(c, &sstore_spec, 1, (struct sh_slice){ ev, strlen(ev) }, dump);
    sh_free(p);
    return false;
}

static bool setop_done(struct coord *c, struct reply *r, const struct setop_form *f)
{
    struct gathered g = { 0 };
    long long limit;
    const char *err;
    bool fin = true;
    int first;

    if (c->stage == 1) {
        long long card;

        if (!forward_part_error(c, coord_key_owner(c, c->argv[1]), r)) {
            part_int(c, coord_key_owner(c, c->argv[1]), &card)
                    ? reply_int(r, card)
                    : reply_error(r, "ERR internal error: no __sstore reply");
        }
        return true;
    }
    err = form_keys(c, f, &first, &g.n, &limit);
    if (err) {
        reply_error(r, err);
        return true;
    }
    if (forward_first_error(c, r) || !gather_sets(c, first, &g, r)) {
        gathered_free(&g);
        return true;
    }
    if (f->card) {
        reply_int(r, intercard(g.sets, (size_t)g.n, g.missing, limit));
    } else if (!f->dst) {
        reply_op(r, f->op, g.sets, (size_t)g.n, g.missing, &c->conn->sh->cfg.limits,
                 &c->conn->sh->rnd);
    } else {
        fin = send_store(c, f, &g, r);
    }
    gathered_free(&g);
    return fin;
}

static const struct setop_form *form_of(const struct coord *c)
{
    static const struct {
        const char *name;
        struct setop_form f;
    } forms[] = {
        { "sinter", { TSET_INTER, 0, false } },      { "sunion", { TSET_UNION, 0, false } },
        { "sdiff", { TSET_DIFF, 0, false } },        { "sintercard", { TSET_INTER, 0, true } },
        { "sinterstore", { TSET_INTER, 1, false } }, { "sunionstore", { TSET_UNION, 1, false } },
        { "sdiffstore", { TSET_DIFF, 1, false } },
    };

    for (size_t i = 0; i < SH_ARRAY_LEN(forms); i++) {
        if (!strcmp(c->cmd->name, forms[i].name)) {
            return &forms[i].f;
        }
    }
    sh_panic("set gather bound to %s", c->cmd->name);
}

static void setop_gather_start(struct coord *c)
{
    setop_start(c, form_of(c));
}

static bool setop_gather_done(struct coord *c, struct reply *r)
{
    return setop_done(c, r, form_of(c));
}

/* SINTER SUNION SDIFF SINTERCARD: one stage */
static const struct gather gather_setop = { .start = setop_gather_start,
                                            .done = setop_gather_done };
/* the STORE forms: two stages */
static const struct gather gather_setop_store = { .start = setop_gather_start,
                                                  .done = setop_gather_done,
                                                  .barrier = true };

/*
 * SMOVE src dst member across shards, in Redis's order of checks:
 *
 *   stage 0  __stype dst        at dst's owner
 *   stage 1  dst holds another type: __stype src at src's owner, then the
 *            reply is :0 when src is absent, else WRONGTYPE;
 *            otherwise SREM src member at src's owner ("srem", "del"):
 *            WRONGTYPE, :0 (not there: the reply), or :1
 *   stage 2  SADD dst member at dst's owner ("sadd" when new); reply :1
 *   stage 3  only when dst changed type after stage 0: SADD src member puts
 *            the member back, and the reply is WRONGTYPE
 *
 * Each stage is atomic on its owner; between them another client may see
 * the member in neither set, and a src written meanwhile still loses only
 * the member moved.
 */
enum {
    STYPE_ABSENT = 0,
    STYPE_SET = 1,
    STYPE_OTHER = 2,
};

static void smove_start(struct coord *c)
{
    send_to_owner(c, &stype_spec, 2, (struct sh_slice){ NULL, 0 }, (struct sh_slice){ NULL, 0 });
}

/* Stage 0 is back (dst's type): checks src (stage 1). */
static bool smove_check_src(struct coord *c, struct reply *r)
{
    const struct cmd_spec *srem = cmdtab_lookup("srem", 4);
    struct sh_slice none = { NULL, 0 };

    if (forward_part_error(c, coord_key_owner(c, c->argv[2]), r)) {
        return true;
    }
    if (!part_int(c, coord_key_owner(c, c->argv[2]), &c->acc) || !srem) {
        reply_error(r, "ERR internal error: bad __stype reply");
        return true;
    }
    if (c->acc == STYPE_OTHER) {
        send_to_owner(c, &stype_spec, 1, none, none);
    } else {
        send_to_owner(c, srem, 1, c->argv[3], none);
    }
    return false;
}

/* Stage 1 is back: replies, or adds the member to dst (stage 2). */
static bool smove_add(struct coord *c, struct reply *r)
{
    const struct cmd_spec *sadd = cmdtab_lookup("sadd", 4);
    long long v;

    if (forward_part_error(c, coord_key_owner(c, c->argv[1]), r)) {
        return true;
    }
    if (!part_int(c, coord_key_owner(c, c->argv[1]), &v) || !sadd) {
        reply_error(r, "ERR internal error: bad SMOVE part");
    } else if (c->acc == STYPE_OTHER) {
        v == STYPE_ABSENT ? reply_int(r, 0) : reply_err_wrongtype(r);
    } else if (v == 0) {
        reply_int(r, 0);
    } else {
        send_to_owner(c, sadd, 2, c->argv[3], (struct sh_slice){ NULL, 0 });
        return false;
    }
    return true;
}

/* Stage 2 is back: done, unless dst changed type (or ran out of memory)
 * since stage 0: then the member goes back to src (stage 3). */
static bool smove_added(struct coord *c, struct reply *r)
{
    const struct cmd_spec *sadd = cmdtab_lookup("sadd", 4);
    struct sh_slice p = coord_part(c, coord_key_owner(c, c->argv[2]));

    if (p.len && p.ptr[0] == ':') {
        reply_int(r, 1);
        return true;
    }
    c->acc = p.len > 4 && memcmp(p.ptr, "-OOM", 4) == 0;
    if (!sadd) {
        reply_err_wrongtype(r);
        return true;
    }
    send_to_owner(c, sadd, 1, c->argv[3], (struct sh_slice){ NULL, 0 });
    return false;
}

static bool smove_done(struct coord *c, struct reply *r)
{
    switch (c->stage) {
    case 0:
        return smove_check_src(c, r);
    case 1:
        return smove_add(c, r);
    case 2:
        return smove_added(c, r);
    default:
        c->acc ? reply_oom(r) : reply_err_wrongtype(r);
        return true;
    }
}

static const struct gather gather_smove = { .start = smove_start,
                                            .done = smove_done,
                                            .barrier = true };

void cmd_set_bind(void)
{
    static const struct {
        const char *name;
        cmd_fn *proc;
    } key_cmds[] = {
        { "sadd", cmd_sadd },
        { "srem", cmd_srem },
        { "scard", cmd_scard },
        { "sismember", cmd_sismember },
        { "smismember", cmd_smismember },
        { "smembers", cmd_sinter },
        { "spop", cmd_spop },
        { "srandmember", cmd_srandmember },
        { "sscan", cmd_sscan },
    };
    static const struct {
        const char *name;
        cmd_fn *proc;
        const struct gather *g;
    } multi_cmds[] = {
        { "smove", cmd_smove, &gather_smove },
        { "sinter", cmd_sinter, &gather_setop },
        { "sunion", cmd_sunion, &gather_setop },
        { "sdiff", cmd_sdiff, &gather_setop },
        { "sintercard", cmd_sintercard, &gather_setop },
        { "sinterstore", cmd_sinterstore, &gather_setop_store },
        { "sunionstore", cmd_sunionstore, &gather_setop_store },
        { "sdiffstore", cmd_sdiffstore, &gather_setop_store },
    };

    for (size_t i = 0; i < SH_ARRAY_LEN(key_cmds); i++) {
        cmd_must_bind(key_cmds[i].name, key_cmds[i].proc, CMD_ROUTE_KEY, NULL);
    }
    for (size_t i = 0; i < SH_ARRAY_LEN(multi_cmds); i++) {
        cmd_must_bind(multi_cmds[i].name, multi_cmds[i].proc, CMD_ROUTE_MULTI, multi_cmds[i].g);
    }
}
