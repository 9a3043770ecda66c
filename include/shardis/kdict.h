/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * kdict.h: a shard's key table: open addressing (linear probing) over
 * 8-byte slots, each an entry pointer with 16 bits of the key's hash above
 * it, so that a probe dereferences only entries whose tag matches. Resizing
 * is incremental (two tables while a resize is in progress, a few clusters
 * moved per operation), so that no request waits for a whole rehash, and
 * the scan cursor is Redis's reverse-binary one over home slots, which
 * returns every entry present for a whole scan at least once even across
 * resizes.
 *
 * Entries are allocated by the table with the key bytes inline; the value
 * lives in the entry (struct kval), owned by the entry.
 *
 * Threading: single-threaded; one table belongs to one shard.
 */
#pragma once

#include "shardis/kval.h"
#include "shardis/sh.h"

#include <string.h>

/* kt_klen of a key of KENTRY_LONG bytes or more: its length is a 32-bit
 * prefix of kraw. */
#define KENTRY_LONG 255

/* 16 bytes before the key: a 16-byte key is one 32-byte allocation. The
 * value's kt_* bits hold the key's length and the marks kdb keeps (the TTL
 * itself lives in kdb's volatile array, only for the keys that have one);
 * the hash is not kept (a resize computes it again) and there is no chain
 * pointer (the table holds the entry's address). */
struct kentry {
    struct kval val; /* public: the value, owned by the entry */
    char kraw[];     /* private: kentry_key(), kentry_klen() */
};

/* The key's bytes (not terminated). */
static inline const char *kentry_key(const struct kentry *e)
{
    return e->kraw + (e->val.kt_klen == KENTRY_LONG ? 4 : 0);
}

/* The key's length. */
static inline size_t kentry_klen(const struct kentry *e)
{
    uint32_t n;

    if (SH_LIKELY(e->val.kt_klen != KENTRY_LONG)) {
        return e->val.kt_klen;
    }
    memcpy(&n, e->kraw, sizeof(n));
    return n;
}

/* Whether the key has a TTL (kdb_expire_of tells it). */
static inline bool kentry_has_ttl(const struct kentry *e)
{
    return e->val.kt_ttl;
}

/* Replaces e's whole value by v, keeping the table's bits (kt_*) of e: the
 * only way to assign a whole struct kval to an entry. The old value is
 * not freed (kval_clear it first, or move it elsewhere). */
static inline void kentry_set_val(struct kentry *e, struct kval v)
{
    kval_assign(&e->val, v);
}

/* Moves e's value out, leaving e an empty value (KVAL_NONE). */
static inline struct kval kentry_take_val(struct kentry *e)
{
    struct kval v = e->val;

    kentry_set_val(e, (struct kval){ 0 });
    return v;
}

struct kdict;

/* The table's hash of a key (xxh3_64). */
uint64_t kdict_hash(const void *key, size_t len);

struct kdict *kdict_create(void);
/* Frees every entry and value; kdict_destroy(NULL) is a no-op. */
void kdict_destroy(struct kdict *d);
size_t kdict_size(const struct kdict *d);
/* Slots of the table(s), for INFO and tests. */
size_t kdict_buckets(const struct kdict *d);
bool kdict_is_rehashing(const struct kdict *d);

/* Returns the entry or NULL. Borrowed: valid until the entry is deleted.
 * Moves a rehash step forward when one is in progress. */
struct kentry *kdict_find(struct kdict *d, const void *key, size_t len, uint64_t hash);
/*
 * Prefetching, for a batch of lookups about to run (memory-level
 * parallelism: the misses of a batch overlap instead of queueing). A lookup
 * waits on two dependent misses, the home slot then the entry, and a read on
 * a third, the value; each stage below touches what the one before brought
 * in, so a caller runs one stage over the whole batch before the next. They
 * only hint the cache: whatever the key, the table is unchanged and nothing
 * is returned. Cost: O(1) for the slot, a few slots' tags for the others.
 */
/* Prefetches the home slot(s) of hash. */
void kdict_prefetch_bucket(const struct kdict *d, uint64_t hash);
/* Prefetches the first entry near the home slot(s) whose tag is hash's. */
void kdict_prefetch_entry(const struct kdict *d, uint64_t hash);
/* Prefetches the value (a string's bytes, another type's top structure) of
 * that entry: most often the key's. */
void kdict_prefetch_value(const struct kdict *d, uint64_t hash);

/* Adds a new entry with an empty value; the key must not be present.
 * Returns it (owned by the table). May start a resize. */
struct kentry *kdict_add(struct kdict *d, const void *key, size_t len, uint64_t hash);
/* Unlinks e and frees it and its value. e is dead afterwards. */
void kdict_delete(struct kdict *d, struct kentry *e);
/* Removes every entry. */
void kdict_clear(struct kdict *d);

/* Moves about 8n slots' entries to the new table; returns true while more
 * remain. */
bool kdict_rehash(struct kdict *d, int n);

typedef void kdict_scan_fn(void *arg, struct kentry *e);
/* Calls fn for the entries whose home slot is the cursor's and returns the next
 * cursor (0 when the scan is over). fn must not add or delete entries; it
 * may look keys up (no rehash step is taken meanwhile). */
uint64_t kdict_scan(struct kdict *d, uint64_t cursor, kdict_scan_fn *fn, void *arg);

/* A random entry (the one in a random live slot: each equally likely), or
 * NULL when empty. rnd is a random 64-bit number from the caller. */
struct kentry *kdict_random(struct kdict *d, uint64_t rnd);
