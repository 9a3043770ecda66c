/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * cmd_sort.c: SORT and SORT_RO over lists, sets and sorted sets, with Redis
 * 7.0's semantics, replies and error wording (sort.c sortCommandGeneric).
 *
 * The run, as Redis: options parse first (syntax errors, LIMIT's integers),
 * then the source is looked up (WRONGTYPE). The vector of elements is loaded
 * (a list or a sorted set with "dontsort" and a LIMIT loads only that range,
 * in the value's own order, reversed by DESC); unless dontsort, every
 * element gets its score (numeric: strtod of the element or of its BY
 * value, an error when one does not convert) or its ALPHA compare string
 * (BY value; none when missing), and the vector is sorted (numeric ties by
 * the element's bytes). The output is the range [start, end], each element
 * or its GET values ('#': the element; a pattern without '*': nil;
 * "key->field": a hash field). STORE writes a list ("" for a missing GET),
 * or deletes the destination when empty ("sortstore" / "del" events) and
 * replies the count.
 *
 * "dontsort": BY with a pattern without '*' (nosort); once set by a BY it
 * stays set. A set sorted with dontsort and STORE is sorted ALPHA instead
 * (Redis's rule for a stable stored result).
 *
 * Where it runs. The handler runs on the client's core (route CONN) and
 * picks one of:
 *   direct  one shard; or the source, the destination and every pattern key
 *           are on this core (patterns with a {tag} in the prefix before '*'
 *           name keys of that tag's owner) and no transaction holds or waits
 *           for anything here: the whole SORT runs now, over this core's db;
 *   run     no pattern key to read (no BY '*' pattern that sorts, no GET
 *           pattern with '*'): a transaction over the source (read) and the
 *           destination (write); __sortrun runs SORT whole on the source's
 *           owner, or __sortlist returns STORE's list there and __sortstore
 *           writes it on the destination's owner;
 *   run, every shard locked: the pattern keys are all on the source's owner
 *           ({tag}): as above, under a lock of every shard;
 *   global  pattern keys may live on any shard: a transaction that locks
 *           every shard whole (as a global script does), driven by the
 *           gather below hop by hop:
 *             __sortsrc    the source's owner loads the vector: *4 [flags,
 *                          start, end, *n elements]
 *             __sortget    each owner reads the BY values of its keys;
 *                          the client's core sorts
 *             __sortget    each owner reads the GET values of the output
 *             __sortstore  the destination's owner stores the list.
 * Inside EXEC (which locks every shard for a CONN command with a gather) the
 * same gather runs as EXEC's nested coordinator, globally.
 *
 * Pattern keys are not key-spec keys: ACL key patterns, WATCH and the
 * scheduler's key locks do not see them; SORT reads them consistently
 * because it runs either where they all live with nothing else in flight,
 * or with every shard locked. A read of a pattern key counts a keyspace hit
 * or miss (and the "keymiss" event) unless STORE is given (Redis's
 * lookupKeyWrite).
 *
 * Left out: ALPHA compares bytes (Redis's strcoll in the C locale); a set
 * sorted with dontsort from a script is not forced to ALPHA; sorted sets
 * keep their encoding (Redis converts them to a skiplist); BY/GET are not
 * refused for ACL users without full key access.
 *
 * Threading: the handler and the gathers on the client's core; the
 * internal commands on the owners.
 */
#include "shardis/cmd.h"
#include "shardis/cmd_bind.h"
#include "shardis/cmdtab.h"
#include "shardis/config.h"
#include "shardis/conn.h"
#include "shardis/kdb.h"
#include "shardis/kdict.h"
#include "shardis/kval.h"
#include "shardis/pubsub.h"
#include "shardis/reply.h"
#include "shardis/route.h"
#include "shardis/sched.h"
#include "shardis/shard.h"
#include "shardis/thash.h"
#include "shardis/tlist.h"
#include "shardis/tset.h"
#include "shardis/tzset.h"
#include "shardis/util.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#define ERR_SCORES "ERR One or more scores can't be converted into double"
#define LL_BUF     24

/* ---- options ---- */

struct sort_opts {
    bool desc, alpha, dontsort;
    long long lstart, lcount;
    int by, store; /* argv index of the BY pattern, of STORE's key; 0: none */
    int ngets;
    int *gets; /* argv indexes of the GET patterns (sh_malloc'd) */
};

static void opts_fini(struct sort_opts *o)
{
    sh_free(o->gets);
    o->gets = NULL;
}

static size_t cstrlen(struct sh_slice s)
{
    const char *z = memchr(s.ptr, '\0', s.len);

    return z ? (size_t)(z - s.ptr) : s.len;
}

/* Redis's option loop; false after writing the error to r (opts freed). */
static bool sort_parse(int argc, const struct sh_slice *argv, bool ro, struct sort_opts *o,
                       struct reply *r)
{
    memset(o, 0, sizeof(*o));
    o->lcount = -1;
    for (int j = 2; j < argc; j++) {
        int left = argc - j - 1;

        if (sh_slice_eq_nocase(argv[j], "asc")) {
            o->desc = false;
        } else if (sh_slice_eq_nocase(argv[j], "desc")) {
            o->desc = true;
        } else if (sh_slice_eq_nocase(argv[j], "alpha")) {
            o->alpha = true;
        } else if (sh_slice_eq_nocase(argv[j], "limit") && left >= 2) {
            if (!util_str2ll(argv[j + 1].ptr, argv[j + 1].len, &o->lstart) ||
                !util_str2ll(argv[j + 2].ptr, argv[j + 2].len, &o->lcount)) {
                reply_err_notint(r);
                goto out_err;
            }
            j += 2;
        } else if (!ro && sh_slice_eq_nocase(argv[j], "store") && left >= 1) {
            o->store = ++j;
        } else if (sh_slice_eq_nocase(argv[j], "by") && left >= 1) {
            o->by = ++j;
            if (!memchr(argv[j].ptr, '*', cstrlen(argv[j]))) {
                o->dontsort = true;
            }
        } else if (sh_slice_eq_nocase(argv[j], "get") && left >= 1) {
            if (!o->gets) {
                o->gets = sh_malloc(sizeof(int) * (size_t)argc);
            }
            o->gets[o->ngets++] = ++j;
        } else {
            reply_err_syntax(r);
            goto out_err;
        }
    }
    return true;
out_err:
    opts_fini(o);
    return false;
}

/* ---- patterns ---- */

enum pat_kind { PAT_SELF, PAT_NONE, PAT_KEY };

/* A pattern split as lookupKeyByPattern splits it: key = pre elem post,
 * then a hash field when field.len > 0. */
struct sort_pat {
    enum pat_kind kind;
    struct sh_slice pre, post, field;
};

static void pat_init(struct sort_pat *p, struct sh_slice s)
{
    size_t clen = cstrlen(s), flen = 0;
    const char *star, *f = NULL;

    memset(p, 0, sizeof(*p));
    p->field = (struct sh_slice){ "", 0 }; /* a part's argument: never NULL */
    if (clen == 1 && s.ptr[0] == '#') {
        p->kind = PAT_SELF;
        return;
    }
    star = memchr(s.ptr, '*', clen);
    if (!star) {
        p->kind = PAT_NONE;
        return;
    }
    p->kind = PAT_KEY;
    for (const char *q = star + 1; q + 1 < s.ptr + clen; q++) {
        if (q[0] == '-' && q[1] == '>') {
            f = q;
            break;
        }
    }
    if (f && f + 2 < s.ptr + clen) {
        flen = s.len - (size_t)(f - s.ptr) - 2;
        p->field = (struct sh_slice){ f + 2, flen };
    }
    p->pre = (struct sh_slice){ s.ptr, (size_t)(star - s.ptr) };
    p->post = (struct sh_slice){ star + 1, s.len - p->pre.len - 1 - (flen ? flen + 2 : 0) };
}

/* The key pattern p names for elem, built in buf (reset first). */
static struct sh_slice pat_key(const struct sort_pat *p, struct sh_slice elem, struct rbuf *buf)
{
    buf->len = 0;
    rbuf_append(buf, p->pre.ptr, p->pre.len);
    rbuf_append(buf, elem.ptr, elem.len);
    rbuf_append(buf, p->post.ptr, p->post.len);
    return (struct sh_slice){ buf->data, buf->len };
}

/* The owner of every key p names, when its prefix holds a whole {tag};
 * else -1. */
static int pat_static_owner(const struct sort_pat *p, int nshards)
{
    const char *open = memchr(p->pre.ptr, '{', p->pre.len), *close;
    uint64_t h;

    if (!open) {
        return -1;
    }
    close = memchr(open + 1, '}', p->pre.len - (size_t)(open - p->pre.ptr) - 1);
    if (!close || close == open + 1) {
        return -1;
    }
    return shard_owner(nshards, p->pre.ptr, p->pre.len, &h);
}

/* ---- reading a pattern key on its owner ---- */

/* The value of key (a string, or field of a hash when field.len) in db, or
 * false; counts the hit or miss when count. */
static bool read_value(struct shard *sh, struct kdb *db, int dbid, bool count, struct sh_slice key,
                       struct sh_slice field, char buf[static LL_BUF], struct sh_slice *out)
{
    struct kentry *e = kdb_find(db, key.ptr, key.len, kdict_hash(key.ptr, key.len), sh->now_ms);

    if (count) {
        if (e) {
            sh->stats.keyspace_hits++;
        } else {
            sh->stats.keyspace_misses++;
            pubsub_notify(sh, NOTIFY_KEY_MISS, "keymiss", key.ptr, key.len, dbid);
        }
    }
    if (!e) {
        return false;
    }
    if (field.len) {
        return e->val.type == KVAL_HASH && thash_get(&e->val, field.ptr, field.len, buf, out);
    }
    if (e->val.type != KVAL_STRING) {
        return false;
    }
    out->ptr = kval_string(&e->val, buf, &out->len);
    return true;
}

/* ---- the vector ---- */

struct sort_item {
    size_t off, len;   /* the element, in the vector's arena */
    size_t coff, clen; /* ALPHA BY: its compare string, in cmps */
    double score;
    bool has_cmp;
};

struct sort_vec {
    struct sort_item *v;
    long n;
    struct rbuf arena, cmps;
    long start, end; /* the output range */
    bool conv_err;
};

static void vec_init(struct sort_vec *sv)
{
    memset(sv, 0, sizeof(*sv));
    rbuf_init(&sv->arena);
    rbuf_init(&sv->cmps);
}

static void vec_fini(struct sort_vec *sv)
{
    sh_free(sv->v);
    rbuf_fini(&sv->arena);
    rbuf_fini(&sv->cmps);
}

static void vec_alloc(struct sort_vec *sv, long n)
{
    sv->v = sh_calloc((size_t)(n > 0 ? n : 1), sizeof(*sv->v));
}

static void vec_push(struct sort_vec *sv, struct sh_slice e)
{
    struct sort_item *it = &sv->v[sv->n++];

    it->off = sv->arena.len;
    it->len = e.len;
    rbuf_append(&sv->arena, e.ptr, e.len);
}

static struct sh_slice vec_elem(const struct sort_vec *sv, long j)
{
    return (struct sh_slice){ sv->arena.data + sv->v[j].off, sv->v[j].len };
}

/* Redis's LIMIT arithmetic (a long's wrap included), then end >= start-1. */
static void vec_range(struct sort_vec *sv, const struct sort_opts *o, long vlen)
{
    long start = o->lstart < 0 ? 0 : (long)o->lstart;
    long end = o->lcount < 0 ? vlen - 1
                             : (long)((unsigned long)start + (unsigned long)o->lcount - 1UL);

    if (start >= vlen) {
        start = vlen - 1;
        end = vlen - 2;
    }
    if (end >= vlen) {
        end = vlen - 1;
    }
    if (end < start - 1) {
        end = start - 1;
    }
    sv->start = start;
    sv->end = end;
}

static void load_list(struct sort_vec *sv, const struct sort_opts *o, const struct kval *src)
{
    long len = (long)tlist_len(src), want = len;
    struct tlist_iter it;
    struct sh_slice e;
    size_t from = 0;
    bool back = false;

    if (o->dontsort) {
        want = sv->end - sv->start + 1;
        if (want <= 0) {
            vec_alloc(sv, 0);
            return;
        }
        back = o->desc;
        from = (size_t)(back ? len - sv->start - 1 : sv->start);
        sv->end -= sv->start;
        sv->start = 0;
    }
    vec_alloc(sv, want);
    tlist_iter_init(&it, src, from, back);
    while (sv->n < want && tlist_iter_next(&it, &e)) {
        vec_push(sv, e);
    }
}

static void load_zset(struct sort_vec *sv, const struct sort_opts *o, const struct kval *src)
{
    long len = (long)tzset_card(src), want = len;
    struct tzset_iter it;
    struct tzset_elem e;
    size_t from = 0;

    if (o->dontsort) {
        want = sv->end - sv->start + 1;
        from = (size_t)(sv->start > 0 ? sv->start : 0);
        sv->end -= sv->start;
        sv->start = 0;
    }
    vec_alloc(sv, want);
    if (want <= 0) {
        return;
    }
    tzset_iter_rank(&it, src, from, o->dontsort && o->desc, (size_t)want);
    while (sv->n < want && tzset_iter_next(&it, &e)) {
        vec_push(sv, e.member);
    }
}

static void load_set(struct sort_vec *sv, const struct kval *src)
{
    struct tset_iter it;
    struct sh_slice e;

    vec_alloc(sv, (long)tset_size(src));
    tset_iter_init(&it, src);
    while (tset_iter_next(&it, &e)) {
        vec_push(sv, e);
    }
    tset_iter_fini(&it);
}

/* Loads src (NULL: an empty list) and fixes the output range; applies the
 * set rule to o. */
static void vec_load(struct sort_vec *sv, struct sort_opts *o, const struct kval *src)
{
    int type = src ? src->type : KVAL_LIST;
    long vlen = 0;

    if (o->dontsort && type == KVAL_SET && o->store) {
        o->dontsort = false;
        o->alpha = true;
        o->by = 0;
    }
    if (src) {
        vlen = (long)(type == KVAL_LIST  ? tlist_len(src)
                      : type == KVAL_SET ? tset_size(src)
                                         : tzset_card(src));
    }
    vec_range(sv, o, vlen);
    if (!src) {
        vec_alloc(sv, 0);
    } else if (type == KVAL_LIST) {
        load_list(sv, o, src);
    } else if (type == KVAL_ZSET) {
        load_zset(sv, o, src);
    } else {
        load_set(sv, src);
    }
}

/* strtod over the C string, as Redis checks a score (a canonical integer,
 * which Redis keeps integer-encoded and casts, converts the same way). */
static bool parse_score(struct sh_slice s, double *out)
{
    char stack[64], *buf;
    char *end;
    long long ll;
    bool ok;

    if (s.len <= 20 && util_str2ll(s.ptr, s.len, &ll)) {
        *out = (double)ll;
        return true;
    }
    buf = s.len < sizeof(stack) ? stack : sh_malloc(s.len + 1);
    if (s.len) { /* an empty element's ptr may be NULL */
        memcpy(buf, s.ptr, s.len);
    }
    buf[s.len] = '\0';
    errno = 0;
    *out = strtod(buf, &end);
    ok = *end == '\0' && errno != ERANGE && !isnan(*out);
    if (buf != stack) {
        sh_free(buf);
    }
    return ok;
}

/* Item j's sort value: v (found) from its BY pattern, or the element. */
static void vec_score(struct sort_vec *sv, const struct sort_opts *o, long j, bool found,
                      struct sh_slice v)
{
    struct sort_item *it = &sv->v[j];

    if (!found) {
        return;
    }
    if (o->alpha) {
        if (o->by) {
            it->has_cmp = true;
            it->coff = sv->cmps.len;
            it->clen = v.len;
            rbuf_append(&sv->cmps, v.ptr, v.len);
        }
    } else if (!parse_score(v, &it->score)) {
        sv->conv_err = true;
    }
}

struct sort_cmp_ctx {
    const char *arena, *cmps;
    bool alpha, by, desc;
};

static int bytes_cmp(const char *a, size_t al, const char *b, size_t bl)
{
    /* an empty element's pointer may be NULL: memcmp must not see it */
    int c = al && bl ? memcmp(a, b, al < bl ? al : bl) : 0;

    if (c) {
        return c;
    }
    return al < bl ? -1 : al > bl;
}

static int item_cmp(const void *x, const void *y, void *arg)
{
    const struct sort_item *a = x, *b = y;
    const struct sort_cmp_ctx *k = arg;
    int c;

    if (!k->alpha) {
        c = a->score > b->score   ? 1
            : a->score < b->score ? -1
                                  : bytes_cmp(k->arena + a->off, a->len, k->arena + b->off, b->len);
    } else if (k->by) {
        if (!a->has_cmp || !b->has_cmp) {
            c = a->has_cmp == b->has_cmp ? 0 : !a->has_cmp ? -1 : 1;
        } else {
            c = bytes_cmp(k->cmps + a->coff, a->clen, k->cmps + b->coff, b->clen);
        }
    } else {
        c = bytes_cmp(k->arena + a->off, a->len, k->arena + b->off, b->len);
    }
    return k->desc ? -c : c;
}

/* A numeric sort moves 16-byte keys, not the items (what decides the cost
 * of sorting 100k elements: the bytes qsort moves). */
struct num_key {
    double score;
    long idx;
};

static int num_cmp(const void *x, const void *y, void *arg)
{
    const struct num_key *a = x, *b = y;
    const struct sort_cmp_ctx *k = arg;
    const struct sort_item *v = (const struct sort_item *)k->cmps;
    int c = a->score > b->score   ? 1
            : a->score < b->score ? -1
                                  : bytes_cmp(k->arena + v[a->idx].off, v[a->idx].len,
                                              k->arena + v[b->idx].off, v[b->idx].len);

    return k->desc ? -c : c;
}

static void vec_sort(struct sort_vec *sv, const struct sort_opts *o)
{
    struct sort_cmp_ctx k = { sv->arena.data, sv->cmps.data, o->alpha, o->by != 0, o->desc };
    struct num_key *keys;
    struct sort_item *v;

    if (sv->n <= 1) {
        return;
    }
    if (o->alpha) {
        qsort_r(sv->v, (size_t)sv->n, sizeof(*sv->v), item_cmp, &k);
        return;
    }
    keys = sh_malloc(sizeof(*keys) * (size_t)sv->n);
    for (long i = 0; i < sv->n; i++) {
        keys[i] = (struct num_key){ sv->v[i].score, i };
    }
    k.cmps = (const char *)sv->v; /* num_cmp reads the items */
    qsort_r(keys, (size_t)sv->n, sizeof(*keys), num_cmp, &k);
    v = sh_malloc(sizeof(*v) * (size_t)sv->n);
    for (long i = 0; i < sv->n; i++) {
        v[i] = sv->v[keys[i].idx];
    }
    sh_free(keys);
    sh_free(sv->v);
    sv->v = v;
}

static long long out_len(const struct sort_vec *sv, const struct sort_opts *o)
{
    long long n = sv->end - sv->start + 1;

    return o->ngets ? n * o->ngets : n;
}

/* ---- storing ---- */

/* Replaces key dst by list (taken; n its length, 0 deletes dst), as setKey
 * and dbDelete do, with "sortstore" or "del". */
static void store_list(struct shard *sh, struct kdb *db, int dbid, struct sh_slice dst,
                       struct kval *list, long long n)
{
    uint64_t h = kdict_hash(dst.ptr, dst.len);
    struct kentry *e = kdb_find(db, dst.ptr, dst.len, h, sh->now_ms);

    if (n == 0) {
        kval_clear(list);
        if (!e) {
            return;
        }
        kdb_delete(db, e);
        pubsub_notify(sh, NOTIFY_GENERIC, "del", dst.ptr, dst.len, dbid);
    } else {
        if (e) {
            kval_clear(&e->val);
            if (kentry_has_ttl(e)) {
                kdb_set_expire(db, e, -1);
            }
        } else {
            e = kdb_add(db, dst.ptr, dst.len, h);
        }
        list->lru = e->val.lru;
        kentry_set_val(e, *list);
        pubsub_notify(sh, NOTIFY_LIST, "sortstore", dst.ptr, dst.len, dbid);
    }
    route_touch(sh, dbid, dst);
}

/* ---- SORT whole on one core ---- */

enum run_out { OUT_REPLY, OUT_LIST };

/* Scores the vector from this core's keys, then sorts it. */
static void local_score(struct cmd_ctx *ctx, struct sort_vec *sv, const struct sort_opts *o)
{
    struct sort_pat by;
    struct rbuf key;
    char buf[LL_BUF];

    if (o->by) {
        pat_init(&by, ctx->argv[o->by]);
    }
    rbuf_init(&key);
    for (long j = 0; j < sv->n; j++) {
        struct sh_slice e = vec_elem(sv, j), v = e;
        bool found = true;

        if (o->by) {
            found = by.kind == PAT_SELF ||
                    (by.kind == PAT_KEY && read_value(ctx->shard, ctx->db, ctx->dbid, !o->store,
                                                      pat_key(&by, e, &key), by.field, buf, &v));
        }
        vec_score(sv, o, j, found, v);
    }
    rbuf_fini(&key);
    if (!sv->conv_err) {
        vec_sort(sv, o);
    }
}

/* The value of GET pattern p for elem on this core. */
static bool local_get(struct cmd_ctx *ctx, const struct sort_opts *o, const struct sort_pat *p,
                      struct sh_slice elem, struct rbuf *key, char buf[static LL_BUF],
                      struct sh_slice *v)
{
    if (p->kind == PAT_SELF) {
        *v = elem;
        return true;
    }
    return p->kind == PAT_KEY && read_value(ctx->shard, ctx->db, ctx->dbid, !o->store,
                                            pat_key(p, elem, key), p->field, buf, v);
}

/* The output: a reply, STORE's list replied as an array (OUT_LIST), or
 * STORE's list stored here. */
static void local_output(struct cmd_ctx *ctx, struct sort_vec *sv, const struct sort_opts *o,
                         enum run_out mode)
{
    struct sort_pat *pats = sh_calloc((size_t)(o->ngets ? o->ngets : 1), sizeof(*pats));
    bool to_list = o->store && mode == OUT_REPLY;
    long long n = out_len(sv, o);
    struct kval list;
    struct rbuf key;
    char buf[LL_BUF];

    memset(&list, 0, sizeof(list));
    rbuf_init(&key);
    for (int g = 0; g < o->ngets; g++) {
        pat_init(&pats[g], ctx->argv[o->gets[g]]);
    }
    if (!to_list) {
        reply_array(&ctx->r, n);
    }
    for (long j = sv->start; j <= sv->end; j++) {
        struct sh_slice e = vec_elem(sv, j);

        for (int g = 0; g < (o->ngets ? o->ngets : 1); g++) {
            struct sh_slice v = e;
            bool found = !o->ngets || local_get(ctx, o, &pats[g], e, &key, buf, &v);

            if (to_list) {
                tlist_push(&list, TLIST_TAIL, found ? v.ptr : "", found ? v.len : 0,
                           &ctx->shard->cfg.limits);
            } else if (found || o->store) {
                reply_bulk(&ctx->r, found ? v.ptr : "", found ? v.len : 0);
            } else {
                reply_null(&ctx->r);
            }
        }
    }
    if (to_list) {
        store_list(ctx->shard, ctx->db, ctx->dbid, ctx->argv[o->store], &list, n);
        reply_int(&ctx->r, n);
    }
    rbuf_fini(&key);
    sh_free(pats);
}

/* Runs the parsed SORT over this core's db (ctx->argv is SORT's). */
static void sort_local(struct cmd_ctx *ctx, struct sort_opts *o, enum run_out mode)
{
    struct kentry *src = cmd_lookup(ctx, 1);
    struct sort_vec sv;

    cmd_count_lookup(ctx, src != NULL);
    if (src && src->val.type != KVAL_LIST && src->val.type != KVAL_SET &&
        src->val.type != KVAL_ZSET) {
        reply_err_wrongtype(&ctx->r);
        return;
    }
    vec_init(&sv);
    vec_load(&sv, o, src ? &src->val : NULL);
    if (!o->dontsort) {
        local_score(ctx, &sv, o);
    }
    if (sv.conv_err) {
        reply_error(&ctx->r, ERR_SCORES);
    } else {
        local_output(ctx, &sv, o, mode);
    }
    vec_fini(&sv);
}

/* ---- internal commands (parts of the gathers below) ---- */

/* __sortrun / __sortlist + SORT's arguments: the whole SORT here (STORE
 * stored here, or its list replied). */
static void cmd_sortrun_internal(struct cmd_ctx *ctx)
{
    struct sort_opts o;

    if (sort_parse(ctx->argc, ctx->argv, false, &o, &ctx->r)) {
        sort_local(ctx, &o, ctx->argv[0].ptr[6] == 'l' ? OUT_LIST : OUT_REPLY);
        opts_fini(&o);
    }
}

/* __sortsrc + SORT's arguments: *4 [flags, start, end, *n elements]; flags:
 * 1 dontsort, 2 alpha, 4 BY dropped (the set rule). */
static void cmd_sortsrc_internal(struct cmd_ctx *ctx)
{
    struct sort_opts o;
    struct kentry *src;
    struct sort_vec sv;

    if (!sort_parse(ctx->argc, ctx->argv, false, &o, &ctx->r)) {
        return;
    }
    src = cmd_lookup(ctx, 1);
    cmd_count_lookup(ctx, src != NULL);
    if (src && src->val.type != KVAL_LIST && src->val.type != KVAL_SET &&
        src->val.type != KVAL_ZSET) {
        reply_err_wrongtype(&ctx->r);
        goto out_opts;
    }
    vec_init(&sv);
    vec_load(&sv, &o, src ? &src->val : NULL);
    reply_array(&ctx->r, 4);
    reply_int(&ctx->r, (o.dontsort ? 1 : 0) | (o.alpha ? 2 : 0) | (o.by ? 0 : 4));
    reply_int(&ctx->r, sv.start);
    reply_int(&ctx->r, sv.end);
    reply_array(&ctx->r, sv.n);
    for (long j = 0; j < sv.n; j++) {
        struct sh_slice e = vec_elem(&sv, j);

        reply_bulk(&ctx->r, e.ptr, e.len);
    }
    vec_fini(&sv);
out_opts:
    opts_fini(&o);
}

/* __sortget count key field key field ...: *n of the values (field "": a
 * string key), nil where none. */
static void cmd_sortget_internal(struct cmd_ctx *ctx)
{
    bool count = ctx->argv[1].len == 1 && ctx->argv[1].ptr[0] == '1';
    char buf[LL_BUF];

    reply_array(&ctx->r, (ctx->argc - 2) / 2);
    for (int i = 2; i + 1 < ctx->argc; i += 2) {
        struct sh_slice v;

        if (read_value(ctx->shard, ctx->db, ctx->dbid, count, ctx->argv[i], ctx->argv[i + 1], buf,
                       &v)) {
            reply_bulk(&ctx->r, v.ptr, v.len);
        } else {
            reply_null(&ctx->r);
        }
    }
}

/* __sortstore dst elem...: replaces dst by the list (none: deletes it). */
static void cmd_sortstore_internal(struct cmd_ctx *ctx)
{
    struct kval list;

    memset(&list, 0, sizeof(list));
    for (int i = 2; i < ctx->argc; i++) {
        tlist_push(&list, TLIST_TAIL, ctx->argv[i].ptr, ctx->argv[i].len, &ctx->shard->cfg.limits);
    }
    store_list(ctx->shard, ctx->db, ctx->dbid, ctx->argv[1], &list, ctx->argc - 2);
    reply_int(&ctx->r, ctx->argc - 2);
}

static const struct cmd_spec sortrun_spec = {
    .name = "__sortrun", .fullname = "__sortrun", .arity = -2, .proc = cmd_sortrun_internal
};
static const struct cmd_spec sortlist_spec = {
    .name = "__sortlist", .fullname = "__sortlist", .arity = -2, .proc = cmd_sortrun_internal
};
static const struct cmd_spec sortsrc_spec = {
    .name = "__sortsrc", .fullname = "__sortsrc", .arity = -2, .proc = cmd_sortsrc_internal
};
static const struct cmd_spec sortget_spec = {
    .name = "__sortget", .fullname = "__sortget", .arity = -2, .proc = cmd_sortget_internal
};
static const struct cmd_spec sortstore_spec = {
    .name = "__sortstore", .fullname = "__sortstore", .arity = -2, .proc = cmd_sortstore_internal
};

/* ---- the coordinator (client's core) ---- */

enum job_mode { JOB_RUN, JOB_GLOBAL };
enum job_phase { PH_SRC, PH_BY, PH_GET, PH_STORE, PH_RUN, PH_LIST };

struct sort_job {
    enum job_mode mode;
    enum job_phase phase;
    struct sort_opts o;
    struct sort_vec sv;
    struct rbuf err; /* a parse error (EXEC's nested run) */
    /* SORT's arguments: a copy (owned), or the nested coordinator's */
    int argc;
    struct sh_slice *argv;
    bool own_argv;
    /* lookups in flight: the owner of each, the keys' bytes */
    int nlook;
    int *look_owner;
    struct rbuf keys;
};

static struct sort_job *job_new(enum job_mode mode)
{
    struct sort_job *j = sh_calloc(1, sizeof(*j));

    j->mode = mode;
    vec_init(&j->sv);
    rbuf_init(&j->err);
    rbuf_init(&j->keys);
    return j;
}

static void job_copy_argv(struct sort_job *j, int argc, const struct sh_slice *argv)
{
    j->argc = argc;
    j->argv = sh_slices_dup(argc, argv);
    j->own_argv = true;
}

static void job_free(struct sort_job *j)
{
    opts_fini(&j->o);
    vec_fini(&j->sv);
    rbuf_fini(&j->err);
    rbuf_fini(&j->keys);
    sh_free(j->look_owner);
    if (j->own_argv) {
        sh_free(j->argv);
    }
    sh_free(j);
}

static int key_owner(const struct coord *c, struct sh_slice k)
{
    uint64_t h;

    return shard_owner(c->nshards, k.ptr, k.len, &h);
}

/* Sends SORT's arguments to the source's owner as cmd. */
static void send_whole(struct coord *c, const struct sort_job *j, const struct cmd_spec *cmd)
{
    struct sh_slice *argv = sh_malloc(sizeof(*argv) * (size_t)j->argc);

    memcpy(argv, j->argv, sizeof(*argv) * (size_t)j->argc);
    argv[0] = (struct sh_slice){ cmd->name, strlen(cmd->name) };
    coord_send(c, key_owner(c, j->argv[1]), cmd, c->dbid, j->argc, argv);
    sh_free(argv);
}

/* Lookups of pattern p for items [from, to] of the vector (p == NULL:
 * the items' GET patterns, each) grouped by owner into __sortget parts. */
struct look_req {
    const struct sort_pat *pats;
    int npats;
    long from, to;
};

static void send_lookups(struct coord *c, struct sort_job *j, const struct look_req *q)
{
    long n = (q->to - q->from + 1) * q->npats, k = 0;
    size_t *koff = sh_malloc(sizeof(size_t) * (size_t)(n ? n : 1) * 2);
    struct sh_slice *argv;
    struct rbuf tmp;
    char cnt = j->o.store ? '0' : '1';

    rbuf_init(&tmp);
    j->keys.len = 0;
    j->nlook = 0;
    j->look_owner = sh_realloc(j->look_owner, sizeof(int) * (size_t)(n ? n : 1));
    for (long i = q->from; i <= q->to; i++) {
        for (int g = 0; g < q->npats; g++) {
            const struct sort_pat *p = &q->pats[g];
            struct sh_slice key;

            if (p->kind != PAT_KEY) {
                continue;
            }
            key = pat_key(p, vec_elem(&j->sv, i), &tmp);
            koff[2 * k] = j->keys.len;
            koff[2 * k + 1] = key.len;
            rbuf_append(&j->keys, key.ptr, key.len);
            j->look_owner[k++] = key_owner(c, key);
        }
    }
    j->nlook = (int)k;
    argv = sh_malloc(sizeof(*argv) * (size_t)(2 * k + 2));
    for (int s = 0; s < c->nshards; s++) {
        int a = 2, m = 0;

        argv[0] = (struct sh_slice){ sortget_spec.name, strlen(sortget_spec.name) };
        argv[1] = (struct sh_slice){ &cnt, 1 };
        for (long i = q->from; i <= q->to; i++) {
            for (int g = 0; g < q->npats; g++) {
                if (q->pats[g].kind != PAT_KEY) {
                    continue;
                }
                if (j->look_owner[m] == s) {
                    argv[a++] = (struct sh_slice){ j->keys.data + koff[2 * m], koff[2 * m + 1] };
                    argv[a++] = q->pats[g].field;
                }
                m++;
            }
        }
        if (a > 2) {
            coord_send(c, s, &sortget_spec, c->dbid, a, argv);
        }
    }
    sh_free(argv);
    sh_free(koff);
    rbuf_fini(&tmp);
}

/* Reading the lookups back in order: a cursor per shard. */
struct look_reader {
    const struct coord *c;
    const struct sort_job *j;
    size_t *pos;
    int next;
};

static bool reader_init(struct look_reader *lr, const struct coord *c, const struct sort_job *j)
{
    long long n;

    lr->c = c;
    lr->j = j;
    lr->next = 0;
    lr->pos = sh_calloc((size_t)c->nshards, sizeof(size_t));
    for (int s = 0; s < c->nshards; s++) {
        struct sh_slice p = coord_part(c, s);

        if (p.len && !coord_read_header(p, &lr->pos[s], '*', &n)) {
            return false;
        }
    }
    return true;
}

/* The next lookup's value: true with v (v->ptr NULL: none). */
static bool reader_next(struct look_reader *lr, struct sh_slice *v)
{
    int s = lr->j->look_owner[lr->next++];

    return coord_read_bulk(coord_part(lr->c, s), &lr->pos[s], v);
}

static bool bad_part(struct reply *r)
{
    reply_error(r, "ERR internal error: bad SORT part reply");
    return true;
}

static bool job_output(struct coord *c, struct sort_job *j, struct reply *r);

/* Stage __sortsrc is back: rebuild the vector, then BY lookups or on. */
static bool done_src(struct coord *c, struct sort_job *j, struct reply *r)
{
    struct sh_slice p = coord_part(c, key_owner(c, j->argv[1])), e;
    long long flags, start, end, n;
    size_t pos = 0;

    if (p.len && p.ptr[0] == '-') {
        reply_raw(r, p.ptr, p.len);
        return true;
    }
    if (!coord_read_header(p, &pos, '*', &n) || !coord_read_header(p, &pos, ':', &flags) ||
        !coord_read_header(p, &pos, ':', &start) || !coord_read_header(p, &pos, ':', &end) ||
        !coord_read_header(p, &pos, '*', &n)) {
        return bad_part(r);
    }
    j->o.dontsort = flags & 1;
    j->o.alpha = (flags & 2) != 0;
    if (flags & 4) {
        j->o.by = 0;
    }
    j->sv.start = (long)start;
    j->sv.end = (long)end;
    vec_alloc(&j->sv, (long)n);
    for (long long i = 0; i < n; i++) {
        if (!coord_read_bulk(p, &pos, &e) || !e.ptr) {
            return bad_part(r);
        }
        vec_push(&j->sv, e);
    }
    if (!j->o.dontsort && j->o.by) {
        struct sort_pat by;

        pat_init(&by, j->argv[j->o.by]);
        if (by.kind == PAT_KEY && j->sv.n > 0) {
            struct look_req q = { &by, 1, 0, j->sv.n - 1 };

            j->phase = PH_BY;
            send_lookups(c, j, &q);
            return false;
        }
    }
    return job_output(c, j, r);
}

/* BY values are back (or none needed): score and sort. */
static bool sort_by_parts(struct coord *c, struct sort_job *j, struct reply *r)
{
    struct sort_pat by = { .kind = PAT_SELF };
    struct look_reader lr;
    bool ok = true;

    if (j->o.by) {
        pat_init(&by, j->argv[j->o.by]);
    }
    if (by.kind == PAT_KEY && !reader_init(&lr, c, j)) {
        sh_free(lr.pos);
        return !bad_part(r);
    }
    for (long i = 0; i < j->sv.n && ok; i++) {
        struct sh_slice v = vec_elem(&j->sv, i);
        bool found = by.kind == PAT_SELF;

        if (by.kind == PAT_KEY) {
            ok = reader_next(&lr, &v);
            found = v.ptr != NULL;
        }
        vec_score(&j->sv, &j->o, i, found, v);
    }
    if (by.kind == PAT_KEY) {
        sh_free(lr.pos);
    }
    if (!ok) {
        return !bad_part(r);
    }
    if (!j->sv.conv_err) {
        vec_sort(&j->sv, &j->o);
    }
    return true;
}

static bool any_key_get(const struct sort_job *j, struct sort_pat *pats)
{
    bool any = false;

    for (int g = 0; g < j->o.ngets; g++) {
        pat_init(&pats[g], j->argv[j->o.gets[g]]);
        any |= pats[g].kind == PAT_KEY;
    }
    return any;
}

/* The output from the GET values in this stage's parts (when fetched). */
static bool emit_output(struct coord *c, struct sort_job *j, struct reply *r, bool fetched)
{
    struct sort_pat *pats = sh_calloc((size_t)(j->o.ngets ? j->o.ngets : 1), sizeof(*pats));
    long long n = out_len(&j->sv, &j->o);
    struct sh_slice *argv = NULL;
    struct look_reader lr = { 0 };
    bool ok = true, fin = true;
    struct rbuf tmp;
    struct reply out = { .buf = &tmp, .proto = r->proto };
    long a = 2;

    rbuf_init(&tmp);

    any_key_get(j, pats);
    if (fetched && !reader_init(&lr, c, j)) {
        ok = false;
    }
    if (j->o.store) {
        argv = sh_malloc(sizeof(*argv) * (size_t)(n + 2));
        argv[0] = (struct sh_slice){ sortstore_spec.name, strlen(sortstore_spec.name) };
        argv[1] = j->argv[j->o.store];
    } else {
        reply_array(&out, n);
    }
    for (long i = j->sv.start; ok && i <= j->sv.end; i++) {
        struct sh_slice e = vec_elem(&j->sv, i);

        for (int g = 0; ok && g < (j->o.ngets ? j->o.ngets : 1); g++) {
            struct sh_slice v = e;

            if (j->o.ngets && pats[g].kind == PAT_NONE) {
                v.ptr = NULL;
            } else if (j->o.ngets && pats[g].kind == PAT_KEY) {
                ok = reader_next(&lr, &v);
            }
            if (argv) {
                argv[a++] = v.ptr ? v : (struct sh_slice){ "", 0 };
            } else if (v.ptr) {
                reply_bulk(&out, v.ptr, v.len);
            } else {
                reply_null(&out);
            }
        }
    }
    if (!ok) {
        bad_part(r);
    } else if (!argv) {
        reply_raw(r, tmp.data, tmp.len);
    } else {
        uint64_t h;

        j->phase = PH_STORE;
        coord_send(c, shard_owner(c->nshards, argv[1].ptr, argv[1].len, &h), &sortstore_spec,
                   c->dbid, (int)a, argv);
        fin = false;
    }
    rbuf_fini(&tmp);
    sh_free(argv);
    sh_free(lr.pos);
    sh_free(pats);
    return fin;
}

/* Sorted: GET lookups for the output range, or the output now. */
static bool job_output(struct coord *c, struct sort_job *j, struct reply *r)
{
    struct sort_pat *pats;
    bool any;

    if (!j->o.dontsort && !sort_by_parts(c, j, r)) {
        return true;
    }
    if (j->sv.conv_err) {
        reply_error(r, ERR_SCORES);
        return true;
    }
    pats = sh_calloc((size_t)(j->o.ngets ? j->o.ngets : 1), sizeof(*pats));
    any = any_key_get(j, pats);
    if (any && j->sv.end >= j->sv.start) {
        struct look_req q = { pats, j->o.ngets, j->sv.start, j->sv.end };

        j->phase = PH_GET;
        send_lookups(c, j, &q);
        sh_free(pats);
        return false;
    }
    sh_free(pats);
    return emit_output(c, j, r, false);
}

/* __sortlist's reply is back: store it on the destination's owner. */
static bool done_list(struct coord *c, struct sort_job *j, struct reply *r)
{
    struct sh_slice p = coord_part(c, key_owner(c, j->argv[1]));
    struct sh_slice *argv;
    long long n;
    size_t pos = 0;
    uint64_t h;

    if (p.len && p.ptr[0] == '-') {
        reply_raw(r, p.ptr, p.len);
        return true;
    }
    if (!coord_read_header(p, &pos, '*', &n) || n < 0) {
        return bad_part(r);
    }
    argv = sh_malloc(sizeof(*argv) * (size_t)(n + 2));
    argv[0] = (struct sh_slice){ sortstore_spec.name, strlen(sortstore_spec.name) };
    argv[1] = j->argv[j->o.store];
    for (long long i = 0; i < n; i++) {
        if (!coord_read_bulk(p, &pos, &argv[i + 2]) || !argv[i + 2].ptr) {
            sh_free(argv);
            return bad_part(r);
        }
    }
    j->phase = PH_STORE;
    coord_send(c, shard_owner(c->nshards, argv[1].ptr, argv[1].len, &h), &sortstore_spec, c->dbid,
               (int)n + 2, argv);
    sh_free(argv);
    return false;
}

static void sort_start(struct coord *c)
{
    struct sort_job *j = c->ext;

    if (!j) {
        /* EXEC's nested run: every shard is locked; run globally */
        struct reply er;
        bool ro = !strcmp(c->cmd->fullname, "sort_ro");

        j = job_new(JOB_GLOBAL);
        j->argc = c->argc;
        j->argv = c->argv;
        c->ext = j;
        er = (struct reply){ .buf = &j->err, .proto = c->proto };
        if (!sort_parse(j->argc, j->argv, ro, &j->o, &er)) {
            return;
        }
    }
    if (j->mode == JOB_RUN) {
        bool list = j->o.store && key_owner(c, j->argv[j->o.store]) != key_owner(c, j->argv[1]);

        j->phase = list ? PH_LIST : PH_RUN;
        c->part_proto = (uint8_t)c->proto; /* the reply goes out as it comes */
        send_whole(c, j, list ? &sortlist_spec : &sortrun_spec);
        return;
    }
    j->phase = PH_SRC;
    send_whole(c, j, &sortsrc_spec);
}

static bool sort_done(struct coord *c, struct reply *r)
{
    struct sort_job *j = c->ext;
    struct sh_slice p;
    bool fin = true;

    if (j->err.len) {
        reply_raw(r, j->err.data, j->err.len);
        job_free(j);
        return true;
    }
    c->part_proto = 2;
    switch (j->phase) {
    case PH_RUN:
        p = coord_part(c, key_owner(c, j->argv[1]));
        reply_raw(r, p.ptr, p.len);
        break;
    case PH_LIST:
        fin = done_list(c, j, r);
        break;
    case PH_SRC:
        fin = done_src(c, j, r);
        break;
    case PH_BY:
        fin = job_output(c, j, r);
        break;
    case PH_GET:
        fin = emit_output(c, j, r, true);
        break;
    case PH_STORE:
        p = coord_part(c, key_owner(c, j->argv[j->o.store]));
        reply_raw(r, p.ptr, p.len);
        break;
    }
    if (fin) {
        job_free(j);
    }
    return fin;
}

static const struct gather gather_sort = { .start = sort_start,
                                           .done = sort_done,
                                           .barrier = true };

/* ---- the handler (client's core) ---- */

/* Does the SORT read pattern keys? *local: all of them are on shard
 * `owner` (by their {tag}). */
static bool needs_reads(const struct cmd_ctx *ctx, const struct sort_opts *o, int owner,
                        bool *local)
{
    int nshards = ctx->shard->srv->nshards;
    bool reads = false;
    struct sort_pat p;

    *local = true;
    if (o->by && !o->dontsort) {
        pat_init(&p, ctx->argv[o->by]);
        reads = p.kind == PAT_KEY;
        *local = !reads || pat_static_owner(&p, nshards) == owner;
    }
    for (int g = 0; g < o->ngets; g++) {
        pat_init(&p, ctx->argv[o->gets[g]]);
        if (p.kind == PAT_KEY) {
            reads = true;
            *local &= pat_static_owner(&p, nshards) == owner;
        }
    }
    return reads;
}

static void sort_generic(struct cmd_ctx *ctx, bool ro)
{
    struct shard *sh = ctx->shard;
    int nshards = sh->srv->nshards, src, dst;
    struct sort_opts o;
    struct sort_job *j;
    struct sh_slice pairs[4];
    bool local, reads;
    uint64_t h;

    if (!sort_parse(ctx->argc, ctx->argv, ro, &o, &ctx->r)) {
        return;
    }
    src = shard_owner(nshards, ctx->argv[1].ptr, ctx->argv[1].len, &h);
    dst = o.store ? shard_owner(nshards, ctx->argv[o.store].ptr, ctx->argv[o.store].len, &h) : src;
    reads = needs_reads(ctx, &o, src, &local);
    if (nshards == 1 || (src == sh->id && dst == sh->id && local && sched_quiet(&sh->sched))) {
        sort_local(ctx, &o, OUT_REPLY);
        opts_fini(&o);
        return;
    }
    j = job_new(reads && !local ? JOB_GLOBAL : JOB_RUN);
    j->o = o;
    job_copy_argv(j, ctx->argc, ctx->argv);
    if (reads) {
        coord_start_txn(ctx->conn, ctx->cmd, &gather_sort, j, ctx->dbid, 0, NULL, true);
        return;
    }
    pairs[0] = (struct sh_slice){ "r", 1 };
    pairs[1] = ctx->argv[1];
    pairs[2] = (struct sh_slice){ "w", 1 };
    pairs[3] = o.store ? ctx->argv[o.store] : ctx->argv[1];
    coord_start_txn(ctx->conn, ctx->cmd, &gather_sort, j, ctx->dbid, o.store ? 2 : 1, pairs, false);
}

static void cmd_sort(struct cmd_ctx *ctx)
{
    sort_generic(ctx, false);
}

static void cmd_sort_ro(struct cmd_ctx *ctx)
{
    sort_generic(ctx, true);
}

void cmd_sort_bind(void)
{
    /* CONN: the handler picks where SORT runs; the gather is also EXEC's
     * nested coordinator (EXEC locks every shard for it) */
    cmd_must_bind("sort", cmd_sort, CMD_ROUTE_CONN, &gather_sort);
    cmd_must_bind("sort_ro", cmd_sort_ro, CMD_ROUTE_CONN, &gather_sort);
}
