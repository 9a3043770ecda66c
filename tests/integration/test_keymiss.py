"""Which lookups send the "keymiss" keyspace event (class m) and count a
keyspace miss (issue 15, fix 4).

The issue says Redis sends no keymiss for EXISTS. Redis 7.0.15 does: its
EXISTS, TOUCH and TYPE are reads of each key (lookupKeyReadWithFlags with
LOOKUP_NOTOUCH only), so each missing key is a keyspace miss and a keymiss
event (Redis 7.2 changed EXISTS). These tests pin Redis 7.0's behaviour:

  - keymiss and a miss: GET, EXISTS, TOUCH, TYPE, TTL and the like, COPY's
    source (also when the source and destination have different owners);
  - a miss but no event: OBJECT (not checked here: shardis counts none);
  - neither: the lookups of writes (RENAME, EXPIRE, PERSIST, DEL, the pops
    and moves of lists, sets and sorted sets).

Every test passes against redis-server 7.0 (SHARDIS_REFERENCE=redis).
"""
import os
import socket
import sys
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import ServerTestCase, collect_messages  # noqa: E402

EVENT_TIMEOUT = 5.0
QUIET = 0.2


def miss(key, db=0):
    """The two messages of a keymiss on key (notify-keyspace-events KEm)."""
    return [("__keyspace@%d__:%s" % (db, key), "keymiss"),
            ("__keyevent@%d__:keymiss" % db, key)]


class KeymissTests(ServerTestCase):
    server_args = ("--notify-keyspace-events", "KEm")

    def setUp(self):
        super().setUp()
        self.sub = self.client()
        self.sub.send_command("PSUBSCRIBE", "__key*__:*")
        self.assertEqual(self.sub.read_reply(), [b"psubscribe", b"__key*__:*", 1])

    def collect(self, n):
        """n messages, then any more within QUIET seconds, sorted."""
        return sorted(collect_messages(self.sub, n, quiet=QUIET, timeout=EVENT_TIMEOUT))

    def assertEvents(self, expected):
        self.assertEqual(self.collect(len(expected)), sorted(expected))

    def stats(self):
        text = self.r.cmd("INFO", "stats").decode()
        f = dict(line.split(":", 1) for line in text.split("\r\n") if ":" in line)
        return int(f["keyspace_hits"]), int(f["keyspace_misses"])

    def test_get_of_a_missing_key_sends_keymiss(self):
        self.r.cmd("SET", "k", "v")
        self.assertEqual(self.r.cmd("GET", "k"), b"v")  # a hit: nothing
        self.assertIsNone(self.r.cmd("GET", "nokey"))
        self.assertEvents(miss("nokey"))

    def test_exists_and_touch_send_keymiss_per_missing_key(self):
        for k in ("k1", "k2"):
            self.r.cmd("SET", k, "v")
        self.collect(0)
        hits, misses = self.stats()
        self.assertEqual(self.r.cmd("EXISTS", "k1", "m:1", "k2", "m:2", "m:3"), 2)
        self.assertEvents(miss("m:1") + miss("m:2") + miss("m:3"))
        self.assertEqual(self.r.cmd("TOUCH", "m:4", "k1", "m:5"), 1)
        self.assertEvents(miss("m:4") + miss("m:5"))
        self.assertEqual(self.stats(), (hits + 3, misses + 5))

    def test_type_and_ttl_family_send_keymiss(self):
        self.assertEqual(self.r.cmd("TYPE", "nokey"), "none")
        for command in ("TTL", "PTTL", "EXPIRETIME", "PEXPIRETIME"):
            self.assertEqual(self.r.cmd(command, "nokey"), -2)
        self.assertEvents(5 * miss("nokey"))

    def test_write_lookups_send_no_keymiss(self):
        r = self.r
        self.assertError(r.cmd("RENAME", "nokey", "dst"), "ERR no such key")
        self.assertError(r.cmd("RENAMENX", "nokey", "dst"), "ERR no such key")
        self.assertEqual(r.cmd("EXPIRE", "nokey", "10"), 0)
        self.assertEqual(r.cmd("PERSIST", "nokey"), 0)
        self.assertEqual(r.cmd("DEL", "nokey", "nokey2"), 0)
        self.assertEqual(r.cmd("UNLINK", "nokey"), 0)
        self.assertIsNone(r.cmd("LPOP", "nokey"))
        self.assertIsNone(r.cmd("RPOPLPUSH", "nokey", "dst"))
        self.assertIsNone(r.cmd("LMOVE", "nokey", "dst", "LEFT", "RIGHT"))
        self.assertIsNone(r.cmd("LMPOP", "1", "nokey", "LEFT"))
        self.assertIsNone(r.cmd("SPOP", "nokey"))
        self.assertEqual(r.cmd("SMOVE", "nokey", "dst", "m"), 0)
        self.assertEqual(r.cmd("ZPOPMIN", "nokey"), [])
        self.assertIsNone(r.cmd("ZMPOP", "1", "nokey", "MIN"))
        for sub in ("ENCODING", "REFCOUNT", "IDLETIME"):
            self.assertIsNone(r.cmd("OBJECT", sub, "nokey"))
        # the subscriber works: this one comes, and nothing else
        self.assertIsNone(r.cmd("GET", "sentinel"))
        self.assertEvents(miss("sentinel"))

    def test_copy_of_a_missing_source_sends_keymiss(self):
        """COPY's source is read; with 4 shards most of these destinations
        have another owner than the source."""
        dsts = ["copy:dst:%d" % i for i in range(8)]
        hits, misses = self.stats()
        for dst in dsts:
            self.assertEqual(self.r.cmd("COPY", "nokey", dst), 0)
        self.assertEvents(len(dsts) * miss("nokey"))
        self.assertEqual(self.stats(), (hits, misses + len(dsts)))
        self.r.cmd("SET", "src", "v")
        self.collect(0)
        for dst in dsts:
            self.assertEqual(self.r.cmd("COPY", "src", dst), 1)
        self.assertEqual(self.stats(), (hits + len(dsts), misses + len(dsts)))
        self.assertEvents([])

    def test_keymiss_class_alone(self):
        """With m but no K or E nothing is sent; with E only the keyevent."""
        self.assertOK(self.r.cmd("CONFIG", "SET", "notify-keyspace-events", "m"))
        try:
            self.assertEqual(self.r.cmd("EXISTS", "nokey"), 0)
            self.assertEvents([])
            self.assertOK(self.r.cmd("CONFIG", "SET", "notify-keyspace-events", "Em"))
            self.assertEqual(self.r.cmd("EXISTS", "nokey"), 0)
            self.assertEvents([("__keyevent@0__:keymiss", "nokey")])
        finally:
            self.r.cmd("CONFIG", "SET", "notify-keyspace-events", "KEm")


if __name__ == "__main__":
    unittest.main()
