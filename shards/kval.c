/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * kval.c: string values and their two encodings (see kval.h).
 */
#include "shardis/kval.h"

#include "shardis/util.h"

#include <errno.h>
#include <string.h>

void kval_clear(struct kval *v)
{
    if (v->type == KVAL_STRING && v->enc == KVAL_ENC_RAW) {
        sh_free(v->u.s);
    }
    v->type = KVAL_NONE;
    v->enc = 0;
    v->u.p = NULL;
}

void kval_set_int(struct kval *v, long long x)
{
    kval_clear(v);
    v->type = KVAL_STRING;
    v->enc = KVAL_ENC_INT;
    v->u.i = x;
}

int kval_set_string(struct kval *v, const void *p, size_t n)
{
    long long x;
    struct kstr *s;

    if (n <= 20 && util_str2ll(p, n, &x)) {
        kval_set_int(v, x);
        return 0;
    }
    /* reuse the old buffer when it fits and is not wasteful */
    if (v->type == KVAL_STRING && v->enc == KVAL_ENC_RAW && v->u.s->cap >= n &&
        v->u.s->cap <= n * 2 + 64) {
        memcpy(v->u.s->data, p, n);
        v->u.s->len = n;
        return 0;
    }
    s = sh_try_malloc(sizeof(*s) + n);
    if (!s) {
        return -ENOMEM;
    }
    s->len = n;
    s->cap = sh_alloc_size(s) - sizeof(*s);
    memcpy(s->data, p, n);
    kval_clear(v);
    v->type = KVAL_STRING;
    v->enc = KVAL_ENC_RAW;
    v->u.s = s;
    return 0;
}

const char *kval_string(const struct kval *v, char *buf, size_t *len)
{
    if (v->enc == KVAL_ENC_INT) {
        *len = util_ll2str(buf, v->u.i);
        return buf;
    }
    *len = v->u.s->len;
    return v->u.s->data;
}

size_t kval_strlen(const struct kval *v)
{
    char buf[24];

    if (v->enc == KVAL_ENC_INT) {
        return util_ll2str(buf, v->u.i);
    }
    return v->u.s->len;
}

struct kstr *kval_make_raw(struct kval *v, size_t cap)
{
    struct kstr *s;

    if (v->type == KVAL_NONE) {
        /* a new key: an empty string to grow */
        s = sh_try_malloc(sizeof(*s) + cap);
        if (!s) {
            return NULL;
        }
        s->len = 0;
        s->cap = sh_alloc_size(s) - sizeof(*s);
        v->type = KVAL_STRING;
        v->enc = KVAL_ENC_RAW;
        v->u.s = s;
        return s;
    }
    if (v->enc == KVAL_ENC_INT) {
        char buf[24];
        size_t n = util_ll2str(buf, v->u.i);

        s = sh_try_malloc(sizeof(*s) + (cap > n ? cap : n));
        if (!s) {
            return NULL;
        }
        memcpy(s->data, buf, n);
        s->len = n;
        s->cap = sh_alloc_size(s) - sizeof(*s);
        v->enc = KVAL_ENC_RAW;
        v->u.s = s;
        return s;
    }
    if (v->u.s->cap >= cap) {
        return v->u.s;
    }
    size_t want = cap < v->u.s->cap * 2 ? v->u.s->cap * 2 : cap;

    s = sh_try_realloc(v->u.s, sizeof(*s) + want);
    if (!s) {
        s = sh_try_realloc(v->u.s, sizeof(*s) + cap);
        if (!s) {
            return NULL;
        }
    }
    s->cap = sh_alloc_size(s) - sizeof(*s);
    v->u.s = s;
    return s;
}

size_t kval_memory(const struct kval *v)
{
    if (v->type == KVAL_STRING && v->enc == KVAL_ENC_RAW) {
        return sh_alloc_size(v->u.s);
    }
    return 0;
}
