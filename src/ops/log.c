/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * log.c: logging (see log.h). The fd is set once before threads start and
 * only read afterwards.
 */
#include "shardis/log.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

static int log_fd = STDERR_FILENO;
static char log_path[4096];
static __thread int thread_level = LOG_NOTICE;
static __thread char thread_role[8] = "M";

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

void log_write(int level, const char *fmt, ...)
{
    static const char marks[] = ".-*#";
    char line[1024];
    struct timeval tv;
    struct tm tm;
    size_t n;
    va_list ap;

    gettimeofday(&tv, NULL);
    localtime_r(&tv.tv_sec, &tm);
    n = (size_t)snprintf(line, sizeof(line), "%d:%s ", (int)getpid(), thread_role);
    n += strftime(line + n, sizeof(line) - n, "%d %b %Y %H:%M:%S", &tm);
    n += (size_t)snprintf(line + n, sizeof(line) - n, ".%03d %c ", (int)(tv.tv_usec / 1000),
                          marks[level < 4 ? level : 3]);
    va_start(ap, fmt);
    n += (size_t)vsnprintf(line + n, sizeof(line) - n, fmt, ap);
    va_end(ap);
    if (n > sizeof(line) - 2) {
        n = sizeof(line) - 2;
    }
    line[n++] = '\n';
    /* best effort: a failed log write has nowhere to be reported */
    if (write(log_fd, line, n) < 0) {
        return;
    }
}
