"""SORT and SORT_RO: Redis 7.0 replies and error strings over lists, sets and
sorted sets; BY patterns (nosort, constants, hash fields), GET patterns, LIMIT
arithmetic, ALPHA, DESC, STORE (a list, deleting the destination when empty,
keyspace events), RESP3 nulls, pattern keys on other shards (keys without
hash tags), SORT inside MULTI/EXEC, and a concurrency check: a SORT BY never
sees half of a cross-shard MSET.

Every test passes against redis-server 7.0.15 (SHARDIS_REFERENCE=redis).
"""

import os
import sys
import threading
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import Error, ServerTestCase, collect_messages  # noqa: E402

SYNTAX = "ERR syntax error"
NOT_INTEGER = "ERR value is not an integer or out of range"
SCORES = "ERR One or more scores can't be converted into double"
WRONGTYPE = "WRONGTYPE Operation against a key holding the wrong kind of value"


def b(*xs):
    return [x if x is None or isinstance(x, bytes) else str(x).encode() for x in xs]


class TestSortBasics(ServerTestCase):

    def test_numeric_sort_of_a_list_asc_desc_and_limit(self):
        self.r.cmd("RPUSH", "l", "3", "1", "2", "10", "-1.5")
        self.assertEqual(self.r.cmd("SORT", "l"), b("-1.5", 1, 2, 3, 10))
        self.assertEqual(self.r.cmd("SORT", "l", "DESC"), b(10, 3, 2, 1, "-1.5"))
        self.assertEqual(self.r.cmd("SORT", "l", "LIMIT", "1", "2"), b(1, 2))
        self.assertEqual(self.r.cmd("SORT", "l", "LIMIT", "-5", "2"), b("-1.5", 1))
        self.assertEqual(self.r.cmd("SORT", "l", "LIMIT", "3", "-1"), b(3, 10))
        self.assertEqual(self.r.cmd("SORT", "l", "LIMIT", "2", "0"), [])
        self.assertEqual(self.r.cmd("SORT", "l", "LIMIT", "9", "5"), [])
        self.assertEqual(self.r.cmd("SORT", "l", "LIMIT", "4", "100"), b(10))
        self.assertEqual(self.r.cmd("SORT_RO", "l", "DESC", "LIMIT", "0", "1"), b(10))
        self.assertEqual(self.r.cmd("SORT", "l", "ASC", "DESC", "asc"), b("-1.5", 1, 2, 3, 10))

    def test_numeric_ties_and_alpha(self):
        self.r.cmd("RPUSH", "l", "b", "a", "c", "ab")
        self.assertEqual(self.r.cmd("SORT", "l"), Error(SCORES))
        self.assertEqual(self.r.cmd("SORT", "l", "ALPHA"), b("a", "ab", "b", "c"))
        self.assertEqual(self.r.cmd("SORT", "l", "ALPHA", "DESC", "LIMIT", "1", "2"),
                         b("b", "ab"))
        self.r.cmd("RPUSH", "n", "1.0", "1", "01", "0x10", " 2")
        # equal scores sort by the elements' bytes
        self.assertEqual(self.r.cmd("SORT", "n"), b("01", "1", "1.0", " 2", "0x10"))

    def test_scores_that_do_not_convert(self):
        # (valid ones first: Redis leaves a failed strtod's errno behind)
        self.r.cmd("RPUSH", "l", "inf", "-inf", "", "3")
        self.assertEqual(self.r.cmd("SORT", "l"), b("-inf", "", "3", "inf"))
        for bad in ("1e400", "nan", "1x", "3 ", "1e-400"):
            self.r.cmd("DEL", "l")
            self.r.cmd("RPUSH", "l", "1", bad)
            self.assertEqual(self.r.cmd("SORT", "l"), Error(SCORES), bad)

    def test_empty_elements(self):
        # "" sorts first with ALPHA (UBSan once saw its NULL pointer copied
        # and compared)
        self.r.cmd("RPUSH", "se", "", "b", "", "a")
        self.assertEqual(self.r.cmd("SORT", "se", "ALPHA"), [b"", b"", b"a", b"b"])
        self.assertEqual(self.r.cmd("SORT", "se", "ALPHA", "GET", "*"), [None] * 4)
        self.assertEqual(self.r.cmd("SORT", "se", "BY", "nosort", "GET", "#", "GET", "*"),
                         [b"", None, b"b", None, b"", None, b"a", None])
        self.r.cmd("RPUSH", "se1", "")
        self.assertEqual(self.r.cmd("SORT", "se1"), [b""])
        self.r.cmd("SADD", "ss1", "")
        self.assertEqual(self.r.cmd("SORT", "ss1", "ALPHA"), [b""])

    def test_sets_and_sorted_sets(self):
        self.r.cmd("SADD", "s", "5", "3", "40", "1")
        self.assertEqual(self.r.cmd("SORT", "s"), b(1, 3, 5, 40))
        self.assertEqual(self.r.cmd("SORT", "s", "ALPHA"), b(1, 3, 40, 5))
        self.r.cmd("SADD", "sa", "x", "yy", "a")
        self.assertEqual(self.r.cmd("SORT", "sa", "ALPHA", "DESC"), b("yy", "x", "a"))
        self.assertEqual(sorted(self.r.cmd("SORT", "sa", "BY", "nosort")), b("a", "x", "yy"))
        self.r.cmd("ZADD", "z", "3", "a", "1", "b", "2", "c", "0", "d")
        self.assertEqual(self.r.cmd("SORT", "z", "ALPHA"), b("a", "b", "c", "d"))
        # BY nosort keeps the sorted set's own order, LIMIT and DESC included
        self.assertEqual(self.r.cmd("SORT", "z", "BY", "nosort"), b("d", "b", "c", "a"))
        self.assertEqual(self.r.cmd("SORT", "z", "BY", "nosort", "DESC"), b("a", "c", "b", "d"))
        self.assertEqual(self.r.cmd("SORT", "z", "BY", "nosort", "LIMIT", "1", "2"), b("b", "c"))
        self.assertEqual(self.r.cmd("SORT", "z", "BY", "nosort", "DESC", "LIMIT", "1", "2"),
                         b("c", "b"))
        self.assertEqual(self.r.cmd("SORT", "z", "BY", "nosort", "LIMIT", "3", "9"), b("a"))

    def test_list_with_nosort_keeps_its_order(self):
        self.r.cmd("RPUSH", "l", "c", "a", "b", "d")
        self.assertEqual(self.r.cmd("SORT", "l", "BY", "nosort"), b("c", "a", "b", "d"))
        self.assertEqual(self.r.cmd("SORT", "l", "BY", "const", "DESC"), b("d", "b", "a", "c"))
        self.assertEqual(self.r.cmd("SORT", "l", "BY", "x", "DESC", "LIMIT", "1", "2"),
                         b("b", "a"))
        self.assertEqual(self.r.cmd("SORT", "l", "BY", "x", "LIMIT", "-3", "2"), b("c", "a"))
        # dontsort stays set by an earlier BY
        self.r.cmd("MSET", "w_c", "1", "w_a", "2", "w_b", "3", "w_d", "0")
        self.assertEqual(self.r.cmd("SORT", "l", "BY", "nosort", "BY", "w_*"),
                         b("c", "a", "b", "d"))
        self.assertEqual(self.r.cmd("SORT", "l", "BY", "w_*"), b("d", "c", "a", "b"))

    def test_missing_key_and_errors(self):
        self.assertEqual(self.r.cmd("SORT", "nokey"), [])
        self.assertEqual(self.r.cmd("SORT", "nokey", "BY", "w_*", "GET", "#"), [])
        self.r.cmd("SET", "str", "x")
        self.r.cmd("HSET", "h", "f", "v")
        self.assertEqual(self.r.cmd("SORT", "str"), Error(WRONGTYPE))
        self.assertEqual(self.r.cmd("SORT", "h", "ALPHA"), Error(WRONGTYPE))
        # options parse before the key's type is checked
        self.assertEqual(self.r.cmd("SORT", "str", "BOGUS"), Error(SYNTAX))
        self.r.cmd("RPUSH", "l", "1")
        self.assertEqual(self.r.cmd("SORT", "l", "LIMIT", "1"), Error(SYNTAX))
        self.assertEqual(self.r.cmd("SORT", "l", "LIMIT", "a", "1"), Error(NOT_INTEGER))
        self.assertEqual(self.r.cmd("SORT", "l", "LIMIT", "0", "1.5"), Error(NOT_INTEGER))
        self.assertEqual(self.r.cmd("SORT", "l", "BY"), Error(SYNTAX))
        self.assertEqual(self.r.cmd("SORT", "l", "GET"), Error(SYNTAX))
        self.assertEqual(self.r.cmd("SORT", "l", "STORE"), Error(SYNTAX))
        self.assertEqual(self.r.cmd("SORT_RO", "l", "STORE", "d"), Error(SYNTAX))
        self.assertEqual(self.r.cmd("SORT"),
                         Error("ERR wrong number of arguments for 'sort' command"))
        self.assertEqual(self.r.cmd("EXISTS", "d"), 0)

    def test_huge_limits_do_not_break_the_reply(self):
        self.r.cmd("RPUSH", "l", "3", "1", "2")
        big = "9223372036854775807"
        self.assertEqual(self.r.cmd("SORT", "l", "LIMIT", big, big), [])
        self.assertEqual(self.r.cmd("SORT", "l", "LIMIT", "0", big), b(1, 2, 3))
        self.assertEqual(self.r.cmd("SORT", "l", "LIMIT", "-" + big, "1"), b(1))
        self.assertEqual(self.r.cmd("SORT", "l", "BY", "nosort", "LIMIT", big, "1"), [])

    def test_resp3_replies(self):
        self.r.cmd("RPUSH", "l", "2", "1")
        self.r.cmd("HELLO", "3")
        self.assertEqual(self.r.raw("SORT", "l", "GET", "#", "GET", "nope_*"),
                         b"*4\r\n$1\r\n1\r\n_\r\n$1\r\n2\r\n_\r\n")
        self.r.cmd("HELLO", "2")
        self.assertEqual(self.r.raw("SORT", "l", "GET", "nope_*"), b"*2\r\n$-1\r\n$-1\r\n")


class TestSortPatterns(ServerTestCase):
    """Weight and object keys without hash tags: with 4 shards "ids" is on
    shard 3, w_1 on 2, w_2 and w_3 on 1, "dst" on 0 (xxh3 of the name)."""

    def setUp(self):
        super().setUp()
        self.r.cmd("RPUSH", "ids", "1", "2", "3", "4")
        self.r.cmd("MSET", "w_1", "40", "w_2", "10", "w_3", "30", "w_4", "20",
                   "name_1", "one", "name_2", "two", "name_4", "four")
        for i, f in ((1, "a"), (2, "b"), (3, "c")):
            self.r.cmd("HSET", "obj_%d" % i, "f", f, "n", str(10 - i))

    def test_by_pattern_and_get_patterns(self):
        self.assertEqual(self.r.cmd("SORT", "ids", "BY", "w_*"), b(2, 4, 3, 1))
        self.assertEqual(self.r.cmd("SORT", "ids", "BY", "w_*", "DESC", "LIMIT", "0", "2"),
                         b(1, 3))
        self.assertEqual(self.r.cmd("SORT", "ids", "BY", "w_*", "GET", "#", "GET", "name_*",
                                    "GET", "obj_*->f", "GET", "constant"),
                         b(2, "two", "b", None, 4, "four", None, None,
                           3, None, "c", None, 1, "one", "a", None))
        self.assertEqual(self.r.cmd("SORT_RO", "ids", "BY", "obj_*->n"), b(4, 3, 2, 1))
        self.assertEqual(self.r.cmd("SORT", "ids", "BY", "obj_*->n", "ALPHA"), b(4, 3, 2, 1))
        self.assertEqual(self.r.cmd("SORT", "ids", "BY", "name_*", "ALPHA"), b(3, 4, 1, 2))
        self.assertEqual(self.r.cmd("SORT", "ids", "BY", "name_*", "ALPHA", "DESC"),
                         b(2, 1, 4, 3))
        # a GET of a key of the wrong type, or of a hash field of a string: nil
        self.assertEqual(self.r.cmd("SORT", "ids", "GET", "obj_*", "GET", "w_*->x",
                                    "LIMIT", "0", "1"), [None, None])
        # "->" with nothing after it is part of the key name
        self.r.cmd("SET", "w_1->", "k")
        self.assertEqual(self.r.cmd("SORT", "ids", "GET", "w_*->", "LIMIT", "0", "1"), b("k"))

    def test_patterns_with_a_hash_tag(self):
        self.r.cmd("RPUSH", "{t}ids", "1", "2", "3")
        self.r.cmd("MSET", "{t}w_1", "3", "{t}w_2", "1", "{t}w_3", "2", "{t}n_2", "two")
        self.assertEqual(self.r.cmd("SORT", "{t}ids", "BY", "{t}w_*", "GET", "#",
                                    "GET", "{t}n_*"), b(2, "two", 3, None, 1, None))
        self.assertEqual(self.r.cmd("SORT", "{t}ids", "BY", "{t}w_*", "STORE", "{t}d"), 3)
        self.assertEqual(self.r.cmd("SORT", "{t}ids", "BY", "{t}w_*", "GET", "{t}n_*",
                                    "STORE", "elsewhere"), 3)
        self.assertEqual(self.r.cmd("LRANGE", "{t}d", "0", "-1"), b(2, 3, 1))
        self.assertEqual(self.r.cmd("LRANGE", "elsewhere", "0", "-1"), b("two", "", ""))
        # a tag that the element completes: keys of several shards
        self.assertEqual(self.r.cmd("SORT", "{t}ids", "BY", "{x*}", "GET", "w_*}"),
                         [None, None, None])

    def test_by_values_that_do_not_convert(self):
        self.assertEqual(self.r.cmd("SORT", "ids", "BY", "name_*"), Error(SCORES))
        self.assertEqual(self.r.cmd("SORT", "ids", "BY", "missing_*"), b(1, 2, 3, 4))

    def test_store_across_shards(self):
        self.assertEqual(self.r.cmd("SORT", "ids", "BY", "w_*", "GET", "name_*",
                                    "STORE", "dst"), 4)
        self.assertEqual(self.r.cmd("LRANGE", "dst", "0", "-1"), b("two", "four", "", "one"))
        self.assertEqual(self.r.cmd("TYPE", "dst"), "list")
        self.assertEqual(self.r.cmd("SORT", "ids", "DESC", "STORE", "other"), 4)
        self.assertEqual(self.r.cmd("LRANGE", "other", "0", "-1"), b(4, 3, 2, 1))
        # a string with a TTL becomes a list without one
        self.r.cmd("SET", "dst", "x", "EX", "100")
        self.assertEqual(self.r.cmd("SORT", "ids", "LIMIT", "0", "2", "STORE", "dst"), 2)
        self.assertEqual(self.r.cmd("LRANGE", "dst", "0", "-1"), b(1, 2))
        self.assertEqual(self.r.cmd("TTL", "dst"), -1)
        # an empty result deletes the destination
        self.assertEqual(self.r.cmd("SORT", "nokey", "STORE", "dst"), 0)
        self.assertEqual(self.r.cmd("EXISTS", "dst"), 0)
        self.assertEqual(self.r.cmd("SORT", "ids", "LIMIT", "9", "1", "STORE", "other"), 0)
        self.assertEqual(self.r.cmd("EXISTS", "other"), 0)
        # the last STORE wins; the source may be the destination
        self.assertEqual(self.r.cmd("SORT", "ids", "STORE", "x", "STORE", "ids", "DESC"), 4)
        self.assertEqual(self.r.cmd("EXISTS", "x"), 0)
        self.assertEqual(self.r.cmd("LRANGE", "ids", "0", "-1"), b(4, 3, 2, 1))

    def test_set_with_nosort_and_store_is_sorted_alpha(self):
        self.r.cmd("SADD", "s", "b", "10", "a", "9")
        self.assertEqual(self.r.cmd("SORT", "s", "BY", "nosort", "STORE", "d"), 4)
        self.assertEqual(self.r.cmd("LRANGE", "d", "0", "-1"), b(10, 9, "a", "b"))
        self.assertEqual(self.r.cmd("SORT", "s", "BY", "nosort", "DESC", "LIMIT", "1", "2",
                                    "STORE", "d"), 2)
        self.assertEqual(self.r.cmd("LRANGE", "d", "0", "-1"), b("a", 9))

    def test_sort_from_a_script(self):
        # with 4 shards the script runs on the owner of "ids", with no client
        # there: a SORT that reads pattern keys makes it run again with every
        # shard locked (it used to fail: "not allowed from script")
        self.assertEqual(self.r.cmd("EVAL", "return redis.call('SORT', KEYS[1], 'BY', 'w_*', "
                                    "'GET', 'name_*')", "1", "ids"),
                         b("two", "four", None, "one"))
        self.assertEqual(self.r.cmd("EVAL", "return redis.call('SORT', KEYS[1], 'BY', 'w_*', "
                                    "'STORE', KEYS[2])", "2", "ids", "dst"), 4)
        self.assertEqual(self.r.cmd("LRANGE", "dst", "0", "-1"), b(2, 4, 3, 1))
        self.assertEqual(self.r.cmd("EVAL", "return redis.call('SORT_RO', 'ids', 'BY', "
                                    "'nosort')", "0"), b(1, 2, 3, 4))

    def test_sort_inside_multi_exec(self):
        self.assertEqual(self.r.cmd("MULTI"), "OK")
        self.assertEqual(self.r.cmd("SORT", "ids", "BY", "w_*", "GET", "name_*"), "QUEUED")
        self.assertEqual(self.r.cmd("SET", "w_1", "0"), "QUEUED")
        self.assertEqual(self.r.cmd("SORT", "ids", "BY", "w_*", "STORE", "d"), "QUEUED")
        self.assertEqual(self.r.cmd("SORT", "ids", "LIMIT", "x", "1"), "QUEUED")
        self.assertEqual(self.r.cmd("EXEC"), [b("two", "four", None, "one"), "OK", 4,
                                              Error(NOT_INTEGER)])
        self.assertEqual(self.r.cmd("LRANGE", "d", "0", "-1"), b(1, 2, 4, 3))


class TestSortNotifications(ServerTestCase):
    server_args = ("--notify-keyspace-events", "KEA")

    def test_sortstore_and_del_events(self):
        self.r.cmd("RPUSH", "l", "2", "1")
        sub = self.client()
        sub.send_command("PSUBSCRIBE", "__keyevent@0__:*")
        self.assertEqual(sub.read_reply()[0], b"psubscribe")
        self.assertEqual(self.r.cmd("SORT", "l", "STORE", "dst"), 2)
        self.assertEqual(self.r.cmd("SORT", "nokey", "STORE", "dst"), 0)
        self.assertEqual(self.r.cmd("SORT", "nokey", "STORE", "dst"), 0)
        self.assertEqual(collect_messages(sub, 2, quiet=0.2),
                         [("__keyevent@0__:sortstore", "dst"), ("__keyevent@0__:del", "dst")])


class TestSortConcurrency(ServerTestCase):

    def test_sort_by_never_sees_half_an_mset(self):
        n = 40
        self.r.cmd("RPUSH", "ids", *[str(i) for i in range(n)])

        def mset_args(g):
            args = []
            for i in range(n):
                args += ["w_%d" % i, str(g * 1000 + (i if g % 2 else n - i))]
            return args

        self.r.cmd("MSET", *mset_args(1))
        stop = time.monotonic() + 1.5
        errors = []

        def writer():
            c = self.client()
            g = 2
            while time.monotonic() < stop:
                if c.cmd("MSET", *mset_args(g)) != "OK":
                    errors.append("MSET failed")
                g += 1

        t = threading.Thread(target=writer)
        t.start()
        sorts = 0
        try:
            while time.monotonic() < stop:
                reply = self.r.cmd("SORT", "ids", "BY", "w_*", "GET", "w_*")
                gens = {int(v) // 1000 for v in reply}
                self.assertEqual(len(gens), 1, "a SORT saw two MSETs: %r" % sorted(gens))
                g = gens.pop()
                self.assertEqual([int(v) for v in reply],
                                 sorted(g * 1000 + (i if g % 2 else n - i) for i in range(n)))
                sorts += 1
        finally:
            t.join()
        self.assertEqual(errors, [])
        self.assertGreater(sorts, 5)


if __name__ == "__main__":
    unittest.main()
