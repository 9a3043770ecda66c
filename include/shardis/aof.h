/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * aof.h: append-only files (appendonly yes), one log per shard.
 *
 * In dir/appenddirname: a manifest in Redis 7's multi-part form
 * (<appendfilename>.manifest) naming one base file (an RDB snapshot of the
 * whole server, written as BGSAVE writes dump.rdb) and one incr file per
 * shard ("shard <n>" on its line: Redis ignores fields it does not know).
 * Each shard appends the writes to its own keys to its own incr file,
 * through the loop's iteration (aof.c: what is logged, and how atomic
 * units are kept whole); BGREWRITEAOF takes a snapshot into the next base
 * while every shard switches to its next incr file at the snapshot's point.
 *
 * Loading (start-up): the base through the RDB loader, then each shard
 * replays its own incr file (aofload.c); an incr file Redis wrote (no
 * shard field) is replayed by every shard, each running the commands whose
 * keys it owns.
 *
 * Threading: the server-wide fields are atomics; the rest is the shard's.
 */
#pragma once

#include "shardis/sh.h"

struct rbuf;
struct shard;

/* BGREWRITEAOF: 0 started, 1 scheduled (a snapshot runs), -1 with Redis's
 * error in err. */
SH_MUST_CHECK int aof_rewrite_start(struct shard *sh, char *err, size_t errlen);

/* CONFIG SET appendonly changed on this shard (each shard's part). */
void aof_set_enabled(struct shard *sh, bool on);

/* Whether this shard writes its log now. */
bool aof_logging(struct shard *sh);

/* Replication's tap (repl.h): from aof_tap_on on, each loop iteration's
 * records (what the log gets, file or not) are also handed to aof_tap, set
 * once by replication; aof_put_raw adds a line of its own (a "#MARK")
 * to them. This shard only. */
extern void (*aof_tap)(struct shard *sh, const char *p, size_t n);
void aof_tap_on(struct shard *sh);
/* A command in RESP (an array of bulks) appended to b. */
void aof_put_cmd(struct rbuf *b, int argc, const struct sh_slice *argv);
void aof_put_raw(struct shard *sh, const char *p, size_t n);

/* INFO persistence's aof_* fields. */
struct aof_status {
    bool enabled, rewriting, scheduled, last_ok, write_ok;
    long long last_time_sec, current_time_sec, rewrites;
    long long current_size, base_size, buffer;
};
void aof_status(struct shard *sh, struct aof_status *st);
