/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * qlist.c: the quicklist (see qlist.h).
 *
 *   head                                                      tail
 *    |                                                          |
 *   [node] <-> [node] <-> [node] <-> ... <-> [node] <-> [node]
 *     |          |          |                  |          |
 *   lpack      lpack      lpack              lpack      lpack
 *
 * Invariants: no node is empty (a node whose last entry goes is freed);
 * the list's count is the sum of the packs' counts; a node of more than one
 * entry respects the fill (fill_allows). Positions are kept as (node, byte
 * offset in its pack), which survive a pack's reallocation.
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
 * Left out: compression of inner nodes (list-compress-depth, LZF) and the
 * plain nodes Redis 7 uses for elements of 1 GB and more (ours go in a pack
 * of their own, which holds up to 4 GB).
 *
 * Threading: none; a list belongs to one shard.
 */
#include "shardis/qlist.h"

#include <errno.h>

#define FILL_MAX       (1 << 15)
#define FILL_MIN       (-5)
#define SAFETY_LIMIT   8192
#define ENTRY_OVERHEAD 8

/* The node caps of fills -1 .. -5. */
static const size_t size_limits[] = { 4096, 8192, 16384, 32768, 65536 };

struct qlist_node {
    struct qlist_node *prev;
    struct qlist_node *next;
    unsigned char *lp;
};

struct qlist {
    struct qlist_node *head;
    struct qlist_node *tail;
    size_t count;
    size_t nodes;
    int fill;
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
    return lpack_count(n->lp);
}

static bool node_allows_insert(const struct qlist *ql, const struct qlist_node *n, size_t len)
{
    return fill_allows(ql, lpack_bytes(n->lp) + len + ENTRY_OVERHEAD, node_count(n) + 1);
}

static bool node_allows_merge(const struct qlist *ql, const struct qlist_node *a,
                              const struct qlist_node *b)
{
    size_t bytes = lpack_bytes(a->lp) + lpack_bytes(b->lp) - LPACK_EMPTY_BYTES;

    return fill_allows(ql, bytes, node_count(a) + node_count(b));
}

/* At most half full: it would still respect the fill at twice its size. */
static bool node_is_small(const struct qlist *ql, const struct qlist_node *n)
{
    return fill_allows(ql, 2 * lpack_bytes(n->lp), 2 * node_count(n));
}

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
    lpack_destroy(n->lp);
    sh_free(n);
}

/* Moves b's entries to the end of a (b follows a) and frees b. */
static struct qlist_node *merge_pair(struct qlist *ql, struct qlist_node *a, struct qlist_node *b,
                                     const struct fixup *fix)
{
    size_t shift = lpack_bytes(a->lp) - LPACK_EMPTY_BYTES;

    a->lp = lpack_merge(a->lp, b->lp);
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

struct qlist *qlist_create(int fill)
{
    struct qlist *ql = sh_calloc(1, sizeof(*ql));

    ql->fill = fill > FILL_MAX ? FILL_MAX : fill < FILL_MIN ? FILL_MIN : fill;
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

size_t qlist_bytes(const struct qlist *ql)
{
    size_t bytes = sizeof(*ql);

    for (const struct qlist_node *n = ql->head; n; n = n->next) {
        bytes += sizeof(*n) + lpack_bytes(n->lp);
    }
    return bytes;
}

void qlist_push(struct qlist *ql, enum qlist_end end, const void *s, size_t len)
{
    struct qlist_node *n = end == QLIST_HEAD ? ql->head : ql->tail;

    if (!n || !node_allows_insert(ql, n, len)) {
        n = node_create(NULL);
        if (end == QLIST_HEAD) {
            link_between(ql, NULL, ql->head, n);
        } else {
            link_between(ql, ql->tail, NULL, n);
        }
    }
    if (end == QLIST_HEAD) {
        n->lp = lpack_prepend(n->lp, s, len);
    } else {
        n->lp = lpack_append(n->lp, s, len);
    }
    ql->count++;
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

    if (!n) {
        return false;
    }
    n->lp = lpack_delete(n->lp, end == QLIST_HEAD ? lpack_first(n->lp) : lpack_last(n->lp), NULL);
    ql->count--;
    after_delete(ql, n, NULL);
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
 * walking from the nearer end. */
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

bool qlist_index(const struct qlist *ql, long index, struct lpack_val *v)
{
    struct qlist_node *n;
    size_t i;

    if (!locate(ql, index, &n, &i)) {
        return false;
    }
    *v = lpack_get(lpack_seek(n->lp, (long)i));
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
            nb->lp = lpack_prepend(nb->lp, s, len);
        } else {
            nb->lp = lpack_append(nb->lp, s, len);
        }
        return;
    }
    nb = node_create(NULL);
    if (where == LPACK_AFTER) {
        link_between(ql, n, n->next, nb);
    } else {
        link_between(ql, n->prev, n, nb);
    }
    nb->lp = lpack_append(nb->lp, s, len);
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
    void *copy = sh_memdup(n->lp, lpack_bytes(n->lp));
    struct qlist_node *right = node_create(copy);

    right->lp = lpack_delete_range(right->lp, 0, k);
    n->lp = lpack_delete_range(n->lp, (long)k, SIZE_MAX);
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

/* Inserts s before or after the entry at byte offset off of node n. */
static void insert_at(struct qlist *ql, struct qlist_node *n, size_t off, enum lpack_where where,
                      const void *s, size_t len)
{
    const unsigned char *p = n->lp + off;

    ql->count++;
    if (node_allows_insert(ql, n, len)) {
        n->lp = lpack_insert(n->lp, p, where, s, len, NULL);
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
    for (struct qlist_node *n = ql->head; n; n = n->next) {
        const unsigned char *p = lpack_find(n->lp, lpack_first(n->lp), pivot, plen, 0);

        if (p) {
            insert_at(ql, n, (size_t)(p - n->lp), where, s, len);
            return true;
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
    size_t i, off, bytes;

    if (!locate(ql, index, &n, &i)) {
        return false;
    }
    p = lpack_seek(n->lp, (long)i);
    off = (size_t)(p - n->lp);
    bytes = lpack_bytes(n->lp) - entry_bytes(n->lp, p) + len + ENTRY_OVERHEAD;
    if (node_count(n) == 1 || fill_allows(ql, bytes, node_count(n))) {
        n->lp = lpack_replace(n->lp, &p, s, len);
        return true;
    }
    /* n keeps at least one entry: put s where the old one was */
    n->lp = lpack_delete(n->lp, p, &after);
    ql->count--;
    if (after) {
        insert_at(ql, n, off, LPACK_BEFORE, s, len);
    } else {
        insert_at(ql, n, (size_t)(lpack_last(n->lp) - n->lp), LPACK_AFTER, s, len);
    }
    return true;
}

size_t qlist_delete_range(struct qlist *ql, long start, size_t num)
{
    struct qlist_node *n, *left = NULL, *right = NULL;
    size_t i, deleted = 0;

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
            n->lp = lpack_delete_range(n->lp, (long)i, take);
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
    return deleted;
}

void qlist_iter_init(struct qlist_iter *it, struct qlist *ql, enum qlist_dir dir, long start)
{
    size_t i;

    it->ql = ql;
    it->dir = dir;
    it->cur_node = NULL;
    it->cur_off = 0;
    it->node = NULL;
    it->off = 0;
    if (locate(ql, start, &it->node, &i)) {
        it->off = (size_t)(lpack_seek(it->node->lp, (long)i) - it->node->lp);
    }
}

/* Points it at the entry that follows p (in n) in its direction. */
static void iter_advance(struct qlist_iter *it, struct qlist_node *n, const unsigned char *p)
{
    bool fwd = it->dir == QLIST_FORWARD;
    const unsigned char *q = fwd ? lpack_next(n->lp, p) : lpack_prev(n->lp, p);

    if (!q) {
        n = fwd ? n->next : n->prev;
        q = n ? (fwd ? lpack_first(n->lp) : lpack_last(n->lp)) : NULL;
    }
    it->node = n;
    it->off = n ? (size_t)(q - n->lp) : 0;
}

bool qlist_iter_next(struct qlist_iter *it, struct lpack_val *v)
{
    struct qlist_node *n = it->node;
    const unsigned char *p;

    if (!n) {
        return false;
    }
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
        n = n->next;
        q = n ? lpack_first(n->lp) : NULL;
    } else {
        q = lpack_prev(n->lp, n->lp + off);
        if (!q) {
            n = n->prev;
            q = n ? lpack_last(n->lp) : NULL;
        }
    }
    it->node = n;
    it->off = n ? (size_t)(q - n->lp) : 0;
}

void qlist_iter_delete(struct qlist_iter *it)
{
    struct qlist_node *n = it->cur_node;
    struct fixup fix = { it, NULL };

    SH_ASSERT(n != NULL);
    n->lp = lpack_delete(n->lp, n->lp + it->cur_off, NULL);
    it->ql->count--;
    it->cur_node = NULL;
    iter_resume(it, n, it->cur_off);
    after_delete(it->ql, n, &fix);
}

int qlist_validate(const struct qlist *ql)
{
    const struct qlist_node *prev = NULL;
    size_t total = 0, nodes = 0;

    for (const struct qlist_node *n = ql->head; n; prev = n, n = n->next) {
        size_t cnt;

        if (n->prev != prev || lpack_validate(n->lp, lpack_bytes(n->lp)) != 0) {
            return -EINVAL;
        }
        cnt = node_count(n);
        if (cnt == 0 || (cnt > 1 && !fill_allows(ql, lpack_bytes(n->lp), cnt))) {
            return -EINVAL;
        }
        total += cnt;
        nodes++;
    }
    if (prev != ql->tail || total != ql->count || nodes != ql->nodes) {
        return -EINVAL;
    }
    return 0;
}
