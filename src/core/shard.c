/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * shard.c: the shard thread and its io_uring event loop.
 *
 * One iteration:
 *
 *   reap every CQE (accepts, recv data -> parse -> run/route, send results)
 *   drain inbound mailboxes (requests -> run -> reply; replies -> slots)
 *   retry paused connections, run the timer (expiry, idle clients, rehash)
 *   publish outbound mailboxes, MSG_RING the shards that sleep
 *   start one send per connection with output
 *   one io_uring_enter: submit everything, and sleep in it when idle
 *
 * The ring is created inside the pinned thread with SINGLE_ISSUER |
 * DEFER_TASKRUN, so completions are only ever processed when this loop asks
 * for them. user_data carries a pointer with a 3-bit tag (connections are
 * 16-byte aligned) or a bare tag for events with no object.
 *
 * The shard's log lines go to its own buffer (log.h): the loop's last step
 * before the submit starts one write of them on this ring, and shutdown
 * waits for that write before the ring goes, then writes the rest with
 * write(2).
 */
#include "shardis/shard.h"

#include "shardis/acl.h"
#include "shardis/block.h"
#include "shardis/cmdtab.h"
#include "shardis/conn.h"
#include "shardis/diag.h"
#include "shardis/evict.h"
#include "shardis/kdb.h"
#include "shardis/latency.h"
#include "shardis/log.h"
#include "shardis/metrics.h"
#include "shardis/prefetch.h"
#include "shardis/pubsub.h"
#include "shardis/route.h"
#include "shardis/slowlog.h"
#include "shardis/tracking.h"

#include <xxhash.h>

#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sched.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

#define RING_ENTRIES      4096
#define CQ_ENTRIES        16384
/* The receive ring: the kernel takes its buffers in turn, so all of them
 * become resident under load: 512 KB per shard (it was 256 x 16 KB = 4 MB,
 * 6.6 bytes of RSS per key at 632k keys). A command pipeline of a few KB
 * fits one buffer; more bytes take several completions. A burst of more
 * receives than buffers between two reaps ends those multishot receives
 * with ENOBUFS, and they are armed again (conn_on_recv). */
#define BUF_COUNT         128
#define BUF_SIZE          (4 * 1024)
#define BUF_GROUP         0
#define MBOX_CAP          8192
#define SHUTDOWN_DRAIN_US 800000
#define SHUTDOWN_LOG_US   200000 /* past the drain, a stuck log write is given up */
#define LOG_HALF          (64 * 1024)

enum tag {
    TAG_IO = 0,     /* pointer part: a struct shard_io of a layer above */
    TAG_ACCEPT = 1, /* pointer part: listener index */
    TAG_RECV = 2,
    TAG_SEND = 3,
    TAG_WAKE = 4,
    TAG_SHUTDOWN = 5,
    TAG_IGNORE = 6,
    TAG_LOG = 7, /* a write of this shard's log buffer */
};

#define TAG_BITS 3
#define TAG_MASK ((uint64_t)7)

void shard_count_error(struct shard *sh, const char *reply, size_t len)
{
    size_t n = 0;

    if (len < 2 || reply[0] != '-') {
        return;
    }
    while (n + 1 < len && n < 31 && reply[n + 1] != ' ' && reply[n + 1] != '\r') {
        n++;
    }
    sh->stats.error_replies++;
    for (int i = 0; i < SHARD_ERRSTATS; i++) {
        struct err_stat *e = &sh->errstats[i];

        if (e->name[0] == '\0') {
            memcpy(e->name, reply + 1, n);
            e->name[n] = '\0';
        }
        if (strlen(e->name) == n && memcmp(e->name, reply + 1, n) == 0) {
            e->count++;
            return;
        }
    }
    /* table full: Redis caps errorstats too (it disables them past 128) */
}

int64_t shard_count_call(struct shard *sh, const struct cmd_spec *cmd, int64_t t0_us,
                         const char *reply, size_t len)
{
    struct cmd_stat *st;

    if (cmd->id <= 0) {
        return -1; /* an internal part */
    }
    st = &sh->cmdstats[cmd->id];
    st->calls++;
    /* one clock read per command: it also starts the next one's time */
    sh->clock_us = sh_mono_us();
    st->usec += (uint64_t)(sh->clock_us - t0_us);
    diag_track(sh, cmd->id, sh->clock_us - t0_us); /* LATENCY HISTOGRAM */
    if (len && reply[0] == '-') {
        st->failed++;
        shard_count_error(sh, reply, len);
    }
    return sh->clock_us - t0_us;
}

void shard_new_id(char out[41])
{
    static const char hex[] = "0123456789abcdef";
    unsigned char rnd[20];
    int fd = open("/dev/urandom", O_RDONLY | O_CLOEXEC);

    if (fd < 0 || read(fd, rnd, sizeof(rnd)) != (ssize_t)sizeof(rnd)) {
        for (size_t i = 0; i < sizeof(rnd); i++) {
            rnd[i] = (unsigned char)(sh_mono_us() >> (i % 8)) ^ (unsigned char)(i * 131);
        }
    }
    if (fd >= 0) {
        close(fd);
    }
    for (int i = 0; i < 20; i++) {
        out[2 * i] = hex[rnd[i] >> 4];
        out[2 * i + 1] = hex[rnd[i] & 15];
    }
    out[40] = '\0';
}

uint64_t shard_rand(struct shard *sh)
{
    uint64_t x = sh->rnd ? sh->rnd : 0x9E3779B97F4A7C15ULL;

    x ^= x >> 12;
    x ^= x << 25;
    x ^= x >> 27;
    sh->rnd = x;
    return x * 2685821657736338717ULL;
}

int shard_owner(int nshards, const char *key, size_t len, uint64_t *hash)
{
    const char *open = len ? memchr(key, '{', len) : NULL; /* "" may be NULL */
    uint64_t h = XXH3_64bits(key, len);

    *hash = h;
    if (open) {
        const char *close = memchr(open + 1, '}', len - (size_t)(open + 1 - key));

        if (close && close > open + 1) {
            h = XXH3_64bits(open + 1, (size_t)(close - open - 1));
        }
    }
    if (nshards == 1) {
        return 0;
    }
    /* the high half picks the shard, the low bits pick the bucket in the
     * key table: independent bits, so each shard's table stays balanced */
    return (int)(((h >> 32) * (uint64_t)nshards) >> 32);
}

struct shard_hooks shard_hooks;

static struct io_uring_sqe *get_sqe(struct shard *sh)
{
    struct io_uring_sqe *sqe = io_uring_get_sqe(&sh->ring);

    if (SH_UNLIKELY(!sqe)) {
        /* the submission queue is full: hand it to the kernel and retry */
        io_uring_submit(&sh->ring);
        sqe = io_uring_get_sqe(&sh->ring);
        SH_ASSERT(sqe);
    }
    return sqe;
}

struct io_uring_sqe *shard_get_sqe(struct shard *sh)
{
    return get_sqe(sh);
}

static void arm_accept(struct shard *sh, int idx)
{
    struct io_uring_sqe *sqe = get_sqe(sh);

    io_uring_prep_multishot_accept(sqe, sh->listen_fd[idx], NULL, NULL, SOCK_CLOEXEC);
    io_uring_sqe_set_data64(sqe, ((uint64_t)idx << TAG_BITS) | TAG_ACCEPT);
}

void shard_arm_recv(struct shard *sh, struct conn *c)
{
    struct io_uring_sqe *sqe = get_sqe(sh);

    io_uring_prep_recv_multishot(sqe, c->fd, NULL, 0, 0);
    sqe->flags |= IOSQE_BUFFER_SELECT;
    sqe->buf_group = BUF_GROUP;
    io_uring_sqe_set_data64(sqe, (uint64_t)(uintptr_t)c | TAG_RECV);
}

void shard_arm_send(struct shard *sh, struct conn *c, const void *p, size_t n)
{
    struct io_uring_sqe *sqe = get_sqe(sh);

    io_uring_prep_send(sqe, c->fd, p, n, MSG_NOSIGNAL);
    io_uring_sqe_set_data64(sqe, (uint64_t)(uintptr_t)c | TAG_SEND);
}

/* Gives a provided buffer back to the ring (advanced once per batch). */
void shard_recycle_buffer(struct shard *sh, unsigned bid)
{
    io_uring_buf_ring_add(sh->br, sh->bufs + (size_t)bid * sh->bufsz, sh->bufsz,
                          (unsigned short)bid, io_uring_buf_ring_mask(sh->nbufs),
                          (int)sh->br_pending);
    sh->br_pending++;
}

const char *shard_buffer(struct shard *sh, unsigned bid)
{
    return sh->bufs + (size_t)bid * sh->bufsz;
}

void shard_cancel_recv(struct shard *sh, struct conn *c)
{
    struct io_uring_sqe *sqe = get_sqe(sh);

    io_uring_prep_cancel64(sqe, (uint64_t)(uintptr_t)c | TAG_RECV, 0);
    io_uring_sqe_set_data64(sqe, TAG_IGNORE);
}

static void wake(struct shard *sh, int to, uint64_t tag)
{
    struct io_uring_sqe *sqe = get_sqe(sh);

    io_uring_prep_msg_ring(sqe, sh->srv->shards[to]->ring_fd, 0, tag, 0);
    /* no CQE for us when it works; a failure shows up as TAG_IGNORE */
    sqe->flags |= IOSQE_CQE_SKIP_SUCCESS;
    io_uring_sqe_set_data64(sqe, TAG_IGNORE);
}

void shard_ring_io(struct shard *sh, int to, struct shard_io *io, int res)
{
    struct io_uring_sqe *sqe;

    if (to == sh->id) {
        io->done(sh, io, res);
        return;
    }
    sqe = get_sqe(sh);
    io_uring_prep_msg_ring(sqe, sh->srv->shards[to]->ring_fd, (unsigned)res, shard_io_data(io), 0);
    sqe->flags |= IOSQE_CQE_SKIP_SUCCESS;
    io_uring_sqe_set_data64(sqe, TAG_IGNORE);
}

/* log.c's submit hook: one write of a log batch on this shard's ring, sent
 * with the loop's next submit; log_buf_written gets its result. */
static int submit_log_write(void *arg, int fd, const void *buf, size_t len)
{
    struct shard *sh = arg;
    struct io_uring_sqe *sqe;

    if (sh->ring_fd < 0) {
        return -EAGAIN; /* no ring yet: the lines wait, or go out at detach */
    }
    sqe = get_sqe(sh);
    /* offset -1 with RWF_APPEND: at the end even when stderr lacks O_APPEND */
    io_uring_prep_write(sqe, fd, buf, (unsigned)len, (uint64_t)-1);
    sqe->rw_flags = RWF_APPEND;
    io_uring_sqe_set_data64(sqe, TAG_LOG);
    return 0;
}

void shard_send(struct shard *sh, int to, struct req *msg)
{
    struct msg_list *ov = &sh->overflow[to];

    msg->next = NULL;
    sh->stats.mbox_sent++;
    if (msg->kind == REQ_EXEC || msg->kind == REQ_RELEASE || msg->kind == REQ_SCHED ||
        msg->kind == REQ_CONCLUDE) {
        sh->msgs_out++; /* it comes back: shutdown waits for it */
    }
    if (ov->head == NULL && mbox_try_push(sh->out[to], msg) == 0) {
        sh->out_pending[to] = true;
        return;
    }
    /* full (or older messages wait): keep order, retry at publish time */
    sh->stats.mbox_overflowed++;
    if (ov->tail) {
        ov->tail->next = msg;
    } else {
        ov->head = msg;
    }
    ov->tail = msg;
}

static void flush_mailboxes(struct shard *sh)
{
    for (int to = 0; to < sh->srv->nshards; to++) {
        struct msg_list *ov = &sh->overflow[to];

        while (ov->head && mbox_try_push(sh->out[to], ov->head) == 0) {
            ov->head = ov->head->next;
            sh->out_pending[to] = true;
        }
        if (!ov->head) {
            ov->tail = NULL;
        }
        if (!sh->out_pending[to]) {
            continue;
        }
        sh->out_pending[to] = false;
        if (mbox_publish(sh->out[to]) && mbox_needs_wake(&sh->srv->shards[to]->sleeper)) {
            sh->stats.doorbells++;
            wake(sh, to, TAG_WAKE);
        }
    }
}

static bool has_overflow(const struct shard *sh)
{
    for (int to = 0; to < sh->srv->nshards; to++) {
        if (sh->overflow[to].head) {
            return true;
        }
    }
    return false;
}

static void drain_mailboxes(struct shard *sh)
{
    for (int from = 0; from < sh->srv->nshards; from++) {
        struct mbox *m = &sh->in[from];
        struct req *msg;
        int n = 0;

        if (from == sh->id) {
            continue;
        }
        sh->clock_us = sh_mono_us();
        for (;;) {
            void *ahead[PREFETCH_KEYS];
            size_t k = mbox_peek_many(m, ahead, PREFETCH_KEYS);

            if (k == 0) {
                break;
            }
            prefetch_messages(sh, ahead, k);
            /* popped one by one: a message may consume others (a busy
             * script serves the mailboxes), so ahead is only a hint */
            for (size_t i = 0; i < k && (msg = mbox_pop(m)) != NULL; i++) {
                sh->stats.mbox_received++;
                route_on_message(sh, msg);
                n++;
            }
        }
        if (n) {
            mbox_consumed(m);
        }
    }
}

static bool inbound_pending(struct shard *sh)
{
    for (int from = 0; from < sh->srv->nshards; from++) {
        if (from != sh->id && mbox_has_pending(&sh->in[from])) {
            return true;
        }
    }
    return false;
}

static void begin_shutdown(struct shard *sh)
{
    if (sh->stopping) {
        return;
    }
    if (sh->busy) {
        /* closing the connections now would free the one whose command
         * runs the script: the script is killed first, then the loop
         * comes back here */
        sh->stop_after_busy = true;
        return;
    }
    sh->stopping = true;
    sh->next_cron_us = sh->mono_us + SHUTDOWN_DRAIN_US;
    for (int i = 0; i < sh->nlisten; i++) {
        /* ends the multishot accept; the fd is closed when the loop exits */
        shutdown(sh->listen_fd[i], SHUT_RDWR);
    }
    conn_close_all(sh);
}

void shard_shutdown_from(struct shard *sh)
{
    mbox_counter_set((struct mbox_counter *)&sh->srv->stopping, 1);
    for (int to = 0; to < sh->srv->nshards; to++) {
        if (to != sh->id) {
            wake(sh, to, TAG_SHUTDOWN);
        }
    }
    begin_shutdown(sh);
}

static void on_accept(struct shard *sh, struct io_uring_cqe *cqe)
{
    int idx = (int)(cqe->user_data >> TAG_BITS);

    if (cqe->res >= 0) {
        if (sh->stopping) {
            close(cqe->res);
        } else {
            conn_accept(sh, cqe->res);
        }
    } else if (cqe->res == -EMFILE || cqe->res == -ENFILE || cqe->res == -ENOMEM ||
               cqe->res == -ENOBUFS) {
        /* out of descriptors or memory: re-arming now would fail at once,
         * in a loop; the timer re-arms it */
        if (sh->mono_us - sh->accept_warned_us > 1000000) {
            sh->accept_warned_us = sh->mono_us;
            sh_log(LOG_WARNING, "Error accepting a client connection: %s", strerror(-cqe->res));
        }
        sh->accept_paused |= 1u << idx;
        return;
    } else if (cqe->res != -EINVAL && cqe->res != -ECANCELED) {
        sh_log(LOG_WARNING, "accept failed on shard %d: %s", sh->id, strerror(-cqe->res));
    }
    if (!(cqe->flags & IORING_CQE_F_MORE) && !sh->stopping) {
        arm_accept(sh, idx);
    }
}

/* A receive of the connection that runs the busy script: kept, with its
 * bytes, for busy_replay. */
static void busy_stash(struct shard *sh, const struct io_uring_cqe *cqe)
{
    int32_t res = cqe->res;
    uint32_t flags = cqe->flags & ~IORING_CQE_F_BUFFER, n = 0;

    if ((cqe->flags & IORING_CQE_F_BUFFER) && res > 0) {
        n = (uint32_t)res;
    }
    rbuf_append(&sh->busy_stash, &res, sizeof(res));
    rbuf_append(&sh->busy_stash, &flags, sizeof(flags));
    rbuf_append(&sh->busy_stash, &n, sizeof(n));
    if (cqe->flags & IORING_CQE_F_BUFFER) {
        unsigned bid = cqe->flags >> IORING_CQE_BUFFER_SHIFT;

        rbuf_append(&sh->busy_stash, shard_buffer(sh, bid), n);
        shard_recycle_buffer(sh, bid);
    }
}

/* The script ended and its command returned: the protected connection's
 * receives, in order. */
static void busy_replay(struct shard *sh)
{
    struct conn *c = sh->busy_protect;
    struct rbuf st = sh->busy_stash;
    size_t at = 0;

    sh->busy_protect = NULL;
    rbuf_init(&sh->busy_stash);
    while (at + 12 <= st.len) {
        int32_t res;
        uint32_t flags, n;

        memcpy(&res, st.data + at, 4);
        memcpy(&flags, st.data + at + 4, 4);
        memcpy(&n, st.data + at + 8, 4);
        conn_on_recv_bytes(c, n ? st.data + at + 12 : NULL, res, flags);
        at += 12 + n;
    }
    rbuf_fini(&st);
}

void shard_busy_forget(struct shard *sh, struct conn *c)
{
    if (sh->busy_protect == c) {
        sh->busy_protect = NULL;
        rbuf_fini(&sh->busy_stash);
        rbuf_init(&sh->busy_stash);
    }
}

/* Starts the next millisecond of note_active's count, each loop iteration.
 * A millisecond with no iteration had no receive: after an idle sleep the
 * count before it is not carried on. */
static inline void roll_active(struct shard *sh)
{
    if (SH_UNLIKELY(sh->mono_us >= sh->active_ms_end_us)) {
        bool adjacent = sh->mono_us < sh->active_ms_end_us + 1000;
        uint64_t cmds = sh->stats.commands;

        sh->active_before = adjacent ? sh->active_now : 0;
        /* (CONFIG RESETSTAT may have cleared the count meanwhile) */
        sh->cmds_before = adjacent && cmds >= sh->cmds_at_ms ? cmds - sh->cmds_at_ms : 0;
        sh->cmds_at_ms = cmds;
        sh->active_now = 0;
        sh->active_ms++;
        sh->active_ms_end_us = sh->mono_us + 1000;
    }
}

/* A connection sent: counted once per millisecond. */
static inline void note_active(struct shard *sh, struct conn *c)
{
    if (c->active_ms != sh->active_ms) {
        c->active_ms = sh->active_ms;
        sh->active_now++;
    }
}

static void handle_cqe(struct shard *sh, struct io_uring_cqe *cqe)
{
    uint64_t ud = cqe->user_data;
    void *ptr = (void *)(uintptr_t)(ud & ~TAG_MASK);

    switch (ud & TAG_MASK) {
    case TAG_IO:
        if (ptr) {
            ((struct shard_io *)ptr)->done(sh, ptr, cqe->res);
        }
        break;
    case TAG_ACCEPT:
        on_accept(sh, cqe);
        break;
    case TAG_RECV:
        if (SH_UNLIKELY(ptr == sh->busy_protect)) {
            busy_stash(sh, cqe);
            break;
        }
        if (cqe->res > 0) {
            sh->stats.reads_processed++;
            note_active(sh, ptr);
        }
        conn_on_recv(ptr, cqe->res, cqe->flags);
        break;
    case TAG_SEND:
        sh->stats.writes_processed++;
        conn_on_send(ptr, cqe->res);
        break;
    case TAG_SHUTDOWN:
        /* pointer part 1: a signal, which the layers above may take over
         * (a save before the exit) */
        if ((ud >> TAG_BITS) == 1 && shard_hooks.stop && shard_hooks.stop(sh)) {
            break;
        }
        begin_shutdown(sh);
        break;
    case TAG_LOG:
        log_buf_written(cqe->res);
        break;
    case TAG_WAKE:
    case TAG_IGNORE:
    default:
        break;
    }
}

/* INFO's instantaneous metrics (struct shard_metrics), at most once per
 * SHARD_METRIC_PERIOD_US, as Redis's trackInstantaneousMetric: the rate over
 * the time really elapsed, so a late cron does not inflate it. Shard 0 also
 * samples the process's used memory (one sampler is enough for a
 * process-wide figure, and each sample costs jemalloc a statistics refresh). */
static void sample_metrics(struct shard *sh)
{
    struct shard_metrics *m = &sh->metrics;
    const uint64_t now[SHARD_METRICS] = {
        [SHARD_METRIC_OPS] = sh->stats.commands,
        [SHARD_METRIC_NET_IN] = sh->stats.net_input_bytes,
        [SHARD_METRIC_NET_OUT] = sh->stats.net_output_bytes,
    };
    int64_t dt = sh->mono_us - m->last_us;

    if (m->last_us && dt < SHARD_METRIC_PERIOD_US) {
        return;
    }
    for (int i = 0; i < SHARD_METRICS; i++) {
        /* CONFIG RESETSTAT zeroes the counters: a drop counts as no traffic */
        uint64_t grew = now[i] > m->last[i] ? now[i] - m->last[i] : 0;

        m->rate[i][m->idx] = m->last_us ? (int64_t)(grew * 1000000 / (uint64_t)dt) : 0;
        m->last[i] = now[i];
    }
    m->idx = (m->idx + 1) % SHARD_METRIC_SAMPLES;
    m->last_us = sh->mono_us;
    if (sh->id == 0) {
        int64_t used = (int64_t)sh_alloc_process_bytes();

        m->mem_startup = m->mem_startup ? m->mem_startup : used;
        m->mem_peak = used > m->mem_peak ? used : m->mem_peak;
    }
}

static void cron(struct shard *sh)
{
    int64_t deadline = sh->mono_us + 1000; /* at most 1 ms of housekeeping */

    for (int i = 0; i < sh->cfg.databases; i++) {
        struct kdb *db = sh->db[i];

        if (kdb_expires(db) && !sh->active_expire_off) {
            kdb_active_expire(db, sh->now_ms, deadline, &sh->rnd);
        }
        kdb_rehash(db, deadline);
    }
    conn_cron(sh);
    if (sh->cfg.maxmemory) {
        evict_publish(sh); /* the others' view of this shard, for maxmemory */
    }
    sample_metrics(sh);
    for (int i = 0; i < sh->nlisten; i++) {
        if (sh->accept_paused & (1u << i)) {
            sh->accept_paused &= ~(1u << i);
            arm_accept(sh, i);
        }
    }
    if (shard_hooks.cron) {
        shard_hooks.cron(sh);
    }
    /* proof of a live loop, for the systemd watchdog (main reads it) */
    mbox_counter_add(&((struct server *)sh->srv)->heartbeat[sh->id], 1);
    /* a lost shutdown message must not keep this shard running */
    if (mbox_counter_get((struct mbox_counter *)&sh->srv->stopping) == 1) {
        begin_shutdown(sh);
    }
    sh->next_cron_us = sh->mono_us + 1000000 / sh->cfg.hz;
}

/* Shutdown: answer what was read, then wait (serving mailboxes) until every
 * shard is drained, so no shard exits while another still needs it. */
static bool shutdown_done(struct shard *sh)
{
    struct server *srv = (struct server *)sh->srv;

    if (!sh->drained &&
        ((sh->nconns == 0 && sh->msgs_out == 0) || sh->mono_us >= sh->next_cron_us)) {
        sh->drained = true;
        mbox_counter_add(&srv->drained, 1);
    }
    return sh->drained && (mbox_counter_get(&srv->drained) == srv->nshards ||
                           sh->mono_us >= sh->next_cron_us + 100000);
}

/* The loop ends only once its last log write is done: io_uring_queue_exit
 * does not wait for it, and log_buf_detach must neither repeat nor overtake
 * it. A log that does not drain (a pipe nobody reads) is given up on. */
static bool log_settled(const struct shard *sh)
{
    return !log_buf_is_writing() || sh->mono_us >= sh->next_cron_us + SHUTDOWN_LOG_US;
}

#ifndef IORING_FEAT_MIN_TIMEOUT
#define IORING_FEAT_MIN_TIMEOUT (1U << 15) /* Linux 6.12; liburing 2.3 lacks it */
#endif

/* Hands the queued submissions to the kernel's ring (liburing's own
 * __io_uring_flush_sq, which 2.3 does not export). Returns how many wait. */
static unsigned flush_sq(struct io_uring *ring)
{
    struct io_uring_sq *sq = &ring->sq;
    unsigned tail = sq->sqe_tail;

    if (sq->sqe_head != tail) {
        sq->sqe_head = tail;
        IO_URING_WRITE_ONCE(*sq->ktail, tail);
    }
    return tail - IO_URING_READ_ONCE(*sq->khead);
}

/* A batch wait must gather about this many commands to be worth its
 * latency (up to io-batch-wait-us added to a request's round trip). */
#define BATCH_MIN_GATHER 8

/* How many connections a wait may gather before it wakes: a quarter of those
 * active lately (when a connection is answered, it mostly sends again), or 0
 * with too few for a wait to gather anything (one client waiting on each
 * reply must not wait on the others), or when commands come too slowly for
 * a wait to gather BATCH_MIN_GATHER of them (in the millisecond before):
 * at a moderate rate a wait adds its whole length to most requests' latency
 * and saves few wake-ups (bench/load/latency.py). */
static unsigned batch_goal(const struct shard *sh)
{
    unsigned active = sh->active_now > sh->active_before ? sh->active_now : sh->active_before;

    if (!sh->min_wait_ok || sh->cfg.io_batch_wait_us <= 0 || active < 16 ||
        sh->cmds_before * (uint64_t)sh->cfg.io_batch_wait_us < BATCH_MIN_GATHER * 1000) {
        return 0;
    }
    return active / 4 < 64 ? active / 4 : 64;
}

/* Submits and sleeps until `goal` more completions than are (or are about
 * to be: each submitted send completes at once, mostly) in the ring, or
 * io-batch-wait-us has passed with at least one, or the timeout ts. */
static void wait_batch(struct shard *sh, struct __kernel_timespec *ts, unsigned goal)
{
    struct io_uring_getevents_arg arg = {
        .sigmask_sz = _NSIG / 8,
        .pad = (uint32_t)sh->cfg.io_batch_wait_us, /* min_wait_usec since Linux 6.12 */
        .ts = (uint64_t)(uintptr_t)ts,
    };
    unsigned ready = io_uring_cq_ready(&sh->ring);
    unsigned n = flush_sq(&sh->ring);

    sh->stats.batch_waits++;
    (void)io_uring_enter2((unsigned)sh->ring.ring_fd, n, ready + n + goal,
                          IORING_ENTER_GETEVENTS | IORING_ENTER_EXT_ARG, (sigset_t *)&arg,
                          sizeof(arg));
}

static void wait_for_work(struct shard *sh)
{
    unsigned goal;
    struct __kernel_timespec ts;
    struct io_uring_cqe *cqe;
    int64_t wait_us;

    if (sh->resume_list || has_overflow(sh) || io_uring_cq_ready(&sh->ring) || sh->bg_work) {
        io_uring_submit_and_get_events(&sh->ring);
        return;
    }
    mbox_sleep_begin(&sh->sleeper);
    if (inbound_pending(sh)) {
        mbox_sleep_end(&sh->sleeper);
        io_uring_submit_and_get_events(&sh->ring);
        return;
    }
    wait_us = sh->stopping ? 5000 : sh->next_cron_us - sh_mono_us();
    /* a blocked client's timeout may come before the next timer run */
    if (block_next_deadline(sh) - sh_mono_us() < wait_us) {
        wait_us = block_next_deadline(sh) - sh_mono_us();
    }
    /* a connection's output waits for replies from other shards
     * (conn_flush_all): they wake us, and this bounds it if one is slow */
    if (sh->send_list && wait_us > SEND_HOLD_US) {
        wait_us = SEND_HOLD_US;
    }
    if (wait_us < 0) {
        wait_us = 0;
    }
    ts.tv_sec = wait_us / 1000000;
    ts.tv_nsec = (wait_us % 1000000) * 1000;
    sh->stats.io_waits++;
    goal = batch_goal(sh);
    if (goal) {
        wait_batch(sh, &ts, goal);
    } else {
        io_uring_submit_and_wait_timeout(&sh->ring, &cqe, 1, &ts, NULL);
    }
    mbox_sleep_end(&sh->sleeper);
}

/* Takes the next completion off the ring (a copy: the slot is given back
 * before it is handled, so that a handler that serves the ring itself, as a
 * busy script does, never sees it twice). */
static bool next_cqe(struct shard *sh, struct io_uring_cqe *out)
{
    struct io_uring_cqe *cqe;
    unsigned head;

    io_uring_for_each_cqe(&sh->ring, head, cqe)
    {
        *out = *cqe;
        io_uring_cq_advance(&sh->ring, 1);
        return true;
    }
    return false;
}

static void reap(struct shard *sh)
{
    struct io_uring_cqe cqe;

    while (next_cqe(sh, &cqe)) {
        handle_cqe(sh, &cqe);
    }
    if (sh->br_pending) {
        io_uring_buf_ring_advance(sh->br, (int)sh->br_pending);
        sh->br_pending = 0;
    }
}

static void run_resume_list(struct shard *sh)
{
    struct conn *keep = NULL;

    while (sh->resume_list) {
        struct conn *c = sh->resume_list;

        sh->resume_list = c->resume_next;
        if (SH_UNLIKELY(c == sh->busy_protect)) {
            keep = c; /* its turn comes after the script */
            continue;
        }
        c->flags &= ~CONN_IN_RESUME_LIST;
        conn_process_input(c);
        conn_want_send(c); /* frees it there if it closed meanwhile */
    }
    if (keep) {
        keep->resume_next = NULL;
        sh->resume_list = keep;
    }
}

void shard_busy_begin(struct shard *sh, bool fn, bool wrote, struct conn *protect, const void *info,
                      size_t info_len)
{
    struct server *srv = (struct server *)sh->srv;
    struct shard_busy *b = &srv->busy_at[sh->id];

    SH_ASSERT(!sh->busy);
    sh->busy = true;
    sh->busy_protect = protect;
    mbox_seqbuf_write(&b->info, info, info_len);
    mbox_counter_set(&b->state,
                     SHARD_BUSY_ON | (fn ? SHARD_BUSY_FN : 0) | (wrote ? SHARD_BUSY_WROTE : 0));
    mbox_counter_add(&srv->busy, 1);
    sh_log(LOG_WARNING,
           "Slow script detected: still in execution after %lld milliseconds. You "
           "can try killing the script using the %s command.",
           sh->cfg.busy_reply_threshold, fn ? "FUNCTION KILL" : "SCRIPT KILL");
}

/* The mailboxes while busy: each one's messages in order, up to the first
 * that must wait for the script's end (route_on_message_busy). */
static void drain_mailboxes_busy(struct shard *sh)
{
    const char *err = shard_busy_error(sh->srv);

    for (int from = 0; from < sh->srv->nshards && err; from++) {
        struct mbox *m = &sh->in[from];
        struct req *msg;
        int n = 0;

        if (from == sh->id) {
            continue;
        }
        while ((msg = mbox_peek(m)) != NULL && route_on_message_busy(sh, msg, err)) {
            /* answered: it is the producer's again, take it off */
            (void)mbox_pop(m);
            n++;
        }
        if (n) {
            mbox_consumed(m);
        }
    }
}

bool shard_busy_poll(struct shard *sh)
{
    struct server *srv = (struct server *)sh->srv;

    sh->mono_us = sh_mono_us();
    sh->now_ms = sh_time_ms();
    io_uring_submit_and_get_events(&sh->ring);
    reap(sh);
    drain_mailboxes_busy(sh);
    run_resume_list(sh);
    if (sh->prop_on) {
        shard_hooks.prop_flush(sh);
    }
    flush_mailboxes(sh);
    conn_flush_all(sh);
    log_buf_flush();
    io_uring_submit(&sh->ring);
    /* alive, for the watchdog, though no timer runs */
    mbox_counter_add(&srv->heartbeat[sh->id], 1);
    return (mbox_word_get(&srv->busy_at[sh->id].state) & SHARD_BUSY_KILL) || sh->stop_after_busy ||
           mbox_counter_get(&srv->stopping) == 1;
}

bool shard_busy_write(struct shard *sh)
{
    struct server *srv = (struct server *)sh->srv;
    struct mbox_counter *w = &srv->busy_at[sh->id].state;
    long st = mbox_word_get(w);

    for (;;) {
        if (st & SHARD_BUSY_KILL) {
            return false;
        }
        if ((st & SHARD_BUSY_WROTE) || mbox_word_cas(w, &st, st | SHARD_BUSY_WROTE)) {
            return true;
        }
    }
}

void shard_busy_end(struct shard *sh)
{
    struct server *srv = (struct server *)sh->srv;

    sh->busy = false;
    mbox_counter_set(&srv->busy_at[sh->id].state, 0);
    mbox_counter_add(&srv->busy, -1);
    if (sh->busy_protect) {
        /* its reply comes after the flushes that ran meanwhile */
        conn_want_send(sh->busy_protect);
    }
    /* the protected connection's receives are replayed by the loop, once
     * the command that ran the script has returned */
}

const char *shard_busy_error(const struct server *srv)
{
    struct server *s = (struct server *)srv;
    const char *err = NULL;

    if (mbox_counter_get(&s->busy) == 0) {
        return NULL;
    }
    for (int i = 0; i < s->nshards; i++) {
        long st = mbox_word_get(&s->busy_at[i].state);

        if (st & SHARD_BUSY_ON) {
            if (!(st & SHARD_BUSY_FN)) {
                return SHARD_BUSY_EVAL_ERR;
            }
            err = SHARD_BUSY_FUNCTION_ERR;
        }
    }
    /* the count and the words are read apart: a script that just ended */
    return err;
}

static void loop(struct shard *sh)
{
    for (;;) {
        sh->stats.loop_cycles++;
        sh->mono_us = sh_mono_us();
        sh->now_ms = sh_time_ms();
        roll_active(sh);
        reap(sh);
        if (SH_UNLIKELY(sh->busy_protect != NULL)) {
            busy_replay(sh);
        }
        if (SH_UNLIKELY(sh->stop_after_busy)) {
            sh->stop_after_busy = false;
            begin_shutdown(sh);
        }
        drain_mailboxes(sh);
        run_resume_list(sh);
        if (!sh->stopping && sh->mono_us >= sh->next_cron_us) {
            cron(sh);
        }
        block_run(sh);
        if (SH_UNLIKELY(sh->bg_work)) {
            shard_hooks.iter(sh);
        }
        if (SH_UNLIKELY(sh->prop_on)) {
            shard_hooks.prop_flush(sh); /* in the log before any reply leaves */
        }
        flush_mailboxes(sh);
        conn_flush_all(sh);
        log_buf_flush(); /* this iteration's log lines, in the submit below */
        if (sh->stopping && shutdown_done(sh) && log_settled(sh)) {
            break;
        }
        wait_for_work(sh);
    }
}

static int setup_buffers(struct shard *sh)
{
    struct io_uring_buf_reg reg = { 0 };
    size_t ring_bytes = BUF_COUNT * sizeof(struct io_uring_buf);
    int rc;

    sh->nbufs = BUF_COUNT;
    sh->bufsz = BUF_SIZE;
    /* liburing 2.3 has no io_uring_setup_buf_ring: map and register by hand */
    sh->br = mmap(NULL, ring_bytes, PROT_READ | PROT_WRITE, MAP_ANONYMOUS | MAP_PRIVATE, -1, 0);
    if (sh->br == MAP_FAILED) {
        sh->br = NULL;
        return -errno;
    }
    reg.ring_addr = (uint64_t)(uintptr_t)sh->br;
    reg.ring_entries = BUF_COUNT;
    reg.bgid = BUF_GROUP;
    rc = io_uring_register_buf_ring(&sh->ring, &reg, 0);
    if (rc < 0) {
        return rc;
    }
    io_uring_buf_ring_init(sh->br);
    /* mapped, not allocated: the kernel's receive buffers, as a socket's
     * are, not part of used_memory (the bytes are copied into a client's
     * query buffer, which is); RSS shows what was touched */
    sh->bufs = mmap(NULL, (size_t)BUF_COUNT * BUF_SIZE, PROT_READ | PROT_WRITE,
                    MAP_ANONYMOUS | MAP_PRIVATE, -1, 0);
    if (sh->bufs == MAP_FAILED) {
        sh->bufs = NULL;
        return -errno;
    }
    for (unsigned i = 0; i < BUF_COUNT; i++) {
        shard_recycle_buffer(sh, i);
    }
    io_uring_buf_ring_advance(sh->br, (int)sh->br_pending);
    sh->br_pending = 0;
    return 0;
}

int shard_listen(const char *addr, int port, int backlog, bool clients, const char *directive)
{
    struct addrinfo hints = { .ai_family = AF_UNSPEC,
                              .ai_socktype = SOCK_STREAM,
                              .ai_flags = AI_PASSIVE | AI_NUMERICHOST };
    struct addrinfo *ai;
    char portstr[16];
    int fd, one = 1, rc;
    const char *host = addr;

    if (!strcmp(addr, "*")) {
        host = "0.0.0.0";
    } else if (!strcmp(addr, "::*")) {
        host = "::";
    }
    snprintf(portstr, sizeof(portstr), "%d", port);
    rc = getaddrinfo(host, portstr, &hints, &ai);
    if (rc != 0) {
        sh_log(LOG_WARNING, "%s %s: %s", directive, addr, gai_strerror(rc));
        return -EINVAL;
    }
    fd = socket(ai->ai_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) {
        rc = -errno;
        goto out_free;
    }
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
    if (clients) {
        setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof(one));
        /* accepted sockets inherit TCP_NODELAY from the listener */
        setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
        if (ai->ai_family == AF_INET6) {
            setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof(one));
        }
    }
    if (bind(fd, ai->ai_addr, ai->ai_addrlen) < 0 || listen(fd, backlog) < 0) {
        rc = -errno;
        close(fd);
        goto out_free;
    }
    rc = fd;
out_free:
    freeaddrinfo(ai);
    return rc;
}

static int setup_listener(struct shard *sh, const char *addr, int port)
{
    int fd = shard_listen(addr, port, (int)sh->cfg.tcp_backlog, true, "bind");

    if (fd == -EINVAL) {
        return fd; /* logged */
    }
    if (fd < 0) {
        sh_log(LOG_WARNING, "Could not create server TCP listening socket %s:%d: %s", addr, port,
               strerror(-fd));
        return fd;
    }
    sh->listen_fd[sh->nlisten++] = fd;
    return 0;
}

static int shard_setup(struct shard *sh)
{
    struct io_uring_params p = { 0 };
    int rc;

    p.flags = IORING_SETUP_SINGLE_ISSUER | IORING_SETUP_DEFER_TASKRUN | IORING_SETUP_CQSIZE;
    p.cq_entries = CQ_ENTRIES;
    rc = io_uring_queue_init_params(RING_ENTRIES, &sh->ring, &p);
    if (rc < 0) {
        sh_log(LOG_WARNING, "io_uring setup failed: %s", strerror(-rc));
        return rc;
    }
    sh->ring_fd = sh->ring.ring_fd;
    sh->min_wait_ok = (p.features & IORING_FEAT_MIN_TIMEOUT) != 0;
    rc = setup_buffers(sh);
    if (rc < 0) {
        sh_log(LOG_WARNING, "provided buffer ring setup failed: %s", strerror(-rc));
        return rc;
    }
    for (int i = 0; i < sh->cfg.nbind; i++) {
        rc = setup_listener(sh, sh->cfg.bind[i], (int)sh->cfg.port);
        if (rc < 0) {
            return rc;
        }
    }
    for (int i = 0; i < sh->nlisten; i++) {
        arm_accept(sh, i);
    }
    return metrics_setup(sh); /* GET /metrics (shard 0, with a metrics-port) */
}

static void shard_teardown(struct shard *sh)
{
    /* the ring first: no send may still point into a connection's buffer */
    if (sh->ring_fd > 0) {
        io_uring_queue_exit(&sh->ring);
    }
    log_buf_detach(); /* no ring write may still read the buffer */
    evict_free(sh);
    conn_free_all(sh);
    metrics_fini(sh);
    pubsub_destroy(sh->ps);
    acl_destroy(sh->acl);
    block_destroy(sh->blk);
    if (route_hooks.shard_exit) {
        route_hooks.shard_exit(sh);
    }
    if (shard_hooks.exit) {
        shard_hooks.exit(sh);
    }
    sched_fini(&sh->sched);
    sh_free(sh->monitors);
    sh_free(sh->cmdstats);
    slowlog_destroy(sh->slowlog);
    latency_destroy(sh->latency);
    for (int i = 0; i < sh->nlisten; i++) {
        close(sh->listen_fd[i]);
    }
    if (sh->br) {
        munmap(sh->br, BUF_COUNT * sizeof(struct io_uring_buf));
    }
    if (sh->bufs) {
        munmap(sh->bufs, (size_t)BUF_COUNT * BUF_SIZE);
    }
    for (int i = 0; i < sh->cfg.databases; i++) {
        kdb_destroy(sh->db[i]);
    }
    sh_free(sh->db);
    rbuf_fini(&sh->scratch);
    while (sh->free_slots) {
        struct slot *s = sh->free_slots;

        sh->free_slots = s->next;
        rbuf_fini(&s->buf);
        sh_free(s);
    }
    while (sh->free_reqs) {
        struct req *m = sh->free_reqs;

        sh->free_reqs = m->next;
        sh_free(m);
    }
}

/* A key expired (lazily or by the active cycle): the "expired" event. */
static void on_key_expired(void *arg, int dbid, const struct kentry *e)
{
    struct shard *sh = arg;

    pubsub_notify(arg, NOTIFY_EXPIRED, "expired", kentry_key(e), kentry_klen(e), dbid);
    tracking_key_expired(arg, kentry_key(e), kentry_klen(e)); /* client-side caches */
    if (SH_UNLIKELY(sh->prop_on)) {
        shard_hooks.prop_expired(sh, dbid, kentry_key(e), kentry_klen(e)); /* logged as a DEL */
    }
}

/* A key was created: the "new" event (class n). */
static void on_key_new(void *arg, int dbid, const struct kentry *e)
{
    pubsub_notify(arg, NOTIFY_NEW, "new", kentry_key(e), kentry_klen(e), dbid);
    block_key_added(arg, dbid, e);
}

void shard_swap_db(struct shard *sh, int a, int b)
{
    struct kdb *t = sh->db[a];

    sh->db[a] = sh->db[b];
    sh->db[b] = t;
    kdb_set_hooks(sh->db[a], on_key_expired, on_key_new, sh, a);
    kdb_set_hooks(sh->db[b], on_key_expired, on_key_new, sh, b);
}

/* Every shard is past its set-up (its ring exists, or never will): none
 * tears its ring down while another still maps one (the sanitizers do not
 * see liburing's own munmap), and main may read every ring_fd. */
static void wait_settled(const struct server *srv)
{
    while (mbox_counter_get((struct mbox_counter *)&srv->settled) < srv->nshards) {
        usleep(1000);
    }
}

static void *shard_main(void *arg)
{
    struct shard *sh = arg;
    struct server *srv = (struct server *)sh->srv;
    char role[8];

    snprintf(role, sizeof(role), "S%d", sh->id);
    log_thread_init(sh->cfg.loglevel, role);
    /* from here this core's lines are written by its ring, never blocking it */
    log_buf_attach(LOG_HALF, submit_log_write, sh);
    if (sh->cpu >= 0) {
        cpu_set_t set;

        CPU_ZERO(&set);
        CPU_SET(sh->cpu, &set);
        pthread_setaffinity_np(pthread_self(), sizeof(set), &set);
    }
    sh->blk = block_create(); /* before the key hooks that use it */
    sched_init(&sh->sched);
    sh->db = sh_calloc((size_t)sh->cfg.databases, sizeof(*sh->db));
    for (int i = 0; i < sh->cfg.databases; i++) {
        sh->db[i] = kdb_create();
        kdb_set_hooks(sh->db[i], on_key_expired, on_key_new, sh, i);
    }
    sh->ps = pubsub_create();
    sh->acl = acl_copy(srv->acl);
    sh->cmdstats = sh_calloc((size_t)cmdtab_nids(), sizeof(*sh->cmdstats));
    diag_configure(sh);
    sh->rnd = (uint64_t)sh_mono_us() ^ ((uint64_t)sh->id << 40) ^ 0x9E3779B97F4A7C15ULL;
    sh->now_ms = sh_time_ms();
    /* the data first (from the files of persist/), then the listener */
    if ((shard_hooks.load && shard_hooks.load(sh) < 0) || shard_setup(sh) < 0) {
        mbox_counter_set(&srv->stopping, 2); /* start-up failed */
        mbox_counter_add(&srv->settled, 1);
        wait_settled(srv);
        shard_teardown(sh);
        mbox_counter_add(&srv->exited, 1);
        return NULL;
    }
    mbox_counter_add(&srv->settled, 1);
    sh->mono_us = sh_mono_us();
    sh->next_cron_us = sh->mono_us;
    evict_configure(sh);
    sh->mem_base = sh_alloc_thread_bytes(); /* what maxmemory does not count */
    if (sh->mem_base <= 0) {
        sh->mem_base = 1;
    }
    /* no shard runs (and messages another) before every ring exists */
    mbox_counter_add(&srv->ready, 1);
    while (mbox_counter_get(&srv->ready) < srv->nshards) {
        if (mbox_counter_get(&srv->stopping) != 0) { /* a shard failed to start */
            wait_settled(srv);
            goto out_teardown;
        }
        usleep(1000);
    }
    loop(sh);
out_teardown:
    shard_teardown(sh);
    mbox_counter_add(&srv->exited, 1);
    return NULL;
}

/* The CPUs this process may run on, in order. */
static int affinity_cpus(int *cpus, int max)
{
    cpu_set_t set;
    int n = 0;

    if (sched_getaffinity(0, sizeof(set), &set) != 0) {
        return 0;
    }
    for (int i = 0; i < CPU_SETSIZE && n < max; i++) {
        if (CPU_ISSET(i, &set)) {
            cpus[n++] = i;
        }
    }
    return n;
}

int shard_default_count(void)
{
    int cpus[CPU_SETSIZE];
    int n = affinity_cpus(cpus, CPU_SETSIZE);

    return n > 0 ? n : 1;
}

static struct io_uring stop_ring; /* main's (shard_request_shutdown) */
static bool stop_ring_ok;

int shard_start_all(struct server *srv)
{
    int cpus[CPU_SETSIZE];
    int ncpus = affinity_cpus(cpus, CPU_SETSIZE);
    int n = srv->nshards;

    /* main's ring for the shutdown's doorbells, made now: a ring mapped at
     * shutdown could land where a shard had a file mapped (a snapshot
     * load), and liburing maps rings with raw syscalls that ThreadSanitizer
     * does not see, so it took the ring's writes for a race */
    if (!stop_ring_ok && io_uring_queue_init(8, &stop_ring, 0) == 0) {
        stop_ring_ok = true;
    }
    srv->shards = sh_calloc((size_t)n, sizeof(*srv->shards));
    srv->heartbeat = sh_aligned_calloc(SH_CACHELINE, (size_t)n, sizeof(*srv->heartbeat));
    srv->dirty = sh_aligned_calloc(SH_CACHELINE, (size_t)n, sizeof(*srv->dirty));
    srv->mem_used = sh_aligned_calloc(SH_CACHELINE, (size_t)n, sizeof(*srv->mem_used));
    srv->monitors_at = sh_aligned_calloc(SH_CACHELINE, (size_t)n, sizeof(*srv->monitors_at));
    srv->busy_at = sh_aligned_calloc(SH_CACHELINE, (size_t)n, sizeof(*srv->busy_at));
    for (int i = 0; i < n; i++) {
        struct shard *sh = sh_aligned_calloc(SH_CACHELINE, 1, sizeof(*sh));

        sh->id = i;
        sh->cpu = ncpus > 0 ? cpus[i % ncpus] : -1;
        sh->srv = srv;
        config_copy(&sh->cfg, &srv->cfg);
        sh->in = sh_aligned_calloc(SH_CACHELINE, (size_t)n, sizeof(*sh->in));
        for (int j = 0; j < n; j++) {
            if (mbox_init(&sh->in[j], MBOX_CAP) != 0) {
                return -ENOMEM;
            }
        }
        sh->overflow = sh_calloc((size_t)n, sizeof(*sh->overflow));
        sh->out_pending = sh_calloc((size_t)n, sizeof(*sh->out_pending));
        sh->out = sh_calloc((size_t)n, sizeof(*sh->out));
        sh->ring_fd = -1;
        rbuf_init(&sh->scratch);
        srv->shards[i] = sh;
    }
    for (int i = 0; i < n; i++) {
        for (int j = 0; j < n; j++) {
            srv->shards[i]->out[j] = &srv->shards[j]->in[i];
        }
    }
    for (int i = 0; i < n; i++) {
        int rc = pthread_create(&srv->shards[i]->thread, NULL, shard_main, srv->shards[i]);

        if (rc != 0) {
            return -rc;
        }
    }
    return 0;
}

void shard_request_shutdown(struct server *srv)
{
    struct io_uring *ring = &stop_ring;
    /* with a layer that may take the shutdown over, shard 0 alone is told,
     * as a signal; it spreads the shutdown itself */
    bool taken = shard_hooks.stop != NULL;
    int n = taken ? 1 : srv->nshards;

    if (!taken) {
        mbox_counter_set(&srv->stopping, 1);
    }
    if (!stop_ring_ok) {
        return;
    }
    for (int i = 0; i < n; i++) {
        struct io_uring_sqe *sqe = io_uring_get_sqe(ring);

        if (srv->shards[i]->ring_fd < 0) {
            continue;
        }
        io_uring_prep_msg_ring(sqe, srv->shards[i]->ring_fd, 0,
                               taken ? ((1u << TAG_BITS) | TAG_SHUTDOWN) : TAG_SHUTDOWN, 0);
        io_uring_sqe_set_data64(sqe, 0);
        io_uring_submit(ring);
    }
    for (int i = 0; i < srv->nshards; i++) {
        struct io_uring_cqe *cqe;

        if (io_uring_peek_cqe(ring, &cqe) == 0) {
            io_uring_cqe_seen(ring, cqe);
        }
    }
}

void shard_join_all(struct server *srv)
{
    for (int i = 0; i < srv->nshards; i++) {
        struct shard *sh = srv->shards[i];

        pthread_join(sh->thread, NULL);
    }
    if (stop_ring_ok) {
        io_uring_queue_exit(&stop_ring);
        stop_ring_ok = false;
    }
    for (int i = 0; i < srv->nshards; i++) {
        struct shard *sh = srv->shards[i];

        for (int j = 0; j < srv->nshards; j++) {
            mbox_fini(&sh->in[j]);
        }
        sh_free(sh->in);
        sh_free(sh->out);
        sh_free(sh->overflow);
        sh_free(sh->out_pending);
        config_fini(&sh->cfg);
        sh_free(sh);
    }
    sh_free(srv->shards);
    srv->shards = NULL;
    sh_free(srv->heartbeat);
    srv->heartbeat = NULL;
    sh_free(srv->dirty);
    srv->dirty = NULL;
    sh_free(srv->mem_used);
    srv->mem_used = NULL;
    sh_free(srv->monitors_at);
    srv->monitors_at = NULL;
    sh_free(srv->busy_at);
    srv->busy_at = NULL;
}
