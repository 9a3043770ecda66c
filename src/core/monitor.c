/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * monitor.c: MONITOR (see monitor.h for the design).
 *
 * The line of one command is built once, on the core of the client that
 * sent it, when the command is dispatched (so a monitor sees commands in the
 * order each client sent them; lines of clients on different cores
 * interleave as they reach the monitor's core). Redis feeds monitors after
 * the command ran; the difference shows only for a monitor's own commands.
 *
 *   client's core: format "+t [db addr] \"a\" \"b\"\r\n"
 *        -> its own monitors (written at once)
 *        -> __monitor <line> posted to every other core with monitors
 *
 * Counters (in struct server, mailbox-module atomics): the total, read on
 * every command, and one per core, read only when the total is non-zero.
 * They change only when a client starts or stops monitoring.
 */
#include "shardis/monitor.h"

#include "shardis/cmd.h"
#include "shardis/cmdtab.h"
#include "shardis/conn.h"
#include "shardis/mbox.h"
#include "shardis/reply.h"
#include "shardis/route.h"
#include "shardis/shard.h"

#include <stdio.h>
#include <string.h>

static struct server *server_of(struct shard *sh)
{
    return (struct server *)sh->srv;
}

bool monitor_active(struct shard *sh)
{
    return mbox_counter_get(&server_of(sh)->monitors) > 0;
}

/* Redis's sdscatrepr: a quoted, escaped argument. */
static void append_repr(struct rbuf *b, const char *p, size_t n)
{
    rbuf_append(b, "\"", 1);
    for (size_t i = 0; i < n; i++) {
        unsigned char ch = (unsigned char)p[i];
        char esc[5];

        switch (ch) {
        case '\\':
        case '"':
            esc[0] = '\\';
            esc[1] = (char)ch;
            rbuf_append(b, esc, 2);
            break;
        case '\n':
            rbuf_append(b, "\\n", 2);
            break;
        case '\r':
            rbuf_append(b, "\\r", 2);
            break;
        case '\t':
            rbuf_append(b, "\\t", 2);
            break;
        case '\a':
            rbuf_append(b, "\\a", 2);
            break;
        case '\b':
            rbuf_append(b, "\\b", 2);
            break;
        default:
            if (ch >= 0x20 && ch < 0x7f) {
                rbuf_append(b, &p[i], 1);
            } else {
                snprintf(esc, sizeof(esc), "\\x%02x", ch);
                rbuf_append(b, esc, 4);
            }
            break;
        }
    }
    rbuf_append(b, "\"", 1);
}

bool monitor_migrate_secret(int argc, const struct sh_slice *argv, int i)
{
    /* MIGRATE host port key db timeout [COPY] [REPLACE] [AUTH pw]
     * [AUTH2 user pw] [KEYS ...]: Redis 7.0 redacts AUTH's password and
     * both words of AUTH2 */
    for (int j = 6; j < argc && j < i; j++) {
        if (sh_slice_eq_nocase(argv[j], "keys")) {
            return false;
        }
        if (sh_slice_eq_nocase(argv[j], "auth")) {
            if (i == j + 1) {
                return true;
            }
            j++;
        } else if (sh_slice_eq_nocase(argv[j], "auth2")) {
            if (i == j + 1 || i == j + 2) {
                return true;
            }
            j += 2;
        }
    }
    return false;
}

/* Arguments Redis 7.0 shows as "(redacted)": AUTH's, HELLO's after AUTH,
 * MIGRATE's credentials. */
static bool redacted(const struct cmd_spec *cmd, int argc, const struct sh_slice *argv, int i)
{
    if (!strcmp(cmd->fullname, "auth")) {
        return i >= 1;
    }
    if (!strcmp(cmd->fullname, "migrate")) {
        return monitor_migrate_secret(argc, argv, i);
    }
    if (!strcmp(cmd->fullname, "hello")) {
        for (int j = 2; j < argc && j < i; j++) {
            if (sh_slice_eq_nocase(argv[j], "auth") && i <= j + 2) {
                return true;
            }
        }
    }
    return false;
}

static void format_line(struct rbuf *b, const struct conn *c, const struct cmd_spec *cmd, int argc,
                        const struct sh_slice *argv)
{
    char head[128];
    int64_t us = sh_time_us();
    int n = snprintf(head, sizeof(head), "+%lld.%06lld [%d %s]", (long long)(us / 1000000),
                     (long long)(us % 1000000), c->db, c->addr);

    rbuf_append(b, head, (size_t)n);
    for (int i = 0; i < argc; i++) {
        rbuf_append(b, " ", 1);
        if (redacted(cmd, argc, argv, i)) {
            rbuf_append(b, "\"(redacted)\"", 12);
        } else {
            append_repr(b, argv[i].ptr, argv[i].len);
        }
    }
    rbuf_append(b, "\r\n", 2);
}

/* Writes the line to this core's monitors. Backwards: a monitor over its
 * output limit is closed, and leaving the list swaps the last one in. */
static void deliver_local(struct shard *sh, const char *line, size_t len, const struct conn *skip)
{
    for (int i = sh->nmonitors - 1; i >= 0; i--) {
        struct conn *m = sh->monitors[i];
        struct reply r;
        struct reply *w = m == skip ? NULL : conn_push_begin(m, &r);

        if (w) {
            reply_raw(w, line, len);
            conn_push_end(m);
        }
    }
}

/* __monitor <line>: on a core with monitors. */
static void cmd_monitor_deliver(struct cmd_ctx *ctx)
{
    deliver_local(ctx->shard, ctx->argv[1].ptr, ctx->argv[1].len, NULL);
}

static struct cmd_spec spec_deliver = {
    .name = "__monitor", .fullname = "__monitor", .arity = 2, .proc = cmd_monitor_deliver
};

void monitor_feed(struct conn *c, const struct cmd_spec *cmd, int argc, const struct sh_slice *argv)
{
    struct shard *sh = c->sh;
    struct server *srv = server_of(sh);
    struct rbuf line;

    if (cmd->flags & (CMD_SKIP_MONITOR | CMD_ADMIN)) {
        return;
    }
    rbuf_init(&line);
    format_line(&line, c, cmd, argc, argv);
    /* Redis feeds after the command ran: a monitor's own RESET ends its
     * monitoring before its line would be written */
    deliver_local(sh, line.data, line.len, strcmp(cmd->fullname, "reset") ? NULL : c);
    for (int s = 0; s < srv->nshards; s++) {
        if (s != sh->id && mbox_counter_get(&srv->monitors_at[s]) > 0) {
            struct sh_slice a[2] = { { "__monitor", 9 }, { line.data, line.len } };

            route_post(sh, s, &spec_deliver, 0, 2, a);
        }
    }
    rbuf_fini(&line);
}

static void monitor_add(struct conn *c)
{
    struct shard *sh = c->sh;

    sh->monitors = sh_realloc(sh->monitors, sizeof(*sh->monitors) * (size_t)(sh->nmonitors + 1));
    sh->monitors[sh->nmonitors++] = c;
    c->flags |= CONN_MONITOR;
    mbox_counter_add(&server_of(sh)->monitors_at[sh->id], 1);
    mbox_counter_add(&server_of(sh)->monitors, 1);
}

void monitor_conn_gone(struct conn *c)
{
    struct shard *sh = c->sh;

    if (!(c->flags & CONN_MONITOR)) {
        return;
    }
    for (int i = 0; i < sh->nmonitors; i++) {
        if (sh->monitors[i] == c) {
            sh->monitors[i] = sh->monitors[--sh->nmonitors];
            break;
        }
    }
    c->flags &= ~CONN_MONITOR;
    mbox_counter_add(&server_of(sh)->monitors, -1);
    mbox_counter_add(&server_of(sh)->monitors_at[sh->id], -1);
}

static void cmd_monitor(struct cmd_ctx *ctx)
{
    if (ctx->conn->flags & CONN_MONITOR) {
        return; /* as Redis: a second MONITOR is ignored, without a reply */
    }
    monitor_add(ctx->conn);
    reply_ok(&ctx->r);
}

void monitor_bind(void)
{
    cmd_must_bind("monitor", cmd_monitor, CMD_ROUTE_CONN, NULL);
}
