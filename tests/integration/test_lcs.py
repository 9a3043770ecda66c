"""LCS: Redis 7.0 replies (the string, LEN, IDX with MINMATCHLEN and
WITHMATCHLEN, RESP2 and RESP3 map forms), exact errors, missing keys as
empty strings, integer-encoded values, keys on different shards, the
proto-max-bulk-len bound on the table, and a check against a Python model.

Every test passes against redis-server 7.0.15 (SHARDIS_REFERENCE=redis).
"""

import os
import random
import sys
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import Error, Map, ServerTestCase  # noqa: E402

SYNTAX = "ERR syntax error"
NOT_INTEGER = "ERR value is not an integer or out of range"
NOT_STRING = "ERR The specified keys must contain string values"
BOTH = "ERR If you want both the length and indexes, please just use IDX."
TOO_BIG = "ERR Insufficient memory, transient memory for LCS exceeds proto-max-bulk-len"


def lcs_len(a, b):
    prev = [0] * (len(b) + 1)
    for i in range(1, len(a) + 1):
        cur = [0] * (len(b) + 1)
        for j in range(1, len(b) + 1):
            cur[j] = prev[j - 1] + 1 if a[i - 1] == b[j - 1] else max(prev[j], cur[j - 1])
        prev = cur
    return prev[-1]


def is_subsequence(s, t):
    it = iter(t)
    return all(ch in it for ch in s)


class TestLcs(ServerTestCase):

    def setUp(self):
        super().setUp()
        # key names chosen without tags: with several shards, apart
        self.r.cmd("MSET", "key1", "ohmytext", "key2", "mynewtext")

    def test_string_and_len(self):
        self.assertEqual(self.r.cmd("LCS", "key1", "key2"), b"mytext")
        self.assertEqual(self.r.cmd("LCS", "key1", "key2", "LEN"), 6)
        self.assertEqual(self.r.cmd("LCS", "key1", "key1"), b"ohmytext")
        self.assertEqual(self.r.cmd("LCS", "key1", "nokey"), b"")
        self.assertEqual(self.r.cmd("LCS", "nokey", "other", "len"), 0)

    def test_idx_minmatchlen_withmatchlen(self):
        self.assertEqual(self.r.cmd("LCS", "key1", "key2", "IDX"),
                         [b"matches", [[[4, 7], [5, 8]], [[2, 3], [0, 1]]], b"len", 6])
        self.assertEqual(self.r.cmd("LCS", "key1", "key2", "IDX", "MINMATCHLEN", "4"),
                         [b"matches", [[[4, 7], [5, 8]]], b"len", 6])
        self.assertEqual(self.r.cmd("LCS", "key1", "key2", "IDX", "MINMATCHLEN", "4",
                                    "WITHMATCHLEN"),
                         [b"matches", [[[4, 7], [5, 8], 4]], b"len", 6])
        self.assertEqual(self.r.cmd("LCS", "key1", "key2", "idx", "withmatchlen",
                                    "minmatchlen", "-3"),
                         [b"matches", [[[4, 7], [5, 8], 4], [[2, 3], [0, 1], 2]], b"len", 6])
        self.assertEqual(self.r.cmd("LCS", "key1", "nokey", "IDX"),
                         [b"matches", [], b"len", 0])
        # MINMATCHLEN alone changes nothing of the plain reply
        self.assertEqual(self.r.cmd("LCS", "key1", "key2", "MINMATCHLEN", "100"), b"mytext")

    def test_resp3_map(self):
        self.r.cmd("HELLO", "3")
        self.assertEqual(self.r.raw("LCS", "key1", "key2", "IDX", "MINMATCHLEN", "4"),
                         b"%2\r\n$7\r\nmatches\r\n*1\r\n*2\r\n*2\r\n:4\r\n:7\r\n*2\r\n:5\r\n:8"
                         b"\r\n$3\r\nlen\r\n:6\r\n")
        self.assertEqual(self.r.cmd("LCS", "key1", "key2", "IDX", "MINMATCHLEN", "4"),
                         Map({b"matches": [[[4, 7], [5, 8]]], b"len": 6}))

    def test_integer_encoded_values(self):
        self.r.cmd("SET", "i1", "12345")
        self.r.cmd("SET", "i2", "2345")
        self.assertEqual(self.r.cmd("LCS", "i1", "i2"), b"2345")
        self.assertEqual(self.r.cmd("LCS", "i1", "i2", "IDX", "WITHMATCHLEN"),
                         [b"matches", [[[1, 4], [0, 3], 4]], b"len", 4])

    def test_errors(self):
        self.r.cmd("HSET", "h", "f", "v")
        self.assertEqual(self.r.cmd("LCS", "key1", "key2", "IDX", "LEN"), Error(BOTH))
        self.assertEqual(self.r.cmd("LCS", "key1", "key2", "BOGUS"), Error(SYNTAX))
        self.assertEqual(self.r.cmd("LCS", "key1", "key2", "MINMATCHLEN"), Error(SYNTAX))
        self.assertEqual(self.r.cmd("LCS", "key1", "key2", "MINMATCHLEN", "x"),
                         Error(NOT_INTEGER))
        # the types are checked before the options
        self.assertEqual(self.r.cmd("LCS", "h", "key1", "BOGUS"), Error(NOT_STRING))
        self.assertEqual(self.r.cmd("LCS", "key2", "h"), Error(NOT_STRING))
        self.assertEqual(self.r.cmd("LCS", "key1"),
                         Error("ERR wrong number of arguments for 'lcs' command"))

    def test_table_is_bounded_by_proto_max_bulk_len(self):
        self.r.cmd("SET", "a", "x" * 600)
        self.r.cmd("SET", "b", "x" * 600)
        self.assertEqual(self.r.cmd("CONFIG", "SET", "proto-max-bulk-len", "1048576"), "OK")
        try:
            self.assertEqual(self.r.cmd("LCS", "a", "b", "LEN"), Error(TOO_BIG))
        finally:
            self.r.cmd("CONFIG", "SET", "proto-max-bulk-len", "536870912")
        self.assertEqual(self.r.cmd("LCS", "a", "b", "LEN"), 600)

    def test_against_a_model(self):
        rnd = random.Random(7)
        for _ in range(40):
            a = "".join(rnd.choice("abc") for _ in range(rnd.randint(0, 30)))
            b = "".join(rnd.choice("abc") for _ in range(rnd.randint(0, 30)))
            self.r.cmd("MSET", "ka", a, "kb", b)
            s = self.r.cmd("LCS", "ka", "kb").decode()
            self.assertEqual(len(s), lcs_len(a, b))
            self.assertTrue(is_subsequence(s, a) and is_subsequence(s, b))
            self.assertEqual(self.r.cmd("LCS", "ka", "kb", "LEN"), len(s))
            idx = self.r.cmd("LCS", "ka", "kb", "IDX", "WITHMATCHLEN")
            self.assertEqual(idx[3], len(s))
            for (a0, a1), (b0, b1), n in idx[1]:
                self.assertEqual(a[a0:a1 + 1], b[b0:b1 + 1])
                self.assertEqual(n, a1 - a0 + 1)


if __name__ == "__main__":
    unittest.main()
