/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * test_resp.c: the request parser: multibulk and inline frames, frames split
 * at every byte, Redis's protocol errors, and the reply-size scanner.
 */
#include "shardis/resp.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#define MAX_BULK (512LL * 1024 * 1024)

struct parsed {
    int ncmds;
    int argc[64];
    char args[64][8][64];
    int rc;
    char err[64]; /* copied: the parser's message lives in the parser */
};

/* Feeds `in` in chunks of `step` bytes (0 = all at once), collecting every
 * complete command, as a connection does (compacting its buffer). */
static void feed(const char *in, size_t len, size_t step, struct parsed *out)
{
    struct resp_parser p;
    char *buf = malloc(len + 1);
    size_t have = 0, given = 0;

    memset(out, 0, sizeof(*out));
    resp_parser_init(&p, MAX_BULK);
    while (given < len) {
        size_t n = step ? step : len;

        if (n > len - given) {
            n = len - given;
        }
        memcpy(buf + have, in + given, n);
        have += n;
        given += n;
        for (;;) {
            int argc = 0;
            int rc = resp_parse(&p, buf, have, &argc);

            if (rc == RESP_COMMAND) {
                int c = out->ncmds++;

                out->argc[c] = argc;
                for (int i = 0; i < argc && i < 8; i++) {
                    snprintf(out->args[c][i], 64, "%.*s", (int)p.argv[i].len, p.argv[i].ptr);
                }
                continue;
            }
            if (rc == RESP_ERROR) {
                out->rc = rc;
                snprintf(out->err, sizeof(out->err), "%s", p.err);
                goto out;
            }
            break;
        }
        memmove(buf, buf + p.start, have - p.start);
        have -= p.start;
        resp_parser_rebase(&p);
    }
out:
    resp_parser_fini(&p);
    free(buf);
}

static void test_multibulk_command_is_parsed(void **state)
{
    static const char in[] = "*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$5\r\nhello\r\n";
    struct parsed r;

    (void)state;
    feed(in, sizeof(in) - 1, 0, &r);
    assert_int_equal(r.ncmds, 1);
    assert_int_equal(r.argc[0], 3);
    assert_string_equal(r.args[0][0], "SET");
    assert_string_equal(r.args[0][2], "hello");
}

static void test_frames_split_at_every_byte_parse_the_same(void **state)
{
    static const char in[] = "*2\r\n$4\r\nECHO\r\n$0\r\n\r\nPING\r\n"
                             "*1\r\n$4\r\nPING\r\nSET \"a b\" 'c'\r\n*0\r\n\r\n"
                             "*2\r\n$3\r\nGET\r\n$10\r\n0123456789\r\n";
    struct parsed whole, split;

    (void)state;
    feed(in, sizeof(in) - 1, 0, &whole);
    assert_int_equal(whole.ncmds, 5);
    assert_string_equal(whole.args[3][1], "a b");
    assert_string_equal(whole.args[3][2], "c");
    assert_string_equal(whole.args[4][1], "0123456789");
    for (size_t step = 1; step < sizeof(in); step++) {
        feed(in, sizeof(in) - 1, step, &split);
        assert_int_equal(split.ncmds, whole.ncmds);
        assert_memory_equal(split.args, whole.args, sizeof(whole.args));
        assert_memory_equal(split.argc, whole.argc, sizeof(whole.argc));
    }
}

static void test_binary_bulk_with_crlf_inside_is_kept(void **state)
{
    static const char in[] = "*2\r\n$4\r\nECHO\r\n$4\r\na\r\nb\r\n";
    struct parsed r;

    (void)state;
    feed(in, sizeof(in) - 1, 1, &r);
    assert_int_equal(r.ncmds, 1);
    assert_memory_equal(r.args[0][1], "a\r\nb", 4);
}

static void test_inline_escapes_are_unescaped(void **state)
{
    static const char in[] = "SET k \"\\x41\\n\\\"q\\\\\"\r\n";
    struct parsed r;

    (void)state;
    feed(in, sizeof(in) - 1, 0, &r);
    assert_int_equal(r.ncmds, 1);
    assert_string_equal(r.args[0][2], "A\n\"q\\");
}

static void test_empty_inline_lines_and_empty_multibulk_are_skipped(void **state)
{
    static const char in[] = "\r\n\n   \r\n*0\r\n*-1\r\nPING\r\n";
    struct parsed r;

    (void)state;
    feed(in, sizeof(in) - 1, 0, &r);
    assert_int_equal(r.ncmds, 1);
    assert_string_equal(r.args[0][0], "PING");
}

static void expect_error(const char *in, const char *msg)
{
    struct parsed r;

    feed(in, strlen(in), 0, &r);
    assert_int_equal(r.rc, RESP_ERROR);
    assert_string_equal(r.err, msg);
}

static void test_bad_frames_get_redis_protocol_errors(void **state)
{
    (void)state;
    expect_error("*x\r\n", "Protocol error: invalid multibulk length");
    expect_error("*3000000000\r\n", "Protocol error: invalid multibulk length");
    expect_error("*1\r\n$x\r\n", "Protocol error: invalid bulk length");
    expect_error("*1\r\n$-1\r\n", "Protocol error: invalid bulk length");
    expect_error("*1\r\n$04\r\n", "Protocol error: invalid bulk length");
    expect_error("*1\r\n+OK\r\n", "Protocol error: expected '$', got '+'");
    expect_error("SET \"a\r\n", "Protocol error: unbalanced quotes in request");
    expect_error("SET \"a\"b\r\n", "Protocol error: unbalanced quotes in request");
}

static void test_lines_without_end_past_64k_are_errors(void **state)
{
    size_t n = RESP_INLINE_MAX + 10;
    char *in = malloc(n + 1);

    (void)state;
    memset(in, 'a', n);
    in[n] = '\0';
    expect_error(in, "Protocol error: too big inline request");
    in[0] = '*';
    expect_error(in, "Protocol error: too big mbulk count string");
    memcpy(in, "*1\r\n$", 5);
    expect_error(in, "Protocol error: too big bulk count string");
    free(in);
}

static void test_bulk_longer_than_the_limit_is_refused(void **state)
{
    struct resp_parser p;
    char in[] = "*1\r\n$2000\r\n";
    int argc;

    (void)state;
    resp_parser_init(&p, 1000);
    assert_int_equal(resp_parse(&p, in, strlen(in), &argc), RESP_ERROR);
    assert_string_equal(p.err, "Protocol error: invalid bulk length");
    resp_parser_fini(&p);
}

static void test_parser_reports_the_size_a_large_bulk_needs(void **state)
{
    struct resp_parser p;
    char in[] = "*2\r\n$3\r\nSET\r\n$100000\r\nabc";
    int argc;

    (void)state;
    resp_parser_init(&p, MAX_BULK);
    assert_int_equal(resp_parse(&p, in, strlen(in), &argc), RESP_NEED_MORE);
    assert_int_equal(resp_parser_want(&p), strlen("*2\r\n$3\r\nSET\r\n$100000\r\n") + 100002);
    resp_parser_fini(&p);
}

static void test_value_size_walks_every_resp3_type(void **state)
{
    static const char v[] = "*7\r\n+OK\r\n-ERR x\r\n:1\r\n$3\r\nabc\r\n_\r\n,1.5\r\n"
                            "%1\r\n$1\r\nk\r\n~1\r\n#t\r\n";

    (void)state;
    assert_int_equal(resp_value_size(v, sizeof(v) - 1), sizeof(v) - 1);
    assert_int_equal(resp_value_size(v, sizeof(v) - 3), 0);
    assert_int_equal(resp_value_size("$-1\r\n", 5), 5);
    assert_int_equal(resp_value_size("=7\r\ntxt:abc\r\n", 13), 13);
}

/* As Redis's sdssplitargs: a quote opens a quoted part in the middle of a
 * token too (FUNCTION LOAD's "#!lua name=\"q\"", inline commands). */
static void test_split_inline_quote_inside_a_token(void **state)
{
    char line[] = "#!lua name=\"q r\" a'b c'";
    char bad[] = "name=\"q\"x";
    struct sh_slice out[4];

    (void)state;
    assert_int_equal(resp_split_inline(line, strlen(line), out, 4), 3);
    assert_int_equal(out[1].len, 8);
    assert_memory_equal(out[1].ptr, "name=q r", 8);
    assert_int_equal(out[2].len, 4);
    assert_memory_equal(out[2].ptr, "ab c", 4);
    /* the closing quote must end the token */
    assert_int_equal(resp_split_inline(bad, strlen(bad), out, 4), -1);
}

static void test_split_inline_reports_more_than_max(void **state)
{
    char line[] = "a b c d";
    struct sh_slice out[2];

    (void)state;
    assert_int_equal(resp_split_inline(line, strlen(line), out, 2), 3);
    assert_int_equal(resp_split_inline(line, 0, out, 2), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_multibulk_command_is_parsed),
        cmocka_unit_test(test_split_inline_quote_inside_a_token),
        cmocka_unit_test(test_frames_split_at_every_byte_parse_the_same),
        cmocka_unit_test(test_binary_bulk_with_crlf_inside_is_kept),
        cmocka_unit_test(test_inline_escapes_are_unescaped),
        cmocka_unit_test(test_empty_inline_lines_and_empty_multibulk_are_skipped),
        cmocka_unit_test(test_bad_frames_get_redis_protocol_errors),
        cmocka_unit_test(test_lines_without_end_past_64k_are_errors),
        cmocka_unit_test(test_bulk_longer_than_the_limit_is_refused),
        cmocka_unit_test(test_parser_reports_the_size_a_large_bulk_needs),
        cmocka_unit_test(test_value_size_walks_every_resp3_type),
        cmocka_unit_test(test_split_inline_reports_more_than_max),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
