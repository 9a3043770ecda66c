"""redis-py's stream API against the server: xadd, xread with block (woken
by an xadd from another connection), xgroup_create, xreadgroup (blocking
too), xack and xautoclaim. Keys are spread over every shard."""

import os
import sys
import threading
import time
import unittest

sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))),
                                "integration"))
from harness import ServerTestCase  # noqa: E402

try:
    import redis
except ImportError:  # pragma: no cover
    redis = None


@unittest.skipIf(redis is None, "redis-py not installed (use /usr/bin/python3)")
class TestRedisPyStreams(ServerTestCase):

    def setUp(self):
        super().setUp()
        self.rp = redis.Redis(host="127.0.0.1", port=self.port, socket_timeout=10)

    def tearDown(self):
        self.rp.close()
        super().tearDown()

    def later(self, delay, fn, *args):
        """Runs fn(*args) on another connection after delay seconds."""
        def run():
            time.sleep(delay)
            other = redis.Redis(host="127.0.0.1", port=self.port, socket_timeout=10)
            try:
                fn(other, *args)
            finally:
                other.close()
        t = threading.Thread(target=run)
        t.start()
        return t

    def test_xadd_and_xread(self):
        keys = ["rs:%d" % i for i in range(4)]
        ids = [self.rp.xadd(k, {"n": i}) for i, k in enumerate(keys)]
        got = self.rp.xread({k: "0" for k in keys})
        self.assertEqual([g[0] for g in got], [k.encode() for k in keys])
        self.assertEqual(got[2][1], [(ids[2], {b"n": b"2"})])
        self.assertEqual(self.rp.xread({k: "$" for k in keys}, block=50), [])

    def test_xread_block_woken_by_another_client(self):
        keys = ["rb:%d" % i for i in range(4)]
        t = self.later(0.2, lambda c: c.xadd(keys[3], {"x": "y"}, id="7-1"))
        t0 = time.monotonic()
        got = self.rp.xread({k: "$" for k in keys}, block=5000)
        t.join()
        self.assertGreater(time.monotonic() - t0, 0.1)
        self.assertEqual(got, [[keys[3].encode(), [(b"7-1", {b"x": b"y"})]]])

    def test_groups_ack_and_autoclaim(self):
        self.rp.xgroup_create("jobs", "workers", id="0", mkstream=True)
        for i in range(5):
            self.rp.xadd("jobs", {"job": i}, id="%d-0" % (i + 1))
        got = self.rp.xreadgroup("workers", "alice", {"jobs": ">"}, count=3)
        self.assertEqual([e[0] for e in got[0][1]], [b"1-0", b"2-0", b"3-0"])
        self.assertEqual(self.rp.xack("jobs", "workers", b"1-0", b"2-0"), 2)
        got = self.rp.xreadgroup("workers", "bob", {"jobs": ">"})
        self.assertEqual([e[0] for e in got[0][1]], [b"4-0", b"5-0"])
        # alice "crashed" with 3-0 pending: bob takes it over
        time.sleep(0.02)
        claimed = self.rp.xautoclaim("jobs", "workers", "bob", min_idle_time=10,
                                     start_id="0-0")
        self.assertEqual([e[0] for e in claimed[1]], [b"3-0", b"4-0", b"5-0"])
        self.assertEqual(self.rp.xack("jobs", "workers", b"3-0", b"4-0", b"5-0"), 3)
        self.assertEqual(self.rp.xpending("jobs", "workers")["pending"], 0)

    def test_xreadgroup_block(self):
        self.rp.xgroup_create("q:blk", "g", id="$", mkstream=True)
        t = self.later(0.2, lambda c: c.xadd("q:blk", {"a": "1"}, id="1-1"))
        got = self.rp.xreadgroup("g", "c", {"q:blk": ">"}, block=5000, count=10)
        t.join()
        self.assertEqual(got, [[b"q:blk", [(b"1-1", {b"a": b"1"})]]])
        self.assertEqual(self.rp.xreadgroup("g", "c", {"q:blk": ">"}, block=50), [])
        self.assertEqual(self.rp.xack("q:blk", "g", b"1-1"), 1)


if __name__ == "__main__":
    unittest.main()
