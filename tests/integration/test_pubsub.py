"""Pub/sub: SUBSCRIBE/PSUBSCRIBE/SSUBSCRIBE and their UNSUBSCRIBEs, PUBLISH,
SPUBLISH, PUBSUB introspection, RESP2 subscribed mode and RESP3 pushes,
delivery to many connections (every shard when there are several), message
order, disconnecting subscribers, and the pubsub client-output-buffer-limit.

Redis 7.0 is the reference: every test here passes against redis-server
7.0.15 (SHARDIS_REFERENCE=redis). Channel names are unique per test where a
leftover subscription of an earlier test (removed asynchronously) could
change a count.
"""

import os
import random
import socket
import struct
import sys
import threading
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import Push, ServerTestCase, encode_command  # noqa: E402

SUBSCRIBED_MODE = ("ERR Can't execute '%s': only (P|S)SUBSCRIBE / (P|S)UNSUBSCRIBE / "
                   "PING / QUIT / RESET are allowed in this context")


def arity(cmd):
    return "ERR wrong number of arguments for '%s' command" % cmd


def b(x):
    return x if isinstance(x, bytes) else str(x).encode()


def bulk(x):
    x = b(x)
    return b"$%d\r\n%s\r\n" % (len(x), x)


def message_frame(channel, payload, resp3=False):
    """The exact bytes of a 'message' for a RESP2 (or RESP3) subscriber."""
    return (b">3\r\n" if resp3 else b"*3\r\n") + bulk("message") + bulk(channel) + bulk(payload)


def pmessage_frame(pattern, channel, payload, resp3=False):
    return ((b">4\r\n" if resp3 else b"*4\r\n") + bulk("pmessage") + bulk(pattern)
            + bulk(channel) + bulk(payload))


def subscribe(c, command, *names):
    """Send (P|S)SUBSCRIBE name... and return its len(names) confirmations."""
    c.send_command(command, *names)
    return c.read_replies(len(names))


def read_available(c, quiet=0.2):
    """Every reply that arrives until none has come for `quiet` seconds."""
    out = []
    old = c.timeout
    c.timeout = quiet
    try:
        while True:
            try:
                out.append(c.read_reply())
            except socket.timeout:
                break
    finally:
        c.timeout = old
    return out


def recv_exactly(sock, n, deadline):
    data = bytearray()
    while len(data) < n:
        sock.settimeout(max(0.01, deadline - time.monotonic()))
        if time.monotonic() > deadline:
            raise socket.timeout("got %d of %d bytes" % (len(data), n))
        chunk = sock.recv(min(1 << 20, n - len(data)))
        if not chunk:
            raise ConnectionError("closed after %d of %d bytes" % (len(data), n))
        data += chunk
    return bytes(data)


class StreamChecker:
    """Reads a subscriber socket without blocking and checks that the bytes
    received are a prefix of `expected` (the exact frames, in order)."""

    def __init__(self, client, expected):
        self.sock = client.sock
        self.expected = expected
        self.got = 0
        self.mismatch = None
        self.eof = False
        if client.buf:
            self._check(bytes(client.buf))
            client.buf.clear()

    def _check(self, chunk):
        if self.mismatch is None:
            want = self.expected[self.got:self.got + len(chunk)]
            if chunk != want:
                i = next((k for k in range(min(len(chunk), len(want)))
                          if chunk[k] != want[k]), min(len(chunk), len(want)))
                at = self.got + i
                self.mismatch = ("stream differs at byte %d: got %r, expected %r"
                                 % (at, chunk[max(0, i - 40):i + 60],
                                    self.expected[max(0, at - 40):at + 60]))
        self.got += len(chunk)

    def poll(self):
        """Read what is there now."""
        self.sock.setblocking(False)
        try:
            while True:
                try:
                    chunk = self.sock.recv(1 << 20)
                except (BlockingIOError, InterruptedError):
                    return
                if not chunk:
                    self.eof = True
                    return
                self._check(chunk)
        finally:
            self.sock.setblocking(True)

    def wait_complete(self, timeout):
        deadline = time.monotonic() + timeout
        while self.got < len(self.expected) and not self.eof and self.mismatch is None:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                break
            self.sock.settimeout(min(remaining, 1.0))
            try:
                chunk = self.sock.recv(1 << 20)
            except socket.timeout:
                continue
            if not chunk:
                self.eof = True
                break
            self._check(chunk)
        return self.got == len(self.expected) and self.mismatch is None


class PubSubTestCase(ServerTestCase):

    def setUp(self):
        super().setUp()
        # Subscribers of the previous test are closed; their removal may be
        # asynchronous. Start from a server with no subscriptions.
        self.wait_until(lambda: (self.r.cmd("PUBSUB", "NUMPAT") == 0
                                 and self.r.cmd("PUBSUB", "CHANNELS") == []
                                 and self.r.cmd("PUBSUB", "SHARDCHANNELS") == []),
                        timeout=5, msg="subscriptions of earlier tests are still there")

    def subscriber(self, command, *names, resp3=False):
        c = self.client()
        if resp3:
            c.cmd("HELLO", "3")
        replies = subscribe(c, command, *names)
        kind = command.lower()
        for reply, name in zip(replies, names):
            self.assertEqual(reply[:2], [kind.encode(), b(name)], replies)
        return c

    def assertNothingMore(self, c, quiet=0.2):
        extra = read_available(c, quiet)
        self.assertEqual(extra, [], "unexpected frames %r" % (extra,))


# --------------------------------------------------------------------------
# Replies of the subscribe family
# --------------------------------------------------------------------------

class TestSubscribeReplies(PubSubTestCase):

    def test_subscribe_replies_one_array_per_channel_with_running_count(self):
        c = self.client()
        c.send_command("SUBSCRIBE", "a", "b", "a")
        self.assertEqual([c.read_raw_reply() for _ in range(3)], [
            b"*3\r\n$9\r\nsubscribe\r\n$1\r\na\r\n:1\r\n",
            b"*3\r\n$9\r\nsubscribe\r\n$1\r\nb\r\n:2\r\n",
            # subscribing again to a channel confirms it; the count stays
            b"*3\r\n$9\r\nsubscribe\r\n$1\r\na\r\n:2\r\n",
        ])

    def test_counts_add_channels_and_patterns(self):
        c = self.client()
        self.assertEqual(subscribe(c, "SUBSCRIBE", "cnt-a"), [[b"subscribe", b"cnt-a", 1]])
        self.assertEqual(subscribe(c, "PSUBSCRIBE", "cnt-p*", "cnt-q*", "cnt-p*"),
                         [[b"psubscribe", b"cnt-p*", 2], [b"psubscribe", b"cnt-q*", 3],
                          [b"psubscribe", b"cnt-p*", 3]])
        self.assertEqual(c.raw("PUNSUBSCRIBE", "cnt-p*"),
                         b"*3\r\n$12\r\npunsubscribe\r\n$6\r\ncnt-p*\r\n:2\r\n")
        self.assertEqual(c.cmd("UNSUBSCRIBE", "cnt-a"), [b"unsubscribe", b"cnt-a", 1])
        self.assertEqual(c.cmd("PUNSUBSCRIBE"), [b"punsubscribe", b"cnt-q*", 0])
        self.assertEqual(c.cmd("PING"), "PONG")  # out of subscribed mode

    def test_unsubscribe_of_a_channel_not_subscribed(self):
        c = self.client()
        self.assertEqual(c.raw("UNSUBSCRIBE", "nope"),
                         b"*3\r\n$11\r\nunsubscribe\r\n$4\r\nnope\r\n:0\r\n")
        subscribe(c, "SUBSCRIBE", "yes")
        c.send_command("UNSUBSCRIBE", "nope", "yes")
        self.assertEqual(c.read_replies(2), [[b"unsubscribe", b"nope", 1],
                                             [b"unsubscribe", b"yes", 0]])
        self.assertEqual(c.cmd("PUNSUBSCRIBE", "nope*"), [b"punsubscribe", b"nope*", 0])

    def test_unsubscribe_without_arguments_when_subscribed_to_nothing(self):
        c = self.client()
        self.assertEqual(c.raw("UNSUBSCRIBE"), b"*3\r\n$11\r\nunsubscribe\r\n$-1\r\n:0\r\n")
        self.assertEqual(c.raw("PUNSUBSCRIBE"), b"*3\r\n$12\r\npunsubscribe\r\n$-1\r\n:0\r\n")
        self.assertEqual(c.raw("SUNSUBSCRIBE"), b"*3\r\n$12\r\nsunsubscribe\r\n$-1\r\n:0\r\n")
        self.assertEqual(c.raw("PING"), b"+PONG\r\n")
        # patterns only: UNSUBSCRIBE (channels) has nothing to drop
        subscribe(c, "PSUBSCRIBE", "only*")
        self.assertEqual(c.cmd("UNSUBSCRIBE"), [b"unsubscribe", None, 1])
        self.assertEqual(c.cmd("PUNSUBSCRIBE"), [b"punsubscribe", b"only*", 0])

    def test_unsubscribe_without_arguments_drops_every_channel(self):
        c = self.client()
        subscribe(c, "SUBSCRIBE", "all-a", "all-b", "all-c")
        subscribe(c, "PSUBSCRIBE", "all-*")
        c.send_command("UNSUBSCRIBE")
        replies = c.read_replies(3)
        # one reply per channel, in no particular order, counting down
        self.assertEqual(sorted(r[1] for r in replies), [b"all-a", b"all-b", b"all-c"])
        self.assertEqual([r[0] for r in replies], [b"unsubscribe"] * 3)
        self.assertEqual([r[2] for r in replies], [3, 2, 1])
        self.assertEqual(self.r.cmd("PUBLISH", "all-a", "x"), 1)  # the pattern only
        self.assertEqual(c.read_reply(), [b"pmessage", b"all-*", b"all-a", b"x"])
        self.assertEqual(c.cmd("PUNSUBSCRIBE"), [b"punsubscribe", b"all-*", 0])
        self.assertEqual(self.r.cmd("PUBLISH", "all-a", "x"), 0)
        self.assertEqual(c.cmd("PING"), "PONG")
        self.assertNothingMore(c)

    def test_arity_errors(self):
        for cmd in ("SUBSCRIBE", "PSUBSCRIBE", "SSUBSCRIBE"):
            self.assertError(self.r.cmd(cmd), arity(cmd.lower()))
        self.assertError(self.r.cmd("PUBLISH", "ch"), arity("publish"))
        self.assertError(self.r.cmd("PUBLISH", "ch", "a", "b"), arity("publish"))
        self.assertError(self.r.cmd("SPUBLISH", "ch"), arity("spublish"))
        self.assertError(self.r.cmd("PUBSUB"), arity("pubsub"))
        # the connection was never subscribed
        self.assertEqual(self.r.cmd("PING"), "PONG")

    def test_resp3_subscribe_family_replies_are_push_frames(self):
        c = self.client()
        c.cmd("HELLO", "3")
        self.assertEqual(c.raw("SUBSCRIBE", "r3"), b">3\r\n$9\r\nsubscribe\r\n$2\r\nr3\r\n:1\r\n")
        self.assertEqual(c.raw("PSUBSCRIBE", "r3*"),
                         b">3\r\n$10\r\npsubscribe\r\n$3\r\nr3*\r\n:2\r\n")
        self.assertEqual(self.r.cmd("PUBLISH", "r3", "hi"), 2)
        frames = [c.read_raw_reply() for _ in range(2)]
        self.assertEqual(sorted(frames), sorted([
            b">3\r\n$7\r\nmessage\r\n$2\r\nr3\r\n$2\r\nhi\r\n",
            b">4\r\n$8\r\npmessage\r\n$3\r\nr3*\r\n$2\r\nr3\r\n$2\r\nhi\r\n"]))
        self.assertEqual(c.raw("UNSUBSCRIBE", "r3"),
                         b">3\r\n$11\r\nunsubscribe\r\n$2\r\nr3\r\n:1\r\n")
        self.assertEqual(c.raw("PUNSUBSCRIBE"),
                         b">3\r\n$12\r\npunsubscribe\r\n$3\r\nr3*\r\n:0\r\n")
        # nothing left: the channel is a RESP3 null
        self.assertEqual(c.raw("UNSUBSCRIBE"), b">3\r\n$11\r\nunsubscribe\r\n_\r\n:0\r\n")
        self.assertEqual(c.raw("PUNSUBSCRIBE"), b">3\r\n$12\r\npunsubscribe\r\n_\r\n:0\r\n")
        self.assertEqual(c.raw("SUNSUBSCRIBE"), b">3\r\n$12\r\nsunsubscribe\r\n_\r\n:0\r\n")
        self.assertEqual(c.raw("SSUBSCRIBE", "r3s"),
                         b">3\r\n$10\r\nssubscribe\r\n$3\r\nr3s\r\n:1\r\n")
        self.assertEqual(self.r.cmd("SPUBLISH", "r3s", "yo"), 1)
        self.assertEqual(c.read_raw_reply(), b">3\r\n$8\r\nsmessage\r\n$3\r\nr3s\r\n$2\r\nyo\r\n")


# --------------------------------------------------------------------------
# PUBLISH and message formats
# --------------------------------------------------------------------------

class TestPublish(PubSubTestCase):

    def test_publish_without_subscribers_returns_zero(self):
        self.assertEqual(self.r.raw("PUBLISH", "nobody-listens", "x"), b":0\r\n")

    def test_message_and_pmessage_exact_bytes(self):
        s = self.subscriber("SUBSCRIBE", "fmt")
        p = self.subscriber("PSUBSCRIBE", "f?t")
        self.assertEqual(self.r.cmd("PUBLISH", "fmt", "hello"), 2)
        self.assertEqual(s.read_raw_reply(), b"*3\r\n$7\r\nmessage\r\n$3\r\nfmt\r\n$5\r\nhello\r\n")
        self.assertEqual(p.read_raw_reply(),
                         b"*4\r\n$8\r\npmessage\r\n$3\r\nf?t\r\n$3\r\nfmt\r\n$5\r\nhello\r\n")

    def test_publish_counts_channel_and_pattern_subscriptions(self):
        a = self.subscriber("SUBSCRIBE", "news.tech")
        p = self.subscriber("PSUBSCRIBE", "news.*")
        both = self.subscriber("SUBSCRIBE", "news.tech")
        subscribe(both, "PSUBSCRIBE", "news.*", "n*")
        # a + p + both (channel, news.*, n*)
        self.assertEqual(self.r.cmd("PUBLISH", "news.tech", "m1"), 5)
        self.assertEqual(a.read_reply(), [b"message", b"news.tech", b"m1"])
        self.assertEqual(p.read_reply(), [b"pmessage", b"news.*", b"news.tech", b"m1"])
        got = both.read_replies(3)
        self.assertEqual(sorted(got), sorted([[b"message", b"news.tech", b"m1"],
                                              [b"pmessage", b"news.*", b"news.tech", b"m1"],
                                              [b"pmessage", b"n*", b"news.tech", b"m1"]]))
        # a channel only the patterns match
        self.assertEqual(self.r.cmd("PUBLISH", "news.art", "m2"), 3)
        self.assertEqual(self.r.cmd("PUBLISH", "nothing", "m3"), 1)
        self.assertEqual(self.r.cmd("PUBLISH", "other", "m4"), 0)
        self.assertEqual(p.read_reply(), [b"pmessage", b"news.*", b"news.art", b"m2"])
        got = both.read_replies(3)
        self.assertEqual(sorted(got), sorted([[b"pmessage", b"news.*", b"news.art", b"m2"],
                                              [b"pmessage", b"n*", b"news.art", b"m2"],
                                              [b"pmessage", b"n*", b"nothing", b"m3"]]))
        for c in (a, p, both):
            self.assertNothingMore(c, 0.1)

    def test_payloads_are_binary_safe_empty_and_large(self):
        chan = b"bin\x00\r\n\xff"
        s = self.subscriber("SUBSCRIBE", chan)
        big = bytes(range(256)) * 4096  # 1 MiB
        for payload in (b"", b"\r\n", b"a\x00b\r\n*3\r\n", big):
            self.assertEqual(self.r.cmd("PUBLISH", chan, payload), 1)
            self.assertEqual(s.read_reply(), [b"message", chan, payload])

    def test_glob_patterns_match_as_redis_does(self):
        patterns = {
            "h?llo": {"hello", "hallo", "hxllo", "hbllo", "h*llo", "h?llo", "h]llo"},
            "h*llo": {"hello", "hallo", "hxllo", "hbllo", "hllo", "heeeello", "h*llo",
                      "h?llo", "h]llo"},
            "h[ae]llo": {"hello", "hallo"},
            "h[^e]llo": {"hallo", "hxllo", "hbllo", "h*llo", "h?llo", "h]llo"},
            "h[a-b]llo": {"hallo", "hbllo"},
            "h[b-a]llo": {"hallo", "hbllo"},  # a reversed range is the same range
            "h\\*llo": {"h*llo"},
            "h\\?llo": {"h?llo"},
            "h[\\]]llo": {"h]llo"},
            "*": {"hello", "hallo", "hxllo", "hbllo", "hllo", "heeeello", "h*llo", "h?llo",
                  "h]llo", "Hello", "hello!"},
        }
        channels = ["hello", "hallo", "hxllo", "hbllo", "hllo", "heeeello", "h*llo", "h?llo",
                    "h]llo", "Hello", "hello!"]
        s = self.subscriber("PSUBSCRIBE", *patterns)
        want = set()
        for ch in channels:
            n = sum(1 for p in patterns if ch in patterns[p])
            self.assertEqual(self.r.cmd("PUBLISH", ch, "m"), n, ch)
            want |= {(p, ch) for p in patterns if ch in patterns[p]}
        got = s.read_replies(len(want))
        self.assertTrue(all(g[0] == b"pmessage" and g[3] == b"m" for g in got), got)
        self.assertEqual({(g[1].decode(), g[2].decode()) for g in got}, want)
        self.assertNothingMore(s, 0.1)

    def test_patterns_with_several_subscribers_each_get_one_pmessage(self):
        subs = [self.subscriber("PSUBSCRIBE", "multi.*") for _ in range(3)]
        self.assertEqual(self.r.cmd("PUBLISH", "multi.x", "v"), 3)
        for s in subs:
            self.assertEqual(s.read_reply(), [b"pmessage", b"multi.*", b"multi.x", b"v"])

    def test_unsubscribed_connection_gets_no_more_messages(self):
        s = self.subscriber("SUBSCRIBE", "stop")
        self.assertEqual(s.cmd("UNSUBSCRIBE", "stop"), [b"unsubscribe", b"stop", 0])
        self.assertEqual(self.r.cmd("PUBLISH", "stop", "late"), 0)
        self.assertEqual(s.cmd("PING"), "PONG")
        self.assertNothingMore(s, 0.1)


# --------------------------------------------------------------------------
# Many connections, order, flow
# --------------------------------------------------------------------------

class TestManyConnections(PubSubTestCase):

    def test_twenty_subscribers_get_every_message_in_each_publishers_order(self):
        subs = [self.subscriber("SUBSCRIBE", "fan") for _ in range(20)]
        pubs = [self.client() for _ in range(5)]
        for i in range(50):
            for pi, p in enumerate(pubs):
                p.send_command("PUBLISH", "fan", "p%d:%d" % (pi, i))
        for p in pubs:
            self.assertEqual(p.read_replies(50), [20] * 50)
        for s in subs:
            got = s.read_replies(250)
            self.assertTrue(all(g[:2] == [b"message", b"fan"] for g in got), got[:3])
            for pi in range(5):
                seq = [g[2] for g in got if g[2].startswith(b"p%d:" % pi)]
                self.assertEqual(seq, [b"p%d:%d" % (pi, i) for i in range(50)])
            self.assertNothingMore(s, 0.05)

    def test_channel_and_pattern_subscribers_on_many_connections(self):
        chans = [self.subscriber("SUBSCRIBE", "wide.1") for _ in range(10)]
        pats = [self.subscriber("PSUBSCRIBE", "wide.*") for _ in range(10)]
        for i in range(10):
            self.assertEqual(self.r.cmd("PUBLISH", "wide.1", "m%d" % i), 20)
            self.assertEqual(self.r.cmd("PUBLISH", "wide.2", "n%d" % i), 10)
        for c in chans:
            self.assertEqual(c.read_replies(10),
                             [[b"message", b"wide.1", b"m%d" % i] for i in range(10)])
        for c in pats:
            got = c.read_replies(20)
            self.assertEqual([g for g in got if g[2] == b"wide.1"],
                             [[b"pmessage", b"wide.*", b"wide.1", b"m%d" % i] for i in range(10)])
            self.assertEqual([g for g in got if g[2] == b"wide.2"],
                             [[b"pmessage", b"wide.*", b"wide.2", b"n%d" % i] for i in range(10)])

    def test_one_hundred_thousand_messages_arrive_in_order_on_every_subscriber(self):
        n, nsubs, batch = 100000, 5, 1000
        subs = [self.subscriber("SUBSCRIBE", "order") for _ in range(nsubs)]
        payloads = [b"m:%06d" % i for i in range(n)]
        expected = b"".join(message_frame(b"order", p) for p in payloads)
        checkers = [StreamChecker(s, expected) for s in subs]
        pub = self.client()
        reply = b":%d\r\n" % nsubs
        t0 = time.monotonic()
        for start in range(0, n, batch):
            pub.send(b"".join(encode_command("PUBLISH", "order", p)
                              for p in payloads[start:start + batch]))
            got = recv_exactly(pub.sock, len(reply) * batch, time.monotonic() + 20)
            self.assertEqual(got, reply * batch, "PUBLISH replies of batch at %d" % start)
            for ch in checkers:
                ch.poll()
                self.assertIsNone(ch.mismatch)
            self.assertLess(time.monotonic() - t0, 40, "publishing took too long")
        for i, ch in enumerate(checkers):
            ok = ch.wait_complete(20)
            self.assertIsNone(ch.mismatch, "subscriber %d" % i)
            self.assertTrue(ok, "subscriber %d got %d of %d bytes (eof=%s)"
                            % (i, ch.got, len(expected), ch.eof))
        for s in subs:
            self.assertNothingMore(s, 0.05)

    def test_unsubscribe_while_messages_flow(self):
        leaver = self.subscriber("SUBSCRIBE", "flow")
        stayer = self.subscriber("SUBSCRIBE", "flow")
        pub = self.client()
        stop = threading.Event()
        published = [0]
        counts = []
        errors = []

        def publish():
            try:
                i = 0
                while not stop.is_set() and i < 60000:
                    pub.send(b"".join(encode_command("PUBLISH", "flow", "%d" % k)
                                      for k in range(i, i + 100)))
                    raw = recv_exactly(pub.sock, 400, time.monotonic() + 20)
                    counts.extend(raw[k + 1] - 48 for k in range(0, 400, 4))
                    i += 100
                    published[0] = i
            except Exception as e:  # reported below
                errors.append(e)

        t = threading.Thread(target=publish)
        t.start()
        try:
            seq = 0
            while seq < 2000:
                m = leaver.read_reply()
                self.assertEqual(m, [b"message", b"flow", b"%d" % seq])
                seq += 1
            leaver.send_command("UNSUBSCRIBE", "flow")
            while True:
                m = leaver.read_reply()
                if m[0] == b"unsubscribe":
                    self.assertEqual(m, [b"unsubscribe", b"flow", 0])
                    break
                self.assertEqual(m, [b"message", b"flow", b"%d" % seq])
                seq += 1
            # not subscribed any more: the next reply is a plain PONG,
            # no message can come between
            self.assertEqual(leaver.cmd("PING"), "PONG")
            before = published[0]
            deadline = time.monotonic() + 2
            while published[0] < before + 2000 and time.monotonic() < deadline and not errors:
                time.sleep(0.01)
            self.assertNothingMore(leaver, 0.2)
        finally:
            stop.set()
            t.join(30)
        self.assertEqual(errors, [])
        self.assertFalse(t.is_alive())
        total = published[0]
        self.assertGreater(total, seq)
        # the stayer got every message, in order
        expected = b"".join(message_frame(b"flow", b"%d" % k) for k in range(total))
        ch = StreamChecker(stayer, expected)
        ok = ch.wait_complete(20)
        self.assertIsNone(ch.mismatch)
        self.assertTrue(ok, "stayer got %d of %d bytes" % (ch.got, len(expected)))
        # PUBLISH counted 2 until the unsubscribe, then 1, never 2 again
        self.assertEqual(set(counts), {1, 2} if 1 in counts else {2})
        first_one = counts.index(1) if 1 in counts else len(counts)
        self.assertEqual(counts[first_one:], [1] * (len(counts) - first_one))
        self.assertGreaterEqual(first_one, seq)


# --------------------------------------------------------------------------
# Subscribed mode (RESP2) and RESP3 clients
# --------------------------------------------------------------------------

class TestSubscribedMode(PubSubTestCase):

    def test_resp2_subscribed_mode_rejects_other_commands_with_exact_error(self):
        c = self.subscriber("SUBSCRIBE", "ctx")
        self.assertEqual(c.raw("GET", "k"),
                         b"-ERR Can't execute 'get': only (P|S)SUBSCRIBE / (P|S)UNSUBSCRIBE / "
                         b"PING / QUIT / RESET are allowed in this context\r\n")
        self.assertError(c.cmd("GeT", "k"), SUBSCRIBED_MODE % "get")
        self.assertError(c.cmd("SET", "k", "v"), SUBSCRIBED_MODE % "set")
        self.assertError(c.cmd("PUBLISH", "ctx", "v"), SUBSCRIBED_MODE % "publish")
        self.assertError(c.cmd("HELLO", "3"), SUBSCRIBED_MODE % "hello")
        self.assertError(c.cmd("DBSIZE"), SUBSCRIBED_MODE % "dbsize")
        self.assertError(c.cmd("CLIENT", "ID"), SUBSCRIBED_MODE % "client|id")
        # a subcommand is named container|subcommand
        self.assertError(c.cmd("PUBSUB", "NUMSUB", "ctx"), SUBSCRIBED_MODE % "pubsub|numsub")
        self.assertEqual(self.r.cmd("EXISTS", "k"), 0)
        # still subscribed
        self.assertEqual(self.r.cmd("PUBLISH", "ctx", "still"), 1)
        self.assertEqual(c.read_reply(), [b"message", b"ctx", b"still"])

    def test_unknown_command_and_arity_are_checked_before_the_context(self):
        c = self.subscriber("SUBSCRIBE", "ctx2")
        self.assertError(c.cmd("FOO", "bar"),
                         "ERR unknown command 'FOO', with args beginning with: 'bar' ")
        self.assertError(c.cmd("GET"), arity("get"))
        self.assertError(c.cmd("PING", "a", "b"), arity("ping"))

    def test_ping_in_resp2_subscribed_mode_is_an_array(self):
        c = self.subscriber("SUBSCRIBE", "pp")
        self.assertEqual(c.raw("PING"), b"*2\r\n$4\r\npong\r\n$0\r\n\r\n")
        self.assertEqual(c.raw("PING", "msg"), b"*2\r\n$4\r\npong\r\n$3\r\nmsg\r\n")
        subscribe(c, "PSUBSCRIBE", "pp*")
        c.cmd("UNSUBSCRIBE")
        # a pattern alone keeps subscribed mode
        self.assertEqual(c.cmd("PING"), [b"pong", b""])
        c.cmd("PUNSUBSCRIBE")
        self.assertEqual(c.raw("PING"), b"+PONG\r\n")
        self.assertEqual(c.raw("PING", "msg"), b"$3\r\nmsg\r\n")

    def test_shard_subscription_alone_keeps_subscribed_mode(self):
        c = self.subscriber("SSUBSCRIBE", "shardctx")
        self.assertError(c.cmd("GET", "k"), SUBSCRIBED_MODE % "get")
        self.assertEqual(c.cmd("PING"), [b"pong", b""])
        self.assertEqual(c.cmd("SUNSUBSCRIBE"), [b"sunsubscribe", b"shardctx", 0])
        self.assertEqual(c.cmd("PING"), "PONG")
        self.assertIsNone(c.cmd("GET", "k"))

    def test_more_subscriptions_are_allowed_in_subscribed_mode(self):
        c = self.subscriber("SUBSCRIBE", "more1")
        self.assertEqual(subscribe(c, "SUBSCRIBE", "more2"), [[b"subscribe", b"more2", 2]])
        self.assertEqual(subscribe(c, "PSUBSCRIBE", "more*"), [[b"psubscribe", b"more*", 3]])
        self.assertEqual(subscribe(c, "SSUBSCRIBE", "more3"), [[b"ssubscribe", b"more3", 1]])

    def test_reset_leaves_subscribed_mode(self):
        c = self.subscriber("SUBSCRIBE", "rst")
        subscribe(c, "PSUBSCRIBE", "rst*")
        subscribe(c, "SSUBSCRIBE", "rsts")
        self.assertEqual(c.raw("RESET"), b"+RESET\r\n")
        self.assertEqual(c.raw("PING"), b"+PONG\r\n")
        self.assertOK(c.cmd("SET", "k", "v"))
        self.assertEqual(self.r.cmd("PUBLISH", "rst", "x"), 0)
        self.assertEqual(self.r.cmd("SPUBLISH", "rsts", "x"), 0)
        self.assertNothingMore(c, 0.1)

    def test_reset_of_a_resp3_subscriber_goes_back_to_resp2(self):
        c = self.subscriber("SUBSCRIBE", "rst3", resp3=True)
        self.assertEqual(c.raw("RESET"), b"+RESET\r\n")
        self.assertEqual(c.raw("GET", "nokey"), b"$-1\r\n")
        self.assertEqual(self.r.cmd("PUBLISH", "rst3", "x"), 0)

    def test_quit_in_subscribed_mode(self):
        c = self.subscriber("SUBSCRIBE", "bye")
        self.assertEqual(c.raw("QUIT"), b"+OK\r\n")
        self.assertTrue(c.is_closed())
        self.wait_until(lambda: self.r.cmd("PUBLISH", "bye", "x") == 0, timeout=5)

    def test_resp3_subscriber_can_run_any_command(self):
        c = self.subscriber("SUBSCRIBE", "any3", resp3=True)
        self.assertOK(c.cmd("SET", "k", "v"))
        self.assertEqual(c.cmd("GET", "k"), b"v")
        self.assertEqual(c.raw("GET", "nokey"), b"_\r\n")
        self.assertEqual(c.raw("PING"), b"+PONG\r\n")
        self.assertEqual(c.raw("PING", "m"), b"$1\r\nm\r\n")
        self.assertEqual(c.cmd("PUBSUB", "NUMSUB", "any3"), [b"any3", 1])
        # a message published before our GET: the push and the reply both
        # arrive, told apart by their types
        self.assertEqual(self.r.cmd("PUBLISH", "any3", "hi"), 1)
        c.send_command("GET", "k")
        pushes, reply = [], None
        while reply is None:
            x = c.read_reply()
            if isinstance(x, Push):
                pushes.append(x)
            else:
                reply = x
        self.assertEqual(reply, b"v")
        if not pushes:
            pushes.append(c.read_reply())
        self.assertEqual(pushes, [[b"message", b"any3", b"hi"]])
        self.assertIsInstance(pushes[0], Push)
        self.assertNothingMore(c, 0.1)

    def test_resp3_pipeline_mixes_replies_and_pushes_in_order(self):
        c = self.client()
        c.cmd("HELLO", "3")
        c.send(encode_command("SUBSCRIBE", "mix3") + encode_command("SET", "k", "1")
               + encode_command("INCR", "k") + encode_command("PSUBSCRIBE", "mix*")
               + encode_command("PING"))
        got = c.read_replies(5)
        self.assertEqual(got, [[b"subscribe", b"mix3", 1], "OK", 2,
                               [b"psubscribe", b"mix*", 2], "PONG"])
        self.assertIsInstance(got[0], Push)
        self.assertIsInstance(got[3], Push)

    def test_resp3_subscriber_publishing_to_its_own_channel(self):
        c = self.subscriber("SUBSCRIBE", "self3", resp3=True)
        subscribe(c, "PSUBSCRIBE", "self*")
        c.send_command("PUBLISH", "self3", "me")
        got = c.read_replies(3)
        self.assertIn(2, got)
        pushes = [g for g in got if isinstance(g, Push)]
        self.assertEqual(sorted(pushes), sorted([[b"message", b"self3", b"me"],
                                                 [b"pmessage", b"self*", b"self3", b"me"]]))
        self.assertNothingMore(c, 0.1)


# --------------------------------------------------------------------------
# PUBSUB introspection
# --------------------------------------------------------------------------

class TestPubsubIntrospection(PubSubTestCase):
    # CHANNELS and NUMPAT are global: no leftovers from earlier tests
    fresh_server_per_test = True

    def test_empty_server(self):
        self.assertEqual(self.r.raw("PUBSUB", "CHANNELS"), b"*0\r\n")
        self.assertEqual(self.r.raw("PUBSUB", "NUMPAT"), b":0\r\n")
        self.assertEqual(self.r.raw("PUBSUB", "NUMSUB"), b"*0\r\n")
        self.assertEqual(self.r.raw("PUBSUB", "SHARDCHANNELS"), b"*0\r\n")
        self.assertEqual(self.r.raw("PUBSUB", "SHARDNUMSUB"), b"*0\r\n")
        self.assertEqual(self.r.raw("PUBSUB", "NUMSUB", "x"), b"*2\r\n$1\r\nx\r\n:0\r\n")

    def test_channels_numsub_numpat(self):
        a = self.subscriber("SUBSCRIBE", "news.a", "news.b", "sport")
        self.subscriber("SUBSCRIBE", "news.a")
        self.subscriber("PSUBSCRIBE", "news.*", "x*")
        self.subscriber("PSUBSCRIBE", "news.*")
        self.subscriber("SSUBSCRIBE", "shard.a")
        self.assertEqual(sorted(self.r.cmd("PUBSUB", "CHANNELS")),
                         [b"news.a", b"news.b", b"sport"])
        self.assertEqual(sorted(self.r.cmd("PUBSUB", "CHANNELS", "news.*")),
                         [b"news.a", b"news.b"])
        self.assertEqual(self.r.cmd("PUBSUB", "CHANNELS", "n[^e]*"), [])
        self.assertEqual(self.r.cmd("PUBSUB", "CHANNELS", "sp?rt"), [b"sport"])
        # pattern subscriptions are not counted by NUMSUB
        self.assertEqual(self.r.raw("PUBSUB", "NUMSUB", "news.a", "news.b", "nope", "news.a"),
                         b"*8\r\n$6\r\nnews.a\r\n:2\r\n$6\r\nnews.b\r\n:1\r\n"
                         b"$4\r\nnope\r\n:0\r\n$6\r\nnews.a\r\n:2\r\n")
        # NUMPAT counts distinct patterns, not subscriptions
        self.assertEqual(self.r.cmd("PUBSUB", "NUMPAT"), 2)
        self.assertEqual(self.r.cmd("PUBSUB", "numsub", "sport"), [b"sport", 1])
        self.assertEqual(a.cmd("UNSUBSCRIBE", "sport"), [b"unsubscribe", b"sport", 2])
        self.assertEqual(sorted(self.r.cmd("PUBSUB", "CHANNELS")), [b"news.a", b"news.b"])
        self.assertEqual(self.r.cmd("PUBSUB", "NUMSUB", "sport"), [b"sport", 0])

    def test_shardchannels_and_shardnumsub(self):
        self.subscriber("SSUBSCRIBE", "s.a", "s.b")
        self.subscriber("SSUBSCRIBE", "s.a")
        self.subscriber("SUBSCRIBE", "plain")
        self.assertEqual(sorted(self.r.cmd("PUBSUB", "SHARDCHANNELS")), [b"s.a", b"s.b"])
        self.assertEqual(self.r.cmd("PUBSUB", "SHARDCHANNELS", "*b"), [b"s.b"])
        self.assertEqual(self.r.raw("PUBSUB", "SHARDNUMSUB", "s.a", "s.b", "plain"),
                         b"*6\r\n$3\r\ns.a\r\n:2\r\n$3\r\ns.b\r\n:1\r\n$5\r\nplain\r\n:0\r\n")
        self.assertEqual(self.r.cmd("PUBSUB", "CHANNELS"), [b"plain"])
        self.assertEqual(self.r.cmd("PUBSUB", "NUMSUB", "s.a"), [b"s.a", 0])

    def test_resp3_reply_shapes_are_flat_arrays(self):
        self.subscriber("SUBSCRIBE", "r3a")
        c = self.client()
        c.cmd("HELLO", "3")
        self.assertEqual(c.raw("PUBSUB", "NUMSUB", "r3a", "r3b"),
                         b"*4\r\n$3\r\nr3a\r\n:1\r\n$3\r\nr3b\r\n:0\r\n")
        self.assertEqual(c.raw("PUBSUB", "CHANNELS"), b"*1\r\n$3\r\nr3a\r\n")
        self.assertEqual(c.raw("PUBSUB", "NUMPAT"), b":0\r\n")
        self.assertEqual(c.raw("PUBSUB", "SHARDNUMSUB", "r3a"), b"*2\r\n$3\r\nr3a\r\n:0\r\n")

    def test_subcommand_errors(self):
        self.assertError(self.r.cmd("PUBSUB", "FOO"),
                         "ERR unknown subcommand 'FOO'. Try PUBSUB HELP.")
        self.assertError(self.r.cmd("PUBSUB", "NUMPAT", "x"), arity("pubsub|numpat"))
        self.assertError(self.r.cmd("PUBSUB", "CHANNELS", "a", "b"),
                         "ERR unknown subcommand or wrong number of arguments for 'CHANNELS'. "
                         "Try PUBSUB HELP.")
        self.assertError(self.r.cmd("PUBSUB", "SHARDCHANNELS", "a", "b"),
                         "ERR unknown subcommand or wrong number of arguments for "
                         "'SHARDCHANNELS'. Try PUBSUB HELP.")

    def test_info_stats_pubsub_fields(self):
        self.subscriber("SUBSCRIBE", "i1", "i2")
        self.subscriber("PSUBSCRIBE", "i*")
        self.subscriber("SSUBSCRIBE", "is")
        text = self.r.cmd("INFO", "stats").decode()
        fields = dict(line.split(":", 1) for line in text.split("\r\n")
                      if ":" in line and not line.startswith("#"))
        self.assertEqual(fields.get("pubsub_channels"), "2")
        self.assertEqual(fields.get("pubsub_patterns"), "1")
        self.assertEqual(fields.get("pubsubshard_channels"), "1")


# --------------------------------------------------------------------------
# Sharded pub/sub (standalone semantics)
# --------------------------------------------------------------------------

class TestShardedPubsub(PubSubTestCase):

    def test_ssubscribe_spublish_smessage(self):
        s = self.client()
        self.assertEqual(s.raw("SSUBSCRIBE", "sh1"),
                         b"*3\r\n$10\r\nssubscribe\r\n$3\r\nsh1\r\n:1\r\n")
        self.assertEqual(self.r.cmd("SPUBLISH", "sh1", "hey"), 1)
        self.assertEqual(s.read_raw_reply(), b"*3\r\n$8\r\nsmessage\r\n$3\r\nsh1\r\n$3\r\nhey\r\n")

    def test_spublish_reaches_only_shard_subscribers(self):
        s = self.subscriber("SSUBSCRIBE", "only")
        c = self.subscriber("SUBSCRIBE", "only")
        p = self.subscriber("PSUBSCRIBE", "on*")
        self.assertEqual(self.r.cmd("SPUBLISH", "only", "a"), 1)
        self.assertEqual(self.r.cmd("PUBLISH", "only", "b"), 2)
        self.assertEqual(s.read_reply(), [b"smessage", b"only", b"a"])
        self.assertEqual(c.read_reply(), [b"message", b"only", b"b"])
        self.assertEqual(p.read_reply(), [b"pmessage", b"on*", b"only", b"b"])
        for x in (s, c, p):
            self.assertNothingMore(x, 0.1)

    def test_ssubscribe_counts_only_shard_channels(self):
        c = self.subscriber("SUBSCRIBE", "cnt.c")
        subscribe(c, "PSUBSCRIBE", "cnt.*")
        self.assertEqual(subscribe(c, "SSUBSCRIBE", "cnt.s1", "cnt.s2", "cnt.s1"),
                         [[b"ssubscribe", b"cnt.s1", 1], [b"ssubscribe", b"cnt.s2", 2],
                          [b"ssubscribe", b"cnt.s1", 2]])
        # and (P)SUBSCRIBE counts do not include shard channels
        self.assertEqual(subscribe(c, "SUBSCRIBE", "cnt.d"), [[b"subscribe", b"cnt.d", 3]])
        self.assertEqual(c.cmd("SUNSUBSCRIBE", "cnt.s1"), [b"sunsubscribe", b"cnt.s1", 1])
        self.assertEqual(c.cmd("SUNSUBSCRIBE"), [b"sunsubscribe", b"cnt.s2", 0])
        self.assertEqual(c.cmd("SUNSUBSCRIBE"), [b"sunsubscribe", None, 0])

    def test_shard_channels_on_many_connections(self):
        subs = [self.subscriber("SSUBSCRIBE", "sfan") for _ in range(20)]
        for i in range(5):
            self.assertEqual(self.r.cmd("SPUBLISH", "sfan", "m%d" % i), 20)
        for s in subs:
            self.assertEqual(s.read_replies(5),
                             [[b"smessage", b"sfan", b"m%d" % i] for i in range(5)])


# --------------------------------------------------------------------------
# Disconnecting subscribers
# --------------------------------------------------------------------------

class TestDisconnect(PubSubTestCase):

    def numsub(self, ch):
        return self.r.cmd("PUBSUB", "NUMSUB", ch)[1]

    def test_disconnected_subscribers_are_removed(self):
        subs = [self.subscriber("SUBSCRIBE", "gone") for _ in range(3)]
        pat = self.subscriber("PSUBSCRIBE", "gon?")
        r3 = self.subscriber("SUBSCRIBE", "gone", resp3=True)
        self.assertEqual(self.numsub("gone"), 4)
        self.assertEqual(self.r.cmd("PUBLISH", "gone", "x"), 5)
        subs[0].close()                                   # orderly close
        pat.sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER,
                            struct.pack("ii", 1, 0))      # reset
        pat.close()
        self.assertEqual(r3.read_reply(), [b"message", b"gone", b"x"])
        self.assertEqual(r3.raw("QUIT"), b"+OK\r\n")
        self.wait_until(lambda: self.numsub("gone") == 2, timeout=5,
                        msg="NUMSUB did not drop to 2")
        self.wait_until(lambda: self.r.cmd("PUBLISH", "gone", "y") == 2, timeout=5,
                        msg="PUBLISH still counts the closed subscribers")
        for s in subs[1:]:
            got = [m for m in read_available(s, 0.2)]
            self.assertEqual(got[0], [b"message", b"gone", b"x"])
            self.assertTrue(all(m[:2] == [b"message", b"gone"] for m in got))

    def test_many_subscribers_disconnecting_at_once(self):
        subs = [self.subscriber("SUBSCRIBE", "mass") for _ in range(30)]
        psubs = [self.subscriber("PSUBSCRIBE", "mas*") for _ in range(10)]
        self.assertEqual(self.r.cmd("PUBLISH", "mass", "x"), 40)
        for s in subs[10:] + psubs:
            s.close()
        self.wait_until(lambda: self.r.cmd("PUBLISH", "mass", "y") == 10, timeout=5)
        self.wait_until(lambda: self.numsub("mass") == 10, timeout=5)
        self.assertEqual(self.r.cmd("PING"), "PONG")


# --------------------------------------------------------------------------
# client-output-buffer-limit pubsub
# --------------------------------------------------------------------------

class TestOutputBufferLimit(PubSubTestCase):
    server_args = ("--client-output-buffer-limit", "pubsub 1mb 256kb 2")

    def test_config_get_shows_the_pubsub_limit(self):
        reply = self.r.cmd("CONFIG", "GET", "client-output-buffer-limit")
        self.assertEqual(reply[0], b"client-output-buffer-limit")
        self.assertIn(b"pubsub 1048576 262144 2", reply[1])

    def test_slow_subscriber_is_disconnected_and_reader_keeps_up(self):
        slow = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.addCleanup(slow.close)
        slow.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        slow.connect(("127.0.0.1", self.port))
        slow.settimeout(10)
        slow.sendall(encode_command("CLIENT", "SETNAME", "slowsub")
                     + encode_command("SUBSCRIBE", "big"))
        want = b"+OK\r\n*3\r\n$9\r\nsubscribe\r\n$3\r\nbig\r\n:1\r\n"
        self.assertEqual(recv_exactly(slow, len(want), time.monotonic() + 10), want)
        self.assertIn(b"name=slowsub", self.r.cmd("CLIENT", "LIST"))
        fast = self.subscriber("SUBSCRIBE", "big")
        msg_size, count, batch = 10 * 1024, 2000, 20   # 20 MB in all
        frames = [message_frame(b"big", (b"%06d" % i) + b"x" * (msg_size - 6))
                  for i in range(count)]
        checker = StreamChecker(fast, b"".join(frames))
        pub = self.client()
        counts = []
        for start in range(0, count, batch):
            pub.send(b"".join(encode_command("PUBLISH", "big", f[-msg_size - 2:-2])
                              for f in frames[start:start + batch]))
            counts += pub.read_replies(batch)
            # the reader keeps up: read this batch before the next one
            checker.expected_until = sum(len(f) for f in frames[:start + batch])
            deadline = time.monotonic() + 10
            while (checker.got < checker.expected_until and checker.mismatch is None
                   and not checker.eof and time.monotonic() < deadline):
                checker.poll()
                if checker.got < checker.expected_until:
                    time.sleep(0.001)
            self.assertIsNone(checker.mismatch)
            self.assertFalse(checker.eof, "the reading subscriber was disconnected")
            self.assertEqual(checker.got, checker.expected_until,
                             "reader is behind after %d messages" % (start + batch))
        self.assertEqual(counts[0], 2)
        self.assertEqual(counts[-1], 1, "the slow subscriber was not dropped")
        self.assertEqual(set(counts), {1, 2})
        # the slow one reaches EOF once drained, having got less than all
        got = 0
        deadline = time.monotonic() + 20
        eof = False
        while time.monotonic() < deadline:
            try:
                chunk = slow.recv(1 << 20)
            except (ConnectionResetError, BrokenPipeError):
                eof = True
                break
            if not chunk:
                eof = True
                break
            got += len(chunk)
        self.assertTrue(eof, "slow subscriber still connected after reading %d bytes" % got)
        self.assertLess(got, sum(len(f) for f in frames))
        self.wait_until(lambda: b"name=slowsub" not in self.r.cmd("CLIENT", "LIST"), timeout=5)
        self.assertEqual(self.r.cmd("PUBSUB", "NUMSUB", "big"), [b"big", 1])
        self.assertEqual(self.r.cmd("PING"), "PONG")
        self.assertTrue(self.server.alive())


# --------------------------------------------------------------------------
# One publisher's order across channels (channels have different owners)
# --------------------------------------------------------------------------

class TestOrderAcrossChannels(PubSubTestCase):
    """Redis gives every subscriber one publisher's messages in the order
    they were published, whatever the channels. Several subscribers of each
    kind, so that with 4 shards some are on every core."""

    def test_one_publisher_interleaving_channels_keeps_its_order(self):
        rng = random.Random(15)
        chans = [b"evt.%d" % i for i in range(16)]
        seq = [(rng.choice(chans), b"e%d" % i) for i in range(3000)]
        pats = [self.subscriber("PSUBSCRIBE", "evt.*") for _ in range(6)]
        alls = [self.subscriber("SUBSCRIBE", *chans) for _ in range(6)]
        both = self.subscriber("SUBSCRIBE", *chans)
        subscribe(both, "PSUBSCRIBE", "evt.*")
        want_pat = b"".join(pmessage_frame(b"evt.*", c, m) for c, m in seq)
        want_all = b"".join(message_frame(c, m) for c, m in seq)
        want_both = b"".join(message_frame(c, m) + pmessage_frame(b"evt.*", c, m)
                             for c, m in seq)
        checkers = ([StreamChecker(c, want_pat) for c in pats]
                    + [StreamChecker(c, want_all) for c in alls]
                    + [StreamChecker(both, want_both)])
        pub = self.client()
        for start in range(0, len(seq), 500):
            for c, m in seq[start:start + 500]:
                pub.send_command("PUBLISH", c, m)
            self.assertEqual(pub.read_replies(500), [14] * 500)
            for ch in checkers:
                ch.poll()
                self.assertIsNone(ch.mismatch)
        for i, ch in enumerate(checkers):
            ok = ch.wait_complete(10)
            self.assertIsNone(ch.mismatch, "subscriber %d" % i)
            self.assertTrue(ok, "subscriber %d got %d bytes" % (i, ch.got))

    def test_short_interleaving_of_the_issue(self):
        # evt.0 e96, evt.6 e97, evt.0 e98 to a pattern subscriber, many times
        subs = [self.subscriber("PSUBSCRIBE", "evt.*") for _ in range(4)]
        pub = self.client()
        frames = []
        for i in range(300):
            for c, m in ((b"evt.0", b"a%d" % i), (b"evt.6", b"b%d" % i), (b"evt.0", b"c%d" % i)):
                pub.send_command("PUBLISH", c, m)
                frames.append(pmessage_frame(b"evt.*", c, m))
        self.assertEqual(pub.read_replies(900), [4] * 900)
        for s in subs:
            ch = StreamChecker(s, b"".join(frames))
            self.assertTrue(ch.wait_complete(10), ch.mismatch)

    def test_subscribers_on_every_core_and_publish_counts(self):
        chan_subs = [self.subscriber("SUBSCRIBE", "cores.a") for _ in range(12)]
        pat_subs = [self.subscriber("PSUBSCRIBE", "cores.*") for _ in range(12)]
        pubs = [self.client() for _ in range(8)]
        for i in range(20):
            for pi, p in enumerate(pubs):
                p.send_command("PUBLISH", "cores.a", "a%d:%d" % (pi, i))
                p.send_command("PUBLISH", "cores.b", "b%d:%d" % (pi, i))
                p.send_command("PUBLISH", "elsewhere", "x")
        for p in pubs:
            self.assertEqual(p.read_replies(60), [24, 12, 0] * 20)
        self.assertEqual(self.r.cmd("PUBSUB", "NUMSUB", "cores.a", "cores.b"),
                         [b"cores.a", 12, b"cores.b", 0])
        self.assertEqual(self.r.cmd("PUBSUB", "CHANNELS", "cores.*"), [b"cores.a"])
        for s in chan_subs:
            got = s.read_replies(160)
            for pi in range(8):
                self.assertEqual([g[2] for g in got if g[2].startswith(b"a%d:" % pi)],
                                 [b"a%d:%d" % (pi, i) for i in range(20)])
            self.assertNothingMore(s, 0.05)
        for s in pat_subs:
            got = s.read_replies(320)
            for pi in range(8):
                mine = [g[2:] for g in got if g[3][1:].startswith(b"%d:" % pi)]
                want = []
                for i in range(20):
                    want += [[b"cores.a", b"a%d:%d" % (pi, i)], [b"cores.b", b"b%d:%d" % (pi, i)]]
                self.assertEqual(mine, want)
            self.assertNothingMore(s, 0.05)

    def test_subscribe_then_publish_from_other_clients_is_received(self):
        pubs = [self.client() for _ in range(8)]
        for i in range(40):
            chan = "fresh.%d" % i
            if i % 2:
                s = self.subscriber("SUBSCRIBE", chan)
                self.assertEqual(pubs[i % 8].cmd("PUBSUB", "NUMSUB", chan), [b(chan), 1])
            else:
                s = self.subscriber("PSUBSCRIBE", chan + ".*")
            sent = chan if i % 2 else chan + ".x"
            self.assertEqual(pubs[(i + 3) % 8].cmd("PUBLISH", sent, "hi"), 1)
            got = s.read_reply()
            self.assertEqual(got[-2:], [b(sent), b"hi"])
            s.close()

    def test_unsubscribe_then_publish_is_not_received(self):
        pubs = [self.client() for _ in range(8)]
        s = self.subscriber("SUBSCRIBE", "gone.keep")
        for i in range(40):
            chan = "gone.%d" % i
            if i % 2:
                subscribe(s, "SUBSCRIBE", chan)
                self.assertEqual(s.cmd("UNSUBSCRIBE", chan), [b"unsubscribe", b(chan), 1])
                self.assertEqual(pubs[i % 8].cmd("PUBSUB", "NUMSUB", chan), [b(chan), 0])
                sent = chan
            else:
                subscribe(s, "PSUBSCRIBE", chan + ".*")
                self.assertEqual(s.cmd("PUNSUBSCRIBE", chan + ".*"),
                                 [b"punsubscribe", b(chan + ".*"), 1])
                sent = chan + ".x"
            self.assertEqual(pubs[(i + 3) % 8].cmd("PUBLISH", sent, "lost"), 0)
            self.assertEqual(pubs[(i + 5) % 8].cmd("PUBLISH", "gone.keep", "m%d" % i), 1)
            self.assertEqual(s.read_reply(), [b"message", b"gone.keep", b"m%d" % i])
        self.assertNothingMore(s, 0.05)

    def test_publish_in_multi_and_scripts_keeps_order(self):
        subs = [self.subscriber("PSUBSCRIBE", "ms.*") for _ in range(4)]
        want = []
        self.assertEqual(self.r.cmd("MULTI"), "OK")
        for i in range(10):
            self.assertEqual(self.r.cmd("PUBLISH", "ms.%d" % i, "t%d" % i), "QUEUED")
            want.append([b"pmessage", b"ms.*", b"ms.%d" % i, b"t%d" % i])
        self.assertEqual(self.r.cmd("EXEC"), [4] * 10)
        # a keyless script runs on the client's core (one with keys: below)
        self.assertEqual(self.r.cmd("EVAL", "return redis.call('publish', 'ms.z', 'z')", 0), 4)
        want.append([b"pmessage", b"ms.*", b"ms.z", b"z"])
        for s in subs:
            self.assertEqual(s.read_replies(len(want)), want)
            self.assertNothingMore(s, 0.05)

    def test_scripts_with_keys_elsewhere_publish_in_the_clients_order(self):
        # the script runs on its key's owner; what it publishes still
        # reaches each subscriber between the client's PUBLISH before and
        # after it (many keys, so that the owners are every core)
        subs = [self.subscriber("PSUBSCRIBE", "so.*") for _ in range(4)]
        script = "redis.call('set', KEYS[1], ARGV[1]); return redis.call('publish', 'so.b', ARGV[1])"
        pub = self.client()
        want = []
        for i in range(150):
            pub.send_command("PUBLISH", "so.a", "%d.1" % i)
            pub.send_command("EVAL", script, 1, "so:key:%d" % i, "%d.2" % i)
            pub.send_command("PUBLISH", "so.a", "%d.3" % i)
            want += [[b"pmessage", b"so.*", b"so.a", b"%d.1" % i],
                     [b"pmessage", b"so.*", b"so.b", b"%d.2" % i],
                     [b"pmessage", b"so.*", b"so.a", b"%d.3" % i]]
        self.assertEqual(pub.read_replies(450), [4] * 450)
        for s in subs:
            self.assertEqual(s.read_replies(len(want)), want)
            self.assertNothingMore(s, 0.05)


class TestNotificationOrder(PubSubTestCase):
    """The notifications of one change arrive keyspace first, then keyevent,
    as Redis sends them, on subscribers of every core."""

    server_args = ("--notify-keyspace-events", "KEA")

    def test_keyspace_before_keyevent_over_many_changes(self):
        subs = [self.subscriber("PSUBSCRIBE", "__key*__:*") for _ in range(6)]
        w = self.client()
        nkeys = 150
        for i in range(nkeys):
            k = "ord%d" % i
            w.send_command("SET", k, "v")
            w.send_command("EXPIRE", k, 100)
            w.send_command("DEL", k)
        self.assertEqual(w.read_replies(3 * nkeys), ["OK", 1, 1] * nkeys)
        want = []
        for ev in (b"set", b"expire", b"del"):
            want += [("space", ev), ("event", ev)]
        for s in subs:
            per_key = {}
            for m in s.read_replies(6 * nkeys):
                self.assertEqual(m[:2], [b"pmessage", b"__key*__:*"])
                if m[2].startswith(b"__keyspace@0__:"):
                    per_key.setdefault(m[2][15:], []).append(("space", m[3]))
                else:
                    self.assertTrue(m[2].startswith(b"__keyevent@0__:"), m)
                    per_key.setdefault(m[3], []).append(("event", m[2][15:]))
            self.assertEqual(len(per_key), nkeys)
            for k, got in per_key.items():
                self.assertEqual(got, want, k)
            self.assertNothingMore(s, 0.05)

    def test_a_write_elsewhere_notifies_before_the_next_publish(self):
        # SET of a key another core owns, then PUBLISH from the client's
        # core, pipelined: Redis's order is the SET's notifications first
        subs = [self.subscriber("PSUBSCRIBE", "*") for _ in range(4)]
        w = self.client()
        want = []
        for i in range(100):
            k = "wn%d" % i
            w.send_command("SET", k, "v")
            w.send_command("PUBLISH", "after", k)
            want += [[b"pmessage", b"*", b"__keyspace@0__:" + k.encode(), b"set"],
                     [b"pmessage", b"*", b"__keyevent@0__:set", k.encode()],
                     [b"pmessage", b"*", b"after", k.encode()]]
        self.assertEqual(w.read_replies(200), ["OK", 4] * 100)
        for s in subs:
            self.assertEqual(s.read_replies(len(want)), want)
            self.assertNothingMore(s, 0.05)


# --------------------------------------------------------------------------
# The mini-redis (tokio tutorial) client's exchange
# --------------------------------------------------------------------------

class TestMiniRedisScenario(PubSubTestCase):

    def test_set_get_subscribe_publish_as_mini_redis_sends_them(self):
        c = socket.create_connection(("127.0.0.1", self.port), timeout=10)
        self.addCleanup(c.close)
        c.sendall(b"*3\r\n$3\r\nSET\r\n$5\r\nhello\r\n$5\r\nworld\r\n")
        self.assertEqual(recv_exactly(c, 5, time.monotonic() + 10), b"+OK\r\n")
        c.sendall(b"*2\r\n$3\r\nget\r\n$5\r\nhello\r\n")
        self.assertEqual(recv_exactly(c, 11, time.monotonic() + 10), b"$5\r\nworld\r\n")
        # mini-redis `cli subscribe numbers` and `cli publish numbers hi`
        sub = socket.create_connection(("127.0.0.1", self.port), timeout=10)
        self.addCleanup(sub.close)
        sub.sendall(b"*2\r\n$9\r\nsubscribe\r\n$7\r\nnumbers\r\n")
        want = b"*3\r\n$9\r\nsubscribe\r\n$7\r\nnumbers\r\n:1\r\n"
        self.assertEqual(recv_exactly(sub, len(want), time.monotonic() + 10), want)
        pub = socket.create_connection(("127.0.0.1", self.port), timeout=10)
        self.addCleanup(pub.close)
        pub.sendall(b"*3\r\n$7\r\npublish\r\n$7\r\nnumbers\r\n$2\r\nhi\r\n")
        self.assertEqual(recv_exactly(pub, 4, time.monotonic() + 10), b":1\r\n")
        want = b"*3\r\n$7\r\nmessage\r\n$7\r\nnumbers\r\n$2\r\nhi\r\n"
        self.assertEqual(recv_exactly(sub, len(want), time.monotonic() + 10), want)
        # mini-redis unsubscribes with an array of its channels
        sub.sendall(b"*2\r\n$11\r\nunsubscribe\r\n$7\r\nnumbers\r\n")
        want = b"*3\r\n$11\r\nunsubscribe\r\n$7\r\nnumbers\r\n:0\r\n"
        self.assertEqual(recv_exactly(sub, len(want), time.monotonic() + 10), want)


if __name__ == "__main__":
    unittest.main()
