/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * diag.h: SLOWLOG and LATENCY bookkeeping, on the shard's own thread (the
 * commands are cmd/cmd_diag.c). Routing compares each counted command's time
 * with sh->diag_min_us (one comparison) and only a command at least that
 * slow reaches these.
 */
#pragma once

#include "shardis/sh.h"

#include <stdint.h>

struct cmd_spec;
struct conn;
struct shard;

/* Recomputes sh->diag_min_us from sh->cfg and trims the slow log to
 * slowlog-max-len. At shard start and after each CONFIG SET on that shard. */
void diag_configure(struct shard *sh);
/* Where a command ran for us microseconds: a "command" or "fast-command"
 * latency sample when us reaches latency-monitor-threshold. */
void diag_latency(struct shard *sh, const struct cmd_spec *cmd, int64_t us);
/* On client c's core (c borrowed; argv borrowed, the command's full
 * arguments): a slow log entry with c's address and name when us reaches
 * slowlog-log-slower-than, with Redis's redactions (AUTH, HELLO AUTH, CONFIG
 * SET requirepass, ACL SETUSER). Cost: one atomic add (the server-wide id)
 * and one allocation per entry. */
void diag_slowlog(struct shard *sh, const struct cmd_spec *cmd, int64_t us, const struct conn *c,
                  int argc, const struct sh_slice *argv);
