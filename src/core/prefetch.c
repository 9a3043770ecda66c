/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * prefetch.c: batch prefetching of key table slots (see prefetch.h).
 *
 * A batch is up to PREFETCH_KEYS (table, hash) pairs of this shard's keys.
 * It runs in three passes over the batch, each touching what the one before
 * brought in, as Valkey's memory access amortization does:
 *
 *   pass 1: prefetch bucket          &b[hash & mask]         (address known)
 *   pass 2: load bucket, prefetch entry                      (miss 1 overlapped)
 *   pass 3: load entry, prefetch value (string bytes ...)    (miss 2 overlapped)
 *
 * so a batch waits on about three misses instead of three per key. A batch
 * of one key has nothing to overlap and is skipped.
 *
 * The input pre-scan reads only RESP multibulk headers and skips argument
 * bytes; it never reads past len, takes nothing but complete headers, and
 * reads at most PREFETCH_ARGS argument headers per call. It does not touch
 * the parser's state: the commands are parsed again, for real, by resp_parse.
 */
#include "shardis/prefetch.h"

#include "shardis/kdb.h"
#include "shardis/route.h"
#include "shardis/shard.h"

#include <strings.h>

#define PREFETCH_ARGS 128 /* argument headers read per pre-scan, at most */

struct batch {
    int n;
    struct kdict *d[PREFETCH_KEYS];
    uint64_t hash[PREFETCH_KEYS];
};

static void batch_run(const struct batch *b)
{
    if (b->n < 2) {
        return;
    }
    for (int i = 0; i < b->n; i++) {
        kdict_prefetch_bucket(b->d[i], b->hash[i]);
    }
    for (int i = 0; i < b->n; i++) {
        kdict_prefetch_entry(b->d[i], b->hash[i]);
    }
    for (int i = 0; i < b->n; i++) {
        kdict_prefetch_value(b->d[i], b->hash[i]);
    }
}

void prefetch_hashes(struct kdict *d, const uint64_t *hash, int n)
{
    struct batch b = { .n = n };

    for (int i = 0; i < n; i++) {
        b.d[i] = d;
        b.hash[i] = hash[i];
    }
    batch_run(&b);
}

/* Adds key to the batch if this shard owns it. */
static void batch_add_key(struct batch *b, struct shard *sh, struct kdict *d, const char *key,
                          size_t len)
{
    uint64_t h;

    if (b->n < PREFETCH_KEYS && shard_owner(sh->srv->nshards, key, len, &h) == sh->id) {
        b->d[b->n] = d;
        b->hash[b->n++] = h;
    }
}

/* Reads the header "<type><digits>\r\n" at buf[*pos..len): its number, with
 * *pos moved past it, or -1 when incomplete or not such a header (the parser
 * will say why, if anything is wrong). */
static long long read_header(const char *buf, size_t len, size_t *pos, char type)
{
    size_t i = *pos;
    long long v = 0;
    int digits = 0;

    if (i >= len || buf[i] != type) {
        return -1;
    }
    for (i++; i < len && buf[i] >= '0' && buf[i] <= '9'; i++) {
        if (++digits > 12) {
            return -1;
        }
        v = v * 10 + (buf[i] - '0');
    }
    if (digits == 0 || len - i < 2 || buf[i] != '\r' || buf[i + 1] != '\n') {
        return -1;
    }
    *pos = i + 2;
    return v;
}

/* Which arguments of the command named name are keys, as far as a pre-scan
 * cares: 1 every one after the name, 2 every other one, 0 argv[1] only. */
static int key_step(const char *name, size_t len)
{
    /* most commands (GET, SET, PING ...) leave at the first letter */
    switch (len >= 3 ? name[0] | 0x20 : 0) {
    case 'm':
    case 'd':
    case 'u':
    case 'e':
    case 't':
        break;
    default:
        return 0;
    }
    if (len == 4 && !strncasecmp(name, "mget", 4)) {
        return 1;
    }
    if ((len == 4 && !strncasecmp(name, "mset", 4)) ||
        (len == 6 && !strncasecmp(name, "msetnx", 6))) {
        return 2;
    }
    if ((len == 3 && !strncasecmp(name, "del", 3)) ||
        (len == 6 && (!strncasecmp(name, "unlink", 6) || !strncasecmp(name, "exists", 6))) ||
        (len == 5 && !strncasecmp(name, "touch", 5))) {
        return 1;
    }
    return 0;
}

static bool is_key_arg(int step, long long i)
{
    return i == 1 || (step == 1 && i > 1) || (step == 2 && (i & 1));
}

/* Scans one complete command at buf[*pos..len) into b; false (and *pos
 * unchanged) when it is incomplete, inline or over the header budget. */
static bool scan_command(struct shard *sh, struct kdict *d, struct batch *b, const char *buf,
                         size_t len, size_t *pos, int *budget)
{
    size_t at = *pos;
    long long argc = read_header(buf, len, &at, '*');
    int step = 0;

    if (argc < 1 || argc > *budget) {
        return false;
    }
    *budget -= (int)argc;
    for (long long i = 0; i < argc; i++) {
        long long n = read_header(buf, len, &at, '$');

        if (n < 0 || (size_t)n + 2 > len - at) {
            return false;
        }
        if (i == 0) {
            step = key_step(buf + at, (size_t)n);
        } else if (is_key_arg(step, i)) {
            batch_add_key(b, sh, d, buf + at, (size_t)n);
        }
        at += (size_t)n + 2;
    }
    *pos = at;
    return true;
}

size_t prefetch_input(struct shard *sh, int dbid, const char *buf, size_t len, size_t pos)
{
    struct kdict *d = kdb_dict(shard_db(sh, dbid));
    struct batch b = { 0 };
    int budget = PREFETCH_ARGS;

    while (b.n < PREFETCH_KEYS && pos < len && scan_command(sh, d, &b, buf, len, &pos, &budget)) {
    }
    batch_run(&b);
    return pos;
}

void prefetch_messages(struct shard *sh, void *const *msgs, size_t n)
{
    struct batch b = { 0 };

    if (n < 2) {
        return;
    }
    for (size_t i = 0; i < n; i++) {
        __builtin_prefetch(msgs[i]);
    }
    for (size_t i = 0; i < n && b.n < PREFETCH_KEYS; i++) {
        const struct req *m = (const struct req *)msgs[i];

        if (m->kind == REQ_EXEC && m->has_key_hash) {
            b.d[b.n] = kdb_dict(shard_db(sh, m->dbid));
            b.hash[b.n++] = m->key_hash;
        }
    }
    batch_run(&b);
}
