/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * cmd_diag.c: SLOWLOG (GET LEN RESET HELP) and LATENCY (LATEST HISTORY RESET
 * HELP), as Redis 7.0 has them.
 *
 * Each shard keeps its own slow log (slowlog.h) and latency monitor
 * (latency.h); the commands fan out to every shard and the client's core
 * merges the parts:
 *
 *   SLOWLOG GET     entries of every shard, newest first by id
 *   SLOWLOG LEN     the sum of the lengths
 *   both capped at slowlog-max-len: Redis's contract is "at most max-len
 *   entries", and each of N shards may hold that many
 *   LATENCY LATEST  per event: the newest second, its latency, the max of
 *                   the all-time maxima
 *   LATENCY HISTORY per second the largest latency, the newest 160 seconds
 *   LATENCY RESET   the number of distinct events reset on any shard
 *
 * The recording side (what each shard keeps, and on which core) is
 * core/diag.c.
 *
 *   LATENCY DOCTOR  Redis's report over the merged series (the advice for
 *                   events shardis does not record is left out: fork, AOF,
 *                   expire and eviction cycles)
 *   LATENCY GRAPH   Redis's sparkline over the merged series
 *   LATENCY HISTOGRAM the sum of the shards' per-command histograms
 *                   (latency.h), as Redis's fillCommandCDF reports them
 *
 * Not here: latency events other than "command" and "fast-command".
 */
#include "shardis/cmd.h"
#include "shardis/cmd_bind.h"
#include "shardis/cmdtab.h"
#include "shardis/conn.h"
#include "shardis/diag.h"
#include "shardis/latency.h"
#include "shardis/log.h"
#include "shardis/resp.h"
#include "shardis/route.h"
#include "shardis/shard.h"
#include "shardis/slowlog.h"
#include "shardis/util.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define SLOWLOG_DEFAULT_COUNT 10

/* ---- reading the parts of a fan-out (RESP2, written by this file) ---- */

static bool take_bulk(struct sh_slice *t, struct sh_slice *out)
{
    long long n;

    if (!diag_take_header(t, '$', &n) || n < 0 || (size_t)n + 2 > t->len) {
        return false;
    }
    out->ptr = t->ptr;
    out->len = (size_t)n;
    t->ptr += n + 2;
    t->len -= (size_t)n + 2;
    return true;
}

/* One whole value at the start of *t, moved past. */
static bool take_value(struct sh_slice *t, struct sh_slice *out)
{
    size_t n = t->len ? resp_value_size(t->ptr, t->len) : 0;

    if (n == 0) {
        return false;
    }
    out->ptr = t->ptr;
    out->len = n;
    t->ptr += n;
    t->len -= n;
    return true;
}

/* Copies the first error part as the reply; true if there was one. */
static bool forward_error(const struct coord *co, struct reply *r)
{
    struct sh_slice e = coord_first_error(co);

    if (e.len) {
        reply_raw(r, e.ptr, e.len);
    }
    return e.len != 0;
}

/* ---- SLOWLOG ---- */

/* How many entries SLOWLOG GET may return: its count (default 10, -1 =
 * all), at most slowlog-max-len. -1 when the count is not valid. */
static long long slowlog_get_count(const struct shard *sh, int argc, const struct sh_slice *argv)
{
    long long count = SLOWLOG_DEFAULT_COUNT;
    long long max = sh->cfg.slowlog_max_len;

    if (argc == 3 && (!util_str2ll(argv[2].ptr, argv[2].len, &count) || count < -1)) {
        return -1;
    }
    return count == -1 || count > max ? max : count;
}

static void cmd_slowlog_get(struct cmd_ctx *ctx)
{
    long long n;

    if (ctx->argc > 3) {
        reply_errorf(&ctx->r,
                     "ERR unknown subcommand or wrong number of arguments for '%.*s'. Try "
                     "SLOWLOG HELP.",
                     (int)(ctx->argv[1].len < 128 ? ctx->argv[1].len : 128), ctx->argv[1].ptr);
        return;
    }
    n = slowlog_get_count(ctx->shard, ctx->argc, ctx->argv);
    if (n < 0) {
        reply_error(&ctx->r, "ERR count should be greater than or equal to -1");
        return;
    }
    slowlog_reply(ctx->shard->slowlog, &ctx->r, (size_t)n);
}

/* The id of the entry at the start of t (a part's next entry). */
static long long entry_id(struct sh_slice t)
{
    long long n, id;

    return diag_take_header(&t, '*', &n) && diag_take_header(&t, ':', &id) ? id : -1;
}

/* Merges the parts' entries (each part newest first) by decreasing id. */
static bool done_slowlog_get(struct coord *co, struct reply *r)
{
    struct sh_slice *rest;
    long long *left, want, total = 0;

    if (forward_error(co, r)) {
        return true;
    }
    want = slowlog_get_count(co->conn->sh, co->argc, co->argv);
    rest = sh_malloc(sizeof(*rest) * (size_t)co->nshards);
    left = sh_malloc(sizeof(*left) * (size_t)co->nshards);
    for (int s = 0; s < co->nshards; s++) {
        rest[s] = coord_part(co, s);
        if (!diag_take_header(&rest[s], '*', &left[s])) {
            left[s] = 0;
        }
        total += left[s];
    }
    total = total < want ? total : want;
    reply_array(r, total);
    for (long long k = 0; k < total; k++) {
        struct sh_slice e;
        int best = -1;

        for (int s = 0; s < co->nshards; s++) {
            if (left[s] > 0 && (best < 0 || entry_id(rest[s]) > entry_id(rest[best]))) {
                best = s;
            }
        }
        bool ok = best >= 0 && take_value(&rest[best], &e);

        SH_ASSERT(ok); /* the parts are this file's own replies */
        left[best]--;
        reply_raw(r, e.ptr, e.len);
    }
    sh_free(rest);
    sh_free(left);
    return true;
}

static void cmd_slowlog_len(struct cmd_ctx *ctx)
{
    size_t len = slowlog_len(ctx->shard->slowlog);
    long long max = ctx->shard->cfg.slowlog_max_len;

    reply_int(&ctx->r, (long long)len < max ? (long long)len : max);
}

static bool done_slowlog_len(struct coord *co, struct reply *r)
{
    long long sum, max = co->conn->sh->cfg.slowlog_max_len;

    if (!forward_error(co, r)) {
        sum = coord_sum(co);
        reply_int(r, sum < max ? sum : max);
    }
    return true;
}

static void cmd_slowlog_reset(struct cmd_ctx *ctx)
{
    slowlog_reset(ctx->shard->slowlog);
    reply_ok(&ctx->r);
}

static void reply_help(struct reply *r, const char *cmd, const char *const *lines, size_t n)
{
    char head[96];

    snprintf(head, sizeof(head),
             "%s <subcommand> [<arg> [value] [opt] ...]. Subcommands are:", cmd);
    reply_array(r, (long long)n + 3);
    reply_status(r, head);
    for (size_t i = 0; i < n; i++) {
        reply_status(r, lines[i]);
    }
    reply_status(r, "HELP");
    reply_status(r, "    Prints this help.");
}

static void cmd_slowlog_help(struct cmd_ctx *ctx)
{
    static const char *const lines[] = {
        "GET [<count>]",
        "    Return top <count> entries from the slowlog (default: 10, -1 mean all).",
        "    Entries are made of:",
        "    id, timestamp, time in microseconds, arguments array, client IP and port,",
        "    client name",
        "LEN",
        "    Return the length of the slowlog.",
        "RESET",
        "    Reset the slowlog.",
    };

    reply_help(&ctx->r, "SLOWLOG", lines, SH_ARRAY_LEN(lines));
}

/* ---- LATENCY ---- */

static void cmd_latency_latest(struct cmd_ctx *ctx)
{
    const struct latency *l = ctx->shard->latency;
    struct latency_sample last;
    int64_t max;
    long long n = 0;

    for (int ev = 0; ev < LATENCY_NEVENTS; ev++) {
        n += latency_latest(l, ev, &last, &max);
    }
    reply_array(&ctx->r, n);
    for (int ev = 0; ev < LATENCY_NEVENTS; ev++) {
        if (latency_latest(l, ev, &last, &max)) {
            reply_array(&ctx->r, 4);
            reply_bulk_cstr(&ctx->r, latency_event_name(ev));
            reply_int(&ctx->r, last.time);
            reply_int(&ctx->r, last.ms);
            reply_int(&ctx->r, max);
        }
    }
}

struct latest_acc {
    bool found;
    long long time, ms, max;
};

/* Folds one [event, time, latest, max] of a part into acc. */
static bool fold_latest(struct sh_slice *t, struct latest_acc *acc)
{
    struct sh_slice name;
    long long n, when, ms, max;
    struct latest_acc *a;
    int ev;

    if (!diag_take_header(t, '*', &n) || n != 4 || !take_bulk(t, &name) ||
        !diag_take_header(t, ':', &when) || !diag_take_header(t, ':', &ms) ||
        !diag_take_header(t, ':', &max)) {
        return false;
    }
    ev = latency_event_find(name.ptr, name.len, false);
    if (ev < 0) {
        return true;
    }
    a = &acc[ev];
    if (!a->found || when > a->time) {
        a->time = when;
        a->ms = ms;
    } else if (when == a->time && ms > a->ms) {
        a->ms = ms;
    }
    if (!a->found || max > a->max) {
        a->max = max;
    }
    a->found = true;
    return true;
}

static bool done_latency_latest(struct coord *co, struct reply *r)
{
    struct latest_acc acc[LATENCY_NEVENTS];
    long long n = 0;

    if (forward_error(co, r)) {
        return true;
    }
    memset(acc, 0, sizeof(acc));
    for (int s = 0; s < co->nshards; s++) {
        struct sh_slice t = coord_part(co, s);
        long long k;

        if (!diag_take_header(&t, '*', &k)) {
            continue;
        }
        for (long long i = 0; i < k; i++) {
            if (!fold_latest(&t, acc)) {
                break;
            }
        }
    }
    for (int ev = 0; ev < LATENCY_NEVENTS; ev++) {
        n += acc[ev].found;
    }
    reply_array(r, n);
    for (int ev = 0; ev < LATENCY_NEVENTS; ev++) {
        if (acc[ev].found) {
            reply_array(r, 4);
            reply_bulk_cstr(r, latency_event_name(ev));
            reply_int(r, acc[ev].time);
            reply_int(r, acc[ev].ms);
            reply_int(r, acc[ev].max);
        }
    }
    return true;
}

static void reply_samples(struct reply *r, const struct latency_sample *s, int n)
{
    reply_array(r, n);
    for (int i = 0; i < n; i++) {
        reply_array(r, 2);
        reply_int(r, s[i].time);
        reply_int(r, s[i].ms);
    }
}

static void cmd_latency_history(struct cmd_ctx *ctx)
{
    struct latency_sample s[LATENCY_TS_LEN];
    int ev = latency_event_find(ctx->argv[2].ptr, ctx->argv[2].len, false);

    reply_samples(&ctx->r, s, ev < 0 ? 0 : latency_history(ctx->shard->latency, ev, s));
}

static int sample_cmp(const void *a, const void *b)
{
    const struct latency_sample *x = a, *y = b;

    return (x->time > y->time) - (x->time < y->time);
}

/* Reads a part's [time, latency] pairs into out; returns how many. */
static int read_samples(struct sh_slice t, struct latency_sample *out)
{
    long long k, pair, when, ms;
    int n = 0;

    if (!diag_take_header(&t, '*', &k)) {
        return 0;
    }
    while (k-- > 0 && n < LATENCY_TS_LEN && diag_take_header(&t, '*', &pair) && pair == 2 &&
           diag_take_header(&t, ':', &when) && diag_take_header(&t, ':', &ms)) {
        out[n++] = (struct latency_sample){ when, ms };
    }
    return n;
}

/* Sorts all[0..n) by time, one sample per second (the largest); returns
 * where the newest LATENCY_TS_LEN of them start and sets *end. */
static int merge_samples(struct latency_sample *all, int n, int *end)
{
    int m = 0;

    qsort(all, (size_t)n, sizeof(*all), sample_cmp);
    for (int i = 0; i < n; i++) {
        if (m && all[m - 1].time == all[i].time) {
            all[m - 1].ms = all[i].ms > all[m - 1].ms ? all[i].ms : all[m - 1].ms;
        } else {
            all[m++] = all[i];
        }
    }
    *end = m;
    return m < LATENCY_TS_LEN ? 0 : m - LATENCY_TS_LEN;
}

/* Every part's samples by time, one per second (the largest), the newest
 * LATENCY_TS_LEN of them. */
static bool done_latency_history(struct coord *co, struct reply *r)
{
    struct latency_sample *all;
    int n = 0, m, from;

    if (forward_error(co, r)) {
        return true;
    }
    all = sh_malloc(sizeof(*all) * LATENCY_TS_LEN * (size_t)co->nshards);
    for (int s = 0; s < co->nshards; s++) {
        n += read_samples(coord_part(co, s), all + n);
    }
    from = merge_samples(all, n, &m);
    reply_samples(r, all + from, m - from);
    sh_free(all);
    return true;
}

/* ---- LATENCY DOCTOR and GRAPH: every event of every shard ---- */

/* A part: per event with a series, [name, all-time max, [[time, ms] ...]]. */
static void cmd_latency_dump(struct cmd_ctx *ctx)
{
    const struct latency *l = ctx->shard->latency;
    struct latency_sample s[LATENCY_TS_LEN], last;
    int64_t max;
    long long n = 0;

    for (int ev = 0; ev < LATENCY_NEVENTS; ev++) {
        n += latency_latest(l, ev, &last, &max);
    }
    reply_array(&ctx->r, n);
    for (int ev = 0; ev < LATENCY_NEVENTS; ev++) {
        if (latency_latest(l, ev, &last, &max)) {
            reply_array(&ctx->r, 3);
            reply_bulk_cstr(&ctx->r, latency_event_name(ev));
            reply_int(&ctx->r, max);
            reply_samples(&ctx->r, s, latency_history(l, ev, s));
        }
    }
}

/* One event's series merged over the shards, as LATENCY HISTORY has it. */
struct merged_series {
    bool found;
    int64_t max;
    int n;
    struct latency_sample *s; /* the newest n seconds, oldest first */
    struct latency_sample *all;
};

/* Reads every part of a cmd_latency_dump fan-out into m[LATENCY_NEVENTS];
 * free with merged_free. */
static void merged_read(const struct coord *co, struct merged_series *m)
{
    int cnt[LATENCY_NEVENTS] = { 0 };

    memset(m, 0, sizeof(*m) * LATENCY_NEVENTS);
    for (int ev = 0; ev < LATENCY_NEVENTS; ev++) {
        m[ev].all = sh_malloc(sizeof(*m[ev].all) * LATENCY_TS_LEN * (size_t)co->nshards);
    }
    for (int p = 0; p < co->nshards; p++) {
        struct sh_slice t = coord_part(co, p), name, samples;
        long long k, three, max;
        int ev;

        if (!diag_take_header(&t, '*', &k)) {
            continue;
        }
        while (k-- > 0 && diag_take_header(&t, '*', &three) && three == 3 && take_bulk(&t, &name) &&
               diag_take_header(&t, ':', &max) && take_value(&t, &samples)) {
            ev = latency_event_find(name.ptr, name.len, false);
            if (ev < 0) {
                continue;
            }
            if (!m[ev].found || max > m[ev].max) {
                m[ev].max = max;
            }
            m[ev].found = true;
            if (cnt[ev] + LATENCY_TS_LEN <= LATENCY_TS_LEN * co->nshards) { /* once per part */
                cnt[ev] += read_samples(samples, m[ev].all + cnt[ev]);
            }
        }
    }
    for (int ev = 0; ev < LATENCY_NEVENTS; ev++) {
        int end, from = merge_samples(m[ev].all, cnt[ev], &end);

        m[ev].s = m[ev].all + from;
        m[ev].n = end - from;
    }
}

static void merged_free(struct merged_series *m)
{
    for (int ev = 0; ev < LATENCY_NEVENTS; ev++) {
        sh_free(m[ev].all);
    }
}

SH_PRINTF(2, 3) static void buf_printf(struct rbuf *b, const char *fmt, ...)
{
    char line[1024];
    va_list ap;
    int n;

    va_start(ap, fmt);
    n = vsnprintf(line, sizeof(line), fmt, ap);
    va_end(ap);
    if (n > 0) {
        rbuf_append(b, line, (size_t)n < sizeof(line) ? (size_t)n : sizeof(line) - 1);
    }
}

static void buf_cat(struct rbuf *b, const char *s)
{
    rbuf_append(b, s, strlen(s));
}

/* Redis's analyzeLatencyForEvent over a merged series. */
struct latency_stats {
    uint64_t avg, mad;
    int64_t period, min, max;
    int samples;
};

static void analyze(const struct merged_series *m, int64_t now, struct latency_stats *ls)
{
    uint64_t sum = 0;

    memset(ls, 0, sizeof(*ls));
    for (int j = 0; j < m->n; j++) {
        int64_t v = m->s[j].ms;

        ls->samples++;
        if (ls->samples == 1) {
            ls->min = ls->max = v;
        } else {
            ls->min = v < ls->min ? v : ls->min;
            ls->max = v > ls->max ? v : ls->max;
        }
        sum += (uint64_t)v;
        if (ls->period == 0 || m->s[j].time < ls->period) {
            ls->period = m->s[j].time;
        }
    }
    if (ls->samples) {
        ls->avg = sum / (uint64_t)ls->samples;
        ls->period = now - ls->period;
        if (ls->period <= 0) { /* another core's clock may run a little ahead */
            ls->period = 1;
        }
    }
    sum = 0;
    for (int j = 0; j < m->n; j++) {
        int64_t delta = (int64_t)ls->avg - m->s[j].ms;

        sum += (uint64_t)(delta < 0 ? -delta : delta);
    }
    if (ls->samples) {
        ls->mad = sum / (uint64_t)ls->samples;
    }
}

/* Redis 7.0's createLatencyReport, for the events shardis records
 * ("command", "fast-command") and the THP check. */
static void latency_report(struct rbuf *b, const struct merged_series *m, const struct config *cfg)
{
    bool slowlog_enabled = false, slowlog_tuning = false, slowlog_inspect = false;
    bool scheduler = false, large_objects = false, thp = false;
    int advices = 0, eventnum = 0;
    int64_t now = sh_time_ms() / 1000;

    for (int ev = 0; ev < LATENCY_NEVENTS; ev++) {
        eventnum += m[ev].found;
    }
    if (eventnum == 0 && cfg->latency_monitor_threshold == 0) {
        buf_cat(b, "I'm sorry, Dave, I can't do that. Latency monitoring is disabled in this "
                   "Redis instance. You may use \"CONFIG SET latency-monitor-threshold "
                   "<milliseconds>.\" in order to enable it. If we weren't in a deep space "
                   "mission I'd suggest to take a look at "
                   "https://redis.io/topics/latency-monitor.\n");
        return;
    }
    eventnum = 0;
    for (int ev = 0; ev < LATENCY_NEVENTS; ev++) {
        struct latency_stats ls;

        if (!m[ev].found) {
            continue;
        }
        if (++eventnum == 1) {
            buf_cat(b, "Dave, I have observed latency spikes in this Redis instance. You don't "
                       "mind talking about it, do you Dave?\n\n");
        }
        analyze(&m[ev], now, &ls);
        buf_printf(b,
                   "%d. %s: %d latency spikes (average %lums, mean deviation %lums, period "
                   "%.2f sec). Worst all time event %lums.",
                   eventnum, latency_event_name(ev), ls.samples, (unsigned long)ls.avg,
                   (unsigned long)ls.mad, (double)ls.period / ls.samples, (unsigned long)m[ev].max);
        if (ev == LATENCY_COMMAND) {
            if (cfg->slowlog_log_slower_than < 0) {
                slowlog_enabled = true;
                advices++;
            } else if (cfg->slowlog_log_slower_than / 1000 > cfg->latency_monitor_threshold) {
                slowlog_tuning = true;
                advices++;
            }
            slowlog_inspect = large_objects = true;
            advices += 2;
        } else if (ev == LATENCY_FAST_COMMAND) {
            scheduler = true;
            advices++;
        }
        buf_cat(b, "\n");
    }
    if (diag_anon_huge_pages() > 0) {
        thp = true;
        advices++;
    }
    if (eventnum == 0 && advices == 0) {
        buf_cat(b, "Dave, no latency spike was observed during the lifetime of this Redis "
                   "instance, not in the slightest bit. I honestly think you ought to sit down "
                   "calmly, take a stress pill, and think things over.\n");
        return;
    }
    if (eventnum > 0 && advices == 0) {
        buf_cat(b, "\nWhile there are latency events logged, I'm not able to suggest any easy "
                   "fix. Please use the Redis community to get some help, providing this report "
                   "in your help request.\n");
        return;
    }
    buf_cat(b, "\nI have a few advices for you:\n\n");
    if (slowlog_enabled) {
        buf_printf(b,
                   "- There are latency issues with potentially slow commands you are using. Try "
                   "to enable the Slow Log Redis feature using the command 'CONFIG SET "
                   "slowlog-log-slower-than %llu'. If the Slow log is disabled Redis is not able "
                   "to log slow commands execution for you.\n",
                   (unsigned long long)cfg->latency_monitor_threshold * 1000);
    }
    if (slowlog_tuning) {
        buf_printf(b,
                   "- Your current Slow Log configuration only logs events that are slower than "
                   "your configured latency monitor threshold. Please use 'CONFIG SET "
                   "slowlog-log-slower-than %llu'.\n",
                   (unsigned long long)cfg->latency_monitor_threshold * 1000);
    }
    if (slowlog_inspect) {
        buf_cat(b, "- Check your Slow Log to understand what are the commands you are running "
                   "which are too slow to execute. Please check https://redis.io/commands/slowlog "
                   "for more information.\n");
    }
    if (scheduler) {
        buf_cat(b, "- The system is slow to execute Redis code paths not containing system "
                   "calls. This usually means the system does not provide Redis CPU time to run "
                   "for long periods. You should try to:\n"
                   "  1) Lower the system load.\n"
                   "  2) Use a computer / VM just for Redis if you are running other software in "
                   "the same system.\n"
                   "  3) Check if you have a \"noisy neighbour\" problem.\n"
                   "  4) Check with 'redis-cli --intrinsic-latency 100' what is the intrinsic "
                   "latency in your system.\n"
                   "  5) Check if the problem is allocator-related by recompiling Redis with "
                   "MALLOC=libc, if you are using Jemalloc. However this may create "
                   "fragmentation problems.\n");
    }
    if (large_objects) {
        buf_cat(b, "- Deleting, expiring or evicting (because of maxmemory policy) large objects "
                   "is a blocking operation. If you have very large objects that are often "
                   "deleted, expired, or evicted, try to fragment those objects into multiple "
                   "smaller objects.\n");
    }
    if (thp) {
        buf_cat(b, "- I detected a non zero amount of anonymous huge pages used by your process. "
                   "This creates very serious latency events in different conditions, especially "
                   "when Redis is persisting on disk. To disable THP support use the command "
                   "'echo never > /sys/kernel/mm/transparent_hugepage/enabled', make sure to also "
                   "add it into /etc/rc.local so that the command will be executed again after a "
                   "reboot. Note that even if you have already disabled THP, you still need to "
                   "restart the Redis process to get rid of the huge pages already created.\n");
    }
}

static bool done_latency_doctor(struct coord *co, struct reply *r)
{
    struct merged_series m[LATENCY_NEVENTS];
    struct rbuf b;

    if (forward_error(co, r)) {
        return true;
    }
    merged_read(co, m);
    rbuf_init(&b);
    latency_report(&b, m, &co->conn->sh->cfg);
    reply_verbatim(r, b.data ? b.data : "", b.len, "txt");
    rbuf_fini(&b);
    merged_free(m);
    return true;
}

/* ---- sparkline.c of Redis: a sequence drawn in rows of "_o#|" ---- */

#define LATENCY_GRAPH_COLS 80
#define SPARK_ROWS         4

static const char spark_fill[] = "_o#";
#define SPARK_CHARSET_LEN 3

struct spark_sample {
    double value;
    char label[24];
};

/* sparklineRenderRange with SPARKLINE_FILL, label_margin_top 1 (every
 * sample has a label here). */
static void spark_range(struct rbuf *b, const struct spark_sample *seq, double min, double max,
                        int offset, int len)
{
    double relmax = max - min;
    int steps = SPARK_CHARSET_LEN * SPARK_ROWS;
    char chars[LATENCY_GRAPH_COLS];
    bool loop = true;

    if (relmax == 0) {
        relmax = 1;
    }
    for (int row = 0; loop;) {
        loop = false;
        memset(chars, ' ', (size_t)len);
        for (int j = 0; j < len; j++) {
            const struct spark_sample *s = &seq[j + offset];
            int step = (int)((s->value - min) * steps / relmax);

            step = step < 0 ? 0 : step >= steps ? steps - 1 : step;
            if (row < SPARK_ROWS) {
                int charidx = step - (SPARK_ROWS - row - 1) * SPARK_CHARSET_LEN;

                loop = true;
                if (charidx >= 0 && charidx < SPARK_CHARSET_LEN) {
                    chars[j] = spark_fill[charidx];
                } else if (charidx >= SPARK_CHARSET_LEN) {
                    chars[j] = '|';
                }
            } else if (row - SPARK_ROWS < 1) {
                loop = true; /* the blank line above the labels */
                break;
            } else {
                int label_char = row - SPARK_ROWS - 1;

                if ((int)strlen(s->label) > label_char) {
                    loop = true;
                    chars[j] = s->label[label_char];
                }
            }
        }
        if (loop) {
            row++;
            rbuf_append(b, chars, (size_t)len);
            rbuf_append(b, "\n", 1);
        }
    }
}

/* latencyCommandGenSparkeline over a merged series. */
static void latency_graph(struct rbuf *b, const char *event, const struct merged_series *m)
{
    struct spark_sample seq[LATENCY_TS_LEN];
    int64_t min = 0, max = 0, now = sh_time_ms() / 1000;
    char dashes[LATENCY_GRAPH_COLS];

    for (int j = 0; j < m->n; j++) {
        int64_t v = m->s[j].ms;
        int elapsed = now > m->s[j].time ? (int)(now - m->s[j].time) : 0;

        if (j == 0) {
            min = max = v;
        } else {
            max = v > max ? v : max;
            min = v < min ? v : min;
        }
        if (elapsed < 60) {
            snprintf(seq[j].label, sizeof(seq[j].label), "%ds", elapsed);
        } else if (elapsed < 3600) {
            snprintf(seq[j].label, sizeof(seq[j].label), "%dm", elapsed / 60);
        } else if (elapsed < 3600 * 24) {
            snprintf(seq[j].label, sizeof(seq[j].label), "%dh", elapsed / 3600);
        } else {
            snprintf(seq[j].label, sizeof(seq[j].label), "%dd", elapsed / (3600 * 24));
        }
        seq[j].value = (double)v;
    }
    /* Redis keeps these as uint32_t */
    buf_printf(b, "%s - high %lu ms, low %lu ms (all time high %lu ms)\n", event,
               (unsigned long)(uint32_t)max, (unsigned long)(uint32_t)min, (unsigned long)m->max);
    memset(dashes, '-', sizeof(dashes));
    rbuf_append(b, dashes, sizeof(dashes));
    rbuf_append(b, "\n", 1);
    for (int j = 0; j < m->n; j += LATENCY_GRAPH_COLS) {
        int sublen = m->n - j < LATENCY_GRAPH_COLS ? m->n - j : LATENCY_GRAPH_COLS;

        if (j != 0) {
            rbuf_append(b, "\n", 1);
        }
        spark_range(b, seq, (double)min, (double)max, j, sublen);
    }
}

static bool done_latency_graph(struct coord *co, struct reply *r)
{
    struct merged_series m[LATENCY_NEVENTS];
    int ev = latency_event_find(co->argv[2].ptr, co->argv[2].len, false);
    struct rbuf b;

    if (forward_error(co, r)) {
        return true;
    }
    merged_read(co, m);
    if (ev < 0 || !m[ev].found) {
        reply_errorf(r, "ERR No samples available for event '%.*s'",
                     (int)(co->argv[2].len < 960 ? co->argv[2].len : 960), co->argv[2].ptr);
    } else {
        rbuf_init(&b);
        latency_graph(&b, latency_event_name(ev), &m[ev]);
        reply_verbatim(r, b.data, b.len, "txt");
        rbuf_fini(&b);
    }
    merged_free(m);
    return true;
}

/* A part: the names of the events this shard reset (always fanned out, so
 * that the client's core counts each event once). */
static void cmd_latency_reset(struct cmd_ctx *ctx)
{
    bool done[LATENCY_NEVENTS] = { false };
    long long n = 0;

    for (int ev = 0; ev < LATENCY_NEVENTS; ev++) {
        bool named = ctx->argc == 2;

        for (int j = 2; j < ctx->argc && !named; j++) {
            named = latency_event_find(ctx->argv[j].ptr, ctx->argv[j].len, true) == ev;
        }
        done[ev] = named && latency_reset(ctx->shard->latency, ev);
        n += done[ev];
    }
    reply_array(&ctx->r, n);
    for (int ev = 0; ev < LATENCY_NEVENTS; ev++) {
        if (done[ev]) {
            reply_bulk_cstr(&ctx->r, latency_event_name(ev));
        }
    }
}

static bool done_latency_reset(struct coord *co, struct reply *r)
{
    bool reset[LATENCY_NEVENTS] = { false };
    long long n = 0;

    if (forward_error(co, r)) {
        return true;
    }
    for (int s = 0; s < co->nshards; s++) {
        struct sh_slice t = coord_part(co, s), name;
        long long k;
        int ev;

        if (!diag_take_header(&t, '*', &k)) {
            continue;
        }
        while (k-- > 0 && take_bulk(&t, &name)) {
            ev = latency_event_find(name.ptr, name.len, false);
            if (ev >= 0) {
                reset[ev] = true;
            }
        }
    }
    for (int ev = 0; ev < LATENCY_NEVENTS; ev++) {
        n += reset[ev];
    }
    reply_int(r, n);
    return true;
}

/* ---- LATENCY HISTOGRAM ---- */

static void cmd_latency_histogram(struct cmd_ctx *ctx)
{
    diag_hist_part(ctx->shard, &ctx->r);
}

/* One command's {calls, histogram_usec} as fillCommandCDF writes it. */
static void reply_cdf(struct reply *r, const struct cmd_spec *cmd, const struct latency_hist *h)
{
    int64_t usec[64];
    uint64_t cum[64];
    int n = latency_hist_cdf(h, usec, cum, 64);

    reply_bulk_cstr(r, cmd->fullname);
    reply_map(r, 2);
    reply_bulk_cstr(r, "calls");
    reply_int(r, (long long)h->total);
    reply_bulk_cstr(r, "histogram_usec");
    reply_map(r, n);
    for (int i = 0; i < n; i++) {
        reply_int(r, usec[i]);
        reply_int(r, (long long)cum[i]);
    }
}

/* The commands to report, in order (with repeats, as Redis): every one
 * with calls, or each named one and its subcommands with calls. Returns
 * how many; writes them to out unless it is NULL. */
static int histogram_pick(const struct coord *co, struct latency_hist **m, int nids,
                          const struct cmd_spec **out)
{
    int n = 0;

    if (co->argc == 2) {
        for (int id = 1; id < nids; id++) {
            if (m[id]) {
                if (out) {
                    out[n] = cmdtab_by_id(id);
                }
                n++;
            }
        }
        return n;
    }
    for (int j = 2; j < co->argc; j++) {
        const struct cmd_spec *c = cmdtab_lookup_fullname(co->argv[j].ptr, co->argv[j].len);

        if (!c) {
            continue;
        }
        if (c->id > 0 && c->id < nids && m[c->id]) {
            if (out) {
                out[n] = c;
            }
            n++;
        }
        for (int k = 0; k < c->nsubcmds; k++) {
            const struct cmd_spec *sub = &c->subcmds[k];

            if (sub->id > 0 && sub->id < nids && m[sub->id]) {
                if (out) {
                    out[n] = sub;
                }
                n++;
            }
        }
    }
    return n;
}

static bool done_latency_histogram(struct coord *co, struct reply *r)
{
    int nids = cmdtab_nids(), n;
    struct latency_hist **m;
    const struct cmd_spec **pick;

    if (forward_error(co, r)) {
        return true;
    }
    m = sh_calloc((size_t)nids, sizeof(*m));
    for (int p = 0; p < co->nshards; p++) {
        struct sh_slice t = coord_part(co, p);

        (void)diag_hist_merge(&t, m, nids);
    }
    n = histogram_pick(co, m, nids, NULL);
    pick = sh_malloc(sizeof(*pick) * (size_t)(n ? n : 1));
    histogram_pick(co, m, nids, pick);
    reply_map(r, n);
    for (int i = 0; i < n; i++) {
        reply_cdf(r, pick[i], m[pick[i]->id]);
    }
    sh_free(pick);
    diag_hist_free(m, nids);
    return true;
}

static void cmd_latency_help(struct cmd_ctx *ctx)
{
    static const char *const lines[] = {
        "DOCTOR",
        "    Return a human readable latency analysis report.",
        "GRAPH <event>",
        "    Return an ASCII latency graph for the <event> class.",
        "HISTORY <event>",
        "    Return time-latency samples for the <event> class.",
        "LATEST",
        "    Return the latest latency samples for all events.",
        "RESET [<event> ...]",
        "    Reset latency data of one or more <event> classes.",
        "    (default: reset all data for all event classes)",
        "HISTOGRAM [COMMAND ...]",
        "    Return a cumulative distribution of latencies in the format of a histogram for the "
        "specified command names.",
        "    If no commands are specified then all histograms are replied.",
    };

    reply_help(&ctx->r, "LATENCY", lines, SH_ARRAY_LEN(lines));
}

static const struct gather gather_slowlog_get = { .start = coord_start_fanout,
                                                  .done = done_slowlog_get };
static const struct gather gather_slowlog_len = { .start = coord_start_fanout,
                                                  .done = done_slowlog_len };
static const struct gather gather_latency_latest = { .start = coord_start_fanout,
                                                     .done = done_latency_latest };
static const struct gather gather_latency_history = { .start = coord_start_fanout,
                                                      .done = done_latency_history };
static const struct gather gather_latency_doctor = { .start = coord_start_fanout,
                                                     .done = done_latency_doctor,
                                                     .always = true };
static const struct gather gather_latency_graph = { .start = coord_start_fanout,
                                                    .done = done_latency_graph,
                                                    .always = true };
static const struct gather gather_latency_histogram = { .start = coord_start_fanout,
                                                        .done = done_latency_histogram,
                                                        .always = true };
static const struct gather gather_latency_reset = { .start = coord_start_fanout,
                                                    .done = done_latency_reset,
                                                    .always = true };

void cmd_diag_bind(void)
{
    cmd_must_bind("slowlog|get", cmd_slowlog_get, CMD_ROUTE_ALL, &gather_slowlog_get);
    cmd_must_bind("slowlog|len", cmd_slowlog_len, CMD_ROUTE_ALL, &gather_slowlog_len);
    cmd_must_bind("slowlog|reset", cmd_slowlog_reset, CMD_ROUTE_ALL, &gather_ok_all);
    cmd_must_bind("slowlog|help", cmd_slowlog_help, CMD_ROUTE_CONN, NULL);
    cmd_must_bind("latency|latest", cmd_latency_latest, CMD_ROUTE_ALL, &gather_latency_latest);
    cmd_must_bind("latency|history", cmd_latency_history, CMD_ROUTE_ALL, &gather_latency_history);
    cmd_must_bind("latency|doctor", cmd_latency_dump, CMD_ROUTE_ALL, &gather_latency_doctor);
    cmd_must_bind("latency|graph", cmd_latency_dump, CMD_ROUTE_ALL, &gather_latency_graph);
    cmd_must_bind("latency|histogram", cmd_latency_histogram, CMD_ROUTE_ALL,
                  &gather_latency_histogram);
    cmd_must_bind("latency|reset", cmd_latency_reset, CMD_ROUTE_ALL, &gather_latency_reset);
    cmd_must_bind("latency|help", cmd_latency_help, CMD_ROUTE_CONN, NULL);
}
