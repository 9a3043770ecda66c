/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * test_rdb.c: the RDB value codec (rdb.h). Every type in every encoding goes
 * through rdb_put_value_payload and rdb_get_value and must come back equal
 * to a model, in the encoding the limits call for; real DUMP payloads of
 * Redis 7.0 and hand-made payloads in the forms it no longer writes
 * (ziplists, zipmaps, old LIST and ZSET, quicklist v1, plain nodes) decode
 * to known values; every truncation of a valid payload and random byte
 * flips fail cleanly (run under ASan to see that nothing reads out of
 * bounds); the primitives' forms are checked byte for byte. Streams: a
 * stream with deletions, groups, PELs and consumers comes back equal
 * through STREAM_LISTPACKS_2 and through the v1 form (whose missing fields
 * are computed), Redis 7.0's DUMP of one decodes and is written back byte
 * for byte, and hand-made inconsistent ones (node keys, order, length,
 * PEL owners) are refused.
 */
#include "shardis/crc64.h"
#include "shardis/intset.h"
#include "shardis/kval.h"
#include "shardis/lpack.h"
#include "shardis/rdb.h"
#include "shardis/thash.h"
#include "shardis/tlist.h"
#include "shardis/tset.h"
#include "shardis/tstream.h"
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

/* XADD s 1-1 f v; XADD s 2-2 f w g 7; XADD s 3-0 f x; XDEL s 2-2;
 * XGROUP CREATE s grp 0; XREADGROUP GROUP grp alice COUNT 1 STREAMS s >;
 * XGROUP CREATECONSUMER s grp bob */
static const unsigned char redis_stream[] = {
    0x13, 0x01, 0x10, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00, 0x00, 0x00,
    0x00, 0x00, 0x01, 0x3e, 0x3e, 0x00, 0x00, 0x00, 0x18, 0x00, 0x02, 0x01, 0x01, 0x01, 0x01, 0x01,
    0x81, 0x66, 0x02, 0x00, 0x01, 0x02, 0x01, 0x00, 0x01, 0x00, 0x01, 0x81, 0x76, 0x02, 0x04, 0x01,
    0x01, 0x01, 0x01, 0x01, 0x01, 0x01, 0x02, 0x01, 0x81, 0x66, 0x02, 0x81, 0x77, 0x02, 0x81, 0x67,
    0x02, 0x07, 0x01, 0x08, 0x01, 0x02, 0x01, 0x02, 0x01, 0xdf, 0xff, 0x02, 0x81, 0x78, 0x02, 0x04,
    0x01, 0xff, 0x02, 0x03, 0x00, 0x01, 0x01, 0x02, 0x02, 0x03, 0x01, 0x03, 0x67, 0x72, 0x70, 0x01,
    0x01, 0x81, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01, 0x00, 0x00, 0x00, 0x00, 0x00,
    0x00, 0x00, 0x01, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x01, 0x57, 0xc2, 0x01, 0x4b, 0xa2,
    0x01, 0x00, 0x00, 0x01, 0x02, 0x05, 0x61, 0x6c, 0x69, 0x63, 0x65, 0x57, 0xc2, 0x01, 0x4b, 0xa2,
    0x01, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00, 0x00,
    0x00, 0x00, 0x00, 0x01, 0x03, 0x62, 0x6f, 0x62, 0x5c, 0xc2, 0x01, 0x4b, 0xa2, 0x01, 0x00, 0x00,
    0x00, 0x0a, 0x00, 0x3f, 0xb7, 0xe9, 0x34, 0x15, 0xb4, 0x3d, 0xac,
};

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
        { P(redis_str), KVAL_STRING, KVAL_ENC_EMB, "hello" },
        { P(redis_int), KVAL_STRING, KVAL_ENC_INT, "-1000" },
        { P(redis_lzf), KVAL_STRING, KVAL_ENC_BARE,
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
        { RDB_TYPE_STREAM_LISTPACKS, 1, 1, 'k' }, /* node key not an ID */
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

/* ---- streams ---- */

static const struct tstream_limits SLIM = { .node_max_bytes = 4096, .node_max_entries = 4 };

static size_t cat(char *out, size_t cap, size_t at, const char *fmt, ...)
{
    va_list ap;
    int n;

    va_start(ap, fmt);
    n = vsnprintf(out + at, cap - at, fmt, ap);
    va_end(ap);
    assert_true(n >= 0 && (size_t)n < cap - at);
    return at + (size_t)n;
}

static size_t cat_id(char *out, size_t cap, size_t at, const struct tstream_id *id)
{
    char b[TSTREAM_ID_BUF];

    tstream_id_fmt(b, id);
    return cat(out, cap, at, "%s", b);
}

static size_t cat_pel(char *out, size_t cap, size_t at, const struct tstream_map *pel, bool nacks)
{
    struct tstream_map_pos pos;
    bool more = tstream_map_seek(pel, NULL, true, &pos);

    at = cat(out, cap, at, "[");
    while (more) {
        const struct tstream_nack *n = tstream_map_val(pel, pos);

        at = cat_id(out, cap, at, tstream_map_key(pel, pos));
        if (nacks) {
            at = cat(out, cap, at, " %.*s %lld %llu", (int)n->consumer->nlen, n->consumer->name,
                     (long long)n->delivery_time, (unsigned long long)n->delivery_count);
        }
        at = cat(out, cap, at, ";");
        more = tstream_map_next(pel, &pos);
    }
    return cat(out, cap, at, "]");
}

/* Everything a stream holds, as one string. */
static const char *sdesc(const struct kval *v)
{
    static char out[1 << 16];
    const struct tstream *s = tstream_of(v);
    struct tstream_iter it;
    struct tstream_id id;
    long long nf;
    size_t at = 0;

    assert_int_equal(v->type, KVAL_STREAM);
    at = cat(out, sizeof(out), at, "len=%llu last=", (unsigned long long)s->length);
    at = cat_id(out, sizeof(out), at, &s->last_id);
    at = cat(out, sizeof(out), at, " first=");
    at = cat_id(out, sizeof(out), at, &s->first_id);
    at = cat(out, sizeof(out), at, " maxdel=");
    at = cat_id(out, sizeof(out), at, &s->max_deleted_id);
    at = cat(out, sizeof(out), at, " added=%llu |", (unsigned long long)s->entries_added);
    tstream_iter_start(&it, s, NULL, NULL, false);
    while (tstream_iter_next(&it, &id, &nf)) {
        at = cat(out, sizeof(out), at, " ");
        at = cat_id(out, sizeof(out), at, &id);
        for (long long i = 0; i < nf; i++) {
            struct sh_slice f, val;

            tstream_iter_field(&it, &f, &val);
            at = cat(out, sizeof(out), at, " %.*s=%.*s", (int)f.len, f.ptr, (int)val.len, val.ptr);
        }
    }
    for (size_t g = 0; g < s->ngroups; g++) {
        const struct tstream_group *gr = s->groups[g];

        at = cat(out, sizeof(out), at, " | %.*s ", (int)gr->nlen, gr->name);
        at = cat_id(out, sizeof(out), at, &gr->last_id);
        at = cat(out, sizeof(out), at, " er=%lld ", gr->entries_read);
        at = cat_pel(out, sizeof(out), at, &gr->pel, true);
        for (size_t c = 0; c < gr->nconsumers; c++) {
            const struct tstream_consumer *co = gr->consumers[c];

            at = cat(out, sizeof(out), at, " %.*s@%lld", (int)co->nlen, co->name,
                     (long long)co->seen_time);
            at = cat_pel(out, sizeof(out), at, &co->pel, false);
        }
    }
    return out;
}

static void sadd(struct tstream *s, uint64_t ms, uint64_t seq, bool other)
{
    struct tstream_id id = { ms, seq };
    char v[32];
    struct sh_slice fv[4] = { { "f", 1 }, { v, 0 }, { "g", 1 }, { "12345", 5 } };

    fv[1].len = (size_t)snprintf(v, sizeof(v), "v%llu", (unsigned long long)ms);
    if (other) {
        fv[0] = (struct sh_slice){ "other-field", 11 };
    }
    tstream_append(s, &id, fv, other ? 1 : 2, &SLIM);
}

/* XDEL of id, as the command layer keeps first_id and max_deleted_id. */
static void sdel(struct tstream *s, uint64_t ms, uint64_t seq)
{
    struct tstream_id id = { ms, seq };

    assert_true(tstream_delete(s, &id));
    if (tstream_id_cmp(&id, &s->max_deleted_id) > 0) {
        s->max_deleted_id = id;
    }
    tstream_edge_id(s, true, &s->first_id);
}

/* A stream of several nodes, deletions, a trim, two groups with PELs and
 * consumers (one consumer without pending entries). */
static void build_stream(struct kval *v)
{
    struct tstream *s;
    struct tstream_group *g;
    struct tstream_consumer *c[3];

    tstream_init(v);
    s = tstream_of(v);
    for (uint64_t i = 1; i <= 40; i++) {
        sadd(s, i * 1000, i % 3, i % 5 == 0);
    }
    sdel(s, 7000, 1);
    sdel(s, 9000, 0);
    sdel(s, 10000, 1);
    sdel(s, 11000, 2);
    sdel(s, 12000, 0);
    (void)tstream_trim(s, TSTREAM_TRIM_MAXLEN, 30, NULL, false, 0);
    g = tstream_group_create(s, "workers", 7, &(struct tstream_id){ 20000, 2 }, 14);
    c[0] = tstream_consumer_create(g, "alice", 5, 1700000000123LL);
    c[1] = tstream_consumer_create(g, "bob", 3, 1700000000456LL);
    c[2] = tstream_consumer_create(g, "carol", 5, -5);
    for (uint64_t i = 5; i <= 20; i++) {
        (void)tstream_pel_add(g, c[i % 2], &(struct tstream_id){ i * 1000, i % 3 },
                              1700000000000LL + (int64_t)i, i);
    }
    g = tstream_group_create(s, "audit", 5, &(struct tstream_id){ 0, 0 }, TSTREAM_ENTRIES_UNKNOWN);
    (void)tstream_consumer_create(g, "1234", 4, 99);
}

static void test_streams_round_trip(void **state)
{
    struct kval v, out, empty;
    char *want;
    char *d1, *d2;
    size_t n1, n2;

    (void)state;
    build_stream(&v);
    assert_true(tstream_nodes(tstream_of(&v)) > 5);
    want = strdup(sdesc(&v));
    for (int compress = 0; compress < 2; compress++) {
        round_trip(&v, &out, compress);
        assert_string_equal(sdesc(&out), want);
        /* written again, the bytes are the same */
        d1 = rdb_dump(&v, &n1);
        d2 = rdb_dump(&out, &n2);
        assert_int_equal(n1, n2);
        assert_memory_equal(d1, d2, n1);
        free(d1);
        free(d2);
        /* and it still works as a stream: appends go to the loaded tail */
        sadd(tstream_of(&out), 99000, 0, false);
        assert_int_equal(tstream_of(&out)->length, tstream_of(&v)->length + 1);
        kval_clear(&out);
    }
    free(want);
    kval_clear(&v);
    /* an empty stream with a group is a value (Redis keeps those) */
    tstream_init(&empty);
    tstream_of(&empty)->last_id = (struct tstream_id){ 5, 5 };
    tstream_of(&empty)->max_deleted_id = (struct tstream_id){ 5, 5 };
    tstream_of(&empty)->entries_added = 3;
    (void)tstream_group_create(tstream_of(&empty), "g", 1, &(struct tstream_id){ 5, 5 }, 3);
    want = strdup(sdesc(&empty));
    round_trip(&empty, &out, false);
    assert_string_equal(sdesc(&out), want);
    free(want);
    kval_clear(&out);
    kval_clear(&empty);
}

static void put_raw_id(struct rdb_out *o, uint64_t ms, uint64_t seq)
{
    unsigned char b[16];

    for (int i = 0; i < 8; i++) {
        b[i] = (unsigned char)(ms >> (56 - 8 * i));
        b[8 + i] = (unsigned char)(seq >> (56 - 8 * i));
    }
    rdb_put_raw(o, b, 16);
}

static void put_id(struct rdb_out *o, uint64_t ms, uint64_t seq)
{
    rdb_put_len(o, ms);
    rdb_put_len(o, seq);
}

/* The v1 form (Redis 6.x) of a stream built here: no first_id,
 * max_deleted_entry_id, entries_added or entries_read. */
static void put_stream_v1(struct rdb_out *o, const struct tstream *s)
{
    struct tstream_node_iter it = { .started = false };
    struct tstream_id master;
    const unsigned char *lp;

    rdb_put_byte(o, RDB_TYPE_STREAM_LISTPACKS);
    rdb_put_len(o, tstream_nodes(s));
    while (tstream_node_next(s, &it, &master, &lp)) {
        rdb_put_len(o, 16);
        put_raw_id(o, master.ms, master.seq);
        rdb_put_string(o, lp, lpack_bytes(lp));
    }
    rdb_put_len(o, s->length);
    put_id(o, s->last_id.ms, s->last_id.seq);
    rdb_put_len(o, s->ngroups);
    for (size_t i = 0; i < s->ngroups; i++) {
        const struct tstream_group *g = s->groups[i];
        struct tstream_map_pos pos;
        bool more = tstream_map_seek(&g->pel, NULL, true, &pos);

        rdb_put_string(o, g->name, g->nlen);
        put_id(o, g->last_id.ms, g->last_id.seq);
        rdb_put_len(o, g->pel.count);
        for (; more; more = tstream_map_next(&g->pel, &pos)) {
            const struct tstream_id *id = tstream_map_key(&g->pel, pos);
            const struct tstream_nack *n = tstream_map_val(&g->pel, pos);

            put_raw_id(o, id->ms, id->seq);
            rdb_put_ms(o, n->delivery_time);
            rdb_put_len(o, n->delivery_count);
        }
        rdb_put_len(o, g->nconsumers);
        for (size_t j = 0; j < g->nconsumers; j++) {
            const struct tstream_consumer *c = g->consumers[j];

            rdb_put_string(o, c->name, c->nlen);
            rdb_put_ms(o, c->seen_time);
            rdb_put_len(o, c->pel.count);
            more = tstream_map_seek(&c->pel, NULL, true, &pos);
            for (; more; more = tstream_map_next(&c->pel, &pos)) {
                put_raw_id(o, tstream_map_key(&c->pel, pos)->ms,
                           tstream_map_key(&c->pel, pos)->seq);
            }
        }
    }
}

static void test_stream_v1_form(void **state)
{
    struct kval v, out;
    struct rdb_out o;
    struct rdb_in in;
    const struct tstream *s;
    struct tstream_id first;

    (void)state;
    build_stream(&v);
    rdb_out_init(&o, false);
    put_stream_v1(&o, tstream_of(&v));
    assert_true(decode((unsigned char *)o.data, o.len, &out));
    s = tstream_of(&out);
    /* computed as Redis's loader does */
    assert_int_equal(s->entries_added, tstream_of(&v)->length);
    assert_int_equal(s->max_deleted_id.ms, 0);
    assert_int_equal(s->max_deleted_id.seq, 0);
    tstream_edge_id(tstream_of(&v), true, &first);
    assert_int_equal(tstream_id_cmp(&s->first_id, &first), 0);
    assert_int_equal(s->groups[0]->nlen, 5); /* "audit" at 0-0: distance 0 */
    assert_int_equal(s->groups[0]->entries_read, 0);
    assert_int_equal(s->groups[1]->entries_read,
                     tstream_estimate_distance(s, &s->groups[1]->last_id));
    assert_int_equal(s->groups[1]->pel.count, 16);
    assert_int_equal(s->groups[1]->consumers[0]->pel.count, 8);
    assert_int_equal(s->groups[1]->consumers[2]->pel.count, 0);
    /* skipping moves past exactly the payload; every cut fails */
    rdb_in_init(&in, o.data + 1, o.len - 1);
    assert_true(rdb_skip_value(&in, RDB_TYPE_STREAM_LISTPACKS));
    assert_int_equal(in.pos, o.len - 1);
    for (size_t cut = 1; cut < o.len; cut++) {
        struct kval t;

        assert_false(decode((unsigned char *)o.data, cut, &t));
    }
    kval_clear(&out);
    kval_clear(&v);
    rdb_out_free(&o);
}

static void test_redis_stream_decodes(void **state)
{
    const size_t body = sizeof(redis_stream) - 10;
    unsigned char *copy = malloc(sizeof(redis_stream));
    struct kval v;
    char *d;
    size_t n;

    (void)state;
    v = restore(redis_stream, sizeof(redis_stream));
    assert_string_equal(sdesc(&v), "len=2 last=3-0 first=1-1 maxdel=2-2 added=3 | 1-1 f=v 3-0 f=x"
                                   " | grp 1-1 er=-1 [1-1 alice 1796554736215 1;]"
                                   " alice@1796554736215[1-1;] bob@1796554736220[]");
    d = rdb_dump(&v, &n);
    assert_int_equal(n, sizeof(redis_stream));
    assert_memory_equal(d, redis_stream, n);
    free(d);
    kval_clear(&v);
    for (size_t cut = 1; cut < body; cut++) {
        assert_false(decode(redis_stream, cut, &v));
    }
    /* any single byte changed (the CRC aside): refused, or a sound stream
     * that writes and reads back the same */
    for (size_t i = 1; i < body; i++) {
        for (unsigned x = 1; x < 256; x += 17) {
            memcpy(copy, redis_stream, sizeof(redis_stream));
            copy[i] ^= (unsigned char)x;
            if (decode(copy, body, &v)) {
                struct kval w;
                char *want = strdup(sdesc(&v));

                round_trip(&v, &w, false);
                assert_string_equal(sdesc(&w), want);
                free(want);
                kval_clear(&w);
                kval_clear(&v);
            }
        }
    }
    free(copy);
}

/* One node holding entries 1-1 and 2-1 (field f) with master 1-1. */
static void put_good_node(struct rdb_out *o)
{
    struct kval v;
    struct tstream_node_iter it = { .started = false };
    struct tstream_id master;
    const unsigned char *lp;

    tstream_init(&v);
    sadd(tstream_of(&v), 1, 1, false);
    sadd(tstream_of(&v), 2, 1, false);
    assert_true(tstream_node_next(tstream_of(&v), &it, &master, &lp));
    rdb_put_len(o, 16);
    put_raw_id(o, 1, 1);
    rdb_put_string(o, lp, lpack_bytes(lp));
    kval_clear(&v);
}

/* A v2 stream of that node (length, last_id as given), then ngroups. */
static void put_base(struct rdb_out *o, uint64_t length, uint64_t last_ms, uint64_t added,
                     uint64_t ngroups)
{
    rdb_out_reset(o);
    rdb_put_byte(o, RDB_TYPE_STREAM_LISTPACKS_2);
    rdb_put_len(o, 1);
    put_good_node(o);
    rdb_put_len(o, length);
    put_id(o, last_ms, 1);
    put_id(o, 1, 1);
    put_id(o, 0, 0);
    rdb_put_len(o, added);
    rdb_put_len(o, ngroups);
}

/* A group "g" with a global PEL of n IDs (k-0 for k in ids) and then the
 * consumers section (count nc), left to the caller. */
static void put_group(struct rdb_out *o, const char *name, const uint64_t *ids, size_t n,
                      uint64_t nc)
{
    rdb_put_string(o, name, strlen(name));
    put_id(o, 0, 0);
    rdb_put_len(o, 0);
    rdb_put_len(o, n);
    for (size_t i = 0; i < n; i++) {
        put_raw_id(o, ids[i], 0);
        rdb_put_ms(o, 1000);
        rdb_put_len(o, 1);
    }
    rdb_put_len(o, nc);
}

static void put_consumer(struct rdb_out *o, const char *name, const uint64_t *ids, size_t n)
{
    rdb_put_string(o, name, strlen(name));
    rdb_put_ms(o, 1000);
    rdb_put_len(o, n);
    for (size_t i = 0; i < n; i++) {
        put_raw_id(o, ids[i], 0);
    }
}

/* A node from raw items: integers, or strings when s[i] is set. */
static void put_node_items(struct rdb_out *o, uint64_t master_ms, const long long *items, size_t n)
{
    unsigned char *lp = lpack_create();

    for (size_t i = 0; i < n; i++) {
        lp = items[i] == -999 ? lpack_append(lp, "f", 1) : lpack_append_int(lp, items[i]);
    }
    rdb_put_len(o, 16);
    put_raw_id(o, master_ms, 0);
    rdb_put_string(o, lp, lpack_bytes(lp));
    lpack_destroy(lp);
}

static void test_stream_refused(void **state)
{
    static const uint64_t one[] = { 5 }, two[] = { 5, 6 }, down[] = { 6, 5 };
    /* master: count deleted nfields "f" 0; entry: flags ms seq value lp-count */
#define F (-999)
    static const long long good[] = { 1, 0, 1, F, 0, 2, 0, 0, F, 4 };
    static const long long bad_nodes[][16] = {
        { 0, 0, 1, F, 0 },                               /* no live entry */
        { 1, 0, 1, F, 0, 2, 0, 0, F, 5 },                /* lp-count off */
        { 1, 0, 1, F, 1, 2, 0, 0, F, 4 },                /* terminator not 0 */
        { 1, 0, 1, F, 0, 2, 0, 0, F, 4, 0 },             /* an item too many */
        { 1, 0, 1, F, 0, 6, 0, 0, F, 4 },                /* unknown flag */
        { 1, 1, 1, F, 0, 2, 0, 0, F, 4 },                /* deleted count off */
        { 1, 0, 1, F, 0, 2, -1, 0, F, 4 },               /* below the master */
        { 1, 0, 1, F, 0, 0, 0, 0, -1, 4 },               /* negative field count */
        { 2, 0, 1, F, 0, 2, 1, 0, F, 4, 2, 0, 0, F, 4 }, /* out of order */
    };
    static const size_t bad_len[] = { 5, 10, 10, 11, 10, 10, 10, 10, 15 };
#undef F
    struct rdb_out o;
    struct kval v;

    (void)state;
    rdb_out_init(&o, false);
    /* the base is sound */
    put_base(&o, 2, 2, 2, 0);
    assert_true(decode((unsigned char *)o.data, o.len, &v));
    kval_clear(&v);
    put_base(&o, 2, 2, 2, 1);
    put_group(&o, "g", two, 2, 2);
    put_consumer(&o, "a", one, 1);
    put_consumer(&o, "b", two + 1, 1);
    assert_true(decode((unsigned char *)o.data, o.len, &v));
    assert_string_equal(sdesc(&v), "len=2 last=2-1 first=1-1 maxdel=0-0 added=2 | 1-1 f=v1 "
                                   "g=12345 2-1 f=v2 g=12345 | g 0-0 er=0 [5-0 a 1000 1;6-0 b "
                                   "1000 1;] a@1000[5-0;] b@1000[6-0;]");
    kval_clear(&v);
    /* length, last_id, entries_added against the entries */
    put_base(&o, 3, 2, 3, 0);
    assert_false(decode((unsigned char *)o.data, o.len, &v));
    put_base(&o, 2, 1, 2, 0);
    assert_false(decode((unsigned char *)o.data, o.len, &v));
    put_base(&o, 2, 2, 1, 0);
    assert_false(decode((unsigned char *)o.data, o.len, &v));
    /* PEL owners: none, two, unknown; PEL out of order; repeated names */
    put_base(&o, 2, 2, 2, 1);
    put_group(&o, "g", two, 2, 1);
    put_consumer(&o, "a", one, 1);
    assert_false(decode((unsigned char *)o.data, o.len, &v));
    put_base(&o, 2, 2, 2, 1);
    put_group(&o, "g", one, 1, 2);
    put_consumer(&o, "a", one, 1);
    put_consumer(&o, "b", one, 1);
    assert_false(decode((unsigned char *)o.data, o.len, &v));
    put_base(&o, 2, 2, 2, 1);
    put_group(&o, "g", one, 1, 1);
    put_consumer(&o, "a", two + 1, 1);
    assert_false(decode((unsigned char *)o.data, o.len, &v));
    put_base(&o, 2, 2, 2, 1);
    put_group(&o, "g", down, 2, 1);
    put_consumer(&o, "a", down, 2);
    assert_false(decode((unsigned char *)o.data, o.len, &v));
    put_base(&o, 2, 2, 2, 1);
    put_group(&o, "g", NULL, 0, 2);
    put_consumer(&o, "a", NULL, 0);
    put_consumer(&o, "a", NULL, 0);
    assert_false(decode((unsigned char *)o.data, o.len, &v));
    put_base(&o, 2, 2, 2, 2);
    put_group(&o, "g", NULL, 0, 0);
    put_group(&o, "g", NULL, 0, 0);
    assert_false(decode((unsigned char *)o.data, o.len, &v));
    /* hand-made nodes: the good one loads, each bad one is refused */
    for (size_t k = 0; k <= sizeof(bad_len) / sizeof(bad_len[0]); k++) {
        bool ok = k == sizeof(bad_len) / sizeof(bad_len[0]);

        rdb_out_reset(&o);
        rdb_put_byte(&o, RDB_TYPE_STREAM_LISTPACKS);
        rdb_put_len(&o, 1);
        put_node_items(&o, 7, ok ? good : bad_nodes[k], ok ? 10 : bad_len[k]);
        rdb_put_len(&o, 1);
        put_id(&o, 9, 0);
        rdb_put_len(&o, 0);
        assert_int_equal(decode((unsigned char *)o.data, o.len, &v), ok);
        if (ok) {
            assert_string_equal(sdesc(&v), "len=1 last=9-0 first=7-0 maxdel=0-0 added=1 | 7-0 f=f");
            kval_clear(&v);
        }
    }
    /* two nodes out of order */
    rdb_out_reset(&o);
    rdb_put_byte(&o, RDB_TYPE_STREAM_LISTPACKS);
    rdb_put_len(&o, 2);
    put_node_items(&o, 7, good, 10);
    put_node_items(&o, 3, good, 10);
    rdb_put_len(&o, 2);
    put_id(&o, 9, 0);
    rdb_put_len(&o, 0);
    assert_false(decode((unsigned char *)o.data, o.len, &v));
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
        cmocka_unit_test(test_listpack_blobs),     cmocka_unit_test(test_streams_round_trip),
        cmocka_unit_test(test_stream_v1_form),     cmocka_unit_test(test_redis_stream_decodes),
        cmocka_unit_test(test_stream_refused),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
