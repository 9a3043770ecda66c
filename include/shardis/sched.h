/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * sched.h: cross-shard transactions, the shard's side (Dragonfly's design
 * after the VLL paper: "Very Lightweight Locking", Ren, Thomson, Abadi).
 *
 * A command whose keys live on several shards is a transaction T. Its
 * coordinator (route.c, on the client's core) takes a global sequence number
 * (one atomic increment: srv->txn_seq) and schedules T on every shard it
 * touches: each of those shards queues T in sequence order and takes intent
 * locks on T's keys there (shared for keys T only reads, exclusive for the
 * others; a FLUSHALL-like T locks the whole shard). A shard answers the
 * schedule with
 *   - "ready" once nothing that arrived here before T conflicts with it: no
 *     queued transaction holding a key of T in a conflicting mode, and no
 *     waiting plain command on such a key (at once, or when those are
 *     done), or
 *   - "refused" when a transaction with a later number was queued here
 *     first: transactions queue in number order only. The coordinator then
 *     concludes T wherever it was queued and schedules it again with a new
 *     number.
 * Once every shard said ready, T runs all its hops (stages) with no further
 * waiting, and concludes: each shard releases T's locks, answers the
 * schedules that became ready and runs the plain commands that waited.
 *
 * Why this is serializable: on every shard two conflicting transactions
 * become ready in number order (a later one waits for an earlier queued
 * one; an earlier one arriving after a later one is refused and
 * renumbered), and a transaction runs only once it is ready everywhere, so
 * the conflict order is one total order. Deadlock-free: on a shard every
 * wait is for something that arrived earlier (transactions and waiting
 * commands share one arrival order), a transaction runs only when ready
 * everywhere, and a refusal never waits.
 *
 * Plain commands (one shard's keys; the parts of a fan-out that is not a
 * transaction) pay one test when the shard has no lock and nothing waiting
 * (sched_quiet). Otherwise a command that touches a locked key in a
 * conflicting mode (any key, when a transaction locked the whole shard)
 * waits, in arrival order, behind everything already waiting, until the
 * locks are released: no command observes a key that a transaction holds,
 * and a client's commands to one shard still run in the order sent.
 *
 * Threading: all of this is the owning shard's own state, touched only on
 * its thread; transactions meet only through mailbox messages.
 */
#pragma once

#include "shardis/sh.h"

#include <stdint.h>

struct cmd_spec;
struct req;
struct shard;
struct sched_lock;
struct sched_txn;

struct sched {
    /* the one test of the fast path: locks held and commands waiting */
    uint32_t nlocks;
    uint32_t nwaiting;
    /* transactions queued here, in sequence order */
    struct sched_txn *head, *tail;
    int nall;         /* queued transactions that lock the whole shard */
    uint64_t max_seq; /* the highest number queued here so far */
    uint64_t tickets; /* arrival order of transactions and waiting commands */
    bool running;     /* sched_release is draining (no re-entry) */
    /* intent locks by key: a chained table, power-of-two buckets */
    struct sched_lock **buckets;
    size_t nbuckets;
    /* plain commands waiting for locks, in arrival order */
    struct req *wait_head, *wait_tail;
    /* INFO */
    uint64_t scheduled, refused, waited;
};

void sched_init(struct sched *s);
void sched_fini(struct sched *s);

/* Nothing locked and nothing waiting: every plain command may run now. */
static inline bool sched_quiet(const struct sched *s)
{
    return (s->nlocks | s->nwaiting | (uint32_t)s->nall) == 0;
}

/*
 * Owner side of a schedule message m (REQ_SCHED: m->txn_seq, m->dbid, and
 * in m->argv pairs of mode ("r" shared, "w" exclusive) and key; m->txn_all
 * locks the whole shard instead). Returns true when m is answered now
 * (m->txn_ok: true ready, false refused); false when T waits: the scheduler
 * keeps m and answers it later through route_sched_answer.
 */
bool sched_enqueue(struct shard *sh, struct req *m);
/* T (by number) is over here: releases its locks, removes it from the
 * queue, answers the schedules that became ready and runs the commands that
 * can now run. Unknown numbers are ignored. */
void sched_conclude(struct shard *sh, uint64_t seq);

/* May a plain command over argv run now? Call only when !sched_quiet. */
bool sched_admits(struct shard *sh, const struct cmd_spec *cmd, int dbid, int argc,
                  const struct sh_slice *argv);
/* Makes request m (a plain command, not yet run) wait for the locks; it is
 * run through route_run_waiting when admitted. */
void sched_wait(struct shard *sh, struct req *m);
