/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * script_fn.c: Redis 7.0's functions (FUNCTION LOAD, FCALL ...) in a vm made
 * by script_vm_create_functions (see script.h).
 *
 * A library is its code ("#!lua name=<lib>" and Lua) and the functions its
 * code registered with redis.register_function when it was loaded. Loading
 * runs the code once, as Redis does: with the state's globals reading
 * through to the library API (a redis table with register_function, log and
 * the constants; anything else raises "Script attempted to access
 * nonexistent global variable") instead of the real globals, a hook that
 * stops it after LOAD_TIMEOUT_MS, and vm->loading naming the library that
 * register_function fills. The callbacks are kept as registry references;
 * when they run later they see the real globals again, since only the
 * __index of the globals' metatable was switched.
 *
 * A library is built detached first (compiled, run, its functions
 * collected) and linked only when every check passed, so a failed LOAD or
 * RESTORE leaves the vm as it was. Functions are found by name through an
 * open-addressing index rebuilt whenever the set of libraries changes
 * (rare: LOAD, DELETE, FLUSH, RESTORE).
 *
 * Threading: a vm belongs to one shard.
 */
#include "script_internal.h"
#include "shardis/reply.h"
#include "shardis/resp.h"

#include <errno.h>
#include <lauxlib.h>
#include <string.h>
#include <strings.h>

#define LOAD_TIMEOUT_MS 500 /* Redis's LOAD_TIMEOUT_MS */

/* ---- names and metadata ---- */

/* Redis's functionsVerifyName: letters, digits and '_', at least one. */
static bool valid_name(const char *s, size_t n)
{
    if (n == 0) {
        return false;
    }
    for (size_t i = 0; i < n; i++) {
        char c = s[i];

        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '_')) {
            return false;
        }
    }
    return true;
}

#define NAME_ERR                                                                                   \
    "Library names can only contain letters, numbers, or underscores(_) and must be at least "     \
    "one character long"

/* Redis's functionExtractLibMetaData: "#!<engine> name=<lib>". On success
 * *name is a copy and *body where the Lua code starts (at the shebang's
 * newline, so that line numbers count the shebang). */
static int parse_meta(const char *code, size_t len, char **name, size_t *body, struct reply *err)
{
    const char *nl;
    char *line, *lib = NULL;
    struct sh_slice *parts;
    int n, rc = -EINVAL;

    *name = NULL;
    if (len < 2 || code[0] != '#' || code[1] != '!') {
        reply_error(err, "ERR Missing library metadata");
        return -EINVAL;
    }
    nl = memchr(code, '\n', len);
    if (nl == NULL) {
        reply_error(err, "ERR Invalid library metadata");
        return -EINVAL;
    }
    *body = (size_t)(nl - code);
    line = sh_memdup(code, *body);
    parts = sh_malloc(sizeof(*parts) * (*body / 2 + 2));
    n = resp_split_inline(line, *body, parts, (int)(*body / 2 + 1));
    if (n <= 0) {
        reply_error(err, "ERR Invalid library metadata");
        goto out;
    }
    for (int i = 1; i < n; i++) {
        if (parts[i].len >= 5 && !strncasecmp(parts[i].ptr, "name=", 5)) {
            if (lib != NULL) {
                reply_error(err, "ERR Invalid metadata value, name argument was given multiple "
                                 "times");
                goto out;
            }
            lib = sh_malloc(parts[i].len - 4);
            memcpy(lib, parts[i].ptr + 5, parts[i].len - 5);
            lib[parts[i].len - 5] = '\0';
            continue;
        }
        reply_errorf(err, "ERR Invalid metadata value given: %.*s", (int)parts[i].len,
                     parts[i].ptr);
        goto out;
    }
    if (lib == NULL) {
        reply_error(err, "ERR Library name was not given");
        goto out;
    }
    if (!valid_name(lib, strlen(lib))) {
        reply_error(err, "ERR " NAME_ERR);
        goto out;
    }
    /* the engine: parts[0] without "#!", Redis's engines dict ignores case */
    if (parts[0].len != 5 || strncasecmp(parts[0].ptr + 2, "lua", 3) != 0) {
        reply_errorf(err, "ERR Engine '%.*s' not found", (int)parts[0].len - 2, parts[0].ptr + 2);
        goto out;
    }
    *name = lib;
    lib = NULL;
    rc = 0;
out:
    sh_free(lib);
    sh_free(parts);
    sh_free(line);
    return rc;
}

/* ---- libraries ---- */

static void lib_free(struct script_vm *vm, struct script_library *lib)
{
    if (lib == NULL) {
        return;
    }
    for (int i = 0; i < lib->nfns; i++) {
        luaL_unref(vm->L, LUA_REGISTRYINDEX, lib->fns[i].ref);
        sh_free(lib->fns[i].name);
        sh_free(lib->fns[i].desc);
    }
    sh_free(lib->fns);
    sh_free(lib->name);
    sh_free(lib->code);
    sh_free(lib);
}

static uint64_t name_hash(const char *s, size_t n)
{
    uint64_t h = 1469598103934665603ULL; /* FNV-1a */

    for (size_t i = 0; i < n; i++) {
        uint8_t c = (uint8_t)s[i];

        /* function names ignore case, as Redis's functions dict does */
        h = (h ^ (c >= 'A' && c <= 'Z' ? c + 32 : c)) * 1099511628211ULL;
    }
    return h;
}

static void index_rebuild(struct script_vm *vm)
{
    size_t cap = 16;

    vm->nfns = 0;
    for (size_t i = 0; i < vm->nlibs; i++) {
        vm->nfns += (size_t)vm->libs[i]->nfns;
    }
    while (cap < vm->nfns * 2) {
        cap *= 2;
    }
    sh_free(vm->fn_idx);
    vm->fn_idx = sh_calloc(cap, sizeof(*vm->fn_idx));
    vm->fn_idx_cap = cap;
    for (size_t i = 0; i < vm->nlibs; i++) {
        for (int k = 0; k < vm->libs[i]->nfns; k++) {
            struct script_function *f = &vm->libs[i]->fns[k];
            size_t j = (size_t)name_hash(f->name, strlen(f->name)) & (cap - 1);

            while (vm->fn_idx[j] != NULL) {
                j = (j + 1) & (cap - 1);
            }
            vm->fn_idx[j] = f;
        }
    }
}

const struct script_function *script_fn_find(const struct script_vm *vm, struct sh_slice name)
{
    size_t j;

    if (vm->fn_idx == NULL) {
        return NULL;
    }
    j = (size_t)name_hash(name.ptr, name.len) & (vm->fn_idx_cap - 1);
    for (; vm->fn_idx[j] != NULL; j = (j + 1) & (vm->fn_idx_cap - 1)) {
        const struct script_function *f = vm->fn_idx[j];

        if (strlen(f->name) == name.len && !strncasecmp(f->name, name.ptr, name.len)) {
            return f;
        }
    }
    return NULL;
}

static struct script_library *lib_find(const struct script_vm *vm, const char *name, size_t n,
                                       size_t *at)
{
    for (size_t i = 0; i < vm->nlibs; i++) {
        if (strlen(vm->libs[i]->name) == n && !memcmp(vm->libs[i]->name, name, n)) {
            if (at != NULL) {
                *at = i;
            }
            return vm->libs[i];
        }
    }
    return NULL;
}

static void lib_unlink_at(struct script_vm *vm, size_t at)
{
    memmove(vm->libs + at, vm->libs + at + 1, (vm->nlibs - at - 1) * sizeof(*vm->libs));
    vm->nlibs--;
}

static void lib_link(struct script_vm *vm, struct script_library *lib)
{
    if (vm->nlibs == vm->libs_cap) {
        vm->libs_cap = vm->libs_cap ? vm->libs_cap * 2 : 8;
        vm->libs = sh_realloc(vm->libs, vm->libs_cap * sizeof(*vm->libs));
    }
    vm->libs[vm->nlibs++] = lib;
}

/* A function of another linked library (not skip) named as one of lib's
 * (in any case). */
static const char *collision(const struct script_vm *vm, const struct script_library *lib,
                             const struct script_library *skip)
{
    for (int k = 0; k < lib->nfns; k++) {
        const struct script_function *f =
                script_fn_find(vm, (struct sh_slice){ lib->fns[k].name, strlen(lib->fns[k].name) });

        if (f != NULL && f->lib != skip) {
            return lib->fns[k].name;
        }
    }
    return NULL;
}

/* ---- loading: run the code with the library API ---- */

static void load_hook(lua_State *L, lua_Debug *ar)
{
    struct script_vm *vm = script_vm_of(L);

    (void)ar;
    if (vm->loading != NULL && sh_mono_us() / 1000 - vm->load_start_ms > LOAD_TIMEOUT_MS) {
        /* at every line from now on, so that a pcall cannot hold it */
        lua_sethook(L, load_hook, LUA_MASKLINE, 0);
        script_lib_push_error(L, "FUNCTION LOAD timeout", 21, false);
        lua_error(L);
    }
}

struct build_ctx {
    struct script_vm *vm;
    const char *code;
    size_t len;
    bool compiled;
};

/* Sets the __index of the globals' metatable (the read-only proxy's): the
 * library API while a library loads, the real globals otherwise. */
static void globals_read_through(lua_State *L, int ref)
{
    lua_getmetatable(L, LUA_GLOBALSINDEX);
    lua_rawgeti(L, LUA_REGISTRYINDEX, ref);
    lua_setfield(L, -2, "__index");
    lua_pop(L, 1);
}

static int build_fn(lua_State *L)
{
    struct build_ctx *ctx = lua_touserdata(L, 1);
    struct script_vm *vm = ctx->vm;
    int st;

    lua_settop(L, 0);
    if (luaL_loadbuffer(L, ctx->code, ctx->len, "@user_function") != 0) {
        return lua_error(L);
    }
    ctx->compiled = true;
    globals_read_through(L, vm->libapi_ref);
    lua_sethook(L, load_hook, LUA_MASKCOUNT, SCRIPT_HOOK_INSNS);
    st = lua_pcall(L, 0, 0, 0);
    lua_sethook(L, NULL, 0, 0);
    globals_read_through(L, vm->globals_ref);
    if (st != 0) {
        return lua_error(L);
    }
    return 0;
}

/* Compiles and runs a library's code into a detached library. Writes
 * Redis's error to err on failure. */
static struct script_library *build(struct script_vm *vm, const char *code, size_t len,
                                    struct reply *err)
{
    struct script_library *lib;
    struct build_ctx ctx;
    size_t body;
    char *name;

    if (parse_meta(code, len, &name, &body, err) != 0) {
        return NULL;
    }
    lib = sh_calloc(1, sizeof(*lib));
    lib->name = name;
    /* code is len bytes, not a C string (an RDB's decompressed one ends
     * there): the copy gets the terminator */
    lib->code = sh_malloc(len + 1);
    memcpy(lib->code, code, len);
    lib->code[len] = '\0';
    lib->len = len;
    ctx = (struct build_ctx){ .vm = vm, .code = code + body, .len = len - body };
    vm->loading = lib;
    vm->load_start_ms = sh_mono_us() / 1000;
    if (lua_cpcall(vm->L, build_fn, &ctx) != 0) {
        lua_State *L = vm->L;

        if (!ctx.compiled) {
            reply_errorf(err, "ERR Error compiling function: %s",
                         lua_isstring(L, -1) ? lua_tostring(L, -1) : "?");
        } else if (lua_istable(L, -1)) {
            lua_getfield(L, -1, "err");
            reply_errorf(err, "ERR Error registering functions: %s",
                         lua_isstring(L, -1) ? lua_tostring(L, -1) : "ERR unknown error");
            lua_pop(L, 1);
        } else {
            reply_errorf(err, "ERR Error registering functions: ERR %s",
                         lua_isstring(L, -1) ? lua_tostring(L, -1) : "<err unknown>");
        }
        lua_pop(L, 1);
        vm->loading = NULL;
        lib_free(vm, lib);
        return NULL;
    }
    vm->loading = NULL;
    if (lib->nfns == 0) {
        reply_error(err, "ERR No functions registered");
        lib_free(vm, lib);
        return NULL;
    }
    return lib;
}

/* ---- redis.register_function ---- */

static int reg_fail(lua_State *L, const char *msg)
{
    script_lib_push_error(L, msg, strlen(msg), false);
    return lua_error(L);
}

/* Reads a flags table: Redis's luaRegisterFunctionReadFlags. */
static bool read_flags(lua_State *L, int t, uint32_t *flags)
{
    static const struct {
        const char *name;
        uint32_t flag;
    } names[] = {
        { "no-writes", SCRIPT_FLAG_NO_WRITES },
        { "allow-oom", SCRIPT_FLAG_ALLOW_OOM },
        { "allow-stale", SCRIPT_FLAG_ALLOW_STALE },
        { "no-cluster", SCRIPT_FLAG_NO_CLUSTER },
        { "allow-cross-slot-keys", SCRIPT_FLAG_ALLOW_CROSS_SLOT },
    };

    *flags = 0;
    for (int j = 1;; j++) {
        size_t k;

        lua_rawgeti(L, t, j);
        if (lua_isnil(L, -1)) {
            lua_pop(L, 1);
            return true;
        }
        if (!lua_isstring(L, -1)) {
            lua_pop(L, 1);
            return false;
        }
        for (k = 0; k < SH_ARRAY_LEN(names); k++) {
            if (!strcasecmp(names[k].name, lua_tostring(L, -1))) {
                *flags |= names[k].flag;
                break;
            }
        }
        lua_pop(L, 1);
        if (k == SH_ARRAY_LEN(names)) {
            return false;
        }
    }
}

int script_fn_register(lua_State *L)
{
    struct script_vm *vm = script_vm_of(L);
    struct script_library *lib = vm->loading;
    struct script_function *f;
    const char *name = NULL, *desc = NULL;
    size_t name_len = 0, desc_len = 0;
    uint32_t flags = 0;
    int argc = lua_gettop(L), cb;

    if (lib == NULL) {
        return reg_fail(L, "redis.register_function can only be called on FUNCTION LOAD command");
    }
    if (argc < 1 || argc > 2) {
        return reg_fail(L, "wrong number of arguments to redis.register_function");
    }
    if (argc == 1) {
        if (!lua_istable(L, 1)) {
            return reg_fail(L, "calling redis.register_function with a single argument is only "
                               "applicable to Lua table (representing named arguments).");
        }
        /* slots 2, 3, 4: the name, the description, the callback */
        lua_settop(L, 4);
        lua_pushnil(L);
        while (lua_next(L, 1)) {
            const char *key;
            int slot = 0;

            if (!lua_isstring(L, -2)) {
                return reg_fail(L, "named argument key given to redis.register_function is not a "
                                   "string");
            }
            lua_pushvalue(L, -2);
            key = lua_tostring(L, -1);
            lua_pop(L, 1); /* the key stays referenced by the table */
            if (!strcasecmp(key, "function_name")) {
                if (!lua_isstring(L, -1)) {
                    return reg_fail(L, "function_name argument given to redis.register_function "
                                       "must be a string");
                }
                slot = 2;
            } else if (!strcasecmp(key, "description")) {
                if (!lua_isstring(L, -1)) {
                    return reg_fail(L, "description argument given to redis.register_function "
                                       "must be a string");
                }
                slot = 3;
            } else if (!strcasecmp(key, "callback")) {
                if (!lua_isfunction(L, -1)) {
                    return reg_fail(L, "callback argument given to redis.register_function must "
                                       "be a function");
                }
                slot = 4;
            } else if (!strcasecmp(key, "flags")) {
                if (!lua_istable(L, -1)) {
                    return reg_fail(L, "flags argument to redis.register_function must be a "
                                       "table representing function flags");
                }
                if (!read_flags(L, lua_gettop(L), &flags)) {
                    return reg_fail(L, "unknown flag given");
                }
            } else {
                return reg_fail(L, "unknown argument given to redis.register_function");
            }
            if (slot != 0) {
                lua_pushvalue(L, -1);
                lua_replace(L, slot);
            }
            lua_pop(L, 1);
        }
        if (!lua_isnil(L, 2)) {
            name = lua_tolstring(L, 2, &name_len);
        }
        if (!lua_isnil(L, 3)) {
            desc = lua_tolstring(L, 3, &desc_len);
        }
        cb = lua_isnil(L, 4) ? 0 : 4;
        if (name == NULL) {
            return reg_fail(L, "redis.register_function must get a function name argument");
        }
        if (cb == 0) {
            return reg_fail(L, "redis.register_function must get a callback argument");
        }
    } else {
        if (!lua_isstring(L, 1)) {
            return reg_fail(L, "first argument to redis.register_function must be a string");
        }
        if (!lua_isfunction(L, 2)) {
            return reg_fail(L, "second argument to redis.register_function must be a function");
        }
        name = lua_tolstring(L, 1, &name_len);
        cb = 2;
    }
    if (!valid_name(name, name_len)) {
        /* Redis 7.0 says "Library names" here too */
        return reg_fail(L, NAME_ERR);
    }
    for (int i = 0; i < lib->nfns; i++) {
        if (strlen(lib->fns[i].name) == name_len &&
            !strncasecmp(lib->fns[i].name, name, name_len)) {
            return reg_fail(L, "Function already exists in the library");
        }
    }
    lib->fns = sh_realloc(lib->fns, sizeof(*lib->fns) * (size_t)(lib->nfns + 1));
    f = &lib->fns[lib->nfns];
    lua_pushvalue(L, cb);
    *f = (struct script_function){
        .name = sh_memdup(name, name_len + 1),
        .desc = desc ? sh_memdup(desc, desc_len + 1) : NULL,
        .flags = flags,
        .ref = luaL_ref(L, LUA_REGISTRYINDEX),
        .lib = lib,
    };
    f->name[name_len] = '\0';
    if (f->desc) {
        f->desc[desc_len] = '\0';
    }
    lib->nfns++;
    /* the array moved: the functions' back pointers stay right, the index is
     * rebuilt at link time */
    return 0;
}

/* ---- the API ---- */

int script_fn_load(struct script_vm *vm, const char *code, size_t len, bool replace,
                   struct reply *out)
{
    struct script_library *lib, *old;
    const char *clash;
    size_t body, at = 0;
    char *name;

    if (parse_meta(code, len, &name, &body, out) != 0) {
        return -EINVAL;
    }
    old = lib_find(vm, name, strlen(name), &at);
    if (old != NULL && !replace) {
        reply_errorf(out, "ERR Library '%s' already exists", name);
        sh_free(name);
        return -EEXIST;
    }
    sh_free(name);
    lib = build(vm, code, len, out);
    if (lib == NULL) {
        return -EINVAL;
    }
    clash = collision(vm, lib, old);
    if (clash != NULL) {
        reply_errorf(out, "ERR Function %s already exists", clash);
        lib_free(vm, lib);
        return -EEXIST;
    }
    if (old != NULL) {
        lib_unlink_at(vm, at);
        lib_free(vm, old);
    }
    lib_link(vm, lib);
    index_rebuild(vm);
    reply_bulk(out, lib->name, strlen(lib->name));
    return 0;
}

int script_fn_delete(struct script_vm *vm, struct sh_slice name)
{
    size_t at;
    struct script_library *lib = lib_find(vm, name.ptr, name.len, &at);

    if (lib == NULL) {
        return -ENOENT;
    }
    lib_unlink_at(vm, at);
    lib_free(vm, lib);
    index_rebuild(vm);
    return 0;
}

static void free_all(struct script_vm *vm)
{
    for (size_t i = 0; i < vm->nlibs; i++) {
        lib_free(vm, vm->libs[i]);
    }
    vm->nlibs = 0;
    sh_free(vm->fn_idx);
    vm->fn_idx = NULL;
    vm->fn_idx_cap = 0;
    vm->nfns = 0;
}

void script_fn_flush(struct script_vm *vm)
{
    free_all(vm);
    sh_free(vm->libs);
    vm->libs = NULL;
    vm->libs_cap = 0;
}

int script_fn_restore(struct script_vm *vm, const struct sh_slice *codes, int n,
                      enum script_fn_policy policy, struct reply *err)
{
    struct script_library **built = sh_calloc((size_t)(n ? n : 1), sizeof(*built));
    struct script_library **saved = NULL;
    size_t nsaved = 0;
    int rc = -EINVAL;

    for (int i = 0; i < n; i++) {
        built[i] = build(vm, codes[i].ptr, codes[i].len, err);
        if (built[i] == NULL) {
            goto fail;
        }
        for (int k = 0; k < i; k++) {
            if (!strcmp(built[k]->name, built[i]->name)) {
                reply_errorf(err, "ERR Library '%s' already exists", built[i]->name);
                goto fail;
            }
        }
    }
    /* the libraries the restore takes out, kept to put back on failure */
    saved = sh_calloc(vm->nlibs + 1, sizeof(*saved));
    if (policy == SCRIPT_FN_FLUSH) {
        if (vm->nlibs) { /* libs is NULL before the first */
            memcpy(saved, vm->libs, vm->nlibs * sizeof(*saved));
        }
        nsaved = vm->nlibs;
        vm->nlibs = 0;
    } else {
        for (int i = 0; i < n; i++) {
            size_t at;
            struct script_library *old = lib_find(vm, built[i]->name, strlen(built[i]->name), &at);

            if (old == NULL) {
                continue;
            }
            if (policy == SCRIPT_FN_APPEND) {
                reply_errorf(err, "ERR Library %s already exists", built[i]->name);
                goto putback;
            }
            lib_unlink_at(vm, at);
            saved[nsaved++] = old;
        }
    }
    index_rebuild(vm);
    for (int i = 0; i < n; i++) {
        const char *clash = collision(vm, built[i], NULL);

        if (clash != NULL) {
            reply_errorf(err, "ERR Function %s already exists", clash);
            goto putback;
        }
    }
    for (int i = 0; i < n; i++) {
        lib_link(vm, built[i]);
        built[i] = NULL;
    }
    for (size_t i = 0; i < nsaved; i++) {
        lib_free(vm, saved[i]);
    }
    nsaved = 0;
    rc = 0;
putback:
    for (size_t i = 0; i < nsaved; i++) {
        lib_link(vm, saved[i]);
    }
    index_rebuild(vm);
fail:
    for (int i = 0; i < n; i++) {
        lib_free(vm, built[i]);
    }
    sh_free(built);
    sh_free(saved);
    return rc;
}

size_t script_fn_nlibs(const struct script_vm *vm)
{
    return vm->nlibs;
}

size_t script_fn_nfunctions(const struct script_vm *vm)
{
    return vm->nfns;
}

const struct script_library *script_fn_lib(const struct script_vm *vm, size_t i)
{
    return i < vm->nlibs ? vm->libs[i] : NULL;
}

int script_fn_run_start(struct script_vm *vm, struct sh_slice name, int nkeys,
                        const struct sh_slice *keys, int nargs, const struct sh_slice *args,
                        const struct script_run_opts *opts, struct reply *out)
{
    const struct script_function *f = script_fn_find(vm, name);

    if (vm->run.wait != SCRIPT_WAIT_NONE) {
        return -EBUSY;
    }
    if (f == NULL) {
        return -ENOENT;
    }
    return script_run_begin(vm, f->ref, f->name, true, nkeys, keys, nargs, args, opts, out);
}
