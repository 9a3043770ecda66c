/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * cmd_bitmap.c: the bitmap command family (SETBIT GETBIT BITCOUNT BITPOS
 * BITOP BITFIELD BITFIELD_RO) over string values, with Redis 7.0's
 * semantics, replies and error wording (bitops.c); the bit arithmetic is in
 * shards/bitops.c.
 *
 * Values: a string's bytes are its bitmap, bit 0 the most significant bit of
 * byte 0. Readers see an integer-encoded string as its decimal digits (GETBIT
 * of "123" reads the bytes '1' '2' '3'); a bit write (SETBIT, BITFIELD with
 * SET or INCRBY) makes the value a raw string first (kval_make_raw) and pads
 * it with zero bytes up to the highest bit written, as Redis's
 * lookupStringForBitCommand does, even when no bit then changes. Offsets are
 * bounded by proto-max-bulk-len (offset / 8 < the limit, else "bit offset is
 * not an integer or out of range"). BITOP stores a raw string (never an
 * integer encoding, as Redis's createObject), dropping the destination's
 * TTL and old value whatever its type.
 *
 * Argument checks come in Redis 7.0's order, which differs between
 * commands: BITCOUNT looks the key up before it parses its range (a missing
 * key answers 0 whatever follows), BITPOS parses the bit first, BITFIELD
 * parses every subcommand before it looks the key up.
 *
 * Keyspace notifications ('$' class, from the key's owner): "setbit" after
 * a SETBIT that created, grew or changed the string, and once after a
 * BITFIELD whose writes did; BITOP "set" on the destination, or "del" (class
 * 'g') when the result is empty and the destination existed. Read lookups
 * (GETBIT BITCOUNT BITPOS, read-only BITFIELD, BITOP's sources) count
 * keyspace hits and misses.
 *
 * BITOP across shards (the transaction scheduler locks its keys, so it is
 * atomic): a gather at the bottom of this file reads every source from its
 * owner and writes the destination on its owner:
 *
 *   stage 0  __bdump k1 k2 ...  at each owner of sources: *n of ($bytes |
 *            nil), or -WRONGTYPE; the client's core computes the result
 *   stage 1  __bstore dst bytes at dst's owner: replaces dst ("" deletes
 *            it), publishes "set" or "del"; the reply is the result length
 *
 * Threading: handlers run on the owner's core; the gather on the client's.
 */
#include "shardis/bitops.h"
#include "shardis/cmd.h"
#include "shardis/cmd_bind.h"
#include "shardis/cmdtab.h"
#include "shardis/config.h"
#include "shardis/kdb.h"
#include "shardis/kval.h"
#include "shardis/pubsub.h"
#include "shardis/reply.h"
#include "shardis/route.h"
#include "shardis/shard.h"
#include "shardis/util.h"

#include <string.h>

#define OOM_MSG       "OOM command not allowed when used memory > 'maxmemory'."
#define ERR_OFFSET    "ERR bit offset is not an integer or out of range"
#define ERR_BIT_VALUE "ERR bit is not an integer or out of range"
#define ERR_BIT_ARG   "ERR The bit argument must be 1 or 0."
#define ERR_BF_TYPE                                                                                \
    "ERR Invalid bitfield type. Use something like i16 u8. Note that u64 is not supported but "    \
    "i64 is."
#define ERR_BF_OVERFLOW "ERR Invalid OVERFLOW type specified"
#define ERR_BF_RO       "ERR BITFIELD_RO only supports the GET subcommand"
#define ERR_BITOP_NOT   "ERR BITOP NOT must be called with a single source key."
#define ERR_SYNTAX      "ERR syntax error"
#define LL_BUF          24 /* a long long's digits */

/* ---- helpers ---- */

static void reply_oom(struct reply *r)
{
    reply_error(r, OOM_MSG);
}

static void notify_key(struct cmd_ctx *ctx, int i, int type, const char *event)
{
    pubsub_notify(ctx->shard, type, event, ctx->argv[i].ptr, ctx->argv[i].len, ctx->dbid);
}

/* Redis's getBitOffsetFromArgument: a bit offset, or with bits > 0 also
 * "#N" (the N-th field of that width: N * bits, multiplied as Redis's
 * wrapping long long does). Replies the error and returns false. */
static bool parse_offset(struct cmd_ctx *ctx, struct sh_slice a, unsigned bits, uint64_t *out)
{
    size_t hash = bits > 0 && a.len > 0 && a.ptr[0] == '#';
    long long v;

    if (!util_str2ll(a.ptr + hash, a.len - hash, &v)) {
        goto out_bad;
    }
    if (hash) {
        v = (long long)((unsigned long long)v * bits);
    }
    if (v < 0 || (v >> 3) >= ctx->shard->cfg.proto_max_bulk_len) {
        goto out_bad;
    }
    *out = (uint64_t)v;
    return true;
out_bad:
    reply_error(&ctx->r, ERR_OFFSET);
    return false;
}

/* The live entry of key argv[i] for a read, counted as a hit or miss; NULL
 * when absent, or (*bad, after replying WRONGTYPE) not a string. */
static struct kentry *lookup_read(struct cmd_ctx *ctx, int i, bool *bad)
{
    struct kentry *e = cmd_lookup(ctx, i);

    cmd_count_lookup(ctx, e != NULL);
    *bad = e && e->val.type != KVAL_STRING;
    if (*bad) {
        reply_err_wrongtype(&ctx->r);
        return NULL;
    }
    return e;
}

/* Redis's lookupStringForBitCommand: the raw string of key argv[1], created
 * or zero-padded so that bit maxbit exists. *grew: the key is new or its
 * string got longer. NULL after replying WRONGTYPE or OOM (a key created
 * here is removed again). */
static struct kstr *string_for_write(struct cmd_ctx *ctx, uint64_t maxbit, bool *grew)
{
    struct kentry *e = cmd_lookup(ctx, 1);
    size_t need = (size_t)(maxbit >> 3) + 1;
    bool added = false;
    struct kstr *s;

    if (e && e->val.type != KVAL_STRING) {
        reply_err_wrongtype(&ctx->r);
        return NULL;
    }
    if (!e) {
        e = kdb_add(ctx->db, ctx->argv[1].ptr, ctx->argv[1].len, cmd_key_hash(ctx, 1));
        added = true;
    }
    s = kval_make_raw(&e->val, need);
    if (!s) {
        if (added) {
            kdb_delete(ctx->db, e);
        }
        reply_oom(&ctx->r);
        return NULL;
    }
    *grew = added || s->len < need;
    if (s->len < need) {
        memset(s->data + s->len, 0, need - s->len);
        s->len = need;
    }
    return s;
}

/* ---- SETBIT GETBIT ---- */

/* SETBIT key offset 0|1: replies the bit's old value. */
static void cmd_setbit(struct cmd_ctx *ctx)
{
    uint64_t off;
    long long on;
    struct kstr *s;
    bool grew;
    unsigned shift, old;
    uint8_t *b;

    if (!parse_offset(ctx, ctx->argv[2], 0, &off)) {
        return;
    }
    if (!util_str2ll(ctx->argv[3].ptr, ctx->argv[3].len, &on) || (on & ~1LL)) {
        reply_error(&ctx->r, ERR_BIT_VALUE);
        return;
    }
    s = string_for_write(ctx, off, &grew);
    if (!s) {
        return;
    }
    b = (uint8_t *)&s->data[off >> 3];
    shift = 7 - (unsigned)(off & 7);
    old = (*b >> shift) & 1;
    if (grew || old != (unsigned)on) {
        *b = (uint8_t)((*b & ~(1u << shift)) | ((unsigned)on << shift));
        notify_key(ctx, 1, NOTIFY_STRING, "setbit");
    } else {
        ctx->unchanged = true; /* as Redis: no WATCH mark, no save-point change */
    }
    reply_int(&ctx->r, old);
}

/* GETBIT key offset: 0 past the end of the string or for a missing key. */
static void cmd_getbit(struct cmd_ctx *ctx)
{
    char buf[LL_BUF];
    struct kentry *e;
    const char *p;
    uint64_t off;
    bool bad;
    size_t len;

    if (!parse_offset(ctx, ctx->argv[2], 0, &off)) {
        return;
    }
    e = lookup_read(ctx, 1, &bad);
    if (bad) {
        return;
    }
    if (!e) {
        reply_int(&ctx->r, 0);
        return;
    }
    p = kval_string(&e->val, buf, &len);
    reply_int(&ctx->r, (off >> 3) < len ? ((uint8_t)p[off >> 3] >> (7 - (off & 7))) & 1 : 0);
}

/* ---- BITCOUNT BITPOS ---- */

/* BIT or BYTE at argv[i] (*isbit), or replies the syntax error. */
static bool parse_unit(struct cmd_ctx *ctx, int i, bool *isbit)
{
    if (sh_slice_eq_nocase(ctx->argv[i], "bit")) {
        *isbit = true;
    } else if (sh_slice_eq_nocase(ctx->argv[i], "byte")) {
        *isbit = false;
    } else {
        reply_err_syntax(&ctx->r);
        return false;
    }
    return true;
}

static bool arg_ll(struct cmd_ctx *ctx, int i, long long *out)
{
    if (!util_str2ll(ctx->argv[i].ptr, ctx->argv[i].len, out)) {
        reply_err_notint(&ctx->r);
        return false;
    }
    return true;
}

/* BITCOUNT key [start end [BYTE|BIT]]: Redis 7.0 looks the key up first, so
 * a missing key answers 0 before its arguments are read. */
static void cmd_bitcount(struct cmd_ctx *ctx)
{
    long long start = 0, end = -1;
    bool bad, isbit = false;
    char buf[LL_BUF];
    struct kentry *e;
    const char *p;
    size_t len;

    e = lookup_read(ctx, 1, &bad);
    if (!e) {
        if (!bad) {
            reply_int(&ctx->r, 0);
        }
        return;
    }
    p = kval_string(&e->val, buf, &len);
    if (ctx->argc == 4 || ctx->argc == 5) {
        if (!arg_ll(ctx, 2, &start) || !arg_ll(ctx, 3, &end)) {
            return;
        }
        if (start < 0 && end < 0 && start > end) {
            reply_int(&ctx->r, 0);
            return;
        }
        if (ctx->argc == 5 && !parse_unit(ctx, 4, &isbit)) {
            return;
        }
    } else if (ctx->argc != 2) {
        reply_err_syntax(&ctx->r);
        return;
    }
    reply_int(&ctx->r, bitops_count(p, len, start, end, isbit));
}

/* BITPOS key bit [start [end [BYTE|BIT]]] */
static void cmd_bitpos(struct cmd_ctx *ctx)
{
    long long bit, start = 0, end = 0;
    bool bad, isbit = false, end_given = false;
    char buf[LL_BUF];
    struct kentry *e;
    const char *p;
    size_t len;

    if (!arg_ll(ctx, 2, &bit)) {
        return;
    }
    if (bit != 0 && bit != 1) {
        reply_error(&ctx->r, ERR_BIT_ARG);
        return;
    }
    e = lookup_read(ctx, 1, &bad);
    if (!e) {
        if (!bad) {
            reply_int(&ctx->r, bit ? -1 : 0);
        }
        return;
    }
    p = kval_string(&e->val, buf, &len);
    if (ctx->argc >= 4 && ctx->argc <= 6) {
        if (!arg_ll(ctx, 3, &start) || (ctx->argc == 6 && !parse_unit(ctx, 5, &isbit))) {
            return;
        }
        if (ctx->argc >= 5) {
            if (!arg_ll(ctx, 4, &end)) {
                return;
            }
            end_given = true;
        }
    } else if (ctx->argc != 3) {
        reply_err_syntax(&ctx->r);
        return;
    }
    reply_int(&ctx->r, bitops_pos(p, len, (int)bit, start, end, end_given, isbit));
}

/* ---- BITFIELD BITFIELD_RO ---- */

enum { BF_GET, BF_SET, BF_INCRBY };

struct bf_op {
    int code; /* BF_* */
    struct bitops_field f;
    long long v; /* SET's value, INCRBY's increment */
    enum bitops_overflow ow;
};

/* Redis's getBitfieldTypeFromArgument: i1..i64 or u1..u63. */
static bool parse_type(struct cmd_ctx *ctx, struct sh_slice a, struct bitops_field *f)
{
    long long bits;

    if (a.len == 0 || (a.ptr[0] != 'i' && a.ptr[0] != 'u')) {
        goto out_bad;
    }
    f->sign = a.ptr[0] == 'i';
    if (!util_str2ll(a.ptr + 1, a.len - 1, &bits) || bits < 1 || bits > (f->sign ? 64 : 63)) {
        goto out_bad;
    }
    f->bits = (unsigned)bits;
    return true;
out_bad:
    reply_error(&ctx->r, ERR_BF_TYPE);
    return false;
}

/* The OVERFLOW mode named by a, or replies the error. */
static bool parse_overflow(struct cmd_ctx *ctx, struct sh_slice a, enum bitops_overflow *ow)
{
    if (sh_slice_eq_nocase(a, "wrap")) {
        *ow = BITOPS_WRAP;
    } else if (sh_slice_eq_nocase(a, "sat")) {
        *ow = BITOPS_SAT;
    } else if (sh_slice_eq_nocase(a, "fail")) {
        *ow = BITOPS_FAIL;
    } else {
        reply_error(&ctx->r, ERR_BF_OVERFLOW);
        return false;
    }
    return true;
}

/* The subcommand at argv[*j], moving *j past it: 1 an operation (*op), 0 an
 * OVERFLOW (which sets *ow), -1 after replying an error. */
static int parse_bf(struct cmd_ctx *ctx, int *j, enum bitops_overflow *ow, struct bf_op *op)
{
    const struct sh_slice *a = &ctx->argv[*j];
    int rem = ctx->argc - *j - 1;

    if (sh_slice_eq_nocase(a[0], "get") && rem >= 2) {
        op->code = BF_GET;
    } else if (sh_slice_eq_nocase(a[0], "set") && rem >= 3) {
        op->code = BF_SET;
    } else if (sh_slice_eq_nocase(a[0], "incrby") && rem >= 3) {
        op->code = BF_INCRBY;
    } else if (sh_slice_eq_nocase(a[0], "overflow") && rem >= 1) {
        *j += 2;
        return parse_overflow(ctx, a[1], ow) ? 0 : -1;
    } else {
        reply_err_syntax(&ctx->r);
        return -1;
    }
    if (!parse_type(ctx, a[1], &op->f) || !parse_offset(ctx, a[2], op->f.bits, &op->f.offset)) {
        return -1;
    }
    op->v = 0;
    if (op->code != BF_GET && !util_str2ll(a[3].ptr, a[3].len, &op->v)) {
        reply_err_notint(&ctx->r);
        return -1;
    }
    op->ow = *ow;
    *j += op->code == BF_GET ? 3 : 4;
    return 1;
}

/* Checks every subcommand (replying the first error); *readonly when all
 * are GETs, *maxbit the highest bit a write reaches. */
static bool check_bf(struct cmd_ctx *ctx, bool *readonly, uint64_t *maxbit)
{
    enum bitops_overflow ow = BITOPS_WRAP;
    struct bf_op op;
    int rc;

    *readonly = true;
    *maxbit = 0;
    for (int j = 2; j < ctx->argc;) {
        rc = parse_bf(ctx, &j, &ow, &op);
        if (rc < 0) {
            return false;
        }
        if (rc > 0 && op.code != BF_GET) {
            *readonly = false;
            if (*maxbit < op.f.offset + op.f.bits - 1) {
                *maxbit = op.f.offset + op.f.bits - 1;
            }
        }
    }
    return true;
}

/* Runs the (checked) subcommands over p[0..len), writable as s when s is
 * not NULL; replies one element each. Returns how many writes changed
 * bits (any write counts when grew). */
static int run_bf(struct cmd_ctx *ctx, const uint8_t *p, size_t len, struct kstr *s, bool grew)
{
    enum bitops_overflow ow = BITOPS_WRAP;
    int changes = 0;
    struct bf_op op;
    int64_t v;
    bool changed;

    for (int j = 2; j < ctx->argc;) {
        if (parse_bf(ctx, &j, &ow, &op) <= 0) {
            continue;
        }
        if (op.code == BF_GET) {
            reply_int(&ctx->r, bitops_field_get(p, len, &op.f));
        } else if (!bitops_field_write((uint8_t *)s->data, &op.f, op.code == BF_INCRBY, op.v, op.ow,
                                       &v, &changed)) {
            reply_null(&ctx->r);
        } else {
            reply_int(&ctx->r, v);
            changes += grew || changed;
        }
    }
    return changes;
}

/* Counts the subcommands that reply (every one but OVERFLOW); checked. */
static int count_bf(struct cmd_ctx *ctx)
{
    enum bitops_overflow ow = BITOPS_WRAP;
    struct bf_op op;
    int n = 0;

    for (int j = 2; j < ctx->argc;) {
        n += parse_bf(ctx, &j, &ow, &op) > 0;
    }
    return n;
}

/* Redis's bitfieldGeneric: every subcommand is checked before the key is
 * looked up; only GETs: a read (a missing key reads as zeros), else the
 * string is grown to the highest bit written first. */
static void bitfield_generic(struct cmd_ctx *ctx, bool ro)
{
    bool readonly, bad, grew = false;
    char buf[LL_BUF];
    struct kentry *e;
    struct kstr *s = NULL;
    const char *p = NULL;
    uint64_t maxbit;
    size_t len = 0;

    if (!check_bf(ctx, &readonly, &maxbit)) {
        return;
    }
    if (readonly) {
        e = lookup_read(ctx, 1, &bad);
        if (bad) {
            return;
        }
        if (e) {
            p = kval_string(&e->val, buf, &len);
        }
    } else {
        if (ro) {
            reply_error(&ctx->r, ERR_BF_RO);
            return;
        }
        s = string_for_write(ctx, maxbit, &grew);
        if (!s) {
            return;
        }
        p = s->data;
        len = s->len;
    }
    reply_array(&ctx->r, count_bf(ctx));
    if (run_bf(ctx, (const uint8_t *)p, len, s, grew) > 0) {
        notify_key(ctx, 1, NOTIFY_STRING, "setbit");
    } else {
        ctx->unchanged = true; /* only GETs, or every write failed: a read */
    }
}

static void cmd_bitfield(struct cmd_ctx *ctx)
{
    bitfield_generic(ctx, false);
}

static void cmd_bitfield_ro(struct cmd_ctx *ctx)
{
    bitfield_generic(ctx, true);
}

/* ---- BITOP ---- */

/* BITOP's operation argv[1] (and NOT's single source); the error to reply,
 * or NULL. */
static const char *parse_bitop(int argc, const struct sh_slice *argv, enum bitops_op *op)
{
    static const struct {
        const char *name;
        enum bitops_op op;
    } ops[] = {
        { "and", BITOPS_AND },
        { "or", BITOPS_OR },
        { "xor", BITOPS_XOR },
        { "not", BITOPS_NOT },
    };

    for (size_t i = 0; i < SH_ARRAY_LEN(ops); i++) {
        if (sh_slice_eq_nocase(argv[1], ops[i].name)) {
            *op = ops[i].op;
            return *op == BITOPS_NOT && argc != 4 ? ERR_BITOP_NOT : NULL;
        }
    }
    return ERR_SYNTAX;
}

/* The sources of a BITOP: n strings, each zero-padded to the longest. */
struct bitop_srcs {
    size_t n, maxlen;
    const uint8_t **p;
    size_t *len;
    char (*digits)[LL_BUF]; /* integer-encoded sources, spelled out */
};

static void srcs_init(struct bitop_srcs *b, size_t n)
{
    b->n = n;
    b->maxlen = 0;
    b->p = sh_calloc(n, sizeof(*b->p));
    b->len = sh_calloc(n, sizeof(*b->len));
    b->digits = NULL;
}

static void srcs_fini(struct bitop_srcs *b)
{
    sh_free(b->p);
    sh_free(b->len);
    sh_free(b->digits);
}

static void srcs_set(struct bitop_srcs *b, size_t i, const char *p, size_t len)
{
    b->p[i] = (const uint8_t *)p;
    b->len[i] = len;
    if (len > b->maxlen) {
        b->maxlen = len;
    }
}

/* The result as a raw string value (KVAL_NONE when empty); false when out
 * of memory. */
static bool srcs_compute(const struct bitop_srcs *b, enum bitops_op op, struct kval *res)
{
    struct kstr *s;

    memset(res, 0, sizeof(*res));
    if (b->maxlen == 0) {
        return true;
    }
    s = kval_make_raw(res, b->maxlen);
    if (!s) {
        return false;
    }
    bitops_op(op, (uint8_t *)s->data, b->maxlen, b->p, b->len, b->n);
    s->len = b->maxlen;
    return true;
}

/* Replaces key argv[i] by res (taken; KVAL_NONE deletes the key) as Redis's
 * setKey: any old value and TTL go; publishes "set" or "del". */
static void store_result(struct cmd_ctx *ctx, int i, struct kval *res)
{
    struct kentry *e = cmd_lookup(ctx, i);

    if (res->type == KVAL_NONE) {
        if (e) {
            kdb_delete(ctx->db, e);
            notify_key(ctx, i, NOTIFY_GENERIC, "del");
            route_touch(ctx->shard, ctx->dbid, ctx->argv[i]);
        } else {
            ctx->unchanged = true; /* nothing to delete: no change */
        }
        return;
    }
    route_touch(ctx->shard, ctx->dbid, ctx->argv[i]); /* __bstore has no command path */
    if (e) {
        kval_clear(&e->val);
        if (kentry_has_ttl(e)) {
            kdb_set_expire(ctx->db, e, -1);
        }
    } else {
        e = kdb_add(ctx->db, ctx->argv[i].ptr, ctx->argv[i].len, cmd_key_hash(ctx, i));
    }
    res->lru = e->val.lru;
    kentry_set_val(e, *res);
    notify_key(ctx, i, NOTIFY_STRING, "set");
}

/* Looks up the sources argv[first..first + b->n) into b; false after
 * replying WRONGTYPE. */
static bool lookup_sources(struct cmd_ctx *ctx, int first, struct bitop_srcs *b)
{
    b->digits = sh_malloc(b->n * sizeof(*b->digits));
    for (size_t i = 0; i < b->n; i++) {
        bool bad;
        struct kentry *e = lookup_read(ctx, first + (int)i, &bad);
        const char *p;
        size_t len;

        if (bad) {
            return false;
        }
        if (e) {
            p = kval_string(&e->val, b->digits[i], &len);
            srcs_set(b, i, p, len);
        }
    }
    return true;
}

/* BITOP AND|OR|XOR|NOT destkey key [key ...]: replies the result's length. */
static void cmd_bitop(struct cmd_ctx *ctx)
{
    struct bitop_srcs b;
    enum bitops_op op;
    struct kval res;
    const char *err = parse_bitop(ctx->argc, ctx->argv, &op);

    if (err) {
        reply_error(&ctx->r, err);
        return;
    }
    srcs_init(&b, (size_t)ctx->argc - 3);
    if (!lookup_sources(ctx, 3, &b)) {
        goto out_fini;
    }
    if (!srcs_compute(&b, op, &res)) {
        reply_oom(&ctx->r);
        goto out_fini;
    }
    store_result(ctx, 2, &res);
    reply_int(&ctx->r, (long long)b.maxlen);
out_fini:
    srcs_fini(&b);
}

/* ---- internal commands of BITOP across shards (gather below) ---- */

/* __bdump k1 k2 ... -> *n of ($bytes | nil), or -WRONGTYPE */
static void cmd_bdump_internal(struct cmd_ctx *ctx)
{
    struct bitop_srcs b;

    srcs_init(&b, (size_t)ctx->argc - 1);
    if (lookup_sources(ctx, 1, &b)) {
        reply_array(&ctx->r, (long long)b.n);
        for (size_t i = 0; i < b.n; i++) {
            if (b.p[i]) {
                reply_bulk(&ctx->r, b.p[i], b.len[i]);
            } else {
                reply_null(&ctx->r);
            }
        }
    }
    srcs_fini(&b);
}

/* __bstore dst bytes -> :length ("" deletes dst) */
static void cmd_bstore_internal(struct cmd_ctx *ctx)
{
    const struct sh_slice *v = &ctx->argv[2];
    struct kval res;
    struct kstr *s;

    memset(&res, 0, sizeof(res));
    if (v->len) {
        s = kval_make_raw(&res, v->len);
        if (!s) {
            reply_oom(&ctx->r);
            return;
        }
        memcpy(s->data, v->ptr, v->len);
        s->len = v->len;
    }
    store_result(ctx, 1, &res);
    reply_int(&ctx->r, (long long)v->len);
}

static const struct cmd_spec bdump_spec = {
    .name = "__bdump",
    .fullname = "__bdump",
    .arity = -2,
    .proc = cmd_bdump_internal,
};

static const struct cmd_spec bstore_spec = {
    .name = "__bstore",
    .fullname = "__bstore",
    .arity = 3,
    .proc = cmd_bstore_internal,
};

/* ---- gather: BITOP across shards (client's core) ---- */

/* Stage 0: __bdump of its sources to each owner; nothing when the
 * arguments are wrong (done replies the error). */
static void bitop_start(struct coord *c)
{
    struct sh_slice *sub;
    enum bitops_op op;

    if (parse_bitop(c->argc, c->argv, &op)) {
        return;
    }
    if (!c->owner) {
        c->owner = sh_malloc(sizeof(*c->owner) * (size_t)c->argc);
    }
    for (int i = 0; i < c->argc; i++) {
        c->owner[i] = i >= 3 ? coord_key_owner(c, c->argv[i]) : -1;
    }
    sub = sh_malloc(sizeof(*sub) * (size_t)c->argc);
    for (int s = 0; s < c->nshards; s++) {
        int k = 0;

        sub[k++] = (struct sh_slice){ bdump_spec.name, strlen(bdump_spec.name) };
        for (int i = 3; i < c->argc; i++) {
            if (c->owner[i] == s) {
                sub[k++] = c->argv[i];
            }
        }
        if (k > 1) {
            coord_send(c, s, &bdump_spec, c->dbid, k, sub);
        }
    }
    sh_free(sub);
}

/* Reads the sources back from stage 0's parts, in argument order. */
static bool gather_sources(const struct coord *c, struct bitop_srcs *b)
{
    size_t *pos = coord_part_cursors(c);
    bool ok = pos != NULL;

    for (size_t i = 0; i < b->n && ok; i++) {
        int o = c->owner[3 + i];
        struct sh_slice v;

        ok = coord_read_bulk(coord_part(c, o), &pos[o], &v);
        if (ok && v.ptr) {
            srcs_set(b, i, v.ptr, v.len);
        }
    }
    sh_free(pos);
    return ok;
}

/* Stage 0 is back: computes the result and sends it to dst's owner. */
static bool bitop_compute(struct coord *c, struct reply *r, enum bitops_op op)
{
    struct bitop_srcs b;
    struct sh_slice argv[3];
    bool fin = true;
    char *res = NULL;

    srcs_init(&b, (size_t)c->argc - 3);
    if (!gather_sources(c, &b)) {
        reply_error(r, "ERR internal error: bad __bdump reply");
        goto out_fini;
    }
    if (b.maxlen) {
        res = sh_try_malloc(b.maxlen);
        if (!res) {
            reply_oom(r);
            goto out_fini;
        }
        bitops_op(op, (uint8_t *)res, b.maxlen, b.p, b.len, b.n);
    }
    argv[0] = (struct sh_slice){ bstore_spec.name, strlen(bstore_spec.name) };
    argv[1] = c->argv[2];
    argv[2] = (struct sh_slice){ res ? res : "", b.maxlen };
    coord_send(c, coord_key_owner(c, c->argv[2]), &bstore_spec, c->dbid, 3, argv);
    c->acc = (long long)b.maxlen;
    fin = false;
out_fini:
    sh_free(res);
    srcs_fini(&b);
    return fin;
}

static bool bitop_done(struct coord *c, struct reply *r)
{
    struct sh_slice e = coord_first_error(c);
    enum bitops_op op;
    const char *err;

    if (e.len) {
        reply_raw(r, e.ptr, e.len);
        return true;
    }
    if (c->stage == 1) {
        reply_int(r, c->acc);
        return true;
    }
    err = parse_bitop(c->argc, c->argv, &op);
    if (err) {
        reply_error(r, err);
        return true;
    }
    return bitop_compute(c, r, op);
}

static const struct gather gather_bitop = { .start = bitop_start,
                                            .done = bitop_done,
                                            .barrier = true };

void cmd_bitmap_bind(void)
{
    static const struct {
        const char *name;
        cmd_fn *proc;
    } key_cmds[] = {
        { "setbit", cmd_setbit }, { "getbit", cmd_getbit },     { "bitcount", cmd_bitcount },
        { "bitpos", cmd_bitpos }, { "bitfield", cmd_bitfield }, { "bitfield_ro", cmd_bitfield_ro },
    };

    for (size_t i = 0; i < SH_ARRAY_LEN(key_cmds); i++) {
        cmd_must_bind(key_cmds[i].name, key_cmds[i].proc, CMD_ROUTE_KEY, NULL);
    }
    cmd_must_bind("bitop", cmd_bitop, CMD_ROUTE_MULTI, &gather_bitop);
}
