"""Append-only files (Redis 7.0's multi-part AOF): every write reaches
dir/appenddirname/ (a manifest, one base file with an RDB preamble, incr
files of RESP commands) and a server started on the same directory replays
it to the same state.

Each test starts its own server in its own directory (harness.Server.dir),
stops it (SIGTERM) or kills it (SIGKILL) and starts it again on the same
directory with the same options. What is checked: every type, TTLs kept as
absolute times, non-deterministic and blocking commands replayed to the same
state, MULTI/EXEC and scripts across shards, the keyspace commands, crashes
under appendfsync always and everysec, truncated and corrupt incr files,
BGREWRITEAOF under load (redis-check-aof accepts the directory), the config,
and a directory written by redis-server 7.0.

Shardis keeps one incr file per shard (Redis: one); the tests on file names
branch on reference_mode(). Everything passes against redis-server too
(SHARDIS_REFERENCE=redis).
"""

import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import (Client, ConnectionClosed, Error, LiveRedisServer, Server,  # noqa: E402
                     check_clean_exit, encode_command, free_port, live_redis_binary, reference_mode)

AOF_DIR = "appendonlydir"
MANIFEST = "appendonly.aof.manifest"
NDBS = 16


# --------------------------------------------------------------------------
# helpers
# --------------------------------------------------------------------------

def info_field(c, name, section="persistence"):
    for line in c.cmd("INFO", section).decode().splitlines():
        if line.startswith(name + ":"):
            return line.split(":", 1)[1]
    raise AssertionError("no %s in INFO %s" % (name, section))


def info_map(c, section="persistence"):
    return dict(line.split(":", 1) for line in c.cmd("INFO", section).decode().splitlines()
                if ":" in line)


def read_manifest(aof_dir, name=MANIFEST):
    """[(file, seq, type)] of the manifest, in its order."""
    out = []
    with open(os.path.join(aof_dir, name), "rb") as f:
        for raw in f.read().decode().splitlines():
            if not raw.strip() or raw.startswith("#"):
                continue
            words = raw.split()
            fields = dict(zip(words[0::2], words[1::2]))
            out.append((fields["file"], int(fields["seq"]), fields["type"]))
    return out


def split_commands(data):
    """The RESP commands of an incr file: [(start, end, [args])]; stops at
    the first incomplete one. Annotations (#...) are skipped."""
    out = []
    pos = 0
    while pos < len(data):
        start = pos
        if data[pos:pos + 1] == b"#":
            end = data.find(b"\r\n", pos)
            if end < 0:
                break
            pos = end + 2
            continue
        end = data.find(b"\r\n", pos)
        if end < 0 or data[pos:pos + 1] != b"*":
            break
        n = int(data[pos + 1:end])
        pos = end + 2
        args = []
        ok = True
        for _ in range(n):
            end = data.find(b"\r\n", pos)
            if end < 0:
                ok = False
                break
            blen = int(data[pos + 1:end])
            pos = end + 2
            if len(data) < pos + blen + 2:
                ok = False
                break
            args.append(data[pos:pos + blen])
            pos += blen + 2
        if not ok:
            break
        out.append((start, pos, args))
    return out


def stream_state(c, k):
    info = c.cmd("XINFO", "STREAM", k)
    info = dict(zip(info[0::2], info[1::2]))
    out = {"entries": c.cmd("XRANGE", k, "-", "+")}
    for f in (b"length", b"last-generated-id", b"max-deleted-entry-id", b"entries-added",
              b"recorded-first-entry-id", b"groups"):
        out[f] = info.get(f)
    groups = []
    for g in c.cmd("XINFO", "GROUPS", k):
        g = dict(zip(g[0::2], g[1::2]))
        # entries-read and lag are estimates: Redis 7.0's own replay of an
        # XREADGROUP (propagated as XCLAIM ... LASTID) does not keep them
        g.pop(b"entries-read", None)
        g.pop(b"lag", None)
        name = g[b"name"]
        pending = [(p[0], p[1], p[3])
                   for p in c.cmd("XPENDING", k, name, "-", "+", "100000")]
        consumers = []
        for cons in c.cmd("XINFO", "CONSUMERS", k, name):
            cons = dict(zip(cons[0::2], cons[1::2]))
            consumers.append((cons[b"name"], cons[b"pending"]))
        groups.append((sorted(g.items()), pending, sorted(consumers)))
    out["groups-state"] = groups
    return out


READ_CMD = {
    "string": ("GET",),
    "list": ("LRANGE", "0", "-1"),
    "set": ("SMEMBERS",),
    "zset": ("ZRANGE", "0", "-1", "WITHSCORES"),
    "hash": ("HGETALL",),
}


def pipeline(c, cmds):
    """Replies of the commands, sent in batches."""
    out = []
    for i in range(0, len(cmds), 500):
        batch = cmds[i:i + 500]
        c.send(b"".join(encode_command(*cmd) for cmd in batch))
        out += c.read_replies(len(batch))
    return out


def normalize(t, v):
    if t == "string" and v.startswith(b"HYLL") and len(v) >= 16:
        # the cached cardinality (bytes 8..15) is a cache
        return (v[:5], v[16:])
    if t == "set":
        return sorted(v)
    if t == "hash":
        return sorted(zip(v[0::2], v[1::2]))
    return v


def dump(c, dbs=range(NDBS)):
    """Every key of every database: {(db, key): (type, value, pttl)}, where
    pttl is -1 or the absolute expiry in ms (compared roughly)."""
    out = {}
    for db in dbs:
        c.cmd("SELECT", str(db))
        keys = set()
        cursor = b"0"
        while True:
            cursor, batch = c.cmd("SCAN", cursor, "COUNT", "1000")
            keys.update(batch)
            if cursor == b"0":
                break
        keys = sorted(keys)
        types = [str(t) for t in pipeline(c, [("TYPE", k) for k in keys])]
        cmds = []
        for k, t in zip(keys, types):
            cmds.append((READ_CMD[t][0], k) + READ_CMD[t][1:] if t in READ_CMD else ("TYPE", k))
            cmds.append(("PTTL", k))
        replies = pipeline(c, cmds)
        now = int(time.time() * 1000)
        for i, (k, t) in enumerate(zip(keys, types)):
            v, pttl = replies[2 * i], replies[2 * i + 1]
            if pttl == -2 or t == "none":
                continue  # expired between SCAN and now
            if pttl >= 0:
                pttl = now + pttl
            v = stream_state(c, k) if t == "stream" else normalize(t, v)
            out[(db, k)] = (t, v, pttl)
    c.cmd("SELECT", "0")
    return out


def wait_rewrite(c, before, timeout=30.0):
    """Until aof_rewrites passed `before` and no rewrite runs."""
    deadline = time.monotonic() + timeout
    while True:
        info = info_map(c)
        if (info["aof_rewrite_in_progress"] == "0"
                and info.get("aof_rewrite_scheduled", "0") == "0"
                and int(info["aof_rewrites"]) > before):
            return
        if time.monotonic() > deadline:
            raise AssertionError("BGREWRITEAOF did not end")
        time.sleep(0.02)


def wait_blocked(c, n, timeout=5.0):
    deadline = time.monotonic() + timeout
    while int(info_field(c, "blocked_clients", "clients")) < n:
        if time.monotonic() > deadline:
            raise AssertionError("%d clients never blocked" % n)
        time.sleep(0.01)


class RedisAofServer(LiveRedisServer):
    """A live redis-server 7.0 with appendonly yes."""

    def command_line(self, port):
        return super().command_line(port) + ["--appendonly", "yes", "--appendfsync", "always"]


def fill_types(c):
    """Every type, built with the commands that touch it (several of them
    non-idempotent or rewritten for propagation), in three databases.
    Returns the stream ids XADD * gave."""
    c.cmd("SET", "s:str", "hello")
    c.cmd("APPEND", "s:str", " world")
    c.cmd("SETRANGE", "s:str", "0", "J")
    c.cmd("SETRANGE", "s:pad", "5", "x")
    c.cmd("SET", "s:f", "10.5")
    c.cmd("INCRBYFLOAT", "s:f", "0.1")
    c.cmd("INCRBYFLOAT", "s:f", "3.0e3")
    c.cmd("INCR", "s:n")
    c.cmd("INCRBY", "s:n", "41")
    c.cmd("DECRBY", "s:n", "2")
    c.cmd("SETNX", "s:nx", "first")
    c.cmd("SETNX", "s:nx", "second")
    c.cmd("MSET", "s:m1", "a", "s:m2", "b", "s:m3", "c")
    c.cmd("MSETNX", "s:m4", "d", "s:m1", "z")
    c.cmd("GETDEL", "s:m3")
    c.cmd("SET", "s:getset", "old", "GET")
    c.cmd("GETSET", "s:getset", "new")
    c.cmd("SET", "s:bin", b"\x00\r\n\xff*3\r\n")
    c.cmd("SET", "s:big", "y" * 20000)
    # lists
    c.cmd("RPUSH", "l:a", "a", "b", "c", "d", "e", "f")
    c.cmd("LPUSH", "l:a", "z")
    c.cmd("LINSERT", "l:a", "BEFORE", "c", "bc")
    c.cmd("LSET", "l:a", "0", "Z")
    c.cmd("LREM", "l:a", "1", "d")
    c.cmd("LPOP", "l:a")
    c.cmd("RPOP", "l:a", "1")
    c.cmd("LTRIM", "l:a", "0", "3")
    c.cmd("RPUSH", "l:big", *["e%d" % i for i in range(1000)])
    c.cmd("RPOPLPUSH", "l:big", "l:dst")
    # hashes
    c.cmd("HSET", "h:a", "f1", "v1", "f2", "2", "f3", "1.5")
    c.cmd("HINCRBY", "h:a", "f2", "5")
    c.cmd("HINCRBYFLOAT", "h:a", "f3", "0.25")
    c.cmd("HSETNX", "h:a", "f4", "v4")
    c.cmd("HDEL", "h:a", "f1")
    c.cmd("HSET", "h:big", *sum((["f%d" % i, "v%d" % i] for i in range(300)), []))
    # sets
    c.cmd("SADD", "set:a", "a", "b", "c", "d")
    c.cmd("SREM", "set:a", "b")
    c.cmd("SADD", "set:int", *[str(i) for i in range(200)])
    # sorted sets
    c.cmd("ZADD", "z:a", "1", "a", "2", "b", "3", "c", "-inf", "ninf", "+inf", "pinf")
    c.cmd("ZINCRBY", "z:a", "2.5", "a")
    c.cmd("ZREM", "z:a", "b")
    c.cmd("ZPOPMAX", "z:a")
    c.cmd("ZADD", "z:big", *sum(([str(i * 0.5), "m%d" % i] for i in range(300)), []))
    c.cmd("ZREMRANGEBYSCORE", "z:big", "10", "20")
    c.cmd("GEOADD", "geo", "13.361389", "38.115556", "Palermo", "15.087269", "37.502669",
          "Catania")
    # streams: * ids, a trim, a delete, a group with pending entries
    ids = [c.cmd("XADD", "x:s", "*", "f", "v%d" % i) for i in range(10)]
    c.cmd("XADD", "x:s", "MAXLEN", "8", "*", "f", "last")
    c.cmd("XDEL", "x:s", ids[4])
    c.cmd("XGROUP", "CREATE", "x:s", "g1", "0")
    c.cmd("XGROUP", "CREATE", "x:s", "g2", "$", "MKSTREAM")
    c.cmd("XREADGROUP", "GROUP", "g1", "alice", "COUNT", "3", "STREAMS", "x:s", ">")
    c.cmd("XREADGROUP", "GROUP", "g1", "bob", "COUNT", "2", "STREAMS", "x:s", ">")
    c.cmd("XACK", "x:s", "g1", ids[5])
    c.cmd("XCLAIM", "x:s", "g1", "carol", "0", ids[3])
    c.cmd("XGROUP", "CREATECONSUMER", "x:s", "g2", "dave")
    c.cmd("XGROUP", "CREATE", "x:empty", "g", "$", "MKSTREAM")
    # HyperLogLog and bitmaps
    c.cmd("PFADD", "hll:a", "a", "b", "c")
    c.cmd("PFADD", "hll:b", *["x%d" % i for i in range(2000)])
    c.cmd("PFMERGE", "hll:m", "hll:a", "hll:b")
    c.cmd("SETBIT", "bits", "7", "1")
    c.cmd("SETBIT", "bits", "100", "1")
    c.cmd("BITFIELD", "bits", "SET", "u8", "16", "255", "INCRBY", "i5", "30", "7")
    c.cmd("SETBIT", "bits2", "3", "1")
    c.cmd("BITOP", "OR", "bits:or", "bits", "bits2")
    # more databases
    c.cmd("SELECT", "3")
    c.cmd("SET", "db3:k", "three")
    c.cmd("RPUSH", "db3:l", "x", "y")
    c.cmd("HSET", "s:str", "f", "same name, other db")
    c.cmd("SELECT", "15")
    c.cmd("ZADD", "db15:z", "1", "one")
    c.cmd("SELECT", "0")
    return ids


class AofBase(unittest.TestCase):

    fsync = "always"

    def setUp(self):
        self.servers = []

    def tearDown(self):
        failed = False
        outcome = getattr(self, "_outcome", None)
        if outcome is not None and hasattr(outcome, "success"):
            failed = not outcome.success
        unclean = []
        for s in self.servers:
            if s.proc is not None and s.proc.poll() is None:
                bad = check_clean_exit(s, s.stop())
                if bad:
                    unclean.append(bad)
                    failed = True
            if failed:
                sys.stderr.write("\n----- server log (%s) -----\n%s\n"
                                 % (self.id(), s.log_text()[-6000:]))
            s.cleanup()
        self.assertEqual(unclean, [])

    def aof_args(self, *extra, fsync=None):
        return ["--appendonly", "yes", "--appendfsync", fsync or self.fsync] + list(extra)

    def start(self, *extra, fsync=None, srv=None, dir=None):
        if srv is None:
            srv = Server(args=self.aof_args(*extra, fsync=fsync))
            srv.dir = dir
        if srv not in self.servers:
            self.servers.append(srv)
        return srv.start()

    def kill9(self, srv):
        srv.proc.kill()
        srv.returncode = srv.proc.wait()
        self.assertIsNone(check_clean_exit(srv, 0))

    def restart(self, srv, kill=False):
        """Stop (SIGTERM) or kill -9 the server, start it again on the same
        directory with the same options."""
        if kill:
            self.kill9(srv)
        else:
            self.assertIsNone(check_clean_exit(srv, srv.stop()))
        srv.cleanup()
        return srv.start()

    def aof_dir(self, srv, dirname=AOF_DIR):
        return os.path.join(srv.dir, dirname)

    def check_manifest(self, srv, dirname=AOF_DIR, manifest=MANIFEST, exact=True):
        """The manifest names one base and the incr files (one per shard in
        shardis, one in Redis), all of them there; with exact, the directory
        holds nothing else (old files removed). Returns the entries."""
        d = self.aof_dir(srv, dirname)
        entries = read_manifest(d, manifest)
        bases = [e for e in entries if e[2] == "b"]
        incrs = [e for e in entries if e[2] == "i"]
        self.assertEqual(len(bases), 1, entries)
        want_incr = 1 if reference_mode() else srv.shards
        self.assertEqual(len(incrs), want_incr, entries)
        for name, _seq, _t in entries:
            self.assertTrue(os.path.exists(os.path.join(d, name)), (name, entries))
        self.assertEqual(len({e[0] for e in entries}), len(entries), entries)
        prefix = manifest[:-len(".manifest")]
        self.assertTrue(bases[0][0].startswith(prefix + "."), bases)
        self.assertTrue(bases[0][0].endswith(".base.rdb"), bases)
        for e in incrs:
            self.assertTrue(e[0].startswith(prefix + ".") and e[0].endswith(".incr.aof"), e)
        if exact:
            self.assertEqual(sorted(os.listdir(d)),
                             sorted([manifest] + [e[0] for e in entries if e[2] in "bi"]))
        return entries

    def wait_old_files_gone(self, srv, timeout=5.0):
        deadline = time.monotonic() + timeout
        while True:
            try:
                entries = self.check_manifest(srv)
                if not any(e[2] == "h" for e in read_manifest(self.aof_dir(srv))):
                    return entries
            except AssertionError:
                if time.monotonic() > deadline:
                    raise
            if time.monotonic() > deadline:
                self.fail("history files still in the manifest")
            time.sleep(0.05)

    def incr_files(self, srv):
        d = self.aof_dir(srv)
        return [os.path.join(d, e[0]) for e in read_manifest(d) if e[2] == "i"]

    def assertSameState(self, before, after, slack_ms=3000):
        self.assertEqual(sorted(before), sorted(after), "key sets differ")
        for k in before:
            tb, vb, eb = before[k]
            ta, va, ea = after[k]
            self.assertEqual((tb, vb), (ta, va), k)
            if eb == -1 or ea == -1:
                self.assertEqual(eb, ea, "TTL of %r" % (k,))
            else:
                self.assertLess(abs(eb - ea), slack_ms, "expiry of %r" % (k,))

    def redis_check_aof(self, srv):
        check = shutil.which("redis-check-aof")
        if not check:
            return
        path = os.path.join(self.aof_dir(srv), MANIFEST)
        out = subprocess.run([check, path], capture_output=True, text=True, timeout=60)
        self.assertEqual(out.returncode, 0, out.stdout + out.stderr)
        self.assertIn("All AOF files and manifest are valid", out.stdout)


# --------------------------------------------------------------------------
# 1, 2, 3, 4: state after a restart equals the state before
# --------------------------------------------------------------------------

class Replay(AofBase):

    def test_every_type_survives_restarts(self):
        srv = self.start()
        with Client(srv.port) as c:
            ids = fill_types(c)
            c.cmd("SET", "ttl:ex", "v", "EX", "100")
            c.cmd("HSET", "ttl:h", "f", "v")
            c.cmd("PEXPIRE", "ttl:h", "50000")
            c.cmd("SET", "ttl:getex", "v")
            c.cmd("GETEX", "ttl:getex", "EX", "200")
            c.cmd("SET", "ttl:persist", "v", "EX", "100")
            self.assertEqual(c.cmd("PERSIST", "ttl:persist"), 1)
            c.cmd("SET", "ttl:keepttl", "v1", "EX", "100")
            c.cmd("SET", "ttl:keepttl", "v2", "KEEPTTL")
            c.cmd("SET", "gone:a", "v")
            self.assertEqual(c.cmd("EXPIRE", "gone:a", "-1"), 1)
            c.cmd("SET", "gone:b", "v")
            self.assertEqual(c.cmd("EXPIREAT", "gone:b", "1"), 1)
            c.cmd("SET", "gone:c", "v")
            self.assertEqual(c.cmd("PEXPIREAT", "gone:c", str(int(time.time() * 1000) - 10)), 1)
            before = dump(c)
            self.assertNotIn((0, b"gone:a"), before)
            # short-lived: set, then the server killed at once and started
            # again a second later: it must not come back
            t0 = time.monotonic()
            c.cmd("SET", "ttl:px", "v", "PX", "300")
            c.cmd("SELECT", "3")
            c.cmd("SET", "ttl:px3", "v", "PX", "300")
        self.check_manifest(srv)
        self.kill9(srv)
        time.sleep(max(0, 1.0 - (time.monotonic() - t0)))
        srv.cleanup()
        srv.start()
        with Client(srv.port) as c:
            after = dump(c)
            self.assertSameState(before, after)
            self.assertEqual(c.cmd("EXISTS", "ttl:px"), 0)
            ttl = c.cmd("TTL", "ttl:ex")
            self.assertTrue(90 <= ttl <= 100, ttl)
            self.assertEqual(c.cmd("TTL", "ttl:persist"), -1)
            self.assertGreater(c.cmd("TTL", "ttl:keepttl"), 90)
            self.assertEqual(c.cmd("GET", "s:str"), b"Jello world")
            self.assertEqual(c.cmd("GET", "s:f"), before[(0, b"s:f")][1])
            self.assertEqual(c.cmd("GET", "s:nx"), b"first")
            got = [e[0] for e in c.cmd("XRANGE", "x:s", "-", "+")]
            self.assertEqual(got[:6], [ids[3]] + ids[5:])
            self.assertEqual(len(got), 7)
            last = after[(0, b"x:s")][1][b"last-generated-id"]
            # the next * id follows the last one generated before the restart
            nid = c.cmd("XADD", "x:s", "*", "f", "after")
            self.assertGreater(tuple(int(x) for x in nid.split(b"-")),
                               tuple(int(x) for x in last.split(b"-")))
            self.assertEqual(c.cmd("PFCOUNT", "hll:a"), 3)
            self.assertEqual(c.cmd("GETBIT", "bits", "100"), 1)
            c.cmd("SELECT", "3")
            self.assertEqual(c.cmd("EXISTS", "ttl:px3"), 0)
            self.assertEqual(c.cmd("HGET", "s:str", "f"), b"same name, other db")
            c.cmd("SELECT", "0")
            # more writes on the restarted server reach the files too
            c.cmd("APPEND", "s:str", "!")
            c.cmd("XREADGROUP", "GROUP", "g1", "erin", "STREAMS", "x:s", ">")
            c.cmd("PERSIST", "ttl:ex")
            c.cmd("EXPIRE", "set:a", "-5")
            before = dump(c)
        self.check_manifest(srv)
        self.restart(srv)
        with Client(srv.port) as c:
            self.assertSameState(before, dump(c))
            self.assertEqual(c.cmd("GET", "s:str"), b"Jello world!")
            self.assertEqual(c.cmd("TTL", "ttl:ex"), -1)
            self.assertEqual(c.cmd("EXISTS", "set:a"), 0)
        self.check_manifest(srv)

    def test_nondeterministic_and_blocking_commands(self):
        srv = self.start()
        with Client(srv.port) as c, Client(srv.port) as b1, Client(srv.port) as b2, \
                Client(srv.port) as b3:
            c.cmd("SADD", "sp", *["m%d" % i for i in range(100)])
            popped = c.cmd("SPOP", "sp", "7")
            self.assertEqual(len(popped), 7)
            popped.append(c.cmd("SPOP", "sp"))
            popped += c.cmd("SPOP", "sp", "30")
            c.cmd("SADD", "sp:small", "a", "b", "c")
            self.assertEqual(len(c.cmd("SPOP", "sp:small", "10")), 3)
            c.cmd("SADD", "sp:one", "a", "b", "c")
            one = c.cmd("SPOP", "sp:one")
            self.assertEqual(len(c.cmd("SRANDMEMBER", "sp", "5")), 5)
            c.cmd("SRANDMEMBER", "sp", "-500")
            c.cmd("HSET", "hr", "a", "1", "b", "2")
            c.cmd("HRANDFIELD", "hr", "2")
            c.cmd("ZADD", "zr", "1", "a", "2", "b")
            c.cmd("ZRANDMEMBER", "zr", "-3")
            left = sorted(c.cmd("SMEMBERS", "sp"))
            self.assertEqual(len(left), 100 - 38)
            # blocking pops served later
            b1.send_command("BLPOP", "bl", "0")
            b2.send_command("BLMOVE", "bm:src", "bm:dst", "LEFT", "RIGHT", "0")
            b3.send_command("BZPOPMIN", "bz", "0")
            wait_blocked(c, 3)
            self.assertEqual(c.cmd("RPUSH", "bl", "x", "y"), 2)
            self.assertEqual(b1.read_reply(), [b"bl", b"x"])
            self.assertEqual(c.cmd("RPUSH", "bm:src", "a", "b"), 2)
            self.assertEqual(b2.read_reply(), b"a")
            self.assertEqual(c.cmd("ZADD", "bz", "1", "a", "2", "b"), 2)
            self.assertEqual(b3.read_reply(), [b"bz", b"a", b"1"])
            # one that times out changes nothing
            self.assertIsNone(b1.cmd("BLPOP", "bl:none", "0.05"))
            # BLMPOP and BZMPOP, served at once
            self.assertEqual(b1.cmd("BLMPOP", "0", "1", "bl", "RIGHT"), [b"bl", [b"y"]])
            c.cmd("ZADD", "bz2", "1", "a", "2", "b", "3", "c")
            self.assertEqual(b1.cmd("BZMPOP", "0", "1", "bz2", "MAX", "COUNT", "2"),
                             [b"bz2", [[b"c", b"3"], [b"b", b"2"]]])
            c.cmd("RPUSH", "bl", "z1", "z2")
            b1.send_command("BRPOPLPUSH", "brpl", "bl", "0")
            wait_blocked(c, 1)
            c.cmd("LPUSH", "brpl", "q")
            self.assertEqual(b1.read_reply(), b"q")
            before = dump(c)
        self.restart(srv, kill=True)
        with Client(srv.port) as c:
            self.assertSameState(before, dump(c))
            self.assertEqual(sorted(c.cmd("SMEMBERS", "sp")), left)
            self.assertFalse(set(popped) & set(left))
            self.assertEqual(c.cmd("EXISTS", "sp:small"), 0)
            self.assertNotIn(one, c.cmd("SMEMBERS", "sp:one"))
            self.assertEqual(c.cmd("SCARD", "sp:one"), 2)
            self.assertEqual(c.cmd("LRANGE", "bl", "0", "-1"), [b"q", b"z1", b"z2"])
            self.assertEqual(c.cmd("LRANGE", "bm:src", "0", "-1"), [b"b"])
            self.assertEqual(c.cmd("LRANGE", "bm:dst", "0", "-1"), [b"a"])
            self.assertEqual(c.cmd("ZRANGE", "bz", "0", "-1"), [b"b"])
            self.assertEqual(c.cmd("ZRANGE", "bz2", "0", "-1"), [b"a"])
            self.assertEqual(c.cmd("EXISTS", "brpl"), 0)

    def test_multi_exec_and_scripts_across_shards(self):
        srv = self.start()
        keys = ["k%d" % i for i in range(1, 51)]
        with Client(srv.port) as c:
            self.assertEqual(c.cmd("MULTI"), "OK")
            for i, k in enumerate(keys):
                self.assertEqual(c.cmd("SET", k, "v%d" % i), "QUEUED")
            c.cmd("RPUSH", "tx:list", "a", "b")
            c.cmd("INCR", "tx:n")
            c.cmd("SELECT", "2")
            c.cmd("SET", "tx:db2", "x")
            c.cmd("SELECT", "0")
            c.cmd("SPOP", "nosuch")
            replies = c.cmd("EXEC")
            self.assertEqual(len(replies), len(keys) + 6)
            # a runtime error inside: the other commands stay applied
            c.cmd("MULTI")
            c.cmd("INCR", "k1")          # WRONGTYPE-free but not an integer
            c.cmd("SET", "tx:after", "1")
            c.cmd("LPUSH", "k2", "x")    # WRONGTYPE
            c.cmd("DEL", "k3", "k4", "k40")
            r = c.cmd("EXEC")
            self.assertIsInstance(r[0], Error)
            self.assertIsInstance(r[2], Error)
            # aborted and discarded transactions leave nothing
            c.cmd("MULTI")
            c.cmd("SET", "tx:never", "1")
            self.assertIsInstance(c.cmd("SET"), Error)
            self.assertIsInstance(c.cmd("EXEC"), Error)
            c.cmd("MULTI")
            c.cmd("SET", "tx:never2", "1")
            self.assertEqual(c.cmd("DISCARD"), "OK")
            # a watched key touched: EXEC runs nothing
            c.cmd("WATCH", "k5")
            with Client(srv.port) as o:
                o.cmd("SET", "k5", "other")
            c.cmd("MULTI")
            c.cmd("SET", "tx:never3", "1")
            self.assertIsNone(c.cmd("EXEC"))
            # scripts writing several keys of several shards
            script = ("for i = 1, #KEYS do redis.call('SET', KEYS[i], ARGV[1] .. i) end "
                      "return #KEYS")
            ks = ["s%d" % i for i in range(30)]
            self.assertEqual(c.cmd("EVAL", script, str(len(ks)), *ks, "val"), 30)
            nondet = ("redis.call('SADD', KEYS[1], 'a', 'b', 'c', 'd', 'e') "
                      "local m = redis.call('SPOP', KEYS[1]) "
                      "redis.call('SET', KEYS[2], m) "
                      "redis.call('RPUSH', KEYS[3], redis.call('TIME')[1]) "
                      "return m")
            m = c.cmd("EVAL", nondet, "3", "es:set", "es:popped", "es:time")
            sha = c.cmd("SCRIPT", "LOAD", "return redis.call('INCRBY', KEYS[1], ARGV[1])")
            for i in range(5):
                c.cmd("EVALSHA", sha, "1", "cnt%d" % i, str(i + 1))
            err = c.cmd("EVAL", "redis.call('SET', KEYS[1], 'x') "
                        "return redis.call('LPUSH', KEYS[2], 'y')", "2", "es:half", "k6")
            self.assertIsInstance(err, Error)
            before = dump(c)
        self.restart(srv, kill=True)
        with Client(srv.port) as c:
            self.assertSameState(before, dump(c))
            self.assertEqual(c.cmd("GET", "es:popped"), m)
            self.assertNotIn(m, c.cmd("SMEMBERS", "es:set"))
            self.assertEqual(c.cmd("GET", "es:half"), b"x")
            self.assertEqual(c.cmd("EXISTS", "tx:never", "tx:never2", "tx:never3"), 0)
            self.assertEqual(c.cmd("GET", "k5"), b"other")
            self.assertEqual(c.cmd("EXISTS", "k3"), 0)

    def test_keyspace_commands(self):
        srv = self.start()
        with Client(srv.port) as c:
            for db in (0, 1, 2):
                c.cmd("SELECT", str(db))
                c.cmd("MSET", *sum((["old%d" % i, "x"] for i in range(20)), []))
            c.cmd("SELECT", "0")
            self.assertEqual(c.cmd("FLUSHALL"), "OK")
            c.cmd("SELECT", "2")
            c.cmd("SET", "db2:a", "1")
            c.cmd("SET", "db2:b", "2")
            self.assertEqual(c.cmd("FLUSHDB"), "OK")
            c.cmd("SET", "db2:kept", "after flushdb")
            c.cmd("SELECT", "4")
            c.cmd("SET", "db4:k", "v")
            c.cmd("SELECT", "0")
            c.cmd("SET", "db0:k", "zero")
            self.assertEqual(c.cmd("SWAPDB", "0", "4"), "OK")
            # now db0 has db4:k, db4 has db0:k
            c.cmd("MSET", *sum((["k%d" % i, "v%d" % i] for i in range(50)), []))
            c.cmd("EXPIRE", "k1", "500")
            self.assertEqual(c.cmd("RENAME", "k1", "renamed"), "OK")
            self.assertEqual(c.cmd("RENAMENX", "k2", "k3"), 0)
            self.assertEqual(c.cmd("RENAMENX", "k2", "renamed:nx"), 1)
            self.assertEqual(c.cmd("MOVE", "k4", "5"), 1)
            self.assertEqual(c.cmd("COPY", "k5", "copied"), 1)
            self.assertEqual(c.cmd("COPY", "k6", "k7", "DB", "6", "REPLACE"), 1)
            c.cmd("EXPIRE", "k8", "300")
            self.assertEqual(c.cmd("COPY", "k8", "copied:ttl"), 1)
            c.cmd("SADD", "sa", "a", "b", "c")
            c.cmd("SADD", "sb", "c", "d")
            self.assertEqual(c.cmd("SMOVE", "sa", "sb", "a"), 1)
            self.assertEqual(c.cmd("SUNIONSTORE", "su", "sa", "sb"), 4)
            self.assertEqual(c.cmd("SINTERSTORE", "si", "sa", "sb"), 1)
            self.assertEqual(c.cmd("SDIFFSTORE", "sd", "sb", "sa"), 2)
            self.assertEqual(c.cmd("SINTERSTORE", "si:empty", "sa", "nosuch"), 0)
            c.cmd("RPUSH", "la", "3", "1", "2")
            self.assertEqual(c.cmd("LMOVE", "la", "lb", "RIGHT", "LEFT"), b"2")
            self.assertEqual(c.cmd("LMOVE", "la", "la", "LEFT", "RIGHT"), b"3")
            c.cmd("ZADD", "za", "1", "a", "2", "b")
            c.cmd("ZADD", "zb", "10", "b", "20", "c")
            self.assertEqual(c.cmd("ZUNIONSTORE", "zu", "2", "za", "zb", "WEIGHTS", "1", "2"), 3)
            self.assertEqual(c.cmd("ZINTERSTORE", "zi", "2", "za", "zb"), 1)
            self.assertEqual(c.cmd("ZRANGESTORE", "zrs", "zu", "0", "1"), 2)
            c.cmd("RPUSH", "tosort", "3", "10", "1", "2")
            self.assertEqual(c.cmd("SORT", "tosort", "DESC", "STORE", "sorted"), 4)
            self.assertEqual(c.cmd("SORT", "tosort", "LIMIT", "0", "0", "STORE", "sorted:empty"),
                             0)
            c.cmd("HSET", "rh", "f", "v", "g", "w")
            payload = c.cmd("DUMP", "rh")
            self.assertEqual(c.cmd("RESTORE", "restored", "0", payload), "OK")
            exp = int(time.time() * 1000) + 400000
            self.assertEqual(c.cmd("RESTORE", "restored:abs", str(exp), payload, "ABSTTL",
                                   "IDLETIME", "50"), "OK")
            self.assertEqual(c.cmd("RESTORE", "k9", "300000", c.cmd("DUMP", "sa"), "REPLACE"),
                             "OK")
            self.assertEqual(c.cmd("DEL", "k10", "k11", "nosuch"), 2)
            self.assertEqual(c.cmd("UNLINK", "k12", "k13", "k14"), 3)
            c.cmd("GEOADD", "geo", "13.361389", "38.115556", "Palermo", "15.087269", "37.502669",
                  "Catania")
            self.assertEqual(c.cmd("GEOSEARCHSTORE", "geo:near", "geo", "FROMLONLAT", "15", "37",
                                   "BYRADIUS", "200", "km", "ASC"), 2)
            before = dump(c)
        self.restart(srv)
        with Client(srv.port) as c:
            after = dump(c)
            self.assertSameState(before, after)
            self.assertEqual(sorted(k for k in after if k[1].startswith(b"old")), [])
            self.assertEqual([k for k in after if k[0] == 2], [(2, b"db2:kept")])
            self.assertEqual(c.cmd("GET", "db4:k"), b"v")
            self.assertGreater(c.cmd("TTL", "renamed"), 400)
            self.assertGreater(c.cmd("TTL", "copied:ttl"), 200)
            self.assertGreater(c.cmd("TTL", "restored:abs"), 300)
            c.cmd("SELECT", "6")
            self.assertEqual(c.cmd("GET", "k7"), b"v6")


    def test_writes_that_change_nothing_are_not_logged(self):
        # Redis propagates a write only when it changed something (dirty
        # moved): a failed SET NX is not in the AOF, nor sent to replicas
        srv = self.start()
        with Client(srv.port) as c:
            c.cmd("SET", "noop:s", "v-set")
            c.cmd("HSET", "noop:h", "f", "v-hset")
            c.cmd("SADD", "noop:set", "m-sadd")
            c.cmd("ZADD", "noop:z", "1", "zm")
            c.cmd("RPUSH", "noop:l", "v-rpush")
            noops = [
                ("SET", "noop:s", "v-setnx-opt", "NX"),
                ("SET", "noop:missing1", "v-setxx-opt", "XX"),
                ("SETNX", "noop:s", "v-setnx"),
                ("MSETNX", "noop:s", "v-msetnx", "noop:other", "v-msetnx2"),
                ("EXPIRE", "noop:missing2", "100"),
                ("PEXPIRE", "noop:s", "100000", "XX"),
                ("PERSIST", "noop:s"),
                ("HSETNX", "noop:h", "f", "v-hsetnx"),
                ("SADD", "noop:set", "m-sadd"),
                ("SREM", "noop:set", "m-srem-missing"),
                ("ZADD", "noop:z", "NX", "777", "zm"),
                ("ZREM", "noop:z", "zrem-missing"),
                ("LPUSHX", "noop:missing3", "v-lpushx"),
                ("LREM", "noop:l", "0", "v-lrem-missing"),
                ("DEL", "noop:missing4"),
                ("LPOP", "noop:missing5"),
                ("GETEX", "noop:s"),
                ("SETRANGE", "noop:s", "0", ""),
            ]
            for cmd in noops:
                c.cmd(*cmd)
            c.cmd("SET", "noop:last", "v-last")  # the log is written in order
            self.assertEqual(c.cmd("GET", "noop:s"), b"v-set")
        text = b""
        deadline = time.monotonic() + 5
        while b"v-last" not in text and time.monotonic() < deadline:
            text = b"".join(open(f, "rb").read() for f in self.incr_files(srv))
            time.sleep(0.02)
        for marker in (b"v-set", b"v-hset", b"m-sadd", b"v-rpush", b"v-last"):
            self.assertIn(marker, text)
        self.assertEqual(text.count(b"m-sadd"), 1)
        for marker in (b"v-setnx", b"v-setxx", b"v-msetnx", b"noop:missing", b"v-hsetnx",
                       b"m-srem", b"777", b"zrem-missing", b"v-lpushx", b"v-lrem",
                       b"PERSIST", b"GETEX", b"SETRANGE"):
            self.assertNotIn(marker, text, marker)


# --------------------------------------------------------------------------
# 5: crashes
# --------------------------------------------------------------------------

class Writer(threading.Thread):
    """INCRs a counter and RPUSHes its value to a list in one MULTI/EXEC;
    remembers the last value acknowledged."""

    def __init__(self, port):
        super().__init__(daemon=True)
        self.port = port
        self.acked = None
        self.error = None
        self.count = 0

    def run(self):
        try:
            c = Client(self.port, timeout=5.0)
        except OSError as e:
            self.error = e
            return
        try:
            while True:
                c.send(b"*1\r\n$5\r\nMULTI\r\n*2\r\n$4\r\nINCR\r\n$3\r\nctr\r\n"
                       b"*3\r\n$5\r\nRPUSH\r\n$4\r\nclst\r\n$1\r\nx\r\n"
                       b"*1\r\n$4\r\nEXEC\r\n")
                c.read_replies(3)
                r = c.read_reply()
                if not isinstance(r, list) or len(r) != 2 or r[0] != r[1]:
                    self.error = AssertionError("EXEC replied %r" % (r,))
                    return
                self.acked = r[0]
                self.count += 1
        except (ConnectionClosed, OSError):
            return
        finally:
            c.close()


class Crash(AofBase):

    def crash_loop(self, fsync, rounds, allowed_loss_s):
        srv = self.start(fsync=fsync)
        acked = 0
        report = []
        for _ in range(rounds):
            w = Writer(srv.port)
            t0 = time.monotonic()
            w.start()
            time.sleep(1.0)
            self.kill9(srv)
            w.join(10)
            elapsed = time.monotonic() - t0
            self.assertFalse(w.is_alive())
            self.assertIsNone(w.error)
            self.assertIsNotNone(w.acked, "no write acknowledged in 1 s")
            acked = w.acked
            srv.cleanup()
            srv.start()  # every restart loads
            with Client(srv.port) as c:
                n = int(c.cmd("GET", "ctr"))
                self.assertEqual(c.cmd("LLEN", "clst"), n, "half a transaction applied")
                rate = w.count / elapsed
                lost = max(0, acked - n)
                report.append("%s: acked %d, loaded %d (lost %d, %.0f tx/s)"
                              % (fsync, acked, n, lost, rate))
                self.assertLessEqual(n, acked + 1)
                self.assertLessEqual(lost, allowed_loss_s * rate + 1, report[-1])
        self.check_manifest(srv)
        sys.stderr.write("\n  " + "\n  ".join(report) + "\n")

    def test_kill9_appendfsync_always_loses_nothing(self):
        self.crash_loop("always", 3, 0)

    def test_kill9_appendfsync_everysec(self):
        self.crash_loop("everysec", 1, 2.0)


# --------------------------------------------------------------------------
# 6: truncated and corrupt files
# --------------------------------------------------------------------------

class BadFiles(AofBase):

    N = 20

    def written_server(self):
        srv = self.start()
        with Client(srv.port) as c:
            for i in range(self.N):
                c.cmd("SET", "key%d" % i, "value-number-%d" % i)
        self.assertEqual(srv.stop(), 0)
        srv.cleanup()
        # the incr file with the most commands
        best = None
        for path in self.incr_files(srv):
            with open(path, "rb") as f:
                data = f.read()
            cmds = [a for _s, _e, a in split_commands(data)
                    if a and a[0].upper() == b"SET"]
            if best is None or len(cmds) > len(best[1]):
                best = (path, cmds, data)
        self.assertTrue(best and best[1], "no SET in any incr file")
        return srv, best

    def assert_refused(self, srv, path=None):
        """The server on srv's directory, with srv's options, exits non-zero
        at start, naming the file."""
        p = subprocess.Popen(srv.command_line(free_port()), cwd=srv.dir,
                             stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                             stderr=subprocess.STDOUT)
        try:
            out, _ = p.communicate(timeout=5)
        except subprocess.TimeoutExpired:
            p.kill()
            p.communicate()
            self.fail("the server started")
        self.assertNotEqual(p.returncode, 0, out)
        if path:
            self.assertIn(os.path.basename(path).encode(), out)

    def test_truncated_incr_file(self):
        srv, (path, cmds, data) = self.written_server()
        with open(path, "wb") as f:
            f.write(data[:-7])
        lost = cmds[-1][1]
        strict = Server(args=self.aof_args("--aof-load-truncated", "no"))
        strict.dir = srv.dir
        self.assert_refused(strict, path)
        # aof-load-truncated yes (the default): the prefix
        self.start(srv=srv)
        with Client(srv.port) as c:
            for i in range(self.N):
                k = b"key%d" % i
                self.assertEqual(c.cmd("EXISTS", k), 0 if k == lost else 1, k)
            c.cmd("SET", lost, "again")
            c.cmd("SET", "more", "1")
            before = dump(c)
        # the torn tail was cut: what came after it loads
        self.restart(srv)
        with Client(srv.port) as c:
            self.assertSameState(before, dump(c))
        self.redis_check_aof(srv)

    def test_garbage_line_refused(self):
        srv, (path, cmds, data) = self.written_server()
        starts = [s for s, _e, a in split_commands(data)]
        mid = starts[len(starts) // 2]
        with open(path, "wb") as f:
            f.write(data[:mid] + b"this is not a command\r\n" + data[mid:])
        self.assert_refused(srv, path)

    def test_bad_manifest_refused(self):
        srv, _best = self.written_server()
        with open(os.path.join(self.aof_dir(srv), MANIFEST), "ab") as f:
            f.write(b"file appendonly.aof.99.incr.aof seq 99 type i\n")
        self.assert_refused(srv, "appendonly.aof.99.incr.aof")


# --------------------------------------------------------------------------
# 7: BGREWRITEAOF
# --------------------------------------------------------------------------

class Rewrite(AofBase):

    def test_bgrewriteaof_under_write_load(self):
        srv = self.start(fsync="everysec")
        with Client(srv.port) as c:
            for b in range(0, 20000, 2000):
                c.cmd("MSET", *sum((["pre%d" % i, "v" * 20] for i in range(b, b + 2000)), []))
            c.cmd("RPUSH", "lst", *[str(i) for i in range(1000)])
            c.cmd("XADD", "xs", "*", "a", "1")
            c.cmd("XGROUP", "CREATE", "xs", "g", "0")
            c.cmd("XREADGROUP", "GROUP", "g", "c1", "STREAMS", "xs", ">")
            c.cmd("SET", "ttl", "v", "EX", "1000")
            old = self.check_manifest(srv)
            self.redis_check_aof(srv)
            self.assertEqual(info_field(c, "aof_enabled"), "1")
            rewrites = int(info_field(c, "aof_rewrites"))
            stop = threading.Event()
            counts = {}

            def load(tag):
                with Client(srv.port) as w:
                    i = 0
                    while not stop.is_set():
                        w.cmd("SET", "w:%s:%d" % (tag, i % 500), i)
                        w.cmd("INCR", "w:%s:ctr" % tag)
                        w.cmd("RPUSH", "w:%s:l" % tag, i)
                        w.cmd("SADD", "w:%s:s" % tag, i)
                        if i % 3 == 2:
                            w.cmd("SPOP", "w:%s:s" % tag)
                        i += 1
                    counts[tag] = i

            threads = [threading.Thread(target=load, args=(t,)) for t in ("a", "b")]
            for t in threads:
                t.start()
            time.sleep(0.2)
            self.assertEqual(c.cmd("BGREWRITEAOF"),
                             "Background append only file rewriting started")
            wait_rewrite(c, rewrites)
            time.sleep(0.2)
            stop.set()
            for t in threads:
                t.join()
            self.assertEqual(info_field(c, "aof_last_bgrewrite_status"), "ok")
            self.assertEqual(info_field(c, "aof_last_write_status"), "ok")
            self.assertEqual(int(info_field(c, "aof_rewrites")), rewrites + 1)
            for tag in counts:
                self.assertEqual(c.cmd("GET", "w:%s:ctr" % tag), str(counts[tag]).encode())
            before = dump(c)
        new = self.wait_old_files_gone(srv)
        self.assertFalse({e[0] for e in old} & {e[0] for e in new}, (old, new))
        self.redis_check_aof(srv)
        self.restart(srv)
        with Client(srv.port) as c:
            self.assertSameState(before, dump(c))
            for tag in counts:
                self.assertEqual(c.cmd("LLEN", "w:%s:l" % tag), counts[tag])
            # a rewrite again, some more writes, and a crash
            rewrites = int(info_field(c, "aof_rewrites"))
            self.assertEqual(c.cmd("BGREWRITEAOF"),
                             "Background append only file rewriting started")
            wait_rewrite(c, rewrites)
            c.cmd("SET", "after:rewrite", "1")
            c.cmd("DEL", "pre7")
            before = dump(c)
        self.wait_old_files_gone(srv)
        self.redis_check_aof(srv)
        self.restart(srv, kill=True)
        with Client(srv.port) as c:
            self.assertSameState(before, dump(c))
        self.redis_check_aof(srv)


# --------------------------------------------------------------------------
# 8: config
# --------------------------------------------------------------------------

class Config(AofBase):

    def test_config_get_set(self):
        srv = self.start(fsync="always")
        with Client(srv.port) as c:
            want = {
                b"appendonly": b"yes",
                b"appendfsync": b"always",
                b"appendfilename": b"appendonly.aof",
                b"appenddirname": b"appendonlydir",
                b"aof-load-truncated": b"yes",
                b"aof-use-rdb-preamble": b"yes",
                b"aof-timestamp-enabled": b"no",
                b"auto-aof-rewrite-percentage": b"100",
                b"auto-aof-rewrite-min-size": b"67108864",
            }
            for k, v in want.items():
                self.assertEqual(c.cmd("CONFIG", "GET", k), [k, v])
            self.assertEqual(info_field(c, "aof_enabled"), "1")
            self.assertEqual(c.cmd("CONFIG", "SET", "appendfsync", "everysec"), "OK")
            self.assertEqual(c.cmd("CONFIG", "GET", "appendfsync"), [b"appendfsync", b"everysec"])
            self.assertEqual(
                c.cmd("CONFIG", "SET", "appendfsync", "sometimes"),
                Error("ERR CONFIG SET failed (possibly related to argument 'appendfsync') - "
                      "argument(s) must be one of the following: everysec, always, no"))
            for imm in ("appenddirname", "appendfilename"):
                self.assertEqual(
                    c.cmd("CONFIG", "SET", imm, "x"),
                    Error("ERR CONFIG SET failed (possibly related to argument '%s') - "
                          "can't set immutable config" % imm))
            self.assertEqual(c.cmd("CONFIG", "SET", "aof-load-truncated", "no"), "OK")
            self.assertEqual(c.cmd("CONFIG", "SET", "auto-aof-rewrite-percentage", "0"), "OK")
            self.assertEqual(c.cmd("BGREWRITEAOF", "x"),
                             Error("ERR wrong number of arguments for 'bgrewriteaof' command"))
            c.cmd("SET", "a", "1")
            self.assertEqual(c.cmd("CONFIG", "SET", "appendfsync", "no"), "OK")
            c.cmd("SET", "b", "2")
            before = dump(c)
        self.restart(srv)
        with Client(srv.port) as c:
            self.assertSameState(before, dump(c))
            # the command line wins again
            self.assertEqual(c.cmd("CONFIG", "GET", "appendfsync"), [b"appendfsync", b"always"])

    def test_config_set_appendonly_at_runtime(self):
        plain = Server(args=["--appendfsync", "always"])
        self.servers.append(plain)
        plain.start()
        with Client(plain.port) as c:
            self.assertEqual(c.cmd("CONFIG", "GET", "appendonly"), [b"appendonly", b"no"])
            self.assertEqual(info_field(c, "aof_enabled"), "0")
            c.cmd("SET", "a", "1")
            c.cmd("RPUSH", "l", "x", "y")
            rewrites = int(info_field(c, "aof_rewrites"))
            # turning it on writes the whole dataset (a rewrite) first
            self.assertEqual(c.cmd("CONFIG", "SET", "appendonly", "yes"), "OK")
            self.assertEqual(info_field(c, "aof_enabled"), "1")
            wait_rewrite(c, rewrites)
            c.cmd("SET", "b", "2")
            before = dump(c)
            self.assertIsNone(check_clean_exit(plain, plain.stop()))
        srv = Server(args=self.aof_args())
        srv.dir = plain.dir
        self.start(srv=srv)
        self.check_manifest(srv)
        with Client(srv.port) as c:
            self.assertSameState(before, dump(c))
            # turned off: later writes are not logged
            self.assertEqual(c.cmd("CONFIG", "SET", "appendonly", "no"), "OK")
            self.assertEqual(info_field(c, "aof_enabled"), "0")
            c.cmd("SET", "not-logged", "1")
        self.restart(srv)
        with Client(srv.port) as c:
            self.assertSameState(before, dump(c))

    def test_timestamp_annotations(self):
        srv = self.start("--aof-timestamp-enabled", "yes")
        with Client(srv.port) as c:
            c.cmd("SET", "t1", "1")
            time.sleep(1.1)
            c.cmd("SET", "t2", "2")
            before = dump(c)
        self.restart(srv)  # the #TS lines load as annotations
        with Client(srv.port) as c:
            self.assertSameState(before, dump(c))
        stamps = []
        folder = os.path.join(srv.dir, AOF_DIR)
        for name in os.listdir(folder):
            if name.endswith(".incr.aof"):
                with open(os.path.join(folder, name), "rb") as f:
                    stamps += [l for l in f.read().split(b"\r\n") if l.startswith(b"#TS:")]
        self.assertGreaterEqual(len(stamps), 2, stamps)
        for l in stamps:
            self.assertLess(abs(int(l[4:]) - time.time()), 60)

    def test_automatic_rewrite_on_growth(self):
        srv = self.start("--auto-aof-rewrite-min-size", "1mb",
                         "--auto-aof-rewrite-percentage", "100")
        with Client(srv.port, timeout=30) as c:
            rewrites = int(info_field(c, "aof_rewrites"))
            value = "v" * 1000
            for batch in range(6):  # about 3 MB of SETs
                c.send(b"".join(encode_command("SET", "grow:%d" % (batch * 500 + i), value)
                                for i in range(500)))
                self.assertEqual(c.read_replies(500), ["OK"] * 500)
            wait_rewrite(c, rewrites)  # cron's check starts one by itself
            self.assertEqual(int(info_field(c, "aof_rewrite_in_progress")), 0)
            before = dump(c)
        self.restart(srv)
        self.check_manifest(srv)
        with Client(srv.port) as c:
            self.assertSameState(before, dump(c))

    def test_other_file_and_dir_names(self):
        srv = self.start("--appenddirname", "aofs", "--appendfilename", "mine.aof")
        with Client(srv.port) as c:
            c.cmd("SET", "a", "1")
            c.cmd("RPUSH", "l", "x")
            before = dump(c)
        self.assertFalse(os.path.exists(os.path.join(srv.dir, AOF_DIR)))
        self.check_manifest(srv, dirname="aofs", manifest="mine.aof.manifest")
        self.restart(srv)
        with Client(srv.port) as c:
            self.assertSameState(before, dump(c))


# --------------------------------------------------------------------------
# 9: a directory written by redis-server 7.0
# --------------------------------------------------------------------------

class Interop(AofBase):

    def test_we_load_redis_servers_aof_dir(self):
        if not os.access(live_redis_binary(), os.X_OK):
            self.skipTest("%s not found" % live_redis_binary())
        ref = RedisAofServer()
        self.servers.append(ref)
        ref.start()
        with Client(ref.port) as c:
            fill_types(c)
            c.cmd("SET", "ttl", "v", "EX", "1000")
            rewrites = int(info_field(c, "aof_rewrites"))
            self.assertEqual(c.cmd("BGREWRITEAOF"),
                             "Background append only file rewriting started")
            wait_rewrite(c, rewrites)
            c.cmd("SELECT", "7")
            c.cmd("SET", "after:rewrite", "x")
            c.cmd("SELECT", "0")
            c.cmd("INCRBYFLOAT", "s:f", "1")
            c.cmd("SPOP", "set:int", "5")
            c.cmd("XREADGROUP", "GROUP", "g1", "zed", "STREAMS", "x:s", ">")
            c.cmd("DEL", "l:big")
            before = dump(c)
        self.assertEqual(ref.stop(), 0)
        d = tempfile.mkdtemp(prefix="shardis-dir-")
        self.addCleanup(shutil.rmtree, d, True)
        shutil.copytree(os.path.join(ref.dir, AOF_DIR), os.path.join(d, AOF_DIR))
        srv = self.start(dir=d)
        with Client(srv.port) as c:
            self.assertSameState(before, dump(c))
            c.cmd("SET", "ours", "1")
            c.cmd("RPUSH", "l:a", "ours")
            before = dump(c)
        self.restart(srv)
        with Client(srv.port) as c:
            self.assertSameState(before, dump(c))
        self.redis_check_aof(srv)


if __name__ == "__main__":
    unittest.main()
