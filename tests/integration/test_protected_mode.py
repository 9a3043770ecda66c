"""Protected mode: with no password, a client that does not come from
127.0.0.1 or ::1 gets Redis's -DENIED explanation and is disconnected (a
client from 127.0.0.2 counts as remote, as in Redis)."""
import os
import socket
import sys
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import ServerTestCase  # noqa: E402

DENIED_START = b"-DENIED Redis is running in protected mode because protected mode is enabled"
DENIED_END = (b"NOTE: You only need to do one of the above things in order for the server to "
              b"start accepting connections from the outside.\r\n")


def read_from(port, source="127.0.0.2"):
    """Connects from `source`, reads until the server closes (or 2 s)."""
    s = socket.socket()
    s.settimeout(2)
    s.bind((source, 0))
    s.connect(("127.0.0.1", port))
    data = b""
    try:
        while True:
            chunk = s.recv(65536)
            if not chunk:
                break
            data += chunk
    except socket.timeout:
        data += b"<open>"
    finally:
        s.close()
    return data


class TestProtectedMode(ServerTestCase):
    server_args = ("--protected-mode", "yes")

    def test_remote_client_without_password_is_denied_and_closed(self):
        data = read_from(self.port)
        self.assertTrue(data.startswith(DENIED_START), data[:100])
        self.assertTrue(data.endswith(DENIED_END), data[-120:])

    def test_loopback_client_is_served(self):
        self.assertEqual(self.r.cmd("PING"), "PONG")

    def test_config_set_protected_mode_no_lets_remote_clients_in(self):
        self.assertEqual(self.r.cmd("CONFIG", "GET", "protected-mode"),
                         [b"protected-mode", b"yes"])
        self.assertEqual(self.r.cmd("CONFIG", "SET", "protected-mode", "no"), "OK")
        try:
            s = socket.socket()
            s.settimeout(2)
            s.bind(("127.0.0.2", 0))
            s.connect(("127.0.0.1", self.port))
            s.sendall(b"PING\r\n")
            self.assertEqual(s.recv(100), b"+PONG\r\n")
            s.close()
        finally:
            self.r.cmd("CONFIG", "SET", "protected-mode", "yes")


class TestProtectedModeWithPassword(ServerTestCase):
    server_args = ("--protected-mode", "yes", "--requirepass", "pw")

    def test_a_password_lifts_protected_mode(self):
        self.assertEqual(read_from(self.port), b"<open>")


if __name__ == "__main__":
    unittest.main()
