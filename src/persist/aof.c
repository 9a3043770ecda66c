/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * aof.c: append-only files, one per shard (see aof.h).
 *
 * What a shard logs is what changed its own keys, in Redis's command form:
 * a write command as the client sent it, unless it depends on the moment or
 * on chance (relative TTLs gain an absolute PEXPIREAT, SPOP becomes SREM of
 * what it popped, XADD * the id it chose); an internal part of a command
 * that spans shards, as the state of the keys it wrote (RESTORE ... ABSTTL
 * REPLACE, or DEL); a key that expired, as DEL. The records of one loop
 * iteration are written (and with appendfsync always, fdatasync'ed) before
 * any reply or mailbox message of that iteration leaves the core: one write
 * and one fsync per iteration for every client served in it (group commit).
 *
 * Transactions: an EXEC or script run in place is one MULTI/EXEC block; a
 * transaction over several shards logs, on each, "#TX:<seq>:<n>" and its
 * part as a MULTI/EXEC block when it concludes there, and the client hears
 * back only once every part is logged (route.c holds the reply). Loading
 * applies such a transaction only if all n parts are whole (aofload.c).
 */
#include "shardis/aof.h"

#include "persist_internal.h"
#include "shardis/cmdtab.h"
#include "shardis/conn.h"
#include "shardis/kdb.h"
#include "shardis/log.h"
#include "shardis/rdb.h"
#include "shardis/util.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

void (*aof_tap)(struct shard *sh, const char *p, size_t n);

struct aof_shard *aof_of(struct shard *sh)
{
    return sh->aof;
}

bool aof_logging(struct shard *sh)
{
    return sh->aof && aof_of(sh)->fd >= 0;
}

void aof_tap_on(struct shard *sh)
{
    if (!sh->aof) {
        aof_shard_init(sh);
    }
    aof_of(sh)->tap = true;
    aof_of(sh)->buf_db = -1; /* the next record selects its database */
    sh->prop_on = true;
}

void aof_put_raw(struct shard *sh, const char *p, size_t n)
{
    rbuf_append(&aof_of(sh)->buf, p, n);
}

/* ---- records ---- */

static void put_ll(struct rbuf *b, char c, long long v)
{
    char tmp[32];
    size_t n;

    tmp[0] = c; /* per argument of every logged command: no snprintf */
    n = 1 + util_ll2str(tmp + 1, v);
    tmp[n++] = '\r';
    tmp[n++] = '\n';
    rbuf_append(b, tmp, n);
}

static void put_arg(struct rbuf *b, const void *p, size_t len)
{
    put_ll(b, '$', (long long)len);
    rbuf_append(b, p, len);
    rbuf_append(b, "\r\n", 2);
}

void aof_put_cmd(struct rbuf *b, int argc, const struct sh_slice *argv)
{
    put_ll(b, '*', argc);
    for (int i = 0; i < argc; i++) {
        put_arg(b, argv[i].ptr, argv[i].len);
    }
}

/* Where the next record goes: the main stream, or a transaction's part. */
struct dest {
    struct rbuf *b;
    int *db;
    int *ncmds;
};

static struct aof_txn *txn_part(struct aof_shard *a, uint64_t seq, bool make)
{
    struct aof_txn *t = a->txns;

    while (t && t->seq != seq) {
        t = t->next;
    }
    if (!t && make) {
        t = sh_calloc(1, sizeof(*t));
        t->seq = seq;
        t->db = -1;
        rbuf_init(&t->buf);
        t->next = a->txns;
        a->txns = t;
    }
    return t;
}

static struct dest dest_of(struct shard *sh, struct aof_shard *a)
{
    if (sh->prop_seq) {
        struct aof_txn *t = txn_part(a, sh->prop_seq, true);

        return (struct dest){ &t->buf, &t->db, &t->ncmds };
    }
    return (struct dest){ &a->buf, &a->buf_db, &a->nmain };
}

static void select_db(struct dest d, int dbid)
{
    if (*d.db != dbid) {
        char num[16];
        int n = snprintf(num, sizeof(num), "%d", dbid);
        struct sh_slice argv[2] = { { "SELECT", 6 }, { num, (size_t)n } };

        aof_put_cmd(d.b, 2, argv);
        *d.db = dbid;
    }
}

static void emit(struct dest d, int dbid, int argc, const struct sh_slice *argv)
{
    select_db(d, dbid);
    aof_put_cmd(d.b, argc, argv);
    (*d.ncmds)++;
}

/* The key's state now: RESTORE key <abs ms | 0> payload REPLACE [ABSTTL],
 * or DEL when it is gone. */
static void emit_key_state(struct shard *sh, struct dest d, int dbid, struct sh_slice key)
{
    struct kdb *db = shard_db(sh, dbid);
    struct kentry *e = kdb_peek(db, key.ptr, key.len, kdict_hash(key.ptr, key.len), sh->now_ms);

    if (!e) {
        struct sh_slice argv[2] = { { "DEL", 3 }, key };

        emit(d, dbid, 2, argv);
        return;
    }
    size_t plen;
    char *payload = rdb_dump(&e->val, &plen);
    char ttl[24];
    int64_t expire = kdb_expire_of(db, e);
    int n = snprintf(ttl, sizeof(ttl), "%lld", (long long)(expire >= 0 ? expire : 0));
    struct sh_slice argv[6] = { { "RESTORE", 7 },   key,
                                { ttl, (size_t)n }, { payload, plen },
                                { "REPLACE", 7 },   { "ABSTTL", 6 } };

    emit(d, dbid, expire >= 0 ? 6 : 5, argv);
    sh_free(payload);
}

/* After a command that may have set a relative TTL: the absolute one. */
static void emit_abs_ttl(struct shard *sh, struct dest d, int dbid, struct sh_slice key)
{
    struct kdb *db = shard_db(sh, dbid);
    struct kentry *e = kdb_peek(db, key.ptr, key.len, kdict_hash(key.ptr, key.len), sh->now_ms);

    if (e && kentry_has_ttl(e)) {
        char at[24];
        int n = snprintf(at, sizeof(at), "%lld", (long long)kdb_expire_of(db, e));
        struct sh_slice argv[3] = { { "PEXPIREAT", 9 }, key, { at, (size_t)n } };

        emit(d, dbid, 3, argv);
    }
}

/* A reply's bulk strings (a bulk, or an array of bulks) as arguments after
 * prefix[0..np): SPOP's members become SREM's. */
static void emit_from_reply(struct dest d, int dbid, const struct sh_slice *prefix, int np,
                            const char *reply, size_t len)
{
    size_t pos = 0;
    long long n = 1;
    struct sh_slice *argv;
    int argc = np;

    if (len == 0 || (reply[0] != '*' && reply[0] != '$' && reply[0] != '~')) {
        return;
    }
    if (reply[0] != '$') {
        n = strtoll(reply + 1, NULL, 10);
        while (pos < len && reply[pos] != '\n') {
            pos++;
        }
        pos++;
    }
    if (n <= 0) {
        return;
    }
    argv = sh_malloc(sizeof(*argv) * (size_t)(np + n));
    memcpy(argv, prefix, sizeof(*argv) * (size_t)np);
    for (long long i = 0; i < n && pos < len && reply[pos] == '$'; i++) {
        long long blen = strtoll(reply + pos + 1, NULL, 10);

        while (pos < len && reply[pos] != '\n') {
            pos++;
        }
        pos++;
        if (blen < 0 || pos + (size_t)blen > len) {
            break;
        }
        argv[argc++] = (struct sh_slice){ reply + pos, (size_t)blen };
        pos += (size_t)blen + 2;
    }
    if (argc > np) {
        emit(d, dbid, argc, argv);
    }
    sh_free(argv);
}

/* XADD's id argument: after the key, NOMKSTREAM and MAXLEN|MINID [=|~]
 * threshold [LIMIT count]. */
/* A command that may set a TTL: as sent, then the absolute TTL; a TTL
 * already past deleted the key: DEL (as Redis propagates it; a replica
 * never expires keys itself, so the command would leave it there). */
static void emit_with_ttl(struct shard *sh, struct dest d, int dbid, int argc,
                          const struct sh_slice *argv)
{
    struct sh_slice key = argv[1];

    if (!kdb_peek(shard_db(sh, dbid), key.ptr, key.len, kdict_hash(key.ptr, key.len), sh->now_ms)) {
        struct sh_slice del[2] = { { "DEL", 3 }, key };

        emit(d, dbid, 2, del);
        return;
    }
    emit(d, dbid, argc, argv);
    emit_abs_ttl(sh, d, dbid, key);
}

static int xadd_id_index(int argc, const struct sh_slice *argv)
{
    int i = 2;

    while (i < argc) {
        if (sh_slice_eq_nocase(argv[i], "nomkstream")) {
            i++;
        } else if (sh_slice_eq_nocase(argv[i], "maxlen") || sh_slice_eq_nocase(argv[i], "minid")) {
            i++;
            if (i < argc && argv[i].len == 1 && (argv[i].ptr[0] == '=' || argv[i].ptr[0] == '~')) {
                i++;
            }
            i++;
            if (i < argc && sh_slice_eq_nocase(argv[i], "limit")) {
                i += 2;
            }
        } else {
            return i;
        }
    }
    return -1;
}

/* The arguments without "BLOCK <ms>" (a command replayed must not wait). */
static int strip_block(int argc, const struct sh_slice *argv, struct sh_slice *out)
{
    int n = 0;

    for (int i = 0; i < argc; i++) {
        if (i > 0 && i + 1 < argc && sh_slice_eq_nocase(argv[i], "block")) {
            i++;
            continue;
        }
        if (i > 0 && sh_slice_eq_nocase(argv[i], "streams")) {
            memcpy(out + n, argv + i, sizeof(*out) * (size_t)(argc - i));
            return n + argc - i;
        }
        out[n++] = argv[i];
    }
    return n;
}

/* Internal parts: which of their arguments are keys they wrote. */
static int internal_keys(const struct cmd_spec *cmd, int argc, const struct sh_slice *argv,
                         int *idx)
{
    static const char *const at1[] = { "__bpush",    "__zstore", "__restore",   "__delete",
                                       "__lpush",    "__sstore", "__sortstore", "__pfstore",
                                       "__geostore", "__bstore" };
    const char *name = cmd->name;

    (void)argv;
    if (strncmp(name, "__", 2) != 0) {
        return 0;
    }
    for (size_t i = 0; i < sizeof(at1) / sizeof(at1[0]); i++) {
        if (strcmp(name, at1[i]) == 0) {
            idx[0] = 1;
            return argc > 1;
        }
    }
    if (strcmp(name, "__bpushback") == 0 && argc > 2) {
        idx[0] = 2;
        return 1;
    }
    if (strcmp(name, "__bpop") == 0 && argc > 4) {
        idx[0] = 4;
        idx[1] = 7;
        return argc == 9 ? 2 : 1;
    }
    return 0;
}

static void prop(struct shard *sh, const struct cmd_spec *cmd, int dbid, int argc,
                 const struct sh_slice *argv, const char *reply, size_t len)
{
    struct aof_shard *a = sh->aof;
    struct dest d;
    const char *n = cmd->fullname;

    if (!a || (len && reply[0] == '-')) {
        return; /* an error changed nothing */
    }
    if (!(cmd->flags & CMD_WRITE) && cmd->id != 0) {
        /* may-replicate: PUBLISH and SPUBLISH reach replicas' subscribers
         * (as Redis; replaying one from the AOF reaches nobody); a script's
         * effects are its commands, logged as they run */
        if (!a->tap || (strcmp(n, "publish") != 0 && strcmp(n, "spublish") != 0)) {
            return;
        }
    }
    d = dest_of(sh, a);
    if (cmd->id == 0) {
        int idx[2], nk = internal_keys(cmd, argc, argv, idx);

        if (strcmp(cmd->name, "__xclaim") == 0 && argc > 5 &&
            sh_slice_eq_nocase(argv[4], "xreadgroup")) {
            /* a blocked XREADGROUP served: the same read, not waiting */
            struct sh_slice *v = sh_malloc(sizeof(*v) * (size_t)argc);
            int k = strip_block(argc - 4, argv + 4, v);

            emit(d, dbid, k, v);
            sh_free(v);
            return;
        }
        for (int i = 0; i < nk; i++) {
            emit_key_state(sh, d, dbid, argv[idx[i]]);
        }
        return;
    }
    switch (n[0]) {
    case 's':
        if (strcmp(n, "sort") == 0) {
            /* SORT ... STORE run here: the destination's state (a replay
             * of SORT with BY or GET patterns would need other cores) */
            for (int i = 2; i + 1 < argc;) {
                if (sh_slice_eq_nocase(argv[i], "store")) {
                    emit_key_state(sh, d, dbid, argv[i + 1]);
                    return;
                }
                i += sh_slice_eq_nocase(argv[i], "limit")                                      ? 3
                     : sh_slice_eq_nocase(argv[i], "by") || sh_slice_eq_nocase(argv[i], "get") ? 2
                                                                                               : 1;
            }
            return;
        }
        if (strcmp(n, "spop") == 0) {
            struct sh_slice pre[2] = { { "SREM", 4 }, argv[1] };

            emit_from_reply(d, dbid, pre, 2, reply, len);
            return;
        }
        if (strcmp(n, "set") == 0 || strcmp(n, "setex") == 0 || strcmp(n, "psetex") == 0) {
            emit_with_ttl(sh, d, dbid, argc, argv);
            return;
        }
        break;
    case 'e':
    case 'p':
    case 'g':
    case 'r':
        if (strcmp(n, "expire") == 0 || strcmp(n, "pexpire") == 0 || strcmp(n, "getex") == 0 ||
            strcmp(n, "expireat") == 0 || strcmp(n, "pexpireat") == 0 ||
            strcmp(n, "restore") == 0 || strcmp(n, "restore-asking") == 0) {
            emit_with_ttl(sh, d, dbid, argc, argv);
            return;
        }
        break;
    case 'x':
        if (strcmp(n, "xadd") == 0) {
            int i = xadd_id_index(argc, argv);

            if (i > 0 && len > 1 && reply[0] == '$') {
                struct sh_slice *v = sh_malloc(sizeof(*v) * (size_t)argc);
                const char *id = memchr(reply, '\n', len);

                memcpy(v, argv, sizeof(*v) * (size_t)argc);
                if (id && (size_t)(id + 1 - reply) < len) {
                    long long idlen = strtoll(reply + 1, NULL, 10);

                    v[i] = (struct sh_slice){ id + 1, (size_t)idlen };
                }
                emit(d, dbid, argc, v);
                sh_free(v);
            } else if (len && reply[0] != '_' && !(len > 1 && reply[1] == '-')) {
                emit(d, dbid, argc, argv);
            }
            return;
        }
        if (strcmp(n, "xclaim") == 0 || strcmp(n, "xautoclaim") == 0) {
            emit_key_state(sh, d, dbid, argv[1]); /* idle times are the moment's */
            return;
        }
        if (strcmp(n, "xreadgroup") == 0) {
            struct sh_slice *v = sh_malloc(sizeof(*v) * (size_t)argc);
            int k = strip_block(argc, argv, v);

            emit(d, dbid, k, v);
            sh_free(v);
            return;
        }
        break;
    case 'm':
        if (strcmp(n, "migrate") == 0) {
            return; /* its DELs run (and are logged) on the keys' owners */
        }
        break;
    default:
        break;
    }
    emit(d, dbid, argc, argv);
}

static void prop_key(struct shard *sh, int dbid, const char *key, size_t klen)
{
    struct aof_shard *a = sh->aof;

    if (a && !a->loading) {
        emit_key_state(sh, dest_of(sh, a), dbid, (struct sh_slice){ key, klen });
    }
}

static void prop_expired(struct shard *sh, int dbid, const char *key, size_t klen)
{
    struct aof_shard *a = sh->aof;
    struct sh_slice argv[2] = { { "DEL", 3 }, { key, klen } };

    if (a && !a->loading) {
        emit((struct dest){ &a->buf, &a->buf_db, &a->nmain }, dbid, 2, argv);
    }
}

static void prop_txn_end(struct shard *sh, uint64_t seq, int nparts)
{
    struct aof_shard *a = sh->aof;
    struct aof_txn *t, **pp;
    static const struct sh_slice multi[1] = { { "MULTI", 5 } }, exec[1] = { { "EXEC", 4 } };

    if (!a) {
        return;
    }
    for (pp = &a->txns; *pp && (*pp)->seq != seq; pp = &(*pp)->next) {
    }
    t = *pp;
    if (nparts >= 2 && seq != SHARD_PROP_LOCAL) {
        char tag[64];
        int n = snprintf(tag, sizeof(tag), "#TX:%llu:%d\r\n", (unsigned long long)seq, nparts);

        rbuf_append(&a->buf, tag, (size_t)n);
        aof_put_cmd(&a->buf, 1, multi);
        if (t && t->ncmds) {
            rbuf_append(&a->buf, t->buf.data, t->buf.len);
            a->buf_db = t->db;
        }
        aof_put_cmd(&a->buf, 1, exec);
        a->nmain++;
    } else if (t && t->ncmds) {
        bool wrap = t->ncmds > 1;

        if (wrap) {
            aof_put_cmd(&a->buf, 1, multi);
        }
        rbuf_append(&a->buf, t->buf.data, t->buf.len);
        a->buf_db = t->db;
        if (wrap) {
            aof_put_cmd(&a->buf, 1, exec);
        }
        a->nmain++;
    }
    if (t) {
        *pp = t->next;
        rbuf_fini(&t->buf);
        sh_free(t);
    }
}

/* ---- the file ---- */

static void on_fsynced(struct shard *sh, struct shard_io *io, int res)
{
    struct aof_shard *a = sh->aof;

    (void)io;
    a->fsync_inflight = false;
    if (res < 0) {
        a->err = -res;
        sh_log(LOG_WARNING, "Can't persist append only file (fsync): %s", strerror(-res));
    }
}

/* An asynchronous fsync through the ring (everysec). */
static void fsync_async(struct shard *sh, struct aof_shard *a)
{
    struct io_uring_sqe *sqe = shard_get_sqe(sh);

    io_uring_prep_fsync(sqe, a->fd, IORING_FSYNC_DATASYNC);
    io_uring_sqe_set_data64(sqe, shard_io_data(&a->fsync_io));
    a->fsync_inflight = true;
    a->unsynced = false;
    a->last_fsync_ms = sh->now_ms;
}

static int write_fully(int fd, const char *p, size_t n)
{
    while (n > 0) {
        ssize_t w = write(fd, p, n);

        if (w < 0) {
            if (errno == EINTR) {
                continue;
            }
            return -errno;
        }
        p += w;
        n -= (size_t)w;
    }
    return 0;
}

static void prop_flush(struct shard *sh)
{
    struct aof_shard *a = sh->aof;
    char mode;
    int rc;

    if (!a || a->buf.len == 0) {
        return;
    }
    if (a->tap) {
        aof_tap(sh, a->buf.data, a->buf.len); /* replication's stream (repl.h) */
    }
    if (a->fd < 0) {
        a->buf.len = 0; /* no file (logging stopped, or only replication's tap) */
        a->nmain = 0;
        return;
    }
    mode = sh->cfg.appendfsync[0];
    if (sh->cfg.aof_timestamp_enabled && sh->now_ms / 1000 != a->last_ts) {
        /* Redis's annotation: the second the next records were written in
         * (loading skips '#' lines) */
        char ts[32];
        int n = snprintf(ts, sizeof(ts), "#TS:%lld\r\n", (long long)(sh->now_ms / 1000));

        if (write_fully(a->fd, ts, (size_t)n) == 0) {
            a->size += n;
            a->last_ts = sh->now_ms / 1000;
        }
    }
    rc = write_fully(a->fd, a->buf.data, a->buf.len);
    if (rc < 0) {
        if (a->err != -rc) {
            sh_log(LOG_WARNING, "Error writing to the AOF file: %s", strerror(-rc));
        }
        a->err = -rc;
        /* the records stay: written on the next iteration that can */
        return;
    }
    a->size += (long long)a->buf.len;
    /* for INFO and shard 0's automatic rewrite, which add every shard's */
    mbox_counter_set(&persist_of(sh->srv)->aof.incr_size[sh->id], (long)a->size);
    a->buf.len = 0;
    a->nmain = 0;
    if (a->buf.cap > (1u << 20)) {
        rbuf_fini(&a->buf);
    }
    a->err = 0;
    if (mode == 'a') {
        /* group commit: everything this iteration answers is on disk first */
        if (fdatasync(a->fd) != 0) {
            a->err = errno;
            sh_log(LOG_WARNING, "Can't persist append only file (fdatasync): %s", strerror(errno));
        }
        a->last_fsync_ms = sh->now_ms;
    } else {
        a->unsynced = true;
    }
}

/* Shard cron: everysec's fsync, through the ring. */
void aof_cron(struct shard *sh)
{
    struct aof_shard *a = sh->aof;

    if (a && a->fd >= 0 && a->unsynced && !a->fsync_inflight && sh->cfg.appendfsync[0] == 'e' &&
        sh->now_ms - a->last_fsync_ms >= 1000) {
        fsync_async(sh, a);
    }
}

/* ---- files and the manifest ---- */

void aof_incr_name(const struct shard *sh, uint64_t seq, char *out, size_t len)
{
    snprintf(out, len, "%s/%s.%llu.incr.aof", sh->cfg.appenddirname, sh->cfg.appendfilename,
             (unsigned long long)seq);
}

void aof_base_name(const struct shard *sh, uint64_t seq, char *out, size_t len)
{
    snprintf(out, len, "%s/%s.%llu.base.rdb", sh->cfg.appenddirname, sh->cfg.appendfilename,
             (unsigned long long)seq);
}

uint64_t aof_incr_seq(uint64_t base, int nshards, int shard)
{
    return base * (uint64_t)nshards + (uint64_t)shard + 1;
}

/* Opens this shard's incr file seq (appending: a restart goes on with it). */
int aof_open_incr(struct shard *sh, uint64_t seq)
{
    struct aof_shard *a = sh->aof;
    char path[4096];
    struct stat st;
    int fd;

    aof_incr_name(sh, seq, path, sizeof(path));
    fd = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
    if (fd < 0) {
        int e = errno;

        sh_log(LOG_WARNING, "Can't open the append-only file %s: %s", path, strerror(e));
        return -e;
    }
    if (a->fd >= 0) {
        /* what the old file has is whole before the new one starts */
        (void)write_fully(a->fd, a->buf.data, a->buf.len);
        a->size += (long long)a->buf.len;
        a->buf.len = 0;
        (void)fdatasync(a->fd);
        close(a->fd);
    }
    a->fd = fd;
    a->incr_seq = seq;
    a->buf_db = -1;
    a->size = fstat(fd, &st) == 0 ? (long long)st.st_size : 0;
    mbox_counter_set(&persist_of(sh->srv)->aof.incr_size[sh->id], (long)a->size);
    a->unsynced = false;
    return 0;
}

/* Writes the manifest (temp file, fsync, rename, fsync of the folder).
 * base 0: none. 0 or -errno. */
int aof_write_manifest(const struct shard *sh, uint64_t base, int nshards)
{
    const struct aof_global *ag = &persist_of(sh->srv)->aof;
    char tmp[4096], path[4096], line[600];
    struct rbuf b;
    int fd, rc = 0;

    rbuf_init(&b);
    if (ag->base_file[0]) {
        int n = snprintf(line, sizeof(line), "file %s seq %llu type b\n", ag->base_file,
                         (unsigned long long)ag->base_seq);

        rbuf_append(&b, line, (size_t)n);
    }
    for (int i = 0; i < ag->nextra; i++) {
        int n = ag->extra[i].shard < 0
                        ? snprintf(line, sizeof(line), "file %s seq %llu type i\n",
                                   ag->extra[i].name, (unsigned long long)ag->extra[i].seq)
                        : snprintf(line, sizeof(line), "file %s seq %llu type i shard %d\n",
                                   ag->extra[i].name, (unsigned long long)ag->extra[i].seq,
                                   ag->extra[i].shard);

        rbuf_append(&b, line, (size_t)n);
    }
    for (int s = 0; s < nshards; s++) {
        uint64_t seq = aof_incr_seq(base, nshards, s);
        int n;

        /* every file it names exists before the manifest does */
        aof_incr_name(sh, seq, path, sizeof(path));
        fd = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
        if (fd >= 0) {
            close(fd);
        }
        n = snprintf(line, sizeof(line), "file %s.%llu.incr.aof seq %llu type i shard %d\n",
                     sh->cfg.appendfilename, (unsigned long long)seq, (unsigned long long)seq, s);

        rbuf_append(&b, line, (size_t)n);
    }
    snprintf(tmp, sizeof(tmp), "%s/temp-%s.manifest", sh->cfg.appenddirname,
             sh->cfg.appendfilename);
    snprintf(path, sizeof(path), "%s/%s.manifest", sh->cfg.appenddirname, sh->cfg.appendfilename);
    fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0) {
        rc = -errno;
    } else {
        rc = write_fully(fd, b.data, b.len);
        if (rc == 0 && fsync(fd) != 0) {
            rc = -errno;
        }
        close(fd);
        if (rc == 0 && rename(tmp, path) != 0) {
            rc = -errno;
        }
    }
    rbuf_fini(&b);
    if (rc == 0) {
        int dfd = open(sh->cfg.appenddirname, O_RDONLY | O_DIRECTORY | O_CLOEXEC);

        if (dfd >= 0) {
            (void)fsync(dfd);
            close(dfd);
        }
    } else {
        sh_log(LOG_WARNING, "Can't write the AOF manifest %s: %s", path, strerror(-rc));
    }
    return rc;
}

/* ---- rewrite (BGREWRITEAOF): a snapshot into a new base ---- */

int aof_rewrite_start(struct shard *sh, char *err, size_t errlen)
{
    struct persist *g = persist_of(sh->srv);
    struct aof_global *ag = &g->aof;
    char base[4096];

    if (mbox_counter_get(&ag->rewriting)) {
        snprintf(err, errlen, "ERR Background append only file rewriting already in progress");
        return -1;
    }
    if (persist_snap_running(sh->srv)) {
        mbox_counter_set(&ag->scheduled, 1);
        return 1;
    }
    aof_base_name(sh, ag->base + 1, base, sizeof(base));
    if (persist_snap_prepare_to(sh, base, true, err, errlen) < 0) {
        return -1;
    }
    mbox_counter_set(&ag->scheduled, 0);
    mbox_counter_set(&ag->rewriting, 1);
    ag->rewrite_start_ms = sh->now_ms;
    sh_log(LOG_NOTICE, "Background append only file rewriting started");
    return 0;
}

/* The rewrite's snapshot starts on this shard now: the log goes on in the
 * next generation's incr file, from this same point. */
void aof_on_snap_begin(struct shard *sh)
{
    struct aof_global *ag = &persist_of(sh->srv)->aof;

    if (!sh->aof) {
        aof_shard_init(sh); /* CONFIG SET appendonly yes: the log starts here */
    }
    if (aof_open_incr(sh, aof_incr_seq(ag->base + 1, sh->srv->nshards, sh->id)) != 0) {
        aof_of(sh)->err = EIO; /* logged; the old file (if any) goes on */
        return;
    }
    sh->prop_on = true;
}

/* CONFIG SET appendonly on this shard. Off: the log is written out and
 * closed now. On: started by shard 0's part, as a rewrite whose snapshot
 * begin opens every shard's log at one point. */
void aof_set_enabled(struct shard *sh, bool on)
{
    struct aof_shard *a = sh->aof;
    static const struct sh_slice argv[] = { { "BGREWRITEAOF", 12 } };

    if (!on) {
        if (a && a->fd >= 0) {
            prop_flush(sh);
            (void)fdatasync(a->fd);
            close(a->fd);
            a->fd = -1;
        }
        sh->prop_on = a && a->tap; /* replication's tap goes on */
        return;
    }
    if ((sh->prop_on && a && a->fd >= 0) || sh->id != 0) {
        return;
    }
    if (mkdir(sh->cfg.appenddirname, 0755) != 0 && errno != EEXIST) {
        sh_log(LOG_WARNING, "Can't create the append-only dir %s: %s", sh->cfg.appenddirname,
               strerror(errno));
        return;
    }
    conn_run_internal(sh, 1, argv);
}

/* On the origin, the rewrite's snapshot ended: the new manifest, then the
 * old generation's files go. */
void aof_on_rewrite_end(struct shard *sh, bool ok)
{
    struct aof_global *ag = &persist_of(sh->srv)->aof;
    uint64_t old = ag->base;
    int n = sh->srv->nshards;
    char path[4096], old_base[256];
    struct aof_extra *extra = ag->extra;
    int nextra = ag->nextra;

    snprintf(old_base, sizeof(old_base), "%s", ag->base_file);
    if (ok) {
        /* the manifest names the new generation only */
        snprintf(ag->base_file, sizeof(ag->base_file), "%s.%llu.base.rdb", sh->cfg.appendfilename,
                 (unsigned long long)(old + 1));
        ag->base_seq = old + 1;
        ag->extra = NULL;
        ag->nextra = 0;
        if (aof_write_manifest(sh, old + 1, n) != 0) {
            snprintf(ag->base_file, sizeof(ag->base_file), "%s", old_base);
            ag->base_seq = old;
            ag->extra = extra;
            ag->nextra = nextra;
            extra = NULL;
            ok = false;
        }
    }
    if (ok) {
        if (old_base[0]) {
            snprintf(path, sizeof(path), "%s/%s", sh->cfg.appenddirname, old_base);
            unlink(path);
        }
        for (int i = 0; i < nextra; i++) {
            snprintf(path, sizeof(path), "%s/%s", sh->cfg.appenddirname, extra[i].name);
            unlink(path);
        }
        sh_free(extra);
        for (int s = 0; s < n; s++) {
            aof_incr_name(sh, aof_incr_seq(old, n, s), path, sizeof(path));
            unlink(path);
        }
        ag->base = old + 1;
        {
            struct stat st;

            aof_base_name(sh, ag->base, path, sizeof(path));
            mbox_counter_set(&ag->base_size, stat(path, &st) == 0 ? (long)st.st_size : 0);
        }
        mbox_counter_add(&ag->rewrites, 1);
        sh_log(LOG_NOTICE, "Background AOF rewrite finished successfully");
    } else {
        /* the shards write the next generation's incr files already: the
         * manifest names them after the old ones, which stay until a
         * rewrite works */
        ag->extra = extra ? extra : ag->extra;
        for (int s = 0; s < n; s++) {
            struct aof_extra *x;

            ag->extra = sh_realloc(ag->extra, sizeof(*ag->extra) * (size_t)(ag->nextra + 1));
            x = &ag->extra[ag->nextra++];
            aof_incr_name(sh, aof_incr_seq(old, n, s), path, sizeof(path));
            snprintf(x->name, sizeof(x->name), "%s", strrchr(path, '/') + 1);
            x->seq = aof_incr_seq(old, n, s);
            x->shard = s;
        }
        ag->base = old + 1;
        if (aof_write_manifest(sh, old + 1, n) != 0) {
            sh_log(LOG_WARNING, "The AOF manifest does not name the new incr files yet");
        }
        sh_log(LOG_WARNING, "Background AOF rewrite failed");
    }
    mbox_counter_set(&ag->last_ok, ok);
    mbox_counter_set(&ag->last_time_sec, (long)((sh->now_ms - ag->rewrite_start_ms) / 1000));
    mbox_counter_set(&ag->rewriting, 0);
}

/* ---- set-up ---- */

void aof_shard_init(struct shard *sh)
{
    struct aof_shard *a = sh_calloc(1, sizeof(*a));

    a->fd = -1;
    a->buf_db = -1;
    rbuf_init(&a->buf);
    a->fsync_io.done = on_fsynced;
    sh->aof = a;
}

void aof_init_hooks(void)
{
    shard_hooks.prop = prop;
    shard_hooks.prop_expired = prop_expired;
    shard_hooks.prop_txn_end = prop_txn_end;
    shard_hooks.prop_flush = prop_flush;
    shard_hooks.prop_key = prop_key;
}

void aof_shard_exit(struct shard *sh)
{
    struct aof_shard *a = sh->aof;

    if (!a) {
        return;
    }
    sh->prop_on = false;
    if (a->fd >= 0) {
        (void)write_fully(a->fd, a->buf.data, a->buf.len);
        (void)fdatasync(a->fd);
        close(a->fd);
    }
    while (a->txns) {
        struct aof_txn *t = a->txns;

        a->txns = t->next;
        rbuf_fini(&t->buf);
        sh_free(t);
    }
    rbuf_fini(&a->buf);
    sh_free(a);
    sh->aof = NULL;
}

void aof_status(struct shard *sh, struct aof_status *st)
{
    struct aof_global *ag = &persist_of(sh->srv)->aof;
    struct aof_shard *a = sh->aof;

    memset(st, 0, sizeof(*st));
    st->enabled = aof_logging(sh) || sh->cfg.appendonly; /* on, or its first rewrite runs */
    st->rewriting = mbox_counter_get(&ag->rewriting) != 0;
    st->scheduled = mbox_counter_get(&ag->scheduled) != 0;
    st->last_ok = mbox_counter_get(&ag->last_ok) != 0;
    st->last_time_sec = mbox_counter_get(&ag->last_time_sec);
    st->current_time_sec = st->rewriting ? (sh->now_ms - ag->rewrite_start_ms) / 1000 : -1;
    st->rewrites = mbox_counter_get(&ag->rewrites);
    st->base_size = mbox_counter_get(&ag->base_size);
    st->write_ok = !a || a->err == 0;
    st->buffer = a ? (long long)a->buf.len : 0;
    /* every shard's incr bytes, as each one published them */
    for (int s = 0; s < sh->srv->nshards; s++) {
        st->current_size += mbox_counter_get(&ag->incr_size[s]);
    }
    st->current_size += st->base_size;
}

/* Shard 0's cron: auto-aof-rewrite-percentage / -min-size, and a rewrite
 * that was scheduled behind a snapshot. */
void aof_auto_rewrite(struct shard *sh)
{
    struct aof_global *ag = &persist_of(sh->srv)->aof;
    static const struct sh_slice argv[] = { { "BGREWRITEAOF", 12 } };
    struct aof_status st;

    if (sh->id != 0 || !sh->cfg.appendonly || mbox_counter_get(&ag->rewriting) ||
        persist_snap_running(sh->srv)) {
        return;
    }
    if (mbox_counter_get(&ag->scheduled) || !aof_logging(sh)) {
        conn_run_internal(sh, 1, argv);
        return;
    }
    aof_status(sh, &st);
    if (sh->cfg.auto_aof_rewrite_percentage > 0 &&
        st.current_size >= sh->cfg.auto_aof_rewrite_min_size) {
        long long base = st.base_size ? st.base_size : 1;
        long long growth = (st.current_size - base) * 100 / base;

        if (growth >= sh->cfg.auto_aof_rewrite_percentage) {
            sh_log(LOG_NOTICE, "Starting automatic rewriting of AOF on %lld%% growth", growth);
            conn_run_internal(sh, 1, argv);
        }
    }
}
