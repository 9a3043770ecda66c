/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * test_kval.c: string values and their two encodings: which bytes become an
 * integer (exactly Redis's canonical long long form), that both encodings give
 * back the same bytes, that a SET-sized overwrite reuses the buffer, and that
 * kval_make_raw converts integers and grows geometrically (so APPEND in a
 * loop is amortised O(1)).
 */
#include "shardis/kval.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

static int setup(void **state)
{
    *state = sh_calloc(1, sizeof(struct kval));
    return 0;
}

static int teardown(void **state)
{
    kval_clear(*state);
    sh_free(*state);
    return 0;
}

static void set(struct kval *v, const char *s)
{
    assert_int_equal(kval_set_string(v, s, strlen(s)), 0);
}

/* The value's bytes equal s, through kval_string and kval_strlen. */
static void assert_bytes(const struct kval *v, const char *s, size_t n)
{
    char buf[24];
    size_t len;
    const char *p = kval_string(v, buf, &len);

    assert_int_equal(len, n);
    assert_int_equal(kval_strlen(v), n);
    assert_memory_equal(p, s, n);
}

static void assert_int_value(const struct kval *v, long long x)
{
    assert_int_equal(v->type, KVAL_STRING);
    assert_int_equal(v->enc, KVAL_ENC_INT);
    assert_true(v->u.i == x);
}

/* Not integer-encoded: in the value itself up to KVAL_EMB_MAX bytes, alone
 * in an allocation up to KVAL_BARE_MAX, a struct kstr past that (or once
 * made raw). */
static void assert_raw_n(const struct kval *v, const char *s, size_t n)
{
    assert_int_equal(v->type, KVAL_STRING);
    if (v->enc == KVAL_ENC_RAW) {
        assert_true(v->u.s->len == n);
    } else if (n <= KVAL_EMB_MAX) {
        assert_int_equal(v->enc, KVAL_ENC_EMB);
        assert_int_equal(v->elen, n);
    } else if (n <= KVAL_BARE_MAX) {
        assert_int_equal(v->enc, KVAL_ENC_BARE);
        assert_int_equal(v->elen, n);
    } else {
        assert_int_equal(v->enc, KVAL_ENC_RAW);
    }
    assert_bytes(v, s, n);
}

static void assert_raw(const struct kval *v, const char *s)
{
    assert_raw_n(v, s, strlen(s));
}

static void test_make_raw_on_a_new_value_gives_an_empty_string(void **state)
{
    struct kval v = { 0 };
    struct kstr *s;

    (void)state;
    s = kval_make_raw(&v, 100);
    assert_non_null(s);
    assert_int_equal(v.type, KVAL_STRING);
    assert_int_equal(v.enc, KVAL_ENC_RAW);
    assert_int_equal(s->len, 0);
    assert_true(s->cap >= 100);
    kval_clear(&v);
}

static void test_canonical_integer_strings_are_int_encoded(void **state)
{
    struct kval *v = *state;

    set(v, "12");
    assert_int_value(v, 12);
    assert_bytes(v, "12", 2);
    set(v, "0");
    assert_int_value(v, 0);
    set(v, "-7");
    assert_int_value(v, -7);
    set(v, "9223372036854775807");
    assert_int_value(v, INT64_MAX);
    assert_bytes(v, "9223372036854775807", 19);
    set(v, "-9223372036854775808");
    assert_int_value(v, INT64_MIN);
    assert_bytes(v, "-9223372036854775808", 20);
}

static void test_leading_zero_keeps_the_string_raw(void **state)
{
    set(*state, "012");
    assert_raw(*state, "012");
    set(*state, "00");
    assert_raw(*state, "00");
}

static void test_negative_zero_keeps_the_string_raw(void **state)
{
    set(*state, "-0");
    assert_raw(*state, "-0");
}

static void test_integers_out_of_long_long_range_stay_raw(void **state)
{
    set(*state, "9223372036854775808");
    assert_raw(*state, "9223372036854775808");
    set(*state, "-9223372036854775809");
    assert_raw(*state, "-9223372036854775809");
    set(*state, "123456789012345678901");
    assert_raw(*state, "123456789012345678901");
}

static void test_signs_spaces_and_empty_strings_stay_raw(void **state)
{
    static const char *const cases[] = { "+1", " 1", "1 ", "", "-", "1.0", "1e3", "0x10" };

    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        set(*state, cases[i]);
        assert_raw(*state, cases[i]);
    }
}

static void test_binary_bytes_round_trip_raw(void **state)
{
    static const char bin[] = { '1', '\0', '2', '\r', '\n', (char)0xff };
    struct kval *v = *state;

    assert_int_equal(kval_set_string(v, bin, sizeof(bin)), 0);
    assert_raw_n(v, bin, sizeof(bin));
}

static void test_short_strings_live_in_the_value_and_longer_ones_are_allocated(void **state)
{
    struct kval *v = *state;
    struct kval copy;

    set(v, "abcdefgh"); /* KVAL_EMB_MAX bytes: no allocation */
    assert_int_equal(v->enc, KVAL_ENC_EMB);
    assert_int_equal(kval_memory(v), 0);
    assert_string_equal(kval_encoding_name(v), "embstr");
    copy = *v; /* the bytes travel with a copy of the value */
    assert_raw(&copy, "abcdefgh");
    set(v, "abcdefghi"); /* one more: allocated, with no header */
    assert_int_equal(v->enc, KVAL_ENC_BARE);
    assert_true(kval_memory(v) >= 9 && kval_memory(v) < 9 + sizeof(struct kstr));
    assert_string_equal(kval_encoding_name(v), "embstr");
    assert_raw(v, "abcdefghi");
    set(v, ""); /* and back, the allocation freed (ASan would see a leak) */
    assert_int_equal(v->enc, KVAL_ENC_EMB);
    assert_raw(v, "");
}

static void test_strings_up_to_bare_max_have_no_header(void **state)
{
    struct kval *v = *state;
    char big[KVAL_BARE_MAX + 1], *before;

    memset(big, 'q', sizeof(big));
    assert_int_equal(kval_set_string(v, big, 16), 0); /* a 16-byte allocation */
    assert_int_equal(v->enc, KVAL_ENC_BARE);
    assert_int_equal(kval_memory(v), 16);
    assert_int_equal(kval_strlen(v), 16);
    before = v->u.p;
    assert_int_equal(kval_set_string(v, "0123456789abcdef", 16), 0); /* reused */
    assert_ptr_equal(v->u.p, before);
    assert_raw(v, "0123456789abcdef");
    assert_int_equal(kval_set_string(v, big, KVAL_BARE_MAX), 0); /* grows */
    assert_int_equal(v->enc, KVAL_ENC_BARE);
    assert_raw_n(v, big, KVAL_BARE_MAX);
    assert_string_equal(kval_encoding_name(v), "raw");         /* past 44 bytes */
    assert_int_equal(kval_set_string(v, big, sizeof(big)), 0); /* a kstr past the limit */
    assert_int_equal(v->enc, KVAL_ENC_RAW);
    assert_raw_n(v, big, sizeof(big));
    assert_int_equal(kval_set_string(v, big, 40), 0); /* and back */
    assert_int_equal(v->enc, KVAL_ENC_BARE);
    assert_raw_n(v, big, 40);
}

static void test_make_raw_converts_a_bare_string_keeping_its_bytes(void **state)
{
    struct kval *v = *state;
    struct kstr *s;

    assert_int_equal(kval_set_string(v, "twelve bytes", 12), 0);
    assert_int_equal(v->enc, KVAL_ENC_BARE);
    s = kval_make_raw(v, 20); /* the bare allocation is freed (ASan) */
    assert_non_null(s);
    assert_ptr_equal(s, v->u.s);
    assert_int_equal(v->enc, KVAL_ENC_RAW);
    assert_true(s->cap >= 20);
    assert_int_equal(s->len, 12);
    assert_memory_equal(s->data, "twelve bytes", 12);
    assert_string_equal(kval_encoding_name(v), "raw");
}

static void test_make_raw_converts_a_short_string_keeping_its_bytes(void **state)
{
    struct kval *v = *state;
    struct kstr *s;

    assert_int_equal(kval_set_string(v, "ab\0cd", 5), 0);
    s = kval_make_raw(v, 3);
    assert_non_null(s);
    assert_int_equal(v->enc, KVAL_ENC_RAW);
    assert_ptr_equal(s, v->u.s);
    assert_true(s->cap >= 5);
    assert_int_equal(s->len, 5);
    assert_memory_equal(s->data, "ab\0cd", 5);
    assert_true(v->grown);
    assert_string_equal(kval_encoding_name(v), "raw");
}

static void test_set_int_replaces_a_raw_value(void **state)
{
    struct kval *v = *state;

    set(v, "hello world");
    kval_set_int(v, -42);
    assert_int_value(v, -42);
    assert_bytes(v, "-42", 3);
    assert_int_equal(kval_memory(v), 0);
}

static void test_integer_string_replaces_a_raw_value(void **state)
{
    struct kval *v = *state;

    set(v, "not a number");
    set(v, "99");
    assert_int_value(v, 99);
}

static void test_overwrite_of_similar_size_reuses_the_buffer(void **state)
{
    struct kval *v = *state;
    char a[100], b[90];
    struct kstr *before;

    memset(a, 'a', sizeof(a));
    memset(b, 'b', sizeof(b));
    assert_int_equal(kval_set_string(v, a, sizeof(a)), 0);
    before = v->u.p;
    assert_int_equal(kval_set_string(v, b, sizeof(b)), 0);
    assert_ptr_equal(v->u.p, before);
    assert_bytes(v, b, sizeof(b));
}

static void test_much_smaller_overwrite_does_not_keep_a_wasteful_buffer(void **state)
{
    struct kval *v = *state;
    char big[4096];

    memset(big, 'x', sizeof(big));
    assert_int_equal(kval_set_string(v, big, sizeof(big)), 0);
    set(v, "small, not embedded");
    assert_raw(v, "small, not embedded");
    assert_true(kval_memory(v) < sizeof(big));
}

static void test_make_raw_converts_an_integer_keeping_its_bytes(void **state)
{
    struct kval *v = *state;
    struct kstr *s;

    kval_set_int(v, -123);
    s = kval_make_raw(v, 10);
    assert_non_null(s);
    assert_ptr_equal(s, v->u.s);
    assert_int_equal(v->enc, KVAL_ENC_RAW);
    assert_true(s->cap >= 10);
    assert_raw(v, "-123");
}

static void test_make_raw_of_an_integer_with_small_cap_keeps_every_byte(void **state)
{
    struct kval *v = *state;
    struct kstr *s;

    kval_set_int(v, INT64_MIN);
    s = kval_make_raw(v, 1);
    assert_non_null(s);
    assert_true(s->cap >= 20);
    assert_raw(v, "-9223372036854775808");
}

static void test_make_raw_within_capacity_returns_the_same_buffer(void **state)
{
    struct kval *v = *state;
    struct kstr *s;

    set(v, "hello, world");
    s = kval_make_raw(v, 5); /* a kstr from here on */
    assert_ptr_equal(v->u.s, s);
    assert_ptr_equal(kval_make_raw(v, 5), s);
    assert_ptr_equal(kval_make_raw(v, s->cap), s);
    assert_raw(v, "hello, world");
}

static void test_make_raw_grows_at_least_twofold_keeping_the_bytes(void **state)
{
    struct kval *v = *state;
    size_t cap;
    struct kstr *s;

    set(v, "abc");
    assert_non_null(kval_make_raw(v, 3));
    cap = v->u.s->cap;
    s = kval_make_raw(v, cap + 1);
    assert_non_null(s);
    assert_true(s->cap >= 2 * cap);
    assert_raw(v, "abc");
    s = kval_make_raw(v, 10 * s->cap);
    assert_non_null(s);
    assert_true(s->len == 3);
    assert_raw(v, "abc");
}

static void test_appending_byte_by_byte_reallocates_logarithmically(void **state)
{
    struct kval *v = *state;
    int grows = 0;

    set(v, "x");
    assert_non_null(kval_make_raw(v, 1));
    for (size_t i = 1; i < 100000; i++) {
        size_t cap = v->u.s->cap;
        struct kstr *s = kval_make_raw(v, i + 1);

        assert_non_null(s);
        grows += s->cap != cap;
        s->data[s->len++] = 'x';
    }
    assert_int_equal(kval_strlen(v), 100000);
    assert_true(grows < 40);
}

static void test_clear_leaves_an_empty_none_value(void **state)
{
    struct kval *v = *state;

    set(v, "some bytes");
    assert_true(kval_memory(v) >= strlen("some bytes"));
    kval_clear(v);
    assert_int_equal(v->type, KVAL_NONE);
    assert_null(v->u.p);
    assert_int_equal(kval_memory(v), 0);
    kval_clear(v);
}

#define T(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)

int main(void)
{
    const struct CMUnitTest tests[] = {
        T(test_make_raw_on_a_new_value_gives_an_empty_string),
        T(test_canonical_integer_strings_are_int_encoded),
        T(test_leading_zero_keeps_the_string_raw),
        T(test_negative_zero_keeps_the_string_raw),
        T(test_integers_out_of_long_long_range_stay_raw),
        T(test_signs_spaces_and_empty_strings_stay_raw),
        T(test_binary_bytes_round_trip_raw),
        T(test_short_strings_live_in_the_value_and_longer_ones_are_allocated),
        T(test_strings_up_to_bare_max_have_no_header),
        T(test_make_raw_converts_a_bare_string_keeping_its_bytes),
        T(test_make_raw_converts_a_short_string_keeping_its_bytes),
        T(test_set_int_replaces_a_raw_value),
        T(test_integer_string_replaces_a_raw_value),
        T(test_overwrite_of_similar_size_reuses_the_buffer),
        T(test_much_smaller_overwrite_does_not_keep_a_wasteful_buffer),
        T(test_make_raw_converts_an_integer_keeping_its_bytes),
        T(test_make_raw_of_an_integer_with_small_cap_keeps_every_byte),
        T(test_make_raw_within_capacity_returns_the_same_buffer),
        T(test_make_raw_grows_at_least_twofold_keeping_the_bytes),
        T(test_appending_byte_by_byte_reallocates_logarithmically),
        T(test_clear_leaves_an_empty_none_value),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
