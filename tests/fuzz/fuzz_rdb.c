/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * fuzz_rdb.c: libFuzzer target for RESTORE's decoder (rdb.h) over arbitrary
 * bytes. Byte 0 picks the shape: bit 0 set passes the rest to rdb_restore
 * as it is (as a client could send it: almost always a footer error); else
 * the rest is a type byte and a payload, and a valid footer (version 10,
 * CRC-64) is added so that the decoder itself is reached. Bit 1 uses tiny
 * encoding limits (4 entries, 8 bytes, 4 per list node) instead of Redis's
 * defaults, to take the conversion paths.
 *
 * A value that decodes must be sound (a sorted set passes tzset_check), and
 * its own DUMP must restore again. ASan and UBSan check that nothing reads
 * or writes out of bounds.
 */
#include "shardis/crc64.h"
#include "shardis/kval.h"
#include "shardis/rdb.h"
#include "shardis/tzset.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const struct kval_limits defaults = {
    .hash_max_listpack_entries = 512,
    .hash_max_listpack_value = 64,
    .list_max_listpack_size = -2,
    .set_max_intset_entries = 512,
    .set_max_listpack_entries = 128,
    .set_max_listpack_value = 64,
    .zset_max_listpack_entries = 128,
    .zset_max_listpack_value = 64,
};

static const struct kval_limits tiny = {
    .hash_max_listpack_entries = 4,
    .hash_max_listpack_value = 8,
    .list_max_listpack_size = 4,
    .list_compress_depth = 1, /* inner nodes LZF-compressed */
    .set_max_intset_entries = 4,
    .set_max_listpack_entries = 4,
    .set_max_listpack_value = 8,
    .zset_max_listpack_entries = 4,
    .zset_max_listpack_value = 8,
};

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const struct kval_limits *lim;
    struct kval v = { 0 }, w = { 0 };
    uint8_t *buf;
    size_t len, dlen;
    uint64_t rnd = 1, crc;
    char err[128], *d;

    if (size == 0) {
        return 0;
    }
    lim = (data[0] & 2) ? &tiny : &defaults;
    len = size - 1;
    buf = malloc(len + 10);
    memcpy(buf, data + 1, len);
    if (!(data[0] & 1)) {
        buf[len] = 10;
        buf[len + 1] = 0;
        crc = crc64(0, buf, len + 2);
        for (int i = 0; i < 8; i++) {
            buf[len + 2 + i] = (uint8_t)(crc >> (8 * i));
        }
        len += 10;
    }
    if (rdb_restore(buf, len, &v, lim, &rnd, err, sizeof(err))) {
        if (v.type == KVAL_ZSET && tzset_check(&v, lim) != 0) {
            abort();
        }
        d = rdb_dump(&v, &dlen);
        if (!rdb_restore(d, dlen, &w, lim, &rnd, err, sizeof(err))) {
            abort();
        }
        free(d);
        kval_clear(&w);
        kval_clear(&v);
    } else if (v.type != KVAL_NONE) {
        abort();
    }
    free(buf);
    return 0;
}
