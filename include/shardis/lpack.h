/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * lpack.h: a listpack, Redis 7's compact encoding for small hashes, sets and
 * sorted sets and for the nodes of long lists (qlist): one allocation holding
 * a run of entries, each a string or an integer, that can be walked both
 * ways. The layout is Redis's byte for byte (lpack.c draws it), so a pack
 * can go into and come out of an RDB payload unchanged, after lpack_validate.
 *
 * A pack is an `unsigned char *` from lpack_create. A position is a
 * `const unsigned char *` to the first byte of one entry; NULL means "no
 * entry". Positions are borrowed: they stay valid until the pack changes.
 *
 * The functions that change a pack take it and return the new one: the old
 * pointer is dead afterwards, and so is every position into it, except the
 * ones the function hands back. Bytes given to them (s, len) must not point
 * into the same pack, which may move. Sizes are bounded by the callers'
 * thresholds (list-max-listpack-size, hash-max-listpack-entries ...), so
 * growth uses sh_realloc, which aborts when memory is exhausted; a pack never
 * exceeds UINT32_MAX bytes (asserted).
 *
 * A string that is the canonical decimal form of a long long (util_str2ll)
 * is always stored as an integer, so comparing entries with bytes is the
 * same as comparing their decimal forms: "007" and "-0" stay strings, "7"
 * and "-9223372036854775808" become integers.
 *
 * Threading: none; a pack belongs to the shard that owns its key.
 */
#pragma once

#include "shardis/sh.h"

/* Bytes of the header (total bytes, count) and of an empty pack (header and
 * end byte): the first entry is at lp + LPACK_HDR_BYTES. */
#define LPACK_HDR_BYTES   6
#define LPACK_EMPTY_BYTES 7
/* A buffer lpack_get_slice needs for an integer's decimal form. */
#define LPACK_INTBUF      21
/* A buffer lpack_fmt_double needs. */
#define LPACK_DBLBUF      32

enum lpack_where {
    LPACK_BEFORE = 0,
    LPACK_AFTER = 1,
};

/* An entry's value: a string when str != NULL (len bytes, borrowed from the
 * pack, not NUL-terminated), else the integer ival. */
struct lpack_val {
    const char *str;
    size_t len;
    long long ival;
};

/* A new empty pack (LPACK_EMPTY_BYTES bytes). Freed with lpack_destroy. */
unsigned char *lpack_create(void);
/* Frees the pack; lpack_destroy(NULL) is a no-op. */
void lpack_destroy(unsigned char *lp);
/* Total bytes of the pack, which is also its allocation's size (for MEMORY
 * USAGE and for the callers' size thresholds). */
size_t lpack_bytes(const unsigned char *lp);
/* Number of entries. O(1) below 65535 entries; past that the header's count
 * saturates (as in Redis) and this walks the pack, O(n), even after deletes
 * bring it back under. */
size_t lpack_count(const unsigned char *lp);

/* The first / last entry, or NULL when the pack is empty. */
const unsigned char *lpack_first(const unsigned char *lp);
const unsigned char *lpack_last(const unsigned char *lp);
/* The entry after / before p (an entry of lp), or NULL at the end / start. */
const unsigned char *lpack_next(const unsigned char *lp, const unsigned char *p);
const unsigned char *lpack_prev(const unsigned char *lp, const unsigned char *p);
/* The entry at index (negative counts from the end: -1 is the last), or NULL
 * when out of range. Walks from the nearer end: O(n). */
const unsigned char *lpack_seek(const unsigned char *lp, long index);

/* The value of the entry at p. */
struct lpack_val lpack_get(const unsigned char *p);
/* The bytes of the entry at p: points into the pack for a string, or into buf
 * (NUL-terminated) for an integer. Borrowed until the pack or buf changes. */
struct sh_slice lpack_get_slice(const unsigned char *p, char buf[static LPACK_INTBUF]);
/* Sets *out and returns true when the entry is an integer (or a string in
 * the canonical decimal form of one, possible only in a pack built
 * elsewhere); false otherwise. */
bool lpack_get_int(const unsigned char *p, long long *out);
/* Sets *out and returns true when the entry is a number strtod accepts (as
 * util_str2d), an integer included; false otherwise. See lpack_fmt_double. */
bool lpack_get_double(const unsigned char *p, double *out);
/* Whether the entry's bytes equal s[0..len). */
bool lpack_eq(const unsigned char *p, const void *s, size_t len);
/* Compares the entry's bytes with s[0..len) as memcmp then length do (the
 * order of ZRANGEBYLEX): <0, 0 or >0. */
int lpack_cmp(const unsigned char *p, const void *s, size_t len);
/* The first entry equal to s[0..len), looking at p (an entry of lp or NULL)
 * and then only at every (skip+1)-th entry after it: skip 1 looks at fields
 * of field,value pairs when p is a field. Returns NULL when none matches.
 * O(n); the needle is parsed as an integer once, not per entry. */
const unsigned char *lpack_find(const unsigned char *lp, const unsigned char *p, const void *s,
                                size_t len, unsigned skip);

/* Adds s[0..len) (or v) at the end / at the front; returns the new pack. */
SH_MUST_CHECK unsigned char *lpack_append(unsigned char *lp, const void *s, size_t len);
SH_MUST_CHECK unsigned char *lpack_prepend(unsigned char *lp, const void *s, size_t len);
SH_MUST_CHECK unsigned char *lpack_append_int(unsigned char *lp, long long v);
/* Appends a sorted-set score, formatted by lpack_fmt_double. */
SH_MUST_CHECK unsigned char *lpack_append_double(unsigned char *lp, double v);
/* Writes v (not NaN) in the form a pack stores a score in and returns the
 * length (buf is NUL-terminated): "inf" / "-inf"; an integral value of
 * magnitude below 2^53 as its decimal integer (so it is stored as an
 * integer entry, as Redis does), "-0" for negative zero; otherwise the
 * shortest of "%.15g", "%.16g", "%.17g" that strtod reads back to exactly v
 * ("0.1", not Redis 7.0's "0.10000000000000001"), "%.17g" always does.
 * lpack_get_double returns exactly v again. */
size_t lpack_fmt_double(char buf[static LPACK_DBLBUF], double v);
/* Inserts s[0..len) before or after the entry p of lp. Returns the new pack;
 * *newp (when newp is not NULL) is set to the new entry in it. */
SH_MUST_CHECK unsigned char *lpack_insert(unsigned char *lp, const unsigned char *p,
                                          enum lpack_where where, const void *s, size_t len,
                                          const unsigned char **newp);
/* Replaces the entry *p with s[0..len). Returns the new pack and sets *p to
 * the replaced entry in it. */
SH_MUST_CHECK unsigned char *lpack_replace(unsigned char *lp, const unsigned char **p,
                                           const void *s, size_t len);
/* Deletes the entry p. Returns the new pack; *next (when next is not NULL)
 * is set to the entry that followed p in it, or NULL when p was the last. */
SH_MUST_CHECK unsigned char *lpack_delete(unsigned char *lp, const unsigned char *p,
                                          const unsigned char **next);
/* Deletes up to num entries starting at index (negative counts from the
 * end); nothing when index is out of range. Returns the new pack. O(n). */
SH_MUST_CHECK unsigned char *lpack_delete_range(unsigned char *lp, long index, size_t num);
/* Appends the entries of second to first. Takes ownership of both: second
 * is freed, first is dead; returns the merged pack. */
SH_MUST_CHECK unsigned char *lpack_merge(unsigned char *first, unsigned char *second);

/* Checks that buf[0..size) is a sound pack (header bytes = size, every
 * entry's encoding, length and back-length inside the buffer and
 * consistent, end byte, count when not saturated), so that no function here
 * reads outside it: for RESTORE and RDB loading, which then copy it with
 * sh_memdup. An empty pack is valid; callers that must not create empty
 * keys check lpack_count. Returns 0 or -EINVAL. O(n). */
SH_MUST_CHECK int lpack_validate(const unsigned char *buf, size_t size);

/* The entry at index rnd % count, or NULL when the pack is empty. rnd is a
 * random number from the caller (no RNG state here). O(n). */
const unsigned char *lpack_random(const unsigned char *lp, uint64_t rnd);
/* For packs of pairs (field,value / member,score): the first entry of pair
 * rnd % (count / 2); the second is lpack_next of it. NULL when there is no
 * whole pair. O(n). */
const unsigned char *lpack_random_pair(const unsigned char *lp, uint64_t rnd);
