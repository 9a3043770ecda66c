/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * test_zsl.c: the sorted-set skiplist through its public header: order by
 * (score, member bytes), ranks and nodes by rank, score and lex ranges at
 * their edges (inclusive/exclusive, infinities, "-"/"+", empty and
 * out-of-list ranges), update_score in place and relinked, range deletes
 * and their callbacks, re-pointed members, the memory counter against the
 * allocator's own count, the range parsers with Redis's syntax, and long
 * random sequences compared with a sorted-array model (fixed seeds), with
 * zsl_check run along the way.
 */
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

/* A string literal as (bytes, length), embedded NULs included. */
#define LIT(s) (s), (sizeof(s) - 1)

struct fixture {
    struct zsl *z;
};

static int setup(void **state)
{
    struct fixture *f = calloc(1, sizeof(*f));

    f->z = zsl_create(42);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    struct fixture *f = *state;
    int err = zsl_check(f->z);

    zsl_destroy(f->z);
    free(f);
    return err;
}

static struct zsl_node *add(struct zsl *z, double score, const char *m)
{
    return zsl_insert(z, score, m, strlen(m));
}

static bool member_is(const struct zsl_node *x, const char *m, size_t len)
{
    struct sh_slice s = zsl_node_member(x);

    return s.len == len && (len == 0 || memcmp(s.ptr, m, len) == 0);
}

static void assert_member(const struct zsl_node *x, const char *m)
{
    assert_non_null(x);
    assert_true(member_is(x, m, strlen(m)));
}

static struct zsl_range srange(const char *min, const char *max)
{
    struct zsl_range r;

    assert_int_equal(zsl_parse_score_range(min, strlen(min), max, strlen(max), &r), 0);
    return r;
}

static struct zsl_lex_range lrange(const char *min, const char *max)
{
    struct zsl_lex_range r;

    assert_int_equal(zsl_parse_lex_range(min, strlen(min), max, strlen(max), &r), 0);
    return r;
}

/* The list holds exactly members[0..n) in this order, forwards, backwards,
 * by rank and through zsl_rank. */
static void assert_order(const struct zsl *z, const char *const *members, size_t n)
{
    struct zsl_node *x = zsl_first(z);

    assert_int_equal(zsl_length(z), n);
    for (size_t i = 0; i < n; i++, x = zsl_node_next(x)) {
        struct sh_slice s;

        assert_member(x, members[i]);
        s = zsl_node_member(x);
        assert_ptr_equal(zsl_node_by_rank(z, i + 1), x);
        assert_int_equal(zsl_rank(z, zsl_node_score(x), s.ptr, s.len), i + 1);
    }
    assert_null(x);
    x = zsl_last(z);
    for (size_t i = n; i > 0; i--, x = zsl_node_prev(x)) {
        assert_member(x, members[i - 1]);
    }
    assert_null(x);
    assert_int_equal(zsl_check(z), 0);
}

static void test_an_empty_skiplist_has_no_nodes_ranks_or_ranges(void **state)
{
    struct fixture *f = *state;
    struct zsl_range all = srange("-inf", "+inf");
    struct zsl_lex_range lall = lrange("-", "+");
    size_t rank = 99;

    assert_int_equal(zsl_length(f->z), 0);
    assert_int_equal(zsl_level(f->z), 1);
    assert_null(zsl_first(f->z));
    assert_null(zsl_last(f->z));
    assert_int_equal(zsl_rank(f->z, 1, LIT("a")), 0);
    assert_null(zsl_node_by_rank(f->z, 0));
    assert_null(zsl_node_by_rank(f->z, 1));
    assert_null(zsl_first_in_range(f->z, &all, &rank));
    assert_null(zsl_last_in_range(f->z, &all, &rank));
    assert_null(zsl_first_in_lex_range(f->z, &lall, &rank));
    assert_null(zsl_last_in_lex_range(f->z, &lall, &rank));
    assert_int_equal(rank, 99);
    assert_int_equal(zsl_count_in_range(f->z, &all), 0);
    assert_int_equal(zsl_count_in_lex_range(f->z, &lall), 0);
    assert_false(zsl_delete(f->z, 1, LIT("a")));
    assert_int_equal(zsl_delete_range_by_score(f->z, &all, NULL, NULL), 0);
    assert_int_equal(zsl_delete_range_by_lex(f->z, &lall, NULL, NULL), 0);
    assert_int_equal(zsl_delete_range_by_rank(f->z, 1, 10, NULL, NULL), 0);
    assert_int_equal(zsl_check(f->z), 0);
}

static void test_destroy_of_null_is_a_no_op(void **state)
{
    (void)state;
    zsl_destroy(NULL);
}

static void test_nodes_are_ordered_by_score_then_by_member_bytes(void **state)
{
    struct fixture *f = *state;
    /* inserted out of order; equal scores compare bytes as unsigned, then
     * the shorter (a prefix) first; embedded NULs are plain bytes */
    struct {
        double score;
        const char *m;
        size_t len;
    } in[] = {
        { 2, LIT("b") },    { 1, LIT("\xff") }, { 1, LIT("ab") },  { 1, LIT("") },
        { 1, LIT("a\0") },  { 1, LIT("a") },    { -1, LIT("zz") }, { 1, LIT("a\0\0") },
        { 1, LIT("\x7f") }, { 0.5, LIT("z") },
    };
    struct {
        const char *m;
        size_t len;
    } want[] = {
        { LIT("zz") },    { LIT("z") },  { LIT("") },     { LIT("a") },    { LIT("a\0") },
        { LIT("a\0\0") }, { LIT("ab") }, { LIT("\x7f") }, { LIT("\xff") }, { LIT("b") },
    };
    struct zsl_node *x;
    size_t i = 0;

    for (size_t j = 0; j < SH_ARRAY_LEN(in); j++) {
        x = zsl_insert(f->z, in[j].score, in[j].m, in[j].len);
        assert_true(zsl_node_score(x) == in[j].score);
        assert_int_equal(zsl_check(f->z), 0);
    }
    for (x = zsl_first(f->z); x; x = zsl_node_next(x), i++) {
        assert_true(member_is(x, want[i].m, want[i].len));
        assert_int_equal(zsl_rank(f->z, zsl_node_score(x), want[i].m, want[i].len), i + 1);
    }
    assert_int_equal(i, SH_ARRAY_LEN(want));
    /* the score is part of the key: a right member with a wrong score is absent */
    assert_int_equal(zsl_rank(f->z, 2, LIT("a")), 0);
    assert_int_equal(zsl_rank(f->z, 1, LIT("a\0\0\0")), 0);
}

static void test_ranks_and_nodes_by_rank_agree_at_both_ends(void **state)
{
    struct fixture *f = *state;
    const char *names[] = { "a", "b", "c", "d", "e" };

    for (int i = 4; i >= 0; i--) {
        add(f->z, i * 10, names[i]);
    }
    assert_order(f->z, names, 5);
    assert_null(zsl_node_by_rank(f->z, 0));
    assert_null(zsl_node_by_rank(f->z, 6));
    assert_null(zsl_node_by_rank(f->z, SIZE_MAX));
    assert_ptr_equal(zsl_node_by_rank(f->z, 1), zsl_first(f->z));
    assert_ptr_equal(zsl_node_by_rank(f->z, 5), zsl_last(f->z));
    assert_int_equal(zsl_rank(f->z, 40, LIT("e")), 5);
    assert_int_equal(zsl_rank(f->z, 41, LIT("e")), 0);
    assert_int_equal(zsl_rank(f->z, -1, LIT("a")), 0);
}

static void test_score_ranges_honour_inclusive_and_exclusive_bounds(void **state)
{
    struct fixture *f = *state;
    /* a:1 b:2 c:2 d:3 */
    const struct {
        const char *min, *max;
        const char *first, *last; /* NULL: nothing in range */
        size_t first_rank, count;
    } cases[] = {
        { "-inf", "+inf", "a", "d", 1, 4 },   { "2", "2", "b", "c", 2, 2 },
        { "(2", "2", NULL, NULL, 0, 0 },      { "2", "(2", NULL, NULL, 0, 0 },
        { "(1", "(3", "b", "c", 2, 2 },       { "1", "3", "a", "d", 1, 4 },
        { "(1", "3", "b", "d", 2, 3 },        { "1.5", "2.5", "b", "c", 2, 2 },
        { "3", "1", NULL, NULL, 0, 0 },       { "5", "10", NULL, NULL, 0, 0 },
        { "-10", "0", NULL, NULL, 0, 0 },     { "-10", "1", "a", "a", 1, 1 },
        { "3", "+inf", "d", "d", 4, 1 },      { "(3", "+inf", NULL, NULL, 0, 0 },
        { "-inf", "(1", NULL, NULL, 0, 0 },   { "(-inf", "(+inf", "a", "d", 1, 4 },
        { "+inf", "-inf", NULL, NULL, 0, 0 },
    };

    add(f->z, 2, "c");
    add(f->z, 3, "d");
    add(f->z, 1, "a");
    add(f->z, 2, "b");
    for (size_t i = 0; i < SH_ARRAY_LEN(cases); i++) {
        struct zsl_range r = srange(cases[i].min, cases[i].max);
        size_t rank = 0;
        struct zsl_node *first = zsl_first_in_range(f->z, &r, &rank);
        struct zsl_node *last;

        assert_int_equal(zsl_count_in_range(f->z, &r), cases[i].count);
        if (!cases[i].first) {
            assert_null(first);
            assert_null(zsl_last_in_range(f->z, &r, NULL));
            continue;
        }
        assert_member(first, cases[i].first);
        assert_int_equal(rank, cases[i].first_rank);
        last = zsl_last_in_range(f->z, &r, &rank);
        assert_member(last, cases[i].last);
        assert_int_equal(rank, cases[i].first_rank + cases[i].count - 1);
        assert_ptr_equal(zsl_first_in_range(f->z, &r, NULL), first);
    }
}

static void test_infinite_scores_are_matched_by_infinite_bounds(void **state)
{
    struct fixture *f = *state;
    struct zsl_range r;

    add(f->z, -INFINITY, "lo");
    add(f->z, 0, "mid");
    add(f->z, INFINITY, "hi");
    r = srange("-inf", "-inf");
    assert_member(zsl_first_in_range(f->z, &r, NULL), "lo");
    assert_member(zsl_last_in_range(f->z, &r, NULL), "lo");
    r = srange("(-inf", "(+inf");
    assert_member(zsl_first_in_range(f->z, &r, NULL), "mid");
    assert_member(zsl_last_in_range(f->z, &r, NULL), "mid");
    assert_int_equal(zsl_count_in_range(f->z, &r), 1);
    r = srange("+inf", "+inf");
    assert_member(zsl_first_in_range(f->z, &r, NULL), "hi");
    assert_int_equal(zsl_count_in_range(f->z, &r), 1);
    r = srange("(+inf", "+inf");
    assert_null(zsl_first_in_range(f->z, &r, NULL));
    assert_int_equal(zsl_count_in_range(f->z, &r), 0);
    r = srange("-inf", "inf");
    assert_int_equal(zsl_count_in_range(f->z, &r), 3);
    assert_int_equal(zsl_rank(f->z, INFINITY, LIT("hi")), 3);
}

static void test_lex_ranges_with_minus_plus_and_exclusive_bounds(void **state)
{
    struct fixture *f = *state;
    /* all at score 0: "" a b bb c */
    const struct {
        const char *min, *max;
        const char *first, *last; /* NULL: nothing in range */
        size_t first_rank, count;
    } cases[] = {
        { "-", "+", "", "c", 1, 5 },        { "[b", "[c", "b", "c", 3, 3 },
        { "(b", "(c", "bb", "bb", 4, 1 },   { "(a", "[b", "b", "b", 3, 1 },
        { "[", "(a", "", "", 1, 1 },        { "(", "+", "a", "c", 2, 4 },
        { "-", "-", NULL, NULL, 0, 0 },     { "+", "+", NULL, NULL, 0, 0 },
        { "+", "-", NULL, NULL, 0, 0 },     { "[d", "+", NULL, NULL, 0, 0 },
        { "-", "(", NULL, NULL, 0, 0 },     { "[c", "[a", NULL, NULL, 0, 0 },
        { "[b", "(b", NULL, NULL, 0, 0 },   { "[b", "[b", "b", "b", 3, 1 },
        { "[ba", "[bz", "bb", "bb", 4, 1 }, { "-", "[b", "", "b", 1, 3 },
    };

    add(f->z, 0, "bb");
    add(f->z, 0, "c");
    add(f->z, 0, "");
    add(f->z, 0, "b");
    add(f->z, 0, "a");
    for (size_t i = 0; i < SH_ARRAY_LEN(cases); i++) {
        struct zsl_lex_range r = lrange(cases[i].min, cases[i].max);
        size_t rank = 0;
        struct zsl_node *first = zsl_first_in_lex_range(f->z, &r, &rank);

        assert_int_equal(zsl_count_in_lex_range(f->z, &r), cases[i].count);
        if (!cases[i].first) {
            assert_null(first);
            assert_null(zsl_last_in_lex_range(f->z, &r, NULL));
            continue;
        }
        assert_member(first, cases[i].first);
        assert_int_equal(rank, cases[i].first_rank);
        assert_member(zsl_last_in_lex_range(f->z, &r, &rank), cases[i].last);
        assert_int_equal(rank, cases[i].first_rank + cases[i].count - 1);
    }
}

static void test_empty_range_checks_follow_redis(void **state)
{
    const struct {
        const char *min, *max;
        bool empty;
    } scores[] = {
        { "1", "2", false },       { "2", "1", true },         { "1", "1", false },
        { "(1", "1", true },       { "1", "(1", true },        { "(1", "(2", false },
        { "+inf", "+inf", false }, { "(+inf", "+inf", true },  { "-inf", "+inf", false },
        { "+inf", "-inf", true },  { "(-inf", "(-inf", true },
    },
      lex[] = {
              { "-", "+", false },  { "+", "-", true },   { "-", "-", true },
              { "+", "+", true },   { "[a", "[a", false }, { "(a", "[a", true },
              { "[a", "(a", true }, { "[b", "[a", true },  { "[a", "[b", false },
              { "-", "[a", false }, { "[a", "-", true },   { "+", "[a", true },
              { "[a", "+", false }, { "[", "[", false },   { "(a", "(ab", false },
      };

    (void)state;
    for (size_t i = 0; i < SH_ARRAY_LEN(scores); i++) {
        struct zsl_range r = srange(scores[i].min, scores[i].max);

        assert_int_equal(zsl_range_is_empty(&r), scores[i].empty);
    }
    for (size_t i = 0; i < SH_ARRAY_LEN(lex); i++) {
        struct zsl_lex_range r = lrange(lex[i].min, lex[i].max);

        assert_int_equal(zsl_lex_range_is_empty(&r), lex[i].empty);
    }
}

static void test_value_bounds_helpers_serve_a_listpack_scan(void **state)
{
    struct zsl_range r = srange("(1", "2");
    struct zsl_lex_range l = lrange("[b", "(d");

    (void)state;
    assert_false(zsl_value_gte_min(1, &r));
    assert_true(zsl_value_gte_min(1.0000001, &r));
    assert_true(zsl_value_lte_max(2, &r));
    assert_false(zsl_value_lte_max(2.0000001, &r));
    assert_true(zsl_lex_value_gte_min(LIT("b"), &l));
    assert_false(zsl_lex_value_gte_min(LIT("a\xff"), &l));
    assert_true(zsl_lex_value_lte_max(LIT("c\xff"), &l));
    assert_false(zsl_lex_value_lte_max(LIT("d"), &l));
    assert_true(zsl_lex_value_lte_max(LIT(""), &l));
    l = lrange("-", "+");
    assert_true(zsl_lex_value_gte_min(LIT(""), &l));
    assert_true(zsl_lex_value_lte_max(LIT("\xff\xff"), &l));
    l = lrange("+", "-");
    assert_false(zsl_lex_value_gte_min(LIT("\xff"), &l));
    assert_false(zsl_lex_value_lte_max(LIT(""), &l));
}

static void test_update_score_keeps_the_node_in_place_when_the_order_holds(void **state)
{
    struct fixture *f = *state;
    const char *abc[] = { "a", "b", "c" };
    struct zsl_node *a = add(f->z, 1, "a");
    struct zsl_node *b = add(f->z, 2, "b");
    struct zsl_node *c = add(f->z, 3, "c");

    assert_ptr_equal(zsl_update_score(f->z, b, 2.5), b);
    assert_true(zsl_node_score(b) == 2.5);
    assert_order(f->z, abc, 3);
    /* ties with a neighbour are fine while the member order still holds */
    assert_ptr_equal(zsl_update_score(f->z, b, 1), b);
    assert_order(f->z, abc, 3);
    assert_ptr_equal(zsl_update_score(f->z, b, 3), b);
    assert_order(f->z, abc, 3);
    assert_ptr_equal(zsl_update_score(f->z, a, -INFINITY), a);
    assert_ptr_equal(zsl_update_score(f->z, c, INFINITY), c);
    assert_order(f->z, abc, 3);
    assert_int_equal(zsl_rank(f->z, 3, LIT("b")), 2);
    assert_int_equal(zsl_rank(f->z, 2, LIT("b")), 0);
}

static void test_update_score_relinks_the_same_node_when_the_order_changes(void **state)
{
    struct fixture *f = *state;
    struct zsl_node *b = add(f->z, 2, "b");
    struct zsl_node *d = add(f->z, 4, "d");

    add(f->z, 1, "a");
    add(f->z, 3, "c");
    assert_ptr_equal(zsl_update_score(f->z, b, 5), b);
    assert_order(f->z, (const char *const[]){ "a", "c", "d", "b" }, 4);
    /* to a tie: the member decides the new place */
    assert_ptr_equal(zsl_update_score(f->z, d, 1), d);
    assert_order(f->z, (const char *const[]){ "a", "d", "c", "b" }, 4);
    assert_ptr_equal(zsl_update_score(f->z, b, 0), b);
    assert_order(f->z, (const char *const[]){ "b", "a", "d", "c" }, 4);
    assert_ptr_equal(zsl_update_score(f->z, b, 1), b);
    assert_order(f->z, (const char *const[]){ "a", "b", "d", "c" }, 4);
    assert_int_equal(zsl_rank(f->z, 1, LIT("b")), 2);
}

static void test_update_score_of_the_only_node_works_at_every_height(void **state)
{
    struct fixture *f = *state;
    struct zsl_node *x = add(f->z, 1, "x");

    /* one node is the top of every level it has */
    for (int i = 0; i < 50; i++) {
        assert_ptr_equal(zsl_update_score(f->z, x, i % 2 ? -i : i), x);
        assert_int_equal(zsl_check(f->z), 0);
    }
    for (int i = 0; i < 200; i++) {
        struct zsl_node *y = add(f->z, i, "y");

        assert_ptr_equal(zsl_update_score(f->z, y, 1000 - i), y);
        assert_int_equal(zsl_check(f->z), 0);
        assert_true(zsl_delete(f->z, 1000 - i, LIT("y")));
    }
    assert_int_equal(zsl_length(f->z), 1);
}

/* update_score walks to the node's predecessors and to its new place at
 * once, the second as though the node were gone: every move, up or down, to
 * a neighbour's place or past a run of equal scores, leaves the list whole
 * (spans included: zsl_check) and every rank right. */
static void test_update_score_moves_keep_every_rank_and_span(void **state)
{
    struct fixture *f = *state;
    enum { N = 300 };
    static char names[N][8];
    struct zsl_node *nodes[N];
    uint64_t r = 0x9e3779b97f4a7c15ULL;

    for (int i = 0; i < N; i++) {
        snprintf(names[i], sizeof(names[i]), "m%03d", i);
        nodes[i] = add(f->z, i % 7, names[i]);
    }
    for (int step = 0; step < 3000; step++) {
        r ^= r << 13;
        r ^= r >> 7;
        r ^= r << 17;
        int i = (int)(r % N);
        /* few distinct scores: most moves land among equal scores */
        double score = (double)((r >> 20) % 9) - 1;

        assert_ptr_equal(zsl_update_score(f->z, nodes[i], score), nodes[i]);
        assert_int_equal(zsl_check(f->z), 0);
        if (step % 50 == 0) {
            struct zsl_node *x = zsl_first(f->z);

            for (size_t rank = 1; x; rank++, x = zsl_node_next(x)) {
                struct sh_slice s = zsl_node_member(x);

                assert_ptr_equal(zsl_node_by_rank(f->z, rank), x);
                assert_int_equal(zsl_rank(f->z, zsl_node_score(x), s.ptr, s.len), rank);
            }
        }
    }
    assert_int_equal(zsl_length(f->z), N);
}

static void test_delete_removes_only_the_exact_score_and_member(void **state)
{
    struct fixture *f = *state;

    add(f->z, 1, "a");
    add(f->z, 1, "ab");
    add(f->z, 2, "b");
    assert_false(zsl_delete(f->z, 2, LIT("a")));
    assert_false(zsl_delete(f->z, 1, LIT("abc")));
    assert_false(zsl_delete(f->z, 1, LIT("")));
    assert_int_equal(zsl_length(f->z), 3);
    assert_true(zsl_delete(f->z, 1, LIT("a")));
    assert_false(zsl_delete(f->z, 1, LIT("a")));
    assert_order(f->z, (const char *const[]){ "ab", "b" }, 2);
    assert_true(zsl_delete(f->z, 2, LIT("b")));
    assert_order(f->z, (const char *const[]){ "ab" }, 1);
    assert_true(zsl_delete(f->z, 1, LIT("ab")));
    assert_order(f->z, NULL, 0);
    assert_int_equal(zsl_level(f->z), 1);
}

/* A delete-range callback: records what it saw, then frees the member bytes
 * as a sorted set dropping them from its dictionary would. */
struct removed {
    size_t n;
    char names[64][8];
    double scores[64];
};

static void record_and_free(void *arg, const struct zsl_node *node)
{
    struct removed *rm = arg;
    struct sh_slice s = zsl_node_member(node);

    assert_true(rm->n < SH_ARRAY_LEN(rm->names) && s.len < sizeof(rm->names[0]));
    memcpy(rm->names[rm->n], s.ptr, s.len);
    rm->names[rm->n][s.len] = '\0';
    rm->scores[rm->n] = zsl_node_score(node);
    rm->n++;
    free((void *)s.ptr);
}

/* Adds members "m0".."m<n-1>" with score i, bytes from malloc. */
static void add_owned(struct zsl *z, int n, double score_step)
{
    for (int i = 0; i < n; i++) {
        char *m = malloc(8);
        int len = snprintf(m, 8, "m%d", i);

        zsl_insert(z, i * score_step, m, (size_t)len);
    }
}

static void free_all_members(struct zsl *z)
{
    struct removed rm = { 0 };

    while (zsl_length(z)) {
        rm.n = 0;
        zsl_delete_range_by_rank(z, 1, 64, record_and_free, &rm);
    }
}

static void test_delete_range_by_score_calls_back_for_each_node_before_freeing(void **state)
{
    struct fixture *f = *state;
    struct removed rm = { 0 };
    struct zsl_range r = srange("(2", "5");

    add_owned(f->z, 10, 1);
    assert_int_equal(zsl_delete_range_by_score(f->z, &r, record_and_free, &rm), 3);
    assert_int_equal(rm.n, 3);
    assert_string_equal(rm.names[0], "m3");
    assert_string_equal(rm.names[2], "m5");
    assert_true(rm.scores[0] == 3 && rm.scores[1] == 4 && rm.scores[2] == 5);
    assert_int_equal(zsl_length(f->z), 7);
    assert_int_equal(zsl_count_in_range(f->z, &r), 0);
    assert_int_equal(zsl_rank(f->z, 6, LIT("m6")), 4);
    assert_int_equal(zsl_check(f->z), 0);
    /* nothing in range: nothing called */
    rm.n = 0;
    assert_int_equal(zsl_delete_range_by_score(f->z, &r, record_and_free, &rm), 0);
    r = srange("100", "+inf");
    assert_int_equal(zsl_delete_range_by_score(f->z, &r, record_and_free, &rm), 0);
    assert_int_equal(rm.n, 0);
    r = srange("-inf", "+inf");
    assert_int_equal(zsl_delete_range_by_score(f->z, &r, record_and_free, &rm), 7);
    assert_int_equal(rm.n, 7);
    assert_string_equal(rm.names[6], "m9");
    assert_order(f->z, NULL, 0);
}

static void test_delete_range_by_lex_calls_back_in_ascending_order(void **state)
{
    struct fixture *f = *state;
    struct removed rm = { 0 };
    struct zsl_lex_range r = lrange("[m3", "(m6");

    add_owned(f->z, 10, 0);
    assert_int_equal(zsl_delete_range_by_lex(f->z, &r, record_and_free, &rm), 3);
    assert_string_equal(rm.names[0], "m3");
    assert_string_equal(rm.names[1], "m4");
    assert_string_equal(rm.names[2], "m5");
    assert_int_equal(zsl_check(f->z), 0);
    r = lrange("-", "[m1");
    rm.n = 0;
    assert_int_equal(zsl_delete_range_by_lex(f->z, &r, record_and_free, &rm), 2);
    assert_string_equal(rm.names[1], "m1");
    r = lrange("(m9", "+");
    assert_int_equal(zsl_delete_range_by_lex(f->z, &r, record_and_free, &rm), 0);
    assert_int_equal(zsl_length(f->z), 5);
    assert_member(zsl_first(f->z), "m2");
    free_all_members(f->z);
}

static void test_delete_range_by_rank_clamps_to_the_list(void **state)
{
    struct fixture *f = *state;
    struct removed rm = { 0 };

    add_owned(f->z, 10, 1);
    assert_int_equal(zsl_delete_range_by_rank(f->z, 11, 20, record_and_free, &rm), 0);
    assert_int_equal(zsl_delete_range_by_rank(f->z, 5, 4, record_and_free, &rm), 0);
    assert_int_equal(zsl_delete_range_by_rank(f->z, 9, 100, record_and_free, &rm), 2);
    assert_string_equal(rm.names[0], "m8");
    assert_string_equal(rm.names[1], "m9");
    assert_int_equal(zsl_delete_range_by_rank(f->z, 0, 1, record_and_free, &rm), 1);
    assert_string_equal(rm.names[2], "m0");
    assert_int_equal(zsl_delete_range_by_rank(f->z, 3, 3, record_and_free, &rm), 1);
    assert_string_equal(rm.names[3], "m3");
    assert_int_equal(zsl_check(f->z), 0);
    assert_int_equal(zsl_delete_range_by_rank(f->z, 1, 6, record_and_free, &rm), 6);
    assert_string_equal(rm.names[4], "m1");
    assert_string_equal(rm.names[9], "m7");
    assert_int_equal(zsl_length(f->z), 0);
    assert_int_equal(zsl_check(f->z), 0);
}

static void test_set_member_repoints_a_node_at_moved_bytes(void **state)
{
    struct fixture *f = *state;
    char *old = strdup("member");
    char *moved;
    struct zsl_node *x = zsl_insert(f->z, 1, old, 6);

    add(f->z, 1, "a");
    add(f->z, 1, "z");
    moved = strdup(old);
    zsl_node_set_member(x, moved, 6);
    free(old);
    assert_ptr_equal(zsl_node_member(x).ptr, moved);
    assert_int_equal(zsl_rank(f->z, 1, LIT("member")), 2);
    assert_int_equal(zsl_check(f->z), 0);
    assert_true(zsl_delete(f->z, 1, LIT("member")));
    free(moved);
}

static void test_memory_counter_matches_the_allocator(void **state)
{
    char(*names)[12] = malloc(1000 * sizeof(*names)); /* not through sh_*: not counted */
    int64_t base = sh_alloc_thread_bytes();
    struct zsl *z = zsl_create(7);
    struct zsl_range r = srange("100", "(300");
    size_t empty = zsl_memory(z);

    (void)state;
    assert_int_equal(sh_alloc_thread_bytes() - base, empty);
    for (int i = 0; i < 1000; i++) {
        snprintf(names[i], sizeof(names[i]), "%03d", i);
        zsl_insert(z, i, names[i], 3);
    }
    assert_true(zsl_memory(z) > empty + 1000 * sizeof(struct zsl_node));
    assert_int_equal(sh_alloc_thread_bytes() - base, zsl_memory(z));
    assert_int_equal(zsl_delete_range_by_score(z, &r, NULL, NULL), 200);
    assert_int_equal(zsl_delete_range_by_rank(z, 1, 50, NULL, NULL), 50);
    zsl_update_score(z, zsl_first(z), 5000);
    assert_int_equal(sh_alloc_thread_bytes() - base, zsl_memory(z));
    assert_int_equal(zsl_check(z), 0);
    assert_int_equal(zsl_delete_range_by_rank(z, 1, 10000, NULL, NULL), 750);
    assert_int_equal(zsl_memory(z), empty);
    zsl_destroy(z);
    assert_int_equal(sh_alloc_thread_bytes(), base);
    free(names);
}

static void test_parse_score_follows_redis_rules(void **state)
{
    const char *good[] = { "1.5", "-2",   "0",        "+3",   "1e3", "inf", "-inf", "+inf",
                           "INF", "-Inf", "infinity", "0x10", ".5",  "5.",  "-0" };
    const double want[] = { 1.5,      -2,        0,        3,  1000, INFINITY, -INFINITY, INFINITY,
                            INFINITY, -INFINITY, INFINITY, 16, 0.5,  5,        0 };
    const char *bad[] = { "",    " 1",    "1 ", "1x",  "nan",   "NaN", "-nan",
                          "abc", "1e400", "(1", "--1", "1.5.2", "\t2" };
    double d;

    (void)state;
    for (size_t i = 0; i < SH_ARRAY_LEN(good); i++) {
        assert_int_equal(zsl_parse_score(good[i], strlen(good[i]), &d), 0);
        assert_true(d == want[i]);
    }
    for (size_t i = 0; i < SH_ARRAY_LEN(bad); i++) {
        assert_int_equal(zsl_parse_score(bad[i], strlen(bad[i]), &d), -EINVAL);
    }
    /* the length rules, not a terminator: "12" read as "1" */
    assert_int_equal(zsl_parse_score("12", 1, &d), 0);
    assert_true(d == 1);
    assert_int_equal(zsl_parse_score(LIT("1\0"), &d), -EINVAL);
}

static void test_parse_score_range_accepts_redis_syntax_and_rejects_garbage(void **state)
{
    struct zsl_range r;
    const char *bad[] = { "[1", "1x", "((1", "nan", "(nan", "1 ", "( 1x", "abc", "+-1", "-" };

    (void)state;
    r = srange("(1.5", "2.5");
    assert_true(r.min == 1.5 && r.minex && r.max == 2.5 && !r.maxex);
    r = srange("-inf", "(+inf");
    assert_true(r.min == -INFINITY && !r.minex && r.max == INFINITY && r.maxex);
    r = srange("(-inf", "inf");
    assert_true(r.min == -INFINITY && r.minex && r.max == INFINITY && !r.maxex);
    /* strtod's own leniency, as Redis 7.0's zslParseRange */
    r = srange(" 3", "1e400");
    assert_true(r.min == 3 && r.max == INFINITY);
    r = srange("", "(");
    assert_true(r.min == 0 && !r.minex && r.max == 0 && r.maxex);
    for (size_t i = 0; i < SH_ARRAY_LEN(bad); i++) {
        assert_int_equal(zsl_parse_score_range(bad[i], strlen(bad[i]), LIT("1"), &r), -EINVAL);
        assert_int_equal(zsl_parse_score_range(LIT("1"), bad[i], strlen(bad[i]), &r), -EINVAL);
    }
    /* the length is honoured: "(1.5" cut to "(1." */
    assert_int_equal(zsl_parse_score_range("(1.5", 3, "2x", 1, &r), 0);
    assert_true(r.min == 1 && r.minex && r.max == 2);
}

static void test_parse_score_range_rejects_a_bound_too_long_to_read(void **state)
{
    size_t len = 6000;
    char *s = malloc(len);
    struct zsl_range r;

    (void)state;
    memset(s, '0', len);
    assert_int_equal(zsl_parse_score_range(s, 5 * 1024, LIT("1"), &r), 0);
    assert_true(r.min == 0);
    assert_int_equal(zsl_parse_score_range(s, len, LIT("1"), &r), -EINVAL);
    free(s);
}

static void test_parse_lex_range_accepts_only_brackets_minus_and_plus(void **state)
{
    struct zsl_lex_range r;
    const char *bad[] = { "", "a", "-a", "+a", "]a", "--", "++", "{a" };

    (void)state;
    r = lrange("[a", "(b\xff");
    assert_true(r.min.kind == ZSL_LEX_VALUE && !r.min.ex && r.min.len == 1 && r.min.ptr[0] == 'a');
    assert_true(r.max.kind == ZSL_LEX_VALUE && r.max.ex && r.max.len == 2);
    r = lrange("-", "+");
    assert_true(r.min.kind == ZSL_LEX_MIN && r.min.ex && r.max.kind == ZSL_LEX_MAX && r.max.ex);
    r = lrange("[", "(");
    assert_true(r.min.len == 0 && !r.min.ex && r.max.len == 0 && r.max.ex);
    /* the bound borrows the argument's bytes, NULs included */
    assert_int_equal(zsl_parse_lex_range(LIT("[a\0b"), LIT("+"), &r), 0);
    assert_int_equal(r.min.len, 3);
    assert_int_equal(memcmp(r.min.ptr, "a\0b", 3), 0);
    for (size_t i = 0; i < SH_ARRAY_LEN(bad); i++) {
        assert_int_equal(zsl_parse_lex_range(bad[i], strlen(bad[i]), LIT("+"), &r), -EINVAL);
        assert_int_equal(zsl_parse_lex_range(LIT("-"), bad[i], strlen(bad[i]), &r), -EINVAL);
    }
}

static void test_the_same_seed_builds_the_same_shape_with_logarithmic_levels(void **state)
{
    struct zsl *a = zsl_create(1234);
    struct zsl *b = zsl_create(1234);
    static char names[4096][5];

    (void)state;
    for (int i = 0; i < 4096; i++) {
        snprintf(names[i], sizeof(names[i]), "%04x", i);
        zsl_insert(a, 0, names[i], 4);
        zsl_insert(b, 0, names[i], 4);
    }
    assert_int_equal(zsl_level(a), zsl_level(b));
    assert_int_equal(zsl_memory(a), zsl_memory(b));
    /* p = 1/4: about log4(4096) = 6 levels */
    assert_true(zsl_level(a) >= 4 && zsl_level(a) <= 12);
    assert_int_equal(zsl_check(a), 0);
    zsl_destroy(a);
    zsl_destroy(b);
}

/* ---- randomized sequences against a sorted-array model ---- */

#define RND_IDS   3000
#define RND_OPS   32000
#define RND_PHASE 8000

struct model {
    char names[RND_IDS][8]; /* member bytes of id i; stable storage */
    size_t lens[RND_IDS];
    bool present[RND_IDS];
    double score[RND_IDS];
    struct zsl_node *node[RND_IDS];
    int ord[RND_IDS]; /* ids present, ascending */
    size_t n;
    uint64_t rng;
    struct zsl *z;
};

static uint64_t rnd(struct model *m)
{
    m->rng ^= m->rng << 13;
    m->rng ^= m->rng >> 7;
    m->rng ^= m->rng << 17;
    return m->rng;
}

static size_t rnd_below(struct model *m, size_t n)
{
    return (size_t)(rnd(m) % n);
}

/* Distinct members over the alphabet { NUL, 'a', 'b', 0xff }: every string
 * of length 0, 1, 2 ... in turn, so prefixes and bytes above 0x7f abound. */
static void model_init(struct model *m, uint64_t seed)
{
    static const char alphabet[] = { '\0', 'a', 'b', '\xff' };
    size_t len = 0, first_of_len = 0, count_of_len = 1;

    memset(m, 0, sizeof(*m));
    m->rng = seed;
    m->z = zsl_create(seed);
    for (size_t i = 0; i < RND_IDS; i++) {
        size_t v = i - first_of_len;

        if (v == count_of_len) {
            first_of_len = i;
            v = 0;
            len++;
            count_of_len *= 4;
        }
        m->lens[i] = len;
        for (size_t j = 0; j < len; j++, v /= 4) {
            m->names[i][j] = alphabet[v % 4];
        }
    }
}

static int model_cmp_bytes(const char *a, size_t alen, const char *b, size_t blen)
{
    for (size_t i = 0; i < alen && i < blen; i++) {
        if (a[i] != b[i]) {
            return (unsigned char)a[i] < (unsigned char)b[i] ? -1 : 1;
        }
    }
    return alen == blen ? 0 : alen < blen ? -1 : 1;
}

/* Order of ids a and b with the given score for a. */
static int model_cmp(const struct model *m, int a, double ascore, int b)
{
    if (ascore != m->score[b]) {
        return ascore < m->score[b] ? -1 : 1;
    }
    return model_cmp_bytes(m->names[a], m->lens[a], m->names[b], m->lens[b]);
}

/* Index in ord where id (with this score) sits or would go. */
static size_t model_pos(const struct model *m, int id, double score)
{
    size_t lo = 0, hi = m->n;

    while (lo < hi) {
        size_t mid = (lo + hi) / 2;

        if (model_cmp(m, id, score, m->ord[mid]) > 0) {
            lo = mid + 1;
        } else {
            hi = mid;
        }
    }
    return lo;
}

static void model_add(struct model *m, int id, double score)
{
    size_t pos = model_pos(m, id, score);

    memmove(&m->ord[pos + 1], &m->ord[pos], (m->n - pos) * sizeof(m->ord[0]));
    m->ord[pos] = id;
    m->n++;
    m->present[id] = true;
    m->score[id] = score;
}

static void model_remove_at(struct model *m, size_t pos)
{
    m->present[m->ord[pos]] = false;
    m->node[m->ord[pos]] = NULL;
    memmove(&m->ord[pos], &m->ord[pos + 1], (m->n - pos - 1) * sizeof(m->ord[0]));
    m->n--;
}

static void model_remove(struct model *m, int id)
{
    size_t pos = model_pos(m, id, m->score[id]);

    assert_int_equal(m->ord[pos], id);
    model_remove_at(m, pos);
}

/* Many ties, both infinities and both zeros. */
static double rnd_score(struct model *m)
{
    static const double special[] = { -INFINITY, INFINITY, -0.0, 0.0, 0.5, -2.5 };
    size_t r = rnd_below(m, 40);

    if (r < SH_ARRAY_LEN(special)) {
        return special[r];
    }
    return (double)rnd_below(m, 30) - 10;
}

static struct zsl_range rnd_range(struct model *m)
{
    struct zsl_range r = { .min = rnd_score(m), .max = rnd_score(m) };

    r.minex = rnd(m) & 1;
    r.maxex = rnd(m) & 1;
    return r;
}

static void model_compare_all(struct model *m)
{
    struct zsl_node *x = zsl_first(m->z);

    assert_int_equal(zsl_length(m->z), m->n);
    for (size_t i = 0; i < m->n; i++, x = zsl_node_next(x)) {
        assert_ptr_equal(x, m->node[m->ord[i]]);
        assert_true(zsl_node_score(x) == m->score[m->ord[i]]);
    }
    assert_null(x);
    assert_int_equal(zsl_check(m->z), 0);
}

static void op_insert_or_update(struct model *m)
{
    int id = (int)rnd_below(m, RND_IDS);
    double score = rnd_score(m);
    struct zsl_node *node;

    if (!m->present[id]) {
        m->node[id] = zsl_insert(m->z, score, m->names[id], m->lens[id]);
        model_add(m, id, score);
        return;
    }
    node = m->node[id];
    model_remove(m, id);
    assert_ptr_equal(zsl_update_score(m->z, node, score), node);
    model_add(m, id, score);
    m->node[id] = node;
}

static void op_delete(struct model *m)
{
    int id = (int)rnd_below(m, RND_IDS);
    double score = m->present[id] ? m->score[id] : rnd_score(m);
    bool present = m->present[id];

    assert_int_equal(zsl_delete(m->z, score, m->names[id], m->lens[id]), present);
    if (present) {
        model_remove(m, id);
    }
}

static void op_rank(struct model *m)
{
    int id = (int)rnd_below(m, RND_IDS);
    size_t rank = rnd_below(m, m->n + 2);
    size_t want = 0;

    if (m->present[id]) {
        want = model_pos(m, id, m->score[id]) + 1;
    }
    assert_int_equal(zsl_rank(m->z, m->score[id], m->names[id], m->lens[id]), want);
    if (rank == 0 || rank > m->n) {
        assert_null(zsl_node_by_rank(m->z, rank));
    } else {
        assert_ptr_equal(zsl_node_by_rank(m->z, rank), m->node[m->ord[rank - 1]]);
    }
}

static void op_score_range(struct model *m)
{
    struct zsl_range r = rnd_range(m);
    size_t lo = 0, hi = m->n, rank = 0; /* in range: ord[lo..hi) */

    while (lo < m->n && !zsl_value_gte_min(m->score[m->ord[lo]], &r)) {
        lo++;
    }
    while (hi > lo && !zsl_value_lte_max(m->score[m->ord[hi - 1]], &r)) {
        hi--;
    }
    assert_int_equal(zsl_count_in_range(m->z, &r), hi - lo);
    if (hi == lo) {
        assert_null(zsl_first_in_range(m->z, &r, NULL));
        assert_null(zsl_last_in_range(m->z, &r, NULL));
        return;
    }
    assert_ptr_equal(zsl_first_in_range(m->z, &r, &rank), m->node[m->ord[lo]]);
    assert_int_equal(rank, lo + 1);
    assert_ptr_equal(zsl_last_in_range(m->z, &r, &rank), m->node[m->ord[hi - 1]]);
    assert_int_equal(rank, hi);
}

/* Checks that a range delete reported ord[lo..lo+count) in order. */
struct expect_removed {
    struct model *m;
    size_t next; /* index into ord of the next node expected */
};

static void expect_in_order(void *arg, const struct zsl_node *node)
{
    struct expect_removed *e = arg;

    assert_ptr_equal(node, e->m->node[e->m->ord[e->next]]);
    e->next++;
}

static void model_remove_run(struct model *m, size_t lo, size_t count)
{
    for (size_t i = 0; i < count; i++) {
        model_remove_at(m, lo);
    }
}

static void op_delete_score_range(struct model *m)
{
    struct zsl_range r = { .min = rnd_score(m), .minex = rnd(m) & 1, .maxex = rnd(m) & 1 };
    struct expect_removed e = { .m = m };
    size_t lo = 0, hi;

    r.max = r.min + (double)rnd_below(m, 2);
    while (lo < m->n && !zsl_value_gte_min(m->score[m->ord[lo]], &r)) {
        lo++;
    }
    hi = lo;
    while (hi < m->n && zsl_value_lte_max(m->score[m->ord[hi]], &r)) {
        hi++;
    }
    e.next = lo;
    assert_int_equal(zsl_delete_range_by_score(m->z, &r, expect_in_order, &e), hi - lo);
    assert_int_equal(e.next, hi);
    model_remove_run(m, lo, hi - lo);
}

static void op_delete_rank_range(struct model *m)
{
    size_t start = rnd_below(m, m->n + 3);
    size_t end = start + rnd_below(m, 12);
    size_t lo = start ? start - 1 : 0;
    size_t hi = end < m->n ? end : m->n;
    struct expect_removed e = { .m = m, .next = lo };

    hi = hi > lo ? hi : lo;
    assert_int_equal(zsl_delete_range_by_rank(m->z, start, end, expect_in_order, &e), hi - lo);
    assert_int_equal(e.next, hi);
    model_remove_run(m, lo, hi - lo);
}

static void test_random_operations_match_a_sorted_array_model(void **state)
{
    struct model *m = malloc(sizeof(*m));
    size_t max_n = 0, min_n = RND_IDS;

    (void)state;
    model_init(m, 0x5eed);
    for (int i = 0; i < RND_OPS; i++) {
        /* phases of growth and shrinkage, so that levels rise and fall */
        bool growing = (i / RND_PHASE) % 2 == 0;
        size_t op = rnd_below(m, 100);

        if (op < (growing ? 60 : 10)) {
            op_insert_or_update(m);
        } else if (op < (growing ? 65 : 45)) {
            op_delete(m);
        } else if (op < 70) {
            op_rank(m);
        } else if (op < 88) {
            op_score_range(m);
        } else if (op < 92) {
            if (!growing) {
                op_delete_score_range(m);
            }
        } else if (op < 97) {
            if (!growing) {
                op_delete_rank_range(m);
            }
        } else {
            model_compare_all(m);
        }
        max_n = m->n > max_n ? m->n : max_n;
        min_n = i > RND_PHASE && m->n < min_n ? m->n : min_n;
    }
    model_compare_all(m);
    assert_true(max_n > RND_IDS / 2);
    assert_true(min_n < RND_IDS / 10);
    zsl_destroy(m->z);
    free(m);
}

/* ---- randomized lex sequences (every score equal) ---- */

static int model_lex_cmp(const char *s, size_t len, const struct zsl_lex_bound *b)
{
    if (b->kind != ZSL_LEX_VALUE) {
        return b->kind == ZSL_LEX_MIN ? 1 : -1;
    }
    return model_cmp_bytes(s, len, b->ptr, b->len);
}

static bool model_in_lex(const struct model *m, int id, const struct zsl_lex_range *r)
{
    int lo = model_lex_cmp(m->names[id], m->lens[id], &r->min);
    int hi = model_lex_cmp(m->names[id], m->lens[id], &r->max);

    return (r->min.ex ? lo > 0 : lo >= 0) && (r->max.ex ? hi < 0 : hi <= 0);
}

/* "-", "+", or a member name (present or not) with a random bracket. */
static struct zsl_lex_bound rnd_lex_bound(struct model *m)
{
    size_t r = rnd_below(m, 10);
    int id = (int)rnd_below(m, RND_IDS);

    if (r < 2) {
        return (struct zsl_lex_bound){ .kind = r ? ZSL_LEX_MAX : ZSL_LEX_MIN, .ex = true };
    }
    return (struct zsl_lex_bound){ .ptr = m->names[id], .len = m->lens[id], .ex = r & 1 };
}

static void op_lex_range(struct model *m)
{
    struct zsl_lex_range r = { .min = rnd_lex_bound(m), .max = rnd_lex_bound(m) };
    size_t lo = 0, hi, rank = 0;
    struct expect_removed e = { .m = m };

    while (lo < m->n && !model_in_lex(m, m->ord[lo], &r)) {
        lo++;
    }
    hi = lo;
    while (hi < m->n && model_in_lex(m, m->ord[hi], &r)) {
        hi++;
    }
    assert_int_equal(zsl_count_in_lex_range(m->z, &r), hi - lo);
    if (zsl_lex_range_is_empty(&r)) {
        assert_int_equal(hi, lo);
    }
    if (hi == lo) {
        assert_null(zsl_first_in_lex_range(m->z, &r, NULL));
        assert_null(zsl_last_in_lex_range(m->z, &r, NULL));
        return;
    }
    assert_ptr_equal(zsl_first_in_lex_range(m->z, &r, &rank), m->node[m->ord[lo]]);
    assert_int_equal(rank, lo + 1);
    assert_ptr_equal(zsl_last_in_lex_range(m->z, &r, &rank), m->node[m->ord[hi - 1]]);
    assert_int_equal(rank, hi);
    if (hi - lo < 30 && rnd_below(m, 4) == 0) {
        e.next = lo;
        assert_int_equal(zsl_delete_range_by_lex(m->z, &r, expect_in_order, &e), hi - lo);
        model_remove_run(m, lo, hi - lo);
    }
}

static void test_random_lex_operations_match_a_sorted_array_model(void **state)
{
    struct model *m = malloc(sizeof(*m));

    (void)state;
    model_init(m, 0x1e8);
    for (int i = 0; i < RND_OPS; i++) {
        size_t op = rnd_below(m, 100);
        int id = (int)rnd_below(m, RND_IDS);

        if (op < 45 && !m->present[id]) {
            m->node[id] = zsl_insert(m->z, 7, m->names[id], m->lens[id]);
            model_add(m, id, 7);
        } else if (op < 60 && m->present[id]) {
            assert_true(zsl_delete(m->z, 7, m->names[id], m->lens[id]));
            model_remove(m, id);
        } else if (op >= 60 && op < 98) {
            op_lex_range(m);
        } else if (op >= 98) {
            model_compare_all(m);
        }
    }
    model_compare_all(m);
    zsl_destroy(m->z);
    free(m);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_an_empty_skiplist_has_no_nodes_ranks_or_ranges, setup,
                                        teardown),
        cmocka_unit_test(test_destroy_of_null_is_a_no_op),
        cmocka_unit_test_setup_teardown(test_nodes_are_ordered_by_score_then_by_member_bytes, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_ranks_and_nodes_by_rank_agree_at_both_ends, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_score_ranges_honour_inclusive_and_exclusive_bounds,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(test_infinite_scores_are_matched_by_infinite_bounds, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_lex_ranges_with_minus_plus_and_exclusive_bounds, setup,
                                        teardown),
        cmocka_unit_test(test_empty_range_checks_follow_redis),
        cmocka_unit_test(test_value_bounds_helpers_serve_a_listpack_scan),
        cmocka_unit_test_setup_teardown(
                test_update_score_keeps_the_node_in_place_when_the_order_holds, setup, teardown),
        cmocka_unit_test_setup_teardown(
                test_update_score_relinks_the_same_node_when_the_order_changes, setup, teardown),
        cmocka_unit_test_setup_teardown(test_update_score_of_the_only_node_works_at_every_height,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(test_delete_removes_only_the_exact_score_and_member, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(
                test_delete_range_by_score_calls_back_for_each_node_before_freeing, setup,
                teardown),
        cmocka_unit_test_setup_teardown(test_delete_range_by_lex_calls_back_in_ascending_order,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(test_delete_range_by_rank_clamps_to_the_list, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_set_member_repoints_a_node_at_moved_bytes, setup,
                                        teardown),
        cmocka_unit_test(test_memory_counter_matches_the_allocator),
        cmocka_unit_test(test_parse_score_follows_redis_rules),
        cmocka_unit_test(test_parse_score_range_accepts_redis_syntax_and_rejects_garbage),
        cmocka_unit_test(test_parse_score_range_rejects_a_bound_too_long_to_read),
        cmocka_unit_test(test_parse_lex_range_accepts_only_brackets_minus_and_plus),
        cmocka_unit_test(test_the_same_seed_builds_the_same_shape_with_logarithmic_levels),
        cmocka_unit_test(test_random_operations_match_a_sorted_array_model),
        cmocka_unit_test_setup_teardown(test_update_score_moves_keep_every_rank_and_span, setup,
                                        teardown),
        cmocka_unit_test(test_random_lex_operations_match_a_sorted_array_model),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
