/* latgen: an open-loop (fixed-rate) SET/GET load over many connections that
 * reports latency percentiles at that rate, for comparing servers "at the
 * same throughput" (issue 12's memtier p99 goal, where memtier_benchmark is
 * not installed).
 *
 * Each connection sends on its own fixed schedule (rate / conns per second,
 * the connections' schedules staggered). A request's latency is measured
 * from the time it was due, not from the time it was sent: when the server
 * (or this client) falls behind, the wait counts, as in wrk2 (no
 * "coordinated omission"). Requests due while earlier ones are unanswered
 * are pipelined behind them.
 *
 *   latgen -p PORT [-h 127.0.0.1] [-c 50] [-r 20000] [-t 10] [-w 2]
 *          [-k 100000] [-d 32] [-s 1] [-g 10] [-P]   (-P: prefill and exit)
 *
 * Prints one line of key=value pairs: requests (counted, i.e. due after
 * the warm-up and before the end, each answered: the run waits up to 5 s
 * for the last), rate (counted requests per second of the measured span),
 * p50/p90/p99/p999/max in microseconds, errors (error replies), misses
 * (null GET replies), behind (1 if a connection's backlog passed its bound
 * and the run was cut short: the rate is beyond the server or the client).
 *
 * Loopback only: the host must be in 127.0.0.0/8.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define HIST_US     (1u << 21) /* 1 us buckets up to ~2.1 s; beyond: the last */
#define MAX_BACKLOG 65536      /* requests due and unanswered on one connection */

struct lconn {
    int fd;
    uint64_t next_ns;    /* when its next request is due */
    uint64_t *due;       /* ring of due times of requests in flight */
    uint32_t head, tail; /* ring indexes (free-running) */
    char *out;
    size_t out_len, out_off, out_cap;
    char *in;
    size_t in_len, in_cap;
    int want_out;
};

static uint32_t *hist;
static uint64_t counted, errors, misses, max_ns;
static uint64_t rng = 0x9e3779b97f4a7c15ull;

static uint64_t now_ns(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static uint64_t next_rand(void)
{
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    return rng;
}

static void die(const char *what)
{
    fprintf(stderr, "latgen: %s: %s\n", what, strerror(errno));
    exit(2);
}

static void out_append(struct lconn *c, const char *p, size_t n)
{
    if (c->out_len + n > c->out_cap) {
        if (c->out_off > 0) {
            memmove(c->out, c->out + c->out_off, c->out_len - c->out_off);
            c->out_len -= c->out_off;
            c->out_off = 0;
        }
        while (c->out_len + n > c->out_cap)
            c->out_cap = c->out_cap ? c->out_cap * 2 : 4096;
        c->out = realloc(c->out, c->out_cap);
        if (c->out == NULL)
            die("realloc");
    }
    memcpy(c->out + c->out_len, p, n);
    c->out_len += n;
}

/* Appends one request for key number keyno: SET when set is true, else GET. */
static void add_request(struct lconn *c, long keyno, const char *value, int dsize, int set)
{
    char buf[128];
    char key[32];
    int kl = snprintf(key, sizeof(key), "key:%012ld", keyno);
    int n;

    if (set) {
        n = snprintf(buf, sizeof(buf), "*3\r\n$3\r\nSET\r\n$%d\r\n%s\r\n$%d\r\n", kl, key, dsize);
        out_append(c, buf, (size_t)n);
        out_append(c, value, (size_t)dsize);
        out_append(c, "\r\n", 2);
    } else {
        n = snprintf(buf, sizeof(buf), "*2\r\n$3\r\nGET\r\n$%d\r\n%s\r\n", kl, key);
        out_append(c, buf, (size_t)n);
    }
}

static int flush_out(struct lconn *c)
{
    while (c->out_off < c->out_len) {
        ssize_t w = send(c->fd, c->out + c->out_off, c->out_len - c->out_off, MSG_NOSIGNAL);
        if (w < 0) {
            if (errno == EAGAIN || errno == EWOULDBLOCK)
                return 1;
            die("send");
        }
        c->out_off += (size_t)w;
    }
    c->out_off = c->out_len = 0;
    return 0;
}

/* Length of the complete reply at p (n bytes), 0 when incomplete. Counts
 * errors and null bulks. Only the reply types SET and GET give. */
static size_t reply_len(const char *p, size_t n, int *err, int *null)
{
    const char *nl = memchr(p, '\n', n);
    size_t line;
    long blen;

    if (nl == NULL)
        return 0;
    line = (size_t)(nl - p) + 1;
    switch (p[0]) {
    case '+':
    case ':':
        return line;
    case '-':
        *err = 1;
        return line;
    case '$':
        blen = strtol(p + 1, NULL, 10);
        if (blen < 0) {
            *null = 1;
            return line;
        }
        if (n < line + (size_t)blen + 2)
            return 0;
        return line + (size_t)blen + 2;
    default:
        fprintf(stderr, "latgen: unexpected reply type '%c'\n", p[0]);
        exit(2);
    }
}

static void record(uint64_t lat_ns)
{
    uint64_t us = lat_ns / 1000;

    hist[us < HIST_US ? us : HIST_US - 1]++;
    if (lat_ns > max_ns)
        max_ns = lat_ns;
    counted++;
}

static void read_in(struct lconn *c, uint64_t warm_end)
{
    for (;;) {
        ssize_t r;
        size_t pos = 0;
        uint64_t t;

        if (c->in_cap - c->in_len < 65536) {
            c->in_cap = c->in_cap ? c->in_cap * 2 : 131072;
            c->in = realloc(c->in, c->in_cap);
            if (c->in == NULL)
                die("realloc");
        }
        r = recv(c->fd, c->in + c->in_len, c->in_cap - c->in_len, 0);
        if (r == 0) {
            fprintf(stderr, "latgen: the server closed a connection\n");
            exit(2);
        }
        if (r < 0) {
            if (errno == EAGAIN || errno == EWOULDBLOCK)
                return;
            die("recv");
        }
        c->in_len += (size_t)r;
        t = now_ns();
        for (;;) {
            int err = 0, null = 0;
            size_t l = reply_len(c->in + pos, c->in_len - pos, &err, &null);
            uint64_t due;

            if (l == 0)
                break;
            pos += l;
            if (c->head == c->tail) {
                fprintf(stderr, "latgen: a reply nobody asked for\n");
                exit(2);
            }
            due = c->due[c->head++ % MAX_BACKLOG];
            if (due >= warm_end) {
                record(t > due ? t - due : 0);
                errors += (uint64_t)err;
                misses += (uint64_t)null;
            }
        }
        memmove(c->in, c->in + pos, c->in_len - pos);
        c->in_len -= pos;
    }
}

static int connect_to(const char *host, int port)
{
    struct sockaddr_in sa = { .sin_family = AF_INET, .sin_port = htons((uint16_t)port) };
    int one = 1;
    int fd;

    if (inet_pton(AF_INET, host, &sa.sin_addr) != 1 || (ntohl(sa.sin_addr.s_addr) >> 24) != 127) {
        fprintf(stderr, "latgen: host must be a loopback address (127.0.0.0/8)\n");
        exit(2);
    }
    fd = socket(AF_INET, SOCK_STREAM, 0);
    if (fd < 0)
        die("socket");
    if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0)
        die("connect");
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    return fd;
}

static int fcntl_nonblock_failed(int fd)
{
    int fl = fcntl(fd, F_GETFL);

    return fl < 0 || fcntl(fd, F_SETFL, fl | O_NONBLOCK) < 0;
}

/* SET every key of the keyspace on one blocking connection, pipelined. */
static void prefill(const char *host, int port, long keyspace, const char *value, int dsize)
{
    struct lconn c = { .fd = connect_to(host, port) };
    long k = 0;

    if (fcntl_nonblock_failed(c.fd))
        die("fcntl");
    c.due = calloc(MAX_BACKLOG, sizeof(uint64_t));
    while (k < keyspace) {
        long end = k + 1000 < keyspace ? k + 1000 : keyspace;
        long want = end - k;

        for (; k < end; k++) {
            add_request(&c, k, value, dsize, 1);
            c.due[c.tail++ % MAX_BACKLOG] = 0;
        }
        while (want > 0) {
            uint32_t before = c.head;
            struct pollfd pf = { .fd = c.fd, .events = POLLIN };

            if (c.out_len > 0 && flush_out(&c) != 0)
                pf.events |= POLLOUT;
            if (poll(&pf, 1, 10000) <= 0) {
                fprintf(stderr, "latgen: prefill: no reply in 10 s\n");
                exit(2);
            }
            read_in(&c, UINT64_MAX);
            want -= (long)(c.head - before);
        }
    }
    close(c.fd);
}

static void usage(void)
{
    fprintf(stderr,
            "usage: latgen -p PORT [-h HOST] [-c CONNS] [-r RATE] [-t SECONDS] [-w WARMUP]\n"
            "              [-k KEYSPACE] [-d DATASIZE] [-s SETS] [-g GETS] [-P]\n");
    exit(2);
}

int main(int argc, char **argv)
{
    const char *host = "127.0.0.1";
    int port = 0, conns = 50, dsize = 32, sets = 1, gets = 10, do_prefill = 0;
    double rate = 20000, secs = 10, warm = 2;
    long keyspace = 100000;
    uint64_t interval, start, warm_end, end, issued = 0;
    struct lconn *cs;
    char *value;
    int ep, opt, behind = 0;

    while ((opt = getopt(argc, argv, "h:p:c:r:t:w:k:d:s:g:P")) != -1) {
        switch (opt) {
        case 'h':
            host = optarg;
            break;
        case 'p':
            port = atoi(optarg);
            break;
        case 'c':
            conns = atoi(optarg);
            break;
        case 'r':
            rate = atof(optarg);
            break;
        case 't':
            secs = atof(optarg);
            break;
        case 'w':
            warm = atof(optarg);
            break;
        case 'k':
            keyspace = atol(optarg);
            break;
        case 'd':
            dsize = atoi(optarg);
            break;
        case 's':
            sets = atoi(optarg);
            break;
        case 'g':
            gets = atoi(optarg);
            break;
        case 'P':
            do_prefill = 1;
            break;
        default:
            usage();
        }
    }
    if (port <= 0 || conns <= 0 || rate <= 0 || secs <= 0 || warm < 0 || keyspace <= 0 ||
        dsize <= 0 || dsize > 1 << 20 || sets < 0 || gets < 0 || sets + gets == 0)
        usage();
    value = malloc((size_t)dsize);
    memset(value, 'x', (size_t)dsize);
    if (do_prefill) {
        prefill(host, port, keyspace, value, dsize);
        printf("prefilled=%ld\n", keyspace);
        return 0;
    }
    hist = calloc(HIST_US, sizeof(uint32_t));
    cs = calloc((size_t)conns, sizeof(*cs));
    ep = epoll_create1(0);
    if (hist == NULL || cs == NULL || ep < 0)
        die("setup");
    interval = (uint64_t)(1e9 * conns / rate);
    start = now_ns() + 10000000; /* 10 ms from now: every connection is up */
    for (int i = 0; i < conns; i++) {
        struct epoll_event ev = { .events = EPOLLIN, .data.u32 = (uint32_t)i };
        cs[i].fd = connect_to(host, port);
        cs[i].due = calloc(MAX_BACKLOG, sizeof(uint64_t));
        cs[i].next_ns = start + interval * (uint64_t)i / (uint64_t)conns;
        if (cs[i].due == NULL || fcntl_nonblock_failed(cs[i].fd) ||
            epoll_ctl(ep, EPOLL_CTL_ADD, cs[i].fd, &ev) < 0)
            die("connection setup");
    }
    warm_end = start + (uint64_t)(warm * 1e9);
    end = warm_end + (uint64_t)(secs * 1e9);
    for (;;) {
        uint64_t now = now_ns(), wake = end;
        struct epoll_event evs[256];
        struct timespec to;
        int n, draining = now >= end, inflight = 0;

        if (draining) {
            /* every request due before the end is answered, or 5 s pass */
            for (int i = 0; i < conns; i++)
                inflight |= cs[i].tail != cs[i].head;
            if (!inflight || now >= end + 5000000000ull) {
                behind |= inflight;
                break;
            }
            wake = now + 1000000;
        }
        for (int i = 0; i < conns; i++) {
            struct lconn *c = &cs[i];
            int added = 0;

            while (c->next_ns <= now && c->next_ns < end) {
                if (c->tail - c->head >= MAX_BACKLOG) {
                    behind = 1;
                    goto done;
                }
                add_request(c, (long)(next_rand() % (uint64_t)keyspace), value, dsize,
                            (int)(issued++ % (uint64_t)(sets + gets)) < sets);
                c->due[c->tail++ % MAX_BACKLOG] = c->next_ns;
                c->next_ns += interval;
                added = 1;
            }
            if (added && !c->want_out && flush_out(c) != 0) {
                struct epoll_event ev = { .events = EPOLLIN | EPOLLOUT, .data.u32 = (uint32_t)i };
                c->want_out = 1;
                epoll_ctl(ep, EPOLL_CTL_MOD, c->fd, &ev);
            }
            if (c->next_ns < wake && c->next_ns < end)
                wake = c->next_ns;
        }
        now = now_ns();
        to.tv_sec = 0;
        to.tv_nsec = wake > now ? (long)(wake - now) : 0;
        if (to.tv_nsec >= 1000000000) {
            to.tv_sec = to.tv_nsec / 1000000000;
            to.tv_nsec %= 1000000000;
        }
        n = epoll_pwait2(ep, evs, 256, &to, NULL);
        if (n < 0 && errno != EINTR)
            die("epoll_pwait2");
        for (int e = 0; e < n; e++) {
            struct lconn *c = &cs[evs[e].data.u32];

            if ((evs[e].events & EPOLLOUT) && flush_out(c) == 0) {
                struct epoll_event ev = { .events = EPOLLIN, .data.u32 = evs[e].data.u32 };
                c->want_out = 0;
                epoll_ctl(ep, EPOLL_CTL_MOD, c->fd, &ev);
            }
            if (evs[e].events & (EPOLLIN | EPOLLERR | EPOLLHUP))
                read_in(c, warm_end);
        }
    }
done:;
    uint64_t seen = 0, p[4] = { 0, 0, 0, 0 };
    const double qs[4] = { 0.50, 0.90, 0.99, 0.999 };
    int qi = 0;

    for (uint32_t us = 0; us < HIST_US && qi < 4; us++) {
        seen += hist[us];
        while (qi < 4 && counted > 0 && (double)seen >= qs[qi] * (double)counted)
            p[qi++] = us;
    }
    printf("requests=%llu rate=%.0f p50_us=%llu p90_us=%llu p99_us=%llu p999_us=%llu "
           "max_us=%llu errors=%llu misses=%llu behind=%d\n",
           (unsigned long long)counted, (double)counted / secs, (unsigned long long)p[0],
           (unsigned long long)p[1], (unsigned long long)p[2], (unsigned long long)p[3],
           (unsigned long long)(max_ns / 1000), (unsigned long long)errors,
           (unsigned long long)misses, behind);
    return behind ? 3 : 0;
}
