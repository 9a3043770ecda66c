/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * cmd_zset_internal.h: what the three files of the sorted set family share,
 * and cmd_geo.c (geo sets are sorted sets) uses for lookups, keyspace events
 * and its STORE forms: cmd_zset.c (single-key commands, pops,
 * ZRANDMEMBER, ZSCAN and the helpers below), cmd_zset_range.c (the ZRANGE
 * family, ZRANGESTORE) and cmd_zset_multi.c (ZUNION/ZINTER/ZDIFF and their
 * STORE forms, ZINTERCARD, the cross-shard gathers and internal commands).
 *
 * Threading: handlers run on the owner of their keys, gathers on the
 * client's core; nothing here keeps state.
 */
#pragma once

#include "shardis/cmd.h"
#include "shardis/tzset.h"

struct kentry;
struct shard;

#define CMD_ZSET_OOM "OOM command not allowed when used memory > 'maxmemory'."

/* The entry of key argv[i] when it is a sorted set or missing (*e = NULL):
 * returns true. A key of another type gets the WRONGTYPE reply and false.
 * read: count the lookup as a keyspace hit or miss (read commands). */
bool cmd_zset_lookup(struct cmd_ctx *ctx, int i, bool read, struct kentry **e);
/* Publishes keyspace event `event` of class type (NOTIFY_*) for argv[i]. */
void cmd_zset_notify(struct cmd_ctx *ctx, int i, int type, const char *event);
/* Writes one element of a range reply: the member, then with withscores
 * its score (a RESP3 pair [member, double], or two RESP2 bulks). */
void cmd_zset_reply_elem(struct reply *r, const struct tzset_elem *e, bool withscores);

/* Replaces key (hash: its kdict hash) in database dbid of sh by the sorted
 * set of dump bytes blob[0..len) (tzset_dump's form, built by the caller),
 * dropping its TTL, and publishes event (class z); with no element the key
 * is deleted instead ("del" when it existed). The *STORE commands' last
 * step, on the destination's owner. Returns the members stored (0 when
 * deleted), -ENOMEM or -EINVAL (corrupt bytes; nothing changed). Marks the
 * key's WATCHers when it changes it; sets *unchanged when an empty result
 * met no key. */
SH_MUST_CHECK long long cmd_zset_store(struct shard *sh, int dbid, struct sh_slice key,
                                       uint64_t hash, const char *blob, size_t len,
                                       const char *event, bool *unchanged);
/* Replies a cmd_zset_store result: the count, or the OOM / internal error. */
void cmd_zset_reply_stored(struct reply *r, long long n);

/* ZMPOP's arguments (argv[0] is the command): numkeys, MIN|MAX and COUNT
 * (*count -1 when not given). Returns NULL, or the error reply's message in
 * Redis's order. */
const char *cmd_zset_mpop_parse(int argc, const struct sh_slice *argv, long long *numkeys,
                                bool *max, long long *count);

/* ZMPOP across shards (cmd_zset_multi.c). */
extern const struct gather cmd_zset_multi_mpop_gather;

/* The internal command "__zstore dst blob event" (cmd_zset_multi.c): runs
 * cmd_zset_store on dst's owner and replies its result. */
extern const struct cmd_spec cmd_zset_multi_store_spec;

/* Registration of the other two files' handlers (cmd_zset_bind calls
 * them). */
void cmd_zset_range_bind(void);
void cmd_zset_multi_bind(void);
