/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * block.h: blocking pops (BLPOP BRPOP BRPOPLPUSH BLMOVE BLMPOP BZPOPMIN
 * BZPOPMAX BZMPOP) and blocking stream reads (XREAD XREADGROUP BLOCK) over
 * keys of any shards. See block.c and block_stream.c for the protocol.
 *
 * Threading: every function runs on the core named by its arguments; the
 * state of a shard is its own.
 */
#pragma once

#include "shardis/sh.h"

struct block;
struct cmd_ctx;
struct cmd_spec;
struct conn;
struct kentry;
struct shard;
struct tstream_id;

/* A shard's blocking state (waiters on its keys, its blocked clients). */
struct block *block_create(void);
/* block_destroy(NULL) is a no-op. */
void block_destroy(struct block *b);
/* kdb's hook: key e was added to database dbid on this shard; clients
 * waiting for it are served at the end of the iteration. O(1). */
void block_key_added(struct shard *sh, int dbid, const struct kentry *e);
/* Once per loop iteration: tells waiters of keys that got data, and ends the
 * blocked commands whose timeout passed. Cheap when nothing waits. */
void block_run(struct shard *sh);
/* The monotonic us of the next timeout of this shard's blocked clients, or
 * INT64_MAX: the loop sleeps no longer than that. */
int64_t block_next_deadline(const struct shard *sh);
/* c is being freed: forgets its blocked command (tells the owners). */
void block_conn_gone(struct conn *c);
/* Shutdown: every blocked command of this shard ends as if timed out. */
void block_unblock_all(struct shard *sh);
/* CLIENT UNBLOCK on this shard: ends client id's blocked command with a
 * timeout reply, or with an -UNBLOCKED error. Returns whether it was. */
bool block_unblock(struct shard *sh, uint64_t id, bool error);
/* INFO: the clients of this shard in a blocking command not answered yet
 * (each counts once, on its own core, whichever shards own its keys), and
 * how many of them have a timeout (Redis's clients_in_timeout_table).
 * Cost: O(blocked clients of this shard). */
void block_stats(const struct shard *sh, long long *blocked, long long *with_timeout);
/*
 * Blocking stream reads. The stream family (src/cmd) owns the reads; this
 * module keeps who waits and wakes them.
 */
/* The family's internal commands: wait runs on an owner as
 * "__xwait <token> <origin> <serve 1|0> <XREAD or XREADGROUP argv without
 * BLOCK, over that owner's keys>" and replies [i, error] (its i-th key's
 * error), [-1, read reply] (served at once: only with serve 1, when
 * something was there) or [-2, [id, told ...]] (each key registered with
 * block_stream_wait, the IDs resolved: "$" as the stream's last ID, told
 * what it returned);
 * claim runs as "__xclaim <token> <origin> <XREAD or XREADGROUP argv over
 * the told keys with the resolved IDs>", calls block_stream_claim for each
 * key and replies the read (RESP3 for a RESP3 client) or the error that
 * ends the wait. Set once, before the shards start. */
void block_set_stream_specs(const struct cmd_spec *wait, const struct cmd_spec *claim);
/* From the XREAD/XREADGROUP handler on the client's core (ctx->conn set,
 * arguments checked): the client blocks on the nkeys streams named from
 * argv[streams] for ms (0: forever). Copies the arguments; the reply comes
 * later. */
void block_xread_start(struct cmd_ctx *ctx, int streams, int nkeys, long long ms);
/* Owner side (__xwait): registers waiter (token, origin) on key, for the
 * entries past gt (XREAD), or of group (XREADGROUP, group not NULL; gt
 * unused). Borrows its arguments. Returns true when the stream has
 * something for it now: it counts as told (the client claims it). */
bool block_stream_wait(struct shard *sh, int dbid, struct sh_slice key, uint64_t token, int origin,
                       const struct tstream_id *gt, const struct sh_slice *group);
/* Owner side (__xclaim): the tell of key to (token, origin) is answered;
 * served: the waiter leaves key's queue. Returns whether it waited there. */
bool block_stream_claim(struct shard *sh, int dbid, struct sh_slice key, uint64_t token, int origin,
                        bool served);
/* The stream at key got entries or lost a group (XADD, XGROUP DESTROY): its
 * waiters are looked at by the end of the iteration. O(1) when none. */
void block_key_touched(struct shard *sh, int dbid, struct sh_slice key);
/* Binds the blocking commands. */
void block_bind(void);
