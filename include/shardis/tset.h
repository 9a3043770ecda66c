/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * tset.h: the set type (KVAL_SET): an unordered collection of distinct
 * binary-safe members, in one of three encodings (struct kval.enc):
 *
 *   KVAL_ENC_INTSET    u.p = struct intset: every member is the canonical
 *                      decimal form of a long long (util_str2ll) and there
 *                      are at most set-max-intset-entries of them;
 *   KVAL_ENC_LISTPACK  u.p = an lpack of the members, unordered: at most
 *                      set-max-listpack-entries members of at most
 *                      set-max-listpack-value bytes each (Redis 7.2's
 *                      encoding; 7.0 has none and uses a hashtable);
 *   KVAL_ENC_HASHTABLE u.p = struct fdict of the members, no values and no
 *                      aux word (16 bytes of header per member).
 *
 * A set converts from intset to listpack (when it fits) or hashtable, and
 * from listpack to hashtable, as soon as a member added breaks its limits;
 * it never converts back. A value is never empty once the caller stores it:
 * when tset_size() falls to 0 the caller deletes the key.
 *
 * Members travel as bytes; an intset member is formatted into storage the
 * caller provides (TSET_INTBUF bytes) when its bytes are asked for. The
 * functions that may create a hashtable take the shard's random state (rnd,
 * as kdb_active_expire does) to seed it, so that a client cannot choose
 * members that collide.
 *
 * Threading: a value belongs to the shard that owns its key; only that
 * shard's thread calls these functions.
 */
#pragma once

#include "shardis/fdict.h"
#include "shardis/kval.h"
#include "shardis/sh.h"

/* Storage for the decimal form of an intset member (20 bytes and a NUL). */
#define TSET_INTBUF 24

/* ---- the contract kval.c relies on ---- */

/* Frees the value's memory (kval_clear calls it for KVAL_SET). */
void tset_free(struct kval *v);
/* Bytes the value holds, as the allocator reserved them: the intset or the
 * listpack allocation, or the dict's struct, buckets and entries. O(1). */
size_t tset_memory(const struct kval *v);
/* The members in kval_dump form (kval.h): a count, then each member's
 * bytes, in the set's iteration order. *len is its size; the caller frees
 * the bytes with sh_free. O(n); aborts when out of memory. */
char *tset_dump(const struct kval *v, size_t *len);
/* Makes v (KVAL_NONE) a set from tset_dump's bytes, in the encoding the
 * limits call for (the one adding the members one by one gives). The
 * hashtable's seed comes from the clock and v's address: callers that have
 * the shard's random state use tset_load. Returns 0, -EINVAL when the bytes
 * are corrupt or hold no member, -ENOMEM when a member could not be
 * allocated; v stays KVAL_NONE on error. O(n). */
SH_MUST_CHECK int tset_restore(struct kval *v, const char *p, size_t len,
                               const struct kval_limits *lim);
/* tset_restore seeded from the shard's random state *rnd. */
SH_MUST_CHECK int tset_load(struct kval *v, const char *p, size_t len,
                            const struct kval_limits *lim, uint64_t *rnd);

/* ---- members ---- */

/* Adds member m[0..len) to v, a set or KVAL_NONE (which becomes a set of
 * that one member: an intset when m is an integer, else a listpack or, past
 * the limits, a hashtable). Converts v as the limits require. *added (may
 * be NULL) says whether m was new. Returns 0, or -ENOMEM when the member
 * could not be allocated in a hashtable: the members are then unchanged
 * (the encoding may have changed) and a KVAL_NONE v stays KVAL_NONE.
 * m is copied and must not point into v. Cost: O(1) in a hashtable, O(n)
 * in an intset or listpack (bounded by the limits). */
SH_MUST_CHECK int tset_try_add(struct kval *v, const void *m, size_t len,
                               const struct kval_limits *lim, uint64_t *rnd, bool *added);
/* tset_try_add that aborts when out of memory: for members the shard
 * already holds (SPOP moving the kept members to a new set). */
void tset_add(struct kval *v, const void *m, size_t len, const struct kval_limits *lim,
              uint64_t *rnd, bool *added);
/* Removes m; returns whether it was a member. Never converts; the caller
 * deletes the key when the set is left empty. m may be bytes borrowed from
 * v itself (tset_random's): they are read before anything is freed.
 * Cost: O(1) in a hashtable, O(n) in an intset or listpack. */
bool tset_remove(struct kval *v, const void *m, size_t len);
/* Whether m is a member. May move a rehash step (hence not const).
 * Cost: O(1) hashtable, O(log n) intset, O(n) listpack. */
bool tset_has(struct kval *v, const void *m, size_t len);
/* Number of members; 0 for KVAL_NONE. O(1) (O(n) only for a listpack past
 * 65535 members). */
size_t tset_size(const struct kval *v);

/* A random member of the non-empty set v: its bytes, borrowed from v (or
 * written into buf for an intset member) until v or buf changes. rnd is a
 * random number from the caller. Uniform for intsets and listpacks; for a
 * hashtable see fdict_random. Cost: O(1) intset and hashtable (expected),
 * O(n) listpack. */
struct sh_slice tset_random(struct kval *v, uint64_t rnd, char buf[static TSET_INTBUF]);

/* Walks every member of a set. Storage provided by the caller; all fields
 * are private. While it is alive the set must not change (a hashtable's
 * rehashing is paused until tset_iter_fini). */
struct tset_iter {
    const struct kval *v;
    size_t pos;
    const unsigned char *lp;
    struct fdict_iter di;
    char buf[TSET_INTBUF];
};

/* Starts walking v (a KVAL_NONE walks as an empty set). */
void tset_iter_init(struct tset_iter *it, const struct kval *v);
/* Sets *out to the next member (borrowed from the set or the iterator until
 * the next call) and returns true, or returns false at the end. An intset
 * walks its members in ascending order. */
bool tset_iter_next(struct tset_iter *it, struct sh_slice *out);
/* Ends the walk, finished or not. Idempotent. */
void tset_iter_fini(struct tset_iter *it);

/* Called with one member's bytes, borrowed for the call only. */
typedef void tset_member_fn(void *arg, const char *p, size_t len);

/* One step of SSCAN: calls fn for the members of the hashtable buckets at
 * cursor and returns the next cursor (see fdict_scan: a member present for
 * the whole scan is reported at least once whatever resizes happen); an
 * intset or listpack reports every member at once and returns 0, whatever
 * the cursor. fn must not change v. */
uint64_t tset_scan(struct kval *v, uint64_t cursor, tset_member_fn *fn, void *arg);

/* ---- set algebra over borrowed sets (SINTER, SDIFF, SUNION ...) ---- */

enum tset_op {
    TSET_INTER, /* SINTER: the members in every set */
    TSET_UNION, /* SUNION: the members in any set */
    TSET_DIFF,  /* SDIFF: the members of the first set in none of the others */
};

/* Calls fn for each member of the intersection of sets[0..n) (n >= 1, none
 * NULL; the same set may appear several times), walking the smallest set,
 * and stops after `limit` members when limit > 0. Returns the number of
 * members reported. fn must not change the sets. Cost: O(|smallest| * n)
 * membership tests, and one allocation of n pointers. */
size_t tset_inter(struct kval *const *sets, size_t n, size_t limit, tset_member_fn *fn, void *arg);
/* Calls fn for each member of sets[0] that is in none of sets[1..n) (n >=
 * 1, sets[0] not NULL; a NULL entry is an empty set). Returns the number
 * reported. fn must not change the sets. Cost: O(|sets[0]| * n) membership
 * tests (Redis's first SDIFF algorithm; its second is a copy of sets[0]
 * with tset_try_add_all, then tset_remove_all of the others). */
size_t tset_diff(struct kval *const *sets, size_t n, tset_member_fn *fn, void *arg);
/* Adds every member of src (a set) to dst (a set or KVAL_NONE) as
 * tset_try_add does. Returns 0 or -ENOMEM (dst holds part of src then).
 * src and dst must differ. O(|src|). */
SH_MUST_CHECK int tset_try_add_all(struct kval *dst, const struct kval *src,
                                   const struct kval_limits *lim, uint64_t *rnd);
/* Removes from dst every member of src (both sets, distinct values), and
 * stops early once dst is empty. Returns the number removed. Cost:
 * O(|src|) removals. */
size_t tset_remove_all(struct kval *dst, const struct kval *src);
/* Redis's choice between its two SDIFF algorithms over sets[0..n) (NULL:
 * empty): true when copying sets[0] and removing the others' members
 * (O(sum of the sizes)) beats testing each member of sets[0] against every
 * other set (tset_diff; O(|sets[0]| * n), counted half as Redis does). */
bool tset_diff_by_removal(struct kval *const *sets, size_t n);
/* Computes op over sets[0..n) (n >= 1; a NULL entry is an absent key, an
 * empty set: it empties an intersection) into *out, which must be KVAL_NONE
 * and stays so when the result is empty. The result is a new set (the
 * sources are only read; out must not be one of them) in the encoding its
 * members call for, as if added one by one: what the STORE commands keep.
 * Returns 0, or -ENOMEM with *out cleared. Cost: as tset_inter, tset_diff
 * (or the removal way, whichever tset_diff_by_removal picks), or O(sum of
 * the sizes) for a union. */
SH_MUST_CHECK int tset_op(enum tset_op op, struct kval *const *sets, size_t n,
                          const struct kval_limits *lim, uint64_t *rnd, struct kval *out);
