/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * crc64.c: Redis's CRC-64 (see crc64.h): the reflected Jones polynomial
 * 0xad93d23594c935a9 (0x95ac9329ac4bc9b5 bit-reversed), no final xor, one
 * table lookup per byte. crc64_combine advances a CRC over a run of zero
 * bytes with the GF(2) matrix of "one more zero bit", squared to get 2, 4,
 * 8 ... bits (as zlib's crc32_combine).
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

/* mat (64 rows: the image of each bit) times vec. */
static uint64_t gf2_times(const uint64_t *mat, uint64_t vec)
{
    uint64_t sum = 0;

    for (; vec; vec >>= 1, mat++) {
        if (vec & 1) {
            sum ^= *mat;
        }
    }
    return sum;
}

static void gf2_square(uint64_t *square, const uint64_t *mat)
{
    for (int n = 0; n < 64; n++) {
        square[n] = gf2_times(mat, mat[n]);
    }
}

uint64_t crc64_combine(uint64_t crc1, uint64_t crc2, uint64_t len2)
{
    uint64_t even[64], odd[64];

    if (len2 == 0) {
        return crc1 ^ crc2;
    }
    /* one zero bit: bit 0 shifts out and folds in the polynomial */
    odd[0] = POLY_REFLECTED;
    for (int n = 1; n < 64; n++) {
        odd[n] = 1ULL << (n - 1);
    }
    gf2_square(even, odd); /* two zero bits */
    gf2_square(odd, even); /* four */
    for (;;) {
        gf2_square(even, odd); /* first time round: one zero byte */
        if (len2 & 1) {
            crc1 = gf2_times(even, crc1);
        }
        len2 >>= 1;
        if (len2 == 0) {
            break;
        }
        gf2_square(odd, even);
        if (len2 & 1) {
            crc1 = gf2_times(odd, crc1);
        }
        len2 >>= 1;
        if (len2 == 0) {
            break;
        }
    }
    return crc1 ^ crc2;
}
