/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * lzf.h: LZF compression and decompression, the format of liblzf that Redis
 * uses for compressed strings in RDB files and DUMP payloads.
 */
#pragma once

#include <stddef.h>

/* Decompresses in[0..in_len) into out[0..out_len). Returns the bytes
 * written, or 0 when the input is malformed or does not fit out (never
 * reads or writes out of bounds). O(out_len). */
size_t lzf_decompress(const void *in, size_t in_len, void *out, size_t out_len);
/* Compresses in[0..in_len) into out[0..out_len). Returns the bytes written,
 * or 0 when the result does not fit out (the caller then stores the bytes
 * as they are) or in_len is 0. Any output decompresses with lzf_decompress
 * (and liblzf's) to the input. O(in_len); uses about 16 KiB of stack. */
size_t lzf_compress(const void *in, size_t in_len, void *out, size_t out_len);
