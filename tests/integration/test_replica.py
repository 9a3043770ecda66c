"""The replica's side of replication: REPLICAOF / SLAVEOF, full sync (the
RDB from redis-server 7.0's diskless EOF form and from a shardis primary's
"$<len>" form), the stream applied (MULTI/EXEC, expiries as the primary's
DELs), READONLY, partial resync after the link is killed, a replica of a
replica, REPLICAOF NO ONE, CONFIG REWRITE, INFO replication and ROLE.

Each class starts its own servers (harness.Server: shardis, or redis-server
with SHARDIS_REFERENCE=redis; LiveRedisServer: always redis-server 7.0) and
stops them by their own process. The server under test is the replica.
"""

import os
import re
import sys
import tempfile
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import (Error, LiveRedisServer, Server, check_clean_exit,  # noqa: E402
                     shard_count)
from test_blocking_stress import nshards, owner  # noqa: E402

SYNC_TIMEOUT = 10.0


class RedisPrimary(LiveRedisServer):
    """redis-server 7.0 as the primary: diskless (its default) without the
    5 s delay, DEBUG allowed (SET-ACTIVE-EXPIRE)."""

    def command_line(self, port):
        return super().command_line(port) + ["--repl-diskless-sync-delay", "0",
                                             "--enable-debug-command", "yes"]


def quick_primary_args():
    # a redis-server primary in reference mode would wait 5 s before a sync
    return ["--repl-diskless-sync-delay", "0"]


def info(c, section="replication"):
    out = {}
    for line in c.cmd("INFO", section).decode().splitlines():
        if ":" in line and not line.startswith("#"):
            k, v = line.split(":", 1)
            out[k] = v
    return out


def stop_all(servers):
    """Stops each server (ours) and fails on a bad exit or a sanitizer
    report in its log."""
    bad = []
    for srv in servers:
        why = check_clean_exit(srv, srv.stop())
        if why:
            bad.append("%s\n%s" % (why, srv.log_text()[-4000:]))
        srv.cleanup()
    if bad:
        raise AssertionError("\n".join(bad))


def wait_for(pred, what, timeout=SYNC_TIMEOUT):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if pred():
            return
        time.sleep(0.02)
    raise AssertionError("timed out waiting for " + what)


def wait_synced(primary, replica, timeout=SYNC_TIMEOUT):
    """The link is up and the replica applied all the primary sent."""
    def done():
        r = info(replica)
        if r.get("master_link_status") != "up":
            return False
        return int(r["slave_repl_offset"]) >= int(info(primary)["master_repl_offset"])
    wait_for(done, "the replica to catch up", timeout)


def dump_db(c, db):
    """Every key of database db: type, content, and whether it has a TTL."""
    c.cmd("SELECT", db)
    out = {}
    for k in c.cmd("KEYS", "*"):
        t = str(c.cmd("TYPE", k))
        if t == "string":
            v = c.cmd("GET", k)
        elif t == "list":
            v = c.cmd("LRANGE", k, 0, -1)
        elif t == "hash":
            flat = c.cmd("HGETALL", k)
            v = sorted(zip(flat[::2], flat[1::2]))
        elif t == "set":
            v = sorted(c.cmd("SMEMBERS", k))
        elif t == "zset":
            v = c.cmd("ZRANGE", k, 0, -1, "WITHSCORES")
        elif t == "stream":
            v = c.cmd("XRANGE", k, "-", "+")
        else:
            v = None
        out[k] = (t, v, c.cmd("PTTL", k) > 0)
    c.cmd("SELECT", 0)
    return out


def dump_all(c, dbs=(0, 2)):
    return {db: dump_db(c, db) for db in dbs}


def fill(c, tag):
    """Every type, compact and large, a TTL, and a second database."""
    c.cmd("SET", tag + ":s", "hello")
    c.cmd("SET", tag + ":n", "12345")
    c.cmd("SET", tag + ":big", "x" * 3000)
    c.cmd("SET", tag + ":ttl", "v", "EX", "1000")
    c.cmd("RPUSH", tag + ":l", "a", "b", "c")
    c.cmd("RPUSH", tag + ":lbig", *["e%d" % i for i in range(600)])
    c.cmd("HSET", tag + ":h", "f1", "v1", "f2", "v2")
    c.cmd("HSET", tag + ":hbig", *sum((["f%d" % i, "v%d" % i] for i in range(300)), []))
    c.cmd("SADD", tag + ":si", "1", "2", "3")
    c.cmd("SADD", tag + ":sb", *["m%d" % i for i in range(300)])
    c.cmd("ZADD", tag + ":z", "1", "a", "2.5", "b")
    c.cmd("ZADD", tag + ":zbig", *sum(([str(i), "z%d" % i] for i in range(300)), []))
    c.cmd("XADD", tag + ":x", "1-1", "f", "v")
    c.cmd("XADD", tag + ":x", "2-1", "g", "w")
    c.cmd("SELECT", 2)
    c.cmd("SET", tag + ":db2", "two")
    c.cmd("LPUSH", tag + ":db2l", "x", "y")
    c.cmd("SELECT", 0)


def live_writes(c, tag):
    """Writes of every kind while the link is up."""
    c.cmd("SET", tag + ":s", "changed")
    c.cmd("INCR", tag + ":n")
    c.cmd("LPUSH", tag + ":l", "new")
    c.cmd("HSET", tag + ":h", "f3", "v3")
    c.cmd("SREM", tag + ":sb", "m1", "m2")
    c.cmd("ZINCRBY", tag + ":z", "10", "a")
    c.cmd("XADD", tag + ":x", "3-1", "h", "u")
    c.cmd("DEL", tag + ":big")
    c.cmd("EXPIRE", tag + ":l", "500")
    c.cmd("PERSIST", tag + ":ttl")
    c.cmd("SET", tag + ":px", "v", "PX", "900000")
    # one transaction over keys that land on different shards
    c.cmd("MULTI")
    for i in range(8):
        c.cmd("SET", "%s:tx%d" % (tag, i), str(i))
    c.cmd("HSET", tag + ":txh", "a", "1")
    c.cmd("EXEC")
    c.cmd("SELECT", 2)
    c.cmd("SET", tag + ":db2b", "also")
    c.cmd("DEL", tag + ":db2")
    c.cmd("SELECT", 0)
    # a pipeline
    for i in range(200):
        c.send_command("RPUSH", tag + ":pipe", str(i))
    c.read_replies(200)


class ReplicaOfRedis(unittest.TestCase):
    """The server under test replicates from redis-server 7.0 (diskless:
    the "$EOF:<mark>" form)."""

    @classmethod
    def setUpClass(cls):
        cls.primary = RedisPrimary().start()
        cls.replica = Server(shards=shard_count()).start()
        cls.p = cls.primary.client()
        cls.r = cls.replica.client()
        fill(cls.p, "k")
        assert cls.r.cmd("REPLICAOF", "127.0.0.1", cls.primary.port) == "OK"
        wait_synced(cls.p, cls.r)

    @classmethod
    def tearDownClass(cls):
        for c in (cls.p, cls.r):
            c.close()
        stop_all((cls.replica, cls.primary))

    def test_1_full_sync_then_live_writes(self):
        self.assertEqual(dump_all(self.r), dump_all(self.p))
        self.assertGreater(len(dump_db(self.r, 0)), 10)
        live_writes(self.p, "k")
        wait_synced(self.p, self.r)
        self.assertEqual(dump_all(self.r), dump_all(self.p))
        self.assertEqual(self.r.cmd("GET", "k:tx7"), b"7")
        self.assertEqual(self.r.cmd("LLEN", "k:pipe"), 200)

    def test_1b_offset_counts_what_ran(self):
        """The replica's offset (ROLE, INFO's slave_repl_offset, REPLCONF
        ACK: what WAIT counts) passes a command only once it ran. A
        transaction over two shards holds the master connection's next
        command until it ends; with a slow SORT ... STORE in it, the offset
        used to pass that next command (it moved when the stream was handed
        over) while the SORT still ran. Read with ROLE from a connection on
        a shard the SORT does not occupy (INFO would wait for every shard)."""
        def tag_on(shard):
            return next("{slow%d}" % j for j in range(1000)
                        if owner("{slow%d}" % j) == shard % nshards())
        src, dst = tag_on(1) + "src", tag_on(1) + "dst"
        other, flag = tag_on(2) + "x", tag_on(3) + "flag"
        watchers = []
        while True:
            w = self.replica.client()
            watchers.append(w)
            if nshards() == 1 or (w.cmd("CLIENT", "ID") - 1) % nshards() != owner(src):
                break
        n, chunk = 400000, 10000
        for i in range(0, n, chunk):
            self.p.cmd("RPUSH", src, *[str(n - j) for j in range(i, i + chunk)])
        wait_synced(self.p, self.r, timeout=60)
        for rnd in range(3):
            self.p.cmd("MULTI")
            self.p.cmd("SORT", src, "STORE", dst)
            self.p.cmd("SET", other, rnd)
            self.assertEqual(self.p.cmd("EXEC"), [n, "OK"])
            self.p.cmd("SET", flag, rnd)
            target = int(info(self.p)["master_repl_offset"])
            wait_for(lambda: watchers[-1].cmd("ROLE")[4] >= target,
                     "the replica's offset", timeout=60)
            self.assertEqual(watchers[-1].cmd("GET", flag), str(rnd).encode())
            self.assertEqual(self.r.cmd("LLEN", dst), n)
            self.assertEqual(self.r.cmd("LINDEX", dst, 0), b"1")
        for w in watchers:
            w.close()
        self.p.cmd("DEL", src, dst, other, flag)
        wait_synced(self.p, self.r, timeout=60)

    def test_2_readonly(self):
        self.assertEqual(self.r.cmd("SET", "k:s", "x"),
                         Error("READONLY You can't write against a read only replica."))
        self.assertEqual(self.r.cmd("LPUSH", "k:l", "x"),
                         Error("READONLY You can't write against a read only replica."))
        self.assertEqual(self.r.cmd("MULTI"), "OK")
        self.assertEqual(self.r.cmd("INCR", "k:n"),
                         Error("READONLY You can't write against a read only replica."))
        self.assertEqual(self.r.cmd("EXEC"),
                         Error("EXECABORT Transaction discarded because of previous errors."))
        self.assertEqual(self.r.cmd("GET", "k:s"), self.p.cmd("GET", "k:s"))

    def test_3_info_and_role(self):
        i = info(self.r)
        self.assertEqual(i["role"], "slave")
        self.assertEqual(i["master_host"], "127.0.0.1")
        self.assertEqual(i["master_port"], str(self.primary.port))
        self.assertEqual(i["master_link_status"], "up")
        self.assertEqual(i["master_sync_in_progress"], "0")
        self.assertEqual(i["slave_priority"], "100")
        self.assertEqual(i["slave_read_only"], "1")
        self.assertEqual(i["replica_announced"], "1")
        self.assertNotIn("master_link_down_since_seconds", i)
        self.assertIn("slave_read_repl_offset", i)
        self.assertEqual(i["master_replid"], info(self.p)["master_replid"])
        role = self.r.cmd("ROLE")
        self.assertEqual(role[:4], [b"slave", b"127.0.0.1", self.primary.port, b"connected"])
        self.assertIsInstance(role[4], int)
        self.assertGreater(role[4], 0)
        p = info(self.p)
        self.assertEqual(p["connected_slaves"], "1")
        self.assertIn("port=%d,state=online" % self.replica.port, p["slave0"])

    def test_4_replicaof_arguments(self):
        self.assertEqual(self.r.cmd("REPLICAOF", "127.0.0.1", self.primary.port),
                         "OK Already connected to specified master")
        self.assertEqual(self.r.cmd("SLAVEOF", "127.0.0.1", str(self.primary.port)),
                         "OK Already connected to specified master")
        for bad in ("abc", "70000", "-1", "1.5"):
            self.assertEqual(self.r.cmd("REPLICAOF", "127.0.0.1", bad),
                             Error("ERR Invalid master port"))
        self.assertEqual(
            self.r.cmd("REPLICAOF", "127.0.0.1"),
            Error("ERR wrong number of arguments for 'replicaof' command"))
        self.assertEqual(info(self.r)["master_link_status"], "up")

    def test_5_no_self_expiry(self):
        # the primary stops expiring: a replica must not expire keys itself
        self.assertEqual(self.p.cmd("DEBUG", "SET-ACTIVE-EXPIRE", "0"), "OK")
        try:
            self.p.cmd("SET", "k:short", "v", "PX", "50")
            wait_synced(self.p, self.r)
            before = self.r.cmd("DBSIZE")
            time.sleep(0.4)  # a few active expire cycles of the replica
            self.assertEqual(self.r.cmd("DBSIZE"), before)
        finally:
            self.p.cmd("DEBUG", "SET-ACTIVE-EXPIRE", "1")
        # the primary's own expiry reaches the replica as a DEL
        wait_for(lambda: self.r.cmd("DBSIZE") == before - 1, "the primary's expiry")
        self.assertEqual(self.r.cmd("EXISTS", "k:short"), 0)

    def test_6_partial_resync_after_link_kill(self):
        before = info(self.p, "stats")
        self.assertEqual(self.p.cmd("CLIENT", "KILL", "TYPE", "replica"), 1)
        self.p.cmd("SET", "k:after-kill", "1")
        self.p.cmd("RPUSH", "k:l", "after")
        wait_synced(self.p, self.r)
        after = info(self.p, "stats")
        self.assertEqual(int(after["sync_partial_ok"]), int(before["sync_partial_ok"]) + 1)
        self.assertEqual(after["sync_full"], before["sync_full"])
        self.assertEqual(self.r.cmd("GET", "k:after-kill"), b"1")
        self.assertEqual(dump_all(self.r), dump_all(self.p))
        # the replica drops its master client itself: partial again
        self.assertEqual(self.r.cmd("CLIENT", "KILL", "TYPE", "master"), 1)
        self.p.cmd("INCR", "k:after-kill")
        wait_synced(self.p, self.r)
        self.assertEqual(self.r.cmd("GET", "k:after-kill"), b"2")
        last = info(self.p, "stats")
        self.assertEqual(last["sync_full"], before["sync_full"])
        self.assertEqual(int(last["sync_partial_ok"]), int(before["sync_partial_ok"]) + 2)

    def test_7_no_one_keeps_data_and_writes(self):
        want = dump_all(self.p)
        self.assertEqual(self.r.cmd("REPLICAOF", "NO", "ONE"), "OK")
        self.assertEqual(self.r.cmd("REPLICAOF", "no", "one"), "OK")
        self.assertEqual(dump_all(self.r), want)
        self.assertEqual(self.r.cmd("SET", "k:mine", "1"), "OK")
        self.assertEqual(self.r.cmd("ROLE")[0], b"master")
        self.assertEqual(info(self.r)["role"], "master")
        # the primary's later writes no longer arrive
        self.p.cmd("SET", "k:late", "1")
        time.sleep(0.2)
        self.assertIsNone(self.r.cmd("GET", "k:late"))
        wait_for(lambda: info(self.p)["connected_slaves"] == "0", "the primary to see it go")


class ReplicaOfServer(unittest.TestCase):
    """Shardis (1 or 4 shards) replicating from a shardis (the other count)
    and a replica of that replica; in reference mode all redis-server."""

    @classmethod
    def setUpClass(cls):
        n = shard_count()
        cls.primary = Server(shards=4 if n == 1 else 1, args=quick_primary_args()).start()
        cls.replica = Server(shards=n, args=quick_primary_args()).start()
        cls.sub = Server(shards=1 if n == 1 else 4).start()
        cls.p = cls.primary.client()
        cls.r = cls.replica.client()
        cls.s = cls.sub.client()

    @classmethod
    def tearDownClass(cls):
        for c in (cls.p, cls.r, cls.s):
            c.close()
        stop_all((cls.sub, cls.replica, cls.primary))

    def test_chain_sync_stream_resync_promote(self):
        fill(self.p, "a")
        self.r.cmd("SET", "stale", "gone after the sync")
        self.assertEqual(self.r.cmd("REPLICAOF", "localhost", self.primary.port), "OK")
        wait_synced(self.p, self.r)
        self.assertEqual(dump_all(self.r), dump_all(self.p))
        self.assertIsNone(self.r.cmd("GET", "stale"))
        # a replica of the replica
        self.assertEqual(self.s.cmd("SLAVEOF", "127.0.0.1", self.replica.port), "OK")
        wait_synced(self.r, self.s)
        live_writes(self.p, "a")
        wait_synced(self.p, self.r)
        wait_synced(self.r, self.s)
        want = dump_all(self.p)
        self.assertEqual(dump_all(self.r), want)
        self.assertEqual(dump_all(self.s), want)
        self.assertEqual(info(self.s)["master_replid"], info(self.p)["master_replid"])
        # the primary drops its replica: it continues partially
        before = info(self.p, "stats")
        self.assertEqual(self.p.cmd("CLIENT", "KILL", "TYPE", "replica"), 1)
        self.p.cmd("HSET", "a:h", "after", "kill")
        wait_synced(self.p, self.r)
        wait_synced(self.r, self.s)
        after = info(self.p, "stats")
        self.assertEqual(after["sync_full"], before["sync_full"])
        self.assertEqual(int(after["sync_partial_ok"]), int(before["sync_partial_ok"]) + 1)
        self.assertEqual(self.s.cmd("HGET", "a:h", "after"), b"kill")
        # the middle one is promoted: its replica keeps following it
        self.assertEqual(self.r.cmd("REPLICAOF", "NO", "ONE"), "OK")
        self.assertEqual(self.r.cmd("SET", "a:promoted", "yes"), "OK")
        wait_for(lambda: self.s.cmd("GET", "a:promoted") == b"yes", "the sub-replica")
        self.assertEqual(dump_all(self.s), dump_all(self.r))
        self.assertEqual(self.s.cmd("SET", "x", "1"),
                         Error("READONLY You can't write against a read only replica."))


class ReplicaConfig(unittest.TestCase):
    """`replicaof` in the configuration at start, CONFIG REWRITE while a
    replica and after REPLICAOF NO ONE (inside MULTI, as Sentinel sends it)."""

    @classmethod
    def setUpClass(cls):
        cls.primary = Server(shards=shard_count(), args=quick_primary_args()).start()
        cls.p = cls.primary.client()
        cls.p.cmd("SET", "from", "primary")
        fd, cls.conf = tempfile.mkstemp(prefix="shardis-replica-", suffix=".conf")
        with os.fdopen(fd, "w") as f:
            f.write("# replica test\nreplicaof 127.0.0.1 %d\n" % cls.primary.port)
        cls.replica = Server(shards=shard_count(), config_file=cls.conf).start()
        cls.r = cls.replica.client()

    @classmethod
    def tearDownClass(cls):
        for c in (cls.p, cls.r):
            c.close()
        os.unlink(cls.conf)
        stop_all((cls.replica, cls.primary))

    def conf_lines(self):
        with open(self.conf) as f:
            return [line.strip() for line in f]

    def test_config_replicaof_and_rewrite(self):
        wait_synced(self.p, self.r)
        self.assertEqual(self.r.cmd("GET", "from"), b"primary")
        self.assertEqual(self.r.cmd("CONFIG", "GET", "replicaof"),
                         [b"replicaof", b"127.0.0.1 %d" % self.primary.port])
        self.assertEqual(self.r.cmd("CONFIG", "REWRITE"), "OK")
        self.assertIn("replicaof 127.0.0.1 %d" % self.primary.port, self.conf_lines())
        # Sentinel's promotion
        self.assertEqual(self.r.cmd("MULTI"), "OK")
        self.assertEqual(self.r.cmd("REPLICAOF", "NO", "ONE"), "QUEUED")
        self.assertEqual(self.r.cmd("CONFIG", "REWRITE"), "QUEUED")
        self.assertEqual(self.r.cmd("EXEC"), ["OK", "OK"])
        self.assertFalse([l for l in self.conf_lines() if re.match(r"^replicaof \S+ \d+", l)],
                         self.conf_lines())
        self.assertEqual(self.r.cmd("CONFIG", "GET", "replicaof"), [b"replicaof", b""])
        self.assertEqual(self.r.cmd("SET", "w", "1"), "OK")
        # and back, to another primary (the same one, by another name)
        self.assertEqual(self.r.cmd("REPLICAOF", "localhost", self.primary.port), "OK")
        wait_synced(self.p, self.r)
        self.assertIsNone(self.r.cmd("GET", "w"))
        self.assertEqual(self.r.cmd("CONFIG", "REWRITE"), "OK")
        self.assertIn("replicaof localhost %d" % self.primary.port, self.conf_lines())

    def test_link_down_info(self):
        other = Server(shards=1).start()
        try:
            c = other.client()
            c.cmd("REPLICAOF", "127.0.0.1", 1)  # nobody listens there
            i = info(c)
            self.assertEqual(i["master_link_status"], "down")
            self.assertEqual(i["master_link_down_since_seconds"], "-1")
            self.assertEqual(i["master_last_io_seconds_ago"], "-1")
            role = c.cmd("ROLE")
            self.assertEqual(role[:3], [b"slave", b"127.0.0.1", 1])
            self.assertIn(role[3], (b"connect", b"connecting"))
            self.assertEqual(role[4], -1)
            self.assertEqual(c.cmd("REPLICAOF", "NO", "ONE"), "OK")
            self.assertEqual(info(c)["role"], "master")
            c.close()
        finally:
            stop_all((other,))

    def test_stale_data_refused_while_the_link_is_down(self):
        other = Server(shards=shard_count()).start()
        try:
            c = other.client()
            self.assertEqual(c.cmd("SET", "k", "v"), "OK")
            c.cmd("CONFIG", "SET", "replica-serve-stale-data", "no")
            c.cmd("REPLICAOF", "127.0.0.1", 1)  # nobody listens there
            masterdown = Error("MASTERDOWN Link with MASTER is down and "
                               "replica-serve-stale-data is set to 'no'.")
            wait_for(lambda: c.cmd("GET", "k") == masterdown, "MASTERDOWN for GET")
            self.assertEqual(c.cmd("DBSIZE"), masterdown)
            self.assertEqual(c.cmd("PING"), masterdown)  # as Redis 7.0: not "stale"
            # commands flagged "stale" still run
            self.assertEqual(info(c)["master_link_status"], "down")
            # serving stale data again: the old value
            c.cmd("CONFIG", "SET", "replica-serve-stale-data", "yes")
            wait_for(lambda: c.cmd("GET", "k") == b"v", "GET served again")
            self.assertEqual(c.cmd("SET", "k", "w"),
                             Error("READONLY You can't write against a read only replica."))
            self.assertEqual(c.cmd("REPLICAOF", "NO", "ONE"), "OK")
            self.assertEqual(c.cmd("SET", "k", "w"), "OK")
            c.close()
        finally:
            stop_all((other,))


if __name__ == "__main__":
    unittest.main()
