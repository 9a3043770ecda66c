"""Blocking pops: BLPOP BRPOP BRPOPLPUSH BLMOVE BLMPOP BZPOPMIN BZPOPMAX
BZMPOP, with keys spread over shards.

What must hold (issue 3): a client blocked on keys of any shards is woken by
the first push to any of them; each element goes to exactly one client; FIFO
among clients blocked on one key; timeouts (0 = forever); a client that
disconnects while blocked leaves no trace. Every test also runs against
redis-server (SHARDIS_REFERENCE=redis)."""
import os
import socket
import sys
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import Error, ServerTestCase  # noqa: E402

WRONGTYPE = "WRONGTYPE Operation against a key holding the wrong kind of value"


def keys(prefix, n):
    """n key names: with 4 shards they land on different owners."""
    return ["%s:%d" % (prefix, i) for i in range(n)]


class BlockingTests(ServerTestCase):

    def setUp(self):
        self.opened = []
        super().setUp()

    def tearDown(self):
        for c in self.opened:
            c.close()
        super().tearDown()

    def client(self, timeout=10.0):
        c = self.server.client(timeout=timeout)
        self.opened.append(c)
        return c

    def blocked(self, *args):
        """A client that sent a blocking command (its reply not read yet);
        returns once the server has it blocked (as far as CLIENT LIST and a
        short pause can tell)."""
        c = self.client()
        c.send_command(*args)
        time.sleep(0.05)
        return c

    def assertNoReplyYet(self, c, wait=0.15):
        c.sock.settimeout(wait)
        try:
            data = c.sock.recv(1 << 16)
        except socket.timeout:
            return
        finally:
            c.sock.settimeout(c.timeout)
        self.fail("got %r while it should be blocked" % data)


class TestImmediate(BlockingTests):

    def test_blpop_takes_from_the_first_nonempty_key_in_order(self):
        r = self.client()
        ks = keys("imm", 12)
        r.cmd("RPUSH", ks[7], "x7")
        r.cmd("RPUSH", ks[3], "a", "b")
        self.assertEqual(r.cmd("BLPOP", *ks, 0), [ks[3].encode(), b"a"])
        self.assertEqual(r.cmd("BRPOP", *ks, 0), [ks[3].encode(), b"b"])
        self.assertEqual(r.cmd("BLPOP", *ks, 0), [ks[7].encode(), b"x7"])
        self.assertEqual(r.cmd("EXISTS", ks[7]), 0)

    def test_wrong_type_before_data_is_an_error(self):
        r = self.client()
        r.cmd("SET", "wt:s", "x")
        r.cmd("RPUSH", "wt:l", "a")
        self.assertError(r.cmd("BLPOP", "wt:s", "wt:l", 0), WRONGTYPE)
        self.assertEqual(r.cmd("BLPOP", "wt:l", "wt:s", 0), [b"wt:l", b"a"])
        self.assertError(r.cmd("BZPOPMIN", "wt:s", 0), WRONGTYPE)

    def test_bzpopmin_bzpopmax_and_bzmpop(self):
        r = self.client()
        r.cmd("ZADD", "z:1", 1, "a", 2, "b", 3, "c")
        self.assertEqual(r.cmd("BZPOPMIN", "z:0", "z:1", 0), [b"z:1", b"a", b"1"])
        self.assertEqual(r.cmd("BZPOPMAX", "z:1", 0), [b"z:1", b"c", b"3"])
        r.cmd("ZADD", "z:2", 5, "e", 4, "d")
        self.assertEqual(r.cmd("BZMPOP", 0, 2, "z:0", "z:2", "MIN", "COUNT", 5),
                         [b"z:2", [[b"d", b"4"], [b"e", b"5"]]])
        self.assertEqual(r.cmd("EXISTS", "z:2"), 0)

    def test_blmpop_count_and_direction(self):
        r = self.client()
        r.cmd("RPUSH", "m:1", "a", "b", "c")
        self.assertEqual(r.cmd("BLMPOP", 0, 2, "m:0", "m:1", "RIGHT", "COUNT", 2),
                         [b"m:1", [b"c", b"b"]])
        self.assertEqual(r.cmd("BLMPOP", 0, 1, "m:1", "LEFT", "COUNT", 9), [b"m:1", [b"a"]])

    def test_blmove_and_brpoplpush_across_shards(self):
        r = self.client()
        src, dsts = "mv:src", keys("mv:dst", 6)
        r.cmd("RPUSH", src, *["e%d" % i for i in range(12)])
        for d in dsts:
            self.assertEqual(r.cmd("BLMOVE", src, d, "LEFT", "RIGHT", 0), b"e%d" % (dsts.index(d)))
            self.assertEqual(r.cmd("BRPOPLPUSH", src, d, 0), b"e%d" % (11 - dsts.index(d)))
            self.assertEqual(r.cmd("LRANGE", d, 0, -1),
                             [b"e%d" % (11 - dsts.index(d)), b"e%d" % dsts.index(d)])
        self.assertEqual(r.cmd("EXISTS", src), 0)

    def test_blmove_to_a_wrong_type_destination(self):
        r = self.client()
        r.cmd("RPUSH", "wd:src", "a")
        r.cmd("SET", "wd:dst", "x")
        self.assertError(r.cmd("BLMOVE", "wd:src", "wd:dst", "LEFT", "LEFT", 0), WRONGTYPE)
        self.assertEqual(r.cmd("LRANGE", "wd:src", 0, -1), [b"a"])

    def test_rotation_of_one_list_keeps_the_key(self):
        r = self.client()
        r.cmd("RPUSH", "rot", "a")
        r.cmd("EXPIRE", "rot", 100)
        self.assertEqual(r.cmd("BLMOVE", "rot", "rot", "LEFT", "RIGHT", 0), b"a")
        self.assertEqual(r.cmd("LRANGE", "rot", 0, -1), [b"a"])
        self.assertGreater(r.cmd("TTL", "rot"), 0)


class TestErrors(BlockingTests):

    def test_timeout_errors(self):
        r = self.client()
        self.assertError(r.cmd("BLPOP", "k", "-1"), "ERR timeout is negative")
        self.assertError(r.cmd("BLPOP", "k", "abc"), "ERR timeout is not a float or out of range")
        self.assertError(r.cmd("BRPOP", "k", ""), "ERR timeout is not a float or out of range")
        self.assertError(r.cmd("BZPOPMIN", "k", "1x"),
                         "ERR timeout is not a float or out of range")

    def test_mpop_errors(self):
        r = self.client()
        self.assertError(r.cmd("BLMPOP", 0, 0, "k", "LEFT"),
                         "ERR numkeys should be greater than 0")
        self.assertError(r.cmd("BLMPOP", 0, "x", "k", "LEFT"),
                         "ERR numkeys should be greater than 0")
        self.assertError(r.cmd("BLMPOP", 0, 1, "k", "LEFT", "COUNT", 0),
                         "ERR count should be greater than 0")
        self.assertError(r.cmd("BLMPOP", 0, 1, "k", "UP"), "ERR syntax error")
        self.assertError(r.cmd("BLMPOP", 0, 3, "k", "LEFT"), "ERR syntax error")
        self.assertError(r.cmd("BZMPOP", 0, 1, "k", "LEFT"), "ERR syntax error")
        self.assertError(r.cmd("BZMPOP", 0, 1, "k", "MIN", "COUNT", 1, "COUNT", 2),
                         "ERR syntax error")
        self.assertError(r.cmd("BLMOVE", "a", "b", "UP", "LEFT", 0), "ERR syntax error")
        self.assertError(r.cmd("BLPOP", "k"),
                         "ERR wrong number of arguments for 'blpop' command")


class TestWaiting(BlockingTests):

    def test_timeout_replies_null_in_both_protocols(self):
        c = self.client()
        t0 = time.monotonic()
        self.assertEqual(c.raw("BLPOP", "to:none", "0.2"), b"*-1\r\n")
        elapsed = time.monotonic() - t0
        self.assertGreaterEqual(elapsed, 0.19)
        self.assertLess(elapsed, 2.0)
        c.cmd("HELLO", "3")
        self.assertEqual(c.raw("BZPOPMAX", "to:none", "0.1"), b"_\r\n")
        self.assertEqual(c.raw("BLMOVE", "to:none", "x", "LEFT", "LEFT", "0.1"), b"_\r\n")

    def test_push_on_another_shard_wakes_the_client(self):
        ks = keys("wake", 10)
        for k in ks:
            c = self.blocked("BLPOP", "wake:never", k, 0)
            self.assertNoReplyYet(c, 0.05)
            p = self.client()
            self.assertEqual(p.cmd("RPUSH", k, "v-" + k), 1)
            self.assertEqual(c.read_reply(), [k.encode(), ("v-" + k).encode()])
            self.assertEqual(p.cmd("EXISTS", k), 0)

    def test_blmove_of_an_empty_element_to_any_shard(self):
        # the element moved is "": its push to another shard's destination
        # copied from a NULL pointer (UBSan)
        for d in keys("emptydst", 8):
            c = self.blocked("BLMOVE", "emptysrc", d, "LEFT", "RIGHT", 0)
            self.assertNoReplyYet(c, 0.05)
            p = self.client()
            self.assertEqual(p.cmd("RPUSH", "emptysrc", ""), 1)
            self.assertEqual(c.read_reply(), b"")
            self.assertEqual(p.cmd("LRANGE", d, "0", "-1"), [b""])

    def test_clients_on_one_key_are_served_in_the_order_they_blocked(self):
        waiters = [self.blocked("BRPOP", "fifo", 0) for _ in range(5)]
        p = self.client()
        p.cmd("LPUSH", "fifo", "e0", "e1", "e2", "e3", "e4")
        got = [w.read_reply() for w in waiters]
        self.assertEqual(got, [[b"fifo", b"e%d" % i] for i in range(5)])

    def test_each_element_goes_to_exactly_one_client(self):
        ks = keys("once", 8)
        waiters = [self.blocked("BLPOP", *ks, 0) for _ in range(12)]
        p = self.client()
        pushed = []
        for i in range(12):
            k = ks[(i * 5) % len(ks)]
            p.cmd("RPUSH", k, "el%d" % i)
            pushed.append((k.encode(), b"el%d" % i))
        got = [tuple(w.read_reply()) for w in waiters]
        self.assertEqual(sorted(got), sorted(pushed))
        for k in ks:
            self.assertEqual(p.cmd("EXISTS", k), 0)

    def test_two_keys_with_data_at_once_serve_one_element(self):
        ks = keys("two", 6)
        c = self.blocked("BLPOP", *ks, 0)
        p = self.client()
        p.send(b"".join(b"*3\r\n$5\r\nRPUSH\r\n$%d\r\n%s\r\n$1\r\nv\r\n" % (len(k), k.encode())
                        for k in ks))
        p.read_replies(len(ks))
        reply = c.read_reply()
        self.assertIn(reply[0].decode(), ks)
        left = sum(p.cmd("LLEN", k) for k in ks)
        self.assertEqual(left, len(ks) - 1)

    def test_a_client_that_disconnects_leaves_no_trace(self):
        gone = self.blocked("BLPOP", "dc:k", 0)
        gone.close()
        time.sleep(0.1)
        stays = self.blocked("BLPOP", "dc:k", 0)
        p = self.client()
        p.cmd("RPUSH", "dc:k", "only")
        self.assertEqual(stays.read_reply(), [b"dc:k", b"only"])
        p.cmd("RPUSH", "dc:k", "kept")
        time.sleep(0.1)
        self.assertEqual(p.cmd("LRANGE", "dc:k", 0, -1), [b"kept"])

    def test_many_disconnects_then_pushes(self):
        for i in range(20):
            self.blocked("BLPOP", *keys("dcm", 4), 0).close()
        p = self.client()
        time.sleep(0.1)
        for k in keys("dcm", 4):
            p.cmd("RPUSH", k, "x")
        time.sleep(0.1)
        self.assertEqual(sum(p.cmd("LLEN", k) for k in keys("dcm", 4)), 4)

    def test_commands_pipelined_after_a_blocked_one_wait(self):
        c = self.client()
        c.send_command("BLPOP", "pipe:k", 0)
        c.send_command("PING")
        self.assertNoReplyYet(c, 0.2)
        self.client().cmd("RPUSH", "pipe:k", "v")
        self.assertEqual(c.read_reply(), [b"pipe:k", b"v"])
        self.assertEqual(c.read_reply(), "PONG")

    def test_blocked_blmove_moves_to_a_destination_on_another_shard(self):
        for i, d in enumerate(keys("bmv:dst", 4)):
            c = self.blocked("BLMOVE", "bmv:src%d" % i, d, "RIGHT", "LEFT", 0)
            p = self.client()
            p.cmd("RPUSH", "bmv:src%d" % i, "a", "b")
            self.assertEqual(c.read_reply(), b"b")
            self.assertEqual(p.cmd("LRANGE", d, 0, -1), [b"b"])
            self.assertEqual(p.cmd("LRANGE", "bmv:src%d" % i, 0, -1), [b"a"])

    def test_blocked_bzpopmin_is_woken_by_zadd(self):
        c = self.blocked("BZPOPMIN", "bz:a", "bz:b", 0)
        self.client().cmd("ZADD", "bz:b", 2, "two", 1, "one")
        self.assertEqual(c.read_reply(), [b"bz:b", b"one", b"1"])

    def test_list_waiter_is_not_woken_by_a_key_of_another_type(self):
        c = self.blocked("BLPOP", "ty:k", 0)
        p = self.client()
        p.cmd("SET", "ty:k", "str")
        self.assertNoReplyYet(c, 0.2)
        p.cmd("DEL", "ty:k")
        p.cmd("RPUSH", "ty:k", "now")
        self.assertEqual(c.read_reply(), [b"ty:k", b"now"])

    def test_client_unblock_timeout_and_error(self):
        c = self.blocked("BLPOP", "ub:k", 0)
        cid = None
        for line in self.client().cmd("CLIENT", "LIST").decode().splitlines():
            if "cmd=blpop" in line:
                cid = int(line.split("id=")[1].split()[0])
        self.assertIsNotNone(cid)
        self.assertEqual(self.client().cmd("CLIENT", "UNBLOCK", cid, "TIMEOUT"), 1)
        self.assertEqual(c.read_reply(), None)
        self.assertEqual(self.client().cmd("CLIENT", "UNBLOCK", cid), 0)
        c.send_command("BLPOP", "ub:k", 0)
        time.sleep(0.05)
        self.assertEqual(self.client().cmd("CLIENT", "UNBLOCK", cid, "ERROR"), 1)
        self.assertError(c.read_reply(), "UNBLOCKED client unblocked via CLIENT UNBLOCK")
        self.assertError(self.client().cmd("CLIENT", "UNBLOCK", cid, "MAYBE"),
                         "ERR CLIENT UNBLOCK reason should be TIMEOUT or ERROR")


if __name__ == "__main__":
    unittest.main()
