/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * sched.c: the shard's side of cross-shard transactions: the queue in
 * sequence order, the intent locks, and the plain commands that wait for
 * them (see sched.h for the protocol and why it is serializable).
 *
 * Sizes: a queue holds the transactions in flight on this shard, a handful
 * under load, so readiness is decided by walking the earlier entries and
 * comparing lock pointers (two keys are the same key exactly when they share
 * a lock entry). The lock table holds only the keys of queued transactions,
 * and is empty (and never looked at) when no transaction is in flight.
 */
#include "shardis/sched.h"

#include "shardis/cmd.h"
#include "shardis/cmdtab.h"
#include "shardis/kdict.h"
#include "shardis/route.h"
#include "shardis/shard.h"

#include <string.h>

#define SCHED_MIN_BUCKETS 64

struct sched_key;

struct sched_lock {
    struct sched_lock *next;
    uint64_t hash;
    int dbid;
    uint32_t shared, excl; /* queued transactions holding it, by mode */
    /* its holders in queue order (arrival order: a transaction is queued
     * at the tail), so a conflict is found by looking at the earlier
     * holders of each key, never by comparing two transactions' keys */
    struct sched_key *first, *last;
    size_t klen;
    char key[];
};

struct sched_key {
    struct sched_lock *lock;
    struct sched_txn *txn;
    struct sched_key *lprev, *lnext; /* the lock's holders */
    bool excl;
};

struct sched_txn {
    struct sched_txn *prev, *next;
    uint64_t seq;
    uint64_t ticket;     /* arrival order among transactions and waiting commands */
    struct req *pending; /* its schedule until answered: not ready yet */
    bool all;            /* the whole shard */
    int nkeys;
    struct sched_key keys[];
};

void sched_init(struct sched *s)
{
    memset(s, 0, sizeof(*s));
}

void sched_fini(struct sched *s)
{
    struct sched_txn *t = s->head;

    while (t) {
        struct sched_txn *next = t->next;

        sh_free(t);
        t = next;
    }
    for (size_t i = 0; i < s->nbuckets; i++) {
        struct sched_lock *l = s->buckets[i];

        while (l) {
            struct sched_lock *next = l->next;

            sh_free(l);
            l = next;
        }
    }
    sh_free(s->buckets);
    /* waiting requests belong to their origins; a shard stops only after
     * its peers are drained, when none can be waiting */
    memset(s, 0, sizeof(*s));
}

/* ---- the lock table ---- */

static uint64_t lock_hash(int dbid, const char *key, size_t len)
{
    return kdict_hash(key, len) ^ ((uint64_t)(unsigned)dbid * 0x9e3779b97f4a7c15ULL);
}

static struct sched_lock *lock_find(const struct sched *s, int dbid, const char *key, size_t len,
                                    uint64_t h)
{
    if (!s->nbuckets) {
        return NULL;
    }
    for (struct sched_lock *l = s->buckets[h & (s->nbuckets - 1)]; l; l = l->next) {
        if (l->hash == h && l->dbid == dbid && l->klen == len && !memcmp(l->key, key, len)) {
            return l;
        }
    }
    return NULL;
}

static void lock_grow(struct sched *s)
{
    size_t n = s->nbuckets ? s->nbuckets * 2 : SCHED_MIN_BUCKETS;
    struct sched_lock **b = sh_calloc(n, sizeof(*b));

    for (size_t i = 0; i < s->nbuckets; i++) {
        struct sched_lock *l = s->buckets[i];

        while (l) {
            struct sched_lock *next = l->next;

            l->next = b[l->hash & (n - 1)];
            b[l->hash & (n - 1)] = l;
            l = next;
        }
    }
    sh_free(s->buckets);
    s->buckets = b;
    s->nbuckets = n;
}

static struct sched_lock *lock_take(struct sched *s, int dbid, struct sh_slice key)
{
    uint64_t h = lock_hash(dbid, key.ptr, key.len);
    struct sched_lock *l = lock_find(s, dbid, key.ptr, key.len, h);

    if (l) {
        return l;
    }
    if (s->nlocks >= s->nbuckets) {
        lock_grow(s);
    }
    l = sh_malloc(sizeof(*l) + key.len);
    l->hash = h;
    l->dbid = dbid;
    l->shared = l->excl = 0;
    l->first = l->last = NULL;
    l->klen = key.len;
    memcpy(l->key, key.ptr, key.len);
    l->next = s->buckets[h & (s->nbuckets - 1)];
    s->buckets[h & (s->nbuckets - 1)] = l;
    s->nlocks++;
    return l;
}

static void lock_drop(struct sched *s, struct sched_key *k)
{
    struct sched_lock *l = k->lock, **pp;
    bool excl = k->excl;

    if (k->lprev) {
        k->lprev->lnext = k->lnext;
    } else {
        l->first = k->lnext;
    }
    if (k->lnext) {
        k->lnext->lprev = k->lprev;
    } else {
        l->last = k->lprev;
    }
    if (excl) {
        l->excl--;
    } else {
        l->shared--;
    }
    if (l->excl || l->shared) {
        return;
    }
    for (pp = &s->buckets[l->hash & (s->nbuckets - 1)]; *pp != l; pp = &(*pp)->next) {
    }
    *pp = l->next;
    sh_free(l);
    s->nlocks--;
}

/* ---- the queue ---- */

/* Is there a transaction before t in the queue that locks the whole
 * shard? */
static bool earlier_all(const struct sched_txn *t)
{
    for (const struct sched_txn *e = t->prev; e; e = e->prev) {
        if (e->all) {
            return true;
        }
    }
    return false;
}

/* Does a holder of k's lock queued before k's transaction conflict with
 * it? */
static bool key_blocked(const struct sched_key *k)
{
    for (const struct sched_key *h = k->lock->first; h != k; h = h->lnext) {
        if (h->excl || k->excl) {
            return true;
        }
    }
    return false;
}

/* Does plain command m (keys from its spec) conflict with a transaction
 * that arrived before it? */
static bool op_blocked(const struct sched *s, const struct req *m)
{
    struct cmd_keys k;
    bool hit = false;

    for (const struct sched_txn *t = s->head; t && t->ticket < m->wait_ticket; t = t->next) {
        if (t->all) {
            return true;
        }
    }
    cmd_keys_get(&k, m->cmd, m->argc, m->argv);
    for (int i = 0; !hit && i < k.n; i++) {
        const struct sh_slice *key = &m->argv[k.pos[i]];
        const struct sched_lock *l =
                lock_find(s, m->dbid, key->ptr, key->len, lock_hash(m->dbid, key->ptr, key->len));

        for (const struct sched_key *h = l ? l->first : NULL;
             h && h->txn->ticket < m->wait_ticket && !hit; h = h->lnext) {
            hit = h->excl || !(k.flags[i] & CMD_KEY_RO);
        }
    }
    cmd_keys_free(&k);
    return hit;
}

/* Ready when nothing that arrived before t conflicts with it: no queued
 * transaction (the queue is in arrival order, which is number order) and no
 * waiting command at all (a client's command sent before its transaction
 * runs first). Every wait points at something that arrived earlier, so
 * waits never form a cycle. */
static bool txn_runnable(const struct sched *s, const struct sched_txn *t)
{
    if (t->all ? t->prev != NULL : earlier_all(t)) {
        return false;
    }
    for (int i = 0; i < t->nkeys; i++) {
        if (key_blocked(&t->keys[i])) {
            return false;
        }
    }
    /* any command waiting since before t goes first, even one whose keys
     * look unrelated: internal commands (WATCH's registration, blocking
     * pops' claims) name no keys in the table's terms */
    return !s->wait_head || s->wait_head->wait_ticket > t->ticket;
}

/* May waiting command m run? Only transactions that arrived before it
 * count; it is at the head of the wait list, so no command is before it. */
static bool op_runnable(const struct sched *s, const struct req *m)
{
    return !op_blocked(s, m);
}

static void txn_insert(struct sched *s, struct sched_txn *t)
{
    struct sched_txn *after = s->tail;

    while (after && after->seq > t->seq) {
        after = after->prev;
    }
    t->prev = after;
    t->next = after ? after->next : s->head;
    if (t->next) {
        t->next->prev = t;
    } else {
        s->tail = t;
    }
    if (after) {
        after->next = t;
    } else {
        s->head = t;
    }
}

static void txn_unlink(struct sched *s, struct sched_txn *t)
{
    if (t->prev) {
        t->prev->next = t->next;
    } else {
        s->head = t->next;
    }
    if (t->next) {
        t->next->prev = t->prev;
    } else {
        s->tail = t->prev;
    }
}

bool sched_enqueue(struct shard *sh, struct req *m)
{
    struct sched *s = &sh->sched;
    int npairs = m->argc / 2;
    struct sched_txn *t;

    if (m->txn_seq < s->max_seq) {
        /* a later number arrived here first: transactions queue in number
         * order only, so that arrival order and number order agree */
        s->refused++;
        m->txn_ok = false;
        return true;
    }
    s->max_seq = m->txn_seq;
    s->scheduled++;
    t = sh_calloc(1, sizeof(*t) + sizeof(struct sched_key) * (size_t)npairs);
    t->seq = m->txn_seq;
    t->ticket = ++s->tickets;
    t->all = m->txn_all;
    s->nall += t->all;
    for (int i = 0; i < npairs; i++) {
        bool excl = m->argv[2 * i].len == 1 && m->argv[2 * i].ptr[0] == 'w';
        struct sched_lock *l = lock_take(s, m->dbid, m->argv[2 * i + 1]);
        struct sched_key *k;

        /* a key named twice is locked once, in the stronger mode: t is the
         * newest holder of its locks, so its entry is the lock's last */
        if (l->last && l->last->txn == t) {
            k = l->last;
            if (excl && !k->excl) {
                l->shared--;
                l->excl++;
                k->excl = true;
            }
            continue;
        }
        if (excl) {
            l->excl++;
        } else {
            l->shared++;
        }
        k = &t->keys[t->nkeys++];
        k->lock = l;
        k->txn = t;
        k->excl = excl;
        k->lnext = NULL;
        k->lprev = l->last;
        if (l->last) {
            l->last->lnext = k;
        } else {
            l->first = k;
        }
        l->last = k;
    }
    txn_insert(s, t);
    if (txn_runnable(s, t)) {
        m->txn_ok = true;
        return true;
    }
    t->pending = m;
    return false;
}

/* Plain command: do its keys conflict with a lock? */
static bool keys_free(struct shard *sh, const struct cmd_spec *cmd, int dbid, int argc,
                      const struct sh_slice *argv)
{
    const struct sched *s = &sh->sched;
    struct cmd_keys k;
    bool ok = true;

    if (s->nall) {
        return false;
    }
    if (!s->nlocks) {
        return true;
    }
    cmd_keys_get(&k, cmd, argc, argv);
    for (int i = 0; ok && i < k.n; i++) {
        const struct sh_slice *key = &argv[k.pos[i]];
        const struct sched_lock *l =
                lock_find(s, dbid, key->ptr, key->len, lock_hash(dbid, key->ptr, key->len));

        ok = !l || !(l->excl || (l->shared && !(k.flags[i] & CMD_KEY_RO)));
    }
    cmd_keys_free(&k);
    return ok;
}

bool sched_admits(struct shard *sh, const struct cmd_spec *cmd, int dbid, int argc,
                  const struct sh_slice *argv)
{
    /* behind whatever waits already: one client's commands keep their order */
    if (sh->sched.nwaiting) {
        return false;
    }
    return keys_free(sh, cmd, dbid, argc, argv);
}

void sched_wait(struct shard *sh, struct req *m)
{
    struct sched *s = &sh->sched;

    m->next = NULL;
    m->wait_ticket = ++s->tickets;
    if (s->wait_tail) {
        s->wait_tail->next = m;
    } else {
        s->wait_head = m;
    }
    s->wait_tail = m;
    s->nwaiting++;
    s->waited++;
}

/* Answers the schedules that became ready and runs the waiting commands
 * that can run, until nothing changes. Running them may conclude other
 * transactions (on this core), which only releases locks: the loop sees it. */
static void sched_release(struct shard *sh)
{
    struct sched *s = &sh->sched;
    bool progress = true;

    if (s->running) {
        return;
    }
    s->running = true;
    while (progress) {
        progress = false;
        for (struct sched_txn *t = s->head; t; t = t->next) {
            if (t->pending && txn_runnable(s, t)) {
                struct req *m = t->pending;

                t->pending = NULL;
                m->txn_ok = true;
                route_sched_answer(sh, m);
                progress = true;
                break; /* the answer may have changed the queue */
            }
        }
        if (progress) {
            continue;
        }
        if (s->wait_head && op_runnable(s, s->wait_head)) {
            struct req *m = s->wait_head;

            s->wait_head = m->next;
            if (!s->wait_head) {
                s->wait_tail = NULL;
            }
            s->nwaiting--;
            m->next = NULL;
            route_run_waiting(sh, m);
            progress = true;
        }
    }
    s->running = false;
}

void sched_conclude(struct shard *sh, uint64_t seq)
{
    struct sched *s = &sh->sched;
    struct sched_txn *t = s->head;

    while (t && t->seq != seq) {
        t = t->next;
    }
    if (!t) {
        return;
    }
    SH_ASSERT(!t->pending);
    txn_unlink(s, t);
    for (int i = 0; i < t->nkeys; i++) {
        lock_drop(s, &t->keys[i]);
    }
    s->nall -= t->all;
    sh_free(t);
    sched_release(sh);
}
