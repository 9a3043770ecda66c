/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * sdnotify.c: sd_notify(3)'s protocol, written out (see sdnotify.h). The
 * address is read once at start; $NOTIFY_SOCKET stays in the environment
 * (nothing we start would need it removed).
 */
#include "shardis/sdnotify.h"

#include <errno.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

static int notify_fd = -1;
static struct sockaddr_un notify_addr;
static socklen_t notify_len;

bool sdnotify_setup(void)
{
    const char *path = getenv("NOTIFY_SOCKET");
    size_t n;

    if (!path || !*path || (path[0] != '/' && path[0] != '@')) {
        return false;
    }
    n = strlen(path);
    if (n >= sizeof(notify_addr.sun_path)) {
        return false;
    }
    memset(&notify_addr, 0, sizeof(notify_addr));
    notify_addr.sun_family = AF_UNIX;
    memcpy(notify_addr.sun_path, path, n);
    if (path[0] == '@') {
        notify_addr.sun_path[0] = '\0'; /* abstract namespace */
    }
    notify_len = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + n);
    notify_fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    return notify_fd >= 0;
}

int sdnotify_send(const char *msg)
{
    if (notify_fd < 0) {
        return 0;
    }
    if (sendto(notify_fd, msg, strlen(msg), MSG_NOSIGNAL, (struct sockaddr *)&notify_addr,
               notify_len) < 0) {
        return -errno;
    }
    return 0;
}

void sdnotify_teardown(void)
{
    if (notify_fd >= 0) {
        close(notify_fd);
        notify_fd = -1;
    }
}

int64_t sdnotify_watchdog_usec(void)
{
    const char *usec = getenv("WATCHDOG_USEC");
    const char *pid = getenv("WATCHDOG_PID");
    long long v;

    if (!usec || (pid && atoll(pid) != (long long)getpid())) {
        return 0;
    }
    v = atoll(usec);
    return v > 0 ? v : 0;
}
