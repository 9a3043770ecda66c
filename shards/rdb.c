/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * rdb.c: Redis's RDB encoding of values, version 10 (see rdb.h).
 *
 * Primitives (Redis's rdb.c names them rdbSaveLen, rdbLoadLen ...):
 *
 *   length   00xxxxxx                      6 bits
 *            01xxxxxx xxxxxxxx             14 bits, big-endian
 *            10000000 + 4 bytes BE         32 bits
 *            10000001 + 8 bytes BE         64 bits
 *            11xxxxxx                      a special string form follows:
 *   string   len + bytes | C0 int8 | C1 int16 LE | C2 int32 LE
 *            | C3 clen len <clen bytes of LZF>
 *   double   binary: 8 bytes LE; old text form: 1 length byte (253 nan,
 *            254 +inf, 255 -inf) and the decimal text
 *
 * Values: a collection is a count and its elements, or one string holding
 * a blob in a compact layout (ziplist, zipmap, intset, listpack) that is
 * checked entry by entry before anything is read from it. Our listpack and
 * intset are Redis's layouts, so they are written as they are and a blob
 * that already fits the limits becomes the value with one copy; anything
 * else is decoded element by element into the type's own builders (tlist,
 * tset, tzset, thash), which pick the encoding the limits call for and find
 * duplicate members (an error, as in Redis).
 *
 *   ziplist  <zlbytes u32><zltail u32><zllen u16> entries... FF
 *            entry: <prevlen 1 byte, or FE + u32> <encoding> <data>
 *   zipmap   <count u8> (<len> key <len> <free u8> value <free bytes>)... FF
 *            len: 1 byte below 254, or FE + u32
 *
 * Reading never trusts a count or a length to size an allocation beyond
 * the bytes actually present (an LZF string may expand 88 times at most),
 * so a payload of n bytes costs O(n) memory whatever it claims.
 *
 * Threading: none; values belong to the caller's shard.
 */
#include "shardis/rdb.h"

#include "rdb_stream.h"
#include "shardis/crc64.h"
#include "shardis/intset.h"
#include "shardis/lpack.h"
#include "shardis/lzf.h"
#include "shardis/thash.h"
#include "shardis/tlist.h"
#include "shardis/tset.h"
#include "shardis/tstream.h"
#include "shardis/tzset.h"
#include "shardis/util.h"

#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define ENC_INT8  0
#define ENC_INT16 1
#define ENC_INT32 2
#define ENC_LZF   3

#define QL_PLAIN  1
#define QL_PACKED 2

#define LZF_MAX_RATIO 88 /* a 3-byte back reference gives 264 bytes */
#define NODE_BYTES    8192
#define DUP_DICT_MIN  32 /* past this many members, find duplicates with a dict */

/* ---- writing ---- */

void rdb_out_init(struct rdb_out *o, bool compress)
{
    o->data = NULL;
    o->len = o->cap = 0;
    o->compress = compress;
}

void rdb_out_free(struct rdb_out *o)
{
    sh_free(o->data);
    o->data = NULL;
    o->len = o->cap = 0;
}

void rdb_out_reset(struct rdb_out *o)
{
    o->len = 0;
}

static void reserve(struct rdb_out *o, size_t n)
{
    if (o->cap - o->len >= n) {
        return;
    }
    size_t cap = o->cap ? o->cap : 64;

    while (cap - o->len < n) {
        cap *= 2;
    }
    o->data = sh_realloc(o->data, cap);
    o->cap = cap;
}

void rdb_put_raw(struct rdb_out *o, const void *p, size_t n)
{
    if (n == 0) {
        return;
    }
    reserve(o, n);
    memcpy(o->data + o->len, p, n);
    o->len += n;
}

void rdb_put_byte(struct rdb_out *o, uint8_t b)
{
    rdb_put_raw(o, &b, 1);
}

static void put_be(struct rdb_out *o, uint64_t v, unsigned n)
{
    unsigned char b[8];

    for (unsigned i = 0; i < n; i++) {
        b[i] = (unsigned char)(v >> (8 * (n - 1 - i)));
    }
    rdb_put_raw(o, b, n);
}

static void put_le(struct rdb_out *o, uint64_t v, unsigned n)
{
    unsigned char b[8];

    for (unsigned i = 0; i < n; i++) {
        b[i] = (unsigned char)(v >> (8 * i));
    }
    rdb_put_raw(o, b, n);
}

void rdb_put_len(struct rdb_out *o, uint64_t len)
{
    if (len < (1 << 6)) {
        rdb_put_byte(o, (uint8_t)len);
    } else if (len < (1 << 14)) {
        rdb_put_byte(o, (uint8_t)(0x40 | (len >> 8)));
        rdb_put_byte(o, (uint8_t)len);
    } else if (len <= UINT32_MAX) {
        rdb_put_byte(o, 0x80);
        put_be(o, len, 4);
    } else {
        rdb_put_byte(o, 0x81);
        put_be(o, len, 8);
    }
}

/* The integer form of p[0..n) when it is the canonical decimal of a value
 * that fits 32 bits (Redis's rdbTryIntegerEncoding). */
static bool put_int_form(struct rdb_out *o, const char *p, size_t n)
{
    long long v;

    if (n == 0 || n > 11 || !util_str2ll(p, n, &v)) {
        return false;
    }
    if (v >= INT8_MIN && v <= INT8_MAX) {
        rdb_put_byte(o, 0xC0 | ENC_INT8);
        put_le(o, (uint64_t)v, 1);
    } else if (v >= INT16_MIN && v <= INT16_MAX) {
        rdb_put_byte(o, 0xC0 | ENC_INT16);
        put_le(o, (uint64_t)v, 2);
    } else if (v >= INT32_MIN && v <= INT32_MAX) {
        rdb_put_byte(o, 0xC0 | ENC_INT32);
        put_le(o, (uint64_t)v, 4);
    } else {
        return false;
    }
    return true;
}

/* The LZF form when it saves at least 4 bytes (Redis's rdbSaveLzfStringObject). */
static bool put_lzf_form(struct rdb_out *o, const char *p, size_t n)
{
    size_t outlen = n - 4, clen;
    char *buf = sh_try_malloc(outlen + 1);

    if (!buf) {
        return false;
    }
    clen = lzf_compress(p, n, buf, outlen);
    if (clen > 0) {
        rdb_put_byte(o, 0xC0 | ENC_LZF);
        rdb_put_len(o, clen);
        rdb_put_len(o, n);
        rdb_put_raw(o, buf, clen);
    }
    sh_free(buf);
    return clen > 0;
}

void rdb_put_string(struct rdb_out *o, const void *p, size_t n)
{
    if (put_int_form(o, p, n)) {
        return;
    }
    if (o->compress && n > 20 && put_lzf_form(o, p, n)) {
        return;
    }
    rdb_put_len(o, n);
    rdb_put_raw(o, p, n);
}

void rdb_put_ll(struct rdb_out *o, long long v)
{
    char buf[24];

    rdb_put_string(o, buf, util_ll2str(buf, v));
}

void rdb_put_ms(struct rdb_out *o, int64_t ms)
{
    put_le(o, (uint64_t)ms, 8);
}

void rdb_put_double(struct rdb_out *o, double d)
{
    uint64_t bits;

    memcpy(&bits, &d, 8);
    put_le(o, bits, 8);
}

int rdb_value_type(const struct kval *v)
{
    switch (v->type) {
    case KVAL_STRING:
        return RDB_TYPE_STRING;
    case KVAL_LIST:
        return RDB_TYPE_LIST_QUICKLIST_2;
    case KVAL_SET:
        return v->enc == KVAL_ENC_INTSET ? RDB_TYPE_SET_INTSET : RDB_TYPE_SET;
    case KVAL_ZSET:
        return v->enc == KVAL_ENC_LISTPACK ? RDB_TYPE_ZSET_LISTPACK : RDB_TYPE_ZSET_2;
    case KVAL_STREAM:
        return RDB_TYPE_STREAM_LISTPACKS_2;
    default:
        SH_ASSERT(v->type == KVAL_HASH);
        return v->enc == KVAL_ENC_LISTPACK ? RDB_TYPE_HASH_LISTPACK : RDB_TYPE_HASH;
    }
}

/* A quicklist's nodes, packed again at most NODE_BYTES each (qlist.h keeps
 * its nodes private): written to a side buffer to count them first.
 * TODO(rdb): write the qlist's own packs once qlist.h walks its nodes. */
static void put_quicklist(struct rdb_out *o, const struct kval *v)
{
    struct rdb_out nodes;
    struct tlist_iter it;
    struct sh_slice s;
    unsigned char *lp = lpack_create();
    uint64_t n = 0;

    rdb_out_init(&nodes, o->compress);
    tlist_iter_init(&it, v, 0, false);
    while (tlist_iter_next(&it, &s)) {
        if (lpack_count(lp) > 0 && lpack_bytes(lp) + s.len + 11 > NODE_BYTES) {
            rdb_put_len(&nodes, QL_PACKED);
            rdb_put_string(&nodes, lp, lpack_bytes(lp));
            lpack_destroy(lp);
            lp = lpack_create();
            n++;
        }
        lp = lpack_append(lp, s.ptr, s.len);
    }
    rdb_put_len(&nodes, QL_PACKED);
    rdb_put_string(&nodes, lp, lpack_bytes(lp));
    lpack_destroy(lp);
    rdb_put_len(o, n + 1);
    rdb_put_raw(o, nodes.data, nodes.len);
    rdb_out_free(&nodes);
}

static void put_list(struct rdb_out *o, const struct kval *v)
{
    if (v->enc == KVAL_ENC_LISTPACK) {
        rdb_put_len(o, 1);
        rdb_put_len(o, QL_PACKED);
        rdb_put_string(o, v->u.p, lpack_bytes(v->u.p));
        return;
    }
    put_quicklist(o, v);
}

static void put_set(struct rdb_out *o, const struct kval *v)
{
    struct tset_iter it;
    struct sh_slice m;

    if (v->enc == KVAL_ENC_INTSET) {
        rdb_put_string(o, v->u.p, intset_bytes(v->u.p));
        return;
    }
    rdb_put_len(o, tset_size(v));
    tset_iter_init(&it, v);
    while (tset_iter_next(&it, &m)) {
        rdb_put_string(o, m.ptr, m.len);
    }
    tset_iter_fini(&it);
}

/* ZSET_2 from the highest element down, as Redis writes its skiplist from
 * the tail, so that loading inserts each at the head cheaply. */
static void put_zset(struct rdb_out *o, const struct kval *v)
{
    struct tzset_iter it;
    struct tzset_elem e;
    size_t n = tzset_card(v);

    if (v->enc == KVAL_ENC_LISTPACK) {
        rdb_put_string(o, v->u.p, lpack_bytes(v->u.p));
        return;
    }
    rdb_put_len(o, n);
    tzset_iter_rank(&it, v, 0, true, n);
    while (tzset_iter_next(&it, &e)) {
        rdb_put_string(o, e.member.ptr, e.member.len);
        rdb_put_double(o, e.score);
    }
}

static void put_hash(struct rdb_out *o, const struct kval *v)
{
    struct thash_iter it;
    struct sh_slice f, val;

    if (v->enc == KVAL_ENC_LISTPACK) {
        rdb_put_string(o, v->u.p, lpack_bytes(v->u.p));
        return;
    }
    rdb_put_len(o, thash_len(v));
    thash_iter_init(&it, v);
    while (thash_iter_next(&it, &f, &val)) {
        rdb_put_string(o, f.ptr, f.len);
        rdb_put_string(o, val.ptr, val.len);
    }
    thash_iter_fini(&it);
}

void rdb_put_value_payload(struct rdb_out *o, const struct kval *v)
{
    char buf[24];
    const char *p;
    size_t n;

    switch (v->type) {
    case KVAL_STRING:
        p = kval_string(v, buf, &n);
        rdb_put_string(o, p, n);
        break;
    case KVAL_LIST:
        put_list(o, v);
        break;
    case KVAL_SET:
        put_set(o, v);
        break;
    case KVAL_ZSET:
        put_zset(o, v);
        break;
    case KVAL_STREAM:
        rdb_put_stream(o, tstream_of(v));
        break;
    default:
        SH_ASSERT(v->type == KVAL_HASH);
        put_hash(o, v);
        break;
    }
}

/* ---- reading: primitives ---- */

void rdb_in_init(struct rdb_in *in, const void *p, size_t len)
{
    in->p = p;
    in->len = len;
    in->pos = 0;
    in->failed = false;
    in->err[0] = '\0';
}

bool rdb_fail(struct rdb_in *in, const char *fmt, ...)
{
    va_list ap;
    int n;

    if (in->failed) {
        return false;
    }
    in->failed = true;
    va_start(ap, fmt);
    n = vsnprintf(in->err, sizeof(in->err), fmt, ap);
    va_end(ap);
    if (n >= 0 && (size_t)n < sizeof(in->err)) {
        snprintf(in->err + n, sizeof(in->err) - (size_t)n, " at offset %zu", in->pos);
    }
    return false;
}

bool rdb_get_raw(struct rdb_in *in, size_t n, const unsigned char **p)
{
    *p = in->p + in->pos;
    if (in->failed) {
        return false;
    }
    if (in->len - in->pos < n) {
        return rdb_fail(in, "%zu bytes expected, %zu left", n, in->len - in->pos);
    }
    *p = in->p + in->pos;
    in->pos += n;
    return true;
}

bool rdb_get_byte(struct rdb_in *in, uint8_t *b)
{
    const unsigned char *p;

    if (!rdb_get_raw(in, 1, &p)) {
        return false;
    }
    *b = p[0];
    return true;
}

static uint64_t rd_be(const unsigned char *p, unsigned n)
{
    uint64_t v = 0;

    for (unsigned i = 0; i < n; i++) {
        v = v << 8 | p[i];
    }
    return v;
}

static uint64_t rd_le(const unsigned char *p, unsigned n)
{
    uint64_t v = 0;

    for (unsigned i = 0; i < n; i++) {
        v |= (uint64_t)p[i] << (8 * i);
    }
    return v;
}

bool rdb_get_len(struct rdb_in *in, uint64_t *len, bool *encoded)
{
    const unsigned char *p;
    uint8_t b;

    if (encoded) {
        *encoded = false;
    }
    if (!rdb_get_byte(in, &b)) {
        return false;
    }
    switch (b >> 6) {
    case 0:
        *len = b & 0x3F;
        return true;
    case 1:
        if (!rdb_get_raw(in, 1, &p)) {
            return false;
        }
        *len = (uint64_t)(b & 0x3F) << 8 | p[0];
        return true;
    case 2:
        if (b != 0x80 && b != 0x81) {
            return rdb_fail(in, "unknown length form 0x%02x", b);
        }
        if (!rdb_get_raw(in, b == 0x80 ? 4 : 8, &p)) {
            return false;
        }
        *len = rd_be(p, b == 0x80 ? 4 : 8);
        return true;
    default:
        if (!encoded) {
            return rdb_fail(in, "length expected, string form 0x%02x found", b);
        }
        *encoded = true;
        *len = b & 0x3F;
        return true;
    }
}

bool rdb_get_ms(struct rdb_in *in, int64_t *ms)
{
    const unsigned char *p;

    if (!rdb_get_raw(in, 8, &p)) {
        return false;
    }
    *ms = (int64_t)rd_le(p, 8);
    return true;
}

bool rdb_get_double(struct rdb_in *in, double *d)
{
    const unsigned char *p;
    uint64_t bits;

    if (!rdb_get_raw(in, 8, &p)) {
        return false;
    }
    bits = rd_le(p, 8);
    memcpy(d, &bits, 8);
    return true;
}

/* The old text form of a double (ZSET scores before RDB 8). */
static bool get_text_double(struct rdb_in *in, double *d)
{
    const unsigned char *p;
    char buf[256], *end;
    uint8_t n;

    if (!rdb_get_byte(in, &n)) {
        return false;
    }
    switch (n) {
    case 253:
        *d = NAN;
        return true;
    case 254:
        *d = INFINITY;
        return true;
    case 255:
        *d = -INFINITY;
        return true;
    default:
        break;
    }
    if (!rdb_get_raw(in, n, &p)) {
        return false;
    }
    memcpy(buf, p, n);
    buf[n] = '\0';
    *d = strtod(buf, &end);
    if (n == 0 || end == buf) {
        return rdb_fail(in, "bad text double");
    }
    return true;
}

static bool get_lzf(struct rdb_in *in, struct rdb_str *s)
{
    uint64_t clen, len;
    const unsigned char *c;

    if (!rdb_get_len(in, &clen, NULL) || !rdb_get_len(in, &len, NULL)) {
        return false;
    }
    if (clen > in->len - in->pos) {
        return rdb_fail(in, "LZF string of %" PRIu64 " bytes truncated", clen);
    }
    if (len == 0 || len / LZF_MAX_RATIO > clen) {
        return rdb_fail(in, "LZF string of impossible length %" PRIu64, len);
    }
    s->owned = sh_try_malloc((size_t)len);
    if (!s->owned) {
        return rdb_fail(in, "out of memory for a string of %" PRIu64 " bytes", len);
    }
    (void)rdb_get_raw(in, (size_t)clen, &c);
    if (lzf_decompress(c, (size_t)clen, s->owned, (size_t)len) != len) {
        sh_free(s->owned);
        s->owned = NULL;
        return rdb_fail(in, "invalid LZF compressed string");
    }
    s->p = s->owned;
    s->len = (size_t)len;
    return true;
}

bool rdb_get_string(struct rdb_in *in, struct rdb_str *s)
{
    const unsigned char *p;
    uint64_t len;
    bool enc;
    int64_t v;

    s->p = NULL;
    s->len = 0;
    s->owned = NULL;
    if (!rdb_get_len(in, &len, &enc)) {
        return false;
    }
    if (!enc) {
        if (len > in->len - in->pos) {
            return rdb_fail(in, "string of %" PRIu64 " bytes truncated", len);
        }
        (void)rdb_get_raw(in, (size_t)len, &p);
        s->p = (const char *)p;
        s->len = (size_t)len;
        return true;
    }
    switch (len) {
    case ENC_INT8:
    case ENC_INT16:
    case ENC_INT32: {
        unsigned n = 1u << len;

        if (!rdb_get_raw(in, n, &p)) {
            return false;
        }
        v = (int64_t)(rd_le(p, n) << (64 - 8 * n)) >> (64 - 8 * n);
        s->len = util_ll2str(s->ibuf, v);
        s->p = s->ibuf;
        return true;
    }
    case ENC_LZF:
        return get_lzf(in, s);
    default:
        return rdb_fail(in, "unknown string encoding %" PRIu64, len);
    }
}

void rdb_str_free(struct rdb_str *s)
{
    sh_free(s->owned);
    s->owned = NULL;
}

bool rdb_skip_string(struct rdb_in *in)
{
    const unsigned char *p;
    uint64_t len, clen;
    bool enc;

    if (!rdb_get_len(in, &len, &enc)) {
        return false;
    }
    if (!enc) {
        if (len > in->len - in->pos) {
            return rdb_fail(in, "string of %" PRIu64 " bytes truncated", len);
        }
        return rdb_get_raw(in, (size_t)len, &p);
    }
    if (len <= ENC_INT32) {
        return rdb_get_raw(in, 1u << len, &p);
    }
    if (len != ENC_LZF) {
        return rdb_fail(in, "unknown string encoding %" PRIu64, len);
    }
    if (!rdb_get_len(in, &clen, NULL) || !rdb_get_len(in, &len, NULL)) {
        return false;
    }
    if (clen > in->len - in->pos) {
        return rdb_fail(in, "LZF string of %" PRIu64 " bytes truncated", clen);
    }
    return rdb_get_raw(in, (size_t)clen, &p);
}

/* ---- reading: the element sinks (one per type) ---- */

static uint64_t next_rand(uint64_t *s)
{
    uint64_t x = *s ? *s : 0x9E3779B97F4A7C15ULL;

    x ^= x >> 12;
    x ^= x << 25;
    x ^= x >> 27;
    *s = x;
    return x * 0x2545F4914F6CDD1DULL;
}

/*
 * A value being built from decoded elements: list elements, set members,
 * hash fields and values in turn, sorted-set members (score given).
 * sink_add returns false (and fails in) on a duplicate or a bad score.
 */
struct sink {
    struct rdb_in *in;
    struct kval *v;
    struct kval_limits lim;
    uint64_t *rnd;
    int type;        /* KVAL_* */
    bool have_field; /* hash: field[] holds a field waiting for its value */
    char *field;
    size_t flen;
    size_t n; /* elements taken */
};

static void sink_init(struct sink *k, struct rdb_in *in, struct kval *v, int type,
                      const struct kval_limits *lim, uint64_t *rnd, uint64_t count)
{
    *k = (struct sink){ .in = in, .v = v, .lim = *lim, .rnd = rnd, .type = type };
    /* a sorted set known to be too long for a listpack starts as a skiplist,
     * as Redis's loader does */
    if (type == KVAL_ZSET &&
        count > (uint64_t)(lim->zset_max_listpack_entries > 0 ? lim->zset_max_listpack_entries
                                                              : 0)) {
        k->lim.zset_max_listpack_entries = 0;
    }
}

static bool sink_hash(struct sink *k, const char *p, size_t len)
{
    int rc;

    if (!k->have_field) {
        sh_free(k->field);
        k->field = sh_memdup(p, len);
        k->flen = len;
        k->have_field = true;
        return true;
    }
    k->have_field = false;
    if (k->v->type == KVAL_NONE) {
        thash_init(k->v);
    }
    rc = thash_set(k->v, k->field, k->flen, p, len, &k->lim, k->rnd);
    if (rc < 0) {
        return rdb_fail(k->in, "out of memory");
    }
    return rc == 1 || rdb_fail(k->in, "duplicate hash field");
}

static bool sink_add(struct sink *k, const char *p, size_t len)
{
    bool added;

    k->n++;
    switch (k->type) {
    case KVAL_LIST:
        tlist_push(k->v, TLIST_TAIL, p, len, &k->lim);
        return true;
    case KVAL_SET:
        if (tset_try_add(k->v, p, len, &k->lim, k->rnd, &added) != 0) {
            return rdb_fail(k->in, "out of memory");
        }
        return added || rdb_fail(k->in, "duplicate set member");
    default:
        SH_ASSERT(k->type == KVAL_HASH);
        return sink_hash(k, p, len);
    }
}

static bool sink_add_scored(struct sink *k, const char *p, size_t len, double score)
{
    int rc;

    k->n++;
    if (isnan(score)) {
        return rdb_fail(k->in, "sorted set score is NaN");
    }
    if (k->v->type == KVAL_NONE) {
        tzset_init(k->v, len, &k->lim, next_rand(k->rnd));
    }
    rc = tzset_add(k->v, p, len, score, 0, NULL, &k->lim, next_rand(k->rnd));
    if (rc < 0) {
        return rdb_fail(k->in, "bad sorted set element");
    }
    return (rc & TZSET_OUT_ADDED) || rdb_fail(k->in, "duplicate sorted set member");
}

/* Ends the build: false (value cleared) on failure or when it is empty. */
static bool sink_finish(struct sink *k, bool ok)
{
    sh_free(k->field);
    k->field = NULL;
    if (ok && k->have_field) {
        ok = rdb_fail(k->in, "hash field without a value");
    }
    if (ok && k->n == 0) {
        ok = rdb_fail(k->in, "empty collection");
    }
    if (!ok) {
        kval_clear(k->v);
    }
    return ok;
}

/* ---- reading: blobs ---- */

/* Reads a string that holds a blob into *s (rdb_str_free it). */
static bool get_blob(struct rdb_in *in, struct rdb_str *s, size_t min)
{
    if (!rdb_get_string(in, s)) {
        return false;
    }
    if (s->len < min) {
        rdb_str_free(s);
        return rdb_fail(in, "blob of %zu bytes too short", s->len);
    }
    return true;
}

/* Calls sink_add for every entry of a checked listpack; with scored, its
 * entries are member,score pairs for sink_add_scored. */
static bool lpack_into(struct sink *k, const unsigned char *lp, bool scored)
{
    char buf[LPACK_INTBUF];

    for (const unsigned char *p = lpack_first(lp); p; p = lpack_next(lp, p)) {
        struct sh_slice s = lpack_get_slice(p, buf);

        if (!scored) {
            if (!sink_add(k, s.ptr, s.len)) {
                return false;
            }
            continue;
        }
        const unsigned char *sp = lpack_next(lp, p);
        double score;

        if (!sp || !lpack_get_double(sp, &score)) {
            return rdb_fail(k->in, "bad sorted set listpack score");
        }
        if (!sink_add_scored(k, s.ptr, s.len, score)) {
            return false;
        }
        p = sp;
    }
    return true;
}

/* One ziplist entry, after checking it lies inside the blob. */
struct zl_entry {
    size_t size; /* whole entry */
    const char *str;
    size_t slen;
    long long ival;
};

static bool zl_entry(const unsigned char *zl, size_t n, size_t off, size_t prev, struct zl_entry *e)
{
    size_t hs, dlen = 0, left = n - 1 - off; /* before the end byte */
    const unsigned char *p = zl + off;
    unsigned enc;

    if (left < 2) {
        return false;
    }
    hs = p[0] < 254 ? 1 : 5;
    if (p[0] == 255 || left < hs + 1 || (hs == 1 ? p[0] : rd_le(p + 1, 4)) != prev) {
        return false;
    }
    p += hs;
    left -= hs;
    enc = p[0];
    e->str = NULL;
    e->slen = 0;
    e->ival = 0;
    switch (enc >> 6) {
    case 0:
        dlen = enc & 0x3F;
        hs = 1;
        break;
    case 1:
        if (left < 2) {
            return false;
        }
        dlen = (size_t)(enc & 0x3F) << 8 | p[1];
        hs = 2;
        break;
    case 2:
        if (left < 5) {
            return false;
        }
        dlen = (size_t)rd_be(p + 1, 4);
        hs = 5;
        break;
    default:
        hs = 1;
        break;
    }
    if (enc < 0xC0) {
        if (left - hs < dlen) {
            return false;
        }
        e->str = (const char *)p + hs;
        e->slen = dlen;
    } else {
        static const unsigned char sizes[] = { [0] = 2, [1] = 4, [2] = 8, [3] = 3 };

        if (enc == 0xFE) {
            dlen = 1;
        } else if (enc >= 0xF1 && enc <= 0xFD) {
            dlen = 0;
        } else if ((enc & 0x0F) == 0) {
            dlen = sizes[(enc >> 4) & 3];
        } else {
            return false;
        }
        if (left - hs < dlen) {
            return false;
        }
        if (dlen == 0) {
            e->ival = (enc & 0x0F) - 1;
        } else {
            e->ival = (int64_t)(rd_le(p + 1, (unsigned)dlen) << (64 - 8 * dlen)) >> (64 - 8 * dlen);
        }
    }
    e->size = (size_t)(p - (zl + off)) + hs + dlen;
    return true;
}

/* Walks a ziplist blob, checking all of it (sizes, tail, count, prevlens,
 * end byte), handing each entry to sink_add (or pairs to sink_add_scored). */
static bool ziplist_into(struct sink *k, const unsigned char *zl, size_t n, bool scored)
{
    struct zl_entry e = { 0 }, member = { 0 };
    char buf[24];
    size_t off = 10, prev = 0, last = 10, count = 0;

    if (n < 11 || rd_le(zl, 4) != n || zl[n - 1] != 0xFF) {
        return rdb_fail(k->in, "bad ziplist header");
    }
    while (off < n - 1) {
        if (!zl_entry(zl, n, off, prev, &e)) {
            return rdb_fail(k->in, "bad ziplist entry");
        }
        struct sh_slice s = e.str ? (struct sh_slice){ e.str, e.slen }
                                  : (struct sh_slice){ buf, util_ll2str(buf, e.ival) };

        if (scored && count % 2 == 0) {
            member = e;
        } else if (scored) {
            double score;
            char mbuf[24];
            struct sh_slice m = member.str
                                        ? (struct sh_slice){ member.str, member.slen }
                                        : (struct sh_slice){ mbuf, util_ll2str(mbuf, member.ival) };

            if (!util_str2d(s.ptr, s.len, &score) || !sink_add_scored(k, m.ptr, m.len, score)) {
                return rdb_fail(k->in, "bad ziplist sorted set element");
            }
        } else if (!sink_add(k, s.ptr, s.len)) {
            return false;
        }
        last = off;
        prev = e.size;
        off += e.size;
        count++;
    }
    if (rd_le(zl + 4, 4) != last || (rd_le(zl + 8, 2) != 0xFFFF && rd_le(zl + 8, 2) != count) ||
        (scored && count % 2)) {
        return rdb_fail(k->in, "bad ziplist tail or count");
    }
    return true;
}

/* A zipmap length: 1 byte below 254, else 254 and 4 bytes LE. */
static bool zm_len(const unsigned char *zm, size_t n, size_t *off, size_t *len)
{
    if (*off >= n - 1) {
        return false;
    }
    if (zm[*off] < 254) {
        *len = zm[(*off)++];
        return true;
    }
    if (zm[*off] == 255 || n - 1 - *off < 5) {
        return false;
    }
    *len = (size_t)rd_le(zm + *off + 1, 4);
    *off += 5;
    return true;
}

static bool zipmap_into(struct sink *k, const unsigned char *zm, size_t n)
{
    size_t off = 1, count = 0, klen, vlen;

    if (n < 2 || zm[n - 1] != 0xFF) {
        return rdb_fail(k->in, "bad zipmap");
    }
    while (zm[off] != 0xFF || off != n - 1) {
        size_t koff, voff, fr;

        if (!zm_len(zm, n, &off, &klen) || n - 1 - off < klen) {
            return rdb_fail(k->in, "bad zipmap key");
        }
        koff = off;
        off += klen;
        if (!zm_len(zm, n, &off, &vlen) || off >= n - 1) {
            return rdb_fail(k->in, "bad zipmap value");
        }
        fr = zm[off++];
        if (n - 1 - off < vlen || n - 1 - off - vlen < fr) {
            return rdb_fail(k->in, "bad zipmap value");
        }
        voff = off;
        off += vlen + fr;
        if (!sink_add(k, (const char *)zm + koff, klen) ||
            !sink_add(k, (const char *)zm + voff, vlen)) {
            return false;
        }
        count++;
    }
    if (zm[0] < 254 && zm[0] != count) {
        return rdb_fail(k->in, "zipmap count mismatch");
    }
    return true;
}

/* ---- reading: fast paths for blobs that fit ---- */

/* Whether the entries of lp at step `stride` from p have a repeat. */
static bool lpack_has_dup(const unsigned char *lp, unsigned stride, uint64_t *rnd)
{
    size_t n = lpack_count(lp) / stride;
    char buf[LPACK_INTBUF];
    bool dup = false;

    if (n <= DUP_DICT_MIN) {
        for (const unsigned char *p = lpack_first(lp); p && !dup;) {
            const unsigned char *q = p;
            struct sh_slice s = lpack_get_slice(p, buf);

            for (unsigned i = 0; i < stride && q; i++) {
                q = lpack_next(lp, q);
            }
            dup = q && lpack_find(lp, q, s.ptr, s.len, stride - 1) != NULL;
            p = q;
        }
        return dup;
    }
    struct fdict *d = fdict_create(next_rand(rnd), 0);
    fdict_expand(d, n);
    for (const unsigned char *p = lpack_first(lp); p && !dup;) {
        struct sh_slice s = lpack_get_slice(p, buf);
        bool existed;

        dup = !fdict_try_find_or_add(d, s.ptr, s.len, NULL, 0, &existed) || existed;
        for (unsigned i = 0; i < stride && p; i++) {
            p = lpack_next(lp, p);
        }
    }
    fdict_destroy(d);
    return dup;
}

/* Whether a hash listpack can be the value as it is: pairs, within the
 * limits, no repeated field. */
static bool hash_lp_fits(const unsigned char *lp, const struct kval_limits *lim, uint64_t *rnd)
{
    size_t n = lpack_count(lp);
    char buf[LPACK_INTBUF];

    if (n == 0 || n % 2 || (long long)(n / 2) > lim->hash_max_listpack_entries) {
        return false;
    }
    for (const unsigned char *p = lpack_first(lp); p; p = lpack_next(lp, p)) {
        if ((long long)lpack_get_slice(p, buf).len > lim->hash_max_listpack_value) {
            return false;
        }
    }
    return !lpack_has_dup(lp, 2, rnd);
}

/* A sorted-set listpack that is what tzset would build: pairs in strictly
 * ascending (score, member) order, each score in lpack_fmt_double's form,
 * members unique and within the limits. */
static bool zset_lp_fits(const unsigned char *lp, const struct kval_limits *lim, uint64_t *rnd)
{
    size_t n = lpack_count(lp);
    char buf[LPACK_INTBUF], pbuf[LPACK_INTBUF], sbuf[LPACK_DBLBUF];
    struct sh_slice prev = { NULL, 0 };
    double prev_score = 0, score;

    if (n == 0 || n % 2 || (long long)(n / 2) > lim->zset_max_listpack_entries) {
        return false;
    }
    for (const unsigned char *p = lpack_first(lp); p; p = lpack_next(lp, lpack_next(lp, p))) {
        const unsigned char *sp = lpack_next(lp, p);
        struct sh_slice m = lpack_get_slice(p, buf);

        if ((long long)m.len > lim->zset_max_listpack_value || !lpack_get_double(sp, &score) ||
            !lpack_eq(sp, sbuf, lpack_fmt_double(sbuf, score))) {
            return false;
        }
        if (prev.ptr) {
            size_t l = prev.len < m.len ? prev.len : m.len;
            int c = l ? memcmp(prev.ptr, m.ptr, l) : 0;

            c = c ? c : (prev.len > m.len) - (prev.len < m.len);
            if (prev_score > score || (prev_score == score && c >= 0)) {
                return false;
            }
        }
        if (m.ptr == buf) {
            memcpy(pbuf, buf, m.len);
            m.ptr = pbuf;
        }
        prev = m;
        prev_score = score;
    }
    return !lpack_has_dup(lp, 2, rnd);
}

/* The list cap of one node under lim (tlist.h): bytes and entries. */
static bool list_lp_fits(const unsigned char *lp, const struct kval_limits *lim)
{
    static const size_t caps[] = { 4096, 8192, 16384, 32768, 65536 };
    long long f = lim->list_max_listpack_size;
    size_t bytes = 8192, count = SIZE_MAX;

    if (f < 0) {
        bytes = caps[(f < -5 ? 5 : -f) - 1];
    } else {
        count = f == 0 ? 1 : f > 32768 ? 32768 : (size_t)f;
    }
    return lpack_count(lp) > 0 && lpack_bytes(lp) <= bytes && lpack_count(lp) <= count;
}

static void set_blob(struct kval *out, int type, int enc, const struct rdb_str *s)
{
    out->type = (uint8_t)type;
    out->enc = (uint8_t)enc;
    out->u.p = sh_memdup(s->p, s->len);
}

/* ---- reading: the types ---- */

struct ctx {
    struct rdb_in *in;
    struct kval *out;
    const struct kval_limits *lim;
    uint64_t *rnd;
};

/* count, then count strings (x2 for a hash) or member/score pairs. */
static bool get_counted(struct ctx *c, int kind, int rdbtype)
{
    struct sink k;
    uint64_t n;
    bool ok;

    if (!rdb_get_len(c->in, &n, NULL)) {
        return false;
    }
    sink_init(&k, c->in, c->out, kind, c->lim, c->rnd, n);
    ok = true;
    for (uint64_t i = 0; ok && i < n; i++) {
        struct rdb_str s, f;
        double score = 0;

        ok = rdb_get_string(c->in, &s);
        if (!ok) {
            break;
        }
        if (kind == KVAL_HASH) {
            ok = rdb_get_string(c->in, &f) && sink_add(&k, s.p, s.len) && sink_add(&k, f.p, f.len);
            rdb_str_free(&f);
        } else if (kind == KVAL_ZSET) {
            ok = (rdbtype == RDB_TYPE_ZSET_2 ? rdb_get_double(c->in, &score)
                                             : get_text_double(c->in, &score)) &&
                 sink_add_scored(&k, s.p, s.len, score);
        } else {
            ok = sink_add(&k, s.p, s.len);
        }
        rdb_str_free(&s);
    }
    return sink_finish(&k, ok);
}

static bool get_quicklist(struct ctx *c, int rdbtype)
{
    struct sink k;
    uint64_t n, container = QL_PACKED;
    bool ok = true;

    if (!rdb_get_len(c->in, &n, NULL)) {
        return false;
    }
    sink_init(&k, c->in, c->out, KVAL_LIST, c->lim, c->rnd, 0);
    for (uint64_t i = 0; ok && i < n; i++) {
        struct rdb_str s;

        if (rdbtype == RDB_TYPE_LIST_QUICKLIST_2 &&
            (!rdb_get_len(c->in, &container, NULL) ||
             (container != QL_PLAIN && container != QL_PACKED))) {
            ok = rdb_fail(c->in, "bad quicklist container");
            break;
        }
        if (!rdb_get_string(c->in, &s)) {
            ok = false;
            break;
        }
        if (container == QL_PLAIN) {
            ok = sink_add(&k, s.p, s.len);
        } else if (rdbtype == RDB_TYPE_LIST_QUICKLIST) {
            ok = ziplist_into(&k, (const unsigned char *)s.p, s.len, false);
        } else if (lpack_validate((const unsigned char *)s.p, s.len) != 0) {
            ok = rdb_fail(c->in, "bad quicklist listpack");
        } else if (n == 1 && list_lp_fits((const unsigned char *)s.p, c->lim)) {
            set_blob(c->out, KVAL_LIST, KVAL_ENC_LISTPACK, &s);
            k.n = lpack_count(c->out->u.p);
        } else {
            /* an empty node is skipped, as Redis 7.0 does */
            ok = lpack_into(&k, (const unsigned char *)s.p, false);
        }
        rdb_str_free(&s);
    }
    return sink_finish(&k, ok);
}

/* An intset blob: the value as it is when it fits, else its members. */
static bool intset_into(struct ctx *c, struct sink *k, const struct rdb_str *s)
{
    struct intset *is;
    bool ok = true;

    if (intset_load(s->p, s->len, &is) != 0) {
        return rdb_fail(c->in, "bad intset");
    }
    k->n = intset_len(is);
    if ((long long)k->n <= c->lim->set_max_intset_entries) {
        *c->out = (struct kval){ .type = KVAL_SET, .enc = KVAL_ENC_INTSET, .u.p = is };
        return true;
    }
    for (size_t i = 0; ok && i < intset_len(is); i++) {
        char buf[24];

        ok = sink_add(k, buf, util_ll2str(buf, intset_get(is, i)));
    }
    intset_destroy(is);
    return ok;
}

/* A listpack blob of a hash, a sorted set or a set (Redis 7.2): the value
 * as it is when it is what our type would build, else its elements. */
static bool listpack_blob_into(struct ctx *c, struct sink *k, const struct rdb_str *s, int rdbtype)
{
    const unsigned char *b = (const unsigned char *)s->p;

    if (lpack_validate(b, s->len) != 0) {
        return rdb_fail(c->in, "bad listpack");
    }
    if ((rdbtype == RDB_TYPE_HASH_LISTPACK && hash_lp_fits(b, c->lim, c->rnd)) ||
        (rdbtype == RDB_TYPE_ZSET_LISTPACK && zset_lp_fits(b, c->lim, c->rnd))) {
        set_blob(c->out, rdbtype == RDB_TYPE_HASH_LISTPACK ? KVAL_HASH : KVAL_ZSET,
                 KVAL_ENC_LISTPACK, s);
        k->n = 1;
        return true;
    }
    if (rdbtype == RDB_TYPE_ZSET_LISTPACK) {
        sink_init(k, c->in, c->out, KVAL_ZSET, c->lim, c->rnd, lpack_count(b) / 2);
    }
    return lpack_into(k, b, rdbtype == RDB_TYPE_ZSET_LISTPACK);
}

/* A blob type: one string holding a ziplist, zipmap, intset or listpack. */
static bool get_blob_value(struct ctx *c, int rdbtype)
{
    static const int kinds[] = {
        [RDB_TYPE_HASH_ZIPMAP] = KVAL_HASH,   [RDB_TYPE_LIST_ZIPLIST] = KVAL_LIST,
        [RDB_TYPE_SET_INTSET] = KVAL_SET,     [RDB_TYPE_ZSET_ZIPLIST] = KVAL_ZSET,
        [RDB_TYPE_HASH_ZIPLIST] = KVAL_HASH,  [RDB_TYPE_HASH_LISTPACK] = KVAL_HASH,
        [RDB_TYPE_ZSET_LISTPACK] = KVAL_ZSET, [RDB_TYPE_SET_LISTPACK] = KVAL_SET,
    };
    const unsigned char *b;
    struct rdb_str s;
    struct sink k;
    bool ok = false;

    if (!get_blob(c->in, &s, 1)) {
        return false;
    }
    b = (const unsigned char *)s.p;
    sink_init(&k, c->in, c->out, kinds[rdbtype], c->lim, c->rnd, 0);
    switch (rdbtype) {
    case RDB_TYPE_HASH_ZIPMAP:
        ok = zipmap_into(&k, b, s.len);
        break;
    case RDB_TYPE_LIST_ZIPLIST:
    case RDB_TYPE_HASH_ZIPLIST:
        ok = ziplist_into(&k, b, s.len, false);
        break;
    case RDB_TYPE_ZSET_ZIPLIST:
        ok = ziplist_into(&k, b, s.len, true);
        break;
    case RDB_TYPE_SET_INTSET:
        ok = intset_into(c, &k, &s);
        break;
    default:
        ok = listpack_blob_into(c, &k, &s, rdbtype);
        break;
    }
    rdb_str_free(&s);
    return sink_finish(&k, ok);
}

bool rdb_get_value(struct rdb_in *in, int type, struct kval *out, const struct kval_limits *lim,
                   uint64_t *rnd)
{
    struct ctx c = { in, out, lim, rnd };
    struct rdb_str s;
    bool ok;

    SH_ASSERT(out->type == KVAL_NONE);
    if (in->failed) {
        return false;
    }
    switch (type) {
    case RDB_TYPE_STRING:
        if (!rdb_get_string(in, &s)) {
            return false;
        }
        ok = kval_set_string(out, s.p, s.len) == 0 || rdb_fail(in, "out of memory");
        rdb_str_free(&s);
        return ok;
    case RDB_TYPE_LIST:
        return get_counted(&c, KVAL_LIST, type);
    case RDB_TYPE_SET:
        return get_counted(&c, KVAL_SET, type);
    case RDB_TYPE_ZSET:
    case RDB_TYPE_ZSET_2:
        return get_counted(&c, KVAL_ZSET, type);
    case RDB_TYPE_HASH:
        return get_counted(&c, KVAL_HASH, type);
    case RDB_TYPE_LIST_QUICKLIST:
    case RDB_TYPE_LIST_QUICKLIST_2:
        return get_quicklist(&c, type);
    case RDB_TYPE_HASH_ZIPMAP:
    case RDB_TYPE_LIST_ZIPLIST:
    case RDB_TYPE_SET_INTSET:
    case RDB_TYPE_ZSET_ZIPLIST:
    case RDB_TYPE_HASH_ZIPLIST:
    case RDB_TYPE_HASH_LISTPACK:
    case RDB_TYPE_ZSET_LISTPACK:
    case RDB_TYPE_SET_LISTPACK:
        return get_blob_value(&c, type);
    case RDB_TYPE_MODULE:
    case RDB_TYPE_MODULE_2:
        return rdb_fail(in, "module values are not supported");
    case RDB_TYPE_STREAM_LISTPACKS:
    case RDB_TYPE_STREAM_LISTPACKS_2:
        return rdb_get_stream(in, type, out);
    default:
        return rdb_fail(in, "unknown value type %d", type);
    }
}

static bool skip_strings(struct rdb_in *in, uint64_t n, unsigned per, bool text_double,
                         bool bin_double)
{
    const unsigned char *p;
    uint8_t b;

    for (uint64_t i = 0; i < n; i++) {
        for (unsigned j = 0; j < per; j++) {
            if (!rdb_skip_string(in)) {
                return false;
            }
        }
        if (text_double && rdb_get_byte(in, &b) && b < 253 && !rdb_get_raw(in, b, &p)) {
            return false;
        }
        if (bin_double && !rdb_get_raw(in, 8, &p)) {
            return false;
        }
        if (in->failed) {
            return false;
        }
    }
    return true;
}

bool rdb_skip_value(struct rdb_in *in, int type)
{
    uint64_t n, container;

    switch (type) {
    case RDB_TYPE_STRING:
    case RDB_TYPE_HASH_ZIPMAP:
    case RDB_TYPE_LIST_ZIPLIST:
    case RDB_TYPE_SET_INTSET:
    case RDB_TYPE_ZSET_ZIPLIST:
    case RDB_TYPE_HASH_ZIPLIST:
    case RDB_TYPE_HASH_LISTPACK:
    case RDB_TYPE_ZSET_LISTPACK:
    case RDB_TYPE_SET_LISTPACK:
        return rdb_skip_string(in);
    case RDB_TYPE_LIST:
    case RDB_TYPE_SET:
    case RDB_TYPE_LIST_QUICKLIST:
        return rdb_get_len(in, &n, NULL) && skip_strings(in, n, 1, false, false);
    case RDB_TYPE_HASH:
        return rdb_get_len(in, &n, NULL) && skip_strings(in, n, 2, false, false);
    case RDB_TYPE_ZSET:
        return rdb_get_len(in, &n, NULL) && skip_strings(in, n, 1, true, false);
    case RDB_TYPE_ZSET_2:
        return rdb_get_len(in, &n, NULL) && skip_strings(in, n, 1, false, true);
    case RDB_TYPE_LIST_QUICKLIST_2:
        if (!rdb_get_len(in, &n, NULL)) {
            return false;
        }
        for (uint64_t i = 0; i < n; i++) {
            if (!rdb_get_len(in, &container, NULL) || !rdb_skip_string(in)) {
                return false;
            }
        }
        return true;
    case RDB_TYPE_STREAM_LISTPACKS:
    case RDB_TYPE_STREAM_LISTPACKS_2:
        return rdb_skip_stream(in, type == RDB_TYPE_STREAM_LISTPACKS_2);
    default:
        return rdb_fail(in, "cannot skip a value of type %d", type);
    }
}

/* ---- DUMP and RESTORE ---- */

char *rdb_dump(const struct kval *v, size_t *len)
{
    struct rdb_out o;
    uint64_t crc;

    rdb_out_init(&o, true);
    rdb_put_byte(&o, (uint8_t)rdb_value_type(v));
    rdb_put_value_payload(&o, v);
    put_le(&o, RDB_VERSION, 2);
    crc = crc64(0, o.data, o.len);
    put_le(&o, crc, 8);
    *len = o.len;
    return o.data;
}

bool rdb_restore(const void *p, size_t len, struct kval *out, const struct kval_limits *lim,
                 uint64_t *rnd, char *err, size_t errlen)
{
    const unsigned char *b = p;
    struct rdb_in in;
    uint8_t type;

    if (len < 10 || rd_le(b + len - 10, 2) > RDB_VERSION ||
        crc64(0, b, len - 8) != rd_le(b + len - 8, 8)) {
        snprintf(err, errlen, "DUMP payload version or checksum are wrong");
        return false;
    }
    /* the value may be followed by bytes before the footer: Redis ignores
     * them too */
    rdb_in_init(&in, b, len - 10);
    if (!rdb_get_byte(&in, &type) || !rdb_get_value(&in, type, out, lim, rnd)) {
        snprintf(err, errlen, "Bad data format");
        return false;
    }
    return true;
}
