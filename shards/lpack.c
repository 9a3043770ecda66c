/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * lpack.c: the listpack (see lpack.h), in Redis 7's layout byte for byte.
 *
 *   +----------+---------+---------+---------+-----+---------+------+
 *   | bytes: 4 | count:2 | entry 0 | entry 1 | ... | entry n | 0xFF |
 *   +----------+---------+---------+---------+-----+---------+------+
 *     both little-endian; count 65535 means "too many: walk to count"
 *
 *   entry: | encoding byte(s) | integer or string bytes | back-length |
 *
 *   encoding                     then                    the entry holds
 *   0xxxxxxx                     -                       uint 0..127
 *   10xxxxxx                     x string bytes          string, len < 64
 *   110xxxxx yyyyyyyy            -                       int -4096..4095
 *   1110xxxx yyyyyyyy            xy string bytes         string, len < 4096
 *   11110000 len:4               len string bytes        string
 *   11110001 .. 11110100         2 / 3 / 4 / 8 bytes     int16/24/32/64
 *   11111111                     -                       (the end byte)
 *
 * Multi-byte numbers are little-endian; the 13-bit and wider integers are
 * two's complement. The back-length is the size of encoding + data in one
 * to five bytes of 7 bits, read from its last byte towards the front: that
 * byte holds the low 7 bits, and a set high bit means "one more byte to the
 * left". Its size thresholds (<= 127, < 16383, < 2^21-1, < 2^28-1) are
 * Redis's, not the tightest possible, because Redis's validator insists on
 * them.
 *
 * Invariants: the bytes field equals the allocation's size; the end byte is
 * last; an entry we write uses the smallest encoding, and a string that is a
 * canonical long long is written as an integer. The count field is exact
 * below 65535; once an operation takes it to 65535 it stays saturated (as
 * in Redis), and lpack_count walks.
 *
 * Every change goes through splice(): replace a byte range of whole entries
 * with at most one new entry, moving the tail once and reallocating once.
 *
 * Threading: none; a pack belongs to one shard.
 */
#include "shardis/lpack.h"

#include "shardis/util.h"

#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define COUNT_UNKNOWN UINT16_MAX
#define ENC_EOF       0xFF
#define ENC_STR32     0xF0
#define ENC_INT16     0xF1
#define ENC_INT64     0xF4
#define BACKLEN_MAX   5

/* The multi-byte integer encodings ENC_INT16 .. ENC_INT64, by index. */
static const unsigned char int_bytes[] = { 2, 3, 4, 8 };
static const long long int_min[] = { INT16_MIN, -(1LL << 23), INT32_MIN, LLONG_MIN };
static const long long int_max[] = { INT16_MAX, (1LL << 23) - 1, INT32_MAX, LLONG_MAX };

/* An entry ready to be written: hdr holds a whole integer entry, or a
 * string's encoding and length; str is the string's bytes (not copied). */
struct enc {
    unsigned char hdr[9];
    unsigned hdrlen;
    const void *str;
    size_t slen;
};

static uint64_t rd_le(const unsigned char *p, unsigned n)
{
    uint64_t v = 0;

    for (unsigned i = 0; i < n; i++) {
        v |= (uint64_t)p[i] << (8 * i);
    }
    return v;
}

static void wr_le(unsigned char *p, uint64_t v, unsigned n)
{
    for (unsigned i = 0; i < n; i++) {
        p[i] = (unsigned char)(v >> (8 * i));
    }
}

static long long sign_extend(uint64_t u, unsigned bits)
{
    long long v;

    if (bits < 64 && ((u >> (bits - 1)) & 1)) {
        u |= ~0ULL << bits;
    }
    memcpy(&v, &u, sizeof(v));
    return v;
}

/* Bytes of encoding + data of the entry at p (what its back-length says). */
static size_t enc_size(const unsigned char *p)
{
    unsigned char b = p[0];

    if (b < 0x80) {
        return 1;
    }
    if (b < 0xC0) {
        return 1 + (size_t)(b & 0x3F);
    }
    if (b < 0xE0) {
        return 2;
    }
    if (b < 0xF0) {
        return 2 + (((size_t)(b & 0x0F) << 8) | p[1]);
    }
    if (b == ENC_STR32) {
        return 5 + (size_t)rd_le(p + 1, 4);
    }
    if (b <= ENC_INT64) {
        return 1 + (size_t)int_bytes[b - ENC_INT16];
    }
    sh_panic("lpack: bad entry encoding 0x%02x", b);
}

static unsigned backlen_size(size_t l)
{
    if (l <= 127) {
        return 1;
    }
    if (l < 16383) {
        return 2;
    }
    if (l < 2097151) {
        return 3;
    }
    if (l < 268435455) {
        return 4;
    }
    return 5;
}

static void backlen_write(unsigned char *dst, size_t l)
{
    unsigned n = backlen_size(l);

    for (unsigned i = 0; i < n; i++) {
        unsigned char b = (unsigned char)((l >> (7 * (n - 1 - i))) & 127);

        dst[i] = i == 0 ? b : (unsigned char)(b | 128);
    }
}

/* Reads the back-length ending at last, using at most max bytes. Returns the
 * bytes it took (and sets *out), or 0 when it needs more than max. */
static unsigned backlen_read(const unsigned char *last, unsigned max, size_t *out)
{
    size_t v = 0;

    for (unsigned i = 0; i < max; i++) {
        unsigned char b = *(last - i);

        v |= (size_t)(b & 127) << (7 * i);
        if (!(b & 128)) {
            *out = v;
            return i + 1;
        }
    }
    return 0;
}

static size_t entry_size(const unsigned char *p)
{
    size_t l = enc_size(p);

    return l + backlen_size(l);
}

/* The entry before p, which is an entry or the end byte but not the first
 * entry. */
static const unsigned char *entry_before(const unsigned char *p)
{
    size_t l = 0;
    unsigned n = backlen_read(p - 1, BACKLEN_MAX, &l);

    SH_ASSERT(n != 0);
    return p - n - l;
}

unsigned char *lpack_create(void)
{
    unsigned char *lp = sh_malloc(LPACK_EMPTY_BYTES);

    wr_le(lp, LPACK_EMPTY_BYTES, 4);
    wr_le(lp + 4, 0, 2);
    lp[LPACK_HDR_BYTES] = ENC_EOF;
    return lp;
}

void lpack_destroy(unsigned char *lp)
{
    sh_free(lp);
}

size_t lpack_bytes(const unsigned char *lp)
{
    return (size_t)rd_le(lp, 4);
}

size_t lpack_count(const unsigned char *lp)
{
    size_t n = (size_t)rd_le(lp + 4, 2);

    if (n != COUNT_UNKNOWN) {
        return n;
    }
    n = 0;
    for (const unsigned char *p = lpack_first(lp); p; p = lpack_next(lp, p)) {
        n++;
    }
    return n;
}

const unsigned char *lpack_first(const unsigned char *lp)
{
    const unsigned char *p = lp + LPACK_HDR_BYTES;

    return *p == ENC_EOF ? NULL : p;
}

const unsigned char *lpack_last(const unsigned char *lp)
{
    const unsigned char *end = lp + lpack_bytes(lp) - 1;

    return end == lp + LPACK_HDR_BYTES ? NULL : entry_before(end);
}

const unsigned char *lpack_next(const unsigned char *lp, const unsigned char *p)
{
    const unsigned char *q = p + entry_size(p);

    SH_DEBUG_ASSERT(q < lp + lpack_bytes(lp));
    (void)lp;
    return *q == ENC_EOF ? NULL : q;
}

const unsigned char *lpack_prev(const unsigned char *lp, const unsigned char *p)
{
    return p == lp + LPACK_HDR_BYTES ? NULL : entry_before(p);
}

/* Turns index (negative from the end) into 0..n-1; false when out of range. */
static bool norm_index(long index, size_t n, size_t *out)
{
    if (index < 0) {
        unsigned long back = 0UL - (unsigned long)index;

        if (back > n) {
            return false;
        }
        *out = n - back;
        return true;
    }
    *out = (size_t)index;
    return *out < n;
}

const unsigned char *lpack_seek(const unsigned char *lp, long index)
{
    size_t n = lpack_count(lp);
    size_t i;
    const unsigned char *p;

    if (!norm_index(index, n, &i)) {
        return NULL;
    }
    if (i <= n / 2) {
        p = lpack_first(lp);
        for (; i > 0; i--) {
            p = lpack_next(lp, p);
        }
        return p;
    }
    p = lpack_last(lp);
    for (size_t k = n - 1 - i; k > 0; k--) {
        p = lpack_prev(lp, p);
    }
    return p;
}

struct lpack_val lpack_get(const unsigned char *p)
{
    struct lpack_val v = { NULL, 0, 0 };
    unsigned char b = p[0];

    if (b < 0x80) {
        v.ival = b;
    } else if (b < 0xC0) {
        v.str = (const char *)p + 1;
        v.len = b & 0x3F;
    } else if (b < 0xE0) {
        v.ival = sign_extend(((uint64_t)(b & 0x1F) << 8) | p[1], 13);
    } else if (b < 0xF0) {
        v.str = (const char *)p + 2;
        v.len = ((size_t)(b & 0x0F) << 8) | p[1];
    } else if (b == ENC_STR32) {
        v.str = (const char *)p + 5;
        v.len = (size_t)rd_le(p + 1, 4);
    } else {
        unsigned n;

        SH_ASSERT(b <= ENC_INT64);
        n = int_bytes[b - ENC_INT16];
        v.ival = sign_extend(rd_le(p + 1, n), 8 * n);
    }
    return v;
}

struct sh_slice lpack_get_slice(const unsigned char *p, char buf[static LPACK_INTBUF])
{
    struct lpack_val v = lpack_get(p);

    if (v.str) {
        return (struct sh_slice){ v.str, v.len };
    }
    return (struct sh_slice){ buf, util_ll2str(buf, v.ival) };
}

bool lpack_get_int(const unsigned char *p, long long *out)
{
    struct lpack_val v = lpack_get(p);

    if (v.str) {
        return util_str2ll(v.str, v.len, out);
    }
    *out = v.ival;
    return true;
}

bool lpack_get_double(const unsigned char *p, double *out)
{
    struct lpack_val v = lpack_get(p);

    if (v.str) {
        return util_str2d(v.str, v.len, out);
    }
    *out = (double)v.ival;
    return true;
}

bool lpack_eq(const unsigned char *p, const void *s, size_t len)
{
    char buf[LPACK_INTBUF];
    struct sh_slice v = lpack_get_slice(p, buf);

    return v.len == len && (len == 0 || memcmp(v.ptr, s, len) == 0);
}

int lpack_cmp(const unsigned char *p, const void *s, size_t len)
{
    char buf[LPACK_INTBUF];
    struct sh_slice v = lpack_get_slice(p, buf);
    size_t n = v.len < len ? v.len : len;
    int c = n ? memcmp(v.ptr, s, n) : 0;

    if (c != 0) {
        return c;
    }
    return (v.len > len) - (v.len < len);
}

/* What lpack_find looks for: the bytes, and their integer when they are the
 * canonical form of one (integer entries are compared by value). */
struct needle {
    const void *s;
    size_t len;
    bool is_int;
    long long ival;
};

static bool entry_matches(const unsigned char *p, const struct needle *nd)
{
    struct lpack_val v = lpack_get(p);

    if (v.str) {
        return v.len == nd->len && (v.len == 0 || memcmp(v.str, nd->s, v.len) == 0);
    }
    return nd->is_int && v.ival == nd->ival;
}

const unsigned char *lpack_find(const unsigned char *lp, const unsigned char *p, const void *s,
                                size_t len, unsigned skip)
{
    struct needle nd = { s, len, false, 0 };
    unsigned left = 0;

    nd.is_int = util_str2ll(s, len, &nd.ival);
    for (; p; p = lpack_next(lp, p)) {
        if (left > 0) {
            left--;
            continue;
        }
        if (entry_matches(p, &nd)) {
            return p;
        }
        left = skip;
    }
    return NULL;
}

static void enc_int(struct enc *e, long long v)
{
    uint64_t u = (uint64_t)v;
    unsigned w = 0;

    e->str = NULL;
    e->slen = 0;
    if (v >= 0 && v <= 127) {
        e->hdr[0] = (unsigned char)v;
        e->hdrlen = 1;
        return;
    }
    if (v >= -4096 && v <= 4095) {
        u &= 0x1FFF;
        e->hdr[0] = (unsigned char)(0xC0 | (u >> 8));
        e->hdr[1] = (unsigned char)(u & 0xFF);
        e->hdrlen = 2;
        return;
    }
    while (v < int_min[w] || v > int_max[w]) {
        w++;
    }
    e->hdr[0] = (unsigned char)(ENC_INT16 + w);
    wr_le(e->hdr + 1, u, int_bytes[w]);
    e->hdrlen = 1 + int_bytes[w];
}

static void enc_str(struct enc *e, const void *s, size_t len)
{
    long long v;

    if (util_str2ll(s, len, &v)) {
        enc_int(e, v);
        return;
    }
    e->str = s;
    e->slen = len;
    if (len < 64) {
        e->hdr[0] = (unsigned char)(0x80 | len);
        e->hdrlen = 1;
    } else if (len < 4096) {
        e->hdr[0] = (unsigned char)(0xE0 | (len >> 8));
        e->hdr[1] = (unsigned char)(len & 0xFF);
        e->hdrlen = 2;
    } else {
        SH_ASSERT(len <= UINT32_MAX);
        e->hdr[0] = ENC_STR32;
        wr_le(e->hdr + 1, len, 4);
        e->hdrlen = 5;
    }
}

static size_t enc_total(const struct enc *e)
{
    size_t l = e->hdrlen + e->slen;

    return l + backlen_size(l);
}

static void enc_write(unsigned char *dst, const struct enc *e)
{
    memcpy(dst, e->hdr, e->hdrlen);
    if (e->slen) {
        memcpy(dst + e->hdrlen, e->str, e->slen);
    }
    backlen_write(dst + e->hdrlen + e->slen, e->hdrlen + e->slen);
}

static void count_update(unsigned char *lp, size_t removed, size_t added)
{
    size_t n = (size_t)rd_le(lp + 4, 2);

    if (n == COUNT_UNKNOWN) {
        return;
    }
    n = n - removed + added;
    wr_le(lp + 4, n >= COUNT_UNKNOWN ? COUNT_UNKNOWN : n, 2);
}

/* Replaces the del bytes at off, which are del_n whole entries, with the
 * entry e (nothing when e is NULL). Returns the new pack. */
static unsigned char *splice(unsigned char *lp, size_t off, size_t del, size_t del_n,
                             const struct enc *e)
{
    size_t old = lpack_bytes(lp);
    size_t add = e ? enc_total(e) : 0;
    size_t tail = old - off - del;
    size_t nb = old - del + add;

    SH_ASSERT(nb <= UINT32_MAX);
    SH_DEBUG_ASSERT(!e || !e->slen || (uintptr_t)e->str >= (uintptr_t)(lp + old) ||
                    (uintptr_t)e->str + e->slen <= (uintptr_t)lp);
    if (add > del) {
        lp = sh_realloc(lp, nb);
    }
    if (add != del) {
        memmove(lp + off + add, lp + off + del, tail);
    }
    if (e) {
        enc_write(lp + off, e);
    }
    if (add < del) {
        lp = sh_realloc(lp, nb);
    }
    wr_le(lp, nb, 4);
    count_update(lp, del_n, e ? 1 : 0);
    return lp;
}

unsigned char *lpack_append(unsigned char *lp, const void *s, size_t len)
{
    struct enc e;

    enc_str(&e, s, len);
    return splice(lp, lpack_bytes(lp) - 1, 0, 0, &e);
}

unsigned char *lpack_prepend(unsigned char *lp, const void *s, size_t len)
{
    struct enc e;

    enc_str(&e, s, len);
    return splice(lp, LPACK_HDR_BYTES, 0, 0, &e);
}

unsigned char *lpack_append_int(unsigned char *lp, long long v)
{
    struct enc e;

    enc_int(&e, v);
    return splice(lp, lpack_bytes(lp) - 1, 0, 0, &e);
}

size_t lpack_fmt_double(char buf[static LPACK_DBLBUF], double v)
{
    SH_ASSERT(!isnan(v));
    if (isinf(v)) {
        return (size_t)snprintf(buf, LPACK_DBLBUF, "%s", v > 0 ? "inf" : "-inf");
    }
    if (v == 0) {
        return (size_t)snprintf(buf, LPACK_DBLBUF, "%s", signbit(v) ? "-0" : "0");
    }
    if (fabs(v) < 9007199254740992.0 && v == trunc(v)) {
        return util_ll2str(buf, (long long)v);
    }
    for (int prec = 15; prec < 17; prec++) {
        int n = snprintf(buf, LPACK_DBLBUF, "%.*g", prec, v);

        if (strtod(buf, NULL) == v) {
            return (size_t)n;
        }
    }
    return (size_t)snprintf(buf, LPACK_DBLBUF, "%.17g", v);
}

unsigned char *lpack_append_double(unsigned char *lp, double v)
{
    char buf[LPACK_DBLBUF];
    size_t n = lpack_fmt_double(buf, v);

    return lpack_append(lp, buf, n);
}

unsigned char *lpack_insert(unsigned char *lp, const unsigned char *p, enum lpack_where where,
                            const void *s, size_t len, const unsigned char **newp)
{
    size_t off = (size_t)(p - lp);
    struct enc e;

    if (where == LPACK_AFTER) {
        off += entry_size(p);
    }
    enc_str(&e, s, len);
    lp = splice(lp, off, 0, 0, &e);
    if (newp) {
        *newp = lp + off;
    }
    return lp;
}

unsigned char *lpack_replace(unsigned char *lp, const unsigned char **p, const void *s, size_t len)
{
    size_t off = (size_t)(*p - lp);
    struct enc e;

    enc_str(&e, s, len);
    lp = splice(lp, off, entry_size(*p), 1, &e);
    *p = lp + off;
    return lp;
}

unsigned char *lpack_delete(unsigned char *lp, const unsigned char *p, const unsigned char **next)
{
    size_t off = (size_t)(p - lp);

    lp = splice(lp, off, entry_size(p), 1, NULL);
    if (next) {
        *next = lp[off] == ENC_EOF ? NULL : lp + off;
    }
    return lp;
}

unsigned char *lpack_delete_range(unsigned char *lp, long index, size_t num)
{
    const unsigned char *p = lpack_seek(lp, index);
    const unsigned char *q = p;
    size_t n = 0;

    if (!p || num == 0) {
        return lp;
    }
    while (n < num && *q != ENC_EOF) {
        q += entry_size(q);
        n++;
    }
    return splice(lp, (size_t)(p - lp), (size_t)(q - p), n, NULL);
}

unsigned char *lpack_merge(unsigned char *first, unsigned char *second)
{
    size_t b1 = lpack_bytes(first);
    size_t b2 = lpack_bytes(second);
    size_t c1 = (size_t)rd_le(first + 4, 2);
    size_t c2 = (size_t)rd_le(second + 4, 2);
    size_t nb = b1 + b2 - LPACK_EMPTY_BYTES;
    size_t count = c1 + c2;

    SH_ASSERT(nb <= UINT32_MAX);
    first = sh_realloc(first, nb);
    memcpy(first + b1 - 1, second + LPACK_HDR_BYTES, b2 - LPACK_HDR_BYTES);
    wr_le(first, nb, 4);
    if (c1 == COUNT_UNKNOWN || c2 == COUNT_UNKNOWN || count > COUNT_UNKNOWN) {
        count = COUNT_UNKNOWN;
    }
    wr_le(first + 4, count, 2);
    sh_free(second);
    return first;
}

/* Bytes the first byte b of an entry needs after it before its size is
 * known: 1 for most, 2 for a 12-bit string, 5 for a 32-bit one; 0 when b is
 * no entry's encoding. */
static size_t size_header(unsigned char b)
{
    if (b < 0xE0) {
        return 1;
    }
    if (b < 0xF0) {
        return 2;
    }
    if (b == ENC_STR32) {
        return 5;
    }
    return b <= ENC_INT64 ? 1 : 0;
}

/* The size of the sound entry at p, which must end before end (the end
 * byte); 0 when it is malformed or does not fit. */
static size_t entry_check(const unsigned char *p, const unsigned char *end)
{
    size_t avail = (size_t)(end - p);
    size_t need = size_header(p[0]);
    size_t l, got = 0;
    unsigned bl;

    if (need == 0 || need > avail) {
        return 0;
    }
    l = enc_size(p);
    bl = backlen_size(l);
    if (l > avail || bl > avail - l) {
        return 0;
    }
    if (backlen_read(p + l + bl - 1, bl, &got) != bl || got != l) {
        return 0;
    }
    return l + bl;
}

int lpack_validate(const unsigned char *buf, size_t size)
{
    const unsigned char *p, *end;
    size_t n = 0, hdr_count;

    if (size < LPACK_EMPTY_BYTES || size > UINT32_MAX || rd_le(buf, 4) != size ||
        buf[size - 1] != ENC_EOF) {
        return -EINVAL;
    }
    end = buf + size - 1;
    for (p = buf + LPACK_HDR_BYTES; p < end; n++) {
        size_t es = entry_check(p, end);

        if (es == 0) {
            return -EINVAL;
        }
        p += es;
    }
    hdr_count = (size_t)rd_le(buf + 4, 2);
    if (hdr_count != COUNT_UNKNOWN && hdr_count != n) {
        return -EINVAL;
    }
    return 0;
}

const unsigned char *lpack_random(const unsigned char *lp, uint64_t rnd)
{
    size_t n = lpack_count(lp);

    return n == 0 ? NULL : lpack_seek(lp, (long)(rnd % n));
}

const unsigned char *lpack_random_pair(const unsigned char *lp, uint64_t rnd)
{
    size_t pairs = lpack_count(lp) / 2;

    return pairs == 0 ? NULL : lpack_seek(lp, (long)(2 * (rnd % pairs)));
}
