/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * test_bitops.c: the bitmap operations through their public header, each
 * against a naive model that looks at one bit at a time: popcount and bit
 * search over unaligned buffers of every length (runs of 0x00 and 0xff, so
 * the word loops skip), BITCOUNT's and BITPOS's ranges in bytes and bits
 * with negative and out-of-range ends, BITOP over sources of different
 * lengths, bitfield reads and writes at every offset and width, and
 * SET/INCRBY under WRAP/SAT/FAIL against exact 128-bit arithmetic, plus
 * Redis 7.0's two odd overflow results. Random inputs use fixed seeds.
 */
#include "shardis/bitops.h"

#include <limits.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#define BUF 300

static uint64_t rnd(uint64_t *s)
{
    uint64_t z = (*s += 0x9E3779B97F4A7C15ULL);

    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
    return z ^ (z >> 31);
}

/* Bytes that are often all zeros or all ones, so whole words get skipped. */
static void fill(uint8_t *p, size_t n, uint64_t *s)
{
    int mode = (int)(rnd(s) % 4);

    for (size_t i = 0; i < n; i++) {
        uint64_t r = rnd(s);

        if (mode == 0) {
            p[i] = (uint8_t)r;
        } else if (mode == 1) {
            p[i] = r % 64 ? 0 : (uint8_t)(1u << (r >> 8) % 8);
        } else if (mode == 2) {
            p[i] = r % 64 ? 0xff : (uint8_t) ~(1u << (r >> 8) % 8);
        } else {
            p[i] = r % 2 ? 0 : 0xff;
        }
    }
}

static int bit_at(const uint8_t *p, size_t len, uint64_t i)
{
    return i / 8 < len ? (p[i / 8] >> (7 - i % 8)) & 1 : 0;
}

/* ---- models ---- */

static void model_clamp(long long totlen, long long *start, long long *end)
{
    *start = *start < 0 ? *start + totlen : *start;
    *end = *end < 0 ? *end + totlen : *end;
    *start = *start < 0 ? 0 : *start;
    *end = *end < 0 ? 0 : *end;
    *end = *end >= totlen ? totlen - 1 : *end;
}

static long long model_count(const uint8_t *p, size_t len, long long start, long long end,
                             bool isbit)
{
    long long n = 0;

    if (start < 0 && end < 0 && start > end) {
        return 0;
    }
    model_clamp(isbit ? (long long)len * 8 : (long long)len, &start, &end);
    if (start > end) {
        return 0;
    }
    if (!isbit) {
        start *= 8;
        end = end * 8 + 7;
    }
    for (long long i = start; i <= end; i++) {
        n += bit_at(p, len, (uint64_t)i);
    }
    return n;
}

static long long model_pos(const uint8_t *p, size_t len, int bit, long long start, long long end,
                           bool end_given, bool isbit)
{
    long long totlen = isbit ? (long long)len * 8 : (long long)len;

    if (!end_given) {
        end = isbit ? totlen + 7 : totlen - 1;
    }
    model_clamp(totlen, &start, &end);
    if (start > end) {
        return -1;
    }
    if (!isbit) {
        start *= 8;
        end = end * 8 + 7;
    }
    for (long long i = start; i <= end; i++) {
        if (bit_at(p, len, (uint64_t)i) == bit) {
            return i;
        }
    }
    return bit == 0 && !end_given ? end + 1 : -1;
}

static uint64_t model_get(const uint8_t *p, uint64_t off, unsigned bits)
{
    uint64_t v = 0;

    for (unsigned j = 0; j < bits; j++) {
        v = v << 1 | (uint64_t)bit_at(p, BUF, off + j);
    }
    return v;
}

static void model_set(uint8_t *p, uint64_t off, unsigned bits, uint64_t v)
{
    for (unsigned j = 0; j < bits; j++) {
        uint64_t i = off + j;
        unsigned b = (unsigned)(v >> (bits - 1 - j)) & 1;

        p[i / 8] = (uint8_t)((p[i / 8] & ~(1u << (7 - i % 8))) | b << (7 - i % 8));
    }
}

static __int128 model_signed(uint64_t v, unsigned bits)
{
    __int128 x = (__int128)v;

    return bits < 64 && (v >> (bits - 1)) & 1 ? x - ((__int128)1 << bits)
           : bits == 64                       ? (__int128)(int64_t)v
                                              : x;
}

/* The reply and stored value of SET/INCRBY, from exact arithmetic; false
 * when FAIL refuses. */
static bool model_write(uint8_t *p, const struct bitops_field *f, bool incr, int64_t v,
                        enum bitops_overflow ow, int64_t *reply)
{
    __int128 one = 1, span = one << f->bits;
    __int128 min = f->sign ? -(span / 2) : 0, max = f->sign ? span / 2 - 1 : span - 1;
    uint64_t raw = model_get(p, f->offset, f->bits);
    __int128 old = f->sign ? model_signed(raw, f->bits) : (__int128)raw;
    __int128 want = incr ? old + v : (f->sign ? (__int128)v : (__int128)(uint64_t)v);
    __int128 res = want;
    bool up = want > max;

    /* Redis: max - value wraps for a SET far below the minimum; it then
     * counts as overflowing upwards */
    if (f->sign && f->bits < 64 && !incr && (__int128)v < max - INT64_MAX) {
        up = true;
    }
    if (want > max || want < min) {
        if (ow == BITOPS_FAIL) {
            return false;
        }
        if (ow == BITOPS_SAT) {
            res = up ? max : min;
        } else {
            res = ((want - min) % span + span) % span + min;
        }
    }
    model_set(p, f->offset, f->bits, (uint64_t)res);
    *reply = (int64_t)(incr ? res : old);
    return true;
}

/* ---- tests ---- */

static void test_popcount_matches_bit_by_bit_at_every_alignment(void **state)
{
    uint8_t buf[BUF];
    uint64_t s = 7;

    (void)state;
    for (int round = 0; round < 2000; round++) {
        size_t at = rnd(&s) % 16, n = rnd(&s) % (BUF - 16);
        long long want = 0;

        fill(buf, BUF, &s);
        for (uint64_t i = 0; i < n * 8; i++) {
            want += bit_at(buf + at, n, i);
        }
        assert_int_equal(bitops_popcount(buf + at, n), want);
    }
    assert_int_equal(bitops_popcount(NULL, 0), 0);
}

static void test_bitpos_finds_the_first_bit_or_reports_none(void **state)
{
    uint8_t buf[BUF];
    uint64_t s = 11;

    (void)state;
    for (int round = 0; round < 4000; round++) {
        size_t at = rnd(&s) % 16, n = rnd(&s) % (BUF - 16);
        int bit = (int)(rnd(&s) % 2);
        long long want = bit ? -1 : (long long)n * 8;

        fill(buf, BUF, &s);
        for (uint64_t i = 0; i < n * 8; i++) {
            if (bit_at(buf + at, n, i) == bit) {
                want = (long long)i;
                break;
            }
        }
        assert_int_equal(bitops_bitpos(buf + at, n, bit), want);
    }
}

/* A range end: small, negative, or far outside the string. */
static long long some_index(uint64_t *s, size_t len, bool isbit)
{
    long long span = (long long)len * (isbit ? 8 : 1) + 10;

    switch (rnd(s) % 6) {
    case 0:
        return -(long long)(rnd(s) % (uint64_t)(span + 1));
    case 1:
        return rnd(s) % 2 ? LLONG_MAX : LLONG_MIN;
    default:
        return (long long)(rnd(s) % (uint64_t)span);
    }
}

static void test_bitcount_ranges_in_bytes_and_bits(void **state)
{
    uint8_t buf[64];
    uint64_t s = 13;

    (void)state;
    for (int round = 0; round < 20000; round++) {
        size_t len = rnd(&s) % sizeof(buf);
        bool isbit = rnd(&s) % 2;
        long long a = some_index(&s, len, isbit), b = some_index(&s, len, isbit);

        fill(buf, sizeof(buf), &s);
        assert_int_equal(bitops_count(buf, len, a, b, isbit), model_count(buf, len, a, b, isbit));
    }
}

static void test_bitpos_ranges_with_and_without_an_end(void **state)
{
    uint8_t buf[64];
    uint64_t s = 17;

    (void)state;
    for (int round = 0; round < 20000; round++) {
        size_t len = rnd(&s) % sizeof(buf);
        bool isbit = rnd(&s) % 2, end_given = isbit || rnd(&s) % 2;
        int bit = (int)(rnd(&s) % 2);
        long long a = some_index(&s, len, isbit), b = some_index(&s, len, isbit);

        if (rnd(&s) % 4 == 0) {
            a = 0;
        }
        fill(buf, sizeof(buf), &s);
        assert_int_equal(bitops_pos(buf, len, bit, a, b, end_given, isbit),
                         model_pos(buf, len, bit, a, b, end_given, isbit));
    }
}

static void test_bitpos_of_zero_without_end_is_just_past_the_string(void **state)
{
    const uint8_t ones[3] = { 0xff, 0xff, 0xff };

    (void)state;
    assert_int_equal(bitops_pos(ones, 3, 0, 0, 0, false, false), 24);
    assert_int_equal(bitops_pos(ones, 3, 0, 1, 0, false, false), 24);
    assert_int_equal(bitops_pos(ones, 3, 0, 0, 2, true, false), -1);
    assert_int_equal(bitops_pos(ones, 3, 1, 5, 9, true, true), 5);
    assert_int_equal(bitops_pos(ones, 0, 0, 0, 0, false, false), -1);
}

static void test_bitop_matches_byte_by_byte(void **state)
{
    uint8_t src[5][80], res[80], want[80];
    const uint8_t *ptr[5];
    size_t len[5];
    uint64_t s = 19;

    (void)state;
    for (int round = 0; round < 5000; round++) {
        enum bitops_op op = (enum bitops_op)(rnd(&s) % 4);
        size_t n = op == BITOPS_NOT ? 1 : 1 + rnd(&s) % 5, maxlen = 0;

        for (size_t i = 0; i < n; i++) {
            len[i] = rnd(&s) % 8 == 0 ? 0 : rnd(&s) % sizeof(src[i]);
            fill(src[i], sizeof(src[i]), &s);
            ptr[i] = len[i] ? src[i] : NULL;
            maxlen = len[i] > maxlen ? len[i] : maxlen;
        }
        for (size_t j = 0; j < maxlen; j++) {
            unsigned o = j < len[0] ? src[0][j] : 0;

            o = op == BITOPS_NOT ? ~o : o;
            for (size_t i = 1; i < n; i++) {
                unsigned b = j < len[i] ? src[i][j] : 0;

                o = op == BITOPS_AND ? o & b : op == BITOPS_OR ? o | b : o ^ b;
            }
            want[j] = (uint8_t)o;
        }
        memset(res, 0xAA, sizeof(res));
        bitops_op(op, res, maxlen, ptr, len, n);
        assert_memory_equal(res, want, maxlen);
        if (maxlen < sizeof(res)) {
            assert_int_equal(res[maxlen], 0xAA); /* nothing past maxlen */
        }
    }
}

static void test_bitfield_get_and_set_at_every_offset_and_width(void **state)
{
    uint8_t buf[BUF], ref[BUF];
    uint64_t s = 23;

    (void)state;
    for (int round = 0; round < 20000; round++) {
        unsigned bits = 1 + (unsigned)(rnd(&s) % 64);
        uint64_t off = rnd(&s) % 200, v = rnd(&s);

        fill(buf, BUF, &s);
        memcpy(ref, buf, BUF);
        assert_int_equal(bitops_get_bits(buf, off, bits), model_get(buf, off, bits));
        bitops_set_bits(buf, off, bits, v);
        model_set(ref, off, bits, v);
        assert_memory_equal(buf, ref, BUF);
    }
}

static void test_bitfield_get_reads_zeros_past_the_end(void **state)
{
    const uint8_t p[2] = { 0x80, 0x01 };
    struct bitops_field f = { .offset = 15, .bits = 8, .sign = false };

    (void)state;
    assert_int_equal(bitops_field_get(p, 2, &f), 0x80);
    f.sign = true;
    assert_int_equal(bitops_field_get(p, 2, &f), -128);
    f.offset = 16;
    assert_int_equal(bitops_field_get(p, 2, &f), 0);
    f.offset = 1000;
    assert_int_equal(bitops_field_get(p, 2, &f), 0);
    f = (struct bitops_field){ .offset = 0, .bits = 64, .sign = true };
    assert_int_equal(bitops_field_get(p, 2, &f), (int64_t)0x8001000000000000ULL);
}

/* A random operand: small, near a bound of some width, or anything. */
static int64_t some_value(uint64_t *s)
{
    unsigned b = 1 + (unsigned)(rnd(s) % 64);
    int64_t edge = b == 64 ? INT64_MAX : (int64_t)((UINT64_C(1) << (b - 1)) - 1);

    switch (rnd(s) % 5) {
    case 0:
        return (int64_t)(rnd(s) % 21) - 10;
    case 1:
        return (int64_t)((uint64_t)edge + rnd(s) % 3 - 1); /* wraps past INT64_MAX */
    case 2:
        return (int64_t)(0 - (uint64_t)edge - rnd(s) % 3);
    default:
        return (int64_t)rnd(s);
    }
}

static void test_bitfield_writes_match_exact_arithmetic(void **state)
{
    uint8_t buf[40], ref[40];
    uint64_t s = 29;

    (void)state;
    for (int round = 0; round < 200000; round++) {
        struct bitops_field f = { .sign = rnd(&s) % 2, .offset = rnd(&s) % 100 };
        enum bitops_overflow ow = (enum bitops_overflow)(rnd(&s) % 3);
        bool incr = rnd(&s) % 2, changed, ok, want_ok;
        int64_t v = some_value(&s), got = 0, want = 0;
        uint64_t before;

        f.bits = 1 + (unsigned)(rnd(&s) % (f.sign ? 64 : 63));
        fill(buf, sizeof(buf), &s);
        memcpy(ref, buf, sizeof(buf));
        before = bitops_get_bits(buf, f.offset, f.bits);
        ok = bitops_field_write(buf, &f, incr, v, ow, &got, &changed);
        want_ok = model_write(ref, &f, incr, v, ow, &want);
        assert_int_equal(ok, want_ok);
        assert_memory_equal(buf, ref, sizeof(buf));
        if (ok) {
            assert_int_equal(got, want);
            assert_int_equal(changed, before != bitops_get_bits(buf, f.offset, f.bits));
        }
    }
}

static void test_redis_overflow_oddities_are_kept(void **state)
{
    uint8_t buf[16] = { 0 };
    struct bitops_field u8 = { .offset = 0, .bits = 8, .sign = false };
    struct bitops_field i8 = { .offset = 8, .bits = 8, .sign = true };
    struct bitops_field i64 = { .offset = 16, .bits = 64, .sign = true };
    int64_t r;
    bool changed;

    (void)state;
    /* an unsigned SET of -1 saturates to the maximum, not to 0 */
    assert_true(bitops_field_write(buf, &u8, false, -1, BITOPS_SAT, &r, &changed));
    assert_int_equal(bitops_field_get(buf, sizeof(buf), &u8), 255);
    /* a signed SET of INT64_MIN into i8 saturates to 127 */
    assert_true(bitops_field_write(buf, &i8, false, INT64_MIN, BITOPS_SAT, &r, &changed));
    assert_int_equal(bitops_field_get(buf, sizeof(buf), &i8), 127);
    assert_true(bitops_field_write(buf, &i8, false, INT64_MIN + 200, BITOPS_SAT, &r, &changed));
    assert_int_equal(bitops_field_get(buf, sizeof(buf), &i8), -128);
    /* i64 wraps around through INT64_MIN; FAIL leaves the bits alone */
    assert_true(bitops_field_write(buf, &i64, false, INT64_MAX, BITOPS_WRAP, &r, &changed));
    assert_true(bitops_field_write(buf, &i64, true, 1, BITOPS_WRAP, &r, &changed));
    assert_int_equal(r, INT64_MIN);
    assert_false(bitops_field_write(buf, &i64, true, -1, BITOPS_FAIL, &r, &changed));
    assert_int_equal(bitops_field_get(buf, sizeof(buf), &i64), INT64_MIN);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_popcount_matches_bit_by_bit_at_every_alignment),
        cmocka_unit_test(test_bitpos_finds_the_first_bit_or_reports_none),
        cmocka_unit_test(test_bitcount_ranges_in_bytes_and_bits),
        cmocka_unit_test(test_bitpos_ranges_with_and_without_an_end),
        cmocka_unit_test(test_bitpos_of_zero_without_end_is_just_past_the_string),
        cmocka_unit_test(test_bitop_matches_byte_by_byte),
        cmocka_unit_test(test_bitfield_get_and_set_at_every_offset_and_width),
        cmocka_unit_test(test_bitfield_get_reads_zeros_past_the_end),
        cmocka_unit_test(test_bitfield_writes_match_exact_arithmetic),
        cmocka_unit_test(test_redis_overflow_oddities_are_kept),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
