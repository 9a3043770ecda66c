/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * block_stream.c: XREAD and XREADGROUP with BLOCK, over keys of any shards.
 *
 * A blocked read is a blocked client of block.c (kind BK_XREAD): it waits
 * on the same per-key queues (its waiters are of type 'x'), with the same
 * tokens, tells (__bready), timeouts, unblocking and unwait; this file has
 * what differs. The stream family's internal commands (cmd_stream_read.c)
 * do the owner's part:
 *
 *   client's core                            owner of the keys
 *   XREAD BLOCK ... --- __xwait tok ... -->  resolve as XREAD does ("$" is
 *                                          the stream's last ID now); one
 *                                          owner: serve at once if there is
 *                                          something, else register; several:
 *                                          register, the ready ones are told
 *                   <-- error | served | registered + resolved IDs
 *   claim           --- __xclaim tok ... ->  XREAD of the told keys with the
 *                                          resolved IDs (the blocked forms of
 *                                          Redis's errors: -NOGROUP, -UNBLOCKED)
 *
 * Every XREAD waiter of a key is told when the stream has an entry past its
 * ID (each gets the entries); XREADGROUP waiters of one group are told one
 * at a time, as the pops' (entries go to one consumer each); a group waiter
 * is also told when its group or its stream is gone, and its claim gets the
 * error. XADD and XGROUP DESTROY tell the owner (block_key_touched); a new
 * key comes through the kdb hook; a stream deleted or overwritten by any
 * other command is found by looking at the keys that have group waiters
 * once per loop iteration in which this shard ran a write (stats.dirty
 * moved): O(such keys) then. Plain XREAD waiters of a deleted key wait on,
 * as in Redis. A key expiring is not looked at until the next write.
 *
 * Threading: waiters live on the owner's core, blocked clients on theirs;
 * they talk only through internal commands (mailboxes).
 */
#include "block_internal.h"
#include "shardis/block.h"
#include "shardis/cmd.h"
#include "shardis/conn.h"
#include "shardis/kdb.h"
#include "shardis/kdict.h"
#include "shardis/reply.h"
#include "shardis/resp.h"
#include "shardis/route.h"
#include "shardis/shard.h"
#include "shardis/tstream.h"

#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

/* the stream family's __xwait and __xclaim (block_set_stream_specs), set
 * before the shards start */
static const struct cmd_spec *spec_xwait, *spec_xclaim;

/* ==== the owner's side ==== */

/* Is a waiter of w's group told already (its claim in flight)? */
static bool group_told(const struct bqueue *q, const struct bwaiter *w)
{
    for (const struct bwaiter *x = q->head; x; x = x->next) {
        if (x->told && x->grouped && x->glen == w->glen && !memcmp(x->group, w->group, w->glen)) {
            return true;
        }
    }
    return false;
}

/* Has s (NULL: gone) something for stream waiter w of q? maxid: its last
 * entry's ID, NULL when it has none. */
static bool stream_ready(const struct bqueue *q, const struct bwaiter *w, const struct tstream *s,
                         const struct tstream_id *maxid)
{
    const struct tstream_group *g;

    if (!w->grouped) {
        return maxid && tstream_id_cmp(maxid, &w->gt) > 0;
    }
    g = s ? tstream_group_find(s, w->group, w->glen) : NULL;
    return !g || (maxid && tstream_id_cmp(maxid, &g->last_id) > 0 && !group_told(q, w));
}

/* The stream waiters of a key to tell: every XREAD waiter with entries
 * past its ID, the first XREADGROUP waiter of each group with entries past
 * the group's last ID, and every group waiter whose group or stream is gone
 * (its claim gets the error). s: the key's stream, or NULL (none, or
 * another type). */
void block_stream_serve(struct bqueue *q, const struct tstream *s, struct tells *t)
{
    struct tstream_id maxid = { 0, 0 };
    bool any = s && s->length;

    if (any) {
        tstream_edge_id(s, false, &maxid);
    }
    for (struct bwaiter *w = q->head; w; w = w->next) {
        if (w->type == 'x' && !w->told && stream_ready(q, w, s, any ? &maxid : NULL)) {
            block_tells_add(t, w);
        }
    }
}

void block_key_touched(struct shard *sh, int dbid, struct sh_slice key)
{
    if (sh->blk->nqueues && block_queue_entry(sh, dbid, key, false) != NULL) {
        block_mark_ready(sh, dbid, key.ptr, key.len);
    }
}

bool block_stream_wait(struct shard *sh, int dbid, struct sh_slice key, uint64_t token, int origin,
                       const struct tstream_id *gt, const struct sh_slice *group)
{
    struct kentry *e = block_queue_entry(sh, dbid, key, true), *v;
    struct bqueue *q = e->val.u.p;
    size_t glen = group ? group->len : 0;
    struct bwaiter *w = sh_calloc(1, sizeof(*w) + glen);
    const struct tstream *s = NULL;
    struct tstream_id maxid;

    w->token = token;
    w->origin = origin;
    w->type = 'x';
    if (group) {
        w->grouped = true;
        w->glen = glen;
        memcpy(w->group, group->ptr, glen);
        block_queue_count_group(sh->blk, q, 1);
    } else {
        w->gt = *gt;
    }
    if (q->tail) {
        q->tail->next = w;
    } else {
        q->head = w;
    }
    q->tail = w;
    v = kdb_peek(shard_db(sh, dbid), key.ptr, key.len, kdict_hash(key.ptr, key.len), sh->now_ms);
    if (v && v->val.type == KVAL_STREAM) {
        s = tstream_of(&v->val);
        if (s->length) {
            tstream_edge_id(s, false, &maxid);
        }
    }
    /* something there already (several owners register before reading):
     * told now, as __bwait tells */
    w->told = s && stream_ready(q, w, s, s->length ? &maxid : NULL);
    return w->told;
}

bool block_stream_claim(struct shard *sh, int dbid, struct sh_slice key, uint64_t token, int origin,
                        bool served)
{
    struct kentry *e = block_queue_entry(sh, dbid, key, false);
    struct bqueue *q;
    bool found = false, again = true;

    if (!e) {
        return false;
    }
    q = e->val.u.p;
    for (struct bwaiter *w = q->head; w; w = w->next) {
        if (w->token == token && w->origin == origin) {
            w->told = false; /* served or not, this claim answers the tell */
            found = true;
        }
    }
    while (served && again) {
        block_queue_remove(sh->blk, q, token, origin, &again);
    }
    block_queue_drop_if_empty(sh, dbid, e);
    /* the next waiter of a group, or nothing (every told mark is cleared) */
    block_mark_ready(sh, dbid, key.ptr, key.len);
    return found;
}

void block_stream_recheck(struct shard *sh)
{
    struct block *b = sh->blk;

    /* a write may have deleted a stream or a group someone waits on */
    b->gw_dirty = sh->stats.dirty;
    for (struct bqueue *q = b->gwatch; q; q = q->gnext) {
        block_mark_ready(sh, q->dbid, q->key, q->klen);
    }
}

/* ==== the client's side ==== */

void block_set_stream_specs(const struct cmd_spec *wait, const struct cmd_spec *claim)
{
    spec_xwait = wait;
    spec_xclaim = claim;
}

/* The read's options for the owners: argv[1 .. STREAMS] without BLOCK and
 * its timeout (a group or consumer may be named "block"). Returns how many
 * it wrote to out. */
static int xopts(const struct bclient *bc, struct sh_slice *out)
{
    int n = 0, end = bc->first - 1; /* argv[end] is STREAMS */

    for (int i = 1; i < end; i++) {
        int take = 1;

        if (sh_slice_eq_nocase(bc->argv[i], "group")) {
            take = 3;
        } else if (sh_slice_eq_nocase(bc->argv[i], "count")) {
            take = 2;
        } else if (sh_slice_eq_nocase(bc->argv[i], "block")) {
            i++;
            continue;
        }
        for (int j = 0; j < take && i < end; j++) {
            out[n++] = bc->argv[i++];
        }
        i--;
    }
    out[n++] = bc->argv[end];
    return n;
}

/* Sends each owner its part: the registration (__xwait, the client's IDs)
 * of all its keys, or the claim (__xclaim, the resolved IDs) of its keys
 * told and not claimed yet (ready bit 1 -> claim in flight, bit 2). */
static void xsend(struct bclient *bc, bool claim)
{
    struct shard *sh = block_shard_of(bc);
    struct sh_slice *argv = sh_malloc(sizeof(*argv) * (size_t)(bc->first + 2 * bc->nkeys + 5));
    char tok[24], org[12];
    bool single = true;
    int k = 0;

    for (int i = 1; i < bc->nkeys; i++) {
        single &= bc->owner[i] == bc->owner[0];
    }
    argv[k++] = claim ? (struct sh_slice){ "__xclaim", 8 } : (struct sh_slice){ "__xwait", 7 };
    argv[k++] = (struct sh_slice){ tok, (size_t)snprintf(tok, sizeof(tok), "%llu",
                                                         (unsigned long long)bc->token) };
    argv[k++] = (struct sh_slice){ org, (size_t)snprintf(org, sizeof(org), "%d", sh->id) };
    if (!claim) {
        argv[k++] = (struct sh_slice){ single ? "1" : "0", 1 };
    }
    argv[k++] = bc->argv[0];
    k += xopts(bc, argv + k);
    for (int s = 0; s < sh->srv->nshards; s++) {
        int nk = 0;

        for (int i = 0; i < bc->nkeys; i++) {
            if (bc->owner[i] == s && (!claim || (bc->ready[i] & 1))) {
                argv[k + nk++] = block_key_of(bc, i);
            }
        }
        for (int i = 0, j = 0; i < bc->nkeys && nk; i++) {
            if (bc->owner[i] != s || (claim && !(bc->ready[i] & 1))) {
                continue;
            }
            if (claim) {
                argv[k + nk + j++] = (struct sh_slice){ bc->xid[i], strlen(bc->xid[i]) };
                bc->ready[i] = 2;
            } else {
                argv[k + nk + j++] = bc->argv[bc->first + bc->nkeys + i];
            }
        }
        if (nk) {
            coord_send(bc->co, s, claim ? spec_xclaim : spec_xwait, bc->co->dbid, k + 2 * nk, argv);
        }
    }
    sh_free(argv);
}

void block_xread_claim(struct bclient *bc)
{
    bc->phase = PH_POP;
    xsend(bc, true);
}

/* A part's streams still to merge: where the next starts, how many left. */
struct xcur {
    struct sh_slice p;
    size_t pos;
    long long left;
};

/* Copies the next stream of cur to r when it is key's; false: it is not. */
static bool xtake(struct xcur *cur, struct sh_slice key, struct reply *r)
{
    size_t pos = cur->pos, n;
    struct sh_slice k;
    long long two;

    if (cur->left <= 0 || (r->proto == 2 && !coord_read_header(cur->p, &pos, '*', &two)) ||
        !coord_read_bulk(cur->p, &pos, &k) || k.len != key.len || memcmp(k.ptr, key.ptr, k.len)) {
        return false;
    }
    n = resp_value_size(cur->p.ptr + pos, cur->p.len - pos);
    SH_ASSERT(n > 0);
    if (r->proto == 2) {
        reply_array(r, 2);
    }
    reply_bulk(r, k.ptr, k.len);
    reply_raw(r, cur->p.ptr + pos, n);
    cur->pos = pos + n;
    cur->left--;
    return true;
}

/* Writes the streams that the owners' reads gave (from[s]: where shard s's
 * read reply starts in its part, SIZE_MAX: none), in argument order, as
 * XREAD replies them. Returns how many; 0: r untouched. */
static long long xmerge(struct bclient *bc, struct reply *r, const size_t *from)
{
    int ns = block_shard_of(bc)->srv->nshards;
    struct xcur *cur = sh_calloc((size_t)ns, sizeof(*cur));
    struct rbuf body;
    struct reply br;
    long long n = 0;

    for (int s = 0; s < ns; s++) {
        if (from[s] == SIZE_MAX) {
            continue;
        }
        cur[s].p = coord_part(bc->co, s);
        cur[s].pos = from[s];
        if (cur[s].p.ptr[cur[s].pos] != '_' &&
            !coord_read_header(cur[s].p, &cur[s].pos, bc->co->proto == 2 ? '*' : '%',
                               &cur[s].left)) {
            sh_panic("corrupt XREAD part");
        }
    }
    rbuf_init(&body);
    br = (struct reply){ .buf = &body, .proto = bc->co->proto };
    for (int i = 0; i < bc->nkeys; i++) {
        n += xtake(&cur[bc->owner[i]], block_key_of(bc, i), &br);
    }
    if (n) {
        if (r->proto == 2) {
            reply_array(r, n);
        } else {
            reply_map(r, n);
        }
        reply_raw(r, body.data, body.len);
    }
    rbuf_fini(&body);
    sh_free(cur);
    return n;
}

/* The stage's error (a part that is one) of the first key in argument
 * order among those the parts were for (claim: ready bit 2), or {NULL, 0}. */
static struct sh_slice xfirst_error(const struct bclient *bc, bool claim)
{
    for (int i = 0; i < bc->nkeys; i++) {
        struct sh_slice p = coord_part(bc->co, bc->owner[i]);

        if ((!claim || (bc->ready[i] & 2)) && p.len && p.ptr[0] == '-') {
            return p;
        }
    }
    return (struct sh_slice){ NULL, 0 };
}

/* The registrations' answers: [i, error] (the owner's i-th key's error),
 * [-1, read reply] (served at once) or [-2, [id, told ...]] (waiting, with
 * the IDs resolved; told: something is there now, claim it). */
bool block_xread_on_acks(struct bclient *bc, struct reply *r)
{
    int ns = block_shard_of(bc)->srv->nshards, err_at = INT_MAX;
    size_t *from = sh_malloc(sizeof(*from) * (size_t)ns);
    struct sh_slice err = { NULL, 0 };
    bool served = false;

    for (int s = 0; s < ns; s++) {
        struct sh_slice p = coord_part(bc->co, s), id;
        size_t pos = 0;
        long long two, st, cnt, told;

        from[s] = SIZE_MAX;
        if (!p.len) {
            continue;
        }
        SH_ASSERT(coord_read_header(p, &pos, '*', &two) && coord_read_header(p, &pos, ':', &st));
        if (st >= 0) {
            for (int i = 0, j = 0; i < bc->nkeys; i++) {
                if (bc->owner[i] == s && j++ == st && i < err_at) {
                    err_at = i;
                    err = (struct sh_slice){ p.ptr + pos, p.len - pos };
                }
            }
        } else if (st == -1) {
            from[s] = pos;
            served = true;
        } else {
            SH_ASSERT(coord_read_header(p, &pos, '*', &cnt));
            for (int i = 0; i < bc->nkeys; i++) {
                if (bc->owner[i] == s) {
                    SH_ASSERT(coord_read_bulk(p, &pos, &id) && id.len < TSTREAM_ID_BUF &&
                              coord_read_header(p, &pos, ':', &told));
                    memcpy(bc->xid[i], id.ptr, id.len);
                    bc->xid[i][id.len] = '\0';
                    bc->ready[i] |= told == 1;
                }
            }
        }
    }
    if (err.len) {
        reply_raw(r, err.ptr, err.len);
    } else if (served && !xmerge(bc, r, from)) {
        reply_null_array(r); /* served at once, with nothing: cannot be */
    }
    sh_free(from);
    return err.len || served ? block_finish(bc) : block_next_step(bc, r);
}

/* The claims' answers: a read reply each, or the error that ends the wait
 * (the group or the stream is gone). */
bool block_xread_on_claimed(struct bclient *bc, struct reply *r)
{
    int ns = block_shard_of(bc)->srv->nshards;
    struct sh_slice err = xfirst_error(bc, true);
    size_t *from;
    long long n;

    for (int i = 0; i < bc->nkeys; i++) {
        bc->ready[i] &= 1; /* claimed: answered */
    }
    if (err.len) {
        reply_raw(r, err.ptr, err.len);
        return block_finish(bc);
    }
    if (bc->co->conn->flags & CONN_CLOSING) {
        reply_null_array(r);
        return block_finish(bc);
    }
    from = sh_malloc(sizeof(*from) * (size_t)ns);
    for (int s = 0; s < ns; s++) {
        from[s] = coord_part(bc->co, s).len ? 0 : SIZE_MAX;
    }
    n = xmerge(bc, r, from);
    sh_free(from);
    return n ? block_finish(bc) : block_next_step(bc, r);
}

static void xblock_start(struct coord *co)
{
    struct bclient *bc = co->ext;
    struct shard *sh = co->conn->sh;
    uint64_t h;

    bc->co = co;
    co->part_proto = (uint8_t)co->proto; /* the owners' reads reply as the client reads */
    bc->owner = sh_malloc(sizeof(int) * (size_t)bc->nkeys);
    bc->ready = sh_calloc((size_t)bc->nkeys, 1);
    bc->xid = sh_calloc((size_t)bc->nkeys, sizeof(*bc->xid));
    for (int i = 0; i < bc->nkeys; i++) {
        bc->owner[i] =
                shard_owner(sh->srv->nshards, block_key_of(bc, i).ptr, block_key_of(bc, i).len, &h);
    }
    block_client_block(bc, bc->ms);
    xsend(bc, false);
}

static const struct gather gather_xblock = { .start = xblock_start,
                                             .done = block_done,
                                             .barrier = true };

void block_xread_start(struct cmd_ctx *ctx, int streams, int nkeys, long long ms)
{
    struct bclient *bc = sh_calloc(1, sizeof(*bc));

    bc->xargv = sh_slices_dup(ctx->argc, ctx->argv);
    bc->argv = bc->xargv;
    bc->kind = BK_XREAD;
    bc->first = streams;
    bc->nkeys = nkeys;
    bc->ms = ms;
    rbuf_init(&bc->moved);
    coord_start_txn(ctx->conn, ctx->cmd, &gather_xblock, bc, ctx->dbid, 0, NULL, false);
}
