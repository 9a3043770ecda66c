"""DEBUG: Redis 7.0's debug.c replies (HELP PROTOCOL OBJECT DIGEST
DIGEST-VALUE SET-ACTIVE-EXPIRE QUICKLIST-PACKED-THRESHOLD LISTPACK QUICKLIST
SLEEP ...) and DEBUG DIGEST / DIGEST-VALUE equal to a live redis-server's for
the same data."""

import os
import re
import sys
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import (Client, Error, LiveRedisServer, ServerTestCase,  # noqa: E402
                     Status, reference_mode, server_binary)

ZERO = "0" * 40
THRESHOLD_ERR = "ERR argument must be a memory value bigger than 1 and smaller than 4gb"
PROTOCOL_ERR = ("ERR Wrong protocol type name. Please use one of the following: "
                "string|integer|double|bignum|null|array|set|map|attrib|push|verbatim|true|false")


def has_debug_directive():
    """Whether the server knows enable-debug-command (and, with it, DEBUG
    SET-ACTIVE-EXPIRE really stops active expiry): Redis does; shardis once
    the directive is in its table (the name stands alone in the binary)."""
    if reference_mode():
        return True
    try:
        with open(server_binary(), "rb") as f:
            return b"\0enable-debug-command\0" in f.read()
    except OSError:
        return False


def unknown(sub):
    return ("ERR unknown subcommand or wrong number of arguments for '%s'. Try DEBUG HELP."
            % sub)


def load_every_type(c):
    """The same data of every type, for the digests to compare."""
    c.cmd("SELECT", "0")
    c.cmd("SET", "str", "hello")
    c.cmd("SET", "int", "12345")
    c.cmd("SET", "neg", "-7")
    c.cmd("SET", "big", "x" * 100)
    c.cmd("SET", "ttl", "v", "EX", "1000")
    c.cmd("RPUSH", "list", "a", "b", "1", "c")
    c.cmd("RPUSH", "biglist", *[str(i) * 5 for i in range(300)])
    c.cmd("SADD", "iset", "1", "2", "300")
    c.cmd("SADD", "sset", "a", "b", "c")
    c.cmd("SADD", "bigset", *["m%d" % i for i in range(200)])
    c.cmd("HSET", "hash", "f1", "v1", "f2", "2")
    c.cmd("HSET", "bighash", *[x for i in range(600) for x in ("f%d" % i, "v%d" % i)])
    c.cmd("ZADD", "zset", "1", "a", "2.5", "b", "0.1", "c", "-inf", "d", "3", "7")
    c.cmd("ZADD", "bigzset", *[x for i in range(200) for x in (str(i / 3), "z%d" % i)])
    c.cmd("EXPIRE", "hash", "5000")
    c.cmd("SELECT", "3")
    c.cmd("SET", "{t}a", "in-db3")
    c.cmd("SADD", "{t}b", "x")
    c.cmd("SELECT", "0")


KEYS = ["str", "int", "neg", "big", "ttl", "list", "biglist", "iset", "sset", "bigset", "hash",
        "bighash", "zset", "bigzset", "nokey"]


class DebugRedis(LiveRedisServer):
    """A live redis-server that allows DEBUG from loopback clients."""

    def command_line(self, port):
        return super().command_line(port) + ["--enable-debug-command", "local"]


class TestDebug(ServerTestCase):

    def test_help(self):
        lines = self.r.cmd("DEBUG", "HELP")
        self.assertEqual(lines[0],
                         "DEBUG <subcommand> [<arg> [value] [opt] ...]. Subcommands are:")
        self.assertEqual(lines[-2:], ["HELP", "    Prints this help."])
        self.assertIn("DIGEST-VALUE <key> [<key> ...]", lines)
        self.assertIn("SET-ACTIVE-EXPIRE <0|1>", lines)
        self.assertEqual(len(lines), 106)
        self.assertTrue(all(isinstance(x, Status) for x in lines))

    def test_unknown_subcommands_and_arity(self):
        for args in (("nosuch",), ("stringmatch-len",), ("jmap",), ("object",),
                     ("change-repl-id", "x"), ("sleep",), ("set-active-expire",),
                     ("quicklist", "k", "1", "2"), ("digest", "x"), ("help", "x")):
            self.assertEqual(self.r.cmd("DEBUG", *args), Error(unknown(args[0])), args)
        self.assertEqual(self.r.cmd("DEBUG"),
                         Error("ERR wrong number of arguments for 'debug' command"))

    def test_simple_ok_subcommands(self):
        self.assertEqual(self.r.raw("DEBUG", "SLEEP", "0"), b"+OK\r\n")
        self.assertEqual(self.r.raw("DEBUG", "sleep", "abc"), b"+OK\r\n")  # strtod: 0
        self.assertEqual(self.r.raw("DEBUG", "CHANGE-REPL-ID"), b"+OK\r\n")
        self.assertEqual(self.r.cmd("DEBUG", "STRINGMATCH-TEST"),
                         "Apparently Redis did not crash: test passed")

    def test_quicklist_packed_threshold(self):
        for v in ("0", "1", "1k", "1kb", "1GB", "4293918720", "", "kb", "01", "1b"):
            self.assertEqual(self.r.raw("DEBUG", "QUICKLIST-PACKED-THRESHOLD", v),
                             b"+OK\r\n", v)
        for v in ("4293918721", "4gb", "-1", "-0", "abc", "1x", "1.5k", "+1", " 1",
                  "99999999999999999999", "4294967295b"):
            self.assertEqual(self.r.cmd("DEBUG", "QUICKLIST-PACKED-THRESHOLD", v),
                             Error(THRESHOLD_ERR), v)
        self.assertOK(self.r.cmd("DEBUG", "QUICKLIST-PACKED-THRESHOLD", "0"))

    def test_protocol_resp2(self):
        raw = lambda t: self.r.raw("DEBUG", "PROTOCOL", t)  # noqa: E731
        self.assertEqual(raw("string"), b"$11\r\nHello World\r\n")
        self.assertEqual(raw("integer"), b":12345\r\n")
        self.assertEqual(raw("double"), b"$5\r\n3.141\r\n")
        self.assertEqual(raw("bignum"), b"$37\r\n1234567999999999999999999999999999999\r\n")
        self.assertEqual(raw("null"), b"$-1\r\n")
        self.assertEqual(raw("array"), b"*3\r\n:0\r\n:1\r\n:2\r\n")
        self.assertEqual(raw("SET"), b"*3\r\n:0\r\n:1\r\n:2\r\n")
        self.assertEqual(raw("map"), b"*6\r\n:0\r\n:0\r\n:1\r\n:1\r\n:2\r\n:0\r\n")
        self.assertEqual(raw("attrib"), b"$39\r\nSome real reply following the attribute\r\n")
        self.assertEqual(raw("push"), b"-ERR RESP2 is not supported by this command\r\n")
        self.assertEqual(raw("verbatim"), b"$25\r\nThis is a verbatim\nstring\r\n")
        self.assertEqual(raw("true"), b":1\r\n")
        self.assertEqual(raw("false"), b":0\r\n")
        self.assertEqual(raw("bogus"), b"-" + PROTOCOL_ERR.encode() + b"\r\n")

    def test_protocol_resp3(self):
        self.r.cmd("HELLO", "3")
        raw = lambda t: self.r.raw("DEBUG", "PROTOCOL", t)  # noqa: E731
        self.assertEqual(raw("double"), b",3.141\r\n")
        self.assertEqual(raw("bignum"), b"(1234567999999999999999999999999999999\r\n")
        self.assertEqual(raw("null"), b"_\r\n")
        self.assertEqual(raw("set"), b"~3\r\n:0\r\n:1\r\n:2\r\n")
        self.assertEqual(raw("map"), b"%3\r\n:0\r\n#f\r\n:1\r\n#t\r\n:2\r\n#f\r\n")
        self.assertEqual(raw("verbatim"), b"=29\r\ntxt:This is a verbatim\nstring\r\n")
        self.assertEqual(raw("true"), b"#t\r\n")
        self.assertEqual(raw("false"), b"#f\r\n")
        self.assertEqual(
            raw("attrib"),
            b"|1\r\n$14\r\nkey-popularity\r\n*2\r\n$7\r\nkey:123\r\n:90\r\n"
            b"$39\r\nSome real reply following the attribute\r\n")
        self.r.send_command("DEBUG", "PROTOCOL", "push")
        self.assertEqual(self.r.read_raw_reply(), b">2\r\n$16\r\nserver-cpu-usage\r\n:42\r\n")
        self.assertEqual(self.r.read_raw_reply(),
                         b"$40\r\nSome real reply following the push reply\r\n")

    def test_object(self):
        pat = (r"^Value at:0x[0-9a-f]+ refcount:(\d+) encoding:(\w+) serializedlength:(\d+) "
               r"lru:(\d+) lru_seconds_idle:(\d+)(.*)$")
        self.r.cmd("SET", "s", "hello")
        self.r.cmd("SET", "i", "7")
        self.r.cmd("SET", "j", "123456")
        self.r.cmd("RPUSH", "l", "a", "b")
        self.r.cmd("SADD", "set", "1", "2")
        m = re.match(pat, self.r.cmd("DEBUG", "OBJECT", "s"))
        self.assertEqual(m.group(1, 2, 3, 6), ("1", "embstr", "6", ""))
        m = re.match(pat, self.r.cmd("DEBUG", "OBJECT", "i"))
        self.assertEqual(m.group(1, 2, 3, 6), ("2147483647", "int", "2", ""))
        m = re.match(pat, self.r.cmd("DEBUG", "OBJECT", "j"))
        self.assertEqual(m.group(1, 2, 3), ("1", "int", "5"))
        m = re.match(pat, self.r.cmd("DEBUG", "OBJECT", "set"))
        self.assertEqual(m.group(2), "intset")
        m = re.match(pat, self.r.cmd("DEBUG", "OBJECT", "l"))
        self.assertRegex(m.group(6), r"^ ql_nodes:1 ql_avg_node:2\.00 ql_listpack_max:-2 "
                         r"ql_compressed:0 ql_uncompressed_size:\d+$")
        self.assertEqual(self.r.cmd("DEBUG", "OBJECT", "nokey"), Error("ERR no such key"))

    def test_listpack_and_quicklist(self):
        self.r.cmd("SET", "s", "v")
        self.r.cmd("HSET", "h", "f", "v")
        self.assertEqual(self.r.cmd("DEBUG", "LISTPACK", "h"),
                         "Listpack structure printed on stdout")
        self.assertEqual(self.r.cmd("DEBUG", "LISTPACK", "s"),
                         Error("ERR Not a listpack encoded object."))
        self.assertEqual(self.r.cmd("DEBUG", "QUICKLIST", "s"),
                         Error("ERR Not a quicklist encoded object."))
        self.assertEqual(self.r.cmd("DEBUG", "QUICKLIST", "h", "1"),
                         Error("ERR Not a quicklist encoded object."))
        self.assertEqual(self.r.cmd("DEBUG", "LISTPACK", "nokey"), Error("ERR no such key"))
        self.assertEqual(self.r.cmd("DEBUG", "QUICKLIST", "nokey"), Error("ERR no such key"))
        self.r.cmd("RPUSH", "big", *["e%d" % i for i in range(1000)])
        self.assertEqual(self.r.cmd("DEBUG", "QUICKLIST", "big"),
                         "Quicklist structure printed on stdout")

    def test_set_active_expire(self):
        self.assertOK(self.r.cmd("DEBUG", "SET-ACTIVE-EXPIRE", "x"))  # atoi: 0
        self.assertOK(self.r.cmd("DEBUG", "set-active-expire", "1"))
        if not has_debug_directive():
            self.skipTest("active expiry cannot be turned off yet")
        self.assertOK(self.r.cmd("DEBUG", "SET-ACTIVE-EXPIRE", "0"))
        try:
            for i in range(20):
                self.r.cmd("SET", "k%d" % i, "v", "PX", "20")
            time.sleep(0.2)
            self.assertEqual(self.r.cmd("DBSIZE"), 20)  # nobody expired them
            self.assertOK(self.r.cmd("DEBUG", "SET-ACTIVE-EXPIRE", "1"))
            deadline = time.monotonic() + 3
            while self.r.cmd("DBSIZE") and time.monotonic() < deadline:
                time.sleep(0.05)
            self.assertEqual(self.r.cmd("DBSIZE"), 0)
        finally:
            self.r.cmd("DEBUG", "SET-ACTIVE-EXPIRE", "1")

    def test_digest_empty_and_changes(self):
        self.assertEqual(self.r.cmd("DEBUG", "DIGEST"), ZERO)
        self.assertEqual(self.r.cmd("DEBUG", "DIGEST-VALUE"), [])
        self.assertEqual(self.r.cmd("DEBUG", "DIGEST-VALUE", "nokey"), [ZERO])
        self.r.cmd("SET", "a", "1")
        d1 = self.r.cmd("DEBUG", "DIGEST")
        self.assertNotEqual(d1, ZERO)
        self.r.cmd("SET", "b", "2")
        d2 = self.r.cmd("DEBUG", "DIGEST")
        self.assertNotEqual(d2, d1)
        self.r.cmd("DEL", "b")
        self.assertEqual(self.r.cmd("DEBUG", "DIGEST"), d1)
        # the same data in another database digests differently
        self.r.cmd("DEL", "a")
        self.r.cmd("SELECT", "1")
        self.r.cmd("SET", "a", "1")
        self.assertNotIn(self.r.cmd("DEBUG", "DIGEST"), (ZERO, d1))
        # DIGEST-VALUE hashes the value only (not the key), in the current database
        self.r.cmd("SET", "c", "1")
        da, dc, dn = self.r.cmd("DEBUG", "DIGEST-VALUE", "a", "c", "nokey")
        self.assertEqual((da, dn), (dc, ZERO))
        self.assertNotEqual(da, ZERO)
        self.r.cmd("SELECT", "0")
        self.assertEqual(self.r.cmd("DEBUG", "DIGEST-VALUE", "a"), [ZERO])
        self.r.cmd("SELECT", "1")
        self.r.cmd("EXPIRE", "c", "100")
        self.assertNotEqual(self.r.cmd("DEBUG", "DIGEST-VALUE", "c"), [dc])

    def test_digest_in_multi(self):
        self.r.cmd("SET", "a", "1")
        d = self.r.cmd("DEBUG", "DIGEST")
        dv = self.r.cmd("DEBUG", "DIGEST-VALUE", "a")
        self.r.cmd("MULTI")
        for args in (("DIGEST",), ("DIGEST-VALUE", "a"), ("PROTOCOL", "integer"),
                     ("SET-ACTIVE-EXPIRE", "1"), ("nosuch",)):
            self.assertEqual(self.r.cmd("DEBUG", *args), "QUEUED")
        self.assertEqual(self.r.cmd("EXEC"),
                         [d, dv, 12345, "OK", Error(unknown("nosuch"))])


class TestDebugDigestMatchesRedis(ServerTestCase):
    """Loads the same data into a live redis-server and into the server under
    test: DEBUG DIGEST and DIGEST-VALUE must agree."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.live = DebugRedis().start()

    @classmethod
    def tearDownClass(cls):
        try:
            cls.live.stop()
            cls.live.cleanup()
        finally:
            super().tearDownClass()

    def test_digests_equal_redis(self):
        with Client(self.live.port) as lr:
            lr.cmd("FLUSHALL")
            load_every_type(lr)
            load_every_type(self.r)
            want = lr.cmd("DEBUG", "DIGEST-VALUE", *KEYS)
            got = self.r.cmd("DEBUG", "DIGEST-VALUE", *KEYS)
            for k, w, g in zip(KEYS, want, got):
                self.assertEqual(g, w, k)
            self.assertEqual(self.r.cmd("DEBUG", "DIGEST"), lr.cmd("DEBUG", "DIGEST"))
            lr.cmd("SELECT", "3")
            self.r.cmd("SELECT", "3")
            self.assertEqual(self.r.cmd("DEBUG", "DIGEST-VALUE", "{t}a", "{t}b"),
                             lr.cmd("DEBUG", "DIGEST-VALUE", "{t}a", "{t}b"))
            lr.cmd("FLUSHALL")
            self.r.cmd("FLUSHALL")
            self.assertEqual(self.r.cmd("DEBUG", "DIGEST"), lr.cmd("DEBUG", "DIGEST"))


@unittest.skipUnless(has_debug_directive(), "no enable-debug-command directive yet")
class TestDebugNotAllowed(ServerTestCase):
    """enable-debug-command no: refused with Redis's error, even from
    loopback; the directive cannot be changed at run time."""

    server_args = ("--enable-debug-command", "no")

    def test_config(self):
        self.assertEqual(self.r.cmd("CONFIG", "GET", "enable-debug-command"),
                         [b"enable-debug-command", b"no"])
        self.assertEqual(
            self.r.cmd("CONFIG", "SET", "enable-debug-command", "yes"),
            Error("ERR CONFIG SET failed (possibly related to argument 'enable-debug-command') "
                  "- can't set immutable config"))

    def test_refused(self):
        self.assertEqual(
            self.r.cmd("DEBUG", "HELP"),
            Error("ERR DEBUG command not allowed. If the enable-debug-command option is set "
                  "to \"local\", you can run it from a local connection, otherwise you need to "
                  "set this option in the configuration file, and then restart the server."))


if __name__ == "__main__":
    unittest.main()
