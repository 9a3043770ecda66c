/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * rdb_stream.h: private to shards/rdb.c and shards/rdb_stream.c: the stream
 * value's RDB form (see rdb_stream.c).
 */
#pragma once

#include "shardis/rdb.h"

struct tstream;

/* STREAM_LISTPACKS_2 payload of s. */
void rdb_put_stream(struct rdb_out *o, const struct tstream *s);
/* Reads a STREAM_LISTPACKS (type 15) or _2 (19) payload into out
 * (KVAL_NONE); false (in->err set, out left KVAL_NONE) on corrupt bytes. */
bool rdb_get_stream(struct rdb_in *in, int type, struct kval *out);
/* Moves past a stream payload (v2: type 19) without building it. */
bool rdb_skip_stream(struct rdb_in *in, bool v2);
