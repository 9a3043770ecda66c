/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * function.c: FUNCTION LOAD, DELETE, FLUSH, RESTORE, DUMP, LIST, STATS, KILL
 * and HELP over the shards (FCALL runs in eval.c, as EVAL does).
 *
 * Every shard keeps every library in its functions vm (eval.h): LOAD,
 * DELETE, FLUSH and RESTORE run on every shard before they reply (each
 * shard compiles the same code and reaches the same verdict; the reply is
 * the first error, else the client's shard's own); DUMP, LIST and STATS read
 * the client's shard.
 *
 * The DUMP payload is Redis 7.0's (rdbSaveFunctions): for each library the
 * opcode RDB_OPCODE_FUNCTION2 (245) and its code as an RDB string, then the
 * RDB version (2 bytes, little-endian) and the CRC-64 of everything before
 * (8 bytes, little-endian). We write the code uncompressed; RESTORE reads
 * every string form Redis writes (plain, integer-encoded, LZF).
 */
#include "shardis/function.h"

#include "shardis/cmd.h"
#include "shardis/cmdtab.h"
#include "shardis/crc64.h"
#include "shardis/eval.h"
#include "shardis/glob.h"
#include "shardis/lzf.h"
#include "shardis/reply.h"
#include "shardis/route.h"
#include "shardis/script.h"
#include "shardis/shard.h"
#include "shardis/util.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#define RDB_VERSION          10 /* Redis 7.0's */
#define RDB_OPCODE_FUNCTION2 245
#define RDB_OPCODE_FUNCTION  246 /* the pre-GA form, refused as by Redis */

/* ---- the payload ---- */

static void put_len(struct rbuf *b, uint64_t len)
{
    uint8_t h[9];

    if (len < (1 << 6)) {
        h[0] = (uint8_t)len;
        rbuf_append(b, h, 1);
    } else if (len < (1 << 14)) {
        h[0] = (uint8_t)(0x40 | (len >> 8));
        h[1] = (uint8_t)len;
        rbuf_append(b, h, 2);
    } else if (len <= UINT32_MAX) {
        h[0] = 0x80;
        for (int i = 0; i < 4; i++) {
            h[1 + i] = (uint8_t)(len >> (24 - 8 * i));
        }
        rbuf_append(b, h, 5);
    } else {
        h[0] = 0x81;
        for (int i = 0; i < 8; i++) {
            h[1 + i] = (uint8_t)(len >> (56 - 8 * i));
        }
        rbuf_append(b, h, 9);
    }
}

static void dump_payload(struct script_vm *vm, struct rbuf *b)
{
    uint8_t foot[10];
    uint64_t crc;

    for (size_t i = 0; i < script_fn_nlibs(vm); i++) {
        const struct script_library *lib = script_fn_lib(vm, i);
        uint8_t op = RDB_OPCODE_FUNCTION2;

        rbuf_append(b, &op, 1);
        put_len(b, lib->len);
        rbuf_append(b, lib->code, lib->len);
    }
    foot[0] = RDB_VERSION & 0xff;
    foot[1] = RDB_VERSION >> 8;
    rbuf_append(b, foot, 2);
    crc = crc64(0, b->data, b->len);
    for (int i = 0; i < 8; i++) {
        foot[i] = (uint8_t)(crc >> (8 * i));
    }
    rbuf_append(b, foot, 8);
}

struct reader {
    const uint8_t *p, *end;
};

/* An RDB length; *enc set for the special (encoded string) forms. */
static bool get_len(struct reader *r, uint64_t *len, bool *enc)
{
    uint8_t t;

    *enc = false;
    if (r->p >= r->end) {
        return false;
    }
    t = *r->p++;
    switch (t >> 6) {
    case 0:
        *len = t & 0x3f;
        return true;
    case 1:
        if (r->p >= r->end) {
            return false;
        }
        *len = ((uint64_t)(t & 0x3f) << 8) | *r->p++;
        return true;
    case 3:
        *enc = true;
        *len = t & 0x3f;
        return true;
    default: {
        int n = t == 0x80 ? 4 : t == 0x81 ? 8 : 0;

        if (n == 0 || r->end - r->p < n) {
            return false;
        }
        *len = 0;
        for (int i = 0; i < n; i++) {
            *len = (*len << 8) | *r->p++;
        }
        return true;
    }
    }
}

/* An RDB string into out (appended). */
static bool get_string(struct reader *r, struct rbuf *out)
{
    uint64_t len, clen;
    bool enc;

    if (!get_len(r, &len, &enc)) {
        return false;
    }
    if (enc && len <= 2) {
        /* an integer: 1, 2 or 4 bytes little-endian, signed */
        int n = 1 << len;
        int64_t v = 0;
        char num[24];

        if (r->end - r->p < n) {
            return false;
        }
        for (int i = n - 1; i >= 0; i--) {
            v = (v << 8) | r->p[i];
        }
        v = n == 1 ? (int8_t)v : n == 2 ? (int16_t)v : (int32_t)v;
        r->p += n;
        rbuf_append(out, num, (size_t)snprintf(num, sizeof(num), "%lld", (long long)v));
        return true;
    }
    if (enc && len == 3) {
        char *dst;

        if (!get_len(r, &clen, &enc) || enc || !get_len(r, &len, &enc) || enc ||
            (uint64_t)(r->end - r->p) < clen || len > (512ULL << 20)) {
            return false;
        }
        dst = rbuf_reserve(out, len);
        if (len > 0 && lzf_decompress(r->p, clen, dst, len) != len) {
            return false;
        }
        out->len += len;
        r->p += clen;
        return true;
    }
    if (enc || (uint64_t)(r->end - r->p) < len) {
        return false;
    }
    rbuf_append(out, r->p, len);
    r->p += len;
    return true;
}

/* Checks the footer and splits the payload into the libraries' codes
 * (copied into store). False with Redis's error written to err. */
static bool parse_payload(struct sh_slice data, struct rbuf *store, struct sh_slice **codes, int *n,
                          struct reply *err)
{
    const uint8_t *p = (const uint8_t *)data.ptr;
    struct reader r;
    size_t *offs = NULL, cap = 0;
    uint64_t crc = 0;
    int count = 0;

    if (data.len < 10) {
        reply_error(err, "ERR DUMP payload version or checksum are wrong");
        return false;
    }
    for (int i = 0; i < 8; i++) {
        crc |= (uint64_t)p[data.len - 8 + i] << (8 * i);
    }
    if ((p[data.len - 10] | (p[data.len - 9] << 8)) > RDB_VERSION ||
        crc64(0, p, data.len - 8) != crc) {
        reply_error(err, "ERR DUMP payload version or checksum are wrong");
        return false;
    }
    r = (struct reader){ p, p + data.len - 10 };
    while (r.p < r.end) {
        uint8_t op = *r.p++;
        size_t at = store->len;

        if (op == RDB_OPCODE_FUNCTION) {
            reply_error(err, "ERR Pre-GA function format not supported");
            goto fail;
        }
        if (op != RDB_OPCODE_FUNCTION2) {
            reply_error(err, "ERR given type is not a function");
            goto fail;
        }
        if (!get_string(&r, store)) {
            reply_error(err, "ERR Failed loading library payload");
            goto fail;
        }
        if ((size_t)count == cap) {
            cap = cap ? cap * 2 : 8;
            offs = sh_realloc(offs, cap * 2 * sizeof(*offs));
        }
        offs[2 * count] = at;
        offs[2 * count + 1] = store->len - at;
        count++;
    }
    *codes = sh_malloc(sizeof(**codes) * (size_t)(count ? count : 1));
    for (int i = 0; i < count; i++) {
        (*codes)[i] = (struct sh_slice){ store->data + offs[2 * i], offs[2 * i + 1] };
    }
    *n = count;
    sh_free(offs);
    return true;
fail:
    sh_free(offs);
    return false;
}

/* ---- the commands that change the libraries: on every shard ---- */

/* Redis's addReplySubcommandSyntaxError, the subcommand as typed. */
static void reply_subcommand_syntax(struct reply *r, const struct cmd_ctx *ctx)
{
    reply_errorf(r,
                 "ERR unknown subcommand or wrong number of arguments for '%.*s'. Try FUNCTION "
                 "HELP.",
                 (int)(ctx->argv[1].len < 128 ? ctx->argv[1].len : 128), ctx->argv[1].ptr);
}

/* FUNCTION LOAD [REPLACE] code */
static void cmd_function_load(struct cmd_ctx *ctx)
{
    bool replace = false;
    int i = 2;

    for (; i < ctx->argc - 1; i++) {
        if (!sh_slice_eq_nocase(ctx->argv[i], "REPLACE")) {
            reply_errorf(&ctx->r, "ERR Unknown option given: %.*s", (int)ctx->argv[i].len,
                         ctx->argv[i].ptr);
            return;
        }
        replace = true;
    }
    if (i >= ctx->argc) {
        reply_error(&ctx->r, "ERR Function code is missing");
        return;
    }
    if (script_fn_load(eval_functions_vm(ctx->shard), ctx->argv[i].ptr, ctx->argv[i].len, replace,
                       &ctx->r) != 0) {
        return; /* the error is written */
    }
}

static void cmd_function_delete(struct cmd_ctx *ctx)
{
    if (script_fn_delete(eval_functions_vm(ctx->shard), ctx->argv[2]) != 0) {
        reply_error(&ctx->r, "ERR Library not found");
        return;
    }
    reply_ok(&ctx->r);
}

static void cmd_function_flush(struct cmd_ctx *ctx)
{
    if (ctx->argc == 3 && !sh_slice_eq_nocase(ctx->argv[2], "ASYNC") &&
        !sh_slice_eq_nocase(ctx->argv[2], "SYNC")) {
        reply_error(&ctx->r, "ERR FUNCTION FLUSH only supports SYNC|ASYNC option");
        return;
    }
    if (ctx->argc > 3) {
        reply_subcommand_syntax(&ctx->r, ctx);
        return;
    }
    script_fn_flush(eval_functions_vm(ctx->shard));
    reply_ok(&ctx->r);
}

/* FUNCTION RESTORE payload [FLUSH|APPEND|REPLACE] */
static void cmd_function_restore(struct cmd_ctx *ctx)
{
    enum script_fn_policy policy = SCRIPT_FN_APPEND;
    struct sh_slice *codes = NULL;
    struct rbuf store;
    int n = 0;

    if (ctx->argc > 4) {
        reply_subcommand_syntax(&ctx->r, ctx);
        return;
    }
    if (ctx->argc == 4) {
        if (sh_slice_eq_nocase(ctx->argv[3], "FLUSH")) {
            policy = SCRIPT_FN_FLUSH;
        } else if (sh_slice_eq_nocase(ctx->argv[3], "REPLACE")) {
            policy = SCRIPT_FN_REPLACE;
        } else if (!sh_slice_eq_nocase(ctx->argv[3], "APPEND")) {
            reply_error(&ctx->r, "ERR Wrong restore policy given, value should be either FLUSH, "
                                 "APPEND or REPLACE.");
            return;
        }
    }
    rbuf_init(&store);
    if (parse_payload(ctx->argv[2], &store, &codes, &n, &ctx->r) &&
        script_fn_restore(eval_functions_vm(ctx->shard), codes, n, policy, &ctx->r) == 0) {
        reply_ok(&ctx->r);
    }
    sh_free(codes);
    rbuf_fini(&store);
}

/* ---- the commands that read: this shard ---- */

static void cmd_function_dump(struct cmd_ctx *ctx)
{
    struct rbuf b;

    rbuf_init(&b);
    dump_payload(eval_functions_vm(ctx->shard), &b);
    reply_bulk(&ctx->r, b.data, b.len);
    rbuf_fini(&b);
}

static const char *const flag_names[] = {
    "no-writes", "allow-oom", "allow-stale", "no-cluster", "allow-cross-slot-keys",
};

static void reply_function(struct reply *r, const struct script_function *f)
{
    int nflags = 0;

    reply_map(r, 3);
    reply_bulk_cstr(r, "name");
    reply_bulk_cstr(r, f->name);
    reply_bulk_cstr(r, "description");
    if (f->desc) {
        reply_bulk_cstr(r, f->desc);
    } else {
        reply_null(r);
    }
    reply_bulk_cstr(r, "flags");
    for (size_t k = 0; k < SH_ARRAY_LEN(flag_names); k++) {
        nflags += (f->flags >> k) & 1;
    }
    reply_set(r, nflags);
    for (size_t k = 0; k < SH_ARRAY_LEN(flag_names); k++) {
        if ((f->flags >> k) & 1) {
            reply_status(r, flag_names[k]);
        }
    }
}

/* FUNCTION LIST [LIBRARYNAME pattern] [WITHCODE] */
static void cmd_function_list(struct cmd_ctx *ctx)
{
    struct script_vm *vm = eval_functions_vm(ctx->shard);
    const struct sh_slice *pattern = NULL;
    bool with_code = false;
    size_t at;
    long long n = 0;

    for (int i = 2; i < ctx->argc; i++) {
        if (!with_code && sh_slice_eq_nocase(ctx->argv[i], "WITHCODE")) {
            with_code = true;
            continue;
        }
        if (!pattern && sh_slice_eq_nocase(ctx->argv[i], "LIBRARYNAME")) {
            if (i >= ctx->argc - 1) {
                reply_error(&ctx->r, "ERR library name argument was not given");
                return;
            }
            pattern = &ctx->argv[++i];
            continue;
        }
        reply_errorf(&ctx->r, "ERR Unknown argument %.*s", (int)ctx->argv[i].len, ctx->argv[i].ptr);
        return;
    }
    at = reply_array_begin(&ctx->r);
    for (size_t i = 0; i < script_fn_nlibs(vm); i++) {
        const struct script_library *lib = script_fn_lib(vm, i);

        if (pattern &&
            !glob_match(pattern->ptr, pattern->len, lib->name, strlen(lib->name), true)) {
            continue;
        }
        n++;
        reply_map(&ctx->r, with_code ? 4 : 3);
        reply_bulk_cstr(&ctx->r, "library_name");
        reply_bulk_cstr(&ctx->r, lib->name);
        reply_bulk_cstr(&ctx->r, "engine");
        reply_bulk_cstr(&ctx->r, "LUA");
        reply_bulk_cstr(&ctx->r, "functions");
        reply_array(&ctx->r, lib->nfns);
        for (int k = 0; k < lib->nfns; k++) {
            reply_function(&ctx->r, &lib->fns[k]);
        }
        if (with_code) {
            reply_bulk_cstr(&ctx->r, "library_code");
            reply_bulk(&ctx->r, lib->code, lib->len);
        }
    }
    reply_array_end(&ctx->r, at, n);
}

static void cmd_function_stats(struct cmd_ctx *ctx)
{
    struct script_vm *vm = eval_functions_vm(ctx->shard);

    reply_map(&ctx->r, 2);
    reply_bulk_cstr(&ctx->r, "running_script");
    eval_reply_running(ctx->shard, &ctx->r);
    reply_bulk_cstr(&ctx->r, "engines");
    reply_map(&ctx->r, 1);
    reply_bulk_cstr(&ctx->r, "LUA");
    reply_map(&ctx->r, 2);
    reply_bulk_cstr(&ctx->r, "libraries_count");
    reply_int(&ctx->r, (long long)script_fn_nlibs(vm));
    reply_bulk_cstr(&ctx->r, "functions_count");
    reply_int(&ctx->r, (long long)script_fn_nfunctions(vm));
}

static void cmd_function_kill(struct cmd_ctx *ctx)
{
    eval_kill(ctx->shard, true, &ctx->r);
}

static void cmd_function_help(struct cmd_ctx *ctx)
{
    static const char *const lines[] = {
        "FUNCTION <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
        "LOAD [REPLACE] <FUNCTION CODE>",
        "    Create a new library with the given library name and code.",
        "DELETE <LIBRARY NAME>",
        "    Delete the given library.",
        "LIST [LIBRARYNAME PATTERN] [WITHCODE]",
        "    Return general information on all the libraries:",
        "    * Library name",
        "    * The engine used to run the Library",
        "    * Library description",
        "    * Functions list",
        "    * Library code (if WITHCODE is given)",
        "    It also possible to get only function that matches a pattern using LIBRARYNAME "
        "argument.",
        "STATS",
        "    Return information about the current function running:",
        "    * Function name",
        "    * Command used to run the function",
        "    * Duration in MS that the function is running",
        "    If no function is running, return nil",
        "    In addition, returns a list of available engines.",
        "KILL",
        "    Kill the current running function.",
        "FLUSH [ASYNC|SYNC]",
        "    Delete all the libraries.",
        "    When called without the optional mode argument, the behavior is determined by the",
        "    lazyfree-lazy-user-flush configuration directive. Valid modes are:",
        "    * ASYNC: Asynchronously flush the libraries.",
        "    * SYNC: Synchronously flush the libraries.",
        "DUMP",
        "    Return a serialized payload representing the current libraries, can be restored "
        "using FUNCTION RESTORE command",
        "RESTORE <PAYLOAD> [FLUSH|APPEND|REPLACE]",
        "    Restore the libraries represented by the given payload, it is possible to give a "
        "restore policy to",
        "    control how to handle existing libraries (default APPEND):",
        "    * FLUSH: delete all existing libraries.",
        "    * APPEND: appends the restored libraries to the existing libraries. On collision, "
        "abort.",
        "    * REPLACE: appends the restored libraries to the existing libraries, On collision, "
        "replace the old",
        "      libraries with the new libraries (notice that even on this option there is a "
        "chance of failure",
        "      in case of functions name collision with another library).",
        "HELP",
        "    Prints this help.",
    };

    reply_array(&ctx->r, (long long)SH_ARRAY_LEN(lines));
    for (size_t i = 0; i < SH_ARRAY_LEN(lines); i++) {
        reply_status(&ctx->r, lines[i]);
    }
}

void function_bind(void)
{
    cmd_must_bind("function|load", cmd_function_load, CMD_ROUTE_ALL, &eval_gather_first_part);
    cmd_must_bind("function|delete", cmd_function_delete, CMD_ROUTE_ALL, &eval_gather_first_part);
    cmd_must_bind("function|flush", cmd_function_flush, CMD_ROUTE_ALL, &eval_gather_first_part);
    cmd_must_bind("function|restore", cmd_function_restore, CMD_ROUTE_ALL, &eval_gather_first_part);
    cmd_must_bind("function|dump", cmd_function_dump, CMD_ROUTE_CONN, NULL);
    cmd_must_bind("function|list", cmd_function_list, CMD_ROUTE_CONN, NULL);
    cmd_must_bind("function|stats", cmd_function_stats, CMD_ROUTE_CONN, NULL);
    cmd_must_bind("function|kill", cmd_function_kill, CMD_ROUTE_CONN, NULL);
    cmd_must_bind("function|help", cmd_function_help, CMD_ROUTE_CONN, NULL);
}
