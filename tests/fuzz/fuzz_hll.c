/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * fuzz_hll.c: libFuzzer target for the HyperLogLog decoder (hll.h) over
 * arbitrary bytes. Byte 0 picks the shape: bit 0 set gives the raw input
 * (as a client could SET it), otherwise a valid header is put in front of
 * the rest (bit 1: dense, padded or cut to the dense size; else sparse
 * opcodes). bits 2-7 scale hll-sparse-max-bytes. Then every entry point
 * runs over it, and the results must agree with each other:
 *
 *   - count, merge and to-dense accept or refuse the same strings;
 *   - an accepted sparse string counts the same once made dense;
 *   - PFADD and PFMERGE's write keep the value a valid HLL; the first add
 *     to a value that counted fine never fails (a later one may: an add
 *     into a cut final XZERO leaves it cut, as in Redis).
 *
 * ASan and UBSan check that nothing reads or writes out of bounds.
 */
#include "shardis/hll.h"
#include "shardis/kval.h"

#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static uint8_t *shape(const uint8_t *data, size_t size, size_t *len)
{
    uint8_t mode = data[0], *b;

    data++;
    size--;
    if (mode & 1) {
        *len = size;
        return size ? memcpy(malloc(size), data, size) : malloc(1);
    }
    *len = (mode & 2) ? HLL_DENSE_SIZE : HLL_HDR_SIZE + size;
    b = calloc(1, *len);
    memcpy(b, "HYLL", 4);
    b[4] = (mode & 2) ? HLL_DENSE : HLL_SPARSE;
    b[15] = 0x80;
    memcpy(b + HLL_HDR_SIZE, data, size < *len - HLL_HDR_SIZE ? size : *len - HLL_HDR_SIZE);
    return b;
}

/* The bytes as cmd_hll.c hands a key's value to the HLL code: a raw
 * string (struct kstr), not a short string's other encodings. */
static int set_raw(struct kval *v, const uint8_t *b, size_t len)
{
    if (kval_set_string(v, b, len) != 0 || !kval_make_raw(v, len)) {
        return -1;
    }
    return 0;
}

static void check_value(const struct kval *v)
{
    if (v->type != KVAL_STRING || !hll_is_valid(v->u.s->data, v->u.s->len)) {
        abort();
    }
}

/* PFADD of a few elements taken from the input. */
static void exercise_add(const uint8_t *b, size_t len, const uint8_t *data, size_t size, size_t max,
                         bool counted)
{
    struct kval v = { 0 };

    if (set_raw(&v, b, len) != 0) {
        abort();
    }
    for (size_t i = 0; i + 4 <= size && i < 64; i += 4) {
        int rc = hll_add(&v, data + i, 4, max);

        if (rc < -EINVAL || rc > 1 || (counted && i == 0 && rc < 0)) {
            abort();
        }
        check_value(&v);
    }
    kval_clear(&v);
}

/* PFMERGE's write of b's registers (when readable) into a copy of b. */
static void exercise_store(const uint8_t *b, size_t len, size_t max, bool to_dense)
{
    static uint8_t regs[HLL_REGISTERS];
    struct kval v = { 0 };
    uint64_t c1, c2;

    memset(regs, 0, sizeof(regs));
    if (hll_merge(regs, b, len) != 0) {
        return;
    }
    if (set_raw(&v, b, len) != 0 || hll_store(&v, regs, to_dense, max) != 0) {
        abort();
    }
    check_value(&v);
    /* merging a value into itself changes no register */
    if (hll_count(v.u.s->data, v.u.s->len, &c1) != 0 || hll_count(b, len, &c2) != 0 || c1 != c2) {
        abort();
    }
    kval_clear(&v);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static uint8_t regs[HLL_REGISTERS];
    size_t len, max, dlen;
    uint64_t card = 0, dense_card;
    struct kval v = { 0 };
    uint8_t *b;
    char *text;
    int rc_count, rc_merge, rc_dense;

    if (size == 0) {
        return 0;
    }
    max = (size_t)(data[0] >> 2) * 64;
    b = shape(data, size, &len);
    if (!hll_is_valid(b, len)) {
        free(b);
        return 0;
    }
    rc_count = hll_count(b, len, &card);
    memset(regs, 0, sizeof(regs));
    rc_merge = hll_merge(regs, b, len);
    if (set_raw(&v, b, len) != 0) {
        abort();
    }
    rc_dense = hll_to_dense(&v);
    if (rc_count != rc_merge || (rc_count == 0) != (rc_dense >= 0)) {
        abort();
    }
    if (rc_count == 0) {
        check_value(&v);
        if (hll_count(v.u.s->data, v.u.s->len, &dense_card) != 0 || dense_card != card ||
            hll_count_registers(regs) != card) {
            abort();
        }
    }
    kval_clear(&v);
    if (hll_encoding_of(b) == HLL_SPARSE) {
        text = hll_decode(b, len, &dlen);
        if (!text || strlen(text) != dlen) {
            abort();
        }
        sh_free(text);
    }
    exercise_add(b, len, data, size, max, rc_count == 0);
    exercise_store(b, len, max, data[0] & 4);
    free(b);
    return 0;
}
