/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * mbox.c: SPSC mailboxes, the sleep word and shared counters (see mbox.h for
 * the protocol and why each ordering is what it is).
 */
#include "shardis/mbox.h"

#include <errno.h>
#include <string.h>

int mbox_init(struct mbox *m, size_t cap)
{
    size_t n = 2;

    while (n < cap) {
        n *= 2;
    }
    memset(m, 0, sizeof(*m));
    m->slots = sh_calloc(n, sizeof(void *));
    m->mask = n - 1;
    atomic_init(&m->tail, 0);
    atomic_init(&m->head, 0);
    return 0;
}

void mbox_fini(struct mbox *m)
{
    sh_free(m->slots);
    m->slots = NULL;
}

int mbox_try_push(struct mbox *m, void *msg)
{
    if (m->tail_local - m->head_cache > m->mask) {
        /* acquire: the consumer finished reading the slots it gave back */
        m->head_cache = atomic_load_explicit(&m->head, memory_order_acquire);
        if (m->tail_local - m->head_cache > m->mask) {
            return -EAGAIN;
        }
    }
    m->slots[m->tail_local & m->mask] = msg;
    m->tail_local++;
    return 0;
}

bool mbox_publish(struct mbox *m)
{
    /* relaxed read of our own index: only this thread writes it */
    if (atomic_load_explicit(&m->tail, memory_order_relaxed) == m->tail_local) {
        return false;
    }
    /* release: the slot writes and the messages they point to happen-before
     * the consumer's acquire load of tail */
    atomic_store_explicit(&m->tail, m->tail_local, memory_order_release);
    return true;
}

void *mbox_pop(struct mbox *m)
{
    void *msg;

    if (m->head_local == m->tail_cache) {
        /* acquire: pairs with the producer's release in mbox_publish */
        m->tail_cache = atomic_load_explicit(&m->tail, memory_order_acquire);
        if (m->head_local == m->tail_cache) {
            return NULL;
        }
    }
    msg = m->slots[m->head_local & m->mask];
    m->head_local++;
    return msg;
}

void *mbox_peek(struct mbox *m)
{
    if (m->head_local == m->tail_cache) {
        /* acquire: pairs with the producer's release in mbox_publish */
        m->tail_cache = atomic_load_explicit(&m->tail, memory_order_acquire);
        if (m->head_local == m->tail_cache) {
            return NULL;
        }
    }
    return m->slots[m->head_local & m->mask];
}

size_t mbox_peek_many(struct mbox *m, void **out, size_t max)
{
    size_t n;

    if (m->tail_cache - m->head_local < max) {
        /* acquire: pairs with the producer's release in mbox_publish */
        m->tail_cache = atomic_load_explicit(&m->tail, memory_order_acquire);
    }
    n = m->tail_cache - m->head_local;
    n = n < max ? n : max;
    for (size_t i = 0; i < n; i++) {
        out[i] = m->slots[(m->head_local + i) & m->mask];
    }
    return n;
}

void mbox_consumed(struct mbox *m)
{
    /* release: our reads of the slots happen-before the producer reuses them */
    atomic_store_explicit(&m->head, m->head_local, memory_order_release);
}

bool mbox_has_pending(struct mbox *m)
{
    if (m->head_local != m->tail_cache) {
        return true;
    }
    m->tail_cache = atomic_load_explicit(&m->tail, memory_order_acquire);
    return m->head_local != m->tail_cache;
}

void mbox_sleep_begin(struct mbox_sleeper *s)
{
    atomic_store_explicit(&s->sleeping, 1, memory_order_relaxed);
    /* seq_cst fence: the store above is ordered before the mailbox re-check
     * that follows (store-load ordering, which release/acquire do not give) */
    atomic_thread_fence(memory_order_seq_cst);
}

void mbox_sleep_end(struct mbox_sleeper *s)
{
    atomic_store_explicit(&s->sleeping, 0, memory_order_relaxed);
}

bool mbox_needs_wake(struct mbox_sleeper *s)
{
    /* seq_cst fence: our tail store (publish) is ordered before this load;
     * pairs with the fence in mbox_sleep_begin */
    atomic_thread_fence(memory_order_seq_cst);
    return atomic_load_explicit(&s->sleeping, memory_order_relaxed) != 0;
}

long mbox_counter_add(struct mbox_counter *c, long delta)
{
    /* acq_rel: a shard that counts itself ready publishes its set-up state
     * (its ring fd) to whoever reads the count with acquire */
    return atomic_fetch_add_explicit(&c->v, delta, memory_order_acq_rel) + delta;
}

long mbox_counter_get(struct mbox_counter *c)
{
    /* acquire: pairs with the release half of mbox_counter_add */
    return atomic_load_explicit(&c->v, memory_order_acquire);
}

void mbox_counter_set(struct mbox_counter *c, long v)
{
    atomic_store_explicit(&c->v, v, memory_order_relaxed);
}

long mbox_word_get(struct mbox_counter *w)
{
    return atomic_load_explicit(&w->v, memory_order_acquire);
}

bool mbox_word_cas(struct mbox_counter *w, long *expected, long desired)
{
    return atomic_compare_exchange_strong_explicit(&w->v, expected, desired, memory_order_acq_rel,
                                                   memory_order_acquire);
}

void mbox_seqbuf_write(struct mbox_seqbuf *b, const void *p, size_t n)
{
    unsigned long s = atomic_load_explicit(&b->seq, memory_order_relaxed);
    size_t words;

    if (n > 8 * MBOX_SEQBUF_WORDS) {
        n = 8 * MBOX_SEQBUF_WORDS;
    }
    words = (n + 7) / 8;
    atomic_store_explicit(&b->seq, s + 1, memory_order_relaxed);
    /* the odd seq is visible before any word changes */
    atomic_thread_fence(memory_order_release);
    for (size_t i = 0; i < words; i++) {
        unsigned long v = 0;

        memcpy(&v, (const char *)p + 8 * i, n - 8 * i < 8 ? n - 8 * i : 8);
        atomic_store_explicit(&b->words[i], v, memory_order_relaxed);
    }
    atomic_store_explicit(&b->len, n, memory_order_relaxed);
    atomic_store_explicit(&b->seq, s + 2, memory_order_release);
}

size_t mbox_seqbuf_read(struct mbox_seqbuf *b, void *out)
{
    for (;;) {
        unsigned long s1 = atomic_load_explicit(&b->seq, memory_order_acquire), s2;
        size_t n;

        if (s1 & 1) {
            continue; /* a write in progress: a few words, soon done */
        }
        n = atomic_load_explicit(&b->len, memory_order_relaxed);
        for (size_t i = 0; i < (n + 7) / 8; i++) {
            unsigned long v = atomic_load_explicit(&b->words[i], memory_order_relaxed);

            memcpy((char *)out + 8 * i, &v, 8);
        }
        /* the words were read before seq is read again */
        atomic_thread_fence(memory_order_acquire);
        s2 = atomic_load_explicit(&b->seq, memory_order_relaxed);
        if (s1 == s2) {
            return n;
        }
    }
}
