/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * script_lib.c: what a script sees: Redis 7.0's sandbox and its redis.*
 * library, and the machinery that lets a run stop for its host.
 *
 * The sandbox. Libraries base (without print, dofile, loadfile, getfenv,
 * setfenv, newproxy), table, string, math (math.random on Redis's own
 * lrand48), coroutine, cjson and bit (Debian's), struct and cmsgpack
 * (lua_struct.c, lua_cmsgpack.c), and redis. No os, io, debug or package.
 * As in Redis 7.0.15 the globals and every library table are read-only:
 *
 *     scripts see:  _G = P ----__index----> G (the real globals) ----__index----> error:
 *                   string = proxy(string)                       "Script attempted to access
 *                   ...                                           nonexistent global variable"
 *
 * Lua 5.1 has no read-only tables (Redis patched its Lua), so each one is an
 * empty proxy whose metatable reads through to the real table and raises
 * "Attempt to modify a readonly table" on __newindex; the functions that
 * bypass metatables (rawset, rawget, next, pairs, setmetatable,
 * getmetatable, table.insert) are wrapped to see through proxies or refuse
 * them. The state's globals table (LUA_GLOBALSINDEX) is P, so code compiled
 * later (scripts, loadstring) sees P; our C code writes G directly. pcall,
 * xpcall and coroutine.resume, wrap, running, status are script_co.c's.
 *
 * Stopping a run. redis.call (script_lib_call) copies its arguments and yields
 * to the engine's loop (script_co.c), which hands the command to the host.
 * Lua 5.1 raises an error when a coroutine yields inside a C call (a
 * metamethod, a for-in iterator, table.sort's comparator ...); the busy
 * hook must never raise there, and redis.call should say why it cannot
 * run, so script_lib_can_yield reads the two
 * private counters that Lua compares (nCcalls, baseCcalls) from the head of
 * Lua 5.1.5's struct lua_State, mirrored below. probe_layout checks the
 * mirror against the public API when the vm starts; when it does not match
 * (another Lua build) the hook never yields and redis.call leaves the check
 * to lua_yield.
 */
#include "script_internal.h"
#include "shardis/log.h"
#include "shardis/sha1.h"

#include <lauxlib.h>
#include <lua-bitop.h>
#include <lua-cjson.h>
#include <lualib.h>
#include <math.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>

/* ---- Lua 5.1.5's struct lua_State, as far as we read it ---- */

/* The head of lstate.h's struct lua_State: CommonHeader (next, tt, marked),
 * status, nine stack and call-info pointers, two sizes, then the C-call
 * counters and the hook fields, which probe_layout checks against
 * lua_gethookmask/lua_gethookcount/lua_gethook. */
struct lua51_state_head {
    void *next;
    unsigned char tt, marked, status;
    void *top, *base, *l_g, *ci;
    const void *savedpc;
    void *stack_last, *stack, *end_ci, *base_ci;
    int stacksize, size_ci;
    unsigned short n_ccalls, base_ccalls;
    unsigned char hookmask, allowhook;
    int basehookcount, hookcount;
    lua_Hook hook;
};

static void read_ccalls(lua_State *T, unsigned short *n, unsigned short *base)
{
    memcpy(n, (const char *)T + offsetof(struct lua51_state_head, n_ccalls), sizeof(*n));
    memcpy(base, (const char *)T + offsetof(struct lua51_state_head, base_ccalls), sizeof(*base));
}

struct probe {
    unsigned short outer_n, outer_base, inner_n, inner_base;
};

static int probe_inner(lua_State *L)
{
    struct probe *p = lua_touserdata(L, 1);

    read_ccalls(L, &p->inner_n, &p->inner_base);
    return 0;
}

static int probe_outer(lua_State *L)
{
    struct probe *p = lua_touserdata(L, 1);

    read_ccalls(L, &p->outer_n, &p->outer_base);
    lua_pushcfunction(L, probe_inner);
    lua_pushlightuserdata(L, p);
    lua_call(L, 1, 0);
    return 0;
}

static void probe_hook(lua_State *L, lua_Debug *ar)
{
    (void)L;
    (void)ar;
}

/* Whether the mirror matches this Lua: the hook fields where the API puts
 * them, and the counters equal in a C function a coroutine runs directly,
 * one apart in a C function it calls. */
static bool probe_layout(lua_State *L)
{
    struct lua51_state_head h;
    struct probe p = { 0 };
    lua_State *T = lua_newthread(L);
    bool ok;

    lua_sethook(T, probe_hook, LUA_MASKCOUNT, 4242);
    memcpy(&h, T, sizeof(h));
    ok = h.hookmask == lua_gethookmask(T) && h.basehookcount == lua_gethookcount(T) &&
         h.hook == lua_gethook(T) && h.hookmask == LUA_MASKCOUNT && h.basehookcount == 4242;
    lua_sethook(T, NULL, 0, 0);
    lua_pushcfunction(T, probe_outer);
    lua_pushlightuserdata(T, &p);
    ok = ok && lua_resume(T, 1) == 0;
    ok = ok && p.outer_base >= 1 && p.outer_n == p.outer_base && p.inner_n == p.outer_n + 1 &&
         p.inner_base == p.outer_base;
    lua_pop(L, 1);
    return ok;
}

static bool thread_at_base(lua_State *T)
{
    unsigned short n, base;

    read_ccalls(T, &n, &base);
    return n == base;
}

bool script_lib_can_yield(struct script_vm *vm, lua_State *L, bool from_hook)
{
    if (vm->nframes == 0 || vm->frames[vm->nframes - 1].co != L || vm->sync_depth > 0) {
        return false;
    }
    if (!vm->exact) {
        return !from_hook;
    }
    return thread_at_base(L);
}

/* ---- errors ---- */

void script_lib_push_error(lua_State *L, const char *msg, size_t len, bool coded)
{
    const char *code = "ERR", *text = msg, *sp;
    size_t code_len = 3, text_len = len;
    luaL_Buffer b;

    if (coded && (sp = memchr(msg, ' ', len)) != NULL) {
        code = msg;
        code_len = (size_t)(sp - msg);
        text = sp + 1;
        text_len = len - code_len - 1;
    }
    while (text_len > 0 && (text[0] == '\r' || text[0] == '\n')) {
        text++;
        text_len--;
    }
    while (text_len > 0 && (text[text_len - 1] == '\r' || text[text_len - 1] == '\n')) {
        text_len--;
    }
    lua_createtable(L, 0, 2);
    luaL_buffinit(L, &b);
    luaL_addlstring(&b, code, code_len);
    luaL_addchar(&b, ' ');
    luaL_addlstring(&b, text, text_len);
    luaL_pushresult(&b);
    lua_setfield(L, -2, "err");
}

void script_lib_tostring(lua_State *L, int idx)
{
    switch (lua_type(L, idx)) {
    case LUA_TNUMBER:
    case LUA_TSTRING:
        lua_pushvalue(L, idx);
        lua_tostring(L, -1);
        return;
    case LUA_TBOOLEAN:
        lua_pushstring(L, lua_toboolean(L, idx) ? "true" : "false");
        return;
    case LUA_TNIL:
        lua_pushliteral(L, "nil");
        return;
    default:
        lua_pushfstring(L, "%s: %p", luaL_typename(L, idx), lua_topointer(L, idx));
        return;
    }
}

void script_lib_raise(lua_State *L, const char *msg)
{
    script_lib_push_error(L, msg, strlen(msg), false);
    lua_error(L);
    __builtin_unreachable();
}

/* ---- the instruction hook ---- */

void script_lib_hook(lua_State *L, lua_Debug *ar)
{
    struct script_vm *vm = script_vm_of(L);
    struct script_run *run = &vm->run;

    (void)ar;
    if (run->wait == SCRIPT_WAIT_NONE) {
        return;
    }
    if (run->killed) {
        /* at every instruction from now on, so that pcall cannot hold it */
        lua_sethook(L, script_lib_hook, LUA_MASKCOUNT, 1);
        script_lib_raise(L, SCRIPT_KILL_MSG);
    }
    if (run->raise_pending && L == run->raise_co) {
        /* redis.call returned its error reply to this coroutine, which now
         * raises it before running anything else */
        run->raise_pending = false;
        lua_rawgeti(L, LUA_REGISTRYINDEX, run->raise_ref);
        lua_error(L);
    }
    if (run->busy_ms > 0 && run->clock(run->clock_arg) - run->start_ms >= run->busy_ms) {
        run->timed_out = true;
        if (script_lib_can_yield(vm, L, true)) {
            vm->yield_kind = SCRIPT_YIELD_BUSY;
            lua_yield(L, 0);
        }
    }
}

/* ---- redis.call ---- */

bool script_lib_position(lua_State *L, int level, lua_Debug *ar)
{
    for (; lua_getstack(L, level, ar); level++) {
        if (!lua_getinfo(L, "Sl", ar)) {
            break;
        }
        if (strcmp(ar->what, "C") == 0 || strcmp(ar->what, "tail") == 0 ||
            strcmp(ar->source, "=shardis") == 0) {
            continue;
        }
        return true;
    }
    return false;
}

/* An error of redis.call's own (bad arguments ...): raised by redis.call
 * and redis.acl_check_cmd, returned by redis.pcall. */
static int call_error(lua_State *L, int kind, const char *msg, bool coded)
{
    script_lib_push_error(L, msg, strlen(msg), coded);
    if (kind != 1) {
        return lua_error(L);
    }
    return 1;
}

/* Copies the arguments into vm->argv: strings as they are, numbers with 17
 * digits as Redis does (lua_tolstring would print 14). Returns false on an
 * argument of another type. */
static bool copy_args(struct script_vm *vm, lua_State *L, int argc)
{
    if (argc > vm->argv_cap) {
        vm->argv_cap = argc;
        vm->argv = sh_realloc(vm->argv, (size_t)argc * sizeof(*vm->argv));
        vm->numbuf = sh_realloc(vm->numbuf, (size_t)argc * 32);
    }
    for (int i = 0; i < argc; i++) {
        struct sh_slice *a = &vm->argv[i];

        if (lua_type(L, i + 1) == LUA_TNUMBER) {
            char *d = vm->numbuf + 32 * (size_t)i;

            a->len = (size_t)snprintf(d, 32, "%.17g", (double)lua_tonumber(L, i + 1));
            a->ptr = d;
        } else if (lua_type(L, i + 1) == LUA_TSTRING) {
            a->ptr = lua_tolstring(L, i + 1, &a->len);
        } else {
            return false;
        }
    }
    return true;
}

/* redis.call, redis.pcall and redis.acl_check_cmd (kind 0, 1, 2 in the
 * upvalue): stops the run with the command for the host. The strings of
 * argv stay valid on this coroutine's stack while it is suspended. The
 * host's resume makes this function return the reply's value; an error
 * reply that redis.call must raise is raised by the hook instead (see
 * script.c), at the caller's next instruction, with the position recorded
 * here. */
int script_lib_call(lua_State *L)
{
    struct script_vm *vm = script_vm_of(L);
    struct script_run *run = &vm->run;
    struct script_call *c = &run->call;
    int kind = (int)lua_tointeger(L, lua_upvalueindex(1)), argc = lua_gettop(L);
    lua_Debug ar;

    if (argc == 0) {
        return call_error(L, kind, "Please specify at least one argument for this redis lib call",
                          false);
    }
    if (!copy_args(vm, L, argc)) {
        return call_error(L, kind, "Lua redis lib command arguments must be strings or integers",
                          false);
    }
    if (run->wait == SCRIPT_WAIT_NONE || !script_lib_can_yield(vm, L, false)) {
        return call_error(L, kind, SCRIPT_ERR_NOT_YIELDABLE, true);
    }
    c->kind = kind == 2 ? SCRIPT_CALL_ACL_CHECK : SCRIPT_CALL_COMMAND;
    c->pcall = kind == 1;
    c->resp = run->resp;
    c->repl = run->repl;
    c->argc = argc;
    c->argv = vm->argv;
    run->raise_line = -1;
    run->raise_source[0] = '\0';
    if (script_lib_position(L, 1, &ar)) {
        run->raise_line = ar.currentline;
        snprintf(run->raise_source, sizeof(run->raise_source), "%s", ar.source);
    }
    vm->yield_kind = SCRIPT_YIELD_CALL;
    return lua_yield(L, 0);
}

/* ---- read-only tables ---- */

/* Upvalues of the wrappers below. */
#define RO_MAP  lua_upvalueindex(1) /* proxy -> real table (weak keys) */
#define RO_META lua_upvalueindex(2) /* proxy -> what getmetatable shows */

static int ro_newindex(lua_State *L)
{
    return luaL_error(L, "Attempt to modify a readonly table");
}

/* Raised where Redis's Lua raises it from inside the VM: no position. */
static int ro_refuse(lua_State *L)
{
    lua_pushliteral(L, "Attempt to modify a readonly table");
    return lua_error(L);
}

/* Whether the value at idx is a proxy; pushes its real table if so. */
static bool ro_real(lua_State *L, int idx)
{
    if (lua_type(L, idx) != LUA_TTABLE) {
        return false;
    }
    lua_pushvalue(L, idx);
    lua_rawget(L, RO_MAP);
    if (lua_isnil(L, -1)) {
        lua_pop(L, 1);
        return false;
    }
    return true;
}

/* table.insert (Lua 5.1's tinsert) refusing read-only tables where it
 * would write. */
static int lib_tinsert(lua_State *L)
{
    int e, pos;

    luaL_checktype(L, 1, LUA_TTABLE);
    e = (int)lua_objlen(L, 1) + 1;
    switch (lua_gettop(L)) {
    case 2:
        pos = e;
        break;
    case 3:
        pos = luaL_checkint(L, 2);
        if (pos > e) {
            e = pos;
        }
        break;
    default:
        return luaL_error(L, "wrong number of arguments to 'insert'");
    }
    if (ro_real(L, 1)) {
        return ro_refuse(L);
    }
    for (int i = e; i > pos; i--) {
        lua_rawgeti(L, 1, i - 1);
        lua_rawseti(L, 1, i);
    }
    lua_rawseti(L, 1, pos);
    return 0;
}

static int lib_rawset(lua_State *L)
{
    luaL_checktype(L, 1, LUA_TTABLE);
    luaL_checkany(L, 2);
    luaL_checkany(L, 3);
    if (ro_real(L, 1)) {
        return ro_refuse(L);
    }
    lua_settop(L, 3);
    lua_rawset(L, 1);
    return 1;
}

static int lib_rawget(lua_State *L)
{
    luaL_checktype(L, 1, LUA_TTABLE);
    luaL_checkany(L, 2);
    if (ro_real(L, 1)) {
        lua_replace(L, 1);
    }
    lua_settop(L, 2);
    lua_rawget(L, 1);
    return 1;
}

static int lib_setmetatable(lua_State *L)
{
    int t = lua_type(L, 2);

    luaL_checktype(L, 1, LUA_TTABLE);
    luaL_argcheck(L, t == LUA_TNIL || t == LUA_TTABLE, 2, "nil or table expected");
    if (ro_real(L, 1)) {
        return ro_refuse(L);
    }
    if (luaL_getmetafield(L, 1, "__metatable")) {
        return luaL_error(L, "cannot change a protected metatable");
    }
    lua_settop(L, 2);
    lua_setmetatable(L, 1);
    return 1;
}

static int lib_getmetatable(lua_State *L)
{
    luaL_checkany(L, 1);
    if (lua_type(L, 1) == LUA_TTABLE) {
        lua_pushvalue(L, 1);
        lua_rawget(L, RO_MAP);
        if (!lua_isnil(L, -1)) {
            lua_pushvalue(L, 1);
            lua_rawget(L, RO_META);
            return 1;
        }
        lua_pop(L, 1);
    }
    if (!lua_getmetatable(L, 1)) {
        lua_pushnil(L);
        return 1;
    }
    luaL_getmetafield(L, 1, "__metatable");
    return 1;
}

static int lib_next(lua_State *L)
{
    luaL_checktype(L, 1, LUA_TTABLE);
    if (ro_real(L, 1)) {
        lua_replace(L, 1);
    }
    lua_settop(L, 2);
    if (lua_next(L, 1)) {
        return 2;
    }
    lua_pushnil(L);
    return 1;
}

static int lib_pairs(lua_State *L)
{
    luaL_checktype(L, 1, LUA_TTABLE);
    lua_pushvalue(L, lua_upvalueindex(3)); /* our next */
    lua_pushvalue(L, 1);
    lua_pushnil(L);
    return 3;
}

/* Pushes a read-only proxy of the table at idx; what getmetatable shows of
 * it is the value at meta_idx (0: nil). */
static void ro_proxy(lua_State *L, int ro_map, int ro_meta, int idx, int meta_idx)
{
    idx = idx < 0 ? lua_gettop(L) + idx + 1 : idx;
    meta_idx = meta_idx < 0 ? lua_gettop(L) + meta_idx + 1 : meta_idx;
    lua_newtable(L); /* the proxy */
    lua_createtable(L, 0, 3);
    lua_pushvalue(L, idx);
    lua_setfield(L, -2, "__index");
    lua_pushcfunction(L, ro_newindex);
    lua_setfield(L, -2, "__newindex");
    lua_pushboolean(L, 0);
    lua_setfield(L, -2, "__metatable");
    lua_setmetatable(L, -2);
    lua_pushvalue(L, -1);
    lua_pushvalue(L, idx);
    lua_rawset(L, ro_map);
    lua_pushvalue(L, -1);
    if (meta_idx != 0) {
        lua_pushvalue(L, meta_idx);
    } else {
        lua_pushnil(L);
    }
    lua_rawset(L, ro_meta);
}

/* ---- the redis table ---- */

static int lib_log(lua_State *L)
{
    int argc = lua_gettop(L), level;
    double lvl;
    luaL_Buffer b;
    size_t n;
    const char *s;

    if (argc < 2) {
        script_lib_raise(L, "redis.log() requires two arguments or more.");
    }
    if (!lua_isnumber(L, 1)) {
        script_lib_raise(L, "First argument must be a number (log level).");
    }
    lvl = lua_tonumber(L, 1);
    if (!(lvl > -1.0 && lvl < LOG_WARNING + 1.0)) {
        script_lib_raise(L, "Invalid debug level.");
    }
    level = (int)lvl;
    if (!log_enabled(level)) {
        return 0;
    }
    luaL_buffinit(L, &b);
    for (int j = 2; j <= argc; j++) {
        s = lua_tolstring(L, j, &n);
        if (s != NULL) {
            if (j != 2) {
                luaL_addchar(&b, ' ');
            }
            luaL_addlstring(&b, s, n);
        }
    }
    luaL_pushresult(&b);
    s = lua_tolstring(L, -1, &n);
    log_write(level, "%.*s", (int)n, s);
    return 0;
}

/* An integral setting from a Lua number as Redis reads it ((int) cast),
 * without undefined behaviour far out of range. */
static int int_arg(lua_State *L, int idx)
{
    double d = lua_tonumber(L, idx);

    return d > -1e9 && d < 1e9 ? (int)d : -1;
}

static int lib_setresp(lua_State *L)
{
    struct script_vm *vm = script_vm_of(L);
    int resp;

    if (lua_gettop(L) != 1) {
        script_lib_raise(L, "redis.setresp() requires one argument.");
    }
    resp = int_arg(L, 1);
    if (resp != 2 && resp != 3) {
        script_lib_raise(L, "RESP version must be 2 or 3.");
    }
    vm->run.resp = resp;
    return 0;
}

static int lib_set_repl(lua_State *L)
{
    struct script_vm *vm = script_vm_of(L);
    int flags;

    if (lua_gettop(L) != 1) {
        script_lib_raise(L, "redis.set_repl() requires two arguments.");
    }
    flags = int_arg(L, 1);
    if ((flags & ~SCRIPT_REPL_ALL) != 0) {
        script_lib_raise(L, "Invalid replication flags. Use REPL_AOF, REPL_REPLICA, REPL_ALL or "
                            "REPL_NONE.");
    }
    vm->run.repl = flags;
    return 0;
}

static int lib_replicate_commands(lua_State *L)
{
    lua_pushboolean(L, 1);
    return 1;
}

static int lib_sha1hex(lua_State *L)
{
    uint8_t d[SHA1_LEN];
    char hex[2 * SHA1_LEN + 1];
    size_t n = 0;
    const char *s;

    if (lua_gettop(L) != 1) {
        script_lib_raise(L, "wrong number of arguments");
    }
    s = lua_tolstring(L, 1, &n);
    sha1(s, s != NULL ? n : 0, d);
    sha1_hex(d, hex);
    lua_pushstring(L, hex);
    return 1;
}

static int lib_error_reply(lua_State *L)
{
    size_t n;
    const char *s;

    if (lua_gettop(L) != 1 || lua_type(L, -1) != LUA_TSTRING) {
        script_lib_push_error(L, "wrong number or type of arguments", 33, false);
        return 1;
    }
    /* Redis puts a '-' in front unless there is one, then reads the code */
    s = lua_tolstring(L, 1, &n);
    if (n > 0 && s[0] == '-') {
        s++;
        n--;
    }
    script_lib_push_error(L, s, n, true);
    return 1;
}

static int lib_status_reply(lua_State *L)
{
    if (lua_gettop(L) != 1 || lua_type(L, -1) != LUA_TSTRING) {
        script_lib_push_error(L, "wrong number or type of arguments", 33, false);
        return 1;
    }
    lua_createtable(L, 0, 1);
    lua_pushvalue(L, 1);
    lua_setfield(L, -2, "ok");
    return 1;
}

static int lib_breakpoint(lua_State *L)
{
    lua_pushboolean(L, 0); /* no debugger session is ever active */
    return 1;
}

static int lib_debug(lua_State *L)
{
    (void)L;
    return 0;
}

/* Redis's __redis__err__handler, a global scripts can see and call: the
 * error as a table with the position of the code that raised it. */
static int lib_err_handler(lua_State *L)
{
    lua_Debug ar;
    bool found = lua_getstack(L, 1, &ar) && lua_getinfo(L, "Sl", &ar);

    if (found && strcmp(ar.what, "C") == 0) {
        found = lua_getstack(L, 2, &ar) && lua_getinfo(L, "Sl", &ar);
    }
    lua_settop(L, 1);
    if (lua_type(L, 1) != LUA_TTABLE) {
        lua_createtable(L, 0, 3);
        lua_pushliteral(L, "ERR ");
        script_lib_tostring(L, 1);
        lua_concat(L, 2);
        lua_setfield(L, -2, "err");
        lua_replace(L, 1);
    }
    if (found) {
        lua_pushstring(L, ar.source);
        lua_setfield(L, 1, "source");
        lua_pushinteger(L, ar.currentline);
        lua_setfield(L, 1, "line");
    }
    return 1;
}

/* ---- math.random on Redis's lrand48 ---- */

/* Redis's redisLrand48: the 48-bit linear congruential generator of
 * lrand48(3), starting from its default seed and never reseeded by the
 * server, so a fresh server returns lrand48's first numbers. */
static uint32_t lrand48_next(uint64_t *x)
{
    *x = (0x5deece66dULL * *x + 0xb) & ((1ULL << 48) - 1);
    return (uint32_t)(*x >> 17);
}

static int lib_random(lua_State *L)
{
    struct script_vm *vm = script_vm_of(L);
    lua_Number r = (lua_Number)(lrand48_next(&vm->rand48) % 2147483647u) / 2147483647.0;
    int l, u;

    switch (lua_gettop(L)) {
    case 0:
        lua_pushnumber(L, r);
        return 1;
    case 1:
        u = luaL_checkint(L, 1);
        luaL_argcheck(L, 1 <= u, 1, "interval is empty");
        lua_pushnumber(L, floor(r * u) + 1);
        return 1;
    case 2:
        l = luaL_checkint(L, 1);
        u = luaL_checkint(L, 2);
        luaL_argcheck(L, l <= u, 2, "interval is empty");
        lua_pushnumber(L, floor(r * ((double)u - l + 1)) + l);
        return 1;
    default:
        return luaL_error(L, "wrong number of arguments");
    }
}

static int lib_randomseed(lua_State *L)
{
    struct script_vm *vm = script_vm_of(L);
    uint32_t seed = (uint32_t)luaL_checkint(L, 1);

    vm->rand48 = ((uint64_t)seed << 16) | 0x330e;
    return 0;
}

/* ---- opening the state ---- */

/* Redis's luaProtectedTableError: G's __index, so reading a global that does
 * not exist raises. */
static int lib_global_missing(lua_State *L)
{
    if (lua_gettop(L) != 2) {
        return luaL_error(L, "Wrong number of arguments to luaProtectedTableError");
    }
    if (!lua_isstring(L, -1) && !lua_isnumber(L, -1)) {
        return luaL_error(L, "Second argument to luaProtectedTableError must be a string or "
                             "number");
    }
    return luaL_error(L, "Script attempted to access nonexistent global variable '%s'",
                      lua_tostring(L, -1));
}

static const luaL_Reg redis_funcs[] = {
    { "log", lib_log },
    { "setresp", lib_setresp },
    { "set_repl", lib_set_repl },
    { "replicate_commands", lib_replicate_commands },
    { "sha1hex", lib_sha1hex },
    { "error_reply", lib_error_reply },
    { "status_reply", lib_status_reply },
    { "breakpoint", lib_breakpoint },
    { "debug", lib_debug },
    { NULL, NULL },
};

static const struct {
    const char *name;
    int value;
} redis_consts[] = {
    { "LOG_DEBUG", LOG_DEBUG },
    { "LOG_VERBOSE", LOG_VERBOSE },
    { "LOG_NOTICE", LOG_NOTICE },
    { "LOG_WARNING", LOG_WARNING },
    { "REPL_NONE", SCRIPT_REPL_NONE },
    { "REPL_AOF", SCRIPT_REPL_AOF },
    { "REPL_SLAVE", SCRIPT_REPL_REPLICA },
    { "REPL_REPLICA", SCRIPT_REPL_REPLICA },
    { "REPL_ALL", SCRIPT_REPL_ALL },
    { "REDIS_VERSION_NUM", SCRIPT_REDIS_VERSION_NUM },
};

/* Library tables that scripts may read and never change. */
static const char *const readonly_libs[] = {
    "string", "table", "math", "coroutine", "redis", "cjson", "cmsgpack", "struct", "bit",
};

/* What Redis takes out of the base library. */
static const char *const removed_globals[] = {
    "print", "dofile", "loadfile", "getfenv", "setfenv", "newproxy",
};

/* Runs a luaopen_* function as Lua 5.1 wants it run (through lua_call) and
 * stores the table it returns as the global name. */
static void open_lib(lua_State *L, int g, lua_CFunction open, const char *name)
{
    lua_pushcfunction(L, open);
    lua_pushstring(L, name);
    lua_call(L, 1, 1);
    if (name[0] != '\0') {
        lua_setfield(L, g, name);
    } else {
        lua_pop(L, 1);
    }
}

static int weak_table(lua_State *L)
{
    lua_newtable(L);
    lua_createtable(L, 0, 1);
    lua_pushliteral(L, "k");
    lua_setfield(L, -2, "__mode");
    lua_setmetatable(L, -2);
    return lua_gettop(L);
}

/* rawset, rawget, setmetatable, getmetatable, next, pairs and table.insert,
 * seeing through proxies. */
static void install_raw_wrappers(lua_State *L, int g, int ro_map, int ro_meta)
{
    static const luaL_Reg raw[] = {
        { "rawset", lib_rawset },
        { "rawget", lib_rawget },
        { "setmetatable", lib_setmetatable },
        { "getmetatable", lib_getmetatable },
        { "next", lib_next },
    };

    for (size_t i = 0; i < SH_ARRAY_LEN(raw); i++) {
        lua_pushvalue(L, ro_map);
        lua_pushvalue(L, ro_meta);
        lua_pushcclosure(L, raw[i].func, 2);
        lua_setfield(L, g, raw[i].name);
    }
    lua_pushvalue(L, ro_map);
    lua_pushvalue(L, ro_meta);
    lua_getfield(L, g, "next");
    lua_pushcclosure(L, lib_pairs, 3);
    lua_setfield(L, g, "pairs");
    lua_getfield(L, g, LUA_TABLIBNAME);
    lua_pushvalue(L, ro_map);
    lua_pushvalue(L, ro_meta);
    lua_pushcclosure(L, lib_tinsert, 2);
    lua_setfield(L, -2, "insert");
    lua_pop(L, 1);
}

static void open_redis_table(lua_State *L, int g)
{
    static const char *const calls[] = { "call", "pcall", "acl_check_cmd" };

    lua_newtable(L);
    luaL_register(L, NULL, redis_funcs);
    for (int kind = 0; kind < 3; kind++) {
        lua_pushinteger(L, kind);
        lua_pushcclosure(L, script_lib_call, 1);
        lua_setfield(L, -2, calls[kind]);
    }
    for (size_t i = 0; i < SH_ARRAY_LEN(redis_consts); i++) {
        lua_pushinteger(L, redis_consts[i].value);
        lua_setfield(L, -2, redis_consts[i].name);
    }
    lua_pushliteral(L, SCRIPT_REDIS_VERSION);
    lua_setfield(L, -2, "REDIS_VERSION");
    lua_setfield(L, g, "redis");
}

/* A table whose missing fields raise Redis's "nonexistent global" error. */
static void set_missing_meta(lua_State *L, int t)
{
    lua_createtable(L, 0, 1);
    lua_pushcfunction(L, lib_global_missing);
    lua_setfield(L, -2, "__index");
    lua_setmetatable(L, t);
}

void script_lib_open_libapi(struct script_vm *vm, lua_State *L, int ro_map, int ro_meta)
{
    static const char *const logs[] = { "LOG_DEBUG", "LOG_VERBOSE", "LOG_NOTICE", "LOG_WARNING" };
    int api, redis;

    lua_newtable(L);
    api = lua_gettop(L);
    lua_newtable(L);
    redis = lua_gettop(L);
    lua_pushcfunction(L, script_fn_register);
    lua_setfield(L, redis, "register_function");
    lua_pushcfunction(L, lib_log);
    lua_setfield(L, redis, "log");
    for (size_t i = 0; i < SH_ARRAY_LEN(logs); i++) {
        for (size_t k = 0; k < SH_ARRAY_LEN(redis_consts); k++) {
            if (!strcmp(redis_consts[k].name, logs[i])) {
                lua_pushinteger(L, redis_consts[k].value);
                lua_setfield(L, redis, logs[i]);
            }
        }
    }
    lua_pushinteger(L, SCRIPT_REDIS_VERSION_NUM);
    lua_setfield(L, redis, "REDIS_VERSION_NUM");
    lua_pushliteral(L, SCRIPT_REDIS_VERSION);
    lua_setfield(L, redis, "REDIS_VERSION");
    set_missing_meta(L, redis);
    ro_proxy(L, ro_map, ro_meta, redis, 0);
    lua_setfield(L, api, "redis");
    lua_pop(L, 1); /* the real redis table */
    set_missing_meta(L, api);
    vm->libapi_ref = luaL_ref(L, LUA_REGISTRYINDEX);
}

/* Replaces the library tables by read-only proxies, the string metatable's
 * view of string too, and makes G read-only behind P = _G. Pushes P. */
static void seal(lua_State *L, int g, int ro_map, int ro_meta)
{
    int sm, gm;

    for (size_t i = 0; i < SH_ARRAY_LEN(readonly_libs); i++) {
        lua_getfield(L, g, readonly_libs[i]);
        ro_proxy(L, ro_map, ro_meta, -1, 0);
        lua_setfield(L, g, readonly_libs[i]);
        lua_pop(L, 1);
    }
    /* ("x"):upper() goes through the string proxy; getmetatable("") shows a
     * read-only view of the metatable */
    lua_pushliteral(L, "");
    lua_getmetatable(L, -1);
    sm = lua_gettop(L);
    lua_getfield(L, g, "string");
    lua_setfield(L, sm, "__index");
    ro_proxy(L, ro_map, ro_meta, sm, 0);
    lua_setfield(L, sm, "__metatable");
    lua_pop(L, 2);

    lua_createtable(L, 0, 1);
    gm = lua_gettop(L);
    lua_pushcfunction(L, lib_global_missing);
    lua_setfield(L, gm, "__index");
    lua_pushvalue(L, gm);
    lua_setmetatable(L, g);
    ro_proxy(L, ro_map, ro_meta, gm, 0); /* getmetatable(_G) */
    ro_proxy(L, ro_map, ro_meta, g, -1); /* P */
    lua_pushvalue(L, -1);
    lua_setfield(L, g, "_G");
    lua_replace(L, gm);
    lua_settop(L, gm);
}

int script_lib_open(lua_State *L)
{
    struct script_vm *vm = lua_touserdata(L, 1);
    int g, ro_map, ro_meta;

    lua_settop(L, 0);
    lua_pushvalue(L, LUA_GLOBALSINDEX);
    g = lua_gettop(L);
    open_lib(L, g, luaopen_base, "");
    open_lib(L, g, luaopen_table, LUA_TABLIBNAME);
    open_lib(L, g, luaopen_string, LUA_STRLIBNAME);
    open_lib(L, g, luaopen_math, LUA_MATHLIBNAME);
    open_lib(L, g, luaopen_bit, "bit");
    lua_pushcfunction(L, luaopen_cjson);
    lua_call(L, 0, 1);
    lua_setfield(L, g, "cjson");
    lua_cmsgpack_open(L);
    lua_setfield(L, g, "cmsgpack");
    lua_struct_open(L);
    lua_setfield(L, g, "struct");
    for (size_t i = 0; i < SH_ARRAY_LEN(removed_globals); i++) {
        lua_pushnil(L);
        lua_setfield(L, g, removed_globals[i]);
    }
    lua_getfield(L, g, LUA_MATHLIBNAME);
    lua_pushcfunction(L, lib_random);
    lua_setfield(L, -2, "random");
    lua_pushcfunction(L, lib_randomseed);
    lua_setfield(L, -2, "randomseed");
    lua_pop(L, 1);
    open_redis_table(L, g);
    lua_pushcfunction(L, lib_err_handler);
    lua_setfield(L, g, "__redis__err__handler");

    ro_map = weak_table(L);
    ro_meta = weak_table(L);
    install_raw_wrappers(L, g, ro_map, ro_meta);
    script_co_open(vm, L, g);
    if (vm->functions) {
        script_lib_open_libapi(vm, L, ro_map, ro_meta);
    }
    seal(L, g, ro_map, ro_meta);
    lua_pushvalue(L, g);
    vm->globals_ref = luaL_ref(L, LUA_REGISTRYINDEX);
    lua_replace(L, LUA_GLOBALSINDEX); /* P */
    lua_settop(L, 0);

    vm->exact = probe_layout(L);
    if (!vm->exact) {
        sh_log(LOG_WARNING, "scripting: this Lua's lua_State is not Lua 5.1.5's: busy scripts "
                            "cannot be interrupted before they end");
    }
    return 0;
}
