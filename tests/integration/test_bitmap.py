"""Bitmap commands (SETBIT GETBIT BITCOUNT BITPOS BITOP BITFIELD BITFIELD_RO):
Redis 7.0 replies, exact error strings, zero padding, the proto-max-bulk-len
bound on offsets, integer-encoded strings read as their digits, BITOP over
keys on different shards, BITFIELD's overflow rules (checked against a Python
model), keyspace events and the RESP3 forms.

Every test passes against redis-server 7.0.15 (SHARDIS_REFERENCE=redis).
"""

import os
import random
import sys
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import ServerTestCase, collect_messages  # noqa: E402

OFFSET_ERR = "ERR bit offset is not an integer or out of range"
BIT_ERR = "ERR bit is not an integer or out of range"
BITARG_ERR = "ERR The bit argument must be 1 or 0."
TYPE_ERR = ("ERR Invalid bitfield type. Use something like i16 u8. "
            "Note that u64 is not supported but i64 is.")
OVERFLOW_ERR = "ERR Invalid OVERFLOW type specified"
RO_ERR = "ERR BITFIELD_RO only supports the GET subcommand"
NOT_ERR = "ERR BITOP NOT must be called with a single source key."
NOT_INTEGER = "ERR value is not an integer or out of range"
SYNTAX = "ERR syntax error"
WRONGTYPE = "WRONGTYPE Operation against a key holding the wrong kind of value"


def arity(cmd):
    return "ERR wrong number of arguments for '%s' command" % cmd


def bits_of(data):
    """The bits of a byte string, bit 0 first (Redis's numbering)."""
    return [(b >> (7 - i)) & 1 for b in data for i in range(8)]


class TestSetGetBit(ServerTestCase):

    def test_setbit_replies_the_old_bit_and_pads_with_zeros(self):
        self.assertEqual(self.r.cmd("SETBIT", "k", "7", "1"), 0)
        self.assertEqual(self.r.cmd("GET", "k"), b"\x01")
        self.assertEqual(self.r.cmd("SETBIT", "k", "7", "1"), 1)
        self.assertEqual(self.r.cmd("SETBIT", "k", "7", "0"), 1)
        self.assertEqual(self.r.cmd("SETBIT", "k", "100", "1"), 0)
        self.assertEqual(self.r.cmd("STRLEN", "k"), 13)
        self.assertEqual(self.r.cmd("GET", "k"), b"\x00" * 12 + b"\x08")
        self.assertEqual(self.r.cmd("SETBIT", "k", "0", "1"), 0)
        self.assertEqual(self.r.cmd("GET", "k")[:1], b"\x80")

    def test_setbit_of_zero_still_creates_and_grows_the_string(self):
        self.assertEqual(self.r.cmd("SETBIT", "k", "20", "0"), 0)
        self.assertEqual(self.r.cmd("GET", "k"), b"\x00\x00\x00")
        self.r.cmd("SET", "s", "")
        self.assertEqual(self.r.cmd("SETBIT", "s", "0", "0"), 0)
        self.assertEqual(self.r.cmd("GET", "s"), b"\x00")

    def test_getbit(self):
        self.assertEqual(self.r.cmd("GETBIT", "missing", "0"), 0)
        self.r.cmd("SET", "k", b"\x80\x01")
        self.assertEqual([self.r.cmd("GETBIT", "k", str(i)) for i in range(17)],
                         bits_of(b"\x80\x01") + [0])
        self.assertEqual(self.r.cmd("GETBIT", "k", "4294967295"), 0)

    def test_integer_strings_are_their_digits(self):
        self.r.cmd("SET", "n", "123")
        self.assertEqual(self.r.cmd("OBJECT", "ENCODING", "n"), b"int")
        self.assertEqual([self.r.cmd("GETBIT", "n", str(i)) for i in range(24)],
                         bits_of(b"123"))
        self.assertEqual(self.r.cmd("SETBIT", "n", "22", "0"), 1)  # '3' -> '1'
        self.assertEqual(self.r.cmd("GET", "n"), b"121")
        self.assertEqual(self.r.cmd("INCR", "n"), 122)

    def test_object_encoding_is_raw_after_a_bit_write(self):
        for cmd in (("SETBIT", "k", "0", "0"), ("BITFIELD", "k", "INCRBY", "u8", "0", "0")):
            self.r.cmd("SET", "k", "12")
            self.r.cmd(*cmd)
            self.assertEqual(self.r.cmd("GET", "k"), b"12")
            self.assertEqual(self.r.cmd("OBJECT", "ENCODING", "k"), b"raw", cmd)
        self.r.cmd("SET", "k", "12")
        self.r.cmd("BITFIELD", "k", "GET", "u8", "0")
        self.assertEqual(self.r.cmd("OBJECT", "ENCODING", "k"), b"int")
        self.r.cmd("SETBIT", "new", "3", "1")
        self.assertEqual(self.r.cmd("OBJECT", "ENCODING", "new"), b"raw")
        self.r.cmd("SET", "d", "7")
        self.r.cmd("BITOP", "OR", "d", "k")
        self.assertEqual(self.r.cmd("OBJECT", "ENCODING", "d"), b"raw")

    def test_setbit_keeps_the_ttl(self):
        self.r.cmd("SET", "k", "a", "EX", "100")
        self.r.cmd("SETBIT", "k", "100", "1")
        self.assertGreater(self.r.cmd("TTL", "k"), 0)

    def test_errors(self):
        for off in ("-1", "x", "1.5", "", "4294967296", "#1"):
            self.assertError(self.r.cmd("SETBIT", "k", off, "1"), OFFSET_ERR)
            self.assertError(self.r.cmd("GETBIT", "k", off), OFFSET_ERR)
        for bit in ("2", "-1", "x", "", "01"):
            self.assertError(self.r.cmd("SETBIT", "k", "0", bit), BIT_ERR)
        self.assertEqual(self.r.cmd("EXISTS", "k"), 0)
        self.r.cmd("RPUSH", "l", "a")
        self.assertError(self.r.cmd("SETBIT", "l", "0", "1"), WRONGTYPE)
        self.assertError(self.r.cmd("GETBIT", "l", "0"), WRONGTYPE)
        self.assertError(self.r.cmd("GETBIT", "l", "-1"), OFFSET_ERR)  # offset first
        self.assertError(self.r.cmd("SETBIT", "k", "0"), arity("setbit"))
        self.assertError(self.r.cmd("GETBIT", "k"), arity("getbit"))

    def test_offsets_are_bounded_by_proto_max_bulk_len(self):
        self.assertOK(self.r.cmd("CONFIG", "SET", "proto-max-bulk-len", "1048576"))
        try:
            self.assertError(self.r.cmd("SETBIT", "k", "8388608", "1"), OFFSET_ERR)
            self.assertError(self.r.cmd("GETBIT", "k", "8388608"), OFFSET_ERR)
            self.assertError(self.r.cmd("BITFIELD", "k", "GET", "u8", "#1048576"), OFFSET_ERR)
            self.assertEqual(self.r.cmd("SETBIT", "k", "8388607", "1"), 0)
            self.assertEqual(self.r.cmd("STRLEN", "k"), 1048576)
            self.assertEqual(self.r.cmd("BITCOUNT", "k"), 1)
            self.assertEqual(self.r.cmd("BITPOS", "k", "1"), 8388607)
        finally:
            self.r.cmd("CONFIG", "SET", "proto-max-bulk-len", "536870912")


class TestBitcount(ServerTestCase):

    def test_whole_string_and_byte_ranges(self):
        self.r.cmd("SET", "k", "foobar")
        self.assertEqual(self.r.cmd("BITCOUNT", "k"), 26)
        self.assertEqual(self.r.cmd("BITCOUNT", "k", "0", "0"), 4)
        self.assertEqual(self.r.cmd("BITCOUNT", "k", "1", "1"), 6)
        self.assertEqual(self.r.cmd("BITCOUNT", "k", "1", "1", "byte"), 6)
        self.assertEqual(self.r.cmd("BITCOUNT", "k", "-2", "-1"), 7)
        self.assertEqual(self.r.cmd("BITCOUNT", "k", "-100", "100"), 26)
        self.assertEqual(self.r.cmd("BITCOUNT", "k", "4", "2"), 0)
        self.assertEqual(self.r.cmd("BITCOUNT", "k", "-1", "-2"), 0)
        self.assertEqual(self.r.cmd("BITCOUNT", "k", "6", "100"), 0)

    def test_bit_ranges(self):
        self.r.cmd("SET", "k", "foobar")
        self.assertEqual(self.r.cmd("BITCOUNT", "k", "5", "30", "BIT"), 17)
        self.assertEqual(self.r.cmd("BITCOUNT", "k", "5", "30", "bit"), 17)
        self.assertEqual(self.r.cmd("BITCOUNT", "k", "-8", "-1", "BIT"), 4)
        self.assertEqual(self.r.cmd("BITCOUNT", "k", "3", "3", "BIT"), 0)
        self.assertEqual(self.r.cmd("BITCOUNT", "k", "1", "1", "BIT"), 1)

    def test_random_ranges_match_a_model(self):
        rnd = random.Random(5)
        data = bytes(rnd.choice([0, 255, rnd.randrange(256)]) for _ in range(70))
        self.r.cmd("SET", "k", data)
        bits = bits_of(data)
        for _ in range(150):
            isbit = rnd.random() < 0.5
            total = len(bits) if isbit else len(data)
            a, b = rnd.randint(-total - 5, total + 5), rnd.randint(-total - 5, total + 5)
            if a < 0 and b < 0 and a > b:
                want = 0
            else:
                s, e = (a + total if a < 0 else a), (b + total if b < 0 else b)
                s, e = max(s, 0), min(max(e, 0), total - 1)
                unit = 1 if isbit else 8
                want = sum(bits[s * unit:(e + 1) * unit]) if s <= e else 0
            args = ["BITCOUNT", "k", str(a), str(b)] + (["BIT"] if isbit else [])
            self.assertEqual(self.r.cmd(*args), want, args)

    def test_integer_value_counts_its_digits(self):
        self.r.cmd("SET", "n", "-1234")
        self.assertEqual(self.r.cmd("BITCOUNT", "n"), sum(bits_of(b"-1234")))

    def test_missing_key_is_zero_before_the_arguments_are_read(self):
        self.assertEqual(self.r.cmd("BITCOUNT", "missing"), 0)
        self.assertEqual(self.r.cmd("BITCOUNT", "missing", "0", "-1"), 0)
        self.assertEqual(self.r.cmd("BITCOUNT", "missing", "x", "y", "z", "w"), 0)

    def test_errors(self):
        self.r.cmd("SET", "k", "foobar")
        self.assertError(self.r.cmd("BITCOUNT", "k", "0"), SYNTAX)
        self.assertError(self.r.cmd("BITCOUNT", "k", "0", "1", "BIT", "x"), SYNTAX)
        self.assertError(self.r.cmd("BITCOUNT", "k", "0", "1", "bits"), SYNTAX)
        self.assertError(self.r.cmd("BITCOUNT", "k", "x", "1"), NOT_INTEGER)
        self.assertError(self.r.cmd("BITCOUNT", "k", "0", "1.0"), NOT_INTEGER)
        # an empty negative range answers before the unit is read
        self.assertEqual(self.r.cmd("BITCOUNT", "k", "-1", "-2", "bits"), 0)
        self.r.cmd("SADD", "s", "a")
        self.assertError(self.r.cmd("BITCOUNT", "s"), WRONGTYPE)
        self.assertError(self.r.cmd("BITCOUNT", "s", "x", "y"), WRONGTYPE)
        self.assertError(self.r.cmd("BITCOUNT"), arity("bitcount"))


class TestBitpos(ServerTestCase):

    def test_examples(self):
        self.r.cmd("SET", "k", b"\xff\xf0\x00")
        self.assertEqual(self.r.cmd("BITPOS", "k", "0"), 12)
        self.r.cmd("SET", "k", b"\x00\xff\xf0")
        self.assertEqual(self.r.cmd("BITPOS", "k", "1", "0"), 8)
        self.assertEqual(self.r.cmd("BITPOS", "k", "1", "2"), 16)
        self.assertEqual(self.r.cmd("BITPOS", "k", "1", "2", "-1", "BYTE"), 16)
        self.assertEqual(self.r.cmd("BITPOS", "k", "1", "7", "15", "BIT"), 8)
        self.assertEqual(self.r.cmd("BITPOS", "k", "1", "7", "-3", "bit"), 8)
        self.assertEqual(self.r.cmd("BITPOS", "k", "0", "8", "11", "BIT"), -1)
        self.assertEqual(self.r.cmd("BITPOS", "k", "0", "8", "12", "BIT"), -1)
        self.assertEqual(self.r.cmd("BITPOS", "k", "0", "8", "20", "BIT"), 20)

    def test_clear_bit_past_the_end_only_without_an_end(self):
        self.r.cmd("SET", "k", b"\xff\xff\xff")
        self.assertEqual(self.r.cmd("BITPOS", "k", "0"), 24)
        self.assertEqual(self.r.cmd("BITPOS", "k", "0", "1"), 24)
        self.assertEqual(self.r.cmd("BITPOS", "k", "0", "0", "-1"), -1)
        self.assertEqual(self.r.cmd("BITPOS", "k", "1", "3"), -1)
        self.assertEqual(self.r.cmd("BITPOS", "k", "1", "2", "1"), -1)
        self.r.cmd("SET", "z", b"\x00\x00")
        self.assertEqual(self.r.cmd("BITPOS", "z", "1"), -1)
        self.assertEqual(self.r.cmd("BITPOS", "z", "0"), 0)
        self.r.cmd("SET", "e", "")
        self.assertEqual(self.r.cmd("BITPOS", "e", "0"), -1)

    def test_missing_key(self):
        self.assertEqual(self.r.cmd("BITPOS", "missing", "0"), 0)
        self.assertEqual(self.r.cmd("BITPOS", "missing", "1"), -1)
        self.assertEqual(self.r.cmd("BITPOS", "missing", "1", "x", "y", "z", "w"), -1)

    def test_random_ranges_match_a_model(self):
        rnd = random.Random(9)
        for _ in range(4):
            data = bytes(rnd.choice([0, 255, 255, rnd.randrange(256)]) for _ in range(40))
            self.r.cmd("SET", "k", data)
            bits = bits_of(data)
            for _ in range(60):
                bit = rnd.randrange(2)
                isbit = rnd.random() < 0.5
                has_end = isbit or rnd.random() < 0.6
                total = len(bits) if isbit else len(data)
                a, b = rnd.randint(-total - 3, total + 3), rnd.randint(-total - 3, total + 3)
                e0 = b if has_end else total - 1
                s, e = (a + total if a < 0 else a), (e0 + total if e0 < 0 else e0)
                s, e = max(s, 0), min(max(e, 0), total - 1)
                unit = 1 if isbit else 8
                want = -1
                if s <= e:
                    lo, hi = s * unit, (e + 1) * unit - 1
                    found = [i for i in range(lo, hi + 1) if bits[i] == bit]
                    want = found[0] if found else (hi + 1 if bit == 0 and not has_end else -1)
                args = ["BITPOS", "k", str(bit), str(a)]
                args += ([str(b)] if has_end else []) + (["BIT"] if isbit else [])
                self.assertEqual(self.r.cmd(*args), want, args)

    def test_errors(self):
        self.r.cmd("SET", "k", "a")
        self.assertError(self.r.cmd("BITPOS", "k", "2"), BITARG_ERR)
        self.assertError(self.r.cmd("BITPOS", "missing", "-1"), BITARG_ERR)
        self.assertError(self.r.cmd("BITPOS", "k", "x"), NOT_INTEGER)
        self.assertError(self.r.cmd("BITPOS", "k", "1", "x"), NOT_INTEGER)
        self.assertError(self.r.cmd("BITPOS", "k", "1", "0", "x"), NOT_INTEGER)
        self.assertError(self.r.cmd("BITPOS", "k", "1", "0", "x", "BITS"), SYNTAX)
        self.assertError(self.r.cmd("BITPOS", "k", "1", "0", "x", "BIT"), NOT_INTEGER)
        self.assertError(self.r.cmd("BITPOS", "k", "1", "0", "1", "BIT", "x"), SYNTAX)
        self.r.cmd("HSET", "h", "f", "v")
        self.assertError(self.r.cmd("BITPOS", "h", "1"), WRONGTYPE)
        self.assertError(self.r.cmd("BITPOS", "k"), arity("bitpos"))


class TestBitop(ServerTestCase):

    def test_operations_pad_shorter_strings_with_zeros(self):
        self.r.cmd("SET", "{t}a", b"\xff\x0f\x55")
        self.r.cmd("SET", "{t}b", b"\xf0\xff")
        self.assertEqual(self.r.cmd("BITOP", "AND", "{t}d", "{t}a", "{t}b"), 3)
        self.assertEqual(self.r.cmd("GET", "{t}d"), b"\xf0\x0f\x00")
        self.assertEqual(self.r.cmd("BITOP", "or", "{t}d", "{t}a", "{t}b"), 3)
        self.assertEqual(self.r.cmd("GET", "{t}d"), b"\xff\xff\x55")
        self.assertEqual(self.r.cmd("BITOP", "Xor", "{t}d", "{t}a", "{t}b"), 3)
        self.assertEqual(self.r.cmd("GET", "{t}d"), b"\x0f\xf0\x55")
        self.assertEqual(self.r.cmd("BITOP", "NOT", "{t}d", "{t}b"), 2)
        self.assertEqual(self.r.cmd("GET", "{t}d"), b"\x0f\x00")
        self.assertEqual(self.r.cmd("BITOP", "AND", "{t}d", "{t}a", "{t}missing"), 3)
        self.assertEqual(self.r.cmd("GET", "{t}d"), b"\x00\x00\x00")

    def test_integer_sources_and_the_destination_among_them(self):
        self.r.cmd("SET", "{t}n", "12")
        self.r.cmd("SET", "{t}d", b"\x01")
        self.assertEqual(self.r.cmd("BITOP", "XOR", "{t}d", "{t}d", "{t}n"), 2)
        self.assertEqual(self.r.cmd("GET", "{t}d"), bytes([0x31 ^ 1, 0x32]))

    def test_destination_is_replaced_whatever_it_was(self):
        self.r.cmd("SET", "a", "x")
        self.r.cmd("RPUSH", "d", "1")
        self.r.cmd("EXPIRE", "d", "100")
        self.assertEqual(self.r.cmd("BITOP", "OR", "d", "a"), 1)
        self.assertEqual(self.r.cmd("TYPE", "d"), "string")
        self.assertEqual(self.r.cmd("GET", "d"), b"x")
        self.assertEqual(self.r.cmd("TTL", "d"), -1)

    def test_an_empty_result_deletes_the_destination(self):
        self.r.cmd("SET", "d", "old")
        self.r.cmd("SET", "e", "")
        self.assertEqual(self.r.cmd("BITOP", "AND", "d", "missing1", "missing2"), 0)
        self.assertEqual(self.r.cmd("EXISTS", "d"), 0)
        self.assertEqual(self.r.cmd("BITOP", "NOT", "d", "e"), 0)
        self.assertEqual(self.r.cmd("EXISTS", "d"), 0)

    def test_keys_across_shards_match_a_model(self):
        rnd = random.Random(3)
        keys = ["src:%d" % i for i in range(8)]
        vals = {}
        for k in keys:
            if rnd.random() < 0.8:
                vals[k] = bytes(rnd.randrange(256) for _ in range(rnd.randrange(0, 40)))
                self.r.cmd("SET", k, vals[k])
        self.r.cmd("SET", "src:int", "4096")
        vals["src:int"] = b"4096"
        keys.append("src:int")
        for round_ in range(40):
            op = rnd.choice(["AND", "OR", "XOR", "NOT"])
            srcs = [rnd.choice(keys)] if op == "NOT" else rnd.sample(keys, rnd.randint(1, 5))
            dst = "dst:%d" % rnd.randrange(4)
            parts = [vals.get(k, b"") for k in srcs]
            n = max(len(p) for p in parts)
            padded = [p + b"\x00" * (n - len(p)) for p in parts]
            out = []
            for j in range(n):
                x = padded[0][j] ^ 0xff if op == "NOT" else padded[0][j]
                for p in padded[1:]:
                    x = x & p[j] if op == "AND" else x | p[j] if op == "OR" else x ^ p[j]
                out.append(x)
            self.assertEqual(self.r.cmd("BITOP", op, dst, *srcs), n, (op, srcs))
            self.assertEqual(self.r.cmd("GET", dst), bytes(out) if n else None)

    def test_errors(self):
        self.r.cmd("SET", "a", "x")
        self.r.cmd("SADD", "s", "m")
        self.r.cmd("SET", "d", "keep")
        self.assertError(self.r.cmd("BITOP", "NAND", "d", "a"), SYNTAX)
        self.assertError(self.r.cmd("BITOP", "NOT", "d", "a", "a"), NOT_ERR)
        self.assertError(self.r.cmd("BITOP", "NOT", "d", "s", "a"), NOT_ERR)
        self.assertError(self.r.cmd("BITOP", "AND", "d", "a", "missing", "s"), WRONGTYPE)
        self.assertError(self.r.cmd("BITOP", "NOT", "d", "s"), WRONGTYPE)
        self.assertEqual(self.r.cmd("GET", "d"), b"keep")
        self.assertError(self.r.cmd("BITOP", "AND", "d"), arity("bitop"))


def field_get(buf, off, bits, signed):
    v = 0
    for i in range(off, off + bits):
        byte = buf[i // 8] if i // 8 < len(buf) else 0
        v = (v << 1) | ((byte >> (7 - i % 8)) & 1)
    if signed and v >> (bits - 1):
        v -= 1 << bits
    return v


def field_set(buf, off, bits, v):
    need = (off + bits + 7) // 8
    if len(buf) < need:
        buf.extend(b"\x00" * (need - len(buf)))
    v &= (1 << bits) - 1
    for j in range(bits):
        i = off + j
        b = (v >> (bits - 1 - j)) & 1
        buf[i // 8] = (buf[i // 8] & ~(1 << (7 - i % 8)) & 0xff) | (b << (7 - i % 8))


class TestBitfield(ServerTestCase):

    def test_get_set_incrby(self):
        self.assertEqual(self.r.cmd("BITFIELD", "k", "SET", "i8", "0", "100",
                                    "GET", "u4", "0", "INCRBY", "i5", "100", "1",
                                    "GET", "u4", "#1"), [0, 6, 1, 4])
        self.assertEqual(self.r.cmd("STRLEN", "k"), 14)
        self.assertEqual(self.r.cmd("BITFIELD", "k", "SET", "u8", "#1", "255",
                                    "GET", "u8", "8", "get", "i8", "#1"), [0, 255, -1])
        self.assertEqual(self.r.cmd("BITFIELD", "missing", "GET", "i64", "100"), [0])
        self.assertEqual(self.r.cmd("EXISTS", "missing"), 0)
        self.assertEqual(self.r.cmd("BITFIELD", "k"), [])

    def test_widest_fields(self):
        top = 2 ** 63 - 1
        self.assertEqual(self.r.cmd("BITFIELD", "k", "SET", "i64", "3", str(-2 ** 63),
                                    "GET", "i64", "3", "SET", "u63", "3", str(top >> 1),
                                    "GET", "u63", "3"), [0, -2 ** 63, 2 ** 62, top >> 1])
        self.assertEqual(self.r.cmd("BITFIELD", "k", "INCRBY", "i64", "3", "1",
                                    "INCRBY", "i64", "3", str(-2 ** 63)), [top, -1])

    def test_overflow_modes(self):
        r = self.r.cmd("BITFIELD", "k", "SET", "u2", "0", "3",
                       "INCRBY", "u2", "0", "1",
                       "OVERFLOW", "SAT", "INCRBY", "u2", "0", "5", "INCRBY", "u2", "0", "-9",
                       "OVERFLOW", "FAIL", "INCRBY", "u2", "0", "4", "INCRBY", "u2", "0", "-1",
                       "GET", "u2", "0")
        self.assertEqual(r, [0, 0, 3, 0, None, None, 0])
        r = self.r.cmd("BITFIELD", "k", "SET", "i4", "8", "7", "INCRBY", "i4", "8", "1",
                       "OVERFLOW", "sat", "INCRBY", "i4", "8", "-100", "INCRBY", "i4", "8", "100",
                       "overflow", "wrap", "SET", "i4", "8", "9", "GET", "i4", "8",
                       "OVERFLOW", "fail", "SET", "i4", "8", "8", "SET", "i4", "8", "-8")
        self.assertEqual(r, [0, -8, -8, 7, 7, -7, None, -7])

    def test_redis_overflow_oddities(self):
        # an unsigned SET of a negative value, and a signed SET far below the
        # minimum, saturate to the maximum in Redis 7.0
        r = self.r.cmd("BITFIELD", "k", "OVERFLOW", "SAT", "SET", "u8", "0", "-1",
                       "GET", "u8", "0", "SET", "i8", "8", str(-2 ** 63), "GET", "i8", "8",
                       "SET", "i8", "8", str(-2 ** 63 + 200), "GET", "i8", "8")
        self.assertEqual(r, [0, 255, 0, 127, 127, -128])
        self.assertEqual(self.r.cmd("BITFIELD", "k", "OVERFLOW", "WRAP", "SET", "u8", "0", "-2",
                                    "GET", "u8", "0"), [255, 254])

    def test_fail_still_creates_the_key(self):
        self.assertEqual(self.r.cmd("BITFIELD", "k", "OVERFLOW", "FAIL",
                                    "INCRBY", "u2", "10", "9"), [None])
        self.assertEqual(self.r.cmd("GET", "k"), b"\x00\x00")

    def test_hash_offsets_multiply_by_the_width(self):
        self.r.cmd("SET", "k", "abcdefghijkl")
        self.assertEqual(self.r.cmd("BITFIELD", "k", "GET", "u8", "#3", "GET", "i16", "#2"),
                         [ord("d"), field_get(b"abcdefghijkl", 32, 16, True)])
        # Redis multiplies in a wrapping long long: (2^61 + 1) * 8 is bit 8
        self.assertEqual(self.r.cmd("BITFIELD", "k", "GET", "u8", "#2305843009213693953"),
                         [ord("b")])

    def test_random_operations_match_a_model(self):
        rnd = random.Random(21)
        buf = bytearray()
        exists = False
        for _ in range(120):
            args, want, ow = [], [], "WRAP"
            for _ in range(rnd.randint(1, 5)):
                signed = rnd.random() < 0.5
                bits = rnd.randint(1, 64 if signed else 63)
                t = ("i" if signed else "u") + str(bits)
                off = rnd.randrange(0, 80)
                if signed:
                    lo, hi = -(1 << (bits - 1)), (1 << (bits - 1)) - 1
                else:
                    lo, hi = 0, (1 << bits) - 1
                c = rnd.randrange(5)
                if c == 0:
                    ow = rnd.choice(["WRAP", "SAT", "FAIL"])
                    args += ["OVERFLOW", ow]
                elif c == 1:
                    args += ["GET", t, str(off)]
                    want.append(field_get(buf, off, bits, signed))
                else:
                    v = rnd.choice([rnd.randint(-300, 300), rnd.randint(lo, hi),
                                    rnd.randint(-2 ** 62, 2 ** 62), hi, lo])
                    if not signed and c == 2:
                        v = abs(v)  # (negative unsigned SETs: see the oddities test)
                    old = field_get(buf, off, bits, signed)
                    new = v if c == 2 else old + v
                    sub = "SET" if c == 2 else "INCRBY"
                    args += [sub, t, str(off), str(v)]
                    if lo <= new <= hi or ow == "WRAP":
                        new = (new - lo) % (hi - lo + 1) + lo
                    elif ow == "SAT":
                        new = hi if new > hi else lo
                    else:
                        new = None
                    need = (off + bits + 7) // 8  # the string grows first
                    buf.extend(b"\x00" * max(0, need - len(buf)))
                    exists = True
                    if new is None:
                        want.append(None)
                        continue
                    field_set(buf, off, bits, new)
                    want.append(old if sub == "SET" else new)
            self.assertEqual(self.r.cmd("BITFIELD", "k", *args), want, args)
            if exists:
                self.assertEqual(self.r.cmd("GET", "k"), bytes(buf))

    def test_bitfield_ro(self):
        self.r.cmd("SET", "k", b"\x0f")
        self.assertEqual(self.r.cmd("BITFIELD_RO", "k", "GET", "u4", "4", "GET", "i4", "4"),
                         [15, -1])
        self.assertEqual(self.r.cmd("BITFIELD_RO", "missing", "GET", "u4", "4"), [0])
        self.assertEqual(self.r.cmd("BITFIELD_RO", "k"), [])
        self.assertError(self.r.cmd("BITFIELD_RO", "k", "GET", "u4", "0", "SET", "u4", "0", "1"),
                         RO_ERR)
        self.assertError(self.r.cmd("BITFIELD_RO", "k", "INCRBY", "u4", "0", "1"), RO_ERR)
        self.assertError(self.r.cmd("BITFIELD_RO", "k", "OVERFLOW", "SAT", "GET", "u4", "0",
                                    "SET", "u4", "0", "1"), RO_ERR)
        self.assertEqual(self.r.cmd("GET", "k"), b"\x0f")
        self.r.cmd("SADD", "s", "m")
        self.assertError(self.r.cmd("BITFIELD_RO", "s", "SET", "u4", "0", "1"), RO_ERR)
        self.assertError(self.r.cmd("BITFIELD_RO", "s", "GET", "u4", "0"), WRONGTYPE)
        self.assertError(self.r.cmd("BITFIELD_RO"), arity("bitfield_ro"))

    def test_errors(self):
        for t in ("u64", "i65", "u0", "i0", "I8", "x8", "", "u", "i-1", "u08"):
            self.assertError(self.r.cmd("BITFIELD", "k", "GET", t, "0"), TYPE_ERR)
        for off in ("-1", "x", "#", "#-1", "#x", "4294967296"):
            self.assertError(self.r.cmd("BITFIELD", "k", "GET", "u8", off), OFFSET_ERR)
        self.assertError(self.r.cmd("BITFIELD", "k", "SET", "u8", "0", "x"), NOT_INTEGER)
        self.assertError(self.r.cmd("BITFIELD", "k", "INCRBY", "u8", "0", "1.5"), NOT_INTEGER)
        self.assertError(self.r.cmd("BITFIELD", "k", "OVERFLOW", "BAD"), OVERFLOW_ERR)
        self.assertError(self.r.cmd("BITFIELD", "k", "OVERFLOW"), SYNTAX)
        self.assertError(self.r.cmd("BITFIELD", "k", "GET", "u8"), SYNTAX)
        self.assertError(self.r.cmd("BITFIELD", "k", "SET", "u8", "0"), SYNTAX)
        self.assertError(self.r.cmd("BITFIELD", "k", "FOO", "u8", "0"), SYNTAX)
        # every subcommand is checked before anything runs
        self.assertError(self.r.cmd("BITFIELD", "k", "SET", "u8", "0", "1", "GET", "u64", "0"),
                         TYPE_ERR)
        self.assertEqual(self.r.cmd("EXISTS", "k"), 0)
        self.r.cmd("RPUSH", "l", "a")
        self.assertError(self.r.cmd("BITFIELD", "l", "SET", "u8", "0", "1"), WRONGTYPE)
        self.assertError(self.r.cmd("BITFIELD", "l", "GET", "u8", "0"), WRONGTYPE)
        self.assertError(self.r.cmd("BITFIELD", "l"), WRONGTYPE)
        self.assertError(self.r.cmd("BITFIELD", "l", "GET", "u65", "0"), TYPE_ERR)
        self.assertError(self.r.cmd("BITFIELD"), arity("bitfield"))


class TestResp3(ServerTestCase):

    def test_replies_in_both_protocols(self):
        self.r.cmd("SETBIT", "k", "3", "1")
        args = ("BITFIELD", "k", "OVERFLOW", "FAIL", "INCRBY", "u2", "2", "8", "GET", "u8", "0")
        self.assertEqual(self.r.raw(*args), b"*2\r\n$-1\r\n:16\r\n")
        self.assertEqual(self.r.raw("BITCOUNT", "k"), b":1\r\n")
        self.r.cmd("HELLO", "3")
        self.assertEqual(self.r.raw(*args), b"*2\r\n_\r\n:16\r\n")
        self.assertEqual(self.r.raw("BITPOS", "k", "1"), b":3\r\n")
        self.assertEqual(self.r.raw("BITOP", "NOT", "k", "k"), b":1\r\n")
        self.assertEqual(self.r.raw("GETBIT", "k", "3"), b":0\r\n")


class TestNotifications(ServerTestCase):
    server_args = ("--notify-keyspace-events", "KEA")

    def setUp(self):
        super().setUp()
        self.sub = self.client()
        self.sub.send_command("PSUBSCRIBE", "__keyevent@0__:*")
        self.assertEqual(self.sub.read_reply()[0], b"psubscribe")

    def events(self, n):
        return collect_messages(self.sub, n, quiet=0.2)

    def test_setbit_notifies_only_when_something_changed(self):
        self.r.cmd("SETBIT", "k", "3", "1")
        self.r.cmd("SETBIT", "k", "3", "1")  # no change: no event
        self.r.cmd("SETBIT", "k", "3", "0")
        self.r.cmd("SETBIT", "k", "20", "0")  # grows: an event
        self.assertEqual(self.events(3), [("__keyevent@0__:setbit", "k")] * 3)

    def test_bitfield_notifies_once_per_call_with_changes(self):
        self.r.cmd("SET", "k", b"\x00")
        self.assertEqual(self.events(1), [("__keyevent@0__:set", "k")])
        self.r.cmd("BITFIELD", "k", "SET", "u8", "0", "1", "INCRBY", "u8", "0", "1")
        self.r.cmd("BITFIELD", "k", "SET", "u8", "0", "2")  # same value: nothing
        self.r.cmd("BITFIELD", "k", "GET", "u8", "0")
        self.r.cmd("BITFIELD", "k", "OVERFLOW", "FAIL", "INCRBY", "u8", "0", "300")
        self.assertEqual(self.events(1), [("__keyevent@0__:setbit", "k")])

    def test_bitop_sets_or_deletes_the_destination(self):
        self.r.cmd("SET", "a", "x")
        self.r.cmd("SET", "d", "y")
        self.assertEqual(len(self.events(2)), 2)
        self.r.cmd("BITOP", "OR", "d", "a")
        self.r.cmd("BITOP", "AND", "d", "missing")
        self.r.cmd("BITOP", "AND", "d", "missing")  # nothing left to delete
        self.assertEqual(self.events(2), [("__keyevent@0__:set", "d"),
                                          ("__keyevent@0__:del", "d")])


if __name__ == "__main__":
    unittest.main()
