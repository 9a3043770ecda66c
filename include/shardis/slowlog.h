/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * slowlog.h: one shard's slow log: the most recent commands that ran longer
 * than slowlog-log-slower-than, as Redis 7.0's SLOWLOG keeps them.
 *
 * An entry holds a server-wide id (given by the caller), the unix time, the
 * duration in microseconds, at most SLOWLOG_MAX_ARGC arguments (the last one
 * replaced by "... (N more arguments)" when there were more), each cut to
 * SLOWLOG_MAX_STRING bytes plus "... (N more bytes)", and the client's
 * address and name. The log is a ring of entries, oldest to newest, that
 * grows on demand up to the max-len its caller passes.
 *
 * Threading: a log belongs to one shard and is touched by that shard's thread
 * only (its entries are allocated and freed there). A NULL log reads as an
 * empty one, so a shard creates its log at its first entry.
 */
#pragma once

#include "shardis/sh.h"

struct reply;
struct slowlog;

#define SLOWLOG_MAX_ARGC   32  /* Redis's SLOWLOG_ENTRY_MAX_ARGC */
#define SLOWLOG_MAX_STRING 128 /* Redis's SLOWLOG_ENTRY_MAX_STRING */

/* What one entry records. Everything is borrowed by slowlog_push, which
 * copies what it keeps. */
struct slowlog_rec {
    uint64_t id;
    int64_t time;                /* unix seconds */
    int64_t duration;            /* microseconds */
    int argc;                    /* the command's full argument count */
    const struct sh_slice *argv; /* its first min(argc, SLOWLOG_MAX_ARGC) arguments */
    struct sh_slice addr;        /* client "ip:port" */
    struct sh_slice name;        /* client name, empty when it has none */
};

/* An empty log. Never fails (aborts when out of memory). */
struct slowlog *slowlog_create(void);
/* Frees the log and its entries; NULL is a no-op. */
void slowlog_destroy(struct slowlog *sl);

/* Adds rec as the newest entry, then drops the oldest ones while more than
 * max_len remain (max_len 0 keeps nothing), as Redis does on each push.
 * Returns 0, or -ENOMEM when the entry (its size depends on the client's
 * arguments and name) could not be allocated: nothing is added then, the
 * trimming still happens. sl must not be NULL. Amortised O(1) plus the
 * entries dropped. */
SH_MUST_CHECK int slowlog_push(struct slowlog *sl, const struct slowlog_rec *rec,
                               long long max_len);
/* Drops the oldest entries while more than max_len remain (NULL: no-op). */
void slowlog_trim(struct slowlog *sl, long long max_len);
/* Drops every entry (ids are the caller's and are not reused). NULL is a
 * no-op. */
void slowlog_reset(struct slowlog *sl);
/* Number of entries (0 for NULL). */
size_t slowlog_len(const struct slowlog *sl);
/* Writes the newest min(n, len) entries, newest first, as SLOWLOG GET
 * replies: an array of [id, time, duration, [args...], addr, name]. O(bytes
 * written). sl may be NULL (an empty array). */
void slowlog_reply(const struct slowlog *sl, struct reply *r, size_t n);
