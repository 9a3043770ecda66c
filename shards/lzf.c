/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * lzf.c: LZF decompression (see lzf.h), after the format of Marc Lehmann's
 * liblzf: a control byte below 32 starts a literal run of ctrl + 1 bytes;
 * otherwise ctrl >> 5 is the length - 2 of a back reference (7: one more
 * length byte follows) and (ctrl & 31) << 8 | the next byte its distance - 1.
 * Every read and write is checked.
 */
#include "shardis/lzf.h"

#include <stdint.h>

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
            for (size_t i = 0; i < len; i++) {
                op[i] = op[i - back];
            }
            op += len;
        }
    }
    return (size_t)(op - (uint8_t *)out);
}
