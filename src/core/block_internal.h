/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * block_internal.h: what block.c (the blocking pops, the waiter queues, the
 * blocked clients) and block_stream.c (XREAD and XREADGROUP with BLOCK)
 * share. Not a public header: core/ only.
 *
 * Threading: a struct block and its queues belong to the shard (sh->blk)
 * whose core runs the functions; a struct bclient to its client's core.
 */
#pragma once

#include "shardis/conn.h"
#include "shardis/reply.h"
#include "shardis/route.h"
#include "shardis/sh.h"
#include "shardis/tstream.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct kentry;
struct shard;

/* what a blocked command does once it has an element */
enum bkind {
    BK_POP,   /* BLPOP BRPOP: [key, elem] */
    BK_MOVE,  /* BLMOVE BRPOPLPUSH: elem, pushed to a destination */
    BK_MPOP,  /* BLMPOP: [key, [elem ...]] */
    BK_ZPOP,  /* BZPOPMIN BZPOPMAX: [key, member, score] */
    BK_ZMPOP, /* BZMPOP: [key, [[member, score] ...]] */
    BK_XREAD, /* XREAD XREADGROUP: what the owners' reads reply, merged */
};

enum bphase {
    PH_ERR,  /* a syntax error to reply */
    PH_REG,  /* __bwait parts in flight */
    PH_WAIT, /* parked */
    PH_POP,  /* a claim in flight */
    PH_PUSH, /* BLMOVE's push to another owner in flight */
};

/* one blocked command, on its client's core */
struct bclient {
    struct bclient *prev, *next; /* the shard's blocked clients */
    struct bclient *hnext;       /* token map chain */
    uint64_t token;
    struct coord *co;
    enum bkind kind;
    enum bphase phase;
    bool zset;
    bool left;     /* pop from the left / the min */
    bool dst_left; /* BLMOVE: push to the left */
    long count;
    int first, nkeys, dst;       /* argv indexes in argv (dst 0: none) */
    const struct sh_slice *argv; /* the command: co->argv, or xargv */
    struct sh_slice *xargv;      /* BK_XREAD: its copy (its coordinator has the name only) */
    char (*xid)[TSTREAM_ID_BUF]; /* BK_XREAD: [key] its ID as the owner resolved it */
    long long ms;                /* BK_XREAD: the timeout given */
    int *owner;                  /* [key] owner shard */
    uint8_t *ready;              /* [key] the owner said it has data */
    int claim;                   /* the key a claim is for */
    int64_t deadline_us;         /* 0: forever */
    bool timed_out, unblock_error;
    const char *err;   /* PH_ERR's reply */
    struct rbuf moved; /* BLMOVE: the element between pop and push */
};

/* the waiters of one key, on its owner */
struct bwaiter {
    struct bwaiter *next;
    uint64_t token;
    int origin;
    char type; /* what it waits for: 'l' a list, 'z' a sorted set, 'x' a stream */
    bool told;
    bool grouped;         /* 'x': XREADGROUP, of group[glen] */
    struct tstream_id gt; /* 'x' XREAD: entries past this ID */
    size_t glen;
    char group[];
};

struct bqueue {
    struct bwaiter *head, *tail;
    struct bqueue *gprev, *gnext; /* on the block's gwatch while ngroup > 0 */
    int ngroup;                   /* XREADGROUP waiters */
    int dbid;
    size_t klen;
    char key[];
};

/* a key to look at at the end of the iteration */
struct bready {
    struct bready *next;
    int dbid;
    size_t len;
    char key[];
};

struct block {
    /* client side */
    struct bclient **tab; /* token -> client, chained; mask + 1 buckets */
    size_t mask, nclients;
    struct bclient *all;
    uint64_t next_token;
    int64_t next_deadline_us;
    /* owner side */
    struct kdict **waiting; /* [db]: key -> struct bqueue (val.u.p) */
    int ndbs;
    size_t nqueues;
    struct bready *ready, **ready_tail;
    struct bqueue *gwatch; /* queues with XREADGROUP waiters */
    uint64_t gw_dirty;     /* stats.dirty when they were last looked at */
};

/* The waiters to tell of one key: collected first, told after, because a
 * tell to this core runs the client's claim at once, which changes (and
 * may free) the queue. */
struct tells {
    size_t n, cap;
    uint64_t *token;
    int *origin;
};

static inline struct shard *block_shard_of(const struct bclient *bc)
{
    return bc->co->conn->sh;
}

/* The i-th key bc waits on (borrowed from its argv). */
static inline struct sh_slice block_key_of(const struct bclient *bc, int i)
{
    return bc->argv[bc->first + i];
}

/* ---- the owner's side: block.c ---- */

/* The waiter queue of key (a kentry whose val.u.p is the struct bqueue),
 * created when create is set; NULL when there is none. */
struct kentry *block_queue_entry(struct shard *sh, int dbid, struct sh_slice key, bool create);
/* A queue's count of XREADGROUP waiters moved by delta: it is on b->gwatch
 * while it has any. */
void block_queue_count_group(struct block *b, struct bqueue *q, int delta);
/* Frees the queue of e (and e) when it has no waiter left. */
void block_queue_drop_if_empty(struct shard *sh, int dbid, struct kentry *e);
/* Removes (token, origin) from q, *found says whether it was there;
 * returns whether it was told. */
bool block_queue_remove(struct block *b, struct bqueue *q, uint64_t token, int origin, bool *found);
/* Key (copied) is looked at at the end of the iteration: its waiters with
 * something there are told. */
void block_mark_ready(struct shard *sh, int dbid, const char *key, size_t len);
/* Marks w told and adds it to t (grown as needed). */
void block_tells_add(struct tells *t, struct bwaiter *w);

/* ---- the owner's side: block_stream.c ---- */

/* Adds to t the stream waiters of q to tell (s: the key's stream, or NULL
 * when it has none or another type). O(waiters of q). */
void block_stream_serve(struct bqueue *q, const struct tstream *s, struct tells *t);
/* A write ran on this shard since the last look (b->gwatch not empty): the
 * keys with XREADGROUP waiters are looked at. O(such keys). */
void block_stream_recheck(struct shard *sh);

/* ---- the client's side: block.c ---- */

/* bc (its owners known) is blocked from now on, for ms (0: forever). */
void block_client_block(struct bclient *bc, long long ms);
/* Claims the first key with data (every one told, for streams), replies a
 * timeout or an unblock, or parks. Returns the gather's done result. */
bool block_next_step(struct bclient *bc, struct reply *r);
/* Ends the command (the owners forget it) and frees bc. Returns true. */
bool block_finish(struct bclient *bc);
/* The blocking commands' gather done callback (co->ext is the bclient). */
bool block_done(struct coord *co, struct reply *r);

/* ---- the client's side: block_stream.c ---- */

/* Sends the claims of the keys told and not claimed yet. */
void block_xread_claim(struct bclient *bc);
/* The __xwait answers: replies an error or what was served at once, or
 * waits. Returns the gather's done result. */
bool block_xread_on_acks(struct bclient *bc, struct reply *r);
/* The __xclaim answers: replies the read or the error, or waits on.
 * Returns the gather's done result. */
bool block_xread_on_claimed(struct bclient *bc, struct reply *r);
