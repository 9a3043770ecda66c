/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * cmd_acl.c: the ACL command: SETUSER, DELUSER, GETUSER, LIST, USERS,
 * WHOAMI, CAT, GENPASS, DRYRUN, LOAD, SAVE, LOG, HELP.
 *
 * Every shard holds its own copy of the users (acl.h). Commands that change
 * users (SETUSER, DELUSER, LOAD) fan out to every shard, which applies the
 * same validated change to its copy and closes its own connections of a
 * removed user; the client's reply waits until every shard has done so, so
 * a client that gets +OK can AUTH on any core. The others read the client's
 * own core's copy.
 *
 * Known limit: two clients changing the same user at the same moment from
 * different cores may have their changes applied in a different order on
 * different cores (as with CONFIG SET); administrators change users one at a
 * time.
 */
#include "shardis/acl.h"
#include "shardis/acl_log.h"
#include "shardis/cmd.h"
#include "shardis/cmd_bind.h"
#include "shardis/cmd_server.h"
#include "shardis/cmdtab.h"
#include "shardis/conn.h"
#include "shardis/multi.h"
#include "shardis/pubsub.h"
#include "shardis/reply.h"
#include "shardis/route.h"
#include "shardis/shard.h"
#include "shardis/util.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/random.h>

static const char err_no_aclfile[] =
        "ERR This Redis instance is not configured to use an ACL file. You may want to specify "
        "users via the ACL SETUSER command and then issue a CONFIG REWRITE (assuming you have a "
        "Redis configuration file set) in order to store users in the Redis configuration.";

/* Closes this core's connections of u, after the replies they are owed; they
 * parse nothing more, and point at the default user until they are gone. */
static void close_user_conns(void *arg, const struct acl_user *u)
{
    struct shard *sh = arg;

    for (struct conn *c = sh->conns; c; c = c->next) {
        if (c->user == u) {
            c->user = acl_default(sh->acl);
            conn_set_authed(c, false);
            conn_close_after_reply(c);
        }
    }
}

/* Redis's error for a subcommand given more arguments than it takes (it
 * names the subcommand as the client wrote it). */
static void reply_subcommand_arity(struct cmd_ctx *ctx)
{
    reply_errorf(&ctx->r,
                 "ERR unknown subcommand or wrong number of arguments for '%.*s'. Try ACL HELP.",
                 (int)(ctx->argv[1].len > 64 ? 64 : ctx->argv[1].len), ctx->argv[1].ptr);
}

static void cmd_acl_setuser(struct cmd_ctx *ctx)
{
    struct sh_slice name = ctx->argv[2];
    char err[512];

    if (memchr(name.ptr, ' ', name.len) || memchr(name.ptr, '\0', name.len)) {
        reply_error(&ctx->r, "ERR Usernames can't contain spaces or null characters");
        return;
    }
    if (acl_setuser(ctx->shard->acl, name.ptr, name.len, ctx->argc - 3, ctx->argv + 3, err,
                    sizeof(err)) != 0) {
        reply_errorf(&ctx->r, "ERR %s", err);
        return;
    }
    reply_ok(&ctx->r);
}

static void cmd_acl_deluser(struct cmd_ctx *ctx)
{
    struct acl *a = ctx->shard->acl;
    long long n = 0;

    for (int i = 2; i < ctx->argc; i++) {
        if (ctx->argv[i].len == 7 && !memcmp(ctx->argv[i].ptr, "default", 7)) {
            reply_error(&ctx->r, "ERR The 'default' user cannot be removed");
            return;
        }
    }
    for (int i = 2; i < ctx->argc; i++) {
        struct acl_user *u = acl_find(a, ctx->argv[i].ptr, ctx->argv[i].len);

        if (u) {
            close_user_conns(ctx->shard, u);
            acl_delete(a, u);
            n++;
        }
    }
    reply_int(&ctx->r, n);
}

/* Every shard replies the same: forward the first error, else shard 0's. */
static bool done_same(struct coord *co, struct reply *r)
{
    struct sh_slice err = coord_first_error(co);
    struct sh_slice p = err.len ? err : coord_part(co, 0);

    reply_raw(r, p.ptr, p.len);
    return true;
}

static const struct gather gather_same = { .start = coord_start_fanout,
                                           .done = done_same,
                                           .always = true };

static void reply_rbuf(struct reply *r, struct rbuf *b)
{
    reply_bulk(r, b->data, b->len);
    rbuf_fini(b);
}

static void cmd_acl_getuser(struct cmd_ctx *ctx)
{
    const struct acl_user *u = acl_find(ctx->shard->acl, ctx->argv[2].ptr, ctx->argv[2].len);
    const char *flags[4];
    struct rbuf b;
    char hex[65];
    int nflags, npass = 0;

    if (!u) {
        reply_null(&ctx->r);
        return;
    }
    nflags = acl_user_flags(u, flags, 4);
    while (acl_user_password(u, npass, hex)) {
        npass++;
    }
    reply_map(&ctx->r, 6);
    reply_bulk_cstr(&ctx->r, "flags");
    reply_array(&ctx->r, nflags);
    for (int i = 0; i < nflags; i++) {
        reply_bulk_cstr(&ctx->r, flags[i]);
    }
    reply_bulk_cstr(&ctx->r, "passwords");
    reply_array(&ctx->r, npass);
    for (int i = 0; acl_user_password(u, i, hex); i++) {
        reply_bulk_cstr(&ctx->r, hex);
    }
    reply_bulk_cstr(&ctx->r, "commands");
    rbuf_init(&b);
    acl_describe_commands(u, &b);
    reply_rbuf(&ctx->r, &b);
    reply_bulk_cstr(&ctx->r, "keys");
    acl_describe_keys(u, &b);
    reply_rbuf(&ctx->r, &b);
    reply_bulk_cstr(&ctx->r, "channels");
    acl_describe_channels(u, &b);
    reply_rbuf(&ctx->r, &b);
    reply_bulk_cstr(&ctx->r, "selectors");
    reply_array(&ctx->r, 0);
}

static void list_one(void *arg, const struct acl_user *u)
{
    struct rbuf b;

    rbuf_init(&b);
    acl_describe(u, &b);
    reply_rbuf(arg, &b);
}

static void name_one(void *arg, const struct acl_user *u)
{
    reply_bulk_cstr(arg, acl_user_name(u));
}

static void cmd_acl_list(struct cmd_ctx *ctx)
{
    reply_array(&ctx->r, (long long)acl_count(ctx->shard->acl));
    acl_each(ctx->shard->acl, list_one, &ctx->r);
}

static void cmd_acl_users(struct cmd_ctx *ctx)
{
    reply_array(&ctx->r, (long long)acl_count(ctx->shard->acl));
    acl_each(ctx->shard->acl, name_one, &ctx->r);
}

static void cmd_acl_whoami(struct cmd_ctx *ctx)
{
    reply_bulk_cstr(&ctx->r, acl_user_name(ctx->conn->user));
}

static void cmd_acl_cat(struct cmd_ctx *ctx)
{
    int cat = -1;
    size_t at;
    long long n = 0;

    if (ctx->argc > 3) {
        reply_subcommand_arity(ctx);
        return;
    }
    if (ctx->argc == 2) {
        reply_array(&ctx->r, cmdtab_acl_count);
        for (int i = 0; i < cmdtab_acl_count; i++) {
            reply_bulk_cstr(&ctx->r, cmdtab_acl_names[i]);
        }
        return;
    }
    for (int i = 0; i < cmdtab_acl_count; i++) {
        if (sh_slice_eq_nocase(ctx->argv[2], cmdtab_acl_names[i])) {
            cat = i;
        }
    }
    if (cat < 0) {
        reply_errorf(&ctx->r, "ERR Unknown category '%.*s'",
                     (int)(ctx->argv[2].len > 128 ? 128 : ctx->argv[2].len), ctx->argv[2].ptr);
        return;
    }
    at = reply_array_begin(&ctx->r);
    for (int id = 1; id < cmdtab_nids(); id++) {
        const struct cmd_spec *c = cmdtab_by_id(id);

        if (c && c->proc && ((c->acl >> cat) & 1)) {
            reply_bulk_cstr(&ctx->r, c->fullname);
            n++;
        }
    }
    reply_array_end(&ctx->r, at, n);
}

static void cmd_acl_genpass(struct cmd_ctx *ctx)
{
    static const char digits[] = "0123456789abcdef";
    long long bits = 256;
    unsigned char rnd[512];
    char hex[1025];
    size_t nchars;

    if (ctx->argc > 3) {
        reply_subcommand_arity(ctx);
        return;
    }
    if (ctx->argc == 3 && !util_str2ll(ctx->argv[2].ptr, ctx->argv[2].len, &bits)) {
        reply_err_notint(&ctx->r);
        return;
    }
    if (bits <= 0 || bits > 4096) {
        reply_error(&ctx->r, "ERR ACL GENPASS argument must be the number of bits for the output "
                             "password, a positive number up to 4096");
        return;
    }
    nchars = (size_t)(bits + 3) / 4;
    if (getrandom(rnd, (nchars + 1) / 2, 0) != (ssize_t)((nchars + 1) / 2)) {
        reply_error(&ctx->r, "ERR could not read random bytes");
        return;
    }
    for (size_t i = 0; i < nchars; i++) {
        hex[i] = digits[(rnd[i / 2] >> (i % 2 ? 0 : 4)) & 15];
    }
    reply_bulk(&ctx->r, hex, nchars);
}

/* ACL DRYRUN user command [arg ...]: would the user be allowed? */
static void cmd_acl_dryrun(struct cmd_ctx *ctx)
{
    const struct acl_user *u = acl_find(ctx->shard->acl, ctx->argv[2].ptr, ctx->argv[2].len);
    const struct sh_slice *argv = ctx->argv + 3;
    int argc = ctx->argc - 3;
    const struct cmd_spec *cmd;
    enum acl_verdict v;
    char msg[256];
    int bad;

    if (!u) {
        reply_errorf(&ctx->r, "ERR User '%.*s' not found", (int)ctx->argv[2].len, ctx->argv[2].ptr);
        return;
    }
    cmd = cmdtab_lookup(argv[0].ptr, argv[0].len);
    if (cmd && cmd->nsubcmds && argc >= 2) {
        cmd = cmdtab_lookup_sub(cmd, argv[1].ptr, argv[1].len);
    }
    if (!cmd) {
        reply_errorf(&ctx->r, "ERR Command '%.*s' not found", (int)argv[0].len, argv[0].ptr);
        return;
    }
    if ((cmd->arity > 0 && argc != cmd->arity) || argc < -cmd->arity) {
        reply_err_arity(&ctx->r, cmd->fullname);
        return;
    }
    v = acl_check_at(u, cmd, argc, argv, &bad);
    /* DRYRUN answers with the reason as a bulk string, naming what failed */
    switch (v) {
    case ACL_OK:
        reply_ok(&ctx->r);
        return;
    case ACL_DENIED_KEY:
    case ACL_DENIED_CHANNEL:
        snprintf(msg, sizeof(msg), "This user has no permissions to access the '%.*s' %s",
                 (int)(argv[bad].len > 128 ? 128 : argv[bad].len), argv[bad].ptr,
                 v == ACL_DENIED_KEY ? "key" : "channel");
        break;
    case ACL_DENIED_CMD:
    default:
        snprintf(msg, sizeof(msg), "This user has no permissions to run the '%s' command",
                 cmd->fullname);
        break;
    }
    reply_bulk_cstr(&ctx->r, msg);
}

static void cmd_acl_load(struct cmd_ctx *ctx)
{
    struct shard *sh = ctx->shard;
    struct acl *fresh;
    char err[1024];

    if (!sh->cfg.aclfile[0]) {
        reply_error(&ctx->r, err_no_aclfile);
        return;
    }
    fresh = acl_load_file(sh->cfg.aclfile, err, sizeof(err));
    if (!fresh) {
        reply_errorf(&ctx->r, "ERR Error loading ACLs from %s: %s", sh->cfg.aclfile, err);
        return;
    }
    acl_replace(sh->acl, fresh, close_user_conns, sh);
    reply_ok(&ctx->r);
}

/* On the client's core only (every copy is the same); blocks it for the
 * write, like CONFIG REWRITE. */
static void cmd_acl_save(struct cmd_ctx *ctx)
{
    if (!ctx->shard->cfg.aclfile[0]) {
        reply_error(&ctx->r, err_no_aclfile);
        return;
    }
    if (acl_save_file(ctx->shard->acl, ctx->shard->cfg.aclfile) != 0) {
        reply_error(&ctx->r, "ERR There was an error trying to save the ACLs. Please check the "
                             "server logs for more information");
        return;
    }
    reply_ok(&ctx->r);
}

/* ---- ACL LOG ---- */

/*
 * Each core logs the denials of its own clients (acl_log.h). ACL LOG fans
 * out: every core answers its whole log (at most acllog-max-len entries,
 * newest first) as an array of
 *   [ctime-ns, count, reason, context, object, username, client-info]
 * and the coordinator merges them by time, newest first, keeping count,
 * then writes Redis's maps in the client's protocol. RESET empties every
 * core's log.
 */

static const char *const log_reasons[] = { "command", "key", "channel", "auth" };
static const char *const log_contexts[] = { "toplevel", "multi", "lua" };

/* The log's client-info: a CLIENT LIST line without its newline. */
static void log_client_line(struct rbuf *b, const struct conn *c, int64_t now_ms)
{
    cmd_client_line(b, c, now_ms, false);
}

static bool log_in_multi(const struct conn *c)
{
    return multi_queued(c) >= 0;
}

/* ACL LOG [count|RESET]: the count (default 10, negative means 0), or -1
 * for RESET; false after writing the error. */
static bool log_args(struct cmd_ctx *ctx, const struct sh_slice *argv, int argc, long long *count)
{
    *count = 10;
    if (argc > 3) {
        if (ctx) {
            reply_subcommand_arity(ctx);
        }
        return false;
    }
    if (argc == 3) {
        if (sh_slice_eq_nocase(argv[2], "reset")) {
            *count = -1;
            return true;
        }
        if (!util_str2ll(argv[2].ptr, argv[2].len, count)) {
            if (ctx) {
                reply_err_notint(&ctx->r);
            }
            return false;
        }
        if (*count < 0) {
            *count = 0;
        }
    }
    return true;
}

/* This core's part (see above). */
static void cmd_acl_log(struct cmd_ctx *ctx)
{
    long long count;
    size_t at;
    long long n = 0;

    if (!log_args(ctx, ctx->argv, ctx->argc, &count)) {
        return;
    }
    if (count < 0) {
        acl_log_reset();
        reply_ok(&ctx->r);
        return;
    }
    at = reply_array_begin(&ctx->r);
    for (const struct acl_log_entry *e = acl_log_first(); e && n < count; e = e->next, n++) {
        reply_array(&ctx->r, 7);
        reply_int(&ctx->r, e->ctime_ns);
        reply_int(&ctx->r, e->count);
        reply_int(&ctx->r, e->reason);
        reply_int(&ctx->r, e->context);
        reply_bulk(&ctx->r, e->object, e->object_len);
        reply_bulk(&ctx->r, e->username, e->username_len);
        reply_bulk(&ctx->r, e->cinfo, e->cinfo_len);
    }
    reply_array_end(&ctx->r, at, n);
}

struct log_cursor {
    struct sh_slice p;
    size_t pos;
    long long left;
};

/* The ctime of the cursor's next entry, without moving it. */
static bool log_peek(const struct log_cursor *cu, long long *ctime)
{
    size_t pos = cu->pos;
    long long n;

    return cu->left > 0 && coord_read_header(cu->p, &pos, '*', &n) && n == 7 &&
           coord_read_header(cu->p, &pos, ':', ctime);
}

/* Writes the cursor's next entry as Redis's map, age from now. */
static bool log_take(struct log_cursor *cu, struct reply *r, int64_t now)
{
    long long n, ctime, count, reason, context;
    struct sh_slice object, user, cinfo;

    if (!coord_read_header(cu->p, &cu->pos, '*', &n) ||
        !coord_read_header(cu->p, &cu->pos, ':', &ctime) ||
        !coord_read_header(cu->p, &cu->pos, ':', &count) ||
        !coord_read_header(cu->p, &cu->pos, ':', &reason) ||
        !coord_read_header(cu->p, &cu->pos, ':', &context) ||
        !coord_read_bulk(cu->p, &cu->pos, &object) || !coord_read_bulk(cu->p, &cu->pos, &user) ||
        !coord_read_bulk(cu->p, &cu->pos, &cinfo) || reason < 0 || reason > 3 || context < 0 ||
        context > 2) {
        return false;
    }
    cu->left--;
    reply_map(r, 7);
    reply_bulk_cstr(r, "count");
    reply_int(r, count);
    reply_bulk_cstr(r, "reason");
    reply_bulk_cstr(r, log_reasons[reason]);
    reply_bulk_cstr(r, "context");
    reply_bulk_cstr(r, log_contexts[context]);
    reply_bulk_cstr(r, "object");
    reply_bulk(r, object.ptr, object.len);
    reply_bulk_cstr(r, "username");
    reply_bulk(r, user.ptr, user.len);
    reply_bulk_cstr(r, "age-seconds");
    /* in ms, as Redis's mstime() */
    reply_double(r, (double)(now / 1000000 - ctime / 1000000) / 1000);
    reply_bulk_cstr(r, "client-info");
    reply_bulk(r, cinfo.ptr, cinfo.len);
    return true;
}

/* Merges every core's log, newest first (ties: the lower core first). */
static bool done_acl_log(struct coord *co, struct reply *r)
{
    struct sh_slice err = coord_first_error(co);
    struct log_cursor *cu;
    long long count, total = 0;
    int64_t now;

    if (err.len) {
        reply_raw(r, err.ptr, err.len);
        return true;
    }
    SH_ASSERT(log_args(NULL, co->argv, co->argc, &count));
    if (count < 0) {
        reply_ok(r);
        return true;
    }
    now = acl_log_now_ns();
    cu = sh_malloc(sizeof(*cu) * (size_t)co->nshards);
    for (int s = 0; s < co->nshards; s++) {
        cu[s] = (struct log_cursor){ .p = coord_part(co, s) };
        if (!coord_read_header(cu[s].p, &cu[s].pos, '*', &cu[s].left)) {
            cu[s].left = 0;
        }
        total += cu[s].left;
    }
    /* each core keeps its newest acllog-max-len: the newest of all are here */
    total = total < count ? total : count;
    total = total < co->conn->sh->cfg.acllog_max_len ? total : co->conn->sh->cfg.acllog_max_len;
    reply_array(r, total);
    for (long long k = 0; k < total; k++) {
        long long best_t = 0, t;
        int best = -1;

        for (int s = 0; s < co->nshards; s++) {
            if (log_peek(&cu[s], &t) && (best < 0 || t > best_t)) {
                best = s;
                best_t = t;
            }
        }
        bool ok = best >= 0 && log_take(&cu[best], r, now);
        SH_ASSERT(ok); /* the parts are this file's own replies */
    }
    sh_free(cu);
    return true;
}

static const struct gather gather_acl_log = { .start = coord_start_fanout,
                                              .done = done_acl_log,
                                              .always = true };

static void cmd_acl_help(struct cmd_ctx *ctx)
{
    /* clang-format off: one literal per line (clang warns on concatenation) */
    static const char *const lines[] = {
        "ACL <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
        "CAT [<category>]",
        "    List all commands that belong to <category>, or all command categories",
        "    when no category is specified.",
        "DELUSER <username> [<username> ...]",
        "    Delete a list of users.",
        "DRYRUN <username> <command> [<arg> ...]",
        "    Returns whether the user can execute the given command without executing the command.",
        "GETUSER <username>",
        "    Get the user's details.",
        "GENPASS [<bits>]",
        "    Generate a secure 256-bit user password. The optional `bits` argument can",
        "    be used to specify a different size.",
        "LIST",
        "    Show users details in config file format.",
        "LOAD",
        "    Reload users from the ACL file.",
        "LOG [<count> | RESET]",
        "    Show the ACL log entries.",
        "SAVE",
        "    Save the current config to the ACL file.",
        "SETUSER <username> <attribute> [<attribute> ...]",
        "    Create or modify a user with the specified attributes.",
        "USERS",
        "    List all the registered usernames.",
        "WHOAMI",
        "    Return the current connection username.",
        "HELP",
        "    Print this help.",
    };
    /* clang-format on */

    reply_array(&ctx->r, (long long)SH_ARRAY_LEN(lines));
    for (size_t i = 0; i < SH_ARRAY_LEN(lines); i++) {
        reply_status(&ctx->r, lines[i]);
    }
}

void cmd_acl_bind(void)
{
    cmd_must_bind("acl|setuser", cmd_acl_setuser, CMD_ROUTE_ALL, &gather_ok_every);
    cmd_must_bind("acl|deluser", cmd_acl_deluser, CMD_ROUTE_ALL, &gather_same);
    cmd_must_bind("acl|load", cmd_acl_load, CMD_ROUTE_ALL, &gather_ok_every);
    cmd_must_bind("acl|getuser", cmd_acl_getuser, CMD_ROUTE_CONN, NULL);
    cmd_must_bind("acl|list", cmd_acl_list, CMD_ROUTE_CONN, NULL);
    cmd_must_bind("acl|users", cmd_acl_users, CMD_ROUTE_CONN, NULL);
    cmd_must_bind("acl|whoami", cmd_acl_whoami, CMD_ROUTE_CONN, NULL);
    cmd_must_bind("acl|cat", cmd_acl_cat, CMD_ROUTE_CONN, NULL);
    cmd_must_bind("acl|genpass", cmd_acl_genpass, CMD_ROUTE_CONN, NULL);
    cmd_must_bind("acl|dryrun", cmd_acl_dryrun, CMD_ROUTE_CONN, NULL);
    cmd_must_bind("acl|save", cmd_acl_save, CMD_ROUTE_CONN, NULL);
    cmd_must_bind("acl|help", cmd_acl_help, CMD_ROUTE_CONN, NULL);
    cmd_must_bind("acl|log", cmd_acl_log, CMD_ROUTE_ALL, &gather_acl_log);
    acl_log_hooks.describe = log_client_line;
    acl_log_hooks.in_multi = log_in_multi;
}
