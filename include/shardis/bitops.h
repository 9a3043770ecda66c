/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * bitops.h: the bit operations of Redis's bitmap commands over a string's
 * bytes, as pure functions (no keyspace, no I/O): popcount, bit search,
 * BITCOUNT's and BITPOS's ranges, BITOP's byte-wise operations, and
 * BITFIELD's integers of 1 to 64 bits at any bit offset with their
 * overflow rules (bitops.c of Redis 7.0).
 *
 * Bit numbering, as Redis's: bit 0 is the most significant bit of byte 0,
 * bit 8 the most significant of byte 1, and so on; a bitfield is read with
 * its most significant bit first (big endian across byte boundaries).
 *
 * Threading: no state; callable from any core. Costs are O(bytes scanned),
 * counted 8 bytes at a time.
 */
#pragma once

#include "shardis/sh.h"

/* BITOP's operations (Redis 7.0 has these four). */
enum bitops_op {
    BITOPS_AND = 0,
    BITOPS_OR = 1,
    BITOPS_XOR = 2,
    BITOPS_NOT = 3,
};

/* BITFIELD's OVERFLOW modes. */
enum bitops_overflow {
    BITOPS_WRAP = 0,
    BITOPS_SAT = 1,
    BITOPS_FAIL = 2,
};

/* One BITFIELD integer: bits 1..64 (signed) or 1..63 (unsigned) at bit
 * offset `offset`. */
struct bitops_field {
    uint64_t offset;
    unsigned bits;
    bool sign;
};

/* Number of bits set in p[0..n). */
uint64_t bitops_popcount(const void *p, size_t n);

/* Redis's redisBitpos: the position of the first bit equal to `bit` (0 or
 * 1) in p[0..n). Looking for a 1 that is not there gives -1; looking for a
 * 0 that is not there gives n * 8 (the string is taken as zero-padded). */
long long bitops_bitpos(const void *p, size_t n, int bit);

/* BITCOUNT over a string of len bytes with a range: start and end
 * inclusive, negative counting from the end, in bytes or (isbit) bits,
 * clamped to the string as Redis 7.0 does. */
long long bitops_count(const void *p, size_t len, long long start, long long end, bool isbit);

/* BITPOS over a string of len bytes: the first bit equal to `bit` from
 * start (bytes, or bits when isbit) to end (inclusive), with Redis 7.0's
 * rules: without end_given the range runs to the end of the string and a 0
 * is then found just past it; with an explicit end, none in range is -1;
 * an empty range is -1. The whole string is start 0 without end_given. */
long long bitops_pos(const void *p, size_t len, int bit, long long start, long long end,
                     bool end_given, bool isbit);

/* BITOP: writes res[0..maxlen) from the n source strings src[i] of len[i]
 * bytes (src[i] may be NULL when len[i] is 0), each taken as zero-padded
 * to maxlen; NOT uses src[0] only. maxlen is the longest len[i]. */
void bitops_op(enum bitops_op op, uint8_t *res, size_t maxlen, const uint8_t *const *src,
               const size_t *len, size_t n);

/* The `bits` (1..64) bits at bit `offset` of p, as an unsigned integer;
 * p must hold them. */
uint64_t bitops_get_bits(const uint8_t *p, uint64_t offset, unsigned bits);
/* Writes the low `bits` bits of value at bit `offset` of p (which must hold
 * them), leaving the bits around them as they were. */
void bitops_set_bits(uint8_t *p, uint64_t offset, unsigned bits, uint64_t value);

/* BITFIELD GET: the field read from a string of len bytes, zero-padded
 * past its end; unsigned fields are below 2^63 and fit. */
int64_t bitops_field_get(const uint8_t *p, size_t len, const struct bitops_field *f);

/* Redis's overflow checks for value + incr stored in `bits` bits: 0 when it
 * fits, 1 above the maximum, -1 below the minimum; then *limit is what to
 * store (WRAP: the wrapped value, SAT: the bound; FAIL leaves it). As in
 * Redis, an unsigned SET of a negative value (value cast to uint64) is
 * "above the maximum". */
int bitops_overflow_unsigned(uint64_t value, int64_t incr, unsigned bits, enum bitops_overflow ow,
                             uint64_t *limit);
int bitops_overflow_signed(int64_t value, int64_t incr, unsigned bits, enum bitops_overflow ow,
                           int64_t *limit);

/* BITFIELD SET (incr false: v is the new value) or INCRBY (v is the
 * increment) on p, which must hold the field. Returns false when it
 * overflows under FAIL (nothing written; the reply is nil); else writes the
 * field and sets *reply (SET: the old value, INCRBY: the new one) and
 * *changed (the stored bits differ from before). */
bool bitops_field_write(uint8_t *p, const struct bitops_field *f, bool incr, int64_t v,
                        enum bitops_overflow ow, int64_t *reply, bool *changed);
