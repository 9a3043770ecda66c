"""Bitmaps and geo sets move between a live redis-server and this server.

A bitmap is a string and a geo set a sorted set whose scores are Redis's
52-bit geohashes: a value written by one server, copied with GET/SET or
ZRANGE WITHSCORES/ZADD, must read the same on the other, both ways. (HLL
strings are exchanged in test_hll.py, function payloads in
test_function.py.) Skipped in reference mode and when /usr/bin/redis-server
(SHARDIS_REDIS_BIN) is missing.
"""

import os
import random
import sys
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import LiveRedisTestCase  # noqa: E402


class ValueInterop(LiveRedisTestCase):

    def bitmap_reads(self, c, key, size):
        probes = [("BITCOUNT", key), ("BITCOUNT", key, "3", "-7"),
                  ("BITCOUNT", key, "5", "900", "BIT"), ("BITPOS", key, "1"),
                  ("BITPOS", key, "0", "2"), ("BITPOS", key, "1", "7", "-1", "BIT"),
                  ("BITFIELD_RO", key, "GET", "u8", "0", "GET", "i13", "#3", "GET", "u63", "11")]
        probes += [("GETBIT", key, str(i)) for i in range(0, size * 8, 37)]
        return [c.cmd(*p) for p in probes]

    def test_bitmaps_both_ways(self):
        rnd = random.Random(11)
        for src, dst in ((self.ref, self.r), (self.r, self.ref)):
            for key in ("bm:a", "bm:b", "bm:c"):
                src.cmd("DEL", key)
                for _ in range(200):
                    src.cmd("SETBIT", key, str(rnd.randrange(8 * 600)), str(rnd.randrange(2)))
                src.cmd("BITFIELD", key, "SET", "i17", "#9", "-1234", "INCRBY", "u5", "100", "7",
                        "OVERFLOW", "SAT", "INCRBY", "i8", "333", "200")
                value = src.cmd("GET", key)
                self.assertOK(dst.cmd("SET", key, value))
                self.assertEqual(self.bitmap_reads(dst, key, len(value)),
                                 self.bitmap_reads(src, key, len(value)), key)
            # BITOP over the copies gives the same bytes on both servers
            for c in (src, dst):
                c.cmd("BITOP", "XOR", "bm:x", "bm:a", "bm:b", "bm:c")
            self.assertEqual(dst.cmd("GET", "bm:x"), src.cmd("GET", "bm:x"))

    def geo_reads(self, c, key, members):
        out = [c.cmd("GEOPOS", key, *members), c.cmd("GEOHASH", key, *members)]
        for a, b in zip(members, members[1:]):
            out.append(c.cmd("GEODIST", key, a, b, "km"))
        out.append(c.cmd("GEOSEARCH", key, "FROMLONLAT", "13.4", "52.5", "BYRADIUS", "800", "km",
                         "ASC", "WITHDIST", "WITHCOORD", "WITHHASH"))
        out.append(c.cmd("GEOSEARCH", key, "FROMMEMBER", members[0], "BYBOX", "1500", "900",
                         "km", "DESC", "COUNT", "5"))
        return out

    def test_geo_sets_both_ways(self):
        rnd = random.Random(5)
        members = ["m%d" % i for i in range(40)]
        for src, dst in ((self.ref, self.r), (self.r, self.ref)):
            src.cmd("DEL", "geo")
            dst.cmd("DEL", "geo")
            args = []
            for m in members:
                args += ["%.6f" % rnd.uniform(-10, 30), "%.6f" % rnd.uniform(35, 65), m]
            self.assertEqual(src.cmd("GEOADD", "geo", *args), len(members))
            flat = src.cmd("ZRANGE", "geo", "0", "-1", "WITHSCORES")
            pairs = []
            for m, score in zip(flat[0::2], flat[1::2]):
                pairs += [score, m]
            self.assertEqual(dst.cmd("ZADD", "geo", *pairs), len(members))
            # the same scores, so the same positions, hashes, distances, searches
            self.assertEqual(dst.cmd("ZRANGE", "geo", "0", "-1", "WITHSCORES"), flat)
            self.assertEqual(self.geo_reads(dst, "geo", members[:8]),
                             self.geo_reads(src, "geo", members[:8]))


if __name__ == "__main__":
    unittest.main()
