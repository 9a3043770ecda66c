/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * test_tzset.c: the sorted set type through its public header: the listpack
 * and skiplist encodings and the conversion at the exact thresholds (entry
 * count and member length), ZADD's flags and their results, negative zero,
 * ranks, ranges by rank / score / lex with offsets, limits and reverse
 * walks, range deletes, pops from both ends, random members and samples,
 * scans, dump/restore round trips (and the encoding restore picks, and the
 * corrupt bytes it refuses), the memory figure against the allocator's own
 * count, and long random operation sequences compared with a sorted-array
 * model in both encodings (fixed seeds), with tzset_check along the way.
 */
#include "shardis/kval.h"
#include "shardis/tzset.h"
#include "shardis/zsl.h"

#include <errno.h>
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

struct fixture {
    struct kval v;
    struct kval_limits lim;
    uint64_t seed;
};

static int setup(void **state)
{
    struct fixture *f = calloc(1, sizeof(*f));

    f->lim.zset_max_listpack_entries = 128;
    f->lim.zset_max_listpack_value = 64;
    f->seed = 1;
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    struct fixture *f = *state;
    int err = f->v.type == KVAL_ZSET ? tzset_check(&f->v, NULL) : 0;

    if (f->v.type == KVAL_ZSET) {
        tzset_free(&f->v);
    }
    free(f);
    return err;
}

/* Starts f->v as a new value for a first member of mlen bytes. */
static void start(struct fixture *f, size_t mlen)
{
    memset(&f->v, 0, sizeof(f->v));
    tzset_init(&f->v, mlen, &f->lim, f->seed++);
}

static int add_flags(struct fixture *f, const char *m, double score, unsigned flags, double *ns)
{
    return tzset_add(&f->v, m, strlen(m), score, flags, ns, &f->lim, f->seed++);
}

static int add(struct fixture *f, const char *m, double score)
{
    return add_flags(f, m, score, 0, NULL);
}

static double score_of(const struct fixture *f, const char *m)
{
    double s = NAN;

    assert_true(tzset_score(&f->v, m, strlen(m), &s));
    return s;
}

static bool member_is(const struct tzset_elem *e, const char *m)
{
    return e->member.len == strlen(m) && memcmp(e->member.ptr, m, e->member.len) == 0;
}

/* Fills f->v with n members "m<i>" scored i (in a skiplist when skip). */
static void fill(struct fixture *f, int n, bool skip)
{
    char m[32];

    f->lim.zset_max_listpack_entries = skip ? 0 : 128;
    start(f, 2);
    for (int i = 0; i < n; i++) {
        snprintf(m, sizeof(m), "m%03d", i);
        assert_int_equal(add(f, m, i), TZSET_OUT_ADDED);
    }
    f->lim.zset_max_listpack_entries = 128;
    assert_int_equal(f->v.enc, skip ? KVAL_ENC_SKIPLIST : KVAL_ENC_LISTPACK);
}

static void free_value(struct fixture *f)
{
    tzset_free(&f->v);
    memset(&f->v, 0, sizeof(f->v));
}

/* ---- encodings and thresholds ---- */

static void test_a_listpack_converts_when_the_entry_limit_is_passed(void **state)
{
    struct fixture *f = *state;
    char m[32];

    start(f, 1);
    for (int i = 0; i < 128; i++) {
        snprintf(m, sizeof(m), "%d", i);
        assert_int_equal(add(f, m, -i), TZSET_OUT_ADDED);
    }
    assert_int_equal(f->v.enc, KVAL_ENC_LISTPACK);
    assert_int_equal(tzset_card(&f->v), 128);
    assert_int_equal(add(f, "5", 7), TZSET_OUT_UPDATED); /* an update adds no entry */
    assert_int_equal(f->v.enc, KVAL_ENC_LISTPACK);
    assert_int_equal(add(f, "x", 1), TZSET_OUT_ADDED);
    assert_int_equal(f->v.enc, KVAL_ENC_SKIPLIST);
    assert_int_equal(tzset_card(&f->v), 129);
    for (int i = 0; i < 128; i++) {
        snprintf(m, sizeof(m), "%d", i);
        assert_true(score_of(f, m) == (i == 5 ? 7 : -i));
    }
    assert_int_equal(tzset_check(&f->v, NULL), 0);
}

static void test_a_member_longer_than_the_value_limit_converts(void **state)
{
    struct fixture *f = *state;
    char m[80];

    start(f, 1);
    memset(m, 'a', sizeof(m));
    m[64] = '\0';
    assert_int_equal(add(f, m, 1), TZSET_OUT_ADDED);
    assert_int_equal(f->v.enc, KVAL_ENC_LISTPACK);
    assert_int_equal(tzset_check(&f->v, &f->lim), 0);
    m[64] = 'b';
    m[65] = '\0';
    assert_int_equal(add(f, m, 2), TZSET_OUT_ADDED);
    assert_int_equal(f->v.enc, KVAL_ENC_SKIPLIST);
    assert_true(score_of(f, m) == 2);
    m[64] = '\0';
    assert_true(score_of(f, m) == 1);
    /* never back, even once the long member is gone */
    m[64] = 'b';
    assert_true(tzset_delete(&f->v, m, 65));
    assert_int_equal(f->v.enc, KVAL_ENC_SKIPLIST);
}

static void test_init_picks_the_encoding_of_a_new_key_as_zadd(void **state)
{
    struct fixture *f = *state;

    start(f, 64);
    assert_int_equal(f->v.enc, KVAL_ENC_LISTPACK);
    free_value(f);
    start(f, 65);
    assert_int_equal(f->v.enc, KVAL_ENC_SKIPLIST);
    free_value(f);
    f->lim.zset_max_listpack_entries = 0;
    start(f, 1);
    assert_int_equal(f->v.enc, KVAL_ENC_SKIPLIST);
    assert_int_equal(tzset_card(&f->v), 0);
}

/* ---- ZADD's flags ---- */

static void check_flags(struct fixture *f)
{
    double ns = 0;

    assert_int_equal(add(f, "a", 1), TZSET_OUT_ADDED);
    assert_int_equal(add_flags(f, "a", 2, TZSET_IN_NX, &ns), TZSET_OUT_NOP);
    assert_int_equal(add_flags(f, "b", 2, TZSET_IN_XX, &ns), TZSET_OUT_NOP);
    assert_false(tzset_score(&f->v, "b", 1, &ns));
    assert_int_equal(add_flags(f, "a", 0, TZSET_IN_GT, &ns), TZSET_OUT_NOP);
    assert_int_equal(add_flags(f, "a", 5, TZSET_IN_GT, &ns), TZSET_OUT_UPDATED);
    assert_true(ns == 5);
    assert_int_equal(add_flags(f, "a", 9, TZSET_IN_LT, &ns), TZSET_OUT_NOP);
    assert_int_equal(add_flags(f, "a", 5, TZSET_IN_LT, &ns), TZSET_OUT_NOP); /* not lower */
    assert_int_equal(add_flags(f, "a", 5, 0, &ns), 0);                       /* same score */
    assert_int_equal(add_flags(f, "a", 2.5, TZSET_IN_INCR, &ns), TZSET_OUT_UPDATED);
    assert_true(ns == 7.5);
    assert_int_equal(add_flags(f, "c", 2, TZSET_IN_GT | TZSET_IN_INCR, &ns), TZSET_OUT_ADDED);
    assert_int_equal(add_flags(f, "a", INFINITY, TZSET_IN_INCR, &ns), TZSET_OUT_UPDATED);
    assert_int_equal(add_flags(f, "a", -INFINITY, TZSET_IN_INCR, &ns), -EDOM);
    assert_true(score_of(f, "a") == INFINITY);
    assert_int_equal(add_flags(f, "a", -1, TZSET_IN_INCR | TZSET_IN_GT, &ns), TZSET_OUT_NOP);
    assert_int_equal(add_flags(f, "c", 1, TZSET_IN_XX | TZSET_IN_INCR, &ns), TZSET_OUT_UPDATED);
    assert_true(score_of(f, "c") == 3);
    assert_int_equal(tzset_check(&f->v, NULL), 0);
}

static void test_add_flags_follow_zadd_in_both_encodings(void **state)
{
    struct fixture *f = *state;

    start(f, 1);
    check_flags(f);
    assert_int_equal(f->v.enc, KVAL_ENC_LISTPACK);
    free_value(f);
    f->lim.zset_max_listpack_entries = 0;
    start(f, 1);
    check_flags(f);
    assert_int_equal(f->v.enc, KVAL_ENC_SKIPLIST);
}

static void test_negative_zero_reads_back_as_zero_only_from_a_listpack(void **state)
{
    struct fixture *f = *state;

    start(f, 1);
    assert_int_equal(add(f, "z", -0.0), TZSET_OUT_ADDED);
    assert_false(signbit(score_of(f, "z")));
    free_value(f);
    f->lim.zset_max_listpack_entries = 0;
    start(f, 1);
    assert_int_equal(add(f, "z", -0.0), TZSET_OUT_ADDED);
    assert_true(signbit(score_of(f, "z")));
}

/* ---- ranks, ranges, deletes ---- */

static void check_ranks(struct fixture *f, bool skip)
{
    size_t rank;
    double s;

    fill(f, 10, skip);
    assert_true(tzset_rank(&f->v, "m000", 4, false, &rank, &s));
    assert_int_equal(rank, 0);
    assert_true(tzset_rank(&f->v, "m007", 4, false, &rank, &s));
    assert_int_equal(rank, 7);
    assert_true(s == 7);
    assert_true(tzset_rank(&f->v, "m007", 4, true, &rank, NULL));
    assert_int_equal(rank, 2);
    assert_false(tzset_rank(&f->v, "m100", 4, false, &rank, NULL));
    assert_true(tzset_delete(&f->v, "m005", 4));
    assert_false(tzset_delete(&f->v, "m005", 4));
    assert_true(tzset_rank(&f->v, "m007", 4, false, &rank, NULL));
    assert_int_equal(rank, 6);
    assert_int_equal(tzset_card(&f->v), 9);
    assert_int_equal(tzset_check(&f->v, NULL), 0);
    free_value(f);
}

static void test_ranks_and_deletes_in_both_encodings(void **state)
{
    check_ranks(*state, false);
    check_ranks(*state, true);
}

/* The members a walk hands out, joined by ',' into out. */
static void walk(struct tzset_iter *it, char *out, size_t cap)
{
    struct tzset_elem e;
    size_t n = 0;

    out[0] = '\0';
    while (tzset_iter_next(it, &e)) {
        n += (size_t)snprintf(out + n, cap - n, "%s%.*s", n ? "," : "", (int)e.member.len,
                              e.member.ptr);
    }
}

static void check_walks(struct fixture *f, bool skip)
{
    struct zsl_range r = { .min = 2, .max = 5, .minex = true };
    struct zsl_lex_range lx;
    struct tzset_iter it;
    char out[256];

    fill(f, 8, skip);
    tzset_iter_rank(&it, &f->v, 1, false, 3);
    walk(&it, out, sizeof(out));
    assert_string_equal(out, "m001,m002,m003");
    tzset_iter_rank(&it, &f->v, 0, true, 2);
    walk(&it, out, sizeof(out));
    assert_string_equal(out, "m007,m006");
    tzset_iter_score(&it, &f->v, &r, false, 0, SIZE_MAX);
    walk(&it, out, sizeof(out));
    assert_string_equal(out, "m003,m004,m005");
    tzset_iter_score(&it, &f->v, &r, true, 1, 1);
    walk(&it, out, sizeof(out));
    assert_string_equal(out, "m004");
    tzset_iter_score(&it, &f->v, &r, false, 3, SIZE_MAX);
    walk(&it, out, sizeof(out));
    assert_string_equal(out, "");
    r.min = r.max = 4;
    tzset_iter_score(&it, &f->v, &r, false, 0, SIZE_MAX); /* (4 4: empty */
    walk(&it, out, sizeof(out));
    assert_string_equal(out, "");
    assert_int_equal(zsl_parse_lex_range("[m002", 5, "(m005", 5, &lx), 0);
    tzset_iter_lex(&it, &f->v, &lx, false, 0, SIZE_MAX);
    walk(&it, out, sizeof(out));
    assert_string_equal(out, "m002,m003,m004");
    tzset_iter_lex(&it, &f->v, &lx, true, 1, 5);
    walk(&it, out, sizeof(out));
    assert_string_equal(out, "m003,m002");
    assert_int_equal(tzset_count_lex(&f->v, &lx), 3);
    r = (struct zsl_range){ .min = -INFINITY, .max = 3 };
    assert_int_equal(tzset_count_score(&f->v, &r), 4);
    free_value(f);
}

static void test_walks_by_rank_score_and_lex_in_both_encodings(void **state)
{
    check_walks(*state, false);
    check_walks(*state, true);
}

static void check_range_deletes(struct fixture *f, bool skip)
{
    struct zsl_range r = { .min = 2, .max = 4 };
    struct zsl_lex_range lx;
    struct tzset_iter it;
    char out[256];

    fill(f, 10, skip);
    assert_int_equal(tzset_delete_rank(&f->v, 0, 1), 2);
    assert_int_equal(tzset_delete_score(&f->v, &r), 3);
    assert_int_equal(tzset_delete_score(&f->v, &r), 0);
    assert_int_equal(zsl_parse_lex_range("(m005", 5, "[m007", 5, &lx), 0);
    assert_int_equal(tzset_delete_lex(&f->v, &lx), 2);
    tzset_iter_rank(&it, &f->v, 0, false, tzset_card(&f->v));
    walk(&it, out, sizeof(out));
    assert_string_equal(out, "m005,m008,m009");
    assert_int_equal(tzset_delete_rank(&f->v, 1, 2), 2);
    assert_int_equal(tzset_card(&f->v), 1);
    assert_int_equal(tzset_check(&f->v, NULL), 0);
    free_value(f);
}

static void test_range_deletes_in_both_encodings(void **state)
{
    check_range_deletes(*state, false);
    check_range_deletes(*state, true);
}

struct collect {
    char out[512];
    size_t n;
};

static void collect_elem(void *arg, const struct tzset_elem *e)
{
    struct collect *c = arg;

    c->n += (size_t)snprintf(c->out + c->n, sizeof(c->out) - c->n, "%s%.*s=%g", c->n ? "," : "",
                             (int)e->member.len, e->member.ptr, e->score);
}

static void check_pops(struct fixture *f, bool skip)
{
    struct collect c = { .n = 0 };

    fill(f, 5, skip);
    assert_int_equal(tzset_pop(&f->v, false, 2, collect_elem, &c), 2);
    assert_string_equal(c.out, "m000=0,m001=1");
    c.n = 0;
    assert_int_equal(tzset_pop(&f->v, true, 1, collect_elem, &c), 1);
    assert_string_equal(c.out, "m004=4");
    c.n = 0;
    assert_int_equal(tzset_pop(&f->v, true, 10, collect_elem, &c), 2);
    assert_string_equal(c.out, "m003=3,m002=2");
    assert_int_equal(tzset_card(&f->v), 0);
    assert_int_equal(tzset_pop(&f->v, false, 1, collect_elem, &c), 0);
    free_value(f);
}

static void test_pops_take_from_either_end_in_order(void **state)
{
    check_pops(*state, false);
    check_pops(*state, true);
}

struct seen {
    int count[300];
    size_t n;
};

static void see_elem(void *arg, const struct tzset_elem *e)
{
    struct seen *s = arg;
    char m[16];
    int i;

    assert_true(e->member.len < sizeof(m));
    memcpy(m, e->member.ptr, e->member.len);
    m[e->member.len] = '\0';
    assert_int_equal(sscanf(m, "m%d", &i), 1);
    assert_true(i >= 0 && i < 300);
    assert_true(e->score == i);
    s->count[i]++;
    s->n++;
}

static void check_random_many(struct fixture *f, int n, uint64_t *rnd)
{
    struct seen s = { .n = 0 };
    int distinct = 0;

    tzset_random_many(&f->v, 1000, rnd, see_elem, &s);
    assert_int_equal(s.n, 1000);
    for (int i = 0; i < n; i++) {
        distinct += s.count[i] > 0;
    }
    assert_true(distinct > n / 2); /* repeats, but not one member over and over */
}

static void check_samples(struct fixture *f, int n, bool skip)
{
    uint64_t rnd = 42;
    struct tzset_elem e;

    fill(f, n, skip);
    for (size_t count = 1; count < (size_t)n; count += (size_t)n / 7 + 1) {
        struct seen s = { .n = 0 };

        tzset_sample(&f->v, count, &rnd, see_elem, &s);
        assert_int_equal(s.n, count);
        for (int i = 0; i < n; i++) {
            assert_true(s.count[i] <= 1);
        }
    }
    for (int i = 0; i < 50; i++) {
        struct seen s = { .n = 0 };

        tzset_random(&f->v, rnd * (uint64_t)(i + 1) + 7, &e);
        see_elem(&s, &e);
    }
    check_random_many(f, n, &rnd);
    free_value(f);
}

static void test_random_members_and_samples_come_from_the_set(void **state)
{
    check_samples(*state, 20, false);
    check_samples(*state, 20, true);
    check_samples(*state, 300, true);
}

static void test_a_scan_visits_every_member(void **state)
{
    struct fixture *f = *state;
    struct seen s = { .n = 0 };
    uint64_t cursor = 0;
    int steps = 0;

    fill(f, 300, true);
    do {
        cursor = tzset_scan(&f->v, cursor, see_elem, &s);
        steps++;
    } while (cursor);
    assert_true(steps > 1);
    for (int i = 0; i < 300; i++) {
        assert_int_equal(s.count[i], 1);
    }
    free_value(f);
    memset(&s, 0, sizeof(s));
    fill(f, 10, false);
    assert_int_equal(tzset_scan(&f->v, 0, see_elem, &s), 0);
    assert_int_equal(s.n, 10);
}

/* ---- dump, restore, memory ---- */

static void check_round_trip(struct fixture *f, bool skip, int n)
{
    struct kval w = { 0 };
    struct tzset_iter a, b;
    struct tzset_elem x, y;
    size_t len;
    char *p;

    fill(f, n, skip);
    assert_int_equal(add(f, "-0", -0.0), TZSET_OUT_ADDED);
    assert_int_equal(add(f, "inf", INFINITY), TZSET_OUT_ADDED);
    assert_int_equal(add(f, "", 0.1), TZSET_OUT_ADDED);
    p = tzset_dump(&f->v, &len);
    assert_int_equal(tzset_restore(&w, p, len, &f->lim), 0);
    assert_int_equal(w.enc, tzset_card(&f->v) <= 128 ? KVAL_ENC_LISTPACK : KVAL_ENC_SKIPLIST);
    assert_int_equal(tzset_check(&w, &f->lim), 0);
    tzset_iter_rank(&a, &f->v, 0, false, SIZE_MAX);
    tzset_iter_rank(&b, &w, 0, false, SIZE_MAX);
    while (tzset_iter_next(&a, &x)) {
        assert_true(tzset_iter_next(&b, &y));
        assert_int_equal(x.member.len, y.member.len);
        assert_memory_equal(x.member.ptr, y.member.ptr, x.member.len);
        assert_true(x.score == y.score);
    }
    assert_false(tzset_iter_next(&b, &y));
    sh_free(p);
    tzset_free(&w);
    free_value(f);
}

static void test_dump_and_restore_round_trip_in_the_encoding_the_limits_call_for(void **state)
{
    check_round_trip(*state, true, 5);    /* a small skiplist comes back a listpack */
    check_round_trip(*state, false, 20);  /* a listpack stays one */
    check_round_trip(*state, true, 200);  /* past the entry limit: a skiplist */
    check_round_trip(*state, false, 125); /* 128 with the three extras: a listpack */
}

static char *dump_of(const char *const *m, const double *s, int n, size_t *len)
{
    struct kval_dump d;

    kval_dump_init(&d);
    for (int i = 0; i < n; i++) {
        tzset_dump_put(&d, m[i], strlen(m[i]), s[i]);
    }
    return kval_dump_finish(&d, len);
}

static void expect_restore(struct fixture *f, const char *p, size_t len, int rc)
{
    struct kval w = { 0 };

    assert_int_equal(tzset_restore(&w, p, len, &f->lim), rc);
    if (rc == 0) {
        tzset_free(&w);
    } else {
        assert_int_equal(w.type, KVAL_NONE);
    }
}

static void test_restore_refuses_corrupt_bytes(void **state)
{
    struct fixture *f = *state;
    const char *m[] = { "a", "b", "a" };
    double s[] = { 1, 2, 3 }, nan_score[] = { 1, NAN };
    struct kval_dump d;
    size_t len;
    char *p;

    for (int skip = 0; skip < 2; skip++) {
        f->lim.zset_max_listpack_entries = skip ? 0 : 128;
        p = dump_of(m, s, 2, &len);
        expect_restore(f, p, len, 0);
        expect_restore(f, p, len - 1, -EINVAL); /* truncated */
        expect_restore(f, p, 3, -EINVAL);
        sh_free(p);
        p = dump_of(m, s, 3, &len); /* "a" twice, in score order */
        expect_restore(f, p, len, -EINVAL);
        sh_free(p);
        s[0] = 5; /* out of order */
        p = dump_of(m, s, 2, &len);
        expect_restore(f, p, len, -EINVAL);
        sh_free(p);
        s[0] = 1;
        p = dump_of(m, nan_score, 2, &len);
        expect_restore(f, p, len, -EINVAL);
        sh_free(p);
        p = dump_of(m, s, 0, &len); /* empty */
        expect_restore(f, p, len, -EINVAL);
        sh_free(p);
        kval_dump_init(&d); /* an odd element count */
        kval_dump_put(&d, "a", 1);
        p = kval_dump_finish(&d, &len);
        expect_restore(f, p, len, -EINVAL);
        sh_free(p);
    }
}

static void check_memory(struct fixture *f, bool skip, int n)
{
    int64_t before = sh_alloc_thread_bytes();

    fill(f, n, skip);
    assert_int_equal((int64_t)tzset_memory(&f->v), sh_alloc_thread_bytes() - before);
    free_value(f);
    assert_int_equal(sh_alloc_thread_bytes(), before);
}

static void test_memory_is_what_the_allocator_holds(void **state)
{
    check_memory(*state, false, 100);
    check_memory(*state, true, 1000);
}

/* ---- random operations against a model ---- */

#define POOL 96

struct model {
    char member[POOL][80];
    double score[POOL];
    bool in[POOL];
};

static uint64_t xrand(uint64_t *s)
{
    *s ^= *s << 13;
    *s ^= *s >> 7;
    *s ^= *s << 17;
    return *s;
}

static const struct model *cmp_model;

static int model_cmp(const void *a, const void *b)
{
    int i = *(const int *)a, j = *(const int *)b;
    double si = cmp_model->score[i], sj = cmp_model->score[j];
    size_t li = strlen(cmp_model->member[i]), lj = strlen(cmp_model->member[j]);
    int c;

    if (si != sj) {
        return si < sj ? -1 : 1;
    }
    c = memcmp(cmp_model->member[i], cmp_model->member[j], li < lj ? li : lj);
    return c ? c : (li < lj ? -1 : li > lj);
}

/* The members in order; returns their count. */
static int model_sorted(const struct model *m, int *idx)
{
    int n = 0;

    for (int i = 0; i < POOL; i++) {
        if (m->in[i]) {
            idx[n++] = i;
        }
    }
    cmp_model = m;
    qsort(idx, (size_t)n, sizeof(*idx), model_cmp);
    return n;
}

static void model_check(const struct fixture *f, const struct model *m)
{
    int idx[POOL], n = model_sorted(m, idx), k = 0;
    struct tzset_iter it;
    struct tzset_elem e;

    assert_int_equal(tzset_card(&f->v), n);
    assert_int_equal(tzset_check(&f->v, NULL), 0);
    tzset_iter_rank(&it, &f->v, 0, false, SIZE_MAX);
    while (tzset_iter_next(&it, &e)) {
        assert_true(k < n);
        assert_true(member_is(&e, m->member[idx[k]]));
        assert_true(e.score == m->score[idx[k]]);
        k++;
    }
    assert_int_equal(k, n);
}

static void model_init(struct model *m, uint64_t *rs)
{
    memset(m, 0, sizeof(*m));
    for (int i = 0; i < POOL; i++) {
        int kind = (int)(xrand(rs) % 4);

        if (kind == 0) {
            snprintf(m->member[i], sizeof(m->member[i]), "%d", i - 40);
        } else if (kind == 1) { /* around the 64-byte value limit */
            memset(m->member[i], 'L', 72);
            snprintf(m->member[i] + 56 + i % 16, 12, "%d", i);
        } else {
            snprintf(m->member[i], sizeof(m->member[i]), "m%c%d", 'a' + i % 3, i);
        }
    }
}

static double random_score(uint64_t *rs)
{
    static const double special[] = { 0, -0.0, 1, -1, 0.5, 1e300, -1e-300, INFINITY, -INFINITY };
    uint64_t r = xrand(rs);

    if (r % 4 == 0) {
        return special[(r >> 8) % SH_ARRAY_LEN(special)];
    }
    return (double)((int)((r >> 8) % 21) - 10) / ((r >> 16) % 2 ? 1 : 4);
}

/* One random add with flags, applied to both. */
static void op_add(struct fixture *f, struct model *m, uint64_t *rs)
{
    int i = (int)(xrand(rs) % POOL);
    unsigned flags = (unsigned)(xrand(rs) % 32);
    double s = random_score(rs), ns = 0, cur = m->score[i], want = s;
    int rc;

    if ((flags & TZSET_IN_NX) && (flags & (TZSET_IN_XX | TZSET_IN_GT | TZSET_IN_LT))) {
        flags &= ~(unsigned)TZSET_IN_NX;
    }
    if ((flags & TZSET_IN_GT) && (flags & TZSET_IN_LT)) {
        flags &= ~(unsigned)TZSET_IN_LT;
    }
    rc = add_flags(f, m->member[i], s, flags, &ns);
    if (!m->in[i]) {
        assert_int_equal(rc, (flags & TZSET_IN_XX) ? TZSET_OUT_NOP : TZSET_OUT_ADDED);
        m->in[i] = !(flags & TZSET_IN_XX);
        m->score[i] = s;
        return;
    }
    want = (flags & TZSET_IN_INCR) ? cur + s : s;
    if (flags & TZSET_IN_NX || ((flags & TZSET_IN_GT) && !isnan(want) && want <= cur) ||
        ((flags & TZSET_IN_LT) && !isnan(want) && want >= cur)) {
        assert_int_equal(rc, TZSET_OUT_NOP);
    } else if (isnan(want)) {
        assert_int_equal(rc, -EDOM);
    } else {
        assert_int_equal(rc, want != cur ? TZSET_OUT_UPDATED : 0);
        m->score[i] = want;
    }
}

static void op_delete_range(struct fixture *f, struct model *m, uint64_t *rs)
{
    int idx[POOL], n = model_sorted(m, idx);
    struct zsl_range r = { .min = random_score(rs), .max = random_score(rs) };
    size_t removed = 0;

    if (n == 0) {
        return;
    }
    if (xrand(rs) % 2) {
        size_t a = xrand(rs) % (size_t)n, b = a + xrand(rs) % (size_t)(n - (int)a);

        assert_int_equal(tzset_delete_rank(&f->v, a, b), b - a + 1);
        for (size_t k = a; k <= b; k++) {
            m->in[idx[k]] = false;
        }
        return;
    }
    for (int k = 0; k < n; k++) {
        if (!zsl_range_is_empty(&r) && r.min <= m->score[idx[k]] && m->score[idx[k]] <= r.max) {
            m->in[idx[k]] = false;
            removed++;
        }
    }
    assert_int_equal(tzset_delete_score(&f->v, &r), removed);
}

static void op_query(struct fixture *f, const struct model *m, uint64_t *rs)
{
    int idx[POOL], n = model_sorted(m, idx), i = (int)(xrand(rs) % POOL);
    size_t rank;
    double s;

    assert_int_equal(tzset_rank(&f->v, m->member[i], strlen(m->member[i]), false, &rank, &s),
                     m->in[i]);
    if (m->in[i]) {
        assert_true(s == m->score[i]);
        assert_string_equal(m->member[idx[rank]], m->member[i]);
    }
    (void)n;
}

static void run_model(struct fixture *f, uint64_t seed, long long entries)
{
    struct model m;
    uint64_t rs = seed;

    f->lim.zset_max_listpack_entries = entries;
    model_init(&m, &rs);
    start(f, 1);
    for (int step = 0; step < 5000; step++) {
        uint64_t op = xrand(&rs) % 10;

        if (op < 6) {
            op_add(f, &m, &rs);
        } else if (op < 8) {
            int i = (int)(xrand(&rs) % POOL);

            assert_int_equal(tzset_delete(&f->v, m.member[i], strlen(m.member[i])), m.in[i]);
            m.in[i] = false;
        } else if (op < 9) {
            op_query(f, &m, &rs);
        } else {
            op_delete_range(f, &m, &rs);
        }
        if (step % 50 == 0) {
            model_check(f, &m);
        }
    }
    model_check(f, &m);
    free_value(f);
}

static void test_random_operations_match_a_sorted_array_model(void **state)
{
    struct fixture *f = *state;

    run_model(f, 0x1234567ULL, 128); /* listpack, converting on long members */
    run_model(f, 0x89ABCDEULL, 16);  /* converts early on entries too */
    run_model(f, 0x5555AAAAULL, 0);  /* a skiplist from the start */
    f->lim.zset_max_listpack_value = 1000;
    run_model(f, 0x77777ULL, 1000); /* a listpack all along */
    assert_int_equal(f->v.type, KVAL_NONE);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_a_listpack_converts_when_the_entry_limit_is_passed,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(test_a_member_longer_than_the_value_limit_converts, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_init_picks_the_encoding_of_a_new_key_as_zadd, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_add_flags_follow_zadd_in_both_encodings, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_negative_zero_reads_back_as_zero_only_from_a_listpack,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(test_ranks_and_deletes_in_both_encodings, setup, teardown),
        cmocka_unit_test_setup_teardown(test_walks_by_rank_score_and_lex_in_both_encodings, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_range_deletes_in_both_encodings, setup, teardown),
        cmocka_unit_test_setup_teardown(test_pops_take_from_either_end_in_order, setup, teardown),
        cmocka_unit_test_setup_teardown(test_random_members_and_samples_come_from_the_set, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_a_scan_visits_every_member, setup, teardown),
        cmocka_unit_test_setup_teardown(
                test_dump_and_restore_round_trip_in_the_encoding_the_limits_call_for, setup,
                teardown),
        cmocka_unit_test_setup_teardown(test_restore_refuses_corrupt_bytes, setup, teardown),
        cmocka_unit_test_setup_teardown(test_memory_is_what_the_allocator_holds, setup, teardown),
        cmocka_unit_test_setup_teardown(test_random_operations_match_a_sorted_array_model, setup,
                                        teardown),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
