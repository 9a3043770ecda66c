/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * tzset.c: the sorted set type, Redis 7.0's t_zset.c data side (see tzset.h
 * for the API and the encodings).
 *
 * Listpack encoding: one pack of pairs sorted by (score, member):
 *
 *   [member0][score0][member1][score1] ...      score0 <= score1 ...
 *
 * A score is written by lpack_fmt_double (integral values become integer
 * entries, the rest the shortest exact decimal); negative zero is written
 * as 0, as Redis 7.0 stores it (its listpack keeps integral scores as
 * integers), so ZSCORE reads 0 back from a listpack there too. Finding a
 * member, inserting and ranking walk the pack: O(n) with n bounded by
 * zset-max-listpack-entries (128).
 *
 * Skiplist encoding: a struct zskip
 *
 *   dict: fdict, FDICT_AUX        zsl: skiplist by (score, member)
 *   +-----------------------+     +-------------------------------+
 *   | aux | hdr | member    | <-- | node: member ptr, len, score  |
 *   |  .p ----------------------> | levels ...                    |
 *   +-----------------------+     +-------------------------------+
 *
 * Each member is one fdict entry (key = member bytes, no value) whose aux
 * word points to its zsl node; the node borrows the member bytes from the
 * entry. Entries never move: the dict never reallocates an entry but in
 * fdict_set_value, which is never called here (the value is always empty),
 * and rehashing only relinks entries. A node is removed from the skiplist
 * before its entry is freed. ZSCORE is one dict lookup, ranks and ranges
 * O(log n) through the skiplist's spans.
 *
 * Invariants: dict size == skiplist length; for every entry e, aux(e) is a
 * node whose member is fdict_key(e); a stored value is never empty (the
 * commands delete the key). tzset_check verifies all of it.
 *
 * Threading: none; a value belongs to the shard that owns its key.
 */
#include "shardis/tzset.h"

#include "shardis/fdict.h"
#include "shardis/lpack.h"
#include "shardis/zsl.h"

#include <assert.h>
#include <errno.h>
#include <math.h>
#include <string.h>

static_assert(LPACK_INTBUF <= TZSET_INTBUF, "an element buffer holds an integer member");

enum { ITER_ALL = 0, ITER_SCORE = 1, ITER_LEX = 2 };

struct zskip {
    struct fdict *dict;
    struct zsl *zsl;
};

/* splitmix64: derives independent seeds from one. */
static uint64_t mix(uint64_t x)
{
    x += 0x9E3779B97F4A7C15ULL;
    x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9ULL;
    x = (x ^ (x >> 27)) * 0x94D049BB133111EBULL;
    return x ^ (x >> 31);
}

/* xorshift64*: the caller's random state, advanced. */
static uint64_t next_rnd(uint64_t *state)
{
    uint64_t x = *state ? *state : 0x9E3779B97F4A7C15ULL;

    x ^= x >> 12;
    x ^= x << 25;
    x ^= x >> 27;
    *state = x;
    return x * 2685821657736338717ULL;
}

static bool is_listpack(const struct kval *v)
{
    return v->enc == KVAL_ENC_LISTPACK;
}

static struct zskip *skip_of(const struct kval *v)
{
    return v->u.p;
}

static struct zsl_node *node_of(struct fentry *e)
{
    return fdict_aux(e)->p;
}

static struct zskip *zskip_new(uint64_t seed)
{
    struct zskip *zs = sh_malloc(sizeof(*zs));

    zs->dict = fdict_create(mix(seed), FDICT_AUX);
    zs->zsl = zsl_create(mix(seed ^ 0x5A5A5A5A5A5A5A5AULL));
    return zs;
}

static void zskip_destroy(struct zskip *zs)
{
    zsl_destroy(zs->zsl);
    fdict_destroy(zs->dict);
    sh_free(zs);
}

/* Adds a member known to be absent; NULL when its bytes could not be
 * allocated (nothing changed). */
static struct zsl_node *skip_insert(struct zskip *zs, const char *m, size_t mlen, double score)
{
    struct fentry *e = fdict_try_add(zs->dict, m, mlen, NULL, 0);
    struct zsl_node *node;

    if (!e) {
        return NULL;
    }
    node = zsl_insert(zs->zsl, score, fdict_key(e), mlen);
    fdict_aux(e)->p = node;
    return node;
}

/* Unlinks e's node, then frees e. */
static void skip_remove(struct zskip *zs, struct fentry *e)
{
    struct zsl_node *node = node_of(e);

    zsl_delete(zs->zsl, node->score, fdict_key(e), fdict_klen(e));
    fdict_delete(zs->dict, e);
}

/* zsl_removed_fn of the range deletes: drops the member from the dict. */
static void skip_removed(void *arg, const struct zsl_node *node)
{
    struct zskip *zs = arg;
    bool found = fdict_delete_key(zs->dict, node->member, node->mlen);

    SH_ASSERT(found);
}

/* ---- listpack helpers ---- */

/* The score entry after member entry p. */
static double lp_score(const unsigned char *lp, const unsigned char *p)
{
    double d = 0;
    bool ok = lpack_get_double(lpack_next(lp, p), &d);

    SH_ASSERT(ok);
    return d;
}

static void lp_elem(const unsigned char *lp, const unsigned char *p, struct tzset_elem *e)
{
    e->member = lpack_get_slice(p, e->buf);
    e->score = lp_score(lp, p);
}

/* The member entry of the pair after / before the pair at member entry p. */
static const unsigned char *lp_next_pair(const unsigned char *lp, const unsigned char *p)
{
    return lpack_next(lp, lpack_next(lp, p));
}

static const unsigned char *lp_prev_pair(const unsigned char *lp, const unsigned char *p)
{
    const unsigned char *s = lpack_prev(lp, p);

    return s ? lpack_prev(lp, s) : NULL;
}

static const unsigned char *lp_find(const unsigned char *lp, const char *m, size_t mlen)
{
    const unsigned char *first = lpack_first(lp);

    return first ? lpack_find(lp, first, m, mlen, 1) : NULL;
}

/* A score as the pack stores it (negative zero as 0, see the top). */
static size_t lp_fmt_score(char buf[static LPACK_DBLBUF], double score)
{
    return lpack_fmt_double(buf, score == 0 ? 0.0 : score);
}

/* Does (score, m) sort before the pair at member entry p? */
static bool lp_before(const unsigned char *lp, const unsigned char *p, const char *m, size_t mlen,
                      double score)
{
    double s = lp_score(lp, p);

    return score < s || (score == s && lpack_cmp(p, m, mlen) > 0);
}

/* Inserts a member known to be absent at its place; returns the new pack. */
static unsigned char *lp_insert(unsigned char *lp, const char *m, size_t mlen, double score)
{
    const unsigned char *p = lpack_first(lp), *np;
    char sbuf[LPACK_DBLBUF];
    size_t slen = lp_fmt_score(sbuf, score);

    while (p && !lp_before(lp, p, m, mlen, score)) {
        p = lp_next_pair(lp, p);
    }
    if (!p) {
        lp = lpack_append(lp, m, mlen);
        return lpack_append(lp, sbuf, slen);
    }
    lp = lpack_insert(lp, p, LPACK_BEFORE, m, mlen, &np);
    return lpack_insert(lp, np, LPACK_AFTER, sbuf, slen, NULL);
}

static unsigned char *lp_delete_pair(unsigned char *lp, const unsigned char *p)
{
    const unsigned char *s;

    lp = lpack_delete(lp, p, &s);
    return lpack_delete(lp, s, NULL);
}

static size_t lp_card(const unsigned char *lp)
{
    return lpack_count(lp) / 2;
}

/* Converts a listpack value to a skiplist (sizes bounded by the limits, so
 * allocation failure aborts). */
static void to_skiplist(struct kval *v, uint64_t seed)
{
    unsigned char *lp = v->u.p;
    struct zskip *zs = zskip_new(seed);
    struct tzset_elem e;

    fdict_expand(zs->dict, lp_card(lp));
    for (const unsigned char *p = lpack_first(lp); p; p = lp_next_pair(lp, p)) {
        struct fentry *fe;

        lp_elem(lp, p, &e);
        fe = fdict_add(zs->dict, e.member.ptr, e.member.len, NULL, 0);
        fdict_aux(fe)->p = zsl_insert(zs->zsl, e.score, fdict_key(fe), e.member.len);
    }
    lpack_destroy(lp);
    v->u.p = zs;
    v->enc = KVAL_ENC_SKIPLIST;
}

/* ---- what kval.c relies on ---- */

void tzset_free(struct kval *v)
{
    if (is_listpack(v)) {
        lpack_destroy(v->u.p);
    } else {
        zskip_destroy(skip_of(v));
    }
    v->u.p = NULL;
}

size_t tzset_memory(const struct kval *v)
{
    const struct zskip *zs;

    if (is_listpack(v)) {
        return sh_alloc_size(v->u.p);
    }
    zs = skip_of(v);
    return sh_alloc_size(zs) + fdict_memory(zs->dict) + zsl_memory(zs->zsl);
}

static void put_score(struct kval_dump *d, double score)
{
    unsigned char b[8];
    uint64_t u;

    memcpy(&u, &score, sizeof(u));
    for (int i = 0; i < 8; i++) {
        b[i] = (unsigned char)(u >> (8 * i));
    }
    kval_dump_put(d, b, sizeof(b));
}

static bool get_score(struct sh_slice s, double *score)
{
    uint64_t u = 0;

    if (s.len != 8) {
        return false;
    }
    for (int i = 0; i < 8; i++) {
        u |= (uint64_t)(unsigned char)s.ptr[i] << (8 * i);
    }
    memcpy(score, &u, sizeof(u));
    return !isnan(*score);
}

void tzset_dump_put(struct kval_dump *d, const char *member, size_t mlen, double score)
{
    kval_dump_put(d, member, mlen);
    put_score(d, score);
}

bool tzset_dump_next(struct kval_dump_reader *r, struct sh_slice *member, double *score)
{
    struct sh_slice s;

    return kval_dump_next(r, member) && kval_dump_next(r, &s) && get_score(s, score);
}

char *tzset_dump(const struct kval *v, size_t *len)
{
    struct kval_dump d;
    struct tzset_iter it;
    struct tzset_elem e;

    kval_dump_init(&d);
    tzset_iter_rank(&it, v, 0, false, tzset_card(v));
    while (tzset_iter_next(&it, &e)) {
        tzset_dump_put(&d, e.member.ptr, e.member.len, e.score);
    }
    return kval_dump_finish(&d, len);
}

/* Compares (s1, m1) with (s2, m2) as the skiplist orders them. */
static int elem_cmp(double s1, struct sh_slice m1, double s2, struct sh_slice m2)
{
    size_t n = m1.len < m2.len ? m1.len : m2.len;
    int c;

    if (s1 != s2) {
        return s1 < s2 ? -1 : 1;
    }
    c = n ? memcmp(m1.ptr, m2.ptr, n) : 0;
    if (c) {
        return c;
    }
    return m1.len < m2.len ? -1 : (m1.len > m2.len);
}

/* First pass over dump bytes: pairs in strictly ascending order. Sets the
 * pair count and the longest member. */
static bool restore_scan(const char *p, size_t len, size_t *n, size_t *maxlen)
{
    struct kval_dump_reader r;
    struct sh_slice m, prev = { NULL, 0 };
    double score, prev_score = 0;

    if (!kval_dump_reader_init(&r, p, len) || r.count == 0 || r.count % 2) {
        return false;
    }
    *n = r.count / 2;
    *maxlen = 0;
    for (size_t i = 0; i < *n; i++) {
        if (!tzset_dump_next(&r, &m, &score)) {
            return false;
        }
        if (i && elem_cmp(prev_score, prev, score, m) >= 0) {
            return false;
        }
        *maxlen = m.len > *maxlen ? m.len : *maxlen;
        prev = m;
        prev_score = score;
    }
    return r.left == 0;
}

/* Builds a listpack from checked dump bytes; false on a repeated member. */
static bool restore_listpack(struct kval *v, const char *p, size_t len)
{
    struct kval_dump_reader r;
    struct sh_slice m;
    unsigned char *lp = lpack_create();
    char sbuf[LPACK_DBLBUF];
    double score;

    (void)kval_dump_reader_init(&r, p, len);
    while (tzset_dump_next(&r, &m, &score)) {
        if (lp_find(lp, m.ptr, m.len)) {
            lpack_destroy(lp);
            return false;
        }
        lp = lpack_append(lp, m.ptr, m.len);
        lp = lpack_append(lp, sbuf, lp_fmt_score(sbuf, score));
    }
    v->type = KVAL_ZSET;
    v->enc = KVAL_ENC_LISTPACK;
    v->u.p = lp;
    return true;
}

/* Builds a skiplist from checked dump bytes; -EINVAL on a repeated member,
 * -ENOMEM when a member cannot be allocated. */
static int restore_skiplist(struct kval *v, const char *p, size_t len, size_t n, uint64_t seed)
{
    struct kval_dump_reader r;
    struct sh_slice m;
    struct zskip *zs = zskip_new(seed);
    double score;

    fdict_expand(zs->dict, n);
    (void)kval_dump_reader_init(&r, p, len);
    while (tzset_dump_next(&r, &m, &score)) {
        bool existed;
        struct fentry *e = fdict_try_find_or_add(zs->dict, m.ptr, m.len, NULL, 0, &existed);

        if (!e || existed) {
            zskip_destroy(zs);
            return e ? -EINVAL : -ENOMEM;
        }
        fdict_aux(e)->p = zsl_insert(zs->zsl, score, fdict_key(e), m.len);
    }
    v->type = KVAL_ZSET;
    v->enc = KVAL_ENC_SKIPLIST;
    v->u.p = zs;
    return 0;
}

int tzset_restore_seeded(struct kval *v, const char *p, size_t len, const struct kval_limits *lim,
                         uint64_t seed)
{
    size_t n, maxlen;

    if (!restore_scan(p, len, &n, &maxlen)) {
        return -EINVAL;
    }
    if ((long long)n <= lim->zset_max_listpack_entries &&
        (long long)maxlen <= lim->zset_max_listpack_value) {
        return restore_listpack(v, p, len) ? 0 : -EINVAL;
    }
    return restore_skiplist(v, p, len, n, seed);
}

int tzset_restore(struct kval *v, const char *p, size_t len, const struct kval_limits *lim)
{
    uint64_t seed = (uint64_t)sh_mono_us() ^ ((uint64_t)(uintptr_t)v << 16);

    return tzset_restore_seeded(v, p, len, lim, mix(seed));
}

/* ---- building and changing ---- */

void tzset_init(struct kval *v, size_t first_mlen, const struct kval_limits *lim, uint64_t seed)
{
    v->type = KVAL_ZSET;
    if (lim->zset_max_listpack_entries <= 0 ||
        (long long)first_mlen > lim->zset_max_listpack_value) {
        v->enc = KVAL_ENC_SKIPLIST;
        v->u.p = zskip_new(seed);
    } else {
        v->enc = KVAL_ENC_LISTPACK;
        v->u.p = lpack_create();
    }
}

size_t tzset_card(const struct kval *v)
{
    return is_listpack(v) ? lp_card(v->u.p) : zsl_length(skip_of(v)->zsl);
}

/* The score an update of an existing member (score cur) would set, per
 * flags; false when the update is not done (NOP), -EDOM through *rc. */
static bool update_score(unsigned flags, double cur, double *score, int *rc)
{
    if (flags & TZSET_IN_NX) {
        *rc = TZSET_OUT_NOP;
        return false;
    }
    if (flags & TZSET_IN_INCR) {
        *score += cur;
        if (isnan(*score)) {
            *rc = -EDOM;
            return false;
        }
    }
    if (((flags & TZSET_IN_LT) && *score >= cur) || ((flags & TZSET_IN_GT) && *score <= cur)) {
        *rc = TZSET_OUT_NOP;
        return false;
    }
    *rc = *score != cur ? TZSET_OUT_UPDATED : 0;
    return true;
}

/* zsetAdd on a listpack; p is member's entry, or NULL when absent (the
 * caller checked XX and the limits). */
static int add_listpack(struct kval *v, const unsigned char *p, const char *m, size_t mlen,
                        double score, unsigned flags, double *newscore)
{
    int rc;

    if (!p) {
        v->u.p = lp_insert(v->u.p, m, mlen, score);
        *newscore = score;
        return TZSET_OUT_ADDED;
    }
    if (!update_score(flags, lp_score(v->u.p, p), &score, &rc)) {
        return rc;
    }
    *newscore = score;
    if (rc == TZSET_OUT_UPDATED) {
        v->u.p = lp_delete_pair(v->u.p, p);
        v->u.p = lp_insert(v->u.p, m, mlen, score);
    }
    return rc;
}

/* zsetAdd on a skiplist; e is member's entry, or NULL when absent (the
 * caller checked XX). */
static int add_skiplist(struct zskip *zs, struct fentry *e, const char *m, size_t mlen,
                        double score, unsigned flags, double *newscore)
{
    struct zsl_node *node;
    int rc;

    if (!e) {
        if (!skip_insert(zs, m, mlen, score)) {
            return -ENOMEM;
        }
        *newscore = score;
        return TZSET_OUT_ADDED;
    }
    node = node_of(e);
    if (!update_score(flags, node->score, &score, &rc)) {
        return rc;
    }
    *newscore = score;
    if (rc == TZSET_OUT_UPDATED) {
        zsl_update_score(zs->zsl, node, score);
    }
    return rc;
}

/* Would adding a new member of mlen bytes pass a listpack threshold? */
static bool passes_limits(const struct kval *v, size_t mlen, const struct kval_limits *lim)
{
    return (long long)lp_card(v->u.p) + 1 > lim->zset_max_listpack_entries ||
           (long long)mlen > lim->zset_max_listpack_value;
}

int tzset_add(struct kval *v, const char *member, size_t mlen, double score, unsigned flags,
              double *newscore, const struct kval_limits *lim, uint64_t seed)
{
    const unsigned char *p;
    struct fentry *e = NULL;
    double dummy;

    if (!newscore) {
        newscore = &dummy;
    }
    if (is_listpack(v)) {
        p = lp_find(v->u.p, member, mlen);
        if (!p && (flags & TZSET_IN_XX)) {
            return TZSET_OUT_NOP;
        }
        if (p || !passes_limits(v, mlen, lim)) {
            return add_listpack(v, p, member, mlen, score, flags, newscore);
        }
        to_skiplist(v, seed); /* the member is new: e stays NULL */
    } else {
        e = fdict_find(skip_of(v)->dict, member, mlen);
        if (!e && (flags & TZSET_IN_XX)) {
            return TZSET_OUT_NOP;
        }
    }
    return add_skiplist(skip_of(v), e, member, mlen, score, flags, newscore);
}

bool tzset_delete(struct kval *v, const char *member, size_t mlen)
{
    const unsigned char *p;
    struct fentry *e;

    if (is_listpack(v)) {
        p = lp_find(v->u.p, member, mlen);
        if (p) {
            v->u.p = lp_delete_pair(v->u.p, p);
        }
        return p != NULL;
    }
    e = fdict_find(skip_of(v)->dict, member, mlen);
    if (e) {
        skip_remove(skip_of(v), e);
    }
    return e != NULL;
}

bool tzset_score(const struct kval *v, const char *member, size_t mlen, double *score)
{
    const unsigned char *p;
    struct fentry *e;

    if (is_listpack(v)) {
        p = lp_find(v->u.p, member, mlen);
        if (p) {
            *score = lp_score(v->u.p, p);
        }
        return p != NULL;
    }
    e = fdict_find(skip_of(v)->dict, member, mlen);
    if (e) {
        *score = node_of(e)->score;
    }
    return e != NULL;
}

bool tzset_rank(const struct kval *v, const char *member, size_t mlen, bool rev, size_t *rank,
                double *score)
{
    size_t n = tzset_card(v), r = 0;
    const unsigned char *lp = v->u.p, *p;
    struct fentry *e;
    double s;

    if (is_listpack(v)) {
        for (p = lpack_first(lp); p && !lpack_eq(p, member, mlen); p = lp_next_pair(lp, p)) {
            r++;
        }
        if (!p) {
            return false;
        }
        s = lp_score(lp, p);
    } else {
        e = fdict_find(skip_of(v)->dict, member, mlen);
        if (!e) {
            return false;
        }
        s = node_of(e)->score;
        r = zsl_rank(skip_of(v)->zsl, s, member, mlen) - 1;
    }
    *rank = rev ? n - 1 - r : r;
    if (score) {
        *score = s;
    }
    return true;
}

size_t tzset_delete_rank(struct kval *v, size_t start, size_t end)
{
    struct zskip *zs;

    SH_ASSERT(start <= end && end < tzset_card(v));
    if (is_listpack(v)) {
        v->u.p = lpack_delete_range(v->u.p, (long)(2 * start), 2 * (end - start + 1));
        return end - start + 1;
    }
    zs = skip_of(v);
    return zsl_delete_range_by_rank(zs->zsl, start + 1, end + 1, skip_removed, zs);
}

/* The listpack range deletes: the first pair in the walk's range and how
 * many follow, then one lpack_delete_range. */
static size_t lp_delete_walk(struct kval *v, struct tzset_iter *it)
{
    const unsigned char *lp = v->u.p, *first = it->pos;
    struct tzset_elem e;
    size_t n = 0, index = 0;

    while (tzset_iter_next(it, &e)) {
        n++;
    }
    if (!n) {
        return 0;
    }
    for (const unsigned char *p = lpack_first(lp); p != first; p = lpack_next(lp, p)) {
        index++;
    }
    v->u.p = lpack_delete_range(v->u.p, (long)index, 2 * n);
    return n;
}

size_t tzset_delete_score(struct kval *v, const struct zsl_range *r)
{
    struct tzset_iter it;
    struct zskip *zs;

    if (is_listpack(v)) {
        tzset_iter_score(&it, v, r, false, 0, SIZE_MAX);
        return lp_delete_walk(v, &it);
    }
    zs = skip_of(v);
    return zsl_delete_range_by_score(zs->zsl, r, skip_removed, zs);
}

size_t tzset_delete_lex(struct kval *v, const struct zsl_lex_range *r)
{
    struct tzset_iter it;
    struct zskip *zs;

    if (is_listpack(v)) {
        tzset_iter_lex(&it, v, r, false, 0, SIZE_MAX);
        return lp_delete_walk(v, &it);
    }
    zs = skip_of(v);
    return zsl_delete_range_by_lex(zs->zsl, r, skip_removed, zs);
}

size_t tzset_count_score(const struct kval *v, const struct zsl_range *r)
{
    struct tzset_iter it;
    struct tzset_elem e;
    size_t n = 0;

    if (!is_listpack(v)) {
        return zsl_count_in_range(skip_of(v)->zsl, r);
    }
    tzset_iter_score(&it, v, r, false, 0, SIZE_MAX);
    while (tzset_iter_next(&it, &e)) {
        n++;
    }
    return n;
}

size_t tzset_count_lex(const struct kval *v, const struct zsl_lex_range *r)
{
    struct tzset_iter it;
    struct tzset_elem e;
    size_t n = 0;

    if (!is_listpack(v)) {
        return zsl_count_in_lex_range(skip_of(v)->zsl, r);
    }
    tzset_iter_lex(&it, v, r, false, 0, SIZE_MAX);
    while (tzset_iter_next(&it, &e)) {
        n++;
    }
    return n;
}

size_t tzset_pop(struct kval *v, bool max, size_t count, tzset_elem_fn *fn, void *arg)
{
    size_t n = tzset_card(v);
    struct tzset_iter it;
    struct tzset_elem e;

    if (count > n) {
        count = n;
    }
    if (count == 0) {
        return 0;
    }
    tzset_iter_rank(&it, v, 0, max, count);
    while (tzset_iter_next(&it, &e)) {
        fn(arg, &e);
    }
    if (max) {
        (void)tzset_delete_rank(v, n - count, n - 1);
    } else {
        (void)tzset_delete_rank(v, 0, count - 1);
    }
    return count;
}

/* ---- walking ---- */

static void iter_begin(struct tzset_iter *it, const struct kval *v, bool rev, size_t left)
{
    it->v = v;
    it->pos = NULL;
    it->node = NULL;
    it->left = left;
    it->kind = ITER_ALL;
    it->rev = rev;
}

void tzset_iter_rank(struct tzset_iter *it, const struct kval *v, size_t start, bool rev,
                     size_t count)
{
    size_t n = tzset_card(v);

    iter_begin(it, v, rev, count);
    if (start >= n || count == 0) {
        it->left = 0;
        return;
    }
    if (is_listpack(v)) {
        it->pos = lpack_seek(v->u.p, rev ? -2 - 2 * (long)start : 2 * (long)start);
    } else {
        it->node = zsl_node_by_rank(skip_of(v)->zsl, rev ? n - start : start + 1);
    }
}

/* Is e inside the walk's bound on the side the walk moves towards? */
static bool iter_in_bound(const struct tzset_iter *it, const struct tzset_elem *e)
{
    switch (it->kind) {
    case ITER_SCORE:
        return it->rev ? zsl_value_gte_min(e->score, &it->r.score)
                       : zsl_value_lte_max(e->score, &it->r.score);
    case ITER_LEX:
        return it->rev ? zsl_lex_value_gte_min(e->member.ptr, e->member.len, &it->r.lex)
                       : zsl_lex_value_lte_max(e->member.ptr, e->member.len, &it->r.lex);
    default:
        return true;
    }
}

/* Is e inside the walk's bound on the side the walk starts from? */
static bool iter_past_start(const struct tzset_iter *it, const struct tzset_elem *e)
{
    if (it->kind == ITER_SCORE) {
        return it->rev ? zsl_value_lte_max(e->score, &it->r.score)
                       : zsl_value_gte_min(e->score, &it->r.score);
    }
    return it->rev ? zsl_lex_value_lte_max(e->member.ptr, e->member.len, &it->r.lex)
                   : zsl_lex_value_gte_min(e->member.ptr, e->member.len, &it->r.lex);
}

/* Redis's zzlIsInRange / zzlIsInLexRange: the last element is above the
 * minimum and the first below the maximum (for a lex range over members of
 * different scores this decides what the walk finds, as in Redis). */
static bool lp_in_range(const struct tzset_iter *it)
{
    const unsigned char *lp = it->v->u.p, *last = lpack_seek(lp, -2);
    struct tzset_elem lo, hi;

    if (!last) {
        return false;
    }
    lp_elem(lp, lpack_first(lp), &lo);
    lp_elem(lp, last, &hi);
    if (it->kind == ITER_SCORE) {
        return zsl_value_gte_min(hi.score, &it->r.score) &&
               zsl_value_lte_max(lo.score, &it->r.score);
    }
    return zsl_lex_value_gte_min(hi.member.ptr, hi.member.len, &it->r.lex) &&
           zsl_lex_value_lte_max(lo.member.ptr, lo.member.len, &it->r.lex);
}

/* Listpack: the first pair of the range from the walk's side, then offset
 * more (the walk's bound is checked as it goes). */
static void lp_seek_range(struct tzset_iter *it, size_t offset)
{
    const unsigned char *lp = it->v->u.p;
    const unsigned char *p = it->rev ? lpack_seek(lp, -2) : lpack_first(lp);
    struct tzset_elem e;

    if (!lp_in_range(it)) {
        p = NULL;
    }
    while (p) {
        lp_elem(lp, p, &e);
        if (iter_past_start(it, &e)) {
            break;
        }
        p = it->rev ? lp_prev_pair(lp, p) : lp_next_pair(lp, p);
    }
    while (p && offset--) {
        p = it->rev ? lp_prev_pair(lp, p) : lp_next_pair(lp, p);
    }
    it->pos = p;
}

/* Skiplist: the node at `rank` moved by offset towards the walk's end. */
static const struct zsl_node *skip_offset(const struct tzset_iter *it, const struct zsl_node *x,
                                          size_t rank, size_t offset)
{
    const struct zsl *zsl = skip_of(it->v)->zsl;

    if (!x || offset == 0) {
        return x;
    }
    if (it->rev) {
        return rank > offset ? zsl_node_by_rank(zsl, rank - offset) : NULL;
    }
    return offset <= zsl_length(zsl) - rank ? zsl_node_by_rank(zsl, rank + offset) : NULL;
}

void tzset_iter_score(struct tzset_iter *it, const struct kval *v, const struct zsl_range *r,
                      bool rev, size_t offset, size_t limit)
{
    const struct zsl *zsl;
    const struct zsl_node *x;
    size_t rank = 0;

    iter_begin(it, v, rev, limit);
    it->kind = ITER_SCORE;
    it->r.score = *r;
    if (zsl_range_is_empty(r)) {
        it->left = 0;
        return;
    }
    if (is_listpack(v)) {
        lp_seek_range(it, offset);
        return;
    }
    zsl = skip_of(v)->zsl;
    x = rev ? zsl_last_in_range(zsl, r, &rank) : zsl_first_in_range(zsl, r, &rank);
    it->node = skip_offset(it, x, rank, offset);
}

void tzset_iter_lex(struct tzset_iter *it, const struct kval *v, const struct zsl_lex_range *r,
                    bool rev, size_t offset, size_t limit)
{
    const struct zsl *zsl;
    const struct zsl_node *x;
    size_t rank = 0;

    iter_begin(it, v, rev, limit);
    it->kind = ITER_LEX;
    it->r.lex = *r;
    if (zsl_lex_range_is_empty(r)) {
        it->left = 0;
        return;
    }
    if (is_listpack(v)) {
        lp_seek_range(it, offset);
        return;
    }
    zsl = skip_of(v)->zsl;
    x = rev ? zsl_last_in_lex_range(zsl, r, &rank) : zsl_first_in_lex_range(zsl, r, &rank);
    it->node = skip_offset(it, x, rank, offset);
}

bool tzset_iter_next(struct tzset_iter *it, struct tzset_elem *e)
{
    const unsigned char *lp = it->v->u.p;

    if (it->left == 0 || (!it->pos && !it->node)) {
        return false;
    }
    if (it->pos) {
        lp_elem(lp, it->pos, e);
    } else {
        e->member = zsl_node_member(it->node);
        e->score = it->node->score;
    }
    if (!iter_in_bound(it, e)) {
        it->left = 0;
        return false;
    }
    if (it->pos) {
        it->pos = it->rev ? lp_prev_pair(lp, it->pos) : lp_next_pair(lp, it->pos);
    } else {
        it->node = it->rev ? zsl_node_prev(it->node) : zsl_node_next(it->node);
    }
    it->left--;
    return true;
}

/* ---- random members and scans ---- */

void tzset_random(struct kval *v, uint64_t rnd, struct tzset_elem *e)
{
    struct fentry *fe;

    if (is_listpack(v)) {
        lp_elem(v->u.p, lpack_random_pair(v->u.p, rnd), e);
        return;
    }
    fe = fdict_random(skip_of(v)->dict, rnd);
    SH_ASSERT(fe);
    e->member = zsl_node_member(node_of(fe));
    e->score = node_of(fe)->score;
}

void tzset_random_many(struct kval *v, size_t count, uint64_t *rnd, tzset_elem_fn *fn, void *arg)
{
    size_t n = tzset_card(v), k = 0;
    const unsigned char **pos;
    struct tzset_elem e;

    if (!is_listpack(v)) {
        for (size_t i = 0; i < count; i++) {
            tzset_random(v, next_rnd(rnd), &e);
            fn(arg, &e);
        }
        return;
    }
    pos = sh_malloc(sizeof(*pos) * (n ? n : 1));
    for (const unsigned char *p = lpack_first(v->u.p); p; p = lp_next_pair(v->u.p, p)) {
        pos[k++] = p;
    }
    for (size_t i = 0; i < count && n; i++) {
        lp_elem(v->u.p, pos[next_rnd(rnd) % n], &e);
        fn(arg, &e);
    }
    sh_free(pos);
}

/* Selection sampling (Knuth's algorithm S) over the ordered walk: each
 * element is taken with probability needed / remaining. */
static void sample_walk(struct kval *v, size_t count, uint64_t *rnd, tzset_elem_fn *fn, void *arg)
{
    size_t n = tzset_card(v);
    struct tzset_iter it;
    struct tzset_elem e;

    tzset_iter_rank(&it, v, 0, false, n);
    for (size_t seen = 0; count && tzset_iter_next(&it, &e); seen++) {
        if (next_rnd(rnd) % (n - seen) < count) {
            fn(arg, &e);
            count--;
        }
    }
}

/* Random picks until count distinct members are found (count <= n / 3, so
 * few picks repeat); a temporary dict of node addresses remembers them. */
static void sample_picks(struct kval *v, size_t count, uint64_t *rnd, tzset_elem_fn *fn, void *arg)
{
    struct fdict *seen = fdict_create(next_rnd(rnd), 0);
    struct tzset_elem e;

    fdict_expand(seen, count);
    while (fdict_size(seen) < count) {
        struct zsl_node *node = node_of(fdict_random(skip_of(v)->dict, next_rnd(rnd)));
        bool existed;

        (void)fdict_find_or_add(seen, &node, sizeof(node), NULL, 0, &existed);
        if (!existed) {
            e.member = zsl_node_member(node);
            e.score = node->score;
            fn(arg, &e);
        }
    }
    fdict_destroy(seen);
}

void tzset_sample(struct kval *v, size_t count, uint64_t *rnd, tzset_elem_fn *fn, void *arg)
{
    size_t n = tzset_card(v);

    SH_ASSERT(count < n);
    if (is_listpack(v) || count * 3 > n) {
        sample_walk(v, count, rnd, fn, arg);
    } else {
        sample_picks(v, count, rnd, fn, arg);
    }
}

struct scan_arg {
    tzset_elem_fn *fn;
    void *arg;
};

static void scan_entry(void *arg, struct fentry *fe)
{
    struct scan_arg *sa = arg;
    struct tzset_elem e;

    e.member = zsl_node_member(node_of(fe));
    e.score = node_of(fe)->score;
    sa->fn(sa->arg, &e);
}

uint64_t tzset_scan(struct kval *v, uint64_t cursor, tzset_elem_fn *fn, void *arg)
{
    struct scan_arg sa = { fn, arg };
    struct tzset_iter it;
    struct tzset_elem e;

    if (!is_listpack(v)) {
        return fdict_scan(skip_of(v)->dict, cursor, scan_entry, &sa);
    }
    tzset_iter_rank(&it, v, 0, false, tzset_card(v));
    while (tzset_iter_next(&it, &e)) {
        fn(arg, &e);
    }
    return 0;
}

/* ---- checks ---- */

static int check_listpack(const struct kval *v, const struct kval_limits *lim)
{
    const unsigned char *lp = v->u.p;
    struct tzset_elem e, prev;
    size_t n = 0;
    double d;

    if (lpack_count(lp) % 2) {
        return -EUCLEAN;
    }
    for (const unsigned char *p = lpack_first(lp); p; p = lp_next_pair(lp, p)) {
        if (!lpack_get_double(lpack_next(lp, p), &d) || isnan(d)) {
            return -EUCLEAN;
        }
        lp_elem(lp, p, &e);
        if ((n && elem_cmp(prev.score, prev.member, e.score, e.member) >= 0) ||
            lp_find(lp, e.member.ptr, e.member.len) != p ||
            (lim && (long long)e.member.len > lim->zset_max_listpack_value)) {
            return -EUCLEAN;
        }
        prev = e;
        if (e.member.ptr == e.buf) {
            prev.member.ptr = prev.buf;
        }
        n++;
    }
    return lim && (long long)n > lim->zset_max_listpack_entries ? -EUCLEAN : 0;
}

static int check_skiplist(const struct kval *v)
{
    struct zskip *zs = skip_of(v);
    struct fdict_iter it;
    struct fentry *e;
    int rc = zsl_check(zs->zsl);

    if (rc == 0 && fdict_size(zs->dict) != zsl_length(zs->zsl)) {
        rc = -EUCLEAN;
    }
    fdict_iter_init(&it, zs->dict);
    while (rc == 0 && (e = fdict_iter_next(&it)) != NULL) {
        struct zsl_node *node = node_of(e);

        if (!node || node->member != fdict_key(e) || node->mlen != fdict_klen(e) ||
            zsl_rank(zs->zsl, node->score, node->member, node->mlen) == 0) {
            rc = -EUCLEAN;
        }
    }
    fdict_iter_fini(&it);
    return rc;
}

int tzset_check(const struct kval *v, const struct kval_limits *lim)
{
    if (v->type != KVAL_ZSET) {
        return -EUCLEAN;
    }
    if (is_listpack(v)) {
        return check_listpack(v, lim);
    }
    return v->enc == KVAL_ENC_SKIPLIST ? check_skiplist(v) : -EUCLEAN;
}
