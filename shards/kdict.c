/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * kdict.c: the key table (see kdict.h).
 *
 *   t[0]: [b0]->e->e  [b1]  [b2]->e ...      size 2^k
 *   t[1]: used only while resizing; rehashidx walks t[0] bucket by bucket
 *
 * Invariants: an entry is in exactly one of t[0], t[1]; while rehashing, the
 * buckets of t[0] below rehashidx are empty; bucket = hash & mask. The table
 * grows at load factor 1 (doubling) and shrinks below 1/8 (to the next power
 * of two of the count), Redis's policy. Each find/add/delete moves one bucket;
 * the shard's timer moves more when idle (kdict_rehash).
 *
 * Scan: Redis's dictScan. The cursor is a bucket index of the smaller table
 * advanced by incrementing its bit-reversed form, so that every bucket of the
 * smaller table and its expansions in the larger one are visited exactly
 * once, whatever resizes happen between calls.
 */
#include "shardis/kdict.h"

#include <xxhash.h>

#include <string.h>

#define KDICT_MIN_SIZE 4

struct ktable {
    struct kentry **b;
    size_t size; /* power of two, or 0 */
    size_t mask;
    size_t used;
};

struct kdict {
    struct ktable t[2];
    long rehashidx; /* -1 when not rehashing */
};

uint64_t kdict_hash(const void *key, size_t len)
{
    return XXH3_64bits(key, len);
}

struct kdict *kdict_create(void)
{
    struct kdict *d = sh_calloc(1, sizeof(*d));

    d->rehashidx = -1;
    return d;
}

static void free_entry(struct kentry *e)
{
    kval_clear(&e->val);
    sh_free(e);
}

static void table_clear(struct ktable *t)
{
    for (size_t i = 0; i < t->size; i++) {
        struct kentry *e = t->b[i];

        while (e) {
            struct kentry *next = e->next;

            free_entry(e);
            e = next;
        }
    }
    sh_free(t->b);
    memset(t, 0, sizeof(*t));
}

void kdict_clear(struct kdict *d)
{
    table_clear(&d->t[0]);
    table_clear(&d->t[1]);
    d->rehashidx = -1;
}

void kdict_destroy(struct kdict *d)
{
    if (d) {
        kdict_clear(d);
        sh_free(d);
    }
}

size_t kdict_size(const struct kdict *d)
{
    return d->t[0].used + d->t[1].used;
}

size_t kdict_buckets(const struct kdict *d)
{
    return d->t[0].size + d->t[1].size;
}

bool kdict_is_rehashing(const struct kdict *d)
{
    return d->rehashidx >= 0;
}

static void start_resize(struct kdict *d, size_t want)
{
    size_t size = KDICT_MIN_SIZE;

    while (size < want) {
        size *= 2;
    }
    if (size == d->t[0].size) {
        return;
    }
    struct ktable nt = {
        .b = sh_calloc(size, sizeof(struct kentry *)),
        .size = size,
        .mask = size - 1,
    };
    if (d->t[0].size == 0) {
        d->t[0] = nt;
        return;
    }
    d->t[1] = nt;
    d->rehashidx = 0;
}

bool kdict_rehash(struct kdict *d, int n)
{
    int empty_visits = n * 10;

    if (d->rehashidx < 0) {
        return false;
    }
    while (n-- && d->t[0].used) {
        while (d->t[0].b[d->rehashidx] == NULL) {
            d->rehashidx++;
            if (--empty_visits == 0) {
                return true;
            }
        }
        struct kentry *e = d->t[0].b[d->rehashidx];

        while (e) {
            struct kentry *next = e->next;
            size_t idx = kdict_hash(e->key, e->klen) & d->t[1].mask;

            e->next = d->t[1].b[idx];
            d->t[1].b[idx] = e;
            d->t[0].used--;
            d->t[1].used++;
            e = next;
        }
        d->t[0].b[d->rehashidx] = NULL;
        d->rehashidx++;
    }
    if (d->t[0].used == 0) {
        sh_free(d->t[0].b);
        d->t[0] = d->t[1];
        memset(&d->t[1], 0, sizeof(d->t[1]));
        d->rehashidx = -1;
        return false;
    }
    return true;
}

static void maybe_resize(struct kdict *d)
{
    size_t used = d->t[0].used;

    if (d->rehashidx >= 0) {
        return;
    }
    if (d->t[0].size == 0 || used >= d->t[0].size) {
        start_resize(d, used + 1);
    } else if (d->t[0].size > KDICT_MIN_SIZE && used * 8 < d->t[0].size) {
        start_resize(d, used);
    }
}

struct kentry *kdict_find(struct kdict *d, const void *key, size_t len, uint64_t hash)
{
    if (kdict_size(d) == 0) {
        return NULL;
    }
    if (d->rehashidx >= 0) {
        kdict_rehash(d, 1);
    }
    for (int t = 0; t < 2; t++) {
        const struct ktable *tb = &d->t[t];

        if (tb->size == 0) {
            continue;
        }
        for (struct kentry *e = tb->b[hash & tb->mask]; e; e = e->next) {
            if (e->klen == len && memcmp(e->key, key, len) == 0) {
                return e;
            }
        }
        if (d->rehashidx < 0) {
            break;
        }
    }
    return NULL;
}

/* The tables a lookup of hash may visit (t[1] only while rehashing). */
static int live_tables(const struct kdict *d)
{
    return d->rehashidx >= 0 ? 2 : 1;
}

void kdict_prefetch_bucket(const struct kdict *d, uint64_t hash)
{
    for (int t = 0; t < live_tables(d); t++) {
        if (d->t[t].size) {
            __builtin_prefetch(&d->t[t].b[hash & d->t[t].mask]);
        }
    }
}

void kdict_prefetch_entry(const struct kdict *d, uint64_t hash)
{
    for (int t = 0; t < live_tables(d); t++) {
        if (d->t[t].size) {
            const struct kentry *e = d->t[t].b[hash & d->t[t].mask];

            if (e) {
                /* the header and the key's first bytes: a 48-byte entry
                 * (a 16-byte key) may straddle two cache lines */
                __builtin_prefetch(e);
                __builtin_prefetch((const char *)e + sizeof(*e) + 8);
            }
        }
    }
}

/* The stored hash is gone (kentry), so this takes the chain's first entry:
 * the one a lookup most often wants (load factor at most 1); a wrong one is
 * only a wasted prefetch. */
void kdict_prefetch_value(const struct kdict *d, uint64_t hash)
{
    for (int t = 0; t < live_tables(d); t++) {
        const struct kentry *e = d->t[t].size ? d->t[t].b[hash & d->t[t].mask] : NULL;

        if (e && e->val.type != KVAL_NONE &&
            (e->val.type != KVAL_STRING || e->val.enc == KVAL_ENC_RAW ||
             e->val.enc == KVAL_ENC_BARE)) {
            __builtin_prefetch(e->val.u.p);
        }
    }
}

struct kentry *kdict_add(struct kdict *d, const void *key, size_t len, uint64_t hash)
{
    struct kentry *e = sh_malloc(sizeof(*e) + len);
    struct ktable *tb;
    size_t idx;

    maybe_resize(d);
    if (d->rehashidx >= 0) {
        kdict_rehash(d, 1);
    }
    tb = d->rehashidx >= 0 ? &d->t[1] : &d->t[0];
    e->vol_idx = 0;
    e->ttl = 0;
    e->snap = 0;
    e->klen = (uint32_t)len;
    memset(&e->val, 0, sizeof(e->val));
    memcpy(e->key, key, len);
    idx = hash & tb->mask;
    e->next = tb->b[idx];
    tb->b[idx] = e;
    tb->used++;
    return e;
}

void kdict_delete(struct kdict *d, struct kentry *e)
{
    uint64_t hash = kdict_hash(e->key, e->klen);

    for (int t = 0; t < 2; t++) {
        struct ktable *tb = &d->t[t];

        if (tb->size == 0) {
            continue;
        }
        for (struct kentry **pp = &tb->b[hash & tb->mask]; *pp; pp = &(*pp)->next) {
            if (*pp == e) {
                *pp = e->next;
                tb->used--;
                free_entry(e);
                if (d->rehashidx >= 0) {
                    kdict_rehash(d, 1);
                } else {
                    maybe_resize(d);
                }
                return;
            }
        }
    }
    sh_panic("kdict_delete: entry not in table");
}

static void scan_bucket(struct kentry *e, kdict_scan_fn *fn, void *arg)
{
    while (e) {
        struct kentry *next = e->next;

        fn(arg, e);
        e = next;
    }
}

static uint64_t rev(uint64_t v)
{
    v = ((v >> 1) & 0x5555555555555555ULL) | ((v & 0x5555555555555555ULL) << 1);
    v = ((v >> 2) & 0x3333333333333333ULL) | ((v & 0x3333333333333333ULL) << 2);
    v = ((v >> 4) & 0x0F0F0F0F0F0F0F0FULL) | ((v & 0x0F0F0F0F0F0F0F0FULL) << 4);
    return __builtin_bswap64(v);
}

uint64_t kdict_scan(struct kdict *d, uint64_t v, kdict_scan_fn *fn, void *arg)
{
    const struct ktable *small, *large;
    uint64_t m0, m1;

    if (kdict_size(d) == 0) {
        return 0;
    }
    if (d->rehashidx < 0) {
        small = &d->t[0];
        m0 = small->mask;
        scan_bucket(small->b[v & m0], fn, arg);
        v |= ~m0;
        v = rev(v);
        v++;
        return rev(v);
    }
    small = &d->t[0];
    large = &d->t[1];
    if (small->size > large->size) {
        const struct ktable *tmp = small;

        small = large;
        large = tmp;
    }
    m0 = small->mask;
    m1 = large->mask;
    scan_bucket(small->b[v & m0], fn, arg);
    /* every bucket of the larger table that expands the small one's bucket */
    do {
        scan_bucket(large->b[v & m1], fn, arg);
        v |= ~m1;
        v = rev(v);
        v++;
        v = rev(v);
    } while (v & (m0 ^ m1));
    return v;
}

struct kentry *kdict_random(struct kdict *d, uint64_t rnd)
{
    struct kentry *e = NULL;
    size_t len = 0;

    if (kdict_size(d) == 0) {
        return NULL;
    }
    if (d->rehashidx >= 0) {
        kdict_rehash(d, 1);
    }
    /* probe buckets from a random start until a non-empty one */
    for (uint64_t r = rnd;; r = r * 6364136223846793005ULL + 1442695040888963407ULL) {
        if (d->rehashidx >= 0) {
            size_t span = d->t[0].size + d->t[1].size;
            size_t h = (size_t)(r >> 17) % span;

            if (h < d->t[0].size) {
                e = h >= (size_t)d->rehashidx ? d->t[0].b[h] : NULL;
            } else {
                e = d->t[1].b[h - d->t[0].size];
            }
        } else {
            e = d->t[0].b[(r >> 17) & d->t[0].mask];
        }
        if (e) {
            break;
        }
    }
    for (struct kentry *x = e; x; x = x->next) {
        len++;
    }
    len = (size_t)(rnd % len);
    while (len--) {
        e = e->next;
    }
    return e;
}
