/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * test_fdict.c: the field dictionary through its public header: lookups and
 * values across incremental resizes (growing and shrinking) and the resize
 * policy, deletes and set_value in the middle of a rehash, the scan cursor's
 * guarantees (every entry present for the whole scan is returned at least
 * once whatever resizes happen between calls, exactly once when nothing
 * changes), the iterator with deletion, random entries and samples, the aux
 * word, the try_ forms, the memory counter against the allocator's own count
 * (sh_alloc_thread_bytes), and a randomized sequence (fixed seed) checked
 * against a reference model.
 *
 * Keys are "f<number>" so that a callback can tell which key it saw; the
 * value of key i in generation g is value_of(i, g), whose length varies with
 * both, so that a new generation usually moves the entry.
 */
#include "shardis/fdict.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#define MAX_KEYS 200000
#define SEED     0x5eed5eed12345678ULL

struct fixture {
    struct fdict *d;
    unsigned *seen;       /* [key number]: times a walk returned it */
    int64_t bytes_before; /* sh_alloc_thread_bytes before the dict existed */
};

static uint64_t xorshift(uint64_t *s)
{
    *s ^= *s << 13;
    *s ^= *s >> 7;
    *s ^= *s << 17;
    return *s;
}

static size_t key_of(char *buf, size_t cap, int i)
{
    return (size_t)snprintf(buf, cap, "f%d", i);
}

/* 0 to 40 bytes that depend on the key number and the generation. */
static size_t value_of(char *buf, int i, unsigned gen)
{
    size_t len = ((unsigned)i * 7u + gen * 13u) % 41u;

    for (size_t j = 0; j < len; j++) {
        buf[j] = (char)('a' + ((unsigned)i + gen + j) % 26u);
    }
    return len;
}

static struct fentry *add_gen(struct fdict *d, int i, unsigned gen)
{
    char k[32], v[64];
    size_t kn = key_of(k, sizeof(k), i), vn = value_of(v, i, gen);

    return fdict_add(d, k, kn, v, vn);
}

static struct fentry *add(struct fdict *d, int i)
{
    return add_gen(d, i, 0);
}

static struct fentry *find(struct fdict *d, int i)
{
    char k[32];
    size_t n = key_of(k, sizeof(k), i);

    return fdict_find(d, k, n);
}

static void del(struct fdict *d, int i)
{
    char k[32];
    size_t n = key_of(k, sizeof(k), i);

    assert_true(fdict_delete_key(d, k, n));
}

static struct fentry *set_gen(struct fdict *d, struct fentry *e, int i, unsigned gen)
{
    char v[64];
    size_t vn = value_of(v, i, gen);

    return fdict_set_value(d, e, v, vn);
}

static int number_of(const struct fentry *e)
{
    char buf[32];
    size_t n = fdict_klen(e);

    assert_true(n > 1 && n < sizeof(buf) && fdict_key(e)[0] == 'f');
    memcpy(buf, fdict_key(e) + 1, n - 1);
    buf[n - 1] = '\0';
    return atoi(buf);
}

static void assert_value(const struct fentry *e, int i, unsigned gen)
{
    char v[64];
    size_t vn = value_of(v, i, gen);

    assert_int_equal(fdict_vlen(e), vn);
    assert_memory_equal(fdict_value(e), v, vn);
}

static void count_seen(void *arg, struct fentry *e)
{
    struct fixture *f = arg;
    int i = number_of(e);

    assert_true(i >= 0 && i < MAX_KEYS);
    f->seen[i]++;
}

static void assert_memory_counted(struct fixture *f)
{
    assert_int_equal(fdict_memory(f->d), sh_alloc_thread_bytes() - f->bytes_before);
}

static void rehash_all(struct fdict *d)
{
    while (fdict_rehash(d, 100)) {
    }
}

static int setup_with(void **state, unsigned flags)
{
    struct fixture *f = calloc(1, sizeof(*f));

    f->bytes_before = sh_alloc_thread_bytes();
    f->d = fdict_create(SEED, flags);
    f->seen = calloc(MAX_KEYS, sizeof(*f->seen));
    *state = f;
    return 0;
}

static int setup(void **state)
{
    return setup_with(state, 0);
}

static int setup_aux(void **state)
{
    return setup_with(state, FDICT_AUX);
}

static int teardown(void **state)
{
    struct fixture *f = *state;

    fdict_destroy(f->d);
    /* everything the dict allocated went back */
    assert_int_equal(sh_alloc_thread_bytes(), f->bytes_before);
    free(f->seen);
    free(f);
    return 0;
}

static uint64_t scan_step(struct fixture *f, uint64_t cursor)
{
    return fdict_scan(f->d, cursor, count_seen, f);
}

static void scan_all(struct fixture *f)
{
    uint64_t cursor = 0;

    do {
        cursor = scan_step(f, cursor);
    } while (cursor != 0);
}

/* Adds keys 0, 1, ... until a growing resize is in progress and at least n
 * keys are there; returns the count. */
static int fill_until_rehashing(struct fdict *d, int n)
{
    int i = 0;

    while (i < n || !fdict_is_rehashing(d)) {
        add(d, i++);
        assert_true(i < MAX_KEYS);
    }
    return i;
}

/* With keys [0, n) present and no resize running, deletes from the top until
 * a shrink starts; returns the count left. */
static int delete_until_shrinking(struct fdict *d, int n)
{
    while (!fdict_is_rehashing(d)) {
        assert_true(n > 0);
        del(d, --n);
    }
    return n;
}

static void test_find_returns_each_added_field_with_its_value_across_many_resizes(void **state)
{
    struct fixture *f = *state;
    const int n = 100000;

    for (int i = 0; i < n; i++) {
        struct fentry *e = add(f->d, i);

        assert_int_equal(number_of(e), i);
        assert_value(e, i, 0);
    }
    assert_int_equal(fdict_size(f->d), n);
    for (int i = 0; i < n; i++) {
        struct fentry *e = find(f->d, i);

        assert_non_null(e);
        assert_int_equal(number_of(e), i);
        assert_value(e, i, 0);
    }
    assert_null(find(f->d, n));
    assert_null(find(f->d, -1));
    assert_memory_counted(f);
}

static void test_an_empty_dict_finds_nothing_and_holds_only_its_struct(void **state)
{
    struct fixture *f = *state;
    struct fentry *out[4];
    struct fdict_iter it;

    assert_null(find(f->d, 1));
    assert_false(fdict_delete_key(f->d, "f1", 2));
    assert_int_equal(fdict_size(f->d), 0);
    assert_int_equal(fdict_buckets(f->d), 0);
    assert_false(fdict_is_rehashing(f->d));
    assert_false(fdict_has_aux(f->d));
    assert_int_equal(fdict_scan(f->d, 0, count_seen, f), 0);
    assert_null(fdict_random(f->d, 12345));
    assert_int_equal(fdict_sample(f->d, 12345, out, 4), 0);
    fdict_iter_init(&it, f->d);
    assert_null(fdict_iter_next(&it));
    fdict_iter_fini(&it);
    assert_true(fdict_memory(f->d) > 0);
    assert_memory_counted(f);
}

static void test_empty_fields_empty_values_and_binary_bytes_are_told_apart(void **state)
{
    struct fixture *f = *state;
    static const struct {
        const char *k;
        size_t klen;
    } keys[] = { { "", 0 }, { "\0", 1 }, { "\0\0", 2 }, { "a", 1 }, { "a\0", 2 }, { "ab", 2 } };
    struct fentry *e[SH_ARRAY_LEN(keys)];

    for (size_t i = 0; i < SH_ARRAY_LEN(keys); i++) {
        /* value i bytes long, the empty key with an empty (NULL) value */
        e[i] = fdict_add(f->d, keys[i].k, keys[i].klen, i ? "0123456789" : NULL, i);
    }
    for (size_t i = 0; i < SH_ARRAY_LEN(keys); i++) {
        assert_ptr_equal(fdict_find(f->d, keys[i].k, keys[i].klen), e[i]);
        assert_int_equal(fdict_klen(e[i]), keys[i].klen);
        assert_memory_equal(fdict_key(e[i]), keys[i].k, keys[i].klen);
        assert_int_equal(fdict_vlen(e[i]), i);
        assert_memory_equal(fdict_value(e[i]), "0123456789", i);
    }
    assert_null(fdict_find(f->d, "b", 1));
    assert_null(fdict_find(f->d, "\0\0\0", 3));
    assert_true(fdict_delete_key(f->d, "", 0));
    assert_false(fdict_delete_key(f->d, "", 0));
    assert_null(fdict_find(f->d, "", 0));
    assert_ptr_equal(fdict_find(f->d, "\0", 1), e[1]);
    assert_int_equal(fdict_size(f->d), SH_ARRAY_LEN(keys) - 1);
}

static void test_find_or_add_adds_once_then_returns_the_existing_entry_untouched(void **state)
{
    struct fixture *f = *state;
    bool existed = true;
    struct fentry *a = fdict_find_or_add(f->d, "field", 5, "one", 3, &existed);
    struct fentry *b;

    assert_false(existed);
    assert_int_equal(fdict_size(f->d), 1);
    b = fdict_find_or_add(f->d, "field", 5, "other value", 11, &existed);
    assert_true(existed);
    assert_ptr_equal(a, b);
    assert_int_equal(fdict_vlen(b), 3);
    assert_memory_equal(fdict_value(b), "one", 3);
    assert_int_equal(fdict_size(f->d), 1);
    /* the try form behaves alike */
    b = fdict_try_find_or_add(f->d, "field", 5, "x", 1, &existed);
    assert_true(existed);
    assert_ptr_equal(a, b);
    b = fdict_try_find_or_add(f->d, "field2", 6, "x", 1, &existed);
    assert_false(existed);
    assert_non_null(b);
    assert_ptr_equal(fdict_find(f->d, "field2", 6), b);
    assert_int_equal(fdict_size(f->d), 2);
}

/* The order in which a full scan returns keys 0..n-1 of a dict seeded so. */
static void scan_order(uint64_t seed, int *order, int n)
{
    struct fdict *d = fdict_create(seed, 0);
    struct fdict_iter it;
    struct fentry *e;
    int k = 0;

    for (int i = 0; i < n; i++) {
        add(d, i);
    }
    rehash_all(d);
    fdict_iter_init(&it, d);
    while ((e = fdict_iter_next(&it)) != NULL) {
        order[k++] = number_of(e);
    }
    fdict_iter_fini(&it);
    assert_int_equal(k, n);
    fdict_destroy(d);
}

static void test_the_seed_decides_where_fields_land(void **state)
{
    int a[500], b[500], c[500];

    (void)state;
    scan_order(1, a, 500);
    scan_order(1, b, 500);
    scan_order(2, c, 500);
    assert_memory_equal(a, b, sizeof(a));
    assert_memory_not_equal(a, c, sizeof(a));
}

static void test_the_table_starts_with_four_buckets_and_grows_at_load_factor_one(void **state)
{
    struct fixture *f = *state;

    for (int i = 0; i < 4; i++) {
        add(f->d, i);
        assert_int_equal(fdict_buckets(f->d), 4);
    }
    add(f->d, 4); /* used 4 >= size 4: doubles */
    rehash_all(f->d);
    assert_int_equal(fdict_buckets(f->d), 8);
    for (int i = 5; i < 512; i++) {
        add(f->d, i);
    }
    rehash_all(f->d);
    assert_int_equal(fdict_buckets(f->d), 512);
    add(f->d, 512);
    assert_true(fdict_is_rehashing(f->d));
    rehash_all(f->d);
    assert_int_equal(fdict_buckets(f->d), 1024);
    for (int i = 0; i <= 512; i++) {
        assert_non_null(find(f->d, i));
    }
}

static void test_the_table_shrinks_when_less_than_a_tenth_full(void **state)
{
    struct fixture *f = *state;
    int n = 1000;

    for (int i = 0; i < n; i++) {
        add(f->d, i);
    }
    rehash_all(f->d);
    assert_int_equal(fdict_buckets(f->d), 1024);
    /* 103 * 10 >= 1024: still full enough */
    while (n > 103) {
        del(f->d, --n);
    }
    assert_false(fdict_is_rehashing(f->d));
    assert_int_equal(fdict_buckets(f->d), 1024);
    del(f->d, --n); /* 102 * 10 < 1024: shrink to the power of two of 102 */
    assert_true(fdict_is_rehashing(f->d));
    rehash_all(f->d);
    assert_int_equal(fdict_buckets(f->d), 128);
    for (int i = 0; i < 1000; i++) {
        assert_true((find(f->d, i) != NULL) == (i < n));
    }
    while (n > 0) {
        del(f->d, --n);
    }
    rehash_all(f->d);
    assert_int_equal(fdict_buckets(f->d), 4);
    assert_int_equal(fdict_size(f->d), 0);
    assert_memory_counted(f);
}

static void test_deletes_during_a_growing_rehash_keep_every_other_field_findable(void **state)
{
    struct fixture *f = *state;
    int n = fill_until_rehashing(f->d, 5000);
    bool mid_rehash = false;

    for (int i = 0; i < n; i += 2) {
        mid_rehash |= fdict_is_rehashing(f->d);
        fdict_delete(f->d, find(f->d, i));
    }
    assert_true(mid_rehash);
    for (int i = 0; i < n; i++) {
        struct fentry *e = find(f->d, i);

        if (i % 2) {
            assert_non_null(e);
            assert_value(e, i, 0);
        } else {
            assert_null(e);
        }
    }
    assert_int_equal(fdict_size(f->d), n / 2);
    assert_memory_counted(f);
}

static void
test_deletes_and_set_value_during_a_shrinking_rehash_keep_the_rest_findable(void **state)
{
    struct fixture *f = *state;
    int n = 4000, steps = 0;

    for (int i = 0; i < n; i++) {
        add(f->d, i);
    }
    rehash_all(f->d);
    n = delete_until_shrinking(f->d, n);
    /* while it shrinks: rewrite every value, delete every third key */
    for (int i = 0; i < n; i++) {
        struct fentry *e = find(f->d, i);

        steps += fdict_is_rehashing(f->d);
        assert_non_null(e);
        if (i % 3 == 0) {
            fdict_delete(f->d, e);
        } else {
            assert_int_equal(number_of(set_gen(f->d, e, i, 1)), i);
        }
    }
    assert_true(steps > 0);
    for (int i = 0; i < n; i++) {
        struct fentry *e = find(f->d, i);

        if (i % 3 == 0) {
            assert_null(e);
        } else {
            assert_non_null(e);
            assert_value(e, i, 1);
        }
    }
    assert_memory_counted(f);
}

static void test_set_value_in_place_keeps_the_entry_and_a_new_length_relinks_it(void **state)
{
    struct fixture *f = *state;
    int n = fill_until_rehashing(f->d, 300);
    struct fentry *e = find(f->d, 7), *moved;

    /* same length: rewritten in place */
    assert_ptr_equal(
            fdict_set_value(f->d, e, "zzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzz", fdict_vlen(e)), e);
    assert_memory_equal(fdict_value(e), "zzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzz", fdict_vlen(e));
    /* a value of another length, many times, for every key, mid-rehash:
     * each is findable afterwards, and so are its chain neighbours */
    for (unsigned gen = 1; gen <= 6; gen++) {
        for (int i = 0; i < n; i++) {
            moved = set_gen(f->d, find(f->d, i), i, gen);
            assert_ptr_equal(find(f->d, i), moved);
            assert_value(moved, i, gen);
        }
        for (int i = 0; i < n; i++) {
            assert_value(find(f->d, i), i, gen);
        }
    }
    /* a big value, then an empty one */
    moved = fdict_set_value(f->d, find(f->d, 3), NULL, 0);
    assert_int_equal(fdict_vlen(moved), 0);
    moved = fdict_set_value(f->d, moved, f->seen, 4096);
    assert_int_equal(fdict_vlen(moved), 4096);
    assert_int_equal(number_of(moved), 3);
    assert_ptr_equal(find(f->d, 3), moved);
    assert_int_equal(fdict_size(f->d), n);
    assert_memory_counted(f);
}

static void test_expand_sizes_the_table_so_that_a_bulk_build_never_resizes(void **state)
{
    struct fixture *f = *state;

    fdict_expand(f->d, 1000);
    assert_false(fdict_is_rehashing(f->d));
    assert_int_equal(fdict_buckets(f->d), 1024);
    for (int i = 0; i < 1000; i++) {
        add(f->d, i);
        assert_false(fdict_is_rehashing(f->d));
        assert_int_equal(fdict_buckets(f->d), 1024);
    }
    fdict_expand(f->d, 500); /* already large enough */
    assert_int_equal(fdict_buckets(f->d), 1024);
    assert_memory_counted(f);
}

static void
test_expand_of_a_filled_table_resizes_incrementally_and_waits_for_a_running_one(void **state)
{
    struct fixture *f = *state;

    for (int i = 0; i < 100; i++) {
        add(f->d, i);
    }
    rehash_all(f->d);
    assert_int_equal(fdict_buckets(f->d), 128);
    fdict_expand(f->d, 3000);
    assert_true(fdict_is_rehashing(f->d));
    assert_int_equal(fdict_buckets(f->d), 128 + 4096);
    fdict_expand(f->d, 100000); /* ignored while resizing */
    assert_int_equal(fdict_buckets(f->d), 128 + 4096);
    for (int i = 0; i < 100; i++) {
        assert_non_null(find(f->d, i));
    }
    rehash_all(f->d);
    assert_int_equal(fdict_buckets(f->d), 4096);
    for (int i = 0; i < 100; i++) {
        assert_non_null(find(f->d, i));
    }
}

static void test_scan_returns_every_field_exactly_once_when_nothing_changes(void **state)
{
    struct fixture *f = *state;
    const int n = 3000;

    for (int i = 0; i < n; i++) {
        add(f->d, i);
    }
    rehash_all(f->d);
    scan_all(f);
    for (int i = 0; i < n; i++) {
        assert_int_equal(f->seen[i], 1);
    }
}

static void
test_scan_returns_every_field_exactly_once_in_the_middle_of_a_growing_rehash(void **state)
{
    struct fixture *f = *state;
    int n = fill_until_rehashing(f->d, 1000);

    scan_all(f);
    assert_true(fdict_is_rehashing(f->d)); /* a frozen table, half moved */
    for (int i = 0; i < MAX_KEYS; i++) {
        assert_int_equal(f->seen[i], i < n ? 1 : 0);
    }
}

static void
test_scan_returns_every_field_exactly_once_in_the_middle_of_a_shrinking_rehash(void **state)
{
    struct fixture *f = *state;
    int n = 5000;

    for (int i = 0; i < n; i++) {
        add(f->d, i);
    }
    rehash_all(f->d);
    n = delete_until_shrinking(f->d, n);
    scan_all(f);
    assert_true(fdict_is_rehashing(f->d));
    for (int i = 0; i < MAX_KEYS; i++) {
        assert_int_equal(f->seen[i], i < n ? 1 : 0);
    }
}

static void test_scan_returns_every_field_present_for_the_whole_scan_while_growing(void **state)
{
    struct fixture *f = *state;
    int next = 500, steps = 0;
    uint64_t cursor = 0;
    size_t before;

    for (int i = 0; i < next; i++) {
        add(f->d, i);
    }
    rehash_all(f->d);
    before = fdict_buckets(f->d);
    /* fields 0..499 stay, 500..7999 are added while the scan runs */
    do {
        cursor = scan_step(f, cursor);
        for (int j = 0; j < 20 && next < 8000; j++) {
            add(f->d, next++);
        }
        fdict_rehash(f->d, 3);
        steps++;
    } while (cursor != 0);
    assert_true(steps > 1);
    assert_true(fdict_buckets(f->d) >= 8 * before); /* it resized under the scan */
    for (int i = 0; i < 500; i++) {
        assert_true(f->seen[i] >= 1);
    }
}

static void test_scan_returns_every_field_present_for_the_whole_scan_while_shrinking(void **state)
{
    struct fixture *f = *state;
    int oldest = 100;
    uint64_t cursor = 0;
    size_t before;

    /* fields 0..99 stay, 100..19999 are deleted while the scan runs */
    for (int i = 0; i < 20000; i++) {
        add(f->d, i);
    }
    rehash_all(f->d);
    before = fdict_buckets(f->d);
    do {
        cursor = scan_step(f, cursor);
        for (int j = 0; j < 500 && oldest < 20000; j++) {
            del(f->d, oldest++);
        }
        fdict_rehash(f->d, 50);
    } while (cursor != 0);
    assert_true(fdict_buckets(f->d) * 16 < before);
    for (int i = 0; i < 100; i++) {
        assert_true(f->seen[i] >= 1);
    }
}

static void test_scan_survives_mixed_adds_and_deletes_between_steps(void **state)
{
    struct fixture *f = *state;
    uint64_t cursor = 0, rnd = 88172645463325252ULL;
    bool *present = calloc(MAX_KEYS, sizeof(*present));

    for (int i = 0; i < 300; i++) {
        add(f->d, i);
    }
    do {
        cursor = scan_step(f, cursor);
        for (int j = 0; j < 40; j++) {
            int k = 1000 + (int)(xorshift(&rnd) % 20000);

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
    free(present);
}

/* Walks d with an iterator, counting each entry in f->seen. */
static int iterate_all(struct fixture *f)
{
    struct fdict_iter it;
    struct fentry *e;
    int n = 0;

    fdict_iter_init(&it, f->d);
    while ((e = fdict_iter_next(&it)) != NULL) {
        count_seen(f, e);
        n++;
    }
    fdict_iter_fini(&it);
    return n;
}

static void test_the_iterator_returns_every_field_exactly_once_even_mid_rehash(void **state)
{
    struct fixture *f = *state;
    int n = fill_until_rehashing(f->d, 2000);

    assert_int_equal(iterate_all(f), n);
    for (int i = 0; i < MAX_KEYS; i++) {
        assert_int_equal(f->seen[i], i < n ? 1 : 0);
    }
}

static void test_the_iterator_tolerates_deleting_or_rewriting_the_field_it_returned(void **state)
{
    struct fixture *f = *state;
    int n = fill_until_rehashing(f->d, 3000);
    struct fdict_iter it;
    struct fentry *e;

    fdict_iter_init(&it, f->d);
    while ((e = fdict_iter_next(&it)) != NULL) {
        int i = number_of(e);

        count_seen(f, e);
        if (i % 2 == 0) {
            fdict_delete(f->d, e);
        } else {
            set_gen(f->d, e, i, 5);
        }
    }
    fdict_iter_fini(&it);
    for (int i = 0; i < n; i++) {
        assert_int_equal(f->seen[i], 1);
        if (i % 2 == 0) {
            assert_null(find(f->d, i));
        } else {
            assert_value(find(f->d, i), i, 5);
        }
    }
    /* deleting everything while walking empties the dict */
    fdict_iter_init(&it, f->d);
    while ((e = fdict_iter_next(&it)) != NULL) {
        fdict_delete(f->d, e);
    }
    fdict_iter_fini(&it);
    assert_int_equal(fdict_size(f->d), 0);
    assert_memory_counted(f);
}

static void test_a_live_iterator_pauses_rehashing_until_it_ends(void **state)
{
    struct fixture *f = *state;
    int n = fill_until_rehashing(f->d, 1000), added = 0;
    size_t buckets = fdict_buckets(f->d);
    struct fdict_iter it;
    struct fentry *e;

    fdict_iter_init(&it, f->d);
    while ((e = fdict_iter_next(&it)) != NULL) {
        count_seen(f, e);
        assert_true(fdict_rehash(f->d, 1000));
        assert_non_null(find(f->d, number_of(e)));
        if (added < 100) {
            add(f->d, MAX_KEYS - 1 - added++); /* may or may not be returned */
        }
        assert_true(fdict_is_rehashing(f->d));
        assert_int_equal(fdict_buckets(f->d), buckets);
    }
    fdict_iter_fini(&it);
    fdict_iter_fini(&it); /* idempotent */
    for (int i = 0; i < n; i++) {
        assert_int_equal(f->seen[i], 1);
    }
    rehash_all(f->d);
    assert_false(fdict_is_rehashing(f->d));
    assert_int_equal(fdict_size(f->d), n + added);
}

static void test_random_returns_only_present_fields_and_reaches_all_of_them(void **state)
{
    struct fixture *f = *state;
    uint64_t rnd = 1;

    for (int i = 0; i < 64; i++) {
        add(f->d, i);
    }
    for (int i = 0; i < 32; i++) {
        del(f->d, 2 * i);
    }
    for (int t = 0; t < 8000; t++) {
        struct fentry *e = fdict_random(f->d, xorshift(&rnd));

        assert_non_null(e);
        assert_int_equal(number_of(e) % 2, 1);
        count_seen(f, e);
    }
    for (int i = 1; i < 64; i += 2) {
        assert_true(f->seen[i] > 0);
    }
}

static void test_random_works_in_the_middle_of_a_rehash(void **state)
{
    struct fixture *f = *state;
    uint64_t rnd = 7;

    fill_until_rehashing(f->d, 64);
    for (int t = 0; t < 2000; t++) {
        struct fentry *e = fdict_random(f->d, xorshift(&rnd));

        assert_non_null(e);
        assert_ptr_equal(find(f->d, number_of(e)), e);
    }
}

static void test_random_is_close_to_uniform_over_a_thousand_fields(void **state)
{
    struct fixture *f = *state;
    const int n = 1000, draws = 200000;
    const double mean = (double)draws / n;
    uint64_t rnd = 42;
    unsigned lo = ~0u, hi = 0;
    double chi2 = 0;

    for (int i = 0; i < n; i++) {
        add(f->d, i);
    }
    rehash_all(f->d); /* 1024 buckets: load 0.98, some chains longer than 4 */
    for (int t = 0; t < draws; t++) {
        count_seen(f, fdict_random(f->d, xorshift(&rnd)));
    }
    for (int i = 0; i < n; i++) {
        lo = f->seen[i] < lo ? f->seen[i] : lo;
        hi = f->seen[i] > hi ? f->seen[i] : hi;
        chi2 += (f->seen[i] - mean) * (f->seen[i] - mean) / mean;
    }
    /* uniform gives chi2 / n near 1; Redis's window of 15 consecutive
     * entries gives about 50 here, with counts from 0.4 to 1.7 times the
     * mean (measured) */
    assert_true(chi2 / n < 4);
    assert_true(lo > 0.4 * mean);
    assert_true(hi < 1.4 * mean);
}

static void test_random_is_uniform_in_a_sparse_table(void **state)
{
    struct fixture *f = *state;
    const int draws = 100000;
    const double mean = draws / 150.0;
    uint64_t rnd = 4242;
    double chi2 = 0;
    int n = 1000;

    for (int i = 0; i < n; i++) {
        add(f->d, i);
    }
    while (n > 150) {
        del(f->d, --n); /* 150 in 1024 buckets: load 0.15 */
    }
    rehash_all(f->d);
    assert_int_equal(fdict_buckets(f->d), 1024);
    for (int t = 0; t < draws; t++) {
        count_seen(f, fdict_random(f->d, xorshift(&rnd)));
    }
    for (int i = 0; i < n; i++) {
        chi2 += (f->seen[i] - mean) * (f->seen[i] - mean) / mean;
    }
    assert_true(chi2 / n < 2); /* the window gives about 150 */
}

static void check_sample(struct fixture *f, size_t want, uint64_t rnd)
{
    struct fentry *out[64];
    size_t got = fdict_sample(f->d, rnd, out, want);
    size_t expect = want < fdict_size(f->d) ? want : fdict_size(f->d);

    assert_int_equal(got, expect);
    for (size_t j = 0; j < got; j++) {
        int i = number_of(out[j]);

        assert_ptr_equal(find(f->d, i), out[j]);
        for (size_t k = 0; k < j; k++) {
            assert_ptr_not_equal(out[k], out[j]); /* distinct */
        }
        f->seen[i]++;
    }
}

static void test_sample_returns_distinct_present_fields_and_eventually_all(void **state)
{
    struct fixture *f = *state;
    uint64_t rnd = 99;
    int n;

    for (int i = 0; i < 40; i++) {
        add(f->d, i);
    }
    check_sample(f, 64, 1); /* more than there are: all of them */
    for (int i = 0; i < 40; i++) {
        assert_int_equal(f->seen[i], 1);
        f->seen[i] = 0;
    }
    fdict_clear(f->d);
    n = fill_until_rehashing(f->d, 500);
    for (int t = 0; t < 3000; t++) {
        check_sample(f, 1 + (size_t)(t % 20), xorshift(&rnd));
    }
    for (int i = 0; i < n; i++) {
        assert_true(f->seen[i] > 0);
    }
    /* a sparse table just over a tenth full still fills the sample */
    while (n > 200) {
        del(f->d, --n);
    }
    for (int t = 0; t < 200; t++) {
        check_sample(f, 50, xorshift(&rnd));
    }
}

static void test_aux_words_start_at_zero_and_survive_rehash_and_set_value(void **state)
{
    struct fixture *f = *state;
    const int n = 3000;
    struct fdict *plain = fdict_create(SEED, 0);

    assert_true(fdict_has_aux(f->d));
    for (int i = 0; i < n; i++) {
        struct fentry *e = add(f->d, i);

        add(plain, i);
        assert_int_equal(fdict_aux(e)->i, 0);
        fdict_aux(e)->i = i * 3;
    }
    for (int i = 0; i < n; i += 2) {
        struct fentry *e = set_gen(f->d, find(f->d, i), i, 9);

        assert_int_equal(fdict_aux(e)->i, i * 3);
        fdict_aux(e)->d = i + 0.5;
    }
    rehash_all(f->d);
    for (int i = 0; i < n; i++) {
        struct fentry *e = find(f->d, i);

        assert_value(e, i, i % 2 ? 0 : 9);
        if (i % 2) {
            assert_int_equal(fdict_aux(e)->i, i * 3);
        } else {
            assert_true(fdict_aux(e)->d == i + 0.5);
        }
    }
    for (int i = 0; i < n; i += 2) {
        set_gen(plain, find(plain, i), i, 9);
    }
    rehash_all(plain);
    assert_true(fdict_memory(f->d) > fdict_memory(plain)); /* aux costs bytes */
    fdict_destroy(plain);
    assert_memory_counted(f);
}

static void test_try_forms_refuse_lengths_beyond_the_entry_format_and_change_nothing(void **state)
{
    struct fixture *f = *state;
    const size_t huge = (size_t)FDICT_MAX_LEN + 1;
    bool existed = true;
    struct fentry *e = fdict_try_add(f->d, "a", 1, "v", 1), *same;
    size_t mem;

    assert_non_null(e);
    mem = fdict_memory(f->d);
    /* the byte ranges are never read: ASan would see the overrun */
    assert_null(fdict_try_add(f->d, "b", huge, "v", 1));
    assert_null(fdict_try_add(f->d, "b", 1, "v", huge));
    assert_null(fdict_try_find_or_add(f->d, "a", huge, "v", 1, &existed));
    assert_false(existed);
    assert_null(fdict_try_set_value(f->d, e, "v", huge));
    assert_int_equal(fdict_size(f->d), 1);
    assert_int_equal(fdict_memory(f->d), mem);
    assert_ptr_equal(fdict_find(f->d, "a", 1), e);
    assert_memory_equal(fdict_value(e), "v", 1);
    same = fdict_try_set_value(f->d, e, "w", 1);
    assert_ptr_equal(same, e);
    e = fdict_try_set_value(f->d, e, "longer", 6);
    assert_non_null(e);
    assert_memory_equal(fdict_value(e), "longer", 6);
    assert_memory_counted(f);
}

static void test_clear_removes_every_field_and_the_dict_is_reusable(void **state)
{
    struct fixture *f = *state;

    fill_until_rehashing(f->d, 1000);
    fdict_clear(f->d);
    assert_int_equal(fdict_size(f->d), 0);
    assert_int_equal(fdict_buckets(f->d), 0);
    assert_false(fdict_is_rehashing(f->d));
    assert_null(find(f->d, 5));
    assert_memory_counted(f);
    add(f->d, 5);
    assert_non_null(find(f->d, 5));
    assert_int_equal(fdict_size(f->d), 1);
    assert_memory_counted(f);
}

/* The randomized sequence's reference model: key i is present with value
 * generation gen[i]. */
#define MODEL_KEYS 2000

struct model {
    bool present[MODEL_KEYS];
    unsigned gen[MODEL_KEYS];
    int size;
};

static void model_check(struct fixture *f, const struct model *m)
{
    struct fdict_iter it;
    struct fentry *e;

    assert_int_equal(fdict_size(f->d), m->size);
    assert_memory_counted(f);
    memset(f->seen, 0, MODEL_KEYS * sizeof(*f->seen));
    fdict_iter_init(&it, f->d);
    while ((e = fdict_iter_next(&it)) != NULL) {
        int i = number_of(e);

        count_seen(f, e);
        assert_true(i < MODEL_KEYS && m->present[i]);
        assert_value(e, i, m->gen[i]);
        if (fdict_has_aux(f->d)) {
            assert_int_equal(fdict_aux(e)->i, i);
        }
    }
    fdict_iter_fini(&it);
    for (int i = 0; i < MODEL_KEYS; i++) {
        assert_int_equal(f->seen[i], m->present[i] ? 1 : 0);
    }
}

static void model_add(struct fixture *f, struct model *m, int i, unsigned gen, bool use_find_or_add)
{
    char k[32], v[64];
    size_t kn = key_of(k, sizeof(k), i), vn = value_of(v, i, gen);
    bool existed = false;
    struct fentry *e;

    if (use_find_or_add) {
        e = fdict_find_or_add(f->d, k, kn, v, vn, &existed);
        assert_true(existed == m->present[i]);
    } else if (m->present[i]) {
        return;
    } else {
        e = fdict_add(f->d, k, kn, v, vn);
    }
    if (!existed) {
        if (fdict_has_aux(f->d)) {
            fdict_aux(e)->i = i;
        }
        m->present[i] = true;
        m->gen[i] = gen;
        m->size++;
    }
}

static void model_step(struct fixture *f, struct model *m, uint64_t r, bool growing)
{
    /* cumulative odds in percent of add, set_value, delete, delete_key; the
     * rest is an explicit rehash. Growing settles near 1540 keys, shrinking
     * near 80. */
    static const unsigned odds[2][4] = { { 3, 23, 63, 98 }, { 60, 80, 90, 98 } };
    const unsigned *p = odds[growing];
    int i = (int)((r >> 8) % MODEL_KEYS);
    unsigned op = (unsigned)(r % 100), gen = (unsigned)(r >> 40) % 50;
    struct fentry *e = find(f->d, i);

    assert_true((e != NULL) == m->present[i]);
    if (e) {
        assert_value(e, i, m->gen[i]);
    }
    if (op < p[0]) {
        model_add(f, m, i, gen, op % 2);
    } else if (op < p[1] && e) {
        e = set_gen(f->d, e, i, gen);
        m->gen[i] = gen;
        assert_ptr_equal(find(f->d, i), e);
    } else if (op < p[2] && e) {
        fdict_delete(f->d, e);
        m->present[i] = false;
        m->size--;
    } else if (op < p[3]) {
        char k[32];
        size_t kn = key_of(k, sizeof(k), i);

        assert_true(fdict_delete_key(f->d, k, kn) == m->present[i]);
        m->size -= m->present[i];
        m->present[i] = false;
    } else {
        fdict_rehash(f->d, 1 + (int)(r >> 60));
    }
}

static void run_model(struct fixture *f)
{
    struct model *m = calloc(1, sizeof(*m));
    uint64_t rnd = 0x2545F4914F6CDD1DULL;
    size_t min_buckets = ~(size_t)0, max_buckets = 0;
    int grows = 0, shrinks = 0;

    for (int step = 0; step < 120000; step++) {
        size_t before = fdict_buckets(f->d);
        bool was_rehashing = fdict_is_rehashing(f->d);

        model_step(f, m, xorshift(&rnd), (step / 15000) % 2 == 0);
        if (!was_rehashing && fdict_is_rehashing(f->d)) {
            grows += fdict_buckets(f->d) > 2 * before;
            shrinks += fdict_buckets(f->d) < 2 * before;
        }
        if (step % 5000 == 4999) {
            model_check(f, m);
        }
        min_buckets = fdict_buckets(f->d) < min_buckets ? fdict_buckets(f->d) : min_buckets;
        max_buckets = fdict_buckets(f->d) > max_buckets ? fdict_buckets(f->d) : max_buckets;
    }
    model_check(f, m);
    /* the sequence did make the table grow and shrink several times */
    assert_true(grows >= 4 && shrinks >= 2);
    assert_true(max_buckets >= 2048 && min_buckets <= 256);
    free(m);
}

static void test_a_random_sequence_of_operations_matches_a_reference_model(void **state)
{
    run_model(*state);
}

static void test_a_random_sequence_matches_the_model_in_a_dict_with_aux_words(void **state)
{
    run_model(*state);
}

#define TEST(name)     cmocka_unit_test_setup_teardown(name, setup, teardown)
#define TEST_AUX(name) cmocka_unit_test_setup_teardown(name, setup_aux, teardown)

int main(void)
{
    const struct CMUnitTest tests[] = {
        TEST(test_find_returns_each_added_field_with_its_value_across_many_resizes),
        TEST(test_an_empty_dict_finds_nothing_and_holds_only_its_struct),
        TEST(test_empty_fields_empty_values_and_binary_bytes_are_told_apart),
        TEST(test_find_or_add_adds_once_then_returns_the_existing_entry_untouched),
        TEST(test_the_seed_decides_where_fields_land),
        TEST(test_the_table_starts_with_four_buckets_and_grows_at_load_factor_one),
        TEST(test_the_table_shrinks_when_less_than_a_tenth_full),
        TEST(test_deletes_during_a_growing_rehash_keep_every_other_field_findable),
        TEST(test_deletes_and_set_value_during_a_shrinking_rehash_keep_the_rest_findable),
        TEST(test_set_value_in_place_keeps_the_entry_and_a_new_length_relinks_it),
        TEST(test_expand_sizes_the_table_so_that_a_bulk_build_never_resizes),
        TEST(test_expand_of_a_filled_table_resizes_incrementally_and_waits_for_a_running_one),
        TEST(test_scan_returns_every_field_exactly_once_when_nothing_changes),
        TEST(test_scan_returns_every_field_exactly_once_in_the_middle_of_a_growing_rehash),
        TEST(test_scan_returns_every_field_exactly_once_in_the_middle_of_a_shrinking_rehash),
        TEST(test_scan_returns_every_field_present_for_the_whole_scan_while_growing),
        TEST(test_scan_returns_every_field_present_for_the_whole_scan_while_shrinking),
        TEST(test_scan_survives_mixed_adds_and_deletes_between_steps),
        TEST(test_the_iterator_returns_every_field_exactly_once_even_mid_rehash),
        TEST(test_the_iterator_tolerates_deleting_or_rewriting_the_field_it_returned),
        TEST(test_a_live_iterator_pauses_rehashing_until_it_ends),
        TEST(test_random_returns_only_present_fields_and_reaches_all_of_them),
        TEST(test_random_works_in_the_middle_of_a_rehash),
        TEST(test_random_is_close_to_uniform_over_a_thousand_fields),
        TEST(test_random_is_uniform_in_a_sparse_table),
        TEST(test_sample_returns_distinct_present_fields_and_eventually_all),
        TEST_AUX(test_aux_words_start_at_zero_and_survive_rehash_and_set_value),
        TEST(test_try_forms_refuse_lengths_beyond_the_entry_format_and_change_nothing),
        TEST(test_clear_removes_every_field_and_the_dict_is_reusable),
        TEST(test_a_random_sequence_of_operations_matches_a_reference_model),
        TEST_AUX(test_a_random_sequence_matches_the_model_in_a_dict_with_aux_words),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
