/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * test_tlist.c: the list type through its public header: the listpack
 * encoding of small lists and its conversion to a quicklist at the exact
 * threshold (entries for a positive list-max-listpack-size, bytes for a
 * negative one, 8 KB for a positive one too, 0 counting as 1, an element
 * larger than the cap) and back at half of it; pushes and pops at both ends
 * with the pop callback's order; indexes, LSET, LINSERT, LREM and LTRIM at
 * the edges in both encodings; iteration both ways from any index;
 * dump/restore round trips and corrupt dumps; and long random sequences
 * under several fills compared with an array of strings (fixed seeds).
 */
#include "shardis/kval.h"
#include "shardis/lpack.h"
#include "shardis/tlist.h"
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

#define MODEL_MAX 4000
#define VALUE_MAX 12000

/* The reference: the elements as an array of strings. */
struct model {
    size_t n;
    char *v[MODEL_MAX];
    size_t len[MODEL_MAX];
};

struct fixture {
    struct kval v;
    struct kval_limits lim;
    struct model m;
    uint64_t rng;
    char buf[VALUE_MAX];
    /* what the pop callback saw */
    size_t seen;
    char *seen_v[MODEL_MAX];
    size_t seen_len[MODEL_MAX];
};

static int setup(void **state)
{
    struct fixture *f = calloc(1, sizeof(*f));

    f->rng = 0x5EED1157;
    f->lim.list_max_listpack_size = -2;
    *state = f;
    return 0;
}

static void model_clear(struct model *m)
{
    for (size_t i = 0; i < m->n; i++) {
        free(m->v[i]);
    }
    m->n = 0;
}

static void seen_clear(struct fixture *f)
{
    for (size_t i = 0; i < f->seen; i++) {
        free(f->seen_v[i]);
    }
    f->seen = 0;
}

static int teardown(void **state)
{
    struct fixture *f = *state;

    kval_clear(&f->v);
    model_clear(&f->m);
    seen_clear(f);
    free(f);
    return 0;
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

static bool model_eq(const struct model *m, size_t i, const char *s, size_t len)
{
    return m->len[i] == len && memcmp(m->v[i], s, len) == 0;
}

/* Whether a listpack of the model's elements fits the cap of fill: the
 * byte count comes from a real pack, as the list's own would be. */
static bool model_fits(const struct model *m, long long fill)
{
    unsigned char *lp = lpack_create();
    size_t max_bytes = 8192, max_count = fill == 0 ? 1 : (size_t)fill;
    bool fits;

    if (fill < -5) {
        fill = -5;
    }
    if (fill < 0) {
        max_bytes = (size_t)4096 << (-fill - 1);
        max_count = SIZE_MAX;
    }
    for (size_t i = 0; i < m->n; i++) {
        lp = lpack_append(lp, m->v[i], m->len[i]);
    }
    fits = lpack_bytes(lp) <= max_bytes && m->n <= max_count;
    lpack_destroy(lp);
    return fits;
}

static bool slice_is(struct sh_slice s, const char *p, size_t len)
{
    return s.len == len && memcmp(s.ptr, p, len) == 0;
}

/* The list holds the model's elements, walked both ways, and a few
 * indexes from each end agree; a listpack respects the cap. */
static void assert_list(struct fixture *f)
{
    size_t n = f->m.n;
    struct tlist_iter it;
    char buf[TLIST_BUF];
    struct sh_slice s;

    assert_int_equal(f->v.type, KVAL_LIST);
    assert_int_equal(tlist_len(&f->v), n);
    tlist_iter_init(&it, &f->v, 0, false);
    for (size_t i = 0; i < n; i++) {
        assert_true(tlist_iter_next(&it, &s));
        assert_true(slice_is(s, f->m.v[i], f->m.len[i]));
    }
    assert_false(tlist_iter_next(&it, &s));
    tlist_iter_init(&it, &f->v, n - 1, true);
    for (size_t i = n; i-- > 0;) {
        assert_true(tlist_iter_next(&it, &s));
        assert_true(slice_is(s, f->m.v[i], f->m.len[i]));
    }
    assert_false(tlist_iter_next(&it, &s));
    for (int k = 0; k < 4 && n > 0; k++) {
        size_t i = (size_t)(rnd(&f->rng) % n);

        assert_true(tlist_index(&f->v, (long long)i, buf, &s));
        assert_true(slice_is(s, f->m.v[i], f->m.len[i]));
        assert_true(tlist_index(&f->v, (long long)i - (long long)n, buf, &s));
        assert_true(slice_is(s, f->m.v[i], f->m.len[i]));
    }
    assert_false(tlist_index(&f->v, (long long)n, buf, &s));
    assert_false(tlist_index(&f->v, -(long long)n - 1, buf, &s));
    if (tlist_is_compact(&f->v)) {
        assert_true(model_fits(&f->m, f->lim.list_max_listpack_size));
    }
    assert_true(tlist_memory(&f->v) > 0);
}

static void push(struct fixture *f, enum tlist_end end, const char *s, size_t len)
{
    tlist_push(&f->v, end, s, len, &f->lim);
    model_insert(&f->m, end == TLIST_HEAD ? 0 : f->m.n, s, len);
}

/* Pushes n elements "<i>" (integers) or "e<i>" at the tail. */
static void push_n(struct fixture *f, int n, bool ints)
{
    for (int i = 0; i < n; i++) {
        int len = snprintf(f->buf, sizeof(f->buf), ints ? "%d" : "e%d", i);

        push(f, TLIST_TAIL, f->buf, (size_t)len);
    }
}

/* A value of len bytes, all c. */
static const char *fill_buf(struct fixture *f, char c, size_t len)
{
    memset(f->buf, c, len);
    return f->buf;
}

static void record(void *arg, struct sh_slice s)
{
    struct fixture *f = arg;

    assert_true(f->seen < MODEL_MAX);
    f->seen_v[f->seen] = malloc(s.len + 1);
    memcpy(f->seen_v[f->seen], s.ptr, s.len);
    f->seen_len[f->seen++] = s.len;
}

/* Pops n from end through the callback, checking the elements against the
 * model (and removing them from it). */
static void pop_check(struct fixture *f, enum tlist_end end, size_t n)
{
    size_t want = n < f->m.n ? n : f->m.n;

    seen_clear(f);
    assert_int_equal(tlist_pop(&f->v, end, n, record, f, &f->lim), want);
    assert_int_equal(f->seen, want);
    for (size_t k = 0; k < want; k++) {
        size_t i = end == TLIST_HEAD ? 0 : f->m.n - 1;

        assert_true(model_eq(&f->m, i, f->seen_v[k], f->seen_len[k]));
        model_delete(&f->m, i);
    }
}

/* ---- encodings and conversion ---- */

static void test_a_push_onto_none_makes_a_one_element_listpack(void **state)
{
    struct fixture *f = *state;

    push(f, TLIST_HEAD, LIT("x"));
    assert_int_equal(f->v.type, KVAL_LIST);
    assert_int_equal(f->v.enc, KVAL_ENC_LISTPACK);
    assert_true(tlist_is_compact(&f->v));
    assert_int_equal(tlist_len(&f->v), 1);
    assert_true(tlist_memory(&f->v) >= LPACK_EMPTY_BYTES);
    assert_list(f);
    kval_clear(&f->v);
    assert_int_equal(f->v.type, KVAL_NONE);
}

static void test_a_positive_fill_converts_past_that_many_elements(void **state)
{
    struct fixture *f = *state;

    f->lim.list_max_listpack_size = 4;
    push_n(f, 4, false);
    assert_true(tlist_is_compact(&f->v));
    push(f, TLIST_HEAD, LIT("five"));
    assert_false(tlist_is_compact(&f->v));
    assert_int_equal(f->v.enc, KVAL_ENC_QUICKLIST);
    assert_list(f);
    /* back only at half the cap: 3 stays a quicklist, 2 is a listpack */
    pop_check(f, TLIST_TAIL, 2);
    assert_false(tlist_is_compact(&f->v));
    pop_check(f, TLIST_HEAD, 1);
    assert_true(tlist_is_compact(&f->v));
    assert_list(f);
}

static void test_a_negative_fill_converts_at_the_exact_byte_cap(void **state)
{
    struct fixture *f = *state;
    long long fills[] = { -1, -2, -5 };

    for (size_t k = 0; k < sizeof(fills) / sizeof(fills[0]); k++) {
        size_t cap = (size_t)4096 << (-fills[k] - 1);
        /* a pack of the same elements, as the list's own would be */
        unsigned char *ref = lpack_create();

        kval_clear(&f->v);
        model_clear(&f->m);
        f->lim.list_max_listpack_size = fills[k];
        for (int i = 0; i < 2000 && (f->m.n == 0 || tlist_is_compact(&f->v)); i++) {
            const char *s = fill_buf(f, (char)('a' + i % 26), 97);

            push(f, i % 2 ? TLIST_HEAD : TLIST_TAIL, s, 97);
            ref = i % 2 ? lpack_prepend(ref, s, 97) : lpack_append(ref, s, 97);
            assert_int_equal(tlist_is_compact(&f->v), lpack_bytes(ref) <= cap);
        }
        assert_false(tlist_is_compact(&f->v));
        assert_true(lpack_bytes(ref) > cap && lpack_bytes(ref) < cap + 100);
        lpack_destroy(ref);
        assert_list(f);
    }
}

static void test_a_positive_fill_also_caps_the_listpack_at_8_kb(void **state)
{
    struct fixture *f = *state;

    f->lim.list_max_listpack_size = 1000;
    for (int i = 0; i < 9; i++) {
        push(f, TLIST_TAIL, fill_buf(f, 'q', 1000), 1000);
        assert_int_equal(tlist_is_compact(&f->v), model_fits(&f->m, 1000));
    }
    assert_false(tlist_is_compact(&f->v));
    assert_list(f);
}

static void test_an_element_larger_than_the_cap_makes_a_quicklist(void **state)
{
    struct fixture *f = *state;

    f->lim.list_max_listpack_size = -1;
    push(f, TLIST_TAIL, fill_buf(f, 'z', 5000), 5000);
    assert_false(tlist_is_compact(&f->v));
    assert_list(f);
    /* no way back while it holds it */
    push(f, TLIST_TAIL, LIT("small"));
    pop_check(f, TLIST_TAIL, 1);
    assert_false(tlist_is_compact(&f->v));
    pop_check(f, TLIST_HEAD, 1);
    assert_int_equal(tlist_len(&f->v), 0);
}

static void test_fill_zero_counts_as_one_and_fills_are_clamped(void **state)
{
    struct fixture *f = *state;

    f->lim.list_max_listpack_size = 0;
    push(f, TLIST_TAIL, LIT("a"));
    assert_true(tlist_is_compact(&f->v));
    push(f, TLIST_TAIL, LIT("b"));
    assert_false(tlist_is_compact(&f->v));
    assert_list(f);
    kval_clear(&f->v);
    model_clear(&f->m);
    /* -100 is clamped to -5 (64 KB), LLONG_MAX to 32768 entries */
    f->lim.list_max_listpack_size = -100;
    push(f, TLIST_TAIL, fill_buf(f, 'x', 10000), 10000);
    assert_true(tlist_is_compact(&f->v));
    kval_clear(&f->v);
    model_clear(&f->m);
    f->lim.list_max_listpack_size = LLONG_MAX;
    push_n(f, 500, true);
    assert_true(tlist_is_compact(&f->v));
    assert_list(f);
}

static void test_a_quicklist_shrinks_back_only_at_half_the_bytes(void **state)
{
    struct fixture *f = *state;

    f->lim.list_max_listpack_size = -1; /* 4096 */
    while (f->m.n == 0 || tlist_is_compact(&f->v)) {
        push(f, TLIST_TAIL, fill_buf(f, 'k', 100), 100);
    }
    /* one pop at the threshold does not convert back */
    pop_check(f, TLIST_TAIL, 1);
    assert_false(tlist_is_compact(&f->v));
    while (!tlist_is_compact(&f->v)) {
        pop_check(f, TLIST_HEAD, 1);
        assert_true(f->m.n > 0);
    }
    /* about 2 KB of elements are left, with the qlist's own overhead */
    assert_true(f->m.n * 100 < 2048);
    assert_true(f->m.n * 100 > 1500);
    assert_list(f);
}

/* ---- pushes and pops ---- */

static void test_pops_hand_out_elements_in_pop_order_from_each_end(void **state)
{
    struct fixture *f = *state;
    long long fills[] = { -2, 3 };

    for (size_t k = 0; k < 2; k++) {
        kval_clear(&f->v);
        model_clear(&f->m);
        f->lim.list_max_listpack_size = fills[k];
        push_n(f, 10, k == 0);
        push(f, TLIST_HEAD, LIT("h"));
        pop_check(f, TLIST_HEAD, 3);
        pop_check(f, TLIST_TAIL, 3);
        assert_int_equal(tlist_pop(&f->v, TLIST_TAIL, 0, record, f, &f->lim), 0);
        assert_list(f);
        /* more than there are: all of them, and the list is left empty */
        pop_check(f, TLIST_TAIL, 100);
        assert_int_equal(tlist_len(&f->v), 0);
        assert_int_equal(tlist_pop(&f->v, TLIST_HEAD, 1, record, f, &f->lim), 0);
    }
}

static void test_a_pop_without_callback_just_deletes(void **state)
{
    struct fixture *f = *state;

    f->lim.list_max_listpack_size = 2;
    push_n(f, 7, false);
    assert_int_equal(tlist_pop(&f->v, TLIST_HEAD, 2, NULL, NULL, &f->lim), 2);
    model_delete(&f->m, 0);
    model_delete(&f->m, 0);
    assert_list(f);
}

static void test_integers_come_back_as_their_decimal_bytes(void **state)
{
    struct fixture *f = *state;

    push(f, TLIST_TAIL, LIT("-9223372036854775808"));
    push(f, TLIST_TAIL, LIT("007"));
    push(f, TLIST_TAIL, LIT("12"));
    push(f, TLIST_TAIL, LIT("-0"));
    assert_list(f);
    f->lim.list_max_listpack_size = 1;
    push(f, TLIST_TAIL, LIT("9223372036854775807"));
    assert_false(tlist_is_compact(&f->v));
    assert_list(f);
}

/* ---- in place ---- */

static void test_index_and_set_reach_both_ends_and_miss_outside(void **state)
{
    struct fixture *f = *state;
    char buf[TLIST_BUF];
    struct sh_slice s;

    for (long long fill = -2; fill <= 2; fill += 4) {
        kval_clear(&f->v);
        model_clear(&f->m);
        f->lim.list_max_listpack_size = fill;
        push_n(f, 5, false);
        assert_true(tlist_index(&f->v, 0, buf, &s) && slice_is(s, LIT("e0")));
        assert_true(tlist_index(&f->v, -1, buf, &s) && slice_is(s, LIT("e4")));
        assert_true(tlist_index(&f->v, -5, buf, &s) && slice_is(s, LIT("e0")));
        assert_false(tlist_index(&f->v, LLONG_MIN, buf, &s));
        assert_false(tlist_index(&f->v, LLONG_MAX, buf, &s));
        assert_true(tlist_set(&f->v, -1, LIT("last"), &f->lim));
        assert_true(tlist_set(&f->v, 0, LIT("42"), &f->lim));
        assert_false(tlist_set(&f->v, 5, LIT("x"), &f->lim));
        assert_false(tlist_set(&f->v, -6, LIT("x"), &f->lim));
        free(f->m.v[4]);
        f->m.v[4] = strdup("last");
        f->m.len[4] = 4;
        free(f->m.v[0]);
        f->m.v[0] = strdup("42");
        f->m.len[0] = 2;
        assert_list(f);
    }
}

static void test_a_set_that_outgrows_the_cap_converts(void **state)
{
    struct fixture *f = *state;

    f->lim.list_max_listpack_size = -1;
    push_n(f, 3, false);
    assert_true(tlist_set(&f->v, 1, fill_buf(f, 'w', 4200), 4200, &f->lim));
    assert_false(tlist_is_compact(&f->v));
    /* the big element took a node of its own: nothing converts back
     * while the list spans nodes */
    assert_true(tlist_set(&f->v, 1, LIT("tiny"), &f->lim));
    free(f->m.v[1]);
    f->m.v[1] = strdup("tiny");
    f->m.len[1] = 4;
    assert_list(f);
}

static void test_insert_goes_beside_the_first_pivot_from_the_head(void **state)
{
    struct fixture *f = *state;

    for (long long fill = -2; fill <= 2; fill += 4) {
        kval_clear(&f->v);
        model_clear(&f->m);
        f->lim.list_max_listpack_size = fill;
        push(f, TLIST_TAIL, LIT("p"));
        push(f, TLIST_TAIL, LIT("m"));
        push(f, TLIST_TAIL, LIT("p"));
        assert_true(tlist_insert(&f->v, LPACK_BEFORE, LIT("p"), LIT("b"), &f->lim));
        model_insert(&f->m, 0, LIT("b"));
        assert_true(tlist_insert(&f->v, LPACK_AFTER, LIT("p"), LIT("a"), &f->lim));
        model_insert(&f->m, 2, LIT("a"));
        assert_true(tlist_insert(&f->v, LPACK_AFTER, LIT("m"), LIT("7"), &f->lim));
        model_insert(&f->m, 4, LIT("7"));
        assert_false(tlist_insert(&f->v, LPACK_AFTER, LIT("nope"), LIT("x"), &f->lim));
        assert_list(f);
    }
}

static void test_an_insert_past_the_cap_converts(void **state)
{
    struct fixture *f = *state;

    f->lim.list_max_listpack_size = 3;
    push_n(f, 3, true);
    assert_true(tlist_insert(&f->v, LPACK_AFTER, LIT("2"), LIT("3"), &f->lim));
    model_insert(&f->m, 3, LIT("3"));
    assert_false(tlist_is_compact(&f->v));
    assert_list(f);
}

/* Checks tlist_remove against the model's own LREM. */
static void remove_check(struct fixture *f, long long count, const char *s, size_t len)
{
    size_t want = 0, limit = count < 0 ? (size_t)-count : (size_t)count;

    if (count >= 0) {
        for (size_t i = 0; i < f->m.n && (limit == 0 || want < limit);) {
            if (model_eq(&f->m, i, s, len)) {
                model_delete(&f->m, i);
                want++;
            } else {
                i++;
            }
        }
    } else {
        for (size_t i = f->m.n; i-- > 0 && want < limit;) {
            if (model_eq(&f->m, i, s, len)) {
                model_delete(&f->m, i);
                want++;
            }
        }
    }
    assert_int_equal(tlist_remove(&f->v, count, s, len, &f->lim), want);
}

static void test_remove_counts_from_either_end_or_takes_all(void **state)
{
    struct fixture *f = *state;
    static const char *const vals[] = { "x", "1", "x", "y", "x", "1", "x" };

    for (long long fill = -2; fill <= 2; fill += 4) {
        kval_clear(&f->v);
        model_clear(&f->m);
        f->lim.list_max_listpack_size = fill;
        for (int r = 0; r < 3; r++) {
            for (size_t i = 0; i < 7; i++) {
                push(f, TLIST_TAIL, vals[i], strlen(vals[i]));
            }
        }
        remove_check(f, 2, LIT("x"));
        remove_check(f, -3, LIT("x"));
        remove_check(f, -1, LIT("1"));
        remove_check(f, 1, LIT("nope"));
        assert_list(f);
        remove_check(f, 0, LIT("x"));
        remove_check(f, 0, LIT("1"));
        assert_list(f);
        remove_check(f, 0, LIT("y"));
        assert_int_equal(tlist_len(&f->v), 0);
    }
}

static void test_trim_cuts_both_ends_and_clamps(void **state)
{
    struct fixture *f = *state;

    for (long long fill = -2; fill <= 2; fill += 4) {
        kval_clear(&f->v);
        model_clear(&f->m);
        f->lim.list_max_listpack_size = fill;
        push_n(f, 10, false);
        tlist_trim(&f->v, 2, 3, &f->lim);
        model_delete(&f->m, 0);
        model_delete(&f->m, 0);
        for (int k = 0; k < 3; k++) {
            model_delete(&f->m, f->m.n - 1);
        }
        assert_list(f);
        tlist_trim(&f->v, 0, 0, &f->lim);
        assert_list(f);
        tlist_trim(&f->v, 4, 100, &f->lim);
        model_delete(&f->m, 0);
        model_delete(&f->m, 0);
        model_delete(&f->m, 0);
        model_delete(&f->m, 0);
        model_delete(&f->m, 0);
        assert_int_equal(tlist_len(&f->v), 0);
        assert_int_equal(f->m.n, 0);
    }
}

static void test_iteration_starts_anywhere_and_stops_at_the_end(void **state)
{
    struct fixture *f = *state;
    struct tlist_iter it;
    struct sh_slice s;

    for (long long fill = -2; fill <= 2; fill += 4) {
        kval_clear(&f->v);
        model_clear(&f->m);
        f->lim.list_max_listpack_size = fill;
        push_n(f, 6, false);
        tlist_iter_init(&it, &f->v, 3, false);
        assert_true(tlist_iter_next(&it, &s) && slice_is(s, LIT("e3")));
        assert_true(tlist_iter_next(&it, &s) && slice_is(s, LIT("e4")));
        assert_true(tlist_iter_next(&it, &s) && slice_is(s, LIT("e5")));
        assert_false(tlist_iter_next(&it, &s));
        tlist_iter_init(&it, &f->v, 1, true);
        assert_true(tlist_iter_next(&it, &s) && slice_is(s, LIT("e1")));
        assert_true(tlist_iter_next(&it, &s) && slice_is(s, LIT("e0")));
        assert_false(tlist_iter_next(&it, &s));
        tlist_iter_init(&it, &f->v, 6, false);
        assert_false(tlist_iter_next(&it, &s));
        tlist_iter_init(&it, &f->v, SIZE_MAX, true);
        assert_false(tlist_iter_next(&it, &s));
    }
}

/* ---- dump / restore ---- */

static void test_dump_and_restore_round_trip_and_pick_the_encoding(void **state)
{
    struct fixture *f = *state;
    struct kval copy = { 0 };
    struct kval_limits small = { .list_max_listpack_size = 2 };
    size_t len;
    char *d;

    push_n(f, 50, false);
    push(f, TLIST_HEAD, LIT("-17"));
    push(f, TLIST_TAIL, LIT(""));
    d = tlist_dump(&f->v, &len);
    assert_int_equal(tlist_restore(&copy, d, len, &f->lim), 0);
    assert_true(tlist_is_compact(&copy));
    kval_clear(&f->v);
    f->v = copy;
    assert_list(f);
    memset(&copy, 0, sizeof(copy));
    assert_int_equal(tlist_restore(&copy, d, len, &small), 0);
    assert_false(tlist_is_compact(&copy));
    kval_clear(&f->v);
    f->v = copy;
    f->lim = small;
    assert_list(f);
    sh_free(d);
}

static void test_restore_refuses_corrupt_or_empty_dumps(void **state)
{
    struct fixture *f = *state;
    struct kval copy = { 0 };
    struct kval_dump kd;
    size_t len;
    char *d, *longer;

    kval_dump_init(&kd);
    d = kval_dump_finish(&kd, &len);
    assert_int_equal(tlist_restore(&copy, d, len, &f->lim), -EINVAL);
    assert_int_equal(tlist_restore(&copy, d, 2, &f->lim), -EINVAL);
    sh_free(d);
    push_n(f, 20, false);
    d = tlist_dump(&f->v, &len);
    assert_int_equal(tlist_restore(&copy, d, len - 1, &f->lim), -EINVAL);
    assert_int_equal(copy.type, KVAL_NONE);
    longer = malloc(len + 1);
    memcpy(longer, d, len);
    longer[len] = 'x';
    assert_int_equal(tlist_restore(&copy, longer, len + 1, &f->lim), -EINVAL);
    assert_int_equal(copy.type, KVAL_NONE);
    free(longer);
    sh_free(d);
}

/* ---- random sequences ---- */

/* A random element: a small integer, a short string, or (rarely) a long
 * one that passes a node's cap. */
static size_t random_value(struct fixture *f)
{
    uint64_t r = rnd(&f->rng);

    switch (r % 8) {
    case 0:
    case 1:
    case 2:
        return (size_t)snprintf(f->buf, sizeof(f->buf), "%d", (int)(r >> 8) % 20 - 5);
    case 7:
        if ((r >> 8) % 16 == 0) {
            return (size_t)snprintf(f->buf, sizeof(f->buf), "%0*d", 5000, 1);
        }
        return (size_t)snprintf(f->buf, sizeof(f->buf), "long-%0*d", (int)(r >> 8) % 300, 7);
    default:
        return (size_t)snprintf(f->buf, sizeof(f->buf), "v%d", (int)(r >> 8) % 12);
    }
}

/* Inserts f->buf[0..len) beside the first element equal to the model's
 * element idx, in the list and the model. */
static void insert_check(struct fixture *f, size_t idx, enum lpack_where where, size_t len)
{
    char pivot[VALUE_MAX];
    size_t plen = f->m.len[idx], at = 0;

    memcpy(pivot, f->m.v[idx], plen);
    while (!model_eq(&f->m, at, pivot, plen)) {
        at++;
    }
    assert_true(tlist_insert(&f->v, where, pivot, plen, f->buf, len, &f->lim));
    model_insert(&f->m, at + (where == LPACK_AFTER ? 1 : 0), f->buf, len);
}

static void trim_check(struct fixture *f, size_t head, size_t tail)
{
    tlist_trim(&f->v, head, tail, &f->lim);
    for (size_t k = 0; k < head && f->m.n; k++) {
        model_delete(&f->m, 0);
    }
    for (size_t k = 0; k < tail && f->m.n; k++) {
        model_delete(&f->m, f->m.n - 1);
    }
}

/* One random operation, applied to the list and the model; while
 * shrinking, the pushes become pops, so that lists pass the threshold both
 * ways again and again. */
static void random_op(struct fixture *f, bool shrinking)
{
    uint64_t r = rnd(&f->rng);
    size_t len = random_value(f), n = f->m.n;
    size_t idx = n ? (size_t)(r >> 16) % n : 0;
    enum tlist_end end = r & 256 ? TLIST_HEAD : TLIST_TAIL;

    if (n == 0) {
        /* an emptied key is gone: only a push makes a list again */
        push(f, end, f->buf, len);
        return;
    }
    switch (r % 10) {
    case 0:
    case 1:
    case 2:
        if (shrinking) {
            pop_check(f, end, (size_t)(r >> 20) % 4);
        } else {
            push(f, end, f->buf, len);
        }
        break;
    case 3:
    case 4:
        pop_check(f, end, (size_t)(r >> 20) % 4);
        break;
    case 5:
        assert_true(tlist_set(&f->v, (long long)idx, f->buf, len, &f->lim));
        model_delete(&f->m, idx);
        model_insert(&f->m, idx, f->buf, len);
        break;
    case 6:
        remove_check(f, (long long)(r >> 20) % 5 - 2, f->buf, len);
        break;
    case 7:
        insert_check(f, idx, r & 512 ? LPACK_AFTER : LPACK_BEFORE, len);
        break;
    default:
        if (r % 50 == 8) {
            trim_check(f, (size_t)(r >> 20) % 3, (size_t)(r >> 24) % 3);
        } else {
            push(f, TLIST_TAIL, f->buf, len);
        }
        break;
    }
}

static void test_random_operations_match_an_array_of_strings(void **state)
{
    struct fixture *f = *state;
    static const long long fills[] = { -2, -1, 4, 1, 128 };

    for (size_t k = 0; k < sizeof(fills) / sizeof(fills[0]); k++) {
        int to_quicklist = 0, to_listpack = 0;

        kval_clear(&f->v);
        model_clear(&f->m);
        f->lim.list_max_listpack_size = fills[k];
        f->rng = 1000 + k;
        for (int step = 0; step < 3000; step++) {
            bool was = f->m.n > 0 && tlist_is_compact(&f->v);

            random_op(f, (step / 300) % 2 == 1);
            if (f->m.n == 0) {
                /* the command layer deletes an emptied key */
                kval_clear(&f->v);
                continue;
            }
            to_quicklist += was && !tlist_is_compact(&f->v);
            to_listpack += !was && tlist_is_compact(&f->v) && f->m.n > 1;
            if (tlist_is_compact(&f->v) && step % 7 == 0) {
                assert_true(model_fits(&f->m, fills[k]));
            }
            if (step % 100 == 0) {
                assert_list(f);
            }
            assert_int_equal(tlist_len(&f->v), f->m.n);
        }
        print_message("fill %lld: %d to quicklist, %d back\n", fills[k], to_quicklist, to_listpack);
        assert_true(to_quicklist >= 2);
        assert_true(fills[k] == 1 || to_listpack >= 2);
        if (f->m.n) {
            assert_list(f);
        }
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_a_push_onto_none_makes_a_one_element_listpack, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_a_positive_fill_converts_past_that_many_elements,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(test_a_negative_fill_converts_at_the_exact_byte_cap, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_a_positive_fill_also_caps_the_listpack_at_8_kb, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_an_element_larger_than_the_cap_makes_a_quicklist,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(test_fill_zero_counts_as_one_and_fills_are_clamped, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_a_quicklist_shrinks_back_only_at_half_the_bytes, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_pops_hand_out_elements_in_pop_order_from_each_end,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(test_a_pop_without_callback_just_deletes, setup, teardown),
        cmocka_unit_test_setup_teardown(test_integers_come_back_as_their_decimal_bytes, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_index_and_set_reach_both_ends_and_miss_outside, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_a_set_that_outgrows_the_cap_converts, setup, teardown),
        cmocka_unit_test_setup_teardown(test_insert_goes_beside_the_first_pivot_from_the_head,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(test_an_insert_past_the_cap_converts, setup, teardown),
        cmocka_unit_test_setup_teardown(test_remove_counts_from_either_end_or_takes_all, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_trim_cuts_both_ends_and_clamps, setup, teardown),
        cmocka_unit_test_setup_teardown(test_iteration_starts_anywhere_and_stops_at_the_end, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_dump_and_restore_round_trip_and_pick_the_encoding,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(test_restore_refuses_corrupt_or_empty_dumps, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_random_operations_match_an_array_of_strings, setup,
                                        teardown),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
