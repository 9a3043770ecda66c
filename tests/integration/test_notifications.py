"""Keyspace notifications (notify-keyspace-events): which events each
command sends, on which channels, class filtering, the database number in
the channel, keys on every shard, and the normalized CONFIG GET value.

Redis 7.0 is the reference: every test here passes against redis-server
7.0.15 (SHARDIS_REFERENCE=redis). Redis delivers all notifications in one
global order (for each event keyspace then keyevent, events in command
order). The tests require that order only within each channel (so the
events of one key on __keyspace@<db>__:<key> are in command order) and
otherwise compare multisets: with several shards, different channels (and
different keys) are served by different threads.
"""

import os
import socket
import sys
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import Push, ServerTestCase, collect_messages  # noqa: E402

EVENT_TIMEOUT = 5.0
QUIET = 0.15


def ev(event, key, db=0, k=True, e=True):
    """The (channel, payload) pairs Redis publishes for one event on a key."""
    out = []
    if k:
        out.append(("__keyspace@%d__:%s" % (db, key), event))
    if e:
        out.append(("__keyevent@%d__:%s" % (db, event), key))
    return out


def evs(*events, db=0):
    """ev() of several (event, key) pairs, concatenated in order."""
    out = []
    for event, key in events:
        out += ev(event, key, db)
    return out


def per_channel(events):
    """{channel: [payload, ...]} in arrival order."""
    out = {}
    for channel, payload in events:
        out.setdefault(channel, []).append(payload)
    return out


class NotificationCase(ServerTestCase):
    """A subscriber on every keyspace and keyevent channel (psubscribe)."""

    pattern = "__key*__:*"

    def setUp(self):
        super().setUp()
        self.sub = self.client()
        self.sub.send_command("PSUBSCRIBE", self.pattern)
        self.assertEqual(self.sub.read_reply(), [b"psubscribe", self.pattern.encode(), 1])

    def collect(self, n, quiet=QUIET, sub=None, timeout=EVENT_TIMEOUT):
        """Read n notifications (waiting up to `timeout`), then any more that
        come within `quiet` seconds. Returns (channel, payload) strings."""
        return collect_messages(sub or self.sub, n, quiet=quiet, timeout=timeout)

    def assertEvents(self, expected, ordered=True, sub=None, timeout=EVENT_TIMEOUT):
        """The events received are `expected`; with ordered, each channel's
        messages in the order given (Redis keeps one global order, keyspace
        before keyevent; a sharded server need only keep it per channel)."""
        got = self.collect(len(expected), sub=sub, timeout=timeout)
        self.assertEqual(sorted(got), sorted(expected))
        if ordered:
            self.assertEqual(per_channel(got), per_channel(expected))

    def assertNoEvents(self, quiet=QUIET):
        self.assertEqual(self.collect(0, quiet=quiet), [])

    def check(self, command, reply, expected, ordered=True):
        """Run command on self.r, check its reply and the events it sent."""
        got = self.r.cmd(*command)
        self.assertEqual(got, reply, command)
        self.assertEvents(expected, ordered)


# --------------------------------------------------------------------------
# Which events each command sends (KEA from the command line)
# --------------------------------------------------------------------------

class TestEventsPerCommand(NotificationCase):
    server_args = ("--notify-keyspace-events", "KEA")

    def test_config_get_normalizes_kea_to_ake(self):
        self.assertEqual(self.r.cmd("CONFIG", "GET", "notify-keyspace-events"),
                         [b"notify-keyspace-events", b"AKE"])

    def test_set(self):
        exact = self.client()
        exact.send_command("SUBSCRIBE", "__keyspace@0__:k", "__keyevent@0__:set")
        exact.read_replies(2)
        self.check(("SET", "k", "v"), "OK", ev("set", "k"))
        self.assertEqual(sorted(exact.read_raw_reply() for _ in range(2)), sorted([
            b"*3\r\n$7\r\nmessage\r\n$18\r\n__keyevent@0__:set\r\n$1\r\nk\r\n",
            b"*3\r\n$7\r\nmessage\r\n$16\r\n__keyspace@0__:k\r\n$3\r\nset\r\n"]))
        self.check(("SET", "k", "w", "GET"), b"v", ev("set", "k"))
        self.check(("SET", "k", "w", "KEEPTTL"), "OK", ev("set", "k"))
        self.check(("SET", "k", "x", "XX"), "OK", ev("set", "k"))
        self.check(("GETSET", "k", "y"), b"x", ev("set", "k"))

    def test_set_with_expiry_sends_set_then_expire(self):
        self.check(("SET", "k", "v", "EX", "100"), "OK", evs(("set", "k"), ("expire", "k")))
        self.check(("SET", "k", "v", "PX", "100000"), "OK", evs(("set", "k"), ("expire", "k")))
        self.check(("SET", "k", "v", "EXAT", "99999999999"), "OK",
                   evs(("set", "k"), ("expire", "k")))
        self.check(("SETEX", "k", "100", "v"), "OK", evs(("set", "k"), ("expire", "k")))
        self.check(("PSETEX", "k", "100000", "v"), "OK", evs(("set", "k"), ("expire", "k")))
        # overwriting a key with a TTL by a plain SET: no persist event
        self.check(("SET", "k", "v"), "OK", ev("set", "k"))
        self.assertEqual(self.r.cmd("TTL", "k"), -1)

    def test_set_that_does_not_write_sends_nothing(self):
        self.r.cmd("SET", "k", "v")
        self.collect(2)
        self.assertEqual(self.r.cmd("SETNX", "k", "x"), 0)
        self.assertIsNone(self.r.cmd("SET", "k", "x", "NX"))
        self.assertIsNone(self.r.cmd("SET", "nokey", "x", "XX"))
        self.assertIsNone(self.r.cmd("GETDEL", "nokey"))
        self.assertEqual(self.r.cmd("GET", "k"), b"v")
        self.assertEqual(self.r.cmd("GETEX", "k"), b"v")
        self.assertEqual(self.r.cmd("SETRANGE", "k", "0", ""), 1)
        self.assertEqual(self.r.cmd("SETRANGE", "nokey", "0", ""), 0)
        self.assertEqual(self.r.cmd("MSETNX", "k", "1", "new", "2"), 0)
        self.assertNoEvents()
        self.check(("SETNX", "n", "x"), 1, ev("set", "n"))

    def test_failed_commands_send_nothing(self):
        self.r.cmd("SET", "s", "abc")
        self.collect(2)
        self.assertIsInstance(self.r.cmd("INCR", "s"), Exception)
        self.assertIsInstance(self.r.cmd("INCRBYFLOAT", "s", "1"), Exception)
        self.assertIsInstance(self.r.cmd("SETEX", "s", "-1", "v"), Exception)
        self.assertIsInstance(self.r.cmd("GETEX", "s", "EX", "0"), Exception)
        self.assertIsInstance(self.r.cmd("RENAME", "nokey", "x"), Exception)
        self.assertNoEvents()

    def test_setrange(self):
        self.check(("SETRANGE", "k", "2", "xy"), 4, ev("setrange", "k"))
        self.check(("SETRANGE", "k", "0", "ab"), 4, ev("setrange", "k"))

    def test_incr_family_sends_incrby(self):
        self.check(("INCR", "n"), 1, ev("incrby", "n"))
        self.check(("DECR", "n"), 0, ev("incrby", "n"))
        self.check(("INCRBY", "n", "5"), 5, ev("incrby", "n"))
        self.check(("DECRBY", "n", "2"), 3, ev("incrby", "n"))
        self.check(("INCRBY", "n", "0"), 3, ev("incrby", "n"))

    def test_incrbyfloat(self):
        self.check(("INCRBYFLOAT", "f", "1.5"), b"1.5", ev("incrbyfloat", "f"))
        self.check(("INCRBYFLOAT", "f", "0"), b"1.5", ev("incrbyfloat", "f"))

    def test_append(self):
        self.check(("APPEND", "a", "x"), 1, ev("append", "a"))
        self.check(("APPEND", "a", "yz"), 3, ev("append", "a"))
        self.check(("APPEND", "a", ""), 3, ev("append", "a"))

    def test_getdel_sends_del(self):
        self.r.cmd("SET", "k", "v")
        self.collect(2)
        self.check(("GETDEL", "k"), b"v", ev("del", "k"))

    def test_getex(self):
        self.r.cmd("SET", "k", "v")
        self.collect(2)
        self.check(("GETEX", "k", "EX", "100"), b"v", ev("expire", "k"))
        self.check(("GETEX", "k", "PXAT", "99999999999999"), b"v", ev("expire", "k"))
        self.check(("GETEX", "k", "PERSIST"), b"v", ev("persist", "k"))
        # no TTL to remove: nothing
        self.assertEqual(self.r.cmd("GETEX", "k", "PERSIST"), b"v")
        self.assertNoEvents()
        # a time in the past deletes the key
        self.check(("GETEX", "k", "EXAT", "1"), b"v", ev("del", "k"))

    def test_mset_sends_set_per_key(self):
        self.check(("MSET", "a", "1", "b", "2", "c", "3"), "OK",
                   evs(("set", "a"), ("set", "b"), ("set", "c")), ordered=False)
        # a key given twice is set twice
        self.check(("MSET", "a", "1", "a", "2"), "OK", evs(("set", "a"), ("set", "a")))
        self.check(("MSETNX", "x", "1", "y", "2"), 1, evs(("set", "x"), ("set", "y")),
                   ordered=False)

    def test_del_and_unlink_send_del_per_existing_key(self):
        self.r.cmd("MSET", "a", "1", "b", "2", "c", "3")
        self.collect(6)
        self.check(("DEL", "a", "nokey", "b", "a"), 2, evs(("del", "a"), ("del", "b")),
                   ordered=False)
        self.check(("UNLINK", "c", "nokey"), 1, ev("del", "c"))
        self.assertEqual(self.r.cmd("DEL", "nokey"), 0)
        self.assertNoEvents()

    def test_rename_sends_rename_from_and_rename_to(self):
        self.r.cmd("SET", "src", "v", "EX", "100")
        self.collect(4)
        self.check(("RENAME", "src", "dst"), "OK",
                   evs(("rename_from", "src"), ("rename_to", "dst")), ordered=False)
        # onto an existing key: no del for the key it replaces
        self.r.cmd("SET", "other", "x")
        self.collect(2)
        self.check(("RENAME", "other", "dst"), "OK",
                   evs(("rename_from", "other"), ("rename_to", "dst")), ordered=False)
        self.check(("RENAMENX", "dst", "dst2"), 1,
                   evs(("rename_from", "dst"), ("rename_to", "dst2")), ordered=False)
        self.r.cmd("SET", "z", "1")
        self.collect(2)
        self.assertEqual(self.r.cmd("RENAMENX", "z", "dst2"), 0)
        # renaming a key to itself changes nothing and sends nothing
        self.assertOK(self.r.cmd("RENAME", "z", "z"))
        self.assertNoEvents()

    def test_copy_sends_copy_to_for_the_destination(self):
        self.r.cmd("SET", "src", "v")
        self.collect(2)
        self.check(("COPY", "src", "dst"), 1, ev("copy_to", "dst"))
        self.assertEqual(self.r.cmd("COPY", "src", "dst"), 0)
        self.assertNoEvents()
        self.check(("COPY", "src", "dst", "REPLACE"), 1, ev("copy_to", "dst"))
        self.check(("COPY", "src", "dst", "DB", "2"), 1, ev("copy_to", "dst", db=2))

    def test_expire_family_sends_expire(self):
        self.r.cmd("SET", "k", "v")
        self.collect(2)
        self.check(("EXPIRE", "k", "100"), 1, ev("expire", "k"))
        self.check(("PEXPIRE", "k", "100000"), 1, ev("expire", "k"))
        self.check(("EXPIREAT", "k", "99999999999"), 1, ev("expire", "k"))
        self.check(("PEXPIREAT", "k", "99999999999999"), 1, ev("expire", "k"))
        self.assertEqual(self.r.cmd("EXPIRE", "k", "100", "NX"), 0)
        self.assertEqual(self.r.cmd("EXPIRE", "nokey", "100"), 0)
        self.assertNoEvents()

    def test_persist(self):
        self.r.cmd("SET", "k", "v", "EX", "100")
        self.collect(4)
        self.check(("PERSIST", "k"), 1, ev("persist", "k"))
        self.assertEqual(self.r.cmd("PERSIST", "k"), 0)
        self.assertEqual(self.r.cmd("PERSIST", "nokey"), 0)
        self.assertNoEvents()

    def test_expire_in_the_past_sends_del(self):
        for i, cmd in enumerate((("EXPIRE", "0"), ("EXPIRE", "-5"), ("PEXPIRE", "-1"),
                                 ("EXPIREAT", "1"), ("PEXPIREAT", "1"))):
            key = "past%d" % i
            self.r.cmd("SET", key, "v")
            self.collect(2)
            self.check((cmd[0], key, cmd[1]), 1, ev("del", key))
            self.assertEqual(self.r.cmd("EXISTS", key), 0)
        self.assertEqual(self.r.cmd("EXPIRE", "nokey", "-1"), 0)
        self.assertNoEvents()

    def test_active_expiry_sends_expired(self):
        self.r.cmd("SET", "k", "v", "PX", "50")
        # nobody touches the key: the server expires it by itself
        self.assertEvents(evs(("set", "k"), ("expire", "k"), ("expired", "k")))
        self.assertEqual(self.r.cmd("EXISTS", "k"), 0)

    def test_expiry_on_access_sends_expired_once_per_key(self):
        # Make Redis expire on access only, if the server has the switch
        # (shardis may expire some of the keys actively first: still one
        # 'expired' per key).
        switched = self.r.cmd("DEBUG", "SET-ACTIVE-EXPIRE", "0") == "OK"
        keys = ["lazy:%d" % i for i in range(200)]
        try:
            for k in keys:
                self.r.cmd("SET", k, "v", "PX", "200")
            time.sleep(0.3)
            for k in keys:
                self.assertIsNone(self.r.cmd("GET", k))
        finally:
            if switched:
                self.r.cmd("DEBUG", "SET-ACTIVE-EXPIRE", "1")
        got = self.collect(6 * len(keys))
        self.assertEqual(sorted(got), sorted(evs(*(x for k in keys for x in (
            ("set", k), ("expire", k), ("expired", k))))))
        for k in keys:
            self.assertEqual(per_channel(got)["__keyspace@0__:" + k],
                             ["set", "expire", "expired"])
        self.assertEqual(self.r.cmd("DBSIZE"), 0)

    def test_events_of_keys_on_every_shard(self):
        keys = ["key:%d" % i for i in range(50)]
        for k in keys:
            self.r.cmd("SET", k, "v")
        self.assertEvents(evs(*(("set", k) for k in keys)), ordered=False)
        self.check(("DEL", *keys), 50, evs(*(("del", k) for k in keys)), ordered=False)
        self.r.cmd("MSET", *[x for k in keys for x in (k, "1")])
        self.assertEvents(evs(*(("set", k) for k in keys)), ordered=False)
        for k in keys:
            self.r.cmd("INCR", k)
        self.assertEvents(evs(*(("incrby", k) for k in keys)), ordered=False)
        for k in keys:
            self.r.cmd("PEXPIRE", k, "50")
        got = self.collect(4 * len(keys))
        self.assertEqual(sorted(got), sorted(evs(*(x for k in keys for x in (
            ("expire", k), ("expired", k))))))
        for k in keys:
            self.assertEqual(per_channel(got)["__keyspace@0__:" + k], ["expire", "expired"])

    def test_events_of_one_key_keep_their_order(self):
        seq = [("SET", "k", "1"), ("INCR", "k"), ("APPEND", "k", "0"), ("EXPIRE", "k", "100"),
               ("PERSIST", "k"), ("SETRANGE", "k", "0", "9"), ("INCRBYFLOAT", "k", "1"),
               ("GETDEL", "k")]
        for c in seq:
            self.r.cmd(*c)
        self.assertEvents(evs(("set", "k"), ("incrby", "k"), ("append", "k"), ("expire", "k"),
                              ("persist", "k"), ("setrange", "k"), ("incrbyfloat", "k"),
                              ("del", "k")))

    def test_select_puts_the_db_number_in_the_channel(self):
        self.r.cmd("SELECT", "3")
        self.check(("SET", "k", "v"), "OK", ev("set", "k", db=3))
        self.check(("DEL", "k"), 1, ev("del", "k", db=3))
        self.r.cmd("SELECT", "15")
        self.check(("INCR", "n"), 1, ev("incrby", "n", db=15))
        self.r.cmd("SELECT", "0")
        self.check(("SET", "k", "v"), "OK", ev("set", "k", db=0))

    def test_exact_channel_subscribers_on_many_connections(self):
        subs = []
        for _ in range(10):
            c = self.client()
            c.send_command("SUBSCRIBE", "__keyevent@0__:set", "__keyspace@0__:watched")
            c.read_replies(2)
            subs.append(c)
        self.r.cmd("SET", "watched", "1")
        self.r.cmd("SET", "other", "1")
        self.r.cmd("DEL", "watched")
        self.collect(6)
        for c in subs:
            got = self.collect(4, sub=c)
            self.assertEqual(sorted(got), sorted([("__keyevent@0__:set", "watched"),
                                                  ("__keyevent@0__:set", "other"),
                                                  ("__keyspace@0__:watched", "set"),
                                                  ("__keyspace@0__:watched", "del")]))

    def test_resp3_subscriber_gets_push_notifications(self):
        c = self.client()
        c.cmd("HELLO", "3")
        c.send_command("SUBSCRIBE", "__keyevent@0__:set")
        c.read_reply()
        self.r.cmd("SET", "k", "v")
        self.assertEqual(c.read_raw_reply(),
                         b">3\r\n$7\r\nmessage\r\n$18\r\n__keyevent@0__:set\r\n$1\r\nk\r\n")
        # its own writes notify it too
        c.send_command("SET", "mine", "v")
        got = c.read_replies(2)
        self.assertEqual(sorted(got, key=repr),
                         sorted(["OK", [b"message", b"__keyevent@0__:set", b"mine"]], key=repr))
        self.assertIsInstance([g for g in got if g != "OK"][0], Push)


# --------------------------------------------------------------------------
# Class filtering, set at run time
# --------------------------------------------------------------------------

class TestEventClasses(NotificationCase):

    def tearDown(self):
        try:
            self.r.cmd("CONFIG", "SET", "notify-keyspace-events", "")
        finally:
            super().tearDown()

    def config(self, flags):
        self.assertOK(self.r.cmd("CONFIG", "SET", "notify-keyspace-events", flags))

    def test_off_by_default(self):
        self.assertEqual(self.r.cmd("CONFIG", "GET", "notify-keyspace-events"),
                         [b"notify-keyspace-events", b""])
        self.r.cmd("SET", "k", "v", "EX", "100")
        self.r.cmd("DEL", "k")
        self.assertNoEvents()

    def test_config_set_at_run_time_turns_events_on_and_off(self):
        self.config("KEA")
        self.r.cmd("SET", "k", "v")
        self.assertEvents(ev("set", "k"))
        self.config("")
        self.r.cmd("SET", "k", "v")
        self.r.cmd("DEL", "k")
        self.assertNoEvents()

    def test_key_miss_class_sends_keymiss_on_read_misses(self):
        self.config("Em")
        self.r.cmd("GET", "nokey")
        self.r.cmd("SET", "k", "v")           # not class m
        self.r.cmd("GET", "k")                # a hit: nothing
        self.assertEvents([("__keyevent@0__:keymiss", "nokey")])

    def test_new_class_sends_new_when_a_key_is_created(self):
        self.config("En")
        self.r.cmd("SET", "k", "v")
        self.r.cmd("SET", "k", "w")           # exists: not new
        self.r.cmd("APPEND", "k2", "x")
        self.assertEvents([("__keyevent@0__:new", "k"), ("__keyevent@0__:new", "k2")])

    def test_keyspace_string_class_only(self):
        self.config("K$")
        self.r.cmd("SET", "k", "1")
        self.r.cmd("INCR", "k")
        self.r.cmd("EXPIRE", "k", "100")      # generic: filtered
        self.r.cmd("DEL", "k")                # generic: filtered
        self.assertEvents(ev("set", "k", e=False) + ev("incrby", "k", e=False))

    def test_keyevent_generic_class_only(self):
        self.config("Eg")
        self.r.cmd("SET", "k", "1")           # string: filtered
        self.r.cmd("EXPIRE", "k", "100")
        self.r.cmd("PERSIST", "k")
        self.r.cmd("RENAME", "k", "k2")
        self.r.cmd("COPY", "k2", "k3")
        self.r.cmd("DEL", "k2")
        self.assertEvents(ev("expire", "k", k=False) + ev("persist", "k", k=False)
                          + ev("rename_from", "k", k=False) + ev("rename_to", "k2", k=False)
                          + ev("copy_to", "k3", k=False) + ev("del", "k2", k=False),
                          ordered=False)

    def test_expired_class_only(self):
        self.config("Ex")
        self.r.cmd("SET", "k", "v", "PX", "50")
        self.assertEvents(ev("expired", "k", k=False))

    def test_a_is_every_class(self):
        self.config("KA")
        self.r.cmd("SET", "k", "1", "PX", "50")
        self.assertEvents(ev("set", "k", e=False) + ev("expire", "k", e=False)
                          + ev("expired", "k", e=False))
        self.assertEqual(self.r.cmd("CONFIG", "GET", "notify-keyspace-events")[1], b"AK")

    def test_classes_without_k_or_e_send_nothing(self):
        for flags in ("A", "g$x", "K", "E"):
            self.config(flags)
            self.r.cmd("SET", "k", "v", "PX", "30")
            self.r.cmd("DEL", "k")
        self.assertNoEvents(0.3)

    def test_config_get_normalizes_the_flags(self):
        cases = {
            "KEA": "AKE", "AKE": "AKE", "K": "K", "E": "E", "A": "A", "KA": "AK",
            "EA": "AE", "K$": "$K", "Eg": "gE", "gE": "gE", "Kx": "xK", "Ked": "edK",
            "$lshzxetdKE": "$lshzxetdKE", "g$lshzxetdKE": "AKE", "g$lshzxetKE": "g$lshzxetKE",
            "KEA$g": "AKE", "KEAm": "AKEm",
            # 'n' (new key) is not part of A, and with A Redis 7.0 does not
            # print it back
            "KEAn": "AKE", "": "",
        }
        for flags, want in cases.items():
            self.config(flags)
            self.assertEqual(self.r.cmd("CONFIG", "GET", "notify-keyspace-events"),
                             [b"notify-keyspace-events", want.encode()], flags)

    def test_config_set_rejects_unknown_class_characters(self):
        self.config("KE$")
        self.assertError(self.r.cmd("CONFIG", "SET", "notify-keyspace-events", "KEQ"),
                         "ERR CONFIG SET failed (possibly related to argument "
                         "'notify-keyspace-events') - Invalid event class character. "
                         "Use 'Ag$lshzxeKEtmdn'.")
        self.assertEqual(self.r.cmd("CONFIG", "GET", "notify-keyspace-events")[1], b"$KE")


if __name__ == "__main__":
    unittest.main()
