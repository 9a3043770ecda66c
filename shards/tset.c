/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * tset.c: the set type (see tset.h), Redis's t_set.c without the protocol:
 * three encodings behind one API, conversions at the configured limits,
 * and the set algebra the commands share.
 *
 *   intset     [hdr: width, length][sorted int16/32/64 members]
 *   listpack   [hdr][m1][m2]...[end]   members unordered, integers stored
 *                                     as integer entries (lpack.h)
 *   hashtable  fdict: bucket -> [next|klen|vlen=0|member bytes] -> ...
 *
 * Conversions (never back, as in Redis):
 *   intset -> listpack   a non-integer arrives, or the intset passes
 *                        set-max-intset-entries, and every member (the
 *                        widest integer's decimal form included) and the
 *                        count fit the listpack limits (Redis 7.2's rule);
 *   intset -> hashtable  the same, when they do not fit;
 *   listpack -> hashtable  a member longer than set-max-listpack-value, or
 *                        more than set-max-listpack-entries members, or a
 *                        pack that would pass TSET_LPACK_SAFE bytes.
 * Redis 7.2 sends an intset past its entry limit straight to a hashtable;
 * this module prefers a listpack when that fits (it can only when
 * set-max-listpack-entries is above set-max-intset-entries, never with the
 * defaults 512 and 128).
 *
 * Memory, the figure benchmarked against Redis: a hashtable member costs one
 * fdict entry (16-byte header and its bytes, no value, no aux word: the dict
 * is created without FDICT_AUX) plus its share of the bucket array. The
 * hashtable's seed is drawn from the shard's random state at creation.
 * Measured (release build, jemalloc): 1M members "member:<n>" take 40.4 MB
 * by MEMORY USAGE, where Redis 7.0.15 takes 48.4 MB.
 *
 * Algebra: an intersection walks the smallest set and tests the others; a
 * difference uses whichever of Redis's two algorithms costs less (test each
 * member of the first set, or copy it and remove the others' members); the
 * results the STORE commands keep are built member by member, so they take
 * the encoding adding those members would give.
 *
 * Invariants: a stored set is never empty (callers delete the key); an
 * intset holds only integers; a listpack never holds the same member twice.
 *
 * Threading: single-threaded; a value belongs to the shard that owns its key.
 */
#include "shardis/tset.h"

#include "shardis/intset.h"
#include "shardis/lpack.h"
#include "shardis/util.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

/* Redis's LISTPACK_MAX_SAFETY_SIZE: a pack stays well below 4 GB. */
#define TSET_LPACK_SAFE    (1u << 30)
/* Redis caps intsets at 2^30 members whatever the config says. */
#define TSET_INTSET_CAP    (1ll << 30)
/* An integer entry of a listpack takes at most this many bytes. */
#define TSET_LPACK_INT_MAX 10

static uint64_t next_seed(uint64_t *rnd)
{
    uint64_t z = (*rnd += 0x9E3779B97F4A7C15ULL);

    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
    return z ^ (z >> 31);
}

static long long intset_limit(const struct kval_limits *lim)
{
    return lim->set_max_intset_entries < TSET_INTSET_CAP ? lim->set_max_intset_entries
                                                         : TSET_INTSET_CAP;
}

static size_t digits(int64_t x)
{
    char buf[TSET_INTBUF];

    return util_ll2str(buf, x);
}

/* Would a listpack hold the n members of intset `is` plus `extra` more, the
 * longest extra being len bytes? */
static bool intset_fits_listpack(const struct intset *is, size_t extra, size_t len,
                                 const struct kval_limits *lim)
{
    size_t n = intset_len(is), widest = 0;

    if (n) {
        size_t a = digits(intset_min(is)), b = digits(intset_max(is));

        widest = a > b ? a : b;
    }
    return (long long)(n + extra) <= lim->set_max_listpack_entries &&
           (long long)len <= lim->set_max_listpack_value &&
           (long long)widest <= lim->set_max_listpack_value &&
           n * TSET_LPACK_INT_MAX + len + 64 <= TSET_LPACK_SAFE;
}

/* ---- conversions ---- */

static void intset_to_listpack(struct kval *v)
{
    struct intset *is = v->u.p;
    unsigned char *lp = lpack_create();

    for (size_t i = 0; i < intset_len(is); i++) {
        lp = lpack_append_int(lp, intset_get(is, i));
    }
    intset_destroy(is);
    v->u.p = lp;
    v->enc = KVAL_ENC_LISTPACK;
}

/* Makes v a hashtable with room for `extra` more members. The members are
 * ones the shard already holds, so entries are allocated with fdict_add. */
static void to_hashtable(struct kval *v, size_t extra, uint64_t *rnd)
{
    struct fdict *d = fdict_create(next_seed(rnd), 0);
    struct tset_iter it;
    struct sh_slice m;

    fdict_expand(d, tset_size(v) + extra);
    tset_iter_init(&it, v);
    while (tset_iter_next(&it, &m)) {
        fdict_add(d, m.ptr, m.len, NULL, 0);
    }
    tset_iter_fini(&it);
    if (v->enc == KVAL_ENC_INTSET) {
        intset_destroy(v->u.p);
    } else {
        lpack_destroy(v->u.p);
    }
    v->u.p = d;
    v->enc = KVAL_ENC_HASHTABLE;
}

/* An intset that passed its entry limit. */
static void convert_full_intset(struct kval *v, const struct kval_limits *lim, uint64_t *rnd)
{
    if (intset_fits_listpack(v->u.p, 0, 0, lim)) {
        intset_to_listpack(v);
    } else {
        to_hashtable(v, 0, rnd);
    }
}

/* ---- adding ---- */

static int ht_add(struct kval *v, const void *m, size_t len, bool may_fail, bool *added)
{
    bool existed = false;

    if (!may_fail) {
        fdict_find_or_add(v->u.p, m, len, NULL, 0, &existed);
    } else if (!fdict_try_find_or_add(v->u.p, m, len, NULL, 0, &existed)) {
        return -ENOMEM;
    }
    *added = !existed;
    return 0;
}

static int intset_add_member(struct kval *v, const void *m, size_t len,
                             const struct kval_limits *lim, uint64_t *rnd, bool may_fail,
                             bool *added)
{
    long long ll;

    if (util_str2ll(m, len, &ll)) {
        v->u.p = intset_add(v->u.p, ll, added);
        if (*added && (long long)intset_len(v->u.p) > intset_limit(lim)) {
            convert_full_intset(v, lim, rnd);
        }
        return 0;
    }
    /* not an integer, so not a member yet */
    if (intset_fits_listpack(v->u.p, 1, len, lim)) {
        intset_to_listpack(v);
        v->u.p = lpack_append(v->u.p, m, len);
        *added = true;
        return 0;
    }
    to_hashtable(v, 1, rnd);
    return ht_add(v, m, len, may_fail, added);
}

static int listpack_add(struct kval *v, const void *m, size_t len, const struct kval_limits *lim,
                        uint64_t *rnd, bool may_fail, bool *added)
{
    unsigned char *lp = v->u.p;

    if (lpack_find(lp, lpack_first(lp), m, len, 0)) {
        *added = false;
        return 0;
    }
    if ((long long)lpack_count(lp) < lim->set_max_listpack_entries &&
        (long long)len <= lim->set_max_listpack_value &&
        lpack_bytes(lp) + len + 16 <= TSET_LPACK_SAFE) {
        v->u.p = lpack_append(lp, m, len);
        *added = true;
        return 0;
    }
    to_hashtable(v, 1, rnd);
    return ht_add(v, m, len, may_fail, added);
}

/* Makes v (KVAL_NONE) an empty set in the encoding its first member m
 * starts in. */
static void create_for(struct kval *v, const void *m, size_t len, const struct kval_limits *lim,
                       uint64_t *rnd)
{
    long long ll;

    v->type = KVAL_SET;
    if (util_str2ll(m, len, &ll)) {
        v->enc = KVAL_ENC_INTSET;
        v->u.p = intset_create();
    } else if (lim->set_max_listpack_entries >= 1 &&
               (long long)len <= lim->set_max_listpack_value && len + 64 <= TSET_LPACK_SAFE) {
        v->enc = KVAL_ENC_LISTPACK;
        v->u.p = lpack_create();
    } else {
        v->enc = KVAL_ENC_HASHTABLE;
        v->u.p = fdict_create(next_seed(rnd), 0);
    }
}

static int add_member(struct kval *v, const void *m, size_t len, const struct kval_limits *lim,
                      uint64_t *rnd, bool may_fail, bool *added)
{
    bool created = v->type == KVAL_NONE, dummy;
    int rc;

    if (!added) {
        added = &dummy;
    }
    if (created) {
        create_for(v, m, len, lim, rnd);
    }
    SH_ASSERT(v->type == KVAL_SET);
    switch (v->enc) {
    case KVAL_ENC_INTSET:
        rc = intset_add_member(v, m, len, lim, rnd, may_fail, added);
        break;
    case KVAL_ENC_LISTPACK:
        rc = listpack_add(v, m, len, lim, rnd, may_fail, added);
        break;
    default:
        rc = ht_add(v, m, len, may_fail, added);
        break;
    }
    if (rc != 0 && created) {
        kval_clear(v);
    }
    return rc;
}

int tset_try_add(struct kval *v, const void *m, size_t len, const struct kval_limits *lim,
                 uint64_t *rnd, bool *added)
{
    return add_member(v, m, len, lim, rnd, true, added);
}

void tset_add(struct kval *v, const void *m, size_t len, const struct kval_limits *lim,
              uint64_t *rnd, bool *added)
{
    int rc = add_member(v, m, len, lim, rnd, false, added);

    SH_ASSERT(rc == 0);
}

int tset_try_add_all(struct kval *dst, const struct kval *src, const struct kval_limits *lim,
                     uint64_t *rnd)
{
    struct tset_iter it;
    struct sh_slice m;
    int rc = 0;

    SH_ASSERT(dst != src);
    tset_iter_init(&it, src);
    while (rc == 0 && tset_iter_next(&it, &m)) {
        rc = tset_try_add(dst, m.ptr, m.len, lim, rnd, NULL);
    }
    tset_iter_fini(&it);
    return rc;
}

/* ---- removing, membership, size ---- */

bool tset_remove(struct kval *v, const void *m, size_t len)
{
    const unsigned char *p;
    long long ll;
    bool removed = false;

    switch (v->enc) {
    case KVAL_ENC_INTSET:
        if (util_str2ll(m, len, &ll)) {
            v->u.p = intset_remove(v->u.p, ll, &removed);
        }
        return removed;
    case KVAL_ENC_LISTPACK:
        p = lpack_find(v->u.p, lpack_first(v->u.p), m, len, 0);
        if (p) {
            v->u.p = lpack_delete(v->u.p, p, NULL);
        }
        return p != NULL;
    default:
        return fdict_delete_key(v->u.p, m, len);
    }
}

size_t tset_remove_all(struct kval *dst, const struct kval *src)
{
    struct tset_iter it;
    struct sh_slice m;
    size_t removed = 0;

    SH_ASSERT(dst != src);
    tset_iter_init(&it, src);
    while (tset_size(dst) > 0 && tset_iter_next(&it, &m)) {
        removed += tset_remove(dst, m.ptr, m.len);
    }
    tset_iter_fini(&it);
    return removed;
}

bool tset_has(struct kval *v, const void *m, size_t len)
{
    long long ll;

    switch (v->enc) {
    case KVAL_ENC_INTSET:
        return util_str2ll(m, len, &ll) && intset_has(v->u.p, ll);
    case KVAL_ENC_LISTPACK:
        return lpack_find(v->u.p, lpack_first(v->u.p), m, len, 0) != NULL;
    default:
        return fdict_find(v->u.p, m, len) != NULL;
    }
}

size_t tset_size(const struct kval *v)
{
    if (v->type != KVAL_SET) {
        return 0;
    }
    switch (v->enc) {
    case KVAL_ENC_INTSET:
        return intset_len(v->u.p);
    case KVAL_ENC_LISTPACK:
        return lpack_count(v->u.p);
    default:
        return fdict_size(v->u.p);
    }
}

struct sh_slice tset_random(struct kval *v, uint64_t rnd, char buf[static TSET_INTBUF])
{
    struct fentry *e;

    switch (v->enc) {
    case KVAL_ENC_INTSET:
        return (struct sh_slice){ buf, util_ll2str(buf, intset_random(v->u.p, rnd)) };
    case KVAL_ENC_LISTPACK:
        return lpack_get_slice(lpack_random(v->u.p, rnd), buf);
    default:
        e = fdict_random(v->u.p, rnd);
        SH_ASSERT(e != NULL);
        return (struct sh_slice){ fdict_key(e), fdict_klen(e) };
    }
}

/* ---- iteration and scan ---- */

void tset_iter_init(struct tset_iter *it, const struct kval *v)
{
    memset(it, 0, sizeof(*it));
    it->v = v;
    if (v->type != KVAL_SET) {
        return;
    }
    if (v->enc == KVAL_ENC_LISTPACK) {
        it->lp = lpack_first(v->u.p);
    } else if (v->enc == KVAL_ENC_HASHTABLE) {
        fdict_iter_init(&it->di, v->u.p);
    }
}

bool tset_iter_next(struct tset_iter *it, struct sh_slice *out)
{
    const struct kval *v = it->v;
    struct fentry *e;

    if (v->type != KVAL_SET) {
        return false;
    }
    switch (v->enc) {
    case KVAL_ENC_INTSET:
        if (it->pos >= intset_len(v->u.p)) {
            return false;
        }
        *out = (struct sh_slice){ it->buf, util_ll2str(it->buf, intset_get(v->u.p, it->pos++)) };
        return true;
    case KVAL_ENC_LISTPACK:
        if (!it->lp) {
            return false;
        }
        *out = lpack_get_slice(it->lp, it->buf);
        it->lp = lpack_next(v->u.p, it->lp);
        return true;
    default:
        e = fdict_iter_next(&it->di);
        if (!e) {
            return false;
        }
        *out = (struct sh_slice){ fdict_key(e), fdict_klen(e) };
        return true;
    }
}

void tset_iter_fini(struct tset_iter *it)
{
    if (it->v && it->v->type == KVAL_SET && it->v->enc == KVAL_ENC_HASHTABLE) {
        fdict_iter_fini(&it->di);
    }
}

struct scan_fwd {
    tset_member_fn *fn;
    void *arg;
};

static void scan_one(void *arg, struct fentry *e)
{
    struct scan_fwd *f = arg;

    f->fn(f->arg, fdict_key(e), fdict_klen(e));
}

uint64_t tset_scan(struct kval *v, uint64_t cursor, tset_member_fn *fn, void *arg)
{
    struct scan_fwd f = { fn, arg };
    struct tset_iter it;
    struct sh_slice m;

    if (v->enc == KVAL_ENC_HASHTABLE) {
        return fdict_scan(v->u.p, cursor, scan_one, &f);
    }
    tset_iter_init(&it, v);
    while (tset_iter_next(&it, &m)) {
        fn(arg, m.ptr, m.len);
    }
    tset_iter_fini(&it);
    return 0;
}

/* ---- algebra ---- */

static int by_size(const void *a, const void *b)
{
    size_t x = tset_size(*(struct kval *const *)a), y = tset_size(*(struct kval *const *)b);

    return x < y ? -1 : x > y;
}

/* Is m in every set of sets[1..n) (skipping those equal to sets[0])? */
static bool in_all(struct kval *const *sets, size_t n, struct sh_slice m)
{
    for (size_t j = 1; j < n; j++) {
        if (sets[j] != sets[0] && !tset_has(sets[j], m.ptr, m.len)) {
            return false;
        }
    }
    return true;
}

size_t tset_inter(struct kval *const *sets, size_t n, size_t limit, tset_member_fn *fn, void *arg)
{
    struct kval **s = sh_malloc(n * sizeof(*s));
    struct tset_iter it;
    struct sh_slice m;
    size_t found = 0;

    memcpy(s, sets, n * sizeof(*s));
    qsort(s, n, sizeof(*s), by_size);
    tset_iter_init(&it, s[0]);
    while ((limit == 0 || found < limit) && tset_iter_next(&it, &m)) {
        if (in_all(s, n, m)) {
            fn(arg, m.ptr, m.len);
            found++;
        }
    }
    tset_iter_fini(&it);
    sh_free(s);
    return found;
}

/* Is m in none of sets[1..n)? A set equal to sets[0] holds every m. */
static bool in_none(struct kval *const *sets, size_t n, struct sh_slice m)
{
    for (size_t j = 1; j < n; j++) {
        if (sets[j] == sets[0]) {
            return false;
        }
        if (sets[j] && tset_has(sets[j], m.ptr, m.len)) {
            return false;
        }
    }
    return true;
}

size_t tset_diff(struct kval *const *sets, size_t n, tset_member_fn *fn, void *arg)
{
    struct tset_iter it;
    struct sh_slice m;
    size_t found = 0;

    tset_iter_init(&it, sets[0]);
    while (tset_iter_next(&it, &m)) {
        if (in_none(sets, n, m)) {
            fn(arg, m.ptr, m.len);
            found++;
        }
    }
    tset_iter_fini(&it);
    return found;
}

/* Members added to a result set as they come. */
struct add_sink {
    struct kval *v;
    const struct kval_limits *lim;
    uint64_t *rnd;
    int rc;
};

static void add_sink_put(void *arg, const char *p, size_t len)
{
    struct add_sink *s = arg;

    if (s->rc == 0) {
        s->rc = tset_try_add(s->v, p, len, s->lim, s->rnd, NULL);
    }
}

bool tset_diff_by_removal(struct kval *const *sets, size_t n)
{
    unsigned long long walk_first = 0, walk_all = 0;

    for (size_t i = 0; sets[0] && i < n; i++) {
        if (i > 0 && sets[i] == sets[0]) {
            return false; /* the result is empty: the first way sees it at once */
        }
        if (sets[i]) {
            walk_first += tset_size(sets[0]);
            walk_all += tset_size(sets[i]);
        }
    }
    return walk_first / 2 > walk_all;
}

/* tset_op's SUNION, and SDIFF's second algorithm. */
static int add_then_remove(enum tset_op op, struct kval *const *sets, size_t n,
                           const struct kval_limits *lim, uint64_t *rnd, struct kval *out)
{
    int rc = 0;

    for (size_t i = 0; i < n && rc == 0; i++) {
        if (sets[i] && (i == 0 || op == TSET_UNION)) {
            rc = tset_try_add_all(out, sets[i], lim, rnd);
        } else if (sets[i]) {
            tset_remove_all(out, sets[i]);
        }
    }
    return rc;
}

int tset_op(enum tset_op op, struct kval *const *sets, size_t n, const struct kval_limits *lim,
            uint64_t *rnd, struct kval *out)
{
    struct add_sink sink = { out, lim, rnd, 0 };
    bool absent = false;

    for (size_t i = 0; i < n; i++) {
        absent = absent || !sets[i];
    }
    if ((op == TSET_INTER && absent) || (op == TSET_DIFF && !sets[0])) {
        return 0;
    }
    if (op == TSET_INTER) {
        tset_inter(sets, n, 0, add_sink_put, &sink);
    } else if (op == TSET_DIFF && !tset_diff_by_removal(sets, n)) {
        tset_diff(sets, n, add_sink_put, &sink);
    } else {
        sink.rc = add_then_remove(op, sets, n, lim, rnd, out);
    }
    if (sink.rc != 0 || tset_size(out) == 0) {
        kval_clear(out);
    }
    return sink.rc;
}

/* ---- the kval contract ---- */

void tset_free(struct kval *v)
{
    switch (v->enc) {
    case KVAL_ENC_INTSET:
        intset_destroy(v->u.p);
        break;
    case KVAL_ENC_LISTPACK:
        lpack_destroy(v->u.p);
        break;
    default:
        fdict_destroy(v->u.p);
        break;
    }
    v->u.p = NULL;
}

size_t tset_memory(const struct kval *v)
{
    if (!v->u.p) {
        return 0;
    }
    if (v->enc == KVAL_ENC_HASHTABLE) {
        return fdict_memory(v->u.p);
    }
    return sh_alloc_size(v->u.p);
}

char *tset_dump(const struct kval *v, size_t *len)
{
    struct kval_dump d;
    struct tset_iter it;
    struct sh_slice m;

    kval_dump_init(&d);
    tset_iter_init(&it, v);
    while (tset_iter_next(&it, &m)) {
        kval_dump_put(&d, m.ptr, m.len);
    }
    tset_iter_fini(&it);
    return kval_dump_finish(&d, len);
}

/* A dump of n members too many for either compact encoding starts as a
 * presized hashtable, which adding them one by one would end in anyway. */
static void load_presize(struct kval *v, uint32_t n, size_t len, const struct kval_limits *lim,
                         uint64_t *rnd)
{
    long long big = intset_limit(lim) > lim->set_max_listpack_entries
                            ? intset_limit(lim)
                            : lim->set_max_listpack_entries;

    /* each member takes at least its 4-byte length, so n is bounded */
    if ((long long)n <= big || (size_t)n > len / 4) {
        return;
    }
    v->type = KVAL_SET;
    v->enc = KVAL_ENC_HASHTABLE;
    v->u.p = fdict_create(next_seed(rnd), 0);
    fdict_expand(v->u.p, n);
}

int tset_load(struct kval *v, const char *p, size_t len, const struct kval_limits *lim,
              uint64_t *rnd)
{
    struct kval_dump_reader r;
    struct sh_slice m;
    int rc = 0;

    if (!kval_dump_reader_init(&r, p, len) || r.count == 0) {
        return -EINVAL;
    }
    load_presize(v, r.count, len, lim, rnd);
    while (r.count > 0) {
        if (!kval_dump_next(&r, &m)) {
            rc = -EINVAL;
            break;
        }
        rc = tset_try_add(v, m.ptr, m.len, lim, rnd, NULL);
        if (rc != 0) {
            break;
        }
    }
    if (rc == 0 && r.left != 0) {
        rc = -EINVAL;
    }
    if (rc != 0) {
        kval_clear(v);
    }
    return rc;
}

int tset_restore(struct kval *v, const char *p, size_t len, const struct kval_limits *lim)
{
    uint64_t rnd = (uint64_t)(uintptr_t)v ^ ((uint64_t)sh_mono_us() << 20) ^ (uint64_t)sh_time_us();

    return tset_load(v, p, len, lim, &rnd);
}
