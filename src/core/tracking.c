/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * tracking.c: client-side caching (see tracking.h for the two sides): the
 * owners' tables, delivery to connections, the command hooks. A
 * connection's own state and the CLIENT subcommands are in
 * tracking_client.c; what both share, in tracking_internal.h.
 *
 * Tables of one core (struct tracking), kdicts whose entries carry a
 * pointer or a number in val.u (type KVAL_NONE, so the table never frees
 * it):
 *
 *   clients   id -> struct trk_client   this core's tracking connections
 *   readers   id -> struct trk_reader   every default-mode client (all cores)
 *   table     key -> struct trk_ids     (owner) who read the key
 *   prefixes  prefix -> struct trk_prefix  every BCAST prefix (all cores),
 *             its subscribers and the keys written since the last batch
 *
 * Messages (internal commands, route_post or coordinator parts):
 *
 *   __trkreg id flags          every core   a default-mode client's registry
 *                                           entry (flags 0: gone)
 *   __trkpfx id noloop add p.. every core   BCAST prefixes (add 0: remove)
 *   __trkarm id                owner        CLIENT CACHING for the next read
 *   __trkinv kind writer n k.. id..  client core  keys to invalidate
 *   __trkfwd to from payload   redirect's core   an invalidation to write
 *   __trkbroken id redir       client core  the redirect target is gone
 *   __trkexists id             its core     CLIENT TRACKING REDIRECT's check
 *
 * A client's reads reach its keys' owners after its __trkreg (one mailbox,
 * FIFO), so a default-mode ON needs no wait; BCAST waits for every core to
 * count its prefixes before +OK, as SUBSCRIBE does, so that a write made
 * after the reply is seen.
 *
 * Pushes are written to the client's connection in reply order (after the
 * replies still pending, as a ready slot would be: never before the value
 * they invalidate) and only between commands: they wait in the core's
 * outbox, flushed on the completion of a NOP submitted when the outbox or a
 * BCAST batch first fills (the next loop iteration, where Redis uses
 * beforeSleep).
 *
 * Known differences: a write command invalidates its write keys whenever
 * it did not fail (Redis: only when it changed them); reads whose keys span
 * shards through a family's internal dump command (SUNION of keys of
 * several owners) are not remembered; each owner sends its own BCAST batch.
 */
#include "shardis/tracking.h"

#include "shardis/cmd.h"
#include "shardis/cmdtab.h"
#include "shardis/config.h"
#include "shardis/conn.h"
#include "shardis/kdict.h"
#include "shardis/pubsub.h"
#include "shardis/route.h"
#include "shardis/shard.h"
#include "shardis/util.h"
#include "tracking_internal.h"

#include <liburing.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define TRK_MAX_ARMS   (1 << 20)
#define TRK_EVICT_STEP 100

static const struct cmd_spec spec_inv, spec_fwd, spec_broken;

/* ---- small helpers ---- */

int tracking_shard_of_id(const struct shard *sh, uint64_t id)
{
    return (int)((id - 1) % (uint64_t)sh->srv->nshards);
}

struct kentry *tracking_id_find(struct kdict *d, uint64_t id)
{
    return kdict_find(d, &id, sizeof(id), kdict_hash(&id, sizeof(id)));
}

struct kentry *tracking_id_add(struct kdict *d, uint64_t id)
{
    return kdict_add(d, &id, sizeof(id), kdict_hash(&id, sizeof(id)));
}

static struct kentry *name_find(struct kdict *d, struct sh_slice s)
{
    return kdict_find(d, s.ptr, s.len, kdict_hash(s.ptr, s.len));
}

static bool arg_u64(struct sh_slice s, uint64_t *v)
{
    long long x;

    if (!util_str2ll(s.ptr, s.len, &x)) {
        return false;
    }
    *v = (uint64_t)x;
    return true;
}

struct sh_slice tracking_u64_arg(char *buf, size_t cap, uint64_t v)
{
    int n = snprintf(buf, cap, "%llu", (unsigned long long)v);

    return (struct sh_slice){ buf, (size_t)n };
}

static void on_nop(struct shard *sh, struct shard_io *io, int res);

struct tracking *tracking_get(struct shard *sh)
{
    struct tracking *t = sh->tracking;

    if (!t) {
        t = sh_calloc(1, sizeof(*t));
        t->io.done = on_nop;
        t->sh = sh;
        t->clients = kdict_create();
        t->readers = kdict_create();
        t->table = kdict_create();
        t->prefixes = kdict_create();
        rbuf_init(&t->obytes);
        sh->tracking = t;
    }
    return t;
}

struct tracking *tracking_peek(const struct shard *sh)
{
    return sh->tracking;
}

/* Keeps the two fast-path words in step with the tables. */
void tracking_refresh(struct tracking *t)
{
    t->sh->tracking_on = kdict_size(t->clients) || kdict_size(t->readers) || kdict_size(t->table) ||
                         kdict_size(t->prefixes);
    t->sh->tracking_dispatch = t->nopt;
}

struct trk_client *tracking_client_of(const struct tracking *t, uint64_t id)
{
    struct kentry *e = t ? tracking_id_find(t->clients, id) : NULL;

    return e ? e->val.u.p : NULL;
}

struct trk_client *tracking_conn_client(const struct conn *c)
{
    return tracking_client_of(tracking_peek(c->sh), c->id);
}

/* A connection of this core by id (not closing), or NULL. O(connections)
 * unless it is a tracking client or the last one found. */
static struct conn *find_conn(struct shard *sh, uint64_t id)
{
    struct tracking *t = tracking_get(sh);
    struct kentry *e = tracking_id_find(t->clients, id);
    struct conn *c = e ? ((struct trk_client *)e->val.u.p)->c : NULL;

    if (!c && t->last && t->last->id == id) {
        c = t->last;
    }
    for (struct conn *x = sh->conns; !c && x; x = x->next) {
        if (x->id == id) {
            c = x;
            t->last = x;
        }
    }
    return c && !(c->flags & CONN_CLOSING) ? c : NULL;
}

/* ---- the outbox: pushes written between commands ---- */

static void arm_nop(struct tracking *t)
{
    struct io_uring_sqe *sqe;

    if (t->nop_armed || t->sh->ring_fd <= 0) {
        return;
    }
    sqe = shard_get_sqe(t->sh);
    io_uring_prep_nop(sqe);
    io_uring_sqe_set_data64(sqe, shard_io_data(&t->io));
    t->nop_armed = true;
}

/* Queues head + payload for connection c. */
static void outbox_add(struct tracking *t, struct conn *c, const char *head, size_t hlen,
                       struct sh_slice payload)
{
    if (t->nout == t->capout) {
        t->capout = t->capout ? t->capout * 2 : 16;
        t->out = sh_realloc(t->out, sizeof(*t->out) * t->capout);
    }
    t->out[t->nout].c = c;
    t->out[t->nout].off = t->obytes.len;
    rbuf_append(&t->obytes, head, hlen);
    rbuf_append(&t->obytes, payload.ptr, payload.len);
    t->out[t->nout].len = hlen + payload.len;
    t->nout++;
    arm_nop(t);
}

static void outbox_flush(struct tracking *t)
{
    for (size_t i = 0; i < t->nout; i++) {
        struct conn *c = t->out[i].c;
        struct reply r;
        size_t at;

        if (!c || (c->flags & (CONN_CLOSING | CONN_CLOSE_AFTER))) {
            continue;
        }
        r = conn_reply(c);
        at = r.buf->len;
        reply_raw(&r, t->obytes.data + t->out[i].off, t->out[i].len);
        if (r.buf != &c->out) {
            conn_slot_wrote(c, r.buf->len - at);
        }
        conn_push_end(c);
    }
    t->nout = 0;
    t->obytes.len = 0;
    if (t->capout > 1024) {
        sh_free(t->out);
        t->out = NULL;
        t->capout = 0;
        rbuf_fini(&t->obytes);
        rbuf_init(&t->obytes);
    }
}

/* ---- writing one invalidation (the client's or its redirect's core) ---- */

static const char PUSH_HEAD[] = ">2\r\n$10\r\ninvalidate\r\n";
static const char MESSAGE_HEAD[] = "*3\r\n$7\r\nmessage\r\n$20\r\n__redis__:invalidate\r\n";

/* Redis's sendTrackingMessage once the target is known: a push in RESP3, a
 * __redis__:invalidate message to a RESP2 redirect that is subscribed,
 * nothing otherwise. */
static void write_to(struct tracking *t, struct conn *target, bool redirected,
                     struct sh_slice payload)
{
    if (target->proto == 3) {
        outbox_add(t, target, PUSH_HEAD, sizeof(PUSH_HEAD) - 1, payload);
    } else if (redirected && pubsub_conn_count(target) > 0) {
        outbox_add(t, target, MESSAGE_HEAD, sizeof(MESSAGE_HEAD) - 1, payload);
    }
}

static void redirect_broken(struct tracking *t, struct trk_client *tc)
{
    char head[96];
    int n;

    tc->flags |= TRK_BROKEN;
    if (tc->c->proto == 3) {
        n = snprintf(head, sizeof(head), ">2\r\n$21\r\ntracking-redir-broken\r\n:%llu\r\n",
                     (unsigned long long)tc->redir);
        outbox_add(t, tc->c, head, (size_t)n, (struct sh_slice){ "", 0 });
    }
}

/* The payload: keys as an array, or the null of the client's protocol. */
static void build_payload(struct rbuf *b, const struct sh_slice *keys, int nkeys, int proto)
{
    char hdr[32];
    int n;

    if (!keys) {
        rbuf_append(b, proto == 3 ? "_\r\n" : "$-1\r\n", proto == 3 ? 3 : 5);
        return;
    }
    n = snprintf(hdr, sizeof(hdr), "*%d\r\n", nkeys);
    rbuf_append(b, hdr, (size_t)n);
    for (int i = 0; i < nkeys; i++) {
        n = snprintf(hdr, sizeof(hdr), "$%zu\r\n", keys[i].len);
        rbuf_append(b, hdr, (size_t)n);
        rbuf_append(b, keys[i].ptr, keys[i].len);
        rbuf_append(b, "\r\n", 2);
    }
}

/* Sends keys (NULL: the flush null) to client tc of this core. */
static void send_message(struct tracking *t, struct trk_client *tc, const struct sh_slice *keys,
                         int nkeys)
{
    struct shard *sh = t->sh;
    struct rbuf b;
    struct sh_slice payload;

    rbuf_init(&b);
    build_payload(&b, keys, nkeys, tc->c->proto);
    payload = (struct sh_slice){ b.data, b.len };
    if (!tc->redir) {
        write_to(t, tc->c, false, payload);
    } else if (tracking_shard_of_id(sh, tc->redir) == sh->id) {
        struct conn *r = find_conn(sh, tc->redir);

        if (r) {
            write_to(t, r, true, payload);
        } else {
            redirect_broken(t, tc);
        }
    } else {
        char to[24], from[24];
        struct sh_slice argv[4] = { { "__trkfwd", 8 },
                                    tracking_u64_arg(to, sizeof(to), tc->redir),
                                    tracking_u64_arg(from, sizeof(from), tc->c->id),
                                    payload };

        route_post(sh, tracking_shard_of_id(sh, tc->redir), &spec_fwd, 0, 4, argv);
    }
    rbuf_fini(&b);
}

/* Keys to clients of this core (kind 'd': default mode, 'b': BCAST). */
static void deliver_inv(struct tracking *t, char kind, uint64_t writer, const struct sh_slice *keys,
                        int nkeys, const uint64_t *ids, int nids)
{
    for (int i = 0; i < nids; i++) {
        struct trk_client *tc = tracking_client_of(t, ids[i]);

        if (!tc || !(tc->flags & TRK_ON)) {
            continue;
        }
        if ((kind == 'd') == ((tc->flags & TRK_BCAST) != 0)) {
            continue; /* the mode changed since */
        }
        if (kind == 'd' && (tc->flags & TRK_NOLOOP) && writer == ids[i]) {
            continue;
        }
        send_message(t, tc, keys, nkeys);
    }
}

static int cmp_by_shard(const void *a, const void *b, void *arg)
{
    const struct shard *sh = arg;
    int sa = tracking_shard_of_id(sh, *(const uint64_t *)a),
        sb = tracking_shard_of_id(sh, *(const uint64_t *)b);

    return (sa > sb) - (sa < sb);
}

/* Keys to clients ids (any core): one message per core. */
static void send_inv(struct tracking *t, char kind, uint64_t writer, const struct sh_slice *keys,
                     int nkeys, const uint64_t *ids, int nids)
{
    struct shard *sh = t->sh;
    uint64_t *sorted = sh_malloc(sizeof(*sorted) * (size_t)nids);
    struct sh_slice *argv = sh_malloc(sizeof(*argv) * (size_t)(4 + nkeys + nids));
    char *num = sh_malloc(24 * (size_t)(nids + 2));
    int i = 0;

    memcpy(sorted, ids, sizeof(*sorted) * (size_t)nids);
    qsort_r(sorted, (size_t)nids, sizeof(*sorted), cmp_by_shard, sh);
    while (i < nids) {
        int s = tracking_shard_of_id(sh, sorted[i]), j = i, k = 0;

        while (j < nids && tracking_shard_of_id(sh, sorted[j]) == s) {
            j++;
        }
        if (s == sh->id) {
            deliver_inv(t, kind, writer, keys, nkeys, sorted + i, j - i);
            i = j;
            continue;
        }
        argv[k++] = (struct sh_slice){ "__trkinv", 8 };
        argv[k++] = (struct sh_slice){ kind == 'd' ? "d" : "b", 1 };
        argv[k++] = tracking_u64_arg(num, 24, writer);
        argv[k++] = tracking_u64_arg(num + 24, 24, (uint64_t)nkeys);
        memcpy(argv + k, keys, sizeof(*argv) * (size_t)nkeys);
        k += nkeys;
        for (int x = i; x < j; x++) {
            argv[k++] = tracking_u64_arg(num + 24 * (size_t)(x + 2), 24, sorted[x]);
        }
        route_post(sh, s, &spec_inv, 0, k, argv);
        i = j;
    }
    sh_free(num);
    sh_free(argv);
    sh_free(sorted);
}

/* ---- the owner's table ---- */

static void remember(struct tracking *t, struct sh_slice key, uint64_t id)
{
    struct kentry *e = name_find(t->table, key);
    struct trk_ids *ids;

    if (!e) {
        e = kdict_add(t->table, key.ptr, key.len, kdict_hash(key.ptr, key.len));
        e->val.u.p = NULL;
    }
    ids = e->val.u.p;
    for (uint32_t i = 0; ids && i < ids->n; i++) {
        if (ids->id[i] == id) {
            return;
        }
    }
    if (!ids || ids->n == ids->cap) {
        uint32_t cap = ids ? ids->cap * 2 : 2;

        ids = sh_realloc(ids, sizeof(*ids) + sizeof(uint64_t) * cap);
        if (!e->val.u.p) {
            ids->n = 0;
        }
        ids->cap = cap;
        e->val.u.p = ids;
    }
    ids->id[ids->n++] = id;
    t->items++;
}

static void bcast_collect(struct tracking *t, struct sh_slice key, uint64_t writer);

/* Redis's trackingInvalidateKey: the key's readers get it, and it is
 * forgotten; bcast: BCAST prefixes see the write too. */
static void invalidate_key(struct tracking *t, struct sh_slice key, uint64_t writer, bool bcast)
{
    struct kentry *e;
    struct trk_ids *ids;

    if (bcast && kdict_size(t->prefixes)) {
        bcast_collect(t, key, writer);
    }
    e = name_find(t->table, key);
    if (!e) {
        return;
    }
    ids = e->val.u.p;
    e->val.u.p = NULL;
    if (ids) {
        struct sh_slice k = { kentry_key(e), kentry_klen(e) };

        send_inv(t, 'd', writer, &k, 1, ids->id, (int)ids->n);
        t->items -= ids->n;
        sh_free(ids);
    }
    kdict_delete(t->table, e);
}

static void free_ids(void *arg, struct kentry *e)
{
    (void)arg;
    sh_free(e->val.u.p);
    e->val.u.p = NULL;
}

static void table_clear(struct tracking *t)
{
    uint64_t cur = 0;

    do {
        cur = kdict_scan(t->table, cur, free_ids, NULL);
    } while (cur);
    kdict_clear(t->table);
    t->items = 0;
}

/* tracking-table-max-keys (over the shards: each keeps its share), as
 * Redis's trackingLimitUsedSlots: random keys go, invalidated, with an
 * effort that grows while the table stays over. */
static void limit_table(struct tracking *t)
{
    struct shard *sh = t->sh;
    long long max = sh->cfg.tracking_table_max_keys;
    size_t share;
    int effort;

    if (max <= 0) {
        return;
    }
    share = (size_t)((max + sh->srv->nshards - 1) / sh->srv->nshards);
    if (kdict_size(t->table) <= share) {
        t->evict_rounds = 0;
        return;
    }
    effort = TRK_EVICT_STEP * (int)(t->evict_rounds + 1);
    while (effort-- > 0) {
        struct kentry *e = kdict_random(t->table, shard_rand(sh));
        char stack[128];
        char *copy;
        size_t len;

        if (!e) {
            break;
        }
        len = kentry_klen(e);
        copy = len <= sizeof(stack) ? stack : sh_malloc(len);
        memcpy(copy, kentry_key(e), len);
        invalidate_key(t, (struct sh_slice){ copy, len }, 0, false);
        if (copy != stack) {
            sh_free(copy);
        }
        if (kdict_size(t->table) <= share) {
            t->evict_rounds = 0;
            return;
        }
    }
    t->evict_rounds++;
}

/* ---- BCAST prefixes (every core) ---- */

struct collect_ctx {
    struct tracking *t;
    struct sh_slice key;
    uint64_t writer;
};

static void collect_one(void *arg, struct kentry *e)
{
    struct collect_ctx *cc = arg;
    struct trk_prefix *p = e->val.u.p;
    struct kentry *k;

    if (kentry_klen(e) > cc->key.len || memcmp(kentry_key(e), cc->key.ptr, kentry_klen(e)) != 0) {
        return;
    }
    k = name_find(p->keys, cc->key);
    if (!k) {
        k = kdict_add(p->keys, cc->key.ptr, cc->key.len, kdict_hash(cc->key.ptr, cc->key.len));
    }
    k->val.u.i = (long long)cc->writer;
    cc->t->bcast_pending = true;
}

static void bcast_collect(struct tracking *t, struct sh_slice key, uint64_t writer)
{
    struct collect_ctx cc = { t, key, writer };
    uint64_t cur = 0;

    do {
        cur = kdict_scan(t->prefixes, cur, collect_one, &cc);
    } while (cur);
    if (t->bcast_pending) {
        arm_nop(t);
    }
}

static void prefix_free(struct trk_prefix *p)
{
    kdict_destroy(p->keys);
    sh_free(p->sub);
    sh_free(p);
}

static void prefix_update(struct tracking *t, uint64_t id, bool noloop, bool add,
                          const struct sh_slice *pfx, int n)
{
    for (int i = 0; i < n; i++) {
        struct kentry *e = name_find(t->prefixes, pfx[i]);
        struct trk_prefix *p = e ? e->val.u.p : NULL;
        uint32_t j = 0;

        if (!p && !add) {
            continue;
        }
        if (!p) {
            e = kdict_add(t->prefixes, pfx[i].ptr, pfx[i].len, kdict_hash(pfx[i].ptr, pfx[i].len));
            p = sh_calloc(1, sizeof(*p));
            p->keys = kdict_create();
            e->val.u.p = p;
        }
        while (j < p->n && p->sub[j].id != id) {
            j++;
        }
        if (add) {
            if (j == p->n) {
                if (p->n == p->cap) {
                    p->cap = p->cap ? p->cap * 2 : 4;
                    p->sub = sh_realloc(p->sub, sizeof(*p->sub) * p->cap);
                }
                p->n++;
            }
            p->sub[j] = (struct trk_sub){ id, noloop };
        } else if (j < p->n) {
            p->sub[j] = p->sub[--p->n];
        }
        if (p->n == 0) {
            prefix_free(p);
            e->val.u.p = NULL;
            kdict_delete(t->prefixes, e);
        }
    }
    tracking_refresh(t);
}

struct key_list {
    struct sh_slice *k;
    uint64_t *writer;
    int n, cap;
};

static void list_key(void *arg, struct kentry *e)
{
    struct key_list *l = arg;

    if (l->n == l->cap) {
        l->cap = l->cap ? l->cap * 2 : 16;
        l->k = sh_realloc(l->k, sizeof(*l->k) * (size_t)l->cap);
        l->writer = sh_realloc(l->writer, sizeof(*l->writer) * (size_t)l->cap);
    }
    l->k[l->n] = (struct sh_slice){ kentry_key(e), kentry_klen(e) };
    l->writer[l->n] = (uint64_t)e->val.u.i;
    l->n++;
}

/* A prefix with keys written: its name, and in writer its state. */
static void list_prefix(void *arg, struct kentry *e)
{
    struct key_list *l = arg;
    struct trk_prefix *p = e->val.u.p;

    if (kdict_size(p->keys)) {
        list_key(l, e);
        l->writer[l->n - 1] = (uint64_t)(uintptr_t)p;
    }
}

/* Redis's rax order: bytes, then length. */
int tracking_cmp_key(const void *a, const void *b)
{
    const struct sh_slice *x = a, *y = b;
    size_t n = x->len < y->len ? x->len : y->len;
    int c = memcmp(x->ptr, y->ptr, n);

    return c ? c : (x->len > y->len) - (x->len < y->len);
}

/* Sorts l's keys (with their writers) in rax order. */
static void sort_keys(struct key_list *l)
{
    struct sh_slice *tmp = sh_malloc(sizeof(*tmp) * (size_t)(l->n ? l->n : 1) * 2);

    for (int i = 0; i < l->n; i++) {
        tmp[2 * i] = l->k[i];
        tmp[2 * i + 1] = (struct sh_slice){ NULL, (size_t)l->writer[i] };
    }
    qsort(tmp, (size_t)l->n, sizeof(*tmp) * 2, tracking_cmp_key);
    for (int i = 0; i < l->n; i++) {
        l->k[i] = tmp[2 * i];
        l->writer[i] = (uint64_t)tmp[2 * i + 1].len;
    }
    sh_free(tmp);
}

/* One prefix's batch: every subscriber gets the keys (a NOLOOP one, those
 * it did not write itself). */
static void bcast_prefix(struct tracking *t, struct trk_prefix *p)
{
    struct key_list l = { 0 };
    struct sh_slice *mine;
    uint64_t *ids = sh_malloc(sizeof(*ids) * p->n);
    int nids = 0;
    uint64_t cur = 0;

    do {
        cur = kdict_scan(p->keys, cur, list_key, &l);
    } while (cur);
    sort_keys(&l);
    mine = sh_malloc(sizeof(*mine) * (size_t)(l.n ? l.n : 1));
    for (uint32_t s = 0; s < p->n; s++) {
        int nm = 0;

        if (!p->sub[s].noloop) {
            ids[nids++] = p->sub[s].id;
            continue;
        }
        for (int i = 0; i < l.n; i++) {
            if (l.writer[i] != p->sub[s].id) {
                mine[nm++] = l.k[i];
            }
        }
        if (nm) {
            send_inv(t, 'b', 0, mine, nm, &p->sub[s].id, 1);
        }
    }
    if (nids) {
        send_inv(t, 'b', 0, l.k, l.n, ids, nids);
    }
    sh_free(mine);
    sh_free(ids);
    sh_free(l.k);
    sh_free(l.writer);
    kdict_clear(p->keys);
}

static void bcast_flush(struct tracking *t)
{
    struct key_list ps = { 0 };
    uint64_t cur = 0;

    if (!t->bcast_pending) {
        return;
    }
    t->bcast_pending = false;
    do {
        cur = kdict_scan(t->prefixes, cur, list_prefix, &ps);
    } while (cur);
    sort_keys(&ps); /* prefixes in Redis's order too */
    for (int i = 0; i < ps.n; i++) {
        bcast_prefix(t, (struct trk_prefix *)(uintptr_t)ps.writer[i]);
    }
    sh_free(ps.k);
    sh_free(ps.writer);
}

/* The NOP submitted by arm_nop completed: the next loop iteration. */
static void on_nop(struct shard *sh, struct shard_io *io, int res)
{
    struct tracking *t = (struct tracking *)io;

    (void)sh;
    (void)res;
    bcast_flush(t);
    outbox_flush(t);
    t->nop_armed = false;
}

/* ---- the registry of default-mode readers (every core) ---- */

static void reader_update(struct tracking *t, uint64_t id, uint32_t flags)
{
    struct kentry *e = tracking_id_find(t->readers, id);

    if (!flags) {
        if (e) {
            sh_free(e->val.u.p);
            e->val.u.p = NULL;
            kdict_delete(t->readers, e);
        }
    } else {
        if (!e) {
            e = tracking_id_add(t->readers, id);
            e->val.u.p = sh_calloc(1, sizeof(struct trk_reader));
        }
        *(struct trk_reader *)e->val.u.p = (struct trk_reader){ flags, 0 };
    }
    tracking_refresh(t);
}

void tracking_reader_arm(struct tracking *t, uint64_t id)
{
    struct kentry *e = tracking_id_find(t->readers, id);
    struct trk_reader *rd = e ? e->val.u.p : NULL;

    if (rd && rd->arms < TRK_MAX_ARMS) {
        rd->arms++;
    }
}

/* ---- internal commands ---- */

static void cmd_reg(struct cmd_ctx *ctx)
{
    uint64_t id, flags;

    if (arg_u64(ctx->argv[1], &id) && arg_u64(ctx->argv[2], &flags)) {
        reader_update(tracking_get(ctx->shard), id, (uint32_t)flags);
    }
    reply_ok(&ctx->r);
}

static void cmd_pfx(struct cmd_ctx *ctx)
{
    uint64_t id;

    if (arg_u64(ctx->argv[1], &id)) {
        prefix_update(tracking_get(ctx->shard), id, ctx->argv[2].ptr[0] == '1',
                      ctx->argv[3].ptr[0] == '1', ctx->argv + 4, ctx->argc - 4);
    }
    reply_ok(&ctx->r);
}

static void cmd_arm(struct cmd_ctx *ctx)
{
    uint64_t id;

    if (arg_u64(ctx->argv[1], &id)) {
        tracking_reader_arm(tracking_get(ctx->shard), id);
    }
    reply_ok(&ctx->r);
}

static void cmd_inv(struct cmd_ctx *ctx)
{
    uint64_t writer, nkeys;
    uint64_t *ids;
    int first, nids;

    if (!arg_u64(ctx->argv[2], &writer) || !arg_u64(ctx->argv[3], &nkeys) ||
        nkeys > (uint64_t)ctx->argc - 4) {
        reply_ok(&ctx->r);
        return;
    }
    first = 4 + (int)nkeys;
    nids = ctx->argc - first;
    ids = sh_malloc(sizeof(*ids) * (size_t)(nids ? nids : 1));
    for (int i = 0; i < nids; i++) {
        if (!arg_u64(ctx->argv[first + i], &ids[i])) {
            ids[i] = 0;
        }
    }
    deliver_inv(tracking_get(ctx->shard), ctx->argv[1].ptr[0], writer, ctx->argv + 4, (int)nkeys,
                ids, nids);
    sh_free(ids);
    reply_ok(&ctx->r);
}

static void cmd_fwd(struct cmd_ctx *ctx)
{
    uint64_t to, from;
    struct conn *c;

    if (!arg_u64(ctx->argv[1], &to) || !arg_u64(ctx->argv[2], &from)) {
        reply_ok(&ctx->r);
        return;
    }
    c = find_conn(ctx->shard, to);
    if (c) {
        write_to(tracking_get(ctx->shard), c, true, ctx->argv[3]);
    } else {
        struct sh_slice argv[3] = { { "__trkbroken", 11 }, ctx->argv[2], ctx->argv[1] };

        route_post(ctx->shard, tracking_shard_of_id(ctx->shard, from), &spec_broken, 0, 3, argv);
    }
    reply_ok(&ctx->r);
}

static void cmd_broken(struct cmd_ctx *ctx)
{
    struct tracking *t = tracking_get(ctx->shard);
    uint64_t id, redir;
    struct trk_client *tc;

    if (arg_u64(ctx->argv[1], &id) && arg_u64(ctx->argv[2], &redir) &&
        (tc = tracking_client_of(t, id)) != NULL && (tc->flags & TRK_ON) && tc->redir == redir) {
        redirect_broken(t, tc);
    }
    reply_ok(&ctx->r);
}

static void cmd_exists(struct cmd_ctx *ctx)
{
    uint64_t id;

    reply_int(&ctx->r, arg_u64(ctx->argv[1], &id) && find_conn(ctx->shard, id) != NULL);
}

/* clang-format off */
const struct cmd_spec tracking_spec_reg = { .name = "__trkreg", .fullname = "__trkreg", .arity = 3, .proc = cmd_reg };
const struct cmd_spec tracking_spec_pfx = { .name = "__trkpfx", .fullname = "__trkpfx", .arity = -4, .proc = cmd_pfx };
const struct cmd_spec tracking_spec_arm = { .name = "__trkarm", .fullname = "__trkarm", .arity = 2, .proc = cmd_arm };
static const struct cmd_spec spec_inv = { .name = "__trkinv", .fullname = "__trkinv", .arity = -4, .proc = cmd_inv };
static const struct cmd_spec spec_fwd = { .name = "__trkfwd", .fullname = "__trkfwd", .arity = 4, .proc = cmd_fwd };
static const struct cmd_spec spec_broken = { .name = "__trkbroken", .fullname = "__trkbroken", .arity = 3, .proc = cmd_broken };
const struct cmd_spec tracking_spec_exists = { .name = "__trkexists", .fullname = "__trkexists", .arity = 2, .proc = cmd_exists };
/* clang-format on */

/* ---- hooks ---- */

bool tracking_is_script_ro(const struct cmd_spec *cmd)
{
    return !strcmp(cmd->fullname, "eval_ro") || !strcmp(cmd->fullname, "evalsha_ro") ||
           !strcmp(cmd->fullname, "fcall_ro");
}

static bool owned_here(const struct shard *sh, struct sh_slice key)
{
    uint64_t h;

    return sh->srv->nshards == 1 || shard_owner(sh->srv->nshards, key.ptr, key.len, &h) == sh->id;
}

/* Redis's trackingRememberKeys on the owner. */
static void after_read(struct tracking *t, const struct cmd_spec *cmd, int argc,
                       const struct sh_slice *argv, uint64_t client_id)
{
    struct kentry *e = tracking_id_find(t->readers, client_id);
    struct trk_reader *rd = e ? e->val.u.p : NULL;
    struct cmd_keys k;

    if (!rd || (cmd->flags & CMD_PUBSUB) || tracking_is_script_ro(cmd)) {
        return;
    }
    cmd_keys_get(&k, cmd, argc, argv);
    if (k.n > 0) {
        bool track = true;

        if (rd->flags & (TRK_OPTIN | TRK_OPTOUT)) {
            bool caching = rd->arms > 0;

            rd->arms -= caching;
            track = (rd->flags & TRK_OPTIN) ? caching : !caching;
        }
        for (int i = 0; track && i < k.n; i++) {
            if (owned_here(t->sh, argv[k.pos[i]])) {
                remember(t, argv[k.pos[i]], client_id);
            }
        }
        if (track) {
            limit_table(t);
            tracking_refresh(t);
        }
    }
    cmd_keys_free(&k);
}

/* Redis's trackingInvalidateKeysOnFlush for this core's clients. */
static void flush_all(struct tracking *t)
{
    struct key_list l = { 0 };
    uint64_t cur = 0;

    table_clear(t);
    do {
        cur = kdict_scan(t->clients, cur, list_key, &l);
    } while (cur);
    for (int i = 0; i < l.n; i++) {
        uint64_t id;
        struct trk_client *tc;

        memcpy(&id, l.k[i].ptr, sizeof(id));
        tc = tracking_client_of(t, id);
        if (tc && (tc->flags & TRK_ON)) {
            send_message(t, tc, NULL, 0);
        }
    }
    sh_free(l.k);
    sh_free(l.writer);
    tracking_refresh(t);
}

void tracking_after(struct shard *sh, const struct cmd_spec *cmd, int argc,
                    const struct sh_slice *argv, uint64_t client_id, const char *reply, size_t len)
{
    struct tracking *t = tracking_peek(sh);
    struct cmd_keys k;

    if (!t) {
        return;
    }
    if (cmd->flags & CMD_READONLY) {
        if (client_id && kdict_size(t->readers)) {
            after_read(t, cmd, argc, argv, client_id);
        }
        return;
    }
    if (!(cmd->flags & CMD_WRITE) || (len && (reply[0] == '-' || reply[0] == '!'))) {
        return;
    }
    cmd_keys_get(&k, cmd, argc, argv);
    if (k.n == 0 && (!strcmp(cmd->fullname, "flushall") || !strcmp(cmd->fullname, "flushdb"))) {
        flush_all(t);
    }
    for (int i = 0; i < k.n; i++) {
        if (!(k.flags[i] & CMD_KEY_RO) && owned_here(sh, argv[k.pos[i]])) {
            invalidate_key(t, argv[k.pos[i]], client_id, true);
        }
    }
    cmd_keys_free(&k);
    tracking_refresh(t);
}

void tracking_note_locks(struct shard *sh, int argc, const struct sh_slice *argv)
{
    struct tracking *t = tracking_peek(sh);

    if (!t) {
        return;
    }
    for (int i = 0; i + 1 < argc; i += 2) {
        if (argv[i].len == 1 && argv[i].ptr[0] == 'w') {
            invalidate_key(t, argv[i + 1], 0, true);
        }
    }
    tracking_refresh(t);
}

void tracking_key_expired(struct shard *sh, const char *key, size_t len)
{
    struct tracking *t;

    if (SH_LIKELY(!tracking_active(sh))) {
        return;
    }
    t = tracking_peek(sh);
    invalidate_key(t, (struct sh_slice){ key, len }, 0, true);
    tracking_refresh(t);
}

void tracking_conn_gone(struct conn *c)
{
    struct tracking *t = tracking_peek(c->sh);
    struct trk_client *tc;

    if (!t) {
        return;
    }
    for (size_t i = 0; i < t->nout; i++) {
        if (t->out[i].c == c) {
            t->out[i].c = NULL;
        }
    }
    if (t->last == c) {
        t->last = NULL;
    }
    tc = tracking_client_of(t, c->id);
    if (tc) {
        tracking_disable(t, tc, NULL);
    }
}

static void free_client_entry(void *arg, struct kentry *e)
{
    (void)arg;
    tracking_client_free(e->val.u.p);
    e->val.u.p = NULL;
}

static void free_prefix_entry(void *arg, struct kentry *e)
{
    (void)arg;
    prefix_free(e->val.u.p);
    e->val.u.p = NULL;
}

static void free_all(struct kdict *d, kdict_scan_fn *fn)
{
    uint64_t cur = 0;

    do {
        cur = kdict_scan(d, cur, fn, NULL);
    } while (cur);
    kdict_destroy(d);
}

void tracking_shard_exit(struct shard *sh)
{
    struct tracking *t = tracking_peek(sh);

    if (!t) {
        return;
    }
    free_all(t->clients, free_client_entry);
    free_all(t->readers, free_ids); /* sh_free of the payload */
    free_all(t->table, free_ids);
    free_all(t->prefixes, free_prefix_entry);
    rbuf_fini(&t->obytes);
    sh_free(t->out);
    sh_free(t);
    sh->tracking = NULL;
    sh->tracking_on = sh->tracking_dispatch = 0;
}
