/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * cmd_persist.c: SAVE, BGSAVE [SCHEDULE], LASTSAVE, and the snapshot side of
 * SHUTDOWN and DEBUG RELOAD (persist.h does the work).
 *
 * Every one of them is a coordinator over every shard whole (an all-shard
 * transaction), so the snapshot begins on all shards at one point of the
 * transaction order: a MULTI/EXEC or script that spans shards is in the file
 * whole or not at all.
 *
 *   start:  claim + header (persist_snap_prepare), __snapbegin to every shard
 *   BGSAVE: replies "Background saving started" at once
 *   SAVE, SHUTDOWN, DEBUG RELOAD: keep the locks (coord_park_locked) until
 *           the snapshot's end, as Redis's SAVE blocks the server; RELOAD
 *           then sends __rdbload to every shard (empty, load its keys).
 *   SHUTDOWN with a snapshot already running waits for its end, then takes
 *           its own.
 */
#include "shardis/aof.h"
#include "shardis/cmd.h"
#include "shardis/cmd_bind.h"
#include "shardis/cmdtab.h"
#include "shardis/conn.h"
#include "shardis/log.h"
#include "shardis/persist.h"
#include "shardis/repl.h"
#include "shardis/reply.h"
#include "shardis/route.h"
#include "shardis/shard.h"

#include <stdio.h>
#include <string.h>
#include <strings.h>

enum save_op { OP_BGSAVE, OP_SAVE, OP_RELOAD, OP_SHUTDOWN, OP_FLUSHALL };
enum save_phase {
    PH_NONE,
    PH_PREPARED,
    PH_REFUSED,
    PH_WAIT_OTHER,
    PH_BEGUN,
    PH_SAVING,
    PH_LOADING,
    PH_FLUSHING,
};

struct save_job {
    enum save_op op;
    enum save_phase phase;
    bool ok;
    bool ended;  /* the snapshot it waits for ended (ok says how) */
    bool parked; /* the coordinator waits for that */
    bool save;   /* RELOAD: save first (not NOSAVE) */
    bool force;  /* SHUTDOWN FORCE */
    char err[160];
};

static void cmd_snapbegin_part(struct cmd_ctx *ctx)
{
    persist_snap_begin(ctx->shard);
    reply_ok(&ctx->r);
}

static void cmd_rdbload_part(struct cmd_ctx *ctx)
{
    char err[512];

    if (persist_load_here(ctx->shard, err, sizeof(err)) != 0) {
        sh_log(LOG_WARNING, "%s", err);
        reply_errorf(&ctx->r, "ERR Error trying to load the RDB dump: %s", err);
        return;
    }
    reply_ok(&ctx->r);
}

static const struct cmd_spec spec_snapbegin = {
    .name = "__snapbegin", .fullname = "__snapbegin", .arity = 1, .proc = cmd_snapbegin_part
};
static const struct cmd_spec spec_rdbload = {
    .name = "__rdbload", .fullname = "__rdbload", .arity = 1, .proc = cmd_rdbload_part
};

static void send_all(struct coord *co, const struct cmd_spec *spec)
{
    struct sh_slice argv[1] = { { spec->name, strlen(spec->name) } };

    if (spec == &spec_rdbload) {
        persist_load_stats_reset(co->conn->sh);
    }

    for (int i = 0; i < co->nshards; i++) {
        coord_send(co, i, spec, co->dbid, 1, argv);
    }
}

static void on_snap_end(void *arg, bool ok)
{
    struct coord *co = arg;
    struct save_job *j = co->ext;

    j->ok = ok;
    j->ended = true;
    if (j->parked) {
        j->parked = false;
        coord_wake_locked(co);
    }
}

/* Waits (keeping the locks) for on_snap_end. */
static bool park(struct coord *co, struct save_job *j)
{
    j->parked = true;
    coord_park_locked(co);
    return false;
}

/* Claims the snapshot and sends the begin to every shard; false when it is
 * refused (j->err says why). The end is watched from here on: a small
 * snapshot can end before every begin part has answered. */
static bool try_begin(struct coord *co, struct save_job *j)
{
    if (persist_snap_prepare(co->conn->sh, j->err, sizeof(j->err)) != 0) {
        j->phase = PH_REFUSED;
        return false;
    }
    j->ended = false;
    if (j->op != OP_BGSAVE) {
        persist_snap_wait(co->conn->sh, on_snap_end, co);
    }
    send_all(co, &spec_snapbegin);
    j->phase = PH_BEGUN;
    return true;
}

static void save_start(struct coord *co)
{
    struct save_job *j = co->ext;

    if (!j) {
        /* FLUSHALL (routed to every shard with this gather): the flush on
         * every shard, then, with save points, the save of the empty data
         * under the same locks, as Redis's flushAllDataAndResetRDB */
        j = co->ext = sh_calloc(1, sizeof(*j));
        j->op = OP_FLUSHALL;
        j->phase = PH_FLUSHING;
        coord_fanout(co, co->cmd);
        return;
    }
    if (j->op == OP_RELOAD && !j->save) {
        send_all(co, &spec_rdbload);
        j->phase = PH_LOADING;
        return;
    }
    if (j->phase == PH_PREPARED) {
        send_all(co, &spec_snapbegin); /* BGSAVE claimed it in its handler */
        j->phase = PH_BEGUN;
        return;
    }
    try_begin(co, j);
}

/* SHUTDOWN's end: the server stops (no reply, as Redis), or stays with an
 * error when the save failed without FORCE. */
static void shutdown_now(struct coord *co, struct reply *r, bool saved)
{
    struct save_job *j = co->ext;
    struct conn *c = co->conn;

    if (!saved && !j->force) {
        sh_log(LOG_WARNING, "Error trying to save the DB, can't exit.");
        reply_error(r, "ERR Errors trying to SHUTDOWN. Check logs.");
        return;
    }
    sh_log(LOG_WARNING, "%s", saved ? "DB saved on disk: exiting." : "Exiting without a save.");
    shard_shutdown_from(c->sh);
    if (!(c->flags & CONN_INTERNAL)) {
        conn_close(c);
    }
}

static bool job_end(struct coord *co, struct reply *r, bool ok)
{
    struct save_job *j = co->ext;

    switch (j->op) {
    case OP_BGSAVE:
        if (ok) {
            reply_status(r, "Background saving started");
        } else {
            reply_error(r, j->err);
        }
        break;
    case OP_SAVE:
        if (ok) {
            reply_ok(r);
        } else {
            reply_error(r, j->err[0] ? j->err : "ERR");
        }
        break;
    case OP_RELOAD:
        reply_error(r, "ERR Error trying to save the DB");
        break;
    case OP_SHUTDOWN:
        shutdown_now(co, r, ok);
        break;
    case OP_FLUSHALL:
        reply_ok(r); /* whatever the save did, as Redis */
        break;
    }
    sh_free(j);
    co->ext = NULL;
    return true;
}

static bool save_done(struct coord *co, struct reply *r)
{
    struct save_job *j = co->ext;
    struct shard *sh = co->conn->sh;
    struct sh_slice e;

    switch (j->phase) {
    case PH_REFUSED:
        if ((j->op == OP_SHUTDOWN || j->op == OP_FLUSHALL) &&
            persist_snap_wait(sh, on_snap_end, co)) {
            j->phase = PH_WAIT_OTHER; /* the running one ends first */
            j->ended = false;
            return park(co, j);
        }
        return job_end(co, r, false);
    case PH_WAIT_OTHER:
        return try_begin(co, j) ? false : job_end(co, r, false);
    case PH_BEGUN:
        if (j->op == OP_BGSAVE) {
            return job_end(co, r, true);
        }
        j->phase = PH_SAVING;
        if (!j->ended) {
            return park(co, j);
        }
        __attribute__((fallthrough)); /* it ended already */
    case PH_SAVING:
        if (j->op == OP_RELOAD && j->ok) {
            send_all(co, &spec_rdbload);
            j->phase = PH_LOADING;
            return false;
        }
        return job_end(co, r, j->ok);
    case PH_NONE:
    case PH_PREPARED:
        break;
    case PH_FLUSHING:
        e = coord_first_error(co);
        if (e.len || co->parent || !persist_has_save_points(sh)) {
            /* no save points (or inside EXEC): the flush is all */
            if (e.len) {
                reply_raw(r, e.ptr, e.len);
            } else {
                reply_ok(r);
            }
            sh_free(j);
            co->ext = NULL;
            return true;
        }
        if (try_begin(co, j)) {
            return false;
        }
        /* a snapshot the flush stopped is still winding down: after it */
        if (persist_snap_wait(sh, on_snap_end, co)) {
            j->phase = PH_WAIT_OTHER;
            return park(co, j);
        }
        return job_end(co, r, false);
    case PH_LOADING:
        e = coord_first_error(co);
        if (e.len) {
            reply_raw(r, e.ptr, e.len);
        } else {
            reply_ok(r);
        }
        sh_free(j);
        co->ext = NULL;
        return true;
    }
    return job_end(co, r, false);
}

static const struct gather gather_save = {
    .start = save_start,
    .done = save_done,
    .barrier = true,
    .txn_all = true,
};

/* FLUSHALL's: every shard even with one (the save stage needs the gather). */
const struct gather cmd_persist_gather_flushall = {
    .start = save_start,
    .done = save_done,
    .always = true,
    .barrier = true,
    .txn_all = true,
};

static void start_job(struct conn *c, const struct cmd_spec *cmd, enum save_op op, bool save,
                      bool force, enum save_phase phase)
{
    struct save_job *j = sh_calloc(1, sizeof(*j));

    j->op = op;
    j->save = save;
    j->force = force;
    j->phase = phase;
    coord_start_txn(c, cmd, &gather_save, j, 0, 0, NULL, true);
}

static bool is(const struct sh_slice a, const char *w)
{
    return a.len == strlen(w) && strncasecmp(a.ptr, w, a.len) == 0;
}

static void cmd_save(struct cmd_ctx *ctx)
{
    start_job(ctx->conn, ctx->cmd, OP_SAVE, true, false, PH_NONE);
}

/* BGSAVE claims the snapshot now and replies; the begin runs as the
 * server's own client's transaction, so inside EXEC it comes after the
 * EXEC (Redis's "scheduled"), and from the save points it needs no user. */
static void cmd_bgsave(struct cmd_ctx *ctx)
{
    char err[160];

    if (ctx->argc > 2 || (ctx->argc == 2 && !is(ctx->argv[1], "SCHEDULE"))) {
        reply_err_syntax(&ctx->r);
        return;
    }
    if (persist_snap_prepare(ctx->shard, err, sizeof(err)) != 0) {
        reply_error(&ctx->r, err);
        return;
    }
    start_job(conn_internal(ctx->shard), ctx->cmd, OP_BGSAVE, true, false, PH_PREPARED);
    reply_status(&ctx->r, "Background saving started");
}

/* Replication's full sync (repl.h): a BGSAVE whose begin marks every
 * shard's records. */
static int bgsave_marked(struct shard *sh, long mark, persist_sink_fn *sink, char *err,
                         size_t errlen)
{
    if (persist_snap_prepare(sh, err, errlen) != 0) {
        return -1;
    }
    persist_snap_set_mark(sh->srv, mark);
    persist_snap_set_sink(sh->srv, sink);
    start_job(conn_internal(sh), cmdtab_lookup("bgsave", 6), OP_BGSAVE, true, false, PH_PREPARED);
    return 0;
}

/* BGREWRITEAOF: a snapshot into the AOF's next base (aof.h); scheduled
 * while a snapshot runs, started from shard 0's cron when it ends. */
static void cmd_bgrewriteaof(struct cmd_ctx *ctx)
{
    char err[160];
    int rc;

    if (!aof_logging(ctx->shard) && !ctx->shard->cfg.appendonly) {
        reply_error(&ctx->r, "ERR shardis: BGREWRITEAOF needs appendonly yes");
        return;
    }
    rc = aof_rewrite_start(ctx->shard, err, sizeof(err));
    if (rc < 0) {
        reply_error(&ctx->r, err);
        return;
    }
    if (rc == 1) {
        reply_status(&ctx->r, "Background append only file rewriting scheduled");
        return;
    }
    start_job(conn_internal(ctx->shard), ctx->cmd, OP_BGSAVE, true, false, PH_PREPARED);
    reply_status(&ctx->r, "Background append only file rewriting started");
}

static void cmd_lastsave(struct cmd_ctx *ctx)
{
    struct persist_status st;

    persist_status(ctx->shard, &st);
    reply_int(&ctx->r, st.last_save_time);
}

void cmd_persist_reload(struct cmd_ctx *ctx, bool save)
{
    start_job(ctx->conn, ctx->cmd, OP_RELOAD, save, false, PH_NONE);
}

void cmd_persist_shutdown(struct cmd_ctx *ctx, bool force)
{
    start_job(ctx->conn, ctx->cmd, OP_SHUTDOWN, true, force, PH_NONE);
}

void cmd_persist_bind(void)
{
    cmd_must_bind("save", cmd_save, CMD_ROUTE_CONN, NULL);
    cmd_must_bind("bgsave", cmd_bgsave, CMD_ROUTE_CONN, NULL);
    cmd_must_bind("lastsave", cmd_lastsave, CMD_ROUTE_CONN, NULL);
    cmd_must_bind("bgrewriteaof", cmd_bgrewriteaof, CMD_ROUTE_CONN, NULL);
    repl_bgsave = bgsave_marked;
}
