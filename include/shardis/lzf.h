/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * lzf.h: LZF decompression, the format of liblzf that Redis uses for
 * compressed strings in RDB files and DUMP payloads.
 */
#pragma once

#include <stddef.h>

/* Decompresses in[0..in_len) into out[0..out_len). Returns the bytes
 * written, or 0 when the input is malformed or does not fit out (never
 * reads or writes out of bounds). O(out_len). */
size_t lzf_decompress(const void *in, size_t in_len, void *out, size_t out_len);
