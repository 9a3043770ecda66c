"""ACL LOG [count | RESET] as Redis 7.0 has it: entries for denied commands,
keys and channels and for failed AUTH, newest first, repeated events grouped
into one entry, contexts toplevel and multi, RESP2 and RESP3 shapes.

With several shards (SHARDIS_SHARDS=4) each core logs its own clients'
denials; the tests open several connections so they land on different
shards, and ACL LOG must merge every shard's entries (RESET clears them
all). Every test also runs against Redis (SHARDIS_REFERENCE=redis).
"""

import os
import sys
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import Double, Map, ServerTestCase, reference_mode  # noqa: E402

NCLIENTS = 6
NOTINT = "ERR value is not an integer or out of range"
LOG_ARITY = "ERR unknown subcommand or wrong number of arguments for 'LOG'. Try ACL HELP."
WRONGPASS = "WRONGPASS invalid username-password pair or user is disabled."
FIELDS = ["count", "reason", "context", "object", "username", "age-seconds", "client-info"]


def as_map(entry):
    """An entry as a dict with str keys (RESP2 flat array or RESP3 map)."""
    if isinstance(entry, dict):
        items = list(entry.items())
    else:
        items = list(zip(entry[0::2], entry[1::2]))
    return {k.decode(): v for k, v in items}


class AclLogCase(ServerTestCase):

    def setUp(self):
        super().setUp()
        self.assertOK(self.r.cmd("ACL", "LOG", "RESET"))
        self.assertOK(self.r.cmd("ACL", "SETUSER", "u1", "on", ">p1", "+get", "+set", "+multi",
                                 "+exec", "+discard", "+publish", "+client|id", "~k*",
                                 "resetchannels", "&ch*"))

    def tearDown(self):
        if self.server.alive():
            c = self.client()
            c.cmd("ACL", "DELUSER", "u1")
            c.cmd("ACL", "LOG", "RESET")
        super().tearDown()

    def user_client(self):
        c = self.client()
        self.assertOK(c.cmd("AUTH", "u1", "p1"))
        return c

    def log(self, *args):
        return [as_map(e) for e in self.r.cmd("ACL", "LOG", *args)]


class TestAclLogEntries(AclLogCase):

    def test_command_key_and_channel_denials(self):
        c = self.user_client()
        cid = c.cmd("CLIENT", "ID")
        self.assertIsInstance(c.cmd("LPUSH", "k1", "a"), Exception)
        time.sleep(0.005)
        self.assertIsInstance(c.cmd("GET", "x"), Exception)
        time.sleep(0.005)
        self.assertIsInstance(c.cmd("PUBLISH", "other", "m"), Exception)
        self.assertEqual(c.cmd("GET", "k1"), None)
        log = self.log()
        self.assertEqual(len(log), 3)
        for e in log:
            self.assertEqual(list(e), FIELDS)
            self.assertEqual(e["count"], 1)
            self.assertEqual(e["username"], b"u1")
            self.assertEqual(e["context"], b"toplevel")
            self.assertGreaterEqual(float(e["age-seconds"]), 0.0)
            self.assertLess(float(e["age-seconds"]), 5.0)
            self.assertTrue(e["client-info"].startswith(b"id=%d addr=" % cid))
            self.assertIn(b" user=u1 ", e["client-info"])
            self.assertFalse(e["client-info"].endswith(b"\n"))
        self.assertEqual([(e["reason"], e["object"]) for e in log],
                         [(b"channel", b"other"), (b"key", b"x"), (b"command", b"lpush")])
        self.assertIn(b" cmd=publish ", log[0]["client-info"])
        self.assertIn(b" cmd=get ", log[1]["client-info"])
        self.assertIn(b" cmd=lpush ", log[2]["client-info"])

    def test_subcommand_object_is_full_name(self):
        c = self.user_client()
        self.assertIsInstance(c.cmd("CLIENT", "LIST"), Exception)
        log = self.log()
        self.assertEqual([(e["reason"], e["object"]) for e in log],
                         [(b"command", b"client|list")])

    def test_key_denial_names_refused_key(self):
        c = self.user_client()
        self.assertIsInstance(c.cmd("SET", "zz", "1"), Exception)
        log = self.log()
        self.assertEqual(len(log), 1)
        self.assertEqual((log[0]["reason"], log[0]["object"]), (b"key", b"zz"))

    def test_repeats_are_grouped(self):
        c = self.user_client()
        for _ in range(3):
            self.assertIsInstance(c.cmd("GET", "x"), Exception)
        self.assertIsInstance(c.cmd("GET", "y"), Exception)
        self.assertIsInstance(c.cmd("GET", "x"), Exception)
        log = self.log()
        self.assertEqual([(e["object"], e["count"]) for e in log], [(b"x", 4), (b"y", 1)])

    def test_grouping_looks_at_ten_newest(self):
        c = self.user_client()
        for i in range(11):
            self.assertIsInstance(c.cmd("GET", "x%d" % i), Exception)
        self.assertIsInstance(c.cmd("GET", "x0"), Exception)  # 11th newest: new entry
        self.assertIsInstance(c.cmd("GET", "x2"), Exception)  # 10th newest: grouped
        log = self.log("100")
        self.assertEqual(len(log), 12)
        self.assertEqual([(e["object"], e["count"]) for e in log[:2]], [(b"x2", 2), (b"x0", 1)])
        self.assertEqual(log[-1]["object"], b"x0")

    def test_multi_context(self):
        c = self.user_client()
        self.assertOK(c.cmd("MULTI"))
        self.assertIsInstance(c.cmd("LPUSH", "k", "a"), Exception)
        self.assertIsInstance(c.cmd("GET", "x"), Exception)
        c.cmd("DISCARD")
        log = self.log()
        self.assertEqual([(e["reason"], e["object"], e["context"]) for e in log],
                         [(b"key", b"x", b"multi"), (b"command", b"lpush", b"multi")])
        self.assertIn(b" multi=", log[0]["client-info"])

    def test_script_denials_have_the_lua_context(self):
        self.assertOK(self.r.cmd("ACL", "SETUSER", "u1", "+eval"))
        c = self.user_client()
        err = c.cmd("EVAL", "return redis.pcall('LPUSH', ARGV[1], 'a')", "0", "k1")
        self.assertIsInstance(err, Exception)
        err = c.cmd("EVAL", "return redis.pcall('GET', ARGV[1])", "0", "x")
        self.assertIsInstance(err, Exception)
        log = self.log()
        self.assertEqual([(e["reason"], e["object"], e["context"], e["username"]) for e in log],
                         [(b"key", b"x", b"lua", b"u1"), (b"command", b"lpush", b"lua", b"u1")])

    def test_acllog_max_len(self):
        self.assertOK(self.r.cmd("CONFIG", "SET", "acllog-max-len", "2"))
        try:
            c = self.user_client()
            for key in ("x1", "x2", "x3"):
                self.assertIsInstance(c.cmd("GET", key), Exception)
            self.assertEqual([e["object"] for e in self.log()], [b"x3", b"x2"])
        finally:
            self.r.cmd("CONFIG", "SET", "acllog-max-len", "128")

    def test_failed_auth(self):
        c = self.client()
        self.assertError(c.cmd("AUTH", "u1", "bad"), WRONGPASS)
        self.assertError(c.cmd("auth", "nosuch", "x"), WRONGPASS)
        log = self.log()
        self.assertEqual([(e["reason"], e["object"], e["username"]) for e in log],
                         [(b"auth", b"auth", b"nosuch"), (b"auth", b"AUTH", b"u1")])
        self.assertIn(b" user=default ", log[0]["client-info"])


class TestAclLogAcrossClients(AclLogCase):

    def test_merges_every_shard_newest_first(self):
        clients = [self.user_client() for _ in range(NCLIENTS)]
        for i, c in enumerate(clients):
            self.assertIsInstance(c.cmd("GET", "x%d" % i), Exception)
            time.sleep(0.005)
        log = self.log()
        self.assertEqual([e["object"] for e in log],
                         [b"x%d" % i for i in reversed(range(NCLIENTS))])
        ages = [float(e["age-seconds"]) for e in log]
        self.assertEqual(ages, sorted(ages))
        self.assertEqual([e["object"] for e in self.log("2")], [b"x5", b"x4"])

    def test_reset_clears_every_shard(self):
        clients = [self.user_client() for _ in range(NCLIENTS)]
        for i, c in enumerate(clients):
            self.assertIsInstance(c.cmd("GET", "x%d" % i), Exception)
        self.assertEqual(len(self.log()), NCLIENTS)
        self.assertOK(self.r.cmd("ACL", "LOG", "reset"))
        for c in [self.client() for _ in range(NCLIENTS)]:
            self.assertEqual(c.cmd("ACL", "LOG"), [])

    def test_default_count_and_max_len(self):
        clients = [self.user_client() for _ in range(NCLIENTS)]
        for i in range(140):
            self.assertIsInstance(clients[i % NCLIENTS].cmd("GET", "x%d" % i), Exception)
        self.assertEqual(len(self.log()), 10)
        log = self.log("1000")
        self.assertEqual(len(log), 128)
        self.assertEqual(log[0]["object"], b"x139")
        self.assertEqual({e["object"] for e in log}, {b"x%d" % i for i in range(12, 140)})


class TestAclLogArgs(AclLogCase):

    def test_count_argument(self):
        c = self.user_client()
        for i in range(3):
            self.assertIsInstance(c.cmd("GET", "x%d" % i), Exception)
        self.assertEqual(len(self.log("2")), 2)
        self.assertEqual(self.log("0"), [])
        self.assertEqual(self.log("-5"), [])
        self.assertEqual(len(self.log("3")), 3)
        self.assertError(self.r.cmd("ACL", "LOG", "x"), NOTINT)
        self.assertError(self.r.cmd("ACL", "LOG", "1.5"), NOTINT)
        self.assertError(self.r.cmd("ACL", "LOG", "1", "2"), LOG_ARITY)
        self.assertError(self.r.cmd("ACL", "LOG", "RESET", "2"), LOG_ARITY)
        self.assertEqual(len(self.log()), 3)

    def test_resp3_shape(self):
        c = self.user_client()
        self.assertIsInstance(c.cmd("GET", "x"), Exception)
        self.r.cmd("HELLO", "3")
        reply = self.r.cmd("ACL", "LOG")
        self.assertEqual(len(reply), 1)
        self.assertIsInstance(reply[0], Map)
        self.assertEqual([k.decode() for k in reply[0]], FIELDS)
        self.assertIsInstance(reply[0][b"age-seconds"], Double)
        self.assertEqual(reply[0][b"count"], 1)
        self.r.cmd("HELLO", "2")
        entry = self.r.cmd("ACL", "LOG")[0]
        self.assertIsInstance(entry, list)
        self.assertEqual(len(entry), 14)
        self.assertIsInstance(entry[11], bytes)  # RESP2 double: a bulk string
        float(entry[11])

    def test_help_mentions_log(self):
        lines = self.r.cmd("ACL", "HELP")
        i = lines.index("LOG [<count> | RESET]")
        self.assertEqual(lines[i + 1], "    Show the ACL log entries.")
        self.assertEqual(lines[i - 2], "LOAD")


if __name__ == "__main__":
    unittest.main()
