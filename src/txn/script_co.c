/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * script_co.c: the coroutines of a run, scheduled flat by the engine, so
 * that redis.call can stop the run for its host from inside pcall, xpcall
 * and the script's own coroutines.
 *
 * Lua 5.1 cannot yield across a C call, and pcall, xpcall and
 * coroutine.resume are C calls. So here they are C functions that do not
 * call their function: they yield to the engine's loop (script_co_run),
 * asking it to run the function in a coroutine of its own, a frame:
 *
 *     frames[0]  MAIN     the script (co_main), resumed by the host
 *     frames[1]  PCALL    f of a pcall in the script
 *     frames[2]  RESUME   a coroutine the pcall'd f resumed   <- running
 *
 * Only the top frame runs. When it yields for the engine (redis.call, the
 * busy hook) the loop returns to the host, and the host's answer goes back
 * to the top frame. When it ends, the loop hands its outcome to the frame
 * below as the results of the pcall/xpcall/resume that started it:
 *   PCALL   returned: true, results   raised: false, the err field of an
 *           error table or the error (Redis 7.0's pcall)
 *   XPCALL  returned: true, results   raised: a HANDLER frame runs the
 *           handler; its first result, or "error in error handling"
 *   RESUME  returned or coroutine.yield: true, values; raised: false, error
 *   WRAP    the same without the flag; an error is raised in the frame
 *           below, prefixed with where the wrapped function was called
 * A coroutine.yield in a PCALL/XPCALL frame, or in the script itself, is
 * Lua 5.1's "attempt to yield across metamethod/C-call boundary", as the C
 * call it replaces would make it. Nothing is nested on the C stack, so
 * the depth limit (SCRIPT_CHAIN_MAX frames) stands for Lua's C stack limit.
 *
 * A raise that must happen in a frame after it was resumed (redis.call's
 * error reply, coroutine.wrap's error) is made by the instruction hook at
 * that frame's next instruction (script_lib.c), with the position recorded
 * when the call was made. Where a frame cannot yield (a C function such as
 * table.sort called the code), pcall, xpcall and coroutine.resume run their
 * function there and then, as the C library does; redis.call cannot.
 *
 * Threading: the vm's shard only.
 */
#include "script_internal.h"

#include <lauxlib.h>
#include <string.h>

#define CROSS_MSG      "attempt to yield across metamethod/C-call boundary"
/* Coroutines resumed in place inside each other: each one nests a
 * lua_resume on the C stack, which Lua 5.1 does not bound. */
#define SYNC_DEPTH_MAX 100

static int co_pcall(lua_State *L);
static int co_xpcall(lua_State *L);
static int co_resume(lua_State *L);
static int co_wrap_call(lua_State *L);

static struct script_frame *top(struct script_vm *vm)
{
    return &vm->frames[vm->nframes - 1];
}

static int frame_of(const struct script_vm *vm, const lua_State *co)
{
    for (int i = vm->nframes - 1; i >= 0; i--) {
        if (vm->frames[i].co == co) {
            return i;
        }
    }
    return -1;
}

/* The coroutine that code running in L sees as running: the one a pcall's
 * frame runs for; NULL for the script itself. */
static lua_State *logical_of(const struct script_vm *vm, lua_State *L)
{
    int i = frame_of(vm, L);

    return i < 0 ? L : vm->frames[i].logical;
}

/* costatus of Lua 5.1, knowing that frames below the top are "normal" (or
 * "running" when only pcall frames are above them). */
static const char *co_status(const struct script_vm *vm, lua_State *L, lua_State *co)
{
    int i = frame_of(vm, co);
    lua_Debug ar;

    if (i >= 0) {
        for (int j = i + 1; j < vm->nframes; j++) {
            if (vm->frames[j].logical != vm->frames[i].logical) {
                return "normal";
            }
        }
        return "running";
    }
    if (L == co) {
        return "running";
    }
    switch (lua_status(co)) {
    case LUA_YIELD:
        return "suspended";
    case 0:
        if (lua_getstack(co, 0, &ar) > 0) {
            return "normal";
        }
        return lua_gettop(co) == 0 ? "dead" : "suspended";
    default:
        return "dead";
    }
}

/* Whether a pcall, xpcall or resume in L may hand its function to the loop;
 * otherwise it runs it where it is. */
static bool can_spawn(struct script_vm *vm, lua_State *L)
{
    return script_lib_can_yield(vm, L, false) && vm->nframes < SCRIPT_CHAIN_MAX;
}

/* How a coroutine runs a function. Lua 5.1 can resume a coroutine whose
 * body is a C function, but not after that C function yielded (it returns
 * into no Lua code), so the engine's own yielding functions run under a Lua
 * trampoline; other C functions cannot yield for the engine and pcall runs
 * them in place, where their errors carry no position, as in Redis. */
enum body {
    BODY_DIRECT,     /* the function itself (Lua) */
    BODY_TRAMPOLINE, /* under the trampoline */
    BODY_IN_PLACE,   /* a C function: called there and then */
};

static bool yields_for_engine(lua_CFunction fn)
{
    return fn == script_lib_call || fn == co_pcall || fn == co_xpcall || fn == co_resume ||
           fn == co_wrap_call;
}

static enum body body_of(lua_State *L, int idx)
{
    lua_CFunction fn;

    if (lua_isfunction(L, idx)) {
        if (!lua_iscfunction(L, idx)) {
            return BODY_DIRECT;
        }
        fn = lua_tocfunction(L, idx);
    } else if (luaL_getmetafield(L, idx, "__call")) {
        bool is_lua = lua_isfunction(L, -1) && !lua_iscfunction(L, -1);

        fn = lua_tocfunction(L, -1);
        lua_pop(L, 1);
        if (is_lua) {
            return BODY_DIRECT;
        }
    } else {
        return BODY_IN_PLACE; /* not callable: the call there says so */
    }
    return fn != NULL && yields_for_engine(fn) ? BODY_TRAMPOLINE : BODY_IN_PLACE;
}

/* Moves the function at index idx of L and the n - 1 values above it onto
 * co, under the trampoline when body says so; returns co's nargs. */
static int load_body(struct script_vm *vm, lua_State *L, lua_State *co, enum body body, int n)
{
    if (body == BODY_TRAMPOLINE) {
        lua_rawgeti(L, LUA_REGISTRYINDEX, vm->trampoline_ref);
        lua_insert(L, -n - 1);
        n++;
    }
    lua_xmove(L, co, n);
    return n - 1;
}

/* Readies vm->pending: the coroutine at index idx of L, its function or
 * its resume arguments already on its stack, to run as a new frame. */
static void prepare(struct script_vm *vm, lua_State *L, int idx, enum script_frame_kind kind,
                    int nargs)
{
    struct script_frame *p = &vm->pending;

    lua_pushvalue(L, idx);
    p->co = lua_tothread(L, -1);
    p->ref = luaL_ref(L, LUA_REGISTRYINDEX);
    p->kind = kind;
    p->nargs = nargs;
    p->logical =
            (kind == SCRIPT_FRAME_RESUME || kind == SCRIPT_FRAME_WRAP) ? p->co : logical_of(vm, L);
    p->handler_ref = LUA_NOREF;
    p->where_ref = LUA_NOREF;
    p->line = -1;
    p->source = NULL;
}

/* Hands vm->pending to the loop. */
static int yield_spawn(struct script_vm *vm, lua_State *L)
{
    vm->yield_kind = SCRIPT_YIELD_SPAWN;
    return lua_yield(L, 0);
}

/* ---- pcall, xpcall ---- */

/* Redis 7.0's pcall hands back the err field of an error table. */
static void pcall_error_value(lua_State *L)
{
    if (lua_type(L, -1) == LUA_TTABLE) {
        lua_pushliteral(L, "err");
        lua_rawget(L, -2);
        if (lua_isstring(L, -1)) {
            lua_remove(L, -2);
        } else {
            lua_pop(L, 1);
        }
    }
}

static int co_pcall(lua_State *L)
{
    struct script_vm *vm = script_vm_of(L);
    int n = lua_gettop(L), nargs;
    enum body body;
    lua_State *co;

    if (n == 0) {
        /* what Redis's pcall answers, calling its own placeholder */
        lua_pushboolean(L, 0);
        lua_pushliteral(L, "attempt to call a boolean value");
        return 2;
    }
    body = body_of(L, 1);
    if (body == BODY_IN_PLACE || !can_spawn(vm, L)) {
        lua_pushboolean(L, 1);
        lua_insert(L, 1);
        if (lua_pcall(L, n - 1, LUA_MULTRET, 0) != 0) {
            pcall_error_value(L);
            lua_pushboolean(L, 0);
            lua_replace(L, 1);
        }
        return lua_gettop(L);
    }
    co = lua_newthread(L);
    if (!lua_checkstack(co, n + 1)) {
        return luaL_error(L, "too many arguments to pcall");
    }
    lua_insert(L, 1);
    nargs = load_body(vm, L, co, body, n);
    prepare(vm, L, 1, SCRIPT_FRAME_PCALL, nargs);
    return yield_spawn(vm, L);
}

static int co_xpcall(lua_State *L)
{
    struct script_vm *vm = script_vm_of(L);
    enum body body;
    lua_State *co;
    int nargs;

    luaL_checkany(L, 2);
    lua_settop(L, 2);
    body = body_of(L, 1);
    if (body == BODY_IN_PLACE || !can_spawn(vm, L)) {
        int status;

        lua_insert(L, 1); /* the handler below the function */
        status = lua_pcall(L, 0, LUA_MULTRET, 1);
        lua_pushboolean(L, status == 0);
        lua_replace(L, 1);
        return lua_gettop(L);
    }
    co = lua_newthread(L);
    lua_pushvalue(L, 1);
    nargs = load_body(vm, L, co, body, 1);
    prepare(vm, L, 3, SCRIPT_FRAME_XPCALL, nargs);
    lua_pushvalue(L, 2);
    vm->pending.handler_ref = luaL_ref(L, LUA_REGISTRYINDEX);
    return yield_spawn(vm, L);
}

/* ---- coroutine.resume, coroutine.wrap, running, status ---- */

/* Resumes co where the caller cannot yield, as Lua 5.1's auxresume does.
 * Returns the number of results pushed on L, or -1 with the error on L. */
static int resume_here(struct script_vm *vm, lua_State *L, lua_State *co, int narg)
{
    int status, nres;

    if (vm->sync_depth >= SYNC_DEPTH_MAX) {
        lua_pop(L, narg);
        lua_pushliteral(L, "C stack overflow");
        return -1;
    }
    lua_xmove(L, co, narg);
    vm->sync_depth++;
    status = lua_resume(co, narg);
    vm->sync_depth--;
    if (status != 0 && status != LUA_YIELD) {
        lua_xmove(co, L, 1);
        return -1;
    }
    nres = lua_gettop(co);
    if (!lua_checkstack(L, nres + 1)) {
        luaL_error(L, "too many results to resume");
    }
    lua_xmove(co, L, nres);
    return nres;
}

static int co_resume(lua_State *L)
{
    struct script_vm *vm = script_vm_of(L);
    lua_State *co = lua_tothread(L, 1);
    int narg = lua_gettop(L) - 1, nres;
    const char *st;

    luaL_argcheck(L, co != NULL, 1, "coroutine expected");
    if (!lua_checkstack(co, narg)) {
        return luaL_error(L, "too many arguments to resume");
    }
    st = co_status(vm, L, co);
    if (strcmp(st, "suspended") != 0) {
        lua_pushboolean(L, 0);
        lua_pushfstring(L, "cannot resume %s coroutine", st);
        return 2;
    }
    if (can_spawn(vm, L)) {
        lua_xmove(L, co, narg);
        prepare(vm, L, 1, SCRIPT_FRAME_RESUME, narg);
        return yield_spawn(vm, L);
    }
    nres = resume_here(vm, L, co, narg);
    if (nres < 0) {
        lua_pushboolean(L, 0);
        lua_insert(L, -2);
        return 2;
    }
    lua_pushboolean(L, 1);
    lua_insert(L, -(nres + 1));
    return nres + 1;
}

/* luaL_where(L, 1), except that the trampoline stands for a C caller. */
static void where(lua_State *L)
{
    lua_Debug ar;

    if (lua_getstack(L, 1, &ar) && lua_getinfo(L, "Sl", &ar) && ar.currentline > 0 &&
        strcmp(ar.source, "=shardis") != 0) {
        lua_pushfstring(L, "%s:%d: ", ar.short_src, ar.currentline);
    } else {
        lua_pushliteral(L, "");
    }
}

static int co_wrap_call(lua_State *L)
{
    struct script_vm *vm = script_vm_of(L);
    lua_State *co = lua_tothread(L, lua_upvalueindex(1));
    int narg = lua_gettop(L), nres;
    const char *st = co_status(vm, L, co);
    lua_Debug ar;

    if (!lua_checkstack(co, narg)) {
        return luaL_error(L, "too many arguments to resume");
    }
    if (strcmp(st, "suspended") != 0) {
        where(L);
        lua_pushfstring(L, "cannot resume %s coroutine", st);
        lua_concat(L, 2);
        return lua_error(L);
    }
    if (can_spawn(vm, L)) {
        lua_pushvalue(L, lua_upvalueindex(1));
        lua_insert(L, 1);
        lua_xmove(L, co, narg);
        prepare(vm, L, 1, SCRIPT_FRAME_WRAP, narg);
        /* what an error will be prefixed with, and where the call was (the
         * caller's function, on its stack, keeps the source alive) */
        where(L);
        vm->pending.where_ref = luaL_ref(L, LUA_REGISTRYINDEX);
        if (script_lib_position(L, 1, &ar)) {
            vm->pending.line = ar.currentline;
            vm->pending.source = ar.source;
        }
        return yield_spawn(vm, L);
    }
    nres = resume_here(vm, L, co, narg);
    if (nres < 0) {
        if (lua_isstring(L, -1)) {
            where(L);
            lua_insert(L, -2);
            lua_concat(L, 2);
        }
        return lua_error(L);
    }
    return nres;
}

static int co_wrap(lua_State *L)
{
    lua_State *co;

    luaL_argcheck(L, lua_isfunction(L, 1) && !lua_iscfunction(L, 1), 1, "Lua function expected");
    co = lua_newthread(L);
    lua_pushvalue(L, 1);
    lua_xmove(L, co, 1);
    lua_pushcclosure(L, co_wrap_call, 1);
    return 1;
}

static int co_running(lua_State *L)
{
    struct script_vm *vm = script_vm_of(L);
    lua_State *co = logical_of(vm, L);
    int i = co != NULL ? frame_of(vm, co) : -1;

    if (co == NULL) {
        lua_pushnil(L);
    } else if (i >= 0 && co != L) {
        lua_rawgeti(L, LUA_REGISTRYINDEX, vm->frames[i].ref);
    } else {
        lua_pushthread(L);
    }
    return 1;
}

static int co_status_fn(lua_State *L)
{
    lua_State *co = lua_tothread(L, 1);

    luaL_argcheck(L, co != NULL, 1, "coroutine expected");
    lua_pushstring(L, co_status(script_vm_of(L), L, co));
    return 1;
}

/* ---- the loop ---- */

static void drop_top(struct script_vm *vm)
{
    struct script_frame *f = top(vm);

    luaL_unref(vm->L, LUA_REGISTRYINDEX, f->ref);
    luaL_unref(vm->L, LUA_REGISTRYINDEX, f->handler_ref);
    luaL_unref(vm->L, LUA_REGISTRYINDEX, f->where_ref);
    vm->nframes--;
}

/* Moves the n values on top of from onto to, after a boolean flag when
 * flag >= 0; returns how many to got. The child is dropped only afterwards,
 * so that no collection frees it while its values move. */
static int hand_over(lua_State *from, lua_State *to, int n, int flag)
{
    if (!lua_checkstack(to, n + 1)) {
        lua_pop(from, n);
        n = 0;
    }
    if (flag >= 0) {
        lua_pushboolean(to, flag);
    }
    lua_xmove(from, to, n);
    return n + (flag >= 0 ? 1 : 0);
}

/* The top frame returned, or (RESUME, WRAP) yielded its values: they go to
 * the frame below. Returns how many it gets. */
static int on_return(struct script_vm *vm)
{
    struct script_frame *f = top(vm);
    lua_State *child = f->co, *parent = vm->frames[vm->nframes - 2].co;
    int n;

    switch (f->kind) {
    case SCRIPT_FRAME_WRAP:
        n = hand_over(child, parent, lua_gettop(child), -1);
        break;
    case SCRIPT_FRAME_HANDLER:
        /* the handler's first result replaces the error */
        lua_settop(child, 1);
        n = hand_over(child, parent, 1, 0);
        break;
    default:
        n = hand_over(child, parent, lua_gettop(child), 1);
        break;
    }
    drop_top(vm);
    return n;
}

/* The error on top of T was caught: if the hook raised it for redis.call or
 * coroutine.wrap, that call's position is no longer the run's to report. */
static void forget_deferred(struct script_vm *vm, lua_State *T)
{
    struct script_run *run = &vm->run;

    if (run->raise_ref == LUA_NOREF || run->raise_pending) {
        return;
    }
    lua_rawgeti(T, LUA_REGISTRYINDEX, run->raise_ref);
    if (lua_rawequal(T, -1, -2)) {
        luaL_unref(T, LUA_REGISTRYINDEX, run->raise_ref);
        run->raise_ref = LUA_NOREF;
    }
    lua_pop(T, 1);
}

/* Runs an xpcall's handler with the error in place of the XPCALL frame;
 * returns its argument count, or -1 when the handler is not a function. */
static int start_handler(struct script_vm *vm, lua_State *child, const char *msg)
{
    struct script_frame *f = top(vm);
    lua_State *L = vm->L, *h;
    int n;

    lua_rawgeti(L, LUA_REGISTRYINDEX, f->handler_ref);
    if (!lua_isfunction(L, -1)) {
        lua_pop(L, 1);
        return -1;
    }
    h = lua_newthread(L);
    lua_insert(L, -2);
    n = load_body(vm, L, h, body_of(L, -1) == BODY_TRAMPOLINE ? BODY_TRAMPOLINE : BODY_DIRECT, 1) +
        1;
    if (msg != NULL) {
        lua_pushstring(h, msg);
    } else {
        lua_xmove(child, h, 1);
        forget_deferred(vm, h);
    }
    luaL_unref(L, LUA_REGISTRYINDEX, f->ref);
    luaL_unref(L, LUA_REGISTRYINDEX, f->handler_ref);
    f->ref = luaL_ref(L, LUA_REGISTRYINDEX);
    f->co = h;
    f->handler_ref = LUA_NOREF;
    f->kind = SCRIPT_FRAME_HANDLER;
    /* made from the main state, which has no hook: give it the run's */
    lua_sethook(h, script_lib_hook, LUA_MASKCOUNT, vm->run.killed ? 1 : SCRIPT_HOOK_INSNS);
    return n;
}

/* coroutine.wrap's error: raised in the frame below at its next
 * instruction, prefixed as Lua's auxwrap does. */
static void raise_in_parent(struct script_vm *vm, lua_State *parent)
{
    struct script_frame *f = top(vm);
    struct script_run *run = &vm->run;

    if (lua_isstring(parent, -1)) {
        lua_rawgeti(parent, LUA_REGISTRYINDEX, f->where_ref);
        lua_insert(parent, -2);
        lua_concat(parent, 2);
    }
    luaL_unref(parent, LUA_REGISTRYINDEX, run->raise_ref);
    run->raise_ref = luaL_ref(parent, LUA_REGISTRYINDEX);
    run->raise_pending = true;
    run->raise_co = parent;
    run->raise_line = f->line;
    snprintf(run->raise_source, sizeof(run->raise_source), "%s",
             f->source != NULL ? f->source : "");
    lua_sethook(parent, script_lib_hook, LUA_MASKCOUNT, 1);
}

/* The top frame raised (its error on its stack), or yielded where a C
 * function would have stood (msg). Returns the count of values for the
 * frame to resume next. */
static int on_error(struct script_vm *vm, const char *msg)
{
    struct script_frame *f = top(vm);
    lua_State *child = f->co, *parent = vm->frames[vm->nframes - 2].co;
    int n;

    if (f->kind == SCRIPT_FRAME_XPCALL && (n = start_handler(vm, child, msg)) >= 0) {
        return n;
    }
    lua_checkstack(parent, 3);
    if (f->kind != SCRIPT_FRAME_WRAP) {
        lua_pushboolean(parent, 0);
    }
    if (f->kind == SCRIPT_FRAME_HANDLER || f->kind == SCRIPT_FRAME_XPCALL) {
        lua_pushliteral(parent, "error in error handling");
    } else if (msg != NULL) {
        lua_pushstring(parent, msg);
    } else {
        lua_xmove(child, parent, 1);
        if (f->kind != SCRIPT_FRAME_WRAP) {
            forget_deferred(vm, parent);
        }
    }
    n = 2;
    if (f->kind == SCRIPT_FRAME_PCALL) {
        pcall_error_value(parent);
    } else if (f->kind == SCRIPT_FRAME_WRAP) {
        raise_in_parent(vm, parent);
        n = 0;
    }
    drop_top(vm);
    return n;
}

int script_co_run(struct script_vm *vm, int nargs, int *status)
{
    for (;;) {
        struct script_frame *f = top(vm);
        int st;

        vm->yield_kind = SCRIPT_YIELD_NONE;
        st = lua_resume(f->co, nargs);
        if (st == LUA_YIELD && vm->yield_kind == SCRIPT_YIELD_CALL) {
            return SCRIPT_CALL;
        }
        if (st == LUA_YIELD && vm->yield_kind == SCRIPT_YIELD_BUSY) {
            return SCRIPT_BUSY;
        }
        if (st == LUA_YIELD && vm->yield_kind == SCRIPT_YIELD_SPAWN) {
            vm->frames[vm->nframes++] = vm->pending;
            if (vm->run.killed) {
                lua_sethook(vm->pending.co, script_lib_hook, LUA_MASKCOUNT, 1);
            }
            nargs = vm->pending.nargs;
            continue;
        }
        if (f->kind == SCRIPT_FRAME_MAIN) {
            *status = st;
            return SCRIPT_DONE;
        }
        if (st == 0 ||
            (st == LUA_YIELD && (f->kind == SCRIPT_FRAME_RESUME || f->kind == SCRIPT_FRAME_WRAP))) {
            nargs = on_return(vm);
        } else {
            nargs = on_error(vm, st == LUA_YIELD ? CROSS_MSG : NULL);
        }
    }
}

void script_co_reset(struct script_vm *vm)
{
    while (vm->nframes > 1) {
        drop_top(vm);
    }
    vm->nframes = 0;
    vm->sync_depth = 0;
}

void script_co_kill(struct script_vm *vm)
{
    for (int i = 0; i < vm->nframes; i++) {
        lua_sethook(vm->frames[i].co, script_lib_hook, LUA_MASKCOUNT, 1);
    }
}

void script_co_open(struct script_vm *vm, lua_State *L, int g)
{
    static const char trampoline[] = "return function(f, ...) return f(...) end";
    static const luaL_Reg co_funcs[] = {
        { "resume", co_resume },
        { "wrap", co_wrap },
        { "running", co_running },
        { "status", co_status_fn },
    };

    if (luaL_loadbuffer(L, trampoline, sizeof(trampoline) - 1, "=shardis") != 0) {
        sh_panic("scripting: the trampoline does not compile");
    }
    lua_call(L, 0, 1);
    vm->trampoline_ref = luaL_ref(L, LUA_REGISTRYINDEX);
    lua_pushcfunction(L, co_pcall);
    lua_setfield(L, g, "pcall");
    lua_pushcfunction(L, co_xpcall);
    lua_setfield(L, g, "xpcall");
    lua_getfield(L, g, "coroutine");
    for (size_t i = 0; i < SH_ARRAY_LEN(co_funcs); i++) {
        lua_pushcfunction(L, co_funcs[i].func);
        lua_setfield(L, -2, co_funcs[i].name);
    }
    lua_pop(L, 1);
}
