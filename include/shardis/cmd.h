/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * cmd.h: what a command handler sees. A handler runs on one core with the
 * arguments of one command and writes exactly one reply through ctx->r.
 * Handlers of the keyspace families run on the key's owner and reach the
 * keyspace through ctx->db; handlers with CMD_ROUTE_CONN run on the client's
 * core and may touch ctx->conn (NULL on any other core).
 */
#pragma once

#include "shardis/reply.h"
#include "shardis/sh.h"

struct cmd_ctx;
struct cmd_spec;
struct conn;
struct kdb;
struct shard;
struct gather;
struct kentry;

typedef void cmd_fn(struct cmd_ctx *ctx);

struct cmd_ctx {
    const struct cmd_spec *cmd;
    int argc;
    const struct sh_slice *argv; /* borrowed, valid during the call */
    struct reply r;
    struct shard *shard; /* the core running the handler */
    struct kdb *db;      /* the selected database on this core */
    int dbid;
    struct conn *conn;  /* client connection: CONN route only, else NULL */
    uint64_t client_id; /* the client that sent the command */
    uint64_t key_hash;  /* kdict hash of argv[1] when has_key_hash */
    int last_lookup;    /* argv index of the last cmd_lookup (for keymiss) */
    bool has_key_hash;
    bool nested; /* run by EXEC or a script (route_exec_into): must not block */
    /* a write handler changed nothing (a pop or a DEL of missing keys): no
     * change for the save points, no touch of WATCHed keys, nothing for the
     * AOF or the replicas (Redis's handlers count and propagate only real
     * changes; unset, every write counts) */
    bool unchanged;
    /* the handler marked the WATCHers of exactly the keys it changed
     * (route_touch): the command path does not mark all of its keys (DEL of
     * several keys, some missing) */
    bool touched_own;
};

/* The key table hash of argv[i] (computed by routing for argv[1]). */
uint64_t cmd_key_hash(const struct cmd_ctx *ctx, int i);
/* The live entry of key argv[i] in ctx->db, or NULL (lazy expiry applied). */
struct kentry *cmd_lookup(struct cmd_ctx *ctx, int i);
/* cmd_lookup without the access stamp (Redis's LOOKUP_NOTOUCH: TTL, TYPE,
 * EXISTS leave OBJECT IDLETIME alone). */
struct kentry *cmd_peek(struct cmd_ctx *ctx, int i);
/* Prefetches the table slots of the next keys argv[from], argv[from + step],
 * ... (PREFETCH_KEYS of them at most, prefetch.h), for a handler about to
 * look them up one by one: call it again every PREFETCH_KEYS keys. A hint
 * only. Cost: a hash per key. */
void cmd_prefetch_keys(struct cmd_ctx *ctx, int from, int step);
/* Counts a keyspace hit or miss (of the last cmd_lookup) for INFO; a miss
 * is also the "keymiss" event (class m). */
void cmd_count_lookup(struct cmd_ctx *ctx, bool hit);

/* The keys of cmd over argv with their key-spec flags (CMD_KEY_*): up to
 * CMD_KEYS_STACK in the struct, more on the heap (cmd_keys_free). pos and
 * flags point into the struct: do not copy it. */
#define CMD_KEYS_STACK 16
struct cmd_keys {
    int n;
    int *pos;        /* argv index of each key */
    uint32_t *flags; /* its CMD_KEY_* flags */
    int pos_stack[CMD_KEYS_STACK];
    uint32_t flags_stack[CMD_KEYS_STACK];
};
void cmd_keys_get(struct cmd_keys *k, const struct cmd_spec *cmd, int argc,
                  const struct sh_slice *argv);
void cmd_keys_free(struct cmd_keys *k);

/* Panics if binding failed: the table and the code disagree. */
void cmd_must_bind(const char *fullname, cmd_fn *proc, int route, const struct gather *g);
