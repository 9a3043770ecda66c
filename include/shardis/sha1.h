/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * sha1.h: SHA-1 (FIPS 180-4) of a byte string, for Lua scripting: Redis names
 * a script by the lowercase hex of its body's SHA-1 (EVALSHA, SCRIPT LOAD)
 * and gives scripts redis.sha1hex. Not for security: SHA-1 is broken for
 * that, and Redis uses it only as a name.
 *
 * Threading: pure functions; any core.
 */
#pragma once

#include <stddef.h>
#include <stdint.h>

#define SHA1_LEN 20

/* Writes the digest of p[0..n) to out. O(n). */
void sha1(const void *p, size_t n, uint8_t out[SHA1_LEN]);
/* Writes the 40 lowercase hex digits of a digest and a NUL to hex. */
void sha1_hex(const uint8_t d[SHA1_LEN], char hex[2 * SHA1_LEN + 1]);
