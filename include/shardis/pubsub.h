/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * pubsub.h: publish/subscribe across shards, and keyspace notifications.
 *
 * A channel has an owner shard (shard_owner of its name, like a key). Every
 * shard keeps a replica of the channel registry (per channel, how many
 * subscribed connections each shard has), and of the pattern registry.
 * Shard channels (SSUBSCRIBE) are registered on their owner only. A
 * connection's own subscriptions live on its shard, with the connection.
 *
 *   SUBSCRIBE on shard S:  S adds c locally, tells every shard "+1 from S"
 *                          (the owner only, for shard channels), and
 *                          replies once they have all counted it.
 *   PUBLISH ch msg:        runs on the publisher's core: counts receivers
 *                          (channel + matching patterns) from its replica,
 *                          sends one delivery per shard that has receivers;
 *                          each shard writes the message to its local
 *                          subscribers' output.
 *   SPUBLISH ch msg:       the same, on owner(ch).
 *
 * One publisher's messages reach each subscriber in their order, whatever
 * the channels: they all leave from the publisher's core, and mailboxes are
 * FIFO per pair of shards. Keyspace notifications are published on the
 * key's owner, so the keyspace message comes before the keyevent one.
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
 * notifications): the deliveries leave from sh. */
void pubsub_publish(struct shard *sh, const char *ch, size_t chlen, const char *msg, size_t msglen);
/* A keyspace event of class `type` (NOTIFY_*) for key in database dbid,
 * published as Redis does when notify-keyspace-events enables it. */
void pubsub_notify(struct shard *sh, int type, const char *event, const char *key, size_t klen,
                   int dbid);

/* Channels this shard owns (with subscribers; every shard knows all of
 * them), patterns (every shard knows all of them) and shard channels it
 * owns, for INFO. */
void pubsub_stats(const struct pubsub *ps, long long *channels, long long *patterns,
                  long long *shard_channels);

/* Registers the pub/sub commands (main, before shards start). */
void pubsub_bind(void);
