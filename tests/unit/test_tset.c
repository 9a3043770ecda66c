/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * test_tset.c: the set type through its public header: each encoding and
 * each conversion at its exact threshold (entries, member length, the
 * widest integer of an intset), canonical integers, no conversion back,
 * membership, random members, iteration and scan, the set algebra, memory,
 * dump/load round trips (the encoding picked from the limits) and corrupt
 * dumps, and long random sequences (fixed seeds) checked against a plain
 * model under limits that keep sets compact, limits that convert them
 * often, and the defaults.
 */
#include "shardis/kval.h"
#include "shardis/tset.h"

#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

static const struct kval_limits default_limits = {
    .hash_max_listpack_entries = 128,
    .hash_max_listpack_value = 64,
    .list_max_listpack_size = -2,
    .set_max_intset_entries = 512,
    .set_max_listpack_entries = 128,
    .set_max_listpack_value = 64,
    .zset_max_listpack_entries = 128,
    .zset_max_listpack_value = 64,
};

struct fixture {
    struct kval v;
    struct kval_limits lim;
    uint64_t rnd;
};

static int setup(void **state)
{
    struct fixture *f = calloc(1, sizeof(*f));

    f->lim = default_limits;
    f->rnd = 0x5e7;
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    struct fixture *f = *state;

    kval_clear(&f->v);
    free(f);
    return 0;
}

static uint64_t rnd(uint64_t *s)
{
    uint64_t z = (*s += 0x9E3779B97F4A7C15ULL);

    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
    return z ^ (z >> 31);
}

static bool add(struct fixture *f, const char *m)
{
    bool added = false;

    assert_int_equal(tset_try_add(&f->v, m, strlen(m), &f->lim, &f->rnd, &added), 0);
    return added;
}

static bool add_int(struct fixture *f, long long x)
{
    char buf[32];

    snprintf(buf, sizeof(buf), "%lld", x);
    return add(f, buf);
}

static bool has(struct fixture *f, const char *m)
{
    return tset_has(&f->v, m, strlen(m));
}

static bool rem(struct fixture *f, const char *m)
{
    return tset_remove(&f->v, m, strlen(m));
}

/* A string member of exactly len bytes ('a' + i, not an integer). */
static char *member_of_len(size_t len, int i)
{
    char *m = malloc(len + 1);

    memset(m, 'a' + i % 26, len);
    m[len] = '\0';
    return m;
}

/* ---- encodings and conversions ---- */

static void test_an_integer_starts_an_intset_and_a_string_a_listpack(void **state)
{
    struct fixture *f = *state;
    struct kval s = { 0 };
    bool added;

    assert_true(add(f, "12"));
    assert_int_equal(f->v.type, KVAL_SET);
    assert_int_equal(f->v.enc, KVAL_ENC_INTSET);
    assert_false(add(f, "12"));
    assert_int_equal(tset_size(&f->v), 1);
    assert_int_equal(tset_try_add(&s, "x", 1, &f->lim, &f->rnd, &added), 0);
    assert_true(added);
    assert_int_equal(s.enc, KVAL_ENC_LISTPACK);
    assert_int_equal(tset_size(&s), 1);
    kval_clear(&s);
}

static void test_only_canonical_integers_stay_in_an_intset(void **state)
{
    struct fixture *f = *state;
    static const char *const ints[] = { "0", "-1", "9223372036854775807", "-9223372036854775808",
                                        "42" };
    static const char *const strs[] = { "007", "-0", "+1", " 1", "1 ", "9223372036854775808", "" };

    for (size_t i = 0; i < SH_ARRAY_LEN(ints); i++) {
        assert_true(add(f, ints[i]));
    }
    assert_int_equal(f->v.enc, KVAL_ENC_INTSET);
    for (size_t i = 0; i < SH_ARRAY_LEN(strs); i++) {
        assert_false(has(f, strs[i]));
        assert_false(rem(f, strs[i]));
    }
    assert_true(add(f, "007"));
    assert_int_equal(f->v.enc, KVAL_ENC_LISTPACK);
    for (size_t i = 1; i < SH_ARRAY_LEN(strs); i++) {
        assert_true(add(f, strs[i]));
    }
    assert_int_equal(tset_size(&f->v), SH_ARRAY_LEN(ints) + SH_ARRAY_LEN(strs));
    for (size_t i = 0; i < SH_ARRAY_LEN(ints); i++) {
        assert_true(has(f, ints[i]));
    }
    assert_true(has(f, "007"));
    assert_false(has(f, "7"));
}

static void test_intset_converts_past_its_entry_limit_exactly(void **state)
{
    struct fixture *f = *state;

    for (int i = 0; i < 512; i++) {
        assert_true(add_int(f, i * 3 - 700));
    }
    assert_int_equal(f->v.enc, KVAL_ENC_INTSET);
    assert_false(add_int(f, -700)); /* a duplicate does not convert */
    assert_int_equal(f->v.enc, KVAL_ENC_INTSET);
    assert_true(add_int(f, 100000));
    assert_int_equal(f->v.enc, KVAL_ENC_HASHTABLE); /* 513 > listpack's 128 */
    assert_int_equal(tset_size(&f->v), 513);
    for (int i = 0; i < 512; i++) {
        char buf[16];

        snprintf(buf, sizeof(buf), "%d", i * 3 - 700);
        assert_true(has(f, buf));
    }
}

static void test_a_full_intset_goes_to_a_listpack_when_that_fits(void **state)
{
    struct fixture *f = *state;

    f->lim.set_max_intset_entries = 4;
    f->lim.set_max_listpack_entries = 8;
    for (int i = 0; i < 4; i++) {
        add_int(f, i);
    }
    assert_int_equal(f->v.enc, KVAL_ENC_INTSET);
    add_int(f, 4);
    assert_int_equal(f->v.enc, KVAL_ENC_LISTPACK);
    for (int i = 5; i < 8; i++) {
        add_int(f, i);
    }
    assert_int_equal(f->v.enc, KVAL_ENC_LISTPACK);
    add_int(f, 8);
    assert_int_equal(f->v.enc, KVAL_ENC_HASHTABLE);
    assert_int_equal(tset_size(&f->v), 9);
}

static void test_a_string_turns_an_intset_into_a_listpack_up_to_its_limit(void **state)
{
    struct fixture *f = *state;
    struct fixture g = { .lim = default_limits, .rnd = 9 };

    for (int i = 0; i < 127; i++) {
        add_int(f, i);
        add_int(&g, i);
    }
    add_int(&g, 127);
    assert_true(add(f, "x"));
    assert_int_equal(f->v.enc, KVAL_ENC_LISTPACK); /* 128 members */
    assert_true(add(&g, "x"));
    assert_int_equal(g.v.enc, KVAL_ENC_HASHTABLE); /* 129 members */
    assert_int_equal(tset_size(&f->v), 128);
    assert_int_equal(tset_size(&g.v), 129);
    assert_true(has(f, "126") && has(f, "x") && has(&g, "127") && has(&g, "x"));
    kval_clear(&g.v);
}

static void test_the_widest_integer_of_an_intset_must_fit_a_listpack_value(void **state)
{
    struct fixture *f = *state;
    struct fixture g = { .lim = default_limits, .rnd = 9 };

    f->lim.set_max_listpack_value = 4;
    g.lim.set_max_listpack_value = 4;
    add_int(f, -999); /* 4 bytes */
    add_int(f, 9999);
    assert_true(add(f, "abcd"));
    assert_int_equal(f->v.enc, KVAL_ENC_LISTPACK);
    add_int(&g, 10000); /* 5 bytes */
    assert_true(add(&g, "a"));
    assert_int_equal(g.v.enc, KVAL_ENC_HASHTABLE);
    kval_clear(&g.v);
    add_int(&g, 1);
    assert_true(add(&g, "abcde")); /* the new member itself too long */
    assert_int_equal(g.v.enc, KVAL_ENC_HASHTABLE);
    kval_clear(&g.v);
}

static void test_listpack_converts_past_entries_and_value_length_exactly(void **state)
{
    struct fixture *f = *state;
    struct fixture g = { .lim = default_limits, .rnd = 9 };
    char *m64 = member_of_len(64, 0), *m65 = member_of_len(65, 1);
    char name[16];

    for (int i = 0; i < 128; i++) {
        snprintf(name, sizeof(name), "m%d", i);
        assert_true(add(f, name));
    }
    assert_int_equal(f->v.enc, KVAL_ENC_LISTPACK);
    assert_false(add(f, "m0"));
    assert_int_equal(f->v.enc, KVAL_ENC_LISTPACK);
    assert_true(add(f, "m128"));
    assert_int_equal(f->v.enc, KVAL_ENC_HASHTABLE);
    assert_true(add(&g, m64));
    assert_int_equal(g.v.enc, KVAL_ENC_LISTPACK);
    assert_true(add(&g, m65));
    assert_int_equal(g.v.enc, KVAL_ENC_HASHTABLE);
    assert_true(has(&g, m64) && has(&g, m65));
    kval_clear(&g.v);
    assert_true(add(&g, m65)); /* a first member too long */
    assert_int_equal(g.v.enc, KVAL_ENC_HASHTABLE);
    kval_clear(&g.v);
    free(m64);
    free(m65);
}

static void test_sets_never_convert_back(void **state)
{
    struct fixture *f = *state;
    char name[16];

    for (int i = 0; i < 200; i++) {
        snprintf(name, sizeof(name), "m%d", i);
        add(f, name);
    }
    for (int i = 0; i < 199; i++) {
        snprintf(name, sizeof(name), "m%d", i);
        assert_true(rem(f, name));
        assert_false(rem(f, name));
    }
    assert_int_equal(f->v.enc, KVAL_ENC_HASHTABLE);
    assert_int_equal(tset_size(&f->v), 1);
    assert_true(add(f, "1"));
    assert_int_equal(f->v.enc, KVAL_ENC_HASHTABLE);
    kval_clear(&f->v);
    add(f, "1");
    add(f, "x");
    assert_true(rem(f, "x"));
    assert_int_equal(f->v.enc, KVAL_ENC_LISTPACK); /* all integers again, still a listpack */
}

static void test_zero_limits_send_every_set_to_a_hashtable(void **state)
{
    struct fixture *f = *state;
    struct fixture g = { .lim = default_limits, .rnd = 9 };

    f->lim.set_max_intset_entries = 0;
    f->lim.set_max_listpack_entries = 0;
    g.lim = f->lim;
    assert_true(add(f, "1"));
    assert_int_equal(f->v.enc, KVAL_ENC_HASHTABLE);
    assert_true(add(&g, "x"));
    assert_int_equal(g.v.enc, KVAL_ENC_HASHTABLE);
    assert_true(has(f, "1") && has(&g, "x"));
    kval_clear(&g.v);
}

/* ---- random, iteration, scan ---- */

static void fill_encoding(struct fixture *f, int enc, int n)
{
    char name[16];

    for (int i = 0; i < n; i++) {
        if (enc == KVAL_ENC_INTSET) {
            snprintf(name, sizeof(name), "%d", i);
        } else {
            snprintf(name, sizeof(name), "m%d", i);
        }
        add(f, name);
    }
    if (enc == KVAL_ENC_HASHTABLE) {
        for (int i = n; i < 200; i++) {
            snprintf(name, sizeof(name), "m%d", i);
            add(f, name);
        }
        for (int i = n; i < 200; i++) {
            snprintf(name, sizeof(name), "m%d", i);
            rem(f, name);
        }
    }
    assert_int_equal(f->v.enc, enc);
    assert_int_equal(tset_size(&f->v), (size_t)n);
}

static void test_random_members_are_members_and_cover_small_sets(void **state)
{
    static const int encs[] = { KVAL_ENC_INTSET, KVAL_ENC_LISTPACK, KVAL_ENC_HASHTABLE };
    struct fixture *f = *state;

    for (size_t e = 0; e < SH_ARRAY_LEN(encs); e++) {
        bool seen[10] = { false };
        char buf[TSET_INTBUF];

        kval_clear(&f->v);
        fill_encoding(f, encs[e], 10);
        for (int i = 0; i < 2000; i++) {
            struct sh_slice m = tset_random(&f->v, rnd(&f->rnd), buf);
            char name[16];
            int idx;

            assert_true(m.len > 0 && m.len < sizeof(name));
            memcpy(name, m.ptr, m.len);
            name[m.len] = '\0';
            idx = atoi(name[0] == 'm' ? name + 1 : name);

            assert_true(tset_has(&f->v, m.ptr, m.len));
            assert_true(idx >= 0 && idx < 10);
            seen[idx] = true;
        }
        for (int i = 0; i < 10; i++) {
            assert_true(seen[i]);
        }
    }
}

static void test_intset_iterates_in_ascending_order(void **state)
{
    struct fixture *f = *state;
    static const long long vals[] = { 5, -3, 100000, -9223372036854775807LL - 1, 7 };
    static const char *const sorted[] = { "-9223372036854775808", "-3", "5", "7", "100000" };
    struct tset_iter it;
    struct sh_slice m;
    size_t i = 0;

    for (size_t k = 0; k < SH_ARRAY_LEN(vals); k++) {
        add_int(f, vals[k]);
    }
    tset_iter_init(&it, &f->v);
    while (tset_iter_next(&it, &m)) {
        assert_true(i < SH_ARRAY_LEN(sorted));
        assert_int_equal(m.len, strlen(sorted[i]));
        assert_memory_equal(m.ptr, sorted[i], m.len);
        i++;
    }
    tset_iter_fini(&it);
    tset_iter_fini(&it);
    assert_int_equal(i, SH_ARRAY_LEN(sorted));
    kval_clear(&f->v);
    assert_int_equal(tset_size(&f->v), 0);
    tset_iter_init(&it, &f->v); /* KVAL_NONE walks as an empty set */
    assert_false(tset_iter_next(&it, &m));
    tset_iter_fini(&it);
}

struct seen {
    int count[400];
    int calls;
};

static void note_member(void *arg, const char *p, size_t len)
{
    struct seen *s = arg;
    char buf[16];

    assert_true(len > 1 && len < sizeof(buf));
    memcpy(buf, p + 1, len - 1);
    buf[len - 1] = '\0';
    s->count[atoi(buf)]++;
    s->calls++;
}

static void test_scan_returns_every_member_across_resizes(void **state)
{
    struct fixture *f = *state;
    struct seen s = { { 0 }, 0 };
    uint64_t cursor = 0;
    char name[16];
    int steps = 0;

    fill_encoding(f, KVAL_ENC_LISTPACK, 50);
    assert_int_equal(tset_scan(&f->v, 12345, note_member, &s), 0);
    assert_int_equal(s.calls, 50);
    memset(&s, 0, sizeof(s));
    kval_clear(&f->v);
    fill_encoding(f, KVAL_ENC_HASHTABLE, 150);
    do {
        cursor = tset_scan(&f->v, cursor, note_member, &s);
        /* grow while scanning: old members must still all be seen */
        if (++steps % 4 == 0 && steps < 200) {
            snprintf(name, sizeof(name), "m%d", 150 + steps);
            add(f, name);
        }
    } while (cursor != 0);
    for (int i = 0; i < 150; i++) {
        assert_true(s.count[i] >= 1);
    }
}

/* ---- algebra ---- */

static void put_count(void *arg, const char *p, size_t len)
{
    struct seen *s = arg;

    (void)p;
    (void)len;
    s->calls++;
}

static void build(struct kval *v, const struct kval_limits *lim, uint64_t *r, int from, int to,
                  int step, bool strings)
{
    char name[16];

    for (int i = from; i < to; i += step) {
        snprintf(name, sizeof(name), strings ? "m%d" : "%d", i);
        assert_int_equal(tset_try_add(v, name, strlen(name), lim, r, NULL), 0);
    }
}

static void test_inter_diff_and_add_all_match_arithmetic(void **state)
{
    struct fixture *f = *state;
    struct kval a = { 0 }, b = { 0 }, c = { 0 }, u = { 0 };
    struct kval *sets[3] = { &a, &b, &c };
    struct seen s = { { 0 }, 0 };

    build(&a, &f->lim, &f->rnd, 0, 600, 1, false); /* 0..599: hashtable */
    build(&b, &f->lim, &f->rnd, 0, 600, 2, false); /* evens: intset */
    build(&c, &f->lim, &f->rnd, 0, 600, 3, false); /* multiples of 3: intset */
    assert_int_equal(tset_inter(sets, 3, 0, put_count, &s), 100);
    assert_int_equal(tset_inter(sets, 3, 7, put_count, &s), 7);
    assert_int_equal(tset_diff(sets, 3, put_count, &s), 200); /* neither 2 nor 3 divides */
    sets[1] = NULL;
    assert_int_equal(tset_diff(sets, 3, put_count, &s), 400);
    sets[1] = &a;
    assert_int_equal(tset_diff(sets, 2, put_count, &s), 0);
    assert_int_equal(tset_inter(sets, 2, 0, put_count, &s), 600);
    assert_int_equal(tset_try_add_all(&u, &b, &f->lim, &f->rnd), 0);
    assert_int_equal(tset_try_add_all(&u, &c, &f->lim, &f->rnd), 0);
    assert_int_equal(tset_size(&u), 400);
    assert_int_equal(u.enc, KVAL_ENC_INTSET);
    /* Redis's second SDIFF algorithm gives what the first does */
    assert_int_equal(tset_remove_all(&u, &c), 200);
    assert_int_equal(tset_size(&u), 200);
    assert_int_equal(tset_remove_all(&u, &b), 200);
    assert_int_equal(tset_size(&u), 0);
    assert_int_equal(tset_remove_all(&u, &a), 0);
    kval_clear(&a);
    kval_clear(&b);
    kval_clear(&c);
    kval_clear(&u);
}

static void test_op_computes_the_store_results_by_either_diff_algorithm(void **state)
{
    struct fixture *f = *state;
    struct kval big = { 0 }, small = { 0 }, odd = { 0 }, out = { 0 };
    struct kval *sets[3] = { &big, &small, &odd };

    build(&big, &f->lim, &f->rnd, 0, 3000, 1, true);
    build(&small, &f->lim, &f->rnd, 0, 20, 1, true);
    build(&odd, &f->lim, &f->rnd, 1, 40, 2, true);
    /* 3000 * 3 / 2 against 3000 + 20 + 20: Redis's second algorithm */
    assert_true(tset_diff_by_removal(sets, 3));
    assert_int_equal(tset_op(TSET_DIFF, sets, 3, &f->lim, &f->rnd, &out), 0);
    assert_int_equal(tset_size(&out), 3000 - 30);
    assert_true(tset_has(&out, "m39", 3) == false && tset_has(&out, "m38", 3));
    assert_int_equal(out.enc, KVAL_ENC_HASHTABLE);
    kval_clear(&out);
    sets[0] = &small;
    sets[1] = &big;
    assert_false(tset_diff_by_removal(sets, 2));
    assert_int_equal(tset_op(TSET_DIFF, sets, 2, &f->lim, &f->rnd, &out), 0);
    assert_int_equal(out.type, KVAL_NONE); /* empty: left KVAL_NONE */
    sets[1] = &odd;
    assert_int_equal(tset_op(TSET_DIFF, sets, 2, &f->lim, &f->rnd, &out), 0);
    assert_int_equal(tset_size(&out), 10);
    assert_int_equal(out.enc, KVAL_ENC_LISTPACK);
    kval_clear(&out);
    assert_int_equal(tset_op(TSET_INTER, sets, 2, &f->lim, &f->rnd, &out), 0);
    assert_int_equal(tset_size(&out), 10);
    kval_clear(&out);
    sets[1] = NULL; /* an absent key */
    assert_int_equal(tset_op(TSET_INTER, sets, 2, &f->lim, &f->rnd, &out), 0);
    assert_int_equal(out.type, KVAL_NONE);
    assert_int_equal(tset_op(TSET_UNION, sets, 2, &f->lim, &f->rnd, &out), 0);
    assert_int_equal(tset_size(&out), 20);
    kval_clear(&out);
    sets[0] = NULL;
    sets[1] = &odd;
    assert_int_equal(tset_op(TSET_DIFF, sets, 2, &f->lim, &f->rnd, &out), 0);
    assert_int_equal(out.type, KVAL_NONE);
    assert_int_equal(tset_op(TSET_UNION, sets, 2, &f->lim, &f->rnd, &out), 0);
    assert_int_equal(tset_size(&out), 20);
    kval_clear(&out);
    sets[0] = &big;
    sets[1] = &small;
    sets[2] = &big; /* the same set again: empty, by the first algorithm */
    assert_false(tset_diff_by_removal(sets, 3));
    assert_int_equal(tset_op(TSET_DIFF, sets, 3, &f->lim, &f->rnd, &out), 0);
    assert_int_equal(out.type, KVAL_NONE);
    kval_clear(&big);
    kval_clear(&small);
    kval_clear(&odd);
}

/* ---- memory, dump and load ---- */

static void test_memory_counts_what_the_encoding_holds(void **state)
{
    struct fixture *f = *state;
    size_t small, big;

    add_int(f, 1);
    small = tset_memory(&f->v);
    assert_true(small >= 8);
    fill_encoding(f, KVAL_ENC_INTSET, 100);
    assert_true(tset_memory(&f->v) >= 8 + 100 * 2);
    kval_clear(&f->v);
    fill_encoding(f, KVAL_ENC_HASHTABLE, 150);
    big = tset_memory(&f->v);
    /* each entry: a 16-byte header and its bytes, plus the buckets */
    assert_true(big >= 150 * (16 + 2) + 256 * sizeof(void *));
    assert_true(big < 150 * 64 + 1024 * sizeof(void *));
}

/* Dumps f's set and loads it under lim; checks the members and returns the
 * loaded encoding. */
static int round_trip(struct fixture *f, const struct kval_limits *lim)
{
    struct kval w = { 0 };
    struct tset_iter it;
    struct sh_slice m;
    size_t len;
    char *p = tset_dump(&f->v, &len);
    int enc;

    assert_int_equal(tset_load(&w, p, len, lim, &f->rnd), 0);
    assert_int_equal(tset_size(&w), tset_size(&f->v));
    tset_iter_init(&it, &f->v);
    while (tset_iter_next(&it, &m)) {
        assert_true(tset_has(&w, m.ptr, m.len));
    }
    tset_iter_fini(&it);
    enc = w.enc;
    kval_clear(&w);
    assert_int_equal(tset_restore(&w, p, len, lim), 0);
    assert_int_equal(w.enc, enc);
    assert_int_equal(tset_size(&w), tset_size(&f->v));
    kval_clear(&w);
    sh_free(p);
    return enc;
}

static void test_dump_and_load_round_trip_in_the_encoding_of_the_limits(void **state)
{
    struct fixture *f = *state;
    struct kval_limits tiny = default_limits;

    tiny.set_max_intset_entries = 2;
    tiny.set_max_listpack_entries = 2;
    fill_encoding(f, KVAL_ENC_INTSET, 100);
    assert_int_equal(round_trip(f, &default_limits), KVAL_ENC_INTSET);
    assert_int_equal(round_trip(f, &tiny), KVAL_ENC_HASHTABLE);
    kval_clear(&f->v);
    fill_encoding(f, KVAL_ENC_LISTPACK, 100);
    assert_int_equal(round_trip(f, &default_limits), KVAL_ENC_LISTPACK);
    assert_int_equal(round_trip(f, &tiny), KVAL_ENC_HASHTABLE);
    kval_clear(&f->v);
    fill_encoding(f, KVAL_ENC_HASHTABLE, 100);
    assert_int_equal(round_trip(f, &default_limits), KVAL_ENC_LISTPACK);
    kval_clear(&f->v);
    fill_encoding(f, KVAL_ENC_HASHTABLE, 3000);
    assert_int_equal(round_trip(f, &default_limits), KVAL_ENC_HASHTABLE);
}

static void test_load_rejects_corrupt_and_empty_dumps(void **state)
{
    struct fixture *f = *state;
    struct kval w = { 0 };
    struct kval_dump d;
    size_t len;
    char *p, *q;

    fill_encoding(f, KVAL_ENC_LISTPACK, 5);
    p = tset_dump(&f->v, &len);
    for (size_t cut = 0; cut < len; cut++) {
        assert_int_equal(tset_load(&w, p, cut, &f->lim, &f->rnd), -EINVAL);
        assert_int_equal(w.type, KVAL_NONE);
    }
    q = malloc(len + 1);
    memcpy(q, p, len);
    q[len] = 'x';
    assert_int_equal(tset_load(&w, q, len + 1, &f->lim, &f->rnd), -EINVAL);
    assert_int_equal(w.type, KVAL_NONE);
    q[0] = (char)0xff; /* a count far above what the bytes hold */
    q[1] = (char)0xff;
    assert_int_equal(tset_load(&w, q, len, &f->lim, &f->rnd), -EINVAL);
    assert_int_equal(w.type, KVAL_NONE);
    free(q);
    sh_free(p);
    kval_dump_init(&d);
    p = kval_dump_finish(&d, &len);
    assert_int_equal(tset_load(&w, p, len, &f->lim, &f->rnd), -EINVAL);
    assert_int_equal(w.type, KVAL_NONE);
    sh_free(p);
}

/* ---- random sequences against a model ---- */

#define UNIVERSE 700

struct model {
    bool in[UNIVERSE];
    size_t n;
    char names[UNIVERSE][24];
};

/* Member i of the universe: integers, strings of every length up to 70
 * (around the 64-byte value limit), and integer look-alikes. */
static void model_init(struct model *m)
{
    memset(m, 0, sizeof(*m));
    for (int i = 0; i < UNIVERSE; i++) {
        if (i % 3 == 0) {
            snprintf(m->names[i], sizeof(m->names[i]), "%d", i * 7919 - 100000);
        } else if (i % 3 == 1) {
            snprintf(m->names[i], sizeof(m->names[i]), "s%d", i);
        } else {
            snprintf(m->names[i], sizeof(m->names[i]), "0%d", i);
        }
    }
}

static void check_against_model(struct fixture *f, struct model *m, bool full)
{
    struct tset_iter it;
    struct sh_slice s;
    size_t walked = 0;

    if (f->v.type == KVAL_NONE) {
        assert_int_equal(m->n, 0);
        return;
    }
    assert_int_equal(tset_size(&f->v), m->n);
    if (!full) {
        return;
    }
    for (int i = 0; i < UNIVERSE; i++) {
        assert_int_equal(has(f, m->names[i]), m->in[i]);
    }
    tset_iter_init(&it, &f->v);
    while (tset_iter_next(&it, &s)) {
        walked++;
    }
    tset_iter_fini(&it);
    assert_int_equal(walked, m->n);
}

/* One random step; the set is dropped when it empties, as the keyspace
 * does. */
static void random_step(struct fixture *f, struct model *m, uint64_t *r)
{
    int i = (int)(rnd(r) % UNIVERSE);
    int op = (int)(rnd(r) % 10);
    char buf[TSET_INTBUF];

    if (op < 6) {
        assert_int_equal(add(f, m->names[i]), !m->in[i]);
        m->n += !m->in[i];
        m->in[i] = true;
    } else if (op < 9) {
        if (m->n) {
            assert_int_equal(rem(f, m->names[i]), m->in[i]);
        }
        m->n -= m->in[i];
        m->in[i] = false;
    } else if (m->n) {
        struct sh_slice s = tset_random(&f->v, rnd(r), buf);
        int j;

        for (j = 0; j < UNIVERSE; j++) {
            if (strlen(m->names[j]) == s.len && !memcmp(m->names[j], s.ptr, s.len)) {
                break;
            }
        }
        assert_true(j < UNIVERSE && m->in[j]);
        assert_true(tset_remove(&f->v, s.ptr, s.len));
        m->in[j] = false;
        m->n--;
    }
    if (m->n == 0 && f->v.type != KVAL_NONE) {
        kval_clear(&f->v);
    }
}

/* The encoding loading the model's members under lim gives. */
static int expected_enc(const struct model *m, const struct kval_limits *lim)
{
    bool all_int = true;
    size_t longest = 0;

    for (int i = 0; i < UNIVERSE; i++) {
        if (m->in[i]) {
            size_t len = strlen(m->names[i]);

            all_int = all_int && i % 3 == 0;
            longest = len > longest ? len : longest;
        }
    }
    if (all_int && (long long)m->n <= lim->set_max_intset_entries) {
        return KVAL_ENC_INTSET;
    }
    if ((long long)m->n <= lim->set_max_listpack_entries &&
        (long long)longest <= lim->set_max_listpack_value) {
        return KVAL_ENC_LISTPACK;
    }
    return KVAL_ENC_HASHTABLE;
}

static void run_random(struct fixture *f, uint64_t seed, int steps)
{
    struct model *m = malloc(sizeof(*m));
    uint64_t r = seed;

    model_init(m);
    for (int k = 0; k < steps; k++) {
        random_step(f, m, &r);
        check_against_model(f, m, k % 97 == 0);
    }
    check_against_model(f, m, true);
    if (m->n) {
        assert_int_equal(round_trip(f, &f->lim), expected_enc(m, &f->lim));
    }
    free(m);
}

static void test_random_operations_match_a_model_with_default_limits(void **state)
{
    struct fixture *f = *state;

    run_random(f, 1, 6000);
}

static void test_random_operations_match_a_model_in_compact_encodings(void **state)
{
    struct fixture *f = *state;

    f->lim.set_max_intset_entries = 100000;
    f->lim.set_max_listpack_entries = 100000;
    f->lim.set_max_listpack_value = 100;
    run_random(f, 2, 6000);
    assert_true(f->v.type == KVAL_NONE || f->v.enc != KVAL_ENC_HASHTABLE);
}

static void test_random_operations_match_a_model_under_tiny_limits(void **state)
{
    struct fixture *f = *state;

    f->lim.set_max_intset_entries = 3;
    f->lim.set_max_listpack_entries = 5;
    f->lim.set_max_listpack_value = 4;
    run_random(f, 3, 6000);
}

static void test_integer_only_sequences_stay_in_an_intset(void **state)
{
    struct fixture *f = *state;
    bool in[300] = { false };
    size_t n = 0;
    uint64_t r = 4;

    for (int k = 0; k < 3000; k++) {
        int i = (int)(rnd(&r) % 300);

        if (rnd(&r) % 3) {
            assert_int_equal(add_int(f, (long long)i * 1000003 - 150000000), !in[i]);
            n += !in[i];
            in[i] = true;
        } else if (n) {
            char buf[32];

            snprintf(buf, sizeof(buf), "%lld", (long long)i * 1000003 - 150000000);
            assert_int_equal(rem(f, buf), in[i]);
            n -= in[i];
            in[i] = false;
        }
        assert_int_equal(f->v.type == KVAL_NONE ? 0 : tset_size(&f->v), n);
        assert_true(f->v.type == KVAL_NONE || f->v.enc == KVAL_ENC_INTSET);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_an_integer_starts_an_intset_and_a_string_a_listpack,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(test_only_canonical_integers_stay_in_an_intset, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_intset_converts_past_its_entry_limit_exactly, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_a_full_intset_goes_to_a_listpack_when_that_fits, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(
                test_a_string_turns_an_intset_into_a_listpack_up_to_its_limit, setup, teardown),
        cmocka_unit_test_setup_teardown(
                test_the_widest_integer_of_an_intset_must_fit_a_listpack_value, setup, teardown),
        cmocka_unit_test_setup_teardown(
                test_listpack_converts_past_entries_and_value_length_exactly, setup, teardown),
        cmocka_unit_test_setup_teardown(test_sets_never_convert_back, setup, teardown),
        cmocka_unit_test_setup_teardown(test_zero_limits_send_every_set_to_a_hashtable, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_random_members_are_members_and_cover_small_sets, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_intset_iterates_in_ascending_order, setup, teardown),
        cmocka_unit_test_setup_teardown(test_scan_returns_every_member_across_resizes, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_inter_diff_and_add_all_match_arithmetic, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_op_computes_the_store_results_by_either_diff_algorithm,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(test_memory_counts_what_the_encoding_holds, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_dump_and_load_round_trip_in_the_encoding_of_the_limits,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(test_load_rejects_corrupt_and_empty_dumps, setup, teardown),
        cmocka_unit_test_setup_teardown(test_random_operations_match_a_model_with_default_limits,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(test_random_operations_match_a_model_in_compact_encodings,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(test_random_operations_match_a_model_under_tiny_limits,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(test_integer_only_sequences_stay_in_an_intset, setup,
                                        teardown),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
