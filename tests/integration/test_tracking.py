"""Client-side caching: CLIENT TRACKING / CACHING / GETREDIR / TRACKINGINFO,
RESP3 invalidation pushes, the RESP2 __redis__:invalidate redirect, BCAST,
OPTIN/OPTOUT, NOLOOP, flush and expiry invalidation, as Redis 7.0 does them.

With several shards the keys live on several owners and the connections on
several cores: a push reaches the client whatever core wrote the key. The
order of pushes for keys of different owners is not Redis's (each owner
sends its own), so those tests compare sets of keys."""

import os
import socket
import sys
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import (Error, Map, Push, RespSet, ServerTestCase,  # noqa: E402
                     reference_mode, shard_count)

try:
    import redis
except ImportError:  # pragma: no cover
    redis = None

SYNTAX = "ERR syntax error"
NO_SUCH_REDIR = "ERR The client ID you want redirect to does not exist"
CACHING_OFF = ("ERR CLIENT CACHING can be called only when the client is in tracking mode "
               "with OPTIN or OPTOUT mode enabled")
SWITCH_BCAST = ("ERR You can't switch BCAST mode on/off before disabling tracking for this "
                "client, and then re-enabling it with a different mode.")
SWITCH_OPT = ("ERR You can't switch OPTIN/OPTOUT mode before disabling tracking for this "
              "client, and then re-enabling it with a different mode.")
PUSH_HEAD = b">2\r\n$10\r\ninvalidate\r\n"
MESSAGE_HEAD = b"*3\r\n$7\r\nmessage\r\n$20\r\n__redis__:invalidate\r\n"


def arity(cmd):
    return "ERR wrong number of arguments for '%s' command" % cmd


def spread_keys(n=24, prefix="key:"):
    """Names that land on every shard (with 4 shards, n=24 misses one with
    probability (3/4)^24 * 4, about 0.4%: the tests only need several)."""
    return ["%s%d" % (prefix, i) for i in range(n)]


class Tracker:
    """A RESP3 connection that keeps the pushes it reads apart from the
    replies."""

    def __init__(self, client, resp3=True):
        self.c = client
        self.pushes = []
        if resp3:
            reply = self.call("HELLO", "3")
            assert isinstance(reply, Map), reply

    def call(self, *args):
        self.c.send_command(*args)
        while True:
            v = self.c.read_reply()
            if isinstance(v, Push):
                self.pushes.append(v)
                continue
            return v

    def wait(self, n=1, quiet=0.2, timeout=5.0):
        """The pushes read so far plus those that come: at least n (waiting up
        to timeout), then any more within quiet seconds. Clears them."""
        deadline = time.monotonic() + timeout
        old = self.c.timeout
        try:
            while True:
                if len(self.pushes) >= n:
                    self.c.timeout = quiet
                else:
                    self.c.timeout = max(0.01, deadline - time.monotonic())
                try:
                    v = self.c.read_reply()
                except socket.timeout:
                    break
                if not isinstance(v, Push):
                    raise AssertionError("unexpected reply %r" % (v,))
                self.pushes.append(v)
        finally:
            self.c.timeout = old
        out, self.pushes = self.pushes, []
        return out

    def invalidated(self, n=1, quiet=0.2):
        """Keys of the invalidate pushes (at least n pushes), as a sorted
        list; a null (flush) shows as None."""
        keys = []
        for p in self.wait(n, quiet=quiet):
            assert p[0] == b"invalidate", p
            if p[1] is None:
                keys.append(None)
            else:
                keys.extend(p[1])
        return sorted(keys, key=lambda k: (k is not None, k or b""))


class TrackingCase(ServerTestCase):

    def tracker(self, *options, resp3=True):
        """A connection with CLIENT TRACKING on (and options)."""
        t = Tracker(self.client(), resp3=resp3)
        self.assertEqual(t.call("CLIENT", "TRACKING", "on", *options), "OK")
        return t

    def plain(self):
        return Tracker(self.client(), resp3=False)

    def cid(self, c):
        return c.call("CLIENT", "ID") if isinstance(c, Tracker) else c.cmd("CLIENT", "ID")

    def other_core_clients(self, k):
        """k raw clients whose connections are on cores other than self.r's
        and each other's where there are enough shards (any k otherwise)."""
        n = shard_count() if not reference_mode() else 1
        mine = (self.r.cmd("CLIENT", "ID") - 1) % n
        out, seen = [], {mine}
        for _ in range(64):
            if len(out) == k:
                break
            c = self.client()
            core = (c.cmd("CLIENT", "ID") - 1) % n
            if n == 1 or core not in seen or len(seen) == n:
                seen.add(core)
                out.append(c)
        while len(out) < k:
            out.append(self.client())
        return out


class TestTrackingCommands(TrackingCase):

    def test_trackinginfo_of_a_fresh_connection_is_off(self):
        t = Tracker(self.client())
        self.assertEqual(t.c.raw("CLIENT", "TRACKINGINFO"),
                         b"%3\r\n$5\r\nflags\r\n~1\r\n$3\r\noff\r\n$8\r\nredirect\r\n:-1\r\n"
                         b"$8\r\nprefixes\r\n*0\r\n")
        self.assertEqual(self.r.cmd("CLIENT", "TRACKINGINFO"),
                         [b"flags", [b"off"], b"redirect", -1, b"prefixes", []])
        self.assertEqual(self.r.cmd("CLIENT", "GETREDIR"), -1)

    def test_tracking_on_shows_in_info_getredir_and_client_list(self):
        self.assertEqual(self.r.raw("CLIENT", "TRACKING", "on"), b"+OK\r\n")
        self.assertEqual(self.r.cmd("CLIENT", "TRACKINGINFO"),
                         [b"flags", [b"on"], b"redirect", 0, b"prefixes", []])
        self.assertEqual(self.r.cmd("CLIENT", "GETREDIR"), 0)
        info = self.r.cmd("CLIENT", "INFO").decode()
        self.assertIn(" flags=t ", info)
        self.assertIn(" redir=0 ", info)
        self.assertOK(self.r.cmd("CLIENT", "TRACKING", "OFF"))
        self.assertEqual(self.r.cmd("CLIENT", "GETREDIR"), -1)
        info = self.r.cmd("CLIENT", "INFO").decode()
        self.assertIn(" flags=N ", info)
        self.assertIn(" redir=-1 ", info)

    def test_bcast_info_lists_prefixes_in_order_and_flags(self):
        t = Tracker(self.client())
        self.assertEqual(t.call("CLIENT", "TRACKING", "on", "BCAST", "PREFIX", "b", "PREFIX",
                                "a", "NOLOOP"), "OK")
        self.assertEqual(t.call("CLIENT", "TRACKING", "on", "BCAST", "PREFIX", "c"), "OK")
        self.assertEqual(t.c.raw("CLIENT", "TRACKINGINFO"),
                         b"%3\r\n$5\r\nflags\r\n~2\r\n$2\r\non\r\n$5\r\nbcast\r\n"
                         b"$8\r\nredirect\r\n:0\r\n$8\r\nprefixes\r\n*3\r\n$1\r\na\r\n"
                         b"$1\r\nb\r\n$1\r\nc\r\n")
        info = t.call("CLIENT", "INFO").decode()
        self.assertIn(" flags=tB ", info)
        listed = self.r.cmd("CLIENT", "LIST").decode()
        self.assertIn("flags=tB", listed)

    def test_optin_and_caching_show_in_info(self):
        t = self.tracker("OPTIN", "NOLOOP")
        self.assertEqual(t.call("CLIENT", "CACHING", "yes"), "OK")
        info = t.call("CLIENT", "TRACKINGINFO")
        self.assertIsInstance(info[b"flags"], RespSet)
        self.assertEqual(list(info[b"flags"]), [b"on", b"optin", b"caching-yes", b"noloop"])
        t.call("PING")  # CACHING lasts one command
        self.assertEqual(list(t.call("CLIENT", "TRACKINGINFO")[b"flags"]),
                         [b"on", b"optin", b"noloop"])
        o = self.tracker("OPTOUT")
        self.assertEqual(o.call("CLIENT", "CACHING", "NO"), "OK")
        self.assertEqual(list(o.call("CLIENT", "TRACKINGINFO")[b"flags"]),
                         [b"on", b"optout", b"caching-no"])

    def test_redirect_shows_in_getredir_and_list(self):
        target = self.client()
        tid = target.cmd("CLIENT", "ID")
        self.assertOK(self.r.cmd("CLIENT", "TRACKING", "on", "REDIRECT", tid))
        self.assertEqual(self.r.cmd("CLIENT", "GETREDIR"), tid)
        self.assertIn(" redir=%d " % tid, self.r.cmd("CLIENT", "INFO").decode())
        self.assertEqual(self.r.cmd("CLIENT", "TRACKINGINFO")[3], tid)
        # ON again without REDIRECT: no redirect any more
        self.assertOK(self.r.cmd("CLIENT", "TRACKING", "on"))
        self.assertEqual(self.r.cmd("CLIENT", "GETREDIR"), 0)

    def test_tracking_errors(self):
        r = self.r
        other = self.client().cmd("CLIENT", "ID")
        self.assertError(r.cmd("CLIENT", "TRACKING"), arity("client|tracking"))
        self.assertError(r.cmd("CLIENT", "TRACKING", "maybe"), SYNTAX)
        self.assertError(r.cmd("CLIENT", "TRACKING", "on", "FOO"), SYNTAX)
        self.assertError(r.cmd("CLIENT", "TRACKING", "on", "PREFIX"), SYNTAX)
        self.assertError(r.cmd("CLIENT", "TRACKING", "on", "REDIRECT"), SYNTAX)
        self.assertError(r.cmd("CLIENT", "TRACKING", "on", "REDIRECT", "abc"),
                         "ERR value is not an integer or out of range")
        self.assertError(r.cmd("CLIENT", "TRACKING", "on", "REDIRECT", "999999"), NO_SUCH_REDIR)
        self.assertError(r.cmd("CLIENT", "TRACKING", "on", "REDIRECT", "0"), NO_SUCH_REDIR)
        self.assertError(r.cmd("CLIENT", "TRACKING", "on", "REDIRECT", "-3"), NO_SUCH_REDIR)
        # the redirect is looked at before the options after it
        self.assertError(r.cmd("CLIENT", "TRACKING", "on", "REDIRECT", "999999", "FOO"),
                         NO_SUCH_REDIR)
        self.assertError(r.cmd("CLIENT", "TRACKING", "on", "REDIRECT", other, "REDIRECT",
                               other), "ERR A client can only redirect to a single other client")
        self.assertError(r.cmd("CLIENT", "TRACKING", "on", "PREFIX", "x"),
                         "ERR PREFIX option requires BCAST mode to be enabled")
        self.assertError(r.cmd("CLIENT", "TRACKING", "on", "BCAST", "OPTIN"),
                         "ERR OPTIN and OPTOUT are not compatible with BCAST")
        self.assertError(r.cmd("CLIENT", "TRACKING", "on", "OPTIN", "OPTOUT"),
                         "ERR You can't specify both OPTIN mode and OPTOUT mode")
        self.assertError(r.cmd("CLIENT", "TRACKING", "on", "BCAST", "PREFIX", "x", "PREFIX",
                               "xy"),
                         "ERR Prefix 'x' overlaps with another provided prefix 'xy'. "
                         "Prefixes for a single client must not overlap.")
        # none of these turned tracking on
        self.assertEqual(r.cmd("CLIENT", "GETREDIR"), -1)
        self.assertOK(r.cmd("CLIENT", "TRACKING", "on", "OPTIN"))
        self.assertError(r.cmd("CLIENT", "TRACKING", "on", "OPTOUT"), SWITCH_OPT)
        self.assertError(r.cmd("CLIENT", "TRACKING", "on", "BCAST"), SWITCH_BCAST)
        self.assertOK(r.cmd("CLIENT", "TRACKING", "off"))
        self.assertOK(r.cmd("CLIENT", "TRACKING", "on", "BCAST", "PREFIX", "a"))
        self.assertError(r.cmd("CLIENT", "TRACKING", "on"), SWITCH_BCAST)
        self.assertError(r.cmd("CLIENT", "TRACKING", "on", "BCAST", "PREFIX", "ab"),
                         "ERR Prefix 'ab' overlaps with an existing prefix 'a'. "
                         "Prefixes for a single client must not overlap.")
        self.assertError(r.cmd("CLIENT", "TRACKING", "on", "BCAST", "PREFIX", "a"),
                         "ERR Prefix 'a' overlaps with an existing prefix 'a'. "
                         "Prefixes for a single client must not overlap.")
        # OFF ignores (but parses) its options
        self.assertOK(r.cmd("CLIENT", "TRACKING", "off", "BCAST", "PREFIX", "q"))
        self.assertError(r.cmd("CLIENT", "TRACKING", "off", "FOO"), SYNTAX)

    def test_caching_getredir_trackinginfo_errors(self):
        r = self.r
        self.assertError(r.cmd("CLIENT", "CACHING"), arity("client|caching"))
        self.assertError(r.cmd("CLIENT", "CACHING", "yes", "no"), arity("client|caching"))
        self.assertError(r.cmd("CLIENT", "CACHING", "yes"), CACHING_OFF)
        self.assertError(r.cmd("CLIENT", "CACHING", "maybe"), CACHING_OFF)
        self.assertError(r.cmd("CLIENT", "GETREDIR", "x"), arity("client|getredir"))
        self.assertError(r.cmd("CLIENT", "TRACKINGINFO", "x"), arity("client|trackinginfo"))
        self.assertOK(r.cmd("CLIENT", "TRACKING", "on"))
        self.assertError(r.cmd("CLIENT", "CACHING", "yes"),
                         "ERR CLIENT CACHING YES is only valid when tracking is enabled in "
                         "OPTIN mode.")
        self.assertError(r.cmd("CLIENT", "CACHING", "no"),
                         "ERR CLIENT CACHING NO is only valid when tracking is enabled in "
                         "OPTOUT mode.")
        self.assertError(r.cmd("CLIENT", "CACHING", "maybe"), SYNTAX)

    def test_reset_turns_tracking_off(self):
        t = self.tracker("BCAST", "PREFIX", "r:")
        self.assertEqual(t.call("RESET"), "RESET")
        self.assertEqual(t.call("CLIENT", "GETREDIR"), -1)
        t.call("HELLO", "3")
        self.r.cmd("SET", "r:1", "v")
        self.assertEqual(t.wait(0, quiet=0.2), [])
        # and it may come back in another mode
        self.assertEqual(t.call("CLIENT", "TRACKING", "on"), "OK")


class TestDefaultMode(TrackingCase):

    def test_write_by_another_client_pushes_once(self):
        t = self.tracker()
        self.assertIsNone(t.call("GET", "k"))
        self.assertOK(self.r.cmd("SET", "k", "1"))
        self.assertEqual(t.wait(1), [[b"invalidate", [b"k"]]])
        self.assertOK(self.r.cmd("SET", "k", "2"))  # forgotten after the push
        self.assertEqual(t.wait(0, quiet=0.2), [])
        self.assertEqual(t.call("GET", "k"), b"2")
        self.r.cmd("DEL", "k")
        self.assertEqual(t.wait(1), [[b"invalidate", [b"k"]]])

    def test_info_counts_tracking_clients_keys_and_prefixes(self):
        def info(field):
            for line in self.r.cmd("INFO", "everything").decode().splitlines():
                if line.startswith(field + ":"):
                    return int(line.split(":", 1)[1])
            raise AssertionError(field)

        t = self.tracker()
        for k in spread_keys(6, "ik:"):
            t.call("GET", k)
        b = self.tracker("BCAST", "PREFIX", "a:", "PREFIX", "b:")
        self.assertEqual(info("tracking_clients"), 2)
        self.assertEqual(info("tracking_total_keys"), 6)
        self.assertEqual(info("tracking_total_items"), 6)
        self.assertEqual(info("tracking_total_prefixes"), 2)
        self.assertOK(b.call("CLIENT", "TRACKING", "off"))
        self.assertEqual(info("tracking_clients"), 1)

    def test_push_bytes_are_redis_s(self):
        t = self.tracker()
        t.call("GET", "key1")
        self.r.cmd("SET", "key1", "x")
        t.wait(1)
        self.assertEqual(t.c.last_raw, PUSH_HEAD + b"*1\r\n$4\r\nkey1\r\n")

    def test_own_write_replies_first_then_pushes(self):
        t = self.tracker()
        t.call("GET", "own")
        t.c.send_command("SET", "own", "1")
        self.assertEqual(t.c.read_raw_reply(), b"+OK\r\n")
        self.assertEqual(t.c.read_raw_reply(), PUSH_HEAD + b"*1\r\n$3\r\nown\r\n")

    def test_keys_not_read_are_not_pushed(self):
        t = self.tracker()
        t.call("GET", "read")
        self.r.cmd("SET", "unread", "1")
        self.r.cmd("SET", "read", "1")
        self.assertEqual(t.invalidated(1), [b"read"])

    def test_keys_on_every_shard_from_writers_on_other_cores(self):
        t = self.tracker()
        keys = spread_keys()
        self.assertEqual(t.call("MGET", *keys), [None] * len(keys))
        writers = self.other_core_clients(3)
        for i, k in enumerate(keys):
            self.assertOK(writers[i % 3].cmd("SET", k, i))
        self.assertEqual(t.invalidated(len(keys)), sorted(k.encode() for k in keys))

    def test_each_key_of_a_multi_key_write_is_its_own_push(self):
        t = self.tracker()
        t.call("GET", "m1")
        t.call("HGET", "m2", "f")
        t.call("STRLEN", "m3")
        self.r.cmd("MSET", "m1", "a", "m2", "b", "m3", "c")
        pushes = t.wait(3)
        self.assertEqual(len(pushes), 3)
        self.assertEqual(sorted(p[1][0] for p in pushes), [b"m1", b"m2", b"m3"])

    def test_write_commands_of_every_kind_invalidate(self):
        t = self.tracker()
        self.r.cmd("RPUSH", "l", "a")
        self.r.cmd("SADD", "s", "a")
        self.r.cmd("SET", "e", "1")
        t.call("LRANGE", "l", 0, -1)
        t.call("SMEMBERS", "s")
        t.call("GET", "e")
        t.call("EXISTS", "n")
        self.r.cmd("LPUSH", "l", "b")
        self.r.cmd("SREM", "s", "a")
        self.r.cmd("EXPIRE", "e", 100)
        self.r.cmd("INCR", "n")
        self.assertEqual(t.invalidated(4), [b"e", b"l", b"n", b"s"])

    def test_failed_write_does_not_invalidate(self):
        t = self.tracker()
        self.r.cmd("SET", "str", "1")
        t.call("GET", "str")
        self.assertError(self.r.cmd("LPUSH", "str", "x"),
                         "WRONGTYPE Operation against a key holding the wrong kind of value")
        self.assertEqual(t.wait(0, quiet=0.2), [])
        self.r.cmd("APPEND", "str", "2")
        self.assertEqual(t.invalidated(1), [b"str"])

    def test_rename_invalidates_source_and_destination(self):
        t = self.tracker()
        self.r.cmd("SET", "{rn}src", "v")
        t.call("GET", "{rn}src")
        t.call("GET", "{rn}dst")
        self.assertOK(self.r.cmd("RENAME", "{rn}src", "{rn}dst"))
        self.assertEqual(t.invalidated(2), [b"{rn}dst", b"{rn}src"])

    def test_rename_across_shards_invalidates_both(self):
        t = self.tracker()
        self.r.cmd("SET", "rsrc", "v")
        t.call("GET", "rsrc")
        t.call("GET", "rdst")
        self.assertOK(self.r.cmd("RENAME", "rsrc", "rdst"))
        self.assertEqual(t.invalidated(2), [b"rdst", b"rsrc"])

    def test_keys_are_not_per_database(self):
        t = self.tracker()
        t.call("GET", "dbkey")
        w = self.client()
        w.cmd("SELECT", 3)
        w.cmd("SET", "dbkey", "1")
        self.assertEqual(t.invalidated(1), [b"dbkey"])

    def test_noloop_skips_own_writes(self):
        t = self.tracker("NOLOOP")
        t.call("GET", "nl")
        self.assertEqual(t.call("SET", "nl", "1"), "OK")
        self.assertEqual(t.wait(0, quiet=0.2), [])
        # the own write forgot the key: another client's write is silent too
        self.r.cmd("SET", "nl", "2")
        self.assertEqual(t.wait(0, quiet=0.2), [])
        t.call("GET", "nl")
        self.r.cmd("SET", "nl", "3")
        self.assertEqual(t.invalidated(1), [b"nl"])

    def test_flushall_and_flushdb_push_a_null(self):
        t = self.tracker()
        t.call("GET", "f1")
        self.assertOK(self.r.cmd("FLUSHALL"))
        p = t.wait(1)
        self.assertEqual(p, [[b"invalidate", None]])
        self.assertEqual(t.c.last_raw, PUSH_HEAD + b"_\r\n")
        # even without a key read; FLUSHDB by the client itself: reply first
        t.c.send_command("FLUSHDB")
        self.assertEqual(t.c.read_raw_reply(), b"+OK\r\n")
        self.assertEqual(t.c.read_raw_reply(), PUSH_HEAD + b"_\r\n")
        # the table was emptied: an old key is silent
        self.r.cmd("SET", "f1", "1")
        self.assertEqual(t.wait(0, quiet=0.2), [])

    def test_active_expiry_invalidates(self):
        t = self.tracker()
        self.r.cmd("SET", "ex", "1", "PX", 200)
        self.assertEqual(t.call("GET", "ex"), b"1")
        self.assertEqual(t.invalidated(1), [b"ex"])

    def test_lazy_expiry_replies_then_pushes(self):
        self.assertOK(self.r.cmd("DEBUG", "SET-ACTIVE-EXPIRE", 0))
        try:
            t = self.tracker()
            self.r.cmd("SET", "lz", "1", "PX", 100)
            self.assertEqual(t.call("GET", "lz"), b"1")
            time.sleep(0.25)
            t.c.send_command("GET", "lz")
            self.assertEqual(t.c.read_raw_reply(), b"_\r\n")
            self.assertEqual(t.c.read_raw_reply(), PUSH_HEAD + b"*1\r\n$2\r\nlz\r\n")
            # the read after the expiry is remembered again
            self.r.cmd("SET", "lz", "2")
            self.assertEqual(t.invalidated(1), [b"lz"])
        finally:
            self.r.cmd("DEBUG", "SET-ACTIVE-EXPIRE", 1)

    def test_tracking_off_stops_pushes(self):
        t = self.tracker()
        t.call("GET", "off1")
        self.assertEqual(t.call("CLIENT", "TRACKING", "off"), "OK")
        self.r.cmd("SET", "off1", "1")
        self.assertEqual(t.wait(0, quiet=0.2), [])

    def test_resp2_client_without_redirect_gets_nothing(self):
        p = self.plain()
        self.assertOK(p.call("CLIENT", "TRACKING", "on"))
        p.call("GET", "r2")
        self.r.cmd("SET", "r2", "1")
        self.assertEqual(p.call("PING"), "PONG")
        self.assertEqual(p.wait(0, quiet=0.2), [])
        # after HELLO 3, keys read before are pushed
        p.call("GET", "r2")
        p.call("HELLO", "3")
        self.r.cmd("SET", "r2", "2")
        self.assertEqual(p.invalidated(1), [b"r2"])

    def test_table_max_keys_evicts_with_an_invalidation(self):
        self.assertEqual(self.r.cmd("CONFIG", "GET", "tracking-table-max-keys"),
                         [b"tracking-table-max-keys", b"1000000"])
        self.assertOK(self.r.cmd("CONFIG", "SET", "tracking-table-max-keys", 1))
        try:
            t = self.tracker()
            t.call("GET", "{mk}1")
            t.call("GET", "{mk}2")
            t.call("PING")
            keys = t.invalidated(1)
            self.assertEqual(len(keys), 1)
            self.assertIn(keys[0], (b"{mk}1", b"{mk}2"))
        finally:
            self.r.cmd("CONFIG", "SET", "tracking-table-max-keys", 1000000)
        self.assertError(self.r.cmd("CONFIG", "SET", "tracking-table-max-keys", "x"),
                         "ERR CONFIG SET failed (possibly related to argument "
                         "'tracking-table-max-keys') - argument couldn't be parsed into an "
                         "integer")

    def test_many_readers_of_one_key_on_every_core(self):
        trackers = [self.tracker() for _ in range(6)]
        for t in trackers:
            t.call("GET", "hot")
        self.r.cmd("SET", "hot", "1")
        for t in trackers:
            self.assertEqual(t.invalidated(1), [b"hot"])

    def test_closing_a_tracking_client_is_clean(self):
        t = self.tracker()
        t.call("MGET", *spread_keys(8))
        t.c.close()
        for k in spread_keys(8):
            self.r.cmd("SET", k, "1")
        self.assertEqual(self.r.cmd("PING"), "PONG")


class TestRedirect(TrackingCase):

    def subscriber(self):
        s = self.client()
        sid = s.cmd("CLIENT", "ID")
        self.assertEqual(s.cmd("SUBSCRIBE", "__redis__:invalidate"),
                         [b"subscribe", b"__redis__:invalidate", 1])
        return s, sid

    def messages(self, s, n, quiet=0.2):
        out = []
        old = s.timeout
        try:
            while True:
                s.timeout = quiet if len(out) >= n else 5.0
                try:
                    out.append(s.read_raw_reply())
                except socket.timeout:
                    return out
        finally:
            s.timeout = old

    def test_resp2_redirect_to_a_subscriber(self):
        s, sid = self.subscriber()
        a = self.other_core_clients(1)[0]
        self.assertOK(a.cmd("CLIENT", "TRACKING", "on", "REDIRECT", sid))
        a.cmd("GET", "rk1")
        self.r.cmd("SET", "rk1", "x")
        self.assertEqual(self.messages(s, 1), [MESSAGE_HEAD + b"*1\r\n$3\r\nrk1\r\n"])
        self.r.cmd("FLUSHALL")
        self.assertEqual(self.messages(s, 1), [MESSAGE_HEAD + b"$-1\r\n"])

    def test_redirect_keys_on_every_shard(self):
        s, sid = self.subscriber()
        a = self.client()
        self.assertOK(a.cmd("CLIENT", "TRACKING", "on", "REDIRECT", sid))
        keys = spread_keys(12, "rd:")
        a.cmd("MGET", *keys)
        for k in keys:
            self.r.cmd("SET", k, "1")
        got = self.messages(s, len(keys))
        self.assertEqual(len(got), len(keys))
        names = sorted(m[len(MESSAGE_HEAD):].split(b"\r\n")[2] for m in got)
        self.assertEqual(names, sorted(k.encode() for k in keys))

    def test_redirect_to_a_resp3_client_pushes_there(self):
        target = Tracker(self.client())
        tid = target.call("CLIENT", "ID")
        a = self.client()
        self.assertOK(a.cmd("CLIENT", "TRACKING", "on", "REDIRECT", tid))
        a.cmd("GET", "to3")
        self.r.cmd("SET", "to3", "1")
        self.assertEqual(target.invalidated(1), [b"to3"])

    def test_redirect_to_a_resp2_client_not_subscribed_gets_nothing(self):
        target = self.plain()
        tid = target.call("CLIENT", "ID")
        a = self.client()
        self.assertOK(a.cmd("CLIENT", "TRACKING", "on", "REDIRECT", tid))
        a.cmd("GET", "to2")
        self.r.cmd("SET", "to2", "1")
        self.assertEqual(target.wait(0, quiet=0.2), [])
        self.assertEqual(target.call("PING"), "PONG")

    def test_redirect_to_a_closed_client_is_broken(self):
        gone = self.client()
        gid = gone.cmd("CLIENT", "ID")
        t = self.tracker("REDIRECT", gid)
        t.call("GET", "rb")
        gone.close()
        self.wait_until(lambda: ("id=%d " % gid) not in self.r.cmd("CLIENT", "LIST").decode())
        self.r.cmd("SET", "rb", "1")
        self.assertEqual(t.wait(1), [[b"tracking-redir-broken", gid]])
        self.assertEqual(t.c.last_raw, b">2\r\n$21\r\ntracking-redir-broken\r\n:%d\r\n" % gid)
        info = t.call("CLIENT", "TRACKINGINFO")
        self.assertEqual(list(info[b"flags"]), [b"on", b"broken_redirect"])
        self.assertEqual(info[b"redirect"], gid)
        self.assertIn(" flags=tR ", t.call("CLIENT", "INFO").decode())
        # the key was forgotten: the next write is silent
        self.r.cmd("SET", "rb", "2")
        self.assertEqual(t.wait(0, quiet=0.2), [])


class TestOptInOut(TrackingCase):

    def test_optin_tracks_only_after_caching_yes(self):
        t = self.tracker("OPTIN")
        t.call("GET", "o1")
        self.assertEqual(t.call("CLIENT", "CACHING", "yes"), "OK")
        t.call("GET", "o2")
        t.call("GET", "o3")
        self.r.cmd("MSET", "o1", 1, "o2", 1, "o3", 1)
        self.assertEqual(t.invalidated(1), [b"o2"])

    def test_caching_survives_client_commands_but_not_others(self):
        t = self.tracker("OPTIN")
        t.call("CLIENT", "CACHING", "yes")
        t.call("CLIENT", "ID")
        t.call("GET", "c1")
        t.call("CLIENT", "CACHING", "yes")
        t.call("PING")
        t.call("GET", "c2")
        self.r.cmd("MSET", "c1", 1, "c2", 1)
        self.assertEqual(t.invalidated(1), [b"c1"])

    def test_caching_covers_a_whole_multi(self):
        t = self.tracker("OPTIN")
        t.call("CLIENT", "CACHING", "yes")
        self.assertEqual(t.call("MULTI"), "OK")
        self.assertEqual(t.call("GET", "{mu}1"), "QUEUED")
        self.assertEqual(t.call("GET", "{mu}2"), "QUEUED")
        self.assertEqual(t.call("EXEC"), [None, None])
        t.call("GET", "{mu}3")  # EXEC ended CACHING
        self.r.cmd("MSET", "{mu}1", 1, "{mu}2", 1, "{mu}3", 1)
        self.assertEqual(t.invalidated(2), [b"{mu}1", b"{mu}2"])

    def test_optin_read_on_another_shard(self):
        t = self.tracker("OPTIN")
        keys = spread_keys(8, "oi:")
        t.call("CLIENT", "CACHING", "yes")
        t.call("MGET", *keys)
        t.call("MGET", *keys)  # not tracked again, no harm
        for k in keys:
            self.r.cmd("SET", k, "1")
        self.assertEqual(t.invalidated(len(keys)), sorted(k.encode() for k in keys))
        for k in keys:  # the second MGET did not register them
            self.r.cmd("SET", k, "2")
        self.assertEqual(t.wait(0, quiet=0.2), [])

    def test_optout_skips_the_read_after_caching_no(self):
        t = self.tracker("OPTOUT")
        t.call("GET", "u1")
        self.assertEqual(t.call("CLIENT", "CACHING", "no"), "OK")
        t.call("GET", "u2")
        t.call("GET", "u3")
        self.r.cmd("MSET", "u1", 1, "u2", 1, "u3", 1)
        self.assertEqual(t.invalidated(2), [b"u1", b"u3"])


class TestBcast(TrackingCase):

    def test_prefixes_get_the_written_keys(self):
        t = self.tracker("BCAST", "PREFIX", "p:", "PREFIX", "q:")
        w = self.client()
        w.send(b"".join(b"*3\r\n$3\r\nSET\r\n$3\r\n%s\r\n$1\r\n1\r\n" % k
                        for k in (b"p:1", b"p:2", b"q:2", b"r:2")))
        self.assertEqual(w.read_replies(4), ["OK"] * 4)
        self.assertEqual(t.invalidated(2), [b"p:1", b"p:2", b"q:2"])

    def test_one_key_batch_bytes(self):
        t = self.tracker("BCAST", "PREFIX", "one:")
        self.r.cmd("SET", "one:x", "1")
        self.assertEqual(t.wait(1), [[b"invalidate", [b"one:x"]]])
        self.assertEqual(t.c.last_raw, PUSH_HEAD + b"*1\r\n$5\r\none:x\r\n")

    def test_keys_of_a_pipeline_come_in_batches(self):
        t = self.tracker("BCAST", "PREFIX", "b:")
        keys = spread_keys(16, "b:")
        w = self.client()
        w.send(b"".join(b"*3\r\n$3\r\nSET\r\n$%d\r\n%s\r\n$1\r\n1\r\n" % (len(k), k.encode())
                        for k in keys))
        w.read_replies(len(keys))
        pushes = t.wait(1)
        self.assertLessEqual(len(pushes), len(keys))
        got = sorted(k for p in pushes for k in p[1])
        self.assertEqual(got, sorted(k.encode() for k in keys))

    def test_empty_prefix_gets_every_key(self):
        t = self.tracker("BCAST")
        self.assertEqual(t.call("CLIENT", "TRACKINGINFO")[b"prefixes"], [b""])
        self.r.cmd("SET", "anything", "1")
        self.r.cmd("DEL", "anything")
        self.assertIn(b"anything", t.invalidated(1, quiet=0.3))

    def test_bcast_noloop_skips_own_keys(self):
        t = self.tracker("BCAST", "PREFIX", "n:", "NOLOOP")
        self.assertEqual(t.call("SET", "n:mine", "1"), "OK")
        self.assertEqual(t.wait(0, quiet=0.2), [])
        self.r.cmd("SET", "n:theirs", "1")
        self.assertEqual(t.invalidated(1), [b"n:theirs"])

    def test_bcast_sees_expiry_and_flush(self):
        t = self.tracker("BCAST", "PREFIX", "x:")
        self.r.cmd("SET", "x:e", "1", "PX", 50)
        # the SET's batch, then the expiry's
        self.assertEqual(t.invalidated(2), [b"x:e", b"x:e"])
        self.r.cmd("FLUSHALL")
        self.assertEqual(t.invalidated(1), [None])

    def test_bcast_off_stops_pushes(self):
        t = self.tracker("BCAST", "PREFIX", "o:")
        self.assertEqual(t.call("CLIENT", "TRACKING", "off"), "OK")
        self.r.cmd("SET", "o:1", "1")
        self.assertEqual(t.wait(0, quiet=0.2), [])

    def test_bcast_with_resp2_redirect(self):
        s = self.client()
        sid = s.cmd("CLIENT", "ID")
        s.cmd("SUBSCRIBE", "__redis__:invalidate")
        a = self.client()
        self.assertOK(a.cmd("CLIENT", "TRACKING", "on", "BCAST", "PREFIX", "br:", "REDIRECT",
                            sid))
        self.r.cmd("SET", "br:1", "1")
        self.assertEqual(s.read_raw_reply(), MESSAGE_HEAD + b"*1\r\n$4\r\nbr:1\r\n")


@unittest.skipIf(redis is None, "redis-py not installed (use /usr/bin/python3)")
class TestRedisPyInterop(TrackingCase):
    """redis-py 4.3 (Debian's) has no client-side cache of its own (that came
    with RESP3 in 5.x); its CLIENT TRACKING helpers and pub/sub are what a
    4.3 application combines by hand: the RESP2 redirect."""

    def test_client_tracking_with_a_pubsub_redirect(self):
        rp = redis.Redis(host="127.0.0.1", port=self.port, socket_timeout=10)
        ps = rp.pubsub()
        try:
            ps.subscribe("__redis__:invalidate")
            msg = ps.get_message(timeout=5)
            self.assertEqual(msg["type"], "subscribe")
            subs = [c for c in rp.client_list() if "P" in c["flags"]]
            self.assertEqual(len(subs), 1)
            sid = int(subs[0]["id"])
            reader = redis.Redis(host="127.0.0.1", port=self.port, socket_timeout=10,
                                 single_connection_client=True)
            self.assertTrue(reader.client_tracking_on(clientid=sid))
            info = reader.client_trackinginfo()
            self.assertIn(b"on", info[1])
            self.assertEqual(info[3], sid)
            reader.get("rpk")
            rp.set("rpk", "v")
            deadline = time.monotonic() + 5
            msg = None
            while msg is None and time.monotonic() < deadline:
                msg = ps.get_message(timeout=1)
            self.assertEqual(msg["type"], "message")
            self.assertEqual(msg["channel"], b"__redis__:invalidate")
            self.assertEqual(msg["data"], [b"rpk"])
            self.assertTrue(reader.client_tracking_off())
            reader.close()
        finally:
            ps.close()
            rp.close()

    @unittest.skip("redis-py 4.3 has no client-side caching (RESP3 cache came in 5.1)")
    def test_redis_py_client_side_cache(self):
        pass


if __name__ == "__main__":
    unittest.main()
