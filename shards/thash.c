/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * thash.c: the hash type (see thash.h), Redis 7.0's t_hash.c encodings.
 *
 *   KVAL_ENC_LISTPACK   v->u.p = lpack: | f0 | v0 | f1 | v1 | ... |
 *                       fields are unique; lookups walk the fields only
 *                       (lpack_find with skip 1); a new field is appended
 *   KVAL_ENC_HASHTABLE  v->u.p = fdict: one allocation per field,
 *                       [next 8][flen 4][vlen 4][field][value]
 *
 * Conversion: thash_set converts before it writes, so that an allocation
 * failure leaves the hash as it was: a field or value longer than
 * hash-max-listpack-value, a new field past hash-max-listpack-entries, or a
 * listpack about to pass 1 GB (Redis's lpSafeToAdd). The end state is the
 * one Redis reaches (it inserts, then converts). Nothing converts back.
 *
 * Memory, the figure compared with Redis (tests/unit/test_thash.c prints
 * it): a listpack is Redis's byte for byte (one allocation, a few bytes of
 * overhead per field and value). A hashtable field costs one fdict entry,
 * 16 bytes of header plus the field and value bytes in one allocation,
 * plus its share of the bucket array (8 to 16 bytes at load factor 1);
 * Redis 7.0 pays a 24-byte dictEntry and two sds strings, three
 * allocations.
 *
 * Randomness: the caller's state (the shard's sh->rnd) advanced with
 * xorshift64*; it seeds new dicts and drives HRANDFIELD. thash_restore has no
 * such state in its contract, so it seeds from the addresses involved and
 * the monotonic clock (see restore_seed).
 *
 * Threading: single-threaded; a value belongs to the shard that owns its key.
 */
#include "shardis/thash.h"

#include "shardis/lpack.h"

#include <assert.h>
#include <errno.h>
#include <string.h>

#define LP_SAFE_MAX   (1ull << 30) /* Redis's LISTPACK_MAX_SAFETY_SIZE */
#define NEED_CONVERT  2            /* lp_set: the write needs a hashtable */
#define STACK_INDEX   256          /* pairs indexed on the stack (HRANDFIELD -n) */
#define SCAN_MAX_MULT 10           /* buckets visited per element asked, as Redis */

static_assert(THASH_BUF >= LPACK_INTBUF, "room for an integer entry");

/* ---- helpers ---- */

/* xorshift64* over the caller's random state. */
static uint64_t next_rnd(uint64_t *state)
{
    uint64_t x = *state ? *state : 0x9E3779B97F4A7C15ULL;

    x ^= x >> 12;
    x ^= x << 25;
    x ^= x >> 27;
    *state = x;
    return x * 2685821657736338717ULL;
}

static bool is_compact(const struct kval *v)
{
    return v->enc == KVAL_ENC_LISTPACK;
}

static bool fits(size_t len, long long max)
{
    return max >= 0 && (unsigned long long)len <= (unsigned long long)max;
}

static struct sh_slice entry_slice(const struct fentry *e, bool value)
{
    struct sh_slice s;

    s.ptr = value ? fdict_value(e) : fdict_key(e);
    s.len = value ? fdict_vlen(e) : fdict_klen(e);
    return s;
}

/* The listpack field f, or NULL. */
static const unsigned char *lp_find(const unsigned char *lp, const void *f, size_t flen)
{
    const unsigned char *first = lpack_first(lp);

    return first ? lpack_find(lp, first, f, flen, 1) : NULL;
}

/* ---- conversion ---- */

/* Makes the listpack hash v a hashtable seeded from seed. Returns 0, or
 * -ENOMEM with v unchanged. O(n). */
static int convert(struct kval *v, uint64_t seed)
{
    unsigned char *lp = v->u.p;
    struct fdict *d = fdict_create(seed, 0);
    char fb[LPACK_INTBUF], vb[LPACK_INTBUF];
    const unsigned char *p, *vp;

    /* room for the field about to be added too */
    fdict_expand(d, lpack_count(lp) / 2 + 1);
    for (p = lpack_first(lp); p; p = lpack_next(lp, vp)) {
        struct sh_slice f = lpack_get_slice(p, fb);
        struct sh_slice val;

        vp = lpack_next(lp, p);
        val = lpack_get_slice(vp, vb);
        if (!fdict_try_add(d, f.ptr, f.len, val.ptr, val.len)) {
            fdict_destroy(d);
            return -ENOMEM;
        }
    }
    lpack_destroy(lp);
    v->enc = KVAL_ENC_HASHTABLE;
    v->u.p = d;
    return 0;
}

/* ---- what kval.c relies on ---- */

void thash_free(struct kval *v)
{
    if (is_compact(v)) {
        lpack_destroy(v->u.p);
    } else {
        fdict_destroy(v->u.p);
    }
    v->u.p = NULL;
}

size_t thash_memory(const struct kval *v)
{
    if (is_compact(v)) {
        return sh_alloc_size(v->u.p);
    }
    return fdict_memory(v->u.p);
}

char *thash_dump(const struct kval *v, size_t *len)
{
    struct kval_dump d;
    struct thash_iter it;
    struct sh_slice f, val;

    kval_dump_init(&d);
    thash_iter_init(&it, v);
    while (thash_iter_next(&it, &f, &val)) {
        kval_dump_put(&d, f.ptr, f.len);
        kval_dump_put(&d, val.ptr, val.len);
    }
    thash_iter_fini(&it);
    return kval_dump_finish(&d, len);
}

/* Checks the dump (pairs, nothing after the last) and says whether its
 * pairs fit a listpack. Returns the number of pairs, 0 when corrupt. */
static size_t restore_check(const char *p, size_t len, const struct kval_limits *lim, bool *compact)
{
    struct kval_dump_reader r;
    struct sh_slice s;
    size_t n;

    if (!kval_dump_reader_init(&r, p, len) || r.count == 0 || r.count % 2 != 0) {
        return 0;
    }
    n = r.count / 2;
    *compact = fits(n, lim->hash_max_listpack_entries);
    while (kval_dump_next(&r, &s)) {
        *compact = *compact && fits(s.len, lim->hash_max_listpack_value);
    }
    return r.count == 0 && r.left == 0 ? n : 0;
}

/* A dict seed when no random state is at hand: the heap and message
 * addresses (ASLR) and the clock, mixed by splitmix64. A stopgap until the
 * restore contract carries the shard's random state. */
static uint64_t restore_seed(const void *v, const void *p)
{
    uint64_t z = (uint64_t)(uintptr_t)v ^ ((uint64_t)(uintptr_t)p << 21) ^
                 ((uint64_t)sh_mono_us() * 0x9E3779B97F4A7C15ULL);

    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
    return z ^ (z >> 31);
}

static int restore_lp(struct kval *v, struct kval_dump_reader *r)
{
    unsigned char *lp = lpack_create();
    struct sh_slice f, val;

    while (kval_dump_next(r, &f) && kval_dump_next(r, &val)) {
        if (lp_find(lp, f.ptr, f.len)) {
            lpack_destroy(lp);
            return -EINVAL;
        }
        lp = lpack_append(lp, f.ptr, f.len);
        lp = lpack_append(lp, val.ptr, val.len);
    }
    v->enc = KVAL_ENC_LISTPACK;
    v->u.p = lp;
    return 0;
}

static int restore_dict(struct kval *v, struct kval_dump_reader *r, size_t n, uint64_t seed)
{
    struct fdict *d = fdict_create(seed, 0);
    struct sh_slice f, val;
    bool existed;

    fdict_expand(d, n);
    while (kval_dump_next(r, &f) && kval_dump_next(r, &val)) {
        if (!fdict_try_find_or_add(d, f.ptr, f.len, val.ptr, val.len, &existed) || existed) {
            fdict_destroy(d);
            return existed ? -EINVAL : -ENOMEM;
        }
    }
    v->enc = KVAL_ENC_HASHTABLE;
    v->u.p = d;
    return 0;
}

int thash_restore(struct kval *v, const char *p, size_t len, const struct kval_limits *lim)
{
    struct kval_dump_reader r;
    bool compact = false;
    size_t n = restore_check(p, len, lim, &compact);
    int rc;

    if (n == 0 || !kval_dump_reader_init(&r, p, len)) {
        return -EINVAL;
    }
    if (compact) {
        rc = restore_lp(v, &r);
    } else {
        rc = restore_dict(v, &r, n, restore_seed(v, p));
    }
    if (rc == 0) {
        v->type = KVAL_HASH;
    }
    return rc;
}

/* ---- reads and writes ---- */

void thash_init(struct kval *v)
{
    v->type = KVAL_HASH;
    v->enc = KVAL_ENC_LISTPACK;
    v->u.p = lpack_create();
}

size_t thash_len(const struct kval *v)
{
    if (is_compact(v)) {
        return lpack_count(v->u.p) / 2;
    }
    return fdict_size(v->u.p);
}

bool thash_is_compact(const struct kval *v)
{
    return is_compact(v);
}

bool thash_get(struct kval *v, const void *f, size_t flen, char buf[static THASH_BUF],
               struct sh_slice *value)
{
    if (is_compact(v)) {
        const unsigned char *lp = v->u.p;
        const unsigned char *p = lp_find(lp, f, flen);

        if (!p) {
            return false;
        }
        *value = lpack_get_slice(lpack_next(lp, p), buf);
        return true;
    }
    struct fentry *e = fdict_find(v->u.p, f, flen);

    if (!e) {
        return false;
    }
    *value = entry_slice(e, true);
    return true;
}

bool thash_exists(struct kval *v, const void *f, size_t flen)
{
    if (is_compact(v)) {
        return lp_find(v->u.p, f, flen) != NULL;
    }
    return fdict_find(v->u.p, f, flen) != NULL;
}

/* thash_set on a listpack: 1 added, 0 replaced, or NEED_CONVERT (nothing
 * done) when the write breaks a threshold. */
static int lp_set(struct kval *v, const void *f, size_t flen, const void *val, size_t vlen,
                  const struct kval_limits *lim)
{
    unsigned char *lp = v->u.p;
    const unsigned char *p;

    if (!fits(flen, lim->hash_max_listpack_value) || !fits(vlen, lim->hash_max_listpack_value) ||
        lpack_bytes(lp) + flen + vlen > LP_SAFE_MAX) {
        return NEED_CONVERT;
    }
    p = lp_find(lp, f, flen);
    if (p) {
        p = lpack_next(lp, p);
        v->u.p = lpack_replace(lp, &p, val, vlen);
        return 0;
    }
    if (!fits(lpack_count(lp) / 2 + 1, lim->hash_max_listpack_entries)) {
        return NEED_CONVERT;
    }
    lp = lpack_append(lp, f, flen);
    v->u.p = lpack_append(lp, val, vlen);
    return 1;
}

int thash_set(struct kval *v, const void *f, size_t flen, const void *val, size_t vlen,
              const struct kval_limits *lim, uint64_t *rnd)
{
    struct fentry *e;
    bool existed;

    if (is_compact(v)) {
        int rc = lp_set(v, f, flen, val, vlen, lim);

        if (rc != NEED_CONVERT) {
            return rc;
        }
        if (convert(v, next_rnd(rnd)) != 0) {
            return -ENOMEM;
        }
    }
    e = fdict_try_find_or_add(v->u.p, f, flen, val, vlen, &existed);
    if (!e) {
        return -ENOMEM;
    }
    if (!existed) {
        return 1;
    }
    return fdict_try_set_value(v->u.p, e, val, vlen) ? 0 : -ENOMEM;
}

bool thash_delete(struct kval *v, const void *f, size_t flen)
{
    if (is_compact(v)) {
        unsigned char *lp = v->u.p;
        const unsigned char *p = lp_find(lp, f, flen);

        if (!p) {
            return false;
        }
        lp = lpack_delete(lp, p, &p);
        v->u.p = lpack_delete(lp, p, NULL);
        return true;
    }
    return fdict_delete_key(v->u.p, f, flen);
}

/* ---- iteration ---- */

void thash_iter_init(struct thash_iter *it, const struct kval *v)
{
    if (is_compact(v)) {
        it->lp = v->u.p;
        it->p = lpack_first(it->lp);
        return;
    }
    it->lp = NULL;
    it->p = NULL;
    fdict_iter_init(&it->di, v->u.p);
}

bool thash_iter_next(struct thash_iter *it, struct sh_slice *field, struct sh_slice *value)
{
    if (it->lp) {
        const unsigned char *vp;

        if (!it->p) {
            return false;
        }
        vp = lpack_next(it->lp, it->p);
        *field = lpack_get_slice(it->p, it->fbuf);
        *value = lpack_get_slice(vp, it->vbuf);
        it->p = lpack_next(it->lp, vp);
        return true;
    }
    struct fentry *e = fdict_iter_next(&it->di);

    if (!e) {
        return false;
    }
    *field = entry_slice(e, false);
    *value = entry_slice(e, true);
    return true;
}

void thash_iter_fini(struct thash_iter *it)
{
    if (!it->lp) {
        fdict_iter_fini(&it->di);
    }
}

/* ---- random fields ---- */

void thash_random(struct kval *v, uint64_t *rnd, char fbuf[static THASH_BUF],
                  char vbuf[static THASH_BUF], struct sh_slice *field, struct sh_slice *value)
{
    if (is_compact(v)) {
        const unsigned char *lp = v->u.p;
        const unsigned char *p = lpack_random_pair(lp, next_rnd(rnd));

        SH_ASSERT(p != NULL);
        *field = lpack_get_slice(p, fbuf);
        *value = lpack_get_slice(lpack_next(lp, p), vbuf);
        return;
    }
    struct fentry *e = fdict_random(v->u.p, next_rnd(rnd));

    SH_ASSERT(e != NULL);
    *field = entry_slice(e, false);
    *value = entry_slice(e, true);
}

/* Every field, in order. */
static void visit_all(const struct kval *v, thash_pair_fn *fn, void *arg)
{
    struct thash_iter it;
    struct sh_slice f, val;

    thash_iter_init(&it, v);
    while (thash_iter_next(&it, &f, &val)) {
        fn(arg, f, val);
    }
    thash_iter_fini(&it);
}

/* count < len distinct fields, uniformly, in iteration order: Knuth's
 * selection sampling (Algorithm S). O(len). */
static void visit_sample(const struct kval *v, uint64_t count, uint64_t *rnd, thash_pair_fn *fn,
                         void *arg)
{
    uint64_t left = thash_len(v);
    struct thash_iter it;
    struct sh_slice f, val;

    thash_iter_init(&it, v);
    while (count > 0 && thash_iter_next(&it, &f, &val)) {
        if (next_rnd(rnd) % left < count) {
            fn(arg, f, val);
            count--;
        }
        left--;
    }
    thash_iter_fini(&it);
}

/* count random pairs of a listpack, repetitions allowed. */
static int lp_random_repeat(const struct kval *v, uint64_t count, uint64_t *rnd, thash_pair_fn *fn,
                            void *arg)
{
    const unsigned char *lp = v->u.p;
    const unsigned char *stack[STACK_INDEX], **idx = stack;
    size_t n = lpack_count(lp) / 2, i = 0;
    char fb[LPACK_INTBUF], vb[LPACK_INTBUF];

    if (n > STACK_INDEX) {
        idx = sh_try_malloc(n * sizeof(*idx));
        if (!idx) {
            return -ENOMEM;
        }
    }
    for (const unsigned char *p = lpack_first(lp); p; p = lpack_next(lp, lpack_next(lp, p))) {
        idx[i++] = p;
    }
    while (count-- > 0) {
        const unsigned char *p = idx[next_rnd(rnd) % n];

        fn(arg, lpack_get_slice(p, fb), lpack_get_slice(lpack_next(lp, p), vb));
    }
    if (idx != stack) {
        sh_free(idx);
    }
    return 0;
}

/* A set of entries chosen so far: open addressing over a power of two. */
struct pick_set {
    const struct fentry **slot;
    size_t mask;
};

/* Adds e; false when it was there already. */
static bool pick_add(struct pick_set *s, const struct fentry *e)
{
    size_t i = (size_t)(((uint64_t)(uintptr_t)e >> 4) * 0x9E3779B97F4A7C15ULL >> 17) & s->mask;

    while (s->slot[i]) {
        if (s->slot[i] == e) {
            return false;
        }
        i = (i + 1) & s->mask;
    }
    s->slot[i] = e;
    return true;
}

/* count distinct random fields of a hashtable, count * 3 <= len: draws
 * until that many different ones came (Redis's CASE 4). O(count)
 * expected. */
static int dict_random_distinct(struct fdict *d, uint64_t count, uint64_t *rnd, thash_pair_fn *fn,
                                void *arg)
{
    struct pick_set s;
    size_t cap = 16;

    while (cap < count * 2) {
        cap *= 2;
    }
    s.slot = sh_try_malloc(cap * sizeof(*s.slot));
    if (!s.slot) {
        return -ENOMEM;
    }
    memset(s.slot, 0, cap * sizeof(*s.slot));
    s.mask = cap - 1;
    while (count > 0) {
        const struct fentry *e = fdict_random(d, next_rnd(rnd));

        if (pick_add(&s, e)) {
            fn(arg, entry_slice(e, false), entry_slice(e, true));
            count--;
        }
    }
    sh_free(s.slot);
    return 0;
}

int thash_random_pairs(struct kval *v, uint64_t count, bool distinct, uint64_t *rnd,
                       thash_pair_fn *fn, void *arg)
{
    uint64_t len = thash_len(v);

    if (distinct && count >= len) {
        visit_all(v, fn, arg);
        return 0;
    }
    if (!distinct && is_compact(v)) {
        return lp_random_repeat(v, count, rnd, fn, arg);
    }
    if (!distinct) {
        while (count-- > 0) {
            const struct fentry *e = fdict_random(v->u.p, next_rnd(rnd));

            fn(arg, entry_slice(e, false), entry_slice(e, true));
        }
        return 0;
    }
    if (is_compact(v) || count * 3 > len) {
        visit_sample(v, count, rnd, fn, arg);
        return 0;
    }
    return dict_random_distinct(v->u.p, count, rnd, fn, arg);
}

/* ---- scan ---- */

struct scan_state {
    thash_pair_fn *fn;
    void *arg;
    uint64_t visited;
};

static void scan_one(void *arg, struct fentry *e)
{
    struct scan_state *st = arg;

    st->visited += 2;
    st->fn(st->arg, entry_slice(e, false), entry_slice(e, true));
}

uint64_t thash_scan(struct kval *v, uint64_t cursor, uint64_t count, thash_pair_fn *fn, void *arg)
{
    struct scan_state st = { .fn = fn, .arg = arg, .visited = 0 };
    uint64_t steps;

    if (is_compact(v)) {
        visit_all(v, fn, arg);
        return 0;
    }
    steps = count > UINT64_MAX / SCAN_MAX_MULT ? UINT64_MAX : count * SCAN_MAX_MULT;
    do {
        cursor = fdict_scan(v->u.p, cursor, scan_one, &st);
    } while (cursor && steps-- && st.visited < count);
    return cursor;
}
