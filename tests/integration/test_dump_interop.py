"""DUMP payloads move between a live redis-server and this server.

Every type in every encoding Redis 7.0 writes (int, embstr and raw strings,
compressed strings; lists of one listpack node and of many, with a plain
node for a large element; intsets, hashtable sets; listpack and skiplist
sorted sets with integral, fractional and infinite scores; listpack and
hashtable hashes; streams of one node and of many, with deleted entries,
consumer groups, pending entries and consumers, and an empty stream) is
built on one server, DUMPed, RESTOREd on the other and read back there: the
values must be equal (XINFO STREAM FULL for a stream), both ways. Skipped in reference
mode and when /usr/bin/redis-server (SHARDIS_REDIS_BIN) is missing.
"""

import os
import random
import sys
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import Error, LiveRedisServer, LiveRedisTestCase  # noqa: E402


class DebugRedisServer(LiveRedisServer):
    """A live redis-server with DEBUG enabled (for the packed threshold)."""

    def command_line(self, port):
        return super().command_line(port) + ["--enable-debug-command", "yes"]


def build_values(c, rnd):
    """Writes one key of each shape on client c; returns their names."""
    keys = []

    def key(name):
        keys.append(name)
        return name

    c.cmd("SET", key("s:int"), "12345")
    c.cmd("SET", key("s:int8"), "-7")
    c.cmd("SET", key("s:int32"), "-2147483648")
    c.cmd("SET", key("s:big"), "123456789012345678")
    c.cmd("SET", key("s:notint"), "007")
    c.cmd("SET", key("s:empty"), "")
    c.cmd("SET", key("s:short"), "hello world")
    c.cmd("SET", key("s:zip"), "ab" * 300)
    c.cmd("SET", key("s:rand"), bytes(rnd.getrandbits(8) for _ in range(300)))
    c.cmd("RPUSH", key("l:small"), "a", "1", "-300", "70000", "b" * 40, "")
    c.cmd("RPUSH", key("l:big"), *[str(i) if i % 3 else "v%d" % i * 3 for i in range(3000)])
    c.cmd("RPUSH", key("l:fat"), *["x" * 5000 + str(i) for i in range(7)])
    c.cmd("SADD", key("set:int"), *[str(i * 7 - 100) for i in range(50)])
    c.cmd("SADD", key("set:int64"), "1", "9223372036854775807", "-9223372036854775808")
    c.cmd("SADD", key("set:bigint"), *[str(i) for i in range(700)])
    c.cmd("SADD", key("set:str"), "a", "b", "c", "1")
    c.cmd("SADD", key("set:big"), *["m%d" % i for i in range(300)])
    c.cmd("ZADD", key("z:small"), "1", "a", "2.5", "b", "-inf", "c", "inf", "d", "0.1", "e",
          "-0", "f", "1e300", "g")
    c.cmd("ZADD", key("z:big"), *sum([[repr(rnd.random() * 1000), "m%d" % i]
                                     for i in range(300)], []))
    c.cmd("ZADD", key("z:long"), "1", "x" * 100, "2", "y")
    c.cmd("HSET", key("h:small"), "f1", "v1", "f2", "2", "3", "-4", "e", "")
    c.cmd("HSET", key("h:big"), *sum([["f%d" % i, "v%d" % i] for i in range(700)], []))
    c.cmd("HSET", key("h:long"), "f", "v" * 100, "g", "1")
    build_streams(c, key)
    return keys


def build_streams(c, key):
    """Streams: many nodes with deletions, groups with pending entries and
    consumers (one without pending entries), an empty stream with a group."""
    k = key("x:big")
    for i in range(1, 251):
        fields = ["f", "v%d" % i, "n", str(i)] if i % 7 else ["other", "x" * (i % 50)]
        c.cmd("XADD", k, "%d-%d" % (1000 + i, i % 3), *fields)
    for i in (3, 50, 101, 102, 250):
        c.cmd("XDEL", k, "%d-%d" % (1000 + i, i % 3))
    c.cmd("XTRIM", k, "MAXLEN", "240")
    c.cmd("XGROUP", "CREATE", k, "g1", "0")
    c.cmd("XREADGROUP", "GROUP", "g1", "alice", "COUNT", "10", "STREAMS", k, ">")
    c.cmd("XREADGROUP", "GROUP", "g1", "bob", "COUNT", "5", "STREAMS", k, ">")
    c.cmd("XACK", k, "g1", "1013-1", "1016-1")
    c.cmd("XGROUP", "CREATECONSUMER", k, "g1", "carol")
    c.cmd("XGROUP", "CREATE", k, "g2", "$")
    k = key("x:small")
    c.cmd("XADD", k, "1-1", "a", "1")
    c.cmd("XADD", k, "2-0", "a", "2", "b", "3")
    c.cmd("XGROUP", "CREATE", k, "g", "1-1", "ENTRIESREAD", "1")
    k = key("x:empty")
    c.cmd("XADD", k, "5-5", "f", "v")
    c.cmd("XDEL", k, "5-5")
    c.cmd("XGROUP", "CREATE", k, "g", "$")


def stream_info(c, key):
    """XINFO STREAM FULL without radix-tree-nodes (a detail of Redis's rax)."""
    info = c.cmd("XINFO", "STREAM", key, "FULL")
    return [(info[i], info[i + 1]) for i in range(0, len(info), 2)
            if info[i] != b"radix-tree-nodes"]


def read_value(c, key):
    t = c.cmd("TYPE", key)
    if t == "string":
        v = c.cmd("GET", key)
    elif t == "list":
        v = c.cmd("LRANGE", key, "0", "-1")
    elif t == "set":
        v = sorted(c.cmd("SMEMBERS", key))
    elif t == "zset":
        flat = c.cmd("ZRANGE", key, "0", "-1", "WITHSCORES")
        v = [(flat[i], float(flat[i + 1])) for i in range(0, len(flat), 2)]
    elif t == "stream":
        v = stream_info(c, key)
    else:
        flat = c.cmd("HGETALL", key)
        v = sorted((flat[i], flat[i + 1]) for i in range(0, len(flat), 2))
    return t, v


def crc64_jones(data):
    """Redis's CRC-64 (Jones polynomial, reflected)."""
    poly = 0x95AC9329AC4BC9B5
    crc = 0
    for b in data:
        crc ^= b
        for _ in range(8):
            crc = (crc >> 1) ^ poly if crc & 1 else crc >> 1
    return crc


def with_footer(body):
    """A DUMP payload of body: RDB version 10 and the CRC-64."""
    data = bytes(body) + bytes([10, 0])
    return data + crc64_jones(data).to_bytes(8, "little")


class DumpInterop(LiveRedisTestCase):

    live_server_class = DebugRedisServer

    def move_all(self, src, dst, keys):
        for k in keys:
            payload = src.cmd("DUMP", k)
            self.assertIsInstance(payload, bytes, k)
            self.assertOK(dst.cmd("RESTORE", k, "0", payload, "REPLACE"))
            self.assertEqual(read_value(dst, k), read_value(src, k), k)

    def test_redis_to_here(self):
        keys = build_values(self.ref, random.Random(5))
        self.move_all(self.ref, self.r, keys)
        for k, enc in (("s:int", "int"), ("set:int", "intset"), ("set:bigint", "hashtable"),
                       ("z:small", "listpack"), ("z:big", "skiplist"), ("z:long", "skiplist"),
                       ("h:small", "listpack"), ("h:big", "hashtable"),
                       ("h:long", "hashtable")):
            self.assertEqual(self.r.cmd("OBJECT", "ENCODING", k), enc.encode(), k)

    def test_here_to_redis(self):
        keys = build_values(self.r, random.Random(6))
        self.move_all(self.r, self.ref, keys)
        # and back again: what Redis writes of them reads here too
        self.r.cmd("FLUSHALL")
        self.move_all(self.ref, self.r, keys)

    def test_compressed_strings_are_lzf_both_ways(self):
        self.ref.cmd("SET", "k", "z" * 1000)
        self.r.cmd("SET", "k", "z" * 1000)
        a = self.ref.cmd("DUMP", "k")
        b = self.r.cmd("DUMP", "k")
        self.assertLess(len(a), 100)
        self.assertLess(len(b), 100)
        self.assertEqual(a[0], 0)
        self.assertEqual(a[1], 0xC3)
        self.assertEqual(b[1], 0xC3)
        self.assertOK(self.r.cmd("RESTORE", "k2", "0", a))
        self.assertOK(self.ref.cmd("RESTORE", "k2", "0", b))
        self.assertEqual(self.r.cmd("GET", "k2"), b"z" * 1000)
        self.assertEqual(self.ref.cmd("GET", "k2"), b"z" * 1000)

    def test_plain_quicklist_node(self):
        # Redis stores elements past the packed threshold in plain nodes
        self.assertOK(self.ref.cmd("DEBUG", "QUICKLIST-PACKED-THRESHOLD", "1000"))
        try:
            self.ref.cmd("RPUSH", "l", "a", "p" * 3000, "b", "q" * 1500)
            payload = self.ref.cmd("DUMP", "l")
        finally:
            self.ref.cmd("DEBUG", "QUICKLIST-PACKED-THRESHOLD", "1073741824")
        self.assertOK(self.r.cmd("RESTORE", "l", "0", payload))
        self.assertEqual(self.r.cmd("LRANGE", "l", "0", "-1"),
                         [b"a", b"p" * 3000, b"b", b"q" * 1500])

    def test_ttl_and_idletime_travel(self):
        self.ref.cmd("RPUSH", "l", "1", "2")
        payload = self.ref.cmd("DUMP", "l")
        self.assertOK(self.r.cmd("RESTORE", "l", "100000", payload, "IDLETIME", "500"))
        self.assertGreaterEqual(self.r.cmd("OBJECT", "IDLETIME", "l"), 499)
        self.assertGreater(self.r.cmd("PTTL", "l"), 90000)

    def test_stream_payloads_are_streams_listpacks_2(self):
        # both write RDB_TYPE_STREAM_LISTPACKS_2 (19); the bytes differ only
        # where the LZF compressors choose differently (tests/unit/test_rdb.c
        # checks a Redis payload is written back byte for byte)
        for c in (self.ref, self.r):
            c.cmd("XADD", "x", "1-1", "f", "v")
            c.cmd("XADD", "x", "2-2", "f", "w", "g", "7")
            c.cmd("XDEL", "x", "2-2")
            c.cmd("XGROUP", "CREATE", "x", "grp", "0")
            self.assertEqual(c.cmd("DUMP", "x")[0], 19)
        self.assertOK(self.r.cmd("RESTORE", "y", "0", self.ref.cmd("DUMP", "x")))
        self.assertOK(self.ref.cmd("RESTORE", "y", "0", self.r.cmd("DUMP", "x")))
        for c in (self.ref, self.r):
            self.assertEqual(stream_info(c, "y"), stream_info(self.ref, "x"))

    def test_corrupt_stream_payloads_are_refused(self):
        self.ref.cmd("XADD", "x", "1-1", "f", "v")
        self.ref.cmd("XGROUP", "CREATE", "x", "g", "0")
        self.ref.cmd("XREADGROUP", "GROUP", "g", "c", "STREAMS", "x", ">")
        good = self.ref.cmd("DUMP", "x")
        body = bytearray(good[:-10])
        # a consumer's PEL entry that the group's PEL lacks: the last
        # 16-byte ID of the payload is the consumer's
        body[-1] ^= 1
        self.assertError(self.r.cmd("RESTORE", "x", "0", with_footer(bytes(body))),
                         "ERR Bad data format")
        for cut in range(1, len(good) - 10, 7):
            self.assertError(self.r.cmd("RESTORE", "x", "0", with_footer(good[:cut])),
                             "ERR Bad data format")
        self.assertEqual(self.r.cmd("EXISTS", "x"), 0)

    def test_corrupt_redis_payloads_are_refused(self):
        self.ref.cmd("HSET", "h", "a", "1", "b", "2")
        payload = bytearray(self.ref.cmd("DUMP", "h"))
        payload[5] ^= 0x40
        self.assertError(self.r.cmd("RESTORE", "h", "0", bytes(payload)),
                         "ERR DUMP payload version or checksum are wrong")
        self.assertIsInstance(self.r.cmd("PING"), str)


if __name__ == "__main__":
    unittest.main()
