/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * prefetch.h: batch prefetching of the key table for the commands a shard
 * is about to run (issue 12, Valkey's "memory access amortization").
 *
 * A key lookup waits on two dependent cache misses (the bucket, then the
 * entry) and a read on a third (the value). Run one command after another
 * and the misses queue up; look at a batch of commands first, start the
 * bucket loads of all their keys, then the entry loads, then the value
 * loads, and the misses of the batch overlap. Everything here is a hint: a
 * wrong guess (a key that is not one, a SELECT in the pipeline) only wastes
 * a prefetch; nothing changes what the commands do.
 *
 * Threading: the shard's own core, on its own tables.
 */
#pragma once

#include "shardis/sh.h"

struct kdict;
struct shard;

/* Keys of one batch, and messages looked ahead in a mailbox. */
#define PREFETCH_KEYS 16

/*
 * Pre-scans the complete RESP multibulk commands of buf[pos..len) (a
 * connection's unparsed input), at most PREFETCH_KEYS keys of this shard in
 * database dbid, and prefetches their table slots. The keys of a command are
 * taken to be argv[1] (every argument for MGET DEL UNLINK EXISTS TOUCH, every
 * other one for MSET MSETNX). Stops at an inline or incomplete command, or
 * after a bounded number of argument headers, so one call costs O(1) whatever
 * the buffer holds. Returns the offset after the last command it scanned
 * (pos when none); the caller calls again once its parser has passed it.
 */
size_t prefetch_input(struct shard *sh, int dbid, const char *buf, size_t len, size_t pos);

/* Prefetches the slots of hash[0..n) in d (n <= PREFETCH_KEYS). */
void prefetch_hashes(struct kdict *d, const uint64_t *hash, int n);

/* Prefetches the key table slots of the first keys of msgs[0..n) (struct
 * req messages sent here by other shards, about to run, as mbox_peek_many
 * gives them). Borrows the messages. */
void prefetch_messages(struct shard *sh, void *const *msgs, size_t n);
