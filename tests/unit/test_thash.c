/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * test_thash.c: the hash type through its public header: set/get/exists/
 * delete in both encodings, the conversion to a hashtable at the exact
 * thresholds (entries, field length, value length) and never back, integer
 * and empty fields and values, iteration, random fields (single, distinct
 * counts on every path, repetitions), HSCAN steps (a listpack whole, a
 * hashtable by cursor, across growth and shrinking), dump/restore round
 * trips and corrupt dumps, memory counted as the allocator counts it (with a
 * printout of bytes per field for the memory benchmark), and randomized
 * operation sequences (fixed seeds) checked against a simple model under
 * three sets of limits: listpack only, converting, hashtable from the start.
 */
#include "shardis/thash.h"

#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#define POOL    300 /* field names of the randomized runs */
#define VAL_MAX 100 /* longest value of the randomized runs */

struct fixture {
    struct kval v;
    struct kval_limits lim;
    uint64_t rnd;
};

static int setup(void **state)
{
    struct fixture *f = calloc(1, sizeof(*f));

    f->lim.hash_max_listpack_entries = 128;
    f->lim.hash_max_listpack_value = 64;
    f->rnd = 0x7a5e11;
    thash_init(&f->v);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    struct fixture *f = *state;

    kval_clear(&f->v);
    free(f);
    return 0;
}

static uint64_t rng(uint64_t *s)
{
    uint64_t z = (*s += 0x9E3779B97F4A7C15ULL);

    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
    return z ^ (z >> 31);
}

static int set_str(struct fixture *f, const char *field, const char *val)
{
    return thash_set(&f->v, field, strlen(field), val, strlen(val), &f->lim, &f->rnd);
}

/* Sets "f<i>" to "<prefix><i>". */
static int set_num(struct fixture *f, int i, char prefix)
{
    char field[32], val[32];

    snprintf(field, sizeof(field), "f%d", i);
    snprintf(val, sizeof(val), "%c%d", prefix, i);
    return set_str(f, field, val);
}

/* The value of field as a NUL-terminated string in out, or NULL. */
static const char *get_str(struct fixture *f, const char *field, char *out, size_t cap)
{
    char buf[THASH_BUF];
    struct sh_slice val;

    if (!thash_get(&f->v, field, strlen(field), buf, &val)) {
        return NULL;
    }
    assert_true(val.len < cap);
    memcpy(out, val.ptr, val.len);
    out[val.len] = '\0';
    return out;
}

static void fill(struct fixture *f, int n)
{
    for (int i = 0; i < n; i++) {
        assert_int_equal(set_num(f, i, 'v'), 1);
    }
}

/* ---- basic operations ---- */

static void test_new_hash_is_an_empty_listpack(void **state)
{
    struct fixture *f = *state;

    assert_int_equal(f->v.type, KVAL_HASH);
    assert_int_equal(f->v.enc, KVAL_ENC_LISTPACK);
    assert_true(thash_is_compact(&f->v));
    assert_int_equal(thash_len(&f->v), 0);
    assert_false(thash_exists(&f->v, "a", 1));
    assert_false(thash_delete(&f->v, "a", 1));
}

static void check_set_get_delete(struct fixture *f)
{
    char out[128];

    assert_int_equal(set_str(f, "a", "1"), 1);
    assert_int_equal(set_str(f, "b", "two"), 1);
    assert_int_equal(set_str(f, "a", "one"), 0);
    assert_int_equal(thash_len(&f->v), 2);
    assert_string_equal(get_str(f, "a", out, sizeof(out)), "one");
    assert_string_equal(get_str(f, "b", out, sizeof(out)), "two");
    assert_null(get_str(f, "c", out, sizeof(out)));
    assert_true(thash_exists(&f->v, "b", 1));
    assert_true(thash_delete(&f->v, "a", 1));
    assert_false(thash_delete(&f->v, "a", 1));
    assert_false(thash_exists(&f->v, "a", 1));
    assert_string_equal(get_str(f, "b", out, sizeof(out)), "two");
    assert_int_equal(thash_len(&f->v), 1);
    assert_true(thash_delete(&f->v, "b", 1));
    assert_int_equal(thash_len(&f->v), 0);
}

static void test_set_get_delete_in_a_listpack(void **state)
{
    struct fixture *f = *state;

    check_set_get_delete(f);
    assert_true(thash_is_compact(&f->v));
}

static void test_set_get_delete_in_a_hashtable(void **state)
{
    struct fixture *f = *state;

    f->lim.hash_max_listpack_entries = 0;
    check_set_get_delete(f);
    assert_int_equal(f->v.enc, KVAL_ENC_HASHTABLE);
}

static void check_integers_and_empty_strings(struct fixture *f)
{
    char out[128];

    assert_int_equal(set_str(f, "123", "-9223372036854775808"), 1);
    assert_int_equal(set_str(f, "007", "-0"), 1);
    assert_int_equal(set_str(f, "", ""), 1);
    assert_int_equal(set_str(f, "x", "9223372036854775808"), 1);
    assert_string_equal(get_str(f, "123", out, sizeof(out)), "-9223372036854775808");
    assert_string_equal(get_str(f, "007", out, sizeof(out)), "-0");
    assert_string_equal(get_str(f, "", out, sizeof(out)), "");
    assert_string_equal(get_str(f, "x", out, sizeof(out)), "9223372036854775808");
    assert_null(get_str(f, "7", out, sizeof(out)));
    assert_null(get_str(f, "0123", out, sizeof(out)));
    assert_true(thash_delete(&f->v, "", 0));
    assert_int_equal(thash_len(&f->v), 3);
}

static void test_integer_and_empty_fields_and_values_in_a_listpack(void **state)
{
    struct fixture *f = *state;

    check_integers_and_empty_strings(f);
    assert_true(thash_is_compact(&f->v));
}

static void test_integer_and_empty_fields_and_values_in_a_hashtable(void **state)
{
    struct fixture *f = *state;

    f->lim.hash_max_listpack_entries = 0;
    check_integers_and_empty_strings(f);
    assert_false(thash_is_compact(&f->v));
}

static void test_binary_fields_are_distinct(void **state)
{
    struct fixture *f = *state;
    char buf[THASH_BUF];
    struct sh_slice val;

    assert_int_equal(thash_set(&f->v, "a\0b", 3, "x\r\n", 3, &f->lim, &f->rnd), 1);
    assert_int_equal(thash_set(&f->v, "a\0c", 3, "y", 1, &f->lim, &f->rnd), 1);
    assert_int_equal(thash_set(&f->v, "a", 1, "z", 1, &f->lim, &f->rnd), 1);
    assert_true(thash_get(&f->v, "a\0b", 3, buf, &val));
    assert_int_equal(val.len, 3);
    assert_memory_equal(val.ptr, "x\r\n", 3);
    assert_int_equal(thash_len(&f->v), 3);
}

/* ---- conversion thresholds ---- */

static void test_entries_threshold_converts_on_the_field_past_it(void **state)
{
    struct fixture *f = *state;
    char out[64];

    fill(f, 128);
    assert_true(thash_is_compact(&f->v));
    /* replacing a value at the limit keeps the listpack */
    assert_int_equal(set_num(f, 5, 'w'), 0);
    assert_true(thash_is_compact(&f->v));
    assert_int_equal(set_num(f, 128, 'v'), 1);
    assert_int_equal(f->v.enc, KVAL_ENC_HASHTABLE);
    assert_int_equal(thash_len(&f->v), 129);
    assert_string_equal(get_str(f, "f5", out, sizeof(out)), "w5");
    assert_string_equal(get_str(f, "f128", out, sizeof(out)), "v128");
    for (int i = 0; i < 129; i++) {
        char field[16];

        snprintf(field, sizeof(field), "f%d", i);
        assert_true(thash_exists(&f->v, field, strlen(field)));
    }
}

static void test_value_length_threshold_is_inclusive(void **state)
{
    struct fixture *f = *state;
    char v64[65], v65[66];

    memset(v64, 'v', 64);
    v64[64] = '\0';
    memset(v65, 'v', 65);
    v65[65] = '\0';
    assert_int_equal(set_str(f, "a", v64), 1);
    assert_true(thash_is_compact(&f->v));
    /* replacing an existing field's value with a longer one converts */
    assert_int_equal(set_str(f, "a", v65), 0);
    assert_false(thash_is_compact(&f->v));
    assert_int_equal(thash_len(&f->v), 1);
}

static void test_field_length_threshold_is_inclusive(void **state)
{
    struct fixture *f = *state;
    char f64[65], f65[66], out[8];

    memset(f64, 'f', 64);
    f64[64] = '\0';
    memset(f65, 'f', 65);
    f65[65] = '\0';
    assert_int_equal(set_str(f, f64, "1"), 1);
    assert_true(thash_is_compact(&f->v));
    assert_int_equal(set_str(f, f65, "2"), 1);
    assert_false(thash_is_compact(&f->v));
    assert_string_equal(get_str(f, f64, out, sizeof(out)), "1");
    assert_string_equal(get_str(f, f65, out, sizeof(out)), "2");
}

static void test_hashtable_never_converts_back(void **state)
{
    struct fixture *f = *state;

    fill(f, 200);
    assert_false(thash_is_compact(&f->v));
    for (int i = 0; i < 199; i++) {
        char field[16];

        snprintf(field, sizeof(field), "f%d", i);
        assert_true(thash_delete(&f->v, field, strlen(field)));
    }
    assert_int_equal(thash_len(&f->v), 1);
    assert_false(thash_is_compact(&f->v));
}

static void test_zero_limits_make_a_hashtable_at_once(void **state)
{
    struct fixture *f = *state;

    f->lim.hash_max_listpack_value = 0;
    assert_int_equal(set_str(f, "", ""), 1);
    assert_true(thash_is_compact(&f->v));
    assert_int_equal(set_str(f, "a", ""), 1);
    assert_false(thash_is_compact(&f->v));
}

/* ---- iteration, random, scan ---- */

/* Counts the pairs seen per field number ("f<n>" -> n) and checks each
 * value is "v<n>". */
struct seen {
    int count[4096];
    long long calls;
};

static void mark(void *arg, struct sh_slice field, struct sh_slice value)
{
    struct seen *s = arg;
    char fb[32], vb[32];
    int n;

    assert_true(field.len < sizeof(fb) && value.len < sizeof(vb));
    memcpy(fb, field.ptr, field.len);
    fb[field.len] = '\0';
    memcpy(vb, value.ptr, value.len);
    vb[value.len] = '\0';
    assert_int_equal(sscanf(fb, "f%d", &n), 1);
    assert_true(n >= 0 && n < 4096);
    assert_int_equal(atoi(vb + 1), n);
    s->count[n]++;
    s->calls++;
}

static void check_iteration(struct fixture *f, int n)
{
    struct seen *s = calloc(1, sizeof(*s));
    struct thash_iter it;
    struct sh_slice fl, val;

    fill(f, n);
    thash_iter_init(&it, &f->v);
    while (thash_iter_next(&it, &fl, &val)) {
        mark(s, fl, val);
    }
    thash_iter_fini(&it);
    thash_iter_fini(&it);
    for (int i = 0; i < n; i++) {
        assert_int_equal(s->count[i], 1);
    }
    assert_int_equal(s->calls, n);
    free(s);
}

static void test_iteration_visits_each_field_once_in_a_listpack(void **state)
{
    check_iteration(*state, 100);
}

static void test_iteration_visits_each_field_once_in_a_hashtable(void **state)
{
    check_iteration(*state, 1000);
}

static void test_listpack_iterates_in_insertion_order(void **state)
{
    struct fixture *f = *state;
    struct thash_iter it;
    struct sh_slice fl, val;
    int i = 0;

    fill(f, 50);
    thash_iter_init(&it, &f->v);
    while (thash_iter_next(&it, &fl, &val)) {
        char want[16];

        snprintf(want, sizeof(want), "f%d", i++);
        assert_int_equal(fl.len, strlen(want));
        assert_memory_equal(fl.ptr, want, fl.len);
    }
    thash_iter_fini(&it);
    assert_int_equal(i, 50);
}

static void check_random_single(struct fixture *f, int n)
{
    struct seen *s = calloc(1, sizeof(*s));
    char fb[THASH_BUF], vb[THASH_BUF];
    struct sh_slice fl, val;

    fill(f, n);
    for (int i = 0; i < n * 40; i++) {
        thash_random(&f->v, &f->rnd, fb, vb, &fl, &val);
        mark(s, fl, val);
    }
    for (int i = 0; i < n; i++) {
        assert_true(s->count[i] > 0);
    }
    free(s);
}

static void test_random_field_reaches_every_field_in_both_encodings(void **state)
{
    struct fixture *f = *state;

    check_random_single(f, 20);
    kval_clear(&f->v);
    thash_init(&f->v);
    check_random_single(f, 300);
    assert_false(thash_is_compact(&f->v));
}

/* thash_random_pairs(count, distinct) over a hash of n fields: the number
 * of calls and, when distinct, no field twice. */
static void check_random_pairs(struct fixture *f, int n, uint64_t count, bool distinct)
{
    struct seen *s = calloc(1, sizeof(*s));
    uint64_t want = distinct && count > (uint64_t)n ? (uint64_t)n : count;

    assert_int_equal(thash_random_pairs(&f->v, count, distinct, &f->rnd, mark, s), 0);
    assert_int_equal(s->calls, want);
    for (int i = 0; distinct && i < n; i++) {
        assert_true(s->count[i] <= 1);
    }
    free(s);
}

static void test_random_pairs_in_a_listpack(void **state)
{
    struct fixture *f = *state;

    fill(f, 10);
    check_random_pairs(f, 10, 0, true);
    check_random_pairs(f, 10, 3, true);
    check_random_pairs(f, 10, 9, true);
    check_random_pairs(f, 10, 10, true);
    check_random_pairs(f, 10, 1000, true);
    check_random_pairs(f, 10, 1, false);
    check_random_pairs(f, 10, 1000, false);
    assert_true(thash_is_compact(&f->v));
}

static void test_random_pairs_in_a_large_listpack_use_a_heap_index(void **state)
{
    struct fixture *f = *state;

    f->lim.hash_max_listpack_entries = 1000;
    fill(f, 600);
    assert_true(thash_is_compact(&f->v));
    check_random_pairs(f, 600, 5000, false);
    check_random_pairs(f, 600, 599, true);
}

static void test_random_pairs_in_a_hashtable(void **state)
{
    struct fixture *f = *state;

    fill(f, 900);
    assert_false(thash_is_compact(&f->v));
    check_random_pairs(f, 900, 1, true);
    check_random_pairs(f, 900, 300, true); /* draws: count * 3 <= len */
    check_random_pairs(f, 900, 301, true); /* selection sampling */
    check_random_pairs(f, 900, 899, true);
    check_random_pairs(f, 900, 900, true);
    check_random_pairs(f, 900, 5000, false);
}

static void test_distinct_sample_is_roughly_uniform(void **state)
{
    struct fixture *f = *state;
    struct seen *s = calloc(1, sizeof(*s));

    fill(f, 40);
    for (int i = 0; i < 2000; i++) {
        assert_int_equal(thash_random_pairs(&f->v, 10, true, &f->rnd, mark, s), 0);
    }
    /* each field is expected 500 times */
    for (int i = 0; i < 40; i++) {
        assert_true(s->count[i] > 350 && s->count[i] < 650);
    }
    free(s);
}

static void test_scan_of_a_listpack_returns_everything_with_cursor_zero(void **state)
{
    struct fixture *f = *state;
    struct seen *s = calloc(1, sizeof(*s));

    fill(f, 100);
    assert_int_equal(thash_scan(&f->v, 12345, 1, mark, s), 0);
    assert_int_equal(s->calls, 100);
    free(s);
}

static void test_scan_of_a_hashtable_returns_every_field(void **state)
{
    struct fixture *f = *state;
    struct seen *s = calloc(1, sizeof(*s));
    uint64_t cursor = 0;
    int steps = 0;

    fill(f, 2000);
    do {
        cursor = thash_scan(&f->v, cursor, 10, mark, s);
        steps++;
    } while (cursor != 0);
    for (int i = 0; i < 2000; i++) {
        assert_int_equal(s->count[i], 1);
    }
    /* COUNT 10 counts a field and its value as two elements: about 5
     * fields (a few buckets) per step */
    assert_true(steps > 2000 / 20 && steps < 2000);
    free(s);
}

static void test_scan_returns_stable_fields_across_growth_and_shrinking(void **state)
{
    struct fixture *f = *state;
    struct seen *s = calloc(1, sizeof(*s));
    uint64_t cursor = 0;
    int step = 0;

    fill(f, 500);
    do {
        cursor = thash_scan(&f->v, cursor, 20, mark, s);
        step++;
        if (step == 3) {
            for (int i = 500; i < 4000; i++) {
                assert_int_equal(set_num(f, i, 'v'), 1);
            }
        } else if (step == 10) {
            for (int i = 500; i < 4000; i++) {
                char field[16];

                snprintf(field, sizeof(field), "f%d", i);
                assert_true(thash_delete(&f->v, field, strlen(field)));
            }
        }
    } while (cursor != 0);
    for (int i = 0; i < 500; i++) {
        assert_true(s->count[i] >= 1);
    }
    free(s);
}

/* ---- dump and restore ---- */

static void assert_same_hash(struct kval *a, struct kval *b)
{
    struct thash_iter it;
    struct sh_slice fl, val, other;
    char buf[THASH_BUF];

    assert_int_equal(thash_len(a), thash_len(b));
    thash_iter_init(&it, a);
    while (thash_iter_next(&it, &fl, &val)) {
        assert_true(thash_get(b, fl.ptr, fl.len, buf, &other));
        assert_int_equal(other.len, val.len);
        assert_memory_equal(other.ptr, val.ptr, val.len);
    }
    thash_iter_fini(&it);
}

static void check_round_trip(struct fixture *f, const struct kval_limits *lim, bool compact)
{
    struct kval copy = { 0 };
    size_t len;
    char *dump = thash_dump(&f->v, &len);

    assert_int_equal(thash_restore(&copy, dump, len, lim), 0);
    assert_int_equal(copy.type, KVAL_HASH);
    assert_int_equal(thash_is_compact(&copy), compact);
    assert_same_hash(&f->v, &copy);
    assert_same_hash(&copy, &f->v);
    kval_clear(&copy);
    sh_free(dump);
}

static void test_dump_and_restore_round_trip_both_encodings(void **state)
{
    struct fixture *f = *state;
    struct kval_limits big = f->lim;

    big.hash_max_listpack_entries = 100000;
    assert_int_equal(set_str(f, "", ""), 1);
    assert_int_equal(set_str(f, "n", "-42"), 1);
    fill(f, 100);
    check_round_trip(f, &f->lim, true);
    for (int i = 100; i < 300; i++) {
        assert_int_equal(set_num(f, i, 'v'), 1);
    }
    assert_false(thash_is_compact(&f->v));
    check_round_trip(f, &f->lim, false);
    /* the encoding follows the limits of the restoring side */
    check_round_trip(f, &big, true);
}

static void test_restore_with_a_long_value_makes_a_hashtable(void **state)
{
    struct fixture *f = *state;
    char v65[66];

    memset(v65, 'x', 65);
    v65[65] = '\0';
    f->lim.hash_max_listpack_value = 100;
    assert_int_equal(set_str(f, "a", v65), 1);
    assert_true(thash_is_compact(&f->v));
    f->lim.hash_max_listpack_value = 64;
    check_round_trip(f, &f->lim, false);
}

static char *make_dump(size_t *len, int n, const char *const *elems)
{
    struct kval_dump d;

    kval_dump_init(&d);
    for (int i = 0; i < n; i++) {
        kval_dump_put(&d, elems[i], strlen(elems[i]));
    }
    return kval_dump_finish(&d, len);
}

static void assert_restore_fails(const char *p, size_t len, const struct kval_limits *lim)
{
    struct kval v = { 0 };

    assert_int_equal(thash_restore(&v, p, len, lim), -EINVAL);
    assert_int_equal(v.type, KVAL_NONE);
}

static void test_restore_rejects_corrupt_dumps(void **state)
{
    struct fixture *f = *state;
    struct kval_limits tiny = f->lim;
    static const char *const dup[] = { "a", "1", "b", "2", "a", "3" };
    static const char *const odd[] = { "a", "1", "b" };
    size_t len;
    char *p;

    tiny.hash_max_listpack_entries = 0;
    assert_restore_fails("", 0, &f->lim);
    p = make_dump(&len, 0, odd);
    assert_restore_fails(p, len, &f->lim); /* empty */
    sh_free(p);
    p = make_dump(&len, 3, odd);
    assert_restore_fails(p, len, &f->lim);
    sh_free(p);
    p = make_dump(&len, 6, dup);
    assert_restore_fails(p, len, &f->lim);
    assert_restore_fails(p, len, &tiny);
    assert_restore_fails(p, len - 1, &f->lim); /* truncated */
    sh_free(p);
    p = make_dump(&len, 4, dup);
    p = sh_realloc(p, len + 1);
    p[len] = 'x';
    assert_restore_fails(p, len + 1, &f->lim); /* trailing byte */
    sh_free(p);
}

/* ---- memory ---- */

static void test_memory_is_what_the_allocator_holds(void **state)
{
    struct fixture *f = *state;
    struct kval v = { 0 };
    int64_t before = sh_alloc_thread_bytes();

    thash_init(&v);
    for (int i = 0; i < 100; i++) {
        char field[16];

        snprintf(field, sizeof(field), "f%d", i);
        assert_int_equal(thash_set(&v, field, strlen(field), "val", 3, &f->lim, &f->rnd), 1);
        assert_int_equal(thash_memory(&v), sh_alloc_thread_bytes() - before);
    }
    for (int i = 100; i < 1000; i++) {
        char field[16];

        snprintf(field, sizeof(field), "f%d", i);
        assert_int_equal(thash_set(&v, field, strlen(field), "val", 3, &f->lim, &f->rnd), 1);
    }
    assert_false(thash_is_compact(&v));
    assert_int_equal(thash_memory(&v), sh_alloc_thread_bytes() - before);
    kval_clear(&v);
    assert_int_equal(sh_alloc_thread_bytes(), before);
}

/* Bytes per field of the memory benchmark's shapes, printed for the record:
 * one hash of many "field:<n>" -> "value:<n>" fields, and small hashes of 10
 * such fields (allocator sizes; libc's in sanitizer builds). */
static void test_memory_per_field_printout(void **state)
{
    struct fixture *f = *state;
    const int big = 1000000, small = 1000;
    char field[32], val[32];
    size_t total = 0;

    for (int i = 0; i < big; i++) {
        size_t fl = (size_t)snprintf(field, sizeof(field), "field:%d", i);
        size_t vl = (size_t)snprintf(val, sizeof(val), "value:%d", i);

        assert_int_equal(thash_set(&f->v, field, fl, val, vl, &f->lim, &f->rnd), 1);
    }
    printf("thash: %d-field hashtable: %.1f bytes per field (%s)\n", big,
           (double)thash_memory(&f->v) / big, sh_alloc_name());
    for (int h = 0; h < small; h++) {
        struct kval v = { 0 };

        thash_init(&v);
        for (int i = 0; i < 10; i++) {
            size_t fl = (size_t)snprintf(field, sizeof(field), "field:%d", i);
            size_t vl = (size_t)snprintf(val, sizeof(val), "value:%d", h * 10 + i);

            assert_int_equal(thash_set(&v, field, fl, val, vl, &f->lim, &f->rnd), 1);
        }
        assert_true(thash_is_compact(&v));
        total += thash_memory(&v);
        kval_clear(&v);
    }
    printf("thash: 10-field listpack: %.1f bytes per hash, %.1f per field\n", (double)total / small,
           (double)total / small / 10);
}

/* ---- randomized sequences against a model ---- */

struct model {
    bool present[POOL];
    char val[POOL][VAL_MAX + 1];
    size_t vlen[POOL];
    size_t n;
};

static size_t field_name(char *buf, int i)
{
    /* a few long names, to cross the field length threshold too */
    if (i % 97 == 5) {
        return (size_t)snprintf(buf, 96, "long-field-name-%d-%s", i,
                                "................................................");
    }
    return (size_t)snprintf(buf, 96, "%d", i * 7 - 100);
}

static size_t random_value(char *buf, uint64_t *s)
{
    uint64_t r = rng(s);

    if (r % 4 == 0) {
        return (size_t)snprintf(buf, VAL_MAX + 1, "%lld", (long long)(rng(s) >> (r % 64)));
    }
    size_t len = (size_t)(rng(s) % (r % 16 == 1 ? VAL_MAX + 1 : 20));

    for (size_t i = 0; i < len; i++) {
        buf[i] = (char)('a' + rng(s) % 26);
    }
    buf[len] = '\0';
    return len;
}

static void check_against_model(struct fixture *f, const struct model *m)
{
    struct thash_iter it;
    struct sh_slice fl, val;
    size_t seen = 0;
    char name[96];

    assert_int_equal(thash_len(&f->v), m->n);
    thash_iter_init(&it, &f->v);
    while (thash_iter_next(&it, &fl, &val)) {
        int i;

        seen++;
        for (i = 0; i < POOL; i++) {
            size_t nl = field_name(name, i);

            if (nl == fl.len && memcmp(name, fl.ptr, nl) == 0) {
                break;
            }
        }
        assert_true(i < POOL && m->present[i]);
        assert_int_equal(val.len, m->vlen[i]);
        assert_memory_equal(val.ptr, m->val[i], val.len);
    }
    thash_iter_fini(&it);
    assert_int_equal(seen, m->n);
}

static void random_step(struct fixture *f, struct model *m, uint64_t *s)
{
    int i = (int)(rng(s) % POOL);
    char name[96], buf[THASH_BUF], v[VAL_MAX + 1];
    size_t nl = field_name(name, i);
    uint64_t op = rng(s) % 10;
    struct sh_slice got;

    if (op < 5) {
        size_t vl = random_value(v, s);

        assert_int_equal(thash_set(&f->v, name, nl, v, vl, &f->lim, &f->rnd), !m->present[i]);
        m->n += !m->present[i];
        m->present[i] = true;
        memcpy(m->val[i], v, vl);
        m->vlen[i] = vl;
    } else if (op < 8) {
        assert_int_equal(thash_delete(&f->v, name, nl), m->present[i]);
        m->n -= m->present[i];
        m->present[i] = false;
    } else {
        assert_int_equal(thash_get(&f->v, name, nl, buf, &got), m->present[i]);
        assert_int_equal(thash_exists(&f->v, name, nl), m->present[i]);
        if (m->present[i]) {
            assert_int_equal(got.len, m->vlen[i]);
            assert_memory_equal(got.ptr, m->val[i], got.len);
        }
    }
}

static void run_random(struct fixture *f, uint64_t seed, int ops)
{
    struct model *m = calloc(1, sizeof(*m));
    uint64_t s = seed;

    for (int k = 0; k < ops; k++) {
        random_step(f, m, &s);
        if (k % 250 == 0) {
            check_against_model(f, m);
        }
    }
    check_against_model(f, m);
    check_round_trip(f, &f->lim, thash_is_compact(&f->v));
    free(m);
}

static void test_random_ops_match_the_model_in_a_listpack(void **state)
{
    struct fixture *f = *state;

    f->lim.hash_max_listpack_entries = 1000;
    f->lim.hash_max_listpack_value = 1000;
    run_random(f, 1, 4000);
    assert_true(thash_is_compact(&f->v));
}

static void test_random_ops_match_the_model_while_converting(void **state)
{
    struct fixture *f = *state;

    /* short values and few fields at first: converts on a long value or the
     * 129th field, somewhere in the run */
    run_random(f, 2, 4000);
    assert_false(thash_is_compact(&f->v));
}

static void test_random_ops_match_the_model_in_a_hashtable(void **state)
{
    struct fixture *f = *state;

    f->lim.hash_max_listpack_entries = 0;
    run_random(f, 3, 6000);
    assert_false(thash_is_compact(&f->v));
}

#define TEST(name) cmocka_unit_test_setup_teardown(name, setup, teardown)

int main(void)
{
    const struct CMUnitTest tests[] = {
        TEST(test_new_hash_is_an_empty_listpack),
        TEST(test_set_get_delete_in_a_listpack),
        TEST(test_set_get_delete_in_a_hashtable),
        TEST(test_integer_and_empty_fields_and_values_in_a_listpack),
        TEST(test_integer_and_empty_fields_and_values_in_a_hashtable),
        TEST(test_binary_fields_are_distinct),
        TEST(test_entries_threshold_converts_on_the_field_past_it),
        TEST(test_value_length_threshold_is_inclusive),
        TEST(test_field_length_threshold_is_inclusive),
        TEST(test_hashtable_never_converts_back),
        TEST(test_zero_limits_make_a_hashtable_at_once),
        TEST(test_iteration_visits_each_field_once_in_a_listpack),
        TEST(test_iteration_visits_each_field_once_in_a_hashtable),
        TEST(test_listpack_iterates_in_insertion_order),
        TEST(test_random_field_reaches_every_field_in_both_encodings),
        TEST(test_random_pairs_in_a_listpack),
        TEST(test_random_pairs_in_a_large_listpack_use_a_heap_index),
        TEST(test_random_pairs_in_a_hashtable),
        TEST(test_distinct_sample_is_roughly_uniform),
        TEST(test_scan_of_a_listpack_returns_everything_with_cursor_zero),
        TEST(test_scan_of_a_hashtable_returns_every_field),
        TEST(test_scan_returns_stable_fields_across_growth_and_shrinking),
        TEST(test_dump_and_restore_round_trip_both_encodings),
        TEST(test_restore_with_a_long_value_makes_a_hashtable),
        TEST(test_restore_rejects_corrupt_dumps),
        TEST(test_memory_is_what_the_allocator_holds),
        TEST(test_memory_per_field_printout),
        TEST(test_random_ops_match_the_model_in_a_listpack),
        TEST(test_random_ops_match_the_model_while_converting),
        TEST(test_random_ops_match_the_model_in_a_hashtable),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
