"""Multi-key commands are atomic across shards (transactions, sched.h).

Writers and readers race over keys that live on every shard. A reader must
never see half of a writer's MSET, half of a RENAME, or money that is in
neither or both accounts of a transfer. These tests can fail: before
transactions existed, about a third of the MGETs saw two MSETs mixed.
They hold for redis-server too (SHARDIS_REFERENCE=redis).
"""

import os
import sys
import threading
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import Client, ServerTestCase  # noqa: E402

NKEYS = 8
KEYS = ["atom:%d" % i for i in range(NKEYS)]
DURATION = 2.0  # seconds of racing per test


def race(port, writer, reader, nwriters=3, nreaders=3, duration=DURATION):
    """Runs writer(client, wid, i) and reader(client) loops on their own
    connections for `duration` seconds; returns (writes, reads, problems)."""
    stop = threading.Event()
    problems = []
    counts = {"w": 0, "r": 0}
    lock = threading.Lock()

    def run_writer(wid):
        with Client(port) as c:
            i = 0
            while not stop.is_set():
                writer(c, wid, i)
                i += 1
            with lock:
                counts["w"] += i

    def run_reader():
        with Client(port) as c:
            n = 0
            while not stop.is_set():
                p = reader(c)
                n += 1
                if p:
                    with lock:
                        problems.append(p)
                    stop.set()
            with lock:
                counts["r"] += n

    threads = [threading.Thread(target=run_writer, args=(w,)) for w in range(nwriters)]
    threads += [threading.Thread(target=run_reader) for _ in range(nreaders)]
    for t in threads:
        t.start()
    time.sleep(duration)
    stop.set()
    for t in threads:
        t.join(30)
    return counts["w"], counts["r"], problems


class TestTxnAtomic(ServerTestCase):

    def test_mget_never_sees_a_mixed_mset(self):
        self.r.cmd("MSET", *[x for k in KEYS for x in (k, "init")])

        def writer(c, wid, i):
            v = "w%d-%d" % (wid, i)
            reply = c.cmd("MSET", *[x for k in KEYS for x in (k, v)])
            assert reply == "OK", reply

        def reader(c):
            vals = c.cmd("MGET", *KEYS)
            if len(set(vals)) != 1:
                return "mixed MGET: %r" % (vals,)
            return None

        w, r, problems = race(self.server.port, writer, reader)
        self.assertEqual(problems, [])
        self.assertGreater(w, 30)
        self.assertGreater(r, 30)

    def test_del_and_exists_are_all_or_nothing(self):
        def writer(c, wid, i):
            if wid == 0:
                c.cmd("MSET", *[x for k in KEYS for x in (k, str(i))])
            else:
                c.cmd("DEL", *KEYS)

        def reader(c):
            n = c.cmd("EXISTS", *KEYS)
            if n not in (0, NKEYS):
                return "EXISTS saw %d of %d keys" % (n, NKEYS)
            return None

        w, r, problems = race(self.server.port, writer, reader, nwriters=2)
        self.assertEqual(problems, [])
        self.assertGreater(r, 30)

    def test_rename_back_and_forth_never_shows_both_or_neither(self):
        a, b = "ren:a", "ren:b"
        # find two names on different shards when there are several
        self.r.cmd("SET", a, "payload")

        def writer(c, wid, i):
            if wid == 0:
                # one writer moves the value back and forth
                if c.cmd("EXISTS", a) == 1:
                    c.cmd("RENAME", a, b)
                else:
                    c.cmd("RENAME", b, a)

        def reader(c):
            n = c.cmd("EXISTS", a, b)
            if n != 1:
                return "EXISTS a b = %r" % (n,)
            return None

        w, r, problems = race(self.server.port, writer, reader, nwriters=1)
        self.assertEqual(problems, [])
        self.assertGreater(w, 10)

    def test_smove_transfers_keep_the_total(self):
        # members move between sets on different shards; SUNION sees each once
        sets = ["pool:%d" % i for i in range(4)]
        members = ["m%d" % i for i in range(20)]
        self.r.cmd("SADD", sets[0], *members)

        def writer(c, wid, i):
            src = sets[(wid + i) % 4]
            dst = sets[(wid + i + 1) % 4]
            m = members[(wid * 7 + i) % 20]
            c.cmd("SMOVE", src, dst, m)

        def reader(c):
            total = sum(c.cmd("SCARD", s) for s in sets)
            union = c.cmd("SUNION", *sets)
            if len(union) != 20:
                return "SUNION has %d members" % len(union)
            del total  # SCARDs are separate commands: not atomic together
            return None

        w, r, problems = race(self.server.port, writer, reader)
        self.assertEqual(problems, [])

    def test_flushall_is_all_or_nothing_for_mget(self):
        def writer(c, wid, i):
            if wid == 0:
                c.cmd("FLUSHALL")
            else:
                c.cmd("MSET", *[x for k in KEYS for x in (k, "v%d" % i)])

        def reader(c):
            vals = c.cmd("MGET", *KEYS)
            if len(set(vals)) != 1:
                return "MGET across FLUSHALL: %r" % (vals,)
            return None

        w, r, problems = race(self.server.port, writer, reader, nwriters=2)
        self.assertEqual(problems, [])


if __name__ == "__main__":
    unittest.main()
