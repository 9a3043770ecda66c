"""WATCH against writes whose keys lie on several shards, as Redis 7.0 has it.

Redis marks a WATCHed key when a command really changes it (or, for FLUSHALL,
FLUSHDB and SWAPDB, when the key existed in a database they empty or swap),
never for a write that changes nothing, nor (Redis 7.0) for a change of a
stream's consumer groups. Every command here names keys with no
common {tag}, so with several shards it crosses shards (a transaction of
parts, or a staged move), which is where a server could mark keys when it
schedules the write instead of when the write changes them.

Two tables: writes that change a WATCHed key (EXEC must abort: missing one is
a lost update) and writes that change none of them (EXEC must run). Every
test passes against redis-server (SHARDIS_REFERENCE=redis).
"""

import os
import sys
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import Client, Error, ServerTestCase  # noqa: E402

MOVE_SCRIPT = "redis.call('set', KEYS[1], 'x') redis.call('set', KEYS[2], 'y') return 1"
READ_SCRIPT = "return {redis.call('get', KEYS[1]), redis.call('exists', KEYS[2])}"

# (setup, keys to WATCH, the other client's commands): each set of commands
# changes at least one WATCHed key. A WATCHed key that a command empties is
# seen as changed by its disappearance alone, so the sources popped from keep
# an element.
CHANGES = [
    ([("SET", "w1", "v")], ["w1"], [("DEL", "a1", "b1", "w1", "c1")]),
    ([("SET", "w2", "v")], ["w2"], [("UNLINK", "a2", "w2", "b2", "c2")]),
    ([], ["w3"], [("MSET", "a3", "1", "w3", "2", "b3", "3")]),
    ([], ["w4"], [("MSETNX", "a4", "1", "b4", "2", "w4", "3")]),
    ([("SET", "s5", "v")], ["w5"], [("RENAME", "s5", "w5")]),
    ([("SET", "w6", "v")], ["w6"], [("RENAME", "w6", "d6")]),
    ([("SET", "s7", "v")], ["w7"], [("RENAMENX", "s7", "w7")]),
    ([("SET", "s8", "v"), ("SET", "w8", "old")], ["w8"], [("COPY", "s8", "w8", "REPLACE")]),
    ([("SET", "s9", "v")], ["w9"], [("COPY", "s9", "w9")]),
    ([("SADD", "s10", "m")], ["w10"], [("SMOVE", "s10", "w10", "m")]),
    ([("SADD", "w11", "m", "n")], ["w11"], [("SMOVE", "w11", "d11", "m")]),
    ([("RPUSH", "s12", "a")], ["w12"], [("LMOVE", "s12", "w12", "LEFT", "RIGHT")]),
    ([("RPUSH", "w13", "a", "b")], ["w13"], [("RPOPLPUSH", "w13", "d13")]),
    ([("RPUSH", "s14", "a")], ["w14"], [("BLMOVE", "s14", "w14", "LEFT", "LEFT", "0.1")]),
    ([("SADD", "s15", "a")], ["w15"], [("SUNIONSTORE", "w15", "s15", "t15")]),
    ([("SADD", "w16", "a")], ["w16"], [("SINTERSTORE", "w16", "s16", "t16")]),
    ([("SADD", "s17", "a")], ["w17"], [("SDIFFSTORE", "w17", "s17", "t17")]),
    ([("ZADD", "s18", "1", "a")], ["w18"], [("ZUNIONSTORE", "w18", "2", "s18", "t18")]),
    ([("ZADD", "w19", "1", "a")], ["w19"], [("ZINTERSTORE", "w19", "2", "s19", "t19")]),
    ([("ZADD", "s20", "1", "a")], ["w20"], [("ZDIFFSTORE", "w20", "2", "s20", "t20")]),
    ([("ZADD", "s21", "1", "a")], ["w21"], [("ZRANGESTORE", "w21", "s21", "0", "-1")]),
    ([("RPUSH", "s22", "3", "1")], ["w22"], [("SORT", "s22", "STORE", "w22")]),
    ([("PFADD", "s23", "a")], ["w23"], [("PFMERGE", "w23", "s23", "t23")]),
    ([("SET", "s24", "a")], ["w24"], [("BITOP", "OR", "w24", "s24", "t24")]),
    ([("SET", "w25", "a")], ["w25"], [("BITOP", "AND", "w25", "s25", "t25")]),
    ([("GEOADD", "s26", "13.36", "38.11", "p")], ["w26"],
     [("GEOSEARCHSTORE", "w26", "s26", "FROMLONLAT", "13.36", "38.11", "BYRADIUS", "10",
       "km")]),
    ([("RPUSH", "w27", "a", "b")], ["w27"], [("LMPOP", "3", "a27", "b27", "w27", "LEFT")]),
    ([("ZADD", "w28", "1", "a", "2", "b")], ["w28"], [("ZMPOP", "3", "a28", "b28", "w28", "MIN")]),
    ([], ["w29"], [("EVAL", MOVE_SCRIPT, "2", "a29", "w29")]),
    ([], ["w30"], [("MULTI",), ("SET", "a30", "1"), ("SET", "w30", "1"), ("EXEC",)]),
    ([("SET", "w31", "v")], ["w31"], [("MULTI",), ("DEL", "a31", "w31"), ("EXEC",)]),
    ([("SET", "w32", "v")], ["w32"], [("FLUSHDB",)]),
    ([("SET", "w33", "v")], ["w33"], [("SELECT", "1"), ("SET", "w33", "1"), ("SWAPDB", "0", "1")]),
    ([("SET", "w34", "v")], ["w34"], [("MOVE", "w34", "1")]),
    ([("SADD", "s35", "a"), ("SADD", "t35", "a")], ["w35"],
     [("SINTERSTORE", "w35", "s35", "t35")]),
    # blocking commands that find their element at once
    ([("RPUSH", "w36", "a", "b")], ["w36"], [("BLPOP", "a36", "w36", "0.1")]),
    ([("RPUSH", "w37", "a", "b")], ["w37"], [("BRPOP", "a37", "w37", "0.1")]),
    ([("RPUSH", "w38", "a", "b")], ["w38"], [("BLMPOP", "0.1", "2", "a38", "w38", "RIGHT")]),
    ([("ZADD", "w39", "1", "a", "2", "b")], ["w39"], [("BZPOPMIN", "a39", "w39", "0.1")]),
    ([("ZADD", "w40", "1", "a", "2", "b")], ["w40"], [("BZPOPMAX", "a40", "w40", "0.1")]),
    ([("ZADD", "w41", "1", "a", "2", "b")], ["w41"], [("BZMPOP", "0.1", "2", "a41", "w41", "MIN")]),
    ([("RPUSH", "w42", "a", "b")], ["w42"], [("BRPOPLPUSH", "w42", "d42", "0.1")]),
    ([("RPUSH", "s43", "a")], ["w43"], [("BRPOPLPUSH", "s43", "w43", "0.1")]),
    ([("RPUSH", "w44", "a", "b")], ["w44"], [("BLMOVE", "w44", "d44", "RIGHT", "LEFT", "0.1")]),
    # streams: entries change the key, and so does a group's MKSTREAM
    ([], ["w45"], [("XADD", "w45", "*", "f", "v")]),
    ([("XADD", "w46", "1-1", "f", "v")], ["w46"], [("XDEL", "w46", "1-1")]),
    ([("XADD", "w47", "1-1", "f", "v"), ("XADD", "w47", "2-1", "f", "v")], ["w47"],
     [("XTRIM", "w47", "MAXLEN", "1")]),
    ([], ["w48"], [("XGROUP", "CREATE", "w48", "g", "$", "MKSTREAM")]),
]

# A stream with entry 1-1 and group g (setups below use the key the test
# names: "x" is replaced).
STREAM = [("XADD", "x", "1-1", "f", "v"), ("XGROUP", "CREATE", "x", "g", "0")]

# Writes that change none of the WATCHed keys (all of them missing unless set
# up): Redis runs the EXEC after each.
NOOPS = [
    ([], ["a1", "b1", "c1"], [("DEL", "a1", "b1", "c1", "d1", "e1")]),
    ([("SET", "z2", "v")], ["a2", "b2", "c2"], [("DEL", "a2", "b2", "z2", "c2")]),
    ([], ["a3", "b3", "c3"], [("UNLINK", "a3", "b3", "c3", "d3")]),
    ([("SET", "c4", "v")], ["a4", "b4", "c4"], [("MSETNX", "a4", "1", "b4", "2", "c4", "3")]),
    ([], ["a5", "b5"], [("RENAME", "a5", "b5")]),
    ([("SET", "a6", "1"), ("SET", "b6", "2")], ["a6", "b6"], [("RENAMENX", "a6", "b6")]),
    ([("SET", "a7", "1"), ("SET", "b7", "2")], ["a7", "b7"], [("COPY", "a7", "b7")]),
    ([], ["a8", "b8"], [("COPY", "a8", "b8")]),
    ([("SADD", "a9", "m")], ["a9", "b9"], [("SMOVE", "a9", "b9", "zz")]),
    ([], ["a10", "b10"], [("SMOVE", "a10", "b10", "m")]),
    ([], ["a11", "b11"], [("LMOVE", "a11", "b11", "LEFT", "RIGHT")]),
    ([], ["a12", "b12"], [("RPOPLPUSH", "a12", "b12")]),
    ([], ["d13", "s13"], [("SUNIONSTORE", "d13", "s13", "t13")]),
    ([], ["d14", "s14"], [("SINTERSTORE", "d14", "s14", "t14")]),
    ([], ["d15", "s15"], [("SDIFFSTORE", "d15", "s15", "t15")]),
    ([], ["d16", "s16"], [("ZUNIONSTORE", "d16", "2", "s16", "t16")]),
    ([], ["d17"], [("ZINTERSTORE", "d17", "2", "s17", "t17")]),
    ([], ["d18"], [("ZDIFFSTORE", "d18", "2", "s18", "t18")]),
    ([], ["d19", "s19"], [("ZRANGESTORE", "d19", "s19", "0", "-1")]),
    ([], ["d20", "s20"], [("SORT", "s20", "STORE", "d20")]),
    ([], ["d21"], [("BITOP", "AND", "d21", "s21", "t21")]),
    ([], ["d22", "s22"],
     [("GEOSEARCHSTORE", "d22", "s22", "FROMLONLAT", "13.36", "38.11", "BYRADIUS", "10",
       "km")]),
    ([], ["a23", "b23"], [("LMPOP", "2", "a23", "b23", "LEFT")]),
    ([], ["a24", "b24"], [("ZMPOP", "2", "a24", "b24", "MAX")]),
    # the key popped from changes, not the others named
    ([("RPUSH", "z32", "x")], ["a32", "c32"], [("LMPOP", "3", "a32", "z32", "c32", "LEFT")]),
    ([("ZADD", "z33", "1", "x")], ["a33", "c33"], [("ZMPOP", "3", "a33", "z33", "c33", "MIN")]),
    ([("RPUSH", "z34", "x", "y")], ["a34"], [("BLMPOP", "0.1", "2", "a34", "z34", "LEFT")]),
    ([("ZADD", "z35", "1", "x", "2", "y")], ["a35"], [("BZMPOP", "0.1", "2", "a35", "z35", "MIN")]),
    ([("SET", "a25", "v")], ["a25", "b25"], [("EVAL", READ_SCRIPT, "2", "a25", "b25")]),
    ([], ["a26", "b26"], [("MULTI",), ("DEL", "a26", "b26"), ("LPOP", "c26"), ("EXEC",)]),
    ([], ["a27"], [("FLUSHALL",)]),
    ([("SET", "z28", "v")], ["a28"], [("FLUSHDB",)]),
    ([], ["a29"], [("SWAPDB", "0", "1")]),
    ([], ["a30"], [("MOVE", "a30", "1")]),
    ([("SET", "a31", "v")], ["a31"], [("SELECT", "1"), ("SET", "a31", "w"), ("MOVE", "a31", "0")]),
    # Redis 7.0 marks no WATCHer when a stream's consumer groups change
    (STREAM, ["x36"], [("XGROUP", "CREATE", "x36", "g2", "0")]),
    (STREAM, ["x37"], [("XGROUP", "SETID", "x37", "g", "0")]),
    (STREAM, ["x38"], [("XGROUP", "CREATECONSUMER", "x38", "g", "c9")]),
    (STREAM, ["x39"], [("XGROUP", "DELCONSUMER", "x39", "g", "c")]),
    (STREAM, ["x40"], [("XGROUP", "DESTROY", "x40", "g")]),
    (STREAM, ["x41"], [("XREADGROUP", "GROUP", "g", "c", "STREAMS", "x41", ">")]),
    (STREAM + [("XREADGROUP", "GROUP", "g", "c", "STREAMS", "x42", ">")], ["x42"],
     [("XACK", "x42", "g", "1-1")]),
    (STREAM + [("XREADGROUP", "GROUP", "g", "c", "STREAMS", "x43", ">")], ["x43"],
     [("XCLAIM", "x43", "g", "c2", "0", "1-1")]),
    (STREAM + [("XREADGROUP", "GROUP", "g", "c", "STREAMS", "x44", ">")], ["x44"],
     [("XAUTOCLAIM", "x44", "g", "c2", "0", "0")]),
    (STREAM, ["x45"], [("XSETID", "x45", "5-1")]),
]


class TestWatchCross(ServerTestCase):

    def run_table(self, table, aborts):
        o = Client(self.server.port)
        self._clients.append(o)
        wrong = []
        for setup, keys, cmds in table:
            o.cmd("FLUSHALL")
            o.cmd("SELECT", "0")
            for c in setup:
                c = tuple(keys[0] if a == "x" else a for a in c)  # STREAM's template
                self.assertNotIsInstance(o.cmd(*c), Error, c)
            self.r.cmd("WATCH", *keys)
            for c in cmds:
                reply = o.cmd(*c)
                if c[0] not in ("RENAME",):
                    self.assertNotIsInstance(reply, Error, c)
            o.cmd("SELECT", "0")
            self.r.cmd("MULTI")
            self.r.cmd("PING")
            ran = self.r.cmd("EXEC") == ["PONG"]
            if ran == aborts:
                wrong.append("%s: EXEC %s" % (cmds, "ran" if ran else "aborted"))
        self.assertEqual(wrong, [], "\n" + "\n".join(wrong))

    def test_writes_that_change_a_watched_key_abort_exec(self):
        self.run_table(CHANGES, aborts=True)

    def test_writes_that_change_no_watched_key_let_exec_run(self):
        self.run_table(NOOPS, aborts=False)


if __name__ == "__main__":
    unittest.main()
