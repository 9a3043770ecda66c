/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * config.c: configuration directives (see config.h).
 *
 * One table describes every directive: its name, kind (integer, memory size,
 * string, log level, bind list), where it lives in struct config, its bounds,
 * and whether CONFIG SET may change it. File, command line, CONFIG GET and
 * CONFIG SET all go through that table, so they cannot disagree; CONFIG
 * REWRITE writes each directive back from it in Redis's form (see below).
 */
#include "shardis/config.h"

#include "config_internal.h"
#include "shardis/glob.h"
#include "shardis/reply.h"
#include "shardis/resp.h"
#include "shardis/util.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

const struct directive config_directives[] = {
    { "bind", DIR_BIND, F(bind), 0, 0, false },
    { "port", DIR_INT, F(port), 0, 65535, false },
    { "shards", DIR_INT, F(shards), 0, 1024, false },
    { "databases", DIR_INT, F(databases), 1, 1024, false },
    { "maxclients", DIR_INT, F(maxclients), 1, INT_MAX, true },
    { "timeout", DIR_INT, F(timeout), 0, INT_MAX, true },
    { "tcp-keepalive", DIR_INT, F(tcp_keepalive), 0, INT_MAX, true },
    { "tcp-backlog", DIR_INT, F(tcp_backlog), 0, INT_MAX, false },
    /* Prometheus metrics over HTTP (core/metrics.c) */
    { "metrics-port", DIR_INT, F(metrics_port), 0, 65535, false },
    { "metrics-bind", DIR_STR, F(metrics_bind), 0, 0, false },
    { "hz", DIR_INT, F(hz), 1, 500, true },
    /* how long a busy shard may wait to gather completions (0: never) */
    { "io-batch-wait-us", DIR_INT, F(io_batch_wait_us), 0, 10000, true },
    { "loglevel", DIR_LOGLEVEL, F(loglevel), 0, 0, true },
    { "protected-mode", DIR_BOOL, F(protected_mode), 0, 1, true },
    { "enable-debug-command", DIR_PROTECTED, F(enable_debug_command), 0, 2, false },
    { "enable-protected-configs", DIR_PROTECTED, F(enable_protected_configs), 0, 2, false },
    { "logfile", DIR_STR, F(logfile), 0, 0, false },
    { "pidfile", DIR_STR, F(pidfile), 0, 0, false },
    { "requirepass", DIR_STR, F(requirepass), 0, 0, true },
    { "aclfile", DIR_STR, F(aclfile), 0, 0, false },
    /* bounded so that size arithmetic on a bulk's length cannot overflow */
    { "proto-max-bulk-len", DIR_MEM, F(proto_max_bulk_len), 1024 * 1024, 1LL << 40, true },
    { "client-query-buffer-limit", DIR_MEM, F(client_query_buffer_limit), 1024 * 1024, LLONG_MAX,
      true },
    /* persistence (persist/) */
    { "save", DIR_WORDS, F(save), 0, 0, true },
    { "dir", DIR_STR, F(dir), 0, 0, true },
    { "dbfilename", DIR_STR, F(dbfilename), 0, 0, true },
    { "rdbcompression", DIR_BOOL, F(rdbcompression), 0, 1, true },
    { "rdbchecksum", DIR_BOOL, F(rdbchecksum), 0, 1, true },
    { "stop-writes-on-bgsave-error", DIR_BOOL, F(stop_writes_on_bgsave_error), 0, 1, true },
    /* microseconds the snapshot's walk waits after each key (tests) */
    { "rdb-key-save-delay", DIR_INT, F(rdb_key_save_delay), 0, INT_MAX, true },
    /* maxmemory (core/evict.c): each shard keeps within its share */
    { "maxmemory", DIR_MEM, F(maxmemory), 0, LLONG_MAX, true },
    { "maxmemory-policy", DIR_STR, F(maxmemory_policy), 0, 0, true },
    { "maxmemory-samples", DIR_INT, F(maxmemory_samples), 1, INT_MAX, true },
    { "maxmemory-eviction-tenacity", DIR_INT, F(maxmemory_eviction_tenacity), 0, 100, true },
    { "lfu-log-factor", DIR_INT, F(lfu_log_factor), 0, INT_MAX, true },
    { "lfu-decay-time", DIR_INT, F(lfu_decay_time), 0, INT_MAX, true },
    { "appendonly", DIR_BOOL, F(appendonly), 0, 1, true },
    { "appendfsync", DIR_STR, F(appendfsync), 0, 0, true },
    { "appendfilename", DIR_STR, F(appendfilename), 0, 0, false },
    { "appenddirname", DIR_STR, F(appenddirname), 0, 0, false },
    { "aof-load-truncated", DIR_BOOL, F(aof_load_truncated), 0, 1, true },
    { "aof-use-rdb-preamble", DIR_BOOL, F(aof_use_rdb_preamble), 0, 1, true },
    { "aof-timestamp-enabled", DIR_BOOL, F(aof_timestamp_enabled), 0, 1, true },
    { "aof-rewrite-incremental-fsync", DIR_BOOL, F(aof_rewrite_incremental_fsync), 0, 1, true },
    { "no-appendfsync-on-rewrite", DIR_BOOL, F(no_appendfsync_on_rewrite), 0, 1, true },
    { "auto-aof-rewrite-percentage", DIR_INT, F(auto_aof_rewrite_percentage), 0, INT_MAX, true },
    { "auto-aof-rewrite-min-size", DIR_MEM, F(auto_aof_rewrite_min_size), 0, LLONG_MAX, true },
    { "notify-keyspace-events", DIR_NOTIFY, F(notify_keyspace_events), 0, 0, true },
    { "client-output-buffer-limit", DIR_COBL, F(cobl), 0, 0, true },
    { "slowlog-log-slower-than", DIR_INT, F(slowlog_log_slower_than), -1, LLONG_MAX, true },
    { "slowlog-max-len", DIR_INT, F(slowlog_max_len), 0, LLONG_MAX, true },
    { "acllog-max-len", DIR_INT, F(acllog_max_len), 0, LLONG_MAX, true },
    { "latency-monitor-threshold", DIR_INT, F(latency_monitor_threshold), 0, LLONG_MAX, true },
    { "latency-tracking", DIR_BOOL, F(latency_tracking), 0, 1, true },
    /* words, each a percentile (checked and written as Redis writes them) */
    { "latency-tracking-info-percentiles", DIR_WORDS, F(latency_tracking_info_percentiles), 0, 0,
      true },
    /* milliseconds a script runs before other clients get -BUSY (0: never) */
    { "busy-reply-threshold", DIR_INT, F(busy_reply_threshold), 0, LLONG_MAX, true },
    { "hll-sparse-max-bytes", DIR_MEM, F(hll_sparse_max_bytes), 0, LLONG_MAX, true },
    /* keys CLIENT TRACKING remembers (0: no limit); each shard keeps its share */
    { "tracking-table-max-keys", DIR_INT, F(tracking_table_max_keys), 0, LLONG_MAX, true },
    /* a stream's listpack node is closed past either (0: no limit) */
    { "stream-node-max-bytes", DIR_MEM, F(stream_node_max_bytes), 0, LLONG_MAX, true },
    { "stream-node-max-entries", DIR_INT, F(stream_node_max_entries), 0, LLONG_MAX, true },
    /* value encodings (kval.h): compact below these, scalable above */
    { "hash-max-listpack-entries", DIR_INT, F(limits.hash_max_listpack_entries), 0, LLONG_MAX,
      true },
    /* memory values in Redis ("1kb", and "" reads as 0) */
    { "hash-max-listpack-value", DIR_MEM, F(limits.hash_max_listpack_value), 0, LLONG_MAX, true },
    { "list-max-listpack-size", DIR_INT, F(limits.list_max_listpack_size), -5, INT_MAX, true },
    /* quicklist nodes kept plain at each end; the others are LZF (0: none) */
    { "list-compress-depth", DIR_INT, F(limits.list_compress_depth), 0, INT_MAX, true },
    { "set-max-intset-entries", DIR_INT, F(limits.set_max_intset_entries), 0, LLONG_MAX, true },
    { "set-max-listpack-entries", DIR_INT, F(limits.set_max_listpack_entries), 0, LLONG_MAX, true },
    { "set-max-listpack-value", DIR_INT, F(limits.set_max_listpack_value), 0, LLONG_MAX, true },
    { "zset-max-listpack-entries", DIR_INT, F(limits.zset_max_listpack_entries), 0, LLONG_MAX,
      true },
    { "zset-max-listpack-value", DIR_MEM, F(limits.zset_max_listpack_value), 0, LLONG_MAX, true },
    /* replication (repl/); replicaof changes with REPLICAOF only */
    { "replicaof", DIR_WORDS, F(replicaof), 0, 0, false },
    { "masterauth", DIR_STR, F(masterauth), 0, 0, true },
    { "masteruser", DIR_STR, F(masteruser), 0, 0, true },
    { "replica-read-only", DIR_BOOL, F(replica_read_only), 0, 1, true },
    { "replica-serve-stale-data", DIR_BOOL, F(replica_serve_stale_data), 0, 1, true },
    { "replica-priority", DIR_INT, F(replica_priority), 0, INT_MAX, true },
    { "replica-announce-ip", DIR_STR, F(replica_announce_ip), 0, 0, true },
    { "replica-announce-port", DIR_INT, F(replica_announce_port), 0, 65535, true },
    { "replica-announced", DIR_BOOL, F(replica_announced), 0, 1, true },
    { "replica-lazy-flush", DIR_BOOL, F(replica_lazy_flush), 0, 1, true },
    { "repl-backlog-size", DIR_MEM, F(repl_backlog_size), 1, LLONG_MAX, true },
    { "repl-backlog-ttl", DIR_INT, F(repl_backlog_ttl), 0, INT_MAX, true },
    { "repl-timeout", DIR_INT, F(repl_timeout), 1, INT_MAX, true },
    { "repl-ping-replica-period", DIR_INT, F(repl_ping_replica_period), 1, INT_MAX, true },
    { "repl-diskless-sync", DIR_BOOL, F(repl_diskless_sync), 0, 1, true },
    { "repl-diskless-sync-delay", DIR_INT, F(repl_diskless_sync_delay), 0, INT_MAX, true },
    { "repl-diskless-sync-max-replicas", DIR_INT, F(repl_diskless_sync_max_replicas), 0, INT_MAX,
      true },
    { "repl-diskless-load", DIR_STR, F(repl_diskless_load), 0, 0, true },
    { "repl-disable-tcp-nodelay", DIR_BOOL, F(repl_disable_tcp_nodelay), 0, 1, true },
    { "min-replicas-to-write", DIR_INT, F(min_replicas_to_write), 0, INT_MAX, true },
    { "min-replicas-max-lag", DIR_INT, F(min_replicas_max_lag), 0, INT_MAX, true },
};
const size_t config_ndirectives = SH_ARRAY_LEN(config_directives);

/* Redis 7.0 still accepts the names of its ziplist days. An alias is a name
 * of its own, as in Redis: CONFIG GET answers under it (and a pattern that
 * matches both lists both), CONFIG SET's errors name it, and setting a
 * directive under both names in one CONFIG SET is not a duplicate. Redis
 * 7.0's cluster-slave-* aliases name directives shardis does not have. */
static const struct {
    const char *alias, *name;
} aliases[] = {
    { "hash-max-ziplist-entries", "hash-max-listpack-entries" },
    { "hash-max-ziplist-value", "hash-max-listpack-value" },
    { "list-max-ziplist-size", "list-max-listpack-size" },
    { "zset-max-ziplist-entries", "zset-max-listpack-entries" },
    { "zset-max-ziplist-value", "zset-max-listpack-value" },
    { "lua-time-limit", "busy-reply-threshold" },
    { "slaveof", "replicaof" },
    { "slave-read-only", "replica-read-only" },
    { "slave-serve-stale-data", "replica-serve-stale-data" },
    { "slave-priority", "replica-priority" },
    { "slave-announce-ip", "replica-announce-ip" },
    { "slave-announce-port", "replica-announce-port" },
    { "slave-lazy-flush", "replica-lazy-flush" },
    { "repl-ping-slave-period", "repl-ping-replica-period" },
    { "min-slaves-to-write", "min-replicas-to-write" },
    { "min-slaves-max-lag", "min-replicas-max-lag" },
};

static const struct {
    char c;
    int flag;
} notify_chars[] = {
    { 'g', NOTIFY_GENERIC },  { '$', NOTIFY_STRING },   { 'l', NOTIFY_LIST },
    { 's', NOTIFY_SET },      { 'h', NOTIFY_HASH },     { 'z', NOTIFY_ZSET },
    { 'x', NOTIFY_EXPIRED },  { 'e', NOTIFY_EVICTED },  { 't', NOTIFY_STREAM },
    { 'd', NOTIFY_MODULE },   { 'n', NOTIFY_NEW },      { 'K', NOTIFY_KEYSPACE },
    { 'E', NOTIFY_KEYEVENT }, { 'm', NOTIFY_KEY_MISS },
};

/* Redis's keyspaceEventsStringToFlags; -1 on an unknown character. */
static int notify_parse(const char *v, size_t len)
{
    int flags = 0;

    for (size_t i = 0; i < len; i++) {
        size_t j;

        if (v[i] == 'A') {
            flags |= NOTIFY_ALL;
            continue;
        }
        for (j = 0; j < SH_ARRAY_LEN(notify_chars); j++) {
            if (notify_chars[j].c == v[i]) {
                flags |= notify_chars[j].flag;
                break;
            }
        }
        if (j == SH_ARRAY_LEN(notify_chars)) {
            return -1;
        }
    }
    return flags;
}

/* Redis's keyspaceEventsFlagsToString. */
static void notify_format(int flags, char *buf, size_t len)
{
    size_t n = 0;

    if ((flags & NOTIFY_ALL) == NOTIFY_ALL && n + 1 < len) {
        buf[n++] = 'A';
    }
    for (size_t j = 0; j < SH_ARRAY_LEN(notify_chars) && n + 1 < len; j++) {
        int f = notify_chars[j].flag;

        /* with A, Redis 7.0 prints neither the classes A stands for nor 'n' */
        bool all = (flags & NOTIFY_ALL) == NOTIFY_ALL;

        if ((flags & f) && !(all && (f & (NOTIFY_ALL | NOTIFY_NEW)))) {
            buf[n++] = notify_chars[j].c;
        }
    }
    buf[n] = '\0';
}

const char *const config_cobl_names[] = { "normal", "slave", "pubsub" };

/* "class hard soft seconds" groups, as Redis parses them; all or nothing. */
static const char *cobl_parse(struct config *c, int nval, const struct sh_slice *val)
{
    struct config_cobl tmp[CONFIG_COBL_CLASSES];

    memcpy(tmp, c->cobl, sizeof(tmp));
    if (nval == 0 || nval % 4) {
        return "Wrong number of arguments in buffer limit configuration.";
    }
    for (int i = 0; i < nval; i += 4) {
        long long v[3];
        int cls = -1;

        if (sh_slice_eq_nocase(val[i], "normal")) {
            cls = CONFIG_COBL_NORMAL;
        } else if (sh_slice_eq_nocase(val[i], "slave") || sh_slice_eq_nocase(val[i], "replica")) {
            cls = CONFIG_COBL_REPLICA;
        } else if (sh_slice_eq_nocase(val[i], "pubsub")) {
            cls = CONFIG_COBL_PUBSUB;
        } else {
            return "Invalid client class specified in buffer limit configuration.";
        }
        for (int k = 0; k < 3; k++) {
            char num[64];
            struct sh_slice a = val[i + 1 + k];

            if (a.len >= sizeof(num)) {
                return "Error in hard, soft or soft_seconds setting in buffer limit "
                       "configuration.";
            }
            memcpy(num, a.ptr, a.len);
            num[a.len] = '\0';
            if (!util_memtoll(num, &v[k]) || v[k] < 0) {
                return "Error in hard, soft or soft_seconds setting in buffer limit "
                       "configuration.";
            }
        }
        tmp[cls].hard = v[0];
        tmp[cls].soft = v[1];
        tmp[cls].soft_seconds = v[2];
    }
    memcpy(c->cobl, tmp, sizeof(tmp));
    return NULL;
}

/* Where a directive's value lives in c. */
static void *field_of(struct config *c, const struct directive *d)
{
    return (char *)c + d->off;
}

static const char *const protected_names[] = { "no", "yes", "local" };

static const char *const loglevels[] = { "debug", "verbose", "notice", "warning", "nothing" };

const char *config_loglevel_name(int level)
{
    return level >= 0 && level < (int)SH_ARRAY_LEN(loglevels) ? loglevels[level] : "notice";
}

void config_init(struct config *c)
{
    memset(c, 0, sizeof(*c));
    c->bind[0] = sh_strdup("127.0.0.1");
    c->nbind = 1;
    c->port = 6379;
    c->shards = 0;
    c->databases = 16;
    c->maxclients = 10000;
    c->timeout = 0;
    c->tcp_keepalive = 300;
    c->tcp_backlog = 511;
    c->metrics_bind = sh_strdup("127.0.0.1");
    c->hz = 10;
    c->loglevel = LOG_NOTICE;
    c->protected_mode = 1;
    c->enable_debug_command = 2; /* local (Redis: no); tests and tools use DEBUG SLEEP */
    c->logfile = sh_strdup("");
    c->pidfile = sh_strdup("");
    c->requirepass = sh_strdup("");
    c->aclfile = sh_strdup("");
    c->proto_max_bulk_len = 512LL * 1024 * 1024;
    c->client_query_buffer_limit = 1024LL * 1024 * 1024;
    c->config_file = sh_strdup("");
    c->save = sh_strdup("3600 1 300 100 60 10000"); /* Redis 7.0's built-in */
    {
        char cwd[4096];

        c->dir = sh_strdup(getcwd(cwd, sizeof(cwd)) ? cwd : ".");
    }
    c->dbfilename = sh_strdup("dump.rdb");
    c->rdbcompression = 1;
    c->rdbchecksum = 1;
    c->stop_writes_on_bgsave_error = 1;
    c->maxmemory_policy = sh_strdup("noeviction");
    c->maxmemory_samples = 5;
    c->maxmemory_eviction_tenacity = 10;
    c->lfu_log_factor = 10;
    c->lfu_decay_time = 1;
    c->appendfsync = sh_strdup("everysec");
    c->appendfilename = sh_strdup("appendonly.aof");
    c->appenddirname = sh_strdup("appendonlydir");
    c->aof_load_truncated = 1;
    c->aof_use_rdb_preamble = 1;
    c->aof_rewrite_incremental_fsync = 1;
    c->auto_aof_rewrite_percentage = 100;
    c->auto_aof_rewrite_min_size = 64LL << 20;
    c->notify_keyspace_events = 0;
    c->cobl[CONFIG_COBL_NORMAL] = (struct config_cobl){ 0, 0, 0 };
    c->cobl[CONFIG_COBL_REPLICA] = (struct config_cobl){ 256LL << 20, 64LL << 20, 60 };
    c->cobl[CONFIG_COBL_PUBSUB] = (struct config_cobl){ 32LL << 20, 8LL << 20, 60 };
    c->slowlog_log_slower_than = 10000;
    c->busy_reply_threshold = 5000;
    c->hll_sparse_max_bytes = 3000;
    c->tracking_table_max_keys = 1000000;
    c->stream_node_max_bytes = 4096;
    c->stream_node_max_entries = 100;
    c->slowlog_max_len = 128;
    c->acllog_max_len = 128;
    c->latency_monitor_threshold = 0;
    c->latency_tracking = 1;
    c->io_batch_wait_us = 50;
    c->latency_tracking_info_percentiles = sh_strdup("50 99 99.9");
    c->replicaof = sh_strdup("");
    c->masterauth = sh_strdup("");
    c->masteruser = sh_strdup("");
    c->replica_read_only = 1;
    c->replica_serve_stale_data = 1;
    c->replica_priority = 100;
    c->replica_announce_ip = sh_strdup("");
    c->replica_announced = 1;
    c->repl_backlog_size = 1LL << 20;
    c->repl_backlog_ttl = 3600;
    c->repl_timeout = 60;
    c->repl_ping_replica_period = 10;
    c->repl_diskless_sync = 1;
    c->repl_diskless_sync_delay = 5;
    c->repl_diskless_load = sh_strdup("disabled");
    c->min_replicas_max_lag = 10;
    c->limits = (struct kval_limits){
        .hash_max_listpack_entries = 512,
        .hash_max_listpack_value = 64,
        .list_max_listpack_size = -2,
        .list_compress_depth = 0,
        .set_max_intset_entries = 512,
        .set_max_listpack_entries = 128,
        .set_max_listpack_value = 64,
        .zset_max_listpack_entries = 128,
        .zset_max_listpack_value = 64,
    };
}

void config_fini(struct config *c)
{
    for (int i = 0; i < c->nbind; i++) {
        sh_free(c->bind[i]);
    }
    sh_free(c->logfile);
    sh_free(c->pidfile);
    sh_free(c->requirepass);
    sh_free(c->aclfile);
    sh_free(c->config_file);
    sh_free(c->save);
    sh_free(c->dir);
    sh_free(c->dbfilename);
    sh_free(c->latency_tracking_info_percentiles);
    sh_free(c->metrics_bind);
    sh_free(c->maxmemory_policy);
    sh_free(c->appendfsync);
    sh_free(c->appendfilename);
    sh_free(c->appenddirname);
    sh_free(c->replicaof);
    sh_free(c->masterauth);
    sh_free(c->masteruser);
    sh_free(c->replica_announce_ip);
    sh_free(c->repl_diskless_load);
    memset(c, 0, sizeof(*c));
}

void config_copy(struct config *dst, const struct config *src)
{
    *dst = *src;
    for (int i = 0; i < src->nbind; i++) {
        dst->bind[i] = sh_strdup(src->bind[i]);
    }
    dst->logfile = sh_strdup(src->logfile);
    dst->pidfile = sh_strdup(src->pidfile);
    dst->requirepass = sh_strdup(src->requirepass);
    dst->aclfile = sh_strdup(src->aclfile);
    dst->config_file = sh_strdup(src->config_file);
    dst->save = sh_strdup(src->save);
    dst->dir = sh_strdup(src->dir);
    dst->dbfilename = sh_strdup(src->dbfilename);
    dst->latency_tracking_info_percentiles = sh_strdup(src->latency_tracking_info_percentiles);
    dst->metrics_bind = sh_strdup(src->metrics_bind);
    dst->maxmemory_policy = sh_strdup(src->maxmemory_policy);
    dst->appendfsync = sh_strdup(src->appendfsync);
    dst->appendfilename = sh_strdup(src->appendfilename);
    dst->appenddirname = sh_strdup(src->appenddirname);
    dst->replicaof = sh_strdup(src->replicaof);
    dst->masterauth = sh_strdup(src->masterauth);
    dst->masteruser = sh_strdup(src->masteruser);
    dst->replica_announce_ip = sh_strdup(src->replica_announce_ip);
    dst->repl_diskless_load = sh_strdup(src->repl_diskless_load);
}

static bool name_eq(const char *known, const char *name, size_t len)
{
    return strlen(known) == len && strncasecmp(known, name, len) == 0;
}

/* The directive called name (case-insensitive), or NULL. With canon, also
 * the lower-case name it was found under: an alias or the directive's own. */
const struct directive *config_find_directive(const char *name, size_t len, const char **canon)
{
    const char *as = NULL;

    for (size_t i = 0; i < SH_ARRAY_LEN(aliases); i++) {
        if (name_eq(aliases[i].alias, name, len)) {
            as = aliases[i].alias;
            name = aliases[i].name;
            len = strlen(name);
        }
    }
    for (size_t i = 0; i < SH_ARRAY_LEN(config_directives); i++) {
        if (name_eq(config_directives[i].name, name, len)) {
            if (canon) {
                *canon = as ? as : config_directives[i].name;
            }
            return &config_directives[i];
        }
    }
    return NULL;
}

/* A memory value as Redis's memtoull reads it: digits and an optional unit
 * (1k = 1000, 1kb = 1024 ...), no sign; "" reads as 0. */
static bool mem_parse(const char *v, size_t vlen, long long *x)
{
    char buf[64];

    if (vlen == 0) {
        *x = 0;
        return true;
    }
    if (vlen >= sizeof(buf) || v[0] == '-') {
        return false;
    }
    memcpy(buf, v, vlen);
    buf[vlen] = '\0';
    return util_memtoll(buf, x);
}

/* Parses one value into the field; returns NULL or the reason it failed
 * (in a per-thread buffer when it names the bounds). */
static const char *parse_value(struct config *c, const struct directive *d, const char *v,
                               size_t vlen)
{
    static __thread char why[128];
    long long x;
    void *field = (char *)c + d->off;

    switch (d->kind) {
    case DIR_INT:
    case DIR_MEM:
        if (d->kind == DIR_INT && !util_str2ll(v, vlen, &x)) {
            return "argument couldn't be parsed into an integer";
        }
        if (d->kind == DIR_MEM && !mem_parse(v, vlen, &x)) {
            return "argument must be a memory value";
        }
        if (x < d->min || x > d->max) {
            snprintf(why, sizeof(why), "argument must be between %lld and %lld inclusive", d->min,
                     d->max);
            return why;
        }
        *(long long *)field = x;
        return NULL;
    case DIR_STR:
        if (d->off == F(appendfsync) && !(vlen == 6 && strncasecmp(v, "always", 6) == 0) &&
            !(vlen == 8 && strncasecmp(v, "everysec", 8) == 0) &&
            !(vlen == 2 && strncasecmp(v, "no", 2) == 0)) {
            return "argument(s) must be one of the following: everysec, always, no";
        }
        if ((d->off == F(appendfilename) || d->off == F(appenddirname)) &&
            (vlen == 0 || memchr(v, '/', vlen) || (vlen == 1 && v[0] == '.') ||
             (vlen == 2 && memcmp(v, "..", 2) == 0))) {
            return d->off == F(appendfilename) ? "appendfilename can't be a path, just a filename"
                                               : "appenddirname can't be a path, just a dirname";
        }
        if (d->off == F(repl_diskless_load) && !(vlen == 8 && strncasecmp(v, "disabled", 8) == 0) &&
            !(vlen == 11 && strncasecmp(v, "on-empty-db", 11) == 0) &&
            !(vlen == 6 && strncasecmp(v, "swapdb", 6) == 0)) {
            return "argument(s) must be one of the following: disabled, on-empty-db, swapdb";
        }
        if (d->off == F(dbfilename) && (memchr(v, '/', vlen) || vlen == 0)) {
            return vlen ? "dbfilename can't be a path, just a filename"
                        : "dbfilename can't be empty";
        }
        if (d->off == F(dir)) {
            /* as Redis: the process moves there now; the value is where it
             * is (absolute) */
            char path[4096], cwd[4096];

            if (vlen >= sizeof(path)) {
                return "File name too long";
            }
            memcpy(path, v, vlen);
            path[vlen] = '\0';
            if (chdir(path) != 0 || !getcwd(cwd, sizeof(cwd))) {
                snprintf(why, sizeof(why), "%s", strerror(errno));
                return why;
            }
            sh_free(*(char **)field);
            *(char **)field = sh_strdup(cwd);
            return NULL;
        }
        if (d->off == F(maxmemory_policy)) {
            static const char *const policies[] = { "volatile-lru",    "volatile-lfu",
                                                    "volatile-random", "volatile-ttl",
                                                    "allkeys-lru",     "allkeys-lfu",
                                                    "allkeys-random",  "noeviction" };
            bool known = false;

            for (size_t i = 0; i < SH_ARRAY_LEN(policies); i++) {
                known |= strlen(policies[i]) == vlen && strncasecmp(policies[i], v, vlen) == 0;
            }
            if (!known) {
                return "argument(s) must be one of the following: volatile-lru, volatile-lfu, "
                       "volatile-random, volatile-ttl, allkeys-lru, allkeys-lfu, "
                       "allkeys-random, noeviction";
            }
        }
        sh_free(*(char **)field);
        *(char **)field = sh_memdup(v, vlen + 1);
        (*(char **)field)[vlen] = '\0';
        if (d->off == F(maxmemory_policy) || d->off == F(appendfsync)) {
            for (char *ch = *(char **)field; *ch; ch++) {
                *ch = (char)tolower((unsigned char)*ch); /* kept as Redis shows it */
            }
        }
        return NULL;
    case DIR_LOGLEVEL:
        for (int i = 0; i < (int)SH_ARRAY_LEN(loglevels); i++) {
            if (strlen(loglevels[i]) == vlen && strncasecmp(loglevels[i], v, vlen) == 0) {
                *(int *)field = i;
                return NULL;
            }
        }
        return "argument(s) must be one of the following: debug, verbose, notice, warning, "
               "nothing";
    case DIR_PROTECTED:
        for (int i = 0; i < (int)SH_ARRAY_LEN(protected_names); i++) {
            if (strlen(protected_names[i]) == vlen &&
                strncasecmp(protected_names[i], v, vlen) == 0) {
                *(long long *)field = i;
                return NULL;
            }
        }
        return "argument(s) must be one of the following: no, yes, local";
    case DIR_BOOL:
        if (vlen == 3 && strncasecmp(v, "yes", 3) == 0) {
            *(long long *)field = 1;
        } else if (vlen == 2 && strncasecmp(v, "no", 2) == 0) {
            *(long long *)field = 0;
        } else {
            return "argument must be 'yes' or 'no'";
        }
        return NULL;
    case DIR_NOTIFY: {
        int flags = notify_parse(v, vlen);

        if (flags < 0) {
            return "Invalid event class character. Use 'Ag$lshzxeKEtmdn'.";
        }
        *(int *)field = flags;
        return NULL;
    }
    case DIR_BIND:
    case DIR_WORDS:
    case DIR_COBL:
        break;
    }
    return "unsupported";
}

/* save: pairs of non-negative integers (seconds, changes) in words[0..len),
 * written back joined by single spaces into out (of cap bytes). NULL, or
 * Redis's reason. */
static const char *save_words(const char *words, size_t len, char *out, size_t cap)
{
    size_t n = 0;
    int count = 0;

    out[0] = '\0';
    for (size_t i = 0, e; i < len; i = e) {
        long long x;

        for (; i < len && words[i] == ' '; i++) {
        }
        for (e = i; e < len && words[e] != ' '; e++) {
        }
        if (e == i) {
            break;
        }
        if (!util_str2ll(words + i, e - i, &x) || x < 0 || n + (e - i) + 2 > cap) {
            return "Invalid save parameters";
        }
        n += (size_t)snprintf(out + n, cap - n, "%s%.*s", n ? " " : "", (int)(e - i), words + i);
        count++;
    }
    return count % 2 ? "Invalid save parameters" : NULL;
}

/* latency-tracking-info-percentiles: every word of words[0..len) a number
 * in 0 .. 100, written back as Redis writes them ("%f" without trailing
 * zeros) into out (of cap bytes), joined by spaces. NULL, or Redis's reason. */
static const char *percentiles_words(const char *words, size_t len, char *out, size_t cap)
{
    size_t n = 0;

    out[0] = '\0';
    for (size_t i = 0, e; i < len; i = e) {
        char num[128];
        double d;
        int k;

        for (; i < len && words[i] == ' '; i++) {
        }
        for (e = i; e < len && words[e] != ' '; e++) {
        }
        if (e == i) {
            break;
        }
        if (!util_str2d(words + i, e - i, &d)) {
            return "Invalid latency-tracking-info-percentiles parameters";
        }
        if (d > 100.0 || d < 0.0) {
            return "latency-tracking-info-percentiles parameters should sit between [0.0,100.0]";
        }
        k = snprintf(num, sizeof(num), "%f", d);
        if (k > 0 && (size_t)k < sizeof(num) && strchr(num, '.')) {
            while (num[k - 1] == '0') {
                k--;
            }
            k -= num[k - 1] == '.';
        }
        if (k <= 0 || n + (size_t)k + 2 > cap) {
            return "Invalid latency-tracking-info-percentiles parameters";
        }
        n += (size_t)snprintf(out + n, cap - n, "%s%.*s", n ? " " : "", k, num);
    }
    return NULL;
}

int config_apply(struct config *c, const char *name, int nval, const struct sh_slice *val,
                 char *err, size_t errlen)
{
    const struct directive *d = config_find_directive(name, strlen(name), NULL);
    const char *why;

    if (!d) {
        snprintf(err, errlen, "Bad directive or wrong number of arguments");
        return -1;
    }
    if (d->kind == DIR_BIND) {
        if (nval < 1 || nval > CONFIG_MAX_BIND) {
            snprintf(err, errlen, "Invalid number of bind addresses (1 to %d)", CONFIG_MAX_BIND);
            return -1;
        }
        for (int i = 0; i < c->nbind; i++) {
            sh_free(c->bind[i]);
        }
        for (int i = 0; i < nval; i++) {
            c->bind[i] = sh_malloc(val[i].len + 1);
            memcpy(c->bind[i], val[i].ptr, val[i].len);
            c->bind[i][val[i].len] = '\0';
        }
        c->nbind = nval;
        return 0;
    }
    if (d->kind == DIR_COBL) {
        char words[1024];
        struct sh_slice split[4 * CONFIG_COBL_CLASSES + 1];

        if (nval == 1) {
            /* one quoted argument: "pubsub 32mb 8mb 60" */
            size_t wl = val[0].len < sizeof(words) - 1 ? val[0].len : sizeof(words) - 1;
            int n;

            memcpy(words, val[0].ptr, wl);
            n = resp_split_inline(words, wl, split, (int)SH_ARRAY_LEN(split));
            if (n < 0 || n >= (int)SH_ARRAY_LEN(split)) {
                n = 0;
            }
            nval = n;
            val = split;
        }
        why = cobl_parse(c, nval, val);
        if (why) {
            snprintf(err, errlen, "%s", why);
            return -1;
        }
        return 0;
    }
    if (d->kind == DIR_WORDS) {
        struct {
            char buf[1024];
            size_t n;
        } w = { .n = 0 };

        for (int i = 0; i < nval && w.n < sizeof(w.buf) - 1; i++) {
            w.n += (size_t)snprintf(w.buf + w.n, sizeof(w.buf) - w.n, "%s%.*s", i ? " " : "",
                                    (int)val[i].len, val[i].ptr);
        }
        if (w.n >= sizeof(w.buf)) {
            w.n = sizeof(w.buf) - 1;
        }
        if (d->off == F(latency_tracking_info_percentiles)) {
            char pct[1024];

            why = percentiles_words(w.buf, w.n, pct, sizeof(pct));
            if (why) {
                snprintf(err, errlen, "%s", why);
                return -1;
            }
            w.n = strlen(pct);
            memcpy(w.buf, pct, w.n + 1);
        }
        if (d->off == F(save)) {
            /* redis.conf: each save line adds points, the first one
             * replaces the built-in ones, and save "" clears them */
            char pts[1024];

            why = save_words(w.buf, w.n, pts, sizeof(pts));
            if (why) {
                snprintf(err, errlen, "%s", why);
                return -1;
            }
            if (pts[0] && c->save_from_file && c->save[0]) {
                w.n = (size_t)snprintf(w.buf, sizeof(w.buf), "%s %s", c->save, pts);
            } else {
                w.n = strlen(pts);
                memcpy(w.buf, pts, w.n + 1);
            }
            c->save_from_file = pts[0] != '\0';
        }
        char **field = field_of(c, d);

        sh_free(*field);
        *field = sh_memdup(w.buf, w.n + 1);
        return 0;
    }
    if (nval != 1) {
        snprintf(err, errlen, "wrong number of arguments");
        return -1;
    }
    why = parse_value(c, d, val[0].ptr, val[0].len);
    if (why) {
        snprintf(err, errlen, "%s", why);
        return -1;
    }
    return 0;
}

static int load_file(struct config *c, const char *path, char *err, size_t errlen)
{
    FILE *f = fopen(path, "r");
    char line[4096];
    int lineno = 0;

    if (!f) {
        snprintf(err, errlen, "%s: can't open the config file: %s", path, strerror(errno));
        return -1;
    }
    while (fgets(line, sizeof(line), f)) {
        struct sh_slice v[CONFIG_MAX_BIND + 2];
        char why[256];
        size_t len = strlen(line);
        int n;

        lineno++;
        while (len && (line[len - 1] == '\n' || line[len - 1] == '\r')) {
            line[--len] = '\0';
        }
        char copy[4096];
        size_t lead = 0;

        while (lead < len && (line[lead] == ' ' || line[lead] == '\t')) {
            lead++;
        }
        if (lead == len || line[lead] == '#') {
            continue; /* blank or comment: quotes in comments mean nothing */
        }
        memcpy(copy, line, len + 1);
        n = resp_split_inline(line, len, v, (int)SH_ARRAY_LEN(v));
        if (n < 0) {
            snprintf(err, errlen, "%s:%d: '%s': Unbalanced quotes in configuration line", path,
                     lineno, copy);
            goto out_close;
        }
        if (n == 0 || v[0].ptr[0] == '#') {
            continue;
        }
        char name[64];

        if (v[0].len >= sizeof(name) || n > (int)SH_ARRAY_LEN(v) - 1) {
            snprintf(err, errlen, "%s:%d: '%s': Bad directive or wrong number of arguments", path,
                     lineno, copy);
            goto out_close;
        }
        memcpy(name, v[0].ptr, v[0].len);
        name[v[0].len] = '\0';
        if (config_apply(c, name, n - 1, v + 1, why, sizeof(why)) != 0) {
            snprintf(err, errlen, "%s:%d: '%s': %s", path, lineno, copy, why);
            goto out_close;
        }
    }
    fclose(f);
    return 0;

out_close:
    fclose(f);
    return -1;
}

int config_load_args(struct config *c, int argc, char **argv, char *err, size_t errlen)
{
    int i = 1;

    if (argc > 1 && strncmp(argv[1], "--", 2) != 0) {
        char *abs = realpath(argv[1], NULL);

        if (load_file(c, argv[1], err, errlen) != 0) {
            free(abs);
            return -1;
        }
        sh_free(c->config_file);
        c->config_file = sh_strdup(abs ? abs : argv[1]);
        free(abs);
        i = 2;
    }
    while (i < argc) {
        struct sh_slice v[CONFIG_MAX_BIND];
        char why[256];
        int n = 0;
        const char *name = argv[i];

        if (strncmp(name, "--", 2) != 0) {
            snprintf(err, errlen, "command line: '%s': expected --directive", name);
            return -1;
        }
        name += 2;
        i++;
        while (i < argc && strncmp(argv[i], "--", 2) != 0 && n < CONFIG_MAX_BIND) {
            v[n].ptr = argv[i];
            v[n].len = strlen(argv[i]);
            n++;
            i++;
        }
        if (config_apply(c, name, n, v, why, sizeof(why)) != 0) {
            snprintf(err, errlen, "command line: '--%s': %s", name, why);
            return -1;
        }
    }
    return 0;
}

void config_format_value(const struct config *c, const struct directive *d, char *buf, size_t len)
{
    const void *field = (const char *)c + d->off;

    switch (d->kind) {
    case DIR_INT:
    case DIR_MEM:
        snprintf(buf, len, "%lld", *(const long long *)field);
        break;
    case DIR_STR:
    case DIR_WORDS:
        snprintf(buf, len, "%s", *(char *const *)field);
        break;
    case DIR_NOTIFY:
        notify_format(*(const int *)field, buf, len);
        break;
    case DIR_BOOL:
        snprintf(buf, len, "%s", *(const long long *)field ? "yes" : "no");
        break;
    case DIR_PROTECTED:
        snprintf(buf, len, "%s", protected_names[*(const long long *)field]);
        break;
    case DIR_COBL:
        buf[0] = '\0';
        for (int i = 0; i < CONFIG_COBL_CLASSES; i++) {
            size_t used = strlen(buf);

            snprintf(buf + used, len - used, "%s%s %lld %lld %lld", i ? " " : "",
                     config_cobl_names[i], c->cobl[i].hard, c->cobl[i].soft,
                     c->cobl[i].soft_seconds);
        }
        break;
    case DIR_LOGLEVEL:
        snprintf(buf, len, "%s", config_loglevel_name(*(const int *)field));
        break;
    case DIR_BIND:
        buf[0] = '\0';
        for (int i = 0; i < c->nbind; i++) {
            size_t used = strlen(buf);

            snprintf(buf + used, len - used, "%s%s", i ? " " : "", c->bind[i]);
        }
        break;
    }
}

/* Does a CONFIG GET argument hold a glob character? Redis 7.0 looks an
 * argument without any up as a name. */
static bool has_glob(const char *p, size_t len)
{
    for (size_t i = 0; i < len; i++) {
        if (p[i] == '*' || p[i] == '?' || p[i] == '[') {
            return true;
        }
    }
    return false;
}

void config_get(const struct config *c, const char *pattern, size_t plen, config_each_fn *fn,
                void *arg)
{
    char value[1024];
    char name[64];

    if (!has_glob(pattern, plen)) {
        const struct directive *d = config_find_directive(pattern, plen, NULL);

        if (d) { /* found, so plen is a directive's length: it fits */
            memcpy(name, pattern, plen);
            name[plen] = '\0';
            config_format_value(c, d, value, sizeof(value));
            fn(arg, name, value);
        }
        return;
    }
    for (size_t i = 0; i < SH_ARRAY_LEN(config_directives); i++) {
        const struct directive *d = &config_directives[i];
        bool formatted = false;

        if (glob_match(pattern, plen, d->name, strlen(d->name), true)) {
            config_format_value(c, d, value, sizeof(value));
            formatted = true;
            fn(arg, d->name, value);
        }
        for (size_t j = 0; j < SH_ARRAY_LEN(aliases); j++) {
            const char *alias = aliases[j].alias;

            if (!strcmp(aliases[j].name, d->name) &&
                glob_match(pattern, plen, alias, strlen(alias), true)) {
                if (!formatted) {
                    config_format_value(c, d, value, sizeof(value));
                    formatted = true;
                }
                fn(arg, alias, value);
            }
        }
    }
}

/* Sets one tunable directive d, named canon, from value. */
static int set_one(struct config *c, const struct directive *d, const char *canon,
                   struct sh_slice value, char *err, size_t errlen)
{
    const char *why;

    if (d->kind == DIR_COBL) {
        char words[1024];
        struct sh_slice v[4 * CONFIG_COBL_CLASSES + 1];
        size_t vlen = value.len < sizeof(words) ? value.len : sizeof(words) - 1;
        int n;

        memcpy(words, value.ptr, vlen);
        n = resp_split_inline(words, vlen, v, (int)SH_ARRAY_LEN(v));
        if (n == 0) {
            return 0; /* no class given: Redis changes nothing and says OK */
        }
        why = n < 0 || n > (int)SH_ARRAY_LEN(v) - 1
                      ? "Wrong number of arguments in buffer limit configuration."
                      : cobl_parse(c, n, v);
    } else if (d->kind == DIR_WORDS && d->off == F(latency_tracking_info_percentiles)) {
        char pct[1024];

        why = percentiles_words(value.ptr, value.len, pct, sizeof(pct));
        if (!why) {
            char **field = field_of(c, d);

            sh_free(*field);
            *field = sh_strdup(pct);
            return 0;
        }
    } else if (d->kind == DIR_WORDS && d->off == F(save)) {
        char pts[1024];

        why = save_words(value.ptr, value.len, pts, sizeof(pts));
        if (!why) {
            char **field = field_of(c, d);

            sh_free(*field);
            *field = sh_strdup(pts);
            return 0;
        }
    } else if (d->kind == DIR_WORDS) {
        char **field = field_of(c, d);

        sh_free(*field);
        *field = sh_malloc(value.len + 1);
        memcpy(*field, value.ptr, value.len);
        (*field)[value.len] = '\0';
        return 0;
    } else {
        why = parse_value(c, d, value.ptr, value.len);
    }
    if (why) {
        snprintf(err, errlen, "ERR CONFIG SET failed (possibly related to argument '%s') - %s",
                 canon, why);
        return -1;
    }
    return 0;
}

int config_set(struct config *c, int npairs, const struct sh_slice *args, char *err, size_t errlen)
{
    /* the names set so far, by the (static) name each was found under */
    const char *seen[SH_ARRAY_LEN(config_directives) + SH_ARRAY_LEN(aliases)];
    const struct directive *d;
    const char *canon;
    size_t nseen = 0;

    for (int i = 0; i < npairs; i++) {
        struct sh_slice name = args[2 * i];
        const char *why = NULL;

        d = config_find_directive(name.ptr, name.len, &canon);
        if (!d) {
            snprintf(err, errlen,
                     "ERR Unknown option or number of arguments for CONFIG SET - '%.*s'",
                     (int)name.len, name.ptr);
            return -1;
        }
        if (!d->tunable) {
            why = "can't set immutable config";
        } else if ((d->off == F(dir) || d->off == F(dbfilename)) && !c->enable_protected_configs) {
            /* Redis's PROTECTED_CONFIG: CONFIG SET only with
             * enable-protected-configs */
            why = "can't set protected config";
        }
        for (size_t k = 0; k < nseen && !why; k++) {
            if (seen[k] == canon) {
                why = "duplicate parameter";
            }
        }
        if (why) {
            snprintf(err, errlen,
                     "ERR CONFIG SET failed (possibly related to argument '%.*s') - %s",
                     (int)name.len, name.ptr, why);
            return -1;
        }
        seen[nseen++] = canon;
    }
    for (int i = 0; i < npairs; i++) {
        d = config_find_directive(args[2 * i].ptr, args[2 * i].len, &canon);
        if (set_one(c, d, canon, args[2 * i + 1], err, errlen) != 0) {
            return -1;
        }
    }
    return 0;
}
