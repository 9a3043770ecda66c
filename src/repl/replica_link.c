/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * replica_link.c: the link thread of a replica (see replica.c for the
 * design): one thread per REPLICAOF target, with blocking sockets.
 *
 *   connect -> PING -> [AUTH] -> REPLCONF listening-port [ip-address]
 *   -> REPLCONF capa eof capa psync2 -> PSYNC <hub id> <hub offset + 1>
 *   -> +FULLRESYNC: the RDB ("$<len>" or diskless "$EOF:<mark>") into a
 *      file, LOAD posted to shard 0 and waited for, REPLCONF ACK at once
 *      (a diskless Redis primary starts the stream on it)
 *   -> +CONTINUE [id]: keep the data (NEWID when the id changed)
 *   -> the stream: whole commands (a MULTI ... EXEC block whole) written to
 *      the master connection and posted as FEED; REPLCONF GETACK answered
 *      with the hub's offset once shard 0 fed what came before it; an ACK
 *      every second; repl-timeout without bytes ends the link.
 * Any failure closes the socket and, a second later, starts again (PSYNC
 * continues where the hub is). Every wait is a poll of at most 100 ms that
 * looks at the stop flag, so REPLICAOF and shutdown end the thread quickly.
 *
 * Threading: the thread owns its sockets, its buffer and its file; it
 * shares only the (L) fields of struct rlink / struct replica, and reads
 * the hub's ids with repl_get_ids (any thread).
 */
#include "replica_internal.h"
#include "shardis/log.h"
#include "shardis/repl.h"
#include "shardis/util.h"

#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define READ_CHUNK (64 * 1024)
#define POLL_MS    100

/* The thread's own state. */
struct lt {
    struct rlink *l;
    struct replica *rep;
    int fd;             /* to the primary, -1: none */
    int pair;           /* to the master connection, -1: none */
    struct rbuf in;     /* read from the primary, not yet handed over */
    size_t parse_at;    /* parsed up to here: an open transaction's commands */
    bool in_txn;        /* a MULTI without its EXEC yet */
    bool conn_asked;    /* RMSG_CONN posted, no pair yet */
    bool pair_fresh;    /* a new master connection: its SELECT first */
    long long handed;   /* the stream's offset after the bytes handed over */
    int db;             /* the stream's selected database */
    int64_t last_io_ms; /* monotonic */
    bool ack_due;       /* a GETACK waits for the hub to pass ack_target */
    long long ack_target;
};

static int64_t mono_ms(void)
{
    return sh_mono_us() / 1000;
}

static bool stopped(struct lt *t)
{
    bool stop;

    pthread_mutex_lock(&t->rep->lock);
    stop = t->l->stop;
    pthread_mutex_unlock(&t->rep->lock);
    return stop;
}

/* INFO's state, unless a newer REPLICAOF owns it already. */
static void set_state(struct lt *t, int st)
{
    struct replica *rep = t->rep;

    pthread_mutex_lock(&rep->lock);
    if (rep->gen == t->l->gen) {
        if (rep->state == REPLICA_S_CONNECTED && st != REPLICA_S_CONNECTED) {
            rep->down_since_ms = sh_time_ms();
        }
        rep->state = st;
        if (st == REPLICA_S_CONNECTED) {
            rep->last_io_ms = sh_time_ms();
        }
    }
    pthread_mutex_unlock(&rep->lock);
}

/* Sleeps ms unless stopped first. */
static void nap(struct lt *t, int ms)
{
    struct timespec ts;

    clock_gettime(CLOCK_REALTIME, &ts);
    ts.tv_sec += ms / 1000;
    ts.tv_nsec += (long)(ms % 1000) * 1000000L;
    if (ts.tv_nsec >= 1000000000L) {
        ts.tv_sec++;
        ts.tv_nsec -= 1000000000L;
    }
    pthread_mutex_lock(&t->rep->lock);
    if (!t->l->stop) {
        pthread_cond_timedwait(&t->rep->cond, &t->rep->lock, &ts);
    }
    pthread_mutex_unlock(&t->rep->lock);
}

/* Frees the messages shard 0 is done with. */
static void reap_used(struct replica *rep)
{
    struct rmsg *m;

    pthread_mutex_lock(&rep->lock);
    m = rep->used;
    rep->used = NULL;
    pthread_mutex_unlock(&rep->lock);
    while (m) {
        struct rmsg *next = m->next;

        sh_free(m);
        m = next;
    }
}

static struct rmsg *msg_new(int kind, const void *p, size_t n)
{
    struct rmsg *m = sh_calloc(1, sizeof(*m) + n + 1);

    m->kind = kind;
    m->len = n;
    if (n) {
        memcpy(m->data, p, n);
    }
    return m;
}

static long long hub_offset(const struct lt *t)
{
    struct repl_ids ids;

    repl_get_ids(t->l->srv, &ids);
    return ids.offset;
}

/* ---- the socket to the primary ---- */

static int connect_primary(struct lt *t)
{
    struct addrinfo hints = { .ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM }, *res, *ai;
    char port[16];
    int rc, err = ECONNREFUSED;

    snprintf(port, sizeof(port), "%d", t->l->port);
    rc = getaddrinfo(t->l->host, port, &hints, &res);
    if (rc != 0) {
        sh_log(LOG_WARNING, "Unable to connect to MASTER %s:%d: %s", t->l->host, t->l->port,
               gai_strerror(rc));
        return -1;
    }
    for (ai = res; ai && t->fd < 0; ai = ai->ai_next) {
        int fd = socket(ai->ai_family, ai->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
        int64_t deadline = mono_ms() + t->l->timeout_s * 1000;

        if (fd < 0) {
            err = errno;
            continue;
        }
        if (connect(fd, ai->ai_addr, ai->ai_addrlen) != 0 && errno != EINPROGRESS) {
            err = errno;
            close(fd);
            continue;
        }
        for (;;) {
            struct pollfd pf = { .fd = fd, .events = POLLOUT };
            int soerr = 0;
            socklen_t sl = sizeof(soerr);

            if (stopped(t) || mono_ms() > deadline) {
                err = ETIMEDOUT;
                break;
            }
            if (poll(&pf, 1, POLL_MS) <= 0) {
                continue;
            }
            getsockopt(fd, SOL_SOCKET, SO_ERROR, &soerr, &sl);
            if (soerr == 0) {
                int one = 1;

                setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
                t->fd = fd;
            }
            err = soerr;
            break;
        }
        if (t->fd < 0) {
            close(fd);
        }
    }
    freeaddrinfo(res);
    if (t->fd < 0) {
        sh_log(LOG_WARNING, "Error condition on socket for SYNC: %s", strerror(err));
        return -1;
    }
    return 0;
}

static int send_all(struct lt *t, const char *p, size_t n)
{
    while (n > 0) {
        ssize_t w = send(t->fd, p, n, MSG_NOSIGNAL);

        if (w > 0) {
            p += w;
            n -= (size_t)w;
        } else if (w < 0 && errno == EAGAIN) {
            struct pollfd pf = { .fd = t->fd, .events = POLLOUT };

            if (stopped(t)) {
                return -1;
            }
            poll(&pf, 1, POLL_MS);
        } else if (!(w < 0 && errno == EINTR)) {
            return -1;
        }
    }
    return 0;
}

/* Sends one command (RESP multibulk) to the primary. */
static int send_cmd(struct lt *t, int argc, const char *const *argv)
{
    struct rbuf b;
    char num[32];
    int rc, n = snprintf(num, sizeof(num), "*%d\r\n", argc);

    rbuf_init(&b);
    rbuf_append(&b, num, (size_t)n);
    for (int i = 0; i < argc; i++) {
        size_t len = strlen(argv[i]);

        n = snprintf(num, sizeof(num), "$%zu\r\n", len);
        rbuf_append(&b, num, (size_t)n);
        rbuf_append(&b, argv[i], len);
        rbuf_append(&b, "\r\n", 2);
    }
    rc = send_all(t, b.data, b.len);
    rbuf_fini(&b);
    return rc;
}

static int send_ack(struct lt *t)
{
    char off[24];
    const char *argv[3] = { "REPLCONF", "ACK", off };

    snprintf(off, sizeof(off), "%lld", hub_offset(t));
    return send_cmd(t, 3, argv);
}

/* Reads what the primary sent (waiting up to timeout_ms): 0, or -1 at EOF,
 * an error, a timeout or a stop. */
static int fill(struct lt *t, int64_t timeout_ms)
{
    int64_t deadline = mono_ms() + timeout_ms;

    for (;;) {
        struct pollfd pf = { .fd = t->fd, .events = POLLIN };
        ssize_t got;

        if (stopped(t)) {
            return -1;
        }
        if (mono_ms() > deadline) {
            sh_log(LOG_WARNING, "Timeout connecting to the MASTER...");
            return -1;
        }
        if (poll(&pf, 1, POLL_MS) <= 0) {
            continue;
        }
        rbuf_reserve(&t->in, READ_CHUNK);
        got = recv(t->fd, t->in.data + t->in.len, READ_CHUNK, 0);
        if (got > 0) {
            t->in.len += (size_t)got;
            t->last_io_ms = mono_ms();
            return 0;
        }
        if (got == 0 || (errno != EAGAIN && errno != EINTR)) {
            return -1;
        }
    }
}

/* One line of the primary's (CR LF or LF ended), NUL-terminated without
 * them: 0, or -1. */
static int read_line(struct lt *t, char *out, size_t cap)
{
    for (;;) {
        char *nl = t->in.len ? memchr(t->in.data, '\n', t->in.len) : NULL;

        if (nl) {
            size_t n = (size_t)(nl - t->in.data);
            size_t keep = n > 0 && t->in.data[n - 1] == '\r' ? n - 1 : n;

            if (keep >= cap) {
                keep = cap - 1;
            }
            memcpy(out, t->in.data, keep);
            out[keep] = '\0';
            rbuf_consume(&t->in, n + 1);
            return 0;
        }
        if (t->in.len > 64 * 1024 || fill(t, t->l->timeout_s * 1000) != 0) {
            return -1;
        }
    }
}

/* Sends a command and reads its one-line reply into out. */
static int ask(struct lt *t, int argc, const char *const *argv, char *out, size_t cap)
{
    if (send_cmd(t, argc, argv) != 0 || read_line(t, out, cap) != 0) {
        sh_log(LOG_WARNING, "Master did not respond to %s: the link is gone", argv[0]);
        return -1;
    }
    return 0;
}

/* PING, AUTH, REPLCONF: 0, or -1. */
static int handshake(struct lt *t)
{
    struct rlink *l = t->l;
    char line[512], port[16];

    if (ask(t, 1, (const char *[]){ "PING" }, line, sizeof(line)) != 0) {
        return -1;
    }
    /* -NOAUTH and -NOPERM are fine here: AUTH follows (Redis's check) */
    if (line[0] == '-' && strncmp(line, "-NOAUTH", 7) != 0 && strncmp(line, "-NOPERM", 7) != 0 &&
        strncmp(line, "-ERR operation not permitted", 28) != 0) {
        sh_log(LOG_WARNING, "Error reply to PING from master: '%s'", line);
        return -1;
    }
    sh_log(LOG_NOTICE, "Master replied to PING, replication can continue...");
    if (l->auth) {
        const char *argv[3] = { "AUTH", l->user ? l->user : l->auth, l->auth };

        if (ask(t, l->user ? 3 : 2, argv, line, sizeof(line)) != 0) {
            return -1;
        }
        if (line[0] == '-') {
            sh_log(LOG_WARNING, "Unable to AUTH to MASTER: %s", line);
            return -1;
        }
    }
    snprintf(port, sizeof(port), "%d", l->my_port);
    if (ask(t, 3, (const char *[]){ "REPLCONF", "listening-port", port }, line, sizeof(line)) !=
        0) {
        return -1;
    }
    if (line[0] == '-') {
        sh_log(LOG_NOTICE, "(Non critical) Master does not understand REPLCONF listening-port: %s",
               line);
    }
    if (l->announce_ip[0]) {
        if (ask(t, 3, (const char *[]){ "REPLCONF", "ip-address", l->announce_ip }, line,
                sizeof(line)) != 0) {
            return -1;
        }
        if (line[0] == '-') {
            sh_log(LOG_NOTICE, "(Non critical) Master does not understand REPLCONF ip-address: %s",
                   line);
        }
    }
    if (ask(t, 5, (const char *[]){ "REPLCONF", "capa", "eof", "capa", "psync2" }, line,
            sizeof(line)) != 0) {
        return -1;
    }
    if (line[0] == '-') {
        sh_log(LOG_NOTICE, "(Non critical) Master does not understand REPLCONF capa: %s", line);
    }
    return 0;
}

/* Waits until shard 0 took every message posted (the hub's offset is all
 * the stream handed over). */
static void wait_fed(struct lt *t)
{
    for (int i = 0; i < 100; i++) {
        bool done;

        pthread_mutex_lock(&t->rep->lock);
        done = t->l->fed == t->l->sent || t->l->stop;
        pthread_mutex_unlock(&t->rep->lock);
        if (done) {
            return;
        }
        nap(t, 50);
    }
    sh_log(LOG_WARNING, "Replication: shard 0 is slow to take the stream; PSYNC goes on");
}

/* ---- the RDB ---- */

/* The last 40 bytes received (a diskless transfer ends with its mark). */
static void tail_update(char *last, size_t *nlast, const char *p, size_t n)
{
    if (n >= 40) {
        memcpy(last, p + n - 40, 40);
        *nlast = 40;
        return;
    }
    {
        size_t keep = *nlast < 40 - n ? *nlast : 40 - n;

        memmove(last, last + *nlast - keep, keep);
        memcpy(last + keep, p, n);
        *nlast = keep + n;
    }
}

static void xfer_note(struct lt *t, long long size, long long got)
{
    pthread_mutex_lock(&t->rep->lock);
    if (t->rep->gen == t->l->gen) {
        t->rep->xfer_size = size;
        t->rep->xfer_read = got;
        t->rep->xfer_last_ms = sh_time_ms();
    }
    pthread_mutex_unlock(&t->rep->lock);
}

/* The payload after +FULLRESYNC into path: 0, or -1. */
static int recv_payload(struct lt *t, const char *path)
{
    char line[128], mark[40], last[40];
    size_t nlast = 0;
    long long size = -1, got = 0;
    bool eof = false;
    int fd, rc = -1;

    do { /* "\n" alone: the primary's keep-alive while it prepares */
        if (read_line(t, line, sizeof(line)) != 0) {
            return -1;
        }
    } while (line[0] == '\0');
    if (line[0] == '-') {
        sh_log(LOG_WARNING, "MASTER aborted replication with an error: %s", line + 1);
        return -1;
    }
    if (strncmp(line, "$EOF:", 5) == 0 && strlen(line + 5) >= 40) {
        eof = true;
        memcpy(mark, line + 5, 40);
    } else if (line[0] != '$' || !util_str2ll(line + 1, strlen(line + 1), &size) || size < 0) {
        sh_log(LOG_WARNING,
               "Bad protocol from MASTER, the first byte is not '$' (we received "
               "'%.64s'), are you sure the host and port are right?",
               line);
        return -1;
    }
    sh_log(LOG_NOTICE, "MASTER <-> REPLICA sync: receiving %s from master to disk",
           eof ? "streamed RDB" : "RDB");
    fd = open(path, O_CREAT | O_TRUNC | O_WRONLY | O_CLOEXEC, 0644);
    if (fd < 0) {
        sh_log(LOG_WARNING,
               "Opening the temp file needed for MASTER <-> REPLICA synchronization: "
               "%s",
               strerror(errno));
        return -1;
    }
    for (;;) {
        size_t take;

        if (!eof && got == size) {
            rc = 0;
            break;
        }
        if (t->in.len == 0 && fill(t, t->l->timeout_s * 1000) != 0) {
            sh_log(LOG_WARNING, "I/O error trying to sync with MASTER: connection lost");
            break;
        }
        take = t->in.len;
        if (!eof && (long long)take > size - got) {
            take = (size_t)(size - got);
        }
        if (write(fd, t->in.data, take) != (ssize_t)take) {
            sh_log(LOG_WARNING,
                   "Write error or short write writing to the DB dump file needed "
                   "for MASTER <-> REPLICA synchronization: %s",
                   strerror(errno));
            break;
        }
        if (eof) {
            tail_update(last, &nlast, t->in.data, take);
        }
        rbuf_consume(&t->in, take);
        got += (long long)take;
        xfer_note(t, eof ? 0 : size, got);
        if (eof && nlast == 40 && memcmp(last, mark, 40) == 0) {
            rc = ftruncate(fd, (off_t)(got - 40)) == 0 ? 0 : -1;
            break;
        }
    }
    if (close(fd) != 0) {
        rc = -1;
    }
    return rc;
}

/* A full sync: the file, then shard 0 loads it. 0, or -1. */
static int full_sync(struct lt *t, const char *replid, long long offset)
{
    struct rlink *l = t->l;
    char path[256];
    struct rmsg *m;
    int st;

    set_state(t, REPLICA_S_SYNC);
    snprintf(path, sizeof(path), "temp-repl-%d-%llu.rdb", (int)getpid(),
             (unsigned long long)l->gen);
    if (recv_payload(t, path) != 0) {
        unlink(path);
        return -1;
    }
    m = msg_new(RMSG_LOAD, path, strlen(path));
    m->offset = offset;
    snprintf(m->replid, sizeof(m->replid), "%s", replid);
    pthread_mutex_lock(&t->rep->lock);
    l->load = RLOAD_WAIT;
    pthread_mutex_unlock(&t->rep->lock);
    replica_post(t->rep, l, m);
    pthread_mutex_lock(&t->rep->lock);
    while (l->load == RLOAD_WAIT && !l->stop) {
        pthread_mutex_unlock(&t->rep->lock);
        nap(t, POLL_MS);
        pthread_mutex_lock(&t->rep->lock);
    }
    st = l->load;
    pthread_mutex_unlock(&t->rep->lock);
    if (st != RLOAD_OK) {
        return -1;
    }
    t->handed = offset;
    t->db = 0;
    /* a diskless Redis primary starts the stream on the first ACK */
    return send_ack(t);
}

/* PSYNC and its answer: 1 full sync done, 2 continued, -1 failed. */
static int psync(struct lt *t)
{
    struct repl_ids ids;
    char off[24], line[256];

    wait_fed(t);
    repl_get_ids(t->l->srv, &ids);
    snprintf(off, sizeof(off), "%lld", ids.offset + 1);
    sh_log(LOG_NOTICE, "Trying a partial resynchronization (request %s:%s).", ids.replid, off);
    if (send_cmd(t, 3, (const char *[]){ "PSYNC", ids.replid, off }) != 0) {
        return -1;
    }
    do {
        if (read_line(t, line, sizeof(line)) != 0) {
            return -1;
        }
    } while (line[0] == '\0');
    if (strncmp(line, "+FULLRESYNC ", 12) == 0) {
        char replid[41];
        long long offset;
        const char *sp = strchr(line + 12, ' ');

        if (!sp || sp - (line + 12) != 40 || !util_str2ll(sp + 1, strlen(sp + 1), &offset)) {
            sh_log(LOG_WARNING, "Master replied with wrong +FULLRESYNC syntax.");
            return -1;
        }
        memcpy(replid, line + 12, 40);
        replid[40] = '\0';
        sh_log(LOG_NOTICE, "Full resync from master: %s:%lld", replid, offset);
        return full_sync(t, replid, offset) == 0 ? 1 : -1;
    }
    if (strncmp(line, "+CONTINUE", 9) == 0) {
        const char *id = line + 9;

        while (*id == ' ') {
            id++;
        }
        sh_log(LOG_NOTICE, "Successful partial resynchronization with master.");
        t->handed = ids.offset;
        if (strlen(id) == 40 && strcmp(id, ids.replid) != 0) {
            struct rmsg *m = msg_new(RMSG_NEWID, NULL, 0);

            memcpy(m->replid, id, 41);
            sh_log(LOG_NOTICE, "Master replication ID changed to %s", id);
            replica_post(t->rep, t->l, m);
        }
        sh_log(LOG_NOTICE, "MASTER <-> REPLICA sync: Master accepted a Partial Resynchronization.");
        return 2;
    }
    if (strncmp(line, "-NOMASTERLINK", 13) == 0 || strncmp(line, "-LOADING", 8) == 0) {
        sh_log(LOG_NOTICE, "Master is currently unable to PSYNC but should be in the future: %s",
               line);
    } else {
        sh_log(LOG_WARNING, "Unexpected reply to PSYNC from master: %s", line);
    }
    return -1;
}

/* ---- the stream ---- */

/* Reads and drops what the master connection answered (its replies are
 * off); -1 when it is gone. */
static int drain_pair(struct lt *t)
{
    char buf[4096];

    for (;;) {
        ssize_t n = recv(t->pair, buf, sizeof(buf), MSG_DONTWAIT);

        if (n > 0) {
            continue;
        }
        if (n < 0 && (errno == EAGAIN || errno == EINTR)) {
            return 0;
        }
        return -1;
    }
}

static int pair_write(struct lt *t, const char *p, size_t n)
{
    while (n > 0) {
        ssize_t w = send(t->pair, p, n, MSG_NOSIGNAL | MSG_DONTWAIT);
        struct pollfd pf = { .fd = t->pair, .events = POLLOUT | POLLIN };

        if (w > 0) {
            p += w;
            n -= (size_t)w;
            continue;
        }
        if (w < 0 && errno != EAGAIN && errno != EINTR) {
            return -1;
        }
        if (stopped(t)) {
            return -1;
        }
        if (poll(&pf, 1, POLL_MS) > 0) {
            if ((pf.revents & (POLLERR | POLLHUP)) ||
                ((pf.revents & POLLIN) && drain_pair(t) != 0)) {
                return -1;
            }
        }
    }
    return 0;
}

/* The master connection's end for this thread (a new one after a kill). */
static int ensure_pair(struct lt *t)
{
    struct rlink *l = t->l;

    while (t->pair < 0) {
        bool ask_conn = false;

        pthread_mutex_lock(&t->rep->lock);
        if (l->pair_fd >= 0) {
            t->pair = l->pair_fd;
            l->pair_fd = -1;
            t->conn_asked = false;
            t->pair_fresh = true;
        } else if (!t->conn_asked) {
            ask_conn = true;
            t->conn_asked = true;
        }
        pthread_mutex_unlock(&t->rep->lock);
        if (t->pair >= 0) {
            break;
        }
        if (ask_conn) {
            replica_post(t->rep, l, msg_new(RMSG_CONN, NULL, 0));
        }
        if (stopped(t)) {
            return -1;
        }
        nap(t, POLL_MS);
    }
    fcntl(t->pair, F_SETFL, fcntl(t->pair, F_GETFL) | O_NONBLOCK);
    return 0;
}

static void pair_lost(struct lt *t)
{
    sh_log(LOG_NOTICE, "Replication: the master client was closed; reconnecting");
    close(t->pair);
    t->pair = -1;
}

/* Reads a number terminated by CR LF at p[*i..n): 1, 0 not whole yet, -1
 * not one. */
static int read_num(const char *p, size_t n, size_t *i, long long *v)
{
    size_t j = *i;
    long long x = 0;

    if (j >= n) {
        return 0;
    }
    for (; j < n && p[j] != '\r'; j++) {
        if (p[j] < '0' || p[j] > '9' || x > (1LL << 40)) {
            return -1;
        }
        x = x * 10 + (p[j] - '0');
    }
    if (j + 1 >= n) {
        return 0;
    }
    if (p[j + 1] != '\n' || j == *i) {
        return -1;
    }
    *i = j + 2;
    *v = x;
    return 1;
}

/* The end of the command at p[0..n): 0 when not whole yet, -1 when it is
 * not a RESP multibulk. Its first two arguments in a0/a1 (or empty). */
static long cmd_end(const char *p, size_t n, struct sh_slice *a0, struct sh_slice *a1)
{
    size_t i = 1;
    long long argc;
    int rc;

    *a0 = *a1 = (struct sh_slice){ "", 0 };
    if (n == 0) {
        return 0;
    }
    if (p[0] != '*') {
        return -1;
    }
    if ((rc = read_num(p, n, &i, &argc)) <= 0) {
        return rc;
    }
    if (argc < 1 || argc > 1024 * 1024) {
        return -1;
    }
    for (long long k = 0; k < argc; k++) {
        long long len;

        if (i >= n) {
            return 0;
        }
        if (p[i] != '$') {
            return -1;
        }
        i++;
        if ((rc = read_num(p, n, &i, &len)) <= 0) {
            return rc;
        }
        if ((size_t)len + 2 > n - i) {
            return 0;
        }
        if (p[i + (size_t)len] != '\r' || p[i + (size_t)len + 1] != '\n') {
            return -1;
        }
        if (k == 0) {
            *a0 = (struct sh_slice){ p + i, (size_t)len };
        } else if (k == 1) {
            *a1 = (struct sh_slice){ p + i, (size_t)len };
        }
        i += (size_t)len + 2;
    }
    return (long)i;
}

/* Hands the whole commands in t->in over: to the master connection, then
 * to the hub. 0, or -1 (the link must go). */
static int hand_over(struct lt *t)
{
    size_t at = t->parse_at, ready = 0;

    for (;;) {
        struct sh_slice a0, a1;
        long e = cmd_end(t->in.data + at, t->in.len - at, &a0, &a1);

        if (e < 0) {
            sh_log(LOG_WARNING, "Protocol error in the stream from MASTER; the link is dropped");
            return -1;
        }
        if (e == 0) {
            break;
        }
        at += (size_t)e;
        if (sh_slice_eq_nocase(a0, "select")) {
            long long db;

            t->db = util_str2ll(a1.ptr, a1.len, &db) ? (int)db : t->db;
        }
        if (!t->in_txn && sh_slice_eq_nocase(a0, "multi")) {
            t->in_txn = true;
        }
        if (t->in_txn) {
            if (sh_slice_eq_nocase(a0, "exec") || sh_slice_eq_nocase(a0, "discard")) {
                t->in_txn = false;
                ready = at;
            }
            continue;
        }
        if (sh_slice_eq_nocase(a0, "replconf") && sh_slice_eq_nocase(a1, "getack")) {
            t->ack_due = true;
            t->ack_target = t->handed + (long long)(at - (size_t)e);
        }
        ready = at;
    }
    t->parse_at = at;
    if (ready) {
        if (pair_write(t, t->in.data, ready) != 0) {
            pair_lost(t);
            return -1;
        }
        replica_post(t->rep, t->l, msg_new(RMSG_FEED, t->in.data, ready));
        t->handed += (long long)ready;
        rbuf_consume(&t->in, ready);
        t->parse_at -= ready;
    }
    pthread_mutex_lock(&t->rep->lock);
    if (t->rep->gen == t->l->gen) {
        t->rep->read_off = t->handed + (long long)t->in.len;
        t->rep->last_io_ms = sh_time_ms() - (mono_ms() - t->last_io_ms);
    }
    pthread_mutex_unlock(&t->rep->lock);
    return 0;
}

/* Applies the stream until the link fails: -1. */
static int stream(struct lt *t)
{
    int64_t last_ack = mono_ms();

    if (ensure_pair(t) != 0) {
        return -1;
    }
    if (t->pair_fresh && t->db > 0) {
        char cmd[64];
        int n = snprintf(cmd, sizeof(cmd), "*2\r\n$6\r\nSELECT\r\n$%d\r\n%d\r\n",
                         snprintf(NULL, 0, "%d", t->db), t->db);

        if (pair_write(t, cmd, (size_t)n) != 0) {
            pair_lost(t);
            return -1;
        }
    }
    t->pair_fresh = false;
    set_state(t, REPLICA_S_CONNECTED);
    for (;;) {
        struct pollfd pf[2] = { { .fd = t->fd, .events = POLLIN },
                                { .fd = t->pair, .events = POLLIN } };
        int64_t now;

        if (stopped(t)) {
            return -1;
        }
        reap_used(t->rep);
        if (hand_over(t) != 0) {
            return -1;
        }
        now = mono_ms();
        if ((t->ack_due && hub_offset(t) >= t->ack_target) || now - last_ack >= 1000) {
            if (send_ack(t) != 0) {
                sh_log(LOG_NOTICE, "Connection with master lost.");
                return -1;
            }
            t->ack_due = false;
            last_ack = now;
        }
        if (now - t->last_io_ms > t->l->timeout_s * 1000) {
            sh_log(LOG_WARNING, "MASTER timeout: no data nor PING received...");
            return -1;
        }
        poll(pf, 2, t->ack_due ? 1 : POLL_MS);
        if (pf[1].revents && drain_pair(t) != 0) {
            pair_lost(t);
            return -1;
        }
        if (pf[0].revents) {
            ssize_t got;

            rbuf_reserve(&t->in, READ_CHUNK);
            got = recv(t->fd, t->in.data + t->in.len, READ_CHUNK, MSG_DONTWAIT);
            if (got > 0) {
                t->in.len += (size_t)got;
                t->last_io_ms = mono_ms();
            } else if (got == 0 || (errno != EAGAIN && errno != EINTR)) {
                sh_log(LOG_NOTICE, "Connection with master lost.");
                return -1;
            }
        }
    }
}

/* One connection to the primary, from connect to its loss. */
static void session(struct lt *t)
{
    set_state(t, REPLICA_S_CONNECTING);
    t->last_io_ms = mono_ms();
    if (connect_primary(t) != 0) {
        return;
    }
    sh_log(LOG_NOTICE, "MASTER <-> REPLICA sync started");
    set_state(t, REPLICA_S_HANDSHAKE);
    if (handshake(t) != 0 || psync(t) < 0) {
        return;
    }
    stream(t);
}

static void *link_main(void *arg)
{
    struct lt t = { .l = arg, .fd = -1, .pair = -1 };

    t.rep = t.l->rep;
    rbuf_init(&t.in);
    log_thread_init(t.l->loglevel, "R");
    while (!stopped(&t)) {
        session(&t);
        if (t.fd >= 0) {
            close(t.fd);
            t.fd = -1;
        }
        /* what was not handed over comes again after the PSYNC */
        rbuf_fini(&t.in);
        rbuf_init(&t.in);
        t.parse_at = 0;
        t.in_txn = false;
        t.ack_due = false;
        if (stopped(&t)) {
            break;
        }
        set_state(&t, REPLICA_S_CONNECT);
        nap(&t, 1000);
    }
    if (t.pair >= 0) {
        close(t.pair);
    }
    rbuf_fini(&t.in);
    reap_used(t.rep);
    pthread_mutex_lock(&t.rep->lock);
    t.l->exited = true;
    pthread_mutex_unlock(&t.rep->lock);
    return NULL;
}

int rlink_start(struct rlink *l)
{
    int rc = pthread_create(&l->thread, NULL, link_main, l);

    if (rc != 0) {
        return -rc;
    }
    l->thread_ok = true;
    return 0;
}

void rlink_free(struct rlink *l)
{
    if (!l) {
        return;
    }
    if (l->pair_fd >= 0) {
        close(l->pair_fd);
    }
    sh_free(l->auth);
    sh_free(l->user);
    sh_free(l);
}
