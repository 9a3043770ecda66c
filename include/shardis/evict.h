/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * evict.h: maxmemory and its eviction policies, per shard.
 *
 * The limit is the server's: each shard counts the bytes its thread
 * allocated since it started serving (sh_alloc_thread_bytes minus
 * sh->mem_base) and publishes the figure (srv->mem_used, every cron tick).
 * Before a command runs on the shard that owns its keys, a shard past its
 * even share (maxmemory / shards) while the server's total is past
 * maxmemory evicts keys chosen by maxmemory-policy (Redis's sampling:
 * maxmemory-samples keys from the databases, an eviction pool, the best by
 * idle time, LFU counter, TTL or chance) until one of the two is under, or
 * until maxmemory-eviction-tenacity's time is spent; a command flagged
 * denyoom is refused with -OOM while both stay over. A shard may so hold
 * more than its share while the others leave room. An evicted key fires the "evicted" event,
 * invalidates client caches, is serialized first by a running snapshot and logged as DEL by the
 * AOF. Only the shard's own thread runs this.
 */
#pragma once

#include "shardis/cmdtab.h"
#include "shardis/reply.h"

struct shard;

/* Whether cmd may run now (an -OOM error is in r when not). Call only when
 * sh->cfg.maxmemory is set. */
bool evict_before_command(struct shard *sh, const struct cmd_spec *cmd, struct reply *r);
/* The policy in sh->cfg to every database of the shard (LFU stamps or not). */
void evict_configure(struct shard *sh);
/* Whether this shard is over its share even after evicting what it may
 * (a script that may write does not start then). */
bool evict_oom(struct shard *sh);
/* The shard is going: its eviction pool. */
void evict_free(struct shard *sh);
/* Stores this shard's count where the others read it (its cron does). */
void evict_publish(struct shard *sh);
/* Bytes this shard counts against its share. */
long long evict_used(const struct shard *sh);
