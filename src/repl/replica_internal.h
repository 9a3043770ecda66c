/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * replica_internal.h: what replica.c (REPLICAOF, the state shard 0 keeps,
 * INFO, ROLE) and replica_link.c (the link thread) share. Not a contract.
 *
 * Threading: struct replica is server-wide; the fields marked (L) are
 * guarded by its lock and read by any core (INFO, ROLE) and by the link
 * thread. A struct rlink is shared by one link thread and shard 0: its (L)
 * fields under the same lock, its copies (set before the thread starts) read
 * by the thread only.
 */
#pragma once

#include "shardis/reply.h"
#include "shardis/sh.h"

#include <pthread.h>

struct server;

/* The link's state, in ROLE's words. */
enum replica_state {
    REPLICA_S_NONE = 0,
    REPLICA_S_CONNECT,    /* waits to connect ("connect") */
    REPLICA_S_CONNECTING, /* TCP connect in progress ("connecting") */
    REPLICA_S_HANDSHAKE,  /* PING, AUTH, REPLCONF, PSYNC ("handshake") */
    REPLICA_S_SYNC,       /* the RDB comes or is loaded ("sync") */
    REPLICA_S_CONNECTED,  /* the stream is applied ("connected") */
};

/* The link thread's messages to shard 0, in order. */
enum {
    RMSG_FEED = 1, /* stream bytes written to the master connection: to the hub */
    RMSG_LOAD,     /* the RDB is in file data: flush, load, the hub's new id/offset */
    RMSG_NEWID,    /* +CONTINUE named a new id: the hub takes it */
    RMSG_CONN,     /* the master connection is gone: make another */
};

struct rmsg {
    struct rmsg *next;
    int kind;
    uint64_t gen;     /* the link's */
    long long offset; /* LOAD */
    char replid[41];  /* LOAD, NEWID */
    size_t len;
    char data[]; /* FEED: the bytes; LOAD: the file's name (NUL-terminated) */
};

enum { RLOAD_NONE = 0, RLOAD_WAIT, RLOAD_OK, RLOAD_FAIL };

/* One link to one primary (REPLICAOF host port), for its thread's life. */
struct rlink {
    struct rlink *next_dead; /* shard 0's list of links to join */
    struct replica *rep;
    const struct server *srv;
    uint64_t gen;
    pthread_t thread;
    bool thread_ok;
    /* copies made before the thread starts (the thread reads only these) */
    char host[256];
    int port;
    char *auth, *user;    /* masterauth / masteruser, NULL: none */
    int my_port;          /* REPLCONF listening-port */
    char announce_ip[64]; /* "" = none */
    long long timeout_s;  /* repl-timeout */
    int loglevel;
    /* (L) */
    bool stop;          /* shard 0 gave it up: end */
    bool exited;        /* the thread ended (it may be joined) */
    int pair_fd;        /* the thread's end of the master connection, -1: none */
    int load;           /* RLOAD_* of the last LOAD */
    uint64_t sent, fed; /* messages posted, and taken by shard 0 */
};

/* Server-wide (one). */
struct replica {
    pthread_mutex_t lock;
    pthread_cond_t cond; /* the thread waits for shard 0: a load, a conn, a feed */
    /* (L) what REPLICAOF set; host "" = this server is a primary */
    char host[256];
    int port;
    uint64_t gen; /* bumped by every REPLICAOF */
    /* (L) the link's figures, for INFO and ROLE */
    int state;
    int64_t last_io_ms;    /* the primary's last bytes */
    int64_t down_since_ms; /* 0: not down since it was up */
    long long read_off;    /* slave_read_repl_offset */
    long long xfer_size, xfer_read;
    int64_t xfer_last_ms;
    /* (L) the thread's messages to shard 0, and those shard 0 is done
     * with (the thread frees them: memory goes home) */
    struct rmsg *head, *tail, *used;
    int bell_fd; /* eventfd: messages wait (shard 0 polls it) */
};

/* ---- replica_link.c ---- */

/* Starts the thread of l (its copies set). 0 or -errno. */
SH_MUST_CHECK int rlink_start(struct rlink *l);
/* Frees l once its thread was joined (or never started). */
void rlink_free(struct rlink *l);
/* The thread's messages: posts m (the thread's memory) and rings shard 0. */
void replica_post(struct replica *rep, struct rlink *l, struct rmsg *m);
