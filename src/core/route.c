/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * route.c: command dispatch, cross-shard requests and gathering (see
 * route.h for the routes and the message protocol).
 *
 * A request message is one allocation:
 *
 *   struct req | argv[argc] slices | argument bytes | inline reply area
 *
 * so sending a command costs one malloc and one copy of its arguments, and a
 * small reply needs no allocation at the owner. The owner writes the reply
 * into the inline area through a foreign rbuf; a reply that outgrows it moves
 * to the owner's heap and is given back to the owner (RELEASE) to be freed
 * there.
 */
#include "shardis/route.h"

#include "shardis/acl.h"
#include "shardis/acl_log.h"
#include "shardis/cmdtab.h"
#include "shardis/conn.h"
#include "shardis/diag.h"
#include "shardis/evict.h"
#include "shardis/kdb.h"
#include "shardis/log.h"
#include "shardis/monitor.h"
#include "shardis/pubsub.h"
#include "shardis/sched.h"
#include "shardis/shard.h"
#include "shardis/tracking.h"
#include "shardis/util.h"

#include <stdio.h>
#include <string.h>

#define INLINE_REPLY   192
/* A message whose arguments and INLINE_REPLY fit in this many bytes (a
 * jemalloc size class) takes one from the origin's free list, and its
 * inline reply area gets whatever the arguments leave; at most REQ_CACHE are
 * kept per core (16 connections pipelining 16 commands). */
#define REQ_POOL_SIZE  640
#define REQ_CACHE      256
#define MAX_STACK_KEYS 16

struct route_hooks route_hooks;

void route_note_write(struct shard *sh, const struct cmd_spec *cmd, int dbid, int argc,
                      const struct sh_slice *argv)
{
    struct cmd_keys k;

    if (!route_hooks.touched) {
        return;
    }
    /* a write of no named key (FLUSHDB, FLUSHALL, SWAPDB) touches what it
     * empties itself, before (route_touch_db) */
    cmd_keys_get(&k, cmd, argc, argv);
    for (int i = 0; i < k.n; i++) {
        if (!(k.flags[i] & CMD_KEY_RO)) {
            route_hooks.touched(sh, dbid, argv[k.pos[i]]);
        }
    }
    cmd_keys_free(&k);
}

/* After a handler: an error reply means it changed nothing (Redis's
 * handlers check before they write, and count or propagate no failure). */
static inline void note_error_unchanged(struct cmd_ctx *ctx, const struct rbuf *b, size_t at)
{
    if (b->len > at && b->data[at] == '-') {
        ctx->unchanged = true;
    }
}

void route_touch(struct shard *sh, int dbid, struct sh_slice key)
{
    if (SH_UNLIKELY(sh->nwatched) && route_hooks.touched) {
        route_hooks.touched(sh, dbid, key);
    }
}

void route_touch_db(struct shard *sh, int dbid, int with)
{
    if (SH_UNLIKELY(sh->nwatched) && route_hooks.touched_db) {
        route_hooks.touched_db(sh, dbid, with);
    }
}

static struct req *req_new(struct shard *sh, int to, const struct cmd_spec *cmd, int dbid,
                           int proto, int argc, const struct sh_slice *argv)
{
    size_t bytes = 0, off, size;
    struct req *m;
    bool pooled;
    char *p;

    for (int i = 0; i < argc; i++) {
        bytes += argv[i].len;
    }
    off = sizeof(*m) + sizeof(struct sh_slice) * (size_t)argc;
    size = off + bytes + INLINE_REPLY;
    pooled = size <= REQ_POOL_SIZE;
    if (pooled) {
        size = REQ_POOL_SIZE;
    }
    if (pooled && sh->free_reqs) {
        m = sh->free_reqs;
        sh->free_reqs = m->next;
        sh->nfree_reqs--;
    } else {
        m = sh_malloc(size);
    }
    memset(m, 0, sizeof(*m));
    m->pooled = pooled;
    m->inline_cap = size - off - bytes;
    m->kind = REQ_EXEC;
    m->proto = (uint8_t)proto;
    m->from = (uint16_t)sh->id;
    m->to = (uint16_t)to;
    m->dbid = dbid;
    m->cmd = cmd;
    m->argc = argc;
    m->argv = m->slices;
    p = (char *)m + off;
    for (int i = 0; i < argc; i++) {
        if (argv[i].len) { /* an empty argument's ptr may be NULL */
            memcpy(p, argv[i].ptr, argv[i].len);
        }
        m->argv[i].ptr = p;
        m->argv[i].len = argv[i].len;
        p += argv[i].len;
    }
    m->inline_reply = p;
    rbuf_init_foreign(&m->reply, m->inline_reply, m->inline_cap);
    return m;
}

/* maxmemory: evicts first if this shard is over its share; false (an -OOM
 * error in r) when cmd may not run. */
static inline bool may_run(struct shard *sh, const struct cmd_spec *cmd, struct reply *r)
{
    return SH_LIKELY(!sh->cfg.maxmemory) || !sh->mem_base || evict_before_command(sh, cmd, r);
}

/* Runs a request's command on this core, reply into the request. */
static void exec_req(struct shard *sh, struct req *m)
{
    struct cmd_ctx ctx = {
        .cmd = m->cmd,
        .argc = m->argc,
        .argv = m->argv,
        .r = { .buf = &m->reply, .proto = m->proto },
        .shard = sh,
        .db = shard_db(sh, m->dbid),
        .dbid = m->dbid,
        .client_id = m->client_id,
        .key_hash = m->key_hash,
        .has_key_hash = m->has_key_hash,
    };

    int64_t t0 = sh->clock_us;
    size_t at = m->reply.len;

    /* total_commands_processed counts client commands once, where they
     * were read (conn.c), not each part a shard runs for them */
    sh->pub_origin = m->from != sh->id && m->client_id ? m->from + 1 : 0;
    if (!may_run(sh, m->cmd, &ctx.r)) {
        ctx.unchanged = true; /* -OOM */
    } else if (SH_UNLIKELY(sh->prop_on)) {
        uint64_t outer = sh->prop_seq;

        sh->prop_seq = m->txn_seq ? m->txn_seq : outer;
        m->cmd->proc(&ctx);
        note_error_unchanged(&ctx, &m->reply, at);
        if (!ctx.unchanged) {
            shard_prop(sh, m->cmd, m->dbid, m->argc, m->argv, m->reply.data + at,
                       m->reply.len - at);
        }
        sh->prop_seq = outer;
    } else {
        m->cmd->proc(&ctx);
        note_error_unchanged(&ctx, &m->reply, at);
    }
    sh->pub_origin = 0;
    if ((m->cmd->flags & CMD_WRITE) && !ctx.unchanged) {
        shard_note_dirty(sh, m->reply.data + at, m->reply.len - at);
        if (SH_UNLIKELY(sh->nwatched) && !ctx.touched_own) {
            route_note_write(sh, m->cmd, m->dbid, m->argc, m->argv);
        }
    }
    if (SH_UNLIKELY(tracking_active(sh))) {
        tracking_after(sh, m->cmd, m->argc, m->argv, m->client_id, m->reply.data + at,
                       m->reply.len - at);
    }
    /* a coordinator's parts are one call, counted where it ends */
    if (!m->coord) {
        m->run_us = shard_count_call(sh, m->cmd, t0, m->reply.data + at, m->reply.len - at);
        m->slow = m->run_us >= sh->diag_min_us;
        if (SH_UNLIKELY(m->slow)) {
            diag_latency(sh, m->cmd, m->run_us); /* the slow log waits for the client's core */
        }
    }
}

/* Frees a message on its origin's core: a pooled one goes to the free list
 * while it is short. */
static void req_free(struct shard *sh, struct req *m)
{
    SH_ASSERT(m->from == sh->id);
    if (m->pooled && sh->nfree_reqs < REQ_CACHE) {
        m->next = sh->free_reqs;
        sh->free_reqs = m;
        sh->nfree_reqs++;
        return;
    }
    sh_free(m);
}

/* The origin is done with m's reply: free it, or give an owner-allocated
 * reply back to the owner first. */
static void req_finish(struct shard *sh, struct req *m)
{
    if (m->reply.foreign || m->to == sh->id) {
        rbuf_fini(&m->reply);
        req_free(sh, m);
        return;
    }
    m->kind = REQ_RELEASE;
    shard_send(sh, m->to, m);
}

static void exec_local(struct conn *c, const struct cmd_spec *cmd, int argc,
                       const struct sh_slice *argv, uint64_t hash, bool has_hash)
{
    struct shard *sh = c->sh;
    struct cmd_ctx ctx = {
        .cmd = cmd,
        .argc = argc,
        .argv = argv,
        .r = conn_reply(c),
        .shard = sh,
        .db = shard_db(sh, c->db),
        .dbid = c->db,
        .conn = c,
        .client_id = c->id,
        .key_hash = hash,
        .has_key_hash = has_hash,
    };
    int64_t t0 = sh->clock_us;
    size_t at = ctx.r.buf->len;
    int64_t us;

    if (may_run(sh, cmd, &ctx.r)) {
        uint32_t inflight = c->inflight;

        cmd->proc(&ctx);
        note_error_unchanged(&ctx, ctx.r.buf, at);
        /* a handler that started a coordinator (SORT ... STORE, XREADGROUP,
         * MIGRATE over other cores) wrote nothing here: its parts are
         * logged where they run */
        if (SH_UNLIKELY(sh->prop_on) && c->inflight == inflight && !ctx.unchanged) {
            shard_prop(sh, cmd, c->db, argc, argv, ctx.r.buf->data + at, ctx.r.buf->len - at);
        }
    } else {
        ctx.unchanged = true; /* -OOM */
    }
    if ((cmd->flags & CMD_WRITE) && !ctx.unchanged) {
        shard_note_dirty(sh, ctx.r.buf->data + at, ctx.r.buf->len - at);
        if (SH_UNLIKELY(sh->nwatched) && !ctx.touched_own) {
            route_note_write(sh, cmd, c->db, argc, argv);
        }
    }
    if (SH_UNLIKELY(tracking_active(sh))) {
        tracking_after(sh, cmd, argc, argv, c->id, ctx.r.buf->data + at, ctx.r.buf->len - at);
    }
    us = shard_count_call(sh, cmd, t0, ctx.r.buf->data + at, ctx.r.buf->len - at);
    if (SH_UNLIKELY(us >= sh->diag_min_us)) {
        diag_latency(sh, cmd, us);
        diag_slowlog(sh, cmd, us, c, argc, argv);
    }
    if (ctx.r.buf != &c->out) {
        conn_slot_wrote(c, ctx.r.buf->len); /* a ready slot behind a pending one */
    }
}

static struct req *single_req(struct conn *c, int to, const struct cmd_spec *cmd, int argc,
                              const struct sh_slice *argv, uint64_t hash, bool has_hash)
{
    struct req *m = req_new(c->sh, to, cmd, c->db, c->proto, argc, argv);

    m->conn = c;
    m->slot = conn_slot_new(c);
    m->client_id = c->id;
    m->key_hash = hash;
    m->has_key_hash = has_hash;
    c->inflight++;
    return m;
}

static void send_single(struct conn *c, int to, const struct cmd_spec *cmd, int argc,
                        const struct sh_slice *argv, uint64_t hash, bool has_hash)
{
    shard_send(c->sh, to, single_req(c, to, cmd, argc, argv, hash, has_hash));
}

/* A command of this core's keys that must wait for a transaction's locks:
 * it takes a reply slot, as if it went to another shard, and waits here. */
static void wait_local(struct conn *c, const struct cmd_spec *cmd, int argc,
                       const struct sh_slice *argv, uint64_t hash, bool has_hash)
{
    sched_wait(c->sh, single_req(c, c->sh->id, cmd, argc, argv, hash, has_hash));
}

/* May a plain command run now, or must it wait for locks? One test when no
 * transaction is in flight on this core. */
static inline bool must_wait(struct shard *sh, const struct cmd_spec *cmd, int dbid, int argc,
                             const struct sh_slice *argv)
{
    return SH_UNLIKELY(!sched_quiet(&sh->sched)) && !sched_admits(sh, cmd, dbid, argc, argv);
}

void route_post(struct shard *sh, int to, const struct cmd_spec *cmd, int dbid, int argc,
                const struct sh_slice *argv)
{
    struct req *m = req_new(sh, to, cmd, dbid, 2, argc, argv);

    if (to == sh->id) {
        if (must_wait(sh, cmd, dbid, argc, m->argv)) {
            sched_wait(sh, m);
            return;
        }
        exec_req(sh, m);
        req_finish(sh, m);
        return;
    }
    shard_send(sh, to, m);
}

/* ---- coordinators ---- */

static void coord_free(struct coord *co)
{
    sh_free(co->txn_pairs);
    sh_free(co->txn_on);
    sh_free(co->parts);
    sh_free(co->next);
    sh_free(co->owner);
    sh_free(co->argv);
    sh_free(co);
}

void coord_send(struct coord *co, int to, const struct cmd_spec *cmd, int dbid, int argc,
                const struct sh_slice *argv)
{
    struct shard *sh = co->conn->sh;
    struct req *m = req_new(sh, to, cmd, dbid, co->part_proto, argc, argv);

    SH_ASSERT(co->next[to] == NULL);
    m->coord = co;
    m->part = to;
    m->client_id = co->client_id;
    /* a marker, so that a second part to one shard in a stage is caught;
     * a remote part's reply lands in parts[] once the stage is current */
    co->next[to] = m;
    if (co->txn_state == COORD_TXN_RUNNING) {
        m->txn_seq = co->txn_seq; /* its locks are held: it runs at once */
    }
    if (to == sh->id) {
        if (!m->txn_seq && must_wait(sh, cmd, dbid, argc, m->argv)) {
            co->pending++; /* answered through on_reply, like a remote part */
            co->conn->inflight++;
            sched_wait(sh, m);
            return;
        }
        exec_req(sh, m);
        return;
    }
    co->pending++;
    co->conn->inflight++;
    shard_send(sh, to, m);
}

static void txn_conclude(struct shard *sh, uint64_t seq, bool *on, int nparts,
                         struct held_reply *held);

/* A client's reply that waits until every shard has logged its part of the
 * transaction (the AOF): sent when the last CONCLUDE comes back DONE. */
struct held_reply {
    struct conn *conn;
    struct slot *slot;
    int pending;
};

static void held_reply_done(struct held_reply *h)
{
    if (--h->pending > 0) {
        return;
    }
    conn_slot_done(h->conn, h->slot);
    conn_request_done(h->conn);
    sh_free(h);
}

/* The shards a transaction ran on, for its AOF records: 0 for a read-only
 * command (nothing to make whole). */
static int txn_nparts(const struct coord *co, const bool *on)
{
    int n = 0;

    if (!on || (co->cmd->flags & CMD_READONLY) || co->txn_nowrite) {
        return 0;
    }
    for (int s = 0; s < co->nshards; s++) {
        n += on[s];
    }
    return n;
}
static void on_reply(struct shard *sh, struct req *m);

/* Makes the parts just issued the current stage: local ones already hold
 * their reply; remote ones are markers until their reply arrives. */
static void coord_next_stage(struct coord *co)
{
    struct shard *sh = co->conn->sh;
    struct req **tmp = co->parts;

    for (int i = 0; i < co->nshards; i++) {
        if (co->parts[i]) {
            req_finish(sh, co->parts[i]);
            co->parts[i] = NULL;
        }
    }
    co->parts = co->next;
    co->next = tmp;
    for (int i = 0; i < co->nshards; i++) {
        if (co->parts[i] && co->parts[i]->to != sh->id) {
            co->parts[i] = NULL; /* in flight: on_reply puts it back */
        }
    }
}

/* Runs the gather's merge whenever a stage has all its parts. */
static void coord_advance(struct coord *co)
{
    while (co->pending == 0) {
        struct reply r = { .buf = co->out, .proto = co->proto };
        bool fin = co->g->done(co, &r);

        coord_next_stage(co);
        co->stage++;
        if (co->parked) {
            SH_ASSERT(!fin && co->pending == 0);
            return; /* until coord_wake */
        }
        if (fin) {
            struct shard *sh = co->conn->sh;
            uint64_t seq = co->txn_seq;
            bool *on = co->txn_on;

            SH_ASSERT(co->pending == 0);
            coord_next_stage(co); /* frees local parts a final done() made */
            if (co->parent) {
                struct coord *parent = co->parent;

                shard_count_call(sh, co->cmd, co->t0, co->out->data + co->out_at,
                                 co->out->len - co->out_at);
                coord_free(co);
                if (--parent->pending == 0) {
                    coord_advance(parent);
                }
                return;
            }
            if (co->g->barrier) {
                conn_barrier_end(co->conn);
            }
            if (!co->uncounted) {
                int64_t us = shard_count_call(sh, co->cmd, co->t0, co->slot->buf.data,
                                              co->slot->buf.len);

                if (SH_UNLIKELY(us >= sh->diag_min_us)) {
                    diag_latency(sh, co->cmd, us);
                    diag_slowlog(sh, co->cmd, us, co->conn, co->argc, co->argv);
                }
            }
            int nparts = txn_nparts(co, on);
            struct held_reply *held = NULL;

            if (SH_UNLIKELY(sh->prop_on) && nparts >= 1 && !(nparts == 1 && on[sh->id])) {
                /* acknowledged only once every part is in its shard's log
                 * (a part elsewhere logs at its CONCLUDE) */
                held = sh_malloc(sizeof(*held));
                *held = (struct held_reply){ co->conn, co->slot, 1 };
                co->conn->inflight++;
            } else {
                conn_slot_done(co->conn, co->slot);
            }
            co->txn_on = NULL;
            coord_free(co);
            if (on) {
                /* last: releasing may run commands that waited for it */
                txn_conclude(sh, seq, on, nparts, held);
                sh_free(on);
            }
            if (held) {
                held_reply_done(held); /* the count's own 1 */
            }
            return;
        }
    }
}

void coord_park(struct coord *co)
{
    SH_ASSERT(co->txn_state == COORD_TXN_NONE); /* a transaction never waits holding locks */
    co->parked = true;
}

void coord_park_locked(struct coord *co)
{
    co->parked = true;
    co->conn->inflight++; /* the connection stays until coord_wake */
}

void coord_wake_locked(struct coord *co)
{
    co->conn->inflight--;
    coord_wake(co);
}

void coord_wake(struct coord *co)
{
    SH_ASSERT(co->parked && co->pending == 0);
    co->parked = false;
    coord_advance(co);
}

void coord_abandon(struct coord *co)
{
    SH_ASSERT(co->parked && co->pending == 0);
    /* not conn_barrier_end: that queues the connection to resume parsing,
     * and it is being freed */
    co->conn->flags &= ~CONN_BARRIER;
    co->slot->coord = NULL;
    coord_next_stage(co);
    coord_free(co);
}

/* Stage 0 on: the gather takes over. */
static void coord_run(struct coord *co)
{
    co->g->start(co);
    coord_next_stage(co);
    coord_advance(co);
}

/* ---- transactions: the coordinator's side (sched.h) ---- */

/* Releases transaction seq on every shard in on[] (clearing it). */
static void txn_conclude(struct shard *sh, uint64_t seq, bool *on, int nparts,
                         struct held_reply *held)
{
    bool here = false;

    for (int s = 0; s < sh->srv->nshards; s++) {
        if (!on[s]) {
            continue;
        }
        on[s] = false;
        if (s == sh->id) {
            here = true; /* last, as it may run what waited here */
            continue;
        }
        struct req *m = req_new(sh, s, NULL, 0, 2, 0, NULL);

        m->kind = REQ_CONCLUDE;
        m->txn_seq = seq;
        m->txn_nparts = nparts;
        m->held = held;
        if (held) {
            held->pending++;
        }
        shard_send(sh, s, m);
    }
    if (here) {
        if (SH_UNLIKELY(sh->prop_on)) {
            shard_hooks.prop_txn_end(sh, seq, nparts);
        }
        sched_conclude(sh, seq);
    }
}

static void txn_schedule(struct coord *co);

/* Every shard answered: run, or conclude and try again with a new number. */
static void txn_scheduled(struct coord *co)
{
    if (co->txn_refused) {
        txn_conclude(co->conn->sh, co->txn_seq, co->txn_on, 0, NULL);
        txn_schedule(co);
        return;
    }
    co->txn_state = COORD_TXN_RUNNING;
    coord_run(co);
}

static void txn_answer(struct shard *sh, struct req *m)
{
    struct coord *co = m->coord;
    struct conn *c = co->conn;

    if (m->txn_ok) {
        co->txn_on[m->part] = true;
    } else {
        co->txn_refused = true;
    }
    req_finish(sh, m);
    co->pending--;
    if (co->pending == 0) {
        txn_scheduled(co);
    }
    conn_request_done(c);
}

/* Queues one shard's part of the schedule: argv holds (mode, key) pairs. */
static void txn_send(struct coord *co, int to, int argc, const struct sh_slice *argv, bool all)
{
    struct shard *sh = co->conn->sh;
    struct req *m = req_new(sh, to, NULL, co->txn_pairs ? co->txn_db : co->dbid, 2, argc, argv);

    m->kind = REQ_SCHED;
    m->coord = co;
    m->part = to;
    m->txn_seq = co->txn_seq;
    m->txn_all = all;
    /* EXEC's own watches are checked by it, after this: its writes must not
     * count against them */
    m->client_id = co->uncounted ? co->client_id : 0;
    co->pending++;
    co->conn->inflight++;
    if (to == sh->id && SH_UNLIKELY(tracking_active(sh)) && !all) {
        tracking_note_locks(sh, argc, argv);
    }
    if (to != sh->id) {
        shard_send(sh, to, m);
    } else if (sched_enqueue(sh, m)) {
        /* answered at once; the count above keeps the round open until
         * every shard's part is sent */
        co->pending--;
        co->conn->inflight--;
        if (m->txn_ok) {
            co->txn_on[to] = true;
        } else {
            co->txn_refused = true;
        }
        req_finish(sh, m);
    }
}

static void txn_schedule(struct coord *co)
{
    struct shard *sh = co->conn->sh;
    int n = co->nshards;

    co->txn_seq = (uint64_t)mbox_counter_add(&((struct server *)sh->srv)->txn_seq, 1);
    co->txn_state = COORD_TXN_SCHEDULING;
    co->txn_refused = false;
    co->txn_rounds++;
    co->pending++; /* the round stays open until every part is sent */
    if (co->g->txn_all || co->txn_all) {
        for (int s = 0; s < n; s++) {
            txn_send(co, s, 0, NULL, true);
        }
    } else if (co->txn_pairs) {
        struct sh_slice *sub = sh_malloc(sizeof(*sub) * 2 * (size_t)co->txn_npairs);
        int *owner = sh_malloc(sizeof(int) * (size_t)co->txn_npairs);

        for (int i = 0; i < co->txn_npairs; i++) {
            uint64_t h;

            owner[i] =
                    shard_owner(n, co->txn_pairs[2 * i + 1].ptr, co->txn_pairs[2 * i + 1].len, &h);
        }
        for (int s = 0; s < n; s++) {
            int k = 0;

            for (int i = 0; i < co->txn_npairs; i++) {
                if (owner[i] == s) {
                    sub[k++] = co->txn_pairs[2 * i];
                    sub[k++] = co->txn_pairs[2 * i + 1];
                }
            }
            if (k) {
                txn_send(co, s, k, sub, false);
            }
        }
        sh_free(owner);
        sh_free(sub);
    } else {
        struct cmd_keys keys;
        struct sh_slice *sub = sh_malloc(sizeof(*sub) * 2 * (size_t)co->argc);
        int *owner = sh_malloc(sizeof(int) * (size_t)co->argc);
        int nkeys;

        cmd_keys_get(&keys, co->cmd, co->argc, co->argv);
        nkeys = keys.n;

        for (int i = 0; i < nkeys; i++) {
            uint64_t h;

            owner[i] = shard_owner(n, co->argv[keys.pos[i]].ptr, co->argv[keys.pos[i]].len, &h);
        }
        for (int s = 0; s < n; s++) {
            int k = 0;

            for (int i = 0; i < nkeys; i++) {
                if (owner[i] == s) {
                    sub[k++] = (keys.flags[i] & CMD_KEY_RO) ? (struct sh_slice){ "r", 1 }
                                                            : (struct sh_slice){ "w", 1 };
                    sub[k++] = co->argv[keys.pos[i]];
                }
            }
            if (k) {
                txn_send(co, s, k, sub, false);
            }
        }
        sh_free(owner);
        sh_free(sub);
        cmd_keys_free(&keys);
    }
    if (--co->pending == 0) {
        txn_scheduled(co);
    }
}

void route_sched_answer(struct shard *sh, struct req *m)
{
    if (m->from == sh->id) {
        txn_answer(sh, m);
        return;
    }
    m->kind = REQ_SCHED_DONE;
    shard_send(sh, m->from, m);
}

void route_run_waiting(struct shard *sh, struct req *m)
{
    exec_req(sh, m);
    if (m->from == sh->id) {
        on_reply(sh, m); /* a command of this core's own client */
        return;
    }
    m->kind = REQ_REPLY;
    shard_send(sh, m->from, m);
}

/* A coordinator for c's command (argv copied); no slot yet. */
static struct coord *coord_new(struct conn *c, const struct cmd_spec *cmd, const struct gather *g,
                               int dbid, int argc, const struct sh_slice *argv)
{
    struct coord *co = sh_calloc(1, sizeof(*co));

    co->conn = c;
    co->cmd = cmd;
    co->t0 = sh_mono_us();
    co->g = g;
    co->proto = c->proto;
    co->part_proto = 2;
    co->dbid = dbid;
    co->client_id = c->id;
    co->nshards = c->sh->srv->nshards;
    co->parts = sh_calloc((size_t)co->nshards, sizeof(*co->parts));
    co->next = sh_calloc((size_t)co->nshards, sizeof(*co->next));
    co->argc = argc;
    co->argv = sh_slices_dup(argc, argv);
    return co;
}

/* Gives co the client's next reply slot (and the barrier its gather asks). */
static void coord_take_slot(struct coord *co)
{
    co->slot = conn_slot_new(co->conn);
    co->slot->coord = co;
    co->out = &co->slot->buf;
    if (co->g->barrier) {
        conn_barrier_begin(co->conn);
    }
}

static void coord_start(struct conn *c, const struct cmd_spec *cmd, int argc,
                        const struct sh_slice *argv)
{
    struct coord *co = coord_new(c, cmd, cmd->gather, c->db, argc, argv);

    coord_take_slot(co);
    if (co->nshards > 1 &&
        (cmd->route == CMD_ROUTE_MULTI || cmd->route == CMD_ROUTE_KEY || co->g->txn_all)) {
        co->txn_on = sh_calloc((size_t)co->nshards, sizeof(*co->txn_on));
        txn_schedule(co);
        return;
    }
    coord_run(co);
}

void coord_start_txn(struct conn *c, const struct cmd_spec *cmd, const struct gather *g, void *ext,
                     int dbid, int npairs, const struct sh_slice *pairs, bool all)
{
    struct coord *co =
            coord_new(c, cmd, g, c->db, 1, &(struct sh_slice){ cmd->name, strlen(cmd->name) });
    size_t bytes = 0;
    char *p;

    co->ext = ext;
    co->uncounted = true;
    coord_take_slot(co);
    if (co->nshards == 1 || (npairs == 0 && !all)) {
        coord_run(co); /* one core runs it whole, or nothing to lock */
        return;
    }
    for (int i = 0; i < npairs * 2; i++) {
        bytes += pairs[i].len;
    }
    if (npairs > 0) {
        co->txn_pairs = sh_malloc(sizeof(struct sh_slice) * 2 * (size_t)npairs + bytes);
        p = (char *)(co->txn_pairs + 2 * npairs);
        for (int i = 0; i < npairs * 2; i++) {
            memcpy(p, pairs[i].ptr, pairs[i].len);
            co->txn_pairs[i] = (struct sh_slice){ p, pairs[i].len };
            p += pairs[i].len;
        }
    }
    co->txn_npairs = npairs;
    co->txn_db = dbid;
    co->txn_all = all;
    co->txn_on = sh_calloc((size_t)co->nshards, sizeof(*co->txn_on));
    txn_schedule(co);
}

void coord_retry_txn_all(struct coord *co)
{
    /* with one shard a script never leaves its core: nothing to retry */
    SH_ASSERT(co->txn_state == COORD_TXN_NONE && !co->parent && co->nshards > 1);
    co->txn_all = true;
    co->txn_on = sh_calloc((size_t)co->nshards, sizeof(*co->txn_on));
    txn_schedule(co);
}

void coord_start_child(struct coord *parent, const struct cmd_spec *cmd, int dbid, int argc,
                       const struct sh_slice *argv, struct rbuf *out)
{
    struct coord *co = coord_new(parent->conn, cmd, cmd->gather, dbid, argc, argv);

    co->parent = parent;
    co->out = out;
    co->out_at = out->len;
    co->nowait = true;
    co->txn_seq = parent->txn_seq;
    co->txn_state = parent->txn_state;
    /* one count for the child, one held across the run: a child that ends
     * at once must not advance the parent from inside its gather */
    parent->pending += 2;
    coord_run(co);
    parent->pending--;
}

/* ---- messages ---- */

static void on_reply(struct shard *sh, struct req *m)
{
    struct conn *c = m->coord ? m->coord->conn : m->conn;

    if (m->coord) {
        struct coord *co = m->coord;

        co->parts[m->part] = m;
        co->pending--;
        coord_advance(co);
    } else if (!c) {
        req_finish(sh, m); /* route_post: nobody waits for the reply */
        return;
    } else {
        struct slot *s = m->slot;

        if (SH_UNLIKELY(m->slow)) {
            diag_slowlog(sh, m->cmd, m->run_us, c, m->argc, m->argv);
        }
        /* at the head, the bytes can go straight to the output buffer
         * (unless CLIENT REPLY drops them) */
        rbuf_append(s == c->slot_head && !s->drop ? &c->out : &s->buf, m->reply.data, m->reply.len);
        conn_slot_done(c, s);
        req_finish(sh, m);
    }
    conn_request_done(c);
}

void route_on_message(struct shard *sh, struct req *m)
{
    if (m->kind == REQ_REPLY || m->kind == REQ_DONE || m->kind == REQ_SCHED_DONE) {
        sh->msgs_out--;
    }
    switch (m->kind) {
    case REQ_EXEC:
        if (!m->txn_seq && must_wait(sh, m->cmd, m->dbid, m->argc, m->argv)) {
            sched_wait(sh, m);
            break;
        }
        exec_req(sh, m);
        m->kind = REQ_REPLY;
        shard_send(sh, m->from, m);
        break;
    case REQ_REPLY:
        on_reply(sh, m);
        break;
    case REQ_RELEASE:
        /* the reply outgrew the inline area on our heap: free it here */
        rbuf_fini(&m->reply);
        m->kind = REQ_DONE;
        shard_send(sh, m->from, m);
        break;
    case REQ_DONE:
        if (m->held) {
            held_reply_done(m->held);
        }
        req_free(sh, m);
        break;
    case REQ_SCHED:
        if (SH_UNLIKELY(tracking_active(sh)) && !m->txn_all) {
            tracking_note_locks(sh, m->argc, m->argv);
        }
        if (sched_enqueue(sh, m)) {
            m->kind = REQ_SCHED_DONE;
            shard_send(sh, m->from, m);
        }
        break;
    case REQ_SCHED_DONE:
        txn_answer(sh, m);
        break;
    case REQ_CONCLUDE:
        if (SH_UNLIKELY(sh->prop_on)) {
            shard_hooks.prop_txn_end(sh, m->txn_seq, m->txn_nparts);
        }
        sched_conclude(sh, m->txn_seq);
        m->kind = REQ_DONE;
        shard_send(sh, m->from, m);
        break;
    default:
        sh_panic("corrupt mailbox message kind %d", m->kind);
    }
}

bool route_on_message_busy(struct shard *sh, struct req *m, const char *err)
{
    struct reply r = { .buf = &m->reply, .proto = m->proto };

    switch (m->kind) {
    case REQ_EXEC:
        /* a client's command sent here before the script went busy: it gets
         * -BUSY, as Redis answers what it reads while busy */
        if (m->txn_seq || m->coord || m->cmd->id <= 0 || (m->cmd->flags & CMD_ALLOW_BUSY)) {
            return false;
        }
        reply_error(&r, err);
        shard_count_error(sh, "-BUSY", 5);
        m->kind = REQ_REPLY;
        shard_send(sh, m->from, m);
        return true;
    case REQ_RELEASE:
    case REQ_DONE:
        route_on_message(sh, m); /* memory going home: nothing runs */
        return true;
    default:
        return false;
    }
}

/* ---- dispatch ---- */

static void reply_unknown(struct reply *r, int argc, const struct sh_slice *argv)
{
    char args[512];
    size_t n = 0;

    args[0] = '\0';
    for (int i = 1; i < argc && n < 128; i++) {
        int room = 128 - (int)n;
        int w = snprintf(args + n, sizeof(args) - n, "'%.*s' ",
                         (int)(argv[i].len < (size_t)room ? argv[i].len : (size_t)room),
                         argv[i].ptr);

        if (w > 0) {
            n += (size_t)w;
        }
    }
    reply_errorf(r, "ERR unknown command '%.*s', with args beginning with: %s",
                 (int)(argv[0].len < 128 ? argv[0].len : 128), argv[0].ptr, args);
}

/* A known command refused before it ran: INFO's rejected_calls. */
static const struct cmd_spec *rejected(struct conn *c, const struct cmd_spec *cmd)
{
    if (cmd->id > 0) {
        c->sh->cmdstats[cmd->id].rejected++;
    }
    return NULL;
}

/* RESP2's subscribed mode accepts only these. */
static bool allowed_when_subscribed(const struct cmd_spec *cmd)
{
    static const char *const ok[] = { "subscribe",    "unsubscribe", "psubscribe",
                                      "punsubscribe", "ssubscribe",  "sunsubscribe",
                                      "ping",         "quit",        "reset" };

    for (size_t i = 0; i < SH_ARRAY_LEN(ok); i++) {
        if (!strcmp(cmd->fullname, ok[i])) {
            return true;
        }
    }
    return false;
}

/* Whether in[0..len) is lower (a command's lower-case name) in any case. */
static inline bool name_is(const char *in, size_t len, const char *lower)
{
    for (size_t i = 0; i < len; i++) {
        unsigned char ch = (unsigned char)in[i];

        ch = (unsigned char)(ch + ((unsigned)(ch - 'A') < 26u ? 'a' - 'A' : 0));
        if (ch != (unsigned char)lower[i]) {
            return false;
        }
    }
    return true;
}

/* The top-level command argv[0] names: a client mostly repeats its last
 * one, compared before the table is looked up (a command has one name: no
 * rename-command). */
static const struct cmd_spec *lookup_top(struct conn *c, const struct sh_slice *name)
{
    const struct cmd_spec *cmd = c->last_top;

    if (cmd && name->len == c->last_top_len && name_is(name->ptr, name->len, cmd->name)) {
        return cmd;
    }
    cmd = cmdtab_lookup(name->ptr, name->len);
    if (cmd) {
        c->last_top = cmd;
        c->last_top_len = name->len;
    }
    return cmd;
}

/* Resolves the command (and subcommand) or writes the error. */
static const struct cmd_spec *resolve(struct conn *c, int argc, const struct sh_slice *argv)
{
    const struct cmd_spec *cmd = lookup_top(c, &argv[0]);
    enum acl_verdict verdict;
    struct reply r;
    int bad = 0;
    const char *gate_err;

    if (!cmd) {
        r = conn_reply(c);
        reply_unknown(&r, argc, argv);
        shard_count_error(c->sh, "-ERR", 4);
        return NULL;
    }
    if (cmd->nsubcmds && argc >= 2) {
        const struct cmd_spec *sub = cmdtab_lookup_sub(cmd, argv[1].ptr, argv[1].len);

        if (!sub) {
            char up[64];
            size_t i;

            for (i = 0; cmd->name[i] && i < sizeof(up) - 1; i++) {
                up[i] = (char)(cmd->name[i] >= 'a' && cmd->name[i] <= 'z' ? cmd->name[i] - 32
                                                                          : cmd->name[i]);
            }
            up[i] = '\0';
            r = conn_reply(c);
            reply_errorf(&r, "ERR unknown subcommand '%.*s'. Try %s HELP.",
                         (int)(argv[1].len < 128 ? argv[1].len : 128), argv[1].ptr, up);
            shard_count_error(c->sh, "-ERR", 4);
            return NULL;
        }
        cmd = sub;
    }
    if ((cmd->arity > 0 && argc != cmd->arity) || argc < -cmd->arity) {
        r = conn_reply(c);
        reply_err_arity(&r, cmd->fullname);
        shard_count_error(c->sh, "-ERR", 4);
        return rejected(c, cmd);
    }
    if (!(c->flags & CONN_AUTHED) && !(cmd->flags & CMD_NO_AUTH)) {
        r = conn_reply(c);
        reply_error(&r, "NOAUTH Authentication required.");
        shard_count_error(c->sh, "-NOAUTH", 7);
        return rejected(c, cmd);
    }
    /* the server's own client may run anything, and so may a primary's stream */
    verdict = (c->flags & (CONN_INTERNAL | CONN_MASTER))
                      ? ACL_OK
                      : acl_check_at(c->user, cmd, argc, argv, &bad);
    if (verdict != ACL_OK) {
        char msg[160];

        acl_log_denied(c, verdict, cmd, argv, bad, acl_log_context_of(c));
        acl_denied_message(verdict, cmd, msg, sizeof(msg));
        r = conn_reply(c);
        reply_error(&r, msg);
        shard_count_error(c->sh, "-NOPERM", 7);
        return rejected(c, cmd);
    }
    if (SH_UNLIKELY(mbox_counter_get((struct mbox_counter *)&c->sh->srv->save_failed)) &&
        ((cmd->flags & CMD_WRITE) || !strcmp(cmd->fullname, "ping")) &&
        c->sh->cfg.stop_writes_on_bgsave_error && c->sh->cfg.save[0]) {
        /* stop-writes-on-bgsave-error, as Redis (PING too) */
        r = conn_reply(c);
        reply_error(&r, ROUTE_MISCONF_ERR);
        shard_count_error(c->sh, "-MISCONF", 8);
        return rejected(c, cmd);
    }
    if (SH_UNLIKELY(mbox_counter_get((struct mbox_counter *)&c->sh->srv->repl_gate)) &&
        !(c->flags & (CONN_MASTER | CONN_INTERNAL)) &&
        (gate_err = shard_gate_refusal(
                 mbox_counter_get((struct mbox_counter *)&c->sh->srv->repl_gate), cmd->flags))) {
        r = conn_reply(c);
        reply_error(&r, gate_err + 1);
        shard_count_error(c->sh, gate_err, strlen(gate_err));
        return rejected(c, cmd);
    }
    if (c->proto == 2 && c->ps && !allowed_when_subscribed(cmd) && pubsub_conn_count(c)) {
        r = conn_reply(c);
        reply_errorf(&r,
                     "ERR Can't execute '%s': only (P|S)SUBSCRIBE / (P|S)UNSUBSCRIBE / PING / "
                     "QUIT / RESET are allowed in this context",
                     cmd->fullname);
        shard_count_error(c->sh, "-ERR", 4);
        return rejected(c, cmd);
    }
    return cmd;
}

int route_keys_owner(const struct shard *sh, const struct cmd_spec *cmd, int argc,
                     const struct sh_slice *argv, uint64_t *hash, bool *has_hash)
{
    int stack[MAX_STACK_KEYS];
    int *pos = stack, nkeys, owner = -2, n = sh->srv->nshards;

    if (has_hash) {
        *has_hash = false;
    }
    nkeys = cmdtab_get_keys(cmd, argv, argc, 0, pos, MAX_STACK_KEYS);
    if (n == 1) {
        /* one owner: only the hash the caller keeps is worth computing (the
         * first key's position is in pos whatever the count) */
        if (nkeys > 0 && has_hash && pos[0] == 1) {
            *hash = kdict_hash(argv[1].ptr, argv[1].len);
            *has_hash = true;
        }
        return nkeys > 0 ? 0 : -2;
    }
    if (nkeys > MAX_STACK_KEYS) {
        pos = sh_malloc(sizeof(int) * (size_t)nkeys);
        nkeys = cmdtab_get_keys(cmd, argv, argc, 0, pos, nkeys);
    }
    for (int i = 0; i < nkeys; i++) {
        uint64_t h;
        int o = shard_owner(n, argv[pos[i]].ptr, argv[pos[i]].len, &h);

        if (has_hash && pos[i] == 1 && !*has_hash) {
            *hash = h;
            *has_hash = true;
        }
        if (owner == -2) {
            owner = o;
        } else if (o != owner) {
            owner = -1;
            break;
        }
    }
    if (pos != stack) {
        sh_free(pos);
    }
    return owner;
}

enum route_plan route_plan(const struct shard *sh, const struct cmd_spec *cmd, int argc,
                           const struct sh_slice *argv, int *owner)
{
    uint64_t h;

    *owner = sh->id;
    switch (cmd->route) {
    case CMD_ROUTE_CONN:
        /* one with a gather (a script) is a coordinator of its own */
        return cmd->gather ? ROUTE_PLAN_CHILD : ROUTE_PLAN_HERE;
    case CMD_ROUTE_ALL:
        return sh->srv->nshards == 1 && !cmd->gather->always ? ROUTE_PLAN_HERE : ROUTE_PLAN_CHILD;
    case CMD_ROUTE_CHANNEL:
        *owner = shard_owner(sh->srv->nshards, argv[1].ptr, argv[1].len, &h);
        return *owner == sh->id ? ROUTE_PLAN_HERE : ROUTE_PLAN_PART;
    default:
        *owner = route_keys_owner(sh, cmd, argc, argv, NULL, NULL);
        if (*owner == -1) {
            return cmd->gather ? ROUTE_PLAN_CHILD : ROUTE_PLAN_CROSS;
        }
        if (*owner < 0) {
            *owner = sh->id;
        }
        return *owner == sh->id ? ROUTE_PLAN_HERE : ROUTE_PLAN_PART;
    }
}

void route_exec_into(struct shard *sh, struct conn *c, const struct cmd_spec *cmd, int dbid,
                     int argc, const struct sh_slice *argv, struct rbuf *out, int proto)
{
    struct cmd_ctx ctx = {
        .cmd = cmd,
        .argc = argc,
        .argv = argv,
        .r = { .buf = out, .proto = proto },
        .shard = sh,
        .db = shard_db(sh, dbid),
        .dbid = dbid,
        .conn = c,
        .client_id = c ? c->id : 0,
        .nested = true,
    };
    int64_t t0 = sh->clock_us;
    size_t at = out->len;

    if (may_run(sh, cmd, &ctx.r)) {
        cmd->proc(&ctx);
        note_error_unchanged(&ctx, out, at);
        if (!ctx.unchanged) {
            shard_prop(sh, cmd, dbid, argc, argv, out->data + at, out->len - at);
        }
    } else {
        ctx.unchanged = true; /* -OOM */
    }
    if ((cmd->flags & CMD_WRITE) && !ctx.unchanged) {
        shard_note_dirty(sh, out->data + at, out->len - at);
        if (SH_UNLIKELY(sh->nwatched) && !ctx.touched_own) {
            route_note_write(sh, cmd, dbid, argc, argv);
        }
    }
    if (SH_UNLIKELY(tracking_active(sh))) {
        tracking_after(sh, cmd, argc, argv, ctx.client_id, out->data + at, out->len - at);
    }
    shard_count_call(sh, cmd, t0, out->data + at, out->len - at);
}

/* A script is busy somewhere (shard.h): Redis's processCommand answers
 * -BUSY to what is not allow-busy; in MULTI that dooms EXEC. Also refused:
 * SHUTDOWN without NOSAVE, and FUNCTION STATS during an EVAL script. */
static bool refuse_busy(struct conn *c, const struct cmd_spec *cmd, int argc,
                        const struct sh_slice *argv)
{
    const char *err = shard_busy_error(c->sh->srv);
    bool allowed = (cmd->flags & CMD_ALLOW_BUSY) != 0;
    struct reply r;

    if (err == NULL) {
        return false;
    }
    if (allowed && !strcmp(cmd->fullname, "shutdown")) {
        allowed = false;
        for (int i = 1; i < argc; i++) {
            allowed |= sh_slice_eq_nocase(argv[i], "NOSAVE");
        }
    } else if (allowed && !strcmp(cmd->fullname, "function|stats")) {
        allowed = strstr(err, "FUNCTION KILL") != NULL;
    }
    if (allowed) {
        return false;
    }
    r = conn_reply(c);
    rejected(c, cmd);
    if (!strcmp(cmd->fullname, "exec")) {
        /* Redis's rejectCommand: EXEC is aborted, its transaction discarded */
        reply_errorf(&r, "EXECABORT Transaction discarded because of: %s", err);
        shard_count_error(c->sh, "-EXECABORT", 10);
        if (c->multi && route_hooks.gone) {
            route_hooks.gone(c);
        }
        return true;
    }
    reply_error(&r, err);
    shard_count_error(c->sh, "-BUSY", 5);
    if (c->multi && route_hooks.refused) {
        route_hooks.refused(c);
    }
    return true;
}

void route_dispatch(struct conn *c, int argc, const struct sh_slice *argv)
{
    const struct cmd_spec *cmd = resolve(c, argc, argv);
    uint64_t hash = 0;
    bool has_hash = false;
    int owner;

    if (!cmd) {
        /* resolve wrote the error and counted it; in MULTI it dooms EXEC */
        if (SH_UNLIKELY(c->multi) && route_hooks.refused) {
            route_hooks.refused(c);
        }
        return;
    }
    if (c->last_cmd_spec != cmd) {
        /* CLIENT LIST's cmd=: copied when it changes, not per command (a
         * snprintf per request was 1.3 % of a -P 16 profile) */
        size_t n = strlen(cmd->fullname);

        n = n < sizeof(c->last_cmd) - 1 ? n : sizeof(c->last_cmd) - 1;
        memcpy(c->last_cmd, cmd->fullname, n);
        c->last_cmd[n] = '\0';
        c->last_cmd_spec = cmd;
    }
    if (SH_UNLIKELY(mbox_counter_get(&((struct server *)c->sh->srv)->busy) != 0) &&
        refuse_busy(c, cmd, argc, argv)) {
        return;
    }
    if (SH_UNLIKELY(tracking_dispatching(c->sh))) {
        tracking_before(c, cmd, argc, argv); /* CLIENT CACHING's next command */
    }
    if (SH_UNLIKELY(c->multi) && route_hooks.queue) {
        if (route_hooks.queue(c, cmd, argc, argv)) {
            /* queued for EXEC (or refused in MULTI); a write makes CLIENT
             * PAUSE WRITE hold the EXEC, as in Redis */
            if (cmd->flags & (CMD_WRITE | CMD_MAY_REPLICATE)) {
                c->flags |= CONN_MULTI_WRITE;
            }
            return;
        }
        c->flags &= ~CONN_MULTI_WRITE; /* EXEC, DISCARD: the transaction ends */
    }
    if (monitor_active(c->sh)) {
        monitor_feed(c, cmd, argc, argv);
    }
    switch (cmd->route) {
    case CMD_ROUTE_CONN:
        exec_local(c, cmd, argc, argv, 0, false);
        return;
    case CMD_ROUTE_ALL:
        if (c->sh->srv->nshards == 1 && !cmd->gather->always) {
            exec_local(c, cmd, argc, argv, 0, false);
        } else {
            coord_start(c, cmd, argc, argv);
        }
        return;
    case CMD_ROUTE_CHANNEL:
        owner = shard_owner(c->sh->srv->nshards, argv[1].ptr, argv[1].len, &hash);
        if (owner == c->sh->id) {
            exec_local(c, cmd, argc, argv, 0, false);
        } else {
            send_single(c, owner, cmd, argc, argv, 0, false);
        }
        return;
    case CMD_ROUTE_KEY:
    case CMD_ROUTE_MULTI:
        owner = route_keys_owner(c->sh, cmd, argc, argv, &hash, &has_hash);
        if (owner == -1) {
            if (cmd->gather) {
                coord_start(c, cmd, argc, argv);
            } else {
                struct reply r = conn_reply(c);

                reply_error(&r, "CROSSSLOT Keys in request don't hash to the same slot");
            }
        } else if (owner < 0 || owner == c->sh->id) {
            if (must_wait(c->sh, cmd, c->db, argc, argv)) {
                wait_local(c, cmd, argc, argv, hash, has_hash);
            } else {
                exec_local(c, cmd, argc, argv, hash, has_hash);
            }
        } else {
            send_single(c, owner, cmd, argc, argv, hash, has_hash);
        }
        return;
    case CMD_ROUTE_NONE:
    default:
        sh_panic("command %s bound without a route", cmd->fullname);
    }
}
