/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * watch.c: the owner's table of WATCHed keys (see watch.h).
 *
 * A chained hash table of keys, each with its list of watchers; it exists
 * only on shards where something is watched, and sh->nwatched (its number
 * of keys) is what the write path tests.
 */
#include "shardis/watch.h"

#include "shardis/cmd.h"
#include "shardis/cmdtab.h"
#include "shardis/kdb.h"
#include "shardis/kdict.h"
#include "shardis/reply.h"
#include "shardis/shard.h"
#include "shardis/util.h"

#include <string.h>

#define WATCH_MIN_BUCKETS 64

struct watcher {
    struct watcher *next;
    uint64_t client_id;
    bool dirty;
    bool existed; /* the key was there when it was watched */
};

struct wkey {
    struct wkey *next;
    uint64_t hash;
    int dbid;
    struct watcher *watchers;
    size_t klen;
    char key[];
};

struct watch_table {
    struct wkey **buckets;
    size_t nbuckets;
};

static uint64_t wkey_hash(int dbid, const char *key, size_t len)
{
    return kdict_hash(key, len) ^ ((uint64_t)(unsigned)dbid * 0x9e3779b97f4a7c15ULL);
}

static struct watch_table *table(struct shard *sh)
{
    if (!sh->watch) {
        struct watch_table *t = sh_calloc(1, sizeof(*t));

        t->nbuckets = WATCH_MIN_BUCKETS;
        t->buckets = sh_calloc(t->nbuckets, sizeof(*t->buckets));
        sh->watch = t;
    }
    return sh->watch;
}

static struct wkey **wkey_slot(struct watch_table *t, int dbid, struct sh_slice key, uint64_t h)
{
    struct wkey **pp = &t->buckets[h & (t->nbuckets - 1)];

    for (; *pp; pp = &(*pp)->next) {
        struct wkey *w = *pp;

        if (w->hash == h && w->dbid == dbid && w->klen == key.len &&
            !memcmp(w->key, key.ptr, key.len)) {
            break;
        }
    }
    return pp;
}

static void grow(struct watch_table *t)
{
    size_t n = t->nbuckets * 2;
    struct wkey **b = sh_calloc(n, sizeof(*b));

    for (size_t i = 0; i < t->nbuckets; i++) {
        struct wkey *w = t->buckets[i];

        while (w) {
            struct wkey *next = w->next;

            w->next = b[w->hash & (n - 1)];
            b[w->hash & (n - 1)] = w;
            w = next;
        }
    }
    sh_free(t->buckets);
    t->buckets = b;
    t->nbuckets = n;
}

static bool key_exists(struct shard *sh, int dbid, struct sh_slice key)
{
    return kdb_find(shard_db(sh, dbid), key.ptr, key.len, kdict_hash(key.ptr, key.len),
                    sh->now_ms) != NULL;
}

static void watch_add(struct shard *sh, uint64_t id, int dbid, struct sh_slice key)
{
    struct watch_table *t = table(sh);
    uint64_t h = wkey_hash(dbid, key.ptr, key.len);
    struct wkey **pp = wkey_slot(t, dbid, key, h);
    struct wkey *w = *pp;
    struct watcher *x;

    if (!w) {
        if (sh->nwatched >= t->nbuckets) {
            grow(t);
            pp = wkey_slot(t, dbid, key, h);
        }
        w = sh_calloc(1, sizeof(*w) + key.len);
        w->hash = h;
        w->dbid = dbid;
        w->klen = key.len;
        memcpy(w->key, key.ptr, key.len);
        *pp = w;
        sh->nwatched++;
    }
    for (x = w->watchers; x; x = x->next) {
        if (x->client_id == id) {
            return; /* WATCH of a key already watched changes nothing */
        }
    }
    x = sh_calloc(1, sizeof(*x));
    x->client_id = id;
    x->existed = key_exists(sh, dbid, key);
    x->next = w->watchers;
    w->watchers = x;
}

static void watch_remove(struct shard *sh, uint64_t id, int dbid, struct sh_slice key)
{
    struct watch_table *t = sh->watch;
    struct wkey **pp, *w;

    if (!t) {
        return;
    }
    pp = wkey_slot(t, dbid, key, wkey_hash(dbid, key.ptr, key.len));
    w = *pp;
    if (!w) {
        return;
    }
    for (struct watcher **xp = &w->watchers; *xp; xp = &(*xp)->next) {
        if ((*xp)->client_id == id) {
            struct watcher *x = *xp;

            *xp = x->next;
            sh_free(x);
            break;
        }
    }
    if (!w->watchers) {
        *pp = w->next;
        sh_free(w);
        sh->nwatched--;
    }
}

void watch_touched(struct shard *sh, int dbid, struct sh_slice key)
{
    struct watch_table *t = sh->watch;
    struct wkey *w = t ? *wkey_slot(t, dbid, key, wkey_hash(dbid, key.ptr, key.len)) : NULL;

    for (struct watcher *x = w ? w->watchers : NULL; x; x = x->next) {
        x->dirty = true;
    }
}

void watch_touched_db(struct shard *sh, int dbid, int with)
{
    struct watch_table *t = sh->watch;

    for (size_t i = 0; t && i < t->nbuckets; i++) {
        for (struct wkey *w = t->buckets[i]; w; w = w->next) {
            struct sh_slice key = { w->key, w->klen };

            if (w->dbid != dbid ||
                (!key_exists(sh, dbid, key) && (with < 0 || !key_exists(sh, with, key)))) {
                continue;
            }
            for (struct watcher *x = w->watchers; x; x = x->next) {
                x->dirty = true;
            }
        }
    }
}

bool watch_changed(struct shard *sh, uint64_t id, int dbid, struct sh_slice key)
{
    struct watch_table *t = sh->watch;
    struct wkey *w = t ? *wkey_slot(t, dbid, key, wkey_hash(dbid, key.ptr, key.len)) : NULL;
    struct watcher *x = w ? w->watchers : NULL;

    while (x && x->client_id != id) {
        x = x->next;
    }
    /* not registered cannot happen in order (__watch goes first in the same
     * mailbox); if it did, the safe answer is "changed" */
    return !x || x->dirty || (x->existed && !key_exists(sh, dbid, key));
}

void watch_destroy(struct shard *sh)
{
    struct watch_table *t = sh->watch;

    if (!t) {
        return;
    }
    for (size_t i = 0; i < t->nbuckets; i++) {
        struct wkey *w = t->buckets[i];

        while (w) {
            struct wkey *next = w->next;
            struct watcher *x = w->watchers;

            while (x) {
                struct watcher *xn = x->next;

                sh_free(x);
                x = xn;
            }
            sh_free(w);
            w = next;
        }
    }
    sh_free(t->buckets);
    sh_free(t);
    sh->watch = NULL;
    sh->nwatched = 0;
}

/* ---- the internal commands ---- */

static bool client_of(struct cmd_ctx *ctx, uint64_t *id)
{
    long long v;

    if (!util_str2ll(ctx->argv[1].ptr, ctx->argv[1].len, &v) || v < 0) {
        reply_error(&ctx->r, "ERR internal: bad client id");
        return false;
    }
    *id = (uint64_t)v;
    return true;
}

static void cmd_watch_internal(struct cmd_ctx *ctx)
{
    uint64_t id;

    if (!client_of(ctx, &id)) {
        return;
    }
    for (int i = 2; i < ctx->argc; i++) {
        watch_add(ctx->shard, id, ctx->dbid, ctx->argv[i]);
    }
    reply_ok(&ctx->r);
}

static void cmd_unwatch_internal(struct cmd_ctx *ctx)
{
    uint64_t id;

    if (!client_of(ctx, &id)) {
        return;
    }
    for (int i = 2; i < ctx->argc; i++) {
        watch_remove(ctx->shard, id, ctx->dbid, ctx->argv[i]);
    }
    reply_ok(&ctx->r);
}

static void cmd_watchcheck_internal(struct cmd_ctx *ctx)
{
    bool changed = false;
    uint64_t id;

    if (!client_of(ctx, &id)) {
        return;
    }
    for (int i = 2; i + 1 < ctx->argc && !changed; i += 2) {
        long long db;

        if (!util_str2ll(ctx->argv[i].ptr, ctx->argv[i].len, &db) || db < 0 ||
            db >= ctx->shard->cfg.databases) {
            reply_error(&ctx->r, "ERR internal: bad database");
            return;
        }
        changed = watch_changed(ctx->shard, id, (int)db, ctx->argv[i + 1]);
    }
    reply_int(&ctx->r, changed);
}

const struct cmd_spec watch_spec_watch = {
    .name = "__watch", .fullname = "__watch", .arity = -3, .proc = cmd_watch_internal
};
const struct cmd_spec watch_spec_unwatch = {
    .name = "__unwatch", .fullname = "__unwatch", .arity = -3, .proc = cmd_unwatch_internal
};
const struct cmd_spec watch_spec_check = {
    .name = "__watchcheck", .fullname = "__watchcheck", .arity = -4, .proc = cmd_watchcheck_internal
};
