/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * sha256.h: SHA-256 (FIPS 180-4) of a byte string, for ACL passwords, which
 * Redis stores and shows as the lowercase hex of their SHA-256.
 *
 * Threading: pure functions; any core.
 */
#pragma once

#include <stddef.h>
#include <stdint.h>

#define SHA256_LEN 32

/* Writes the digest of p[0..n) to out. O(n). */
void sha256(const void *p, size_t n, uint8_t out[SHA256_LEN]);
/* Writes the 64 lowercase hex digits of a digest and a NUL to hex. */
void sha256_hex(const uint8_t d[SHA256_LEN], char hex[2 * SHA256_LEN + 1]);
