/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * shard.h: a shard: one thread pinned to one CPU, its io_uring event loop,
 * its listener, its connections, its databases and its mailboxes.
 *
 * Threading rules (the whole runtime follows them):
 * - Everything in struct shard belongs to its thread. Other threads touch
 *   only: the mailboxes they produce into (in[] of the target, their own slot),
 *   the target's sleep word (mbox_needs_wake), and ring_fd (read-only after
 *   start) to send IORING_OP_MSG_RING wake-ups.
 * - struct server is written by main before any shard starts and is read-only
 *   afterwards, except its mbox_counter fields (atomics of the mbox module).
 * - A message pushed to a mailbox belongs to the receiver until it comes back;
 *   memory is freed by the shard that allocated it.
 */
#pragma once

#include "shardis/cmdtab.h"
#include "shardis/config.h"
#include "shardis/mbox.h"
#include "shardis/reply.h"
#include "shardis/sched.h"
#include "shardis/sh.h"

#include <liburing.h>

#include <pthread.h>

struct acl;
struct block;
struct cmd_spec;
struct conn;
struct kdb;
struct latency;
struct pubsub;
struct req;
struct slowlog;
struct tracking;

/* srv->repl_gate bits: clients' write commands are refused while one is set
 * (route.c), except the primary's own stream (CONN_MASTER) */
enum {
    SHARD_GATE_READONLY = 1,   /* a replica with replica-read-only: -READONLY */
    SHARD_GATE_NOREPLICAS = 2, /* fewer good replicas than min-replicas-to-write */
    SHARD_GATE_STALE = 4,      /* a replica's link is down, serve-stale-data no */
};

/* The error (with its '-') a gate gives a command of these CMD_* flags,
 * or NULL: Redis's order (MASTERDOWN for all but "stale" commands, then
 * READONLY and NOREPLICAS for writes). */
static inline const char *shard_gate_refusal(long gate, uint32_t cmd_flags)
{
    if ((gate & SHARD_GATE_STALE) && !(cmd_flags & CMD_STALE)) {
        return "-MASTERDOWN Link with MASTER is down and replica-serve-stale-data is set to 'no'.";
    }
    if (!(cmd_flags & CMD_WRITE)) {
        return NULL;
    }
    return (gate & SHARD_GATE_READONLY) ? "-READONLY You can't write against a read only replica."
           : (gate & SHARD_GATE_NOREPLICAS) ? "-NOREPLICAS Not enough good replicas to write."
                                            : NULL;
}

struct server {
    struct config cfg; /* as loaded; read-only */
    int nshards;
    struct shard **shards;
    struct mbox_counter clients;      /* connected clients, all shards */
    struct mbox_counter stopping;     /* 1 once shutdown began */
    struct mbox_counter drained;      /* shards done answering their clients */
    struct mbox_counter exited;       /* shards whose loops ended */
    struct mbox_counter ready;        /* shards listening */
    struct mbox_counter settled;      /* shards past their set-up, failed or not */
    struct mbox_counter *heartbeat;   /* [shard]: bumped by each timer run */
    struct mbox_counter slowlog_id;   /* the next SLOWLOG entry id, all shards */
    struct mbox_counter txn_seq;      /* the last transaction number (sched.h) */
    struct acl *acl;                  /* users at start-up; each shard copies them */
    struct mbox_counter monitors;     /* MONITOR clients, all shards */
    struct mbox_counter *monitors_at; /* [shard]: MONITOR clients there */
    struct mbox_counter busy;         /* shards running a busy script (shard_busy_*) */
    struct mbox_counter *dirty;       /* [shard]: its stats.dirty, stored by it */
    struct mbox_counter *mem_used;    /* [shard]: what it counts for maxmemory (evict.c) */
    struct persist *persist;          /* persistence's server-wide state (persist.h) */
    struct mbox_counter save_failed;  /* 1: the last snapshot failed (MISCONF) */
    /* replication (repl.h): SHARD_GATE_* bits that refuse clients' writes
     * (route.c), stored by the replication layer */
    struct mbox_counter repl_gate;
    struct repl *repl;          /* replication's server-wide state (repl.h) */
    struct shard_busy *busy_at; /* [shard] */
    int64_t start_ms;
    char run_id[41];
    char executable[256];
};

/* Counters of one shard, summed by INFO. */
struct shard_stats {
    uint64_t commands;
    uint64_t connections;
    uint64_t rejected_connections;
    uint64_t keyspace_hits;
    uint64_t keyspace_misses;
    uint64_t net_input_bytes;
    uint64_t net_output_bytes;
    uint64_t mbox_sent;
    uint64_t mbox_received;
    uint64_t mbox_overflowed;
    uint64_t error_replies;
    uint64_t reads_processed;  /* recv completions with data */
    uint64_t writes_processed; /* send completions */
    uint64_t dirty;            /* write commands that did not fail (save points) */
    uint64_t evicted_keys;     /* keys maxmemory evicted (evict.c) */
    uint64_t batch_waits;      /* sleeps that waited for a batch (io-batch-wait-us) */
    uint64_t loop_cycles;      /* loop iterations (Redis 7.2's eventloop_cycles) */
    uint64_t io_waits;         /* iterations that slept in the kernel */
    uint64_t doorbells;        /* wake-up messages sent to sleeping shards */
};

/*
 * INFO's instantaneous_* metrics, kept as Redis keeps them: every
 * SHARD_METRIC_PERIOD_US the cron turns each counter's growth since the last
 * sample into a rate per second, into a ring of SHARD_METRIC_SAMPLES; a
 * metric is the ring's average. Only the shard's own thread touches it.
 */
#define SHARD_METRIC_SAMPLES   16
#define SHARD_METRIC_PERIOD_US 100000
enum shard_metric {
    SHARD_METRIC_OPS,     /* stats.commands */
    SHARD_METRIC_NET_IN,  /* stats.net_input_bytes */
    SHARD_METRIC_NET_OUT, /* stats.net_output_bytes */
    SHARD_METRICS,
};
struct shard_metrics {
    int64_t last_us;              /* when the last sample was taken, 0 = never */
    uint64_t last[SHARD_METRICS]; /* the counters then */
    int64_t rate[SHARD_METRICS][SHARD_METRIC_SAMPLES];
    int idx; /* the slot the next sample fills */
    /* used memory (sh_alloc_process_bytes, process-wide) as sampled by shard
     * 0 alone, 0 elsewhere and where the allocator does not report it; INFO
     * also raises mem_peak on the client's core */
    int64_t mem_peak;
    int64_t mem_startup; /* the first sample, once every shard has started */
};

/* Per command, per shard: INFO commandstats. */
struct cmd_stat {
    uint64_t calls, usec, rejected, failed;
};

/* Error replies by their first word: INFO errorstats. */
#define SHARD_ERRSTATS 64
struct err_stat {
    char name[32];
    uint64_t count;
};

/*
 * Busy scripts (busy-reply-threshold, Redis's "timed out" script). A script
 * that runs past the threshold makes its shard busy: the shard goes on
 * running it and, between slices of it, serves its own connections with
 * everything else stopped (no mailboxes, no timers: nothing else touches its
 * data), while every shard answers -BUSY to commands without the allow-busy
 * flag. SCRIPT KILL and FUNCTION KILL, from any core, ask for the kill in
 * the busy shard's state word (compare-and-swap against the WROTE bit, so a
 * script is killed only if it never wrote); SHUTDOWN kills it too.
 */
enum {
    SHARD_BUSY_ON = 1,    /* past the threshold, still running */
    SHARD_BUSY_FN = 2,    /* a function (FCALL), not EVAL */
    SHARD_BUSY_WROTE = 4, /* it wrote: UNKILLABLE */
    SHARD_BUSY_KILL = 8,  /* SCRIPT KILL / FUNCTION KILL asked */
};
/* Redis's -BUSY errors (without '-'): an EVAL script, a function. */
#define SHARD_BUSY_EVAL_ERR                                                                        \
    "BUSY Redis is busy running a script. You can only call SCRIPT KILL or SHUTDOWN NOSAVE."
#define SHARD_BUSY_FUNCTION_ERR                                                                    \
    "BUSY Redis is busy running a script. You can only call FUNCTION KILL or SHUTDOWN NOSAVE."
struct shard_busy {
    struct mbox_counter state; /* SHARD_BUSY_*: written by its shard, KILL by any */
    struct mbox_seqbuf info;   /* FUNCTION STATS' running_script (eval.c's encoding) */
};

struct msg_list {
    struct req *head, *tail;
};

struct shard {
    int id;
    int cpu;
    const struct server *srv;
    struct config cfg; /* this core's copy: CONFIG SET changes it here */
    pthread_t thread;

    struct io_uring ring;
    int ring_fd; /* read by producers for MSG_RING */
    struct mbox_sleeper sleeper;
    int listen_fd[CONFIG_MAX_BIND];
    int nlisten;

    /* provided-buffer ring for multishot recv */
    struct io_uring_buf_ring *br;
    char *bufs;
    unsigned nbufs, bufsz;
    unsigned br_pending; /* buffers added but not yet advanced */

    struct kdb **db; /* cfg.databases of them */
    struct pubsub *ps;
    struct acl *acl;        /* this core's copy of the users */
    struct block *blk;      /* blocking pops: waiters here, clients blocked here */
    struct sched sched;     /* transactions queued here, their locks, who waits */
    void *watch;            /* WATCHed keys owned here (txn/watch.c) */
    uint32_t nwatched;      /* how many: 0 keeps writes from looking */
    void *scripts;          /* the Lua vm and its host state (txn/eval.c) */
    struct conn **monitors; /* this core's MONITOR clients */
    int nmonitors;

    /* mailboxes: in[i] carries messages from shard i to us; out[i] points to
     * shards[i]->in[id] */
    struct mbox *in;
    struct mbox **out;
    struct msg_list *overflow; /* per target, when out[i] is full */
    bool *out_pending;         /* pushed since last publish */

    /* connections */
    struct conn *conns;       /* all, doubly linked */
    struct conn *send_list;   /* with bytes to send this iteration */
    struct conn *resume_list; /* paused parsers to retry */
    uint64_t next_conn_seq;
    int nconns;
    struct slot *free_slots;
    int nfree_slots;
    /* messages of the standard size (route.c) this core sent, came back and
     * may send again: no allocation per forwarded request */
    struct req *free_reqs;
    int nfree_reqs;
    long msgs_out;          /* messages sent that will come back (EXEC, RELEASE) */
    uint32_t accept_paused; /* listeners to re-arm from the timer (EMFILE) */
    int64_t accept_warned_us;

    int64_t now_ms;  /* cached unix ms, refreshed every loop iteration */
    int64_t mono_us; /* cached monotonic us */
    /* the last clock read of command timing, where the next command's time
     * starts (refreshed at the start of each batch) */
    int64_t clock_us;
    int64_t next_cron_us;
    uint64_t rnd;
    bool stopping;
    bool drained;
    /* connections that sent in this millisecond and the one before (a
     * busy shard's batch wait, shard.c); whether the kernel has the wait */
    uint32_t active_ms, active_now, active_before;
    int64_t active_ms_end_us;
    /* stats.commands when this millisecond began, and the commands parsed
     * in the one before (a batch wait's rate gate, shard.c) */
    uint64_t cmds_at_ms, cmds_before;
    bool min_wait_ok;
    bool active_expire_off; /* DEBUG SET-ACTIVE-EXPIRE 0: cron expires nothing */
    /* a busy script runs here (shard_busy_begin); the connection whose
     * command runs it reads nothing until the script ends: its receives are
     * kept in busy_stash, replayed in order after */
    bool busy;
    bool stop_after_busy; /* a shutdown came while busy */
    struct conn *busy_protect;
    struct rbuf busy_stash;

    /* the layers above have work for the loop (shard_hooks.iter): it must
     * not sleep */
    bool bg_work;
    void *persist; /* this core's persistence state (persist/) */
    void *aof;     /* this core's append-only file (persist/aof.c) */
    /* propagation (the AOF): on while writes must be logged; the transaction
     * whose part runs now (0: none, SHARD_PROP_LOCAL: an EXEC or script run
     * in place), and how deep such in-place runs nest */
    bool prop_on;
    uint64_t prop_seq;
    int prop_local_depth;
    /* maxmemory (evict.c): this thread's allocated bytes when it started
     * serving (not counted for eviction) */
    int64_t mem_base;
    /* pub/sub: 1 + the core a forwarded request came from while it runs
     * here (0 otherwise); its PUBLISHes and notifications are fanned out
     * from there, after what that core published before (pubsub.c) */
    int pub_origin;
    void *evict_pool; /* evict.c's candidates */
    bool allow_oom;   /* an allow-oom script runs: its writes pass maxmemory */
    /* client-side caching (tracking.h): its state, NULL until first used,
     * and the two words every command tests */
    struct tracking *tracking;
    uint32_t tracking_on;       /* commands here must be shown to tracking_after */
    uint32_t tracking_dispatch; /* clients here in OPTIN/OPTOUT mode */
    struct conn *internal;      /* the server's own client here (conn_internal) */
    /* this core's copy of CLIENT PAUSE (conn.h's CONN_PAUSE_*), set by the
     * PAUSE/UNPAUSE parts every shard runs, ended by the cron */
    int pause_mode;
    int64_t pause_end_ms;

    struct rbuf scratch; /* per-core scratch for replies */
    struct shard_stats stats;
    struct shard_metrics metrics;
    struct cmd_stat *cmdstats; /* cmdtab_nids() of them */
    /* SLOWLOG and LATENCY (cmd_diag.c); each NULL until its first entry */
    struct slowlog *slowlog;
    struct latency *latency;
    /* a command at least this slow (us) is looked at by cmd_diag: the lower
     * of the two thresholds, INT64_MAX when both are off */
    int64_t diag_min_us;
    struct err_stat errstats[SHARD_ERRSTATS];
};

/*
 * Work of the layers above that the loop runs (persist/), set once by main
 * before the shards start; NULL when unset.
 *   load    at start, on each shard's thread before it listens: fills its
 *           databases; a negative return stops the start-up
 *   iter    every loop iteration while sh->bg_work
 *   cron    every timer run
 *   stop    a signal asked for a shutdown (on shard 0 only): true when the
 *           layer takes it over (it calls shard_shutdown_from when done)
 *   exit    at the shard's teardown, after its ring is gone
 */
struct shard_hooks {
    int (*load)(struct shard *sh);
    void (*iter)(struct shard *sh);
    void (*cron)(struct shard *sh);
    bool (*stop)(struct shard *sh);
    void (*exit)(struct shard *sh); /* the shard is going: free what it keeps */
    /* propagation, called only while sh->prop_on: a write command (or an
     * internal part) ran here with this reply; a key expired; transaction
     * seq's part here is over (nparts: the shards that took part, 0 when it
     * cannot write); the iteration's records must reach the file now
     * (before any reply or mailbox message leaves) */
    void (*prop)(struct shard *sh, const struct cmd_spec *cmd, int dbid, int argc,
                 const struct sh_slice *argv, const char *reply, size_t len);
    void (*prop_expired)(struct shard *sh, int dbid, const char *key, size_t klen);
    void (*prop_txn_end)(struct shard *sh, uint64_t seq, int nparts);
    void (*prop_flush)(struct shard *sh);
    /* a key written outside any command's handler (a coordinator's step
     * on its own core): its state now */
    void (*prop_key)(struct shard *sh, int dbid, const char *key, size_t klen);
};
extern struct shard_hooks shard_hooks;

/* An io_uring operation of a layer above: submitted with shard_io_data as
 * its user_data, its completion calls done on the shard's thread. The
 * object must be 8-byte aligned (any allocation is). */
struct shard_io {
    void (*done)(struct shard *sh, struct shard_io *io, int res);
};
static inline uint64_t shard_io_data(struct shard_io *io)
{
    return (uint64_t)(uintptr_t)io; /* tag 0 */
}
/* Posts a completion of io (res) into shard `to`'s ring, from sh's: io->done
 * runs there, on its thread. A doorbell between cores that needs no
 * mailbox (and so waits for no lock). */
void shard_ring_io(struct shard *sh, int to, struct shard_io *io, int res);
/* An SQE of this shard's ring (submitting to make room when it is full). */
struct io_uring_sqe *shard_get_sqe(struct shard *sh);

/* Counts one executed command: its time since t0_us (take it from
 * sh->clock_us, which this call moves on), and whether its reply (starting at
 * reply[0]) was an error. Returns that time in microseconds, or -1 for an
 * internal command (not counted). */
int64_t shard_count_call(struct shard *sh, const struct cmd_spec *cmd, int64_t t0_us,
                         const char *reply, size_t len);
/* Counts an error reply (errorstats) without a call (rejected commands,
 * protocol errors). */
void shard_count_error(struct shard *sh, const char *reply, size_t len);

/* A write command ran here with this reply: unless it failed, one more
 * change for the save points (published for the other cores). */
static inline void shard_note_dirty(struct shard *sh, const char *reply, size_t len)
{
    if (len == 0 || reply[0] != '-') {
        sh->stats.dirty++;
        mbox_counter_set(&((struct server *)sh->srv)->dirty[sh->id], (long)sh->stats.dirty);
    }
}

#define SHARD_PROP_LOCAL UINT64_MAX

/* A command ran here with this reply: the AOF logs it if it writes (and
 * replication's tap also takes PUBLISH, which may replicate). */
static inline void shard_prop(struct shard *sh, const struct cmd_spec *cmd, int dbid, int argc,
                              const struct sh_slice *argv, const char *reply, size_t len)
{
    if (SH_UNLIKELY(sh->prop_on) &&
        ((cmd->flags & (CMD_WRITE | CMD_MAY_REPLICATE)) || cmd->id == 0)) {
        shard_hooks.prop(sh, cmd, dbid, argc, argv, reply, len);
    }
}

/* A coordinator of transaction seq wrote key here itself (no handler ran):
 * the AOF logs the key's state, in the transaction's part. */
static inline void shard_prop_key(struct shard *sh, uint64_t seq, int dbid, const char *key,
                                  size_t klen)
{
    if (SH_UNLIKELY(sh->prop_on)) {
        uint64_t outer = sh->prop_seq;

        sh->prop_seq = seq ? seq : outer;
        shard_hooks.prop_key(sh, dbid, key, klen);
        sh->prop_seq = outer;
    }
}

/* An EXEC or a script that runs in place, on this core only: its writes are
 * logged as one MULTI/EXEC block. Nests. */
static inline void shard_prop_local_begin(struct shard *sh)
{
    if (SH_UNLIKELY(sh->prop_on) && sh->prop_local_depth++ == 0 && sh->prop_seq == 0) {
        sh->prop_seq = SHARD_PROP_LOCAL;
    }
}

static inline void shard_prop_local_end(struct shard *sh)
{
    if (sh->prop_local_depth > 0 && --sh->prop_local_depth == 0 &&
        sh->prop_seq == SHARD_PROP_LOCAL) {
        sh->prop_seq = 0;
        if (sh->prop_on) {
            shard_hooks.prop_txn_end(sh, SHARD_PROP_LOCAL, 1);
        }
    }
}

/* Busy scripts (see struct shard_busy). shard_busy_begin: the script run by
 * protect's command (NULL: by a forwarded request) passed the threshold;
 * info is what FUNCTION STATS shows. */
void shard_busy_begin(struct shard *sh, bool fn, bool wrote, struct conn *protect, const void *info,
                      size_t info_len);
/* Between two slices of the script: serves this core's connections once,
 * without blocking. Returns true when the script must stop now (a kill was
 * asked, or the server is shutting down). */
bool shard_busy_poll(struct shard *sh);
/* Before the busy script writes: marks it as having written; false when a
 * kill was granted first (it must not write). */
bool shard_busy_write(struct shard *sh);
/* The script ended. */
void shard_busy_end(struct shard *sh);
/* The -BUSY error while some shard is busy (without '-'), NULL when none. */
const char *shard_busy_error(const struct server *srv);
/* A connection is freed: it stops being protected. */
void shard_busy_forget(struct shard *sh, struct conn *c);

/* Creates the shards (rings are made inside their threads) and starts them.
 * Returns 0 or -errno. */
SH_MUST_CHECK int shard_start_all(struct server *srv);
/* Shards when the config says 0: the CPUs of the affinity mask. */
int shard_default_count(void);
/* Waits for every shard thread to end and frees them. */
void shard_join_all(struct server *srv);
/* Asks every shard to shut down (from main, on SIGTERM/SIGINT). */
void shard_request_shutdown(struct server *srv);
/* From a shard: ask every shard, this one included, to shut down. */
void shard_shutdown_from(struct shard *sh);

/* Owner of a key: xxh3_64 of the key or of its non-empty {tag}. *hash is
 * set to the key's own table hash (kdict_hash). */
/* A listening TCP socket on addr ("*" and "::*" for any) and port: its fd,
 * or -errno (-EINVAL, logged naming directive, for an address that does not
 * parse). clients: the client port's options, SO_REUSEPORT (every shard
 * listens on it), TCP_NODELAY, IPV6_V6ONLY; without, a port taken by
 * anyone fails. */
int shard_listen(const char *addr, int port, int backlog, bool clients, const char *directive);
int shard_owner(int nshards, const char *key, size_t len, uint64_t *hash);
/* The next number of sh's random stream (xorshift64* over sh->rnd): random
 * picks, and seeds of new dicts and skiplists. On sh's thread only. */
uint64_t shard_rand(struct shard *sh);
/* 40 random hex digits and a NUL (/dev/urandom): a run id, a replication
 * id, a diskless sync's EOF mark. */
void shard_new_id(char out[41]);

/* Ring helpers for the connection module (this shard's thread only). */
void shard_arm_recv(struct shard *sh, struct conn *c);
void shard_arm_send(struct shard *sh, struct conn *c, const void *p, size_t n);
/* Ends c's multishot recv (its last CQE carries -ECANCELED). */
void shard_cancel_recv(struct shard *sh, struct conn *c);
const char *shard_buffer(struct shard *sh, unsigned bid);
void shard_recycle_buffer(struct shard *sh, unsigned bid);

/* Queues msg for shard `to` (published at the end of the iteration). Takes
 * ownership until the message comes back. */
void shard_send(struct shard *sh, int to, struct req *msg);

/* SWAPDB here: databases a and b trade places (their key hooks follow). */
void shard_swap_db(struct shard *sh, int a, int b);

/* The database dbid of this shard. */
static inline struct kdb *shard_db(struct shard *sh, int dbid)
{
    return sh->db[dbid];
}
