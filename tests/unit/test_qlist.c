/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * test_qlist.c: the quicklist through its public header: node caps by
 * entries and by bytes (and the 8 KB safety cap of positive fills), clamped
 * fills, pushes and pops at both ends, indexes from either end, inserts by
 * pivot that split full nodes, replaces that outgrow their node, range
 * deletes across nodes with the merge of what is left, iteration both ways
 * with deletion of the current element (LREM), and long random sequences
 * under several fills compared with an array of strings (fixed seeds),
 * with qlist_validate after every step.
 *
 * Compression (list-compress-depth): the deterministic tests run again at
 * depth 1, and the random sequences at depths 1, 2 and 3 under fills -2,
 * -1, 4 and 128 with some incompressible values mixed in; qlist_validate
 * then also checks that the end nodes are plain, that every inner node is
 * compressed unless LZF did not pay or a read holds it open, and that each
 * compressed node decompresses to its pack. Reads must leave the number of
 * compressed nodes as it was, and walking a long list must settle each node
 * it leaves (the list holds at most 8 open, asserted). Then the counts:
 * n - 2 * depth compressed for compressible data, none for incompressible
 * data, for packs under 48 bytes, or for a depth past half the nodes.
 */
#include "shardis/qlist.h"
#include "shardis/util.h"

#include <errno.h>
#include <limits.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

/* A string literal as (bytes, length). */
#define LIT(s) (s), (sizeof(s) - 1)

#define MODEL_MAX  3000
#define RANDOM_CAP 300
#define VALUE_MAX  2000

/* The reference: the elements as an array of strings. */
struct model {
    size_t n;
    char *v[MODEL_MAX];
    size_t len[MODEL_MAX];
};

struct fixture {
    struct qlist *ql;
    struct model m;
    uint64_t rng;
    int depth;  /* list-compress-depth of the lists made */
    bool noise; /* random values include incompressible ones */
    size_t cap; /* random sequences keep the list at most this long */
    size_t max_nodes, max_packed;
    char buf[VALUE_MAX];
};

static int setup(void **state)
{
    struct fixture *f = calloc(1, sizeof(*f));

    f->rng = 0xC0FFEE;
    f->cap = RANDOM_CAP;
    *state = f;
    return 0;
}

static int setup_depth1(void **state)
{
    int err = setup(state);

    ((struct fixture *)*state)->depth = 1;
    return err;
}

static void model_clear(struct model *m)
{
    for (size_t i = 0; i < m->n; i++) {
        free(m->v[i]);
    }
    m->n = 0;
}

static int teardown(void **state)
{
    struct fixture *f = *state;
    int err = f->ql ? qlist_validate(f->ql) : 0;

    qlist_destroy(f->ql);
    model_clear(&f->m);
    free(f);
    return err;
}

static uint64_t rnd(uint64_t *s)
{
    uint64_t z = (*s += 0x9E3779B97F4A7C15ULL);

    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
    return z ^ (z >> 31);
}

static void model_insert(struct model *m, size_t i, const char *s, size_t len)
{
    assert_true(m->n < MODEL_MAX && i <= m->n);
    memmove(m->v + i + 1, m->v + i, (m->n - i) * sizeof(m->v[0]));
    memmove(m->len + i + 1, m->len + i, (m->n - i) * sizeof(m->len[0]));
    m->v[i] = malloc(len + 1);
    memcpy(m->v[i], s, len);
    m->len[i] = len;
    m->n++;
}

static void model_delete(struct model *m, size_t i)
{
    free(m->v[i]);
    memmove(m->v + i, m->v + i + 1, (m->n - i - 1) * sizeof(m->v[0]));
    memmove(m->len + i, m->len + i + 1, (m->n - i - 1) * sizeof(m->len[0]));
    m->n--;
}

/* The model's first element equal to s, or m->n. */
static size_t model_find(const struct model *m, const char *s, size_t len)
{
    for (size_t i = 0; i < m->n; i++) {
        if (m->len[i] == len && memcmp(m->v[i], s, len) == 0) {
            return i;
        }
    }
    return m->n;
}

static bool val_is(struct lpack_val v, const char *s, size_t len)
{
    char buf[LPACK_INTBUF];

    if (!v.str) {
        v.len = util_ll2str(buf, v.ival);
        v.str = buf;
    }
    return v.len == len && memcmp(v.str, s, len) == 0;
}

/* The list is sound and holds the model's elements, walked both ways, and
 * a few indexes from each end agree. */
static void assert_list(struct fixture *f)
{
    struct qlist_iter it;
    struct lpack_val v;
    size_t n = f->m.n, packed;

    assert_int_equal(qlist_validate(f->ql), 0);
    /* a first call settles what the last one left open (an iterator's
     * node after a delete); from then on reads keep the count */
    qlist_index(f->ql, 0, &v);
    packed = qlist_compressed_nodes(f->ql);
    assert_int_equal(qlist_count(f->ql), n);
    qlist_iter_init(&it, f->ql, QLIST_FORWARD, 0);
    for (size_t i = 0; i < n; i++) {
        assert_true(qlist_iter_next(&it, &v));
        assert_true(val_is(v, f->m.v[i], f->m.len[i]));
    }
    assert_false(qlist_iter_next(&it, &v));
    qlist_iter_init(&it, f->ql, QLIST_BACKWARD, -1);
    for (size_t i = n; i-- > 0;) {
        assert_true(qlist_iter_next(&it, &v));
        assert_true(val_is(v, f->m.v[i], f->m.len[i]));
    }
    assert_false(qlist_iter_next(&it, &v));
    for (int k = 0; k < 4 && n > 0; k++) {
        size_t i = (size_t)(rnd(&f->rng) % n);

        assert_true(qlist_index(f->ql, (long)i, &v));
        assert_true(val_is(v, f->m.v[i], f->m.len[i]));
        assert_true(qlist_index(f->ql, (long)i - (long)n, &v));
        assert_true(val_is(v, f->m.v[i], f->m.len[i]));
    }
    assert_false(qlist_index(f->ql, (long)n, &v));
    assert_false(qlist_index(f->ql, -(long)n - 1, &v));
    /* reads keep each node's compressed form */
    assert_int_equal(qlist_compressed_nodes(f->ql), packed);
    if (f->depth == 0) {
        assert_int_equal(packed, 0);
    }
}

static void push(struct fixture *f, enum qlist_end end, const char *s, size_t len)
{
    qlist_push(f->ql, end, s, len);
    model_insert(&f->m, end == QLIST_HEAD ? 0 : f->m.n, s, len);
}

/* Pushes n elements "<i>" (integers) or "e<i>" at the tail. */
static void push_n(struct fixture *f, int n, bool ints)
{
    for (int i = 0; i < n; i++) {
        int len = snprintf(f->buf, sizeof(f->buf), ints ? "%d" : "e%d", i);

        push(f, QLIST_TAIL, f->buf, (size_t)len);
    }
}

static void test_a_new_list_is_empty_and_every_lookup_misses(void **state)
{
    struct fixture *f = *state;
    struct qlist_iter it;
    struct lpack_val v;

    f->ql = qlist_create(-2, f->depth);
    assert_int_equal(qlist_count(f->ql), 0);
    assert_int_equal(qlist_nodes(f->ql), 0);
    assert_true(qlist_bytes(f->ql) > 0);
    assert_false(qlist_pop(f->ql, QLIST_HEAD));
    assert_false(qlist_pop(f->ql, QLIST_TAIL));
    assert_false(qlist_index(f->ql, 0, &v));
    assert_false(qlist_index(f->ql, -1, &v));
    assert_false(qlist_replace(f->ql, 0, LIT("x")));
    assert_false(qlist_insert(f->ql, LPACK_AFTER, LIT("p"), LIT("x")));
    assert_int_equal(qlist_delete_range(f->ql, 0, 10), 0);
    qlist_iter_init(&it, f->ql, QLIST_FORWARD, 0);
    assert_false(qlist_iter_next(&it, &v));
    assert_list(f);
    qlist_destroy(NULL);
}

static void test_a_positive_fill_caps_the_entries_per_node(void **state)
{
    struct fixture *f = *state;

    f->ql = qlist_create(4, f->depth);
    push_n(f, 10, false);
    assert_int_equal(qlist_nodes(f->ql), 3);
    push(f, QLIST_HEAD, LIT("h1"));
    assert_int_equal(qlist_nodes(f->ql), 4); /* the head node was full */
    push(f, QLIST_HEAD, LIT("h2"));
    assert_int_equal(qlist_nodes(f->ql), 4);
    assert_list(f);
}

static void test_a_positive_fill_also_caps_a_node_at_8_kb(void **state)
{
    struct fixture *f = *state;

    f->ql = qlist_create(128, f->depth);
    memset(f->buf, 'x', 1000);
    for (int i = 0; i < 20; i++) {
        push(f, QLIST_TAIL, f->buf, 1000);
    }
    /* 8 entries of ~1 KB fit under 8 KB */
    assert_int_equal(qlist_nodes(f->ql), 3);
    assert_list(f);
}

static void test_a_negative_fill_caps_the_bytes_per_node(void **state)
{
    struct fixture *f = *state;
    char *big = malloc(10000);

    f->ql = qlist_create(-1, f->depth);
    memset(f->buf, 'y', 100);
    for (int i = 0; i < 100; i++) {
        push(f, QLIST_TAIL, f->buf, 100);
    }
    /* 4096 bytes hold 39 entries of 103 bytes: 39 + 39 + 22 */
    assert_int_equal(qlist_nodes(f->ql), 3);
    memset(big, 'B', 10000);
    push(f, QLIST_TAIL, big, 10000); /* larger than the cap: a node of its own */
    assert_int_equal(qlist_nodes(f->ql), 4);
    push(f, QLIST_TAIL, LIT("after"));
    assert_int_equal(qlist_nodes(f->ql), 5);
    assert_list(f);
    free(big);
}

static void test_fills_out_of_range_are_clamped(void **state)
{
    struct fixture *f = *state;

    f->ql = qlist_create(-100, f->depth); /* as -5: 64 KB */
    memset(f->buf, 'z', 100);
    for (int i = 0; i < 636; i++) {
        push(f, QLIST_TAIL, f->buf, 100);
    }
    assert_int_equal(qlist_nodes(f->ql), 1);
    push(f, QLIST_TAIL, f->buf, 100);
    assert_int_equal(qlist_nodes(f->ql), 2);
    assert_list(f);
    qlist_destroy(f->ql);
    model_clear(&f->m);
    f->ql = qlist_create(0, f->depth); /* Redis 7.0: one entry per node */
    push_n(f, 5, true);
    assert_int_equal(qlist_nodes(f->ql), 5);
    assert_list(f);
    qlist_destroy(f->ql);
    model_clear(&f->m);
    f->ql = qlist_create(INT_MAX, f->depth);
    push_n(f, 2900, true); /* 8 KB of 2- and 3-byte entries per node */
    assert_true(qlist_nodes(f->ql) > 1);
    assert_list(f);
}

static void test_pops_take_from_each_end_and_free_emptied_nodes(void **state)
{
    struct fixture *f = *state;
    struct lpack_val v;

    f->ql = qlist_create(2, f->depth);
    push_n(f, 5, false);
    assert_true(qlist_index(f->ql, 0, &v) && val_is(v, LIT("e0")));
    assert_true(qlist_pop(f->ql, QLIST_HEAD));
    model_delete(&f->m, 0);
    assert_true(qlist_index(f->ql, -1, &v) && val_is(v, LIT("e4")));
    assert_true(qlist_pop(f->ql, QLIST_TAIL));
    model_delete(&f->m, f->m.n - 1);
    assert_list(f);
    while (qlist_pop(f->ql, QLIST_HEAD)) {
        model_delete(&f->m, 0);
    }
    assert_int_equal(qlist_nodes(f->ql), 0);
    assert_list(f);
}

/* LINSERT on both the list and the model; the pivot must be there. */
static void insert(struct fixture *f, enum lpack_where where, const char *pivot, const char *s)
{
    size_t at = model_find(&f->m, pivot, strlen(pivot));

    assert_true(at < f->m.n);
    assert_true(qlist_insert(f->ql, where, pivot, strlen(pivot), s, strlen(s)));
    model_insert(&f->m, at + (where == LPACK_AFTER ? 1 : 0), s, strlen(s));
    assert_list(f);
}

static void test_insert_finds_the_pivot_and_splits_a_full_node(void **state)
{
    struct fixture *f = *state;

    f->ql = qlist_create(4, f->depth);
    push_n(f, 8, false);               /* [e0 e1 e2 e3] [e4 e5 e6 e7] */
    insert(f, LPACK_AFTER, "e1", "X"); /* [e0 e1 X] [e2 e3] [e4 ...] */
    assert_int_equal(qlist_nodes(f->ql), 3);
    insert(f, LPACK_BEFORE, "e6", "Y"); /* ... [e4 e5 Y] [e6 e7] */
    assert_int_equal(qlist_nodes(f->ql), 4);
    insert(f, LPACK_BEFORE, "e0", "-5"); /* [-5 e0 e1 X] ... */
    assert_int_equal(qlist_nodes(f->ql), 4);
    /* before the first entry of a full head node: a new node */
    insert(f, LPACK_BEFORE, "-5", "W"); /* [W] [-5 e0 e1 X] ... */
    assert_int_equal(qlist_nodes(f->ql), 5);
    /* after the last entry of a full node: into the next one, which has room */
    insert(f, LPACK_AFTER, "X", "Q"); /* ... [Q e2 e3] ... */
    assert_int_equal(qlist_nodes(f->ql), 5);
    /* a split whose left half then fits with its neighbour: [W -5 -5] [e0 e1 X] */
    insert(f, LPACK_AFTER, "-5", "-5");
    assert_int_equal(qlist_nodes(f->ql), 5);
    /* the pivot is the first match from the head */
    insert(f, LPACK_BEFORE, "-5", "first");
    insert(f, LPACK_AFTER, "e7", "Z");
    assert_false(qlist_insert(f->ql, LPACK_AFTER, LIT("nope"), LIT("V")));
    assert_list(f);
}

static void test_replace_moves_a_value_that_outgrows_its_node(void **state)
{
    struct fixture *f = *state;
    struct lpack_val v;

    f->ql = qlist_create(-1, f->depth);
    memset(f->buf, 'r', 1900);
    for (int i = 0; i < 12; i++) {
        f->buf[0] = (char)('a' + i);
        push(f, QLIST_TAIL, f->buf, 100);
    }
    assert_int_equal(qlist_nodes(f->ql), 1);
    assert_true(qlist_replace(f->ql, 3, LIT("small")));
    model_delete(&f->m, 3);
    model_insert(&f->m, 3, LIT("small"));
    assert_list(f);
    /* the second 1900 bytes do not fit 4 KB: the node is split there */
    for (long i = 0; i < 12; i += 5) {
        assert_true(qlist_replace(f->ql, i, f->buf, 1900));
        assert_true(qlist_replace(f->ql, i - 12, f->buf, 1900));
        model_delete(&f->m, (size_t)i);
        model_insert(&f->m, (size_t)i, f->buf, 1900);
        assert_list(f);
    }
    assert_int_equal(qlist_nodes(f->ql), 3);
    assert_true(qlist_replace(f->ql, -1, LIT("12345")));
    model_delete(&f->m, f->m.n - 1);
    model_insert(&f->m, f->m.n, LIT("12345"));
    assert_true(qlist_index(f->ql, -1, &v));
    assert_null(v.str);
    assert_false(qlist_replace(f->ql, 12, LIT("x")));
    assert_false(qlist_replace(f->ql, -13, LIT("x")));
    assert_list(f);
}

static void test_replace_of_a_last_entry_that_outgrows_its_node_goes_after_it(void **state)
{
    struct fixture *f = *state;
    char *big = malloc(3000);

    f->ql = qlist_create(-1, f->depth);
    memset(f->buf, 'A', 1900);
    push(f, QLIST_TAIL, f->buf, 1900);
    memset(f->buf, 'B', 1900);
    push(f, QLIST_TAIL, f->buf, 1900);
    memset(f->buf, 'C', 1900);
    push(f, QLIST_TAIL, f->buf, 1900); /* [A B] [C] */
    assert_int_equal(qlist_nodes(f->ql), 2);
    memset(big, 'D', 3000);
    assert_true(qlist_replace(f->ql, 1, big, 3000)); /* [A] [D] [C] */
    model_delete(&f->m, 1);
    model_insert(&f->m, 1, big, 3000);
    assert_int_equal(qlist_nodes(f->ql), 3);
    assert_list(f);
    free(big);
}

static void test_delete_range_spans_nodes_and_merges_what_is_left(void **state)
{
    struct fixture *f = *state;

    f->ql = qlist_create(8, f->depth);
    push_n(f, 64, false);
    assert_int_equal(qlist_nodes(f->ql), 8);
    /* keeps e0..e4 and e55..e63: node 6 keeps one entry, which is small and
     * fits with the 5 of node 0 */
    assert_int_equal(qlist_delete_range(f->ql, 5, 50), 50);
    for (int i = 0; i < 50; i++) {
        model_delete(&f->m, 5);
    }
    assert_list(f);
    assert_int_equal(qlist_nodes(f->ql), 2);
    assert_int_equal(qlist_delete_range(f->ql, -3, 100), 3);
    for (int i = 0; i < 3; i++) {
        model_delete(&f->m, f->m.n - 1);
    }
    assert_int_equal(qlist_delete_range(f->ql, 100, 1), 0);
    assert_int_equal(qlist_delete_range(f->ql, -100, 1), 0);
    assert_int_equal(qlist_delete_range(f->ql, 0, 0), 0);
    assert_list(f);
    assert_int_equal(qlist_delete_range(f->ql, 0, SIZE_MAX), 11);
    model_clear(&f->m);
    assert_int_equal(qlist_nodes(f->ql), 0);
    assert_list(f);
}

static void test_a_node_left_small_by_a_delete_merges_with_the_next_one(void **state)
{
    struct fixture *f = *state;

    f->ql = qlist_create(8, f->depth);
    push_n(f, 16, false); /* [e0 .. e7] [e8 .. e15] */
    assert_int_equal(qlist_delete_range(f->ql, 10, 6), 6);
    assert_int_equal(qlist_nodes(f->ql), 2); /* [e0 .. e7] [e8 e9]: 10 > 8 */
    assert_int_equal(qlist_delete_range(f->ql, 0, 5), 5);
    for (int i = 0; i < 6; i++) {
        model_delete(&f->m, 10);
    }
    for (int i = 0; i < 5; i++) {
        model_delete(&f->m, 0);
    }
    assert_int_equal(qlist_nodes(f->ql), 1); /* [e5 e6 e7 e8 e9] */
    assert_list(f);
    /* only a node left at most half full merges, though 6 + 1 would fit */
    push_n(f, 4, true); /* [e5 .. e9 0 1 2] [3] */
    assert_int_equal(qlist_nodes(f->ql), 2);
    assert_int_equal(qlist_delete_range(f->ql, 0, 2), 2);
    model_delete(&f->m, 0);
    model_delete(&f->m, 0);
    assert_int_equal(qlist_nodes(f->ql), 2);
    assert_int_equal(qlist_delete_range(f->ql, 0, 2), 2); /* 4 left: half */
    model_delete(&f->m, 0);
    model_delete(&f->m, 0);
    assert_int_equal(qlist_nodes(f->ql), 1);
    assert_list(f);
}

/* Deletes, walking in dir from start, the elements equal to s (at most
 * limit of them; 0: all), in the list and in the model. Returns how many. */
static size_t lrem(struct fixture *f, enum qlist_dir dir, long start, const char *s, size_t len,
                   size_t limit)
{
    struct qlist_iter it;
    struct lpack_val v;
    size_t n = f->m.n, removed = 0;
    size_t i = start < 0 ? n - (size_t)(-start) : (size_t)start;

    qlist_iter_init(&it, f->ql, dir, start);
    while ((limit == 0 || removed < limit) && qlist_iter_next(&it, &v)) {
        assert_true(i < f->m.n);
        assert_true(val_is(v, f->m.v[i], f->m.len[i]));
        if (val_is(v, s, len)) {
            qlist_iter_delete(&it);
            model_delete(&f->m, i);
            removed++;
            if (dir == QLIST_FORWARD) {
                continue;
            }
        }
        i = dir == QLIST_FORWARD ? i + 1 : i - 1;
    }
    return removed;
}

static void test_iterating_both_ways_deletes_the_current_element(void **state)
{
    struct fixture *f = *state;
    size_t nodes;

    f->ql = qlist_create(8, f->depth);
    for (int i = 0; i < 80; i++) {
        push(f, QLIST_TAIL, i % 4 == 0 ? "x" : "keep", i % 4 == 0 ? 1 : 4);
        if (i % 10 == 0) {
            push(f, QLIST_TAIL, LIT("y"));
        }
    }
    nodes = qlist_nodes(f->ql);
    assert_int_equal(lrem(f, QLIST_FORWARD, 0, LIT("x"), 0), 20);
    assert_list(f);
    assert_int_equal(lrem(f, QLIST_BACKWARD, -1, LIT("y"), 3), 3);
    assert_list(f);
    assert_int_equal(lrem(f, QLIST_FORWARD, 0, LIT("keep"), 50), 50);
    assert_list(f);
    assert_true(qlist_nodes(f->ql) < nodes / 2); /* the emptied nodes merged */
    assert_int_equal(lrem(f, QLIST_BACKWARD, -1, LIT("keep"), 0), 10);
    assert_int_equal(lrem(f, QLIST_FORWARD, 0, LIT("y"), 0), 5);
    assert_int_equal(qlist_count(f->ql), 0);
    assert_int_equal(qlist_nodes(f->ql), 0);
    assert_list(f);
}

static void test_iteration_starts_at_the_given_index(void **state)
{
    struct fixture *f = *state;
    struct qlist_iter it;
    struct lpack_val v;

    f->ql = qlist_create(3, f->depth);
    push_n(f, 10, true);
    qlist_iter_init(&it, f->ql, QLIST_FORWARD, 5);
    for (long i = 5; i < 10; i++) {
        assert_true(qlist_iter_next(&it, &v));
        assert_int_equal(v.ival, i);
    }
    assert_false(qlist_iter_next(&it, &v));
    qlist_iter_init(&it, f->ql, QLIST_BACKWARD, -3);
    for (long i = 7; i >= 0; i--) {
        assert_true(qlist_iter_next(&it, &v));
        assert_int_equal(v.ival, i);
    }
    assert_false(qlist_iter_next(&it, NULL));
    qlist_iter_init(&it, f->ql, QLIST_FORWARD, 10);
    assert_false(qlist_iter_next(&it, &v));
    qlist_iter_init(&it, f->ql, QLIST_BACKWARD, -11);
    assert_false(qlist_iter_next(&it, &v));
    qlist_iter_init(&it, f->ql, QLIST_BACKWARD, LONG_MIN);
    assert_false(qlist_iter_next(&it, &v));
}

static void test_bytes_count_the_nodes_and_their_packs(void **state)
{
    struct fixture *f = *state;
    size_t empty;

    f->ql = qlist_create(4, f->depth);
    empty = qlist_bytes(f->ql);
    push(f, QLIST_TAIL, LIT("abc")); /* a node and a pack of 7 + 5 bytes */
    assert_true(qlist_bytes(f->ql) >= empty + 12 + 3 * sizeof(void *));
    push_n(f, 100, false);
    assert_true(qlist_bytes(f->ql) > empty + 100 * 4 + 25 * (7 + 3 * sizeof(void *)));
    assert_list(f);
}

/* A value for the random sequences: a few dozen short strings and integers
 * that repeat (pivots and LREM hit), and some of a few hundred bytes that
 * fill size-capped nodes. */
static size_t random_value(struct fixture *f)
{
    uint64_t r = rnd(&f->rng);
    size_t len;

    if (r % 10 < (f->noise ? 5U : 7U)) {
        return (size_t)snprintf(f->buf, VALUE_MAX, r & 0x100 ? "%u" : "v%u",
                                (unsigned)(r >> 9) % 40);
    }
    len = 100 + (r >> 8) % 900;
    memset(f->buf, 'a' + (int)((r >> 20) % 3), len);
    if (f->noise && (r >> 40) % 4 == 0) {
        for (size_t i = 0; i < len; i += 8) {
            uint64_t x = rnd(&f->rng);

            memcpy(f->buf + i, &x, len - i < 8 ? len - i : 8);
        }
    }
    return len;
}

static void random_push_or_pop(struct fixture *f, uint64_t r)
{
    enum qlist_end end = (r >> 8) & 1 ? QLIST_HEAD : QLIST_TAIL;
    size_t len;

    if ((r >> 9) % 8 == 0 || f->m.n >= f->cap) {
        assert_int_equal(qlist_pop(f->ql, end), f->m.n > 0);
        if (f->m.n > 0) {
            model_delete(&f->m, end == QLIST_HEAD ? 0 : f->m.n - 1);
        }
        return;
    }
    len = random_value(f);
    push(f, end, f->buf, len);
}

static void random_insert(struct fixture *f, uint64_t r)
{
    enum lpack_where where = (r >> 8) & 1 ? LPACK_BEFORE : LPACK_AFTER;
    char pivot[16];
    size_t plen = (size_t)snprintf(pivot, sizeof(pivot), "v%u", (unsigned)(r >> 9) % 40);
    size_t at = model_find(&f->m, pivot, plen);
    size_t len = random_value(f);

    if (f->m.n >= f->cap) {
        return;
    }
    assert_int_equal(qlist_insert(f->ql, where, pivot, plen, f->buf, len), at < f->m.n);
    if (at < f->m.n) {
        model_insert(&f->m, at + (where == LPACK_AFTER), f->buf, len);
    }
}

static void random_replace_or_delete(struct fixture *f, uint64_t r)
{
    size_t n = f->m.n;
    size_t i = n ? (size_t)((r >> 9) % n) : 0;
    long idx = (r >> 30) & 1 ? (long)i : (long)i - (long)n;

    if ((r >> 8) & 1) {
        size_t len = random_value(f);

        assert_int_equal(qlist_replace(f->ql, idx, f->buf, len), n > 0);
        if (n > 0) {
            model_delete(&f->m, i);
            model_insert(&f->m, i, f->buf, len);
        }
    } else {
        size_t num = (size_t)((r >> 40) % 5);
        size_t want = n == 0 ? 0 : (num < n - i ? num : n - i);

        assert_int_equal(qlist_delete_range(f->ql, idx, num), want);
        for (size_t k = 0; k < want; k++) {
            model_delete(&f->m, i);
        }
    }
}

static void random_lrem(struct fixture *f, uint64_t r)
{
    char s[16];
    size_t len = (size_t)snprintf(s, sizeof(s), "v%u", (unsigned)(r >> 9) % 40);
    long n = (long)f->m.n;

    if (n == 0) {
        return;
    }
    if ((r >> 8) & 1) {
        lrem(f, QLIST_FORWARD, (long)((r >> 20) % (unsigned long)n), s, len, (r >> 30) % 4);
    } else {
        lrem(f, QLIST_BACKWARD, -1 - (long)((r >> 20) % (unsigned long)n), s, len, (r >> 30) % 4);
    }
}

static void run_random(struct fixture *f, int fill, uint64_t seed, int steps)
{
    size_t max_count = 0, max_nodes = 0;

    qlist_destroy(f->ql);
    model_clear(&f->m);
    f->ql = qlist_create(fill, f->depth);
    f->rng = seed;
    for (int step = 0; step < steps; step++) {
        uint64_t r = rnd(&f->rng);
        unsigned op = (unsigned)(r % 16);

        if (op < 8) {
            random_push_or_pop(f, r);
        } else if (op < 11) {
            random_insert(f, r);
        } else if (op < 13) {
            random_replace_or_delete(f, r | 0x100);
        } else if (op < 14) {
            random_replace_or_delete(f, r & ~(uint64_t)0x100);
        } else {
            random_lrem(f, r);
        }
        /* decompressing every node both ways at every step is slow: the
         * full check every 4th step at a depth */
        if (f->depth == 0 || step % 4 == 0) {
            assert_list(f);
        } else {
            assert_int_equal(qlist_validate(f->ql), 0);
            assert_int_equal(qlist_count(f->ql), f->m.n);
        }
        max_count = f->m.n > max_count ? f->m.n : max_count;
        max_nodes = qlist_nodes(f->ql) > max_nodes ? qlist_nodes(f->ql) : max_nodes;
        if (qlist_compressed_nodes(f->ql) > f->max_packed) {
            f->max_packed = qlist_compressed_nodes(f->ql);
        }
    }
    /* the sequence did grow lists of many nodes */
    assert_true(max_count >= (f->depth ? f->cap / 3 : f->cap / 2));
    assert_true(max_nodes >= 10);
    f->max_nodes = max_nodes;
}

static void test_random_operations_with_byte_capped_nodes_match_an_array(void **state)
{
    run_random(*state, -1, 1, 1500);
}

static void test_random_operations_with_small_entry_capped_nodes_match_an_array(void **state)
{
    run_random(*state, 3, 2, 1500);
}

static void test_random_operations_with_large_entry_capped_nodes_match_an_array(void **state)
{
    run_random(*state, 32, 3, 1500);
}

static void test_random_operations_with_single_entry_nodes_match_an_array(void **state)
{
    run_random(*state, 1, 4, 800);
}

/* The random sequences under fills -2, -1, 4 and 128 at depth d, with
 * incompressible values mixed in: they did compress nodes. */
static void run_compressed(struct fixture *f, int depth, uint64_t seed)
{
    static const int fills[] = { -2, -1, 4, 128 };

    f->depth = depth;
    f->noise = true;
    f->cap = 600;
    for (size_t k = 0; k < sizeof(fills) / sizeof(fills[0]); k++) {
        f->max_packed = 0;
        run_random(f, fills[k], seed + k, 1000);
        assert_true(f->max_packed * 2 >= f->max_nodes);
    }
}

static void test_random_operations_at_compress_depth_1_match_an_array(void **state)
{
    run_compressed(*state, 1, 11);
}

static void test_random_operations_at_compress_depth_2_match_an_array(void **state)
{
    run_compressed(*state, 2, 21);
}

static void test_random_operations_at_compress_depth_3_match_an_array(void **state)
{
    run_compressed(*state, 3, 31);
}

/* Pushes n compressible elements of about 30 bytes at the tail (or at the
 * head for every third one). */
static void push_text(struct fixture *f, int n)
{
    for (int i = 0; i < n; i++) {
        int len = snprintf(f->buf, sizeof(f->buf), "element-%06d-xxxxxxxxxxxxxxx", i);

        push(f, i % 3 == 2 ? QLIST_HEAD : QLIST_TAIL, f->buf, (size_t)len);
    }
}

/* A list of the model's elements, at depth 0, for its bytes. */
static size_t plain_bytes(struct fixture *f, int fill)
{
    struct qlist *ql = qlist_create(fill, 0);
    size_t bytes;

    for (size_t i = 0; i < f->m.n; i++) {
        qlist_push(ql, QLIST_TAIL, f->m.v[i], f->m.len[i]);
    }
    bytes = qlist_bytes(ql);
    qlist_destroy(ql);
    return bytes;
}

static void test_inner_nodes_are_compressed_and_the_end_nodes_are_not(void **state)
{
    static const int fills[] = { -2, -1, 4, 128 };
    struct fixture *f = *state;

    for (f->depth = 1; f->depth <= 3; f->depth++) {
        for (size_t k = 0; k < sizeof(fills) / sizeof(fills[0]); k++) {
            size_t nodes;

            qlist_destroy(f->ql);
            model_clear(&f->m);
            f->ql = qlist_create(fills[k], f->depth);
            push_text(f, fills[k] == 4 ? 200 : 2500);
            assert_list(f);
            nodes = qlist_nodes(f->ql);
            assert_true(nodes > 2 * (size_t)f->depth + 2);
            /* qlist_validate checked which ones; these are all of them */
            assert_int_equal(qlist_compressed_nodes(f->ql), nodes - 2 * (size_t)f->depth);
            assert_true(qlist_bytes(f->ql) < plain_bytes(f, fills[k]) * 3 / 4);
            /* pops bring inner nodes to the ends, which decompresses them */
            while (qlist_nodes(f->ql) > 2 * (size_t)f->depth) {
                assert_true(qlist_pop(f->ql, f->m.n % 2 ? QLIST_HEAD : QLIST_TAIL));
                model_delete(&f->m, f->m.n % 2 ? 0 : f->m.n - 1);
                assert_int_equal(qlist_validate(f->ql), 0);
            }
            assert_int_equal(qlist_compressed_nodes(f->ql), 0);
            assert_list(f);
        }
    }
}

static void test_incompressible_values_stay_plain(void **state)
{
    struct fixture *f = *state;

    f->depth = 1;
    f->ql = qlist_create(-1, 1);
    for (int i = 0; i < 200; i++) {
        for (size_t j = 0; j < 200; j += 8) {
            uint64_t x = rnd(&f->rng);

            memcpy(f->buf + j, &x, 8);
        }
        push(f, QLIST_TAIL, f->buf, 200);
    }
    assert_true(qlist_nodes(f->ql) > 5);
    assert_int_equal(qlist_compressed_nodes(f->ql), 0);
    assert_int_equal(qlist_bytes(f->ql), plain_bytes(f, -1));
    assert_list(f);
    /* a node that becomes compressible is compressed once it changes */
    memset(f->buf, 'q', 1000);
    for (int i = 0; i < 3; i++) {
        assert_true(qlist_replace(f->ql, 40 + i, f->buf, 1000));
        model_delete(&f->m, (size_t)(40 + i));
        model_insert(&f->m, (size_t)(40 + i), f->buf, 1000);
    }
    assert_list(f);
}

static void test_packs_under_48_bytes_stay_plain(void **state)
{
    struct fixture *f = *state;

    f->depth = 1;
    f->ql = qlist_create(1, 1); /* one small entry per node */
    push_n(f, 50, true);
    push_n(f, 50, false);
    assert_int_equal(qlist_nodes(f->ql), 100);
    assert_int_equal(qlist_compressed_nodes(f->ql), 0);
    assert_list(f);
    /* an entry of 50 bytes of one letter does compress */
    memset(f->buf, 'k', 50);
    assert_true(qlist_replace(f->ql, 50, f->buf, 50));
    model_delete(&f->m, 50);
    model_insert(&f->m, 50, f->buf, 50);
    assert_int_equal(qlist_compressed_nodes(f->ql), 1);
    assert_list(f);
}

static void test_a_depth_past_half_the_nodes_compresses_nothing(void **state)
{
    struct fixture *f = *state;

    f->depth = INT_MAX;
    f->ql = qlist_create(8, INT_MAX);
    push_text(f, 400);
    assert_int_equal(qlist_compressed_nodes(f->ql), 0);
    assert_list(f);
    qlist_destroy(f->ql);
    model_clear(&f->m);
    f->depth = 5;
    f->ql = qlist_create(8, 5);
    for (int i = 0; i < 80; i++) { /* 10 nodes: all within 5 of an end */
        int len = snprintf(f->buf, sizeof(f->buf), "element-%06d-xxxxxxxxxxxxxxx", i);

        push(f, QLIST_TAIL, f->buf, (size_t)len);
    }
    assert_int_equal(qlist_nodes(f->ql), 10);
    assert_int_equal(qlist_compressed_nodes(f->ql), 0);
    push(f, QLIST_TAIL, LIT("one more node"));
    assert_int_equal(qlist_compressed_nodes(f->ql), 1);
    assert_list(f);
    assert_int_equal(qlist_delete_range(f->ql, 0, 1), 1);
    model_delete(&f->m, 0);
    assert_int_equal(qlist_compressed_nodes(f->ql), 1); /* [7] and 9 full */
    assert_int_equal(qlist_delete_range(f->ql, 0, 7), 7);
    for (int i = 0; i < 7; i++) {
        model_delete(&f->m, 0);
    }
    assert_int_equal(qlist_compressed_nodes(f->ql), 0);
    assert_list(f);
}

static void test_values_stay_valid_until_the_next_call_and_iterators_interleave(void **state)
{
    struct fixture *f = *state;
    struct qlist_iter fwd, back;
    struct lpack_val v, w;
    size_t n;

    f->depth = 1;
    f->ql = qlist_create(-1, 1);
    push_text(f, 1500);
    n = f->m.n;
    assert_true(qlist_compressed_nodes(f->ql) > 8);
    assert_true(qlist_index(f->ql, (long)n / 2, &v));
    /* v points into an opened inner node, which nothing else touched */
    assert_true(val_is(v, f->m.v[n / 2], f->m.len[n / 2]));
    qlist_iter_init(&fwd, f->ql, QLIST_FORWARD, 0);
    qlist_iter_init(&back, f->ql, QLIST_BACKWARD, -1);
    for (size_t i = 0; i < n; i++) {
        assert_true(qlist_iter_next(&fwd, &v));
        assert_true(val_is(v, f->m.v[i], f->m.len[i]));
        assert_true(qlist_iter_next(&back, &w));
        assert_true(val_is(w, f->m.v[n - 1 - i], f->m.len[n - 1 - i]));
    }
    assert_false(qlist_iter_next(&fwd, &v));
    assert_false(qlist_iter_next(&back, &w));
    assert_int_equal(qlist_validate(f->ql), 0);
    /* LREM-like deletes through an iterator over compressed nodes */
    memcpy(f->buf, f->m.v[700], f->m.len[700]);
    assert_int_equal(lrem(f, QLIST_BACKWARD, -1, f->buf, f->m.len[700], 0), 1);
    assert_list(f);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_a_new_list_is_empty_and_every_lookup_misses, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_a_positive_fill_caps_the_entries_per_node, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_a_positive_fill_also_caps_a_node_at_8_kb, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_a_negative_fill_caps_the_bytes_per_node, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_fills_out_of_range_are_clamped, setup, teardown),
        cmocka_unit_test_setup_teardown(test_pops_take_from_each_end_and_free_emptied_nodes, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_insert_finds_the_pivot_and_splits_a_full_node, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_replace_moves_a_value_that_outgrows_its_node, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(
                test_replace_of_a_last_entry_that_outgrows_its_node_goes_after_it, setup, teardown),
        cmocka_unit_test_setup_teardown(test_delete_range_spans_nodes_and_merges_what_is_left,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(test_a_node_left_small_by_a_delete_merges_with_the_next_one,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(test_iterating_both_ways_deletes_the_current_element, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_iteration_starts_at_the_given_index, setup, teardown),
        cmocka_unit_test_setup_teardown(test_bytes_count_the_nodes_and_their_packs, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(
                test_random_operations_with_byte_capped_nodes_match_an_array, setup, teardown),
        cmocka_unit_test_setup_teardown(
                test_random_operations_with_small_entry_capped_nodes_match_an_array, setup,
                teardown),
        cmocka_unit_test_setup_teardown(
                test_random_operations_with_large_entry_capped_nodes_match_an_array, setup,
                teardown),
        cmocka_unit_test_setup_teardown(
                test_random_operations_with_single_entry_nodes_match_an_array, setup, teardown),
#define AT_DEPTH_1(fn) { #fn " (list-compress-depth 1)", fn, setup_depth1, teardown, NULL }
        AT_DEPTH_1(test_a_positive_fill_caps_the_entries_per_node),
        AT_DEPTH_1(test_a_positive_fill_also_caps_a_node_at_8_kb),
        AT_DEPTH_1(test_a_negative_fill_caps_the_bytes_per_node),
        AT_DEPTH_1(test_fills_out_of_range_are_clamped),
        AT_DEPTH_1(test_pops_take_from_each_end_and_free_emptied_nodes),
        AT_DEPTH_1(test_insert_finds_the_pivot_and_splits_a_full_node),
        AT_DEPTH_1(test_replace_moves_a_value_that_outgrows_its_node),
        AT_DEPTH_1(test_replace_of_a_last_entry_that_outgrows_its_node_goes_after_it),
        AT_DEPTH_1(test_delete_range_spans_nodes_and_merges_what_is_left),
        AT_DEPTH_1(test_a_node_left_small_by_a_delete_merges_with_the_next_one),
        AT_DEPTH_1(test_iterating_both_ways_deletes_the_current_element),
        AT_DEPTH_1(test_iteration_starts_at_the_given_index),
        cmocka_unit_test_setup_teardown(test_random_operations_at_compress_depth_1_match_an_array,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(test_random_operations_at_compress_depth_2_match_an_array,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(test_random_operations_at_compress_depth_3_match_an_array,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(test_inner_nodes_are_compressed_and_the_end_nodes_are_not,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(test_incompressible_values_stay_plain, setup, teardown),
        cmocka_unit_test_setup_teardown(test_packs_under_48_bytes_stay_plain, setup, teardown),
        cmocka_unit_test_setup_teardown(test_a_depth_past_half_the_nodes_compresses_nothing, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(
                test_values_stay_valid_until_the_next_call_and_iterators_interleave, setup,
                teardown),
#undef AT_DEPTH_1
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
