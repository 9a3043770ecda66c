/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * cmd_lcs.c: LCS key1 key2 [LEN] [IDX] [MINMATCHLEN n] [WITHMATCHLEN], with
 * Redis 7.0's replies, option checks and error wording (t_string.c
 * lcsCommand).
 *
 * Order of checks, as Redis: both keys are looked up first (hits and misses
 * counted), a non-string answers "ERR The specified keys must contain string
 * values", then the options parse (syntax error, MINMATCHLEN's integer),
 * then LEN with IDX is refused. A missing key is the empty string.
 *
 * The table: (alen+1)*(blen+1) uint32 cells, the classic dynamic program;
 * it is transient, bounded by proto-max-bulk-len as Redis bounds it, and
 * allocated with sh_try_malloc (its size comes from the client).
 *
 * Keys on two shards: a gather on the client's core reads both values with
 * __lcsget from their owners (stage 0), then computes the reply there. The
 * scheduler locks both keys, so the two reads are one atomic view.
 *
 * Threading: the handler runs on the keys' owner; the gather on the
 * client's core.
 */
#include "shardis/cmd.h"
#include "shardis/cmd_bind.h"
#include "shardis/cmdtab.h"
#include "shardis/config.h"
#include "shardis/conn.h"
#include "shardis/kdb.h"
#include "shardis/kval.h"
#include "shardis/reply.h"
#include "shardis/route.h"
#include "shardis/shard.h"
#include "shardis/util.h"

#include <stdint.h>
#include <string.h>

#define ERR_NOT_STRING "ERR The specified keys must contain string values"
#define ERR_BOTH       "ERR If you want both the length and indexes, please just use IDX."
#define ERR_TOO_LONG   "ERR String too long for LCS"
#define ERR_MAXBULK    "ERR Insufficient memory, transient memory for LCS exceeds proto-max-bulk-len"
#define ERR_NOMEM      "ERR Insufficient memory, failed allocating transient memory for LCS"
#define LL_BUF         24

struct lcs_opts {
    bool getlen, getidx, withmatchlen;
    long long minmatchlen;
};

/* Parses argv[3..]: false after writing the error to r. */
static bool lcs_parse(int argc, const struct sh_slice *argv, struct lcs_opts *o, struct reply *r)
{
    memset(o, 0, sizeof(*o));
    for (int j = 3; j < argc; j++) {
        int more = argc - 1 - j;

        if (sh_slice_eq_nocase(argv[j], "IDX")) {
            o->getidx = true;
        } else if (sh_slice_eq_nocase(argv[j], "LEN")) {
            o->getlen = true;
        } else if (sh_slice_eq_nocase(argv[j], "WITHMATCHLEN")) {
            o->withmatchlen = true;
        } else if (sh_slice_eq_nocase(argv[j], "MINMATCHLEN") && more) {
            if (!util_str2ll(argv[j + 1].ptr, argv[j + 1].len, &o->minmatchlen)) {
                reply_err_notint(r);
                return false;
            }
            if (o->minmatchlen < 0) {
                o->minmatchlen = 0;
            }
            j++;
        } else {
            reply_err_syntax(r);
            return false;
        }
    }
    if (o->getidx && o->getlen) {
        reply_error(r, ERR_BOTH);
        return false;
    }
    return true;
}

/* One IDX range: [a0, a1] in a, [b0, b1] in b. */
static void reply_range(struct reply *r, const struct lcs_opts *o, uint32_t a0, uint32_t a1,
                        uint32_t b0, uint32_t b1)
{
    reply_array(r, 2 + o->withmatchlen);
    reply_array(r, 2);
    reply_int(r, a0);
    reply_int(r, a1);
    reply_array(r, 2);
    reply_int(r, b0);
    reply_int(r, b1);
    if (o->withmatchlen) {
        reply_int(r, (long long)a1 - a0 + 1);
    }
}

/* Walks the table back from (alen, blen) as Redis does: fills res (the LCS
 * string, when not NULL) and emits the IDX ranges when idx. Returns the
 * number of ranges emitted. */
static long long lcs_walk(const uint32_t *lcs, const char *a, uint32_t alen, const char *b,
                          uint32_t blen, char *res, const struct lcs_opts *o, struct reply *r)
{
#define LCS(A, B) lcs[(size_t)(B) + (size_t)(A) * ((size_t)blen + 1)]
    uint32_t idx = LCS(alen, blen), i = alen, j = blen;
    uint32_t as = alen, ae = 0, bs = 0, be = 0; /* as == alen: no range open */
    long long n = 0;

    while (i > 0 && j > 0) {
        bool emit = false;

        if (a[i - 1] == b[j - 1]) {
            res[idx - 1] = a[i - 1];
            if (as == alen) {
                as = ae = i - 1;
                bs = be = j - 1;
            } else if (as == i && bs == j) {
                as--;
                bs--;
            } else {
                emit = true;
            }
            emit |= as == 0 || bs == 0;
            idx--;
            i--;
            j--;
        } else {
            if (LCS(i - 1, j) > LCS(i, j - 1)) {
                i--;
            } else {
                j--;
            }
            emit = as != alen;
        }
        if (emit) {
            uint32_t mlen = ae - as + 1;

            if (o->getidx && (o->minmatchlen == 0 || mlen >= o->minmatchlen)) {
                reply_range(r, o, as, ae, bs, be);
                n++;
            }
            as = alen;
        }
    }
    return n;
#undef LCS
}

/* Computes and writes the reply over the two strings. */
static void lcs_compute(const char *a, size_t alen_z, const char *b, size_t blen_z,
                        const struct lcs_opts *o, long long max_bulk, struct reply *r)
{
    uint32_t alen, blen, *lcs;
    unsigned long long size, bytes;
    char *res = NULL;
    size_t at = 0;
    long long n = 0;

    if (alen_z >= UINT32_MAX - 1 || blen_z >= UINT32_MAX - 1) {
        reply_error(r, ERR_TOO_LONG);
        return;
    }
    alen = (uint32_t)alen_z;
    blen = (uint32_t)blen_z;
    size = (unsigned long long)(alen + 1ULL) * (blen + 1ULL);
    bytes = size * sizeof(uint32_t);
    if (bytes > (unsigned long long)max_bulk) {
        reply_error(r, ERR_MAXBULK);
        return;
    }
    lcs = sh_try_malloc((size_t)bytes);
    if (!lcs) {
        reply_error(r, ERR_NOMEM);
        return;
    }
    for (size_t i = 0; i <= alen; i++) {
        uint32_t *row = lcs + i * ((size_t)blen + 1);
        const uint32_t *up = i ? row - (blen + 1) : row;

        for (size_t j = 0; j <= blen; j++) {
            if (i == 0 || j == 0) {
                row[j] = 0;
            } else if (a[i - 1] == b[j - 1]) {
                row[j] = up[j - 1] + 1;
            } else {
                row[j] = up[j] > row[j - 1] ? up[j] : row[j - 1];
            }
        }
    }
    uint32_t total = lcs[size - 1];

    if (o->getlen) {
        reply_int(r, total);
        goto out_free;
    }
    res = sh_try_malloc(total ? total : 1);
    if (!res) {
        reply_error(r, ERR_NOMEM);
        goto out_free;
    }
    if (o->getidx) {
        reply_map(r, 2);
        reply_bulk_cstr(r, "matches");
        at = reply_array_begin(r);
    }
    n = lcs_walk(lcs, a, alen, b, blen, res, o, r);
    if (o->getidx) {
        reply_array_end(r, at, n);
        reply_bulk_cstr(r, "len");
        reply_int(r, total);
    } else {
        reply_bulk(r, res, total);
    }
    sh_free(res);
out_free:
    sh_free(lcs);
}

/* The string of key argv[i] (digits of an integer in buf; "" when absent);
 * false when it is not a string. */
static bool lcs_lookup(struct cmd_ctx *ctx, int i, char *buf, struct sh_slice *out)
{
    struct kentry *e = cmd_lookup(ctx, i);

    cmd_count_lookup(ctx, e != NULL);
    *out = (struct sh_slice){ "", 0 };
    if (!e) {
        return true;
    }
    if (e->val.type != KVAL_STRING) {
        return false;
    }
    out->ptr = kval_string(&e->val, buf, &out->len);
    return true;
}

static void cmd_lcs(struct cmd_ctx *ctx)
{
    char abuf[LL_BUF], bbuf[LL_BUF];
    struct sh_slice a, b;
    struct lcs_opts o;
    bool aok = lcs_lookup(ctx, 1, abuf, &a);
    bool bok = lcs_lookup(ctx, 2, bbuf, &b);

    if (!aok || !bok) {
        reply_error(&ctx->r, ERR_NOT_STRING);
        return;
    }
    if (!lcs_parse(ctx->argc, ctx->argv, &o, &ctx->r)) {
        return;
    }
    lcs_compute(a.ptr, a.len, b.ptr, b.len, &o, ctx->shard->cfg.proto_max_bulk_len, &ctx->r);
}

/* ---- across shards ---- */

/* __lcsget key -> $bytes ("" when absent) or :0 when not a string */
static void cmd_lcsget_internal(struct cmd_ctx *ctx)
{
    char buf[LL_BUF];
    struct sh_slice v;

    if (!lcs_lookup(ctx, 1, buf, &v)) {
        reply_int(&ctx->r, 0);
        return;
    }
    reply_bulk(&ctx->r, v.ptr, v.len);
}

static const struct cmd_spec lcsget_spec = {
    .name = "__lcsget",
    .fullname = "__lcsget",
    .arity = 2,
    .flags = CMD_READONLY,
    .proc = cmd_lcsget_internal,
};

static void lcs_start(struct coord *c)
{
    for (int i = 1; i <= 2; i++) {
        struct sh_slice argv[2] = { { lcsget_spec.name, strlen(lcsget_spec.name) }, c->argv[i] };
        uint64_t h;

        coord_send(c, shard_owner(c->nshards, c->argv[i].ptr, c->argv[i].len, &h), &lcsget_spec,
                   c->dbid, 2, argv);
    }
}

/* The keys live on two owners (the only way this gather runs). */
static bool lcs_done(struct coord *c, struct reply *r)
{
    struct sh_slice v[2];
    struct lcs_opts o;
    bool bad = false;

    for (int i = 0; i < 2; i++) {
        uint64_t h;
        int s = shard_owner(c->nshards, c->argv[i + 1].ptr, c->argv[i + 1].len, &h);
        struct sh_slice p = coord_part(c, s);
        size_t pos = 0;

        if (p.len && p.ptr[0] == ':') {
            bad = true;
        } else if (!coord_read_bulk(p, &pos, &v[i]) || !v[i].ptr) {
            reply_error(r, "ERR internal error: bad __lcsget reply");
            return true;
        }
    }
    if (bad) {
        reply_error(r, ERR_NOT_STRING);
        return true;
    }
    if (lcs_parse(c->argc, c->argv, &o, r)) {
        lcs_compute(v[0].ptr, v[0].len, v[1].ptr, v[1].len, &o, c->conn->sh->cfg.proto_max_bulk_len,
                    r);
    }
    return true;
}

static const struct gather gather_lcs = { .start = lcs_start, .done = lcs_done };

void cmd_lcs_bind(void)
{
    cmd_must_bind("lcs", cmd_lcs, CMD_ROUTE_MULTI, &gather_lcs);
}
