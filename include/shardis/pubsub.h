/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * pubsub.h: publish/subscribe across shards, and keyspace notifications.
 *
 * A channel has an owner shard (shard_owner of its name, like a key). The
 * owner keeps, per channel, how many subscribed connections each shard has
 * (the registry). Patterns are registered on every shard (any channel may
 * match them). A connection's own subscriptions live on its shard, with the
 * connection.
 *
 *   SUBSCRIBE on shard S:  S adds c locally, tells owner(ch) "+1 from S",
 *                          and replies once the owner has counted it.
 *   PUBLISH ch msg:        runs on owner(ch): counts receivers (channel +
 *                          matching patterns), sends one delivery per shard
 *                          that has receivers; each shard writes the message
 *                          to its local subscribers' output.
 *
 * One publisher's messages on one channel keep their order: they all pass
 * through the same owner, and mailboxes are FIFO per pair of shards.
 *
 * Threading: struct pubsub belongs to one shard; everything crosses shards
 * as messages (route_post / coordinators).
 */
#pragma once

#include "shardis/sh.h"

struct conn;
struct pubsub;
struct shard;

struct pubsub *pubsub_create(void);
/* pubsub_destroy(NULL) is a no-op. */
void pubsub_destroy(struct pubsub *ps);

/* c is going away: drops its subscriptions here and at the owners. */
void pubsub_conn_gone(struct conn *c);
/* Channels + patterns + shard channels c is subscribed to. */
long pubsub_conn_count(const struct conn *c);

/* Publishes msg on channel ch from a handler running on sh (keyspace
 * notifications). */
void pubsub_publish(struct shard *sh, const char *ch, size_t chlen, const char *msg, size_t msglen);
/* A keyspace event of class `type` (NOTIFY_*) for key in database dbid,
 * published as Redis does when notify-keyspace-events enables it. */
void pubsub_notify(struct shard *sh, int type, const char *event, const char *key, size_t klen,
                   int dbid);

/* Channels this shard owns (with subscribers), patterns (every shard knows
 * all of them) and shard channels it owns, for INFO. */
void pubsub_stats(const struct pubsub *ps, long long *channels, long long *patterns,
                  long long *shard_channels);

/* Registers the pub/sub commands (main, before shards start). */
void pubsub_bind(void);
