/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * script.c: the scripting engine's vm, its script cache and the state machine
 * of a run (see script.h for how a host drives it).
 *
 * The vm is one Lua 5.1 state (its allocator is sh_* with the vm as user
 * data, so the hook and the library find the vm from any coroutine), opened
 * by script_lib.c with Redis 7.0's sandbox. The cache is a chained hash
 * table on the SHA-1 of the bodies; an entry keeps the body (for SCRIPT
 * LOAD propagation and EVALSHA-as-EVAL) and a registry reference to the
 * compiled chunk, compiled once as Redis does: "@user_script", the shebang
 * line cut but its newline kept so that line numbers stay right.
 *
 * A run is the chunk resumed in a coroutine (co_main), with the coroutines
 * of its pcalls and resumes on top of it (script_co.c):
 *
 *     script_run_start --> step: script_co_run (lua_resume of the top frame)
 *                             | redis.call yielded       -> SCRIPT_CALL
 *                             | the busy hook yielded    -> SCRIPT_BUSY
 *                             | co_main returned, raised -> SCRIPT_DONE
 *     script_run_resume: the reply as a Lua value, on the top frame --> step
 *
 * Everything the host side does with Lua values (KEYS/ARGV, converting a
 * reply, writing the final reply or error) runs in lua_cpcall on the main
 * state, so that an allocation failure becomes an error instead of a panic;
 * values go to and from the coroutines by lua_xmove. A coroutine whose
 * script returned is kept and reused by the next run. Every 50 runs the
 * collector takes a step, as Redis does.
 *
 * When a run fails, the error's position is found after the fact on the dead
 * co_main, whose frames Lua 5.1 leaves in place: the first one that is not a
 * C function, which is what Redis's __redis__err__handler reports; for an
 * error the hook raised for redis.call or coroutine.wrap, where that call
 * was.
 *
 * Threading: a vm belongs to one shard; nothing here is shared.
 */
#include "shardis/script.h"

#include "script_internal.h"
#include "shardis/reply.h"
#include "shardis/resp.h"

#include <ctype.h>
#include <errno.h>
#include <lauxlib.h>
#include <string.h>

#define CACHE_MIN_BUCKETS 16
/* Runs between two steps of the collector (Redis's LUA_GC_CYCLE_PERIOD). */
#define GC_PERIOD         50

struct script_vm *script_vm_of(lua_State *L)
{
    void *ud;

    lua_getallocf(L, &ud);
    return ud;
}

static void *vm_alloc(void *ud, void *ptr, size_t osize, size_t nsize)
{
    (void)ud;
    (void)osize;
    if (nsize == 0) {
        sh_free(ptr);
        return NULL;
    }
    /* a failure becomes Lua's "not enough memory" error in the script */
    return sh_try_realloc(ptr, nsize);
}

static int vm_panic(lua_State *L)
{
    sh_panic("scripting: unprotected Lua error: %s",
             lua_isstring(L, -1) ? lua_tostring(L, -1) : "(not a string)");
}

static void open_state(struct script_vm *vm)
{
    vm->L = lua_newstate(vm_alloc, vm);
    if (vm->L == NULL) {
        sh_panic("scripting: out of memory creating a Lua state");
    }
    lua_atpanic(vm->L, vm_panic);
    if (lua_cpcall(vm->L, script_lib_open, vm) != 0) {
        sh_panic("scripting: cannot open the Lua libraries: %s", lua_tostring(vm->L, -1));
    }
    vm->idle_co_ref = LUA_NOREF;
    vm->run.raise_ref = LUA_NOREF;
}

static struct script_vm *vm_new(bool functions)
{
    struct script_vm *vm = sh_calloc(1, sizeof(*vm));

    vm->functions = functions;
    vm->libapi_ref = LUA_NOREF;
    vm->nbuckets = CACHE_MIN_BUCKETS;
    vm->buckets = sh_calloc(vm->nbuckets, sizeof(*vm->buckets));
    vm->rand48 = 0x1234abcd330eULL; /* lrand48's default seed */
    open_state(vm);
    return vm;
}

struct script_vm *script_vm_create(void)
{
    return vm_new(false);
}

struct script_vm *script_vm_create_functions(void)
{
    return vm_new(true);
}

static void cache_clear(struct script_vm *vm)
{
    for (size_t i = 0; i < vm->nbuckets; i++) {
        struct script_entry *e = vm->buckets[i], *next;

        for (; e != NULL; e = next) {
            next = e->next;
            sh_free(e);
        }
        vm->buckets[i] = NULL;
    }
    vm->count = 0;
    vm->bytes = 0;
}

void script_vm_destroy(struct script_vm *vm)
{
    if (vm == NULL) {
        return;
    }
    script_run_abort(vm);
    cache_clear(vm);
    script_fn_flush(vm); /* the libraries and their arrays */
    lua_close(vm->L);
    sh_free(vm->buckets);
    sh_free(vm->argv);
    sh_free(vm->numbuf);
    sh_free(vm);
}

/* ---- the cache ---- */

static size_t bucket_of(const struct script_vm *vm, const uint8_t d[SHA1_LEN])
{
    uint64_t h;

    memcpy(&h, d, sizeof(h));
    return (size_t)h & (vm->nbuckets - 1);
}

static struct script_entry *cache_find(const struct script_vm *vm, const uint8_t d[SHA1_LEN])
{
    struct script_entry *e = vm->buckets[bucket_of(vm, d)];

    while (e != NULL && memcmp(e->digest, d, SHA1_LEN) != 0) {
        e = e->next;
    }
    return e;
}

static void cache_grow(struct script_vm *vm)
{
    size_t old_n = vm->nbuckets;
    struct script_entry **old = vm->buckets;

    vm->nbuckets *= 2;
    vm->buckets = sh_calloc(vm->nbuckets, sizeof(*vm->buckets));
    for (size_t i = 0; i < old_n; i++) {
        struct script_entry *e = old[i], *next;

        for (; e != NULL; e = next) {
            size_t b = bucket_of(vm, e->digest);

            next = e->next;
            e->next = vm->buckets[b];
            vm->buckets[b] = e;
        }
    }
    sh_free(old);
}

static void cache_add(struct script_vm *vm, struct script_entry *e)
{
    size_t b;

    if (vm->count >= vm->nbuckets) {
        cache_grow(vm);
    }
    b = bucket_of(vm, e->digest);
    e->next = vm->buckets[b];
    vm->buckets[b] = e;
    vm->count++;
    vm->bytes += sizeof(*e) + e->len;
}

/* A script's name as Redis accepts it: 40 hex digits, any case. */
static bool parse_sha(struct sh_slice sha, uint8_t d[SHA1_LEN])
{
    if (sha.len != SCRIPT_SHA_LEN) {
        return false;
    }
    for (size_t i = 0; i < SHA1_LEN; i++) {
        int v = 0;

        for (size_t j = 0; j < 2; j++) {
            char c = (char)tolower((unsigned char)sha.ptr[2 * i + j]);

            if (c >= '0' && c <= '9') {
                v = v * 16 + (c - '0');
            } else if (c >= 'a' && c <= 'f') {
                v = v * 16 + (c - 'a' + 10);
            } else {
                return false;
            }
        }
        d[i] = (uint8_t)v;
    }
    return true;
}

static const struct script_entry *lookup(const struct script_vm *vm, struct sh_slice sha)
{
    uint8_t d[SHA1_LEN];

    return parse_sha(sha, d) ? cache_find(vm, d) : NULL;
}

bool script_exists(const struct script_vm *vm, struct sh_slice sha)
{
    return lookup(vm, sha) != NULL;
}

int script_get_flags(const struct script_vm *vm, struct sh_slice sha, uint32_t *flags)
{
    const struct script_entry *e = lookup(vm, sha);

    if (e == NULL) {
        return -ENOENT;
    }
    *flags = e->flags;
    return 0;
}

const char *script_body(const struct script_vm *vm, struct sh_slice sha, size_t *len)
{
    const struct script_entry *e = lookup(vm, sha);

    if (e == NULL) {
        return NULL;
    }
    *len = e->len;
    return e->body;
}

size_t script_count(const struct script_vm *vm)
{
    return vm->count;
}

size_t script_cache_memory(const struct script_vm *vm)
{
    return vm->bytes + vm->nbuckets * sizeof(*vm->buckets);
}

size_t script_lua_memory(const struct script_vm *vm)
{
    return (size_t)lua_gc(vm->L, LUA_GCCOUNT, 0) * 1024 + (size_t)lua_gc(vm->L, LUA_GCCOUNTB, 0);
}

int script_flush(struct script_vm *vm)
{
    if (vm->run.wait != SCRIPT_WAIT_NONE) {
        return -EBUSY;
    }
    cache_clear(vm);
    lua_close(vm->L);
    open_state(vm);
    return 0;
}

/* ---- loading ---- */

static const struct {
    const char *name;
    uint32_t flag;
} shebang_flags[] = {
    { "no-writes", SCRIPT_FLAG_NO_WRITES },
    { "allow-oom", SCRIPT_FLAG_ALLOW_OOM },
    { "allow-stale", SCRIPT_FLAG_ALLOW_STALE },
    { "no-cluster", SCRIPT_FLAG_NO_CLUSTER },
    { "allow-cross-slot-keys", SCRIPT_FLAG_ALLOW_CROSS_SLOT },
};

/* Writes "ERR <what><part>" as the error reply. */
static void shebang_error(struct reply *err, const char *what, const char *part, size_t n)
{
    if (err != NULL) {
        reply_errorf(err, "ERR %s%.*s", what, (int)n, part);
    }
}

/* The flags= option's list: comma-separated, each one of shebang_flags. */
static int shebang_flag_list(const char *s, size_t n, uint32_t *flags, struct reply *err)
{
    size_t start = 0;

    if (n == 0) {
        return 0;
    }
    for (size_t i = 0; i <= n; i++) {
        size_t k;

        if (i < n && s[i] != ',') {
            continue;
        }
        for (k = 0; k < SH_ARRAY_LEN(shebang_flags); k++) {
            if (strlen(shebang_flags[k].name) == i - start &&
                memcmp(shebang_flags[k].name, s + start, i - start) == 0) {
                break;
            }
        }
        if (k == SH_ARRAY_LEN(shebang_flags)) {
            shebang_error(err, "Unexpected flag in script shebang: ", s + start, i - start);
            return -EINVAL;
        }
        *flags |= shebang_flags[k].flag;
        start = i + 1;
    }
    return 0;
}

/* Redis's evalExtractShebangFlags: "#!lua" and options split like
 * arguments (sdssplitargs), each "flags=a,b". *skip is the length of the
 * shebang line without its newline. */
static int parse_shebang(const char *body, size_t len, uint32_t *flags, size_t *skip,
                         struct reply *err)
{
    const char *nl;
    char *line;
    struct sh_slice *parts;
    int n, rc = 0;

    *flags = SCRIPT_FLAG_EVAL_COMPAT;
    *skip = 0;
    if (len < 2 || body[0] != '#' || body[1] != '!') {
        return 0;
    }
    nl = memchr(body, '\n', len);
    if (nl == NULL) {
        shebang_error(err, "Invalid script shebang", "", 0);
        return -EINVAL;
    }
    *skip = (size_t)(nl - body);
    *flags = 0;
    line = sh_memdup(body, *skip);
    parts = sh_malloc(sizeof(*parts) * (*skip / 2 + 2));
    n = resp_split_inline(line, *skip, parts, (int)(*skip / 2 + 1));
    if (n <= 0) {
        shebang_error(err, "Invalid engine in script shebang", "", 0);
        rc = -EINVAL;
        goto out_free;
    }
    if (parts[0].len != 5 || memcmp(parts[0].ptr, "#!lua", 5) != 0) {
        shebang_error(err, "Unexpected engine in script shebang: ", parts[0].ptr, parts[0].len);
        rc = -EINVAL;
        goto out_free;
    }
    for (int j = 1; j < n && rc == 0; j++) {
        if (parts[j].len >= 6 && memcmp(parts[j].ptr, "flags=", 6) == 0) {
            rc = shebang_flag_list(parts[j].ptr + 6, parts[j].len - 6, flags, err);
        } else {
            shebang_error(err, "Unknown lua shebang option: ", parts[j].ptr, parts[j].len);
            rc = -EINVAL;
        }
    }
out_free:
    sh_free(parts);
    sh_free(line);
    return rc;
}

struct load_ctx {
    const char *code;
    size_t len;
    int ref;
};

static int load_fn(lua_State *L)
{
    struct load_ctx *ctx = lua_touserdata(L, 1);

    if (luaL_loadbuffer(L, ctx->code, ctx->len, "@user_script") != 0) {
        return lua_error(L);
    }
    ctx->ref = luaL_ref(L, LUA_REGISTRYINDEX);
    return 0;
}

int script_load(struct script_vm *vm, const char *body, size_t len, char sha[SCRIPT_SHA_LEN + 1],
                uint32_t *flags, struct reply *err)
{
    uint8_t d[SHA1_LEN];
    struct script_entry *e;
    struct load_ctx ctx;
    uint32_t f;
    size_t skip;

    sha1(body, len, d);
    sha1_hex(d, sha);
    e = cache_find(vm, d);
    if (e == NULL) {
        if (parse_shebang(body, len, &f, &skip, err) != 0) {
            return -EINVAL;
        }
        ctx = (struct load_ctx){ .code = body + skip, .len = len - skip };
        if (lua_cpcall(vm->L, load_fn, &ctx) != 0) {
            if (err != NULL) {
                reply_errorf(err, "ERR Error compiling script (new function): %s",
                             lua_isstring(vm->L, -1) ? lua_tostring(vm->L, -1) : "?");
            }
            lua_pop(vm->L, 1);
            return -EINVAL;
        }
        e = sh_malloc(sizeof(*e) + len);
        memcpy(e->digest, d, SHA1_LEN);
        memcpy(e->sha, sha, sizeof(e->sha));
        e->flags = f;
        e->ref = ctx.ref;
        e->len = len;
        if (len > 0) {
            memcpy(e->body, body, len);
        }
        cache_add(vm, e);
    }
    if (flags != NULL) {
        *flags = e->flags;
    }
    return 0;
}

/* ---- runs ---- */

static int64_t default_clock(void *arg)
{
    (void)arg;
    return sh_mono_us() / 1000;
}

/* Pushes a table of slices (KEYS and ARGV go in the real globals: scripts
 * cannot write there, Redis can). */
static void push_array(lua_State *L, int n, const struct sh_slice *v)
{
    lua_createtable(L, n, 0);
    for (int i = 0; i < n; i++) {
        lua_pushlstring(L, v[i].ptr, v[i].len);
        lua_rawseti(L, -2, i + 1);
    }
}

struct start_ctx {
    struct script_vm *vm;
    int nkeys, nargs;
    const struct sh_slice *keys, *args;
};

/* Readies co_main with the script's function and KEYS/ARGV. */
static int start_fn(lua_State *L)
{
    struct start_ctx *ctx = lua_touserdata(L, 1);
    struct script_vm *vm = ctx->vm;
    struct script_run *run = &vm->run;

    lua_settop(L, 0);
    if (vm->idle_co_ref != LUA_NOREF) {
        lua_rawgeti(L, LUA_REGISTRYINDEX, vm->idle_co_ref);
        run->co = lua_tothread(L, -1);
        run->co_ref = vm->idle_co_ref;
        vm->idle_co_ref = LUA_NOREF;
        lua_pop(L, 1);
    } else {
        run->co = lua_newthread(L);
        run->co_ref = luaL_ref(L, LUA_REGISTRYINDEX);
    }
    vm->frames[0] = (struct script_frame){ .co = run->co,
                                           .ref = LUA_NOREF,
                                           .kind = SCRIPT_FRAME_MAIN,
                                           .handler_ref = LUA_NOREF,
                                           .where_ref = LUA_NOREF,
                                           .line = -1 };
    vm->nframes = 1;
    lua_sethook(run->co, script_lib_hook, LUA_MASKCOUNT, SCRIPT_HOOK_INSNS);
    if (run->fn) {
        /* a function: f(keys, args) */
        lua_rawgeti(L, LUA_REGISTRYINDEX, run->ref);
        push_array(L, ctx->nkeys, ctx->keys);
        push_array(L, ctx->nargs, ctx->args);
        lua_xmove(L, run->co, 3);
        return 0;
    }
    lua_rawgeti(L, LUA_REGISTRYINDEX, vm->globals_ref);
    push_array(L, ctx->nkeys, ctx->keys);
    lua_setfield(L, 1, "KEYS");
    push_array(L, ctx->nargs, ctx->args);
    lua_setfield(L, 1, "ARGV");
    lua_rawgeti(L, LUA_REGISTRYINDEX, run->ref);
    lua_xmove(L, run->co, 1);
    return 0;
}

/* Forgets the run; its coroutine is kept for the next one when the script
 * returned normally. */
static void end_run(struct script_vm *vm, bool reusable)
{
    struct script_run *run = &vm->run;

    if (run->co != NULL) {
        lua_settop(run->co, 0);
        if (reusable && vm->idle_co_ref == LUA_NOREF) {
            vm->idle_co_ref = run->co_ref;
        } else {
            luaL_unref(vm->L, LUA_REGISTRYINDEX, run->co_ref);
        }
    }
    luaL_unref(vm->L, LUA_REGISTRYINDEX, run->raise_ref);
    script_co_reset(vm);
    sh_free(run->name);
    memset(run, 0, sizeof(*run));
    run->wait = SCRIPT_WAIT_NONE;
    run->raise_ref = LUA_NOREF;
    vm->yield_kind = SCRIPT_YIELD_NONE;
    if (++vm->gc_runs >= GC_PERIOD) {
        vm->gc_runs = 0;
        lua_gc(vm->L, LUA_GCSTEP, GC_PERIOD);
    }
}

struct finish_ctx {
    struct script_vm *vm;
    int status;
    struct reply *out;
};

/* Whether the error at index 1 is the one the hook raised for redis.call or
 * coroutine.wrap: it happened where that call was, not where the hook ran. */
static bool is_deferred_error(lua_State *L, const struct script_run *run)
{
    bool same;

    if (run->raise_ref == LUA_NOREF) {
        return false;
    }
    lua_rawgeti(L, LUA_REGISTRYINDEX, run->raise_ref);
    same = lua_rawequal(L, 1, -1);
    lua_pop(L, 1);
    return same;
}

/* Redis's error reply of a failed run: the err field of an error table, or
 * "ERR " and the value, then where. */
static void write_run_error(lua_State *L, struct script_vm *vm, struct reply *out)
{
    struct script_run *run = &vm->run;
    lua_Debug ar;
    luaL_Buffer b;

    luaL_buffinit(L, &b);
    if (lua_type(L, 1) == LUA_TTABLE) {
        lua_pushliteral(L, "err");
        lua_rawget(L, 1);
        if (lua_isstring(L, -1)) {
            luaL_addvalue(&b);
        } else {
            /* Redis 7.0.15 crashes here; an error without a message is ours */
            lua_pop(L, 1);
            luaL_addstring(&b, "ERR unknown error");
        }
    } else {
        luaL_addstring(&b, "ERR ");
        script_lib_tostring(L, 1);
        luaL_addvalue(&b);
    }
    if (is_deferred_error(L, run)) {
        if (run->raise_source[0] != '\0') {
            lua_pushfstring(L, " script: %s, on %s:%d.", run->name, run->raise_source,
                            run->raise_line);
            luaL_addvalue(&b);
        }
    } else if (script_lib_position(run->co, 0, &ar)) {
        lua_pushfstring(L, " script: %s, on %s:%d.", run->name, ar.source, ar.currentline);
        luaL_addvalue(&b);
    }
    luaL_pushresult(&b);
    reply_error(out, lua_tostring(L, -1));
}

static int finish_fn(lua_State *L)
{
    struct finish_ctx *ctx = lua_touserdata(L, 1);
    struct script_run *run = &ctx->vm->run;

    lua_settop(L, 0);
    if (ctx->status == 0) {
        /* the first value the script returned, nil for none */
        lua_settop(run->co, 1);
        lua_xmove(run->co, L, 1);
        script_conv_write_value(L, 1, ctx->out, run->resp);
        return 0;
    }
    if (ctx->status == LUA_YIELD) {
        /* coroutine.yield outside any coroutine: Lua's own error there */
        lua_pushliteral(L, "attempt to yield across metamethod/C-call boundary");
    } else {
        lua_xmove(run->co, L, 1);
    }
    write_run_error(L, ctx->vm, ctx->out);
    return 0;
}

static void finish(struct script_vm *vm, int status, struct reply *out)
{
    struct finish_ctx ctx = { .vm = vm, .status = status, .out = out };
    size_t at = out->buf->len;

    if (lua_cpcall(vm->L, finish_fn, &ctx) != 0) {
        /* out of memory while writing: drop the half-written reply */
        lua_pop(vm->L, 1);
        out->buf->len = at;
        reply_error(out, "ERR shardis: out of memory writing the script's reply");
    }
    end_run(vm, status == 0);
}

/* Runs the frames with the nargs values on the top one's stack; returns
 * the step. */
static int step(struct script_vm *vm, int nargs, struct reply *out)
{
    struct script_run *run = &vm->run;
    int status = 0, st = script_co_run(vm, nargs, &status);

    if (st == SCRIPT_DONE) {
        finish(vm, status, out);
        return SCRIPT_DONE;
    }
    run->wait = st == SCRIPT_CALL ? SCRIPT_WAIT_CALL : SCRIPT_WAIT_BUSY;
    vm->yield_kind = SCRIPT_YIELD_NONE;
    return st;
}

int script_run_start(struct script_vm *vm, struct sh_slice sha, int nkeys,
                     const struct sh_slice *keys, int nargs, const struct sh_slice *args,
                     const struct script_run_opts *opts, struct reply *out)
{
    const struct script_entry *e = lookup(vm, sha);

    if (vm->run.wait != SCRIPT_WAIT_NONE) {
        return -EBUSY;
    }
    if (e == NULL) {
        return -ENOENT;
    }
    return script_run_begin(vm, e->ref, e->sha, false, nkeys, keys, nargs, args, opts, out);
}

int script_run_begin(struct script_vm *vm, int ref, const char *name, bool fn, int nkeys,
                     const struct sh_slice *keys, int nargs, const struct sh_slice *args,
                     const struct script_run_opts *opts, struct reply *out)
{
    struct script_run *run = &vm->run;
    struct start_ctx ctx = { .vm = vm, .nkeys = nkeys, .nargs = nargs, .keys = keys, .args = args };

    run->ref = ref;
    run->name = sh_memdup(name, strlen(name) + 1);
    run->fn = fn;
    run->raise_ref = LUA_NOREF;
    run->resp = 2;
    run->repl = SCRIPT_REPL_ALL;
    run->clock = opts != NULL && opts->clock != NULL ? opts->clock : default_clock;
    run->clock_arg = opts != NULL ? opts->clock_arg : NULL;
    run->busy_ms = opts != NULL ? opts->busy_ms : 0;
    run->start_ms = run->clock(run->clock_arg);
    if (lua_cpcall(vm->L, start_fn, &ctx) != 0) {
        lua_pop(vm->L, 1);
        end_run(vm, false);
        reply_error(out, "ERR shardis: out of memory starting the script");
        return SCRIPT_DONE;
    }
    run->wait = SCRIPT_WAIT_START;
    return step(vm, fn ? 2 : 0, out);
}

struct resume_ctx {
    struct script_vm *vm;
    const char *reply;
    size_t len;
};

/* Pushes what redis.call returns: the reply's value, on the top frame that
 * called it. An error reply that redis.call (not pcall) must raise is
 * returned too, and the hook raises it at the caller's next instruction.
 * After a kill nothing matters: the frame raises the kill at once. */
static int resume_fn(lua_State *L)
{
    struct resume_ctx *ctx = lua_touserdata(L, 1);
    struct script_run *run = &ctx->vm->run;
    lua_State *top = ctx->vm->frames[ctx->vm->nframes - 1].co;
    bool is_err;

    lua_settop(L, 0);
    if (run->killed) {
        lua_pushnil(L);
    } else {
        is_err = script_conv_push_reply(L, ctx->reply, ctx->len);
        if (is_err && !run->call.pcall) {
            luaL_unref(L, LUA_REGISTRYINDEX, run->raise_ref);
            lua_pushvalue(L, -1);
            run->raise_ref = luaL_ref(L, LUA_REGISTRYINDEX);
            run->raise_pending = true;
            run->raise_co = top;
            lua_sethook(top, script_lib_hook, LUA_MASKCOUNT, 1);
        } else if (!is_err && run->call.kind == SCRIPT_CALL_ACL_CHECK) {
            bool yes = lua_type(L, -1) == LUA_TNUMBER ? lua_tonumber(L, -1) != 0
                                                      : lua_toboolean(L, -1);

            lua_pop(L, 1);
            lua_pushboolean(L, yes);
        }
    }
    lua_xmove(L, top, 1);
    return 0;
}

int script_run_resume(struct script_vm *vm, const char *reply, size_t len, struct reply *out)
{
    struct script_run *run = &vm->run;
    struct resume_ctx ctx = { .vm = vm, .reply = reply, .len = len };

    if (run->wait == SCRIPT_WAIT_BUSY) {
        run->wait = SCRIPT_WAIT_START;
        return step(vm, 0, out);
    }
    if (run->wait != SCRIPT_WAIT_CALL) {
        return -EINVAL;
    }
    run->wait = SCRIPT_WAIT_START;
    if (lua_cpcall(vm->L, resume_fn, &ctx) != 0) {
        lua_pop(vm->L, 1);
        end_run(vm, false);
        reply_error(out, "ERR shardis: out of memory reading a command's reply");
        return SCRIPT_DONE;
    }
    return step(vm, 1, out);
}

const struct script_call *script_run_call(const struct script_vm *vm)
{
    return vm->run.wait == SCRIPT_WAIT_CALL ? &vm->run.call : NULL;
}

void script_run_kill(struct script_vm *vm)
{
    struct script_run *run = &vm->run;

    if (run->wait == SCRIPT_WAIT_NONE) {
        return;
    }
    run->killed = true;
    /* every coroutine of the run stops at its next instruction */
    script_co_kill(vm);
}

void script_run_abort(struct script_vm *vm)
{
    if (vm->run.wait != SCRIPT_WAIT_NONE) {
        end_run(vm, false);
    }
}

bool script_run_active(const struct script_vm *vm)
{
    return vm->run.wait != SCRIPT_WAIT_NONE;
}

bool script_run_timed_out(const struct script_vm *vm)
{
    return vm->run.wait != SCRIPT_WAIT_NONE && vm->run.timed_out;
}

const char *script_run_name(const struct script_vm *vm)
{
    return vm->run.wait != SCRIPT_WAIT_NONE ? vm->run.name : NULL;
}

int64_t script_run_elapsed_ms(const struct script_vm *vm)
{
    const struct script_run *run = &vm->run;

    if (run->wait == SCRIPT_WAIT_NONE) {
        return 0;
    }
    return run->clock(run->clock_arg) - run->start_ms;
}
