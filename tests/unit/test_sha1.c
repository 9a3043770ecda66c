/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * test_sha1.c: SHA-1 against the FIPS 180 example vectors and the lengths
 * around the padding boundaries (55, 56, 64, 119, 120 bytes), whose digests
 * come from an independent implementation (Python's hashlib), and the name
 * Redis gives a well-known script.
 */
#include "shardis/sh.h"
#include "shardis/sha1.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

static void hex_of(const void *p, size_t n, char hex[2 * SHA1_LEN + 1])
{
    uint8_t d[SHA1_LEN];

    sha1(p, n, d);
    sha1_hex(d, hex);
}

static void test_sha1_of_the_fips_examples(void **state)
{
    char hex[2 * SHA1_LEN + 1];
    const char *two_blocks = "abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq";

    (void)state;
    hex_of("", 0, hex);
    assert_string_equal(hex, "da39a3ee5e6b4b0d3255bfef95601890afd80709");
    hex_of(NULL, 0, hex);
    assert_string_equal(hex, "da39a3ee5e6b4b0d3255bfef95601890afd80709");
    hex_of("abc", 3, hex);
    assert_string_equal(hex, "a9993e364706816aba3e25717850c26c9cd0d89d");
    hex_of(two_blocks, strlen(two_blocks), hex);
    assert_string_equal(hex, "84983e441c3bd26ebaae4aa1f95129e5e54670f1");
}

static void test_sha1_of_a_million_a(void **state)
{
    char *m = sh_malloc(1000000), hex[2 * SHA1_LEN + 1];

    (void)state;
    memset(m, 'a', 1000000);
    hex_of(m, 1000000, hex);
    assert_string_equal(hex, "34aa973cd4c4daa4f61eeb2bdbad27316534016f");
    sh_free(m);
}

static void test_sha1_around_the_padding_boundaries(void **state)
{
    static const struct {
        size_t n;
        const char *hex;
    } cases[] = {
        { 55, "c1c8bbdc22796e28c0e15163d20899b65621d65a" },
        { 56, "c2db330f6083854c99d4b5bfb6e8f29f201be699" },
        { 64, "0098ba824b5c16427bd7a1122a5a442a25ec644d" },
        { 119, "ee971065aaa017e0632a8ca6c77bb3bf8b1dfc56" },
        { 120, "f34c1488385346a55709ba056ddd08280dd4c6d6" },
    };
    char m[128], hex[2 * SHA1_LEN + 1];

    (void)state;
    memset(m, 'a', sizeof(m));
    for (size_t i = 0; i < SH_ARRAY_LEN(cases); i++) {
        hex_of(m, cases[i].n, hex);
        assert_string_equal(hex, cases[i].hex);
    }
}

static void test_sha1_names_a_script_as_redis_does(void **state)
{
    char hex[2 * SHA1_LEN + 1];

    (void)state;
    /* SCRIPT LOAD "return 1" on redis-server 7.0 */
    hex_of("return 1", 8, hex);
    assert_string_equal(hex, "e0e1f9fabfc9d4800c877a703b823ac0578ff8db");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_sha1_of_the_fips_examples),
        cmocka_unit_test(test_sha1_of_a_million_a),
        cmocka_unit_test(test_sha1_around_the_padding_boundaries),
        cmocka_unit_test(test_sha1_names_a_script_as_redis_does),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
