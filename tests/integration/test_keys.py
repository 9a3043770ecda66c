"""Generic key commands: Redis 7 behaviour and exact error strings."""

import os
import sys
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import Error, ServerTestCase, collect_messages  # noqa: E402

NOT_INTEGER = "ERR value is not an integer or out of range"
SYNTAX = "ERR syntax error"
DB_RANGE = "ERR DB index is out of range"
NX_XX_ERR = "ERR NX and XX, GT or LT options at the same time are not compatible"
GT_LT_ERR = "ERR GT and LT options at the same time are not compatible"


def arity(cmd):
    return "ERR wrong number of arguments for '%s' command" % cmd


def scan_all(client, *args, max_calls=100000):
    """Iterate SCAN to cursor 0; return (list of keys, number of calls)."""
    cursor = b"0"
    keys = []
    calls = 0
    while True:
        reply = client.cmd("SCAN", cursor, *args)
        assert isinstance(reply, list) and len(reply) == 2, reply
        cursor, batch = reply
        assert isinstance(cursor, bytes), cursor
        assert isinstance(batch, list), batch
        keys.extend(batch)
        calls += 1
        if cursor == b"0":
            return keys, calls
        if calls >= max_calls:
            raise AssertionError("SCAN did not finish in %d calls" % max_calls)


class TestDelExistsType(ServerTestCase):

    def test_del_returns_number_of_keys_removed(self):
        self.r.cmd("MSET", "a", "1", "b", "2")
        self.assertEqual(self.r.cmd("DEL", "a", "b", "c"), 2)
        self.assertEqual(self.r.cmd("DEL", "a"), 0)
        self.assertIsNone(self.r.cmd("GET", "a"))

    def test_unlink_returns_number_of_keys_removed(self):
        self.r.cmd("MSET", "a", "1", "b", "2")
        self.assertEqual(self.r.cmd("UNLINK", "a", "b", "c"), 2)
        self.assertEqual(self.r.cmd("EXISTS", "a", "b"), 0)

    def test_del_with_duplicate_keys_counts_once(self):
        self.r.cmd("SET", "k", "v")
        self.assertEqual(self.r.cmd("DEL", "k", "k", "k"), 1)

    def test_exists_counts_each_argument(self):
        self.r.cmd("SET", "k", "v")
        self.assertEqual(self.r.cmd("EXISTS", "k"), 1)
        self.assertEqual(self.r.cmd("EXISTS", "k", "k", "nokey"), 2)
        self.assertEqual(self.r.cmd("EXISTS", "nokey"), 0)

    def test_type_of_string_and_missing_key(self):
        self.r.cmd("SET", "k", "v")
        self.assertEqual(self.r.raw("TYPE", "k"), b"+string\r\n")
        self.assertEqual(self.r.raw("TYPE", "nokey"), b"+none\r\n")

    def test_touch_counts_existing_keys(self):
        self.r.cmd("MSET", "a", "1", "b", "2")
        self.assertEqual(self.r.cmd("TOUCH", "a", "b", "nokey"), 2)
        self.assertEqual(self.r.cmd("TOUCH", "a", "a"), 2)

    def test_wrong_arity(self):
        for cmd in ("DEL", "UNLINK", "EXISTS", "TOUCH", "TYPE"):
            with self.subTest(cmd=cmd):
                self.assertError(self.r.cmd(cmd), arity(cmd.lower()))


class TestRename(ServerTestCase):

    def test_rename_moves_value(self):
        self.r.cmd("SET", "a", "v")
        self.assertOK(self.r.cmd("RENAME", "a", "b"))
        self.assertIsNone(self.r.cmd("GET", "a"))
        self.assertEqual(self.r.cmd("GET", "b"), b"v")

    def test_rename_of_missing_key_is_no_such_key(self):
        self.assertError(self.r.cmd("RENAME", "nokey", "b"), "ERR no such key")
        self.assertError(self.r.cmd("RENAME", "nokey", "nokey"), "ERR no such key")

    def test_rename_to_itself_is_ok(self):
        self.r.cmd("SET", "a", "v")
        self.assertOK(self.r.cmd("RENAME", "a", "a"))
        self.assertEqual(self.r.cmd("GET", "a"), b"v")

    def test_rename_overwrites_destination_and_its_ttl(self):
        self.r.cmd("SET", "a", "va")
        self.r.cmd("SET", "b", "vb", "EX", "100")
        self.assertOK(self.r.cmd("RENAME", "a", "b"))
        self.assertEqual(self.r.cmd("GET", "b"), b"va")
        self.assertEqual(self.r.cmd("TTL", "b"), -1)

    def test_rename_keeps_ttl(self):
        self.r.cmd("SET", "a", "v", "EX", "100")
        self.r.cmd("RENAME", "a", "b")
        self.assertTrue(98 <= self.r.cmd("TTL", "b") <= 100)

    def test_renamenx_only_renames_to_missing_key(self):
        self.r.cmd("MSET", "a", "1", "b", "2")
        self.assertEqual(self.r.cmd("RENAMENX", "a", "b"), 0)
        self.assertEqual(self.r.cmd("MGET", "a", "b"), [b"1", b"2"])
        self.assertEqual(self.r.cmd("RENAMENX", "a", "c"), 1)
        self.assertEqual(self.r.cmd("MGET", "a", "c"), [None, b"1"])

    def test_renamenx_of_missing_key_is_no_such_key(self):
        self.assertError(self.r.cmd("RENAMENX", "nokey", "b"), "ERR no such key")

    def test_renamenx_to_itself_returns_zero(self):
        self.r.cmd("SET", "a", "v")
        self.assertEqual(self.r.cmd("RENAMENX", "a", "a"), 0)

    def test_rename_wrong_arity(self):
        self.assertError(self.r.cmd("RENAME", "a"), arity("rename"))
        self.assertError(self.r.cmd("RENAMENX", "a"), arity("renamenx"))


class TestCopy(ServerTestCase):

    def test_copy_duplicates_value(self):
        self.r.cmd("SET", "a", "v")
        self.assertEqual(self.r.cmd("COPY", "a", "b"), 1)
        self.assertEqual(self.r.cmd("MGET", "a", "b"), [b"v", b"v"])

    def test_copy_does_not_overwrite_without_replace(self):
        self.r.cmd("MSET", "a", "1", "b", "2")
        self.assertEqual(self.r.cmd("COPY", "a", "b"), 0)
        self.assertEqual(self.r.cmd("GET", "b"), b"2")

    def test_copy_with_replace_overwrites(self):
        self.r.cmd("MSET", "a", "1", "b", "2")
        self.assertEqual(self.r.cmd("COPY", "a", "b", "REPLACE"), 1)
        self.assertEqual(self.r.cmd("GET", "b"), b"1")

    def test_copy_of_missing_key_returns_zero(self):
        self.assertEqual(self.r.cmd("COPY", "nokey", "b"), 0)
        self.assertEqual(self.r.cmd("EXISTS", "b"), 0)

    def test_copy_keeps_ttl(self):
        self.r.cmd("SET", "a", "v", "EX", "100")
        self.r.cmd("COPY", "a", "b")
        self.assertTrue(98 <= self.r.cmd("TTL", "b") <= 100)

    def test_copy_with_replace_drops_destination_ttl(self):
        self.r.cmd("SET", "a", "v")
        self.r.cmd("SET", "b", "w", "EX", "100")
        self.r.cmd("COPY", "a", "b", "REPLACE")
        self.assertEqual(self.r.cmd("TTL", "b"), -1)

    def test_copy_to_another_db(self):
        self.r.cmd("SET", "a", "v", "EX", "100")
        self.assertEqual(self.r.cmd("COPY", "a", "a", "DB", "3"), 1)
        self.assertEqual(self.r.cmd("COPY", "a", "a", "DB", "3"), 0)
        self.assertEqual(self.r.cmd("COPY", "a", "a", "DB", "3", "REPLACE"), 1)
        self.assertEqual(self.r.cmd("GET", "a"), b"v")
        self.assertOK(self.r.cmd("SELECT", "3"))
        self.assertEqual(self.r.cmd("GET", "a"), b"v")
        self.assertTrue(0 < self.r.cmd("TTL", "a") <= 100)

    def test_copy_to_itself_errors(self):
        self.r.cmd("SET", "a", "v")
        self.assertError(self.r.cmd("COPY", "a", "a"),
                         "ERR source and destination objects are the same")

    def test_copy_option_errors(self):
        self.r.cmd("SET", "a", "v")
        self.assertError(self.r.cmd("COPY", "a", "b", "DB", "16"), DB_RANGE)
        self.assertError(self.r.cmd("COPY", "a", "b", "DB", "-1"), DB_RANGE)
        self.assertError(self.r.cmd("COPY", "a", "b", "DB", "x"), NOT_INTEGER)
        self.assertError(self.r.cmd("COPY", "a", "b", "FOO"), SYNTAX)
        self.assertError(self.r.cmd("COPY", "a", "b", "DB"), SYNTAX)
        self.assertError(self.r.cmd("COPY", "a"), arity("copy"))
        self.assertEqual(self.r.cmd("EXISTS", "b"), 0)


class TestExpireCommands(ServerTestCase):

    def setUp(self):
        super().setUp()
        self.r.cmd("SET", "k", "v")

    def test_expire_sets_ttl_and_returns_one(self):
        self.assertEqual(self.r.cmd("EXPIRE", "k", "100"), 1)
        self.assertTrue(98 <= self.r.cmd("TTL", "k") <= 100)

    def test_expire_on_missing_key_returns_zero(self):
        self.assertEqual(self.r.cmd("EXPIRE", "nokey", "100"), 0)
        self.assertEqual(self.r.cmd("PEXPIRE", "nokey", "100"), 0)
        self.assertEqual(self.r.cmd("EXPIREAT", "nokey", "99999999999"), 0)
        self.assertEqual(self.r.cmd("PEXPIREAT", "nokey", "99999999999999"), 0)

    def test_pexpire_sets_ttl_in_ms(self):
        self.assertEqual(self.r.cmd("PEXPIRE", "k", "100000"), 1)
        self.assertTrue(98000 <= self.r.cmd("PTTL", "k") <= 100000)
        self.assertTrue(98 <= self.r.cmd("TTL", "k") <= 100)

    def test_expireat_and_expiretime_round_trip(self):
        at = int(time.time()) + 1000
        self.assertEqual(self.r.cmd("EXPIREAT", "k", at), 1)
        self.assertEqual(self.r.cmd("EXPIRETIME", "k"), at)
        self.assertEqual(self.r.cmd("PEXPIRETIME", "k"), at * 1000)

    def test_pexpireat_and_pexpiretime_round_trip(self):
        base = (int(time.time()) + 1000) * 1000
        self.assertEqual(self.r.cmd("PEXPIREAT", "k", base + 123), 1)
        self.assertEqual(self.r.cmd("PEXPIRETIME", "k"), base + 123)
        self.assertEqual(self.r.cmd("EXPIRETIME", "k"), base // 1000)
        # EXPIRETIME rounds milliseconds to the nearest second.
        self.r.cmd("PEXPIREAT", "k", base + 700)
        self.assertEqual(self.r.cmd("EXPIRETIME", "k"), base // 1000 + 1)

    def test_expiretime_without_ttl_and_of_missing_key(self):
        self.assertEqual(self.r.cmd("EXPIRETIME", "k"), -1)
        self.assertEqual(self.r.cmd("PEXPIRETIME", "k"), -1)
        self.assertEqual(self.r.cmd("EXPIRETIME", "nokey"), -2)
        self.assertEqual(self.r.cmd("PEXPIRETIME", "nokey"), -2)

    def test_ttl_without_expire_is_minus_one_and_missing_is_minus_two(self):
        self.assertEqual(self.r.cmd("TTL", "k"), -1)
        self.assertEqual(self.r.cmd("PTTL", "k"), -1)
        self.assertEqual(self.r.cmd("TTL", "nokey"), -2)
        self.assertEqual(self.r.cmd("PTTL", "nokey"), -2)

    def test_expire_with_zero_or_negative_time_deletes_key(self):
        self.assertEqual(self.r.cmd("EXPIRE", "k", "-1"), 1)
        self.assertEqual(self.r.cmd("EXISTS", "k"), 0)
        self.r.cmd("SET", "k", "v")
        self.assertEqual(self.r.cmd("PEXPIRE", "k", "0"), 1)
        self.assertEqual(self.r.cmd("EXISTS", "k"), 0)

    def test_expireat_in_the_past_deletes_key(self):
        self.assertEqual(self.r.cmd("EXPIREAT", "k", "100"), 1)
        self.assertEqual(self.r.cmd("EXISTS", "k"), 0)
        self.r.cmd("SET", "k", "v")
        self.assertEqual(self.r.cmd("PEXPIREAT", "k", "100"), 1)
        self.assertIsNone(self.r.cmd("GET", "k"))

    def test_persist_removes_ttl(self):
        self.r.cmd("EXPIRE", "k", "100")
        self.assertEqual(self.r.cmd("PERSIST", "k"), 1)
        self.assertEqual(self.r.cmd("TTL", "k"), -1)
        self.assertEqual(self.r.cmd("PERSIST", "k"), 0)
        self.assertEqual(self.r.cmd("PERSIST", "nokey"), 0)

    def test_expire_nx_sets_only_without_ttl(self):
        self.assertEqual(self.r.cmd("EXPIRE", "k", "100", "NX"), 1)
        self.assertEqual(self.r.cmd("EXPIRE", "k", "200", "NX"), 0)
        self.assertTrue(self.r.cmd("TTL", "k") <= 100)

    def test_expire_xx_sets_only_with_ttl(self):
        self.assertEqual(self.r.cmd("EXPIRE", "k", "100", "XX"), 0)
        self.assertEqual(self.r.cmd("TTL", "k"), -1)
        self.r.cmd("EXPIRE", "k", "100")
        self.assertEqual(self.r.cmd("EXPIRE", "k", "200", "XX"), 1)
        self.assertTrue(198 <= self.r.cmd("TTL", "k") <= 200)

    def test_expire_gt_only_increases_ttl(self):
        # A key without TTL counts as infinite: GT never applies.
        self.assertEqual(self.r.cmd("EXPIRE", "k", "100", "GT"), 0)
        self.assertEqual(self.r.cmd("TTL", "k"), -1)
        self.r.cmd("EXPIRE", "k", "100")
        self.assertEqual(self.r.cmd("EXPIRE", "k", "50", "GT"), 0)
        self.assertEqual(self.r.cmd("EXPIRE", "k", "300", "GT"), 1)
        self.assertTrue(298 <= self.r.cmd("TTL", "k") <= 300)

    def test_expire_lt_only_decreases_ttl(self):
        # A key without TTL counts as infinite: LT always applies.
        self.assertEqual(self.r.cmd("EXPIRE", "k", "300", "LT"), 1)
        self.assertEqual(self.r.cmd("EXPIRE", "k", "400", "LT"), 0)
        self.assertEqual(self.r.cmd("EXPIRE", "k", "100", "LT"), 1)
        self.assertTrue(98 <= self.r.cmd("TTL", "k") <= 100)

    def test_expire_xx_and_gt_combine(self):
        self.assertEqual(self.r.cmd("EXPIRE", "k", "100", "XX", "GT"), 0)
        self.r.cmd("EXPIRE", "k", "100")
        self.assertEqual(self.r.cmd("EXPIRE", "k", "200", "XX", "GT"), 1)

    def test_pexpire_family_accepts_the_same_flags(self):
        self.assertEqual(self.r.cmd("PEXPIRE", "k", "100000", "NX"), 1)
        self.assertEqual(self.r.cmd("PEXPIRE", "k", "200000", "NX"), 0)
        at = int(time.time()) + 1000
        self.assertEqual(self.r.cmd("EXPIREAT", "k", at, "GT"), 1)
        self.assertEqual(self.r.cmd("PEXPIREAT", "k", at * 1000 - 5000, "GT"), 0)
        self.assertEqual(self.r.cmd("PEXPIREAT", "k", at * 1000 - 5000, "LT"), 1)

    def test_expire_incompatible_flags_error(self):
        for cmd in ("EXPIRE", "PEXPIRE", "EXPIREAT", "PEXPIREAT"):
            with self.subTest(cmd=cmd):
                self.assertError(self.r.cmd(cmd, "k", "100000", "NX", "XX"), NX_XX_ERR)
                self.assertError(self.r.cmd(cmd, "k", "100000", "NX", "GT"), NX_XX_ERR)
                self.assertError(self.r.cmd(cmd, "k", "100000", "LT", "NX"), NX_XX_ERR)
                self.assertError(self.r.cmd(cmd, "k", "100000", "GT", "LT"), GT_LT_ERR)
        self.assertEqual(self.r.cmd("TTL", "k"), -1)

    def test_expire_unknown_flag_errors(self):
        self.assertError(self.r.cmd("EXPIRE", "k", "10", "FOO"), "ERR Unsupported option FOO")

    def test_expire_non_integer_time_errors(self):
        self.assertError(self.r.cmd("EXPIRE", "k", "abc"), NOT_INTEGER)
        self.assertError(self.r.cmd("PEXPIRE", "k", "1.5"), NOT_INTEGER)
        self.assertEqual(self.r.cmd("TTL", "k"), -1)

    def test_expire_overflowing_time_is_invalid_expire_time(self):
        self.assertError(self.r.cmd("EXPIRE", "k", "9223372036854775807"),
                         "ERR invalid expire time in 'expire' command")
        self.assertError(self.r.cmd("PEXPIRE", "k", "9223372036854775807"),
                         "ERR invalid expire time in 'pexpire' command")
        self.assertError(self.r.cmd("EXPIREAT", "k", "9223372036854775807"),
                         "ERR invalid expire time in 'expireat' command")
        self.assertEqual(self.r.cmd("TTL", "k"), -1)

    def test_wrong_arity(self):
        self.assertError(self.r.cmd("EXPIRE", "k"), arity("expire"))
        self.assertError(self.r.cmd("TTL"), arity("ttl"))
        self.assertError(self.r.cmd("PERSIST"), arity("persist"))
        self.assertError(self.r.cmd("EXPIRETIME"), arity("expiretime"))


class TestKeysAndScan(ServerTestCase):

    def test_keys_glob_patterns(self):
        self.r.cmd("MSET", "hello", "1", "hallo", "2", "hxllo", "3", "hllo", "4",
                   "heeeello", "5", "h*llo", "6", "other", "7")
        cases = {
            "h?llo": {b"hello", b"hallo", b"hxllo", b"h*llo"},
            "h*llo": {b"hello", b"hallo", b"hxllo", b"hllo", b"heeeello", b"h*llo"},
            "h[ae]llo": {b"hello", b"hallo"},
            "h[^e]llo": {b"hallo", b"hxllo", b"h*llo"},
            "h[a-b]llo": {b"hallo"},
            "h\\*llo": {b"h*llo"},
            "*": {b"hello", b"hallo", b"hxllo", b"hllo", b"heeeello", b"h*llo", b"other"},
            "nomatch*": set(),
        }
        for pattern, expected in cases.items():
            with self.subTest(pattern=pattern):
                reply = self.r.cmd("KEYS", pattern)
                self.assertEqual(len(reply), len(expected))
                self.assertEqual(set(reply), expected)

    def test_keys_on_empty_db_is_empty_array(self):
        self.assertEqual(self.r.raw("KEYS", "*"), b"*0\r\n")

    def test_scan_returns_every_key_at_least_once(self):
        keys = {("key:%d" % i).encode() for i in range(1000)}
        self.r.cmd("MSET", *[x for k in keys for x in (k, b"v")])
        found, _ = scan_all(self.r)
        self.assertEqual(set(found), keys)

    def test_scan_with_count_returns_every_key(self):
        keys = {("key:%d" % i).encode() for i in range(300)}
        self.r.cmd("MSET", *[x for k in keys for x in (k, b"v")])
        for count in ("1", "7", "1000"):
            with self.subTest(count=count):
                found, _ = scan_all(self.r, "COUNT", count)
                self.assertEqual(set(found), keys)

    def test_scan_with_match_filters_keys(self):
        self.r.cmd("MSET", *[x for i in range(200) for x in ("a:%d" % i, "v", "b:%d" % i, "v")])
        found, _ = scan_all(self.r, "MATCH", "a:1*", "COUNT", "20")
        expected = {("a:%d" % i).encode() for i in range(200) if str(i).startswith("1")}
        self.assertEqual(set(found), expected)

    def test_scan_with_type_filters_by_type(self):
        self.r.cmd("MSET", *[x for i in range(50) for x in ("k%d" % i, "v")])
        found, _ = scan_all(self.r, "TYPE", "string")
        self.assertEqual(len(set(found)), 50)
        found, _ = scan_all(self.r, "TYPE", "hash")
        self.assertEqual(found, [])

    def test_scan_of_empty_db_finishes_immediately(self):
        self.assertEqual(self.r.cmd("SCAN", "0"), [b"0", []])

    def test_scan_syntax_errors(self):
        self.assertError(self.r.cmd("SCAN", "abc"), "ERR invalid cursor")
        self.assertError(self.r.cmd("SCAN", "0", "COUNT", "0"), SYNTAX)
        self.assertError(self.r.cmd("SCAN", "0", "COUNT", "x"), NOT_INTEGER)
        self.assertError(self.r.cmd("SCAN", "0", "MATCH"), SYNTAX)
        self.assertError(self.r.cmd("SCAN", "0", "FOO", "bar"), SYNTAX)
        self.assertError(self.r.cmd("SCAN"), arity("scan"))

    def test_randomkey_returns_an_existing_key_or_nil(self):
        self.assertIsNone(self.r.cmd("RANDOMKEY"))
        self.r.cmd("MSET", "a", "1", "b", "2", "c", "3")
        for _ in range(20):
            self.assertIn(self.r.cmd("RANDOMKEY"), (b"a", b"b", b"c"))


class TestMove(ServerTestCase):
    KEYS = ["mv:%d" % i for i in range(8)]  # keys of every shard

    def test_move_to_another_database_with_its_ttl(self):
        for k in self.KEYS:
            self.r.cmd("SET", k, "v" + k)
            self.r.cmd("PEXPIRE", k, "100000")
            self.assertEqual(self.r.cmd("MOVE", k, "3"), 1, k)
            self.assertIsNone(self.r.cmd("GET", k))
        self.r.cmd("SELECT", "3")
        for k in self.KEYS:
            self.assertEqual(self.r.cmd("GET", k), ("v" + k).encode())
            self.assertGreater(self.r.cmd("PTTL", k), 90000)
        self.r.cmd("RPUSH", "mvlist", "a", "b")
        self.assertEqual(self.r.cmd("MOVE", "mvlist", "0"), 1)
        self.assertEqual(self.r.cmd("PTTL", "mvlist"), -2)
        self.r.cmd("SELECT", "0")
        self.assertEqual(self.r.cmd("LRANGE", "mvlist", "0", "-1"), [b"a", b"b"])
        self.assertEqual(self.r.cmd("PTTL", "mvlist"), -1)

    def test_move_refusals(self):
        self.r.cmd("SET", "mv", "a")
        self.r.cmd("SELECT", "2")
        self.r.cmd("SET", "mv", "b")
        self.r.cmd("SELECT", "0")
        self.assertEqual(self.r.cmd("MOVE", "mv", "2"), 0)  # there already
        self.assertEqual(self.r.cmd("MOVE", "nosuch", "2"), 0)
        self.assertEqual(self.r.cmd("GET", "mv"), b"a")
        self.assertEqual(self.r.cmd("MOVE", "mv", "0"),
                         Error("ERR source and destination objects are the same"))
        self.assertEqual(self.r.cmd("MOVE", "mv", "16"), Error("ERR DB index is out of range"))
        self.assertEqual(self.r.cmd("MOVE", "mv", "-1"), Error("ERR DB index is out of range"))
        self.assertEqual(self.r.cmd("MOVE", "mv", "x"),
                         Error("ERR value is not an integer or out of range"))
        self.assertEqual(self.r.cmd("MOVE", "mv", "99999999999"),
                         Error("ERR value is out of range, value must between -2147483648 and "
                               "2147483647"))

    def test_move_events_watch_and_blocked_clients(self):
        self.r.cmd("CONFIG", "SET", "notify-keyspace-events", "Eg")
        sub = self.client()
        sub.cmd("PSUBSCRIBE", "__keyevent@*")
        self.r.cmd("SET", "mvw", "1")
        # a client watching the key in the destination database
        w = self.client()
        w.cmd("SELECT", "4")
        self.assertOK(w.cmd("WATCH", "mvw"))
        self.assertEqual(self.r.cmd("MOVE", "mvw", "4"), 1)
        self.assertOK(w.cmd("MULTI"))
        w.cmd("PING")
        self.assertIsNone(w.cmd("EXEC"))
        self.assertEqual(collect_messages(sub, 2),
                         [("__keyevent@0__:move_from", "mvw"), ("__keyevent@4__:move_to", "mvw")])
        # a client blocked on the key in the destination gets the list
        b = self.client()
        b.cmd("SELECT", "5")
        b.send_command("BLPOP", "mvq", "5")
        time.sleep(0.1)
        self.r.cmd("RPUSH", "mvq", "x")
        self.assertEqual(self.r.cmd("MOVE", "mvq", "5"), 1)
        self.assertEqual(b.read_reply(), [b"mvq", b"x"])
        self.r.cmd("CONFIG", "SET", "notify-keyspace-events", "")


class TestDatabases(ServerTestCase):

    def test_dbsize_counts_keys(self):
        self.assertEqual(self.r.cmd("DBSIZE"), 0)
        self.r.cmd("MSET", *[x for i in range(100) for x in ("k%d" % i, "v")])
        self.assertEqual(self.r.cmd("DBSIZE"), 100)
        self.r.cmd("DEL", "k0", "k1")
        self.assertEqual(self.r.cmd("DBSIZE"), 98)

    def test_select_isolates_databases(self):
        self.r.cmd("SET", "k", "db0")
        self.assertOK(self.r.cmd("SELECT", "1"))
        self.assertIsNone(self.r.cmd("GET", "k"))
        self.r.cmd("SET", "k", "db1")
        self.assertEqual(self.r.cmd("DBSIZE"), 1)
        self.assertOK(self.r.cmd("SELECT", "0"))
        self.assertEqual(self.r.cmd("GET", "k"), b"db0")

    def test_select_is_per_connection(self):
        self.r.cmd("SELECT", "5")
        self.r.cmd("SET", "k", "db5")
        other = self.client()
        self.assertIsNone(other.cmd("GET", "k"))

    def test_all_sixteen_databases_are_selectable(self):
        for db in range(16):
            self.assertOK(self.r.cmd("SELECT", db))
            self.r.cmd("SET", "k", "v%d" % db)
        for db in range(16):
            self.r.cmd("SELECT", db)
            self.assertEqual(self.r.cmd("GET", "k"), ("v%d" % db).encode())

    def test_select_out_of_range_errors(self):
        self.assertError(self.r.cmd("SELECT", "16"), DB_RANGE)
        self.assertError(self.r.cmd("SELECT", "-1"), DB_RANGE)
        self.assertError(self.r.cmd("SELECT", "abc"), NOT_INTEGER)
        self.assertError(self.r.cmd("SELECT"), arity("select"))

    def test_flushdb_clears_only_the_current_db(self):
        self.r.cmd("SET", "k", "v")
        self.r.cmd("SELECT", "1")
        self.r.cmd("SET", "k", "v")
        self.assertOK(self.r.cmd("FLUSHDB"))
        self.assertEqual(self.r.cmd("DBSIZE"), 0)
        self.r.cmd("SELECT", "0")
        self.assertEqual(self.r.cmd("DBSIZE"), 1)

    def test_flushall_clears_every_db(self):
        self.r.cmd("SET", "k", "v")
        self.r.cmd("SELECT", "2")
        self.r.cmd("SET", "k", "v")
        self.assertOK(self.r.cmd("FLUSHALL"))
        self.assertEqual(self.r.cmd("DBSIZE"), 0)
        self.r.cmd("SELECT", "0")
        self.assertEqual(self.r.cmd("DBSIZE"), 0)

    def test_flush_accepts_sync_and_async(self):
        self.r.cmd("SET", "k", "v")
        self.assertOK(self.r.cmd("FLUSHDB", "ASYNC"))
        self.assertEqual(self.r.cmd("DBSIZE"), 0)
        self.r.cmd("SET", "k", "v")
        self.assertOK(self.r.cmd("FLUSHALL", "SYNC"))
        self.assertEqual(self.r.cmd("DBSIZE"), 0)

    def test_flush_with_bad_option_is_syntax_error(self):
        self.assertError(self.r.cmd("FLUSHDB", "FOO"), SYNTAX)
        self.assertError(self.r.cmd("FLUSHALL", "FOO"), SYNTAX)

    def test_dbsize_wrong_arity(self):
        self.assertError(self.r.cmd("DBSIZE", "x"), arity("dbsize"))


if __name__ == "__main__":
    unittest.main()
