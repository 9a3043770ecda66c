/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * util.h: number conversions with Redis's exact rules, shared by the
 * keyspace (integer-encoded strings) and the command families.
 */
#pragma once

#include "shardis/sh.h"

/* Decimal long long as Redis's string2ll accepts it: optional '-', no
 * spaces, no '+', no leading zeros, no overflow. */
bool util_str2ll(const char *s, size_t len, long long *out);
/* Writes v in decimal; returns the length (buf needs 21 bytes). */
size_t util_ll2str(char *buf, long long v);
/* A long double as Redis's string2ld accepts it (no spaces, not NaN). */
bool util_str2ld(const char *s, size_t len, long double *out);
/* A SCAN cursor as Redis 7.0's parseScanCursorOrReply reads it (strtoul,
 * base 10): the bytes up to the first NUL; no leading space; an optional
 * sign (a negative value wraps, as strtoul's does); at least one digit after
 * a sign; digits to the end, without overflow. The empty string is 0. */
bool util_parse_cursor(const char *p, size_t len, uint64_t *out);
/* A double as Redis's string2d / getDoubleFromObject accepts it. */
bool util_str2d(const char *s, size_t len, double *out);
/* Formats a long double as INCRBYFLOAT does ("%.17Lf" with trailing zeros
 * trimmed); returns the length (buf needs 5 * 1024 bytes at worst). */
size_t util_ld2str(char *buf, size_t cap, long double v);
/* Parses a size with Redis's units (1k = 1000, 1kb = 1024, m, mb, g, gb, case
 * insensitive). Returns true on success. */
bool util_memtoll(const char *s, long long *out);
