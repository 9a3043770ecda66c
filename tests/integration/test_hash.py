"""Hash commands: Redis 7.0 behaviour, reply types and exact error strings.

Every test passes against redis-server 7.0 (SHARDIS_REFERENCE=redis) and
against shardis with any shard count. The OBJECT ENCODING checks are in
HashEncodingTests, which sets the listpack thresholds explicitly (Redis 7.0's
built-in hash-max-listpack-entries is 512, its redis.conf says 128).
"""

import os
import socket
import sys
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import (Error, Map, ServerTestCase, collect_messages, pairs_to_map,  # noqa: E402
                     reference_mode)

WRONGTYPE = "WRONGTYPE Operation against a key holding the wrong kind of value"
NOT_INTEGER = "ERR value is not an integer or out of range"
NOT_FLOAT = "ERR value is not a valid float"
HASH_NOT_INTEGER = "ERR hash value is not an integer"
HASH_NOT_FLOAT = "ERR hash value is not a float"
OVERFLOW = "ERR increment or decrement would overflow"
SYNTAX = "ERR syntax error"
INVALID_CURSOR = "ERR invalid cursor"


def arity(cmd):
    return "ERR wrong number of arguments for '%s' command" % cmd


def b(x):
    return x if isinstance(x, bytes) else str(x).encode()


class HashCase(ServerTestCase):

    def hset(self, key, mapping, c=None):
        args = []
        for k, v in mapping.items():
            args += [k, v]
        return (c or self.r).cmd("HSET", key, *args)

    def hgetall(self, key, c=None):
        reply = (c or self.r).cmd("HGETALL", key)
        if isinstance(reply, dict):
            return dict(reply)
        return pairs_to_map(reply)

    def full_scan(self, key, *opts, between=None):
        """Every field,value pair HSCAN returns (a list: repeats kept)."""
        cursor, calls, out = b"0", 0, []
        while True:
            reply = self.r.cmd("HSCAN", key, cursor, *opts)
            self.assertIsInstance(reply, list, reply)
            cursor, items = reply
            self.assertEqual(len(items) % 2, 0)
            out += [(items[i], items[i + 1]) for i in range(0, len(items), 2)]
            calls += 1
            if between:
                between(calls)
            if cursor == b"0":
                return out, calls


# --------------------------------------------------------------------------
# HSET HMSET HSETNX HGET HMGET HDEL HLEN HSTRLEN HEXISTS
# --------------------------------------------------------------------------

class HashSetGetTests(HashCase):

    def test_hset_returns_number_of_new_fields(self):
        self.assertEqual(self.r.raw("HSET", "h", "a", "1"), b":1\r\n")
        self.assertEqual(self.r.cmd("HSET", "h", "a", "2", "b", "3", "c", "4"), 2)
        self.assertEqual(self.r.cmd("HSET", "h", "a", "x"), 0)
        self.assertEqual(self.hgetall("h"), {b"a": b"x", b"b": b"3", b"c": b"4"})

    def test_hset_with_repeated_field_in_one_call_keeps_last(self):
        self.assertEqual(self.r.cmd("HSET", "h", "a", "1", "a", "2"), 1)
        self.assertEqual(self.r.cmd("HGET", "h", "a"), b"2")
        self.assertEqual(self.r.cmd("HLEN", "h"), 1)

    def test_hset_arity(self):
        self.assertError(self.r.cmd("HSET", "h", "a"), arity("hset"))
        self.assertError(self.r.cmd("HSET", "h"), arity("hset"))
        self.assertError(self.r.cmd("HSET", "h", "a", "1", "b"), arity("hset"))
        self.assertEqual(self.r.cmd("EXISTS", "h"), 0)

    def test_hmset_replies_ok(self):
        self.assertOK(self.r.cmd("HMSET", "h", "a", "1", "b", "2"))
        self.assertOK(self.r.cmd("HMSET", "h", "a", "3"))
        self.assertEqual(self.hgetall("h"), {b"a": b"3", b"b": b"2"})
        self.assertError(self.r.cmd("HMSET", "h", "a"), arity("hmset"))
        self.assertError(self.r.cmd("HMSET", "h", "a", "1", "b"), arity("hmset"))

    def test_hsetnx(self):
        self.assertEqual(self.r.cmd("HSETNX", "h", "a", "1"), 1)
        self.assertEqual(self.r.cmd("HSETNX", "h", "a", "2"), 0)
        self.assertEqual(self.r.cmd("HGET", "h", "a"), b"1")
        self.assertEqual(self.r.cmd("HSETNX", "h", "b", "2"), 1)
        self.assertEqual(self.r.cmd("HLEN", "h"), 2)
        self.assertError(self.r.cmd("HSETNX", "h", "a"), arity("hsetnx"))

    def test_hget_missing_key_and_field_are_nil(self):
        self.assertIsNone(self.r.cmd("HGET", "nokey", "a"))
        self.assertEqual(self.r.last_raw, b"$-1\r\n")
        self.r.cmd("HSET", "h", "a", "1")
        self.assertIsNone(self.r.cmd("HGET", "h", "b"))
        self.assertEqual(self.r.raw("HGET", "h", "a"), b"$1\r\n1\r\n")
        self.assertError(self.r.cmd("HGET", "h"), arity("hget"))

    def test_fields_and_values_are_binary_safe(self):
        field = b"f\x00\r\n*1\r\n"
        value = bytes(range(256))
        self.assertEqual(self.r.cmd("HSET", b"k\x00", field, value, b"", b""), 2)
        self.assertEqual(self.r.cmd("HGET", b"k\x00", field), value)
        self.assertEqual(self.r.raw("HGET", b"k\x00", b""), b"$0\r\n\r\n")
        self.assertEqual(self.r.cmd("HSTRLEN", b"k\x00", field), 256)
        self.assertEqual(self.r.cmd("HEXISTS", b"k\x00", b""), 1)
        self.assertEqual(self.r.cmd("HEXISTS", b"k\x00", b"f"), 0)

    def test_integer_like_values_round_trip_exactly(self):
        values = ["0", "-0", "007", "12345", "-9223372036854775808", "9223372036854775807",
                  "9223372036854775808", "1.5", " 1", "1e3", "+1"]
        for v in values:
            self.r.cmd("HSET", "h", v, v)
        for v in values:
            self.assertEqual(self.r.cmd("HGET", "h", v), v.encode())
            self.assertEqual(self.r.cmd("HSTRLEN", "h", v), len(v))
        self.assertEqual(self.r.cmd("HLEN", "h"), len(values))

    def test_large_value_round_trips(self):
        value = os.urandom(1 << 20)
        self.assertEqual(self.r.cmd("HSET", "h", "big", value, "small", "x"), 2)
        self.assertEqual(self.r.cmd("HGET", "h", "big"), value)
        self.assertEqual(self.r.cmd("HSTRLEN", "h", "big"), 1 << 20)
        self.assertEqual(self.r.cmd("HGET", "h", "small"), b"x")

    def test_hmget(self):
        self.r.cmd("HSET", "h", "a", "1", "b", "2")
        self.assertEqual(self.r.cmd("HMGET", "h", "a", "x", "b", "a"), [b"1", None, b"2", b"1"])
        self.assertEqual(self.r.raw("HMGET", "h", "x"), b"*1\r\n$-1\r\n")
        self.assertEqual(self.r.cmd("HMGET", "nokey", "a", "b"), [None, None])
        self.assertError(self.r.cmd("HMGET", "h"), arity("hmget"))

    def test_hdel(self):
        self.r.cmd("HSET", "h", "a", "1", "b", "2", "c", "3")
        self.assertEqual(self.r.cmd("HDEL", "h", "a", "x", "a"), 1)
        self.assertEqual(self.r.cmd("HDEL", "h", "x"), 0)
        self.assertEqual(self.r.cmd("HLEN", "h"), 2)
        self.assertEqual(self.r.cmd("HDEL", "nokey", "a"), 0)
        self.assertError(self.r.cmd("HDEL", "h"), arity("hdel"))

    def test_hdel_of_last_field_deletes_the_key(self):
        self.r.cmd("HSET", "h", "a", "1", "b", "2")
        self.assertEqual(self.r.cmd("HDEL", "h", "a", "b", "c"), 2)
        self.assertEqual(self.r.cmd("EXISTS", "h"), 0)
        self.assertEqual(self.r.cmd("TYPE", "h"), "none")
        self.assertEqual(self.r.cmd("HLEN", "h"), 0)

    def test_hdel_of_last_field_of_a_large_hash_deletes_the_key(self):
        fields = ["f%d" % i for i in range(600)]
        self.hset("h", {f: "v" for f in fields})
        self.assertEqual(self.r.cmd("HDEL", "h", *fields[1:]), 599)
        self.assertEqual(self.r.cmd("HLEN", "h"), 1)
        self.assertEqual(self.r.cmd("HDEL", "h", "f0"), 1)
        self.assertEqual(self.r.cmd("EXISTS", "h"), 0)

    def test_hlen_hstrlen_hexists(self):
        self.assertEqual(self.r.cmd("HLEN", "nokey"), 0)
        self.assertEqual(self.r.cmd("HSTRLEN", "nokey", "a"), 0)
        self.assertEqual(self.r.cmd("HEXISTS", "nokey", "a"), 0)
        self.r.cmd("HSET", "h", "a", "hello", "n", "-123")
        self.assertEqual(self.r.cmd("HLEN", "h"), 2)
        self.assertEqual(self.r.cmd("HSTRLEN", "h", "a"), 5)
        self.assertEqual(self.r.cmd("HSTRLEN", "h", "n"), 4)
        self.assertEqual(self.r.cmd("HSTRLEN", "h", "x"), 0)
        self.assertEqual(self.r.raw("HEXISTS", "h", "a"), b":1\r\n")
        self.assertEqual(self.r.raw("HEXISTS", "h", "x"), b":0\r\n")
        self.assertError(self.r.cmd("HLEN", "h", "x"), arity("hlen"))
        self.assertError(self.r.cmd("HSTRLEN", "h"), arity("hstrlen"))
        self.assertError(self.r.cmd("HEXISTS", "h"), arity("hexists"))

    def test_writes_keep_the_ttl(self):
        self.r.cmd("HSET", "h", "a", "1")
        self.r.cmd("EXPIRE", "h", "100")
        self.r.cmd("HSET", "h", "b", "2")
        self.r.cmd("HINCRBY", "h", "c", "1")
        self.r.cmd("HDEL", "h", "a")
        self.assertTrue(0 < self.r.cmd("TTL", "h") <= 100)

    def test_expired_hash_is_gone(self):
        self.r.cmd("HSET", "h", "a", "1")
        self.r.cmd("PEXPIRE", "h", "20")
        time.sleep(0.05)
        self.assertIsNone(self.r.cmd("HGET", "h", "a"))
        self.assertEqual(self.r.cmd("HSET", "h", "b", "2"), 1)
        self.assertEqual(self.hgetall("h"), {b"b": b"2"})
        self.assertEqual(self.r.cmd("TTL", "h"), -1)

    def test_type_is_hash(self):
        self.r.cmd("HSET", "h", "a", "1")
        self.assertEqual(self.r.cmd("TYPE", "h"), "hash")


# --------------------------------------------------------------------------
# HKEYS HVALS HGETALL
# --------------------------------------------------------------------------

class HashGetAllTests(HashCase):

    def test_missing_key_is_empty(self):
        self.assertEqual(self.r.raw("HKEYS", "nokey"), b"*0\r\n")
        self.assertEqual(self.r.raw("HVALS", "nokey"), b"*0\r\n")
        self.assertEqual(self.r.raw("HGETALL", "nokey"), b"*0\r\n")

    def check_all(self, n):
        expected = {("field-%d" % i).encode(): ("%d" % (i * 3)).encode() for i in range(n)}
        self.hset("h", expected)
        keys = self.r.cmd("HKEYS", "h")
        vals = self.r.cmd("HVALS", "h")
        flat = self.r.cmd("HGETALL", "h")
        self.assertEqual(len(keys), n)
        self.assertEqual(set(keys), set(expected))
        self.assertEqual(sorted(vals), sorted(expected.values()))
        self.assertEqual(pairs_to_map(flat), expected)
        # the three walks see the same order
        self.assertEqual(keys, flat[0::2])
        self.assertEqual(vals, flat[1::2])

    def test_small_hash(self):
        self.check_all(5)

    def test_large_hash(self):
        self.check_all(1000)

    def test_small_hash_keeps_insertion_order(self):
        self.r.cmd("HSET", "h", "z", "1", "a", "2", "m", "3")
        self.assertEqual(self.r.cmd("HKEYS", "h"), [b"z", b"a", b"m"])
        self.r.cmd("HDEL", "h", "a")
        self.r.cmd("HSET", "h", "a", "4")
        self.assertEqual(self.r.cmd("HGETALL", "h"), [b"z", b"1", b"m", b"3", b"a", b"4"])

    def test_arity(self):
        self.assertError(self.r.cmd("HKEYS"), arity("hkeys"))
        self.assertError(self.r.cmd("HVALS", "a", "b"), arity("hvals"))
        self.assertError(self.r.cmd("HGETALL", "a", "b"), arity("hgetall"))


# --------------------------------------------------------------------------
# HINCRBY HINCRBYFLOAT
# --------------------------------------------------------------------------

class HashIncrTests(HashCase):

    def test_hincrby_creates_key_and_field(self):
        self.assertEqual(self.r.cmd("HINCRBY", "h", "n", "5"), 5)
        self.assertEqual(self.r.cmd("HINCRBY", "h", "n", "-7"), -2)
        self.assertEqual(self.r.cmd("HINCRBY", "h", "m", "0"), 0)
        self.assertEqual(self.r.cmd("HGET", "h", "n"), b"-2")
        self.assertEqual(self.r.cmd("HGET", "h", "m"), b"0")

    def test_hincrby_on_a_large_hash(self):
        self.hset("h", {"f%d" % i: i for i in range(300)})
        self.assertEqual(self.r.cmd("HINCRBY", "h", "f299", "1"), 300)
        self.assertEqual(self.r.cmd("HINCRBY", "h", "new", "-1"), -1)
        self.assertEqual(self.r.cmd("HGET", "h", "f299"), b"300")

    def test_hincrby_errors(self):
        self.r.cmd("HSET", "h", "s", "abc", "sp", " 1", "big", "9223372036854775807",
                   "small", "-9223372036854775808", "f", "1.5", "lead", "01")
        self.assertError(self.r.cmd("HINCRBY", "h", "s", "1"), HASH_NOT_INTEGER)
        self.assertError(self.r.cmd("HINCRBY", "h", "sp", "1"), HASH_NOT_INTEGER)
        self.assertError(self.r.cmd("HINCRBY", "h", "f", "1"), HASH_NOT_INTEGER)
        self.assertError(self.r.cmd("HINCRBY", "h", "lead", "1"), HASH_NOT_INTEGER)
        self.assertError(self.r.cmd("HINCRBY", "h", "big", "1"), OVERFLOW)
        self.assertError(self.r.cmd("HINCRBY", "h", "small", "-1"), OVERFLOW)
        self.assertEqual(self.r.cmd("HINCRBY", "h", "big", "-1"), 9223372036854775806)
        self.assertError(self.r.cmd("HINCRBY", "h", "x", "abc"), NOT_INTEGER)
        self.assertError(self.r.cmd("HINCRBY", "h", "x", "1.0"), NOT_INTEGER)
        self.assertError(self.r.cmd("HINCRBY", "h", "x", "9223372036854775808"), NOT_INTEGER)
        self.assertError(self.r.cmd("HINCRBY", "nokey", "x", ""), NOT_INTEGER)
        self.assertEqual(self.r.cmd("EXISTS", "nokey"), 0)
        self.assertIsNone(self.r.cmd("HGET", "h", "x"))
        self.assertError(self.r.cmd("HINCRBY", "h", "x"), arity("hincrby"))

    def test_hincrbyfloat(self):
        self.assertEqual(self.r.raw("HINCRBYFLOAT", "h", "f", "10.5"), b"$4\r\n10.5\r\n")
        self.assertEqual(self.r.cmd("HINCRBYFLOAT", "h", "f", "0.25"), b"10.75")
        self.assertEqual(self.r.cmd("HINCRBYFLOAT", "h", "f", "-5"), b"5.75")
        self.assertEqual(self.r.cmd("HINCRBYFLOAT", "h", "f", "5.0e3"), b"5005.75")
        self.assertEqual(self.r.cmd("HINCRBYFLOAT", "h", "f", "-5005.75"), b"0")
        self.assertEqual(self.r.cmd("HGET", "h", "f"), b"0")
        # long double arithmetic, printed with %.17Lf, as Redis
        self.assertEqual(self.r.cmd("HINCRBYFLOAT", "h", "g", "10.5"), b"10.5")
        self.assertEqual(self.r.cmd("HINCRBYFLOAT", "h", "g", "0.1"), b"10.6")
        self.assertEqual(self.r.cmd("HINCRBYFLOAT", "h", "g", "4995"), b"5005.60000000000000009")
        self.r.cmd("HSET", "h", "i", "17")
        self.assertEqual(self.r.cmd("HINCRBYFLOAT", "h", "i", "0.25"), b"17.25")
        self.assertEqual(self.r.cmd("HINCRBYFLOAT", "h", "j", "3"), b"3")
        self.assertEqual(self.r.cmd("HINCRBYFLOAT", "h", "k", "1e3"), b"1000")
        self.assertEqual(self.r.cmd("HINCRBYFLOAT", "h", "k", "0x10"), b"1016")

    def test_hincrbyfloat_errors(self):
        self.r.cmd("HSET", "h", "s", "abc", "sp", "1 ", "huge", "1.1e4932")
        self.assertError(self.r.cmd("HINCRBYFLOAT", "h", "s", "1"), HASH_NOT_FLOAT)
        self.assertError(self.r.cmd("HINCRBYFLOAT", "h", "sp", "1"), HASH_NOT_FLOAT)
        self.assertError(self.r.cmd("HINCRBYFLOAT", "h", "x", "abc"), NOT_FLOAT)
        self.assertError(self.r.cmd("HINCRBYFLOAT", "h", "x", ""), NOT_FLOAT)
        self.assertError(self.r.cmd("HINCRBYFLOAT", "h", "x", "nan"), NOT_FLOAT)
        self.assertError(self.r.cmd("HINCRBYFLOAT", "h", "x", "inf"),
                         "ERR value is NaN or Infinity")
        self.assertError(self.r.cmd("HINCRBYFLOAT", "h", "x", "-inf"),
                         "ERR value is NaN or Infinity")
        self.assertError(self.r.cmd("HINCRBYFLOAT", "h", "huge", "1.1e4932"),
                         "ERR increment would produce NaN or Infinity")
        self.assertEqual(self.r.cmd("HGET", "h", "huge"), b"1.1e4932")
        self.assertError(self.r.cmd("HINCRBYFLOAT", "nokey", "x", "inf"),
                         "ERR value is NaN or Infinity")
        self.assertEqual(self.r.cmd("EXISTS", "nokey"), 0)
        self.assertError(self.r.cmd("HINCRBYFLOAT", "h", "x"), arity("hincrbyfloat"))

    def test_hincrbyfloat_of_a_huge_value_prints_all_digits(self):
        self.r.cmd("HSET", "h", "f", "1e400")
        reply = self.r.cmd("HINCRBYFLOAT", "h", "f", "1")
        self.assertEqual(len(reply), 401)
        self.assertTrue(reply.startswith(b"1000000000000000000"))
        self.assertEqual(self.r.cmd("HGET", "h", "f"), reply)


# --------------------------------------------------------------------------
# HRANDFIELD
# --------------------------------------------------------------------------

class HashRandFieldTests(HashCase):

    def fill(self, n):
        data = {("f%d" % i).encode(): ("v%d" % i).encode() for i in range(n)}
        self.hset("h", data)
        return data

    def test_without_count(self):
        self.assertIsNone(self.r.cmd("HRANDFIELD", "nokey"))
        self.assertEqual(self.r.last_raw, b"$-1\r\n")
        for n in (3, 300):
            self.r.cmd("DEL", "h")
            data = self.fill(n)
            seen = {self.r.cmd("HRANDFIELD", "h") for _ in range(100)}
            self.assertTrue(seen <= set(data))
            self.assertTrue(len(seen) > 1)

    def test_missing_key_or_zero_count_is_empty_array(self):
        self.assertEqual(self.r.raw("HRANDFIELD", "nokey", "5"), b"*0\r\n")
        self.assertEqual(self.r.raw("HRANDFIELD", "nokey", "-5", "WITHVALUES"), b"*0\r\n")
        self.fill(3)
        self.assertEqual(self.r.raw("HRANDFIELD", "h", "0"), b"*0\r\n")
        self.assertEqual(self.r.raw("HRANDFIELD", "h", "0", "withvalues"), b"*0\r\n")

    def check_positive(self, n):
        data = self.fill(n)
        for count in (1, n // 3, n // 3 + 1, n - 1, n, n + 10):
            got = self.r.cmd("HRANDFIELD", "h", count)
            self.assertEqual(len(got), min(count, n))
            self.assertEqual(len(set(got)), len(got))
            self.assertTrue(set(got) <= set(data))
            got = self.r.cmd("HRANDFIELD", "h", count, "WITHVALUES")
            self.assertEqual(len(got), 2 * min(count, n))
            pairs = pairs_to_map(got)
            self.assertEqual(len(pairs), min(count, n))
            for f, v in pairs.items():
                self.assertEqual(data[f], v)

    def test_positive_count_small_hash(self):
        self.check_positive(10)

    def test_positive_count_large_hash(self):
        self.check_positive(900)

    def check_negative(self, n):
        data = self.fill(n)
        got = self.r.cmd("HRANDFIELD", "h", -1000)
        self.assertEqual(len(got), 1000)
        self.assertTrue(set(got) <= set(data))
        self.assertTrue(len(set(got)) > min(n, 100) // 2)
        got = self.r.cmd("HRANDFIELD", "h", -50, "withvalues")
        self.assertEqual(len(got), 100)
        for i in range(0, 100, 2):
            self.assertEqual(data[got[i]], got[i + 1])

    def test_negative_count_small_hash(self):
        self.check_negative(5)

    def test_negative_count_large_hash(self):
        self.check_negative(700)

    def test_count_errors(self):
        self.fill(3)
        self.assertError(self.r.cmd("HRANDFIELD", "h", "x"), NOT_INTEGER)
        self.assertError(self.r.cmd("HRANDFIELD", "nokey", "x"), NOT_INTEGER)
        self.assertError(self.r.cmd("HRANDFIELD", "h", "1.5"), NOT_INTEGER)
        self.assertError(self.r.cmd("HRANDFIELD", "h", "-9223372036854775808"),
                         "ERR value is out of range, value must between "
                         "-9223372036854775807 and 9223372036854775807")
        self.assertError(self.r.cmd("HRANDFIELD", "h", "1", "withvalue"), SYNTAX)
        self.assertError(self.r.cmd("HRANDFIELD", "h", "1", "withvalues", "x"), SYNTAX)
        self.assertError(self.r.cmd("HRANDFIELD", "h", "x", "bogus"), NOT_INTEGER)
        self.assertError(self.r.cmd("HRANDFIELD", "h", "-4611686018427387904", "WITHVALUES"),
                         "ERR value is out of range")
        self.assertError(self.r.cmd("HRANDFIELD", "h", "4611686018427387904", "WITHVALUES"),
                         "ERR value is out of range")
        self.assertEqual(len(self.r.cmd("HRANDFIELD", "h", "9223372036854775807")), 3)
        self.assertEqual(len(self.r.cmd("HRANDFIELD", "h", "4611686018427387903",
                                        "WITHVALUES")), 6)


# --------------------------------------------------------------------------
# HSCAN
# --------------------------------------------------------------------------

class HashScanTests(HashCase):

    def test_missing_key(self):
        self.assertEqual(self.r.raw("HSCAN", "nokey", "0"), b"*2\r\n$1\r\n0\r\n*0\r\n")
        # options are not even looked at then
        self.assertEqual(self.r.cmd("HSCAN", "nokey", "0", "COUNT", "0"), [b"0", []])
        self.assertEqual(self.r.cmd("HSCAN", "nokey", "0", "bogus"), [b"0", []])

    def test_small_hash_returns_everything_at_once(self):
        data = {("f%d" % i).encode(): ("%d" % i).encode() for i in range(20)}
        self.hset("h", data)
        cursor, items = self.r.cmd("HSCAN", "h", "0", "COUNT", "1")
        self.assertEqual(cursor, b"0")
        self.assertEqual(pairs_to_map(items), data)
        # whatever the cursor
        cursor, items = self.r.cmd("HSCAN", "h", "12345")
        self.assertEqual((cursor, len(items)), (b"0", 40))

    def test_large_hash_by_cursor(self):
        data = {("f%d" % i).encode(): ("v%d" % i).encode() for i in range(1000)}
        self.hset("h", data)
        got, calls = self.full_scan("h")
        self.assertTrue(calls > 10)
        self.assertEqual(dict(got), data)
        self.assertEqual(len(got), 1000)  # no change: each exactly once
        got, calls2 = self.full_scan("h", "COUNT", "200")
        self.assertEqual(dict(got), data)
        self.assertTrue(calls2 < calls)

    def test_match(self):
        for n in (10, 1000):
            self.r.cmd("DEL", "h")
            data = {("f%d" % i).encode(): b"x" for i in range(n)}
            data[b"other"] = b"y"
            data[b""] = b"empty"
            self.hset("h", data)
            got, _ = self.full_scan("h", "MATCH", "f1*", "COUNT", "50")
            self.assertEqual({f for f, _ in got}, {f for f in data if f.startswith(b"f1")})
            got, _ = self.full_scan("h", "MATCH", "*", "COUNT", "100")
            self.assertEqual(dict(got), data)
            got, _ = self.full_scan("h", "MATCH", "", "COUNT", "100")
            self.assertEqual(got, [(b"", b"empty")])
            got, _ = self.full_scan("h", "match", "OTHER", "count", "100")
            self.assertEqual(got, [])

    def test_elements_present_throughout_are_returned_despite_resizing(self):
        base = {("base%d" % i).encode(): b"v" for i in range(1000)}
        self.hset("h", base)
        extra = ["extra%d" % i for i in range(5000)]

        def between(calls):
            if calls == 2:
                self.hset("h", {f: "w" for f in extra})
            elif calls == 8:
                self.r.cmd("HDEL", "h", *extra)

        got, _ = self.full_scan("h", "COUNT", "20", between=between)
        seen = {f for f, _ in got}
        self.assertTrue(set(base) <= seen)
        self.assertEqual(self.r.cmd("HLEN", "h"), 1000)

    def test_cursor_parsing(self):
        self.r.cmd("HSET", "h", "a", "1")
        for bad in ("x", " 0", "-", "+", "1x", "0x1", "18446744073709551616", "1.0"):
            self.assertError(self.r.cmd("HSCAN", "h", bad), INVALID_CURSOR)
            self.assertError(self.r.cmd("HSCAN", "nokey", bad), INVALID_CURSOR)
        for good in ("0", "", "+0", "-1", "18446744073709551615", "00"):
            self.assertEqual(self.r.cmd("HSCAN", "h", good), [b"0", [b"a", b"1"]])

    def test_option_errors(self):
        self.r.cmd("HSET", "h", "a", "1")
        self.assertError(self.r.cmd("HSCAN", "h", "0", "COUNT", "0"), SYNTAX)
        self.assertError(self.r.cmd("HSCAN", "h", "0", "COUNT", "-1"), SYNTAX)
        self.assertError(self.r.cmd("HSCAN", "h", "0", "COUNT", "x"), NOT_INTEGER)
        self.assertError(self.r.cmd("HSCAN", "h", "0", "COUNT"), SYNTAX)
        self.assertError(self.r.cmd("HSCAN", "h", "0", "MATCH"), SYNTAX)
        self.assertError(self.r.cmd("HSCAN", "h", "0", "NOVALUES"), SYNTAX)
        self.assertError(self.r.cmd("HSCAN", "h", "0", "TYPE", "hash"), SYNTAX)
        self.assertEqual(self.r.cmd("HSCAN", "h", "0", "COUNT", "1", "MATCH", "x", "MATCH", "a"),
                         [b"0", [b"a", b"1"]])
        self.assertError(self.r.cmd("HSCAN", "h"), arity("hscan"))


# --------------------------------------------------------------------------
# WRONGTYPE
# --------------------------------------------------------------------------

class HashWrongTypeTests(HashCase):

    def test_every_command_on_a_string(self):
        self.r.cmd("SET", "s", "v")
        for args in (("HSET", "s", "a", "1"), ("HMSET", "s", "a", "1"), ("HSETNX", "s", "a", "1"),
                     ("HGET", "s", "a"), ("HMGET", "s", "a"), ("HDEL", "s", "a"), ("HLEN", "s"),
                     ("HSTRLEN", "s", "a"), ("HEXISTS", "s", "a"), ("HKEYS", "s"),
                     ("HVALS", "s"), ("HGETALL", "s"), ("HINCRBY", "s", "a", "1"),
                     ("HINCRBYFLOAT", "s", "a", "1"), ("HRANDFIELD", "s"),
                     ("HRANDFIELD", "s", "2"), ("HRANDFIELD", "s", "-2", "WITHVALUES"),
                     ("HSCAN", "s", "0")):
            self.assertError(self.r.cmd(*args), WRONGTYPE)
        self.assertEqual(self.r.cmd("GET", "s"), b"v")

    def test_argument_errors_come_before_wrongtype(self):
        self.r.cmd("SET", "s", "v")
        self.assertError(self.r.cmd("HSET", "s", "a", "1", "b"), arity("hset"))
        self.assertError(self.r.cmd("HINCRBY", "s", "a", "x"), NOT_INTEGER)
        self.assertError(self.r.cmd("HINCRBYFLOAT", "s", "a", "x"), NOT_FLOAT)
        self.assertError(self.r.cmd("HRANDFIELD", "s", "x"), NOT_INTEGER)
        self.assertError(self.r.cmd("HSCAN", "s", "x"), INVALID_CURSOR)
        self.assertError(self.r.cmd("HSCAN", "s", "0", "COUNT", "0"), WRONGTYPE)

    def test_string_commands_on_a_hash(self):
        self.r.cmd("HSET", "h", "a", "1")
        self.assertError(self.r.cmd("GET", "h"), WRONGTYPE)
        self.assertError(self.r.cmd("INCR", "h"), WRONGTYPE)
        self.assertError(self.r.cmd("APPEND", "h", "x"), WRONGTYPE)


# --------------------------------------------------------------------------
# RESP3
# --------------------------------------------------------------------------

class HashResp3Tests(HashCase):

    def setUp(self):
        super().setUp()
        self.r3 = self.client()
        hello = self.r3.cmd("HELLO", "3")
        self.assertIsInstance(hello, dict)

    def test_hgetall_is_a_map(self):
        self.r3.cmd("HSET", "h", "a", "1", "b", "2")
        reply = self.r3.cmd("HGETALL", "h")
        self.assertIsInstance(reply, Map)
        self.assertEqual(dict(reply), {b"a": b"1", b"b": b"2"})
        self.assertTrue(self.r3.last_raw.startswith(b"%2\r\n"))
        self.assertEqual(self.r3.raw("HGETALL", "nokey"), b"%0\r\n")

    def test_hkeys_hvals_hmget_are_arrays(self):
        self.r3.cmd("HSET", "h", "a", "1")
        self.assertEqual(self.r3.raw("HKEYS", "h"), b"*1\r\n$1\r\na\r\n")
        self.assertEqual(self.r3.raw("HVALS", "h"), b"*1\r\n$1\r\n1\r\n")
        self.assertEqual(self.r3.raw("HKEYS", "nokey"), b"*0\r\n")
        self.assertEqual(self.r3.raw("HMGET", "h", "a", "x"), b"*2\r\n$1\r\n1\r\n_\r\n")

    def test_nulls_and_integers(self):
        self.r3.cmd("HSET", "h", "a", "1")
        self.assertEqual(self.r3.raw("HGET", "h", "x"), b"_\r\n")
        self.assertEqual(self.r3.raw("HGET", "nokey", "x"), b"_\r\n")
        self.assertEqual(self.r3.raw("HRANDFIELD", "nokey"), b"_\r\n")
        self.assertEqual(self.r3.raw("HEXISTS", "h", "a"), b":1\r\n")
        self.assertEqual(self.r3.raw("HLEN", "h"), b":1\r\n")
        self.assertEqual(self.r3.raw("HSET", "h", "b", "2"), b":1\r\n")
        self.assertEqual(self.r3.raw("HMSET", "h", "b", "2"), b"+OK\r\n")
        self.assertEqual(self.r3.raw("HINCRBY", "h", "a", "2"), b":3\r\n")

    def test_hincrbyfloat_is_a_bulk_string(self):
        self.assertEqual(self.r3.raw("HINCRBYFLOAT", "h", "f", "1.5"), b"$3\r\n1.5\r\n")

    def test_hrandfield_withvalues_is_an_array_of_pairs(self):
        for n in (3, 300):
            self.r3.cmd("DEL", "h")
            data = {("f%d" % i).encode(): ("v%d" % i).encode() for i in range(n)}
            self.hset("h", data, c=self.r3)
            for count in (2, -5, n + 1):
                got = self.r3.cmd("HRANDFIELD", "h", count, "WITHVALUES")
                self.assertEqual(len(got), min(count, n) if count > 0 else -count)
                for pair in got:
                    self.assertIsInstance(pair, list)
                    self.assertEqual(len(pair), 2)
                    self.assertEqual(data[pair[0]], pair[1])
            got = self.r3.cmd("HRANDFIELD", "h", 2)
            self.assertTrue(all(isinstance(f, bytes) for f in got))

    def test_hscan_reply_shape(self):
        self.r3.cmd("HSET", "h", "a", "1")
        self.assertEqual(self.r3.raw("HSCAN", "h", "0"),
                         b"*2\r\n$1\r\n0\r\n*2\r\n$1\r\na\r\n$1\r\n1\r\n")
        self.assertEqual(self.r3.raw("HSCAN", "nokey", "0"), b"*2\r\n$1\r\n0\r\n*0\r\n")


# --------------------------------------------------------------------------
# keyspace notifications
# --------------------------------------------------------------------------

class HashNotificationTests(HashCase):
    server_args = ("--notify-keyspace-events", "KEA")

    def setUp(self):
        super().setUp()
        self.sub = self.client()
        self.sub.send_command("PSUBSCRIBE", "__key*__:*")
        self.assertEqual(self.sub.read_reply(), [b"psubscribe", b"__key*__:*", 1])

    def collect(self, n, quiet=0.15):
        return collect_messages(self.sub, n, quiet=quiet)

    def expect(self, key, *events):
        """The events of key on its keyspace channel, in order, and each on
        its keyevent channel."""
        got = self.collect(2 * len(events))
        space = [p for c, p in got if c == "__keyspace@0__:%s" % key]
        self.assertEqual(space, list(events))
        keyevents = sorted(c.split(":", 1)[1] for c, p in got if c.startswith("__keyevent"))
        self.assertEqual(keyevents, sorted(events))
        self.assertEqual(len(got), 2 * len(events))

    def test_hset_family(self):
        self.assertEqual(self.r.cmd("HSET", "h", "a", "1", "b", "2"), 2)
        self.expect("h", "hset")
        self.assertOK(self.r.cmd("HMSET", "h", "a", "3"))
        self.expect("h", "hset")
        self.assertEqual(self.r.cmd("HSET", "h", "a", "3"), 0)
        self.expect("h", "hset")
        self.assertEqual(self.r.cmd("HSETNX", "h", "c", "1"), 1)
        self.expect("h", "hset")
        self.assertEqual(self.r.cmd("HSETNX", "h", "c", "1"), 0)
        self.expect("h")

    def test_hdel_sends_hdel_then_del_when_emptied(self):
        self.r.cmd("HSET", "h", "a", "1", "b", "2")
        self.collect(2)
        self.assertEqual(self.r.cmd("HDEL", "h", "x"), 0)
        self.expect("h")
        self.assertEqual(self.r.cmd("HDEL", "h", "a", "x"), 1)
        self.expect("h", "hdel")
        self.assertEqual(self.r.cmd("HDEL", "h", "b"), 1)
        self.expect("h", "hdel", "del")

    def test_hincrby_and_hincrbyfloat(self):
        self.assertEqual(self.r.cmd("HINCRBY", "h", "n", "2"), 2)
        self.expect("h", "hincrby")
        self.assertEqual(self.r.cmd("HINCRBYFLOAT", "h", "n", "0.5"), b"2.5")
        self.expect("h", "hincrbyfloat")
        self.assertIsInstance(self.r.cmd("HINCRBY", "h", "n", "1"), Error)
        self.assertIsInstance(self.r.cmd("HINCRBYFLOAT", "h", "n", "x"), Error)
        self.expect("h")

    def test_reads_send_nothing(self):
        self.r.cmd("HSET", "h", "a", "1")
        self.collect(2)
        self.r.cmd("HGET", "h", "a")
        self.r.cmd("HGETALL", "h")
        self.r.cmd("HRANDFIELD", "h", "-3")
        self.r.cmd("HSCAN", "h", "0")
        self.expect("h")


# --------------------------------------------------------------------------
# many keys (spread over every shard) and hash tags
# --------------------------------------------------------------------------

class HashManyKeysTests(HashCase):

    def test_hashes_on_every_shard(self):
        keys = ["user:%d" % i for i in range(200)]
        for i, k in enumerate(keys):
            self.assertEqual(self.r.cmd("HSET", k, "id", i, "name", "n%d" % i), 2)
        # a few large ones too
        for k in keys[:8]:
            self.hset(k, {"f%d" % j: j for j in range(300)})
        for i, k in enumerate(keys):
            self.assertEqual(self.r.cmd("HGET", k, "id"), b(i))
            self.assertEqual(self.r.cmd("HINCRBY", k, "id", "1000"), i + 1000)
            self.assertEqual(self.r.cmd("HLEN", k), 302 if i < 8 else 2)
        self.assertEqual(self.r.cmd("DBSIZE"), 200)
        self.assertEqual(self.r.cmd("DEL", *keys[:100]), 100)
        self.assertEqual(self.r.cmd("DBSIZE"), 100)

    def test_pipelined_writes_to_many_keys(self):
        keys = ["pipe:%d" % i for i in range(300)]
        for k in keys:
            self.r.send_command("HSET", k, "f", k)
        self.assertEqual(self.r.read_replies(len(keys)), [1] * len(keys))
        for k in keys:
            self.r.send_command("HMGET", k, "f", "g")
        self.assertEqual(self.r.read_replies(len(keys)), [[b(k), None] for k in keys])

    def test_hash_tagged_keys(self):
        self.hset("{user1}:profile", {"name": "ann", "age": "30"})
        self.hset("{user1}:prefs", {"lang": "en"})
        self.assertEqual(self.r.cmd("HGET", "{user1}:profile", "name"), b"ann")
        self.assertEqual(self.r.cmd("HGETALL", "{user1}:prefs"), [b"lang", b"en"])
        self.assertEqual(self.r.cmd("EXISTS", "{user1}:profile", "{user1}:prefs"), 2)
        self.assertOK(self.r.cmd("RENAME", "{user1}:profile", "{user1}:old"))
        self.assertEqual(self.hgetall("{user1}:old"), {b"name": b"ann", b"age": b"30"})
        self.assertEqual(self.r.cmd("EXISTS", "{user1}:profile"), 0)

    def check_move(self, n):
        data = {("f%d" % i).encode(): ("v%d" % i).encode() for i in range(n)}
        data[b""] = b""
        data[b"int"] = b"-12345"
        data[b"long"] = b"x" * 100
        srcs = ["src:%d:%d" % (n, i) for i in range(12)]
        for s in srcs:
            self.hset(s, data)
            self.r.cmd("EXPIRE", s, "1000")
        for i, s in enumerate(srcs):
            dst = "dst:%d:%d" % (n, i)
            self.assertEqual(self.r.cmd("COPY", s, dst), 1)
            self.assertEqual(self.hgetall(dst), data)
            self.assertOK(self.r.cmd("RENAME", s, "moved:%d:%d" % (n, i)))
            self.assertEqual(self.hgetall("moved:%d:%d" % (n, i)), data)
            self.assertTrue(0 < self.r.cmd("TTL", "moved:%d:%d" % (n, i)) <= 1000)
            self.assertEqual(self.r.cmd("TYPE", dst), "hash")
            self.assertEqual(self.r.cmd("EXISTS", s), 0)

    def test_rename_and_copy_of_small_hashes_between_keys_on_any_shard(self):
        self.check_move(5)

    def test_rename_and_copy_of_large_hashes_between_keys_on_any_shard(self):
        self.check_move(600)


# --------------------------------------------------------------------------
# OBJECT ENCODING (conversions at the thresholds)
# --------------------------------------------------------------------------

class HashEncodingTests(HashCase):
    server_args = ("--hash-max-listpack-entries", "128", "--hash-max-listpack-value", "64")

    def enc(self, key):
        return self.r.cmd("OBJECT", "ENCODING", key)

    def test_entries_threshold(self):
        self.hset("h", {"f%d" % i: i for i in range(128)})
        self.assertEqual(self.enc("h"), b"listpack")
        self.r.cmd("HSET", "h", "f0", "changed")
        self.assertEqual(self.enc("h"), b"listpack")
        self.r.cmd("HSET", "h", "f128", "x")
        self.assertEqual(self.enc("h"), b"hashtable")
        self.assertEqual(self.r.cmd("HLEN", "h"), 129)

    def test_one_command_past_the_entries_threshold(self):
        self.hset("h", {"f%d" % i: i for i in range(129)})
        self.assertEqual(self.enc("h"), b"hashtable")

    def test_value_length_threshold(self):
        self.r.cmd("HSET", "h", "a", "x" * 64)
        self.assertEqual(self.enc("h"), b"listpack")
        self.r.cmd("HSET", "h", "a", "x" * 65)
        self.assertEqual(self.enc("h"), b"hashtable")

    def test_field_length_threshold(self):
        self.r.cmd("HSET", "h", "f" * 64, "1")
        self.assertEqual(self.enc("h"), b"listpack")
        self.r.cmd("HSET", "h2", "f" * 65, "1")
        self.assertEqual(self.enc("h2"), b"hashtable")

    def test_other_writers_convert_too(self):
        self.r.cmd("HSETNX", "a", "f", "x" * 65)
        self.assertEqual(self.enc("a"), b"hashtable")
        self.r.cmd("HMSET", "b", "f", "1", "g", "x" * 65)
        self.assertEqual(self.enc("b"), b"hashtable")
        self.r.cmd("HINCRBY", "c", "f" * 65, "1")
        self.assertEqual(self.enc("c"), b"hashtable")
        self.r.cmd("HINCRBYFLOAT", "d", "f" * 65, "1.5")
        self.assertEqual(self.enc("d"), b"hashtable")
        self.r.cmd("HINCRBY", "e", "f", "1")
        self.assertEqual(self.enc("e"), b"listpack")

    def test_hashtable_never_goes_back(self):
        self.hset("h", {"f%d" % i: i for i in range(200)})
        self.r.cmd("HDEL", "h", *["f%d" % i for i in range(1, 200)])
        self.assertEqual(self.r.cmd("HLEN", "h"), 1)
        self.assertEqual(self.enc("h"), b"hashtable")
        self.r.cmd("HSET", "v", "a", "x" * 100)
        self.r.cmd("HSET", "v", "a", "short")
        self.assertEqual(self.enc("v"), b"hashtable")

    def test_config_set_changes_the_thresholds(self):
        try:
            self.assertOK(self.r.cmd("CONFIG", "SET", "hash-max-listpack-entries", "4"))
            self.hset("h", {"f%d" % i: i for i in range(4)})
            self.assertEqual(self.enc("h"), b"listpack")
            self.r.cmd("HSET", "h", "f4", "x")
            self.assertEqual(self.enc("h"), b"hashtable")
            self.assertOK(self.r.cmd("CONFIG", "SET", "hash-max-listpack-value", "3"))
            self.r.cmd("HSET", "v", "abc", "abc")
            self.assertEqual(self.enc("v"), b"listpack")
            self.r.cmd("HSET", "w", "abcd", "1")
            self.assertEqual(self.enc("w"), b"hashtable")
        finally:
            self.r.cmd("CONFIG", "SET", "hash-max-listpack-entries", "128")
            self.r.cmd("CONFIG", "SET", "hash-max-listpack-value", "64")

    def test_copy_keeps_the_encoding_of_fitting_values(self):
        for i in range(10):
            self.hset("small:%d" % i, {"a": "1"})
            self.hset("large:%d" % i, {"f%d" % j: j for j in range(300)})
            self.r.cmd("COPY", "small:%d" % i, "small-copy:%d" % i)
            self.r.cmd("COPY", "large:%d" % i, "large-copy:%d" % i)
            self.assertEqual(self.enc("small-copy:%d" % i), b"listpack")
            self.assertEqual(self.enc("large-copy:%d" % i), b"hashtable")


@unittest.skipIf(reference_mode(), "shardis-specific: Redis 7.0 tries to build the reply")
class HashRandomBoundTests(ServerTestCase):

    def test_a_huge_negative_count_is_refused_not_built(self):
        self.r.cmd("HSET", "h", "f", "v")
        self.assertEqual(self.r.cmd("HRANDFIELD", "h", -(1 << 30)),
                         Error("ERR value is out of range"))
        self.assertEqual(len(self.r.cmd("HRANDFIELD", "h", -1000)), 1000)
        self.assertEqual(self.r.cmd("HRANDFIELD", "nokey", -(1 << 30)), [])


if __name__ == "__main__":
    unittest.main()
