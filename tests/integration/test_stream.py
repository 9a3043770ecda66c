"""Stream commands: Redis 7.0 behaviour, replies (RESP2 and RESP3) and exact
error strings; consumer groups; keyspace events; XREAD over streams on
several shards; RENAME, COPY and MOVE of streams across shards (4 shards).

Every test passes against redis-server 7.0 (SHARDIS_REFERENCE=redis) and
against shardis with any shard count, blocked XREAD/XREADGROUP included
(BlockingReadTests, and a stress test of producers, readers and crashing
group consumers reclaimed with XAUTOCLAIM).
"""

import os
import random
import socket
import sys
import threading
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import Map, ServerTestCase, collect_messages  # noqa: E402

WRONGTYPE = "WRONGTYPE Operation against a key holding the wrong kind of value"
NOT_INTEGER = "ERR value is not an integer or out of range"
SYNTAX = "ERR syntax error"
BAD_ID = "ERR Invalid stream ID specified as stream command argument"
SMALLER = "ERR The ID specified in XADD is equal or smaller than the target stream top item"
NOKEY_GROUP = ("ERR The XGROUP subcommand requires the key to exist. Note that for CREATE you "
               "may want to use the MKSTREAM option to create an empty stream automatically.")


def arity(cmd):
    return "ERR wrong number of arguments for '%s' command" % cmd


def subsyntax(sub, cmd):
    return ("ERR unknown subcommand or wrong number of arguments for '%s'. Try %s HELP."
            % (sub, cmd))


def ent(i, *fv):
    return [i.encode(), [x.encode() for x in fv]]


class StreamCase(ServerTestCase):

    def fill(self, key, n, start=1):
        for i in range(start, start + n):
            self.r.cmd("XADD", key, "%d-1" % i, "f", str(i))

    def info(self, key, *more):
        reply = self.r.cmd("XINFO", "STREAM", key, *more)
        return {reply[i].decode(): reply[i + 1] for i in range(0, len(reply), 2)}


class XaddTests(StreamCase):

    def test_explicit_partial_and_auto_ids(self):
        self.assertEqual(self.r.cmd("XADD", "s", "5-3", "a", "1"), b"5-3")
        self.assertEqual(self.r.cmd("XADD", "s", "5-*", "a", "1"), b"5-4")
        self.assertEqual(self.r.cmd("XADD", "s", "7-*", "a", "1"), b"7-0")
        self.assertEqual(self.r.cmd("XADD", "s", "8", "a", "1"), b"8-0")
        auto = self.r.cmd("XADD", "s", "*", "a", "1")
        ms, seq = auto.split(b"-")
        self.assertGreater(int(ms), 1600000000000)
        self.assertEqual(self.r.cmd("XLEN", "s"), 5)
        self.assertError(self.r.cmd("XADD", "s", "8-0", "a", "1"), SMALLER)
        self.assertError(self.r.cmd("XADD", "s", "5-*", "a", "1"), SMALLER)
        self.assertError(self.r.cmd("XADD", "t", "0-0", "a", "1"),
                         "ERR The ID specified in XADD must be greater than 0-0")
        self.assertEqual(self.r.cmd("EXISTS", "t"), 0)
        self.assertEqual(self.r.cmd("XADD", "t", "0-*", "a", "1"), b"0-1")

    def test_id_parsing_edges(self):
        self.assertError(self.r.cmd("XADD", "s", "-", "a", "1"), BAD_ID)
        self.assertError(self.r.cmd("XADD", "s", "+", "a", "1"), BAD_ID)
        self.assertError(self.r.cmd("XADD", "s", "1-x", "a", "1"), BAD_ID)
        self.assertError(self.r.cmd("XADD", "s", "-1", "a", "1"), BAD_ID)
        self.assertError(self.r.cmd("XADD", "s", "1" * 130, "a", "1"), BAD_ID)
        self.assertEqual(self.r.cmd("XADD", "s", "18446744073709551615-5", "a", "1"),
                         b"18446744073709551615-5")
        self.assertError(self.r.cmd("XADD", "s", "18446744073709551616-0", "a", "1"), BAD_ID)
        self.r.cmd("DEL", "s")
        self.assertEqual(self.r.cmd("XADD", "s", "18446744073709551615-18446744073709551615",
                                    "a", "1"), b"18446744073709551615-18446744073709551615")
        self.assertError(self.r.cmd("XADD", "s", "*", "a", "1"),
                         "ERR The stream has exhausted the last possible ID, unable to add "
                         "more items")

    def test_arity_nomkstream_and_wrongtype(self):
        self.assertError(self.r.cmd("XADD", "s", "*", "a"), arity("xadd"))
        self.assertError(self.r.cmd("XADD", "s", "*", "a", "1", "b"), arity("xadd"))
        self.assertError(self.r.cmd("XADD", "s", "NOMKSTREAM", "*"), arity("xadd"))
        self.assertIsNone(self.r.cmd("XADD", "s", "NOMKSTREAM", "*", "a", "1"))
        self.assertEqual(self.r.raw("XADD", "s", "NOMKSTREAM", "*", "a", "1"), b"$-1\r\n")
        self.assertEqual(self.r.cmd("EXISTS", "s"), 0)
        self.r.cmd("SET", "str", "x")
        self.assertError(self.r.cmd("XADD", "str", "*", "a", "1"), WRONGTYPE)
        self.assertError(self.r.cmd("XLEN", "str"), WRONGTYPE)
        self.assertEqual(self.r.cmd("TYPE", "s"), "none")
        self.r.cmd("XADD", "s", "1-1", "a", "1")
        self.assertEqual(self.r.cmd("TYPE", "s"), "stream")
        self.assertEqual(self.r.cmd("OBJECT", "ENCODING", "s"), b"stream")

    def test_trim_options_and_errors(self):
        self.assertError(self.r.cmd("XADD", "s", "MAXLEN", "-1", "*", "a", "1"),
                         "ERR The MAXLEN argument must be >= 0.")
        self.assertError(self.r.cmd("XADD", "s", "MAXLEN", "x", "*", "a", "1"), NOT_INTEGER)
        self.assertError(self.r.cmd("XADD", "s", "MAXLEN", "1", "MINID", "1", "*", "a", "1"),
                         "ERR syntax error, MAXLEN and MINID options at the same time are not "
                         "compatible")
        self.assertError(self.r.cmd("XADD", "s", "MAXLEN", "1", "LIMIT", "10", "*", "a", "1"),
                         "ERR syntax error, LIMIT cannot be used without the special ~ option")
        self.assertError(self.r.cmd("XADD", "s", "LIMIT", "10", "*", "a", "1"),
                         "ERR syntax error, LIMIT cannot be used without specifying a trimming "
                         "strategy")
        self.assertError(self.r.cmd("XADD", "s", "MAXLEN", "~", "1", "LIMIT", "-1", "*", "a",
                                    "1"), "ERR The LIMIT argument must be >= 0.")
        self.assertError(self.r.cmd("XADD", "s", "MINID", "x", "*", "a", "1"), BAD_ID)
        self.assertEqual(self.r.cmd("EXISTS", "s"), 0)
        self.fill("s", 10)
        self.assertEqual(self.r.cmd("XADD", "s", "MAXLEN", "=", "5", "20-1", "f", "x"), b"20-1")
        self.assertEqual(self.r.cmd("XLEN", "s"), 5)
        self.assertEqual(self.r.cmd("XRANGE", "s", "-", "+", "COUNT", "1"),
                         [ent("7-1", "f", "7")])
        self.assertEqual(self.r.cmd("XADD", "s", "MINID", "9", "21-1", "f", "x"), b"21-1")
        self.assertEqual(self.r.cmd("XLEN", "s"), 4)

    def test_approximate_trim_removes_whole_nodes_only(self):
        self.r.cmd("CONFIG", "SET", "stream-node-max-entries", "10")
        try:
            self.fill("s", 35)
            self.assertEqual(self.r.cmd("XTRIM", "s", "MAXLEN", "~", "12"), 20)
            self.assertEqual(self.r.cmd("XLEN", "s"), 15)
            self.assertEqual(self.r.cmd("XTRIM", "s", "MAXLEN", "~", "12"), 0)
            self.assertEqual(self.r.cmd("XTRIM", "s", "MAXLEN", "~", "0", "LIMIT", "5"), 0)
            self.assertEqual(self.r.cmd("XTRIM", "s", "MAXLEN", "~", "0", "LIMIT", "10"), 10)
            self.assertEqual(self.r.cmd("XTRIM", "s", "MINID", "~", "35"), 0)
            self.assertEqual(self.r.cmd("XTRIM", "s", "MINID", "34"), 3)
            self.assertEqual(self.r.cmd("XRANGE", "s", "-", "+"),
                             [ent("34-1", "f", "34"), ent("35-1", "f", "35")])
            self.assertEqual(self.info("s")["radix-tree-keys"], 1)
        finally:
            self.r.cmd("CONFIG", "SET", "stream-node-max-entries", "100")

    def test_config_directives(self):
        got = self.r.cmd("CONFIG", "GET", "stream-node-max-*")
        self.assertEqual(dict(zip(got[0::2], got[1::2])),
                         {b"stream-node-max-bytes": b"4096", b"stream-node-max-entries": b"100"})
        self.r.cmd("CONFIG", "SET", "stream-node-max-entries", "3")
        try:
            self.fill("s", 10)
            self.assertEqual(self.info("s")["radix-tree-keys"], 4)
        finally:
            self.r.cmd("CONFIG", "SET", "stream-node-max-entries", "100")
        self.r.cmd("CONFIG", "SET", "stream-node-max-bytes", "100")
        try:
            for i in range(20):
                self.r.cmd("XADD", "b", "*", "field", "v" * 30)
            self.assertGreater(self.info("b")["radix-tree-keys"], 5)
            self.assertEqual(len(self.r.cmd("XRANGE", "b", "-", "+")), 20)
        finally:
            self.r.cmd("CONFIG", "SET", "stream-node-max-bytes", "4096")


class RangeTests(StreamCase):

    def test_xrange_and_xrevrange(self):
        self.r.cmd("XADD", "s", "1-1", "a", "1", "b", "2")
        self.r.cmd("XADD", "s", "1-2", "a", "3", "b", "4")
        self.r.cmd("XADD", "s", "2-0", "c", "5")
        self.r.cmd("XADD", "s", "3-0", "a", "6", "b", "7")
        all4 = [ent("1-1", "a", "1", "b", "2"), ent("1-2", "a", "3", "b", "4"),
                ent("2-0", "c", "5"), ent("3-0", "a", "6", "b", "7")]
        self.assertEqual(self.r.cmd("XRANGE", "s", "-", "+"), all4)
        self.assertEqual(self.r.cmd("XREVRANGE", "s", "+", "-"), all4[::-1])
        self.assertEqual(self.r.cmd("XRANGE", "s", "1", "1"), all4[:2])
        self.assertEqual(self.r.cmd("XRANGE", "s", "(1-1", "+", "COUNT", "2"), all4[1:3])
        self.assertEqual(self.r.cmd("XREVRANGE", "s", "(3-0", "(1-1"), all4[1:3][::-1])
        self.assertEqual(self.r.cmd("XRANGE", "s", "2", "+", "COUNT", "1", "COUNT", "5"),
                         all4[2:])
        self.assertIsNone(self.r.cmd("XRANGE", "s", "-", "+", "COUNT", "0"))
        self.assertEqual(self.r.raw("XRANGE", "s", "-", "+", "COUNT", "-3"), b"*-1\r\n")
        self.assertEqual(self.r.cmd("XRANGE", "nokey", "-", "+"), [])
        self.assertEqual(self.r.cmd("XRANGE", "s", "5", "9"), [])

    def test_range_errors(self):
        self.r.cmd("XADD", "s", "1-1", "a", "1")
        self.assertError(self.r.cmd("XRANGE", "s", "x", "+"), BAD_ID)
        self.assertError(self.r.cmd("XRANGE", "s", "(-", "+"), BAD_ID)
        self.assertError(self.r.cmd("XRANGE", "s", "-", "+", "COUNT"), SYNTAX)
        self.assertError(self.r.cmd("XRANGE", "s", "-", "+", "COUNT", "x"), NOT_INTEGER)
        self.assertError(self.r.cmd("XRANGE", "s", "(18446744073709551615-18446744073709551615",
                                    "+"), "ERR invalid start ID for the interval")
        self.assertError(self.r.cmd("XRANGE", "s", "-", "(0-0"),
                         "ERR invalid end ID for the interval")
        self.r.cmd("SET", "str", "x")
        self.assertError(self.r.cmd("XRANGE", "str", "-", "+"), WRONGTYPE)
        self.assertError(self.r.cmd("XRANGE", "s", "-"), arity("xrange"))

    def test_long_stream_walks_across_nodes_both_ways(self):
        self.r.cmd("CONFIG", "SET", "stream-node-max-entries", "7")
        try:
            for i in range(1, 101):
                if i % 3:
                    self.r.cmd("XADD", "s", "%d-0" % i, "f", str(i))
                else:
                    self.r.cmd("XADD", "s", "%d-0" % i, "g", str(i), "h", "x")
            got = self.r.cmd("XRANGE", "s", "17", "60")
            self.assertEqual([e[0] for e in got], [b"%d-0" % i for i in range(17, 61)])
            self.assertEqual(got[1], ent("18-0", "g", "18", "h", "x"))
            rev = self.r.cmd("XREVRANGE", "s", "60", "17", "COUNT", "10")
            self.assertEqual([e[0] for e in rev], [b"%d-0" % i for i in range(60, 50, -1)])
            self.assertEqual(self.r.cmd("XDEL", "s", *["%d-0" % i for i in range(1, 100, 2)]), 50)
            got = self.r.cmd("XREVRANGE", "s", "+", "-")
            self.assertEqual([e[0] for e in got], [b"%d-0" % i for i in range(100, 0, -2)])
        finally:
            self.r.cmd("CONFIG", "SET", "stream-node-max-entries", "100")


class XdelXtrimXsetidTests(StreamCase):

    def test_xdel(self):
        self.fill("s", 5)
        self.assertEqual(self.r.cmd("XDEL", "s", "2-1", "2-1", "9-9"), 1)
        self.assertError(self.r.cmd("XDEL", "s", "3-1", "bad"), BAD_ID)
        self.assertEqual(self.r.cmd("XLEN", "s"), 4)
        self.assertEqual(self.r.cmd("XDEL", "nokey", "bad"), 0)
        self.assertEqual(self.r.cmd("XDEL", "s", "1-1"), 1)
        info = self.info("s")
        self.assertEqual(info["max-deleted-entry-id"], b"2-1")
        self.assertEqual(info["recorded-first-entry-id"], b"3-1")
        self.assertEqual(info["entries-added"], 5)
        self.assertEqual(self.r.cmd("XDEL", "s", "3-1", "4-1", "5-1"), 3)
        self.assertEqual(self.r.cmd("EXISTS", "s"), 1)
        info = self.info("s")
        self.assertEqual(info["length"], 0)
        self.assertIsNone(info["first-entry"])
        self.assertEqual(info["recorded-first-entry-id"], b"0-0")
        self.assertEqual(self.r.cmd("XADD", "s", "*", "a", "1")[:2] != b"5-", True)

    def test_xtrim_errors(self):
        self.assertError(self.r.cmd("XTRIM", "s", "FOO", "1"), SYNTAX)
        self.assertError(self.r.cmd("XTRIM", "s", "MAXLEN", "1", "FOO"), SYNTAX)
        self.assertError(self.r.cmd("XTRIM", "s", "LIMIT", "1"),
                         "ERR syntax error, LIMIT cannot be used without specifying a trimming "
                         "strategy")
        self.assertEqual(self.r.cmd("XTRIM", "s", "MAXLEN", "1"), 0)
        self.r.cmd("SET", "str", "x")
        self.assertError(self.r.cmd("XTRIM", "str", "MAXLEN", "1"), WRONGTYPE)
        self.fill("s", 5)
        self.assertEqual(self.r.cmd("XTRIM", "s", "MAXLEN", "2"), 3)
        self.assertEqual(self.info("s")["recorded-first-entry-id"], b"4-1")

    def test_xsetid(self):
        self.assertError(self.r.cmd("XSETID", "s", "5-5"), "ERR no such key")
        self.fill("s", 3)
        self.assertError(self.r.cmd("XSETID", "s", "2-0"),
                         "ERR The ID specified in XSETID is smaller than the target stream "
                         "top item")
        self.assertError(self.r.cmd("XSETID", "s", "x"), BAD_ID)
        self.assertError(self.r.cmd("XSETID", "s", "9-9", "ENTRIESADDED", "-1"),
                         "ERR entries_added must be positive")
        self.assertError(self.r.cmd("XSETID", "s", "9-9", "ENTRIESADDED", "2"),
                         "ERR The entries_added specified in XSETID is smaller than the target "
                         "stream length")
        self.assertError(self.r.cmd("XSETID", "s", "9-9", "MAXDELETEDID", "10-0"),
                         "ERR The ID specified in XSETID is smaller than the provided "
                         "max_deleted_entry_id")
        self.assertError(self.r.cmd("XSETID", "s", "9-9", "FOO"), SYNTAX)
        self.assertOK(self.r.cmd("XSETID", "s", "9-9", "ENTRIESADDED", "50",
                                 "MAXDELETEDID", "8-0"))
        info = self.info("s")
        self.assertEqual(info["last-generated-id"], b"9-9")
        self.assertEqual(info["entries-added"], 50)
        self.assertEqual(info["max-deleted-entry-id"], b"8-0")
        self.assertError(self.r.cmd("XADD", "s", "9-9", "a", "1"), SMALLER)
        self.assertEqual(self.r.cmd("XADD", "s", "9-*", "a", "1"), b"9-10")
        # 7.0 does not compare the new last ID with max-deleted-entry-id
        self.r.cmd("XDEL", "s", "9-10")
        self.assertOK(self.r.cmd("XSETID", "s", "7-0"))
        self.assertEqual(self.info("s")["max-deleted-entry-id"], b"9-10")


class InfoTests(StreamCase):

    def test_xinfo_stream(self):
        self.r.cmd("XADD", "s", "1-1", "a", "1")
        self.r.cmd("XADD", "s", "2-1", "b", "2")
        info = self.info("s")
        self.assertEqual(list(info), ["length", "radix-tree-keys", "radix-tree-nodes",
                                      "last-generated-id", "max-deleted-entry-id",
                                      "entries-added", "recorded-first-entry-id", "groups",
                                      "first-entry", "last-entry"])
        self.assertEqual(info["length"], 2)
        self.assertEqual(info["groups"], 0)
        self.assertEqual(info["first-entry"], ent("1-1", "a", "1"))
        self.assertEqual(info["last-entry"], ent("2-1", "b", "2"))
        self.assertError(self.r.cmd("XINFO", "STREAM", "nokey"), "ERR no such key")
        self.assertError(self.r.cmd("XINFO", "STREAM", "s", "FOO"), subsyntax("STREAM", "XINFO"))
        self.assertError(self.r.cmd("XINFO", "STREAM", "s", "FULL", "COUNT"),
                         subsyntax("STREAM", "XINFO"))
        self.assertError(self.r.cmd("XINFO", "STREAM", "s", "FULL", "COUNT", "x"), NOT_INTEGER)
        self.r.cmd("SET", "str", "x")
        self.assertError(self.r.cmd("XINFO", "GROUPS", "str"), WRONGTYPE)
        self.assertEqual(len(self.r.cmd("XINFO", "HELP")), 9)

    def test_xinfo_full(self):
        self.fill("s", 15)
        self.r.cmd("XGROUP", "CREATE", "s", "g", "0")
        self.r.cmd("XREADGROUP", "GROUP", "g", "c1", "COUNT", "2", "STREAMS", "s", ">")
        full = self.info("s", "FULL")
        self.assertEqual(list(full), ["length", "radix-tree-keys", "radix-tree-nodes",
                                      "last-generated-id", "max-deleted-entry-id",
                                      "entries-added", "recorded-first-entry-id", "entries",
                                      "groups"])
        self.assertEqual(len(full["entries"]), 10)
        self.assertEqual(len(self.info("s", "FULL", "COUNT", "0")["entries"]), 15)
        self.assertEqual(len(self.info("s", "FULL", "COUNT", "3")["entries"]), 3)
        g = full["groups"][0]
        self.assertEqual(g[0::2], [b"name", b"last-delivered-id", b"entries-read", b"lag",
                                   b"pel-count", b"pending", b"consumers"])
        self.assertEqual(g[1], b"g")
        self.assertEqual(g[3], b"2-1")
        self.assertEqual(g[5], 2)
        self.assertEqual(g[7], 13)
        self.assertEqual(g[9], 2)
        self.assertEqual([p[0:2] for p in g[11]], [[b"1-1", b"c1"], [b"2-1", b"c1"]])
        cons = g[13][0]
        self.assertEqual(cons[0::2], [b"name", b"seen-time", b"pel-count", b"pending"])
        self.assertEqual(len(cons[7]), 2)
        self.assertEqual(cons[7][0][2], 1)

    def test_resp3_forms(self):
        r3 = self.client()
        r3.cmd("HELLO", "3")
        r3.cmd("XADD", "s", "1-1", "a", "1")
        info = r3.cmd("XINFO", "STREAM", "s")
        self.assertIsInstance(info, Map)
        self.assertEqual(info[b"length"], 1)
        self.assertEqual(r3.raw("XRANGE", "s", "-", "+", "COUNT", "0"), b"_\r\n")
        self.assertEqual(r3.raw("XRANGE", "s", "-", "+"),
                         b"*1\r\n*2\r\n$3\r\n1-1\r\n*2\r\n$1\r\na\r\n$1\r\n1\r\n")
        r3.cmd("XGROUP", "CREATE", "s", "g", "0")
        groups = r3.cmd("XINFO", "GROUPS", "s")
        self.assertIsInstance(groups[0], Map)
        self.assertIsNone(groups[0][b"entries-read"])
        self.assertEqual(groups[0][b"lag"], 1)
        reply = r3.cmd("XREAD", "STREAMS", "s", "0")
        self.assertIsInstance(reply, Map)
        self.assertEqual(reply[b"s"], [ent("1-1", "a", "1")])
        self.assertEqual(r3.raw("XREAD", "STREAMS", "s", "$"), b"_\r\n")
        self.assertEqual(r3.raw("XPENDING", "s", "g"), b"*4\r\n:0\r\n_\r\n_\r\n_\r\n")


class GroupTests(StreamCase):

    def test_xgroup_create_setid_destroy(self):
        self.assertError(self.r.cmd("XGROUP", "CREATE", "s", "g", "$"), NOKEY_GROUP)
        self.assertError(self.r.cmd("XGROUP", "DESTROY", "s", "g"), NOKEY_GROUP)
        self.assertOK(self.r.cmd("XGROUP", "CREATE", "s", "g", "$", "MKSTREAM"))
        self.assertEqual(self.r.cmd("XLEN", "s"), 0)
        self.assertError(self.r.cmd("XGROUP", "CREATE", "s", "g", "$"),
                         "BUSYGROUP Consumer Group name already exists")
        self.assertError(self.r.cmd("XGROUP", "CREATE", "s", "h", "0", "FOO"),
                         subsyntax("CREATE", "XGROUP"))
        self.assertError(self.r.cmd("XGROUP", "CREATE", "s", "h", "0", "ENTRIESREAD", "-2"),
                         "ERR value for ENTRIESREAD must be positive or -1")
        self.assertError(self.r.cmd("XGROUP", "CREATE", "s", "h", "x"), BAD_ID)
        self.assertOK(self.r.cmd("XGROUP", "CREATE", "s", "h", "0", "ENTRIESREAD", "3"))
        self.assertError(self.r.cmd("XGROUP", "SETID", "s", "nog", "0"),
                         "NOGROUP No such consumer group 'nog' for key name 's'")
        self.assertError(self.r.cmd("XGROUP", "SETID", "s", "g", "0", "FOO", "1"),
                         subsyntax("SETID", "XGROUP"))
        self.assertError(self.r.cmd("XGROUP", "SETID", "s", "g", "0", "ENTRIESREAD", "x"),
                         NOT_INTEGER)
        self.assertOK(self.r.cmd("XGROUP", "SETID", "s", "g", "5-5", "ENTRIESREAD", "7"))
        groups = self.r.cmd("XINFO", "GROUPS", "s")
        self.assertEqual([g[1] for g in groups], [b"g", b"h"])
        self.assertEqual(groups[0][7], b"5-5")
        self.assertEqual(groups[0][9], 7)
        self.assertEqual(groups[1][9], 3)
        self.assertEqual(self.r.cmd("XGROUP", "DESTROY", "s", "g"), 1)
        self.assertEqual(self.r.cmd("XGROUP", "DESTROY", "s", "g"), 0)
        self.assertError(self.r.cmd("XGROUP", "CREATE", "s"), arity("xgroup|create"))
        self.assertEqual(len(self.r.cmd("XGROUP", "HELP")), 17)
        self.r.cmd("SET", "str", "x")
        self.assertError(self.r.cmd("XGROUP", "CREATE", "str", "g", "$"), WRONGTYPE)

    def test_consumers(self):
        self.fill("s", 3)
        self.r.cmd("XGROUP", "CREATE", "s", "g", "0")
        self.assertEqual(self.r.cmd("XGROUP", "CREATECONSUMER", "s", "g", "bob"), 1)
        self.assertEqual(self.r.cmd("XGROUP", "CREATECONSUMER", "s", "g", "bob"), 0)
        self.assertError(self.r.cmd("XGROUP", "CREATECONSUMER", "s", "nog", "bob"),
                         "NOGROUP No such consumer group 'nog' for key name 's'")
        self.r.cmd("XREADGROUP", "GROUP", "g", "alice", "STREAMS", "s", ">")
        cons = self.r.cmd("XINFO", "CONSUMERS", "s", "g")
        self.assertEqual([c[1] for c in cons], [b"alice", b"bob"])
        self.assertEqual([c[3] for c in cons], [3, 0])
        self.assertEqual(cons[0][0::2], [b"name", b"pending", b"idle"])
        self.assertError(self.r.cmd("XINFO", "CONSUMERS", "s", "nog"),
                         "NOGROUP No such consumer group 'nog' for key name 's'")
        self.assertEqual(self.r.cmd("XGROUP", "DELCONSUMER", "s", "g", "alice"), 3)
        self.assertEqual(self.r.cmd("XGROUP", "DELCONSUMER", "s", "g", "alice"), 0)
        self.assertEqual(self.r.cmd("XPENDING", "s", "g")[0], 0)

    def test_xreadgroup_delivery_history_ack(self):
        self.fill("s", 4)
        self.r.cmd("XGROUP", "CREATE", "s", "g", "0")
        got = self.r.cmd("XREADGROUP", "GROUP", "g", "c1", "COUNT", "2", "STREAMS", "s", ">")
        self.assertEqual(got, [[b"s", [ent("1-1", "f", "1"), ent("2-1", "f", "2")]]])
        got = self.r.cmd("XREADGROUP", "GROUP", "g", "c2", "STREAMS", "s", ">")
        self.assertEqual(got, [[b"s", [ent("3-1", "f", "3"), ent("4-1", "f", "4")]]])
        self.assertIsNone(self.r.cmd("XREADGROUP", "GROUP", "g", "c2", "STREAMS", "s", ">"))
        hist = self.r.cmd("XREADGROUP", "GROUP", "g", "c1", "STREAMS", "s", "0")
        self.assertEqual(hist, [[b"s", [ent("1-1", "f", "1"), ent("2-1", "f", "2")]]])
        self.r.cmd("XDEL", "s", "2-1")
        hist = self.r.cmd("XREADGROUP", "GROUP", "g", "c1", "STREAMS", "s", "0")
        self.assertEqual(hist, [[b"s", [ent("1-1", "f", "1"), [b"2-1", None]]]])
        pend = self.r.cmd("XPENDING", "s", "g", "-", "+", "10")
        self.assertEqual([(p[0], p[1], p[3]) for p in pend],
                         [(b"1-1", b"c1", 3), (b"2-1", b"c1", 2), (b"3-1", b"c2", 1),
                          (b"4-1", b"c2", 1)])
        self.assertEqual(self.r.cmd("XACK", "s", "g", "1-1", "1-1", "9-9"), 1)
        self.assertError(self.r.cmd("XACK", "s", "g", "3-1", "x"), BAD_ID)
        self.assertEqual(self.r.cmd("XACK", "s", "nog", "3-1"), 0)
        self.assertEqual(self.r.cmd("XACK", "nokey", "g", "x"), 0)
        self.assertEqual(self.r.cmd("XPENDING", "s", "g"),
                         [3, b"2-1", b"4-1", [[b"c1", b"1"], [b"c2", b"2"]]])
        self.r.cmd("XADD", "s", "5-1", "f", "5")
        got = self.r.cmd("XREADGROUP", "GROUP", "g", "c3", "NOACK", "STREAMS", "s", ">")
        self.assertEqual(got, [[b"s", [ent("5-1", "f", "5")]]])
        self.assertEqual(self.r.cmd("XPENDING", "s", "g")[0], 3)
        groups = self.r.cmd("XINFO", "GROUPS", "s")
        self.assertEqual(groups[0][7], b"5-1")
        self.assertEqual(groups[0][9], 5)
        self.assertEqual(groups[0][11], 0)

    def test_xreadgroup_errors(self):
        self.r.cmd("XADD", "s", "1-1", "a", "1")
        self.assertError(self.r.cmd("XREADGROUP", "GROUP", "nog", "c", "STREAMS", "s", ">"),
                         "NOGROUP No such key 's' or consumer group 'nog' in XREADGROUP with "
                         "GROUP option")
        self.assertError(self.r.cmd("XREADGROUP", "COUNT", "1", "NOACK", "STREAMS", "s", ">"),
                         "ERR Missing GROUP option for XREADGROUP")
        self.r.cmd("XGROUP", "CREATE", "s", "g", "0")
        self.assertError(self.r.cmd("XREADGROUP", "GROUP", "g", "c", "STREAMS", "s", "$"),
                         "ERR The $ ID is meaningless in the context of XREADGROUP: you want to "
                         "read the history of this consumer by specifying a proper ID, or use "
                         "the > ID to get new messages. The $ ID would just return an empty "
                         "result set.")
        self.assertError(self.r.cmd("XREADGROUP", "GROUP", "g", "c", "STREAMS", "s", "t", ">"),
                         "ERR Unbalanced XREAD list of streams: for each stream key an ID or "
                         "'$' must be specified.")
        self.assertError(self.r.cmd("XREAD", "GROUP", "g", "c", "STREAMS", "s", "0"),
                         "ERR The GROUP option is only supported by XREADGROUP. You called "
                         "XREAD instead.")
        self.assertError(self.r.cmd("XREAD", "NOACK", "STREAMS", "s", "0"),
                         "ERR The NOACK option is only supported by XREADGROUP. You called "
                         "XREAD instead.")
        self.assertError(self.r.cmd("XREAD", "STREAMS", "s", ">"),
                         "ERR The > ID can be specified only when calling XREADGROUP using the "
                         "GROUP <group> <consumer> option.")
        self.assertError(self.r.cmd("XREAD", "COUNT", "x", "STREAMS", "s", "0"), NOT_INTEGER)
        self.assertError(self.r.cmd("XREAD", "BLOCK", "-1", "STREAMS", "s", "0"),
                         "ERR timeout is negative")
        self.assertError(self.r.cmd("XREAD", "BLOCK", "x", "STREAMS", "s", "0"),
                         "ERR timeout is not an integer or out of range")
        self.assertError(self.r.cmd("XREAD", "FOO", "STREAMS", "s", "0"), SYNTAX)
        self.assertError(self.r.cmd("XREAD", "STREAMS", "s", "x"), BAD_ID)

    def test_lag_and_entries_read(self):
        self.fill("s", 5)
        self.r.cmd("XGROUP", "CREATE", "s", "g", "0")
        self.r.cmd("XREADGROUP", "GROUP", "g", "c", "COUNT", "2", "STREAMS", "s", ">")
        g = self.r.cmd("XINFO", "GROUPS", "s")[0]
        self.assertEqual((g[9], g[11]), (2, 3))
        self.r.cmd("XDEL", "s", "4-1")
        g = self.r.cmd("XINFO", "GROUPS", "s")[0]
        self.assertEqual((g[9], g[11]), (2, None))
        self.r.cmd("XREADGROUP", "GROUP", "g", "c", "STREAMS", "s", ">")
        g = self.r.cmd("XINFO", "GROUPS", "s")[0]
        self.assertEqual((g[7], g[9], g[11]), (b"5-1", 5, 0))
        self.r.cmd("XGROUP", "SETID", "s", "g", "0")
        g = self.r.cmd("XINFO", "GROUPS", "s")[0]
        self.assertEqual((g[9], g[11]), (None, None))


class PendingClaimTests(StreamCase):

    def setUp(self):
        super().setUp()
        self.fill("s", 5)
        self.r.cmd("XGROUP", "CREATE", "s", "g", "0")
        self.r.cmd("XREADGROUP", "GROUP", "g", "c1", "COUNT", "3", "STREAMS", "s", ">")
        self.r.cmd("XREADGROUP", "GROUP", "g", "c2", "STREAMS", "s", ">")

    def test_xpending_forms_and_errors(self):
        self.assertEqual(self.r.cmd("XPENDING", "s", "g"),
                         [5, b"1-1", b"5-1", [[b"c1", b"3"], [b"c2", b"2"]]])
        ext = self.r.cmd("XPENDING", "s", "g", "(1-1", "+", "2")
        self.assertEqual([p[0] for p in ext], [b"2-1", b"3-1"])
        ext = self.r.cmd("XPENDING", "s", "g", "-", "+", "10", "c2")
        self.assertEqual([p[0] for p in ext], [b"4-1", b"5-1"])
        self.assertEqual(self.r.cmd("XPENDING", "s", "g", "-", "+", "10", "nobody"), [])
        self.assertEqual(self.r.cmd("XPENDING", "s", "g", "IDLE", "100000", "-", "+", "10"), [])
        self.assertEqual(len(self.r.cmd("XPENDING", "s", "g", "IDLE", "0", "-", "+", "10")), 5)
        self.assertEqual(self.r.cmd("XPENDING", "s", "g", "-", "+", "-1"), [])
        self.assertError(self.r.cmd("XPENDING", "s", "g", "-"), SYNTAX)
        self.assertError(self.r.cmd("XPENDING", "s", "g", "IDLE", "10", "-", "+"), SYNTAX)
        self.assertError(self.r.cmd("XPENDING", "s", "g", "-", "+", "x"), NOT_INTEGER)
        self.assertError(self.r.cmd("XPENDING", "s", "g", "x", "+", "1"), BAD_ID)
        self.assertError(self.r.cmd("XPENDING", "s", "nog"),
                         "NOGROUP No such key 's' or consumer group 'nog'")
        self.assertError(self.r.cmd("XPENDING", "nokey", "g"),
                         "NOGROUP No such key 'nokey' or consumer group 'g'")

    def test_xclaim(self):
        got = self.r.cmd("XCLAIM", "s", "g", "c3", "0", "1-1", "4-1", "9-9")
        self.assertEqual(got, [ent("1-1", "f", "1"), ent("4-1", "f", "4")])
        pend = self.r.cmd("XPENDING", "s", "g", "-", "+", "10", "c3")
        self.assertEqual([(p[0], p[3]) for p in pend], [(b"1-1", 2), (b"4-1", 2)])
        got = self.r.cmd("XCLAIM", "s", "g", "c1", "3600000", "1-1")
        self.assertEqual(got, [])
        got = self.r.cmd("XCLAIM", "s", "g", "c1", "0", "1-1", "JUSTID", "RETRYCOUNT", "9",
                         "IDLE", "5000")
        self.assertEqual(got, [b"1-1"])
        p = self.r.cmd("XPENDING", "s", "g", "1-1", "1-1", "1")[0]
        self.assertEqual((p[1], p[3]), (b"c1", 9))
        self.assertGreaterEqual(p[2], 5000)
        self.r.cmd("XACK", "s", "g", "2-1")
        self.assertEqual(self.r.cmd("XCLAIM", "s", "g", "c1", "0", "2-1"), [])
        self.assertEqual(self.r.cmd("XCLAIM", "s", "g", "c1", "0", "2-1", "FORCE"),
                         [ent("2-1", "f", "2")])
        self.assertEqual(self.r.cmd("XPENDING", "s", "g", "2-1", "2-1", "1")[0][3], 2)
        self.r.cmd("XDEL", "s", "3-1")
        self.assertEqual(self.r.cmd("XCLAIM", "s", "g", "c1", "0", "3-1"), [])
        self.assertEqual(self.r.cmd("XPENDING", "s", "g", "3-1", "3-1", "1"), [])
        self.assertOK(self.r.cmd("XGROUP", "SETID", "s", "g", "0"))
        self.assertEqual(self.r.cmd("XCLAIM", "s", "g", "c1", "0", "1-1", "LASTID", "7-7",
                                    "JUSTID"), [b"1-1"])
        self.assertEqual(self.r.cmd("XINFO", "GROUPS", "s")[0][7], b"7-7")

    def test_xclaim_errors(self):
        self.assertError(self.r.cmd("XCLAIM", "s", "nog", "c", "0", "1-1"),
                         "NOGROUP No such key 's' or consumer group 'nog'")
        self.assertError(self.r.cmd("XCLAIM", "s", "g", "c", "x", "1-1"),
                         "ERR Invalid min-idle-time argument for XCLAIM")
        self.assertError(self.r.cmd("XCLAIM", "s", "g", "c", "0", "1-1", "IDLE", "x"),
                         "ERR Invalid IDLE option argument for XCLAIM")
        self.assertError(self.r.cmd("XCLAIM", "s", "g", "c", "0", "1-1", "TIME", "x"),
                         "ERR Invalid TIME option argument for XCLAIM")
        self.assertError(self.r.cmd("XCLAIM", "s", "g", "c", "0", "1-1", "RETRYCOUNT", "x"),
                         "ERR Invalid RETRYCOUNT option argument for XCLAIM")
        self.assertError(self.r.cmd("XCLAIM", "s", "g", "c", "0", "1-1", "BOGUS"),
                         "ERR Unrecognized XCLAIM option 'BOGUS'")
        self.assertError(self.r.cmd("XCLAIM", "s", "g", "c", "0", "1-1", "LASTID", "x"), BAD_ID)
        self.assertError(self.r.cmd("XCLAIM", "s", "g", "c", "0"), arity("xclaim"))

    def test_xautoclaim(self):
        got = self.r.cmd("XAUTOCLAIM", "s", "g", "c3", "0", "0", "COUNT", "2")
        self.assertEqual(got, [b"3-1", [ent("1-1", "f", "1"), ent("2-1", "f", "2")], []])
        self.r.cmd("XDEL", "s", "4-1")
        got = self.r.cmd("XAUTOCLAIM", "s", "g", "c3", "0", "3-1", "JUSTID")
        self.assertEqual(got, [b"0-0", [b"3-1", b"5-1"], [b"4-1"]])
        got = self.r.cmd("XAUTOCLAIM", "s", "g", "c4", "3600000", "0")
        self.assertEqual(got, [b"0-0", [], []])
        pend = self.r.cmd("XPENDING", "s", "g", "-", "+", "10")
        self.assertEqual([(p[0], p[1], p[3]) for p in pend],
                         [(b"1-1", b"c3", 2), (b"2-1", b"c3", 2), (b"3-1", b"c3", 1),
                          (b"5-1", b"c3", 1)])
        self.assertError(self.r.cmd("XAUTOCLAIM", "s", "g", "c", "0", "0", "COUNT", "0"),
                         "ERR COUNT must be > 0")
        self.assertError(self.r.cmd("XAUTOCLAIM", "s", "g", "c", "x", "0"),
                         "ERR Invalid min-idle-time argument for XAUTOCLAIM")
        self.assertError(self.r.cmd("XAUTOCLAIM", "s", "g", "c", "0", "x"), BAD_ID)
        self.assertError(self.r.cmd("XAUTOCLAIM", "s", "g", "c", "0", "0", "FOO"), SYNTAX)
        self.assertError(self.r.cmd("XAUTOCLAIM", "s", "nog", "c", "0", "0"),
                         "NOGROUP No such key 's' or consumer group 'nog'")


class XreadTests(StreamCase):

    def test_xread_several_streams(self):
        keys = ["k%d" % i for i in range(8)]
        for i, k in enumerate(keys):
            self.r.cmd("XADD", k, "%d-1" % (i + 1), "n", str(i))
            self.r.cmd("XADD", k, "%d-2" % (i + 1), "n", str(i))
        got = self.r.cmd("XREAD", "COUNT", "1", "STREAMS", *keys, *(["0"] * 8))
        self.assertEqual([g[0] for g in got], [k.encode() for k in keys])
        self.assertEqual(got[3], [b"k3", [ent("4-1", "n", "3")]])
        ids = ["$"] * 8
        ids[2] = "3-1"
        ids[6] = "0"
        got = self.r.cmd("XREAD", "STREAMS", *keys, *ids)
        self.assertEqual(got, [[b"k2", [ent("3-2", "n", "2")]],
                               [b"k6", [ent("7-1", "n", "6"), ent("7-2", "n", "6")]]])
        self.assertIsNone(self.r.cmd("XREAD", "STREAMS", *keys, *(["$"] * 8)))
        self.assertEqual(self.r.raw("XREAD", "STREAMS", "nokey", "0"), b"*-1\r\n")
        got = self.r.cmd("XREAD", "BLOCK", "10", "STREAMS", "k1", "k5", "0", "0")
        self.assertEqual([g[0] for g in got], [b"k1", b"k5"])
        self.r.cmd("SET", "str", "x")
        self.assertError(self.r.cmd("XREAD", "STREAMS", "k1", "str", "0", "0"), WRONGTYPE)

    def test_xreadgroup_several_streams(self):
        keys = ["g%d" % i for i in range(6)]
        for i, k in enumerate(keys):
            self.r.cmd("XADD", k, "1-%d" % i, "n", str(i))
            self.r.cmd("XGROUP", "CREATE", k, "grp", "0")
        got = self.r.cmd("XREADGROUP", "GROUP", "grp", "c", "STREAMS", *keys, *([">"] * 6))
        self.assertEqual([g[0] for g in got], [k.encode() for k in keys])
        self.assertIsNone(self.r.cmd("XREADGROUP", "GROUP", "grp", "c", "STREAMS", *keys,
                                     *([">"] * 6)))
        got = self.r.cmd("XREADGROUP", "GROUP", "grp", "c", "STREAMS", *keys, *(["0"] * 6))
        self.assertEqual(got[5], [b"g5", [ent("1-5", "n", "5")]])
        for k in keys:
            self.assertEqual(self.r.cmd("XACK", k, "grp", "0-0", "1-0", "1-1", "1-2", "1-3",
                                        "1-4", "1-5"), 1)
        got = self.r.cmd("XREADGROUP", "GROUP", "grp", "c", "STREAMS", *keys, *(["0"] * 6))
        self.assertEqual(got, [[k.encode(), []] for k in keys])
        self.r.cmd("XGROUP", "DESTROY", "g3", "grp")
        self.assertError(self.r.cmd("XREADGROUP", "GROUP", "grp", "c", "STREAMS", *keys,
                                    *([">"] * 6)),
                         "NOGROUP No such key 'g3' or consumer group 'grp' in XREADGROUP with "
                         "GROUP option")


UNBLOCKED_KEY = "UNBLOCKED the stream key no longer exists"
UNBLOCKED_GROUP = "NOGROUP the consumer group this client was blocked on no longer exists"


class BlockingReadTests(StreamCase):
    """XREAD and XREADGROUP with BLOCK that has to wait: woken by XADD on
    any shard, timeouts, CLIENT UNBLOCK, disconnects, a stream or group
    deleted while a reader waits, and no waiting inside MULTI or scripts."""

    def blocked_clients(self):
        for line in self.r.cmd("INFO", "clients").decode().split("\r\n"):
            if line.startswith("blocked_clients:"):
                return int(line.split(":")[1])
        return -1

    def blocked(self, *args, n=None):
        """A client that sent a read that waits (its reply not read yet);
        returns once the server counts it blocked."""
        want = (self.blocked_clients() + 1) if n is None else n
        c = self.client()
        c.send_command(*args)
        self.wait_until(lambda: self.blocked_clients() >= want,
                        msg="%r did not block" % (args,))
        return c

    def assertNoReplyYet(self, c, wait=0.15):
        c.sock.settimeout(wait)
        try:
            data = c.sock.recv(1 << 16)
        except socket.timeout:
            return
        finally:
            c.sock.settimeout(c.timeout)
        self.fail("got %r while it should wait" % data)

    def test_every_reader_of_dollar_gets_the_new_entry(self):
        self.r.cmd("XADD", "s", "1-1", "a", "1")
        readers = [self.blocked("XREAD", "BLOCK", "0", "STREAMS", "s", "$") for _ in range(3)]
        other = self.blocked("XREAD", "BLOCK", "0", "STREAMS", "t", "$")
        for c in readers:
            self.assertNoReplyYet(c, 0.05)
        self.r.cmd("XADD", "s", "2-1", "b", "2")
        for c in readers:
            self.assertEqual(c.read_reply(), [[b"s", [ent("2-1", "b", "2")]]])
        self.assertNoReplyYet(other)
        self.r.cmd("XADD", "t", "1-0", "c", "3")
        self.assertEqual(other.read_reply(), [[b"t", [ent("1-0", "c", "3")]]])
        self.assertEqual(self.blocked_clients(), 0)

    def test_missing_key_and_explicit_ids(self):
        c = self.blocked("XREAD", "BLOCK", "0", "STREAMS", "new", "$")
        self.r.cmd("XADD", "new", "3-3", "f", "v")
        self.assertEqual(c.read_reply(), [[b"new", [ent("3-3", "f", "v")]]])
        self.r.cmd("XADD", "s", "3-0", "f", "v")
        c = self.blocked("XREAD", "COUNT", "2", "BLOCK", "0", "STREAMS", "s", "5")
        self.r.cmd("XADD", "s", "4-0", "f", "v")  # not past 5-0
        self.assertNoReplyYet(c)
        self.r.cmd("XADD", "s", "6-0", "f", "w")
        self.assertEqual(c.read_reply(), [[b"s", [ent("6-0", "f", "w")]]])
        # entries there already: served at once, every stream with some
        self.r.cmd("XADD", "u", "1-0", "g", "1")
        self.assertEqual(self.r.cmd("XREAD", "BLOCK", "0", "STREAMS", "s", "u", "5-0", "0"),
                         [[b"s", [ent("6-0", "f", "w")]], [b"u", [ent("1-0", "g", "1")]]])

    def test_keys_on_several_shards_first_xadd_wins(self):
        keys = ["multi:%d" % i for i in range(8)]
        c = self.blocked("XREAD", "BLOCK", "0", "STREAMS", *keys, *(["$"] * 8))
        g = self.blocked("XREAD", "COUNT", "5", "BLOCK", "0", "STREAMS", *keys, *(["0"] * 8))
        self.r.cmd("XADD", keys[5], "1-5", "n", "5")
        self.assertEqual(c.read_reply(), [[keys[5].encode(), [ent("1-5", "n", "5")]]])
        self.assertEqual(g.read_reply(), [[keys[5].encode(), [ent("1-5", "n", "5")]]])
        self.assertEqual(self.blocked_clients(), 0)
        # the other keys' waits are gone: a later XADD reaches nobody
        self.r.cmd("XADD", keys[2], "1-2", "n", "2")
        c = self.blocked("XREAD", "BLOCK", "0", "STREAMS", *keys, *(["$"] * 8))
        self.r.cmd("XADD", keys[7], "1-7", "n", "7")
        self.assertEqual(c.read_reply(), [[keys[7].encode(), [ent("1-7", "n", "7")]]])

    def test_timeouts_reply_nil_in_both_protocols(self):
        self.r.cmd("XADD", "s", "1-1", "a", "1")
        self.r.cmd("XGROUP", "CREATE", "s", "g", "$")
        t0 = time.monotonic()
        self.assertEqual(self.r.raw("XREAD", "BLOCK", "100", "STREAMS", "s", "$"), b"*-1\r\n")
        self.assertGreaterEqual(time.monotonic() - t0, 0.09)
        self.assertEqual(self.r.raw("XREADGROUP", "GROUP", "g", "c", "BLOCK", "30", "STREAMS",
                                    "s", ">"), b"*-1\r\n")
        r3 = self.client()
        r3.cmd("HELLO", "3")
        self.assertEqual(r3.raw("XREAD", "BLOCK", "30", "STREAMS", "s", "$"), b"_\r\n")
        self.assertEqual(r3.raw("XREADGROUP", "GROUP", "g", "c", "BLOCK", "30", "STREAMS",
                                "s", ">"), b"_\r\n")
        c = self.blocked("XREAD", "BLOCK", "0", "STREAMS", "s", "$")
        self.assertNoReplyYet(c, 0.3)  # BLOCK 0: forever
        self.r.cmd("XADD", "s", "2-1", "a", "2")
        self.assertEqual(c.read_reply(), [[b"s", [ent("2-1", "a", "2")]]])
        # RESP3: a map, woken or at once
        w = self.client()
        w.cmd("HELLO", "3")
        w.send_command("XREAD", "BLOCK", "0", "STREAMS", "s", "$")
        self.wait_until(lambda: self.blocked_clients() == 1)
        self.r.cmd("XADD", "s", "3-1", "a", "3")
        self.assertEqual(w.read_raw_reply(),
                         b"%1\r\n$1\r\ns\r\n*1\r\n*2\r\n$3\r\n3-1\r\n*2\r\n$1\r\na\r\n$1\r\n3\r\n")

    def test_errors_before_waiting(self):
        self.r.cmd("SET", "str", "x")
        self.assertError(self.r.cmd("XREAD", "BLOCK", "0", "STREAMS", "str", "$"), WRONGTYPE)
        self.assertError(self.r.cmd("XREADGROUP", "GROUP", "g", "c", "BLOCK", "0", "STREAMS",
                                    "nokey", ">"),
                         "NOGROUP No such key 'nokey' or consumer group 'g' in XREADGROUP with "
                         "GROUP option")
        self.assertError(self.r.cmd("XREAD", "BLOCK", "-1", "STREAMS", "s", "$"),
                         "ERR timeout is negative")
        self.assertError(self.r.cmd("XREAD", "BLOCK", "x", "STREAMS", "s", "$"),
                         "ERR timeout is not an integer or out of range")
        self.assertEqual(self.blocked_clients(), 0)

    def test_group_readers_share_entries(self):
        self.r.cmd("XGROUP", "CREATE", "q", "g", "$", "MKSTREAM")
        cs = [self.blocked("XREADGROUP", "GROUP", "g", "c%d" % i, "COUNT", "1", "BLOCK", "0",
                           "STREAMS", "q", ">") for i in range(3)]
        ids = [self.r.cmd("XADD", "q", "%d-1" % (i + 1), "n", str(i)) for i in range(3)]
        got = [c.read_reply() for c in cs]
        self.assertEqual(got, [[[b"q", [ent("%d-1" % (i + 1), "n", str(i))]]] for i in range(3)])
        pending = self.r.cmd("XPENDING", "q", "g")
        self.assertEqual(pending[0], 3)
        self.assertEqual(pending[3], [[b"c0", b"1"], [b"c1", b"1"], [b"c2", b"1"]])
        self.assertEqual(self.r.cmd("XACK", "q", "g", *ids), 3)
        # NOACK: delivered, nothing pending
        c = self.blocked("XREADGROUP", "GROUP", "g", "c9", "NOACK", "BLOCK", "0", "STREAMS",
                         "q", ">")
        self.r.cmd("XADD", "q", "9-1", "n", "9")
        self.assertEqual(c.read_reply(), [[b"q", [ent("9-1", "n", "9")]]])
        self.assertEqual(self.r.cmd("XPENDING", "q", "g")[0], 0)
        # a history read never waits
        self.assertEqual(self.r.cmd("XREADGROUP", "GROUP", "g", "c0", "BLOCK", "0", "STREAMS",
                                    "q", "0"), [[b"q", []]])

    def test_group_readers_on_several_shards(self):
        keys = ["gq:%d" % i for i in range(6)]
        for k in keys:
            self.r.cmd("XGROUP", "CREATE", k, "g", "$", "MKSTREAM")
        a = self.blocked("XREADGROUP", "GROUP", "g", "a", "BLOCK", "0", "STREAMS", *keys,
                         *([">"] * 6))
        b = self.blocked("XREADGROUP", "GROUP", "g", "b", "BLOCK", "0", "STREAMS", *keys,
                         *([">"] * 6))
        self.r.cmd("XADD", keys[4], "1-0", "x", "1")
        self.assertEqual(a.read_reply(), [[keys[4].encode(), [ent("1-0", "x", "1")]]])
        self.assertNoReplyYet(b)
        self.r.cmd("XADD", keys[1], "1-0", "x", "2")
        self.assertEqual(b.read_reply(), [[keys[1].encode(), [ent("1-0", "x", "2")]]])
        self.assertEqual(self.r.cmd("XPENDING", keys[4], "g")[3], [[b"a", b"1"]])
        self.assertEqual(self.r.cmd("XPENDING", keys[1], "g")[3], [[b"b", b"1"]])

    def test_group_or_stream_gone_while_waiting(self):
        for k in ("d1", "d2", "d3", "d4"):
            self.r.cmd("XGROUP", "CREATE", k, "g", "$", "MKSTREAM")
        c1 = self.blocked("XREADGROUP", "GROUP", "g", "c", "BLOCK", "0", "STREAMS", "d1", ">")
        self.assertEqual(self.r.cmd("XGROUP", "DESTROY", "d1", "g"), 1)
        self.assertError(c1.read_reply(), UNBLOCKED_GROUP)
        c2 = self.blocked("XREADGROUP", "GROUP", "g", "c", "BLOCK", "0", "STREAMS", "d2", ">")
        plain = self.blocked("XREAD", "BLOCK", "0", "STREAMS", "d2", "$")
        self.assertEqual(self.r.cmd("DEL", "d2"), 1)
        self.assertError(c2.read_reply(), UNBLOCKED_KEY)
        self.assertNoReplyYet(plain)  # XREAD waits on: the key may come back
        self.r.cmd("XADD", "d2", "5-0", "f", "v")
        self.assertEqual(plain.read_reply(), [[b"d2", [ent("5-0", "f", "v")]]])
        c3 = self.blocked("XREADGROUP", "GROUP", "g", "c", "BLOCK", "0", "STREAMS", "d3", ">")
        self.r.cmd("SET", "d3", "now a string")
        self.assertError(c3.read_reply(), UNBLOCKED_KEY)
        c4 = self.blocked("XREADGROUP", "GROUP", "g", "c", "BLOCK", "0", "STREAMS", "d4", ">")
        self.r.cmd("FLUSHALL")
        self.assertError(c4.read_reply(), UNBLOCKED_KEY)
        self.assertEqual(self.blocked_clients(), 0)

    def test_unblock_and_disconnect_leave_no_trace(self):
        self.r.cmd("XGROUP", "CREATE", "s", "g", "$", "MKSTREAM")
        c = self.blocked("XREADGROUP", "GROUP", "g", "c1", "BLOCK", "0", "STREAMS", "s", ">")
        ids = self.r.cmd("CLIENT", "LIST").decode().split("\n")
        blocked_ids = [int(l.split()[0][3:]) for l in ids if "cmd=xreadgroup" in l]
        self.assertEqual(len(blocked_ids), 1)
        self.assertEqual(self.r.cmd("CLIENT", "UNBLOCK", blocked_ids[0]), 1)
        self.assertEqual(c.read_raw_reply(), b"*-1\r\n")
        c.send_command("XREAD", "BLOCK", "0", "STREAMS", "s", "$")
        self.wait_until(lambda: self.blocked_clients() == 1)
        self.assertEqual(self.r.cmd("CLIENT", "UNBLOCK", blocked_ids[0], "ERROR"), 1)
        self.assertError(c.read_reply(), "UNBLOCKED client unblocked via CLIENT UNBLOCK")
        self.assertEqual(self.r.cmd("CLIENT", "UNBLOCK", blocked_ids[0]), 0)
        gone = self.blocked("XREADGROUP", "GROUP", "g", "c2", "BLOCK", "0", "STREAMS", "s", ">")
        gone.close()
        self.wait_until(lambda: self.blocked_clients() == 0)
        later = self.blocked("XREADGROUP", "GROUP", "g", "c3", "BLOCK", "0", "STREAMS", "s", ">")
        self.r.cmd("XADD", "s", "1-1", "f", "v")
        self.assertEqual(later.read_reply(), [[b"s", [ent("1-1", "f", "v")]]])
        self.assertEqual(self.r.cmd("XPENDING", "s", "g")[3], [[b"c3", b"1"]])
        # the timed out and unblocked reads left the group where it was
        info = self.r.cmd("XINFO", "GROUPS", "s")[0]
        self.assertEqual(info[info.index(b"last-delivered-id") + 1], b"1-1")

    def test_no_waiting_inside_multi_and_scripts(self):
        self.r.cmd("XGROUP", "CREATE", "s", "g", "$", "MKSTREAM")
        self.assertOK(self.r.cmd("MULTI"))
        self.assertEqual(self.r.cmd("XREAD", "BLOCK", "0", "STREAMS", "s", "$"), "QUEUED")
        self.assertEqual(self.r.cmd("XREADGROUP", "GROUP", "g", "c", "BLOCK", "0", "STREAMS",
                                    "s", ">"), "QUEUED")
        self.assertEqual(self.r.cmd("XADD", "s", "1-1", "f", "v"), "QUEUED")
        self.assertEqual(self.r.cmd("XREADGROUP", "GROUP", "g", "c", "BLOCK", "0", "STREAMS",
                                    "s", ">"), "QUEUED")
        self.assertEqual(self.r.cmd("EXEC"),
                         [None, None, b"1-1", [[b"s", [ent("1-1", "f", "v")]]]])
        # scripts: BLOCK is refused (Redis 7.0's xreadCommand)
        script = "return redis.pcall('%s', %s'BLOCK', '0', 'STREAMS', KEYS[1], '%s')"
        err = self.r.cmd("EVAL", script % ("XREAD", "", "$"), 1, "s")
        self.assertError(err, "ERR XREAD command is not allowed with BLOCK option from scripts")
        err = self.r.cmd("EVAL", script % ("xreadgroup", "'GROUP', 'g', 'c', ", ">"), 1, "s")
        self.assertError(err, "ERR xreadgroup command is not allowed with BLOCK option from "
                              "scripts")
        self.assertEqual(self.r.cmd("XPENDING", "s", "g")[0], 1)  # nothing read
        self.assertEqual(self.blocked_clients(), 0)

    def test_pipelined_commands_wait_behind_the_read(self):
        c = self.client()
        c.send(b"".join(encode(*a) for a in (("XREAD", "BLOCK", "0", "STREAMS", "p", "$"),
                                             ("PING",))))
        self.wait_until(lambda: self.blocked_clients() == 1)
        self.assertNoReplyYet(c)
        self.r.cmd("XADD", "p", "1-0", "f", "v")
        self.assertEqual(c.read_reply(), [[b"p", [ent("1-0", "f", "v")]]])
        self.assertEqual(c.read_reply(), "PONG")


def encode(*args):
    out = [b"*%d\r\n" % len(args)]
    for a in args:
        a = a if isinstance(a, bytes) else str(a).encode()
        out.append(b"$%d\r\n%s\r\n" % (len(a), a))
    return b"".join(out)


class StreamStressTests(StreamCase):
    """Producers, readers of "$" and group consumers that crash (close their
    connection with entries pending) and are reclaimed with XAUTOCLAIM:
    every entry is acknowledged exactly once, none is lost, and every
    reader of "$" sees every entry added after it started, in order."""

    def test_producers_readers_and_crashing_consumers(self):
        keys = ["stress:%d" % i for i in range(3)]
        for k in keys:
            self.r.cmd("XGROUP", "CREATE", k, "g", "$", "MKSTREAM")
        n_producers, per_producer = 3, 150
        total = n_producers * per_producer
        lock = threading.Lock()
        acked = []  # (key, id)
        errors = []
        done = threading.Event()
        seen_by_readers = [[] for _ in range(2)]

        def reader(idx):
            c = self.client()
            last = {k: "$" for k in keys}
            try:
                while True:
                    got = c.cmd("XREAD", "BLOCK", "200", "STREAMS", *keys,
                                *[last[k] for k in keys])
                    # "$" was empty streams when the producers started
                    last = {k: "0-0" if v == "$" else v for k, v in last.items()}
                    if got is None:
                        if done.is_set():
                            return
                        continue
                    for key, entries in got:
                        for eid, _ in entries:
                            seen_by_readers[idx].append((key.decode(), eid))
                            last[key.decode()] = eid.decode()
            except Exception as e:  # pragma: no cover - reported below
                errors.append("reader: %r" % e)

        def consumer(idx):
            rnd = random.Random(idx)
            name = "c%d" % idx
            try:
                while True:
                    c = self.client()
                    crash_after = rnd.randint(5, 40)
                    n = 0
                    while True:
                        got = c.cmd("XREADGROUP", "GROUP", "g", name, "COUNT", "5", "BLOCK",
                                    "100", "STREAMS", *keys, *([">"] * len(keys)))
                        if got is None:
                            if done.is_set():
                                c.close()
                                return
                            continue
                        for key, entries in got:
                            for eid, _ in entries:
                                n += 1
                                if n >= crash_after:
                                    continue  # crashes below with these pending
                                if c.cmd("XACK", key, "g", eid) == 1:
                                    with lock:
                                        acked.append((key.decode(), eid))
                        if n >= crash_after:
                            c.close()  # a crash: its pending entries stay
                            break
            except Exception as e:  # pragma: no cover
                errors.append("consumer: %r" % e)

        def producer(idx):
            c = self.client()
            try:
                for i in range(per_producer):
                    c.cmd("XADD", keys[(idx + i) % len(keys)], "*", "p", str(idx), "i", str(i))
            except Exception as e:  # pragma: no cover
                errors.append("producer: %r" % e)

        readers = [threading.Thread(target=reader, args=(i,)) for i in range(2)]
        for t in readers:
            t.start()
        self.wait_until(lambda: self._blocked() >= 2, timeout=5)
        consumers = [threading.Thread(target=consumer, args=(i,)) for i in range(3)]
        producers = [threading.Thread(target=producer, args=(i,)) for i in range(n_producers)]
        for t in consumers + producers:
            t.start()
        for t in producers:
            t.join(30)
        # reclaim what crashed consumers left until everything is acked
        reclaimer = self.client()
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            left = sum(reclaimer.cmd("XPENDING", k, "g")[0] for k in keys)
            with lock:
                n_acked = len(acked)
            if left == 0 and n_acked + 0 >= total:
                break
            for k in keys:
                got = reclaimer.cmd("XAUTOCLAIM", k, "g", "reclaimer", "50", "0-0", "COUNT",
                                    "100")
                for eid, _ in got[1]:
                    if reclaimer.cmd("XACK", k, "g", eid) == 1:
                        with lock:
                            acked.append((k, eid))
            time.sleep(0.02)
        done.set()
        for t in consumers + readers:
            t.join(20)
        self.assertEqual(errors, [])
        produced = set()
        for k in keys:
            for eid, _ in self.r.cmd("XRANGE", k, "-", "+"):
                produced.add((k, eid))
        self.assertEqual(len(produced), total)
        self.assertEqual(len(acked), total, "an entry acknowledged twice or lost")
        self.assertEqual(set(acked), produced)
        for k in keys:
            self.assertEqual(self.r.cmd("XPENDING", k, "g")[0], 0)
        for seen in seen_by_readers:
            self.assertEqual(sorted(seen), sorted(produced))
            for k in keys:
                ids = [e for kk, e in seen if kk == k]
                self.assertEqual(ids, sorted(ids, key=lambda x: tuple(map(int, x.split(b"-")))))

    def _blocked(self):
        for line in self.r.cmd("INFO", "clients").decode().split("\r\n"):
            if line.startswith("blocked_clients:"):
                return int(line.split(":")[1])
        return -1


class StreamMoveTests(StreamCase):
    """RENAME, COPY and MOVE of streams, at 4 shards so that most
    destinations are owned by another shard than the source: the stream
    travels whole (nodes, deleted entries, groups, PELs, consumers)."""

    shards = 4

    def full(self, key):
        reply = self.r.cmd("XINFO", "STREAM", key, "FULL")
        return [(reply[i], reply[i + 1]) for i in range(0, len(reply), 2)
                if reply[i] != b"radix-tree-nodes"]

    def build(self, key):
        for i in range(1, 251):
            fields = ("f", str(i)) if i % 9 else ("other", "x" * i)
            self.r.cmd("XADD", key, "%d-1" % i, *fields)
        self.r.cmd("XDEL", key, "3-1", "120-1")
        self.r.cmd("XGROUP", "CREATE", key, "g", "0")
        self.r.cmd("XREADGROUP", "GROUP", "g", "alice", "COUNT", "4", "STREAMS", key, ">")
        self.r.cmd("XREADGROUP", "GROUP", "g", "bob", "COUNT", "2", "STREAMS", key, ">")
        self.r.cmd("XACK", key, "g", "2-1")
        self.r.cmd("XGROUP", "CREATECONSUMER", key, "g", "carol")
        self.r.cmd("XGROUP", "CREATE", key, "tail", "$")

    def test_rename_travels_with_groups(self):
        self.build("s")
        want = self.full("s")
        src = "s"
        for i in range(8):
            dst = "dst%d" % i
            self.assertOK(self.r.cmd("RENAME", src, dst))
            self.assertEqual(self.r.cmd("EXISTS", src), 0)
            self.assertEqual(self.r.cmd("TYPE", dst), "stream")
            self.assertEqual(self.full(dst), want, dst)
            src = dst
        # the group goes on where it was: the next entry, then history
        self.assertEqual(self.r.cmd("XREADGROUP", "GROUP", "g", "bob", "COUNT", "1",
                                    "STREAMS", src, ">"), [[src.encode(), [ent("8-1", "f", "8")]]])
        self.assertEqual(self.r.cmd("XPENDING", src, "g")[0], 6)
        self.assertGreater(int(self.r.cmd("XADD", src, "*", "f", "v").split(b"-")[0]), 250)
        # RENAMENX onto an existing key does nothing; RENAME replaces
        self.r.cmd("SET", "str", "v")
        self.assertEqual(self.r.cmd("RENAMENX", src, "str"), 0)
        self.assertOK(self.r.cmd("RENAME", src, "str"))
        self.assertEqual(self.r.cmd("TYPE", "str"), "stream")
        self.assertEqual(self.r.cmd("XLEN", "str"), 249)

    def test_copy_is_deep(self):
        self.build("s")
        want = self.full("s")
        for i in range(8):
            dst = "copy%d" % i
            self.assertEqual(self.r.cmd("COPY", "s", dst), 1)
            self.assertEqual(self.full(dst), want, dst)
            # changing the copy leaves the source alone
            self.r.cmd("XACK", dst, "g", "1-1")
            self.r.cmd("XADD", dst, "999-1", "f", "v")
            self.r.cmd("XGROUP", "DESTROY", dst, "tail")
            self.assertEqual(self.full("s"), want)
        self.assertEqual(self.r.cmd("COPY", "s", "copy0"), 0)
        self.assertEqual(self.r.cmd("COPY", "s", "copy0", "REPLACE"), 1)
        self.assertEqual(self.full("copy0"), want)

    def test_empty_stream_with_group_travels(self):
        self.r.cmd("XADD", "e", "5-5", "f", "v")
        self.r.cmd("XDEL", "e", "5-5")
        self.r.cmd("XGROUP", "CREATE", "e", "g", "$")
        want = self.full("e")
        for i in range(6):
            self.assertEqual(self.r.cmd("COPY", "e", "ec%d" % i), 1)
            self.assertEqual(self.full("ec%d" % i), want)
            self.assertOK(self.r.cmd("RENAME", "ec%d" % i, "er%d" % i))
            self.assertEqual(self.full("er%d" % i), want)

    def test_move_and_copy_to_another_db(self):
        self.build("s")
        want = self.full("s")
        self.assertEqual(self.r.cmd("COPY", "s", "c", "DB", "2"), 1)
        self.assertEqual(self.r.cmd("MOVE", "s", "1"), 1)
        self.assertEqual(self.r.cmd("EXISTS", "s"), 0)
        self.r.cmd("SELECT", "1")
        self.assertEqual(self.full("s"), want)
        self.r.cmd("SELECT", "2")
        self.assertEqual(self.full("c"), want)
        self.r.cmd("SELECT", "0")


class StreamNotificationTests(StreamCase):
    server_args = ("--notify-keyspace-events", "KEA")

    def setUp(self):
        super().setUp()
        self.sub = self.client()
        self.sub.send_command("PSUBSCRIBE", "__keyspace@0__:*")
        self.assertEqual(self.sub.read_reply(), [b"psubscribe", b"__keyspace@0__:*", 1])

    def events(self, n):
        return [p for c, p in collect_messages(self.sub, n)]

    def test_events(self):
        self.r.cmd("XADD", "s", "1-1", "a", "1")
        self.r.cmd("XADD", "s", "MAXLEN", "1", "2-1", "a", "1")
        self.r.cmd("XADD", "s", "MAXLEN", "5", "3-1", "a", "1")
        self.assertEqual(self.events(4), ["xadd", "xadd", "xtrim", "xadd"])
        self.r.cmd("XDEL", "s", "9-9")
        self.r.cmd("XDEL", "s", "2-1")
        self.r.cmd("XTRIM", "s", "MAXLEN", "0")
        self.r.cmd("XSETID", "s", "5-5")
        self.assertEqual(self.events(3), ["xdel", "xtrim", "xsetid"])
        self.r.cmd("XGROUP", "CREATE", "s", "g", "0")
        self.r.cmd("XGROUP", "CREATECONSUMER", "s", "g", "c")
        self.r.cmd("XGROUP", "CREATECONSUMER", "s", "g", "c")
        self.r.cmd("XADD", "s", "6-1", "a", "1")
        self.r.cmd("XREADGROUP", "GROUP", "g", "d", "STREAMS", "s", ">")
        self.r.cmd("XGROUP", "SETID", "s", "g", "0")
        self.r.cmd("XGROUP", "DELCONSUMER", "s", "g", "d")
        self.r.cmd("XGROUP", "DELCONSUMER", "s", "g", "nobody")
        self.r.cmd("XGROUP", "DESTROY", "s", "g")
        self.assertEqual(self.events(7), ["xgroup-create", "xgroup-createconsumer", "xadd",
                                          "xgroup-createconsumer", "xgroup-setid",
                                          "xgroup-delconsumer", "xgroup-destroy"])


if __name__ == "__main__":
    unittest.main()
