"""Geo commands: GEOADD (NX XX CH), GEODIST, GEOHASH, GEOPOS, GEOSEARCH,
GEOSEARCHSTORE, GEORADIUS, GEORADIUSBYMEMBER and the _RO forms.

A geo set is a sorted set whose scores are 52-bit geohashes: the scores,
positions, distances and replies (RESP2 and RESP3 bytes) asserted here are
redis-server 7.0.15's. Searches over a grid of points (both encodings) are
checked against a brute-force scan computed here with Redis's haversine
formula over the positions GEOPOS reports. The store forms run with their
source and destination on different shards (many key names, SHARDIS_SHARDS=4)
and under a {hash tag}; and the keyspace events of the family.

Every test passes against redis-server 7.0.15 (SHARDIS_REFERENCE=redis).
"""

import math
import os
import sys
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import Map, ServerTestCase  # noqa: E402
from test_notifications import NotificationCase, ev, evs  # noqa: E402

WRONGTYPE = "WRONGTYPE Operation against a key holding the wrong kind of value"
SYNTAX = "ERR syntax error"
NOT_FLOAT = "ERR value is not a valid float"
NOT_INTEGER = "ERR value is not an integer or out of range"
DECODE = "ERR could not decode requested zset member"
UNIT = "ERR unsupported unit provided. please use M, KM, FT, MI"

SICILY = ["13.361389", "38.115556", "Palermo", "15.087269", "37.502669", "Catania",
          "12.758489", "38.788135", "edge1", "17.241510", "38.788135", "edge2"]

# Redis's geohash_helper.c, in Python (the same libm underneath)
EARTH_RADIUS = 6372797.560856
D_R = math.pi / 180.0


def distance(lon1, lat1, lon2, lat2):
    v = math.sin((lon2 * D_R - lon1 * D_R) / 2)
    if v == 0.0:
        return EARTH_RADIUS * abs(lat2 * D_R - lat1 * D_R)
    lat1r, lat2r = lat1 * D_R, lat2 * D_R
    u = math.sin((lat2r - lat1r) / 2)
    return 2.0 * EARTH_RADIUS * math.asin(math.sqrt(u * u + math.cos(lat1r) * math.cos(lat2r) * v * v))


class GeoCase(ServerTestCase):

    def resp3(self):
        c = self.client()
        self.assertIsInstance(c.cmd("HELLO", "3"), Map)
        return c

    def sicily(self, key="Sicily"):
        self.assertEqual(self.r.cmd("GEOADD", key, *SICILY), 4)


class TestGeoAdd(GeoCase):

    def test_scores_are_redis_geohashes(self):
        self.sicily()
        self.assertEqual(self.r.cmd("ZSCORE", "Sicily", "Palermo"), b"3479099956230698")
        self.assertEqual(self.r.cmd("ZSCORE", "Sicily", "Catania"), b"3479447370796909")
        self.assertEqual(self.r.cmd("TYPE", "Sicily"), "zset")
        self.assertEqual(self.r.cmd("OBJECT", "ENCODING", "Sicily"), b"listpack")
        # the corners of the map, the upper one past 52 bits as in Redis
        self.assertEqual(self.r.cmd("GEOADD", "c", "180", "85.05112878", "ne", "-180",
                                    "-85.05112878", "sw", "0", "0", "o"), 3)
        self.assertEqual(self.r.cmd("ZRANGE", "c", 0, -1, "WITHSCORES"),
                         [b"sw", b"0", b"o", b"3377699720527872", b"ne", b"13510798882111488"])

    def test_nx_xx_ch(self):
        self.sicily()
        self.assertEqual(self.r.cmd("GEOADD", "Sicily", "NX", "1", "1", "Palermo", "2", "2", "new"), 1)
        self.assertEqual(self.r.cmd("ZSCORE", "Sicily", "Palermo"), b"3479099956230698")
        self.assertEqual(self.r.cmd("GEOADD", "Sicily", "XX", "1", "1", "Palermo", "3", "3", "new2"), 0)
        self.assertIsNone(self.r.cmd("ZSCORE", "Sicily", "new2"))
        self.assertNotEqual(self.r.cmd("ZSCORE", "Sicily", "Palermo"), b"3479099956230698")
        self.assertEqual(self.r.cmd("GEOADD", "Sicily", "CH", "XX", "13.361389", "38.115556",
                                    "Palermo", "2", "2", "new"), 1)
        self.assertEqual(self.r.cmd("GEOADD", "Sicily", "CH", "2", "2", "new", "4", "4", "n4"), 1)
        self.assertEqual(self.r.cmd("GEOADD", "Sicily", "ch", "nx", "5", "5", "n4", "5", "5", "n5"), 1)
        self.assertEqual(self.r.cmd("GEOADD", "nokey", "XX", "1", "1", "a"), 0)
        self.assertEqual(self.r.cmd("EXISTS", "nokey"), 0)

    def test_errors(self):
        self.sicily()
        r = self.r
        self.assertError(r.cmd("GEOADD", "k", "NX", "XX", "1", "1", "a"), SYNTAX)
        self.assertError(r.cmd("GEOADD", "k", "GT", "1", "1", "a"), SYNTAX)
        self.assertError(r.cmd("GEOADD", "k", "1", "1", "a", "2"), SYNTAX)
        self.assertError(r.cmd("GEOADD", "k", "NX", "CH", "XX"), SYNTAX)
        self.assertError(r.cmd("GEOADD", "k", "1"), "ERR wrong number of arguments for 'geoadd' command")
        self.assertError(r.cmd("GEOADD", "k", "200", "100", "x"),
                         "ERR invalid longitude,latitude pair 200.000000,100.000000")
        self.assertError(r.cmd("GEOADD", "k", "1", "2", "a", "-180.5", "85.06", "x"),
                         "ERR invalid longitude,latitude pair -180.500000,85.060000")
        self.assertError(r.cmd("GEOADD", "k", "1", "85.0511288", "x"),
                         "ERR invalid longitude,latitude pair 1.000000,85.051129")
        self.assertEqual(r.cmd("EXISTS", "k"), 0)  # nothing added when one pair is bad
        self.assertError(r.cmd("GEOADD", "k", "1", "abc", "x"), NOT_FLOAT)
        self.assertError(r.cmd("GEOADD", "k", "nan", "1", "x"), NOT_FLOAT)
        self.assertError(r.cmd("GEOADD", "k", " 1", "1", "x"), NOT_FLOAT)
        r.cmd("SET", "s", "v")
        self.assertError(r.cmd("GEOADD", "s", "1", "1", "x"), WRONGTYPE)
        # the coordinates are checked before the key's type
        self.assertError(r.cmd("GEOADD", "s", "1", "100", "x"),
                         "ERR invalid longitude,latitude pair 1.000000,100.000000")

    def test_big_set_is_a_skiplist(self):
        args = []
        for i in range(200):
            args += ["%.6f" % (i * 0.01), "%.6f" % (i * 0.005), "m%d" % i]
        self.assertEqual(self.r.cmd("GEOADD", "big", *args), 200)
        self.assertEqual(self.r.cmd("OBJECT", "ENCODING", "big"), b"skiplist")
        self.assertEqual(self.r.cmd("GEOADD", "long", "1", "1", "x" * 100), 1)
        self.assertEqual(self.r.cmd("OBJECT", "ENCODING", "long"), b"skiplist")


class TestGeoReads(GeoCase):

    def setUp(self):
        super().setUp()
        self.sicily()

    def test_geopos(self):
        self.assertEqual(self.r.raw("GEOPOS", "Sicily", "edge1", "nope", "edge2"),
                         b"*3\r\n*2\r\n$19\r\n12.7584877610206604\r\n$20\r\n38.78813451624225195\r\n"
                         b"*-1\r\n*2\r\n$20\r\n17.24151045083999634\r\n$20\r\n38.78813451624225195\r\n")
        self.assertEqual(self.resp3().raw("GEOPOS", "Sicily", "edge1", "nope"),
                         b"*2\r\n*2\r\n,12.7584877610206604\r\n,38.78813451624225195\r\n_\r\n")
        self.assertEqual(self.r.cmd("GEOPOS", "nokey", "a", "b"), [None, None])
        self.assertEqual(self.r.cmd("GEOPOS", "Sicily"), [])

    def test_geopos_of_scores_no_geoadd_makes(self):
        # decoded as on x86-64 redis-server, clamped to the map
        self.r.cmd("ZADD", "z", "-1", "a", "1e30", "b", "-inf", "c", "0", "d")
        self.assertEqual(self.r.cmd("GEOPOS", "z", "a", "b", "c", "d"), [
            [b"180", b"85.0511287799999991"],
            [b"-179.99999731779098511", b"-85.05112751263942528"],
            [b"180", b"-85.05112751263942528"],
            [b"-179.99999731779098511", b"-85.05112751263942528"]])
        self.assertEqual(self.r.cmd("GEOHASH", "z", "a", "b"), [b"bp05b5048p0", b"00bh0hbj200"])

    def test_geohash(self):
        self.assertEqual(self.r.raw("GEOHASH", "Sicily", "Palermo", "edge1", "edge2", "nope"),
                         b"*4\r\n$11\r\nsqc8b49rny0\r\n$11\r\nsqchdm4mq20\r\n$11\r\nsquk8m4vk20\r\n$-1\r\n")
        self.assertEqual(self.resp3().raw("GEOHASH", "Sicily", "nope", "Palermo"),
                         b"*2\r\n_\r\n$11\r\nsqc8b49rny0\r\n")
        self.assertEqual(self.r.cmd("GEOHASH", "nokey", "a"), [None])

    def test_geodist(self):
        r = self.r
        self.assertEqual(r.raw("GEODIST", "Sicily", "Palermo", "Catania"), b"$11\r\n166274.1516\r\n")
        self.assertEqual(r.cmd("GEODIST", "Sicily", "Palermo", "Catania", "km"), b"166.2742")
        self.assertEqual(r.cmd("GEODIST", "Sicily", "Palermo", "Catania", "KM"), b"166.2742")
        self.assertEqual(r.cmd("GEODIST", "Sicily", "Palermo", "Catania", "M"), b"166274.1516")
        self.assertEqual(r.cmd("GEODIST", "Sicily", "Palermo", "Catania", "ft"), b"545518.8700")
        self.assertEqual(r.cmd("GEODIST", "Sicily", "Palermo", "Catania", "mi"), b"103.3182")
        self.assertEqual(r.cmd("GEODIST", "Sicily", "Palermo", "Palermo"), b"0.0000")
        self.assertIsNone(r.cmd("GEODIST", "Sicily", "Palermo", "nope"))
        self.assertIsNone(r.cmd("GEODIST", "nokey", "a", "b"))
        c3 = self.resp3()
        self.assertEqual(c3.raw("GEODIST", "Sicily", "Palermo", "Catania"), b"$11\r\n166274.1516\r\n")
        self.assertEqual(c3.raw("GEODIST", "Sicily", "Palermo", "nope"), b"_\r\n")
        self.assertError(r.cmd("GEODIST", "Sicily", "Palermo", "Catania", "parsec"), UNIT)
        self.assertError(r.cmd("GEODIST", "Sicily", "Palermo", "Catania", "km", "x"), SYNTAX)
        # the unit is checked before the key
        self.assertError(r.cmd("GEODIST", "nokey", "a", "b", "yd"), UNIT)
        r.cmd("SET", "s", "v")
        for args in (("GEODIST", "s", "a", "b"), ("GEOPOS", "s", "a"), ("GEOHASH", "s", "a")):
            self.assertError(r.cmd(*args), WRONGTYPE)


class TestGeoSearch(GeoCase):

    def setUp(self):
        super().setUp()
        self.sicily()

    def test_search_with_everything_resp2_and_resp3(self):
        args = ("GEOSEARCH", "Sicily", "FROMLONLAT", "15", "37", "BYRADIUS", "200", "km", "ASC",
                "WITHCOORD", "WITHDIST", "WITHHASH")
        self.assertEqual(self.r.raw(*args),
                         b"*2\r\n*4\r\n$7\r\nCatania\r\n$7\r\n56.4413\r\n:3479447370796909\r\n"
                         b"*2\r\n$20\r\n15.08726745843887329\r\n$20\r\n37.50266842333162032\r\n"
                         b"*4\r\n$7\r\nPalermo\r\n$8\r\n190.4424\r\n:3479099956230698\r\n"
                         b"*2\r\n$20\r\n13.36138933897018433\r\n$20\r\n38.11555639549629859\r\n")
        self.assertEqual(self.resp3().raw(*args),
                         b"*2\r\n*4\r\n$7\r\nCatania\r\n$7\r\n56.4413\r\n:3479447370796909\r\n"
                         b"*2\r\n,15.08726745843887329\r\n,37.50266842333162032\r\n"
                         b"*4\r\n$7\r\nPalermo\r\n$8\r\n190.4424\r\n:3479099956230698\r\n"
                         b"*2\r\n,13.36138933897018433\r\n,38.11555639549629859\r\n")

    def test_box_member_order_and_count(self):
        r = self.r
        self.assertEqual(r.cmd("GEOSEARCH", "Sicily", "FROMLONLAT", "15", "37", "BYBOX", "400", "400",
                               "km", "ASC", "WITHDIST"),
                         [[b"Catania", b"56.4413"], [b"Palermo", b"190.4424"],
                          [b"edge2", b"279.7403"], [b"edge1", b"279.7405"]])
        self.assertEqual(sorted(r.cmd("GEOSEARCH", "Sicily", "FROMLONLAT", "15", "37", "BYBOX",
                                      "400", "400", "km")),
                         [b"Catania", b"Palermo", b"edge1", b"edge2"])
        self.assertEqual(r.cmd("GEOSEARCH", "Sicily", "FROMLONLAT", "15", "37", "BYBOX", "200", "400",
                               "km", "ASC"), [b"Catania"])
        self.assertEqual(r.cmd("GEOSEARCH", "Sicily", "FROMMEMBER", "Palermo", "BYRADIUS", "200", "km",
                               "DESC", "WITHDIST"),
                         [[b"Catania", b"166.2742"], [b"edge1", b"91.4007"], [b"Palermo", b"0.0000"]])
        self.assertEqual(r.cmd("GEOSEARCH", "Sicily", "FROMLONLAT", "15", "37", "BYRADIUS", "300", "mi",
                               "DESC", "COUNT", "2"), [b"edge1", b"edge2"])
        # COUNT alone sorts nearest first
        self.assertEqual(r.cmd("GEOSEARCH", "Sicily", "FROMLONLAT", "15", "37", "BYRADIUS", "300", "mi",
                               "COUNT", "2"), [b"Catania", b"Palermo"])
        any1 = r.cmd("GEOSEARCH", "Sicily", "FROMLONLAT", "15", "37", "BYRADIUS", "300", "mi",
                     "COUNT", "1", "ANY")
        self.assertEqual(len(any1), 1)
        self.assertIn(any1[0], [b"Catania", b"Palermo", b"edge1", b"edge2"])
        self.assertEqual(r.cmd("GEOSEARCH", "Sicily", "FROMLONLAT", "15", "37", "BYRADIUS", "1", "m"), [])
        self.assertEqual(r.cmd("GEOSEARCH", "Sicily", "FROMMEMBER", "edge2", "BYRADIUS", "0", "m"),
                         [b"edge2"])

    def test_georadius_forms(self):
        r = self.r
        self.assertEqual(r.cmd("GEORADIUS", "Sicily", "15", "37", "200", "km", "WITHDIST", "ASC"),
                         [[b"Catania", b"56.4413"], [b"Palermo", b"190.4424"]])
        self.assertEqual(r.cmd("GEORADIUS_RO", "Sicily", "15", "37", "200", "km", "WITHDIST", "ASC"),
                         [[b"Catania", b"56.4413"], [b"Palermo", b"190.4424"]])
        self.assertEqual(r.cmd("GEORADIUSBYMEMBER", "Sicily", "Palermo", "300", "km", "ASC", "WITHDIST"),
                         [[b"Palermo", b"0.0000"], [b"edge1", b"91.4007"], [b"Catania", b"166.2742"]])
        self.assertEqual(r.cmd("GEORADIUSBYMEMBER_RO", "Sicily", "Palermo", "300", "km", "DESC",
                               "COUNT", "1"), [b"Catania"])
        self.assertEqual(r.cmd("GEORADIUS", "nokey", "15", "37", "200", "km"), [])
        self.assertEqual(r.cmd("GEORADIUSBYMEMBER", "nokey", "x", "200", "km"), [])
        self.assertEqual(r.cmd("GEOSEARCH", "nokey", "FROMMEMBER", "x", "BYRADIUS", "1", "km"), [])

    def test_errors(self):
        r = self.r
        cases = [
            (("GEOSEARCH", "Sicily", "FROMMEMBER", "Palermo", "BYRADIUS", "10", "km", "BYBOX", "1", "1",
              "km"), SYNTAX),
            (("GEOSEARCH", "Sicily", "FROMMEMBER", "Palermo", "FROMLONLAT", "1", "1", "BYRADIUS", "10",
              "km"), SYNTAX),
            (("GEOSEARCH", "Sicily", "WITHDIST", "WITHHASH", "BYRADIUS", "10", "km"),
             "ERR exactly one of FROMMEMBER or FROMLONLAT can be specified for GEOSEARCH"),
            (("geosearch", "Sicily", "withdist", "withhash", "byradius", "10", "km"),
             "ERR exactly one of FROMMEMBER or FROMLONLAT can be specified for geosearch"),
            (("GEOSEARCH", "Sicily", "FROMLONLAT", "1", "1", "WITHDIST", "ASC"),
             "ERR exactly one of BYRADIUS and BYBOX can be specified for GEOSEARCH"),
            (("GEOSEARCHSTORE", "d", "Sicily", "FROMMEMBER", "Palermo", "BYRADIUS", "10", "km",
              "WITHDIST"),
             "ERR GEOSEARCHSTORE is not compatible with WITHDIST, WITHHASH and WITHCOORD options"),
            (("GEORADIUS", "Sicily", "15", "37", "200", "km", "WITHDIST", "STORE", "d"),
             "ERR STORE option in GEORADIUS is not compatible with WITHDIST, WITHHASH and WITHCOORD "
             "options"),
            (("GEORADIUS_RO", "Sicily", "15", "37", "200", "km", "STORE", "d"), SYNTAX),
            (("GEORADIUSBYMEMBER_RO", "Sicily", "Palermo", "200", "km", "STOREDIST", "d"), SYNTAX),
            (("GEORADIUS", "Sicily", "15", "37", "-1", "km"), "ERR radius cannot be negative"),
            (("GEORADIUS", "Sicily", "15", "37", "abc", "km"), "ERR need numeric radius"),
            (("GEORADIUS", "Sicily", "15", "37", "1", "parsec"), UNIT),
            (("GEORADIUS", "Sicily", "15", "91", "1", "km"),
             "ERR invalid longitude,latitude pair 15.000000,91.000000"),
            (("GEOSEARCH", "Sicily", "FROMLONLAT", "15", "37", "BYBOX", "-1", "2", "km"),
             "ERR height or width cannot be negative"),
            (("GEOSEARCH", "Sicily", "FROMLONLAT", "15", "37", "BYBOX", "a", "2", "km"),
             "ERR need numeric width"),
            (("GEOSEARCH", "Sicily", "FROMLONLAT", "15", "37", "BYBOX", "1", "b", "km"),
             "ERR need numeric height"),
            (("GEORADIUSBYMEMBER", "Sicily", "nope", "abc", "km"), DECODE),
            (("GEOSEARCH", "Sicily", "FROMMEMBER", "nope", "BYRADIUS", "1", "km"), DECODE),
            (("GEOSEARCH", "Sicily", "FROMLONLAT", "15", "37", "BYRADIUS", "200", "km", "COUNT", "x"),
             NOT_INTEGER),
            (("GEOSEARCH", "Sicily", "FROMLONLAT", "15", "37", "BYRADIUS", "200", "km", "COUNT"), SYNTAX),
            (("GEOSEARCH", "Sicily", "FROMLONLAT", "15", "37", "BYRADIUS", "200", "km", "COUNT", "0"),
             "ERR COUNT must be > 0"),
            (("GEOSEARCH", "Sicily", "FROMLONLAT", "15", "37", "BYRADIUS", "200", "km", "COUNT", "-3"),
             "ERR COUNT must be > 0"),
            (("GEOSEARCH", "Sicily", "FROMLONLAT", "15", "37", "BYRADIUS", "200", "km", "ANY"),
             "ERR the ANY argument requires COUNT argument"),
            (("GEOSEARCH", "Sicily", "FROMLONLAT", "15", "37", "BYRADIUS", "200", "km", "STOREDIST"),
             SYNTAX),
            (("GEOSEARCH", "Sicily", "FROMLONLAT", "15", "37", "BYRADIUS", "200", "km", "STORE", "d"),
             SYNTAX),
            (("GEOSEARCHSTORE", "d", "Sicily", "FROMLONLAT", "15", "37", "BYRADIUS", "200", "km",
              "STORE", "x"), SYNTAX),
            (("GEOSEARCH", "Sicily", "FROMLONLAT", "15", "37", "BYRADIUS", "200", "km", "BOGUS"), SYNTAX),
            # with no source key the radius is still read, the member is not
            (("GEOSEARCH", "nokey", "FROMMEMBER", "x", "BYRADIUS", "abc", "km"), "ERR need numeric radius"),
            (("GEOSEARCH", "nokey", "FROMLONLAT", "1", "abc", "BYRADIUS", "abc", "km"), NOT_FLOAT),
            (("GEOSEARCH", "Sicily", "BYRADIUS", "10", "km"),
             "ERR wrong number of arguments for 'geosearch' command"),
        ]
        for args, err in cases:
            self.assertError(r.cmd(*args), err)
        # GEORADIUSBYMEMBER on a missing key reads neither member nor radius
        self.assertEqual(r.cmd("GEORADIUSBYMEMBER", "nokey", "nope", "abc", "km"), [])
        r.cmd("SET", "s", "v")
        # the type is checked before any argument
        self.assertError(r.cmd("GEOSEARCH", "s", "FROMLONLAT", "1", "1", "BYRADIUS", "-1", "km"), WRONGTYPE)
        self.assertError(r.cmd("GEORADIUS", "s", "1", "100", "1", "km"), WRONGTYPE)
        self.assertError(r.cmd("GEOSEARCHSTORE", "d", "s", "FROMLONLAT", "1", "1", "BYRADIUS", "1", "km"),
                         WRONGTYPE)

    def grid(self, key, n):
        """n points on a grid near (10, 45); their positions as GEOPOS
        reports them."""
        args = []
        for i in range(n):
            args += ["%.6f" % (10 + (i % 20) * 0.037 + i * 0.0001), "%.6f" % (45 + (i // 20) * 0.029),
                     "p%d" % i]
        self.assertEqual(self.r.cmd("GEOADD", key, *args), n)
        names = ["p%d" % i for i in range(n)]
        pos = self.r.cmd("GEOPOS", key, *names)
        return {name.encode(): (float(p[0]), float(p[1])) for name, p in zip(names, pos)}

    def check_grid(self, key, n):
        points = self.grid(key, n)
        for (lon, lat, radius) in [(10.3, 45.1, 15000), (10.0, 45.0, 5000), (10.5, 45.2, 40000),
                                   (9.5, 44.5, 80000)]:
            want = sorted((distance(lon, lat, x, y), m) for m, (x, y) in points.items()
                          if distance(lon, lat, x, y) <= radius)
            got = self.r.cmd("GEOSEARCH", key, "FROMLONLAT", repr(lon), repr(lat), "BYRADIUS",
                             str(radius), "m", "ASC", "WITHDIST")
            self.assertEqual(sorted(m for m, _ in got), sorted(m for _, m in want))
            for m, d in got:
                self.assertEqual(d, b"%.4f" % distance(lon, lat, *points[m]))
            dists = [float(d) for _, d in got]
            self.assertEqual(dists, sorted(dists))
            desc = self.r.cmd("GEOSEARCH", key, "FROMLONLAT", repr(lon), repr(lat), "BYRADIUS",
                              str(radius), "m", "DESC", "WITHDIST", "COUNT", "5")
            self.assertEqual(desc, sorted(got, key=lambda p: -float(p[1]))[:5])
        # a box: half a side east-west along the point's parallel, north-south
        # along its meridian
        w, h = 30000, 20000
        want = sorted(m for m, (x, y) in points.items()
                      if abs(y * D_R - 45.2 * D_R) * EARTH_RADIUS <= h / 2
                      and distance(x, y, 10.3, y) <= w / 2)
        got = self.r.cmd("GEOSEARCH", key, "FROMLONLAT", "10.3", "45.2", "BYBOX", "30", "20", "km")
        self.assertEqual(sorted(got), want)

    def test_search_matches_a_scan_listpack(self):
        self.check_grid("small", 100)
        self.assertEqual(self.r.cmd("OBJECT", "ENCODING", "small"), b"listpack")

    def test_search_matches_a_scan_skiplist(self):
        self.check_grid("large", 600)
        self.assertEqual(self.r.cmd("OBJECT", "ENCODING", "large"), b"skiplist")

    def test_integer_members_and_ties(self):
        # integer members (listpack integers) and points at the same place
        self.assertEqual(self.r.cmd("GEOADD", "t", "1", "1", "10", "1", "1", "-5", "1", "1", "abc",
                                    "1.001", "1", "7"), 4)
        self.assertEqual(self.r.cmd("GEOSEARCH", "t", "FROMLONLAT", "1", "1", "BYRADIUS", "1", "km",
                                    "ASC", "WITHDIST"),
                         [[b"-5", b"0.0001"], [b"10", b"0.0001"], [b"abc", b"0.0001"],
                          [b"7", b"0.1110"]])
        self.assertEqual(self.r.cmd("GEOSEARCH", "t", "FROMLONLAT", "1", "1", "BYRADIUS", "1", "km",
                                    "DESC"), [b"7", b"-5", b"10", b"abc"])


class TestGeoStore(GeoCase):

    KEYS = ["dst%d" % i for i in range(8)]

    def test_geosearchstore(self):
        self.sicily()
        for dst in self.KEYS:
            self.assertEqual(self.r.cmd("GEOSEARCHSTORE", dst, "Sicily", "FROMLONLAT", "15", "37",
                                        "BYBOX", "400", "400", "km", "ASC", "COUNT", "3",
                                        "STOREDIST"), 3)
            self.assertEqual(self.r.cmd("ZRANGE", dst, 0, -1, "WITHSCORES"),
                             [b"Catania", b"56.441257870158204", b"Palermo", b"190.44242984775784",
                              b"edge2", b"279.7403417843143"])
            self.assertEqual(self.r.cmd("GEOSEARCHSTORE", dst, "Sicily", "FROMMEMBER", "Palermo",
                                        "BYRADIUS", "100", "km"), 2)
            self.assertEqual(self.r.cmd("ZRANGE", dst, 0, -1, "WITHSCORES"),
                             [b"Palermo", b"3479099956230698", b"edge1", b"3479273021651468"])

    def test_georadius_store_and_storedist(self):
        self.sicily()
        for dst in self.KEYS:
            self.assertEqual(self.r.cmd("GEORADIUS", "Sicily", "15", "37", "200", "km", "STORE", dst), 2)
            self.assertEqual(self.r.cmd("ZRANGE", dst, 0, -1, "WITHSCORES"),
                             [b"Palermo", b"3479099956230698", b"Catania", b"3479447370796909"])
            self.assertEqual(self.r.cmd("GEORADIUSBYMEMBER", "Sicily", "Palermo", "200", "km",
                                        "STOREDIST", dst), 3)
            self.assertEqual(self.r.cmd("ZRANGE", dst, 0, -1, "WITHSCORES"),
                             [b"Palermo", b"0", b"edge1", b"91.400658605814272",
                              b"Catania", b"166.27415156960032"])
            # the last of STORE / STOREDIST wins
            self.assertEqual(self.r.cmd("GEORADIUS", "Sicily", "15", "37", "200", "km", "STOREDIST",
                                        "x" + dst, "STORE", dst), 2)
            self.assertEqual(self.r.cmd("ZSCORE", dst, "Catania"), b"3479447370796909")
            self.assertEqual(self.r.cmd("EXISTS", "x" + dst), 0)
        self.assertEqual(self.r.cmd("OBJECT", "ENCODING", self.KEYS[0]), b"listpack")

    def test_store_replaces_and_deletes(self):
        self.sicily()
        for dst in self.KEYS:
            self.r.cmd("SET", dst, "string")
            self.r.cmd("EXPIRE", dst, "100")
            self.assertEqual(self.r.cmd("GEOSEARCHSTORE", dst, "Sicily", "FROMLONLAT", "15", "37",
                                        "BYRADIUS", "100", "km"), 1)
            self.assertEqual(self.r.cmd("TYPE", dst), "zset")
            self.assertEqual(self.r.cmd("TTL", dst), -1)
            # nothing found: the destination goes
            self.assertEqual(self.r.cmd("GEOSEARCHSTORE", dst, "Sicily", "FROMLONLAT", "0", "0",
                                        "BYRADIUS", "1", "km"), 0)
            self.assertEqual(self.r.cmd("EXISTS", dst), 0)
            self.r.cmd("SET", dst, "string")
            # no source: the destination goes too
            self.assertEqual(self.r.cmd("GEORADIUS", "nokey", "0", "0", "1", "km", "STORE", dst), 0)
            self.assertEqual(self.r.cmd("EXISTS", dst), 0)
            self.r.cmd("SET", dst, "string")
            self.assertEqual(self.r.cmd("GEORADIUSBYMEMBER", "nokey", "x", "abc", "km", "STORE", dst), 0)
            self.assertEqual(self.r.cmd("EXISTS", dst), 0)
            # errors leave it alone
            self.r.cmd("SET", dst, "string")
            self.assertError(self.r.cmd("GEOSEARCHSTORE", dst, "Sicily", "FROMMEMBER", "nope",
                                        "BYRADIUS", "1", "km"), DECODE)
            self.r.cmd("SET", "s", "v")
            self.assertError(self.r.cmd("GEORADIUS", "s", "0", "0", "1", "km", "STORE", dst), WRONGTYPE)
            self.assertEqual(self.r.cmd("GET", dst), b"string")

    def test_store_into_the_source(self):
        self.sicily()
        self.assertEqual(self.r.cmd("GEOSEARCHSTORE", "Sicily", "Sicily", "FROMLONLAT", "15", "37",
                                    "BYRADIUS", "100", "km", "STOREDIST"), 1)
        self.assertEqual(self.r.cmd("ZRANGE", "Sicily", 0, -1, "WITHSCORES"),
                         [b"Catania", b"56.441257870158204"])

    def test_hash_tag_and_a_later_store(self):
        self.sicily("{t}src")
        # STORE a STORE b: b, the last, is the destination
        self.assertEqual(self.r.cmd("GEORADIUS", "{t}src", "15", "37", "200", "km", "STORE", "{t}a",
                                    "STORE", "{t}b"), 2)
        self.assertEqual(self.r.cmd("EXISTS", "{t}a", "{t}b"), 1)
        self.assertEqual(self.r.cmd("ZCARD", "{t}b"), 2)

    def test_big_store_is_a_skiplist(self):
        args = []
        for i in range(300):
            args += ["%.6f" % (20 + i * 0.001), "%.6f" % (10 + i * 0.0007), "m%d" % i]
        self.r.cmd("GEOADD", "big", *args)
        for dst in self.KEYS[:4]:
            self.assertEqual(self.r.cmd("GEOSEARCHSTORE", dst, "big", "FROMLONLAT", "20", "10",
                                        "BYRADIUS", "500", "km"), 300)
            self.assertEqual(self.r.cmd("OBJECT", "ENCODING", dst), b"skiplist")
            self.assertEqual(self.r.cmd("ZRANGE", dst, 0, -1, "WITHSCORES"),
                             self.r.cmd("ZRANGE", "big", 0, -1, "WITHSCORES"))
            self.assertEqual(self.r.cmd("GEOSEARCHSTORE", dst, "big", "FROMLONLAT", "20", "10",
                                        "BYRADIUS", "500", "km", "COUNT", "100", "STOREDIST"), 100)
            self.assertEqual(self.r.cmd("ZCARD", dst), 100)
            self.assertEqual(self.r.cmd("OBJECT", "ENCODING", dst), b"listpack")
            self.assertEqual(self.r.cmd("ZRANGE", dst, 0, 0), [b"m0"])
            self.assertEqual(self.r.cmd("ZRANGE", dst, -1, -1), [b"m99"])


class TestGeoEvents(NotificationCase):
    server_args = ("--notify-keyspace-events", "KEA")

    def test_geoadd_is_zadd(self):
        self.check(("GEOADD", "g", "1", "1", "a"), 1, ev("zadd", "g"))
        self.check(("GEOADD", "g", "CH", "2", "2", "a"), 1, ev("zadd", "g"))
        self.check(("GEOADD", "g", "NX", "3", "3", "a"), 0, [])
        self.check(("GEOADD", "g", "XX", "2", "2", "a"), 0, [])
        self.check(("GEOADD", "n", "XX", "2", "2", "a"), 0, [])

    def test_store_events(self):
        self.r.cmd("GEOADD", "{g}src", *SICILY)
        self.collect(2)
        self.check(("GEOSEARCHSTORE", "{g}d", "{g}src", "FROMLONLAT", "15", "37", "BYRADIUS", "100",
                    "km"), 1, ev("geosearchstore", "{g}d"))
        self.check(("GEORADIUS", "{g}src", "15", "37", "100", "km", "STORE", "{g}d"), 1,
                   ev("georadiusstore", "{g}d"))
        self.check(("GEORADIUSBYMEMBER", "{g}src", "Palermo", "1", "km", "STOREDIST", "{g}d"), 1,
                   ev("georadiusstore", "{g}d"))
        self.check(("GEOSEARCHSTORE", "{g}d", "{g}src", "FROMLONLAT", "0", "0", "BYRADIUS", "1",
                    "km"), 0, ev("del", "{g}d"))
        self.check(("GEOSEARCHSTORE", "{g}d", "{g}src", "FROMLONLAT", "0", "0", "BYRADIUS", "1",
                    "km"), 0, [])

    def test_store_events_across_keys(self):
        self.r.cmd("GEOADD", "src", *SICILY)
        self.collect(2)
        for dst in ("d1", "d2", "d3", "d4"):
            self.check(("GEOSEARCHSTORE", dst, "src", "FROMLONLAT", "15", "37", "BYRADIUS", "100",
                        "km"), 1, ev("geosearchstore", dst))
            self.check(("GEORADIUS", "nokey", "15", "37", "100", "km", "STORE", dst), 0,
                       ev("del", dst))


if __name__ == "__main__":
    unittest.main()
