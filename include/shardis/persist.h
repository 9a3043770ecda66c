/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * persist.h: snapshots of the whole server into one RDB file, taken without
 * fork while every shard keeps serving, and loading that file at start-up.
 *
 * A snapshot (BGSAVE, SAVE, save points, SHUTDOWN, DEBUG RELOAD):
 *   1. the origin (the core of the client that asked) claims the server's one
 *      snapshot, creates temp-<pid>-<n>.rdb in dir and writes the header (the
 *      magic, the AUX fields Redis writes, the function libraries);
 *   2. every shard begins at one point of the transaction order (the part
 *      __snapbegin of an all-shard transaction): each database's mark flips
 *      (kdb_snap_begin), so every key that exists now is "unreached";
 *   3. each shard walks its tables a slice per loop iteration, serializing
 *      every unreached key into chunks (SELECTDB, then records); a command
 *      that looks a key up first serializes it if the walk has not (kdb.h),
 *      so the file holds each key as it was at the begin and memory grows by
 *      what is written meanwhile, never by a copy of the dataset;
 *   4. a chunk takes its place in the file with one atomic add on the next
 *      free offset and is written there by the shard's own ring; shards never
 *      wait for each other;
 *   5. the last shard done rings the origin, which writes EOF and the CRC-64
 *      (combined from each chunk's, crc64_combine), fsyncs, renames the file
 *      over dbfilename and rings every shard's waiters.
 *
 * Loading: each shard reads the whole file at start (before it listens) and
 * keeps the keys it owns, so loading is parallel; shard 0 checks the CRC.
 * A corrupt or truncated file stops the start-up, naming the offset.
 *
 * Threading: the server-wide state (struct persist) is atomics and fields
 * written before the messages that publish them; the rest belongs to each
 * shard's thread.
 */
#pragma once

#include "shardis/sh.h"

struct server;
struct shard;

/* main, before the shards start: the state and the loop hooks
 * (shard_hooks: load, iter, cron, stop). */
void persist_init(struct server *srv);
/* main, after every shard ended: removes a temp file left by a snapshot that
 * did not finish, frees the state. */
void persist_fini(struct server *srv);

/* Claims the snapshot for origin sh and writes the file's header. 0, or -1
 * with Redis's error text (without "-") in err: "ERR Background save already
 * in progress", or the file error. */
SH_MUST_CHECK int persist_snap_prepare(struct shard *sh, char *err, size_t errlen);
/* After a prepare, before the begin parts go: the begin on every shard also
 * calls persist_mark_hook (set once by replication) with mark. */
void persist_snap_set_mark(const struct server *srv, long mark);
extern void (*persist_mark_hook)(struct shard *sh, long mark);
/* After a prepare, before the begin parts go: the snapshot is diskless
 * (replication): each serialized chunk is handed to fn on the shard that
 * made it (any order; each chunk is whole records after a SELECTDB), none
 * is written, and the end neither renames nor counts as a save. The file's
 * header (persist_snap_header) goes first, then the chunks, then EOF and
 * the CRC-64 of it all, which the receiver computes: persist_snap_bytes
 * says, once ended, how many chunk bytes there were. */
typedef void persist_sink_fn(struct shard *sh, const char *p, size_t n);
void persist_snap_set_sink(const struct server *srv, persist_sink_fn *fn);
struct sh_slice persist_snap_header(const struct server *srv);
/* Set once by replication: true while the sink's receivers have too much
 * unsent; the walk pauses (serializing keys commands touch goes on). */
extern bool (*persist_sink_busy)(struct shard *sh);
long long persist_snap_bytes(const struct server *srv);
/* The part __snapbegin: the snapshot starts on this shard now. */
void persist_snap_begin(struct shard *sh);
/* Whether a snapshot is running (anywhere). */
bool persist_snap_running(const struct server *srv);
/* Calls fn(arg, ok) on sh's thread when the running snapshot ends (ok: its
 * file is in place). False (fn not kept) when none runs. */
typedef void persist_done_fn(void *arg, bool ok);
bool persist_snap_wait(struct shard *sh, persist_done_fn *fn, void *arg);
/* Stops the running snapshot (FLUSHALL, as Redis kills its child): it ends
 * as failed, its temp file removed. */
void persist_snap_abort(struct shard *sh);
/* Before FLUSHDB of dbid here: a running snapshot first serializes what it
 * has not reached of that database. */
void persist_before_flush(struct shard *sh, int dbid);

/* Whether save points are configured (SHUTDOWN saves then). */
bool persist_has_save_points(const struct shard *sh);

/* INFO persistence's RDB fields, and LASTSAVE's time. */
struct persist_status {
    long long changes_since_save;
    long long last_save_time; /* unix seconds */
    long long saves;
    long long last_bgsave_time_sec;      /* -1: none yet */
    long long current_bgsave_time_sec;   /* -1: none running */
    long long keys_loaded, keys_expired; /* by the last load */
    bool bgsave_in_progress;
    bool last_bgsave_ok;
};
void persist_status(struct shard *sh, struct persist_status *st);

/* Before the __rdbload parts are sent: INFO's rdb_last_load_* start over. */
void persist_load_stats_reset(struct shard *sh);
/* The part __rdbload (DEBUG RELOAD): empties this shard's databases and
 * loads its keys from dbfilename. 0, or -1 with the reason in err. */
SH_MUST_CHECK int persist_load_here(struct shard *sh, char *err, size_t errlen);
