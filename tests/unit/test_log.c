/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * test_log.c: a thread's log buffer (log.h), with a fake submit hook in
 * place of the shard's ring: lines are appended in order and written by one
 * flush, a full half starts its write at once, lines that find both halves
 * busy are dropped and counted, short and failed writes, and the synchronous
 * writes of a thread without a buffer (or after detach), through a temp file
 * or a pipe set up as the log with log_setup.
 */
#include "shardis/log.h"

#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#define HALF 2048

/* The fake ring: what the last submit asked for, and what it answers. */
static struct {
    int calls;
    int fd;
    const char *buf;
    size_t len;
    int rc;
} hook;

static char path[64];

static int fake_submit(void *arg, int fd, const void *buf, size_t len)
{
    assert_ptr_equal(arg, &hook);
    hook.calls++;
    hook.fd = fd;
    hook.buf = buf;
    hook.len = len;
    return hook.rc;
}

/* Completes the write in flight as a ring would: writes its first n bytes
 * (all of them when n is 0) and reports it. */
static void complete(size_t n)
{
    size_t want = n ? n : hook.len;

    assert_true(log_buf_is_writing());
    assert_int_equal(write(hook.fd, hook.buf, want), (ssize_t)want);
    log_buf_written((int)want);
}

/* The whole log file, NUL-terminated; the caller frees it. */
static char *slurp(const char *name)
{
    FILE *f = fopen(name, "r");
    char *text = calloc(1, 1 << 16);
    size_t n;

    assert_non_null(f);
    assert_non_null(text);
    n = fread(text, 1, (1 << 16) - 1, f);
    text[n] = '\0';
    fclose(f);
    return text;
}

/* Where the batch last submitted holds `msg`, or -1 (it is not
 * NUL-terminated). */
static long batch_find(const char *msg)
{
    char *copy = strndup(hook.buf, hook.len);
    char *at;
    long pos;

    assert_non_null(copy);
    at = strstr(copy, msg);
    pos = at ? at - copy : -1;
    free(copy);
    return pos;
}

static bool batch_has(const char *msg)
{
    return batch_find(msg) >= 0;
}

static int count_lines(const char *buf, size_t len)
{
    int n = 0;

    for (size_t i = 0; i < len; i++) {
        n += buf[i] == '\n';
    }
    return n;
}

/* A numbered message of about 300 bytes, so a half holds a handful. */
static void log_numbered(int i)
{
    log_write(LOG_WARNING, "line %03d %0280d", i, 0);
}

static int setup(void **state)
{
    int fd;

    (void)state;
    snprintf(path, sizeof(path), "/tmp/shardis-test-log-XXXXXX");
    fd = mkstemp(path);
    if (fd < 0) {
        return -1;
    }
    close(fd);
    memset(&hook, 0, sizeof(hook));
    log_thread_init(LOG_DEBUG, "T");
    return log_setup(path);
}

static int teardown(void **state)
{
    char old[80];

    (void)state;
    /* a test may leave a write in flight: report it done so detach frees */
    if (log_buf_is_writing()) {
        log_buf_written(-ECANCELED);
    }
    log_buf_detach();
    log_teardown();
    unlink(path);
    snprintf(old, sizeof(old), "%s.1", path);
    unlink(old);
    return 0;
}

static void test_without_a_buffer_each_line_is_written_at_once(void **state)
{
    char prefix[32], *text;

    (void)state;
    log_write(LOG_WARNING, "hello %d", 42);
    text = slurp(path);
    snprintf(prefix, sizeof(prefix), "%d:T ", (int)getpid());
    assert_memory_equal(text, prefix, strlen(prefix));
    assert_non_null(strstr(text, " # hello 42\n"));
    assert_int_equal(count_lines(text, strlen(text)), 1);
    free(text);
}

static void test_buffered_lines_wait_for_one_flush_in_order(void **state)
{
    char *text;

    (void)state;
    log_buf_attach(HALF, fake_submit, &hook);
    log_write(LOG_NOTICE, "first");
    log_write(LOG_NOTICE, "second");
    log_write(LOG_NOTICE, "third");
    assert_int_equal(hook.calls, 0);
    text = slurp(path);
    assert_string_equal(text, ""); /* nothing written before the flush */
    free(text);

    log_buf_flush();
    assert_int_equal(hook.calls, 1);
    assert_true(log_buf_is_writing());
    assert_int_equal(count_lines(hook.buf, hook.len), 3);
    assert_true(batch_has("first"));
    assert_true(batch_find("first") < batch_find("second"));
    assert_true(batch_find("second") < batch_find("third"));
    complete(0);
    assert_false(log_buf_is_writing());

    log_buf_flush(); /* nothing new: no write */
    assert_int_equal(hook.calls, 1);
    text = slurp(path);
    assert_int_equal(count_lines(text, strlen(text)), 3);
    free(text);
}

static void test_the_hook_gets_the_log_fd(void **state)
{
    char *text;

    (void)state;
    log_buf_attach(HALF, fake_submit, &hook);
    log_write(LOG_NOTICE, "where");
    log_buf_flush();
    assert_int_equal(hook.calls, 1);
    complete(0); /* writes through hook.fd */
    text = slurp(path);
    assert_non_null(strstr(text, "where"));
    free(text);
}

static void test_a_full_half_calls_the_hook_at_once(void **state)
{
    char last[16];
    int i;

    (void)state;
    log_buf_attach(HALF, fake_submit, &hook);
    for (i = 0; i < 100 && hook.calls == 0; i++) {
        log_numbered(i);
    }
    /* line i - 1 did not fit: the lines before it went, without a flush */
    assert_int_equal(hook.calls, 1);
    assert_true(i > 2);
    assert_true(hook.len <= HALF);
    assert_int_equal(count_lines(hook.buf, hook.len), i - 1);
    assert_int_equal(batch_find("line 000"), batch_find(" # ") + 3);
    snprintf(last, sizeof(last), "line %03d", i - 1);
    assert_false(batch_has(last));
    complete(0);
    log_buf_flush();
    assert_int_equal(hook.calls, 2);
    assert_true(batch_has(last)); /* it waited in the other half */
    assert_int_equal(count_lines(hook.buf, hook.len), 1);
    complete(0);
}

static void test_lines_are_dropped_and_counted_while_the_other_half_is_written(void **state)
{
    int i, first, second, dropped;
    char notice[64], *text;

    (void)state;
    log_buf_attach(HALF, fake_submit, &hook);
    for (i = 0; i < 100 && hook.calls == 0; i++) {
        log_numbered(i);
    }
    assert_int_equal(hook.calls, 1);
    first = count_lines(hook.buf, hook.len);
    /* the first batch stays in flight: fill the other half and beyond */
    for (int j = 0; j < 20; j++) {
        log_numbered(i++);
        log_buf_flush(); /* in flight: must not start another write */
    }
    assert_int_equal(hook.calls, 1);
    complete(0);

    log_buf_flush();
    assert_int_equal(hook.calls, 2);
    second = count_lines(hook.buf, hook.len);
    dropped = i - first - second;
    assert_true(dropped > 0);
    assert_false(batch_has("dropped")); /* the notice follows this batch */
    complete(0);

    log_write(LOG_NOTICE, "after the gap");
    log_buf_flush();
    assert_int_equal(hook.calls, 3);
    snprintf(notice, sizeof(notice), " # %d log lines dropped", dropped);
    /* the batch starts with the notice, then the new line */
    assert_int_equal(count_lines(hook.buf, hook.len), 2);
    assert_true(batch_has(notice));
    assert_true(batch_find(notice) < (const char *)memchr(hook.buf, '\n', hook.len) - hook.buf);
    assert_true(batch_find(notice) < batch_find("after the gap"));
    complete(0);
    log_write(LOG_NOTICE, "no gap");
    log_buf_flush();
    assert_int_equal(hook.calls, 4);
    assert_false(batch_has("dropped")); /* one notice per gap */
    complete(0);

    text = slurp(path);
    assert_int_equal(count_lines(text, strlen(text)), first + second + 3);
    assert_true(strstr(text, "line 000") < strstr(text, notice));
    free(text);
}

static void test_a_short_write_sends_the_rest_next(void **state)
{
    const char *start;
    size_t len;
    char *text;

    (void)state;
    log_buf_attach(HALF, fake_submit, &hook);
    log_write(LOG_NOTICE, "one");
    log_write(LOG_NOTICE, "two");
    log_buf_flush();
    start = hook.buf;
    len = hook.len;
    complete(10);
    assert_false(log_buf_is_writing());
    log_write(LOG_NOTICE, "three");
    log_buf_flush();
    assert_int_equal(hook.calls, 2);
    assert_ptr_equal(hook.buf, start + 10);
    assert_int_equal(hook.len, len - 10);
    assert_false(batch_has("three")); /* not before the rest is written */
    complete(0);
    log_buf_flush();
    assert_int_equal(hook.calls, 3);
    assert_true(batch_has("three"));
    complete(0);

    text = slurp(path);
    assert_int_equal(count_lines(text, strlen(text)), 3);
    assert_true(strstr(text, "one") < strstr(text, "two"));
    assert_true(strstr(text, "two") < strstr(text, "three"));
    free(text);
}

static void test_a_failed_write_drops_its_batch(void **state)
{
    char *text;

    (void)state;
    log_buf_attach(HALF, fake_submit, &hook);
    log_write(LOG_NOTICE, "lost");
    log_buf_flush();
    log_buf_written(-EIO);
    assert_false(log_buf_is_writing());
    log_write(LOG_NOTICE, "kept");
    log_buf_flush();
    assert_int_equal(hook.calls, 2);
    assert_false(batch_has("lost"));
    assert_true(batch_has("kept"));
    complete(0);
    log_buf_detach();

    text = slurp(path);
    assert_null(strstr(text, "lost"));
    assert_non_null(strstr(text, "kept"));
    free(text);
}

static void test_a_hook_that_cannot_start_keeps_the_lines(void **state)
{
    char *text;

    (void)state;
    log_buf_attach(HALF, fake_submit, &hook);
    hook.rc = -EAGAIN;
    log_write(LOG_NOTICE, "early");
    log_buf_flush();
    assert_int_equal(hook.calls, 1);
    assert_false(log_buf_is_writing());
    log_write(LOG_NOTICE, "later");
    hook.rc = 0;
    log_buf_flush(); /* the waiting batch first, alone */
    assert_int_equal(hook.calls, 2);
    assert_true(batch_has("early"));
    assert_false(batch_has("later"));
    complete(0);
    log_buf_detach(); /* "later" is written here */

    text = slurp(path);
    assert_non_null(strstr(text, "early"));
    assert_non_null(strstr(text, "later"));
    assert_true(strstr(text, "early") < strstr(text, "later"));
    free(text);
}

static void test_detach_writes_what_is_left_then_lines_go_direct(void **state)
{
    char *text;
    int calls;

    (void)state;
    log_buf_attach(HALF, fake_submit, &hook);
    log_write(LOG_NOTICE, "alpha");
    log_write(LOG_NOTICE, "beta");
    log_buf_flush();
    complete(7); /* a short write: the rest is left to detach */
    log_write(LOG_NOTICE, "gamma");
    log_buf_detach();
    calls = hook.calls;
    text = slurp(path);
    assert_int_equal(count_lines(text, strlen(text)), 3);
    assert_true(strstr(text, "alpha") < strstr(text, "beta"));
    assert_true(strstr(text, "beta") < strstr(text, "gamma"));
    free(text);

    log_write(LOG_NOTICE, "delta");
    assert_int_equal(hook.calls, calls);
    text = slurp(path);
    assert_non_null(strstr(text, "delta"));
    free(text);
}

static void test_detach_reports_lines_dropped_since_the_last_batch(void **state)
{
    char *text, *notice;
    int i;

    (void)state;
    log_buf_attach(HALF, fake_submit, &hook);
    for (i = 0; i < 100 && hook.calls == 0; i++) {
        log_numbered(i);
    }
    assert_int_equal(hook.calls, 1);
    for (int j = 0; j < 20; j++) {
        log_numbered(i++);
    }
    complete(0);
    log_buf_detach();

    text = slurp(path);
    notice = strstr(text, "log lines dropped");
    assert_non_null(notice);
    assert_int_equal(strchr(notice, '\n')[1], '\0'); /* the last line */
    free(text);
}

static void test_reopen_keeps_the_fd_number_for_buffered_writes(void **state)
{
    char old[80], *text;
    int fd;

    (void)state;
    snprintf(old, sizeof(old), "%s.1", path);
    log_buf_attach(HALF, fake_submit, &hook);
    log_write(LOG_NOTICE, "before rotation");
    log_buf_flush();
    fd = hook.fd;
    complete(0);
    assert_int_equal(rename(path, old), 0);
    assert_int_equal(log_reopen(), 0);
    log_write(LOG_NOTICE, "after rotation");
    log_buf_flush();
    assert_int_equal(hook.fd, fd);
    complete(0);

    text = slurp(path);
    assert_non_null(strstr(text, "after rotation"));
    assert_null(strstr(text, "before rotation"));
    free(text);
    text = slurp(old);
    assert_non_null(strstr(text, "before rotation"));
    assert_null(strstr(text, "after rotation"));
    free(text);
}

static void test_a_pipe_gets_direct_and_detached_lines(void **state)
{
    char name[32], got[4096];
    int p[2];
    ssize_t n;

    (void)state;
    log_teardown();
    assert_int_equal(pipe(p), 0);
    snprintf(name, sizeof(name), "/dev/fd/%d", p[1]);
    assert_int_equal(log_setup(name), 0);
    log_write(LOG_NOTICE, "direct to a pipe");
    log_buf_attach(HALF, fake_submit, &hook);
    log_write(LOG_NOTICE, "buffered for a pipe");
    log_buf_detach();
    close(p[1]);
    log_teardown(); /* closes its own descriptor of the pipe */
    n = read(p[0], got, sizeof(got) - 1);
    close(p[0]);
    assert_true(n > 0);
    got[n] = '\0';
    assert_int_equal(count_lines(got, (size_t)n), 2);
    assert_true(strstr(got, "direct to a pipe") < strstr(got, "buffered for a pipe"));
    assert_int_equal(log_setup(path), 0); /* for teardown */
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_without_a_buffer_each_line_is_written_at_once, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_buffered_lines_wait_for_one_flush_in_order, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_the_hook_gets_the_log_fd, setup, teardown),
        cmocka_unit_test_setup_teardown(test_a_full_half_calls_the_hook_at_once, setup, teardown),
        cmocka_unit_test_setup_teardown(
                test_lines_are_dropped_and_counted_while_the_other_half_is_written, setup,
                teardown),
        cmocka_unit_test_setup_teardown(test_a_short_write_sends_the_rest_next, setup, teardown),
        cmocka_unit_test_setup_teardown(test_a_failed_write_drops_its_batch, setup, teardown),
        cmocka_unit_test_setup_teardown(test_a_hook_that_cannot_start_keeps_the_lines, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_detach_writes_what_is_left_then_lines_go_direct, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_detach_reports_lines_dropped_since_the_last_batch,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(test_reopen_keeps_the_fd_number_for_buffered_writes, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_a_pipe_gets_direct_and_detached_lines, setup,
                                        teardown),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
