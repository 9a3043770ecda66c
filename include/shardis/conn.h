/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * conn.h: a client connection, owned by the shard that accepted it for its
 * whole life.
 *
 * Reply order: each parsed command takes the next reply position. While no
 * reply is outstanding, a command that runs here writes straight into `out`.
 * Once a command waits for another shard, it takes a slot at the tail of the
 * slot list and every later reply (even a local one) goes behind it; when the
 * head slot becomes ready its bytes move to `out`, so bytes leave in command
 * order.
 *
 *   parse -> [local: out] or [slot] ... slot ready -> out
 *   out --(swap when no send in flight)--> sending --send--> socket
 *
 * Lifetime: the connection is freed only when nothing refers to it: no armed
 * recv, no send in flight, no request at another shard (conn_is_busy).
 */
#pragma once

#include "shardis/reply.h"
#include "shardis/resp.h"
#include "shardis/sh.h"

#include <netinet/in.h>

struct acl_user;
struct multi;
struct bclient;
struct psconn;
struct req;
struct shard;

/* A reply position that waits for other shards. */
struct slot {
    struct slot *next;
    bool ready;
    int pending;         /* parts not yet back */
    struct rbuf buf;     /* the reply bytes once ready */
    struct coord *coord; /* the gather state of a multi-shard command */
    bool drop;           /* CLIENT REPLY OFF/SKIP: its bytes are never sent */
    uint64_t in_at;      /* CLIENT REPLY OFF/SKIP: where its command starts in the input */
};

enum {
    CONN_CLOSING = 1u << 0,     /* closed by us or the peer: no more input */
    CONN_CLOSE_AFTER = 1u << 1, /* flush output, then close (QUIT, errors) */
    CONN_RECV_ARMED = 1u << 2,
    CONN_SENDING = 1u << 3,
    CONN_IN_SEND_LIST = 1u << 4,
    CONN_IN_RESUME_LIST = 1u << 5,
    CONN_PAUSED = 1u << 6, /* parsing stopped by back-pressure */
    CONN_AUTHED = 1u << 7,
    CONN_FD_CLOSED = 1u << 8,
    CONN_READ_STOPPED = 1u << 9,     /* recv cancelled by back-pressure */
    CONN_BARRIER = 1u << 10,         /* a multi-stage command is running */
    CONN_MONITOR = 1u << 11,         /* receives every command (MONITOR) */
    CONN_INTERNAL = 1u << 12,        /* the server's own client (conn_internal) */
    CONN_REPLY_OFF = 1u << 13,       /* CLIENT REPLY OFF: replies are dropped */
    CONN_REPLY_SKIP = 1u << 14,      /* CLIENT REPLY SKIP: this command's reply is dropped */
    CONN_REPLY_SKIP_NEXT = 1u << 15, /* ... and the next command's */
    CONN_HELD = 1u << 16,            /* its next command waits for CLIENT UNPAUSE */
    CONN_NO_EVICT = 1u << 17,        /* CLIENT NO-EVICT ON (shown as 'e') */
    CONN_MULTI_WRITE = 1u << 18,     /* MULTI queued a write: CLIENT PAUSE WRITE holds EXEC */
    CONN_PEER_EOF = 1u << 19,        /* the peer sent EOF: its recv is not re-armed */
    CONN_MASTER = 1u << 20,          /* the primary's stream on a replica (repl/replica.c) */
    CONN_REPLICA = 1u << 21,         /* a replica after PSYNC/SYNC (repl/primary.c) */
};
#define CONN_REPLY_BITS (CONN_REPLY_OFF | CONN_REPLY_SKIP | CONN_REPLY_SKIP_NEXT)

/* The longest a connection's ready output waits for replies due from other
 * shards, so that it leaves in one send (conn_flush_all). */
#define SEND_HOLD_US 1000

/* CLIENT PAUSE modes (Redis's order: the stronger one wins). */
enum { CONN_PAUSE_NONE = 0, CONN_PAUSE_WRITE = 1, CONN_PAUSE_ALL = 2 };

struct conn {
    struct shard *sh;
    int fd;
    uint32_t flags;
    uint64_t id;
    struct conn *prev, *next; /* shard's list of all connections */
    struct conn *send_next;
    struct conn *resume_next;

    struct rbuf q;    /* query buffer */
    uint64_t in_base; /* input bytes consumed out of q before its start */
    struct resp_parser parser;

    struct rbuf out;
    struct rbuf sending;
    size_t sent;
    struct slot *slot_head, *slot_tail;
    uint32_t inflight;  /* requests at other shards */
    uint32_t active_ms; /* the shard's active_ms when it last sent (batch waits) */
    uint32_t nslots;    /* slots in the list */
    size_t slot_bytes;  /* reply bytes held in ready slots */

    int db;
    int proto;
    char *name;
    int64_t ctime_ms;
    int64_t last_ms;
    uint64_t commands;
    struct psconn *ps;       /* subscriptions, NULL until the first one */
    struct acl_user *user;   /* who it is (AUTH), in this core's struct acl */
    struct bclient *blocked; /* its blocking pop while one waits (block.c) */
    uint32_t nbclients;      /* blocked clients listed for it: that one, an EXEC's */
    struct multi *multi;     /* MULTI and WATCH state, NULL until used (txn/multi.c) */
    int64_t soft_since_ms;   /* when output first passed the soft limit, 0 = not */
    int64_t last_out_ms;     /* when a send last started */
    int64_t held_us;         /* when its output began to wait for other shards' replies, 0 = not */
    char addr[64];
    char laddr[64];
    char last_cmd[32];
    const struct cmd_spec *last_cmd_spec; /* the command last_cmd names */
    const struct cmd_spec *last_top;      /* what argv[0] named last (route.c's lookup cache) */
    size_t last_top_len;                  /* the length of its name */
    size_t argv_mem; /* bytes of the arguments of the command held or running */
    void *repl;      /* replication's state of a CONN_REPLICA / CONN_MASTER link */
};

/* Hooks of the replication layer (repl/), set once before the shards start:
 * a connection with c->repl sent all its output (a replica's RDB goes out
 * in pieces), and one is being freed. */
struct conn_repl_hooks {
    void (*drained)(struct conn *c);
    void (*gone)(struct conn *c);
    /* a CONN_MASTER connection ran a command to its end (conn_input_applied
     * may have moved) */
    void (*applied)(struct conn *c);
};
extern struct conn_repl_hooks conn_repl_hooks;

/* Takes a freshly accepted socket. Returns the connection (owned by the
 * shard) or NULL if it was refused (and closed). */
struct conn *conn_accept(struct shard *sh, int fd);
/* The server's own client on this core (made at the first call, freed with
 * the shard): no socket, every permission, not in CLIENT LIST; its replies
 * are dropped. The server runs commands as it (save points, the save of a
 * SIGTERM's shutdown) with conn_run_internal. */
struct conn *conn_internal(struct shard *sh);
/* Runs one command (args borrowed for the call) as the internal client. */
void conn_run_internal(struct shard *sh, int argc, const struct sh_slice *argv);
/* A multishot recv completion for c. */
void conn_on_recv(struct conn *c, int res, uint32_t flags);
/* The same with the received bytes at hand (NULL: none), for a receive that
 * was kept while a busy script ran (shard.h). */
void conn_on_recv_bytes(struct conn *c, const char *data, int res, uint32_t flags);
/* A send completion for c. */
void conn_on_send(struct conn *c, int res);
/* Parses and runs what the query buffer holds (also after a pause). */
void conn_process_input(struct conn *c);
/* Starts the sends of every connection with output (once per iteration). */
void conn_flush_all(struct shard *sh);
/* Where a reply written now by this core goes, in order: `out` or a new ready
 * slot. */
struct reply conn_reply(struct conn *c);
/* A new pending slot at the tail, for a command that waits for shards. */
struct slot *conn_slot_new(struct conn *c);
/* n reply bytes were written into a ready slot that conn_reply returned. */
void conn_slot_wrote(struct conn *c, size_t n);
/* The slot is complete (its bytes are in slot->buf): flush what is ready. */
void conn_slot_done(struct conn *c, struct slot *s);
/* For a connection whose replies are off (CONN_MASTER): the input bytes
 * whose commands all ran to their end, counted from its first byte (always
 * a command's boundary: the start of the first command still running). */
uint64_t conn_input_applied(const struct conn *c);
/* Marks c authenticated or not (AUTH, HELLO AUTH, RESET). */
void conn_set_authed(struct conn *c, bool authed);
/* A multi-stage command starts / ends: later commands wait for its end. */
void conn_barrier_begin(struct conn *c);
void conn_barrier_end(struct conn *c);
/* One request of c came back (or was dropped): drops a reference. */
void conn_request_done(struct conn *c);
/* Closes now (peer gone, protocol error after reply, kill). */
void conn_close(struct conn *c);
/* Closes once the replies so far are sent. */
void conn_close_after_reply(struct conn *c);
/* Queues c to be flushed at the end of the iteration. */
void conn_want_send(struct conn *c);
/* Writes an out-of-band push (a pub/sub message) to c's output now and
 * enforces client-output-buffer-limit: c is closed when over it. Returns
 * the reply to write the push into, or NULL when c is closing. */
struct reply *conn_push_begin(struct conn *c, struct reply *r);
void conn_push_end(struct conn *c);
/* Closes idle clients past cfg.timeout; called by the shard's cron. */
void conn_cron(struct shard *sh);
/* Shutdown: every connection answers what it has read, then closes. */
void conn_close_all(struct shard *sh);
/*
 * CLIENT PAUSE: each core keeps its own copy of the server-wide pause (set
 * on every core by the command's fan-out, as CONFIG SET is). While one is in
 * effect, a client's next command that it holds (every command for ALL;
 * writes, may-replicate commands and EXEC in a transaction for WRITE) is not
 * run: the connection stops parsing at that command, in order, and resumes
 * when the pause ends (UNPAUSE, or its end time, seen by the cron).
 * conn_pause merges as Redis does: the stronger mode and the later end win.
 * end_ms is unix ms. This core only.
 */
void conn_pause(struct shard *sh, int mode, int64_t end_ms);
void conn_unpause(struct shard *sh);
/* The pause in effect on this core (CONN_PAUSE_*), expiring it if its time is
 * past. */
int conn_pause_mode(struct shard *sh);
/* Clients of this core whose command waits for the pause to end (INFO's
 * blocked_clients counts them, as Redis 7.0 does). O(clients). */
long long conn_held_count(const struct shard *sh);
/* Frees every connection at once (the loop has ended; no CQE will come). */
void conn_free_all(struct shard *sh);
