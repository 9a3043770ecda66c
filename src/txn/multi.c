/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * multi.c: MULTI/EXEC/DISCARD/WATCH/UNWATCH (see multi.h).
 *
 * The connection's state (struct multi) lives on its core: the queue (each
 * command with its arguments in one allocation) and the keys it watches,
 * with their owners, so that UNWATCH knows whom to tell.
 */
#include "shardis/multi.h"

#include "shardis/cmd.h"
#include "shardis/cmdtab.h"
#include "shardis/conn.h"
#include "shardis/eval.h"
#include "shardis/reply.h"
#include "shardis/route.h"
#include "shardis/sched.h"
#include "shardis/shard.h"
#include "shardis/watch.h"

#include <stdio.h>
#include <string.h>

#define MULTI_STACK_KEYS 16

struct mcmd {
    const struct cmd_spec *cmd;
    int argc;
    struct sh_slice argv[]; /* then the argument bytes */
};

struct wkey {
    int dbid;
    int owner;
    struct sh_slice key; /* owned */
};

struct multi {
    bool active; /* between MULTI and EXEC/DISCARD */
    bool doomed; /* a command was refused: EXECABORT */
    int n, cap;
    struct mcmd **q;
    int nw, capw;
    struct wkey *w;
};

/* ---- the connection's state ---- */

static struct multi *state(struct conn *c)
{
    if (!c->multi) {
        c->multi = sh_calloc(1, sizeof(struct multi));
    }
    return c->multi;
}

static void queue_free(struct mcmd **q, int n)
{
    for (int i = 0; i < n; i++) {
        sh_free(q[i]);
    }
    sh_free(q);
}

static void discard(struct multi *m)
{
    queue_free(m->q, m->n);
    m->q = NULL;
    m->n = m->cap = 0;
    m->active = false;
    m->doomed = false;
}

static int owner_of(const struct shard *sh, struct sh_slice key)
{
    uint64_t h;

    return shard_owner(sh->srv->nshards, key.ptr, key.len, &h);
}

/* Tells the owners of a batch of keys (same database) what to do. */
static void post_keys(struct shard *sh, const struct cmd_spec *spec, uint64_t id, int dbid,
                      int owner, int nkeys, const struct sh_slice *keys)
{
    struct sh_slice stack[MULTI_STACK_KEYS + 2];
    struct sh_slice *argv = nkeys + 2 <= (int)SH_ARRAY_LEN(stack)
                                    ? stack
                                    : sh_malloc(sizeof(*argv) * (size_t)(nkeys + 2));
    char idbuf[24];

    argv[0] = (struct sh_slice){ spec->name, strlen(spec->name) };
    argv[1] = (struct sh_slice){ idbuf, (size_t)snprintf(idbuf, sizeof(idbuf), "%llu",
                                                         (unsigned long long)id) };
    memcpy(argv + 2, keys, sizeof(*keys) * (size_t)nkeys);
    route_post(sh, owner, spec, dbid, nkeys + 2, argv);
    if (argv != stack) {
        sh_free(argv);
    }
}

static void unwatch_all(struct conn *c)
{
    struct multi *m = c->multi;

    if (!m) {
        return;
    }
    for (int i = 0; i < m->nw; i++) {
        post_keys(c->sh, &watch_spec_unwatch, c->id, m->w[i].dbid, m->w[i].owner, 1, &m->w[i].key);
        sh_free((char *)m->w[i].key.ptr);
    }
    sh_free(m->w);
    m->w = NULL;
    m->nw = m->capw = 0;
}

void multi_reset(struct conn *c)
{
    if (c->multi) {
        unwatch_all(c);
        discard(c->multi);
    }
}

int multi_queued(const struct conn *c)
{
    const struct multi *m = c->multi;

    return m && m->active ? m->n : -1;
}

/* ---- hooks ---- */

static bool is_exempt(const struct cmd_spec *cmd)
{
    static const char *const names[] = { "exec", "discard", "multi", "watch", "quit", "reset" };

    for (size_t i = 0; i < SH_ARRAY_LEN(names); i++) {
        if (!strcmp(cmd->fullname, names[i])) {
            return true;
        }
    }
    return false;
}

static bool hook_queue(struct conn *c, const struct cmd_spec *cmd, int argc,
                       const struct sh_slice *argv)
{
    struct multi *m = c->multi;
    struct reply r;
    struct mcmd *q;
    size_t bytes = 0;
    char *p;

    if (!m->active || is_exempt(cmd)) {
        return false;
    }
    r = conn_reply(c);
    if (cmd->flags & CMD_NO_MULTI) {
        reply_error(&r, "ERR Command not allowed inside a transaction");
        shard_count_error(c->sh, "-ERR", 4);
        m->doomed = true;
        return true;
    }
    for (int i = 0; i < argc; i++) {
        bytes += argv[i].len;
    }
    q = sh_malloc(sizeof(*q) + sizeof(struct sh_slice) * (size_t)argc + bytes);
    q->cmd = cmd;
    q->argc = argc;
    p = (char *)(q->argv + argc);
    for (int i = 0; i < argc; i++) {
        memcpy(p, argv[i].ptr, argv[i].len);
        q->argv[i] = (struct sh_slice){ p, argv[i].len };
        p += argv[i].len;
    }
    if (m->n == m->cap) {
        m->cap = m->cap ? m->cap * 2 : 8;
        m->q = sh_realloc(m->q, sizeof(*m->q) * (size_t)m->cap);
    }
    m->q[m->n++] = q;
    reply_status(&r, "QUEUED");
    return true;
}

static void hook_refused(struct conn *c)
{
    struct multi *m = c->multi;

    if (m->active) {
        m->doomed = true;
    }
}

static void hook_gone(struct conn *c)
{
    multi_reset(c);
    sh_free(c->multi);
    c->multi = NULL;
}

/* ---- running the queue ---- */

/* Runs q on this core for connection c, its reply appended to out. */
static void run_here(struct conn *c, const struct mcmd *q, struct rbuf *out)
{
    route_exec_into(c->sh, c, q->cmd, c->db, q->argc, q->argv, out, c->proto);
}

static void reply_crossslot(struct rbuf *out, int proto)
{
    struct reply r = { .buf = out, .proto = proto };

    reply_error(&r, "CROSSSLOT Keys in request don't hash to the same slot");
}

/* The state of an EXEC that runs as a coordinator. */
struct exec_run {
    struct mcmd **q;
    int n, i;
    int nw;
    struct wkey *w; /* copies of the watched keys (for the check) */
    bool checking;
    int awaiting; /* -1 nothing, -2 a nested coordinator, else the part's shard */
    struct rbuf acc;
};

static void exec_run_free(struct exec_run *x)
{
    queue_free(x->q, x->n);
    for (int i = 0; i < x->nw; i++) {
        sh_free((char *)x->w[i].key.ptr);
    }
    sh_free(x->w);
    rbuf_fini(&x->acc);
    sh_free(x);
}

static void exec_start(struct coord *co)
{
    struct exec_run *x = co->ext;
    int nshards = co->nshards;

    co->part_proto = (uint8_t)co->proto; /* parts reply as the client reads them */
    co->txn_nowrite = true;
    for (int i = 0; i < x->n; i++) {
        co->txn_nowrite &= !(x->q[i]->cmd->flags & CMD_WRITE); /* AOF: nothing to make whole */
    }
    x->awaiting = -1;
    x->checking = x->nw > 0;
    if (!x->checking) {
        return; /* no watch: nothing to check, nothing to unwatch */
    }
    struct sh_slice *argv = sh_malloc(sizeof(*argv) * (size_t)(2 * x->nw + 2));
    char *dbs = sh_malloc(12 * (size_t)x->nw);
    char idbuf[24];

    argv[0] = (struct sh_slice){ "__watchcheck", 12 };
    argv[1] = (struct sh_slice){ idbuf, (size_t)snprintf(idbuf, sizeof(idbuf), "%llu",
                                                         (unsigned long long)co->client_id) };
    for (int i = 0; i < x->nw; i++) {
        snprintf(dbs + 12 * i, 12, "%d", x->w[i].dbid);
    }
    for (int s = 0; s < nshards; s++) {
        int k = 2;

        for (int i = 0; i < x->nw; i++) {
            if (x->w[i].owner == s) {
                argv[k++] = (struct sh_slice){ dbs + 12 * i, strlen(dbs + 12 * i) };
                argv[k++] = x->w[i].key;
            }
        }
        if (k > 2) {
            coord_send(co, s, &watch_spec_check, co->dbid, k, argv);
        }
    }
    sh_free(dbs);
    sh_free(argv);
}

/* The owners forget the run's watches: after the check, as EXEC unwatches. */
static void exec_unwatch(struct coord *co, struct exec_run *x)
{
    for (int i = 0; i < x->nw; i++) {
        post_keys(co->conn->sh, &watch_spec_unwatch, co->client_id, x->w[i].dbid, x->w[i].owner, 1,
                  &x->w[i].key);
    }
}

static bool exec_done(struct coord *co, struct reply *r)
{
    struct exec_run *x = co->ext;
    struct conn *c = co->conn;

    if (x->checking) {
        x->checking = false;
        exec_unwatch(co, x);
        for (int s = 0; s < co->nshards; s++) {
            struct sh_slice p = coord_part(co, s);

            if (p.len >= 2 && p.ptr[0] == ':' && p.ptr[1] != '0') {
                reply_null_array(r); /* a watched key changed */
                exec_run_free(x);
                return true;
            }
        }
    }
    if (x->awaiting >= 0) {
        struct sh_slice p = coord_part(co, x->awaiting);

        rbuf_append(&x->acc, p.ptr, p.len);
        x->i++;
    } else if (x->awaiting == -2) {
        x->i++; /* the nested coordinator appended its reply */
    }
    x->awaiting = -1;
    while (x->i < x->n) {
        struct mcmd *q = x->q[x->i];
        int owner;

        switch (route_plan(c->sh, q->cmd, q->argc, q->argv, &owner)) {
        case ROUTE_PLAN_HERE:
            c->sh->prop_seq = co->txn_seq; /* its writes belong to the transaction */
            run_here(c, q, &x->acc);
            c->sh->prop_seq = 0;
            x->i++;
            continue;
        case ROUTE_PLAN_CROSS:
            reply_crossslot(&x->acc, co->proto);
            x->i++;
            continue;
        case ROUTE_PLAN_PART:
            x->awaiting = owner;
            coord_send(co, owner, q->cmd, c->db, q->argc, q->argv);
            return false;
        case ROUTE_PLAN_CHILD:
            x->awaiting = -2;
            coord_start_child(co, q->cmd, c->db, q->argc, q->argv, &x->acc);
            return false;
        }
    }
    reply_array(r, x->n);
    reply_raw(r, x->acc.data, x->acc.len);
    exec_run_free(x);
    return true;
}

/* a barrier: a command pipelined after EXEC (a SELECT) waits for its end */
static const struct gather gather_exec = { .start = exec_start,
                                           .done = exec_done,
                                           .barrier = true };

/* Appends the (mode, key) locks of q to pairs; true when q needs every
 * shard whole (it reaches all keys, or changes database). */
static bool add_locks(const struct mcmd *q, struct sh_slice **pairs, int *n, int *cap)
{
    const struct cmd_spec *cmd = q->cmd;
    struct cmd_keys k;

    if (cmd->route == CMD_ROUTE_ALL || (cmd->route == CMD_ROUTE_CONN && cmd->gather) ||
        !strcmp(cmd->fullname, "select") || !strcmp(cmd->fullname, "swapdb") ||
        !strcmp(cmd->fullname, "move") || !strcmp(cmd->fullname, "copy")) {
        return true;
    }
    cmd_keys_get(&k, cmd, q->argc, q->argv);
    for (int i = 0; i < k.n; i++) {
        if (*n + 2 > *cap) {
            *cap = *cap ? *cap * 2 : 32;
            *pairs = sh_realloc(*pairs, sizeof(**pairs) * (size_t)*cap);
        }
        (*pairs)[(*n)++] = (k.flags[i] & CMD_KEY_RO) ? (struct sh_slice){ "r", 1 }
                                                     : (struct sh_slice){ "w", 1 };
        (*pairs)[(*n)++] = q->argv[k.pos[i]];
    }
    cmd_keys_free(&k);
    return false;
}

/* Every command can run here, back to back, with nothing to wait for? */
static bool all_here(struct conn *c, const struct multi *m)
{
    struct shard *sh = c->sh;

    if (!sched_quiet(&sh->sched)) {
        return false;
    }
    for (int i = 0; i < m->nw; i++) {
        if (m->w[i].owner != sh->id) {
            return false;
        }
    }
    for (int i = 0; i < m->n; i++) {
        int owner;

        if ((m->q[i]->cmd->flags & CMD_BLOCKING) ||
            route_plan(sh, m->q[i]->cmd, m->q[i]->argc, m->q[i]->argv, &owner) != ROUTE_PLAN_HERE) {
            return false;
        }
    }
    return true;
}

/* Did a watched key change? Only for watches all on this core. */
static bool watched_changed_here(struct conn *c, const struct multi *m)
{
    for (int i = 0; i < m->nw; i++) {
        if (watch_changed(c->sh, c->id, m->w[i].dbid, m->w[i].key)) {
            return true;
        }
    }
    return false;
}

static void cmd_exec(struct cmd_ctx *ctx)
{
    struct conn *c = ctx->conn;
    struct multi *m = c->multi;
    struct exec_run *x;
    struct sh_slice *pairs = NULL;
    int npairs = 0, cap = 0;
    bool all = false;

    if (!m || !m->active) {
        reply_error(&ctx->r, "ERR EXEC without MULTI");
        return;
    }
    if (m->doomed) {
        reply_error(&ctx->r, "EXECABORT Transaction discarded because of previous errors.");
        unwatch_all(c);
        discard(m);
        return;
    }
    if (all_here(c, m)) {
        if (watched_changed_here(c, m)) {
            reply_null_array(&ctx->r);
        } else {
            reply_array(&ctx->r, m->n);
            shard_prop_local_begin(c->sh);
            for (int i = 0; i < m->n; i++) {
                run_here(c, m->q[i], ctx->r.buf);
            }
            shard_prop_local_end(c->sh);
        }
        unwatch_all(c);
        discard(m);
        return;
    }
    /* a coordinator over the queue's keys and the watched ones */
    x = sh_calloc(1, sizeof(*x));
    rbuf_init(&x->acc);
    for (int i = 0; i < m->n; i++) {
        all |= add_locks(m->q[i], &pairs, &npairs, &cap);
    }
    for (int i = 0; i < m->nw; i++) {
        if (m->w[i].dbid != c->db) {
            all = true; /* the locks are taken in one database */
        }
        if (npairs + 2 > cap) {
            cap = cap ? cap * 2 : 32;
            pairs = sh_realloc(pairs, sizeof(*pairs) * (size_t)cap);
        }
        pairs[npairs++] = (struct sh_slice){ "r", 1 };
        pairs[npairs++] = m->w[i].key;
    }
    x->q = m->q;
    x->n = m->n;
    m->q = NULL;
    m->n = m->cap = 0;
    /* the watches move to the run: it checks them, then has the owners
     * forget them (exec_unwatch); unwatching here would overtake the check.
     * The lock pairs borrow their keys, and are copied before any of the
     * run can end. */
    x->w = m->w;
    x->nw = m->nw;
    m->w = NULL;
    m->nw = m->capw = 0;
    coord_start_txn(c, ctx->cmd, &gather_exec, x, c->db, npairs / 2, pairs, all);
    sh_free(pairs);
    discard(m);
}

static void cmd_multi(struct cmd_ctx *ctx)
{
    struct multi *m = state(ctx->conn);

    if (m->active) {
        reply_error(&ctx->r, "ERR MULTI calls can not be nested");
        return;
    }
    m->active = true;
    m->doomed = false;
    reply_ok(&ctx->r);
}

static void cmd_discard(struct cmd_ctx *ctx)
{
    struct multi *m = ctx->conn->multi;

    if (!m || !m->active) {
        reply_error(&ctx->r, "ERR DISCARD without MULTI");
        return;
    }
    unwatch_all(ctx->conn);
    discard(m);
    reply_ok(&ctx->r);
}

/* WATCH's registration: one __watch part per owner of the new keys; the
 * reply waits for them, so a write that another client makes after our OK
 * (through another shard's mailbox) always finds the key watched. */
struct watch_reg {
    int first, n; /* the new entries: m->w[first .. first + n) */
};

static void watch_reg_start(struct coord *co)
{
    struct multi *m = co->conn->multi;
    struct watch_reg *g = co->ext;
    struct sh_slice *argv = sh_malloc(sizeof(*argv) * (size_t)(g->n + 2));
    char idbuf[24];

    argv[0] = (struct sh_slice){ watch_spec_watch.name, strlen(watch_spec_watch.name) };
    argv[1] = (struct sh_slice){ idbuf, (size_t)snprintf(idbuf, sizeof(idbuf), "%llu",
                                                         (unsigned long long)co->client_id) };
    for (int s = 0; s < co->nshards; s++) {
        int k = 2;

        for (int i = g->first; i < g->first + g->n; i++) {
            if (m->w[i].owner == s) {
                argv[k++] = m->w[i].key;
            }
        }
        if (k > 2) {
            coord_send(co, s, &watch_spec_watch, co->dbid, k, argv);
        }
    }
    sh_free(argv);
}

static bool watch_reg_done(struct coord *co, struct reply *r)
{
    sh_free(co->ext);
    reply_ok(r);
    return true;
}

static const struct gather gather_watch_reg = { .start = watch_reg_start, .done = watch_reg_done };

static void cmd_watch(struct cmd_ctx *ctx)
{
    struct conn *c = ctx->conn;
    struct multi *m = state(c);
    struct watch_reg *g;
    int first = m->nw;

    if (m->active) {
        reply_error(&ctx->r, "ERR WATCH inside MULTI is not allowed");
        return;
    }
    for (int i = 1; i < ctx->argc; i++) {
        struct sh_slice k = ctx->argv[i];
        bool dup = false;
        char *copy;

        for (int j = 0; j < m->nw && !dup; j++) {
            dup = m->w[j].dbid == c->db && m->w[j].key.len == k.len &&
                  !memcmp(m->w[j].key.ptr, k.ptr, k.len);
        }
        if (dup) {
            continue;
        }
        if (m->nw == m->capw) {
            m->capw = m->capw ? m->capw * 2 : 8;
            m->w = sh_realloc(m->w, sizeof(*m->w) * (size_t)m->capw);
        }
        copy = sh_malloc(k.len ? k.len : 1);
        memcpy(copy, k.ptr, k.len);
        m->w[m->nw].dbid = c->db;
        m->w[m->nw].owner = owner_of(c->sh, k);
        m->w[m->nw].key = (struct sh_slice){ copy, k.len };
        m->nw++;
    }
    if (m->nw == first) {
        reply_ok(&ctx->r);
        return;
    }
    g = sh_malloc(sizeof(*g));
    g->first = first;
    g->n = m->nw - first;
    coord_start_txn(c, ctx->cmd, &gather_watch_reg, g, c->db, 0, NULL, false);
}

static void cmd_unwatch(struct cmd_ctx *ctx)
{
    unwatch_all(ctx->conn);
    reply_ok(&ctx->r);
}

/* What the txn layer keeps on a shard goes with it. */
static void txn_shard_exit(struct shard *sh)
{
    watch_destroy(sh);
    eval_shard_exit(sh);
}

void multi_bind(void)
{
    cmd_must_bind("multi", cmd_multi, CMD_ROUTE_CONN, NULL);
    cmd_must_bind("exec", cmd_exec, CMD_ROUTE_CONN, NULL);
    cmd_must_bind("discard", cmd_discard, CMD_ROUTE_CONN, NULL);
    cmd_must_bind("watch", cmd_watch, CMD_ROUTE_CONN, NULL);
    cmd_must_bind("unwatch", cmd_unwatch, CMD_ROUTE_CONN, NULL);
    route_hooks.queue = hook_queue;
    route_hooks.refused = hook_refused;
    route_hooks.gone = hook_gone;
    route_hooks.touched = watch_touched;
    route_hooks.touched_db = watch_touched_db;
    route_hooks.shard_exit = txn_shard_exit;
}
