"""Key expiry: lazy (on access) and active (without access)."""

import os
import sys
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import encode_command, ServerTestCase  # noqa: E402

ACTIVE_EXPIRE_TIMEOUT = 2.5


class TestLazyExpiry(ServerTestCase):

    def expire_soon(self, *keys, value="v"):
        for k in keys:
            self.assertOK(self.r.cmd("SET", k, value, "PX", "50"))
        time.sleep(0.12)

    def test_get_of_expired_key_is_nil(self):
        self.expire_soon("k")
        self.assertIsNone(self.r.cmd("GET", "k"))

    def test_expired_key_does_not_exist(self):
        self.expire_soon("k")
        self.assertEqual(self.r.cmd("EXISTS", "k"), 0)
        self.assertEqual(self.r.raw("TYPE", "k"), b"+none\r\n")

    def test_ttl_of_expired_key_is_minus_two(self):
        self.expire_soon("k")
        self.assertEqual(self.r.cmd("TTL", "k"), -2)
        self.assertEqual(self.r.cmd("PTTL", "k"), -2)
        self.assertEqual(self.r.cmd("EXPIRETIME", "k"), -2)

    def test_mget_skips_expired_keys(self):
        self.r.cmd("SET", "live", "1")
        self.expire_soon("dead")
        self.assertEqual(self.r.cmd("MGET", "live", "dead"), [b"1", None])

    def test_expired_keys_are_not_listed(self):
        self.r.cmd("SET", "live", "1")
        self.expire_soon("dead1", "dead2")
        self.assertEqual(self.r.cmd("KEYS", "*"), [b"live"])
        cursor, keys = b"0", []
        for _ in range(1000):
            cursor, batch = self.r.cmd("SCAN", cursor)
            keys += batch
            if cursor == b"0":
                break
        self.assertEqual(set(keys), {b"live"})

    def test_write_commands_treat_expired_key_as_missing(self):
        self.expire_soon("n", value="41")
        self.assertEqual(self.r.cmd("INCR", "n"), 1)
        self.expire_soon("s", value="old")
        self.assertEqual(self.r.cmd("APPEND", "s", "new"), 3)
        self.assertEqual(self.r.cmd("GET", "s"), b"new")
        self.expire_soon("x")
        self.assertEqual(self.r.cmd("SETNX", "x", "fresh"), 1)
        self.assertEqual(self.r.cmd("TTL", "x"), -1)
        self.expire_soon("y")
        self.assertIsNone(self.r.cmd("SET", "y", "z", "XX"))
        self.assertIsNone(self.r.cmd("GETSET", "y", "z"))

    def test_key_commands_treat_expired_key_as_missing(self):
        self.expire_soon("a", "b", "c", "d")
        self.assertError(self.r.cmd("RENAME", "a", "a2"), "ERR no such key")
        self.assertEqual(self.r.cmd("COPY", "b", "b2"), 0)
        self.assertEqual(self.r.cmd("PERSIST", "c"), 0)
        self.assertEqual(self.r.cmd("EXPIRE", "d", "100"), 0)
        self.assertEqual(self.r.cmd("DEL", "a", "b", "c", "d"), 0)
        self.assertEqual(self.r.cmd("EXISTS", "a2", "b2", "d"), 0)

    def test_pttl_counts_down(self):
        self.r.cmd("SET", "k", "v", "PX", "10000")
        first = self.r.cmd("PTTL", "k")
        time.sleep(0.1)
        second = self.r.cmd("PTTL", "k")
        self.assertTrue(0 < second < first <= 10000, (first, second))
        self.assertTrue(first - second >= 80, (first, second))


class TestTtlSemantics(ServerTestCase):

    def test_key_without_expire_has_ttl_minus_one(self):
        self.r.cmd("SET", "k", "v")
        self.assertEqual(self.r.cmd("TTL", "k"), -1)
        self.assertEqual(self.r.cmd("PTTL", "k"), -1)

    def test_missing_key_has_ttl_minus_two(self):
        self.assertEqual(self.r.cmd("TTL", "nokey"), -2)
        self.assertEqual(self.r.cmd("PTTL", "nokey"), -2)

    def test_set_without_keepttl_clears_ttl(self):
        self.r.cmd("SET", "k", "v", "PX", "100000")
        self.r.cmd("SET", "k", "w")
        self.assertEqual(self.r.cmd("TTL", "k"), -1)
        time.sleep(0.01)
        self.assertEqual(self.r.cmd("GET", "k"), b"w")

    def test_set_with_keepttl_still_expires(self):
        self.r.cmd("SET", "k", "v", "PX", "80")
        self.r.cmd("SET", "k", "w", "KEEPTTL")
        time.sleep(0.15)
        self.assertIsNone(self.r.cmd("GET", "k"))

    def test_del_then_set_has_no_ttl(self):
        self.r.cmd("SET", "k", "v", "EX", "100")
        self.r.cmd("DEL", "k")
        self.r.cmd("SET", "k", "v")
        self.assertEqual(self.r.cmd("TTL", "k"), -1)

    def test_ttl_rounds_to_nearest_second(self):
        self.r.cmd("SET", "k", "v", "PX", "1800")
        self.assertEqual(self.r.cmd("TTL", "k"), 2)
        self.r.cmd("SET", "k", "v", "PX", "1200")
        self.assertEqual(self.r.cmd("TTL", "k"), 1)

    def test_persist_prevents_expiry(self):
        self.r.cmd("SET", "k", "v", "PX", "60")
        self.assertEqual(self.r.cmd("PERSIST", "k"), 1)
        time.sleep(0.12)
        self.assertEqual(self.r.cmd("GET", "k"), b"v")

    def test_getex_persist_prevents_expiry(self):
        self.r.cmd("SET", "k", "v", "PX", "60")
        self.assertEqual(self.r.cmd("GETEX", "k", "PERSIST"), b"v")
        time.sleep(0.12)
        self.assertEqual(self.r.cmd("GET", "k"), b"v")

    def test_expire_can_shorten_and_key_then_expires(self):
        self.r.cmd("SET", "k", "v", "EX", "100")
        self.assertEqual(self.r.cmd("PEXPIRE", "k", "50"), 1)
        time.sleep(0.12)
        self.assertIsNone(self.r.cmd("GET", "k"))


    def test_info_expired_keys_counts_keys_expired_on_access(self):
        self.r.cmd("CONFIG", "RESETSTAT")
        for i in range(5):
            self.assertEqual(self.r.cmd("SET", "lazy:%d" % i, "v", "PX", "1"), "OK")
        time.sleep(0.01)
        for i in range(5):
            self.assertIsNone(self.r.cmd("GET", "lazy:%d" % i))
        info = self.r.cmd("INFO", "stats").decode()
        line = [l for l in info.split("\r\n") if l.startswith("expired_keys:")][0]
        self.assertEqual(int(line.split(":")[1]), 5)

class TestActiveExpiry(ServerTestCase):

    def dbsize_drops_to(self, expected):
        deadline = time.monotonic() + ACTIVE_EXPIRE_TIMEOUT
        size = None
        while time.monotonic() < deadline:
            size = self.r.cmd("DBSIZE")
            if size == expected:
                return
            time.sleep(0.05)
        self.fail("DBSIZE is %s, expected %s after %.1f s of active expiry"
                  % (size, expected, ACTIVE_EXPIRE_TIMEOUT))

    def test_expired_keys_are_removed_without_being_touched(self):
        # one pipeline, and a TTL long enough that none expires before DBSIZE
        # even on a slow (sanitizer) build
        cmds = [("SET", "tmp:%d" % i, "v", "PX", "1000") for i in range(200)]
        cmds += [("SET", "keep:%d" % i, "v") for i in range(20)]
        self.r.send(b"".join(encode_command(*c) for c in cmds) + encode_command("DBSIZE"))
        replies = self.r.read_replies(len(cmds) + 1)
        self.assertEqual(replies[-1], 220)
        self.dbsize_drops_to(20)

    def test_far_expiry_times_in_the_active_cycle(self):
        # TTLs near the largest the server takes: the cycle's average of
        # them overflowed (UBSan); the keys stay, and one that is due goes
        for i in range(4):
            self.assertEqual(self.r.cmd("SET", "{far}%d" % i, "v"), "OK")
            self.assertEqual(self.r.cmd("PEXPIREAT", "{far}%d" % i, "9000000000000000000"), 1)
        self.r.cmd("SET", "{far}due", "v", "PX", "100")
        self.dbsize_drops_to(4)
        self.assertEqual(self.r.cmd("PEXPIRETIME", "{far}0"), 9000000000000000000)
        self.assertEqual(self.r.cmd("INFO", "keyspace").count(b"keys=4,expires=4"), 1)

    def test_active_expiry_covers_every_database(self):
        for db in (0, 3, 15):
            self.r.cmd("SELECT", db)
            for i in range(50):
                self.r.cmd("SET", "tmp:%d" % i, "v", "PX", "50")
            self.r.cmd("SET", "keep", "v")
        for db in (0, 3, 15):
            self.r.cmd("SELECT", db)
            self.dbsize_drops_to(1)

    def test_keyspace_info_expires_count_drops(self):
        for i in range(30):
            self.r.cmd("SET", "tmp:%d" % i, "v", "PX", "50")
        self.r.cmd("SET", "long", "v", "EX", "1000")
        self.r.cmd("SET", "keep", "v")
        self.dbsize_drops_to(2)
        info = self.r.cmd("INFO", "keyspace").decode()
        self.assertIn("db0:keys=2,expires=1,", info)


if __name__ == "__main__":
    unittest.main()
