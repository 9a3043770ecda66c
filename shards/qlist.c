/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * qlist.c: the quicklist (see qlist.h).
 *
 *   head                                                      tail
 *    |                                                          |
 *   [node] <-> [node] <-> [node] <-> ... <-> [node] <-> [node]
 *     |          |          |                  |          |
 *   lpack      lpack       LZF                lpack      lpack
 *   \____ depth ____/  \__ inner __/        \____ depth ____/
 *
 * Invariants: no node is empty (a node whose last entry goes is freed);
 * the list's count is the sum of the packs' counts; a node of more than one
 * entry respects the fill (fill_allows). Positions are kept as (node, byte
 * offset in its pack), which survive a pack's reallocation and its
 * compression (the bytes come back the same).
 *
 * Fill, as Redis 7.0 checks it: an entry may join a node when the node's
 * bytes plus the entry's length plus 8 (a bound on its encoding and
 * back-length overhead) stay within 4..64 KB for a negative fill, or, for a
 * positive fill, within 8 KB and the node then holds at most `fill` entries.
 * A node that cannot take an entry at an end gets a neighbour; one that
 * cannot take it inside is split there, and the halves are merged with
 * their outer neighbours when each pair fits one node (Redis's
 * _quicklistMergeNodes).
 *
 * Merging after deletes (not in Redis 7.0, which only frees emptied nodes):
 * a node that a delete leaves at most half full is merged with a neighbour
 * when the two fit one node. Half, not full: merging whenever two nodes
 * fit would let a push/pop pair at a node boundary copy a whole node each
 * time; after a merge the node must fill up by half its cap before a merge
 * can happen there again, so the copying stays O(1) per element.
 *
 * Compression (list-compress-depth, Redis's rules): with depth d > 0, the
 * d nodes at each end stay plain packs and every inner node is kept as LZF,
 * when its pack is at least 48 bytes and LZF saves at least 8 of them (a
 * node where it did not pay is marked `failed` and left plain until it
 * changes). A node's entry count and pack size are kept beside its LZF
 * form, so that walking to an index and the fill checks need no
 * decompression. A node is decompressed only for an access:
 *
 *   node_read   unpacks a compressed node and keeps its LZF form (a read
 *               does not change it, so settling it just frees the pack);
 *   node_write  unpacks it and drops the LZF form (it must be packed anew).
 *
 * Either puts the node in the list's `touched` set (at most TOUCH_MAX: an
 * operation touches a handful of nodes around one place). settle()
 * compresses again every touched inner node and leaves touched end nodes
 * plain; fix_ends() then walks d nodes in from each end, unpacking what
 * moved into the ends, and `added` more, packing what moved out (a node can
 * move out only past nodes linked in the same call). Every change ends with
 * both, so between calls the invariant above holds except for nodes a read
 * opened: qlist_index and qlist_iter_next return values borrowed from the
 * pack, so their node is settled lazily, by the next call on the list (and
 * an iterator keeps the node it reads from open until it moves on). At most
 * one or two nodes per list are therefore unpacked between calls, and
 * walking a whole list holds one node at a time.
 *
 * Left out: the plain nodes Redis 7 uses for elements of 1 GB and more
 * (ours go in a pack of their own, which holds up to 4 GB).
 *
 * Threading: none; a list belongs to one shard.
 */
#include "shardis/qlist.h"

#include "shardis/lzf.h"

#include <errno.h>
#include <stdint.h>
#include <string.h>

#define FILL_MAX             (1 << 15)
#define FILL_MIN             (-5)
#define SAFETY_LIMIT         8192
#define ENTRY_OVERHEAD       8
/* Redis's quicklist.c: smaller packs are not compressed, and LZF must save
 * at least this much. */
#define MIN_COMPRESS_BYTES   48
#define MIN_COMPRESS_IMPROVE 8
/* Nodes one call may hold open: a split and its merges, plus a read left
 * open by the call before. */
#define TOUCH_MAX            8
/* An iterator's offset that stands for the entry at the start of its node
 * in its direction (the node may still be compressed); no entry is at 0. */
#define OFF_EDGE             0

/* The node caps of fills -1 .. -5. */
static const size_t size_limits[] = { 4096, 8192, 16384, 32768, 65536 };

struct qlist_node {
    struct qlist_node *prev;
    struct qlist_node *next;
    unsigned char *lp;  /* the pack, or NULL while only the LZF form is kept */
    unsigned char *lzf; /* the pack compressed, or NULL */
    uint32_t lzf_len;
    uint32_t sz;    /* the pack's bytes and entries while lp is NULL */
    uint32_t count; /* (set when the LZF form is made) */
    bool touched;   /* in ql->touched */
    bool failed;    /* LZF did not pay for this content */
};

struct qlist {
    struct qlist_node *head;
    struct qlist_node *tail;
    size_t count;
    size_t nodes;
    size_t packed; /* nodes with an LZF form */
    int fill;
    int depth;      /* list-compress-depth; 0: no compression */
    unsigned added; /* nodes linked since the last fix_ends */
    unsigned ntouched;
    struct qlist_node *touched[TOUCH_MAX];
};

/* What a merge must update when it frees a node: an iterator's positions,
 * and a node pointer the caller still holds. Either may be NULL. */
struct fixup {
    struct qlist_iter *it;
    struct qlist_node **watch;
};

/* Whether a node of `bytes` holding `count` entries respects the fill. */
static bool fill_allows(const struct qlist *ql, size_t bytes, size_t count)
{
    if (ql->fill < 0) {
        return bytes <= size_limits[-ql->fill - 1];
    }
    return bytes <= SAFETY_LIMIT && count <= (size_t)ql->fill;
}

static size_t node_count(const struct qlist_node *n)
{
    return n->lp ? lpack_count(n->lp) : n->count;
}

static size_t node_bytes(const struct qlist_node *n)
{
    return n->lp ? lpack_bytes(n->lp) : n->sz;
}

static bool node_allows_insert(const struct qlist *ql, const struct qlist_node *n, size_t len)
{
    return fill_allows(ql, node_bytes(n) + len + ENTRY_OVERHEAD, node_count(n) + 1);
}

static bool node_allows_merge(const struct qlist *ql, const struct qlist_node *a,
                              const struct qlist_node *b)
{
    size_t bytes = node_bytes(a) + node_bytes(b) - LPACK_EMPTY_BYTES;

    return fill_allows(ql, bytes, node_count(a) + node_count(b));
}

/* At most half full: it would still respect the fill at twice its size. */
static bool node_is_small(const struct qlist *ql, const struct qlist_node *n)
{
    return fill_allows(ql, 2 * node_bytes(n), 2 * node_count(n));
}

/* ---- compression ---- */

static void touch(struct qlist *ql, struct qlist_node *n)
{
    if (n->touched) {
        return;
    }
    SH_ASSERT(ql->ntouched < TOUCH_MAX);
    n->touched = true;
    ql->touched[ql->ntouched++] = n;
}

static void untouch(struct qlist *ql, struct qlist_node *n)
{
    if (!n->touched) {
        return;
    }
    for (unsigned i = 0; i < ql->ntouched; i++) {
        if (ql->touched[i] == n) {
            ql->touched[i] = ql->touched[--ql->ntouched];
            break;
        }
    }
    n->touched = false;
}

static void drop_lzf(struct qlist *ql, struct qlist_node *n)
{
    if (n->lzf) {
        sh_free(n->lzf);
        n->lzf = NULL;
        ql->packed--;
    }
}

/* Makes n's pack from its LZF form when it has none (the LZF form stays). */
static void node_unpack(struct qlist_node *n)
{
    size_t got;

    if (n->lp) {
        return;
    }
    n->lp = sh_malloc(n->sz);
    got = lzf_decompress(n->lzf, n->lzf_len, n->lp, n->sz);
    SH_ASSERT(got == n->sz);
}

/* Keeps n as LZF only, when that pays (Redis's __quicklistCompressNode). */
static void node_pack(struct qlist *ql, struct qlist_node *n)
{
    size_t sz, cap, clen;
    unsigned char *buf;

    if (!n->lp || n->failed) {
        return;
    }
    if (!n->lzf) {
        sz = lpack_bytes(n->lp);
        if (sz < MIN_COMPRESS_BYTES) {
            n->failed = true;
            return;
        }
        cap = sz - MIN_COMPRESS_IMPROVE - 1; /* LZF must save more than 8 */
        buf = sh_malloc(cap);
        clen = lzf_compress(n->lp, sz, buf, cap);
        if (clen == 0) {
            sh_free(buf);
            n->failed = true;
            return;
        }
        n->lzf = sh_realloc(buf, clen);
        n->lzf_len = (uint32_t)clen;
        n->sz = (uint32_t)sz;
        n->count = (uint32_t)lpack_count(n->lp);
        ql->packed++;
    }
    lpack_destroy(n->lp);
    n->lp = NULL;
}

/* Keeps n as a plain pack only. */
static void node_plain(struct qlist *ql, struct qlist_node *n)
{
    node_unpack(n);
    drop_lzf(ql, n);
}

/* n's pack, for reading: valid until the node is settled. */
static const unsigned char *node_read(struct qlist *ql, struct qlist_node *n)
{
    if (!n->lp) {
        node_unpack(n);
        touch(ql, n);
    }
    return n->lp;
}

/* n's pack, to be changed (the caller stores the pack it gets back). */
static unsigned char *node_write(struct qlist *ql, struct qlist_node *n)
{
    node_plain(ql, n);
    n->failed = false;
    if (ql->depth > 0) {
        touch(ql, n);
    }
    return n->lp;
}

/* Whether n is more than depth nodes away from both ends. O(depth). */
static bool is_inner(const struct qlist *ql, const struct qlist_node *n)
{
    const struct qlist_node *a = n, *b = n;

    if (ql->depth == 0 || ql->nodes <= 2 * (size_t)ql->depth) {
        return false;
    }
    for (int i = 0; i < ql->depth; i++) {
        a = a->prev;
        b = b->next;
        if (!a || !b) {
            return false;
        }
    }
    return true;
}

static void node_settle(struct qlist *ql, struct qlist_node *n, bool inner)
{
    if (inner) {
        node_pack(ql, n);
    } else {
        node_plain(ql, n);
    }
}

/* Settles every touched node but keep (NULL: all). O(touched * depth). */
static void settle(struct qlist *ql, const struct qlist_node *keep)
{
    unsigned k = 0;

    for (unsigned i = 0; i < ql->ntouched; i++) {
        struct qlist_node *n = ql->touched[i];

        if (n == keep) {
            ql->touched[k++] = n;
            continue;
        }
        n->touched = false;
        node_settle(ql, n, is_inner(ql, n));
    }
    ql->ntouched = k;
}

/* Unpacks the nodes within depth of each end and packs those that links
 * made in this call may have pushed out of there. O(depth). */
static void fix_ends(struct qlist *ql)
{
    size_t depth = (size_t)ql->depth, reach = depth + ql->added;
    struct qlist_node *h = ql->head, *t = ql->tail;

    ql->added = 0;
    if (depth == 0 || (ql->nodes <= 2 * depth && ql->packed == 0)) {
        return;
    }
    for (size_t i = 0; h && i < reach; i++, h = h->next, t = t->prev) {
        bool inner = i >= depth && ql->nodes - 1 - i >= depth;

        node_settle(ql, h, inner);
        node_settle(ql, t, inner);
    }
}

/* The end of every change: the compression invariant holds again, but for
 * keep (an iterator's next node), which stays open. */
static void finish(struct qlist *ql, const struct qlist_node *keep)
{
    settle(ql, keep);
    fix_ends(ql);
}

/* ---- nodes ---- */

static struct qlist_node *node_create(unsigned char *lp)
{
    struct qlist_node *n = sh_calloc(1, sizeof(*n));

    n->lp = lp ? lp : lpack_create();
    return n;
}

/* Links n between prev and next (adjacent, either may be NULL). */
static void link_between(struct qlist *ql, struct qlist_node *prev, struct qlist_node *next,
                         struct qlist_node *n)
{
    n->prev = prev;
    n->next = next;
    if (prev) {
        prev->next = n;
    } else {
        ql->head = n;
    }
    if (next) {
        next->prev = n;
    } else {
        ql->tail = n;
    }
    ql->nodes++;
    ql->added++;
}

/* Unlinks and frees n (and its pack); n is dead afterwards. */
static void unlink_node(struct qlist *ql, struct qlist_node *n)
{
    if (n->prev) {
        n->prev->next = n->next;
    } else {
        ql->head = n->next;
    }
    if (n->next) {
        n->next->prev = n->prev;
    } else {
        ql->tail = n->prev;
    }
    ql->nodes--;
    untouch(ql, n);
    drop_lzf(ql, n);
    lpack_destroy(n->lp);
    sh_free(n);
}

/* Points an iterator's OFF_EDGE at the entry it stands for; its node must
 * be unpacked. */
static void iter_resolve(struct qlist_iter *it)
{
    const unsigned char *lp = it->node->lp;

    if (it->off == OFF_EDGE) {
        it->off = it->dir == QLIST_FORWARD ? LPACK_HDR_BYTES : (size_t)(lpack_last(lp) - lp);
    }
}

/* Moves b's entries to the end of a (b follows a) and frees b. */
static struct qlist_node *merge_pair(struct qlist *ql, struct qlist_node *a, struct qlist_node *b,
                                     const struct fixup *fix)
{
    size_t shift = node_bytes(a) - LPACK_EMPTY_BYTES;
    unsigned char *first = node_write(ql, a);

    node_read(ql, b);
    if (fix && fix->it && (fix->it->node == a || fix->it->node == b)) {
        iter_resolve(fix->it);
    }
    /* b's pack, whether or not b also has an LZF form, goes to the merge */
    a->lp = lpack_merge(first, b->lp);
    b->lp = NULL;
    if (fix && fix->it && fix->it->node == b) {
        fix->it->node = a;
        fix->it->off += shift;
    }
    if (fix && fix->watch && *fix->watch == b) {
        *fix->watch = a;
    }
    unlink_node(ql, b);
    return a;
}

/* After a delete from n: merges n, when it is small, with each neighbour
 * it fits with. Returns the node now holding n's entries. */
static struct qlist_node *merge_small(struct qlist *ql, struct qlist_node *n,
                                      const struct fixup *fix)
{
    if (!node_is_small(ql, n)) {
        return n;
    }
    if (n->prev && node_allows_merge(ql, n->prev, n)) {
        n = merge_pair(ql, n->prev, n, fix);
    }
    if (n->next && node_allows_merge(ql, n, n->next)) {
        merge_pair(ql, n, n->next, fix);
    }
    return n;
}

struct qlist *qlist_create(int fill, int compress_depth)
{
    struct qlist *ql = sh_calloc(1, sizeof(*ql));

    ql->fill = fill > FILL_MAX ? FILL_MAX : fill < FILL_MIN ? FILL_MIN : fill;
    ql->depth = compress_depth > 0 ? compress_depth : 0;
    return ql;
}

void qlist_destroy(struct qlist *ql)
{
    if (!ql) {
        return;
    }
    while (ql->head) {
        unlink_node(ql, ql->head);
    }
    sh_free(ql);
}

size_t qlist_count(const struct qlist *ql)
{
    return ql->count;
}

size_t qlist_nodes(const struct qlist *ql)
{
    return ql->nodes;
}

size_t qlist_compressed_nodes(const struct qlist *ql)
{
    return ql->packed;
}

size_t qlist_bytes(const struct qlist *ql)
{
    size_t bytes = sizeof(*ql);

    for (const struct qlist_node *n = ql->head; n; n = n->next) {
        bytes += sizeof(*n) + (n->lzf ? n->lzf_len : lpack_bytes(n->lp));
    }
    return bytes;
}

void qlist_push(struct qlist *ql, enum qlist_end end, const void *s, size_t len)
{
    struct qlist_node *n = end == QLIST_HEAD ? ql->head : ql->tail;

    settle(ql, NULL);
    if (!n || !node_allows_insert(ql, n, len)) {
        n = node_create(NULL);
        if (end == QLIST_HEAD) {
            link_between(ql, NULL, ql->head, n);
        } else {
            link_between(ql, ql->tail, NULL, n);
        }
    }
    if (end == QLIST_HEAD) {
        n->lp = lpack_prepend(node_write(ql, n), s, len);
    } else {
        n->lp = lpack_append(node_write(ql, n), s, len);
    }
    ql->count++;
    finish(ql, NULL);
}

/* Frees n when a delete emptied it, else merges it when it is small. */
static void after_delete(struct qlist *ql, struct qlist_node *n, const struct fixup *fix)
{
    if (node_count(n) == 0) {
        unlink_node(ql, n);
    } else {
        merge_small(ql, n, fix);
    }
}

bool qlist_pop(struct qlist *ql, enum qlist_end end)
{
    struct qlist_node *n = end == QLIST_HEAD ? ql->head : ql->tail;
    unsigned char *lp;

    settle(ql, NULL);
    if (!n) {
        return false;
    }
    lp = node_write(ql, n);
    n->lp = lpack_delete(lp, end == QLIST_HEAD ? lpack_first(lp) : lpack_last(lp), NULL);
    ql->count--;
    after_delete(ql, n, NULL);
    finish(ql, NULL);
    return true;
}

/* Turns index (negative from the tail) into 0..n-1; false when out of
 * range. */
static bool norm_index(long index, size_t n, size_t *out)
{
    if (index < 0) {
        unsigned long back = 0UL - (unsigned long)index;

        if (back > n) {
            return false;
        }
        *out = n - back;
        return true;
    }
    *out = (size_t)index;
    return *out < n;
}

/* Finds the node holding element index and the element's index in it,
 * walking from the nearer end (on the counts: nothing is unpacked). */
static bool locate(const struct qlist *ql, long index, struct qlist_node **np, size_t *ip)
{
    struct qlist_node *n;
    size_t i;

    if (!norm_index(index, ql->count, &i)) {
        return false;
    }
    if (i < ql->count / 2) {
        for (n = ql->head; i >= node_count(n); n = n->next) {
            i -= node_count(n);
        }
    } else {
        size_t back = ql->count - 1 - i;

        for (n = ql->tail; back >= node_count(n); n = n->prev) {
            back -= node_count(n);
        }
        i = node_count(n) - 1 - back;
    }
    *np = n;
    *ip = i;
    return true;
}

bool qlist_index(struct qlist *ql, long index, struct lpack_val *v)
{
    struct qlist_node *n;
    size_t i;

    settle(ql, NULL);
    if (!locate(ql, index, &n, &i)) {
        return false;
    }
    *v = lpack_get(lpack_seek(node_read(ql, n), (long)i));
    return true;
}

/* Puts s into n's neighbour on the `where` side when it has room, else into
 * a new node between the two. */
static void push_beside(struct qlist *ql, struct qlist_node *n, enum lpack_where where,
                        const void *s, size_t len)
{
    struct qlist_node *nb = where == LPACK_AFTER ? n->next : n->prev;

    if (nb && node_allows_insert(ql, nb, len)) {
        if (where == LPACK_AFTER) {
            nb->lp = lpack_prepend(node_write(ql, nb), s, len);
        } else {
            nb->lp = lpack_append(node_write(ql, nb), s, len);
        }
        return;
    }
    nb = node_create(NULL);
    if (where == LPACK_AFTER) {
        link_between(ql, n, n->next, nb);
    } else {
        link_between(ql, n->prev, n, nb);
    }
    nb->lp = lpack_append(node_write(ql, nb), s, len);
}

/* Index in its pack of the entry at byte offset off. O(node). */
static size_t index_of(const unsigned char *lp, size_t off)
{
    size_t i = 0;

    for (const unsigned char *p = lpack_first(lp); p != lp + off; p = lpack_next(lp, p)) {
        i++;
    }
    return i;
}

/* Splits the full node n before its entry k (0 < k < count), puts s between
 * the halves, and merges each half with its outer neighbour when they fit. */
static void split_insert(struct qlist *ql, struct qlist_node *n, size_t k, const void *s,
                         size_t len)
{
    unsigned char *lp = node_write(ql, n);
    void *copy = sh_memdup(lp, lpack_bytes(lp));
    struct qlist_node *right = node_create(copy);

    right->lp = lpack_delete_range(node_write(ql, right), 0, k);
    n->lp = lpack_delete_range(lp, (long)k, SIZE_MAX);
    link_between(ql, n, n->next, right);
    if (node_allows_insert(ql, n, len)) {
        n->lp = lpack_append(n->lp, s, len);
    } else {
        push_beside(ql, n, LPACK_AFTER, s, len);
    }
    if (n->prev && node_allows_merge(ql, n->prev, n)) {
        merge_pair(ql, n->prev, n, NULL);
    }
    if (right->next && node_allows_merge(ql, right, right->next)) {
        merge_pair(ql, right, right->next, NULL);
    }
}

/* Inserts s before or after the entry at byte offset off of node n, which
 * is unpacked. */
static void insert_at(struct qlist *ql, struct qlist_node *n, size_t off, enum lpack_where where,
                      const void *s, size_t len)
{
    const unsigned char *p = n->lp + off;

    ql->count++;
    if (node_allows_insert(ql, n, len)) {
        n->lp = lpack_insert(node_write(ql, n), p, where, s, len, NULL);
        return;
    }
    if (where == LPACK_AFTER && !lpack_next(n->lp, p)) {
        push_beside(ql, n, LPACK_AFTER, s, len);
        return;
    }
    if (where == LPACK_BEFORE && !lpack_prev(n->lp, p)) {
        push_beside(ql, n, LPACK_BEFORE, s, len);
        return;
    }
    split_insert(ql, n, index_of(n->lp, off) + (where == LPACK_AFTER ? 1 : 0), s, len);
}

bool qlist_insert(struct qlist *ql, enum lpack_where where, const void *pivot, size_t plen,
                  const void *s, size_t len)
{
    settle(ql, NULL);
    for (struct qlist_node *n = ql->head; n; n = n->next) {
        bool was_packed = n->lp == NULL;
        const unsigned char *lp = node_read(ql, n);
        const unsigned char *p = lpack_find(lp, lpack_first(lp), pivot, plen, 0);

        if (p) {
            insert_at(ql, n, (size_t)(p - lp), where, s, len);
            finish(ql, NULL);
            return true;
        }
        if (was_packed) {
            /* back as it was: its LZF form is still there */
            untouch(ql, n);
            lpack_destroy(n->lp);
            n->lp = NULL;
        }
    }
    return false;
}

/* Bytes of the entry p of lp, back-length included. */
static size_t entry_bytes(const unsigned char *lp, const unsigned char *p)
{
    const unsigned char *q = lpack_next(lp, p);

    return (size_t)((q ? q : lp + lpack_bytes(lp) - 1) - p);
}

bool qlist_replace(struct qlist *ql, long index, const void *s, size_t len)
{
    struct qlist_node *n;
    const unsigned char *p, *after;
    unsigned char *lp;
    size_t i, off, bytes;

    settle(ql, NULL);
    if (!locate(ql, index, &n, &i)) {
        return false;
    }
    lp = node_write(ql, n);
    p = lpack_seek(lp, (long)i);
    off = (size_t)(p - lp);
    bytes = lpack_bytes(lp) - entry_bytes(lp, p) + len + ENTRY_OVERHEAD;
    if (node_count(n) == 1 || fill_allows(ql, bytes, node_count(n))) {
        n->lp = lpack_replace(lp, &p, s, len);
    } else {
        /* n keeps at least one entry: put s where the old one was */
        n->lp = lpack_delete(lp, p, &after);
        ql->count--;
        if (after) {
            insert_at(ql, n, off, LPACK_BEFORE, s, len);
        } else {
            insert_at(ql, n, (size_t)(lpack_last(n->lp) - n->lp), LPACK_AFTER, s, len);
        }
    }
    finish(ql, NULL);
    return true;
}

size_t qlist_delete_range(struct qlist *ql, long start, size_t num)
{
    struct qlist_node *n, *left = NULL, *right = NULL;
    size_t i, deleted = 0;

    settle(ql, NULL);
    if (num == 0 || !locate(ql, start, &n, &i)) {
        return 0;
    }
    while (n && deleted < num) {
        size_t cnt = node_count(n);
        size_t take = cnt - i < num - deleted ? cnt - i : num - deleted;
        struct qlist_node *next = n->next;

        if (take == cnt) {
            unlink_node(ql, n);
        } else {
            n->lp = lpack_delete_range(node_write(ql, n), (long)i, take);
            if (!left) {
                left = n; /* the first node cut short */
            } else {
                right = n; /* the last one */
            }
        }
        deleted += take;
        i = 0;
        n = next;
    }
    ql->count -= deleted;
    if (left) {
        merge_small(ql, left, &(struct fixup){ NULL, &right });
    }
    if (right) {
        merge_small(ql, right, NULL);
    }
    finish(ql, NULL);
    return deleted;
}

void qlist_iter_init(struct qlist_iter *it, struct qlist *ql, enum qlist_dir dir, long start)
{
    size_t i;

    settle(ql, NULL);
    it->ql = ql;
    it->dir = dir;
    it->cur_node = NULL;
    it->cur_off = 0;
    it->node = NULL;
    it->off = 0;
    if (locate(ql, start, &it->node, &i)) {
        const unsigned char *lp = node_read(ql, it->node);

        it->off = (size_t)(lpack_seek(lp, (long)i) - lp);
    }
}

/* Points it at the entry that follows p (in n) in its direction: in the
 * next node, its edge, so that the node is unpacked only when read. */
static void iter_advance(struct qlist_iter *it, struct qlist_node *n, const unsigned char *p)
{
    bool fwd = it->dir == QLIST_FORWARD;
    const unsigned char *q = fwd ? lpack_next(n->lp, p) : lpack_prev(n->lp, p);

    if (q) {
        it->node = n;
        it->off = (size_t)(q - n->lp);
        return;
    }
    it->node = fwd ? n->next : n->prev;
    it->off = OFF_EDGE;
}

bool qlist_iter_next(struct qlist_iter *it, struct lpack_val *v)
{
    struct qlist_node *n = it->node;
    const unsigned char *p;

    /* what earlier calls read is settled now: their values were borrowed
     * until this call */
    settle(it->ql, n);
    if (!n) {
        return false;
    }
    node_read(it->ql, n);
    iter_resolve(it);
    p = n->lp + it->off;
    if (v) {
        *v = lpack_get(p);
    }
    it->cur_node = n;
    it->cur_off = it->off;
    iter_advance(it, n, p);
    return true;
}

/* Points it at the entry to return after a delete at byte offset off of
 * n, where the entry that followed the deleted one (or the end byte) now
 * is. */
static void iter_resume(struct qlist_iter *it, struct qlist_node *n, size_t off)
{
    const unsigned char *q;

    if (it->dir == QLIST_FORWARD) {
        if (off < lpack_bytes(n->lp) - 1) {
            it->node = n;
            it->off = off;
            return;
        }
        it->node = n->next;
        it->off = OFF_EDGE;
        return;
    }
    q = lpack_prev(n->lp, n->lp + off);
    if (q) {
        it->node = n;
        it->off = (size_t)(q - n->lp);
        return;
    }
    it->node = n->prev;
    it->off = OFF_EDGE;
}

void qlist_iter_delete(struct qlist_iter *it)
{
    struct qlist *ql = it->ql;
    struct qlist_node *n = it->cur_node;
    struct fixup fix = { it, NULL };
    unsigned char *lp;

    SH_ASSERT(n != NULL);
    settle(ql, n);
    lp = node_write(ql, n);
    n->lp = lpack_delete(lp, lp + it->cur_off, NULL);
    ql->count--;
    it->cur_node = NULL;
    iter_resume(it, n, it->cur_off);
    after_delete(ql, n, &fix);
    finish(ql, it->node);
}

/* Checks one node's pack (p: its bytes, unpacked) and its compression:
 * within depth of an end it is plain, inside it is LZF unless that did not
 * pay or a read holds it open. */
static int validate_node(const struct qlist *ql, const struct qlist_node *n, const unsigned char *p,
                         bool inner)
{
    size_t cnt = lpack_count(p);

    if (lpack_validate(p, lpack_bytes(p)) != 0 || cnt == 0 ||
        (cnt > 1 && !fill_allows(ql, lpack_bytes(p), cnt))) {
        return -EINVAL;
    }
    if (n->lzf && (n->sz != lpack_bytes(p) || n->count != cnt)) {
        return -EINVAL;
    }
    if (!inner && n->lzf) {
        return -EINVAL;
    }
    if (inner && !n->lzf && !n->failed && !n->touched) {
        return -EINVAL;
    }
    return 0;
}

/* The node's pack as bytes the caller frees with sh_free (*tmp), or its
 * own; NULL when its LZF form is corrupt or disagrees with its pack. */
static const unsigned char *node_bytes_of(const struct qlist_node *n, unsigned char **tmp)
{
    *tmp = NULL;
    if (!n->lzf) {
        return n->lp;
    }
    *tmp = sh_malloc(n->sz);
    if (lzf_decompress(n->lzf, n->lzf_len, *tmp, n->sz) != n->sz ||
        (n->lp && memcmp(n->lp, *tmp, n->sz) != 0)) {
        return NULL;
    }
    return *tmp;
}

int qlist_validate(const struct qlist *ql)
{
    const struct qlist_node *prev = NULL;
    size_t total = 0, nodes = 0, packed = 0, touched = 0, depth = (size_t)ql->depth;

    for (const struct qlist_node *n = ql->head; n; prev = n, n = n->next) {
        bool inner =
                depth > 0 && nodes < ql->nodes && nodes >= depth && ql->nodes - 1 - nodes >= depth;
        unsigned char *tmp = NULL;
        const unsigned char *p = n->prev == prev ? node_bytes_of(n, &tmp) : NULL;
        int err = p ? validate_node(ql, n, p, inner) : -EINVAL;

        if (p) {
            total += lpack_count(p);
        }
        sh_free(tmp);
        if (err) {
            return err;
        }
        nodes++;
        packed += n->lzf != NULL;
        touched += n->touched;
    }
    if (prev != ql->tail || total != ql->count || nodes != ql->nodes || packed != ql->packed ||
        touched != ql->ntouched) {
        return -EINVAL;
    }
    return 0;
}
