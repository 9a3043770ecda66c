/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * aofload.c: start-up with appendonly yes (see aof.h).
 *
 * Every shard reads the manifest, loads the base (the RDB loader keeps the
 * keys it owns), then replays its own incr file, running each command
 * locally (the records name only keys it owns). A MULTI/EXEC block runs
 * once its EXEC is read; a block tagged "#TX:<seq>:<n>" (a part of a
 * transaction over n shards) runs only if every shard's file holds its part
 * whole: each shard first scans its file for the whole parts, then all meet
 * at a barrier and count. A file cut short (a crash in the middle of a
 * write) is truncated at its last whole record when aof-load-truncated is
 * yes; anything else malformed stops the start-up.
 */
#include "persist_internal.h"
#include "shardis/cmdtab.h"
#include "shardis/log.h"
#include "shardis/route.h"
#include "shardis/util.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

struct mfile {
    char name[256];
    uint64_t seq;
    char type;
    int shard; /* -1: no shard field (Redis wrote it) */
};

struct manifest {
    struct mfile *f;
    int n, cap;
    bool exists;
};

static void manifest_free(struct manifest *m)
{
    sh_free(m->f);
    memset(m, 0, sizeof(*m));
}

/* Reads dir/appenddirname/<appendfilename>.manifest. 0, or -1 with err. */
static int manifest_read(struct shard *sh, struct manifest *m, char *err, size_t errlen)
{
    char path[4096], line[1024];
    FILE *fp;
    int lineno = 0;

    memset(m, 0, sizeof(*m));
    snprintf(path, sizeof(path), "%s/%s.manifest", sh->cfg.appenddirname, sh->cfg.appendfilename);
    fp = fopen(path, "r");
    if (!fp) {
        if (errno == ENOENT) {
            return 0;
        }
        snprintf(err, errlen, "Fatal error: can't open the AOF manifest file %.900s: %s", path,
                 strerror(errno));
        return -1;
    }
    m->exists = true;
    while (fgets(line, sizeof(line), fp)) {
        char *tok[16], *save = NULL, *p;
        int nt = 0;
        struct mfile f = { .shard = -1 };

        lineno++;
        if (line[0] == '#' || line[0] == '\n' || line[0] == '\r') {
            continue;
        }
        for (p = strtok_r(line, " \t\r\n", &save); p && nt < 16;
             p = strtok_r(NULL, " \t\r\n", &save)) {
            tok[nt++] = p;
        }
        if (nt < 6 || nt % 2) {
            snprintf(err, errlen, "Invalid AOF manifest file format (%.900s, line %d)", path,
                     lineno);
            fclose(fp);
            manifest_free(m);
            return -1;
        }
        for (int i = 0; i + 1 < nt; i += 2) {
            if (strcmp(tok[i], "file") == 0) {
                snprintf(f.name, sizeof(f.name), "%s", tok[i + 1]);
            } else if (strcmp(tok[i], "seq") == 0) {
                f.seq = strtoull(tok[i + 1], NULL, 10);
            } else if (strcmp(tok[i], "type") == 0) {
                f.type = tok[i + 1][0];
            } else if (strcmp(tok[i], "shard") == 0) {
                f.shard = atoi(tok[i + 1]);
            }
        }
        if (!f.name[0] || strchr(f.name, '/') ||
            (f.type != 'b' && f.type != 'i' && f.type != 'h')) {
            snprintf(err, errlen, "Invalid AOF manifest file format (%.900s, line %d)", path,
                     lineno);
            fclose(fp);
            manifest_free(m);
            return -1;
        }
        if (m->n == m->cap) {
            m->cap = m->cap ? m->cap * 2 : 8;
            m->f = sh_realloc(m->f, sizeof(*m->f) * (size_t)m->cap);
        }
        m->f[m->n++] = f;
    }
    fclose(fp);
    return 0;
}

/* ---- the RESP records ---- */

enum { REC_CMD, REC_TAG, REC_END, REC_CUT, REC_BAD };

struct reader {
    const char *p;
    size_t len, pos;
    struct sh_slice *argv;
    int argc, cap;
    uint64_t tag_seq;
    int tag_n;
};

static bool read_line(struct reader *r, size_t *start, size_t *end)
{
    const char *nl = memchr(r->p + r->pos, '\n', r->len - r->pos);

    if (!nl) {
        return false;
    }
    *start = r->pos;
    *end = (size_t)(nl - r->p);
    r->pos = *end + 1;
    return true;
}

static bool parse_num(const char *p, size_t len, long long *v)
{
    if (len && p[len - 1] == '\r') {
        len--;
    }
    return util_str2ll(p, len, v);
}

/* The next record: a command (argv), a "#TX" tag, the end, a cut-short
 * tail, or something malformed. */
static int next_record(struct reader *r)
{
    size_t s, e;
    long long n;

    for (;;) {
        if (r->pos >= r->len) {
            return REC_END;
        }
        if (r->p[r->pos] != '#') {
            break;
        }
        if (!read_line(r, &s, &e)) {
            return REC_CUT;
        }
        if (e - s > 4 && memcmp(r->p + s, "#TX:", 4) == 0) {
            char tmp[64];
            size_t l = e - s < sizeof(tmp) - 1 ? e - s : sizeof(tmp) - 1;
            unsigned long long seq;
            int np;

            memcpy(tmp, r->p + s, l);
            tmp[l] = 0;
            if (sscanf(tmp, "#TX:%llu:%d", &seq, &np) != 2) {
                return REC_BAD;
            }
            r->tag_seq = seq;
            r->tag_n = np;
            return REC_TAG;
        }
        /* other annotations (Redis's #TS:) are skipped */
    }
    if (r->p[r->pos] != '*') {
        return REC_BAD;
    }
    if (!read_line(r, &s, &e)) {
        return REC_CUT;
    }
    if (!parse_num(r->p + s + 1, e - s - 1, &n) || n < 1 || n > 1024 * 1024) {
        return REC_BAD;
    }
    if (n > r->cap) {
        r->cap = (int)n;
        r->argv = sh_realloc(r->argv, sizeof(*r->argv) * (size_t)n);
    }
    r->argc = 0;
    for (long long i = 0; i < n; i++) {
        long long blen;

        if (r->pos >= r->len) {
            return REC_CUT;
        }
        if (r->p[r->pos] != '$') {
            return REC_BAD;
        }
        if (!read_line(r, &s, &e)) {
            return REC_CUT;
        }
        if (!parse_num(r->p + s + 1, e - s - 1, &blen) || blen < 0) {
            return REC_BAD;
        }
        if (r->len - r->pos < (size_t)blen + 2) {
            return REC_CUT;
        }
        r->argv[r->argc++] = (struct sh_slice){ r->p + r->pos, (size_t)blen };
        r->pos += (size_t)blen + 2;
    }
    return REC_CMD;
}

/* ---- one file ---- */

struct replay {
    struct shard *sh;
    const char *path;
    bool foreign; /* written by Redis: run what this shard owns */
    bool scan;    /* only collect the whole tagged parts */
    int dbid;
    struct rbuf out;
    /* a MULTI block being read: its commands wait for EXEC */
    bool in_multi, skip_block;
    size_t block_start;
    struct sh_slice *q;
    int *qargc;
    int nq, qcap, qargs, qargcap;
    struct sh_slice *qargv;
    /* the counted whole parts (after the barrier) */
    const struct aof_tx_seen *counts;
    size_t ncounts;
    unsigned long long cmds;
};

static int cmp_seen(const void *a, const void *b)
{
    const struct aof_tx_seen *x = a, *y = b;

    return x->seq < y->seq ? -1 : x->seq > y->seq;
}

/* How many shards hold seq's part whole. */
static int parts_whole(const struct replay *rp, uint64_t seq)
{
    size_t lo = 0, hi = rp->ncounts;

    while (lo < hi) {
        size_t mid = (lo + hi) / 2;

        if (rp->counts[mid].seq < seq) {
            lo = mid + 1;
        } else {
            hi = mid;
        }
    }
    return lo < rp->ncounts && rp->counts[lo].seq == seq ? rp->counts[lo].nparts : 0;
}

/* Whether this shard runs argv (a foreign file: only what it owns). */
static bool owns(struct shard *sh, const struct cmd_spec *cmd, int argc,
                 const struct sh_slice *argv, bool *cross)
{
    int pos[64], nk, owner = -1;

    *cross = false;
    nk = cmdtab_get_keys(cmd, argv, argc, 0, pos, 64);
    if (nk <= 0) {
        return true; /* FLUSHALL, SWAPDB ...: every shard */
    }
    for (int i = 0; i < nk && i < 64; i++) {
        uint64_t h;
        int o = shard_owner(sh->srv->nshards, argv[pos[i]].ptr, argv[pos[i]].len, &h);

        if (owner >= 0 && o != owner) {
            *cross = true;
            return false;
        }
        owner = o;
    }
    return owner == sh->id;
}

/* DEL, UNLINK or MSET over keys of several shards: this shard's share. */
static int run_owned_keys(struct replay *rp, const struct cmd_spec *cmd, int argc,
                          const struct sh_slice *argv)
{
    struct shard *sh = rp->sh;
    int step = strcmp(cmd->fullname, "mset") == 0 ? 2 : 1, n = 1;
    struct sh_slice *sub = sh_malloc(sizeof(*sub) * (size_t)argc);

    sub[0] = argv[0];
    for (int i = 1; i + step - 1 < argc; i += step) {
        uint64_t h;

        if (shard_owner(sh->srv->nshards, argv[i].ptr, argv[i].len, &h) == sh->id) {
            memcpy(sub + n, argv + i, sizeof(*sub) * (size_t)step);
            n += step;
        }
    }
    if (n > 1) {
        rp->out.len = 0;
        route_exec_into(sh, NULL, cmd, rp->dbid, n, sub, &rp->out, 2);
        rp->cmds++;
    }
    sh_free(sub);
    return 0;
}

static int run_one(struct replay *rp, int argc, const struct sh_slice *argv, char *err,
                   size_t errlen)
{
    struct shard *sh = rp->sh;
    const struct cmd_spec *cmd;
    bool cross;

    if (sh_slice_eq_nocase(argv[0], "select") && argc == 2) {
        long long db;

        if (!util_str2ll(argv[1].ptr, argv[1].len, &db) || db < 0 || db >= sh->cfg.databases) {
            snprintf(err, errlen, "Bad SELECT in the append only file %s", rp->path);
            return -1;
        }
        rp->dbid = (int)db;
        return 0;
    }
    cmd = cmdtab_lookup(argv[0].ptr, argv[0].len);
    if (cmd && cmd->nsubcmds && argc >= 2) {
        cmd = cmdtab_lookup_sub(cmd, argv[1].ptr, argv[1].len);
    }
    if (!cmd || !cmd->proc || (cmd->arity > 0 && argc != cmd->arity) ||
        (cmd->arity < 0 && argc < -cmd->arity)) {
        snprintf(err, errlen, "Unknown command '%.*s' reading the append only file %s",
                 (int)(argv[0].len > 64 ? 64 : argv[0].len), argv[0].ptr, rp->path);
        return -1;
    }
    if (rp->foreign && !owns(sh, cmd, argc, argv, &cross)) {
        if (cross && (strcmp(cmd->fullname, "del") == 0 || strcmp(cmd->fullname, "unlink") == 0 ||
                      strcmp(cmd->fullname, "mset") == 0)) {
            return run_owned_keys(rp, cmd, argc, argv);
        }
        if (cross) {
            snprintf(err, errlen,
                     "The append only file %s has a '%.*s' over keys of several shards: load it "
                     "with --shards 1, then BGREWRITEAOF",
                     rp->path, (int)(argv[0].len > 64 ? 64 : argv[0].len), argv[0].ptr);
            return -1;
        }
        return 0;
    }
    rp->out.len = 0;
    route_exec_into(sh, NULL, cmd, rp->dbid, argc, argv, &rp->out, 2);
    rp->cmds++;
    return 0;
}

static void queue_cmd(struct replay *rp, int argc, const struct sh_slice *argv)
{
    if (rp->nq == rp->qcap) {
        rp->qcap = rp->qcap ? rp->qcap * 2 : 16;
        rp->qargc = sh_realloc(rp->qargc, sizeof(int) * (size_t)rp->qcap);
    }
    if (rp->qargs + argc > rp->qargcap) {
        rp->qargcap = (rp->qargs + argc) * 2;
        rp->qargv = sh_realloc(rp->qargv, sizeof(*rp->qargv) * (size_t)rp->qargcap);
    }
    memcpy(rp->qargv + rp->qargs, argv, sizeof(*argv) * (size_t)argc);
    rp->qargs += argc;
    rp->qargc[rp->nq++] = argc;
}

/* Replays (or scans) one incr file. 0, or -1 with err. */
static int replay_file(struct replay *rp, char *err, size_t errlen)
{
    struct shard *sh = rp->sh;
    struct aof_global *ag = &persist_of(sh->srv)->aof;
    struct reader r = { 0 };
    struct stat st;
    void *map = NULL;
    size_t valid = 0;
    int fd, rc = 0, rec;
    uint64_t tag_seq = 0;
    int tag_n = 0;

    fd = open(rp->path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        if (errno == ENOENT) {
            return 0; /* named but never written to */
        }
        snprintf(err, errlen, "Can't open the append-only file %s: %s", rp->path, strerror(errno));
        return -1;
    }
    if (fstat(fd, &st) != 0) {
        snprintf(err, errlen, "Can't stat %s: %s", rp->path, strerror(errno));
        close(fd);
        return -1;
    }
    if (st.st_size > 0) {
        map = mmap(NULL, (size_t)st.st_size, PROT_READ, MAP_PRIVATE, fd, 0);
        if (map == MAP_FAILED) {
            snprintf(err, errlen, "Can't map %s: %s", rp->path, strerror(errno));
            close(fd);
            return -1;
        }
        madvise(map, (size_t)st.st_size, MADV_SEQUENTIAL);
    }
    close(fd);
    r.p = map;
    r.len = (size_t)st.st_size;
    rp->in_multi = false;
    rp->dbid = 0;
    while ((rec = next_record(&r)) == REC_CMD || rec == REC_TAG) {
        if (rec == REC_TAG) {
            if (rp->in_multi) {
                rec = REC_BAD;
                break;
            }
            tag_seq = r.tag_seq;
            tag_n = r.tag_n;
            rp->block_start = valid;
            continue;
        }
        if (sh_slice_eq_nocase(r.argv[0], "multi")) {
            if (rp->in_multi) {
                rec = REC_BAD;
                break;
            }
            rp->in_multi = true;
            rp->nq = rp->qargs = 0;
            if (!tag_seq) {
                rp->block_start = valid;
            }
            rp->skip_block = tag_seq && !rp->scan && parts_whole(rp, tag_seq) < tag_n;
            continue;
        }
        if (sh_slice_eq_nocase(r.argv[0], "exec")) {
            if (!rp->in_multi) {
                rec = REC_BAD;
                break;
            }
            rp->in_multi = false;
            if (rp->scan) {
                if (tag_seq) {
                    size_t *n = &ag->nseen[sh->id];

                    ag->seen[sh->id] = sh_realloc(ag->seen[sh->id], sizeof(**ag->seen) * (*n + 1));
                    ag->seen[sh->id][(*n)++] = (struct aof_tx_seen){ tag_seq, 1 };
                }
            } else if (!rp->skip_block) {
                size_t at = 0;

                for (int i = 0; i < rp->nq && rc == 0; i++) {
                    rc = run_one(rp, rp->qargc[i], rp->qargv + at, err, errlen);
                    at += (size_t)rp->qargc[i];
                }
            } else {
                sh_log(LOG_WARNING,
                       "AOF %s: transaction %llu left out: not every shard's part was logged",
                       rp->path, (unsigned long long)tag_seq);
            }
            tag_seq = 0;
            valid = r.pos;
            if (rc < 0) {
                break;
            }
            continue;
        }
        if (rp->in_multi) {
            queue_cmd(rp, r.argc, r.argv);
            continue;
        }
        if (tag_seq) {
            rec = REC_BAD; /* a tag is followed by its block */
            break;
        }
        if (!rp->scan) {
            /* the reader's argv is reused: a queued block copies slices only */
            rc = run_one(rp, r.argc, r.argv, err, errlen);
            if (rc < 0) {
                break;
            }
        }
        valid = r.pos;
    }
    if (rc == 0 && rec == REC_END && rp->in_multi) {
        rec = REC_CUT; /* a block without its EXEC: the crash came in it */
    }
    if (rc == 0 && rec == REC_END && tag_seq) {
        rec = REC_CUT;
    }
    if (rc == 0 && rec == REC_CUT && !rp->scan) {
        if (rp->in_multi || tag_seq) {
            valid = rp->block_start;
        }
        if (!sh->cfg.aof_load_truncated) {
            snprintf(
                    err, errlen,
                    "Unexpected end of file reading the append only file %s. You can: 1) Make a "
                    "backup of your AOF file, then use ./redis-check-aof --fix "
                    "<filename.manifest>. "
                    "2) Alternatively you can set the 'aof-load-truncated' configuration option to "
                    "yes and restart the server.",
                    rp->path);
            rc = -1;
        } else {
            sh_log(LOG_WARNING, "!!! Warning: short read while loading the AOF file %s!!!",
                   rp->path);
            sh_log(LOG_WARNING, "!!! Truncating the AOF %s at offset %zu !!!", rp->path, valid);
            if (!rp->foreign && truncate(rp->path, (off_t)valid) != 0) {
                snprintf(err, errlen, "Error truncating the AOF file %s: %s", rp->path,
                         strerror(errno));
                rc = -1;
            } else {
                sh_log(LOG_WARNING, "AOF loaded anyway because aof-load-truncated is enabled");
            }
        }
    } else if (rc == 0 && rec == REC_BAD && !rp->scan) {
        snprintf(err, errlen,
                 "Bad file format reading the append only file %s at offset %zu: make a backup of "
                 "your AOF file, then use ./redis-check-aof --fix <filename.manifest>",
                 rp->path, valid);
        rc = -1;
    }
    if (map) {
        munmap(map, (size_t)st.st_size);
    }
    sh_free(r.argv);
    return rc;
}

/* ---- start-up ---- */

/* Every shard's whole parts, counted (after the barrier). */
static struct aof_tx_seen *count_parts(struct shard *sh, size_t *n)
{
    struct aof_global *ag = &persist_of(sh->srv)->aof;
    size_t total = 0, k = 0, out = 0;
    struct aof_tx_seen *all;

    for (int s = 0; s < sh->srv->nshards; s++) {
        total += ag->nseen[s];
    }
    all = sh_malloc(sizeof(*all) * (total ? total : 1));
    for (int s = 0; s < sh->srv->nshards; s++) {
        if (ag->nseen[s]) {
            memcpy(all + k, ag->seen[s], sizeof(*all) * ag->nseen[s]);
            k += ag->nseen[s];
        }
    }
    qsort(all, total, sizeof(*all), cmp_seen);
    for (size_t i = 0; i < total; i++) {
        if (out && all[out - 1].seq == all[i].seq) {
            all[out - 1].nparts++;
        } else {
            all[out++] = all[i];
        }
    }
    *n = out;
    return all;
}

/* Checks the manifest against this server: one base at most, our incr files
 * name every shard once. Sets *gen (the generation our files are named
 * after). */
static int manifest_check(struct shard *sh, const struct manifest *m, uint64_t *gen, char *err,
                          size_t errlen)
{
    int n = sh->srv->nshards, ours = 0, bases = 0;
    uint64_t maxseq = 0, maxours = 0;

    for (int i = 0; i < m->n; i++) {
        const struct mfile *f = &m->f[i];

        maxseq = f->seq > maxseq ? f->seq : maxseq;
        if (f->type == 'b') {
            bases++;
        } else if (f->type == 'i' && f->shard >= 0) {
            ours++;
            maxours = f->seq > maxours ? f->seq : maxours;
            if (f->shard >= n) {
                snprintf(err, errlen,
                         "The AOF in %s was written by more shards than this server runs (%d): "
                         "start it with the shards that wrote it",
                         sh->cfg.appenddirname, n);
                return -1;
            }
        }
    }
    if (bases > 1) {
        snprintf(err, errlen, "Found more than one base AOF file in the manifest of %s",
                 sh->cfg.appenddirname);
        return -1;
    }
    /* our newest generation names every shard once (numbers g*n+s+1); a
     * fresh folder starts at 1, with an empty base (as Redis 7.0 does) */
    *gen = !m->exists ? 1 : ours ? (maxours - 1) / (uint64_t)n : maxseq;
    for (int i = 0; i < m->n; i++) {
        char path[4096];
        struct stat st;

        snprintf(path, sizeof(path), "%s/%s", sh->cfg.appenddirname, m->f[i].name);
        if (m->f[i].type != 'h' && stat(path, &st) != 0) {
            snprintf(err, errlen, "Unable to obtain the AOF file %.300s length. stat: %s",
                     m->f[i].name, strerror(errno));
            return -1;
        }
    }
    for (int s = 0; ours && s < n; s++) {
        bool found = false;

        for (int i = 0; i < m->n; i++) {
            found |= m->f[i].type == 'i' && m->f[i].shard == s &&
                     m->f[i].seq == aof_incr_seq(*gen, n, s);
        }
        if (!found) {
            snprintf(err, errlen,
                     "The AOF in %s was not written by %d shards: start the server with the "
                     "shards that wrote it",
                     sh->cfg.appenddirname, n);
            return -1;
        }
    }
    return 0;
}

int aof_load(struct shard *sh)
{
    struct persist *g = persist_of(sh->srv);
    struct aof_global *ag = &g->aof;
    struct aof_shard *a = aof_of(sh);
    struct manifest m = { 0 };
    struct replay rp = { .sh = sh };
    char err[1024] = "", path[4096];
    uint64_t gen = 0;
    int rc, n = sh->srv->nshards;
    int64_t t0 = sh_mono_us();

    a->loading = true;
    if (mkdir(sh->cfg.appenddirname, 0755) != 0 && errno != EEXIST) {
        snprintf(err, sizeof(err), "Can't create the append-only dir %s: %s", sh->cfg.appenddirname,
                 strerror(errno));
        rc = -1;
    } else {
        rc = manifest_read(sh, &m, err, sizeof(err));
    }
    if (rc == 0) {
        rc = manifest_check(sh, &m, &gen, err, sizeof(err));
    }
    /* the base */
    for (int i = 0; rc == 0 && i < m.n; i++) {
        if (m.f[i].type == 'b') {
            snprintf(path, sizeof(path), "%s/%s", sh->cfg.appenddirname, m.f[i].name);
            rc = persist_load_file(sh, path, err, sizeof(err));
        }
    }
    /* the scan of this shard's own files for whole transaction parts */
    for (int i = 0; rc == 0 && i < m.n; i++) {
        if (m.f[i].type == 'i' && m.f[i].shard == sh->id) {
            snprintf(path, sizeof(path), "%s/%s", sh->cfg.appenddirname, m.f[i].name);
            rp.path = path;
            rp.scan = true;
            rc = replay_file(&rp, err, sizeof(err));
        }
    }
    pthread_barrier_wait(&ag->barrier);
    rp.scan = false;
    if (rc == 0) {
        rp.counts = count_parts(sh, &rp.ncounts);
        if (sh->id == 0 && rp.ncounts &&
            (long)rp.counts[rp.ncounts - 1].seq >
                    mbox_counter_get((struct mbox_counter *)&sh->srv->txn_seq)) {
            /* this run's transactions are numbered after every logged one:
             * a tag names one transaction across restarts */
            mbox_counter_set((struct mbox_counter *)&sh->srv->txn_seq,
                             (long)rp.counts[rp.ncounts - 1].seq);
        }
    }
    for (int i = 0; rc == 0 && i < m.n; i++) {
        if (m.f[i].type == 'i' && (m.f[i].shard == sh->id || m.f[i].shard < 0)) {
            snprintf(path, sizeof(path), "%s/%s", sh->cfg.appenddirname, m.f[i].name);
            rp.path = path;
            rp.foreign = m.f[i].shard < 0;
            rc = replay_file(&rp, err, sizeof(err));
        }
    }
    sh_free((void *)rp.counts);
    sh_free(rp.q);
    sh_free(rp.qargc);
    sh_free(rp.qargv);
    rbuf_fini(&rp.out);
    if (rc == 0 && sh->id == 0) {
        /* the server-wide state is shard 0's to write (before it is ready:
         * the others read it only after) */
        bool ours = false;

        ag->base = gen;
        for (int i = 0; i < m.n; i++) {
            const struct mfile *f = &m.f[i];

            ours |= f->type == 'i' && f->shard >= 0;
            if (f->type == 'b') {
                struct stat st;

                snprintf(path, sizeof(path), "%s/%s", sh->cfg.appenddirname, f->name);
                mbox_counter_set(&ag->base_size, stat(path, &st) == 0 ? (long)st.st_size : 0);
                snprintf(ag->base_file, sizeof(ag->base_file), "%s", f->name);
                ag->base_seq = f->seq;
            } else if (f->type == 'i' &&
                       (f->shard < 0 || f->seq != aof_incr_seq(gen, n, f->shard))) {
                /* Redis's, or ours of a rewrite that failed: loaded before
                 * the current ones until the next rewrite */
                ag->extra = sh_realloc(ag->extra, sizeof(*ag->extra) * (size_t)(ag->nextra + 1));
                snprintf(ag->extra[ag->nextra].name, sizeof(ag->extra->name), "%s", f->name);
                ag->extra[ag->nextra].shard = f->shard;
                ag->extra[ag->nextra++].seq = f->seq;
            }
        }
        if (!m.exists) {
            aof_base_name(sh, gen, path, sizeof(path));
            rc = persist_write_empty(sh, path, true);
            snprintf(ag->base_file, sizeof(ag->base_file), "%s", strrchr(path, '/') + 1);
            ag->base_seq = gen;
            if (rc < 0) {
                snprintf(err, sizeof(err), "Can't write the AOF base %.900s: %s", path,
                         strerror(-rc));
            }
        }
        if (rc == 0 && !ours) {
            /* a fresh folder, or Redis's: the manifest names our files now,
             * after Redis's (which load first) */
            rc = aof_write_manifest(sh, gen, n);
        }
    }
    if (rc == 0) {
        rc = aof_open_incr(sh, aof_incr_seq(gen, n, sh->id));
        if (rc < 0) {
            snprintf(err, sizeof(err), "Can't open the append-only files in %s",
                     sh->cfg.appenddirname);
        }
    }
    manifest_free(&m);
    a->loading = false;
    if (rc < 0) {
        sh_log(LOG_WARNING, "%s. Exiting.", err);
        return -1;
    }
    sh->prop_on = true;
    if (sh->id == 0) {
        sh_log(LOG_NOTICE,
               "DB loaded from append only file: %.3f seconds (this shard, %llu commands)",
               (double)(sh_mono_us() - t0) / 1e6, rp.cmds);
    }
    return 0;
}
