/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * cmd_migrate.c: MIGRATE host port key|"" destination-db timeout [COPY]
 * [REPLACE] [AUTH password] [AUTH2 username password] [KEYS key ...], with
 * Redis 7.0's semantics, replies and errors (cluster.c's migrateCommand).
 *
 * The run, as Redis: the options parse first (syntax errors; KEYS with a
 * key argument that is not "" is refused), then the timeout and the
 * database (integers; a timeout <= 0 is 1000 ms). The keys that exist are
 * dumped (a keyspace hit or miss each); none: +NOKEY. The target gets, in
 * one write, AUTH (or AUTH username password) when asked, SELECT db unless
 * the cached connection already selected it, and "RESTORE key ttl payload
 * [REPLACE]" per key (ttl: the key's PTTL, at least 1, or 0). Its replies are
 * read one line each: a key is accepted when AUTH, SELECT and its RESTORE
 * all replied without an error; accepted keys are deleted here unless COPY
 * ("del" events, as DEL). The reply is OK, the first error of the target as
 * "ERR Target instance replied with error: <its error>", or IOERR: "error or
 * timeout connecting to the client", "... writing to target instance",
 * "... reading to target instance". A socket error before any RESTORE reply
 * (a cached connection the target closed) is retried once on a new
 * connection, unless it was a timeout.
 *
 * Where it runs. The handler runs on the client's core (route CONN) and
 * starts a coordinator that is a transaction over the keys (write locks):
 *   stage 0  __migdump key ...  on each owner: *2n [payload|nil, pttl|-1]
 *            then the client's core talks to the target (below);
 *   stage 1  DEL key ...        on the owners of the keys the target
 *            accepted (not with COPY), then the reply.
 * With one shard it runs without a transaction: nothing else runs meanwhile.
 * Inside EXEC and from scripts the same gather runs as their nested
 * coordinator, under their lock of every shard (the arguments are parsed in
 * start, an error reply waits there for done).
 *
 * Blocking. The talk with the target uses blocking calls on a non-blocking
 * socket (poll), each step bounded by the timeout, as Redis's syncio does.
 * Redis blocks its whole server meanwhile; here only the client's core
 * waits: its connections, and the requests other cores send to its shard,
 * wait for it, while the other cores go on serving everything else (the
 * migrated keys stay locked until the end, so nobody sees them half moved).
 * A host name is resolved with getaddrinfo on that core too.
 *
 * The connection cache. Each core keeps up to MIG_CACHE_ITEMS connections,
 * by "host:port" as the client wrote them (Redis keeps one cache for the
 * server), with the database last selected on each; a connection unused for
 * more than MIG_CACHE_TTL_S seconds is closed by a one-second timer of the
 * core's ring that runs while the cache is not empty. A socket error closes
 * the connection. A host:port longer than MIG_NAME_MAX is not cached.
 *
 * Left out: the AUTH arguments are not redacted from MONITOR and SLOWLOG
 * (those modules do it by command name); INFO's migrate_cached_sockets does
 * not count these connections; the target is always spoken to in plain TCP.
 *
 * Threading: the handler, the gather and the cache on the client's core
 * (the cache is thread-local: one per core, never shared); __migdump and
 * DEL on the keys' owners.
 */
#include "shardis/cmd.h"
#include "shardis/cmd_bind.h"
#include "shardis/cmdtab.h"
#include "shardis/conn.h"
#include "shardis/kdb.h"
#include "shardis/kdict.h"
#include "shardis/rdb.h"
#include "shardis/reply.h"
#include "shardis/route.h"
#include "shardis/shard.h"
#include "shardis/util.h"

#include <liburing.h>

#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#define MIG_CACHE_ITEMS 64
#define MIG_CACHE_TTL_S 10
#define MIG_NAME_MAX    128
#define MIG_CHUNK       (64 * 1024)
#define MIG_LINE_MAX    1024
#define MIG_DEFAULT_MS  1000
#define ERR_KEYS_NOT_EMPTY                                                                         \
    "ERR When using MIGRATE KEYS option, the key argument must be set to the empty string"
#define ERR_CONNECT "IOERR error or timeout connecting to the client"

/* ---- arguments ---- */

struct mig_args {
    long long dbid, timeout;
    bool copy, replace;
    int user, pass; /* argv index of AUTH2's user, of the password; 0: none */
    int first_key, nkeys;
};

/* Redis's option loop, then the timeout and the database; false after
 * writing the error to r. */
static bool mig_parse(int argc, const struct sh_slice *argv, struct mig_args *a, struct reply *r)
{
    memset(a, 0, sizeof(*a));
    a->first_key = 3;
    a->nkeys = 1;
    for (int j = 6; j < argc; j++) {
        int more = argc - 1 - j;

        if (sh_slice_eq_nocase(argv[j], "copy")) {
            a->copy = true;
        } else if (sh_slice_eq_nocase(argv[j], "replace")) {
            a->replace = true;
        } else if (sh_slice_eq_nocase(argv[j], "auth") && more >= 1) {
            a->user = 0;
            a->pass = ++j;
        } else if (sh_slice_eq_nocase(argv[j], "auth2") && more >= 2) {
            a->user = ++j;
            a->pass = ++j;
        } else if (sh_slice_eq_nocase(argv[j], "keys")) {
            if (argv[3].len != 0) {
                reply_error(r, ERR_KEYS_NOT_EMPTY);
                return false;
            }
            a->first_key = j + 1;
            a->nkeys = argc - j - 1;
            break;
        } else {
            reply_err_syntax(r);
            return false;
        }
    }
    if (!util_str2ll(argv[5].ptr, argv[5].len, &a->timeout) ||
        !util_str2ll(argv[4].ptr, argv[4].len, &a->dbid)) {
        reply_err_notint(r);
        return false;
    }
    if (a->timeout <= 0) {
        a->timeout = MIG_DEFAULT_MS;
    }
    if (a->timeout > 1000LL * 86400 * 365) {
        a->timeout = 1000LL * 86400 * 365; /* poll takes an int */
    }
    return true;
}

/* ---- the connection cache (per core) ---- */

struct mig_sock {
    int fd;              /* -1: a free entry */
    long long last_dbid; /* -1: SELECT next time */
    int64_t last_use_ms;
    char name[MIG_NAME_MAX];
};

struct mig_cache {
    struct shard_io io; /* first: the sweep timer's completion */
    struct __kernel_timespec ts;
    bool init, armed;
    struct mig_sock s[MIG_CACHE_ITEMS];
};

static _Thread_local struct mig_cache cache;

static struct mig_cache *cache_get(void)
{
    if (!cache.init) {
        cache.init = true;
        for (int i = 0; i < MIG_CACHE_ITEMS; i++) {
            cache.s[i].fd = -1;
        }
    }
    return &cache;
}

static void sock_close(struct mig_sock *s)
{
    if (s->fd >= 0) {
        close(s->fd);
    }
    s->fd = -1;
    s->name[0] = '\0';
}

static bool cache_empty(const struct mig_cache *mc)
{
    for (int i = 0; i < MIG_CACHE_ITEMS; i++) {
        if (mc->s[i].fd >= 0) {
            return false;
        }
    }
    return true;
}

static void cache_arm(struct shard *sh, struct mig_cache *mc);

/* Redis's migrateCloseTimedoutSockets, once a second while any is cached. */
static void cache_sweep(struct shard *sh, struct shard_io *io, int res)
{
    struct mig_cache *mc = (struct mig_cache *)io;

    (void)res;
    mc->armed = false;
    for (int i = 0; i < MIG_CACHE_ITEMS; i++) {
        struct mig_sock *s = &mc->s[i];

        if (s->fd >= 0 && sh->now_ms - s->last_use_ms > MIG_CACHE_TTL_S * 1000) {
            sock_close(s);
        }
    }
    cache_arm(sh, mc);
}

static void cache_arm(struct shard *sh, struct mig_cache *mc)
{
    struct io_uring_sqe *sqe;

    if (mc->armed || cache_empty(mc)) {
        return;
    }
    mc->io.done = cache_sweep;
    mc->ts = (struct __kernel_timespec){ .tv_sec = 1 };
    sqe = shard_get_sqe(sh);
    io_uring_prep_timeout(sqe, &mc->ts, 0, 0);
    io_uring_sqe_set_data64(sqe, shard_io_data(&mc->io));
    mc->armed = true;
}

static int wait_fd(int fd, short ev, long long timeout)
{
    struct pollfd p = { .fd = fd, .events = ev };
    int n;

    do {
        n = poll(&p, 1, (int)timeout);
    } while (n < 0 && errno == EINTR);
    if (n == 0) {
        return -ETIMEDOUT;
    }
    return n < 0 ? -errno : 0;
}

/* A non-blocking TCP socket to host:port (C strings); -1 when no address
 * resolves or every connect fails at once. As Redis's blocking connect, a
 * connect in progress is waited for at most timeout ms, and its outcome is
 * left to the first write: a refused or timed out connection is an error
 * "writing to target instance", as in Redis 7.0. */
static int tcp_connect(const char *host, const char *port, long long timeout)
{
    struct addrinfo hints = { .ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM }, *res, *ai;
    int fd = -1, one = 1;

    if (getaddrinfo(host, port, &hints, &res) != 0) {
        return -1;
    }
    for (ai = res; ai; ai = ai->ai_next) {
        fd = socket(ai->ai_family, ai->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC, ai->ai_protocol);
        if (fd < 0) {
            continue;
        }
        if (connect(fd, ai->ai_addr, ai->ai_addrlen) == 0) {
            break;
        }
        if (errno == EINPROGRESS) {
            (void)wait_fd(fd, POLLOUT, timeout);
            break;
        }
        close(fd);
        fd = -1;
    }
    freeaddrinfo(res);
    if (fd >= 0) {
        setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    }
    return fd;
}

/* The cached connection to host:port, or a new one (dropping an entry at
 * random when the cache is full): Redis's migrateGetSocket. *tmp holds an
 * uncached one (name too long). NULL when the connect failed. */
static struct mig_sock *sock_get(struct shard *sh, struct sh_slice host, struct sh_slice port,
                                 long long timeout, struct mig_sock *tmp)
{
    struct mig_cache *mc = cache_get();
    struct mig_sock *s = NULL;
    char name[MIG_NAME_MAX], *h, portbuf[16], *pz;
    size_t nlen = host.len + 1 + port.len;
    int fd;

    if (nlen < sizeof(name)) {
        memcpy(name, host.ptr, host.len);
        name[host.len] = ':';
        memcpy(name + host.len + 1, port.ptr, port.len);
        name[nlen] = '\0';
        for (int i = 0; i < MIG_CACHE_ITEMS; i++) {
            if (mc->s[i].fd >= 0 && strlen(mc->s[i].name) == nlen &&
                !memcmp(mc->s[i].name, name, nlen)) {
                mc->s[i].last_use_ms = sh->now_ms;
                return &mc->s[i];
            }
        }
    }
    /* as Redis: the host is a C string, the port atoi()'s */
    h = sh_malloc(host.len + 1);
    memcpy(h, host.ptr, host.len);
    h[host.len] = '\0';
    pz = sh_malloc(port.len + 1);
    memcpy(pz, port.ptr, port.len);
    pz[port.len] = '\0';
    snprintf(portbuf, sizeof(portbuf), "%d", atoi(pz));
    sh_free(pz);
    fd = tcp_connect(h, portbuf, timeout);
    sh_free(h);
    if (fd < 0) {
        return NULL;
    }
    if (nlen >= sizeof(name)) {
        s = tmp;
    } else {
        for (int i = 0; i < MIG_CACHE_ITEMS && !s; i++) {
            s = mc->s[i].fd < 0 ? &mc->s[i] : NULL;
        }
        if (!s) {
            s = &mc->s[shard_rand(sh) % MIG_CACHE_ITEMS];
            sock_close(s);
        }
        memcpy(s->name, name, nlen + 1);
    }
    s->fd = fd;
    s->last_dbid = -1;
    s->last_use_ms = sh->now_ms;
    cache_arm(sh, mc);
    return s;
}

/* ---- blocking I/O ---- */

struct mig_io {
    int fd;
    long long timeout;
    bool timedout; /* the last failure was a timeout */
    size_t pos, len;
    char buf[4096];
};

/* Writes n bytes in 64K chunks, each within the timeout (syncWrite). */
static bool io_write(struct mig_io *io, const char *p, size_t n)
{
    while (n > 0) {
        size_t chunk = n > MIG_CHUNK ? MIG_CHUNK : n;
        int64_t deadline = sh_mono_us() + io->timeout * 1000;

        while (chunk > 0) {
            ssize_t w = send(io->fd, p, chunk, MSG_NOSIGNAL | MSG_DONTWAIT);
            int64_t left = (deadline - sh_mono_us()) / 1000;
            int rc;

            if (w > 0) {
                p += w;
                n -= (size_t)w;
                chunk -= (size_t)w;
                continue;
            }
            if (w < 0 && errno != EAGAIN && errno != EINTR) {
                io->timedout = false;
                return false;
            }
            rc = left > 0 ? wait_fd(io->fd, POLLOUT, left) : -ETIMEDOUT;
            if (rc < 0) {
                io->timedout = rc == -ETIMEDOUT;
                return false;
            }
        }
    }
    return true;
}

/* One reply line (CR LF stripped, cut at MIG_LINE_MAX - 1 bytes) into out;
 * each wait for bytes within the timeout. */
static bool io_read_line(struct mig_io *io, char *out)
{
    size_t n = 0;

    for (;;) {
        while (io->pos < io->len) {
            char ch = io->buf[io->pos++];

            if (ch == '\n') {
                if (n > 0 && out[n - 1] == '\r') {
                    n--;
                }
                out[n] = '\0';
                return true;
            }
            if (n < MIG_LINE_MAX - 1) {
                out[n++] = ch;
            }
        }
        for (;;) {
            ssize_t got = recv(io->fd, io->buf, sizeof(io->buf), MSG_DONTWAIT);
            int rc;

            if (got > 0) {
                io->pos = 0;
                io->len = (size_t)got;
                break;
            }
            if (got == 0 || (errno != EAGAIN && errno != EINTR)) {
                io->timedout = false;
                return false;
            }
            rc = wait_fd(io->fd, POLLIN, io->timeout);
            if (rc < 0) {
                io->timedout = rc == -ETIMEDOUT;
                return false;
            }
        }
    }
}

static void append_bulk(struct rbuf *b, const void *p, size_t n)
{
    char hdr[32];
    int k = snprintf(hdr, sizeof(hdr), "$%zu\r\n", n);

    rbuf_append(b, hdr, (size_t)k);
    rbuf_append(b, p, n);
    rbuf_append(b, "\r\n", 2);
}

static void append_bulk_ll(struct rbuf *b, long long v)
{
    char d[24];

    append_bulk(b, d, util_ll2str(d, v));
}

static void append_count(struct rbuf *b, int n)
{
    char hdr[16];
    int k = snprintf(hdr, sizeof(hdr), "*%d\r\n", n);

    rbuf_append(b, hdr, (size_t)k);
}

/* ---- the job ---- */

struct mig_job {
    struct mig_args a;
    int argc;
    struct sh_slice *argv; /* a copy (owned), or the nested coordinator's */
    bool own_argv;
    struct rbuf err;  /* a reply decided in start (nested parse error) */
    struct rbuf fin;  /* the final reply, once the target talked */
    struct rbuf body; /* the RESTORE commands */
    int nlive;        /* keys found */
    int *live;        /* their argv indexes, in argument order */
    bool *accepted;   /* [nlive] */
    bool fin_set;
};

static struct mig_job *job_new(void)
{
    struct mig_job *j = sh_calloc(1, sizeof(*j));

    rbuf_init(&j->err);
    rbuf_init(&j->fin);
    rbuf_init(&j->body);
    return j;
}

static void job_free(struct mig_job *j)
{
    rbuf_fini(&j->err);
    rbuf_fini(&j->fin);
    rbuf_fini(&j->body);
    sh_free(j->live);
    sh_free(j->accepted);
    if (j->own_argv) {
        sh_free(j->argv);
    }
    sh_free(j);
}

static void job_copy_argv(struct mig_job *j, int argc, const struct sh_slice *argv)
{
    j->argc = argc;
    j->argv = sh_slices_dup(argc, argv);
    j->own_argv = true;
}

/* ---- the talk with the target (client's core, blocking) ---- */

struct talk {
    struct mig_job *j;
    struct reply r; /* into j->fin */
    bool write_error;
};

/* The AUTH and SELECT prefix for connection s. */
static void talk_prefix(const struct mig_job *j, const struct mig_sock *s, struct rbuf *b,
                        bool *select)
{
    const struct sh_slice *argv = j->argv;

    if (j->a.pass) {
        append_count(b, j->a.user ? 3 : 2);
        append_bulk(b, "AUTH", 4);
        if (j->a.user) {
            append_bulk(b, argv[j->a.user].ptr, argv[j->a.user].len);
        }
        append_bulk(b, argv[j->a.pass].ptr, argv[j->a.pass].len);
    }
    *select = s->last_dbid != j->a.dbid;
    if (*select) {
        append_count(b, 2);
        append_bulk(b, "SELECT", 6);
        append_bulk_ll(b, j->a.dbid);
    }
}

enum talk_rc { TALK_DONE, TALK_SOCKET_ERR };

/* One try over connection s: the replies read decide what is accepted and
 * the reply (unless TALK_SOCKET_ERR: the caller may retry). */
static enum talk_rc talk_once(struct talk *t, struct mig_sock *s, bool may_retry)
{
    struct mig_job *j = t->j;
    struct mig_io io = { .fd = s->fd, .timeout = j->a.timeout };
    char *b0 = sh_malloc(MIG_LINE_MAX * 3), *b1 = b0 + MIG_LINE_MAX, *b2 = b1 + MIG_LINE_MAX;
    struct rbuf pre;
    bool select, target_err = false, sock_err = false;
    enum talk_rc rc = TALK_SOCKET_ERR;
    int k;

    rbuf_init(&pre);
    talk_prefix(j, s, &pre, &select);
    t->write_error = true;
    if (!io_write(&io, pre.data, pre.len) || !io_write(&io, j->body.data, j->body.len)) {
        goto out_close;
    }
    t->write_error = false;
    if ((j->a.pass && !io_read_line(&io, b0)) || (select && !io_read_line(&io, b1))) {
        goto out_close;
    }
    for (k = 0; k < j->nlive; k++) {
        if (!io_read_line(&io, b2)) {
            sock_err = true;
            break;
        }
        if ((j->a.pass && b0[0] == '-') || (select && b1[0] == '-') || b2[0] == '-') {
            if (!target_err) {
                const char *e = j->a.pass && b0[0] == '-' ? b0 : select && b1[0] == '-' ? b1 : b2;

                s->last_dbid = -1;
                target_err = true;
                reply_errorf(&t->r, "ERR Target instance replied with error: %s", e + 1);
            }
        } else {
            j->accepted[k] = !j->a.copy;
        }
    }
    if (!target_err && sock_err && k == 0 && may_retry && !io.timedout) {
        goto out_close; /* nothing was processed: a retry is safe */
    }
    if (sock_err) {
        sock_close(s);
    }
    if (!target_err && sock_err) {
        reply_error(&t->r, "IOERR error or timeout reading to target instance");
    } else if (!target_err) {
        s->last_dbid = j->a.dbid;
        reply_ok(&t->r);
    }
    rc = TALK_DONE;
    goto out_free;
out_close:
    sock_close(s);
    if (!may_retry || io.timedout) {
        reply_errorf(&t->r, "IOERR error or timeout %s to target instance",
                     t->write_error ? "writing" : "reading");
        rc = TALK_DONE;
    }
out_free:
    rbuf_fini(&pre);
    sh_free(b0);
    return rc;
}

/* Redis's try_again loop: a fresh connection after a socket error, once. */
static void talk(struct shard *sh, struct mig_job *j, int proto)
{
    struct talk t = { .j = j, .r = { .buf = &j->fin, .proto = proto } };
    struct sh_slice host = j->argv[1], port = j->argv[2];
    bool may_retry = true;

    j->fin_set = true;
    for (;;) {
        struct mig_sock tmp = { .fd = -1 }, *s;

        s = sock_get(sh, host, port, j->a.timeout, &tmp);
        if (!s) {
            reply_error(&t.r, ERR_CONNECT);
            return;
        }
        if (talk_once(&t, s, may_retry) == TALK_DONE) {
            sock_close(&tmp);
            return;
        }
        may_retry = false;
    }
}

/* ---- internal command: stage 0 ---- */

/* __migdump key ... -> *2n: per key its DUMP payload (nil: no such key)
 * and its PTTL (at least 1), or -1 without a TTL. A read: a keyspace hit
 * or miss each, as Redis's lookupKeyRead. */
static void cmd_migdump_internal(struct cmd_ctx *ctx)
{
    reply_array(&ctx->r, 2LL * (ctx->argc - 1));
    for (int i = 1; i < ctx->argc; i++) {
        struct kentry *e = cmd_lookup(ctx, i);
        long long ttl = -1;
        size_t len;
        char *p;

        cmd_count_lookup(ctx, e != NULL);
        if (!e) {
            reply_null(&ctx->r);
            reply_int(&ctx->r, -1);
            continue;
        }
        if (kentry_has_ttl(e)) {
            ttl = kdb_expire_of(ctx->db, e) - ctx->shard->now_ms;
            ttl = ttl < 1 ? 1 : ttl;
        }
        p = rdb_dump(&e->val, &len);
        reply_bulk(&ctx->r, p, len);
        reply_int(&ctx->r, ttl);
        sh_free(p);
    }
}

static const struct cmd_spec migdump_spec = {
    .name = "__migdump",
    .fullname = "__migdump",
    .arity = -2,
    .proc = cmd_migdump_internal,
};

/* ---- the gather (client's core) ---- */

/* Sends argv[0] = name plus the keys of each owner in the list idx[n] (argv
 * indexes) to that owner, running cmd. */
static void send_by_owner(struct coord *c, const struct mig_job *j, const struct cmd_spec *cmd,
                          const int *idx, int n)
{
    struct sh_slice *sub = sh_malloc(sizeof(*sub) * (size_t)(n + 1));

    sub[0] = (struct sh_slice){ cmd->name, strlen(cmd->name) };
    for (int s = 0; s < c->nshards; s++) {
        int k = 1;

        for (int i = 0; i < n; i++) {
            if (coord_key_owner(c, j->argv[idx[i]]) == s) {
                sub[k++] = j->argv[idx[i]];
            }
        }
        if (k > 1) {
            coord_send(c, s, cmd, c->dbid, k, sub);
        }
    }
    sh_free(sub);
}

static void mig_start(struct coord *c)
{
    struct mig_job *j = c->ext;
    int *idx;

    if (!j) {
        /* EXEC's or a script's nested run: its lock covers every shard */
        struct reply er;

        j = job_new();
        j->argc = c->argc;
        j->argv = c->argv;
        c->ext = j;
        er = (struct reply){ .buf = &j->err, .proto = c->proto };
        if (!mig_parse(j->argc, j->argv, &j->a, &er)) {
            return;
        }
        if (j->a.nkeys == 0) {
            reply_status(&er, "NOKEY");
            return;
        }
    }
    idx = sh_malloc(sizeof(int) * (size_t)j->a.nkeys);
    for (int i = 0; i < j->a.nkeys; i++) {
        idx[i] = j->a.first_key + i;
    }
    send_by_owner(c, j, &migdump_spec, idx, j->a.nkeys);
    sh_free(idx);
}

/* Stage 0 is back: the RESTORE commands of the keys found, in argument
 * order; false after writing a reply (NOKEY, an error part). */
static bool build_body(struct coord *c, struct mig_job *j, struct reply *r)
{
    size_t *cur = coord_part_cursors(c);
    struct sh_slice e = coord_first_error(c);

    if (e.len || !cur) {
        e.len ? reply_raw(r, e.ptr, e.len) : reply_error(r, "ERR internal error: bad part");
        sh_free(cur);
        return false;
    }
    j->live = sh_malloc(sizeof(int) * (size_t)j->a.nkeys);
    j->accepted = sh_calloc((size_t)j->a.nkeys, sizeof(bool));
    for (int i = 0; i < j->a.nkeys; i++) {
        struct sh_slice key = j->argv[j->a.first_key + i], val;
        int o = coord_key_owner(c, key);
        struct sh_slice p = coord_part(c, o);
        long long ttl;

        if (!coord_read_bulk(p, &cur[o], &val) || !coord_read_header(p, &cur[o], ':', &ttl)) {
            reply_error(r, "ERR internal error: bad __migdump reply");
            sh_free(cur);
            return false;
        }
        if (!val.ptr) {
            continue;
        }
        j->live[j->nlive++] = j->a.first_key + i;
        append_count(&j->body, j->a.replace ? 5 : 4);
        append_bulk(&j->body, "RESTORE", 7);
        append_bulk(&j->body, key.ptr, key.len);
        append_bulk_ll(&j->body, ttl < 0 ? 0 : ttl);
        append_bulk(&j->body, val.ptr, val.len);
        if (j->a.replace) {
            append_bulk(&j->body, "REPLACE", 7);
        }
    }
    sh_free(cur);
    if (j->nlive == 0) {
        reply_status(r, "NOKEY");
        return false;
    }
    return true;
}

/* Stage 1: DEL of the accepted keys on their owners; false when none. */
static bool send_deletes(struct coord *c, struct mig_job *j)
{
    const struct cmd_spec *del = cmdtab_lookup("del", 3);
    int *idx = sh_malloc(sizeof(int) * (size_t)(j->nlive ? j->nlive : 1)), n = 0;

    for (int k = 0; k < j->nlive; k++) {
        if (j->accepted[k]) {
            idx[n++] = j->live[k];
        }
    }
    if (n > 0) {
        send_by_owner(c, j, del, idx, n);
    }
    sh_free(idx);
    return n > 0;
}

static bool mig_done(struct coord *c, struct reply *r)
{
    struct mig_job *j = c->ext;

    if (j->err.len) {
        reply_raw(r, j->err.data, j->err.len);
        job_free(j);
        return true;
    }
    if (!j->fin_set) {
        if (!build_body(c, j, r)) {
            job_free(j);
            return true;
        }
        talk(c->conn->sh, j, c->proto);
        if (send_deletes(c, j)) {
            return false;
        }
    }
    reply_raw(r, j->fin.data, j->fin.len);
    job_free(j);
    return true;
}

static const struct gather gather_migrate = { .start = mig_start,
                                              .done = mig_done,
                                              .barrier = true };

/* ---- the handler (client's core) ---- */

static void cmd_migrate(struct cmd_ctx *ctx)
{
    struct mig_args a;
    struct mig_job *j;
    struct sh_slice *pairs;

    if (!mig_parse(ctx->argc, ctx->argv, &a, &ctx->r)) {
        return;
    }
    if (a.nkeys == 0) {
        reply_status(&ctx->r, "NOKEY");
        return;
    }
    if (!ctx->conn) {
        reply_error(&ctx->r, "ERR MIGRATE needs a client connection");
        return;
    }
    j = job_new();
    j->a = a;
    job_copy_argv(j, ctx->argc, ctx->argv);
    pairs = sh_malloc(sizeof(*pairs) * 2 * (size_t)a.nkeys);
    for (int i = 0; i < a.nkeys; i++) {
        pairs[2 * i] = (struct sh_slice){ "w", 1 };
        pairs[2 * i + 1] = ctx->argv[a.first_key + i];
    }
    coord_start_txn(ctx->conn, ctx->cmd, &gather_migrate, j, ctx->dbid, a.nkeys, pairs, false);
    sh_free(pairs);
}

void cmd_migrate_bind(void)
{
    /* CONN: the handler starts the coordinator; the gather is also EXEC's
     * and scripts' nested coordinator (they lock every shard for it) */
    cmd_must_bind("migrate", cmd_migrate, CMD_ROUTE_CONN, &gather_migrate);
}
