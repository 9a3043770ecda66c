/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * tlist.c: the list type (see tlist.h): Redis 7.2's two list encodings over
 * shardis's listpack and quicklist.
 *
 *   KVAL_ENC_LISTPACK   v->u.p = lpack: | e0 | e1 | ... | en-1 |  (head first)
 *   KVAL_ENC_QUICKLIST  v->u.p = qlist: [lpack] <-> [lpack] <-> ... [lpack]
 *
 * Each operation works on the encoding it finds, then calls fit(), which
 * moves the list to the encoding the cap calls for:
 *
 *   listpack  -- pack passes the cap (count or bytes) -->  quicklist
 *   quicklist -- one node left, at most half the cap  -->  listpack
 *
 * The cap is a quicklist node's under the same fill (qlist.h: bytes, and
 * entries for a positive fill), applied to the pack's real size after the
 * write, so a list converts on the exact write that takes it past the cap.
 * The half of the way back is the hysteresis that keeps a push/pop pair at
 * the threshold from converting every time; it is checked only when a
 * quicklist is down to one node (O(1): qlist_bytes of one node). A
 * conversion copies at most one node's worth of elements (the cap, or one
 * element larger than it).
 *
 * A quicklist compresses its inner nodes as list-compress-depth said when
 * it was made (qlist.h); a listpack is never compressed, as in Redis.
 *
 * Invariants between calls: a listpack respects the cap; a list is never
 * empty except between the pop, remove or trim that emptied it and the
 * caller's deletion of its key.
 *
 * Threading: single-threaded; a value belongs to the shard that owns its
 * key.
 */
#include "shardis/tlist.h"

#include "shardis/util.h"

#include <assert.h>
#include <errno.h>
#include <limits.h>
#include <string.h>

#define FILL_MAX     (1 << 15)
#define FILL_MIN     (-5)
#define SAFETY_LIMIT 8192 /* bytes of a node under a positive fill */

static_assert(TLIST_BUF >= LPACK_INTBUF, "room for an integer element");

/* Node caps of fills -1 .. -5, as qlist.c. */
static const size_t size_limits[] = { 4096, 8192, 16384, 32768, 65536 };

/* ---- the cap ---- */

static int fill_of(const struct kval_limits *lim)
{
    long long f = lim->list_max_listpack_size;

    return f > FILL_MAX ? FILL_MAX : f < FILL_MIN ? FILL_MIN : (int)f;
}

/* The cap of one node under fill: most bytes and most elements. */
static void cap_of(int fill, size_t *bytes, size_t *count)
{
    if (fill < 0) {
        *bytes = size_limits[-fill - 1];
        *count = SIZE_MAX;
    } else {
        *bytes = SAFETY_LIMIT;
        *count = fill == 0 ? 1 : (size_t)fill;
    }
}

static unsigned char *pack_of(const struct kval *v)
{
    return v->u.p;
}

static struct qlist *ql_of(const struct kval *v)
{
    return v->u.p;
}

/* A list value's bytes of the element: the string in the node, or an
 * integer formatted in buf. */
static struct sh_slice val_slice(struct lpack_val x, char buf[static TLIST_BUF])
{
    if (x.str) {
        return (struct sh_slice){ x.str, x.len };
    }
    return (struct sh_slice){ buf, util_ll2str(buf, x.ival) };
}

/* ---- conversions ---- */

/* list-compress-depth as qlist_create takes it. */
static int depth_of(const struct kval_limits *lim)
{
    long long d = lim->list_compress_depth;

    return d > INT_MAX ? INT_MAX : d < 0 ? 0 : (int)d;
}

static void to_quicklist(struct kval *v, int fill, int depth)
{
    unsigned char *lp = pack_of(v);
    struct qlist *ql = qlist_create(fill, depth);
    char buf[TLIST_BUF];

    for (const unsigned char *p = lpack_first(lp); p; p = lpack_next(lp, p)) {
        struct sh_slice s = lpack_get_slice(p, buf);

        qlist_push(ql, QLIST_TAIL, s.ptr, s.len);
    }
    lpack_destroy(lp);
    v->u.p = ql;
    v->enc = KVAL_ENC_QUICKLIST;
}

static void to_listpack(struct kval *v)
{
    struct qlist *ql = ql_of(v);
    unsigned char *lp = lpack_create();
    struct qlist_iter it;
    struct lpack_val x;
    char buf[TLIST_BUF];

    qlist_iter_init(&it, ql, QLIST_FORWARD, 0);
    while (qlist_iter_next(&it, &x)) {
        struct sh_slice s = val_slice(x, buf);

        lp = lpack_append(lp, s.ptr, s.len);
    }
    qlist_destroy(ql);
    v->u.p = lp;
    v->enc = KVAL_ENC_LISTPACK;
}

/* Moves v to the encoding its size calls for (see the top of the file). */
static void fit(struct kval *v, const struct kval_limits *lim)
{
    int fill = fill_of(lim);
    size_t max_bytes, max_count;

    cap_of(fill, &max_bytes, &max_count);
    if (v->enc == KVAL_ENC_LISTPACK) {
        if (lpack_bytes(pack_of(v)) > max_bytes || lpack_count(pack_of(v)) > max_count) {
            to_quicklist(v, fill, depth_of(lim));
        }
        return;
    }
    if (qlist_nodes(ql_of(v)) == 1 && qlist_count(ql_of(v)) <= max_count / 2 &&
        qlist_bytes(ql_of(v)) <= max_bytes / 2) {
        to_listpack(v);
    }
}

/* ---- what kval.c relies on ---- */

void tlist_free(struct kval *v)
{
    if (v->enc == KVAL_ENC_LISTPACK) {
        lpack_destroy(pack_of(v));
    } else {
        qlist_destroy(ql_of(v));
    }
    v->u.p = NULL;
}

size_t tlist_memory(const struct kval *v)
{
    if (v->enc == KVAL_ENC_LISTPACK) {
        return sh_alloc_size(pack_of(v));
    }
    return qlist_bytes(ql_of(v));
}

char *tlist_dump(const struct kval *v, size_t *len)
{
    struct kval_dump d;
    struct tlist_iter it;
    struct sh_slice s;

    kval_dump_init(&d);
    tlist_iter_init(&it, v, 0, false);
    while (tlist_iter_next(&it, &s)) {
        kval_dump_put(&d, s.ptr, s.len);
    }
    return kval_dump_finish(&d, len);
}

int tlist_restore(struct kval *v, const char *p, size_t len, const struct kval_limits *lim)
{
    struct kval_dump_reader r;
    struct sh_slice s;

    if (!kval_dump_reader_init(&r, p, len) || r.count == 0) {
        return -EINVAL;
    }
    while (r.count > 0) {
        if (!kval_dump_next(&r, &s)) {
            goto out_clear;
        }
        tlist_push(v, TLIST_TAIL, s.ptr, s.len, lim);
    }
    if (r.left != 0) {
        goto out_clear;
    }
    return 0;
out_clear:
    kval_clear(v);
    return -EINVAL;
}

/* ---- queries ---- */

size_t tlist_len(const struct kval *v)
{
    if (v->enc == KVAL_ENC_LISTPACK) {
        return lpack_count(pack_of(v));
    }
    return qlist_count(ql_of(v));
}

bool tlist_is_compact(const struct kval *v)
{
    return v->enc == KVAL_ENC_LISTPACK;
}

/* index (negative from the tail) as 0..len-1; false when out of range. */
static bool norm_index(long long index, size_t len, size_t *out)
{
    if (index < 0) {
        unsigned long long back = 0ULL - (unsigned long long)index;

        if (back > len) {
            return false;
        }
        *out = len - (size_t)back;
        return true;
    }
    *out = (size_t)index;
    return (unsigned long long)index < len;
}

bool tlist_index(const struct kval *v, long long index, char buf[static TLIST_BUF],
                 struct sh_slice *out)
{
    struct lpack_val x;
    size_t i;

    if (!norm_index(index, tlist_len(v), &i)) {
        return false;
    }
    if (v->enc == KVAL_ENC_LISTPACK) {
        *out = lpack_get_slice(lpack_seek(pack_of(v), (long)i), buf);
        return true;
    }
    if (!qlist_index(ql_of(v), (long)i, &x)) {
        return false;
    }
    *out = val_slice(x, buf);
    return true;
}

void tlist_iter_init(struct tlist_iter *it, const struct kval *v, size_t start, bool backward)
{
    it->backward = backward;
    it->p = NULL;
    if (v->enc == KVAL_ENC_LISTPACK) {
        it->lp = pack_of(v);
        if (start < lpack_count(it->lp)) {
            it->p = lpack_seek(it->lp, (long)start);
        }
        return;
    }
    it->lp = NULL;
    /* qlist's iterator can delete, hence its mutable list; this one never
     * does. An out-of-range start leaves it done at once. */
    qlist_iter_init(&it->qi, ql_of(v), backward ? QLIST_BACKWARD : QLIST_FORWARD,
                    start > (size_t)LONG_MAX ? LONG_MAX : (long)start);
}

bool tlist_iter_next(struct tlist_iter *it, struct sh_slice *out)
{
    struct lpack_val x;

    if (it->lp) {
        if (!it->p) {
            return false;
        }
        *out = lpack_get_slice(it->p, it->buf);
        it->p = it->backward ? lpack_prev(it->lp, it->p) : lpack_next(it->lp, it->p);
        return true;
    }
    if (!qlist_iter_next(&it->qi, &x)) {
        return false;
    }
    *out = val_slice(x, it->buf);
    return true;
}

/* ---- writes ---- */

void tlist_push(struct kval *v, enum tlist_end end, const void *s, size_t len,
                const struct kval_limits *lim)
{
    if (v->type == KVAL_NONE) {
        v->type = KVAL_LIST;
        v->enc = KVAL_ENC_LISTPACK;
        v->u.p = lpack_create();
    }
    if (v->enc == KVAL_ENC_LISTPACK) {
        if (end == TLIST_HEAD) {
            v->u.p = lpack_prepend(pack_of(v), s, len);
        } else {
            v->u.p = lpack_append(pack_of(v), s, len);
        }
        fit(v, lim);
        return;
    }
    qlist_push(ql_of(v), end == TLIST_HEAD ? QLIST_HEAD : QLIST_TAIL, s, len);
}

/* Pops n (<= length) elements of a listpack: hands them out, then deletes
 * them in one move. */
static void pop_listpack(struct kval *v, enum tlist_end end, size_t n, tlist_elem_fn *fn, void *arg)
{
    unsigned char *lp = pack_of(v);
    const unsigned char *p = end == TLIST_HEAD ? lpack_first(lp) : lpack_last(lp);
    char buf[TLIST_BUF];

    for (size_t i = 0; fn && i < n; i++) {
        fn(arg, lpack_get_slice(p, buf));
        p = end == TLIST_HEAD ? lpack_next(lp, p) : lpack_prev(lp, p);
    }
    v->u.p = lpack_delete_range(lp, end == TLIST_HEAD ? 0 : -(long)n, n);
}

size_t tlist_pop(struct kval *v, enum tlist_end end, size_t n, tlist_elem_fn *fn, void *arg,
                 const struct kval_limits *lim)
{
    size_t len = tlist_len(v);
    long at = end == TLIST_HEAD ? 0 : -1;
    enum qlist_end qend = end == TLIST_HEAD ? QLIST_HEAD : QLIST_TAIL;
    char buf[TLIST_BUF];
    struct lpack_val x;

    if (n > len) {
        n = len;
    }
    if (n == 0) {
        return 0;
    }
    if (v->enc == KVAL_ENC_LISTPACK) {
        pop_listpack(v, end, n, fn, arg);
        return n;
    }
    for (size_t i = 0; i < n; i++) {
        if (fn && qlist_index(ql_of(v), at, &x)) {
            fn(arg, val_slice(x, buf));
        }
        qlist_pop(ql_of(v), qend);
    }
    fit(v, lim);
    return n;
}

bool tlist_set(struct kval *v, long long index, const void *s, size_t len,
               const struct kval_limits *lim)
{
    const unsigned char *p;
    size_t i;

    if (!norm_index(index, tlist_len(v), &i)) {
        return false;
    }
    if (v->enc == KVAL_ENC_LISTPACK) {
        p = lpack_seek(pack_of(v), (long)i);
        v->u.p = lpack_replace(pack_of(v), &p, s, len);
    } else if (!qlist_replace(ql_of(v), (long)i, s, len)) {
        return false;
    }
    fit(v, lim);
    return true;
}

bool tlist_insert(struct kval *v, enum lpack_where where, const void *pivot, size_t plen,
                  const void *s, size_t len, const struct kval_limits *lim)
{
    const unsigned char *p;

    if (v->enc == KVAL_ENC_QUICKLIST) {
        return qlist_insert(ql_of(v), where, pivot, plen, s, len);
    }
    p = lpack_find(pack_of(v), lpack_first(pack_of(v)), pivot, plen, 0);
    if (!p) {
        return false;
    }
    v->u.p = lpack_insert(pack_of(v), p, where, s, len, NULL);
    fit(v, lim);
    return true;
}

/* LREM over a listpack, from the head (limit: most to remove, 0 = all). */
static size_t remove_lp_forward(struct kval *v, size_t limit, const void *s, size_t len)
{
    const unsigned char *p = lpack_first(pack_of(v));
    size_t removed = 0;

    while ((p = lpack_find(pack_of(v), p, s, len, 0)) != NULL) {
        v->u.p = lpack_delete(pack_of(v), p, &p);
        if (++removed == limit) {
            break;
        }
    }
    return removed;
}

/* LREM over a listpack, from the tail. */
static size_t remove_lp_backward(struct kval *v, size_t limit, const void *s, size_t len)
{
    const unsigned char *p = lpack_last(pack_of(v));
    size_t removed = 0;

    while (p) {
        const unsigned char *prev = lpack_prev(pack_of(v), p);
        size_t off = prev ? (size_t)(prev - pack_of(v)) : 0;

        if (lpack_eq(p, s, len)) {
            /* entries before p keep their offsets when p goes */
            v->u.p = lpack_delete(pack_of(v), p, NULL);
            if (++removed == limit) {
                break;
            }
        }
        p = prev ? pack_of(v) + off : NULL;
    }
    return removed;
}

/* LREM over a quicklist, walking from the head or the tail. */
static size_t remove_ql(struct kval *v, size_t limit, bool backward, const void *s, size_t len)
{
    struct qlist_iter it;
    struct lpack_val x;
    size_t removed = 0;
    char buf[TLIST_BUF];

    qlist_iter_init(&it, ql_of(v), backward ? QLIST_BACKWARD : QLIST_FORWARD, backward ? -1 : 0);
    while (qlist_iter_next(&it, &x)) {
        struct sh_slice e = val_slice(x, buf);

        if (e.len != len || memcmp(e.ptr, s, len) != 0) {
            continue;
        }
        qlist_iter_delete(&it);
        if (++removed == limit) {
            break;
        }
    }
    return removed;
}

size_t tlist_remove(struct kval *v, long long count, const void *s, size_t len,
                    const struct kval_limits *lim)
{
    bool backward = count < 0;
    size_t limit = backward ? (size_t)(0ULL - (unsigned long long)count) : (size_t)count;
    size_t removed;

    if (v->enc == KVAL_ENC_QUICKLIST) {
        removed = remove_ql(v, limit, backward, s, len);
    } else if (backward) {
        removed = remove_lp_backward(v, limit, s, len);
    } else {
        removed = remove_lp_forward(v, limit, s, len);
    }
    if (removed) {
        fit(v, lim);
    }
    return removed;
}

void tlist_trim(struct kval *v, size_t head, size_t tail, const struct kval_limits *lim)
{
    size_t len = tlist_len(v);

    if (head > len) {
        head = len;
    }
    if (tail > len - head) {
        tail = len - head;
    }
    if (v->enc == KVAL_ENC_LISTPACK) {
        if (head) {
            v->u.p = lpack_delete_range(pack_of(v), 0, head);
        }
        if (tail) {
            v->u.p = lpack_delete_range(pack_of(v), -(long)tail, tail);
        }
        return;
    }
    if (head) {
        qlist_delete_range(ql_of(v), 0, head);
    }
    if (tail) {
        qlist_delete_range(ql_of(v), -(long)tail, tail);
    }
    fit(v, lim);
}
