/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * kdict.h: a shard's key table: a chained hash table with incremental
 * resizing (two tables while a resize is in progress, a few buckets moved per
 * operation), so that no request waits for a whole rehash, and Redis's
 * reverse-binary scan cursor, which returns every entry present for a whole
 * scan at least once even across resizes.
 *
 * Entries are allocated by the table with the key bytes inline; the value
 * lives in the entry (struct kval), owned by the entry.
 *
 * Threading: single-threaded; one table belongs to one shard.
 */
#pragma once

#include "shardis/kval.h"
#include "shardis/sh.h"

/* 32 bytes before the key: a 16-byte key is one 48-byte allocation. The
 * hash is not kept (a resize computes it again) and a TTL lives in kdb's
 * volatile array, only for the keys that have one (kentry_has_ttl). */
struct kentry {
    struct kentry *next;   /* private: bucket chain */
    uint32_t vol_idx : 30; /* private to kdb: slot in the volatile array */
    uint32_t ttl : 1;      /* private to kdb: has a TTL (kentry_has_ttl) */
    uint32_t snap : 1;     /* private to kdb: the snapshot mark (kdb_snap_*) */
    uint32_t klen;         /* public, read-only */
    struct kval val;       /* public: the value, owned by the entry */
    char key[];            /* public, read-only: klen bytes (not terminated) */
};

/* Whether the key has a TTL (kdb_expire_of tells it). */
static inline bool kentry_has_ttl(const struct kentry *e)
{
    return e->ttl;
}

struct kdict;

/* The table's hash of a key (xxh3_64). */
uint64_t kdict_hash(const void *key, size_t len);

struct kdict *kdict_create(void);
/* Frees every entry and value; kdict_destroy(NULL) is a no-op. */
void kdict_destroy(struct kdict *d);
size_t kdict_size(const struct kdict *d);
/* Buckets of the table(s), for INFO and tests. */
size_t kdict_buckets(const struct kdict *d);
bool kdict_is_rehashing(const struct kdict *d);

/* Returns the entry or NULL. Borrowed: valid until the entry is deleted.
 * Moves a rehash step forward when one is in progress. */
struct kentry *kdict_find(struct kdict *d, const void *key, size_t len, uint64_t hash);
/*
 * Prefetching, for a batch of lookups about to run (memory-level
 * parallelism: the misses of a batch overlap instead of queueing). A lookup
 * waits on two dependent misses, the bucket then the entry, and a read on a
 * third, the value; each stage below touches what the one before brought in,
 * so a caller runs one stage over the whole batch before the next. They only
 * hint the cache: whatever the key, the table is unchanged and nothing is
 * returned. Cost: O(1) for the bucket, the bucket's chain for the others.
 */
/* Prefetches the bucket(s) of hash. */
void kdict_prefetch_bucket(const struct kdict *d, uint64_t hash);
/* Prefetches the first entry of the bucket(s) of hash. */
void kdict_prefetch_entry(const struct kdict *d, uint64_t hash);
/* Prefetches the value (a string's bytes, another type's top structure) of
 * the first entry of the bucket(s) of hash: most often the key's. */
void kdict_prefetch_value(const struct kdict *d, uint64_t hash);

/* Adds a new entry with an empty value; the key must not be present.
 * Returns it (owned by the table). May start a resize. */
struct kentry *kdict_add(struct kdict *d, const void *key, size_t len, uint64_t hash);
/* Unlinks e and frees it and its value. e is dead afterwards. */
void kdict_delete(struct kdict *d, struct kentry *e);
/* Removes every entry. */
void kdict_clear(struct kdict *d);

/* Moves up to n buckets to the new table; returns true while more remain. */
bool kdict_rehash(struct kdict *d, int n);

typedef void kdict_scan_fn(void *arg, struct kentry *e);
/* Calls fn for the entries of the buckets at cursor and returns the next
 * cursor (0 when the scan is over). fn must not add or delete entries. */
uint64_t kdict_scan(struct kdict *d, uint64_t cursor, kdict_scan_fn *fn, void *arg);

/* A uniformly chosen bucket's random entry, or NULL when empty. rnd is a
 * random 64-bit number from the caller. */
struct kentry *kdict_random(struct kdict *d, uint64_t rnd);
