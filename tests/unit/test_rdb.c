/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * test_rdb.c: the RDB value codec (rdb.h). Every type in every encoding goes
 * through rdb_put_value_payload and rdb_get_value and must come back equal
 * to a model, in the encoding the limits call for; real DUMP payloads of
 * Redis 7.0 and hand-made payloads in the forms it no longer writes
 * (ziplists, zipmaps, old LIST and ZSET, quicklist v1, plain nodes) decode
 * to known values; every truncation of a valid payload and random byte
 * flips fail cleanly (run under ASan to see that nothing reads out of
 * bounds); the primitives' forms are checked byte for byte.
 */
#include "shardis/crc64.h"
#include "shardis/intset.h"
#include "shardis/kval.h"
#include "shardis/lpack.h"
#include "shardis/rdb.h"
#include "shardis/thash.h"
#include "shardis/tlist.h"
#include "shardis/tset.h"
#include "shardis/tzset.h"

#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

static const struct kval_limits LIM = {
    .hash_max_listpack_entries = 512,
    .hash_max_listpack_value = 64,
    .list_max_listpack_size = -2,
    .set_max_intset_entries = 512,
    .set_max_listpack_entries = 128,
    .set_max_listpack_value = 64,
    .zset_max_listpack_entries = 128,
    .zset_max_listpack_value = 64,
};

/* ---- payloads taken from redis-server 7.0.15 (DUMP) ---- */

static const unsigned char redis_str[] = { 0x00, 0x05, 0x68, 0x65, 0x6c, 0x6c, 0x6f, 0x0a, 0x00,
                                           0x63, 0x72, 0xdf, 0x76, 0x65, 0x34, 0x20, 0x0a };
static const unsigned char redis_int[] = { 0x00, 0xc1, 0x18, 0xfc, 0x0a, 0x00, 0x46,
                                           0x02, 0x35, 0x5e, 0x70, 0x22, 0x5a, 0x90 };
static const unsigned char redis_lzf[] = { 0x00, 0xc3, 0x0b, 0x3c, 0x03, 0x61, 0x62, 0x63, 0x61,
                                           0xe0, 0x2d, 0x02, 0x01, 0x62, 0x63, 0x0a, 0x00, 0x6f,
                                           0x60, 0x29, 0xe4, 0xaf, 0xd7, 0x64, 0xac };
static const unsigned char redis_list[] = { 0x12, 0x01, 0x02, 0x1c, 0x1c, 0x00, 0x00, 0x00, 0x04,
                                            0x00, 0x81, 0x61, 0x02, 0x01, 0x01, 0xde, 0xd4, 0x02,
                                            0x8b, 0x68, 0x65, 0x6c, 0x6c, 0x6f, 0x20, 0x77, 0x6f,
                                            0x72, 0x6c, 0x64, 0x0c, 0xff, 0x0a, 0x00, 0x96, 0x70,
                                            0xb0, 0xc4, 0xf5, 0x9b, 0x64, 0xe5 };
static const unsigned char redis_intset[] = { 0x0b, 0x14, 0x04, 0x00, 0x00, 0x00, 0x03, 0x00,
                                              0x00, 0x00, 0x01, 0x00, 0x00, 0x00, 0x02, 0x00,
                                              0x00, 0x00, 0x70, 0x11, 0x01, 0x00, 0x0a, 0x00,
                                              0x85, 0xd5, 0xc1, 0x06, 0x5b, 0x1d, 0xd0, 0x55 };
static const unsigned char redis_set[] = { 0x02, 0x02, 0x01, 0x79, 0x01, 0x78, 0x0a, 0x00,
                                           0x0c, 0xdf, 0x6b, 0x3d, 0xb3, 0x30, 0xbc, 0xf0 };
static const unsigned char redis_zlp[] = { 0x11, 0x1c, 0x1c, 0x00, 0x00, 0x00, 0x06, 0x00,
                                           0x81, 0x62, 0x02, 0x83, 0x30, 0x2e, 0x35, 0x04,
                                           0x81, 0x61, 0x02, 0x01, 0x01, 0x81, 0x63, 0x02,
                                           0x83, 0x69, 0x6e, 0x66, 0x04, 0xff, 0x0a, 0x00,
                                           0x5e, 0xcb, 0x07, 0x7c, 0x3b, 0x42, 0x13, 0x70 };
static const unsigned char redis_zsl[] = { 0x05, 0x02, 0x01, 0x62, 0x00, 0x00, 0x00, 0x00, 0x00,
                                           0x00, 0x00, 0x40, 0xc3, 0x09, 0x40, 0x46, 0x01, 0x61,
                                           0x61, 0xe0, 0x39, 0x00, 0x01, 0x61, 0x61, 0x00, 0x00,
                                           0x00, 0x00, 0x00, 0x00, 0xf0, 0x3f, 0x0a, 0x00, 0x75,
                                           0x33, 0xcf, 0xf5, 0x2b, 0xa3, 0x6f, 0x43 };
static const unsigned char redis_hlp[] = { 0x10, 0x12, 0x12, 0x00, 0x00, 0x00, 0x04, 0x00,
                                           0x81, 0x66, 0x02, 0x81, 0x76, 0x02, 0x81, 0x6e,
                                           0x02, 0x0c, 0x01, 0xff, 0x0a, 0x00, 0x01, 0x36,
                                           0x94, 0x81, 0xd3, 0x5b, 0x89, 0x74 };
static const unsigned char redis_hht[] = { 0x04, 0x01, 0x01, 0x66, 0xc3, 0x09, 0x40, 0x46, 0x01,
                                           0x76, 0x76, 0xe0, 0x39, 0x00, 0x01, 0x76, 0x76, 0x0a,
                                           0x00, 0xf2, 0x1b, 0xfa, 0x0a, 0x02, 0xf2, 0x74, 0x9c };

/* ---- hand-made payloads (type byte and payload) in older forms ---- */

static const unsigned char old_list[] = { 0x01, 0x03, 0x01, 0x61, 0x01, 0x62, 0xc0, 0x07 };
static const unsigned char old_zset[] = { 0x03, 0x04, 0x01, 0x61, 0x03, 0x31, 0x2e,
                                          0x35, 0x01, 0x62, 0xfe, 0x01, 0x63, 0xff,
                                          0x01, 0x64, 0x02, 0x2d, 0x32 };
static const unsigned char zipmap_hash[] = {
    0x09, 0x41, 0x3f, 0x03, 0x01, 0x66, 0x01, 0x00, 0x76, 0xfe, 0x2c, 0x01, 0x00, 0x00, 0x67, 0x67,
    0x67, 0x67, 0x67, 0x67, 0x67, 0x67, 0x67, 0x67, 0x67, 0x67, 0x67, 0x67, 0x67, 0x67, 0x67, 0x67,
    0x67, 0x67, 0x67, 0x67, 0x67, 0x67, 0x67, 0x67, 0x67, 0x67, 0x67, 0x67, 0x67, 0x67, 0x67, 0x67,
    0x67, 0x67, 0x67, 0x67, 0x67, 0x67, 0x67, 0x67, 0x67, 0x67, 0x67, 0x67, 0x67, 0x67, 0x67, 0x67,
    0x67, 0x67, 0x67, 0x67, 0x67, 0x67, 0x67, 0x67, 0x67, 0x67, 0x67, 0x67, 0x67, 0x67, 0x67, 0x67,
    0x67, 0x67, 0x67, 0x67, 0x67, 0x67, 0x67, 0x67, 0x67, 0x67, 0x67, 0x67, 0x67, 0x67, 0x67, 0x67,
    0x67, 0x67, 0x67, 0x67, 0x67, 0x67, 0x67, 0x67, 0x67, 0x67, 0x67, 0x67, 0x67, 0x67, 0x67, 0x67,
    0x67, 0x67, 0x67, 0x67, 0x67, 0x67, 0x67, 0x67, 0x67, 0x67, 0x67, 0x67, 0x67, 0x67, 0x67, 0x67,
    0x67, 0x67, 0x67, 0x67, 0x67, 0x67, 0x67, 0x67, 0x67, 0x67, 0x67, 0x67, 0x67, 0x67, 0x67, 0x67,
    0x67, 0x67, 0x67, 0x67, 0x67, 0x67, 0x67, 0x67, 0x67, 0x67, 0x67, 0x67, 0x67, 0x67, 0x67, 0x67,
    0x67, 0x67, 0x67, 0x67, 0x67, 0x67, 0x67, 0x67, 0x67, 0x67, 0x67, 0x67, 0x67, 0x67, 0x67, 0x67,
    0x67, 0x67, 0x67, 0x67, 0x67, 0x67, 0x67, 0x67, 0x67, 0x67, 0x67, 0x67, 0x67, 0x67, 0x67, 0x67,
    0x67, 0x67, 0x67, 0x67, 0x67, 0x67, 0x67, 0x67, 0x67, 0x67, 0x67, 0x67, 0x67, 0x67, 0x67, 0x67,
    0x67, 0x67, 0x67, 0x67, 0x67, 0x67, 0x67, 0x67, 0x67, 0x67, 0x67, 0x67, 0x67, 0x67, 0x67, 0x67,
    0x67, 0x67, 0x67, 0x67, 0x67, 0x67, 0x67, 0x67, 0x67, 0x67, 0x67, 0x67, 0x67, 0x67, 0x67, 0x67,
    0x67, 0x67, 0x67, 0x67, 0x67, 0x67, 0x67, 0x67, 0x67, 0x67, 0x67, 0x67, 0x67, 0x67, 0x67, 0x67,
    0x67, 0x67, 0x67, 0x67, 0x67, 0x67, 0x67, 0x67, 0x67, 0x67, 0x67, 0x67, 0x67, 0x67, 0x67, 0x67,
    0x67, 0x67, 0x67, 0x67, 0x67, 0x67, 0x67, 0x67, 0x67, 0x67, 0x67, 0x67, 0x67, 0x67, 0x67, 0x67,
    0x67, 0x67, 0x67, 0x67, 0x67, 0x67, 0x67, 0x67, 0x67, 0x67, 0x67, 0x67, 0x67, 0x67, 0x67, 0x67,
    0x67, 0x67, 0x67, 0x67, 0x67, 0x67, 0x67, 0x67, 0x67, 0x67, 0x01, 0x00, 0x31, 0x01, 0x68, 0x00,
    0x00, 0xff
};
static const unsigned char zl_list[] = {
    0x0a, 0x41, 0x5a, 0x5a, 0x01, 0x00, 0x00, 0x2a, 0x00, 0x00, 0x00, 0x08, 0x00, 0x00, 0x01, 0x61,
    0x03, 0xf6, 0x02, 0xfe, 0x9c, 0x03, 0xc0, 0xe8, 0x03, 0x04, 0xf0, 0xa0, 0x86, 0x01, 0x05, 0xe0,
    0x00, 0x00, 0x00, 0x00, 0x00, 0x01, 0x00, 0x00, 0x0a, 0xf0, 0x00, 0x00, 0xf0, 0x05, 0x41, 0x2c,
    0x78, 0x78, 0x78, 0x78, 0x78, 0x78, 0x78, 0x78, 0x78, 0x78, 0x78, 0x78, 0x78, 0x78, 0x78, 0x78,
    0x78, 0x78, 0x78, 0x78, 0x78, 0x78, 0x78, 0x78, 0x78, 0x78, 0x78, 0x78, 0x78, 0x78, 0x78, 0x78,
    0x78, 0x78, 0x78, 0x78, 0x78, 0x78, 0x78, 0x78, 0x78, 0x78, 0x78, 0x78, 0x78, 0x78, 0x78, 0x78,
    0x78, 0x78, 0x78, 0x78, 0x78, 0x78, 0x78, 0x78, 0x78, 0x78, 0x78, 0x78, 0x78, 0x78, 0x78, 0x78,
    0x78, 0x78, 0x78, 0x78, 0x78, 0x78, 0x78, 0x78, 0x78, 0x78, 0x78, 0x78, 0x78, 0x78, 0x78, 0x78,
    0x78, 0x78, 0x78, 0x78, 0x78, 0x78, 0x78, 0x78, 0x78, 0x78, 0x78, 0x78, 0x78, 0x78, 0x78, 0x78,
    0x78, 0x78, 0x78, 0x78, 0x78, 0x78, 0x78, 0x78, 0x78, 0x78, 0x78, 0x78, 0x78, 0x78, 0x78, 0x78,
    0x78, 0x78, 0x78, 0x78, 0x78, 0x78, 0x78, 0x78, 0x78, 0x78, 0x78, 0x78, 0x78, 0x78, 0x78, 0x78,
    0x78, 0x78, 0x78, 0x78, 0x78, 0x78, 0x78, 0x78, 0x78, 0x78, 0x78, 0x78, 0x78, 0x78, 0x78, 0x78,
    0x78, 0x78, 0x78, 0x78, 0x78, 0x78, 0x78, 0x78, 0x78, 0x78, 0x78, 0x78, 0x78, 0x78, 0x78, 0x78,
    0x78, 0x78, 0x78, 0x78, 0x78, 0x78, 0x78, 0x78, 0x78, 0x78, 0x78, 0x78, 0x78, 0x78, 0x78, 0x78,
    0x78, 0x78, 0x78, 0x78, 0x78, 0x78, 0x78, 0x78, 0x78, 0x78, 0x78, 0x78, 0x78, 0x78, 0x78, 0x78,
    0x78, 0x78, 0x78, 0x78, 0x78, 0x78, 0x78, 0x78, 0x78, 0x78, 0x78, 0x78, 0x78, 0x78, 0x78, 0x78,
    0x78, 0x78, 0x78, 0x78, 0x78, 0x78, 0x78, 0x78, 0x78, 0x78, 0x78, 0x78, 0x78, 0x78, 0x78, 0x78,
    0x78, 0x78, 0x78, 0x78, 0x78, 0x78, 0x78, 0x78, 0x78, 0x78, 0x78, 0x78, 0x78, 0x78, 0x78, 0x78,
    0x78, 0x78, 0x78, 0x78, 0x78, 0x78, 0x78, 0x78, 0x78, 0x78, 0x78, 0x78, 0x78, 0x78, 0x78, 0x78,
    0x78, 0x78, 0x78, 0x78, 0x78, 0x78, 0x78, 0x78, 0x78, 0x78, 0x78, 0x78, 0x78, 0x78, 0x78, 0x78,
    0x78, 0x78, 0x78, 0x78, 0x78, 0x78, 0x78, 0x78, 0x78, 0x78, 0x78, 0x78, 0x78, 0x78, 0x78, 0x78,
    0x78, 0x78, 0x78, 0x78, 0x78, 0x78, 0x78, 0x78, 0x78, 0x78, 0x78, 0x78, 0xff
};
static const unsigned char zl_zset[] = { 0x0c, 0x1e, 0x1e, 0x00, 0x00, 0x00, 0x18, 0x00,
                                         0x00, 0x00, 0x06, 0x00, 0x00, 0xf8, 0x02, 0x02,
                                         0x2d, 0x33, 0x04, 0x01, 0x61, 0x03, 0xf2, 0x02,
                                         0x01, 0x62, 0x03, 0x03, 0x32, 0x2e, 0x35, 0xff };
static const unsigned char zl_hash[] = { 0x0d, 0x15, 0x15, 0x00, 0x00, 0x00, 0x12, 0x00,
                                         0x00, 0x00, 0x04, 0x00, 0x00, 0x01, 0x66, 0x03,
                                         0x01, 0x76, 0x03, 0xf2, 0x02, 0xf3, 0xff };
static const unsigned char ql1_list[] = {
    0x0e, 0x02, 0x11, 0x11, 0x00, 0x00, 0x00, 0x0d, 0x00, 0x00, 0x00, 0x02, 0x00, 0x00, 0x01, 0x61,
    0x03, 0x01, 0x62, 0xff, 0x40, 0x74, 0x74, 0x00, 0x00, 0x00, 0x0c, 0x00, 0x00, 0x00, 0x02, 0x00,
    0x00, 0xf4, 0x02, 0x40, 0x64, 0x63, 0x63, 0x63, 0x63, 0x63, 0x63, 0x63, 0x63, 0x63, 0x63, 0x63,
    0x63, 0x63, 0x63, 0x63, 0x63, 0x63, 0x63, 0x63, 0x63, 0x63, 0x63, 0x63, 0x63, 0x63, 0x63, 0x63,
    0x63, 0x63, 0x63, 0x63, 0x63, 0x63, 0x63, 0x63, 0x63, 0x63, 0x63, 0x63, 0x63, 0x63, 0x63, 0x63,
    0x63, 0x63, 0x63, 0x63, 0x63, 0x63, 0x63, 0x63, 0x63, 0x63, 0x63, 0x63, 0x63, 0x63, 0x63, 0x63,
    0x63, 0x63, 0x63, 0x63, 0x63, 0x63, 0x63, 0x63, 0x63, 0x63, 0x63, 0x63, 0x63, 0x63, 0x63, 0x63,
    0x63, 0x63, 0x63, 0x63, 0x63, 0x63, 0x63, 0x63, 0x63, 0x63, 0x63, 0x63, 0x63, 0x63, 0x63, 0x63,
    0x63, 0x63, 0x63, 0x63, 0x63, 0x63, 0x63, 0x63, 0x63, 0xff
};
static const unsigned char ql2_plain[] = {
    0x12, 0x02, 0x01, 0x05, 0x70, 0x6c, 0x61, 0x69, 0x6e, 0x01, 0x40, 0x46, 0x78, 0x78,
    0x78, 0x78, 0x78, 0x78, 0x78, 0x78, 0x78, 0x78, 0x78, 0x78, 0x78, 0x78, 0x78, 0x78,
    0x78, 0x78, 0x78, 0x78, 0x78, 0x78, 0x78, 0x78, 0x78, 0x78, 0x78, 0x78, 0x78, 0x78,
    0x78, 0x78, 0x78, 0x78, 0x78, 0x78, 0x78, 0x78, 0x78, 0x78, 0x78, 0x78, 0x78, 0x78,
    0x78, 0x78, 0x78, 0x78, 0x78, 0x78, 0x78, 0x78, 0x78, 0x78, 0x78, 0x78, 0x78, 0x78,
    0x78, 0x78, 0x78, 0x78, 0x78, 0x78, 0x78, 0x78, 0x78, 0x78, 0x78, 0x78
};

static uint64_t rnd_state = 88172645463325252ULL;

static uint64_t rnd(void)
{
    rnd_state ^= rnd_state << 13;
    rnd_state ^= rnd_state >> 7;
    rnd_state ^= rnd_state << 17;
    return rnd_state;
}

/* The i-th element of a model: integers, short and long strings. */
static size_t elem(char *buf, unsigned salt, size_t i, size_t maxlen)
{
    switch ((i + salt) % 4) {
    case 0:
        return (size_t)snprintf(buf, 32, "%lld", (long long)i * 7919 - 5000);
    case 1:
        return (size_t)snprintf(buf, 32, "%zu", i << 33);
    default: {
        size_t n = (size_t)snprintf(buf, 32, "e%zu.%u", i, salt);
        size_t want = maxlen > n ? n + (i * 13) % (maxlen - n + 1) : n;

        for (size_t k = n; k < want; k++) {
            buf[k] = (char)('a' + (k + i) % 26);
        }
        return want;
    }
    }
}

/* Serializes v and reads it back into *out (which must then be freed). */
static void round_trip(const struct kval *v, struct kval *out, bool compress)
{
    struct rdb_out o;
    struct rdb_in in;
    uint64_t r = 42;

    rdb_out_init(&o, compress);
    rdb_put_value_payload(&o, v);
    rdb_in_init(&in, o.data, o.len);
    *out = (struct kval){ 0 };
    assert_true(rdb_get_value(&in, rdb_value_type(v), out, &LIM, &r));
    assert_int_equal(in.pos, o.len);
    /* every truncation fails, and leaves nothing behind */
    for (size_t cut = 0; cut < o.len; cut += 1 + o.len / 97) {
        struct kval t = { 0 };

        rdb_in_init(&in, o.data, cut);
        assert_false(rdb_get_value(&in, rdb_value_type(v), &t, &LIM, &r));
        assert_int_equal(t.type, KVAL_NONE);
        assert_true(in.failed);
        assert_non_null(strstr(in.err, "at offset"));
    }
    /* and skipping moves past exactly the payload */
    rdb_in_init(&in, o.data, o.len);
    assert_true(rdb_skip_value(&in, rdb_value_type(v)));
    assert_int_equal(in.pos, o.len);
    rdb_out_free(&o);
}

static void test_strings_round_trip(void **state)
{
    static const char *vals[] = { "0",
                                  "-1",
                                  "127",
                                  "-128",
                                  "32767",
                                  "-32769",
                                  "2147483647",
                                  "-2147483649",
                                  "9223372036854775807",
                                  "007",
                                  "",
                                  "hi",
                                  "-0",
                                  "1 ",
                                  "+1" };
    char big[3000];

    (void)state;
    for (size_t i = 0; i < sizeof(vals) / sizeof(vals[0]); i++) {
        struct kval v = { 0 }, w;
        char buf[24];
        size_t n;
        const char *p;

        assert_int_equal(kval_set_string(&v, vals[i], strlen(vals[i])), 0);
        round_trip(&v, &w, true);
        p = kval_string(&w, buf, &n);
        assert_int_equal(n, strlen(vals[i]));
        assert_memory_equal(p, vals[i], n);
        assert_int_equal(w.enc, v.enc);
        kval_clear(&v);
        kval_clear(&w);
    }
    for (int k = 0; k < 2; k++) {
        struct kval v = { 0 }, w;
        size_t n;

        for (size_t i = 0; i < sizeof(big); i++) {
            big[i] = k ? (char)rnd() : (char)('a' + i % 5);
        }
        assert_int_equal(kval_set_string(&v, big, sizeof(big)), 0);
        round_trip(&v, &w, k == 0);
        assert_memory_equal(kval_string(&w, NULL, &n), big, sizeof(big));
        kval_clear(&v);
        kval_clear(&w);
    }
}

static void check_list(const struct kval *v, unsigned salt, size_t n, size_t maxlen)
{
    struct tlist_iter it;
    struct sh_slice s;
    char want[64];
    size_t i = 0;

    assert_int_equal(tlist_len(v), n);
    tlist_iter_init(&it, v, 0, false);
    while (tlist_iter_next(&it, &s)) {
        size_t wl = elem(want, salt, i++, maxlen);

        assert_int_equal(s.len, wl);
        assert_memory_equal(s.ptr, want, wl);
    }
    assert_int_equal(i, n);
}

static void test_lists_round_trip(void **state)
{
    static const size_t sizes[] = { 1, 5, 100, 2000, 20000 };

    (void)state;
    for (size_t k = 0; k < sizeof(sizes) / sizeof(sizes[0]); k++) {
        struct kval v = { 0 }, w;
        char buf[64];

        for (size_t i = 0; i < sizes[k]; i++) {
            size_t n = elem(buf, (unsigned)k, i, 40);

            tlist_push(&v, TLIST_TAIL, buf, n, &LIM);
        }
        round_trip(&v, &w, k % 2);
        check_list(&w, (unsigned)k, sizes[k], 40);
        assert_int_equal(w.enc, v.enc);
        kval_clear(&v);
        kval_clear(&w);
    }
}

static void check_set(struct kval *v, unsigned salt, size_t n, size_t maxlen)
{
    char want[64];

    assert_int_equal(tset_size(v), n);
    for (size_t i = 0; i < n; i++) {
        size_t wl = elem(want, salt, i, maxlen);

        assert_true(tset_has(v, want, wl));
    }
}

static void test_sets_round_trip(void **state)
{
    static const struct {
        size_t n;
        bool ints;
        int enc;
    } cases[] = {
        { 3, true, KVAL_ENC_INTSET },      { 500, true, KVAL_ENC_INTSET },
        { 600, true, KVAL_ENC_HASHTABLE }, { 10, false, KVAL_ENC_LISTPACK },
        { 128, false, KVAL_ENC_LISTPACK }, { 1000, false, KVAL_ENC_HASHTABLE },
    };

    (void)state;
    for (size_t k = 0; k < sizeof(cases) / sizeof(cases[0]); k++) {
        struct kval v = { 0 }, w;
        uint64_t r = 1;
        char buf[64];

        for (size_t i = 0; i < cases[k].n; i++) {
            size_t n = cases[k].ints ? (size_t)snprintf(buf, 32, "%lld", (long long)i * 3 - 99)
                                     : elem(buf, 2, i, 30);

            tset_add(&v, buf, n, &LIM, &r, NULL);
        }
        assert_int_equal(v.enc, cases[k].enc);
        round_trip(&v, &w, true);
        assert_int_equal(w.enc, cases[k].enc);
        if (!cases[k].ints) {
            check_set(&w, 2, cases[k].n, 30);
        } else {
            assert_int_equal(tset_size(&w), cases[k].n);
            assert_true(tset_has(&w, "-99", 3));
        }
        kval_clear(&v);
        kval_clear(&w);
    }
}

static double score_of(size_t i)
{
    static const double specials[] = { INFINITY, -INFINITY, 0.1, -0.0, 1e300, 3 };

    return i < 6 ? specials[i] : (double)(i % 17) * 0.37 - 2;
}

static void check_zset(const struct kval *v, size_t n, size_t maxlen)
{
    char want[64];

    assert_int_equal(tzset_card(v), n);
    assert_int_equal(tzset_check(v, &LIM), 0);
    for (size_t i = 0; i < n; i++) {
        size_t wl = elem(want, 3, i, maxlen);
        double s;

        assert_true(tzset_score(v, want, wl, &s));
        assert_true(s == score_of(i));
    }
}

static void test_zsets_round_trip(void **state)
{
    static const struct {
        size_t n, maxlen;
        int enc;
    } cases[] = {
        { 1, 10, KVAL_ENC_LISTPACK }, { 100, 20, KVAL_ENC_LISTPACK },
        { 3, 63, KVAL_ENC_LISTPACK }, { 129, 20, KVAL_ENC_SKIPLIST },
        { 5, 64, KVAL_ENC_LISTPACK }, { 2000, 30, KVAL_ENC_SKIPLIST },
    };

    (void)state;
    for (size_t k = 0; k < sizeof(cases) / sizeof(cases[0]); k++) {
        struct kval v = { 0 }, w;
        char buf[80];

        for (size_t i = 0; i < cases[k].n; i++) {
            size_t n = elem(buf, 3, i, cases[k].maxlen);

            if (i == 0) {
                tzset_init(&v, n, &LIM, 7);
            }
            assert_true(tzset_add(&v, buf, n, score_of(i), 0, NULL, &LIM, 7) & TZSET_OUT_ADDED);
        }
        round_trip(&v, &w, true);
        assert_int_equal(w.enc, cases[k].enc);
        check_zset(&w, cases[k].n, cases[k].maxlen);
        kval_clear(&v);
        kval_clear(&w);
    }
}

static void test_hashes_round_trip(void **state)
{
    static const struct {
        size_t n, maxlen;
        int enc;
    } cases[] = {
        { 1, 10, KVAL_ENC_LISTPACK },    { 512, 20, KVAL_ENC_LISTPACK },
        { 513, 20, KVAL_ENC_HASHTABLE }, { 10, 200, KVAL_ENC_HASHTABLE },
        { 3000, 8, KVAL_ENC_HASHTABLE },
    };

    (void)state;
    for (size_t k = 0; k < sizeof(cases) / sizeof(cases[0]); k++) {
        struct kval v = { 0 }, w;
        uint64_t r = 9;
        char f[256], val[256], got_buf[THASH_BUF];
        struct sh_slice got;

        thash_init(&v);
        for (size_t i = 0; i < cases[k].n; i++) {
            size_t fl = elem(f, 4, i, cases[k].maxlen), vl = elem(val, 5, i, cases[k].maxlen);

            assert_int_equal(thash_set(&v, f, fl, val, vl, &LIM, &r), 1);
        }
        assert_int_equal(v.enc, cases[k].enc);
        round_trip(&v, &w, false);
        assert_int_equal(w.enc, cases[k].enc);
        assert_int_equal(thash_len(&w), cases[k].n);
        for (size_t i = 0; i < cases[k].n; i++) {
            size_t fl = elem(f, 4, i, cases[k].maxlen), vl = elem(val, 5, i, cases[k].maxlen);

            assert_true(thash_get(&w, f, fl, got_buf, &got));
            assert_int_equal(got.len, vl);
            assert_memory_equal(got.ptr, val, vl);
        }
        kval_clear(&v);
        kval_clear(&w);
    }
}

/* Restores a DUMP payload; returns the value (KVAL_NONE when refused). */
static struct kval restore(const unsigned char *p, size_t len)
{
    struct kval v = { 0 };
    char err[128];
    uint64_t r = 3;

    if (!rdb_restore(p, len, &v, &LIM, &r, err, sizeof(err))) {
        assert_int_equal(v.type, KVAL_NONE);
    }
    return v;
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* The elements of v as one string "a,b,c" (a set or hash: sorted). */
static char *flat(struct kval *v)
{
    static char out[16384];
    char *lines[256];
    size_t n = 0, len = 0;
    struct sh_slice s, t;
    char buf[64];

    switch (v->type) {
    case KVAL_STRING:
        s.ptr = kval_string(v, buf, &s.len);
        snprintf(out, sizeof(out), "%.*s", (int)s.len, s.ptr);
        return out;
    case KVAL_LIST: {
        struct tlist_iter it;

        tlist_iter_init(&it, v, 0, false);
        while (tlist_iter_next(&it, &s)) {
            lines[n++] = strndup(s.ptr, s.len);
        }
        break;
    }
    case KVAL_SET: {
        struct tset_iter it;

        tset_iter_init(&it, v);
        while (tset_iter_next(&it, &s)) {
            lines[n++] = strndup(s.ptr, s.len);
        }
        tset_iter_fini(&it);
        break;
    }
    case KVAL_ZSET: {
        struct tzset_iter it;
        struct tzset_elem e;

        tzset_iter_rank(&it, v, 0, false, tzset_card(v));
        while (tzset_iter_next(&it, &e)) {
            char *l;

            assert_true(asprintf(&l, "%.*s=%g", (int)e.member.len, e.member.ptr, e.score) > 0);
            lines[n++] = l;
        }
        break;
    }
    default: {
        struct thash_iter it;

        thash_iter_init(&it, v);
        while (thash_iter_next(&it, &s, &t)) {
            char *l;

            assert_true(asprintf(&l, "%.*s=%.*s", (int)s.len, s.ptr, (int)t.len, t.ptr) > 0);
            lines[n++] = l;
        }
        thash_iter_fini(&it);
        break;
    }
    }
    if (v->type == KVAL_SET || v->type == KVAL_HASH) {
        qsort(lines, n, sizeof(lines[0]), cmp_str);
    }
    out[0] = '\0';
    for (size_t i = 0; i < n; i++) {
        len += (size_t)snprintf(out + len, sizeof(out) - len, "%s%s", i ? "," : "", lines[i]);
        free(lines[i]);
    }
    return out;
}

static void test_redis_payloads_decode(void **state)
{
    static const struct {
        const unsigned char *p;
        size_t len;
        int type, enc;
        const char *want;
    } cases[] = {
#define P(a) a, sizeof(a)
        { P(redis_str), KVAL_STRING, KVAL_ENC_RAW, "hello" },
        { P(redis_int), KVAL_STRING, KVAL_ENC_INT, "-1000" },
        { P(redis_lzf), KVAL_STRING, KVAL_ENC_RAW,
          "abcabcabcabcabcabcabcabcabcabcabcabcabcabcabcabcabcabcabcabc" },
        { P(redis_list), KVAL_LIST, KVAL_ENC_LISTPACK, "a,1,-300,hello world" },
        { P(redis_intset), KVAL_SET, KVAL_ENC_INTSET, "1,2,70000" },
        { P(redis_set), KVAL_SET, KVAL_ENC_LISTPACK, "x,y" },
        { P(redis_zlp), KVAL_ZSET, KVAL_ENC_LISTPACK, "b=0.5,a=1,c=inf" },
        { P(redis_zsl), KVAL_ZSET, KVAL_ENC_SKIPLIST,
          "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa=1,b=2" },
        { P(redis_hlp), KVAL_HASH, KVAL_ENC_LISTPACK, "f=v,n=12" },
        { P(redis_hht), KVAL_HASH, KVAL_ENC_HASHTABLE,
          "f=vvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvv" },
#undef P
    };

    (void)state;
    for (size_t k = 0; k < sizeof(cases) / sizeof(cases[0]); k++) {
        struct kval v = restore(cases[k].p, cases[k].len);
        unsigned char *copy = malloc(cases[k].len);

        assert_int_equal(v.type, cases[k].type);
        assert_int_equal(v.enc, cases[k].enc);
        assert_string_equal(flat(&v), cases[k].want);
        /* what we write of it is what Redis wrote, except where our forms
         * differ (LZF's choices, a hashtable set, a skiplist or hashtable's
         * order) */
        if (k < 5 && k != 2) {
            size_t n;
            char *d = rdb_dump(&v, &n);

            assert_int_equal(n, cases[k].len);
            assert_memory_equal(d, cases[k].p, n);
            free(d);
        }
        kval_clear(&v);
        /* a cut payload, or one with a byte changed, is refused */
        for (size_t cut = 0; cut < cases[k].len; cut++) {
            v = restore(cases[k].p, cut);
            assert_int_equal(v.type, KVAL_NONE);
        }
        for (size_t i = 0; i < cases[k].len; i++) {
            memcpy(copy, cases[k].p, cases[k].len);
            copy[i] ^= (uint8_t)(1 + rnd() % 255);
            v = restore(copy, cases[k].len);
            assert_int_equal(v.type, KVAL_NONE);
        }
        free(copy);
    }
}

/* Decodes body (type byte, then payload). */
static bool decode(const unsigned char *body, size_t len, struct kval *v)
{
    struct rdb_in in;
    uint64_t r = 5;

    *v = (struct kval){ 0 };
    rdb_in_init(&in, body + 1, len - 1);
    if (len == 0 || !rdb_get_value(&in, body[0], v, &LIM, &r)) {
        assert_int_equal(v->type, KVAL_NONE);
        return false;
    }
    return true;
}

static void test_old_forms_decode(void **state)
{
    static char g300[400];
    static const struct {
        const unsigned char *p;
        size_t len;
        int enc;
        const char *want;
    } cases[] = {
#define P(a) a, sizeof(a)
        { P(old_list), KVAL_ENC_LISTPACK, "a,b,7" },
        { P(old_zset), KVAL_ENC_LISTPACK, "c=-inf,d=-2,a=1.5,b=inf" },
        { P(zipmap_hash), KVAL_ENC_HASHTABLE, NULL },
        { P(zl_list), KVAL_ENC_LISTPACK, NULL },
        { P(zl_zset), KVAL_ENC_LISTPACK, "7=-3,a=1,b=2.5" },
        { P(zl_hash), KVAL_ENC_LISTPACK, "1=2,f=v" },
        { P(ql1_list), KVAL_ENC_LISTPACK, NULL },
        { P(ql2_plain), KVAL_ENC_LISTPACK, NULL },
#undef P
    };
    char want[1024];

    (void)state;
    memset(g300, 'g', 300);
    for (size_t k = 0; k < sizeof(cases) / sizeof(cases[0]); k++) {
        struct kval v;
        unsigned char *copy = malloc(cases[k].len);

        assert_true(decode(cases[k].p, cases[k].len, &v));
        assert_int_equal(v.enc, cases[k].enc);
        switch (k) {
        case 2:
            snprintf(want, sizeof(want), "f=v,%.300s=1,h=", g300);
            break;
        case 3: {
            char xs[301];

            memset(xs, 'x', 300);
            xs[300] = '\0';
            snprintf(want, sizeof(want), "a,5,-100,1000,100000,%lld,%d,%s", 1LL << 40, -(1 << 20),
                     xs);
            break;
        }
        case 6:
            snprintf(want, sizeof(want), "a,b,3,%0100d", 0);
            memset(want + 6, 'c', 100);
            break;
        case 7:
            snprintf(want, sizeof(want), "plain,%070d", 0);
            memset(want + 6, 'x', 70);
            break;
        default:
            snprintf(want, sizeof(want), "%s", cases[k].want);
            break;
        }
        assert_string_equal(flat(&v), want);
        kval_clear(&v);
        for (size_t cut = 0; cut < cases[k].len; cut++) {
            assert_false(decode(cases[k].p, cut, &v));
        }
        /* flips may decode to another value; they must not crash */
        for (size_t i = 1; i < cases[k].len; i++) {
            for (int t = 0; t < 4; t++) {
                memcpy(copy, cases[k].p, cases[k].len);
                copy[i] ^= (uint8_t)(1 + rnd() % 255);
                if (decode(copy, cases[k].len, &v)) {
                    (void)flat(&v);
                    kval_clear(&v);
                }
            }
        }
        free(copy);
    }
}

static void test_refused_payloads(void **state)
{
    static const unsigned char bad[][24] = {
        { RDB_TYPE_SET, 0 },                 /* empty */
        { RDB_TYPE_LIST, 0 },                /* empty */
        { RDB_TYPE_ZSET_2, 0 },              /* empty */
        { RDB_TYPE_SET, 2, 1, 'a', 1, 'a' }, /* duplicate */
        { RDB_TYPE_HASH, 2, 1, 'f', 1, '1', 1, 'f', 1, '2' },
        { RDB_TYPE_ZSET, 2, 1, 'm', 1, '1', 1, 'm', 1, '2' },
        { RDB_TYPE_ZSET, 1, 1, 'm', 253 },    /* NaN score */
        { RDB_TYPE_ZSET, 1, 1, 'm', 1, 'x' }, /* not a number */
        { RDB_TYPE_MODULE_2, 0 },
        { RDB_TYPE_STREAM_LISTPACKS, 0 },
        { 8, 0 },
        { RDB_TYPE_LIST_QUICKLIST_2, 1, 3, 1, 'a' },                    /* container 3 */
        { RDB_TYPE_LIST_QUICKLIST_2, 1, 2, 7, 7, 0, 0, 0, 0, 0, 0xff }, /* empty node only */
        { RDB_TYPE_STRING, 0xc3, 1, 0x40, 0x80, 0 }, /* LZF of 16384 from 1 byte */
        { RDB_TYPE_STRING, 0xc4 },                   /* unknown string form */
        { RDB_TYPE_STRING, 0x82, 0, 0, 0, 0 },       /* unknown length form */
    };
    struct kval v;

    (void)state;
    for (size_t k = 0; k < sizeof(bad) / sizeof(bad[0]); k++) {
        assert_false(decode(bad[k], sizeof(bad[k]), &v));
    }
}

static void test_primitives_forms(void **state)
{
    static const struct {
        uint64_t len;
        const char *bytes;
        size_t n;
    } lens[] = {
        { 0, "\x00", 1 },
        { 63, "\x3f", 1 },
        { 64, "\x40\x40", 2 },
        { 16383, "\x7f\xff", 2 },
        { 16384, "\x80\x00\x00\x40\x00", 5 },
        { 1ULL << 32, "\x81\x00\x00\x00\x01\x00\x00\x00\x00", 9 },
    };
    static const struct {
        const char *s, *bytes;
        size_t n;
    } strs[] = {
        { "-5", "\xc0\xfb", 2 },
        { "-32768", "\xc1\x00\x80", 3 },
        { "2147483647", "\xc2\xff\xff\xff\x7f", 5 },
        { "2147483648",
          "\x0a"
          "2147483648",
          11 },
        { "01",
          "\x02"
          "01",
          3 },
    };
    struct rdb_out o;
    struct rdb_in in;
    uint64_t len;
    bool enc;
    double d;
    int64_t ms;

    (void)state;
    rdb_out_init(&o, true);
    for (size_t i = 0; i < sizeof(lens) / sizeof(lens[0]); i++) {
        rdb_out_reset(&o);
        rdb_put_len(&o, lens[i].len);
        assert_int_equal(o.len, lens[i].n);
        assert_memory_equal(o.data, lens[i].bytes, o.len);
        rdb_in_init(&in, o.data, o.len);
        assert_true(rdb_get_len(&in, &len, &enc));
        assert_false(enc);
        assert_true(len == lens[i].len);
    }
    for (size_t i = 0; i < sizeof(strs) / sizeof(strs[0]); i++) {
        struct rdb_str s;

        rdb_out_reset(&o);
        rdb_put_string(&o, strs[i].s, strlen(strs[i].s));
        assert_int_equal(o.len, strs[i].n);
        assert_memory_equal(o.data, strs[i].bytes, o.len);
        rdb_in_init(&in, o.data, o.len);
        assert_true(rdb_get_string(&in, &s));
        assert_int_equal(s.len, strlen(strs[i].s));
        assert_memory_equal(s.p, strs[i].s, s.len);
        rdb_str_free(&s);
        /* a string form where a length is due is an error */
        rdb_in_init(&in, o.data, o.len);
        assert_int_equal(rdb_get_len(&in, &len, NULL), (unsigned char)o.data[0] < 0xc0);
    }
    rdb_out_reset(&o);
    rdb_put_ll(&o, -7);
    rdb_put_double(&o, -2.5);
    rdb_put_ms(&o, 1700000000123LL);
    rdb_in_init(&in, o.data, o.len);
    assert_true(rdb_skip_string(&in));
    assert_true(rdb_get_double(&in, &d));
    assert_true(d == -2.5);
    assert_true(rdb_get_ms(&in, &ms));
    assert_true(ms == 1700000000123LL);
    assert_false(rdb_get_ms(&in, &ms));
    assert_string_equal(in.err, "8 bytes expected, 0 left at offset 18");
    rdb_out_free(&o);
}

static void test_restore_footer(void **state)
{
    struct kval v = { 0 }, w;
    char err[128], *d;
    size_t n;
    uint64_t r = 1, crc;

    (void)state;
    assert_int_equal(kval_set_string(&v, "hello", 5), 0);
    d = rdb_dump(&v, &n);
    assert_int_equal(n, sizeof(redis_str));
    assert_memory_equal(d, redis_str, n);
    d[n - 10] = 11; /* a newer version, checksum fixed */
    crc = crc64(0, d, n - 8);
    memcpy(d + n - 8, &crc, 8);
    w = (struct kval){ 0 };
    assert_false(rdb_restore(d, n, &w, &LIM, &r, err, sizeof(err)));
    assert_string_equal(err, "DUMP payload version or checksum are wrong");
    d[n - 10] = 10;
    d[1] = 9; /* string length past the end, checksum fixed */
    crc = crc64(0, d, n - 8);
    memcpy(d + n - 8, &crc, 8);
    assert_false(rdb_restore(d, n, &w, &LIM, &r, err, sizeof(err)));
    assert_string_equal(err, "Bad data format");
    assert_false(rdb_restore(d, 9, &w, &LIM, &r, err, sizeof(err)));
    assert_string_equal(err, "DUMP payload version or checksum are wrong");
    free(d);
    kval_clear(&v);
}

/* Listpack-encoded blobs the limits refuse are converted, and blobs that
 * break the rules of their type are refused. */
static void test_listpack_blobs(void **state)
{
    struct kval v;
    unsigned char body[2048];
    unsigned char *lp;
    size_t n;
    struct rdb_out o;
    char buf[16];

    (void)state;
    /* a set listpack (Redis 7.2) of integers becomes an intset */
    lp = lpack_create();
    for (int i = 0; i < 10; i++) {
        lp = lpack_append(lp, buf, (size_t)snprintf(buf, sizeof(buf), "%d", i * 5));
    }
    rdb_out_init(&o, false);
    rdb_put_byte(&o, RDB_TYPE_SET_LISTPACK);
    rdb_put_string(&o, lp, lpack_bytes(lp));
    assert_true(decode((unsigned char *)o.data, o.len, &v));
    assert_int_equal(v.enc, KVAL_ENC_INTSET);
    assert_int_equal(tset_size(&v), 10);
    kval_clear(&v);
    /* with a repeat it is refused */
    lp = lpack_append(lp, "5", 1);
    rdb_out_reset(&o);
    rdb_put_byte(&o, RDB_TYPE_SET_LISTPACK);
    rdb_put_string(&o, lp, lpack_bytes(lp));
    assert_false(decode((unsigned char *)o.data, o.len, &v));
    /* as a hash it has an odd count; as a sorted set too */
    for (int t = 0; t < 2; t++) {
        o.data[0] = t ? RDB_TYPE_HASH_LISTPACK : RDB_TYPE_ZSET_LISTPACK;
        assert_false(decode((unsigned char *)o.data, o.len, &v));
    }
    lpack_destroy(lp);
    /* a sorted-set listpack out of order, with a non-canonical score, is
     * sorted and rewritten */
    lp = lpack_create();
    lp = lpack_append(lp, "b", 1);
    lp = lpack_append(lp, "0.10000000000000001", 19);
    lp = lpack_append(lp, "a", 1);
    lp = lpack_append(lp, "0.2", 3);
    lp = lpack_append(lp, "c", 1);
    lp = lpack_append(lp, "-1", 2);
    rdb_out_reset(&o);
    rdb_put_byte(&o, RDB_TYPE_ZSET_LISTPACK);
    rdb_put_string(&o, lp, lpack_bytes(lp));
    assert_true(decode((unsigned char *)o.data, o.len, &v));
    assert_int_equal(tzset_check(&v, &LIM), 0);
    assert_string_equal(flat(&v), "c=-1,b=0.1,a=0.2");
    kval_clear(&v);
    /* a NaN score is refused */
    lp = lpack_append(lp, "d", 1);
    lp = lpack_append(lp, "nan", 3);
    rdb_out_reset(&o);
    rdb_put_byte(&o, RDB_TYPE_ZSET_LISTPACK);
    rdb_put_string(&o, lp, lpack_bytes(lp));
    assert_false(decode((unsigned char *)o.data, o.len, &v));
    lpack_destroy(lp);
    /* a corrupt listpack (count off by one) is refused */
    n = o.len < sizeof(body) ? o.len : sizeof(body);
    memcpy(body, o.data, n);
    body[2 + 4] ^= 1;
    assert_false(decode(body, n, &v));
    rdb_out_free(&o);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_strings_round_trip), cmocka_unit_test(test_lists_round_trip),
        cmocka_unit_test(test_sets_round_trip),    cmocka_unit_test(test_zsets_round_trip),
        cmocka_unit_test(test_hashes_round_trip),  cmocka_unit_test(test_redis_payloads_decode),
        cmocka_unit_test(test_old_forms_decode),   cmocka_unit_test(test_refused_payloads),
        cmocka_unit_test(test_primitives_forms),   cmocka_unit_test(test_restore_footer),
        cmocka_unit_test(test_listpack_blobs),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
