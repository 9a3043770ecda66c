"""CLIENT REPLY, PAUSE, UNPAUSE, NO-EVICT and CLIENT LIST/INFO's buffer
fields (issue 15), with Redis 7.0's replies and errors.

REPLY OFF/SKIP drop a connection's replies, including the ones that come
back later from other shards (keys spread over owners with 4 shards), while
pushes (pub/sub messages) are still delivered, as in redis-server 7.0.15.
PAUSE holds, on every core, the commands of its mode (WRITE: writes and
may-replicate commands such as EVAL, PUBLISH, PFCOUNT; ALL: everything,
CLIENT UNPAUSE included) until UNPAUSE or its timeout; held commands keep
their order. Every test passes against redis-server 7.0
(SHARDIS_REFERENCE=redis).
"""
import os
import socket
import sys
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import (Error, Push, ServerTestCase, encode_command,  # noqa: E402
                     reference_mode, shard_count)

KEYS = ["k%d" % i for i in range(12)]  # several owners with 4 shards


def fields(line):
    line = line.decode() if isinstance(line, bytes) else line
    return dict(kv.split("=", 1) for kv in line.strip().split(" "))


class ClientCmdsTests(ServerTestCase):

    def tearDown(self):
        if self.server.alive():
            with self.client() as c:
                c.cmd("CLIENT", "UNPAUSE")
        super().tearDown()

    def silent(self, c, wait=0.3):
        """True if nothing arrives on c within wait seconds."""
        c.sock.settimeout(wait)
        try:
            data = c.sock.recv(1 << 16)
        except socket.timeout:
            return True
        c.buf += data
        return False

    # ---- CLIENT REPLY -------------------------------------------------

    def test_reply_errors(self):
        self.assertEqual(self.r.cmd("CLIENT", "REPLY", "maybe"), Error("ERR syntax error"))
        self.assertEqual(self.r.cmd("CLIENT", "REPLY"),
                         Error("ERR wrong number of arguments for 'client|reply' command"))
        self.assertEqual(self.r.cmd("CLIENT", "REPLY", "ON", "ON"),
                         Error("ERR wrong number of arguments for 'client|reply' command"))
        self.assertEqual(self.r.cmd("CLIENT", "REPLY", "on"), "OK")

    def test_reply_off_drops_everything_until_on(self):
        c = self.client()
        cmds = [("CLIENT", "REPLY", "OFF")]
        for i, k in enumerate(KEYS):
            cmds += [("SET", k, str(i)), ("GET", k), ("INCR", k)]
        cmds += [("NOSUCHCMD",), ("LPUSH", "k0", "x"), ("MGET",) + tuple(KEYS)]
        cmds += [("DBSIZE",), ("CLIENT", "REPLY", "SKIP")]
        c.send(b"".join(encode_command(*a) for a in cmds))
        self.assertTrue(self.silent(c))
        self.assertEqual(c.cmd("CLIENT", "REPLY", "ON"), "OK")
        self.assertEqual(c.cmd("GET", "k5"), b"6")
        self.assertEqual(c.cmd("MGET", "k0", "k11"), [b"1", b"12"])
        self.assertTrue(self.silent(c, 0.1))

    def test_reply_skip_drops_the_next_reply_only(self):
        c = self.client()
        c.send(b"".join(encode_command(*a) for a in [
            ("CLIENT", "REPLY", "SKIP"), ("SET", "k1", "a"),
            ("SET", "k2", "b"),
            ("CLIENT", "REPLY", "SKIP"), ("CLIENT", "REPLY", "SKIP"), ("GET", "k1"),
            ("GET", "k2"),
            ("CLIENT", "REPLY", "SKIP"), ("GET", "k3"), ("MGET", "k1", "k2", "k3"),
        ]))
        self.assertEqual(c.read_replies(3), ["OK", b"b", [b"a", b"b", None]])
        self.assertTrue(self.silent(c))

    def test_reply_on_after_skip_answers(self):
        c = self.client()
        c.send(encode_command("CLIENT", "REPLY", "SKIP") +
               encode_command("CLIENT", "REPLY", "ON") + encode_command("PING"))
        self.assertEqual(c.read_replies(2), ["OK", "PONG"])

    def test_reset_ends_reply_off_and_skip(self):
        # RESET is CLIENT REPLY ON too (Redis's clearClientConnectionState)
        c = self.client()
        c.send(encode_command("CLIENT", "REPLY", "OFF") + encode_command("SET", "k1", "a") +
               encode_command("RESET") + encode_command("ECHO", "hi"))
        self.assertEqual(c.read_replies(2), ["RESET", b"hi"])
        c.send(encode_command("CLIENT", "REPLY", "SKIP") + encode_command("RESET") +
               encode_command("GET", "k1"))
        self.assertEqual(c.read_replies(1), [b"a"])
        self.assertTrue(self.silent(c, 0.1))

    def test_reply_off_with_slow_remote_replies(self):
        # many pipelined commands over every owner, some replies big, so some
        # are still in flight when REPLY ON's +OK is written
        c = self.client()
        big = "v" * 5000
        parts = [encode_command("SET", k, big) for k in KEYS]
        parts.append(encode_command("CLIENT", "REPLY", "OFF"))
        for _ in range(20):
            parts += [encode_command("GET", k) for k in KEYS]
            parts.append(encode_command("MGET", *KEYS))
        parts.append(encode_command("CLIENT", "REPLY", "ON"))
        parts.append(encode_command("STRLEN", "k7"))
        c.send(b"".join(parts))
        self.assertEqual(c.read_replies(len(KEYS) + 2), ["OK"] * len(KEYS) + ["OK", 5000])
        self.assertTrue(self.silent(c))

    def test_reply_off_still_delivers_pushes(self):
        sub = self.client()
        self.assertIsInstance(sub.cmd("HELLO", "3"), dict)
        self.assertEqual(sub.cmd("SUBSCRIBE", "ch1"), Push([b"subscribe", b"ch1", 1]))
        sub.send_command("CLIENT", "REPLY", "OFF")
        sub.send_command("PING")
        time.sleep(0.1)
        self.assertEqual(self.r.cmd("PUBLISH", "ch1", "hello"), 1)
        self.assertEqual(sub.read_reply(), Push([b"message", b"ch1", b"hello"]))
        self.assertEqual(sub.cmd("CLIENT", "REPLY", "ON"), "OK")

    def test_reply_skip_of_a_blocked_command_served_later(self):
        c = self.client()
        c.send(encode_command("CLIENT", "REPLY", "SKIP") + encode_command("BLPOP", "k9", "0") +
               encode_command("GET", "k9"))
        time.sleep(0.2)
        self.assertEqual(self.r.cmd("LPUSH", "k9", "a"), 1)
        self.assertEqual(c.read_reply(), None)
        self.assertEqual(c.cmd("ECHO", "x"), b"x")
        self.assertTrue(self.silent(c, 0.1))

    # ---- CLIENT NO-EVICT ----------------------------------------------

    def test_no_evict(self):
        self.assertEqual(self.r.cmd("CLIENT", "NO-EVICT", "on"), "OK")
        self.assertIn("e", fields(self.r.cmd("CLIENT", "INFO"))["flags"])
        self.assertEqual(self.r.cmd("CLIENT", "NO-EVICT", "OFF"), "OK")
        self.assertEqual(fields(self.r.cmd("CLIENT", "INFO"))["flags"], "N")
        self.assertEqual(self.r.cmd("CLIENT", "NO-EVICT", "yes"), Error("ERR syntax error"))
        self.assertEqual(self.r.cmd("CLIENT", "NO-EVICT"),
                         Error("ERR wrong number of arguments for 'client|no-evict' command"))

    # ---- CLIENT PAUSE / UNPAUSE -----------------------------------------

    def test_pause_errors(self):
        r = self.r
        self.assertEqual(r.cmd("CLIENT", "PAUSE", "abc"),
                         Error("ERR timeout is not an integer or out of range"))
        self.assertEqual(r.cmd("CLIENT", "PAUSE", "1.5"),
                         Error("ERR timeout is not an integer or out of range"))
        self.assertEqual(r.cmd("CLIENT", "PAUSE", "-1"), Error("ERR timeout is negative"))
        self.assertEqual(r.cmd("CLIENT", "PAUSE", "abc", "foo"),
                         Error("ERR CLIENT PAUSE mode must be WRITE or ALL"))
        self.assertEqual(r.cmd("CLIENT", "PAUSE", "10", "READ"),
                         Error("ERR CLIENT PAUSE mode must be WRITE or ALL"))
        self.assertEqual(
            r.cmd("CLIENT", "PAUSE", "10", "WRITE", "x"),
            Error("ERR unknown subcommand or wrong number of arguments for 'PAUSE'. "
                  "Try CLIENT HELP."))
        self.assertEqual(r.cmd("CLIENT", "PAUSE"),
                         Error("ERR wrong number of arguments for 'client|pause' command"))
        self.assertEqual(r.cmd("CLIENT", "UNPAUSE", "x"),
                         Error("ERR wrong number of arguments for 'client|unpause' command"))
        self.assertEqual(r.cmd("CLIENT", "PAUSE", "0"), "OK")
        self.assertEqual(r.cmd("SET", "a", "1"), "OK")  # a pause of 0 is over
        self.assertEqual(r.cmd("CLIENT", "UNPAUSE"), "OK")

    def spread_clients(self, per_core=2):
        """per_core clients on each core (shardis numbers a client
        id*nshards + core + 1); with Redis, per_core * 4 clients."""
        n = 1 if reference_mode() else shard_count()
        want = {core: per_core for core in range(n)}
        kept = []
        for _ in range(200):
            if not any(want.values()):
                break
            c = self.client()
            core = 0 if reference_mode() else (c.cmd("CLIENT", "ID") - 1) % n
            if want[core]:
                want[core] -= 1
                kept.append(c)
            else:
                c.close()
        if reference_mode():
            kept += [self.client() for _ in range(per_core * 3)]
        self.assertFalse(any(want.values()), "could not reach every core")
        return kept

    def test_pause_write_holds_writes_not_reads_on_every_core(self):
        writers = self.spread_clients()
        readers = self.spread_clients()
        self.r.cmd("SET", "k1", "0")
        self.assertEqual(self.r.cmd("CLIENT", "PAUSE", "10000", "WRITE"), "OK")
        for i, w in enumerate(writers):
            # held in order: nothing of this pipeline runs before UNPAUSE
            w.send(encode_command("SET", KEYS[i], "w%d" % i) +
                   encode_command("APPEND", KEYS[i], "+") + encode_command("GET", KEYS[i]))
        held = self.client()
        held.send(encode_command("EVAL", "return 1", "0") +
                  encode_command("PUBLISH", "c", "m") + encode_command("PFCOUNT", "h"))
        for i, rd in enumerate(readers):
            self.assertEqual(rd.cmd("GET", "k1"), b"0")
            self.assertEqual(rd.cmd("EVAL_RO", "return 2", "0"), 2)
            self.assertEqual(rd.cmd("MULTI"), "OK")
            self.assertEqual(rd.cmd("GET", "k1"), "QUEUED")
            self.assertEqual(rd.cmd("EXEC"), [b"0"])
        for w in writers + [held]:
            self.assertTrue(self.silent(w, 0.05))
        listing = self.r.cmd("CLIENT", "LIST").decode().strip().split("\n")
        blocked = [fields(line) for line in listing if "flags=b" in line]
        self.assertEqual(len(blocked), len(writers) + 1)
        if not reference_mode():
            # shardis numbers a client id*nshards + core + 1: every core holds
            cores = {(int(f["id"]) - 1) % shard_count() for f in blocked}
            self.assertEqual(cores, set(range(shard_count())))
        self.assertEqual(sorted(f["cmd"] for f in blocked),
                         sorted(["set"] * len(writers) + ["eval"]))
        self.assertEqual(fields(listing[0])["qbuf"].isdigit(), True)
        self.assertEqual(self.r.cmd("CLIENT", "UNPAUSE"), "OK")
        for i, w in enumerate(writers):
            self.assertEqual(w.read_replies(3), ["OK", 3, ("w%d+" % i).encode()])
        self.assertEqual(held.read_replies(3), [1, 0, 0])

    def test_pause_holds_the_pipelined_write_of_the_pauser(self):
        c = self.client()
        c.send(encode_command("CLIENT", "PAUSE", "10000", "WRITE") +
               encode_command("SET", "k5", "x") + encode_command("GET", "k5"))
        self.assertEqual(c.read_reply(), "OK")
        self.assertTrue(self.silent(c, 0.2))
        self.assertEqual(self.r.cmd("GET", "k5"), None)
        self.assertEqual(self.r.cmd("CLIENT", "UNPAUSE"), "OK")
        self.assertEqual(c.read_replies(2), ["OK", b"x"])

    def test_pause_write_holds_exec_of_a_write_only(self):
        w, ro = self.client(), self.client()
        self.assertEqual(w.cmd("MULTI"), "OK")
        self.assertEqual(w.cmd("SET", "k4", "1"), "QUEUED")
        self.assertEqual(ro.cmd("MULTI"), "OK")
        self.assertEqual(ro.cmd("GET", "k4"), "QUEUED")
        self.assertEqual(self.r.cmd("CLIENT", "PAUSE", "10000", "WRITE"), "OK")
        w.send_command("EXEC")
        self.assertEqual(ro.cmd("EXEC"), [None])
        self.assertTrue(self.silent(w, 0.2))
        self.assertEqual(self.r.cmd("CLIENT", "UNPAUSE"), "OK")
        self.assertEqual(w.read_reply(), ["OK"])

    def test_pause_all_holds_everything_until_timeout(self):
        others = self.spread_clients(1)
        t0 = time.monotonic()
        self.assertEqual(self.r.cmd("CLIENT", "PAUSE", "700", "ALL"), "OK")
        for o in others:
            o.send(encode_command("PING") + encode_command("GET", "k1"))
        # even UNPAUSE waits under ALL: only the timeout ends this pause
        un = self.client()
        un.send_command("CLIENT", "UNPAUSE")
        self.r.send_command("INCR", "k2")
        for o in others:
            self.assertTrue(self.silent(o, 0.05))
        self.assertEqual(self.r.read_reply(), 1)
        self.assertGreater(time.monotonic() - t0, 0.55)
        self.assertEqual(un.read_reply(), "OK")
        for o in others:
            self.assertEqual(o.read_replies(2), ["PONG", None])

    def test_pause_timeout_expires_and_longer_one_wins(self):
        t0 = time.monotonic()
        self.assertEqual(self.r.cmd("CLIENT", "PAUSE", "800", "WRITE"), "OK")
        self.assertEqual(self.r.cmd("CLIENT", "PAUSE", "100", "WRITE"), "OK")
        w = self.client()
        w.send_command("SET", "k3", "x")
        self.assertTrue(self.silent(w, 0.4))
        self.assertEqual(w.read_reply(), "OK")
        self.assertGreater(time.monotonic() - t0, 0.7)
        self.assertLess(time.monotonic() - t0, 3.0)

    def test_pause_write_then_all_is_all_for_the_longer_time(self):
        t0 = time.monotonic()
        self.assertEqual(self.r.cmd("CLIENT", "PAUSE", "700", "WRITE"), "OK")
        self.assertEqual(self.r.cmd("GET", "k1"), None)
        self.assertEqual(self.r.cmd("CLIENT", "PAUSE", "50", "ALL"), "OK")
        c = self.client()
        c.send_command("GET", "k1")
        self.assertTrue(self.silent(c, 0.3))
        self.assertEqual(c.read_reply(), None)
        self.assertGreater(time.monotonic() - t0, 0.6)

    # ---- CLIENT LIST / INFO fields ------------------------------------

    def test_client_info_memory_fields(self):
        f = fields(self.r.cmd("CLIENT", "INFO"))
        self.assertEqual(f["argv-mem"], "10")  # "client" + "info"
        self.assertEqual(f["qbuf-free"].isdigit(), True)
        for k in ("obl", "oll", "omem", "multi-mem"):
            self.assertEqual(f[k], "0", k)
        self.assertGreater(int(f["tot-mem"]), 0)
        c = self.client()
        cid = c.cmd("CLIENT", "ID")
        c.send(b"*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$10\r\nabc")
        time.sleep(0.1)
        f = fields(self.r.cmd("CLIENT", "LIST", "ID", str(cid)))
        self.assertGreater(int(f["qbuf"]), 0)
        c.send(b"defghij\r\n")
        self.assertEqual(c.read_reply(), "OK")
        f = fields(self.r.cmd("CLIENT", "LIST", "ID", str(cid)))
        self.assertEqual(f["qbuf"], "0")
        self.assertEqual(f["cmd"], "set")
        mine = fields(self.r.cmd("CLIENT", "LIST", "ID", str(self.r.cmd("CLIENT", "ID"))))
        self.assertEqual(mine["argv-mem"], str(len("clientlistid") + len(mine["id"])))


if __name__ == "__main__":
    unittest.main()
