"""Pipelines shaped to trip the key prefetch (issue 12): the pre-scan of a
connection's unparsed input (src/core/prefetch.c) and the mailbox look
ahead only hint the cache, so every reply here is Redis's, whatever the
bytes: databases switched mid-batch, commands too long to pre-scan, inline
commands, malformed or partial headers, and forwarded requests in batches."""

import os
import random
import sys
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import Error, ServerTestCase, encode_command  # noqa: E402


def pipeline(*cmds):
    return b"".join(encode_command(*c) for c in cmds)


class TestPrefetch(ServerTestCase):

    def test_select_in_a_pipeline_reads_each_database(self):
        c = self.client()
        c.send(pipeline(("SELECT", "1"), ("SET", "k", "one"), ("SELECT", "0"),
                        ("SET", "k", "zero"), ("GET", "k"), ("SELECT", "1"), ("GET", "k"),
                        ("MGET", "k", "nokey"), ("DEL", "k"), ("EXISTS", "k"),
                        ("SELECT", "0"), ("GET", "k")))
        self.assertEqual(c.read_replies(12), ["OK", "OK", "OK", "OK", b"zero", "OK", b"one",
                                              [b"one", None], 1, 0, "OK", b"zero"])

    def test_commands_longer_than_the_prescan_run_in_order(self):
        c = self.client(timeout=30)
        keys = ["pk:%d" % i for i in range(300)]
        cmds = [("GET", keys[0]),
                ("MSET",) + tuple(x for k in keys for x in (k, "v" + k)),
                ("MGET",) + tuple(keys[:40]),
                ("EXISTS",) + tuple(keys[:40]),
                ("TOUCH",) + tuple(keys[40:60]),
                ("DEL",) + tuple(keys[:20]),
                ("UNLINK",) + tuple(keys[20:40]),
                ("MSETNX", keys[0], "again", keys[1], "again"),
                ("MGET", keys[0], keys[1], keys[299])]
        cmds += [("GET", k) for k in keys[30:70]]
        c.send(pipeline(*cmds))
        self.assertEqual(c.read_replies(9), [
            None, "OK", [("v" + k).encode() for k in keys[:40]], 40, 20, 20, 20, 1,
            [b"again", b"again", b"vpk:299"]])
        self.assertEqual(c.read_replies(40),
                         [None] * 10 + [("v" + k).encode() for k in keys[40:70]])
        self.assertEqual(c.cmd("DBSIZE"), 262)

    def test_inline_and_empty_commands_between_multibulk_ones(self):
        c = self.client()
        c.send(pipeline(("SET", "a", "1"), ("SET", "", "empty")) + b"GET a\r\n\r\n*0\r\n"
               + pipeline(("INCR", "a"), ("GET", "")) + b"*1\r\n$4\r\nPING\r\n"
               + pipeline(("GET", "{tag}a"), ("SET", "{tag}a", "t"), ("GET", "{tag}a")))
        self.assertEqual(c.read_replies(8), ["OK", "OK", b"1", 2, b"empty", "PONG", None, "OK"])
        self.assertEqual(c.read_reply(), b"t")

    def test_pipeline_split_at_every_byte(self):
        c = self.client(timeout=30)
        cmds = [("SET", "s%d" % i, "x" * i) for i in range(12)]
        cmds += [("MGET",) + tuple("s%d" % i for i in range(12)), ("DEL", "s1", "s2", "s3")]
        cmds += [("GET", "s%d" % i) for i in range(12)]
        payload = pipeline(*cmds)
        for i in range(len(payload)):
            c.send(payload[i:i + 1])
            if i % 97 == 0:
                time.sleep(0.001)  # let some reads end mid-header
        self.assertEqual(c.read_replies(12), ["OK"] * 12)
        self.assertEqual(c.read_reply(), [("x" * i).encode() for i in range(12)])
        self.assertEqual(c.read_reply(), 3)
        self.assertEqual(c.read_replies(12),
                         [b""] + [None] * 3 + [("x" * i).encode() for i in range(4, 12)])

    def check_protocol_error(self, tail, error):
        c = self.client()
        c.send(pipeline(("SET", "a", "1"), ("GET", "a"), ("GET", "a")) + tail)
        self.assertEqual(c.read_replies(3), ["OK", b"1", b"1"])
        self.assertEqual(c.read_reply(), Error(error))
        self.assertTrue(c.is_closed())

    def test_malformed_bulk_length_after_good_commands(self):
        for bad in (b"$x\r\n", b"$-1\r\n", b"$99999999999999999999\r\n", b"$\r\n"):
            with self.subTest(bad=bad):
                self.check_protocol_error(b"*2\r\n$3\r\nGET\r\n" + bad,
                                          "ERR Protocol error: invalid bulk length")

    def test_malformed_multibulk_length_after_good_commands(self):
        self.check_protocol_error(b"*x\r\n$3\r\nGET\r\n",
                                  "ERR Protocol error: invalid multibulk length")

    def test_partial_command_completed_by_a_later_read(self):
        c = self.client()
        payload = pipeline(("SET", "p", "1"), ("GET", "p"), ("MGET", "p", "q"), ("GET", "p"))
        for cut in (len(payload) - 1, len(payload) - 5, len(payload) - 12):
            with self.subTest(cut=cut):
                c.send(payload[:cut])
                self.assertEqual(c.read_replies(3), ["OK", b"1", [b"1", None]])
                time.sleep(0.02)
                c.send(payload[cut:])
                self.assertEqual(c.read_reply(), b"1")

    def test_many_clients_pipelining_forwarded_reads_and_writes(self):
        """With several shards most keys live elsewhere: the owners drain
        batches of forwarded requests (the mailbox look ahead)."""
        rng = random.Random(12)
        clients = [self.client(timeout=30) for _ in range(4)]
        model = {}
        expected = []
        for n, c in enumerate(clients):
            cmds, exp = [], []
            for i in range(400):
                key = "c%d:%d" % (n, rng.randrange(50))
                if rng.random() < 0.5:
                    cmds.append(("SET", key, str(i)))
                    model[key] = str(i).encode()
                    exp.append("OK")
                else:
                    cmds.append(("GET", key))
                    exp.append(model.get(key))
            c.send(pipeline(*cmds))
            expected.append(exp)
        for c, exp in zip(clients, expected):
            self.assertEqual(c.read_replies(len(exp)), exp)


if __name__ == "__main__":
    unittest.main()
