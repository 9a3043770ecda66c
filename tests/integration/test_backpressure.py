"""Back-pressure: a client that pipelines without reading its replies must
not make the server's memory grow without bound, nor slow another client;
once it reads, every reply arrives, in order."""
import os
import socket
import sys
import threading
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import ServerTestCase, encode_command, reference_mode, rss_bytes  # noqa: E402



def send_until_stalled(s, data, patience=1.0):
    """Sends on a non-blocking socket until the server stops reading for
    `patience` seconds; returns what was not sent."""
    stalled_since = None
    while data:
        try:
            data = data[s.send(data):]
            stalled_since = None
        except BlockingIOError:
            stalled_since = stalled_since or time.monotonic()
            if time.monotonic() - stalled_since > patience:
                break
            time.sleep(0.01)
    return data


class TestBackpressure(ServerTestCase):

    def test_a_client_that_never_reads_keeps_server_memory_bounded(self):
        value = b"v" * 10000
        self.assertEqual(self.r.cmd("SET", "big", value), "OK")
        pid = self.server.proc.pid
        before = rss_bytes(pid)
        # 20,000 GETs whose replies total 200 MB, sent without reading
        s = socket.create_connection(("127.0.0.1", self.port))
        s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 64 * 1024)
        s.setblocking(False)
        batch = encode_command("GET", "big") * 1000
        # the server stops reading us: that is the point
        pending = send_until_stalled(s, batch * 20)
        time.sleep(0.3)
        grown = rss_bytes(pid) - before
        # another client is served meanwhile
        other = self.client()
        self.assertEqual(other.cmd("PING"), "PONG")
        self.assertEqual(other.cmd("GET", "big"), value)
        if not reference_mode():
            # Redis buffers all 200 MB of output; shardis stops reading
            self.assertLess(grown, 64 * 1024 * 1024, "server grew by %d bytes" % grown)
        # now read everything that was sent: every reply, in order
        s.setblocking(True)
        s.settimeout(20)
        sender = threading.Thread(target=s.sendall, args=(pending,))
        sender.start()
        want = 20000 * (len(b"$10000\r\n") + 10000 + 2)
        got = 0
        while got < want:
            chunk = s.recv(1 << 20)
            self.assertTrue(chunk, "connection closed after %d of %d bytes" % (got, want))
            got += len(chunk)
        sender.join()
        self.assertEqual(got, want)
        s.close()


    def connected_clients(self):
        info = self.r.cmd("INFO", "clients").decode()
        return int(info.split("connected_clients:")[1].split("\r\n")[0])

    def test_clients_that_leave_during_a_big_reply_are_freed(self):
        # a reply bigger than the socket buffers, and a client that closes
        # without reading it: the failed send must still free the connection
        self.assertEqual(self.r.cmd("SET", "huge", b"h" * (8 * 1024 * 1024)), "OK")
        for _ in range(10):
            s = socket.create_connection(("127.0.0.1", self.port))
            s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
            s.sendall(encode_command("GET", "huge"))
            time.sleep(0.05)
            s.close()
        deadline = time.monotonic() + 5
        while self.connected_clients() != 1 and time.monotonic() < deadline:
            time.sleep(0.05)
        self.assertEqual(self.connected_clients(), 1)

    def test_replies_queued_behind_another_shard_stay_bounded(self):
        # with several shards, a reply from another shard at the head of the
        # pipeline makes the local replies behind it wait in slots; they must
        # count against the output limit too
        value = b"w" * (256 * 1024)
        keys = ["slot:%d" % i for i in range(64)]
        for k in keys:
            self.assertEqual(self.r.cmd("SET", k, value), "OK")
        pid = self.server.proc.pid
        before = rss_bytes(pid)
        s = socket.create_connection(("127.0.0.1", self.port))
        s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        s.setblocking(False)
        send_until_stalled(s, b"".join(encode_command("GET", keys[i % 64]) for i in range(4000)))
        time.sleep(0.5)
        grown = rss_bytes(pid) - before
        if not reference_mode():
            self.assertLess(grown, 96 * 1024 * 1024, "server grew by %d bytes" % grown)
        s.close()

if __name__ == "__main__":
    unittest.main()
