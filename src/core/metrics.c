/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * metrics.c: GET /metrics for Prometheus, served by shard 0's io_uring loop.
 *
 * One listener, on shard 0 only: a scrape is a rare, server-wide question
 * (every shard's figures, merged), so one core answering it is enough, and
 * with SO_REUSEPORT across shards each one would fan out to every shard all
 * the same. The metrics listener does not set SO_REUSEPORT, so a second
 * server (or the client port) on the same port fails at start.
 *
 * Connections are plain io_uring operations of this layer (shard_io, whose
 * completions shard.c hands back untouched): a single-shot accept re-armed
 * after each completion, one recv into the connection's own bounded buffer
 * (METRICS_REQ_MAX bytes: the request line and headers), one sendmsg of the
 * header and the shared body. A timer armed only while connections exist
 * (or the accept waits for descriptors) ends the slow ones:
 *
 *   accept -> READ --request--> WAIT (queued for a scrape) --figures--> SEND
 *   READ --bad, 404, 405, busy, timeout--> SEND --sent--> LINGER --EOF--> free
 *
 * After its response a connection shuts its write side and reads what the
 * client still sends until EOF or METRICS_LINGER_MS (so an unread request
 * body does not turn the close into a reset that loses the response).
 * Every response closes the connection (Connection: close); a client sends
 * one request per connection, as HTTP/1.0 does.
 *
 * The figures are gathered without locks, the way INFO gathers them: two
 * coordinators (route.h) of the server's own client (conn_internal), one
 * running "INFO everything" through INFO's own gather, whose merged text is
 * captured here instead of being replied, and one running LATENCY
 * HISTOGRAM's parts, merged here (diag_hist_merge). Requests that arrive
 * while a scrape runs queue for the next one, so each answer holds figures
 * read after its request came, and a burst of scrapes costs one gather.
 * A scrape starts from a NOP completion (the next loop iteration), never
 * from inside another coordinator's merge.
 *
 * The text: INFO's fields under redis_exporter's names (a table below),
 * commandstats, errorstats, latencystats and keyspace with its labels,
 * INFO shards with a shard label, and each command's latency histogram as a
 * Prometheus histogram in microseconds (redis_exporter's redis_latency_usec),
 * with fixed buckets: the power-of-two levels LATENCY HISTOGRAM reports.
 *
 * Threading: shard 0's thread only (the state hangs off a thread-local
 * pointer, set by metrics_setup on that thread).
 */
#include "shardis/metrics.h"

#include "metrics_text.h"
#include "shardis/cmdtab.h"
#include "shardis/conn.h"
#include "shardis/diag.h"
#include "shardis/latency.h"
#include "shardis/log.h"
#include "shardis/reply.h"
#include "shardis/route.h"
#include "shardis/shard.h"

#include <errno.h>
#include <netdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

#define METRICS_REQ_MAX          8192 /* request line and headers */
#define METRICS_MAX_CONNS        512
#define METRICS_READ_TIMEOUT_MS  5000
#define METRICS_WRITE_TIMEOUT_MS 10000
#define METRICS_LINGER_MS        2000
#define METRICS_TICK_MS          250

enum mstate { MC_READ, MC_WAIT, MC_SEND, MC_LINGER, MC_DEAD };

struct mconn {
    struct shard_io rio; /* recv completions */
    struct shard_io sio; /* send completions */
    struct metrics *m;
    struct mconn *prev, *next; /* every connection */
    struct mconn *wait_next;   /* queued for a scrape */
    int fd;
    enum mstate state;
    bool recv_armed, send_armed;
    bool head; /* HEAD: the header alone */
    int64_t deadline_ms;
    size_t len; /* request bytes in req */
    char req[METRICS_REQ_MAX];
    struct rbuf hdr;           /* the response's head (and an error's text) */
    struct metrics_body *body; /* a 200's text, shared */
    size_t sent;               /* bytes of hdr then body sent */
    struct iovec iov[2];
    struct msghdr msg;
};

/* One scrape: two coordinators, then the text. */
struct mgather {
    struct metrics *m;
    int pending;                /* coordinators not done, +1 while starting */
    struct rbuf info;           /* INFO everything, as its RESP2 bulk reply */
    struct latency_hist **hist; /* [cmdtab_nids()], merged */
    struct mconn *waiters;
};

struct metrics {
    struct shard *sh;
    int fd;
    struct shard_io accept_io, tick_io, kick_io;
    struct __kernel_timespec tick_ts;
    bool accept_armed, accept_paused, tick_armed, kick_armed;
    struct mconn *conns;
    int nconns;
    struct mconn *queued, **queued_tail;
    struct mgather *cur;
};

static _Thread_local struct metrics *metrics_here;

static void mconn_respond(struct mconn *c, int code, struct metrics_body *body);
static void mconn_close(struct mconn *c);
static void mconn_maybe_free(struct mconn *c);

/* ---- the scrape: INFO's and LATENCY HISTOGRAM's parts, merged here ---- */

static void scrape_part_done(struct mgather *g);

/* INFO everything on every shard, through INFO's own gather. */
static void start_info(struct coord *co)
{
    static const struct sh_slice argv[] = { { "info", 4 }, { "everything", 10 } };

    sh_free(co->argv);
    co->argv = sh_slices_dup(2, argv);
    co->argc = 2;
    co->cmd->gather->start(co);
}

/* INFO's merge writes its text here instead of to the client. */
static bool done_info(struct coord *co, struct reply *r)
{
    struct mgather *g = co->ext;
    struct reply capture = { .buf = &g->info, .proto = 2 };

    (void)r; /* the server's own client gets an empty reply */
    if (!co->cmd->gather->done(co, &capture)) {
        return false;
    }
    scrape_part_done(g);
    return true;
}

static void start_hist(struct coord *co)
{
    coord_fanout(co, co->cmd); /* each shard's histograms (diag_hist_part) */
}

static bool done_hist(struct coord *co, struct reply *r)
{
    struct mgather *g = co->ext;
    int nids = cmdtab_nids();

    (void)r;
    g->hist = sh_calloc((size_t)nids, sizeof(*g->hist));
    for (int p = 0; p < co->nshards; p++) {
        struct sh_slice t = coord_part(co, p);

        (void)diag_hist_merge(&t, g->hist, nids);
    }
    scrape_part_done(g);
    return true;
}

static const struct gather gather_info_capture = { .start = start_info, .done = done_info };
static const struct gather gather_hist_capture = { .start = start_hist, .done = done_hist };

static void mgather_free(struct mgather *g)
{
    rbuf_fini(&g->info);
    if (g->hist) {
        diag_hist_free(g->hist, cmdtab_nids());
    }
    sh_free(g);
}

static void arm_kick(struct metrics *m)
{
    struct io_uring_sqe *sqe;

    if (m->kick_armed) {
        return;
    }
    sqe = shard_get_sqe(m->sh);
    io_uring_prep_nop(sqe);
    io_uring_sqe_set_data64(sqe, shard_io_data(&m->kick_io));
    m->kick_armed = true;
}

/* Both parts are back: one text for every waiter. */
static void scrape_part_done(struct mgather *g)
{
    struct metrics *m = g->m;
    struct metrics_body *body;

    if (--g->pending > 0) {
        return;
    }
    body = metrics_text_render(m->sh->now_ms, &g->info, g->hist);
    while (g->waiters) {
        struct mconn *c = g->waiters;

        g->waiters = c->wait_next;
        c->wait_next = NULL;
        mconn_respond(c, 200, body);
    }
    metrics_body_unref(body);
    m->cur = NULL;
    mgather_free(g);
    if (m->queued) {
        arm_kick(m); /* those that came meanwhile: the next scrape */
    }
}

static struct mconn *take_queued(struct metrics *m)
{
    struct mconn *c = m->queued;

    m->queued = NULL;
    m->queued_tail = &m->queued;
    return c;
}

/* Starts a scrape for every queued request (from the NOP's completion). */
static void scrape_start(struct metrics *m)
{
    struct shard *sh = m->sh;
    const struct cmd_spec *info = cmdtab_lookup("info", 4);
    const struct cmd_spec *hist = cmdtab_lookup_fullname("latency|histogram", 17);
    struct mgather *g;
    struct conn *self;

    if (sh->busy || sh->stopping || !info || !info->gather || !hist || !hist->proc) {
        /* a script runs on this very core (its commands must not run
         * now), or the server is going */
        for (struct mconn *c = take_queued(m), *next; c; c = next) {
            next = c->wait_next;
            c->wait_next = NULL;
            mconn_respond(c, 503, NULL);
        }
        return;
    }
    g = sh_calloc(1, sizeof(*g));
    g->m = m;
    g->waiters = take_queued(m);
    g->pending = 3;
    m->cur = g;
    self = conn_internal(sh);
    coord_start_txn(self, info, &gather_info_capture, g, 0, 0, NULL, false);
    coord_start_txn(self, hist, &gather_hist_capture, g, 0, 0, NULL, false);
    scrape_part_done(g); /* the starter's own count: with one shard all is done */
}

static void on_kick(struct shard *sh, struct shard_io *io, int res)
{
    struct metrics *m = (struct metrics *)((char *)io - offsetof(struct metrics, kick_io));

    (void)sh;
    (void)res;
    m->kick_armed = false;
    if (!m->cur && m->queued) {
        scrape_start(m);
    }
}

/* ---- HTTP ---- */

static bool slice_is(struct sh_slice s, const char *w)
{
    return s.len == strlen(w) && memcmp(s.ptr, w, s.len) == 0;
}

static bool is_tchar(unsigned char ch)
{
    return (ch >= '0' && ch <= '9') || (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
           (ch && strchr("!#$%&'*+-.^_`|~", ch));
}

static bool all_tchars(const char *p, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        if (!is_tchar((unsigned char)p[i])) {
            return false;
        }
    }
    return n > 0;
}

/* Where the request's head ends (past its empty line) in req[0..len), or 0
 * while it is incomplete. A bare LF ends a line too. */
static size_t head_end(const char *req, size_t len)
{
    for (size_t i = 0; i + 1 < len; i++) {
        if (req[i] != '\n') {
            continue;
        }
        if (req[i + 1] == '\n') {
            return i + 2;
        }
        if (req[i + 1] == '\r' && i + 2 < len && req[i + 2] == '\n') {
            return i + 3;
        }
    }
    return 0;
}

/* The next line of the head at *at (without its CR LF); false past the
 * end. A CR elsewhere than before the LF makes the line bad (*bad). */
static bool next_line(const char *req, size_t end, size_t *at, struct sh_slice *line, bool *bad)
{
    const char *nl;

    if (*at >= end) {
        return false;
    }
    nl = memchr(req + *at, '\n', end - *at);
    if (!nl) {
        return false;
    }
    line->ptr = req + *at;
    line->len = (size_t)(nl - line->ptr);
    *at = (size_t)(nl - req) + 1;
    if (line->len && line->ptr[line->len - 1] == '\r') {
        line->len--;
    }
    for (size_t i = 0; i < line->len; i++) {
        unsigned char ch = (unsigned char)line->ptr[i];

        if ((ch < 0x20 && ch != '\t') || ch == 0x7f) {
            *bad = true;
        }
    }
    return true;
}

/* Headers: "name: value" lines, no folding; an HTTP/1.1 request names
 * exactly one Host. Returns 0 or 400. */
static int http_headers(const char *req, size_t end, size_t at, bool http11)
{
    struct sh_slice line;
    bool bad = false;
    int hosts = 0;

    while (next_line(req, end, &at, &line, &bad) && line.len) {
        const char *colon = memchr(line.ptr, ':', line.len);

        if (bad || !colon || !all_tchars(line.ptr, (size_t)(colon - line.ptr))) {
            return 400;
        }
        if (colon - line.ptr == 4 && strncasecmp(line.ptr, "host", 4) == 0) {
            hosts++;
        }
    }
    return bad || (http11 && hosts != 1) ? 400 : 0;
}

/* The path of a request target: origin form, or absolute form whose
 * scheme and authority are skipped; without query or fragment. */
static struct sh_slice target_path(struct sh_slice t)
{
    size_t at = 0, end;

    if (t.len > 7 &&
        (strncasecmp(t.ptr, "http://", 7) == 0 || strncasecmp(t.ptr, "https://", 8) == 0)) {
        const char *slash = memchr(t.ptr + 8, '/', t.len - 8);

        at = slash ? (size_t)(slash - t.ptr) : t.len;
    }
    for (end = at; end < t.len && t.ptr[end] != '?' && t.ptr[end] != '#'; end++) {
    }
    return (struct sh_slice){ t.ptr + at, end - at };
}

/* The request in c->req[0..len): 0 while its head is incomplete, else the
 * status to answer (200: a GET or HEAD of /metrics; c->head for HEAD). */
static int http_parse(struct mconn *c)
{
    size_t end = head_end(c->req, c->len), at = 0, sp1, sp2;
    struct sh_slice line, method, target, version;
    bool bad = false;
    int rc;

    if (!end) {
        return 0;
    }
    while (at < end && (c->req[at] == '\r' || c->req[at] == '\n')) {
        at++; /* empty lines before the request line are ignored (RFC 9112) */
    }
    if (!next_line(c->req, end, &at, &line, &bad) || bad || !line.len) {
        return 400;
    }
    for (sp1 = 0; sp1 < line.len && line.ptr[sp1] != ' '; sp1++) {
    }
    for (sp2 = sp1 + 1; sp2 < line.len && line.ptr[sp2] != ' '; sp2++) {
    }
    if (sp2 >= line.len || memchr(line.ptr + sp2 + 1, ' ', line.len - sp2 - 1)) {
        return 400;
    }
    method = (struct sh_slice){ line.ptr, sp1 };
    target = (struct sh_slice){ line.ptr + sp1 + 1, sp2 - sp1 - 1 };
    version = (struct sh_slice){ line.ptr + sp2 + 1, line.len - sp2 - 1 };
    if (!all_tchars(method.ptr, method.len) || method.len > 32 || !target.len ||
        memchr(target.ptr, '\t', target.len)) {
        return 400;
    }
    if (version.len != 8 || memcmp(version.ptr, "HTTP/", 5) != 0 || version.ptr[6] != '.' ||
        version.ptr[5] < '0' || version.ptr[5] > '9' || version.ptr[7] < '0' ||
        version.ptr[7] > '9') {
        return 400;
    }
    if (version.ptr[5] != '1' || version.ptr[7] > '1') {
        return 505;
    }
    rc = http_headers(c->req, end, at, version.ptr[7] == '1');
    if (rc) {
        return rc;
    }
    c->head = slice_is(method, "HEAD"); /* an error's head alone too */
    if (!slice_is(target_path(target), "/metrics")) {
        return 404;
    }
    return slice_is(method, "GET") || c->head ? 200 : 405;
}

static struct mconn *mconn_of_rio(struct shard_io *io)
{
    return (struct mconn *)((char *)io - offsetof(struct mconn, rio));
}

static struct mconn *mconn_of_sio(struct shard_io *io)
{
    return (struct mconn *)((char *)io - offsetof(struct mconn, sio));
}

static int64_t now_ms(const struct metrics *m)
{
    return m->sh->mono_us / 1000;
}

static void arm_recv(struct mconn *c)
{
    struct io_uring_sqe *sqe = shard_get_sqe(c->m->sh);
    size_t at = c->state == MC_READ ? c->len : 0; /* lingering: read and drop */

    io_uring_prep_recv(sqe, c->fd, c->req + at, sizeof(c->req) - at, 0);
    io_uring_sqe_set_data64(sqe, shard_io_data(&c->rio));
    c->recv_armed = true;
}

static void arm_send(struct mconn *c)
{
    struct io_uring_sqe *sqe = shard_get_sqe(c->m->sh);
    size_t blen = c->body && !c->head ? c->body->text.len : 0;
    int n = 0;

    if (c->sent < c->hdr.len) {
        c->iov[n++] = (struct iovec){ c->hdr.data + c->sent, c->hdr.len - c->sent };
        if (blen) {
            c->iov[n++] = (struct iovec){ c->body->text.data, blen };
        }
    } else {
        c->iov[n++] = (struct iovec){ c->body->text.data + (c->sent - c->hdr.len),
                                      blen - (c->sent - c->hdr.len) };
    }
    memset(&c->msg, 0, sizeof(c->msg));
    c->msg.msg_iov = c->iov;
    c->msg.msg_iovlen = (size_t)n;
    io_uring_prep_sendmsg(sqe, c->fd, &c->msg, MSG_NOSIGNAL);
    io_uring_sqe_set_data64(sqe, shard_io_data(&c->sio));
    c->send_armed = true;
}

static const struct {
    int code;
    const char *reason;
} http_reasons[] = {
    { 200, "OK" },
    { 400, "Bad Request" },
    { 404, "Not Found" },
    { 405, "Method Not Allowed" },
    { 408, "Request Timeout" },
    { 503, "Service Unavailable" },
    { 505, "HTTP Version Not Supported" },
};

/* Answers c and closes it once sent: code with body (200, borrowed: a
 * reference is taken) or a one-line text of the reason. */
static void mconn_respond(struct mconn *c, int code, struct metrics_body *body)
{
    const char *reason = "Error";
    char line[256];
    size_t blen;
    int n;

    if (c->state != MC_READ && c->state != MC_WAIT) {
        return; /* answered already, or closing */
    }
    for (size_t i = 0; i < SH_ARRAY_LEN(http_reasons); i++) {
        if (http_reasons[i].code == code) {
            reason = http_reasons[i].reason;
        }
    }
    if (body) {
        body->refs++;
        c->body = body;
    }
    blen = body ? body->text.len : strlen(reason) + 1;
    n = snprintf(line, sizeof(line),
                 "HTTP/1.1 %d %s\r\nContent-Type: text/plain; %scharset=utf-8\r\n"
                 "Content-Length: %zu\r\n%sConnection: close\r\n\r\n",
                 code, reason, body ? "version=0.0.4; " : "", blen,
                 code == 405 ? "Allow: GET, HEAD\r\n" : "");
    rbuf_append(&c->hdr, line, (size_t)n);
    if (!body && !c->head) {
        rbuf_append(&c->hdr, reason, strlen(reason));
        rbuf_append(&c->hdr, "\n", 1);
    }
    c->state = MC_SEND;
    c->sent = 0;
    c->deadline_ms = now_ms(c->m) + METRICS_WRITE_TIMEOUT_MS;
    arm_send(c);
}

static void mconn_close(struct mconn *c)
{
    if (c->state == MC_DEAD) {
        return;
    }
    c->state = MC_DEAD;
    /* ends a pending recv (EOF) and fails a pending send */
    shutdown(c->fd, SHUT_RDWR);
}

/* Frees c once closed and no operation of it is in flight. Callers use c
 * no more after it. */
static void mconn_maybe_free(struct mconn *c)
{
    struct metrics *m = c->m;

    if (c->state != MC_DEAD || c->recv_armed || c->send_armed) {
        return;
    }
    if (c->prev) {
        c->prev->next = c->next;
    } else {
        m->conns = c->next;
    }
    if (c->next) {
        c->next->prev = c->prev;
    }
    m->nconns--;
    close(c->fd);
    metrics_body_unref(c->body);
    rbuf_fini(&c->hdr);
    sh_free(c);
}

static void on_request(struct mconn *c)
{
    struct metrics *m = c->m;
    int code = http_parse(c);

    if (code == 0) {
        if (c->len == sizeof(c->req)) {
            mconn_respond(c, 400, NULL); /* a head past METRICS_REQ_MAX */
        } else {
            arm_recv(c);
        }
        return;
    }
    if (code != 200) {
        mconn_respond(c, code, NULL);
        return;
    }
    c->state = MC_WAIT;
    *m->queued_tail = c;
    m->queued_tail = &c->wait_next;
    if (!m->cur) {
        arm_kick(m);
    }
}

static void on_recv(struct shard *sh, struct shard_io *io, int res)
{
    struct mconn *c = mconn_of_rio(io);

    (void)sh;
    c->recv_armed = false;
    if (c->state == MC_DEAD) {
        mconn_maybe_free(c);
        return;
    }
    if (res <= 0) {
        /* the peer is gone or done sending: a request cut short, or the
         * end of a linger; an answer being sent goes on */
        if (c->state == MC_READ || c->state == MC_LINGER) {
            mconn_close(c);
            mconn_maybe_free(c);
        }
        return;
    }
    if (c->state == MC_READ) {
        c->len += (size_t)res;
        on_request(c);
    } else if (c->state == MC_LINGER) {
        arm_recv(c);
    }
    /* MC_SEND: bytes past the request are dropped; the linger reads on */
}

static void on_send(struct shard *sh, struct shard_io *io, int res)
{
    struct mconn *c = mconn_of_sio(io);
    size_t total;

    (void)sh;
    c->send_armed = false;
    if (c->state != MC_SEND || res <= 0) {
        mconn_close(c);
        mconn_maybe_free(c);
        return;
    }
    c->sent += (size_t)res;
    total = c->hdr.len + (c->body && !c->head ? c->body->text.len : 0);
    if (c->sent < total) {
        arm_send(c);
        return;
    }
    shutdown(c->fd, SHUT_WR);
    c->state = MC_LINGER;
    c->deadline_ms = now_ms(c->m) + METRICS_LINGER_MS;
    metrics_body_unref(c->body);
    c->body = NULL;
    if (!c->recv_armed) {
        arm_recv(c);
    }
}

/* ---- the listener and the timer ---- */

static void arm_tick(struct metrics *m)
{
    struct io_uring_sqe *sqe;

    if (m->tick_armed) {
        return;
    }
    sqe = shard_get_sqe(m->sh);
    io_uring_prep_timeout(sqe, &m->tick_ts, 0, 0);
    io_uring_sqe_set_data64(sqe, shard_io_data(&m->tick_io));
    m->tick_armed = true;
}

static void arm_accept(struct metrics *m)
{
    struct io_uring_sqe *sqe = shard_get_sqe(m->sh);

    io_uring_prep_accept(sqe, m->fd, NULL, NULL, SOCK_CLOEXEC);
    io_uring_sqe_set_data64(sqe, shard_io_data(&m->accept_io));
    m->accept_armed = true;
}

static void mconn_new(struct metrics *m, int fd)
{
    struct mconn *c = sh_calloc(1, sizeof(*c));

    c->m = m;
    c->fd = fd;
    c->rio.done = on_recv;
    c->sio.done = on_send;
    c->state = MC_READ;
    c->deadline_ms = now_ms(m) + METRICS_READ_TIMEOUT_MS;
    rbuf_init(&c->hdr);
    c->next = m->conns;
    if (m->conns) {
        m->conns->prev = c;
    }
    m->conns = c;
    m->nconns++;
    arm_recv(c);
    arm_tick(m);
}

static void on_accept(struct shard *sh, struct shard_io *io, int res)
{
    struct metrics *m = (struct metrics *)((char *)io - offsetof(struct metrics, accept_io));

    m->accept_armed = false;
    if (res >= 0) {
        if (sh->stopping || m->nconns >= METRICS_MAX_CONNS) {
            close(res);
        } else {
            mconn_new(m, res);
        }
    } else if (res == -EMFILE || res == -ENFILE || res == -ENOMEM || res == -ENOBUFS) {
        /* retried from the timer: at once it would fail again, in a loop */
        m->accept_paused = true;
        arm_tick(m);
        return;
    } else if (res == -EINVAL || res == -EBADF || res == -ECANCELED || res == -ENOTSOCK) {
        sh_log(LOG_WARNING, "metrics: accept stopped: %s", strerror(-res));
        return;
    }
    if (!sh->stopping) {
        arm_accept(m);
    }
}

/* Every METRICS_TICK_MS while connections exist: the slow ones end. */
static void on_tick(struct shard *sh, struct shard_io *io, int res)
{
    struct metrics *m = (struct metrics *)((char *)io - offsetof(struct metrics, tick_io));
    int64_t now = now_ms(m);

    (void)res;
    m->tick_armed = false;
    for (struct mconn *c = m->conns, *next; c; c = next) {
        next = c->next;
        if (now < c->deadline_ms || c->state == MC_WAIT || c->state == MC_DEAD) {
            continue;
        }
        if (c->state == MC_READ) {
            mconn_respond(c, 408, NULL);
        } else {
            mconn_close(c);
            mconn_maybe_free(c);
        }
    }
    if (m->accept_paused && !sh->stopping) {
        m->accept_paused = false;
        arm_accept(m);
    }
    if (m->nconns > 0 || m->accept_paused) {
        arm_tick(m);
    }
}

int metrics_setup(struct shard *sh)
{
    struct metrics *m;
    int fd;

    if (sh->id != 0 || sh->cfg.metrics_port <= 0) {
        return 0;
    }
    /* no SO_REUSEPORT: a port taken by anyone (the client port included)
     * fails the start */
    fd = shard_listen(sh->cfg.metrics_bind, (int)sh->cfg.metrics_port, (int)sh->cfg.tcp_backlog,
                      false, "metrics-bind");
    if (fd < 0) {
        sh_log(LOG_WARNING, "Could not create metrics listening socket %s:%lld: %s",
               sh->cfg.metrics_bind, sh->cfg.metrics_port, strerror(-fd));
        return fd;
    }
    m = sh_calloc(1, sizeof(*m));
    m->sh = sh;
    m->fd = fd;
    m->accept_io.done = on_accept;
    m->tick_io.done = on_tick;
    m->kick_io.done = on_kick;
    m->tick_ts.tv_nsec = METRICS_TICK_MS * 1000000LL;
    m->queued_tail = &m->queued;
    metrics_here = m;
    arm_accept(m);
    sh_log(LOG_NOTICE, "Prometheus metrics at http://%s:%lld/metrics", sh->cfg.metrics_bind,
           sh->cfg.metrics_port);
    return 0;
}

void metrics_fini(struct shard *sh)
{
    struct metrics *m = metrics_here;

    if (!m || m->sh != sh) {
        return;
    }
    while (m->conns) {
        struct mconn *c = m->conns;

        m->conns = c->next;
        close(c->fd);
        metrics_body_unref(c->body);
        rbuf_fini(&c->hdr);
        sh_free(c);
    }
    if (m->cur) {
        /* its coordinators never end now: nothing reads it again */
        mgather_free(m->cur);
    }
    close(m->fd);
    sh_free(m);
    metrics_here = NULL;
}
