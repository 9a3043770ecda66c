/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * mdhash.c: the framing SHA-1 and SHA-256 share (see mdhash.h).
 */
#include "shardis/mdhash.h"

#include <string.h>

void mdhash_run(uint32_t *h, int nwords, mdhash_block_fn *block, const void *p, size_t n,
                uint8_t *out)
{
    const uint8_t *b = p;
    uint8_t tail[128] = { 0 };
    size_t full = n / 64 * 64, rest = n - full, tlen;
    uint64_t bits = (uint64_t)n * 8;

    for (size_t off = 0; off < full; off += 64) {
        block(h, b + off);
    }
    if (rest > 0) {
        memcpy(tail, b + full, rest);
    }
    tail[rest] = 0x80;
    tlen = rest + 1 + 8 <= 64 ? 64 : 128;
    for (int i = 0; i < 8; i++) {
        tail[tlen - 1 - (size_t)i] = (uint8_t)(bits >> (8 * i));
    }
    for (size_t off = 0; off < tlen; off += 64) {
        block(h, tail + off);
    }
    for (int i = 0; i < nwords; i++) {
        out[4 * i] = (uint8_t)(h[i] >> 24);
        out[4 * i + 1] = (uint8_t)(h[i] >> 16);
        out[4 * i + 2] = (uint8_t)(h[i] >> 8);
        out[4 * i + 3] = (uint8_t)h[i];
    }
}

void mdhash_hex(const uint8_t *d, size_t n, char *hex)
{
    static const char digits[] = "0123456789abcdef";

    for (size_t i = 0; i < n; i++) {
        hex[2 * i] = digits[d[i] >> 4];
        hex[2 * i + 1] = digits[d[i] & 15];
    }
    hex[2 * n] = '\0';
}
