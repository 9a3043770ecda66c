"""EVAL / EVALSHA / EVAL_RO / SCRIPT over keys of any shards.

Scripts with their KEYS on one shard, on several shards, and touching keys
they did not declare must all behave as one atomic Redis script. Every test
passes against redis-server too (SHARDIS_REFERENCE=redis).
"""

import hashlib
import os
import sys
import threading
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import Client, Error, ServerTestCase  # noqa: E402

KEYS = ["ek:%d" % i for i in range(12)]


def sha1(s):
    return hashlib.sha1(s.encode()).hexdigest()


class TestEval(ServerTestCase):

    def test_return_values(self):
        self.assertEqual(self.r.cmd("EVAL", "return 1", "0"), 1)
        self.assertEqual(self.r.cmd("EVAL", "return 'x'", "0"), b"x")
        self.assertEqual(self.r.cmd("EVAL", "return {1, 'a', {2}}", "0"), [1, b"a", [2]])
        self.assertIsNone(self.r.cmd("EVAL", "return nil", "0"))
        self.assertEqual(self.r.cmd("EVAL", "return 3.99", "0"), 3)
        self.assertEqual(self.r.cmd("EVAL", "return redis.status_reply('FINE')", "0"), "FINE")
        self.assertEqual(self.r.cmd("EVAL", "return redis.error_reply('MY oops')", "0"),
                         Error("MY oops"))

    def test_keys_and_argv(self):
        self.assertEqual(self.r.cmd("EVAL", "return {KEYS[1], KEYS[2], ARGV[1]}", "2",
                                    "a", "b", "c"), [b"a", b"b", b"c"])

    def test_numkeys_errors(self):
        self.assertEqual(self.r.cmd("EVAL", "return 1", "-1"),
                         Error("ERR Number of keys can't be negative"))
        self.assertEqual(self.r.cmd("EVAL", "return 1", "3", "a"),
                         Error("ERR Number of keys can't be greater than number of args"))
        self.assertEqual(self.r.cmd("EVAL", "return 1", "x"),
                         Error("ERR value is not an integer or out of range"))

    def test_calls_on_declared_keys_of_one_shard(self):
        s = "redis.call('SET', KEYS[1], ARGV[1]); return redis.call('INCR', KEYS[1])"
        self.assertEqual(self.r.cmd("EVAL", s, "1", "{u}cnt", "41"), 42)
        self.assertEqual(self.r.cmd("GET", "{u}cnt"), b"42")

    def test_calls_on_declared_keys_of_many_shards(self):
        s = ("for i, k in ipairs(KEYS) do redis.call('SET', k, i) end "
             "return redis.call('MGET', unpack(KEYS))")
        reply = self.r.cmd("EVAL", s, str(len(KEYS)), *KEYS)
        self.assertEqual(reply, [str(i + 1).encode() for i in range(len(KEYS))])

    def test_connection_commands_on_the_keys_core(self):
        # a script runs where its keys are, maybe not on the client's core:
        # PING and ECHO there have no connection (PING read one: a crash)
        for i in range(16):
            self.assertEqual(self.r.cmd("EVAL", "return redis.call('ping')", "1", "pk:%d" % i),
                             "PONG")
            self.assertEqual(self.r.cmd("EVAL", "return redis.call('ping', 'x')", "1",
                                        "pk:%d" % i), b"x")
            self.assertEqual(self.r.cmd("EVAL", "return redis.call('echo', 'e')", "1",
                                        "pk:%d" % i), b"e")

    def test_undeclared_keys_still_work(self):
        self.r.cmd("SET", "undeclared:1", "u1")
        s = ("local v = redis.call('GET', 'undeclared:1') "
             "redis.call('SET', 'undeclared:2', v .. '!') "
             "return redis.call('GET', 'undeclared:2')")
        for _ in range(3):  # first run learns, later runs go straight
            self.assertEqual(self.r.cmd("EVAL", s, "0"), b"u1!")

    def test_evalsha_and_script_commands(self):
        body = "return ARGV[1] .. '-' .. KEYS[1]"
        sha = sha1(body)
        self.assertEqual(self.r.cmd("EVALSHA", sha, "1", "k", "v"),
                         Error("NOSCRIPT No matching script. Please use EVAL."))
        self.assertEqual(self.r.cmd("SCRIPT", "LOAD", body), sha.encode())
        self.assertEqual(self.r.cmd("SCRIPT", "EXISTS", sha, "0" * 40), [1, 0])
        # from other connections too (they may live on other shards)
        for _ in range(4):
            with Client(self.server.port) as c:
                self.assertEqual(c.cmd("EVALSHA", sha, "1", "k", "v"), b"v-k")
                self.assertEqual(c.cmd("EVALSHA", sha.upper(), "1", "k", "v"), b"v-k")
        self.assertEqual(self.r.cmd("SCRIPT", "FLUSH"), "OK")
        self.assertEqual(self.r.cmd("SCRIPT", "EXISTS", sha), [0])
        self.assertEqual(self.r.cmd("EVALSHA", sha, "1", "k", "v"),
                         Error("NOSCRIPT No matching script. Please use EVAL."))

    def test_eval_caches_the_script(self):
        body = "return 'cached'"
        self.r.cmd("EVAL", body, "0")
        self.assertEqual(self.r.cmd("EVALSHA", sha1(body), "0"), b"cached")

    def test_errors_from_calls(self):
        self.r.cmd("SET", "str", "x")
        reply = self.r.cmd("EVAL", "return redis.call('INCR', KEYS[1])", "1", "str")
        self.assertIsInstance(reply, Error)
        self.assertTrue(str(reply).startswith("ERR value is not an integer or out of range"),
                        reply)
        reply = self.r.cmd("EVAL", "return redis.pcall('INCR', KEYS[1])", "1", "str")
        self.assertEqual(reply, Error("ERR value is not an integer or out of range"))
        reply = self.r.cmd("EVAL", "return redis.call('NOSUCH')", "0")
        self.assertTrue(str(reply).startswith("ERR Unknown Redis command called from script"),
                        reply)
        reply = self.r.cmd("EVAL", "return redis.call('GET')", "0")
        self.assertTrue(
            str(reply).startswith("ERR Wrong number of args calling Redis command from script"),
            reply)

    def test_read_only_scripts(self):
        reply = self.r.cmd("EVAL_RO", "return redis.call('SET', KEYS[1], 'x')", "1", "ro")
        self.assertIsInstance(reply, Error)
        self.assertIn("Write commands are not allowed from read-only scripts", str(reply))
        self.r.cmd("SET", "ro", "y")
        self.assertEqual(self.r.cmd("EVAL_RO", "return redis.call('GET', KEYS[1])", "1", "ro"),
                         b"y")
        reply = self.r.cmd("EVAL", "#!lua flags=no-writes\nreturn redis.call('DEL', KEYS[1])",
                           "1", "ro")
        self.assertIsInstance(reply, Error)
        self.assertIn("Write commands are not allowed from read-only scripts", str(reply))

    def test_compile_error(self):
        reply = self.r.cmd("EVAL", "return (", "0")
        self.assertIsInstance(reply, Error)
        self.assertTrue(str(reply).startswith("ERR Error compiling script"), reply)

    def test_globals_are_protected(self):
        body = "x = 1"
        self.assertEqual(self.r.cmd("EVAL", body, "0"), Error(
            "ERR user_script:1: Attempt to modify a readonly table script: %s, on "
            "@user_script:1." % sha1(body)))
        body = "return y"
        self.assertEqual(self.r.cmd("EVAL", body, "0"), Error(
            "ERR user_script:1: Script attempted to access nonexistent global variable 'y' "
            "script: %s, on @user_script:1." % sha1(body)))

    def test_libraries(self):
        self.assertEqual(self.r.cmd("EVAL", "return cjson.encode({1,2})", "0"), b"[1,2]")
        self.assertEqual(self.r.cmd("EVAL", "return bit.band(12, 10)", "0"), 8)
        self.assertEqual(self.r.cmd(
            "EVAL", "return cmsgpack.unpack(cmsgpack.pack({1,'a'}))[2]", "0"), b"a")
        self.assertEqual(self.r.cmd("EVAL", "return redis.sha1hex('')", "0"),
                         b"da39a3ee5e6b4b0d3255bfef95601890afd80709")

    def test_scripts_are_atomic_across_shards(self):
        # a script moves one unit between two counters on different shards;
        # MGET must always see the total
        a, b = "atom:a", "atom:b"
        self.r.cmd("MSET", a, "500", b, "500")
        s = ("redis.call('DECR', KEYS[1]); redis.call('INCR', KEYS[2]); return 1")
        stop = threading.Event()
        problems = []

        def mover():
            with Client(self.server.port) as c:
                while not stop.is_set():
                    c.cmd("EVAL", s, "2", a, b)

        def reader():
            with Client(self.server.port) as c:
                while not stop.is_set():
                    v = c.cmd("MGET", a, b)
                    if int(v[0]) + int(v[1]) != 1000:
                        problems.append(v)
                        stop.set()

        threads = [threading.Thread(target=mover) for _ in range(2)]
        threads += [threading.Thread(target=reader) for _ in range(2)]
        for t in threads:
            t.start()
        time.sleep(1.5)
        stop.set()
        for t in threads:
            t.join(30)
        self.assertEqual(problems, [])

    def test_resp3_conversion(self):
        self.r.cmd("HELLO", "3")
        self.r.cmd("HSET", "h", "f", "v")
        reply = self.r.cmd("EVAL", "redis.setresp(3); return redis.call('HGETALL', KEYS[1])",
                           "1", "h")
        self.assertEqual(dict(reply), {b"f": b"v"})

    def test_commands_pass_the_callers_acl(self):
        # the script's commands are checked against the user of the client
        # that runs it, on whichever shard it runs (KEYS of every shard)
        self.assertOK(self.r.cmd("ACL", "SETUSER", "nset", "on", "nopass", "+@all", "-set",
                                 "~*"))
        self.assertOK(self.r.cmd("ACL", "SETUSER", "akeys", "on", "nopass", "+@all", "~a*"))
        c = self.client()
        self.assertOK(c.cmd("AUTH", "nset", "x"))
        for key in KEYS[:6]:
            with self.subTest(key=key):
                err = c.cmd("EVAL", "return redis.call('SET', KEYS[1], 'v')", "1", key)
                self.assertIsInstance(err, Error)
                self.assertTrue(str(err).startswith(
                    "ERR The user executing the script can't run this command or subcommand "
                    "script: "), err)
                self.assertEqual(c.cmd("EVAL", "return redis.pcall('SET', KEYS[1], 'v')", "1",
                                       key),
                                 Error("ERR The user executing the script can't run this "
                                       "command or subcommand"))
                self.assertEqual(c.cmd("EVAL", "return redis.call('GET', KEYS[1])", "1", key),
                                 None)
        self.assertEqual(c.cmd("EVAL", "return redis.acl_check_cmd('set', 'a', 'b')", "0"),
                         None)
        self.assertEqual(c.cmd("EVAL", "return redis.acl_check_cmd('get', 'a')", "0"), 1)
        err = c.cmd("EVAL", "return redis.acl_check_cmd('nosuch', 'a')", "0")
        self.assertTrue(str(err).startswith(
            "ERR Invalid command passed to redis.acl_check_cmd() script: "), err)
        k = self.client()
        self.assertOK(k.cmd("AUTH", "akeys", "x"))
        for key in ["zz", "zy", "zx", "zw"]:
            with self.subTest(key=key):
                # (a declared key is refused before the script runs: NOPERM)
                self.assertEqual(k.cmd("EVAL", "return redis.pcall('GET', ARGV[1])", "0", key),
                                 Error("ERR The user executing the script can't access at "
                                       "least one of the keys mentioned in the command "
                                       "arguments"))
        self.assertEqual(k.cmd("EVAL", "return redis.acl_check_cmd('get', 'zz')", "0"), None)
        self.assertEqual(k.cmd("EVAL", "return redis.acl_check_cmd('get', 'ab')", "0"), 1)
        self.assertEqual(self.r.cmd("GET", KEYS[0]), None)

    def test_script_inside_multi(self):
        self.r.cmd("MULTI")
        self.r.cmd("EVAL", "return redis.call('SET', KEYS[1], 'm')", "1", "inmulti")
        self.r.cmd("GET", "inmulti")
        self.assertEqual(self.r.cmd("EXEC"), ["OK", b"m"])


if __name__ == "__main__":
    unittest.main()
