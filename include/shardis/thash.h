/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * thash.h: the hash type (KVAL_HASH): a map of fields to values, both binary
 * strings, in one of two encodings (Redis 7.0's):
 *
 *   KVAL_ENC_LISTPACK   v->u.p is an lpack of field, value, field, value ...
 *                       in insertion order, while the hash has at most
 *                       hash-max-listpack-entries fields and every field and
 *                       value is at most hash-max-listpack-value bytes;
 *   KVAL_ENC_HASHTABLE  v->u.p is a struct fdict (no aux word), the value
 *                       stored inline after the field in each entry.
 *
 * A write that would break a listpack threshold converts the hash first; a
 * hashtable never goes back (as in Redis 7.0). Operations that may convert
 * take the shard's limits (struct kval_limits) and its random state, which
 * seeds a new fdict's hash (so that clients cannot craft colliding fields).
 *
 * Fields and values handed out (struct sh_slice) are borrowed: they point
 * into the hash, or into a buffer of THASH_BUF bytes given by the caller
 * when the listpack holds the entry as an integer; they stay valid until the
 * hash changes (or the buffer is reused).
 *
 * An empty hash exists only between thash_init and the first thash_set: the
 * command layer deletes the key when thash_delete removes the last field.
 *
 * Threading: a value belongs to the shard that owns its key; only that
 * shard's thread calls these functions. No global state.
 */
#pragma once

#include "shardis/fdict.h"
#include "shardis/kval.h"
#include "shardis/sh.h"

/* Room for an integer entry's decimal form (LPACK_INTBUF). */
#define THASH_BUF 21

/* Walks every field of a hash (thash_iter_init). Storage provided by the
 * caller, usually on the stack; all fields are private. */
struct thash_iter {
    const unsigned char *lp; /* listpack, or NULL for a hashtable */
    const unsigned char *p;  /* listpack: the next field, NULL at the end */
    struct fdict_iter di;    /* hashtable */
    char fbuf[THASH_BUF];
    char vbuf[THASH_BUF];
};

/* Called with one field and its value (both borrowed for the call only). */
typedef void thash_pair_fn(void *arg, struct sh_slice field, struct sh_slice value);

/* ---- what kval.c relies on ---- */

/* Frees the value's memory (kval_clear calls it for KVAL_HASH). O(n). */
void thash_free(struct kval *v);
/* Bytes the value holds as the allocator reserved them: the listpack's
 * allocation, or the fdict's struct, buckets and entries. O(1). */
size_t thash_memory(const struct kval *v);
/* The value's elements in kval_dump form (kval.h): field, value, field,
 * value ... in iteration order; *len its size. The caller frees the bytes
 * with sh_free. O(n). */
char *thash_dump(const struct kval *v, size_t *len);
/* Makes v (KVAL_NONE) a hash from thash_dump's bytes (borrowed), in the
 * encoding the limits call for (a listpack when both thresholds allow it).
 * Returns 0; -EINVAL when the bytes are corrupt: an odd or zero count, a
 * truncated element, bytes after the last one, a duplicate field; -ENOMEM
 * when a hashtable entry could not be allocated. v stays KVAL_NONE on error.
 * O(n), O(n^2) field comparisons for a listpack (n is bounded by
 * hash-max-listpack-entries there). */
SH_MUST_CHECK int thash_restore(struct kval *v, const char *p, size_t len,
                                const struct kval_limits *lim);

/* ---- the operations of the hash commands ---- */

/* Makes v (KVAL_NONE) an empty hash in listpack encoding. The caller adds a
 * field before anyone else sees the key. */
void thash_init(struct kval *v);
/* Number of fields. O(1) (a listpack of 32767+ fields walks, see
 * lpack_count). */
size_t thash_len(const struct kval *v);
/* Whether the hash is in its compact (listpack) encoding. */
bool thash_is_compact(const struct kval *v);

/* Looks field f[0..flen) up. Returns true and sets *value (borrowed; may
 * point into buf) when present. Cost: O(1) expected for a hashtable (moves
 * one rehash step), O(n) for a listpack. */
bool thash_get(struct kval *v, const void *f, size_t flen, char buf[static THASH_BUF],
               struct sh_slice *value);
/* Whether field f[0..flen) is present. Same cost as thash_get. */
bool thash_exists(struct kval *v, const void *f, size_t flen);
/* Sets field f to value val (copies of both). Converts a listpack to a
 * hashtable first when either length is above lim's value threshold, when
 * a new field would take the count above its entries threshold, or when the
 * listpack would pass 1 GB; *rnd (the shard's random state) is advanced then
 * to seed the new dict. Returns 1 when the field was added, 0 when its value
 * was replaced, -ENOMEM when memory ran out (the hash is unchanged). The
 * bytes given must not point into the hash. Cost: as thash_get, plus the
 * listpack's move of its tail, plus O(n) when converting. */
SH_MUST_CHECK int thash_set(struct kval *v, const void *f, size_t flen, const void *val,
                            size_t vlen, const struct kval_limits *lim, uint64_t *rnd);
/* Deletes field f; returns whether it was there. The hash may become empty
 * (the caller then deletes the key). A hashtable may start shrinking; it
 * never converts back. Same cost as thash_get. */
bool thash_delete(struct kval *v, const void *f, size_t flen);

/* Starts walking every field of v (borrowed) in its order: insertion order
 * for a listpack, bucket order for a hashtable (whose rehashing pauses until
 * thash_iter_fini). v must not change until thash_iter_fini. */
void thash_iter_init(struct thash_iter *it, const struct kval *v);
/* The next field and its value (borrowed from v or from the iterator's buffers, until
 * the next call); false at the end. */
bool thash_iter_next(struct thash_iter *it, struct sh_slice *field, struct sh_slice *value);
/* Ends the walk (finished or not). Idempotent. */
void thash_iter_fini(struct thash_iter *it);

/* A random field of v (not empty) and its value, borrowed (fbuf and vbuf
 * hold integer entries of a listpack). *rnd is the caller's random state,
 * advanced. Cost: O(n) for a listpack, O(1) expected for a hashtable (see
 * fdict_random). */
void thash_random(struct kval *v, uint64_t *rnd, char fbuf[static THASH_BUF],
                  char vbuf[static THASH_BUF], struct sh_slice *field, struct sh_slice *value);
/* HRANDFIELD with a count: calls fn for count random fields of v (not
 * empty) when distinct is false (repetitions allowed, random order), or for
 * min(count, len) distinct fields when it is true (all of them in iteration
 * order when count >= len; else a uniform sample, in iteration order when
 * count is at least a third of len, in random order below). *rnd is
 * advanced. Returns 0, or -ENOMEM (nothing called) when its scratch space
 * (an index of a listpack's pairs, or a set of the chosen fields: at most
 * count or len pointers) could not be allocated. Cost: O(n + count) for a
 * listpack; for a hashtable O(count) expected, O(n) for a large distinct
 * count. */
SH_MUST_CHECK int thash_random_pairs(struct kval *v, uint64_t count, bool distinct, uint64_t *rnd,
                                     thash_pair_fn *fn, void *arg);

/* One HSCAN step from cursor, calling fn for each field visited. A listpack
 * is visited whole and 0 returned, whatever the cursor (as Redis does). A
 * hashtable is scanned bucket by bucket (fdict_scan) until the cursor is 0,
 * or at least `count` elements (a field and its value count as two, as in
 * Redis) were visited, or count * 10 buckets were; returns the next cursor.
 * Every field present for the whole scan is visited at least once, whatever
 * resizes happen between steps. fn must not change v. */
uint64_t thash_scan(struct kval *v, uint64_t cursor, uint64_t count, thash_pair_fn *fn, void *arg);
