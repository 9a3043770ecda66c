/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * test_glob.c: glob_match against the results of Redis 7.0's stringmatchlen
 * (each expectation below was checked against the original), including its
 * quirks, and against a pattern that is exponential for naive backtracking.
 */
#include "shardis/glob.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <time.h>

#include <cmocka.h>

static bool match(const char *pat, const char *s)
{
    return glob_match(pat, strlen(pat), s, strlen(s), false);
}

static bool match_nocase(const char *pat, const char *s)
{
    return glob_match(pat, strlen(pat), s, strlen(s), true);
}

static void test_literal_pattern_matches_only_itself(void **state)
{
    (void)state;
    assert_true(match("hello", "hello"));
    assert_false(match("hello", "hell"));
    assert_false(match("hello", "hello!"));
    assert_false(match("hello", "Hello"));
}

static void test_star_matches_any_run_of_bytes_including_none(void **state)
{
    (void)state;
    assert_true(match("*", "anything"));
    assert_true(match("h*o", "ho"));
    assert_true(match("h*o", "hello"));
    assert_true(match("*llo", "hello"));
    assert_true(match("he*", "he"));
    assert_true(match("a**b", "ab"));
    assert_true(match("a*b*", "ab"));
    assert_false(match("h*o", "hella"));
    assert_true(match("*a*b*c*", "xaxbxcx"));
    assert_false(match("*a*b*c*", "xcxbxax"));
}

static void test_question_mark_matches_exactly_one_byte(void **state)
{
    (void)state;
    assert_true(match("h?llo", "hello"));
    assert_true(match("h?llo", "hallo"));
    assert_false(match("h?llo", "hllo"));
    assert_false(match("h?llo", "heello"));
    assert_true(match("???", "abc"));
    assert_false(match("???", "ab"));
}

static void test_empty_string_matches_only_the_empty_pattern(void **state)
{
    (void)state;
    /* Redis quirk: its loop never runs for an empty string. */
    assert_true(match("", ""));
    assert_false(match("*", ""));
    assert_false(match("**", ""));
    assert_false(match("", "a"));
}

static void test_class_matches_one_of_its_bytes(void **state)
{
    (void)state;
    assert_true(match("h[ae]llo", "hello"));
    assert_true(match("h[ae]llo", "hallo"));
    assert_false(match("h[ae]llo", "hillo"));
    assert_false(match("h[ae]llo", "hllo"));
    assert_false(match("[]a", "a")); /* "[]" is an empty class */
}

static void test_negated_class_matches_any_other_byte(void **state)
{
    (void)state;
    assert_true(match("h[^e]llo", "hallo"));
    assert_false(match("h[^e]llo", "hello"));
    assert_false(match("h[^e]llo", "hllo"));
}

static void test_ranges_match_in_either_order(void **state)
{
    (void)state;
    assert_true(match("h[a-b]llo", "hallo"));
    assert_true(match("h[a-b]llo", "hbllo"));
    assert_false(match("h[a-b]llo", "hcllo"));
    assert_true(match("[z-a]", "m"));
    assert_true(match("[0-9a-f]x", "cx"));
    assert_true(match("[a-", "-"));  /* no room for a range: literals */
    assert_true(match("[a-]", "_")); /* the ']' ends the range, not the class */
    assert_false(match("[a-]", "-"));
}

static void test_backslash_escapes_special_bytes(void **state)
{
    (void)state;
    assert_true(match("a\\*b", "a*b"));
    assert_false(match("a\\*b", "axb"));
    assert_true(match("\\?", "?"));
    assert_false(match("\\?", "x"));
    assert_true(match("\\[x]", "[x]"));
    assert_true(match("[\\]]", "]"));
    assert_true(match("[\\-a]", "-"));
    assert_true(match("[\\^a]", "^"));
    assert_true(match("a\\", "a\\")); /* a lone trailing backslash is itself */
}

static void test_unterminated_class_runs_to_the_end_of_the_pattern(void **state)
{
    (void)state;
    assert_true(match("[abc", "b"));
    assert_false(match("[abc", "bc"));
    assert_false(match("x[", "x[")); /* an empty open class matches nothing */
    assert_false(match("x[", "x"));
}

static void test_nocase_folds_ascii_letters(void **state)
{
    (void)state;
    assert_true(match_nocase("HeLLo", "hello"));
    assert_true(match_nocase("h[A-C]llo", "hbllo"));
    assert_true(match_nocase("h[a-c]llo", "HBLLO"));
    assert_true(match_nocase("*GET*", "client|getname"));
    assert_false(match("*GET*", "client|getname"));
}

static void test_nocase_quirks_follow_redis(void **state)
{
    (void)state;
    /* A range is ordered before folding: [Z-a] is 'z'..'a', empty. */
    assert_true(match("[Z-a]", "_"));
    assert_false(match_nocase("[Z-a]", "_"));
    assert_false(match_nocase("[Z-a]", "m"));
    /* An escaped byte inside a class compares case-sensitively. */
    assert_false(match_nocase("[\\A]", "a"));
    assert_true(match_nocase("\\A", "a"));
}

static void test_bytes_above_0x7f_compare_as_redis_does(void **state)
{
    (void)state;
    /* Signed bytes, as on x86: 0xe9 sorts below 'a'. */
    assert_true(match("[\xe9-a]", "A"));
    assert_false(match_nocase("[\xe9-a]", "A"));
    assert_true(match("\xe9t\xe9", "\xe9t\xe9"));
}

static void test_pattern_and_string_need_no_nul(void **state)
{
    (void)state;
    const char pat[] = { 'a', '*', 'c', '*' };
    const char str[] = { 'a', 'b', 'c', 'c' };
    assert_true(glob_match(pat, 3, str, 3, false));    /* "a*c" vs "abc" */
    assert_false(glob_match(pat, 3, str, 2, false));   /* "a*c" vs "ab" */
    assert_true(glob_match(pat, 4, str, 4, false));    /* "a*c*" vs "abcc" */
    assert_true(glob_match("[ab", 2, "a]", 1, false)); /* "[a" open class */
}

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void test_pathological_pattern_finishes_fast(void **state)
{
    (void)state;
    char pat[64 * 2 + 2];
    char str[20000];
    size_t plen = 0;
    for (int i = 0; i < 64; i++) {
        pat[plen++] = 'a';
        pat[plen++] = '*';
    }
    pat[plen++] = 'b';
    memset(str, 'a', sizeof(str));

    double t0 = now_s();
    for (int i = 0; i < 10; i++) {
        assert_false(glob_match(pat, plen, str, sizeof(str), false));
        assert_false(glob_match(pat, plen, str, sizeof(str), true));
    }
    str[sizeof(str) - 1] = 'b';
    assert_true(glob_match(pat, plen, str, sizeof(str), false));
    /* Exponential backtracking would not finish at all; this is O(p * s)
     * with room for sanitizers and slow machines. */
    assert_true(now_s() - t0 < 5.0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_literal_pattern_matches_only_itself),
        cmocka_unit_test(test_star_matches_any_run_of_bytes_including_none),
        cmocka_unit_test(test_question_mark_matches_exactly_one_byte),
        cmocka_unit_test(test_empty_string_matches_only_the_empty_pattern),
        cmocka_unit_test(test_class_matches_one_of_its_bytes),
        cmocka_unit_test(test_negated_class_matches_any_other_byte),
        cmocka_unit_test(test_ranges_match_in_either_order),
        cmocka_unit_test(test_backslash_escapes_special_bytes),
        cmocka_unit_test(test_unterminated_class_runs_to_the_end_of_the_pattern),
        cmocka_unit_test(test_nocase_folds_ascii_letters),
        cmocka_unit_test(test_nocase_quirks_follow_redis),
        cmocka_unit_test(test_bytes_above_0x7f_compare_as_redis_does),
        cmocka_unit_test(test_pattern_and_string_need_no_nul),
        cmocka_unit_test(test_pathological_pattern_finishes_fast),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
