/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * cmd_stream_internal.h: what the three files of the stream family share:
 * cmd_stream.c (XADD XRANGE XREVRANGE XLEN XDEL XTRIM XSETID XINFO and these
 * helpers), cmd_stream_group.c (XGROUP XACK XPENDING XCLAIM XAUTOCLAIM) and
 * cmd_stream_read.c (XREAD XREADGROUP and their cross-shard gather).
 *
 * Threading: handlers run on the owner of their keys, the gather on the
 * client's core; nothing here keeps state.
 */
#pragma once

#include "shardis/cmd.h"
#include "shardis/tstream.h"

struct kentry;

#define CMD_STREAM_ERR_ID "ERR Invalid stream ID specified as stream command argument"

/* Redis's streamGenericParseIDOrReply: "-" (0-0) and "+" (max) unless
 * strict, "ms" (seq = missing_seq) or "ms-seq", and "ms-*" when seq_given
 * is not NULL (*seq_given false then). False on anything else. */
bool cmd_stream_parse_id(struct sh_slice s, struct tstream_id *id, uint64_t missing_seq,
                         bool strict, bool *seq_given);
/* The stream of key argv[i], or NULL (*e NULL) when missing: returns true;
 * WRONGTYPE is replied and false returned for another type. read: counted
 * as a keyspace hit or miss. */
bool cmd_stream_lookup(struct cmd_ctx *ctx, int i, bool read, struct kentry **e);
/* Keyspace event of class t for key argv[i]. */
void cmd_stream_notify(struct cmd_ctx *ctx, int i, const char *event);
void cmd_stream_reply_id(struct reply *r, const struct tstream_id *id);
/* Writes live entries of [start, end] (at most count, 0: all) as [id,
 * [field, value ...]] elements, no array header; returns how many. */
long long cmd_stream_reply_entries(struct reply *r, const struct tstream *s,
                                   const struct tstream_id *start, const struct tstream_id *end,
                                   long long count, bool rev);
/* The group's lag as XINFO shows it (null when unknown). */
void cmd_stream_reply_lag(struct reply *r, const struct tstream *s, const struct tstream_group *g);
/* Redis's "-NOGROUP No such key 'k' or consumer group 'g'" + suffix. */
void cmd_stream_reply_nogroup(struct cmd_ctx *ctx, int key, int group, const char *suffix);
/* A consumer of g named argv[i]: looked up (its seen-time refreshed) or
 * created (event "xgroup-createconsumer" for key argv[key]). */
struct tstream_consumer *cmd_stream_consumer(struct cmd_ctx *ctx, struct tstream_group *g, int i,
                                             int key);

void cmd_stream_group_bind(void);
void cmd_stream_read_bind(void);
