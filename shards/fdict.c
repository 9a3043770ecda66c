/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * fdict.c: the field dictionary of hashes, sets and sorted sets (see fdict.h).
 *
 *   t[0]: [b0]->e->e  [b1]  [b2]->e ...      size 2^k, bucket = hash & (size-1)
 *   t[1]: only while resizing; rehashidx walks t[0] bucket by bucket
 *
 *   one entry, one allocation:
 *   [aux 8, FDICT_AUX only][next 8][klen 4][vlen 4][key bytes][value bytes]
 *                          ^ struct fentry * points here
 *
 * Invariants: an entry is in exactly one of t[0], t[1]; t[1] has buckets
 * only while a resize is in progress (that is what "rehashing" means), and
 * then the buckets of t[0] below rehashidx are empty; rehashidx is 0 when not
 * rehashing. memory equals the allocator's size of the struct, the bucket
 * arrays and every entry.
 *
 * Policy (Redis 7.0's for hashes and sets): grow when used reaches the size
 * (load factor 1) to the next power of two above used; shrink after a delete
 * when the table is under 1/10 full, to the next power of two of used
 * (at least FDICT_MIN_SIZE), and again when a shrink completes if deletes
 * made during it call for a smaller table (only adds or fdict_expand grow,
 * so a table expanded ahead of a bulk build is not shrunk before it is
 * filled). find/add/delete/random each move one bucket and fdict_rehash
 * moves more from the shard's timer. Live iterators pause the moves
 * (rehash_paused), so an entry stays where the iterator expects it; resizes
 * may still start, since starting one moves nothing.
 *
 * Bytes per element, the figure benchmarked against Redis:
 * - The header is 16 bytes: next, and uint32 lengths (a RESP bulk string is
 *   at most 512 MB by default, far below 4 GB).
 * - The 64-bit hash is not stored (8 bytes, often a jemalloc size class, per
 *   element). It is recomputed when a bucket moves to a larger table, when
 *   an entry is deleted or set_value reallocates it; a lookup compares the
 *   length before the bytes, so chains (about one entry at load 1) cost no
 *   extra hashing. xxh3 of a short field takes a few nanoseconds, and Redis's
 *   own dict does not store hashes either. A shrink needs no hashing at all:
 *   the new bucket is the old index masked.
 * - The aux word is paid only by dicts created with FDICT_AUX. It sits
 *   before the header, so key and value offsets do not depend on the flag and
 *   the accessors need no dict. jemalloc rounds to 16-byte classes, so aux
 *   costs a class whenever 16 + klen + vlen is 9 to 16 bytes below one.
 *   Measured with jemalloc 5.3, 1M elements, buckets included (Redis 7.0.15
 *   with the same data, used_memory delta, in brackets): set of "member:<n>"
 *   40.4 bytes per element without aux, 56.4 with it (56.7); set of "<n>"
 *   40.4 either way (48.3); hash "field:<n>" -> "value:<n>" 56.4 (72.4).
 *
 * Hashing: XXH3_64bits_withSeed with the seed given to fdict_create (the
 * shard's random seed), so that a client cannot choose many fields that
 * collide without knowing it. xxh3 is not a keyed PRF like the SipHash that
 * Redis uses for this; should a seed-independent collision family for short
 * inputs be published, switch to XXH3_64bits_withSecret with a per-shard
 * random secret.
 *
 * Scan: Redis's dictScan. The cursor is a bucket index of the smaller table
 * advanced by incrementing its bit-reversed form, so that every bucket of the
 * smaller table and its expansions in the larger one are visited exactly
 * once, whatever resizes happen between calls.
 *
 * Random: slot i is index i of both tables. A try draws a slot and a
 * position below m (4; 2 below a quarter full) and hits when the slot has an
 * entry there: every (slot, position) is equally likely, so hits are uniform
 * over the entries, except in slots longer than m, which return one of their
 * entries at once (each weighs m / length; Poisson chains at load <= 1 make
 * those rare). Redis's dictGetFairRandomKey takes one of 15 entries from
 * consecutive buckets, whose local density biases it (measured at load 0.98:
 * counts from 0.4 to 1.7 times the mean, where this gives 0.64 to 1.11). It
 * remains the fallback after 64 misses, and fdict_sample is its
 * dictGetSomeKeys, without the jumps, so that the entries are distinct.
 *
 * Threading: single-threaded; a dict belongs to one shard.
 */
#include "shardis/fdict.h"

#include <xxhash.h>

#include <assert.h>
#include <string.h>

#define FDICT_MIN_SIZE     4
#define FDICT_MIN_FILL     10 /* shrink when used * FDICT_MIN_FILL < size */
#define FDICT_EMPTY_VISITS 10 /* empty buckets skipped per bucket moved */
#define FDICT_RANDOM_TRIES 64 /* uniform tries before the window fallback */
#define FDICT_FAIR_WINDOW  15 /* entries the fallback chooses among */
#define FDICT_SAMPLE_STEPS 100

static_assert(sizeof(struct fentry) == 16, "entry header is 16 bytes");
static_assert(sizeof(union fdict_aux) == 8, "aux word is 8 bytes");

struct ftable {
    struct fentry **b;
    size_t size; /* power of two, or 0 */
    size_t used;
};

struct fdict {
    struct ftable t[2];
    size_t rehashidx;       /* next bucket of t[0] to move; 0 when not rehashing */
    uint64_t seed;          /* keys the hash */
    size_t memory;          /* see fdict_memory */
    unsigned rehash_paused; /* live iterators */
    unsigned flags;         /* FDICT_AUX */
};

static uint64_t hash_of(const struct fdict *d, const void *key, size_t len)
{
    return XXH3_64bits_withSeed(key, len, d->seed);
}

static bool rehashing(const struct fdict *d)
{
    return d->t[1].size != 0;
}

static size_t aux_bytes(const struct fdict *d)
{
    return (d->flags & FDICT_AUX) ? sizeof(union fdict_aux) : 0;
}

/* The start of e's allocation (its aux word, if any). */
static void *base_of(const struct fdict *d, struct fentry *e)
{
    return (char *)e - aux_bytes(d);
}

static struct fentry *entry_at(const struct fdict *d, void *base)
{
    return (struct fentry *)(void *)((char *)base + aux_bytes(d));
}

static bool key_eq(const struct fentry *e, const void *key, size_t klen)
{
    return e->klen == klen && (klen == 0 || memcmp(e->data, key, klen) == 0);
}

static struct fentry *entry_new(struct fdict *d, const void *key, size_t klen, const void *value,
                                size_t vlen, bool may_fail)
{
    size_t need = aux_bytes(d) + sizeof(struct fentry) + klen + vlen;
    void *base = may_fail ? sh_try_malloc(need) : sh_malloc(need);
    struct fentry *e;

    if (!base) {
        return NULL;
    }
    d->memory += sh_alloc_size(base);
    memset(base, 0, aux_bytes(d));
    e = entry_at(d, base);
    e->next = NULL;
    e->klen = (uint32_t)klen;
    e->vlen = (uint32_t)vlen;
    if (klen) {
        memcpy(e->data, key, klen);
    }
    if (vlen) {
        memcpy(e->data + klen, value, vlen);
    }
    return e;
}

static void entry_free(struct fdict *d, struct fentry *e)
{
    void *base = base_of(d, e);

    d->memory -= sh_alloc_size(base);
    sh_free(base);
}

/* A zeroed bucket array; false when it cannot be allocated. A table that
 * cannot grow keeps working with longer chains, so this never aborts. */
static bool table_alloc(struct fdict *d, struct ftable *t, size_t size)
{
    struct fentry **b;

    if (size > SIZE_MAX / sizeof(*b)) {
        return false;
    }
    b = sh_try_malloc(size * sizeof(*b));
    if (!b) {
        return false;
    }
    memset(b, 0, size * sizeof(*b));
    d->memory += sh_alloc_size(b);
    t->b = b;
    t->size = size;
    t->used = 0;
    return true;
}

static void table_free(struct fdict *d, struct ftable *t)
{
    d->memory -= sh_alloc_size(t->b);
    sh_free(t->b);
    memset(t, 0, sizeof(*t));
}

static void table_free_entries(struct fdict *d, struct ftable *t)
{
    for (size_t i = 0; i < t->size; i++) {
        struct fentry *e = t->b[i];

        while (e) {
            struct fentry *next = e->next;

            entry_free(d, e);
            e = next;
        }
    }
    table_free(d, t);
}

struct fdict *fdict_create(uint64_t seed, unsigned flags)
{
    struct fdict *d = sh_calloc(1, sizeof(*d));

    d->seed = seed;
    d->flags = flags & FDICT_AUX;
    d->memory = sh_alloc_size(d);
    return d;
}

void fdict_clear(struct fdict *d)
{
    SH_ASSERT(d->rehash_paused == 0);
    table_free_entries(d, &d->t[0]);
    table_free_entries(d, &d->t[1]);
    d->rehashidx = 0;
}

void fdict_destroy(struct fdict *d)
{
    if (d) {
        fdict_clear(d);
        sh_free(d);
    }
}

size_t fdict_size(const struct fdict *d)
{
    return d->t[0].used + d->t[1].used;
}

size_t fdict_buckets(const struct fdict *d)
{
    return d->t[0].size + d->t[1].size;
}

bool fdict_is_rehashing(const struct fdict *d)
{
    return rehashing(d);
}

bool fdict_has_aux(const struct fdict *d)
{
    return (d->flags & FDICT_AUX) != 0;
}

size_t fdict_memory(const struct fdict *d)
{
    return d->memory;
}

/* Starts resizing to the smallest power of two >= want (at least
 * FDICT_MIN_SIZE). An empty table is replaced at once; otherwise t[1] is
 * filled incrementally. Not while rehashing. */
static void start_resize(struct fdict *d, size_t want)
{
    size_t size = FDICT_MIN_SIZE;
    struct ftable nt;

    while (size < want && size <= SIZE_MAX / 2) {
        size *= 2;
    }
    if (size == d->t[0].size || !table_alloc(d, &nt, size)) {
        return;
    }
    if (d->t[0].used == 0) {
        table_free(d, &d->t[0]);
        d->t[0] = nt;
        return;
    }
    d->t[1] = nt;
    d->rehashidx = 0;
}

static void maybe_grow(struct fdict *d)
{
    if (!rehashing(d) && d->t[0].used >= d->t[0].size) {
        start_resize(d, d->t[0].used + 1);
    }
}

static void maybe_shrink(struct fdict *d)
{
    const struct ftable *t = &d->t[0];

    if (!rehashing(d) && t->size > FDICT_MIN_SIZE && t->used * FDICT_MIN_FILL < t->size) {
        start_resize(d, t->used);
    }
}

static void move_bucket(struct fdict *d, size_t idx)
{
    struct fentry *e = d->t[0].b[idx];
    size_t mask = d->t[1].size - 1;
    bool shrinking = d->t[1].size < d->t[0].size;

    while (e) {
        struct fentry *next = e->next;
        /* shrinking: hash & mask == (hash & old mask) & mask == idx & mask */
        size_t j = shrinking ? idx & mask : hash_of(d, e->data, e->klen) & mask;

        e->next = d->t[1].b[j];
        d->t[1].b[j] = e;
        d->t[0].used--;
        d->t[1].used++;
        e = next;
    }
    d->t[0].b[idx] = NULL;
}

bool fdict_rehash(struct fdict *d, int n)
{
    long empty_visits = (long)n * FDICT_EMPTY_VISITS;
    bool shrunk;

    if (!rehashing(d)) {
        return false;
    }
    if (d->rehash_paused) {
        return true;
    }
    while (n-- > 0 && d->t[0].used) {
        /* t[0] holds entries at or above rehashidx: this stops in bounds */
        while (d->t[0].b[d->rehashidx] == NULL) {
            d->rehashidx++;
            if (--empty_visits == 0) {
                return true;
            }
        }
        move_bucket(d, d->rehashidx++);
    }
    if (d->t[0].used) {
        return true;
    }
    shrunk = d->t[1].size < d->t[0].size;
    table_free(d, &d->t[0]);
    d->t[0] = d->t[1];
    memset(&d->t[1], 0, sizeof(d->t[1]));
    d->rehashidx = 0;
    if (shrunk) {
        maybe_shrink(d); /* deletes during the shrink may call for a smaller one */
    }
    return rehashing(d);
}

static void rehash_step(struct fdict *d)
{
    if (rehashing(d)) {
        fdict_rehash(d, 1);
    }
}

/* The link (bucket slot or previous entry's next) pointing at the entry that
 * matches, with the table holding it; NULL when none. target != NULL looks
 * for that entry, otherwise for the key. */
static struct fentry **find_link(struct fdict *d, uint64_t h, const struct fentry *target,
                                 const void *key, size_t klen, struct ftable **tp)
{
    for (int t = 0; t < 2; t++) {
        struct ftable *tb = &d->t[t];
        size_t i = h & (tb->size - 1);

        if (tb->size == 0 || (t == 0 && i < d->rehashidx)) {
            continue;
        }
        for (struct fentry **pp = &tb->b[i]; *pp; pp = &(*pp)->next) {
            if (target ? *pp == target : key_eq(*pp, key, klen)) {
                *tp = tb;
                return pp;
            }
        }
    }
    return NULL;
}

static struct fentry **link_of_entry(struct fdict *d, struct fentry *e, struct ftable **tp)
{
    struct fentry **pp = find_link(d, hash_of(d, e->data, e->klen), e, NULL, 0, tp);

    SH_ASSERT(pp != NULL); /* e is not an entry of d */
    return pp;
}

/* Links e at the head of its bucket in the table that receives new entries. */
static void link_new(struct fdict *d, struct fentry *e, uint64_t h)
{
    struct ftable *tb = &d->t[rehashing(d) ? 1 : 0];
    size_t i = h & (tb->size - 1);

    e->next = tb->b[i];
    tb->b[i] = e;
    tb->used++;
}

static struct fentry *lookup(struct fdict *d, uint64_t h, const void *key, size_t klen)
{
    struct ftable *tb;
    struct fentry **pp = find_link(d, h, NULL, key, klen, &tb);

    return pp ? *pp : NULL;
}

struct fentry *fdict_find(struct fdict *d, const void *key, size_t klen)
{
    if (fdict_size(d) == 0) {
        return NULL;
    }
    rehash_step(d);
    return lookup(d, hash_of(d, key, klen), key, klen);
}

/* add, try_add, find_or_add and try_find_or_add: existed == NULL means the
 * caller says the key is absent. Lengths are checked before the bytes are
 * read. */
static struct fentry *add_entry(struct fdict *d, const void *key, size_t klen, const void *value,
                                size_t vlen, bool may_fail, bool *existed)
{
    struct fentry *e;
    uint64_t h;

    if (existed) {
        *existed = false;
    }
    if (klen > FDICT_MAX_LEN || vlen > FDICT_MAX_LEN) {
        if (!may_fail) {
            sh_panic("fdict_add: %zu-byte key or %zu-byte value", klen, vlen);
        }
        return NULL;
    }
    h = hash_of(d, key, klen);
    rehash_step(d);
    if (existed) {
        e = lookup(d, h, key, klen);
        *existed = e != NULL;
        if (e) {
            return e;
        }
    }
    SH_DEBUG_ASSERT(existed || !lookup(d, h, key, klen)); /* fdict_add of a present key */
    maybe_grow(d);
    if (d->t[0].size == 0) {
        if (!may_fail) {
            sh_panic("out of memory allocating the first bucket array");
        }
        return NULL;
    }
    e = entry_new(d, key, klen, value, vlen, may_fail);
    if (e) {
        link_new(d, e, h);
    }
    return e;
}

struct fentry *fdict_add(struct fdict *d, const void *key, size_t klen, const void *value,
                         size_t vlen)
{
    return add_entry(d, key, klen, value, vlen, false, NULL);
}

struct fentry *fdict_try_add(struct fdict *d, const void *key, size_t klen, const void *value,
                             size_t vlen)
{
    return add_entry(d, key, klen, value, vlen, true, NULL);
}

struct fentry *fdict_find_or_add(struct fdict *d, const void *key, size_t klen, const void *value,
                                 size_t vlen, bool *existed)
{
    return add_entry(d, key, klen, value, vlen, false, existed);
}

struct fentry *fdict_try_find_or_add(struct fdict *d, const void *key, size_t klen,
                                     const void *value, size_t vlen, bool *existed)
{
    return add_entry(d, key, klen, value, vlen, true, existed);
}

static struct fentry *set_value(struct fdict *d, struct fentry *e, const void *value, size_t vlen,
                                bool may_fail)
{
    struct ftable *tb;
    struct fentry **pp;
    void *base;
    size_t old, need = aux_bytes(d) + sizeof(*e) + e->klen + vlen;

    if (vlen == e->vlen) {
        if (vlen) {
            memmove(e->data + e->klen, value, vlen);
        }
        return e;
    }
    if (vlen > FDICT_MAX_LEN) {
        if (!may_fail) {
            sh_panic("fdict_set_value: %zu-byte value", vlen);
        }
        return NULL;
    }
    pp = link_of_entry(d, e, &tb);
    base = base_of(d, e);
    old = sh_alloc_size(base);
    base = may_fail ? sh_try_realloc(base, need) : sh_realloc(base, need);
    if (!base) {
        return NULL;
    }
    d->memory = d->memory - old + sh_alloc_size(base);
    e = entry_at(d, base);
    e->vlen = (uint32_t)vlen;
    if (vlen) {
        memcpy(e->data + e->klen, value, vlen);
    }
    *pp = e; /* pp is a bucket slot or another entry's next: not inside e */
    return e;
}

struct fentry *fdict_set_value(struct fdict *d, struct fentry *e, const void *value, size_t vlen)
{
    return set_value(d, e, value, vlen, false);
}

struct fentry *fdict_try_set_value(struct fdict *d, struct fentry *e, const void *value,
                                   size_t vlen)
{
    return set_value(d, e, value, vlen, true);
}

static void unlink_free(struct fdict *d, struct fentry **pp, struct ftable *tb)
{
    struct fentry *e = *pp;

    *pp = e->next;
    tb->used--;
    entry_free(d, e);
    maybe_shrink(d);
}

void fdict_delete(struct fdict *d, struct fentry *e)
{
    struct ftable *tb;
    struct fentry **pp;

    rehash_step(d); /* may move e to t[1], never frees it */
    pp = link_of_entry(d, e, &tb);
    unlink_free(d, pp, tb);
}

bool fdict_delete_key(struct fdict *d, const void *key, size_t klen)
{
    struct ftable *tb;
    struct fentry **pp;

    if (fdict_size(d) == 0) {
        return false;
    }
    rehash_step(d);
    pp = find_link(d, hash_of(d, key, klen), NULL, key, klen, &tb);
    if (!pp) {
        return false;
    }
    unlink_free(d, pp, tb);
    return true;
}

void fdict_expand(struct fdict *d, size_t n)
{
    if (!rehashing(d) && n > d->t[0].size) {
        start_resize(d, n);
    }
}

static void scan_bucket(struct fentry *e, fdict_scan_fn *fn, void *arg)
{
    while (e) {
        struct fentry *next = e->next;

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

/* The next cursor after v for a table of mask m: increments the reversed
 * bits above the mask's. */
static uint64_t next_cursor(uint64_t v, uint64_t m)
{
    v |= ~m;
    v = rev(v);
    v++;
    return rev(v);
}

uint64_t fdict_scan(struct fdict *d, uint64_t v, fdict_scan_fn *fn, void *arg)
{
    const struct ftable *small = &d->t[0], *large = &d->t[1];
    uint64_t m0, m1;

    if (fdict_size(d) == 0) {
        return 0;
    }
    if (!rehashing(d)) {
        scan_bucket(small->b[v & (small->size - 1)], fn, arg);
        return next_cursor(v, small->size - 1);
    }
    if (small->size > large->size) {
        small = &d->t[1];
        large = &d->t[0];
    }
    m0 = small->size - 1;
    m1 = large->size - 1;
    scan_bucket(small->b[v & m0], fn, arg);
    /* every bucket of the larger table that expands the small one's bucket */
    do {
        scan_bucket(large->b[v & m1], fn, arg);
        v = next_cursor(v, m1);
    } while (v & (m0 ^ m1));
    return v;
}

void fdict_iter_init(struct fdict_iter *it, struct fdict *d)
{
    it->d = d;
    it->next = NULL;
    it->idx = 0;
    it->table = 0;
    d->rehash_paused++;
}

struct fentry *fdict_iter_next(struct fdict_iter *it)
{
    struct fentry *e;

    while (!it->next) {
        const struct ftable *tb = &it->d->t[it->table];

        if (it->idx < tb->size) {
            it->next = tb->b[it->idx++];
            continue;
        }
        /* an add may have started a resize since: its t[1] gets new entries */
        if (it->table == 1 || !rehashing(it->d)) {
            return NULL;
        }
        it->table = 1;
        it->idx = 0;
    }
    e = it->next;
    it->next = e->next; /* so that the caller may delete or move e */
    return e;
}

void fdict_iter_fini(struct fdict_iter *it)
{
    if (it->d) {
        SH_ASSERT(it->d->rehash_paused > 0);
        it->d->rehash_paused--;
        it->d = NULL;
        it->next = NULL;
    }
}

/* splitmix64: a stream of random numbers from the caller's one. */
static uint64_t next_random(uint64_t *state)
{
    uint64_t z = (*state += 0x9E3779B97F4A7C15ULL);

    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
    return z ^ (z >> 31);
}

/* Appends the entries of bucket i of both tables to out[got..n). */
static size_t take_bucket(const struct fdict *d, size_t i, struct fentry **out, size_t got,
                          size_t n)
{
    for (int t = 0; t < 2; t++) {
        const struct ftable *tb = &d->t[t];

        if (i >= tb->size) {
            continue;
        }
        for (struct fentry *e = tb->b[i]; e && got < n; e = e->next) {
            out[got++] = e;
        }
    }
    return got;
}

/* Every index below the larger table's size is a bucket of it and, when
 * below the smaller one's, of that one too: walking indexes from a random
 * one without wrapping around visits each bucket at most once. */
static size_t sample(struct fdict *d, uint64_t *rnd, struct fentry **out, size_t n)
{
    size_t got = 0, span, i;

    if (n > fdict_size(d)) {
        n = fdict_size(d);
    }
    if (n == 0) {
        return 0;
    }
    if (rehashing(d)) {
        fdict_rehash(d, n < FDICT_SAMPLE_STEPS ? (int)n : FDICT_SAMPLE_STEPS);
    }
    span = d->t[0].size > d->t[1].size ? d->t[0].size : d->t[1].size;
    i = next_random(rnd) & (span - 1);
    for (size_t visited = 0; visited < span && got < n; visited++) {
        got = take_bucket(d, i, out, got, n);
        i = (i + 1) & (span - 1);
    }
    return got;
}

size_t fdict_sample(struct fdict *d, uint64_t rnd, struct fentry **out, size_t n)
{
    return sample(d, &rnd, out, n);
}

/* Slot i: the chains at index i of t[0] and of t[1], where they exist. Every
 * entry is in one slot, at one position. */
static size_t slot_len(const struct fdict *d, size_t i)
{
    size_t len = 0;

    for (int t = 0; t < 2; t++) {
        for (struct fentry *e = i < d->t[t].size ? d->t[t].b[i] : NULL; e; e = e->next) {
            len++;
        }
    }
    return len;
}

static struct fentry *slot_nth(const struct fdict *d, size_t i, size_t k)
{
    for (int t = 0; t < 2; t++) {
        for (struct fentry *e = i < d->t[t].size ? d->t[t].b[i] : NULL; e; e = e->next) {
            if (k-- == 0) {
                return e;
            }
        }
    }
    return NULL;
}

/* One try at a uniform pick: slot i and position k < m, NULL when the slot
 * has no entry k. Each entry has one (slot, position), so a hit is uniform
 * over the entries as long as no slot holds more than m; a longer slot (rare
 * at load <= 1) yields one of its entries at once, each of them then
 * weighing m / its length instead of 1. */
static struct fentry *pick(const struct fdict *d, size_t span, size_t m, uint64_t *rnd)
{
    uint64_t r = next_random(rnd);
    size_t i = r & (span - 1), k = (size_t)(r >> 62) & (m - 1);
    size_t len = slot_len(d, i);

    if (len > m) {
        k = next_random(rnd) % len;
    }
    return k < len ? slot_nth(d, i, k) : NULL;
}

struct fentry *fdict_random(struct fdict *d, uint64_t rnd)
{
    struct fentry *window[FDICT_FAIR_WINDOW];
    size_t span, m, got;

    if (fdict_size(d) == 0) {
        return NULL;
    }
    rehash_step(d);
    span = d->t[0].size > d->t[1].size ? d->t[0].size : d->t[1].size;
    /* below a quarter full, shorter slots suffice and halve the tries */
    m = fdict_size(d) * 4 < span ? 2 : 4;
    for (int tries = 0; tries < FDICT_RANDOM_TRIES; tries++) {
        struct fentry *e = pick(d, span, m, &rnd);

        if (e) {
            return e;
        }
    }
    /* a table far below its normal load (expanded ahead of a bulk build, or
     * rehash paused while it emptied): Redis's window, bounded by the size */
    got = sample(d, &rnd, window, FDICT_FAIR_WINDOW);
    return window[next_random(&rnd) % got];
}
