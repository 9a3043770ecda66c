/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * mdhash.h: what SHA-1 and SHA-256 share (both are Merkle-Damgard hashes
 * over 64-byte blocks of big-endian 32-bit words): the message padding with
 * its bit length, the big-endian output of the state, and lowercase hex.
 */
#pragma once

#include <stddef.h>
#include <stdint.h>

/* Mixes one 64-byte block into the state h. */
typedef void mdhash_block_fn(uint32_t *h, const uint8_t *block);

/* Runs block over p[0..n) and its padding ("1" bit, zeros, bit length as a
 * 64-bit big-endian number), then writes the nwords words of h to out, big
 * endian (4 * nwords bytes). */
void mdhash_run(uint32_t *h, int nwords, mdhash_block_fn *block, const void *p, size_t n,
                uint8_t *out);
/* The n bytes of d as 2n lowercase hex digits and a NUL. */
void mdhash_hex(const uint8_t *d, size_t n, char *hex);
