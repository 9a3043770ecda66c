/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * test_crc64_lzf.c: Redis's CRC-64 against its published check value and a
 * bit-at-a-time model; LZF decompression of hand-made streams (literals,
 * overlapping back references, the long form) and of every truncation and
 * corruption of them, which must fail without reading or writing out of
 * bounds (run under ASan).
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

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_crc64_check_value_and_model),
        cmocka_unit_test(test_lzf_decompresses_references),
        cmocka_unit_test(test_lzf_bad_streams_fail_in_bounds),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
