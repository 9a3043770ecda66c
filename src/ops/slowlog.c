/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * slowlog.c: one shard's slow log (see slowlog.h).
 *
 * The log is a ring of pointers to entries, oldest at `head`, `len` of them,
 * in a power-of-two array that doubles when full (so it never holds more
 * slots than twice the entries it has had at once):
 *
 *   ring: [ . . e3 e4 e5 e6 . . ]      head = 2, len = 4
 *                ^oldest   ^newest
 *
 * Each entry is one allocation: the fixed fields, the argument slices, then
 * the bytes they point to (arguments as logged, client address, name):
 *
 *   struct slowlog_entry | argv[argc] | arg bytes ... | addr | name
 *
 * Invariants: len <= cap; every slot in [head, head + len) holds an entry.
 * Threading: one shard's thread only (slowlog.h).
 */
#include "shardis/slowlog.h"

#include "shardis/reply.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#define SLOWLOG_MIN_CAP 16
#define SUFFIX_MAX      48 /* "... (N more arguments|bytes)" */

struct slowlog_entry {
    uint64_t id;
    int64_t time;
    int64_t duration;
    int argc; /* arguments kept, at most SLOWLOG_MAX_ARGC */
    struct sh_slice addr, name;
    struct sh_slice argv[];
};

struct slowlog {
    struct slowlog_entry **ring;
    size_t cap; /* 0 or a power of two */
    size_t head;
    size_t len;
};

struct slowlog *slowlog_create(void)
{
    return sh_calloc(1, sizeof(struct slowlog));
}

void slowlog_reset(struct slowlog *sl)
{
    if (!sl) {
        return;
    }
    for (size_t i = 0; i < sl->len; i++) {
        sh_free(sl->ring[(sl->head + i) & (sl->cap - 1)]);
    }
    sl->head = 0;
    sl->len = 0;
}

void slowlog_destroy(struct slowlog *sl)
{
    if (!sl) {
        return;
    }
    slowlog_reset(sl);
    sh_free(sl->ring);
    sh_free(sl);
}

size_t slowlog_len(const struct slowlog *sl)
{
    return sl ? sl->len : 0;
}

void slowlog_trim(struct slowlog *sl, long long max_len)
{
    size_t max = max_len > 0 ? (size_t)max_len : 0;

    while (sl && sl->len > max) {
        sh_free(sl->ring[sl->head]);
        sl->head = (sl->head + 1) & (sl->cap - 1);
        sl->len--;
    }
}

/* Argument j of the kept ones, as Redis logs it: the bytes to copy from the
 * original (*head) and a suffix written into sfx. Returns the suffix length. */
static size_t arg_text(const struct slowlog_rec *rec, int j, int kept, struct sh_slice *head,
                       char *sfx)
{
    int n = 0;

    head->ptr = rec->argv[j].ptr;
    head->len = rec->argv[j].len;
    if (kept != rec->argc && j == kept - 1) {
        head->len = 0;
        n = snprintf(sfx, SUFFIX_MAX, "... (%d more arguments)", rec->argc - kept + 1);
    } else if (head->len > SLOWLOG_MAX_STRING) {
        n = snprintf(sfx, SUFFIX_MAX, "... (%zu more bytes)", head->len - SLOWLOG_MAX_STRING);
        head->len = SLOWLOG_MAX_STRING;
    }
    return n > 0 ? (size_t)n : 0;
}

static char *put(struct sh_slice *dst, char *p, struct sh_slice src, const char *sfx, size_t n)
{
    dst->ptr = p;
    dst->len = src.len + n;
    if (src.len) {
        memcpy(p, src.ptr, src.len);
    }
    memcpy(p + src.len, sfx, n);
    return p + src.len + n;
}

/* One allocation holding the entry as it will be replied; NULL when the
 * allocation failed. */
static struct slowlog_entry *entry_new(const struct slowlog_rec *rec)
{
    int kept = rec->argc < SLOWLOG_MAX_ARGC ? rec->argc : SLOWLOG_MAX_ARGC;
    size_t bytes = rec->addr.len + rec->name.len;
    struct slowlog_entry *e;
    struct sh_slice head;
    char sfx[SUFFIX_MAX];
    char *p;

    for (int j = 0; j < kept; j++) {
        bytes += arg_text(rec, j, kept, &head, sfx) + head.len;
    }
    e = sh_try_malloc(sizeof(*e) + sizeof(struct sh_slice) * (size_t)kept + bytes);
    if (!e) {
        return NULL;
    }
    e->id = rec->id;
    e->time = rec->time;
    e->duration = rec->duration;
    e->argc = kept;
    p = (char *)(e->argv + kept);
    for (int j = 0; j < kept; j++) {
        size_t n = arg_text(rec, j, kept, &head, sfx);

        p = put(&e->argv[j], p, head, sfx, n);
    }
    p = put(&e->addr, p, rec->addr, "", 0);
    put(&e->name, p, rec->name, "", 0);
    return e;
}

/* Doubles the ring, oldest entry first at index 0. */
static int grow(struct slowlog *sl)
{
    size_t cap = sl->cap ? sl->cap * 2 : SLOWLOG_MIN_CAP;
    struct slowlog_entry **ring = sh_try_malloc(cap * sizeof(*ring));

    if (!ring) {
        return -ENOMEM;
    }
    for (size_t i = 0; i < sl->len; i++) {
        ring[i] = sl->ring[(sl->head + i) & (sl->cap - 1)];
    }
    sh_free(sl->ring);
    sl->ring = ring;
    sl->cap = cap;
    sl->head = 0;
    return 0;
}

int slowlog_push(struct slowlog *sl, const struct slowlog_rec *rec, long long max_len)
{
    struct slowlog_entry *e;
    int rc = 0;

    if (max_len <= 0) {
        slowlog_trim(sl, 0);
        return 0; /* Redis adds it and drops it at once */
    }
    e = entry_new(rec);
    if (!e || (sl->len == sl->cap && grow(sl) != 0)) {
        sh_free(e);
        rc = -ENOMEM;
    } else {
        sl->ring[(sl->head + sl->len) & (sl->cap - 1)] = e;
        sl->len++;
    }
    slowlog_trim(sl, max_len);
    return rc;
}

static void reply_entry(struct reply *r, const struct slowlog_entry *e)
{
    reply_array(r, 6);
    reply_int(r, (long long)e->id);
    reply_int(r, e->time);
    reply_int(r, e->duration);
    reply_array(r, e->argc);
    for (int j = 0; j < e->argc; j++) {
        reply_bulk(r, e->argv[j].ptr, e->argv[j].len);
    }
    reply_bulk(r, e->addr.ptr, e->addr.len);
    reply_bulk(r, e->name.ptr, e->name.len);
}

void slowlog_reply(const struct slowlog *sl, struct reply *r, size_t n)
{
    size_t len = slowlog_len(sl);

    if (n > len) {
        n = len;
    }
    reply_array(r, (long long)n);
    for (size_t i = 0; i < n; i++) {
        reply_entry(r, sl->ring[(sl->head + len - 1 - i) & (sl->cap - 1)]);
    }
}
