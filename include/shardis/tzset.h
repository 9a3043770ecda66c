/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * tzset.h: the sorted set type (KVAL_ZSET): members (binary strings, unique)
 * ordered by (score, member bytes), with Redis 7.0's two encodings:
 *
 *   KVAL_ENC_LISTPACK  v->u.p is one lpack of member,score,member,score ...
 *                      sorted by (score, member); a score is stored as an
 *                      integer entry when it is integral, else as the
 *                      shortest string that reads back exactly
 *                      (lpack_fmt_double). Used while the set has at most
 *                      zset-max-listpack-entries members and every member
 *                      is at most zset-max-listpack-value bytes.
 *   KVAL_ENC_SKIPLIST  v->u.p is a struct holding an fdict (member -> entry,
 *                      whose aux word points to the member's skiplist node)
 *                      and a zsl ordered by (score, member); the node
 *                      borrows the member bytes from the fdict entry.
 *
 * A value converts from listpack to skiplist when an operation would pass a
 * threshold, never back (as Redis 7.0), except that a value built whole
 * (tzset_restore: RENAME/COPY across shards, ZUNIONSTORE ...) gets the
 * encoding the limits call for. Operations that may create or convert a
 * value take the limits (struct kval_limits, the shard's current config) and
 * a seed from the shard's random state (hash seed of the fdict and level
 * generator of the zsl).
 *
 * A value is never empty while stored under a key: the callers delete the
 * key when an operation removes the last member (tzset_card() == 0).
 *
 * Positions: ranks are 0-based as in ZRANK; "rev" counts from the highest
 * element. Borrowed member bytes (struct tzset_elem, iterators) are valid
 * until the value changes or, for an integer member of a listpack, until the
 * next call on the same iterator or element buffer.
 *
 * Threading: a value belongs to the shard that owns its key; every function
 * runs on that shard's thread.
 */
#pragma once

#include "shardis/kval.h"
#include "shardis/sh.h"
#include "shardis/zsl.h"

/* tzset_add flags (in): ZADD's options. */
enum {
    TZSET_IN_INCR = 1u << 0, /* add score to the current one */
    TZSET_IN_NX = 1u << 1,   /* only add new members */
    TZSET_IN_XX = 1u << 2,   /* only update existing members */
    TZSET_IN_GT = 1u << 3,   /* update only to a greater score */
    TZSET_IN_LT = 1u << 4,   /* update only to a lower score */
};

/* tzset_add result bits (out). 0 means "processed, score unchanged". */
enum {
    TZSET_OUT_ADDED = 1u << 0,
    TZSET_OUT_UPDATED = 1u << 1,
    TZSET_OUT_NOP = 1u << 2, /* not processed: NX/XX/GT/LT said no */
};

/* Bytes an integer member needs when formatted (see struct tzset_elem). */
#define TZSET_INTBUF 24

/* One element. member points into the value, or into buf (an integer
 * member of a listpack): copy the struct and the slice may dangle. */
struct tzset_elem {
    struct sh_slice member;
    double score;
    char buf[TZSET_INTBUF];
};

/* Called with each element a walk hands out (pop, scan, sample); e and its
 * bytes are borrowed for the call only. */
typedef void tzset_elem_fn(void *arg, const struct tzset_elem *e);

/* ---- what kval.c relies on ---- */

/* Frees the value's memory (kval_clear calls it for KVAL_ZSET). */
void tzset_free(struct kval *v);
/* Bytes the value holds, as the allocator reserved them: the pack, or the
 * struct, the dict (entries and buckets) and the skiplist (nodes). O(1). */
size_t tzset_memory(const struct kval *v);
/* The value's elements in kval_dump form: member, score, member, score ...
 * in ascending (score, member) order, each score as 8 bytes, the IEEE-754
 * double in little-endian order. *len its size; the caller frees the bytes
 * with sh_free. O(n). */
char *tzset_dump(const struct kval *v, size_t *len);
/* Makes v (KVAL_NONE) a value from tzset_dump's bytes (at least one
 * element), in the encoding the limits call for. Returns 0, or -EINVAL when
 * the bytes are corrupt (odd count, a score not 8 bytes or NaN, elements not
 * in strictly ascending order), -ENOMEM when a member cannot be allocated;
 * v then stays KVAL_NONE. O(n) for a listpack, O(n log n) for a skiplist.
 * The skiplist's seed comes from the clock and v's address (no shard at
 * hand); tzset_restore_seeded takes one. */
SH_MUST_CHECK int tzset_restore(struct kval *v, const char *p, size_t len,
                                const struct kval_limits *lim);
SH_MUST_CHECK int tzset_restore_seeded(struct kval *v, const char *p, size_t len,
                                       const struct kval_limits *lim, uint64_t seed);

/* Appends one element to dump bytes in tzset_dump's form, for callers that
 * build a sorted set's elements themselves (ZUNIONSTORE, ZRANGESTORE):
 * they must come in strictly ascending (score, member) order, at least one,
 * for tzset_restore to accept them. */
void tzset_dump_put(struct kval_dump *d, const char *member, size_t mlen, double score);
/* Reads the next element of tzset_dump's form (member borrowed from the
 * bytes); false at the end or when the bytes are corrupt (a score that is
 * not 8 bytes or is NaN). */
bool tzset_dump_next(struct kval_dump_reader *r, struct sh_slice *member, double *score);

/* ---- building and changing ---- */

/* Makes v (KVAL_NONE) an empty sorted set about to receive its first
 * member, in the encoding Redis 7.0's ZADD picks for a new key: a skiplist
 * when zset-max-listpack-entries is 0 or first_mlen (the first member's
 * length) is above zset-max-listpack-value, else a listpack. The caller adds
 * at least one member before the key is visible. */
void tzset_init(struct kval *v, size_t first_mlen, const struct kval_limits *lim, uint64_t seed);
/* Number of members. O(1) (a listpack past 65535 entries: O(n)). */
size_t tzset_card(const struct kval *v);
/* Redis's zsetAdd: adds member with score or updates it per flags
 * (TZSET_IN_*); *newscore (may be NULL) is the member's score afterwards
 * when it was processed. Converts the listpack to a skiplist first when the
 * member would pass a threshold. Returns the TZSET_OUT_* bits, -EDOM when
 * the resulting score is NaN (INCR of inf by -inf; nothing changed), or
 * -ENOMEM when a new member's bytes could not be allocated (nothing
 * changed). score must not be NaN; member is copied and must not point
 * into v. O(n) listpack, O(log n) skiplist. */
SH_MUST_CHECK int tzset_add(struct kval *v, const char *member, size_t mlen, double score,
                            unsigned flags, double *newscore, const struct kval_limits *lim,
                            uint64_t seed);
/* Removes member; returns whether it was there. O(n) / O(log n). */
bool tzset_delete(struct kval *v, const char *member, size_t mlen);
/* Sets *score to member's score; returns false when absent. O(n) / O(1). */
bool tzset_score(const struct kval *v, const char *member, size_t mlen, double *score);
/* Sets *rank to member's 0-based rank (from the highest when rev) and
 * *score (may be NULL) to its score; false when absent. O(n) / O(log n). */
bool tzset_rank(const struct kval *v, const char *member, size_t mlen, bool rev, size_t *rank,
                double *score);

/* Remove the members of 0-based ranks [start, end] (start <= end < card,
 * checked by the caller), of a score range, of a lex range. Return the
 * number removed. O(n) listpack, O(log n + removed) skiplist. */
size_t tzset_delete_rank(struct kval *v, size_t start, size_t end);
size_t tzset_delete_score(struct kval *v, const struct zsl_range *r);
size_t tzset_delete_lex(struct kval *v, const struct zsl_lex_range *r);

/* Number of members in a score / lex range. O(n) / O(log n). */
size_t tzset_count_score(const struct kval *v, const struct zsl_range *r);
size_t tzset_count_lex(const struct kval *v, const struct zsl_lex_range *r);

/* Pops up to count members from the low end (max false) or the high end,
 * handing each to fn (lowest first, or highest first) before it is removed;
 * fn must not touch v. Deletes no key: the caller deletes it when
 * tzset_card() is then 0. For ZPOPMIN/ZPOPMAX/ZMPOP and the blocking
 * BZPOPMIN/BZPOPMAX/BZMPOP. Returns the number popped. O(n) listpack,
 * O(log n + count) skiplist (plus the member dict deletes). */
size_t tzset_pop(struct kval *v, bool max, size_t count, tzset_elem_fn *fn, void *arg);

/* ---- walking ---- */

/* A walk over a range of elements, in ascending order or descending (rev).
 * Storage provided by the caller; all fields private. The value must not
 * change during the walk. */
struct tzset_iter {
    const struct kval *v;
    const unsigned char *pos;    /* listpack: the next member entry */
    const struct zsl_node *node; /* skiplist: the next node */
    size_t left;                 /* elements still to hand out */
    int kind;                    /* what bounds the walk (none, score, lex) */
    bool rev;
    union {
        struct zsl_range score;
        struct zsl_lex_range lex; /* its bytes borrowed from the caller's */
    } r;
};

/* Walks count elements from 0-based rank start (from the highest when rev);
 * the caller clamps start and count to the set. O(n) listpack seek, O(log
 * n) skiplist. */
void tzset_iter_rank(struct tzset_iter *it, const struct kval *v, size_t start, bool rev,
                     size_t count);
/* Walks the elements of a score range (rev: from its highest), skipping
 * offset of them first, then at most limit (SIZE_MAX: no limit). Costs
 * O(n) listpack, O(log n) skiplist to start. */
void tzset_iter_score(struct tzset_iter *it, const struct kval *v, const struct zsl_range *r,
                      bool rev, size_t offset, size_t limit);
/* The same for a lex range (its bytes borrowed for the walk). */
void tzset_iter_lex(struct tzset_iter *it, const struct kval *v, const struct zsl_lex_range *r,
                    bool rev, size_t offset, size_t limit);
/* The next element into *e (its member borrowed, see struct tzset_elem);
 * false at the end. */
bool tzset_iter_next(struct tzset_iter *it, struct tzset_elem *e);

/* ---- random members and scans ---- */

/* A random element, members equally likely (but for rare long hash chains,
 * see fdict_random). rnd: a random number from the caller. O(n) listpack,
 * O(1) skiplist. */
void tzset_random(struct kval *v, uint64_t rnd, struct tzset_elem *e);
/* Hands count random elements (with repetition) to fn; *rnd is the
 * caller's xorshift state, advanced. O(n + count) for a listpack (its
 * positions are indexed once), O(count) for a skiplist. */
void tzset_random_many(struct kval *v, size_t count, uint64_t *rnd, tzset_elem_fn *fn, void *arg);
/* Hands count distinct random members (count < card) to fn, in no
 * particular order; *rnd is the caller's xorshift state, advanced. Without
 * replacement: every subset of count members is about equally likely.
 * O(n) when count is a large fraction of the set or for a listpack, else
 * O(count) expected (plus a temporary dict of count entries). */
void tzset_sample(struct kval *v, size_t count, uint64_t *rnd, tzset_elem_fn *fn, void *arg);
/* One step of ZSCAN from cursor: a listpack hands out every element and
 * returns 0; a skiplist hands out the members of the dict buckets at cursor
 * (fdict_scan) and returns the next cursor (0: done). fn must not change v.
 * Cost: a listpack O(n); a skiplist the buckets at cursor. */
uint64_t tzset_scan(struct kval *v, uint64_t cursor, tzset_elem_fn *fn, void *arg);

/* Checks the value's invariants (order, no duplicates, dict and skiplist
 * agree, and with lim not NULL a listpack's limits). Returns 0 or
 * -EUCLEAN. For tests: O(n log n) (a listpack O(n^2)). */
SH_MUST_CHECK int tzset_check(const struct kval *v, const struct kval_limits *lim);
