/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * intset.c: the integer set (see intset.h), in Redis's layout:
 *
 *   +------------+------------+---------+---------+-----+-------------+
 *   | width: u32 | length:u32 | value 0 | value 1 | ... | value len-1 |
 *   +------------+------------+---------+---------+-----+-------------+
 *     2, 4 or 8    members      each `width` bytes, signed
 *
 * everything little-endian (the static_assert below: we copy native values).
 *
 * Invariants: the values are strictly ascending; the allocation is exactly
 * 8 + length * width bytes; width only grows. Adding a value that does not
 * fit the width rewrites every member at the wider width, back to front in
 * the same (grown) block, and the new value, being out of the old range,
 * goes first (negative) or last (positive).
 *
 * Threading: none; a set belongs to one shard.
 */
#include "shardis/intset.h"

#include <assert.h>
#include <errno.h>
#include <string.h>

static_assert(__BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__, "intset copies native little-endian");

#define HDR_BYTES 8

struct intset {
    unsigned char hdr[HDR_BYTES]; /* width, length */
    unsigned char contents[];
};

static uint32_t hdr_get(const unsigned char *hdr, unsigned field)
{
    uint32_t v;

    memcpy(&v, hdr + 4 * field, sizeof(v));
    return v;
}

static void hdr_set(unsigned char *hdr, unsigned field, uint32_t v)
{
    memcpy(hdr + 4 * field, &v, sizeof(v));
}

static unsigned width(const struct intset *is)
{
    return hdr_get(is->hdr, 0);
}

static size_t length(const struct intset *is)
{
    return hdr_get(is->hdr, 1);
}

static unsigned width_for(int64_t v)
{
    if (v >= INT16_MIN && v <= INT16_MAX) {
        return 2;
    }
    if (v >= INT32_MIN && v <= INT32_MAX) {
        return 4;
    }
    return 8;
}

/* The value at index i of contents stored w bytes wide. */
static int64_t value_at(const unsigned char *contents, unsigned w, size_t i)
{
    const unsigned char *p = contents + i * w;
    int16_t v16;
    int32_t v32;
    int64_t v64;

    switch (w) {
    case 2:
        memcpy(&v16, p, sizeof(v16));
        return v16;
    case 4:
        memcpy(&v32, p, sizeof(v32));
        return v32;
    default:
        memcpy(&v64, p, sizeof(v64));
        return v64;
    }
}

static void value_set(unsigned char *contents, unsigned w, size_t i, int64_t v)
{
    unsigned char *p = contents + i * w;
    int16_t v16 = (int16_t)v;
    int32_t v32 = (int32_t)v;

    switch (w) {
    case 2:
        memcpy(p, &v16, sizeof(v16));
        break;
    case 4:
        memcpy(p, &v32, sizeof(v32));
        break;
    default:
        memcpy(p, &v, sizeof(v));
        break;
    }
}

/* Whether v (which fits the width) is present; *pos is its index, or where
 * it would be inserted. */
static bool search(const struct intset *is, int64_t v, size_t *pos)
{
    unsigned w = width(is);
    size_t lo = 0, hi = length(is);

    if (hi > 0 && v > value_at(is->contents, w, hi - 1)) {
        *pos = hi;
        return false;
    }
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        int64_t cur = value_at(is->contents, w, mid);

        if (cur == v) {
            *pos = mid;
            return true;
        }
        if (cur < v) {
            lo = mid + 1;
        } else {
            hi = mid;
        }
    }
    *pos = lo;
    return false;
}

static struct intset *resize(struct intset *is, unsigned w, size_t n)
{
    SH_ASSERT(n <= UINT32_MAX);
    return sh_realloc(is, HDR_BYTES + n * w);
}

struct intset *intset_create(void)
{
    struct intset *is = sh_malloc(HDR_BYTES);

    hdr_set(is->hdr, 0, 2);
    hdr_set(is->hdr, 1, 0);
    return is;
}

void intset_destroy(struct intset *is)
{
    sh_free(is);
}

/* Widens every member to fit v, which is outside the current range, and
 * adds v at the front or the back. */
static struct intset *upgrade_and_add(struct intset *is, int64_t v)
{
    unsigned w = width(is), nw = width_for(v);
    size_t n = length(is);
    size_t front = v < 0 ? 1 : 0;

    is = resize(is, nw, n + 1);
    for (size_t i = n; i-- > 0;) {
        value_set(is->contents, nw, i + front, value_at(is->contents, w, i));
    }
    value_set(is->contents, nw, front ? 0 : n, v);
    hdr_set(is->hdr, 0, nw);
    hdr_set(is->hdr, 1, (uint32_t)(n + 1));
    return is;
}

struct intset *intset_add(struct intset *is, int64_t v, bool *added)
{
    unsigned w = width(is);
    size_t n = length(is), pos;

    if (added) {
        *added = true;
    }
    if (width_for(v) > w) {
        return upgrade_and_add(is, v);
    }
    if (search(is, v, &pos)) {
        if (added) {
            *added = false;
        }
        return is;
    }
    is = resize(is, w, n + 1);
    memmove(is->contents + (pos + 1) * w, is->contents + pos * w, (n - pos) * w);
    value_set(is->contents, w, pos, v);
    hdr_set(is->hdr, 1, (uint32_t)(n + 1));
    return is;
}

struct intset *intset_remove(struct intset *is, int64_t v, bool *removed)
{
    unsigned w = width(is);
    size_t n = length(is), pos = 0;
    bool found = width_for(v) <= w && search(is, v, &pos);

    if (removed) {
        *removed = found;
    }
    if (!found) {
        return is;
    }
    memmove(is->contents + pos * w, is->contents + (pos + 1) * w, (n - pos - 1) * w);
    hdr_set(is->hdr, 1, (uint32_t)(n - 1));
    return resize(is, w, n - 1);
}

bool intset_has(const struct intset *is, int64_t v)
{
    size_t pos;

    return width_for(v) <= width(is) && search(is, v, &pos);
}

size_t intset_len(const struct intset *is)
{
    return length(is);
}

size_t intset_bytes(const struct intset *is)
{
    return HDR_BYTES + length(is) * width(is);
}

unsigned intset_width(const struct intset *is)
{
    return width(is);
}

int64_t intset_get(const struct intset *is, size_t pos)
{
    SH_ASSERT(pos < length(is));
    return value_at(is->contents, width(is), pos);
}

int64_t intset_min(const struct intset *is)
{
    return intset_get(is, 0);
}

int64_t intset_max(const struct intset *is)
{
    SH_ASSERT(length(is) > 0);
    return intset_get(is, length(is) - 1);
}

int64_t intset_random(const struct intset *is, uint64_t rnd)
{
    SH_ASSERT(length(is) > 0);
    return intset_get(is, (size_t)(rnd % length(is)));
}

int intset_validate(const void *buf, size_t size)
{
    const unsigned char *b = buf;
    unsigned w;
    size_t n;

    if (size < HDR_BYTES) {
        return -EINVAL;
    }
    w = hdr_get(b, 0);
    n = hdr_get(b, 1);
    if (w != 2 && w != 4 && w != 8) {
        return -EINVAL;
    }
    if ((size - HDR_BYTES) % w != 0 || (size - HDR_BYTES) / w != n) {
        return -EINVAL;
    }
    for (size_t i = 1; i < n; i++) {
        if (value_at(b + HDR_BYTES, w, i - 1) >= value_at(b + HDR_BYTES, w, i)) {
            return -EINVAL;
        }
    }
    return 0;
}

int intset_load(const void *buf, size_t size, struct intset **out)
{
    int err = intset_validate(buf, size);
    void *copy;

    if (err < 0) {
        return err;
    }
    copy = sh_memdup(buf, size);
    *out = copy;
    return 0;
}
