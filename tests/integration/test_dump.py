"""DUMP and RESTORE with Redis 7.0's replies and errors.

Round trips of every type on one server; RESTORE's options (REPLACE,
ABSTTL, IDLETIME, FREQ), its errors in Redis's order (options, BUSYKEY, TTL,
footer, payload); payloads built here by hand in the forms Redis 7.0 still
reads but no longer writes (LIST, old ZSET text scores, ziplists, zipmaps,
quicklist v1), and corrupt ones (bad CRC, newer version, empty or duplicate
collections) that must be refused; the "restore" and "del" events.
"""

import os
import struct
import sys
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import Error, ServerTestCase, collect_messages, reference_mode  # noqa: E402

# ---- building payloads (Redis's rdb.c / ziplist.c / zipmap.c formats) ----

_CRC_TABLE = []
for _i in range(256):
    _c = _i
    for _ in range(8):
        _c = (_c >> 1) ^ 0x95ac9329ac4bc9b5 if _c & 1 else _c >> 1
    _CRC_TABLE.append(_c)


def crc64(data, crc=0):
    for b in data:
        crc = _CRC_TABLE[(crc ^ b) & 0xff] ^ (crc >> 8)
    return crc


def payload(body, version=10):
    """Type byte and payload in body; adds the footer."""
    data = body + struct.pack("<H", version)
    return data + struct.pack("<Q", crc64(data))


def rlen(n):
    if n < 64:
        return bytes([n])
    if n < 16384:
        return bytes([0x40 | (n >> 8), n & 0xff])
    return b"\x80" + struct.pack(">I", n)


def rstr(s):
    if isinstance(s, str):
        s = s.encode()
    return rlen(len(s)) + s


def zl_entry(prevlen, v):
    pl = bytes([prevlen]) if prevlen < 254 else b"\xfe" + struct.pack("<I", prevlen)
    if isinstance(v, int):
        if 0 <= v <= 12:
            enc = bytes([0xF1 + v])
        elif -128 <= v <= 127:
            enc = b"\xfe" + struct.pack("<b", v)
        elif -32768 <= v <= 32767:
            enc = b"\xc0" + struct.pack("<h", v)
        elif -(1 << 23) <= v < (1 << 23):
            enc = b"\xf0" + struct.pack("<i", v)[:3]
        elif -(1 << 31) <= v < (1 << 31):
            enc = b"\xd0" + struct.pack("<i", v)
        else:
            enc = b"\xe0" + struct.pack("<q", v)
    else:
        if isinstance(v, str):
            v = v.encode()
        n = len(v)
        if n < 64:
            enc = bytes([n]) + v
        elif n < 16384:
            enc = bytes([0x40 | (n >> 8), n & 0xff]) + v
        else:
            enc = b"\x80" + struct.pack(">I", n) + v
    return pl + enc


def ziplist(values):
    body, prev, off, tail = b"", 0, 10, 10
    for v in values:
        e = zl_entry(prev, v)
        tail = off
        body += e
        off += len(e)
        prev = len(e)
    return struct.pack("<IIH", 10 + len(body) + 1, tail, min(len(values), 65535)) + body + b"\xff"


def zipmap(pairs):
    def ln(n):
        return bytes([n]) if n < 254 else b"\xfe" + struct.pack("<I", n)
    out = bytes([min(len(pairs), 254)])
    for k, v in pairs:
        out += ln(len(k)) + k + ln(len(v)) + b"\x00" + v
    return out + b"\xff"


class TestDump(ServerTestCase):
    server_args = ("--notify-keyspace-events", "KEA")

    def roundtrip(self, key, read):
        before = read()
        p = self.r.cmd("DUMP", key)
        self.assertIsInstance(p, bytes)
        self.assertEqual(p[-10:-8], b"\x0a\x00")
        self.assertEqual(struct.unpack("<Q", p[-8:])[0], crc64(p[:-8]))
        self.assertEqual(self.r.cmd("DEL", key), 1)
        self.assertOK(self.r.cmd("RESTORE", key, "0", p))
        self.assertEqual(read(), before)
        self.assertEqual(self.r.cmd("TTL", key), -1)
        return p

    def test_dump_of_missing_key_is_nil(self):
        self.assertIsNone(self.r.cmd("DUMP", "nope"))

    def test_arity(self):
        self.assertError(self.r.cmd("DUMP"), "ERR wrong number of arguments for 'dump' command")
        self.assertError(self.r.cmd("RESTORE", "k", "0"),
                         "ERR wrong number of arguments for 'restore' command")

    def test_strings(self):
        for v in (b"1", b"-129", b"70000", b"-2147483649", b"12345678901234567890", b"007",
                  b"", b"hello", b"q" * 100, bytes(range(256))):
            self.r.cmd("SET", "k", v)
            p = self.roundtrip("k", lambda: self.r.cmd("GET", "k"))
            if v == b"1":
                self.assertEqual(p[:3], b"\x00\xc0\x01")
            if v == b"q" * 100:
                self.assertEqual(p[1], 0xC3)  # LZF
        self.r.cmd("SET", "k", "12")
        self.roundtrip("k", lambda: self.r.cmd("OBJECT", "ENCODING", "k"))

    def test_lists(self):
        self.r.cmd("RPUSH", "l", "a", "1", "-2", "b" * 70)
        self.roundtrip("l", lambda: self.r.cmd("LRANGE", "l", "0", "-1"))
        self.r.cmd("RPUSH", "big", *["e%d" % i for i in range(5000)])
        self.roundtrip("big", lambda: self.r.cmd("LRANGE", "big", "0", "-1"))
        self.r.cmd("RPUSH", "fat", "x" * 20000, "y", "z" * 9000)
        self.roundtrip("fat", lambda: self.r.cmd("LRANGE", "fat", "0", "-1"))

    def test_sets(self):
        def members(k):
            return lambda: (sorted(self.r.cmd("SMEMBERS", k)),
                            self.r.cmd("OBJECT", "ENCODING", k))
        self.r.cmd("SADD", "ints", "1", "-5", "100000", "9223372036854775807")
        self.roundtrip("ints", members("ints"))
        self.r.cmd("SADD", "manyints", *[str(i) for i in range(1000)])
        self.roundtrip("manyints", members("manyints"))
        self.r.cmd("SADD", "strs", *["m%d" % i for i in range(300)])
        self.roundtrip("strs", members("strs"))

    def test_sorted_sets(self):
        def read(k):
            return lambda: (self.r.cmd("ZRANGE", k, "0", "-1", "WITHSCORES"),
                            self.r.cmd("OBJECT", "ENCODING", k))
        self.r.cmd("ZADD", "z", "1", "a", "1.5", "b", "-inf", "c", "inf", "d", "0.1", "e")
        self.roundtrip("z", read("z"))
        self.r.cmd("ZADD", "big", *sum([[str(i * 0.37), "m%d" % i] for i in range(500)], []))
        self.roundtrip("big", read("big"))
        self.r.cmd("ZADD", "long", "3", "x" * 200, "1", "y")
        self.roundtrip("long", read("long"))

    def test_hashes(self):
        def read(k):
            return lambda: (sorted(self.r.cmd("HGETALL", k)), self.r.cmd("OBJECT", "ENCODING", k))
        self.r.cmd("HSET", "h", "a", "1", "b", "x" * 30)
        self.roundtrip("h", read("h"))
        self.r.cmd("HSET", "big", *sum([["f%d" % i, "v%d" % i] for i in range(1000)], []))
        self.roundtrip("big", read("big"))

    def test_busykey_and_replace(self):
        self.r.cmd("SET", "src", "v")
        p = self.r.cmd("DUMP", "src")
        self.r.cmd("RPUSH", "dst", "x")
        self.assertError(self.r.cmd("RESTORE", "dst", "0", p),
                         "BUSYKEY Target key name already exists.")
        self.assertOK(self.r.cmd("RESTORE", "dst", "0", p, "REPLACE"))
        self.assertEqual(self.r.cmd("GET", "dst"), b"v")

    def test_ttl_relative_and_absolute(self):
        self.r.cmd("SET", "src", "v")
        p = self.r.cmd("DUMP", "src")
        self.assertOK(self.r.cmd("RESTORE", "a", "10000", p))
        self.assertTrue(9000 < self.r.cmd("PTTL", "a") <= 10000)
        at = int(time.time() * 1000) + 100000
        self.assertOK(self.r.cmd("RESTORE", "b", str(at), p, "ABSTTL"))
        self.assertTrue(90000 < self.r.cmd("PTTL", "b") <= 100000)

    def test_ttl_in_the_past_stores_nothing(self):
        self.r.cmd("SET", "src", "v")
        p = self.r.cmd("DUMP", "src")
        self.assertOK(self.r.cmd("RESTORE", "k", "1", p, "ABSTTL"))
        self.assertEqual(self.r.cmd("EXISTS", "k"), 0)
        self.r.cmd("SET", "k", "old")
        self.assertError(self.r.cmd("RESTORE", "k", "1", p, "ABSTTL"),
                         "BUSYKEY Target key name already exists.")
        self.assertOK(self.r.cmd("RESTORE", "k", "1", p, "ABSTTL", "REPLACE"))
        self.assertEqual(self.r.cmd("EXISTS", "k"), 0)

    def test_ttl_type_exists_leave_idletime_alone(self):
        # Redis 7.0 looks these keys up with LOOKUP_NOTOUCH; GET touches
        self.assertOK(self.r.cmd("SET", "src", "v"))
        p = self.r.cmd("DUMP", "src")
        self.assertOK(self.r.cmd("RESTORE", "k", "0", p, "IDLETIME", "1000"))
        for cmd in (("TTL", "k"), ("PTTL", "k"), ("TYPE", "k"), ("EXISTS", "k"),
                    ("EXPIRETIME", "k"), ("PEXPIRETIME", "k")):
            self.r.cmd(*cmd)
            self.assertGreaterEqual(self.r.cmd("OBJECT", "IDLETIME", "k"), 1000, cmd)
        self.r.cmd("GET", "k")
        self.assertLess(self.r.cmd("OBJECT", "IDLETIME", "k"), 10)

    def test_idletime_and_freq(self):
        self.r.cmd("SET", "src", "v")
        p = self.r.cmd("DUMP", "src")
        self.assertOK(self.r.cmd("RESTORE", "k", "0", p, "IDLETIME", "1000"))
        self.assertGreaterEqual(self.r.cmd("OBJECT", "IDLETIME", "k"), 1000)
        self.assertLess(self.r.cmd("OBJECT", "IDLETIME", "k"), 1100)
        self.assertOK(self.r.cmd("RESTORE", "k2", "0", p, "FREQ", "100"))
        self.assertOK(self.r.cmd("RESTORE", "k3", "0", p, "freq", "0", "replace", "absttl"))
        self.assertEqual(self.r.cmd("GET", "k3"), b"v")

    def test_option_errors_in_redis_order(self):
        self.r.cmd("SET", "src", "v")
        p = self.r.cmd("DUMP", "src")
        bad = [
            (("IDLETIME", "-1"), "ERR Invalid IDLETIME value, must be >= 0"),
            (("IDLETIME", "x"), "ERR value is not an integer or out of range"),
            (("FREQ", "256"), "ERR Invalid FREQ value, must be >= 0 and <= 255"),
            (("FREQ", "-1"), "ERR Invalid FREQ value, must be >= 0 and <= 255"),
            (("FREQ", "1.5"), "ERR value is not an integer or out of range"),
            (("IDLETIME", "1", "FREQ", "1"), "ERR syntax error"),
            (("FREQ", "1", "IDLETIME", "1"), "ERR syntax error"),
            (("IDLETIME",), "ERR syntax error"),
            (("NOPE",), "ERR syntax error"),
        ]
        for opts, err in bad:
            # an option error comes before BUSYKEY, the TTL and the payload
            self.assertError(self.r.cmd("RESTORE", "src", "-1", "junk", *opts), err)
        self.assertError(self.r.cmd("RESTORE", "src", "-1", "junk"),
                         "BUSYKEY Target key name already exists.")
        self.assertError(self.r.cmd("RESTORE", "k", "-1", "junk"),
                         "ERR Invalid TTL value, must be >= 0")
        self.assertError(self.r.cmd("RESTORE", "k", "1x", "junk"),
                         "ERR value is not an integer or out of range")
        self.assertError(self.r.cmd("RESTORE", "k", "0", "junk"),
                         "ERR DUMP payload version or checksum are wrong")
        self.assertEqual(self.r.cmd("EXISTS", "k"), 0)

    def test_footer_checks(self):
        self.r.cmd("SET", "src", "value")
        p = self.r.cmd("DUMP", "src")
        wrong = "ERR DUMP payload version or checksum are wrong"
        self.assertError(self.r.cmd("RESTORE", "k", "0", p[:-1]), wrong)
        self.assertError(self.r.cmd("RESTORE", "k", "0", p[:-8] + b"\x00" * 8), wrong)
        self.assertError(self.r.cmd("RESTORE", "k", "0", p[:9]), wrong)
        flipped = bytes([p[0]]) + bytes([p[1] ^ 1]) + p[2:]
        self.assertError(self.r.cmd("RESTORE", "k", "0", flipped), wrong)
        body = p[:-10]
        self.assertError(self.r.cmd("RESTORE", "k", "0", payload(body, 11)), wrong)
        self.assertOK(self.r.cmd("RESTORE", "k", "0", payload(body, 9)))
        self.assertOK(self.r.cmd("RESTORE", "k1", "0", payload(body, 1)))
        self.assertEqual(self.r.cmd("GET", "k1"), b"value")

    def test_bad_data_format(self):
        bad = "ERR Bad data format"
        cases = [
            b"",                                          # no type byte
            b"\x63" + rstr("x"),                          # unknown type
            b"\x00",                                      # string missing
            b"\x00\x40\x50ab",                            # truncated string
            b"\x02\x00",                                  # empty set
            b"\x04\x00",                                  # empty hash
            b"\x01\x00",                                  # empty list
            b"\x05\x00",                                  # empty zset
            b"\x02\x02" + rstr("a") + rstr("a"),          # duplicate member
            b"\x05\x02" + rstr("m") + struct.pack("<d", 1) + rstr("m") + struct.pack("<d", 2),
            b"\x05\x01" + rstr("m") + struct.pack("<d", float("nan")),
            b"\x0d" + rstr(ziplist([])),                  # empty ziplist hash
            b"\x0a" + rstr(ziplist(["a"])[:-1] + b"\x00"),  # ziplist end byte
            b"\x0d" + rstr(ziplist(["f", "v", "f", "w"])),  # duplicate field
            b"\x0d" + rstr(ziplist(["f", "v", "g"])),       # odd count
            b"\x09" + rstr(zipmap([(b"a", b"1"), (b"a", b"2")])),
            b"\x0b" + rstr(b"\x02\x00\x00\x00\x00\x00\x00\x00"),  # empty intset
            b"\x12\x01\x03" + rstr("x"),                  # bad quicklist container
            b"\x10" + rstr(b"\x07\x00\x00\x00\x00\x00\xff"),  # empty listpack hash
            b"\x0e\x01" + rstr(ziplist([])),              # quicklist of an empty ziplist
            b"\x00\xc3\x05\x20\x01abcde",                 # LZF too short for its length
        ]
        for i, body in enumerate(cases):
            self.assertEqual(self.r.cmd("RESTORE", "k%d" % i, "0", payload(body)), Error(bad), i)
            self.assertEqual(self.r.cmd("EXISTS", "k%d" % i), 0)

    def test_what_only_deep_sanitization_finds(self):
        # Redis 7.0 finds these only with sanitize-dump-payload yes; shardis
        # always checks payloads deeply
        if reference_mode():
            self.assertOK(self.r.cmd("CONFIG", "SET", "sanitize-dump-payload", "yes"))
        try:
            for body in (b"\x04\x02" + rstr("f") + rstr("1") + rstr("f") + rstr("2"),
                         b"\x0b" + rstr(b"\x02\x00\x00\x00\x02\x00\x00\x00\x05\x00\x01\x00")):
                self.assertError(self.r.cmd("RESTORE", "k", "0", payload(body)),
                                 "ERR Bad data format")
        finally:
            if reference_mode():
                self.r.cmd("CONFIG", "SET", "sanitize-dump-payload", "no")

    def test_old_forms_redis_still_reads(self):
        r = self.r
        ok = [
            ("s8", b"\x00\xc0\xfb", lambda: r.cmd("GET", "s8"), b"-5"),
            ("s16", b"\x00\xc1\x00\x80", lambda: r.cmd("GET", "s16"), b"-32768"),
            ("s32", b"\x00\xc2\xff\xff\xff\x7f", lambda: r.cmd("GET", "s32"), b"2147483647"),
            ("lzf", b"\x00\xc3\x05\x0a\x00a\xe0\x00\x00", lambda: r.cmd("GET", "lzf"),
             b"a" * 10),
            ("l1", b"\x01\x03" + rstr("a") + rstr("b") + b"\xc0\x07",
             lambda: r.cmd("LRANGE", "l1", "0", "-1"), [b"a", b"b", b"7"]),
            ("z3", b"\x03\x04" + rstr("a") + b"\x031.5" + rstr("b") + b"\xfe" + rstr("c") +
             b"\xff" + rstr("d") + b"\x02-2", lambda: r.cmd("ZRANGE", "z3", "0", "-1",
                                                             "WITHSCORES"),
             [b"c", b"-inf", b"d", b"-2", b"a", b"1.5", b"b", b"inf"]),
            ("zip", b"\x09" + rstr(zipmap([(b"f", b"v"), (b"g" * 300, b"1"), (b"h", b"")])),
             lambda: sorted(r.cmd("HGETALL", "zip")), sorted([b"f", b"v", b"g" * 300, b"1",
                                                               b"h", b""])),
            ("zl", b"\x0a" + rstr(ziplist(["a", 5, -100, 1000, 100000, 1 << 40, -(1 << 20),
                                            "x" * 300])),
             lambda: r.cmd("LRANGE", "zl", "0", "-1"),
             [b"a", b"5", b"-100", b"1000", b"100000", str(1 << 40).encode(),
              str(-(1 << 20)).encode(), b"x" * 300]),
            ("zz", b"\x0c" + rstr(ziplist([7, "-3", "a", 1, "b", "2.5"])),
             lambda: r.cmd("ZRANGE", "zz", "0", "-1", "WITHSCORES"),
             [b"7", b"-3", b"a", b"1", b"b", b"2.5"]),
            ("hz", b"\x0d" + rstr(ziplist(["f", "v", 1, 2])),
             lambda: sorted(r.cmd("HGETALL", "hz")), [b"1", b"2", b"f", b"v"]),
            ("ql", b"\x0e\x02" + rstr(ziplist(["a", "b"])) + rstr(ziplist([3, "c" * 100])),
             lambda: r.cmd("LRANGE", "ql", "0", "-1"), [b"a", b"b", b"3", b"c" * 100]),
            ("qp", b"\x12\x02\x01" + rstr("plain") + b"\x01" + rstr("x" * 70),
             lambda: r.cmd("LRANGE", "qp", "0", "-1"), [b"plain", b"x" * 70]),
        ]
        for key, body, read, want in ok:
            self.assertEqual(r.cmd("RESTORE", key, "0", payload(body)), "OK", key)
            self.assertEqual(read(), want, key)

    def test_big_old_forms_convert(self):
        n = 600
        body = b"\x0d" + rstr(ziplist(sum([["f%d" % i, i] for i in range(n)], [])))
        self.assertOK(self.r.cmd("RESTORE", "h", "0", payload(body)))
        self.assertEqual(self.r.cmd("HLEN", "h"), n)
        self.assertEqual(self.r.cmd("OBJECT", "ENCODING", "h"), b"hashtable")
        self.assertEqual(self.r.cmd("HGET", "h", "f599"), b"599")
        body = b"\x02" + rlen(n) + b"".join(rstr(str(i)) for i in range(n))
        self.assertOK(self.r.cmd("RESTORE", "s", "0", payload(body)))
        self.assertEqual(self.r.cmd("SCARD", "s"), n)
        self.assertEqual(self.r.cmd("OBJECT", "ENCODING", "s"), b"hashtable")

    def test_restore_wakes_a_blocked_pop(self):
        self.r.cmd("RPUSH", "src", "a", "b")
        p = self.r.cmd("DUMP", "src")
        waiter = self.client()
        waiter.send_command("BLPOP", "l", "5")
        self.wait_until(lambda: b"blocked_clients:1" in self.r.cmd("INFO", "clients"))
        self.assertOK(self.r.cmd("RESTORE", "l", "0", p))
        self.assertEqual(waiter.read_reply(), [b"l", b"a"])
        self.assertEqual(self.r.cmd("LRANGE", "l", "0", "-1"), [b"b"])

    def test_restore_event_and_del_for_past_ttl(self):
        sub = self.client()
        sub.send_command("PSUBSCRIBE", "__keyevent@0__:*")
        self.assertEqual(sub.read_reply()[0], b"psubscribe")
        self.r.cmd("SET", "src", "v")
        p = self.r.cmd("DUMP", "src")
        self.assertOK(self.r.cmd("RESTORE", "k", "0", p))
        self.assertOK(self.r.cmd("RESTORE", "k", "0", p, "REPLACE"))
        self.assertOK(self.r.cmd("RESTORE", "k", "1", p, "REPLACE", "ABSTTL"))
        self.assertOK(self.r.cmd("RESTORE", "k", "1", p, "REPLACE", "ABSTTL"))
        self.assertEqual(collect_messages(sub, 4), [
            ("__keyevent@0__:set", "src"), ("__keyevent@0__:restore", "k"),
            ("__keyevent@0__:restore", "k"), ("__keyevent@0__:del", "k")])


if __name__ == "__main__":
    unittest.main()
