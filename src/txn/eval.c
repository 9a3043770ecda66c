/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * eval.c: EVAL/EVALSHA/SCRIPT over the shards (see eval.h).
 *
 * A run in place ("local run") drives the engine synchronously: each
 * redis.call is checked as Redis's scriptCall checks it and executed on this
 * core before the script resumes. A global run is a coordinator (gather
 * eval) that holds every shard's lock and drives the engine from its done()
 * step by step: a command of this core runs at once, a command of one other
 * owner is a part there, a command of several owners (or of every shard) a
 * nested coordinator.
 */
#include "shardis/eval.h"

#include "shardis/cmd.h"
#include "shardis/cmdtab.h"
#include "shardis/conn.h"
#include "shardis/reply.h"
#include "shardis/route.h"
#include "shardis/sched.h"
#include "shardis/script.h"
#include "shardis/shard.h"
#include "shardis/util.h"

#include <stdio.h>
#include <string.h>

#define EVAL_MAX_LEARNED 256
#define REPLY_GLOBAL     "-SHARDIS-GLOBAL\r\n" /* internal: run me globally */

/* The per-shard host state, behind sh->scripts. */
struct eval_host {
    struct script_vm *vm;
    /* shas of scripts that reached undeclared keys: they run globally */
    char learned[EVAL_MAX_LEARNED][SCRIPT_SHA_LEN];
    int nlearned, next_learned;
    long long global_runs;
};

static struct eval_host *host(struct shard *sh)
{
    if (!sh->scripts) {
        struct eval_host *h = sh_calloc(1, sizeof(*h));

        h->vm = script_vm_create();
        sh->scripts = h;
    }
    return sh->scripts;
}

void eval_shard_exit(struct shard *sh)
{
    struct eval_host *h = sh->scripts;

    if (h) {
        script_vm_destroy(h->vm);
        sh_free(h);
        sh->scripts = NULL;
    }
}

void eval_stats(struct shard *sh, long long *cached, long long *global_runs, long long *lua_mem)
{
    struct eval_host *h = sh->scripts;

    *cached = h ? (long long)script_count(h->vm) : 0;
    *global_runs = h ? h->global_runs : 0;
    *lua_mem = h ? (long long)script_lua_memory(h->vm) : 0;
}

static bool is_learned(const struct eval_host *h, struct sh_slice sha)
{
    for (int i = 0; i < h->nlearned; i++) {
        if (sha.len == SCRIPT_SHA_LEN && !strncasecmp(h->learned[i], sha.ptr, SCRIPT_SHA_LEN)) {
            return true;
        }
    }
    return false;
}

static void learn(struct eval_host *h, struct sh_slice sha)
{
    if (sha.len != SCRIPT_SHA_LEN || is_learned(h, sha)) {
        return;
    }
    /* a bounded ring: forgetting one only costs it a restart */
    memcpy(h->learned[h->next_learned], sha.ptr, SCRIPT_SHA_LEN);
    h->next_learned = (h->next_learned + 1) % EVAL_MAX_LEARNED;
    if (h->nlearned < EVAL_MAX_LEARNED) {
        h->nlearned++;
    }
}

/* ---- one redis.call: Redis's checks, and where it must run ---- */

enum call_where {
    CALL_ERROR, /* *err holds the reply */
    CALL_HERE,  /* this core, now */
    CALL_PART,  /* one other owner (*owner) */
    CALL_CHILD, /* several owners, or every shard */
};

/* CONN commands that a script may run on a core without its client. */
static bool conn_cmd_ok_without_client(const struct cmd_spec *cmd)
{
    return !strcmp(cmd->fullname, "ping") || !strcmp(cmd->fullname, "echo") ||
           !strcmp(cmd->fullname, "time");
}

static enum call_where classify(struct shard *sh, const struct script_call *call, bool ro,
                                bool have_client, const struct cmd_spec **out, int *owner,
                                const char **err)
{
    const struct cmd_spec *cmd = cmdtab_lookup(call->argv[0].ptr, call->argv[0].len);

    if (cmd && cmd->nsubcmds && call->argc >= 2) {
        cmd = cmdtab_lookup_sub(cmd, call->argv[1].ptr, call->argv[1].len);
    }
    if (!cmd || cmd->route == CMD_ROUTE_NONE) {
        *err = "-ERR Unknown Redis command called from script\r\n";
        return CALL_ERROR;
    }
    if ((cmd->arity > 0 && call->argc != cmd->arity) || call->argc < -cmd->arity) {
        *err = "-ERR Wrong number of args calling Redis command from script\r\n";
        return CALL_ERROR;
    }
    if (cmd->flags & CMD_NOSCRIPT) {
        *err = "-ERR This Redis command is not allowed from script\r\n";
        return CALL_ERROR;
    }
    if (ro && (cmd->flags & CMD_WRITE)) {
        *err = "-ERR Write commands are not allowed from read-only scripts.\r\n";
        return CALL_ERROR;
    }
    *out = cmd;
    if (cmd->route == CMD_ROUTE_CONN && !have_client && !conn_cmd_ok_without_client(cmd)) {
        *err = "-ERR This Redis command is not allowed from script\r\n";
        return CALL_ERROR;
    }
    switch (route_plan(sh, cmd, call->argc, call->argv, owner)) {
    case ROUTE_PLAN_HERE:
        return CALL_HERE;
    case ROUTE_PLAN_PART:
        return CALL_PART;
    case ROUTE_PLAN_CHILD:
        return CALL_CHILD;
    case ROUTE_PLAN_CROSS:
    default:
        *err = "-CROSSSLOT Keys in request don't hash to the same slot\r\n";
        return CALL_ERROR;
    }
}

/* Runs cmd on this core (c may be NULL), its reply into out in proto. */
static void call_here(struct shard *sh, struct conn *c, int dbid, const struct cmd_spec *cmd,
                      const struct script_call *call, struct rbuf *out)
{
    route_exec_into(sh, c, cmd, dbid, call->argc, call->argv, out, call->resp);
}

/* ---- a run in place ---- */

enum local_result { LOCAL_DONE, LOCAL_GLOBAL };

/*
 * Runs the cached script sha on this core to its end, its reply into r.
 * LOCAL_GLOBAL: it reached for a key it may not touch here before writing
 * anything; it was abandoned without a reply, to be run globally.
 */
static enum local_result run_local(struct shard *sh, struct conn *c, int dbid, struct sh_slice sha,
                                   bool ro, int nkeys, const struct sh_slice *keys, int nargs,
                                   const struct sh_slice *args, struct reply *r)
{
    struct eval_host *h = host(sh);
    struct script_run_opts opts = { .busy_ms = 0 };
    struct rbuf tmp;
    bool wrote = false;
    int st = script_run_start(h->vm, sha, nkeys, keys, nargs, args, &opts, r);

    if (st == -ENOENT) {
        reply_error(r, "NOSCRIPT No matching script. Please use EVAL.");
        return LOCAL_DONE;
    }
    if (st < 0) {
        reply_error(r, "BUSY Redis is busy running a script. You can only call SCRIPT KILL or "
                       "SHUTDOWN NOSAVE.");
        return LOCAL_DONE;
    }
    rbuf_init(&tmp);
    while (st != SCRIPT_DONE) {
        const struct script_call *call;
        const struct cmd_spec *cmd = NULL;
        const char *err = NULL;
        int owner;
        enum call_where where;

        if (st == SCRIPT_BUSY) {
            /* the loop cannot serve others in the middle of a local run */
            st = script_run_resume(h->vm, NULL, 0, r);
            continue;
        }
        call = script_run_call(h->vm);
        tmp.len = 0;
        if (call->kind == SCRIPT_CALL_ACL_CHECK) {
            st = script_run_resume(h->vm, ":1\r\n", 4, r);
            continue;
        }
        where = classify(sh, call, ro, c != NULL, &cmd, &owner, &err);
        if (where == CALL_ERROR) {
            st = script_run_resume(h->vm, err, strlen(err), r);
            continue;
        }
        if (where == CALL_HERE && !sched_quiet(&sh->sched) &&
            !sched_admits(sh, cmd, dbid, call->argc, call->argv)) {
            /* a key a transaction holds: not from here, this time */
            if (!wrote) {
                script_run_abort(h->vm);
                rbuf_fini(&tmp);
                return LOCAL_GLOBAL;
            }
        } else if (where != CALL_HERE) {
            learn(h, sha);
            if (!wrote) {
                script_run_abort(h->vm);
                rbuf_fini(&tmp);
                return LOCAL_GLOBAL;
            }
            err = "-ERR shardis: this script reached a key of another shard that it did not "
                  "declare in KEYS, after it wrote; from now on it runs with every shard "
                  "locked\r\n";
            st = script_run_resume(h->vm, err, strlen(err), r);
            continue;
        }
        wrote |= (cmd->flags & CMD_WRITE) != 0;
        call_here(sh, c, dbid, cmd, call, &tmp);
        st = script_run_resume(h->vm, tmp.data, tmp.len, r);
    }
    rbuf_fini(&tmp);
    return LOCAL_DONE;
}

/* ---- the coordinator: sent to the keys' owner, or a global run ---- */

enum eval_phase { PH_PART, PH_GLOBAL };

struct eval_run {
    enum eval_phase phase;
    int part_owner;
    bool ro;
    bool started; /* the global run's engine run began */
    bool failed;  /* inside EXEC: the error is in final */
    int awaiting; /* -1 nothing, -2 a nested coordinator, else a part's shard */
    char sha[SCRIPT_SHA_LEN + 1];
    int nkeys, nargs;
    struct sh_slice *keys, *args; /* one allocation with the bytes */
    struct rbuf final;            /* the engine's reply */
    struct rbuf call;             /* the reply of the command in flight */
};

static void eval_run_free(struct eval_run *x)
{
    rbuf_fini(&x->final);
    rbuf_fini(&x->call);
    sh_free(x->keys);
    sh_free(x);
}

static void broadcast_load(struct shard *sh, struct sh_slice body);

extern const struct cmd_spec eval_spec_run;

static void eval_start(struct coord *co)
{
    struct eval_run *x = co->ext;

    if (x->phase == PH_PART) {
        /* __evalrun ro sha numkeys keys... args... */
        int argc = 4 + x->nkeys + x->nargs;
        struct sh_slice *argv = sh_malloc(sizeof(*argv) * (size_t)argc);
        char nk[16];

        argv[0] = (struct sh_slice){ "__evalrun", 9 };
        argv[1] = (struct sh_slice){ x->ro ? "1" : "0", 1 };
        argv[2] = (struct sh_slice){ x->sha, SCRIPT_SHA_LEN };
        argv[3] = (struct sh_slice){ nk, (size_t)snprintf(nk, sizeof(nk), "%d", x->nkeys) };
        memcpy(argv + 4, x->keys, sizeof(*argv) * (size_t)x->nkeys);
        memcpy(argv + 4 + x->nkeys, x->args, sizeof(*argv) * (size_t)x->nargs);
        co->part_proto = (uint8_t)co->proto;
        coord_send(co, x->part_owner, &eval_spec_run, co->dbid, argc, argv);
        sh_free(argv);
    }
    /* a global run starts in done(), which runs first with nothing pending */
}

/* Drives a global run until it waits for a hop or ends; true at the end. */
static bool global_steps(struct coord *co, struct eval_run *x, struct reply *r)
{
    struct conn *c = co->conn;
    struct shard *sh = c->sh;
    struct eval_host *h = host(sh);
    struct reply fr = { .buf = &x->final, .proto = co->proto };
    int st;

    if (!x->started) {
        struct script_run_opts opts = { .busy_ms = 0 };

        x->started = true;
        h->global_runs++;
        st = script_run_start(h->vm, (struct sh_slice){ x->sha, SCRIPT_SHA_LEN }, x->nkeys, x->keys,
                              x->nargs, x->args, &opts, &fr);
        if (st == -ENOENT) {
            reply_error(r, "NOSCRIPT No matching script. Please use EVAL.");
            return true;
        }
        if (st < 0) {
            reply_error(r, "BUSY Redis is busy running a script. You can only call SCRIPT KILL "
                           "or SHUTDOWN NOSAVE.");
            return true;
        }
    } else {
        if (x->awaiting >= 0) {
            struct sh_slice p = coord_part(co, x->awaiting);

            rbuf_append(&x->call, p.ptr, p.len);
        }
        x->awaiting = -1;
        st = script_run_resume(h->vm, x->call.data, x->call.len, &fr);
    }
    while (st != SCRIPT_DONE) {
        const struct script_call *call;
        const struct cmd_spec *cmd = NULL;
        const char *err = NULL;
        int owner;

        if (st == SCRIPT_BUSY) {
            st = script_run_resume(h->vm, NULL, 0, &fr);
            continue;
        }
        call = script_run_call(h->vm);
        x->call.len = 0;
        if (call->kind == SCRIPT_CALL_ACL_CHECK) {
            st = script_run_resume(h->vm, ":1\r\n", 4, &fr);
            continue;
        }
        switch (classify(sh, call, x->ro, true, &cmd, &owner, &err)) {
        case CALL_ERROR:
            st = script_run_resume(h->vm, err, strlen(err), &fr);
            continue;
        case CALL_HERE:
            call_here(sh, c, c->db, cmd, call, &x->call);
            st = script_run_resume(h->vm, x->call.data, x->call.len, &fr);
            continue;
        case CALL_PART:
            x->awaiting = owner;
            co->part_proto = (uint8_t)call->resp;
            coord_send(co, owner, cmd, c->db, call->argc, call->argv);
            return false;
        case CALL_CHILD:
            x->awaiting = -2;
            co->part_proto = (uint8_t)call->resp;
            coord_start_child(co, cmd, c->db, call->argc, call->argv, &x->call);
            return false;
        }
    }
    reply_raw(r, x->final.data, x->final.len);
    return true;
}

static bool eval_done(struct coord *co, struct reply *r)
{
    struct eval_run *x = co->ext;

    if (x->phase == PH_PART) {
        struct sh_slice p = coord_part(co, x->part_owner);

        if (p.len == strlen(REPLY_GLOBAL) && !memcmp(p.ptr, REPLY_GLOBAL, p.len)) {
            /* it reached past its keys before writing: again, globally */
            learn(host(co->conn->sh), (struct sh_slice){ x->sha, SCRIPT_SHA_LEN });
            x->phase = PH_GLOBAL;
            x->awaiting = -1;
            coord_retry_txn_all(co);
            return false;
        }
        reply_raw(r, p.ptr, p.len);
        eval_run_free(x);
        return true;
    }
    if (!global_steps(co, x, r)) {
        return false;
    }
    eval_run_free(x);
    return true;
}

static const struct gather gather_eval = { .start = eval_start, .done = eval_done };

/* ---- the commands ---- */

/* Sends body to every other shard's cache (fire and forget: same mailbox,
 * so it is there before anything this core sends them later). */
extern const struct cmd_spec eval_spec_load;

static void broadcast_load(struct shard *sh, struct sh_slice body)
{
    struct sh_slice argv[2] = { { "__scriptload", 12 }, body };

    for (int s = 0; s < sh->srv->nshards; s++) {
        if (s != sh->id) {
            route_post(sh, s, &eval_spec_load, 0, 2, argv);
        }
    }
}

/* What EVAL* names: the script (compiled and cached when EVAL brings its
 * body), its flags and keys. False after writing an error to r. */
struct eval_req {
    char sha[SCRIPT_SHA_LEN + 1];
    bool ro;
    int nkeys;
    int owner; /* of every key: a shard, or -1 for several */
};

static bool eval_prepare(struct shard *sh, const struct cmd_spec *cmd, int argc,
                         const struct sh_slice *argv, struct eval_req *q, struct reply *r)
{
    struct eval_host *h = host(sh);
    bool by_sha = !strncmp(cmd->fullname, "evalsha", 7);
    bool ro_cmd = strstr(cmd->fullname, "_ro") != NULL;
    uint32_t flags = 0;
    long long n;

    if (!util_str2ll(argv[2].ptr, argv[2].len, &n)) {
        reply_err_notint(r);
        return false;
    }
    if (n < 0) {
        reply_error(r, "ERR Number of keys can't be negative");
        return false;
    }
    if (n > argc - 3) {
        reply_error(r, "ERR Number of keys can't be greater than number of args");
        return false;
    }
    q->nkeys = (int)n;
    if (by_sha) {
        struct sh_slice s = argv[1];

        if (s.len != SCRIPT_SHA_LEN || script_get_flags(h->vm, s, &flags) != 0) {
            reply_error(r, "NOSCRIPT No matching script. Please use EVAL.");
            return false;
        }
        for (size_t i = 0; i < SCRIPT_SHA_LEN; i++) {
            q->sha[i] = (char)(s.ptr[i] >= 'A' && s.ptr[i] <= 'F' ? s.ptr[i] + 32 : s.ptr[i]);
        }
        q->sha[SCRIPT_SHA_LEN] = '\0';
    } else {
        size_t before = script_count(h->vm);

        if (script_load(h->vm, argv[1].ptr, argv[1].len, q->sha, &flags, r) != 0) {
            return false; /* the compile error is written */
        }
        if (script_count(h->vm) != before && sh->srv->nshards > 1) {
            broadcast_load(sh, argv[1]);
        }
    }
    q->ro = ro_cmd || (flags & SCRIPT_FLAG_NO_WRITES);
    q->owner = -2;
    for (int i = 0; i < q->nkeys && q->owner != -1; i++) {
        uint64_t hh;
        int o = shard_owner(sh->srv->nshards, argv[3 + i].ptr, argv[3 + i].len, &hh);

        q->owner = q->owner == -2 || q->owner == o ? o : -1;
    }
    if (q->owner == -2) {
        q->owner = sh->id;
    }
    return true;
}

/* The run state of a coordinator, keys and args copied. */
static struct eval_run *eval_run_new(const struct eval_req *q, int argc,
                                     const struct sh_slice *argv)
{
    struct eval_run *x = sh_calloc(1, sizeof(*x));
    int n = argc - 3;
    size_t bytes = 0;
    char *p;

    rbuf_init(&x->final);
    rbuf_init(&x->call);
    memcpy(x->sha, q->sha, sizeof(x->sha));
    x->ro = q->ro;
    x->awaiting = -1;
    x->nkeys = q->nkeys;
    x->nargs = n - q->nkeys;
    for (int i = 3; i < argc; i++) {
        bytes += argv[i].len;
    }
    x->keys = sh_malloc(sizeof(struct sh_slice) * (size_t)(n ? n : 1) + bytes);
    p = (char *)(x->keys + n);
    for (int i = 3; i < argc; i++) {
        memcpy(p, argv[i].ptr, argv[i].len);
        x->keys[i - 3] = (struct sh_slice){ p, argv[i].len };
        p += argv[i].len;
    }
    x->args = x->keys + q->nkeys;
    return x;
}

static void eval_generic(struct cmd_ctx *ctx)
{
    struct shard *sh = ctx->shard;
    struct conn *c = ctx->conn;
    struct eval_host *h = host(sh);
    struct eval_req q;
    struct sh_slice s;
    struct eval_run *x;
    int owner;

    if (!eval_prepare(sh, ctx->cmd, ctx->argc, ctx->argv, &q, &ctx->r)) {
        return;
    }
    s = (struct sh_slice){ q.sha, SCRIPT_SHA_LEN };
    owner = q.owner;
    if (sh->srv->nshards == 1 ||
        (owner == sh->id && sched_quiet(&sh->sched) && !is_learned(h, s))) {
        if (run_local(sh, c, c->db, s, q.ro, q.nkeys, ctx->argv + 3, ctx->argc - 3 - q.nkeys,
                      ctx->argv + 3 + q.nkeys, &ctx->r) == LOCAL_DONE) {
            return;
        }
        owner = -1; /* it reached past what it may touch here: globally */
    }
    /* a coordinator: the owner's run, or a global one */
    x = eval_run_new(&q, ctx->argc, ctx->argv);
    if (owner >= 0 && !is_learned(h, s)) {
        x->phase = PH_PART;
        x->part_owner = owner;
        coord_start_txn(c, ctx->cmd, &gather_eval, x, c->db, 0, NULL, false);
        return;
    }
    x->phase = PH_GLOBAL;
    coord_start_txn(c, ctx->cmd, &gather_eval, x, c->db, 0, NULL, true);
}

/* EVAL* inside EXEC: a nested coordinator under EXEC's locks (every shard,
 * as EXEC takes for a script), run like a global run. */
static void eval_child_start(struct coord *co)
{
    struct eval_req q;
    struct rbuf err;
    struct reply r = { .buf = &err, .proto = co->proto };
    struct eval_run *x;

    rbuf_init(&err);
    if (!eval_prepare(co->conn->sh, co->cmd, co->argc, co->argv, &q, &r)) {
        x = sh_calloc(1, sizeof(*x));
        rbuf_init(&x->call);
        x->final = err; /* the error is the reply */
        x->failed = true;
    } else {
        rbuf_fini(&err);
        x = eval_run_new(&q, co->argc, co->argv);
        x->phase = PH_GLOBAL;
    }
    co->ext = x;
}

static bool eval_child_done(struct coord *co, struct reply *r)
{
    struct eval_run *x = co->ext;

    if (x->failed) {
        reply_raw(r, x->final.data, x->final.len);
        eval_run_free(x);
        return true;
    }
    return eval_done(co, r);
}

static const struct gather gather_eval_child = { .start = eval_child_start,
                                                 .done = eval_child_done };

static void cmd_eval(struct cmd_ctx *ctx)
{
    eval_generic(ctx);
}

/* __evalrun ro sha numkeys keys... args...: a run on the keys' owner. */
static void cmd_evalrun_internal(struct cmd_ctx *ctx)
{
    long long nkeys;
    int nargs;

    if (!util_str2ll(ctx->argv[3].ptr, ctx->argv[3].len, &nkeys) || nkeys < 0 ||
        nkeys > ctx->argc - 4) {
        reply_error(&ctx->r, "ERR internal: bad __evalrun");
        return;
    }
    nargs = ctx->argc - 4 - (int)nkeys;
    if (run_local(ctx->shard, NULL, ctx->dbid, ctx->argv[2], ctx->argv[1].ptr[0] == '1', (int)nkeys,
                  ctx->argv + 4, nargs, ctx->argv + 4 + nkeys, &ctx->r) == LOCAL_GLOBAL) {
        reply_raw(&ctx->r, REPLY_GLOBAL, strlen(REPLY_GLOBAL));
    }
}

/* __scriptload body: another shard compiled it (EVAL). */
static void cmd_scriptload_internal(struct cmd_ctx *ctx)
{
    char sha[SCRIPT_SHA_LEN + 1];

    if (script_load(host(ctx->shard)->vm, ctx->argv[1].ptr, ctx->argv[1].len, sha, NULL, NULL) !=
        0) {
        reply_error(&ctx->r, "ERR internal: script does not compile here");
        return;
    }
    reply_ok(&ctx->r);
}

const struct cmd_spec eval_spec_run = {
    .name = "__evalrun", .fullname = "__evalrun", .arity = -4, .proc = cmd_evalrun_internal
};
const struct cmd_spec eval_spec_load = {
    .name = "__scriptload", .fullname = "__scriptload", .arity = 2, .proc = cmd_scriptload_internal
};

/* SCRIPT LOAD, on every shard: each compiles it; the reply is the sha. */
static void cmd_script_load(struct cmd_ctx *ctx)
{
    char sha[SCRIPT_SHA_LEN + 1];

    if (script_load(host(ctx->shard)->vm, ctx->argv[2].ptr, ctx->argv[2].len, sha, NULL, &ctx->r) !=
        0) {
        return;
    }
    reply_bulk(&ctx->r, sha, SCRIPT_SHA_LEN);
}

/* Every shard answered the same: the first error, or this core's part. */
static bool done_first_part(struct coord *co, struct reply *r)
{
    struct sh_slice e = coord_first_error(co);
    struct sh_slice p = e.len ? e : coord_part(co, co->conn->sh->id);

    reply_raw(r, p.ptr, p.len);
    return true;
}

static const struct gather gather_script_load = { .start = coord_start_fanout,
                                                  .done = done_first_part,
                                                  .always = true };

static void cmd_script_exists(struct cmd_ctx *ctx)
{
    struct eval_host *h = host(ctx->shard);

    reply_array(&ctx->r, ctx->argc - 2);
    for (int i = 2; i < ctx->argc; i++) {
        reply_int(&ctx->r, script_exists(h->vm, ctx->argv[i]));
    }
}

static void cmd_script_flush(struct cmd_ctx *ctx)
{
    if (ctx->argc == 3 && !sh_slice_eq_nocase(ctx->argv[2], "ASYNC") &&
        !sh_slice_eq_nocase(ctx->argv[2], "SYNC")) {
        reply_error(&ctx->r, "ERR SCRIPT FLUSH only support SYNC|ASYNC option");
        return;
    }
    if (ctx->argc > 3) {
        reply_err_syntax(&ctx->r);
        return;
    }
    if (script_flush(host(ctx->shard)->vm) != 0) {
        reply_error(&ctx->r, "BUSY Redis is busy running a script. You can only call SCRIPT "
                             "KILL or SHUTDOWN NOSAVE.");
        return;
    }
    host(ctx->shard)->nlearned = 0;
    reply_ok(&ctx->r);
}

static void cmd_script_kill(struct cmd_ctx *ctx)
{
    /* a run in place holds its core until it ends, and a global run's
     * steps never outlast one loop iteration: there is nothing to kill */
    reply_error(&ctx->r, "NOTBUSY No scripts in execution right now.");
}

static void cmd_script_help(struct cmd_ctx *ctx)
{
    static const char *const lines[] = {
        "SCRIPT <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
        "DEBUG (YES|SYNC|NO)",
        "    Set the debug mode for subsequent scripts executed.",
        "EXISTS <sha1> [<sha1> ...]",
        "    Return information about the existence of the scripts in the script cache.",
        "FLUSH [ASYNC|SYNC]",
        "    Flush the Lua scripts cache. Very dangerous on replicas.",
        "    When called without the optional mode argument, the behavior is determined by the",
        "    lazyfree-lazy-user-flush configuration directive. Valid modes are:",
        "    * ASYNC: Asynchronously flush the scripts cache.",
        "    * SYNC: Synchronously flush the scripts cache.",
        "KILL",
        "    Kill the currently executing Lua script.",
        "LOAD <script>",
        "    Load a script into the scripts cache without executing it.",
        "HELP",
        "    Prints this help.",
    };

    reply_array(&ctx->r, (long long)SH_ARRAY_LEN(lines));
    for (size_t i = 0; i < SH_ARRAY_LEN(lines); i++) {
        reply_status(&ctx->r, lines[i]);
    }
}

void eval_bind(void)
{
    /* CONN: the handler decides where the script runs; the gather is for
     * EXEC, which runs a queued script as a nested coordinator */
    cmd_must_bind("eval", cmd_eval, CMD_ROUTE_CONN, &gather_eval_child);
    cmd_must_bind("evalsha", cmd_eval, CMD_ROUTE_CONN, &gather_eval_child);
    cmd_must_bind("eval_ro", cmd_eval, CMD_ROUTE_CONN, &gather_eval_child);
    cmd_must_bind("evalsha_ro", cmd_eval, CMD_ROUTE_CONN, &gather_eval_child);
    cmd_must_bind("script|load", cmd_script_load, CMD_ROUTE_ALL, &gather_script_load);
    cmd_must_bind("script|exists", cmd_script_exists, CMD_ROUTE_CONN, NULL);
    cmd_must_bind("script|flush", cmd_script_flush, CMD_ROUTE_ALL, &gather_ok_every);
    cmd_must_bind("script|kill", cmd_script_kill, CMD_ROUTE_CONN, NULL);
    cmd_must_bind("script|help", cmd_script_help, CMD_ROUTE_CONN, NULL);
}
