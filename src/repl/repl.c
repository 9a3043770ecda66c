/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * repl.c: the replication stream (see repl.h): the shards' taps, the hub's
 * merge on shard 0, the backlog, the ids, INFO's section, ROLE and WAIT.
 */
#include "shardis/repl.h"

#include "repl_internal.h"
#include "shardis/aof.h"
#include "shardis/cmd.h"
#include "shardis/cmdtab.h"
#include "shardis/conn.h"
#include "shardis/log.h"
#include "shardis/persist.h"
#include "shardis/replica.h"
#include "shardis/reply.h"
#include "shardis/route.h"
#include "shardis/shard.h"
#include "shardis/util.h"

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* ---- the hub's state (shard 0's thread only) ---- */

/* One shard's records not yet merged. */
struct hq {
    struct rbuf buf;
    size_t pos;
    int db;            /* its stream's database at pos, -1: not known */
    bool started;      /* past its first mark: its records count */
    uint64_t wait_seq; /* the head is a "#TX" part (or a mark) waiting: 0 none */
    bool wait_mark;
    size_t wait_end;   /* where that block ends in buf */
    long long in_done; /* input bytes taken (tap_bytes's scale) */
};

struct hub_replica {
    struct hub_replica *next;
    uint64_t conn_id;
    int core;
    long mark;        /* the full sync it waits for; 0: the next one */
    bool streaming;   /* it gets the stream (its core buffers it until the RDB is out) */
    int64_t since_ms; /* when it asked (repl-diskless-sync-delay) */
};

/* A WAIT's question: the stream's offset once every queue is past the
 * bytes each shard had handed over when the WAIT ran. */
struct hub_wait {
    struct hub_wait *next;
    uint64_t id;
    int core;
    long long *target; /* [shard] */
};

struct hub {
    struct hq *q;
    int n;
    int out_db;      /* the stream's selected database, -1: none yet */
    struct rbuf out; /* merged, not yet published */
    char *bl;        /* the backlog ring */
    size_t bl_size, bl_idx, bl_hist;
    struct hub_replica *replicas;
    struct hub_wait *waits;
    long next_mark;
    long sync_mark;    /* the running full sync's mark, 0: none */
    bool sync_reached; /* its point is passed (+FULLRESYNC sent) */
    bool sync_ended, sync_ok;
    bool sync_diskless; /* the running sync's snapshot goes to the replicas */
    char eofmark[41];   /* its $EOF: mark */
    bool waiting_snap;  /* a snapshot of someone else runs: the sync starts after */
    bool follow;        /* a replica: the stream is the primary's (repl_hub_feed) */
    int64_t last_ping_ms;
    int64_t no_replicas_since_ms; /* 0: it has replicas (or no backlog) */
    struct shard *sh0;
};

int (*repl_bgsave)(struct shard *sh, long mark, persist_sink_fn *sink, char *err, size_t errlen);

struct repl *repl_of(const struct server *srv)
{
    return srv->repl;
}

void repl_get_ids(const struct server *srv, struct repl_ids *out)
{
    struct repl *r = repl_of(srv);

    pthread_mutex_lock(&r->lock);
    memcpy(out->replid, r->replid, sizeof(out->replid));
    memcpy(out->replid2, r->replid2, sizeof(out->replid2));
    pthread_mutex_unlock(&r->lock);
    out->offset = mbox_counter_get(&r->offset);
    out->second_offset = mbox_counter_get(&r->second_offset);
}

void repl_get_stats(const struct server *srv, struct repl_stats *out)
{
    struct repl *r = repl_of(srv);

    out->sync_full = mbox_counter_get(&r->sync_full);
    out->sync_partial_ok = mbox_counter_get(&r->sync_partial_ok);
    out->sync_partial_err = mbox_counter_get(&r->sync_partial_err);
}

/* ---- the merged stream ---- */

static void put_cmd(struct rbuf *b, int argc, const struct sh_slice *argv)
{
    aof_put_cmd(b, argc, argv);
}

static void emit_select(struct hub *h, int db)
{
    char num[24];
    size_t n = util_ll2str(num, db);
    struct sh_slice argv[2] = { { "SELECT", 6 }, { num, n } };

    put_cmd(&h->out, 2, argv);
    h->out_db = db;
}

static void emit_cmd(struct hub *h, struct hq *q, const char *p, size_t n)
{
    if (q->db >= 0 && q->db != h->out_db) {
        emit_select(h, q->db);
    }
    rbuf_append(&h->out, p, n);
}

/* The command at p[0..len): its end and its name (the first bulk), or 0
 * when it is not whole. */
static size_t cmd_span(const char *p, size_t len, struct sh_slice *name, struct sh_slice *arg1)
{
    size_t i = 1;
    long long argc = 0;

    if (len < 4 || p[0] != '*') {
        return 0;
    }
    for (; i < len && p[i] != '\r'; i++) {
        argc = argc * 10 + (p[i] - '0');
    }
    i += 2;
    for (long long a = 0; a < argc; a++) {
        long long blen = 0;
        size_t s;

        if (i >= len || p[i] != '$') {
            return 0;
        }
        for (i++; i < len && p[i] != '\r'; i++) {
            blen = blen * 10 + (p[i] - '0');
        }
        s = i + 2;
        i = s + (size_t)blen + 2;
        if (i > len) {
            return 0;
        }
        if (a == 0 && name) {
            *name = (struct sh_slice){ p + s, (size_t)blen };
        } else if (a == 1 && arg1) {
            *arg1 = (struct sh_slice){ p + s, (size_t)blen };
        }
    }
    return i;
}

static int slice_int(struct sh_slice s)
{
    long long v = 0;

    return util_str2ll(s.ptr, s.len, &v) ? (int)v : -1;
}

static void publish(struct shard *sh0, struct hub *h);
static void mark_reached(struct shard *sh0, struct hub *h, long mark);

/* A command without keys that every shard ran (FLUSHALL, FLUSHDB, SWAPDB,
 * FUNCTION LOAD ...) is in each part of its transaction: the stream has it
 * once (SWAPDB twice would swap back). */
struct seen {
    struct sh_slice cmds[16];
    int n;
};

static bool seen_everywhere(struct seen *sn, struct sh_slice name, const char *p, size_t n)
{
    const struct cmd_spec *spec = cmdtab_lookup(name.ptr, name.len);

    if (!spec || spec->nkeyspecs > 0) {
        return false;
    }
    for (int i = 0; i < sn->n; i++) {
        if (sn->cmds[i].len == n && memcmp(sn->cmds[i].ptr, p, n) == 0) {
            return true;
        }
    }
    if (sn->n < (int)SH_ARRAY_LEN(sn->cmds)) {
        sn->cmds[sn->n++] = (struct sh_slice){ p, n };
    }
    return false;
}

/* FUNCTION LOAD/DELETE/FLUSH/RESTORE fan out to every shard (each has its
 * own copy of the libraries), not as a transaction: the stream takes shard
 * 0's copy only. */
static bool fanned_out(struct sh_slice name)
{
    return sh_slice_eq_nocase(name, "function");
}

/* The n parts of transaction seq (or mark) are all at their queues' heads:
 * one MULTI/EXEC block (or the mark's point), and the queues go on. */
static bool try_complete(struct shard *sh0, struct hub *h, uint64_t seq, bool mark, int n)
{
    int count = 0;

    for (int s = 0; s < h->n; s++) {
        count += h->q[s].wait_seq == seq && h->q[s].wait_mark == mark;
    }
    if (count < n) {
        return false;
    }
    if (!mark) {
        size_t start = h->out.len;
        int out_db = h->out_db, ncmds = 0;
        static const struct sh_slice multi[1] = { { "MULTI", 5 } }, exec[1] = { { "EXEC", 4 } };

        struct seen seen = { 0 };

        put_cmd(&h->out, 1, multi);
        for (int s = 0; s < h->n; s++) {
            struct hq *q = &h->q[s];
            size_t at = q->pos;

            if (q->wait_seq != seq || q->wait_mark) {
                continue;
            }
            at = (size_t)((char *)memchr(q->buf.data + at, '\n', q->wait_end - at) - q->buf.data) +
                 1; /* past the "#TX" line */
            while (at < q->wait_end) {
                struct sh_slice name = { 0 }, a1 = { 0 };
                size_t e = cmd_span(q->buf.data + at, q->wait_end - at, &name, &a1);

                if (!e) {
                    break;
                }
                if (sh_slice_eq_nocase(name, "select")) {
                    q->db = slice_int(a1);
                } else if (!sh_slice_eq_nocase(name, "multi") &&
                           !sh_slice_eq_nocase(name, "exec") &&
                           !seen_everywhere(&seen, name, q->buf.data + at, e)) {
                    emit_cmd(h, q, q->buf.data + at, e);
                    ncmds++;
                }
                at += e;
            }
        }
        if (ncmds == 0) {
            h->out.len = start; /* nothing written anywhere: nothing to send */
            h->out_db = out_db;
        } else {
            put_cmd(&h->out, 1, exec);
        }
    }
    for (int s = 0; s < h->n; s++) {
        struct hq *q = &h->q[s];

        if (q->wait_seq == seq && q->wait_mark == mark) {
            q->in_done += (long long)(q->wait_end - q->pos);
            q->pos = q->wait_end;
            q->wait_seq = 0;
            q->wait_mark = false;
            if (mark) {
                q->started = true;
            }
        }
    }
    if (mark) {
        mark_reached(sh0, h, (long)seq);
    }
    return true;
}

/* One item at the head of queue s: false when it cannot go on now. */
static bool step(struct shard *sh0, struct hub *h, struct hq *q)
{
    const char *p = q->buf.data + q->pos;
    size_t len = q->buf.len - q->pos;

    if (p[0] == '#') {
        const char *nl = memchr(p, '\n', len);
        size_t line = nl ? (size_t)(nl - p) + 1 : len;

        if (line > 6 && memcmp(p, "#MARK:", 6) == 0) {
            q->wait_seq = strtoull(p + 6, NULL, 10);
            q->wait_mark = true;
            q->wait_end = q->pos + line;
            try_complete(sh0, h, q->wait_seq, true, h->n);
            return true;
        }
        if (line > 4 && memcmp(p, "#TX:", 4) == 0) {
            char *colon;
            uint64_t seq = strtoull(p + 4, &colon, 10);
            int n = (int)strtol(colon + 1, NULL, 10);
            size_t at = line;
            bool whole = false;

            /* the part: MULTI ... EXEC, always whole in one handed chunk */
            while (at < len) {
                struct sh_slice name = { 0 };
                size_t e = cmd_span(p + at, len - at, &name, NULL);

                if (!e) {
                    break;
                }
                at += e;
                if (sh_slice_eq_nocase(name, "exec")) {
                    whole = true;
                    break;
                }
            }
            if (!whole) {
                return false;
            }
            if (!q->started) {
                q->in_done += (long long)at;
                q->pos += at;
                return true;
            }
            q->wait_seq = seq;
            q->wait_mark = false;
            q->wait_end = q->pos + at;
            try_complete(sh0, h, seq, false, n);
            return true;
        }
        q->in_done += (long long)line; /* "#TS" and the like */
        q->pos += line;
        return true;
    }
    {
        struct sh_slice name = { 0 }, a1 = { 0 };
        size_t e = cmd_span(p, len, &name, &a1);

        if (!e) {
            sh_log(LOG_WARNING, "Replication: a shard's records are cut short; dropped");
            q->in_done += (long long)len;
            q->pos = q->buf.len;
            return false;
        }
        if (sh_slice_eq_nocase(name, "select")) {
            q->db = slice_int(a1);
        } else if (q->started && (q == h->q || !fanned_out(name))) {
            emit_cmd(h, q, p, e);
        }
        q->in_done += (long long)e;
        q->pos += e;
        return true;
    }
}

static void check_waits(struct shard *sh0, struct hub *h);

static void pump(struct shard *sh0, struct hub *h)
{
    bool progress = true;

    while (progress) {
        progress = false;
        for (int s = 0; s < h->n; s++) {
            struct hq *q = &h->q[s];

            while (q->pos < q->buf.len && !q->wait_seq && step(sh0, h, q)) {
                progress = true;
            }
        }
    }
    for (int s = 0; s < h->n; s++) {
        struct hq *q = &h->q[s];

        if (q->pos == q->buf.len) {
            q->pos = 0;
            q->buf.len = 0;
            q->wait_end = 0;
            if (q->buf.cap > (1u << 20)) {
                rbuf_fini(&q->buf);
            }
        } else if (q->pos > (64u << 10) && !q->wait_seq) {
            memmove(q->buf.data, q->buf.data + q->pos, q->buf.len - q->pos);
            q->buf.len -= q->pos;
            q->pos = 0;
        }
    }
    publish(sh0, h);
    check_waits(sh0, h);
}

/* ---- the backlog and the replicas ---- */

static void backlog_put(struct shard *sh0, struct hub *h, const char *p, size_t n)
{
    struct repl *r = repl_of(sh0->srv);
    size_t want = (size_t)sh0->cfg.repl_backlog_size;

    if (!h->bl || h->bl_size != want) {
        sh_free(h->bl);
        h->bl = sh_malloc(want);
        h->bl_size = want;
        h->bl_idx = 0;
        h->bl_hist = 0;
        mbox_counter_set(&r->backlog_size, (long)want);
        mbox_counter_set(&r->backlog_active, 1);
        mbox_counter_set(&r->backlog_histlen, 0);
        mbox_counter_set(&r->backlog_first, mbox_counter_get(&r->offset) + 1);
    }
    while (n > 0) {
        size_t room = h->bl_size - h->bl_idx, k = n < room ? n : room;

        memcpy(h->bl + h->bl_idx, p, k);
        h->bl_idx = (h->bl_idx + k) % h->bl_size;
        h->bl_hist = h->bl_hist + k > h->bl_size ? h->bl_size : h->bl_hist + k;
        p += k;
        n -= k;
    }
}

/* Sends the merged bytes: backlog, offset, every streaming replica. */
static void publish(struct shard *sh0, struct hub *h)
{
    struct repl *r = repl_of(sh0->srv);
    long long off;

    if (h->out.len == 0) {
        return;
    }
    if (h->bl || h->replicas) { /* none after repl-backlog-ttl freed it */
        backlog_put(sh0, h, h->out.data, h->out.len);
    }
    off = mbox_counter_add(&r->offset, (long)h->out.len);
    mbox_counter_set(&r->backlog_histlen, (long)h->bl_hist);
    mbox_counter_set(&r->backlog_first, (long)(off - (long long)h->bl_hist + 1));
    for (struct hub_replica *x = h->replicas; x; x = x->next) {
        if (x->streaming) {
            primary_post(sh0, x->core, x->conn_id, REPL_MSG_FEED, h->out.data, h->out.len);
        }
    }
    h->out.len = 0;
    if (h->out.cap > (1u << 20)) {
        rbuf_fini(&h->out);
    }
}

/* The backlog's bytes from offset `from` (Redis's offsets: the first byte is
 * 1) to the end, appended to b; false when they are not all there. */
static bool backlog_from(struct shard *sh0, struct hub *h, long long from, struct rbuf *b)
{
    long long off = mbox_counter_get(&repl_of(sh0->srv)->offset);
    long long first = off - (long long)h->bl_hist + 1, n = off - from + 1;

    if (!h->bl || from < first || from > off + 1) {
        return false;
    }
    for (long long i = 0; i < n;) {
        size_t at = (h->bl_idx + h->bl_size - h->bl_hist + (size_t)(from - first + i)) % h->bl_size;
        size_t k = h->bl_size - at < (size_t)(n - i) ? h->bl_size - at : (size_t)(n - i);

        rbuf_append(b, h->bl + at, k);
        i += (long long)k;
    }
    return true;
}

/* ---- full syncs ---- */

static void on_sync_done(void *arg, bool ok);

static void post_rdb(struct shard *sh0, struct hub *h, long mark, bool ok)
{
    if (h->sync_diskless) {
        char msg[48];
        int n = snprintf(msg, sizeof(msg), "%d %lld", ok ? 1 : 0, persist_snap_bytes(sh0->srv));

        for (struct hub_replica *x = h->replicas; x; x = x->next) {
            if (x->mark == mark) {
                x->mark = 0;
                primary_post(sh0, x->core, x->conn_id, REPL_MSG_DLEND, msg, (size_t)n);
            }
        }
        return;
    }
    for (struct hub_replica *x = h->replicas; x; x = x->next) {
        char msg[64];
        int fd = -1, n;
        struct stat st;

        if (x->mark != mark) {
            continue;
        }
        x->mark = 0;
        if (ok) {
            fd = open(sh0->cfg.dbfilename, O_RDONLY | O_CLOEXEC);
        }
        if (fd < 0 || fstat(fd, &st) != 0) {
            if (fd >= 0) {
                close(fd);
            }
            primary_post(sh0, x->core, x->conn_id, REPL_MSG_FAIL, "", 0);
            continue;
        }
        n = snprintf(msg, sizeof(msg), "%d %lld", fd, (long long)st.st_size);
        primary_post(sh0, x->core, x->conn_id, REPL_MSG_RDB, msg, (size_t)n);
    }
}

/* A diskless sync's chunk, on the shard that made it: to every replica of
 * the sync, on its core. */
static void sink(struct shard *sh, const char *p, size_t n)
{
    struct repl *r = repl_of(sh->srv);

    mbox_counter_add(&r->dl_unsent, (long)n * r->ntargets);
    for (int i = 0; i < r->ntargets; i++) {
        primary_post(sh, r->targets[i].core, r->targets[i].conn_id, REPL_MSG_CHUNK, p, n);
    }
}

static bool sink_busy(struct shard *sh)
{
    return mbox_counter_get(&repl_of(sh->srv)->dl_unsent) > REPL_DL_UNSENT_MAX;
}

/* Starts the snapshot of a full sync for every replica that waits for one
 * (diskless: once the first has waited repl-diskless-sync-delay, so that
 * others arriving meanwhile share it, as Redis does). */
static void start_sync(struct shard *sh0, struct hub *h)
{
    struct repl *r = repl_of(sh0->srv);
    char err[256];
    bool any = false, diskless = sh0->cfg.repl_diskless_sync != 0;
    int64_t oldest = INT64_MAX;
    long mark;

    h->sh0 = sh0; /* for on_sync_done */
    for (struct hub_replica *x = h->replicas; x; x = x->next) {
        if (!x->streaming && x->mark == 0) {
            any = true;
            oldest = x->since_ms < oldest ? x->since_ms : oldest;
        }
    }
    if (!any || h->sync_mark || h->waiting_snap) {
        return;
    }
    if (diskless && sh0->now_ms - oldest < sh0->cfg.repl_diskless_sync_delay * 1000) {
        return; /* the cron comes back */
    }
    mark = ++h->next_mark;
    err[0] = '\0';
    r->ntargets = 0;
    mbox_counter_set(&r->dl_unsent, 0);
    for (struct hub_replica *x = h->replicas; x && diskless; x = x->next) {
        if (!x->streaming && x->mark == 0 && r->ntargets < REPL_MAX_REPLICAS) {
            r->targets[r->ntargets++] = (struct repl_target){ x->core, x->conn_id };
        }
    }
    if (!repl_bgsave || repl_bgsave(sh0, mark, diskless ? sink : NULL, err, sizeof(err)) != 0) {
        /* another snapshot runs: this one starts when it ends */
        if (persist_snap_wait(sh0, on_sync_done, h)) {
            h->waiting_snap = true;
            return;
        }
        sh_log(LOG_WARNING, "Replication: the snapshot for a full sync failed to start: %s", err);
        for (struct hub_replica *x = h->replicas; x; x = x->next) {
            if (!x->streaming && x->mark == 0) {
                primary_post(sh0, x->core, x->conn_id, REPL_MSG_FAIL, "", 0);
            }
        }
        return;
    }
    sh_log(LOG_NOTICE, "Starting BGSAVE for SYNC with target: %s",
           diskless ? "replicas sockets" : "disk");
    h->sync_diskless = diskless;
    if (diskless) {
        shard_new_id(h->eofmark);
    }
    h->sync_mark = mark;
    h->sync_reached = false;
    h->sync_ended = false;
    for (struct hub_replica *x = h->replicas; x; x = x->next) {
        if (!x->streaming && x->mark == 0) {
            x->mark = mark;
        }
    }
    if (h->follow) {
        /* a replica's own replicas: the point is where the primary's stream
         * is now (nothing of it runs between here and the begin) */
        mark_reached(sh0, h, mark);
    }
    persist_snap_wait(sh0, on_sync_done, h);
}

static void sync_progress(struct shard *sh0, struct hub *h);

static void on_sync_done(void *arg, bool ok)
{
    struct hub *h = arg;

    if (h->waiting_snap) {
        h->waiting_snap = false; /* someone else's snapshot ended: ours now */
    } else if (h->sync_mark) {
        h->sync_ended = true;
        h->sync_ok = ok;
    }
    sync_progress(h->sh0, h);
}

static void mark_reached(struct shard *sh0, struct hub *h, long mark)
{
    struct repl_ids ids;
    char line[128];
    int n;

    publish(sh0, h); /* what comes before the point */
    h->out_db = -1;  /* the replica's stream selects its database first */
    if (mark != h->sync_mark) {
        return; /* a promotion's: the merge starts again, nothing else */
    }
    h->sync_reached = true;
    repl_get_ids(sh0->srv, &ids);
    n = snprintf(line, sizeof(line), "+FULLRESYNC %s %lld\r\n", ids.replid, ids.offset);
    for (struct hub_replica *x = h->replicas; x; x = x->next) {
        if (x->mark == mark) {
            primary_post(sh0, x->core, x->conn_id, REPL_MSG_FULL, line, (size_t)n);
            x->streaming = true;
            if (h->sync_diskless) {
                struct sh_slice hdr = persist_snap_header(sh0->srv);
                struct rbuf b;

                rbuf_init(&b);
                rbuf_append(&b, h->eofmark, 40);
                rbuf_append(&b, sh0->cfg.rdbchecksum ? "1" : "0", 1);
                rbuf_append(&b, hdr.ptr, hdr.len);
                primary_post(sh0, x->core, x->conn_id, REPL_MSG_DLHDR, b.data, b.len);
                rbuf_fini(&b);
            }
        }
    }
}

/* Shard 0's cron and every hub message: a sync's snapshot that ended is
 * sent once its point is passed; the next sync starts. */
static void sync_progress(struct shard *sh0, struct hub *h)
{
    if (h->sync_mark && h->sync_ended && h->sync_reached) {
        long mark = h->sync_mark;

        h->sync_mark = 0;
        h->sync_ended = false;
        post_rdb(sh0, h, mark, h->sync_ok);
    }
    if (!h->sync_mark && !h->waiting_snap) {
        start_sync(sh0, h);
    }
}

/* ---- the hub's entry points ---- */

static struct hub *hub_of(struct shard *sh0)
{
    return repl_of(sh0->srv)->hub;
}

void hub_sync_request(struct shard *sh0, uint64_t conn_id, int core, struct sh_slice replid,
                      long long offset)
{
    struct hub *h = hub_of(sh0);
    struct repl *r = repl_of(sh0->srv);
    struct hub_replica *x = sh_calloc(1, sizeof(*x));
    struct repl_ids ids;

    x->conn_id = conn_id;
    x->core = core;
    x->since_ms = sh0->now_ms;
    x->next = h->replicas;
    h->replicas = x;
    backlog_put(sh0, h, NULL, 0); /* as Redis: the backlog exists from the first replica on */
    repl_get_ids(sh0->srv, &ids);
    if (replid.len == 40 && offset > 0 &&
        ((memcmp(replid.ptr, ids.replid, 40) == 0) ||
         (memcmp(replid.ptr, ids.replid2, 40) == 0 && offset <= ids.second_offset))) {
        struct rbuf b;
        char line[128];
        int n = snprintf(line, sizeof(line), "+CONTINUE %s\r\n", ids.replid);

        publish(sh0, h);
        rbuf_init(&b);
        rbuf_append(&b, line, (size_t)n);
        if (backlog_from(sh0, h, offset, &b)) {
            sh_log(LOG_NOTICE,
                   "Partial resynchronization request from replica accepted. Sending %lld bytes "
                   "of backlog starting from offset %lld.",
                   (long long)(b.len - (size_t)n), offset);
            primary_post(sh0, core, conn_id, REPL_MSG_CONT, b.data, b.len);
            x->streaming = true;
            mbox_counter_add(&r->sync_partial_ok, 1);
            rbuf_fini(&b);
            return;
        }
        rbuf_fini(&b);
    }
    if (offset > 0) {
        mbox_counter_add(&r->sync_partial_err, 1); /* Redis counts a refused PSYNC */
    }
    mbox_counter_add(&r->sync_full, 1);
    sh_log(LOG_NOTICE, "Full resync requested by replica (conn %llu)", (unsigned long long)conn_id);
    sync_progress(sh0, h);
}

void hub_drop(struct shard *sh0, uint64_t conn_id)
{
    struct hub *h = hub_of(sh0);

    for (struct hub_replica **pp = &h->replicas; *pp; pp = &(*pp)->next) {
        if ((*pp)->conn_id == conn_id) {
            struct hub_replica *x = *pp;

            *pp = x->next;
            sh_free(x);
            return;
        }
    }
}

/* __replchunk <records> <shard>: a shard's iteration of records. */
static void cmd_replchunk(struct cmd_ctx *ctx)
{
    struct hub *h = hub_of(ctx->shard);
    int s = slice_int(ctx->argv[2]);

    if (s >= 0 && s < h->n && !h->follow) {
        rbuf_append(&h->q[s].buf, ctx->argv[1].ptr, ctx->argv[1].len);
        pump(ctx->shard, h);
    } else if (s >= 0 && s < h->n) {
        h->q[s].in_done += (long long)ctx->argv[1].len;
    }
    reply_ok(&ctx->r);
}

static const struct cmd_spec spec_replchunk = {
    .name = "__replchunk", .fullname = "__replchunk", .arity = 3, .proc = cmd_replchunk
};

/* The tap: each loop iteration's records of a shard, to the hub. */
static void tap(struct shard *sh, const char *p, size_t n)
{
    struct repl *r = repl_of(sh->srv);
    char num[24];
    struct sh_slice argv[3] = { { "__replchunk", 11 },
                                { p, n },
                                { num, util_ll2str(num, sh->id) } };

    mbox_counter_add(&r->tap_bytes[sh->id], (long)n);
    route_post(sh, 0, &spec_replchunk, 0, 3, argv);
}

/* A mark at this point of this shard's records (a sync's snapshot begin,
 * or a promotion's transaction). */
static void mark_here(struct shard *sh, long mark)
{
    char line[48];
    int n = snprintf(line, sizeof(line), "#MARK:%ld\r\n", mark);

    aof_tap_on(sh);
    aof_put_raw(sh, line, (size_t)n);
}

static void cmd_replmark_part(struct cmd_ctx *ctx)
{
    mark_here(ctx->shard, slice_int(ctx->argv[1]));
    reply_ok(&ctx->r);
}

static const struct cmd_spec spec_replmark = {
    .name = "__replmark", .fullname = "__replmark", .arity = 2, .proc = cmd_replmark_part
};

static void markall_start(struct coord *co)
{
    char num[24];
    struct sh_slice argv[2] = { { "__replmark", 10 },
                                { num, util_ll2str(num, (long long)(intptr_t)co->ext) } };

    for (int i = 0; i < co->nshards; i++) {
        coord_send(co, i, &spec_replmark, 0, 2, argv);
    }
}

static const struct gather gather_markall = {
    .start = markall_start,
    .done = coord_done_ok,
    .always = true,
    .txn_all = true,
};

/* ---- for the replica's side ---- */

void repl_hub_follow(struct shard *sh0)
{
    struct hub *h = hub_of(sh0);

    h->follow = true;
    for (int s = 0; s < h->n; s++) {
        h->q[s].in_done += (long long)(h->q[s].buf.len - h->q[s].pos);
        h->q[s].buf.len = h->q[s].pos = 0;
        h->q[s].wait_seq = 0;
        h->q[s].started = false;
    }
}

void repl_hub_reset(struct shard *sh0, const char *replid, long long offset)
{
    struct repl *r = repl_of(sh0->srv);
    struct hub *h = hub_of(sh0);

    pthread_mutex_lock(&r->lock);
    snprintf(r->replid, sizeof(r->replid), "%s", replid);
    memset(r->replid2, '0', 40);
    r->replid2[40] = '\0';
    pthread_mutex_unlock(&r->lock);
    mbox_counter_set(&r->second_offset, -1);
    mbox_counter_set(&r->offset, (long)offset);
    h->bl_hist = 0;
    h->bl_idx = 0;
    mbox_counter_set(&r->backlog_histlen, 0);
    mbox_counter_set(&r->backlog_first, (long)offset + 1);
    /* our replicas follow another history now */
    for (struct hub_replica *x = h->replicas; x; x = x->next) {
        primary_post(sh0, x->core, x->conn_id, REPL_MSG_FAIL, "", 0);
    }
}

void repl_hub_feed(struct shard *sh0, const char *p, size_t n)
{
    struct hub *h = hub_of(sh0);

    rbuf_append(&h->out, p, n);
    publish(sh0, h);
}

void repl_hub_promote(struct shard *sh0)
{
    struct repl *r = repl_of(sh0->srv);
    struct hub *h = hub_of(sh0);
    long long off = mbox_counter_get(&r->offset);
    long mark;

    pthread_mutex_lock(&r->lock);
    memcpy(r->replid2, r->replid, sizeof(r->replid2));
    shard_new_id(r->replid);
    pthread_mutex_unlock(&r->lock);
    mbox_counter_set(&r->second_offset, (long)(off + 1));
    /* as Redis: our replicas reconnect to learn the new id (their PSYNC
     * with the old one continues from the backlog) */
    for (struct hub_replica *x = h->replicas; x; x = x->next) {
        primary_post(sh0, x->core, x->conn_id, REPL_MSG_FAIL, "", 0);
    }
    h->follow = false;
    for (int s = 0; s < h->n; s++) {
        h->q[s].in_done += (long long)(h->q[s].buf.len - h->q[s].pos);
        h->q[s].buf.len = h->q[s].pos = 0;
        h->q[s].wait_seq = 0;
        h->q[s].started = false;
    }
    /* every shard marks one point of the transaction order: the merge
     * starts there */
    mark = ++h->next_mark;
    coord_start_txn(conn_internal(sh0), &spec_replmark, &gather_markall, (void *)(intptr_t)mark, 0,
                    0, NULL, true);
}

/* ---- WAIT ---- */

/* A WAIT on its client's core. */
struct wait_job {
    struct shard_io io; /* first: the completion hands it back */
    struct wait_job *next;
    uint64_t id;
    struct conn *c;
    struct slot *slot;
    long long want;
    long long target;    /* the stream offset to be acknowledged, -1: asked */
    int64_t deadline_ms; /* 0: none */
    struct __kernel_timespec ts;
};

struct repl_core {
    struct wait_job *waits;
    uint64_t next_wait;
};

static long long count_acks(struct repl *r, long long target)
{
    long long n = 0;

    for (int i = 0; i < REPL_MAX_REPLICAS; i++) {
        if (mbox_counter_get(&r->slots[i].used) &&
            mbox_counter_get(&r->slots[i].state) == REPL_R_ONLINE &&
            mbox_counter_get(&r->slots[i].ack) >= target) {
            n++;
        }
    }
    return n;
}

/* Online replicas that acknowledged within max_lag seconds. */
static int good_replicas(struct repl *r, long long max_lag)
{
    int64_t now = sh_time_ms();
    int n = 0;

    for (int i = 0; i < REPL_MAX_REPLICAS; i++) {
        n += mbox_counter_get(&r->slots[i].used) &&
             mbox_counter_get(&r->slots[i].state) == REPL_R_ONLINE &&
             now - mbox_counter_get(&r->slots[i].ack_ms) <= max_lag * 1000;
    }
    return n;
}

static void wait_arm(struct shard *sh, struct wait_job *w)
{
    int64_t left = w->deadline_ms ? w->deadline_ms - sh_time_ms() : 100;
    struct io_uring_sqe *sqe;

    left = left > 2 ? 2 : left < 1 ? 1 : left;
    w->ts.tv_sec = 0;
    w->ts.tv_nsec = left * 1000000;
    sqe = shard_get_sqe(sh);
    io_uring_prep_timeout(sqe, &w->ts, 0, 0);
    io_uring_sqe_set_data64(sqe, shard_io_data(&w->io));
}

static void wait_fired(struct shard *sh, struct shard_io *io, int res)
{
    struct wait_job *w = (struct wait_job *)io;
    struct repl *r = repl_of(sh->srv);
    struct repl_core *rc = &r->cores[sh->id];
    struct reply out = { .buf = &w->slot->buf, .proto = w->c->proto };
    long long acks = w->target >= 0 ? count_acks(r, w->target) : 0;

    (void)res;
    if (!(w->c->flags & CONN_CLOSING) && !sh->stopping && acks < w->want &&
        (!w->deadline_ms || sh_time_ms() < w->deadline_ms)) {
        wait_arm(sh, w);
        return;
    }
    for (struct wait_job **pp = &rc->waits; *pp; pp = &(*pp)->next) {
        if (*pp == w) {
            *pp = w->next;
            break;
        }
    }
    reply_int(&out, acks);
    conn_slot_done(w->c, w->slot);
    conn_barrier_end(w->c);
    conn_request_done(w->c); /* the connection may go now */
    sh_free(w);
}

/* __replwaitoff <id> <offset>: the hub's answer, on the WAIT's core. */
static void cmd_replwaitoff(struct cmd_ctx *ctx)
{
    struct repl_core *rc = &repl_of(ctx->shard->srv)->cores[ctx->shard->id];
    long long id = 0, off = 0;

    util_str2ll(ctx->argv[1].ptr, ctx->argv[1].len, &id);
    util_str2ll(ctx->argv[2].ptr, ctx->argv[2].len, &off);
    for (struct wait_job *w = rc->waits; w; w = w->next) {
        if (w->id == (uint64_t)id) {
            w->target = off;
        }
    }
    reply_ok(&ctx->r);
}

static const struct cmd_spec spec_replwaitoff = {
    .name = "__replwaitoff", .fullname = "__replwaitoff", .arity = 3, .proc = cmd_replwaitoff
};

static void check_waits(struct shard *sh0, struct hub *h)
{
    struct repl *r = repl_of(sh0->srv);
    bool asked = false;

    for (struct hub_wait **pp = &h->waits; *pp;) {
        struct hub_wait *w = *pp;
        bool past = true;

        for (int s = 0; s < h->n && past; s++) {
            past = h->q[s].in_done >= w->target[s];
        }
        if (!past) {
            pp = &w->next;
            continue;
        }
        {
            char a[24], b[24];
            struct sh_slice argv[3] = { { "__replwaitoff", 13 },
                                        { a, util_ll2str(a, (long long)w->id) },
                                        { b, util_ll2str(b, mbox_counter_get(&r->offset)) } };

            route_post(sh0, w->core, &spec_replwaitoff, 0, 3, argv);
        }
        asked = true;
        *pp = w->next;
        sh_free(w->target);
        sh_free(w);
    }
    if (asked && h->replicas) {
        /* the replicas say where they are now, not in a second */
        static const struct sh_slice getack[3] = { { "REPLCONF", 8 }, { "GETACK", 6 }, { "*", 1 } };

        put_cmd(&h->out, 3, getack);
        publish(sh0, h);
    }
}

/* __replwait <id> <core> <bytes of shard 0> ...: a WAIT's question. */
static void cmd_replwait(struct cmd_ctx *ctx)
{
    struct hub *h = hub_of(ctx->shard);
    struct hub_wait *w = sh_calloc(1, sizeof(*w));
    long long v = 0;

    util_str2ll(ctx->argv[1].ptr, ctx->argv[1].len, &v);
    w->id = (uint64_t)v;
    w->core = slice_int(ctx->argv[2]);
    w->target = sh_calloc((size_t)h->n, sizeof(*w->target));
    for (int s = 0; s < h->n && 3 + s < ctx->argc; s++) {
        util_str2ll(ctx->argv[3 + s].ptr, ctx->argv[3 + s].len, &w->target[s]);
    }
    w->next = h->waits;
    h->waits = w;
    check_waits(ctx->shard, h);
    reply_ok(&ctx->r);
}

static const struct cmd_spec spec_replwait = {
    .name = "__replwait", .fullname = "__replwait", .arity = -3, .proc = cmd_replwait
};

/* WAIT numreplicas timeout: Redis's. The offset the client's writes reach
 * is asked of the hub (every shard handed its records over before it
 * answered the client); replicas' acknowledgements are polled every 2 ms
 * until enough have it or the timeout passes. */
static void cmd_wait(struct cmd_ctx *ctx)
{
    struct shard *sh = ctx->shard;
    struct repl *r = repl_of(sh->srv);
    struct repl_core *rc = &r->cores[sh->id];
    long long want, timeout;
    struct wait_job *w;
    struct sh_slice *argv;
    char(*nums)[24];

    if (!util_str2ll(ctx->argv[1].ptr, ctx->argv[1].len, &want)) {
        reply_err_notint(&ctx->r);
        return;
    }
    if (!util_str2ll(ctx->argv[2].ptr, ctx->argv[2].len, &timeout)) {
        reply_error(&ctx->r, "ERR timeout is not an integer or out of range");
        return;
    }
    if (timeout < 0) {
        reply_error(&ctx->r, "ERR timeout is negative");
        return;
    }
    if (replica_active(sh->srv)) {
        reply_error(&ctx->r, "ERR WAIT cannot be used with replica instances. Please also note "
                             "that since Redis 4.0 if a replica is configured to be writable "
                             "(which is not the default) writes to replicas are just local and "
                             "are not propagated.");
        return;
    }
    if (ctx->nested || !ctx->conn) {
        reply_int(&ctx->r, count_acks(r, mbox_counter_get(&r->offset)));
        return;
    }
    w = sh_calloc(1, sizeof(*w));
    w->io.done = wait_fired;
    w->c = ctx->conn;
    w->slot = conn_slot_new(ctx->conn);
    w->want = want;
    w->target = -1;
    w->id = ++rc->next_wait;
    w->deadline_ms = timeout ? sh_time_ms() + timeout : 0;
    w->next = rc->waits;
    rc->waits = w;
    ctx->conn->inflight++; /* it stays until the reply is written */
    conn_barrier_begin(ctx->conn);
    argv = sh_malloc(sizeof(*argv) * (size_t)(3 + sh->srv->nshards));
    nums = sh_malloc(sizeof(*nums) * (size_t)(2 + sh->srv->nshards));
    argv[0] = (struct sh_slice){ "__replwait", 10 };
    argv[1] = (struct sh_slice){ nums[0], util_ll2str(nums[0], (long long)w->id) };
    argv[2] = (struct sh_slice){ nums[1], util_ll2str(nums[1], sh->id) };
    for (int s = 0; s < sh->srv->nshards; s++) {
        argv[3 + s] =
                (struct sh_slice){ nums[2 + s],
                                   util_ll2str(nums[2 + s], mbox_counter_get(&r->tap_bytes[s])) };
    }
    route_post(sh, 0, &spec_replwait, 0, 3 + sh->srv->nshards, argv);
    sh_free(argv);
    sh_free(nums);
    wait_arm(sh, w);
}

/* ---- ROLE and INFO ---- */

static void cmd_role(struct cmd_ctx *ctx)
{
    struct repl *r = repl_of(ctx->shard->srv);
    int n = 0;

    if (replica_active(ctx->shard->srv)) {
        replica_role(ctx);
        return;
    }
    for (int i = 0; i < REPL_MAX_REPLICAS; i++) {
        n += mbox_counter_get(&r->slots[i].used) &&
             mbox_counter_get(&r->slots[i].state) == REPL_R_ONLINE;
    }
    reply_array(&ctx->r, 3);
    reply_bulk_cstr(&ctx->r, "master");
    reply_int(&ctx->r, mbox_counter_get(&r->offset));
    pthread_mutex_lock(&r->lock);
    reply_array(&ctx->r, n);
    for (int i = 0; i < REPL_MAX_REPLICAS && n > 0; i++) {
        struct repl_slot *s = &r->slots[i];

        if (mbox_counter_get(&s->used) && mbox_counter_get(&s->state) == REPL_R_ONLINE) {
            reply_array(&ctx->r, 3);
            reply_bulk_cstr(&ctx->r, s->ip);
            reply_bulk_ll(&ctx->r, s->port);
            reply_bulk_ll(&ctx->r, mbox_counter_get(&s->ack));
            n--;
        }
    }
    pthread_mutex_unlock(&r->lock);
}

void repl_info(struct shard *sh, struct rbuf *out)
{
    static const char *const states[] = { "", "wait_bgsave", "send_bulk", "online" };
    struct repl *r = repl_of(sh->srv);
    struct repl_ids ids;
    int n = 0;
    long long hist = mbox_counter_get(&r->backlog_histlen);

    if (replica_active(sh->srv)) {
        replica_info(sh, out);
    } else {
        rbuf_line(out, "role:master");
    }
    for (int i = 0; i < REPL_MAX_REPLICAS; i++) {
        n += mbox_counter_get(&r->slots[i].used) != 0;
    }
    rbuf_line(out, "connected_slaves:%d", n);
    pthread_mutex_lock(&r->lock);
    for (int i = 0, k = 0; i < REPL_MAX_REPLICAS; i++) {
        struct repl_slot *s = &r->slots[i];
        long st = mbox_counter_get(&s->state);

        if (!mbox_counter_get(&s->used)) {
            continue;
        }
        rbuf_line(out, "slave%d:ip=%s,port=%d,state=%s,offset=%ld,lag=%lld", k++, s->ip, s->port,
                  states[st >= 0 && st <= 3 ? st : 0], mbox_counter_get(&s->ack),
                  (long long)((sh_time_ms() - mbox_counter_get(&s->ack_ms)) / 1000));
    }
    pthread_mutex_unlock(&r->lock);
    if (sh->cfg.min_replicas_to_write && sh->cfg.min_replicas_max_lag) {
        rbuf_line(out, "min_slaves_good_slaves:%d", good_replicas(r, sh->cfg.min_replicas_max_lag));
    }
    repl_get_ids(sh->srv, &ids);
    rbuf_line(out, "master_failover_state:no-failover");
    rbuf_line(out, "master_replid:%s", ids.replid);
    rbuf_line(out, "master_replid2:%s", ids.replid2);
    rbuf_line(out, "master_repl_offset:%lld", ids.offset);
    rbuf_line(out, "second_repl_offset:%lld", ids.second_offset);
    rbuf_line(out, "repl_backlog_active:%d", mbox_counter_get(&r->backlog_active) ? 1 : 0);
    rbuf_line(out, "repl_backlog_size:%lld", (long long)sh->cfg.repl_backlog_size);
    rbuf_line(out, "repl_backlog_first_byte_offset:%ld",
              mbox_counter_get(&r->backlog_active) ? mbox_counter_get(&r->backlog_first) : 0);
    rbuf_line(out, "repl_backlog_histlen:%lld", hist);
}

/* ---- the loop ---- */

/* repl-backlog-ttl, as Redis's replicationCron: a primary whose backlog
 * had no replica for that long frees it and takes a new id (a replica that
 * comes back syncs fully). */
static void backlog_ttl(struct shard *sh0, struct hub *h)
{
    struct repl *r = repl_of(sh0->srv);

    if (h->replicas || h->follow || !h->bl || !sh0->cfg.repl_backlog_ttl) {
        h->no_replicas_since_ms = 0;
        return;
    }
    if (!h->no_replicas_since_ms) {
        h->no_replicas_since_ms = sh0->now_ms;
        return;
    }
    if (sh0->now_ms - h->no_replicas_since_ms < sh0->cfg.repl_backlog_ttl * 1000) {
        return;
    }
    sh_free(h->bl);
    h->bl = NULL;
    h->bl_size = h->bl_idx = h->bl_hist = 0;
    mbox_counter_set(&r->backlog_active, 0);
    mbox_counter_set(&r->backlog_histlen, 0);
    pthread_mutex_lock(&r->lock);
    shard_new_id(r->replid);
    memset(r->replid2, '0', 40);
    pthread_mutex_unlock(&r->lock);
    mbox_counter_set(&r->second_offset, -1);
    sh_log(LOG_NOTICE, "Replication backlog freed after %lld seconds without connected replicas.",
           (long long)sh0->cfg.repl_backlog_ttl);
    h->no_replicas_since_ms = 0;
}

void repl_configure(struct shard *sh)
{
    struct repl *r = repl_of(sh->srv);
    struct mbox_counter *gw = (struct mbox_counter *)&sh->srv->repl_gate;
    long gate, want;

    if (sh->id != 0) {
        return;
    }
    do {
        gate = mbox_word_get(gw);
        want = gate & ~(long)SHARD_GATE_NOREPLICAS;
        if (sh->cfg.min_replicas_to_write && sh->cfg.min_replicas_max_lag &&
            !replica_active(sh->srv) &&
            good_replicas(r, sh->cfg.min_replicas_max_lag) < sh->cfg.min_replicas_to_write) {
            want |= SHARD_GATE_NOREPLICAS;
        }
    } while (want != gate && !mbox_word_cas(gw, &gate, want));
}

static void (*prev_cron)(struct shard *sh);
static void (*prev_exit)(struct shard *sh);

/* Shard 0: PINGs into the stream every repl-ping-replica-period, the
 * min-replicas gate, a sync that can go on. Every core: the replica's
 * side. */
static void repl_cron(struct shard *sh)
{
    struct repl *r = repl_of(sh->srv);

    if (prev_cron) {
        prev_cron(sh);
    }
    replica_cron(sh);
    primary_cron(sh);
    if (sh->id == 0) {
        struct hub *h = r->hub;
        if (h->replicas && !h->follow &&
            sh->now_ms - h->last_ping_ms >= sh->cfg.repl_ping_replica_period * 1000) {
            static const struct sh_slice ping[1] = { { "PING", 4 } };

            h->last_ping_ms = sh->now_ms;
            put_cmd(&h->out, 1, ping);
            publish(sh, h);
        }
        repl_configure(sh);
        backlog_ttl(sh, h);
        sync_progress(sh, h);
    }
}

static void repl_exit(struct shard *sh)
{
    struct repl *r = repl_of(sh->srv);
    struct repl_core *rc = &r->cores[sh->id];

    if (prev_exit) {
        prev_exit(sh);
    }
    while (rc->waits) {
        struct wait_job *w = rc->waits;

        rc->waits = w->next;
        sh_free(w);
    }
    if (sh->id == 0) {
        struct hub *h = r->hub;

        while (h->replicas) {
            struct hub_replica *x = h->replicas;

            h->replicas = x->next;
            sh_free(x);
        }
        while (h->waits) {
            struct hub_wait *w = h->waits;

            h->waits = w->next;
            sh_free(w->target);
            sh_free(w);
        }
        for (int s = 0; s < h->n; s++) {
            rbuf_fini(&h->q[s].buf);
        }
        rbuf_fini(&h->out);
        sh_free(h->bl);
        h->bl = NULL;
    }
}

void repl_init(struct server *srv)
{
    /* mbox counters are cache-line aligned */
    struct repl *r = sh_aligned_calloc(SH_CACHELINE, 1, sizeof(*r));
    struct hub *h = sh_calloc(1, sizeof(*h));

    pthread_mutex_init(&r->lock, NULL);
    shard_new_id(r->replid);
    memset(r->replid2, '0', 40);
    mbox_counter_set(&r->second_offset, -1);
    r->tap_bytes = sh_aligned_calloc(SH_CACHELINE, (size_t)srv->nshards, sizeof(*r->tap_bytes));
    r->cores = sh_calloc((size_t)srv->nshards, sizeof(*r->cores));
    h->n = srv->nshards;
    h->q = sh_calloc((size_t)h->n, sizeof(*h->q));
    for (int s = 0; s < h->n; s++) {
        rbuf_init(&h->q[s].buf);
        h->q[s].db = -1;
    }
    rbuf_init(&h->out);
    h->out_db = -1;
    r->hub = h;
    srv->repl = r;
    aof_tap = tap;
    persist_mark_hook = mark_here;
    persist_sink_busy = sink_busy;
    prev_cron = shard_hooks.cron;
    shard_hooks.cron = repl_cron;
    prev_exit = shard_hooks.exit;
    shard_hooks.exit = repl_exit;
    primary_init(srv);
    replica_init(srv);
}

void repl_fini(struct server *srv)
{
    struct repl *r = srv->repl;

    if (!r) {
        return;
    }
    replica_fini(srv);
    primary_fini(srv);
    sh_free(r->hub->q);
    sh_free(r->hub);
    sh_free(r->tap_bytes);
    sh_free(r->cores);
    pthread_mutex_destroy(&r->lock);
    sh_free(r);
    srv->repl = NULL;
}

void repl_bind(void)
{
    cmd_must_bind("role", cmd_role, CMD_ROUTE_CONN, NULL);
    cmd_must_bind("wait", cmd_wait, CMD_ROUTE_CONN, NULL);
    primary_bind();
    replica_bind();
}
