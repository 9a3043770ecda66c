/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * cmd_server.c: connection and server commands: PING ECHO QUIT RESET HELLO
 * AUTH SELECT CLIENT CONFIG TIME DEBUG SHUTDOWN, and the COMMAND family's
 * binding (INFO is in cmd_info.c).
 *
 * Commands about one connection run on its core (CMD_ROUTE_CONN). Commands
 * about the whole server fan out to every shard (CMD_ROUTE_ALL with an
 * "always" gather): each shard answers for its own connections, counters and
 * config copy, and the client's core merges. That keeps the rule that a
 * shard's state is only touched by its own thread.
 */
#include "shardis/cmd_server.h"

#include "shardis/acl.h"
#include "shardis/acl_log.h"
#include "shardis/aof.h"
#include "shardis/cmd.h"
#include "shardis/cmd_bind.h"
#include "shardis/cmdtab.h"
#include "shardis/conn.h"
#include "shardis/diag.h"
#include "shardis/evict.h"
#include "shardis/glob.h"
#include "shardis/kdb.h"
#include "shardis/latency.h"
#include "shardis/log.h"
#include "shardis/monitor.h"
#include "shardis/multi.h"
#include "shardis/persist.h"
#include "shardis/pubsub.h"
#include "shardis/repl.h"
#include "shardis/resp.h"
#include "shardis/route.h"
#include "shardis/shard.h"
#include "shardis/tracking.h"
#include "shardis/util.h"

#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#define REDIS_COMPAT_VERSION "7.0.15"

static bool arg_is(const struct cmd_ctx *ctx, int i, const char *word)
{
    return i < ctx->argc && sh_slice_eq_nocase(ctx->argv[i], word);
}

static void cmd_ping(struct cmd_ctx *ctx)
{
    if (ctx->argc > 2) {
        reply_err_arity(&ctx->r, "ping");
    } else if (ctx->r.proto == 2 && ctx->conn && pubsub_conn_count(ctx->conn)) {
        /* (no connection: a script's call on the core that owns its keys) */
        /* subscribed mode answers as a message would be: ["pong", arg] */
        reply_array(&ctx->r, 2);
        reply_bulk_cstr(&ctx->r, "pong");
        reply_bulk(&ctx->r, ctx->argc == 2 ? ctx->argv[1].ptr : "",
                   ctx->argc == 2 ? ctx->argv[1].len : 0);
    } else if (ctx->argc == 2) {
        reply_bulk(&ctx->r, ctx->argv[1].ptr, ctx->argv[1].len);
    } else {
        reply_status(&ctx->r, "PONG");
    }
}

static void cmd_echo(struct cmd_ctx *ctx)
{
    reply_bulk(&ctx->r, ctx->argv[1].ptr, ctx->argv[1].len);
}

static void cmd_quit(struct cmd_ctx *ctx)
{
    reply_ok(&ctx->r);
    conn_close_after_reply(ctx->conn);
}

/* AUTH and HELLO AUTH: the named user (NULL: default) with that password
 * becomes the connection's user. */
static bool try_auth(struct cmd_ctx *ctx, const struct sh_slice *user, struct sh_slice pass)
{
    struct acl *a = ctx->shard->acl;
    struct acl_user *u = user ? acl_find(a, user->ptr, user->len) : acl_default(a);

    if (!u || !acl_user_auth(u, pass.ptr, pass.len)) {
        acl_log_auth_failed(ctx->conn, ctx->argv[0],
                            user ? *user : (struct sh_slice){ .ptr = "default", .len = 7 });
        return false;
    }
    ctx->conn->user = u;
    conn_set_authed(ctx->conn, true);
    return true;
}

static void cmd_auth(struct cmd_ctx *ctx)
{
    if (ctx->argc > 3) {
        reply_err_syntax(&ctx->r);
        return;
    }
    if (ctx->argc == 2 && acl_user_has_nopass(acl_default(ctx->shard->acl))) {
        reply_error(&ctx->r, "ERR AUTH <password> called without any password configured for "
                             "the default user. Are you sure your configuration is correct?");
        return;
    }
    if (!try_auth(ctx, ctx->argc == 3 ? &ctx->argv[1] : NULL, ctx->argv[ctx->argc - 1])) {
        reply_error(&ctx->r, "WRONGPASS invalid username-password pair or user is disabled.");
        return;
    }
    reply_ok(&ctx->r);
}

static bool valid_client_name(struct sh_slice name)
{
    for (size_t i = 0; i < name.len; i++) {
        if (name.ptr[i] < '!' || name.ptr[i] > '~') {
            return false;
        }
    }
    return true;
}

static void set_name(struct conn *c, struct sh_slice name)
{
    sh_free(c->name);
    c->name = NULL;
    if (name.len) {
        c->name = sh_malloc(name.len + 1);
        memcpy(c->name, name.ptr, name.len);
        c->name[name.len] = '\0';
    }
}

static void hello_reply(struct cmd_ctx *ctx)
{
    struct reply *r = &ctx->r;

    reply_map(r, 7);
    reply_bulk_cstr(r, "server");
    reply_bulk_cstr(r, "redis");
    reply_bulk_cstr(r, "version");
    reply_bulk_cstr(r, REDIS_COMPAT_VERSION);
    reply_bulk_cstr(r, "proto");
    reply_int(r, ctx->conn->proto);
    reply_bulk_cstr(r, "id");
    reply_int(r, (long long)ctx->conn->id);
    reply_bulk_cstr(r, "mode");
    reply_bulk_cstr(r, "standalone");
    reply_bulk_cstr(r, "role");
    reply_bulk_cstr(r, "master");
    reply_bulk_cstr(r, "modules");
    reply_array(r, 0);
}

static void cmd_hello(struct cmd_ctx *ctx)
{
    struct conn *c = ctx->conn;
    long long ver = c->proto;
    const struct sh_slice *name = NULL;
    int i = 2;

    if (ctx->argc >= 2 && !util_str2ll(ctx->argv[1].ptr, ctx->argv[1].len, &ver)) {
        reply_error(&ctx->r, "ERR Protocol version is not an integer or out of range");
        return;
    }
    if (ver < 2 || ver > 3) {
        reply_error(&ctx->r, "NOPROTO unsupported protocol version");
        return;
    }
    for (; i < ctx->argc; i++) {
        bool more = i + 1 < ctx->argc;

        if (arg_is(ctx, i, "AUTH") && i + 2 < ctx->argc) {
            if (!try_auth(ctx, &ctx->argv[i + 1], ctx->argv[i + 2])) {
                reply_error(&ctx->r,
                            "WRONGPASS invalid username-password pair or user is disabled.");
                return;
            }
            i += 2;
        } else if (arg_is(ctx, i, "SETNAME") && more) {
            name = &ctx->argv[++i];
            if (!valid_client_name(*name)) {
                reply_error(&ctx->r, "ERR Client names cannot contain spaces, newlines or "
                                     "special characters.");
                return;
            }
        } else {
            reply_errorf(&ctx->r, "ERR Syntax error in HELLO option '%.*s'", (int)ctx->argv[i].len,
                         ctx->argv[i].ptr);
            return;
        }
    }
    if (!(c->flags & CONN_AUTHED)) {
        reply_error(&ctx->r, "NOAUTH HELLO must be called with the client already "
                             "authenticated, otherwise the HELLO AUTH <user> <pass> "
                             "option can be used to authenticate the client and select the "
                             "RESP protocol version at the same time");
        return;
    }
    if (name) {
        set_name(c, *name);
    }
    c->proto = (int)ver;
    ctx->r.proto = (int)ver;
    hello_reply(ctx);
}

static void cmd_reset(struct cmd_ctx *ctx)
{
    struct conn *c = ctx->conn;

    c->db = 0;
    c->proto = 2;
    ctx->r.proto = 2;
    set_name(c, (struct sh_slice){ NULL, 0 });
    pubsub_conn_gone(c); /* leaves every channel and pattern */
    monitor_conn_gone(c);
    tracking_conn_reset(c);
    multi_reset(c); /* leaves MULTI, unwatches */
    if (!(c->flags & CONN_MASTER)) {
        /* CLIENT REPLY ON, as Redis's clearClientConnectionState: +RESET is
         * heard, unless a SKIP before it covers it */
        c->flags &= ~(CONN_REPLY_OFF | CONN_REPLY_SKIP_NEXT);
    }
    c->user = acl_default(ctx->shard->acl);
    conn_set_authed(c, acl_user_is_open(c->user));
    reply_status(&ctx->r, "RESET");
}

static void cmd_select(struct cmd_ctx *ctx)
{
    long long id;

    if (!util_str2ll(ctx->argv[1].ptr, ctx->argv[1].len, &id)) {
        reply_err_notint(&ctx->r);
        return;
    }
    if (id < 0 || id >= ctx->shard->cfg.databases) {
        reply_error(&ctx->r, "ERR DB index is out of range");
        return;
    }
    ctx->conn->db = (int)id;
    reply_ok(&ctx->r);
}

static void cmd_time(struct cmd_ctx *ctx)
{
    int64_t us = sh_time_us();

    reply_array(&ctx->r, 2);
    reply_bulk_ll(&ctx->r, us / 1000000);
    reply_bulk_ll(&ctx->r, us % 1000000);
}

/* SHUTDOWN [NOSAVE|SAVE] [NOW] [FORCE] [ABORT]: with SAVE, or with save
 * points and not NOSAVE, a snapshot first (cmd_persist.c); a failed one
 * keeps the server running unless FORCE. */
static void cmd_shutdown(struct cmd_ctx *ctx)
{
    bool nosave = false, save = false, force = false, abort_ = false;

    for (int i = 1; i < ctx->argc; i++) {
        if (arg_is(ctx, i, "ABORT")) {
            abort_ = true;
        } else if (arg_is(ctx, i, "NOSAVE")) {
            nosave = true;
        } else if (arg_is(ctx, i, "SAVE")) {
            save = true;
        } else if (arg_is(ctx, i, "FORCE")) {
            force = true;
        } else if (!arg_is(ctx, i, "NOW")) {
            reply_err_syntax(&ctx->r);
            return;
        }
    }
    if ((nosave && save) || (abort_ && ctx->argc > 2)) {
        reply_err_syntax(&ctx->r);
        return;
    }
    if (abort_) {
        reply_error(&ctx->r, "ERR No shutdown in progress.");
        return;
    }
    sh_log(LOG_WARNING, "User requested shutdown...");
    if (save || (!nosave && persist_has_save_points(ctx->shard))) {
        sh_log(LOG_NOTICE, "Saving the final RDB snapshot before exiting.");
        cmd_persist_shutdown(ctx, force);
        return;
    }
    shard_shutdown_from(ctx->shard);
    /* like Redis: no reply, the connection just closes */
    if (!(ctx->conn->flags & CONN_INTERNAL)) {
        conn_close(ctx->conn);
    }
}

/* ---- CLIENT ---- */

static void cmd_client_id(struct cmd_ctx *ctx)
{
    reply_int(&ctx->r, (long long)ctx->conn->id);
}

static void cmd_client_setname(struct cmd_ctx *ctx)
{
    if (!valid_client_name(ctx->argv[2])) {
        reply_error(&ctx->r,
                    "ERR Client names cannot contain spaces, newlines or special characters.");
        return;
    }
    set_name(ctx->conn, ctx->argv[2]);
    reply_ok(&ctx->r);
}

static void cmd_client_getname(struct cmd_ctx *ctx)
{
    if (ctx->conn->name) {
        reply_bulk_cstr(&ctx->r, ctx->conn->name);
    } else {
        reply_null(&ctx->r);
    }
}

/* Redis's output-buffer figures, from this server's buffers: Redis keeps a
 * reply in a 16 KB buffer (obl: its bytes) and then in a list of blocks (oll
 * blocks, omem bytes). Here `out` plays the buffer; the list is the bytes
 * handed to the kernel but not yet sent plus the reply slots waiting behind
 * other shards (one block each). tot-mem adds the connection's struct, its
 * buffers' capacity and the arguments it holds; approximate where the
 * allocator rounds. */
struct mem_fields {
    size_t obl, oll, omem, tot;
};

static void mem_fields(const struct conn *c, struct mem_fields *m)
{
    size_t unsent = c->sending.len - c->sent;

    m->obl = c->out.len;
    m->oll = c->nslots + (unsent ? 1 : 0);
    m->omem = unsent + c->slot_bytes;
    m->tot = sizeof(*c) + c->q.cap + c->out.cap + c->sending.cap + c->argv_mem + m->omem +
             c->nslots * sizeof(struct slot);
}

/* Redis's client types (CLIENT LIST / KILL TYPE). */
enum client_type { CLIENT_NORMAL, CLIENT_REPLICA, CLIENT_MASTER, CLIENT_PUBSUB };

static int client_type_parse(struct sh_slice v)
{
    return sh_slice_eq_nocase(v, "normal")                                      ? CLIENT_NORMAL
           : sh_slice_eq_nocase(v, "replica") || sh_slice_eq_nocase(v, "slave") ? CLIENT_REPLICA
           : sh_slice_eq_nocase(v, "master")                                    ? CLIENT_MASTER
           : sh_slice_eq_nocase(v, "pubsub")                                    ? CLIENT_PUBSUB
                                                                                : -1;
}

static int client_type_of(const struct conn *c)
{
    return (c->flags & CONN_REPLICA)       ? CLIENT_REPLICA
           : (c->flags & CONN_MASTER)      ? CLIENT_MASTER
           : c->ps && pubsub_conn_count(c) ? CLIENT_PUBSUB
                                           : CLIENT_NORMAL;
}

void cmd_client_line(struct rbuf *b, const struct conn *c, int64_t now_ms, bool nl)
{
    struct mem_fields m;
    char line[1024], flags[16];
    size_t nf = 0;
    long long redir;
    int n;

    /* Redis's letters, in its order */
    if (c->flags & CONN_REPLICA) {
        flags[nf++] = 'S';
    }
    if (c->flags & CONN_MASTER) {
        flags[nf++] = 'M';
    }
    if (c->flags & CONN_MONITOR) {
        flags[nf++] = 'O';
    }
    if (c->ps && pubsub_conn_count(c)) {
        flags[nf++] = 'P';
    }
    if (multi_queued(c) >= 0) {
        flags[nf++] = 'x';
    }
    if (c->blocked || (c->flags & CONN_HELD)) {
        flags[nf++] = 'b';
    }
    tracking_client_flags(c, flags, &nf, &redir); /* t R B */
    if (c->flags & CONN_NO_EVICT) {
        flags[nf++] = 'e';
    }
    if (nf == 0) {
        flags[nf++] = 'N';
    }
    flags[nf] = '\0';
    mem_fields(c, &m);
    n = snprintf(line, sizeof(line),
                 "id=%llu addr=%s laddr=%s fd=%d name=%s age=%lld idle=%lld flags=%s db=%d "
                 "sub=0 psub=0 ssub=0 multi=%d qbuf=%zu qbuf-free=%zu argv-mem=%zu "
                 "multi-mem=0 rbs=%zu rbp=0 obl=%zu oll=%zu omem=%zu tot-mem=%zu events=r "
                 "cmd=%s user=%s redir=%lld resp=%d%s",
                 (unsigned long long)c->id, c->addr, c->laddr, c->fd, c->name ? c->name : "",
                 (long long)(now_ms - c->ctime_ms) / 1000, (long long)(now_ms - c->last_ms) / 1000,
                 flags, c->db, multi_queued(c), c->q.len, c->q.cap - c->q.len, c->argv_mem,
                 c->out.cap, m.obl, m.oll, m.omem, m.tot, c->last_cmd[0] ? c->last_cmd : "NULL",
                 acl_user_name(c->user), redir, c->proto, nl ? "\n" : "");

    rbuf_append(b, line, (size_t)(n < (int)sizeof(line) ? n : (int)sizeof(line) - 1));
}

/* Redis's argv-mem of the client running CLIENT INFO or LIST: its own
 * arguments' bytes. */
static size_t argv_bytes(const struct cmd_ctx *ctx)
{
    size_t n = 0;

    for (int i = 0; i < ctx->argc; i++) {
        n += ctx->argv[i].len;
    }
    return n;
}

static void cmd_client_info(struct cmd_ctx *ctx)
{
    struct rbuf b;

    rbuf_init(&b);
    ctx->conn->argv_mem = argv_bytes(ctx);
    cmd_client_line(&b, ctx->conn, ctx->shard->now_ms, true);
    ctx->conn->argv_mem = 0;
    reply_verbatim(&ctx->r, b.data, b.len, "txt");
    rbuf_fini(&b);
}

/* CLIENT LIST part: this shard's clients as one bulk string. */
static void cmd_client_list(struct cmd_ctx *ctx)
{
    struct rbuf b;

    for (int i = 2; i < ctx->argc; i++) {
        if (arg_is(ctx, i, "TYPE") && i + 1 < ctx->argc) {
            if (client_type_parse(ctx->argv[i + 1]) < 0) {
                reply_errorf(&ctx->r, "ERR Unknown client type '%.*s'",
                             (int)(ctx->argv[i + 1].len < 64 ? ctx->argv[i + 1].len : 64),
                             ctx->argv[i + 1].ptr);
                return;
            }
            i++;
        } else if (arg_is(ctx, i, "ID") && i + 1 < ctx->argc) {
            i = ctx->argc;
        } else {
            reply_err_syntax(&ctx->r);
            return;
        }
    }
    rbuf_init(&b);
    for (struct conn *c = ctx->shard->conns; c; c = c->next) {
        bool match = !(c->flags & CONN_CLOSING);

        for (int i = 2; match && i + 1 < ctx->argc; i++) {
            if (arg_is(ctx, i, "TYPE")) {
                match = client_type_of(c) == client_type_parse(ctx->argv[i + 1]);
                i++;
            } else if (arg_is(ctx, i, "ID")) {
                match = false;
                for (int j = i + 1; j < ctx->argc; j++) {
                    long long id;

                    if (util_str2ll(ctx->argv[j].ptr, ctx->argv[j].len, &id) &&
                        (uint64_t)id == c->id) {
                        match = true;
                    }
                }
                break;
            }
        }
        if (match && c->id == ctx->client_id) {
            c->argv_mem = argv_bytes(ctx);
            cmd_client_line(&b, c, ctx->shard->now_ms, true);
            c->argv_mem = 0;
        } else if (match) {
            cmd_client_line(&b, c, ctx->shard->now_ms, true);
        }
    }
    reply_bulk(&ctx->r, b.data ? b.data : "", b.len);
    rbuf_fini(&b);
}

static bool done_client_list(struct coord *co, struct reply *r)
{
    struct rbuf all;

    if (coord_first_error(co).len) {
        struct sh_slice e = coord_first_error(co);

        reply_raw(r, e.ptr, e.len);
        return true;
    }
    rbuf_init(&all);
    for (int s = 0; s < co->nshards; s++) {
        struct sh_slice p = coord_part(co, s);
        const char *cr = p.len ? memchr(p.ptr, '\r', p.len) : NULL;

        if (cr) {
            size_t hdr = (size_t)(cr - p.ptr) + 2;

            rbuf_append(&all, p.ptr + hdr, p.len - hdr - 2);
        }
    }
    reply_verbatim(r, all.data ? all.data : "", all.len, "txt");
    rbuf_fini(&all);
    return true;
}

struct kill_filter {
    bool old_form;
    bool skipme;
    long long id;
    struct sh_slice addr, laddr, user;
    long long maxage;
    int type; /* enum client_type, -1: any */
    char err[128];
};

/* Returns NULL or the error to reply. */
static const char *parse_kill(struct cmd_ctx *ctx, struct kill_filter *f)
{
    memset(f, 0, sizeof(*f));
    f->id = -1;
    f->type = -1;
    f->maxage = -1;
    f->skipme = true;
    if (ctx->argc == 3) {
        f->old_form = true;
        f->addr = ctx->argv[2];
        f->skipme = false;
        return NULL;
    }
    if ((ctx->argc - 2) % 2) {
        return "ERR syntax error";
    }
    for (int i = 2; i < ctx->argc; i += 2) {
        struct sh_slice v = ctx->argv[i + 1];

        if (arg_is(ctx, i, "ID")) {
            if (!util_str2ll(v.ptr, v.len, &f->id) || f->id <= 0) {
                return "ERR client-id should be greater than 0";
            }
        } else if (arg_is(ctx, i, "ADDR")) {
            f->addr = v;
        } else if (arg_is(ctx, i, "LADDR")) {
            f->laddr = v;
        } else if (arg_is(ctx, i, "MAXAGE")) {
            if (!util_str2ll(v.ptr, v.len, &f->maxage)) {
                return "ERR syntax error";
            }
        } else if (arg_is(ctx, i, "SKIPME")) {
            if (sh_slice_eq_nocase(v, "yes")) {
                f->skipme = true;
            } else if (sh_slice_eq_nocase(v, "no")) {
                f->skipme = false;
            } else {
                return "ERR syntax error";
            }
        } else if (arg_is(ctx, i, "TYPE")) {
            if ((f->type = client_type_parse(v)) < 0) {
                snprintf(f->err, sizeof(f->err), "ERR Unknown client type '%.*s'",
                         (int)(v.len < 64 ? v.len : 64), v.ptr);
                return f->err;
            }
        } else if (arg_is(ctx, i, "USER")) {
            f->user = v;
        } else {
            return "ERR syntax error";
        }
    }
    return NULL;
}

static bool slice_is(struct sh_slice s, const char *str)
{
    return s.len == strlen(str) && memcmp(s.ptr, str, s.len) == 0;
}

/* CLIENT KILL part: kills this shard's matching clients, replies the count. */
static void cmd_client_kill(struct cmd_ctx *ctx)
{
    struct kill_filter f;
    long long killed = 0;
    const char *err = parse_kill(ctx, &f);

    if (err) {
        reply_error(&ctx->r, err);
        return;
    }
    for (struct conn *c = ctx->shard->conns; c;) {
        struct conn *next = c->next;
        bool match = !(c->flags & (CONN_CLOSING | CONN_CLOSE_AFTER));

        match = match && (f.id < 0 || (uint64_t)f.id == c->id);
        match = match && (!f.addr.len || slice_is(f.addr, c->addr));
        match = match && (!f.laddr.len || slice_is(f.laddr, c->laddr));
        match = match && (f.maxage < 0 || (ctx->shard->now_ms - c->ctime_ms) / 1000 >= f.maxage);
        match = match && !(f.skipme && c->id == ctx->client_id);
        match = match && (f.type < 0 || client_type_of(c) == f.type);
        match = match && (!f.user.len || slice_is(f.user, acl_user_name(c->user)));
        if (match) {
            killed++;
            /* the caller itself is closed after its reply */
            if (c->id == ctx->client_id) {
                conn_close_after_reply(c);
            } else {
                conn_close(c);
            }
        }
        c = next;
    }
    reply_int(&ctx->r, killed);
}

static bool done_client_kill(struct coord *co, struct reply *r)
{
    struct sh_slice e = coord_first_error(co);
    long long n;

    if (e.len) {
        reply_raw(r, e.ptr, e.len);
        return true;
    }
    n = coord_sum(co);
    if (co->argc == 3) {
        if (n == 0) {
            reply_error(r, "ERR No such client");
        } else {
            reply_ok(r);
        }
    } else {
        reply_int(r, n);
    }
    return true;
}

/* CLIENT PAUSE and UNPAUSE: +OK once every core applied it; the client's
 * next commands wait for that (barrier), so a pipelined write after PAUSE
 * is held on whichever core owns its key. */
static const struct gather gather_client_pause = {
    .start = coord_start_fanout, .done = coord_done_ok, .always = true, .barrier = true
};
static const struct gather gather_client_list = { .start = coord_start_fanout,
                                                  .done = done_client_list,
                                                  .always = true };
static const struct gather gather_client_kill = { .start = coord_start_fanout,
                                                  .done = done_client_kill,
                                                  .always = true };

/* ---- CLIENT REPLY, PAUSE, UNPAUSE, NO-EVICT (the runtime is in conn.c) ---- */

/* Redis's CLIENT REPLY: OFF and SKIP reply nothing (conn.c drops the replies
 * that follow); SKIP under OFF changes nothing. */
static void cmd_client_reply(struct cmd_ctx *ctx)
{
    struct conn *c = ctx->conn;

    if (arg_is(ctx, 2, "ON")) {
        c->flags &= ~(CONN_REPLY_OFF | CONN_REPLY_SKIP);
        reply_ok(&ctx->r);
    } else if (arg_is(ctx, 2, "OFF")) {
        c->flags |= CONN_REPLY_OFF;
    } else if (arg_is(ctx, 2, "SKIP")) {
        if (!(c->flags & CONN_REPLY_OFF)) {
            c->flags |= CONN_REPLY_SKIP_NEXT;
        }
    } else {
        reply_err_syntax(&ctx->r);
    }
}

/* CLIENT PAUSE part: every core sets its copy of the pause before the client
 * gets +OK (gather_ok_every), so no core runs a held command after it.
 * Redis's checks, in its order; a timeout past INT64_MAX wraps as in Redis
 * 7.0 (the pause then ends at once). */
static void cmd_client_pause(struct cmd_ctx *ctx)
{
    int mode = CONN_PAUSE_ALL;
    long long ms;

    if (ctx->argc > 4) {
        reply_errorf(&ctx->r,
                     "ERR unknown subcommand or wrong number of arguments for '%.*s'. Try "
                     "CLIENT HELP.",
                     (int)(ctx->argv[1].len < 128 ? ctx->argv[1].len : 128), ctx->argv[1].ptr);
        return;
    }
    if (ctx->argc == 4) {
        if (arg_is(ctx, 3, "WRITE")) {
            mode = CONN_PAUSE_WRITE;
        } else if (!arg_is(ctx, 3, "ALL")) {
            reply_error(&ctx->r, "ERR CLIENT PAUSE mode must be WRITE or ALL");
            return;
        }
    }
    if (!util_str2ll(ctx->argv[2].ptr, ctx->argv[2].len, &ms)) {
        reply_error(&ctx->r, "ERR timeout is not an integer or out of range");
        return;
    }
    if (ms < 0) {
        reply_error(&ctx->r, "ERR timeout is negative");
        return;
    }
    if (ms > 0) {
        ms = (long long)((uint64_t)ms + (uint64_t)ctx->shard->now_ms);
    }
    conn_pause(ctx->shard, mode, ms);
    reply_ok(&ctx->r);
}

static void cmd_client_unpause(struct cmd_ctx *ctx)
{
    conn_unpause(ctx->shard);
    reply_ok(&ctx->r);
}

static void cmd_client_no_evict(struct cmd_ctx *ctx)
{
    if (arg_is(ctx, 2, "ON")) {
        ctx->conn->flags |= CONN_NO_EVICT;
    } else if (arg_is(ctx, 2, "OFF")) {
        ctx->conn->flags &= ~CONN_NO_EVICT;
    } else {
        reply_err_syntax(&ctx->r);
        return;
    }
    reply_ok(&ctx->r);
}

/* ---- CLIENT TRACKING and friends (the engine is core/tracking.c) ---- */

/* CLIENT TRACKING runs through its gather only (tracking_gather). */
static void cmd_client_tracking(struct cmd_ctx *ctx)
{
    reply_error(&ctx->r, "ERR internal: CLIENT TRACKING without coordinator");
}

static void cmd_client_caching(struct cmd_ctx *ctx)
{
    const char *err = tracking_caching(ctx->conn, ctx->argv[2]);

    if (err) {
        reply_error(&ctx->r, err);
    } else {
        reply_ok(&ctx->r);
    }
}

static void cmd_client_getredir(struct cmd_ctx *ctx)
{
    reply_int(&ctx->r, tracking_getredir(ctx->conn));
}

static void cmd_client_trackinginfo(struct cmd_ctx *ctx)
{
    tracking_info_reply(ctx->conn, &ctx->r);
}

/* ---- CONFIG ---- */

struct config_get_acc {
    struct rbuf names; /* NUL-separated names already emitted */
    struct reply *r;
    long long n;
};

static void config_get_one(void *arg, const char *name, const char *value)
{
    struct config_get_acc *a = arg;

    for (size_t off = 0; off < a->names.len; off += strlen(a->names.data + off) + 1) {
        if (!strcasecmp(a->names.data + off, name)) {
            return; /* several arguments may name one: list it once, as asked first */
        }
    }
    rbuf_append(&a->names, name, strlen(name) + 1);
    reply_bulk_cstr(a->r, name);
    reply_bulk_cstr(a->r, value);
    a->n++;
}

static void cmd_config_get(struct cmd_ctx *ctx)
{
    struct rbuf body;
    struct reply br = { .buf = &body, .proto = ctx->r.proto };
    struct config_get_acc acc = { .r = &br };

    rbuf_init(&body);
    rbuf_init(&acc.names);
    for (int i = 2; i < ctx->argc; i++) {
        config_get(&ctx->shard->cfg, ctx->argv[i].ptr, ctx->argv[i].len, config_get_one, &acc);
    }
    reply_map(&ctx->r, acc.n);
    reply_raw(&ctx->r, body.data, body.len);
    rbuf_fini(&body);
    rbuf_fini(&acc.names);
}

/* CONFIG SET part: all pairs are checked on a copy first, so a bad one
 * changes nothing (Redis 7 sets several parameters atomically). */
static void cmd_config_set(struct cmd_ctx *ctx)
{
    struct shard *sh = ctx->shard;
    struct config trial;
    char err[256];

    if ((ctx->argc - 2) % 2) {
        reply_err_arity(&ctx->r, "config|set");
        return;
    }
    config_copy(&trial, &sh->cfg);
    if (config_set(&trial, (ctx->argc - 2) / 2, ctx->argv + 2, err, sizeof(err)) != 0) {
        config_fini(&trial);
        reply_error(&ctx->r, err);
        return;
    }
    if (strcmp(trial.requirepass, sh->cfg.requirepass) != 0) {
        acl_set_requirepass(sh->acl, trial.requirepass);
    }
    bool aof_was = sh->cfg.appendonly != 0;

    config_fini(&sh->cfg);
    sh->cfg = trial;
    if ((sh->cfg.appendonly != 0) != aof_was) {
        aof_set_enabled(sh, sh->cfg.appendonly != 0);
    }
    evict_configure(sh); /* maxmemory-policy, lfu-* */
    repl_configure(sh);  /* min-replicas-* */
    diag_configure(sh);
    log_set_level(sh->cfg.loglevel);
    for (struct conn *c = sh->conns; c; c = c->next) {
        c->parser.max_bulk_len = sh->cfg.proto_max_bulk_len;
    }
    reply_ok(&ctx->r);
}

static void cmd_config_resetstat(struct cmd_ctx *ctx)
{
    memset(&ctx->shard->stats, 0, sizeof(ctx->shard->stats));
    latency_hist_reset(ctx->shard->latency);
    memset(ctx->shard->cmdstats, 0, sizeof(*ctx->shard->cmdstats) * (size_t)cmdtab_nids());
    memset(ctx->shard->errstats, 0, sizeof(ctx->shard->errstats));
    for (int i = 0; i < ctx->shard->cfg.databases; i++) {
        kdb_reset_stats(ctx->shard->db[i]);
    }
    reply_ok(&ctx->r);
}

/* CONFIG REWRITE: on the client's core only, from that core's config copy
 * (CONFIG SET's fan-out keeps every copy equal). It blocks this core on file
 * I/O for the few milliseconds the rewrite takes; Redis also rewrites on the
 * thread that runs commands, and the command is an administrator's, not a
 * data path's. */
static void cmd_config_rewrite(struct cmd_ctx *ctx)
{
    char err[512];

    if (config_rewrite(&ctx->shard->cfg, err, sizeof(err)) != 0) {
        sh_log(LOG_WARNING, "CONFIG REWRITE failed: %s", err);
        reply_error(&ctx->r, err);
        return;
    }
    sh_log(LOG_NOTICE, "CONFIG REWRITE executed with success.");
    reply_ok(&ctx->r);
}

void cmd_server_bind(void)
{
    cmd_must_bind("ping", cmd_ping, CMD_ROUTE_CONN, NULL);
    cmd_must_bind("echo", cmd_echo, CMD_ROUTE_CONN, NULL);
    cmd_must_bind("quit", cmd_quit, CMD_ROUTE_CONN, NULL);
    cmd_must_bind("reset", cmd_reset, CMD_ROUTE_CONN, NULL);
    cmd_must_bind("hello", cmd_hello, CMD_ROUTE_CONN, NULL);
    cmd_must_bind("auth", cmd_auth, CMD_ROUTE_CONN, NULL);
    cmd_must_bind("select", cmd_select, CMD_ROUTE_CONN, NULL);
    cmd_must_bind("time", cmd_time, CMD_ROUTE_CONN, NULL);
    cmd_must_bind("shutdown", cmd_shutdown, CMD_ROUTE_CONN, NULL);
    cmd_must_bind("client|id", cmd_client_id, CMD_ROUTE_CONN, NULL);
    cmd_must_bind("client|setname", cmd_client_setname, CMD_ROUTE_CONN, NULL);
    cmd_must_bind("client|getname", cmd_client_getname, CMD_ROUTE_CONN, NULL);
    cmd_must_bind("client|info", cmd_client_info, CMD_ROUTE_CONN, NULL);
    cmd_must_bind("client|list", cmd_client_list, CMD_ROUTE_ALL, &gather_client_list);
    cmd_must_bind("client|kill", cmd_client_kill, CMD_ROUTE_ALL, &gather_client_kill);
    cmd_must_bind("client|reply", cmd_client_reply, CMD_ROUTE_CONN, NULL);
    cmd_must_bind("client|pause", cmd_client_pause, CMD_ROUTE_ALL, &gather_client_pause);
    cmd_must_bind("client|unpause", cmd_client_unpause, CMD_ROUTE_ALL, &gather_client_pause);
    cmd_must_bind("client|no-evict", cmd_client_no_evict, CMD_ROUTE_CONN, NULL);
    cmd_must_bind("client|tracking", cmd_client_tracking, CMD_ROUTE_ALL, &tracking_gather);
    cmd_must_bind("client|caching", cmd_client_caching, CMD_ROUTE_CONN, NULL);
    cmd_must_bind("client|getredir", cmd_client_getredir, CMD_ROUTE_CONN, NULL);
    cmd_must_bind("client|trackinginfo", cmd_client_trackinginfo, CMD_ROUTE_CONN, NULL);
    cmd_must_bind("config|get", cmd_config_get, CMD_ROUTE_CONN, NULL);
    cmd_must_bind("config|set", cmd_config_set, CMD_ROUTE_ALL, &gather_ok_every);
    cmd_must_bind("config|resetstat", cmd_config_resetstat, CMD_ROUTE_ALL, &gather_ok_every);
    cmd_must_bind("config|rewrite", cmd_config_rewrite, CMD_ROUTE_CONN, NULL);
    cmd_info_bind(); /* INFO lives in cmd_info.c */
    cmd_must_bind("command", cmd_command, CMD_ROUTE_CONN, NULL);
    cmd_must_bind("command|count", cmd_command_count, CMD_ROUTE_CONN, NULL);
    cmd_must_bind("command|list", cmd_command_list, CMD_ROUTE_CONN, NULL);
    cmd_must_bind("command|info", cmd_command_info, CMD_ROUTE_CONN, NULL);
    cmd_must_bind("command|docs", cmd_command_docs, CMD_ROUTE_CONN, NULL);
    cmd_must_bind("command|getkeys", cmd_command_getkeys, CMD_ROUTE_CONN, NULL);
}
