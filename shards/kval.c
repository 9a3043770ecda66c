/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * kval.c: string values and their two encodings, the dispatch of what every
 * value type must do, and the byte form values travel in (see kval.h).
 */
#include "shardis/kval.h"

#include "shardis/thash.h"
#include "shardis/tlist.h"
#include "shardis/tset.h"
#include "shardis/tstream.h"
#include "shardis/tzset.h"
#include "shardis/util.h"

#include <errno.h>
#include <string.h>

/* The bytes a string's allocation holds (at most KVAL_STR_MAX). */
static uint32_t str_cap(const struct kstr *s)
{
    size_t cap = sh_alloc_size(s) - sizeof(*s);

    return cap > KVAL_STR_MAX ? KVAL_STR_MAX : (uint32_t)cap;
}

void kval_clear(struct kval *v)
{
    switch (v->type) {
    case KVAL_STRING:
        if (v->enc == KVAL_ENC_RAW) {
            sh_free(v->u.s);
        } else if (v->enc == KVAL_ENC_BARE) {
            sh_free(v->u.p);
        }
        break;
    case KVAL_LIST:
        tlist_free(v);
        break;
    case KVAL_SET:
        tset_free(v);
        break;
    case KVAL_ZSET:
        tzset_free(v);
        break;
    case KVAL_HASH:
        thash_free(v);
        break;
    case KVAL_STREAM:
        tstream_free(v);
        break;
    default:
        break;
    }
    v->type = KVAL_NONE;
    v->enc = 0;
    v->grown = 0;
    v->elen = 0;
    v->u.p = NULL;
}

void kval_set_int(struct kval *v, long long x)
{
    kval_clear(v);
    v->type = KVAL_STRING;
    v->enc = KVAL_ENC_INT;
    v->u.i = x;
}

/* A string of KVAL_EMB_MAX < n <= KVAL_BARE_MAX bytes, alone in its
 * allocation; an old one is reused when it fits and is not wasteful. */
static int set_bare(struct kval *v, const void *p, size_t n)
{
    char *b;

    if (v->type == KVAL_STRING && v->enc == KVAL_ENC_BARE) {
        size_t have = n > v->elen ? sh_alloc_size(v->u.p) : v->elen;

        if (n <= have && have <= n * 2 + 16) {
            memmove(v->u.p, p, n);
            v->elen = (uint8_t)n;
            v->grown = 0;
            return 0;
        }
    }
    b = sh_try_malloc(n);
    if (!b) {
        return -ENOMEM;
    }
    memcpy(b, p, n);
    kval_clear(v);
    v->type = KVAL_STRING;
    v->enc = KVAL_ENC_BARE;
    v->elen = (uint8_t)n;
    v->u.p = b;
    return 0;
}

int kval_set_string(struct kval *v, const void *p, size_t n)
{
    long long x;
    struct kstr *s;

    if (n <= 20 && util_str2ll(p, n, &x)) {
        kval_set_int(v, x);
        return 0;
    }
    if (n <= KVAL_EMB_MAX) {
        kval_clear(v);
        v->type = KVAL_STRING;
        v->enc = KVAL_ENC_EMB;
        v->elen = (uint8_t)n;
        if (n) {
            memcpy(v->u.b, p, n);
        }
        return 0;
    }
    if (n <= KVAL_BARE_MAX) {
        return set_bare(v, p, n);
    }
    /* reuse the old buffer when it fits and is not wasteful */
    if (v->type == KVAL_STRING && v->enc == KVAL_ENC_RAW && v->u.s->cap >= n &&
        v->u.s->cap <= n * 2 + 64) {
        memcpy(v->u.s->data, p, n);
        v->u.s->len = (uint32_t)n;
        v->grown = 0;
        return 0;
    }
    if (n > KVAL_STR_MAX) {
        return -ENOMEM;
    }
    s = sh_try_malloc(sizeof(*s) + n);
    if (!s) {
        return -ENOMEM;
    }
    s->len = (uint32_t)n;
    s->cap = str_cap(s);
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
    if (v->enc == KVAL_ENC_EMB) {
        *len = v->elen;
        return v->u.b;
    }
    if (v->enc == KVAL_ENC_BARE) {
        *len = v->elen;
        return v->u.p;
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
    if (v->enc == KVAL_ENC_EMB || v->enc == KVAL_ENC_BARE) {
        return v->elen;
    }
    return v->u.s->len;
}

struct kstr *kval_make_raw(struct kval *v, size_t cap)
{
    struct kstr *s;

    if (cap > KVAL_STR_MAX) {
        return NULL;
    }
    if (v->type == KVAL_NONE) {
        /* a new key: an empty string to grow */
        s = sh_try_malloc(sizeof(*s) + cap);
        if (!s) {
            return NULL;
        }
        s->len = 0;
        s->cap = str_cap(s);
        v->type = KVAL_STRING;
        v->enc = KVAL_ENC_RAW;
        v->grown = 1;
        v->u.s = s;
        return s;
    }
    if (v->enc == KVAL_ENC_INT || v->enc == KVAL_ENC_EMB || v->enc == KVAL_ENC_BARE) {
        char buf[24];
        size_t n;
        const char *bytes = kval_string(v, buf, &n);

        s = sh_try_malloc(sizeof(*s) + (cap > n ? cap : n));
        if (!s) {
            return NULL;
        }
        if (n) {
            memcpy(s->data, bytes, n);
        }
        if (v->enc == KVAL_ENC_BARE) {
            sh_free(v->u.p);
        }
        s->len = (uint32_t)n;
        s->cap = str_cap(s);
        v->enc = KVAL_ENC_RAW;
        v->elen = 0;
        v->grown = 1;
        v->u.s = s;
        return s;
    }
    if (v->u.s->cap >= cap) {
        v->grown = 1;
        return v->u.s;
    }
    size_t want = cap < (size_t)v->u.s->cap * 2 ? (size_t)v->u.s->cap * 2 : cap;

    if (want > KVAL_STR_MAX) {
        want = KVAL_STR_MAX;
    }

    s = sh_try_realloc(v->u.s, sizeof(*s) + want);
    if (!s) {
        s = sh_try_realloc(v->u.s, sizeof(*s) + cap);
        if (!s) {
            return NULL;
        }
    }
    s->cap = str_cap(s);
    v->grown = 1;
    v->u.s = s;
    return s;
}

size_t kval_memory(const struct kval *v)
{
    switch (v->type) {
    case KVAL_STRING:
        return v->enc == KVAL_ENC_RAW    ? sh_alloc_size(v->u.s)
               : v->enc == KVAL_ENC_BARE ? sh_alloc_size(v->u.p)
                                         : 0;
    case KVAL_LIST:
        return tlist_memory(v);
    case KVAL_SET:
        return tset_memory(v);
    case KVAL_ZSET:
        return tzset_memory(v);
    case KVAL_HASH:
        return thash_memory(v);
    case KVAL_STREAM:
        return tstream_memory(v);
    default:
        return 0;
    }
}

const char *kval_type_name(const struct kval *v)
{
    static const char *const names[] = {
        "none", "string", "list", "set", "zset", "hash", "stream"
    };

    return v->type < SH_ARRAY_LEN(names) ? names[v->type] : "unknown";
}

const char *kval_encoding_name(const struct kval *v)
{
    static const char *const names[] = { "raw",    "int",       "listpack", "quicklist",
                                         "intset", "hashtable", "skiplist", "stream" };

    /* Redis 7.0 keeps every list a quicklist and says so; a small list here
     * is one listpack (7.2's rule), reported as 7.0 clients expect */
    if (v->type == KVAL_LIST) {
        return "quicklist";
    }
    /* Redis embeds strings of up to 44 bytes in the object ("embstr") */
    if (v->type == KVAL_STRING && v->enc == KVAL_ENC_EMB) {
        return "embstr";
    }
    if (v->type == KVAL_STRING && v->enc == KVAL_ENC_BARE) {
        return v->elen <= 44 ? "embstr" : "raw";
    }
    if (v->type == KVAL_STRING && v->enc == KVAL_ENC_RAW) {
        return v->u.s->len <= 44 && !v->grown ? "embstr" : "raw";
    }
    return v->enc < SH_ARRAY_LEN(names) ? names[v->enc] : "unknown";
}

/* ---- the byte form between shards ---- */

static void put_u32(char *p, uint32_t v)
{
    for (int i = 0; i < 4; i++) {
        p[i] = (char)(v >> (8 * i));
    }
}

static uint32_t get_u32(const char *p)
{
    uint32_t v = 0;

    for (int i = 0; i < 4; i++) {
        v |= (uint32_t)(unsigned char)p[i] << (8 * i);
    }
    return v;
}

void kval_dump_init(struct kval_dump *d)
{
    d->cap = 256;
    d->data = sh_malloc(d->cap);
    d->len = 4;
    d->count = 0;
}

void kval_dump_put(struct kval_dump *d, const void *p, size_t n)
{
    SH_ASSERT(n <= UINT32_MAX);
    if (d->cap - d->len < n + 4) {
        while (d->cap - d->len < n + 4) {
            d->cap *= 2;
        }
        d->data = sh_realloc(d->data, d->cap);
    }
    put_u32(d->data + d->len, (uint32_t)n);
    if (n) {
        memcpy(d->data + d->len + 4, p, n);
    }
    d->len += n + 4;
    d->count++;
}

char *kval_dump_finish(struct kval_dump *d, size_t *len)
{
    put_u32(d->data, d->count);
    *len = d->len;
    return d->data;
}

bool kval_dump_reader_init(struct kval_dump_reader *r, const char *p, size_t len)
{
    if (len < 4) {
        return false;
    }
    r->count = get_u32(p);
    r->p = p + 4;
    r->left = len - 4;
    return true;
}

bool kval_dump_next(struct kval_dump_reader *r, struct sh_slice *out)
{
    uint32_t n;

    if (r->count == 0 || r->left < 4) {
        return false;
    }
    n = get_u32(r->p);
    if (r->left - 4 < n) {
        return false;
    }
    out->ptr = r->p + 4;
    out->len = n;
    r->p += 4 + n;
    r->left -= 4 + (size_t)n;
    r->count--;
    return true;
}
