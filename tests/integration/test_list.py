"""List commands: Redis 7.0's behaviour, replies (RESP2 and RESP3) and exact
error strings, keyspace notifications, the multi-key commands (LMOVE,
RPOPLPUSH, LMPOP) with keys on different shards, and big lists.

Every test passes against redis-server 7.0.15 (SHARDIS_REFERENCE=redis).
Notifications are compared per channel only: with several shards,
different channels are served by different threads (see
test_notifications.py).
"""

import os
import socket
import sys
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import ServerTestCase, encode_command  # noqa: E402

WRONGTYPE = "WRONGTYPE Operation against a key holding the wrong kind of value"
NOT_INTEGER = "ERR value is not an integer or out of range"
SYNTAX = "ERR syntax error"
POSITIVE = "ERR value is out of range, must be positive"
RANK_ZERO = ("ERR RANK can't be zero: use 1 to start from the first match, 2 from the "
             "second ... or use negative to start from the end of the list")
NUMKEYS = "ERR numkeys should be greater than 0"
COUNT_POSITIVE = "ERR count should be greater than 0"
LLONG_MAX = "9223372036854775807"
LLONG_MIN = "-9223372036854775808"

# Enough key names that, with 4 shards, many pairs land on different owners.
PAIRS = 24


def arity(cmd):
    return "ERR wrong number of arguments for '%s' command" % cmd


def bulks(*items):
    return [i if isinstance(i, bytes) else str(i).encode() for i in items]


class ListCase(ServerTestCase):

    def lrange(self, key):
        return self.r.cmd("LRANGE", key, 0, -1)

    def rpush(self, key, *items):
        return self.r.cmd("RPUSH", key, *items)


class PushPopTests(ListCase):

    def test_lpush_and_rpush_reply_the_length_and_keep_argument_order(self):
        self.assertEqual(self.r.raw("RPUSH", "l", "a", "b"), b":2\r\n")
        self.assertEqual(self.r.cmd("LPUSH", "l", "x", "y"), 4)
        self.assertEqual(self.lrange("l"), bulks("y", "x", "a", "b"))
        self.assertEqual(self.r.cmd("TYPE", "l"), "list")

    def test_pushx_only_writes_to_an_existing_list(self):
        self.assertEqual(self.r.cmd("LPUSHX", "l", "a"), 0)
        self.assertEqual(self.r.cmd("RPUSHX", "l", "a", "b"), 0)
        self.assertEqual(self.r.cmd("EXISTS", "l"), 0)
        self.rpush("l", "m")
        self.assertEqual(self.r.cmd("LPUSHX", "l", "h1", "h2"), 3)
        self.assertEqual(self.r.cmd("RPUSHX", "l", "t"), 4)
        self.assertEqual(self.lrange("l"), bulks("h2", "h1", "m", "t"))

    def test_pop_without_count_replies_a_bulk_or_nil(self):
        self.rpush("l", "a", "b", "c")
        self.assertEqual(self.r.raw("LPOP", "l"), b"$1\r\na\r\n")
        self.assertEqual(self.r.cmd("RPOP", "l"), b"c")
        self.assertEqual(self.r.raw("LPOP", "missing"), b"$-1\r\n")
        self.assertEqual(self.r.raw("RPOP", "missing"), b"$-1\r\n")

    def test_pop_with_count_replies_an_array_in_pop_order(self):
        self.rpush("l", *range(10))
        self.assertEqual(self.r.cmd("LPOP", "l", 3), bulks(0, 1, 2))
        self.assertEqual(self.r.cmd("RPOP", "l", 2), bulks(9, 8))
        self.assertEqual(self.r.cmd("RPOP", "l", 100), bulks(7, 6, 5, 4, 3))
        self.assertEqual(self.r.cmd("EXISTS", "l"), 0)

    def test_pop_with_count_zero_and_missing_keys(self):
        self.rpush("l", "a")
        self.assertEqual(self.r.raw("LPOP", "l", 0), b"*0\r\n")
        self.assertEqual(self.r.raw("RPOP", "l", 0), b"*0\r\n")
        self.assertEqual(self.r.cmd("LLEN", "l"), 1)
        self.assertEqual(self.r.raw("LPOP", "missing", 0), b"*-1\r\n")
        self.assertEqual(self.r.raw("RPOP", "missing", 5), b"*-1\r\n")
        self.assertEqual(self.r.cmd("LPOP", "l", LLONG_MAX), bulks("a"))

    def test_pop_count_errors(self):
        self.rpush("l", "a")
        for bad in ("-1", "x", "9223372036854775808", "1.5", ""):
            self.assertError(self.r.cmd("LPOP", "l", bad), POSITIVE)
            self.assertError(self.r.cmd("RPOP", "missing", bad), POSITIVE)
        self.assertError(self.r.cmd("LPOP", "l", 1, 2), arity("lpop"))
        self.assertError(self.r.cmd("RPOP", "l", 1, 2), arity("rpop"))
        self.assertEqual(self.r.cmd("LLEN", "l"), 1)

    def test_popping_the_last_element_deletes_the_key(self):
        self.rpush("l", "only")
        self.r.cmd("EXPIRE", "l", 100)
        self.assertEqual(self.r.cmd("RPOP", "l"), b"only")
        self.assertEqual(self.r.cmd("EXISTS", "l"), 0)
        self.rpush("l", "again")
        self.assertEqual(self.r.cmd("TTL", "l"), -1)

    def test_elements_are_binary_safe_and_integers_keep_their_bytes(self):
        items = [b"", b"\x00\r\n$1\r\n", b"007", b"-0", b"12", LLONG_MIN.encode(),
                 b"9223372036854775808", b"1e3", b"x" * 5000]
        self.assertEqual(self.rpush("l", *items), len(items))
        self.assertEqual(self.lrange("l"), items)
        self.assertEqual(self.r.cmd("LPOP", "l", len(items)), items)

    def test_wrongtype_for_every_command_on_a_string(self):
        self.r.cmd("SET", "s", "v")
        for cmd in (("LPUSH", "s", "a"), ("RPUSH", "s", "a"), ("LPUSHX", "s", "a"),
                    ("RPUSHX", "s", "a"), ("LPOP", "s"), ("RPOP", "s", 2), ("LPOP", "s", 0),
                    ("LLEN", "s"), ("LRANGE", "s", 0, -1), ("LINDEX", "s", 0),
                    ("LINDEX", "s", "x"), ("LSET", "s", 0, "a"), ("LSET", "s", "x", "a"),
                    ("LINSERT", "s", "BEFORE", "a", "b"), ("LREM", "s", 0, "a"),
                    ("LTRIM", "s", 0, 1), ("LPOS", "s", "a"), ("LMOVE", "s", "d", "LEFT", "LEFT"),
                    ("RPOPLPUSH", "s", "d"), ("LMPOP", 1, "s", "LEFT")):
            self.assertError(self.r.cmd(*cmd), WRONGTYPE)
        self.assertEqual(self.r.cmd("GET", "s"), b"v")
        self.assertEqual(self.r.cmd("EXISTS", "d"), 0)

    def test_arity_errors(self):
        for cmd, args in (("lpush", ("l",)), ("rpush", ("l",)), ("lpushx", ("l",)),
                          ("llen", ()), ("lrange", ("l", 0)), ("lindex", ("l",)),
                          ("lset", ("l", 0)), ("linsert", ("l", "BEFORE", "a")),
                          ("lrem", ("l", 0)), ("ltrim", ("l", 0)), ("lpos", ("l",)),
                          ("lmove", ("a", "b", "LEFT")), ("rpoplpush", ("a",)),
                          ("lmpop", (1, "l"))):
            self.assertError(self.r.cmd(cmd, *args), arity(cmd))


class ReadTests(ListCase):

    def setUp(self):
        super().setUp()
        self.rpush("l", *"abcdef")

    def test_llen(self):
        self.assertEqual(self.r.cmd("LLEN", "l"), 6)
        self.assertEqual(self.r.cmd("LLEN", "missing"), 0)

    def test_lrange_clamps_and_counts_negative_indexes_from_the_tail(self):
        cases = [((0, -1), "abcdef"), ((1, 2), "bc"), ((-2, -1), "ef"), ((-100, 1), "ab"),
                 ((4, 100), "ef"), ((3, 2), ""), ((6, 10), ""), ((-1, -2), ""),
                 ((LLONG_MIN, LLONG_MAX), "abcdef"), ((LLONG_MAX, LLONG_MIN), "")]
        for (start, end), want in cases:
            self.assertEqual(self.r.cmd("LRANGE", "l", start, end), bulks(*want),
                             (start, end))
        self.assertEqual(self.r.raw("LRANGE", "missing", 0, -1), b"*0\r\n")
        self.assertError(self.r.cmd("LRANGE", "l", "a", 1), NOT_INTEGER)
        self.assertError(self.r.cmd("LRANGE", "missing", 0, "1.0"), NOT_INTEGER)

    def test_lindex(self):
        self.assertEqual(self.r.cmd("LINDEX", "l", 0), b"a")
        self.assertEqual(self.r.cmd("LINDEX", "l", -1), b"f")
        self.assertEqual(self.r.cmd("LINDEX", "l", -6), b"a")
        self.assertEqual(self.r.raw("LINDEX", "l", 6), b"$-1\r\n")
        self.assertIsNone(self.r.cmd("LINDEX", "l", -7))
        self.assertIsNone(self.r.cmd("LINDEX", "l", LLONG_MIN))
        self.assertError(self.r.cmd("LINDEX", "l", "x"), NOT_INTEGER)
        # a missing key answers nil before the index is parsed
        self.assertIsNone(self.r.cmd("LINDEX", "missing", "x"))

    def test_lpos_finds_matches_by_rank_count_and_maxlen(self):
        self.r.cmd("DEL", "l")
        self.rpush("l", "a", "b", "a", "c", "a", "d", "a")
        self.assertEqual(self.r.cmd("LPOS", "l", "a"), 0)
        self.assertEqual(self.r.cmd("LPOS", "l", "c"), 3)
        self.assertEqual(self.r.raw("LPOS", "l", "z"), b"$-1\r\n")
        self.assertEqual(self.r.cmd("LPOS", "l", "a", "RANK", 2), 2)
        self.assertEqual(self.r.cmd("LPOS", "l", "a", "RANK", -1), 6)
        self.assertEqual(self.r.cmd("LPOS", "l", "a", "RANK", -2, "COUNT", 2), [4, 2])
        self.assertEqual(self.r.cmd("LPOS", "l", "a", "COUNT", 0), [0, 2, 4, 6])
        self.assertEqual(self.r.cmd("LPOS", "l", "a", "COUNT", 2, "MAXLEN", 3), [0, 2])
        self.assertEqual(self.r.cmd("LPOS", "l", "a", "RANK", -1, "MAXLEN", 2), 6)
        self.assertEqual(self.r.cmd("LPOS", "l", "d", "MAXLEN", 5), None)
        self.assertEqual(self.r.cmd("LPOS", "l", "a", "RANK", 5), None)
        self.assertEqual(self.r.raw("LPOS", "l", "a", "RANK", 5, "COUNT", 0), b"*0\r\n")
        self.assertEqual(self.r.cmd("LPOS", "l", "a", "rank", LLONG_MAX), None)
        self.assertEqual(self.r.cmd("LPOS", "l", "a", "count", 1, "count", 3), [0, 2, 4])
        # Redis 7.0 negates RANK LLONG_MIN into itself: from the tail
        self.assertEqual(self.r.cmd("LPOS", "l", "a", "RANK", LLONG_MIN), 6)
        self.assertEqual(self.r.raw("LPOS", "missing", "a"), b"$-1\r\n")
        self.assertEqual(self.r.raw("LPOS", "missing", "a", "COUNT", 1), b"*0\r\n")

    def test_lpos_errors_come_before_the_lookup(self):
        self.r.cmd("SET", "s", "v")
        for key in ("l", "s", "missing"):
            self.assertError(self.r.cmd("LPOS", key, "a", "RANK", 0), RANK_ZERO)
            self.assertError(self.r.cmd("LPOS", key, "a", "RANK", "x"), NOT_INTEGER)
            self.assertError(self.r.cmd("LPOS", key, "a", "COUNT", -1),
                             "ERR COUNT can't be negative")
            self.assertError(self.r.cmd("LPOS", key, "a", "COUNT", "x"),
                             "ERR COUNT can't be negative")
            self.assertError(self.r.cmd("LPOS", key, "a", "MAXLEN", -1),
                             "ERR MAXLEN can't be negative")
            self.assertError(self.r.cmd("LPOS", key, "a", "FOO", 1), SYNTAX)
            self.assertError(self.r.cmd("LPOS", key, "a", "RANK"), SYNTAX)


class WriteTests(ListCase):

    def test_lset(self):
        self.rpush("l", "a", "b", "c")
        self.assertOK(self.r.cmd("LSET", "l", 0, "first"))
        self.assertOK(self.r.cmd("LSET", "l", -1, "last"))
        self.assertOK(self.r.cmd("LSET", "l", 1, "x" * 10000))
        self.assertEqual(self.lrange("l"), [b"first", b"x" * 10000, b"last"])
        self.assertError(self.r.cmd("LSET", "l", 3, "a"), "ERR index out of range")
        self.assertError(self.r.cmd("LSET", "l", -4, "a"), "ERR index out of range")
        self.assertError(self.r.cmd("LSET", "l", "x", "a"), NOT_INTEGER)
        self.assertError(self.r.cmd("LSET", "missing", 0, "a"), "ERR no such key")
        self.assertError(self.r.cmd("LSET", "missing", "x", "a"), "ERR no such key")

    def test_linsert(self):
        self.rpush("l", "a", "p", "b", "p")
        self.assertEqual(self.r.cmd("LINSERT", "l", "BEFORE", "p", "x"), 5)
        self.assertEqual(self.r.cmd("LINSERT", "l", "after", "p", "y"), 6)
        self.assertEqual(self.r.cmd("LINSERT", "l", "AfTeR", "p", "12"), 7)
        self.assertEqual(self.r.cmd("LINSERT", "l", "BEFORE", "a", "h"), 8)
        self.assertEqual(self.lrange("l"), bulks("h", "a", "x", "p", "12", "y", "b", "p"))
        self.assertEqual(self.r.cmd("LINSERT", "l", "BEFORE", "nope", "z"), -1)
        self.assertEqual(self.r.cmd("LINSERT", "missing", "BEFORE", "a", "z"), 0)
        self.assertEqual(self.r.cmd("EXISTS", "missing"), 0)
        self.assertError(self.r.cmd("LINSERT", "l", "MIDDLE", "a", "z"), SYNTAX)
        self.assertError(self.r.cmd("LINSERT", "missing", "MIDDLE", "a", "z"), SYNTAX)

    def test_lrem_from_the_head_the_tail_or_everywhere(self):
        self.rpush("l", 1, 2, 3, 2, 1, 2)
        self.assertEqual(self.r.cmd("LREM", "l", -2, 2), 2)
        self.assertEqual(self.lrange("l"), bulks(1, 2, 3, 1))
        self.assertEqual(self.r.cmd("LREM", "l", 1, 1), 1)
        self.assertEqual(self.lrange("l"), bulks(2, 3, 1))
        self.assertEqual(self.r.cmd("LREM", "l", 0, "nope"), 0)
        self.assertEqual(self.r.cmd("LREM", "l", 0, 2), 1)
        self.assertEqual(self.r.cmd("LREM", "l", 5, 3), 1)
        self.assertEqual(self.r.cmd("LREM", "l", LLONG_MIN, 1), 1)
        self.assertEqual(self.r.cmd("EXISTS", "l"), 0)
        self.assertEqual(self.r.cmd("LREM", "missing", 0, "a"), 0)
        self.assertError(self.r.cmd("LREM", "l", "x", "a"), NOT_INTEGER)

    def test_ltrim(self):
        self.rpush("l", 1, 2, 3, 4, 5)
        self.assertOK(self.r.cmd("LTRIM", "l", 1, -2))
        self.assertEqual(self.lrange("l"), bulks(2, 3, 4))
        self.assertOK(self.r.cmd("LTRIM", "l", -100, 100))
        self.assertEqual(self.lrange("l"), bulks(2, 3, 4))
        self.assertOK(self.r.cmd("LTRIM", "l", 0, 0))
        self.assertEqual(self.lrange("l"), bulks(2))
        self.assertOK(self.r.cmd("LTRIM", "l", 2, 1))
        self.assertEqual(self.r.cmd("EXISTS", "l"), 0)
        self.rpush("l", 1, 2, 3)
        self.assertOK(self.r.cmd("LTRIM", "l", 5, 10))
        self.assertEqual(self.r.cmd("EXISTS", "l"), 0)
        self.assertOK(self.r.cmd("LTRIM", "missing", 0, 1))
        self.assertError(self.r.cmd("LTRIM", "missing", "x", 1), NOT_INTEGER)
        self.assertError(self.r.cmd("LTRIM", "l", 0, "y"), NOT_INTEGER)


class MoveTests(ListCase):

    def test_lmove_in_every_direction(self):
        self.rpush("src", 1, 2, 3, 4)
        self.assertEqual(self.r.cmd("LMOVE", "src", "dst", "LEFT", "LEFT"), b"1")
        self.assertEqual(self.r.cmd("LMOVE", "src", "dst", "left", "right"), b"2")
        self.assertEqual(self.r.cmd("LMOVE", "src", "dst", "RIGHT", "LEFT"), b"4")
        self.assertEqual(self.r.cmd("LMOVE", "src", "dst", "Right", "Right"), b"3")
        self.assertEqual(self.lrange("dst"), bulks(4, 1, 2, 3))
        self.assertEqual(self.r.cmd("EXISTS", "src"), 0)
        self.assertEqual(self.r.raw("LMOVE", "src", "dst", "LEFT", "LEFT"), b"$-1\r\n")

    def test_lmove_onto_the_same_list_rotates(self):
        self.rpush("l", "a", "b", "c")
        self.assertEqual(self.r.cmd("LMOVE", "l", "l", "LEFT", "RIGHT"), b"a")
        self.assertEqual(self.lrange("l"), bulks("b", "c", "a"))
        self.assertEqual(self.r.cmd("RPOPLPUSH", "l", "l"), b"a")
        self.assertEqual(self.lrange("l"), bulks("a", "b", "c"))
        self.assertEqual(self.r.cmd("LMOVE", "l", "l", "LEFT", "LEFT"), b"a")
        self.assertEqual(self.lrange("l"), bulks("a", "b", "c"))
        self.r.cmd("DEL", "l")
        big = b"B" * 1000
        self.rpush("l", big)
        self.assertEqual(self.r.cmd("LMOVE", "l", "l", "RIGHT", "LEFT"), big)
        self.assertEqual(self.lrange("l"), [big])

    def test_rpoplpush(self):
        self.rpush("src", "a", "b")
        self.assertEqual(self.r.cmd("RPOPLPUSH", "src", "dst"), b"b")
        self.assertEqual(self.r.cmd("RPOPLPUSH", "src", "dst"), b"a")
        self.assertEqual(self.lrange("dst"), bulks("a", "b"))
        self.assertIsNone(self.r.cmd("RPOPLPUSH", "src", "dst"))

    def test_lmove_errors_and_their_order(self):
        self.r.cmd("SET", "s", "v")
        self.rpush("l", "a")
        for key in ("l", "missing", "s"):
            self.assertError(self.r.cmd("LMOVE", key, "d", "MIDDLE", "LEFT"), SYNTAX)
            self.assertError(self.r.cmd("LMOVE", key, "d", "LEFT", "UP"), SYNTAX)
        # a missing source answers nil even when the destination is wrong
        self.assertIsNone(self.r.cmd("LMOVE", "missing", "s", "LEFT", "LEFT"))
        self.assertIsNone(self.r.cmd("RPOPLPUSH", "missing", "s"))
        self.assertError(self.r.cmd("LMOVE", "l", "s", "LEFT", "LEFT"), WRONGTYPE)
        self.assertError(self.r.cmd("RPOPLPUSH", "l", "s"), WRONGTYPE)
        self.assertError(self.r.cmd("LMOVE", "s", "l", "LEFT", "LEFT"), WRONGTYPE)
        self.assertEqual(self.lrange("l"), bulks("a"))

    def test_lmpop(self):
        self.rpush("b", 1, 2, 3)
        self.rpush("c", 4)
        self.assertEqual(self.r.cmd("LMPOP", 3, "a", "b", "c", "LEFT"), [b"b", bulks(1)])
        self.assertEqual(self.r.cmd("LMPOP", 3, "a", "b", "c", "right", "COUNT", 10),
                         [b"b", bulks(3, 2)])
        self.assertEqual(self.r.cmd("EXISTS", "b"), 0)
        self.assertEqual(self.r.cmd("LMPOP", 2, "c", "c", "LEFT", "count", 1), [b"c", bulks(4)])
        self.assertEqual(self.r.raw("LMPOP", 3, "a", "b", "c", "LEFT"), b"*-1\r\n")

    def test_lmpop_wrongtype_counts_only_before_the_first_list(self):
        self.r.cmd("SET", "s", "v")
        self.rpush("l", "x", "y")
        self.assertError(self.r.cmd("LMPOP", 3, "missing", "s", "l", "LEFT"), WRONGTYPE)
        self.assertEqual(self.r.cmd("LMPOP", 2, "l", "s", "LEFT"), [b"l", bulks("x")])

    def test_lmpop_errors(self):
        self.rpush("l", "x")
        for n in (0, -1, "x", "1.0"):
            self.assertError(self.r.cmd("LMPOP", n, "l", "LEFT"), NUMKEYS)
        self.assertError(self.r.cmd("LMPOP", 2, "l", "LEFT"), SYNTAX)
        self.assertError(self.r.cmd("LMPOP", LLONG_MAX, "l", "LEFT"), SYNTAX)
        self.assertError(self.r.cmd("LMPOP", 1, "l", "MIDDLE"), SYNTAX)
        self.assertError(self.r.cmd("LMPOP", 1, "l", "LEFT", "COUNT"), SYNTAX)
        self.assertError(self.r.cmd("LMPOP", 1, "l", "LEFT", "COUNT", 1, "COUNT", 1), SYNTAX)
        self.assertError(self.r.cmd("LMPOP", 1, "l", "LEFT", "FOO"), SYNTAX)
        self.assertError(self.r.cmd("LMPOP", 1, "l", "LEFT", "COUNT", 0), COUNT_POSITIVE)
        self.assertError(self.r.cmd("LMPOP", 1, "l", "LEFT", "COUNT", -3), COUNT_POSITIVE)
        self.assertError(self.r.cmd("LMPOP", 2, "a", "b", "LEFT", "COUNT", "x"), COUNT_POSITIVE)
        self.assertEqual(self.lrange("l"), bulks("x"))


class Resp3Tests(ListCase):

    def setUp(self):
        super().setUp()
        self.r.cmd("HELLO", 3)

    def test_null_forms(self):
        for cmd in (("LPOP", "missing"), ("RPOP", "missing", 2), ("LPOP", "missing", 0),
                    ("LINDEX", "missing", 0), ("LPOS", "missing", "a"),
                    ("LMPOP", 2, "missing", "missing2", "LEFT"),
                    ("LMOVE", "missing", "d", "LEFT", "LEFT"), ("RPOPLPUSH", "missing", "d")):
            self.assertEqual(self.r.raw(*cmd), b"_\r\n", cmd)
        self.rpush("l", "a")
        self.assertEqual(self.r.raw("LINDEX", "l", 5), b"_\r\n")
        self.assertEqual(self.r.raw("LPOS", "l", "b"), b"_\r\n")

    def test_arrays_and_integers(self):
        self.rpush("l", "a", "b", "a")
        self.assertEqual(self.r.raw("LRANGE", "l", 0, 0), b"*1\r\n$1\r\na\r\n")
        self.assertEqual(self.r.raw("LPOS", "l", "a", "COUNT", 0), b"*2\r\n:0\r\n:2\r\n")
        self.assertEqual(self.r.raw("LPOS", "missing", "a", "COUNT", 0), b"*0\r\n")
        self.assertEqual(self.r.raw("RPOP", "l", 0), b"*0\r\n")
        self.assertEqual(self.r.raw("LMPOP", 1, "l", "RIGHT"),
                         b"*2\r\n$1\r\nl\r\n*1\r\n$1\r\na\r\n")
        self.assertEqual(self.r.raw("LLEN", "l"), b":2\r\n")


class NotificationTests(ListCase):

    def setUp(self):
        super().setUp()
        self.r.cmd("CONFIG", "SET", "notify-keyspace-events", "KEA")
        self.sub = self.client()

    def tearDown(self):
        self.r.cmd("CONFIG", "SET", "notify-keyspace-events", "")
        super().tearDown()

    def listen(self, *keys):
        chans = ["__keyspace@0__:%s" % k for k in keys]
        self.sub.send_command("SUBSCRIBE", *chans)
        for i in range(len(chans)):
            self.sub.read_reply()

    def events(self, n, quiet=0.1):
        """n notifications, then any more within `quiet` s: {key: [events]}."""
        out = {}
        got = 0
        old = self.sub.timeout
        try:
            while True:
                self.sub.timeout = quiet if got >= n else 5.0
                try:
                    m = self.sub.read_reply()
                except socket.timeout:
                    break
                self.assertIsInstance(m, list)
                key = m[1].decode().split(":", 1)[1]
                out.setdefault(key, []).append(m[2].decode())
                got += 1
        finally:
            self.sub.timeout = old
        return out

    def test_events_of_one_key_arrive_in_command_order(self):
        self.listen("l")
        self.rpush("l", "a", "b", "c")
        self.r.cmd("LPUSH", "l", "z")
        self.r.cmd("LPUSHX", "l", "y")
        self.r.cmd("LSET", "l", 0, "x")
        self.r.cmd("LINSERT", "l", "AFTER", "x", "w")
        self.r.cmd("LINSERT", "l", "AFTER", "nope", "w")
        self.r.cmd("LREM", "l", 0, "w")
        self.r.cmd("LREM", "l", 0, "nope")
        self.r.cmd("LTRIM", "l", 0, -1)
        self.r.cmd("RPOP", "l", 0)
        self.r.cmd("RPOP", "l")
        self.r.cmd("LPOP", "l", 10)
        self.assertEqual(self.events(10), {"l": [
            "rpush", "lpush", "lpush", "lset", "linsert", "lrem", "ltrim", "rpop", "lpop",
            "del"]})

    def test_ltrim_that_empties_the_list_then_del(self):
        self.listen("l")
        self.rpush("l", "a")
        self.r.cmd("LTRIM", "l", 1, 0)
        self.assertEqual(self.events(3), {"l": ["rpush", "ltrim", "del"]})

    def test_lmove_publishes_the_push_and_the_pop(self):
        self.listen("src", "dst")
        self.rpush("src", "a")
        self.assertEqual(self.r.cmd("LMOVE", "src", "dst", "LEFT", "RIGHT"), b"a")
        self.assertEqual(self.r.cmd("RPOPLPUSH", "dst", "src"), b"a")
        self.assertEqual(self.events(7), {"src": ["rpush", "lpop", "del", "lpush"],
                                          "dst": ["rpush", "rpop", "del"]})

    def test_lmpop_publishes_the_pop(self):
        self.listen("b")
        self.rpush("b", "x", "y")
        self.r.cmd("LMPOP", 2, "a", "b", "RIGHT", "COUNT", 5)
        self.assertEqual(self.events(3), {"b": ["rpush", "rpop", "del"]})


class CrossShardTests(ListCase):
    """Source and destination on different shards (with SHARDIS_SHARDS=4
    many of these pairs are), and with one hash tag."""

    def test_lmove_between_many_key_pairs(self):
        for i in range(PAIRS):
            self.rpush("src:%d" % i, "a%d" % i, "b%d" % i)
            self.rpush("dst:%d" % i, "x")
        for i in range(PAIRS):
            self.assertEqual(self.r.cmd("LMOVE", "src:%d" % i, "dst:%d" % i, "RIGHT", "LEFT"),
                             b"b%d" % i)
            self.assertEqual(self.r.cmd("RPOPLPUSH", "src:%d" % i, "new:%d" % i), b"a%d" % i)
        for i in range(PAIRS):
            self.assertEqual(self.lrange("dst:%d" % i), [b"b%d" % i, b"x"])
            self.assertEqual(self.lrange("new:%d" % i), [b"a%d" % i])
            self.assertEqual(self.r.cmd("EXISTS", "src:%d" % i), 0)
            self.assertIsNone(self.r.cmd("LMOVE", "src:%d" % i, "dst:%d" % i, "LEFT", "LEFT"))

    def test_lmove_wrongtype_destination_pops_nothing_across_shards(self):
        for i in range(PAIRS):
            self.rpush("src:%d" % i, "keep")
            self.r.cmd("SET", "str:%d" % i, "v")
        for i in range(PAIRS):
            self.assertError(self.r.cmd("LMOVE", "src:%d" % i, "str:%d" % i, "LEFT", "LEFT"),
                             WRONGTYPE)
            self.assertError(self.r.cmd("LMOVE", "str:%d" % i, "src:%d" % i, "LEFT", "LEFT"),
                             WRONGTYPE)
            self.assertIsNone(self.r.cmd("RPOPLPUSH", "none:%d" % i, "str:%d" % i))
            self.assertError(self.r.cmd("LMOVE", "src:%d" % i, "dst:%d" % i, "UP", "LEFT"),
                             SYNTAX)
        for i in range(PAIRS):
            self.assertEqual(self.lrange("src:%d" % i), [b"keep"])
            self.assertEqual(self.r.cmd("GET", "str:%d" % i), b"v")

    def test_lmove_across_shards_in_resp3_and_with_big_elements(self):
        self.r.cmd("HELLO", 3)
        big = os.urandom(50000)
        for i in range(PAIRS):
            self.rpush("src:%d" % i, big)
        for i in range(PAIRS):
            self.assertEqual(self.r.raw("LMOVE", "nope:%d" % i, "dst:%d" % i, "LEFT", "LEFT"),
                             b"_\r\n")
            self.assertEqual(self.r.cmd("LMOVE", "src:%d" % i, "dst:%d" % i, "LEFT", "LEFT"),
                             big)
            self.assertEqual(self.r.cmd("LINDEX", "dst:%d" % i, 0), big)

    def test_lmpop_tries_keys_in_argument_order_across_shards(self):
        keys = ["k:%d" % i for i in range(PAIRS)]
        self.rpush(keys[7], "seven", "7b")
        self.rpush(keys[15], "fifteen")
        self.assertEqual(self.r.cmd("LMPOP", len(keys), *keys, "LEFT"),
                         [keys[7].encode(), [b"seven"]])
        self.assertEqual(self.r.cmd("LMPOP", len(keys), *keys, "LEFT", "COUNT", 3),
                         [keys[7].encode(), [b"7b"]])
        self.assertEqual(self.r.cmd("LMPOP", len(keys), *keys, "RIGHT", "COUNT", 3),
                         [keys[15].encode(), [b"fifteen"]])
        self.assertEqual(self.r.raw("LMPOP", len(keys), *keys, "RIGHT"), b"*-1\r\n")
        self.r.cmd("HELLO", 3)
        self.assertEqual(self.r.raw("LMPOP", len(keys), *keys, "RIGHT"), b"_\r\n")

    def test_lmpop_across_shards_errors(self):
        keys = ["k:%d" % i for i in range(PAIRS)]
        self.r.cmd("SET", keys[10], "v")
        self.rpush(keys[12], "x")
        self.assertError(self.r.cmd("LMPOP", len(keys), *keys, "LEFT"), WRONGTYPE)
        self.assertError(self.r.cmd("LMPOP", len(keys), *keys, "MIDDLE"), SYNTAX)
        self.assertError(self.r.cmd("LMPOP", len(keys), *keys, "LEFT", "COUNT", 0),
                         COUNT_POSITIVE)
        self.assertError(self.r.cmd("LMPOP", len(keys), *keys, "LEFT", "BAD"), SYNTAX)
        self.assertEqual(self.r.cmd("LMPOP", 5, *keys[11:16], "LEFT"), [keys[12].encode(), [b"x"]])

    def test_hash_tagged_keys_move_on_one_shard(self):
        self.rpush("{t}src", 1, 2, 3)
        self.assertEqual(self.r.cmd("LMOVE", "{t}src", "{t}dst", "LEFT", "RIGHT"), b"1")
        self.assertEqual(self.r.cmd("RPOPLPUSH", "{t}src", "{t}dst"), b"3")
        self.assertEqual(self.r.cmd("LMPOP", 2, "{t}none", "{t}dst", "LEFT", "COUNT", 5),
                         [b"{t}dst", bulks(3, 1)])
        self.assertEqual(self.lrange("{t}src"), bulks(2))

    def test_a_pipeline_sees_each_cross_shard_move_in_order(self):
        for i in range(PAIRS):
            self.rpush("src:%d" % i, "v%d" % i)
        cmds = []
        for i in range(PAIRS):
            cmds.append(("LMOVE", "src:%d" % i, "dst:%d" % i, "LEFT", "LEFT"))
            cmds.append(("LLEN", "src:%d" % i))
            cmds.append(("LPOP", "dst:%d" % i))
            cmds.append(("LMPOP", 2, "src:%d" % i, "dst:%d" % i, "LEFT"))
        self.r.send(b"".join(encode_command(*c) for c in cmds))
        replies = self.r.read_replies(len(cmds))
        for i in range(PAIRS):
            self.assertEqual(replies[4 * i:4 * i + 4], [b"v%d" % i, 0, b"v%d" % i, None])


class BigListTests(ListCase):

    N = 10000

    def setUp(self):
        super().setUp()
        for start in range(0, self.N, 1000):
            self.rpush("big", *range(start, start + 1000))

    def test_lrange_slices_and_lindex(self):
        self.assertEqual(self.r.cmd("LLEN", "big"), self.N)
        self.assertEqual(self.r.cmd("LRANGE", "big", 0, -1), bulks(*range(self.N)))
        self.assertEqual(self.r.cmd("LRANGE", "big", 4990, 5009), bulks(*range(4990, 5010)))
        self.assertEqual(self.r.cmd("LRANGE", "big", -3, -1), bulks(9997, 9998, 9999))
        for i in (0, 1, 4321, 9998, -1, -5000):
            self.assertEqual(self.r.cmd("LINDEX", "big", i), str(i % self.N).encode())

    def test_writes_in_the_middle_of_a_big_list(self):
        self.assertEqual(self.r.cmd("LINSERT", "big", "BEFORE", 5000, "mid"), self.N + 1)
        self.assertEqual(self.r.cmd("LPOS", "big", "mid"), 5000)
        self.assertOK(self.r.cmd("LSET", "big", 5000, "x" * 3000))
        self.assertEqual(self.r.cmd("LINDEX", "big", 5000), b"x" * 3000)
        self.assertEqual(self.r.cmd("LREM", "big", 0, "x" * 3000), 1)
        self.assertEqual(self.r.cmd("LPOS", "big", 7777, "MAXLEN", 7777), None)
        self.assertEqual(self.r.cmd("LPOS", "big", 7777, "RANK", -1), 7777)
        self.assertOK(self.r.cmd("LTRIM", "big", 100, -101))
        self.assertEqual(self.r.cmd("LLEN", "big"), self.N - 200)
        self.assertEqual(self.r.cmd("LRANGE", "big", 0, 1), bulks(100, 101))
        self.assertEqual(self.r.cmd("LPOP", "big", 3), bulks(100, 101, 102))
        self.assertEqual(self.r.cmd("RPOP", "big", 3), bulks(9899, 9898, 9897))
        popped = self.r.cmd("LMPOP", 1, "big", "LEFT", "COUNT", self.N)
        self.assertEqual(popped, [b"big", bulks(*range(103, 9897))])
        self.assertEqual(self.r.cmd("EXISTS", "big"), 0)

    def test_moving_a_big_list_element_by_element(self):
        for i in range(300):
            self.r.send_command("RPOPLPUSH", "big", "other:%d" % (i % 7))
        self.assertEqual(self.r.read_replies(300), bulks(*range(self.N - 1, self.N - 301, -1)))
        self.assertEqual(sum(self.r.cmd("LLEN", "other:%d" % j) for j in range(7)), 300)
        self.assertEqual(self.r.cmd("LLEN", "big"), self.N - 300)


class ListEncodingTests(ListCase):
    """Redis 7.0 shows every list as a quicklist, small or large."""

    def test_small_and_large_lists_are_quicklists(self):
        self.rpush("small", "a")
        self.assertEqual(self.r.cmd("OBJECT", "ENCODING", "small"), b"quicklist")
        self.rpush("large", *range(2000))
        self.assertEqual(self.r.cmd("OBJECT", "ENCODING", "large"), b"quicklist")
        self.rpush("wide", "x" * 10000)
        self.assertEqual(self.r.cmd("OBJECT", "ENCODING", "wide"), b"quicklist")
        self.r.cmd("LTRIM", "large", 0, 0)
        self.assertEqual(self.r.cmd("OBJECT", "ENCODING", "large"), b"quicklist")


class CompressDepthTests(ListCase):
    """list-compress-depth: CONFIG SET / GET, and lists whose inner nodes
    are LZF compressed answering every command as uncompressed ones do.
    A list takes the depth in force when it is created (Redis 7.0) or
    loaded, so each test sets it before making its lists."""

    RANGE_ERR = ("ERR CONFIG SET failed (possibly related to argument "
                 "'list-compress-depth') - argument must be between 0 and "
                 "2147483647 inclusive")
    PARSE_ERR = ("ERR CONFIG SET failed (possibly related to argument "
                 "'list-compress-depth') - argument couldn't be parsed into an integer")
    N = 3000

    def setUp(self):
        super().setUp()
        self.depth(0)

    def tearDown(self):
        self.depth(0)
        super().tearDown()

    def depth(self, d):
        self.assertOK(self.r.cmd("CONFIG", "SET", "list-compress-depth", d))

    def make(self, key, depth):
        """A list of N compressible elements made at the given depth."""
        self.depth(depth)
        for start in range(0, self.N, 500):
            self.rpush(key, *("element-%06d-xxxxxxxxxxxxxxx" % i
                              for i in range(start, start + 500)))
        self.depth(0)

    def both(self, *args):
        """Runs args[0] on key "c" (compressed) and "p" (plain) with the
        rest of the arguments; the replies must agree."""
        got = self.r.cmd(args[0], "c", *args[1:])
        want = self.r.cmd(args[0], "p", *args[1:])
        self.assertEqual(got, want, args)
        return got

    def same_lists(self):
        self.assertEqual(self.lrange("c"), self.lrange("p"))

    def test_config_set_and_get(self):
        self.assertEqual(self.r.cmd("CONFIG", "GET", "list-compress-depth"),
                         [b"list-compress-depth", b"0"])
        self.assertOK(self.r.cmd("CONFIG", "SET", "list-compress-depth", "3"))
        self.assertEqual(self.r.cmd("CONFIG", "GET", "list-compress-depth"),
                         [b"list-compress-depth", b"3"])
        for bad in ("-1", "2147483648"):
            self.assertError(self.r.cmd("CONFIG", "SET", "list-compress-depth", bad),
                             self.RANGE_ERR)
        for bad in ("abc", "1.5", ""):
            self.assertError(self.r.cmd("CONFIG", "SET", "list-compress-depth", bad),
                             self.PARSE_ERR)
        self.assertEqual(self.r.cmd("CONFIG", "GET", "list-compress-depth"),
                         [b"list-compress-depth", b"3"])
        self.assertOK(self.r.cmd("CONFIG", "SET", "list-compress-depth", "2147483647"))
        self.assertEqual(self.r.cmd("CONFIG", "GET", "list-*-depth"),
                         [b"list-compress-depth", b"2147483647"])

    def check_operations(self, depth):
        self.make("c", depth)
        self.make("p", 0)
        self.assertEqual(self.r.cmd("OBJECT", "ENCODING", "c"), b"quicklist")
        self.same_lists()
        for a, b in ((0, 9), (100, 250), (1000, 1500), (-300, -1), (2990, 5000)):
            self.both("LRANGE", a, b)
        for i in (0, 1, 250, 1499, 2500, -1, -2, -1777, 3000, -3001):
            self.both("LINDEX", i)
        for i in (5, 700, 1500, -600, -2):
            self.both("LSET", i, "set-%d" % i)
        self.both("LSET", 1200, "x" * 3000)
        self.both("LSET", 3000, "y")
        self.same_lists()
        for where, pivot in (("BEFORE", 10), ("AFTER", 1000), ("BEFORE", 2222),
                             ("AFTER", 2998), ("AFTER", 12345)):
            self.both("LINSERT", where, "element-%06d-xxxxxxxxxxxxxxx" % pivot, "ins-%d" % pivot)
        self.both("LINSERT", "BEFORE", "x" * 3000, "z" * 500)
        self.same_lists()
        for i in range(0, self.N, 7):
            self.both("RPUSH", "dup")
            self.both("LINSERT", "AFTER", "element-%06d-xxxxxxxxxxxxxxx" % i, "dup")
        self.both("LPOS", "dup")
        self.both("LPOS", "dup", "RANK", -3, "COUNT", 5)
        self.both("LPOS", "dup", "COUNT", 0)
        self.both("LPOS", "dup", "RANK", 2, "MAXLEN", 500)
        self.both("LPOS", "set-1500")
        self.both("LPOS", "nothing", "COUNT", 0)
        self.both("LREM", 3, "dup")
        self.both("LREM", -4, "dup")
        self.both("LREM", 0, "x" * 3000)
        self.same_lists()
        self.both("LREM", 0, "dup")
        for _ in range(50):
            self.assertEqual(self.r.cmd("RPOPLPUSH", "c", "c"), self.r.cmd("RPOPLPUSH", "p", "p"))
        for _ in range(20):
            self.assertEqual(self.r.cmd("LMOVE", "c", "c", "LEFT", "RIGHT"),
                             self.r.cmd("LMOVE", "p", "p", "LEFT", "RIGHT"))
        self.same_lists()
        self.both("LPUSH", *("head-%d" % i for i in range(300)))
        self.both("LPOP", 150)
        self.both("RPOP", 400)
        self.both("LTRIM", 200, -300)
        self.same_lists()
        self.both("LTRIM", 1000, 1000)
        self.same_lists()
        self.both("LLEN")

    def test_operations_at_depth_1_match_an_uncompressed_list(self):
        self.check_operations(1)

    def test_operations_at_depth_2_match_an_uncompressed_list(self):
        self.check_operations(2)

    def test_memory_usage_is_lower_with_compression(self):
        self.make("c", 1)
        self.make("p", 0)
        # SAMPLES 0: Redis samples 5 nodes from the head, which are plain
        compressed = self.r.cmd("MEMORY", "USAGE", "c", "SAMPLES", "0")
        plain = self.r.cmd("MEMORY", "USAGE", "p", "SAMPLES", "0")
        self.assertLess(compressed, plain * 6 // 10)
        # reads leave the nodes compressed
        self.same_lists()
        self.assertLess(self.r.cmd("MEMORY", "USAGE", "c", "SAMPLES", "0"), plain * 6 // 10)

    def test_save_and_debug_reload_keep_the_list(self):
        self.make("c", 2)
        self.make("p", 0)
        self.both("LSET", 1500, "changed")
        before = self.lrange("c")
        plain = self.r.cmd("MEMORY", "USAGE", "p", "SAMPLES", "0")
        self.assertOK(self.r.cmd("SAVE"))
        self.depth(2)
        self.assertOK(self.r.cmd("DEBUG", "RELOAD"))
        self.assertEqual(self.lrange("c"), before)
        self.same_lists()
        # loaded at depth 2: both lists are compressed now
        self.assertLess(self.r.cmd("MEMORY", "USAGE", "p", "SAMPLES", "0"), plain * 3 // 4)
        self.both("LINDEX", 1500)
        self.assertEqual(self.r.cmd("OBJECT", "ENCODING", "c"), b"quicklist")


if __name__ == "__main__":
    unittest.main()
