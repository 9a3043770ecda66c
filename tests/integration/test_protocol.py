"""The wire protocol: inline and multibulk requests, protocol errors, RESP3,
and the harness's own RESP parser."""

import os
import random
import sys
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import (BigNumber, Double, Error, Incomplete, Map, Push,  # noqa: E402
                     RespSet, ServerTestCase, Status, Verbatim, encode_command,
                     parse_reply)


def protocol_error(what):
    return "ERR Protocol error: " + what


class TestRespParser(unittest.TestCase):
    """The harness parser itself (no server needed)."""

    def parse(self, data):
        value, pos = parse_reply(data)
        self.assertEqual(pos, len(data))
        return value

    def test_resp2_types(self):
        self.assertEqual(self.parse(b"+OK\r\n"), "OK")
        self.assertIsInstance(self.parse(b"+OK\r\n"), Status)
        self.assertEqual(self.parse(b"-ERR x y\r\n"), Error("ERR x y"))
        self.assertEqual(self.parse(b":-42\r\n"), -42)
        self.assertEqual(self.parse(b"$3\r\na\r\n\r\n"), b"a\r\n")
        self.assertEqual(self.parse(b"$0\r\n\r\n"), b"")
        self.assertIsNone(self.parse(b"$-1\r\n"))
        self.assertIsNone(self.parse(b"*-1\r\n"))
        self.assertEqual(self.parse(b"*3\r\n:1\r\n*1\r\n+a\r\n$-1\r\n"), [1, ["a"], None])

    def test_resp3_types(self):
        self.assertIsNone(self.parse(b"_\r\n"))
        self.assertIs(self.parse(b"#t\r\n"), True)
        self.assertIs(self.parse(b"#f\r\n"), False)
        self.assertEqual(self.parse(b",3.25\r\n"), 3.25)
        self.assertIsInstance(self.parse(b",3.25\r\n"), Double)
        self.assertEqual(self.parse(b",-inf\r\n"), float("-inf"))
        self.assertEqual(self.parse(b",inf\r\n"), float("inf"))
        big = self.parse(b"(3492890328409238509324850943850943825024385\r\n")
        self.assertIsInstance(big, BigNumber)
        self.assertEqual(big, 3492890328409238509324850943850943825024385)
        v = self.parse(b"=15\r\ntxt:Some string\r\n")
        self.assertIsInstance(v, Verbatim)
        self.assertEqual((v.format, bytes(v)), ("txt", b"Some string"))
        self.assertEqual(self.parse(b"!8\r\nERR a\r\nb\r\n"), Error("ERR a\r\nb"))
        m = self.parse(b"%2\r\n$1\r\na\r\n:1\r\n+b\r\n_\r\n")
        self.assertIsInstance(m, Map)
        self.assertEqual(m, {b"a": 1, "b": None})
        s = self.parse(b"~2\r\n:1\r\n:2\r\n")
        self.assertIsInstance(s, RespSet)
        self.assertEqual(s, [1, 2])
        p = self.parse(b">2\r\n$7\r\nmessage\r\n$1\r\nx\r\n")
        self.assertIsInstance(p, Push)
        self.assertEqual(p, [b"message", b"x"])
        self.assertEqual(self.parse(b"|1\r\n+ttl\r\n:3\r\n+OK\r\n"), "OK")

    def test_incomplete_input(self):
        for data in (b"", b"+OK", b"$3\r\nab", b"*2\r\n:1\r\n", b"%1\r\n+a\r\n"):
            with self.subTest(data=data):
                with self.assertRaises(Incomplete):
                    parse_reply(data)

    def test_encode_command(self):
        self.assertEqual(encode_command("SET", b"k", 12),
                         b"*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$2\r\n12\r\n")


class TestInlineCommands(ServerTestCase):

    def test_inline_ping(self):
        c = self.client()
        c.send(b"PING\r\n")
        self.assertEqual(c.read_raw_reply(), b"+PONG\r\n")

    def test_inline_set_and_get(self):
        c = self.client()
        c.send(b"SET a b\r\nGET a\r\n")
        self.assertEqual(c.read_replies(2), ["OK", b"b"])

    def test_inline_accepts_bare_newline_and_extra_spaces(self):
        c = self.client()
        c.send(b"PING\n  SET   a    b  \r\nget a\n")
        self.assertEqual(c.read_replies(3), ["PONG", "OK", b"b"])

    def test_inline_double_and_single_quotes(self):
        c = self.client()
        c.send(b"SET \"a b\" 'c d'\r\nGET \"a b\"\r\n")
        self.assertEqual(c.read_replies(2), ["OK", b"c d"])

    def test_inline_escapes_in_double_quotes(self):
        c = self.client()
        c.send(b'SET k "\\x41\\n\\"q\\\\"\r\nGET k\r\n')
        self.assertEqual(c.read_replies(2), ["OK", b'A\n"q\\'])

    def test_inline_empty_quoted_argument(self):
        c = self.client()
        c.send(b'SET k ""\r\nSTRLEN k\r\n')
        self.assertEqual(c.read_replies(2), ["OK", 0])

    def test_inline_with_value_just_under_the_limit(self):
        c = self.client()
        value = b"x" * 60000
        c.send(b"SET big " + value + b"\r\n")
        self.assertOK(c.read_reply())
        self.assertEqual(c.cmd("GET", "big"), value)

    def test_inline_unknown_command(self):
        c = self.client()
        c.send(b"foo a b\r\n")
        self.assertError(c.read_reply(), "ERR unknown command 'foo', with args beginning with: 'a' 'b' ")
        self.assertEqual(c.cmd("PING"), "PONG")

    def test_empty_lines_are_ignored(self):
        c = self.client()
        c.send(b"\r\n\r\n\n\nPING\r\n\r\n")
        self.assertEqual(c.read_raw_reply(), b"+PONG\r\n")
        c.send(b"\r\n")
        self.assertEqual(c.cmd("ECHO", "x"), b"x")

    def test_empty_multibulk_is_ignored(self):
        c = self.client()
        c.send(b"*0\r\n*-1\r\nPING\r\n")
        self.assertEqual(c.read_raw_reply(), b"+PONG\r\n")
        self.assertEqual(c.cmd("ECHO", "after"), b"after")

    def test_mixed_inline_and_multibulk(self):
        c = self.client()
        c.send(b"SET a 1\r\n" + encode_command("INCR", "a") + b"GET a\r\n")
        self.assertEqual(c.read_replies(3), ["OK", 2, b"2"])


class TestCommandNames(ServerTestCase):
    def test_names_in_any_case_one_after_another(self):
        # the server compares a name with the connection's last command
        # before it looks it up: a name of the same length that differs in
        # one byte, or in a byte that is no letter, is another command
        c = self.client()
        c.cmd("SET", "k", "v")
        for name in ("GET", "get", "gEt", "GeT"):
            self.assertEqual(c.cmd(name, "k"), b"v")
        for name in ("GEU", "GE", "GETT", "G\x05T", "G\xc5T", "GE\x14", "gE\x00"):
            r = c.cmd(name, "k")
            self.assertIsInstance(r, Exception, name)
            self.assertTrue(str(r).startswith("ERR unknown command '"), (name, r))
            self.assertEqual(c.cmd("GET", "k"), b"v")
        # a name with '-' (0x2d), then one with '\\r' (0x0d) in its place
        r = c.cmd("RESTORE-ASKING")
        self.assertTrue(str(r).startswith("ERR wrong number of arguments"), r)
        r = c.cmd("RESTORE\rASKING")
        self.assertTrue(str(r).startswith("ERR unknown command '"), r)
        self.assertEqual(c.cmd("DEL", "k"), 1)
        self.assertEqual(c.cmd("dEl", "k"), 0)
        r = c.cmd("SET", "k")
        self.assertTrue(str(r).startswith("ERR wrong number of arguments for 'set'"), r)
        self.assertEqual(c.cmd("PING"), "PONG")
        self.assertEqual(c.cmd("ping"), "PONG")


class TestProtocolErrors(ServerTestCase):
    """Each protocol error gets its exact error reply, then the close."""

    def assertProtocolError(self, data, what):
        c = self.client()
        c.send(data)
        self.assertError(c.read_reply(), protocol_error(what))
        self.assertTrue(c.is_closed(), "connection still open after protocol error")
        # The server is still fine.
        self.assertEqual(self.client().cmd("PING"), "PONG")

    def test_invalid_multibulk_length(self):
        self.assertProtocolError(b"*abc\r\n", "invalid multibulk length")

    def test_multibulk_length_with_sign_is_invalid(self):
        self.assertProtocolError(b"*+1\r\n$4\r\nPING\r\n", "invalid multibulk length")

    def test_multibulk_length_above_int_max_is_invalid(self):
        self.assertProtocolError(b"*3000000000\r\n", "invalid multibulk length")

    def test_invalid_bulk_length(self):
        self.assertProtocolError(b"*1\r\n$abc\r\n", "invalid bulk length")

    def test_negative_bulk_length_is_invalid(self):
        self.assertProtocolError(b"*1\r\n$-1\r\n", "invalid bulk length")

    def test_bulk_length_with_sign_space_or_leading_zero_is_invalid(self):
        for header in (b"$+4", b"$ 4", b"$04"):
            with self.subTest(header=header):
                self.assertProtocolError(b"*1\r\n" + header + b"\r\nPING\r\n", "invalid bulk length")

    def test_expected_dollar(self):
        self.assertProtocolError(b"*1\r\nx\r\n", "expected '$', got 'x'")
        self.assertProtocolError(b"*2\r\n$3\r\nGET\r\n:1\r\n", "expected '$', got ':'")

    def test_too_big_inline_request(self):
        self.assertProtocolError(b"A" * (64 * 1024 + 10), "too big inline request")

    def test_too_big_mbulk_count_string(self):
        self.assertProtocolError(b"*" + b"1" * (64 * 1024 + 10), "too big mbulk count string")

    def test_too_big_bulk_count_string(self):
        self.assertProtocolError(b"*1\r\n$" + b"1" * (64 * 1024 + 10), "too big bulk count string")

    def test_unbalanced_quotes(self):
        self.assertProtocolError(b'SET "a b\r\n', "unbalanced quotes in request")
        self.assertProtocolError(b"SET 'a b\r\n", "unbalanced quotes in request")

    def test_closing_quote_must_be_followed_by_space(self):
        self.assertProtocolError(b'SET "a b"c d\r\n', "unbalanced quotes in request")

    def test_default_proto_max_bulk_len_is_512mb(self):
        self.assertProtocolError(b"*2\r\n$4\r\nECHO\r\n$536870913\r\n", "invalid bulk length")

    def test_bulk_larger_than_proto_max_bulk_len(self):
        self.assertOK(self.r.cmd("CONFIG", "SET", "proto-max-bulk-len", "1048576"))
        try:
            self.assertProtocolError(
                b"*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$1048577\r\n", "invalid bulk length")
            # Exactly the limit is accepted.
            c = self.client(timeout=20)
            value = b"v" * 1048576
            self.assertOK(c.cmd("SET", "k", value))
            self.assertEqual(c.cmd("STRLEN", "k"), 1048576)
        finally:
            self.assertOK(self.r.cmd("CONFIG", "SET", "proto-max-bulk-len", "536870912"))

    def test_commands_before_the_error_run_and_after_it_do_not(self):
        c = self.client()
        c.send(b"SET before 1\r\nPING\r\n*abc\r\nSET after 1\r\n")
        self.assertOK(c.read_reply())
        self.assertEqual(c.read_reply(), "PONG")
        self.assertError(c.read_reply(), protocol_error("invalid multibulk length"))
        self.assertTrue(c.is_closed())
        self.assertEqual(self.r.cmd("EXISTS", "before", "after"), 1)
        self.assertEqual(self.r.cmd("GET", "before"), b"1")

    def test_error_replies_have_no_newlines(self):
        reply = self.r.cmd("foo", "a\r\nb")
        self.assertError(reply, "ERR unknown command 'foo', with args beginning with: 'a  b' ")
        self.assertEqual(self.r.cmd("PING"), "PONG")


class TestSplitWrites(ServerTestCase):

    def send_slowly(self, c, data, pause_every=1):
        for i in range(len(data)):
            c.send(data[i:i + 1])
            if i % pause_every == 0:
                time.sleep(0.0005)

    def test_multibulk_command_sent_byte_by_byte(self):
        c = self.client()
        self.send_slowly(c, encode_command("SET", "key", "hello world"))
        self.assertOK(c.read_reply())
        self.send_slowly(c, encode_command("GET", "key"))
        self.assertEqual(c.read_reply(), b"hello world")

    def test_inline_command_sent_byte_by_byte(self):
        c = self.client()
        self.send_slowly(c, b"SET \"a b\" c\r\nGET \"a b\"\r\n")
        self.assertEqual(c.read_replies(2), ["OK", b"c"])

    def test_many_commands_in_tiny_random_chunks(self):
        rng = random.Random(3)
        cmds = [encode_command("SET", "k%d" % i, "v" * rng.randrange(0, 300)) for i in range(200)]
        cmds += [b"INCR counter\r\n"] * 50
        data = b"".join(cmds)
        c = self.client()
        pos = 0
        while pos < len(data):
            n = rng.randrange(1, 9)
            c.send(data[pos:pos + n])
            pos += n
        replies = c.read_replies(250)
        self.assertEqual(replies[:200], ["OK"] * 200)
        self.assertEqual(replies[200:], list(range(1, 51)))

    def test_large_bulk_in_many_writes(self):
        value = os.urandom(300000)
        data = encode_command("SET", "big", value)
        c = self.client()
        for pos in range(0, len(data), 1000):
            c.send(data[pos:pos + 1000])
        self.assertOK(c.read_reply())
        self.assertEqual(c.cmd("GET", "big"), value)


class TestGarbageIsolation(ServerTestCase):

    GARBAGE = [
        b"*abc\r\n",
        b"*1\r\n$abc\r\n",
        b"*1\r\nx\r\n",
        b'SET "a b\r\n',
        b"A" * 70000,
        b"*" + b"9" * 70000,
        b"*2\r\n$3\r\nSET\r\n$-5\r\n",
        b"\xff\xfe\x00\x01*\r\n$\r\n",
        b"*1\r\n$8\r\nFLUSHALL",  # incomplete: must never run
    ]

    def test_garbage_from_one_client_does_not_affect_another(self):
        good = self.client()
        pairs = [x for i in range(200) for x in ("key:%d" % i, "value:%d" % i)]
        self.assertOK(good.cmd("MSET", *pairs))
        for data in self.GARBAGE:
            bad = self.client(timeout=2)
            try:
                bad.send(data)
            except OSError:
                pass
            bad.is_closed(0.2)
            bad.close()
            self.assertEqual(good.cmd("PING"), "PONG")
        rng = random.Random(11)
        for _ in range(30):
            bad = self.client(timeout=2)
            try:
                bad.send(bytes(rng.randrange(256) for _ in range(rng.randrange(1, 2000))))
            except OSError:
                pass
            bad.close()
        self.assertEqual(good.cmd("DBSIZE"), 200)
        self.assertEqual(good.cmd("MGET", *["key:%d" % i for i in range(200)]),
                         [("value:%d" % i).encode() for i in range(200)])

    def test_client_disconnecting_mid_command_leaves_no_trace(self):
        bad = self.client()
        bad.send(b"*3\r\n$3\r\nSET\r\n$1\r\nx\r\n$10\r\nabc")
        bad.close()
        time.sleep(0.05)
        self.assertEqual(self.r.cmd("EXISTS", "x"), 0)
        self.assertEqual(self.r.cmd("PING"), "PONG")


class TestResp3(ServerTestCase):

    def setUp(self):
        super().setUp()
        hello = self.r.cmd("HELLO", "3")
        self.assertIsInstance(hello, Map)

    def test_nil_is_underscore(self):
        self.assertEqual(self.r.raw("GET", "nokey"), b"_\r\n")

    def test_nil_inside_arrays_is_underscore(self):
        self.r.cmd("SET", "a", "1")
        self.assertEqual(self.r.raw("MGET", "a", "nokey"), b"*2\r\n$1\r\n1\r\n_\r\n")

    def test_set_conditional_miss_is_underscore(self):
        self.r.cmd("SET", "a", "1")
        self.assertEqual(self.r.raw("SET", "a", "2", "NX"), b"_\r\n")

    def test_config_get_is_a_map(self):
        self.assertEqual(self.r.raw("CONFIG", "GET", "timeout"),
                         b"%1\r\n$7\r\ntimeout\r\n$1\r\n0\r\n")

    def test_simple_and_integer_replies_are_unchanged(self):
        self.assertEqual(self.r.raw("SET", "a", "1"), b"+OK\r\n")
        self.assertEqual(self.r.raw("INCR", "a"), b":2\r\n")
        self.assertEqual(self.r.raw("GET", "a"), b"$1\r\n2\r\n")

    def test_errors_are_unchanged(self):
        self.assertEqual(self.r.raw("GET"), b"-ERR wrong number of arguments for 'get' command\r\n")

    def test_hello_2_goes_back_to_resp2(self):
        self.assertIsInstance(self.r.cmd("HELLO", "2"), list)
        self.assertEqual(self.r.raw("GET", "nokey"), b"$-1\r\n")

    def test_resp3_is_per_connection(self):
        other = self.client()
        self.assertEqual(other.raw("GET", "nokey"), b"$-1\r\n")
        self.assertEqual(self.r.raw("GET", "nokey"), b"_\r\n")


if __name__ == "__main__":
    unittest.main()
