/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * kdb.h: one database of one shard: the key table plus expiry.
 *
 * Expiry is lazy (a lookup of an expired key deletes it and reports it
 * absent) and active (kdb_active_expire samples keys that carry a TTL and
 * deletes the expired ones, Redis's adaptive cycle, bounded per call). Keys
 * with a TTL are also kept in a dense array so sampling them is O(1).
 *
 * Threading: single-threaded, owned by one shard. Times are unix ms given by
 * the caller (the shard caches the clock once per loop iteration).
 */
#pragma once

#include "shardis/kdict.h"
#include "shardis/sh.h"

struct kdb;

struct kdb *kdb_create(void);
/* kdb_destroy(NULL) is a no-op. */
void kdb_destroy(struct kdb *db);

/* The live entry of key, or NULL; an expired one is deleted on the way.
 * Borrowed until the entry is deleted. Stamps the entry's access time
 * (val.lru) with now. */
struct kentry *kdb_find(struct kdb *db, const void *key, size_t len, uint64_t hash, int64_t now);
/* kdb_find without the access stamp (OBJECT IDLETIME must not reset it). */
struct kentry *kdb_peek(struct kdb *db, const void *key, size_t len, uint64_t hash, int64_t now);
/* Adds a new key (must be absent or expired-and-deleted) with an empty value
 * and no TTL, its access time that of the last kdb_find. A caller that
 * assigns a whole struct kval to the entry afterwards keeps val.lru. */
struct kentry *kdb_add(struct kdb *db, const void *key, size_t len, uint64_t hash);
/* Deletes e (and its value). e is dead afterwards. */
void kdb_delete(struct kdb *db, struct kentry *e);
/* Sets e's expiry (unix ms) or removes it with -1. */
void kdb_set_expire(struct kdb *db, struct kentry *e, int64_t when);
/* e's expiry (unix ms), -1 when it has none (kentry_has_ttl). */
int64_t kdb_expire_of(const struct kdb *db, const struct kentry *e);
bool kdb_is_expired(const struct kdb *db, const struct kentry *e, int64_t now);

size_t kdb_size(const struct kdb *db);
size_t kdb_expires(const struct kdb *db);
/* Average remaining TTL in ms of sampled volatile keys, as INFO shows. */
long long kdb_avg_ttl(const struct kdb *db);

/* Called with each key that expires, just before it is deleted, and with
 * each key just added (kdb_set_hooks). */
typedef void kdb_key_fn(void *arg, int dbid, const struct kentry *e);
void kdb_set_hooks(struct kdb *db, kdb_key_fn *on_expired, kdb_key_fn *on_new, void *arg, int dbid);

/* Keys deleted because their TTL passed (lazily or actively), since the
 * last kdb_reset_stats. */
uint64_t kdb_expired(const struct kdb *db);
void kdb_reset_stats(struct kdb *db);

/* Removes every key. */
void kdb_flush(struct kdb *db);

/* One step of SCAN over this database (see kdict_scan); expired entries are
 * deleted, not reported. fn must not modify the table. */
uint64_t kdb_scan(struct kdb *db, uint64_t cursor, int64_t now, kdict_scan_fn *fn, void *arg);
/* LFU (an LFU maxmemory policy): val.lru holds the minute of the last
 * access (24 bits) and a logarithmic counter (8 bits), as Redis keeps them.
 * kdb_set_lfu switches how lookups stamp entries. */
#define KDB_LFU_INIT 5
void kdb_set_lfu(struct kdb *db, bool lfu, int log_factor, int decay_time);
bool kdb_is_lfu(const struct kdb *db);
/* The counter of a stamp, decayed by lfu-decay-time to now (OBJECT FREQ). */
unsigned kdb_lfu_counter(const struct kdb *db, uint32_t lru, int64_t now_ms);
/* The stamp of an access now: the counter decayed, then maybe raised. */
uint32_t kdb_lfu_touch(struct kdb *db, uint32_t lru, int64_t now_ms);
/* A random entry with a TTL (expired or not), NULL when none. */
struct kentry *kdb_random_volatile(struct kdb *db, uint64_t rnd);

/* A random live key or NULL. */
struct kentry *kdb_random(struct kdb *db, uint64_t rnd, int64_t now);

/* Active expiry: samples volatile keys, deletes expired ones, repeats while
 * more than a quarter of a sample was expired and until deadline_us
 * (sh_mono_us). Returns the keys deleted. */
size_t kdb_active_expire(struct kdb *db, int64_t now, int64_t deadline_us, uint64_t *rnd);
/* Moves the key table's resize forward, until deadline_us. */
void kdb_rehash(struct kdb *db, int64_t deadline_us);
/*
 * Point-in-time snapshots (persist/). kdb_snap_begin starts one: from then
 * on every entry that existed at that moment is "unreached" until the
 * snapshot marks it (kdb_snap_mark); keys added afterwards are reached at
 * once (they are not part of it). kdb_find and kdb_peek hand an unreached
 * entry to fn before they return it, so the snapshot serializes it before
 * anyone can change or delete it; the snapshot's own walk marks the rest.
 * The mark is one bit that flips meaning at each begin, so when a snapshot
 * ends every live entry must be marked (kdb_snap_end walks what is left
 * when it is abandoned half-way).
 */
typedef void kdb_snap_fn(void *arg, int dbid, struct kentry *e);
void kdb_snap_begin(struct kdb *db, kdb_snap_fn *fn, void *arg);
/* Ends it; with mark_rest, marks every entry not reached yet (an
 * abandoned snapshot). */
void kdb_snap_end(struct kdb *db, bool mark_rest);
bool kdb_snap_reached(const struct kdb *db, const struct kentry *e);
void kdb_snap_mark(struct kdb *db, struct kentry *e);

/* The key table (for iteration by the keyspace commands). */
struct kdict *kdb_dict(struct kdb *db);
