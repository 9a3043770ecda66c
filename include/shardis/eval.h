/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * eval.h: EVAL, EVALSHA, EVAL_RO, EVALSHA_RO and SCRIPT, the host of the
 * scripting engine (script.h) over keys of any shards.
 *
 * Every shard has its own Lua vm and script cache; SCRIPT LOAD and SCRIPT
 * FLUSH run on every shard before they reply, and a script that EVAL
 * compiles is sent to the other shards too, so any shard can run any
 * script. Where a script runs:
 *   - its declared KEYS all on one shard (or none): on that shard, whole,
 *     with its redis.call commands run there at once, as Redis runs it. The
 *     client's shard runs it in place when it owns the keys and has no lock
 *     or waiting command; otherwise it sends it to the owner, where it waits
 *     for its keys' locks like any command.
 *   - its KEYS on several shards, or a script known to touch keys it did
 *     not declare: as a transaction that locks every shard whole (a "global"
 *     run, counted in INFO as global_script_runs), on the client's shard,
 *     each command on its owner under that lock.
 * A script running on one shard that reaches for a key of another shard
 * (one it did not declare) is stopped and run again as a global run if it
 * has not written anything yet; the script's sha is remembered, and later
 * runs go global at once. If it had written already, the call fails with an
 * error (Redis Cluster refuses such scripts outright) and the next run is
 * global.
 */
#pragma once

#include "shardis/sh.h"

struct shard;

/* Binds the commands. Before the shards start. */
void eval_bind(void);
/* Frees the shard's vm (at shard exit). */
void eval_shard_exit(struct shard *sh);
/* INFO: scripts cached on this shard, global runs made here, Lua memory. */
void eval_stats(struct shard *sh, long long *cached, long long *global_runs, long long *lua_mem);
