/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * replica.c: the replica's side (see replica.h): REPLICAOF / SLAVEOF, what
 * shard 0 does for the link thread (replica_link.c), INFO and ROLE.
 *
 * The link thread talks to the primary with blocking sockets. It hands the
 * primary's stream, whole commands (a MULTI/EXEC block whole), to a client
 * connection on shard 0 flagged CONN_MASTER through a socketpair: the
 * connection parses and routes it as any client's, so commands reach their
 * owner shards and transactions run atomically; its replies are off. What
 * the thread needs from shard 0 goes in messages (struct rmsg) on a queue
 * under the lock, with an eventfd that shard 0's ring polls as the doorbell:
 *
 *   primary --TCP--> link thread --socketpair--> CONN_MASTER conn (shard 0)
 *                          |                         --> owner shards
 *                          +--queue+eventfd--> shard 0: FEED (the hub: offset,
 *                                              backlog, our replicas), LOAD,
 *                                              NEWID, CONN
 *
 * A full sync: the thread writes the RDB to a file, posts LOAD and waits;
 * once the master connection has nothing left of the old stream, shard 0
 * renames the file to dbfilename and runs a transaction over every shard
 * whole in which each empties its databases and loads its keys, then sets
 * the hub's id and offset to the primary's; only then does the thread write
 * the new stream. Offsets: the hub counts every byte fed; the thread feeds
 * only whole commands (and whole transactions), and shard 0 feeds a piece to
 * the hub only once the master connection ran every command in it to its
 * end (conn_input_applied), so that the offset (ROLE, INFO, REPLCONF ACK:
 * what WAIT counts) says what is applied; after a loss the thread asks for
 * PSYNC <id> <hub offset + 1> once shard 0 took all it posted.
 *
 * REPLICAOF runs on every shard whole (a transaction): each sets its copy
 * of `replicaof` (CONFIG REWRITE) and stops or restores its active expiry
 * (a replica's keys expire by the primary's DELs); shard 0 also moves the
 * hub (follow / promote), the READONLY gate and the link.
 *
 * Threading: g.rep's (L) fields under its lock, any core; the rest of g is
 * shard 0's, but saved_expire/expire_off[i] which shard i alone touches.
 */
#include "shardis/replica.h"

#include "replica_internal.h"
#include "shardis/cmd.h"
#include "shardis/conn.h"
#include "shardis/log.h"
#include "shardis/mbox.h"
#include "shardis/persist.h"
#include "shardis/repl.h"
#include "shardis/reply.h"
#include "shardis/route.h"
#include "shardis/shard.h"
#include "shardis/util.h"

#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

/* A full sync's file, waiting for the master connection to be idle. */
struct pending_load {
    uint64_t gen;
    long long offset;
    char replid[41];
    char path[256];
};

static struct {
    struct replica *rep;
    int nshards;
    bool *expire_off;   /* [shard]: this layer turned its active expiry off */
    bool *saved_expire; /* [shard]: its active_expire_off before */
    bool *init_done;    /* [shard]: its first cron ran */
    /* shard 0's */
    bool started;
    bool bell_armed;
    struct shard_io bell_io;
    struct rlink *link; /* the running link, NULL: none */
    struct rlink *dead; /* links told to stop, joined once they ended */
    uint64_t conn_id;   /* the CONN_MASTER connection, 0: none */
    struct pending_load load;
    bool load_pending, load_running;
    /* messages taken from the thread, not yet run (a FEED waits for the
     * master connection to apply it) */
    struct rmsg *pend, **pend_tail;
    uint64_t in_fed; /* the master connection's input bytes fed to the hub */
} g;

/* ---- small helpers ---- */

bool replica_active(const struct server *srv)
{
    bool on;

    (void)srv;
    if (!g.rep) {
        return false;
    }
    pthread_mutex_lock(&g.rep->lock);
    on = g.rep->host[0] != '\0';
    pthread_mutex_unlock(&g.rep->lock);
    return on;
}

/* The master connection on shard 0, or NULL (killed, or none). */
static struct conn *master_conn(struct shard *sh0)
{
    if (!g.conn_id) {
        return NULL;
    }
    for (struct conn *c = sh0->conns; c; c = c->next) {
        if (c->id == g.conn_id) {
            return (c->flags & CONN_CLOSING) ? NULL : c;
        }
    }
    g.conn_id = 0;
    return NULL;
}

/* READONLY while a replica with replica-read-only, and MASTERDOWN while
 * its link is not streaming with replica-serve-stale-data no (shard 0 alone
 * changes these bits, at each cron and change). */
static void gate_update(struct shard *sh0)
{
    struct mbox_counter *gw = (struct mbox_counter *)&sh0->srv->repl_gate;
    bool active = replica_active(sh0->srv);
    long want = (active && sh0->cfg.replica_read_only ? SHARD_GATE_READONLY : 0);
    long cur = mbox_counter_get(gw);

    if (active && !sh0->cfg.replica_serve_stale_data) {
        pthread_mutex_lock(&g.rep->lock);
        if (g.rep->state != REPLICA_S_CONNECTED) {
            want |= SHARD_GATE_STALE;
        }
        pthread_mutex_unlock(&g.rep->lock);
    }
    for (;;) {
        long nv = (cur & ~(long)(SHARD_GATE_READONLY | SHARD_GATE_STALE)) | want;

        if (nv == cur || mbox_word_cas(gw, &cur, nv)) {
            return;
        }
    }
}

/* A replica expires nothing itself; DEBUG SET-ACTIVE-EXPIRE's setting comes
 * back after REPLICAOF NO ONE. This shard only. */
static void expire_follow(struct shard *sh, bool replica)
{
    int i = sh->id;

    if (replica && !g.expire_off[i]) {
        g.saved_expire[i] = sh->active_expire_off;
        sh->active_expire_off = true;
        g.expire_off[i] = true;
    } else if (!replica && g.expire_off[i]) {
        sh->active_expire_off = g.saved_expire[i];
        g.expire_off[i] = false;
    }
}

/* ---- the thread's messages (any thread posts, shard 0 takes) ---- */

void replica_post(struct replica *rep, struct rlink *l, struct rmsg *m)
{
    uint64_t one = 1;

    m->next = NULL;
    m->gen = l->gen;
    pthread_mutex_lock(&rep->lock);
    if (rep->tail) {
        rep->tail->next = m;
    } else {
        rep->head = m;
    }
    rep->tail = m;
    l->sent++;
    pthread_mutex_unlock(&rep->lock);
    if (write(rep->bell_fd, &one, sizeof(one)) < 0 && errno != EAGAIN) {
        sh_log(LOG_WARNING, "Replication: the doorbell failed: %s", strerror(errno));
    }
}

/* A new socketpair and its CONN_MASTER connection; the other end goes to
 * l's thread. The old connection, if any, is closed. */
static void make_conn(struct shard *sh0, struct rlink *l)
{
    struct conn *old = master_conn(sh0), *c;
    int sp[2];

    if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sp) != 0) {
        sh_log(LOG_WARNING, "Replication: socketpair: %s", strerror(errno));
        return;
    }
    if (old) {
        conn_close(old);
    }
    g.conn_id = 0;
    c = conn_accept(sh0, sp[0]);
    if (!c) {
        close(sp[1]);
        return;
    }
    /* the primary's commands: no reply, no ACL, never READONLY (route.c) */
    c->flags |= CONN_MASTER | CONN_REPLY_OFF;
    conn_set_authed(c, true);
    snprintf(c->addr, sizeof(c->addr), "%.40s:%d", l->host, l->port);
    g.conn_id = c->id;
    g.in_fed = 0;
    pthread_mutex_lock(&g.rep->lock);
    if (l->pair_fd >= 0) {
        close(l->pair_fd); /* one the thread never took */
    }
    l->pair_fd = sp[1];
    pthread_cond_broadcast(&g.rep->cond);
    pthread_mutex_unlock(&g.rep->lock);
}

/* ---- full sync: flush and load on every shard ---- */

static void cmd_loadpart(struct cmd_ctx *ctx)
{
    char err[512];

    if (persist_load_here(ctx->shard, err, sizeof(err)) != 0) {
        sh_log(LOG_WARNING, "%s", err);
        reply_errorf(&ctx->r, "ERR %s", err);
        return;
    }
    reply_ok(&ctx->r);
}

static const struct cmd_spec spec_loadpart = {
    .name = "__replicaload", .fullname = "__replicaload", .arity = 1, .proc = cmd_loadpart
};

static void load_start(struct coord *co)
{
    struct sh_slice argv[1] = { { "__replicaload", 13 } };

    for (int i = 0; i < co->nshards; i++) {
        coord_send(co, i, &spec_loadpart, 0, 1, argv);
    }
}

static bool load_done(struct coord *co, struct reply *r)
{
    struct shard *sh0 = co->conn->sh;
    uint64_t gen = (uint64_t)(uintptr_t)co->ext;
    struct sh_slice err = coord_first_error(co);
    struct rlink *l = g.link;

    g.load_running = false;
    if (l && l->gen == gen) {
        if (!err.len) {
            repl_hub_reset(sh0, g.load.replid, g.load.offset);
            sh_log(LOG_NOTICE, "MASTER <-> REPLICA sync: Finished with success");
        } else {
            sh_log(LOG_WARNING,
                   "Failed trying to load the MASTER synchronization DB from disk: %.*s",
                   (int)(err.len > 2 ? err.len - 2 : 0), err.ptr);
        }
        pthread_mutex_lock(&g.rep->lock);
        l->load = err.len ? RLOAD_FAIL : RLOAD_OK;
        pthread_cond_broadcast(&g.rep->cond);
        pthread_mutex_unlock(&g.rep->lock);
    }
    reply_ok(r);
    return true;
}

static const struct gather gather_load = {
    .start = load_start,
    .done = load_done,
    .always = true,
    .txn_all = true,
};

/* Nothing of the old stream is left to run on the master connection. */
static bool conn_idle(struct conn *c)
{
    int unread = 0;

    if (c->q.len || c->inflight || c->slot_head || (c->flags & CONN_BARRIER)) {
        return false;
    }
    return ioctl(c->fd, FIONREAD, &unread) != 0 || unread == 0;
}

static void load_answer(int state)
{
    pthread_mutex_lock(&g.rep->lock);
    if (g.link && g.link->gen == g.load.gen) {
        g.link->load = state;
    }
    pthread_cond_broadcast(&g.rep->cond);
    pthread_mutex_unlock(&g.rep->lock);
}

/* Starts the waiting load once the old stream is all applied (the cron
 * tries again). */
static void try_load(struct shard *sh0)
{
    struct conn *c;

    if (!g.load_pending || g.load_running) {
        return;
    }
    if (!g.link || g.link->gen != g.load.gen) {
        unlink(g.load.path);
        g.load_pending = false;
        return;
    }
    c = master_conn(sh0);
    if ((c && !conn_idle(c)) || persist_snap_running(sh0->srv)) {
        return;
    }
    g.load_pending = false;
    if (rename(g.load.path, sh0->cfg.dbfilename) != 0) {
        sh_log(LOG_WARNING,
               "Failed trying to rename the temp DB into %s in MASTER <-> REPLICA "
               "synchronization: %s",
               sh0->cfg.dbfilename, strerror(errno));
        unlink(g.load.path);
        load_answer(RLOAD_FAIL);
        return;
    }
    sh_log(LOG_NOTICE, "MASTER <-> REPLICA sync: Flushing old data");
    sh_log(LOG_NOTICE, "MASTER <-> REPLICA sync: Loading DB in memory");
    g.load_running = true;
    persist_load_stats_reset(sh0);
    coord_start_txn(conn_internal(sh0), &spec_loadpart, &gather_load, (void *)(uintptr_t)g.load.gen,
                    0, 0, NULL, true);
}

/* Runs the waiting messages in order. A FEED waits until the master
 * connection c ran its bytes to their end (the hub's offset, INFO's
 * slave_repl_offset and REPLCONF ACK count what is applied, not what was
 * received); without c (killed) it goes at once. feeds_only: stop at the
 * first message that is not a FEED (the caller is inside c's processing)
 * and ring the doorbell for it. */
static void run_messages(struct shard *sh0, struct conn *c, bool feeds_only)
{
    struct rmsg *m, *done = NULL, **dtail = &done;
    uint64_t fed = 0;

    while ((m = g.pend) != NULL) {
        struct rlink *l = g.link;

        if (l && m->gen == l->gen) {
            if (m->kind == RMSG_FEED && c) {
                if (conn_input_applied(c) < g.in_fed + m->len) {
                    break;
                }
                g.in_fed += m->len;
            } else if (m->kind != RMSG_FEED && feeds_only) {
                uint64_t one = 1;

                if (write(g.rep->bell_fd, &one, sizeof(one)) < 0 && errno != EAGAIN) {
                    sh_log(LOG_WARNING, "Replication: ringing the doorbell: %s", strerror(errno));
                }
                break;
            }
            fed++;
            switch (m->kind) {
            case RMSG_FEED:
                repl_hub_feed(sh0, m->data, m->len);
                break;
            case RMSG_LOAD:
                g.load.gen = m->gen;
                g.load.offset = m->offset;
                memcpy(g.load.replid, m->replid, sizeof(g.load.replid));
                snprintf(g.load.path, sizeof(g.load.path), "%s", m->data);
                g.load_pending = true;
                break;
            case RMSG_NEWID: {
                struct repl_ids ids;

                repl_get_ids(sh0->srv, &ids);
                repl_hub_reset(sh0, m->replid, ids.offset);
                break;
            }
            case RMSG_CONN:
                make_conn(sh0, l);
                c = master_conn(sh0);
                break;
            default:
                break;
            }
        }
        g.pend = m->next;
        if (!g.pend) {
            g.pend_tail = &g.pend;
        }
        m->next = NULL;
        *dtail = m;
        dtail = &m->next;
    }
    if (done || fed) {
        pthread_mutex_lock(&g.rep->lock);
        *dtail = g.rep->used;
        g.rep->used = done;
        if (g.link) {
            g.link->fed += fed;
        }
        pthread_cond_broadcast(&g.rep->cond);
        pthread_mutex_unlock(&g.rep->lock);
    }
}

/* Takes every waiting message, in order, and runs what may run. */
static void take_messages(struct shard *sh0)
{
    struct rmsg *m;

    pthread_mutex_lock(&g.rep->lock);
    m = g.rep->head;
    g.rep->head = g.rep->tail = NULL;
    pthread_mutex_unlock(&g.rep->lock);
    *g.pend_tail = m;
    while (*g.pend_tail) {
        g.pend_tail = &(*g.pend_tail)->next;
    }
    run_messages(sh0, master_conn(sh0), false);
    try_load(sh0);
}

/* conn_repl_hooks.applied: the master connection ran a command. */
static void on_applied(struct conn *c)
{
    if (g.pend && c->sh->id == 0 && c->id == g.conn_id) {
        run_messages(c->sh, c, true);
    }
}

static void arm_bell(struct shard *sh0);

static void on_bell(struct shard *sh, struct shard_io *io, int res)
{
    uint64_t v;

    (void)io;
    (void)res;
    g.bell_armed = false;
    if (read(g.rep->bell_fd, &v, sizeof(v)) < 0 && errno != EAGAIN) {
        sh_log(LOG_WARNING, "Replication: reading the doorbell: %s", strerror(errno));
    }
    take_messages(sh);
    if (!sh->stopping) {
        arm_bell(sh);
    }
}

static void arm_bell(struct shard *sh0)
{
    struct io_uring_sqe *sqe;

    if (g.bell_armed) {
        return;
    }
    g.bell_io.done = on_bell;
    sqe = shard_get_sqe(sh0);
    io_uring_prep_poll_add(sqe, g.rep->bell_fd, POLLIN);
    io_uring_sqe_set_data64(sqe, shard_io_data(&g.bell_io));
    g.bell_armed = true;
}

/* ---- the link's life (shard 0) ---- */

static void start_link(struct shard *sh0)
{
    struct rlink *l = sh_calloc(1, sizeof(*l));
    const struct config *cfg = &sh0->cfg;
    int rc;

    l->rep = g.rep;
    l->srv = sh0->srv;
    l->pair_fd = -1;
    pthread_mutex_lock(&g.rep->lock);
    l->gen = g.rep->gen;
    snprintf(l->host, sizeof(l->host), "%s", g.rep->host);
    l->port = g.rep->port;
    g.rep->state = REPLICA_S_CONNECT;
    pthread_mutex_unlock(&g.rep->lock);
    l->auth = cfg->masterauth[0] ? sh_strdup(cfg->masterauth) : NULL;
    l->user = cfg->masteruser[0] ? sh_strdup(cfg->masteruser) : NULL;
    l->my_port = (int)(cfg->replica_announce_port ? cfg->replica_announce_port : cfg->port);
    snprintf(l->announce_ip, sizeof(l->announce_ip), "%s", cfg->replica_announce_ip);
    l->timeout_s = cfg->repl_timeout > 0 ? cfg->repl_timeout : 60;
    l->loglevel = cfg->loglevel;
    g.link = l;
    make_conn(sh0, l);
    rc = rlink_start(l);
    if (rc != 0) {
        sh_log(LOG_WARNING, "Replication: the link thread did not start: %s", strerror(-rc));
        l->exited = true;
        l->next_dead = g.dead;
        g.dead = l;
        g.link = NULL;
    }
}

/* The running link ends (its thread sees stop); the master connection
 * closes. */
static void stop_link(struct shard *sh0)
{
    struct rlink *l = g.link;
    struct conn *c = master_conn(sh0);

    if (c) {
        run_messages(sh0, c, true); /* what it applied counts */
        conn_close(c);
    }
    g.conn_id = 0;
    if (!l) {
        return;
    }
    pthread_mutex_lock(&g.rep->lock);
    l->stop = true;
    pthread_cond_broadcast(&g.rep->cond);
    pthread_mutex_unlock(&g.rep->lock);
    l->next_dead = g.dead;
    g.dead = l;
    g.link = NULL;
    if (g.load_pending) {
        unlink(g.load.path);
        g.load_pending = false;
    }
}

/* Joins the stopped links whose threads ended. */
static void reap_dead(bool wait)
{
    for (struct rlink **pp = &g.dead; *pp;) {
        struct rlink *l = *pp;
        bool exited;

        pthread_mutex_lock(&g.rep->lock);
        exited = l->exited;
        pthread_mutex_unlock(&g.rep->lock);
        if (!exited && !wait) {
            pp = &l->next_dead;
            continue;
        }
        if (l->thread_ok) {
            pthread_join(l->thread, NULL);
        }
        *pp = l->next_dead;
        rlink_free(l);
    }
}

/* ---- REPLICAOF ---- */

static void set_cfg_replicaof(struct shard *sh, const char *v)
{
    sh_free(sh->cfg.replicaof);
    sh->cfg.replicaof = sh_strdup(v);
}

/* Shard 0's part: the hub, the gate, the link. */
static void apply_on_shard0(struct cmd_ctx *ctx, bool no_one, const char *host, int port)
{
    struct shard *sh0 = ctx->shard;
    struct replica *rep = g.rep;
    bool was, same, was_up;

    pthread_mutex_lock(&rep->lock);
    was = rep->host[0] != '\0';
    was_up = rep->state == REPLICA_S_CONNECTED;
    same = was && !no_one && strcasecmp(rep->host, host) == 0 && rep->port == port;
    pthread_mutex_unlock(&rep->lock);
    if (same) {
        sh_log(LOG_NOTICE, "REPLICAOF would result into synchronization with the master we are "
                           "already connected with. No operation performed.");
        reply_status(&ctx->r, "OK Already connected to specified master");
        return;
    }
    if (no_one && !was) {
        reply_ok(&ctx->r);
        return;
    }
    stop_link(sh0);
    pthread_mutex_lock(&rep->lock);
    rep->gen++;
    if (no_one) {
        rep->host[0] = '\0';
        rep->port = 0;
        rep->state = REPLICA_S_NONE;
        rep->down_since_ms = 0;
    } else {
        snprintf(rep->host, sizeof(rep->host), "%s", host);
        rep->port = port;
        rep->state = REPLICA_S_CONNECT;
        if (was_up) {
            rep->down_since_ms = sh_time_ms();
        }
    }
    pthread_mutex_unlock(&rep->lock);
    if (no_one) {
        repl_hub_promote(sh0);
        sh_log(LOG_NOTICE, "MASTER MODE enabled (user request from 'id=%llu')",
               (unsigned long long)ctx->client_id);
    } else {
        if (!was) {
            repl_hub_follow(sh0);
        }
        sh_log(LOG_NOTICE, "REPLICAOF %s:%d enabled (user request from 'id=%llu')", host, port,
               (unsigned long long)ctx->client_id);
        sh_log(LOG_NOTICE, "Connecting to MASTER %s:%d", host, port);
        start_link(sh0);
    }
    gate_update(sh0);
    reply_ok(&ctx->r);
}

/* REPLICAOF host port | NO ONE, on every shard (one transaction). */
static void cmd_replicaof(struct cmd_ctx *ctx)
{
    struct shard *sh = ctx->shard;
    struct sh_slice h = ctx->argv[1], p = ctx->argv[2];
    bool no_one = sh_slice_eq_nocase(h, "no") && sh_slice_eq_nocase(p, "one");
    char host[256], val[300];
    long long port = 0;

    if (!no_one) {
        if (!util_str2ll(p.ptr, p.len, &port) || port < 0 || port > 65535) {
            reply_error(&ctx->r, "ERR Invalid master port");
            return;
        }
        if (h.len == 0 || h.len >= sizeof(host) || memchr(h.ptr, ' ', h.len) ||
            memchr(h.ptr, '\n', h.len) || memchr(h.ptr, '\r', h.len)) {
            reply_error(&ctx->r, "ERR Invalid master host");
            return;
        }
        memcpy(host, h.ptr, h.len);
        host[h.len] = '\0';
        snprintf(val, sizeof(val), "%s %lld", host, port);
    } else {
        host[0] = '\0';
        val[0] = '\0';
    }
    if (sh->id != 0) {
        /* shard 0 may answer "Already connected": the same value then */
        set_cfg_replicaof(sh, val);
        expire_follow(sh, !no_one);
        reply_ok(&ctx->r);
        return;
    }
    set_cfg_replicaof(sh, val);
    expire_follow(sh, !no_one);
    apply_on_shard0(ctx, no_one, host, (int)port);
}

/* Shard 0's answer ("+OK" or "+OK Already connected ..."), or an error. */
static bool done_replicaof(struct coord *co, struct reply *r)
{
    struct sh_slice e = coord_first_error(co), p0 = coord_part(co, 0);

    if (e.len) {
        reply_raw(r, e.ptr, e.len);
    } else if (p0.len > 3 && p0.ptr[0] == '+') {
        reply_raw(r, p0.ptr, p0.len);
    } else {
        reply_ok(r);
    }
    return true;
}

static const struct gather gather_replicaof = {
    .start = coord_start_fanout,
    .done = done_replicaof,
    .always = true,
    .txn_all = true,
};

void replica_bind(void)
{
    cmd_must_bind("replicaof", cmd_replicaof, CMD_ROUTE_ALL, &gather_replicaof);
    cmd_must_bind("slaveof", cmd_replicaof, CMD_ROUTE_ALL, &gather_replicaof);
}

/* ---- INFO and ROLE ---- */

static const char *state_name(int st)
{
    switch (st) {
    case REPLICA_S_CONNECT:
        return "connect";
    case REPLICA_S_CONNECTING:
        return "connecting";
    case REPLICA_S_HANDSHAKE:
        return "handshake";
    case REPLICA_S_SYNC:
        return "sync";
    case REPLICA_S_CONNECTED:
        return "connected";
    default:
        return "none";
    }
}

void replica_info(struct shard *sh, struct rbuf *out)
{
    struct replica *rep = g.rep;
    struct replica snap;
    struct repl_ids ids;
    int64_t now = sh_time_ms();

    pthread_mutex_lock(&rep->lock);
    memcpy(snap.host, rep->host, sizeof(snap.host));
    snap.port = rep->port;
    snap.state = rep->state;
    snap.last_io_ms = rep->last_io_ms;
    snap.down_since_ms = rep->down_since_ms;
    snap.read_off = rep->read_off;
    snap.xfer_size = rep->xfer_size;
    snap.xfer_read = rep->xfer_read;
    snap.xfer_last_ms = rep->xfer_last_ms;
    pthread_mutex_unlock(&rep->lock);
    repl_get_ids(sh->srv, &ids);
    rbuf_line(out, "role:slave");
    rbuf_line(out, "master_host:%s", snap.host);
    rbuf_line(out, "master_port:%d", snap.port);
    rbuf_line(out, "master_link_status:%s", snap.state == REPLICA_S_CONNECTED ? "up" : "down");
    rbuf_line(out, "master_last_io_seconds_ago:%d",
              snap.state == REPLICA_S_CONNECTED ? (int)((now - snap.last_io_ms) / 1000) : -1);
    rbuf_line(out, "master_sync_in_progress:%d", snap.state == REPLICA_S_SYNC);
    rbuf_line(out, "slave_read_repl_offset:%lld",
              snap.read_off > ids.offset ? snap.read_off : ids.offset);
    rbuf_line(out, "slave_repl_offset:%lld", ids.offset);
    if (snap.state == REPLICA_S_SYNC) {
        rbuf_line(out, "master_sync_total_bytes:%lld", snap.xfer_size);
        rbuf_line(out, "master_sync_read_bytes:%lld", snap.xfer_read);
        rbuf_line(out, "master_sync_left_bytes:%lld", snap.xfer_size - snap.xfer_read);
        rbuf_line(out, "master_sync_perc:%.2f",
                  snap.xfer_size > 0 ? (double)snap.xfer_read * 100 / (double)snap.xfer_size : 0.0);
        rbuf_line(out, "master_sync_last_io_seconds_ago:%d",
                  (int)((now - snap.xfer_last_ms) / 1000));
    }
    if (snap.state != REPLICA_S_CONNECTED) {
        rbuf_line(out, "master_link_down_since_seconds:%lld",
                  snap.down_since_ms ? (long long)((now - snap.down_since_ms) / 1000) : -1LL);
    }
    rbuf_line(out, "slave_priority:%lld", sh->cfg.replica_priority);
    rbuf_line(out, "slave_read_only:%lld", sh->cfg.replica_read_only);
    rbuf_line(out, "replica_announced:%lld", sh->cfg.replica_announced);
}

void replica_role(struct cmd_ctx *ctx)
{
    struct replica *rep = g.rep;
    struct repl_ids ids;
    char host[256];
    int port, st;

    pthread_mutex_lock(&rep->lock);
    memcpy(host, rep->host, sizeof(host));
    port = rep->port;
    st = rep->state;
    pthread_mutex_unlock(&rep->lock);
    repl_get_ids(ctx->shard->srv, &ids);
    reply_array(&ctx->r, 5);
    reply_bulk_cstr(&ctx->r, "slave");
    reply_bulk_cstr(&ctx->r, host);
    reply_int(&ctx->r, port);
    reply_bulk_cstr(&ctx->r, state_name(st));
    reply_int(&ctx->r, st == REPLICA_S_CONNECTED ? ids.offset : -1);
}

/* ---- the loop ---- */

void replica_cron(struct shard *sh)
{
    if (!g.rep) {
        return;
    }
    if (!g.init_done[sh->id]) {
        g.init_done[sh->id] = true;
        if (replica_active(sh->srv)) {
            expire_follow(sh, true); /* `replicaof` in the config */
        }
    }
    if (sh->id != 0) {
        return;
    }
    if (!g.started) {
        g.started = true;
        if (replica_active(sh->srv)) {
            repl_hub_follow(sh);
            sh_log(LOG_NOTICE, "Connecting to MASTER %s:%d", g.rep->host, g.rep->port);
            start_link(sh);
        }
    }
    if (!sh->stopping) {
        arm_bell(sh);
    }
    take_messages(sh);
    reap_dead(false);
    gate_update(sh);
}

/* ---- set-up ---- */

/* `replicaof host port` at start: 0, or -1 when it does not parse. */
static int parse_start(struct replica *rep, const char *v)
{
    char host[256];
    long long port;
    const char *sp = strchr(v, ' ');

    if (!sp || (size_t)(sp - v) >= sizeof(host) || sp == v ||
        !util_str2ll(sp + 1, strlen(sp + 1), &port) || port < 0 || port > 65535) {
        return -1;
    }
    memcpy(host, v, (size_t)(sp - v));
    host[sp - v] = '\0';
    snprintf(rep->host, sizeof(rep->host), "%s", host);
    rep->port = (int)port;
    return 0;
}

void replica_init(struct server *srv)
{
    struct replica *rep = sh_calloc(1, sizeof(*rep));

    pthread_mutex_init(&rep->lock, NULL);
    pthread_cond_init(&rep->cond, NULL);
    rep->bell_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    if (rep->bell_fd < 0) {
        sh_panic("replication: eventfd: %s", strerror(errno));
    }
    g.rep = rep;
    g.pend_tail = &g.pend;
    conn_repl_hooks.applied = on_applied;
    g.nshards = srv->nshards;
    g.expire_off = sh_calloc((size_t)srv->nshards, sizeof(bool));
    g.saved_expire = sh_calloc((size_t)srv->nshards, sizeof(bool));
    g.init_done = sh_calloc((size_t)srv->nshards, sizeof(bool));
    if (srv->cfg.replicaof && srv->cfg.replicaof[0]) {
        if (parse_start(rep, srv->cfg.replicaof) != 0) {
            sh_log(LOG_WARNING, "replicaof '%s': not 'host port'; ignored", srv->cfg.replicaof);
        } else {
            struct mbox_counter *gw = (struct mbox_counter *)&srv->repl_gate;

            rep->gen = 1;
            rep->state = REPLICA_S_CONNECT;
            if (srv->cfg.replica_read_only) {
                mbox_counter_set(gw, mbox_counter_get(gw) | SHARD_GATE_READONLY);
            }
        }
    }
}

void replica_fini(struct server *srv)
{
    struct replica *rep = g.rep;

    (void)srv;
    if (!rep) {
        return;
    }
    if (g.link) {
        pthread_mutex_lock(&rep->lock);
        g.link->stop = true;
        pthread_cond_broadcast(&rep->cond);
        pthread_mutex_unlock(&rep->lock);
        g.link->next_dead = g.dead;
        g.dead = g.link;
        g.link = NULL;
    }
    reap_dead(true);
    if (g.load_pending) {
        unlink(g.load.path);
    }
    for (struct rmsg *lists[3] = { rep->head, rep->used, g.pend }, **pl = lists; pl < lists + 3;
         pl++) {
        while (*pl) {
            struct rmsg *m = *pl;

            *pl = m->next;
            sh_free(m);
        }
    }
    close(rep->bell_fd);
    pthread_cond_destroy(&rep->cond);
    pthread_mutex_destroy(&rep->lock);
    sh_free(rep);
    sh_free(g.expire_off);
    sh_free(g.saved_expire);
    sh_free(g.init_done);
    memset(&g, 0, sizeof(g));
}
