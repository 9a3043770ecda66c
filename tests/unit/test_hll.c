/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * test_hll.c: the HyperLogLog bytes (hll.h) against Redis 7.0.15's (bytes
 * recorded from redis-server), against a model (registers as a plain array,
 * exact counts), and over corrupt strings, which must give -EINVAL and
 * never read or write out of bounds (run under ASan in CI).
 */
#include "shardis/hll.h"
#include "shardis/kval.h"

#include <errno.h>
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

/* A sparse header with a stale cache, then opcodes. */
#define SPARSE_HDR "HYLL\x01\0\0\0\0\0\0\0\0\0\0\x80"

struct fixture {
    struct kval sparse; /* built by hll_add from empty */
    struct kval dense;  /* the same elements, dense from the start */
    uint8_t model[HLL_REGISTERS];
};

static int setup(void **state)
{
    struct fixture *f = calloc(1, sizeof(*f));

    assert_int_equal(hll_create(&f->sparse), 0);
    assert_int_equal(hll_create(&f->dense), 0);
    assert_int_equal(hll_to_dense(&f->dense), 1);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    struct fixture *f = *state;

    kval_clear(&f->sparse);
    kval_clear(&f->dense);
    free(f);
    return 0;
}

static const char *bytes(const struct kval *v, size_t *len)
{
    *len = v->u.s->len;
    return v->u.s->data;
}

/* The model's update: register and run length of an element, computed here
 * from the hash as Redis defines them. */
static void model_add(uint8_t *model, const void *ele, size_t len)
{
    uint64_t h = hll_murmur64a(ele, len, HLL_HASH_SEED);
    long reg = (long)(h & (HLL_REGISTERS - 1));
    int count = 1;

    h >>= HLL_P;
    while (count <= 64 - HLL_P && !(h & 1)) {
        count++;
        h >>= 1;
    }
    if (model[reg] < count) {
        model[reg] = (uint8_t)count;
    }
}

static void add_elements(struct fixture *f, const char *prefix, long from, long to,
                         size_t sparse_max)
{
    char buf[64];

    for (long i = from; i < to; i++) {
        int n = snprintf(buf, sizeof(buf), "%s%ld", prefix, i);

        assert_true(hll_add(&f->sparse, buf, (size_t)n, sparse_max) >= 0);
        assert_true(hll_add(&f->dense, buf, (size_t)n, sparse_max) >= 0);
        model_add(f->model, buf, (size_t)n);
    }
}

static void assert_registers(const struct kval *v, const uint8_t *model)
{
    uint8_t regs[HLL_REGISTERS];
    size_t len;
    const char *p = bytes(v, &len);

    assert_true(hll_is_valid(p, len));
    assert_int_equal(hll_registers(p, len, regs), 0);
    assert_memory_equal(regs, model, HLL_REGISTERS);
}

static void test_empty_hll_is_redis_sparse_xzero(void **state)
{
    struct kval v = { 0 };
    size_t len;
    uint64_t card = 1;

    (void)state;
    assert_int_equal(hll_create(&v), 0);
    assert_int_equal(v.u.s->len, HLL_HDR_SIZE + 2);
    assert_memory_equal(bytes(&v, &len), "HYLL\x01\0\0\0\0\0\0\0\0\0\0\0\x7f\xff", 18);
    assert_true(hll_cache_get(v.u.s->data, &card));
    assert_int_equal(card, 0);
    assert_int_equal(hll_count(v.u.s->data, v.u.s->len, &card), 0);
    assert_int_equal(card, 0);
    kval_clear(&v);
}

static void test_pfadd_abc_gives_redis_bytes(void **state)
{
    /* redis-server 7.0.15: PFADD k a b c; GET k */
    static const char want[] = "HYLL\x01\0\0\0\0\0\0\0\0\0\0\x80"
                               "\x60\xf3\x80\x50\xb1\x84\x4b\xfb\x80\x42\x5a";
    struct kval v = { 0 };
    uint64_t card;
    int changed = 0;

    (void)state;
    assert_int_equal(hll_create(&v), 0);
    changed += hll_add(&v, "a", 1, HLL_SPARSE_MAX_BYTES);
    changed += hll_add(&v, "b", 1, HLL_SPARSE_MAX_BYTES);
    changed += hll_add(&v, "c", 1, HLL_SPARSE_MAX_BYTES);
    assert_int_equal(changed, 3);
    assert_int_equal(hll_add(&v, "a", 1, HLL_SPARSE_MAX_BYTES), 0);
    assert_int_equal(v.u.s->len, sizeof(want) - 1);
    assert_memory_equal(v.u.s->data, want, sizeof(want) - 1);
    assert_false(hll_cache_get(v.u.s->data, &card));
    assert_int_equal(hll_count(v.u.s->data, v.u.s->len, &card), 0);
    assert_int_equal(card, 3);
    hll_cache_set(v.u.s->data, card);
    assert_true(hll_cache_get(v.u.s->data, &card));
    assert_int_equal(card, 3);
    assert_int_equal((uint8_t)v.u.s->data[8], 3);
    hll_cache_invalidate(v.u.s->data);
    assert_false(hll_cache_get(v.u.s->data, &card));
    kval_clear(&v);
}

static void test_sparse_and_dense_hold_the_same_registers(void **state)
{
    struct fixture *f = *state;
    static const long steps[] = { 1, 10, 100, 1000, 5000, 10000 };
    long done = 0;

    for (size_t i = 0; i < sizeof(steps) / sizeof(steps[0]); i++) {
        uint64_t c1, c2;

        add_elements(f, "elem:", done, steps[i], 1u << 20);
        done = steps[i];
        assert_registers(&f->sparse, f->model);
        assert_registers(&f->dense, f->model);
        assert_int_equal(hll_count(f->sparse.u.s->data, f->sparse.u.s->len, &c1), 0);
        assert_int_equal(hll_count(f->dense.u.s->data, f->dense.u.s->len, &c2), 0);
        assert_int_equal(c1, c2);
        assert_int_equal(hll_count_registers(f->model), c1);
    }
}

static void test_counts_stay_within_error_bounds(void **state)
{
    struct fixture *f = *state;
    static const long steps[] = { 10, 100, 1000, 10000, 100000, 300000 };
    long done = 0;

    for (size_t i = 0; i < sizeof(steps) / sizeof(steps[0]); i++) {
        uint64_t card;
        double err;

        add_elements(f, "x", done, steps[i], HLL_SPARSE_MAX_BYTES);
        done = steps[i];
        assert_int_equal(hll_count(f->sparse.u.s->data, f->sparse.u.s->len, &card), 0);
        err = fabs((double)card - (double)done);
        /* four standard errors (1.04 / sqrt(m)), and +1 for tiny sets */
        assert_true(err <= 4 * 1.04 / sqrt(HLL_REGISTERS) * (double)done + 1);
    }
}

static void test_sparse_turns_dense_past_max_bytes(void **state)
{
    struct fixture *f = *state;
    size_t len;

    add_elements(f, "p", 0, 20, 100);
    assert_int_equal(hll_encoding_of(bytes(&f->sparse, &len)), HLL_SPARSE);
    add_elements(f, "p", 20, 200, 100);
    assert_int_equal(hll_encoding_of(bytes(&f->sparse, &len)), HLL_DENSE);
    assert_int_equal(len, HLL_DENSE_SIZE);
    assert_registers(&f->sparse, f->model);
}

static void test_sparse_stays_under_max_bytes(void **state)
{
    struct fixture *f = *state;
    size_t len;

    for (long i = 0; i < 3000; i += 10) {
        add_elements(f, "q", i, i + 10, HLL_SPARSE_MAX_BYTES);
        bytes(&f->sparse, &len);
        assert_true(len <= HLL_SPARSE_MAX_BYTES || len == HLL_DENSE_SIZE);
    }
    /* Redis 7.0.15 turns this sequence dense at 1674 elements of "q:<i>";
     * here the prefix differs, but it must have turned by 3000 */
    assert_int_equal(hll_encoding_of(bytes(&f->sparse, &len)), HLL_DENSE);
}

static void test_merge_is_the_union(void **state)
{
    struct fixture *f = *state;
    struct kval a = { 0 }, b = { 0 }, dst = { 0 };
    uint8_t regs[HLL_REGISTERS] = { 0 };
    char buf[32];

    assert_int_equal(hll_create(&a), 0);
    assert_int_equal(hll_create(&b), 0);
    assert_int_equal(hll_create(&dst), 0);
    for (int i = 0; i < 3000; i++) {
        int n = snprintf(buf, sizeof(buf), "m%d", i);

        assert_true(hll_add(i % 2 ? &a : &b, buf, (size_t)n, HLL_SPARSE_MAX_BYTES) >= 0);
        model_add(f->model, buf, (size_t)n);
    }
    assert_int_equal(hll_merge(regs, a.u.s->data, a.u.s->len), 0);
    assert_int_equal(hll_merge(regs, b.u.s->data, b.u.s->len), 0);
    assert_memory_equal(regs, f->model, HLL_REGISTERS);
    /* into a sparse destination, register by register */
    assert_int_equal(hll_store(&dst, regs, false, HLL_SPARSE_MAX_BYTES), 0);
    assert_registers(&dst, f->model);
    kval_clear(&dst);
    /* into a dense one */
    assert_int_equal(hll_create(&dst), 0);
    assert_int_equal(hll_store(&dst, regs, true, HLL_SPARSE_MAX_BYTES), 0);
    assert_int_equal(hll_encoding_of(dst.u.s->data), HLL_DENSE);
    assert_registers(&dst, f->model);
    kval_clear(&a);
    kval_clear(&b);
    kval_clear(&dst);
}

static void test_validity_of_headers(void **state)
{
    static char dense[HLL_DENSE_SIZE] = "HYLL\x00";

    (void)state;
    assert_true(hll_is_valid(dense, HLL_DENSE_SIZE));
    assert_false(hll_is_valid(dense, HLL_DENSE_SIZE - 1));
    assert_false(hll_is_valid(dense, HLL_DENSE_SIZE + 1));
    assert_true(hll_is_valid(SPARSE_HDR, HLL_HDR_SIZE));
    assert_false(hll_is_valid(SPARSE_HDR, HLL_HDR_SIZE - 1));
    assert_false(hll_is_valid("HYLX\x01\0\0\0\0\0\0\0\0\0\0\0", HLL_HDR_SIZE));
    assert_false(hll_is_valid("HYLL\x02\0\0\0\0\0\0\0\0\0\0\0", HLL_HDR_SIZE));
    assert_false(hll_is_valid("12345", 5));
}

/* Sets v to the bytes p[0..n). */
/* As cmd_hll.c hands a key's value over: a raw string (struct kstr). */
static void set_bytes(struct kval *v, const void *p, size_t n)
{
    assert_int_equal(kval_set_string(v, p, n), 0);
    assert_non_null(kval_make_raw(v, n));
}

static void assert_corrupt(const void *p, size_t n)
{
    struct kval v = { 0 };
    uint8_t regs[HLL_REGISTERS] = { 0 };
    uint64_t card;
    size_t dlen;
    char *text;

    assert_true(hll_is_valid(p, n));
    assert_int_equal(hll_count(p, n, &card), -EINVAL);
    assert_int_equal(hll_merge(regs, p, n), -EINVAL);
    assert_int_equal(hll_registers(p, n, regs), -EINVAL);
    set_bytes(&v, p, n);
    assert_int_equal(hll_to_dense(&v), -EINVAL);
    assert_int_equal(v.u.s->len, n); /* unchanged */
    assert_memory_equal(v.u.s->data, p, n);
    assert_int_equal(hll_store(&v, regs, true, HLL_SPARSE_MAX_BYTES), -EINVAL);
    text = hll_decode(p, n, &dlen);
    assert_non_null(text);
    assert_int_equal(strlen(text), dlen);
    sh_free(text);
    kval_clear(&v);
}

static void test_corrupt_sparse_strings_are_rejected(void **state)
{
    char buf[64];

    (void)state;
    assert_corrupt(SPARSE_HDR, HLL_HDR_SIZE); /* no opcode */
    memcpy(buf, SPARSE_HDR "\x00", 17);       /* ZERO:1 only */
    assert_corrupt(buf, 17);
    memcpy(buf, SPARSE_HDR "\x7f\xff\x80", 19); /* XZERO:16384 then VAL:1,1 */
    assert_corrupt(buf, 19);
    memcpy(buf, SPARSE_HDR "\x7f\xff\x7f\xff", 20); /* twice the registers */
    assert_corrupt(buf, 20);
    memcpy(buf, SPARSE_HDR "\x7f", 17); /* a cut XZERO: 16129 registers */
    assert_corrupt(buf, 17);
}

static void test_cut_xzero_reads_its_missing_byte_as_zero(void **state)
{
    /* as Redis reads the sds terminator: XZERO:255 then a cut XZERO whose
     * low byte is 0 (16129 registers) make 16384 */
    static const char p[] = SPARSE_HDR "\x40\xfe\x7f";
    uint64_t card = 1;
    size_t dlen;
    char *text = hll_decode(p, sizeof(p) - 1, &dlen);

    (void)state;
    assert_int_equal(hll_count(p, sizeof(p) - 1, &card), 0);
    assert_int_equal(card, 0);
    assert_string_equal(text, "Z:255 Z:16129");
    sh_free(text);
}

static void test_add_to_corrupt_sparse_fails_without_growing(void **state)
{
    struct kval v = { 0 };
    char buf[32];
    int fails = 0;

    (void)state;
    set_bytes(&v, SPARSE_HDR "\x00", 17); /* covers register 0 only */
    for (int i = 0; i < 200; i++) {
        int n = snprintf(buf, sizeof(buf), "c%d", i);
        int rc = hll_add(&v, buf, (size_t)n, HLL_SPARSE_MAX_BYTES);

        assert_true(rc == -EINVAL || rc == 0 || rc == 1);
        fails += rc == -EINVAL;
    }
    assert_true(fails > 190);
    kval_clear(&v);
}

static uint64_t next_rand(uint64_t *s)
{
    *s ^= *s << 13;
    *s ^= *s >> 7;
    *s ^= *s << 17;
    return *s;
}

/* Random opcodes behind a valid sparse header: every operation returns a
 * status and stays in bounds (ASan checks the bounds). */
static void test_random_sparse_bytes_never_crash(void **state)
{
    uint64_t rnd = 0x9e3779b97f4a7c15ULL;
    uint8_t buf[HLL_HDR_SIZE + 64], regs[HLL_REGISTERS];

    (void)state;
    memcpy(buf, SPARSE_HDR, HLL_HDR_SIZE);
    for (int round = 0; round < 3000; round++) {
        size_t n = HLL_HDR_SIZE + next_rand(&rnd) % 48, dlen;
        struct kval v = { 0 };
        uint64_t card;
        char *text;

        for (size_t i = HLL_HDR_SIZE; i < n; i++) {
            buf[i] = (uint8_t)next_rand(&rnd);
        }
        int c1 = hll_count(buf, n, &card), c2;

        memset(regs, 0, sizeof(regs));
        c2 = hll_merge(regs, buf, n);
        assert_int_equal(c1, c2); /* one rule of validity for both */
        text = hll_decode(buf, n, &dlen);
        sh_free(text);
        set_bytes(&v, buf, n);
        for (int k = 0; k < 8; k++) {
            uint64_t e = next_rand(&rnd);
            int rc = hll_add(&v, &e, sizeof(e), 40);

            assert_true(rc >= -EINVAL && rc <= 1);
            assert_true(hll_is_valid(v.u.s->data, v.u.s->len));
        }
        kval_clear(&v);
    }
}

static void test_selftest_passes(void **state)
{
    char err[128] = "";

    (void)state;
    assert_int_equal(hll_selftest(12345, HLL_SPARSE_MAX_BYTES, err, sizeof(err)), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_empty_hll_is_redis_sparse_xzero),
        cmocka_unit_test(test_pfadd_abc_gives_redis_bytes),
        cmocka_unit_test_setup_teardown(test_sparse_and_dense_hold_the_same_registers, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_counts_stay_within_error_bounds, setup, teardown),
        cmocka_unit_test_setup_teardown(test_sparse_turns_dense_past_max_bytes, setup, teardown),
        cmocka_unit_test_setup_teardown(test_sparse_stays_under_max_bytes, setup, teardown),
        cmocka_unit_test_setup_teardown(test_merge_is_the_union, setup, teardown),
        cmocka_unit_test(test_validity_of_headers),
        cmocka_unit_test(test_corrupt_sparse_strings_are_rejected),
        cmocka_unit_test(test_cut_xzero_reads_its_missing_byte_as_zero),
        cmocka_unit_test(test_add_to_corrupt_sparse_fails_without_growing),
        cmocka_unit_test(test_random_sparse_bytes_never_crash),
        cmocka_unit_test(test_selftest_passes),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
