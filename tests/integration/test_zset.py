"""Sorted set commands on one key: Redis 7.0 behaviour, replies (RESP2 and
RESP3 types) and exact error strings. ZADD ZINCRBY ZREM ZCARD ZSCORE ZMSCORE
ZRANK ZREVRANK, the ZRANGE family, ZCOUNT ZLEXCOUNT, ZREMRANGEBY*, ZPOPMIN
ZPOPMAX, ZRANDMEMBER, ZSCAN, and OBJECT ENCODING at the listpack limits
(ZsetEncodingTests). The multi-key commands (ZUNION ..., ZRANGESTORE, ZMPOP)
and keyspace notifications are in test_zset_multi.py.

Every test passes against redis-server 7.0.15 (SHARDIS_REFERENCE=redis).
"""

import os
import sys
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import Double, Map, ServerTestCase  # noqa: E402

WRONGTYPE = "WRONGTYPE Operation against a key holding the wrong kind of value"
SYNTAX = "ERR syntax error"
NOT_INTEGER = "ERR value is not an integer or out of range"
NOT_FLOAT = "ERR value is not a valid float"
NOT_FLOAT_RANGE = "ERR min or max is not a float"
NOT_LEX_RANGE = "ERR min or max not valid string range item"
NAN_SCORE = "ERR resulting score is not a number (NaN)"


def arity(cmd):
    return "ERR wrong number of arguments for '%s' command" % cmd


def flat(pairs):
    """[(member, score), ...] as a RESP2 WITHSCORES reply."""
    out = []
    for m, s in pairs:
        out += [m, s]
    return out


class ZsetCase(ServerTestCase):

    def zadd(self, key, *pairs):
        """ZADD key score member ... from (member, score) tuples."""
        args = []
        for m, s in pairs:
            args += [s, m]
        return self.r.cmd("ZADD", key, *args)

    def resp3(self):
        c = self.client()
        self.assertIsInstance(c.cmd("HELLO", "3"), Map)
        return c

    def assertWrongType(self, *cmd):
        self.r.cmd("SET", "str", "x")
        self.assertError(self.r.cmd(*cmd), WRONGTYPE)

    def content(self, key):
        return self.r.cmd("ZRANGE", key, 0, -1, "WITHSCORES")


# --------------------------------------------------------------------------
# ZADD ZINCRBY
# --------------------------------------------------------------------------

class ZaddTests(ZsetCase):

    def test_zadd_adds_members_and_replies_the_count_of_new_ones(self):
        self.assertEqual(self.r.raw("ZADD", "z", "1", "a", "2", "b"), b":2\r\n")
        self.assertEqual(self.r.cmd("ZADD", "z", "3", "b", "4", "c"), 1)
        self.assertEqual(self.content("z"), [b"a", b"1", b"b", b"3", b"c", b"4"])
        self.assertEqual(self.r.cmd("ZCARD", "z"), 3)
        self.assertEqual(self.r.cmd("TYPE", "z"), "zset")

    def test_zadd_repeated_member_in_one_call_keeps_the_last_score(self):
        self.assertEqual(self.r.cmd("ZADD", "z", "1", "a", "2", "a", "3", "a"), 1)
        self.assertEqual(self.r.cmd("ZSCORE", "z", "a"), b"3")

    def test_members_are_ordered_by_score_then_bytes(self):
        self.r.cmd("ZADD", "z", "1", "b", "1", "a", "1", "ab", "0", "z", "1", "B", "1", b"\x00")
        self.assertEqual(self.r.cmd("ZRANGE", "z", 0, -1),
                         [b"z", b"\x00", b"B", b"a", b"ab", b"b"])

    def test_members_are_binary_safe(self):
        m = bytes(range(256))
        self.assertEqual(self.r.cmd("ZADD", "z", "1", m, "2", b""), 2)
        self.assertEqual(self.r.cmd("ZRANGE", "z", 0, -1), [m, b""])
        self.assertEqual(self.r.cmd("ZSCORE", "z", b""), b"2")

    def test_zadd_nx_only_adds(self):
        self.r.cmd("ZADD", "z", "1", "a")
        self.assertEqual(self.r.cmd("ZADD", "z", "NX", "5", "a", "2", "b"), 1)
        self.assertEqual(self.content("z"), [b"a", b"1", b"b", b"2"])

    def test_zadd_xx_only_updates_and_creates_no_key(self):
        self.assertEqual(self.r.cmd("ZADD", "z", "XX", "1", "a"), 0)
        self.assertEqual(self.r.cmd("EXISTS", "z"), 0)
        self.r.cmd("ZADD", "z", "1", "a")
        self.assertEqual(self.r.cmd("ZADD", "z", "xx", "5", "a", "2", "b"), 0)
        self.assertEqual(self.content("z"), [b"a", b"5"])

    def test_zadd_gt_and_lt_update_only_in_their_direction_and_still_add(self):
        self.r.cmd("ZADD", "z", "5", "a")
        self.assertEqual(self.r.cmd("ZADD", "z", "GT", "CH", "3", "a", "1", "b"), 1)
        self.assertEqual(self.r.cmd("ZSCORE", "z", "a"), b"5")
        self.assertEqual(self.r.cmd("ZADD", "z", "GT", "CH", "7", "a"), 1)
        self.assertEqual(self.r.cmd("ZADD", "z", "LT", "CH", "9", "a"), 0)
        self.assertEqual(self.r.cmd("ZADD", "z", "LT", "CH", "2", "a"), 1)
        self.assertEqual(self.r.cmd("ZADD", "z", "XX", "GT", "CH", "2", "a"), 0)
        self.assertEqual(self.content("z"), [b"b", b"1", b"a", b"2"])

    def test_zadd_ch_counts_changed_members(self):
        self.r.cmd("ZADD", "z", "1", "a", "2", "b")
        self.assertEqual(self.r.cmd("ZADD", "z", "CH", "1", "a", "3", "b", "4", "c"), 2)
        self.assertEqual(self.r.cmd("ZADD", "z", "ch", "1", "a"), 0)

    def test_zadd_incr_replies_the_new_score(self):
        self.assertEqual(self.r.raw("ZADD", "z", "INCR", "2.5", "a"), b"$3\r\n2.5\r\n")
        self.assertEqual(self.r.cmd("ZADD", "z", "INCR", "-1", "a"), b"1.5")
        self.assertIsNone(self.r.cmd("ZADD", "z", "INCR", "NX", "1", "a"))
        self.assertIsNone(self.r.cmd("ZADD", "z", "INCR", "XX", "1", "b"))
        self.assertIsNone(self.r.cmd("ZADD", "z", "INCR", "GT", "-1", "a"))
        self.assertEqual(self.r.cmd("ZADD", "z", "INCR", "GT", "1", "a"), b"2.5")
        self.assertIsNone(self.r.cmd("ZADD", "nokey", "XX", "INCR", "1", "a"))
        self.assertEqual(self.r.cmd("EXISTS", "nokey"), 0)

    def test_zadd_incompatible_options(self):
        self.assertError(self.r.cmd("ZADD", "z", "NX", "XX", "1", "a"),
                         "ERR XX and NX options at the same time are not compatible")
        for opts in (("GT", "LT"), ("NX", "GT"), ("LT", "NX")):
            self.assertError(self.r.cmd("ZADD", "z", *opts, "1", "a"),
                             "ERR GT, LT, and/or NX options at the same time are not compatible")
        self.assertError(self.r.cmd("ZADD", "z", "INCR", "1", "a", "2", "b"),
                         "ERR INCR option supports a single increment-element pair")
        self.assertEqual(self.r.cmd("EXISTS", "z"), 0)

    def test_zadd_argument_errors(self):
        self.assertError(self.r.cmd("ZADD", "z", "1"), arity("zadd"))
        self.assertError(self.r.cmd("ZADD", "z", "1", "a", "2"), SYNTAX)
        self.assertError(self.r.cmd("ZADD", "z", "NX", "CH"), SYNTAX)
        self.assertError(self.r.cmd("ZADD", "z", "FOO", "1", "a"), SYNTAX)
        self.assertError(self.r.cmd("ZADD", "z", "FOO", "a"), NOT_FLOAT)
        for bad in ("abc", "nan", "1.5x", " 1", "", "1e400"):
            self.assertError(self.r.cmd("ZADD", "z", bad, "a"), NOT_FLOAT)
        self.assertError(self.r.cmd("ZADD", "z", "1", "a", "x", "b"), NOT_FLOAT)
        self.assertEqual(self.r.cmd("EXISTS", "z"), 0)

    def test_zadd_accepts_infinities_and_exponents(self):
        self.assertEqual(self.r.cmd("ZADD", "z", "inf", "a", "-INF", "b", "+inf", "c",
                                    "1e3", "d", "0x10", "e"), 5)
        self.assertEqual(self.content("z"), [b"b", b"-inf", b"e", b"16", b"d", b"1000",
                                             b"a", b"inf", b"c", b"inf"])

    def test_incr_to_nan_is_an_error_and_changes_nothing(self):
        self.r.cmd("ZADD", "z", "inf", "a")
        self.assertError(self.r.cmd("ZADD", "z", "INCR", "-inf", "a"), NAN_SCORE)
        self.assertError(self.r.cmd("ZINCRBY", "z", "-inf", "a"), NAN_SCORE)
        self.assertEqual(self.r.cmd("ZSCORE", "z", "a"), b"inf")

    def test_zincrby(self):
        self.assertEqual(self.r.raw("ZINCRBY", "z", "2", "a"), b"$1\r\n2\r\n")
        self.assertEqual(self.r.cmd("ZINCRBY", "z", "0.5", "a"), b"2.5")
        self.assertEqual(self.r.cmd("ZINCRBY", "z", "-10", "b"), b"-10")
        self.assertError(self.r.cmd("ZINCRBY", "z", "x", "a"), NOT_FLOAT)
        self.assertError(self.r.cmd("ZINCRBY", "z", "1", "a", "b"), arity("zincrby"))
        # the increment is read like a ZADD option first, as Redis does
        self.assertError(self.r.cmd("ZINCRBY", "z", "nx", "a"), SYNTAX)

    def test_scores_print_with_17_significant_digits(self):
        self.r.cmd("ZADD", "z", "0.1", "a", "1e300", "b", "-0", "c", "123456789012345678", "d")
        self.assertEqual(self.r.cmd("ZSCORE", "z", "a"), b"0.10000000000000001")
        self.assertEqual(self.r.cmd("ZSCORE", "z", "b"), b"1.0000000000000001e+300")
        self.assertEqual(self.r.cmd("ZSCORE", "z", "c"), b"0")
        self.assertEqual(self.r.cmd("ZSCORE", "z", "d"), b"1.2345678901234568e+17")

    def test_zadd_on_wrong_type(self):
        self.assertWrongType("ZADD", "str", "1", "a")
        self.assertWrongType("ZINCRBY", "str", "1", "a")
        self.assertWrongType("ZADD", "str", "XX", "1", "a")
        self.assertEqual(self.r.cmd("GET", "str"), b"x")

    def test_resp3_scores_are_doubles_and_nil_is_null(self):
        c = self.resp3()
        self.assertEqual(c.raw("ZADD", "z", "INCR", "1.5", "a"), b",1.5\r\n")
        self.assertEqual(c.raw("ZINCRBY", "z", "inf", "a"), b",inf\r\n")
        self.assertEqual(c.raw("ZADD", "z", "NX", "INCR", "1", "a"), b"_\r\n")
        self.assertEqual(c.raw("ZSCORE", "z", "a"), b",inf\r\n")
        c.cmd("ZADD", "z", "-inf", "b", "2", "c")
        self.assertEqual(c.raw("ZSCORE", "z", "b"), b",-inf\r\n")
        self.assertEqual(c.raw("ZSCORE", "z", "nope"), b"_\r\n")
        self.assertEqual(c.raw("ZMSCORE", "z", "c", "nope"), b"*2\r\n,2\r\n_\r\n")


# --------------------------------------------------------------------------
# ZREM ZCARD ZSCORE ZMSCORE ZRANK ZREVRANK
# --------------------------------------------------------------------------

class ReadAndRemoveTests(ZsetCase):

    def setUp(self):
        super().setUp()
        self.r.cmd("ZADD", "z", "1", "a", "2", "b", "3", "c")

    def test_zcard_and_missing_keys(self):
        self.assertEqual(self.r.cmd("ZCARD", "z"), 3)
        self.assertEqual(self.r.cmd("ZCARD", "nokey"), 0)
        self.assertIsNone(self.r.cmd("ZSCORE", "nokey", "a"))
        self.assertEqual(self.r.last_raw, b"$-1\r\n")
        self.assertIsNone(self.r.cmd("ZSCORE", "z", "x"))
        self.assertEqual(self.r.cmd("ZMSCORE", "nokey", "a", "b"), [None, None])
        self.assertIsNone(self.r.cmd("ZRANK", "nokey", "a"))
        self.assertIsNone(self.r.cmd("ZREVRANK", "z", "x"))

    def test_score_replies_are_redis_70s_17_digit_form(self):
        # integral scores below 2^53 are written without printf: the same
        # text as "%.17g", which Redis 7.0 replies
        cases = [("5", b"5"), ("-3", b"-3"), ("0", b"0"), ("-0", b"0"),
                 ("1e15", b"1000000000000000"), ("9007199254740991", b"9007199254740991"),
                 ("-9007199254740991", b"-9007199254740991"),
                 ("9007199254740992", b"9007199254740992"),
                 ("1e17", b"1e+17"), ("123456789012345678", b"1.2345678901234568e+17"),
                 ("1.5", b"1.5"), ("0.1", b"0.10000000000000001"), ("-2.5e-7", b"-2.4999999999999999e-07"),
                 ("inf", b"inf"), ("-inf", b"-inf")]
        for i, (score, want) in enumerate(cases):
            self.r.cmd("ZADD", "zs", score, "m%d" % i)
        self.assertEqual([self.r.cmd("ZSCORE", "zs", "m%d" % i) for i in range(len(cases))],
                         [w for _, w in cases])
        # a big set (skiplist) replies the same
        self.r.cmd("ZADD", "zs", *[x for j in range(200) for x in (str(j), "pad%d" % j)])
        self.assertEqual(self.r.cmd("ZSCORE", "zs", "m4"), b"1000000000000000")
        self.assertEqual(self.r.cmd("ZPOPMIN", "zs"), [b"m%d" % (len(cases) - 1), b"-inf"])
        self.assertEqual(self.r.cmd("ZRANGE", "zs", "0", "0", "WITHSCORES"),
                         [b"m6", b"-9007199254740991"])
        # a negative zero is kept as 0, but ZINCRBY replies the sum's sign
        self.assertEqual(self.r.cmd("ZINCRBY", "zn", "-0", "a"), b"-0")
        self.assertEqual(self.r.cmd("ZSCORE", "zn", "a"), b"0")

    def test_zmscore(self):
        self.assertEqual(self.r.raw("ZMSCORE", "z", "c", "x", "a"),
                         b"*3\r\n$1\r\n3\r\n$-1\r\n$1\r\n1\r\n")
        self.assertError(self.r.cmd("ZMSCORE", "z"), arity("zmscore"))

    def test_zrank_and_zrevrank(self):
        self.assertEqual(self.r.cmd("ZRANK", "z", "a"), 0)
        self.assertEqual(self.r.cmd("ZRANK", "z", "c"), 2)
        self.assertEqual(self.r.cmd("ZREVRANK", "z", "a"), 2)
        self.assertEqual(self.r.cmd("ZREVRANK", "z", "c"), 0)
        self.assertError(self.r.cmd("ZRANK", "z", "a", "WITHSCORE"), arity("zrank"))

    def test_zrem_replies_removed_count_and_deletes_the_empty_key(self):
        self.assertEqual(self.r.cmd("ZREM", "z", "a", "x", "a"), 1)
        self.assertEqual(self.r.cmd("ZREM", "nokey", "a"), 0)
        self.assertEqual(self.r.cmd("ZREM", "z", "b", "c", "d"), 2)
        self.assertEqual(self.r.cmd("EXISTS", "z"), 0)
        self.assertError(self.r.cmd("ZREM", "z"), arity("zrem"))

    def test_wrong_type(self):
        for cmd in (("ZCARD", "str"), ("ZSCORE", "str", "a"), ("ZMSCORE", "str", "a"),
                    ("ZRANK", "str", "a"), ("ZREVRANK", "str", "a"), ("ZREM", "str", "a")):
            self.assertWrongType(*cmd)


# --------------------------------------------------------------------------
# The ZRANGE family
# --------------------------------------------------------------------------

class RangeTests(ZsetCase):

    def setUp(self):
        super().setUp()
        self.r.cmd("ZADD", "z", "1", "a", "2", "b", "3", "c", "4", "d", "5", "e")
        self.r.cmd("ZADD", "lex", "0", "a", "0", "b", "0", "c", "0", "d", "0", "e")

    def test_zrange_by_rank(self):
        self.assertEqual(self.r.cmd("ZRANGE", "z", 0, 1), [b"a", b"b"])
        self.assertEqual(self.r.cmd("ZRANGE", "z", -2, -1), [b"d", b"e"])
        self.assertEqual(self.r.cmd("ZRANGE", "z", -100, 100), [b"a", b"b", b"c", b"d", b"e"])
        self.assertEqual(self.r.cmd("ZRANGE", "z", 3, 1), [])
        self.assertEqual(self.r.cmd("ZRANGE", "z", 5, 10), [])
        self.assertEqual(self.r.cmd("ZRANGE", "z", 1, 2, "WITHSCORES"), [b"b", b"2", b"c", b"3"])
        self.assertEqual(self.r.cmd("ZRANGE", "z", 0, 1, "REV", "WITHSCORES"),
                         [b"e", b"5", b"d", b"4"])
        self.assertEqual(self.r.cmd("ZREVRANGE", "z", 1, -2), [b"d", b"c", b"b"])
        self.assertEqual(self.r.cmd("ZRANGE", "nokey", 0, -1), [])

    def test_zrange_by_score(self):
        self.assertEqual(self.r.cmd("ZRANGE", "z", "(1", "3", "BYSCORE"), [b"b", b"c"])
        self.assertEqual(self.r.cmd("ZRANGE", "z", "3", "(1", "BYSCORE", "REV"), [b"c", b"b"])
        self.assertEqual(self.r.cmd("ZRANGE", "z", "(1", "3", "BYSCORE", "REV"), [])
        self.assertEqual(self.r.cmd("ZRANGE", "z", "-inf", "+inf", "BYSCORE", "LIMIT", 1, 2),
                         [b"b", b"c"])
        self.assertEqual(self.r.cmd("ZRANGEBYSCORE", "z", "2", "(4", "WITHSCORES"),
                         [b"b", b"2", b"c", b"3"])
        self.assertEqual(self.r.cmd("ZREVRANGEBYSCORE", "z", "+inf", "-inf", "LIMIT", 1, 2),
                         [b"d", b"c"])
        self.assertEqual(self.r.cmd("ZRANGEBYSCORE", "z", "(3", "(3"), [])
        self.assertEqual(self.r.cmd("ZRANGEBYSCORE", "z", "3", "3"), [b"c"])
        self.assertEqual(self.r.cmd("ZRANGEBYSCORE", "z", "6", "+inf"), [])

    def test_limit_edges(self):
        # a negative offset gives nothing, a negative count no limit
        for offset, count, want in ((-1, 2, []), (1, -1, [b"b", b"c", b"d", b"e"]),
                                    (5, 1, []), (4, 0, []), (4, 1, [b"e"])):
            self.assertEqual(self.r.cmd("ZRANGEBYSCORE", "z", "-inf", "+inf", "LIMIT", offset,
                                        count), want, (offset, count))
            self.assertEqual(self.r.cmd("ZRANGEBYLEX", "lex", "-", "+", "LIMIT", offset, count),
                             want, (offset, count))

    def test_zrange_by_lex(self):
        self.assertEqual(self.r.cmd("ZRANGE", "lex", "[b", "(d", "BYLEX"), [b"b", b"c"])
        self.assertEqual(self.r.cmd("ZRANGE", "lex", "(d", "[b", "BYLEX", "REV"), [b"c", b"b"])
        self.assertEqual(self.r.cmd("ZRANGEBYLEX", "lex", "-", "+", "LIMIT", 3, 10),
                         [b"d", b"e"])
        self.assertEqual(self.r.cmd("ZREVRANGEBYLEX", "lex", "+", "[c"), [b"e", b"d", b"c"])
        self.assertEqual(self.r.cmd("ZRANGEBYLEX", "lex", "+", "-"), [])
        self.assertEqual(self.r.cmd("ZRANGEBYLEX", "lex", "[c", "[c"), [b"c"])
        self.assertEqual(self.r.cmd("ZRANGEBYLEX", "lex", "(c", "[c"), [])

    def test_zrange_option_errors(self):
        self.assertError(self.r.cmd("ZRANGE", "z", 0, -1, "LIMIT", 0, 1),
                         "ERR syntax error, LIMIT is only supported in combination with either "
                         "BYSCORE or BYLEX")
        self.assertError(self.r.cmd("ZRANGE", "lex", "-", "+", "BYLEX", "WITHSCORES"),
                         "ERR syntax error, WITHSCORES not supported in combination with BYLEX")
        self.assertError(self.r.cmd("ZRANGEBYLEX", "lex", "-", "+", "WITHSCORES"),
                         "ERR syntax error, WITHSCORES not supported in combination with BYLEX")
        for extra in (("BYSCORE", "BYLEX"), ("REV", "REV"), ("LIMIT", "0"), ("FOO",)):
            with self.subTest(extra=extra):
                self.assertError(self.r.cmd("ZRANGE", "z", 0, 1, *extra), SYNTAX)
        self.assertError(self.r.cmd("ZREVRANGE", "z", 0, 1, "REV"), SYNTAX)
        self.assertError(self.r.cmd("ZRANGEBYSCORE", "z", 0, 1, "BYSCORE"), SYNTAX)
        self.assertError(self.r.cmd("ZRANGE", "z", "a", "1"), NOT_INTEGER)
        self.assertError(self.r.cmd("ZRANGE", "z", "a", "1", "BYSCORE"), NOT_FLOAT_RANGE)
        self.assertError(self.r.cmd("ZRANGE", "z", "a", "1", "BYLEX"), NOT_LEX_RANGE)
        self.assertError(self.r.cmd("ZRANGEBYSCORE", "z", "0", "1", "LIMIT", "x", "1"),
                         NOT_INTEGER)
        self.assertError(self.r.cmd("ZRANGEBYSCORE", "z", "(nan", "1"), NOT_FLOAT_RANGE)
        self.assertError(self.r.cmd("ZRANGE", "z", 0), arity("zrange"))

    def test_errors_come_before_the_type_check(self):
        self.r.cmd("SET", "str", "x")
        self.assertError(self.r.cmd("ZRANGE", "str", "x", "1"), NOT_INTEGER)
        self.assertError(self.r.cmd("ZRANGE", "str", 0, 1, "LIMIT", 0, 1),
                         "ERR syntax error, LIMIT is only supported in combination with either "
                         "BYSCORE or BYLEX")
        self.assertWrongType("ZRANGE", "str", 0, 1)
        self.assertWrongType("ZRANGEBYLEX", "str", "-", "+")
        self.assertWrongType("ZREVRANGEBYSCORE", "str", "+inf", "-inf")

    def test_zcount_and_zlexcount(self):
        self.assertEqual(self.r.cmd("ZCOUNT", "z", "(1", "3"), 2)
        self.assertEqual(self.r.cmd("ZCOUNT", "z", "-inf", "+inf"), 5)
        self.assertEqual(self.r.cmd("ZCOUNT", "z", "4", "2"), 0)
        self.assertEqual(self.r.cmd("ZCOUNT", "nokey", "0", "1"), 0)
        self.assertEqual(self.r.cmd("ZLEXCOUNT", "lex", "[b", "+"), 4)
        self.assertEqual(self.r.cmd("ZLEXCOUNT", "lex", "-", "(b"), 1)
        self.assertError(self.r.cmd("ZCOUNT", "z", "a", "1"), NOT_FLOAT_RANGE)
        self.assertError(self.r.cmd("ZLEXCOUNT", "lex", "a", "+"), NOT_LEX_RANGE)
        self.assertWrongType("ZCOUNT", "str", "0", "1")
        self.assertWrongType("ZLEXCOUNT", "str", "-", "+")

    def test_resp3_withscores_gives_pairs_of_member_and_double(self):
        c = self.resp3()
        self.assertEqual(c.raw("ZRANGE", "z", 0, 1, "WITHSCORES"),
                         b"*2\r\n*2\r\n$1\r\na\r\n,1\r\n*2\r\n$1\r\nb\r\n,2\r\n")
        self.assertEqual(c.cmd("ZRANGEBYSCORE", "z", "4", "+inf", "WITHSCORES"),
                         [[b"d", Double(4)], [b"e", Double(5)]])
        self.assertEqual(c.raw("ZRANGE", "z", 0, 0), b"*1\r\n$1\r\na\r\n")
        self.assertEqual(c.raw("ZRANGE", "nokey", 0, -1, "WITHSCORES"), b"*0\r\n")


class RemoveRangeTests(ZsetCase):

    def setUp(self):
        super().setUp()
        self.r.cmd("ZADD", "z", "1", "a", "2", "b", "3", "c", "4", "d", "5", "e")

    def test_zremrangebyrank(self):
        self.assertEqual(self.r.cmd("ZREMRANGEBYRANK", "z", 0, 1), 2)
        self.assertEqual(self.r.cmd("ZREMRANGEBYRANK", "z", -1, -1), 1)
        self.assertEqual(self.r.cmd("ZREMRANGEBYRANK", "z", 5, 10), 0)
        self.assertEqual(self.r.cmd("ZRANGE", "z", 0, -1), [b"c", b"d"])
        self.assertEqual(self.r.cmd("ZREMRANGEBYRANK", "z", -100, 100), 2)
        self.assertEqual(self.r.cmd("EXISTS", "z"), 0)
        self.assertEqual(self.r.cmd("ZREMRANGEBYRANK", "z", 0, -1), 0)

    def test_zremrangebyscore(self):
        self.assertEqual(self.r.cmd("ZREMRANGEBYSCORE", "z", "(1", "3"), 2)
        self.assertEqual(self.r.cmd("ZREMRANGEBYSCORE", "z", "10", "20"), 0)
        self.assertEqual(self.r.cmd("ZRANGE", "z", 0, -1), [b"a", b"d", b"e"])
        self.assertEqual(self.r.cmd("ZREMRANGEBYSCORE", "z", "-inf", "+inf"), 3)
        self.assertEqual(self.r.cmd("EXISTS", "z"), 0)

    def test_zremrangebylex(self):
        self.r.cmd("ZADD", "lex", "0", "a", "0", "b", "0", "c")
        self.assertEqual(self.r.cmd("ZREMRANGEBYLEX", "lex", "(a", "[b"), 1)
        self.assertEqual(self.r.cmd("ZREMRANGEBYLEX", "lex", "-", "+"), 2)
        self.assertEqual(self.r.cmd("EXISTS", "lex"), 0)

    def test_errors(self):
        self.assertError(self.r.cmd("ZREMRANGEBYRANK", "z", "x", 1), NOT_INTEGER)
        self.assertError(self.r.cmd("ZREMRANGEBYSCORE", "z", "x", 1), NOT_FLOAT_RANGE)
        self.assertError(self.r.cmd("ZREMRANGEBYLEX", "z", "x", "+"), NOT_LEX_RANGE)
        self.assertError(self.r.cmd("ZREMRANGEBYRANK", "z", 0), arity("zremrangebyrank"))
        self.assertWrongType("ZREMRANGEBYRANK", "str", 0, 1)
        self.assertWrongType("ZREMRANGEBYSCORE", "str", 0, 1)
        self.assertWrongType("ZREMRANGEBYLEX", "str", "-", "+")


# --------------------------------------------------------------------------
# ZPOPMIN ZPOPMAX ZRANDMEMBER ZSCAN
# --------------------------------------------------------------------------

class PopTests(ZsetCase):

    def setUp(self):
        super().setUp()
        self.r.cmd("ZADD", "z", "1", "a", "2", "b", "3", "c")

    def test_zpopmin_and_zpopmax(self):
        self.assertEqual(self.r.raw("ZPOPMIN", "z"), b"*2\r\n$1\r\na\r\n$1\r\n1\r\n")
        self.assertEqual(self.r.cmd("ZPOPMAX", "z"), [b"c", b"3"])
        self.assertEqual(self.r.cmd("ZPOPMAX", "z", 10), [b"b", b"2"])
        self.assertEqual(self.r.cmd("EXISTS", "z"), 0)
        self.assertEqual(self.r.cmd("ZPOPMIN", "z"), [])
        self.assertEqual(self.r.cmd("ZPOPMIN", "z", 3), [])

    def test_count_pops_in_order(self):
        self.r.cmd("ZADD", "z", "4", "d", "5", "e")
        self.assertEqual(self.r.cmd("ZPOPMIN", "z", 2), [b"a", b"1", b"b", b"2"])
        self.assertEqual(self.r.cmd("ZPOPMAX", "z", 2), [b"e", b"5", b"d", b"4"])
        self.assertEqual(self.r.cmd("ZPOPMIN", "z", 0), [])
        self.assertEqual(self.r.cmd("ZCARD", "z"), 1)

    def test_errors(self):
        self.assertError(self.r.cmd("ZPOPMIN", "z", -1),
                         "ERR value is out of range, must be positive")
        self.assertError(self.r.cmd("ZPOPMIN", "z", "x"),
                         "ERR value is out of range, must be positive")
        self.assertError(self.r.cmd("ZPOPMAX", "z", 1, 2), SYNTAX)
        self.assertWrongType("ZPOPMIN", "str")
        self.assertWrongType("ZPOPMAX", "str", 0)

    def test_resp3_nests_pairs_only_with_a_count(self):
        c = self.resp3()
        self.assertEqual(c.raw("ZPOPMIN", "z"), b"*2\r\n$1\r\na\r\n,1\r\n")
        self.assertEqual(c.raw("ZPOPMAX", "z", 1), b"*1\r\n*2\r\n$1\r\nc\r\n,3\r\n")
        self.assertEqual(c.raw("ZPOPMAX", "nokey"), b"*0\r\n")


class RandmemberTests(ZsetCase):

    def setUp(self):
        super().setUp()
        self.members = {b"a": b"1", b"b": b"2", b"c": b"3", b"d": b"4", b"e": b"5"}
        self.r.cmd("ZADD", "z", *[x for m, s in self.members.items() for x in (s, m)])

    def test_one_random_member(self):
        for _ in range(20):
            self.assertIn(self.r.cmd("ZRANDMEMBER", "z"), self.members)
        self.assertIsNone(self.r.cmd("ZRANDMEMBER", "nokey"))

    def test_positive_count_gives_distinct_members(self):
        for count in (1, 2, 3, 4):
            got = self.r.cmd("ZRANDMEMBER", "z", count)
            self.assertEqual(len(got), count)
            self.assertEqual(len(set(got)), count)
            self.assertTrue(set(got) <= set(self.members))
        self.assertEqual(sorted(self.r.cmd("ZRANDMEMBER", "z", 10)), sorted(self.members))
        self.assertEqual(self.r.cmd("ZRANDMEMBER", "z", 0), [])
        self.assertEqual(self.r.cmd("ZRANDMEMBER", "nokey", 3), [])

    def test_negative_count_may_repeat(self):
        got = self.r.cmd("ZRANDMEMBER", "z", -50)
        self.assertEqual(len(got), 50)
        self.assertTrue(set(got) <= set(self.members))
        self.assertGreater(len(set(got)), 1)

    def test_withscores(self):
        got = self.r.cmd("ZRANDMEMBER", "z", -7, "WITHSCORES")
        self.assertEqual(len(got), 14)
        for m, s in zip(got[0::2], got[1::2]):
            self.assertEqual(self.members[m], s)
        got = self.r.cmd("ZRANDMEMBER", "z", 3, "withscores")
        self.assertEqual(len(set(got[0::2])), 3)
        c = self.resp3()
        got = c.cmd("ZRANDMEMBER", "z", 2, "WITHSCORES")
        self.assertEqual(len(got), 2)
        for m, s in got:
            self.assertIsInstance(s, Double)
            self.assertEqual(float(self.members[m]), s)

    def test_large_sets_sample_distinct_members(self):
        self.r.cmd("ZADD", "big", *[x for i in range(300) for x in (i, "m%d" % i)])
        for count in (5, 50, 120, 250, 299):
            got = self.r.cmd("ZRANDMEMBER", "big", count, "WITHSCORES")
            self.assertEqual(len(set(got[0::2])), count)
            for m, s in zip(got[0::2], got[1::2]):
                self.assertEqual(m, b"m" + s)

    def test_errors(self):
        self.assertError(self.r.cmd("ZRANDMEMBER", "z", "x"), NOT_INTEGER)
        self.assertError(self.r.cmd("ZRANDMEMBER", "z", 1, "foo"), SYNTAX)
        self.assertError(self.r.cmd("ZRANDMEMBER", "z", 1, "WITHSCORES", "x"), SYNTAX)
        self.assertError(self.r.cmd("ZRANDMEMBER", "z", "-9223372036854775808"),
                         "ERR value is out of range, value must between -9223372036854775807 "
                         "and 9223372036854775807")
        self.assertError(self.r.cmd("ZRANDMEMBER", "z", "-9223372036854775807", "WITHSCORES"),
                         "ERR value is out of range")
        self.assertWrongType("ZRANDMEMBER", "str")
        self.assertWrongType("ZRANDMEMBER", "str", 1)


class ScanTests(ZsetCase):

    def test_a_small_set_comes_back_whole_with_cursor_0(self):
        self.r.cmd("ZADD", "z", "1", "a", "0.5", "b", "-0", "c", "inf", "d")
        self.assertEqual(self.r.cmd("ZSCAN", "z", 0),
                         [b"0", [b"c", b"0", b"b", b"0.5", b"a", b"1", b"d", b"inf"]])
        self.assertEqual(self.r.cmd("ZSCAN", "nokey", 0), [b"0", []])
        self.assertEqual(self.r.cmd("ZSCAN", "z", 0, "MATCH", "[ab]"),
                         [b"0", [b"b", b"0.5", b"a", b"1"]])

    def test_scores_are_written_as_redis_stores_them(self):
        self.r.cmd("ZADD", "z", "0.1", "a", "1e17", "b", "4611686018427387904", "c")
        self.assertEqual(self.r.cmd("ZSCAN", "z", 0)[1],
                         [b"a", b"0.10000000000000001", b"b", b"100000000000000000",
                          b"c", b"4611686018427387904"])
        self.r.cmd("ZADD", "z", "1", "x" * 65)  # now a skiplist
        got = self.r.cmd("ZSCAN", "z", 0, "COUNT", 100)[1]
        self.assertEqual(dict(zip(got[0::2], got[1::2]))[b"b"], b"1e+17")

    def test_a_large_set_is_scanned_in_steps(self):
        n = 500
        self.r.cmd("ZADD", "z", *[x for i in range(n) for x in (i, "m%d" % i)])
        seen = {}
        cursor = b"0"
        calls = 0
        while True:
            cursor, items = self.r.cmd("ZSCAN", "z", cursor, "COUNT", 20)
            calls += 1
            for m, s in zip(items[0::2], items[1::2]):
                seen[m] = s
            if cursor == b"0":
                break
        self.assertGreater(calls, 5)
        self.assertEqual(seen, {b"m%d" % i: b"%d" % i for i in range(n)})
        cursor, items = self.r.cmd("ZSCAN", "z", 0, "MATCH", "m1?", "COUNT", 1000)
        self.assertEqual(cursor, b"0")
        self.assertEqual(sorted(items[0::2]), sorted(b"m%d" % i for i in range(10, 20)))

    def test_errors(self):
        self.r.cmd("ZADD", "z", "1", "a")
        for cursor in ("x", " 1", "18446744073709551616", "1x"):
            self.assertError(self.r.cmd("ZSCAN", "z", cursor), "ERR invalid cursor")
        self.assertError(self.r.cmd("ZSCAN", "z", 0, "COUNT", 0), SYNTAX)
        self.assertError(self.r.cmd("ZSCAN", "z", 0, "COUNT", "x"), NOT_INTEGER)
        self.assertError(self.r.cmd("ZSCAN", "z", 0, "MATCH"), SYNTAX)
        self.assertError(self.r.cmd("ZSCAN", "z", 0, "TYPE", "zset"), SYNTAX)
        self.assertEqual(self.r.cmd("ZSCAN", "nokey", 0, "FOO"), [b"0", []])
        self.assertWrongType("ZSCAN", "str", 0)

    def test_resp3_scan_scores_stay_strings(self):
        self.r.cmd("ZADD", "z", "1.5", "a")
        self.assertEqual(self.resp3().raw("ZSCAN", "z", 0),
                         b"*2\r\n$1\r\n0\r\n*2\r\n$1\r\na\r\n$3\r\n1.5\r\n")


# --------------------------------------------------------------------------
# OBJECT ENCODING at the listpack limits
# --------------------------------------------------------------------------

class ZsetEncodingTests(ZsetCase):

    def encoding(self, key):
        return self.r.cmd("OBJECT", "ENCODING", key)

    def test_listpack_up_to_128_members(self):
        self.r.cmd("ZADD", "z", *[x for i in range(128) for x in (i, "m%d" % i)])
        self.assertEqual(self.encoding("z"), b"listpack")
        self.r.cmd("ZADD", "z", "5", "m5")
        self.assertEqual(self.encoding("z"), b"listpack")
        self.r.cmd("ZADD", "z", "1", "new")
        self.assertEqual(self.encoding("z"), b"skiplist")

    def test_a_new_key_with_many_members_starts_as_listpack_and_converts(self):
        self.r.cmd("ZADD", "z", *[x for i in range(200) for x in (i, "m%d" % i)])
        self.assertEqual(self.encoding("z"), b"skiplist")
        self.r.cmd("ZADD", "r", *[x for i in range(200) for x in (1, "same")])
        self.assertEqual(self.encoding("r"), b"listpack")

    def test_members_longer_than_64_bytes_convert(self):
        self.r.cmd("ZADD", "z", "1", "x" * 64)
        self.assertEqual(self.encoding("z"), b"listpack")
        self.r.cmd("ZADD", "z", "1", "y" * 65)
        self.assertEqual(self.encoding("z"), b"skiplist")
        self.r.cmd("ZADD", "w", "1", "y" * 65)
        self.assertEqual(self.encoding("w"), b"skiplist")

    def test_never_converts_back(self):
        self.r.cmd("ZADD", "z", "1", "a", "2", "y" * 65)
        self.r.cmd("ZREM", "z", "y" * 65)
        self.assertEqual(self.encoding("z"), b"skiplist")
        self.assertEqual(self.r.cmd("ZRANGE", "z", 0, -1, "WITHSCORES"), [b"a", b"1"])

    def test_thresholds_follow_config_set(self):
        self.assertOK(self.r.cmd("CONFIG", "SET", "zset-max-listpack-entries", "3"))
        try:
            self.r.cmd("ZADD", "z", "1", "a", "2", "b", "3", "c")
            self.assertEqual(self.encoding("z"), b"listpack")
            self.r.cmd("ZADD", "z", "4", "d")
            self.assertEqual(self.encoding("z"), b"skiplist")
            self.assertOK(self.r.cmd("CONFIG", "SET", "zset-max-listpack-entries", "0"))
            self.r.cmd("ZADD", "e", "1", "a")
            self.assertEqual(self.encoding("e"), b"skiplist")
        finally:
            self.r.cmd("CONFIG", "SET", "zset-max-listpack-entries", "128")

    def test_store_results_take_the_encoding_of_their_size(self):
        self.r.cmd("ZADD", "{t}big", *[x for i in range(200) for x in (i, "m%d" % i)])
        self.assertEqual(self.r.cmd("ZRANGESTORE", "{t}small", "{t}big", 0, 9), 10)
        self.assertEqual(self.encoding("{t}small"), b"listpack")
        self.assertEqual(self.r.cmd("ZRANGESTORE", "{t}all", "{t}big", 0, -1), 200)
        self.assertEqual(self.encoding("{t}all"), b"skiplist")
        self.assertEqual(self.r.cmd("ZUNIONSTORE", "{t}u", 1, "{t}small"), 10)
        self.assertEqual(self.encoding("{t}u"), b"listpack")
        self.assertEqual(self.r.cmd("ZINTERSTORE", "{t}i", 2, "{t}big", "{t}all"), 200)
        self.assertEqual(self.encoding("{t}i"), b"skiplist")

    def test_both_encodings_answer_alike(self):
        pairs = [("m%d" % i, i % 7) for i in range(20)]
        for key, extra in (("{e}lp", "short"), ("{e}sk", "x" * 70)):
            self.r.cmd("ZADD", key, *[x for m, s in pairs for x in (s, m)])
            self.r.cmd("ZADD", key, "100", extra)
            self.r.cmd("ZREM", key, extra)
        self.assertEqual(self.encoding("{e}lp"), b"listpack")
        self.assertEqual(self.encoding("{e}sk"), b"skiplist")
        for cmd in (("ZRANGE", 0, -1, "WITHSCORES"), ("ZRANGE", 3, 9, "REV"),
                    ("ZRANGEBYSCORE", "(2", "5", "LIMIT", 2, 5), ("ZCOUNT", "1", "(4"),
                    ("ZRANK", "m13"), ("ZREVRANK", "m13"), ("ZSCORE", "m6"),
                    ("ZREVRANGEBYSCORE", "+inf", "3", "WITHSCORES", "LIMIT", 1, 3)):
            self.assertEqual(self.r.cmd(cmd[0], "{e}lp", *cmd[1:]),
                             self.r.cmd(cmd[0], "{e}sk", *cmd[1:]), cmd)


if __name__ == "__main__":
    unittest.main()
