"""A shard's log lines reach the log through its per-core buffer: written by
its own ring while it runs, the last ones when it exits, and those of a
shard that failed to start (written synchronously when it detaches)."""
import os
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import (Server, ServerTestCase, free_port, reference_mode,  # noqa: E402
                     server_binary)

# "pid:S<n> dd Mon yyyy hh:mm:ss.mmm <mark> message": a shard's line, whole
SHARD_LINE = r"^\d+:S\d+ \d\d \w{3} \d{4} \d\d:\d\d:\d\d\.\d{3} %s %s$"


def shard_line(mark, message):
    return re.compile(SHARD_LINE % (re.escape(mark), message), re.M)


class TestRunningShardLog(ServerTestCase):
    """The log is the harness's stderr file, which is not O_APPEND."""
    fresh_server_per_test = True
    server_args = ("--loglevel", "verbose", "--timeout", "1")

    def setUp(self):
        if reference_mode():
            self.skipTest("shardis's own log layout")
        super().setUp()

    def test_a_running_shard_writes_its_lines_to_the_log(self):
        c = self.client()
        self.assertEqual(c.cmd("PING"), "PONG")
        # the idle timeout (1 s) closes it on its shard, which logs it
        self.assertTrue(c.is_closed(timeout=5.0))
        pattern = shard_line("-", r"Closing idle client \S+")
        self.wait_until(lambda: pattern.search(self.server.log_text()), timeout=5.0,
                        msg="no shard line in the log:\n" + self.server.log_text())
        self.assertTrue(self.server.alive())


class TestShardLogAtExit(unittest.TestCase):

    def setUp(self):
        if reference_mode():
            self.skipTest("shardis's own log layout")
        self.tmp = tempfile.mkdtemp(prefix="shardis-log-")
        self.log = os.path.join(self.tmp, "shardis.log")

    def tearDown(self):
        shutil.rmtree(self.tmp, ignore_errors=True)

    def read_log(self):
        with open(self.log) as f:
            return f.read()

    def test_a_shards_last_line_reaches_the_log_file_when_it_exits(self):
        srv = Server(args=["--logfile", self.log]).start()
        try:
            c = srv.client()
            c.send_command("SHUTDOWN")
            self.assertTrue(c.is_closed(timeout=5.0))
            c.close()
            self.assertEqual(srv.wait_exit(timeout=10.0), 0)
            self.assertRegex(self.read_log(),
                             shard_line("#", re.escape("User requested shutdown...")))
        finally:
            srv.stop()
            srv.cleanup()

    def test_a_shard_that_cannot_listen_logs_why(self):
        # a listener without SO_REUSEPORT on the port: the shard's bind fails
        # during its start-up, before its ring runs any write
        blocker = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        blocker.bind(("127.0.0.1", 0))
        blocker.listen(1)
        port = blocker.getsockname()[1]
        try:
            p = subprocess.run([server_binary(), "--bind", "127.0.0.1", "--port", str(port),
                                "--shards", "1", "--logfile", self.log],
                               stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                               stderr=subprocess.DEVNULL, timeout=10)
        finally:
            blocker.close()
        self.assertNotEqual(p.returncode, 0)
        self.assertRegex(self.read_log(), shard_line(
            "#", r"Could not create server TCP listening socket 127\.0\.0\.1:%d: .+" % port))


if __name__ == "__main__":
    unittest.main()
