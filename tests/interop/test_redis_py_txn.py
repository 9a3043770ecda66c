"""redis-py's transactions against the server: pipeline() with MULTI/EXEC,
WATCH retry loops (transaction()), and concurrent increments that must not
lose an update. Keys are spread over every shard."""

import os
import sys
import threading
import unittest

sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))),
                                "integration"))
from harness import ServerTestCase  # noqa: E402

try:
    import redis
except ImportError:  # pragma: no cover
    redis = None


@unittest.skipIf(redis is None, "redis-py not installed (use /usr/bin/python3)")
class TestRedisPyTransactions(ServerTestCase):

    def setUp(self):
        super().setUp()
        self.rp = redis.Redis(host="127.0.0.1", port=self.port, socket_timeout=10)

    def tearDown(self):
        self.rp.close()
        super().tearDown()

    def test_pipeline_is_a_transaction(self):
        pipe = self.rp.pipeline()  # transaction=True by default: MULTI/EXEC
        for i in range(20):
            pipe.set("pk:%d" % i, i)
        pipe.incr("pk:0")
        pipe.mget(["pk:%d" % i for i in range(20)])
        reply = pipe.execute()
        self.assertEqual(reply[:20], [True] * 20)
        self.assertEqual(reply[20], 1)
        self.assertEqual(reply[21], [b"1"] + [str(i).encode() for i in range(1, 20)])

    def test_pipeline_error_inside_is_raised_after_the_rest_ran(self):
        self.rp.set("str", "x")
        pipe = self.rp.pipeline()
        pipe.set("after", "1")
        pipe.incr("str")
        pipe.set("after2", "2")
        with self.assertRaises(redis.ResponseError):
            pipe.execute()
        self.assertEqual(self.rp.get("after2"), b"2")

    def test_watch_retry_loop_never_loses_an_increment(self):
        keys = ["wc:%d" % i for i in range(4)]
        for k in keys:
            self.rp.set(k, 0)
        per_thread = 40
        errors = []

        def worker(n):
            rp = redis.Redis(host="127.0.0.1", port=self.port, socket_timeout=10)
            try:
                for i in range(per_thread):
                    k = keys[(n + i) % 4]
                    other = keys[(n + i + 1) % 4]

                    def bump(pipe):
                        v = int(pipe.get(k))
                        w = int(pipe.get(other))
                        pipe.multi()
                        pipe.set(k, v + 1)
                        pipe.set(other, w)

                    rp.transaction(bump, k, other)
            except Exception as e:  # noqa: BLE001
                errors.append(repr(e))
            finally:
                rp.close()

        threads = [threading.Thread(target=worker, args=(n,)) for n in range(4)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(60)
        self.assertEqual(errors, [])
        self.assertEqual(sum(int(self.rp.get(k)) for k in keys), 4 * per_thread)

    def test_watch_error_is_raised_on_a_change(self):
        self.rp.set("wk", 1)
        with self.rp.pipeline() as pipe:
            pipe.watch("wk")
            self.rp.set("wk", 2)  # another connection changes it
            pipe.multi()
            pipe.set("wk", 3)
            with self.assertRaises(redis.WatchError):
                pipe.execute()
        self.assertEqual(self.rp.get("wk"), b"2")

    def test_lock_is_exclusive(self):
        # redis-py's Lock is Lua (release and extend are scripts)
        counter = {"n": 0, "max": 0, "inside": 0}
        guard = threading.Lock()
        errors = []

        def worker():
            rp = redis.Redis(host="127.0.0.1", port=self.port, socket_timeout=10)
            try:
                for _ in range(15):
                    with rp.lock("res:lock", timeout=5, blocking_timeout=20, sleep=0.001):
                        with guard:
                            counter["inside"] += 1
                            counter["max"] = max(counter["max"], counter["inside"])
                        v = int(rp.get("res:value") or 0)
                        rp.set("res:value", v + 1)
                        with guard:
                            counter["inside"] -= 1
                            counter["n"] += 1
            except Exception as e:  # noqa: BLE001
                errors.append(repr(e))
            finally:
                rp.close()

        threads = [threading.Thread(target=worker) for _ in range(4)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(120)
        self.assertEqual(errors, [])
        self.assertEqual(counter["max"], 1)
        self.assertEqual(int(self.rp.get("res:value")), 60)
        self.assertIsNone(self.rp.get("res:lock"))

    def test_registered_script(self):
        incr_both = self.rp.register_script(
            "redis.call('INCRBY', KEYS[1], ARGV[1]); return redis.call('INCRBY', KEYS[2], ARGV[1])")
        self.assertEqual(incr_both(keys=["rs:a", "rs:b"], args=[5]), 5)
        self.assertEqual(incr_both(keys=["rs:a", "rs:b"], args=[5]), 10)
        self.assertEqual(self.rp.get("rs:a"), b"10")
        self.rp.script_flush()
        # after a flush redis-py loads it again on NOSCRIPT
        self.assertEqual(incr_both(keys=["rs:a", "rs:b"], args=[1]), 11)


if __name__ == "__main__":
    unittest.main()
