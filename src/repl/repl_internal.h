/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * repl_internal.h: what repl.c (the hub, ids, INFO, WAIT), primary.c (the
 * replicas' connections, full syncs) and replica.c share. Not a contract.
 */
#pragma once

#include "shardis/mbox.h"
#include "shardis/repl.h"
#include "shardis/sh.h"

#include <pthread.h>

struct cmd_spec;
struct conn;
struct shard;

#define REPL_MAX_REPLICAS  64
#define REPL_DL_UNSENT_MAX (32L << 20)

/* A replica's state as INFO shows it (Redis's words). */
enum repl_rstate {
    REPL_R_WAIT_BGSAVE = 1, /* waits for its snapshot's point */
    REPL_R_SEND_BULK = 2,   /* the snapshot is written or sent */
    REPL_R_ONLINE = 3,      /* streaming */
};

/* One replica in the server-wide table: the atomics are stored by the
 * replica's core, the strings under repl.lock. */
struct repl_slot {
    struct mbox_counter used;
    struct mbox_counter state;  /* enum repl_rstate */
    struct mbox_counter ack;    /* the offset it acknowledged */
    struct mbox_counter ack_ms; /* when (unix ms) */
    char ip[64];
    int port;
};

struct hub;

/* Server-wide (srv->repl). */
struct repl {
    pthread_mutex_t lock; /* the ids and the slots' strings */
    char replid[41], replid2[41];
    struct mbox_counter offset;        /* master_repl_offset */
    struct mbox_counter second_offset; /* -1: none */
    struct mbox_counter backlog_first; /* repl_backlog_first_byte_offset, 0: none */
    struct mbox_counter backlog_histlen;
    struct mbox_counter backlog_size;
    struct mbox_counter backlog_active; /* 1 from the first replica's sync on */
    struct mbox_counter sync_full, sync_partial_ok, sync_partial_err;
    /* a diskless sync's bytes handed to the replicas' cores and not yet
     * sent (the walk pauses above REPL_DL_UNSENT_MAX) */
    struct mbox_counter dl_unsent;
    struct mbox_counter *tap_bytes; /* [shard]: bytes its tap handed to the hub */
    struct repl_slot slots[REPL_MAX_REPLICAS];
    /* a diskless sync's replicas: written by the hub before the snapshot's
     * begin parts go (which publish them), read by every shard's sink */
    struct repl_target {
        int core;
        uint64_t conn_id;
    } targets[REPL_MAX_REPLICAS];
    int ntargets;
    struct hub *hub;         /* shard 0's */
    struct repl_core *cores; /* [shard]: each core's WAITs */
};

struct repl *repl_of(const struct server *srv);

/* ---- repl.c, for primary.c ---- */

/* Hub: a replica wants a sync (partial from replid/offset, or full). */
void hub_sync_request(struct shard *sh0, uint64_t conn_id, int core, struct sh_slice replid,
                      long long offset);
/* Hub: the replica's connection is gone. */
void hub_drop(struct shard *sh0, uint64_t conn_id);

/* ---- primary.c, for repl.c ---- */

/* Posts a message for replica conn_id's core (runs there, or now when it is
 * this core): one of the REPL_MSG_* with its bytes. */
enum {
    REPL_MSG_FULL = 1, /* +FULLRESYNC line: the RDB comes next */
    REPL_MSG_RDB = 2,  /* bytes: "<fd> <size>" of the snapshot to send */
    REPL_MSG_FEED = 3, /* stream bytes */
    REPL_MSG_CONT = 4, /* +CONTINUE line and backlog bytes: online now */
    REPL_MSG_FAIL = 5, /* the sync failed: close */
    /* diskless: "<40-char mark><checksum 0|1><header>", then the chunks
     * (from the shards that made them, before or after it), then "<ok>
     * <chunk bytes>" once the snapshot ended */
    REPL_MSG_DLHDR = 6,
    REPL_MSG_CHUNK = 7,
    REPL_MSG_DLEND = 8,
};
void primary_post(struct shard *sh, int core, uint64_t conn_id, int kind, const char *p, size_t n);
void primary_bind(void);
void primary_cron(struct shard *sh);
void primary_init(struct server *srv);
void primary_fini(struct server *srv);
