/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * fdict.h: the dictionary that holds the fields of a hash and the members of
 * a set or sorted set once they outgrow their compact encodings. A chained
 * hash table with incremental resizing (a few buckets moved per operation)
 * and Redis's reverse-binary scan cursor, like kdict, but generic and lean:
 * each element is ONE allocation holding a 16-byte header, the key bytes and
 * the value bytes, plus an optional 8-byte aux word (FDICT_AUX) for callers
 * that keep something beside each element (a sorted set's skiplist node).
 *
 * Hashing is xxh3_64 seeded per dict: the caller passes a random seed (the
 * shard's), so a client who does not know the seed cannot precompute fields
 * that collide.
 *
 * Lengths: keys and values are at most FDICT_MAX_LEN bytes each. The
 * allocating functions come in two forms: the plain one aborts when memory is
 * exhausted (sh_malloc; for sizes the caller has bounded), the try_ one
 * returns NULL and changes nothing (sh_try_malloc; for client-sized values,
 * so that an OOM becomes a reply).
 *
 * Threading: single-threaded; a dict belongs to one shard and only that
 * shard's thread calls these functions.
 */
#pragma once

#include "shardis/sh.h"

/* fdict_create flags */
#define FDICT_AUX 1u /* every entry carries a union fdict_aux (zeroed when added) */

/* The longest key and the longest value an entry can hold. */
#define FDICT_MAX_LEN UINT32_MAX

/* The caller's word beside an element, in dicts created with FDICT_AUX. */
union fdict_aux {
    double d;
    void *p;
    long long i;
};

/* One element. Allocated and freed by the dict; borrowed by callers until it
 * is deleted or moved (fdict_set_value). In FDICT_AUX dicts the aux word sits
 * in the same allocation just before the header, so that the key and value
 * offsets are the same in every dict. */
struct fentry {
    struct fentry *next; /* private: bucket chain */
    uint32_t klen;       /* public, read-only: see fdict_klen */
    uint32_t vlen;       /* public, read-only: see fdict_vlen */
    char data[];         /* private: klen key bytes, then vlen value bytes */
};

struct fdict;

/* Walks every entry (see fdict_iter_init). Storage provided by the caller,
 * usually on the stack; all fields are private. */
struct fdict_iter {
    struct fdict *d;
    struct fentry *next;
    size_t idx;
    int table;
};

/* The key's bytes (klen of them, not terminated). Borrowed from e. */
static inline const char *fdict_key(const struct fentry *e)
{
    return e->data;
}

static inline size_t fdict_klen(const struct fentry *e)
{
    return e->klen;
}

/* The value's bytes (vlen of them, not terminated). Borrowed from e. */
static inline const char *fdict_value(const struct fentry *e)
{
    return e->data + e->klen;
}

static inline size_t fdict_vlen(const struct fentry *e)
{
    return e->vlen;
}

/* The aux word of e, readable and writable. Only for entries of a dict
 * created with FDICT_AUX (anything else is out of bounds). */
static inline union fdict_aux *fdict_aux(struct fentry *e)
{
    return (union fdict_aux *)(void *)e - 1;
}

/* A new empty dict; it allocates no buckets until the first add. seed keys
 * the hash: pass the shard's random seed. flags: 0 or FDICT_AUX. The caller
 * frees it with fdict_destroy. */
struct fdict *fdict_create(uint64_t seed, unsigned flags);
/* Frees every entry, the tables and d; fdict_destroy(NULL) is a no-op. No
 * iterator may be alive. Cost: O(entries + buckets). */
void fdict_destroy(struct fdict *d);
/* Removes and frees every entry and the tables; d stays usable. No iterator
 * may be alive. Cost: O(entries + buckets). */
void fdict_clear(struct fdict *d);

size_t fdict_size(const struct fdict *d);
/* Buckets of the table(s), for INFO, MEMORY and tests. */
size_t fdict_buckets(const struct fdict *d);
bool fdict_is_rehashing(const struct fdict *d);
bool fdict_has_aux(const struct fdict *d);
/* Bytes the dict holds: its struct, the bucket arrays and every entry, as
 * the allocator reserved them (sh_alloc_size). A running count: O(1). */
size_t fdict_memory(const struct fdict *d);

/* The entry whose key is key[0..klen), or NULL. Moves a rehash step. */
struct fentry *fdict_find(struct fdict *d, const void *key, size_t klen);

/* Adds a new entry with a copy of the key and of the value (value may be NULL
 * when vlen is 0). The key must be absent (checked in debug builds). Returns
 * the entry, owned by the dict. Aborts when out of memory. May start a
 * resize; moves a rehash step. */
struct fentry *fdict_add(struct fdict *d, const void *key, size_t klen, const void *value,
                         size_t vlen);
/* fdict_add, but returns NULL and changes nothing when the entry cannot be
 * allocated or a length is above FDICT_MAX_LEN (neither byte range is read
 * then). */
SH_MUST_CHECK struct fentry *fdict_try_add(struct fdict *d, const void *key, size_t klen,
                                           const void *value, size_t vlen);
/* Finds key or, when absent, adds it with value, hashing the key once. Sets
 * *existed and returns the existing entry (its value untouched) or the new
 * one. Aborts when out of memory. */
struct fentry *fdict_find_or_add(struct fdict *d, const void *key, size_t klen, const void *value,
                                 size_t vlen, bool *existed);
/* fdict_find_or_add, but returns NULL and changes nothing (*existed is then
 * false) when the new entry cannot be allocated or a length is above
 * FDICT_MAX_LEN. */
SH_MUST_CHECK struct fentry *fdict_try_find_or_add(struct fdict *d, const void *key, size_t klen,
                                                   const void *value, size_t vlen, bool *existed);

/* Replaces e's value by a copy of value[0..vlen). When vlen differs the entry
 * is reallocated and relinked in its bucket: use the returned entry, e is
 * dead (the key and the aux word move with it). value must not point into e
 * unless vlen equals e's. Cost when vlen differs: hashing the key and walking
 * its chain. Aborts when out of memory. */
struct fentry *fdict_set_value(struct fdict *d, struct fentry *e, const void *value, size_t vlen);
/* fdict_set_value, but returns NULL when the entry cannot be reallocated or
 * vlen is above FDICT_MAX_LEN; e is then unchanged and still valid. */
SH_MUST_CHECK struct fentry *fdict_try_set_value(struct fdict *d, struct fentry *e,
                                                 const void *value, size_t vlen);

/* Unlinks and frees e (dead afterwards). e must be in d. May start a
 * shrink; moves a rehash step. */
void fdict_delete(struct fdict *d, struct fentry *e);
/* Deletes the entry of key; returns whether there was one. */
bool fdict_delete_key(struct fdict *d, const void *key, size_t klen);

/* Sizes the table for n entries ahead of a bulk build (converting a compact
 * encoding, SUNIONSTORE), so that adding them starts no resize. A hint: it is
 * ignored while a resize is in progress, when the table is already large
 * enough, or when the bucket array cannot be allocated. n must be bounded by
 * the caller (entries about to be added). When d holds entries this starts
 * an incremental resize. */
void fdict_expand(struct fdict *d, size_t n);
/* Moves up to n buckets to the new table (the shard's timer does this when
 * idle); returns true while more remain. Does nothing while an iterator is
 * alive. */
bool fdict_rehash(struct fdict *d, int n);

typedef void fdict_scan_fn(void *arg, struct fentry *e);
/* Calls fn for the entries of the buckets at cursor and returns the next
 * cursor, 0 when the scan is over (start with 0). Every entry present for the
 * whole scan is returned at least once whatever resizes happen between calls,
 * and exactly once when the dict does not change; entries may be returned
 * more than once across a shrink. fn must not add, delete or move entries.
 * Cost: the buckets at cursor (one, or the few it expands to while
 * resizing). */
uint64_t fdict_scan(struct fdict *d, uint64_t cursor, fdict_scan_fn *fn, void *arg);

/* Starts walking every entry of d. Rehashing is paused while the iterator is
 * alive (until fdict_iter_fini), so entries stay where they are. Between two
 * fdict_iter_next calls the caller may delete or fdict_set_value the entry
 * just returned, and may add entries (which may or may not be returned); it
 * must not delete or move any other entry. Each entry present throughout is
 * returned exactly once. Several iterators may be alive at once if none of
 * their callers deletes or moves entries (each holds the next entry). */
void fdict_iter_init(struct fdict_iter *it, struct fdict *d);
/* The next entry, or NULL when every entry has been returned. */
struct fentry *fdict_iter_next(struct fdict_iter *it);
/* Ends the walk (finished or not) and resumes rehashing. Idempotent. */
void fdict_iter_fini(struct fdict_iter *it);

/* A random entry, or NULL when d is empty. rnd is a random 64-bit number from
 * the caller (the shard's generator); the dict keeps no random state. For
 * HRANDFIELD, SPOP and SRANDMEMBER: a random bucket and a random position in
 * it up to 4 (2 below a quarter full), retried when the bucket has no entry
 * there, which is uniform over the entries but for those in the rare longer
 * chains (they weigh 4 / chain length). After 64 misses (a table far below
 * its normal load) it falls back to Redis's dictGetFairRandomKey: one of up
 * to 15 entries from consecutive buckets. Moves a rehash step. Cost:
 * expected 4 / load factor bucket probes (at most 64, then the window). */
struct fentry *fdict_random(struct fdict *d, uint64_t rnd);
/* Stores min(n, size) distinct entries into out[] and returns their count:
 * all the entries of consecutive buckets starting at a random one (rnd as
 * for fdict_random), so they are a sample, not a uniform choice (Redis's
 * dictGetSomeKeys). Moves up to n rehash steps (at most 100). Cost: expected
 * O(n / load factor) buckets, never more than every bucket once. */
size_t fdict_sample(struct fdict *d, uint64_t rnd, struct fentry **out, size_t n);
