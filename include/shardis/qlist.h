/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * qlist.h: Redis's quicklist, the encoding of lists: a doubly linked list of
 * listpack nodes (lpack.h), so that pushes and pops at either end are O(1)
 * and a list costs about one pointer pair per node rather than per element.
 *
 * `fill` caps each node as Redis's list-max-listpack-size does: a positive
 * fill is the most entries per node (and a node also stays under 8 KB unless
 * it holds a single entry); -1 .. -5 cap a node at 4, 8, 16, 32 or 64 KB.
 * Fills above 32768 or below -5 are clamped to those. A single entry larger
 * than the cap gets a node of its own.
 *
 * `compress_depth` is Redis's list-compress-depth: with d > 0 the d nodes
 * at each end are plain listpacks and every node further in is kept LZF
 * compressed (when its pack has 48 bytes or more and LZF saves 8 or more);
 * a node is decompressed for an access and compressed again afterwards.
 * 0 turns it off. The depth is fixed when the list is created.
 *
 * Values are read as struct lpack_val (a string borrowed from the node, or
 * an integer): borrowed until the next call on the list or on any of its
 * iterators (which may compress the node again). Bytes given to the
 * functions that change the list must not point into the list.
 *
 * Left out (see qlist.c): Redis 7's "plain" nodes for single elements of
 * 1 GB and more.
 *
 * Threading: none; a list belongs to the shard that owns its key. With
 * compression, reads (qlist_index, the iterator) change the list too: they
 * decompress nodes, with that core's allocator, so only the owner reads.
 */
#pragma once

#include "shardis/lpack.h"
#include "shardis/sh.h"

struct qlist;
struct qlist_node;

enum qlist_end {
    QLIST_HEAD = 0,
    QLIST_TAIL = 1,
};

enum qlist_dir {
    QLIST_FORWARD = 0,  /* head to tail */
    QLIST_BACKWARD = 1, /* tail to head */
};

/* An iterator lives in the caller's storage (no allocation). All fields are
 * private. While it is in use the list may change only through
 * qlist_iter_delete. */
struct qlist_iter {
    struct qlist *ql;
    struct qlist_node *node;     /* holds the next entry to return; NULL: done */
    size_t off;                  /* that entry's byte offset in node's pack (0: the
                                    node's first entry in dir) */
    struct qlist_node *cur_node; /* holds the entry last returned, or NULL */
    size_t cur_off;
    enum qlist_dir dir;
};

/* A new empty list whose nodes follow fill and which compresses its nodes
 * further than compress_depth from either end (see above; 0 or less: none).
 * Freed with qlist_destroy. */
struct qlist *qlist_create(int fill, int compress_depth);
/* Frees the list and its nodes; qlist_destroy(NULL) is a no-op. */
void qlist_destroy(struct qlist *ql);
/* Number of elements. */
size_t qlist_count(const struct qlist *ql);
/* Number of nodes (for OBJECT / DEBUG and tests). */
size_t qlist_nodes(const struct qlist *ql);
/* Number of nodes kept LZF compressed (for DEBUG and tests). */
size_t qlist_compressed_nodes(const struct qlist *ql);
/* Bytes the list holds: its struct, its nodes and their packs, compressed
 * ones at their compressed size (for MEMORY USAGE). O(nodes). */
size_t qlist_bytes(const struct qlist *ql);

/* Adds s[0..len) at the head or the tail. */
void qlist_push(struct qlist *ql, enum qlist_end end, const void *s, size_t len);
/* Removes the element at the head or the tail; returns false when the list
 * is empty. To pop a value, read it first with qlist_index (0 or -1). */
bool qlist_pop(struct qlist *ql, enum qlist_end end);
/* Sets *v to the element at index (negative counts from the tail: -1 is the
 * last); returns false when out of range. O(nodes + node size). The list
 * is not const: the node is decompressed for the read. */
bool qlist_index(struct qlist *ql, long index, struct lpack_val *v);
/* Replaces the element at index with s[0..len) (LSET); returns false when
 * out of range. A value that no longer fits its node moves the node's split
 * point, as an insert would. */
bool qlist_replace(struct qlist *ql, long index, const void *s, size_t len);
/* Inserts s[0..len) before or after the first element, from the head, equal
 * to pivot[0..plen) (LINSERT); returns false when there is none. A full
 * node is split at that point. O(n). */
bool qlist_insert(struct qlist *ql, enum lpack_where where, const void *pivot, size_t plen,
                  const void *s, size_t len);
/* Deletes up to num elements from index start (negative counts from the
 * tail) towards the tail (LTRIM, LREM with a range). Returns how many were
 * deleted: 0 when start is out of range. */
size_t qlist_delete_range(struct qlist *ql, long start, size_t num);

/* Starts it on ql at index start (negative counts from the tail), walking
 * in direction dir; when start is out of range the iterator is done at
 * once. */
void qlist_iter_init(struct qlist_iter *it, struct qlist *ql, enum qlist_dir dir, long start);
/* Sets *v (when v is not NULL) to the next element and returns true, or
 * returns false when there is none left. */
bool qlist_iter_next(struct qlist_iter *it, struct lpack_val *v);
/* Deletes the element qlist_iter_next returned last (LREM); the next call
 * of qlist_iter_next returns the one after it in the iterator's direction.
 * At most once per qlist_iter_next (asserted). */
void qlist_iter_delete(struct qlist_iter *it);

/* Checks the list's invariants: links and counts agree, no node is empty,
 * every pack is sound and every node of more than one entry respects the
 * fill; nodes within the depth of an end are not compressed, inner ones are
 * (unless compression did not pay or a read holds them open), and each
 * compressed node decompresses to its pack. Returns 0 or -EINVAL. O(n).
 * For tests and DEBUG. */
SH_MUST_CHECK int qlist_validate(const struct qlist *ql);
