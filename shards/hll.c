/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * hll.c: HyperLogLog over string values, the bytes of Redis 7.0's
 * hyperloglog.c (see hll.h for the contract).
 *
 * Layout of a value (all little-endian):
 *
 *   0      4   5     8                16
 *   +------+---+-----+----------------+---------------------------------+
 *   | HYLL | E | 000 | cached card.   | registers: dense or sparse      |
 *   +------+---+-----+----------------+---------------------------------+
 *                      bit 63 set: stale
 *
 *   dense (E = 0): 16384 registers of 6 bits, LSB first; every 3 bytes
 *   hold 4 registers, so register i is bits 6*(i%4) .. of the 24-bit
 *   little-endian word at byte 3*(i/4):
 *
 *     byte: |11000000|22221111|33333322|   (digit: the register's bits)
 *
 *   sparse (E = 1): runs, positional from register 0, covering exactly
 *   16384 registers:
 *     00xxxxxx           ZERO   xxxxxx+1 (1..64) registers at 0
 *     01xxxxxx yyyyyyyy  XZERO  (xxxxxx yyyyyyyy)+1 (1..16384) at 0
 *     1vvvvvxx           VAL    xx+1 (1..4) registers at vvvvv+1 (1..32)
 *
 * Updates follow Redis's algorithm step for step (so the bytes agree): a
 * sparse register update splits the run that covers it into at most three
 * opcodes, merges equal neighbouring VALs among the next few opcodes, and
 * turns the value dense when a register passes 32 or the bytes would pass
 * hll-sparse-max-bytes. Counting builds the histogram of register values
 * and applies Ertl's improved estimator ("New cardinality estimation
 * algorithms for HyperLogLog sketches", arXiv:1702.01284), as Redis 7.0.
 *
 * Bounds: sparse opcodes are read through sp_read, which never reads past
 * the string (a cut XZERO reads its missing byte as 0, as Redis reads the
 * sds terminator); runs that pass register 16383 stop a walk with -EINVAL
 * before anything is written; dense registers live in whole 3-byte groups.
 *
 * Threading: pure functions over the caller's bytes; no state.
 */
#include "shardis/hll.h"

#include "shardis/kval.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

#define HLL_Q           (64 - HLL_P) /* hash bits left for the run of zeros */
#define HLL_DENSE_BYTES (HLL_DENSE_SIZE - HLL_HDR_SIZE)
#define HLL_ALPHA_INF   0.721347520444481703680 /* 0.5 / ln(2) */
#define HLL_CARD_OFF    8
#define HLL_ENC_OFF     4

#define SP_XZERO_BIT     0x40
#define SP_VAL_BIT       0x80
#define SP_VAL_MAX_VALUE 32
#define SP_VAL_MAX_LEN   4
#define SP_ZERO_MAX_LEN  64

enum sp_kind { SP_ZERO, SP_XZERO, SP_VAL };

struct sp_op {
    enum sp_kind kind;
    long span; /* registers covered */
    int val;   /* their value (0 for the zero runs) */
    int oplen; /* bytes of the opcode */
};

/* ---- hashing ---- */

static uint64_t load64le(const uint8_t *p)
{
    uint64_t v = 0;

    for (int i = 7; i >= 0; i--) {
        v = v << 8 | p[i];
    }
    return v;
}

uint64_t hll_murmur64a(const void *key, size_t len, uint64_t seed)
{
    const uint64_t m = 0xc6a4a7935bd1e995ULL;
    const int r = 47;
    const uint8_t *data = key;
    size_t body = len - (len & 7);
    uint64_t h = seed ^ (len * m);

    for (size_t i = 0; i < body; i += 8) {
        uint64_t k = load64le(data + i);

        k *= m;
        k ^= k >> r;
        k *= m;
        h ^= k;
        h *= m;
    }
    if (len & 7) {
        uint64_t t = 0;

        for (size_t i = 0; i < (len & 7); i++) {
            t |= (uint64_t)data[body + i] << (8 * i);
        }
        h ^= t;
        h *= m;
    }
    h ^= h >> r;
    h *= m;
    h ^= h >> r;
    return h;
}

/* The register an element maps to (*reg) and the length of the run of
 * zeros above the index bits, plus one (1 .. HLL_Q + 1). */
static int pattern_len(const void *ele, size_t len, long *reg)
{
    uint64_t h = hll_murmur64a(ele, len, HLL_HASH_SEED);

    *reg = (long)(h & (HLL_REGISTERS - 1));
    h >>= HLL_P;
    h |= 1ULL << HLL_Q; /* bounds the count at HLL_Q + 1 */
    return __builtin_ctzll(h) + 1;
}

/* ---- header ---- */

bool hll_is_valid(const void *p, size_t len)
{
    const uint8_t *b = p;

    if (len < HLL_HDR_SIZE || memcmp(b, "HYLL", 4) != 0 || b[HLL_ENC_OFF] > HLL_SPARSE) {
        return false;
    }
    return b[HLL_ENC_OFF] != HLL_DENSE || len == HLL_DENSE_SIZE;
}

enum hll_encoding hll_encoding_of(const void *p)
{
    return ((const uint8_t *)p)[HLL_ENC_OFF] == HLL_DENSE ? HLL_DENSE : HLL_SPARSE;
}

bool hll_cache_get(const void *p, uint64_t *card)
{
    const uint8_t *c = (const uint8_t *)p + HLL_CARD_OFF;

    if (c[7] & 0x80) {
        return false;
    }
    *card = load64le(c);
    return true;
}

void hll_cache_set(void *p, uint64_t card)
{
    uint8_t *c = (uint8_t *)p + HLL_CARD_OFF;

    for (int i = 0; i < 8; i++) {
        c[i] = (uint8_t)(card >> (8 * i));
    }
}

void hll_cache_invalidate(void *p)
{
    ((uint8_t *)p)[HLL_CARD_OFF + 7] |= 0x80;
}

/* ---- dense registers ---- */

static unsigned dense_get(const uint8_t *r, long i)
{
    const uint8_t *g = r + (i >> 2) * 3;
    uint32_t w = g[0] | (uint32_t)g[1] << 8 | (uint32_t)g[2] << 16;

    return (w >> ((i & 3) * 6)) & 63;
}

static void dense_put(uint8_t *r, long i, unsigned v)
{
    uint8_t *g = r + (i >> 2) * 3;
    unsigned sh = (unsigned)(i & 3) * 6;
    uint32_t w = g[0] | (uint32_t)g[1] << 8 | (uint32_t)g[2] << 16;

    w = (w & ~(63u << sh)) | (v & 63u) << sh;
    g[0] = (uint8_t)w;
    g[1] = (uint8_t)(w >> 8);
    g[2] = (uint8_t)(w >> 16);
}

/* Redis's hllDenseSet: 1 when the register grew to count. */
static int dense_set(uint8_t *r, long i, unsigned count)
{
    if (count > dense_get(r, i)) {
        dense_put(r, i, count);
        return 1;
    }
    return 0;
}

static void dense_histo(const uint8_t *r, int histo[64])
{
    for (size_t g = 0; g < HLL_DENSE_BYTES; g += 3) {
        uint32_t w = r[g] | (uint32_t)r[g + 1] << 8 | (uint32_t)r[g + 2] << 16;

        histo[w & 63]++;
        histo[(w >> 6) & 63]++;
        histo[(w >> 12) & 63]++;
        histo[(w >> 18) & 63]++;
    }
}

/* ---- sparse opcodes ---- */

static uint8_t sp_val_byte(int val, long len)
{
    return (uint8_t)(SP_VAL_BIT | (val - 1) << 2 | (len - 1));
}

/* Decodes the opcode at ops[i] (i < n). */
static void sp_read(const uint8_t *ops, size_t n, size_t i, struct sp_op *op)
{
    uint8_t b = ops[i];

    if ((b & 0xc0) == 0) {
        *op = (struct sp_op){ SP_ZERO, (b & 0x3f) + 1, 0, 1 };
    } else if ((b & 0xc0) == SP_XZERO_BIT) {
        long lo = i + 1 < n ? ops[i + 1] : 0;

        *op = (struct sp_op){ SP_XZERO, (((long)b & 0x3f) << 8 | lo) + 1, 0, 2 };
    } else {
        *op = (struct sp_op){ SP_VAL, (b & 3) + 1, ((b >> 2) & 0x1f) + 1, 1 };
    }
}

/* Writes a zero run of len registers at out: returns its bytes. */
static int sp_put_zero(uint8_t *out, long len)
{
    if (len > SP_ZERO_MAX_LEN) {
        out[0] = (uint8_t)(SP_XZERO_BIT | (len - 1) >> 8);
        out[1] = (uint8_t)((len - 1) & 0xff);
        return 2;
    }
    out[0] = (uint8_t)(len - 1);
    return 1;
}

/* Merges the sparse opcodes into regs (max); 0, or -EINVAL unless they
 * cover exactly HLL_REGISTERS registers. */
static int sparse_merge(const uint8_t *ops, size_t n, uint8_t *regs)
{
    struct sp_op op;
    long idx = 0;

    for (size_t i = 0; i < n; i += (size_t)op.oplen) {
        sp_read(ops, n, i, &op);
        if (idx + op.span > HLL_REGISTERS) {
            return -EINVAL;
        }
        for (long k = 0; op.kind == SP_VAL && k < op.span; k++) {
            if (regs[idx + k] < op.val) {
                regs[idx + k] = (uint8_t)op.val;
            }
        }
        idx += op.span;
    }
    return idx == HLL_REGISTERS ? 0 : -EINVAL;
}

static int sparse_histo(const uint8_t *ops, size_t n, int histo[64])
{
    struct sp_op op;
    long idx = 0;

    for (size_t i = 0; i < n; i += (size_t)op.oplen) {
        sp_read(ops, n, i, &op);
        if (idx + op.span > HLL_REGISTERS) {
            return -EINVAL;
        }
        histo[op.val] += (int)op.span;
        idx += op.span;
    }
    return idx == HLL_REGISTERS ? 0 : -EINVAL;
}

/* ---- estimator ---- */

static double hll_sigma(double x)
{
    double y = 1, z = x, zprev;

    if (x == 1.) {
        return INFINITY;
    }
    do {
        x *= x;
        zprev = z;
        z += x * y;
        y += y;
    } while (zprev != z);
    return z;
}

static double hll_tau(double x)
{
    double y = 1.0, z = 1 - x, zprev;

    if (x == 0. || x == 1.) {
        return 0.;
    }
    do {
        x = sqrt(x);
        zprev = z;
        y *= 0.5;
        z -= pow(1 - x, 2) * y;
    } while (zprev != z);
    return z / 3;
}

static uint64_t estimate(const int histo[64])
{
    double m = HLL_REGISTERS;
    double z = m * hll_tau((m - histo[HLL_Q + 1]) / m);

    for (int j = HLL_Q; j >= 1; j--) {
        z += histo[j];
        z *= 0.5;
    }
    z += m * hll_sigma(histo[0] / m);
    return (uint64_t)llroundl(HLL_ALPHA_INF * m * m / z);
}

int hll_count(const void *p, size_t len, uint64_t *card)
{
    const uint8_t *b = p;
    int histo[64] = { 0 };

    if (b[HLL_ENC_OFF] == HLL_DENSE) {
        dense_histo(b + HLL_HDR_SIZE, histo);
    } else if (sparse_histo(b + HLL_HDR_SIZE, len - HLL_HDR_SIZE, histo) != 0) {
        return -EINVAL;
    }
    *card = estimate(histo);
    return 0;
}

uint64_t hll_count_registers(const uint8_t regs[HLL_REGISTERS])
{
    int histo[64] = { 0 };

    for (long i = 0; i < HLL_REGISTERS; i++) {
        histo[regs[i] & 63]++;
    }
    return estimate(histo);
}

/* ---- changing a value ---- */

int hll_create(struct kval *v)
{
    uint8_t b[HLL_HDR_SIZE + 2] = { 'H', 'Y', 'L', 'L', HLL_SPARSE };

    sp_put_zero(b + HLL_HDR_SIZE, HLL_REGISTERS);
    if (kval_set_string(v, b, sizeof(b)) != 0) {
        return -ENOMEM;
    }
    /* the HLL code writes a struct kstr in place (not a bare string) */
    return kval_make_raw(v, sizeof(b)) ? 0 : -ENOMEM;
}

int hll_registers(const void *p, size_t len, uint8_t regs[HLL_REGISTERS])
{
    const uint8_t *b = p;

    memset(regs, 0, HLL_REGISTERS);
    if (b[HLL_ENC_OFF] == HLL_SPARSE) {
        return sparse_merge(b + HLL_HDR_SIZE, len - HLL_HDR_SIZE, regs);
    }
    for (long i = 0; i < HLL_REGISTERS; i++) {
        regs[i] = (uint8_t)dense_get(b + HLL_HDR_SIZE, i);
    }
    return 0;
}

int hll_to_dense(struct kval *v)
{
    uint8_t regs[HLL_REGISTERS], hdr[HLL_HDR_SIZE];
    struct kstr *s = v->u.s;

    if (s->data[HLL_ENC_OFF] == HLL_DENSE) {
        return 0;
    }
    if (hll_registers(s->data, s->len, regs) != 0) {
        return -EINVAL;
    }
    memcpy(hdr, s->data, HLL_HDR_SIZE);
    s = kval_make_raw(v, HLL_DENSE_SIZE);
    if (!s) {
        return -ENOMEM;
    }
    memcpy(s->data, hdr, HLL_HDR_SIZE);
    s->data[HLL_ENC_OFF] = HLL_DENSE;
    memset(s->data + HLL_HDR_SIZE, 0, HLL_DENSE_BYTES);
    for (long i = 0; i < HLL_REGISTERS; i++) {
        if (regs[i]) {
            dense_put((uint8_t *)s->data + HLL_HDR_SIZE, i, regs[i]);
        }
    }
    s->len = HLL_DENSE_SIZE;
    return 1;
}

/* Turns v dense and sets register index to count (Redis's "promote"). */
static int sparse_promote(struct kval *v, long index, unsigned count)
{
    int rc = hll_to_dense(v);

    if (rc < 0) {
        return rc;
    }
    return dense_set((uint8_t *)v->u.s->data + HLL_HDR_SIZE, index, count);
}

/* Step 4 of Redis's hllSparseSet: merges equal adjacent VALs among the
 * five opcodes from at. Returns the new opcode bytes. */
static size_t sparse_merge_vals(uint8_t *ops, size_t n, size_t at)
{
    int scan = 5;

    while (at < n && scan--) {
        uint8_t b = ops[at];

        if (!(b & SP_VAL_BIT)) {
            at += (b & 0xc0) == SP_XZERO_BIT ? 2 : 1;
            continue;
        }
        if (at + 1 < n && (ops[at + 1] & SP_VAL_BIT)) {
            int v1 = ((b >> 2) & 0x1f) + 1, v2 = ((ops[at + 1] >> 2) & 0x1f) + 1;
            long len = (b & 3) + 1 + (ops[at + 1] & 3) + 1;

            if (v1 == v2 && len <= SP_VAL_MAX_LEN) {
                ops[at + 1] = sp_val_byte(v1, len);
                memmove(ops + at, ops + at + 1, n - at - 1);
                n--;
                continue; /* try the merged one with its right neighbour */
            }
        }
        at++;
    }
    return n;
}

/* The opcodes that replace run op (at first) once register index holds
 * count: at most 5 bytes in seq; returns their number. */
static int sparse_split(const struct sp_op *op, long first, long index, unsigned count,
                        uint8_t seq[5])
{
    long last = first + op->span - 1;
    int n = 0;

    if (op->kind != SP_VAL) {
        if (index != first) {
            n += sp_put_zero(seq + n, index - first);
        }
        seq[n++] = sp_val_byte((int)count, 1);
        if (index != last) {
            n += sp_put_zero(seq + n, last - index);
        }
        return n;
    }
    if (index != first) {
        seq[n++] = sp_val_byte(op->val, index - first);
    }
    seq[n++] = sp_val_byte((int)count, 1);
    if (index != last) {
        seq[n++] = sp_val_byte(op->val, last - index);
    }
    return n;
}

/* Redis's hllSparseSet: 1 updated, 0 no change, -EINVAL, -ENOMEM. */
static int sparse_set(struct kval *v, long index, unsigned count, size_t sparse_max)
{
    struct sp_op op = { 0 };
    struct kstr *s;
    uint8_t *ops, seq[5];
    size_t n, i, prev = 0;
    long first = 0, delta;
    bool found = false;
    int seqlen;

    if (count > SP_VAL_MAX_VALUE) {
        return sparse_promote(v, index, count);
    }
    s = kval_make_raw(v, v->u.s->len + 3); /* the worst split grows by 3 */
    if (!s) {
        return -ENOMEM;
    }
    ops = (uint8_t *)s->data + HLL_HDR_SIZE;
    n = s->len - HLL_HDR_SIZE;
    for (i = 0; i < n; i += (size_t)op.oplen) {
        sp_read(ops, n, i, &op);
        if (index <= first + op.span - 1) {
            found = true;
            break;
        }
        prev = i;
        first += op.span;
    }
    if (!found) {
        return -EINVAL;
    }
    if (op.kind == SP_VAL && op.val >= (int)count) {
        return 0;
    }
    if (op.kind != SP_XZERO && op.span == 1) {
        ops[i] = sp_val_byte((int)count, 1);
    } else {
        size_t next = i + (size_t)op.oplen, newn;

        seqlen = sparse_split(&op, first, index, count, seq);
        delta = seqlen - op.oplen;
        if (delta > 0 && s->len + (size_t)delta > sparse_max) {
            return sparse_promote(v, index, count);
        }
        if (delta && next < n) {
            memmove(ops + (long)next + delta, ops + next, n - next);
        }
        newn = (size_t)((long)n + delta);
        /* a cut XZERO at the end: Redis writes the last byte past the end */
        memcpy(ops + i, seq, (size_t)seqlen < newn - i ? (size_t)seqlen : newn - i);
        n = newn;
    }
    n = sparse_merge_vals(ops, n, prev);
    s->len = HLL_HDR_SIZE + n;
    hll_cache_invalidate(s->data);
    return 1;
}

int hll_add(struct kval *v, const void *ele, size_t len, size_t sparse_max)
{
    long reg;
    int count = pattern_len(ele, len, &reg);

    if (v->u.s->data[HLL_ENC_OFF] == HLL_DENSE) {
        return dense_set((uint8_t *)v->u.s->data + HLL_HDR_SIZE, reg, (unsigned)count);
    }
    return sparse_set(v, reg, (unsigned)count, sparse_max);
}

int hll_merge(uint8_t regs[HLL_REGISTERS], const void *p, size_t len)
{
    const uint8_t *b = p;

    if (b[HLL_ENC_OFF] == HLL_SPARSE) {
        return sparse_merge(b + HLL_HDR_SIZE, len - HLL_HDR_SIZE, regs);
    }
    for (long i = 0; i < HLL_REGISTERS; i++) {
        unsigned r = dense_get(b + HLL_HDR_SIZE, i);

        if (r > regs[i]) {
            regs[i] = (uint8_t)r;
        }
    }
    return 0;
}

int hll_store(struct kval *v, const uint8_t regs[HLL_REGISTERS], bool to_dense, size_t sparse_max)
{
    if (to_dense) {
        int rc = hll_to_dense(v);

        if (rc < 0) {
            return rc;
        }
    }
    for (long j = 0; j < HLL_REGISTERS; j++) {
        if (regs[j] == 0) {
            continue;
        }
        if (v->u.s->data[HLL_ENC_OFF] == HLL_DENSE) {
            dense_set((uint8_t *)v->u.s->data + HLL_HDR_SIZE, j, regs[j]);
        } else if (sparse_set(v, j, regs[j], sparse_max) == -ENOMEM) {
            return -ENOMEM; /* -EINVAL cannot happen: v was valid */
        }
    }
    hll_cache_invalidate(v->u.s->data);
    return 0;
}

/* ---- debugging ---- */

char *hll_decode(const void *p, size_t len, size_t *out_len)
{
    const uint8_t *ops = (const uint8_t *)p + HLL_HDR_SIZE;
    size_t n = len - HLL_HDR_SIZE, at = 0;
    char *out = sh_try_malloc(n * 8 + 1); /* "Z:16384 " is the longest */
    struct sp_op op;

    if (!out) {
        return NULL;
    }

    for (size_t i = 0; i < n; i += (size_t)op.oplen) {
        sp_read(ops, n, i, &op);
        if (op.kind == SP_VAL) {
            at += (size_t)sprintf(out + at, "v:%d,%ld ", op.val, op.span);
        } else {
            at += (size_t)sprintf(out + at, "%c:%ld ", op.kind == SP_ZERO ? 'z' : 'Z', op.span);
        }
    }
    if (at) {
        at--; /* the last space */
    }
    out[at] = '\0';
    *out_len = at;
    return out;
}

static uint64_t xorshift(uint64_t *s)
{
    *s ^= *s << 13;
    *s ^= *s >> 7;
    *s ^= *s << 17;
    return *s;
}

/* Test 1: every register keeps its value and leaves its neighbours. */
static int selftest_registers(uint8_t *r, uint64_t *rnd, char *err, size_t errlen)
{
    uint8_t want[HLL_REGISTERS];

    for (int cycle = 0; cycle < 1000; cycle++) {
        for (long i = 0; i < HLL_REGISTERS; i++) {
            want[i] = (uint8_t)(xorshift(rnd) & 63);
            dense_put(r, i, want[i]);
        }
        for (long i = 0; i < HLL_REGISTERS; i++) {
            unsigned got = dense_get(r, i);

            if (got != want[i]) {
                snprintf(err, errlen, "TESTFAILED Register %ld should be %d but is %u", i, want[i],
                         got);
                return -1;
            }
        }
    }
    return 0;
}

/* One checkpoint of test 2 (j elements in both). */
static int selftest_check(const uint8_t *dense, const struct kval *sp, uint64_t j,
                          size_t sparse_max, char *err, size_t errlen)
{
    const struct kstr *s = sp->u.s;
    uint64_t c1, c2 = 0;
    int histo[64] = { 0 };
    int64_t abserr;
    uint64_t maxerr = (uint64_t)ceil(1.04 / sqrt(HLL_REGISTERS) * 6 * (double)j);

    dense_histo(dense, histo);
    c1 = estimate(histo);
    if (j < sparse_max / 2 && s->data[HLL_ENC_OFF] != HLL_SPARSE) {
        snprintf(err, errlen, "TESTFAILED sparse encoding not used");
        return -1;
    }
    if (hll_count(s->data, s->len, &c2) != 0 || c1 != c2) {
        snprintf(err, errlen, "TESTFAILED dense/sparse disagree");
        return -1;
    }
    abserr = (int64_t)j - (int64_t)c1;
    if (j == 10) {
        maxerr = 1;
    }
    if (abserr < 0) {
        abserr = -abserr;
    }
    if (abserr > (int64_t)maxerr) {
        snprintf(err, errlen, "TESTFAILED Too big error. card:%llu abserr:%llu",
                 (unsigned long long)j, (unsigned long long)abserr);
        return -1;
    }
    return 0;
}

int hll_selftest(uint64_t seed, size_t sparse_max, char *err, size_t errlen)
{
    uint8_t *dense = sh_calloc(1, HLL_DENSE_BYTES);
    uint64_t rnd = seed | 1, checkpoint = 1;
    struct kval sp = { 0 };
    int rc = selftest_registers(dense, &rnd, err, errlen);

    if (rc != 0) {
        goto out_free_dense;
    }
    memset(dense, 0, HLL_DENSE_BYTES);
    if (hll_create(&sp) != 0) {
        snprintf(err, errlen, "ERR out of memory");
        rc = -1;
        goto out_free_dense;
    }
    seed = xorshift(&rnd);
    for (uint64_t j = 1; j <= 10000000 && rc == 0; j++) {
        uint64_t ele = j ^ seed;
        uint8_t b[8];
        long reg;
        int count;

        for (int k = 0; k < 8; k++) {
            b[k] = (uint8_t)(ele >> (8 * k));
        }
        count = pattern_len(b, sizeof(b), &reg);
        dense_set(dense, reg, (unsigned)count);
        if (hll_add(&sp, b, sizeof(b), sparse_max) < 0) {
            snprintf(err, errlen, "TESTFAILED sparse add failed");
            rc = -1;
        } else if (j == checkpoint) {
            rc = selftest_check(dense, &sp, j, sparse_max, err, errlen);
            checkpoint *= 10;
        }
    }
    kval_clear(&sp);
out_free_dense:
    sh_free(dense);
    return rc;
}
