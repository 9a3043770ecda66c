/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * cmd_zset_multi.c: the set algebra of the sorted set family, as Redis
 * 7.0's zunionInterDiffGenericCommand: ZUNION ZINTER ZDIFF (WITHSCORES),
 * ZUNIONSTORE ZINTERSTORE ZDIFFSTORE, ZINTERCARD (LIMIT), with WEIGHTS and
 * AGGREGATE SUM|MIN|MAX, plain sets as inputs (every member scored 1); and
 * the cross-shard gathers of those and of ZMPOP.
 *
 * One computation serves every path. Its inputs (struct zsrc) are sorted
 * sets of this core (read in place), or dump bytes: a set's members
 * (tset_dump), or what another shard sent. Results gather in a temporary
 * member dict (fdict, aux = score), are sorted by (score, member) as the
 * skiplist orders them, and go to the client or become dump bytes for the
 * destination (cmd_zset_store). Redis's order of work is kept where it shows
 * in the result: inputs sorted by cardinality (stably) for ZUNION/ZINTER, so
 * that floating-point sums add up in the same order; a weighted score that
 * is NaN (0 * inf) counts as 0; a SUM that gives NaN becomes 0. Errors come
 * in Redis's order: numkeys, then WRONGTYPE of the keys in argument order,
 * then the options.
 *
 * Across shards (keys on several owners), from the client's core:
 *
 *   stage 0  __zsrcs key ...          at each owner, its keys in argument
 *                                     order: per key nil, or a bulk 'z' +
 *                                     tzset_dump / 's' + tset_dump; or
 *                                     WRONGTYPE for the whole part
 *            the coordinator computes; ZUNION/ZINTER/ZDIFF/ZINTERCARD reply
 *   stage 1  __zstore dst bytes event at dst's owner (the *STORE forms):
 *                                     :count, dst replaced or deleted
 *
 *   ZMPOP    stage k: ZMPOP over the k-th run of consecutive keys that
 *            share an owner, until a part pops (or WRONGTYPE); the RESP2
 *            part is rewritten for a RESP3 client (scores as doubles).
 *
 * Atomicity across shards is per shard only: each owner's keys are read at
 * once, but another client may write a key of another owner between two
 * stages, and a *STORE destination may be written between the read and the
 * store (the last write wins). With all keys on one owner (one shard, a
 * {hash tag}) the handler runs the whole command there, atomically.
 *
 * Threading: handlers on the owner of their keys, gathers on the client's
 * core; the temporary dicts are freed before the reply is complete.
 */
#include "cmd_zset_internal.h"
#include "shardis/cmdtab.h"
#include "shardis/conn.h"
#include "shardis/fdict.h"
#include "shardis/kdb.h"
#include "shardis/reply.h"
#include "shardis/route.h"
#include "shardis/shard.h"
#include "shardis/tset.h"
#include "shardis/util.h"
#include "shardis/zsl.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum zop { ZOP_UNION, ZOP_INTER, ZOP_DIFF };
enum zagg { AGG_SUM, AGG_MIN, AGG_MAX };

/* Parse results: 0 or an error to reply (zop_reply_err). */
enum zerr { ZERR_NONE = 0, ZERR_NOTINT, ZERR_ATLEAST, ZERR_SYNTAX, ZERR_WEIGHT, ZERR_LIMIT };

/* What a command of the family is. */
struct zop_cmd {
    const char *name;
    enum zop op;
    bool store;     /* destination at argv[1], numkeys at argv[2] */
    bool card_only; /* ZINTERCARD */
    const char *event;
};

static const struct zop_cmd zop_cmds[] = {
    { "zunion", ZOP_UNION, false, false, NULL },
    { "zinter", ZOP_INTER, false, false, NULL },
    { "zdiff", ZOP_DIFF, false, false, NULL },
    { "zintercard", ZOP_INTER, false, true, NULL },
    { "zunionstore", ZOP_UNION, true, false, "zunionstore" },
    { "zinterstore", ZOP_INTER, true, false, "zinterstore" },
    { "zdiffstore", ZOP_DIFF, true, false, "zdiffstore" },
};

/* Parsed options. */
struct zop_opts {
    long long numkeys;
    int first;   /* argv index of the first key */
    int weights; /* argv index of the first weight, 0 when none */
    enum zagg agg;
    bool withscores;
    long long limit; /* ZINTERCARD: 0 = none */
};

/* One input. */
struct zsrc {
    struct kval *zv;  /* a sorted set of this core (borrowed), or NULL */
    struct kval *sv;  /* or a set of this core (borrowed) */
    const char *blob; /* or dump bytes from another shard (borrowed): a
                       * sorted set's, or a set's members (set_form) */
    size_t blen;
    bool set_form; /* blob holds members only, each scored 1 */
    size_t n;      /* members */
    double weight;
    struct fdict *index; /* blob: member -> score (aux), built on first find */
};

struct zsrc_iter {
    const struct zsrc *s;
    struct tzset_iter it;
    struct tset_iter sit;
    struct kval_dump_reader rd;
};

/* ---- parsing ---- */

static const struct zop_cmd *zop_of(const struct cmd_spec *cmd)
{
    for (size_t i = 0; i < SH_ARRAY_LEN(zop_cmds); i++) {
        if (!strcmp(cmd->fullname, zop_cmds[i].name)) {
            return &zop_cmds[i];
        }
    }
    sh_panic("%s is not a sorted set operation", cmd->fullname);
}

static void zop_reply_err(struct reply *r, enum zerr err, const struct cmd_spec *cmd)
{
    switch (err) {
    case ZERR_NOTINT:
        reply_err_notint(r);
        break;
    case ZERR_ATLEAST:
        reply_errorf(r, "ERR at least 1 input key is needed for '%s' command", cmd->fullname);
        break;
    case ZERR_WEIGHT:
        reply_error(r, "ERR weight value is not a float");
        break;
    case ZERR_LIMIT:
        reply_error(r, "ERR LIMIT can't be negative");
        break;
    default:
        reply_err_syntax(r);
        break;
    }
}

/* numkeys and the room for the keys, checked before any key is read. */
static enum zerr parse_numkeys(int argc, const struct sh_slice *argv, const struct zop_cmd *zc,
                               struct zop_opts *o)
{
    int at = zc->store ? 2 : 1;

    memset(o, 0, sizeof(*o));
    if (!util_str2ll(argv[at].ptr, argv[at].len, &o->numkeys)) {
        return ZERR_NOTINT;
    }
    if (o->numkeys < 1) {
        return ZERR_ATLEAST;
    }
    if (o->numkeys > argc - (at + 1)) {
        return ZERR_SYNTAX;
    }
    o->first = at + 1;
    return ZERR_NONE;
}

/* One option at argv[*j]; advances *j past it. */
static enum zerr parse_option(int argc, const struct sh_slice *argv, const struct zop_cmd *zc,
                              int *j, struct zop_opts *o)
{
    int left = argc - *j;
    bool algebra = zc->op != ZOP_DIFF && !zc->card_only;
    double d;

    if (algebra && left >= o->numkeys + 1 && sh_slice_eq_nocase(argv[*j], "weights")) {
        o->weights = ++*j;
        for (long long i = 0; i < o->numkeys; i++, ++*j) {
            if (zsl_parse_score(argv[*j].ptr, argv[*j].len, &d) != 0) {
                return ZERR_WEIGHT;
            }
        }
    } else if (algebra && left >= 2 && sh_slice_eq_nocase(argv[*j], "aggregate")) {
        struct sh_slice a = argv[*j + 1];

        if (!sh_slice_eq_nocase(a, "sum") && !sh_slice_eq_nocase(a, "min") &&
            !sh_slice_eq_nocase(a, "max")) {
            return ZERR_SYNTAX;
        }
        o->agg = sh_slice_eq_nocase(a, "sum") ? AGG_SUM
                                              : (sh_slice_eq_nocase(a, "min") ? AGG_MIN : AGG_MAX);
        *j += 2;
    } else if (!zc->store && !zc->card_only && sh_slice_eq_nocase(argv[*j], "withscores")) {
        o->withscores = true;
        ++*j;
    } else if (zc->card_only && left >= 2 && sh_slice_eq_nocase(argv[*j], "limit")) {
        if (!util_str2ll(argv[*j + 1].ptr, argv[*j + 1].len, &o->limit) || o->limit < 0) {
            return ZERR_LIMIT;
        }
        *j += 2;
    } else {
        return ZERR_SYNTAX;
    }
    return ZERR_NONE;
}

static enum zerr parse_options(int argc, const struct sh_slice *argv, const struct zop_cmd *zc,
                               struct zop_opts *o)
{
    int j = o->first + (int)o->numkeys;

    while (j < argc) {
        enum zerr err = parse_option(argc, argv, zc, &j, o);

        if (err != ZERR_NONE) {
            return err;
        }
    }
    return ZERR_NONE;
}

/* The weight of input i (1 without WEIGHTS; checked by parse_option). */
static double weight_of(const struct sh_slice *argv, const struct zop_opts *o, long long i)
{
    double w = 1.0;

    if (o->weights &&
        zsl_parse_score(argv[o->weights + i].ptr, argv[o->weights + i].len, &w) != 0) {
        w = 1.0; /* parse_option checked every weight */
    }
    return w;
}

/* ---- inputs ---- */

/* Sets the blob of s (a zset dump, or a set's when set_form); false when
 * the bytes are corrupt. */
static bool src_set_blob(struct zsrc *s, const char *p, size_t len, bool set_form)
{
    struct kval_dump_reader rd;

    if (!kval_dump_reader_init(&rd, p, len)) {
        return false;
    }
    s->blob = p;
    s->blen = len;
    s->set_form = set_form;
    s->n = set_form ? rd.count : rd.count / 2;
    return true;
}

static void src_fini(struct zsrc *s)
{
    fdict_destroy(s->index);
}

static size_t src_card(const struct zsrc *s)
{
    if (s->zv) {
        return tzset_card(s->zv);
    }
    return s->sv ? tset_size(s->sv) : s->n;
}

/* Starts a walk of s's elements; src_iter_fini ends it. */
static void src_iter(struct zsrc_iter *it, const struct zsrc *s)
{
    it->s = s;
    if (s->zv) {
        tzset_iter_rank(&it->it, s->zv, 0, false, tzset_card(s->zv));
    } else if (s->sv) {
        tset_iter_init(&it->sit, s->sv);
    } else if (!s->blob || !kval_dump_reader_init(&it->rd, s->blob, s->blen)) {
        it->rd.count = 0;
    }
}

static void src_iter_fini(struct zsrc_iter *it)
{
    if (it->s->sv) {
        tset_iter_fini(&it->sit);
    }
}

static bool src_next(struct zsrc_iter *it, struct tzset_elem *e)
{
    if (it->s->zv) {
        return tzset_iter_next(&it->it, e);
    }
    if (it->s->sv) {
        e->score = 1.0;
        return tset_iter_next(&it->sit, &e->member);
    }
    if (it->s->set_form) {
        e->score = 1.0;
        return kval_dump_next(&it->rd, &e->member);
    }
    return tzset_dump_next(&it->rd, &e->member, &e->score);
}

/* Does s hold member m? Its score into *score. A blob's lookups go through
 * a dict built on the first one (O(n) once, then O(1)). */
static bool src_find(struct zsrc *s, struct sh_slice m, double *score, uint64_t seed)
{
    struct zsrc_iter it;
    struct tzset_elem e;
    struct fentry *fe;

    if (s->zv) {
        return tzset_score(s->zv, m.ptr, m.len, score);
    }
    if (s->sv) {
        *score = 1.0;
        return tset_has(s->sv, m.ptr, m.len);
    }
    if (!s->blob) {
        return false;
    }
    if (!s->index) {
        s->index = fdict_create(seed, FDICT_AUX);
        fdict_expand(s->index, s->n);
        src_iter(&it, s);
        while (src_next(&it, &e)) {
            fdict_aux(fdict_add(s->index, e.member.ptr, e.member.len, NULL, 0))->d = e.score;
        }
        src_iter_fini(&it);
    }
    fe = fdict_find(s->index, m.ptr, m.len);
    if (fe) {
        *score = fdict_aux(fe)->d;
    }
    return fe != NULL;
}

/* Sorts inputs by cardinality, stably (insertion sort of the order array:
 * Redis's qsort is glibc's merge sort, which keeps ties in order). desc
 * for ZDIFF's largest-first scan. */
static void sort_by_card(struct zsrc **v, size_t n, bool desc)
{
    for (size_t i = 1; i < n; i++) {
        struct zsrc *x = v[i];
        size_t j = i;

        while (j > 0 &&
               (desc ? src_card(v[j - 1]) < src_card(x) : src_card(v[j - 1]) > src_card(x))) {
            v[j] = v[j - 1];
            j--;
        }
        v[j] = x;
    }
}

/* ---- the computation ---- */

struct zcalc {
    struct zsrc *src;  /* numkeys of them, in argument order */
    struct zsrc **ord; /* the order of work */
    size_t nsrc;
    const struct zop_cmd *zc;
    const struct zop_opts *o;
    struct fdict *acc; /* the result: member -> score (aux) */
    unsigned long long card;
    uint64_t seed;
};

static void aggregate(double *target, double v, enum zagg agg)
{
    if (agg == AGG_SUM) {
        *target += v;
        if (isnan(*target)) {
            *target = 0.0;
        }
    } else if (agg == AGG_MIN) {
        *target = v < *target ? v : *target;
    } else {
        *target = v > *target ? v : *target;
    }
}

static double weighted(double w, double s)
{
    double v = w * s;

    return isnan(v) ? 0.0 : v;
}

static void calc_union(struct zcalc *c)
{
    struct zsrc_iter it;
    struct tzset_elem e;

    sort_by_card(c->ord, c->nsrc, false);
    fdict_expand(c->acc, c->nsrc ? src_card(c->ord[c->nsrc - 1]) : 0);
    for (size_t i = 0; i < c->nsrc; i++) {
        src_iter(&it, c->ord[i]);
        while (src_next(&it, &e)) {
            double v = weighted(c->ord[i]->weight, e.score);
            bool existed;
            struct fentry *fe =
                    fdict_find_or_add(c->acc, e.member.ptr, e.member.len, NULL, 0, &existed);

            if (existed) {
                aggregate(&fdict_aux(fe)->d, v, c->o->agg);
            } else {
                fdict_aux(fe)->d = v;
            }
        }
        src_iter_fini(&it);
    }
}

/* Is e in every input after the first? Aggregates its score on the way. */
static bool inter_member(struct zcalc *c, const struct tzset_elem *e, double *score)
{
    double v;

    *score = weighted(c->ord[0]->weight, e->score);
    for (size_t j = 1; j < c->nsrc; j++) {
        if (!src_find(c->ord[j], e->member, &v, c->seed)) {
            return false;
        }
        aggregate(score, v * c->ord[j]->weight, c->o->agg);
    }
    return true;
}

/* ZINTER, ZINTERSTORE, ZINTERCARD (counting only, up to LIMIT). */
static void calc_inter(struct zcalc *c)
{
    struct zsrc_iter it;
    struct tzset_elem e;
    double score;

    sort_by_card(c->ord, c->nsrc, false);
    src_iter(&it, c->ord[0]);
    while (src_next(&it, &e)) {
        if (!inter_member(c, &e, &score)) {
            continue;
        }
        c->card++;
        if (c->zc->card_only && c->o->limit && c->card >= (unsigned long long)c->o->limit) {
            break;
        }
        if (!c->zc->card_only) {
            fdict_aux(fdict_add(c->acc, e.member.ptr, e.member.len, NULL, 0))->d = score;
        }
    }
    src_iter_fini(&it);
}

/* ZDIFF: the members of the first input found in no other, with their own
 * scores. Redis picks one of two algorithms by the work each needs; both
 * give the same set, so this one always scans the first input and looks
 * each member up in the others, the largest first. */
static void calc_diff(struct zcalc *c)
{
    struct zsrc_iter it;
    struct tzset_elem e;
    double v;

    sort_by_card(c->ord + 1, c->nsrc - 1, true);
    src_iter(&it, &c->src[0]);
    while (src_next(&it, &e)) {
        size_t j = 1;

        while (j < c->nsrc && !src_find(c->ord[j], e.member, &v, c->seed)) {
            j++;
        }
        if (j == c->nsrc) {
            fdict_aux(fdict_add(c->acc, e.member.ptr, e.member.len, NULL, 0))->d = e.score;
        }
    }
    src_iter_fini(&it);
}

static int entry_cmp(const void *a, const void *b)
{
    struct fentry *x = *(struct fentry *const *)a, *y = *(struct fentry *const *)b;
    double sx = fdict_aux(x)->d, sy = fdict_aux(y)->d;
    size_t n = fdict_klen(x) < fdict_klen(y) ? fdict_klen(x) : fdict_klen(y);
    int cmp;

    if (sx != sy) {
        return sx < sy ? -1 : 1;
    }
    cmp = n ? memcmp(fdict_key(x), fdict_key(y), n) : 0;
    if (cmp) {
        return cmp;
    }
    return fdict_klen(x) < fdict_klen(y) ? -1 : (fdict_klen(x) > fdict_klen(y));
}

/* The result in skiplist order; NULL when there is none. Caller frees. */
static struct fentry **sorted_result(struct zcalc *c, size_t *n)
{
    struct fentry **v, *fe;
    struct fdict_iter it;
    size_t k = 0;

    *n = fdict_size(c->acc);
    if (*n == 0) {
        return NULL;
    }
    v = sh_malloc(sizeof(*v) * *n);
    fdict_iter_init(&it, c->acc);
    while ((fe = fdict_iter_next(&it)) != NULL) {
        v[k++] = fe;
    }
    fdict_iter_fini(&it);
    qsort(v, *n, sizeof(*v), entry_cmp);
    return v;
}

static void calc_run(struct zcalc *c)
{
    c->acc = fdict_create(c->seed, FDICT_AUX);
    for (size_t i = 0; i < c->nsrc; i++) {
        c->ord[i] = &c->src[i];
    }
    if (c->zc->op == ZOP_UNION) {
        calc_union(c);
    } else if (c->zc->op == ZOP_INTER) {
        calc_inter(c);
    } else {
        calc_diff(c);
    }
}

/* Writes the result to the client (not for the STORE forms). */
static void calc_reply(struct zcalc *c, struct reply *r)
{
    struct tzset_elem e;
    struct fentry **v;
    size_t n;
    bool ws = c->o->withscores;

    if (c->zc->card_only) {
        reply_int(r, (long long)c->card);
        return;
    }
    v = sorted_result(c, &n);
    reply_array(r, ws && r->proto == 2 ? 2 * (long long)n : (long long)n);
    for (size_t i = 0; i < n; i++) {
        e.member = (struct sh_slice){ fdict_key(v[i]), fdict_klen(v[i]) };
        e.score = fdict_aux(v[i])->d;
        cmd_zset_reply_elem(r, &e, ws);
    }
    sh_free(v);
}

/* The result as dump bytes for the destination (caller frees). */
static char *calc_bytes(struct zcalc *c, size_t *len)
{
    struct kval_dump d;
    struct fentry **v;
    size_t n;

    kval_dump_init(&d);
    v = sorted_result(c, &n);
    for (size_t i = 0; i < n; i++) {
        tzset_dump_put(&d, fdict_key(v[i]), fdict_klen(v[i]), fdict_aux(v[i])->d);
    }
    sh_free(v);
    return kval_dump_finish(&d, len);
}

static void calc_init(struct zcalc *c, const struct zop_cmd *zc, const struct zop_opts *o,
                      uint64_t seed)
{
    memset(c, 0, sizeof(*c));
    c->zc = zc;
    c->o = o;
    c->nsrc = (size_t)o->numkeys;
    c->src = sh_calloc(c->nsrc, sizeof(*c->src));
    c->ord = sh_calloc(c->nsrc, sizeof(*c->ord));
    c->seed = seed;
}

static void calc_fini(struct zcalc *c)
{
    for (size_t i = 0; i < c->nsrc; i++) {
        src_fini(&c->src[i]);
    }
    fdict_destroy(c->acc);
    sh_free(c->src);
    sh_free(c->ord);
}

/* Applies the weights, runs, and replies or stores (locally: the caller's
 * ctx; across shards: the caller sends the bytes). */
static void calc_weights(struct zcalc *c, const struct sh_slice *argv)
{
    for (size_t i = 0; i < c->nsrc; i++) {
        c->src[i].weight = weight_of(argv, c->o, (long long)i);
    }
}

/* ---- on one shard ---- */

/* Input i from key argv[k] of this core; false after replying WRONGTYPE. */
static bool local_src(struct cmd_ctx *ctx, int k, struct zsrc *s)
{
    struct kentry *e = cmd_lookup(ctx, k);

    cmd_count_lookup(ctx, e != NULL);
    if (!e) {
        return true;
    }
    if (e->val.type == KVAL_ZSET) {
        s->zv = &e->val;
        return true;
    }
    if (e->val.type != KVAL_SET) {
        reply_err_wrongtype(&ctx->r);
        return false;
    }
    s->sv = &e->val;
    return true;
}

static void zop_local(struct cmd_ctx *ctx, const struct zop_cmd *zc)
{
    struct zop_opts o;
    enum zerr err = parse_numkeys(ctx->argc, ctx->argv, zc, &o);
    struct zcalc c;
    size_t len;
    char *blob;
    long long n;

    if (err != ZERR_NONE) {
        zop_reply_err(&ctx->r, err, ctx->cmd);
        return;
    }
    calc_init(&c, zc, &o, shard_rand(ctx->shard));
    for (long long i = 0; i < o.numkeys; i++) {
        if (!local_src(ctx, o.first + (int)i, &c.src[i])) {
            goto out_fini;
        }
    }
    err = parse_options(ctx->argc, ctx->argv, zc, &o);
    if (err != ZERR_NONE) {
        zop_reply_err(&ctx->r, err, ctx->cmd);
        goto out_fini;
    }
    calc_weights(&c, ctx->argv);
    calc_run(&c);
    if (!zc->store) {
        calc_reply(&c, &ctx->r);
        goto out_fini;
    }
    blob = calc_bytes(&c, &len);
    calc_fini(&c); /* the inputs may include the destination */
    n = cmd_zset_store(ctx->shard, ctx->dbid, ctx->argv[1], cmd_key_hash(ctx, 1), blob, len,
                       zc->event, &ctx->unchanged);
    sh_free(blob);
    cmd_zset_reply_stored(&ctx->r, n);
    return;
out_fini:
    calc_fini(&c);
}

static void cmd_zop(struct cmd_ctx *ctx)
{
    zop_local(ctx, zop_of(ctx->cmd));
}

/* ---- internal commands ---- */

/* A bulk of tag + bytes. */
static void reply_tagged(struct reply *r, char tag, const char *p, size_t len)
{
    char hdr[32];
    int n = snprintf(hdr, sizeof(hdr), "$%zu\r\n%c", len + 1, tag);

    reply_raw(r, hdr, (size_t)n);
    reply_raw(r, p, len);
    reply_raw(r, "\r\n", 2);
}

/* __zsrcs key ... -> per key nil, or 'z' + tzset_dump, or 's' + tset_dump;
 * WRONGTYPE (and nothing else) when a key holds another type. */
static void cmd_zsrcs_internal(struct cmd_ctx *ctx)
{
    struct kentry *e;
    size_t len;
    char *p;

    for (int i = 1; i < ctx->argc; i++) {
        e = cmd_lookup(ctx, i);
        cmd_count_lookup(ctx, e != NULL);
        if (e && e->val.type != KVAL_ZSET && e->val.type != KVAL_SET) {
            reply_err_wrongtype(&ctx->r);
            return;
        }
    }
    reply_array(&ctx->r, ctx->argc - 1);
    for (int i = 1; i < ctx->argc; i++) {
        e = cmd_lookup(ctx, i);
        if (!e) {
            reply_null(&ctx->r);
            continue;
        }
        p = e->val.type == KVAL_ZSET ? tzset_dump(&e->val, &len) : tset_dump(&e->val, &len);
        reply_tagged(&ctx->r, e->val.type == KVAL_ZSET ? 'z' : 's', p, len);
        sh_free(p);
    }
}

static const struct cmd_spec zsrcs_spec = {
    .name = "__zsrcs",
    .fullname = "__zsrcs",
    .arity = -2,
    .proc = cmd_zsrcs_internal,
};

/* __zstore dst bytes event -> :count (dst replaced, or deleted when the
 * bytes hold no element) */
static void cmd_zstore_internal(struct cmd_ctx *ctx)
{
    static const char *const events[] = { "zunionstore", "zinterstore", "zdiffstore",
                                          "zrangestore" };
    const char *event = NULL;
    long long n;

    for (size_t i = 0; i < SH_ARRAY_LEN(events); i++) {
        if (sh_slice_eq_nocase(ctx->argv[3], events[i])) {
            event = events[i];
        }
    }
    if (!event) {
        reply_err_syntax(&ctx->r);
        return;
    }
    n = cmd_zset_store(ctx->shard, ctx->dbid, ctx->argv[1], cmd_key_hash(ctx, 1), ctx->argv[2].ptr,
                       ctx->argv[2].len, event, &ctx->unchanged);
    cmd_zset_reply_stored(&ctx->r, n);
}

const struct cmd_spec cmd_zset_multi_store_spec = {
    .name = "__zstore",
    .fullname = "__zstore",
    .arity = 4,
    .proc = cmd_zstore_internal,
};

/* ---- across shards ---- */

/* Stage 0: each owner's keys, in argument order. A numkeys error sends
 * nothing; done() replies it. */
static void zop_start(struct coord *c)
{
    const struct zop_cmd *zc = zop_of(c->cmd);
    struct zop_opts o;
    struct sh_slice *sub;

    c->acc = parse_numkeys(c->argc, c->argv, zc, &o);
    if (c->acc != ZERR_NONE) {
        return;
    }
    sub = sh_malloc(sizeof(*sub) * (size_t)(o.numkeys + 1));
    for (int s = 0; s < c->nshards; s++) {
        int k = 0;

        sub[k++] = (struct sh_slice){ zsrcs_spec.name, strlen(zsrcs_spec.name) };
        for (int i = o.first; i < o.first + (int)o.numkeys; i++) {
            if (coord_key_owner(c, c->argv[i]) == s) {
                sub[k++] = c->argv[i];
            }
        }
        if (k > 1) {
            coord_send(c, s, &zsrcs_spec, c->dbid, k, sub);
        }
    }
    sh_free(sub);
}

/* The next element of part p at *pos into input s; false when corrupt. */
static bool part_src(struct sh_slice p, size_t *pos, struct zsrc *s)
{
    struct sh_slice b;

    if (!coord_read_bulk(p, pos, &b)) {
        return false;
    }
    if (!b.ptr) {
        return true;
    }
    if (b.len < 1 || (b.ptr[0] != 'z' && b.ptr[0] != 's')) {
        return false;
    }
    return src_set_blob(s, b.ptr + 1, b.len - 1, b.ptr[0] == 's');
}

/* Fills the inputs from stage 0's parts; false when a part is corrupt. */
static bool gather_srcs(struct coord *c, struct zcalc *calc, const struct zop_opts *o)
{
    size_t *pos = coord_part_cursors(c);
    bool ok = pos != NULL;

    for (long long i = 0; i < o->numkeys && ok; i++) {
        int s = coord_key_owner(c, c->argv[o->first + (int)i]);

        ok = part_src(coord_part(c, s), &pos[s], &calc->src[i]);
    }
    sh_free(pos);
    return ok;
}

/* Stage 0 is back: reply, or send the result to the destination. */
static bool zop_compute(struct coord *c, struct reply *r, const struct zop_cmd *zc)
{
    struct sh_slice argv[4] = { { "__zstore", 8 }, c->argv[1], { NULL, 0 }, { NULL, 0 } };
    struct zop_opts o;
    struct zcalc calc;
    enum zerr err;
    size_t len;
    char *blob;

    (void)parse_numkeys(c->argc, c->argv, zc, &o);
    err = parse_options(c->argc, c->argv, zc, &o);
    if (err != ZERR_NONE) {
        zop_reply_err(r, err, c->cmd);
        return true;
    }
    calc_init(&calc, zc, &o, shard_rand(c->conn->sh));
    if (!gather_srcs(c, &calc, &o)) {
        reply_error(r, "ERR internal error: bad __zsrcs reply");
        calc_fini(&calc);
        return true;
    }
    calc_weights(&calc, c->argv);
    calc_run(&calc);
    if (!zc->store) {
        calc_reply(&calc, r);
        calc_fini(&calc);
        return true;
    }
    blob = calc_bytes(&calc, &len);
    calc_fini(&calc);
    argv[2] = (struct sh_slice){ blob, len };
    argv[3] = (struct sh_slice){ zc->event, strlen(zc->event) };
    coord_send(c, coord_key_owner(c, c->argv[1]), &cmd_zset_multi_store_spec, c->dbid, 4, argv);
    sh_free(blob);
    return false;
}

static bool zop_done(struct coord *c, struct reply *r)
{
    const struct zop_cmd *zc = zop_of(c->cmd);
    struct sh_slice e;

    if (c->acc != ZERR_NONE) {
        zop_reply_err(r, (enum zerr)c->acc, c->cmd);
        return true;
    }
    if (c->stage > 0) {
        e = coord_part(c, coord_key_owner(c, c->argv[1]));
        reply_raw(r, e.ptr, e.len);
        return true;
    }
    e = coord_first_error(c);
    if (e.len) {
        reply_raw(r, e.ptr, e.len);
        return true;
    }
    return zop_compute(c, r, zc);
}

static const struct gather gather_zop = { .start = zop_start, .done = zop_done };
static const struct gather gather_zopstore = {
    .start = zop_start,
    .done = zop_done,
    .barrier = true,
};

/* ---- ZMPOP across shards ---- */

/* Sends the run of consecutive keys from key index c->acc that share an
 * owner, as a ZMPOP of its own; c->acc moves past it. */
static void mpop_send_run(struct coord *c, long long numkeys)
{
    int first = 2 + (int)c->acc, end = first, owner = coord_key_owner(c, c->argv[first]);
    int where = 2 + (int)numkeys, k = 0;
    struct sh_slice *sub = sh_malloc(sizeof(*sub) * (size_t)c->argc);
    char nbuf[24];

    while (end < 2 + numkeys && coord_key_owner(c, c->argv[end]) == owner) {
        end++;
    }
    sub[k++] = c->argv[0];
    sub[k++] = (struct sh_slice){ nbuf, util_ll2str(nbuf, end - first) };
    for (int i = first; i < end; i++) {
        sub[k++] = c->argv[i];
    }
    for (int i = where; i < c->argc; i++) {
        sub[k++] = c->argv[i];
    }
    c->acc = end - 2;
    coord_send(c, owner, c->cmd, c->dbid, k, sub);
    sh_free(sub);
}

static void mpop_start(struct coord *c)
{
    long long numkeys, count;
    bool max;

    c->acc = 0;
    if (!cmd_zset_mpop_parse(c->argc, c->argv, &numkeys, &max, &count)) {
        mpop_send_run(c, numkeys);
    }
}

/* Rewrites a RESP2 ZMPOP reply [key, [[member, score] ...]] for RESP3
 * (scores as doubles) into r; false when the part is not one. */
static bool mpop_resp3(struct sh_slice p, struct reply *r)
{
    struct sh_slice key, m, s;
    long long n, two;
    size_t pos = 0;
    double d;

    if (!coord_read_header(p, &pos, '*', &two) || two != 2 || !coord_read_bulk(p, &pos, &key) ||
        !coord_read_header(p, &pos, '*', &n)) {
        return false;
    }
    reply_array(r, 2);
    reply_bulk(r, key.ptr, key.len);
    reply_array(r, n);
    for (long long i = 0; i < n; i++) {
        if (!coord_read_header(p, &pos, '*', &two) || !coord_read_bulk(p, &pos, &m) ||
            !coord_read_bulk(p, &pos, &s) || zsl_parse_score(s.ptr, s.len, &d) != 0) {
            return false;
        }
        reply_array(r, 2);
        reply_bulk(r, m.ptr, m.len);
        reply_double(r, d);
    }
    return true;
}

/* A popping part for the client: as it is in RESP2, rewritten in RESP3
 * (through a scratch buffer, so a bad part writes only the error). */
static void mpop_reply(struct sh_slice p, struct reply *r)
{
    struct rbuf tmp;
    struct reply r3;

    if (r->proto == 2 || p.ptr[0] == '-') {
        reply_raw(r, p.ptr, p.len);
        return;
    }
    rbuf_init(&tmp);
    r3 = (struct reply){ .buf = &tmp, .proto = 3 };
    if (mpop_resp3(p, &r3)) {
        reply_raw(r, tmp.data, tmp.len);
    } else {
        reply_error(r, "ERR internal error: bad ZMPOP part");
    }
    rbuf_fini(&tmp);
}

static bool mpop_done(struct coord *c, struct reply *r)
{
    long long numkeys, count;
    bool max;
    const char *err = cmd_zset_mpop_parse(c->argc, c->argv, &numkeys, &max, &count);
    struct sh_slice p;

    if (err) {
        reply_error(r, err);
        return true;
    }
    p = coord_part(c, coord_key_owner(c, c->argv[2 + (int)c->acc - 1]));
    if (p.len == 5 && !memcmp(p.ptr, "*-1\r\n", 5)) {
        if (c->acc < numkeys) {
            mpop_send_run(c, numkeys);
            return false;
        }
        reply_null_array(r);
    } else if (!p.len) {
        reply_error(r, "ERR internal error: no ZMPOP part");
    } else {
        mpop_reply(p, r);
    }
    return true;
}

const struct gather cmd_zset_multi_mpop_gather = {
    .start = mpop_start,
    .done = mpop_done,
    .barrier = true,
};

void cmd_zset_multi_bind(void)
{
    for (size_t i = 0; i < SH_ARRAY_LEN(zop_cmds); i++) {
        cmd_must_bind(zop_cmds[i].name, cmd_zop, CMD_ROUTE_MULTI,
                      zop_cmds[i].store ? &gather_zopstore : &gather_zop);
    }
}
