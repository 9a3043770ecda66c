/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * test_kdb.c: a database's expiry through its public header: lazy expiry on
 * lookup, the active cycle, the volatile-key bookkeeping behind it (set,
 * persist, delete, flush), and expired keys hidden from scan and random.
 *
 * Time is whatever the test passes as `now` (unix ms); only the active
 * cycle's deadline reads the monotonic clock.
 */
#include "shardis/kdb.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#define NOW INT64_C(1700000000000)

static struct kentry *add(struct kdb *db, int i)
{
    char k[32];
    size_t n = (size_t)snprintf(k, sizeof(k), "key:%d", i);
    struct kentry *e = kdb_add(db, k, n, kdict_hash(k, n));

    kval_set_int(&e->val, i);
    return e;
}

static struct kentry *find(struct kdb *db, int i, int64_t now)
{
    char k[32];
    size_t n = (size_t)snprintf(k, sizeof(k), "key:%d", i);

    return kdb_find(db, k, n, kdict_hash(k, n), now);
}

static int setup(void **state)
{
    *state = kdb_create();
    return 0;
}

static int teardown(void **state)
{
    kdb_destroy(*state);
    return 0;
}

/* A deadline far enough away that only the cycle's own rule stops it. */
static int64_t far_deadline(void)
{
    return sh_mono_us() + INT64_C(10000000);
}

static void test_find_returns_a_key_whose_expiry_is_in_the_future(void **state)
{
    struct kdb *db = *state;
    struct kentry *e = add(db, 1);

    kdb_set_expire(db, e, NOW + 1000);
    assert_ptr_equal(find(db, 1, NOW), e);
    assert_ptr_equal(find(db, 1, NOW + 999), e);
    assert_int_equal(kdb_expire_of(db, e), NOW + 1000);
    assert_int_equal(kdb_size(db), 1);
    assert_int_equal(kdb_expires(db), 1);
}

static void test_find_deletes_an_expired_key_and_reports_it_absent(void **state)
{
    struct kdb *db = *state;

    kdb_set_expire(db, add(db, 1), NOW - 1);
    add(db, 2);
    assert_null(find(db, 1, NOW));
    assert_int_equal(kdb_size(db), 1);
    assert_int_equal(kdb_expires(db), 0);
    /* the key is gone, not just hidden: a later clock cannot revive it */
    assert_null(find(db, 1, NOW - 100));
    assert_non_null(find(db, 2, NOW));
}

static void test_a_key_expires_once_its_deadline_is_reached(void **state)
{
    struct kdb *db = *state;
    struct kentry *e = add(db, 1);

    kdb_set_expire(db, e, NOW);
    assert_false(kdb_is_expired(db, e, NOW - 1));
    assert_true(kdb_is_expired(db, e, NOW));
    assert_null(find(db, 1, NOW));
}

static void test_expired_count_includes_lazy_and_active_expiry(void **state)
{
    struct kdb *db = *state;

    for (int i = 0; i < 10; i++) {
        kdb_set_expire(db, add(db, i), 1000);
    }
    assert_null(find(db, 0, 2000));
    assert_int_equal(kdb_expired(db), 1);
    kdb_active_expire(db, 2000, INT64_MAX, &(uint64_t){ 7 });
    assert_int_equal(kdb_size(db), 0);
    assert_int_equal(kdb_expired(db), 10);
    kdb_reset_stats(db);
    assert_int_equal(kdb_expired(db), 0);
}

static void test_a_key_without_ttl_never_expires(void **state)
{
    struct kdb *db = *state;
    struct kentry *e = add(db, 1);

    assert_int_equal(kdb_expire_of(db, e), -1);
    assert_false(kdb_is_expired(db, e, INT64_MAX));
    assert_non_null(find(db, 1, INT64_MAX));
    assert_int_equal(kdb_expires(db), 0);
}

static void test_active_expire_removes_every_key_with_a_past_expire(void **state)
{
    struct kdb *db = *state;
    uint64_t rnd = 42;

    for (int i = 0; i < 1000; i++) {
        kdb_set_expire(db, add(db, i), NOW - 1 - i);
    }
    for (int i = 1000; i < 1100; i++) {
        add(db, i);
    }
    assert_int_equal(kdb_active_expire(db, NOW, far_deadline(), &rnd), 1000);
    assert_int_equal(kdb_size(db), 100);
    assert_int_equal(kdb_expires(db), 0);
    for (int i = 1000; i < 1100; i++) {
        assert_non_null(find(db, i, NOW));
    }
}

static void test_active_expire_keeps_keys_that_are_not_yet_expired(void **state)
{
    struct kdb *db = *state;
    uint64_t rnd = 7;

    for (int i = 0; i < 200; i++) {
        kdb_set_expire(db, add(db, i), NOW + 1 + i);
    }
    assert_int_equal(kdb_active_expire(db, NOW, far_deadline(), &rnd), 0);
    assert_int_equal(kdb_size(db), 200);
    assert_int_equal(kdb_expires(db), 200);
    assert_true(kdb_avg_ttl(db) > 0);
}

static void test_repeated_active_cycles_remove_expired_keys_mixed_with_live_ones(void **state)
{
    struct kdb *db = *state;
    uint64_t rnd = 99;
    size_t removed = 0;

    for (int i = 0; i < 2000; i++) {
        kdb_set_expire(db, add(db, i), i % 2 ? NOW - 5 : NOW + 60000);
    }
    /* each cycle stops once few of its sample were expired; enough cycles
     * still find nearly all of them */
    for (int cycle = 0; cycle < 2000; cycle++) {
        removed += kdb_active_expire(db, NOW, far_deadline(), &rnd);
    }
    assert_true(removed > 900);
    assert_int_equal(kdb_size(db), 2000 - removed);
    assert_int_equal(kdb_expires(db), 2000 - removed);
    for (int i = 0; i < 2000; i += 2) {
        assert_non_null(find(db, i, NOW));
    }
}

static void test_volatile_count_follows_set_expire_persist_and_delete(void **state)
{
    struct kdb *db = *state;
    struct kentry *e[10];

    for (int i = 0; i < 10; i++) {
        e[i] = add(db, i);
        kdb_set_expire(db, e[i], NOW + 1000 + i);
    }
    assert_int_equal(kdb_expires(db), 10);
    /* a new deadline for a volatile key is not a second entry */
    kdb_set_expire(db, e[3], NOW + 5000);
    assert_int_equal(kdb_expires(db), 10);
    /* persist */
    kdb_set_expire(db, e[0], -1);
    kdb_set_expire(db, e[0], -1);
    assert_int_equal(kdb_expire_of(db, e[0]), -1);
    assert_int_equal(kdb_expires(db), 9);
    /* delete a volatile key from the middle and from the end */
    kdb_delete(db, e[5]);
    kdb_delete(db, e[9]);
    assert_int_equal(kdb_expires(db), 7);
    /* delete a persistent key: no change */
    kdb_delete(db, e[0]);
    assert_int_equal(kdb_expires(db), 7);
    assert_int_equal(kdb_size(db), 7);
}

/* Many volatile keys set, persisted and deleted in a random order (the
 * volatile map moves entries on every removal and is rebuilt as it grows and
 * shrinks): each key's TTL stays its own. */
static void test_many_ttls_stay_with_their_keys_through_removals(void **state)
{
    struct kdb *db = *state;
    enum { N = 20000 };
    static struct kentry *e[N];
    static int64_t want[N];
    uint64_t rnd = 0x2545F4914F6CDD1DULL;
    size_t vol = 0;

    for (int i = 0; i < N; i++) {
        e[i] = add(db, i);
        want[i] = -1;
    }
    for (int round = 0; round < 200000; round++) {
        int i;

        rnd ^= rnd << 13;
        rnd ^= rnd >> 7;
        rnd ^= rnd << 17;
        i = (int)(rnd % N);
        if ((rnd >> 32) % 3 == 0 && want[i] >= 0) {
            kdb_set_expire(db, e[i], -1);
            want[i] = -1;
            vol--;
        } else if ((rnd >> 32) % 3 != 0) {
            vol += want[i] < 0;
            want[i] = NOW + 1000 + round;
            kdb_set_expire(db, e[i], want[i]);
        }
    }
    assert_int_equal(kdb_expires(db), vol);
    for (int i = 0; i < N; i++) {
        assert_int_equal(kdb_expire_of(db, e[i]), want[i]);
        assert_int_equal(kentry_has_ttl(e[i]), want[i] >= 0);
    }
    /* deleting every other key leaves the others' TTLs alone */
    for (int i = 0; i < N; i += 2) {
        kdb_delete(db, e[i]);
    }
    for (int i = 1; i < N; i += 2) {
        assert_ptr_equal(find(db, i, NOW), e[i]);
        assert_int_equal(kdb_expire_of(db, e[i]), want[i]);
    }
    /* and nearly all the rest (the map shrinks while they go) */
    for (int i = 1; i < N - 100; i += 2) {
        kdb_delete(db, e[i]);
    }
    for (int i = N - 99; i < N; i += 2) {
        assert_int_equal(kdb_expire_of(db, e[i]), want[i]);
        kdb_set_expire(db, e[i], NOW + 7);
    }
    for (int i = N - 99; i < N; i += 2) {
        assert_int_equal(kdb_expire_of(db, e[i]), NOW + 7);
    }
    assert_int_equal(kdb_expires(db), 50);
}

static void test_keys_left_volatile_after_deletes_are_still_found_by_active_expire(void **state)
{
    struct kdb *db = *state;
    struct kentry *e[50];
    uint64_t rnd = 3;

    for (int i = 0; i < 50; i++) {
        e[i] = add(db, i);
        kdb_set_expire(db, e[i], NOW + 1000);
    }
    for (int i = 0; i < 50; i += 3) {
        kdb_delete(db, e[i]);
    }
    for (int i = 1; i < 50; i += 3) {
        kdb_set_expire(db, e[i], -1);
    }
    /* whatever moved in the volatile array must still be reachable */
    assert_int_equal(kdb_expires(db), 16);
    assert_int_equal(kdb_active_expire(db, NOW + 1000, far_deadline(), &rnd), 16);
    assert_int_equal(kdb_expires(db), 0);
    assert_int_equal(kdb_size(db), 17);
    for (int i = 1; i < 50; i += 3) {
        assert_non_null(find(db, i, NOW + 1000));
    }
}

static void test_flush_removes_every_key_and_every_ttl(void **state)
{
    struct kdb *db = *state;
    uint64_t rnd = 5;

    for (int i = 0; i < 500; i++) {
        struct kentry *e = add(db, i);

        if (i % 2) {
            kdb_set_expire(db, e, NOW + 1000);
        }
    }
    kdb_flush(db);
    assert_int_equal(kdb_size(db), 0);
    assert_int_equal(kdb_expires(db), 0);
    assert_int_equal(kdb_avg_ttl(db), 0);
    assert_null(find(db, 1, NOW));
    assert_int_equal(kdb_active_expire(db, NOW + 5000, far_deadline(), &rnd), 0);
    /* usable again */
    kdb_set_expire(db, add(db, 1), NOW - 1);
    assert_int_equal(kdb_expires(db), 1);
    assert_null(find(db, 1, NOW));
    assert_int_equal(kdb_expires(db), 0);
}

struct seen {
    const struct kdb *db;
    int n;
    int64_t now;
    bool expired_seen;
};

static void scan_cb(void *arg, struct kentry *e)
{
    struct seen *s = arg;

    s->n++;
    s->expired_seen |= kdb_is_expired(s->db, e, s->now);
}

static void test_scan_skips_expired_keys_and_deletes_them(void **state)
{
    struct kdb *db = *state;
    struct seen s = { .db = db, .now = NOW };
    uint64_t cursor = 0;

    for (int i = 0; i < 300; i++) {
        struct kentry *e = add(db, i);

        if (i % 3 == 0) {
            kdb_set_expire(db, e, NOW - 1);
        }
    }
    do {
        cursor = kdb_scan(db, cursor, NOW, scan_cb, &s);
    } while (cursor != 0);
    assert_false(s.expired_seen);
    assert_int_equal(s.n, 200);
    assert_int_equal(kdb_size(db), 200);
    assert_int_equal(kdb_expires(db), 0);
}

static void test_random_never_returns_an_expired_key(void **state)
{
    struct kdb *db = *state;

    /* nearly everything volatile and expired: one live key must still come
     * back, never an expired one */
    for (int i = 0; i < 500; i++) {
        kdb_set_expire(db, add(db, i), NOW - 1);
    }
    kdb_set_expire(db, add(db, 500), NOW + 1000);
    for (uint64_t r = 1; r < 50; r++) {
        struct kentry *e = kdb_random(db, r * 0x9E3779B97F4A7C15ULL, NOW);

        assert_non_null(e);
        assert_false(kdb_is_expired(db, e, NOW));
    }
}

static void test_random_returns_null_when_only_expired_keys_remain(void **state)
{
    struct kdb *db = *state;

    assert_null(kdb_random(db, 1, NOW));
    for (int i = 0; i < 300; i++) {
        kdb_set_expire(db, add(db, i), NOW - 1);
    }
    assert_null(kdb_random(db, 12345, NOW));
    assert_int_equal(kdb_size(db), 0);
    assert_int_equal(kdb_expires(db), 0);
}

/* LFU stamps: with lfu-log-factor 0 every access counts; the counter decays
 * by one per lfu-decay-time minutes; LRU mode stamps seconds. */
static void test_lfu_counts_accesses_and_decays_with_time(void **state)
{
    struct kdb *db = *state;
    struct kentry *e;

    kdb_set_lfu(db, true, 0, 1);
    find(db, 0, NOW); /* sets the clock kdb_add stamps with */
    e = add(db, 1);
    assert_int_equal(kdb_lfu_counter(db, e->val.lru, NOW), KDB_LFU_INIT);
    for (int i = 0; i < 10; i++) {
        e = find(db, 1, NOW);
    }
    assert_int_equal(kdb_lfu_counter(db, e->val.lru, NOW), KDB_LFU_INIT + 10);
    assert_int_equal(kdb_lfu_counter(db, e->val.lru, NOW + 3 * 60000), KDB_LFU_INIT + 7);
    assert_int_equal(kdb_lfu_counter(db, e->val.lru, NOW + 600 * 60000), 0);
    for (int i = 0; i < 400; i++) {
        e = find(db, 1, NOW);
    }
    assert_int_equal(kdb_lfu_counter(db, e->val.lru, NOW), 255); /* saturates */
    kdb_set_lfu(db, true, 10, 0);                                /* decay-time 0: never decays */
    assert_int_equal(kdb_lfu_counter(db, e->val.lru, NOW + 600 * 60000), 255);
    kdb_set_lfu(db, false, 10, 1);
    e = find(db, 1, NOW + 5000);
    assert_int_equal(e->val.lru, (uint32_t)((NOW + 5000) / 1000));
}

/* With log factor 10, a counter grows ever more slowly. */
static void test_lfu_log_factor_slows_the_counter(void **state)
{
    struct kdb *db = *state;
    struct kentry *e;
    unsigned c;

    kdb_set_lfu(db, true, 10, 1);
    find(db, 0, NOW);
    add(db, 1);
    for (int i = 0; i < 1000; i++) {
        e = find(db, 1, NOW);
    }
    c = kdb_lfu_counter(db, e->val.lru, NOW);
    assert_true(c > KDB_LFU_INIT + 5);
    assert_true(c < 40); /* Redis's table: about 18 after 1000 hits at factor 10 */
}

static void test_random_volatile_picks_only_keys_with_a_ttl(void **state)
{
    struct kdb *db = *state;

    assert_null(kdb_random_volatile(db, 7));
    for (int i = 0; i < 50; i++) {
        struct kentry *e = add(db, i);

        if (i % 5 == 0) {
            kdb_set_expire(db, e, NOW + 100000);
        }
    }
    for (uint64_t r = 1; r < 200; r++) {
        struct kentry *e = kdb_random_volatile(db, r * 2654435761u);

        assert_non_null(e);
        assert_true(kentry_has_ttl(e));
        assert_int_equal(kdb_expire_of(db, e), NOW + 100000);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_find_returns_a_key_whose_expiry_is_in_the_future,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(test_find_deletes_an_expired_key_and_reports_it_absent,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(test_a_key_expires_once_its_deadline_is_reached, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_expired_count_includes_lazy_and_active_expiry, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_a_key_without_ttl_never_expires, setup, teardown),
        cmocka_unit_test_setup_teardown(test_active_expire_removes_every_key_with_a_past_expire,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(test_active_expire_keeps_keys_that_are_not_yet_expired,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(
                test_repeated_active_cycles_remove_expired_keys_mixed_with_live_ones, setup,
                teardown),
        cmocka_unit_test_setup_teardown(test_volatile_count_follows_set_expire_persist_and_delete,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(
                test_keys_left_volatile_after_deletes_are_still_found_by_active_expire, setup,
                teardown),
        cmocka_unit_test_setup_teardown(test_many_ttls_stay_with_their_keys_through_removals, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_flush_removes_every_key_and_every_ttl, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_scan_skips_expired_keys_and_deletes_them, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_random_never_returns_an_expired_key, setup, teardown),
        cmocka_unit_test_setup_teardown(test_random_returns_null_when_only_expired_keys_remain,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(test_lfu_counts_accesses_and_decays_with_time, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_lfu_log_factor_slows_the_counter, setup, teardown),
        cmocka_unit_test_setup_teardown(test_random_volatile_picks_only_keys_with_a_ttl, setup,
                                        teardown),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
