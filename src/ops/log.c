/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * log.c: logging (see log.h). The fd is set once before threads start and
 * only read afterwards.
 *
 * A thread's log buffer is one allocation holding both halves:
 *
 *   mem: [ half A ............ ][ half B ............ ]
 *          ^acc, acc_len           ^out: [out_off, out_len) still to write
 *
 * Invariants: acc and out are the two halves, never the same one; a write is
 * in flight only for out (`writing`), so acc may always be appended to; the
 * halves swap only when out is fully written (or its write failed), which
 * keeps the lines in order. Dropped lines are counted until the next swap,
 * which puts the notice first in the new accumulating half: right after the
 * lines of the half that was full when they were dropped.
 *
 * Every write appends (RWF_APPEND), also when the fd was not opened with
 * O_APPEND (stderr redirected by a shell or a test harness): a ring's write
 * at the file position does not take the lock write(2) takes on it, so two
 * shards could otherwise write over each other's lines.
 */
#include "shardis/log.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/time.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

struct log_buf {
    log_submit_fn *submit;
    void *arg;
    size_t half; /* bytes in each half */
    char *acc;   /* the half lines are appended to */
    size_t acc_len;
    char *out; /* the half being written, or waiting to be */
    size_t out_off, out_len;
    bool writing;     /* the submit hook started a write of out */
    uint64_t dropped; /* lines dropped since the last notice */
    char mem[];
};

static int log_fd = STDERR_FILENO;
static char log_path[4096];
static __thread int thread_level = LOG_NOTICE;
static __thread char thread_role[8] = "M";
static __thread struct log_buf *thread_buf;

int log_setup(const char *path)
{
    int fd;

    if (!path || !*path) {
        log_fd = STDERR_FILENO;
        return 0;
    }
    fd = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
    if (fd < 0) {
        return -errno;
    }
    log_fd = fd;
    snprintf(log_path, sizeof(log_path), "%s", path);
    return 0;
}

int log_reopen(void)
{
    int fd;

    if (log_fd == STDERR_FILENO || !log_path[0]) {
        return 0;
    }
    fd = open(log_path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
    if (fd < 0) {
        return -errno;
    }
    /* atomically points log_fd at the new file; shards keep writing to it */
    if (dup3(fd, log_fd, O_CLOEXEC) < 0) {
        int rc = -errno;

        close(fd);
        return rc;
    }
    close(fd);
    return 0;
}

void log_teardown(void)
{
    if (log_fd != STDERR_FILENO) {
        close(log_fd);
        log_fd = STDERR_FILENO;
    }
}

void log_thread_init(int level, const char *role)
{
    thread_level = level;
    snprintf(thread_role, sizeof(thread_role), "%s", role);
}

void log_set_level(int level)
{
    thread_level = level;
}

bool log_enabled(int level)
{
    return level >= thread_level && thread_level != LOG_NOTHING;
}

/* Formats one line, newline included, into line[LOG_LINE_MAX]. Returns its
 * length. */
static size_t format_line(char *line, int level, const char *fmt, va_list ap)
{
    static const char marks[] = ".-*#";
    struct timeval tv;
    struct tm tm;
    size_t n;

    gettimeofday(&tv, NULL);
    localtime_r(&tv.tv_sec, &tm);
    n = (size_t)snprintf(line, LOG_LINE_MAX, "%d:%s ", (int)getpid(), thread_role);
    n += strftime(line + n, LOG_LINE_MAX - n, "%d %b %Y %H:%M:%S", &tm);
    n += (size_t)snprintf(line + n, LOG_LINE_MAX - n, ".%03d %c ", (int)(tv.tv_usec / 1000),
                          marks[level < 4 ? level : 3]);
    n += (size_t)vsnprintf(line + n, LOG_LINE_MAX - n, fmt, ap);
    if (n > LOG_LINE_MAX - 2) {
        n = LOG_LINE_MAX - 2;
    }
    line[n++] = '\n';
    return n;
}

SH_PRINTF(3, 4) static size_t format_linef(char *line, int level, const char *fmt, ...)
{
    va_list ap;
    size_t n;

    va_start(ap, fmt);
    n = format_line(line, level, fmt, ap);
    va_end(ap);
    return n;
}

/* Best effort: a failed log write has nowhere to be reported. */
static void write_all(const char *p, size_t n)
{
    while (n > 0) {
        struct iovec iov = { .iov_base = (void *)p, .iov_len = n };
        ssize_t w = pwritev2(log_fd, &iov, 1, -1, RWF_APPEND);

        if (w < 0 && errno == EOPNOTSUPP) {
            w = write(log_fd, p, n); /* a device without per-write flags */
        }
        if (w < 0 && errno == EINTR) {
            continue;
        }
        if (w <= 0) {
            return;
        }
        p += w;
        n -= (size_t)w;
    }
}

static size_t format_dropped(char *line, uint64_t dropped)
{
    return format_linef(line, LOG_WARNING, "%llu log lines dropped: the log buffer was full",
                        (unsigned long long)dropped);
}

static void start_write(struct log_buf *b)
{
    if (b->submit(b->arg, log_fd, b->out + b->out_off, b->out_len - b->out_off) == 0) {
        b->writing = true;
    }
}

void log_buf_flush(void)
{
    struct log_buf *b = thread_buf;
    char *full;

    if (!b || b->writing) {
        return;
    }
    if (b->out_off < b->out_len) {
        start_write(b); /* the rest of a short write, or a retry */
        return;
    }
    if (b->acc_len == 0) {
        return;
    }
    full = b->acc;
    b->acc = b->out;
    b->out = full;
    b->out_off = 0;
    b->out_len = b->acc_len;
    b->acc_len = 0;
    if (b->dropped) {
        /* an empty half always has room for one line */
        b->acc_len = format_dropped(b->acc, b->dropped);
        b->dropped = 0;
    }
    start_write(b);
}

static void buf_append(struct log_buf *b, const char *line, size_t n)
{
    if (b->acc_len + n > b->half) {
        log_buf_flush(); /* swaps halves if the other one is written */
        if (b->acc_len + n > b->half) {
            b->dropped++;
            return;
        }
    }
    memcpy(b->acc + b->acc_len, line, n);
    b->acc_len += n;
}

void log_write(int level, const char *fmt, ...)
{
    char line[LOG_LINE_MAX];
    size_t n;
    va_list ap;

    va_start(ap, fmt);
    n = format_line(line, level, fmt, ap);
    va_end(ap);
    if (thread_buf) {
        buf_append(thread_buf, line, n);
    } else {
        write_all(line, n);
    }
}

void log_buf_attach(size_t half, log_submit_fn *submit, void *arg)
{
    struct log_buf *b;

    SH_ASSERT(!thread_buf && submit && half >= 2 * LOG_LINE_MAX);
    b = sh_malloc(sizeof(*b) + 2 * half);
    *b = (struct log_buf){ .submit = submit, .arg = arg, .half = half };
    b->acc = b->mem;
    b->out = b->mem + half;
    thread_buf = b;
}

void log_buf_written(int res)
{
    struct log_buf *b = thread_buf;

    if (!b) {
        return;
    }
    SH_ASSERT(b->writing);
    b->writing = false;
    if (res > 0 && (size_t)res < b->out_len - b->out_off) {
        b->out_off += (size_t)res;
        return;
    }
    /* all written, or failed (0 would retry forever): the half is free */
    b->out_off = 0;
    b->out_len = 0;
}

bool log_buf_is_writing(void)
{
    return thread_buf && thread_buf->writing;
}

void log_buf_detach(void)
{
    struct log_buf *b = thread_buf;
    char line[LOG_LINE_MAX];

    if (!b) {
        return;
    }
    thread_buf = NULL;
    if (!b->writing) {
        write_all(b->out + b->out_off, b->out_len - b->out_off);
    }
    write_all(b->acc, b->acc_len);
    if (b->dropped) {
        write_all(line, format_dropped(line, b->dropped));
    }
    if (b->writing) {
        return; /* the kernel may still read this memory: leak it instead */
    }
    sh_free(b);
}
