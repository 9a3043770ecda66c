/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * config.h: the server's configuration: redis.conf syntax in a file given as
 * the first argument, each directive also accepted as "--directive value" on
 * the command line (later wins), and CONFIG GET/SET for the tunable ones.
 *
 * main loads one struct config before the shards start; each shard then
 * works on its own copy (config_copy), so CONFIG SET, which fans out to every
 * shard, changes each copy on its own core and nothing is shared mutably.
 */
#pragma once

#include "shardis/kval.h"
#include "shardis/sh.h"

#define CONFIG_MAX_BIND 16

enum config_loglevel {
    LOG_DEBUG = 0,
    LOG_VERBOSE = 1,
    LOG_NOTICE = 2,
    LOG_WARNING = 3,
    LOG_NOTHING = 4,
};

/* keyspace notification classes, Redis's bits */
enum {
    NOTIFY_KEYSPACE = 1 << 0,  /* K */
    NOTIFY_KEYEVENT = 1 << 1,  /* E */
    NOTIFY_GENERIC = 1 << 2,   /* g */
    NOTIFY_STRING = 1 << 3,    /* $ */
    NOTIFY_LIST = 1 << 4,      /* l */
    NOTIFY_SET = 1 << 5,       /* s */
    NOTIFY_HASH = 1 << 6,      /* h */
    NOTIFY_ZSET = 1 << 7,      /* z */
    NOTIFY_EXPIRED = 1 << 8,   /* x */
    NOTIFY_EVICTED = 1 << 9,   /* e */
    NOTIFY_STREAM = 1 << 10,   /* t */
    NOTIFY_KEY_MISS = 1 << 11, /* m */
    NOTIFY_LOADED = 1 << 12,   /* module only */
    NOTIFY_MODULE = 1 << 13,   /* d */
    NOTIFY_NEW = 1 << 14,      /* n */
    NOTIFY_ALL = NOTIFY_GENERIC | NOTIFY_STRING | NOTIFY_LIST | NOTIFY_SET | NOTIFY_HASH |
                 NOTIFY_ZSET | NOTIFY_EXPIRED | NOTIFY_EVICTED | NOTIFY_STREAM | NOTIFY_MODULE,
};

/* client-output-buffer-limit classes */
enum {
    CONFIG_COBL_NORMAL = 0,
    CONFIG_COBL_REPLICA = 1,
    CONFIG_COBL_PUBSUB = 2,
    CONFIG_COBL_CLASSES = 3,
};

struct config_cobl {
    long long hard; /* bytes, 0 = none */
    long long soft; /* bytes, 0 = none */
    long long soft_seconds;
};

struct config {
    char *bind[CONFIG_MAX_BIND];
    int nbind;
    long long port;
    long long shards; /* 0 = the CPUs of the affinity mask */
    long long databases;
    long long maxclients;
    long long timeout; /* seconds, 0 = never */
    long long tcp_keepalive;
    long long tcp_backlog;
    long long hz;
    int loglevel;             /* enum config_loglevel */
    long long protected_mode; /* 1: no password -> loopback clients only */
    /* enable-debug-command: 0 no, 1 yes, 2 local (loopback and unix-socket
     * clients only); shardis's default is local, Redis's no */
    long long enable_debug_command;
    /* enable-protected-configs: 0 no (Redis's default), 1 yes, 2 local
     * (taken as yes by CONFIG SET); dir and dbfilename are protected */
    long long enable_protected_configs;
    char *logfile;
    char *pidfile;
    char *requirepass; /* "" = none */
    char *aclfile;     /* "" = none: users come from ACL SETUSER only */
    long long proto_max_bulk_len;
    long long client_query_buffer_limit;
    char *config_file;        /* absolute path or "" */
    char *save;               /* save points: "<seconds> <changes> ...", "" = none */
    bool save_from_file;      /* a save line was read: the next appends */
    char *dir;                /* the working directory (chdir'd), absolute */
    char *dbfilename;         /* the RDB file's name in dir */
    long long rdbcompression; /* LZF for strings in snapshots */
    long long rdbchecksum;    /* CRC-64 at the end of snapshots */
    long long stop_writes_on_bgsave_error;
    long long rdb_key_save_delay; /* us after each key the walk writes (tests), 0 = none */
    /* maxmemory and eviction (core/evict.c); 0 = no limit */
    long long maxmemory;
    char *maxmemory_policy; /* Redis's eight names, lower case */
    long long maxmemory_samples;
    long long maxmemory_eviction_tenacity;
    long long lfu_log_factor;
    long long lfu_decay_time;
    /* append-only files (persist/aof.c) */
    long long appendonly;
    char *appendfsync;    /* "always" | "everysec" | "no" */
    char *appendfilename; /* the files' names start with it */
    char *appenddirname;  /* their folder, in dir */
    long long aof_load_truncated;
    long long aof_use_rdb_preamble;
    long long aof_timestamp_enabled;
    long long aof_rewrite_incremental_fsync;
    long long no_appendfsync_on_rewrite;
    long long auto_aof_rewrite_percentage;
    long long auto_aof_rewrite_min_size;
    int notify_keyspace_events; /* NOTIFY_* bits */
    struct config_cobl cobl[CONFIG_COBL_CLASSES];
    long long slowlog_log_slower_than;   /* microseconds; -1 = off, 0 = every command */
    long long busy_reply_threshold;      /* ms a script runs before -BUSY; 0 = never */
    long long hll_sparse_max_bytes;      /* sparse HLL -> dense past this (bytes) */
    long long tracking_table_max_keys;   /* CLIENT TRACKING keys (0: no limit) */
    long long stream_node_max_bytes;     /* a stream node's listpack bytes (0: no limit) */
    long long stream_node_max_entries;   /* a stream node's entries (0: no limit) */
    long long slowlog_max_len;           /* entries kept */
    long long acllog_max_len;            /* ACL LOG entries kept (per shard and merged) */
    long long latency_monitor_threshold; /* milliseconds; 0 = off */
    long long latency_tracking;          /* 1: per-command latency histograms */
    long long io_batch_wait_us;          /* a busy shard's wait for a batch (shard.c) */
    struct kval_limits limits;           /* the *-max-listpack-* encoding thresholds */
    /* "50 99 99.9": the percentiles INFO latencystats shows */
    char *latency_tracking_info_percentiles;
    /* GET /metrics over HTTP on shard 0 (core/metrics.c): port (0 = off) and
     * address; set at start only */
    long long metrics_port;
    char *metrics_bind;
    /* replication (repl/): "host port" of the primary ("" = this server is
     * a primary), and the directives Redis 7.0 has for it */
    char *replicaof;
    char *masterauth; /* "" = none */
    char *masteruser; /* "" = none (AUTH with the password only) */
    long long replica_read_only;
    long long replica_serve_stale_data;
    long long replica_priority;
    char *replica_announce_ip; /* "" = none */
    long long replica_announce_port;
    long long replica_announced;
    long long replica_lazy_flush;
    long long repl_backlog_size;
    long long repl_backlog_ttl;
    long long repl_timeout;
    long long repl_ping_replica_period;
    long long repl_diskless_sync;
    long long repl_diskless_sync_delay;
    long long repl_diskless_sync_max_replicas;
    char *repl_diskless_load; /* "disabled" | "on-empty-db" | "swapdb" */
    long long repl_disable_tcp_nodelay;
    long long min_replicas_to_write;
    long long min_replicas_max_lag;
};

/* Built-in defaults (they match deploy/shardis.conf). */
void config_init(struct config *c);
void config_fini(struct config *c);
/* Deep copy into dst (initialised or zeroed). */
void config_copy(struct config *dst, const struct config *src);

/* Loads argv[1] as a file when it does not start with "--", then the
 * "--directive value..." pairs. Returns 0, or -1 with err set to
 * "<file>:<line>: <reason>" (or "command line: <reason>"). */
SH_MUST_CHECK int config_load_args(struct config *c, int argc, char **argv, char *err,
                                   size_t errlen);
/* Applies one directive (name, values) as the file would. Returns 0 or -1
 * with err set to the reason. */
SH_MUST_CHECK int config_apply(struct config *c, const char *name, int nval,
                               const struct sh_slice *val, char *err, size_t errlen);

/* CONFIG GET of one argument, as Redis 7.0: an argument without a glob
 * character is a name (any case, a directive's or an alias's such as
 * hash-max-ziplist-value) and fn gets it as given; a pattern (matched
 * without case) gives every directive name and alias it matches. Calls
 * fn(name, value) for each; name and value are borrowed for the call.
 * Cost: O(directives) per pattern. */
typedef void config_each_fn(void *arg, const char *name, const char *value);
void config_get(const struct config *c, const char *pattern, size_t plen, config_each_fn *fn,
                void *arg);
/* CONFIG SET name value [name value ...] (npairs pairs in args[0 .. 2 *
 * npairs - 1], borrowed), in Redis 7.0's order: the names first (the first
 * unknown, immutable or repeated one fails, named as given), then each value
 * in turn. Returns 0, or -1 with Redis's error text in err ("ERR Unknown
 * option or number of arguments for CONFIG SET - 'x'", "ERR CONFIG SET
 * failed (possibly related to argument 'x') - ..."); c may then be half
 * changed, so callers set a copy and drop it on error. */
SH_MUST_CHECK int config_set(struct config *c, int npairs, const struct sh_slice *args, char *err,
                             size_t errlen);
/* CONFIG REWRITE: rewrites the file c was loaded from as Redis 7.0 does.
 * Comments, blank lines and order stay; each directive's lines get its
 * running value (extra lines of a single-valued one are dropped); directives
 * missing from the file that differ from the built-in defaults are appended
 * under "# Generated by CONFIG REWRITE". The new text goes to a temp file in
 * the same directory, fsync'd, then rename()d over the old one, so a crash
 * leaves either file whole. Returns 0, or -1 with Redis's error text in err.
 * Blocking file I/O: Redis too does it on the thread that runs commands.
 * Cost: O(lines of the file x directives). */
SH_MUST_CHECK int config_rewrite(const struct config *c, char *err, size_t errlen);
const char *config_loglevel_name(int level);
