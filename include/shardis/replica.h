/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * replica.h: the replica's side of replication (src/repl/replica.c):
 * REPLICAOF / SLAVEOF, the link to the primary (handshake, full sync into
 * every shard, the command stream applied through a CONN_MASTER connection
 * on shard 0, REPLCONF ACK), -READONLY, and the replica's INFO and ROLE.
 */
#pragma once

#include "shardis/sh.h"

struct cmd_ctx;
struct rbuf;
struct server;
struct shard;

/* repl_init calls these: state, and the start-up's `replicaof`. */
void replica_init(struct server *srv);
void replica_fini(struct server *srv);
/* Binds REPLICAOF and SLAVEOF. */
void replica_bind(void);
/* Whether this server is a replica now (any core). */
bool replica_active(const struct server *srv);
/* INFO replication's lines of a replica (from role:slave to before
 * connected_slaves); only when replica_active. */
void replica_info(struct shard *sh, struct rbuf *out);
/* ROLE's reply of a replica; only when replica_active. */
void replica_role(struct cmd_ctx *ctx);
/* Shard cron (every shard): the link's timers run on shard 0. */
void replica_cron(struct shard *sh);
