/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * cmd.c: helpers every command family shares (key lookup with the routing
 * hash, hit/miss counting, binding one handler).
 */
#include "shardis/cmd.h"

#include "shardis/cmdtab.h"
#include "shardis/config.h"
#include "shardis/kdb.h"
#include "shardis/prefetch.h"
#include "shardis/pubsub.h"
#include "shardis/route.h"
#include "shardis/shard.h"

uint64_t cmd_key_hash(const struct cmd_ctx *ctx, int i)
{
    if (i == 1 && ctx->has_key_hash) {
        return ctx->key_hash;
    }
    return kdict_hash(ctx->argv[i].ptr, ctx->argv[i].len);
}

struct kentry *cmd_lookup(struct cmd_ctx *ctx, int i)
{
    ctx->last_lookup = i;
    return kdb_find(ctx->db, ctx->argv[i].ptr, ctx->argv[i].len, cmd_key_hash(ctx, i),
                    ctx->shard->now_ms);
}

struct kentry *cmd_peek(struct cmd_ctx *ctx, int i)
{
    ctx->last_lookup = i;
    return kdb_peek(ctx->db, ctx->argv[i].ptr, ctx->argv[i].len, cmd_key_hash(ctx, i),
                    ctx->shard->now_ms);
}

void cmd_prefetch_keys(struct cmd_ctx *ctx, int from, int step)
{
    uint64_t hash[PREFETCH_KEYS];
    int n = 0;

    for (int i = from; i < ctx->argc && n < PREFETCH_KEYS; i += step) {
        hash[n++] = cmd_key_hash(ctx, i);
    }
    prefetch_hashes(kdb_dict(ctx->db), hash, n);
}

void cmd_count_lookup(struct cmd_ctx *ctx, bool hit)
{
    if (hit) {
        ctx->shard->stats.keyspace_hits++;
    } else {
        const struct sh_slice *k = &ctx->argv[ctx->last_lookup];

        ctx->shard->stats.keyspace_misses++;
        pubsub_notify(ctx->shard, NOTIFY_KEY_MISS, "keymiss", k->ptr, k->len, ctx->dbid);
    }
}

void cmd_keys_get(struct cmd_keys *k, const struct cmd_spec *cmd, int argc,
                  const struct sh_slice *argv)
{
    k->pos = k->pos_stack;
    k->flags = k->flags_stack;
    k->n = cmdtab_get_keys_flags(cmd, argv, argc, 0, k->pos, k->flags, CMD_KEYS_STACK);
    if (k->n > CMD_KEYS_STACK) {
        int n = k->n;

        k->pos = sh_malloc(sizeof(*k->pos) * (size_t)n);
        k->flags = sh_malloc(sizeof(*k->flags) * (size_t)n);
        k->n = cmdtab_get_keys_flags(cmd, argv, argc, 0, k->pos, k->flags, n);
    }
}

void cmd_keys_free(struct cmd_keys *k)
{
    if (k->pos != k->pos_stack) {
        sh_free(k->pos);
        sh_free(k->flags);
    }
}

void cmd_must_bind(const char *fullname, cmd_fn *proc, int route, const struct gather *g)
{
    if (cmdtab_bind(fullname, proc, (enum cmd_route)route) != 0) {
        sh_panic("command '%s' is not in the command table", fullname);
    }
    if (g && cmdtab_bind_gather(fullname, g) != 0) {
        sh_panic("command '%s': cannot set its gather", fullname);
    }
}
