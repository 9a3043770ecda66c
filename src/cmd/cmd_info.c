/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * cmd_info.c: INFO, with Redis 7.0.15's sections, field names, field order
 * and value formats, so that tools written for Redis (redis_exporter and the
 * Grafana dashboards built on it, redis-cli --stat, client libraries) read
 * shardis unchanged. shardis's own fields (shardis_version, shards,
 * used_memory_shards, mailbox_*, the "shards" section) come after Redis's
 * fields of their section.
 *
 * INFO fans out to every shard (CMD_ROUTE_ALL with an "always" gather). Each
 * shard answers one part about itself; the client's core merges the parts
 * and writes the text:
 *
 *   part = [ f[0] ... f[INFO_NFIELDS - 1]         counters, samples, maxima
 *            keys expires avg_ttl  x databases
 *            [id calls usec rejected failed ...]  commandstats, when asked
 *            [name count ...] ]                   errorstats, when asked
 *
 * A field is merged by its sum over the parts, or by its maximum for the
 * few listed in info_field_is_max. Figures of the whole process (memory,
 * RSS, CPU time, the allocator's statistics) are read once, by the client's
 * core.
 *
 * instantaneous_*: every shard samples its counters each 100 ms in its cron
 * into a ring of 16 rates (struct shard_metrics, src/shard.c), as Redis's
 * trackInstantaneousMetric does; a part carries its ring's average and INFO
 * shows the sum of the shards' averages.
 *
 * used_memory_peak: used_memory is process-wide (the allocator's count), so
 * shard 0's cron alone samples it each 100 ms and keeps the highest value;
 * INFO takes the highest of the parts and of the value it reads itself, and
 * remembers it on the client's core, so the peak never goes down. With libc
 * malloc (the sanitizer builds) the allocator counts nothing, used_memory is
 * the sum of the shards' own allocations, and only INFO calls raise the peak.
 *
 * What shardis has no mechanism for (persistence, replication, Lua and
 * functions, client tracking, eviction, defrag, I/O threads, cluster) shows
 * the values of a Redis 7.0.15 with it idle or off. # Latencystats: each
 * part carries its shard's per-command histograms (diag_hist_part) and the
 * client's core sums them.
 */
#include "shardis/aof.h"
#include "shardis/block.h"
#include "shardis/cmd.h"
#include "shardis/cmd_bind.h"
#include "shardis/cmdtab.h"
#include "shardis/conn.h"
#include "shardis/diag.h"
#include "shardis/eval.h"
#include "shardis/kdb.h"
#include "shardis/latency.h"
#include "shardis/persist.h"
#include "shardis/pubsub.h"
#include "shardis/repl.h"
#include "shardis/resp.h"
#include "shardis/route.h"
#include "shardis/shard.h"
#include "shardis/tracking.h"
#include "shardis/util.h"

#include <xxhash.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/utsname.h>
#include <unistd.h>

/* The Redis version INFO reports (HELLO reports the same, cmd_server.c). */
#define INFO_REDIS_VERSION     "7.0.15"
/* Redis's repl-backlog-size default, which it shows with no backlog. */
#define INFO_REPL_BACKLOG_SIZE 1048576
/* Redis's LRU clock: seconds, in 24 bits. */
#define INFO_LRU_CLOCK_MAX     ((1LL << 24) - 1)

/* The integers of one part, in this order. */
enum {
    INFO_COMMANDS,
    INFO_CONNECTIONS,
    INFO_REJECTED,
    INFO_EXPIRED,
    INFO_HITS,
    INFO_MISSES,
    INFO_NET_IN,
    INFO_NET_OUT,
    INFO_MBOX_SENT,
    INFO_MBOX_RECV,
    INFO_MBOX_OVERFLOW,
    INFO_ERRORS,
    INFO_MEMORY,
    INFO_CLIENTS,
    INFO_KEYS,
    INFO_PS_CHANNELS,
    INFO_PS_PATTERNS,
    INFO_PS_SHARD_CHANNELS,
    INFO_OPS_PER_SEC,     /* the ring's averages */
    INFO_NET_IN_PER_SEC,  /* bytes */
    INFO_NET_OUT_PER_SEC, /* bytes */
    INFO_READS,
    INFO_BATCH_WAITS,
    INFO_LOOP_CYCLES,
    INFO_IO_WAITS,
    INFO_DOORBELLS,
    INFO_WRITES,
    INFO_MEM_PEAK,       /* bytes, process-wide */
    INFO_MEM_STARTUP,    /* bytes, process-wide */
    INFO_CLIENT_MAX_IN,  /* the largest query buffer */
    INFO_CLIENT_MAX_OUT, /* the largest output buffers */
    INFO_CLIENT_MEM,     /* all the clients' memory */
    INFO_CPU_SYS_US,     /* the shard thread's */
    INFO_CPU_USER_US,
    INFO_BLOCKED,         /* clients in BLPOP and friends */
    INFO_BLOCKED_TIMEOUT, /* those of them with a timeout */
    INFO_EVICTED,         /* keys maxmemory evicted */
    INFO_NOT_EVICT,       /* bytes not counted for eviction (each shard's start) */
    INFO_SCRIPTS,         /* cached scripts (every shard has them all) */
    INFO_LUA_MEM,         /* bytes of the Lua states */
    INFO_SCRIPT_GLOBAL,   /* scripts run with every shard locked */
    INFO_TXN_SCHEDULED,   /* transactions queued on a shard */
    INFO_TXN_REFUSED,     /* schedules refused (renumbered and retried) */
    INFO_TXN_WAITED,      /* plain commands that waited for a lock */
    INFO_TRK_CLIENTS,     /* CLIENT TRACKING clients connected here */
    INFO_TRK_KEYS,        /* keys remembered by the tracking table here */
    INFO_TRK_ITEMS,       /* (key, client) pairs remembered here */
    INFO_TRK_PREFIXES,    /* BCAST prefixes (every shard has them all: max) */
    INFO_NFIELDS,
};

/* Fields merged by their maximum instead of their sum. */
static bool info_field_is_max(int i)
{
    switch (i) {
    case INFO_PS_PATTERNS:  /* every shard knows every pattern */
    case INFO_TRK_PREFIXES: /* and every BCAST prefix */
    case INFO_MEM_PEAK:
    case INFO_MEM_STARTUP:
    case INFO_CLIENT_MAX_IN:
    case INFO_CLIENT_MAX_OUT:
    case INFO_SCRIPTS:
        return true;
    default:
        return false;
    }
}

/* Does INFO's argument list ask for this section? */
static bool info_wanted(int argc, const struct sh_slice *argv, const char *name, bool in_default)
{
    if (argc == 1) {
        return in_default;
    }
    for (int i = 1; i < argc; i++) {
        if (sh_slice_eq_nocase(argv[i], name) || sh_slice_eq_nocase(argv[i], "all") ||
            sh_slice_eq_nocase(argv[i], "everything") ||
            (in_default && sh_slice_eq_nocase(argv[i], "default"))) {
            return true;
        }
    }
    return false;
}

/* ---- one shard's part ---- */

/* The commandstats and errorstats tail of an INFO part: K, then K x (id,
 * calls, usec, rejected, failed); E, then E x (name, count). Each only when
 * asked for. Returns the number of elements written. */
static long long info_part_tail(struct cmd_ctx *ctx)
{
    struct shard *sh = ctx->shard;
    long long n = 0;

    if (info_wanted(ctx->argc, ctx->argv, "commandstats", false)) {
        size_t at = reply_array_begin(&ctx->r);
        long long k = 0;

        for (int id = 1; id < cmdtab_nids(); id++) {
            const struct cmd_stat *st = &sh->cmdstats[id];

            if (st->calls || st->rejected || st->failed) {
                reply_int(&ctx->r, id);
                reply_int(&ctx->r, (long long)st->calls);
                reply_int(&ctx->r, (long long)st->usec);
                reply_int(&ctx->r, (long long)st->rejected);
                reply_int(&ctx->r, (long long)st->failed);
                k++;
            }
        }
        reply_array_end(&ctx->r, at, 5 * k);
        n++;
    }
    if (info_wanted(ctx->argc, ctx->argv, "errorstats", true)) {
        size_t at = reply_array_begin(&ctx->r);
        long long e = 0;

        for (int i = 0; i < SHARD_ERRSTATS && sh->errstats[i].name[0]; i++) {
            reply_bulk_cstr(&ctx->r, sh->errstats[i].name);
            reply_int(&ctx->r, (long long)sh->errstats[i].count);
            e++;
        }
        reply_array_end(&ctx->r, at, 2 * e);
        n++;
    }
    if (info_wanted(ctx->argc, ctx->argv, "latencystats", false)) {
        diag_hist_part(sh, &ctx->r);
        n++;
    }
    return n;
}

/* The average of one metric's ring, per second. */
static long long metric_average(const struct shard *sh, enum shard_metric m)
{
    long long sum = 0;

    for (int i = 0; i < SHARD_METRIC_SAMPLES; i++) {
        sum += sh->metrics.rate[m][i];
    }
    return sum / SHARD_METRIC_SAMPLES;
}

/* This shard's clients, measured as CLIENT LIST's qbuf, omem and tot-mem.
 * Redis's client_recent_max_* are the maxima of the last few seconds; these
 * are the present ones. */
static void info_part_clients(const struct shard *sh, long long *f)
{
    for (const struct conn *c = sh->conns; c; c = c->next) {
        long long in = (long long)c->q.cap;
        long long out = (long long)(c->out.cap + c->sending.cap);

        f[INFO_CLIENT_MAX_IN] = in > f[INFO_CLIENT_MAX_IN] ? in : f[INFO_CLIENT_MAX_IN];
        f[INFO_CLIENT_MAX_OUT] = out > f[INFO_CLIENT_MAX_OUT] ? out : f[INFO_CLIENT_MAX_OUT];
        f[INFO_CLIENT_MEM] += (long long)sizeof(*c) + in + out;
    }
}

/* The fixed fields of this shard's part. */
static void info_part_fields(struct shard *sh, long long *f)
{
    const struct shard_stats *st = &sh->stats;
    struct rusage ru;

    for (int i = 0; i < sh->cfg.databases; i++) {
        f[INFO_KEYS] += (long long)kdb_size(sh->db[i]);
        f[INFO_EXPIRED] += (long long)kdb_expired(sh->db[i]);
    }
    f[INFO_COMMANDS] = (long long)st->commands;
    f[INFO_CONNECTIONS] = (long long)st->connections;
    f[INFO_REJECTED] = (long long)st->rejected_connections;
    f[INFO_HITS] = (long long)st->keyspace_hits;
    f[INFO_MISSES] = (long long)st->keyspace_misses;
    f[INFO_NET_IN] = (long long)st->net_input_bytes;
    f[INFO_NET_OUT] = (long long)st->net_output_bytes;
    f[INFO_MBOX_SENT] = (long long)st->mbox_sent;
    f[INFO_MBOX_RECV] = (long long)st->mbox_received;
    f[INFO_MBOX_OVERFLOW] = (long long)st->mbox_overflowed;
    f[INFO_ERRORS] = (long long)st->error_replies;
    f[INFO_MEMORY] = (long long)sh_alloc_thread_bytes();
    f[INFO_EVICTED] = (long long)st->evicted_keys;
    f[INFO_NOT_EVICT] = sh->mem_base;
    f[INFO_CLIENTS] = sh->nconns;
    pubsub_stats(sh->ps, &f[INFO_PS_CHANNELS], &f[INFO_PS_PATTERNS], &f[INFO_PS_SHARD_CHANNELS]);
    f[INFO_OPS_PER_SEC] = metric_average(sh, SHARD_METRIC_OPS);
    f[INFO_NET_IN_PER_SEC] = metric_average(sh, SHARD_METRIC_NET_IN);
    f[INFO_NET_OUT_PER_SEC] = metric_average(sh, SHARD_METRIC_NET_OUT);
    f[INFO_READS] = (long long)st->reads_processed;
    f[INFO_BATCH_WAITS] = (long long)st->batch_waits;
    f[INFO_LOOP_CYCLES] = (long long)st->loop_cycles;
    f[INFO_IO_WAITS] = (long long)st->io_waits;
    f[INFO_DOORBELLS] = (long long)st->doorbells;
    f[INFO_WRITES] = (long long)st->writes_processed;
    f[INFO_MEM_PEAK] = sh->metrics.mem_peak;
    f[INFO_MEM_STARTUP] = sh->metrics.mem_startup;
    info_part_clients(sh, f);
    block_stats(sh, &f[INFO_BLOCKED], &f[INFO_BLOCKED_TIMEOUT]);
    f[INFO_BLOCKED] += conn_held_count(sh); /* held by CLIENT PAUSE, as Redis counts them */
    tracking_stats(sh, &f[INFO_TRK_CLIENTS], &f[INFO_TRK_KEYS], &f[INFO_TRK_ITEMS],
                   &f[INFO_TRK_PREFIXES]);
    eval_stats(sh, &f[INFO_SCRIPTS], &f[INFO_SCRIPT_GLOBAL], &f[INFO_LUA_MEM]);
    f[INFO_TXN_SCHEDULED] = (long long)sh->sched.scheduled;
    f[INFO_TXN_REFUSED] = (long long)sh->sched.refused;
    f[INFO_TXN_WAITED] = (long long)sh->sched.waited;
    if (getrusage(RUSAGE_THREAD, &ru) == 0) {
        f[INFO_CPU_SYS_US] = ru.ru_stime.tv_sec * 1000000LL + ru.ru_stime.tv_usec;
        f[INFO_CPU_USER_US] = ru.ru_utime.tv_sec * 1000000LL + ru.ru_utime.tv_usec;
    }
}

/* INFO part: this shard's fields, keys/expires/avg_ttl per db, the tail. */
static void cmd_info_part(struct cmd_ctx *ctx)
{
    struct shard *sh = ctx->shard;
    long long f[INFO_NFIELDS] = { 0 };
    int ndb = (int)sh->cfg.databases;
    size_t head = reply_array_begin(&ctx->r);

    info_part_fields(sh, f);
    for (int i = 0; i < INFO_NFIELDS; i++) {
        reply_int(&ctx->r, f[i]);
    }
    for (int i = 0; i < ndb; i++) {
        reply_int(&ctx->r, (long long)kdb_size(sh->db[i]));
        reply_int(&ctx->r, (long long)kdb_expires(sh->db[i]));
        reply_int(&ctx->r, kdb_avg_ttl(sh->db[i]));
    }
    reply_array_end(&ctx->r, head, INFO_NFIELDS + 3LL * ndb + info_part_tail(ctx));
}

/* ---- merging the parts ---- */

/* Reads the integers of one INFO part into v (n of them). */
static int parse_ints(struct sh_slice p, long long *v, int n)
{
    const char *s = p.ptr, *end = p.ptr + p.len;
    int i = -1;

    while (s < end && i < n) {
        const char *cr = memchr(s, '\r', (size_t)(end - s));

        if (!cr) {
            break;
        }
        if (i >= 0 && !util_str2ll(s + 1, (size_t)(cr - s - 1), &v[i])) {
            return -1;
        }
        i++;
        s = cr + 2;
    }
    return i;
}

struct info_sum {
    long long f[INFO_NFIELDS];
    long long *db; /* keys, expires, avg_ttl_sum, ttl_shards per db */
    int ndb;
    const struct coord *co;
    struct shard *sh;       /* the client's core, which merges */
    struct sh_slice *tails; /* [part]: its commandstats/errorstats arrays */
};

static void info_sum_parts(const struct coord *co, struct info_sum *s)
{
    int n = INFO_NFIELDS + 3 * s->ndb;
    long long *v = sh_calloc((size_t)n, sizeof(long long));

    for (int sh = 0; sh < co->nshards; sh++) {
        if (parse_ints(coord_part(co, sh), v, n) != n) {
            continue;
        }
        for (int i = 0; i < INFO_NFIELDS; i++) {
            if (!info_field_is_max(i)) {
                s->f[i] += v[i];
            } else if (v[i] > s->f[i]) {
                s->f[i] = v[i];
            }
        }
        for (int d = 0; d < s->ndb; d++) {
            long long *in = &v[INFO_NFIELDS + 3 * d], *out = &s->db[4 * d];

            out[0] += in[0];
            out[1] += in[1];
            if (in[1]) {
                out[2] += in[2];
                out[3]++;
            }
        }
    }
    sh_free(v);
}

/* The tail of one part (after its fixed integers): the arrays written by
 * info_part_tail. */
static struct sh_slice part_tail(struct sh_slice p, int nfixed)
{
    size_t off;
    size_t hdr;

    if (!p.len) {
        return p;
    }
    hdr = (size_t)((const char *)memchr(p.ptr, '\n', p.len) - p.ptr) + 1;
    off = hdr;
    for (int i = 0; i < nfixed && off < p.len; i++) {
        size_t n = resp_value_size(p.ptr + off, p.len - off);

        if (!n) {
            return (struct sh_slice){ NULL, 0 };
        }
        off += n;
    }
    return (struct sh_slice){ p.ptr + off, p.len - off };
}

/* Reads one integer element at *t (advancing it). */
static bool take_int(struct sh_slice *t, long long *v)
{
    size_t n = resp_value_size(t->ptr, t->len);

    if (!n || t->ptr[0] != ':' || !util_str2ll(t->ptr + 1, n - 3, v)) {
        return false;
    }
    t->ptr += n;
    t->len -= n;
    return true;
}

/* Reads an array header at *t (advancing it). */
static bool take_array(struct sh_slice *t, long long *n)
{
    const char *nl = t->len ? memchr(t->ptr, '\n', t->len) : NULL;

    if (!nl || t->ptr[0] != '*' || !util_str2ll(t->ptr + 1, (size_t)(nl - t->ptr) - 2, n)) {
        return false;
    }
    t->len -= (size_t)(nl + 1 - t->ptr);
    t->ptr = nl + 1;
    return true;
}

/* Reads one bulk string at *t (advancing it). */
static bool take_bulk(struct sh_slice *t, struct sh_slice *out)
{
    size_t n = resp_value_size(t->ptr, t->len);
    const char *nl;

    if (!n || t->ptr[0] != '$' || !(nl = memchr(t->ptr, '\n', n))) {
        return false;
    }
    out->ptr = nl + 1;
    out->len = n - (size_t)(nl + 1 - t->ptr) - 2;
    t->ptr += n;
    t->len -= n;
    return true;
}

/* ---- the text ---- */

/* "name:0" for each of names: what Redis shows of a mechanism at rest. */
static void info_zeros(struct rbuf *b, const char *const *names, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        rbuf_line(b, "%s:0", names[i]);
    }
}

static void info_section(struct rbuf *b, const char *title)
{
    if (b->len) {
        rbuf_append(b, "\r\n", 2);
    }
    rbuf_line(b, "# %s", title);
}

/* Redis's bytesToHuman: "1023B", "1.50K", "2.00M", ... up to P. */
static void bytes_human(char *out, size_t len, long long n)
{
    static const char units[] = "KMGTP";
    double d = (double)n / 1024;

    if (n < 1024) {
        snprintf(out, len, "%lldB", n);
        return;
    }
    for (int u = 0; u < 5; u++, d /= 1024) {
        if (d < 1024) {
            snprintf(out, len, "%.2f%c", d, units[u]);
            return;
        }
    }
    snprintf(out, len, "%lldB", n);
}

/* "name:bytes" and "name_human:text". */
static void info_bytes(struct rbuf *b, const char *name, long long n)
{
    char human[32];

    bytes_human(human, sizeof(human), n);
    rbuf_line(b, "%s:%lld", name, n);
    rbuf_line(b, "%s_human:%s", name, human);
}

/* systemd when it gave us $NOTIFY_SOCKET (sdnotify.c then talks to it);
 * shardis has no "supervised" directive, hence no upstart. The environment
 * is not written after start, so reading it from a shard is safe. */
static const char *info_supervised(void)
{
    const char *p = getenv("NOTIFY_SOCKET");

    return p && (p[0] == '/' || p[0] == '@') ? "systemd" : "no";
}

static void info_server(struct rbuf *b, struct info_sum *s)
{
    const struct shard *sh = s->sh;
    const struct server *srv = sh->srv;
    struct utsname un;
    long long up = (long long)(sh->now_ms - srv->start_ms) / 1000;

    uname(&un);
    info_section(b, "Server");
    rbuf_line(b, "redis_version:%s", INFO_REDIS_VERSION);
    rbuf_line(b, "shardis_version:%s", SHARDIS_VERSION);
    rbuf_line(b, "redis_git_sha1:00000000");
    rbuf_line(b, "redis_git_dirty:0");
    rbuf_line(b, "redis_build_id:0");
    rbuf_line(b, "redis_mode:standalone");
    rbuf_line(b, "os:%s %s %s", un.sysname, un.release, un.machine);
    rbuf_line(b, "arch_bits:%d", (int)sizeof(void *) * 8);
    rbuf_line(b, "monotonic_clock:POSIX clock_gettime");
    rbuf_line(b, "multiplexing_api:io_uring");
    rbuf_line(b, "atomicvar_api:c11-builtin");
    rbuf_line(b, "gcc_version:%d.%d.%d", __GNUC__, __GNUC_MINOR__, __GNUC_PATCHLEVEL__);
    rbuf_line(b, "process_id:%d", (int)getpid());
    rbuf_line(b, "process_supervised:%s", info_supervised());
    rbuf_line(b, "run_id:%s", srv->run_id);
    rbuf_line(b, "tcp_port:%lld", srv->cfg.port);
    rbuf_line(b, "server_time_usec:%lld", (long long)sh_time_us());
    rbuf_line(b, "uptime_in_seconds:%lld", up);
    rbuf_line(b, "uptime_in_days:%lld", up / 86400);
    rbuf_line(b, "hz:%lld", sh->cfg.hz);
    rbuf_line(b, "configured_hz:%lld", sh->cfg.hz);
    rbuf_line(b, "lru_clock:%lld", (long long)(sh->now_ms / 1000) & INFO_LRU_CLOCK_MAX);
    rbuf_line(b, "executable:%s", srv->executable);
    rbuf_line(b, "config_file:%s", srv->cfg.config_file);
    rbuf_line(b, "io_threads_active:0");
    rbuf_line(b, "shards:%d", srv->nshards);
}

static void info_clients(struct rbuf *b, struct info_sum *s)
{
    info_section(b, "Clients");
    rbuf_line(b, "connected_clients:%lld", s->f[INFO_CLIENTS]);
    rbuf_line(b, "cluster_connections:0");
    rbuf_line(b, "maxclients:%lld", s->sh->cfg.maxclients);
    rbuf_line(b, "client_recent_max_input_buffer:%lld", s->f[INFO_CLIENT_MAX_IN]);
    rbuf_line(b, "client_recent_max_output_buffer:%lld", s->f[INFO_CLIENT_MAX_OUT]);
    rbuf_line(b, "blocked_clients:%lld", s->f[INFO_BLOCKED]);
    rbuf_line(b, "tracking_clients:%lld", s->f[INFO_TRK_CLIENTS]);
    rbuf_line(b, "clients_in_timeout_table:%lld", s->f[INFO_BLOCKED_TIMEOUT]);
}

/* The memory figures, in bytes. */
struct info_mem {
    long long used, rss, peak, startup, overhead, dataset, system;
    long long allocated, active, resident; /* the allocator's */
};

static long long process_rss(void)
{
    long long pages, res, rss = 0;
    FILE *f = fopen("/proc/self/statm", "r");

    if (f) {
        if (fscanf(f, "%lld %lld", &pages, &res) == 2) {
            rss = res * sysconf(_SC_PAGESIZE);
        }
        fclose(f);
    }
    return rss;
}

static void info_mem_measure(struct info_sum *s, struct info_mem *m)
{
    struct sh_alloc_stats al;
    long long pages = sysconf(_SC_PHYS_PAGES), page = sysconf(_SC_PAGESIZE);

    m->rss = process_rss();
    m->system = pages > 0 && page > 0 ? pages * page : 0;
    if (sh_alloc_get_stats(&al) == 0) {
        m->used = (long long)al.allocated;
        m->allocated = (long long)al.allocated;
        m->active = (long long)al.active;
        m->resident = (long long)al.resident;
    } else {
        /* libc malloc: under a sanitizer it counts nothing, so count ours;
         * the allocator's figures are derived as Redis derives them */
        m->used = (long long)sh_alloc_process_bytes();
        m->used = m->used ? m->used : (s->f[INFO_MEMORY] > 0 ? s->f[INFO_MEMORY] : 0);
        m->allocated = m->used;
        m->active = m->rss;
        m->resident = m->rss;
    }
    m->peak = s->f[INFO_MEM_PEAK] > m->used ? s->f[INFO_MEM_PEAK] : m->used;
    if (m->peak > s->sh->metrics.mem_peak) {
        s->sh->metrics.mem_peak = m->peak;
    }
    /* Redis's overhead also counts its key tables; shardis's are left in the
     * dataset: the overhead is what was in use at start plus the clients */
    m->startup = s->f[INFO_MEM_STARTUP];
    m->overhead = m->startup + s->f[INFO_CLIENT_MEM];
    m->dataset = m->used > m->overhead ? m->used - m->overhead : 0;
}

static double ratio(long long a, long long b)
{
    return b > 0 ? (double)a / (double)b : 0.0;
}

/* Lua (every shard's vm); no functions (FUNCTION is not built). */
static void info_memory_scripts(struct rbuf *b, const struct info_sum *s)
{
    static const char *const zeros2[] = { "number_of_functions", "number_of_libraries",
                                          "used_memory_vm_functions" };

    char human[32];

    /* Redis's order: the human form of used_memory_lua after vm_eval */
    bytes_human(human, sizeof(human), s->f[INFO_LUA_MEM]);
    rbuf_line(b, "used_memory_lua:%lld", s->f[INFO_LUA_MEM]);
    rbuf_line(b, "used_memory_vm_eval:%lld", s->f[INFO_LUA_MEM]);
    rbuf_line(b, "used_memory_lua_human:%s", human);
    rbuf_line(b, "used_memory_scripts_eval:0");
    rbuf_line(b, "number_of_cached_scripts:%lld", s->f[INFO_SCRIPTS]);
    info_zeros(b, zeros2, SH_ARRAY_LEN(zeros2));
    info_bytes(b, "used_memory_vm_total", s->f[INFO_LUA_MEM]);
    rbuf_line(b, "used_memory_functions:0");
    info_bytes(b, "used_memory_scripts", 0);
}

static void info_memory(struct rbuf *b, struct info_sum *s)
{
    static const char *const zeros[] = { "mem_replication_backlog", "mem_total_replication_buffers",
                                         "mem_clients_slaves" };
    struct info_mem m;

    info_mem_measure(s, &m);
    info_section(b, "Memory");
    info_bytes(b, "used_memory", m.used);
    info_bytes(b, "used_memory_rss", m.rss);
    info_bytes(b, "used_memory_peak", m.peak);
    rbuf_line(b, "used_memory_peak_perc:%.2f%%", 100 * ratio(m.used, m.peak));
    rbuf_line(b, "used_memory_overhead:%lld", m.overhead);
    rbuf_line(b, "used_memory_startup:%lld", m.startup);
    rbuf_line(b, "used_memory_dataset:%lld", m.dataset);
    rbuf_line(b, "used_memory_dataset_perc:%.2f%%",
              100 * ratio(m.dataset, m.used > m.startup ? m.used - m.startup : 1));
    rbuf_line(b, "allocator_allocated:%lld", m.allocated);
    rbuf_line(b, "allocator_active:%lld", m.active);
    rbuf_line(b, "allocator_resident:%lld", m.resident);
    info_bytes(b, "total_system_memory", m.system);
    info_memory_scripts(b, s);
    info_bytes(b, "maxmemory", s->sh->cfg.maxmemory);
    rbuf_line(b, "maxmemory_policy:%s", s->sh->cfg.maxmemory_policy);
    rbuf_line(b, "allocator_frag_ratio:%.2f", ratio(m.active, m.allocated));
    rbuf_line(b, "allocator_frag_bytes:%lld", m.active - m.allocated);
    rbuf_line(b, "allocator_rss_ratio:%.2f", ratio(m.resident, m.active));
    rbuf_line(b, "allocator_rss_bytes:%lld", m.resident - m.active);
    rbuf_line(b, "rss_overhead_ratio:%.2f", ratio(m.rss, m.resident));
    rbuf_line(b, "rss_overhead_bytes:%lld", m.rss - m.resident);
    rbuf_line(b, "mem_fragmentation_ratio:%.2f", ratio(m.rss, m.used));
    rbuf_line(b, "mem_fragmentation_bytes:%lld", m.rss - m.used);
    rbuf_line(b, "mem_not_counted_for_evict:%lld", s->f[INFO_NOT_EVICT]);
    info_zeros(b, zeros, SH_ARRAY_LEN(zeros));
    rbuf_line(b, "mem_clients_normal:%lld", s->f[INFO_CLIENT_MEM]);
    rbuf_line(b, "mem_cluster_links:0");
    rbuf_line(b, "mem_aof_buffer:0");
    rbuf_line(b, "mem_allocator:%s", sh_alloc_name());
    rbuf_line(b, "active_defrag_running:0");
    rbuf_line(b, "lazyfree_pending_objects:0");
    rbuf_line(b, "lazyfreed_objects:0");
    rbuf_line(b, "used_memory_shards:%lld", s->f[INFO_MEMORY]);
}

/* Persistence: the snapshots' fields from persist.h (no fork, so no
 * copy-on-write to show), and the AOF's from aof.h. */
static void info_persistence(struct rbuf *b, struct info_sum *s)
{
    static const char *const head[] = { "async_loading", "current_cow_peak", "current_cow_size",
                                        "current_cow_size_age" };
    static const char *const middle[] = { "current_save_keys_processed",
                                          "current_save_keys_total" };
    struct persist_status st;
    struct aof_status as;

    persist_status(s->sh, &st);
    aof_status(s->sh, &as);
    info_section(b, "Persistence");
    rbuf_line(b, "loading:0");
    info_zeros(b, head, SH_ARRAY_LEN(head));
    rbuf_line(b, "current_fork_perc:0.00");
    info_zeros(b, middle, SH_ARRAY_LEN(middle));
    rbuf_line(b, "rdb_changes_since_last_save:%lld", st.changes_since_save);
    rbuf_line(b, "rdb_bgsave_in_progress:%d", st.bgsave_in_progress);
    rbuf_line(b, "rdb_last_save_time:%lld", st.last_save_time);
    rbuf_line(b, "rdb_last_bgsave_status:%s", st.last_bgsave_ok ? "ok" : "err");
    rbuf_line(b, "rdb_last_bgsave_time_sec:%lld", st.last_bgsave_time_sec);
    rbuf_line(b, "rdb_current_bgsave_time_sec:%lld", st.current_bgsave_time_sec);
    rbuf_line(b, "rdb_saves:%lld", st.saves);
    rbuf_line(b, "rdb_last_cow_size:0");
    rbuf_line(b, "rdb_last_load_keys_expired:%lld", st.keys_expired);
    rbuf_line(b, "rdb_last_load_keys_loaded:%lld", st.keys_loaded);
    rbuf_line(b, "aof_enabled:%d", as.enabled);
    rbuf_line(b, "aof_rewrite_in_progress:%d", as.rewriting);
    rbuf_line(b, "aof_rewrite_scheduled:%d", as.scheduled);
    rbuf_line(b, "aof_last_rewrite_time_sec:%lld", as.last_time_sec);
    rbuf_line(b, "aof_current_rewrite_time_sec:%lld", as.current_time_sec);
    rbuf_line(b, "aof_last_bgrewrite_status:%s", as.last_ok ? "ok" : "err");
    rbuf_line(b, "aof_rewrites:%lld", as.rewrites);
    rbuf_line(b, "aof_rewrites_consecutive_failures:0");
    rbuf_line(b, "aof_last_write_status:%s", as.write_ok ? "ok" : "err");
    rbuf_line(b, "aof_last_cow_size:0");
    rbuf_line(b, "module_fork_in_progress:0");
    rbuf_line(b, "module_fork_last_cow_size:0");
    if (as.enabled) {
        rbuf_line(b, "aof_current_size:%lld", as.current_size);
        rbuf_line(b, "aof_base_size:%lld", as.base_size);
        rbuf_line(b, "aof_pending_rewrite:%d", as.scheduled);
        rbuf_line(b, "aof_buffer_length:%lld", as.buffer);
        rbuf_line(b, "aof_pending_bio_fsync:0");
        rbuf_line(b, "aof_delayed_fsync:0");
    }
}

/* Stats from expired_keys on. The expire cycle is not measured yet
 * (expired_stale_perc, expired_time_cap_reached_count,
 * expire_cycle_cpu_milliseconds), nor are reply buffers resized. */
static void info_stats_tail(struct rbuf *b, const struct info_sum *s)
{
    static const char *const evict[] = { "expired_time_cap_reached_count",
                                         "expire_cycle_cpu_milliseconds", "evicted_clients",
                                         "total_eviction_exceeded_time",
                                         "current_eviction_exceeded_time" };
    static const char *const rest[] = { "latest_fork_usec",         "total_forks",
                                        "migrate_cached_sockets",   "slave_expires_tracked_keys",
                                        "active_defrag_hits",       "active_defrag_misses",
                                        "active_defrag_key_hits",   "active_defrag_key_misses",
                                        "total_active_defrag_time", "current_active_defrag_time" };
    static const char *const io[] = { "io_threaded_reads_processed", "io_threaded_writes_processed",
                                      "reply_buffer_shrinks", "reply_buffer_expands" };

    rbuf_line(b, "expired_keys:%lld", s->f[INFO_EXPIRED]);
    rbuf_line(b, "expired_stale_perc:0.00");
    info_zeros(b, evict, 2);
    rbuf_line(b, "evicted_keys:%lld", s->f[INFO_EVICTED]);
    info_zeros(b, evict + 2, SH_ARRAY_LEN(evict) - 2);
    rbuf_line(b, "keyspace_hits:%lld", s->f[INFO_HITS]);
    rbuf_line(b, "keyspace_misses:%lld", s->f[INFO_MISSES]);
    rbuf_line(b, "pubsub_channels:%lld", s->f[INFO_PS_CHANNELS]);
    rbuf_line(b, "pubsub_patterns:%lld", s->f[INFO_PS_PATTERNS]);
    rbuf_line(b, "pubsubshard_channels:%lld", s->f[INFO_PS_SHARD_CHANNELS]);
    info_zeros(b, rest, SH_ARRAY_LEN(rest));
    rbuf_line(b, "tracking_total_keys:%lld", s->f[INFO_TRK_KEYS]);
    rbuf_line(b, "tracking_total_items:%lld", s->f[INFO_TRK_ITEMS]);
    rbuf_line(b, "tracking_total_prefixes:%lld", s->f[INFO_TRK_PREFIXES]);
    rbuf_line(b, "unexpected_error_replies:0");
    rbuf_line(b, "total_error_replies:%lld", s->f[INFO_ERRORS]);
    rbuf_line(b, "dump_payload_sanitizations:0");
    rbuf_line(b, "total_reads_processed:%lld", s->f[INFO_READS]);
    rbuf_line(b, "total_writes_processed:%lld", s->f[INFO_WRITES]);
    info_zeros(b, io, SH_ARRAY_LEN(io));
    rbuf_line(b, "mailbox_messages_sent:%lld", s->f[INFO_MBOX_SENT]);
    rbuf_line(b, "mailbox_messages_received:%lld", s->f[INFO_MBOX_RECV]);
    rbuf_line(b, "mailbox_overflows:%lld", s->f[INFO_MBOX_OVERFLOW]);
    rbuf_line(b, "txn_scheduled:%lld", s->f[INFO_TXN_SCHEDULED]);
    rbuf_line(b, "txn_refused:%lld", s->f[INFO_TXN_REFUSED]);
    rbuf_line(b, "txn_waited_commands:%lld", s->f[INFO_TXN_WAITED]);
    rbuf_line(b, "global_script_runs:%lld", s->f[INFO_SCRIPT_GLOBAL]);
    rbuf_line(b, "io_batch_waits:%lld", s->f[INFO_BATCH_WAITS]);
    rbuf_line(b, "eventloop_cycles:%lld", s->f[INFO_LOOP_CYCLES]);
    rbuf_line(b, "io_waits:%lld", s->f[INFO_IO_WAITS]);
    rbuf_line(b, "mailbox_doorbells:%lld", s->f[INFO_DOORBELLS]);
}

static void info_stats(struct rbuf *b, struct info_sum *s)
{
    struct repl_stats rs;

    repl_get_stats(s->sh->srv, &rs);
    info_section(b, "Stats");
    rbuf_line(b, "total_connections_received:%lld", s->f[INFO_CONNECTIONS]);
    rbuf_line(b, "total_commands_processed:%lld", s->f[INFO_COMMANDS]);
    rbuf_line(b, "instantaneous_ops_per_sec:%lld", s->f[INFO_OPS_PER_SEC]);
    rbuf_line(b, "total_net_input_bytes:%lld", s->f[INFO_NET_IN]);
    rbuf_line(b, "total_net_output_bytes:%lld", s->f[INFO_NET_OUT]);
    rbuf_line(b, "total_net_repl_input_bytes:0");
    rbuf_line(b, "total_net_repl_output_bytes:0");
    rbuf_line(b, "instantaneous_input_kbps:%.2f", (double)s->f[INFO_NET_IN_PER_SEC] / 1024);
    rbuf_line(b, "instantaneous_output_kbps:%.2f", (double)s->f[INFO_NET_OUT_PER_SEC] / 1024);
    rbuf_line(b, "instantaneous_input_repl_kbps:0.00");
    rbuf_line(b, "instantaneous_output_repl_kbps:0.00");
    rbuf_line(b, "rejected_connections:%lld", s->f[INFO_REJECTED]);
    rbuf_line(b, "sync_full:%lld", rs.sync_full);
    rbuf_line(b, "sync_partial_ok:%lld", rs.sync_partial_ok);
    rbuf_line(b, "sync_partial_err:%lld", rs.sync_partial_err);
    info_stats_tail(b, s);
}

static void info_replication(struct rbuf *b, struct info_sum *s)
{
    info_section(b, "Replication");
    repl_info(s->sh, b);
}

/* used_cpu_*_main_thread: Redis's main thread runs the commands; here the
 * shards' threads do, so it is their sum (main()'s own thread only waits). */
static void info_cpu(struct rbuf *b, struct info_sum *s)
{
    struct rusage self, children;
    long long sys = s->f[INFO_CPU_SYS_US], user = s->f[INFO_CPU_USER_US];

    getrusage(RUSAGE_SELF, &self);
    getrusage(RUSAGE_CHILDREN, &children);
    info_section(b, "CPU");
    rbuf_line(b, "used_cpu_sys:%ld.%06ld", (long)self.ru_stime.tv_sec, (long)self.ru_stime.tv_usec);
    rbuf_line(b, "used_cpu_user:%ld.%06ld", (long)self.ru_utime.tv_sec,
              (long)self.ru_utime.tv_usec);
    rbuf_line(b, "used_cpu_sys_children:%ld.%06ld", (long)children.ru_stime.tv_sec,
              (long)children.ru_stime.tv_usec);
    rbuf_line(b, "used_cpu_user_children:%ld.%06ld", (long)children.ru_utime.tv_sec,
              (long)children.ru_utime.tv_usec);
    rbuf_line(b, "used_cpu_sys_main_thread:%lld.%06lld", sys / 1000000, sys % 1000000);
    rbuf_line(b, "used_cpu_user_main_thread:%lld.%06lld", user / 1000000, user % 1000000);
}

/* No modules: the section is there, empty, as in Redis without modules. */
static void info_modules(struct rbuf *b, struct info_sum *s)
{
    (void)s;
    info_section(b, "Modules");
}

/* Sums the commandstats arrays of the parts (each at s->tails[part]). */
static void info_commandstats(struct rbuf *b, struct info_sum *s)
{
    int nids = cmdtab_nids();
    struct cmd_stat *sum = sh_calloc((size_t)nids, sizeof(*sum));

    for (int p = 0; p < s->co->nshards; p++) {
        struct sh_slice *t = &s->tails[p];
        long long n, id, v[4];

        if (!take_array(t, &n)) {
            continue;
        }
        for (long long i = 0; i + 5 <= n; i += 5) {
            if (!take_int(t, &id) || !take_int(t, &v[0]) || !take_int(t, &v[1]) ||
                !take_int(t, &v[2]) || !take_int(t, &v[3])) {
                break;
            }
            if (id > 0 && id < nids) {
                sum[id].calls += (uint64_t)v[0];
                sum[id].usec += (uint64_t)v[1];
                sum[id].rejected += (uint64_t)v[2];
                sum[id].failed += (uint64_t)v[3];
            }
        }
    }
    info_section(b, "Commandstats");
    for (int id = 1; id < nids; id++) {
        const struct cmd_stat *st = &sum[id];

        if (st->calls || st->rejected || st->failed) {
            rbuf_line(b,
                      "cmdstat_%s:calls=%llu,usec=%llu,usec_per_call=%.2f,rejected_calls=%llu,"
                      "failed_calls=%llu",
                      cmdtab_by_id(id)->fullname, (unsigned long long)st->calls,
                      (unsigned long long)st->usec,
                      st->calls ? (double)st->usec / (double)st->calls : 0.0,
                      (unsigned long long)st->rejected, (unsigned long long)st->failed);
        }
    }
    sh_free(sum);
}

/* Adds count to the error name's entry of sum (used of them in use). */
static void errorstat_add(struct err_stat *sum, int *used, struct sh_slice name, long long count)
{
    int j;

    for (j = 0; j < *used; j++) {
        if (strlen(sum[j].name) == name.len && !memcmp(sum[j].name, name.ptr, name.len)) {
            break;
        }
    }
    if (j == *used && *used < SHARD_ERRSTATS) {
        memcpy(sum[j].name, name.ptr, name.len);
        sum[j].name[name.len] = '\0';
        (*used)++;
    }
    if (j < SHARD_ERRSTATS) {
        sum[j].count += (uint64_t)count;
    }
}

/* Sums the errorstats arrays of the parts (by error name). */
static void info_errorstats(struct rbuf *b, struct info_sum *s)
{
    struct err_stat sum[SHARD_ERRSTATS];
    int used = 0;

    memset(sum, 0, sizeof(sum));
    for (int p = 0; p < s->co->nshards; p++) {
        struct sh_slice *t = &s->tails[p];
        long long n, count;
        struct sh_slice name;

        if (!take_array(t, &n)) {
            continue;
        }
        for (long long i = 0; i + 2 <= n; i += 2) {
            if (!take_bulk(t, &name) || !take_int(t, &count) || name.len >= sizeof(sum[0].name)) {
                break;
            }
            errorstat_add(sum, &used, name, count);
        }
    }
    info_section(b, "Errorstats");
    for (int j = 0; j < used; j++) {
        rbuf_line(b, "errorstat_%s:count=%llu", sum[j].name, (unsigned long long)sum[j].count);
    }
}

/* "# Latencystats": the percentiles of latency-tracking-info-percentiles
 * of each command's histogram, summed over the parts, as Redis 7.0's
 * fillPercentileDistributionLatencies writes them. */
static void info_latencystats(struct rbuf *b, struct info_sum *s)
{
    int nids = cmdtab_nids();
    struct latency_hist **m = sh_calloc((size_t)nids, sizeof(*m));
    const char *pcts = s->sh->cfg.latency_tracking_info_percentiles;

    for (int p = 0; p < s->co->nshards; p++) {
        (void)diag_hist_merge(&s->tails[p], m, nids);
    }
    info_section(b, "Latencystats");
    for (int id = 1; id < nids; id++) {
        struct rbuf line;
        const char *w = pcts;

        if (!m[id]) {
            continue;
        }
        rbuf_init(&line);
        while (*w) {
            char num[160];
            double pct;
            size_t wl;
            int k;

            for (; *w == ' '; w++) {
            }
            wl = strcspn(w, " ");
            if (!wl) {
                break;
            }
            pct = strtod(w, NULL);
            k = snprintf(num, sizeof(num), "%sp%.*s=%.3f", line.len ? "," : "",
                         (int)(wl < 64 ? wl : 64), w,
                         (double)latency_hist_percentile(m[id], pct) / 1000.0);
            rbuf_append(&line, num, (size_t)k < sizeof(num) ? (size_t)k : sizeof(num) - 1);
            w += wl;
        }
        rbuf_line(b, "latency_percentiles_usec_%s:%.*s", cmdtab_by_id(id)->fullname, (int)line.len,
                  line.data ? line.data : "");
        rbuf_fini(&line);
    }
    diag_hist_free(m, nids);
}

static void info_cluster(struct rbuf *b, struct info_sum *s)
{
    (void)s;
    info_section(b, "Cluster");
    rbuf_line(b, "cluster_enabled:0");
}

static void info_keyspace(struct rbuf *b, struct info_sum *s)
{
    info_section(b, "Keyspace");
    for (int i = 0; i < s->ndb; i++) {
        long long *d = &s->db[i * 4];

        if (d[0]) {
            rbuf_line(b, "db%d:keys=%lld,expires=%lld,avg_ttl=%lld", i, d[0], d[1],
                      d[3] ? d[2] / d[3] : 0);
        }
    }
}

/* "# Shards": one line per shard, so an operator sees how keys, load,
 * mailbox traffic and memory spread. Not in Redis: only with "shards", "all"
 * or "everything". */
static void info_shards(struct rbuf *b, struct info_sum *s)
{
    int n = INFO_NFIELDS + 3 * s->ndb;
    long long *v = sh_calloc((size_t)n, sizeof(long long));

    info_section(b, "Shards");
    for (int sh = 0; sh < s->co->nshards; sh++) {
        if (parse_ints(coord_part(s->co, sh), v, n) != n) {
            continue;
        }
        rbuf_line(b,
                  "shard%d:keys=%lld,clients=%lld,commands=%lld,mailbox_sent=%lld,"
                  "mailbox_received=%lld,mailbox_overflows=%lld,memory=%lld,ops_per_sec=%lld",
                  sh, v[INFO_KEYS], v[INFO_CLIENTS], v[INFO_COMMANDS], v[INFO_MBOX_SENT],
                  v[INFO_MBOX_RECV], v[INFO_MBOX_OVERFLOW], v[INFO_MEMORY], v[INFO_OPS_PER_SEC]);
    }
    sh_free(v);
}

/* The sections in Redis's order: name, another name asking for it, whether
 * INFO without arguments (or "default") shows it. commandstats must come
 * before errorstats, and errorstats before latencystats: they read the parts'
 * tails in that order. */
static const struct info_section_def {
    const char *name;
    const char *alias;
    bool in_default;
    void (*write)(struct rbuf *b, struct info_sum *s);
} info_sections[] = {
    { "server", NULL, true, info_server },
    { "clients", NULL, true, info_clients },
    { "memory", NULL, true, info_memory },
    { "persistence", NULL, true, info_persistence },
    { "stats", NULL, true, info_stats },
    { "replication", NULL, true, info_replication },
    { "cpu", NULL, true, info_cpu },
    { "modules", "module_list", true, info_modules },
    { "commandstats", NULL, false, info_commandstats },
    { "errorstats", NULL, true, info_errorstats },
    { "latencystats", NULL, false, info_latencystats },
    { "cluster", NULL, true, info_cluster },
    { "keyspace", NULL, true, info_keyspace },
    { "shards", NULL, false, info_shards },
};

static bool done_info(struct coord *co, struct reply *r)
{
    struct shard *sh = co->conn->sh;
    struct info_sum s = { .ndb = (int)sh->cfg.databases, .co = co, .sh = sh };
    struct rbuf b;

    s.db = sh_calloc((size_t)s.ndb * 4, sizeof(long long));
    s.tails = sh_malloc(sizeof(*s.tails) * (size_t)co->nshards);
    info_sum_parts(co, &s);
    for (int i = 0; i < co->nshards; i++) {
        s.tails[i] = part_tail(coord_part(co, i), INFO_NFIELDS + 3 * s.ndb);
    }
    rbuf_init(&b);
    for (size_t i = 0; i < SH_ARRAY_LEN(info_sections); i++) {
        const struct info_section_def *d = &info_sections[i];

        if (info_wanted(co->argc, co->argv, d->name, d->in_default) ||
            (d->alias && info_wanted(co->argc, co->argv, d->alias, d->in_default))) {
            d->write(&b, &s);
        }
    }
    reply_verbatim(r, b.data ? b.data : "", b.len, "txt");
    rbuf_fini(&b);
    sh_free(s.tails);
    sh_free(s.db);
    return true;
}

static const struct gather gather_info = { .start = coord_start_fanout,
                                           .done = done_info,
                                           .always = true };

/* ---- MEMORY STATS and MEMORY DOCTOR: INFO memory's figures ---- */

/* The parts merged and measured, as done_info does. */
static void memory_measure(struct coord *co, struct info_sum *s, struct info_mem *m)
{
    struct shard *sh = co->conn->sh;

    *s = (struct info_sum){ .ndb = (int)sh->cfg.databases, .co = co, .sh = sh };
    s->db = sh_calloc((size_t)s->ndb * 4, sizeof(long long));
    info_sum_parts(co, s);
    info_mem_measure(s, m);
}

/* MEMORY STATS: Redis 7.0's map. The key tables are shardis's, so their
 * overhead is estimated (an entry header per key, a word per TTL). */
static bool done_memory_stats(struct coord *co, struct reply *r)
{
    struct info_sum s;
    struct info_mem m;
    long long keys, ndbs = 0;
    double frag;

    memory_measure(co, &s, &m);
    keys = s.f[INFO_KEYS];
    for (int i = 0; i < s.ndb; i++) {
        ndbs += s.db[4 * i] > 0;
    }
    frag = ratio(m.rss, m.used);
    reply_map(r, 27 + ndbs);
    reply_bulk_cstr(r, "peak.allocated");
    reply_int(r, m.peak);
    reply_bulk_cstr(r, "total.allocated");
    reply_int(r, m.used);
    reply_bulk_cstr(r, "startup.allocated");
    reply_int(r, m.startup);
    reply_bulk_cstr(r, "replication.backlog");
    reply_int(r, 0);
    reply_bulk_cstr(r, "clients.slaves");
    reply_int(r, 0);
    reply_bulk_cstr(r, "clients.normal");
    reply_int(r, s.f[INFO_CLIENT_MEM]);
    reply_bulk_cstr(r, "cluster.links");
    reply_int(r, 0);
    reply_bulk_cstr(r, "aof.buffer");
    reply_int(r, 0);
    reply_bulk_cstr(r, "lua.caches");
    reply_int(r, 0);
    reply_bulk_cstr(r, "functions.caches");
    reply_int(r, 0);
    for (int i = 0; i < s.ndb; i++) {
        char name[24];

        if (s.db[4 * i] <= 0) {
            continue;
        }
        snprintf(name, sizeof(name), "db.%d", i);
        reply_bulk_cstr(r, name);
        reply_map(r, 2);
        reply_bulk_cstr(r, "overhead.hashtable.main");
        reply_int(r, s.db[4 * i] * (long long)(sizeof(struct kentry) + sizeof(void *)));
        reply_bulk_cstr(r, "overhead.hashtable.expires");
        reply_int(r, s.db[4 * i + 1] * (long long)sizeof(void *));
    }
    reply_bulk_cstr(r, "overhead.total");
    reply_int(r, m.overhead);
    reply_bulk_cstr(r, "keys.count");
    reply_int(r, keys);
    reply_bulk_cstr(r, "keys.bytes-per-key");
    reply_int(r, keys ? (m.used - m.startup) / keys : 0);
    reply_bulk_cstr(r, "dataset.bytes");
    reply_int(r, m.dataset);
    reply_bulk_cstr(r, "dataset.percentage");
    reply_double(r, 100 * ratio(m.dataset, m.used > m.startup ? m.used - m.startup : 1));
    reply_bulk_cstr(r, "peak.percentage");
    reply_double(r, 100 * ratio(m.used, m.peak));
    reply_bulk_cstr(r, "allocator.allocated");
    reply_int(r, m.allocated);
    reply_bulk_cstr(r, "allocator.active");
    reply_int(r, m.active);
    reply_bulk_cstr(r, "allocator.resident");
    reply_int(r, m.resident);
    reply_bulk_cstr(r, "allocator-fragmentation.ratio");
    reply_double(r, ratio(m.active, m.allocated));
    reply_bulk_cstr(r, "allocator-fragmentation.bytes");
    reply_int(r, m.active - m.allocated);
    reply_bulk_cstr(r, "allocator.rss-ratio");
    reply_double(r, ratio(m.resident, m.active));
    reply_bulk_cstr(r, "allocator.rss-bytes");
    reply_int(r, m.resident - m.active);
    reply_bulk_cstr(r, "rss-overhead.ratio");
    reply_double(r, ratio(m.rss, m.resident));
    reply_bulk_cstr(r, "rss-overhead.bytes");
    reply_int(r, m.rss - m.resident);
    reply_bulk_cstr(r, "fragmentation");
    reply_double(r, frag);
    reply_bulk_cstr(r, "fragmentation.bytes");
    reply_int(r, m.rss - m.used);
    sh_free(s.db);
    return true;
}

/* MEMORY DOCTOR: Redis's report for an instance too small to judge, for a
 * high RSS against what was allocated, or none found. */
static bool done_memory_doctor(struct coord *co, struct reply *r)
{
    struct info_sum s;
    struct info_mem m;
    char text[2048];

    memory_measure(co, &s, &m);
    /* what the shards allocated since they started serving: the data and
     * the clients (the allocator's process-wide count also holds their
     * buffers from the start) */
    if (s.f[INFO_MEMORY] - s.f[INFO_NOT_EVICT] < 5LL << 20) {
        snprintf(text, sizeof(text),
                 "Hi Sam, this instance is empty or is using very little memory, my issues "
                 "detector can't be used in these conditions. Please, leave for your mission on "
                 "Earth and fill it with some data. The new Sam and I will be back to our "
                 "programming as soon as I finished rebooting.\n");
    } else if (ratio(m.rss, m.used) > 1.4 && m.rss - m.used > 10LL << 20) {
        snprintf(text, sizeof(text),
                 "Sam, I detected a few issues in this Redis instance memory implants:\n\n"
                 " * High total RSS: This instance has a memory fragmentation and RSS overhead "
                 "greater than 1.4 (this means that the Resident Set Size of the Redis process is "
                 "much larger than the sum of the logical allocations Redis performed). This "
                 "problem is usually due either to a large peak memory (check if there is a peak "
                 "memory entry above in the report) or may result from a workload that causes "
                 "the allocator to fragment memory a lot. If the problem is a large peak memory, "
                 "then there is no issue. Otherwise, make sure you are using the Jemalloc "
                 "allocator and not the default libc malloc. Note: The currently used allocator "
                 "is \"%s\".\n\nI'm here to keep you safe, Sam. I want to help you.\n",
                 sh_alloc_name());
    } else {
        snprintf(text, sizeof(text),
                 "Hi Sam, I can't find any memory issue in your instance. I can only account for "
                 "what occurs on this base.\n");
    }
    reply_verbatim(r, text, strlen(text), "txt");
    sh_free(s.db);
    return true;
}

static const struct gather gather_memory_stats = { .start = coord_start_fanout,
                                                   .done = done_memory_stats,
                                                   .always = true };
static const struct gather gather_memory_doctor = { .start = coord_start_fanout,
                                                    .done = done_memory_doctor,
                                                    .always = true };

void cmd_info_bind(void)
{
    cmd_must_bind("info", cmd_info_part, CMD_ROUTE_ALL, &gather_info);
    cmd_must_bind("memory|stats", cmd_info_part, CMD_ROUTE_ALL, &gather_memory_stats);
    cmd_must_bind("memory|doctor", cmd_info_part, CMD_ROUTE_ALL, &gather_memory_doctor);
}
