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
struct latency_hist;
struct reply;
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
/* The anonymous huge pages of this process in bytes (AnonHugePages of
 * /proc/self/smaps_rollup), 0 when unknown: LATENCY DOCTOR's THP advice. */
long long diag_anon_huge_pages(void);
/* Every counted call (shard_count_call, id >= 1) when latency-tracking is
 * on: us microseconds into command id's histogram (latency.h). Cost: a few
 * shifts and one increment; an allocation at a command's first call. */
void diag_track(struct shard *sh, int id, int64_t us);
/* The per-command histograms of this shard as one RESP2 value, a part of
 * LATENCY HISTOGRAM and INFO latencystats: an array of [id, calls, index,
 * count, index, count ...] (the non-zero counters). */
void diag_hist_part(const struct shard *sh, struct reply *r);
/* Adds the part value at the start of *t (moved past it) into merged[0 ..
 * nids), allocating a command's histogram at its first calls. false when t
 * does not start with such a value. Free with diag_hist_free. */
bool diag_hist_merge(struct sh_slice *t, struct latency_hist **merged, int nids);
void diag_hist_free(struct latency_hist **merged, int nids);

/* Reads a RESP2 header "<type><n>\r\n" at the start of *t (a fan-out's
 * part) into *n and moves *t past it; false when it is not one. */
bool diag_take_header(struct sh_slice *t, char type, long long *n);
