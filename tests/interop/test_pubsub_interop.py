"""Pub/sub with real clients: redis-cli (a SUBSCRIBE process, PUBLISH from
another) and redis-py (Debian's python3-redis): PubSub.get_message,
pattern subscriptions, run_in_thread with handlers, keyspace events."""

import os
import select
import shutil
import subprocess
import sys
import threading
import time
import unittest

sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))),
                                "integration"))
from harness import ServerTestCase  # noqa: E402

try:
    import redis
except ImportError:  # pragma: no cover
    redis = None

REDIS_CLI = os.environ.get("REDIS_CLI", shutil.which("redis-cli") or "/usr/bin/redis-cli")
TIMEOUT = 10.0


class LineReader:
    """Reads a subprocess's stdout line by line, with a deadline."""

    def __init__(self, proc):
        self.proc = proc
        self.fd = proc.stdout.fileno()
        self.buf = b""
        self.lines = []

    def read_lines(self, n, timeout=TIMEOUT):
        deadline = time.monotonic() + timeout
        while len(self.lines) < n:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                break
            ready, _, _ = select.select([self.fd], [], [], remaining)
            if not ready:
                break
            chunk = os.read(self.fd, 65536)
            if not chunk:
                break
            self.buf += chunk
            *done, self.buf = self.buf.split(b"\n")
            self.lines += [x.decode("utf-8", "replace") for x in done]
        out, self.lines = self.lines[:n], self.lines[n:]
        return out


@unittest.skipUnless(os.access(REDIS_CLI, os.X_OK), "redis-cli not installed")
class TestRedisCliPubSub(ServerTestCase):

    def start_cli(self, *args):
        argv = [REDIS_CLI, "-h", "127.0.0.1", "-p", str(self.port)] + list(args)
        proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE)
        self.addCleanup(self.stop_proc, proc)
        return proc, LineReader(proc)

    @staticmethod
    def stop_proc(proc):
        if proc.poll() is None:
            proc.terminate()
            try:
                proc.wait(5)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        proc.stdout.close()
        proc.stderr.close()

    def cli(self, *args):
        argv = [REDIS_CLI, "-h", "127.0.0.1", "-p", str(self.port)] + list(args)
        proc = subprocess.run(argv, capture_output=True, timeout=60)
        self.assertEqual(proc.returncode, 0, proc.stderr)
        return proc.stdout.decode("utf-8", "replace")

    def wait_subscribers(self, channel, n):
        self.wait_until(lambda: self.r.cmd("PUBSUB", "NUMSUB", channel)[1] == n, timeout=5)

    def test_subscribe_process_prints_published_messages(self):
        proc, out = self.start_cli("subscribe", "news", "sport")
        self.assertEqual(out.read_lines(6), ["subscribe", "news", "1",
                                             "subscribe", "sport", "2"])
        self.assertEqual(self.cli("publish", "news", "hello world"), "1\n")
        self.assertEqual(self.cli("publish", "sport", "goal"), "1\n")
        self.assertEqual(self.cli("publish", "other", "x"), "0\n")
        self.assertEqual(out.read_lines(6), ["message", "news", "hello world",
                                             "message", "sport", "goal"])
        self.assertIsNone(proc.poll())

    def test_psubscribe_process_with_formatted_output(self):
        proc, out = self.start_cli("--no-raw", "psubscribe", "news.*")
        self.assertEqual(out.read_lines(4), ["Reading messages... (press Ctrl-C to quit)",
                                             '1) "psubscribe"', '2) "news.*"',
                                             "3) (integer) 1"])
        self.assertEqual(self.cli("publish", "news.tech", "hi"), "1\n")
        self.assertEqual(out.read_lines(4), ['1) "pmessage"', '2) "news.*"',
                                             '3) "news.tech"', '4) "hi"'])

    def test_resp3_subscribe_process(self):
        proc, out = self.start_cli("-3", "subscribe", "r3")
        self.assertEqual(out.read_lines(3), ["subscribe", "r3", "1"])
        self.assertEqual(self.cli("publish", "r3", "pushed"), "1\n")
        self.assertEqual(out.read_lines(3), ["message", "r3", "pushed"])

    def test_several_subscriber_processes(self):
        readers = []
        for _ in range(4):
            proc, out = self.start_cli("subscribe", "many")
            self.assertEqual(out.read_lines(3), ["subscribe", "many", "1"])
            readers.append(out)
        self.assertEqual(self.cli("publish", "many", "all of you"), "4\n")
        for out in readers:
            self.assertEqual(out.read_lines(3), ["message", "many", "all of you"])

    def test_terminated_subscriber_is_removed(self):
        proc, out = self.start_cli("subscribe", "bye")
        self.assertEqual(out.read_lines(3), ["subscribe", "bye", "1"])
        self.assertEqual(self.cli("pubsub", "numsub", "bye"), "bye\n1\n")
        self.stop_proc(proc)
        self.wait_subscribers("bye", 0)
        self.assertEqual(self.cli("publish", "bye", "x"), "0\n")


@unittest.skipIf(redis is None, "redis-py not installed (use /usr/bin/python3)")
class TestRedisPyPubSub(ServerTestCase):

    def setUp(self):
        super().setUp()
        self.rp = redis.Redis(host="127.0.0.1", port=self.port, socket_timeout=TIMEOUT)
        self.addCleanup(self.rp.close)

    def pubsub(self, **kw):
        ps = self.rp.pubsub(**kw)
        self.addCleanup(ps.close)
        return ps

    def get_message(self, ps, timeout=TIMEOUT, **kw):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            m = ps.get_message(timeout=max(0.01, deadline - time.monotonic()), **kw)
            if m is not None:
                return m
        self.fail("no message within %.1f s" % timeout)

    def test_subscribe_and_get_message(self):
        ps = self.pubsub()
        ps.subscribe("news", "sport")
        self.assertEqual(self.get_message(ps),
                         {"type": "subscribe", "pattern": None, "channel": b"news", "data": 1})
        self.assertEqual(self.get_message(ps),
                         {"type": "subscribe", "pattern": None, "channel": b"sport", "data": 2})
        self.assertEqual(self.rp.publish("news", "hello"), 1)
        self.assertEqual(self.get_message(ps),
                         {"type": "message", "pattern": None, "channel": b"news",
                          "data": b"hello"})
        self.assertEqual(self.rp.pubsub_numsub("news", "nope"), [(b"news", 1), (b"nope", 0)])
        self.assertEqual(sorted(self.rp.pubsub_channels()), [b"news", b"sport"])
        ps.unsubscribe("news")
        self.assertEqual(self.get_message(ps),
                         {"type": "unsubscribe", "pattern": None, "channel": b"news", "data": 1})
        self.assertEqual(self.rp.publish("news", "gone"), 0)
        self.assertEqual(self.rp.publish("sport", "goal"), 1)
        self.assertEqual(self.get_message(ps)["data"], b"goal")

    def test_ignore_subscribe_messages_and_decode_responses(self):
        rp = redis.Redis(host="127.0.0.1", port=self.port, decode_responses=True,
                         socket_timeout=TIMEOUT)
        self.addCleanup(rp.close)
        ps = rp.pubsub(ignore_subscribe_messages=True)
        self.addCleanup(ps.close)
        ps.subscribe("t\xe9l\xe9")
        self.wait_until(lambda: rp.pubsub_numsub("t\xe9l\xe9")[0][1] == 1, timeout=5)
        for i in range(3):
            self.assertEqual(rp.publish("t\xe9l\xe9", "m\xeb%d" % i), 1)
        got = []
        deadline = time.monotonic() + TIMEOUT
        while len(got) < 3 and time.monotonic() < deadline:
            m = ps.get_message(timeout=1.0)
            if m is not None:
                got.append(m)
        self.assertEqual(got, [{"type": "message", "pattern": None, "channel": "t\xe9l\xe9",
                                "data": "m\xeb%d" % i} for i in range(3)])

    def test_psubscribe_and_pattern_messages(self):
        ps = self.pubsub()
        ps.psubscribe("news.*", "h?llo")
        self.assertEqual(self.get_message(ps),
                         {"type": "psubscribe", "pattern": None, "channel": b"news.*", "data": 1})
        self.assertEqual(self.get_message(ps)["data"], 2)
        self.assertEqual(self.rp.pubsub_numpat(), 2)
        self.assertEqual(self.rp.publish("news.tech", "a"), 1)
        self.assertEqual(self.rp.publish("hello", "b"), 1)
        self.assertEqual(self.rp.publish("heello", "c"), 0)
        self.assertEqual(self.get_message(ps),
                         {"type": "pmessage", "pattern": b"news.*", "channel": b"news.tech",
                          "data": b"a"})
        self.assertEqual(self.get_message(ps),
                         {"type": "pmessage", "pattern": b"h?llo", "channel": b"hello",
                          "data": b"b"})
        ps.punsubscribe()
        got = [self.get_message(ps), self.get_message(ps)]
        self.assertEqual(sorted(m["channel"] for m in got), [b"h?llo", b"news.*"])
        self.assertEqual(sorted(m["data"] for m in got), [0, 1])
        self.assertEqual(self.rp.pubsub_numpat(), 0)

    def test_ping_in_subscribed_mode(self):
        ps = self.pubsub(ignore_subscribe_messages=True)
        ps.subscribe("p")
        ps.ping()
        self.assertEqual(self.get_message(ps),
                         {"type": "pong", "pattern": None, "channel": None, "data": b""})
        ps.ping("hi")
        self.assertEqual(self.get_message(ps)["data"], b"hi")

    def test_run_in_thread_with_handlers(self):
        received = []
        done = threading.Event()
        total = 200

        def on_message(message):
            received.append((message["type"], message["channel"], message["data"]))
            if len(received) == total:
                done.set()

        ps = self.pubsub()
        ps.subscribe(**{"jobs": on_message})
        ps.psubscribe(**{"evt.*": on_message})
        thread = ps.run_in_thread(sleep_time=0.01, daemon=True)
        try:
            self.wait_until(lambda: (self.rp.pubsub_numsub("jobs")[0][1] == 1
                                     and self.rp.pubsub_numpat() == 1), timeout=5)
            for i in range(total // 2):
                self.assertEqual(self.rp.publish("jobs", "j%d" % i), 1)
                self.assertEqual(self.rp.publish("evt.%d" % (i % 7), "e%d" % i), 1)
            self.assertTrue(done.wait(TIMEOUT), "handler got %d of %d" % (len(received), total))
        finally:
            thread.stop()
            thread.join(TIMEOUT)
        self.assertFalse(thread.is_alive())
        self.assertEqual([r for r in received if r[0] == "message"],
                         [("message", b"jobs", b"j%d" % i) for i in range(total // 2)])
        self.assertEqual([r for r in received if r[0] == "pmessage"],
                         [("pmessage", b"evt.%d" % (i % 7), b"e%d" % i)
                          for i in range(total // 2)])

    def test_keyspace_notifications(self):
        self.assertTrue(self.rp.config_set("notify-keyspace-events", "KEA"))
        self.addCleanup(self.rp.config_set, "notify-keyspace-events", "")
        self.assertEqual(self.rp.config_get("notify-keyspace-events"),
                         {"notify-keyspace-events": "AKE"})
        ps = self.pubsub()
        ps.psubscribe("__keyevent@0__:*")
        # the confirmation comes once the pattern is registered on every
        # shard; NUMPAT alone could still count an earlier test's pattern
        # whose unsubscription (at its connection's close) is in flight
        self.assertEqual(self.get_message(ps)["type"], "psubscribe")
        self.wait_until(lambda: self.rp.pubsub_numpat() == 1, timeout=5)
        self.rp.set("k", "v")
        self.rp.incr("n")
        # k and n may live on different shards: their events in any order
        got = sorted([self.get_message(ps), self.get_message(ps)], key=lambda m: m["data"])
        self.assertEqual(got, [
            {"type": "pmessage", "pattern": b"__keyevent@0__:*",
             "channel": b"__keyevent@0__:set", "data": b"k"},
            {"type": "pmessage", "pattern": b"__keyevent@0__:*",
             "channel": b"__keyevent@0__:incrby", "data": b"n"}])


if __name__ == "__main__":
    unittest.main()
