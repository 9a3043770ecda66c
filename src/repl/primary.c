/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * primary.c: a replica's connection on the core that accepted it (see
 * repl.h): REPLCONF, PSYNC and SYNC, and what the hub posts to it: the
 * +FULLRESYNC line, the snapshot's file (sent in pieces as the socket
 * drains), the stream (held back until the file is out), +CONTINUE.
 */
#include "repl_internal.h"
#include "shardis/cmd.h"
#include "shardis/conn.h"
#include "shardis/crc64.h"
#include "shardis/log.h"
#include "shardis/replica.h"
#include "shardis/reply.h"
#include "shardis/route.h"
#include "shardis/shard.h"
#include "shardis/util.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define RDB_PIECE (1u << 20) /* bytes of the file read per drained send */

enum link_state {
    L_HANDSHAKE = 0, /* REPLCONF seen, no PSYNC yet */
    L_WAIT_FULL,     /* asked the hub; nothing sent yet */
    L_WAIT_RDB,      /* +FULLRESYNC sent; the snapshot is being written */
    L_SEND_RDB,      /* the file goes out */
    L_WAIT_ACK,      /* diskless: all out; the stream starts at its first ACK */
    L_ONLINE,
};

/* A replica's connection (c->repl), on its core. */
struct rlink {
    struct rlink *next;
    struct conn *c;
    uint64_t conn_id;
    int slot; /* in the server-wide table, -1: none */
    int state;
    int port;         /* REPLCONF listening-port */
    char ip[64];      /* REPLCONF ip-address, else the peer's address */
    bool old_sync;    /* SYNC: no +FULLRESYNC line */
    struct rbuf held; /* the stream while the file is not all queued */
    int rdb_fd;
    long long rdb_left;
    /* a diskless sync: the $EOF mark, whether its header went out, chunks
     * that came before it, the chunk bytes so far and in all (-1: not known
     * yet), the CRC-64 of what went out */
    char eofmark[40];
    bool dl, dl_hdr, dl_checksum;
    struct rbuf dl_early;
    long long dl_got, dl_total;
    long long dl_queued; /* taken since the socket last drained (repl.h's dl_unsent) */
    uint64_t dl_crc;
};

struct pcore {
    struct rlink *links;
};

static struct pcore *g_cores; /* [shard], each touched by its own core */

static void set_slot_state(struct conn *c, struct rlink *l, int st)
{
    if (l->slot >= 0) {
        mbox_counter_set(&repl_of(c->sh->srv)->slots[l->slot].state, st);
    }
}

static struct rlink *link_of(struct conn *c)
{
    struct rlink *l = c->repl;

    if (!l) {
        struct pcore *pc = &g_cores[c->sh->id];
        const char *colon;

        l = sh_calloc(1, sizeof(*l));
        l->c = c;
        l->conn_id = c->id;
        l->slot = -1;
        l->rdb_fd = -1;
        l->dl_total = -1;
        rbuf_init(&l->held);
        rbuf_init(&l->dl_early);
        /* the peer's address without its port */
        colon = strrchr(c->addr, ':');
        snprintf(l->ip, sizeof(l->ip), "%.*s",
                 colon ? (int)(colon - c->addr) : (int)strlen(c->addr), c->addr);
        l->next = pc->links;
        pc->links = l;
        c->repl = l;
    }
    return l;
}

static void dl_sent(struct conn *c, struct rlink *l);

static void link_gone(struct conn *c)
{
    struct rlink *l = c->repl;
    struct pcore *pc = &g_cores[c->sh->id];
    struct repl *r = repl_of(c->sh->srv);

    for (struct rlink **pp = &pc->links; *pp; pp = &(*pp)->next) {
        if (*pp == l) {
            *pp = l->next;
            break;
        }
    }
    if (l->slot >= 0) {
        char num[24];
        struct sh_slice argv[2] = { { "__repldrop", 10 },
                                    { num, util_ll2str(num, (long long)l->conn_id) } };
        extern const struct cmd_spec primary_spec_drop;

        sh_log(LOG_NOTICE, "Connection with replica %s:%d lost.", l->ip, l->port);
        mbox_counter_set(&r->slots[l->slot].used, 0);
        route_post(c->sh, 0, &primary_spec_drop, 0, 2, argv);
    }
    if (l->rdb_fd >= 0) {
        close(l->rdb_fd);
    }
    dl_sent(c, l);
    rbuf_fini(&l->held);
    rbuf_fini(&l->dl_early);
    c->repl = NULL;
    sh_free(l);
}

/* The snapshot is all queued: the stream held meanwhile follows, and the
 * replica is online. */
static void go_online(struct conn *c, struct rlink *l, struct reply *rp)
{
    rbuf_append(rp->buf, l->held.data, l->held.len);
    rbuf_fini(&l->held);
    rbuf_init(&l->held);
    l->state = L_ONLINE;
    mbox_counter_set(&repl_of(c->sh->srv)->slots[l->slot].ack_ms, sh_time_ms());
    set_slot_state(c, l, REPL_R_ONLINE);
    sh_log(LOG_NOTICE, "Synchronization with replica %s:%d succeeded", l->ip, l->port);
}

/* Queues the next piece of the file (the socket drained); at its end the
 * stream held meanwhile follows and the replica is online. */
static void feed_rdb(struct conn *c)
{
    struct rlink *l = c->repl;
    struct reply r, *rp;

    if (!l || l->state != L_SEND_RDB || l->dl || !(rp = conn_push_begin(c, &r))) {
        return; /* a diskless sync's bytes come from the shards */
    }
    if (l->rdb_left > 0) {
        size_t want = l->rdb_left < (long long)RDB_PIECE ? (size_t)l->rdb_left : RDB_PIECE;
        char *dst;
        ssize_t got;

        rbuf_reserve(rp->buf, want);
        dst = rp->buf->data + rp->buf->len;
        got = read(l->rdb_fd, dst, want);
        if (got <= 0) {
            sh_log(LOG_WARNING, "Replication: reading the snapshot for a replica failed");
            conn_close(c);
            return;
        }
        rp->buf->len += (size_t)got;
        l->rdb_left -= got;
    }
    if (l->rdb_left == 0) {
        close(l->rdb_fd);
        l->rdb_fd = -1;
        go_online(c, l, rp);
    }
    conn_push_end(c);
}

/* A diskless sync's bytes: out now once the header went, else kept. */
static void dl_put(struct conn *c, struct rlink *l, const char *p, size_t n)
{
    struct reply r, *rp;

    l->dl_queued += (long long)n;
    if (!l->dl_hdr) {
        rbuf_append(&l->dl_early, p, n);
        return;
    }
    if (l->dl_checksum) {
        l->dl_crc = crc64(l->dl_crc, p, n);
    }
    if ((rp = conn_push_begin(c, &r))) {
        rbuf_append(rp->buf, p, n);
        conn_push_end(c);
    }
}

/* Every chunk of a diskless sync went out: EOF, the CRC-64, the mark, then
 * the stream held meanwhile. */
static void dl_maybe_end(struct conn *c, struct rlink *l)
{
    struct reply r, *rp;
    unsigned char tail[9];

    if (!l->dl_hdr || l->dl_total < 0 || l->dl_got < l->dl_total || l->state != L_SEND_RDB) {
        return;
    }
    tail[0] = 0xff; /* RDB_OPCODE_EOF */
    l->dl_crc = l->dl_checksum ? crc64(l->dl_crc, tail, 1) : 0;
    for (int i = 0; i < 8; i++) {
        tail[1 + i] = (unsigned char)(l->dl_crc >> (8 * i));
    }
    if ((rp = conn_push_begin(c, &r))) {
        rbuf_append(rp->buf, tail, sizeof(tail));
        rbuf_append(rp->buf, l->eofmark, sizeof(l->eofmark));
        conn_push_end(c);
    }
    /* as Redis: the replica finds the mark at the end of what it read, so
     * nothing may follow it before the replica says it loaded (its ACK) */
    l->state = L_WAIT_ACK;
}

/* A diskless sync's bytes went out: the shards may serialize more. */
static void dl_sent(struct conn *c, struct rlink *l)
{
    if (l->dl_queued) {
        mbox_counter_add(&repl_of(c->sh->srv)->dl_unsent, -(long)l->dl_queued);
        l->dl_queued = 0;
    }
}

static void on_drained(struct conn *c)
{
    dl_sent(c, c->repl);
    feed_rdb(c);
}

/* ---- the hub's messages, on the replica's core ---- */

/* __replmsg <conn id> <kind> <bytes> */
static void cmd_replmsg(struct cmd_ctx *ctx)
{
    struct pcore *pc = &g_cores[ctx->shard->id];
    long long id = 0, kind = 0;
    struct sh_slice b = ctx->argv[3];
    struct rlink *l;
    struct reply r, *rp;

    util_str2ll(ctx->argv[1].ptr, ctx->argv[1].len, &id);
    util_str2ll(ctx->argv[2].ptr, ctx->argv[2].len, &kind);
    reply_ok(&ctx->r);
    for (l = pc->links; l && l->conn_id != (uint64_t)id; l = l->next) {
    }
    if (!l || (l->c->flags & CONN_CLOSING)) {
        if (kind == REPL_MSG_CHUNK) {
            /* never to be sent */
            mbox_counter_add(&repl_of(ctx->shard->srv)->dl_unsent, -(long)b.len);
        }
        if (kind == REPL_MSG_RDB) {
            close(atoi(b.ptr)); /* "<fd> <size>": the file is ours to close */
        }
        return;
    }
    switch (kind) {
    case REPL_MSG_FULL:
        l->state = L_WAIT_RDB;
        if (!l->old_sync && (rp = conn_push_begin(l->c, &r))) {
            rbuf_append(rp->buf, b.ptr, b.len);
            conn_push_end(l->c);
        }
        break;
    case REPL_MSG_RDB: {
        char tmp[64];
        long long size = 0;
        int fd;

        snprintf(tmp, sizeof(tmp), "%.*s", (int)(b.len < 63 ? b.len : 63), b.ptr);
        fd = atoi(tmp);
        size = strtoll(strchr(tmp, ' ') ? strchr(tmp, ' ') + 1 : "0", NULL, 10);
        l->rdb_fd = fd;
        l->rdb_left = size;
        l->state = L_SEND_RDB;
        set_slot_state(l->c, l, REPL_R_SEND_BULK);
        if ((rp = conn_push_begin(l->c, &r))) {
            char hdr[32];
            int n = snprintf(hdr, sizeof(hdr), "$%lld\r\n", size);

            rbuf_append(rp->buf, hdr, (size_t)n);
            conn_push_end(l->c);
        }
        feed_rdb(l->c);
        break;
    }
    case REPL_MSG_FEED:
        if (l->state == L_ONLINE) {
            if ((rp = conn_push_begin(l->c, &r))) {
                rbuf_append(rp->buf, b.ptr, b.len);
                conn_push_end(l->c);
            }
        } else {
            const struct config_cobl *lim = &ctx->shard->cfg.cobl[CONFIG_COBL_REPLICA];

            rbuf_append(&l->held, b.ptr, b.len);
            if (lim->hard && (long long)l->held.len >= lim->hard) {
                sh_log(LOG_WARNING,
                       "Replica %s:%d: the stream held during its sync passed "
                       "client-output-buffer-limit; closing it",
                       l->ip, l->port);
                conn_close(l->c);
            }
        }
        break;
    case REPL_MSG_DLHDR:
        if (b.len < 41 || l->state != L_WAIT_RDB) {
            conn_close(l->c);
            break;
        }
        memcpy(l->eofmark, b.ptr, 40);
        l->dl = true;
        l->dl_checksum = b.ptr[40] == '1';
        l->state = L_SEND_RDB;
        set_slot_state(l->c, l, REPL_R_SEND_BULK);
        if ((rp = conn_push_begin(l->c, &r))) {
            rbuf_append(rp->buf, "$EOF:", 5);
            rbuf_append(rp->buf, l->eofmark, 40);
            rbuf_append(rp->buf, "\r\n", 2);
            conn_push_end(l->c);
        }
        l->dl_hdr = true;
        l->dl_crc = 0;
        dl_put(l->c, l, b.ptr + 41, b.len - 41);
        if (l->dl_early.len) {
            dl_put(l->c, l, l->dl_early.data, l->dl_early.len);
            rbuf_fini(&l->dl_early);
            rbuf_init(&l->dl_early);
        }
        dl_maybe_end(l->c, l);
        break;
    case REPL_MSG_CHUNK:
        if (l->state != L_WAIT_FULL && l->state != L_WAIT_RDB && l->state != L_SEND_RDB) {
            mbox_counter_add(&repl_of(ctx->shard->srv)->dl_unsent, -(long)b.len);
            break;
        }
        l->dl_got += (long long)b.len;
        dl_put(l->c, l, b.ptr, b.len);
        dl_maybe_end(l->c, l);
        break;
    case REPL_MSG_DLEND:
        if (b.len < 1 || b.ptr[0] != '1') {
            sh_log(LOG_WARNING, "Diskless sync of replica %s:%d failed", l->ip, l->port);
            conn_close(l->c);
            break;
        }
        {
            char num[32];

            snprintf(num, sizeof(num), "%.*s", (int)(b.len < 31 ? b.len : 31), b.ptr);
            l->dl_total = strtoll(num + (b.len > 2 ? 2 : 1), NULL, 10);
        }
        dl_maybe_end(l->c, l);
        break;
    case REPL_MSG_CONT:
        l->state = L_ONLINE;
        mbox_counter_set(&repl_of(ctx->shard->srv)->slots[l->slot].ack_ms, sh_time_ms());
        set_slot_state(l->c, l, REPL_R_ONLINE);
        if ((rp = conn_push_begin(l->c, &r))) {
            rbuf_append(rp->buf, b.ptr, b.len);
            conn_push_end(l->c);
        }
        break;
    default:
        conn_close(l->c);
        break;
    }
}

static const struct cmd_spec spec_replmsg = {
    .name = "__replmsg", .fullname = "__replmsg", .arity = 4, .proc = cmd_replmsg
};

void primary_post(struct shard *sh, int core, uint64_t conn_id, int kind, const char *p, size_t n)
{
    char a[24], k[24];
    struct sh_slice argv[4] = { { "__replmsg", 9 },
                                { a, util_ll2str(a, (long long)conn_id) },
                                { k, util_ll2str(k, kind) },
                                { p, n } };

    route_post(sh, core, &spec_replmsg, 0, 4, argv);
}

/* __repldrop <conn id>: on the hub. */
static void cmd_repldrop(struct cmd_ctx *ctx)
{
    long long id = 0;

    util_str2ll(ctx->argv[1].ptr, ctx->argv[1].len, &id);
    hub_drop(ctx->shard, (uint64_t)id);
    reply_ok(&ctx->r);
}

const struct cmd_spec primary_spec_drop = {
    .name = "__repldrop", .fullname = "__repldrop", .arity = 2, .proc = cmd_repldrop
};

/* __replsync <conn id> <core> <replid> <offset>: on the hub. */
static void cmd_replsync(struct cmd_ctx *ctx)
{
    long long id = 0, core = 0, off = 0;

    util_str2ll(ctx->argv[1].ptr, ctx->argv[1].len, &id);
    util_str2ll(ctx->argv[2].ptr, ctx->argv[2].len, &core);
    if (!util_str2ll(ctx->argv[4].ptr, ctx->argv[4].len, &off)) {
        off = -1;
    }
    hub_sync_request(ctx->shard, (uint64_t)id, (int)core, ctx->argv[3], off);
    reply_ok(&ctx->r);
}

static const struct cmd_spec spec_replsync = {
    .name = "__replsync", .fullname = "__replsync", .arity = 5, .proc = cmd_replsync
};

/* ---- the commands ---- */

static bool arg_eq(const struct cmd_ctx *ctx, int i, const char *w)
{
    return sh_slice_eq_nocase(ctx->argv[i], w);
}

/* REPLCONF <option> <value> ...: Redis's; ACK (and GETACK) get no reply. */
static void cmd_replconf(struct cmd_ctx *ctx)
{
    struct conn *c = ctx->conn;

    if (ctx->argc % 2 == 0) {
        reply_err_syntax(&ctx->r);
        return;
    }
    for (int i = 1; i < ctx->argc; i += 2) {
        if (arg_eq(ctx, i, "listening-port")) {
            long long port;

            if (!util_str2ll(ctx->argv[i + 1].ptr, ctx->argv[i + 1].len, &port)) {
                reply_err_notint(&ctx->r);
                return;
            }
            link_of(c)->port = (int)port;
        } else if (arg_eq(ctx, i, "ip-address")) {
            struct sh_slice v = ctx->argv[i + 1];

            snprintf(link_of(c)->ip, sizeof(link_of(c)->ip), "%.*s", (int)(v.len < 63 ? v.len : 63),
                     v.ptr);
        } else if (arg_eq(ctx, i, "ack") || arg_eq(ctx, i, "fack")) {
            struct rlink *l = c->repl;
            long long off;

            /* a replica's acknowledgement: no reply, as Redis */
            if (arg_eq(ctx, i, "ack") && l && l->slot >= 0 &&
                util_str2ll(ctx->argv[i + 1].ptr, ctx->argv[i + 1].len, &off)) {
                struct repl_slot *s = &repl_of(ctx->shard->srv)->slots[l->slot];
                struct reply r, *rp;

                if (l->state == L_WAIT_ACK && (rp = conn_push_begin(c, &r))) {
                    go_online(c, l, rp); /* a diskless sync was loaded */
                    conn_push_end(c);
                }
                if (off > mbox_counter_get(&s->ack)) {
                    mbox_counter_set(&s->ack, (long)off);
                }
                mbox_counter_set(&s->ack_ms, sh_time_ms());
            }
            if (i + 2 >= ctx->argc) {
                return;
            }
        } else if (arg_eq(ctx, i, "getack")) {
            return; /* only a primary's: the replica's side answers it */
        } else if (arg_eq(ctx, i, "capa") || arg_eq(ctx, i, "rdb-only") ||
                   arg_eq(ctx, i, "rdb-filter-only")) {
            /* eof / psync2: the snapshot goes as a file of known length,
             * which every replica takes */
        } else {
            reply_errorf(&ctx->r, "ERR Unrecognized REPLCONF option: %.*s",
                         (int)(ctx->argv[i].len < 128 ? ctx->argv[i].len : 128), ctx->argv[i].ptr);
            return;
        }
    }
    reply_ok(&ctx->r);
}

/* PSYNC <replid> <offset> / SYNC: the connection becomes a replica's; the
 * hub answers (+CONTINUE, or +FULLRESYNC and the snapshot). */
static void start_sync(struct cmd_ctx *ctx, struct sh_slice replid, struct sh_slice off, bool old)
{
    struct conn *c = ctx->conn;
    struct repl *r = repl_of(ctx->shard->srv);
    struct rlink *l;
    int slot = -1;

    if (c->flags & CONN_REPLICA) {
        return; /* already one: ignored, as Redis */
    }
    pthread_mutex_lock(&r->lock);
    for (int i = 0; i < REPL_MAX_REPLICAS; i++) {
        if (!mbox_counter_get(&r->slots[i].used)) {
            slot = i;
            break;
        }
    }
    if (slot >= 0) {
        struct repl_slot *s = &r->slots[slot];

        l = link_of(c);
        snprintf(s->ip, sizeof(s->ip), "%s", l->ip);
        s->port = l->port;
        mbox_counter_set(&s->ack, 0);
        mbox_counter_set(&s->ack_ms, sh_time_ms());
        mbox_counter_set(&s->state, REPL_R_WAIT_BGSAVE);
        mbox_counter_set(&s->used, 1);
    }
    pthread_mutex_unlock(&r->lock);
    if (slot < 0) {
        reply_error(&ctx->r, "ERR shardis: too many replicas");
        return;
    }
    l->slot = slot;
    l->state = L_WAIT_FULL;
    l->old_sync = old;
    c->flags |= CONN_REPLICA;
    sh_log(LOG_NOTICE, "Replica %s:%d asks for synchronization", l->ip, l->port);
    {
        char a[24], b[24];
        struct sh_slice argv[5] = { { "__replsync", 10 },
                                    { a, util_ll2str(a, (long long)c->id) },
                                    { b, util_ll2str(b, ctx->shard->id) },
                                    replid,
                                    off };

        route_post(ctx->shard, 0, &spec_replsync, 0, 5, argv);
    }
    /* no reply now: the hub's message writes it */
}

static void cmd_psync(struct cmd_ctx *ctx)
{
    start_sync(ctx, ctx->argv[1], ctx->argv[2], false);
}

static void cmd_sync(struct cmd_ctx *ctx)
{
    start_sync(ctx, (struct sh_slice){ "?", 1 }, (struct sh_slice){ "-1", 2 }, true);
}

/* Each core's cron: a replica that acknowledged nothing for repl-timeout
 * seconds is gone (Redis's "Disconnecting timedout replica"). */
void primary_cron(struct shard *sh)
{
    struct repl *r = repl_of(sh->srv);

    for (struct rlink *l = g_cores[sh->id].links, *next; l; l = next) {
        next = l->next; /* closing may free l */
        if (l->state == L_ONLINE && l->slot >= 0 && !(l->c->flags & CONN_CLOSING) &&
            sh->now_ms - mbox_counter_get(&r->slots[l->slot].ack_ms) >
                    sh->cfg.repl_timeout * 1000) {
            sh_log(LOG_WARNING, "Disconnecting timedout replica (streaming sync): %s:%d", l->ip,
                   l->port);
            conn_close(l->c);
        }
    }
}

void primary_bind(void)
{
    cmd_must_bind("replconf", cmd_replconf, CMD_ROUTE_CONN, NULL);
    cmd_must_bind("psync", cmd_psync, CMD_ROUTE_CONN, NULL);
    cmd_must_bind("sync", cmd_sync, CMD_ROUTE_CONN, NULL);
}

void primary_init(struct server *srv)
{
    g_cores = sh_calloc((size_t)srv->nshards, sizeof(*g_cores));
    conn_repl_hooks.drained = on_drained;
    conn_repl_hooks.gone = link_gone;
}

void primary_fini(struct server *srv)
{
    (void)srv;
    sh_free(g_cores);
    g_cores = NULL;
}
