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
