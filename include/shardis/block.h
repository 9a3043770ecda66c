/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * block.h: blocking pops (BLPOP BRPOP BRPOPLPUSH BLMOVE BLMPOP BZPOPMIN
 * BZPOPMAX BZMPOP) over keys of any shards. See block.c for the protocol.
 *
 * Threading: every function runs on the core named by its arguments; the
 * state of a shard is its own.
 */
#pragma once

#include "shardis/sh.h"

struct block;
struct conn;
struct kentry;
struct shard;

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
/* Binds the blocking commands. */
void block_bind(void);
