"""Replication, the primary's side: the server under test is the PRIMARY and
Debian's redis-server 7.0 runs as its replica(s) (issue 16).

Each test class starts the primary through the harness; the replicas are
redis-server processes started here (--replicaof the primary, on free
loopback ports, in directories of their own) and stopped by PID in
tearDown. Data is compared type by type (TYPE, then LRANGE / HGETALL /
SMEMBERS / ZRANGE WITHSCORES / XRANGE, XINFO GROUPS, PTTL within a
tolerance), never with DUMP payloads or DEBUG DIGEST-VALUE, whose encodings
differ between servers.

In reference mode (SHARDIS_REFERENCE=redis) the primary is redis-server
too, and every test passes against it: none looks at shardis-only things.
A replica's log is checked for the stream's commands it rejected ("This
replica is sending an error to its master"). The primary runs with
repl-diskless-sync no: shardis sends the snapshot as "$<len>\\r\\n<bytes>",
and so does redis-server then.
"""

import os
import random
import re
import socket
import sys
import threading
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import (ConnectionClosed, Error, Incomplete, LiveRedisServer,  # noqa: E402
                     ServerTestCase, Status, encode_command, live_redis_binary, parse_reply)

SYNC_TIMEOUT = 15.0
PTTL_TOLERANCE_MS = 2000
NOREPLICAS = "NOREPLICAS Not enough good replicas to write."
PRIMARY_ARGS = ("--repl-diskless-sync", "no")


# --------------------------------------------------------------------------
# helpers shared with tests/interop/test_sentinel.py and bench/load/repl.py
# --------------------------------------------------------------------------

class RedisReplica(LiveRedisServer):
    """A redis-server replica of 127.0.0.1:<primary_port>, logging to the
    harness's log file (log_text() is its log)."""

    def __init__(self, primary_port, args=()):
        super().__init__(args=args)
        self.primary_port = primary_port

    def command_line(self, port):
        return super().command_line(port) + [
            "--dir", self.dir, "--replicaof", "127.0.0.1", str(self.primary_port),
            "--loglevel", "verbose", "--enable-debug-command", "local"] + self.extra_args

    def _wait_ready(self):
        # a replica answers PING (or -LOADING / -MASTERDOWN) once it listens
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError("replica exited with %s" % self.proc.returncode)
            try:
                with self.client(timeout=1.0) as c:
                    c.cmd("PING")
                    return
            except (OSError, ConnectionClosed):
                time.sleep(0.02)
        raise RuntimeError("replica did not listen")


def info_fields(c, section="replication"):
    text = c.cmd("INFO", section)
    out = {}
    for line in text.decode().splitlines():
        if ":" in line and not line.startswith("#"):
            k, v = line.split(":", 1)
            out[k] = v
    return out


def pipeline(c, commands):
    """Sends every command, then reads as many replies (in order)."""
    if not commands:
        return []
    c.send(b"".join(encode_command(*cmd) for cmd in commands))
    return c.read_replies(len(commands))


def scan_keys(c):
    keys, cursor = [], b"0"
    while True:
        cursor, batch = c.cmd("SCAN", cursor, "COUNT", 1000)
        keys += batch
        if cursor == b"0":
            return keys


def _content_commands(key, typ):
    if typ == "string":
        return [("GET", key)]
    if typ == "list":
        return [("LRANGE", key, 0, -1)]
    if typ == "hash":
        return [("HGETALL", key)]
    if typ == "set":
        return [("SMEMBERS", key)]
    if typ == "zset":
        return [("ZRANGE", key, 0, -1, "WITHSCORES")]
    if typ == "stream":
        return [("XRANGE", key, "-", "+"), ("XINFO", "GROUPS", key), ("XINFO", "STREAM", key)]
    return []


def _normalize(typ, replies):
    if typ == "hash":
        flat = replies[0]
        return sorted((flat[i], flat[i + 1]) for i in range(0, len(flat), 2))
    if typ == "set":
        return sorted(replies[0])
    if typ == "zset":
        flat = replies[0]
        return [(flat[i], float(flat[i + 1])) for i in range(0, len(flat), 2)]
    if typ == "stream":
        entries, groups, info = replies
        groups = [dict(zip(g[::2], g[1::2])) for g in groups]
        groups = sorted((g[b"name"], g[b"pending"], g[b"last-delivered-id"]) for g in groups)
        info = dict(zip(info[::2], info[1::2]))
        return (entries, groups, info[b"length"], info[b"last-generated-id"])
    return replies[0]


def dataset(c, dbs=range(16)):
    """{db: {key: (type, content, pttl)}} of every non-empty database, read
    with pipelined commands; pttl is -1 (none) or the milliseconds left."""
    out = {}
    for db in dbs:
        c.cmd("SELECT", db)
        keys = scan_keys(c)
        if not keys:
            continue
        types = [t for t in pipeline(c, [("TYPE", k) for k in keys])]
        types = [str(t) for t in types]
        cmds, spans = [], []
        for k, t in zip(keys, types):
            cc = _content_commands(k, t) + [("PTTL", k)]
            spans.append((len(cmds), len(cc)))
            cmds += cc
        replies = []
        for i in range(0, len(cmds), 5000):
            replies += pipeline(c, cmds[i:i + 5000])
        keyspace = {}
        for k, t, (at, n) in zip(keys, types, spans):
            r = replies[at:at + n]
            keyspace[k] = (t, _normalize(t, r[:-1]), r[-1])
        out[db] = keyspace
    c.cmd("SELECT", 0)
    return out


def dataset_diff(a, b, tolerance_ms=PTTL_TOLERANCE_MS):
    """A description of the first differences between two datasets, or
    None when they are equal (PTTLs within tolerance_ms)."""
    diffs = []
    for db in sorted(set(a) | set(b)):
        ka, kb = a.get(db, {}), b.get(db, {})
        for k in sorted(set(ka) | set(kb)):
            va, vb = ka.get(k), kb.get(k)
            if va is None or vb is None:
                diffs.append("db%d %r only on %s" % (db, k, "primary" if vb is None else "replica"))
            elif va[:2] != vb[:2]:
                diffs.append("db%d %r: %r != %r" % (db, k, va[:2], vb[:2]))
            elif (va[2] < 0 or vb[2] < 0) and va[2] != vb[2]:
                diffs.append("db%d %r pttl %r != %r" % (db, k, va[2], vb[2]))
            elif abs(va[2] - vb[2]) > tolerance_ms:
                diffs.append("db%d %r pttl %r != %r" % (db, k, va[2], vb[2]))
            if len(diffs) >= 10:
                return "; ".join(diffs)
    return "; ".join(diffs) or None


def wait_in_sync(primary, replica, timeout=SYNC_TIMEOUT):
    """Waits until the replica's link is up and it has processed the
    primary's stream up to the primary's offset read now. Returns the
    replica's replication fields; raises AssertionError on timeout."""
    target = int(info_fields(primary)["master_repl_offset"])
    deadline = time.monotonic() + timeout
    f = {}
    while time.monotonic() < deadline:
        f = info_fields(replica)
        if f.get("master_link_status") == "up" and int(f.get("slave_repl_offset", -1)) >= target:
            return f
        time.sleep(0.01)
    raise AssertionError("replica not in sync within %.0f s (primary offset %d): %r"
                         % (timeout, target, f))


class ReplTestCase(ServerTestCase):
    """The primary (the server under test) and the replicas a test starts."""

    server_args = PRIMARY_ARGS

    @classmethod
    def setUpClass(cls):
        if not os.access(live_redis_binary(), os.X_OK):
            raise unittest.SkipTest("%s not found" % live_redis_binary())
        super().setUpClass()

    def setUp(self):
        super().setUp()
        self.replicas = []
        self.r.cmd("CONFIG", "SET", "min-replicas-to-write", "0")

    def tearDown(self):
        failed = self._test_failed()
        for rep in self.replicas:
            try:
                rep.stop()
            finally:
                if failed:
                    sys.stderr.write("\n----- replica log (port %s) -----\n%s\n"
                                     % (rep.port, rep.log_text()[-6000:]))
                rep.cleanup()
        super().tearDown()

    def start_replica(self, args=(), wait=True):
        rep = RedisReplica(self.port, args=args).start()
        self.replicas.append(rep)
        rc = self.replica_client(rep)
        if wait:
            wait_in_sync(self.r, rc)
        return rep, rc

    def replica_client(self, rep):
        c = rep.client()
        self._clients.append(c)
        return c

    def assertInSync(self, rc, dbs=range(16)):
        wait_in_sync(self.r, rc)
        p = dataset(self.r, dbs)
        q = dataset(rc, dbs)
        self.assertIsNone(dataset_diff(p, q))
        self.assertNoStreamErrors()
        return p

    def assertNoStreamErrors(self):
        """A command of the stream that failed on a replica (Redis logs
        each, and says which)."""
        for rep in self.replicas:
            errs = [line for line in rep.log_text().splitlines()
                    if "sending an error to its master" in line]
            self.assertEqual(errs, [], "the replica on port %d rejected commands of the stream"
                             % rep.port)

    def wait_replicas_online(self, n, timeout=SYNC_TIMEOUT):
        def ok():
            f = info_fields(self.r)
            return (int(f.get("connected_slaves", 0)) == n
                    and all("state=online" in f.get("slave%d" % i, "") for i in range(n)))
        self.wait_until(ok, timeout=timeout,
                        msg="primary does not show %d online replicas: %r"
                        % (n, info_fields(self.r)))


def fill_every_type(c, tag=""):
    """Keys of every type and encoding in dbs 0, 3 and 9, some with TTLs."""
    t = tag
    cmds = [
        ("SELECT", 0),
        ("SET", t + "str", "hello"),
        ("SET", t + "int", 12345),
        ("SET", t + "bin", bytes(range(256)) + b"\r\n*1\r\n"),
        ("SET", t + "big", "x" * 100000),
        ("SET", t + "ttl:str", "v", "EX", 1000),
        ("RPUSH", t + "list", "a", "b", "c", 1, 2, 3),
        ("RPUSH", t + "list:big", *["e%d" % i for i in range(300)]),
        ("RPUSH", t + "ttl:list", "x"),
        ("PEXPIRE", t + "ttl:list", 500000),
        ("HSET", t + "hash", "f1", "v1", "f2", 2, "f3", "3.5"),
        ("HSET", t + "hash:big", *[x for i in range(600) for x in ("f%d" % i, "v%d" % i)]),
        ("SADD", t + "set:int", 1, 2, 3, 100, -5),
        ("SADD", t + "set", "a", "b", "c"),
        ("SADD", t + "set:big", *["m%d" % i for i in range(700)]),
        ("EXPIRE", t + "set", 2000),
        ("ZADD", t + "zset", 1, "one", 2.5, "two", -3, "neg", "inf", "top"),
        ("ZADD", t + "zset:big", *[x for i in range(300) for x in (i * 1.5, "z%d" % i)]),
        ("XADD", t + "stream", "1-1", "a", "1"),
        ("XADD", t + "stream", "2-0", "b", "2", "c", "3"),
        ("XADD", t + "stream", "5-7", "d", "4"),
        ("XGROUP", "CREATE", t + "stream", "g1", "0"),
        ("XREADGROUP", "GROUP", "g1", "alice", "COUNT", 2, "STREAMS", t + "stream", ">"),
        ("XGROUP", "CREATE", t + "stream", "g2", "$"),
        ("SELECT", 3),
        ("SET", t + "db3:str", "three"),
        ("HSET", t + "db3:hash", "a", "b"),
        ("ZADD", t + "db3:zset", 7, "seven"),
        ("SELECT", 9),
        ("RPUSH", t + "db9:list", "nine"),
        ("SET", t + "db9:ttl", "v", "PX", 900000),
        ("SELECT", 0),
    ]
    for cmd, reply in zip(cmds, pipeline(c, cmds)):
        if isinstance(reply, Error):
            raise AssertionError("%r -> %r" % (cmd, reply))


# --------------------------------------------------------------------------
# the raw replica: REPLCONF, PSYNC, the snapshot, then commands
# --------------------------------------------------------------------------

class RawReplica:
    """A fake replica on a socket: reads the snapshot and the commands the
    primary streams, as lists of bytes."""

    def __init__(self, port, timeout=10.0):
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=timeout)
        self.buf = bytearray()
        self.timeout = timeout

    def close(self):
        self.sock.close()

    def _fill(self, deadline):
        left = deadline - time.monotonic()
        if left <= 0:
            raise socket.timeout("raw replica: nothing within %.1f s" % self.timeout)
        self.sock.settimeout(left)
        chunk = self.sock.recv(1 << 16)
        if not chunk:
            raise ConnectionClosed("primary closed the replication link")
        self.buf += chunk

    def reply(self):
        deadline = time.monotonic() + self.timeout
        while True:
            try:
                v, pos = parse_reply(self.buf, 0)
                del self.buf[:pos]
                return v
            except Incomplete:
                self._fill(deadline)

    def cmd(self, *args):
        self.sock.sendall(encode_command(*args))
        return self.reply()

    def line(self):
        deadline = time.monotonic() + self.timeout
        while b"\n" not in self.buf:
            self._fill(deadline)
        i = self.buf.index(b"\n")
        out = bytes(self.buf[:i + 1])
        del self.buf[:i + 1]
        return out

    def psync(self, replid="?", offset=-1):
        """REPLCONF, PSYNC: returns the +FULLRESYNC/+CONTINUE line; after a
        full resync the snapshot's bytes are in self.rdb."""
        assert self.cmd("REPLCONF", "listening-port", "1") == "OK"
        assert self.cmd("REPLCONF", "capa", "eof", "capa", "psync2") == "OK"
        self.sock.sendall(encode_command("PSYNC", replid, offset))
        while True:
            first = self.line()
            if first.strip():  # newlines are keepalives while the snapshot is made
                break
        first = first.rstrip(b"\r\n").decode()
        if first.startswith("+FULLRESYNC"):
            self.rdb = self._read_rdb()
        return first

    def _read_rdb(self):
        deadline = time.monotonic() + 30
        while True:
            head = self.line()
            if head.strip():
                break
        head = head.rstrip(b"\r\n")
        if head.startswith(b"$EOF:"):
            mark = head[5:]
            while mark not in self.buf:
                self._fill(deadline)
            i = self.buf.index(mark)
            rdb = bytes(self.buf[:i])
            del self.buf[:i + len(mark)]
            return rdb
        n = int(head[1:])
        while len(self.buf) < n:
            self._fill(deadline)
        rdb = bytes(self.buf[:n])
        del self.buf[:n]
        return rdb

    def commands_until(self, pred, timeout=10.0):
        """Commands read (lists of bytes, PINGs included) up to and including
        the first for which pred is true."""
        out = []
        deadline = time.monotonic() + timeout
        while True:
            try:
                v, pos = parse_reply(self.buf, 0)
                del self.buf[:pos]
                out.append(v)
                if pred(v):
                    return out
            except Incomplete:
                self._fill(deadline)


def upper(cmd):
    return [cmd[0].upper()] + list(cmd[1:])


# --------------------------------------------------------------------------
# tests
# --------------------------------------------------------------------------

class TestFullSync(ReplTestCase):

    def test_every_type_in_several_dbs_arrives_identical(self):
        fill_every_type(self.r)
        _rep, rc = self.start_replica()
        data = self.assertInSync(rc)
        self.assertEqual(sorted(data), [0, 3, 9])
        self.assertEqual(len(data[0]), 16)
        # spot checks, so that an empty compare cannot pass
        self.assertEqual(rc.cmd("GET", "bin"), bytes(range(256)) + b"\r\n*1\r\n")
        self.assertEqual(rc.cmd("XINFO", "GROUPS", "stream")[0][5], 2)  # g1 pending
        self.assertGreater(rc.cmd("PTTL", "ttl:list"), 490000)
        rc.cmd("SELECT", 9)
        self.assertGreater(rc.cmd("PTTL", "db9:ttl"), 890000)

    def test_debug_digest_equal_after_sync_and_stream(self):
        # DEBUG DIGEST hashes every key, value and expiry time: equal on
        # the primary and its redis-server replica after the snapshot and
        # after the stream (the TTLs travel as absolute times)
        fill_every_type(self.r)
        _rep, rc = self.start_replica()
        self.assertInSync(rc)
        self.assertEqual(self.r.cmd("DEBUG", "DIGEST"), rc.cmd("DEBUG", "DIGEST"))
        fill_every_type(self.r, tag="2")
        self.r.cmd("SET", "ttl:later", "v", "EX", "1000")
        self.r.cmd("ZINCRBY", "digest:z", "1.5", "m")
        self.assertInSync(rc)
        digest = self.r.cmd("DEBUG", "DIGEST")
        self.assertNotEqual(digest, "0" * 40)
        self.assertEqual(digest, rc.cmd("DEBUG", "DIGEST"))

    def test_empty_primary_gives_empty_replica(self):
        _rep, rc = self.start_replica()
        self.assertEqual(rc.cmd("DBSIZE"), 0)
        self.assertEqual(info_fields(rc)["master_link_status"], "up")

    def test_replica_with_stale_data_is_flushed_by_the_full_sync(self):
        self.r.cmd("SET", "fresh", "1")
        rep, rc = self.start_replica()
        # the same replica, restarted as a primary with data of its own,
        # then pointed at the primary again
        self.assertOK(rc.cmd("REPLICAOF", "NO", "ONE"))
        rc.cmd("SET", "stale", "x")
        rc.cmd("SELECT", 4)
        rc.cmd("SET", "stale4", "x")
        rc.cmd("SELECT", 0)
        # its history now differs from the primary's: a full sync, which flushes
        self.assertOK(rc.cmd("REPLICAOF", "127.0.0.1", self.port))
        self.wait_until(lambda: rc.cmd("EXISTS", "stale") == 0, timeout=SYNC_TIMEOUT)
        self.assertInSync(rc)
        self.assertEqual(rc.cmd("GET", "fresh"), b"1")

    def test_sync_command_streams_a_snapshot_and_commands(self):
        # the old SYNC: no +FULLRESYNC line, the snapshot and the stream
        self.r.cmd("SET", "before", "1")
        raw = RawReplica(self.port)
        try:
            raw.sock.sendall(encode_command("SYNC"))
            rdb = raw._read_rdb()
            self.assertTrue(rdb.startswith(b"REDIS"), rdb[:16])
            self.assertIn(b"before", rdb)
            self.r.cmd("SET", "after", "2")
            got = raw.commands_until(lambda v: upper(v)[0] == b"SET")
            self.assertEqual(upper(got[-1]), [b"SET", b"after", b"2"])
        finally:
            raw.close()


class TestDisklessSync(ReplTestCase):
    """repl-diskless-sync yes (Redis's default): the snapshot goes to the
    replicas' sockets as "$EOF:<mark>" ... <mark>, no file on the primary,
    and the stream starts once the replica acknowledged the load."""

    server_args = ("--repl-diskless-sync", "yes", "--repl-diskless-sync-delay", "0")

    def test_every_type_arrives_without_a_file(self):
        fill_every_type(self.r)
        for i in range(2000):  # several chunks per shard
            self.r.cmd("SET", "bulk:%d" % i, "x" * 50)
        rep, rc = self.start_replica()
        data = self.assertInSync(rc)
        self.assertEqual(len(data[0]), 2016)
        self.assertIn("receiving streamed RDB from master with EOF", rep.log_text())
        self.assertEqual(self.r.cmd("DEBUG", "DIGEST"), rc.cmd("DEBUG", "DIGEST"))
        # the stream follows the snapshot
        fill_every_type(self.r, tag="after:")
        self.assertInSync(rc)
        self.assertEqual(self.r.cmd("DEBUG", "DIGEST"), rc.cmd("DEBUG", "DIGEST"))
        if self.server is not None and getattr(self.server, "dir", None):
            self.assertEqual([f for f in os.listdir(self.server.dir) if f.endswith(".rdb")], [])

    def test_a_snapshot_bigger_than_what_may_wait_unsent(self):
        # 48 MB of values: past the 32 MB a diskless sync lets wait unsent,
        # so the shards' walk pauses for the sockets and resumes
        value = "v" * 400
        for b in range(12):
            pipeline(self.r, [("SET", "big:%d" % i, value)
                              for i in range(b * 10000, (b + 1) * 10000)])
        rep, rc = self.start_replica()
        wait_in_sync(self.r, rc)
        self.assertEqual(rc.cmd("DBSIZE"), 120000)
        # a digest of 48 MB takes about 1 s, 7 s or more in a TSan build
        with self.client(timeout=120) as p, rep.client(timeout=120) as q:
            self.assertEqual(p.cmd("DEBUG", "DIGEST"), q.cmd("DEBUG", "DIGEST"))

    def test_two_replicas_share_one_diskless_sync(self):
        fill_every_type(self.r)
        _r1, c1 = self.start_replica(wait=False)
        _r2, c2 = self.start_replica(wait=False)
        for c in (c1, c2):
            self.assertInSync(c)


class TestStream(ReplTestCase):
    """Writes after the sync reach the replica."""

    def setUp(self):
        super().setUp()
        self.rep, self.rc = self.start_replica()

    def run_commands(self, cmds):
        for cmd in cmds:
            reply = self.r.cmd(*cmd)
            self.assertNotIsInstance(reply, Error, "%r -> %r" % (cmd, reply))

    def test_every_type_written_after_the_sync(self):
        fill_every_type(self.r, tag="live:")
        self.run_commands([
            ("APPEND", "live:str", " world"), ("INCRBY", "live:int", 5),
            ("INCRBYFLOAT", "ctr:f", "1.25"), ("SETRANGE", "live:str", 1, "EL"),
            ("SETEX", "sx", 100, "v"), ("GETDEL", "live:big"), ("MSET", "m1", 1, "m2", 2, "m3", 3),
            ("LPUSH", "live:list", "front"), ("RPOP", "live:list"), ("LSET", "live:list", 1, "B"),
            ("LMOVE", "live:list", "moved", "LEFT", "RIGHT"), ("LTRIM", "live:list:big", 10, 200),
            ("LINSERT", "live:list", "BEFORE", "c", "bc"), ("LREM", "live:list:big", 0, "e50"),
            ("HDEL", "live:hash", "f1"), ("HINCRBY", "live:hash", "f2", 10),
            ("HINCRBYFLOAT", "live:hash", "f3", "0.25"), ("HSETNX", "live:hash", "n", "1"),
            ("SREM", "live:set:int", 100), ("SMOVE", "live:set", "smoved", "a"),
            ("SINTERSTORE", "sinter", "live:set:int", "live:set:int"),
            ("ZINCRBY", "live:zset", 10, "one"), ("ZREM", "live:zset", "neg"),
            ("ZPOPMIN", "live:zset:big", 3), ("ZREMRANGEBYSCORE", "live:zset:big", 100, 200),
            ("ZUNIONSTORE", "zu", 2, "live:zset", "live:zset:big"),
            ("XADD", "live:stream", "6-0", "e", "5"), ("XDEL", "live:stream", "1-1"),
            ("XACK", "live:stream", "g1", "1-1"),
            ("XREADGROUP", "GROUP", "g2", "bob", "STREAMS", "live:stream", ">"),
            ("XCLAIM", "live:stream", "g1", "carol", 0, "2-0"),
            ("XTRIM", "live:stream", "MAXLEN", 3),
            ("XGROUP", "SETID", "live:stream", "g1", "5-7"),
            ("PFADD", "hll", "a", "b", "c"), ("SETBIT", "bits", 100, 1),
            ("GEOADD", "geo", 13.361389, 38.115556, "Palermo"),
            ("SET", "huge", os.urandom(3 << 20)), ("APPEND", "huge", "tail"),
            ("DEL", "live:hash:big"), ("UNLINK", "live:set:big"),
            ("RENAME", "live:zset", "renamed"), ("COPY", "live:list", "copied"),
        ])
        data = self.assertInSync(self.rc)
        self.assertEqual(data[0][b"copied"][0], "list")
        self.assertNotIn(b"live:big", data[0])
        self.assertEqual(self.rc.cmd("XLEN", "live:stream"), 3)

    def test_selected_dbs_flushdb_move_and_swapdb(self):
        c = self.r
        self.run_commands([("SELECT", 5), ("SET", "a5", 1), ("RPUSH", "l5", "x"),
                           ("SELECT", 6), ("SET", "a6", 1), ("SET", "gone", 1),
                           ("SELECT", 7), ("SET", "a7", 1), ("MOVE", "a7", 8),
                           ("SELECT", 6), ("FLUSHDB",), ("SET", "after6", 2),
                           ("SELECT", 0), ("SET", "a0", 0),
                           ("COPY", "a0", "copied", "DB", 11)])
        # a transaction over several shards in a database of its own (not
        # pipelined: see TestPipelinedSelect)
        self.run_commands([("SELECT", 12), ("MULTI",)] + [("SET", "tx:%d" % i, i) for i in range(8)]
                          + [("EXEC",), ("SELECT", 0)])
        data = self.assertInSync(self.rc)
        self.assertEqual(sorted(data), [0, 5, 6, 8, 11, 12])
        self.assertEqual(len(data[12]), 8)
        self.assertEqual(sorted(data[6]), [b"after6"])
        c.cmd("SELECT", 0)

    def test_swapdb_reaches_the_replica_once(self):
        self.run_commands([("SET", "a0", 0), ("SELECT", 5), ("SET", "a5", 5), ("SELECT", 0),
                           ("SWAPDB", 0, 5), ("SELECT", 2), ("SET", "a2", 2), ("SWAPDB", 2, 3)])
        self.r.cmd("SELECT", 0)
        data = self.assertInSync(self.rc)
        self.assertEqual({db: sorted(keys) for db, keys in data.items()},
                         {0: [b"a5"], 3: [b"a2"], 5: [b"a0"]})

    def test_functions_reach_the_replica_once(self):
        lib = ("#!lua name=lib1\nredis.register_function('f1', function(keys, args) "
               "return redis.call('SET', keys[1], args[1]) end)")
        self.assertEqual(self.r.cmd("FUNCTION", "LOAD", lib), b"lib1")
        self.assertOK(self.r.cmd("FCALL", "f1", 1, "fk", "fv"))
        wait_in_sync(self.r, self.rc)
        self.assertEqual(self.rc.cmd("FUNCTION", "LIST")[0][1], b"lib1")
        self.assertEqual(self.rc.cmd("GET", "fk"), b"fv")
        self.assertOK(self.r.cmd("FUNCTION", "DELETE", "lib1"))
        self.r.cmd("SET", "after", 1)
        self.assertInSync(self.rc)
        self.assertEqual(self.rc.cmd("FUNCTION", "LIST"), [])

    def test_flushall_reaches_the_replica(self):
        fill_every_type(self.r)
        wait_in_sync(self.r, self.rc)
        self.assertGreater(self.rc.cmd("DBSIZE"), 0)
        self.assertOK(self.r.cmd("FLUSHALL"))
        self.r.cmd("SET", "only", 1)
        data = self.assertInSync(self.rc)
        self.assertEqual(list(data), [0])
        self.assertEqual(list(data[0]), [b"only"])

    def test_random_commands_are_replicated_deterministically(self):
        self.r.cmd("SADD", "s", *range(200))
        self.r.cmd("SADD", "s2", *range(50))
        for _ in range(20):
            self.r.cmd("SPOP", "s")
        self.r.cmd("SPOP", "s", 7)
        self.r.cmd("SPOP", "s2", 100)  # all of it: the key goes
        self.r.cmd("ZADD", "z", *[x for i in range(50) for x in (i, "m%d" % i)])
        self.r.cmd("ZRANDMEMBER", "z", 3)
        ids = [self.r.cmd("XADD", "x", "*", "i", i) for i in range(20)]
        self.r.cmd("XADD", "x", "MAXLEN", "~", 5, "*", "i", "last")
        self.r.cmd("XADD", "x2", "1-*", "a", 1)
        self.r.cmd("XADD", "x2", "1-*", "a", 2)
        self.r.cmd("EVAL", "redis.call('SET', 'ev', math.random(1000000)) "
                   "return redis.call('SPOP', KEYS[1])", 1, "s")
        self.r.cmd("RESTORE", "restored", 0, self.r.cmd("DUMP", "z"))
        data = self.assertInSync(self.rc)
        self.assertNotIn(b"s2", data[0])
        self.assertEqual(self.rc.cmd("SCARD", "s"), 172)
        self.assertEqual(self.rc.cmd("XRANGE", "x", ids[-1], ids[-1])[0][0], ids[-1])
        self.assertEqual(self.rc.cmd("XLEN", "x2"), 2)

    def test_expire_persist_and_expiry_as_del(self):
        c = self.r
        self.run_commands([("SET", "e1", 1), ("EXPIRE", "e1", 100), ("SET", "e2", 2),
                           ("PEXPIREAT", "e2", int(time.time() * 1000) + 500000),
                           ("SET", "p", 1, "EX", 100), ("PERSIST", "p"),
                           ("SET", "keepttl", 1, "EX", 100), ("SET", "keepttl", 2, "KEEPTTL"),
                           ("GETEX", "e2", "PX", 300000),
                           ("SET", "lazy", 1, "PX", 50), ("SET", "active", 1, "PX", 50),
                           ("HSET", "hactive", "f", 1), ("PEXPIRE", "hactive", 50)])
        wait_in_sync(c, self.rc)
        self.assertEqual(self.rc.cmd("PTTL", "p"), -1)
        self.assertGreater(self.rc.cmd("PTTL", "keepttl"), 90000)
        # the replica never expires on its own: its DBSIZE counts the
        # expired keys until the primary's DELs arrive
        time.sleep(0.1)
        self.assertIsNone(c.cmd("GET", "lazy"))  # a lazy expiry on the primary

        def gone():
            return self.rc.cmd("DBSIZE") == 4 and self.r.cmd("DBSIZE") == 4
        self.wait_until(gone, timeout=5.0, msg="the replica keeps expired keys")
        self.assertInSync(self.rc)

    def test_expire_in_the_past_deletes_the_key_on_the_replica(self):
        # Redis deletes the key at once and propagates DEL: a replica keeps
        # a key whose TTL it is told is past (it never expires on its own)
        past = [("EXPIRE", "a", -1), ("PEXPIRE", "b", 0), ("EXPIREAT", "c", 0),
                ("PEXPIREAT", "d", 1000), ("GETEX", "e", "PXAT", 1000),
                ("GETEX", "f", "EXAT", 1)]
        for cmd in past:
            self.r.cmd("SET", cmd[1], 1)
        self.r.cmd("SET", "kept", 1)
        wait_in_sync(self.r, self.rc)
        self.assertEqual(self.rc.cmd("DBSIZE"), 7)
        for cmd in past:
            self.assertIn(self.r.cmd(*cmd), (1, b"1"), cmd)
        self.assertEqual(self.r.cmd("DBSIZE"), 1)
        wait_in_sync(self.r, self.rc)
        left = [k for k in "abcdef"
                if self.rc.cmd("DEBUG", "OBJECT", k) != Error("ERR no such key")]
        self.assertEqual(left, [], "keys still on the replica after a past TTL")
        self.assertEqual(self.rc.cmd("DBSIZE"), 1)

    def test_blocked_pop_served_by_a_push_is_replicated(self):
        blocked = self.client()
        blocked.send_command("BLMOVE", "src", "dst", "LEFT", "RIGHT", 5)
        time.sleep(0.1)
        self.r.cmd("RPUSH", "src", "a", "b")
        self.assertEqual(blocked.read_reply(), b"a")
        self.assertInSync(self.rc)
        self.assertEqual(self.rc.cmd("LRANGE", "dst", 0, -1), [b"a"])
        self.assertEqual(self.rc.cmd("LRANGE", "src", 0, -1), [b"b"])

    def test_replica_is_read_only_for_its_clients(self):
        self.assertEqual(self.rc.cmd("SET", "x", 1),
                         Error("READONLY You can't write against a read only replica."))


class TestTransactions(ReplTestCase):

    KEYS = ["tx:%d" % i for i in range(8)]  # with 4 shards, on several

    def test_multi_exec_is_atomic_on_the_replica(self):
        _rep, rc = self.start_replica()
        n = 400
        stop = threading.Event()
        seen = {"reads": 0, "mixed": None, "values": set()}

        def reader():
            with _rep.client() as q:
                while not stop.is_set():
                    vals = q.cmd("MGET", *self.KEYS)
                    seen["reads"] += 1
                    if len(set(vals)) != 1:
                        seen["mixed"] = vals
                        return
                    seen["values"].add(vals[0])

        th = threading.Thread(target=reader)
        th.start()
        try:
            w = self.client()
            for i in range(n):
                cmds = [("MULTI",)] + [("SET", k, i) for k in self.KEYS] + [("EXEC",)]
                replies = pipeline(w, cmds)
                self.assertEqual(replies[-1], [Status("OK")] * len(self.KEYS))
            wait_in_sync(self.r, rc)
        finally:
            stop.set()
            th.join()
        self.assertIsNone(seen["mixed"], "the replica showed keys of different transactions")
        self.assertGreater(len(seen["values"]), 3, "the reader saw too few transactions")
        self.assertEqual(rc.cmd("MGET", *self.KEYS), [str(n - 1).encode()] * len(self.KEYS))

    def test_stream_shows_multi_exec_around_every_key(self):
        raw = RawReplica(self.port)
        try:
            self.assertTrue(raw.psync().startswith("+FULLRESYNC "))
            self.assertTrue(raw.rdb.startswith(b"REDIS"))
            pipeline(self.r, [("MULTI",)] + [("SET", k, "v") for k in self.KEYS] + [("EXEC",)])
            got = raw.commands_until(lambda v: upper(v)[0] == b"EXEC")
            got = [upper(v) for v in got if upper(v)[0] not in (b"PING", b"SELECT")]
            self.assertEqual(got[0], [b"MULTI"])
            self.assertEqual(got[-1], [b"EXEC"])
            self.assertEqual(sorted(got[1:-1]), [[b"SET", k.encode(), b"v"] for k in self.KEYS])
        finally:
            raw.close()

    def test_stream_shows_expiry_and_spop_in_deterministic_form(self):
        raw = RawReplica(self.port)
        try:
            raw.psync()
            self.r.cmd("SADD", "s", "only")
            self.r.cmd("SPOP", "s")
            self.r.cmd("SET", "e", 1, "PX", 20)
            time.sleep(0.05)
            self.assertIsNone(self.r.cmd("GET", "e"))
            got = raw.commands_until(lambda v: upper(v)[0] == b"DEL")
            got = [upper(v) for v in got if upper(v)[0] not in (b"PING", b"SELECT")]
            self.assertEqual(got[0], [b"SADD", b"s", b"only"])
            self.assertIn(got[1], ([b"SREM", b"s", b"only"], [b"DEL", b"s"]))
            self.assertEqual(got[-1], [b"DEL", b"e"])
        finally:
            raw.close()

    def test_exec_of_an_aborted_or_read_only_transaction_sends_nothing(self):
        raw = RawReplica(self.port)
        try:
            raw.psync()
            pipeline(self.r, [("MULTI",), ("GET", "a"), ("EXEC",),
                              ("MULTI",), ("SET", "a", 1), ("DISCARD",),
                              ("MULTI",), ("SET", "b", 1), ("NOSUCHCMD",), ("EXEC",),
                              ("SET", "marker", 1)])
            got = raw.commands_until(lambda v: upper(v)[0] == b"SET")
            got = [upper(v) for v in got if upper(v)[0] not in (b"PING", b"SELECT")]
            self.assertEqual(got, [[b"SET", b"marker", b"1"]])
        finally:
            raw.close()


class TestPipelinedSelect(ServerTestCase):
    """Found while testing the stream: no replica needed."""

    def test_a_select_pipelined_after_exec_does_not_move_the_transaction(self):
        replies = pipeline(self.r, [("SELECT", 12), ("MULTI",)]
                           + [("SET", "tx:%d" % i, i) for i in range(8)]
                           + [("EXEC",), ("SELECT", 0)])
        self.assertEqual(replies[-2], [Status("OK")] * 8)
        self.assertEqual(self.r.cmd("DBSIZE"), 0)
        self.r.cmd("SELECT", 12)
        self.assertEqual(self.r.cmd("DBSIZE"), 8)
        self.r.cmd("SELECT", 0)


class TestWriteLoadDuringSync(ReplTestCase):

    def test_writes_during_a_slow_snapshot_end_identical(self):
        n = 20000
        cmds = [("SET", "k:%d" % i, "v%d" % i) for i in range(n)]
        for i in range(0, n, 5000):
            pipeline(self.r, cmds[i:i + 5000])
        self.r.cmd("RPUSH", "log", "start")
        self.assertOK(self.r.cmd("CONFIG", "SET", "rdb-key-save-delay", 100))
        try:
            _rep, rc = self.start_replica(wait=False)
            rnd = random.Random(7)
            states = set()
            deadline = time.monotonic() + 2.5
            w = self.client()
            i = 0
            while time.monotonic() < deadline:
                batch = []
                for _ in range(50):
                    k = "k:%d" % rnd.randrange(n)
                    op = rnd.randrange(5)
                    if op == 0:
                        batch.append(("SET", k, "w%d" % i))
                    elif op == 1:
                        batch.append(("DEL", k))
                    elif op == 2:
                        batch.append(("INCR", "ctr"))
                    elif op == 3:
                        batch.append(("RPUSH", "log", i))
                    else:  # a transaction over several shards
                        batch += [("MULTI",)] + [("INCR", "tx:%d" % j) for j in range(4)] \
                            + [("EXEC",)]
                    i += 1
                pipeline(w, batch)
                m = re.search(r"state=(\w+)", info_fields(self.r).get("slave0", ""))
                if m:
                    states.add(m.group(1))
        finally:
            self.assertOK(self.r.cmd("CONFIG", "SET", "rdb-key-save-delay", 0))
        self.assertTrue(states - {"online"},
                        "the writes did not overlap the sync (states seen: %r)" % states)
        self.assertInSync(rc, dbs=[0])
        self.assertEqual(rc.cmd("GET", "ctr"), self.r.cmd("GET", "ctr"))
        self.assertEqual(len(set(rc.cmd("MGET", *["tx:%d" % j for j in range(4)]))), 1)


class TestWait(ReplTestCase):

    def test_wait_without_replicas_returns_zero_after_the_timeout(self):
        self.r.cmd("SET", "k", 1)
        t0 = time.monotonic()
        self.assertEqual(self.r.cmd("WAIT", 1, 200), 0)
        self.assertGreaterEqual(time.monotonic() - t0, 0.18)
        self.assertEqual(self.r.cmd("WAIT", 0, 0), 0)

    def test_wait_counts_the_replica_that_acknowledged(self):
        _rep, rc = self.start_replica()
        for i in range(50):
            self.r.cmd("SET", "k:%d" % i, i)
        t0 = time.monotonic()
        self.assertEqual(self.r.cmd("WAIT", 1, 1000), 1)
        self.assertLess(time.monotonic() - t0, 0.9)
        self.assertEqual(rc.cmd("GET", "k:49"), b"49")
        t0 = time.monotonic()
        self.assertEqual(self.r.cmd("WAIT", 2, 200), 1)
        self.assertGreaterEqual(time.monotonic() - t0, 0.18)
        # nothing written since: the replica has acknowledged all of it
        self.assertEqual(self.r.cmd("WAIT", 1, 0), 1)

    def test_wait_in_a_pipeline_replies_in_order(self):
        self.start_replica()
        replies = pipeline(self.r, [("SET", "a", 1), ("WAIT", 1, 2000), ("INCR", "a"),
                                    ("WAIT", 1, 2000), ("GET", "a")])
        self.assertEqual(replies, [Status("OK"), 1, 2, 1, b"2"])

    def test_wait_bad_arguments(self):
        self.assertEqual(self.r.cmd("WAIT", 1, "x"),
                         Error("ERR timeout is not an integer or out of range"))
        self.assertEqual(self.r.cmd("WAIT", 1, -1), Error("ERR timeout is negative"))
        self.assertEqual(self.r.cmd("WAIT", "x", 10),
                         Error("ERR value is not an integer or out of range"))
        self.assertEqual(self.r.cmd("WAIT", 1),
                         Error("ERR wrong number of arguments for 'wait' command"))

    def test_wait_on_a_replica_is_refused(self):
        _rep, rc = self.start_replica()
        self.assertEqual(
            rc.cmd("WAIT", 1, 10),
            Error("ERR WAIT cannot be used with replica instances. Please also note that "
                  "since Redis 4.0 if a replica is configured to be writable (which is not "
                  "the default) writes to replicas are just local and are not propagated."))


class TestMinReplicas(ReplTestCase):

    def tearDown(self):
        self.r.cmd("CONFIG", "SET", "min-replicas-to-write", 0)
        # the next test's FLUSHALL must not be refused
        self.wait_until(lambda: self.r.cmd("DEL", "nokey") == 0, timeout=2.0)
        super().tearDown()

    def set_min(self, n, lag=10):
        self.assertOK(self.r.cmd("CONFIG", "SET", "min-replicas-max-lag", lag))
        self.assertOK(self.r.cmd("CONFIG", "SET", "min-replicas-to-write", n))

    def wait_gate_closed(self):
        # probed with a write that changes nothing
        self.wait_until(lambda: self.r.cmd("DEL", "nokey") == Error(NOREPLICAS), timeout=2.0)

    def test_the_setting_applies_to_the_next_write(self):
        # Redis recounts the good replicas when the setting changes
        self.set_min(1)
        self.assertEqual(self.r.cmd("SET", "k", 1), Error(NOREPLICAS))
        self.set_min(0)
        self.assertOK(self.r.cmd("SET", "k", 1))

    def test_writes_are_refused_without_enough_good_replicas(self):
        self.set_min(1)
        self.wait_gate_closed()
        self.assertEqual(self.r.cmd("LPUSH", "l", 1), Error(NOREPLICAS))
        self.assertIsNone(self.r.cmd("GET", "k"))  # reads work
        self.assertEqual(self.r.cmd("DBSIZE"), 0)
        self.assertEqual(self.r.cmd("EVAL", "return 1", 0), 1)  # a script that reads
        _rep, rc = self.start_replica()
        self.wait_until(lambda: self.r.cmd("SET", "k", 1) == Status("OK"), timeout=5.0)
        self.assertEqual(self.r.cmd("INCR", "n"), 1)
        wait_in_sync(self.r, rc)
        self.assertEqual(rc.cmd("GET", "k"), b"1")

    def test_a_script_that_writes_is_refused(self):
        self.set_min(1)
        self.wait_gate_closed()
        err = self.r.cmd("EVAL", "return redis.call('SET', 'k', 1)", 0)
        self.assertIsError(err)
        self.assertRegex(err.message, r"^%s script: [0-9a-f]{40}, on @user_script:1\.$"
                         % re.escape(NOREPLICAS))
        self.assertEqual(self.r.cmd("DBSIZE"), 0)

    def test_a_transaction_with_a_write_is_refused(self):
        self.set_min(1)
        self.wait_gate_closed()
        self.assertEqual(pipeline(self.r, [("MULTI",), ("GET", "k"), ("SET", "k", 1), ("EXEC",)]),
                         [Status("OK"), Status("QUEUED"), Error(NOREPLICAS),
                          Error("EXECABORT Transaction discarded because of previous errors.")])
        self.assertEqual(self.r.cmd("DBSIZE"), 0)

    def test_two_replicas_required_one_present(self):
        self.start_replica()
        self.set_min(2)
        self.wait_gate_closed()
        self.set_min(1)
        self.wait_until(lambda: self.r.cmd("SET", "k", 1) == Status("OK"), timeout=2.0)


class TestPartialResync(ReplTestCase):

    def _resync(self, kill):
        rep, rc = self.start_replica()
        for i in range(100):
            self.r.cmd("SET", "before:%d" % i, i)
        self.r.cmd("RPUSH", "l", *range(50))
        wait_in_sync(self.r, rc)
        kill(rc)
        # writes while the link is down (the replica reconnects within ~1 s)
        for i in range(100):
            self.r.cmd("SET", "during:%d" % i, i)
        self.r.cmd("LPOP", "l", 5)
        self.wait_until(lambda: "Master accepted a Partial Resynchronization" in rep.log_text(),
                        timeout=SYNC_TIMEOUT,
                        msg="no partial resync; replica log: %s" % rep.log_text()[-3000:])
        for i in range(20):
            self.r.cmd("SET", "after:%d" % i, i)
        self.assertInSync(rc)
        self.assertEqual(rep.log_text().count("Full resync from master"), 1,
                         "the replica needed a second full sync")
        self.assertEqual(rc.cmd("LLEN", "l"), 45)

    def test_killing_the_link_on_the_primary_resumes_with_continue(self):
        def kill(_rc):
            self.assertEqual(self.r.cmd("CLIENT", "KILL", "TYPE", "replica"), 1)
        self._resync(kill)

    def test_killing_the_link_on_the_replica_resumes_with_continue(self):
        def kill(rc):
            self.assertEqual(rc.cmd("CLIENT", "KILL", "TYPE", "master"), 1)
        self._resync(kill)

    def test_psync_from_an_offset_the_backlog_lost_is_a_full_resync(self):
        self.assertOK(self.r.cmd("CONFIG", "SET", "repl-backlog-size", 16384))
        try:
            raw = RawReplica(self.port)
            try:
                _full, replid, offset = raw.psync().split()
            finally:
                raw.close()
            pipeline(self.r, [("SET", "big:%d" % i, "x" * 4096) for i in range(64)])
            # shardis's shards hand their records to the stream after they
            # answer: the offset gets there a moment later (slow under TSan)
            self.wait_until(lambda: int(info_fields(self.r)["master_repl_offset"])
                            >= int(offset) + 64 * 4096, timeout=10)
            f = info_fields(self.r)
            self.assertGreaterEqual(int(f["master_repl_offset"]), int(offset) + 64 * 4096)
            # (Redis 7 trims its backlog by 16 KB blocks: histlen may exceed the size a bit)
            self.assertLess(int(f["repl_backlog_histlen"]), 64 * 4096)
            raw = RawReplica(self.port)
            try:
                line = raw.psync(replid, int(offset) + 1)
                self.assertTrue(line.startswith("+FULLRESYNC %s " % replid), line)
                self.assertIn(b"big:63", raw.rdb)
            finally:
                raw.close()
            # the end of the backlog is still a place to continue from
            end = int(info_fields(self.r)["master_repl_offset"])
            raw = RawReplica(self.port)
            try:
                self.assertEqual(raw.psync(replid, end + 1), "+CONTINUE %s" % replid)
                self.r.cmd("SET", "next", 1)
                got = raw.commands_until(lambda v: upper(v)[0] == b"SET")
                self.assertEqual(upper(got[-1]), [b"SET", b"next", b"1"])
            finally:
                raw.close()
        finally:
            self.r.cmd("CONFIG", "SET", "repl-backlog-size", "1mb")

    def test_raw_psync_continue_sends_the_missing_bytes(self):
        self.r.cmd("SET", "a", 1)
        raw = RawReplica(self.port)
        try:
            line = raw.psync()
            _full, replid, offset = line.split()
            offset = int(offset)
        finally:
            raw.close()
        self.r.cmd("SET", "b", 2)
        self.r.cmd("SET", "c", 3)
        raw = RawReplica(self.port)
        try:
            line = raw.psync(replid, offset + 1)
            self.assertEqual(line, "+CONTINUE %s" % replid)
            got = raw.commands_until(lambda v: upper(v)[:2] == [b"SET", b"c"])
            got = [upper(v) for v in got if upper(v)[0] not in (b"PING", b"SELECT")]
            self.assertEqual(got, [[b"SET", b"b", b"2"], [b"SET", b"c", b"3"]])
        finally:
            raw.close()

    def test_psync_with_an_unknown_id_or_offset_gets_a_full_resync(self):
        self.r.cmd("SET", "a", 1)
        f = info_fields(self.r)
        for replid, off in (("0" * 40, 1), (f["master_replid"], 10 ** 12)):
            raw = RawReplica(self.port)
            try:
                line = raw.psync(replid, off)
                self.assertTrue(line.startswith("+FULLRESYNC %s " % f["master_replid"]), line)
                self.assertIn(b"a", raw.rdb)
            finally:
                raw.close()


class TestInfoAndRole(ReplTestCase):

    def test_info_replication_without_replicas(self):
        self.wait_until(lambda: info_fields(self.r)["connected_slaves"] == "0", timeout=5.0)
        f = info_fields(self.r)
        self.assertEqual(f["role"], "master")
        self.assertEqual(f["connected_slaves"], "0")
        self.assertRegex(f["master_replid"], r"^[0-9a-f]{40}$")
        self.assertEqual(f["master_replid2"], "0" * 40)
        self.assertEqual(f["second_repl_offset"], "-1")
        for k in ("master_repl_offset", "repl_backlog_active", "repl_backlog_size",
                  "repl_backlog_first_byte_offset", "repl_backlog_histlen",
                  "master_failover_state"):
            self.assertIn(k, f)
        role = self.r.cmd("ROLE")
        self.assertEqual(role[0], b"master")
        self.assertIsInstance(role[1], int)
        self.assertEqual(role[2], [])

    def test_info_replication_with_one_replica(self):
        rep, rc = self.start_replica()
        self.wait_replicas_online(1)
        f = info_fields(self.r)
        self.assertEqual(f["connected_slaves"], "1")
        self.assertRegex(f["slave0"],
                         r"^ip=127\.0\.0\.1,port=%d,state=online,offset=\d+,lag=\d+$" % rep.port)
        self.assertEqual(f["repl_backlog_size"], "1048576")
        self.assertEqual(f["master_replid"], info_fields(rc)["master_replid"])
        off = int(f["master_repl_offset"])
        for i in range(10):
            self.r.cmd("SET", "k%d" % i, "v" * 100)
        f2 = info_fields(self.r)
        self.assertGreaterEqual(int(f2["master_repl_offset"]), off + 10 * 100)
        self.assertGreaterEqual(int(f2["repl_backlog_histlen"]), 10 * 100)
        wait_in_sync(self.r, rc)
        # the replica's acknowledged offset shows up (ACKs come every second)
        self.wait_until(
            lambda: int(re.search(r"offset=(\d+)", info_fields(self.r)["slave0"]).group(1))
            >= int(f2["master_repl_offset"]), timeout=3.0)
        role = self.r.cmd("ROLE")
        self.assertEqual(role[0], b"master")
        self.assertIsInstance(role[1], int)
        self.assertGreaterEqual(role[1], int(f2["master_repl_offset"]))
        self.assertEqual(len(role[2]), 1)
        ip, port, roff = role[2][0]
        self.assertEqual((ip, port), (b"127.0.0.1", str(rep.port).encode()))
        self.assertRegex(roff.decode(), r"^\d+$")
        # the replica's side of it
        rrole = rc.cmd("ROLE")
        self.assertEqual(rrole[:3], [b"slave", b"127.0.0.1", self.port])
        self.assertEqual(rrole[3], b"connected")

    def test_replica_gone_leaves_info(self):
        rep, _rc = self.start_replica()
        self.wait_replicas_online(1)
        rep.stop()
        self.wait_until(lambda: info_fields(self.r)["connected_slaves"] == "0", timeout=5.0)
        self.assertNotIn("slave0", info_fields(self.r))
        self.assertEqual(self.r.cmd("ROLE")[2], [])


class TestBacklogStart(ReplTestCase):
    """A server of its own: no replica has ever asked it for a sync."""

    fresh_server_per_test = True

    def test_the_backlog_exists_once_a_replica_has_synced(self):
        f = info_fields(self.r)
        self.assertEqual((f["repl_backlog_active"], f["repl_backlog_histlen"]), ("0", "0"))
        raw = RawReplica(self.port)
        try:
            self.assertTrue(raw.psync().startswith("+FULLRESYNC"))
            # Redis creates it when the first replica asks, before any write
            f = info_fields(self.r)
            self.assertEqual(f["repl_backlog_active"], "1")
            first = int(f["master_repl_offset"]) + 1 - int(f["repl_backlog_histlen"])
            self.assertEqual(f["repl_backlog_first_byte_offset"], str(first))
        finally:
            raw.close()

    def test_backlog_ttl_frees_it_and_changes_the_id(self):
        self.r.cmd("CONFIG", "SET", "repl-backlog-ttl", "1")
        raw = RawReplica(self.port)
        try:
            self.assertTrue(raw.psync().startswith("+FULLRESYNC"))
            self.r.cmd("SET", "k", "v")
        finally:
            raw.close()
        before = info_fields(self.r)
        self.assertEqual(before["repl_backlog_active"], "1")
        # a second or two with no replica: freed, and a new replication id
        self.wait_until(lambda: info_fields(self.r)["repl_backlog_active"] == "0", timeout=8,
                        msg="the backlog was not freed after repl-backlog-ttl")
        after = info_fields(self.r)
        self.assertNotEqual(after["master_replid"], before["master_replid"])
        self.assertEqual(after["repl_backlog_histlen"], "0")
        # writes without replicas do not bring it back
        self.r.cmd("SET", "k2", "v")
        self.assertEqual(info_fields(self.r)["repl_backlog_active"], "0")


class TestBadInput(ReplTestCase):

    def test_replconf_errors(self):
        self.assertEqual(self.r.cmd("REPLCONF", "listening-port"), Error("ERR syntax error"))
        self.assertEqual(self.r.cmd("REPLCONF", "a", "b", "c"), Error("ERR syntax error"))
        self.assertEqual(self.r.cmd("REPLCONF", "foo", "bar"),
                         Error("ERR Unrecognized REPLCONF option: foo"))
        self.assertEqual(self.r.cmd("REPLCONF", "listening-port", "abc"),
                         Error("ERR value is not an integer or out of range"))
        self.assertOK(self.r.cmd("REPLCONF"))
        self.assertOK(self.r.cmd("REPLCONF", "listening-port", 7000, "capa", "eof"))
        self.assertOK(self.r.cmd("REPLCONF", "capa", "whatever"))

    def test_replconf_ack_and_getack_from_a_client_get_no_reply(self):
        self.r.send_command("REPLCONF", "ACK", 5)
        self.r.send_command("REPLCONF", "GETACK", "*")
        self.assertEqual(self.r.cmd("PING"), "PONG")

    def test_psync_and_sync_arity_and_multi(self):
        self.assertEqual(self.r.cmd("PSYNC", "?"),
                         Error("ERR wrong number of arguments for 'psync' command"))
        self.assertEqual(self.r.cmd("SYNC", "x"),
                         Error("ERR wrong number of arguments for 'sync' command"))
        self.assertOK(self.r.cmd("MULTI"))
        self.assertEqual(self.r.cmd("PSYNC", "?", -1),
                         Error("ERR Command not allowed inside a transaction"))
        self.assertEqual(self.r.cmd("EXEC"),
                         Error("EXECABORT Transaction discarded because of previous errors."))

    def test_psync_with_a_bad_offset_is_a_full_resync(self):
        raw = RawReplica(self.port)
        try:
            line = raw.psync("?", "notanumber")
            self.assertIsInstance(line, str)
        finally:
            raw.close()
        self.assertEqual(self.r.cmd("PING"), "PONG")

    def test_role_arity(self):
        self.assertEqual(self.r.cmd("ROLE", "x"),
                         Error("ERR wrong number of arguments for 'role' command"))


class TestTwoReplicas(ReplTestCase):

    def test_two_replicas_attached_at_once_both_in_sync(self):
        fill_every_type(self.r)
        rep1 = RedisReplica(self.port).start()
        self.replicas.append(rep1)
        rep2 = RedisReplica(self.port).start()
        self.replicas.append(rep2)
        rc1, rc2 = self.replica_client(rep1), self.replica_client(rep2)
        wait_in_sync(self.r, rc1)
        wait_in_sync(self.r, rc2)
        for i in range(200):
            self.r.cmd("HSET", "h:%d" % (i % 7), "f%d" % i, i)
        self.r.cmd("FLUSHDB")  # db 0 goes; dbs 3 and 9 stay
        self.r.cmd("SET", "last", 1)
        self.assertEqual(self.r.cmd("WAIT", 2, 2000), 2)
        self.wait_replicas_online(2)
        p = self.assertInSync(rc1)
        self.assertIsNone(dataset_diff(p, dataset(rc2)))
        self.assertEqual(sorted(p), [0, 3, 9])
        ports = sorted(int(re.search(r"port=(\d+)", info_fields(self.r)["slave%d" % i])
                           .group(1)) for i in range(2))
        self.assertEqual(ports, sorted([rep1.port, rep2.port]))


if __name__ == "__main__":
    unittest.main()
