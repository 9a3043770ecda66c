/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * test_intset.c: the integer set through its public header: widths chosen
 * at each limit of int16/int32/int64, upgrades that keep the order (a
 * negative newcomer first, a positive one last), duplicates and absent
 * members, min/max/random, the byte layout that RDB payloads carry,
 * validate against corrupted buffers, and a long random sequence compared
 * with a sorted array (fixed seed), validated after every step.
 */
#include "shardis/intset.h"

#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#define MODEL_MAX 600

struct fixture {
    struct intset *is;
    int64_t model[MODEL_MAX]; /* sorted, no duplicates */
    size_t n;
    uint64_t rng;
};

static int setup(void **state)
{
    struct fixture *f = calloc(1, sizeof(*f));

    f->is = intset_create();
    f->rng = 0x1d5e7;
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    struct fixture *f = *state;
    int err = intset_validate(f->is, intset_bytes(f->is));

    intset_destroy(f->is);
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

static bool add(struct fixture *f, int64_t v)
{
    bool added = false;

    f->is = intset_add(f->is, v, &added);
    return added;
}

static bool del(struct fixture *f, int64_t v)
{
    bool removed = false;

    f->is = intset_remove(f->is, v, &removed);
    return removed;
}

/* Where v is or would go in the model. */
static size_t model_pos(const struct fixture *f, int64_t v)
{
    size_t i = 0;

    while (i < f->n && f->model[i] < v) {
        i++;
    }
    return i;
}

static bool model_add(struct fixture *f, int64_t v)
{
    size_t i = model_pos(f, v);

    if (i < f->n && f->model[i] == v) {
        return false;
    }
    memmove(f->model + i + 1, f->model + i, (f->n - i) * sizeof(f->model[0]));
    f->model[i] = v;
    f->n++;
    return true;
}

static bool model_del(struct fixture *f, int64_t v)
{
    size_t i = model_pos(f, v);

    if (i == f->n || f->model[i] != v) {
        return false;
    }
    memmove(f->model + i, f->model + i + 1, (f->n - i - 1) * sizeof(f->model[0]));
    f->n--;
    return true;
}

static unsigned width_of(int64_t v)
{
    if (v >= INT16_MIN && v <= INT16_MAX) {
        return 2;
    }
    return v >= INT32_MIN && v <= INT32_MAX ? 4 : 8;
}

/* The set is sound and equal to the model, at the narrowest width that
 * every value it ever held fits (max_width). */
static void assert_set(const struct fixture *f, unsigned max_width)
{
    assert_int_equal(intset_validate(f->is, intset_bytes(f->is)), 0);
    assert_int_equal(intset_len(f->is), f->n);
    assert_int_equal(intset_width(f->is), max_width);
    assert_int_equal(intset_bytes(f->is), 8 + f->n * max_width);
    for (size_t i = 0; i < f->n; i++) {
        assert_true(intset_get(f->is, i) == f->model[i]);
        assert_true(intset_has(f->is, f->model[i]));
    }
    if (f->n > 0) {
        assert_true(intset_min(f->is) == f->model[0]);
        assert_true(intset_max(f->is) == f->model[f->n - 1]);
    }
}

static void test_a_new_set_is_empty_narrow_and_valid(void **state)
{
    struct fixture *f = *state;

    assert_int_equal(intset_len(f->is), 0);
    assert_int_equal(intset_width(f->is), 2);
    assert_int_equal(intset_bytes(f->is), 8);
    assert_false(intset_has(f->is, 0));
    assert_false(intset_has(f->is, INT64_MIN));
    assert_false(del(f, 0));
    assert_int_equal(intset_validate(f->is, intset_bytes(f->is)), 0);
    intset_destroy(NULL);
}

static const int64_t limits[] = {
    0,
    -1,
    INT16_MAX,
    INT16_MIN,
    (int64_t)INT16_MAX + 1,
    (int64_t)INT16_MIN - 1,
    INT32_MAX,
    INT32_MIN,
    (int64_t)INT32_MAX + 1,
    (int64_t)INT32_MIN - 1,
    INT64_MAX,
    INT64_MIN,
};

static void test_each_value_gets_the_narrowest_width_that_holds_it(void **state)
{
    struct fixture *f = *state;

    for (size_t i = 0; i < sizeof(limits) / sizeof(limits[0]); i++) {
        intset_destroy(f->is);
        f->is = intset_create();
        f->n = 0;
        assert_true(add(f, limits[i]));
        model_add(f, limits[i]);
        assert_set(f, width_of(limits[i]));
        assert_true(intset_has(f->is, limits[i]));
        assert_false(intset_has(f->is, limits[i] ^ 1));
    }
}

static void test_upgrades_keep_the_order_and_put_the_newcomer_at_an_end(void **state)
{
    struct fixture *f = *state;
    unsigned w = 2;

    for (int64_t v = -50; v <= 50; v += 10) {
        add(f, v);
        model_add(f, v);
    }
    for (size_t i = 4; i < sizeof(limits) / sizeof(limits[0]); i++) {
        assert_true(add(f, limits[i]));
        model_add(f, limits[i]);
        if (width_of(limits[i]) > w) {
            w = width_of(limits[i]);
        }
        assert_set(f, w);
        assert_true(intset_get(f->is, limits[i] < 0 ? 0 : f->n - 1) == limits[i]);
    }
    assert_int_equal(w, 8);
    /* removing the wide values does not narrow the set again */
    for (size_t i = 4; i < sizeof(limits) / sizeof(limits[0]); i++) {
        assert_true(del(f, limits[i]));
        model_del(f, limits[i]);
    }
    assert_set(f, 8);
}

static void test_adding_a_member_twice_and_removing_an_absent_one_change_nothing(void **state)
{
    struct fixture *f = *state;

    assert_true(add(f, 5));
    assert_false(add(f, 5));
    assert_true(add(f, -5));
    model_add(f, 5);
    model_add(f, -5);
    assert_false(del(f, 6));
    assert_false(del(f, 70000)); /* wider than the set: not there */
    assert_false(del(f, INT64_MIN));
    assert_false(intset_has(f->is, 70000));
    assert_set(f, 2);
    f->is = intset_add(f->is, 9, NULL);
    f->is = intset_remove(f->is, 9, NULL);
    assert_set(f, 2);
}

static void test_random_returns_the_member_at_rnd_modulo_len(void **state)
{
    struct fixture *f = *state;

    for (int64_t v = 0; v < 30; v++) {
        add(f, v * v * 1000);
    }
    for (int i = 0; i < 300; i++) {
        uint64_t r = rnd(&f->rng);

        assert_true(intset_random(f->is, r) == intset_get(f->is, r % 30));
    }
}

static void test_the_bytes_are_redis_little_endian_layout(void **state)
{
    static const unsigned char want[] = {
        4,    0,    0,    0,    3, 0, 0, 0, /* width 4, length 3 */
        0x00, 0x00, 0xFF, 0xFF,             /* -65536 */
        0x02, 0x00, 0x00, 0x00,             /* 2 */
        0x00, 0x00, 0x01, 0x00,             /* 65536 */
    };
    struct fixture *f = *state;
    struct intset *copy = NULL;

    add(f, 65536);
    add(f, 2);
    add(f, -65536);
    assert_int_equal(intset_bytes(f->is), sizeof(want));
    assert_memory_equal(f->is, want, sizeof(want));
    assert_int_equal(intset_load(want, sizeof(want), &copy), 0);
    assert_int_equal(intset_len(copy), 3);
    assert_true(intset_get(copy, 0) == -65536);
    assert_true(intset_has(copy, 65536));
    copy = intset_add(copy, 3, NULL);
    assert_int_equal(intset_len(copy), 4);
    intset_destroy(copy);
}

static void test_validate_and_load_reject_corrupt_buffers(void **state)
{
    unsigned char buf[8 + 4 * 2] = { 2, 0, 0, 0, 4, 0, 0, 0, 1, 0, 2, 0, 3, 0, 4, 0 };
    struct intset *copy = NULL;

    (void)state;
    assert_int_equal(intset_validate(buf, sizeof(buf)), 0);
    assert_int_equal(intset_validate(buf, 7), -EINVAL);
    assert_int_equal(intset_validate(buf, sizeof(buf) - 1), -EINVAL);
    assert_int_equal(intset_validate(buf, sizeof(buf) - 2), -EINVAL); /* length says 4 */
    buf[4] = 0; /* empty but with trailing bytes */
    assert_int_equal(intset_validate(buf, sizeof(buf)), -EINVAL);
    assert_int_equal(intset_validate(buf, 8), 0);
    buf[4] = 4;
    buf[0] = 3; /* unknown width */
    assert_int_equal(intset_validate(buf, sizeof(buf)), -EINVAL);
    buf[0] = 4; /* width 4 makes 8 bytes 2 members, not 4 */
    assert_int_equal(intset_validate(buf, sizeof(buf)), -EINVAL);
    buf[0] = 2;
    buf[12] = 2; /* 1, 2, 2, 4: a duplicate */
    assert_int_equal(intset_validate(buf, sizeof(buf)), -EINVAL);
    buf[12] = 1; /* 1, 2, 1, 4: out of order */
    assert_int_equal(intset_validate(buf, sizeof(buf)), -EINVAL);
    assert_int_equal(intset_load(buf, sizeof(buf), &copy), -EINVAL);
    assert_null(copy);
    buf[4] = 0xFF; /* a length far past the buffer */
    buf[12] = 3;
    assert_int_equal(intset_validate(buf, sizeof(buf)), -EINVAL);
}

/* A value for the random sequence: small ones that collide often, and ones
 * near each width's limits that force upgrades. */
static int64_t random_value(struct fixture *f)
{
    uint64_t r = rnd(&f->rng);

    if (r % 10 < 7) {
        return (int64_t)((r >> 8) % 200) - 100;
    }
    int64_t base = limits[(r >> 8) % (sizeof(limits) / sizeof(limits[0]))];
    int64_t d = (int64_t)((r >> 20) % 3) - 1;

    if ((d > 0 && base == INT64_MAX) || (d < 0 && base == INT64_MIN)) {
        return base;
    }
    return base + d;
}

static void test_random_operations_match_a_sorted_array(void **state)
{
    struct fixture *f = *state;
    unsigned w = 2;

    for (int step = 0; step < 5000; step++) {
        uint64_t r = rnd(&f->rng);
        int64_t v = random_value(f);

        if (r % 5 < 3 && f->n < MODEL_MAX) {
            assert_int_equal(add(f, v), model_add(f, v));
            if (width_of(v) > w) {
                w = width_of(v);
            }
        } else if (r % 5 == 3 && f->n > 0) {
            v = f->model[(r >> 8) % f->n];
            assert_true(del(f, v));
            assert_true(model_del(f, v));
        } else {
            assert_int_equal(del(f, v), model_del(f, v));
        }
        assert_set(f, w);
        v = random_value(f);
        r = model_pos(f, v);
        assert_int_equal(intset_has(f->is, v), r < f->n && f->model[r] == v);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_a_new_set_is_empty_narrow_and_valid, setup, teardown),
        cmocka_unit_test_setup_teardown(test_each_value_gets_the_narrowest_width_that_holds_it,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(test_upgrades_keep_the_order_and_put_the_newcomer_at_an_end,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(
                test_adding_a_member_twice_and_removing_an_absent_one_change_nothing, setup,
                teardown),
        cmocka_unit_test_setup_teardown(test_random_returns_the_member_at_rnd_modulo_len, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_the_bytes_are_redis_little_endian_layout, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_validate_and_load_reject_corrupt_buffers, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_random_operations_match_a_sorted_array, setup,
                                        teardown),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
