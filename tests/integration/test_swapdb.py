"""SWAPDB: two databases trade places on every shard at once, with their
keys' TTLs; WATCH sees it, a blocked pop is served by a key the swap
brings in, and a snapshot running meanwhile keeps the state it began with.
"""

import os
import sys
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import Error, ServerTestCase  # noqa: E402

N = 300


class TestSwapdb(ServerTestCase):

    def fill(self, db, prefix):
        self.r.cmd("SELECT", str(db))
        args = []
        for i in range(N):
            args += ["%s:%d" % (prefix, i), "%s%d" % (prefix, i)]
        self.assertEqual(self.r.cmd("MSET", *args), "OK")
        self.r.cmd("SELECT", "0")

    def tearDown(self):
        self.r.cmd("SELECT", "0")
        super().tearDown()

    def test_swap_moves_every_key_and_ttl(self):
        self.fill(0, "a")
        self.fill(1, "b")
        self.r.cmd("SELECT", "1")
        self.r.cmd("EXPIRE", "b:7", "1000")
        self.r.cmd("SELECT", "0")
        self.assertEqual(self.r.cmd("SWAPDB", "0", "1"), "OK")
        self.assertEqual(self.r.cmd("DBSIZE"), N)
        self.assertEqual(self.r.cmd("GET", "b:5"), b"b5")
        self.assertIsNone(self.r.cmd("GET", "a:5"))
        self.assertTrue(990 <= self.r.cmd("TTL", "b:7") <= 1000)
        self.assertEqual(sorted(self.r.cmd("KEYS", "*"))[:2], [b"b:0", b"b:1"])
        self.r.cmd("SELECT", "1")
        self.assertEqual(self.r.cmd("MGET", "a:1", "a:299", "b:1"), [b"a1", b"a299", None])
        # back again, and a database with itself is a no-op
        self.assertEqual(self.r.cmd("SWAPDB", "1", "0"), "OK")
        self.assertEqual(self.r.cmd("SWAPDB", "1", "1"), "OK")
        self.assertEqual(self.r.cmd("GET", "b:1"), b"b1")

    def test_swap_with_an_empty_database(self):
        self.fill(0, "a")
        self.assertEqual(self.r.cmd("SWAPDB", "0", "5"), "OK")
        self.assertEqual(self.r.cmd("DBSIZE"), 0)
        self.r.cmd("SELECT", "5")
        self.assertEqual(self.r.cmd("DBSIZE"), N)

    def test_errors(self):
        self.assertEqual(self.r.cmd("SWAPDB", "x", "1"), Error("ERR invalid first DB index"))
        self.assertEqual(self.r.cmd("SWAPDB", "0", "y"), Error("ERR invalid second DB index"))
        self.assertEqual(self.r.cmd("SWAPDB", "0", "100"), Error("ERR DB index is out of range"))
        self.assertEqual(self.r.cmd("SWAPDB", "-1", "0"), Error("ERR DB index is out of range"))
        self.assertEqual(self.r.cmd("SWAPDB", "0"),
                         Error("ERR wrong number of arguments for 'swapdb' command"))

    def test_watched_key_replaced_by_the_swap_fails_exec(self):
        self.r.cmd("SET", "w", "mine")
        self.r.cmd("SELECT", "1")
        self.r.cmd("SET", "w", "other")
        self.r.cmd("SELECT", "0")
        watcher = self.client()
        self.assertEqual(watcher.cmd("WATCH", "w"), "OK")
        self.assertEqual(self.r.cmd("SWAPDB", "0", "1"), "OK")
        watcher.cmd("MULTI")
        watcher.cmd("GET", "w")
        self.assertIsNone(watcher.cmd("EXEC"))

    def test_blocked_pop_is_served_by_a_swapped_in_list(self):
        self.r.cmd("SELECT", "1")
        self.r.cmd("RPUSH", "q", "job")
        self.r.cmd("SELECT", "0")
        waiter = self.client()
        waiter.send_command("BLPOP", "q", "5")
        time.sleep(0.1)
        self.assertEqual(self.r.cmd("SWAPDB", "0", "1"), "OK")
        self.assertEqual(waiter.read_reply(), [b"q", b"job"])

    def test_snapshot_keeps_the_state_before_the_swap(self):
        self.fill(0, "a")
        self.fill(1, "b")
        self.assertEqual(self.r.cmd("CONFIG", "SET", "rdb-key-save-delay", "200"), "OK")
        self.assertEqual(self.r.cmd("BGSAVE"), "Background saving started")
        self.assertEqual(self.r.cmd("SWAPDB", "0", "1"), "OK")
        self.r.cmd("CONFIG", "SET", "rdb-key-save-delay", "0")
        deadline = time.monotonic() + 30
        while b"rdb_bgsave_in_progress:1" in self.r.cmd("INFO", "persistence"):
            self.assertLess(time.monotonic(), deadline)
            time.sleep(0.02)
        self.assertEqual(self.r.cmd("GET", "b:3"), b"b3")  # swapped now
        self.assertEqual(self.r.cmd("DEBUG", "RELOAD", "NOSAVE"), "OK")
        self.assertEqual(self.r.cmd("GET", "a:3"), b"a3")  # as at BGSAVE
        self.assertIsNone(self.r.cmd("GET", "b:3"))
        self.r.cmd("SELECT", "1")
        self.assertEqual(self.r.cmd("GET", "b:3"), b"b3")


if __name__ == "__main__":
    unittest.main()
