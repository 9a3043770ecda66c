"""SLOWLOG and LATENCY, and their directives, as Redis 7.0 has them.

Every test here also runs against Redis (SHARDIS_REFERENCE=redis) unless it
says it is shardis's own. With several shards (SHARDIS_SHARDS=4) the keys and
the clients of a test spread over the shards: each shard logs its own
clients' commands and SLOWLOG/LATENCY merge what every shard holds.
"""

import os
import sys
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import Error, ServerTestCase, reference_mode  # noqa: E402

COUNT_ERR = "ERR count should be greater than or equal to -1"
SLOWLOG_HELP = [
    "SLOWLOG <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
    "GET [<count>]",
    "    Return top <count> entries from the slowlog (default: 10, -1 mean all).",
    "    Entries are made of:",
    "    id, timestamp, time in microseconds, arguments array, client IP and port,",
    "    client name",
    "LEN",
    "    Return the length of the slowlog.",
    "RESET",
    "    Reset the slowlog.",
    "HELP",
    "    Prints this help.",
]


def arity(cmd):
    return "ERR wrong number of arguments for '%s' command" % cmd


def range_err(name, low):
    return ("ERR CONFIG SET failed (possibly related to argument '%s') - argument must be "
            "between %d and 9223372036854775807 inclusive" % (name, low))


def peer_id(client):
    host, port = client.sock.getsockname()[:2]
    return ("%s:%d" % (host, port)).encode()


class SlowlogCase(ServerTestCase):
    """Each test starts with the slow log off (-1), slowlog-max-len 128, the
    latency monitor off, and both empty; tearDown puts the defaults back."""

    def setUp(self):
        super().setUp()
        self.assertOK(self.r.cmd("CONFIG", "SET", "slowlog-log-slower-than", "-1",
                                 "slowlog-max-len", "128", "latency-monitor-threshold", "0"))
        self.assertOK(self.r.cmd("SLOWLOG", "RESET"))
        self.assertIsInstance(self.r.cmd("LATENCY", "RESET"), int)

    def tearDown(self):
        if self.server.alive():
            with self.server.client() as c:
                c.cmd("CONFIG", "SET", "slowlog-log-slower-than", "10000",
                      "slowlog-max-len", "128", "latency-monitor-threshold", "0")
        super().tearDown()

    def log_everything(self, max_len=128):
        """Threshold 0 (every command), then an empty log."""
        self.assertOK(self.r.cmd("CONFIG", "SET", "slowlog-max-len", str(max_len),
                                 "slowlog-log-slower-than", "0"))
        self.assertOK(self.r.cmd("SLOWLOG", "RESET"))

    def entries(self, *count):
        reply = self.r.cmd("SLOWLOG", "GET", *count)
        self.assertIsInstance(reply, list, reply)
        out = []
        for e in reply:
            self.assertEqual(len(e), 6, e)
            out.append({"id": e[0], "time": e[1], "us": e[2], "args": e[3], "addr": e[4],
                        "name": e[5]})
        return out

    def find(self, entries, *args):
        want = [a.encode() if isinstance(a, str) else a for a in args]
        hits = [e for e in entries if e["args"] == want]
        self.assertEqual(len(hits), 1, "one entry %r expected in %r" % (want, entries))
        return hits[0]


class TestDefaults(ServerTestCase):
    """A server of its own, never reconfigured."""

    def test_directives_default_to_redis_values(self):
        self.assertEqual(self.r.cmd("CONFIG", "GET", "slowlog-log-slower-than"),
                         [b"slowlog-log-slower-than", b"10000"])
        self.assertEqual(self.r.cmd("CONFIG", "GET", "slowlog-max-len"),
                         [b"slowlog-max-len", b"128"])
        self.assertEqual(self.r.cmd("CONFIG", "GET", "latency-monitor-threshold"),
                         [b"latency-monitor-threshold", b"0"])

    def test_defaults_log_a_20ms_command_and_sample_nothing(self):
        self.assertOK(self.r.cmd("SLOWLOG", "RESET"))
        self.assertOK(self.r.cmd("DEBUG", "SLEEP", "0.02"))
        entries = self.r.cmd("SLOWLOG", "GET", "-1")
        self.assertIn([b"DEBUG", b"SLEEP", b"0.02"], [e[3] for e in entries])
        self.assertEqual(self.r.cmd("LATENCY", "LATEST"), [])


class TestSlowlogDirectives(SlowlogCase):

    def test_config_set_changes_every_directive(self):
        self.assertOK(self.r.cmd("CONFIG", "SET", "slowlog-log-slower-than", "250",
                                 "slowlog-max-len", "7", "latency-monitor-threshold", "42"))
        flat = self.r.cmd("CONFIG", "GET", "*l*o*w*")
        conf = dict(zip(flat[0::2], flat[1::2]))
        self.assertEqual(conf[b"slowlog-log-slower-than"], b"250")
        self.assertEqual(conf[b"slowlog-max-len"], b"7")
        self.assertEqual(self.r.cmd("CONFIG", "GET", "latency-monitor-threshold"),
                         [b"latency-monitor-threshold", b"42"])
        self.assertOK(self.r.cmd("CONFIG", "SET", "slowlog-log-slower-than", "-1"))
        self.assertEqual(self.r.cmd("CONFIG", "GET", "slowlog-log-slower-than"),
                         [b"slowlog-log-slower-than", b"-1"])

    def test_config_set_rejects_out_of_range_and_garbage(self):
        self.assertError(self.r.cmd("CONFIG", "SET", "slowlog-log-slower-than", "-5"),
                         range_err("slowlog-log-slower-than", -1))
        self.assertError(self.r.cmd("CONFIG", "SET", "slowlog-max-len", "-1"),
                         range_err("slowlog-max-len", 0))
        self.assertError(self.r.cmd("CONFIG", "SET", "latency-monitor-threshold", "-1"),
                         range_err("latency-monitor-threshold", 0))
        self.assertError(
            self.r.cmd("CONFIG", "SET", "latency-monitor-threshold", "abc"),
            "ERR CONFIG SET failed (possibly related to argument 'latency-monitor-threshold')"
            " - argument couldn't be parsed into an integer")
        # all or nothing: the good pair before the bad one is not applied
        self.assertIsInstance(self.r.cmd("CONFIG", "SET", "slowlog-max-len", "3",
                                         "slowlog-log-slower-than", "x"), Error)
        self.assertEqual(self.r.cmd("CONFIG", "GET", "slowlog-max-len"),
                         [b"slowlog-max-len", b"128"])


class TestSlowlog(SlowlogCase):

    def test_entry_fields(self):
        self.log_everything()
        self.assertOK(self.r.cmd("CLIENT", "SETNAME", "slow-client"))
        before = int(time.time())
        self.assertOK(self.r.cmd("SET", "sl:key", "value"))
        after = int(time.time())
        got = self.entries()
        # newest first: SET, CLIENT SETNAME, SLOWLOG RESET (itself logged)
        self.assertEqual([e["args"] for e in got],
                         [[b"SET", b"sl:key", b"value"], [b"CLIENT", b"SETNAME", b"slow-client"],
                          [b"SLOWLOG", b"RESET"]])
        self.assertEqual([e["id"] for e in got], [got[2]["id"] + 2, got[2]["id"] + 1,
                                                  got[2]["id"]])
        e = got[0]
        self.assertGreaterEqual(e["time"], before - 1)
        self.assertLessEqual(e["time"], after + 1)
        self.assertIsInstance(e["us"], int)
        self.assertGreaterEqual(e["us"], 0)
        self.assertEqual(e["addr"], peer_id(self.r))
        self.assertEqual(e["name"], b"slow-client")
        self.assertEqual(got[1]["name"], b"slow-client")  # the name as the command left it
        self.assertEqual(got[2]["name"], b"")

    def test_only_commands_at_least_as_slow_as_the_threshold(self):
        self.assertOK(self.r.cmd("CONFIG", "SET", "slowlog-log-slower-than", "100000"))
        self.assertEqual(self.r.cmd("PING"), "PONG")
        self.assertEqual(self.r.cmd("SLOWLOG", "LEN"), 0)
        self.assertOK(self.r.cmd("DEBUG", "SLEEP", "0.2"))
        self.assertEqual(self.r.cmd("SLOWLOG", "LEN"), 1)
        e = self.entries()[0]
        self.assertEqual(e["args"], [b"DEBUG", b"SLEEP", b"0.2"])
        self.assertGreaterEqual(e["us"], 200000)

    def test_negative_threshold_disables_the_log(self):
        self.assertOK(self.r.cmd("DEBUG", "SLEEP", "0.02"))
        self.assertEqual(self.r.cmd("SLOWLOG", "LEN"), 0)
        self.assertEqual(self.r.cmd("SLOWLOG", "GET"), [])

    def test_len_and_reset(self):
        self.log_everything()
        for _ in range(5):
            self.r.cmd("PING")
        self.assertEqual(self.r.cmd("SLOWLOG", "LEN"), 6)  # RESET, then 5 PINGs
        self.assertOK(self.r.cmd("CONFIG", "SET", "slowlog-log-slower-than", "1000000"))
        self.assertOK(self.r.cmd("SLOWLOG", "RESET"))
        self.assertEqual(self.r.cmd("SLOWLOG", "LEN"), 0)
        self.assertEqual(self.r.cmd("SLOWLOG", "GET", "-1"), [])

    def test_ids_keep_increasing_after_reset(self):
        self.log_everything()
        first = self.entries()[0]["id"]
        self.assertOK(self.r.cmd("SLOWLOG", "RESET"))
        self.r.cmd("PING")
        self.assertGreater(self.entries("1")[0]["id"], first)

    def test_get_count(self):
        self.log_everything()
        for i in range(20):
            self.r.cmd("ECHO", "n%d" % i)
        self.assertEqual(len(self.entries()), 10)  # the default
        five = self.entries("5")
        self.assertEqual(len(five), 5)
        self.assertEqual(five[0]["args"], [b"SLOWLOG", b"GET"])  # the GET before
        self.assertEqual(five[1]["args"], [b"ECHO", b"n19"])
        self.assertEqual(self.entries("0"), [])
        n = self.r.cmd("SLOWLOG", "LEN")
        everything = self.entries("-1")
        self.assertEqual(len(everything), n + 1)  # and the LEN
        self.assertEqual(everything[-1]["args"], [b"SLOWLOG", b"RESET"])
        self.assertEqual(len(self.entries("1000")), n + 2)
        ids = [e["id"] for e in self.entries("-1")]
        self.assertEqual(ids, sorted(ids, reverse=True))
        self.assertEqual(len(set(ids)), len(ids))

    def test_get_count_errors(self):
        for bad in ("abc", "-2", "1.5", "", "99999999999999999999"):
            self.assertError(self.r.cmd("SLOWLOG", "GET", bad), COUNT_ERR)
        self.assertError(self.r.cmd("SLOWLOG", "GET", "1", "2"),
                         "ERR unknown subcommand or wrong number of arguments for 'GET'. "
                         "Try SLOWLOG HELP.")
        self.assertError(self.r.cmd("SLOWLOG", "LEN", "1"), arity("slowlog|len"))
        self.assertError(self.r.cmd("SLOWLOG", "RESET", "1"), arity("slowlog|reset"))
        self.assertError(self.r.cmd("SLOWLOG"), arity("slowlog"))
        self.assertError(self.r.cmd("SLOWLOG", "nope"),
                         "ERR unknown subcommand 'nope'. Try SLOWLOG HELP.")

    def test_help(self):
        self.assertEqual(self.r.cmd("SLOWLOG", "HELP"), SLOWLOG_HELP)
        self.assertEqual(self.r.raw("SLOWLOG", "HELP").split(b"\r\n")[1],
                         b"+" + SLOWLOG_HELP[0].encode())

    def test_max_len_keeps_the_newest(self):
        self.log_everything(max_len=10)
        for i in range(100):
            self.r.cmd("ECHO", "m%d" % i)
        self.assertEqual(self.r.cmd("SLOWLOG", "LEN"), 10)
        got = self.entries("-1")
        self.assertEqual(len(got), 10)
        self.assertEqual(got[0]["args"], [b"SLOWLOG", b"LEN"])
        self.assertEqual([e["args"][1] for e in got[1:]],
                         [b"m%d" % i for i in range(99, 90, -1)])

    def test_lower_max_len_trims_and_zero_keeps_nothing(self):
        self.log_everything()
        for i in range(30):
            self.r.cmd("PING")
        self.assertOK(self.r.cmd("CONFIG", "SET", "slowlog-max-len", "4"))
        self.assertEqual(self.r.cmd("SLOWLOG", "LEN"), 4)
        self.assertEqual(self.entries("-1")[0]["args"], [b"SLOWLOG", b"LEN"])
        self.assertOK(self.r.cmd("CONFIG", "SET", "slowlog-max-len", "0"))
        for i in range(10):
            self.r.cmd("PING")
        self.assertEqual(self.r.cmd("SLOWLOG", "LEN"), 0)
        self.assertEqual(self.r.cmd("SLOWLOG", "GET", "-1"), [])

    def test_long_arguments_are_cut(self):
        self.log_everything()
        self.assertOK(self.r.cmd("SET", "sl:long", "a" * 200))
        e = self.find(self.entries(), "SET", "sl:long", b"a" * 128 + b"... (72 more bytes)")
        self.assertEqual(len(e["args"]), 3)
        exactly = "b" * 128
        self.assertOK(self.r.cmd("SET", "sl:exact", exactly))
        self.find(self.entries(), "SET", "sl:exact", exactly)

    def test_many_arguments_are_cut_to_32(self):
        self.log_everything()
        keys = ["sl:many:%d" % i for i in range(39)]
        keys[5] = "k" * 300
        self.assertEqual(self.r.cmd("DEL", *keys), 0)
        e = self.entries("1")[0]
        self.assertEqual(len(e["args"]), 32)
        self.assertEqual(e["args"][0], b"DEL")
        self.assertEqual(e["args"][1:5], [k.encode() for k in keys[:4]])
        self.assertEqual(e["args"][6], b"k" * 128 + b"... (172 more bytes)")
        self.assertEqual(e["args"][30], keys[29].encode())
        self.assertEqual(e["args"][31], b"... (9 more arguments)")
        self.assertOK(self.r.cmd("MSET", *[x for i in range(16) for x in ("sl:m%d" % i, "v")]))
        e = self.entries("1")[0]
        self.assertEqual(len(e["args"]), 32)  # 33 arguments: exactly one too many
        self.assertEqual(e["args"][31], b"... (2 more arguments)")
        self.assertEqual(e["args"][29:31], [b"sl:m14", b"v"])

    def test_secrets_are_redacted(self):
        self.log_everything()
        self.assertIsInstance(self.r.cmd("AUTH", "user", "topsecret"), Error)
        self.assertIsInstance(self.r.cmd("AUTH", "topsecret"), Error)
        self.assertIsInstance(self.r.cmd("HELLO", "2", "AUTH", "default", "topsecret",
                                         "SETNAME", "redact-me"), list)
        self.assertOK(self.r.cmd("CONFIG", "SET", "requirepass", "",
                                 "slowlog-max-len", "128"))
        got = self.entries("-1")
        self.find(got, "AUTH", "(redacted)", "(redacted)")
        self.find(got, "AUTH", "(redacted)")
        self.find(got, "HELLO", "2", "AUTH", "(redacted)", "(redacted)", "SETNAME", "redact-me")
        self.find(got, "CONFIG", "SET", "requirepass", "(redacted)", "slowlog-max-len", "128")
        self.assertNotIn(b"topsecret", repr(got).encode())

    def test_commands_on_other_shards_are_logged_with_the_client(self):
        self.log_everything()
        self.assertOK(self.r.cmd("CLIENT", "SETNAME", "owner-test"))
        keys = ["sl:spread:%d" % i for i in range(24)]
        for k in keys:
            self.assertOK(self.r.cmd("SET", k, "v-" + k))
        self.assertEqual(self.r.cmd("MGET", *keys), [("v-" + k).encode() for k in keys])
        self.assertEqual(self.r.cmd("DEL", *keys[:12]), 12)
        got = self.entries("-1")
        sets = [e for e in got if e["args"][0] == b"SET"]
        self.assertEqual([e["args"][1] for e in sets], [k.encode() for k in reversed(keys)])
        for e in sets:
            self.assertEqual(e["addr"], peer_id(self.r))
            self.assertEqual(e["name"], b"owner-test")
        self.assertEqual(got[0]["args"], [b"DEL"] + [k.encode() for k in keys[:12]])
        self.assertEqual(got[1]["args"], [b"MGET"] + [k.encode() for k in keys])
        self.assertEqual(got[0]["name"], b"owner-test")
        self.assertEqual(got[1]["addr"], peer_id(self.r))
        ids = [e["id"] for e in got]
        self.assertEqual(ids, sorted(ids, reverse=True))

    def test_clients_everywhere_merge_newest_first_within_max_len(self):
        self.log_everything(max_len=5)
        clients = [self.client() for _ in range(8)]
        for i, c in enumerate(clients):
            self.assertOK(c.cmd("CLIENT", "SETNAME", "c%d" % i))
        for rnd in range(2):
            for i, c in enumerate(clients):
                self.assertOK(c.cmd("SET", "sl:c%d" % i, "r%d" % rnd))
        self.assertEqual(self.r.cmd("SLOWLOG", "LEN"), 5)
        got = self.entries("-1")
        self.assertEqual(len(got), 5)
        self.assertEqual(got[0]["args"], [b"SLOWLOG", b"LEN"])
        self.assertEqual([(e["name"], e["args"][1:]) for e in got[1:]],
                         [(b"c%d" % i, [b"sl:c%d" % i, b"r1"]) for i in (7, 6, 5, 4)])
        for e in got[1:]:
            self.assertEqual(e["addr"], peer_id(clients[int(e["name"][1:])]))
        self.assertEqual(len(self.entries("3")), 3)

    def test_resp3_replies_the_same_entries(self):
        self.log_everything()
        self.assertIsInstance(self.r.cmd("HELLO", "3"), dict)
        self.r.cmd("ECHO", "resp3")
        e = self.entries("2")[0]
        self.assertEqual(e["args"], [b"ECHO", b"resp3"])
        self.assertEqual(self.r.cmd("SLOWLOG", "LEN"), 4)  # RESET HELLO ECHO GET


class TestLatency(SlowlogCase):
    """Thresholds of 100 ms: far above what any other command of a test may
    take, even under a sanitizer on a loaded machine."""

    def latest(self, client=None):
        reply = (client or self.r).cmd("LATENCY", "LATEST")
        self.assertIsInstance(reply, list, reply)
        return {e[0]: e[1:] for e in reply}

    def threshold(self, ms):
        self.assertOK(self.r.cmd("CONFIG", "SET", "latency-monitor-threshold", str(ms)))

    def test_off_by_default(self):
        self.assertOK(self.r.cmd("DEBUG", "SLEEP", "0.02"))
        self.assertEqual(self.r.cmd("LATENCY", "LATEST"), [])
        self.assertEqual(self.r.cmd("LATENCY", "HISTORY", "command"), [])

    def test_slow_command_is_sampled(self):
        self.threshold(100)
        self.assertOK(self.r.cmd("DEBUG", "SLEEP", "0.05"))
        self.assertEqual(self.r.cmd("LATENCY", "LATEST"), [])
        before = int(time.time())
        self.assertOK(self.r.cmd("DEBUG", "SLEEP", "0.12"))
        after = int(time.time())
        latest = self.latest()
        self.assertEqual(list(latest), [b"command"])
        when, ms, top = latest[b"command"]
        self.assertTrue(before - 1 <= when <= after + 1, (before, when, after))
        self.assertGreaterEqual(ms, 120)
        self.assertEqual(top, ms)
        self.assertEqual(self.r.cmd("LATENCY", "HISTORY", "command"), [[when, ms]])
        # HISTORY names the event exactly; RESET ignores case
        self.assertEqual(self.r.cmd("LATENCY", "HISTORY", "COMMAND"), [])
        self.assertEqual(self.r.cmd("LATENCY", "HISTORY", "fast-command"), [])
        self.assertEqual(self.r.cmd("LATENCY", "HISTORY", "nope"), [])

    def test_one_sample_per_second_is_the_largest(self):
        self.threshold(100)
        self.assertOK(self.r.cmd("DEBUG", "SLEEP", "0.11"))
        self.assertOK(self.r.cmd("DEBUG", "SLEEP", "0.3"))
        self.assertOK(self.r.cmd("DEBUG", "SLEEP", "0.15"))
        history = self.r.cmd("LATENCY", "HISTORY", "command")
        times = [t for t, _ in history]
        self.assertEqual(times, sorted(set(times)))
        self.assertTrue(1 <= len(history) <= 3, history)
        self.assertGreaterEqual(max(ms for _, ms in history), 300)
        when, ms, top = self.latest()[b"command"]
        self.assertEqual([when, ms], history[-1])
        self.assertEqual(top, max(ms for _, ms in history))

    def test_reset(self):
        self.threshold(100)
        self.assertOK(self.r.cmd("DEBUG", "SLEEP", "0.11"))
        self.assertEqual(self.r.cmd("LATENCY", "RESET", "fast-command", "nope"), 0)
        self.assertEqual(list(self.latest()), [b"command"])
        self.assertEqual(self.r.cmd("LATENCY", "RESET", "COMMAND", "command", "nope"), 1)
        self.assertEqual(self.r.cmd("LATENCY", "LATEST"), [])
        self.assertEqual(self.r.cmd("LATENCY", "HISTORY", "command"), [])
        self.assertOK(self.r.cmd("DEBUG", "SLEEP", "0.11"))
        self.assertEqual(self.r.cmd("LATENCY", "RESET"), 1)
        self.assertEqual(self.r.cmd("LATENCY", "RESET"), 0)

    def test_fast_command_event(self):
        """MGET is @fast; 100000 keys take well over a millisecond. No other
        @fast command runs while the threshold is 1 ms."""
        keys = ["lat:%d" % i for i in range(100000)]
        self.threshold(1)
        self.r.cmd("LATENCY", "RESET")
        self.assertEqual(self.r.cmd("MGET", *keys), [None] * len(keys))
        latest = self.latest()
        self.assertIn(b"fast-command", latest)
        self.assertGreaterEqual(latest[b"fast-command"][1], 1)
        self.assertEqual(len(self.r.cmd("LATENCY", "HISTORY", "fast-command")), 1)
        self.assertEqual(self.r.cmd("LATENCY", "RESET", "fast-command"), 1)
        self.assertNotIn(b"fast-command", self.latest())

    def test_clients_everywhere_merge(self):
        self.threshold(100)
        clients = [self.client() for _ in range(6)]
        for i, c in enumerate(clients):
            self.assertOK(c.cmd("DEBUG", "SLEEP", "0.%d" % (11 + 2 * i)))
        latest = self.latest(clients[0])
        self.assertEqual(list(latest), [b"command"])
        when, ms, top = latest[b"command"]
        self.assertGreaterEqual(top, 210)
        self.assertGreaterEqual(ms, 210)  # the last and longest sleep's second
        history = self.r.cmd("LATENCY", "HISTORY", "command")
        times = [t for t, _ in history]
        self.assertEqual(times, sorted(set(times)))
        self.assertEqual(max(m for _, m in history), top)
        self.assertEqual(history[-1], [when, ms])
        self.assertEqual(self.r.cmd("LATENCY", "RESET", "command"), 1)
        self.assertEqual(self.latest(clients[3]), {})

    def test_errors_and_help(self):
        self.assertError(self.r.cmd("LATENCY", "HISTORY"), arity("latency|history"))
        self.assertError(self.r.cmd("LATENCY", "LATEST", "1"), arity("latency|latest"))
        self.assertError(self.r.cmd("LATENCY"), arity("latency"))
        self.assertError(self.r.cmd("LATENCY", "nope"),
                         "ERR unknown subcommand 'nope'. Try LATENCY HELP.")
        text = self.r.cmd("LATENCY", "HELP")
        self.assertEqual(text[0],
                         "LATENCY <subcommand> [<arg> [value] [opt] ...]. Subcommands are:")
        self.assertEqual(text[-2:], ["HELP", "    Prints this help."])
        for line in ("HISTORY <event>", "LATEST", "RESET [<event> ...]",
                     "    Reset latency data of one or more <event> classes."):
            self.assertIn(line, text)


class TestShardisOwn(SlowlogCase):
    """What only shardis promises."""

    def setUp(self):
        if reference_mode():
            self.skipTest("shardis's own behaviour")
        super().setUp()

    def test_len_is_capped_when_every_shard_holds_max_len(self):
        self.log_everything(max_len=3)
        clients = [self.client() for _ in range(12)]
        for c in clients:
            for _ in range(4):
                c.cmd("PING")
        self.assertEqual(self.r.cmd("SLOWLOG", "LEN"), 3)
        got = self.entries("-1")
        self.assertEqual(len(got), 3)
        self.assertEqual([e["addr"] for e in got[1:]], [peer_id(clients[-1])] * 2)



if __name__ == "__main__":
    unittest.main()
