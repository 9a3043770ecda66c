"""io-batch-wait-us: a shard with many active connections and commands
coming fast waits a little for a batch of them before it wakes; one with
few connections, or with commands too slow for a wait to gather several,
never does.

INFO's io_batch_waits counts those waits (a shardis field): it moves under
128 connections answering each other's rounds (with the longest wait, which
any rate fills) and under 64 connections pipelining, and stays still with
the directive at 0, with a few connections, or with 64 connections sending
one command per round trip at the default wait. Every reply is checked, so a lost
wake-up or a reply held back would show as a wrong or missing answer (or
a test that does not end). Not against Redis, which has no such directive.
"""
import os
import selectors
import socket
import sys
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import ServerTestCase, reference_mode  # noqa: E402

CONNS = 128
ROUNDS = 60
RANGE_ERR = ("ERR CONFIG SET failed (possibly related to argument 'io-batch-wait-us') - "
             "argument must be between 0 and 10000 inclusive")


def kernel_has_min_wait():
    """io_uring's minimum wait timeout came with Linux 6.12."""
    try:
        major, minor = (int(x) for x in os.uname().release.split(".")[:2])
    except ValueError:
        return False
    return (major, minor) >= (6, 12)


@unittest.skipIf(reference_mode(), "io-batch-wait-us is shardis's own directive")
class TestBatchWait(ServerTestCase):
    fresh_server_per_test = True

    def batch_waits(self):
        info = self.r.cmd("INFO", "stats").decode()
        for line in info.split("\r\n"):
            if line.startswith("io_batch_waits:"):
                return int(line.split(":")[1])
        self.fail("no io_batch_waits in INFO stats")

    def rounds(self, tag, conns=CONNS, rounds=ROUNDS, depth=1):
        """Every connection sends depth INCRs of its own counter, then all
        the replies are read; again, rounds times. Checks every reply."""
        socks = [socket.create_connection(("127.0.0.1", self.port)) for _ in range(conns)]
        sel = selectors.DefaultSelector()
        try:
            for i, s in enumerate(socks):
                s.setblocking(False)
                sel.register(s, selectors.EVENT_READ, i)
            for n in range(1, rounds + 1):
                want = {}
                for i, s in enumerate(socks):
                    key = b"%s:%d" % (tag, i)
                    s.sendall(b"*2\r\n$4\r\nINCR\r\n$%d\r\n%s\r\n" % (len(key), key) * depth)
                    want[i] = b"".join(b":%d\r\n" % ((n - 1) * depth + d)
                                       for d in range(1, depth + 1))
                got = {i: b"" for i in want}
                deadline = time.monotonic() + 30
                while any(got[i] != want[i] for i in want):
                    self.assertLess(time.monotonic(), deadline, "replies missing in round %d" % n)
                    for key, _ in sel.select(timeout=1.0):
                        data = key.fileobj.recv(4096)
                        self.assertTrue(data, "connection %d closed" % key.data)
                        got[key.data] += data
                        self.assertTrue(want[key.data].startswith(got[key.data]),
                                        (key.data, got[key.data], want[key.data]))
        finally:
            sel.close()
            for s in socks:
                s.close()

    def test_config_default_range_and_errors(self):
        self.assertEqual(self.r.cmd("CONFIG", "GET", "io-batch-wait-us"),
                         [b"io-batch-wait-us", b"50"])
        for bad in ("-1", "10001"):
            r = self.r.cmd("CONFIG", "SET", "io-batch-wait-us", bad)
            self.assertEqual(str(r), RANGE_ERR)
        r = self.r.cmd("CONFIG", "SET", "io-batch-wait-us", "abc")
        self.assertIn("argument couldn't be parsed into an integer", str(r))
        for ok in ("0", "10000", "50"):
            self.assertEqual(self.r.cmd("CONFIG", "SET", "io-batch-wait-us", ok), "OK")
            self.assertEqual(self.r.cmd("CONFIG", "GET", "io-batch-wait-us"),
                             [b"io-batch-wait-us", ok.encode()])

    @unittest.skipUnless(kernel_has_min_wait(), "kernel without io_uring's min wait (6.12)")
    def test_many_active_connections_wait_for_batches_and_get_every_reply(self):
        # the longest wait: a reply held past it would take seconds
        self.assertEqual(self.r.cmd("CONFIG", "SET", "io-batch-wait-us", "10000"), "OK")
        before = self.batch_waits()
        self.rounds(b"many")
        self.assertGreater(self.batch_waits(), before)
        self.assertEqual(self.r.cmd("GET", b"many:%d" % (CONNS - 1)), str(ROUNDS).encode())

    def test_off_or_few_connections_never_wait_for_a_batch(self):
        self.assertEqual(self.r.cmd("CONFIG", "SET", "io-batch-wait-us", "0"), "OK")
        before = self.batch_waits()
        self.rounds(b"off")
        self.assertEqual(self.batch_waits(), before)
        # busy with many connections, then idle: the count of active
        # connections from before the idle time must not make the few
        # that come next wait
        self.assertEqual(self.r.cmd("CONFIG", "SET", "io-batch-wait-us", "10000"), "OK")
        self.rounds(b"busy", rounds=20)
        time.sleep(0.05)  # the count covers the last 1-2 ms
        before = self.batch_waits()
        self.rounds(b"few", conns=4, rounds=200)
        for _ in range(200):
            self.assertEqual(self.r.cmd("PING"), "PONG")
        self.assertEqual(self.batch_waits(), before)


    @unittest.skipUnless(kernel_has_min_wait(), "kernel without io_uring's min wait (6.12)")
    def test_one_command_per_round_trip_does_not_wait_at_the_default(self):
        # 64 connections, one INCR each per round: at most a few hundred
        # commands a millisecond from this client, below the rate at which
        # a 50 us wait gathers 8 (160 a millisecond): a wait would only add
        # its length to each round trip
        self.assertEqual(self.r.cmd("CONFIG", "GET", "io-batch-wait-us"),
                         [b"io-batch-wait-us", b"50"])
        before = self.batch_waits()
        self.rounds(b"slow", conns=64, rounds=100)
        self.assertEqual(self.batch_waits(), before)

    @unittest.skipUnless(kernel_has_min_wait(), "kernel without io_uring's min wait (6.12)")
    def test_pipelined_connections_wait_for_batches_at_the_default(self):
        # 128 connections pipelining 16 INCRs each: over 2000 commands a
        # round, fast enough for the default wait to gather (and with 4
        # shards, about 32 connections on each: 16 active are needed)
        before = self.batch_waits()
        self.rounds(b"fast", conns=CONNS, rounds=40, depth=16)
        self.assertGreater(self.batch_waits(), before)
        self.assertEqual(self.r.cmd("GET", b"fast:%d" % (CONNS - 1)), b"640")


if __name__ == "__main__":
    unittest.main()
