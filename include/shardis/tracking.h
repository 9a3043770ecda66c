/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * tracking.h: client-side caching (CLIENT TRACKING), as Redis 7.0 does it,
 * across shards.
 *
 * Two sides, each on its own core, talking only through messages:
 *
 *   the client's core   the connection's tracking state (mode, redirect,
 *                       prefixes, CLIENT CACHING); it writes the pushes
 *                       (RESP3 "invalidate", the RESP2 __redis__:invalidate
 *                       message of a redirect, "tracking-redir-broken").
 *   a key's owner       the table key -> ids of the clients that read it
 *                       (default mode), the registry of those clients
 *                       (every shard has it), and the BCAST prefixes (every
 *                       shard has them all, as patterns in pubsub.h).
 *
 *   read on the owner  -> remember (client id) under the key
 *   write on the owner -> forget the key, send "__trkinv" to each reader's
 *                         core, which pushes to the client (or its redirect)
 *   BCAST              -> keys matching a prefix, collected until the next
 *                         loop iteration, sent in one batch per prefix
 *
 * Cost when nothing tracks: one test of sh->tracking_on per command
 * (route.c) and per expired key (shard.c).
 *
 * Threading: sh->tracking and everything it points to belong to sh's core.
 */
#pragma once

#include "shardis/sh.h"
#include "shardis/shard.h"

#include <stdint.h>

struct cmd_spec;
struct conn;
struct gather;
struct reply;
struct shard;
struct tracking;

/* Must a command run on this core be shown to tracking_after? */
static inline bool tracking_active(const struct shard *sh)
{
    return sh->tracking_on != 0;
}

/* Must a command dispatched on this core be shown to tracking_before? */
static inline bool tracking_dispatching(const struct shard *sh)
{
    return sh->tracking_dispatch != 0;
}

/* On the client's core, before c's command runs or is queued (OPTIN /
 * OPTOUT): CLIENT CACHING's one-command effect, told to the keys' owners. */
void tracking_before(struct conn *c, const struct cmd_spec *cmd, int argc,
                     const struct sh_slice *argv);
/* On the core that ran cmd over argv for client_id (0: none), with its
 * reply (RESP, len bytes): remembers the keys a read-only command read,
 * invalidates the keys a write command wrote (FLUSHDB, FLUSHALL: every
 * key). */
void tracking_after(struct shard *sh, const struct cmd_spec *cmd, int argc,
                    const struct sh_slice *argv, uint64_t client_id, const char *reply, size_t len);
/* On a key's owner, a transaction locks (mode, key) pairs: the keys it may
 * write ("w") are invalidated now (the lock keeps readers out until it
 * wrote them). */
void tracking_note_locks(struct shard *sh, int argc, const struct sh_slice *argv);
/* A key expired on this core (lazily or actively). */
void tracking_key_expired(struct shard *sh, const char *key, size_t len);
/* c is freed, or RESET: tracking off for it, and forgotten as a redirect
 * target's connection. */
void tracking_conn_gone(struct conn *c);
void tracking_conn_reset(struct conn *c);
/* The shard is going: frees what tracking keeps there. */
void tracking_shard_exit(struct shard *sh);

/* CLIENT TRACKING's gather (cmd_server.c binds it): parses, checks a
 * REDIRECT target on its core, registers with every shard, replies. */
extern const struct gather tracking_gather;
/* CLIENT CACHING yes|no for c: NULL, or Redis's error (without '-'). */
const char *tracking_caching(struct conn *c, struct sh_slice arg);
/* CLIENT GETREDIR: the redirect id, 0 for none, -1 when not tracking. */
long long tracking_getredir(const struct conn *c);
/* CLIENT TRACKINGINFO's reply for c. */
void tracking_info_reply(const struct conn *c, struct reply *r);
/* CLIENT LIST / INFO: appends c's letters t, R, B (Redis's order) at
 * flags[*n] (room for 3 more), and gives redir= (-1 when not tracking). */
void tracking_client_flags(const struct conn *c, char *flags, size_t *n, long long *redir);
/* INFO: tracking clients on this core; keys, ids and prefixes of this
 * core's tables (prefixes: every shard has all of them). */
void tracking_stats(const struct shard *sh, long long *clients, long long *keys, long long *items,
                    long long *prefixes);
