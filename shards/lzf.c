/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * lzf.c: LZF decompression (see lzf.h), after the format of Marc Lehmann's
 * liblzf: a control byte below 32 starts a literal run of ctrl + 1 bytes;
 * otherwise ctrl >> 5 is the length - 2 of a back reference (7: one more
 * length byte follows) and (ctrl & 31) << 8 | the next byte its distance - 1.
 * Every read and write is checked.
 *
 * Compression is greedy, as liblzf's: a hash table of the last position of
 * each 3-byte prefix (sized to the input, at most 4096 slots on the stack)
 * proposes a match within 8 KiB behind; a match is extended up to 264 bytes
 * and the positions it covers are hashed too; everything else goes out as
 * literal runs of at most 32 bytes.
 */
#include "shardis/lzf.h"

#include <stdbool.h>
#include <stdint.h>
#include <string.h>

#define HLOG_MAX 12
#define MAX_OFF  (1u << 13)
#define MAX_REF  ((1u << 8) + (1u << 3)) /* 264 */
#define MAX_LIT  32u

size_t lzf_decompress(const void *in, size_t in_len, void *out, size_t out_len)
{
    const uint8_t *ip = in, *in_end = ip + in_len;
    uint8_t *op = out, *out_end = op + out_len;

    while (ip < in_end) {
        unsigned ctrl = *ip++;

        if (ctrl < 32) {
            size_t len = ctrl + 1;

            if ((size_t)(in_end - ip) < len || (size_t)(out_end - op) < len) {
                return 0;
            }
            for (size_t i = 0; i < len; i++) {
                op[i] = ip[i];
            }
            ip += len;
            op += len;
        } else {
            size_t len = ctrl >> 5, back;

            if (len == 7) {
                if (ip >= in_end) {
                    return 0;
                }
                len += *ip++;
            }
            if (ip >= in_end) {
                return 0;
            }
            back = (((size_t)ctrl & 0x1f) << 8) + *ip++ + 1;
            len += 2;
            if (back > (size_t)(op - (uint8_t *)out) || (size_t)(out_end - op) < len) {
                return 0;
            }
            /* byte by byte: the reference may overlap what it writes */
            const uint8_t *ref = op - back;

            for (size_t i = 0; i < len; i++) {
                op[i] = ref[i];
            }
            op += len;
        }
    }
    return (size_t)(op - (uint8_t *)out);
}

static unsigned hash3(const uint8_t *p, unsigned hlog)
{
    uint32_t v = (uint32_t)p[0] << 16 | (uint32_t)p[1] << 8 | p[2];

    return (v * 2654435761u) >> (32 - hlog);
}

/* Writes in[0..n) as literal runs at out[*op..out_len); false when they do
 * not fit. */
static bool put_literals(const uint8_t *in, size_t n, uint8_t *out, size_t out_len, size_t *op)
{
    while (n > 0) {
        size_t k = n < MAX_LIT ? n : MAX_LIT;

        if (out_len - *op < k + 1) {
            return false;
        }
        out[(*op)++] = (uint8_t)(k - 1);
        memcpy(out + *op, in, k);
        *op += k;
        in += k;
        n -= k;
    }
    return true;
}

/* A back reference of len (3 .. MAX_REF) bytes, dist (1 .. MAX_OFF) back. */
static bool put_ref(size_t len, size_t dist, uint8_t *out, size_t out_len, size_t *op)
{
    size_t l = len - 2, off = dist - 1;

    if (out_len - *op < (l >= 7 ? 3u : 2u)) {
        return false;
    }
    if (l < 7) {
        out[(*op)++] = (uint8_t)(l << 5 | off >> 8);
    } else {
        out[(*op)++] = (uint8_t)(7 << 5 | off >> 8);
        out[(*op)++] = (uint8_t)(l - 7);
    }
    out[(*op)++] = (uint8_t)off;
    return true;
}

size_t lzf_compress(const void *in, size_t in_len, void *out, size_t out_len)
{
    const uint8_t *ip = in;
    uint8_t *o = out;
    uint32_t table[1u << HLOG_MAX]; /* position + 1 of a prefix; 0: none */
    unsigned hlog = 4;
    size_t i = 0, lit = 0, op = 0;

    if (in_len == 0) {
        return 0;
    }
    while (hlog < HLOG_MAX && ((size_t)1 << hlog) < in_len) {
        hlog++;
    }
    memset(table, 0, sizeof(table[0]) << hlog);
    while (i + 2 < in_len) {
        unsigned h = hash3(ip + i, hlog);
        size_t ref = table[h];

        table[h] = (uint32_t)(i + 1);
        if (ref == 0 || i - (ref - 1) > MAX_OFF || memcmp(ip + ref - 1, ip + i, 3) != 0) {
            i++;
            continue;
        }
        ref--;
        size_t max = in_len - i < MAX_REF ? in_len - i : MAX_REF, len = 3;

        while (len < max && ip[ref + len] == ip[i + len]) {
            len++;
        }
        if (!put_literals(ip + lit, i - lit, o, out_len, &op) ||
            !put_ref(len, i - ref, o, out_len, &op)) {
            return 0;
        }
        for (size_t k = i + 1; k < i + len && k + 2 < in_len; k++) {
            table[hash3(ip + k, hlog)] = (uint32_t)(k + 1);
        }
        i += len;
        lit = i;
    }
    if (!put_literals(ip + lit, in_len - lit, o, out_len, &op)) {
        return 0;
    }
    return op;
}
