/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * conn.c: client connections (see conn.h for reply order and lifetime).
 *
 * Back-pressure: a connection stops parsing while it has MAX_INFLIGHT
 * requests at other shards or OUT_PAUSE bytes of unsent output, and resumes
 * (through the shard's resume list) when replies return or a send completes.
 * Once a paused connection holds READ_STOP bytes of unparsed input, its
 * multishot recv is cancelled, so the kernel's socket buffer (and then TCP
 * flow control) holds the client back; recv is re-armed when parsing resumes.
 *
 * CLIENT REPLY OFF/SKIP and CLIENT PAUSE take the slow path of
 * conn_process_input (one test of the connection's flags and the core's
 * pause word on the fast path). A silenced command runs behind a pending
 * placeholder slot, so whatever it replies (here or later from other shards)
 * lands in slots of its own, marked drop; pushes (pub/sub messages,
 * invalidations) still go out, as in Redis 7.0.15. A command held by a pause
 * is parsed, then the parser is put back where it stood, so the connection
 * resumes at that command once the pause ends.
 */
#include "shardis/conn.h"

#include "shardis/acl.h"
#include "shardis/block.h"
#include "shardis/cmdtab.h"
#include "shardis/log.h"
#include "shardis/monitor.h"
#include "shardis/prefetch.h"
#include "shardis/pubsub.h"
#include "shardis/route.h"
#include "shardis/shard.h"
#include "shardis/tracking.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#define MAX_INFLIGHT     256
#define OUT_PAUSE        (1024 * 1024)
#define READ_STOP        (1024 * 1024)
#define SLOT_KEEP_CAP    (4 * 1024)
#define SLOT_CACHE       256 /* free slots kept per shard */
#define IDLE_KEEP_CAP    (64 * 1024)
#define SENDING_KEEP_CAP (4 * 1024 * 1024)

struct conn_repl_hooks conn_repl_hooks;

static void format_addr(const struct sockaddr_storage *ss, char *buf, size_t len)
{
    char ip[INET6_ADDRSTRLEN] = "?";
    int port = 0;

    if (ss->ss_family == AF_INET) {
        const struct sockaddr_in *s4 = (const struct sockaddr_in *)ss;

        inet_ntop(AF_INET, &s4->sin_addr, ip, sizeof(ip));
        port = ntohs(s4->sin_port);
    } else if (ss->ss_family == AF_INET6) {
        const struct sockaddr_in6 *s6 = (const struct sockaddr_in6 *)ss;

        inet_ntop(AF_INET6, &s6->sin6_addr, ip, sizeof(ip));
        port = ntohs(s6->sin6_port);
    }
    snprintf(buf, len, "%s:%d", ip, port);
}

static void set_keepalive(int fd, long long interval)
{
    int one = 1, idle = (int)interval, intvl = (int)(interval / 3 ? interval / 3 : 1), cnt = 3;

    if (interval <= 0) {
        return;
    }
    setsockopt(fd, SOL_SOCKET, SO_KEEPALIVE, &one, sizeof(one));
    setsockopt(fd, IPPROTO_TCP, TCP_KEEPIDLE, &idle, sizeof(idle));
    setsockopt(fd, IPPROTO_TCP, TCP_KEEPINTVL, &intvl, sizeof(intvl));
    setsockopt(fd, IPPROTO_TCP, TCP_KEEPCNT, &cnt, sizeof(cnt));
}

/* Redis's test: only 127.0.0.1 and ::1 count as loopback. */
static bool from_loopback(int fd)
{
    struct sockaddr_storage ss;
    socklen_t sl = sizeof(ss);
    char ip[INET6_ADDRSTRLEN];

    if (getpeername(fd, (struct sockaddr *)&ss, &sl) != 0) {
        return false;
    }
    if (ss.ss_family == AF_INET) {
        inet_ntop(AF_INET, &((struct sockaddr_in *)&ss)->sin_addr, ip, sizeof(ip));
    } else if (ss.ss_family == AF_INET6) {
        inet_ntop(AF_INET6, &((struct sockaddr_in6 *)&ss)->sin6_addr, ip, sizeof(ip));
    } else {
        return true; /* a unix socket is local */
    }
    return !strcmp(ip, "127.0.0.1") || !strcmp(ip, "::1");
}

/* Protected mode: no password and a client from elsewhere gets Redis's
 * explanation, then the connection closes. */
static void refuse_protected(struct shard *sh, int fd)
{
    static const char msg[] =
            "-DENIED Redis is running in protected mode because protected mode is enabled and "
            "no password is set for the default user. In this mode connections are only "
            "accepted from the loopback interface. If you want to connect from external "
            "computers to Redis you may adopt one of the following solutions: 1) Just disable "
            "protected mode sending the command 'CONFIG SET protected-mode no' from the "
            "loopback interface by connecting to Redis from the same host the server is "
            "running, however MAKE SURE Redis is not publicly accessible from internet if you "
            "do so. Use CONFIG REWRITE to make this change permanent. 2) Alternatively you can "
            "just disable the protected mode by editing the Redis configuration file, and "
            "setting the protected mode option to 'no', and then restarting the server. 3) If "
            "you started the server manually just for testing, restart it with the "
            "'--protected-mode no' option. 4) Setup a an authentication password for the "
            "default user. NOTE: You only need to do one of the above things in order for the "
            "server to start accepting connections from the outside.\r\n";

    sh->stats.rejected_connections++;
    /* a fresh socket's send buffer is empty: this cannot block */
    if (send(fd, msg, sizeof(msg) - 1, MSG_NOSIGNAL | MSG_DONTWAIT) < 0) {
        sh_log(LOG_VERBOSE, "could not tell a client about protected mode");
    }
    close(fd);
}

struct conn *conn_accept(struct shard *sh, int fd)
{
    struct server *srv = (struct server *)sh->srv;
    struct sockaddr_storage ss;
    socklen_t sl = sizeof(ss);
    struct conn *c;

    if (mbox_counter_add(&srv->clients, 1) > sh->cfg.maxclients) {
        static const char msg[] = "-ERR max number of clients reached\r\n";

        mbox_counter_add(&srv->clients, -1);
        sh->stats.rejected_connections++;
        /* a fresh socket's send buffer is empty: this cannot block */
        if (send(fd, msg, sizeof(msg) - 1, MSG_NOSIGNAL | MSG_DONTWAIT) < 0) {
            sh_log(LOG_VERBOSE, "could not tell a client about maxclients");
        }
        close(fd);
        return NULL;
    }
    if (sh->cfg.protected_mode && acl_user_has_nopass(acl_default(sh->acl)) && !from_loopback(fd)) {
        refuse_protected(sh, fd);
        mbox_counter_add(&srv->clients, -1);
        return NULL;
    }
    c = sh_calloc(1, sizeof(*c));
    c->sh = sh;
    c->fd = fd;
    c->id = sh->next_conn_seq++ * (uint64_t)srv->nshards + (uint64_t)sh->id + 1;
    c->proto = 2;
    c->ctime_ms = sh->now_ms;
    c->last_ms = sh->now_ms;
    resp_parser_init(&c->parser, sh->cfg.proto_max_bulk_len);
    c->user = acl_default(sh->acl);
    conn_set_authed(c, acl_user_is_open(c->user));
    if (getpeername(fd, (struct sockaddr *)&ss, &sl) == 0) {
        format_addr(&ss, c->addr, sizeof(c->addr));
    }
    sl = sizeof(ss);
    if (getsockname(fd, (struct sockaddr *)&ss, &sl) == 0) {
        format_addr(&ss, c->laddr, sizeof(c->laddr));
    }
    set_keepalive(fd, sh->cfg.tcp_keepalive);
    {
        int one = 1;

        setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    }
    rbuf_init(&c->q);
    rbuf_init(&c->out);
    rbuf_init(&c->sending);
    c->next = sh->conns;
    if (sh->conns) {
        sh->conns->prev = c;
    }
    sh->conns = c;
    sh->nconns++;
    sh->stats.connections++;
    shard_arm_recv(sh, c);
    c->flags |= CONN_RECV_ARMED;
    return c;
}

struct conn *conn_internal(struct shard *sh)
{
    struct server *srv = (struct server *)sh->srv;
    struct conn *c = sh->internal;

    if (c) {
        return c;
    }
    c = sh_calloc(1, sizeof(*c));
    c->sh = sh;
    c->fd = -1;
    c->flags = CONN_AUTHED | CONN_INTERNAL | CONN_FD_CLOSED;
    c->id = sh->next_conn_seq++ * (uint64_t)srv->nshards + (uint64_t)sh->id + 1;
    c->proto = 2;
    c->ctime_ms = sh->now_ms;
    c->last_ms = sh->now_ms;
    resp_parser_init(&c->parser, sh->cfg.proto_max_bulk_len);
    c->user = acl_default(sh->acl);
    snprintf(c->addr, sizeof(c->addr), "internal");
    rbuf_init(&c->q);
    rbuf_init(&c->out);
    rbuf_init(&c->sending);
    sh->internal = c;
    return c;
}

void conn_run_internal(struct shard *sh, int argc, const struct sh_slice *argv)
{
    struct conn *c = conn_internal(sh);

    route_dispatch(c, argc, argv);
    conn_want_send(c); /* drops the reply */
}

static bool conn_is_busy(const struct conn *c)
{
    return (c->flags & (CONN_RECV_ARMED | CONN_SENDING)) || c->inflight;
}

static void release_slot(struct shard *sh, struct slot *s)
{
    if (sh->nfree_slots >= SLOT_CACHE) {
        rbuf_fini(&s->buf);
        sh_free(s);
        return;
    }
    if (s->buf.cap > SLOT_KEEP_CAP) {
        rbuf_fini(&s->buf);
    }
    s->buf.len = 0;
    s->next = sh->free_slots;
    sh->free_slots = s;
    sh->nfree_slots++;
}

static void conn_free(struct conn *c)
{
    struct shard *sh = c->sh;

    block_conn_gone(c); /* first: it releases a slot of c's */
    shard_busy_forget(sh, c);
    pubsub_conn_gone(c);
    monitor_conn_gone(c);
    tracking_conn_gone(c);
    if (c->multi && route_hooks.gone) {
        route_hooks.gone(c);
    }
    if (c->repl && conn_repl_hooks.gone) {
        conn_repl_hooks.gone(c);
    }
    if (!(c->flags & CONN_FD_CLOSED)) {
        close(c->fd);
    }
    while (c->slot_head) {
        struct slot *s = c->slot_head;

        c->slot_head = s->next;
        release_slot(sh, s);
    }
    if (c->flags & CONN_INTERNAL) {
        sh->internal = NULL; /* never in the list */
    } else {
        if (c->prev) {
            c->prev->next = c->next;
        } else {
            sh->conns = c->next;
        }
        if (c->next) {
            c->next->prev = c->prev;
        }
        sh->nconns--;
    }
    rbuf_fini(&c->q);
    rbuf_fini(&c->out);
    rbuf_fini(&c->sending);
    resp_parser_fini(&c->parser);
    sh_free(c->name);
    sh_free(c);
}

/* Frees c once it is closed and nothing refers to it. Returns true if c is
 * gone. Called only at the end of a completion or list walk, where nothing
 * up the stack uses c; connections still on the send or resume list are
 * freed from there. */
static bool maybe_free(struct conn *c)
{
    if (!(c->flags & CONN_CLOSING) || conn_is_busy(c) ||
        (c->flags & (CONN_IN_SEND_LIST | CONN_IN_RESUME_LIST))) {
        return false;
    }
    conn_free(c);
    return true;
}

void conn_close(struct conn *c)
{
    if (c->flags & CONN_CLOSING) {
        return;
    }
    c->flags |= CONN_CLOSING;
    mbox_counter_add((struct mbox_counter *)&c->sh->srv->clients, -1);
    /* ends the multishot recv (EOF) and fails a pending send */
    shutdown(c->fd, SHUT_RDWR);
    /* freed from the send list at the end of the iteration, never here:
     * callers up the stack may still hold c */
    conn_want_send(c);
}

void conn_want_send(struct conn *c)
{
    if (!(c->flags & CONN_IN_SEND_LIST)) {
        c->flags |= CONN_IN_SEND_LIST;
        c->send_next = c->sh->send_list;
        c->sh->send_list = c;
    }
}

void conn_close_after_reply(struct conn *c)
{
    c->flags |= CONN_CLOSE_AFTER;
    conn_want_send(c);
}

/* The peer shut its sending side (or left). What it sent in full is still
 * run and every reply it is due still reaches it (an element popped for it
 * may be among them), then the connection closes; a client blocked is
 * closed at once and takes nothing more. */
static void after_peer_eof(struct conn *c)
{
    if (c->blocked) {
        conn_close(c);
    } else if (!(c->flags & CONN_PAUSED)) {
        conn_close_after_reply(c); /* at once when nothing is due */
    }
}

static void want_resume(struct conn *c)
{
    if (!(c->flags & CONN_IN_RESUME_LIST)) {
        c->flags |= CONN_IN_RESUME_LIST;
        c->resume_next = c->sh->resume_list;
        c->sh->resume_list = c;
    }
}

struct reply conn_reply(struct conn *c)
{
    struct reply r = { .buf = &c->out, .proto = c->proto };
    struct slot *s;

    if (c->slot_head == NULL) {
        conn_want_send(c);
        return r;
    }
    s = conn_slot_new(c);
    s->ready = true;
    r.buf = &s->buf;
    return r;
}

struct slot *conn_slot_new(struct conn *c)
{
    struct shard *sh = c->sh;
    struct slot *s = sh->free_slots;

    if (s) {
        sh->free_slots = s->next;
        sh->nfree_slots--;
    } else {
        s = sh_calloc(1, sizeof(*s));
    }
    s->next = NULL;
    s->ready = false;
    s->pending = 0;
    s->coord = NULL;
    s->drop = false;
    if (c->slot_tail) {
        c->slot_tail->next = s;
    } else {
        c->slot_head = s;
    }
    c->slot_tail = s;
    c->nslots++;
    return s;
}

void conn_slot_wrote(struct conn *c, size_t n)
{
    c->slot_bytes += n;
}

void conn_slot_done(struct conn *c, struct slot *s)
{
    s->ready = true;
    c->slot_bytes += s->buf.len;
    while (c->slot_head && c->slot_head->ready) {
        struct slot *h = c->slot_head;

        c->slot_head = h->next;
        if (!c->slot_head) {
            c->slot_tail = NULL;
        }
        c->nslots--;
        c->slot_bytes -= h->buf.len < c->slot_bytes ? h->buf.len : c->slot_bytes;
        if (!(c->flags & CONN_CLOSING) && !h->drop) {
            rbuf_append(&c->out, h->buf.data, h->buf.len);
        }
        release_slot(c->sh, h);
    }
    if (SH_UNLIKELY(c->flags & CONN_MASTER) && conn_repl_hooks.applied) {
        conn_repl_hooks.applied(c);
    }
    conn_want_send(c);
}

void conn_request_done(struct conn *c)
{
    SH_ASSERT(c->inflight > 0);
    c->inflight--;
    if ((c->flags & CONN_PAUSED) && c->inflight < MAX_INFLIGHT / 2) {
        want_resume(c);
    }
    maybe_free(c);
}

/* Replies waiting in slots count too: a remote request at the head would
 * otherwise let local replies pile up behind it unseen. */
static bool must_pause(const struct conn *c)
{
    return c->inflight >= MAX_INFLIGHT || c->nslots >= MAX_INFLIGHT ||
           c->out.len + c->slot_bytes >= OUT_PAUSE || (c->flags & CONN_BARRIER);
}

void conn_set_authed(struct conn *c, bool authed)
{
    if (authed) {
        c->flags |= CONN_AUTHED;
    } else {
        c->flags &= ~CONN_AUTHED;
    }
    c->parser.unauth = !authed;
}

void conn_barrier_begin(struct conn *c)
{
    c->flags |= CONN_BARRIER;
}

void conn_barrier_end(struct conn *c)
{
    c->flags &= ~CONN_BARRIER;
    if (c->flags & CONN_PAUSED) {
        want_resume(c);
    }
}

/* ---- CLIENT PAUSE and CLIENT REPLY: the slow path of conn_process_input ---- */

/* Where the parser stood before a command, to put it back there. */
struct parse_mark {
    size_t start, scan;
    long long mbulk_left, bulk_len;
    int argc;
};

static void resume_held(struct shard *sh)
{
    for (struct conn *c = sh->conns; c; c = c->next) {
        if (c->flags & CONN_HELD) {
            want_resume(c);
        }
    }
}

void conn_pause(struct shard *sh, int mode, int64_t end_ms)
{
    conn_pause_mode(sh); /* a pause past its end is over first */
    if (mode > sh->pause_mode) {
        sh->pause_mode = mode;
    }
    if (end_ms > sh->pause_end_ms) {
        sh->pause_end_ms = end_ms;
    }
    conn_pause_mode(sh); /* PAUSE 0 ends at once */
}

void conn_unpause(struct shard *sh)
{
    sh->pause_mode = CONN_PAUSE_NONE;
    sh->pause_end_ms = 0;
    resume_held(sh);
}

int conn_pause_mode(struct shard *sh)
{
    if (SH_UNLIKELY(sh->pause_mode) && sh->now_ms >= sh->pause_end_ms) {
        conn_unpause(sh);
    }
    return sh->pause_mode;
}

long long conn_held_count(const struct shard *sh)
{
    long long n = 0;

    for (const struct conn *c = sh->conns; c; c = c->next) {
        n += (c->flags & CONN_HELD) != 0;
    }
    return n;
}

/* The command a pause of this mode holds, or NULL. As in Redis's
 * processCommand, what is refused anyway (unknown, arity, NOAUTH) is not
 * held; unlike it, an ACL refusal waits for the pause's end. */
static const struct cmd_spec *pause_holds(const struct conn *c, int mode, int argc,
                                          const struct sh_slice *argv)
{
    const struct cmd_spec *cmd = cmdtab_lookup(argv[0].ptr, argv[0].len);

    if (!cmd || (c->flags & CONN_INTERNAL)) {
        return NULL;
    }
    if (cmd->nsubcmds && argc >= 2) {
        cmd = cmdtab_lookup_sub(cmd, argv[1].ptr, argv[1].len);
        if (!cmd) {
            return NULL;
        }
    }
    if ((cmd->arity > 0 && argc != cmd->arity) || argc < -cmd->arity ||
        (!(c->flags & CONN_AUTHED) && !(cmd->flags & CMD_NO_AUTH))) {
        return NULL;
    }
    if (mode == CONN_PAUSE_ALL || (cmd->flags & (CMD_WRITE | CMD_MAY_REPLICATE))) {
        return cmd;
    }
    /* EXEC of a transaction that queued a write (route_dispatch notes it) */
    return (c->flags & CONN_MULTI_WRITE) && !strcmp(cmd->fullname, "exec") ? cmd : NULL;
}

/* Puts the parser back before the command just parsed and stops parsing
 * until the pause ends. */
/* The parser back to before the command it just parsed (it runs later). */
static void rewind_to(struct conn *c, const struct parse_mark *m)
{
    struct resp_parser *p = &c->parser;

    p->start = m->start;
    p->scan = m->scan;
    p->mbulk_left = m->mbulk_left;
    p->bulk_len = m->bulk_len;
    p->argc = m->argc;
}

/* A PUBLISH behind requests of this connection still at other shards waits
 * for them: what they publish (or notify) is fanned out from this core
 * (pubsub.c's relay) before their replies come, so every subscriber gets
 * one client's messages in its order, as with Redis. */
static bool publish_waits(int argc, const struct sh_slice *argv)
{
    return argc == 3 && argv[0].len == 7 && strncasecmp(argv[0].ptr, "publish", 7) == 0;
}

static void hold(struct conn *c, const struct parse_mark *m, const struct cmd_spec *cmd, int argc,
                 const struct sh_slice *argv)
{
    c->argv_mem = 0;
    for (int i = 0; i < argc; i++) {
        c->argv_mem += argv[i].len;
    }
    snprintf(c->last_cmd, sizeof(c->last_cmd), "%s", cmd->fullname);
    c->last_cmd_spec = cmd;
    rewind_to(c, m);
    c->flags |= CONN_PAUSED | CONN_HELD;
}

/* Runs a command whose reply CLIENT REPLY OFF or SKIP drops: behind a
 * pending placeholder slot, so every reply it makes (now, or later from
 * other shards) is in a slot of its own, marked drop. CLIENT REPLY ON lifts
 * the silence for its own +OK. */
static void dispatch_silenced(struct conn *c, int argc, const struct sh_slice *argv, uint64_t in_at)
{
    struct slot *mark = conn_slot_new(c);

    mark->in_at = in_at;
    route_dispatch(c, argc, argv);
    if (c->flags & (CONN_REPLY_OFF | CONN_REPLY_SKIP)) {
        for (struct slot *s = mark->next; s; s = s->next) {
            s->drop = true;
            s->in_at = in_at;
            if (s->ready) {
                c->slot_bytes -= s->buf.len < c->slot_bytes ? s->buf.len : c->slot_bytes;
                s->buf.len = 0;
            }
        }
    }
    conn_slot_done(c, mark);
}

uint64_t conn_input_applied(const struct conn *c)
{
    /* a ready slot at the head is popped at once: the head runs still */
    return c->slot_head ? c->slot_head->in_at : c->in_base + c->parser.start;
}

/* Parses and runs one command while CLIENT REPLY or CLIENT PAUSE is in
 * effect. Returns resp_parse's result, or RESP_NEED_MORE when the command
 * waits for the pause's end (c is held). */
static int process_one_slow(struct conn *c)
{
    struct resp_parser *p = &c->parser;
    struct parse_mark m = { p->start, p->scan, p->mbulk_left, p->bulk_len, p->argc };
    int mode = conn_pause_mode(c->sh), argc, rc;
    const struct cmd_spec *held;

    rc = resp_parse(p, c->q.data, c->q.len, &argc);
    if (rc != RESP_COMMAND) {
        return rc;
    }
    if (mode && (held = pause_holds(c, mode, argc, p->argv)) != NULL) {
        hold(c, &m, held, argc, p->argv);
        return RESP_NEED_MORE;
    }
    c->argv_mem = 0;
    c->last_ms = c->sh->now_ms;
    c->sh->stats.commands++;
    /* Redis's resetClient: SKIP covers the command after CLIENT REPLY SKIP */
    if (c->flags & CONN_REPLY_SKIP_NEXT) {
        c->flags = (c->flags & ~CONN_REPLY_SKIP_NEXT) | CONN_REPLY_SKIP;
    }
    if (c->flags & (CONN_REPLY_OFF | CONN_REPLY_SKIP)) {
        dispatch_silenced(c, argc, p->argv, c->in_base + m.start);
    } else {
        route_dispatch(c, argc, p->argv);
    }
    c->flags &= ~CONN_REPLY_SKIP;
    return rc;
}

void conn_process_input(struct conn *c)
{
    struct resp_parser *p = &c->parser;
    int argc, rc = RESP_NEED_MORE;
    size_t prefetched = 0; /* the pre-scan got this far in c->q */

    if (c->flags & (CONN_CLOSING | CONN_CLOSE_AFTER)) {
        return;
    }
    c->flags &= ~(CONN_PAUSED | CONN_HELD);
    c->sh->clock_us = sh_mono_us(); /* the batch's first command starts now */
    while (p->start < c->q.len) {
        if (must_pause(c)) {
            c->flags |= CONN_PAUSED;
            break;
        }
        if (SH_UNLIKELY((c->flags & CONN_REPLY_BITS) | (uint32_t)c->sh->pause_mode)) {
            rc = process_one_slow(c);
            if (rc != RESP_COMMAND) {
                break;
            }
        } else {
            struct parse_mark m = { p->start, p->scan, p->mbulk_left, p->bulk_len, p->argc };

            if (p->start >= prefetched) {
                /* the next batch's key table slots, while the pipeline runs */
                prefetched = prefetch_input(c->sh, c->db, c->q.data, c->q.len, p->start);
            }
            rc = resp_parse(p, c->q.data, c->q.len, &argc);
            if (rc != RESP_COMMAND) {
                break;
            }
            if (SH_UNLIKELY(c->inflight) && publish_waits(argc, p->argv)) {
                rewind_to(c, &m);
                c->flags |= CONN_PAUSED; /* resumed by conn_request_done */
                rc = RESP_NEED_MORE;
                break;
            }
            c->last_ms = c->sh->now_ms;
            c->sh->stats.commands++;
            route_dispatch(c, argc, p->argv);
        }
        if (c->flags & (CONN_CLOSING | CONN_CLOSE_AFTER)) {
            break;
        }
    }
    if (rc == RESP_ERROR) {
        struct reply r = conn_reply(c);

        reply_errorf(&r, "ERR %s", p->err);
        shard_count_error(c->sh, "-ERR", 4);
        conn_close_after_reply(c);
        return;
    }
    if (p->start > 0) {
        c->in_base += p->start;
        rbuf_consume(&c->q, p->start);
        resp_parser_rebase(p);
    }
    if (p->start == 0 && c->q.len == 0 && c->q.cap > 64 * 1024) {
        rbuf_fini(&c->q); /* a big command passed: give its memory back */
    }
    if (SH_UNLIKELY(c->flags & CONN_PEER_EOF)) {
        after_peer_eof(c);
        return;
    }
    if ((c->flags & CONN_READ_STOPPED) && !(c->flags & CONN_PAUSED)) {
        c->flags &= ~CONN_READ_STOPPED;
        if (!(c->flags & CONN_RECV_ARMED)) {
            shard_arm_recv(c->sh, c);
            c->flags |= CONN_RECV_ARMED;
        }
    }
}

/* A paused connection that keeps receiving: stop reading its socket. */
static void maybe_stop_reading(struct conn *c)
{
    if ((c->flags & (CONN_PAUSED | CONN_RECV_ARMED | CONN_READ_STOPPED)) ==
                (CONN_PAUSED | CONN_RECV_ARMED) &&
        c->q.len - c->parser.start > READ_STOP) {
        shard_cancel_recv(c->sh, c);
        c->flags |= CONN_READ_STOPPED;
    }
}

void conn_on_recv_bytes(struct conn *c, const char *data, int res, uint32_t flags)
{
    struct shard *sh = c->sh;

    if (data != NULL && res > 0 && !(c->flags & (CONN_CLOSING | CONN_CLOSE_AFTER))) {
        size_t want = resp_parser_want(&c->parser);

        /* grow towards a big announced bulk as its bytes arrive, not all
         * at once: a header alone must not reserve 512 MB */
        if (want > c->q.len) {
            size_t step = c->q.len > (1u << 20) ? c->q.len : (1u << 20);

            rbuf_reserve(&c->q, want - c->q.len < step ? want - c->q.len : step);
        }
        rbuf_append(&c->q, data, (size_t)res);
    }
    if (!(flags & IORING_CQE_F_MORE)) {
        c->flags &= ~CONN_RECV_ARMED;
    }
    if (res > 0) {
        sh->stats.net_input_bytes += (uint64_t)res;
        if ((long long)c->q.len > sh->cfg.client_query_buffer_limit) {
            sh_log(LOG_WARNING, "closing client %s that reached max query buffer length", c->addr);
            conn_close(c);
        } else if (!(c->flags & CONN_PAUSED)) {
            conn_process_input(c);
        } else {
            maybe_stop_reading(c);
        }
    } else if (res == 0 && !(c->flags & CONN_CLOSING)) {
        c->flags |= CONN_PEER_EOF;
        after_peer_eof(c);
    } else if (res == 0 || (res != -ENOBUFS && res != -ECANCELED)) {
        conn_close(c); /* EOF or a socket error */
    }
    if (!(c->flags & (CONN_RECV_ARMED | CONN_CLOSING | CONN_READ_STOPPED | CONN_PEER_EOF))) {
        /* the kernel ended the multishot recv (ENOBUFS, or it chose to) */
        shard_arm_recv(sh, c);
        c->flags |= CONN_RECV_ARMED;
    }
    maybe_free(c);
}

void conn_on_recv(struct conn *c, int res, uint32_t flags)
{
    struct shard *sh = c->sh;

    if (flags & IORING_CQE_F_BUFFER) {
        unsigned bid = flags >> IORING_CQE_BUFFER_SHIFT;

        conn_on_recv_bytes(c, shard_buffer(sh, bid), res, flags);
        shard_recycle_buffer(sh, bid);
        return;
    }
    conn_on_recv_bytes(c, NULL, res, flags);
}

static void start_send(struct conn *c)
{
    c->flags |= CONN_SENDING;
    shard_arm_send(c->sh, c, c->sending.data + c->sent, c->sending.len - c->sent);
}

void conn_on_send(struct conn *c, int res)
{
    c->flags &= ~CONN_SENDING;
    if (res < 0) {
        conn_close(c);
        maybe_free(c); /* it may have been closing already: nobody else will */
        return;
    }
    c->sh->stats.net_output_bytes += (uint64_t)res;
    c->sent += (size_t)res;
    if (c->sent < c->sending.len && !(c->flags & CONN_CLOSING)) {
        start_send(c);
        return;
    }
    c->sending.len = 0;
    c->sent = 0;
    if (c->sending.cap > SENDING_KEEP_CAP) {
        rbuf_fini(&c->sending);
    }
    if (c->out.len || (c->flags & CONN_CLOSE_AFTER)) {
        conn_want_send(c);
    } else if (c->repl && conn_repl_hooks.drained && !(c->flags & CONN_CLOSING)) {
        conn_repl_hooks.drained(c);
    }
    if (c->flags & CONN_PAUSED) {
        want_resume(c);
    }
    maybe_free(c);
}

/* client-output-buffer-limit: the pending output of c against its class's
 * hard and soft limits. Returns true (and closes c) when over. */
static bool over_output_limit(struct conn *c)
{
    const struct config_cobl *lim = &c->sh->cfg.cobl[(c->flags & CONN_REPLICA) ? CONFIG_COBL_REPLICA
                                                     : pubsub_conn_count(c)    ? CONFIG_COBL_PUBSUB
                                                                            : CONFIG_COBL_NORMAL];
    long long pending = (long long)(c->out.len + c->sending.len - c->sent);
    bool over = lim->hard && pending >= lim->hard;

    if (lim->soft && pending >= lim->soft) {
        if (!c->soft_since_ms) {
            c->soft_since_ms = c->sh->now_ms;
        } else if (c->sh->now_ms - c->soft_since_ms >= lim->soft_seconds * 1000) {
            over = true;
        }
    } else {
        c->soft_since_ms = 0;
    }
    if (over) {
        sh_log(LOG_WARNING,
               "Client id=%llu addr=%s scheduled to be closed ASAP for overcoming of output "
               "buffer limits.",
               (unsigned long long)c->id, c->addr);
        conn_close(c);
    }
    return over;
}

struct reply *conn_push_begin(struct conn *c, struct reply *r)
{
    if (c->flags & (CONN_CLOSING | CONN_CLOSE_AFTER)) {
        return NULL;
    }
    r->buf = &c->out;
    r->proto = c->proto;
    return r;
}

void conn_push_end(struct conn *c)
{
    if (!over_output_limit(c)) {
        conn_want_send(c);
    }
}

/* Returns false when c's output is held for the next iteration. */
static bool flush_one(struct conn *c)
{
    if (c->flags & CONN_INTERNAL) {
        c->out.len = 0;
        return true;
    }
    if ((c->flags & CONN_CLOSING) || over_output_limit(c)) {
        return true;
    }
    if (!(c->flags & CONN_SENDING) && c->out.len) {
        struct rbuf tmp = c->sending;

        /* Replies from other shards are due: the ready prefix waits for
         * them (up to SEND_HOLD_US), so that a pipeline's replies leave in
         * one send, not two or three (each send costs the kernel's TCP
         * work and a wake-up of the client). */
        if (c->inflight) {
            if (!c->held_us) {
                c->held_us = c->sh->mono_us;
                return false;
            }
            if (c->sh->mono_us - c->held_us < SEND_HOLD_US) {
                return false;
            }
        }
        c->held_us = 0;

        c->sending = c->out;
        c->out = tmp;
        c->out.len = 0;
        c->sent = 0;
        c->last_out_ms = c->sh->now_ms;
        start_send(c);
        return true;
    }
    if ((c->flags & CONN_CLOSE_AFTER) && !(c->flags & CONN_SENDING) && !c->slot_head &&
        !c->out.len) {
        conn_close(c);
    }
    return true;
}

void conn_flush_all(struct shard *sh)
{
    struct conn *c = sh->send_list;
    struct conn *held = NULL;

    sh->send_list = NULL;
    while (c) {
        struct conn *next = c->send_next;

        if (flush_one(c)) {
            c->flags &= ~CONN_IN_SEND_LIST;
            maybe_free(c);
        } else {
            c->send_next = held; /* stays in the list: the next iteration's */
            held = c;
        }
        c = next;
    }
    sh->send_list = held;
}

/* A connection with no output for a while gives back buffers a burst left
 * large (a busy one keeps them: regrowing them costs copies and faults). */
static void trim_idle(struct conn *c)
{
    if (c->sh->now_ms - c->last_out_ms < 2000) {
        return;
    }
    if (!(c->flags & CONN_SENDING) && c->sending.len == 0 && c->sending.cap > IDLE_KEEP_CAP) {
        rbuf_fini(&c->sending);
    }
    if (c->out.len == 0 && c->out.cap > IDLE_KEEP_CAP) {
        rbuf_fini(&c->out);
    }
}

void conn_cron(struct shard *sh)
{
    long long timeout_ms = sh->cfg.timeout * 1000;

    conn_pause_mode(sh); /* a pause's end releases the held clients */
    for (struct conn *c = sh->conns; c;) {
        struct conn *next = c->next;

        trim_idle(c);
        /* as Redis: replicas and the primary's link are not idle clients */
        if (timeout_ms > 0 &&
            !(c->flags & (CONN_CLOSING | CONN_HELD | CONN_REPLICA | CONN_MASTER)) &&
            !c->slot_head && !c->inflight && sh->now_ms - c->last_ms > timeout_ms) {
            sh_log(LOG_VERBOSE, "Closing idle client %s", c->addr);
            conn_close(c);
        }
        c = next;
    }
}

void conn_close_all(struct shard *sh)
{
    block_unblock_all(sh); /* blocked commands end now, as timed out */
    for (struct conn *c = sh->conns; c;) {
        struct conn *next = c->next;

        conn_close_after_reply(c);
        c = next;
    }
}

void conn_free_all(struct shard *sh)
{
    while (sh->conns) {
        struct conn *c = sh->conns;

        if (!(c->flags & CONN_CLOSING)) {
            mbox_counter_add((struct mbox_counter *)&sh->srv->clients, -1);
        }
        conn_free(c);
    }
    if (sh->internal) {
        conn_free(sh->internal);
    }
    tracking_shard_exit(sh); /* what it kept for the connections and keys here */
    sh->send_list = NULL;
    sh->resume_list = NULL;
}
