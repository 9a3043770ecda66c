"""twemproxy (Debian's nutcracker) in front of two servers: keys are spread
by consistent hashing, and the commands it proxies work unchanged."""

import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import unittest

sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))),
                                "integration"))
from harness import Client, Error, Server, free_port  # noqa: E402

NUTCRACKER = os.environ.get("NUTCRACKER",
                            shutil.which("nutcracker") or "/usr/sbin/nutcracker")

CONF = """alpha:
  listen: 127.0.0.1:%d
  hash: fnv1a_64
  distribution: ketama
  redis: true
  auto_eject_hosts: false
  timeout: 5000
  servers:
   - 127.0.0.1:%d:1 one
   - 127.0.0.1:%d:1 two
"""


@unittest.skipUnless(os.access(NUTCRACKER, os.X_OK), "nutcracker (twemproxy) not installed")
class TestTwemproxy(unittest.TestCase):

    @classmethod
    def setUpClass(cls):
        cls.servers = [Server().start(), Server().start()]
        cls.dir = tempfile.mkdtemp(prefix="shardis-twemproxy-")
        cls.port = free_port()
        conf = os.path.join(cls.dir, "nutcracker.yml")
        with open(conf, "w") as f:
            f.write(CONF % (cls.port, cls.servers[0].port, cls.servers[1].port))
        cls.proxy = subprocess.Popen([NUTCRACKER, "-c", conf, "-s", str(free_port())],
                                     stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        deadline = time.monotonic() + 10
        while True:
            try:
                socket.create_connection(("127.0.0.1", cls.port), timeout=1).close()
                break
            except OSError:
                if time.monotonic() > deadline or cls.proxy.poll() is not None:
                    cls.tearDownClass()
                    raise RuntimeError("nutcracker did not start")
                time.sleep(0.05)

    @classmethod
    def tearDownClass(cls):
        if cls.proxy.poll() is None:
            cls.proxy.terminate()
            try:
                cls.proxy.wait(10)
            except subprocess.TimeoutExpired:
                cls.proxy.kill()
                cls.proxy.wait()
        for s in cls.servers:
            s.stop()
            s.cleanup()
        shutil.rmtree(cls.dir, True)

    def setUp(self):
        self.c = Client(self.port, timeout=10)
        self.direct = [Client(s.port) for s in self.servers]
        for d in self.direct:
            d.cmd("FLUSHALL")

    def tearDown(self):
        self.c.close()
        for d in self.direct:
            d.close()

    def test_keys_are_spread_and_read_back(self):
        for i in range(200):
            self.assertEqual(self.c.cmd("SET", "tw:%d" % i, "v%d" % i), "OK")
        for i in range(200):
            self.assertEqual(self.c.cmd("GET", "tw:%d" % i), b"v%d" % i)
        sizes = [d.cmd("DBSIZE") for d in self.direct]
        self.assertEqual(sum(sizes), 200)
        self.assertTrue(all(n > 20 for n in sizes), sizes)  # both servers hold keys
        keys = ["tw:%d" % i for i in range(0, 200, 7)]
        self.assertEqual(self.c.cmd("MGET", *keys), [b"v%d" % i for i in range(0, 200, 7)])
        self.assertEqual(self.c.cmd("DEL", *keys), len(keys))
        self.assertEqual(sum(d.cmd("DBSIZE") for d in self.direct), 200 - len(keys))

    def test_every_type_through_the_proxy(self):
        c = self.c
        self.assertEqual(c.cmd("INCRBY", "n", 5), 5)
        self.assertEqual(c.cmd("HSET", "h", "a", "1", "b", "2"), 2)
        self.assertEqual(c.cmd("HGETALL", "h"), [b"a", b"1", b"b", b"2"])
        self.assertEqual(c.cmd("RPUSH", "l", "x", "y", "z"), 3)
        self.assertEqual(c.cmd("LRANGE", "l", 0, -1), [b"x", b"y", b"z"])
        self.assertEqual(c.cmd("SADD", "s", "a", "b"), 2)
        self.assertEqual(c.cmd("SCARD", "s"), 2)
        self.assertEqual(c.cmd("ZADD", "z", 1, "a", 2, "b"), 2)
        self.assertEqual(c.cmd("ZRANGE", "z", 0, -1, "WITHSCORES"), [b"a", b"1", b"b", b"2"])
        self.assertEqual(c.cmd("EXPIRE", "n", 100), 1)
        self.assertTrue(0 < c.cmd("TTL", "n") <= 100)
        self.assertEqual(c.cmd("PFADD", "hll", "a", "b", "c"), 1)
        self.assertEqual(c.cmd("PFCOUNT", "hll"), 3)
        self.assertEqual(c.cmd("EVAL", "return redis.call('GET', KEYS[1])", 1, "n"), b"5")
        self.assertEqual(c.cmd("TYPE", "l"), "list")
        self.assertIsInstance(c.cmd("LPUSH", "h", "x"), Error)  # WRONGTYPE comes through
        self.assertEqual(c.cmd("EXISTS", "h"), 1)

    def test_pipelined_writes_through_the_proxy(self):
        n = 1000
        self.c.send(b"".join(b"*3\r\n$3\r\nSET\r\n$%d\r\npl:%d\r\n$1\r\nv\r\n"
                             % (len(b"pl:%d" % i), i) for i in range(n)))
        self.assertEqual(self.c.read_replies(n), ["OK"] * n)
        self.assertEqual(sum(d.cmd("DBSIZE") for d in self.direct), n)


if __name__ == "__main__":
    unittest.main()
