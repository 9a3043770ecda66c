"""Busy scripts: busy-reply-threshold (alias lua-time-limit), -BUSY replies to
other clients, SCRIPT KILL / FUNCTION KILL, UNKILLABLE scripts that wrote,
and SHUTDOWN NOSAVE while a script runs.

Each test runs on a server of its own with busy-reply-threshold 100 ms. A
looping script is sent without waiting; other connections (several, so that
with several shards some of them live on other cores than the script) must
all get -BUSY. A test always ends with its script killed or the server shut
down: tearDown kills what is left and fails the test if it had to. Every test
passes against redis-server too (SHARDIS_REFERENCE=redis).
"""

import hashlib
import os
import socket
import sys
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import Client, ConnectionClosed, Error, ServerTestCase  # noqa: E402

THRESHOLD_MS = 100
WAIT = 5.0  # seconds to wait for a script to be seen busy, killed, ...

BUSY_SCRIPT = ("BUSY Redis is busy running a script. You can only call SCRIPT KILL or "
               "SHUTDOWN NOSAVE.")
BUSY_FUNCTION = ("BUSY Redis is busy running a script. You can only call FUNCTION KILL or "
                 "SHUTDOWN NOSAVE.")
UNKILLABLE = ("UNKILLABLE Sorry the script already executed write commands against the "
              "dataset. You can either wait the script termination or kill the server in a "
              "hard way using the SHUTDOWN NOSAVE command.")
NOTBUSY = "NOTBUSY No scripts in execution right now."

LOOP = "while true do end"
WRITE_LOOP = "redis.call('SET', KEYS[1], 'written') while true do end"
# a script that keeps the server busy for ms milliseconds by itself (reads only)
TIMED = ("local t0 = redis.call('TIME') while true do local t = redis.call('TIME') "
         "if (t[1] - t0[1]) * 1000000 + (t[2] - t0[2]) > %d * 1000 then break end end "
         "return 'done'")

BUSY_LIB = "\n".join([
    "#!lua name=busylib",
    "redis.register_function{function_name='spin', callback=function() while true do end end, "
    "flags={'no-writes'}}",
    "redis.register_function('spin_rw', function() while true do end end)",
    "redis.register_function('spin_w', function(keys) redis.call('SET', keys[1], 'written') "
    "while true do end end)",
])


def sha1(s):
    return hashlib.sha1(s.encode()).hexdigest()


def killed(where):
    return Error("ERR Script killed by user with SCRIPT KILL... script: %s." % where)


class TestBusyConfig(ServerTestCase):

    def test_threshold_and_its_alias(self):
        self.assertEqual(self.r.cmd("CONFIG", "GET", "busy-reply-threshold"),
                         [b"busy-reply-threshold", b"5000"])
        self.assertEqual(self.r.cmd("CONFIG", "GET", "lua-time-limit"),
                         [b"lua-time-limit", b"5000"])
        self.assertOK(self.r.cmd("CONFIG", "SET", "busy-reply-threshold", "100"))
        self.assertEqual(self.r.cmd("CONFIG", "GET", "lua-time-limit"),
                         [b"lua-time-limit", b"100"])
        self.assertOK(self.r.cmd("CONFIG", "SET", "lua-time-limit", "250"))
        self.assertEqual(self.r.cmd("CONFIG", "GET", "busy-reply-threshold"),
                         [b"busy-reply-threshold", b"250"])
        self.assertEqual(self.r.cmd("CONFIG", "SET", "busy-reply-threshold", "abc"), Error(
            "ERR CONFIG SET failed (possibly related to argument 'busy-reply-threshold') - "
            "argument couldn't be parsed into an integer"))
        self.assertEqual(self.r.cmd("CONFIG", "SET", "lua-time-limit", "-1"), Error(
            "ERR CONFIG SET failed (possibly related to argument 'lua-time-limit') - "
            "argument must be between 0 and 9223372036854775807 inclusive"))
        self.assertOK(self.r.cmd("CONFIG", "SET", "busy-reply-threshold", "5000"))

    def test_kill_when_idle(self):
        self.assertEqual(self.r.cmd("SCRIPT", "KILL"), Error(NOTBUSY))
        self.assertEqual(self.r.cmd("FUNCTION", "KILL"), Error(NOTBUSY))
        self.assertEqual(self.r.cmd("SCRIPT", "KILL", "x"),
                         Error("ERR wrong number of arguments for 'script|kill' command"))
        self.assertEqual(self.r.cmd("FUNCTION", "KILL", "x"),
                         Error("ERR wrong number of arguments for 'function|kill' command"))
        # a script that ended is not running
        self.assertEqual(self.r.cmd("EVAL", "return 1", "0"), 1)
        self.assertEqual(self.r.cmd("SCRIPT", "KILL"), Error(NOTBUSY))


class BusyTestCase(ServerTestCase):
    fresh_server_per_test = True

    def setUp(self):
        self._callers = []
        self._started = False
        super().setUp()
        try:
            self.prepare()
        except BaseException:
            # unittest skips tearDown when setUp fails: stop this test's server here
            try:
                self.tearDown()
            except Exception:  # noqa: BLE001
                pass
            raise

    def prepare(self):
        self.assertOK(self.r.cmd("CONFIG", "SET", "busy-reply-threshold", str(THRESHOLD_MS)))
        self.assertOK(self.r.cmd("FUNCTION", "FLUSH"))

    def tearDown(self):
        stuck = None
        if self._started and self.server.alive():
            stuck = self._settle()
            if stuck:
                self.expect_exit = True
                self.server._force_stop()
        try:
            if stuck:
                self.fail("a script was still running at the end of the test (%s); "
                          "the server was killed" % stuck)
        finally:
            super().tearDown()

    # ---- helpers -----------------------------------------------------

    def conn(self, timeout=WAIT):
        return self.client(timeout=timeout)

    def start_script(self, *command):
        """Send a (looping) script command on a connection of its own, without
        waiting. Returns that connection."""
        c = self.conn()
        c.send_command(*command)
        self._callers.append(c)
        self._started = True
        return c

    def reply_of(self, caller):
        """The caller's reply (once its script ended)."""
        reply = caller.read_reply()
        self._callers.remove(caller)
        return reply

    def wait_busy(self, expected):
        """Wait until another connection gets -BUSY (the script passed the
        threshold); the error text must be `expected`."""
        deadline = time.monotonic() + WAIT
        last = None
        while time.monotonic() < deadline:
            with Client(self.port, timeout=2.0) as probe:
                try:
                    last = probe.cmd("GET", "probe")
                except socket.timeout:
                    last = "no reply within 2 s"
                    continue
            if isinstance(last, Error):
                self.assertEqual(last, Error(expected))
                return
            time.sleep(0.01)
        self.fail("no connection saw the script busy within %.0f s (last reply %r)"
                  % (WAIT, last))

    def assert_all_busy(self, conns, expected):
        for i, c in enumerate(conns):
            for cmd in (("GET", "busy:%d" % i), ("SET", "busy:%d" % i, "x"), ("PING",),
                        ("EVAL", "return 1", "0"), ("INCR", "n:%d" % i)):
                self.assertEqual(c.cmd(*cmd), Error(expected), "connection %d: %r" % (i, cmd))

    def assert_all_serve(self, conns):
        for i, c in enumerate(conns):
            self.assertEqual(c.raw("PING"), b"+PONG\r\n", "connection %d" % i)
            self.assertOK(c.cmd("SET", "after:%d" % i, "v%d" % i))
            self.assertEqual(c.cmd("GET", "after:%d" % i), b"v%d" % i)

    def _settle(self):
        """Stop whatever script still runs: kill it, or SHUTDOWN NOSAVE if it
        wrote. None when the server is idle (or gone) in the end, else why not."""
        deadline = time.monotonic() + WAIT
        why = "no reply"
        while time.monotonic() < deadline and self.server.alive():
            try:
                with Client(self.port, timeout=1.0) as c:
                    reply = c.cmd("SCRIPT", "KILL")
                    if reply == Error(BUSY_FUNCTION):
                        reply = c.cmd("FUNCTION", "KILL")
                    if reply == Error(UNKILLABLE):
                        self.expect_exit = True
                        c.send_command("SHUTDOWN", "NOSAVE")
                        self.server.wait_exit(WAIT)
                        break
                    why = repr(reply)
                    if reply == Error(NOTBUSY):
                        break
            except (OSError, ConnectionClosed):
                why = "no reply"
            time.sleep(0.02)
        else:
            if self.server.alive():
                return why
        # every caller must have its reply (or its connection closed) by now
        for c in self._callers:
            try:
                c.timeout = 2.0
                c.read_reply()
            except socket.timeout:  # an OSError too: test it first
                return "a script's caller got no reply"
            except (ConnectionClosed, OSError):
                pass
        return None


class TestBusyEval(BusyTestCase):

    def test_busy_replies_then_script_kill(self):
        self.r.cmd("SET", "k", "before")
        caller = self.start_script("EVAL", LOOP, "0")
        self.wait_busy(BUSY_SCRIPT)
        others = [self.conn() for _ in range(6)]
        self.assert_all_busy(others, BUSY_SCRIPT)
        # the kill of the other kind is refused; FUNCTION STATS too
        self.assertEqual(others[0].cmd("FUNCTION", "KILL"), Error(BUSY_SCRIPT))
        self.assertEqual(others[1].cmd("FUNCTION", "STATS"), Error(BUSY_SCRIPT))
        self.assertEqual(others[2].cmd("SHUTDOWN"), Error(BUSY_SCRIPT))
        self.assertEqual(others[3].raw("SCRIPT", "KILL"), b"+OK\r\n")
        self.assertEqual(self.reply_of(caller), killed("%s, on @user_script:1" % sha1(LOOP)))
        self.assertEqual(others[4].cmd("SCRIPT", "KILL"), Error(NOTBUSY))
        self.assert_all_serve(others + [caller])
        self.assertEqual(self.r.cmd("GET", "k"), b"before")
        self.assertTrue(self.server.alive())

    def test_read_only_scripts_are_killed_too(self):
        body = "#!lua flags=no-writes\n" + LOOP
        for cmd, where in [(("EVAL_RO", LOOP, "0"), "%s, on @user_script:1" % sha1(LOOP)),
                           (("EVAL", body, "0"), "%s, on @user_script:2" % sha1(body))]:
            with self.subTest(cmd=cmd[0]):
                caller = self.start_script(*cmd)
                self.wait_busy(BUSY_SCRIPT)
                self.assertOK(self.conn().cmd("SCRIPT", "KILL"))
                self.assertEqual(self.reply_of(caller), killed(where))

    def test_evalsha_is_killed(self):
        sha = self.r.cmd("SCRIPT", "LOAD", LOOP).decode()
        caller = self.start_script("EVALSHA", sha, "1", "some:key")
        self.wait_busy(BUSY_SCRIPT)
        self.assert_all_busy([self.conn() for _ in range(4)], BUSY_SCRIPT)
        self.assertOK(self.conn().cmd("SCRIPT", "KILL"))
        self.assertEqual(self.reply_of(caller), killed("%s, on @user_script:1" % sha))

    def test_transactions_and_pipelines_while_busy(self):
        caller = self.start_script("EVAL", LOOP, "0")
        self.wait_busy(BUSY_SCRIPT)
        c = self.conn()
        # MULTI is let through, the queued command is refused: EXEC aborts
        self.assertOK(c.cmd("MULTI"))
        self.assertEqual(c.cmd("GET", "k"), Error(BUSY_SCRIPT))
        self.assertEqual(c.cmd("EXEC"), Error(
            "EXECABORT Transaction discarded because of: " + BUSY_SCRIPT))
        self.assertOK(c.cmd("MULTI"))
        self.assertOK(c.cmd("DISCARD"))
        # a pipeline gets one -BUSY per command
        p = self.conn()
        p.send(b"".join(b"*2\r\n$3\r\nGET\r\n$%d\r\n%s\r\n" % (len(k), k)
                        for k in [b"p:%d" % i for i in range(10)]) + b"*1\r\n$4\r\nPING\r\n")
        self.assertEqual(p.read_replies(11), [Error(BUSY_SCRIPT)] * 11)
        self.assertOK(self.conn().cmd("SCRIPT", "KILL"))
        self.assertEqual(self.reply_of(caller), killed("%s, on @user_script:1" % sha1(LOOP)))
        self.assertOK(c.cmd("MULTI"))
        self.assertEqual(c.cmd("GET", "k"), "QUEUED")
        self.assertEqual(c.cmd("EXEC"), [None])

    def test_script_that_ends_by_itself(self):
        body = TIMED % 3000  # a window a loaded (sanitizer) run cannot miss
        caller = self.start_script("EVAL", body, "0")
        self.wait_busy(BUSY_SCRIPT)
        others = [self.conn() for _ in range(4)]
        for i, c in enumerate(others):
            self.assertEqual(c.cmd("GET", "own:%d" % i), Error(BUSY_SCRIPT))
        self.assertEqual(self.reply_of(caller), b"done")
        self.assertEqual(others[0].cmd("SCRIPT", "KILL"), Error(NOTBUSY))
        self.assert_all_serve(others + [caller])

    def test_commands_sent_before_the_threshold_get_busy(self):
        # Commands for the script's key sent while the script runs but before
        # it passed the threshold: Redis reads them once it is busy and
        # answers -BUSY. In shardis those sent from other shards were already
        # in the owner's mailbox; they used to wait for the script's end.
        self.r.cmd("SET", "early", "v")
        caller = self.start_script("EVAL", TIMED % 1000, "1", "early")
        time.sleep(0.02)
        conns = [self.conn() for _ in range(8)]
        for c in conns:
            c.send_command("GET", "early")
        for i, c in enumerate(conns):
            self.assertEqual(c.read_reply(), Error(BUSY_SCRIPT), "connection %d" % i)
        self.assertEqual(self.reply_of(caller), b"done")
        self.assertEqual(conns[0].cmd("GET", "early"), b"v")

    def test_writer_is_unkillable_until_it_ends(self):
        body = ("redis.call('SET', KEYS[1], 'written') " + TIMED % 3000)
        caller = self.start_script("EVAL", body, "1", "wk")
        self.wait_busy(BUSY_SCRIPT)
        c = self.conn()
        self.assertEqual(c.cmd("SCRIPT", "KILL"), Error(UNKILLABLE))
        self.assertEqual(c.cmd("FUNCTION", "KILL"), Error(UNKILLABLE))
        self.assertEqual(c.cmd("GET", "wk"), Error(BUSY_SCRIPT))
        self.assertEqual(self.reply_of(caller), b"done")
        self.assertEqual(c.cmd("GET", "wk"), b"written")
        self.assertEqual(c.cmd("SCRIPT", "KILL"), Error(NOTBUSY))

    def test_zero_threshold_never_replies_busy(self):
        self.assertOK(self.r.cmd("CONFIG", "SET", "busy-reply-threshold", "0"))
        self.r.cmd("SET", "k", "v")
        caller = self.start_script("EVAL", TIMED % 300, "0")
        time.sleep(0.05)
        for c in [self.conn() for _ in range(4)]:
            self.assertEqual(c.cmd("GET", "k"), b"v")
        self.assertEqual(self.reply_of(caller), b"done")


class TestBusyFunction(BusyTestCase):

    def prepare(self):
        super().prepare()
        self.assertEqual(self.r.cmd("FUNCTION", "LOAD", BUSY_LIB), b"busylib")

    def test_busy_replies_then_function_kill(self):
        self.r.cmd("SET", "k", "before")
        caller = self.start_script("FCALL", "spin", "0")
        self.wait_busy(BUSY_FUNCTION)
        others = [self.conn() for _ in range(6)]
        self.assert_all_busy(others, BUSY_FUNCTION)
        for cmd in [("FCALL", "spin", "0"), ("FUNCTION", "LIST"), ("FUNCTION", "DELETE", "busylib"),
                    ("FUNCTION", "FLUSH"), ("SCRIPT", "KILL"), ("SHUTDOWN",)]:
            self.assertEqual(others[0].cmd(*cmd), Error(BUSY_FUNCTION), cmd)
        self.assertEqual(others[1].raw("FUNCTION", "KILL"), b"+OK\r\n")
        self.assertEqual(self.reply_of(caller), killed("spin, on @user_function:2"))
        self.assertEqual(others[2].cmd("FUNCTION", "KILL"), Error(NOTBUSY))
        self.assert_all_serve(others + [caller])
        self.assertEqual(self.r.cmd("GET", "k"), b"before")

    def test_function_stats_while_busy(self):
        caller = self.start_script("FCALL_RO", "spin", "1", "key1", "arg1")
        self.wait_busy(BUSY_FUNCTION)
        stats = self.conn().cmd("FUNCTION", "STATS")
        self.assertEqual(stats[0], b"running_script")
        running = stats[1]
        self.assertEqual(running[0:4], [b"name", b"spin", b"command",
                                        [b"FCALL_RO", b"spin", b"1", b"key1", b"arg1"]])
        self.assertEqual(running[4], b"duration_ms")
        self.assertGreaterEqual(running[5], THRESHOLD_MS)
        self.assertLess(running[5], 60000)
        self.assertEqual(stats[2:], [b"engines", [b"LUA", [b"libraries_count", 1,
                                                           b"functions_count", 3]]])
        c3 = self.conn()
        self.assertEqual(c3.cmd("HELLO", "3")[b"proto"], 3)
        stats = c3.cmd("FUNCTION", "STATS")
        self.assertEqual(list(stats.keys()), [b"running_script", b"engines"])
        self.assertEqual(list(stats[b"running_script"].keys()),
                         [b"name", b"command", b"duration_ms"])
        self.assertEqual(stats[b"running_script"][b"name"], b"spin")
        self.assertEqual(stats[b"engines"],
                         {b"LUA": {b"libraries_count": 1, b"functions_count": 3}})
        self.assertOK(c3.cmd("FUNCTION", "KILL"))
        self.assertEqual(self.reply_of(caller), killed("spin, on @user_function:2"))
        self.assertIsNone(c3.cmd("FUNCTION", "STATS")[b"running_script"])

    def test_function_without_no_writes_flag_is_killed_if_it_did_not_write(self):
        caller = self.start_script("FCALL", "spin_rw", "1", "k")
        self.wait_busy(BUSY_FUNCTION)
        self.assert_all_busy([self.conn() for _ in range(4)], BUSY_FUNCTION)
        self.assertOK(self.conn().cmd("FUNCTION", "KILL"))
        self.assertEqual(self.reply_of(caller), killed("spin_rw, on @user_function:3"))
        self.assertIsNone(self.r.cmd("GET", "k"))


class TestBusyShutdown(BusyTestCase):

    def shutdown_nosave(self, caller, others):
        self.expect_exit = True
        c = self.conn()
        c.send_command("SHUTDOWN", "NOSAVE")
        self.assertTrue(c.is_closed(timeout=WAIT))
        for o in others + [caller]:
            self.assertTrue(o.is_closed(timeout=WAIT))
        self._callers.remove(caller)
        self.assertEqual(self.server.wait_exit(timeout=WAIT), 0)

    def test_eval_that_wrote_then_shutdown_nosave(self):
        caller = self.start_script("EVAL", WRITE_LOOP, "1", "wk")
        self.wait_busy(BUSY_SCRIPT)
        others = [self.conn() for _ in range(4)]
        self.assert_all_busy(others, BUSY_SCRIPT)
        self.assertEqual(others[0].cmd("SCRIPT", "KILL"), Error(UNKILLABLE))
        self.assertEqual(others[1].cmd("FUNCTION", "KILL"), Error(UNKILLABLE))
        self.assertEqual(others[2].cmd("SHUTDOWN"), Error(BUSY_SCRIPT))
        self.assertEqual(others[3].cmd("GET", "wk"), Error(BUSY_SCRIPT))
        self.shutdown_nosave(caller, others)

    def test_function_that_wrote_then_shutdown_nosave(self):
        self.assertEqual(self.r.cmd("FUNCTION", "LOAD", BUSY_LIB), b"busylib")
        caller = self.start_script("FCALL", "spin_w", "1", "wk")
        self.wait_busy(BUSY_FUNCTION)
        others = [self.conn() for _ in range(4)]
        self.assert_all_busy(others, BUSY_FUNCTION)
        self.assertEqual(others[0].cmd("FUNCTION", "KILL"), Error(UNKILLABLE))
        self.assertEqual(others[1].cmd("SCRIPT", "KILL"), Error(UNKILLABLE))
        self.assertEqual(others[2].cmd("SHUTDOWN"), Error(BUSY_FUNCTION))
        stats = others[3].cmd("FUNCTION", "STATS")
        self.assertEqual(stats[1][1], b"spin_w")
        self.shutdown_nosave(caller, others)

    def test_shutdown_nosave_of_a_killable_script(self):
        caller = self.start_script("EVAL", LOOP, "0")
        self.wait_busy(BUSY_SCRIPT)
        self.shutdown_nosave(caller, [self.conn() for _ in range(3)])


if __name__ == "__main__":
    unittest.main()
