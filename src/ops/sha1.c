/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * sha1.c: SHA-1 as FIPS 180-4 specifies it. The message is padded with a 1
 * bit, zeros and its 64-bit big-endian bit length to a multiple of 64 bytes;
 * each 64-byte block is expanded to 80 words (w[i] = rotl1 of the xor of
 * four earlier words) and goes through 80 rounds in four groups of 20, each
 * group with its own boolean function and constant, updating five 32-bit
 * words. Written out here, like sha256.c, so that script names need no
 * crypto library; a script body is hashed once per EVAL or SCRIPT LOAD.
 */
#include "shardis/sha1.h"

#include "shardis/mdhash.h"

#include <string.h>

static uint32_t rotl(uint32_t x, int n)
{
    return (x << n) | (x >> (32 - n));
}

static void block(uint32_t h[5], const uint8_t *p)
{
    uint32_t w[80], a = h[0], b = h[1], c = h[2], d = h[3], e = h[4];

    for (int i = 0; i < 16; i++) {
        w[i] = (uint32_t)p[4 * i] << 24 | (uint32_t)p[4 * i + 1] << 16 |
               (uint32_t)p[4 * i + 2] << 8 | (uint32_t)p[4 * i + 3];
    }
    for (int i = 16; i < 80; i++) {
        w[i] = rotl(w[i - 3] ^ w[i - 8] ^ w[i - 14] ^ w[i - 16], 1);
    }
    for (int i = 0; i < 80; i++) {
        uint32_t f, k, t;

        if (i < 20) {
            f = (b & c) | (~b & d);
            k = 0x5a827999;
        } else if (i < 40) {
            f = b ^ c ^ d;
            k = 0x6ed9eba1;
        } else if (i < 60) {
            f = (b & c) | (b & d) | (c & d);
            k = 0x8f1bbcdc;
        } else {
            f = b ^ c ^ d;
            k = 0xca62c1d6;
        }
        t = rotl(a, 5) + f + e + k + w[i];
        e = d;
        d = c;
        c = rotl(b, 30);
        b = a;
        a = t;
    }
    h[0] += a;
    h[1] += b;
    h[2] += c;
    h[3] += d;
    h[4] += e;
}

void sha1(const void *p, size_t n, uint8_t out[SHA1_LEN])
{
    uint32_t h[5] = { 0x67452301, 0xefcdab89, 0x98badcfe, 0x10325476, 0xc3d2e1f0 };

    mdhash_run(h, 5, block, p, n, out);
}

void sha1_hex(const uint8_t d[SHA1_LEN], char hex[2 * SHA1_LEN + 1])
{
    mdhash_hex(d, SHA1_LEN, hex);
}
