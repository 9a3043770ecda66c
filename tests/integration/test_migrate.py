"""MIGRATE: moving keys to another server, with Redis 7.0's replies.

The server under test is the source; the targets are shardis servers of 1
and 4 shards (redis-servers in reference mode) and a live redis-server, and
the live redis-server also MIGRATEs to the server under test. Every type
(a stream with groups included) keeps its value and its TTL; COPY, REPLACE,
KEYS over keys of several shards, AUTH / AUTH2, NOKEY, BUSYKEY, a target
that does not listen (IOERR connecting), one that never answers (IOERR
reading, bounded by the timeout), the errors of the arguments, MIGRATE in
MULTI/EXEC and in a script, and the reuse of the cached connection.
"""

import os
import random
import socket
import sys
import threading
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import (Client, Error, LiveRedisServer, Server, ServerTestCase,  # noqa: E402
                     Status, live_redis_binary, reference_mode)
from test_dump_interop import build_values, read_value  # noqa: E402

TARGET_ERR = "ERR Target instance replied with error: "


def info_field(c, section, name):
    text = c.cmd("INFO", section).decode()
    for line in text.split("\r\n"):
        if line.startswith(name + ":"):
            return line.split(":", 1)[1]
    return None


class SilentServer:
    """Accepts connections and never answers (the bytes sent are read and
    dropped, so a writer never blocks)."""

    def __init__(self):
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(16)
        self.port = self.sock.getsockname()[1]
        self.conns = []
        self.stop_flag = False
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _run(self):
        self.sock.settimeout(0.05)
        while not self.stop_flag:
            try:
                c, _ = self.sock.accept()
                c.setblocking(False)
                self.conns.append(c)
            except OSError:
                pass
            for c in self.conns:
                try:
                    c.recv(65536)
                except OSError:
                    pass

    def close(self):
        self.stop_flag = True
        self.thread.join()
        for c in self.conns:
            c.close()
        self.sock.close()


class MigrateTest(ServerTestCase):

    @classmethod
    def setUpClass(cls):
        if not os.access(live_redis_binary(), os.X_OK):
            raise unittest.SkipTest("%s not found" % live_redis_binary())
        super().setUpClass()
        cls.t1 = Server(shards=1).start()
        cls.t4 = Server(shards=4).start()
        cls.live = LiveRedisServer().start()
        cls.locked = Server(shards=2, args=["--requirepass", "pw"]).start()

    @classmethod
    def tearDownClass(cls):
        for s in (cls.t1, cls.t4, cls.live, cls.locked):
            s.stop()
            s.cleanup()
        super().tearDownClass()

    def setUp(self):
        super().setUp()
        self.targets = []
        for srv in (self.t1, self.t4, self.live):
            c = Client(srv.port)
            c.cmd("FLUSHALL")
            self.targets.append((srv, c))
        self.lk = Client(self.locked.port)
        self.assertOK(self.lk.cmd("AUTH", "pw"))
        self.lk.cmd("FLUSHALL")

    def tearDown(self):
        for _, c in self.targets:
            c.close()
        self.lk.close()
        super().tearDown()

    def migrate(self, port, key, *opts, db=0, timeout=2000, client=None):
        c = client or self.r
        return c.cmd("MIGRATE", "127.0.0.1", str(port), key, str(db), str(timeout), *opts)

    # ---- values and TTLs ----

    def test_every_type_moves_with_its_value(self):
        keys = build_values(self.r, random.Random(7))
        want = {k: read_value(self.r, k) for k in keys}
        for srv, c in self.targets:
            self.assertOK(self.migrate(srv.port, "", "COPY", "KEYS", *keys))
            for k in keys:
                self.assertEqual(read_value(c, k), want[k], (srv.port, k))
        # without COPY the source loses them
        self.assertOK(self.migrate(self.t4.port, "", "REPLACE", "KEYS", *keys))
        self.assertEqual(self.r.cmd("EXISTS", *keys), 0)

    def test_one_key_and_its_ttl(self):
        for srv, c in self.targets:
            self.r.cmd("SET", "k", "v", "PX", "100000")
            self.r.cmd("SET", "p", "persistent")
            self.assertOK(self.migrate(srv.port, "k"))
            self.assertOK(self.migrate(srv.port, "p"))
            self.assertEqual(self.r.cmd("EXISTS", "k", "p"), 0)
            self.assertEqual(c.cmd("GET", "k"), b"v")
            pttl = c.cmd("PTTL", "k")
            self.assertTrue(90000 < pttl <= 100000, pttl)
            self.assertEqual(c.cmd("PTTL", "p"), -1)

    def test_stream_with_a_group(self):
        self.r.cmd("XADD", "st", "1-1", "a", "1")
        self.r.cmd("XADD", "st", "2-1", "b", "2")
        self.r.cmd("XGROUP", "CREATE", "st", "g", "0")
        self.r.cmd("XREADGROUP", "GROUP", "g", "alice", "COUNT", "1", "STREAMS", "st", ">")
        for srv, c in self.targets:
            self.assertOK(self.migrate(srv.port, "st", "COPY"))
            self.assertEqual(c.cmd("XRANGE", "st", "-", "+"), self.r.cmd("XRANGE", "st", "-", "+"))
            self.assertEqual(c.cmd("XPENDING", "st", "g"), [1, b"1-1", b"1-1", [[b"alice", b"1"]]])
            groups = c.cmd("XINFO", "GROUPS", "st")
            self.assertEqual(groups[0][1], b"g")
            self.assertEqual(groups[0][groups[0].index(b"last-delivered-id") + 1], b"1-1")

    def test_destination_db(self):
        c = self.targets[1][1]
        self.r.cmd("SET", "a", "1")
        self.r.cmd("SET", "b", "2")
        self.r.cmd("SET", "c", "3")
        self.assertOK(self.migrate(self.t4.port, "a", db=3))
        self.assertOK(self.migrate(self.t4.port, "b", db=0))  # the same connection: SELECT 0
        self.assertOK(self.migrate(self.t4.port, "c", db=3))
        self.assertEqual(c.cmd("GET", "b"), b"2")
        c.cmd("SELECT", "3")
        self.assertEqual(c.cmd("MGET", "a", "b", "c"), [b"1", None, b"3"])
        self.assertEqual(self.migrate(self.t4.port, "nokey", db=3), Status("NOKEY"))
        self.r.cmd("SET", "d", "4")
        self.assertError(self.migrate(self.t4.port, "d", db=99),
                         TARGET_ERR + "ERR DB index is out of range")
        self.assertEqual(self.r.cmd("GET", "d"), b"4")
        # as in Redis, the RESTORE after the failed SELECT ran in the database
        # selected before (3): the key is on both sides
        self.assertEqual(c.cmd("GET", "d"), b"4")
        # and the connection is still good afterwards (SELECT sent again)
        self.assertOK(self.migrate(self.t4.port, "d", "REPLACE", db=0))
        self.assertEqual(self.r.cmd("EXISTS", "d"), 0)
        c.cmd("SELECT", "0")
        self.assertEqual(c.cmd("GET", "d"), b"4")

    # ---- options ----

    def test_copy_replace_and_busykey(self):
        for srv, c in self.targets:
            self.r.cmd("SET", "k", "one")
            self.assertOK(self.migrate(srv.port, "k", "COPY"))
            self.assertEqual(self.r.cmd("GET", "k"), b"one")
            self.assertEqual(c.cmd("GET", "k"), b"one")
            self.r.cmd("SET", "k", "two")
            self.assertError(self.migrate(srv.port, "k"),
                             TARGET_ERR + "BUSYKEY Target key name already exists.")
            self.assertEqual(self.r.cmd("GET", "k"), b"two")
            self.assertEqual(c.cmd("GET", "k"), b"one")
            self.assertOK(self.migrate(srv.port, "k", "REPLACE"))
            self.assertEqual(self.r.cmd("EXISTS", "k"), 0)
            self.assertEqual(c.cmd("GET", "k"), b"two")

    def test_keys_on_several_shards(self):
        keys = ["key:%d" % i for i in range(24)]
        for k in keys:
            self.r.cmd("SET", k, k)
        self.r.cmd("PEXPIRE", "key:3", "50000")
        for srv, c in self.targets:
            self.r.cmd("FLUSHALL")
            for k in keys:
                self.r.cmd("SET", k, k)
            self.assertOK(self.migrate(srv.port, "", "KEYS", *(keys + ["missing:1", "missing:2"])))
            self.assertEqual(self.r.cmd("DBSIZE"), 0)
            self.assertEqual(c.cmd("MGET", *keys), [k.encode() for k in keys])
            self.assertEqual(c.cmd("EXISTS", "missing:1", "missing:2"), 0)

    def test_keys_partly_busy(self):
        """The keys the target accepted leave the source; the first error is
        the reply."""
        c = self.targets[0][1]
        c.cmd("SET", "k5", "theirs")
        c.cmd("SET", "k9", "theirs")
        keys = ["k%d" % i for i in range(12)]
        for k in keys:
            self.r.cmd("SET", k, "ours")
        self.assertError(self.migrate(self.t1.port, "", "KEYS", *keys),
                         TARGET_ERR + "BUSYKEY Target key name already exists.")
        self.assertEqual(self.r.cmd("MGET", *keys),
                         [b"ours" if k in ("k5", "k9") else None for k in keys])
        self.assertEqual(c.cmd("MGET", *keys),
                         [b"theirs" if k in ("k5", "k9") else b"ours" for k in keys])

    def test_nokey(self):
        port = self.t1.port
        self.assertEqual(self.migrate(port, "nokey"), Status("NOKEY"))
        self.assertEqual(self.migrate(port, "", "KEYS", "a", "b", "c"), Status("NOKEY"))
        self.assertEqual(self.migrate(port, "", "KEYS"), Status("NOKEY"))
        # NOKEY comes before any connection: a port nobody listens on
        self.assertEqual(self.migrate(1, "nokey"), Status("NOKEY"))

    # ---- authentication ----

    def test_auth_and_auth2(self):
        port = self.locked.port
        self.r.cmd("SET", "k", "v")
        self.assertError(self.migrate(port, "k"),
                         TARGET_ERR + "NOAUTH Authentication required.")
        self.assertError(self.migrate(port, "k", "AUTH", "bad"),
                         TARGET_ERR + "WRONGPASS invalid username-password pair or user is "
                         "disabled.")
        self.assertEqual(self.r.cmd("GET", "k"), b"v")
        self.assertOK(self.migrate(port, "k", "AUTH", "pw"))
        self.assertEqual(self.r.cmd("EXISTS", "k"), 0)
        self.assertEqual(self.lk.cmd("GET", "k"), b"v")
        self.assertOK(self.lk.cmd("ACL", "SETUSER", "mover", "on", ">mpw", "~*", "+@all"))
        self.r.cmd("SET", "k2", "v2")
        self.assertOK(self.migrate(port, "k2", "AUTH2", "mover", "mpw"))
        self.assertEqual(self.lk.cmd("GET", "k2"), b"v2")
        self.r.cmd("SET", "k3", "v3")
        self.assertError(self.migrate(port, "k3", "AUTH2", "mover", "bad"),
                         TARGET_ERR + "WRONGPASS invalid username-password pair or user is "
                         "disabled.")
        self.assertEqual(self.r.cmd("GET", "k3"), b"v3")

    def test_auth_to_a_target_without_password(self):
        """AUTH fails, RESTORE works: the key is on both, the reply is the
        AUTH error (Redis's rule: a key is deleted only when every reply
        before it was good)."""
        srv, c = self.targets[2]
        self.r.cmd("SET", "k", "v")
        reply = self.migrate(srv.port, "k", "AUTH", "pw")
        self.assertErrorPrefix(reply, TARGET_ERR + "ERR AUTH <password> called without any "
                               "password configured")
        self.assertEqual(self.r.cmd("GET", "k"), b"v")
        self.assertEqual(c.cmd("GET", "k"), b"v")

    # ---- I/O errors ----

    def test_target_not_listening(self):
        s = socket.socket()
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
        s.close()  # bound once, nobody listens there now
        self.r.cmd("SET", "k", "v")
        # Redis 7.0 leaves a connect in progress to the first write: a
        # refused connection is an error writing (after one retry)
        self.assertError(self.migrate(port, "k", timeout=200),
                         "IOERR error or timeout writing to target instance")
        self.assertError(self.migrate(port, "k", "KEYS", timeout=200),
                         "ERR When using MIGRATE KEYS option, the key argument must be set to "
                         "the empty string")
        # no address at all: an error connecting
        self.assertError(self.r.cmd("MIGRATE", "", str(port), "k", "0", "200"),
                         "IOERR error or timeout connecting to the client")
        self.assertError(self.r.cmd("MIGRATE", "127.0.0.1", "-5", "k", "0", "200"),
                         "IOERR error or timeout connecting to the client")
        # port "abc" is port 0 (atoi)
        self.assertError(self.r.cmd("MIGRATE", "127.0.0.1", "abc", "k", "0", "200"),
                         "IOERR error or timeout writing to target instance")
        self.assertEqual(self.r.cmd("GET", "k"), b"v")

    def test_credentials_are_redacted(self):
        s = socket.socket()
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
        s.close()
        self.r.cmd("SET", "k", "v")
        mon = self.client()
        self.assertEqual(mon.cmd("MONITOR"), "OK")
        self.r.cmd("CONFIG", "SET", "slowlog-log-slower-than", "0")
        self.r.cmd("SLOWLOG", "RESET")
        self.assertIsInstance(self.r.cmd("MIGRATE", "127.0.0.1", str(port), "k", "0", "100",
                                         "COPY", "AUTH2", "user1", "pw1", "AUTH", "pw2"), Error)
        entries = self.r.cmd("SLOWLOG", "GET", "10")
        self.r.cmd("CONFIG", "SET", "slowlog-log-slower-than", "10000")
        args = [e[3] for e in entries if e[3][0].lower() == b"migrate"][0]
        self.assertEqual(args[6:], [b"COPY", b"AUTH2", b"(redacted)", b"(redacted)", b"AUTH",
                                    b"(redacted)"])
        line = mon.read_reply()
        while "migrate" not in line.lower():
            line = mon.read_reply()
        self.assertIn('"AUTH2" "(redacted)" "(redacted)" "AUTH" "(redacted)"', line)
        self.assertNotIn("pw1", line)

    def test_target_never_answers(self):
        silent = SilentServer()
        try:
            self.r.cmd("SET", "k", "v")
            t0 = time.monotonic()
            reply = self.migrate(silent.port, "k", timeout=200)
            took = time.monotonic() - t0
            self.assertError(reply, "IOERR error or timeout reading to target instance")
            self.assertGreater(took, 0.15)
            self.assertLess(took, 3.0)
            self.assertEqual(self.r.cmd("GET", "k"), b"v")
            # the failed connection was dropped: a good target works next
            self.assertOK(self.migrate(self.t1.port, "k"))
        finally:
            silent.close()

    # ---- arguments ----

    def test_argument_errors(self):
        port = self.t1.port
        self.r.cmd("SET", "k", "v")
        self.assertError(self.r.cmd("MIGRATE", "127.0.0.1", str(port), "k", "0"),
                         "ERR wrong number of arguments for 'migrate' command")
        self.assertError(self.migrate(port, "k", "FOO"), "ERR syntax error")
        self.assertError(self.migrate(port, "k", "AUTH"), "ERR syntax error")
        self.assertError(self.migrate(port, "k", "AUTH2", "u"), "ERR syntax error")
        self.assertError(self.migrate(port, "k", "KEYS", "k"),
                         "ERR When using MIGRATE KEYS option, the key argument must be set to "
                         "the empty string")
        # the options come first, then the timeout, then the db
        self.assertError(self.migrate(port, "k", "FOO", timeout="x"), "ERR syntax error")
        self.assertError(self.migrate(port, "k", timeout="x"),
                         "ERR value is not an integer or out of range")
        self.assertError(self.migrate(port, "k", db="x"),
                         "ERR value is not an integer or out of range")
        self.assertError(self.migrate(port, "k", timeout="1.5"),
                         "ERR value is not an integer or out of range")
        self.assertEqual(self.r.cmd("GET", "k"), b"v")
        # a timeout <= 0 is 1000 ms
        self.assertOK(self.migrate(port, "k", timeout=0))

    # ---- connection reuse ----

    def test_connection_is_reused(self):
        srv, c = self.targets[2]
        before = int(info_field(c, "stats", "total_connections_received"))
        for i in range(5):
            self.r.cmd("SET", "k%d" % i, "v")
            self.assertOK(self.migrate(srv.port, "k%d" % i))
        after = int(info_field(c, "stats", "total_connections_received"))
        self.assertLessEqual(after - before, 1)
        # the target closed it: the next MIGRATE retries on a new one
        c.cmd("CLIENT", "KILL", "TYPE", "normal", "SKIPME", "yes")
        self.r.cmd("SET", "again", "v")
        self.assertOK(self.migrate(srv.port, "again"))
        self.assertEqual(c.cmd("GET", "again"), b"v")

    # ---- transactions and scripts ----

    def test_in_multi_exec(self):
        srv, c = self.targets[0]
        self.r.cmd("SET", "k", "v")
        self.assertOK(self.r.cmd("MULTI"))
        self.assertEqual(self.migrate(srv.port, "k"), Status("QUEUED"))
        self.assertEqual(self.migrate(srv.port, "nokey"), Status("QUEUED"))
        self.assertEqual(self.migrate(srv.port, "k", "BAD"), Status("QUEUED"))
        self.assertEqual(self.r.cmd("GET", "k"), Status("QUEUED"))
        self.assertEqual(self.r.cmd("EXEC"),
                         [Status("OK"), Status("NOKEY"), Error("ERR syntax error"), None])
        self.assertEqual(c.cmd("GET", "k"), b"v")

    def test_in_a_script(self):
        srv, c = self.targets[1]
        self.r.cmd("SET", "k", "v")
        reply = self.r.cmd("EVAL", "return redis.call('MIGRATE', '127.0.0.1', ARGV[1], KEYS[1], "
                           "0, 2000)", "1", "k", str(srv.port))
        self.assertOK(reply)
        self.assertEqual(self.r.cmd("EXISTS", "k"), 0)
        self.assertEqual(c.cmd("GET", "k"), b"v")

    # ---- redis-server as the source ----

    def test_redis_migrates_here(self):
        live = Client(self.live.port)
        try:
            keys = build_values(live, random.Random(8))
            live.cmd("PEXPIRE", "s:short", "100000")
            want = {k: read_value(live, k) for k in keys}
            reply = live.cmd("MIGRATE", "127.0.0.1", str(self.port), "", "0", "5000", "KEYS",
                             *keys)
            self.assertOK(reply)
            self.assertEqual(live.cmd("EXISTS", *keys), 0)
            for k in keys:
                self.assertEqual(read_value(self.r, k), want[k], k)
            pttl = self.r.cmd("PTTL", "s:short")
            self.assertTrue(90000 < pttl <= 100000, pttl)
            # BUSYKEY comes back to it, REPLACE overwrites
            live.cmd("SET", "s:short", "again")
            self.assertError(live.cmd("MIGRATE", "127.0.0.1", str(self.port), "s:short", "0",
                                      "5000"),
                             TARGET_ERR + "BUSYKEY Target key name already exists.")
            self.assertOK(live.cmd("MIGRATE", "127.0.0.1", str(self.port), "s:short", "0",
                                   "5000", "REPLACE"))
            self.assertEqual(self.r.cmd("GET", "s:short"), b"again")
        finally:
            live.close()

    def test_restore_asking(self):
        live = Client(self.live.port)
        try:
            live.cmd("RPUSH", "l", "a", "b")
            payload = live.cmd("DUMP", "l")
        finally:
            live.close()
        self.assertOK(self.r.cmd("RESTORE-ASKING", "l", "0", payload))
        self.assertEqual(self.r.cmd("LRANGE", "l", "0", "-1"), [b"a", b"b"])
        self.assertError(self.r.cmd("RESTORE-ASKING", "l", "0", payload),
                         "BUSYKEY Target key name already exists.")
        self.assertOK(self.r.cmd("RESTORE-ASKING", "l", "0", payload, "REPLACE"))


class MigrateBlocksOnlyItsCore(unittest.TestCase):
    """While MIGRATE waits for a silent target, the other cores serve."""

    def test_other_cores_keep_serving(self):
        if reference_mode():
            self.skipTest("redis-server blocks as a whole during MIGRATE")
        srv = Server(shards=4).start()
        silent = SilentServer()
        clients = []
        try:
            a = Client(srv.port)
            clients.append(a)
            core_a = (a.cmd("CLIENT", "ID") - 1) % 4
            others = []
            for _ in range(40):
                c = Client(srv.port)
                clients.append(c)
                if (c.cmd("CLIENT", "ID") - 1) % 4 != core_a:
                    others.append(c)
                if len(others) == 3:
                    break
            self.assertTrue(others)
            a.cmd("SET", "k", "v")
            done = {}

            def run():
                done["reply"] = a.cmd("MIGRATE", "127.0.0.1", str(silent.port), "k", "0", "1500")

            th = threading.Thread(target=run)
            t0 = time.monotonic()
            th.start()
            time.sleep(0.2)
            for c in others:
                t1 = time.monotonic()
                self.assertEqual(c.cmd("PING"), Status("PONG"))
                self.assertEqual(c.cmd("ECHO", "x"), b"x")
                self.assertLess(time.monotonic() - t1, 0.5)
            th.join()
            self.assertGreater(time.monotonic() - t0, 1.3)
            self.assertEqual(done["reply"],
                             Error("IOERR error or timeout reading to target instance"))
            self.assertEqual(a.cmd("GET", "k"), b"v")
        finally:
            for c in clients:
                c.close()
            silent.close()
            srv.stop()
            srv.cleanup()


if __name__ == "__main__":
    unittest.main()
