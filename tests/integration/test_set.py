"""Set commands: Redis 7.0 behaviour, replies (RESP2 and RESP3 types) and
exact error strings. Every test passes against redis-server 7.0.15
(SHARDIS_REFERENCE=redis) and against shardis with any shard count; the
cross-shard tests spread their keys over many names so that with several
shards they land on different owners, and repeat with a {hash tag}.

The OBJECT ENCODING checks are in SetEncodingTests; the listpack cases are
shardis's (Redis 7.2's encoding) and are skipped against Redis 7.0, which
has no listpack sets.
"""

import os
import socket
import sys
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import (Error, Push, RespSet, ServerTestCase,  # noqa: E402
                     reference_mode)

WRONGTYPE = "WRONGTYPE Operation against a key holding the wrong kind of value"
NOT_INTEGER = "ERR value is not an integer or out of range"
SYNTAX = "ERR syntax error"
POSITIVE = "ERR value is out of range, must be positive"
SRAND_RANGE = ("ERR value is out of range, value must between "
               "-9223372036854775807 and 9223372036854775807")


def arity(cmd):
    return "ERR wrong number of arguments for '%s' command" % cmd


def members(reply):
    """A set or array reply as a Python set of bytes."""
    return set(reply)


def b(*items):
    return {x if isinstance(x, bytes) else str(x).encode() for x in items}


class SetCase(ServerTestCase):

    def sadd(self, key, *items):
        return self.r.cmd("SADD", key, *items)

    def smembers(self, key):
        return members(self.r.cmd("SMEMBERS", key))


class SetBasicTests(SetCase):

    def test_sadd_counts_new_members_only(self):
        self.assertEqual(self.sadd("s", "a", "b", "a"), 2)
        self.assertEqual(self.sadd("s", "b", "c"), 1)
        self.assertEqual(self.sadd("s", "a"), 0)
        self.assertEqual(self.smembers("s"), b("a", "b", "c"))
        self.assertEqual(self.r.cmd("TYPE", "s"), "set")

    def test_members_are_binary_safe(self):
        odd = [b"", b"\x00", b"a\r\nb", bytes(range(256)), b"007", b"-0", b"1"]
        self.assertEqual(self.sadd("s", *odd), len(odd))
        self.assertEqual(self.smembers("s"), set(odd))
        for m in odd:
            self.assertEqual(self.r.cmd("SISMEMBER", "s", m), 1)
        self.assertEqual(self.r.cmd("SISMEMBER", "s", "7"), 0)
        self.assertEqual(self.r.cmd("SISMEMBER", "s", "0"), 0)

    def test_integers_and_their_lookalikes_are_distinct_members(self):
        self.assertEqual(self.sadd("s", "1", "01", "+1", "1.0", " 1"), 5)
        self.assertEqual(self.r.cmd("SCARD", "s"), 5)
        self.assertEqual(self.r.cmd("SREM", "s", "1"), 1)
        self.assertEqual(self.smembers("s"), b("01", "+1", "1.0", " 1"))

    def test_srem_counts_removed_and_deletes_an_emptied_key(self):
        self.sadd("s", "a", "b", "c")
        self.assertEqual(self.r.cmd("SREM", "s", "a", "x", "a"), 1)
        self.assertEqual(self.r.cmd("SREM", "s", "b", "c", "d"), 2)
        self.assertEqual(self.r.cmd("EXISTS", "s"), 0)
        self.assertEqual(self.r.cmd("SREM", "s", "a"), 0)

    def test_scard_and_sismember(self):
        self.assertEqual(self.r.cmd("SCARD", "nokey"), 0)
        self.assertEqual(self.r.cmd("SISMEMBER", "nokey", "a"), 0)
        self.sadd("s", *range(100))
        self.assertEqual(self.r.cmd("SCARD", "s"), 100)
        self.assertEqual(self.r.cmd("SISMEMBER", "s", "99"), 1)
        self.assertEqual(self.r.cmd("SISMEMBER", "s", "100"), 0)

    def test_smismember(self):
        self.sadd("s", "a", "1")
        self.assertEqual(self.r.cmd("SMISMEMBER", "s", "a", "b", "1", "a"), [1, 0, 1, 1])
        self.assertEqual(self.r.cmd("SMISMEMBER", "nokey", "a", "b"), [0, 0])

    def test_smembers_of_missing_key_is_empty(self):
        self.assertEqual(self.r.raw("SMEMBERS", "nokey"), b"*0\r\n")

    def test_wrongtype(self):
        self.r.cmd("SET", "str", "x")
        for cmd in (("SADD", "str", "a"), ("SREM", "str", "a"), ("SCARD", "str"),
                    ("SISMEMBER", "str", "a"), ("SMISMEMBER", "str", "a"),
                    ("SMEMBERS", "str"), ("SPOP", "str"), ("SPOP", "str", "2"),
                    ("SRANDMEMBER", "str"), ("SRANDMEMBER", "str", "2"),
                    ("SSCAN", "str", "0"), ("SINTER", "str"), ("SUNION", "str"),
                    ("SDIFF", "str"), ("SINTERCARD", "1", "str"),
                    ("SMOVE", "str", "d", "a"), ("SINTERSTORE", "d", "str")):
            self.assertError(self.r.cmd(*cmd), WRONGTYPE)
        self.assertEqual(self.r.cmd("GET", "str"), b"x")
        self.r.cmd("LPUSH", "list", "a")
        self.assertError(self.r.cmd("SADD", "list", "a"), WRONGTYPE)

    def test_arity_errors(self):
        for cmd, args in (("sadd", ["s"]), ("srem", ["s"]), ("scard", []),
                          ("sismember", ["s"]), ("smismember", ["s"]), ("smembers", []),
                          ("spop", []), ("srandmember", []), ("smove", ["a", "b"]),
                          ("sinter", []), ("sunion", []), ("sdiff", []),
                          ("sintercard", ["1"]), ("sinterstore", ["d"]),
                          ("sunionstore", ["d"]), ("sdiffstore", ["d"]), ("sscan", ["s"])):
            self.assertError(self.r.cmd(cmd.upper(), *args), arity(cmd))

    def test_sadd_keeps_the_ttl_of_an_existing_set(self):
        self.sadd("s", "a")
        self.r.cmd("EXPIRE", "s", "100")
        self.sadd("s", "b")
        self.assertGreater(self.r.cmd("TTL", "s"), 0)

    def test_an_expired_set_is_gone(self):
        self.sadd("s", "a")
        self.r.cmd("PEXPIRE", "s", "20")
        time.sleep(0.05)
        self.assertEqual(self.r.cmd("SCARD", "s"), 0)
        self.assertEqual(self.sadd("s", "b"), 1)
        self.assertEqual(self.smembers("s"), b("b"))
        self.assertEqual(self.r.cmd("TTL", "s"), -1)

    def test_a_large_set(self):
        for i in range(0, 5000, 500):
            self.sadd("big", *["m%d" % j for j in range(i, i + 500)])
        self.assertEqual(self.r.cmd("SCARD", "big"), 5000)
        self.assertEqual(len(self.smembers("big")), 5000)
        self.assertEqual(self.r.cmd("SREM", "big", *["m%d" % j for j in range(4990)]), 4990)
        self.assertEqual(self.smembers("big"), b(*["m%d" % j for j in range(4990, 5000)]))


class SetPopRandomTests(SetCase):

    def test_spop_one_removes_and_returns_a_member(self):
        self.sadd("s", "a", "b", "c")
        seen = set()
        for _ in range(3):
            m = self.r.cmd("SPOP", "s")
            self.assertIn(m, b("a", "b", "c"))
            seen.add(m)
        self.assertEqual(seen, b("a", "b", "c"))
        self.assertEqual(self.r.cmd("EXISTS", "s"), 0)
        self.assertEqual(self.r.raw("SPOP", "s"), b"$-1\r\n")

    def test_spop_count_covers_redis_three_cases(self):
        for size, count in ((10, 10), (10, 50), (100, 5), (100, 90), (600, 599), (20, 3)):
            self.r.cmd("DEL", "s")
            universe = b(*range(size))
            self.sadd("s", *range(size))
            popped = self.r.cmd("SPOP", "s", count)
            self.assertEqual(len(popped), min(size, count))
            self.assertEqual(len(set(popped)), len(popped))
            rest = self.smembers("s")
            self.assertEqual(rest | set(popped), universe)
            self.assertFalse(rest & set(popped))
            self.assertEqual(self.r.cmd("EXISTS", "s"), int(count < size))

    def test_spop_count_of_strings_in_a_hashtable(self):
        self.sadd("s", *["m%d" % i for i in range(300)])
        popped = self.r.cmd("SPOP", "s", 280)
        self.assertEqual(len(set(popped)), 280)
        self.assertEqual(self.r.cmd("SCARD", "s"), 20)
        self.assertFalse(self.smembers("s") & set(popped))

    def test_spop_count_edge_replies(self):
        self.sadd("s", "a")
        self.assertEqual(self.r.raw("SPOP", "s", "0"), b"*0\r\n")
        self.assertEqual(self.r.raw("SPOP", "nokey", "3"), b"*0\r\n")
        self.assertError(self.r.cmd("SPOP", "s", "-1"), POSITIVE)
        self.assertError(self.r.cmd("SPOP", "s", "x"), POSITIVE)
        self.assertError(self.r.cmd("SPOP", "nokey", "x"), POSITIVE)
        self.assertError(self.r.cmd("SPOP", "s", "9223372036854775808"), POSITIVE)
        self.assertError(self.r.cmd("SPOP", "s", "1", "2"), SYNTAX)
        self.assertEqual(self.r.cmd("SPOP", "s", "9223372036854775807"), [b"a"])
        self.assertEqual(self.r.cmd("EXISTS", "s"), 0)

    def test_srandmember_does_not_remove(self):
        self.assertEqual(self.r.raw("SRANDMEMBER", "nokey"), b"$-1\r\n")
        self.sadd("s", "a", "b")
        self.assertIn(self.r.cmd("SRANDMEMBER", "s"), b("a", "b"))
        self.assertEqual(self.r.cmd("SCARD", "s"), 2)

    def test_srandmember_positive_count_is_distinct(self):
        for size in (5, 50, 300, 1000):
            self.r.cmd("DEL", "s")
            self.sadd("s", *["m%d" % i for i in range(size)])
            self.sadd("s", *range(size))
            universe = self.smembers("s")
            for count in (1, 2, size // 3, size, 2 * size - 1, 2 * size, 5 * size):
                got = self.r.cmd("SRANDMEMBER", "s", count)
                self.assertEqual(len(got), min(count, 2 * size))
                self.assertEqual(len(set(got)), len(got))
                self.assertTrue(set(got) <= universe)
            self.assertEqual(self.r.cmd("SCARD", "s"), 2 * size)

    def test_srandmember_negative_count_may_repeat(self):
        self.sadd("s", "a", "b", "c")
        got = self.r.cmd("SRANDMEMBER", "s", "-100")
        self.assertEqual(len(got), 100)
        self.assertTrue(set(got) <= b("a", "b", "c"))
        self.assertEqual(set(got), b("a", "b", "c"))  # 3 members in 100 draws
        self.assertEqual(self.r.cmd("SRANDMEMBER", "s", "-1")[0] in b("a", "b", "c"), True)

    def test_srandmember_count_edge_replies(self):
        self.sadd("s", "a")
        self.assertEqual(self.r.raw("SRANDMEMBER", "s", "0"), b"*0\r\n")
        self.assertEqual(self.r.raw("SRANDMEMBER", "nokey", "5"), b"*0\r\n")
        self.assertEqual(self.r.raw("SRANDMEMBER", "nokey", "-5"), b"*0\r\n")
        self.assertError(self.r.cmd("SRANDMEMBER", "s", "x"), NOT_INTEGER)
        self.assertError(self.r.cmd("SRANDMEMBER", "s", "1.5"), NOT_INTEGER)
        self.assertError(self.r.cmd("SRANDMEMBER", "s", "-9223372036854775808"), SRAND_RANGE)
        self.assertError(self.r.cmd("SRANDMEMBER", "s", "1", "2"), SYNTAX)
        self.assertEqual(self.r.cmd("SRANDMEMBER", "s", "9223372036854775807"), [b"a"])


class SetMoveTests(SetCase):

    def test_smove_moves_a_member(self):
        self.sadd("src", "a", "b")
        self.sadd("dst", "c")
        self.assertEqual(self.r.cmd("SMOVE", "src", "dst", "a"), 1)
        self.assertEqual(self.smembers("src"), b("b"))
        self.assertEqual(self.smembers("dst"), b("a", "c"))

    def test_smove_creates_dst_and_deletes_an_emptied_src(self):
        self.sadd("src", "1")
        self.assertEqual(self.r.cmd("SMOVE", "src", "new", "1"), 1)
        self.assertEqual(self.r.cmd("EXISTS", "src"), 0)
        self.assertEqual(self.smembers("new"), b("1"))

    def test_smove_of_a_member_already_in_dst(self):
        self.sadd("src", "a", "b")
        self.sadd("dst", "a")
        self.assertEqual(self.r.cmd("SMOVE", "src", "dst", "a"), 1)
        self.assertEqual(self.smembers("src"), b("b"))
        self.assertEqual(self.smembers("dst"), b("a"))

    def test_smove_missing_member_or_source(self):
        self.sadd("src", "a")
        self.assertEqual(self.r.cmd("SMOVE", "src", "dst", "x"), 0)
        self.assertEqual(self.r.cmd("EXISTS", "dst"), 0)
        self.assertEqual(self.r.cmd("SMOVE", "nokey", "dst", "a"), 0)

    def test_smove_to_itself(self):
        self.sadd("s", "a")
        self.assertEqual(self.r.cmd("SMOVE", "s", "s", "a"), 1)
        self.assertEqual(self.r.cmd("SMOVE", "s", "s", "x"), 0)
        self.assertEqual(self.smembers("s"), b("a"))

    def test_smove_type_checks_in_redis_order(self):
        self.sadd("src", "a")
        self.r.cmd("SET", "str", "x")
        # a missing source wins over a wrong destination
        self.assertEqual(self.r.cmd("SMOVE", "nokey", "str", "a"), 0)
        self.assertError(self.r.cmd("SMOVE", "src", "str", "a"), WRONGTYPE)
        self.assertError(self.r.cmd("SMOVE", "src", "str", "nomember"), WRONGTYPE)
        self.assertError(self.r.cmd("SMOVE", "str", "src", "a"), WRONGTYPE)
        self.assertEqual(self.smembers("src"), b("a"))
        self.assertEqual(self.r.cmd("GET", "str"), b"x")

    def test_smove_between_many_key_pairs(self):
        keys = ["mv:%d" % i for i in range(12)]
        for i, k in enumerate(keys):
            self.sadd(k, "m%d" % i, "shared")
        for i, k in enumerate(keys):
            dst = keys[(i + 5) % len(keys)]
            self.assertEqual(self.r.cmd("SMOVE", k, dst, "m%d" % i), 1)
            self.assertEqual(self.r.cmd("SMOVE", k, dst, "absent"), 0)
        for i, k in enumerate(keys):
            self.assertEqual(self.smembers(k), b("shared", "m%d" % ((i - 5) % len(keys))))
        for i, k in enumerate(keys):
            dst = keys[(i + 1) % len(keys)]
            self.assertEqual(self.r.cmd("SMOVE", k, dst, "shared"), 1)
        self.assertEqual(sum(self.r.cmd("SCARD", k) for k in keys), len(keys) + 1)

    def test_smove_across_many_keys_checks_types(self):
        for i in range(8):
            self.r.cmd("SET", "str:%d" % i, "x")
            self.sadd("set:%d" % i, "a")
        for i in range(8):
            self.assertError(self.r.cmd("SMOVE", "set:%d" % i, "str:%d" % ((i + 3) % 8), "a"),
                             WRONGTYPE)
            self.assertError(self.r.cmd("SMOVE", "str:%d" % i, "set:%d" % ((i + 3) % 8), "a"),
                             WRONGTYPE)
            self.assertEqual(self.r.cmd("SMOVE", "none:%d" % i, "str:%d" % i, "a"), 0)
        for i in range(8):
            self.assertEqual(self.smembers("set:%d" % i), b("a"))

    def test_smove_with_a_hash_tag(self):
        self.sadd("{t}src", "a", "b")
        self.assertEqual(self.r.cmd("SMOVE", "{t}src", "{t}dst", "a"), 1)
        self.assertEqual(self.smembers("{t}dst"), b("a"))
        self.r.cmd("SET", "{t}str", "x")
        self.assertError(self.r.cmd("SMOVE", "{t}src", "{t}str", "b"), WRONGTYPE)

    def test_pipelined_smove_then_reads_see_its_result(self):
        self.sadd("p:src", "a")
        c = self.client()
        c.send(b"".join(encode(*cmd) for cmd in (
            ("SMOVE", "p:src", "p:dst", "a"), ("SISMEMBER", "p:dst", "a"),
            ("EXISTS", "p:src"), ("SMOVE", "p:dst", "p:src", "a"), ("SCARD", "p:src"))))
        self.assertEqual(c.read_replies(5), [1, 1, 0, 1, 1])


def encode(*args):
    from harness import encode_command
    return encode_command(*args)


class SetAlgebraTests(SetCase):

    def fill(self, prefix, n=10):
        """n sets prefix:0 .. prefix:n-1; set i holds the multiples of i+1
        below 60 plus a member of its own, so they overlap."""
        sets = {}
        for i in range(n):
            key = "%s:%d" % (prefix, i)
            items = ["%d" % x for x in range(0, 60, i + 1)] + ["own%d" % i]
            self.sadd(key, *items)
            sets[key] = b(*items)
        return sets

    def check_all_forms(self, sets, keys, missing):
        """Every command over keys (and with a missing key) against Python."""
        want_inter = set.intersection(*[sets[k] for k in keys])
        want_union = set.union(*[sets[k] for k in keys])
        want_diff = sets[keys[0]] - set.union(set(), *[sets[k] for k in keys[1:]])
        self.assertEqual(members(self.r.cmd("SINTER", *keys)), want_inter)
        self.assertEqual(members(self.r.cmd("SUNION", *keys)), want_union)
        self.assertEqual(members(self.r.cmd("SDIFF", *keys)), want_diff)
        self.assertEqual(self.r.cmd("SINTERCARD", len(keys), *keys), len(want_inter))
        self.assertEqual(members(self.r.cmd("SINTER", *keys, missing)), set())
        self.assertEqual(members(self.r.cmd("SUNION", missing, *keys)), want_union)
        self.assertEqual(members(self.r.cmd("SDIFF", *keys, missing)), want_diff)
        self.assertEqual(members(self.r.cmd("SDIFF", missing, *keys)), set())
        for cmd, want in (("SINTERSTORE", want_inter), ("SUNIONSTORE", want_union),
                          ("SDIFFSTORE", want_diff)):
            dst = "dst:" + cmd
            self.assertEqual(self.r.cmd(cmd, dst, *keys), len(want))
            self.assertEqual(self.smembers(dst), want)
            self.assertEqual(self.r.cmd("EXISTS", dst), int(bool(want)))

    def test_algebra_over_many_keys(self):
        sets = self.fill("alg")
        keys = sorted(sets)
        for group in (keys[:2], keys[1:4], keys[::3], [keys[0], keys[5], keys[9]], keys):
            self.check_all_forms(sets, group, "alg:missing")
        self.check_all_forms(sets, [keys[2]], "alg:missing")

    def test_algebra_with_a_hash_tag(self):
        sets = self.fill("{tag}alg", 6)
        keys = sorted(sets)
        self.check_all_forms(sets, keys, "{tag}missing")
        self.check_all_forms(sets, keys[2:4], "{tag}missing")

    def test_sinter_with_a_missing_key_is_empty(self):
        self.sadd("a", "1", "2")
        self.assertEqual(self.r.raw("SINTER", "a", "nokey"), b"*0\r\n")
        self.assertEqual(self.r.raw("SINTER", "nokey", "a"), b"*0\r\n")
        self.assertEqual(self.r.cmd("SINTERCARD", "2", "a", "nokey"), 0)

    def test_same_key_repeated(self):
        self.sadd("a", "1", "2", "x")
        self.sadd("b", "2", "x", "y")
        self.assertEqual(members(self.r.cmd("SINTER", "a", "a")), b("1", "2", "x"))
        self.assertEqual(members(self.r.cmd("SDIFF", "a", "b", "a")), set())
        self.assertEqual(members(self.r.cmd("SUNION", "a", "a", "b")), b("1", "2", "x", "y"))
        self.assertEqual(self.r.cmd("SINTERSTORE", "a", "a", "b"), 2)
        self.assertEqual(self.smembers("a"), b("2", "x"))
        self.assertEqual(self.r.cmd("SDIFFSTORE", "b", "b", "a"), 1)
        self.assertEqual(self.smembers("b"), b("y"))

    def test_wrongtype_anywhere_fails_even_after_a_missing_key(self):
        self.sadd("a", "1")
        self.r.cmd("SET", "str", "x")
        for cmd in ("SINTER", "SUNION", "SDIFF"):
            self.assertError(self.r.cmd(cmd, "nokey", "a", "str"), WRONGTYPE)
            self.assertError(self.r.cmd(cmd + "STORE", "d", "nokey", "str"), WRONGTYPE)
        self.assertError(self.r.cmd("SINTERCARD", "3", "nokey", "a", "str"), WRONGTYPE)
        self.assertEqual(self.r.cmd("EXISTS", "d"), 0)

    def test_store_replaces_any_destination_and_drops_its_ttl(self):
        self.sadd("a", "1", "2")
        self.r.cmd("SET", "d", "string", "EX", "100")
        self.assertEqual(self.r.cmd("SUNIONSTORE", "d", "a"), 2)
        self.assertEqual(self.r.cmd("TYPE", "d"), "set")
        self.assertEqual(self.r.cmd("TTL", "d"), -1)
        self.r.cmd("EXPIRE", "d", "100")
        self.assertEqual(self.r.cmd("SINTERSTORE", "d", "a", "a"), 2)
        self.assertEqual(self.r.cmd("TTL", "d"), -1)

    def test_store_of_an_empty_result_deletes_the_destination(self):
        self.sadd("a", "1")
        self.r.cmd("SET", "d1", "x")
        self.sadd("d2", "z")
        self.assertEqual(self.r.cmd("SINTERSTORE", "d1", "a", "nokey"), 0)
        self.assertEqual(self.r.cmd("SDIFFSTORE", "d2", "a", "a"), 0)
        self.assertEqual(self.r.cmd("SUNIONSTORE", "d3", "nokey"), 0)
        self.assertEqual(self.r.cmd("EXISTS", "d1", "d2", "d3"), 0)

    def test_sintercard_limit_and_errors(self):
        self.sadd("a", *range(20))
        self.sadd("b", *range(10, 40))
        self.assertEqual(self.r.cmd("SINTERCARD", "2", "a", "b"), 10)
        self.assertEqual(self.r.cmd("SINTERCARD", "2", "a", "b", "LIMIT", "0"), 10)
        self.assertEqual(self.r.cmd("SINTERCARD", "2", "a", "b", "limit", "3"), 3)
        self.assertEqual(self.r.cmd("SINTERCARD", "2", "a", "b", "LIMIT", "100"), 10)
        self.assertEqual(self.r.cmd("SINTERCARD", "2", "a", "b", "LIMIT", "1", "LIMIT", "5"), 5)
        numkeys = "ERR numkeys should be greater than 0"
        self.assertError(self.r.cmd("SINTERCARD", "0", "a"), numkeys)
        self.assertError(self.r.cmd("SINTERCARD", "-1", "a"), numkeys)
        self.assertError(self.r.cmd("SINTERCARD", "x", "a"), numkeys)
        self.assertError(self.r.cmd("SINTERCARD", "99999999999999999999", "a"), numkeys)
        self.assertError(self.r.cmd("SINTERCARD", "3", "a", "b"),
                         "ERR Number of keys can't be greater than number of args")
        limit = "ERR LIMIT can't be negative"
        self.assertError(self.r.cmd("SINTERCARD", "2", "a", "b", "LIMIT", "-1"), limit)
        self.assertError(self.r.cmd("SINTERCARD", "2", "a", "b", "LIMIT", "x"), limit)
        self.assertError(self.r.cmd("SINTERCARD", "1", "nokey", "LIMIT", "x"), limit)
        self.assertError(self.r.cmd("SINTERCARD", "2", "a", "b", "LIMIT"), SYNTAX)
        self.assertError(self.r.cmd("SINTERCARD", "2", "a", "b", "FOO", "1"), SYNTAX)
        self.assertError(self.r.cmd("SINTERCARD", "1", "a", "b"), SYNTAX)

    def test_sintercard_across_many_keys(self):
        keys = ["card:%d" % i for i in range(8)]
        for i, k in enumerate(keys):
            self.sadd(k, *range(i, 100))
        self.assertEqual(self.r.cmd("SINTERCARD", len(keys), *keys), 93)
        self.assertEqual(self.r.cmd("SINTERCARD", len(keys), *keys, "LIMIT", "7"), 7)
        self.assertEqual(self.r.cmd("SINTERCARD", "2", keys[0], "card:missing"), 0)
        self.assertError(self.r.cmd("SINTERCARD", "2", *keys[:4]), SYNTAX)
        self.assertError(self.r.cmd("SINTERCARD", "3", *keys[:3], "LIMIT", "-2"),
                         "ERR LIMIT can't be negative")

    def test_large_sets_across_keys(self):
        for i in range(4):
            for j in range(0, 3000, 1000):
                self.sadd("L:%d" % i, *["x%d" % n for n in range(i * 500 + j, i * 500 + j + 1000)])
        keys = ["L:%d" % i for i in range(4)]
        self.assertEqual(self.r.cmd("SUNIONSTORE", "L:u", *keys), 4500)
        self.assertEqual(self.r.cmd("SINTERSTORE", "L:i", *keys), 1500)
        self.assertEqual(self.r.cmd("SDIFFSTORE", "L:d", *keys), 500)
        self.assertEqual(len(self.r.cmd("SUNION", *keys)), 4500)
        self.assertEqual(self.r.cmd("SINTERCARD", 4, *keys), 1500)

    def test_store_to_many_destinations(self):
        self.sadd("sa", "1", "2", "x")
        self.sadd("sb", "2", "x", "y")
        for i in range(16):
            dst = "many:%d" % i
            self.assertEqual(self.r.cmd("SUNIONSTORE", dst, "sa", "sb"), 4)
            self.assertEqual(self.r.cmd("SINTERSTORE", dst, "sa", "sb", dst), 2)
            self.assertEqual(self.smembers(dst), b("2", "x"))
            self.assertEqual(self.r.cmd("SDIFFSTORE", dst, "sa", dst), 1)
            self.assertEqual(self.smembers(dst), b("1"))

    def test_keyspace_hits_and_misses_of_read_commands(self):
        def stats():
            info = self.r.cmd("INFO", "stats").decode()
            fields = dict(line.split(":", 1) for line in info.splitlines() if ":" in line)
            return int(fields["keyspace_hits"]), int(fields["keyspace_misses"])

        self.sadd("hm:a", "1")
        h0, m0 = stats()
        self.r.cmd("SCARD", "hm:a")
        self.r.cmd("SISMEMBER", "hm:none", "1")
        self.r.cmd("SINTER", "hm:a", "hm:none", "hm:none2")
        self.r.cmd("SADD", "hm:new", "1")
        self.r.cmd("SREM", "hm:none", "1")
        h1, m1 = stats()
        self.assertEqual((h1 - h0, m1 - m0), (2, 3))

    def test_pipelined_store_then_reads_see_its_result(self):
        self.sadd("pa", "1", "2")
        self.sadd("pb", "2", "3")
        c = self.client()
        c.send(b"".join(encode(*cmd) for cmd in (
            ("SUNIONSTORE", "pd", "pa", "pb"), ("SCARD", "pd"),
            ("SINTERSTORE", "pd", "pa", "pb"), ("SMEMBERS", "pd"),
            ("SDIFFSTORE", "pd", "pa", "pa"), ("EXISTS", "pd"))))
        self.assertEqual(c.read_replies(6), [3, 3, 1, [b"2"], 0, 0])


class SetScanTests(SetCase):

    def scan_all(self, key, *opts):
        cursor, seen, calls = b"0", [], 0
        while True:
            cursor, items = self.r.cmd("SSCAN", key, cursor, *opts)
            seen += items
            calls += 1
            if cursor == b"0":
                return seen, calls

    def test_sscan_of_a_large_set_returns_every_member(self):
        items = ["m%d" % i for i in range(1000)]
        self.sadd("s", *items)
        seen, calls = self.scan_all("s", "COUNT", "20")
        self.assertEqual(set(seen), b(*items))
        self.assertGreater(calls, 10)

    def test_sscan_guarantee_while_the_set_grows_and_shrinks(self):
        self.sadd("s", *["m%d" % i for i in range(500)])
        cursor, seen, step = b"0", set(), 0
        while True:
            cursor, items = self.r.cmd("SSCAN", "s", cursor, "COUNT", "15")
            seen |= set(items)
            step += 1
            if step % 3 == 0:
                self.sadd("s", *["n%d_%d" % (step, i) for i in range(40)])
            if step % 5 == 0:
                self.r.cmd("SREM", "s", *["n%d_%d" % (step - 2, i) for i in range(40)])
            if cursor == b"0":
                break
        self.assertTrue(b(*["m%d" % i for i in range(500)]) <= seen)

    def test_sscan_match(self):
        self.sadd("s", *["m%d" % i for i in range(300)])
        seen, _ = self.scan_all("s", "MATCH", "m1*", "COUNT", "50")
        self.assertEqual(set(seen), {x for x in b(*["m%d" % i for i in range(300)])
                                     if x.startswith(b"m1")})
        self.sadd("ints", *range(100))
        seen, _ = self.scan_all("ints", "MATCH", "*7")
        self.assertEqual(set(seen), b(*[i for i in range(100) if i % 10 == 7]))

    def test_sscan_of_a_small_set_returns_all_at_once(self):
        self.sadd("ints", 1, 2, 3)
        self.assertEqual(self.r.cmd("SSCAN", "ints", "0", "COUNT", "1")[0], b"0")
        self.assertEqual(set(self.r.cmd("SSCAN", "ints", "0", "COUNT", "1")[1]), b(1, 2, 3))
        self.assertEqual(self.r.cmd("SSCAN", "ints", "0", "MATCH", "*"),
                         self.r.cmd("SSCAN", "ints", "0"))

    def test_sscan_replies_and_errors(self):
        self.sadd("s", "a")
        self.assertEqual(self.r.raw("SSCAN", "nokey", "0"), b"*2\r\n$1\r\n0\r\n*0\r\n")
        self.assertEqual(self.r.raw("SSCAN", "s", "0"), b"*2\r\n$1\r\n0\r\n*1\r\n$1\r\na\r\n")
        self.assertError(self.r.cmd("SSCAN", "s", "x"), "ERR invalid cursor")
        self.assertError(self.r.cmd("SSCAN", "s", " 1"), "ERR invalid cursor")
        self.assertError(self.r.cmd("SSCAN", "s", "18446744073709551616"), "ERR invalid cursor")
        self.assertError(self.r.cmd("SSCAN", "s", "0", "COUNT", "x"), NOT_INTEGER)
        self.assertError(self.r.cmd("SSCAN", "s", "0", "COUNT", "0"), SYNTAX)
        self.assertError(self.r.cmd("SSCAN", "s", "0", "COUNT", "-1"), SYNTAX)
        self.assertError(self.r.cmd("SSCAN", "s", "0", "MATCH"), SYNTAX)
        self.assertError(self.r.cmd("SSCAN", "s", "0", "TYPE", "string"), SYNTAX)
        self.assertError(self.r.cmd("SSCAN", "s", "0", "FOO", "1"), SYNTAX)
        # the cursor is checked first, options only for an existing set
        self.assertError(self.r.cmd("SSCAN", "nokey", "x"), "ERR invalid cursor")
        self.assertEqual(self.r.cmd("SSCAN", "nokey", "0", "COUNT", "0"), [b"0", []])
        self.r.cmd("SET", "str", "x")
        self.assertError(self.r.cmd("SSCAN", "str", "0", "COUNT", "0"), WRONGTYPE)


class SetResp3Tests(SetCase):

    def setUp(self):
        super().setUp()
        self.r.cmd("HELLO", "3")

    def test_set_replies_are_resp3_sets(self):
        self.sadd("a", "x", "y")
        self.sadd("b", "y", "z")
        for cmd in (("SMEMBERS", "a"), ("SINTER", "a", "b"), ("SUNION", "a", "b"),
                    ("SDIFF", "a", "b"), ("SPOP", "b", "1")):
            self.assertIsInstance(self.r.cmd(*cmd), RespSet, cmd)
        self.assertEqual(self.r.raw("SMEMBERS", "nokey"), b"~0\r\n")
        self.assertEqual(self.r.raw("SINTER", "a", "nokey"), b"~0\r\n")
        self.assertEqual(self.r.raw("SPOP", "nokey", "2"), b"~0\r\n")
        self.assertEqual(self.r.raw("SPOP", "a", "0"), b"~0\r\n")
        self.sadd("b", "y")
        self.assertEqual(self.r.raw("SINTER", "a", "b"), b"~1\r\n$1\r\ny\r\n")

    def test_array_and_scalar_replies(self):
        self.sadd("a", "x")
        self.assertEqual(self.r.raw("SRANDMEMBER", "a", "2"), b"*1\r\n$1\r\nx\r\n")
        self.assertEqual(self.r.raw("SRANDMEMBER", "nokey", "2"), b"*0\r\n")
        self.assertEqual(self.r.raw("SRANDMEMBER", "nokey"), b"_\r\n")
        self.assertEqual(self.r.raw("SPOP", "nokey"), b"_\r\n")
        self.assertEqual(self.r.raw("SISMEMBER", "a", "x"), b":1\r\n")
        self.assertEqual(self.r.raw("SMISMEMBER", "a", "x", "y"), b"*2\r\n:1\r\n:0\r\n")
        self.assertEqual(self.r.raw("SSCAN", "a", "0"), b"*2\r\n$1\r\n0\r\n*1\r\n$1\r\nx\r\n")
        self.assertEqual(self.r.raw("SINTERCARD", "1", "a"), b":1\r\n")

    def test_cross_shard_replies_keep_resp3_types(self):
        for i in range(8):
            self.sadd("r3:%d" % i, "common", "own%d" % i)
        keys = ["r3:%d" % i for i in range(8)]
        inter = self.r.cmd("SINTER", *keys)
        self.assertIsInstance(inter, RespSet)
        self.assertEqual(inter, [b"common"])
        union = self.r.cmd("SUNION", *keys)
        self.assertIsInstance(union, RespSet)
        self.assertEqual(len(union), 9)
        self.assertEqual(self.r.raw("SINTER", keys[0], keys[1], "r3:missing"), b"~0\r\n")
        self.assertEqual(self.r.cmd("SINTERSTORE", "r3:d", *keys), 1)


class SetNotificationTests(SetCase):
    server_args = ("--notify-keyspace-events", "KEA")

    def setUp(self):
        super().setUp()
        self.sub = self.client()
        self.sub.send_command("PSUBSCRIBE", "__key*__:*")
        self.sub.read_reply()

    def collect(self, n, quiet=0.15, timeout=5.0):
        out, deadline = [], time.monotonic() + timeout
        while True:
            self.sub.timeout = quiet if len(out) >= n else max(0.01, deadline - time.monotonic())
            try:
                m = self.sub.read_reply()
            except socket.timeout:
                return out
            if isinstance(m, Push) or isinstance(m, list):
                out.append((m[2].decode(), m[3].decode()))

    def expect(self, *events):
        """events: (event, key) pairs; each gives its keyspace and keyevent
        message. Order is checked per channel."""
        want = []
        for event, key in events:
            want.append(("__keyspace@0__:%s" % key, event))
            want.append(("__keyevent@0__:%s" % event, key))
        got = self.collect(len(want))
        self.assertEqual(sorted(got), sorted(want))
        per = {}
        for ch, payload in got:
            per.setdefault(ch, []).append(payload)
        wper = {}
        for ch, payload in want:
            wper.setdefault(ch, []).append(payload)
        self.assertEqual(per, wper)

    def test_sadd_srem_and_del(self):
        self.sadd("s", "a", "b")
        self.expect(("sadd", "s"))
        self.sadd("s", "a")
        self.r.cmd("SREM", "s", "x")
        self.expect()
        self.r.cmd("SREM", "s", "a")
        self.expect(("srem", "s"))
        self.r.cmd("SREM", "s", "b", "c")
        self.expect(("srem", "s"), ("del", "s"))

    def test_spop_events(self):
        self.sadd("s", "a", "b", "c")
        self.collect(2)
        self.r.cmd("SPOP", "s")
        self.expect(("spop", "s"))
        self.r.cmd("SPOP", "s", "0")
        self.expect()
        self.r.cmd("SPOP", "s", "5")
        self.expect(("spop", "s"), ("del", "s"))

    def test_smove_events(self):
        for src, dst in (("s1", "d1"), ("mvsrc", "mvdst"), ("{x}a", "{x}b")):
            self.sadd(src, "a", "b")
            self.sadd(dst, "b")
            self.collect(4)
            self.r.cmd("SMOVE", src, dst, "a")
            self.expect(("srem", src), ("sadd", dst))
            self.r.cmd("SMOVE", src, dst, "b")
            self.expect(("srem", src), ("del", src))

    def test_store_events(self):
        self.sadd("a", "1", "2")
        self.sadd("b", "2", "3")
        self.collect(4)
        for cmd, event in (("SINTERSTORE", "sinterstore"), ("SUNIONSTORE", "sunionstore"),
                           ("SDIFFSTORE", "sdiffstore")):
            self.r.cmd(cmd, "dest", "a", "b")
            self.expect((event, "dest"))
        self.r.cmd("SINTERSTORE", "dest", "a", "nokey")
        self.expect(("del", "dest"))
        self.r.cmd("SINTERSTORE", "dest", "a", "nokey")
        self.expect()


class SetEncodingTests(SetCase):
    """OBJECT ENCODING after the operations that convert a set (never back).
    Redis 7.0 and shardis agree on intset and hashtable; shardis also has
    Redis 7.2's listpack for small sets of strings."""

    def enc(self, key):
        return self.r.cmd("OBJECT", "ENCODING", key)

    def test_integers_make_an_intset_up_to_512(self):
        self.sadd("s", *range(512))
        self.assertEqual(self.enc("s"), b"intset")
        self.sadd("s", 0)
        self.assertEqual(self.enc("s"), b"intset")
        self.sadd("s", 512)
        self.assertEqual(self.enc("s"), b"hashtable")
        self.r.cmd("SREM", "s", *range(500))
        self.assertEqual(self.enc("s"), b"hashtable")

    def test_big_strings_and_many_strings_make_a_hashtable(self):
        self.sadd("long", "x" * 65)
        self.assertEqual(self.enc("long"), b"hashtable")
        self.sadd("many", *["m%d" % i for i in range(129)])
        self.assertEqual(self.enc("many"), b"hashtable")
        self.sadd("ints", *range(200))
        self.sadd("ints", "x")
        self.assertEqual(self.enc("ints"), b"hashtable")

    def test_store_results_take_the_encoding_of_their_members(self):
        self.sadd("a", *range(600))
        self.sadd("b", *range(100))
        self.r.cmd("SINTERSTORE", "i", "a", "b")
        self.assertEqual(self.enc("i"), b"intset")
        self.r.cmd("SUNIONSTORE", "u", "a", "b")
        self.assertEqual(self.enc("u"), b"hashtable")
        for i in range(6):
            self.sadd("ek:%d" % i, *range(i * 100, i * 100 + 120))
        self.r.cmd("SUNIONSTORE", "ek:u", *["ek:%d" % i for i in range(6)])
        self.assertEqual(self.enc("ek:u"), b"hashtable")
        self.r.cmd("SDIFFSTORE", "ek:d", "ek:0", "ek:1")
        self.assertEqual(self.enc("ek:d"), b"intset")

    def test_config_set_max_intset_entries(self):
        self.r.cmd("CONFIG", "SET", "set-max-intset-entries", "4")
        try:
            self.sadd("s", 1, 2, 3, 4)
            self.assertEqual(self.enc("s"), b"intset")
            self.sadd("s", 5)
            self.assertEqual(self.enc("s"), b"listpack" if not reference_mode() else b"hashtable")
        finally:
            self.r.cmd("CONFIG", "SET", "set-max-intset-entries", "512")

    @unittest.skipIf(reference_mode(), "listpack sets are Redis 7.2's (shardis only)")
    def test_small_sets_of_strings_are_listpacks(self):
        self.sadd("s", "a")
        self.assertEqual(self.enc("s"), b"listpack")
        self.sadd("s", *["m%d" % i for i in range(126)])
        self.assertEqual(self.enc("s"), b"listpack")  # 127 members
        self.sadd("s", "x" * 64)
        self.assertEqual(self.enc("s"), b"listpack")  # 128 members, 64 bytes
        self.sadd("s", "one more")
        self.assertEqual(self.enc("s"), b"hashtable")
        self.sadd("t", "a")
        self.sadd("t", "x" * 65)
        self.assertEqual(self.enc("t"), b"hashtable")

    @unittest.skipIf(reference_mode(), "listpack sets are Redis 7.2's (shardis only)")
    def test_an_intset_meeting_a_string_becomes_a_listpack_if_it_fits(self):
        self.sadd("s", *range(127))
        self.sadd("s", "x")
        self.assertEqual(self.enc("s"), b"listpack")
        self.r.cmd("SREM", "s", "x")
        self.assertEqual(self.enc("s"), b"listpack")
        self.sadd("t", *range(128))
        self.sadd("t", "x")
        self.assertEqual(self.enc("t"), b"hashtable")

    @unittest.skipIf(reference_mode(), "listpack sets are Redis 7.2's (shardis only)")
    def test_listpack_across_shards_and_store(self):
        for i in range(6):
            self.sadd("lp:%d" % i, "a", "b%d" % i)
        self.r.cmd("SUNIONSTORE", "lp:u", *["lp:%d" % i for i in range(6)])
        self.assertEqual(self.enc("lp:u"), b"listpack")
        self.r.cmd("SMOVE", "lp:0", "lp:new", "a")
        self.assertEqual(self.enc("lp:new"), b"listpack")


if __name__ == "__main__":
    unittest.main()
