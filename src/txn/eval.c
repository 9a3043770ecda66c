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

#include "shardis/acl.h"
#include "shardis/acl_log.h"
#include "shardis/cmd.h"
#include "shardis/cmdtab.h"
#include "shardis/conn.h"
#include "shardis/evict.h"
#include "shardis/function.h"
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
    struct script_vm *vm;  /* EVAL's scripts */
    struct script_vm *fvm; /* functions (a Lua state of their own, as in Redis) */
    /* scripts and functions that reached undeclared keys (target_hash):
     * they run globally */
    uint64_t learned[EVAL_MAX_LEARNED];
    int nlearned, next_learned;
    long long global_runs;
};

static struct eval_host *host(struct shard *sh)
{
    if (!sh->scripts) {
        struct eval_host *h = sh_calloc(1, sizeof(*h));

        h->vm = script_vm_create();
        h->fvm = script_vm_create_functions();
        sh->scripts = h;
    }
    return sh->scripts;
}

struct script_vm *eval_functions_vm(struct shard *sh)
{
    return host(sh)->fvm;
}

/* What a run runs: a cached script (its sha) or a function (its name). */
struct target {
    bool fn;
    struct sh_slice name;
};

static struct script_vm *target_vm(struct eval_host *h, struct target t)
{
    return t.fn ? h->fvm : h->vm;
}

static uint64_t target_hash(struct target t)
{
    uint64_t x = t.fn ? 0x9e3779b97f4a7c15ULL : 1469598103934665603ULL;

    for (size_t i = 0; i < t.name.len; i++) {
        char ch = t.name.ptr[i];

        /* a sha in any case names the same script */
        if (!t.fn && ch >= 'A' && ch <= 'F') {
            ch = (char)(ch + 32);
        }
        x = (x ^ (uint8_t)ch) * 1099511628211ULL;
    }
    return x;
}

static int run_start(struct shard *sh, struct target t, int nkeys, const struct sh_slice *keys,
                     int nargs, const struct sh_slice *args, struct reply *r)
{
    struct eval_host *h = host(sh);
    struct script_run_opts opts = { .busy_ms = sh->cfg.busy_reply_threshold };

    if (t.fn) {
        return script_fn_run_start(h->fvm, t.name, nkeys, keys, nargs, args, &opts, r);
    }
    return script_run_start(h->vm, t.name, nkeys, keys, nargs, args, &opts, r);
}

/* ---- busy scripts (shard.h: shard_busy_*) ---- */

/* What a run needs to go busy: its target and the command that runs it, for
 * FUNCTION STATS. */
struct busy_watch {
    bool on;
    struct conn *protect; /* the client whose command runs it here, if any */
    struct target t;
    struct sh_slice cmdname; /* when argv is NULL: argv is [cmdname, name, numkeys, keys, args] */
    int argc;
    const struct sh_slice *argv;
    int nkeys, nargs;
    const struct sh_slice *keys, *args;
};

/* FUNCTION STATS' running_script, as shard_busy_begin publishes it: the
 * start (monotonic ms), the name, then the command's arguments, each a
 * 4-byte length and its bytes, cut where the buffer ends. */
static size_t put_item(char *buf, size_t at, size_t cap, const void *p, size_t n)
{
    uint32_t len = (uint32_t)n;

    if (at + 4 + n > cap) {
        return cap + 1; /* full: nothing more goes in */
    }
    memcpy(buf + at, &len, 4);
    memcpy(buf + at + 4, p, n);
    return at + 4 + n;
}

static void go_busy(struct shard *sh, struct script_vm *vm, struct busy_watch *b, bool wrote)
{
    char buf[8 * MBOX_SEQBUF_WORDS], nk[16];
    int64_t start = sh_mono_us() / 1000 - script_run_elapsed_ms(vm);
    size_t at = 8, cap = sizeof(buf);

    memcpy(buf, &start, 8);
    at = put_item(buf, at, cap, b->t.name.ptr, b->t.name.len);
    if (b->argv != NULL) {
        for (int i = 0; i < b->argc && at <= cap; i++) {
            at = put_item(buf, at, cap, b->argv[i].ptr, b->argv[i].len);
        }
    } else {
        at = put_item(buf, at, cap, b->cmdname.ptr, b->cmdname.len);
        at = put_item(buf, at, cap, b->t.name.ptr, b->t.name.len);
        at = put_item(buf, at, cap, nk, (size_t)snprintf(nk, sizeof(nk), "%d", b->nkeys));
        for (int i = 0; i < b->nkeys && at <= cap; i++) {
            at = put_item(buf, at, cap, b->keys[i].ptr, b->keys[i].len);
        }
        for (int i = 0; i < b->nargs && at <= cap; i++) {
            at = put_item(buf, at, cap, b->args[i].ptr, b->args[i].len);
        }
    }
    b->on = true;
    shard_busy_begin(sh, b->t.fn, wrote, b->protect, buf, at <= cap ? at : cap);
}

/* SCRIPT_BUSY: the shard goes busy (once) and serves its own clients for a
 * moment; a kill (or a shutdown) kills the run. Returns the next step. */
static int busy_step(struct shard *sh, struct script_vm *vm, struct busy_watch *b, bool wrote,
                     struct reply *r)
{
    if (!b->on) {
        go_busy(sh, vm, b, wrote);
    }
    if (shard_busy_poll(sh)) {
        script_run_kill(vm);
    }
    return script_run_resume(vm, NULL, 0, r);
}

/* Before a busy run writes: false when a kill was granted first (the
 * script is killed instead). */
static bool busy_may_write(struct shard *sh, struct script_vm *vm, struct busy_watch *b)
{
    if (!b->on || shard_busy_write(sh)) {
        return true;
    }
    script_run_kill(vm);
    return false;
}

static void busy_done(struct shard *sh, struct busy_watch *b)
{
    if (b->on) {
        b->on = false;
        shard_busy_end(sh);
    }
}

void eval_reply_running(struct shard *sh, struct reply *r)
{
    struct server *srv = (struct server *)sh->srv;
    char buf[8 * MBOX_SEQBUF_WORDS];
    struct sh_slice items[8 * MBOX_SEQBUF_WORDS / 4];
    int n = 0;
    size_t len = 0, at = 8;
    int64_t start;

    for (int i = 0; i < srv->nshards && len == 0; i++) {
        if (mbox_word_get(&srv->busy_at[i].state) & SHARD_BUSY_ON) {
            len = mbox_seqbuf_read(&srv->busy_at[i].info, buf);
        }
    }
    if (len < 8) {
        reply_null(r);
        return;
    }
    memcpy(&start, buf, 8);
    while (at + 4 <= len) {
        uint32_t l;

        memcpy(&l, buf + at, 4);
        if (at + 4 + l > len) {
            break;
        }
        items[n++] = (struct sh_slice){ buf + at + 4, l };
        at += 4 + l;
    }
    if (n == 0) {
        reply_null(r);
        return;
    }
    reply_map(r, 3);
    reply_bulk_cstr(r, "name");
    reply_bulk(r, items[0].ptr, items[0].len);
    reply_bulk_cstr(r, "command");
    reply_array(r, n - 1);
    for (int i = 1; i < n; i++) {
        reply_bulk(r, items[i].ptr, items[i].len);
    }
    reply_bulk_cstr(r, "duration_ms");
    reply_int(r, sh_mono_us() / 1000 - start);
}

void eval_kill(struct shard *sh, bool fn, struct reply *r)
{
    struct server *srv = (struct server *)sh->srv;
    bool any = false;

    for (int i = 0; i < srv->nshards; i++) {
        struct mbox_counter *w = &srv->busy_at[i].state;
        long st = mbox_word_get(w);

        while (st & SHARD_BUSY_ON) {
            /* Redis's scriptKill: the write check first, then the kind */
            if (st & SHARD_BUSY_WROTE) {
                reply_error(r, "UNKILLABLE Sorry the script already executed write commands "
                               "against the dataset. You can either wait the script termination "
                               "or kill the server in a hard way using the SHUTDOWN NOSAVE "
                               "command.");
                return;
            }
            if (fn != ((st & SHARD_BUSY_FN) != 0)) {
                reply_error(r, fn ? SHARD_BUSY_EVAL_ERR : SHARD_BUSY_FUNCTION_ERR);
                return;
            }
            if (mbox_word_cas(w, &st, st | SHARD_BUSY_KILL)) {
                any = true;
                break;
            }
        }
    }
    if (!any) {
        reply_error(r, "NOTBUSY No scripts in execution right now.");
        return;
    }
    reply_ok(r);
}

/* The reply of a run that could not start (run_start's error). */
static void reply_not_started(struct reply *r, struct target t, int st)
{
    if (st == -ENOENT) {
        reply_error(r, t.fn ? "ERR Function not found"
                            : "NOSCRIPT No matching script. Please use "
                              "EVAL.");
    } else {
        reply_error(r, t.fn ? SHARD_BUSY_FUNCTION_ERR : SHARD_BUSY_EVAL_ERR);
    }
}

void eval_shard_exit(struct shard *sh)
{
    struct eval_host *h = sh->scripts;

    if (h) {
        script_vm_destroy(h->vm);
        script_vm_destroy(h->fvm);
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

static bool is_learned(const struct eval_host *h, struct target t)
{
    uint64_t x = target_hash(t);

    for (int i = 0; i < h->nlearned; i++) {
        if (h->learned[i] == x) {
            return true;
        }
    }
    return false;
}

static void learn(struct eval_host *h, struct target t)
{
    if (is_learned(h, t)) {
        return;
    }
    /* a bounded ring: forgetting one only costs it a restart (and a hash
     * collision only an unneeded global run) */
    h->learned[h->next_learned] = target_hash(t);
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

/* The command a call names (with its subcommand), or NULL. */
static const struct cmd_spec *call_command(const struct script_call *call)
{
    const struct cmd_spec *cmd = cmdtab_lookup(call->argv[0].ptr, call->argv[0].len);

    if (cmd && cmd->nsubcmds && call->argc >= 2) {
        cmd = cmdtab_lookup_sub(cmd, call->argv[1].ptr, call->argv[1].len);
    }
    return cmd && cmd->route != CMD_ROUTE_NONE ? cmd : NULL;
}

/* redis.acl_check_cmd: whether the script's user may run the command (no
 * arity check, as in Redis). user NULL: its user is gone, nothing is. */
static const char *acl_check_reply(const struct script_call *call, const struct acl_user *user)
{
    const struct cmd_spec *cmd = call_command(call);

    if (!cmd) {
        return "-ERR Invalid command passed to redis.acl_check_cmd()\r\n";
    }
    return user && acl_check(user, cmd, call->argc, call->argv) == ACL_OK ? ":1\r\n" : ":0\r\n";
}

static enum call_where classify(struct shard *sh, const struct script_call *call, bool ro,
                                struct conn *conn, const struct acl_user *user,
                                const struct cmd_spec **out, int *owner, const char **err)
{
    const struct cmd_spec *cmd = call_command(call);
    bool have_client = conn != NULL;
    enum acl_verdict verdict;
    int bad = 0;

    if (!cmd) {
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
    /* Redis's scriptVerifyACL: the user of the client that runs the script */
    verdict = user ? acl_check_at(user, cmd, call->argc, call->argv, &bad) : ACL_DENIED_CMD;
    if (verdict != ACL_OK) {
        if (conn) {
            /* ACL LOG, context "lua" (a run on another owner has no client
             * there: not logged) */
            acl_log_denied(conn, verdict, cmd, call->argv, bad, ACL_LOG_CTX_LUA);
        }
        *err = verdict == ACL_DENIED_KEY ? "-ERR The user executing the script can't access at "
                                           "least one of the keys mentioned in the command "
                                           "arguments\r\n"
               : verdict == ACL_DENIED_CHANNEL
                       ? "-ERR The user executing the script can't access at least one of the "
                         "channels mentioned in the command arguments\r\n"
                       : "-ERR The user executing the script can't run this command or "
                         "subcommand\r\n";
        return CALL_ERROR;
    }
    if (ro && (cmd->flags & CMD_WRITE)) {
        *err = "-ERR Write commands are not allowed from read-only scripts.\r\n";
        return CALL_ERROR;
    }
    if ((cmd->flags & CMD_WRITE) && !(conn && (conn->flags & (CONN_MASTER | CONN_INTERNAL)))) {
        /* replication refuses writes (route.c's gate): in a script too */
        long gate = mbox_counter_get((struct mbox_counter *)&sh->srv->repl_gate);

        if (SH_UNLIKELY(gate)) {
            *err = (gate & SHARD_GATE_READONLY)
                           ? "-READONLY You can't write against a read only replica.\r\n"
                           : "-NOREPLICAS Not enough good replicas to write.\r\n";
            return CALL_ERROR;
        }
    }
    *out = cmd;
    /* a CONN command with a gather (SORT, a script) is a coordinator of its
     * own: a run without its client goes global for it (CALL_CHILD) */
    if (cmd->route == CMD_ROUTE_CONN && !cmd->gather && !have_client &&
        !conn_cmd_ok_without_client(cmd)) {
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
static enum local_result run_local(struct shard *sh, struct conn *c, int dbid, struct target t,
                                   bool ro, int nkeys, const struct sh_slice *keys, int nargs,
                                   const struct sh_slice *args, struct sh_slice typed,
                                   const struct acl_user *user, int argc,
                                   const struct sh_slice *argv, struct reply *r)
{
    struct eval_host *h = host(sh);
    struct script_vm *vm = target_vm(h, t);
    struct busy_watch busy = { .protect = c,
                               .t = t,
                               .cmdname = typed,
                               .argc = argc,
                               .argv = argv,
                               .nkeys = nkeys,
                               .nargs = nargs,
                               .keys = keys,
                               .args = args };
    enum local_result res = LOCAL_DONE;
    struct rbuf tmp;
    bool wrote = false;
    int st = run_start(sh, t, nkeys, keys, nargs, args, r);

    if (st < 0) {
        reply_not_started(r, t, st);
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
            st = busy_step(sh, vm, &busy, wrote, r);
            continue;
        }
        call = script_run_call(vm);
        tmp.len = 0;
        if (call->kind == SCRIPT_CALL_ACL_CHECK) {
            err = acl_check_reply(call, user);
            st = script_run_resume(vm, err, strlen(err), r);
            continue;
        }
        where = classify(sh, call, ro, c, user, &cmd, &owner, &err);
        if (where == CALL_ERROR) {
            st = script_run_resume(vm, err, strlen(err), r);
            continue;
        }
        if (where == CALL_HERE && !sched_quiet(&sh->sched) &&
            !sched_admits(sh, cmd, dbid, call->argc, call->argv)) {
            /* a key a transaction holds: not from here, this time */
            if (!wrote) {
                script_run_abort(vm);
                res = LOCAL_GLOBAL;
                break;
            }
        } else if (where != CALL_HERE) {
            learn(h, t);
            if (!wrote) {
                script_run_abort(vm);
                res = LOCAL_GLOBAL;
                break;
            }
            err = "-ERR shardis: this script reached a key of another shard that it did not "
                  "declare in KEYS, after it wrote; from now on it runs with every shard "
                  "locked\r\n";
            st = script_run_resume(vm, err, strlen(err), r);
            continue;
        }
        if ((cmd->flags & CMD_WRITE) && !busy_may_write(sh, vm, &busy)) {
            st = script_run_resume(vm, NULL, 0, r); /* killed: it raises at once */
            continue;
        }
        wrote |= (cmd->flags & CMD_WRITE) != 0;
        call_here(sh, c, dbid, cmd, call, &tmp);
        st = script_run_resume(vm, tmp.data, tmp.len, r);
    }
    busy_done(sh, &busy);
    rbuf_fini(&tmp);
    return res;
}

/* ---- the coordinator: sent to the keys' owner, or a global run ---- */

enum eval_phase { PH_PART, PH_GLOBAL };

struct eval_run {
    enum eval_phase phase;
    int part_owner;
    bool ro;
    bool allow_oom;        /* flags=allow-oom: its writes pass maxmemory */
    bool started;          /* the global run's engine run began */
    bool wrote;            /* the global run wrote */
    bool failed;           /* inside EXEC: the error is in final */
    int awaiting;          /* -1 nothing, -2 a nested coordinator, else a part's shard */
    struct target t;       /* t.name in the allocation of keys */
    struct sh_slice typed; /* the command's name as typed, there too */
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
        /* __evalrun mode name typed user numkeys keys... args... (mode: 1
         * read-only, 2 a function; typed: the command as the client typed
         * it, for FUNCTION STATS; user: whose ACL its commands pass) */
        int argc = 6 + x->nkeys + x->nargs;
        const char *user = co->conn->user ? acl_user_name(co->conn->user) : "";
        struct sh_slice *argv = sh_malloc(sizeof(*argv) * (size_t)argc);
        char nk[16],
                mode = (char)('0' + (x->ro ? 1 : 0) + (x->t.fn ? 2 : 0) + (x->allow_oom ? 4 : 0));

        argv[0] = (struct sh_slice){ "__evalrun", 9 };
        argv[1] = (struct sh_slice){ &mode, 1 };
        argv[2] = x->t.name;
        argv[3] = x->typed;
        argv[4] = (struct sh_slice){ user, strlen(user) };
        argv[5] = (struct sh_slice){ nk, (size_t)snprintf(nk, sizeof(nk), "%d", x->nkeys) };
        memcpy(argv + 6, x->keys, sizeof(*argv) * (size_t)x->nkeys);
        memcpy(argv + 6 + x->nkeys, x->args, sizeof(*argv) * (size_t)x->nargs);
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
    struct script_vm *vm = target_vm(h, x->t);
    struct reply fr = { .buf = &x->final, .proto = co->proto };
    /* busy only within one slice: between hops the loop runs as usual (the
     * run holds every shard's lock meanwhile) */
    struct busy_watch busy = { .protect = c,
                               .t = x->t,
                               .cmdname = x->typed,
                               .nkeys = x->nkeys,
                               .nargs = x->nargs,
                               .keys = x->keys,
                               .args = x->args };
    int st;

    if (!x->started) {
        x->started = true;
        h->global_runs++;
        st = run_start(sh, x->t, x->nkeys, x->keys, x->nargs, x->args, &fr);
        if (st < 0) {
            reply_not_started(r, x->t, st);
            return true;
        }
    } else {
        if (x->awaiting >= 0) {
            struct sh_slice p = coord_part(co, x->awaiting);

            rbuf_append(&x->call, p.ptr, p.len);
        }
        x->awaiting = -1;
        st = script_run_resume(vm, x->call.data, x->call.len, &fr);
    }
    while (st != SCRIPT_DONE) {
        enum call_where where;
        const struct script_call *call;
        const struct cmd_spec *cmd = NULL;
        const char *err = NULL;
        int owner;

        if (st == SCRIPT_BUSY) {
            st = busy_step(sh, vm, &busy, x->wrote, &fr);
            continue;
        }
        call = script_run_call(vm);
        x->call.len = 0;
        if (call->kind == SCRIPT_CALL_ACL_CHECK) {
            err = acl_check_reply(call, c->user);
            st = script_run_resume(vm, err, strlen(err), &fr);
            continue;
        }
        where = classify(sh, call, x->ro, c, c->user, &cmd, &owner, &err);
        if (where != CALL_ERROR && (cmd->flags & CMD_WRITE)) {
            if (!busy_may_write(sh, vm, &busy)) {
                st = script_run_resume(vm, NULL, 0, &fr); /* killed: it raises at once */
                continue;
            }
            x->wrote = true;
        }
        switch (where) {
        case CALL_ERROR:
            st = script_run_resume(vm, err, strlen(err), &fr);
            continue;
        case CALL_HERE:
            sh->prop_seq = co->txn_seq; /* its writes belong to the transaction */
            sh->allow_oom = x->allow_oom;
            call_here(sh, c, c->db, cmd, call, &x->call);
            sh->allow_oom = false;
            sh->prop_seq = 0;
            st = script_run_resume(vm, x->call.data, x->call.len, &fr);
            continue;
        case CALL_PART:
            x->awaiting = owner;
            co->part_proto = (uint8_t)call->resp;
            busy_done(sh, &busy);
            coord_send(co, owner, cmd, c->db, call->argc, call->argv);
            return false;
        case CALL_CHILD:
            x->awaiting = -2;
            co->part_proto = (uint8_t)call->resp;
            busy_done(sh, &busy);
            coord_start_child(co, cmd, c->db, call->argc, call->argv, &x->call);
            return false;
        }
    }
    busy_done(sh, &busy);
    reply_raw(r, x->final.data, x->final.len);
    return true;
}

static bool eval_done(struct coord *co, struct reply *r)
{
    struct eval_run *x = co->ext;

    /* a run in place that wrote nothing needs no AOF transaction records */
    co->txn_nowrite = x->ro || (x->phase == PH_GLOBAL && x->started && !x->wrote);

    if (x->phase == PH_PART) {
        struct sh_slice p = coord_part(co, x->part_owner);

        if (p.len == strlen(REPLY_GLOBAL) && !memcmp(p.ptr, REPLY_GLOBAL, p.len)) {
            /* it reached past its keys before writing: again, globally */
            learn(host(co->conn->sh), x->t);
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

/* What EVAL* or FCALL* names: the script (compiled and cached when EVAL
 * brings its body) or function, its flags and keys. False after writing an
 * error to r. */
struct eval_req {
    char sha[SCRIPT_SHA_LEN + 1];
    struct target t; /* t.name: sha, or argv[1] (a function) */
    bool ro;
    bool allow_oom;
    int nkeys;
    int owner; /* of every key: a shard, or -1 for several */
};

static bool eval_prepare(struct shard *sh, const struct cmd_spec *cmd, int argc,
                         const struct sh_slice *argv, struct eval_req *q, struct reply *r)
{
    struct eval_host *h = host(sh);
    bool fcall = !strncmp(cmd->fullname, "fcall", 5);
    bool by_sha = !strncmp(cmd->fullname, "evalsha", 7);
    bool ro_cmd = strstr(cmd->fullname, "_ro") != NULL;
    uint32_t flags = 0;
    long long n;

    if (fcall) {
        const struct script_function *f = script_fn_find(h->fvm, argv[1]);

        /* Redis looks the function up first, then at numkeys */
        if (f == NULL) {
            reply_error(r, "ERR Function not found");
            return false;
        }
        flags = f->flags;
        if (!util_str2ll(argv[2].ptr, argv[2].len, &n)) {
            reply_error(r, "ERR Bad number of keys provided");
            return false;
        }
    } else if (!util_str2ll(argv[2].ptr, argv[2].len, &n)) {
        reply_err_notint(r);
        return false;
    }
    if (n > argc - 3) {
        reply_error(r, "ERR Number of keys can't be greater than number of args");
        return false;
    }
    if (n < 0) {
        reply_error(r, "ERR Number of keys can't be negative");
        return false;
    }
    q->nkeys = (int)n;
    if (fcall) {
        q->t = (struct target){ .fn = true, .name = argv[1] };
    } else if (by_sha) {
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
    if (!fcall) {
        q->t = (struct target){ .fn = false, .name = { q->sha, SCRIPT_SHA_LEN } };
    }
    /* Redis's scriptPrepareForRun: a script with flags (a shebang, or a
     * function) that may write cannot run from a read-only command */
    if (ro_cmd && !(flags & (SCRIPT_FLAG_EVAL_COMPAT | SCRIPT_FLAG_NO_WRITES))) {
        reply_error(r, "ERR Can not execute a script with write flag using *_ro command.");
        return false;
    }
    /* ... nor one that may write while the server is over maxmemory,
     * unless it says allow-oom (no-writes implies it) */
    if (!(flags & (SCRIPT_FLAG_EVAL_COMPAT | SCRIPT_FLAG_ALLOW_OOM | SCRIPT_FLAG_NO_WRITES)) &&
        !ro_cmd && sh->cfg.maxmemory && sh->mem_base && evict_oom(sh)) {
        reply_error(r, "OOM command not allowed when used memory > 'maxmemory'.");
        return false;
    }
    q->allow_oom = (flags & SCRIPT_FLAG_ALLOW_OOM) != 0;
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

/* The run state of a coordinator: the target's name, keys and args copied. */
static struct eval_run *eval_run_new(const struct eval_req *q, int argc,
                                     const struct sh_slice *argv)
{
    struct eval_run *x = sh_calloc(1, sizeof(*x));
    int n = argc - 3;
    size_t bytes = q->t.name.len + argv[0].len;
    char *p;

    rbuf_init(&x->final);
    rbuf_init(&x->call);
    x->ro = q->ro;
    x->allow_oom = q->allow_oom;
    x->awaiting = -1;
    x->nkeys = q->nkeys;
    x->nargs = n - q->nkeys;
    for (int i = 3; i < argc; i++) {
        bytes += argv[i].len;
    }
    x->keys = sh_malloc(sizeof(struct sh_slice) * (size_t)(n ? n : 1) + bytes);
    p = (char *)(x->keys + (n ? n : 1));
    for (int i = 3; i < argc; i++) {
        memcpy(p, argv[i].ptr, argv[i].len);
        x->keys[i - 3] = (struct sh_slice){ p, argv[i].len };
        p += argv[i].len;
    }
    memcpy(p, q->t.name.ptr, q->t.name.len);
    x->t = (struct target){ .fn = q->t.fn, .name = { p, q->t.name.len } };
    p += q->t.name.len;
    memcpy(p, argv[0].ptr, argv[0].len);
    x->typed = (struct sh_slice){ p, argv[0].len };
    x->args = x->keys + q->nkeys;
    return x;
}

static void eval_generic(struct cmd_ctx *ctx)
{
    struct shard *sh = ctx->shard;
    struct conn *c = ctx->conn;
    struct eval_host *h = host(sh);
    struct eval_req q;
    struct eval_run *x;
    int owner;

    if (!eval_prepare(sh, ctx->cmd, ctx->argc, ctx->argv, &q, &ctx->r)) {
        return;
    }
    owner = q.owner;
    if (sh->srv->nshards == 1 ||
        (owner == sh->id && sched_quiet(&sh->sched) && !is_learned(h, q.t))) {
        enum local_result res;

        shard_prop_local_begin(sh);
        sh->allow_oom = q.allow_oom;
        res = run_local(sh, c, c->db, q.t, q.ro, q.nkeys, ctx->argv + 3, ctx->argc - 3 - q.nkeys,
                        ctx->argv + 3 + q.nkeys, ctx->argv[0], c->user, ctx->argc, ctx->argv,
                        &ctx->r);
        sh->allow_oom = false;
        shard_prop_local_end(sh);
        if (res == LOCAL_DONE) {
            return;
        }
        owner = -1; /* it reached past what it may touch here: globally */
    }
    /* a coordinator: the owner's run, or a global one */
    x = eval_run_new(&q, ctx->argc, ctx->argv);
    if (owner >= 0 && !is_learned(h, q.t)) {
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

/* __evalrun mode name typed user numkeys keys... args...: a run on the
 * keys' owner, its commands checked against that user (this core's copy;
 * a user deleted meanwhile may run nothing). */
static void cmd_evalrun_internal(struct cmd_ctx *ctx)
{
    long long nkeys;
    int nargs, mode = ctx->argv[1].len == 1 ? ctx->argv[1].ptr[0] - '0' : -1;
    struct target t = { .fn = (mode & 2) != 0, .name = ctx->argv[2] };
    const struct acl_user *user = acl_find(ctx->shard->acl, ctx->argv[4].ptr, ctx->argv[4].len);

    if (!util_str2ll(ctx->argv[5].ptr, ctx->argv[5].len, &nkeys) || nkeys < 0 ||
        nkeys > ctx->argc - 6 || mode < 0 || mode > 7) {
        reply_error(&ctx->r, "ERR internal: bad __evalrun");
        return;
    }
    nargs = ctx->argc - 6 - (int)nkeys;
    enum local_result res;

    shard_prop_local_begin(ctx->shard); /* within a transaction's part: part of it */
    ctx->shard->allow_oom = (mode & 4) != 0;
    res = run_local(ctx->shard, NULL, ctx->dbid, t, (mode & 1) != 0, (int)nkeys, ctx->argv + 6,
                    nargs, ctx->argv + 6 + nkeys, ctx->argv[3], user, 0, NULL, &ctx->r);
    ctx->shard->allow_oom = false;
    shard_prop_local_end(ctx->shard);
    if (res == LOCAL_GLOBAL) {
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
    .name = "__evalrun", .fullname = "__evalrun", .arity = -6, .proc = cmd_evalrun_internal
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

const struct gather eval_gather_first_part = { .start = coord_start_fanout,
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
        reply_error(&ctx->r, SHARD_BUSY_EVAL_ERR);
        return;
    }
    /* the functions' learned entries go too: they are only learned again */
    host(ctx->shard)->nlearned = 0;
    reply_ok(&ctx->r);
}

static void cmd_script_kill(struct cmd_ctx *ctx)
{
    eval_kill(ctx->shard, false, &ctx->r);
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
    cmd_must_bind("fcall", cmd_eval, CMD_ROUTE_CONN, &gather_eval_child);
    cmd_must_bind("fcall_ro", cmd_eval, CMD_ROUTE_CONN, &gather_eval_child);
    cmd_must_bind("script|load", cmd_script_load, CMD_ROUTE_ALL, &eval_gather_first_part);
    cmd_must_bind("script|exists", cmd_script_exists, CMD_ROUTE_CONN, NULL);
    cmd_must_bind("script|flush", cmd_script_flush, CMD_ROUTE_ALL, &gather_ok_every);
    cmd_must_bind("script|kill", cmd_script_kill, CMD_ROUTE_CONN, NULL);
    cmd_must_bind("script|help", cmd_script_help, CMD_ROUTE_CONN, NULL);
    function_bind();
}
