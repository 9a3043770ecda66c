/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * test_script.c: the Lua scripting engine driven by a fake host, as a shard
 * will drive it: each redis.call comes out as a CALL step, the fake host
 * executes it against a tiny key-value store (or returns raw RESP bytes the
 * script chose, to test every reply type) and resumes the run. The expected
 * replies and errors are what redis-server 7.0.15 answers to the same
 * scripts (checked with redis-cli and a raw socket).
 */
#include "shardis/reply.h"
#include "shardis/script.h"
#include "shardis/sha1.h"

#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#define STORE_MAX 32

struct kv {
    char k[64];
    char v[64];
};

struct fixture {
    struct script_vm *vm;
    struct rbuf out; /* the reply of the last run */
    struct rbuf cmd; /* the reply of the last command */
    struct kv store[STORE_MAX];
    int nstore;
    /* what the host saw */
    int calls;
    int busy_steps;
    int last_resp;
    int last_repl;
    bool last_pcall;
    enum script_call_kind last_kind;
    char last_argv[8][64];
    int last_argc;
    /* the fake clock: advances tick ms at each reading */
    int64_t now;
    int64_t tick;
    int64_t busy_ms;
    /* the host kills the run at this BUSY step / this call (0: never) */
    int kill_at_busy;
    int kill_at_call;
};

static int setup(void **state)
{
    struct fixture *f = calloc(1, sizeof(*f));

    f->vm = script_vm_create();
    rbuf_init(&f->out);
    rbuf_init(&f->cmd);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    struct fixture *f = *state;

    script_vm_destroy(f->vm);
    rbuf_fini(&f->out);
    rbuf_fini(&f->cmd);
    free(f);
    return 0;
}

static int64_t fake_clock(void *arg)
{
    struct fixture *f = arg;

    f->now += f->tick;
    return f->now;
}

static struct kv *store_find(struct fixture *f, struct sh_slice k)
{
    for (int i = 0; i < f->nstore; i++) {
        if (strlen(f->store[i].k) == k.len && memcmp(f->store[i].k, k.ptr, k.len) == 0) {
            return &f->store[i];
        }
    }
    return NULL;
}

static void store_set(struct fixture *f, struct sh_slice k, struct sh_slice v)
{
    struct kv *e = store_find(f, k);

    if (e == NULL) {
        assert_true(f->nstore < STORE_MAX);
        e = &f->store[f->nstore++];
        snprintf(e->k, sizeof(e->k), "%.*s", (int)k.len, k.ptr);
    }
    snprintf(e->v, sizeof(e->v), "%.*s", (int)v.len, v.ptr);
}

static void exec_acl_check(const struct script_call *c, struct reply *r)
{
    if (sh_slice_eq_nocase(c->argv[0], "nosuch")) {
        reply_error(r, "ERR Invalid command passed to redis.acl_check_cmd()");
    } else {
        reply_int(r, sh_slice_eq_nocase(c->argv[0], "set") ? 0 : 1);
    }
}

/* The fake host's commands. RAW replies with its argument as it is. */
static void exec_call(struct fixture *f, const struct script_call *c, struct reply *r)
{
    const struct sh_slice *a = c->argv;
    struct kv *e;

    if (c->kind == SCRIPT_CALL_ACL_CHECK) {
        exec_acl_check(c, r);
    } else if (sh_slice_eq_nocase(a[0], "ping") && c->argc == 1) {
        reply_status(r, "PONG");
    } else if (sh_slice_eq_nocase(a[0], "set") && c->argc == 3) {
        store_set(f, a[1], a[2]);
        reply_ok(r);
    } else if (sh_slice_eq_nocase(a[0], "get") && c->argc == 2) {
        e = store_find(f, a[1]);
        if (e == NULL) {
            reply_null(r);
        } else {
            reply_bulk_cstr(r, e->v);
        }
    } else if (sh_slice_eq_nocase(a[0], "incr") && c->argc == 2) {
        char *end;
        long long v;

        e = store_find(f, a[1]);
        v = e == NULL ? 0 : strtoll(e->v, &end, 10);
        if (e != NULL && (*end != '\0' || e->v[0] == '\0')) {
            reply_err_notint(r);
        } else {
            char tmp[32];

            snprintf(tmp, sizeof(tmp), "%lld", v + 1);
            store_set(f, a[1], (struct sh_slice){ tmp, strlen(tmp) });
            reply_int(r, v + 1);
        }
    } else if (sh_slice_eq_nocase(a[0], "raw") && c->argc == 2) {
        reply_raw(r, a[1].ptr, a[1].len);
    } else if (sh_slice_eq_nocase(a[0], "argv")) {
        reply_array(r, c->argc - 1);
        for (int i = 1; i < c->argc; i++) {
            reply_bulk(r, a[i].ptr, a[i].len);
        }
    } else {
        reply_error(r, "ERR Unknown Redis command called from script");
    }
}

static void record_call(struct fixture *f, const struct script_call *c)
{
    f->calls++;
    f->last_kind = c->kind;
    f->last_pcall = c->pcall;
    f->last_resp = c->resp;
    f->last_repl = c->repl;
    f->last_argc = c->argc;
    for (int i = 0; i < c->argc && i < 8; i++) {
        snprintf(f->last_argv[i], sizeof(f->last_argv[i]), "%.*s", (int)c->argv[i].len,
                 c->argv[i].ptr);
    }
}

/* Drives a started run to its end as a host does. */
static void drive(struct fixture *f, int st, struct reply *out)
{
    int steps = 0;

    while (st != SCRIPT_DONE) {
        assert_true(script_run_active(f->vm));
        assert_true(++steps < 100000);
        if (st == SCRIPT_CALL) {
            const struct script_call *c = script_run_call(f->vm);
            struct reply r;

            assert_non_null(c);
            record_call(f, c);
            f->cmd.len = 0;
            r = (struct reply){ .buf = &f->cmd, .proto = c->resp };
            exec_call(f, c, &r);
            if (f->calls == f->kill_at_call) {
                script_run_kill(f->vm);
            }
            st = script_run_resume(f->vm, f->cmd.data, f->cmd.len, out);
        } else {
            assert_int_equal(st, SCRIPT_BUSY);
            assert_null(script_run_call(f->vm));
            assert_true(script_run_timed_out(f->vm));
            f->busy_steps++;
            if (f->busy_steps == f->kill_at_busy) {
                script_run_kill(f->vm);
            }
            st = script_run_resume(f->vm, NULL, 0, out);
        }
    }
    assert_false(script_run_active(f->vm));
}

/* EVAL body numkeys v[0..n): returns the reply, NUL-terminated. */
static const char *eval_v(struct fixture *f, int proto, const char *body, int nkeys, int n,
                          const char *const *v)
{
    struct reply out = { .buf = &f->out, .proto = proto };
    struct sh_slice s[16];
    struct script_run_opts o = { .clock = fake_clock, .clock_arg = f, .busy_ms = f->busy_ms };
    char sha[SCRIPT_SHA_LEN + 1];

    assert_true(n <= 16);
    f->out.len = 0;
    if (script_load(f->vm, body, strlen(body), sha, NULL, &out) == 0) {
        for (int i = 0; i < n; i++) {
            s[i] = (struct sh_slice){ v[i], strlen(v[i]) };
        }
        drive(f,
              script_run_start(f->vm, (struct sh_slice){ sha, SCRIPT_SHA_LEN }, nkeys, s, n - nkeys,
                               s + nkeys, &o, &out),
              &out);
    }
    rbuf_append(&f->out, "", 1);
    f->out.len--;
    return f->out.data;
}

static const char *eval(struct fixture *f, const char *body)
{
    return eval_v(f, 2, body, 0, 0, NULL);
}

static const char *eval3(struct fixture *f, const char *body)
{
    return eval_v(f, 3, body, 0, 0, NULL);
}

/* The error reply of a failed script: "-<msg> script: <sha>, on
 * @user_script:<line>.\r\n". */
static const char *script_error(const char *body, const char *msg, int line)
{
    static char buf[512];
    uint8_t d[SHA1_LEN];
    char hex[2 * SHA1_LEN + 1];

    sha1(body, strlen(body), d);
    sha1_hex(d, hex);
    snprintf(buf, sizeof(buf), "-%s script: %s, on @user_script:%d.\r\n", msg, hex, line);
    return buf;
}

/* "$<len>\r\n<s>\r\n" */
static const char *bulk_of(const char *s)
{
    static char buf[512];

    snprintf(buf, sizeof(buf), "$%zu\r\n%s\r\n", strlen(s), s);
    return buf;
}

static void expect_error(struct fixture *f, const char *body, const char *msg, int line)
{
    const char *got = eval(f, body);

    assert_string_equal(got, script_error(body, msg, line));
}

/* ---- Lua -> RESP ---- */

static void test_script_values_become_resp2_replies(void **state)
{
    struct fixture *f = *state;

    assert_string_equal(eval(f, "return 1"), ":1\r\n");
    assert_string_equal(eval(f, "return 3.99"), ":3\r\n");
    assert_string_equal(eval(f, "return -3.99"), ":-3\r\n");
    assert_string_equal(eval(f, "return 0/0"), ":-9223372036854775808\r\n");
    assert_string_equal(eval(f, "return 1e300"), ":-9223372036854775808\r\n");
    assert_string_equal(eval(f, "return 'abc'"), "$3\r\nabc\r\n");
    assert_string_equal(eval(f, "return true"), ":1\r\n");
    assert_string_equal(eval(f, "return false"), "$-1\r\n");
    assert_string_equal(eval(f, "return nil"), "$-1\r\n");
    assert_string_equal(eval(f, "return"), "$-1\r\n");
    assert_string_equal(eval(f, "return 1, 2"), ":1\r\n");
    assert_string_equal(eval(f, "return {1, 2, nil, 4}"), "*2\r\n:1\r\n:2\r\n");
    assert_string_equal(eval(f, "return {1, 'a', true, false, 3.5}"),
                        "*5\r\n:1\r\n$1\r\na\r\n:1\r\n$-1\r\n:3\r\n");
    assert_string_equal(eval(f, "return {1, {2, {3}}}"), "*2\r\n:1\r\n*2\r\n:2\r\n*1\r\n:3\r\n");
    assert_string_equal(eval(f, "return {ok = 'a\\r\\nb'}"), "+a  b\r\n");
    assert_string_equal(eval(f, "return {err = 'a\\r\\nb'}"), "-a  b\r\n");
    assert_string_equal(eval(f, "return {err = 'x\\r\\n'}"), "-x\r\n");
    assert_string_equal(eval(f, "return {err = 1}"), "*0\r\n");
    assert_string_equal(eval(f, "return {err = 'e', ok = 'o'}"), "-e\r\n");
    assert_string_equal(eval(f, "return {5, ok = 'x'}"), "+x\r\n");
    assert_string_equal(eval(f, "return {double = 3.5}"), "$3\r\n3.5\r\n");
    assert_string_equal(eval(f, "return {double = 0.1}"), "$19\r\n0.10000000000000001\r\n");
    assert_string_equal(eval(f, "return {double = 1/0}"), "$3\r\ninf\r\n");
    assert_string_equal(eval(f, "return {big_number = '12\\r\\n3'}"), "$5\r\n12  3\r\n");
    assert_string_equal(eval(f, "return {map = {a = 1}}"), "*2\r\n$1\r\na\r\n:1\r\n");
    assert_string_equal(eval(f, "return {set = {a = true}}"), "*1\r\n$1\r\na\r\n");
    assert_string_equal(eval(f, "return {verbatim_string = {format = 'txt', string = 'hi'}}"),
                        "$2\r\nhi\r\n");
    assert_string_equal(eval(f, "return function() end"), "$-1\r\n");
}

static void test_script_values_become_resp3_replies(void **state)
{
    struct fixture *f = *state;

    assert_string_equal(eval3(f, "return {double = 3.5}"), ",3.5\r\n");
    assert_string_equal(eval3(f, "return {big_number = '123'}"), "(123\r\n");
    assert_string_equal(eval3(f, "return {map = {a = 1}}"), "%1\r\n$1\r\na\r\n:1\r\n");
    assert_string_equal(eval3(f, "return {set = {a = true, b = false}}"),
                        "~2\r\n$1\r\na\r\n$1\r\nb\r\n");
    assert_string_equal(eval3(f, "return {verbatim_string = {format = 'txt', string = 'x'}}"),
                        "=5\r\ntxt:x\r\n");
    assert_string_equal(eval3(f, "return {verbatim_string = {format = 't', string = 'x'}}"),
                        "=5\r\nt  :x\r\n");
    /* the order Redis tries the special fields in */
    assert_string_equal(eval3(f, "return {map = {a = 1}, double = 1.5}"), ",1.5\r\n");
    assert_string_equal(eval3(f, "return {big_number = '1', double = 1.5}"), ",1.5\r\n");
    assert_string_equal(eval3(f, "return {map = {a = 1}, verbatim_string = {format = 'txt', "
                                 "string = 'x'}}"),
                        "=5\r\ntxt:x\r\n");
    assert_string_equal(eval3(f, "return {set = {x = true}, map = {a = 1}}"),
                        "%1\r\n$1\r\na\r\n:1\r\n");
    assert_string_equal(eval3(f, "return {set = {1, 2}}"), "~2\r\n:1\r\n:2\r\n");
    /* booleans: RESP2 rules until the script asks for RESP3 */
    assert_string_equal(eval3(f, "return true"), ":1\r\n");
    assert_string_equal(eval3(f, "return false"), "_\r\n");
    assert_string_equal(eval3(f, "return nil"), "_\r\n");
    assert_string_equal(eval3(f, "redis.setresp(3) return true"), "#t\r\n");
    assert_string_equal(eval3(f, "redis.setresp(3) return false"), "#f\r\n");
    assert_string_equal(eval3(f, "redis.setresp(3) return {1, false, true}"),
                        "*3\r\n:1\r\n#f\r\n#t\r\n");
    assert_string_equal(eval(f, "redis.setresp(3) return true"), ":1\r\n");
    assert_string_equal(eval(f, "redis.setresp(3) return false"), ":0\r\n");
}

static void test_a_table_that_contains_itself_ends_at_the_stack_limit(void **state)
{
    struct fixture *f = *state;
    const char *got = eval(f, "local t = {} t[1] = t return t");
    size_t len = strlen(got);
    const char *tail = "-ERR reached lua stack limit\r\n";

    assert_true(len > strlen(tail) + 1000);
    assert_memory_equal(got, "*1\r\n*1\r\n", 8);
    assert_string_equal(got + len - strlen(tail), tail);
}

/* ---- RESP -> Lua ---- */

static void test_resp2_replies_become_lua_values(void **state)
{
    struct fixture *f = *state;

    assert_string_equal(eval(f, "local r = redis.call('raw', ':42\\r\\n') return {type(r), r}"),
                        "*2\r\n$6\r\nnumber\r\n:42\r\n");
    assert_string_equal(
            eval(f, "local r = redis.call('raw', '$2\\r\\nab\\r\\n') return {type(r), r}"),
            "*2\r\n$6\r\nstring\r\n$2\r\nab\r\n");
    assert_string_equal(
            eval(f, "local r = redis.call('get', 'nokey') return {type(r), tostring(r)}"),
            "*2\r\n$7\r\nboolean\r\n$5\r\nfalse\r\n");
    assert_string_equal(eval(f, "local r = redis.call('raw', '*-1\\r\\n') return type(r)"),
                        "$7\r\nboolean\r\n");
    assert_string_equal(eval(f, "local r = redis.call('raw', '*2\\r\\n:1\\r\\n$1\\r\\nx\\r\\n') "
                                "return {r[1], r[2], #r}"),
                        "*3\r\n:1\r\n$1\r\nx\r\n:2\r\n");
    assert_string_equal(eval(f, "local r = redis.call('ping') return {type(r), r.ok}"),
                        "*2\r\n$5\r\ntable\r\n$4\r\nPONG\r\n");
    assert_string_equal(eval(f, "return redis.call('ping')"), "+PONG\r\n");
    /* an error inside an array stays a value */
    assert_string_equal(eval(f, "local r = redis.call('raw', '*1\\r\\n-ERR x y\\r\\n') "
                                "return r[1].err"),
                        "$7\r\nERR x y\r\n");
    assert_int_equal(f->last_resp, 2);
}

static void test_resp3_replies_become_lua_values_after_setresp(void **state)
{
    struct fixture *f = *state;

    assert_string_equal(eval(f, "redis.setresp(3) local r = redis.call('raw', "
                                "'%1\\r\\n$1\\r\\nf\\r\\n$1\\r\\nv\\r\\n') return r.map.f"),
                        "$1\r\nv\r\n");
    assert_int_equal(f->last_resp, 3);
    assert_string_equal(eval3(f, "redis.setresp(3) return redis.call('raw', "
                                 "'%1\\r\\n$1\\r\\nf\\r\\n$1\\r\\nv\\r\\n')"),
                        "%1\r\n$1\r\nf\r\n$1\r\nv\r\n");
    assert_string_equal(eval(f, "redis.setresp(3) local r = redis.call('raw', "
                                "'~1\\r\\n$1\\r\\nm\\r\\n') return {tostring(r.set.m)}"),
                        "*1\r\n$4\r\ntrue\r\n");
    assert_string_equal(eval(f, "redis.setresp(3) local r = redis.call('raw', '_\\r\\n') "
                                "return type(r)"),
                        "$3\r\nnil\r\n");
    assert_string_equal(eval(f, "redis.setresp(3) local r = redis.call('raw', '#f\\r\\n') "
                                "return {type(r), tostring(r)}"),
                        "*2\r\n$7\r\nboolean\r\n$5\r\nfalse\r\n");
    assert_string_equal(eval(f, "redis.setresp(3) local r = redis.call('raw', ',1.5\\r\\n') "
                                "return tostring(r.double)"),
                        "$3\r\n1.5\r\n");
    assert_string_equal(eval3(f, "redis.setresp(3) return redis.call('raw', ',1.5\\r\\n')"),
                        ",1.5\r\n");
    assert_string_equal(eval(f, "redis.setresp(3) local r = redis.call('raw', '(123\\r\\n') "
                                "return r.big_number"),
                        "$3\r\n123\r\n");
    assert_string_equal(eval(f, "redis.setresp(3) local r = redis.call('raw', "
                                "'=7\\r\\ntxt:abc\\r\\n') return {r.verbatim_string.format, "
                                "r.verbatim_string.string}"),
                        "*2\r\n$3\r\ntxt\r\n$3\r\nabc\r\n");
    /* attributes are dropped */
    assert_string_equal(eval(f, "redis.setresp(3) return redis.call('raw', "
                                "'|1\\r\\n+a\\r\\n+b\\r\\n:7\\r\\n')"),
                        ":7\r\n");
    assert_string_equal(eval(f, "redis.setresp(3) local r = redis.pcall('raw', "
                                "'!5\\r\\nERR x\\r\\n') return r.err"),
                        "$5\r\nERR x\r\n");
}

static void test_a_malformed_reply_becomes_an_error(void **state)
{
    struct fixture *f = *state;

    assert_string_equal(eval(f, "return redis.pcall('raw', '*2\\r\\n:1\\r\\n')"),
                        "-ERR shardis: the command's reply could not be read\r\n");
    assert_string_equal(eval(f, "return redis.pcall('raw', '')"),
                        "-ERR shardis: the command's reply could not be read\r\n");
}

/* ---- calls ---- */

static void test_call_arguments_are_strings_and_numbers_as_redis_formats_them(void **state)
{
    struct fixture *f = *state;

    assert_string_equal(eval(f, "return redis.call('argv', 'a', 3, 0.1, 1e20, -0.0)"),
                        "*5\r\n$1\r\na\r\n$1\r\n3\r\n$19\r\n0.10000000000000001\r\n$5\r\n1e+20\r\n$"
                        "2\r\n-0\r\n");
    assert_int_equal(f->last_argc, 6);
    assert_string_equal(f->last_argv[0], "argv");
    assert_false(f->last_pcall);
    assert_int_equal(f->last_kind, SCRIPT_CALL_COMMAND);
    assert_int_equal(f->last_repl, SCRIPT_REPL_ALL);
    eval(f, "redis.set_repl(redis.REPL_AOF) return redis.pcall('ping')");
    assert_true(f->last_pcall);
    assert_int_equal(f->last_repl, SCRIPT_REPL_AOF);
    expect_error(f, "return redis.call('get', {})",
                 "ERR Lua redis lib command arguments must be strings or integers", 1);
    expect_error(f, "return redis.call('get', nil)",
                 "ERR Lua redis lib command arguments must be strings or integers", 1);
    expect_error(f, "return redis.call()",
                 "ERR Please specify at least one argument for this redis lib call", 1);
    assert_string_equal(eval(f, "return redis.pcall()"),
                        "-ERR Please specify at least one argument for this redis lib call\r\n");
    assert_string_equal(eval(f, "return redis.pcall('get', {})"),
                        "-ERR Lua redis lib command arguments must be strings or integers\r\n");
}

static void test_keys_and_argv_are_given_to_the_script(void **state)
{
    struct fixture *f = *state;
    const char *v[] = { "k1", "k2", "a1" };

    assert_string_equal(eval_v(f, 2, "return {#KEYS, #ARGV, KEYS[1], KEYS[2], ARGV[1]}", 2, 3, v),
                        "*5\r\n:2\r\n:1\r\n$2\r\nk1\r\n$2\r\nk2\r\n$2\r\na1\r\n");
    assert_string_equal(eval_v(f, 2,
                               "redis.call('set', KEYS[1], ARGV[1]) "
                               "return redis.call('get', KEYS[1])",
                               1, 2, (const char *[]){ "k", "v" }),
                        "$1\r\nv\r\n");
    assert_string_equal(eval(f, "return {#KEYS, #ARGV}"), "*2\r\n:0\r\n:0\r\n");
    assert_string_equal(eval(f, "KEYS[1] = 'a' return KEYS[1]"), "$1\r\na\r\n");
    assert_string_equal(eval(f, "return select('#', ...)"), ":0\r\n");
}

static void test_a_command_error_raises_with_the_script_position(void **state)
{
    struct fixture *f = *state;

    expect_error(f, "return redis.call('nosuch')", "ERR Unknown Redis command called from script",
                 1);
    expect_error(f, "redis.call('set', 's', 'x')\nlocal a = 1\nreturn redis.call('incr', 's')",
                 "ERR value is not an integer or out of range", 3);
    assert_string_equal(eval(f, "return redis.pcall('nosuch')"),
                        "-ERR Unknown Redis command called from script\r\n");
    assert_string_equal(eval(f, "redis.call('set', 's', 'x') local r = redis.pcall('incr', 's') "
                                "local t = {} for k, v in pairs(r) do t[#t + 1] = k .. '=' .. "
                                "tostring(v) end table.sort(t) return t"),
                        "*2\r\n$47\r\nerr=ERR value is not an integer or out of range\r\n$30\r\n"
                        "ignore_error_stats_update=true\r\n");
}

static void test_pcall_catches_redis_call_errors_as_redis_does(void **state)
{
    struct fixture *f = *state;

    assert_string_equal(eval(f, "local ok, e = pcall(redis.call, 'nosuch') "
                                "return {tostring(ok), e}"),
                        "*2\r\n$5\r\nfalse\r\n$44\r\nERR Unknown Redis command called from "
                        "script\r\n");
    assert_string_equal(eval(f, "return {pcall(redis.call, 'ping')}"), "*2\r\n:1\r\n+PONG\r\n");
    /* several calls inside one pcall, and pcall inside pcall */
    assert_string_equal(eval(f, "return {pcall(function() redis.call('set', 'a', '1') "
                                "local x = redis.call('incr', 'a') return pcall(function() "
                                "return x + redis.call('incr', 'a') end) end)}"),
                        "*3\r\n:1\r\n:1\r\n:5\r\n");
    assert_string_equal(eval(f, "return {pcall(function() return pcall(function() "
                                "return redis.call('incr', 'a') end) end)}"),
                        "*3\r\n:1\r\n:1\r\n:4\r\n");
    assert_string_equal(eval(f, "return {pcall(error, 'x')}"), "*2\r\n$-1\r\n$1\r\nx\r\n");
    assert_string_equal(eval(f, "return {pcall(error, {err = 'y'})}"), "*2\r\n$-1\r\n$1\r\ny\r\n");
    assert_string_equal(eval(f, "local ok, e = pcall(function() error({foo = 'tbl'}) end) "
                                "return type(e)"),
                        "$5\r\ntable\r\n");
    assert_string_equal(eval(f, "return {pcall(function() local x = nil; return x.y end)}"),
                        "*2\r\n$-1\r\n$55\r\nuser_script:1: attempt to index local 'x' (a nil "
                        "value)\r\n");
    assert_string_equal(eval(f, "return {pcall(function() error('m', 2) end)}"),
                        "*2\r\n$-1\r\n$1\r\nm\r\n");
    assert_string_equal(eval(f, "return {pcall(nil)}"),
                        "*2\r\n$-1\r\n$27\r\nattempt to call a nil value\r\n");
    assert_string_equal(eval(f, "return {pcall(pcall)}"),
                        "*3\r\n:1\r\n$-1\r\n$31\r\nattempt to call a boolean value\r\n");
    assert_string_equal(eval(f, "return {pcall(function() return 1, 2, 3 end)}"),
                        "*4\r\n:1\r\n:1\r\n:2\r\n:3\r\n");
    assert_string_equal(eval(f, "return {pcall(redis.sha1hex)}"),
                        "*2\r\n$-1\r\n$29\r\nERR wrong number of arguments\r\n");
    assert_string_equal(eval(f, "return pcall(coroutine.yield)"), "$-1\r\n");
}

static void test_xpcall_gives_its_handler_the_error_table(void **state)
{
    struct fixture *f = *state;

    assert_string_equal(eval(f, "return {xpcall(function() redis.call('nosuch') end, "
                                "function(e) return type(e) end)}"),
                        "*2\r\n$-1\r\n$5\r\ntable\r\n");
    assert_string_equal(eval(f, "return {xpcall(function() redis.call('nosuch') end, "
                                "function(e) return e.err end)}"),
                        "*2\r\n$-1\r\n$44\r\nERR Unknown Redis command called from script\r\n");
    assert_string_equal(eval(f, "return {xpcall(function() error('z') end, "
                                "function(e) return 'H:' .. e end)}"),
                        "*2\r\n$-1\r\n$18\r\nH:user_script:1: z\r\n");
    assert_string_equal(eval(f, "return {xpcall(function() error('z') end, "
                                "function(e) error('again') end)}"),
                        "*2\r\n$-1\r\n$23\r\nerror in error handling\r\n");
    assert_string_equal(eval(f, "return {xpcall(function() error('z') end, 42)}"),
                        "*2\r\n$-1\r\n$23\r\nerror in error handling\r\n");
    assert_string_equal(eval(f, "return {xpcall(function() return redis.call('ping') end, "
                                "error)}"),
                        "*2\r\n:1\r\n+PONG\r\n");
    expect_error(f, "return {xpcall(function() return 1 end)}",
                 "ERR user_script:1: bad argument #2 to 'xpcall' (value expected)", 1);
}

static void test_redis_call_works_inside_coroutines(void **state)
{
    struct fixture *f = *state;

    assert_string_equal(eval(f, "return coroutine.wrap(function() return redis.call('ping') "
                                "end)()"),
                        "+PONG\r\n");
    assert_string_equal(eval(f, "local co = coroutine.create(function() "
                                "coroutine.yield(redis.call('ping')) return 'done' end) "
                                "local a, b = coroutine.resume(co) local c, d = "
                                "coroutine.resume(co) return {tostring(a), b, tostring(c), d, "
                                "coroutine.status(co)}"),
                        "*5\r\n$4\r\ntrue\r\n+PONG\r\n$4\r\ntrue\r\n$4\r\ndone\r\n$4\r\ndead\r\n");
    assert_string_equal(eval(f, "return {coroutine.resume(coroutine.create(function() "
                                "error('q') end))}"),
                        "*2\r\n$-1\r\n$16\r\nuser_script:1: q\r\n");
    assert_string_equal(eval(f, "return {pcall(coroutine.wrap(function() error('q') end))}"),
                        "*2\r\n$-1\r\n$16\r\nuser_script:1: q\r\n");
    assert_string_equal(eval(f, "return {coroutine.resume(coroutine.create(function() "
                                "return 1, 2 end))}"),
                        "*3\r\n:1\r\n:1\r\n:2\r\n");
    assert_string_equal(eval(f, "local co = coroutine.create(function() end) "
                                "coroutine.resume(co) return {coroutine.resume(co)}"),
                        "*2\r\n$-1\r\n$28\r\ncannot resume dead coroutine\r\n");
    assert_string_equal(eval(f, "return {tostring(coroutine.running())}"), "*1\r\n$3\r\nnil\r\n");
    assert_string_equal(eval(f, "local co co = coroutine.create(function() "
                                "return pcall(function() return coroutine.running() == co end) "
                                "end) return {coroutine.resume(co)}"),
                        "*3\r\n:1\r\n:1\r\n:1\r\n");
    assert_string_equal(eval(f, "local co co = coroutine.create(function() return pcall("
                                "function() return coroutine.status(co) end) end) "
                                "return {coroutine.resume(co)}"),
                        "*3\r\n:1\r\n:1\r\n$7\r\nrunning\r\n");
    assert_string_equal(eval(f, "local outer outer = coroutine.create(function() local inner = "
                                "coroutine.create(function() return coroutine.status(outer) end) "
                                "return coroutine.resume(inner) end) "
                                "return {coroutine.resume(outer)}"),
                        "*3\r\n:1\r\n:1\r\n$6\r\nnormal\r\n");
    assert_string_equal(eval(f, "local co co = coroutine.create(function() "
                                "return coroutine.resume(co) end) return {coroutine.resume(co)}"),
                        "*3\r\n:1\r\n$-1\r\n$31\r\ncannot resume running coroutine\r\n");
    assert_string_equal(eval(f, "local co = coroutine.create(function(a, b) local c = "
                                "coroutine.yield(a + b) return c * 2 end) local _, x = "
                                "coroutine.resume(co, 1, 2) local _, y = coroutine.resume(co, 10) "
                                "return {x, y, coroutine.status(co)}"),
                        "*3\r\n:3\r\n:20\r\n$4\r\ndead\r\n");
    assert_string_equal(eval(f, "local co = coroutine.wrap(function() return 1 end) co() "
                                "return {pcall(co)}"),
                        "*2\r\n$-1\r\n$28\r\ncannot resume dead coroutine\r\n");
    assert_string_equal(eval(f, "return {pcall(pcall, redis.call, 'nosuch')}"),
                        "*3\r\n:1\r\n$-1\r\n$44\r\nERR Unknown Redis command called from "
                        "script\r\n");
    assert_string_equal(eval(f, "return {xpcall(redis.call, function(e) return e.err end)}"),
                        "*2\r\n$-1\r\n$64\r\nERR Please specify at least one argument for "
                        "this redis lib call\r\n");
    /* where the run cannot stop, pcall and coroutines still work in place */
    assert_string_equal(eval(f, "local s = 0 for v in coroutine.wrap(function() for i = 1, 3 do "
                                "coroutine.yield(i) end end) do s = s + v end return s"),
                        ":6\r\n");
    assert_string_equal(eval(f, "local t = {3, 1, 2} table.sort(t, function(a, b) "
                                "local ok, e = pcall(error, 'x') return a < b end) return t"),
                        "*3\r\n:1\r\n:2\r\n:3\r\n");
    assert_string_equal(eval(f, "local ok, e = pcall(function() local t = setmetatable({}, "
                                "{__index = function(t, k) error('idx') end}) return t.x end) "
                                "return e"),
                        "$18\r\nuser_script:1: idx\r\n");
    expect_error(f, "return {coroutine.resume(coroutine.running())}",
                 "ERR user_script:1: bad argument #1 to 'resume' (coroutine expected)", 1);
    expect_error(f, "return coroutine.yield()",
                 "ERR attempt to yield across metamethod/C-call boundary", 1);
}

static void test_redis_call_where_the_run_cannot_stop_fails_cleanly(void **state)
{
    struct fixture *f = *state;

    expect_error(f,
                 "local t = {3, 1, 2} table.sort(t, function(a, b) redis.call('ping') "
                 "return a < b end) return t",
                 SCRIPT_ERR_NOT_YIELDABLE, 1);
    assert_string_equal(eval(f, "local t = setmetatable({}, {__index = function(t, k) "
                                "return redis.pcall('get', k) end}) return t.x"),
                        "-" SCRIPT_ERR_NOT_YIELDABLE "\r\n");
    assert_string_equal(eval(f, "for v in coroutine.wrap(function() "
                                "coroutine.yield(redis.pcall('ping')) end) do return v end"),
                        "-" SCRIPT_ERR_NOT_YIELDABLE "\r\n");
    assert_string_equal(eval(f, "local r table.sort({2, 1}, function(a, b) "
                                "r = {pcall(redis.call, 'ping')} return a < b end) return r[2]"),
                        bulk_of(SCRIPT_ERR_NOT_YIELDABLE));
    assert_int_equal(f->calls, 0);
}

/* ---- the redis library ---- */

static void test_error_reply_and_status_reply(void **state)
{
    struct fixture *f = *state;

    assert_string_equal(eval(f, "return redis.error_reply('My Error')"), "-My Error\r\n");
    assert_string_equal(eval(f, "return redis.error_reply('oops')"), "-ERR oops\r\n");
    assert_string_equal(eval(f, "return redis.error_reply('-X y z')"), "-X y z\r\n");
    assert_string_equal(eval(f, "return redis.error_reply('a\\r\\nb')"), "-ERR a  b\r\n");
    assert_string_equal(eval(f, "return redis.error_reply('')"), "-ERR \r\n");
    assert_string_equal(eval(f, "return redis.error_reply('- x').err"), "$2\r\n x\r\n");
    assert_string_equal(eval(f, "return redis.error_reply(1)"),
                        "-ERR wrong number or type of arguments\r\n");
    assert_string_equal(eval(f, "return redis.status_reply('fine')"), "+fine\r\n");
    assert_string_equal(eval(f, "return redis.status_reply('a\\r\\nb')"), "+a  b\r\n");
    assert_string_equal(eval(f, "return redis.status_reply(1)"),
                        "-ERR wrong number or type of arguments\r\n");
}

static void test_redis_library_helpers(void **state)
{
    struct fixture *f = *state;

    assert_string_equal(eval(f, "return redis.REDIS_VERSION"), "$6\r\n7.0.15\r\n");
    assert_string_equal(eval(f, "return redis.REDIS_VERSION_NUM"), ":458767\r\n");
    assert_string_equal(eval(f, "return redis.sha1hex('')"),
                        "$40\r\nda39a3ee5e6b4b0d3255bfef95601890afd80709\r\n");
    assert_string_equal(eval(f, "return redis.sha1hex(1)"),
                        "$40\r\n356a192b7913b04c54574d18c28d46e6395428ab\r\n");
    assert_string_equal(eval(f, "return redis.sha1hex({})"),
                        "$40\r\nda39a3ee5e6b4b0d3255bfef95601890afd80709\r\n");
    expect_error(f, "return redis.sha1hex()", "ERR wrong number of arguments", 1);
    assert_string_equal(eval(f, "return {redis.REPL_NONE, redis.REPL_AOF, redis.REPL_SLAVE, "
                                "redis.REPL_REPLICA, redis.REPL_ALL}"),
                        "*5\r\n:0\r\n:1\r\n:2\r\n:2\r\n:3\r\n");
    assert_string_equal(eval(f, "return {redis.LOG_DEBUG, redis.LOG_VERBOSE, redis.LOG_NOTICE, "
                                "redis.LOG_WARNING}"),
                        "*4\r\n:0\r\n:1\r\n:2\r\n:3\r\n");
    assert_string_equal(eval(f, "return redis.replicate_commands()"), ":1\r\n");
    assert_string_equal(eval(f, "return redis.breakpoint()"), "$-1\r\n");
    assert_string_equal(eval(f, "return redis.debug('x')"), "$-1\r\n");
    assert_string_equal(eval(f, "return redis.set_repl(redis.REPL_ALL)"), "$-1\r\n");
    expect_error(f, "return redis.set_repl()", "ERR redis.set_repl() requires two arguments.", 1);
    expect_error(f, "return redis.set_repl(99)",
                 "ERR Invalid replication flags. Use REPL_AOF, REPL_REPLICA, REPL_ALL or "
                 "REPL_NONE.",
                 1);
    assert_string_equal(eval(f, "redis.log(redis.LOG_WARNING, 'hello', 'world', 3) "
                                "redis.log(redis.LOG_DEBUG, {}) return 1"),
                        ":1\r\n");
    expect_error(f, "return redis.log()", "ERR redis.log() requires two arguments or more.", 1);
    expect_error(f, "return redis.log(99, 'x')", "ERR Invalid debug level.", 1);
    expect_error(f, "return redis.log('a', 'x')",
                 "ERR First argument must be a number (log level).", 1);
    expect_error(f, "return redis.setresp(4)", "ERR RESP version must be 2 or 3.", 1);
    expect_error(f, "return redis.setresp()", "ERR redis.setresp() requires one argument.", 1);
}

static void test_acl_check_cmd_asks_the_host(void **state)
{
    struct fixture *f = *state;

    assert_string_equal(eval(f, "return {redis.acl_check_cmd('get', 'x'), "
                                "tostring(redis.acl_check_cmd('set', 'x', 'y'))}"),
                        "*2\r\n:1\r\n$5\r\nfalse\r\n");
    assert_int_equal(f->last_kind, SCRIPT_CALL_ACL_CHECK);
    assert_string_equal(f->last_argv[0], "set");
    expect_error(f, "return redis.acl_check_cmd('nosuch')",
                 "ERR Invalid command passed to redis.acl_check_cmd()", 1);
    expect_error(f, "return redis.acl_check_cmd()",
                 "ERR Please specify at least one argument for this redis lib call", 1);
}

static void test_math_random_is_redis_lrand48(void **state)
{
    struct fixture *f = *state;

    /* a fresh redis-server's first numbers */
    assert_string_equal(eval(f, "return {math.random(), math.random(10), math.random(5, 7)}"),
                        "*3\r\n:0\r\n:9\r\n:6\r\n");
    assert_string_equal(eval(f, "math.randomseed(1) return {math.random(100), "
                                "math.random(100)}"),
                        "*2\r\n:5\r\n:46\r\n");
}

/* ---- the sandbox ---- */

static void test_globals_are_read_only_as_in_redis(void **state)
{
    struct fixture *f = *state;

    expect_error(f, "x = 1", "ERR user_script:1: Attempt to modify a readonly table", 1);
    expect_error(f, "local f = function() y = 5 end\nf()",
                 "ERR user_script:1: Attempt to modify a readonly table", 1);
    expect_error(f, "return foo",
                 "ERR user_script:1: Script attempted to access nonexistent global variable "
                 "'foo'",
                 1);
    expect_error(f, "return _G.nonexist",
                 "ERR user_script:1: Script attempted to access nonexistent global variable "
                 "'nonexist'",
                 1);
    expect_error(f, "return _G[true]",
                 "ERR user_script:1: Second argument to luaProtectedTableError must be a string "
                 "or number",
                 1);
    expect_error(f, "rawset(_G, 'x', 1)", "ERR Attempt to modify a readonly table", 1);
    expect_error(f, "setmetatable(_G, nil)", "ERR Attempt to modify a readonly table", 1);
    expect_error(f, "redis.call = nil", "ERR user_script:1: Attempt to modify a readonly table", 1);
    expect_error(f, "string.foo = 1", "ERR user_script:1: Attempt to modify a readonly table", 1);
    expect_error(f, "ARGV = 1", "ERR user_script:1: Attempt to modify a readonly table", 1);
    expect_error(f, "getmetatable('').__index = {}",
                 "ERR user_script:1: Attempt to modify a readonly table", 1);
    expect_error(f, "getmetatable(_G).__index = nil",
                 "ERR user_script:1: Attempt to modify a readonly table", 1);
    expect_error(f, "table.insert(string, 1)", "ERR Attempt to modify a readonly table", 1);
    expect_error(f, "cjson.x = 1", "ERR user_script:1: Attempt to modify a readonly table", 1);
    assert_string_equal(eval(f, "return {pcall(table.insert, string, 1)}"),
                        "*2\r\n$-1\r\n$34\r\nAttempt to modify a readonly table\r\n");
    assert_string_equal(eval(f, "return rawget(_G, 'nonexist')"), "$-1\r\n");
    assert_string_equal(eval(f, "return rawget(_G, 'redis') == redis"), ":1\r\n");
    assert_string_equal(eval(f, "return getmetatable('').__index == string"), ":1\r\n");
    assert_string_equal(eval(f, "return {('abc'):upper(), string.len('abc')}"),
                        "*2\r\n$3\r\nABC\r\n:3\r\n");
    assert_string_equal(eval(f, "return tostring(getmetatable(string))"), "$3\r\nnil\r\n");
    assert_string_equal(eval(f, "return type(getmetatable(_G).__index)"), "$8\r\nfunction\r\n");
    assert_string_equal(eval(f, "local t = {} t.x = 1 setmetatable(t, {}) rawset(t, 'y', 2) "
                                "return {t.x, rawget(t, 'y')}"),
                        "*2\r\n:1\r\n:2\r\n");
    assert_string_equal(eval(f, "local f = loadstring('y = 1') return {pcall(f)}"),
                        "*2\r\n$-1\r\n$54\r\n[string \"y = 1\"]:1: Attempt to modify a readonly "
                        "table\r\n");
}

/* The sorted "name:type" list of a table's fields. */
#define FIELDS_OF(t)                                                                               \
    "local t = {} for k, v in pairs(" t ") do t[#t + 1] = k .. ':' .. type(v) end "                \
    "table.sort(t) return table.concat(t, ' ')"

static void test_the_sandbox_has_exactly_redis_globals(void **state)
{
    struct fixture *f = *state;
    const char *g = "ARGV:table KEYS:table _G:table _VERSION:string "
                    "__redis__err__handler:function assert:function bit:table cjson:table "
                    "cmsgpack:table collectgarbage:function coroutine:table error:function "
                    "gcinfo:function getmetatable:function ipairs:function load:function "
                    "loadstring:function math:table next:function pairs:function pcall:function "
                    "rawequal:function rawget:function rawset:function redis:table "
                    "select:function setmetatable:function string:table struct:table "
                    "table:table tonumber:function tostring:function type:function "
                    "unpack:function xpcall:function";
    const char *r = "LOG_DEBUG:number LOG_NOTICE:number LOG_VERBOSE:number LOG_WARNING:number "
                    "REDIS_VERSION:string REDIS_VERSION_NUM:number REPL_ALL:number "
                    "REPL_AOF:number REPL_NONE:number REPL_REPLICA:number REPL_SLAVE:number "
                    "acl_check_cmd:function breakpoint:function call:function debug:function "
                    "error_reply:function log:function pcall:function "
                    "replicate_commands:function set_repl:function setresp:function "
                    "sha1hex:function status_reply:function";
    const char *got;

    got = eval(f, FIELDS_OF("_G"));
    assert_true(strlen(got) > strlen(g));
    assert_memory_equal(got + strlen(got) - strlen(g) - 2, g, strlen(g));
    got = eval(f, FIELDS_OF("redis"));
    assert_true(strlen(got) > strlen(r));
    assert_memory_equal(got + strlen(got) - strlen(r) - 2, r, strlen(r));
    expect_error(f, "return os.clock()",
                 "ERR user_script:1: Script attempted to access nonexistent global variable 'os'",
                 1);
    expect_error(f, "return io",
                 "ERR user_script:1: Script attempted to access nonexistent global variable 'io'",
                 1);
    expect_error(f, "return debug",
                 "ERR user_script:1: Script attempted to access nonexistent global variable "
                 "'debug'",
                 1);
    expect_error(f, "return loadfile",
                 "ERR user_script:1: Script attempted to access nonexistent global variable "
                 "'loadfile'",
                 1);
    expect_error(f, "return dofile",
                 "ERR user_script:1: Script attempted to access nonexistent global variable "
                 "'dofile'",
                 1);
    assert_string_equal(eval(f, "return loadstring('return 1')()"), ":1\r\n");
    assert_string_equal(eval(f, "return select(2, loadstring('x = ', 'named'))"),
                        "$50\r\n[string \"named\"]:1: unexpected symbol near '<eof>'\r\n");
    assert_string_equal(eval(f, "return _VERSION"), "$7\r\nLua 5.1\r\n");
}

/* ---- errors of a run ---- */

static void test_a_failed_script_replies_as_redis_does(void **state)
{
    struct fixture *f = *state;

    expect_error(f, "error('boom')", "ERR user_script:1: boom", 1);
    expect_error(f, "error({err = 'boom2'})", "boom2", 1);
    expect_error(f, "error('boom', 0)", "ERR boom", 1);
    expect_error(f, "error()", "ERR nil", 1);
    expect_error(f, "error(true)", "ERR true", 1);
    expect_error(f, "error(12)", "ERR user_script:1: 12", 1);
    expect_error(f, "error({err = 1})", "1", 1);
    expect_error(f, "error({err = 'x y', source = 's', line = 5})", "x y", 1);
    expect_error(f, "local a = 1\n\nlocal b = nil + a",
                 "ERR user_script:3: attempt to perform arithmetic on a nil value", 3);
    expect_error(f, "local function g()\n  return redis.call('nosuch')\nend\nreturn g()",
                 "ERR Unknown Redis command called from script", 2);
    expect_error(f, "return coroutine.wrap(function() error('x') end)()",
                 "ERR user_script:1: user_script:1: x", 1);
    expect_error(f, "return coroutine.wrap(function() error({err = 'E t'}) end)()", "E t", 1);
    /* an error caught and raised again is reported where it was raised again */
    expect_error(f,
                 "local ok, e = pcall(coroutine.wrap(function() error('x', 0) end))\n"
                 "error(e, 0)",
                 "ERR x", 2);
    expect_error(f,
                 "local e\nxpcall(function() redis.call('nosuch') end, "
                 "function(x) e = x end)\nerror(e)",
                 "ERR Unknown Redis command called from script", 3);
}

static void test_deep_pcall_nesting_fails_without_crashing(void **state)
{
    struct fixture *f = *state;

    assert_string_equal(eval(f, "local depth = 0 local function f() depth = depth + 1 "
                                "local ok, e = pcall(f) if not ok then error(e, 0) end end "
                                "local ok, e = pcall(f) return {e, depth > 100}"),
                        "*2\r\n$16\r\nC stack overflow\r\n:1\r\n");
    /* coroutines inside coroutines: past the frames, resumed in place */
    assert_string_equal(eval(f, "local function f(n) local co = coroutine.create(f) "
                                "local ok, e = coroutine.resume(co, n + 1) return e end "
                                "return f(1)"),
                        "$16\r\nC stack overflow\r\n");
    assert_string_equal(eval(f, "local function f(n) if n == 0 then return redis.call('ping') end "
                                "return coroutine.wrap(f)(n - 1) end return f(150)"),
                        "+PONG\r\n");
}

/* ---- loading ---- */

static void test_scripts_are_named_by_their_sha1_and_cached(void **state)
{
    struct fixture *f = *state;
    char sha[SCRIPT_SHA_LEN + 1];
    uint32_t flags = 0;
    size_t len = 0;
    const char *upper = "E0E1F9FABFC9D4800C877A703B823AC0578FF8DB";

    assert_int_equal(script_load(f->vm, "return 1", 8, sha, &flags, NULL), 0);
    assert_string_equal(sha, "e0e1f9fabfc9d4800c877a703b823ac0578ff8db");
    assert_int_equal(flags, SCRIPT_FLAG_EVAL_COMPAT);
    assert_int_equal(script_count(f->vm), 1);
    assert_true(script_exists(f->vm, (struct sh_slice){ sha, 40 }));
    assert_true(script_exists(f->vm, (struct sh_slice){ upper, 40 }));
    assert_false(script_exists(f->vm, (struct sh_slice){ sha, 39 }));
    assert_false(script_exists(f->vm, (struct sh_slice){ "zz", 2 }));
    assert_memory_equal(script_body(f->vm, (struct sh_slice){ upper, 40 }, &len), "return 1", 8);
    assert_int_equal(len, 8);
    assert_int_equal(script_load(f->vm, "return 1", 8, sha, NULL, NULL), 0);
    assert_int_equal(script_count(f->vm), 1);
    assert_true(script_cache_memory(f->vm) > 8);
    assert_true(script_lua_memory(f->vm) > 10000);
    /* a bigger cache keeps every script */
    for (int i = 0; i < 100; i++) {
        char body[32];

        snprintf(body, sizeof(body), "return %d", i);
        assert_int_equal(script_load(f->vm, body, strlen(body), sha, NULL, NULL), 0);
    }
    assert_int_equal(script_count(f->vm), 100);
    assert_string_equal(eval(f, "return 42"), ":42\r\n");
    assert_int_equal(script_flush(f->vm), 0);
    assert_int_equal(script_count(f->vm), 0);
    assert_false(script_exists(f->vm, (struct sh_slice){ upper, 40 }));
    assert_string_equal(eval(f, "return redis.call('ping')"), "+PONG\r\n");
}

static void test_compile_errors_are_redis_errors(void **state)
{
    struct fixture *f = *state;

    assert_string_equal(eval(f, "return 1 +"), "-ERR Error compiling script (new function): "
                                               "user_script:1: unexpected symbol near '<eof>'\r\n");
    assert_string_equal(eval(f, "return 'abc"),
                        "-ERR Error compiling script (new function): "
                        "user_script:1: unfinished string near '<eof>'\r\n");
    assert_string_equal(eval(f, "#!lua\nreturn 1 +"),
                        "-ERR Error compiling script (new function): user_script:2: unexpected "
                        "symbol near '<eof>'\r\n");
    assert_int_equal(script_count(f->vm), 0);
}

static void test_shebang_flags_and_their_errors(void **state)
{
    struct fixture *f = *state;
    static const struct {
        const char *body;
        int rc;
        uint32_t flags;
        const char *err;
    } cases[] = {
        { "#!lua flags=no-writes\nreturn 1", 0, SCRIPT_FLAG_NO_WRITES, NULL },
        { "#!lua\nreturn 1", 0, 0, NULL },
        { "#!lua flags=\nreturn 1", 0, 0, NULL },
        { "#!lua  flags=no-writes\nreturn 1", 0, SCRIPT_FLAG_NO_WRITES, NULL },
        { "#!lua\tflags=allow-oom\nreturn 1", 0, SCRIPT_FLAG_ALLOW_OOM, NULL },
        { "#!lua flags=no-writes flags=allow-oom\nreturn 1", 0,
          SCRIPT_FLAG_NO_WRITES | SCRIPT_FLAG_ALLOW_OOM, NULL },
        { "#!lua flags=no-writes,allow-oom,allow-stale,no-cluster,allow-cross-slot-keys\nreturn 1",
          0,
          SCRIPT_FLAG_NO_WRITES | SCRIPT_FLAG_ALLOW_OOM | SCRIPT_FLAG_ALLOW_STALE |
                  SCRIPT_FLAG_NO_CLUSTER | SCRIPT_FLAG_ALLOW_CROSS_SLOT,
          NULL },
        { "return 1", 0, SCRIPT_FLAG_EVAL_COMPAT, NULL },
        { "#!lua flags=bad\nreturn 1", -1, 0, "-ERR Unexpected flag in script shebang: bad\r\n" },
        { "#!lua flags=no-writes,,allow-oom\nreturn 1", -1, 0,
          "-ERR Unexpected flag in script shebang: \r\n" },
        { "#!lua flags=NO-WRITES\nreturn 1", -1, 0,
          "-ERR Unexpected flag in script shebang: NO-WRITES\r\n" },
        { "#!luax\nreturn 1", -1, 0, "-ERR Unexpected engine in script shebang: #!luax\r\n" },
        { "#! lua\nreturn 1", -1, 0, "-ERR Unexpected engine in script shebang: #!\r\n" },
        { "#!lua foo=bar\nreturn 1", -1, 0, "-ERR Unknown lua shebang option: foo=bar\r\n" },
        { "#!lua flags\nreturn 1", -1, 0, "-ERR Unknown lua shebang option: flags\r\n" },
        { "#!lua", -1, 0, "-ERR Invalid script shebang\r\n" },
    };

    for (size_t i = 0; i < SH_ARRAY_LEN(cases); i++) {
        struct reply err = { .buf = &f->out, .proto = 2 };
        char sha[SCRIPT_SHA_LEN + 1];
        uint32_t flags = 0xffff;
        int rc;

        f->out.len = 0;
        rc = script_load(f->vm, cases[i].body, strlen(cases[i].body), sha, &flags, &err);
        if (cases[i].rc == 0) {
            assert_int_equal(rc, 0);
            assert_int_equal(flags, cases[i].flags);
            assert_int_equal(script_get_flags(f->vm, (struct sh_slice){ sha, 40 }, &flags), 0);
            assert_int_equal(flags, cases[i].flags);
        } else {
            assert_int_equal(rc, -EINVAL);
            assert_int_equal(f->out.len, strlen(cases[i].err));
            assert_memory_equal(f->out.data, cases[i].err, f->out.len);
        }
    }
    /* line numbers count the shebang line */
    expect_error(f, "#!lua flags=no-writes\nerror('x')", "ERR user_script:2: x", 2);
}

/* ---- runs ---- */

static void test_run_start_and_resume_refuse_what_they_cannot_do(void **state)
{
    struct fixture *f = *state;
    struct reply out = { .buf = &f->out, .proto = 2 };
    char sha[SCRIPT_SHA_LEN + 1];
    struct sh_slice s = { sha, SCRIPT_SHA_LEN };

    assert_int_equal(script_run_start(f->vm,
                                      (struct sh_slice){ "ffffffffffffffffffffffffffffff"
                                                         "ffffffffff",
                                                         40 },
                                      0, NULL, 0, NULL, NULL, &out),
                     -ENOENT);
    assert_int_equal(script_run_resume(f->vm, ":1\r\n", 4, &out), -EINVAL);
    assert_null(script_run_call(f->vm));
    assert_int_equal(script_load(f->vm, "return redis.call('ping')", 25, sha, NULL, NULL), 0);
    assert_int_equal(script_run_start(f->vm, s, 0, NULL, 0, NULL, NULL, &out), SCRIPT_CALL);
    assert_true(script_run_active(f->vm));
    assert_int_equal(script_run_start(f->vm, s, 0, NULL, 0, NULL, NULL, &out), -EBUSY);
    assert_int_equal(script_flush(f->vm), -EBUSY);
    assert_int_equal(script_run_resume(f->vm, NULL, 0, &out), SCRIPT_DONE);
    assert_false(script_run_active(f->vm));
    assert_string_equal(eval(f, "return 1"), ":1\r\n");
    /* abort: the client went away; the vm serves the next run */
    f->out.len = 0;
    assert_int_equal(script_run_start(f->vm, s, 0, NULL, 0, NULL, NULL, &out), SCRIPT_CALL);
    script_run_abort(f->vm);
    assert_false(script_run_active(f->vm));
    assert_int_equal(f->out.len, 0);
    script_run_kill(f->vm); /* no run: nothing */
    assert_string_equal(eval(f, "return redis.call('ping')"), "+PONG\r\n");
}

static void test_a_busy_script_reports_busy_and_can_be_killed(void **state)
{
    struct fixture *f = *state;
    const char *body = "local i = 0\nwhile true do\n  i = i + 1\nend";
    const char *got;

    f->tick = 10;
    f->busy_ms = 100;
    f->kill_at_busy = 3;
    got = eval(f, body);
    assert_string_equal(got,
                        script_error(body, "ERR Script killed by user with SCRIPT KILL...", 3));
    assert_int_equal(f->busy_steps, 3);
}

static void test_a_kill_cannot_be_caught_by_pcall(void **state)
{
    struct fixture *f = *state;
    const char *body = "local i = 0\nwhile true do\n  pcall(function() while true do i = i + 1 "
                       "end end)\nend";

    f->tick = 10;
    f->busy_ms = 100;
    f->kill_at_busy = 2;
    assert_string_equal(eval(f, body),
                        script_error(body, "ERR Script killed by user with SCRIPT KILL...", 3));
    assert_int_equal(f->busy_steps, 2);
}

static void test_busy_is_reported_inside_tail_calls_coroutines_and_pcall(void **state)
{
    struct fixture *f = *state;

    f->tick = 10;
    f->busy_ms = 100;
    assert_string_equal(eval(f, "local function loop(n) local i = 0 while i < n do i = i + 1 "
                                "end return i end local function main() return loop(3000000) end "
                                "return main()"),
                        ":3000000\r\n");
    assert_true(f->busy_steps > 5);
    f->busy_steps = 0;
    assert_string_equal(eval(f, "return coroutine.wrap(function() return select(2, pcall("
                                "function() local i = 0 for j = 1, 1000000 do i = i + 1 end "
                                "return i end)) end)()"),
                        ":1000000\r\n");
    assert_true(f->busy_steps > 2);
    /* a metamethod cannot stop: the run goes on and reports afterwards */
    f->busy_steps = 0;
    assert_string_equal(eval(f, "local t = setmetatable({}, {__index = function(t, k) "
                                "local i = 0 for j = 1, 1000000 do i = i + 1 end return i end}) "
                                "local v = t.x for j = 1, 500000 do end return v"),
                        ":1000000\r\n");
    assert_true(f->busy_steps > 0);
}

static void test_an_xpcall_handler_is_busy_and_killable_too(void **state)
{
    struct fixture *f = *state;
    const char *body = "return xpcall(function() error('x') end,\nfunction(e)\n  while true do "
                       "end\nend)";

    f->tick = 10;
    f->busy_ms = 100;
    f->kill_at_busy = 2;
    /* the handler fails ("error in error handling"), then the script, at
     * the return on the last line */
    assert_string_equal(eval(f, body),
                        script_error(body, "ERR Script killed by user with SCRIPT KILL...", 4));
    assert_int_equal(f->busy_steps, 2);
}

static void test_a_kill_while_waiting_for_a_command_ends_the_run(void **state)
{
    struct fixture *f = *state;
    const char *body = "redis.call('set', 'a', '1')\nreturn redis.pcall('get', 'a')";

    f->kill_at_call = 1;
    /* the script stops at its first instruction after the call */
    assert_string_equal(eval(f, body),
                        script_error(body, "ERR Script killed by user with SCRIPT KILL...", 2));
    assert_int_equal(f->calls, 1);
    f->kill_at_call = 0;
    assert_string_equal(eval(f, "return 'next'"), "$4\r\nnext\r\n");
}

static void test_elapsed_time_follows_the_host_clock(void **state)
{
    struct fixture *f = *state;
    struct reply out = { .buf = &f->out, .proto = 2 };
    struct script_run_opts o = { .clock = fake_clock, .clock_arg = f, .busy_ms = 0 };
    char sha[SCRIPT_SHA_LEN + 1];

    assert_int_equal(script_run_elapsed_ms(f->vm), 0);
    assert_int_equal(script_load(f->vm, "return redis.call('ping')", 25, sha, NULL, NULL), 0);
    f->now = 1000;
    f->tick = 0;
    assert_int_equal(
            script_run_start(f->vm, (struct sh_slice){ sha, 40 }, 0, NULL, 0, NULL, &o, &out),
            SCRIPT_CALL);
    f->now = 1250;
    assert_int_equal(script_run_elapsed_ms(f->vm), 250);
    assert_false(script_run_timed_out(f->vm));
    assert_int_equal(script_run_resume(f->vm, "+PONG\r\n", 7, &out), SCRIPT_DONE);
    assert_int_equal(script_run_elapsed_ms(f->vm), 0);
}

/* ---- libraries ---- */

static void test_cjson_round_trips_as_in_redis(void **state)
{
    struct fixture *f = *state;

    assert_string_equal(eval(f, "return cjson.encode(cjson.decode('{\"a\":[1,2,{\"b\":null}],"
                                "\"c\":\"x\\\\/y\",\"d\":1.5e300}'))"),
                        "$46\r\n{\"a\":[1,2,{\"b\":null}],\"d\":1.5e+300,\"c\":\"x\\/y\"}\r\n");
    assert_string_equal(eval(f, "return cjson.encode({1, 2, 3, {x = 'y'}})"),
                        "$17\r\n[1,2,3,{\"x\":\"y\"}]\r\n");
    assert_string_equal(eval(f, "return cjson.decode('[1,\"two\",true]')[2]"), "$3\r\ntwo\r\n");
    assert_string_equal(eval(f, "return cjson.decode('[1,2,{\"a\":null}]')[3].a == cjson.null"),
                        ":1\r\n");
    assert_string_equal(eval(f, "return {pcall(cjson.decode, '{bad')}"),
                        "*2\r\n$-1\r\n$65\r\nExpected object key string but found invalid "
                        "token at character 2\r\n");
}

/* The hex of cmsgpack.pack(args). */
#define PACK_HEX(args)                                                                             \
    "local function hex(s) return (s:gsub('.', function(c) return string.format('%02x', "          \
    "c:byte()) end)) end return hex(cmsgpack.pack(" args "))"

static void test_cmsgpack_matches_redis_bytes(void **state)
{
    struct fixture *f = *state;

    assert_string_equal(eval(f, PACK_HEX("nil, true, false, 0, 127, 128, 255, 256, 65535, 65536, "
                                         "4294967295, 4294967296, -1, -32, -33, -128, -129, "
                                         "-32768, -32769, -2147483648, -2147483649, 1.5, 0.1, "
                                         "'abc'")),
                        "$166\r\nc0c3c2007fcc80ccffcd0100cdffffce00010000ceffffffffcf000000010000"
                        "0000ffe0d0dfd080d1ff7fd18000d2ffff7fffd280000000d3ffffffff7fffffffca3fc0"
                        "0000cb3fb999999999999aa3616263\r\n");
    assert_string_equal(eval(f, PACK_HEX("{}, {1,2,3}, {a=1}, {1, nil, 3}, {[1]=1, [3]=3}, "
                                         "{[0]=1}, {[1.5]=1}")),
                        "$58\r\n909301020381a161018201010303820101030381000181ca3fc0000001\r\n");
    assert_string_equal(eval(f, PACK_HEX("function() end, 1/0, -1/0, 0/0, 2^63, -2^63, 2^64")),
                        "$78\r\nc0ca7f800000caff800000cbfff8000000000000ca5f000000d38000000000"
                        "000000ca5f800000\r\n");
    assert_string_equal(eval(f, PACK_HEX("(function() local t = {} local c = t for i = 1, 20 do "
                                         "c[1] = {} c = c[1] end return t end)()")),
                        "$34\r\n91919191919191919191919191919191c0\r\n");
    assert_string_equal(eval(f, "local t = cmsgpack.unpack(cmsgpack.pack({1, 'two', {three = 3}, "
                                "false, 1.5})) return {t[1], t[2], t[3].three, tostring(t[4]), "
                                "tostring(t[5])}"),
                        "*5\r\n:1\r\n$3\r\ntwo\r\n:3\r\n$5\r\nfalse\r\n$3\r\n1.5\r\n");
    assert_string_equal(eval(f, "return {cmsgpack.unpack_one('\\1\\2\\3')}"), "*2\r\n:1\r\n:1\r\n");
    assert_string_equal(eval(f, "return {cmsgpack.unpack_one('\\1\\2\\3', 2)}"),
                        "*2\r\n:-1\r\n:3\r\n");
    assert_string_equal(eval(f, "return {cmsgpack.unpack_limit('\\1\\2\\3', 2)}"),
                        "*3\r\n:2\r\n:1\r\n:2\r\n");
    assert_string_equal(eval(f, "return {cmsgpack.unpack_limit('\\1\\2\\3', 0)}"),
                        "*3\r\n:1\r\n:2\r\n:3\r\n");
    assert_string_equal(eval(f, "return {cmsgpack.unpack('\\207\\255\\255\\255\\255\\255\\255\\255"
                                "\\255')}"),
                        "*1\r\n:-1\r\n");
    assert_string_equal(eval(f, "return cjson.encode(cmsgpack.unpack('\\130\\161a\\1\\161b\\146"
                                "\\1\\2'))"),
                        "$17\r\n{\"a\":1,\"b\":[1,2]}\r\n");
    expect_error(f, "return cmsgpack.unpack('\\145')", "ERR user_script:1: Missing bytes in input.",
                 1);
    expect_error(f, "return cmsgpack.unpack('\\196\\3abc')",
                 "ERR user_script:1: Bad data format in input.", 1);
    expect_error(f, "return cmsgpack.unpack_one('\\1\\2\\3', 4)",
                 "ERR user_script:1: Start offset 4 greater than input length 3.", 1);
    expect_error(f, "return cmsgpack.unpack_limit('\\1\\2\\3', -1)",
                 "ERR user_script:1: Invalid request to unpack with offset of 0 and limit of 3.",
                 1);
    expect_error(f, "return cmsgpack.pack()",
                 "ERR user_script:1: bad argument #0 to 'pack' (MessagePack pack needs input.)", 1);
    assert_string_equal(eval(f, "return cmsgpack._VERSION"), "$18\r\nlua-cmsgpack 0.4.0\r\n");
}

static void test_bit_and_struct_match_redis(void **state)
{
    struct fixture *f = *state;

    assert_string_equal(eval(f, "return {bit.band(0xff, 0x0f), bit.bor(1, 2), bit.bxor(3, 1), "
                                "bit.lshift(1, 4), bit.rshift(256, 4), bit.tohex(65535), "
                                "bit.tobit(2^32 + 1), bit.bnot(0), bit.arshift(-256, 4)}"),
                        "*9\r\n:15\r\n:3\r\n:2\r\n:16\r\n:16\r\n$8\r\n0000ffff\r\n:1\r\n:-1\r\n:-"
                        "16\r\n");
    assert_string_equal(eval(f, "local s = struct.pack('>HiB', 258, -2, 255) local a, b, c, n = "
                                "struct.unpack('>HiB', s) return {a, b, c, n, #s, "
                                "struct.size('>HiB')}"),
                        "*6\r\n:258\r\n:-2\r\n:255\r\n:8\r\n:7\r\n:7\r\n");
    assert_string_equal(eval(f, "return struct.pack('>I3', 65539)"), "$3\r\n\x01\x00\x03\r\n");
    assert_string_equal(eval(f, "return struct.pack('<i2', -2)"), "$2\r\n\xfe\xff\r\n");
    assert_string_equal(eval(f, "return struct.pack('>f', 1.5)"), "$4\r\n?\xc0\x00\x00\r\n");
    assert_string_equal(eval(f, "return {struct.unpack('bc0', '\\2xyz')}"),
                        "*2\r\n$2\r\nxy\r\n:4\r\n");
    assert_string_equal(eval(f, "return {struct.unpack('!4bi', struct.pack('!4bi', 1, -2))}"),
                        "*3\r\n:1\r\n:-2\r\n:9\r\n");
    assert_string_equal(eval(f, "return {struct.unpack('>i16', string.rep('\\255', 16))}"),
                        "*2\r\n:-1\r\n:17\r\n");
    assert_string_equal(eval(f, "return struct.pack('>I16', -1)"),
                        "$16\r\n\x00\x00\x00\x00\x00\x00\x00\x00\xff\xff\xff\xff\xff\xff\xff\xff"
                        "\r\n");
    assert_string_equal(eval(f, "return struct.size('lLTdfhHbBxi')"), ":47\r\n");
    assert_string_equal(eval(f, "return struct.size('z')"), ":0\r\n");
    assert_string_equal(eval(f, "return tostring(select(1, struct.unpack('<d', "
                                "struct.pack('<d', 1.25))))"),
                        "$4\r\n1.25\r\n");
    expect_error(f, "return struct.size('s')",
                 "ERR user_script:1: bad argument #1 to 'size' (option 's' has no fixed size)", 1);
    expect_error(f, "return struct.pack('z', 1)",
                 "ERR user_script:1: bad argument #1 to 'pack' (invalid format option 'z')", 1);
    expect_error(f, "return struct.size('!3i')",
                 "ERR user_script:1: alignment 3 is not a power of 2", 1);
    expect_error(f, "return struct.size('i33')",
                 "ERR user_script:1: integral size 33 is larger than limit of 32", 1);
    expect_error(f, "return struct.pack('c3', 'ab')",
                 "ERR user_script:1: bad argument #3 to 'pack' (string too short)", 1);
    expect_error(f, "return {struct.unpack('c0', 'xx')}",
                 "ERR user_script:1: format 'c0' needs a previous size", 1);
    expect_error(f, "return {struct.unpack('s', 'abc')}",
                 "ERR user_script:1: unfinished string in data", 1);
    expect_error(f, "return {struct.unpack('B', 'a', 0)}",
                 "ERR user_script:1: bad argument #3 to 'unpack' (offset must be 1 or greater)", 1);
    expect_error(f, "return {struct.unpack('h', 'ab', -1)}",
                 "ERR user_script:1: bad argument #2 to 'unpack' (data string too short)", 1);
}

int main(void)
{
#define T(name) cmocka_unit_test_setup_teardown(name, setup, teardown)
    const struct CMUnitTest tests[] = {
        T(test_script_values_become_resp2_replies),
        T(test_script_values_become_resp3_replies),
        T(test_a_table_that_contains_itself_ends_at_the_stack_limit),
        T(test_resp2_replies_become_lua_values),
        T(test_resp3_replies_become_lua_values_after_setresp),
        T(test_a_malformed_reply_becomes_an_error),
        T(test_call_arguments_are_strings_and_numbers_as_redis_formats_them),
        T(test_keys_and_argv_are_given_to_the_script),
        T(test_a_command_error_raises_with_the_script_position),
        T(test_pcall_catches_redis_call_errors_as_redis_does),
        T(test_xpcall_gives_its_handler_the_error_table),
        T(test_redis_call_works_inside_coroutines),
        T(test_redis_call_where_the_run_cannot_stop_fails_cleanly),
        T(test_error_reply_and_status_reply),
        T(test_redis_library_helpers),
        T(test_acl_check_cmd_asks_the_host),
        T(test_math_random_is_redis_lrand48),
        T(test_globals_are_read_only_as_in_redis),
        T(test_the_sandbox_has_exactly_redis_globals),
        T(test_a_failed_script_replies_as_redis_does),
        T(test_deep_pcall_nesting_fails_without_crashing),
        T(test_scripts_are_named_by_their_sha1_and_cached),
        T(test_compile_errors_are_redis_errors),
        T(test_shebang_flags_and_their_errors),
        T(test_run_start_and_resume_refuse_what_they_cannot_do),
        T(test_a_busy_script_reports_busy_and_can_be_killed),
        T(test_a_kill_cannot_be_caught_by_pcall),
        T(test_busy_is_reported_inside_tail_calls_coroutines_and_pcall),
        T(test_an_xpcall_handler_is_busy_and_killable_too),
        T(test_a_kill_while_waiting_for_a_command_ends_the_run),
        T(test_elapsed_time_follows_the_host_clock),
        T(test_cjson_round_trips_as_in_redis),
        T(test_cmsgpack_matches_redis_bytes),
        T(test_bit_and_struct_match_redis),
    };
#undef T

    return cmocka_run_group_tests(tests, NULL, NULL);
}
