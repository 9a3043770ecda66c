/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * test_lpack.c: the listpack through its public header: the size of every
 * integer and string encoding at its limits (and of the back-length at
 * its), which strings stay strings, walking both ways and seeking, insert,
 * replace, delete and range delete, find with a skip, comparisons, the
 * saturated count, merge, random picks, scores as doubles, validate against
 * corrupted packs, and a long random sequence of operations compared with
 * an array of strings (fixed seed), with lpack_validate after every step.
 */
#include "shardis/lpack.h"
#include "shardis/util.h"

#include <errno.h>
#include <float.h>
#include <limits.h>
#include <math.h>
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

#define MODEL_MAX  400
#define VALUE_MAX  5000
#define RANDOM_CAP 200 /* entries the random sequence grows to */

/* The reference: the entries as an array of strings. */
struct model {
    size_t n;
    char *v[MODEL_MAX];
    size_t len[MODEL_MAX];
};

struct fixture {
    unsigned char *lp;
    struct model m;
    uint64_t rng;
    char buf[VALUE_MAX];
};

static int setup(void **state)
{
    struct fixture *f = calloc(1, sizeof(*f));

    f->lp = lpack_create();
    f->rng = 0x5eed;
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    struct fixture *f = *state;
    int err = lpack_validate(f->lp, lpack_bytes(f->lp));

    lpack_destroy(f->lp);
    for (size_t i = 0; i < f->m.n; i++) {
        free(f->m.v[i]);
    }
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

/* The entry at p holds s[0..len), as an integer exactly when s is the
 * canonical form of one. */
static void assert_entry(const unsigned char *p, const char *s, size_t len)
{
    char buf[LPACK_INTBUF];
    struct sh_slice v;
    long long ll;

    assert_non_null(p);
    v = lpack_get_slice(p, buf);
    assert_int_equal(v.len, len);
    if (len > 0) {
        assert_memory_equal(v.ptr, s, len);
    }
    assert_true(lpack_eq(p, s, len));
    assert_int_equal(lpack_get(p).str == NULL, util_str2ll(s, len, &ll));
}

/* The pack is sound and holds the model's entries, walked both ways. */
static void assert_pack(const unsigned char *lp, const struct model *m)
{
    const unsigned char *p = lpack_first(lp);

    assert_int_equal(lpack_validate(lp, lpack_bytes(lp)), 0);
    assert_int_equal(lpack_count(lp), m->n);
    for (size_t i = 0; i < m->n; i++) {
        assert_entry(p, m->v[i], m->len[i]);
        p = lpack_next(lp, p);
    }
    assert_null(p);
    p = lpack_last(lp);
    for (size_t i = m->n; i-- > 0;) {
        assert_entry(p, m->v[i], m->len[i]);
        p = lpack_prev(lp, p);
    }
    assert_null(p);
}

static void push(struct fixture *f, const char *s, size_t len)
{
    f->lp = lpack_append(f->lp, s, len);
    model_insert(&f->m, f->m.n, s, len);
}

static void test_a_new_pack_is_empty_and_valid(void **state)
{
    struct fixture *f = *state;

    assert_int_equal(lpack_bytes(f->lp), LPACK_EMPTY_BYTES);
    assert_int_equal(lpack_count(f->lp), 0);
    assert_null(lpack_first(f->lp));
    assert_null(lpack_last(f->lp));
    assert_null(lpack_seek(f->lp, 0));
    assert_null(lpack_seek(f->lp, -1));
    assert_null(lpack_random(f->lp, 7));
    assert_null(lpack_random_pair(f->lp, 7));
    assert_null(lpack_find(f->lp, lpack_first(f->lp), LIT("a"), 0));
    assert_int_equal(lpack_validate(f->lp, lpack_bytes(f->lp)), 0);
    f->lp = lpack_delete_range(f->lp, 0, 10);
    assert_int_equal(lpack_bytes(f->lp), LPACK_EMPTY_BYTES);
    lpack_destroy(NULL);
}

struct int_case {
    long long v;
    size_t entry_bytes; /* encoding + data + back-length */
};

static const struct int_case int_cases[] = {
    { 0, 2 },
    { 1, 2 },
    { 127, 2 },
    { 128, 3 },
    { -1, 3 },
    { 4095, 3 },
    { -4096, 3 },
    { 4096, 4 },
    { -4097, 4 },
    { INT16_MAX, 4 },
    { INT16_MIN, 4 },
    { INT16_MAX + 1, 5 },
    { INT16_MIN - 1, 5 },
    { (1 << 23) - 1, 5 },
    { -(1 << 23), 5 },
    { 1 << 23, 6 },
    { -(1 << 23) - 1, 6 },
    { INT32_MAX, 6 },
    { INT32_MIN, 6 },
    { (long long)INT32_MAX + 1, 10 },
    { (long long)INT32_MIN - 1, 10 },
    { LLONG_MAX, 10 },
    { LLONG_MIN, 10 },
};

static void test_integers_take_the_smallest_encoding_at_each_width_limit(void **state)
{
    struct fixture *f = *state;

    for (size_t i = 0; i < sizeof(int_cases) / sizeof(int_cases[0]); i++) {
        char s[LPACK_INTBUF];
        size_t n = util_ll2str(s, int_cases[i].v);
        size_t before = lpack_bytes(f->lp);
        long long got = 0;

        push(f, s, n);
        assert_int_equal(lpack_bytes(f->lp) - before, int_cases[i].entry_bytes);
        assert_null(lpack_get(lpack_last(f->lp)).str);
        assert_int_equal(lpack_get(lpack_last(f->lp)).ival, int_cases[i].v);
        assert_true(lpack_get_int(lpack_last(f->lp), &got));
        assert_int_equal(got, int_cases[i].v);

        before = lpack_bytes(f->lp);
        f->lp = lpack_append_int(f->lp, int_cases[i].v);
        model_insert(&f->m, f->m.n, s, n);
        assert_int_equal(lpack_bytes(f->lp) - before, int_cases[i].entry_bytes);
    }
    assert_pack(f->lp, &f->m);
}

struct str_case {
    size_t len;
    size_t entry_bytes;
};

/* Length prefixes of 1, 2 and 5 bytes; back-lengths of 1, 2, 3 and 4 bytes
 * (encoding + data of 127 | 128, 16382 | 16383 and 2097150 | 2097151 bytes). */
static const struct str_case str_cases[] = {
    { 0, 2 },
    { 1, 3 },
    { 63, 65 },
    { 64, 67 },
    { 125, 128 },
    { 126, 130 },
    { 4095, 4099 },
    { 4096, 4103 },
    { 16377, 16384 },
    { 16378, 16386 },
    { 70000, 70008 },
    { 2097145, 2097153 },
    { 2097146, 2097155 },
};

static void test_strings_take_6_12_or_32_bit_lengths_and_walk_back_across_them(void **state)
{
    struct fixture *f = *state;
    char *s = malloc(2097146);

    for (size_t i = 0; i < sizeof(str_cases) / sizeof(str_cases[0]); i++) {
        size_t before = lpack_bytes(f->lp);

        memset(s, 'a' + (int)i, str_cases[i].len);
        push(f, s, str_cases[i].len);
        assert_int_equal(lpack_bytes(f->lp) - before, str_cases[i].entry_bytes);
        assert_non_null(lpack_get(lpack_last(f->lp)).str);
        /* an integer between strings checks that each back-length is right */
        push(f, LIT("12345"));
    }
    assert_pack(f->lp, &f->m);
    free(s);
}

static void test_non_canonical_numbers_stay_strings(void **state)
{
    static const char *const strings[] = {
        "007",
        "-0",
        "+1",
        " 1",
        "1 ",
        "00",
        "-",
        "",
        "1.0",
        "0x10",
        "1e3",
        "9223372036854775808",
        "-9223372036854775809",
        "99999999999999999999",
    };
    struct fixture *f = *state;
    long long v;

    for (size_t i = 0; i < sizeof(strings) / sizeof(strings[0]); i++) {
        push(f, strings[i], strlen(strings[i]));
        assert_non_null(lpack_get(lpack_last(f->lp)).str);
        assert_false(lpack_get_int(lpack_last(f->lp), &v));
    }
    push(f, LIT("-9223372036854775808"));
    assert_null(lpack_get(lpack_last(f->lp)).str);
    assert_true(lpack_get_int(lpack_last(f->lp), &v));
    assert_true(v == LLONG_MIN);
    push(f, LIT("9223372036854775807"));
    assert_null(lpack_get(lpack_last(f->lp)).str);
    assert_pack(f->lp, &f->m);
}

static void fill_mixed(struct fixture *f, int n)
{
    for (int i = 0; i < n; i++) {
        int len = i % 3 == 0 ? snprintf(f->buf, sizeof(f->buf), "%d", i * 1000 - 5000)
                             : snprintf(f->buf, sizeof(f->buf), "s%0*d", i % 80, i);

        push(f, f->buf, (size_t)len);
    }
}

static void test_seek_counts_from_either_end_and_rejects_out_of_range(void **state)
{
    struct fixture *f = *state;
    const long n = 41;

    fill_mixed(f, (int)n);
    assert_pack(f->lp, &f->m);
    for (long i = 0; i < n; i++) {
        assert_entry(lpack_seek(f->lp, i), f->m.v[i], f->m.len[i]);
        assert_entry(lpack_seek(f->lp, i - n), f->m.v[i], f->m.len[i]);
    }
    assert_null(lpack_seek(f->lp, n));
    assert_null(lpack_seek(f->lp, -n - 1));
    assert_null(lpack_seek(f->lp, LONG_MAX));
    assert_null(lpack_seek(f->lp, LONG_MIN));
}

static void test_insert_places_the_entry_beside_its_neighbour_and_returns_it(void **state)
{
    struct fixture *f = *state;
    const unsigned char *p;
    const unsigned char *np = NULL;

    push(f, LIT("b"));
    push(f, LIT("d"));
    p = lpack_seek(f->lp, 1);
    f->lp = lpack_insert(f->lp, p, LPACK_BEFORE, LIT("c"), &np);
    model_insert(&f->m, 1, LIT("c"));
    assert_entry(np, LIT("c"));
    assert_ptr_equal(np, lpack_seek(f->lp, 1));
    f->lp = lpack_insert(f->lp, lpack_last(f->lp), LPACK_AFTER, LIT("100000"), &np);
    model_insert(&f->m, 3, LIT("100000"));
    assert_ptr_equal(np, lpack_last(f->lp));
    f->lp = lpack_prepend(f->lp, LIT("-7"));
    model_insert(&f->m, 0, LIT("-7"));
    f->lp = lpack_insert(f->lp, lpack_first(f->lp), LPACK_AFTER, LIT("a"), NULL);
    model_insert(&f->m, 1, LIT("a"));
    assert_pack(f->lp, &f->m);
}

static void test_replace_changes_size_and_encoding_and_returns_the_entry(void **state)
{
    static const char *const values[] = { "1", "x", "", "-4096", "hello world", "5000000000" };
    struct fixture *f = *state;
    char *big = malloc(5000);

    push(f, LIT("first"));
    push(f, LIT("mid"));
    push(f, LIT("last"));
    for (size_t i = 0; i < sizeof(values) / sizeof(values[0]); i++) {
        const unsigned char *p = lpack_seek(f->lp, 1);

        f->lp = lpack_replace(f->lp, &p, values[i], strlen(values[i]));
        assert_entry(p, values[i], strlen(values[i]));
        assert_ptr_equal(p, lpack_seek(f->lp, 1));
        free(f->m.v[1]);
        f->m.v[1] = strdup(values[i]);
        f->m.len[1] = strlen(values[i]);
        assert_pack(f->lp, &f->m);
    }
    memset(big, 'z', 5000);
    {
        const unsigned char *p = lpack_first(f->lp);

        f->lp = lpack_replace(f->lp, &p, big, 5000);
        model_delete(&f->m, 0);
        model_insert(&f->m, 0, big, 5000);
    }
    assert_pack(f->lp, &f->m);
    free(big);
}

static void test_delete_returns_the_following_entry_or_null_after_the_last(void **state)
{
    struct fixture *f = *state;
    const unsigned char *next = NULL;

    fill_mixed(f, 5);
    f->lp = lpack_delete(f->lp, lpack_seek(f->lp, 1), &next);
    model_delete(&f->m, 1);
    assert_ptr_equal(next, lpack_seek(f->lp, 1));
    f->lp = lpack_delete(f->lp, lpack_last(f->lp), &next);
    model_delete(&f->m, f->m.n - 1);
    assert_null(next);
    assert_pack(f->lp, &f->m);
    while (lpack_first(f->lp)) {
        f->lp = lpack_delete(f->lp, lpack_first(f->lp), NULL);
        model_delete(&f->m, 0);
    }
    assert_int_equal(lpack_bytes(f->lp), LPACK_EMPTY_BYTES);
    assert_pack(f->lp, &f->m);
}

static void test_delete_range_clamps_at_the_end_and_takes_negative_indexes(void **state)
{
    struct fixture *f = *state;

    fill_mixed(f, 20);
    f->lp = lpack_delete_range(f->lp, 2, 3); /* 2,3,4 */
    for (int i = 0; i < 3; i++) {
        model_delete(&f->m, 2);
    }
    assert_pack(f->lp, &f->m);
    f->lp = lpack_delete_range(f->lp, -2, 100); /* the last two */
    model_delete(&f->m, f->m.n - 1);
    model_delete(&f->m, f->m.n - 1);
    assert_pack(f->lp, &f->m);
    f->lp = lpack_delete_range(f->lp, 3, 0);
    f->lp = lpack_delete_range(f->lp, 100, 1);
    f->lp = lpack_delete_range(f->lp, -100, 1);
    assert_pack(f->lp, &f->m);
    f->lp = lpack_delete_range(f->lp, 0, SIZE_MAX);
    while (f->m.n) {
        model_delete(&f->m, 0);
    }
    assert_pack(f->lp, &f->m);
}

static void test_find_with_a_skip_compares_only_the_fields_of_pairs(void **state)
{
    struct fixture *f = *state;
    const unsigned char *p;

    /* field,value pairs where values look like other fields */
    push(f, LIT("name"));
    push(f, LIT("age"));
    push(f, LIT("age"));
    push(f, LIT("42"));
    push(f, LIT("42"));
    push(f, LIT("name"));
    p = lpack_find(f->lp, lpack_first(f->lp), LIT("age"), 1);
    assert_ptr_equal(p, lpack_seek(f->lp, 2));
    p = lpack_find(f->lp, lpack_first(f->lp), LIT("42"), 1);
    assert_ptr_equal(p, lpack_seek(f->lp, 4));
    assert_ptr_equal(lpack_find(f->lp, lpack_first(f->lp), LIT("name"), 1), lpack_first(f->lp));
    assert_null(lpack_find(f->lp, lpack_seek(f->lp, 2), LIT("name"), 1));
    /* from a value, skip 1 walks the values */
    p = lpack_find(f->lp, lpack_seek(f->lp, 1), LIT("name"), 1);
    assert_ptr_equal(p, lpack_seek(f->lp, 5));
    assert_null(lpack_find(f->lp, lpack_first(f->lp), LIT("nope"), 1));
    /* skip 0 looks at everything */
    p = lpack_find(f->lp, lpack_first(f->lp), LIT("42"), 0);
    assert_ptr_equal(p, lpack_seek(f->lp, 3));
    assert_null(lpack_find(f->lp, NULL, LIT("42"), 0));
}

static void test_find_matches_integers_by_value_and_strings_by_bytes(void **state)
{
    struct fixture *f = *state;
    const unsigned char *first;

    push(f, LIT("007"));
    push(f, LIT("7"));
    push(f, LIT(""));
    push(f, LIT("-4097"));
    first = lpack_first(f->lp);
    assert_ptr_equal(lpack_find(f->lp, first, LIT("7"), 0), lpack_seek(f->lp, 1));
    assert_ptr_equal(lpack_find(f->lp, first, LIT("007"), 0), lpack_seek(f->lp, 0));
    assert_ptr_equal(lpack_find(f->lp, first, LIT(""), 0), lpack_seek(f->lp, 2));
    assert_ptr_equal(lpack_find(f->lp, first, LIT("-4097"), 0), lpack_seek(f->lp, 3));
    assert_null(lpack_find(f->lp, first, LIT("07"), 0));
    assert_null(lpack_find(f->lp, first, LIT("7.0"), 0));
    assert_null(lpack_find(f->lp, first, LIT("-4096"), 0));
}

static void test_eq_and_cmp_order_entries_by_their_bytes(void **state)
{
    struct fixture *f = *state;
    const unsigned char *p;

    push(f, LIT("10"));
    push(f, LIT("abc"));
    push(f, LIT(""));
    p = lpack_first(f->lp);
    assert_true(lpack_cmp(p, LIT("9")) < 0); /* "10" < "9" as bytes */
    assert_true(lpack_cmp(p, LIT("1")) > 0);
    assert_int_equal(lpack_cmp(p, LIT("10")), 0);
    assert_true(lpack_eq(p, LIT("10")));
    assert_false(lpack_eq(p, LIT("010")));
    p = lpack_next(f->lp, p);
    assert_true(lpack_cmp(p, LIT("abd")) < 0);
    assert_true(lpack_cmp(p, LIT("abcd")) < 0);
    assert_true(lpack_cmp(p, LIT("ab")) > 0);
    assert_true(lpack_cmp(p, NULL, 0) > 0);
    p = lpack_next(f->lp, p);
    assert_int_equal(lpack_cmp(p, NULL, 0), 0);
    assert_true(lpack_eq(p, NULL, 0));
    assert_true(lpack_cmp(p, LIT("a")) < 0);
}

static void test_get_slice_writes_integers_into_the_callers_buffer(void **state)
{
    struct fixture *f = *state;
    char buf[LPACK_INTBUF];
    struct sh_slice s;

    f->lp = lpack_append_int(f->lp, LLONG_MIN);
    f->lp = lpack_append(f->lp, LIT("text"));
    s = lpack_get_slice(lpack_first(f->lp), buf);
    assert_ptr_equal(s.ptr, buf);
    assert_string_equal(buf, "-9223372036854775808");
    assert_int_equal(s.len, 20);
    s = lpack_get_slice(lpack_last(f->lp), buf);
    assert_true(s.ptr > (const char *)f->lp && s.ptr < (const char *)f->lp + lpack_bytes(f->lp));
    assert_int_equal(s.len, 4);
    assert_memory_equal(s.ptr, "text", 4);
}

/* A copy of lp from the project's allocator, so that lpack_merge may free it. */
static unsigned char *dup_pack(const unsigned char *lp)
{
    void *c = sh_memdup(lp, lpack_bytes(lp));

    return c;
}

static unsigned header_count(const unsigned char *lp)
{
    return (unsigned)lp[4] | (unsigned)lp[5] << 8;
}

static void test_the_count_saturates_at_65535_and_count_walks_past_it(void **state)
{
    struct fixture *f = *state;
    unsigned char *big;
    for (int i = 0; i < 1024; i++) {
        f->lp = lpack_append_int(f->lp, i % 100);
    }
    for (int i = 0; i < 5; i++) { /* 32768 entries */
        unsigned char *copy = dup_pack(f->lp);

        f->lp = lpack_merge(f->lp, copy);
    }
    assert_int_equal(lpack_count(f->lp), 32768);
    big = lpack_merge(dup_pack(f->lp), dup_pack(f->lp)); /* 65536 at once */
    assert_int_equal(header_count(big), 65535);
    assert_int_equal(lpack_count(big), 65536);
    lpack_destroy(big);
    f->lp = lpack_delete_range(f->lp, 0, 1);
    f->lp = lpack_merge(f->lp, dup_pack(f->lp));
    assert_int_equal(header_count(f->lp), 65534);
    assert_int_equal(lpack_count(f->lp), 65534);
    f->lp = lpack_append_int(f->lp, 7);
    assert_int_equal(header_count(f->lp), 65535);
    assert_int_equal(lpack_count(f->lp), 65535);
    assert_int_equal(lpack_validate(f->lp, lpack_bytes(f->lp)), 0);
    f->lp = lpack_append(f->lp, LIT("x"));
    assert_int_equal(lpack_count(f->lp), 65536);
    assert_entry(lpack_seek(f->lp, -1), LIT("x"));
    assert_entry(lpack_seek(f->lp, 65534), LIT("7"));
    assert_entry(lpack_seek(f->lp, 1022), LIT("23")); /* (1022 + 1) % 100 */
    f->lp = lpack_delete_range(f->lp, 10, 100);
    assert_int_equal(header_count(f->lp), 65535);
    assert_int_equal(lpack_count(f->lp), 65436);
    assert_int_equal(lpack_validate(f->lp, lpack_bytes(f->lp)), 0);
    f->lp = lpack_merge(f->lp, lpack_create());
    assert_int_equal(lpack_count(f->lp), 65436);
}

static void test_merge_appends_the_second_pack_to_the_first(void **state)
{
    struct fixture *f = *state;
    unsigned char *other = lpack_create();

    push(f, LIT("a"));
    push(f, LIT("-12345"));
    other = lpack_append(other, LIT("b"));
    other = lpack_append_int(other, 300);
    f->lp = lpack_merge(f->lp, other);
    model_insert(&f->m, 2, LIT("b"));
    model_insert(&f->m, 3, LIT("300"));
    assert_pack(f->lp, &f->m);
    f->lp = lpack_merge(f->lp, lpack_create());
    assert_pack(f->lp, &f->m);
    f->lp = lpack_merge(lpack_create(), f->lp);
    assert_pack(f->lp, &f->m);
}

/* A copy of the valid pack lp in a buffer of its own, to corrupt. */
static unsigned char *copy_of(const unsigned char *lp)
{
    unsigned char *c = malloc(lpack_bytes(lp));

    memcpy(c, lp, lpack_bytes(lp));
    return c;
}

static void set_total(unsigned char *buf, size_t size)
{
    buf[0] = (unsigned char)size;
    buf[1] = (unsigned char)(size >> 8);
    buf[2] = (unsigned char)(size >> 16);
    buf[3] = (unsigned char)(size >> 24);
}

static void test_validate_rejects_corrupt_packs(void **state)
{
    struct fixture *f = *state;
    size_t size, second;
    unsigned char *c;

    push(f, LIT("abc"));   /* 6-bit string: 5 bytes at offset 6 */
    push(f, LIT("-300"));  /* 13-bit int: 3 bytes at offset 11 */
    push(f, LIT("70000")); /* int24 */
    size = lpack_bytes(f->lp);
    second = LPACK_HDR_BYTES + 5;
    assert_int_equal(lpack_validate(f->lp, size), 0);
    assert_int_equal(lpack_validate(f->lp, size - 1), -EINVAL);
    assert_int_equal(lpack_validate(f->lp, 6), -EINVAL);

    c = copy_of(f->lp); /* no end byte */
    c[size - 1] = 0;
    assert_int_equal(lpack_validate(c, size), -EINVAL);
    free(c);
    c = copy_of(f->lp); /* an entry cut short by the end byte */
    c[second + 1] = 0xFF;
    set_total(c, second + 2);
    assert_int_equal(lpack_validate(c, second + 2), -EINVAL);
    free(c);
    c = copy_of(f->lp); /* unknown encoding */
    c[second] = 0xF5;
    assert_int_equal(lpack_validate(c, size), -EINVAL);
    free(c);
    c = copy_of(f->lp); /* the string's length runs past the end */
    c[LPACK_HDR_BYTES] = 0x80 | 63;
    assert_int_equal(lpack_validate(c, size), -EINVAL);
    free(c);
    c = copy_of(f->lp); /* back-length disagrees */
    c[second - 1] = 3;
    assert_int_equal(lpack_validate(c, size), -EINVAL);
    free(c);
    c = copy_of(f->lp); /* wrong count */
    c[4] = 2;
    assert_int_equal(lpack_validate(c, size), -EINVAL);
    c[4] = 0xFF; /* a saturated count is accepted (Redis keeps it after deletes) */
    c[5] = 0xFF;
    assert_int_equal(lpack_validate(c, size), 0);
    free(c);
    /* a 32-bit string's length would run past the buffer: never read */
    c = malloc(LPACK_EMPTY_BYTES + 1);
    memcpy(c, (const unsigned char[]){ 8, 0, 0, 0, 1, 0, 0xF0, 0xFF }, 8);
    assert_int_equal(lpack_validate(c, 8), -EINVAL);
    c[6] = 0xE5; /* a 12-bit one's second length byte is the end byte */
    assert_int_equal(lpack_validate(c, 8), -EINVAL);
    free(c);
    c = copy_of(f->lp); /* an end byte in the middle */
    c[second] = 0xFF;
    assert_int_equal(lpack_validate(c, size), -EINVAL);
    free(c);
}

static void test_random_picks_the_entry_at_rnd_modulo_count(void **state)
{
    struct fixture *f = *state;

    push(f, LIT("only"));
    assert_null(lpack_random_pair(f->lp, 3));
    assert_ptr_equal(lpack_random(f->lp, 12345), lpack_first(f->lp));
    fill_mixed(f, 9);
    for (uint64_t r = 0; r < 200; r++) {
        uint64_t x = rnd(&f->rng);

        assert_ptr_equal(lpack_random(f->lp, x), lpack_seek(f->lp, (long)(x % 10)));
        assert_ptr_equal(lpack_random_pair(f->lp, x), lpack_seek(f->lp, (long)(2 * (x % 5))));
    }
}

static void assert_double_round_trips(unsigned char **lp, double v)
{
    char buf[LPACK_DBLBUF];
    size_t n = lpack_fmt_double(buf, v);
    double got = 0;

    assert_true(n > 0 && n < LPACK_DBLBUF);
    assert_int_equal(strlen(buf), n);
    *lp = lpack_append_double(*lp, v);
    assert_true(lpack_get_double(lpack_last(*lp), &got));
    assert_memory_equal(&got, &v, sizeof(v)); /* bit for bit, -0 included */
    assert_true(lpack_eq(lpack_last(*lp), buf, n));
}

static void test_doubles_round_trip_exactly_in_their_shortest_form(void **state)
{
    static const double specials[] = {
        0.0,
        -0.0,
        1.0,
        -1.0,
        0.1,
        -0.5,
        1.0 / 3,
        1e300,
        -1e-300,
        DBL_MIN,
        DBL_MAX,
        5e-324,
        1e15,
        1e16,
        1e17,
        9007199254740992.0,
        -9007199254740991.0,
        9007199254740994.0,
        123.456,
        2.5e-5,
    };
    struct fixture *f = *state;
    char buf[LPACK_DBLBUF];
    double got;

    for (size_t i = 0; i < sizeof(specials) / sizeof(specials[0]); i++) {
        assert_double_round_trips(&f->lp, specials[i]);
    }
    assert_double_round_trips(&f->lp, INFINITY);
    assert_double_round_trips(&f->lp, -INFINITY);
    for (int i = 0; i < 3000; i++) {
        uint64_t bits = rnd(&f->rng);
        double v;

        memcpy(&v, &bits, sizeof(v));
        if (!isnan(v)) {
            assert_double_round_trips(&f->lp, v);
        }
        f->lp = lpack_delete_range(f->lp, 0, SIZE_MAX);
    }
    assert_int_equal(lpack_fmt_double(buf, 0.1), 3);
    assert_string_equal(buf, "0.1");
    lpack_fmt_double(buf, -0.0);
    assert_string_equal(buf, "-0");
    lpack_fmt_double(buf, -INFINITY);
    assert_string_equal(buf, "-inf");
    lpack_fmt_double(buf, 1.0 / 3);
    assert_string_equal(buf, "0.3333333333333333");
    f->lp = lpack_append_double(f->lp, 3.0); /* integral: stored as an integer */
    assert_null(lpack_get(lpack_last(f->lp)).str);
    f->lp = lpack_append_double(f->lp, -0.0);
    assert_non_null(lpack_get(lpack_last(f->lp)).str);
    f->lp = lpack_append(f->lp, LIT("abc"));
    assert_false(lpack_get_double(lpack_last(f->lp), &got));
}

/* A value for the random sequence: integers near each encoding's limits,
 * numbers that are not canonical, strings around each length limit. */
static size_t random_value(struct fixture *f)
{
    uint64_t r = rnd(&f->rng);
    uint64_t pick = r % 100;
    size_t len;

    if (pick < 35) {
        size_t c = (r >> 8) % (sizeof(int_cases) / sizeof(int_cases[0]));
        long long d = (long long)((r >> 16) % 5) - 2;
        long long v = int_cases[c].v;

        if (!((d > 0 && v > LLONG_MAX - d) || (d < 0 && v < LLONG_MIN - d))) {
            v += d;
        }
        return util_ll2str(f->buf, v);
    }
    if (pick < 45) {
        const char *sign = (r >> 8) & 1 ? "" : "-";

        return (size_t)snprintf(f->buf, VALUE_MAX, "%s0%u", sign, (unsigned)(r >> 9) % 50);
    }
    if (pick < 80) {
        len = (r >> 8) % 70;
    } else if (pick < 97) {
        len = 60 + (r >> 8) % 80;
    } else {
        len = 4090 + (r >> 8) % 10;
    }
    for (size_t i = 0; i < len; i++) {
        f->buf[i] = (char)('a' + (r >> (i % 48)) % 26);
    }
    return len;
}

/* One random change to both the pack and the model. */
static void random_step(struct fixture *f)
{
    size_t n = f->m.n;
    uint64_t r = rnd(&f->rng);
    unsigned op = (unsigned)(r % 8);
    size_t i = n ? (size_t)((r >> 8) % n) : 0;
    size_t len = random_value(f);
    const unsigned char *p = lpack_seek(f->lp, (long)i);
    const unsigned char *q = NULL;

    if (n == 0 || (n < 20 && op >= 5) || (n < RANDOM_CAP && op <= 1)) {
        bool front = op & 1;

        f->lp = front ? lpack_prepend(f->lp, f->buf, len) : lpack_append(f->lp, f->buf, len);
        model_insert(&f->m, front ? 0 : n, f->buf, len);
    } else if (op <= 3 && n < RANDOM_CAP) {
        enum lpack_where w = op == 2 ? LPACK_BEFORE : LPACK_AFTER;

        f->lp = lpack_insert(f->lp, p, w, f->buf, len, &q);
        model_insert(&f->m, i + (w == LPACK_AFTER), f->buf, len);
        assert_entry(q, f->buf, len);
    } else if (op == 4) {
        q = p;
        f->lp = lpack_replace(f->lp, &q, f->buf, len);
        model_delete(&f->m, i);
        model_insert(&f->m, i, f->buf, len);
        assert_entry(q, f->buf, len);
    } else if (op <= 6) {
        f->lp = lpack_delete(f->lp, p, &q);
        model_delete(&f->m, i);
        if (i < f->m.n) {
            assert_entry(q, f->m.v[i], f->m.len[i]);
        } else {
            assert_null(q);
        }
    } else {
        size_t num = (r >> 40) % 6;
        long idx = (r >> 39) & 1 ? (long)i : (long)i - (long)n;

        f->lp = lpack_delete_range(f->lp, idx, num);
        for (; num > 0 && i < f->m.n; num--) {
            model_delete(&f->m, i);
        }
    }
}

static void test_random_operations_match_an_array_of_strings(void **state)
{
    struct fixture *f = *state;

    for (int step = 0; step < 4000; step++) {
        size_t k;
        const unsigned char *p;

        random_step(f);
        assert_pack(f->lp, &f->m);
        if (f->m.n == 0) {
            continue;
        }
        k = (size_t)(rnd(&f->rng) % f->m.n);
        p = lpack_find(f->lp, lpack_first(f->lp), f->m.v[k], f->m.len[k], 0);
        for (size_t i = 0; i < f->m.n; i++) {
            if (f->m.len[i] == f->m.len[k] && memcmp(f->m.v[i], f->m.v[k], f->m.len[k]) == 0) {
                assert_ptr_equal(p, lpack_seek(f->lp, (long)i));
                break;
            }
        }
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_a_new_pack_is_empty_and_valid, setup, teardown),
        cmocka_unit_test_setup_teardown(
                test_integers_take_the_smallest_encoding_at_each_width_limit, setup, teardown),
        cmocka_unit_test_setup_teardown(
                test_strings_take_6_12_or_32_bit_lengths_and_walk_back_across_them, setup,
                teardown),
        cmocka_unit_test_setup_teardown(test_non_canonical_numbers_stay_strings, setup, teardown),
        cmocka_unit_test_setup_teardown(test_seek_counts_from_either_end_and_rejects_out_of_range,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(
                test_insert_places_the_entry_beside_its_neighbour_and_returns_it, setup, teardown),
        cmocka_unit_test_setup_teardown(
                test_replace_changes_size_and_encoding_and_returns_the_entry, setup, teardown),
        cmocka_unit_test_setup_teardown(
                test_delete_returns_the_following_entry_or_null_after_the_last, setup, teardown),
        cmocka_unit_test_setup_teardown(
                test_delete_range_clamps_at_the_end_and_takes_negative_indexes, setup, teardown),
        cmocka_unit_test_setup_teardown(test_find_with_a_skip_compares_only_the_fields_of_pairs,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(test_find_matches_integers_by_value_and_strings_by_bytes,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(test_eq_and_cmp_order_entries_by_their_bytes, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_get_slice_writes_integers_into_the_callers_buffer,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(test_the_count_saturates_at_65535_and_count_walks_past_it,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(test_merge_appends_the_second_pack_to_the_first, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_validate_rejects_corrupt_packs, setup, teardown),
        cmocka_unit_test_setup_teardown(test_random_picks_the_entry_at_rnd_modulo_count, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_doubles_round_trip_exactly_in_their_shortest_form,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(test_random_operations_match_an_array_of_strings, setup,
                                        teardown),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
