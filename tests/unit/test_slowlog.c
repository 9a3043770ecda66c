/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * test_slowlog.c: the slow log of one shard: entries in the order and shape
 * of Redis 7.0's SLOWLOG GET (arguments cut at 32 and at 128 bytes), the ring
 * growing and trimming at max-len, and a NULL log reading as empty.
 */
#include "shardis/reply.h"
#include "shardis/slowlog.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

struct fixture {
    struct slowlog *sl;
    struct rbuf out;
    struct reply r;
};

static int setup(void **state)
{
    struct fixture *f = sh_calloc(1, sizeof(*f));

    f->sl = slowlog_create();
    rbuf_init(&f->out);
    f->r = (struct reply){ .buf = &f->out, .proto = 2 };
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    struct fixture *f = *state;

    slowlog_destroy(f->sl);
    rbuf_fini(&f->out);
    sh_free(f);
    return 0;
}

/* Pushes an entry whose only argument is "cmd<id>". */
static void push_id(struct slowlog *sl, uint64_t id, long long max_len)
{
    char word[32];
    struct sh_slice arg = { word, (size_t)snprintf(word, sizeof(word), "cmd%llu",
                                                   (unsigned long long)id) };
    struct slowlog_rec rec = {
        .id = id,
        .time = 1700000000,
        .duration = 42,
        .argc = 1,
        .argv = &arg,
        .addr = { "127.0.0.1:5000", 14 },
        .name = { "", 0 },
    };

    assert_int_equal(slowlog_push(sl, &rec, max_len), 0);
}

static const char *reply_text(struct fixture *f)
{
    rbuf_append(&f->out, "", 1);
    return f->out.data;
}

static void test_entry_is_replied_as_redis_writes_it(void **state)
{
    struct fixture *f = *state;
    struct sh_slice argv[] = { { "SET", 3 }, { "k", 1 }, { "v", 1 } };
    struct slowlog_rec rec = {
        .id = 7,
        .time = 1700000001,
        .duration = 1234,
        .argc = 3,
        .argv = argv,
        .addr = { "10.0.0.1:6000", 13 },
        .name = { "app", 3 },
    };

    assert_int_equal(slowlog_push(f->sl, &rec, 128), 0);
    slowlog_reply(f->sl, &f->r, 10);
    assert_string_equal(reply_text(f), "*1\r\n*6\r\n:7\r\n:1700000001\r\n:1234\r\n"
                                       "*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$1\r\nv\r\n"
                                       "$13\r\n10.0.0.1:6000\r\n$3\r\napp\r\n");
}

static void test_reply_is_newest_first_and_limited_to_n(void **state)
{
    struct fixture *f = *state;

    for (uint64_t id = 0; id < 5; id++) {
        push_id(f->sl, id, 128);
    }
    assert_int_equal(slowlog_len(f->sl), 5);
    slowlog_reply(f->sl, &f->r, 2);
    assert_non_null(strstr(reply_text(f), "*2\r\n*6\r\n:4\r\n"));
    assert_non_null(strstr(f->out.data, "cmd3"));
    assert_null(strstr(f->out.data, "cmd2"));
}

static void test_ring_grows_and_keeps_order_past_its_first_capacity(void **state)
{
    struct fixture *f = *state;

    for (uint64_t id = 0; id < 100; id++) {
        push_id(f->sl, id, 1000);
    }
    assert_int_equal(slowlog_len(f->sl), 100);
    slowlog_reply(f->sl, &f->r, 1000);
    assert_non_null(strstr(reply_text(f), "*100\r\n*6\r\n:99\r\n"));
    assert_true(strstr(f->out.data, "cmd99") < strstr(f->out.data, "cmd50"));
    assert_true(strstr(f->out.data, "cmd50") < strstr(f->out.data, "cmd0\r"));
}

static void test_push_drops_the_oldest_past_max_len(void **state)
{
    struct fixture *f = *state;

    for (uint64_t id = 0; id < 40; id++) {
        push_id(f->sl, id, 10);
    }
    assert_int_equal(slowlog_len(f->sl), 10);
    slowlog_reply(f->sl, &f->r, 100);
    assert_non_null(strstr(reply_text(f), "*10\r\n*6\r\n:39\r\n"));
    assert_non_null(strstr(f->out.data, "cmd30\r"));
    assert_null(strstr(f->out.data, "cmd29\r"));
}

static void test_trim_and_max_len_zero_and_reset_empty_the_log(void **state)
{
    struct fixture *f = *state;

    for (uint64_t id = 0; id < 20; id++) {
        push_id(f->sl, id, 128);
    }
    slowlog_trim(f->sl, 3);
    assert_int_equal(slowlog_len(f->sl), 3);
    push_id(f->sl, 20, 0);
    assert_int_equal(slowlog_len(f->sl), 0);
    push_id(f->sl, 21, 128);
    push_id(f->sl, 22, 128);
    slowlog_reset(f->sl);
    assert_int_equal(slowlog_len(f->sl), 0);
    push_id(f->sl, 23, 128);
    slowlog_reply(f->sl, &f->r, 10);
    assert_non_null(strstr(reply_text(f), "*1\r\n*6\r\n:23\r\n"));
}

static void test_long_arguments_are_cut_at_128_bytes(void **state)
{
    struct fixture *f = *state;
    char big[200], exact[128];
    struct sh_slice argv[] = { { "SET", 3 }, { big, sizeof(big) }, { exact, sizeof(exact) } };
    struct slowlog_rec rec = { .id = 1, .argc = 3, .argv = argv };
    char want[512];

    memset(big, 'a', sizeof(big));
    memset(exact, 'b', sizeof(exact));
    assert_int_equal(slowlog_push(f->sl, &rec, 128), 0);
    slowlog_reply(f->sl, &f->r, 1);
    snprintf(want, sizeof(want), "$147\r\n%.128s... (72 more bytes)\r\n$128\r\n%.128s\r\n", big,
             exact);
    assert_non_null(strstr(reply_text(f), want));
}

static void test_more_than_32_arguments_end_with_a_count(void **state)
{
    struct fixture *f = *state;
    struct sh_slice argv[40];
    struct slowlog_rec rec = { .id = 1, .argc = 40, .argv = argv };

    for (int i = 0; i < 40; i++) {
        argv[i] = (struct sh_slice){ "x", 1 };
    }
    assert_int_equal(slowlog_push(f->sl, &rec, 128), 0);
    slowlog_reply(f->sl, &f->r, 1);
    assert_non_null(strstr(reply_text(f), "*32\r\n"));
    assert_non_null(strstr(f->out.data, "$1\r\nx\r\n$22\r\n... (9 more arguments)\r\n$0\r\n"));
}

static void test_null_log_reads_as_empty(void **state)
{
    struct fixture *f = *state;

    assert_int_equal(slowlog_len(NULL), 0);
    slowlog_reset(NULL);
    slowlog_trim(NULL, 0);
    slowlog_reply(NULL, &f->r, 10);
    assert_string_equal(reply_text(f), "*0\r\n");
    slowlog_destroy(NULL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_entry_is_replied_as_redis_writes_it, setup, teardown),
        cmocka_unit_test_setup_teardown(test_reply_is_newest_first_and_limited_to_n, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_ring_grows_and_keeps_order_past_its_first_capacity,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(test_push_drops_the_oldest_past_max_len, setup, teardown),
        cmocka_unit_test_setup_teardown(test_trim_and_max_len_zero_and_reset_empty_the_log, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_long_arguments_are_cut_at_128_bytes, setup, teardown),
        cmocka_unit_test_setup_teardown(test_more_than_32_arguments_end_with_a_count, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_null_log_reads_as_empty, setup, teardown),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
