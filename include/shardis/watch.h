/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * watch.h: WATCHed keys, kept on the shard that owns each key.
 *
 * A client's core sends its WATCH keys to their owners (__watch); there each
 * key records its watchers, whether it existed then, and a dirty mark. Any
 * write of the key on its owner (a command run there, a transaction that
 * locks it for writing, FLUSHDB/FLUSHALL) marks its watchers dirty, through
 * route_hooks.touched, which costs one test per write while nothing is
 * watched on that shard (sh->nwatched). EXEC asks the owners (__watchcheck)
 * while it holds read locks on the watched keys, so nothing can change them
 * between the check and the commands: a key is changed when it is marked
 * dirty, or existed at WATCH and is gone now (deleted, or expired as Redis
 * counts expired keys). UNWATCH, EXEC, DISCARD, RESET and disconnecting send
 * __unwatch.
 *
 * Threading: each table is its owner's; the client's core keeps only the
 * list of what it watches (multi.c).
 */
#pragma once

#include "shardis/sh.h"

#include <stdint.h>

struct cmd_spec;
struct shard;

/* The internal commands: __watch and __unwatch take argv = name, client
 * id, keys... (in the request's database); __watchcheck takes name, client
 * id, then (database, key) pairs, and replies :1 when any key changed, else
 * :0. */
extern const struct cmd_spec watch_spec_watch, watch_spec_unwatch, watch_spec_check;

/* route_hooks.touched: marks the watches of key in dbid. */
void watch_touched(struct shard *sh, int dbid, struct sh_slice key);
/* route_hooks.touched_db: database dbid is about to be emptied (with < 0)
 * or swapped with database `with`: marks the watches of its keys that exist
 * in either (Redis's touchAllWatchedKeysInDb). */
void watch_touched_db(struct shard *sh, int dbid, int with);
/* On the owner: did key change for client id since it watched it? */
bool watch_changed(struct shard *sh, uint64_t client_id, int dbid, struct sh_slice key);
/* Frees the shard's table (at shard exit). */
void watch_destroy(struct shard *sh);
