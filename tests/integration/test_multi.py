"""MULTI / EXEC / DISCARD / WATCH / UNWATCH, as Redis 7.0 has them.

Keys are spread over every shard (many names), so with several shards the
transactions below cross shards. Every test passes against redis-server
(SHARDIS_REFERENCE=redis).
"""

import os
import sys
import threading
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import Client, Error, Map, ServerTestCase  # noqa: E402

KEYS = ["mk:%d" % i for i in range(16)]


class TestMulti(ServerTestCase):

    def other(self):
        c = Client(self.server.port)
        self._clients.append(c)
        return c

    def test_exec_runs_the_queue_in_order(self):
        self.assertEqual(self.r.cmd("MULTI"), "OK")
        self.assertEqual(self.r.cmd("SET", "a", "1"), "QUEUED")
        self.assertEqual(self.r.cmd("INCR", "a"), "QUEUED")
        self.assertEqual(self.r.cmd("GET", "a"), "QUEUED")
        self.assertEqual(self.r.cmd("EXEC"), ["OK", 2, b"2"])

    def test_queue_over_many_shards(self):
        self.r.cmd("MULTI")
        for i, k in enumerate(KEYS):
            self.r.cmd("SET", k, str(i))
        self.r.cmd("MGET", *KEYS)
        self.r.cmd("DEL", *KEYS[:4])
        self.r.cmd("EXISTS", *KEYS)
        reply = self.r.cmd("EXEC")
        self.assertEqual(reply[:len(KEYS)], ["OK"] * len(KEYS))
        self.assertEqual(reply[len(KEYS)], [str(i).encode() for i in range(len(KEYS))])
        self.assertEqual(reply[len(KEYS) + 1:], [4, len(KEYS) - 4])

    def test_empty_transaction(self):
        self.r.cmd("MULTI")
        self.assertEqual(self.r.cmd("EXEC"), [])

    def test_errors_outside_multi(self):
        self.assertEqual(self.r.cmd("EXEC"), Error("ERR EXEC without MULTI"))
        self.assertEqual(self.r.cmd("DISCARD"), Error("ERR DISCARD without MULTI"))

    def test_nested_multi_is_refused_but_keeps_the_transaction(self):
        self.r.cmd("MULTI")
        self.assertEqual(self.r.cmd("MULTI"), Error("ERR MULTI calls can not be nested"))
        self.r.cmd("SET", "n", "1")
        self.assertEqual(self.r.cmd("EXEC"), ["OK"])

    def test_queue_time_error_aborts_exec(self):
        self.r.cmd("MULTI")
        self.r.cmd("SET", "q", "1")
        reply = self.r.cmd("NOSUCHCOMMAND", "x")
        self.assertIsInstance(reply, Error)
        self.assertTrue(str(reply).startswith("ERR unknown command"), reply)
        self.assertEqual(self.r.cmd("GET"), Error(
            "ERR wrong number of arguments for 'get' command"))
        self.assertEqual(self.r.cmd("EXEC"), Error(
            "EXECABORT Transaction discarded because of previous errors."))
        self.assertIsNone(self.r.cmd("GET", "q"))
        # the connection is out of MULTI again
        self.assertEqual(self.r.cmd("SET", "q", "2"), "OK")

    def test_runtime_errors_are_elements_and_the_rest_runs(self):
        self.r.cmd("SET", "s", "notanumber")
        self.r.cmd("MULTI")
        self.r.cmd("INCR", "s")
        self.r.cmd("SET", "t", "ok")
        self.r.cmd("LPUSH", "s", "x")
        reply = self.r.cmd("EXEC")
        self.assertEqual(reply[0], Error("ERR value is not an integer or out of range"))
        self.assertEqual(reply[1], "OK")
        self.assertEqual(reply[2], Error(
            "WRONGTYPE Operation against a key holding the wrong kind of value"))
        self.assertEqual(self.r.cmd("GET", "t"), b"ok")

    def test_discard_drops_the_queue(self):
        self.r.cmd("MULTI")
        self.r.cmd("SET", "d", "1")
        self.assertEqual(self.r.cmd("DISCARD"), "OK")
        self.assertIsNone(self.r.cmd("GET", "d"))
        self.assertEqual(self.r.cmd("EXEC"), Error("ERR EXEC without MULTI"))

    def test_watch_aborts_when_another_client_writes(self):
        self.r.cmd("SET", "w", "1")
        self.assertEqual(self.r.cmd("WATCH", "w", KEYS[3]), "OK")
        self.other().cmd("SET", "w", "2")
        self.r.cmd("MULTI")
        self.r.cmd("SET", "w", "3")
        self.assertIsNone(self.r.cmd("EXEC"))
        self.assertEqual(self.r.cmd("GET", "w"), b"2")
        # EXEC unwatched: the next transaction runs
        self.r.cmd("MULTI")
        self.r.cmd("SET", "w", "4")
        self.assertEqual(self.r.cmd("EXEC"), ["OK"])

    def test_watch_of_keys_on_every_shard(self):
        for k in KEYS:
            self.r.cmd("SET", k, "0")
        self.r.cmd("WATCH", *KEYS)
        self.other().cmd("INCR", KEYS[11])
        self.r.cmd("MULTI")
        self.r.cmd("MSET", *[x for k in KEYS for x in (k, "1")])
        self.assertIsNone(self.r.cmd("EXEC"))
        self.assertEqual(self.r.cmd("GET", KEYS[0]), b"0")

    def test_write_right_after_watch_is_always_seen(self):
        # the write comes through another connection (another shard's
        # mailbox): WATCH must not reply before the owner registered it
        other = self.other()
        for i in range(60):
            k = "race:%d" % i
            self.assertEqual(self.r.cmd("WATCH", k), "OK")
            other.cmd("SET", k, "x")
            self.r.cmd("MULTI")
            self.r.cmd("SET", k, "mine")
            self.assertIsNone(self.r.cmd("EXEC"), "EXEC ran although %s changed" % k)

    def test_watch_without_change_runs(self):
        self.r.cmd("SET", "u", "1")
        self.r.cmd("WATCH", "u")
        self.other().cmd("GET", "u")  # reads do not count
        self.other().cmd("SET", "unrelated", "x")
        self.r.cmd("MULTI")
        self.r.cmd("INCR", "u")
        self.assertEqual(self.r.cmd("EXEC"), [2])

    def test_watch_ignores_writes_that_change_nothing(self):
        # as Redis: pops and deletes of missing keys touch nothing; a real
        # pop after them still aborts
        self.r.cmd("DEL", "nw", "nwl", "nws", "nwz")
        self.r.cmd("WATCH", "nw", "nwl", "nws", "nwz")
        o = self.other()
        for c in (("LPOP", "nwl"), ("RPOP", "nwl", "2"), ("SPOP", "nws"), ("SPOP", "nws", "3"),
                  ("ZPOPMIN", "nwz"), ("ZPOPMAX", "nwz", "2"), ("GETDEL", "nw"),
                  ("DEL", "nw"), ("UNLINK", "nws"), ("SREM", "nws", "m"),
                  ("HDEL", "nw", "f"), ("ZREM", "nwz", "m")):
            self.assertIn(o.cmd(*c), (None, [], 0), c)
        # and members that are not there, of keys that are
        o.cmd("SADD", "nws2", "a")
        o.cmd("HSET", "nwh2", "f", "v")
        o.cmd("ZADD", "nwz2", "1", "a")
        self.r.cmd("WATCH", "nws2", "nwh2", "nwz2")
        self.assertEqual([o.cmd("SREM", "nws2", "zz"), o.cmd("HDEL", "nwh2", "zz"),
                          o.cmd("ZREM", "nwz2", "zz")], [0, 0, 0])
        self.r.cmd("MULTI")
        self.r.cmd("SET", "nw", "1")
        self.assertEqual(self.r.cmd("EXEC"), ["OK"])
        o.cmd("RPUSH", "nwl", "a")
        self.r.cmd("WATCH", "nwl")
        o.cmd("LPOP", "nwl")
        self.r.cmd("MULTI")
        self.r.cmd("SET", "nw", "2")
        self.assertIsNone(self.r.cmd("EXEC"))
        self.assertEqual(self.r.cmd("GET", "nw"), b"1")

    # (setup commands, keys to WATCH, a write that changes nothing, its reply):
    # Redis neither touches WATCHed keys nor counts a change for the save
    # points for any of them. Keys with one {tag} share a shard.
    NOOP_WRITES = [
        ([("SET", "nx1", "v")], ["nx1"], ("SET", "nx1", "w", "NX"), None),
        ([], ["xx1"], ("SET", "xx1", "w", "XX"), None),
        ([("SET", "snx", "v")], ["snx"], ("SETNX", "snx", "w"), 0),
        ([("SET", "{m}a", "v")], ["{m}a", "{m}b"], ("MSETNX", "{m}a", "1", "{m}b", "2"), 0),
        ([], ["ex1"], ("EXPIRE", "ex1", "10"), 0),
        ([], ["ex2"], ("PEXPIRE", "ex2", "10000"), 0),
        ([], ["ex3"], ("EXPIREAT", "ex3", "4000000000"), 0),
        ([], ["ex4"], ("PEXPIREAT", "ex4", "4000000000000"), 0),
        ([("SET", "ex5", "v", "EX", "100")], ["ex5"], ("EXPIRE", "ex5", "50", "NX"), 0),
        ([("SET", "ex6", "v")], ["ex6"], ("EXPIRE", "ex6", "50", "XX"), 0),
        ([("SET", "ex7", "v", "EX", "100")], ["ex7"], ("EXPIRE", "ex7", "50", "GT"), 0),
        ([("SET", "ps1", "v")], ["ps1"], ("PERSIST", "ps1"), 0),
        ([], ["ps2"], ("PERSIST", "ps2"), 0),
        ([("RPUSH", "lr1", "a")], ["lr1"], ("LREM", "lr1", "0", "zz"), 0),
        ([("RPUSH", "li1", "a")], ["li1"], ("LINSERT", "li1", "BEFORE", "zz", "x"), -1),
        ([], ["li2"], ("LINSERT", "li2", "BEFORE", "a", "x"), 0),
        ([], ["lx1"], ("LPUSHX", "lx1", "a"), 0),
        ([], ["lx2"], ("RPUSHX", "lx2", "a"), 0),
        ([], ["{l}s", "{l}d"], ("LMOVE", "{l}s", "{l}d", "LEFT", "RIGHT"), None),
        ([], ["{l}s2", "{l}d2"], ("RPOPLPUSH", "{l}s2", "{l}d2"), None),
        ([("SADD", "sa1", "a")], ["sa1"], ("SADD", "sa1", "a"), 0),
        ([("SADD", "{s}1", "a")], ["{s}1", "{s}2"], ("SMOVE", "{s}1", "{s}2", "zz"), 0),
        ([], ["{s}3", "{s}4"], ("SMOVE", "{s}3", "{s}4", "a"), 0),
        ([("HSET", "hn1", "f", "v")], ["hn1"], ("HSETNX", "hn1", "f", "w"), 0),
        ([("ZADD", "za1", "1", "a")], ["za1"], ("ZADD", "za1", "1", "a"), 0),
        ([("ZADD", "za2", "1", "a")], ["za2"], ("ZADD", "za2", "NX", "5", "a"), 0),
        ([], ["za3"], ("ZADD", "za3", "XX", "5", "a"), 0),
        ([("ZADD", "zr1", "1", "a")], ["zr1"], ("ZREMRANGEBYSCORE", "zr1", "100", "200"), 0),
        ([("ZADD", "zr2", "1", "a")], ["zr2"], ("ZREMRANGEBYRANK", "zr2", "5", "9"), 0),
        ([("ZADD", "zr3", "0", "a")], ["zr3"], ("ZREMRANGEBYLEX", "zr3", "[x", "[y"), 0),
        ([("PFADD", "pf1", "a")], ["pf1"], ("PFADD", "pf1", "a"), 0),
        ([("XADD", "xs1", "1-1", "f", "v")], ["xs1"], ("XDEL", "xs1", "9-9"), 0),
        ([("XADD", "xs2", "1-1", "f", "v")], ["xs2"], ("XTRIM", "xs2", "MAXLEN", "10"), 0),
        ([], ["sr1"], ("SETRANGE", "sr1", "0", ""), 0),
        ([("SET", "sr2", "abc")], ["sr2"], ("SETRANGE", "sr2", "1", ""), 3),
        ([("SET", "{r}a", "1"), ("SET", "{r}b", "2")], ["{r}a", "{r}b"],
         ("RENAMENX", "{r}a", "{r}b"), 0),
        ([("SET", "{c}a", "1"), ("SET", "{c}b", "2")], ["{c}a", "{c}b"],
         ("COPY", "{c}a", "{c}b"), 0),
        ([], ["{c}x", "{c}y"], ("COPY", "{c}x", "{c}y"), 0),
        ([("SET", "gx1", "v")], ["gx1"], ("GETEX", "gx1"), b"v"),
        ([("SET", "bf1", "a")], ["bf1"], ("BITFIELD", "bf1", "GET", "u8", "0"), [97]),
        ([("SET", "sb1", "a")], ["sb1"], ("SETBIT", "sb1", "1", "1"), 1),
        ([("SET", "sb2", "a")], ["sb2"], ("SETBIT", "sb2", "0", "0"), 0),
        ([("GEOADD", "geo1", "13.36", "38.11", "p")], ["geo1"],
         ("GEOADD", "geo1", "NX", "15.08", "37.50", "p"), 0),
    ]

    def test_watch_and_save_points_ignore_more_writes_that_change_nothing(self):
        o = self.other()

        def changes():
            for line in o.cmd("INFO", "persistence").decode().splitlines():
                if line.startswith("rdb_changes_since_last_save:"):
                    return int(line.split(":", 1)[1])
            raise AssertionError("no rdb_changes_since_last_save")

        wrong = []
        for setup, keys, cmd, want in self.NOOP_WRITES:
            for c in setup:
                self.assertNotIsInstance(o.cmd(*c), Error, c)
            self.r.cmd("WATCH", *keys)
            before = changes()
            self.assertEqual(o.cmd(*cmd), want, cmd)
            if changes() != before:
                wrong.append("%s counted as a change" % (cmd,))
            self.r.cmd("MULTI")
            self.r.cmd("PING")
            if self.r.cmd("EXEC") != ["PONG"]:
                wrong.append("%s touched a WATCHed key" % (cmd,))
        self.assertEqual(wrong, [], "\n" + "\n".join(wrong))

    def test_subscribe_queued_in_multi(self):
        # EXEC runs it: its reply is EXEC's element, and the connection is
        # subscribed after (it once crashed the server: no slot to write to)
        self.assertEqual(self.r.cmd("MULTI"), "OK")
        self.assertEqual(self.r.cmd("SUBSCRIBE", "mch"), "QUEUED")
        self.assertEqual(self.r.cmd("EXEC"), [[b"subscribe", b"mch", 1]])
        self.other().cmd("PUBLISH", "mch", "hello")
        self.assertEqual(self.r.read_reply(), [b"message", b"mch", b"hello"])
        self.assertEqual(self.r.cmd("UNSUBSCRIBE"), [b"unsubscribe", b"mch", 0])
        self.assertEqual(self.r.cmd("MULTI"), "OK")
        self.assertEqual(self.r.cmd("UNSUBSCRIBE"), "QUEUED")
        self.assertEqual(self.r.cmd("PUNSUBSCRIBE"), "QUEUED")
        self.assertEqual(self.r.cmd("EXEC"), [[b"unsubscribe", None, 0],
                                              [b"punsubscribe", None, 0]])
        self.assertEqual(self.r.cmd("PING"), "PONG")

    def test_subscribe_of_two_channels_queued_in_multi(self):
        # as Redis 7.0: EXEC's array holds one element for the command, the
        # first channel's confirmation; the second follows it on the wire,
        # outside the array, then the connection is subscribed to both
        self.assertEqual(self.r.cmd("MULTI"), "OK")
        self.assertEqual(self.r.cmd("SUBSCRIBE", "mc1", "mc2"), "QUEUED")
        self.r.send_command("EXEC")
        self.r.send_command("PING")
        self.assertEqual(self.r.read_raw_reply(),
                         b"*1\r\n*3\r\n$9\r\nsubscribe\r\n$3\r\nmc1\r\n:1\r\n")
        self.assertEqual(self.r.read_reply(), [b"subscribe", b"mc2", 2])
        self.assertEqual(self.r.read_reply(), [b"pong", b""])
        self.other().cmd("PUBLISH", "mc2", "hi")
        self.assertEqual(self.r.read_reply(), [b"message", b"mc2", b"hi"])
        first, second = self.r.cmd("UNSUBSCRIBE"), self.r.read_reply()
        self.assertEqual({first[1], second[1]}, {b"mc1", b"mc2"})  # in either order
        self.assertEqual((first[0], first[2], second[0], second[2]),
                         (b"unsubscribe", 1, b"unsubscribe", 0))

    def test_unwatch_forgets(self):
        self.r.cmd("WATCH", "uw")
        self.assertEqual(self.r.cmd("UNWATCH"), "OK")
        self.other().cmd("SET", "uw", "x")
        self.r.cmd("MULTI")
        self.r.cmd("GET", "uw")
        self.assertEqual(self.r.cmd("EXEC"), [b"x"])

    def test_watch_inside_multi_is_refused(self):
        self.r.cmd("MULTI")
        self.assertEqual(self.r.cmd("WATCH", "x"), Error("ERR WATCH inside MULTI is not allowed"))
        self.r.cmd("SET", "x", "1")
        self.assertEqual(self.r.cmd("EXEC"), ["OK"])

    def test_watch_sees_flushall(self):
        self.r.cmd("SET", "f", "1")
        self.r.cmd("WATCH", "f")
        self.other().cmd("FLUSHALL")
        self.r.cmd("MULTI")
        self.r.cmd("SET", "f", "2")
        self.assertIsNone(self.r.cmd("EXEC"))

    def test_watch_sees_rename_onto_the_key(self):
        self.r.cmd("SET", "src:%s" % KEYS[5], "v")
        self.r.cmd("SET", "dst", "old")
        self.r.cmd("WATCH", "dst")
        self.other().cmd("RENAME", "src:%s" % KEYS[5], "dst")
        self.r.cmd("MULTI")
        self.r.cmd("GET", "dst")
        self.assertIsNone(self.r.cmd("EXEC"))

    def test_watch_sees_expiry(self):
        self.r.cmd("SET", "e", "1", "PX", "50")
        self.r.cmd("WATCH", "e")
        time.sleep(0.2)
        self.r.cmd("MULTI")
        self.r.cmd("SET", "e", "2")
        self.assertIsNone(self.r.cmd("EXEC"))

    def test_watch_own_write_before_multi_aborts(self):
        # Redis: a write by the same client after WATCH counts too
        self.r.cmd("WATCH", "own")
        self.r.cmd("SET", "own", "1")
        self.r.cmd("MULTI")
        self.r.cmd("GET", "own")
        self.assertIsNone(self.r.cmd("EXEC"))

    def test_blocking_commands_do_not_block_inside_multi(self):
        self.r.cmd("RPUSH", "bl", "a")
        self.r.cmd("MULTI")
        self.r.cmd("BLPOP", "empty:list", "0")
        self.r.cmd("BLPOP", "bl", "0")
        self.r.cmd("BLMOVE", "empty:list", "x", "LEFT", "RIGHT", "0")
        self.assertEqual(self.r.cmd("EXEC"), [None, [b"bl", b"a"], None])

    def test_select_inside_multi(self):
        self.r.cmd("MULTI")
        self.r.cmd("SELECT", "2")
        self.r.cmd("SET", "sel", "two")
        self.r.cmd("SELECT", "0")
        self.r.cmd("GET", "sel")
        self.assertEqual(self.r.cmd("EXEC"), ["OK", "OK", "OK", None])
        self.r.cmd("SELECT", "2")
        self.assertEqual(self.r.cmd("GET", "sel"), b"two")
        self.r.cmd("SELECT", "0")

    def test_resp3_replies(self):
        self.r.cmd("HELLO", "3")
        self.r.cmd("MULTI")
        self.r.cmd("HSET", "h3", "f", "v")
        self.r.cmd("HGETALL", "h3")
        self.r.cmd("GET", "missing3")
        reply = self.r.cmd("EXEC")
        self.assertEqual(reply[0], 1)
        self.assertIsInstance(reply[1], Map)
        self.assertEqual(dict(reply[1]), {b"f": b"v"})
        self.assertIsNone(reply[2])
        # an aborted EXEC is RESP3's null
        self.r.cmd("WATCH", "w3")
        self.other().cmd("SET", "w3", "x")
        self.r.cmd("MULTI")
        self.assertEqual(self.r.raw("EXEC"), b"_\r\n")

    def test_aborted_exec_is_a_null_array_in_resp2(self):
        self.r.cmd("WATCH", "w2")
        self.other().cmd("SET", "w2", "x")
        self.r.cmd("MULTI")
        self.assertEqual(self.r.raw("EXEC"), b"*-1\r\n")

    def test_reset_leaves_multi(self):
        self.r.cmd("MULTI")
        self.r.cmd("SET", "r", "1")
        self.assertEqual(self.r.cmd("RESET"), "RESET")
        self.assertEqual(self.r.cmd("EXEC"), Error("ERR EXEC without MULTI"))
        self.assertIsNone(self.r.cmd("GET", "r"))

    def test_pipelined_transaction_keeps_reply_order(self):
        cmds = [("SET", "p0", "a"), ("MULTI",)]
        cmds += [("INCR", k) for k in KEYS]
        cmds += [("EXEC",), ("GET", "p0"), ("MGET", KEYS[0], KEYS[1])]
        for c in cmds:
            self.r.send_command(*c)
        replies = self.r.read_replies(len(cmds))
        self.assertEqual(replies[0], "OK")
        self.assertEqual(replies[1], "OK")
        self.assertEqual(replies[2:2 + len(KEYS)], ["QUEUED"] * len(KEYS))
        self.assertEqual(replies[2 + len(KEYS)], [1] * len(KEYS))
        self.assertEqual(replies[-2], b"a")
        self.assertEqual(replies[-1], [b"1", b"1"])

    def test_client_list_shows_multi(self):
        self.r.cmd("CLIENT", "SETNAME", "txclient")
        self.r.cmd("MULTI")
        self.r.cmd("SET", "cl:a", "1")
        self.r.cmd("SET", "cl:b", "2")
        line = [ln for ln in self.other().cmd("CLIENT", "LIST").decode().splitlines()
                if " name=txclient " in ln][0]
        fields = dict(f.split("=", 1) for f in line.split(" "))
        self.assertEqual(fields["flags"], "x")
        self.assertEqual(fields["multi"], "2")
        self.r.cmd("EXEC")
        line = [ln for ln in self.other().cmd("CLIENT", "LIST").decode().splitlines()
                if " name=txclient " in ln][0]
        fields = dict(f.split("=", 1) for f in line.split(" "))
        self.assertEqual(fields["flags"], "N")
        self.assertEqual(fields["multi"], "-1")

    def test_not_allowed_inside_multi(self):
        self.r.cmd("MULTI")
        self.assertEqual(self.r.cmd("SHUTDOWN"),
                         Error("ERR Command not allowed inside a transaction"))
        self.assertEqual(self.r.cmd("EXEC"), Error(
            "EXECABORT Transaction discarded because of previous errors."))

    def test_transfers_between_accounts_keep_the_total(self):
        accounts = ["acct:%d" % i for i in range(6)]
        self.r.cmd("MSET", *[x for a in accounts for x in (a, "100")])
        stop = threading.Event()
        problems = []
        done = [0]

        def mover(seed):
            with Client(self.server.port) as c:
                i = seed
                while not stop.is_set():
                    src, dst = accounts[i % 6], accounts[(i * 5 + 1) % 6]
                    i += 1
                    if src == dst:
                        continue
                    c.send_command("MULTI")
                    c.send_command("DECRBY", src, "7")
                    c.send_command("INCRBY", dst, "7")
                    c.send_command("EXEC")
                    r = c.read_replies(4)
                    if not isinstance(r[3], list) or len(r[3]) != 2:
                        problems.append("EXEC replied %r" % (r[3],))
                    done[0] += 1

        def auditor():
            with Client(self.server.port) as c:
                while not stop.is_set():
                    vals = c.cmd("MGET", *accounts)
                    total = sum(int(v) for v in vals)
                    if total != 600:
                        problems.append("total %d: %r" % (total, vals))
                        stop.set()

        threads = [threading.Thread(target=mover, args=(s,)) for s in range(3)]
        threads += [threading.Thread(target=auditor) for _ in range(2)]
        for t in threads:
            t.start()
        time.sleep(2.0)
        stop.set()
        for t in threads:
            t.join(30)
        self.assertEqual(problems, [])
        self.assertGreater(done[0], 20)
        self.assertEqual(sum(int(v) for v in self.r.cmd("MGET", *accounts)), 600)


if __name__ == "__main__":
    unittest.main()
