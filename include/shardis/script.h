/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * script.h: the Lua scripting engine (EVAL, EVALSHA, SCRIPT ...) as Redis 7.0
 * has it, run as a state machine driven by its host so that a shard's event
 * loop never blocks on a script.
 *
 * A script_vm is one Lua 5.1 state with Redis's sandbox and libraries (cjson,
 * cmsgpack, bit, struct) and a cache of compiled scripts named by the SHA-1
 * hex of their body. Each shard owns one; only that shard's thread may call
 * any function here on it.
 *
 * A run executes one cached script. It does not execute commands: whenever
 * the script calls redis.call or redis.pcall, the run stops and hands the
 * command to the host, which executes it however it likes (here, on another
 * shard, after taking locks ...) and resumes the run with the command's reply
 * as RESP bytes. The host's loop:
 *
 *     st = script_run_start(vm, sha, keys, args, &opts, &out);
 *     for (;;) {
 *         if (st < 0)            ... -ENOENT: NOSCRIPT; -EBUSY: a run is active
 *         if (st == SCRIPT_DONE) break;         the reply is in out
 *         if (st == SCRIPT_CALL) {
 *             c = script_run_call(vm);           argc/argv, pcall, resp ...
 *             execute c now, or send it away and come back later with
 *             its reply: st = script_run_resume(vm, reply, len, &out);
 *         } else {                               SCRIPT_BUSY
 *             serve other clients for a while (they get -BUSY, SCRIPT KILL
 *             may call script_run_kill), then
 *             st = script_run_resume(vm, NULL, 0, &out);
 *         }
 *     }
 *
 * Between two steps nothing of the run runs: the host may wait as long as it
 * wants (mailbox round trips, lock waits), and if the client goes away or the
 * server shuts down it calls script_run_abort. One run at a time per vm:
 * script_run_start answers -EBUSY while one is active, so the host queues
 * the scripts of a shard (as Redis runs one script at a time).
 *
 * The host's side of a CALL: it checks the command as Redis's scriptCall
 * does and, on failure, resumes with the error reply (Redis's exact words):
 *   "-ERR Unknown Redis command called from script"
 *   "-ERR Wrong number of args calling Redis command from script"
 *   "-ERR This Redis command is not allowed from script"   (noscript flag)
 *   "-ERR Write commands are not allowed from read-only scripts."
 *       (EVAL_RO/EVALSHA_RO, or a script with flags=no-writes)
 *   "-ERR The user executing the script can't run this command or subcommand"
 *   "-OOM command not allowed when used memory > 'maxmemory'."
 * For SCRIPT_CALL_ACL_CHECK (redis.acl_check_cmd) it resumes with ":1" or
 * ":0", or "-ERR Invalid command passed to redis.acl_check_cmd()". The reply
 * is RESP2 unless the call's resp is 3 (the script ran redis.setresp(3)).
 * A command's error reply makes redis.call raise it (the run ends with it,
 * "-<error> script: <sha>, on @user_script:<line>.", unless the script
 * catches it with pcall) and redis.pcall return it as {err=...}.
 * Also the host's: "ERR Number of keys can't be greater than number of args",
 * "ERR Number of keys can't be negative", "NOSCRIPT No matching script.
 * Please use EVAL.", "BUSY Redis is busy running a script. You can only call
 * SCRIPT KILL or SHUTDOWN NOSAVE.", "NOTBUSY No scripts in execution right
 * now.", "UNKILLABLE Sorry the script already executed write commands
 * against the dataset. You can either wait the script termination or kill
 * the server in a hard way using the SHUTDOWN NOSAVE command.", and the
 * shebang flags' meaning (no-writes, allow-oom ... enforced by the host).
 *
 * Busy scripts: every SCRIPT_HOOK_INSNS Lua instructions the run reads the
 * host's clock; once busy_ms have passed since the start it is "timed out"
 * and from then on stops with SCRIPT_BUSY at every such check, so that the
 * host can answer other clients. script_run_kill makes the script fail at
 * its next instruction with "ERR Script killed by user with SCRIPT KILL..."
 * (pcall cannot catch it); the host decides whether a kill is allowed.
 *
 * How redis.call stops a run: the script runs in a Lua coroutine and
 * redis.call yields it. Lua 5.1 cannot yield across a C call, so the
 * sandbox's pcall, xpcall, coroutine.resume and coroutine.wrap do not call
 * their function: they hand it to the engine, which runs it in a coroutine
 * of its own and gives the results back, with Redis 7.0's answers (pcall
 * hands back the err field of an error table, xpcall the handler's result
 * or "error in error handling"; see script_co.c). What remains of the limit,
 * where Redis would run redis.call and this engine cannot stop: inside a
 * metamethod (__index, __add, __eq, __lt, __concat ...), a for-in iterator
 * written in Lua (a coroutine.wrap generator driven by a for-in loop
 * included), a table.sort comparator, a string.gsub replacement function, a
 * load() reader. There redis.call and redis.pcall fail with
 * SCRIPT_ERR_NOT_YIELDABLE (pcall returns it as {err=...}), and the BUSY
 * check waits for the script to leave such a place (a kill works anywhere).
 * Also different from Redis: when pcall's function is itself pcall, xpcall,
 * coroutine.resume or a coroutine.wrap function, that function's argument
 * errors read "shardis:1: bad argument #2 to 'f'" where Redis says "bad
 * argument #2 to '?'"; and memory running out while results move between
 * the script's coroutines aborts (as sh_malloc does) instead of failing the
 * script.
 */
#pragma once

#include "shardis/sh.h"

struct reply;
struct script_vm;

/* The Redis version scripts see (redis.REDIS_VERSION, REDIS_VERSION_NUM):
 * the one INFO reports. */
#define SCRIPT_REDIS_VERSION     "7.0.15"
#define SCRIPT_REDIS_VERSION_NUM 0x07000f
/* Length of a script's name: the lowercase hex SHA-1 of its body. */
#define SCRIPT_SHA_LEN           40
/* Lua instructions between two checks of the clock and the kill flag
 * (Redis's LUA_MASKCOUNT period). */
#define SCRIPT_HOOK_INSNS        100000
/* The error of redis.call where this engine cannot stop the run (see above). */
#define SCRIPT_ERR_NOT_YIELDABLE                                                                   \
    "ERR redis.call and redis.pcall cannot run inside a metamethod, a for-in iterator, a "         \
    "table.sort comparator or a string.gsub callback in shardis"

/* Script flags: the shebang's flags= (Redis's SCRIPT_FLAG_*), and
 * SCRIPT_FLAG_EVAL_COMPAT for a script without a shebang (Redis's
 * "EVAL compatibility mode": it may write, run when OOM ..., as before 7.0;
 * a script with a shebang gets exactly what its flags allow). */
enum {
    SCRIPT_FLAG_NO_WRITES = 1 << 0,
    SCRIPT_FLAG_ALLOW_OOM = 1 << 1,
    SCRIPT_FLAG_ALLOW_STALE = 1 << 2,
    SCRIPT_FLAG_NO_CLUSTER = 1 << 3,
    SCRIPT_FLAG_ALLOW_CROSS_SLOT = 1 << 4,
    SCRIPT_FLAG_EVAL_COMPAT = 1 << 5,
};

/* redis.set_repl's flags: where the commands a script runs from now on are
 * propagated (AOF, replicas). Effects replication is always on (Redis 7). */
enum {
    SCRIPT_REPL_NONE = 0,
    SCRIPT_REPL_AOF = 1,
    SCRIPT_REPL_REPLICA = 2,
    SCRIPT_REPL_ALL = 3,
};

/* What a run's step asks of its host. */
enum script_step {
    SCRIPT_DONE = 0, /* the run is over and its reply was written */
    SCRIPT_CALL = 1, /* execute script_run_call(vm), then resume with its reply */
    SCRIPT_BUSY = 2, /* timed out: serve others, then resume with no reply */
};

enum script_call_kind {
    SCRIPT_CALL_COMMAND,   /* redis.call, redis.pcall: execute the command */
    SCRIPT_CALL_ACL_CHECK, /* redis.acl_check_cmd: may the user run it? */
};

/* The command a run waits for. Public, read-only; valid until the next
 * script_run_resume or script_run_abort. */
struct script_call {
    enum script_call_kind kind;
    bool pcall; /* redis.pcall: an error reply is returned to the script */
    int resp;   /* 2 or 3: the protocol of the reply the run expects */
    int repl;   /* SCRIPT_REPL_*: propagate the command to AOF / replicas */
    int argc;   /* >= 1 */
    /* Borrowed from the run (Lua's strings, numbers formatted as Redis
     * does with %.17g). */
    const struct sh_slice *argv;
};

/* Milliseconds of a monotonic clock. */
typedef int64_t script_clock_fn(void *arg);

struct script_run_opts {
    script_clock_fn *clock; /* NULL: sh_mono_us() / 1000 */
    void *clock_arg;
    int64_t busy_ms; /* busy-reply-threshold (lua-time-limit); <= 0: never */
};

/* A new vm with an empty cache. Aborts when memory is exhausted. Cost: a
 * Lua state and its libraries (about 100 KiB, a fraction of a millisecond). */
struct script_vm *script_vm_create(void);
/* A new vm for functions (FUNCTION LOAD, FCALL): Redis keeps them in a Lua
 * state of their own, so scripts and functions never share globals. */
struct script_vm *script_vm_create_functions(void);
/* Frees the vm, its cache and an active run (no reply is written). NULL is a
 * no-op. */
void script_vm_destroy(struct script_vm *vm);

/* Compiles body[0..len) unless the cache holds it (EVAL, SCRIPT LOAD): writes
 * its name (40 hex digits and a NUL) to sha and its flags to *flags (may be
 * NULL). Returns 0, or -EINVAL with Redis's error reply written to err (may
 * be NULL): "ERR Error compiling script (new function): user_script:1: ...",
 * "ERR Unexpected flag in script shebang: x" ... The body is copied. O(len). */
SH_MUST_CHECK int script_load(struct script_vm *vm, const char *body, size_t len,
                              char sha[SCRIPT_SHA_LEN + 1], uint32_t *flags, struct reply *err);
/* Whether the cache holds the script named sha (any case, as Redis). */
bool script_exists(const struct script_vm *vm, struct sh_slice sha);
/* The flags of a cached script into *flags. Returns 0 or -ENOENT. */
SH_MUST_CHECK int script_get_flags(const struct script_vm *vm, struct sh_slice sha,
                                   uint32_t *flags);
/* The body of a cached script (to pass SCRIPT LOAD on to other shards, or to
 * rewrite EVALSHA as EVAL); NULL when unknown. Valid until the next flush. */
const char *script_body(const struct script_vm *vm, struct sh_slice sha, size_t *len);
/* SCRIPT FLUSH: forgets every script and starts a fresh Lua state. Returns
 * 0, or -EBUSY while a run is active (nothing changes). */
SH_MUST_CHECK int script_flush(struct script_vm *vm);
/* Cached scripts (INFO number_of_cached_scripts). */
size_t script_count(const struct script_vm *vm);
/* Bytes of the cache (INFO used_memory_scripts) and of the Lua state
 * (INFO used_memory_lua). */
size_t script_cache_memory(const struct script_vm *vm);
size_t script_lua_memory(const struct script_vm *vm);

/* Starts running the cached script sha with KEYS = keys[0..nkeys) and
 * ARGV = args[0..nargs) (copied; borrowed for this call only). The final
 * reply will be written to the out of the step that returns SCRIPT_DONE, in
 * out->proto (the client's protocol). Returns the first step
 * (enum script_step), -ENOENT when sha is not cached, -EBUSY when a run is
 * active on the vm. opts may be NULL (no BUSY). */
SH_MUST_CHECK int script_run_start(struct script_vm *vm, struct sh_slice sha, int nkeys,
                                   const struct sh_slice *keys, int nargs,
                                   const struct sh_slice *args, const struct script_run_opts *opts,
                                   struct reply *out);
/* Resumes the run after SCRIPT_CALL with the command's reply, one RESP2 or
 * RESP3 value reply[0..len) (borrowed for this call), or after SCRIPT_BUSY
 * with none. Returns the next step, or -EINVAL when no run waits. */
SH_MUST_CHECK int script_run_resume(struct script_vm *vm, const char *reply, size_t len,
                                    struct reply *out);
/* The command the run waits for after SCRIPT_CALL; NULL otherwise. */
const struct script_call *script_run_call(const struct script_vm *vm);
/* SCRIPT KILL: the run fails with "ERR Script killed by user with SCRIPT
 * KILL..." at its next Lua instruction (resume it to let it end; a reply it
 * waits for is dropped). No-op without a run. */
void script_run_kill(struct script_vm *vm);
/* Ends the active run without a reply (client gone, shutdown). No-op
 * without a run. */
void script_run_abort(struct script_vm *vm);
/* Whether a run is active (between script_run_start and SCRIPT_DONE). */
bool script_run_active(const struct script_vm *vm);
/* Whether the active run passed busy_ms (Redis's "timed out" script). */
bool script_run_timed_out(const struct script_vm *vm);
/* Milliseconds since the active run started, by its clock; 0 without one. */
int64_t script_run_elapsed_ms(const struct script_vm *vm);
/* The active run's script (its sha) or function name; NULL without one. */
const char *script_run_name(const struct script_vm *vm);

/*
 * Functions (a vm from script_vm_create_functions), Redis 7.0's functions.c
 * and function_lua.c: a library is "#!lua name=<lib>" and Lua code that
 * registers its functions with redis.register_function(name, fn) or
 * redis.register_function{function_name=, callback=, flags={...},
 * description=} when it loads. Redis's errors, written to the reply:
 *   "ERR Missing library metadata", "ERR Invalid library metadata",
 *   "ERR Invalid metadata value given: x", "ERR Library name was not given",
 *   "ERR Engine 'x' not found", "ERR Library 'x' already exists",
 *   "ERR Function x already exists", "ERR No functions registered",
 *   "ERR Error compiling function: user_function:N: ...",
 *   "ERR Error registering functions: ERR ..." (the code failed, or
 *   register_function refused, or "FUNCTION LOAD timeout" after 500 ms).
 * A failed load or restore changes nothing.
 */
struct script_library;
struct script_function {
    char *name;
    char *desc; /* NULL: none */
    uint32_t flags;
    int ref;
    struct script_library *lib;
};
struct script_library {
    char *name;
    char *code; /* NUL-terminated, len bytes */
    size_t len;
    int nfns;
    struct script_function *fns;
};
/* FUNCTION RESTORE's policies. */
enum script_fn_policy { SCRIPT_FN_APPEND, SCRIPT_FN_REPLACE, SCRIPT_FN_FLUSH };

/* FUNCTION LOAD [REPLACE]: on success writes the library's name (bulk) to
 * out and returns 0; else Redis's error to out and -EINVAL or -EEXIST. */
SH_MUST_CHECK int script_fn_load(struct script_vm *vm, const char *code, size_t len, bool replace,
                                 struct reply *out);
/* FUNCTION DELETE: 0, or -ENOENT. */
SH_MUST_CHECK int script_fn_delete(struct script_vm *vm, struct sh_slice lib);
/* FUNCTION FLUSH. */
void script_fn_flush(struct script_vm *vm);
/* FUNCTION RESTORE of the libraries' codes[0..n), all or nothing: 0, or
 * -EINVAL with the error written to err. */
SH_MUST_CHECK int script_fn_restore(struct script_vm *vm, const struct sh_slice *codes, int n,
                                    enum script_fn_policy policy, struct reply *err);
/* The libraries in load order, and the count of functions. */
size_t script_fn_nlibs(const struct script_vm *vm);
const struct script_library *script_fn_lib(const struct script_vm *vm, size_t i);
size_t script_fn_nfunctions(const struct script_vm *vm);
/* The function named name (in any case, as Redis), or NULL. */
const struct script_function *script_fn_find(const struct script_vm *vm, struct sh_slice name);
/* FCALL: starts running the function name with keys and args as its two
 * arguments; as script_run_start (-ENOENT: no such function). */
SH_MUST_CHECK int script_fn_run_start(struct script_vm *vm, struct sh_slice name, int nkeys,
                                      const struct sh_slice *keys, int nargs,
                                      const struct sh_slice *args,
                                      const struct script_run_opts *opts, struct reply *out);
