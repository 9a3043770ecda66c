/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * persist.c: forkless point-in-time snapshots into one RDB file (see
 * persist.h for the steps), the save points, and the loop hooks.
 *
 *   origin:  prepare (claim, temp file, header) -> __snapbegin on every shard
 *   shard:   walk slice per iteration -> chunks -> write at reserved offsets
 *   last:    done count reaches nshards -> ring the origin
 *   origin:  EOF + CRC, fsync, rename -> ring every shard: waiters run
 *
 * The file's layout: [header][chunk][chunk]...[EOF][crc]. A chunk's place
 * is reserved with one atomic add on next_off, so chunks of different
 * shards interleave in any order; every chunk starts with SELECTDB and holds
 * whole records, so the file is a valid RDB whatever the order. The CRC of
 * the whole is combined from the header's and each chunk's (crc64_combine)
 * in offset order, so nothing is read back.
 */
#include "shardis/persist.h"

#include "persist_internal.h"
#include "shardis/cmdtab.h"
#include "shardis/conn.h"
#include "shardis/crc64.h"
#include "shardis/eval.h"
#include "shardis/kdb.h"
#include "shardis/log.h"
#include "shardis/mbox.h"
#include "shardis/rdb.h"
#include "shardis/route.h"
#include "shardis/script.h"
#include "shardis/shard.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define CHUNK_BYTES    (256 * 1024)
#define MAX_INFLIGHT   (16 * 1024 * 1024)
#define SLICE_US       1000 /* walk time per loop iteration */
#define SCANS_PER_TICK 32   /* table buckets between two clock reads */

/* ---- the server-wide state ---- */

struct persist *persist_of(const struct server *srv)
{
    return srv->persist;
}

struct pshard *pshard_of(struct shard *sh)
{
    return sh->persist;
}

bool persist_snap_running(const struct server *srv)
{
    return mbox_counter_get(&srv->persist->state) != 0;
}

/* ---- chunks and their writes ---- */

struct wchunk {
    struct shard_io io;
    struct pshard *ps;
    char *data;
    size_t len, done;
    uint64_t off;
};

static void submit_write(struct shard *sh, struct wchunk *w)
{
    struct io_uring_sqe *sqe = shard_get_sqe(sh);

    io_uring_prep_write(sqe, persist_of(sh->srv)->fd, w->data + w->done,
                        (unsigned)(w->len - w->done), w->off + w->done);
    io_uring_sqe_set_data64(sqe, shard_io_data(&w->io));
}

static void shard_maybe_done(struct shard *sh);

static void on_written(struct shard *sh, struct shard_io *io, int res)
{
    struct wchunk *w = (struct wchunk *)io;
    struct pshard *ps = w->ps;

    if (res > 0 && w->done + (size_t)res < w->len) {
        w->done += (size_t)res; /* a short write: the rest */
        submit_write(sh, w);
        return;
    }
    if (res <= 0 && !ps->err) {
        ps->err = res < 0 ? -res : EIO;
    }
    ps->inflight_bytes -= w->len;
    ps->inflight--;
    sh_free(w->data);
    sh_free(w);
    shard_maybe_done(sh);
}

/* Sends the chunk being built to its place in the file. */
static void chunk_submit(struct shard *sh, struct pshard *ps)
{
    struct persist *g = persist_of(sh->srv);
    struct wchunk *w;
    uint64_t off;

    if (ps->out.len == 0) {
        return;
    }
    if (ps->err || mbox_counter_get(&g->failed)) {
        rdb_out_reset(&ps->out); /* failed or abandoned: nothing more goes out */
        ps->out_db = -1;
        return;
    }
    if (g->sink) {
        /* diskless: to the replicas' cores; only the byte count is kept */
        mbox_counter_add(&g->next_off, (long)ps->out.len);
        g->sink(sh, (const char *)ps->out.data, ps->out.len);
        rdb_out_reset(&ps->out);
        ps->out_db = -1;
        return;
    }
    w = sh_calloc(1, sizeof(*w));
    w->io.done = on_written;
    w->ps = ps;
    w->data = ps->out.data;
    w->len = ps->out.len;
    off = (uint64_t)mbox_counter_add(&g->next_off, (long)w->len) - w->len;
    w->off = off;
    if (ps->nchunks == ps->capchunks) {
        ps->capchunks = ps->capchunks ? ps->capchunks * 2 : 64;
        ps->chunks = sh_realloc(ps->chunks, ps->capchunks * sizeof(*ps->chunks));
    }
    ps->chunks[ps->nchunks++] = (struct snap_chunk){
        .off = off, .len = w->len, .crc = g->checksum ? crc64(0, w->data, w->len) : 0
    };
    ps->out.data = NULL;
    ps->out.len = ps->out.cap = 0;
    ps->out_db = -1;
    ps->inflight++;
    ps->inflight_bytes += w->len;
    submit_write(sh, w);
}

/* One key's record (EXPIRETIME_MS, type, key, value) into the chunk of
 * database dbid. */
static void put_record(struct shard *sh, struct pshard *ps, int dbid, const struct kentry *e)
{
    int64_t expire = kdb_expire_of(shard_db(sh, dbid), e);

    if (expire >= 0 && expire <= ps->now_ms) {
        return; /* expired at the begin: Redis would not load it */
    }
    if (ps->out_db != dbid) {
        chunk_submit(sh, ps);
        rdb_put_byte(&ps->out, RDB_OPCODE_SELECTDB);
        rdb_put_len(&ps->out, (uint64_t)dbid);
        ps->out_db = dbid;
    }
    if (expire >= 0) {
        rdb_put_byte(&ps->out, RDB_OPCODE_EXPIRETIME_MS);
        rdb_put_ms(&ps->out, expire);
    }
    rdb_put_byte(&ps->out, (uint8_t)rdb_value_type(&e->val));
    rdb_put_string(&ps->out, kentry_key(e), kentry_klen(e));
    rdb_put_value_payload(&ps->out, &e->val);
    ps->keys++;
    if (ps->out.len >= CHUNK_BYTES) {
        chunk_submit(sh, ps);
    }
}

/* kdb's hook: a command is about to see an entry the walk has not reached. */
static void on_unreached(void *arg, int dbid, struct kentry *e)
{
    struct shard *sh = arg;

    put_record(sh, pshard_of(sh), dbid, e);
}

struct walk_ctx {
    struct shard *sh;
    struct pshard *ps;
    struct kdb *db;
    int dbid;
};

static void walk_one(void *arg, struct kentry *e)
{
    struct walk_ctx *w = arg;

    if (!kdb_snap_reached(w->db, e)) {
        put_record(w->sh, w->ps, w->dbid, e);
        kdb_snap_mark(w->db, e);
        if (SH_UNLIKELY(w->sh->cfg.rdb_key_save_delay)) {
            usleep((useconds_t)w->sh->cfg.rdb_key_save_delay); /* a slow save, for tests */
        }
    }
}

bool (*persist_sink_busy)(struct shard *sh);

/* A diskless snapshot whose receivers have too much unsent: walk no more
 * in this loop iteration. */
static bool sink_busy(struct shard *sh)
{
    struct persist *g = persist_of(sh->srv);

    return g->sink && persist_sink_busy && persist_sink_busy(sh);
}

/* Walks database dbid from the cursor until its end or the deadline (0: no
 * deadline). True when the database is done. */
static bool walk_db(struct shard *sh, struct pshard *ps, int dbid, int64_t deadline_us)
{
    struct walk_ctx w = { sh, ps, shard_db(sh, dbid), dbid };
    struct kdict *d = kdb_dict(w.db);

    for (;;) {
        for (int i = 0; i < SCANS_PER_TICK; i++) {
            ps->cursor = kdict_scan(d, ps->cursor, walk_one, &w);
            if (ps->cursor == 0) {
                return true;
            }
        }
        /* no deadline (a flush is next): the whole database now, whatever
         * waits to be written or sent */
        if (deadline_us &&
            (sh_mono_us() >= deadline_us || ps->inflight_bytes >= MAX_INFLIGHT || sink_busy(sh))) {
            return false;
        }
    }
}

/* A diskless snapshot whose receivers are busy keeps the loop polling: the
 * walk resumes the moment their sends drain (waiting for the next timer run
 * cost up to 100 ms each time). */
static void set_bg_work(struct shard *sh, struct pshard *ps)
{
    sh->bg_work = ps->active && !ps->walk_done && ps->inflight_bytes < MAX_INFLIGHT;
}

/* Ends the snapshot on this shard: every database's mark is settled. */
static void shard_end(struct shard *sh, struct pshard *ps, bool mark_rest)
{
    for (int i = 0; i < sh->cfg.databases; i++) {
        kdb_snap_end(shard_db(sh, i), mark_rest);
    }
    ps->walk_done = true;
}

/* This shard is done when its walk ended and its last write came back. */
static void shard_maybe_done(struct shard *sh)
{
    struct pshard *ps = pshard_of(sh);
    struct persist *g = persist_of(sh->srv);
    struct snap_result *res;
    int origin;

    set_bg_work(sh, ps);
    if (!ps->active || !ps->walk_done || ps->inflight || ps->out.len) {
        return;
    }
    ps->active = false;
    sh->bg_work = false;
    /* the origin reads the chunk list; it stays this shard's memory (freed
     * here, reused by the next snapshot, which begins after the origin is
     * done with it) */
    res = &g->res[sh->id];
    res->chunks = ps->chunks;
    res->nchunks = ps->nchunks;
    res->keys = ps->keys;
    res->dirty = ps->dirty_start;
    res->err = ps->err;
    if (ps->err) {
        long zero = 0;

        mbox_word_cas(&g->failed, &zero, ps->err);
    }
    /* the add publishes res (release); the last one rings the origin, read
     * before the add: once the origin has seen every add, it may finish and
     * let a new snapshot (a waiting replica's) set its own origin */
    origin = g->origin;
    if (mbox_counter_add(&g->done, 1) == sh->srv->nshards) {
        shard_ring_io(sh, origin, &pshard_of(sh->srv->shards[origin])->finish_io, 0);
    }
}

/* The loop's hook while sh->bg_work: one slice of the walk. */
static void snap_iter(struct shard *sh)
{
    struct pshard *ps = pshard_of(sh);
    struct persist *g = persist_of(sh->srv);
    int64_t deadline = sh->mono_us + SLICE_US;

    if (!ps->active || ps->walk_done) {
        sh->bg_work = false;
        return;
    }
    if (ps->err || mbox_counter_get(&g->failed)) {
        shard_end(sh, ps, true); /* abandoned: settle the marks */
        rdb_out_reset(&ps->out);
        ps->out_db = -1;
        shard_maybe_done(sh);
        return;
    }
    while (ps->dbi < sh->cfg.databases) {
        if (!walk_db(sh, ps, ps->dbi, deadline)) {
            set_bg_work(sh, ps);
            return;
        }
        ps->dbi++;
        ps->cursor = 0;
        if (sh_mono_us() >= deadline) {
            set_bg_work(sh, ps);
            return;
        }
    }
    chunk_submit(sh, ps);
    shard_end(sh, ps, false);
    shard_maybe_done(sh);
}

void persist_snap_begin(struct shard *sh)
{
    struct pshard *ps = pshard_of(sh);

    SH_ASSERT(!ps->active);
    ps->active = true;
    ps->walk_done = false;
    rdb_out_free(&ps->out);
    rdb_out_init(&ps->out, sh->cfg.rdbcompression);
    ps->out_db = -1;
    ps->dbi = 0;
    ps->cursor = 0;
    ps->keys = 0;
    ps->nchunks = 0;
    ps->err = 0;
    ps->now_ms = sh->now_ms;
    ps->dirty_start = (long)sh->stats.dirty;
    if (persist_of(sh->srv)->for_aof) {
        aof_on_snap_begin(sh); /* the log's next file starts at this point */
    }
    if (persist_of(sh->srv)->mark && persist_mark_hook) {
        persist_mark_hook(sh, persist_of(sh->srv)->mark); /* a replica's sync starts here */
    }
    for (int i = 0; i < sh->cfg.databases; i++) {
        kdb_snap_begin(shard_db(sh, i), on_unreached, sh);
    }
    set_bg_work(sh, ps);
}

void persist_before_flush(struct shard *sh, int dbid)
{
    struct pshard *ps = pshard_of(sh);

    /* no state: a shard that never ran its loop (the dispatch fuzzer) */
    if (!ps || !ps->active || ps->walk_done) {
        return;
    }
    if (dbid < ps->dbi) {
        return; /* walked already */
    }
    if (dbid == ps->dbi) {
        walk_db(sh, ps, dbid, 0);
        ps->dbi++;
        ps->cursor = 0;
        return;
    }
    /* ahead of the walk: all of it now, from its start */
    {
        uint64_t keep = ps->cursor;

        ps->cursor = 0;
        walk_db(sh, ps, dbid, 0);
        ps->cursor = keep;
    }
}

void persist_snap_abort(struct shard *sh)
{
    struct persist *g = persist_of(sh->srv);
    struct pshard *ps = pshard_of(sh);
    long zero = 0;

    if (!g || !ps) {
        return; /* no persistence set up (the dispatch fuzzer) */
    }
    if (persist_snap_running(sh->srv)) {
        mbox_word_cas(&g->failed, &zero, ECANCELED);
    }
    /* this shard stops at once (FLUSHALL empties it right after) */
    if (ps->active && !ps->walk_done) {
        snap_iter(sh);
    }
}

/* ---- the origin: header, finish, waiters ---- */

static void put_aux(struct rdb_out *o, const char *k, const char *v)
{
    rdb_put_byte(o, RDB_OPCODE_AUX);
    rdb_put_string(o, k, strlen(k));
    rdb_put_string(o, v, strlen(v));
}

static void put_aux_ll(struct rdb_out *o, const char *k, long long v)
{
    rdb_put_byte(o, RDB_OPCODE_AUX);
    rdb_put_string(o, k, strlen(k));
    rdb_put_ll(o, v);
}

/* The header: magic, Redis 7.0's AUX fields, the function libraries. */
static void build_header(struct shard *sh, struct rdb_out *o, bool aof_base)
{
    struct script_vm *fvm = eval_functions_vm(sh);
    char ver[16];

    snprintf(ver, sizeof(ver), "REDIS%04d", RDB_VERSION);
    rdb_put_raw(o, ver, 9);
    put_aux(o, "redis-ver", "7.0.15");
    put_aux_ll(o, "redis-bits", (long long)sizeof(void *) * 8);
    put_aux_ll(o, "ctime", sh->now_ms / 1000);
    put_aux_ll(o, "used-mem", (long long)sh_alloc_process_bytes());
    put_aux_ll(o, "repl-stream-db", 0);
    put_aux(o, "repl-id", sh->srv->run_id);
    put_aux_ll(o, "repl-offset", 0);
    put_aux_ll(o, "aof-base", aof_base);
    for (size_t i = 0; fvm && i < script_fn_nlibs(fvm); i++) {
        const struct script_library *lib = script_fn_lib(fvm, i);

        rdb_put_byte(o, RDB_OPCODE_FUNCTION2);
        rdb_put_string(o, lib->code, lib->len);
    }
}

static int write_all(int fd, const void *p, size_t n, off_t off)
{
    const char *b = p;

    while (n) {
        ssize_t w = pwrite(fd, b, n, off);

        if (w < 0) {
            if (errno == EINTR) {
                continue;
            }
            return -errno;
        }
        b += w;
        n -= (size_t)w;
        off += w;
    }
    return 0;
}

void (*persist_mark_hook)(struct shard *sh, long mark);

void persist_snap_set_sink(const struct server *srv, persist_sink_fn *fn)
{
    persist_of(srv)->sink = fn;
}

struct sh_slice persist_snap_header(const struct server *srv)
{
    struct persist *g = persist_of(srv);

    return (struct sh_slice){ g->hdr_copy, g->hdr_copy ? g->hdr_len : 0 };
}

long long persist_snap_bytes(const struct server *srv)
{
    struct persist *g = persist_of(srv);

    return (long long)mbox_counter_get(&g->next_off) - (long long)g->hdr_len;
}

void persist_snap_set_mark(const struct server *srv, long mark)
{
    persist_of(srv)->mark = mark;
}

int persist_snap_prepare(struct shard *sh, char *err, size_t errlen)
{
    return persist_snap_prepare_to(sh, sh->cfg.dbfilename, false, err, errlen);
}

int persist_snap_prepare_to(struct shard *sh, const char *target, bool for_aof, char *err,
                            size_t errlen)
{
    struct persist *g = persist_of(sh->srv);
    struct rdb_out hdr;
    long idle = 0;
    int rc;

    if (!mbox_word_cas(&g->state, &idle, 1)) {
        snprintf(err, errlen, "ERR Background save already in progress");
        return -1;
    }
    g->seq++;
    g->for_aof = for_aof;
    g->mark = 0;
    g->sink = NULL;
    snprintf(g->target, sizeof(g->target), "%s", target);
    snprintf(g->tmpname, sizeof(g->tmpname), "temp-%d-%u.rdb", (int)getpid(), g->seq);
    g->fd = open(g->tmpname, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (g->fd < 0) {
        rc = errno;
        sh_log(LOG_WARNING,
               "Failed opening the temp RDB file %s (in server root dir %s) for saving: %s",
               g->tmpname, sh->cfg.dir, strerror(rc));
        snprintf(err, errlen, "ERR Failed opening the temp RDB file: %s", strerror(rc));
        persist_record_end(sh, false);
        mbox_counter_set(&g->state, 0);
        return -1;
    }
    rdb_out_init(&hdr, sh->cfg.rdbcompression);
    build_header(sh, &hdr, for_aof);
    sh_free(g->hdr_copy);
    g->hdr_copy = sh_memdup(hdr.data, hdr.len);
    rc = write_all(g->fd, hdr.data, hdr.len, 0);
    g->hdr_len = hdr.len;
    g->hdr_crc = sh->cfg.rdbchecksum ? crc64(0, hdr.data, hdr.len) : 0;
    g->checksum = sh->cfg.rdbchecksum;
    rdb_out_free(&hdr);
    if (rc < 0) {
        snprintf(err, errlen, "ERR %s", strerror(-rc));
        close(g->fd);
        unlink(g->tmpname);
        persist_record_end(sh, false);
        mbox_counter_set(&g->state, 0);
        return -1;
    }
    g->origin = sh->id;
    g->start_ms = sh->now_ms;
    mbox_counter_set(&g->next_off, (long)g->hdr_len);
    mbox_counter_set(&g->done, 0);
    mbox_counter_set(&g->failed, 0);
    sh_log(LOG_NOTICE, "Background saving started");
    return 0;
}

int persist_write_empty(struct shard *sh, const char *path, bool aof_base)
{
    struct rdb_out o;
    char tmp[4200];
    uint64_t crc;
    int fd, rc;

    rdb_out_init(&o, false);
    build_header(sh, &o, aof_base);
    rdb_put_byte(&o, RDB_OPCODE_EOF);
    crc = sh->cfg.rdbchecksum ? crc64(0, o.data, o.len) : 0;
    for (int i = 0; i < 8; i++) {
        rdb_put_byte(&o, (uint8_t)(crc >> (8 * i)));
    }
    snprintf(tmp, sizeof(tmp), "%s.tmp", path);
    fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0) {
        rdb_out_free(&o);
        return -errno;
    }
    rc = write_all(fd, o.data, o.len, 0);
    if (rc == 0 && fsync(fd) != 0) {
        rc = -errno;
    }
    close(fd);
    if (rc == 0 && rename(tmp, path) != 0) {
        rc = -errno;
    }
    if (rc != 0) {
        unlink(tmp);
    }
    rdb_out_free(&o);
    return rc;
}

static int cmp_chunk(const void *a, const void *b)
{
    const struct snap_chunk *x = a, *y = b;

    return x->off < y->off ? -1 : x->off > y->off;
}

/* The whole file's CRC from the header's and every chunk's, in file order;
 * false when the chunks do not tile the file (a bug: never renamed then). */
static bool combine_crc(struct persist *g, int nshards, uint64_t end, uint64_t *crc)
{
    size_t n = 0, k = 0;
    struct snap_chunk *all;
    uint64_t at = g->hdr_len, c = g->hdr_crc;
    bool ok = true;

    for (int i = 0; i < nshards; i++) {
        n += g->res[i].nchunks;
    }
    all = sh_malloc((n ? n : 1) * sizeof(*all));
    for (int i = 0; i < nshards; i++) {
        if (g->res[i].nchunks) { /* an empty shard has no array at all */
            memcpy(all + k, g->res[i].chunks, g->res[i].nchunks * sizeof(*all));
            k += g->res[i].nchunks;
        }
    }
    qsort(all, n, sizeof(*all), cmp_chunk);
    for (size_t i = 0; i < n && ok; i++) {
        ok = all[i].off == at;
        c = crc64_combine(c, all[i].crc, all[i].len);
        at += all[i].len;
    }
    sh_free(all);
    *crc = c;
    return ok && at == end;
}

/* Every shard is done: EOF and CRC, then fsync, rename, fsync of the
 * directory (blocking file calls on the origin, once per snapshot). */
static void finish(struct shard *sh, struct shard_io *io, int res)
{
    struct persist *g = persist_of(sh->srv);
    uint64_t end, crc = 0;
    int err;
    unsigned char tail[9];
    bool ok;

    (void)io;
    (void)res;
    /* the ring's completion carries no memory order the compiler (or TSan)
     * knows of: acquire the done count, whose adds released each shard's
     * result slot */
    SH_ASSERT(mbox_counter_get(&g->done) == sh->srv->nshards);
    end = (uint64_t)mbox_counter_get(&g->next_off);
    err = (int)mbox_counter_get(&g->failed);
    if (g->sink) {
        /* diskless: nothing was written but the header; not a save */
        close(g->fd);
        g->fd = -1;
        unlink(g->tmpname);
        ok = err == 0;
        for (int i = 0; i < sh->srv->nshards; i++) {
            g->res[i].chunks = NULL;
            g->res[i].nchunks = 0;
        }
        mbox_counter_set(&g->state, 0);
        for (int i = 0; i < sh->srv->nshards; i++) {
            shard_ring_io(sh, i, &pshard_of(sh->srv->shards[i])->ended_io, ok);
        }
        return;
    }
    if (!err && !combine_crc(g, sh->srv->nshards, end, &crc)) {
        sh_log(LOG_WARNING, "Snapshot chunks do not tile the file: not saved");
        err = EIO;
    }
    if (!err) {
        uint64_t v = g->checksum ? crc64(crc, (const unsigned char[]){ RDB_OPCODE_EOF }, 1) : 0;

        tail[0] = RDB_OPCODE_EOF;
        for (int i = 0; i < 8; i++) {
            tail[1 + i] = (unsigned char)(v >> (8 * i));
        }
        if (write_all(g->fd, tail, sizeof(tail), (off_t)end) < 0 || fsync(g->fd) != 0) {
            err = errno ? errno : EIO;
        }
    }
    close(g->fd);
    g->fd = -1;
    if (!err && rename(g->tmpname, g->target) != 0) {
        err = errno;
    }
    ok = err == 0;
    if (ok) {
        int dfd = open(".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);

        if (dfd >= 0) {
            (void)fsync(dfd);
            close(dfd);
        }
        if (!g->for_aof) {
            for (int i = 0; i < sh->srv->nshards; i++) {
                mbox_counter_set(&g->dirty_saved[i], g->res[i].dirty);
            }
            sh_log(LOG_NOTICE, "DB saved on disk");
        }
    } else {
        unlink(g->tmpname);
        if (err == ECANCELED) {
            sh_log(LOG_WARNING, "Background saving terminated by a flush");
        } else {
            sh_log(LOG_WARNING, "Write error saving DB on disk: %s", strerror(err));
        }
    }
    for (int i = 0; i < sh->srv->nshards; i++) {
        g->res[i].chunks = NULL; /* each shard's own memory */
        g->res[i].nchunks = 0;
    }
    if (g->for_aof) {
        aof_on_rewrite_end(sh, ok);
    } else if (err != ECANCELED) {
        persist_record_end(sh, ok); /* a flush's stop is no failure (Redis's SIGUSR1) */
    }
    /* free for the next one before the waiters run (they may start it) */
    mbox_counter_set(&g->state, 0);
    for (int i = 0; i < sh->srv->nshards; i++) {
        shard_ring_io(sh, i, &pshard_of(sh->srv->shards[i])->ended_io, ok);
    }
}

/* On each shard after a snapshot ended: its waiters. */
static void on_ended(struct shard *sh, struct shard_io *io, int res)
{
    struct pshard *ps = pshard_of(sh);
    struct snap_waiter *w = ps->waiters;

    (void)io;
    ps->waiters = NULL;
    while (w) {
        struct snap_waiter *next = w->next;

        w->fn(w->arg, res != 0);
        sh_free(w);
        w = next;
    }
}

bool persist_snap_wait(struct shard *sh, persist_done_fn *fn, void *arg)
{
    struct pshard *ps = pshard_of(sh);
    struct snap_waiter *w;

    if (!persist_snap_running(sh->srv)) {
        return false;
    }
    w = sh_malloc(sizeof(*w));
    w->fn = fn;
    w->arg = arg;
    w->next = ps->waiters;
    ps->waiters = w;
    return true;
}

/* ---- status ---- */

void persist_record_end(struct shard *sh, bool ok)
{
    struct persist *g = persist_of(sh->srv);

    mbox_counter_set(&g->last_ok, ok);
    mbox_counter_set(&((struct server *)sh->srv)->save_failed, !ok);
    mbox_counter_set(&g->last_time_sec, (long)((sh_time_ms() - g->start_ms + 500) / 1000));
    if (ok) {
        mbox_counter_set(&g->lastsave, (long)(sh_time_ms() / 1000));
        mbox_counter_add(&g->saves, 1);
    }
}

void persist_status(struct shard *sh, struct persist_status *st)
{
    struct persist *g = persist_of(sh->srv);
    long long changes = 0;

    for (int i = 0; i < sh->srv->nshards; i++) {
        changes += mbox_counter_get(&sh->srv->dirty[i]) - mbox_counter_get(&g->dirty_saved[i]);
    }
    *st = (struct persist_status){
        .changes_since_save = changes,
        .last_save_time = mbox_counter_get(&g->lastsave),
        .saves = mbox_counter_get(&g->saves),
        .last_bgsave_time_sec = mbox_counter_get(&g->last_time_sec),
        .current_bgsave_time_sec = -1,
        .keys_loaded = mbox_counter_get(&g->keys_loaded),
        .keys_expired = mbox_counter_get(&g->keys_expired),
        .bgsave_in_progress = persist_snap_running(sh->srv),
        .last_bgsave_ok = mbox_counter_get(&g->last_ok) != 0,
    };
    if (st->bgsave_in_progress) {
        st->current_bgsave_time_sec = (sh->now_ms - g->start_ms) / 1000;
    }
}

/* ---- save points ---- */

bool persist_has_save_points(const struct shard *sh)
{
    return sh->cfg.save[0] != '\0';
}

/* Whether a save point is due: changes >= its count and seconds since the
 * last save >= its seconds (after a failed save, only 5 s after the try, as
 * Redis's CONFIG_BGSAVE_RETRY_DELAY). */
static bool save_point_due(struct shard *sh)
{
    struct persist *g = persist_of(sh->srv);
    struct persist_status st;
    const char *p = sh->cfg.save;
    int64_t now = sh->now_ms / 1000;

    persist_status(sh, &st);
    if (!st.last_bgsave_ok && now - g->start_ms / 1000 < 5) {
        return false;
    }
    while (*p) {
        char *end;
        long long secs = strtoll(p, &end, 10), changes;

        if (end == p) {
            break;
        }
        changes = strtoll(end, &end, 10);
        p = end;
        if (st.changes_since_save >= changes && now - st.last_save_time >= secs) {
            return true;
        }
    }
    return false;
}

/* Shard 0's timer: a due save point starts a BGSAVE, run by the server's
 * own client as if a user had sent it. */
static void snap_cron(struct shard *sh)
{
    static const struct sh_slice argv[] = { { "BGSAVE", 6 } };
    if (sh->aof) {
        aof_cron(sh);
        aof_auto_rewrite(sh);
    }
    if (sh->id != 0 || !persist_has_save_points(sh) || persist_snap_running(sh->srv)) {
        return;
    }
    if (save_point_due(sh)) {
        sh_log(LOG_NOTICE, "changes in the save points reached: saving...");
        conn_run_internal(sh, 1, argv);
    }
}

/* A signal asked for a shutdown: the server's own client runs SHUTDOWN,
 * which saves when save points are set. */
static bool snap_stop(struct shard *sh)
{
    static const struct sh_slice argv[] = { { "SHUTDOWN", 8 } };

    conn_run_internal(sh, 1, argv);
    return true;
}

/* ---- set-up ---- */

static int load_hook(struct shard *sh)
{
    struct pshard *ps = sh_calloc(1, sizeof(*ps));

    ps->finish_io.done = finish;
    ps->ended_io.done = on_ended;
    ps->out_db = -1;
    rdb_out_init(&ps->out, true);
    sh->persist = ps;
    if (sh->cfg.appendonly) {
        aof_shard_init(sh);
        return aof_load(sh);
    }
    return persist_load_start(sh);
}

void persist_init(struct server *srv)
{
    struct persist *g = sh_aligned_calloc(SH_CACHELINE, 1, sizeof(*g));

    g->res = sh_calloc((size_t)srv->nshards, sizeof(*g->res));
    g->dirty_saved = sh_aligned_calloc(SH_CACHELINE, (size_t)srv->nshards, sizeof(*g->dirty_saved));
    g->fd = -1;
    g->start_ms = srv->start_ms;
    g->aof.incr_size =
            sh_aligned_calloc(SH_CACHELINE, (size_t)srv->nshards, sizeof(*g->aof.incr_size));
    g->aof.seen = sh_calloc((size_t)srv->nshards, sizeof(*g->aof.seen));
    g->aof.nseen = sh_calloc((size_t)srv->nshards, sizeof(*g->aof.nseen));
    pthread_barrier_init(&g->aof.barrier, NULL, (unsigned)srv->nshards);
    mbox_counter_set(&g->aof.last_ok, 1);
    mbox_counter_set(&g->aof.last_time_sec, -1);
    mbox_counter_set(&g->last_ok, 1);
    mbox_counter_set(&g->lastsave, (long)(srv->start_ms / 1000));
    mbox_counter_set(&g->last_time_sec, -1);
    srv->persist = g;
    shard_hooks.load = load_hook;
    shard_hooks.iter = snap_iter;
    shard_hooks.cron = snap_cron;
    shard_hooks.stop = snap_stop;
    shard_hooks.exit = persist_shard_exit;
    aof_init_hooks();
}

void persist_shard_exit(struct shard *sh)
{
    struct pshard *ps = pshard_of(sh);

    aof_shard_exit(sh);
    if (!ps) {
        return;
    }
    while (ps->waiters) {
        struct snap_waiter *w = ps->waiters;

        ps->waiters = w->next;
        sh_free(w);
    }
    rdb_out_free(&ps->out);
    sh_free(ps->chunks);
    sh_free(ps);
    sh->persist = NULL;
}

void persist_fini(struct server *srv)
{
    struct persist *g = srv->persist;

    if (!g) {
        return;
    }
    if (mbox_counter_get(&g->state)) {
        if (g->fd >= 0) {
            close(g->fd);
        }
        unlink(g->tmpname);
    }
    sh_free(g->res);
    sh_free(g->hdr_copy);
    sh_free(g->dirty_saved);
    sh_free(g->aof.incr_size);
    sh_free(g->aof.extra);
    for (int i = 0; i < srv->nshards; i++) {
        sh_free(g->aof.seen[i]);
    }
    sh_free(g->aof.seen);
    sh_free(g->aof.nseen);
    pthread_barrier_destroy(&g->aof.barrier);
    sh_free(g);
    srv->persist = NULL;
}
