/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * sdnotify.h: systemd's service notification protocol, without libsystemd:
 * one datagram to the AF_UNIX socket named by $NOTIFY_SOCKET (a path, or an
 * abstract name written with a leading '@').
 *
 * Threading: main only.
 */
#pragma once

#include "shardis/sh.h"

/* Reads $NOTIFY_SOCKET. Returns true when the service manager listens. */
bool sdnotify_setup(void);
/* Sends one notification ("READY=1\nSTATUS=..."); a no-op without a socket.
 * Returns 0 or -errno. */
int sdnotify_send(const char *msg);
void sdnotify_teardown(void);
/* The watchdog interval systemd asked for ($WATCHDOG_USEC, for this PID),
 * or 0 when there is none. */
int64_t sdnotify_watchdog_usec(void);
