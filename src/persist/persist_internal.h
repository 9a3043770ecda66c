/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * persist_internal.h: what persist.c (snapshots) and rdbload.c (loading)
 * share. Not a public contract.
 */
#pragma once

#include "shardis/mbox.h"
#include "shardis/persist.h"
#include "shardis/rdb.h"
#include "shardis/shard.h"

/* One chunk written: its place in the file and its CRC-64. */
struct snap_chunk {
    uint64_t off, len, crc;
};

/* A shard's part of a snapshot, handed to the origin when it is done. */
struct snap_result {
    struct snap_chunk *chunks;
    size_t nchunks;
    uint64_t keys;
    long dirty; /* the shard's change count at the begin */
    int err;
};

struct snap_waiter {
    struct snap_waiter *next;
    persist_done_fn *fn;
    void *arg;
};

/* The AOF's server-wide part (in struct persist). base: the current
 * generation (its base file's number; 0 = none yet, the incr files of
 * generation g are aof_incr_seq(g, nshards, shard)). */
struct aof_global {
    uint64_t base; /* written by the rewrite's origin, read at start-up */
    /* what the manifest names besides our incr files: the base, and incr
     * files Redis wrote (loaded first, until the next rewrite) */
    char base_file[256];
    uint64_t base_seq;
    struct aof_extra {
        char name[256];
        uint64_t seq;
        int shard; /* -1: Redis's */
    } * extra;
    int nextra;
    struct mbox_counter rewriting, scheduled, last_ok, last_time_sec, rewrites, base_size;
    struct mbox_counter *incr_size; /* [shard] */
    int64_t rewrite_start_ms;
    /* loading: every shard's whole "#TX" parts, met at the barrier */
    pthread_barrier_t barrier;
    struct aof_tx_seen **seen; /* [shard] */
    size_t *nseen;             /* [shard] */
};

/* Server-wide (srv->persist). The atomics are read by any core; the plain
 * fields are written by the origin before the begin parts are sent (the
 * mailbox publishes them) and read by the shards after. */
struct persist {
    struct mbox_counter state;    /* 1 while a snapshot runs (claimed) */
    struct mbox_counter next_off; /* the file's next free byte */
    struct mbox_counter done;     /* shards finished */
    struct mbox_counter failed;   /* an errno once one failed, 0 = none */
    struct mbox_counter lastsave; /* unix s of the last good save */
    struct mbox_counter last_ok;  /* the last save worked */
    struct mbox_counter last_time_sec;
    struct mbox_counter saves;
    struct mbox_counter keys_loaded, keys_expired;
    struct mbox_counter *dirty_saved; /* [shard]: its changes covered by the last save */
    struct snap_result *res;          /* [shard] */
    int origin;
    int fd;
    unsigned seq;
    bool checksum;
    uint64_t hdr_len, hdr_crc;
    int64_t start_ms;
    char tmpname[64];
    char target[4096]; /* the snapshot's final name (dbfilename, or the AOF's next base) */
    bool for_aof;      /* a BGREWRITEAOF: its ending is the AOF's */
    long mark;         /* persist_snap_set_mark's, 0 = none */
    /* persist_snap_set_sink's (a diskless sync): chunks go to it, not the
     * file; the header is kept for it */
    persist_sink_fn *sink;
    char *hdr_copy;
    struct aof_global aof;
};

/* Per shard (sh->persist). */
struct pshard {
    bool active;     /* a snapshot runs here */
    bool walk_done;  /* every table walked (or the snapshot abandoned) */
    int dbi;         /* the database being walked */
    uint64_t cursor; /* its kdict_scan cursor */
    struct rdb_out out;
    int out_db; /* the database of the chunk in out, -1 when none */
    size_t inflight_bytes;
    int inflight;
    struct snap_chunk *chunks;
    size_t nchunks, capchunks;
    uint64_t keys;
    int err;
    int64_t now_ms; /* the begin's clock: keys expired then are left out */
    long dirty_start;
    struct shard_io finish_io; /* the origin's: every shard is done */
    struct shard_io ended_io;  /* a snapshot ended: run the waiters */
    struct snap_waiter *waiters;
};

struct persist *persist_of(const struct server *srv);
struct pshard *pshard_of(struct shard *sh);
/* A save ended (ok or not): LASTSAVE, INFO's fields. */
void persist_record_end(struct shard *sh, bool ok);
/* rdbload.c: the start-up load of this shard's keys (0, or -1 after
 * logging why). */
int persist_load_start(struct shard *sh);
/* The shard is going away. */
void persist_shard_exit(struct shard *sh);

/* Claims the snapshot as persist_snap_prepare does, into target (for_aof: a
 * rewrite's base). */
SH_MUST_CHECK int persist_snap_prepare_to(struct shard *sh, const char *target, bool for_aof,
                                          char *err, size_t errlen);
/* An RDB file with the header and nothing else (an AOF's first base). 0 or
 * -errno. */
SH_MUST_CHECK int persist_write_empty(struct shard *sh, const char *path, bool aof_base);
/* The RDB file at path into this shard (0 also when there is none). */
SH_MUST_CHECK int persist_load_file(struct shard *sh, const char *path, char *err, size_t errlen);

/* ---- the AOF (aof.c, aofload.c) ---- */

struct aof_txn {
    struct aof_txn *next;
    uint64_t seq;
    struct rbuf buf;
    int ncmds;
    int db; /* the last SELECT in buf, -1 none */
};

struct aof_tx_seen {
    uint64_t seq;
    int nparts;
};

/* Per shard (sh->aof). */
struct aof_shard {
    int fd; /* the incr file, -1 while none */
    uint64_t incr_seq;
    struct rbuf buf; /* this iteration's records */
    int buf_db;      /* the database the stream has selected last, -1 none */
    int nmain;
    struct aof_txn *txns; /* transactions' parts running here */
    long long size;       /* the incr file's bytes */
    bool fsync_inflight, unsynced, loading;
    bool tap; /* each iteration's records also go to aof_tap (replication) */
    int64_t last_fsync_ms;
    int64_t last_ts; /* aof-timestamp-enabled: the second of the last #TS line */
    struct shard_io fsync_io;
    int err; /* the last write's errno, 0 when it worked */
};

struct aof_shard *aof_of(struct shard *sh);
void aof_incr_name(const struct shard *sh, uint64_t seq, char *out, size_t len);
void aof_base_name(const struct shard *sh, uint64_t seq, char *out, size_t len);
uint64_t aof_incr_seq(uint64_t base, int nshards, int shard);
SH_MUST_CHECK int aof_open_incr(struct shard *sh, uint64_t seq);
SH_MUST_CHECK int aof_write_manifest(const struct shard *sh, uint64_t base, int nshards);
void aof_on_snap_begin(struct shard *sh);
void aof_on_rewrite_end(struct shard *sh, bool ok);
void aof_cron(struct shard *sh);
void aof_auto_rewrite(struct shard *sh);
/* main, before the shards start: the propagation hooks (shard.h). */
void aof_init_hooks(void);
void aof_shard_init(struct shard *sh);
void aof_shard_exit(struct shard *sh);
/* Start-up with appendonly yes: the base, then this shard's incr files; the
 * log opened. 0 or -1 (logged). Every shard calls it (a barrier inside). */
int aof_load(struct shard *sh);
