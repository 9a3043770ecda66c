"""redis-py (Debian's python3-redis) against the server."""

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


def redis_py_version():
    if redis is None:
        return (0,)
    return tuple(int(x) for x in redis.__version__.split(".")[:2] if x.isdigit())


@unittest.skipIf(redis is None, "redis-py not installed (use /usr/bin/python3)")
class TestRedisPy(ServerTestCase):

    def setUp(self):
        super().setUp()
        self.rp = redis.Redis(host="127.0.0.1", port=self.port, socket_timeout=10)

    def tearDown(self):
        self.rp.close()
        super().tearDown()

    def test_ping_set_get(self):
        self.assertTrue(self.rp.ping())
        self.assertTrue(self.rp.set("k", "v"))
        self.assertEqual(self.rp.get("k"), b"v")
        self.assertIsNone(self.rp.get("nokey"))

    def test_set_options(self):
        self.assertTrue(self.rp.set("k", "v", ex=100))
        self.assertIsNone(self.rp.set("k", "w", nx=True))
        self.assertTrue(self.rp.set("k", "w", xx=True, keepttl=True))
        self.assertTrue(0 < self.rp.ttl("k") <= 100)
        self.assertEqual(self.rp.set("k", "z", get=True), b"w")

    def test_decode_responses(self):
        rp = redis.Redis(host="127.0.0.1", port=self.port, decode_responses=True)
        try:
            rp.set("k", "h\xe9llo")
            self.assertEqual(rp.get("k"), "h\xe9llo")
            self.assertEqual(rp.strlen("k"), 6)
        finally:
            rp.close()

    def test_mset_mget_across_many_keys(self):
        mapping = {"key:%d" % i: "value:%d" % i for i in range(1000)}
        self.assertTrue(self.rp.mset(mapping))
        keys = list(mapping) + ["nokey"]
        self.assertEqual(self.rp.mget(keys),
                         [mapping[k].encode() for k in mapping] + [None])
        self.assertEqual(self.rp.exists(*mapping), 1000)
        self.assertEqual(self.rp.delete(*list(mapping)[:100]), 100)
        self.assertEqual(self.rp.dbsize(), 900)

    def test_counters(self):
        self.assertEqual(self.rp.incr("n"), 1)
        self.assertEqual(self.rp.incrby("n", 10), 11)
        self.assertEqual(self.rp.decr("n"), 10)
        self.assertEqual(self.rp.decrby("n", 5), 5)
        self.assertAlmostEqual(self.rp.incrbyfloat("n", 0.5), 5.5)

    def test_errors_raise_response_error(self):
        self.rp.set("k", "abc")
        with self.assertRaises(redis.exceptions.ResponseError) as ctx:
            self.rp.incr("k")
        self.assertEqual(str(ctx.exception), "value is not an integer or out of range")
        with self.assertRaises(redis.exceptions.ResponseError):
            self.rp.execute_command("NOSUCHCOMMAND")

    def test_pipeline_without_transaction(self):
        pipe = self.rp.pipeline(transaction=False)
        for i in range(1000):
            pipe.set("key:%d" % i, i)
            pipe.incr("key:%d" % i)
            pipe.get("key:%d" % i)
        results = pipe.execute()
        self.assertEqual(len(results), 3000)
        for i in range(1000):
            self.assertEqual(results[3 * i:3 * i + 3], [True, i + 1, str(i + 1).encode()])

    def test_pipeline_collects_errors(self):
        pipe = self.rp.pipeline(transaction=False)
        pipe.set("k", "abc")
        pipe.incr("k")
        pipe.get("k")
        results = pipe.execute(raise_on_error=False)
        self.assertTrue(results[0])
        self.assertIsInstance(results[1], redis.exceptions.ResponseError)
        self.assertEqual(results[2], b"abc")

    def test_scan_iter_returns_every_key(self):
        self.rp.mset({"key:%d" % i: "v" for i in range(1000)})
        self.rp.mset({"other:%d" % i: "v" for i in range(100)})
        self.assertEqual(set(self.rp.scan_iter(match="key:*", count=100)),
                         {b"key:%d" % i for i in range(1000)})
        self.assertEqual(len(set(self.rp.scan_iter())), 1100)

    def test_expire_and_ttl(self):
        self.rp.set("k", "v")
        self.assertEqual(self.rp.ttl("k"), -1)
        self.assertTrue(self.rp.expire("k", 100))
        self.assertTrue(98 <= self.rp.ttl("k") <= 100)
        self.assertTrue(self.rp.pexpire("k", 50000))
        self.assertTrue(49000 <= self.rp.pttl("k") <= 50000)
        self.assertTrue(self.rp.persist("k"))
        self.assertEqual(self.rp.ttl("k"), -1)
        self.assertEqual(self.rp.ttl("nokey"), -2)
        self.assertFalse(self.rp.expire("nokey", 10))

    def test_getex_getdel_rename_copy(self):
        self.rp.set("a", "1")
        self.assertEqual(self.rp.getex("a", ex=100), b"1")
        self.assertTrue(0 < self.rp.ttl("a") <= 100)
        self.assertTrue(self.rp.rename("a", "b"))
        self.assertTrue(self.rp.copy("b", "c"))
        self.assertEqual(self.rp.getdel("b"), b"1")
        self.assertEqual(self.rp.get("c"), b"1")

    def test_select_db_and_client_name(self):
        rp = redis.Redis(host="127.0.0.1", port=self.port, db=4, client_name="pytest")
        try:
            rp.set("k", "db4")
            self.assertEqual(rp.client_getname(), "pytest")
            self.assertIsNone(self.rp.get("k"))
        finally:
            rp.close()
        self.r.cmd("SELECT", "4")
        self.assertEqual(self.r.cmd("GET", "k"), b"db4")

    def test_info_parses(self):
        self.rp.mset({"a": 1, "b": 2})
        self.rp.expire("a", 1000)
        info = self.rp.info()
        self.assertIn("connected_clients", info)
        self.assertIn("used_memory", info)
        self.assertEqual(info["db0"]["keys"], 2)
        self.assertEqual(info["db0"]["expires"], 1)
        self.assertEqual(self.rp.info("keyspace")["db0"]["keys"], 2)

    def test_config_get_and_set(self):
        self.assertEqual(self.rp.config_get("timeout"), {"timeout": "0"})
        self.assertTrue(self.rp.config_set("timeout", 120))
        try:
            self.assertEqual(self.rp.config_get("timeout"), {"timeout": "120"})
        finally:
            self.rp.config_set("timeout", 0)

    def test_client_list_and_id(self):
        myid = self.rp.client_id()
        ids = [int(c["id"]) for c in self.rp.client_list()]
        self.assertIn(myid, ids)

    def test_time_and_echo(self):
        secs, usecs = self.rp.time()
        self.assertGreater(secs, 1600000000)
        self.assertEqual(self.rp.echo("hi"), b"hi")

    def test_concurrent_clients_increment_one_counter(self):
        pool = redis.ConnectionPool(host="127.0.0.1", port=self.port, max_connections=16)
        errors = []

        def work():
            try:
                rp = redis.Redis(connection_pool=pool)
                for _ in range(250):
                    rp.incr("shared")
            except Exception as e:  # reported below
                errors.append(e)

        threads = [threading.Thread(target=work) for _ in range(8)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(60)
        pool.disconnect()
        self.assertEqual(errors, [])
        self.assertEqual(self.rp.get("shared"), b"2000")

    @unittest.skipUnless(redis_py_version() >= (5, 0), "redis-py < 5.0 has no RESP3 (protocol=3)")
    def test_resp3_protocol(self):
        rp = redis.Redis(host="127.0.0.1", port=self.port, protocol=3)
        try:
            rp.set("k", "v")
            self.assertEqual(rp.get("k"), b"v")
            self.assertIsNone(rp.get("nokey"))
            self.assertEqual(rp.mget("k", "nokey"), [b"v", None])
        finally:
            rp.close()


@unittest.skipIf(redis is None, "redis-py not installed (use /usr/bin/python3)")
class TestRedisPyTypes(ServerTestCase):
    """redis-py's helpers over every value type, keys spread over shards."""

    def setUp(self):
        super().setUp()
        self.rp = redis.Redis(host="127.0.0.1", port=self.port, socket_timeout=10,
                              decode_responses=True)

    def tearDown(self):
        self.rp.close()
        super().tearDown()

    def test_hash(self):
        self.assertEqual(self.rp.hset("h", mapping={"a": "1", "b": "2"}), 2)
        self.assertEqual(self.rp.hgetall("h"), {"a": "1", "b": "2"})
        self.assertEqual(self.rp.hincrby("h", "a", 5), 6)
        self.assertAlmostEqual(self.rp.hincrbyfloat("h", "b", 0.5), 2.5)
        self.rp.hset("big", mapping={"f%d" % i: str(i) for i in range(1000)})
        self.assertEqual(dict(self.rp.hscan_iter("big")), {"f%d" % i: str(i) for i in range(1000)})
        self.assertEqual(self.rp.object("encoding", "big"), "hashtable")

    def test_list_and_blocking_pop(self):
        self.assertEqual(self.rp.rpush("l", *range(10)), 10)
        self.assertEqual(self.rp.lrange("l", 0, 2), ["0", "1", "2"])
        self.assertEqual(self.rp.lpop("l", 2), ["0", "1"])
        self.assertEqual(self.rp.lmove("l", "l2", "LEFT", "RIGHT"), "2")
        self.assertEqual(self.rp.blpop(["empty:a", "l2"], timeout=1), ("l2", "2"))
        self.assertIsNone(self.rp.blpop(["empty:a", "empty:b"], timeout=0.2))
        other = redis.Redis(host="127.0.0.1", port=self.port, decode_responses=True)
        timer = threading.Timer(0.2, lambda: other.rpush("late", "x"))
        timer.start()
        try:
            self.assertEqual(self.rp.brpop(["late"], timeout=5), ("late", "x"))
        finally:
            timer.join()
            other.close()

    def test_set(self):
        self.assertEqual(self.rp.sadd("s1", *"abcd"), 4)
        self.rp.sadd("s2", *"cdef")
        self.assertEqual(self.rp.sinter("s1", "s2"), {"c", "d"})
        self.assertEqual(self.rp.sunion("s1", "s2"), set("abcdef"))
        self.assertEqual(self.rp.sdiffstore("s3", ["s1", "s2"]), 2)
        self.assertEqual(self.rp.smembers("s3"), {"a", "b"})
        self.assertTrue(self.rp.smove("s1", "s2", "a"))
        self.assertEqual(set(self.rp.sscan_iter("s2")), set("acdef"))

    def test_sorted_set(self):
        self.assertEqual(self.rp.zadd("z", {"a": 1, "b": 2.5, "c": 3}), 3)
        self.assertEqual(self.rp.zrange("z", 0, -1, withscores=True),
                         [("a", 1.0), ("b", 2.5), ("c", 3.0)])
        self.assertEqual(self.rp.zrangebyscore("z", "(1", "+inf"), ["b", "c"])
        self.assertEqual(self.rp.zrank("z", "c"), 2)
        self.assertEqual(self.rp.zincrby("z", 10, "a"), 11.0)
        self.rp.zadd("z2", {"b": 1, "x": 5})
        self.assertEqual(self.rp.zunionstore("zu", ["z", "z2"]), 4)
        self.assertEqual(self.rp.zscore("zu", "b"), 3.5)
        self.assertEqual(self.rp.bzpopmin(["none", "zu"], timeout=1), ("zu", "c", 3.0))
        self.assertEqual(self.rp.zpopmax("zu"), [("a", 11.0)])


if __name__ == "__main__":
    unittest.main()
