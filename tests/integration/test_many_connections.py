"""10,000 idle connections are held with bounded memory, and the one past
maxclients gets Redis's error and is closed."""
import os
import resource
import socket
import sys
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import ServerTestCase, reference_mode, rss_bytes  # noqa: E402

IDLE = 10000



class TestManyConnections(ServerTestCase):

    def setUp(self):
        soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
        want = IDLE + 200
        if hard != resource.RLIM_INFINITY and hard < want:
            self.skipTest("this process may open only %d files" % hard)
        if soft != resource.RLIM_INFINITY and soft < want:
            resource.setrlimit(resource.RLIMIT_NOFILE, (want, hard))
        super().setUp()

    def test_ten_thousand_idle_connections_with_bounded_memory(self):
        maxclients = int(self.r.cmd("CONFIG", "GET", "maxclients")[1])
        if maxclients < IDLE:
            self.skipTest("maxclients is %d here (open files limit)" % maxclients)
        pid = self.server.proc.pid
        before = rss_bytes(pid)
        socks = []
        try:
            for i in range(IDLE - 1):  # self.r is one already
                s = socket.create_connection(("127.0.0.1", self.port))
                socks.append(s)
                if i % 1000 == 0:
                    s.sendall(b"PING\r\n")
                    self.assertEqual(s.recv(16), b"+PONG\r\n")
            # the kernel completes connections before the shards accept them
            deadline = time.monotonic() + 20
            while time.monotonic() < deadline:
                info = self.r.cmd("INFO", "clients").decode()
                if "connected_clients:%d\r\n" % IDLE in info:
                    break
                time.sleep(0.05)
            self.assertIn("connected_clients:%d\r\n" % IDLE, info)
            grown = rss_bytes(pid) - before
            if not reference_mode():
                # about 650 bytes each measured; allow ten times that
                self.assertLess(grown, IDLE * 6500, "grew %d bytes" % grown)
            # every one of them is still served
            for s in socks[::997]:
                s.sendall(b"PING\r\n")
                self.assertEqual(s.recv(16), b"+PONG\r\n")
        finally:
            for s in socks:
                s.close()

    def test_the_client_past_maxclients_gets_the_error_and_is_closed(self):
        self.assertEqual(self.r.cmd("CONFIG", "SET", "maxclients", "50"), "OK")
        # connections other tests closed may not be reaped yet
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            if "connected_clients:1\r\n" in self.r.cmd("INFO", "clients").decode():
                break
            time.sleep(0.05)
        socks = []
        try:
            for _ in range(49):
                socks.append(socket.create_connection(("127.0.0.1", self.port)))
            # accepted by the server (shards accept in any order), not just by
            # the kernel's backlog
            for s in socks:
                s.sendall(b"PING\r\n")
                self.assertEqual(s.recv(16), b"+PONG\r\n")
            extra = socket.create_connection(("127.0.0.1", self.port))
            extra.settimeout(5)
            data = b""
            while True:
                chunk = extra.recv(100)
                if not chunk:
                    break
                data += chunk
            self.assertEqual(data, b"-ERR max number of clients reached\r\n")
            extra.close()
        finally:
            for s in socks:
                s.close()
            time.sleep(0.2)
            self.r.cmd("CONFIG", "SET", "maxclients", "10000")


if __name__ == "__main__":
    unittest.main()
