/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * script_internal.h: what the files of the scripting engine share (script.c:
 * the vm, the cache and the run's state machine; script_co.c: the run's
 * coroutines; script_lib.c: the sandbox and the redis.* library;
 * script_conv.c: RESP <-> Lua; lua_cmsgpack.c, lua_struct.c: the libraries
 * Debian does not package). Private to txn/.
 *
 * Threading: everything here belongs to the vm's shard.
 */
#pragma once

#include "shardis/script.h"
#include "shardis/sha1.h"

#include <lua.h>

/* The most frames of one run (the script, and the pcalls, xpcalls and
 * resumed coroutines nested in it; see script_co.c). Deeper ones run in
 * place, nested on the C stack, where Lua's own limit ("C stack overflow")
 * applies, as it does to Redis's native pcalls. */
#define SCRIPT_CHAIN_MAX 200

/* One cached script. */
struct script_entry {
    struct script_entry *next; /* hash chain */
    uint8_t digest[SHA1_LEN];
    char sha[SCRIPT_SHA_LEN + 1];
    uint32_t flags;
    int ref;    /* registry reference of the compiled function */
    size_t len; /* of body */
    char body[];
};

/* Where a run stands. */
enum script_wait {
    SCRIPT_WAIT_NONE,  /* no run */
    SCRIPT_WAIT_CALL,  /* stopped in redis.call: resume with a reply */
    SCRIPT_WAIT_BUSY,  /* stopped by the hook: resume with nothing */
    SCRIPT_WAIT_START, /* started, not resumed yet */
};

/* The engine's own reasons to yield, told apart from a script's
 * coroutine.yield by vm->yield_kind. */
enum script_yield {
    SCRIPT_YIELD_NONE = 0,
    SCRIPT_YIELD_CALL = 1,  /* redis.call */
    SCRIPT_YIELD_BUSY = 2,  /* the busy hook */
    SCRIPT_YIELD_SPAWN = 3, /* pcall, xpcall, coroutine.resume: run vm->pending */
};

/* What a frame of a run is (script_co.c). */
enum script_frame_kind {
    SCRIPT_FRAME_MAIN,    /* the script */
    SCRIPT_FRAME_PCALL,   /* a pcall's function */
    SCRIPT_FRAME_XPCALL,  /* an xpcall's function */
    SCRIPT_FRAME_HANDLER, /* an xpcall's handler, after its function raised */
    SCRIPT_FRAME_RESUME,  /* a coroutine resumed by coroutine.resume */
    SCRIPT_FRAME_WRAP,    /* a coroutine resumed by a coroutine.wrap function */
};

struct script_frame {
    lua_State *co;
    int ref; /* registry reference that keeps co */
    enum script_frame_kind kind;
    int nargs;          /* values for its first resume */
    lua_State *logical; /* what coroutine.running() says in it (NULL: nil) */
    int handler_ref;    /* XPCALL: the handler */
    int where_ref;      /* WRAP: luaL_where of the call, for its error */
    int line;           /* WRAP: where the call was (source: of the caller) */
    const char *source;
};

struct script_run {
    enum script_wait wait;
    lua_State *co; /* the script's coroutine ("co_main") */
    int co_ref;
    int ref;    /* registry reference of the script's or function's Lua function */
    char *name; /* the sha, or the function's name (errors, FUNCTION STATS) */
    bool fn;    /* a function (FCALL): called with (keys, args), no KEYS/ARGV */
    int resp;   /* redis.setresp */
    int repl;   /* redis.set_repl */
    bool killed;
    bool timed_out;
    script_clock_fn *clock;
    void *clock_arg;
    int64_t start_ms;
    int64_t busy_ms;
    struct script_call call;
    /* an error to raise in raise_co at its next instruction (a C function
     * cannot raise after it yielded): redis.call's error reply, a wrapped
     * coroutine's error; and where the call was, for the run's reply */
    lua_State *raise_co;
    bool raise_pending;
    int raise_ref;
    int raise_line;
    char raise_source[128];
};

struct script_vm {
    lua_State *L;
    /* the cache: chained hash table on the digest */
    struct script_entry **buckets;
    size_t nbuckets; /* a power of two */
    size_t count;
    size_t bytes; /* entries and bodies */

    struct script_run run;
    int globals_ref; /* the real globals table (scripts see a read-only view) */
    int idle_co_ref; /* a finished script coroutine kept for reuse, or LUA_NOREF */

    /* the run's coroutines, the running one last (script_co.c) */
    struct script_frame frames[SCRIPT_CHAIN_MAX];
    int nframes;
    struct script_frame pending; /* a frame asked for by a SPAWN yield */
    int sync_depth;              /* coroutines resumed where the run cannot yield */
    int trampoline_ref;          /* function(f, ...) return f(...) end (script_co.c) */
    int yield_kind;              /* why the running coroutine yielded (enum script_yield) */
    bool exact;                  /* the yieldable check reads Lua's counters (script_lib.c) */

    /* argv of the call the run waits for */
    struct sh_slice *argv;
    int argv_cap;
    char *numbuf; /* numbers formatted for argv, 32 bytes each */

    uint64_t rand48; /* math.random's state (Redis's redisLrand48) */

    /* functions (script_fn.c): a vm made by script_vm_create_functions */
    bool functions;
    int libapi_ref;               /* the globals a library's code sees as it loads */
    struct script_library **libs; /* in load order */
    size_t nlibs, libs_cap;
    struct script_function **fn_idx; /* open addressing on the name; NULL = empty */
    size_t fn_idx_cap;               /* a power of two, >= 2 * functions */
    size_t nfns;
    struct script_library *loading; /* the library whose code runs now (register_function) */
    int64_t load_start_ms;
    unsigned gc_runs;
};

/* The vm a Lua state belongs to (its allocator's user data). */
struct script_vm *script_vm_of(lua_State *L);

/* script_lib.c */

/* Opens the libraries, the redis table and the sandbox in vm->L; runs as a
 * lua_CFunction (lua_cpcall) with the vm as light userdata. */
int script_lib_open(lua_State *L);
/* Whether the coroutine L may yield to the engine's loop now: it is the
 * run's top frame and no C call is under it. from_hook: asked by the
 * instruction hook, which must never yield when unsure. */
bool script_lib_can_yield(struct script_vm *vm, lua_State *L, bool from_hook);
/* Pushes Redis's error table {err=...} for msg[0..len) as its luaPushError
 * does: coded, msg is "CODE text" (an error reply without its '-'; no space
 * means no code: "ERR " is added); otherwise "ERR " + msg. CR and LF around
 * the text are trimmed. */
void script_lib_push_error(lua_State *L, const char *msg, size_t len, bool coded);
/* Pushes tostring(value at idx) as the base library prints it (without
 * calling a __tostring metamethod). */
void script_lib_tostring(lua_State *L, int idx);
/* Raises Redis's error table for msg. */
SH_NORETURN void script_lib_raise(lua_State *L, const char *msg);
/* The position of the first frame from level on that is the script's own
 * code (not a C function, nor the sandbox's Lua): what Redis reports as
 * where an error happened. */
bool script_lib_position(lua_State *L, int level, lua_Debug *ar);
/* redis.call, redis.pcall, redis.acl_check_cmd (a closure: the kind is its
 * upvalue). */
int script_lib_call(lua_State *L);
/* The instruction-count hook of a run. */
void script_lib_hook(lua_State *L, lua_Debug *ar);
/* Builds the globals a library's code sees while FUNCTION LOAD runs it (its
 * redis table: register_function, log, the LOG_* and version constants) into
 * vm->libapi_ref; runs inside script_lib_open. */
void script_lib_open_libapi(struct script_vm *vm, lua_State *L, int ro_map, int ro_meta);
/* The kill error, in the shape every path raises it. */
#define SCRIPT_KILL_MSG "Script killed by user with SCRIPT KILL..."

/* script.c: starts a run of the Lua function at registry ref: a script
 * (KEYS and ARGV set) or a function (called with keys and args). */
SH_MUST_CHECK int script_run_begin(struct script_vm *vm, int ref, const char *name, bool fn,
                                   int nkeys, const struct sh_slice *keys, int nargs,
                                   const struct sh_slice *args, const struct script_run_opts *opts,
                                   struct reply *out);

/* script_fn.c */

/* redis.register_function. */
int script_fn_register(lua_State *L);

/* script_co.c */

/* Replaces pcall, xpcall, coroutine.resume, wrap, running and status in the
 * globals table at index g. */
void script_co_open(struct script_vm *vm, lua_State *L, int g);
/* Resumes the top frame with the nargs values on its stack and runs the
 * frames until one yields for the host (returns SCRIPT_CALL, SCRIPT_BUSY)
 * or the script ends (SCRIPT_DONE with *status: lua_resume's status of
 * co_main, LUA_YIELD for a coroutine.yield in the script itself). */
int script_co_run(struct script_vm *vm, int nargs, int *status);
/* Drops every frame (the script's own coroutine stays the caller's). */
void script_co_reset(struct script_vm *vm);
/* Arms the kill in every frame. */
void script_co_kill(struct script_vm *vm);

/* script_conv.c */

/* Pushes the Lua value of the RESP2/RESP3 value p[0..len), as Redis 7.0
 * converts a command's reply for redis.call, and returns whether it is an
 * error reply. A malformed reply becomes an error table. */
bool script_conv_push_reply(lua_State *L, const char *p, size_t len);
/* Writes the Lua value at index idx as the script's reply (Redis's
 * luaReplyToRedisReply): out->proto is the client's protocol, resp the
 * script's (redis.setresp), which decides how booleans are written. */
void script_conv_write_value(lua_State *L, int idx, struct reply *out, int resp);
/* (long long)d as x86-64 converts it (what Redis returns for a Lua number),
 * without undefined behaviour: NaN and out of range give LLONG_MIN. */
long long script_conv_num_to_ll(double d);

/* lua_cmsgpack.c, lua_struct.c: push the library's table. */
int lua_cmsgpack_open(lua_State *L);
int lua_struct_open(lua_State *L);
