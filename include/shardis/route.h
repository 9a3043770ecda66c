/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * route.h: from a parsed command to its reply, across shards.
 *
 * route_dispatch looks the command up, checks arity and authentication, and
 * routes it by the owners of its keys (cmd_spec.route):
 *   CONN   run here, on the client's core;
 *   KEY    every key on one owner: run here if that is us, else send one
 *          request to the owner and wait in a reply slot;
 *   MULTI  split the keys by owner, one sub-request per owner, gather the
 *          parts back in argument order (a coordinator, struct coord);
 *   ALL    one sub-request per shard, merged (DBSIZE, KEYS, SCAN ...).
 * Sub-requests run the command's own handler on the owner over the owner's
 * subset of the arguments, in RESP2; the coordinator parses those replies and
 * writes the client's reply in its protocol.
 *
 * Messages (struct req) are allocated by the origin and come back to it (one
 * that fits REQ_POOL_SIZE bytes goes to a short free list of the origin's
 * when it is done, for the next request it forwards):
 *   EXEC  origin -> owner   run cmd over argv, write the reply into the req
 *   REPLY owner -> origin   the reply is in req->reply
 *   RELEASE origin -> owner the reply outgrew the inline area: the owner
 *          frees its buffer and sends the req back as
 *   DONE  owner -> origin   the origin frees the req.
 * and for a transaction (sched.h), whose parts carry its number (txn_seq):
 *   SCHED origin -> owner   queue the transaction, lock its keys there
 *   SCHED_DONE owner -> origin  ready (txn_ok) or refused, maybe later
 *   CONCLUDE origin -> owner  release them; comes back as DONE.
 */
#pragma once

#include "shardis/cmd.h"
#include "shardis/reply.h"
#include "shardis/sh.h"

struct cmd_spec;
struct conn;
struct coord;
struct shard;
struct slot;

/* stop-writes-on-bgsave-error's refusal (Redis's text, without "-"). */
#define ROUTE_MISCONF_ERR                                                                          \
    "MISCONF Redis is configured to save RDB snapshots, but it's currently unable to persist to "  \
    "disk. Commands that may modify the data set are disabled, because this instance is "          \
    "configured to report errors during writes if RDB snapshotting fails "                         \
    "(stop-writes-on-bgsave-error option). Please check the Redis logs for details about the "     \
    "RDB error."

enum req_kind {
    REQ_EXEC = 1,
    REQ_REPLY,
    REQ_RELEASE,
    REQ_DONE,
    REQ_SCHED,
    REQ_SCHED_DONE,
    REQ_CONCLUDE,
};

struct req {
    struct req *next; /* overflow list link */
    uint8_t kind;
    uint8_t proto;
    uint16_t from;
    uint16_t to;
    int dbid;
    /* origin side: the owner never touches these */
    struct conn *conn;
    struct slot *slot;
    struct coord *coord;
    int part;
    /* what to run */
    const struct cmd_spec *cmd;
    uint64_t client_id;
    int argc;
    struct sh_slice *argv; /* = slices */
    uint64_t key_hash;
    bool has_key_hash;
    /* owner -> origin: the command ran run_us, at least the owner's
     * diag_min_us, so the origin may log it (it has the client) */
    bool slow;
    int64_t run_us;
    /* transactions: the number of the one this message belongs to (0 for
     * plain commands, which wait for locks; a transaction's own parts do
     * not); SCHED locks the whole shard (txn_all); SCHED_DONE's answer */
    uint64_t txn_seq;
    uint64_t wait_ticket; /* a plain command waiting for locks: its arrival */
    bool txn_all;
    bool txn_ok;
    bool pooled; /* REQ_POOL_SIZE bytes, back to the origin's free_reqs */
    /* CONCLUDE: the shards that took part (0: it could not write), for the
     * AOF; held: the client's reply that waits for every CONCLUDE's DONE */
    int txn_nparts;
    struct held_reply *held;
    /* the reply: rbuf over the inline area, or owner-allocated when larger */
    struct rbuf reply;
    char *inline_reply;
    size_t inline_cap;
    struct sh_slice slices[]; /* argv, then the argument bytes, then the inline reply */
};

/*
 * A coordinator: the state of one client command whose parts run on several
 * shards. A gather (per command) decides the parts of each stage and merges
 * their replies; it runs on the client's core only.
 */
struct coord {
    struct conn *conn;
    struct slot *slot;
    const struct cmd_spec *cmd;
    const struct gather *g;
    int proto;
    int dbid;
    uint64_t client_id;
    int stage;     /* public to gathers: starts at 0 */
    long long acc; /* public to gathers: scratch */
    int pending;
    int nshards;
    struct req **parts; /* [shard]: this stage's reply from that shard */
    struct req **next;  /* [shard]: parts of the stage being issued */
    int argc;           /* public: a copy of the client's arguments */
    struct sh_slice *argv;
    int *owner;  /* [argv index]: owner of each key argument, else -1 */
    int64_t t0;  /* when it started, for commandstats */
    void *ext;   /* public to gathers: their own state (they free it) */
    bool parked; /* waiting for coord_wake, no part in flight */
    /* a transaction (sched.h): its number, 0 when not one; where it is
     * queued; whether a shard refused this round */
    uint64_t txn_seq;
    uint8_t txn_state; /* COORD_TXN_* */
    bool txn_refused;
    bool *txn_on; /* [shard] */
    uint32_t txn_rounds;
    /* the locks to take instead of the command's keys: (mode, key) pairs in
     * txn_db (coord_start_txn) */
    struct sh_slice *txn_pairs;
    int txn_npairs;
    int txn_db;
    /* parts reply in this protocol (2 unless a gather sets it: EXEC) */
    uint8_t part_proto;
    /* public to gathers: blocking commands must not wait (inside EXEC) */
    bool nowait;
    /* a coordinator nested in another (EXEC): no slot of its own; its final
     * reply goes to out, then parent advances */
    struct coord *parent;
    struct rbuf *out;
    size_t out_at;    /* where its reply starts in out */
    bool txn_all;     /* coord_start_txn: every shard whole */
    bool uncounted;   /* coord_start_txn: the handler that started it counted it */
    bool txn_nowrite; /* known to have written nothing: no AOF records to make whole */
};

enum { COORD_TXN_NONE = 0, COORD_TXN_SCHEDULING, COORD_TXN_RUNNING };

struct gather {
    /* Issues the parts of stage 0 (coord_send ...). */
    void (*start)(struct coord *c);
    /* Every part of this stage is back: write the final reply to r and
     * return true, or issue the next stage's parts and return false. */
    bool (*done)(struct coord *c, struct reply *r);
    /* true: fan out even with one shard (the handler only makes a part) */
    bool always;
    /* true: the command takes several stages; the connection runs nothing
     * after it until it is done, so a pipelined command cannot overtake a
     * later stage (MSETNX, RENAME/COPY across shards) */
    bool barrier;
    /* true: with several shards, a transaction that locks every shard whole
     * (FLUSHALL, FLUSHDB); commands with keys on several shards are
     * transactions over their keys without it */
    bool txn_all;
};

/* Sends a part to shard `to` (or runs it at once when `to` is this core):
 * cmd's handler over argv (copied) in database dbid, replying in RESP2. At
 * most one part per shard per stage. */
void coord_send(struct coord *c, int to, const struct cmd_spec *cmd, int dbid, int argc,
                const struct sh_slice *argv);
/* Splits the key arguments argv[first], argv[first+step], ... (each with its
 * step-1 following arguments) by owner and sends argv[0] plus each owner's
 * groups to that owner, running c->cmd. */
void coord_split_keys(struct coord *c, int first, int step);
/* From a gather's done(): no part to send now; the coordinator waits,
 * holding the client's reply position, until coord_wake (blocking pops). */
void coord_park(struct coord *c);
/* An outside event for a parked coordinator: runs done() again, which may
 * send parts, park again or finish. */
void coord_wake(struct coord *c);
/* coord_park for a transaction that keeps its locks while it waits: only
 * for a wait that no command has to end (a snapshot's end: SAVE, DEBUG
 * RELOAD); the connection stays until coord_wake_locked, even closed. */
void coord_park_locked(struct coord *c);
void coord_wake_locked(struct coord *c);
/* Frees a parked coordinator whose connection is going away without a reply
 * (the slot goes with the connection); the gather frees its ext first. */
void coord_abandon(struct coord *c);
/* Starts a coordinator for connection c that runs gather g (with ext set
 * before g->start) as a transaction: locks are npairs (mode "r"/"w", key)
 * pairs in database dbid, or every shard whole when all. cmd names it (its
 * handler counted it). With one shard, or no lock at all, it runs at once
 * and is no transaction. */
void coord_start_txn(struct conn *c, const struct cmd_spec *cmd, const struct gather *g, void *ext,
                     int dbid, int npairs, const struct sh_slice *pairs, bool all);
/* From a gather's done() of a coordinator that is not a transaction: run
 * it again from g->start as a transaction over every shard whole (a script
 * that reached past its keys). done() then returns false. */
void coord_retry_txn_all(struct coord *co);
/* Runs cmd over argv (copied) for parent's connection inside parent's
 * transaction (its parts do not wait for locks), in the client's protocol,
 * blocking commands without waiting; the final reply is appended to out, and
 * parent advances when it is done (it counts as one of parent's pending
 * parts). From a gather's start or done. */
void coord_start_child(struct coord *parent, const struct cmd_spec *cmd, int dbid, int argc,
                       const struct sh_slice *argv, struct rbuf *out);
/* Sends the client's arguments to every shard, running cmd. */
void coord_fanout(struct coord *c, const struct cmd_spec *cmd);
/* The reply bytes of shard `from` in this stage ({NULL, 0} when none). */
struct sh_slice coord_part(const struct coord *c, int from);
/* Sum of the integer replies of this stage; an error part is copied to r
 * and -1 returned through *err. */
long long coord_sum(const struct coord *c);
/* The first error reply among the parts, or {NULL,0}. */
struct sh_slice coord_first_error(const struct coord *c);
/* The shard that owns key (for a gather's parts). */
int coord_key_owner(const struct coord *c, struct sh_slice key);

/* Reading a part (RESP2 bytes, as coord_part gives them): a header of
 * `type` ('*', ':', '$', ...) with its integer at *pos, moving *pos past it;
 * false when the bytes there are something else. */
bool coord_read_header(struct sh_slice p, size_t *pos, char type, long long *v);
/* For parts that are each an array (one element per key, as the family
 * gathers' dump commands answer): every part's read position past its
 * array header, in a new array of c->nshards the caller frees with sh_free;
 * NULL when a part is something else. An empty part (no keys there) is at
 * 0. */
size_t *coord_part_cursors(const struct coord *c);
/* A bulk string at *pos (borrowed from p); a nil bulk gives {NULL, 0}. */
bool coord_read_bulk(struct sh_slice p, size_t *pos, struct sh_slice *out);

/* Generic gather steps: send the client's command to every shard; reply the
 * first error part, or +OK. */
void coord_start_fanout(struct coord *co);
bool coord_done_ok(struct coord *co, struct reply *r);

/* Generic gathers. */
extern const struct gather gather_sum_keys; /* DEL UNLINK EXISTS TOUCH */
extern const struct gather gather_sum_all;  /* DBSIZE */
extern const struct gather gather_ok_all;   /* FLUSHDB FLUSHALL */
/* gather_ok_all that runs on every shard even with one: commands that change
 * each shard's own copy of something (CONFIG SET, ACL SETUSER) */
extern const struct gather gather_ok_every;
extern const struct gather gather_concat_all; /* KEYS */
/* gather_ok_all run as a transaction over every shard whole (FLUSHALL) */
extern const struct gather gather_ok_all_txn;

/* From any handler: runs cmd over argv (copied) on shard `to`, in database
 * dbid, for its effect only (the reply is dropped): at once when `to` is
 * this core, else through the mailbox, after everything this core sent to
 * `to` before (per-pair FIFO). */
void route_post(struct shard *sh, int to, const struct cmd_spec *cmd, int dbid, int argc,
                const struct sh_slice *argv);

/*
 * Hooks of the layers above (txn/), set once by main before the shards
 * start; NULL when unset.
 *   queue     c is in MULTI: true when it queued the command (and replied)
 *   refused   c is in MULTI and a command was refused before it could run
 *   gone      c (with c->multi) is being freed
 *   touched   a key of database dbid was written (sh->nwatched > 0 only)
 *   touched_db  database dbid is about to be emptied (with < 0) or swapped
 *             with database `with` (FLUSHDB, FLUSHALL, SWAPDB): its keys
 *             that exist in either are (sh->nwatched > 0 only)
 */
struct route_hooks {
    bool (*queue)(struct conn *c, const struct cmd_spec *cmd, int argc,
                  const struct sh_slice *argv);
    void (*refused)(struct conn *c);
    void (*gone)(struct conn *c);
    void (*touched)(struct shard *sh, int dbid, struct sh_slice key);
    void (*touched_db)(struct shard *sh, int dbid, int with);
    void (*shard_exit)(struct shard *sh); /* free what the layer keeps there */
};
extern struct route_hooks route_hooks;

/* After a write command ran on this core: tells the touched hook which keys
 * it wrote (when anything is watched here). */
void route_note_write(struct shard *sh, const struct cmd_spec *cmd, int dbid, int argc,
                      const struct sh_slice *argv);

/* Redis's signalModifiedKey for a write the command path does not see (an
 * internal command's, or one of a command the table does not flag as a
 * write): marks the WATCHers of key in dbid dirty. */
void route_touch(struct shard *sh, int dbid, struct sh_slice key);
/* The same for every key of database dbid that exists in it or in database
 * `with` (>= 0), before a flush (with -1) or a swap empties or replaces it. */
void route_touch_db(struct shard *sh, int dbid, int with);

/* Owner of every key of cmd over argv: a shard, -2 when it names no key,
 * -1 when several shards own them. With hash, *hash is the table hash of
 * argv[1] when it is a key (*has_hash). */
int route_keys_owner(const struct shard *sh, const struct cmd_spec *cmd, int argc,
                     const struct sh_slice *argv, uint64_t *hash, bool *has_hash);

/* Where a command must run for a client of this core that already holds
 * the locks it needs (inside EXEC or a global script): here, on one other
 * owner (*owner), as a nested coordinator (several owners, every shard, or
 * a CONN command with a gather), or nowhere (several owners, no gather). */
enum route_plan { ROUTE_PLAN_HERE, ROUTE_PLAN_PART, ROUTE_PLAN_CHILD, ROUTE_PLAN_CROSS };
enum route_plan route_plan(const struct shard *sh, const struct cmd_spec *cmd, int argc,
                           const struct sh_slice *argv, int *owner);
/* Runs cmd on this core now (for client c, or NULL), its reply appended to
 * out in proto; notes its writes for WATCH and counts it. */
void route_exec_into(struct shard *sh, struct conn *c, const struct cmd_spec *cmd, int dbid,
                     int argc, const struct sh_slice *argv, struct rbuf *out, int proto);

/* Runs one complete command of connection c (args borrowed for the call). */
void route_dispatch(struct conn *c, int argc, const struct sh_slice *argv);
/* For the scheduler (sched.c): sends a schedule's answer back to its
 * coordinator (m->txn_ok set), and runs a plain command that waited. */
void route_sched_answer(struct shard *sh, struct req *m);
void route_run_waiting(struct shard *sh, struct req *m);
/* Handles a message taken from a mailbox. */
void route_on_message(struct shard *sh, struct req *m);
/* A message met while a busy script runs here (shard.h): answers a client's
 * plain command with err (-BUSY), lets memory go home, and returns false,
 * touching nothing, for anything else (it waits for the script's end). */
bool route_on_message_busy(struct shard *sh, struct req *m, const char *err);
