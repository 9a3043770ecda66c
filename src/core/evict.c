/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * evict.c: maxmemory and eviction (see evict.h).
 */
#include "shardis/evict.h"

#include "shardis/kdb.h"
#include "shardis/pubsub.h"
#include "shardis/shard.h"
#include "shardis/tracking.h"

#include <math.h>
#include <string.h>

enum policy {
    P_NOEVICTION,
    P_ALL_LRU,
    P_ALL_LFU,
    P_ALL_RANDOM,
    P_VOL_LRU,
    P_VOL_LFU,
    P_VOL_RANDOM,
    P_VOL_TTL
};

static enum policy policy_of(const char *name)
{
    static const struct {
        const char *name;
        enum policy p;
    } map[] = { { "allkeys-lru", P_ALL_LRU },       { "allkeys-lfu", P_ALL_LFU },
                { "allkeys-random", P_ALL_RANDOM }, { "volatile-lru", P_VOL_LRU },
                { "volatile-lfu", P_VOL_LFU },      { "volatile-random", P_VOL_RANDOM },
                { "volatile-ttl", P_VOL_TTL } };

    for (size_t i = 0; i < sizeof(map) / sizeof(map[0]); i++) {
        if (strcmp(name, map[i].name) == 0) {
            return map[i].p;
        }
    }
    return P_NOEVICTION;
}

void evict_configure(struct shard *sh)
{
    enum policy p = policy_of(sh->cfg.maxmemory_policy);
    bool lfu = p == P_ALL_LFU || p == P_VOL_LFU;

    for (int i = 0; i < sh->cfg.databases; i++) {
        kdb_set_lfu(shard_db(sh, i), lfu, (int)sh->cfg.lfu_log_factor, (int)sh->cfg.lfu_decay_time);
    }
}

long long evict_used(const struct shard *sh)
{
    long long used = (long long)(sh_alloc_thread_bytes() - sh->mem_base);

    return used > 0 ? used : 0;
}

static long long share(const struct shard *sh)
{
    long long s = sh->cfg.maxmemory / sh->srv->nshards;

    return s > 0 ? s : 1;
}

/* Higher is evicted first. */
static long long score(const struct shard *sh, enum policy p, const struct kdb *db,
                       const struct kentry *e)
{
    switch (p) {
    case P_ALL_LRU:
    case P_VOL_LRU:
        return (long long)(sh->now_ms / 1000) - (long long)e->val.lru; /* idle seconds */
    case P_ALL_LFU:
    case P_VOL_LFU:
        return 255 - (long long)kdb_lfu_counter(db, e->val.lru, sh->now_ms);
    case P_VOL_TTL:
        return -kdb_expire_of(db, e); /* the nearest expiry first */
    default:
        return 0;
    }
}

/* Redis's eviction pool: the best candidates seen, kept across calls (so
 * that a few samples per eviction approximate the policy well), worst
 * first; each holds a copy of its key, looked up again when chosen. */
#define POOL_SIZE 16
struct pool_entry {
    long long score;
    int dbid;
    uint64_t hash;
    size_t klen;
    char *key; /* NULL: empty */
};
struct evict_pool {
    struct pool_entry e[POOL_SIZE];
};

static struct evict_pool *pool_of(struct shard *sh)
{
    if (!sh->evict_pool) {
        sh->evict_pool = sh_calloc(1, sizeof(struct evict_pool));
    }
    return sh->evict_pool;
}

static void pool_drop(struct pool_entry *pe)
{
    sh_free(pe->key);
    pe->key = NULL;
}

/* Inserts a candidate if it beats the pool's worst (or the pool has room). */
static void pool_insert(struct evict_pool *p, int dbid, const struct kentry *e, long long sc)
{
    int at = 0;

    for (int i = 0; i < POOL_SIZE; i++) {
        struct pool_entry *pe = &p->e[i];

        if (pe->key && pe->dbid == dbid && pe->klen == kentry_klen(e) &&
            memcmp(pe->key, kentry_key(e), kentry_klen(e)) == 0) {
            pe->score = sc; /* already in: its score now */
            return;
        }
    }
    /* the slot of the lowest score (or an empty one) */
    for (int i = 1; i < POOL_SIZE; i++) {
        if (!p->e[at].key) {
            break;
        }
        if (!p->e[i].key || p->e[i].score < p->e[at].score) {
            at = i;
        }
    }
    if (p->e[at].key && p->e[at].score >= sc) {
        return;
    }
    pool_drop(&p->e[at]);
    p->e[at] = (struct pool_entry){ sc, dbid, kdict_hash(kentry_key(e), kentry_klen(e)),
                                    kentry_klen(e), sh_memdup(kentry_key(e), kentry_klen(e)) };
}

/* Evicts one key chosen by the policy. False when there is none to take. */
static bool evict_one(struct shard *sh, enum policy p)
{
    bool volatile_only = p >= P_VOL_LRU, random = p == P_ALL_RANDOM || p == P_VOL_RANDOM;
    struct evict_pool *pool = pool_of(sh);
    struct kentry *best = NULL;
    struct kdb *best_db = NULL;
    int best_dbid = 0;
    int ndb = sh->cfg.databases;
    int samples = sh->cfg.maxmemory_samples > 64 ? 64 : (int)sh->cfg.maxmemory_samples;

    for (int k = 0, tries = 0; k < samples && tries < samples * 4 + ndb; tries++) {
        int dbid = (int)(shard_rand(sh) % (uint64_t)ndb);
        struct kdb *db = shard_db(sh, dbid);
        struct kentry *e;

        if (volatile_only ? kdb_expires(db) == 0 : kdb_size(db) == 0) {
            continue;
        }
        e = volatile_only ? kdb_random_volatile(db, shard_rand(sh))
                          : kdb_random(db, shard_rand(sh), sh->now_ms);
        k++;
        if (!e) {
            continue;
        }
        if (random) {
            best = e;
            best_db = db;
            best_dbid = dbid;
            break;
        }
        pool_insert(pool, dbid, e, score(sh, p, db, e));
    }
    while (!random && !best) {
        int at = -1;

        for (int i = 0; i < POOL_SIZE; i++) {
            if (pool->e[i].key && (at < 0 || pool->e[i].score > pool->e[at].score)) {
                at = i;
            }
        }
        if (at < 0) {
            break;
        }
        best_dbid = pool->e[at].dbid;
        best_db = shard_db(sh, best_dbid);
        best = kdb_peek(best_db, pool->e[at].key, pool->e[at].klen, pool->e[at].hash, sh->now_ms);
        if (best && volatile_only && !kentry_has_ttl(best)) {
            best = NULL; /* it lost its TTL since */
        }
        pool_drop(&pool->e[at]);
    }
    if (!best) {
        for (int i = 0; i < ndb && !best; i++) {
            /* sampling missed (few databases hold keys): look at each */
            struct kdb *db = shard_db(sh, i);

            best = volatile_only ? kdb_random_volatile(db, shard_rand(sh))
                                 : kdb_random(db, shard_rand(sh), sh->now_ms);
            best_db = db;
            best_dbid = i;
        }
        if (!best) {
            return false;
        }
    }
    /* a running snapshot takes the value first (peek hands it over) */
    best = kdb_peek(best_db, kentry_key(best), kentry_klen(best),
                    kdict_hash(kentry_key(best), kentry_klen(best)), sh->now_ms);
    if (!best) {
        return true; /* it had expired: memory was freed all the same */
    }
    pubsub_notify(sh, NOTIFY_EVICTED, "evicted", kentry_key(best), kentry_klen(best), best_dbid);
    tracking_key_expired(sh, kentry_key(best), kentry_klen(best));
    if (SH_UNLIKELY(sh->prop_on)) {
        shard_hooks.prop_expired(sh, best_dbid, kentry_key(best), kentry_klen(best)); /* a DEL */
    }
    kdb_delete(best_db, best);
    sh->stats.evicted_keys++;
    return true;
}

void evict_free(struct shard *sh)
{
    struct evict_pool *p = sh->evict_pool;

    if (!p) {
        return;
    }
    for (int i = 0; i < POOL_SIZE; i++) {
        pool_drop(&p->e[i]);
    }
    sh_free(p);
    sh->evict_pool = NULL;
}

void evict_publish(struct shard *sh)
{
    mbox_counter_set(&((struct server *)sh->srv)->mem_used[sh->id], (long)evict_used(sh));
}

/* The server's figure: this shard's own count now, the others' as they last
 * published it (each cron tick, and whenever one is over its share). */
static long long server_used(struct shard *sh, long long mine)
{
    struct server *srv = (struct server *)sh->srv;
    long long total = mine;

    for (int s = 0; s < srv->nshards; s++) {
        if (s != sh->id) {
            total += mbox_counter_get(&srv->mem_used[s]);
        }
    }
    return total;
}

/* Over: past this shard's share while the server is past maxmemory. A shard
 * may use more than its share while the others leave room (one big value,
 * keys that hash unevenly). */
static bool over_limit(struct shard *sh, long long *used)
{
    *used = evict_used(sh);
    return *used > share(sh) && server_used(sh, *used) > sh->cfg.maxmemory;
}

bool evict_before_command(struct shard *sh, const struct cmd_spec *cmd, struct reply *r)
{
    long long used;
    enum policy p;

    if (evict_used(sh) <= share(sh)) {
        return true; /* the common case: one counter read */
    }
    evict_publish(sh);
    if (!over_limit(sh, &used)) {
        return true;
    }
    p = policy_of(sh->cfg.maxmemory_policy);
    bool stuck = p == P_NOEVICTION; /* nothing more may go */

    if (!stuck) {
        /* tenacity 10 lets one call work 500 us, as Redis's default; 100
         * never stops early */
        long long ten = sh->cfg.maxmemory_eviction_tenacity;
        int64_t budget_us = ten <= 10   ? 50 * ten
                            : ten < 100 ? (int64_t)(500.0 * pow(1.15, (double)(ten - 10)))
                                        : INT64_MAX; /* Redis's evictionTimeLimitUs */
        int64_t t0 = sh_mono_us();
        int n = 0;

        while (over_limit(sh, &used)) {
            if (!evict_one(sh, p)) {
                stuck = true;
                break;
            }
            if ((++n & 15) == 0 && sh_mono_us() - t0 > budget_us) {
                break; /* time's up: the next command goes on (Redis's EVICT_RUNNING) */
            }
        }
        evict_publish(sh);
    }
    /* Redis refuses only when eviction cannot free enough (EVICT_FAIL) */
    if (!stuck || !over_limit(sh, &used) || !(cmd->flags & CMD_DENYOOM) || sh->allow_oom) {
        return true;
    }
    reply_error(r, "OOM command not allowed when used memory > 'maxmemory'.");
    return false;
}

bool evict_oom(struct shard *sh)
{
    static const struct cmd_spec probe = { .name = "oom-probe", .flags = CMD_DENYOOM };
    struct rbuf scratch;
    struct reply r = { .buf = &scratch, .proto = 2 };
    bool over;

    rbuf_init(&scratch);
    over = !evict_before_command(sh, &probe, &r);
    rbuf_fini(&scratch);
    return over;
}
