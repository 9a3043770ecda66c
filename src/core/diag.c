/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * diag.c: the bookkeeping behind SLOWLOG and LATENCY (see diag.h); the
 * commands that read it are cmd/cmd_diag.c.
 *
 * Who records what, and where. A command's time is measured where it runs
 * (shard_count_call); routing compares it once with sh->diag_min_us, the
 * lower of the two thresholds, so a fast command costs one comparison.
 * - Latency samples need nothing of the client: the core that ran the
 *   command records them (diag_latency).
 * - A slow log entry names the client (address and name), which only the
 *   client's core may read. A command that ran there (its own keys, CONN
 *   commands, the end of a multi-shard coordinator) is logged at once; one
 *   that ran on another core comes back with its reply flagged slow and its
 *   time (struct req: slow, run_us), and the client's core logs it when the
 *   reply arrives (diag_slowlog). So an entry lives in the log of the
 *   client's shard, allocated and freed there, and the arguments it logs are
 *   the request's own copy.
 * Entry ids come from one server-wide counter (srv->slowlog_id, an atomic of
 * the mailbox module), taken only when an entry is made, so they are unique
 * and increase in the order entries are made.
 */
#include "shardis/diag.h"

#include "shardis/cmdtab.h"
#include "shardis/conn.h"
#include "shardis/latency.h"
#include "shardis/log.h"
#include "shardis/monitor.h"
#include "shardis/reply.h"
#include "shardis/shard.h"
#include "shardis/slowlog.h"
#include "shardis/util.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void diag_configure(struct shard *sh)
{
    const struct config *cfg = &sh->cfg;
    int64_t slow = cfg->slowlog_log_slower_than >= 0 ? cfg->slowlog_log_slower_than : INT64_MAX;
    int64_t lat = INT64_MAX;

    if (cfg->latency_monitor_threshold > 0 && cfg->latency_monitor_threshold < INT64_MAX / 1000) {
        lat = cfg->latency_monitor_threshold * 1000;
    }
    sh->diag_min_us = slow < lat ? slow : lat;
    /* Redis trims at the next command it considers for the log, which is
     * the CONFIG SET itself */
    if (cfg->slowlog_log_slower_than >= 0) {
        slowlog_trim(sh->slowlog, cfg->slowlog_max_len);
    }
}

void diag_latency(struct shard *sh, const struct cmd_spec *cmd, int64_t us)
{
    long long threshold = sh->cfg.latency_monitor_threshold;
    int64_t ms = us / 1000;

    if (threshold <= 0 || ms < threshold) {
        return;
    }
    if (!sh->latency) {
        sh->latency = latency_create();
    }
    latency_add(sh->latency, cmd->flags & CMD_FAST ? LATENCY_FAST_COMMAND : LATENCY_COMMAND,
                sh_time_ms() / 1000, ms);
}

static bool is_sensitive_config(struct sh_slice name)
{
    return sh_slice_eq_nocase(name, "requirepass") || sh_slice_eq_nocase(name, "masterauth") ||
           sh_slice_eq_nocase(name, "masteruser");
}

/* HELLO [protover [AUTH user pass] [SETNAME name]]: the AUTH pair. */
static void redact_hello(int n, struct sh_slice *args, struct sh_slice red)
{
    for (int j = 2; j < n; j++) {
        int more = n - 1 - j;

        if (sh_slice_eq_nocase(args[j], "AUTH") && more >= 2) {
            args[j + 1] = red;
            args[j + 2] = red;
            j += 2;
        } else if (sh_slice_eq_nocase(args[j], "SETNAME") && more >= 1) {
            j++;
        } else {
            return; /* Redis stops at the syntax error */
        }
    }
}

/* Secrets never reach the slow log: Redis 7.0 logs "(redacted)" instead. */
static void redact(const struct cmd_spec *cmd, int n, struct sh_slice *args)
{
    static const struct sh_slice red = { "(redacted)", 10 };
    int from = n;

    if (!strcmp(cmd->fullname, "auth")) {
        from = 1;
    } else if (!strcmp(cmd->fullname, "acl|setuser")) {
        from = 2;
    } else if (!strcmp(cmd->fullname, "hello")) {
        redact_hello(n, args, red);
    } else if (!strcmp(cmd->fullname, "config|set")) {
        for (int j = 2; j + 1 < n; j += 2) {
            if (is_sensitive_config(args[j])) {
                args[j + 1] = red;
            }
        }
    } else if (!strcmp(cmd->fullname, "migrate")) {
        bool secret[SLOWLOG_MAX_ARGC] = { false };

        for (int j = 0; j < n && j < SLOWLOG_MAX_ARGC; j++) {
            secret[j] = monitor_migrate_secret(n, args, j);
        }
        for (int j = 0; j < n && j < SLOWLOG_MAX_ARGC; j++) {
            if (secret[j]) {
                args[j] = red;
            }
        }
    }
    for (int j = from; j < n; j++) {
        args[j] = red;
    }
}

void diag_slowlog(struct shard *sh, const struct cmd_spec *cmd, int64_t us, const struct conn *c,
                  int argc, const struct sh_slice *argv)
{
    const struct config *cfg = &sh->cfg;
    struct sh_slice args[SLOWLOG_MAX_ARGC];
    int kept = argc < SLOWLOG_MAX_ARGC ? argc : SLOWLOG_MAX_ARGC;
    struct slowlog_rec rec;

    if (cfg->slowlog_log_slower_than < 0 || us < cfg->slowlog_log_slower_than ||
        (cmd->flags & CMD_SKIP_SLOWLOG)) {
        return;
    }
    if (!sh->slowlog) {
        sh->slowlog = slowlog_create();
    }
    memcpy(args, argv, sizeof(*args) * (size_t)kept);
    redact(cmd, kept, args);
    rec = (struct slowlog_rec){
        /* the counter is the only thing shards share here (mbox.h) */
        .id = (uint64_t)(mbox_counter_add((struct mbox_counter *)&sh->srv->slowlog_id, 1) - 1),
        .time = sh_time_ms() / 1000,
        .duration = us,
        .argc = argc,
        .argv = args,
        .addr = { c->addr, strlen(c->addr) },
        .name = { c->name ? c->name : "", c->name ? strlen(c->name) : 0 },
    };
    if (slowlog_push(sh->slowlog, &rec, cfg->slowlog_max_len) != 0) {
        sh_log(LOG_WARNING, "slowlog: out of memory, entry %llu dropped",
               (unsigned long long)rec.id);
    }
}

long long diag_anon_huge_pages(void)
{
    FILE *fp = fopen("/proc/self/smaps_rollup", "r");
    char line[256];
    long long sum = 0, kb;

    if (!fp) {
        return 0;
    }
    while (fgets(line, sizeof(line), fp)) {
        if (sscanf(line, "AnonHugePages: %lld kB", &kb) == 1) {
            sum += kb * 1024;
        }
    }
    fclose(fp);
    return sum;
}

void diag_track(struct shard *sh, int id, int64_t us)
{
    if (!sh->cfg.latency_tracking) {
        return;
    }
    if (SH_UNLIKELY(!sh->latency)) {
        sh->latency = latency_create();
    }
    latency_track(sh->latency, id, cmdtab_nids(), us);
}

void diag_hist_part(const struct shard *sh, struct reply *r)
{
    int nids = cmdtab_nids();
    long long k = 0;

    for (int id = 1; id < nids; id++) {
        k += latency_hist_of(sh->latency, id) != NULL;
    }
    reply_array(r, k);
    for (int id = 1; id < nids; id++) {
        const struct latency_hist *h = latency_hist_of(sh->latency, id);
        long long m = 0;

        if (!h) {
            continue;
        }
        for (int i = 0; i < LATENCY_HIST_LEN; i++) {
            m += h->counts[i] != 0;
        }
        reply_array(r, 2 + 2 * m);
        reply_int(r, id);
        reply_int(r, (long long)h->total);
        for (int i = 0; i < LATENCY_HIST_LEN; i++) {
            if (h->counts[i]) {
                reply_int(r, i);
                reply_int(r, (long long)h->counts[i]);
            }
        }
    }
}

bool diag_take_header(struct sh_slice *t, char type, long long *n)
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

bool diag_hist_merge(struct sh_slice *t, struct latency_hist **merged, int nids)
{
    long long k, len, id, total, idx, count;

    if (!diag_take_header(t, '*', &k)) {
        return false;
    }
    while (k-- > 0) {
        struct latency_hist *h;

        if (!diag_take_header(t, '*', &len) || len < 2 || !diag_take_header(t, ':', &id) ||
            !diag_take_header(t, ':', &total) || id <= 0 || id >= nids) {
            return false;
        }
        h = merged[id];
        if (!h) {
            h = merged[id] = sh_calloc(1, sizeof(*h));
        }
        h->total += (uint64_t)total;
        for (len -= 2; len >= 2; len -= 2) {
            if (!diag_take_header(t, ':', &idx) || !diag_take_header(t, ':', &count) || idx < 0 ||
                idx >= LATENCY_HIST_LEN) {
                return false;
            }
            h->counts[idx] += (uint64_t)count;
        }
    }
    return true;
}

void diag_hist_free(struct latency_hist **merged, int nids)
{
    for (int id = 0; id < nids; id++) {
        sh_free(merged[id]);
    }
    sh_free(merged);
}
