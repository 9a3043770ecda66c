/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * cmd_server.c: connection and server commands: PING ECHO QUIT RESET HELLO
 * AUTH SELECT CLIENT INFO CONFIG TIME DEBUG SHUTDOWN, and the COMMAND family's
 * binding.
 *
 * Commands about one connection run on its core (CMD_ROUTE_CONN). Commands
 * about the whole server fan out to every shard (CMD_ROUTE_ALL with an
 * "always" gather): each shard answers for its own connections, counters and
 * config copy, and the client's core merges. That keeps the rule that a
 * shard's state is only touched by its own thread.
 */
#include "shardis/cmd.h"
#include "shardis/cmdtab.h"
#include "shardis/conn.h"
#include "shardis/glob.h"
#include "shardis/kdb.h"
#include "shardis/log.h"
#include "shardis/pubsub.h"
#include "shardis/resp.h"
#include "shardis/route.h"
#include "shardis/shard.h"
#include "shardis/util.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/utsname.h>
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
    } else if (ctx->r.proto == 2 && pubsub_conn_count(ctx->conn)) {
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

/* Compares in time independent of where the bytes differ. */
static bool secret_equal(const char *a, size_t alen, const char *b, size_t blen)
{
    unsigned char diff = (unsigned char)(alen != blen);
    size_t n = alen > blen ? alen : blen;

    for (size_t i = 0; i < n; i++) {
        unsigned char x = i < alen ? (unsigned char)a[i] : 0;
        unsigned char y = i < blen ? (unsigned char)b[i] : 0;

        diff |= x ^ y;
    }
    return diff == 0;
}

/* Checks user/password against requirepass; sets *err when it fails. */
static bool check_auth(struct cmd_ctx *ctx, const struct sh_slice *user, struct sh_slice pass)
{
    const char *want = ctx->shard->cfg.requirepass;

    if (user && !sh_slice_eq_nocase(*user, "default")) {
        return false;
    }
    if (!want[0]) {
        return user != NULL; /* the default user has nopass */
    }
    return secret_equal(pass.ptr, pass.len, want, strlen(want));
}

static void cmd_auth(struct cmd_ctx *ctx)
{
    struct conn *c = ctx->conn;

    if (ctx->argc > 3) {
        reply_err_syntax(&ctx->r);
        return;
    }
    if (ctx->argc == 2 && !ctx->shard->cfg.requirepass[0]) {
        reply_error(&ctx->r, "ERR AUTH <password> called without any password configured for "
                             "the default user. Are you sure your configuration is correct?");
        return;
    }
    if (!check_auth(ctx, ctx->argc == 3 ? &ctx->argv[1] : NULL, ctx->argv[ctx->argc - 1])) {
        reply_error(&ctx->r, "WRONGPASS invalid username-password pair or user is disabled.");
        return;
    }
    conn_set_authed(c, true);
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
            if (!check_auth(ctx, &ctx->argv[i + 1], ctx->argv[i + 2])) {
                reply_error(&ctx->r,
                            "WRONGPASS invalid username-password pair or user is disabled.");
                return;
            }
            conn_set_authed(c, true);
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
    if (ctx->shard->cfg.requirepass[0]) {
        conn_set_authed(c, false);
    }
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

static void cmd_debug(struct cmd_ctx *ctx)
{
    double secs;

    if (arg_is(ctx, 1, "SLEEP") && ctx->argc == 3) {
        if (!util_str2d(ctx->argv[2].ptr, ctx->argv[2].len, &secs) || secs < 0) {
            reply_error(&ctx->r, "ERR value is not a valid float");
            return;
        }
        struct timespec ts = { .tv_sec = (time_t)secs,
                               .tv_nsec = (long)((secs - (double)(time_t)secs) * 1e9) };

        /* like Redis, DEBUG SLEEP blocks the (shard's) event loop */
        nanosleep(&ts, NULL);
        reply_ok(&ctx->r);
        return;
    }
    reply_errorf(&ctx->r,
                 "ERR Unknown subcommand or wrong number of arguments for '%.*s'. "
                 "Try DEBUG HELP.",
                 (int)ctx->argv[1].len, ctx->argv[1].ptr);
}

static void cmd_shutdown(struct cmd_ctx *ctx)
{
    for (int i = 1; i < ctx->argc; i++) {
        if (arg_is(ctx, i, "ABORT")) {
            reply_error(&ctx->r, "ERR No shutdown in progress.");
            return;
        }
        if (!arg_is(ctx, i, "NOSAVE") && !arg_is(ctx, i, "SAVE") && !arg_is(ctx, i, "NOW") &&
            !arg_is(ctx, i, "FORCE")) {
            reply_err_syntax(&ctx->r);
            return;
        }
    }
    sh_log(LOG_WARNING, "User requested shutdown...");
    shard_shutdown_from(ctx->shard);
    /* like Redis: no reply, the connection just closes */
    conn_close(ctx->conn);
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

/* One line of CLIENT LIST / CLIENT INFO, Redis 7.0's fields. */
static void client_line(struct rbuf *b, const struct conn *c, int64_t now_ms)
{
    char line[1024];
    int n = snprintf(line, sizeof(line),
                     "id=%llu addr=%s laddr=%s fd=%d name=%s age=%lld idle=%lld flags=N db=%d "
                     "sub=0 psub=0 ssub=0 multi=-1 qbuf=%zu qbuf-free=%zu argv-mem=0 "
                     "multi-mem=0 rbs=%zu rbp=0 obl=%zu oll=0 omem=%zu tot-mem=%zu events=r "
                     "cmd=%s user=default redir=-1 resp=%d\n",
                     (unsigned long long)c->id, c->addr, c->laddr, c->fd, c->name ? c->name : "",
                     (long long)(now_ms - c->ctime_ms) / 1000,
                     (long long)(now_ms - c->last_ms) / 1000, c->db, c->q.len, c->q.cap - c->q.len,
                     c->q.cap, c->out.len, c->out.cap + c->sending.cap,
                     sizeof(*c) + c->q.cap + c->out.cap + c->sending.cap,
                     c->last_cmd[0] ? c->last_cmd : "NULL", c->proto);

    rbuf_append(b, line, (size_t)(n < (int)sizeof(line) ? n : (int)sizeof(line) - 1));
}

static void cmd_client_info(struct cmd_ctx *ctx)
{
    struct rbuf b;

    rbuf_init(&b);
    client_line(&b, ctx->conn, ctx->shard->now_ms);
    reply_verbatim(&ctx->r, b.data, b.len, "txt");
    rbuf_fini(&b);
}

/* CLIENT LIST part: this shard's clients as one bulk string. */
static void cmd_client_list(struct cmd_ctx *ctx)
{
    struct rbuf b;

    for (int i = 2; i < ctx->argc; i++) {
        if (arg_is(ctx, i, "TYPE") && i + 1 < ctx->argc) {
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
                match = arg_is(ctx, i + 1, "normal");
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
        if (match) {
            client_line(&b, c, ctx->shard->now_ms);
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
    struct sh_slice addr, laddr;
    long long maxage;
};

/* Returns NULL or the error to reply. */
static const char *parse_kill(struct cmd_ctx *ctx, struct kill_filter *f)
{
    memset(f, 0, sizeof(*f));
    f->id = -1;
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
        } else if (arg_is(ctx, i, "TYPE") || arg_is(ctx, i, "USER")) {
            continue; /* every client is a normal client of user default */
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

static const struct gather gather_client_list = { .start = coord_start_fanout,
                                                  .done = done_client_list,
                                                  .always = true };
static const struct gather gather_client_kill = { .start = coord_start_fanout,
                                                  .done = done_client_kill,
                                                  .always = true };
static const struct gather gather_all_ok = { .start = coord_start_fanout,
                                             .done = coord_done_ok,
                                             .always = true };

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
        if (!strcmp(a->names.data + off, name)) {
            return; /* several patterns may match one name: list it once */
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
    for (int i = 2; i < ctx->argc; i += 2) {
        if (config_set(&trial, ctx->argv[i].ptr, ctx->argv[i].len, ctx->argv[i + 1].ptr,
                       ctx->argv[i + 1].len, err, sizeof(err)) != 0) {
            config_fini(&trial);
            reply_error(&ctx->r, err);
            return;
        }
    }
    config_fini(&sh->cfg);
    sh->cfg = trial;
    log_set_level(sh->cfg.loglevel);
    for (struct conn *c = sh->conns; c; c = c->next) {
        c->parser.max_bulk_len = sh->cfg.proto_max_bulk_len;
    }
    reply_ok(&ctx->r);
}

static void cmd_config_resetstat(struct cmd_ctx *ctx)
{
    memset(&ctx->shard->stats, 0, sizeof(ctx->shard->stats));
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

/* ---- INFO ---- */

/* The numbers one shard reports for INFO, in this order. */
enum {
    INFO_COMMANDS,
    INFO_CONNECTIONS,
    INFO_REJECTED,
    INFO_EXPIRED,
    INFO_HITS,
    INFO_MISSES,
    INFO_NET_IN,
    INFO_NET_OUT,
    INFO_MBOX_SENT,
    INFO_MBOX_RECV,
    INFO_MBOX_OVERFLOW,
    INFO_ERRORS,
    INFO_MEMORY,
    INFO_CLIENTS,
    INFO_KEYS,
    INFO_PS_CHANNELS,
    INFO_PS_PATTERNS,
    INFO_PS_SHARD_CHANNELS,
    INFO_NFIELDS,
};

/* Does INFO's argument list ask for this section? */
static bool info_wanted(int argc, const struct sh_slice *argv, const char *name, bool in_default)
{
    if (argc == 1) {
        return in_default;
    }
    for (int i = 1; i < argc; i++) {
        if (sh_slice_eq_nocase(argv[i], name) || sh_slice_eq_nocase(argv[i], "all") ||
            sh_slice_eq_nocase(argv[i], "everything") ||
            (in_default && sh_slice_eq_nocase(argv[i], "default"))) {
            return true;
        }
    }
    return false;
}

/* The commandstats and errorstats tail of an INFO part: K, then K x (id,
 * calls, usec, rejected, failed); E, then E x (name, count). Each only when
 * asked for. Returns the number of elements written. */
static long long info_part_tail(struct cmd_ctx *ctx)
{
    struct shard *sh = ctx->shard;
    long long n = 0;

    if (info_wanted(ctx->argc, ctx->argv, "commandstats", false)) {
        size_t at = reply_array_begin(&ctx->r);
        long long k = 0;

        for (int id = 1; id < cmdtab_nids(); id++) {
            const struct cmd_stat *st = &sh->cmdstats[id];

            if (st->calls || st->rejected || st->failed) {
                reply_int(&ctx->r, id);
                reply_int(&ctx->r, (long long)st->calls);
                reply_int(&ctx->r, (long long)st->usec);
                reply_int(&ctx->r, (long long)st->rejected);
                reply_int(&ctx->r, (long long)st->failed);
                k++;
            }
        }
        reply_array_end(&ctx->r, at, 5 * k);
        n++;
    }
    if (info_wanted(ctx->argc, ctx->argv, "errorstats", true)) {
        size_t at = reply_array_begin(&ctx->r);
        long long e = 0;

        for (int i = 0; i < SHARD_ERRSTATS && sh->errstats[i].name[0]; i++) {
            reply_bulk_cstr(&ctx->r, sh->errstats[i].name);
            reply_int(&ctx->r, (long long)sh->errstats[i].count);
            e++;
        }
        reply_array_end(&ctx->r, at, 2 * e);
        n++;
    }
    return n;
}

/* INFO part: this shard's counters, then keys/expires/avg_ttl per db. */
static void cmd_info_part(struct cmd_ctx *ctx)
{
    struct shard *sh = ctx->shard;
    const struct shard_stats *st = &sh->stats;
    long long keys = 0, expired = 0;
    int ndb = (int)sh->cfg.databases;

    for (int i = 0; i < ndb; i++) {
        keys += (long long)kdb_size(sh->db[i]);
        expired += (long long)kdb_expired(sh->db[i]);
    }
    size_t head = reply_array_begin(&ctx->r);

    reply_int(&ctx->r, (long long)st->commands);
    reply_int(&ctx->r, (long long)st->connections);
    reply_int(&ctx->r, (long long)st->rejected_connections);
    reply_int(&ctx->r, expired);
    reply_int(&ctx->r, (long long)st->keyspace_hits);
    reply_int(&ctx->r, (long long)st->keyspace_misses);
    reply_int(&ctx->r, (long long)st->net_input_bytes);
    reply_int(&ctx->r, (long long)st->net_output_bytes);
    reply_int(&ctx->r, (long long)st->mbox_sent);
    reply_int(&ctx->r, (long long)st->mbox_received);
    reply_int(&ctx->r, (long long)st->mbox_overflowed);
    reply_int(&ctx->r, (long long)st->error_replies);
    reply_int(&ctx->r, (long long)sh_alloc_thread_bytes());
    reply_int(&ctx->r, sh->nconns);
    reply_int(&ctx->r, keys);
    {
        long long ch, pat, sch;

        pubsub_stats(sh->ps, &ch, &pat, &sch);
        reply_int(&ctx->r, ch);
        reply_int(&ctx->r, pat);
        reply_int(&ctx->r, sch);
    }
    for (int i = 0; i < ndb; i++) {
        reply_int(&ctx->r, (long long)kdb_size(sh->db[i]));
        reply_int(&ctx->r, (long long)kdb_expires(sh->db[i]));
        reply_int(&ctx->r, kdb_avg_ttl(sh->db[i]));
    }
    reply_array_end(&ctx->r, head, INFO_NFIELDS + 3LL * ndb + info_part_tail(ctx));
}

/* Reads the integers of one INFO part into v (n of them). */
static int parse_ints(struct sh_slice p, long long *v, int n)
{
    const char *s = p.ptr, *end = p.ptr + p.len;
    int i = -1;

    while (s < end && i < n) {
        const char *cr = memchr(s, '\r', (size_t)(end - s));

        if (!cr) {
            break;
        }
        if (i >= 0 && !util_str2ll(s + 1, (size_t)(cr - s - 1), &v[i])) {
            return -1;
        }
        i++;
        s = cr + 2;
    }
    return i;
}

struct info_sum {
    long long f[INFO_NFIELDS];
    long long *db; /* keys, expires, avg_ttl_sum, ttl_shards per db */
    int ndb;
};

static bool section_wanted(const struct coord *co, const char *name, bool in_default)
{
    return info_wanted(co->argc, co->argv, name, in_default);
}

SH_PRINTF(2, 3) static void info_line(struct rbuf *b, const char *fmt, ...)
{
    char line[512];
    va_list ap;
    int n;

    va_start(ap, fmt);
    n = vsnprintf(line, sizeof(line), fmt, ap);
    va_end(ap);
    if (n > (int)sizeof(line) - 3) {
        n = (int)sizeof(line) - 3;
    }
    line[n++] = '\r';
    line[n++] = '\n';
    rbuf_append(b, line, (size_t)n);
}

static void info_section(struct rbuf *b, const char *title)
{
    if (b->len) {
        rbuf_append(b, "\r\n", 2);
    }
    info_line(b, "# %s", title);
}

static void info_server(struct rbuf *b, const struct coord *co, const struct shard *sh)
{
    const struct server *srv = sh->srv;
    struct utsname un;
    int64_t up = (sh->now_ms - srv->start_ms) / 1000;

    uname(&un);
    info_section(b, "Server");
    info_line(b, "redis_version:%s", REDIS_COMPAT_VERSION);
    info_line(b, "shardis_version:%s", SHARDIS_VERSION);
    info_line(b, "redis_git_sha1:00000000");
    info_line(b, "redis_git_dirty:0");
    info_line(b, "redis_build_id:0");
    info_line(b, "redis_mode:standalone");
    info_line(b, "os:%s %s %s", un.sysname, un.release, un.machine);
    info_line(b, "arch_bits:64");
    info_line(b, "multiplexing_api:io_uring");
    info_line(b, "gcc_version:%d.%d.%d", __GNUC__, __GNUC_MINOR__, __GNUC_PATCHLEVEL__);
    info_line(b, "process_id:%d", (int)getpid());
    info_line(b, "run_id:%s", srv->run_id);
    info_line(b, "tcp_port:%lld", srv->cfg.port);
    info_line(b, "server_time_usec:%lld", (long long)sh_time_us());
    info_line(b, "uptime_in_seconds:%lld", (long long)up);
    info_line(b, "uptime_in_days:%lld", (long long)up / 86400);
    info_line(b, "hz:%lld", sh->cfg.hz);
    info_line(b, "configured_hz:%lld", sh->cfg.hz);
    info_line(b, "shards:%d", srv->nshards);
    info_line(b, "executable:%s", srv->executable);
    info_line(b, "config_file:%s", srv->cfg.config_file);
    (void)co;
}

static void info_stats(struct rbuf *b, const struct info_sum *s)
{
    info_section(b, "Stats");
    info_line(b, "total_connections_received:%lld", s->f[INFO_CONNECTIONS]);
    info_line(b, "total_commands_processed:%lld", s->f[INFO_COMMANDS]);
    info_line(b, "instantaneous_ops_per_sec:0");
    info_line(b, "total_net_input_bytes:%lld", s->f[INFO_NET_IN]);
    info_line(b, "total_net_output_bytes:%lld", s->f[INFO_NET_OUT]);
    info_line(b, "rejected_connections:%lld", s->f[INFO_REJECTED]);
    info_line(b, "expired_keys:%lld", s->f[INFO_EXPIRED]);
    info_line(b, "evicted_keys:0");
    info_line(b, "keyspace_hits:%lld", s->f[INFO_HITS]);
    info_line(b, "keyspace_misses:%lld", s->f[INFO_MISSES]);
    info_line(b, "pubsub_channels:%lld", s->f[INFO_PS_CHANNELS]);
    info_line(b, "pubsub_patterns:%lld", s->f[INFO_PS_PATTERNS]);
    info_line(b, "pubsubshard_channels:%lld", s->f[INFO_PS_SHARD_CHANNELS]);
    info_line(b, "total_error_replies:%lld", s->f[INFO_ERRORS]);
    info_line(b, "mailbox_messages_sent:%lld", s->f[INFO_MBOX_SENT]);
    info_line(b, "mailbox_messages_received:%lld", s->f[INFO_MBOX_RECV]);
    info_line(b, "mailbox_overflows:%lld", s->f[INFO_MBOX_OVERFLOW]);
}

static void info_memory(struct rbuf *b, const struct info_sum *s)
{
    size_t process = sh_alloc_process_bytes();
    long long rss = 0;
    FILE *f = fopen("/proc/self/statm", "r");

    if (f) {
        long long pages, res;

        if (fscanf(f, "%lld %lld", &pages, &res) == 2) {
            rss = res * sysconf(_SC_PAGESIZE);
        }
        fclose(f);
    }
    if (process == 0) {
        /* the sanitizers' allocators report nothing: count ours */
        process = s->f[INFO_MEMORY] > 0 ? (size_t)s->f[INFO_MEMORY] : 0;
    }
    info_section(b, "Memory");
    info_line(b, "used_memory:%zu", process);
    info_line(b, "used_memory_rss:%lld", rss);
    info_line(b, "used_memory_shards:%lld", s->f[INFO_MEMORY]);
    info_line(b, "maxmemory:0");
    info_line(b, "maxmemory_policy:noeviction");
    info_line(b, "mem_allocator:%s", sh_alloc_name());
}

static void info_cpu(struct rbuf *b)
{
    struct rusage self, children;

    getrusage(RUSAGE_SELF, &self);
    getrusage(RUSAGE_CHILDREN, &children);
    info_section(b, "CPU");
    info_line(b, "used_cpu_sys:%ld.%06ld", (long)self.ru_stime.tv_sec, (long)self.ru_stime.tv_usec);
    info_line(b, "used_cpu_user:%ld.%06ld", (long)self.ru_utime.tv_sec,
              (long)self.ru_utime.tv_usec);
    info_line(b, "used_cpu_sys_children:%ld.%06ld", (long)children.ru_stime.tv_sec,
              (long)children.ru_stime.tv_usec);
    info_line(b, "used_cpu_user_children:%ld.%06ld", (long)children.ru_utime.tv_sec,
              (long)children.ru_utime.tv_usec);
}

static void info_keyspace(struct rbuf *b, const struct info_sum *s)
{
    info_section(b, "Keyspace");
    for (int i = 0; i < s->ndb; i++) {
        long long *d = &s->db[i * 4];

        if (d[0]) {
            info_line(b, "db%d:keys=%lld,expires=%lld,avg_ttl=%lld", i, d[0], d[1],
                      d[3] ? d[2] / d[3] : 0);
        }
    }
}

static void info_sum_parts(const struct coord *co, struct info_sum *s)
{
    int n = INFO_NFIELDS + 3 * s->ndb;
    long long *v = sh_calloc((size_t)n, sizeof(long long));

    for (int sh = 0; sh < co->nshards; sh++) {
        if (parse_ints(coord_part(co, sh), v, n) != n) {
            continue;
        }
        for (int i = 0; i < INFO_NFIELDS; i++) {
            /* every shard knows every pattern: not a sum */
            s->f[i] = i == INFO_PS_PATTERNS ? v[i] : s->f[i] + v[i];
        }
        for (int d = 0; d < s->ndb; d++) {
            long long *in = &v[INFO_NFIELDS + 3 * d], *out = &s->db[4 * d];

            out[0] += in[0];
            out[1] += in[1];
            if (in[1]) {
                out[2] += in[2];
                out[3]++;
            }
        }
    }
    sh_free(v);
}

/* "# Shards": one line per shard, so an operator sees how keys, load,
 * mailbox traffic and memory spread. Not in Redis: only with "shards", "all"
 * or "everything". */
static void info_shards(struct rbuf *b, const struct coord *co, int ndb)
{
    int n = INFO_NFIELDS + 3 * ndb;
    long long *v = sh_calloc((size_t)n, sizeof(long long));

    info_section(b, "Shards");
    for (int sh = 0; sh < co->nshards; sh++) {
        if (parse_ints(coord_part(co, sh), v, n) != n) {
            continue;
        }
        info_line(b,
                  "shard%d:keys=%lld,clients=%lld,commands=%lld,mailbox_sent=%lld,"
                  "mailbox_received=%lld,mailbox_overflows=%lld,memory=%lld",
                  sh, v[INFO_KEYS], v[INFO_CLIENTS], v[INFO_COMMANDS], v[INFO_MBOX_SENT],
                  v[INFO_MBOX_RECV], v[INFO_MBOX_OVERFLOW], v[INFO_MEMORY]);
    }
    sh_free(v);
}

/* The tail of one part (after its fixed integers): the arrays written by
 * info_part_tail. */
static struct sh_slice part_tail(struct sh_slice p, int nfixed)
{
    size_t off;
    size_t hdr;

    if (!p.len) {
        return p;
    }
    hdr = (size_t)((const char *)memchr(p.ptr, '\n', p.len) - p.ptr) + 1;
    off = hdr;
    for (int i = 0; i < nfixed && off < p.len; i++) {
        size_t n = resp_value_size(p.ptr + off, p.len - off);

        if (!n) {
            return (struct sh_slice){ NULL, 0 };
        }
        off += n;
    }
    return (struct sh_slice){ p.ptr + off, p.len - off };
}

/* Reads one integer element at *t (advancing it). */
static bool take_int(struct sh_slice *t, long long *v)
{
    size_t n = resp_value_size(t->ptr, t->len);

    if (!n || t->ptr[0] != ':' || !util_str2ll(t->ptr + 1, n - 3, v)) {
        return false;
    }
    t->ptr += n;
    t->len -= n;
    return true;
}

/* Reads an array header at *t (advancing it). */
static bool take_array(struct sh_slice *t, long long *n)
{
    const char *nl = t->len ? memchr(t->ptr, '\n', t->len) : NULL;

    if (!nl || t->ptr[0] != '*' || !util_str2ll(t->ptr + 1, (size_t)(nl - t->ptr) - 2, n)) {
        return false;
    }
    t->len -= (size_t)(nl + 1 - t->ptr);
    t->ptr = nl + 1;
    return true;
}

/* Reads one bulk string at *t (advancing it). */
static bool take_bulk(struct sh_slice *t, struct sh_slice *out)
{
    size_t n = resp_value_size(t->ptr, t->len);
    const char *nl;

    if (!n || t->ptr[0] != '$' || !(nl = memchr(t->ptr, '\n', n))) {
        return false;
    }
    out->ptr = nl + 1;
    out->len = n - (size_t)(nl + 1 - t->ptr) - 2;
    t->ptr += n;
    t->len -= n;
    return true;
}

/* Sums the commandstats arrays of the parts (each at *tails[s]). */
static void info_commandstats(struct rbuf *b, const struct coord *co, struct sh_slice *tails)
{
    int nids = cmdtab_nids();
    struct cmd_stat *sum = sh_calloc((size_t)nids, sizeof(*sum));

    for (int s = 0; s < co->nshards; s++) {
        long long n, id, v[4];

        if (!take_array(&tails[s], &n)) {
            continue;
        }
        for (long long i = 0; i + 5 <= n; i += 5) {
            if (!take_int(&tails[s], &id) || !take_int(&tails[s], &v[0]) ||
                !take_int(&tails[s], &v[1]) || !take_int(&tails[s], &v[2]) ||
                !take_int(&tails[s], &v[3])) {
                break;
            }
            if (id > 0 && id < nids) {
                sum[id].calls += (uint64_t)v[0];
                sum[id].usec += (uint64_t)v[1];
                sum[id].rejected += (uint64_t)v[2];
                sum[id].failed += (uint64_t)v[3];
            }
        }
    }
    info_section(b, "Commandstats");
    for (int id = 1; id < nids; id++) {
        const struct cmd_stat *st = &sum[id];

        if (st->calls || st->rejected || st->failed) {
            info_line(b,
                      "cmdstat_%s:calls=%llu,usec=%llu,usec_per_call=%.2f,rejected_calls=%llu,"
                      "failed_calls=%llu",
                      cmdtab_by_id(id)->fullname, (unsigned long long)st->calls,
                      (unsigned long long)st->usec,
                      st->calls ? (double)st->usec / (double)st->calls : 0.0,
                      (unsigned long long)st->rejected, (unsigned long long)st->failed);
        }
    }
    sh_free(sum);
}

/* Sums the errorstats arrays of the parts (by error name). */
static void info_errorstats(struct rbuf *b, const struct coord *co, struct sh_slice *tails)
{
    struct err_stat sum[SHARD_ERRSTATS];
    int used = 0;

    memset(sum, 0, sizeof(sum));
    for (int s = 0; s < co->nshards; s++) {
        long long n, count;
        struct sh_slice name;

        if (!take_array(&tails[s], &n)) {
            continue;
        }
        for (long long i = 0; i + 2 <= n; i += 2) {
            int j;

            if (!take_bulk(&tails[s], &name) || !take_int(&tails[s], &count) ||
                name.len >= sizeof(sum[0].name)) {
                break;
            }
            for (j = 0; j < used; j++) {
                if (strlen(sum[j].name) == name.len && !memcmp(sum[j].name, name.ptr, name.len)) {
                    break;
                }
            }
            if (j == used && used < SHARD_ERRSTATS) {
                memcpy(sum[used].name, name.ptr, name.len);
                sum[used++].name[name.len] = '\0';
            }
            if (j < SHARD_ERRSTATS) {
                sum[j].count += (uint64_t)count;
            }
        }
    }
    info_section(b, "Errorstats");
    for (int j = 0; j < used; j++) {
        info_line(b, "errorstat_%s:count=%llu", sum[j].name, (unsigned long long)sum[j].count);
    }
}

static bool done_info(struct coord *co, struct reply *r)
{
    const struct shard *sh = co->conn->sh;
    struct info_sum s = { .ndb = (int)sh->cfg.databases };
    struct rbuf b;

    s.db = sh_calloc((size_t)s.ndb * 4, sizeof(long long));
    info_sum_parts(co, &s);
    rbuf_init(&b);
    if (section_wanted(co, "server", true)) {
        info_server(&b, co, sh);
    }
    if (section_wanted(co, "clients", true)) {
        info_section(&b, "Clients");
        info_line(&b, "connected_clients:%lld", s.f[INFO_CLIENTS]);
        info_line(&b, "maxclients:%lld", sh->cfg.maxclients);
        info_line(&b, "blocked_clients:0");
    }
    if (section_wanted(co, "memory", true)) {
        info_memory(&b, &s);
    }
    if (section_wanted(co, "persistence", true)) {
        info_section(&b, "Persistence");
        info_line(&b, "loading:0");
        info_line(&b, "rdb_changes_since_last_save:0");
        info_line(&b, "rdb_bgsave_in_progress:0");
        info_line(&b, "aof_enabled:0");
    }
    if (section_wanted(co, "stats", true)) {
        info_stats(&b, &s);
    }
    if (section_wanted(co, "replication", true)) {
        info_section(&b, "Replication");
        info_line(&b, "role:master");
        info_line(&b, "connected_slaves:0");
    }
    if (section_wanted(co, "cpu", true)) {
        info_cpu(&b);
    }
    if (section_wanted(co, "commandstats", false) || section_wanted(co, "errorstats", true)) {
        struct sh_slice *tails = sh_malloc(sizeof(*tails) * (size_t)co->nshards);

        for (int i = 0; i < co->nshards; i++) {
            tails[i] = part_tail(coord_part(co, i), INFO_NFIELDS + 3 * s.ndb);
        }
        if (section_wanted(co, "commandstats", false)) {
            info_commandstats(&b, co, tails);
        }
        if (section_wanted(co, "errorstats", true)) {
            info_errorstats(&b, co, tails);
        }
        sh_free(tails);
    }
    if (section_wanted(co, "keyspace", true)) {
        info_keyspace(&b, &s);
    }
    if (section_wanted(co, "shards", false)) {
        info_shards(&b, co, s.ndb);
    }
    reply_verbatim(r, b.data ? b.data : "", b.len, "txt");
    rbuf_fini(&b);
    sh_free(s.db);
    return true;
}

static const struct gather gather_info = { .start = coord_start_fanout,
                                           .done = done_info,
                                           .always = true };

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
    cmd_must_bind("debug", cmd_debug, CMD_ROUTE_CONN, NULL);
    cmd_must_bind("shutdown", cmd_shutdown, CMD_ROUTE_CONN, NULL);
    cmd_must_bind("client|id", cmd_client_id, CMD_ROUTE_CONN, NULL);
    cmd_must_bind("client|setname", cmd_client_setname, CMD_ROUTE_CONN, NULL);
    cmd_must_bind("client|getname", cmd_client_getname, CMD_ROUTE_CONN, NULL);
    cmd_must_bind("client|info", cmd_client_info, CMD_ROUTE_CONN, NULL);
    cmd_must_bind("client|list", cmd_client_list, CMD_ROUTE_ALL, &gather_client_list);
    cmd_must_bind("client|kill", cmd_client_kill, CMD_ROUTE_ALL, &gather_client_kill);
    cmd_must_bind("config|get", cmd_config_get, CMD_ROUTE_CONN, NULL);
    cmd_must_bind("config|set", cmd_config_set, CMD_ROUTE_ALL, &gather_all_ok);
    cmd_must_bind("config|resetstat", cmd_config_resetstat, CMD_ROUTE_ALL, &gather_all_ok);
    cmd_must_bind("config|rewrite", cmd_config_rewrite, CMD_ROUTE_CONN, NULL);
    cmd_must_bind("info", cmd_info_part, CMD_ROUTE_ALL, &gather_info);
    cmd_must_bind("command", cmd_command, CMD_ROUTE_CONN, NULL);
    cmd_must_bind("command|count", cmd_command_count, CMD_ROUTE_CONN, NULL);
    cmd_must_bind("command|list", cmd_command_list, CMD_ROUTE_CONN, NULL);
    cmd_must_bind("command|info", cmd_command_info, CMD_ROUTE_CONN, NULL);
    cmd_must_bind("command|docs", cmd_command_docs, CMD_ROUTE_CONN, NULL);
    cmd_must_bind("command|getkeys", cmd_command_getkeys, CMD_ROUTE_CONN, NULL);
}
