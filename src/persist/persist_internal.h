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
