/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * crc64.c: Redis's CRC-64 (see crc64.h): the reflected Jones polynomial
 * 0xad93d23594c935a9 (0x95ac9329ac4bc9b5 bit-reversed), no final xor, one
 * table lookup per byte.
 */
#include "shardis/crc64.h"

#include <pthread.h>

#define POLY_REFLECTED 0x95ac9329ac4bc9b5ULL

static uint64_t table[256];
static pthread_once_t table_once = PTHREAD_ONCE_INIT;

static void table_init(void)
{
    for (unsigned i = 0; i < 256; i++) {
        uint64_t c = i;

        for (int k = 0; k < 8; k++) {
            c = (c & 1) ? (c >> 1) ^ POLY_REFLECTED : c >> 1;
        }
        table[i] = c;
    }
}

uint64_t crc64(uint64_t crc, const void *p, size_t n)
{
    const uint8_t *b = p;

    pthread_once(&table_once, table_init);
    for (size_t i = 0; i < n; i++) {
        crc = table[(crc ^ b[i]) & 0xff] ^ (crc >> 8);
    }
    return crc;
}
