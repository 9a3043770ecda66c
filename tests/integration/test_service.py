"""Running as a service: the sd_notify protocol (READY=1 once every shard
listens, STOPPING=1 on shutdown), --test-config for ExecStartPre, and the
systemd unit itself (systemd-analyze verify)."""
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import Client, free_port, reference_mode, server_binary  # noqa: E402

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..")
CONF = os.path.join(ROOT, "deploy", "shardis.conf")
UNIT = os.path.join(ROOT, "deploy", "shardis.service")


class ShardisOnly(unittest.TestCase):
    def setUp(self):
        if reference_mode():
            self.skipTest("shardis's own service integration")


class TestSdNotify(ShardisOnly):

    def receive(self, sock, timeout=10.0):
        sock.settimeout(timeout)
        return sock.recv(4096).decode()

    def test_ready_then_stopping_over_a_fake_notify_socket(self):
        tmp = tempfile.mkdtemp(prefix="shardis-notify-")
        path = os.path.join(tmp, "notify")
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        sock.bind(path)
        port = free_port()
        env = dict(os.environ, NOTIFY_SOCKET=path)
        proc = subprocess.Popen([server_binary(), "--bind", "127.0.0.1", "--port", str(port),
                                 "--shards", "2"], env=env, stdout=subprocess.DEVNULL,
                                stderr=subprocess.DEVNULL)
        try:
            ready = self.receive(sock)
            self.assertIn("READY=1", ready.split("\n"))
            # READY means every shard listens: a client is served at once
            with Client(port) as c:
                self.assertEqual(c.cmd("PING"), "PONG")
            proc.send_signal(signal.SIGTERM)
            stopping = self.receive(sock)
            self.assertIn("STOPPING=1", stopping.split("\n"))
            self.assertEqual(proc.wait(timeout=10), 0)
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
            sock.close()
            shutil.rmtree(tmp, ignore_errors=True)

    def test_abstract_notify_socket_names_work(self):
        name = "shardis-test-%d-%d" % (os.getpid(), time.monotonic_ns())
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        sock.bind("\0" + name)
        env = dict(os.environ, NOTIFY_SOCKET="@" + name)
        proc = subprocess.Popen([server_binary(), "--bind", "127.0.0.1", "--port",
                                 str(free_port()), "--shards", "1"], env=env,
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            self.assertIn("READY=1", self.receive(sock).split("\n"))
        finally:
            proc.send_signal(signal.SIGTERM)
            self.assertEqual(proc.wait(timeout=10), 0)
            sock.close()


class TestWatchdog(ShardisOnly):

    def test_watchdog_is_fed_while_the_shards_run(self):
        tmp = tempfile.mkdtemp(prefix="shardis-wd-")
        path = os.path.join(tmp, "notify")
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        sock.bind(path)
        sock.settimeout(5)
        env = dict(os.environ, NOTIFY_SOCKET=path, WATCHDOG_USEC="600000")
        proc = subprocess.Popen([server_binary(), "--bind", "127.0.0.1", "--port",
                                 str(free_port()), "--shards", "2"], env=env,
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            pings = 0
            deadline = time.monotonic() + 5
            while pings < 3 and time.monotonic() < deadline:
                if "WATCHDOG=1" in sock.recv(4096).decode().split("\n"):
                    pings += 1
            self.assertEqual(pings, 3)
        finally:
            proc.send_signal(signal.SIGTERM)
            self.assertEqual(proc.wait(timeout=10), 0)
            sock.close()
            shutil.rmtree(tmp, ignore_errors=True)


class TestTestConfig(ShardisOnly):

    def run_check(self, *args):
        return subprocess.run([server_binary(), "--test-config", *args], capture_output=True,
                              text=True, timeout=10)

    def test_the_shipped_config_is_valid(self):
        p = self.run_check(CONF)
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertIn("is OK", p.stdout)

    def test_a_bad_file_fails_with_file_line_and_reason(self):
        with tempfile.NamedTemporaryFile("w", suffix=".conf", delete=False) as f:
            f.write("# comment\nport 6379\nmaxclients lots\n")
        try:
            p = self.run_check(f.name)
            self.assertEqual(p.returncode, 1)
            self.assertIn("%s:3:" % f.name, p.stderr)
            self.assertIn("maxclients", p.stderr)
        finally:
            os.unlink(f.name)

    def test_a_missing_file_fails(self):
        p = self.run_check("/nonexistent/shardis.conf")
        self.assertEqual(p.returncode, 1)


class TestUnitFile(ShardisOnly):

    def test_systemd_analyze_verify_accepts_the_unit(self):
        tool = shutil.which("systemd-analyze")
        if not tool:
            self.skipTest("systemd-analyze is not installed")
        with open(UNIT) as f:
            text = f.read()
        self.assertIn("Type=notify", text)
        tmp = tempfile.mkdtemp(prefix="shardis-unit-")
        try:
            # the installed path does not exist here: point at the build
            unit = os.path.join(tmp, "shardis.service")
            with open(unit, "w") as f:
                f.write(text.replace("/usr/local/bin/shardis-server",
                                     os.path.abspath(server_binary())))
            p = subprocess.run([tool, "verify", unit], capture_output=True, text=True,
                               timeout=60)
            self.assertEqual(p.returncode, 0, p.stdout + p.stderr)
        finally:
            shutil.rmtree(tmp, ignore_errors=True)


class TestLogReopen(ShardisOnly):

    def test_sighup_reopens_the_log_file_for_logrotate(self):
        tmp = tempfile.mkdtemp(prefix="shardis-log-")
        log = os.path.join(tmp, "shardis.log")
        port = free_port()
        proc = subprocess.Popen([server_binary(), "--bind", "127.0.0.1", "--port", str(port),
                                 "--shards", "2", "--logfile", log],
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            deadline = time.monotonic() + 10
            while time.monotonic() < deadline:
                if os.path.exists(log):
                    with open(log) as f:
                        if "Ready to accept" in f.read():
                            break
                time.sleep(0.05)
            os.rename(log, log + ".1")           # what logrotate does
            proc.send_signal(signal.SIGHUP)
            deadline = time.monotonic() + 10
            while not os.path.exists(log) and time.monotonic() < deadline:
                time.sleep(0.05)
            proc.send_signal(signal.SIGTERM)
            self.assertEqual(proc.wait(timeout=10), 0)
            with open(log) as f:
                new = f.read()
            with open(log + ".1") as f:
                old = f.read()
            self.assertIn("Ready to accept", old)
            self.assertIn("SIGTERM", new)      # later lines go to the new file
            self.assertNotIn("SIGTERM", old)
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
            shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    unittest.main()
