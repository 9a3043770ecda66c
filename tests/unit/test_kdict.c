/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * test_kdict.c: the key table through its public header: lookups across
 * incremental resizes (growing and shrinking), deletes in the middle of a
 * rehash, the scan cursor's guarantees (every entry present for the whole
 * scan is returned at least once whatever resizes happen between calls, and
 * exactly once when nothing changes) and random sampling.
 *
 * Keys are "k<number>" so a scan callback can tell which key it saw.
 */
#include "shardis/kdict.h"

#include <limits.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#define MAX_KEYS 200000

struct fixture {
    struct kdict *d;
    unsigned *seen; /* [key number]: times the scan returned it */
};

static size_t key_of(char *buf, size_t cap, int i)
{
    return (size_t)snprintf(buf, cap, "k%d", i);
}

static struct kentry *add(struct kdict *d, int i)
{
    char k[32];
    size_t n = key_of(k, sizeof(k), i);

    return kdict_add(d, k, n, kdict_hash(k, n));
}

static struct kentry *find(struct kdict *d, int i)
{
    char k[32];
    size_t n = key_of(k, sizeof(k), i);

    return kdict_find(d, k, n, kdict_hash(k, n));
}

static void del(struct kdict *d, int i)
{
    struct kentry *e = find(d, i);

    assert_non_null(e);
    kdict_delete(d, e);
}

/* Adds keys 0, 1, ... until a resize is under way and at least `least` are
 * in; returns how many were added. */
static int fill_until_rehashing(struct kdict *d, int least)
{
    int n = 0;

    while (!kdict_is_rehashing(d) || n < least) {
        add(d, n++);
        assert_true(n < MAX_KEYS);
    }
    return n;
}

static int number_of(const struct kentry *e)
{
    char buf[32];

    assert_true(kentry_klen(e) > 1 && kentry_klen(e) < sizeof(buf) && kentry_key(e)[0] == 'k');
    memcpy(buf, kentry_key(e) + 1, kentry_klen(e) - 1);
    buf[kentry_klen(e) - 1] = '\0';
    return atoi(buf);
}

static void count_seen(void *arg, struct kentry *e)
{
    struct fixture *f = arg;
    int i = number_of(e);

    assert_true(i >= 0 && i < MAX_KEYS);
    f->seen[i]++;
}

static int setup(void **state)
{
    struct fixture *f = calloc(1, sizeof(*f));

    f->d = kdict_create();
    f->seen = calloc(MAX_KEYS, sizeof(*f->seen));
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    struct fixture *f = *state;

    kdict_destroy(f->d);
    free(f->seen);
    free(f);
    return 0;
}

/* One scan call; returns the next cursor. */
static uint64_t scan_step(struct fixture *f, uint64_t cursor)
{
    return kdict_scan(f->d, cursor, count_seen, f);
}

static void test_find_returns_each_added_key_across_many_resizes(void **state)
{
    struct fixture *f = *state;
    const int n = 100000;

    for (int i = 0; i < n; i++) {
        struct kentry *e = add(f->d, i);

        assert_false(kentry_has_ttl(e));
        assert_int_equal(e->val.type, KVAL_NONE);
    }
    assert_int_equal(kdict_size(f->d), n);
    for (int i = 0; i < n; i++) {
        struct kentry *e = find(f->d, i);

        assert_non_null(e);
        assert_int_equal(number_of(e), i);
    }
    assert_null(find(f->d, n));
    assert_null(find(f->d, -1));
}

/* Keys of every length around the one-byte length limit (254, 255, 256) and
 * far past it keep their bytes and length, and are found and deleted. */
static void test_long_keys_keep_their_length_and_bytes(void **state)
{
    struct fixture *f = *state;
    static const size_t lens[] = { 0, 1, 16, 254, 255, 256, 1000, 70000 };
    const size_t n = sizeof(lens) / sizeof(lens[0]);
    char *keys[sizeof(lens) / sizeof(lens[0])];

    for (size_t i = 0; i < n; i++) {
        keys[i] = malloc(lens[i] + 1);
        memset(keys[i], 'a' + (int)i, lens[i]);
        kval_set_int(&kdict_add(f->d, keys[i], lens[i], kdict_hash(keys[i], lens[i]))->val,
                     (long long)i);
    }
    for (size_t i = 0; i < n; i++) {
        struct kentry *e = kdict_find(f->d, keys[i], lens[i], kdict_hash(keys[i], lens[i]));

        assert_non_null(e);
        assert_int_equal(kentry_klen(e), lens[i]);
        assert_memory_equal(kentry_key(e), keys[i], lens[i]);
        assert_int_equal(e->val.u.i, (long long)i);
    }
    /* a key that differs from a stored one only in length is another key */
    assert_null(kdict_find(f->d, keys[4], 253, kdict_hash(keys[4], 253)));
    for (size_t i = 0; i < n; i++) {
        kdict_delete(f->d, kdict_find(f->d, keys[i], lens[i], kdict_hash(keys[i], lens[i])));
        free(keys[i]);
    }
    assert_int_equal(kdict_size(f->d), 0);
}

/* A whole value assigned to an entry keeps the entry's own bits: its key
 * stays findable and its length right. */
static void test_set_val_keeps_the_key(void **state)
{
    struct fixture *f = *state;
    char big[300];
    struct kentry *e, *l;

    memset(big, 'z', sizeof(big));
    e = add(f->d, 7);
    l = kdict_add(f->d, big, sizeof(big), kdict_hash(big, sizeof(big)));
    kentry_set_val(e, (struct kval){ .type = KVAL_STRING, .enc = KVAL_ENC_INT, .u.i = 5 });
    kentry_set_val(l, (struct kval){ .type = KVAL_STRING, .enc = KVAL_ENC_INT, .u.i = 6 });
    assert_ptr_equal(find(f->d, 7), e);
    assert_int_equal(kentry_klen(l), sizeof(big));
    assert_ptr_equal(kdict_find(f->d, big, sizeof(big), kdict_hash(big, sizeof(big))), l);
    assert_int_equal(kentry_take_val(e).u.i, 5);
    assert_int_equal(e->val.type, KVAL_NONE);
    assert_ptr_equal(find(f->d, 7), e);
    del(f->d, 7);
    kdict_delete(f->d, l);
}

/* Adding and deleting over and over (deletes leave tombstones) keeps the
 * table no bigger than the live keys need, and every live key findable. */
static void test_churn_keeps_the_table_bounded(void **state)
{
    struct fixture *f = *state;
    const int live = 1000;
    size_t most = 0;

    for (int i = 0; i < live; i++) {
        add(f->d, i);
    }
    for (int i = live; i < 200000; i++) {
        del(f->d, i - live);
        add(f->d, i);
        if (kdict_buckets(f->d) > most) {
            most = kdict_buckets(f->d);
        }
    }
    assert_int_equal(kdict_size(f->d), live);
    /* 1000 live keys: 2048 slots, 4096 while one is rehashed into another */
    assert_true(most <= 4096);
    for (int i = 200000 - live; i < 200000; i++) {
        assert_non_null(find(f->d, i));
    }
    assert_null(find(f->d, 200000 - live - 1));
}

static void test_find_on_an_empty_table_returns_null(void **state)
{
    struct fixture *f = *state;

    assert_null(find(f->d, 1));
    assert_int_equal(kdict_size(f->d), 0);
    assert_int_equal(kdict_scan(f->d, 0, count_seen, f), 0);
    assert_null(kdict_random(f->d, 12345));
}

static void test_keys_with_the_same_hash_are_told_apart_by_their_bytes(void **state)
{
    struct fixture *f = *state;
    struct kentry *a = kdict_add(f->d, "ab", 2, 7);
    struct kentry *b = kdict_add(f->d, "ba", 2, 7);

    /* the same (forced) hash: only the bytes differ */
    assert_ptr_equal(kdict_find(f->d, "ab", 2, 7), a);
    assert_ptr_equal(kdict_find(f->d, "ba", 2, 7), b);
    assert_null(kdict_find(f->d, "aa", 2, 7));
    assert_null(kdict_find(f->d, "ab", 1, 7));
}

static void test_deletes_during_a_rehash_keep_every_other_key_findable(void **state)
{
    struct fixture *f = *state;
    const int n = 5000;
    bool mid_rehash = false;

    for (int i = 0; i < n; i++) {
        add(f->d, i);
    }
    /* grow until a resize is in progress, then delete through it */
    for (int i = n; !kdict_is_rehashing(f->d); i++) {
        add(f->d, i);
        assert_true(i < MAX_KEYS);
    }
    for (int i = 0; i < n; i += 2) {
        mid_rehash |= kdict_is_rehashing(f->d);
        del(f->d, i);
    }
    assert_true(mid_rehash);
    for (int i = 0; i < n; i++) {
        if (i % 2) {
            assert_non_null(find(f->d, i));
        } else {
            assert_null(find(f->d, i));
        }
    }
}

static void test_deleting_almost_everything_shrinks_the_table(void **state)
{
    struct fixture *f = *state;
    const int n = 20000;
    size_t big;

    for (int i = 0; i < n; i++) {
        add(f->d, i);
    }
    while (kdict_rehash(f->d, 100)) {
    }
    big = kdict_buckets(f->d);
    for (int i = 10; i < n; i++) {
        del(f->d, i);
    }
    while (kdict_rehash(f->d, 100)) {
    }
    assert_true(kdict_buckets(f->d) < big / 100);
    for (int i = 0; i < 10; i++) {
        assert_non_null(find(f->d, i));
    }
    assert_int_equal(kdict_size(f->d), 10);
}

static void test_scan_returns_every_key_exactly_once_when_nothing_changes(void **state)
{
    struct fixture *f = *state;
    const int n = 3000;
    uint64_t cursor = 0;

    for (int i = 0; i < n; i++) {
        add(f->d, i);
    }
    do {
        cursor = scan_step(f, cursor);
    } while (cursor != 0);
    for (int i = 0; i < n; i++) {
        assert_int_equal(f->seen[i], 1);
    }
}

static void test_scan_returns_every_key_exactly_once_in_the_middle_of_a_rehash(void **state)
{
    struct fixture *f = *state;
    int n = fill_until_rehashing(f->d, 1000);
    uint64_t cursor = 0;

    /* a frozen table that is half moved: still one visit per key */
    assert_true(kdict_is_rehashing(f->d));
    do {
        cursor = scan_step(f, cursor);
    } while (cursor != 0);
    assert_true(kdict_is_rehashing(f->d));
    for (int i = 0; i < MAX_KEYS; i++) {
        assert_int_equal(f->seen[i], i < n ? 1 : 0);
    }
}

/* Scans while another "client" adds (or deletes) keys between the steps;
 * the keys [0, stable) are there for the whole scan and must all be seen. */
static void scan_while_changing(struct fixture *f, int stable, int per_step, bool grow)
{
    int next = stable, oldest = stable;
    uint64_t cursor = 0;
    int steps = 0;

    do {
        cursor = scan_step(f, cursor);
        for (int j = 0; j < per_step; j++) {
            if (grow) {
                add(f->d, next++);
            } else if (oldest < next) {
                del(f->d, oldest++);
            }
        }
        steps++;
        assert_true(next < MAX_KEYS);
    } while (cursor != 0);
    assert_true(steps > 1);
    for (int i = 0; i < stable; i++) {
        assert_true(f->seen[i] >= 1);
    }
}

static void test_scan_returns_every_key_present_for_the_whole_scan_while_growing(void **state)
{
    struct fixture *f = *state;

    for (int i = 0; i < 500; i++) {
        add(f->d, i);
    }
    scan_while_changing(f, 500, 1, true);
    /* it did resize under the scan */
    assert_true(kdict_size(f->d) > 1000);
}

static void test_scan_returns_every_key_present_for_the_whole_scan_while_shrinking(void **state)
{
    struct fixture *f = *state;
    size_t before;

    /* keys 0..99 stay, 100..19999 are deleted while the scan runs */
    for (int i = 0; i < 20000; i++) {
        add(f->d, i);
    }
    while (kdict_rehash(f->d, 100)) {
    }
    before = kdict_buckets(f->d);
    {
        int oldest = 100;
        uint64_t cursor = 0;

        do {
            cursor = scan_step(f, cursor);
            for (int j = 0; j < 500 && oldest < 20000; j++) {
                del(f->d, oldest++);
            }
        } while (cursor != 0);
    }
    assert_true(kdict_buckets(f->d) < before);
    for (int i = 0; i < 100; i++) {
        assert_true(f->seen[i] >= 1);
    }
}

static void test_scan_survives_mixed_adds_and_deletes_between_steps(void **state)
{
    struct fixture *f = *state;
    uint64_t cursor = 0, rnd = 88172645463325252ULL;
    bool present[MAX_KEYS / 4] = { false };

    for (int i = 0; i < 300; i++) {
        add(f->d, i);
    }
    do {
        cursor = scan_step(f, cursor);
        for (int j = 0; j < 40; j++) {
            int k;

            rnd ^= rnd << 13;
            rnd ^= rnd >> 7;
            rnd ^= rnd << 17;
            k = 1000 + (int)(rnd % 20000);
            if (present[k]) {
                del(f->d, k);
            } else {
                add(f->d, k);
            }
            present[k] = !present[k];
        }
    } while (cursor != 0);
    for (int i = 0; i < 300; i++) {
        assert_true(f->seen[i] >= 1);
    }
}

static void test_random_returns_only_present_entries_and_reaches_all_of_them(void **state)
{
    struct fixture *f = *state;
    uint64_t rnd = 1;

    for (int i = 0; i < 16; i++) {
        add(f->d, i);
    }
    for (int i = 0; i < 8; i++) {
        del(f->d, 2 * i);
    }
    for (int t = 0; t < 4000; t++) {
        struct kentry *e;

        rnd = rnd * 6364136223846793005ULL + 1442695040888963407ULL;
        e = kdict_random(f->d, rnd);
        assert_non_null(e);
        assert_int_equal(number_of(e) % 2, 1);
        f->seen[number_of(e)]++;
    }
    for (int i = 1; i < 16; i += 2) {
        assert_true(f->seen[i] > 0);
    }
}

/* Every entry is about equally likely (eviction and RANDOMKEY sample with
 * it): 200 draws per key on average, each key's count within 40 % of it
 * (a uniform draw's spread is about 7 %; taking the first entry after a
 * random slot gives the entries that follow an occupied slot half that). */
static void find_while_scanning(void *arg, struct kentry *e)
{
    struct fixture *f = arg;

    /* a lookup from inside the scan moves no entry under it */
    assert_ptr_equal(find(f->d, number_of(e)), e);
    count_seen(f, e);
}

/* A scan whose callback looks keys up in the middle of a rehash still
 * returns every key once (a lookup's rehash step would move the slots the
 * scan walks, and could free them). */
static void test_lookups_inside_a_scan_move_nothing(void **state)
{
    struct fixture *f = *state;
    int n = fill_until_rehashing(f->d, 3000);
    uint64_t cursor = 0;

    do {
        cursor = kdict_scan(f->d, cursor, find_while_scanning, f);
    } while (cursor != 0);
    for (int i = 0; i < n; i++) {
        assert_int_equal(f->seen[i], 1);
    }
}

static void test_random_draws_every_entry_about_equally(void **state)
{
    struct fixture *f = *state;
    const int n = 1000, draws = 200000;
    uint64_t rnd = 7;
    unsigned lo = UINT_MAX, hi = 0;

    for (int i = 0; i < n; i++) {
        add(f->d, i);
    }
    while (kdict_rehash(f->d, 100)) {
    }
    for (int t = 0; t < draws; t++) {
        rnd = rnd * 6364136223846793005ULL + 1442695040888963407ULL;
        f->seen[number_of(kdict_random(f->d, rnd >> 1))]++;
    }
    for (int i = 0; i < n; i++) {
        lo = f->seen[i] < lo ? f->seen[i] : lo;
        hi = f->seen[i] > hi ? f->seen[i] : hi;
    }
    assert_true(lo >= 120 && hi <= 280);
}

static void test_random_works_in_the_middle_of_a_rehash(void **state)
{
    struct fixture *f = *state;

    fill_until_rehashing(f->d, 64);
    for (uint64_t r = 1; r < 2000; r++) {
        struct kentry *e = kdict_random(f->d, r * 0x9E3779B97F4A7C15ULL);

        assert_non_null(e);
        assert_ptr_equal(find(f->d, number_of(e)), e);
    }
}

static void test_clear_removes_every_entry_and_the_table_is_reusable(void **state)
{
    struct fixture *f = *state;

    for (int i = 0; i < 1000; i++) {
        add(f->d, i);
    }
    kdict_clear(f->d);
    assert_int_equal(kdict_size(f->d), 0);
    assert_false(kdict_is_rehashing(f->d));
    assert_null(find(f->d, 5));
    add(f->d, 5);
    assert_non_null(find(f->d, 5));
    assert_int_equal(kdict_size(f->d), 1);
}

/* All three stages, for hashes present and absent, with string values in
 * bytes and as integers: nothing moves (not even a rehash step). */
static void prefetch_all(struct kdict *d, int from, int to)
{
    for (int i = from; i < to; i++) {
        char k[32];
        size_t n = key_of(k, sizeof(k), i);
        uint64_t h = kdict_hash(k, n);

        kdict_prefetch_bucket(d, h);
        kdict_prefetch_entry(d, h);
        kdict_prefetch_value(d, h);
    }
}

static void test_prefetch_changes_nothing_in_any_state_of_the_table(void **state)
{
    struct fixture *f = *state;
    int n = 0;

    prefetch_all(f->d, 0, 10); /* empty: no buckets at all */
    assert_int_equal(kdict_buckets(f->d), 0);
    for (; n < 3000 || !kdict_is_rehashing(f->d); n++) {
        struct kentry *e = add(f->d, n);

        assert_true(n < MAX_KEYS);
        if (n % 3 == 0) {
            assert_int_equal(kval_set_string(&e->val, "a string of bytes", 17), 0);
        } else if (n % 3 == 1) {
            kval_set_int(&e->val, n);
        } /* else: still KVAL_NONE, as between kdict_add and the caller's set */
    }
    for (int pass = 0; pass < 2; pass++) {
        size_t size = kdict_size(f->d), buckets = kdict_buckets(f->d);
        bool rehashing = kdict_is_rehashing(f->d);

        prefetch_all(f->d, 0, n + 100);
        assert_int_equal(kdict_size(f->d), size);
        assert_int_equal(kdict_buckets(f->d), buckets);
        assert_int_equal(kdict_is_rehashing(f->d), rehashing);
        for (int i = 0; i < n; i++) {
            assert_non_null(find(f->d, i));
        }
        assert_null(find(f->d, n));
        while (kdict_rehash(f->d, 100)) {
        }
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_find_returns_each_added_key_across_many_resizes, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_long_keys_keep_their_length_and_bytes, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_set_val_keeps_the_key, setup, teardown),
        cmocka_unit_test_setup_teardown(test_churn_keeps_the_table_bounded, setup, teardown),
        cmocka_unit_test_setup_teardown(test_find_on_an_empty_table_returns_null, setup, teardown),
        cmocka_unit_test_setup_teardown(test_keys_with_the_same_hash_are_told_apart_by_their_bytes,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(test_deletes_during_a_rehash_keep_every_other_key_findable,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(test_deleting_almost_everything_shrinks_the_table, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(
                test_scan_returns_every_key_exactly_once_when_nothing_changes, setup, teardown),
        cmocka_unit_test_setup_teardown(
                test_scan_returns_every_key_exactly_once_in_the_middle_of_a_rehash, setup,
                teardown),
        cmocka_unit_test_setup_teardown(
                test_scan_returns_every_key_present_for_the_whole_scan_while_growing, setup,
                teardown),
        cmocka_unit_test_setup_teardown(
                test_scan_returns_every_key_present_for_the_whole_scan_while_shrinking, setup,
                teardown),
        cmocka_unit_test_setup_teardown(test_scan_survives_mixed_adds_and_deletes_between_steps,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(
                test_random_returns_only_present_entries_and_reaches_all_of_them, setup, teardown),
        cmocka_unit_test_setup_teardown(test_lookups_inside_a_scan_move_nothing, setup, teardown),
        cmocka_unit_test_setup_teardown(test_random_draws_every_entry_about_equally, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_random_works_in_the_middle_of_a_rehash, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_clear_removes_every_entry_and_the_table_is_reusable,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(test_prefetch_changes_nothing_in_any_state_of_the_table,
                                        setup, teardown),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
