/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * test_latency.c: the latency monitor of one shard, as Redis 7.0's
 * latencyAddSample keeps it: one sample per second (the largest), the newest
 * LATENCY_TS_LEN seconds, the all-time maximum, events named as Redis names
 * them, and a NULL monitor reading as one without events.
 */
#include "shardis/latency.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

static int setup(void **state)
{
    *state = latency_create();
    return 0;
}

static int teardown(void **state)
{
    latency_destroy(*state);
    return 0;
}

static void test_an_event_has_no_series_before_its_first_sample(void **state)
{
    struct latency *l = *state;
    struct latency_sample s[LATENCY_TS_LEN], last;
    int64_t max;

    assert_false(latency_latest(l, LATENCY_COMMAND, &last, &max));
    assert_int_equal(latency_history(l, LATENCY_COMMAND, s), 0);
    assert_false(latency_reset(l, LATENCY_COMMAND));
    latency_add(l, LATENCY_COMMAND, 1000, 25);
    assert_true(latency_latest(l, LATENCY_COMMAND, &last, &max));
    assert_int_equal(last.time, 1000);
    assert_int_equal(last.ms, 25);
    assert_int_equal(max, 25);
    assert_false(latency_latest(l, LATENCY_FAST_COMMAND, &last, &max));
}

static void test_samples_of_one_second_keep_the_largest(void **state)
{
    struct latency *l = *state;
    struct latency_sample s[LATENCY_TS_LEN];

    latency_add(l, LATENCY_COMMAND, 1000, 20);
    latency_add(l, LATENCY_COMMAND, 1000, 50);
    latency_add(l, LATENCY_COMMAND, 1000, 30);
    latency_add(l, LATENCY_COMMAND, 1001, 10);
    assert_int_equal(latency_history(l, LATENCY_COMMAND, s), 2);
    assert_int_equal(s[0].time, 1000);
    assert_int_equal(s[0].ms, 50);
    assert_int_equal(s[1].time, 1001);
    assert_int_equal(s[1].ms, 10);
}

static void test_history_keeps_the_newest_seconds_oldest_first(void **state)
{
    struct latency *l = *state;
    struct latency_sample s[LATENCY_TS_LEN], last;
    int64_t max;

    for (int i = 0; i < LATENCY_TS_LEN + 40; i++) {
        latency_add(l, LATENCY_FAST_COMMAND, 2000 + i, i == 3 ? 900 : i + 1);
    }
    assert_int_equal(latency_history(l, LATENCY_FAST_COMMAND, s), LATENCY_TS_LEN);
    assert_int_equal(s[0].time, 2040);
    assert_int_equal(s[LATENCY_TS_LEN - 1].time, 2000 + LATENCY_TS_LEN + 39);
    for (int i = 1; i < LATENCY_TS_LEN; i++) {
        assert_true(s[i].time == s[i - 1].time + 1);
    }
    assert_true(latency_latest(l, LATENCY_FAST_COMMAND, &last, &max));
    assert_int_equal(last.ms, LATENCY_TS_LEN + 40);
    assert_int_equal(max, 900); /* all time, though its second is gone */
}

static void test_reset_removes_only_that_event(void **state)
{
    struct latency *l = *state;
    struct latency_sample s[LATENCY_TS_LEN], last;
    int64_t max;

    latency_add(l, LATENCY_COMMAND, 1000, 20);
    latency_add(l, LATENCY_FAST_COMMAND, 1000, 30);
    assert_true(latency_reset(l, LATENCY_COMMAND));
    assert_false(latency_reset(l, LATENCY_COMMAND));
    assert_false(latency_latest(l, LATENCY_COMMAND, &last, &max));
    assert_int_equal(latency_history(l, LATENCY_COMMAND, s), 0);
    assert_true(latency_latest(l, LATENCY_FAST_COMMAND, &last, &max));
    latency_add(l, LATENCY_COMMAND, 1001, 5);
    assert_true(latency_latest(l, LATENCY_COMMAND, &last, &max));
    assert_int_equal(max, 5);
}

static void test_event_names_are_redis_names(void **state)
{
    (void)state;
    assert_string_equal(latency_event_name(LATENCY_COMMAND), "command");
    assert_string_equal(latency_event_name(LATENCY_FAST_COMMAND), "fast-command");
    assert_int_equal(latency_event_find("fast-command", 12, false), LATENCY_FAST_COMMAND);
    assert_int_equal(latency_event_find("COMMAND", 7, false), -1);
    assert_int_equal(latency_event_find("COMMAND", 7, true), LATENCY_COMMAND);
    assert_int_equal(latency_event_find("command-x", 9, true), -1);
    assert_int_equal(latency_event_find("comma", 5, true), -1);
}

static void test_null_monitor_has_no_events(void **state)
{
    struct latency_sample s[LATENCY_TS_LEN], last;
    int64_t max;

    (void)state;
    assert_false(latency_latest(NULL, LATENCY_COMMAND, &last, &max));
    assert_int_equal(latency_history(NULL, LATENCY_COMMAND, s), 0);
    assert_false(latency_reset(NULL, LATENCY_COMMAND));
    latency_destroy(NULL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_an_event_has_no_series_before_its_first_sample, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_samples_of_one_second_keep_the_largest, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_history_keeps_the_newest_seconds_oldest_first, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_reset_removes_only_that_event, setup, teardown),
        cmocka_unit_test(test_event_names_are_redis_names),
        cmocka_unit_test(test_null_monitor_has_no_events),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
