/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * block.c: blocking pops over keys of any shards.
 *
 * A blocked command is a coordinator (route.h) on the client's core that
 * parks between events. The keys' owners keep, per key, a FIFO of the
 * clients waiting for it; an owner never pops on its own: it tells the first
 * waiter that the key has data, and that client's core claims an element
 * with a pop request. So an element is popped only for a client that is
 * still blocked and has not been served by another key: no element is ever
 * lost or given twice, and clients blocked on one key are served in the
 * order they blocked.
 *
 *   client's core                          owner of key k
 *   BLPOP a k 0 --- __bwait tok a,k ---->  append tok to the FIFOs of a, k
 *               <-- [0, 1] --------------  (1: k has data, tok is "told")
 *   claim k     --- __bpop tok k ------->  pop one for tok, drop tok from k
 *               <-- [elem] or nil -------  (nil: someone took it first)
 *   reply [k, elem]
 *               --- __bunwait tok a,k -->  drop tok everywhere (and tell the
 *                                          next waiter if the key has data)
 *
 *   LPUSH k x on the owner: the key is added (kdb hook) -> end of iteration:
 *               <-- __bready tok k ------  to the first waiter of k (one at a
 *                                          time: the next is told when it
 *                                          claims, fails, or goes away)
 *
 * Every "told" mark is cleared by the claim (served or not) or the unwait,
 * so a key never waits on a client that will not claim it. Keys emptied are
 * deleted, so a key gets data again only by being added: the kdb "new key"
 * hook is the one place that wakes waiters.
 *
 * BLMOVE/BRPOPLPUSH whose destination has another owner pop on the source's
 * owner and push on the destination's in a second stage; if the destination
 * turned out to hold another type, the element goes back to the source's
 * end it came from and the client gets WRONGTYPE. An element popped for a
 * client that disconnected meanwhile is pushed back the same way.
 *
 * Timeouts: the client's core checks them when the loop wakes (the loop
 * never sleeps past the earliest one). A timed-out client with a claim in
 * flight still gets what the claim brings back.
 *
 * Streams (XREAD and XREADGROUP with BLOCK) wait on the same queues and
 * are blocked clients of kind BK_XREAD here; block_stream.c has their
 * protocol, their waiters' rules and their side of both cores.
 *
 * Threading: waiters live on the owner's core, blocked clients on theirs;
 * they talk only through internal commands (mailboxes).
 */
#include "shardis/block.h"

#include "block_internal.h"
#include "shardis/cmd.h"
#include "shardis/cmdtab.h"
#include "shardis/conn.h"
#include "shardis/kdb.h"
#include "shardis/kdict.h"
#include "shardis/log.h"
#include "shardis/pubsub.h"
#include "shardis/reply.h"
#include "shardis/route.h"
#include "shardis/shard.h"
#include "shardis/tlist.h"
#include "shardis/tstream.h"
#include "shardis/tzset.h"
#include "shardis/util.h"

#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const struct cmd_spec spec_bwait, spec_bpop, spec_bunwait, spec_bready, spec_bpush,
        spec_bpushback;

struct block *block_create(void)
{
    struct block *b = sh_calloc(1, sizeof(*b));

    b->mask = 15;
    b->tab = sh_calloc(b->mask + 1, sizeof(*b->tab));
    b->ready_tail = &b->ready;
    b->next_deadline_us = INT64_MAX;
    return b;
}

static void queue_free(struct bqueue *q)
{
    while (q->head) {
        struct bwaiter *w = q->head;

        q->head = w->next;
        sh_free(w);
    }
    sh_free(q);
}

void block_destroy(struct block *b)
{
    if (!b) {
        return;
    }
    for (int i = 0; i < b->ndbs; i++) {
        struct kdict *d = b->waiting[i];

        if (!d) {
            continue;
        }
        for (struct kentry *e; (e = kdict_random(d, 0)) != NULL;) {
            queue_free(e->val.u.p);
            e->val.u.p = NULL;
            kdict_delete(d, e);
        }
        kdict_destroy(d);
    }
    while (b->ready) {
        struct bready *r = b->ready;

        b->ready = r->next;
        sh_free(r);
    }
    sh_free(b->waiting);
    sh_free(b->tab);
    sh_free(b);
}

/* ==== the owner's side ==== */

static struct kdict *waiting_db(struct shard *sh, int dbid, bool create)
{
    struct block *b = sh->blk;

    if (dbid >= b->ndbs) {
        if (!create) {
            return NULL;
        }
        b->waiting = sh_realloc(b->waiting, sizeof(*b->waiting) * (size_t)(dbid + 1));
        memset(b->waiting + b->ndbs, 0, sizeof(*b->waiting) * (size_t)(dbid + 1 - b->ndbs));
        b->ndbs = dbid + 1;
    }
    if (!b->waiting[dbid] && create) {
        b->waiting[dbid] = kdict_create();
    }
    return b->waiting[dbid];
}

struct kentry *block_queue_entry(struct shard *sh, int dbid, struct sh_slice key, bool create)
{
    struct kdict *d = waiting_db(sh, dbid, create);
    uint64_t h = kdict_hash(key.ptr, key.len);
    struct kentry *e;

    if (!d) {
        return NULL;
    }
    e = kdict_find(d, key.ptr, key.len, h);
    if (!e && create) {
        struct bqueue *q = sh_calloc(1, sizeof(*q) + key.len);

        q->dbid = dbid;
        q->klen = key.len;
        memcpy(q->key, key.ptr, key.len);
        e = kdict_add(d, key.ptr, key.len, h);
        e->val.u.p = q;
        sh->blk->nqueues++;
    }
    return e;
}

/* A queue's count of XREADGROUP waiters moved by delta: it is on gwatch
 * while it has any. */
void block_queue_count_group(struct block *b, struct bqueue *q, int delta)
{
    q->ngroup += delta;
    if (q->ngroup == delta && delta > 0) {
        q->gprev = NULL;
        q->gnext = b->gwatch;
        if (b->gwatch) {
            b->gwatch->gprev = q;
        }
        b->gwatch = q;
    } else if (q->ngroup == 0 && delta < 0) {
        if (q->gprev) {
            q->gprev->gnext = q->gnext;
        } else {
            b->gwatch = q->gnext;
        }
        if (q->gnext) {
            q->gnext->gprev = q->gprev;
        }
    }
}

void block_queue_drop_if_empty(struct shard *sh, int dbid, struct kentry *e)
{
    struct bqueue *q = e->val.u.p;

    if (!q->head) {
        queue_free(q);
        e->val.u.p = NULL;
        kdict_delete(waiting_db(sh, dbid, false), e);
        sh->blk->nqueues--;
    }
}

/* Removes (token, origin) from the queue; returns whether it was told. */
bool block_queue_remove(struct block *b, struct bqueue *q, uint64_t token, int origin, bool *found)
{
    struct bwaiter **pp = &q->head, *prev = NULL;

    *found = false;
    while (*pp) {
        struct bwaiter *w = *pp;

        if (w->token == token && w->origin == origin) {
            bool told = w->told;

            *pp = w->next;
            if (q->tail == w) {
                q->tail = prev;
            }
            if (w->grouped) {
                block_queue_count_group(b, q, -1);
            }
            sh_free(w);
            *found = true;
            return told;
        }
        prev = w;
        pp = &w->next;
    }
    return false;
}

void block_mark_ready(struct shard *sh, int dbid, const char *key, size_t len)
{
    struct block *b = sh->blk;
    struct bready *r = sh_malloc(sizeof(*r) + len);

    r->next = NULL;
    r->dbid = dbid;
    r->len = len;
    memcpy(r->key, key, len);
    *b->ready_tail = r;
    b->ready_tail = &r->next;
}

void block_key_added(struct shard *sh, int dbid, const struct kentry *e)
{
    if (sh->blk->nqueues &&
        block_queue_entry(sh, dbid, (struct sh_slice){ kentry_key(e), kentry_klen(e) }, false) !=
                NULL) {
        block_mark_ready(sh, dbid, kentry_key(e), kentry_klen(e));
    }
}

/* The type a waiter wants, or KVAL_NONE. */
static int value_type(struct shard *sh, int dbid, struct sh_slice key)
{
    struct kentry *e = kdb_peek(shard_db(sh, dbid), key.ptr, key.len, kdict_hash(key.ptr, key.len),
                                sh->now_ms);

    return e ? e->val.type : KVAL_NONE;
}

void block_tells_add(struct tells *t, struct bwaiter *w)
{
    if (t->n == t->cap) {
        t->cap = t->cap ? t->cap * 2 : 8;
        t->token = sh_realloc(t->token, sizeof(*t->token) * t->cap);
        t->origin = sh_realloc(t->origin, sizeof(*t->origin) * t->cap);
    }
    w->told = true;
    t->token[t->n] = w->token;
    t->origin[t->n] = w->origin;
    t->n++;
}

/* Sends the collected tells of key, and frees them. */
static void tells_send(struct shard *sh, int dbid, struct sh_slice key, struct tells *t)
{
    for (size_t i = 0; i < t->n; i++) {
        char tok[24];
        struct sh_slice argv[3] = { { "__bready", 8 }, { tok, 0 }, key };

        argv[1].len = (size_t)snprintf(tok, sizeof(tok), "%llu", (unsigned long long)t->token[i]);
        route_post(sh, t->origin[i], &spec_bready, dbid, 3, argv);
    }
    sh_free(t->token);
    sh_free(t->origin);
}

/* The list or sorted set waiter to tell: the first one of the key's type,
 * unless one is told already (FIFO, one at a time). */
static void serve_pop(struct bqueue *q, int type, struct tells *t)
{
    for (struct bwaiter *w = q->head; w; w = w->next) {
        if (w->told && w->type != 'x') {
            return;
        }
    }
    for (struct bwaiter *w = q->head; w; w = w->next) {
        if (w->type == (type == KVAL_ZSET ? 'z' : 'l')) {
            block_tells_add(t, w);
            return;
        }
    }
}

/* Tells the waiters of a ready key that have something there. */
static void serve_key(struct shard *sh, int dbid, struct sh_slice key)
{
    struct kentry *e = block_queue_entry(sh, dbid, key, false), *v;
    struct tells t = { 0 };
    struct bqueue *q;
    int type;

    if (!e) {
        return;
    }
    q = e->val.u.p;
    v = kdb_peek(shard_db(sh, dbid), key.ptr, key.len, kdict_hash(key.ptr, key.len), sh->now_ms);
    type = v ? v->val.type : KVAL_NONE;
    if (q->ngroup || type == KVAL_STREAM) {
        block_stream_serve(q, type == KVAL_STREAM ? tstream_of(&v->val) : NULL, &t);
    }
    if (type == KVAL_LIST || type == KVAL_ZSET) {
        serve_pop(q, type, &t);
    }
    tells_send(sh, dbid, key, &t);
}

static void serve_ready(struct shard *sh)
{
    struct block *b = sh->blk;

    /* serving may mark more keys ready (a local claim): loop until none */
    while (b->ready) {
        struct bready *r = b->ready;

        b->ready = r->next;
        if (!b->ready) {
            b->ready_tail = &b->ready;
        }
        serve_key(sh, r->dbid, (struct sh_slice){ r->key, r->len });
        sh_free(r);
    }
}

static bool parse_token(struct sh_slice s, uint64_t *out)
{
    long long v;

    if (!util_str2ll(s.ptr, s.len, &v)) {
        return false;
    }
    *out = (uint64_t)v;
    return true;
}

/* Does anyone in q wait for this kind of value? */
static bool queue_has_waiter(const struct bqueue *q, bool zset)
{
    for (const struct bwaiter *w = q->head; w; w = w->next) {
        if (w->type == (zset ? 'z' : 'l')) {
            return true;
        }
    }
    return false;
}

/* __bwait <token> <origin> <l|z> key...: registers the waiter on each key,
 * replies one status per key: 0 nothing, 1 data (the waiter is told), 2
 * another type. */
static void cmd_bwait(struct cmd_ctx *ctx)
{
    uint64_t token;
    long long origin;
    bool zset = ctx->argv[3].ptr[0] == 'z';

    if (!parse_token(ctx->argv[1], &token) ||
        !util_str2ll(ctx->argv[2].ptr, ctx->argv[2].len, &origin)) {
        sh_panic("corrupt __bwait");
    }
    reply_array(&ctx->r, ctx->argc - 4);
    for (int i = 4; i < ctx->argc; i++) {
        struct kentry *e = block_queue_entry(ctx->shard, ctx->dbid, ctx->argv[i], true);
        struct bqueue *q = e->val.u.p;
        struct bwaiter *w = sh_calloc(1, sizeof(*w));
        int type = value_type(ctx->shard, ctx->dbid, ctx->argv[i]);
        int status = type == KVAL_NONE ? 0 : type == (zset ? KVAL_ZSET : KVAL_LIST) ? 1 : 2;

        /* data for a newcomer only when nobody earlier waits for it: the
         * earlier ones are told first (FIFO), at the end of the iteration */
        if (status == 1 && queue_has_waiter(q, zset)) {
            status = 0;
            block_mark_ready(ctx->shard, ctx->dbid, ctx->argv[i].ptr, ctx->argv[i].len);
        }

        w->token = token;
        w->origin = (int)origin;
        w->type = zset ? 'z' : 'l';
        w->told = status == 1;
        if (q->tail) {
            q->tail->next = w;
        } else {
            q->head = w;
        }
        q->tail = w;
        reply_int(&ctx->r, status);
    }
}

/* __bunwait <token> <origin> key...: forgets the waiter. */
static void cmd_bunwait(struct cmd_ctx *ctx)
{
    uint64_t token;
    long long origin;

    if (!parse_token(ctx->argv[1], &token) ||
        !util_str2ll(ctx->argv[2].ptr, ctx->argv[2].len, &origin)) {
        sh_panic("corrupt __bunwait");
    }
    for (int i = 3; i < ctx->argc; i++) {
        struct kentry *e = block_queue_entry(ctx->shard, ctx->dbid, ctx->argv[i], false);
        bool found, told;

        if (!e) {
            continue;
        }
        told = block_queue_remove(ctx->shard->blk, e->val.u.p, token, (int)origin, &found);
        block_queue_drop_if_empty(ctx->shard, ctx->dbid, e);
        if (told) {
            block_mark_ready(ctx->shard, ctx->dbid, ctx->argv[i].ptr, ctx->argv[i].len);
        }
    }
    reply_ok(&ctx->r);
}

/* ---- pops and pushes on the owner ---- */

/* where popped list elements go: the reply, and a copy of the last one
 * (BLMOVE pushes it on this shard) */
struct pop_sink {
    struct reply *r;
    struct rbuf last;
};

static void list_elem_out(void *arg, struct sh_slice elem)
{
    struct pop_sink *k = arg;

    reply_bulk(k->r, elem.ptr, elem.len);
    k->last.len = 0;
    rbuf_append(&k->last, elem.ptr, elem.len);
}

static void zset_elem_out(void *arg, const struct tzset_elem *e)
{
    reply_bulk(arg, e->member.ptr, e->member.len);
    reply_double(arg, e->score);
}

static void notify_pop(struct cmd_ctx *ctx, struct sh_slice key, bool zset, bool left)
{
    const char *ev = zset ? (left ? "zpopmin" : "zpopmax") : (left ? "lpop" : "rpop");

    pubsub_notify(ctx->shard, zset ? NOTIFY_ZSET : NOTIFY_LIST, ev, key.ptr, key.len, ctx->dbid);
}

/* Pushes one element to a list key (created if absent): 0, or -EINVAL when
 * the key holds another type. Publishes the push event. */
static int push_elem(struct cmd_ctx *ctx, struct sh_slice key, bool left, struct sh_slice elem)
{
    uint64_t h = kdict_hash(key.ptr, key.len);
    struct kentry *e = kdb_find(ctx->db, key.ptr, key.len, h, ctx->shard->now_ms);

    if (e && e->val.type != KVAL_LIST) {
        return -EINVAL;
    }
    if (!e) {
        e = kdb_add(ctx->db, key.ptr, key.len, h);
    }
    tlist_push(&e->val, left ? TLIST_HEAD : TLIST_TAIL, elem.ptr, elem.len,
               &ctx->shard->cfg.limits);
    route_touch(ctx->shard, ctx->dbid, key); /* internal: the command path does not */
    pubsub_notify(ctx->shard, NOTIFY_LIST, left ? "lpush" : "rpush", key.ptr, key.len, ctx->dbid);
    return 0;
}

/* After a pop: deletes an emptied key, or lets the next waiter know. */
static void after_pop(struct cmd_ctx *ctx, struct kentry *e, struct sh_slice key, bool zset)
{
    size_t left = zset ? tzset_card(&e->val) : tlist_len(&e->val);

    if (left == 0) {
        kdb_delete(ctx->db, e);
        pubsub_notify(ctx->shard, NOTIFY_GENERIC, "del", key.ptr, key.len, ctx->dbid);
    } else {
        block_mark_ready(ctx->shard, ctx->dbid, key.ptr, key.len);
    }
}

/* __bpop <token> <origin> <l|z> key <left 1|0> count [dst <dstleft 1|0>]:
 * the claim. Replies the popped elements (members and scores for a sorted
 * set), nil when there is nothing for this waiter, or WRONGTYPE when the
 * destination (on this shard) holds another type. */
static void cmd_bpop(struct cmd_ctx *ctx)
{
    uint64_t token;
    long long origin, count;
    bool zset = ctx->argv[3].ptr[0] == 'z', left = ctx->argv[5].ptr[0] == '1';
    struct sh_slice key = ctx->argv[4];
    struct kentry *q = block_queue_entry(ctx->shard, ctx->dbid, key, false), *e;
    bool found;

    if (!parse_token(ctx->argv[1], &token) ||
        !util_str2ll(ctx->argv[2].ptr, ctx->argv[2].len, &origin) ||
        !util_str2ll(ctx->argv[6].ptr, ctx->argv[6].len, &count)) {
        sh_panic("corrupt __bpop");
    }
    if (q) {
        struct bwaiter *w = ((struct bqueue *)q->val.u.p)->head;

        for (; w; w = w->next) {
            if (w->token == token && w->origin == origin) {
                w->told = false; /* served or not, this claim answers the tell */
            }
        }
    }
    e = kdb_find(ctx->db, key.ptr, key.len, cmd_key_hash(ctx, 4), ctx->shard->now_ms);
    if (!e || e->val.type != (zset ? KVAL_ZSET : KVAL_LIST)) {
        /* the tell is answered: whoever waits next (maybe for the key's new
         * type) is told at the end of the iteration */
        block_mark_ready(ctx->shard, ctx->dbid, key.ptr, key.len);
        reply_null(&ctx->r);
        return;
    }
    if (ctx->argc == 9 && value_type(ctx->shard, ctx->dbid, ctx->argv[7]) != KVAL_NONE &&
        value_type(ctx->shard, ctx->dbid, ctx->argv[7]) != KVAL_LIST) {
        /* this waiter leaves with an error: the data is the next one's */
        block_mark_ready(ctx->shard, ctx->dbid, key.ptr, key.len);
        reply_err_wrongtype(&ctx->r);
        return;
    }
    if (q) {
        block_queue_remove(ctx->shard->blk, q->val.u.p, token, (int)origin, &found);
        block_queue_drop_if_empty(ctx->shard, ctx->dbid, q);
    }
    route_touch(ctx->shard, ctx->dbid, key); /* an element leaves it now */
    if (zset) {
        size_t at = reply_array_begin(&ctx->r);
        size_t n = tzset_pop(&e->val, !left, (size_t)count, zset_elem_out, &ctx->r);

        reply_array_end(&ctx->r, at, (long long)n * 2);
    } else {
        struct pop_sink k = { .r = &ctx->r };
        size_t at = reply_array_begin(&ctx->r);
        size_t n;

        rbuf_init(&k.last);
        n = tlist_pop(&e->val, left ? TLIST_HEAD : TLIST_TAIL, (size_t)count, list_elem_out, &k,
                      &ctx->shard->cfg.limits);
        reply_array_end(&ctx->r, at, (long long)n);
        notify_pop(ctx, key, zset, left);
        if (ctx->argc == 9 && n == 1) {
            /* BLMOVE within this shard: the push is part of the claim (before
             * the emptied-key check: source and destination may be one key) */
            push_elem(ctx, ctx->argv[7], ctx->argv[8].ptr[0] == '1',
                      (struct sh_slice){ k.last.data, k.last.len });
            e = kdb_peek(ctx->db, key.ptr, key.len, cmd_key_hash(ctx, 4), ctx->shard->now_ms);
        }
        if (e) {
            after_pop(ctx, e, key, zset);
        }
        rbuf_fini(&k.last);
        return;
    }
    notify_pop(ctx, key, zset, left);
    after_pop(ctx, e, key, zset);
}

/* __bpush key <left 1|0> elem: BLMOVE's push on the destination's owner;
 * replies :1, or WRONGTYPE. */
static void cmd_bpush(struct cmd_ctx *ctx)
{
    if (push_elem(ctx, ctx->argv[1], ctx->argv[2].ptr[0] == '1', ctx->argv[3]) != 0) {
        reply_err_wrongtype(&ctx->r);
        return;
    }
    reply_int(&ctx->r, 1);
}

/* __bpushback <l|z> key <left 1|0> elem [score]: an element popped for a
 * client that could not take it goes back where it came from. */
static void cmd_bpushback(struct cmd_ctx *ctx)
{
    struct sh_slice key = ctx->argv[2];
    bool zset = ctx->argv[1].ptr[0] == 'z';

    if (!zset) {
        if (push_elem(ctx, key, ctx->argv[3].ptr[0] == '1', ctx->argv[4]) != 0) {
            sh_log(LOG_WARNING, "a popped element could not go back: key changed type");
        }
        reply_ok(&ctx->r);
        return;
    }
    char sbuf[64];
    size_t sl = ctx->argv[5].len < sizeof(sbuf) - 1 ? ctx->argv[5].len : sizeof(sbuf) - 1;

    /* arguments are not NUL-terminated */
    memcpy(sbuf, ctx->argv[5].ptr, sl);
    sbuf[sl] = '\0';
    double score = strtod(sbuf, NULL);
    uint64_t h = cmd_key_hash(ctx, 2);
    struct kentry *e = kdb_find(ctx->db, key.ptr, key.len, h, ctx->shard->now_ms);

    if (e && e->val.type != KVAL_ZSET) {
        sh_log(LOG_WARNING, "a popped member could not go back: key changed type");
        reply_ok(&ctx->r);
        return;
    }
    if (!e) {
        e = kdb_add(ctx->db, key.ptr, key.len, h);
        tzset_init(&e->val, ctx->argv[4].len, &ctx->shard->cfg.limits, shard_rand(ctx->shard));
    }
    if (tzset_add(&e->val, ctx->argv[4].ptr, ctx->argv[4].len, score, 0, NULL,
                  &ctx->shard->cfg.limits, shard_rand(ctx->shard)) < 0) {
        sh_log(LOG_WARNING, "a popped member could not go back: out of memory");
    }
    route_touch(ctx->shard, ctx->dbid, key);
    pubsub_notify(ctx->shard, NOTIFY_ZSET, "zadd", key.ptr, key.len, ctx->dbid);
    reply_ok(&ctx->r);
}

/* ==== the client's side ==== */

static void client_insert(struct block *b, struct bclient *bc)
{
    if (b->nclients + 1 > (b->mask + 1) * 2) {
        size_t nmask = b->mask * 2 + 1;
        struct bclient **nt = sh_calloc(nmask + 1, sizeof(*nt));

        for (struct bclient *x = b->all; x; x = x->next) {
            x->hnext = nt[x->token & nmask];
            nt[x->token & nmask] = x;
        }
        sh_free(b->tab);
        b->tab = nt;
        b->mask = nmask;
    }
    bc->hnext = b->tab[bc->token & b->mask];
    b->tab[bc->token & b->mask] = bc;
    bc->next = b->all;
    bc->prev = NULL;
    if (b->all) {
        b->all->prev = bc;
    }
    b->all = bc;
    b->nclients++;
    bc->co->conn->nbclients++;
    if (bc->deadline_us && bc->deadline_us < b->next_deadline_us) {
        b->next_deadline_us = bc->deadline_us;
    }
}

static struct bclient *client_find(struct block *b, uint64_t token)
{
    for (struct bclient *x = b->tab[token & b->mask]; x; x = x->hnext) {
        if (x->token == token) {
            return x;
        }
    }
    return NULL;
}

static void client_remove(struct block *b, struct bclient *bc)
{
    struct bclient **pp = &b->tab[bc->token & b->mask];

    while (*pp != bc) {
        pp = &(*pp)->hnext;
    }
    *pp = bc->hnext;
    if (bc->prev) {
        bc->prev->next = bc->next;
    } else {
        b->all = bc->next;
    }
    if (bc->next) {
        bc->next->prev = bc->prev;
    }
    b->nclients--;
    bc->co->conn->nbclients--;
}

/* Tells every owner to forget this client (one message per owner). */
static void unwait_all(struct bclient *bc)
{
    struct shard *sh = block_shard_of(bc);
    int n = sh->srv->nshards;
    struct sh_slice *argv = sh_malloc(sizeof(*argv) * (size_t)(bc->nkeys + 3));
    char tok[24], org[12];

    argv[0] = (struct sh_slice){ "__bunwait", 9 };
    argv[1] = (struct sh_slice){ tok, (size_t)snprintf(tok, sizeof(tok), "%llu",
                                                       (unsigned long long)bc->token) };
    argv[2] = (struct sh_slice){ org, (size_t)snprintf(org, sizeof(org), "%d", sh->id) };
    for (int s = 0; s < n; s++) {
        int k = 3;

        for (int i = 0; i < bc->nkeys; i++) {
            if (bc->owner[i] == s) {
                argv[k++] = block_key_of(bc, i);
            }
        }
        if (k > 3) {
            route_post(sh, s, &spec_bunwait, bc->co->dbid, k, argv);
        }
    }
    sh_free(argv);
}

static void client_free(struct bclient *bc)
{
    if (bc->phase != PH_ERR) {
        client_remove(block_shard_of(bc)->blk, bc);
        if (bc->co->conn->blocked == bc) {
            bc->co->conn->blocked = NULL;
        }
    }
    rbuf_fini(&bc->moved);
    sh_free(bc->owner);
    sh_free(bc->ready);
    sh_free(bc->xargv);
    sh_free(bc->xid);
    sh_free(bc);
}

/* Ends the command: the owners forget it. Returns true (done's result). */
bool block_finish(struct bclient *bc)
{
    struct coord *co = bc->co;

    if (bc->phase != PH_ERR) {
        unwait_all(bc);
    }
    /* the time spent blocked is not the command's (commandstats, slowlog) */
    co->t0 = sh_mono_us();
    co->ext = NULL;
    client_free(bc);
    return true;
}

/* Sends the claim for key i. */
static void claim(struct bclient *bc, int i)
{
    struct shard *sh = block_shard_of(bc);
    char tok[24], org[12], cnt[24];
    struct sh_slice argv[9] = {
        { "__bpop", 6 },
        { tok, (size_t)snprintf(tok, sizeof(tok), "%llu", (unsigned long long)bc->token) },
        { org, (size_t)snprintf(org, sizeof(org), "%d", sh->id) },
        { bc->zset ? "z" : "l", 1 },
        block_key_of(bc, i),
        { bc->left ? "1" : "0", 1 },
        { cnt, (size_t)snprintf(cnt, sizeof(cnt), "%ld", bc->count) },
    };
    int argc = 7;

    if (bc->kind == BK_MOVE && bc->owner[bc->nkeys] == bc->owner[i]) {
        argv[7] = bc->co->argv[bc->dst];
        argv[8] = (struct sh_slice){ bc->dst_left ? "1" : "0", 1 };
        argc = 9;
    }
    bc->claim = i;
    bc->phase = PH_POP;
    coord_send(bc->co, bc->owner[i], &spec_bpop, bc->co->dbid, argc, argv);
}

/* Claims the first key with data (every one told, for streams), or waits.
 * Returns done's result. */
bool block_next_step(struct bclient *bc, struct reply *r)
{
    for (int i = 0; i < bc->nkeys; i++) {
        if (bc->ready[i] && bc->kind == BK_XREAD) {
            block_xread_claim(bc);
            return false;
        }
        if (bc->ready[i]) {
            claim(bc, i);
            return false;
        }
    }
    if (bc->unblock_error) {
        reply_error(r, "UNBLOCKED client unblocked via CLIENT UNBLOCK");
        return block_finish(bc);
    }
    if (bc->co->nowait) {
        bc->timed_out = true; /* inside EXEC: as if the timeout had passed */
    }
    if (bc->timed_out) {
        reply_null_array(r);
        return block_finish(bc);
    }
    bc->phase = PH_WAIT;
    coord_park(bc->co);
    return false;
}

/* Reads the __bwait statuses of every owner; false after replying. */
static bool read_acks(struct bclient *bc, struct reply *r)
{
    int n = block_shard_of(bc)->srv->nshards;

    for (int s = 0; s < n; s++) {
        struct sh_slice p = coord_part(bc->co, s);
        size_t pos = 0;
        long long cnt, st;

        if (!p.len) {
            continue;
        }
        SH_ASSERT(coord_read_header(p, &pos, '*', &cnt));
        for (int i = 0; i < bc->nkeys; i++) {
            if (bc->owner[i] == s) {
                SH_ASSERT(coord_read_header(p, &pos, ':', &st));
                /* a tell that came before this ack (another owner's ack was
                 * still on its way) stays */
                bc->ready[i] = st == 2 ? 2 : (uint8_t)(st == 1 || bc->ready[i] == 1);
            }
        }
    }
    /* as Redis, in argument order: the first key with data is served, a key
     * of another type before it is an error */
    for (int i = 0; i < bc->nkeys && bc->ready[i] != 1; i++) {
        if (bc->ready[i] == 2) {
            reply_err_wrongtype(r);
            return false;
        }
    }
    for (int i = 0; i < bc->nkeys; i++) {
        bc->ready[i] = bc->ready[i] == 1;
    }
    return true;
}

static void reply_score(struct reply *r, struct sh_slice s)
{
    char buf[64];
    size_t n = s.len < sizeof(buf) - 1 ? s.len : sizeof(buf) - 1;

    memcpy(buf, s.ptr, n);
    buf[n] = '\0';
    reply_double(r, strtod(buf, NULL));
}

/* Writes the client's reply from the popped elements (n of them, RESP2
 * bulks at *pos of part p). */
static void reply_popped(struct bclient *bc, struct reply *r, struct sh_slice p, size_t pos,
                         long long n)
{
    struct sh_slice key = block_key_of(bc, bc->claim), a, b;

    switch (bc->kind) {
    case BK_POP:
        coord_read_bulk(p, &pos, &a);
        reply_array(r, 2);
        reply_bulk(r, key.ptr, key.len);
        reply_bulk(r, a.ptr, a.len);
        break;
    case BK_MOVE:
        coord_read_bulk(p, &pos, &a);
        reply_bulk(r, a.ptr, a.len);
        break;
    case BK_MPOP:
        reply_array(r, 2);
        reply_bulk(r, key.ptr, key.len);
        reply_array(r, n);
        for (long long i = 0; i < n; i++) {
            coord_read_bulk(p, &pos, &a);
            reply_bulk(r, a.ptr, a.len);
        }
        break;
    case BK_ZPOP:
        coord_read_bulk(p, &pos, &a);
        coord_read_bulk(p, &pos, &b);
        reply_array(r, 3);
        reply_bulk(r, key.ptr, key.len);
        reply_bulk(r, a.ptr, a.len);
        reply_score(r, b);
        break;
    case BK_ZMPOP:
    default:
        reply_array(r, 2);
        reply_bulk(r, key.ptr, key.len);
        reply_array(r, n / 2);
        for (long long i = 0; i < n / 2; i++) {
            coord_read_bulk(p, &pos, &a);
            coord_read_bulk(p, &pos, &b);
            reply_array(r, 2);
            reply_bulk(r, a.ptr, a.len);
            reply_score(r, b);
        }
        break;
    }
}

/* An element popped for nobody (the client left) goes back. */
static void push_back(struct bclient *bc, struct sh_slice p, size_t pos, long long n)
{
    struct shard *sh = block_shard_of(bc);
    struct sh_slice *els = sh_malloc(sizeof(*els) * (size_t)(n ? n : 1));
    int step = bc->zset ? 2 : 1;

    for (long long i = 0; i < n; i++) {
        coord_read_bulk(p, &pos, &els[i]);
    }
    /* last popped first, so that the key's order is as before */
    for (long long i = n - step; i >= 0; i -= step) {
        struct sh_slice argv[6] = { { "__bpushback", 11 },
                                    { bc->zset ? "z" : "l", 1 },
                                    block_key_of(bc, bc->claim),
                                    { bc->left ? "1" : "0", 1 },
                                    els[i],
                                    bc->zset ? els[i + 1] : els[i] };

        route_post(sh, bc->owner[bc->claim], &spec_bpushback, bc->co->dbid, bc->zset ? 6 : 5, argv);
    }
    sh_free(els);
}

/* The claim's answer. Returns done's result. */
static bool on_popped(struct bclient *bc, struct reply *r)
{
    struct sh_slice p = coord_part(bc->co, bc->owner[bc->claim]);
    size_t pos = 0;
    long long n;
    struct sh_slice elem;

    if (p.len && p.ptr[0] == '-') {
        reply_raw(r, p.ptr, p.len); /* WRONGTYPE of the destination */
        return block_finish(bc);
    }
    if (!coord_read_header(p, &pos, '*', &n) || n <= 0) {
        bc->ready[bc->claim] = 0; /* taken by someone else first */
        return block_next_step(bc, r);
    }
    if (bc->co->conn->flags & CONN_CLOSING) {
        /* popped for a client gone: it goes back, unless the claim moved it
         * (a BLMOVE within one shard is done, as it would be in Redis) */
        if (bc->kind != BK_MOVE || bc->owner[bc->nkeys] != bc->owner[bc->claim]) {
            push_back(bc, p, pos, n);
        }
        reply_null_array(r);
        return block_finish(bc);
    }
    if (bc->kind == BK_MOVE && bc->owner[bc->nkeys] != bc->owner[bc->claim]) {
        struct sh_slice argv[4] = { { "__bpush", 7 },
                                    bc->co->argv[bc->dst],
                                    { bc->dst_left ? "1" : "0", 1 } };

        coord_read_bulk(p, &pos, &elem);
        bc->moved.len = 0;
        rbuf_append(&bc->moved, elem.ptr, elem.len);
        argv[3] = (struct sh_slice){ bc->moved.data, bc->moved.len };
        bc->phase = PH_PUSH;
        coord_send(bc->co, bc->owner[bc->nkeys], &spec_bpush, bc->co->dbid, 4, argv);
        return false;
    }
    reply_popped(bc, r, p, pos, n);
    return block_finish(bc);
}

/* BLMOVE's push to another owner came back. */
static bool on_pushed(struct bclient *bc, struct reply *r)
{
    struct sh_slice p = coord_part(bc->co, bc->owner[bc->nkeys]);
    struct sh_slice elem = { bc->moved.data, bc->moved.len };

    if (p.len && p.ptr[0] == '-') {
        struct sh_slice argv[5] = { { "__bpushback", 11 },
                                    { "l", 1 },
                                    block_key_of(bc, bc->claim),
                                    { bc->left ? "1" : "0", 1 },
                                    elem };

        route_post(block_shard_of(bc), bc->owner[bc->claim], &spec_bpushback, bc->co->dbid, 5,
                   argv);
        reply_raw(r, p.ptr, p.len);
        return block_finish(bc);
    }
    reply_bulk(r, elem.ptr, elem.len);
    return block_finish(bc);
}

bool block_done(struct coord *co, struct reply *r)
{
    struct bclient *bc = co->ext;

    switch (bc->phase) {
    case PH_ERR:
        reply_error(r, bc->err);
        return block_finish(bc);
    case PH_REG:
        if (bc->kind == BK_XREAD) {
            return block_xread_on_acks(bc, r);
        }
        if (!read_acks(bc, r)) {
            return block_finish(bc);
        }
        return block_next_step(bc, r);
    case PH_POP:
        if (bc->kind == BK_XREAD) {
            return block_xread_on_claimed(bc, r);
        }
        return on_popped(bc, r);
    case PH_PUSH:
        return on_pushed(bc, r);
    case PH_WAIT:
    default:
        return block_next_step(bc, r);
    }
}

/* ---- parsing ---- */

/* Redis's getTimeoutFromObjectOrReply in seconds: *ms 0 is forever. */
static const char *parse_timeout(struct sh_slice s, long long *ms)
{
    char buf[64], *end;
    long double v;

    if (s.len == 0 || s.len >= sizeof(buf) || memchr(s.ptr, ' ', s.len)) {
        return "ERR timeout is not a float or out of range";
    }
    memcpy(buf, s.ptr, s.len);
    buf[s.len] = '\0';
    v = strtold(buf, &end);
    if (*end || isnan(v)) {
        return "ERR timeout is not a float or out of range";
    }
    v *= 1000.0L;
    /* Redis 7.0 casts without a range check: huge values come out negative */
    if (v < 0 || v > (long double)LLONG_MAX) {
        return "ERR timeout is negative";
    }
    *ms = (long long)ceill(v);
    return NULL;
}

static const char *parse_where(struct sh_slice s, bool zset, bool *left)
{
    if (sh_slice_eq_nocase(s, zset ? "min" : "left")) {
        *left = true;
    } else if (sh_slice_eq_nocase(s, zset ? "max" : "right")) {
        *left = false;
    } else {
        return "ERR syntax error";
    }
    return NULL;
}

/* BLMPOP/BZMPOP timeout numkeys key... where [COUNT n] */
static const char *parse_mpop(struct bclient *bc, const struct coord *co, long long *ms)
{
    const char *err = parse_timeout(co->argv[1], ms);
    long long numkeys, count = -1;
    int where;

    if (err) {
        return err;
    }
    if (!util_str2ll(co->argv[2].ptr, co->argv[2].len, &numkeys) || numkeys < 1) {
        return "ERR numkeys should be greater than 0";
    }
    if (numkeys >= co->argc - 3) {
        return "ERR syntax error";
    }
    where = 3 + (int)numkeys;
    if ((err = parse_where(co->argv[where], bc->zset, &bc->left)) != NULL) {
        return err;
    }
    for (int j = where + 1; j < co->argc; j++) {
        if (count == -1 && sh_slice_eq_nocase(co->argv[j], "count") && j + 1 < co->argc) {
            j++;
            if (!util_str2ll(co->argv[j].ptr, co->argv[j].len, &count) || count < 1) {
                return "ERR count should be greater than 0";
            }
        } else {
            return "ERR syntax error";
        }
    }
    bc->count = count == -1 ? 1 : (long)count;
    bc->first = 3;
    bc->nkeys = (int)numkeys;
    return NULL;
}

/* Fills the command's shape from its arguments; NULL or the error. */
static const char *parse_block(struct bclient *bc, const struct coord *co, long long *ms)
{
    const char *name = co->cmd->fullname;
    const char *err;

    bc->count = 1;
    bc->first = 1;
    bc->zset = name[1] == 'z';
    if (!strcmp(name, "blpop") || !strcmp(name, "brpop") || bc->kind == BK_ZPOP) {
        bc->left = !strcmp(name, "blpop") || !strcmp(name, "bzpopmin");
        bc->nkeys = co->argc - 2;
        return parse_timeout(co->argv[co->argc - 1], ms);
    }
    if (!strcmp(name, "brpoplpush")) {
        bc->nkeys = 1;
        bc->dst = 2;
        bc->dst_left = true;
        return parse_timeout(co->argv[3], ms);
    }
    if (!strcmp(name, "blmove")) {
        bc->nkeys = 1;
        bc->dst = 2;
        if ((err = parse_where(co->argv[3], false, &bc->left)) != NULL ||
            (err = parse_where(co->argv[4], false, &bc->dst_left)) != NULL) {
            return err;
        }
        return parse_timeout(co->argv[5], ms);
    }
    return parse_mpop(bc, co, ms);
}

static enum bkind kind_of(const char *name)
{
    if (!strcmp(name, "blmove") || !strcmp(name, "brpoplpush")) {
        return BK_MOVE;
    }
    if (!strcmp(name, "blmpop")) {
        return BK_MPOP;
    }
    if (!strcmp(name, "bzmpop")) {
        return BK_ZMPOP;
    }
    if (name[1] == 'z') {
        return BK_ZPOP;
    }
    return BK_POP;
}

/* Registers the client on every owner of its keys (stage 0). */
static void send_waits(struct bclient *bc)
{
    struct shard *sh = block_shard_of(bc);
    struct sh_slice *argv = sh_malloc(sizeof(*argv) * (size_t)(bc->nkeys + 4));
    char tok[24], org[12];

    argv[0] = (struct sh_slice){ "__bwait", 7 };
    argv[1] = (struct sh_slice){ tok, (size_t)snprintf(tok, sizeof(tok), "%llu",
                                                       (unsigned long long)bc->token) };
    argv[2] = (struct sh_slice){ org, (size_t)snprintf(org, sizeof(org), "%d", sh->id) };
    argv[3] = (struct sh_slice){ bc->zset ? "z" : "l", 1 };
    for (int s = 0; s < sh->srv->nshards; s++) {
        int k = 4;

        for (int i = 0; i < bc->nkeys; i++) {
            if (bc->owner[i] == s) {
                argv[k++] = block_key_of(bc, i);
            }
        }
        if (k > 4) {
            coord_send(bc->co, s, &spec_bwait, bc->co->dbid, k, argv);
        }
    }
    sh_free(argv);
}

/* bc (its owners known) is blocked from now on, for ms (0: forever). */
void block_client_block(struct bclient *bc, long long ms)
{
    struct shard *sh = block_shard_of(bc);
    int64_t now = sh_mono_us();

    bc->token = ++sh->blk->next_token;
    /* a deadline past what the clock can hold is forever (Redis blocks too) */
    bc->deadline_us = ms && ms < (INT64_MAX - now) / 1000 ? now + ms * 1000 : 0;
    bc->phase = PH_REG;
    if (!bc->co->nowait) {
        /* the connection's own blocked command: one run by EXEC (nowait)
         * never parks, and may run while a command pipelined after the
         * EXEC is blocked, which stays the connection's */
        bc->co->conn->blocked = bc;
    }
    client_insert(sh->blk, bc);
}

static void block_start(struct coord *co)
{
    struct bclient *bc = sh_calloc(1, sizeof(*bc));
    struct shard *sh = co->conn->sh;
    long long ms = 0;
    uint64_t h;

    bc->co = co;
    bc->argv = co->argv;
    co->ext = bc;
    rbuf_init(&bc->moved);
    bc->kind = kind_of(co->cmd->fullname);
    bc->err = parse_block(bc, co, &ms);
    if (bc->err) {
        bc->phase = PH_ERR;
        return;
    }
    bc->owner = sh_malloc(sizeof(int) * (size_t)(bc->nkeys + 1));
    bc->ready = sh_calloc((size_t)bc->nkeys, 1);
    for (int i = 0; i < bc->nkeys; i++) {
        bc->owner[i] =
                shard_owner(sh->srv->nshards, block_key_of(bc, i).ptr, block_key_of(bc, i).len, &h);
    }
    if (bc->dst) {
        bc->owner[bc->nkeys] =
                shard_owner(sh->srv->nshards, co->argv[bc->dst].ptr, co->argv[bc->dst].len, &h);
    }
    block_client_block(bc, ms);
    send_waits(bc);
}

/* ---- events on the client's core ---- */

/* __bready <token> <key>: an owner says the key has data for us. */
static void cmd_bready(struct cmd_ctx *ctx)
{
    uint64_t token;
    struct bclient *bc;

    if (!parse_token(ctx->argv[1], &token)) {
        sh_panic("corrupt __bready");
    }
    reply_ok(&ctx->r);
    bc = client_find(ctx->shard->blk, token);
    if (!bc) {
        return; /* gone: its unwait tells the owner */
    }
    for (int i = 0; i < bc->nkeys; i++) {
        struct sh_slice k = block_key_of(bc, i);

        if (k.len == ctx->argv[2].len && !memcmp(k.ptr, ctx->argv[2].ptr, k.len)) {
            bc->ready[i] |= 1; /* a stream's claim in flight (bit 2) stays */
        }
    }
    if (bc->phase == PH_WAIT) {
        coord_wake(bc->co);
    }
}

/* Ends the waits whose deadline passed (tokens first: waking one client may
 * end others on this core). */
static void expire_clients(struct shard *sh)
{
    struct block *b = sh->blk;
    int64_t now = sh_mono_us(), next = INT64_MAX;
    size_t n = 0;
    uint64_t *due = sh_malloc(sizeof(*due) * (b->nclients ? b->nclients : 1));

    for (struct bclient *bc = b->all; bc; bc = bc->next) {
        if (bc->deadline_us && bc->deadline_us <= now) {
            due[n++] = bc->token;
        } else if (bc->deadline_us && bc->deadline_us < next) {
            next = bc->deadline_us;
        }
    }
    b->next_deadline_us = next;
    for (size_t i = 0; i < n; i++) {
        struct bclient *bc = client_find(b, due[i]);

        if (bc) {
            bc->timed_out = true;
            bc->deadline_us = 0;
            if (bc->phase == PH_WAIT) {
                coord_wake(bc->co);
            }
        }
    }
    sh_free(due);
}

void block_run(struct shard *sh)
{
    struct block *b = sh->blk;

    if (SH_UNLIKELY(b->gwatch != NULL) && b->gw_dirty != sh->stats.dirty) {
        block_stream_recheck(sh);
    }
    if (b->ready) {
        serve_ready(sh);
    }
    if (b->next_deadline_us != INT64_MAX && sh_mono_us() >= b->next_deadline_us) {
        expire_clients(sh);
    }
}

int64_t block_next_deadline(const struct shard *sh)
{
    return sh->blk->next_deadline_us;
}

/* Ends bc, whose connection is being freed. */
static void one_gone(struct bclient *bc)
{
    struct coord *co = bc->co;

    if (bc->phase != PH_WAIT) {
        /* only when the loop has ended (shutdown past its drain time): a
         * part in flight kept the connection otherwise; the coordinator is
         * left to its parts, as any multi-shard command's at that point */
        co->ext = NULL;
        client_free(bc);
        return;
    }
    unwait_all(bc);
    client_free(bc);
    co->ext = NULL;
    coord_abandon(co);
}

/* c is being freed: every blocked client listed for it ends (its own, and
 * one an EXEC of it runs; one left behind would be read after c's free, as
 * CLIENT UNBLOCK once did). The list is walked only for a connection that
 * has one. */
void block_conn_gone(struct conn *c)
{
    struct bclient *bc = c->sh->blk->all;

    while (c->nbclients) {
        struct bclient *next = bc->next;

        if (bc->co->conn == c) {
            one_gone(bc); /* unlinks bc; next stays listed */
        }
        bc = next;
    }
}

void block_stats(const struct shard *sh, long long *blocked, long long *with_timeout)
{
    const struct block *b = sh->blk;
    long long n = 0;

    for (const struct bclient *bc = b->all; bc; bc = bc->next) {
        n += bc->deadline_us != 0;
    }
    *blocked = (long long)b->nclients;
    *with_timeout = n;
}

/* Ends the given clients' waits; error: with -UNBLOCKED. */
static size_t unblock_where(struct shard *sh, uint64_t conn_id, bool all, bool error)
{
    struct block *b = sh->blk;
    uint64_t *due = sh_malloc(sizeof(*due) * (b->nclients ? b->nclients : 1));
    size_t n = 0, done = 0;

    for (struct bclient *bc = b->all; bc; bc = bc->next) {
        if (all || bc->co->conn->id == conn_id) {
            due[n++] = bc->token;
        }
    }
    for (size_t i = 0; i < n; i++) {
        struct bclient *bc = client_find(b, due[i]);

        if (bc) {
            bc->timed_out = true;
            bc->unblock_error = error;
            done++;
            if (bc->phase == PH_WAIT) {
                coord_wake(bc->co);
            }
        }
    }
    sh_free(due);
    return done;
}

void block_unblock_all(struct shard *sh)
{
    unblock_where(sh, 0, true, false);
}

bool block_unblock(struct shard *sh, uint64_t id, bool error)
{
    return unblock_where(sh, id, false, error) > 0;
}

/* CLIENT UNBLOCK id [TIMEOUT|ERROR], on every shard (summed). */
static void cmd_client_unblock(struct cmd_ctx *ctx)
{
    long long id;
    bool error = false;

    if (!util_str2ll(ctx->argv[2].ptr, ctx->argv[2].len, &id)) {
        reply_err_notint(&ctx->r);
        return;
    }
    if (ctx->argc == 4) {
        if (sh_slice_eq_nocase(ctx->argv[3], "error")) {
            error = true;
        } else if (!sh_slice_eq_nocase(ctx->argv[3], "timeout")) {
            reply_error(&ctx->r, "ERR CLIENT UNBLOCK reason should be TIMEOUT or ERROR");
            return;
        }
    }
    reply_int(&ctx->r, block_unblock(ctx->shard, (uint64_t)id, error));
}

/* ---- binding ---- */

static const struct cmd_spec spec_bwait = {
    .name = "__bwait", .fullname = "__bwait", .arity = -5, .proc = cmd_bwait
};
static const struct cmd_spec spec_bpop = {
    .name = "__bpop", .fullname = "__bpop", .arity = -7, .proc = cmd_bpop
};
static const struct cmd_spec spec_bunwait = {
    .name = "__bunwait", .fullname = "__bunwait", .arity = -4, .proc = cmd_bunwait
};
static const struct cmd_spec spec_bready = {
    .name = "__bready", .fullname = "__bready", .arity = 3, .proc = cmd_bready
};
static const struct cmd_spec spec_bpush = {
    .name = "__bpush", .fullname = "__bpush", .arity = 4, .proc = cmd_bpush
};
static const struct cmd_spec spec_bpushback = {
    .name = "__bpushback", .fullname = "__bpushback", .arity = -5, .proc = cmd_bpushback
};

/* A blocking command's own handler never runs: its gather does the work. */
static void cmd_block_unused(struct cmd_ctx *ctx)
{
    reply_error(&ctx->r, "ERR internal error: blocking command run as a part");
}

static const struct gather gather_block = {
    .start = block_start, .done = block_done, .always = true, .barrier = true
};

void block_bind(void)
{
    static const char *const names[] = { "blpop",  "brpop",    "brpoplpush", "blmove",
                                         "blmpop", "bzpopmin", "bzpopmax",   "bzmpop" };

    for (size_t i = 0; i < SH_ARRAY_LEN(names); i++) {
        cmd_must_bind(names[i], cmd_block_unused, CMD_ROUTE_ALL, &gather_block);
    }
    cmd_must_bind("client|unblock", cmd_client_unblock, CMD_ROUTE_ALL, &gather_sum_all);
}
