/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * monitor.h: MONITOR: a client that asked for it receives a line for every
 * command any client runs (Redis's format: +<unix time.us> [<db> <addr>]
 * "arg" ...), admin commands excepted, passwords redacted.
 *
 * A monitor belongs to its own core's list. The server keeps how many
 * monitors exist and where (mailbox-module counters): while there are none,
 * the whole cost on the request path is one load of a shared, rarely
 * written counter. With monitors, the client's core formats the line once
 * and writes it to its own monitors and posts it to each core that has some.
 *
 * Threading: every function runs on the core that owns the connection.
 */
#pragma once

#include "shardis/sh.h"

struct cmd_spec;
struct conn;
struct shard;

/* Is any monitor connected anywhere? (one acquire load) */
bool monitor_active(struct shard *sh);
/* Feeds one command of c (before it runs) to every monitor. */
void monitor_feed(struct conn *c, const struct cmd_spec *cmd, int argc,
                  const struct sh_slice *argv);
/* c is closing or RESET: it stops being a monitor (no-op otherwise). */
void monitor_conn_gone(struct conn *c);
/* Binds MONITOR. */
void monitor_bind(void);
/* Whether argv[i] of a MIGRATE is a credential (AUTH's password, AUTH2's
 * user and password): MONITOR and the slow log show "(redacted)". */
bool monitor_migrate_secret(int argc, const struct sh_slice *argv, int i);
