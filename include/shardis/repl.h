/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * repl.h: Redis-compatible replication, the primary's side and the state
 * both sides share (the replica's side is replica.h).
 *
 * One stream for every replica. Each shard's propagation records (the AOF's
 * records, persist/aof.c: writes in Redis's form, expiries as DEL, a
 * transaction's part on each shard tagged "#TX:<seq>:<n>") are handed, a
 * loop iteration's worth at a time, to the hub: shard 0. The hub keeps one
 * queue per shard and merges them into one command stream: a shard's
 * commands in its order, different shards' interleaved freely, and the n
 * parts of a multi-shard transaction as one MULTI/EXEC block once all n are
 * at the heads of their queues (every shard sees transactions in the same
 * order, so this never waits forever). SELECTs are rewritten for the
 * stream's own database. The stream's bytes count master_repl_offset and go
 * into the backlog (repl-backlog-size) and to every replica.
 *
 * A full sync is a BGSAVE whose begin (one point of the transaction order on
 * every shard) also puts "#MARK:<n>" into each shard's records: once the hub
 * has merged up to all n marks, the stream's offset there is the snapshot's
 * (+FULLRESYNC <replid> <offset>), and what follows is the replica's. The
 * file goes to the replica as "$<len>\r\n<bytes>", then the stream.
 *
 * A replica's connection stays on the core that accepted it (CONN_REPLICA):
 * the hub posts the stream to that core, which writes it out; REPLCONF ACK
 * read there stores the acknowledged offset in the server-wide table.
 *
 * Threading: the hub's state is shard 0's; struct repl's atomics and the
 * table under its lock are read by every core (INFO, ROLE, WAIT).
 */
#pragma once

#include "shardis/persist.h"
#include "shardis/sh.h"

struct cmd_ctx;
struct conn;
struct rbuf;
struct server;
struct shard;

/* main, after persist_init and before the shards start: the state and the
 * loop hooks; after every shard ended: frees it. */
void repl_init(struct server *srv);
void repl_fini(struct server *srv);
/* Binds REPLCONF, PSYNC, SYNC, ROLE, WAIT, REPLICAOF, SLAVEOF. */
void repl_bind(void);
/* Set by the command layer: starts a BGSAVE (as the server's own client)
 * whose begin puts `mark` into every shard's records (persist.h), diskless
 * into sink when it is not NULL; 0, or -1 with the reason in err. */
extern int (*repl_bgsave)(struct shard *sh, long mark, persist_sink_fn *sink, char *err,
                          size_t errlen);

/* The replication ids and offsets, from any core (Redis's fields: replid,
 * replid2, master_repl_offset, second_repl_offset). */
struct repl_ids {
    char replid[41];
    char replid2[41];
    long long offset;
    long long second_offset; /* -1: none */
};
void repl_get_ids(const struct server *srv, struct repl_ids *out);

/* After CONFIG SET on this shard: min-replicas-* apply to the next write. */
void repl_configure(struct shard *sh);

/* INFO stats' sync_* counters. */
struct repl_stats {
    long long sync_full, sync_partial_ok, sync_partial_err;
};
void repl_get_stats(const struct server *srv, struct repl_stats *out);

/* INFO's Replication section (the lines after the header). */
void repl_info(struct shard *sh, struct rbuf *out);

/* ---- the hub, for the replica's side (all on shard 0's thread) ---- */

/* This server follows a primary from now (REPLICAOF host port): the hub
 * stops merging the shards' records; its stream is the primary's, as fed. */
void repl_hub_follow(struct shard *sh0);
/* A full sync from the primary gave this id and offset: the backlog starts
 * over there and every replica of this server must sync again. */
void repl_hub_reset(struct shard *sh0, const char *replid, long long offset);
/* The primary's stream as applied here, in order: into the backlog and to
 * this server's own replicas (chained replication). */
void repl_hub_feed(struct shard *sh0, const char *p, size_t n);
/* REPLICAOF NO ONE: replid2 = the old id, second_repl_offset = offset + 1,
 * a new id; from here the hub merges the shards' records again. */
void repl_hub_promote(struct shard *sh0);
