/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * cmd_hll.c: the HyperLogLog commands (PFADD PFCOUNT PFMERGE PFDEBUG
 * PFSELFTEST) with Redis 7.0's semantics, replies and error wording
 * (hyperloglog.c), over the string bytes of hll.h: a HyperLogLog is a plain
 * string value, so GET/SET move it between shardis and Redis unchanged.
 *
 * PFADD, PFDEBUG and one-key PFCOUNT run on the key's owner. PFCOUNT of
 * several keys (the union's cardinality; no key changes) and PFMERGE run
 * whole on the owner when their keys share it; across owners the gathers at
 * the bottom coordinate them from the client's core (the scheduler runs the
 * command as one transaction over its keys) with two internal commands:
 *
 *   __pfdump k1 k2 ...     on each owner: for each of its keys, in order,
 *                          nil (absent), :1 (not a string), :2 (a string
 *                          that is not an HLL) or the HLL's bytes
 *   __pfstore dst regs d   on dst's owner: PFMERGE's write of the merged
 *                          registers (16384 bytes, one per register) into
 *                          dst, made dense first when d is "1"; +OK
 *
 * The client's core walks the keys in argument order, as Redis does, so the
 * first bad key decides the error; it merges the registers and replies
 * (PFCOUNT) or sends __pfstore (PFMERGE).
 *
 * Errors, as Redis 7.0 replies them: a value of another type gets the usual
 * WRONGTYPE; a string that is not an HLL "WRONGTYPE Key is not a valid
 * HyperLogLog string value."; sparse opcodes that do not add up
 * "INVALIDOBJ Corrupted HLL object detected".
 *
 * Keyspace notifications: "pfadd" (class '$') when PFADD changed or created
 * the key, and for every PFMERGE. PFCOUNT of one key stores the cardinality
 * it computed in the value's header, as Redis does, and then marks the key
 * modified for WATCH (Redis's signalModifiedKey). Read lookups (PFCOUNT, the
 * sources of PFMERGE, the destination included) count keyspace hits and
 * misses; PFADD's and PFDEBUG's are write lookups. shardis keeps no dirty
 * counter, so Redis's server.dirty increments have no counterpart.
 *
 * hll-sparse-max-bytes: the directive of this core's configuration copy.
 *
 * Threading: handlers run on the owner's core; gathers on the client's core.
 */
#include "shardis/cmd.h"
#include "shardis/cmd_bind.h"
#include "shardis/cmdtab.h"
#include "shardis/config.h"
#include "shardis/hll.h"
#include "shardis/kdb.h"
#include "shardis/kval.h"
#include "shardis/pubsub.h"
#include "shardis/reply.h"
#include "shardis/route.h"
#include "shardis/shard.h"

#include <errno.h>
#include <string.h>

#define OOM_MSG         "OOM command not allowed when used memory > 'maxmemory'."
#define ERR_NOT_HLL     "WRONGTYPE Key is not a valid HyperLogLog string value."
#define ERR_CORRUPT_HLL "INVALIDOBJ Corrupted HLL object detected"

/* What a key holds, as __pfdump reports it. */
enum hll_kind {
    HLL_KIND_ABSENT = 0,
    HLL_KIND_NOT_STRING = 1,
    HLL_KIND_NOT_HLL = 2,
    HLL_KIND_OK = 3,
    HLL_KIND_NOMEM = 4, /* an HLL that could not be made a struct kstr */
};

/* The hll-sparse-max-bytes in force on this core. */
static size_t sparse_max(const struct cmd_ctx *ctx)
{
    return (size_t)ctx->shard->cfg.hll_sparse_max_bytes;
}

static void notify_pfadd(struct cmd_ctx *ctx, int i)
{
    pubsub_notify(ctx->shard, NOTIFY_STRING, "pfadd", ctx->argv[i].ptr, ctx->argv[i].len,
                  ctx->dbid);
}

/* What the key holds; an HLL is left as a struct kstr (e->val.u.s), which
 * the HLL code reads and writes in place: one that came in by SET, RESTORE
 * or a load in another string encoding is turned into one here (the lookup
 * handed it to a running snapshot first). */
static enum hll_kind kind_of(struct kentry *e)
{
    char buf[24];
    const char *p;
    size_t n;

    if (!e) {
        return HLL_KIND_ABSENT;
    }
    if (e->val.type != KVAL_STRING) {
        return HLL_KIND_NOT_STRING;
    }
    p = kval_string(&e->val, buf, &n);
    if (!hll_is_valid(p, n)) {
        return HLL_KIND_NOT_HLL;
    }
    if (e->val.enc != KVAL_ENC_RAW && !kval_make_raw(&e->val, n)) {
        return HLL_KIND_NOMEM;
    }
    return HLL_KIND_OK;
}

/* Replies the error of a key that is not an HLL; true when it is one. */
static bool hll_or_reply(struct reply *r, enum hll_kind k)
{
    if (k == HLL_KIND_NOT_STRING) {
        reply_err_wrongtype(r);
    } else if (k == HLL_KIND_NOT_HLL) {
        reply_error(r, ERR_NOT_HLL);
    } else if (k == HLL_KIND_NOMEM) {
        reply_error(r, OOM_MSG);
    }
    return k == HLL_KIND_OK || k == HLL_KIND_ABSENT;
}

/* Replies the error of an hll.h status (-EINVAL, -ENOMEM); true when rc is
 * not one. */
static bool status_or_reply(struct reply *r, int rc)
{
    if (rc == -EINVAL) {
        reply_error(r, ERR_CORRUPT_HLL);
    } else if (rc == -ENOMEM) {
        reply_error(r, OOM_MSG);
    }
    return rc >= 0;
}

/* Adds key argv[i] holding a new empty HLL; NULL after replying OOM. */
static struct kentry *add_new_hll(struct cmd_ctx *ctx, int i)
{
    struct kval v = { 0 };
    struct kentry *e;

    if (hll_create(&v) != 0) {
        reply_error(&ctx->r, OOM_MSG);
        return NULL;
    }
    e = kdb_add(ctx->db, ctx->argv[i].ptr, ctx->argv[i].len, cmd_key_hash(ctx, i));
    v.lru = e->val.lru;
    kentry_set_val(e, v);
    return e;
}

/* ---- PFADD ---- */

static void cmd_pfadd(struct cmd_ctx *ctx)
{
    struct kentry *e = cmd_lookup(ctx, 1);
    long long updated = 0;

    if (!e) {
        e = add_new_hll(ctx, 1);
        if (!e) {
            return;
        }
        updated++;
    } else if (!hll_or_reply(&ctx->r, kind_of(e))) {
        return;
    }
    for (int j = 2; j < ctx->argc; j++) {
        int rc = hll_add(&e->val, ctx->argv[j].ptr, ctx->argv[j].len, sparse_max(ctx));

        if (!status_or_reply(&ctx->r, rc)) {
            return; /* as Redis: what was added stays, unannounced */
        }
        updated += rc;
    }
    if (updated) {
        hll_cache_invalidate(e->val.u.s->data);
        notify_pfadd(ctx, 1);
    }
    ctx->unchanged = !updated;
    reply_int(&ctx->r, updated ? 1 : 0);
}

/* ---- PFCOUNT ---- */

/* Merges the HLL of key argv[i] (read lookup) into regs; false after
 * replying an error. *dense: set when it is dense. */
static bool merge_key(struct cmd_ctx *ctx, int i, uint8_t *regs, bool *dense)
{
    struct kentry *e = cmd_lookup(ctx, i);
    enum hll_kind k = kind_of(e);
    const struct kstr *s;

    cmd_count_lookup(ctx, e != NULL);
    if (k != HLL_KIND_OK) {
        return hll_or_reply(&ctx->r, k);
    }
    s = e->val.u.s;
    *dense |= hll_encoding_of(s->data) == HLL_DENSE;
    return status_or_reply(&ctx->r, hll_merge(regs, s->data, s->len));
}

static void pfcount_union(struct cmd_ctx *ctx)
{
    uint8_t regs[HLL_REGISTERS] = { 0 };
    bool dense = false;

    for (int i = 1; i < ctx->argc; i++) {
        if (!merge_key(ctx, i, regs, &dense)) {
            return;
        }
    }
    reply_int(&ctx->r, (long long)hll_count_registers(regs));
}

static void cmd_pfcount(struct cmd_ctx *ctx)
{
    struct kentry *e;
    enum hll_kind k;
    struct kstr *s;
    uint64_t card;

    if (ctx->argc > 2) {
        pfcount_union(ctx);
        return;
    }
    e = cmd_lookup(ctx, 1);
    cmd_count_lookup(ctx, e != NULL);
    k = kind_of(e);
    if (k != HLL_KIND_OK) {
        if (hll_or_reply(&ctx->r, k)) {
            reply_int(&ctx->r, 0);
        }
        return;
    }
    s = e->val.u.s;
    if (!hll_cache_get(s->data, &card)) {
        if (!status_or_reply(&ctx->r, hll_count(s->data, s->len, &card))) {
            return;
        }
        hll_cache_set(s->data, card);
        route_touch(ctx->shard, ctx->dbid, ctx->argv[1]);
    }
    reply_int(&ctx->r, (long long)card);
}

/* ---- PFMERGE ---- */

/* PFMERGE's write: regs into key argv[i] (created when absent; checked
 * again, as it may be called apart from the reads), "pfadd", +OK. */
static void pfmerge_write(struct cmd_ctx *ctx, int i, const uint8_t *regs, bool dense)
{
    struct kentry *e = cmd_lookup(ctx, i);

    if (!e) {
        e = add_new_hll(ctx, i);
        if (!e) {
            return;
        }
    } else if (!hll_or_reply(&ctx->r, kind_of(e))) {
        return;
    }
    if (!status_or_reply(&ctx->r, hll_store(&e->val, regs, dense, sparse_max(ctx)))) {
        return;
    }
    notify_pfadd(ctx, i);
    reply_ok(&ctx->r);
}

static void cmd_pfmerge(struct cmd_ctx *ctx)
{
    uint8_t regs[HLL_REGISTERS] = { 0 };
    bool dense = false;

    /* the destination is a source too */
    for (int i = 1; i < ctx->argc; i++) {
        if (!merge_key(ctx, i, regs, &dense)) {
            return;
        }
    }
    pfmerge_write(ctx, 1, regs, dense);
}

/* ---- PFDEBUG, PFSELFTEST ---- */

static void pfdebug_getreg(struct cmd_ctx *ctx, struct kentry *e)
{
    uint8_t regs[HLL_REGISTERS];
    const struct kstr *s;

    if (!status_or_reply(&ctx->r, hll_to_dense(&e->val))) {
        return;
    }
    s = e->val.u.s;
    if (!status_or_reply(&ctx->r, hll_registers(s->data, s->len, regs))) {
        return;
    }
    reply_array(&ctx->r, HLL_REGISTERS);
    for (int j = 0; j < HLL_REGISTERS; j++) {
        reply_int(&ctx->r, regs[j]);
    }
}

static void pfdebug_decode(struct cmd_ctx *ctx, const struct kstr *s)
{
    size_t len;
    char *text;

    if (hll_encoding_of(s->data) != HLL_SPARSE) {
        reply_error(&ctx->r, "ERR HLL encoding is not sparse");
        return;
    }
    text = hll_decode(s->data, s->len, &len);
    if (!text) {
        reply_error(&ctx->r, OOM_MSG);
        return;
    }
    reply_bulk(&ctx->r, text, len);
    sh_free(text);
}

/* PFDEBUG GETREG|DECODE|ENCODING|TODENSE key (arity 3: never more) */
static void cmd_pfdebug(struct cmd_ctx *ctx)
{
    struct sh_slice sub = ctx->argv[1];
    struct kentry *e = cmd_lookup(ctx, 2);

    if (!e) {
        reply_error(&ctx->r, "ERR The specified key does not exist");
        return;
    }
    if (!hll_or_reply(&ctx->r, kind_of(e))) {
        return;
    }
    if (sh_slice_eq_nocase(sub, "getreg")) {
        pfdebug_getreg(ctx, e);
    } else if (sh_slice_eq_nocase(sub, "decode")) {
        pfdebug_decode(ctx, e->val.u.s);
    } else if (sh_slice_eq_nocase(sub, "encoding")) {
        reply_status(&ctx->r, hll_encoding_of(e->val.u.s->data) == HLL_DENSE ? "dense" : "sparse");
    } else if (sh_slice_eq_nocase(sub, "todense")) {
        int rc = hll_to_dense(&e->val);

        if (status_or_reply(&ctx->r, rc)) {
            reply_int(&ctx->r, rc);
        }
    } else {
        /* Redis formats the C string: it ends at a NUL byte */
        reply_errorf(&ctx->r, "ERR Unknown PFDEBUG subcommand '%.*s'",
                     (int)strnlen(sub.ptr, sub.len), sub.ptr);
    }
}

static void cmd_pfselftest(struct cmd_ctx *ctx)
{
    char err[128];

    if (hll_selftest(shard_rand(ctx->shard), sparse_max(ctx), err, sizeof(err)) != 0) {
        reply_error(&ctx->r, err);
    } else {
        reply_ok(&ctx->r);
    }
}

/* ---- internal commands of the cross-shard forms (gathers below) ---- */

/* __pfdump k1 k2 ... -> *n of (nil | :1 | :2 | $bytes) */
static void cmd_pfdump_internal(struct cmd_ctx *ctx)
{
    reply_array(&ctx->r, ctx->argc - 1);
    for (int i = 1; i < ctx->argc; i++) {
        struct kentry *e = cmd_lookup(ctx, i);
        enum hll_kind k = kind_of(e);

        cmd_count_lookup(ctx, e != NULL);
        if (k == HLL_KIND_OK) {
            reply_bulk(&ctx->r, e->val.u.s->data, e->val.u.s->len);
        } else if (k == HLL_KIND_ABSENT) {
            reply_null(&ctx->r);
        } else {
            reply_int(&ctx->r, k);
        }
    }
}

/* __pfstore dst regs dense -> +OK */
static void cmd_pfstore_internal(struct cmd_ctx *ctx)
{
    if (ctx->argv[2].len != HLL_REGISTERS) {
        reply_error(&ctx->r, "ERR internal error: bad __pfstore registers");
        return;
    }
    pfmerge_write(ctx, 1, (const uint8_t *)ctx->argv[2].ptr, sh_slice_eq_nocase(ctx->argv[3], "1"));
    route_touch(ctx->shard, ctx->dbid, ctx->argv[1]); /* internal: no command path */
}

static const struct cmd_spec pfdump_spec = {
    .name = "__pfdump",
    .fullname = "__pfdump",
    .arity = -2,
    .proc = cmd_pfdump_internal,
};

static const struct cmd_spec pfstore_spec = {
    .name = "__pfstore",
    .fullname = "__pfstore",
    .arity = 4,
    .proc = cmd_pfstore_internal,
};

/* ---- gathers: PFCOUNT of several keys and PFMERGE across shards ---- */

/*
 *   stage 0  __pfdump <its keys>  at each owner, all at once; the client's
 *            core merges the registers in argument order; PFCOUNT replies
 *   stage 1  (PFMERGE) __pfstore dst regs dense at dst's owner; its +OK
 *            (or error) is the reply
 */

static void pf_gather_start(struct coord *c)
{
    struct sh_slice *sub = sh_malloc(sizeof(*sub) * (size_t)c->argc);

    if (!c->owner) {
        c->owner = sh_malloc(sizeof(*c->owner) * (size_t)c->argc);
    }
    c->owner[0] = -1;
    for (int i = 1; i < c->argc; i++) {
        c->owner[i] = coord_key_owner(c, c->argv[i]);
    }
    for (int s = 0; s < c->nshards; s++) {
        int k = 0;

        sub[k++] = (struct sh_slice){ pfdump_spec.name, strlen(pfdump_spec.name) };
        for (int i = 1; i < c->argc; i++) {
            if (c->owner[i] == s) {
                sub[k++] = c->argv[i];
            }
        }
        if (k > 1) {
            coord_send(c, s, &pfdump_spec, c->dbid, k, sub);
        }
    }
    sh_free(sub);
}

/* Reads the next __pfdump element of shard o's part: its kind, and the
 * bytes when it is an HLL. False when the part is malformed. */
static bool read_elem(const struct coord *c, int o, size_t *pos, enum hll_kind *k,
                      struct sh_slice *bytes)
{
    struct sh_slice p = coord_part(c, o);
    long long v;

    if (*pos < p.len && p.ptr[*pos] == ':') {
        if (!coord_read_header(p, pos, ':', &v) ||
            (v != HLL_KIND_NOT_STRING && v != HLL_KIND_NOT_HLL && v != HLL_KIND_NOMEM)) {
            return false;
        }
        *k = (enum hll_kind)v;
        return true;
    }
    if (!coord_read_bulk(p, pos, bytes)) {
        return false;
    }
    *k = bytes->ptr ? HLL_KIND_OK : HLL_KIND_ABSENT;
    return !bytes->ptr || hll_is_valid(bytes->ptr, bytes->len);
}

/* Merges every key's registers, in argument order; false after replying
 * an error. */
static bool gather_regs(struct coord *c, struct reply *r, uint8_t *regs, bool *dense)
{
    size_t *pos = coord_part_cursors(c);
    bool ok = pos != NULL;

    for (int i = 1; i < c->argc && ok; i++) {
        enum hll_kind k;
        struct sh_slice b;

        if (!read_elem(c, c->owner[i], &pos[c->owner[i]], &k, &b)) {
            reply_error(r, "ERR internal error: bad __pfdump reply");
            ok = false;
        } else if (k != HLL_KIND_OK) {
            ok = hll_or_reply(r, k);
        } else {
            *dense |= hll_encoding_of(b.ptr) == HLL_DENSE;
            ok = status_or_reply(r, hll_merge(regs, b.ptr, b.len));
        }
    }
    sh_free(pos);
    return ok;
}

static bool pf_gather_done(struct coord *c, struct reply *r)
{
    uint8_t regs[HLL_REGISTERS] = { 0 };
    bool dense = false, merge = !strcmp(c->cmd->name, "pfmerge");
    struct sh_slice e = coord_first_error(c);

    if (c->stage == 1) {
        struct sh_slice p = coord_part(c, coord_key_owner(c, c->argv[1]));

        if (p.len && (p.ptr[0] == '+' || p.ptr[0] == '-')) {
            reply_raw(r, p.ptr, p.len);
        } else {
            reply_error(r, "ERR internal error: no __pfstore reply");
        }
        return true;
    }
    if (e.len) {
        reply_raw(r, e.ptr, e.len);
        return true;
    }
    if (!gather_regs(c, r, regs, &dense)) {
        return true;
    }
    if (!merge) {
        reply_int(r, (long long)hll_count_registers(regs));
        return true;
    }
    struct sh_slice argv[4] = {
        { pfstore_spec.name, strlen(pfstore_spec.name) },
        c->argv[1],
        { (const char *)regs, sizeof(regs) },
        { dense ? "1" : "0", 1 },
    };
    coord_send(c, coord_key_owner(c, c->argv[1]), &pfstore_spec, c->dbid, 4, argv);
    return false;
}

/* PFCOUNT: one stage */
static const struct gather gather_pfcount = { .start = pf_gather_start, .done = pf_gather_done };
/* PFMERGE: two stages */
static const struct gather gather_pfmerge = { .start = pf_gather_start,
                                              .done = pf_gather_done,
                                              .barrier = true };

void cmd_hll_bind(void)
{
    cmd_must_bind("pfadd", cmd_pfadd, CMD_ROUTE_KEY, NULL);
    cmd_must_bind("pfdebug", cmd_pfdebug, CMD_ROUTE_KEY, NULL);
    cmd_must_bind("pfcount", cmd_pfcount, CMD_ROUTE_MULTI, &gather_pfcount);
    cmd_must_bind("pfmerge", cmd_pfmerge, CMD_ROUTE_MULTI, &gather_pfmerge);
    cmd_must_bind("pfselftest", cmd_pfselftest, CMD_ROUTE_CONN, NULL);
}
