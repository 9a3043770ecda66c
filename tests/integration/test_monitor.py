"""MONITOR: a monitor receives one line per command of every client (on every
shard), in Redis's format, with passwords redacted and admin commands left
out; RESET and disconnecting stop it."""
import os
import re
import sys
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import Error, ServerTestCase  # noqa: E402

LINE = re.compile(r'^(\d+)\.(\d{6}) \[(\d+) (127\.0\.0\.1:\d+)\] (.*)$')


def start_monitor(server):
    m = server.client()
    assert m.cmd("MONITOR") == "OK"
    return m


def read_lines(m, n, timeout=5.0):
    """The next n monitor lines (status replies) as strings."""
    out = []
    deadline = time.monotonic() + timeout
    while len(out) < n and time.monotonic() < deadline:
        out.append(str(m.read_reply()))
    return out


class TestMonitor(ServerTestCase):

    def test_lines_have_redis_format_and_quote_arguments(self):
        with start_monitor(self.server) as m, self.server.client() as c:
            c.cmd("SET", "k", 'a"b\\c\n\x01')
            c.cmd("SELECT", "3")
            c.cmd("GET", "x")
            lines = read_lines(m, 3)
        first = LINE.match(lines[0])
        self.assertIsNotNone(first, lines[0])
        self.assertLess(abs(int(first.group(1)) - time.time()), 30)
        self.assertEqual(first.group(3), "0")
        self.assertEqual(first.group(5), '"SET" "k" "a\\"b\\\\c\\n\\x01"')
        self.assertTrue(lines[1].endswith('"SELECT" "3"'), lines[1])
        third = LINE.match(lines[2])
        self.assertEqual(third.group(3), "3")  # the db after SELECT
        self.assertEqual(third.group(5), '"GET" "x"')

    def test_commands_of_clients_on_every_shard_reach_the_monitor(self):
        clients = [self.server.client() for _ in range(8)]
        try:
            with start_monitor(self.server) as m:
                for i, c in enumerate(clients):
                    self.assertEqual(c.cmd("SET", "key%d" % i, "v%d" % i), "OK")
                lines = read_lines(m, len(clients))
                seen = sorted(LINE.match(x).group(5) for x in lines)
                want = sorted('"SET" "key%d" "v%d"' % (i, i) for i in range(len(clients)))
                self.assertEqual(seen, want)
                addrs = {LINE.match(x).group(4) for x in lines}
                self.assertEqual(len(addrs), len(clients))
        finally:
            for c in clients:
                c.close()

    def test_one_client_lines_keep_its_order(self):
        with start_monitor(self.server) as m, self.server.client() as c:
            n = 200
            c.send(b"".join(b"*3\r\n$3\r\nSET\r\n$%d\r\nk%d\r\n$1\r\nv\r\n" %
                            (len(b"k%d" % i), i) for i in range(n)))
            c.read_replies(n)
            lines = read_lines(m, n)
        keys = [LINE.match(x).group(5).split('"')[3] for x in lines]
        self.assertEqual(keys, ["k%d" % i for i in range(n)])

    def test_auth_and_hello_passwords_are_redacted(self):
        with start_monitor(self.server) as m, self.server.client() as c:
            self.assertIsInstance(c.cmd("AUTH", "user1", "secret1"), Error)
            c.cmd("HELLO", "2", "AUTH", "default", "secret2")
            c.cmd("PING")
            lines = read_lines(m, 3)
        text = "\n".join(lines)
        self.assertNotIn("secret1", text)
        self.assertNotIn("secret2", text)
        self.assertNotIn("user1", text)
        self.assertTrue(lines[0].endswith('"AUTH" "(redacted)" "(redacted)"'), lines[0])
        self.assertTrue(lines[1].endswith('"HELLO" "2" "AUTH" "(redacted)" "(redacted)"'),
                        lines[1])

    def test_admin_commands_are_not_shown(self):
        with start_monitor(self.server) as m, self.server.client() as c:
            c.cmd("CONFIG", "GET", "maxclients")
            c.cmd("ECHO", "after")
            lines = read_lines(m, 1)
        self.assertTrue(lines[0].endswith('"ECHO" "after"'), lines[0])

    def test_reset_stops_monitoring(self):
        with self.server.client() as m, self.server.client() as c:
            self.assertEqual(m.cmd("MONITOR"), "OK")
            c.cmd("SET", "a", "1")
            self.assertTrue(read_lines(m, 1)[0].endswith('"SET" "a" "1"'))
            self.assertEqual(m.cmd("RESET"), "RESET")
            c.cmd("SET", "b", "2")
            self.assertEqual(m.cmd("PING"), "PONG")  # no monitor line before it

    def test_closed_monitor_leaves_no_trace(self):
        for _ in range(3):
            m = start_monitor(self.server)
            m.close()
        with self.server.client() as c:
            for i in range(50):
                self.assertEqual(c.cmd("SET", "x%d" % i, "1"), "OK")
            self.assertTrue(self.server.alive())

    def test_monitor_takes_no_arguments(self):
        with self.server.client() as c:
            r = c.cmd("MONITOR", "extra")
        self.assertEqual(r, Error("ERR wrong number of arguments for 'monitor' command"))


class TestMonitorClientList(ServerTestCase):

    def test_client_list_shows_the_monitor_flag(self):
        with start_monitor(self.server) as m, self.server.client() as c:
            c.cmd("CLIENT", "SETNAME", "watcher-peer")
            text = c.cmd("CLIENT", "LIST")
            text = text.decode() if isinstance(text, bytes) else str(text)
            flags = [re.search(r"flags=(\S+)", line).group(1) for line in text.splitlines()
                     if "cmd=monitor" in line]
            self.assertEqual(flags, ["O"])
            del m


if __name__ == "__main__":
    unittest.main()
