/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * tlist.h: the list type (KVAL_LIST): a sequence of binary strings with
 * cheap pushes and pops at both ends, in one of two encodings:
 *
 *   KVAL_ENC_LISTPACK   v->u.p is one lpack (lpack.h) holding every element,
 *                       while the whole list fits one quicklist node under
 *                       list-max-listpack-size;
 *   KVAL_ENC_QUICKLIST  v->u.p is a struct qlist (qlist.h) of such nodes.
 *
 * The threshold (struct kval_limits.list_max_listpack_size, the *fill*): a
 * positive fill caps a node at that many elements (0 counts as 1) and at
 * 8 KB; -1 .. -5 cap it at 4, 8, 16, 32 or 64 KB (fills past 32768 or -5
 * are clamped). A list is a listpack exactly while its pack respects that
 * cap (count and lpack_bytes); the first write after which it would not
 * makes it a quicklist. A quicklist goes back to a listpack when a delete
 * leaves it one node holding at most half the cap (half the elements and
 * half the bytes, counted with the qlist's own overhead), Redis 7.2's rule,
 * so that a push/pop pair at the threshold never converts back and forth.
 * Redis 7.0, whose behaviour shardis follows, keeps every list a quicklist
 * and its OBJECT ENCODING says "quicklist" for both (see kval.h).
 *
 * Every operation that may convert takes the shard's limits. Element memory
 * comes from the aborting allocator of lpack/qlist (as Redis's zmalloc): an
 * element's bytes have already arrived in a client's buffer when they are
 * stored, so no operation here fails.
 *
 * Elements handed out (struct sh_slice) are borrowed: they point into the
 * list, or into a buffer of TLIST_BUF bytes given by the caller when the
 * list holds the element as an integer; they stay valid until the list
 * changes (or the buffer is reused).
 *
 * A list may be empty only transiently: after tlist_pop, tlist_remove or
 * tlist_trim took its last element, the caller deletes the key (an empty
 * list is never stored). Indexes are 0-based from the head; a negative one
 * counts from the tail (-1 is the last element), as in LINDEX.
 *
 * Threading: a value belongs to the shard that owns its key; only that
 * shard's thread calls these functions. No global state.
 */
#pragma once

#include "shardis/kval.h"
#include "shardis/lpack.h"
#include "shardis/qlist.h"
#include "shardis/sh.h"

/* Room for an integer element's decimal form (LPACK_INTBUF). */
#define TLIST_BUF 21

enum tlist_end {
    TLIST_HEAD = 0, /* left: LPUSH, LPOP */
    TLIST_TAIL = 1, /* right: RPUSH, RPOP */
};

/* Walks elements from a start index towards one end (tlist_iter_init).
 * Storage provided by the caller, usually on the stack; all fields are
 * private. The list must not change while it is in use. */
struct tlist_iter {
    const unsigned char *lp; /* listpack, or NULL for a quicklist */
    const unsigned char *p;  /* listpack: the next element, NULL at the end */
    bool backward;
    struct qlist_iter qi; /* quicklist */
    char buf[TLIST_BUF];
};

/* Called with one element (borrowed for the call only). It must not change
 * the list it comes from. */
typedef void tlist_elem_fn(void *arg, struct sh_slice elem);

/* ---- what kval.c relies on ---- */

/* Frees the value's memory (kval_clear calls it for KVAL_LIST). O(nodes). */
void tlist_free(struct kval *v);
/* Bytes the value holds: the listpack's allocation, or the qlist's struct,
 * nodes and packs (qlist_bytes). O(1) for a listpack, O(nodes) else. */
size_t tlist_memory(const struct kval *v);
/* The value's elements in kval_dump form (kval.h), head to tail; *len its
 * size. The caller frees the bytes with sh_free. O(n). */
char *tlist_dump(const struct kval *v, size_t *len);
/* Makes v (KVAL_NONE) a list from tlist_dump's bytes (borrowed), in the
 * encoding lim calls for. Returns 0, or -EINVAL when the bytes are corrupt:
 * a zero count (an empty list is never stored), a truncated element, bytes
 * after the last one. v stays KVAL_NONE on error. O(n). */
SH_MUST_CHECK int tlist_restore(struct kval *v, const char *p, size_t len,
                                const struct kval_limits *lim);

/* ---- the operations of the list commands ---- */

/* Number of elements. O(1): a listpack's cap keeps its count under the
 * 65535 past which lpack_count walks. */
size_t tlist_len(const struct kval *v);
/* Whether the list is in its compact (listpack) encoding. */
bool tlist_is_compact(const struct kval *v);

/* Adds s[0..len) at one end of v, a list or KVAL_NONE (which becomes a list
 * of that one element). Converts a listpack that passes the cap of lim. The
 * bytes must not point into v. For LPUSH RPUSH LINSERT LMOVE and the
 * blocking commands' destination. O(1) for a quicklist; a listpack moves
 * its bytes (at most the cap) for a push at the head. */
void tlist_push(struct kval *v, enum tlist_end end, const void *s, size_t len,
                const struct kval_limits *lim);
/* Pops up to n elements from one end of the list v, handing each to fn
 * (when not NULL) before it is freed, in pop order: head to tail from
 * TLIST_HEAD, tail to head from TLIST_TAIL. Deletes nothing else; a list
 * left empty stays an empty value that the caller deletes with its key.
 * Returns how many were popped (min(n, length)). For LPOP RPOP LMPOP LMOVE
 * and the blocking pops. O(popped), plus a listpack's move of its bytes. */
size_t tlist_pop(struct kval *v, enum tlist_end end, size_t n, tlist_elem_fn *fn, void *arg,
                 const struct kval_limits *lim);
/* Sets *out to the element at index and returns true, or false when out of
 * range. Borrowed (may point into buf). O(n) walk from the nearer end (of
 * the nodes, then inside one). */
bool tlist_index(const struct kval *v, long long index, char buf[static TLIST_BUF],
                 struct sh_slice *out);
/* Replaces the element at index with s[0..len) (LSET); false when out of
 * range. May convert either way. Cost: as tlist_index plus the move of one
 * node's bytes. */
bool tlist_set(struct kval *v, long long index, const void *s, size_t len,
               const struct kval_limits *lim);
/* Inserts s[0..len) before or after the first element, from the head, equal
 * to pivot[0..plen) (LINSERT). Returns false when there is none. O(n). */
bool tlist_insert(struct kval *v, enum lpack_where where, const void *pivot, size_t plen,
                  const void *s, size_t len, const struct kval_limits *lim);
/* Removes elements equal to s[0..len) (LREM): the first count from the head
 * when count > 0, the last -count from the tail when count < 0, all when
 * count is 0. Returns how many went; the list may be left empty. O(n). */
size_t tlist_remove(struct kval *v, long long count, const void *s, size_t len,
                    const struct kval_limits *lim);
/* Removes up to `head` elements from the head and then up to `tail` from
 * the tail (LTRIM); the list may be left empty. O(removed + nodes). */
void tlist_trim(struct kval *v, size_t head, size_t tail, const struct kval_limits *lim);

/* Starts walking v from element start (0 <= start < length, else the walk
 * is over at once) towards the tail, or towards the head when backward. */
void tlist_iter_init(struct tlist_iter *it, const struct kval *v, size_t start, bool backward);
/* Sets *out to the next element (borrowed from the list or from it's
 * buffer, until the next call) and returns true; false at the end. */
bool tlist_iter_next(struct tlist_iter *it, struct sh_slice *out);
