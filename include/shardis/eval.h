/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * eval.h: EVAL, EVALSHA, EVAL_RO, EVALSHA_RO, FCALL, FCALL_RO and SCRIPT,
 * the host of the scripting engine (script.h) over keys of any shards.
 * FCALL runs a function (function.h) exactly where and how EVAL would run a
 * script with the same keys.
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
 *
 * Busy scripts: a run past busy-reply-threshold makes its shard busy
 * (shard.h, shard_busy_*) until it ends, serving that shard's connections
 * between slices of Lua; every shard answers -BUSY meanwhile.
 */
#pragma once

#include "shardis/sh.h"

struct shard;

/* Binds the commands. Before the shards start. */
void eval_bind(void);
/* Frees the shard's vm (at shard exit). */
void eval_shard_exit(struct shard *sh);
/* The shard's functions vm (function.c): every library, on every shard. */
struct script_vm *eval_functions_vm(struct shard *sh);
/* A gather for commands run on every shard (SCRIPT LOAD, FUNCTION LOAD ...):
 * the first error, else the client's shard's own reply. */
struct gather;
extern const struct gather eval_gather_first_part;
/* FUNCTION STATS' running_script: null, or the busy script's name, command
 * and duration (see eval_busy_*). */
struct reply;
void eval_reply_running(struct shard *sh, struct reply *r);
/* SCRIPT KILL (fn false) and FUNCTION KILL: Redis's replies (OK, NOTBUSY,
 * UNKILLABLE, or BUSY when the busy script is of the other kind). */
void eval_kill(struct shard *sh, bool fn, struct reply *r);
/* INFO: scripts cached on this shard, global runs made here, Lua memory. */
void eval_stats(struct shard *sh, long long *cached, long long *global_runs, long long *lua_mem);
