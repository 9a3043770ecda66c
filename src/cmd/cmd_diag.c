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
 * Not here: LATENCY DOCTOR, GRAPH and HISTOGRAM (unknown subcommands), and
 * latency events other than "command" and "fast-command".
 */
#include "shardis/cmd.h"
#include "shardis/cmd_bind.h"
#include "shardis/cmdtab.h"
#include "shardis/conn.h"
#include "shardis/latency.h"
#include "shardis/log.h"
#include "shardis/resp.h"
#include "shardis/route.h"
#include "shardis/shard.h"
#include "shardis/slowlog.h"
#include "shardis/util.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define SLOWLOG_DEFAULT_COUNT 10

/* ---- reading the parts of a fan-out (RESP2, written by this file) ---- */

/* Reads "<type><n>\r\n" at the start of *t and moves past it. */
static bool take_header(struct sh_slice *t, char type, long long *n)
{
    const char *cr = t->len > 1 ? memchr(t->ptr, '\r', t->len) : NULL;
    size_t hdr;

    if (!cr || t->ptr[0] != type) {
        return false;
    }
    hdr = (size_t)(cr - t->ptr) + 2;
    if (hdr > t->len || !util_str2ll(t->ptr + 1, hdr - 3, n)) {
        return false;
    }
    t->ptr += hdr;
    t->len -= hdr;
    return true;
}

static bool take_bulk(struct sh_slice *t, struct sh_slice *out)
{
    long long n;

    if (!take_header(t, '$', &n) || n < 0 || (size_t)n + 2 > t->len) {
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

    return take_header(&t, '*', &n) && take_header(&t, ':', &id) ? id : -1;
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
        if (!take_header(&rest[s], '*', &left[s])) {
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

    if (!take_header(t, '*', &n) || n != 4 || !take_bulk(t, &name) || !take_header(t, ':', &when) ||
        !take_header(t, ':', &ms) || !take_header(t, ':', &max)) {
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

        if (!take_header(&t, '*', &k)) {
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

    if (!take_header(&t, '*', &k)) {
        return 0;
    }
    while (k-- > 0 && n < LATENCY_TS_LEN && take_header(&t, '*', &pair) && pair == 2 &&
           take_header(&t, ':', &when) && take_header(&t, ':', &ms)) {
        out[n++] = (struct latency_sample){ when, ms };
    }
    return n;
}

/* Every part's samples by time, one per second (the largest), the newest
 * LATENCY_TS_LEN of them. */
static bool done_latency_history(struct coord *co, struct reply *r)
{
    struct latency_sample *all;
    int n = 0, m = 0;

    if (forward_error(co, r)) {
        return true;
    }
    all = sh_malloc(sizeof(*all) * LATENCY_TS_LEN * (size_t)co->nshards);
    for (int s = 0; s < co->nshards; s++) {
        n += read_samples(coord_part(co, s), all + n);
    }
    qsort(all, (size_t)n, sizeof(*all), sample_cmp);
    for (int i = 0; i < n; i++) {
        if (m && all[m - 1].time == all[i].time) {
            all[m - 1].ms = all[i].ms > all[m - 1].ms ? all[i].ms : all[m - 1].ms;
        } else {
            all[m++] = all[i];
        }
    }
    n = m < LATENCY_TS_LEN ? 0 : m - LATENCY_TS_LEN;
    reply_samples(r, all + n, m - n);
    sh_free(all);
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

        if (!take_header(&t, '*', &k)) {
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

static void cmd_latency_help(struct cmd_ctx *ctx)
{
    static const char *const lines[] = {
        "HISTORY <event>",
        "    Return time-latency samples for the <event> class.",
        "LATEST",
        "    Return the latest latency samples for all events.",
        "RESET [<event> ...]",
        "    Reset latency data of one or more <event> classes.",
        "    (default: reset all data for all event classes)",
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
    cmd_must_bind("latency|reset", cmd_latency_reset, CMD_ROUTE_ALL, &gather_latency_reset);
    cmd_must_bind("latency|help", cmd_latency_help, CMD_ROUTE_CONN, NULL);
}
