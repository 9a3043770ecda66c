/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * kdb.c: a database: key table plus expiry (see kdb.h).
 *
 * The volatile array holds every entry with a TTL and the TTL itself (the
 * entry has no room for one: most keys have none; its kt_ttl bit says it has
 * one), so that sampling is O(1). The volatile map says where an entry is in
 * it: open addressing (linear probing, deletes by backward shift) over
 * 4-byte slots holding an array index + 1, keyed by the entry's address, so
 * that adding, removing and reading are O(1) too (removal moves the last
 * element into the hole). Together they are the counterpart of Redis's
 * "expires" dict without storing the key twice.
 *
 * The map is resized (to at most half full) when it passes 3/4 full or falls
 * below 1/8, incrementally, so that no command waits for a whole rebuild:
 * the old map is walked from slot 0, a few slots per volatile add or remove
 * (and in the cron), each entry met moved to the new map (deleting it there
 * may pull a later entry of its cluster into the slot, so the walk moves on
 * only past an empty slot). The slots walked are empty and no entry whose
 * home they are is left behind, so a lookup probes the new map, then the old
 * one as usual. Each add or remove walks enough that the walk ends before
 * the new map passes 3/4 full.
 */
#include "shardis/kdb.h"

#include <string.h>

#define ACTIVE_SAMPLE 20

struct vslot {
    struct kentry *e;
    int64_t when; /* unix ms */
};

/* vol index + 1 per slot, 0 when empty */
struct vmap {
    uint32_t *s;
    size_t size; /* power of two, or 0 */
    size_t used;
};

struct kdb {
    struct kdict *dict;
    struct vslot *vol;
    size_t nvol;
    size_t capvol;
    struct vmap vm;     /* the volatile map */
    struct vmap vm_old; /* while resizing (size 0: not resizing) */
    size_t vm_pos;      /* the next slot of vm_old to walk */
    long long avg_ttl;
    uint64_t expired; /* keys deleted because their TTL passed */
    kdb_key_fn *on_expired;
    kdb_key_fn *on_new;
    void *hook_arg;
    int id;
    int64_t now_ms; /* of the last lookup: when kdb_add's keys were made */
    /* a snapshot runs: entries whose mark differs from snap_phase are not
     * reached yet (kdb_snap_begin) */
    bool snap_on;
    uint8_t snap_phase;
    kdb_snap_fn *snap_fn;
    void *snap_arg;
    /* an LFU maxmemory policy: val.lru holds minutes << 8 | counter */
    bool lfu;
    int lfu_log_factor;
    int lfu_decay_time;
    uint64_t rnd;
};

static uint32_t lfu_make(int64_t now_ms, unsigned counter);
static uint64_t next_rnd(uint64_t *rnd);

static inline void snap_check(struct kdb *db, struct kentry *e)
{
    if (SH_UNLIKELY(db->snap_on) && e->val.kt_snap != db->snap_phase) {
        db->snap_fn(db->snap_arg, db->id, e);
        e->val.kt_snap = db->snap_phase;
    }
}

void kdb_snap_begin(struct kdb *db, kdb_snap_fn *fn, void *arg)
{
    SH_ASSERT(!db->snap_on);
    db->snap_phase ^= 1;
    db->snap_fn = fn;
    db->snap_arg = arg;
    db->snap_on = true;
}

static void mark_one(void *arg, struct kentry *e)
{
    e->val.kt_snap = ((struct kdb *)arg)->snap_phase;
}

void kdb_snap_end(struct kdb *db, bool mark_rest)
{
    if (mark_rest) {
        uint64_t cursor = 0;

        do {
            cursor = kdict_scan(db->dict, cursor, mark_one, db);
        } while (cursor);
    }
    db->snap_on = false;
}

bool kdb_snap_reached(const struct kdb *db, const struct kentry *e)
{
    return e->val.kt_snap == db->snap_phase;
}

void kdb_snap_mark(struct kdb *db, struct kentry *e)
{
    e->val.kt_snap = db->snap_phase;
}

struct kdb *kdb_create(void)
{
    struct kdb *db = sh_calloc(1, sizeof(*db));

    db->dict = kdict_create();
    return db;
}

void kdb_destroy(struct kdb *db)
{
    if (db) {
        kdict_destroy(db->dict);
        sh_free(db->vol);
        sh_free(db->vm.s);
        sh_free(db->vm_old.s);
        sh_free(db);
    }
}

static size_t vm_home(const struct vmap *m, const struct kentry *e)
{
    return (size_t)(((uint64_t)(uintptr_t)e * 0x9E3779B97F4A7C15ULL) >> 32) & (m->size - 1);
}

/* Finds e's slot in m: true and *at, or false. */
static bool vm_find(const struct kdb *db, const struct vmap *m, const struct kentry *e, size_t *at)
{
    if (m->used == 0) {
        return false;
    }
    for (size_t i = vm_home(m, e); m->s[i]; i = (i + 1) & (m->size - 1)) {
        if (db->vol[m->s[i] - 1].e == e) {
            *at = i;
            return true;
        }
    }
    return false;
}

/* The slot that holds e (which has a TTL), in the new map or the old. */
static uint32_t *vol_slot(const struct kdb *db, const struct kentry *e)
{
    size_t i = 0;

    if (vm_find(db, &db->vm, e, &i)) {
        return &db->vm.s[i];
    }
    if (!vm_find(db, &db->vm_old, e, &i)) {
        sh_panic("kdb: a key with a TTL is not in the volatile map");
    }
    return &db->vm_old.s[i];
}

static size_t vol_index(const struct kdb *db, const struct kentry *e)
{
    return *vol_slot(db, e) - 1;
}

static void vm_put(struct kdb *db, struct vmap *m, uint32_t v)
{
    size_t i = vm_home(m, db->vol[v - 1].e);

    while (m->s[i]) {
        i = (i + 1) & (m->size - 1);
    }
    m->s[i] = v;
    m->used++;
}

/* Empties slot i of m, moving back the entries after it that may sit there
 * (Knuth's deletion for linear probing: no tombstones). */
static void vm_delete(struct kdb *db, struct vmap *m, size_t i)
{
    size_t mask = m->size - 1;

    for (size_t j = i;;) {
        j = (j + 1) & mask;
        if (m->s[j] == 0) {
            break;
        }
        size_t k = vm_home(m, db->vol[m->s[j] - 1].e);

        /* the entry at j may move to i unless its home is in (i, j] */
        if (i <= j ? (i < k && k <= j) : (i < k || k <= j)) {
            continue;
        }
        m->s[i] = m->s[j];
        i = j;
    }
    m->s[i] = 0;
    m->used--;
}

/* Walks about n slots of the old map (all of it for SIZE_MAX). */
static void vm_migrate(struct kdb *db, size_t n)
{
    struct vmap *old = &db->vm_old;

    while (old->size && n) {
        if (old->used && old->s[db->vm_pos]) {
            uint32_t v = old->s[db->vm_pos];

            vm_delete(db, old, db->vm_pos); /* may pull another one here */
            vm_put(db, &db->vm, v);
        } else if (old->used == 0 || ++db->vm_pos == old->size) {
            SH_ASSERT(old->used == 0);
            sh_free(old->s);
            memset(old, 0, sizeof(*old));
            break;
        }
        n--;
    }
}

/* The slots an add or remove walks: what is left of the old map over the
 * adds the new map has room for. */
static size_t vm_budget(const struct kdb *db)
{
    size_t limit = db->vm.size * 3 / 4;

    if (db->vm_old.size == 0) {
        return 0;
    }
    if (limit <= db->nvol + 1) {
        return SIZE_MAX;
    }
    return (db->vm_old.size - db->vm_pos) / (limit - db->nvol - 1) + 8;
}

/* Starts moving to a map at most half full for want entries. */
static void vm_resize(struct kdb *db, size_t want)
{
    size_t size = 64;

    while (size < want * 2) {
        size *= 2;
    }
    if (db->vm.size == 0) {
        db->vm = (struct vmap){ .s = sh_calloc(size, sizeof(uint32_t)), .size = size };
        return;
    }
    SH_ASSERT(db->vm_old.size == 0);
    db->vm_old = db->vm;
    db->vm_pos = 0;
    db->vm = (struct vmap){ .s = sh_calloc(size, sizeof(uint32_t)), .size = size };
}

static void vol_remove(struct kdb *db, struct kentry *e)
{
    size_t at = 0, i;
    struct vmap *m = vm_find(db, &db->vm, e, &at) ? &db->vm : &db->vm_old;

    if (m == &db->vm_old && !vm_find(db, m, e, &at)) {
        sh_panic("kdb: a key with a TTL is not in the volatile map");
    }
    i = m->s[at] - 1;
    SH_ASSERT(e->val.kt_ttl && i < db->nvol);
    vm_delete(db, m, at);
    if (i != --db->nvol) {
        db->vol[i] = db->vol[db->nvol];
        *vol_slot(db, db->vol[i].e) = (uint32_t)i + 1;
    }
    e->val.kt_ttl = 0;
    vm_migrate(db, vm_budget(db));
    if (db->vm_old.size == 0 && db->vm.size > 64 && db->nvol * 8 < db->vm.size) {
        vm_resize(db, db->nvol);
    }
}

void kdb_set_expire(struct kdb *db, struct kentry *e, int64_t when)
{
    if (when < 0) {
        if (e->val.kt_ttl) {
            vol_remove(db, e);
        }
        return;
    }
    if (!e->val.kt_ttl) {
        if (db->nvol == db->capvol) {
            db->capvol = db->capvol ? db->capvol * 2 : 64;
            db->vol = sh_realloc(db->vol, db->capvol * sizeof(*db->vol));
        }
        SH_ASSERT(db->nvol < UINT32_MAX - 1);
        if (db->vm_old.size == 0 && (db->nvol + 1) * 4 > db->vm.size * 3) {
            vm_resize(db, db->nvol + 1);
        }
        vm_migrate(db, vm_budget(db));
        e->val.kt_ttl = 1;
        db->vol[db->nvol].e = e;
        db->vol[db->nvol].when = when;
        db->nvol++;
        vm_put(db, &db->vm, (uint32_t)db->nvol);
        return;
    }
    db->vol[vol_index(db, e)].when = when;
}

int64_t kdb_expire_of(const struct kdb *db, const struct kentry *e)
{
    return e->val.kt_ttl ? db->vol[vol_index(db, e)].when : -1;
}

bool kdb_is_expired(const struct kdb *db, const struct kentry *e, int64_t now)
{
    return e->val.kt_ttl && db->vol[vol_index(db, e)].when <= now;
}

void kdb_delete(struct kdb *db, struct kentry *e)
{
    if (e->val.kt_ttl) {
        vol_remove(db, e);
    }
    kdict_delete(db->dict, e);
}

void kdb_set_hooks(struct kdb *db, kdb_key_fn *on_expired, kdb_key_fn *on_new, void *arg, int dbid)
{
    db->on_expired = on_expired;
    db->on_new = on_new;
    db->hook_arg = arg;
    db->id = dbid;
}

static void expire_entry(struct kdb *db, struct kentry *e)
{
    if (db->on_expired) {
        db->on_expired(db->hook_arg, db->id, e);
    }
    kdb_delete(db, e);
    db->expired++;
}

uint64_t kdb_expired(const struct kdb *db)
{
    return db->expired;
}

void kdb_reset_stats(struct kdb *db)
{
    db->expired = 0;
}

struct kentry *kdb_find(struct kdb *db, const void *key, size_t len, uint64_t hash, int64_t now)
{
    struct kentry *e = kdict_find(db->dict, key, len, hash);

    db->now_ms = now;
    if (e && kdb_is_expired(db, e, now)) {
        expire_entry(db, e);
        return NULL;
    }
    if (e) {
        snap_check(db, e);
        e->val.lru =
                SH_UNLIKELY(db->lfu) ? kdb_lfu_touch(db, e->val.lru, now) : (uint32_t)(now / 1000);
    }
    return e;
}

struct kentry *kdb_peek(struct kdb *db, const void *key, size_t len, uint64_t hash, int64_t now)
{
    struct kentry *e = kdict_find(db->dict, key, len, hash);

    if (e && kdb_is_expired(db, e, now)) {
        expire_entry(db, e);
        return NULL;
    }
    if (e) {
        snap_check(db, e);
    }
    return e;
}

struct kentry *kdb_add(struct kdb *db, const void *key, size_t len, uint64_t hash)
{
    struct kentry *e = kdict_add(db->dict, key, len, hash);

    e->val.lru = SH_UNLIKELY(db->lfu) ? lfu_make(db->now_ms, KDB_LFU_INIT)
                                      : (uint32_t)(db->now_ms / 1000);
    e->val.kt_snap = db->snap_phase;
    if (db->on_new) {
        db->on_new(db->hook_arg, db->id, e);
    }
    return e;
}

size_t kdb_size(const struct kdb *db)
{
    return kdict_size(db->dict);
}

size_t kdb_expires(const struct kdb *db)
{
    return db->nvol;
}

long long kdb_avg_ttl(const struct kdb *db)
{
    return db->nvol ? db->avg_ttl : 0;
}

void kdb_flush(struct kdb *db)
{
    kdict_clear(db->dict);
    db->nvol = 0;
    sh_free(db->vm.s);
    sh_free(db->vm_old.s);
    memset(&db->vm, 0, sizeof(db->vm));
    memset(&db->vm_old, 0, sizeof(db->vm_old));
    db->avg_ttl = 0;
}

struct scan_filter {
    const struct kdb *db;
    kdict_scan_fn *fn;
    void *arg;
    int64_t now;
    struct kentry **expired;
    size_t nexpired, capexpired;
};

static void scan_one(void *arg, struct kentry *e)
{
    struct scan_filter *f = arg;

    if (kdb_is_expired(f->db, e, f->now)) {
        /* deleting inside the scan callback would break the bucket walk */
        if (f->nexpired == f->capexpired) {
            f->capexpired = f->capexpired ? f->capexpired * 2 : 16;
            f->expired = sh_realloc(f->expired, f->capexpired * sizeof(*f->expired));
        }
        f->expired[f->nexpired++] = e;
        return;
    }
    f->fn(f->arg, e);
}

uint64_t kdb_scan(struct kdb *db, uint64_t cursor, int64_t now, kdict_scan_fn *fn, void *arg)
{
    struct scan_filter f = { .db = db, .fn = fn, .arg = arg, .now = now };
    uint64_t next = kdict_scan(db->dict, cursor, scan_one, &f);

    for (size_t i = 0; i < f.nexpired; i++) {
        expire_entry(db, f.expired[i]);
    }
    sh_free(f.expired);
    return next;
}

/* ---- LFU (Redis's: a logarithmic 8-bit counter that decays with time) ---- */

static uint32_t lfu_make(int64_t now_ms, unsigned counter)
{
    return (uint32_t)(((uint64_t)(now_ms / 60000) & 0xFFFFFF) << 8) | (counter & 0xFF);
}

/* Minutes since the stamp, modulo the 24-bit clock. */
static unsigned long lfu_elapsed(uint32_t lru, int64_t now_ms)
{
    uint32_t now = (uint32_t)((uint64_t)(now_ms / 60000) & 0xFFFFFF), then = lru >> 8;

    return now >= then ? now - then : 0xFFFFFF - then + now;
}

unsigned kdb_lfu_counter(const struct kdb *db, uint32_t lru, int64_t now_ms)
{
    unsigned counter = lru & 0xFF;
    unsigned long periods =
            db->lfu_decay_time ? lfu_elapsed(lru, now_ms) / (unsigned long)db->lfu_decay_time : 0;

    return periods > counter ? 0 : counter - (unsigned)periods;
}

uint32_t kdb_lfu_touch(struct kdb *db, uint32_t lru, int64_t now_ms)
{
    unsigned counter = kdb_lfu_counter(db, lru, now_ms);

    if (counter < 255) {
        double base = counter > KDB_LFU_INIT ? (double)(counter - KDB_LFU_INIT) : 0.0;
        double p = 1.0 / (base * db->lfu_log_factor + 1);
        if ((double)(next_rnd(&db->rnd) >> 11) / 9007199254740992.0 < p) {
            counter++;
        }
    }
    return lfu_make(now_ms, counter);
}

void kdb_set_lfu(struct kdb *db, bool lfu, int log_factor, int decay_time)
{
    db->lfu = lfu;
    db->lfu_log_factor = log_factor;
    db->lfu_decay_time = decay_time;
}

bool kdb_is_lfu(const struct kdb *db)
{
    return db->lfu;
}

struct kentry *kdb_random_volatile(struct kdb *db, uint64_t rnd)
{
    return db->nvol ? db->vol[rnd % db->nvol].e : NULL;
}

struct kentry *kdb_random(struct kdb *db, uint64_t rnd, int64_t now)
{
    /* Never an expired key: each one met is deleted, so the loop ends (at
     * worst once every expired key is gone), as Redis does on a master. Only
     * a replica, which may not delete, hands back an expired key. */
    for (;;) {
        struct kentry *e = kdict_random(db->dict, rnd);

        if (!e || !kdb_is_expired(db, e, now)) {
            return e;
        }
        expire_entry(db, e);
        rnd = rnd * 6364136223846793005ULL + 1442695040888963407ULL;
    }
}

static uint64_t next_rnd(uint64_t *rnd)
{
    /* xorshift64*: cheap, good enough to pick samples */
    uint64_t x = *rnd ? *rnd : 0x9E3779B97F4A7C15ULL;

    x ^= x >> 12;
    x ^= x << 25;
    x ^= x >> 27;
    *rnd = x;
    return x * 2685821657736338717ULL;
}

size_t kdb_active_expire(struct kdb *db, int64_t now, int64_t deadline_us, uint64_t *rnd)
{
    size_t total = 0;

    for (int iter = 0;; iter++) {
        size_t sample = db->nvol < ACTIVE_SAMPLE ? db->nvol : ACTIVE_SAMPLE;
        size_t expired = 0;
        double ttl_sum = 0; /* TTLs near INT64_MAX: a sum of two overflows */
        size_t ttl_n = 0;

        if (sample == 0) {
            break;
        }
        for (size_t i = 0; i < sample && db->nvol; i++) {
            struct vslot *v = &db->vol[next_rnd(rnd) % db->nvol];
            struct kentry *e = v->e;

            if (kdb_is_expired(db, e, now)) {
                expire_entry(db, e);
                expired++;
            } else {
                ttl_sum += (double)(v->when - now);
                ttl_n++;
            }
        }
        if (ttl_n) {
            long long avg = (long long)(ttl_sum / (double)ttl_n);

            /* running average, as Redis's activeExpireCycle keeps it */
            db->avg_ttl = db->avg_ttl ? (db->avg_ttl / 50) * 49 + avg / 50 : avg;
        }
        total += expired;
        if (expired * 4 <= sample || ((iter & 15) == 15 && sh_mono_us() >= deadline_us)) {
            break;
        }
    }
    return total;
}

void kdb_rehash(struct kdb *db, int64_t deadline_us)
{
    while (db->vm_old.size) {
        vm_migrate(db, 1000);
        if (sh_mono_us() >= deadline_us) {
            return;
        }
    }
    while (kdict_rehash(db->dict, 100)) {
        if (sh_mono_us() >= deadline_us) {
            break;
        }
    }
}

struct kdict *kdb_dict(struct kdb *db)
{
    return db->dict;
}
