"""Sorted set commands over several keys: ZUNION ZINTER ZDIFF (WITHSCORES,
WEIGHTS, AGGREGATE, sets as inputs), their STORE forms, ZINTERCARD,
ZRANGESTORE and ZMPOP; with keys spread over many shards (many key names,
so that they land on different shards with SHARDIS_SHARDS=4) and with a
{hash tag}; and the keyspace notifications of the family.

Every test passes against redis-server 7.0.15 (SHARDIS_REFERENCE=redis).
"""

import os
import sys
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import Double, Map, ServerTestCase, encode_command  # noqa: E402
from test_notifications import NotificationCase, ev, evs  # noqa: E402

WRONGTYPE = "WRONGTYPE Operation against a key holding the wrong kind of value"
SYNTAX = "ERR syntax error"
NOT_INTEGER = "ERR value is not an integer or out of range"


def fmt(score):
    """A score as Redis prints it in RESP2 (integral ones as integers)."""
    if score == int(score):
        return b"%d" % int(score)
    return repr(score).encode()


def expected(scores):
    """{member: score} as ZRANGE ... WITHSCORES orders and prints it."""
    out = []
    for m, s in sorted(scores.items(), key=lambda kv: (kv[1], kv[0])):
        out += [m, fmt(s)]
    return out


class MultiCase(ServerTestCase):

    def zadd(self, key, scores):
        args = []
        for m, s in scores.items():
            args += [s, m]
        return self.r.cmd("ZADD", key, *args)

    def resp3(self):
        c = self.client()
        self.assertIsInstance(c.cmd("HELLO", "3"), Map)
        return c

    def content(self, key):
        return self.r.cmd("ZRANGE", key, 0, -1, "WITHSCORES")


class AlgebraTests(MultiCase):

    def setUp(self):
        super().setUp()
        self.zadd("{a}1", {b"a": 1, b"b": 2, b"c": 3})
        self.zadd("{a}2", {b"b": 10, b"c": 20, b"d": 30})
        self.zadd("{a}3", {b"c": 100, b"e": 200})

    def test_zunion(self):
        self.assertEqual(self.r.cmd("ZUNION", 2, "{a}1", "{a}2"), [b"a", b"b", b"c", b"d"])
        self.assertEqual(self.r.cmd("ZUNION", 3, "{a}1", "{a}2", "{a}3", "WITHSCORES"),
                         expected({b"a": 1, b"b": 12, b"c": 123, b"d": 30, b"e": 200}))
        self.assertEqual(self.r.cmd("ZUNION", 2, "{a}1", "{a}nokey", "WITHSCORES"),
                         expected({b"a": 1, b"b": 2, b"c": 3}))

    def test_weights_and_aggregate(self):
        self.assertEqual(self.r.cmd("ZUNION", 2, "{a}1", "{a}2", "WEIGHTS", 2, "0.5",
                                    "WITHSCORES"),
                         expected({b"a": 2, b"b": 9, b"c": 16, b"d": 15}))
        self.assertEqual(self.r.cmd("ZUNION", 2, "{a}1", "{a}2", "AGGREGATE", "MIN",
                                    "WITHSCORES"),
                         expected({b"a": 1, b"b": 2, b"c": 3, b"d": 30}))
        self.assertEqual(self.r.cmd("ZINTER", 2, "{a}1", "{a}2", "aggregate", "max", "weights",
                                    "-1", "1", "WITHSCORES"),
                         expected({b"b": 10, b"c": 20}))
        # the last AGGREGATE wins
        self.assertEqual(self.r.cmd("ZINTER", 2, "{a}1", "{a}2", "AGGREGATE", "MIN",
                                    "AGGREGATE", "SUM", "WITHSCORES"),
                         expected({b"b": 12, b"c": 23}))

    def test_zinter_and_zintercard(self):
        self.assertEqual(self.r.cmd("ZINTER", 3, "{a}1", "{a}2", "{a}3", "WITHSCORES"),
                         [b"c", b"123"])
        self.assertEqual(self.r.cmd("ZINTER", 2, "{a}1", "{a}nokey"), [])
        self.assertEqual(self.r.cmd("ZINTERCARD", 2, "{a}1", "{a}2"), 2)
        self.assertEqual(self.r.cmd("ZINTERCARD", 2, "{a}1", "{a}2", "LIMIT", 1), 1)
        self.assertEqual(self.r.cmd("ZINTERCARD", 2, "{a}1", "{a}2", "LIMIT", 0), 2)
        self.assertEqual(self.r.cmd("ZINTERCARD", 1, "{a}nokey"), 0)

    def test_zdiff_keeps_the_first_scores(self):
        self.assertEqual(self.r.cmd("ZDIFF", 2, "{a}1", "{a}2", "WITHSCORES"), [b"a", b"1"])
        self.assertEqual(self.r.cmd("ZDIFF", 2, "{a}2", "{a}1"), [b"d"])
        self.assertEqual(self.r.cmd("ZDIFF", 2, "{a}1", "{a}1"), [])
        self.assertEqual(self.r.cmd("ZDIFF", 1, "{a}3", "WITHSCORES"),
                         [b"c", b"100", b"e", b"200"])
        self.assertEqual(self.r.cmd("ZDIFF", 2, "{a}nokey", "{a}1"), [])

    def test_sets_count_as_score_one(self):
        self.r.cmd("SADD", "{a}s", "a", "c", "x", "7")
        self.assertEqual(self.r.cmd("ZUNION", 2, "{a}1", "{a}s", "WITHSCORES"),
                         expected({b"a": 2, b"b": 2, b"c": 4, b"x": 1, b"7": 1}))
        self.assertEqual(self.r.cmd("ZINTER", 2, "{a}s", "{a}1", "WEIGHTS", 5, 1,
                                    "WITHSCORES"), expected({b"a": 6, b"c": 8}))
        self.assertEqual(self.r.cmd("ZDIFF", 2, "{a}s", "{a}1", "WITHSCORES"),
                         expected({b"x": 1, b"7": 1}))
        self.assertEqual(self.r.cmd("ZINTERCARD", 2, "{a}s", "{a}2"), 1)
        self.r.cmd("SADD", "{a}ints", "1", "2", "3")
        self.assertEqual(self.r.cmd("ZUNIONSTORE", "{a}d", 1, "{a}ints"), 3)
        self.assertEqual(self.content("{a}d"), [b"1", b"1", b"2", b"1", b"3", b"1"])

    def test_nan_results_count_as_zero(self):
        self.zadd("{a}inf", {b"a": float("inf")})
        self.zadd("{a}ninf", {b"a": float("-inf")})
        self.assertEqual(self.r.cmd("ZUNION", 2, "{a}inf", "{a}ninf", "WITHSCORES"),
                         [b"a", b"0"])
        self.assertEqual(self.r.cmd("ZUNION", 1, "{a}inf", "WEIGHTS", 0, "WITHSCORES"),
                         [b"a", b"0"])
        self.assertEqual(self.r.cmd("ZINTER", 2, "{a}inf", "{a}ninf", "WITHSCORES"),
                         [b"a", b"0"])
        self.assertEqual(self.r.cmd("ZINTER", 2, "{a}inf", "{a}inf", "AGGREGATE", "MIN",
                                    "WITHSCORES"), [b"a", b"inf"])

    def test_resp3_withscores_pairs(self):
        c = self.resp3()
        self.assertEqual(c.raw("ZINTER", 2, "{a}1", "{a}2", "WITHSCORES"),
                         b"*2\r\n*2\r\n$1\r\nb\r\n,12\r\n*2\r\n$1\r\nc\r\n,23\r\n")
        self.assertEqual(c.cmd("ZDIFF", 2, "{a}3", "{a}1", "WITHSCORES"),
                         [[b"e", Double(200)]])
        self.assertEqual(c.raw("ZUNION", 1, "{a}nokey", "WITHSCORES"), b"*0\r\n")

    def test_store_forms(self):
        self.r.cmd("SET", "{a}d", "x", "EX", 100)
        self.assertEqual(self.r.cmd("ZUNIONSTORE", "{a}d", 2, "{a}1", "{a}3", "WEIGHTS", 1, 2),
                         4)
        self.assertEqual(self.content("{a}d"), expected({b"a": 1, b"b": 2, b"c": 203,
                                                         b"e": 400}))
        self.assertEqual(self.r.cmd("TTL", "{a}d"), -1)
        self.assertEqual(self.r.cmd("ZINTERSTORE", "{a}d", 2, "{a}d", "{a}2"), 2)
        self.assertEqual(self.content("{a}d"), expected({b"b": 12, b"c": 223}))
        self.assertEqual(self.r.cmd("ZDIFFSTORE", "{a}d", 2, "{a}2", "{a}d"), 1)
        self.assertEqual(self.content("{a}d"), [b"d", b"30"])

    def test_an_empty_result_deletes_the_destination(self):
        self.r.cmd("SET", "{a}d", "x")
        self.assertEqual(self.r.cmd("ZINTERSTORE", "{a}d", 2, "{a}1", "{a}nokey"), 0)
        self.assertEqual(self.r.cmd("EXISTS", "{a}d"), 0)
        self.assertEqual(self.r.cmd("ZDIFFSTORE", "{a}d", 1, "{a}nokey"), 0)
        self.assertEqual(self.r.cmd("EXISTS", "{a}d"), 0)

    def test_errors(self):
        for cmd in ("ZUNION", "ZINTER", "ZDIFF", "ZINTERCARD"):
            self.assertError(self.r.cmd(cmd, 0, "{a}1"),
                             "ERR at least 1 input key is needed for '%s' command" % cmd.lower())
            self.assertError(self.r.cmd(cmd, "x", "{a}1"), NOT_INTEGER)
            self.assertError(self.r.cmd(cmd, 3, "{a}1", "{a}2"), SYNTAX)
        self.assertError(self.r.cmd("ZUNIONSTORE", "{a}d", 0, "{a}1"),
                         "ERR at least 1 input key is needed for 'zunionstore' command")
        self.assertError(self.r.cmd("ZUNION", 2, "{a}1", "{a}2", "WEIGHTS", 1, "x"),
                         "ERR weight value is not a float")
        self.assertError(self.r.cmd("ZUNION", 2, "{a}1", "{a}2", "WEIGHTS", 1), SYNTAX)
        self.assertError(self.r.cmd("ZUNION", 1, "{a}1", "AGGREGATE", "AVG"), SYNTAX)
        self.assertError(self.r.cmd("ZUNION", 1, "{a}1", "AGGREGATE"), SYNTAX)
        self.assertError(self.r.cmd("ZUNIONSTORE", "{a}d", 1, "{a}1", "WITHSCORES"), SYNTAX)
        self.assertError(self.r.cmd("ZDIFF", 1, "{a}1", "WEIGHTS", 1), SYNTAX)
        self.assertError(self.r.cmd("ZDIFF", 1, "{a}1", "AGGREGATE", "SUM"), SYNTAX)
        self.assertError(self.r.cmd("ZUNION", 1, "{a}1", "LIMIT", 1), SYNTAX)
        self.assertError(self.r.cmd("ZINTERCARD", 1, "{a}1", "WITHSCORES"), SYNTAX)
        self.assertError(self.r.cmd("ZINTERCARD", 1, "{a}1", "LIMIT", -1),
                         "ERR LIMIT can't be negative")
        self.assertError(self.r.cmd("ZINTERCARD", 1, "{a}1", "LIMIT", "x"),
                         "ERR LIMIT can't be negative")
        self.assertEqual(self.r.cmd("EXISTS", "{a}d"), 0)

    def test_wrongtype_comes_before_option_errors(self):
        self.r.cmd("SET", "{a}str", "x")
        self.assertError(self.r.cmd("ZUNION", 2, "{a}1", "{a}str", "WEIGHTS", "x", 1),
                         WRONGTYPE)
        self.assertError(self.r.cmd("ZINTERSTORE", "{a}d", 2, "{a}str", "{a}1", "FOO"),
                         WRONGTYPE)
        self.assertError(self.r.cmd("ZUNION", 0, "{a}str"),
                         "ERR at least 1 input key is needed for 'zunion' command")
        self.r.cmd("LPUSH", "{a}list", "x")
        self.assertError(self.r.cmd("ZDIFF", 2, "{a}1", "{a}list"), WRONGTYPE)
        # the destination's type does not matter
        self.assertEqual(self.r.cmd("ZUNIONSTORE", "{a}str", 1, "{a}1"), 3)


class CrossShardTests(MultiCase):
    """Keys named so that they spread over the shards (and, for comparison,
    the same commands over keys sharing a hash tag)."""

    N = 16

    def build(self, fmt_key):
        """N sorted sets: key i holds members m0..m(2i) scored j * (i + 1)."""
        model = []
        for i in range(self.N):
            scores = {b"m%d" % j: j * (i + 1) for j in range(2 * i + 1)}
            self.zadd(fmt_key % i, scores)
            model.append(scores)
        return [fmt_key % i for i in range(self.N)], model

    def check_algebra(self, keys, model, dst):
        union = {}
        for scores in model:
            for m, s in scores.items():
                union[m] = union.get(m, 0) + s
        inter = [m for m in model[0] if all(m in sc for sc in model)]
        self.assertEqual(self.r.cmd("ZUNION", len(keys), *keys, "WITHSCORES"), expected(union))
        self.assertEqual(self.r.cmd("ZINTER", len(keys), *keys, "WITHSCORES"),
                         expected({m: sum(sc[m] for sc in model) for m in inter}))
        self.assertEqual(self.r.cmd("ZINTERCARD", len(keys), *keys), len(inter))
        diff = {m: s for m, s in model[-1].items() if m not in model[-2]}
        self.assertEqual(self.r.cmd("ZDIFF", 2, keys[-1], keys[-2], "WITHSCORES"),
                         expected(diff))
        self.assertEqual(self.r.cmd("ZUNIONSTORE", dst, len(keys), *keys,
                                    "AGGREGATE", "MAX"), len(union))
        self.assertEqual(self.content(dst), expected(
            {m: max(sc[m] for sc in model if m in sc) for m in union}))
        self.assertEqual(self.r.cmd("ZDIFFSTORE", dst, 2, keys[-1], keys[-2]), len(diff))
        self.assertEqual(self.content(dst), expected(diff))
        self.assertEqual(self.r.cmd("ZINTERSTORE", dst, 2, keys[0], keys[5], "WEIGHTS", 3, 1),
                         1)
        self.assertEqual(self.content(dst), [b"m0", b"0"])

    def test_algebra_over_keys_on_many_shards(self):
        keys, model = self.build("zkey:%d")
        self.check_algebra(keys, model, "dest:x")

    def test_algebra_over_keys_with_one_hash_tag(self):
        keys, model = self.build("{tag}zkey:%d")
        self.check_algebra(keys, model, "{tag}dest")

    def test_store_over_another_shard_destination_and_empty_results(self):
        keys, model = self.build("zkey:%d")
        for i in range(8):
            dst = "dst%d" % i
            self.r.cmd("SET", dst, "v", "EX", 100)
            self.assertEqual(self.r.cmd("ZUNIONSTORE", dst, 2, keys[i], keys[i + 1]),
                             2 * i + 3)
            self.assertEqual(self.r.cmd("TTL", dst), -1)
            self.assertEqual(self.r.cmd("ZINTERSTORE", dst, 2, keys[i], "nokey%d" % i), 0)
            self.assertEqual(self.r.cmd("EXISTS", dst), 0)

    def test_wrongtype_on_any_shard(self):
        keys, _ = self.build("zkey:%d")
        for i in range(8):
            self.r.cmd("SET", "str%d" % i, "x")
            args = keys[:3] + ["str%d" % i] + keys[3:6]
            self.assertError(self.r.cmd("ZUNION", len(args), *args, "WEIGHTS", "x"), WRONGTYPE)
            self.assertError(self.r.cmd("ZINTERSTORE", "d%d" % i, len(args), *args), WRONGTYPE)
            self.assertError(self.r.cmd("ZINTERCARD", len(args), *args), WRONGTYPE)
            self.assertEqual(self.r.cmd("EXISTS", "d%d" % i), 0)
        self.assertError(self.r.cmd("ZUNION", 2, keys[0], keys[1], "WEIGHTS", 1, "x"),
                         "ERR weight value is not a float")
        self.assertError(self.r.cmd("ZUNIONSTORE", "dx", 2, keys[0], keys[1], "FOO"), SYNTAX)

    def test_sets_on_other_shards(self):
        keys, model = self.build("zkey:%d")
        for i in range(6):
            self.r.cmd("SADD", "set%d" % i, "m0", "m1", "other%d" % i)
        sets = ["set%d" % i for i in range(6)]
        self.assertEqual(self.r.cmd("ZINTER", 7, keys[3], *sets, "WITHSCORES"),
                         [b"m0", b"6", b"m1", b"10"])
        got = self.r.cmd("ZUNION", 6, *sets, "WITHSCORES")
        self.assertEqual(dict(zip(got[0::2], got[1::2]))[b"m0"], b"6")

    def test_zrangestore_across_shards(self):
        self.zadd("src:a", {b"a": 1, b"b": 2, b"c": 3, b"d": 4})
        for i in range(8):
            dst = "rdst%d" % i
            self.assertEqual(self.r.cmd("ZRANGESTORE", dst, "src:a", 1, 2), 2)
            self.assertEqual(self.content(dst), [b"b", b"2", b"c", b"3"])
            self.assertEqual(self.r.cmd("ZRANGESTORE", dst, "src:a", "+inf", "(1", "BYSCORE",
                                        "REV", "LIMIT", 0, 2), 2)
            self.assertEqual(self.content(dst), [b"c", b"3", b"d", b"4"])
            self.assertEqual(self.r.cmd("ZRANGESTORE", dst, "src:a", 10, 20), 0)
            self.assertEqual(self.r.cmd("EXISTS", dst), 0)
        self.r.cmd("SET", "rstr", "x")
        self.assertError(self.r.cmd("ZRANGESTORE", "rdst0", "rstr", 0, -1), WRONGTYPE)
        self.assertError(self.r.cmd("ZRANGESTORE", "rdst0", "src:a", 0, -1, "WITHSCORES"),
                         SYNTAX)
        self.assertEqual(self.r.cmd("ZRANGESTORE", "rstr", "src:a", "[b", "[c", "BYLEX"), 2)
        self.assertEqual(self.r.cmd("TYPE", "rstr"), "zset")
        self.assertEqual(self.r.cmd("ZRANGESTORE", "rdst1", "nosrc", 0, -1), 0)

    def test_pipelined_commands_see_a_store_done(self):
        keys, _ = self.build("zkey:%d")
        cmds = []
        for i in range(10):
            cmds.append(encode_command("ZUNIONSTORE", "pd%d" % i, 2, keys[i], keys[i + 1]))
            cmds.append(encode_command("ZCARD", "pd%d" % i))
            cmds.append(encode_command("ZRANGESTORE", "pr%d" % i, "pd%d" % i, 0, 0))
            cmds.append(encode_command("ZRANGE", "pr%d" % i, 0, -1))
        self.r.send(b"".join(cmds))
        for i in range(10):
            self.assertEqual(self.r.read_replies(4), [2 * i + 3, 2 * i + 3, 1, [b"m0"]])


class ZmpopTests(MultiCase):

    def test_pops_from_the_first_non_empty_key(self):
        self.zadd("{p}a", {b"x": 1, b"y": 2, b"z": 3})
        self.assertEqual(self.r.raw("ZMPOP", 2, "{p}none", "{p}a", "MIN"),
                         b"*2\r\n$4\r\n{p}a\r\n*1\r\n*2\r\n$1\r\nx\r\n$1\r\n1\r\n")
        self.assertEqual(self.r.cmd("ZMPOP", 1, "{p}a", "MAX", "COUNT", 10),
                         [b"{p}a", [[b"z", b"3"], [b"y", b"2"]]])
        self.assertEqual(self.r.cmd("EXISTS", "{p}a"), 0)
        self.assertIsNone(self.r.cmd("ZMPOP", 1, "{p}a", "MIN"))
        self.assertEqual(self.r.last_raw, b"*-1\r\n")

    def test_resp3(self):
        self.zadd("{p}a", {b"x": 1.5})
        c = self.resp3()
        self.assertEqual(c.raw("ZMPOP", 1, "{p}a", "min"),
                         b"*2\r\n$4\r\n{p}a\r\n*1\r\n*2\r\n$1\r\nx\r\n,1.5\r\n")
        self.assertEqual(c.raw("ZMPOP", 1, "{p}a", "MIN"), b"_\r\n")

    def test_errors(self):
        self.r.cmd("SET", "{p}s", "x")
        self.zadd("{p}a", {b"x": 1})
        for args, err in (((0, "{p}a", "MIN"), "ERR numkeys should be greater than 0"),
                          (("x", "{p}a", "MIN"), "ERR numkeys should be greater than 0"),
                          ((2, "{p}a", "MIN"), SYNTAX), ((1, "{p}a", "LEFT"), SYNTAX),
                          ((1, "{p}a", "MIN", "COUNT"), SYNTAX),
                          ((1, "{p}a", "MIN", "COUNT", 0), "ERR count should be greater than 0"),
                          ((1, "{p}a", "MIN", "COUNT", 1, "COUNT", 1), SYNTAX),
                          ((2, "{p}none", "{p}s", "MIN"), WRONGTYPE)):
            self.assertError(self.r.cmd("ZMPOP", *args), err)
        # the first existing key decides: a later wrong type is not looked at
        self.assertEqual(self.r.cmd("ZMPOP", 2, "{p}a", "{p}s", "MIN"), [b"{p}a", [[b"x", b"1"]]])

    def test_keys_on_many_shards_are_tried_in_order(self):
        keys = ["mp:%d" % i for i in range(12)]
        self.zadd(keys[7], {b"a": 1, b"b": 2})
        self.zadd(keys[9], {b"c": 3})
        self.assertEqual(self.r.cmd("ZMPOP", len(keys), *keys, "MAX", "COUNT", 5),
                         [keys[7].encode(), [[b"b", b"2"], [b"a", b"1"]]])
        self.assertEqual(self.r.cmd("ZMPOP", len(keys), *keys, "MIN"),
                         [keys[9].encode(), [[b"c", b"3"]]])
        self.assertIsNone(self.r.cmd("ZMPOP", len(keys), *keys, "MIN"))
        c = self.resp3()
        self.assertIsNone(c.cmd("ZMPOP", len(keys), *keys, "MIN"))
        self.assertEqual(c.last_raw, b"_\r\n")
        self.zadd(keys[11], {b"d": 0.25})
        self.assertEqual(c.cmd("ZMPOP", len(keys), *keys, "MIN"),
                         [keys[11].encode(), [[b"d", Double(0.25)]]])
        self.r.cmd("SET", keys[4], "x")
        self.zadd(keys[10], {b"e": 1})
        self.assertError(self.r.cmd("ZMPOP", len(keys), *keys, "MIN"), WRONGTYPE)
        self.assertEqual(self.r.cmd("ZCARD", keys[10]), 1)
        self.zadd(keys[2], {b"f": 1})
        self.assertEqual(self.r.cmd("ZMPOP", len(keys), *keys, "MIN"),
                         [keys[2].encode(), [[b"f", b"1"]]])


class ZsetNotificationTests(NotificationCase):
    server_args = ("--notify-keyspace-events", "KEA")

    def test_zadd_zincrby_and_zrem(self):
        self.check(("ZADD", "z", "1", "a", "2", "b"), 2, ev("zadd", "z"))
        self.assertEqual(self.r.cmd("ZADD", "z", "1", "a"), 0)
        self.assertEqual(self.r.cmd("ZADD", "z", "NX", "5", "a"), 0)
        self.assertNoEvents()
        self.check(("ZADD", "z", "CH", "3", "a"), 1, ev("zadd", "z"))
        self.check(("ZINCRBY", "z", "1", "a"), b"4", ev("zincr", "z"))
        self.check(("ZADD", "z", "INCR", "1", "b"), b"3", ev("zincr", "z"))
        self.assertEqual(self.r.cmd("ZREM", "z", "x"), 0)
        self.assertNoEvents()
        self.check(("ZREM", "z", "a"), 1, ev("zrem", "z"))
        self.check(("ZREM", "z", "b"), 1, evs(("zrem", "z"), ("del", "z")))

    def test_range_removals_and_pops(self):
        self.r.cmd("ZADD", "z", "1", "a", "2", "b", "3", "c", "4", "d")
        self.collect(2)
        self.check(("ZREMRANGEBYSCORE", "z", "1", "1"), 1, ev("zremrangebyscore", "z"))
        self.check(("ZREMRANGEBYRANK", "z", "0", "0"), 1, ev("zremrangebyrank", "z"))
        self.assertEqual(self.r.cmd("ZREMRANGEBYLEX", "z", "[x", "[y"), 0)
        self.assertNoEvents()
        self.check(("ZPOPMAX", "z"), [b"d", b"4"], ev("zpopmax", "z"))
        self.check(("ZPOPMIN", "z", "5"), [b"c", b"3"], evs(("zpopmin", "z"), ("del", "z")))
        self.r.cmd("ZADD", "z", "0", "a", "0", "b")
        self.collect(2)
        self.check(("ZREMRANGEBYLEX", "z", "-", "+"), 2,
                   evs(("zremrangebylex", "z"), ("del", "z")))

    def test_store_commands(self):
        self.r.cmd("ZADD", "{n}a", "1", "x")
        self.r.cmd("ZADD", "src:1", "1", "x", "2", "y")
        self.collect(4)
        self.check(("ZUNIONSTORE", "{n}d", "1", "{n}a"), 1, ev("zunionstore", "{n}d"))
        self.check(("ZINTERSTORE", "{n}d", "1", "{n}a"), 1, ev("zinterstore", "{n}d"))
        self.check(("ZDIFFSTORE", "{n}d", "2", "{n}a", "{n}a"), 0, ev("del", "{n}d"))
        self.assertEqual(self.r.cmd("ZDIFFSTORE", "{n}d", "2", "{n}a", "{n}a"), 0)
        self.assertNoEvents()
        self.check(("ZRANGESTORE", "{n}d", "{n}a", "0", "-1"), 1, ev("zrangestore", "{n}d"))
        for i in range(4):
            self.check(("ZUNIONSTORE", "dst:%d" % i, "2", "src:1", "{n}a"), 2,
                       ev("zunionstore", "dst:%d" % i))
            self.check(("ZRANGESTORE", "dst:%d" % i, "src:1", "1", "1"), 1,
                       ev("zrangestore", "dst:%d" % i))
            self.check(("ZINTERSTORE", "dst:%d" % i, "2", "src:1", "nokey"), 0,
                       ev("del", "dst:%d" % i))

    def test_zmpop_across_shards(self):
        keys = ["q:%d" % i for i in range(6)]
        self.r.cmd("ZADD", keys[4], "1", "a")
        self.collect(2)
        self.check(("ZMPOP", "6", *keys, "MIN"), [keys[4].encode(), [[b"a", b"1"]]],
                   evs(("zpopmin", keys[4]), ("del", keys[4])))
        self.assertIsNone(self.r.cmd("ZMPOP", "6", *keys, "MAX"))
        self.assertNoEvents()


if __name__ == "__main__":
    unittest.main()
