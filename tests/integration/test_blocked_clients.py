"""INFO clients' blocked_clients and clients_in_timeout_table (issue 15,
fix 2).

blocked_clients counts the clients waiting in BLPOP, BRPOP, BRPOPLPUSH,
BLMOVE, BLMPOP, BZPOPMIN, BZPOPMAX and BZMPOP, over every shard: a client
counts once, whichever shards own the keys it waits for (the keys below are
spread over owners with 4 shards). clients_in_timeout_table counts those of
them with a timeout (0 = none). The counts go back down when a client is
served by a push, times out, is ended by CLIENT UNBLOCK, or disconnects.

shardis serves a blocked client on its own core after the key's owner tells
it, so the tests wait (briefly) for the figures, where Redis has them at
once. Every test passes against redis-server 7.0 (SHARDIS_REFERENCE=redis).
"""
import os
import sys
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import Error, ServerTestCase  # noqa: E402

WAIT = 5.0


class BlockedClientsTests(ServerTestCase):

    def info_clients(self):
        text = self.r.cmd("INFO", "clients").decode()
        return dict(line.split(":", 1) for line in text.split("\r\n") if ":" in line)

    def counts(self):
        f = self.info_clients()
        return int(f["blocked_clients"]), int(f["clients_in_timeout_table"])

    def wait_counts(self, blocked, in_timeout):
        """Polls INFO until it shows (blocked, in_timeout); fails after WAIT."""
        deadline = time.monotonic() + WAIT
        got = self.counts()
        while got != (blocked, in_timeout) and time.monotonic() < deadline:
            time.sleep(0.01)
            got = self.counts()
        self.assertEqual(got, (blocked, in_timeout),
                         "(blocked_clients, clients_in_timeout_table)")

    def block(self, *command):
        """A new client that sends a blocking command (reply not read)."""
        c = self.client()
        c.send_command(*command)
        return c

    def test_idle_server_shows_none(self):
        self.assertEqual(self.counts(), (0, 0))

    def test_three_clients_on_keys_of_several_shards_then_pushes(self):
        a = self.block("BLPOP", "bl:a", "0")
        b = self.block("BRPOP", "bl:b1", "bl:b2", "bl:b3", "bl:b4", "0")
        c = self.block("BZPOPMIN", "bl:z1", "bl:z2", "bl:z3", "bl:z4", "0")
        self.wait_counts(3, 0)
        self.assertEqual(self.r.cmd("LPUSH", "bl:a", "x"), 1)
        self.assertEqual(a.read_reply(), [b"bl:a", b"x"])
        self.wait_counts(2, 0)
        self.assertEqual(self.r.cmd("RPUSH", "bl:b3", "y"), 1)
        self.assertEqual(b.read_reply(), [b"bl:b3", b"y"])
        self.assertEqual(self.r.cmd("ZADD", "bl:z4", "1", "m"), 1)
        self.assertEqual(c.read_reply(), [b"bl:z4", b"m", b"1"])
        self.wait_counts(0, 0)

    def test_every_blocking_command_counts(self):
        clients = [
            self.block("BLPOP", "e:1", "0"),
            self.block("BRPOP", "e:2", "0"),
            self.block("BRPOPLPUSH", "e:3", "e:dst", "0"),
            self.block("BLMOVE", "e:4", "e:dst", "LEFT", "RIGHT", "0"),
            self.block("BLMPOP", "0", "2", "e:5", "e:6", "LEFT"),
            self.block("BZPOPMIN", "e:7", "0"),
            self.block("BZPOPMAX", "e:8", "0"),
            self.block("BZMPOP", "0", "2", "e:9", "e:10", "MAX"),
        ]
        self.wait_counts(len(clients), 0)
        for c in clients:
            c.close()
        self.wait_counts(0, 0)

    def test_timeouts_count_in_the_timeout_table(self):
        forever = self.block("BLPOP", "t:1", "t:2", "t:3", "0")
        soon = self.block("BLMOVE", "t:4", "t:5", "RIGHT", "LEFT", "1.5")
        later = self.block("BZMPOP", "100", "2", "t:6", "t:7", "MIN")
        self.wait_counts(3, 2)
        self.assertIsNone(soon.read_reply())  # timed out
        self.wait_counts(2, 1)
        self.assertEqual(self.r.cmd("ZADD", "t:7", "2", "n"), 1)
        self.assertEqual(later.read_reply(), [b"t:7", [[b"n", b"2"]]])
        self.wait_counts(1, 0)
        self.assertEqual(self.r.cmd("LPUSH", "t:2", "v"), 1)
        self.assertEqual(forever.read_reply(), [b"t:2", b"v"])
        self.wait_counts(0, 0)

    def test_client_unblock_and_disconnect(self):
        ids = []
        clients = []
        for i in range(3):
            c = self.client()
            ids.append(c.cmd("CLIENT", "ID"))
            c.send_command("BLPOP", "u:%d" % i, "u:x", "0")
            clients.append(c)
        self.wait_counts(3, 0)
        self.assertEqual(self.r.cmd("CLIENT", "UNBLOCK", ids[0]), 1)
        self.assertIsNone(clients[0].read_reply())
        self.assertEqual(self.r.cmd("CLIENT", "UNBLOCK", ids[1], "ERROR"), 1)
        self.assertEqual(clients[1].read_reply(),
                         Error("UNBLOCKED client unblocked via CLIENT UNBLOCK"))
        self.wait_counts(1, 0)
        clients[2].close()
        self.wait_counts(0, 0)
        self.assertEqual(self.r.cmd("CLIENT", "UNBLOCK", ids[2]), 0)

    def test_pop_with_data_does_not_stay_blocked(self):
        self.r.cmd("RPUSH", "d:1", "a")
        c = self.client()
        self.assertEqual(c.cmd("BLPOP", "d:0", "d:1", "0"), [b"d:1", b"a"])
        self.assertEqual(c.cmd("BRPOP", "d:0", "0.01"), None)
        self.assertEqual(self.counts(), (0, 0))

    def test_blocking_pop_inside_multi_does_not_block(self):
        c = self.client()
        self.assertOK(c.cmd("MULTI"))
        self.assertEqual(c.cmd("BLPOP", "m:1", "m:2", "0"), "QUEUED")
        self.assertEqual(c.cmd("BZPOPMIN", "m:3", "0"), "QUEUED")
        self.assertEqual(c.cmd("EXEC"), [None, None])
        self.assertEqual(self.counts(), (0, 0))


if __name__ == "__main__":
    unittest.main()
