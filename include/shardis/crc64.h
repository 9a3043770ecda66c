/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * crc64.h: Redis's CRC-64 (Jones polynomial, reflected, as crc64.c of Redis
 * computes it), the checksum of DUMP payloads and RDB files.
 * crc64(0, "123456789", 9) == 0xe9c6d914c4b8d9ca.
 */
#pragma once

#include <stddef.h>
#include <stdint.h>

/* Continues crc over p[0..n). Thread-safe (the table is built at first use
 * under pthread_once). O(n), a table lookup per byte. */
uint64_t crc64(uint64_t crc, const void *p, size_t n);
/* The CRC of A || B from crc1 = crc64(0, A), crc2 = crc64(0, B) and len2 =
 * the length of B (zlib's crc32_combine, GF(2) matrix method: this CRC has
 * init 0 and no final xor, so crc(A || B) is crc1 advanced over len2 zero
 * bytes, xor crc2). For writers that checksum parts in parallel. O(log len2)
 * 64x64 matrix squarings (a few microseconds). */
uint64_t crc64_combine(uint64_t crc1, uint64_t crc2, uint64_t len2);
