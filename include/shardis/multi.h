/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * multi.h: MULTI, EXEC, DISCARD, WATCH and UNWATCH, as Redis 7.0 has them,
 * over keys of any shards.
 *
 * MULTI puts the connection in queueing mode (conn->multi): route_dispatch
 * hands every command but EXEC, DISCARD, MULTI, WATCH, QUIT and RESET to
 * route_hooks.queue, which replies +QUEUED, or an error that also dooms the
 * transaction (EXECABORT), as do the errors routing writes before a command
 * could be queued (unknown command, arity, ACL).
 *
 * EXEC runs the queue as one transaction (sched.h):
 *   - every key on the client's own core and nothing waiting there: the
 *     commands run back to back in the handler, as in Redis;
 *   - else a coordinator locks the queue's keys (read locks for keys only
 *     read, and for WATCHed keys; every shard whole when a command reaches
 *     all keys or changes database), checks the WATCHed keys on their owners
 *     (watch.h), then runs the commands in order, one hop each: one owner's
 *     command as a part there, a multi-shard one as a nested coordinator
 *     under the same locks, blocking commands without blocking. Replies are
 *     gathered in the client's protocol into EXEC's array.
 * A command's error is its element of the array; the others still run.
 */
#pragma once

#include "shardis/sh.h"

struct conn;
struct shard;

/* Binds the commands and sets the route hooks (queue, refused, gone,
 * touched). Before the shards start. */
void multi_bind(void);
/* RESET: leaves MULTI and unwatches everything. */
void multi_reset(struct conn *c);
/* For CLIENT LIST/INFO: commands queued, or -1 when not in MULTI. */
int multi_queued(const struct conn *c);
