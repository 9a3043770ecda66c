/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * mbox.h: the lock-free single-producer single-consumer mailbox between two
 * shards, the sleep/wake word of a shard, and the few process-wide counters
 * that several cores update. This module (mbox.c) is the only place in
 * shardis with atomics (CONVENTIONS.md, rule 27).
 *
 * A mailbox is a bounded ring of pointers. The producer writes slots and
 * makes them visible in batches (mbox_publish: one release store of the tail
 * per batch); the consumer reads slots after an acquire load of the tail and
 * gives the space back in batches (mbox_consumed: one release store of the
 * head). Each side caches the other's index and reloads it only when its cache
 * says full/empty, so an uncontended push or pop touches only its own cache
 * line. A full mailbox never blocks: mbox_try_push returns -EAGAIN and the
 * caller keeps the message in a local overflow list.
 *
 * Sleeping: a shard about to block in io_uring_enter calls mbox_sleep_begin,
 * re-checks its inbound mailboxes, and only then sleeps; a producer calls
 * mbox_needs_wake after publishing and, when it returns true, wakes the target
 * with IORING_OP_MSG_RING. The seq_cst fences on both sides make the
 * (store sleeping; load tail) / (store tail; load sleeping) pairs a Dekker
 * handshake: at least one side sees the other, so no wake-up is lost.
 *
 * Threading: exactly one producer core and one consumer core per mailbox.
 */
#pragma once

#include "shardis/sh.h"

#include <stdatomic.h>

struct mbox {
    /* producer's cache line */
    _Alignas(SH_CACHELINE) atomic_size_t tail;
    size_t tail_local; /* written but not yet published */
    size_t head_cache;
    /* consumer's cache line */
    _Alignas(SH_CACHELINE) atomic_size_t head;
    size_t head_local; /* read but not yet given back */
    size_t tail_cache;
    /* read-only after init */
    _Alignas(SH_CACHELINE) void **slots;
    size_t mask;
};

/* cap is rounded up to a power of two. Returns 0 or -ENOMEM. */
SH_MUST_CHECK int mbox_init(struct mbox *m, size_t cap);
void mbox_fini(struct mbox *m);

/* Producer: queues msg (ownership passes on publish). Returns 0 or -EAGAIN
 * when full. Not visible to the consumer before mbox_publish. */
SH_MUST_CHECK int mbox_try_push(struct mbox *m, void *msg);
/* Producer: makes every pushed message visible. Returns true if there was
 * anything new to publish. */
bool mbox_publish(struct mbox *m);

/* Consumer: the next message or NULL when none is visible. */
void *mbox_pop(struct mbox *m);
/* Consumer: the message mbox_pop would return, left in place. */
void *mbox_peek(struct mbox *m);
/* Consumer: copies up to max of the next messages mbox_pop would return to
 * out, left in place (a look ahead, e.g. to prefetch what they touch).
 * Returns how many. Cost: O(max). */
size_t mbox_peek_many(struct mbox *m, void **out, size_t max);
/* Consumer: gives the slots of popped messages back to the producer. */
void mbox_consumed(struct mbox *m);
/* Consumer: is anything visible? (acquire) */
bool mbox_has_pending(struct mbox *m);

/* The sleep word of one shard, on its own cache line. */
struct mbox_sleeper {
    _Alignas(SH_CACHELINE) atomic_int sleeping;
};

/* Owner shard, before re-checking its mailboxes and sleeping. */
void mbox_sleep_begin(struct mbox_sleeper *s);
/* Owner shard, after waking (or deciding not to sleep). */
void mbox_sleep_end(struct mbox_sleeper *s);
/* Producer, after mbox_publish: does the target need a wake-up message? */
bool mbox_needs_wake(struct mbox_sleeper *s);

/* A process-wide counter (connected clients, shards ready, shards done with
 * shutdown). Adding releases what the adder wrote before; reading acquires it,
 * so "count reached N" also means "their set-up is visible". Not used on the
 * request path except once per accepted connection. */
struct mbox_counter {
    _Alignas(SH_CACHELINE) atomic_long v;
};

long mbox_counter_add(struct mbox_counter *c, long delta); /* returns the new value */
long mbox_counter_get(struct mbox_counter *c);
/* A process-wide flag (relaxed read is enough: it only ends loops). */
void mbox_counter_set(struct mbox_counter *c, long v);

/* A process-wide word of flags that several cores change by compare-and-swap
 * (a shard's busy-script state: the shard sets and clears it, SCRIPT KILL
 * from any core asks for the kill in it). Off the request path. */
long mbox_word_get(struct mbox_counter *w); /* acquire */
/* Replaces the value with desired if it is *expected (acq_rel) and returns
 * true; else false with the value found in *expected. */
bool mbox_word_cas(struct mbox_counter *w, long *expected, long desired);

/* A small buffer one core writes and any core reads, a seqlock of atomic
 * words (what FUNCTION STATS shows of another core's busy script). A reader
 * retries while a write is in progress or happened during its copy. */
#define MBOX_SEQBUF_WORDS 64
struct mbox_seqbuf {
    _Alignas(SH_CACHELINE) atomic_ulong seq; /* odd while a write is in progress */
    atomic_ulong len;
    atomic_ulong words[MBOX_SEQBUF_WORDS];
};
/* The one writer: p[0..n), cut at the buffer's size (8 * MBOX_SEQBUF_WORDS). */
void mbox_seqbuf_write(struct mbox_seqbuf *b, const void *p, size_t n);
/* Any core: copies the last complete write into out (cap bytes at least
 * 8 * MBOX_SEQBUF_WORDS) and returns its length. */
size_t mbox_seqbuf_read(struct mbox_seqbuf *b, void *out);
