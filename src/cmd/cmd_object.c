/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * cmd_object.c: OBJECT (ENCODING FREQ IDLETIME REFCOUNT HELP) and MEMORY
 * (USAGE HELP): what a key's value looks like inside, on the key's owner.
 *
 * OBJECT looks keys up without stamping their access time (kdb_peek), as
 * Redis's LOOKUP_NOTOUCH, so that IDLETIME can be read without resetting it.
 * Under an LFU maxmemory policy FREQ answers the key's counter; otherwise Redis's
 * "no LFU policy" error. REFCOUNT mimics Redis's shared integers: 0..9999
 * are shared objects there (refcount INT_MAX), everything else is 1.
 * MEMORY USAGE counts the key's entry (allocator size) and what its value
 * holds (kval_memory); SAMPLES is accepted and ignored (the count is exact).
 */
#include "shardis/cmd.h"
#include "shardis/cmd_bind.h"
#include "shardis/cmdtab.h"
#include "shardis/kdb.h"
#include "shardis/kdict.h"
#include "shardis/kval.h"
#include "shardis/reply.h"
#include "shardis/shard.h"
#include "shardis/util.h"

#include <limits.h>
#include <string.h>

static struct kentry *peek(struct cmd_ctx *ctx, int i)
{
    return kdb_peek(ctx->db, ctx->argv[i].ptr, ctx->argv[i].len, cmd_key_hash(ctx, i),
                    ctx->shard->now_ms);
}

static void cmd_object_encoding(struct cmd_ctx *ctx)
{
    struct kentry *e = peek(ctx, 2);

    if (!e) {
        reply_null(&ctx->r);
        return;
    }
    reply_bulk_cstr(&ctx->r, kval_encoding_name(&e->val));
}

static void cmd_object_idletime(struct cmd_ctx *ctx)
{
    struct kentry *e = peek(ctx, 2);
    int64_t now = ctx->shard->now_ms / 1000;

    if (!e) {
        reply_null(&ctx->r);
        return;
    }
    if (kdb_is_lfu(ctx->db)) {
        reply_error(&ctx->r, "ERR An LFU maxmemory policy is selected, idle time not tracked. "
                             "Please note that when switching between policies at runtime LRU "
                             "and LFU data will take some time to adjust.");
        return;
    }
    reply_int(&ctx->r, now > e->val.lru ? now - e->val.lru : 0);
}

static void cmd_object_refcount(struct cmd_ctx *ctx)
{
    struct kentry *e = peek(ctx, 2);

    if (!e) {
        reply_null(&ctx->r);
        return;
    }
    if (e->val.type == KVAL_STRING && e->val.enc == KVAL_ENC_INT && e->val.u.i >= 0 &&
        e->val.u.i < 10000) {
        reply_int(&ctx->r, INT_MAX);
        return;
    }
    reply_int(&ctx->r, 1);
}

static void cmd_object_freq(struct cmd_ctx *ctx)
{
    struct kentry *e = peek(ctx, 2);

    if (!e) {
        reply_null(&ctx->r);
        return;
    }
    if (!kdb_is_lfu(ctx->db)) {
        reply_error(&ctx->r, "ERR An LFU maxmemory policy is not selected, access frequency not "
                             "tracked. Please note that when switching between policies at "
                             "runtime LRU and LFU data will take some time to adjust.");
        return;
    }
    reply_int(&ctx->r, kdb_lfu_counter(ctx->db, e->val.lru, ctx->shard->now_ms));
}

static void reply_lines(struct reply *r, const char *const *lines, size_t n)
{
    reply_array(r, (long long)n);
    for (size_t i = 0; i < n; i++) {
        reply_status(r, lines[i]);
    }
}

static void cmd_object_help(struct cmd_ctx *ctx)
{
    static const char *const lines[] = {
        "OBJECT <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
        "ENCODING <key>",
        "    Return the kind of internal representation used in order to store the value",
        "    associated with a <key>.",
        "FREQ <key>",
        "    Return the access frequency index of the <key>. The returned integer is",
        "    proportional to the logarithm of the recent access frequency of the key.",
        "IDLETIME <key>",
        "    Return the idle time of the <key>, that is the approximated number of",
        "    seconds elapsed since the last access to the key.",
        "REFCOUNT <key>",
        "    Return the number of references of the value associated with the specified",
        "    <key>.",
        "HELP",
        "    Prints this help.",
    };

    reply_lines(&ctx->r, lines, SH_ARRAY_LEN(lines));
}

/* MEMORY USAGE key [SAMPLES count] */
static void cmd_memory_usage(struct cmd_ctx *ctx)
{
    struct kentry *e;
    long long samples;

    if (ctx->argc != 3 && ctx->argc != 5) {
        reply_err_syntax(&ctx->r);
        return;
    }
    if (ctx->argc == 5) {
        if (!sh_slice_eq_nocase(ctx->argv[3], "samples")) {
            reply_err_syntax(&ctx->r);
            return;
        }
        if (!util_str2ll(ctx->argv[4].ptr, ctx->argv[4].len, &samples)) {
            reply_err_notint(&ctx->r);
            return;
        }
    }
    e = peek(ctx, 2);
    if (!e) {
        reply_null(&ctx->r);
        return;
    }
    reply_int(&ctx->r, (long long)(sh_alloc_size(e) + kval_memory(&e->val)));
}

static void stats_piece(void *arg, const char *text)
{
    rbuf_append(arg, text, strlen(text));
}

/* MEMORY MALLOC-STATS: jemalloc's report (process-wide), or Redis's line
 * for an allocator without one. */
static void cmd_memory_malloc_stats(struct cmd_ctx *ctx)
{
    struct rbuf b;

    rbuf_init(&b);
    if (sh_alloc_print_stats(stats_piece, &b) != 0 || b.len == 0) {
        rbuf_append(&b, "Stats not supported for the current allocator", 45);
    }
    reply_verbatim(&ctx->r, b.data, b.len, "txt");
    rbuf_fini(&b);
}

/* MEMORY PURGE: jemalloc gives its dirty pages back (process-wide). */
static void cmd_memory_purge(struct cmd_ctx *ctx)
{
    if (sh_alloc_purge() != 0) {
        /* nothing to give back with this allocator: OK all the same, as Redis */
    }
    reply_ok(&ctx->r);
}

static void cmd_memory_help(struct cmd_ctx *ctx)
{
    static const char *const lines[] = {
        "MEMORY <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
        "DOCTOR",
        "    Return memory problems reports.",
        "MALLOC-STATS",
        "    Return internal statistics report from the memory allocator.",
        "PURGE",
        "    Attempt to purge dirty pages for reclamation by the allocator.",
        "STATS",
        "    Return information about the memory usage of the server.",
        "USAGE <key> [SAMPLES <count>]",
        "    Return memory in bytes used by <key> and its value. Nested values are",
        "    sampled up to <count> times (default: 5, 0 means sample all).",
        "HELP",
        "    Prints this help.",
    };

    reply_lines(&ctx->r, lines, SH_ARRAY_LEN(lines));
}

void cmd_object_bind(void)
{
    cmd_must_bind("object|encoding", cmd_object_encoding, CMD_ROUTE_KEY, NULL);
    cmd_must_bind("object|idletime", cmd_object_idletime, CMD_ROUTE_KEY, NULL);
    cmd_must_bind("object|refcount", cmd_object_refcount, CMD_ROUTE_KEY, NULL);
    cmd_must_bind("object|freq", cmd_object_freq, CMD_ROUTE_KEY, NULL);
    cmd_must_bind("object|help", cmd_object_help, CMD_ROUTE_CONN, NULL);
    cmd_must_bind("memory|usage", cmd_memory_usage, CMD_ROUTE_KEY, NULL);
    cmd_must_bind("memory|help", cmd_memory_help, CMD_ROUTE_CONN, NULL);
    cmd_must_bind("memory|malloc-stats", cmd_memory_malloc_stats, CMD_ROUTE_CONN, NULL);
    cmd_must_bind("memory|purge", cmd_memory_purge, CMD_ROUTE_CONN, NULL);
}
