/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * kdict.c: the key table (see kdict.h).
 *
 *   t[0].s: [e|tag] [0] [e|tag] [e|tag] [TOMB] [0] ...   size 2^k slots
 *   t[1]:   used only while resizing
 *
 * A slot is EMPTY (0), a TOMB (a deleted entry's place, 1), or an entry's
 * address with the top 16 bits of its key's hash in the slot's top 16 bits
 * (user addresses fit 48 bits). An entry's home is hash & mask; it sits at
 * the first slot at or after its home (wrapping) that was EMPTY or a TOMB
 * when it was added, so every slot from its home to it is non-EMPTY: a
 * lookup probes from the home to the first EMPTY slot. A delete leaves a
 * TOMB, or EMPTY (with the TOMBs just before it) when the next slot is
 * EMPTY, which keeps that invariant. A cluster is a maximal run of
 * non-EMPTY slots; every entry's home is in its own cluster.
 *
 * Load: live entries plus TOMBs stay below 3/4 of the slots; past that the
 * table is rehashed (to twice the size, or the same size when TOMBs are
 * what filled it), and below 1/8 live it shrinks (Redis's policy).
 *
 * Incremental rehash: entries move from t[0] to t[1] a whole cluster at a
 * time, starting at a slot that was EMPTY when the rehash began and walking
 * t[0] once around (rh_pos, rh_left slots to go). The slots walked are EMPTY,
 * and the clusters not walked yet are whole (t[0] gains no entries while
 * rehashing: adds go to t[1]), so a lookup probes t[0] as usual, then t[1].
 * Each add walks enough slots that the walk ends before t[1] could pass its
 * load limit (rh_budget).
 *
 * Scan: Redis's dictScan over home slots. The cursor is a home slot of the
 * smaller table advanced by incrementing its bit-reversed form, so that
 * every home of the smaller table and its expansions in the larger one are
 * visited exactly once, whatever resizes happen between calls; visiting a
 * home walks its cluster from there and takes the entries whose home it is
 * (their hash is computed again).
 */
#include "shardis/kdict.h"

#include <xxhash.h>

#include <string.h>

#define KDICT_MIN_SIZE 8
/* slots walked by each lookup, add and delete while rehashing (at least) */
#define REHASH_STEP    16
#define SLOT_EMPTY     0ULL
#define SLOT_TOMB      1ULL
#define SLOT_PTR_MASK  ((1ULL << 48) - 1)

struct ktable {
    uint64_t *s;
    size_t size; /* power of two, or 0 */
    size_t mask;
    size_t used;  /* live entries */
    size_t tombs; /* TOMB slots */
};

struct kdict {
    struct ktable t[2];
    bool rehashing;
    bool scanning;  /* inside kdict_scan's calls: lookups move nothing */
    size_t rh_pos;  /* next slot of t[0] to walk */
    size_t rh_left; /* slots of t[0] not walked yet */
};

uint64_t kdict_hash(const void *key, size_t len)
{
    return XXH3_64bits(key, len);
}

/*
 * Under AddressSanitizer the tags are 0: its leak checker finds live blocks
 * by scanning memory for their addresses, and an address with a tag above it
 * is not one, so every entry would be reported as leaked (the fuzz tests
 * check for leaks after each input). A tag of 0 matches every entry: lookups
 * then compare keys alone.
 */
#if defined(__SANITIZE_ADDRESS__)
#define KDICT_TAGS 0
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define KDICT_TAGS 0
#endif
#endif
#ifndef KDICT_TAGS
#define KDICT_TAGS 1
#endif

static inline uint64_t tag_of(uint64_t hash)
{
    return KDICT_TAGS ? hash & ~SLOT_PTR_MASK : 0;
}

static inline bool slot_live(uint64_t s)
{
    return s > SLOT_TOMB;
}

static inline struct kentry *slot_entry(uint64_t s)
{
    return (struct kentry *)(uintptr_t)(s & SLOT_PTR_MASK);
}

static inline uint64_t entry_hash(const struct kentry *e)
{
    return kdict_hash(kentry_key(e), kentry_klen(e));
}

struct kdict *kdict_create(void)
{
    return sh_calloc(1, sizeof(struct kdict));
}

static void free_entry(struct kentry *e)
{
    kval_clear(&e->val);
    sh_free(e);
}

static void table_clear(struct ktable *t)
{
    for (size_t i = 0; i < t->size; i++) {
        if (slot_live(t->s[i])) {
            free_entry(slot_entry(t->s[i]));
        }
    }
    sh_free(t->s);
    memset(t, 0, sizeof(*t));
}

void kdict_clear(struct kdict *d)
{
    table_clear(&d->t[0]);
    table_clear(&d->t[1]);
    d->rehashing = false;
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
    return d->rehashing;
}

/* Whether n entries and TOMBs are within a table of size's load limit. */
static inline bool fits(size_t n, size_t size)
{
    return n * 4 < size * 3;
}

/* Puts a slot value in the first EMPTY or TOMB slot from hash's home. */
static void table_put(struct ktable *t, uint64_t hash, uint64_t slot)
{
    size_t i = hash & t->mask;

    while (slot_live(t->s[i])) {
        i = (i + 1) & t->mask;
    }
    if (t->s[i] == SLOT_TOMB) {
        t->tombs--;
    }
    t->s[i] = slot;
    t->used++;
}

static void start_resize(struct kdict *d, size_t live)
{
    size_t size = KDICT_MIN_SIZE;

    while (!fits(live + 1, size)) {
        size *= 2;
    }
    struct ktable nt = {
        .s = sh_calloc(size, sizeof(uint64_t)),
        .size = size,
        .mask = size - 1,
    };
    if (d->t[0].size == 0) {
        d->t[0] = nt;
        return;
    }
    d->t[1] = nt;
    d->rehashing = true;
    d->rh_left = d->t[0].size;
    /* the walk starts at an EMPTY slot: the cluster after it is whole */
    d->rh_pos = 0;
    while (d->t[0].s[d->rh_pos] != SLOT_EMPTY) {
        d->rh_pos++;
    }
}

static void finish_rehash(struct kdict *d)
{
    SH_ASSERT(d->t[0].used == 0);
    if (d->t[0].size * sizeof(uint64_t) >= (64u << 10)) {
        sh_free_pages(d->t[0].s); /* RSS falls now, not 10 s later */
    } else {
        sh_free(d->t[0].s);
    }
    d->t[0] = d->t[1];
    memset(&d->t[1], 0, sizeof(d->t[1]));
    d->rehashing = false;
}

/* Walks at least n slots of t[0], stopping only after an EMPTY one (or at
 * the end of the walk), moving the entries met to t[1]. */
static void rehash_slots(struct kdict *d, size_t n)
{
    struct ktable *t0 = &d->t[0], *t1 = &d->t[1];

    while (d->rh_left) {
        uint64_t s = t0->s[d->rh_pos];

        if (slot_live(s)) {
            table_put(t1, entry_hash(slot_entry(s)), s);
            t0->used--;
        } else if (s == SLOT_TOMB) {
            t0->tombs--;
        }
        t0->s[d->rh_pos] = SLOT_EMPTY;
        d->rh_pos = (d->rh_pos + 1) & t0->mask;
        d->rh_left--;
        if (n) {
            n--;
        }
        if (n == 0 && s == SLOT_EMPTY) {
            break;
        }
    }
    if (d->rh_left == 0 || t0->used == 0) {
        finish_rehash(d);
    }
}

bool kdict_rehash(struct kdict *d, int n)
{
    if (!d->rehashing) {
        return false;
    }
    rehash_slots(d, (size_t)n * 8);
    return d->rehashing;
}

/* Slots an add walks so that the walk ends before t[1] passes its load
 * limit: what is left to walk over the adds t[1] has room for. */
static size_t rh_budget(const struct kdict *d)
{
    size_t held = d->t[0].used + d->t[1].used + d->t[1].tombs;
    size_t limit = d->t[1].size * 3 / 4;
    size_t room = limit > held + 1 ? limit - held - 1 : 0;

    if (room == 0) {
        return d->rh_left;
    }
    return d->rh_left / room + REHASH_STEP;
}

static void maybe_resize(struct kdict *d)
{
    const struct ktable *t = &d->t[0];

    if (d->rehashing) {
        return;
    }
    /* sized for half again the live entries: at most about half full after,
     * twice the size when the entries filled it, the same size (or smaller)
     * when TOMBs did */
    if (t->size == 0 || !fits(t->used + t->tombs + 1, t->size) ||
        (t->size > KDICT_MIN_SIZE && t->used * 8 < t->size)) {
        start_resize(d, t->used + t->used / 2);
    }
}

static struct kentry *table_find(const struct ktable *t, const void *key, size_t len, uint64_t hash)
{
    uint64_t tag = tag_of(hash);
    size_t i = hash & t->mask;

    for (uint64_t s; (s = t->s[i]) != SLOT_EMPTY; i = (i + 1) & t->mask) {
        if ((s & ~SLOT_PTR_MASK) == tag && s != SLOT_TOMB) {
            struct kentry *e = slot_entry(s);

            if (kentry_klen(e) == len && memcmp(kentry_key(e), key, len) == 0) {
                return e;
            }
        }
    }
    return NULL;
}

struct kentry *kdict_find(struct kdict *d, const void *key, size_t len, uint64_t hash)
{
    struct kentry *e;

    if (kdict_size(d) == 0) {
        return NULL;
    }
    if (d->rehashing && !d->scanning) {
        rehash_slots(d, REHASH_STEP);
    }
    if (d->t[0].used && (e = table_find(&d->t[0], key, len, hash))) {
        return e;
    }
    if (d->rehashing && d->t[1].used) {
        return table_find(&d->t[1], key, len, hash);
    }
    return NULL;
}

/* The tables a lookup of hash may visit (t[1] only while rehashing). */
static int live_tables(const struct kdict *d)
{
    return d->rehashing ? 2 : 1;
}

void kdict_prefetch_bucket(const struct kdict *d, uint64_t hash)
{
    for (int t = 0; t < live_tables(d); t++) {
        if (d->t[t].size) {
            __builtin_prefetch(&d->t[t].s[hash & d->t[t].mask]);
        }
    }
}

/* The first entry from hash's home whose tag matches (a few slots at most). */
static const struct kentry *tag_entry(const struct ktable *t, uint64_t hash)
{
    uint64_t tag = tag_of(hash);
    size_t i = hash & t->mask;

    if (t->size == 0) {
        return NULL;
    }
    for (int n = 0; n < 8; n++, i = (i + 1) & t->mask) {
        uint64_t s = t->s[i];

        if (s == SLOT_EMPTY) {
            break;
        }
        if ((s & ~SLOT_PTR_MASK) == tag && s != SLOT_TOMB) {
            return slot_entry(s);
        }
    }
    return NULL;
}

void kdict_prefetch_entry(const struct kdict *d, uint64_t hash)
{
    for (int t = 0; t < live_tables(d); t++) {
        const struct kentry *e = tag_entry(&d->t[t], hash);

        if (e) {
            /* the header and the key: a 32-byte entry is in one line */
            __builtin_prefetch(e);
        }
    }
}

void kdict_prefetch_value(const struct kdict *d, uint64_t hash)
{
    for (int t = 0; t < live_tables(d); t++) {
        const struct kentry *e = tag_entry(&d->t[t], hash);

        if (e && e->val.type != KVAL_NONE &&
            (e->val.type != KVAL_STRING || e->val.enc == KVAL_ENC_RAW ||
             e->val.enc == KVAL_ENC_BARE)) {
            __builtin_prefetch(e->val.u.p);
        }
    }
}

struct kentry *kdict_add(struct kdict *d, const void *key, size_t len, uint64_t hash)
{
    size_t pre = len >= KENTRY_LONG ? sizeof(uint32_t) : 0;
    struct kentry *e = sh_malloc(sizeof(*e) + pre + len);
    struct ktable *t;

    SH_ASSERT(((uintptr_t)e & ~SLOT_PTR_MASK) == 0 && ((uintptr_t)e & 1) == 0);
    maybe_resize(d);
    if (d->rehashing) {
        rehash_slots(d, rh_budget(d));
    }
    t = d->rehashing ? &d->t[1] : &d->t[0];
    memset(&e->val, 0, sizeof(e->val));
    if (pre) {
        uint32_t n = (uint32_t)len;

        e->val.kt_klen = KENTRY_LONG;
        memcpy(e->kraw, &n, sizeof(n));
    } else {
        e->val.kt_klen = (uint8_t)len;
    }
    memcpy(e->kraw + pre, key, len);
    table_put(t, hash, (uint64_t)(uintptr_t)e | tag_of(hash));
    return e;
}

/* Empties slot i of t: a TOMB, unless the next slot is EMPTY, in which case
 * it and the TOMBs just before it become EMPTY. */
static void table_remove(struct ktable *t, size_t i)
{
    t->used--;
    if (t->s[(i + 1) & t->mask] != SLOT_EMPTY) {
        t->s[i] = SLOT_TOMB;
        t->tombs++;
        return;
    }
    t->s[i] = SLOT_EMPTY;
    for (i = (i - 1) & t->mask; t->s[i] == SLOT_TOMB; i = (i - 1) & t->mask) {
        t->s[i] = SLOT_EMPTY;
        t->tombs--;
    }
}

void kdict_delete(struct kdict *d, struct kentry *e)
{
    uint64_t hash = entry_hash(e);
    uint64_t want = (uint64_t)(uintptr_t)e | tag_of(hash);

    for (int n = 0; n < 2; n++) {
        struct ktable *t = &d->t[n];

        if (t->used == 0) {
            continue;
        }
        for (size_t i = hash & t->mask; t->s[i] != SLOT_EMPTY; i = (i + 1) & t->mask) {
            if (t->s[i] == want) {
                table_remove(t, i);
                free_entry(e);
                if (d->rehashing) {
                    rehash_slots(d, REHASH_STEP);
                } else {
                    maybe_resize(d);
                }
                return;
            }
        }
    }
    sh_panic("kdict_delete: entry not in table");
}

/* Calls fn for the entries of t whose home is slot h: they are in the
 * cluster from h on. */
static void scan_home(const struct ktable *t, size_t h, kdict_scan_fn *fn, void *arg)
{
    for (size_t i = h; t->s[i] != SLOT_EMPTY; i = (i + 1) & t->mask) {
        if (slot_live(t->s[i]) && (entry_hash(slot_entry(t->s[i])) & t->mask) == h) {
            fn(arg, slot_entry(t->s[i]));
        }
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
    d->scanning = true;
    if (!d->rehashing) {
        small = &d->t[0];
        m0 = small->mask;
        scan_home(small, v & m0, fn, arg);
        d->scanning = false;
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
    scan_home(small, v & m0, fn, arg);
    /* every home of the larger table that expands the small one's home */
    do {
        scan_home(large, v & m1, fn, arg);
        v |= ~m1;
        v = rev(v);
        v++;
        v = rev(v);
    } while (v & (m0 ^ m1));
    d->scanning = false;
    return v;
}

struct kentry *kdict_random(struct kdict *d, uint64_t rnd)
{
    const struct ktable *t = &d->t[0];
    size_t i;

    if (kdict_size(d) == 0) {
        return NULL;
    }
    if (d->rehashing && !d->scanning) {
        rehash_slots(d, REHASH_STEP);
    }
    if (d->rehashing) {
        /* a table in proportion to its entries */
        size_t all = d->t[0].used + d->t[1].used;

        t = (size_t)(rnd % all) < d->t[0].used ? &d->t[0] : &d->t[1];
    }
    /* random slots until a live one, as Redis draws buckets: every entry
     * equally likely (a few draws at the load factors kept); a very sparse
     * table falls back to the first live slot after the last draw */
    for (int tries = 0; tries < 64; tries++) {
        rnd = rnd * 6364136223846793005ULL + 1442695040888963407ULL;
        i = (size_t)(rnd >> 17) & t->mask;
        if (slot_live(t->s[i])) {
            return slot_entry(t->s[i]);
        }
    }
    for (i = (size_t)(rnd >> 17) & t->mask; !slot_live(t->s[i]); i = (i + 1) & t->mask) {
    }
    return slot_entry(t->s[i]);
}
