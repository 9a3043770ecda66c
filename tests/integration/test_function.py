"""Redis 7.0 functions: FUNCTION LOAD / LIST / DELETE / FLUSH / DUMP / RESTORE /
STATS / KILL, FCALL and FCALL_RO.

Libraries are `#!lua name=lib` scripts that call redis.register_function in
both forms, (name, callback) and the named-argument table. Every library must
be visible from every connection (with several shards, connections land on
different cores). FUNCTION DUMP payloads are Redis's (RDB opcode, RDB version
and CRC64 trailer): a round trip here, and a payload exchange with a real
redis-server when /usr/bin/redis-server exists. Every test passes against
redis-server too (SHARDIS_REFERENCE=redis). Busy scripts, FUNCTION KILL and
SCRIPT KILL on a running script are in test_script_busy.py.
"""

import os
import struct
import sys
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import (Client, Error, LiveRedisServer, Map, RespSet, ServerTestCase,  # noqa: E402
                     live_redis_binary)

REDIS_BIN = live_redis_binary()

NAME_RULES = ("ERR Library names can only contain letters, numbers, or underscores(_) and "
              "must be at least one character long")
REG_ERR = "ERR Error registering functions: "
BAD_PAYLOAD = "ERR DUMP payload version or checksum are wrong"
BAD_POLICY = "ERR Wrong restore policy given, value should be either FLUSH, APPEND or REPLACE."
NO_FUNCTION = "ERR Function not found"
RO_WRITE_FLAG = "ERR Can not execute a script with write flag using *_ro command."


def lib(name, body):
    return "#!lua name=%s\n%s" % (name, body)


def arity(cmd):
    return "ERR wrong number of arguments for '%s' command" % cmd


# ---- Redis's CRC64 (Jones polynomial, reflected), as in DUMP trailers ----

def _crc64_table():
    poly = 0x95AC9329AC4BC9B5  # 0xad93d23594c935a9 bit-reversed
    table = []
    for i in range(256):
        c = i
        for _ in range(8):
            c = (c >> 1) ^ poly if c & 1 else c >> 1
        table.append(c)
    return table


_CRC64 = _crc64_table()


def crc64(data):
    crc = 0
    for b in data:
        crc = _CRC64[(crc ^ b) & 0xFF] ^ (crc >> 8)
    return crc


def forge_payload(body, rdb_version):
    """A DUMP payload: body, 2-byte little-endian RDB version, CRC64 of both."""
    p = body + struct.pack("<H", rdb_version)
    return p + struct.pack("<Q", crc64(p))


# ---- FUNCTION LIST helpers ----

def flat_to_dict(flat):
    if isinstance(flat, dict):
        return dict(flat)
    return {flat[i]: flat[i + 1] for i in range(0, len(flat), 2)}


def libraries(reply):
    """FUNCTION LIST (RESP2 or RESP3) -> {lib name: {"engine", "functions":
    {fn name: (description, [flags])}, "code" (if WITHCODE)}}."""
    out = {}
    for entry in reply:
        e = flat_to_dict(entry)
        fns = {}
        for f in e[b"functions"]:
            fd = flat_to_dict(f)
            fns[fd[b"name"]] = (fd[b"description"], list(fd[b"flags"]))
        info = {"engine": e[b"engine"], "functions": fns}
        if b"library_code" in e:
            info["code"] = e[b"library_code"]
        out[e[b"library_name"]] = info
    return out


class FunctionTestCase(ServerTestCase):

    def setUp(self):
        super().setUp()
        # FLUSHALL keeps functions (as in Redis): start every test with none
        self.assertOK(self.r.cmd("FUNCTION", "FLUSH"))

    def load(self, name, body, client=None):
        c = client or self.r
        self.assertEqual(c.cmd("FUNCTION", "LOAD", lib(name, body)), name.encode())

    def others(self, n=6):
        """n more connections (with several shards they spread over the cores)."""
        return [self.client() for _ in range(n)]


class TestLoadAndCall(FunctionTestCase):

    def test_load_both_forms_and_fcall(self):
        body = ("redis.register_function('f1', function(keys, args) return {keys, args} end)\n"
                "redis.register_function{function_name='f2', callback=function(keys, args) "
                "return redis.call('GET', keys[1]) end, flags={'no-writes'}, "
                "description='reads a key'}")
        self.assertEqual(self.r.raw("FUNCTION", "LOAD", lib("mylib", body)),
                         b"$5\r\nmylib\r\n")
        self.assertEqual(self.r.cmd("FCALL", "f1", "2", "a", "b", "c", "d"),
                         [[b"a", b"b"], [b"c", b"d"]])
        self.assertEqual(self.r.cmd("FCALL", "f1", "0"), [[], []])
        self.assertEqual(self.r.cmd("FCALL", "f1", "0", "x"), [[], [b"x"]])
        self.assertIsNone(self.r.cmd("FCALL", "f2", "1", "k"))
        self.r.cmd("SET", "k", "v")
        self.assertEqual(self.r.cmd("FCALL", "f2", "1", "k"), b"v")
        self.assertEqual(self.r.cmd("FCALL_RO", "f2", "1", "k"), b"v")

    def test_keys_and_args_are_the_two_arguments(self):
        self.load("kv", "redis.register_function('types', function(keys, args) "
                  "return {type(keys), #keys, type(args), #args} end)\n"
                  "redis.register_function('g1', function() return KEYS end)\n"
                  "redis.register_function('g2', function() return ARGV end)")
        self.assertEqual(self.r.cmd("FCALL", "types", "2", "a", "b", "c"),
                         [b"table", 2, b"table", 1])
        # no KEYS / ARGV globals in functions
        self.assertEqual(self.r.cmd("FCALL", "g1", "1", "a"), Error(
            "ERR user_function:3: Script attempted to access nonexistent global variable "
            "'KEYS' script: g1, on @user_function:3."))
        self.assertEqual(self.r.cmd("FCALL", "g2", "1", "a"), Error(
            "ERR user_function:4: Script attempted to access nonexistent global variable "
            "'ARGV' script: g2, on @user_function:4."))

    def test_return_values_and_errors(self):
        self.load("ret", "\n".join([
            "redis.register_function('t', function() "
            "return {1, 'two', 3.7, true, false, nil, 5} end)",
            "redis.register_function('st', function() return redis.status_reply('FINE') end)",
            "redis.register_function('okt', function() return {ok='fine'} end)",
            "redis.register_function('e', function() return redis.error_reply('MY err') end)",
            "redis.register_function('e2', function() error('raw') end)",
            "redis.register_function('e3', function() return redis.call('NOSUCH') end)",
            "redis.register_function('sha', function() return redis.sha1hex('') end)",
            "redis.register_function('glob', function() x = 1 end)",
        ]))
        self.assertEqual(self.r.cmd("FCALL", "t", "0"), [1, b"two", 3, 1, None])
        self.assertEqual(self.r.raw("FCALL", "st", "0"), b"+FINE\r\n")
        self.assertEqual(self.r.raw("FCALL", "okt", "0"), b"+fine\r\n")
        self.assertEqual(self.r.cmd("FCALL", "e", "0"), Error("MY err"))
        self.assertEqual(self.r.cmd("FCALL", "e2", "0"),
                         Error("ERR user_function:6: raw script: e2, on @user_function:6."))
        self.assertEqual(self.r.cmd("FCALL", "e3", "0"), Error(
            "ERR Unknown Redis command called from script script: e3, on @user_function:7."))
        self.assertEqual(self.r.cmd("FCALL", "sha", "0"),
                         b"da39a3ee5e6b4b0d3255bfef95601890afd80709")
        self.assertEqual(self.r.cmd("FCALL", "glob", "0"), Error(
            "ERR user_function:9: Attempt to modify a readonly table script: glob, on "
            "@user_function:9."))

    def test_redis_call_and_pcall(self):
        self.load("calls", "\n".join([
            "redis.register_function('ping', function() return redis.call('PING') end)",
            "redis.register_function('incr', function(keys) "
            "return redis.call('INCR', keys[1]) end)",
            "redis.register_function('pincr', function(keys) "
            "return redis.pcall('INCR', keys[1]) end)",
            "redis.register_function('setget', function(keys, args) "
            "redis.call('SET', keys[1], args[1]) return redis.call('GET', keys[1]) end)",
        ]))
        self.assertEqual(self.r.raw("FCALL", "ping", "0"), b"+PONG\r\n")
        self.assertEqual(self.r.cmd("FCALL", "setget", "1", "{c}k", "hello"), b"hello")
        self.assertEqual(self.r.cmd("GET", "{c}k"), b"hello")
        self.assertEqual(self.r.cmd("FCALL", "incr", "1", "n"), 1)
        self.assertEqual(self.r.cmd("FCALL", "incr", "1", "n"), 2)
        self.r.cmd("SET", "s", "x")
        self.assertEqual(self.r.cmd("FCALL", "pincr", "1", "s"),
                         Error("ERR value is not an integer or out of range"))
        self.assertEqual(self.r.cmd("FCALL", "incr", "1", "s"), Error(
            "ERR value is not an integer or out of range script: incr, on @user_function:3."))

    def test_calls_on_keys_of_many_shards(self):
        self.load("many", "redis.register_function('setall', function(keys, args) "
                  "for i, k in ipairs(keys) do redis.call('SET', k, args[1] .. i) end "
                  "return redis.call('MGET', unpack(keys)) end)")
        keys = ["fk:%d" % i for i in range(12)]
        self.assertEqual(self.r.cmd("FCALL", "setall", str(len(keys)), *keys, "v"),
                         [b"v%d" % (i + 1) for i in range(len(keys))])
        for c in self.others(4):
            self.assertEqual(c.cmd("MGET", *keys), [b"v%d" % (i + 1) for i in range(len(keys))])

    def test_undeclared_keys_still_work(self):
        self.r.cmd("SET", "undeclared:1", "u1")
        self.load("und", "redis.register_function('f', function() "
                  "local v = redis.call('GET', 'undeclared:1') "
                  "redis.call('SET', 'undeclared:2', v .. '!') "
                  "return redis.call('GET', 'undeclared:2') end)")
        for _ in range(3):
            self.assertEqual(self.r.cmd("FCALL", "f", "0"), b"u1!")

    def test_resp3_conversion(self):
        self.load("r3", "redis.register_function('hg', function(keys) redis.setresp(3) "
                  "return redis.call('HGETALL', keys[1]) end)")
        self.r.cmd("HSET", "h", "f", "v")
        self.assertEqual(self.r.cmd("FCALL", "hg", "1", "h"), [b"f", b"v"])
        self.assertEqual(self.r.cmd("HELLO", "3")[b"proto"], 3)
        reply = self.r.cmd("FCALL", "hg", "1", "h")
        self.assertIsInstance(reply, Map)
        self.assertEqual(reply, {b"f": b"v"})

    def test_fcall_arguments_errors(self):
        self.load("argl", "redis.register_function('f', function(keys, args) return #keys end)")
        self.assertEqual(self.r.cmd("FCALL", "f", "-1"),
                         Error("ERR Number of keys can't be negative"))
        self.assertEqual(self.r.cmd("FCALL", "f", "3", "a"),
                         Error("ERR Number of keys can't be greater than number of args"))
        self.assertEqual(self.r.cmd("FCALL", "f", "x"), Error("ERR Bad number of keys provided"))
        self.assertEqual(self.r.cmd("FCALL_RO", "f", "x"),
                         Error("ERR Bad number of keys provided"))
        self.assertEqual(self.r.cmd("FCALL"), Error(arity("fcall")))
        self.assertEqual(self.r.cmd("FCALL", "f"), Error(arity("fcall")))
        self.assertEqual(self.r.cmd("FCALL_RO", "f"), Error(arity("fcall_ro")))
        self.assertEqual(self.r.cmd("FCALL", "f", "2", "a", "b"), 2)

    def test_unknown_function(self):
        self.assertEqual(self.r.cmd("FCALL", "nosuch", "0"), Error(NO_FUNCTION))
        self.assertEqual(self.r.cmd("FCALL_RO", "nosuch", "1", "k"), Error(NO_FUNCTION))

    def test_function_names_are_case_insensitive_library_names_are_not(self):
        self.load("lib", "redis.register_function('f', function() return 'f' end)")
        self.assertEqual(self.r.cmd("FCALL", "F", "0"), b"f")
        # another library may be called LIB ...
        self.load("LIB", "redis.register_function('g', function() return 'g' end)")
        # ... but no function may be called F
        self.assertEqual(self.r.cmd("FUNCTION", "LOAD",
                                    lib("lib2", "redis.register_function('F', "
                                                "function() return 1 end)")),
                         Error("ERR Function F already exists"))
        self.assertEqual(self.r.cmd("FUNCTION", "DELETE", "LIB"), "OK")
        self.assertEqual(self.r.cmd("FCALL", "g", "0"), Error(NO_FUNCTION))
        self.assertEqual(self.r.cmd("FCALL", "f", "0"), b"f")

    def test_fcall_in_multi_and_not_from_scripts(self):
        self.load("mx", "redis.register_function('w', function(keys) "
                  "return redis.call('SET', keys[1], 'v') end)\n"
                  "redis.register_function{function_name='ro', callback=function(keys) "
                  "return redis.call('GET', keys[1]) end, flags={'no-writes'}}")
        self.assertOK(self.r.cmd("MULTI"))
        self.assertEqual(self.r.cmd("FCALL", "w", "1", "mk"), "QUEUED")
        self.assertEqual(self.r.cmd("FCALL_RO", "ro", "1", "mk"), "QUEUED")
        self.assertEqual(self.r.cmd("EXEC"), ["OK", b"v"])
        reply = self.r.cmd("EVAL", "return redis.call('FCALL', 'w', '1', 'k')", "0")
        self.assertIsInstance(reply, Error)
        self.assertTrue(reply.message.startswith(
            "ERR This Redis command is not allowed from script script: "), reply)
        reply = self.r.cmd("EVAL", "return redis.call('FUNCTION', 'LIST')", "0")
        self.assertIsInstance(reply, Error)
        self.assertTrue(reply.message.startswith(
            "ERR This Redis command is not allowed from script script: "), reply)
        self.assertIsNone(self.r.cmd("GET", "k"))


class TestLoadErrors(FunctionTestCase):

    def test_already_exists_and_replace(self):
        v1 = lib("rl", "redis.register_function('old', function() return 'v1' end)")
        v2 = lib("rl", "redis.register_function('new', function() return 'v2' end)")
        self.assertEqual(self.r.cmd("FUNCTION", "LOAD", v1), b"rl")
        self.assertEqual(self.r.cmd("FUNCTION", "LOAD", v1),
                         Error("ERR Library 'rl' already exists"))
        # checked before the code is even compiled
        self.assertEqual(self.r.cmd("FUNCTION", "LOAD", lib("rl", "return (")),
                         Error("ERR Library 'rl' already exists"))
        self.assertEqual(self.r.cmd("FUNCTION", "LOAD", "REPLACE", v2), b"rl")
        self.assertEqual(self.r.cmd("FCALL", "old", "0"), Error(NO_FUNCTION))
        self.assertEqual(self.r.cmd("FCALL", "new", "0"), b"v2")
        self.assertEqual(self.r.cmd("FUNCTION", "LOAD", "replace", v1), b"rl")
        self.assertEqual(self.r.cmd("FCALL", "old", "0"), b"v1")
        self.assertEqual(self.r.cmd("FCALL", "new", "0"), Error(NO_FUNCTION))
        # a failing REPLACE keeps the old library
        self.assertEqual(self.r.cmd("FUNCTION", "LOAD", "REPLACE", lib("rl", "return (")),
                         Error("ERR Error compiling function: user_function:2: unexpected "
                               "symbol near '<eof>'"))
        self.assertEqual(self.r.cmd("FUNCTION", "LOAD", "REPLACE", lib("rl", "local a = 1")),
                         Error("ERR No functions registered"))
        self.assertEqual(self.r.cmd("FCALL", "old", "0"), b"v1")
        # REPLACE does not let a library take another library's function
        self.load("other", "redis.register_function('taken', function() return 1 end)")
        self.assertEqual(self.r.cmd("FUNCTION", "LOAD", "REPLACE",
                                    lib("rl", "redis.register_function('taken', "
                                              "function() return 2 end)")),
                         Error("ERR Function taken already exists"))
        self.assertEqual(self.r.cmd("FCALL", "old", "0"), b"v1")
        self.assertEqual(self.r.cmd("FCALL", "taken", "0"), 1)

    def test_load_arguments(self):
        code = lib("la", "redis.register_function('f', function() return 1 end)")
        self.assertEqual(self.r.cmd("FUNCTION", "LOAD"), Error(arity("function|load")))
        self.assertEqual(self.r.cmd("FUNCTION", "LOAD", "X", code),
                         Error("ERR Unknown option given: X"))
        self.assertEqual(self.r.cmd("FUNCTION", "LOAD", "REPLACE"),
                         Error("ERR Missing library metadata"))
        self.assertEqual(self.r.cmd("FUNCTION", "LOAD", "REPLACE", "REPLACE", "x"),
                         Error("ERR Missing library metadata"))
        self.assertEqual(self.r.cmd("FUNCTION", "LOAD", "a", "b", "c"),
                         Error("ERR Unknown option given: a"))
        self.assertEqual(self.r.cmd("FUNCTION", "LOAD", code), b"la")

    def test_metadata_errors(self):
        cases = [
            ("return 1", "ERR Missing library metadata"),
            ("", "ERR Missing library metadata"),
            ("#!lua", "ERR Invalid library metadata"),
            ("#!lua name=lib5", "ERR Invalid library metadata"),
            ("#!lua\nreturn 1", "ERR Library name was not given"),
            ("#!lua name=x foo=bar\nreturn 1", "ERR Invalid metadata value given: foo=bar"),
            ("#!lua name=x foo\nreturn 1", "ERR Invalid metadata value given: foo"),
            ("#!lua name=x name=y\nreturn 1",
             "ERR Invalid metadata value, name argument was given multiple times"),
            ("#!js name=x\nreturn 1", "ERR Engine 'js' not found"),
            ("#!lua name=\nreturn 1", NAME_RULES),
            ("#!lua name=a-b\nreturn 1", NAME_RULES),
            ("#!lua name=a.b\nreturn 1", NAME_RULES),
            ("#!lua name=x\nreturn (",
             "ERR Error compiling function: user_function:2: unexpected symbol near '<eof>'"),
            ("#!lua name=x\nreturn 1", "ERR No functions registered"),
            ("#!lua name=x\nlocal a = 1", "ERR No functions registered"),
        ]
        for code, err in cases:
            with self.subTest(code=code):
                self.assertEqual(self.r.cmd("FUNCTION", "LOAD", code), Error(err))
        self.assertEqual(self.r.cmd("FUNCTION", "LIST"), [])

    def test_accepted_shebangs(self):
        fn = "\nredis.register_function('%s', function() return '%s' end)"
        self.assertEqual(self.r.cmd("FUNCTION", "LOAD", "#!LUA name=up" + fn % ("f1", "1")),
                         b"up")
        self.assertEqual(self.r.cmd("FUNCTION", "LOAD", "#!lua  name=sp " + fn % ("f2", "2")),
                         b"sp")
        self.assertEqual(self.r.cmd("FUNCTION", "LOAD", "#!lua name=a_B9" + fn % ("f3", "3")),
                         b"a_B9")
        self.assertEqual(self.r.cmd("FUNCTION", "LOAD", '#!lua name="q"' + fn % ("f4", "4")),
                         b"q")
        for i in range(1, 5):
            self.assertEqual(self.r.cmd("FCALL", "f%d" % i, "0"), str(i).encode())

    def test_function_name_rules(self):
        for name in ["a-b", "a b", "", "f.x"]:
            with self.subTest(name=name):
                self.assertEqual(self.r.cmd("FUNCTION", "LOAD", lib(
                    "fl", "redis.register_function('%s', function() return 1 end)" % name)),
                    Error(REG_ERR + NAME_RULES))
        self.assertEqual(self.r.cmd("FUNCTION", "LOAD", lib(
            "fl", "redis.register_function('f', function() return 1 end) "
                  "redis.register_function('f', function() return 2 end)")),
            Error(REG_ERR + "ERR Function already exists in the library"))
        self.load("fl", "redis.register_function('Fn_9', function() return 1 end)")
        self.assertEqual(self.r.cmd("FUNCTION", "LOAD", lib(
            "fl2", "redis.register_function('fn_9', function() return 2 end)")),
            Error("ERR Function fn_9 already exists"))
        self.assertEqual(self.r.cmd("FCALL", "Fn_9", "0"), 1)

    def test_register_function_argument_errors(self):
        cb = "callback=function() return 1 end"
        cases = [
            ("redis.register_function('f')",
             "ERR calling redis.register_function with a single argument is only applicable "
             "to Lua table (representing named arguments)."),
            ("redis.register_function('f', 1)",
             "ERR second argument to redis.register_function must be a function"),
            ("redis.register_function()",
             "ERR wrong number of arguments to redis.register_function"),
            ("redis.register_function(1, 2, 3)",
             "ERR wrong number of arguments to redis.register_function"),
            ("redis.register_function{function_name='f'}",
             "ERR redis.register_function must get a callback argument"),
            ("redis.register_function{%s}" % cb,
             "ERR redis.register_function must get a function name argument"),
            ("redis.register_function{function_name='f', %s, other=1}" % cb,
             "ERR unknown argument given to redis.register_function"),
            ("redis.register_function{function_name='f', %s, flags={'bad'}}" % cb,
             "ERR unknown flag given"),
            ("redis.register_function{function_name='f', %s, flags={'allow-busy'}}" % cb,
             "ERR unknown flag given"),
            ("redis.register_function{function_name='f', %s, flags='no-writes'}" % cb,
             "ERR flags argument to redis.register_function must be a table representing "
             "function flags"),
        ]
        for body, err in cases:
            with self.subTest(body=body):
                self.assertEqual(self.r.cmd("FUNCTION", "LOAD", lib("ra", body)),
                                 Error(REG_ERR + err))
        self.assertEqual(self.r.cmd("FUNCTION", "LIST"), [])

    def test_load_time_environment(self):
        # only register_function and log are there while loading
        for body, name in [("redis.call('PING')", "call"),
                           ("redis.register_function('f', function() return 1 end) "
                            "redis.call('PING')", "call"),
                           ("return redis.setresp(3)", "setresp"),
                           ("error('boom')", "error")]:
            with self.subTest(body=body):
                self.assertEqual(self.r.cmd("FUNCTION", "LOAD", lib("env", body)), Error(
                    REG_ERR + "ERR user_function:2: Script attempted to access nonexistent "
                    "global variable '%s'" % name))
        self.load("env", "redis.log(redis.LOG_NOTICE, 'loading') "
                  "redis.register_function('f', function() return 'ok' end)")
        self.assertEqual(self.r.cmd("FCALL", "f", "0"), b"ok")

    def test_register_function_outside_load(self):
        self.load("outside", "redis.register_function('g', function() "
                  "return redis.register_function('h', function() return 1 end) end)")
        self.assertEqual(self.r.cmd("FCALL", "g", "0"), Error(
            "ERR user_function:2: attempt to call field 'register_function' (a nil value) "
            "script: g, on @user_function:2."))
        self.assertEqual(self.r.cmd("FCALL", "h", "0"), Error(NO_FUNCTION))


class TestFlags(FunctionTestCase):

    BODY = "\n".join([
        "redis.register_function('w', function(keys) return redis.call('SET', keys[1], 'v') end)",
        "redis.register_function{function_name='ro', callback=function(keys) "
        "return redis.call('GET', keys[1]) end, flags={'no-writes'}}",
        "redis.register_function{function_name='rw', callback=function(keys) "
        "return redis.call('SET', keys[1], 'x') end, flags={'no-writes'}}",
        "redis.register_function{function_name='woom', callback=function(keys) "
        "return redis.call('SET', keys[1], 'oom') end, flags={'allow-oom'}}",
        "redis.register_function{function_name='nc', callback=function(keys) "
        "return redis.call('SET', keys[1], 'nc') end, flags={'no-cluster', 'allow-stale'}}",
    ])

    def test_fcall_ro_needs_no_writes(self):
        self.load("fl", self.BODY)
        self.assertEqual(self.r.cmd("FCALL_RO", "w", "1", "k"), Error(RO_WRITE_FLAG))
        self.assertEqual(self.r.cmd("FCALL_RO", "woom", "1", "k"), Error(RO_WRITE_FLAG))
        self.assertIsNone(self.r.cmd("GET", "k"))
        self.assertIsNone(self.r.cmd("FCALL_RO", "ro", "1", "k"))
        self.assertEqual(self.r.cmd("FCALL", "w", "1", "k"), "OK")
        self.assertEqual(self.r.cmd("FCALL_RO", "ro", "1", "k"), b"v")
        self.assertEqual(self.r.cmd("FCALL", "ro", "1", "k"), b"v")

    def test_writes_inside_no_writes_function(self):
        self.load("fl", self.BODY)
        err = Error("ERR Write commands are not allowed from read-only scripts. script: rw, "
                    "on @user_function:4.")
        self.assertEqual(self.r.cmd("FCALL", "rw", "1", "k"), err)
        self.assertEqual(self.r.cmd("FCALL_RO", "rw", "1", "k"), err)
        self.assertIsNone(self.r.cmd("GET", "k"))

    def test_no_cluster_and_allow_stale_run_on_a_standalone_master(self):
        self.load("fl", self.BODY)
        self.assertEqual(self.r.cmd("FCALL", "nc", "1", "k"), "OK")
        self.assertEqual(self.r.cmd("GET", "k"), b"nc")

    def test_flags_are_listed(self):
        self.load("fl", "redis.register_function{function_name='all', "
                  "callback=function() return 1 end, description='d', flags={"
                  "'allow-cross-slot-keys', 'no-cluster', 'allow-stale', 'allow-oom', "
                  "'no-writes', 'no-writes'}}")
        self.assertEqual(self.r.cmd("FUNCTION", "LIST"), [[
            b"library_name", b"fl", b"engine", b"LUA", b"functions",
            [[b"name", b"all", b"description", b"d", b"flags",
              ["no-writes", "allow-oom", "allow-stale", "no-cluster",
               "allow-cross-slot-keys"]]]]])
        self.assertTrue(self.r.raw("FUNCTION", "LIST").endswith(
                         b"*5\r\n+no-writes\r\n+allow-oom\r\n+allow-stale\r\n+no-cluster\r\n"
                         b"+allow-cross-slot-keys\r\n"))

    def test_allow_oom(self):
        self.load("fl", self.BODY)
        self.assertEqual(self.r.cmd("FCALL", "w", "1", "k"), "OK")
        reply = self.r.cmd("CONFIG", "SET", "maxmemory", "1")
        if isinstance(reply, Error):
            self.skipTest("no maxmemory on this server: %s" % reply.message)
        try:
            oom = Error("OOM command not allowed when used memory > 'maxmemory'.")
            self.assertEqual(self.r.cmd("FCALL", "w", "1", "k"), oom)
            self.assertEqual(self.r.cmd("FUNCTION", "LOAD", lib(
                "x", "redis.register_function('x', function() return 1 end)")), oom)
            self.assertEqual(self.r.cmd("FCALL", "woom", "1", "k"), "OK")
            self.assertEqual(self.r.cmd("FCALL", "ro", "1", "k"), b"oom")
            self.assertEqual(self.r.cmd("FCALL_RO", "ro", "1", "k"), b"oom")
        finally:
            self.assertOK(self.r.cmd("CONFIG", "SET", "maxmemory", "0"))


class TestListStatsDeleteFlush(FunctionTestCase):

    def test_list_resp2(self):
        self.assertEqual(self.r.raw("FUNCTION", "LIST"), b"*0\r\n")
        self.load("one", "redis.register_function('f', function() return 1 end)")
        self.assertEqual(self.r.raw("FUNCTION", "LIST"),
                         b"*1\r\n*6\r\n$12\r\nlibrary_name\r\n$3\r\none\r\n$6\r\nengine\r\n"
                         b"$3\r\nLUA\r\n$9\r\nfunctions\r\n*1\r\n*6\r\n$4\r\nname\r\n$1\r\nf\r\n"
                         b"$11\r\ndescription\r\n$-1\r\n$5\r\nflags\r\n*0\r\n")
        code = lib("one", "redis.register_function('f', function() return 1 end)").encode()
        self.assertEqual(self.r.cmd("FUNCTION", "LIST", "WITHCODE"), [[
            b"library_name", b"one", b"engine", b"LUA", b"functions",
            [[b"name", b"f", b"description", None, b"flags", []]],
            b"library_code", code]])
        self.assertEqual(self.r.cmd("FUNCTION", "list", "withcode", "libraryname", "o*"),
                         self.r.cmd("FUNCTION", "LIST", "WITHCODE"))

    def test_list_resp3(self):
        self.load("three", "redis.register_function('f', function() return 1 end)\n"
                  "redis.register_function{function_name='g', callback=function() return 2 "
                  "end, flags={'no-writes'}, description='gee'}")
        self.assertEqual(self.r.cmd("HELLO", "3")[b"proto"], 3)
        reply = self.r.cmd("FUNCTION", "LIST", "WITHCODE")
        self.assertEqual(len(reply), 1)
        entry = reply[0]
        self.assertIsInstance(entry, Map)
        self.assertEqual(list(entry.keys()),
                         [b"library_name", b"engine", b"functions", b"library_code"])
        self.assertEqual(entry[b"library_name"], b"three")
        self.assertEqual(entry[b"engine"], b"LUA")
        self.assertTrue(entry[b"library_code"].startswith(b"#!lua name=three\n"))
        fns = {}
        for f in entry[b"functions"]:
            self.assertIsInstance(f, Map)
            self.assertEqual(list(f.keys()), [b"name", b"description", b"flags"])
            self.assertIsInstance(f[b"flags"], RespSet)
            fns[f[b"name"]] = (f[b"description"], list(f[b"flags"]))
        self.assertEqual(fns, {b"f": (None, []), b"g": (b"gee", ["no-writes"])})
        raw = self.r.raw("FUNCTION", "LIST")
        self.assertTrue(raw.startswith(b"*1\r\n%3\r\n$12\r\nlibrary_name\r\n"), raw)
        self.assertIn(b"$11\r\ndescription\r\n_\r\n$5\r\nflags\r\n~0\r\n", raw)
        self.assertIn(b"$11\r\ndescription\r\n$3\r\ngee\r\n$5\r\nflags\r\n~1\r\n+no-writes\r\n",
                      raw)

    def test_list_libraryname_filter(self):
        for name in ["alpha", "alpine", "beta"]:
            self.load(name, "redis.register_function('%s_f', function() return 1 end)" % name)
        names = lambda *a: sorted(libraries(self.r.cmd("FUNCTION", "LIST", *a)))  # noqa: E731
        self.assertEqual(names(), [b"alpha", b"alpine", b"beta"])
        self.assertEqual(names("LIBRARYNAME", "al*"), [b"alpha", b"alpine"])
        self.assertEqual(names("LIBRARYNAME", "AL*"), [b"alpha", b"alpine"])  # nocase glob
        self.assertEqual(names("LIBRARYNAME", "?eta"), [b"beta"])
        self.assertEqual(names("LIBRARYNAME", "alpha"), [b"alpha"])
        self.assertEqual(names("LIBRARYNAME", "alp"), [])  # a pattern, not a prefix
        self.assertEqual(names("LIBRARYNAME", "*[np]*"), [b"alpha", b"alpine"])
        self.assertEqual(names("LIBRARYNAME", "nosuch"), [])
        got = libraries(self.r.cmd("FUNCTION", "LIST", "LIBRARYNAME", "beta", "WITHCODE"))
        self.assertEqual(got, {b"beta": {
            "engine": b"LUA", "functions": {b"beta_f": (None, [])},
            "code": lib("beta", "redis.register_function('beta_f', function() return 1 end)")
            .encode()}})

    def test_list_argument_errors(self):
        self.assertEqual(self.r.cmd("FUNCTION", "LIST", "LIBRARYNAME"),
                         Error("ERR library name argument was not given"))
        self.assertEqual(self.r.cmd("FUNCTION", "LIST", "BAD"),
                         Error("ERR Unknown argument BAD"))
        self.assertEqual(self.r.cmd("FUNCTION", "LIST", "LIBRARYNAME", "a", "x"),
                         Error("ERR Unknown argument x"))
        self.assertEqual(self.r.cmd("FUNCTION", "LIST", "WITHCODE", "WITHCODE"),
                         Error("ERR Unknown argument WITHCODE"))
        self.assertEqual(self.r.cmd("FUNCTION", "LIST", "LIBRARYNAME", "a", "LIBRARYNAME", "b"),
                         Error("ERR Unknown argument LIBRARYNAME"))

    def test_stats_idle(self):
        self.assertEqual(self.r.raw("FUNCTION", "STATS"),
                         b"*4\r\n$14\r\nrunning_script\r\n$-1\r\n$7\r\nengines\r\n*2\r\n"
                         b"$3\r\nLUA\r\n*4\r\n$15\r\nlibraries_count\r\n:0\r\n"
                         b"$15\r\nfunctions_count\r\n:0\r\n")
        self.load("s1", "redis.register_function('a', function() return 1 end) "
                  "redis.register_function('b', function() return 1 end)")
        self.load("s2", "redis.register_function('c', function() return 1 end)")
        self.assertEqual(self.r.cmd("FUNCTION", "STATS"), [
            b"running_script", None, b"engines",
            [b"LUA", [b"libraries_count", 2, b"functions_count", 3]]])
        self.assertEqual(self.r.cmd("HELLO", "3")[b"proto"], 3)
        self.assertEqual(self.r.raw("FUNCTION", "STATS"),
                         b"%2\r\n$14\r\nrunning_script\r\n_\r\n$7\r\nengines\r\n%1\r\n"
                         b"$3\r\nLUA\r\n%2\r\n$15\r\nlibraries_count\r\n:2\r\n"
                         b"$15\r\nfunctions_count\r\n:3\r\n")
        self.assertOK(self.r.cmd("FUNCTION", "DELETE", "s1"))
        self.assertEqual(self.r.cmd("FUNCTION", "STATS"), {
            b"running_script": None,
            b"engines": {b"LUA": {b"libraries_count": 1, b"functions_count": 1}}})

    def test_kill_when_idle(self):
        self.assertEqual(self.r.cmd("FUNCTION", "KILL"),
                         Error("NOTBUSY No scripts in execution right now."))
        self.assertEqual(self.r.cmd("FUNCTION", "KILL", "x"), Error(arity("function|kill")))

    def test_delete(self):
        self.load("d1", "redis.register_function('d1f', function() return 1 end)")
        self.load("d2", "redis.register_function('d2f', function() return 2 end)")
        self.assertEqual(self.r.cmd("FUNCTION", "DELETE", "nosuch"),
                         Error("ERR Library not found"))
        self.assertEqual(self.r.cmd("FUNCTION", "DELETE", "D1"), Error("ERR Library not found"))
        self.assertEqual(self.r.cmd("FUNCTION", "DELETE"), Error(arity("function|delete")))
        self.assertEqual(self.r.cmd("FUNCTION", "DELETE", "d1", "d2"),
                         Error(arity("function|delete")))
        self.assertEqual(self.r.raw("FUNCTION", "DELETE", "d1"), b"+OK\r\n")
        self.assertEqual(self.r.cmd("FUNCTION", "DELETE", "d1"), Error("ERR Library not found"))
        self.assertEqual(self.r.cmd("FCALL", "d1f", "0"), Error(NO_FUNCTION))
        self.assertEqual(self.r.cmd("FCALL", "d2f", "0"), 2)
        self.assertEqual(sorted(libraries(self.r.cmd("FUNCTION", "LIST"))), [b"d2"])
        # the name is free again
        self.load("d1", "redis.register_function('d1f', function() return 11 end)")
        self.assertEqual(self.r.cmd("FCALL", "d1f", "0"), 11)

    def test_flush(self):
        self.load("fx", "redis.register_function('fxf', function() return 1 end)")
        self.r.cmd("SET", "key", "kept")
        self.assertEqual(self.r.raw("FUNCTION", "FLUSH"), b"+OK\r\n")
        self.assertEqual(self.r.cmd("FUNCTION", "LIST"), [])
        self.assertEqual(self.r.cmd("FCALL", "fxf", "0"), Error(NO_FUNCTION))
        self.assertEqual(self.r.cmd("GET", "key"), b"kept")
        for opt in ["ASYNC", "SYNC", "async", "sync"]:
            self.load("fx", "redis.register_function('fxf', function() return 1 end)")
            self.assertOK(self.r.cmd("FUNCTION", "FLUSH", opt))
            self.assertEqual(self.r.cmd("FUNCTION", "LIST"), [])
        self.assertEqual(self.r.cmd("FUNCTION", "FLUSH", "x"),
                         Error("ERR FUNCTION FLUSH only supports SYNC|ASYNC option"))
        self.assertEqual(self.r.cmd("FUNCTION", "FLUSH", "SYNC", "x"), Error(
            "ERR unknown subcommand or wrong number of arguments for 'FLUSH'. "
            "Try FUNCTION HELP."))

    def test_functions_survive_flushall_and_flushdb(self):
        self.load("keep", "redis.register_function('kf', function() return 'kept' end)")
        self.assertOK(self.r.cmd("FLUSHALL"))
        self.assertOK(self.r.cmd("FLUSHDB"))
        self.assertEqual(self.r.cmd("FCALL", "kf", "0"), b"kept")
        self.assertOK(self.r.cmd("SCRIPT", "FLUSH"))
        self.assertEqual(self.r.cmd("FCALL", "kf", "0"), b"kept")

    def test_subcommand_errors(self):
        self.assertEqual(self.r.cmd("FUNCTION"), Error(arity("function")))
        self.assertEqual(self.r.cmd("FUNCTION", "NOSUCH"),
                         Error("ERR unknown subcommand 'NOSUCH'. Try FUNCTION HELP."))
        self.assertEqual(self.r.cmd("FUNCTION", "DUMP", "x"), Error(arity("function|dump")))
        self.assertEqual(self.r.cmd("FUNCTION", "STATS", "x"), Error(arity("function|stats")))
        self.assertEqual(self.r.cmd("FUNCTION", "RESTORE"), Error(arity("function|restore")))


class TestEveryConnection(FunctionTestCase):

    def test_functions_are_visible_from_every_connection(self):
        conns = self.others(6)
        self.load("shared", "redis.register_function('sf', function(keys, args) "
                  "return redis.call('SET', keys[1], args[1]) end)", client=conns[0])
        for i, c in enumerate(conns + [self.r]):
            key = "vis:%d" % i
            self.assertEqual(c.cmd("FCALL", "sf", "1", key, "c%d" % i), "OK")
            self.assertEqual(self.r.cmd("GET", key), b"c%d" % i)
            self.assertEqual(sorted(libraries(c.cmd("FUNCTION", "LIST"))), [b"shared"])
            self.assertEqual(c.cmd("FUNCTION", "STATS")[3][1][1], 1)
        # a library loaded elsewhere blocks the name everywhere
        self.assertEqual(conns[3].cmd("FUNCTION", "LOAD", lib(
            "shared", "redis.register_function('zz', function() return 1 end)")),
            Error("ERR Library 'shared' already exists"))
        self.assertEqual(conns[4].cmd("FUNCTION", "LOAD", "REPLACE", lib(
            "shared", "redis.register_function('sf', function() return 'v2' end)")),
            b"shared")
        for c in conns:
            self.assertEqual(c.cmd("FCALL", "sf", "0"), b"v2")
        self.assertOK(conns[5].cmd("FUNCTION", "DELETE", "shared"))
        for c in conns:
            self.assertEqual(c.cmd("FCALL", "sf", "0"), Error(NO_FUNCTION))
            self.assertEqual(c.cmd("FUNCTION", "LIST"), [])
        self.load("again", "redis.register_function('ag', function() return 'ag' end)",
                  client=conns[1])
        dump = conns[2].cmd("FUNCTION", "DUMP")
        self.assertOK(conns[3].cmd("FUNCTION", "FLUSH"))
        for c in conns:
            self.assertEqual(c.cmd("FCALL", "ag", "0"), Error(NO_FUNCTION))
        self.assertOK(conns[4].cmd("FUNCTION", "RESTORE", dump))
        for c in conns:
            self.assertEqual(c.cmd("FCALL_RO", "ag", "0"), Error(RO_WRITE_FLAG))
            self.assertEqual(c.cmd("FCALL", "ag", "0"), b"ag")

    def test_new_connections_see_loaded_functions(self):
        self.load("late", "redis.register_function{function_name='lf', callback=function() "
                  "return 'late' end, flags={'no-writes'}}")
        for _ in range(8):
            with Client(self.server.port) as c:
                self.assertEqual(c.cmd("FCALL_RO", "lf", "0"), b"late")


class TestDumpRestore(FunctionTestCase):

    LIBS = {
        "la": "redis.register_function('a1', function() return 'a1' end)\n"
              "redis.register_function{function_name='a2', callback=function(keys) "
              "return redis.call('GET', keys[1]) end, flags={'no-writes', 'allow-oom'}, "
              "description='second'}",
        "lb": "redis.register_function('b1', function() return 'b1' end)",
    }

    def load_all(self):
        for name, body in self.LIBS.items():
            self.load(name, body)

    def test_dump_is_a_redis_payload(self):
        empty = self.r.cmd("FUNCTION", "DUMP")
        self.assertIsInstance(empty, bytes)
        self.load_all()
        dump = self.r.cmd("FUNCTION", "DUMP")
        self.assertIsInstance(dump, bytes)
        for d in (empty, dump):
            # trailer: RDB version 10 (little endian), CRC64 of all before it
            self.assertGreaterEqual(len(d), 10)
            self.assertEqual(struct.unpack("<H", d[-10:-8])[0], 10)
            self.assertEqual(struct.unpack("<Q", d[-8:])[0], crc64(d[:-8]))
        self.assertEqual(len(empty), 10)
        self.assertEqual(dump[0], 0xF5)  # RDB_OPCODE_FUNCTION2

    def test_round_trip(self):
        self.load_all()
        before = libraries(self.r.cmd("FUNCTION", "LIST", "WITHCODE"))
        dump = self.r.cmd("FUNCTION", "DUMP")
        self.assertOK(self.r.cmd("FUNCTION", "FLUSH"))
        self.assertEqual(self.r.cmd("FCALL", "a1", "0"), Error(NO_FUNCTION))
        self.assertEqual(self.r.raw("FUNCTION", "RESTORE", dump), b"+OK\r\n")
        self.assertEqual(libraries(self.r.cmd("FUNCTION", "LIST", "WITHCODE")), before)
        self.assertEqual(before[b"la"]["functions"][b"a2"],
                         (b"second", ["no-writes", "allow-oom"]))
        self.assertEqual(self.r.cmd("FCALL", "a1", "0"), b"a1")
        self.assertEqual(self.r.cmd("FCALL", "b1", "0"), b"b1")
        self.r.cmd("SET", "k", "kv")
        self.assertEqual(self.r.cmd("FCALL_RO", "a2", "1", "k"), b"kv")
        # a dump of the restored libraries restores the same libraries again
        again = self.r.cmd("FUNCTION", "DUMP")
        self.assertOK(self.r.cmd("FUNCTION", "RESTORE", again, "FLUSH"))
        self.assertEqual(libraries(self.r.cmd("FUNCTION", "LIST", "WITHCODE")), before)

    def test_restore_policies(self):
        self.load_all()
        dump = self.r.cmd("FUNCTION", "DUMP")
        # APPEND (the default) refuses libraries that exist, and adds nothing
        self.assertOK(self.r.cmd("FUNCTION", "DELETE", "la"))
        self.assertEqual(self.r.cmd("FUNCTION", "RESTORE", dump),
                         Error("ERR Library lb already exists"))
        self.assertEqual(self.r.cmd("FUNCTION", "RESTORE", dump, "APPEND"),
                         Error("ERR Library lb already exists"))
        self.assertEqual(sorted(libraries(self.r.cmd("FUNCTION", "LIST"))), [b"lb"])
        self.assertEqual(self.r.cmd("FCALL", "a1", "0"), Error(NO_FUNCTION))
        # REPLACE: libraries of the same name are replaced, others stay
        self.assertEqual(self.r.cmd("FUNCTION", "LOAD", "REPLACE", lib(
            "lb", "redis.register_function('b1', function() return 'new b1' end)")), b"lb")
        self.assertEqual(self.r.cmd("FCALL", "b1", "0"), b"new b1")
        self.load("lc", "redis.register_function('c1', function() return 'c1' end)")
        self.assertOK(self.r.cmd("FUNCTION", "RESTORE", dump, "REPLACE"))
        self.assertEqual(self.r.cmd("FCALL", "b1", "0"), b"b1")
        self.assertEqual(self.r.cmd("FCALL", "a1", "0"), b"a1")
        self.assertEqual(self.r.cmd("FCALL", "c1", "0"), b"c1")
        self.assertOK(self.r.cmd("FUNCTION", "RESTORE", dump, "replace"))
        # FLUSH: everything else goes
        self.assertOK(self.r.cmd("FUNCTION", "RESTORE", dump, "FLUSH"))
        self.assertEqual(self.r.cmd("FCALL", "c1", "0"), Error(NO_FUNCTION))
        self.assertEqual(sorted(libraries(self.r.cmd("FUNCTION", "LIST"))), [b"la", b"lb"])
        # APPEND into an empty set of libraries
        self.assertOK(self.r.cmd("FUNCTION", "FLUSH"))
        self.assertOK(self.r.cmd("FUNCTION", "RESTORE", dump, "append"))
        self.assertEqual(sorted(libraries(self.r.cmd("FUNCTION", "LIST"))), [b"la", b"lb"])

    def test_restore_function_collisions(self):
        self.load_all()
        dump = self.r.cmd("FUNCTION", "DUMP")
        self.assertOK(self.r.cmd("FUNCTION", "FLUSH"))
        # another library owns b1: neither APPEND nor REPLACE may take it
        self.load("lx", "redis.register_function('b1', function() return 'other' end)")
        for policy in [(), ("APPEND",), ("REPLACE",)]:
            with self.subTest(policy=policy):
                self.assertEqual(self.r.cmd("FUNCTION", "RESTORE", dump, *policy),
                                 Error("ERR Function b1 already exists"))
                self.assertEqual(sorted(libraries(self.r.cmd("FUNCTION", "LIST"))), [b"lx"])
                self.assertEqual(self.r.cmd("FCALL", "b1", "0"), b"other")
                self.assertEqual(self.r.cmd("FCALL", "a1", "0"), Error(NO_FUNCTION))
        self.assertOK(self.r.cmd("FUNCTION", "RESTORE", dump, "FLUSH"))
        self.assertEqual(self.r.cmd("FCALL", "b1", "0"), b"b1")

    def test_restore_empty_dump(self):
        empty = self.r.cmd("FUNCTION", "DUMP")
        self.load_all()
        self.assertOK(self.r.cmd("FUNCTION", "RESTORE", empty))
        self.assertEqual(len(libraries(self.r.cmd("FUNCTION", "LIST"))), 2)
        self.assertOK(self.r.cmd("FUNCTION", "RESTORE", empty, "REPLACE"))
        self.assertEqual(len(libraries(self.r.cmd("FUNCTION", "LIST"))), 2)
        self.assertOK(self.r.cmd("FUNCTION", "RESTORE", empty, "FLUSH"))
        self.assertEqual(self.r.cmd("FUNCTION", "LIST"), [])
        # FLUSH with nothing loaded at all (UBSan once saw a copy from NULL)
        self.load_all()
        dump = self.r.cmd("FUNCTION", "DUMP")
        self.assertOK(self.r.cmd("FUNCTION", "FLUSH"))
        self.assertOK(self.r.cmd("FUNCTION", "RESTORE", dump, "FLUSH"))
        self.assertEqual(len(libraries(self.r.cmd("FUNCTION", "LIST"))), 2)

    def test_restore_argument_errors(self):
        self.load_all()
        dump = self.r.cmd("FUNCTION", "DUMP")
        self.assertEqual(self.r.cmd("FUNCTION", "RESTORE", dump, "BAD"), Error(BAD_POLICY))
        self.assertEqual(self.r.cmd("FUNCTION", "RESTORE", dump, "FLUSH", "X"), Error(
            "ERR unknown subcommand or wrong number of arguments for 'RESTORE'. "
            "Try FUNCTION HELP."))
        self.assertEqual(self.r.cmd("function", "restore", dump, "FLUSH", "X"), Error(
            "ERR unknown subcommand or wrong number of arguments for 'restore'. "
            "Try FUNCTION HELP."))
        self.assertEqual(len(libraries(self.r.cmd("FUNCTION", "LIST"))), 2)

    def test_restore_bad_payloads(self):
        self.load_all()
        dump = self.r.cmd("FUNCTION", "DUMP")
        self.assertOK(self.r.cmd("FUNCTION", "FLUSH"))
        bad = [b"garbage", b"", b"x" * 9, dump[:-1], dump[1:], dump + b"\x00"]
        for i in (0, 3, len(dump) - 10, len(dump) - 9, len(dump) - 1):
            b = bytearray(dump)
            b[i] ^= 0x01
            bad.append(bytes(b))
        # a good checksum over a version this server does not read
        bad.append(forge_payload(dump[:-10], 11))
        bad.append(forge_payload(dump[:-10], 0xFFFF))
        for payload in bad:
            with self.subTest(payload=payload[:20]):
                self.assertEqual(self.r.cmd("FUNCTION", "RESTORE", payload, "FLUSH"),
                                 Error(BAD_PAYLOAD))
        self.assertEqual(self.r.cmd("FUNCTION", "LIST"), [])
        # good trailers around bodies that are not libraries
        self.load("keep", "redis.register_function('kf', function() return 1 end)")
        for body, err in [(b"\x00\x01a\x01b", "ERR given type is not a function"),
                          (b"\xf5\x05hello", "ERR Missing library metadata"),
                          (b"\xf5\x08#!lua na", "ERR Invalid library metadata")]:
            with self.subTest(body=body):
                self.assertEqual(self.r.cmd("FUNCTION", "RESTORE", forge_payload(body, 10),
                                            "FLUSH"), Error(err))
        self.assertEqual(self.r.cmd("FCALL", "kf", "0"), 1)
        self.assertEqual(self.r.cmd("FUNCTION", "RESTORE", forge_payload(b"", 10), "FLUSH"),
                         "OK")
        self.assertEqual(self.r.cmd("FUNCTION", "LIST"), [])
        # an older RDB version with the same body is fine
        self.assertOK(self.r.cmd("FUNCTION", "RESTORE", forge_payload(dump[:-10], 9)))
        self.assertEqual(self.r.cmd("FCALL", "b1", "0"), b"b1")

    @unittest.skipUnless(os.access(REDIS_BIN, os.X_OK), "no redis-server to exchange with")
    def test_payloads_move_between_this_server_and_redis(self):
        redis = LiveRedisServer().start()
        try:
            with Client(redis.port) as rc:
                # redis-server -> here
                self.assertEqual(rc.cmd("FUNCTION", "LOAD", lib(
                    "fromredis", "redis.register_function{function_name='fr', callback="
                    "function(keys, args) return {keys[1], args[1], 'from redis'} end, "
                    "flags={'no-writes'}, description='made by redis'}")), b"fromredis")
                payload = rc.cmd("FUNCTION", "DUMP")
                self.assertOK(self.r.cmd("FUNCTION", "RESTORE", payload))
                self.assertEqual(self.r.cmd("FCALL_RO", "fr", "1", "k", "a"),
                                 [b"k", b"a", b"from redis"])
                self.assertEqual(libraries(self.r.cmd("FUNCTION", "LIST", "WITHCODE")),
                                 libraries(rc.cmd("FUNCTION", "LIST", "WITHCODE")))
                # here -> redis-server
                self.load("fromhere", "redis.register_function('fh', function(keys) "
                          "return redis.call('SET', keys[1], 'from here') end)")
                payload = self.r.cmd("FUNCTION", "DUMP")
                self.assertOK(rc.cmd("FUNCTION", "RESTORE", payload, "FLUSH"))
                self.assertEqual(rc.cmd("FCALL", "fh", "1", "k"), "OK")
                self.assertEqual(rc.cmd("GET", "k"), b"from here")
                self.assertEqual(rc.cmd("FCALL_RO", "fr", "1", "k", "b"),
                                 [b"k", b"b", b"from redis"])
                self.assertEqual(libraries(rc.cmd("FUNCTION", "LIST", "WITHCODE")),
                                 libraries(self.r.cmd("FUNCTION", "LIST", "WITHCODE")))
        finally:
            redis.stop()
            redis.cleanup()


if __name__ == "__main__":
    unittest.main()
