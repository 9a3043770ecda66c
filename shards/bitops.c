/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * bitops.c: the bit operations behind SETBIT GETBIT BITCOUNT BITPOS BITOP
 * and BITFIELD, over plain byte arrays (see bitops.h), with the results of
 * Redis 7.0's bitops.c.
 *
 * Scans go 8 bytes at a time: words are loaded with memcpy (any alignment,
 * no aliasing questions) and only the byte-wise result matters, so the
 * host's byte order never shows except where a word's first differing byte
 * is looked for, which is done byte by byte inside that word.
 *
 * Popcount uses the POPCNT instruction when the CPU has it (chosen at run
 * time, as Redis does; the build targets baseline x86-64) and the
 * compiler's portable __builtin_popcountll otherwise.
 *
 * BITFIELD integers are read and written a byte (at most 8 bits of the
 * field) at a time, most significant bits first; a field of 64 bits at an
 * unaligned offset spans 9 bytes.
 *
 * Two of Redis's results look odd and are kept on purpose: an unsigned SET
 * of a negative value counts as overflowing upwards (the value is taken as
 * a uint64), and a signed SET of a value within 2^bits of INT64_MIN counts
 * as overflowing upwards too (Redis's max - value wraps); both then
 * saturate to the maximum. The arithmetic that Redis leaves to signed
 * overflow is done here in uint64_t, which wraps the same way without
 * undefined behaviour.
 *
 * Threading: no state.
 */
#include "shardis/bitops.h"

#include <string.h>

/* ---- popcount ---- */

static inline __attribute__((always_inline)) uint64_t load64(const uint8_t *p)
{
    uint64_t w;

    memcpy(&w, p, sizeof(w));
    return w;
}

static inline __attribute__((always_inline)) uint64_t popcount_body(const uint8_t *p, size_t n)
{
    uint64_t c0 = 0, c1 = 0, c2 = 0, c3 = 0, w = 0;

    /* four independent sums keep several popcounts in flight */
    while (n >= 32) {
        c0 += (uint64_t)__builtin_popcountll(load64(p));
        c1 += (uint64_t)__builtin_popcountll(load64(p + 8));
        c2 += (uint64_t)__builtin_popcountll(load64(p + 16));
        c3 += (uint64_t)__builtin_popcountll(load64(p + 24));
        p += 32;
        n -= 32;
    }
    while (n >= 8) {
        c0 += (uint64_t)__builtin_popcountll(load64(p));
        p += 8;
        n -= 8;
    }
    memcpy(&w, p, n);
    return c0 + c1 + c2 + c3 + (uint64_t)__builtin_popcountll(w);
}

#if defined(__x86_64__) && defined(__GNUC__)
__attribute__((target("popcnt"))) static uint64_t popcount_hw(const uint8_t *p, size_t n)
{
    return popcount_body(p, n);
}

static bool have_popcnt(void)
{
    return __builtin_cpu_supports("popcnt");
}
#else
static uint64_t popcount_hw(const uint8_t *p, size_t n)
{
    return popcount_body(p, n);
}

static bool have_popcnt(void)
{
    return false;
}
#endif

static uint64_t popcount_sw(const uint8_t *p, size_t n)
{
    return popcount_body(p, n);
}

uint64_t bitops_popcount(const void *p, size_t n)
{
    if (n == 0) {
        return 0;
    }
    return have_popcnt() ? popcount_hw(p, n) : popcount_sw(p, n);
}

/* ---- bit search ---- */

/* Position (0 = most significant) of the highest set bit of a byte v != 0. */
static unsigned first_bit8(unsigned v)
{
    return (unsigned)__builtin_clz(v) - (unsigned)(8 * sizeof(unsigned) - 8);
}

long long bitops_bitpos(const void *s, size_t n, int bit)
{
    const uint8_t *p = s;
    uint64_t skip = bit ? 0 : UINT64_MAX;
    unsigned inv = bit ? 0 : 0xFF;
    size_t i = 0;

    while (i + 8 <= n && load64(p + i) == skip) {
        i += 8;
    }
    for (; i < n; i++) {
        unsigned v = (p[i] ^ inv) & 0xFF;

        if (v) {
            return (long long)(i * 8 + first_bit8(v));
        }
    }
    return bit ? -1 : (long long)n * 8;
}

/* The first bit equal to `bit` among bits lo..hi (inclusive) of p, or -1. */
static long long find_bit(const uint8_t *p, uint64_t lo, uint64_t hi, int bit)
{
    uint64_t first = lo >> 3, last = hi >> 3;
    unsigned inv = bit ? 0 : 0xFF;
    unsigned head = 0xFFu >> (lo & 7), tail = (0xFFu << (7 - (hi & 7))) & 0xFF, v;
    long long pos;

    if (first == last) {
        v = (p[first] ^ inv) & head & tail;
        return v ? (long long)(first * 8 + first_bit8(v)) : -1;
    }
    v = (p[first] ^ inv) & head;
    if (v) {
        return (long long)(first * 8 + first_bit8(v));
    }
    if (last - first > 1) {
        size_t n = (size_t)(last - first - 1);

        pos = bitops_bitpos(p + first + 1, n, bit);
        if (pos >= 0 && (uint64_t)pos < n * 8) {
            return (long long)((first + 1) * 8) + pos;
        }
    }
    v = (p[last] ^ inv) & tail;
    return v ? (long long)(last * 8 + first_bit8(v)) : -1;
}

/* Redis's range rules: negative from the end, clamped to [0, totlen). */
static void clamp_range(long long totlen, long long *start, long long *end)
{
    if (*start < 0) {
        *start += totlen;
    }
    if (*end < 0) {
        *end += totlen;
    }
    if (*start < 0) {
        *start = 0;
    }
    if (*end < 0) {
        *end = 0;
    }
    if (*end >= totlen) {
        *end = totlen - 1;
    }
}

long long bitops_count(const void *s, size_t len, long long start, long long end, bool isbit)
{
    const uint8_t *p = s;
    long long totlen = isbit ? (long long)len * 8 : (long long)len;
    unsigned first_mask = 0, last_mask = 0;
    uint64_t count;

    if (start < 0 && end < 0 && start > end) {
        return 0;
    }
    clamp_range(totlen, &start, &end);
    if (start > end) {
        return 0;
    }
    if (isbit) {
        /* the bits of the edge bytes outside the range, subtracted below */
        first_mask = ~((1u << (8 - (start & 7))) - 1) & 0xFF;
        last_mask = (1u << (7 - (end & 7))) - 1;
        start >>= 3;
        end >>= 3;
    }
    count = bitops_popcount(p + start, (size_t)(end - start + 1));
    count -= (uint64_t)__builtin_popcount(p[start] & first_mask);
    count -= (uint64_t)__builtin_popcount(p[end] & last_mask);
    return (long long)count;
}

long long bitops_pos(const void *s, size_t len, int bit, long long start, long long end,
                     bool end_given, bool isbit)
{
    long long totlen = isbit ? (long long)len * 8 : (long long)len;
    uint64_t lo, hi;
    long long pos;

    if (!end_given) {
        end = isbit ? totlen + 7 : totlen - 1;
    }
    clamp_range(totlen, &start, &end);
    if (start > end) {
        return -1;
    }
    lo = isbit ? (uint64_t)start : (uint64_t)start * 8;
    hi = isbit ? (uint64_t)end : (uint64_t)end * 8 + 7;
    pos = find_bit(s, lo, hi, bit);
    /* without an explicit end the string is zero-padded on the right */
    if (pos < 0 && bit == 0 && !end_given) {
        return (long long)hi + 1;
    }
    return pos;
}

/* ---- BITOP ---- */

/* 8 bytes of s (len bytes) from j, zero past its end. */
static uint64_t load_padded(const uint8_t *s, size_t len, size_t j)
{
    uint64_t w = 0;

    if (j + 8 <= len) {
        memcpy(&w, s + j, 8);
    } else if (j < len) {
        memcpy(&w, s + j, len - j);
    }
    return w;
}

void bitops_op(enum bitops_op op, uint8_t *res, size_t maxlen, const uint8_t *const *src,
               const size_t *len, size_t n)
{
    for (size_t j = 0; j < maxlen; j += 8) {
        uint64_t w = load_padded(src[0], len[0], j);

        if (op == BITOPS_NOT) {
            w = ~w;
        }
        for (size_t i = 1; i < n && op != BITOPS_NOT; i++) {
            uint64_t x = load_padded(src[i], len[i], j);

            if (op == BITOPS_AND) {
                w &= x;
            } else if (op == BITOPS_OR) {
                w |= x;
            } else {
                w ^= x;
            }
        }
        memcpy(res + j, &w, maxlen - j < 8 ? maxlen - j : 8);
    }
}

/* ---- BITFIELD ---- */

uint64_t bitops_get_bits(const uint8_t *p, uint64_t offset, unsigned bits)
{
    uint64_t v = 0;

    while (bits) {
        unsigned s = offset & 7, take = 8 - s < bits ? 8 - s : bits;
        unsigned chunk = ((unsigned)p[offset >> 3] >> (8 - s - take)) & ((1u << take) - 1);

        v = (v << take) | chunk;
        offset += take;
        bits -= take;
    }
    return v;
}

void bitops_set_bits(uint8_t *p, uint64_t offset, unsigned bits, uint64_t value)
{
    while (bits) {
        unsigned s = offset & 7, take = 8 - s < bits ? 8 - s : bits;
        unsigned shift = 8 - s - take, ones = (1u << take) - 1;
        unsigned chunk = (unsigned)(value >> (bits - take)) & ones;
        uint8_t *b = &p[offset >> 3];

        *b = (uint8_t)((*b & ~(ones << shift)) | (chunk << shift));
        offset += take;
        bits -= take;
    }
}

/* The low `bits` bits of v as a two's complement integer (the bits above
 * them are ignored). */
static int64_t sign_extend(uint64_t v, unsigned bits)
{
    if (bits < 64) {
        uint64_t high = UINT64_MAX << bits;

        v = (v >> (bits - 1)) & 1 ? v | high : v & ~high;
    }
    return (int64_t)v;
}

int64_t bitops_field_get(const uint8_t *p, size_t len, const struct bitops_field *f)
{
    uint8_t buf[9] = { 0 };
    uint64_t byte = f->offset >> 3, v;

    if (byte < len) {
        memcpy(buf, p + byte, len - byte < sizeof(buf) ? (size_t)(len - byte) : sizeof(buf));
    }
    v = bitops_get_bits(buf, f->offset & 7, f->bits);
    return f->sign ? sign_extend(v, f->bits) : (int64_t)v;
}

int bitops_overflow_unsigned(uint64_t value, int64_t incr, unsigned bits, enum bitops_overflow ow,
                             uint64_t *limit)
{
    uint64_t max = bits == 64 ? UINT64_MAX : (UINT64_C(1) << bits) - 1;
    int64_t maxincr = (int64_t)(max - value);
    int64_t minincr = (int64_t)(0 - value);
    int r;

    if (value > max || (incr > 0 && incr > maxincr)) {
        r = 1;
    } else if (incr < 0 && incr < minincr) {
        r = -1;
    } else {
        return 0;
    }
    if (ow == BITOPS_WRAP) {
        uint64_t mask = bits == 64 ? 0 : UINT64_MAX << bits;

        *limit = (value + (uint64_t)incr) & ~mask;
        return 1; /* Redis says 1 for a wrap either way */
    }
    if (ow == BITOPS_SAT) {
        *limit = r > 0 ? max : 0;
    }
    return r;
}

int bitops_overflow_signed(int64_t value, int64_t incr, unsigned bits, enum bitops_overflow ow,
                           int64_t *limit)
{
    int64_t max = bits == 64 ? INT64_MAX : (int64_t)((UINT64_C(1) << (bits - 1)) - 1);
    int64_t min = -max - 1;
    int64_t maxincr = (int64_t)((uint64_t)max - (uint64_t)value);
    int64_t minincr = (int64_t)((uint64_t)min - (uint64_t)value);
    int r;

    if (value > max || (bits != 64 && incr > maxincr) ||
        (value >= 0 && incr > 0 && incr > maxincr)) {
        r = 1;
    } else if (value < min || (bits != 64 && incr < minincr) ||
               (value < 0 && incr < 0 && incr < minincr)) {
        r = -1;
    } else {
        return 0;
    }
    if (ow == BITOPS_WRAP) {
        uint64_t c = (uint64_t)value + (uint64_t)incr;

        *limit = sign_extend(c, bits);
        return 1;
    }
    if (ow == BITOPS_SAT) {
        *limit = r > 0 ? max : min;
    }
    return r;
}

static bool write_signed(uint8_t *p, const struct bitops_field *f, bool incr, int64_t v,
                         enum bitops_overflow ow, int64_t *reply, bool *changed)
{
    int64_t oldval = sign_extend(bitops_get_bits(p, f->offset, f->bits), f->bits);
    int64_t newval, wrapped = 0;
    int of;

    if (incr) {
        of = bitops_overflow_signed(oldval, v, f->bits, ow, &wrapped);
        newval = of ? wrapped : (int64_t)((uint64_t)oldval + (uint64_t)v);
        *reply = newval;
    } else {
        of = bitops_overflow_signed(v, 0, f->bits, ow, &wrapped);
        newval = of ? wrapped : v;
        *reply = oldval;
    }
    if (of && ow == BITOPS_FAIL) {
        return false;
    }
    bitops_set_bits(p, f->offset, f->bits, (uint64_t)newval);
    *changed = oldval != newval;
    return true;
}

static bool write_unsigned(uint8_t *p, const struct bitops_field *f, bool incr, int64_t v,
                           enum bitops_overflow ow, int64_t *reply, bool *changed)
{
    uint64_t oldval = bitops_get_bits(p, f->offset, f->bits);
    uint64_t newval, wrapped = 0;
    int of;

    if (incr) {
        of = bitops_overflow_unsigned(oldval, v, f->bits, ow, &wrapped);
        newval = of ? wrapped : oldval + (uint64_t)v;
        *reply = (int64_t)newval;
    } else {
        of = bitops_overflow_unsigned((uint64_t)v, 0, f->bits, ow, &wrapped);
        newval = of ? wrapped : (uint64_t)v;
        *reply = (int64_t)oldval;
    }
    if (of && ow == BITOPS_FAIL) {
        return false;
    }
    bitops_set_bits(p, f->offset, f->bits, newval);
    *changed = oldval != newval;
    return true;
}

bool bitops_field_write(uint8_t *p, const struct bitops_field *f, bool incr, int64_t v,
                        enum bitops_overflow ow, int64_t *reply, bool *changed)
{
    if (f->sign) {
        return write_signed(p, f, incr, v, ow, reply, changed);
    }
    return write_unsigned(p, f, incr, v, ow, reply, changed);
}
