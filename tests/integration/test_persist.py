"""RDB snapshots: SAVE, BGSAVE, LASTSAVE, save points, SHUTDOWN's save,
DEBUG RELOAD, loading at start-up, a corrupt file refused, the file read and
written by Debian's redis-server and accepted by redis-check-rdb.

Each test starts its own server in its own directory (harness.Server.dir),
stops it and starts it again on the same directory to see what the file
kept. The tests that do not involve a second program pass against
redis-server too (SHARDIS_REFERENCE=redis).
"""

import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import (Client, Error, LiveRedisServer, Server, live_redis_binary,  # noqa: E402
                     reference_mode)

LIB = ("#!lua name=plib\n"
       "redis.register_function('pfn', function(keys, args) return 42 end)")


def fill(c):
    """Every type in its compact and its large encoding, TTLs, three DBs."""
    c.cmd("SET", "s:int", "12345")
    c.cmd("SET", "s:raw", "hello world")
    c.cmd("SET", "s:big", "x" * 5000)
    c.cmd("SET", "s:neg", "-42")
    c.cmd("RPUSH", "l:small", "a", "b", "1", "2")
    c.cmd("RPUSH", "l:big", *["e%d" % i for i in range(3000)])
    c.cmd("SADD", "set:int", "1", "2", "3", "-7")
    c.cmd("SADD", "set:small", "a", "b", "c")
    c.cmd("SADD", "set:big", *["m%d" % i for i in range(1000)])
    c.cmd("ZADD", "z:small", "1", "a", "2.5", "b", "-inf", "c")
    args = []
    for i in range(500):
        args += [str(i * 1.5), "zm%d" % i]
    c.cmd("ZADD", "z:big", *args)
    c.cmd("HSET", "h:small", "f1", "v1", "f2", "2")
    args = []
    for i in range(1000):
        args += ["f%d" % i, "v%d" % i]
    c.cmd("HSET", "h:big", *args)
    # streams: several nodes, a deleted entry, groups with pending entries
    # and consumers; an empty stream with a group
    for i in range(1, 251):
        c.cmd("XADD", "x:s", "%d-1" % i, "f", "v%d" % i)
    c.cmd("XDEL", "x:s", "2-1")
    c.cmd("XGROUP", "CREATE", "x:s", "g", "0")
    c.cmd("XREADGROUP", "GROUP", "g", "alice", "COUNT", "3", "STREAMS", "x:s", ">")
    c.cmd("XGROUP", "CREATECONSUMER", "x:s", "g", "bob")
    c.cmd("XADD", "x:empty", "5-5", "f", "v")
    c.cmd("XDEL", "x:empty", "5-5")
    c.cmd("XGROUP", "CREATE", "x:empty", "g", "$")
    c.cmd("SET", "ttl:a", "v", "EX", "1000")
    c.cmd("HSET", "ttl:h", "f", "v")
    c.cmd("PEXPIRE", "ttl:h", "2000000")
    c.cmd("SELECT", "1")
    c.cmd("SET", "db1:k", "one")
    c.cmd("RPUSH", "db1:l", "x")
    c.cmd("SELECT", "9")
    c.cmd("SET", "db9:k", "nine")
    c.cmd("SELECT", "0")


def state(c, dbs=(0, 1, 9)):
    """Every key of the databases with its type, value and whether it has a
    TTL (its size is checked apart)."""
    out = {}
    for db in dbs:
        c.cmd("SELECT", str(db))
        for k in sorted(c.cmd("KEYS", "*")):
            t = c.cmd("TYPE", k)
            if t == "string":
                v = c.cmd("GET", k)
            elif t == "list":
                v = c.cmd("LRANGE", k, "0", "-1")
            elif t == "set":
                v = sorted(c.cmd("SMEMBERS", k))
            elif t == "zset":
                v = c.cmd("ZRANGE", k, "0", "-1", "WITHSCORES")
            elif t == "hash":
                flat = c.cmd("HGETALL", k)
                v = sorted(zip(flat[0::2], flat[1::2]))
            elif t == "stream":
                info = c.cmd("XINFO", "STREAM", k, "FULL")
                v = [(info[i], info[i + 1]) for i in range(0, len(info), 2)
                     if info[i] != b"radix-tree-nodes"]
            else:
                v = t
            out[(db, k)] = (t, v, c.cmd("PTTL", k) > 0)
    c.cmd("SELECT", "0")
    return out


def info_field(c, name):
    for line in c.cmd("INFO", "persistence").decode().splitlines():
        if line.startswith(name + ":"):
            return line.split(":", 1)[1]
    raise AssertionError("no %s in INFO" % name)


def wait_bgsave(c, timeout=30.0):
    deadline = time.monotonic() + timeout
    while info_field(c, "rdb_bgsave_in_progress") != "0":
        if time.monotonic() > deadline:
            raise AssertionError("BGSAVE did not end")
        time.sleep(0.02)


class PersistBase(unittest.TestCase):

    def setUp(self):
        self.servers = []

    def tearDown(self):
        for s in self.servers:
            if s.proc is not None and s.proc.poll() is None:
                s.stop()
            s.cleanup()

    def start(self, *args, srv=None):
        srv = srv or Server(args=args)
        if srv not in self.servers:
            self.servers.append(srv)
        return srv.start()

    def restart(self, srv):
        srv.stop()
        return srv.start()


class Snapshots(PersistBase):

    def test_save_restart_keeps_every_type(self):
        srv = self.start()
        with Client(srv.port) as c:
            fill(c)
            self.assertEqual(c.cmd("FUNCTION", "LOAD", LIB), b"plib")
            before = state(c)
            self.assertEqual(c.cmd("SAVE"), "OK")
        self.assertTrue(os.path.exists(os.path.join(srv.dir, "dump.rdb")))
        self.restart(srv)
        with Client(srv.port) as c:
            self.assertEqual(state(c), before)
            self.assertEqual(c.cmd("FCALL", "pfn", "0"), 42)
            ttl = c.cmd("TTL", "ttl:a")
            self.assertTrue(990 <= ttl <= 1000, ttl)
            self.assertEqual(c.cmd("OBJECT", "ENCODING", "set:int"), b"intset")
            self.assertEqual(c.cmd("OBJECT", "ENCODING", "h:small"), b"listpack")
            self.assertEqual(c.cmd("OBJECT", "ENCODING", "z:big"), b"skiplist")
            self.assertEqual(c.cmd("OBJECT", "ENCODING", "l:big"), b"quicklist")
            self.assertEqual(info_field(c, "rdb_last_load_keys_loaded"), str(len(before)))

    def test_a_long_library_is_loaded_back(self):
        # its code is LZF-compressed in the file; loading it once read a byte
        # past the decompressed buffer (ASan: heap-buffer-overflow at start)
        code = "#!lua name=longlib\n" + "".join(
            "redis.register_function('lf%d', function(keys, args) return %d end)\n" % (i, i)
            for i in range(20))
        srv = self.start()
        with Client(srv.port) as c:
            self.assertEqual(c.cmd("FUNCTION", "LOAD", code), b"longlib")
            self.assertEqual(c.cmd("SAVE"), "OK")
        self.restart(srv)
        with Client(srv.port) as c:
            self.assertEqual(c.cmd("FCALL", "lf17", "0"), 17)
            libs = c.cmd("FUNCTION", "LIST", "WITHCODE")
            self.assertEqual(libs[0][libs[0].index(b"library_code") + 1], code.encode())

    def test_expired_keys_not_loaded(self):
        srv = self.start()
        with Client(srv.port) as c:
            c.cmd("SET", "short", "v", "PX", "300")
            c.cmd("SET", "long", "v")
            self.assertEqual(c.cmd("SAVE"), "OK")
        time.sleep(0.5)
        self.restart(srv)
        with Client(srv.port) as c:
            self.assertEqual(c.cmd("KEYS", "*"), [b"long"])
            self.assertEqual(info_field(c, "rdb_last_load_keys_expired"), "1")

    def test_bgsave_lastsave_info(self):
        srv = self.start()
        with Client(srv.port) as c:
            c.cmd("SET", "a", "1")
            self.assertEqual(info_field(c, "rdb_changes_since_last_save"), "1")
            saves = int(info_field(c, "rdb_saves"))
            t0 = c.cmd("LASTSAVE")
            self.assertEqual(c.cmd("BGSAVE"), "Background saving started")
            wait_bgsave(c)
            self.assertEqual(info_field(c, "rdb_last_bgsave_status"), "ok")
            self.assertEqual(int(info_field(c, "rdb_saves")), saves + 1)
            self.assertGreaterEqual(c.cmd("LASTSAVE"), t0)
            self.assertEqual(info_field(c, "rdb_changes_since_last_save"), "0")
            c.cmd("SET", "b", "2")
            self.assertEqual(info_field(c, "rdb_changes_since_last_save"), "1")
            # writes that change nothing are not changes (as Redis counts)
            for cmd in (("LPOP", "none"), ("SPOP", "none"), ("ZPOPMIN", "none"),
                        ("GETDEL", "none"), ("DEL", "none", "none2"), ("SREM", "none", "m"),
                        ("HDEL", "none", "f"), ("ZREM", "none", "m")):
                c.cmd(*cmd)
            self.assertEqual(info_field(c, "rdb_changes_since_last_save"), "1")
            self.assertEqual(c.cmd("BGSAVE", "SCHEDULE"), "Background saving started")
            wait_bgsave(c)
            self.assertEqual(c.cmd("BGSAVE", "NOW").message, "ERR syntax error")
            self.assertIsInstance(c.cmd("SAVE", "x"), Error)
        self.assertEqual(sorted(os.listdir(srv.dir)), ["dump.rdb"])

    def test_snapshot_is_the_state_at_bgsave(self):
        """Keys rewritten, deleted and added right after BGSAVE replies must
        not reach the file: it holds the moment BGSAVE began. The walk is
        slowed (rdb-key-save-delay) so that the writes meet it half-way."""
        srv = self.start()
        n = 30000
        with Client(srv.port) as c:
            for b in range(0, n, 2000):
                args = []
                for i in range(b, b + 2000):
                    args += ["k%d" % i, "old%d" % i]
                c.cmd("MSET", *args)
            self.assertEqual(c.cmd("CONFIG", "SET", "rdb-key-save-delay", "50"), "OK")
            self.assertEqual(c.cmd("BGSAVE"), "Background saving started")
            self.assertEqual(c.cmd("BGSAVE").message, "ERR Background save already in progress")
            self.assertEqual(c.cmd("SAVE").message, "ERR Background save already in progress")
            self.assertEqual(info_field(c, "rdb_bgsave_in_progress"), "1")
            cmds = []
            for b in range(0, n, 1000):
                args = []
                for i in range(b, b + 1000):
                    args += ["k%d" % i, "new"]
                cmds.append(("MSET",) + tuple(args))
                cmds.append(("DEL", "k%d" % (b + 1)))
                cmds.append(("SET", "added%d" % b, "x"))
            for cmd in cmds:
                c.send_command(*cmd)
            c.read_replies(len(cmds))
            c.cmd("CONFIG", "SET", "rdb-key-save-delay", "0")
            wait_bgsave(c)
            self.assertEqual(info_field(c, "rdb_last_bgsave_status"), "ok")
            self.assertEqual(c.cmd("GET", "k5"), b"new")
            self.assertEqual(c.cmd("DEBUG", "RELOAD", "NOSAVE"), "OK")
            self.assertEqual(c.cmd("DBSIZE"), n)
            self.assertEqual(c.cmd("KEYS", "added*"), [])
            for i in list(range(0, n, 997)) + [1, 1001, n - 1]:
                self.assertEqual(c.cmd("GET", "k%d" % i), b"old%d" % i)

    def test_debug_reload_keeps_data(self):
        srv = self.start()
        with Client(srv.port) as c:
            fill(c)
            before = state(c)
            self.assertEqual(c.cmd("DEBUG", "RELOAD"), "OK")
            self.assertEqual(state(c), before)

    def test_save_points(self):
        srv = self.start("--save", "1 1")
        with Client(srv.port) as c:
            self.assertEqual(c.cmd("CONFIG", "GET", "save"), [b"save", b"1 1"])
            c.cmd("SET", "k", "v")
            deadline = time.monotonic() + 10
            while info_field(c, "rdb_changes_since_last_save") != "0":
                self.assertLess(time.monotonic(), deadline, "no save within 10 s")
                time.sleep(0.1)
            wait_bgsave(c)
        self.assertTrue(os.path.exists(os.path.join(srv.dir, "dump.rdb")))

    def test_shutdown_save_and_nosave(self):
        srv = self.start()
        with Client(srv.port) as c:
            c.cmd("SET", "kept", "1")
            c.send_command("SHUTDOWN", "SAVE")
            self.assertTrue(c.is_closed(10))
        self.assertEqual(srv.wait_exit(10), 0)
        srv.start()
        with Client(srv.port) as c:
            self.assertEqual(c.cmd("GET", "kept"), b"1")
            self.assertEqual(c.cmd("CONFIG", "SET", "save", "3600 1"), "OK")
            c.cmd("SET", "lost", "1")
            c.send_command("SHUTDOWN", "NOSAVE")
            self.assertTrue(c.is_closed(10))
        self.assertEqual(srv.wait_exit(10), 0)
        srv.start()
        with Client(srv.port) as c:
            self.assertEqual(c.cmd("GET", "kept"), b"1")
            self.assertIsNone(c.cmd("GET", "lost"))
            self.assertEqual(c.cmd("SHUTDOWN", "ABORT").message, "ERR No shutdown in progress.")

    def test_flushall_saves_with_save_points(self):
        srv = self.start("--save", "3600 1")
        with Client(srv.port) as c:
            fill(c)
            self.assertEqual(c.cmd("SAVE"), "OK")
            self.assertEqual(c.cmd("FLUSHALL"), "OK")
            c.cmd("SET", "after", "1")
        srv.proc.kill()  # no save at the exit: what FLUSHALL saved is what loads
        srv.proc.wait()
        srv.start()
        with Client(srv.port) as c:
            self.assertEqual(c.cmd("DBSIZE"), 0)
            c.cmd("SELECT", "9")
            self.assertEqual(c.cmd("DBSIZE"), 0)

    def test_sigterm_saves_with_save_points(self):
        srv = self.start("--save", "3600 100")
        with Client(srv.port) as c:
            c.cmd("SET", "k", "v")
        srv.proc.send_signal(signal.SIGTERM)
        self.assertEqual(srv.wait_exit(10), 0)
        srv.start()
        with Client(srv.port) as c:
            self.assertEqual(c.cmd("GET", "k"), b"v")

    def test_failed_save_stops_writes(self):
        srv = self.start("--save", "3600 1")
        os.mkdir(os.path.join(srv.dir, "dump.rdb"))  # the rename onto it fails
        with Client(srv.port) as c:
            c.cmd("SET", "a", "1")
            self.assertEqual(c.cmd("BGSAVE"), "Background saving started")
            wait_bgsave(c)
            self.assertEqual(info_field(c, "rdb_last_bgsave_status"), "err")
            self.assertTrue(c.cmd("SET", "b", "2").message.startswith(
                "MISCONF Redis is configured to save RDB snapshots, but it's currently unable"))
            self.assertTrue(c.cmd("PING").message.startswith("MISCONF "))
            self.assertEqual(c.cmd("GET", "a"), b"1")
            self.assertEqual(c.cmd("CONFIG", "SET", "stop-writes-on-bgsave-error", "no"), "OK")
            self.assertEqual(c.cmd("SET", "b", "2"), "OK")
            self.assertEqual(c.cmd("CONFIG", "SET", "stop-writes-on-bgsave-error", "yes"), "OK")
            self.assertIsInstance(c.cmd("SAVE"), Error)
            os.rmdir(os.path.join(srv.dir, "dump.rdb"))
            self.assertEqual(c.cmd("SAVE"), "OK")
            self.assertEqual(info_field(c, "rdb_last_bgsave_status"), "ok")
            self.assertEqual(c.cmd("SET", "c", "3"), "OK")
        self.assertEqual(sorted(os.listdir(srv.dir)), ["dump.rdb"])

    def test_protected_configs_refused_by_default(self):
        srv = self.start()
        with Client(srv.port) as c:
            for name in ("dir", "dbfilename"):
                e = c.cmd("CONFIG", "SET", name, "x")
                self.assertEqual(e.message, "ERR CONFIG SET failed (possibly related to argument "
                                 "'%s') - can't set protected config" % name)

    def test_config_directives(self):
        srv = self.start("--enable-protected-configs", "yes")
        with Client(srv.port) as c:
            self.assertEqual(c.cmd("CONFIG", "GET", "dir"),
                             [b"dir", os.path.realpath(srv.dir).encode()])
            self.assertEqual(c.cmd("CONFIG", "GET", "dbfilename"), [b"dbfilename", b"dump.rdb"])
            self.assertEqual(c.cmd("CONFIG", "GET", "rdbcompression"), [b"rdbcompression", b"yes"])
            self.assertEqual(c.cmd("CONFIG", "GET", "rdbchecksum"), [b"rdbchecksum", b"yes"])
            self.assertEqual(c.cmd("CONFIG", "SET", "save", "100 10 60 1000"), "OK")
            self.assertEqual(c.cmd("CONFIG", "GET", "save"), [b"save", b"100 10 60 1000"])
            e = c.cmd("CONFIG", "SET", "save", "100 10 60")
            self.assertIn("Invalid save parameters", e.message)
            e = c.cmd("CONFIG", "SET", "dbfilename", "a/b.rdb")
            self.assertIn("dbfilename can't be a path, just a filename", e.message)
            self.assertEqual(c.cmd("CONFIG", "SET", "dbfilename", "other.rdb"), "OK")
            sub = os.path.join(srv.dir, "sub")
            os.mkdir(sub)
            self.assertEqual(c.cmd("CONFIG", "SET", "dir", sub), "OK")
            c.cmd("SET", "k", "v")
            self.assertEqual(c.cmd("SAVE"), "OK")
            self.assertTrue(os.path.exists(os.path.join(sub, "other.rdb")))
            e = c.cmd("CONFIG", "SET", "dir", os.path.join(srv.dir, "missing"))
            self.assertIn("No such file or directory", e.message)


class BadFiles(PersistBase):

    def saved_server(self):
        srv = self.start()
        with Client(srv.port) as c:
            fill(c)
            self.assertEqual(c.cmd("SAVE"), "OK")
        srv.stop()
        return srv, os.path.join(srv.dir, "dump.rdb")

    def assert_refused(self, srv, words):
        with self.assertRaises(RuntimeError) as cm:
            srv.start()
        if not reference_mode():
            for w in words:
                self.assertIn(w, str(cm.exception))

    def test_truncated_file_refused(self):
        srv, path = self.saved_server()
        with open(path, "rb") as f:
            data = f.read()
        with open(path, "wb") as f:
            f.write(data[:len(data) // 2])
        self.assert_refused(srv, ["offset"])

    def test_flipped_byte_refused(self):
        srv, path = self.saved_server()
        with open(path, "r+b") as f:
            f.seek(os.path.getsize(path) - 20)
            b = f.read(1)
            f.seek(-1, 1)
            f.write(bytes([b[0] ^ 0x40]))
        self.assert_refused(srv, [])

    def test_not_an_rdb_refused(self):
        srv, path = self.saved_server()
        with open(path, "wb") as f:
            f.write(b"this is not a dump file at all")
        self.assert_refused(srv, ["Wrong signature"])


@unittest.skipIf(reference_mode(), "the server under test is redis-server")
class Interop(PersistBase):

    def setUp(self):
        super().setUp()
        if not os.access(live_redis_binary(), os.X_OK):
            self.skipTest("%s not found" % live_redis_binary())

    def test_redis_check_rdb_and_redis_server_load_ours(self):
        srv = self.start()
        with Client(srv.port) as c:
            fill(c)
            c.cmd("FUNCTION", "LOAD", LIB)
            before = state(c)
            self.assertEqual(c.cmd("SAVE"), "OK")
        path = os.path.join(srv.dir, "dump.rdb")
        check = shutil.which("redis-check-rdb")
        if check:
            out = subprocess.run([check, path], capture_output=True, text=True, timeout=60)
            self.assertEqual(out.returncode, 0, out.stdout + out.stderr)
            self.assertIn("RDB looks OK", out.stdout)
        ref = LiveRedisServer()
        ref.dir = tempfile.mkdtemp(prefix="shardis-dir-")
        shutil.copy(path, os.path.join(ref.dir, "dump.rdb"))
        self.servers.append(ref)
        ref.start()
        with Client(ref.port) as c:
            self.assertEqual(state(c), before)
            self.assertEqual(c.cmd("FCALL", "pfn", "0"), 42)

    def test_we_load_redis_servers_file(self):
        ref = LiveRedisServer()
        self.servers.append(ref)
        ref.start()
        with Client(ref.port) as c:
            fill(c)
            c.cmd("FUNCTION", "LOAD", LIB)
            before = state(c)
            self.assertEqual(c.cmd("SAVE"), "OK")
        srv = Server()
        srv.dir = tempfile.mkdtemp(prefix="shardis-dir-")
        shutil.copy(os.path.join(ref.dir, "dump.rdb"), os.path.join(srv.dir, "dump.rdb"))
        self.start(srv=srv)
        with Client(srv.port) as c:
            self.assertEqual(state(c), before)
            self.assertEqual(c.cmd("FCALL", "pfn", "0"), 42)
            self.assertEqual(c.cmd("OBJECT", "ENCODING", "l:small"), b"quicklist")
            self.assertEqual(c.cmd("OBJECT", "ENCODING", "h:big"), b"hashtable")

    def test_flushall_stops_a_running_bgsave(self):
        srv = self.start()
        with Client(srv.port) as c:
            for b in range(0, 100000, 2000):
                args = []
                for i in range(b, b + 2000):
                    args += ["k%d" % i, "v" * 50]
                c.cmd("MSET", *args)
            self.assertEqual(c.cmd("BGSAVE"), "Background saving started")
            self.assertEqual(c.cmd("FLUSHALL"), "OK")
            wait_bgsave(c)
            self.assertEqual(info_field(c, "rdb_last_bgsave_status"), "ok")
            self.assertEqual(c.cmd("DBSIZE"), 0)
            c.cmd("SET", "after", "1")
            self.assertEqual(c.cmd("SAVE"), "OK")
        self.assertEqual(sorted(os.listdir(srv.dir)), ["dump.rdb"])
        self.restart(srv)
        with Client(srv.port) as c:
            self.assertEqual(c.cmd("KEYS", "*"), [b"after"])


if __name__ == "__main__":
    unittest.main()
