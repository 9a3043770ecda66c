/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * test_tstream.c: the stream type through its public header against a
 * model (an array of IDs with a live flag): random appends with same and
 * different fields, deletes and exact / approximate trims under small node
 * limits; range walks both ways with random bounds; node splits at the
 * entry and byte limits; Redis's listpack layout of a node (master entry,
 * SAMEFIELDS flag, lp-count); the ordered map against a sorted array; and
 * groups, consumers and PELs.
 */
#include "shardis/kval.h"
#include "shardis/lpack.h"
#include "shardis/tstream.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#define MODEL_MAX 3000

struct model {
    size_t n;
    struct tstream_id id[MODEL_MAX];
    bool live[MODEL_MAX];
    bool same[MODEL_MAX];
};

static uint64_t rnd(uint64_t *s)
{
    *s ^= *s << 13;
    *s ^= *s >> 7;
    *s ^= *s << 17;
    return *s;
}

static void add(struct tstream *s, struct model *m, struct tstream_id id, bool same,
                const struct tstream_limits *lim)
{
    char v[32];
    struct sh_slice fv[4] = { { "f", 1 }, { v, 0 }, { "g", 1 }, { "x", 1 } };

    fv[1].len = (size_t)snprintf(v, sizeof(v), "%llu", (unsigned long long)id.ms);
    if (!same) {
        fv[0] = (struct sh_slice){ "other", 5 };
    }
    tstream_append(s, &id, fv, 2, lim);
    m->id[m->n] = id;
    m->live[m->n] = true;
    m->same[m->n] = same;
    m->n++;
}

static size_t model_len(const struct model *m)
{
    size_t n = 0;

    for (size_t i = 0; i < m->n; i++) {
        n += m->live[i];
    }
    return n;
}

/* Walks [lo, hi] both ways and compares with the model. */
static void check_range(const struct tstream *s, const struct model *m, struct tstream_id lo,
                        struct tstream_id hi)
{
    for (int rev = 0; rev < 2; rev++) {
        struct tstream_iter it;
        struct tstream_id id;
        long long nf;
        size_t k = rev ? m->n : 0;

        tstream_iter_start(&it, s, &lo, &hi, rev);
        while (tstream_iter_next(&it, &id, &nf)) {
            struct sh_slice f, v;
            char want[32];

            for (;;) {
                size_t i = rev ? --k : k++;

                assert_true(i < m->n);
                if (m->live[i] && tstream_id_cmp(&m->id[i], &lo) >= 0 &&
                    tstream_id_cmp(&m->id[i], &hi) <= 0) {
                    assert_int_equal(tstream_id_cmp(&id, &m->id[i]), 0);
                    assert_int_equal(nf, 2);
                    tstream_iter_field(&it, &f, &v);
                    assert_int_equal(f.len, m->same[i] ? 1 : 5);
                    snprintf(want, sizeof(want), "%llu", (unsigned long long)id.ms);
                    assert_int_equal(v.len, strlen(want));
                    assert_memory_equal(v.ptr, want, v.len);
                    tstream_iter_field(&it, &f, &v);
                    assert_memory_equal(f.ptr, "g", 1);
                    break;
                }
            }
        }
        /* nothing left in range in the model */
        while (rev ? k > 0 : k < m->n) {
            size_t i = rev ? --k : k++;

            assert_false(m->live[i] && tstream_id_cmp(&m->id[i], &lo) >= 0 &&
                         tstream_id_cmp(&m->id[i], &hi) <= 0);
        }
    }
}

static void test_stream_matches_model_under_random_operations(void **state)
{
    static struct model m;
    struct tstream_limits lim = { 200, 7 };
    uint64_t seed = 0x5EED5EED;
    struct kval v = { 0 };
    struct tstream *s;
    uint64_t ms = 1;

    (void)state;
    memset(&m, 0, sizeof(m));
    tstream_init(&v);
    s = tstream_of(&v);
    for (int step = 0; step < 4000 && m.n < MODEL_MAX; step++) {
        uint64_t r = rnd(&seed) % 100;

        if (r < 60) {
            ms += 1 + rnd(&seed) % 3;
            add(s, &m, (struct tstream_id){ ms, rnd(&seed) % 5 }, rnd(&seed) % 4 != 0, &lim);
        } else if (r < 85 && m.n) {
            size_t i = rnd(&seed) % m.n;

            assert_int_equal(tstream_delete(s, &m.id[i]), m.live[i]);
            m.live[i] = false;
        } else if (r < 90 && m.n) {
            long long keep = (long long)(rnd(&seed) % (model_len(&m) + 1));
            long long before = (long long)s->length;
            long long gone = tstream_trim(s, TSTREAM_TRIM_MAXLEN, keep, NULL, false, 0);

            assert_int_equal(before - gone, (long long)s->length);
            assert_true((long long)s->length <= keep || before <= keep);
            for (size_t i = 0, left = model_len(&m); i < m.n && left > (size_t)keep; i++) {
                left -= m.live[i];
                m.live[i] = false;
            }
        } else if (r < 95 && m.n) {
            struct tstream_id minid = m.id[rnd(&seed) % m.n];
            bool approx = rnd(&seed) % 2;
            long long gone = tstream_trim(s, TSTREAM_TRIM_MINID, 0, &minid, approx, 0);
            long long counted = 0;

            if (!approx) {
                for (size_t i = 0; i < m.n && tstream_id_cmp(&m.id[i], &minid) < 0; i++) {
                    counted += m.live[i];
                    m.live[i] = false;
                }
                assert_int_equal(gone, counted);
            } else {
                /* whole nodes only: the first live entries, all below minid */
                for (size_t i = 0; i < m.n && counted < gone; i++) {
                    if (m.live[i]) {
                        assert_true(tstream_id_cmp(&m.id[i], &minid) < 0);
                        m.live[i] = false;
                        counted++;
                    }
                }
            }
        }
        assert_int_equal(s->length, model_len(&m));
        if (step % 50 == 0 && m.n) {
            struct tstream_id a = m.id[rnd(&seed) % m.n], b = m.id[rnd(&seed) % m.n];

            if (tstream_id_cmp(&a, &b) > 0) {
                struct tstream_id t = a;

                a = b;
                b = t;
            }
            check_range(s, &m, a, b);
        }
    }
    check_range(s, &m, (struct tstream_id){ 0, 0 }, (struct tstream_id){ UINT64_MAX, UINT64_MAX });
    assert_true(kval_memory(&v) > 0);
    kval_clear(&v);
}

static void test_nodes_split_at_the_entry_and_byte_limits(void **state)
{
    static struct model m;
    struct tstream_limits lim = { 0, 10 };
    struct kval v = { 0 };
    struct tstream *s;

    (void)state;
    memset(&m, 0, sizeof(m));
    tstream_init(&v);
    s = tstream_of(&v);
    for (uint64_t i = 1; i <= 95; i++) {
        add(s, &m, (struct tstream_id){ i, 0 }, true, &lim);
    }
    assert_int_equal(tstream_nodes(s), 10);
    /* deleted entries still count toward the node's entries */
    assert_true(tstream_delete(s, &m.id[94]));
    add(s, &m, (struct tstream_id){ 200, 0 }, true, &lim);
    assert_int_equal(tstream_nodes(s), 10);
    kval_clear(&v);

    memset(&m, 0, sizeof(m));
    lim = (struct tstream_limits){ 100, 0 };
    tstream_init(&v);
    s = tstream_of(&v);
    for (uint64_t i = 1; i <= 40; i++) {
        add(s, &m, (struct tstream_id){ i * 1000000, 0 }, true, &lim);
    }
    assert_true(tstream_nodes(s) > 5);
    check_range(s, &m, (struct tstream_id){ 0, 0 }, (struct tstream_id){ UINT64_MAX, UINT64_MAX });
    kval_clear(&v);
}

static long long get_int(const unsigned char *p)
{
    long long x = -1;

    assert_true(lpack_get_int(p, &x));
    return x;
}

static void test_a_node_has_redis_listpack_layout(void **state)
{
    struct tstream_limits lim = { 4096, 100 };
    struct sh_slice a[2] = { { "name", 4 }, { "bob", 3 } };
    struct sh_slice b[4] = { { "name", 4 }, { "al", 2 }, { "age", 3 }, { "7", 1 } };
    struct tstream_map_pos pos;
    struct kval v = { 0 };
    const unsigned char *lp, *p;
    struct tstream *s;
    size_t n = 0;

    (void)state;
    tstream_init(&v);
    s = tstream_of(&v);
    tstream_append(s, &(struct tstream_id){ 10, 5 }, a, 1, &lim);
    tstream_append(s, &(struct tstream_id){ 12, 1 }, b, 2, &lim);
    assert_true(tstream_delete(s, &(struct tstream_id){ 10, 5 }));
    assert_true(tstream_map_seek(&s->nodes, NULL, true, &pos));
    assert_int_equal(tstream_map_key(&s->nodes, pos)->ms, 10);
    lp = tstream_map_val(&s->nodes, pos);
    /* count deleted num-fields "name" 0 | flags ms seq bob lp-count | ... */
    static const long long want_ints[] = { 1, 1, 1, -1, 0, 3, 0, 0, -1, 4, 0, 2, -1, 2 };
    p = lpack_first(lp);
    for (; n < SH_ARRAY_LEN(want_ints); n++, p = lpack_next(lp, p)) {
        if (want_ints[n] >= 0) {
            assert_int_equal(get_int(p), want_ints[n]);
        }
    }
    assert_true(lpack_eq(lpack_seek(lp, 3), "name", 4));
    assert_true(lpack_eq(lpack_seek(lp, 8), "bob", 3));
    /* the second entry: seq-diff 1 - 5, its own fields, lp-count 3 + 2 + 2 + 1 */
    assert_int_equal(get_int(lpack_seek(lp, 12)), -4);
    assert_true(lpack_eq(lpack_seek(lp, 14), "name", 4));
    assert_true(lpack_eq(lpack_seek(lp, 15), "al", 2));
    assert_true(lpack_eq(lpack_seek(lp, 16), "age", 3));
    assert_int_equal(get_int(lpack_seek(lp, 17)), 7);
    assert_int_equal(get_int(lpack_seek(lp, 18)), 8);
    assert_int_equal(lpack_count(lp), 19);
    kval_clear(&v);
}

static void test_map_matches_a_sorted_array(void **state)
{
    static uint64_t keys[20000];
    struct tstream_map m;
    struct tstream_map_pos pos;
    uint64_t seed = 42;
    size_t n = 0;

    (void)state;
    tstream_map_init(&m);
    for (int step = 0; step < 30000; step++) {
        uint64_t k = rnd(&seed) % 5000;
        struct tstream_id id = { k, k };
        size_t i = 0;

        while (i < n && keys[i] < k) {
            i++;
        }
        if (rnd(&seed) % 3) {
            bool had = i < n && keys[i] == k;

            assert_int_equal(tstream_map_put(&m, &id, (void *)(uintptr_t)(k + 1)) != NULL, had);
            if (!had) {
                memmove(keys + i + 1, keys + i, (n - i) * sizeof(keys[0]));
                keys[i] = k;
                n++;
            }
        } else {
            bool had = i < n && keys[i] == k;

            assert_int_equal(tstream_map_del(&m, &id) != NULL, had);
            if (had) {
                memmove(keys + i, keys + i + 1, (n - i - 1) * sizeof(keys[0]));
                n--;
            }
        }
        assert_int_equal(m.count, n);
        if (step % 997 == 0) {
            bool more = tstream_map_seek(&m, &(struct tstream_id){ k, 0 }, true, &pos);
            size_t j = i;

            while (more) {
                assert_int_equal(tstream_map_key(&m, pos)->ms, keys[j++]);
                more = tstream_map_next(&m, &pos);
            }
            assert_int_equal(j, n);
            more = tstream_map_seek(&m, &(struct tstream_id){ k, 0 }, false, &pos);
            j = i;
            while (more) {
                assert_int_equal(tstream_map_key(&m, pos)->ms, keys[--j]);
                more = tstream_map_prev(&m, &pos);
            }
            assert_int_equal(j, 0);
        }
    }
    tstream_map_fini(&m, NULL);
}

static void test_groups_consumers_and_pel(void **state)
{
    struct kval v = { 0 };
    struct tstream *s;
    struct tstream_group *g;
    struct tstream_consumer *a, *b;
    struct tstream_id id1 = { 1, 1 }, id2 = { 2, 2 };

    (void)state;
    tstream_init(&v);
    s = tstream_of(&v);
    g = tstream_group_create(s, "g2", 2, &id1, 5);
    assert_non_null(g);
    assert_null(tstream_group_create(s, "g2", 2, &id1, 5));
    assert_non_null(tstream_group_create(s, "g1", 2, &id1, -1));
    assert_memory_equal(s->groups[0]->name, "g1", 2);
    a = tstream_consumer_create(g, "a", 1, 100);
    b = tstream_consumer_create(g, "b", 1, 100);
    assert_null(tstream_consumer_create(g, "a", 1, 100));
    (void)tstream_pel_add(g, a, &id1, 100, 1);
    (void)tstream_pel_add(g, a, &id2, 100, 1);
    tstream_pel_move(b, &id2, tstream_map_get(&g->pel, &id2));
    assert_int_equal(a->pel.count, 1);
    assert_int_equal(b->pel.count, 1);
    assert_true(tstream_pel_ack(g, &id1));
    assert_false(tstream_pel_ack(g, &id1));
    assert_int_equal(tstream_consumer_delete(g, b), 1);
    assert_int_equal(g->pel.count, 0);
    assert_ptr_equal(tstream_consumer_find(g, "a", 1), a);
    tstream_group_destroy(s, g);
    assert_int_equal(s->ngroups, 1);
    kval_clear(&v);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_stream_matches_model_under_random_operations),
        cmocka_unit_test(test_nodes_split_at_the_entry_and_byte_limits),
        cmocka_unit_test(test_a_node_has_redis_listpack_layout),
        cmocka_unit_test(test_map_matches_a_sorted_array),
        cmocka_unit_test(test_groups_consumers_and_pel),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
