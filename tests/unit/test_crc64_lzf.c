/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * test_crc64_lzf.c: Redis's CRC-64 against its published check value and a
 * bit-at-a-time model; LZF decompression of hand-made streams (literals,
 * overlapping back references, the long form) and of every truncation and
 * corruption of them, which must fail without reading or writing out of
 * bounds (run under ASan). crc64_combine against the CRC of the
 * concatenation; LZF compression round trips of repetitive, random and
 * edge-length inputs, and its refusal when the output does not fit.
 */
#include "shardis/crc64.h"
#include "shardis/lzf.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

/* The reflected CRC, one bit at a time. */
static uint64_t crc64_model(uint64_t crc, const uint8_t *p, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        crc ^= p[i];
        for (int k = 0; k < 8; k++) {
            crc = (crc & 1) ? (crc >> 1) ^ 0x95ac9329ac4bc9b5ULL : crc >> 1;
        }
    }
    return crc;
}

static void test_crc64_check_value_and_model(void **state)
{
    uint8_t buf[1000];

    (void)state;
    /* Redis's crc64.c self-test value */
    assert_true(crc64(0, "123456789", 9) == 0xe9c6d914c4b8d9caULL);
    srand(7);
    for (size_t i = 0; i < sizeof(buf); i++) {
        buf[i] = (uint8_t)rand();
    }
    for (size_t n = 0; n < sizeof(buf); n += 37) {
        assert_true(crc64(0, buf, n) == crc64_model(0, buf, n));
        /* continuing a crc is the crc of the whole */
        assert_true(crc64(crc64(0, buf, n / 2), buf + n / 2, n - n / 2) == crc64(0, buf, n));
    }
}

/* "abcabcabcabc" + 300 x 'z': literals, an overlapping short reference, a
 * long-form reference. */
static const uint8_t stream[] = {
    0x02, 'a',      'b',  'c', /* literal "abc" */
    0xe0, 0x00,     0x02,      /* len 7+0+2 = 9, back 3: "abcabcabc" */
    0x00, 'z',                 /* literal "z" */
    0xe0, 0xff - 7, 0x00,      /* 7 + 248 + 2 = 257, back 1: 'z' x 257 */
    0xe0, 0x20,     0x00,      /* 7 + 32 + 2 = 41, back 1 */
    0x00, 'z',                 /* literal "z" */
};

static void test_lzf_decompresses_references(void **state)
{
    char out[400], want[400];
    size_t n;

    (void)state;
    memcpy(want, "abcabcabcabc", 12);
    memset(want + 12, 'z', 300);
    n = lzf_decompress(stream, sizeof(stream), out, sizeof(out));
    assert_int_equal(n, 312);
    assert_memory_equal(out, want, 312);
    /* an output one byte short fails */
    assert_int_equal(lzf_decompress(stream, sizeof(stream), out, 311), 0);
}

static void test_lzf_bad_streams_fail_in_bounds(void **state)
{
    uint8_t bad[sizeof(stream)];

    (void)state;
    for (size_t cut = 1; cut < sizeof(stream); cut++) {
        uint8_t *in = malloc(cut);
        char *out = malloc(312);

        memcpy(in, stream, cut);
        /* a cut stream decodes less (or fails), never more */
        assert_true(lzf_decompress(in, cut, out, 312) < 312);
        free(in);
        free(out);
    }
    /* a reference before the start of the output */
    memcpy(bad, stream, sizeof(stream));
    bad[6] = 0x10; /* back 17, with 3 bytes written */
    assert_int_equal(lzf_decompress(bad, sizeof(bad), (char[400]){ 0 }, 400), 0);
    for (size_t i = 0; i < sizeof(stream); i++) {
        for (int v = 0; v < 256; v += 17) {
            char *out = malloc(320);

            memcpy(bad, stream, sizeof(stream));
            bad[i] = (uint8_t)v;
            (void)lzf_decompress(bad, sizeof(bad), out, 320);
            free(out);
        }
    }
}

static void test_crc64_combine_matches_concatenation(void **state)
{
    static const size_t lens[] = { 0, 1, 7, 8, 63, 64, 1000, 65536, 65537 };
    size_t max = 65537 * 2;
    uint8_t *buf = malloc(max);

    (void)state;
    srand(11);
    for (size_t i = 0; i < max; i++) {
        buf[i] = (uint8_t)rand();
    }
    for (size_t a = 0; a < sizeof(lens) / sizeof(lens[0]); a++) {
        for (size_t b = 0; b < sizeof(lens) / sizeof(lens[0]); b++) {
            size_t la = lens[a], lb = lens[b];
            uint64_t ca = crc64(0, buf, la), cb = crc64(0, buf + la, lb);

            assert_true(crc64_combine(ca, cb, lb) == crc64(0, buf, la + lb));
        }
    }
    for (int k = 0; k < 50; k++) {
        size_t la = (size_t)rand() % 70000, lb = (size_t)rand() % 60000;

        assert_true(crc64_combine(crc64(0, buf, la), crc64(0, buf + la, lb), lb) ==
                    crc64(0, buf, la + lb));
    }
    free(buf);
}

/* Compresses in, checks it decompresses to in; returns the compressed size
 * (0: did not fit out_len). */
static size_t lzf_round(const uint8_t *in, size_t n, size_t out_len)
{
    uint8_t *c = malloc(out_len + 1), *d = malloc(n + 1);
    size_t cn = lzf_compress(in, n, c, out_len);

    if (cn > 0) {
        assert_true(cn <= out_len);
        assert_int_equal(lzf_decompress(c, cn, d, n), n);
        assert_memory_equal(d, in, n);
        /* one byte less room fails cleanly */
        if (n > 1) {
            assert_int_equal(lzf_decompress(c, cn, d, n - 1), 0);
        }
    }
    free(c);
    free(d);
    return cn;
}

static void test_lzf_compress_round_trips(void **state)
{
    static const size_t lens[] = { 1, 2, 3, 4, 31, 32, 33, 264, 265, 8191, 8192, 8193, 100000 };
    uint8_t *buf = malloc(200000);

    (void)state;
    srand(5);
    assert_int_equal(lzf_compress("", 0, (char[8]){ 0 }, 8), 0);
    for (size_t i = 0; i < sizeof(lens) / sizeof(lens[0]); i++) {
        size_t n = lens[i];

        /* one byte repeated: long back references */
        memset(buf, 'z', n);
        assert_true(lzf_round(buf, n, n + n / 16 + 64) > 0);
        if (n > 300) {
            assert_true(lzf_round(buf, n, n) < n / 50);
        }
        /* random bytes: literal runs, a little bigger than the input */
        for (size_t k = 0; k < n; k++) {
            buf[k] = (uint8_t)rand();
        }
        assert_true(lzf_round(buf, n, n + n / 16 + 64) > 0);
        /* and no room for them fails */
        assert_int_equal(lzf_round(buf, n, n > 4 ? n - 4 : 0), 0);
        /* text with repeats at every distance up to 8 KiB and beyond */
        for (size_t k = 0; k < n; k++) {
            buf[k] = (uint8_t)("abcdefgh"[rand() % 8]);
            if (k > 9000 && rand() % 3) {
                buf[k] = buf[k - 8193 - (size_t)rand() % 3];
            }
        }
        assert_true(lzf_round(buf, n, n + n / 16 + 64) > 0);
    }
    /* Redis's own case: 60 bytes of "abc" */
    for (int k = 0; k < 60; k++) {
        buf[k] = (uint8_t) "abc"[k % 3];
    }
    assert_true(lzf_round(buf, 60, 56) > 0);
    free(buf);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_crc64_check_value_and_model),
        cmocka_unit_test(test_lzf_decompresses_references),
        cmocka_unit_test(test_lzf_bad_streams_fail_in_bounds),
        cmocka_unit_test(test_crc64_combine_matches_concatenation),
        cmocka_unit_test(test_lzf_compress_round_trips),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
