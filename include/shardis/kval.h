/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * kval.h: values stored under keys. Strings have two encodings, as in Redis:
 * a long long when the bytes are the canonical decimal form of one (no
 * allocation; INCR works in place), raw bytes otherwise.
 *
 * Threading: a value belongs to the shard that owns its key.
 */
#pragma once

#include "shardis/sh.h"

enum kval_type {
    KVAL_NONE = 0,
    KVAL_STRING = 1,
};

enum kval_enc {
    KVAL_ENC_RAW = 0, /* bytes in a struct kstr */
    KVAL_ENC_INT = 1, /* a long long whose decimal form is the value */
};

/* A string's bytes, allocated by the shard that owns the key. */
struct kstr {
    size_t len;
    size_t cap;
    char data[];
};

struct kval {
    uint8_t type; /* enum kval_type */
    uint8_t enc;  /* enum kval_enc */
    union {
        long long i;
        struct kstr *s;
        void *p;
    } u;
};

/* Frees a value's memory and sets it to KVAL_NONE. */
void kval_clear(struct kval *v);
/* Replaces v by a string with the bytes p[0..n), integer-encoded when they
 * are a canonical long long. Returns 0, or -ENOMEM when the bytes could not
 * be allocated (v is then unchanged). */
SH_MUST_CHECK int kval_set_string(struct kval *v, const void *p, size_t n);
/* Replaces v by the integer string of x. */
void kval_set_int(struct kval *v, long long x);
/* The bytes of a string value: points into the value, or into buf (at
 * least 24 bytes) for an integer. Borrowed until v changes. */
const char *kval_string(const struct kval *v, char *buf, size_t *len);
/* Length of a string value's bytes. */
size_t kval_strlen(const struct kval *v);
/* Makes v (a string, or an empty new value) a raw string of at least cap
 * bytes, keeping its bytes (an integer is converted). Returns the bytes (len
 * stays) or NULL when out of memory. */
SH_MUST_CHECK struct kstr *kval_make_raw(struct kval *v, size_t cap);
/* Bytes the value holds in memory (for MEMORY USAGE and accounting). */
size_t kval_memory(const struct kval *v);
