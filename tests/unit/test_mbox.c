/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * test_mbox.c: the SPSC mailbox and the sleep/wake handshake, including a
 * two-thread run of millions of messages (order, no loss, no duplicate) that
 * CI also runs under ThreadSanitizer.
 */
#include "shardis/mbox.h"

#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cmocka.h>

#define MESSAGES 2000000UL

static void test_pop_on_empty_mailbox_returns_null(void **state)
{
    struct mbox m;

    (void)state;
    assert_int_equal(mbox_init(&m, 8), 0);
    assert_null(mbox_pop(&m));
    assert_false(mbox_has_pending(&m));
    mbox_fini(&m);
}

static void test_pushed_messages_are_invisible_until_published(void **state)
{
    struct mbox m;
    int a = 1;

    (void)state;
    assert_int_equal(mbox_init(&m, 8), 0);
    assert_int_equal(mbox_try_push(&m, &a), 0);
    assert_null(mbox_pop(&m));
    assert_true(mbox_publish(&m));
    assert_false(mbox_publish(&m));
    assert_ptr_equal(mbox_pop(&m), &a);
    assert_null(mbox_pop(&m));
    mbox_fini(&m);
}

static void test_push_fails_with_eagain_when_full(void **state)
{
    struct mbox m;
    int v[16];

    (void)state;
    assert_int_equal(mbox_init(&m, 8), 0);
    for (int i = 0; i < 8; i++) {
        assert_int_equal(mbox_try_push(&m, &v[i]), 0);
    }
    assert_int_equal(mbox_try_push(&m, &v[8]), -EAGAIN);
    mbox_publish(&m);
    assert_ptr_equal(mbox_pop(&m), &v[0]);
    /* space comes back only when the consumer says so */
    assert_int_equal(mbox_try_push(&m, &v[8]), -EAGAIN);
    mbox_consumed(&m);
    assert_int_equal(mbox_try_push(&m, &v[8]), 0);
    mbox_fini(&m);
}

static void test_messages_come_out_in_order_across_wraparound(void **state)
{
    struct mbox m;
    uintptr_t next_in = 1, next_out = 1;

    (void)state;
    assert_int_equal(mbox_init(&m, 4), 0);
    for (int round = 0; round < 100; round++) {
        while (mbox_try_push(&m, (void *)next_in) == 0) {
            next_in++;
        }
        mbox_publish(&m);
        for (void *p; (p = mbox_pop(&m)) != NULL;) {
            assert_int_equal((uintptr_t)p, next_out);
            next_out++;
        }
        mbox_consumed(&m);
    }
    assert_int_equal(next_in, next_out);
    mbox_fini(&m);
}

static void test_peek_many_shows_what_pop_will_return_and_takes_nothing(void **state)
{
    struct mbox m;
    uintptr_t next_in = 1, next_out = 1;
    void *ahead[8];

    (void)state;
    assert_int_equal(mbox_init(&m, 8), 0);
    assert_int_equal(mbox_peek_many(&m, ahead, 8), 0);
    assert_int_equal(mbox_try_push(&m, (void *)next_in++), 0);
    assert_int_equal(mbox_peek_many(&m, ahead, 8), 0); /* not published yet */
    for (int round = 0; round < 50; round++) {
        /* fill up to 7 (round dependent), so the ring wraps at every offset */
        while (next_in - next_out < (uintptr_t)(round % 7 + 1) &&
               mbox_try_push(&m, (void *)next_in) == 0) {
            next_in++;
        }
        mbox_publish(&m);
        size_t want = next_in - next_out, max = (size_t)round % 4 + 1;
        size_t k = mbox_peek_many(&m, ahead, max);

        assert_int_equal(k, want < max ? want : max);
        for (size_t i = 0; i < k; i++) {
            assert_int_equal((uintptr_t)ahead[i], next_out + i);
        }
        assert_int_equal(mbox_peek_many(&m, ahead, 8), want); /* nothing taken */
        for (size_t i = 0; i < k; i++) {
            assert_int_equal((uintptr_t)mbox_pop(&m), next_out++);
        }
        mbox_consumed(&m);
    }
    while (next_out < next_in) {
        assert_int_equal((uintptr_t)mbox_pop(&m), next_out++);
    }
    assert_null(mbox_pop(&m));
    assert_int_equal(mbox_peek_many(&m, ahead, 8), 0);
    mbox_fini(&m);
}

struct pair {
    struct mbox m;
    struct mbox_sleeper sleeper;
    unsigned long produced_full;
};

static void *producer(void *arg)
{
    struct pair *p = arg;

    for (uintptr_t i = 1; i <= MESSAGES; i++) {
        while (mbox_try_push(&p->m, (void *)i) != 0) {
            mbox_publish(&p->m);
            p->produced_full++;
            sched_yield();
        }
        if ((i & 63) == 0) {
            mbox_publish(&p->m);
        }
    }
    mbox_publish(&p->m);
    return NULL;
}

static void test_two_threads_pass_millions_of_messages_in_order_without_loss(void **state)
{
    struct pair *p = aligned_alloc(SH_CACHELINE, sizeof(*p));
    pthread_t t;
    uintptr_t expect = 1;

    (void)state;
    memset(p, 0, sizeof(*p));
    assert_int_equal(mbox_init(&p->m, 1024), 0);
    assert_int_equal(pthread_create(&t, NULL, producer, p), 0);
    while (expect <= MESSAGES) {
        void *msg = mbox_pop(&p->m);

        if (!msg) {
            mbox_consumed(&p->m);
            sched_yield();
            continue;
        }
        assert_int_equal((uintptr_t)msg, expect);
        expect++;
        if ((expect & 31) == 0) {
            mbox_consumed(&p->m);
        }
    }
    pthread_join(t, NULL);
    assert_null(mbox_pop(&p->m));
    mbox_fini(&p->m);
    free(p);
}

/* The Dekker handshake: a consumer that announces sleep and re-checks, and a
 * producer that publishes and then checks the sleep word, never both miss. */
struct wake_pair {
    struct mbox m;
    struct mbox_sleeper s;
    struct mbox_counter wakes;
    struct mbox_counter done;
};

static void *wake_producer(void *arg)
{
    struct wake_pair *w = arg;

    for (uintptr_t i = 1; i <= 200000; i++) {
        while (mbox_try_push(&w->m, (void *)i) != 0) {
            sched_yield();
        }
        mbox_publish(&w->m);
        if (mbox_needs_wake(&w->s)) {
            mbox_counter_add(&w->wakes, 1);
        }
    }
    mbox_counter_set(&w->done, 1);
    return NULL;
}

static void test_sleep_handshake_never_loses_a_message(void **state)
{
    struct wake_pair *w = aligned_alloc(SH_CACHELINE, sizeof(*w));
    pthread_t t;
    uintptr_t expect = 1;
    long seen_wakes = 0;

    (void)state;
    memset(w, 0, sizeof(*w));
    assert_int_equal(mbox_init(&w->m, 64), 0);
    assert_int_equal(pthread_create(&t, NULL, wake_producer, w), 0);
    while (expect <= 200000) {
        void *msg = mbox_pop(&w->m);

        if (msg) {
            assert_int_equal((uintptr_t)msg, expect);
            expect++;
            mbox_consumed(&w->m);
            continue;
        }
        mbox_sleep_begin(&w->s);
        if (mbox_has_pending(&w->m)) {
            mbox_sleep_end(&w->s);
            continue;
        }
        /* "sleep": wait only for a wake-up, which must come if a message
         * is published after our re-check; a lost wake-up hangs here */
        time_t deadline = time(NULL) + 10;

        while (mbox_counter_get(&w->wakes) == seen_wakes) {
            sched_yield();
            if (time(NULL) > deadline) {
                fail_msg("lost wake-up at message %lu", (unsigned long)expect);
            }
        }
        seen_wakes = mbox_counter_get(&w->wakes);
        mbox_sleep_end(&w->s);
    }
    pthread_join(t, NULL);
    mbox_fini(&w->m);
    free(w);
}

static void test_counter_adds_and_reads(void **state)
{
    struct mbox_counter c = { 0 };

    (void)state;
    assert_int_equal(mbox_counter_add(&c, 5), 5);
    assert_int_equal(mbox_counter_add(&c, -2), 3);
    mbox_counter_set(&c, 9);
    assert_int_equal(mbox_counter_get(&c), 9);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_pop_on_empty_mailbox_returns_null),
        cmocka_unit_test(test_pushed_messages_are_invisible_until_published),
        cmocka_unit_test(test_push_fails_with_eagain_when_full),
        cmocka_unit_test(test_messages_come_out_in_order_across_wraparound),
        cmocka_unit_test(test_peek_many_shows_what_pop_will_return_and_takes_nothing),
        cmocka_unit_test(test_two_threads_pass_millions_of_messages_in_order_without_loss),
        cmocka_unit_test(test_sleep_handshake_never_loses_a_message),
        cmocka_unit_test(test_counter_adds_and_reads),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
