"""redis-benchmark against the server, without and with pipelining."""

import csv
import io
import os
import re
import shutil
import subprocess
import sys
import unittest

sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))),
                                "integration"))
from harness import ServerTestCase  # noqa: E402

REDIS_BENCHMARK = os.environ.get("REDIS_BENCHMARK",
                                 shutil.which("redis-benchmark") or "/usr/bin/redis-benchmark")
REQUESTS = 20000
TESTS = "ping,set,get,incr,mset"
# What redis-benchmark 7.0 names its tests in the output.
TEST_NAMES = ["PING_INLINE", "PING_MBULK", "SET", "GET", "INCR", "MSET (10 keys)"]


@unittest.skipUnless(os.access(REDIS_BENCHMARK, os.X_OK), "redis-benchmark not installed")
class TestRedisBenchmark(ServerTestCase):

    def benchmark(self, *args):
        argv = [REDIS_BENCHMARK, "-h", "127.0.0.1", "-p", str(self.port)] + list(args)
        proc = subprocess.run(argv, capture_output=True, timeout=120)
        out = proc.stdout.decode("utf-8", "replace")
        err = proc.stderr.decode("utf-8", "replace")
        self.assertEqual(proc.returncode, 0, "redis-benchmark failed:\n%s\n%s" % (out, err))
        for text in (out, err):
            self.assertNotRegex(text, r"(?i)error|\bERR\b|NOAUTH|WRONGTYPE|Could not fetch",
                                "errors in redis-benchmark output:\n%s\n%s" % (out, err))
        return out

    def check_keys_written(self):
        # Without -r every command uses the literal key name. SET and MSET
        # write the -d sized (default 3 bytes) payload to key:__rand_int__.
        value = self.r.cmd("GET", "key:__rand_int__")
        self.assertIsInstance(value, bytes)
        self.assertEqual(len(value), 3)
        self.assertEqual(self.r.cmd("GET", "counter:__rand_int__"), str(REQUESTS).encode())
        self.assertEqual(self.r.cmd("DBSIZE"), 2)

    def test_benchmark_without_pipelining_csv(self):
        out = self.benchmark("-t", TESTS, "-n", str(REQUESTS), "-c", "20", "-P", "1", "--csv")
        rows = list(csv.reader(io.StringIO(out)))
        self.assertEqual(rows[0][:2], ["test", "rps"])
        self.assertEqual([r[0] for r in rows[1:]], TEST_NAMES)
        for row in rows[1:]:
            self.assertGreater(float(row[1]), 0, row)
        self.check_keys_written()

    def test_benchmark_with_pipelining_quiet(self):
        out = self.benchmark("-t", TESTS, "-n", str(REQUESTS), "-c", "20", "-P", "16", "-q")
        # -q redraws a progress line with \r; the final lines end in \n.
        finals = [line.split("\r")[-1].strip() for line in out.split("\n")]
        results = {}
        for line in finals:
            m = re.match(r"^(.*): ([\d.]+) requests per second", line)
            if m:
                results[m.group(1)] = float(m.group(2))
        self.assertEqual(sorted(results), sorted(TEST_NAMES))
        for name, rps in results.items():
            self.assertGreater(rps, 0, name)
        self.check_keys_written()

    def test_benchmark_with_random_keys(self):
        self.benchmark("-t", "set,get,incr", "-n", "10000", "-c", "10", "-P", "8",
                       "-r", "1000", "--csv")
        size = self.r.cmd("DBSIZE")
        self.assertGreater(size, 100)
        self.assertLessEqual(size, 2000)
        total = sum(int(v) for v in self.r.cmd(
            "MGET", *[b"counter:%012d" % i for i in range(1000)]) if v is not None)
        self.assertEqual(total, 10000)

    def test_benchmark_in_resp3(self):
        self.benchmark("-3", "-t", "ping,set,get", "-n", "5000", "-c", "5", "-P", "4", "--csv")
        self.assertEqual(len(self.r.cmd("GET", "key:__rand_int__")), 3)

    def test_server_is_healthy_after_benchmarks(self):
        self.benchmark("-t", "set,get", "-n", "5000", "-c", "50", "--csv")
        self.assertEqual(self.r.cmd("PING"), "PONG")
        self.assertOK(self.r.cmd("SET", "after", "ok"))
        self.assertEqual(self.r.cmd("GET", "after"), b"ok")


# redis-benchmark 7.0's whole default suite (no -t), in its output's names.
SUITE_NAMES = ["PING_INLINE", "PING_MBULK", "SET", "GET", "INCR", "LPUSH", "RPUSH", "LPOP", "RPOP",
               "SADD", "HSET", "SPOP", "ZADD", "ZPOPMIN", "LPUSH (needed to benchmark LRANGE)",
               "LRANGE_100 (first 100 elements)", "LRANGE_300 (first 300 elements)",
               "LRANGE_500 (first 500 elements)", "LRANGE_600 (first 600 elements)",
               "MSET (10 keys)"]
SUITE_REQUESTS = 5000


@unittest.skipUnless(os.access(REDIS_BENCHMARK, os.X_OK), "redis-benchmark not installed")
class TestDefaultSuite(ServerTestCase):
    """redis-benchmark with no -t: every data type's test, without errors."""

    fresh_server_per_test = True

    def run_suite(self, depth):
        argv = [REDIS_BENCHMARK, "-h", "127.0.0.1", "-p", str(self.port), "-n",
                str(SUITE_REQUESTS), "-c", "10", "-P", str(depth), "--csv"]
        proc = subprocess.run(argv, capture_output=True, timeout=300)
        out = proc.stdout.decode("utf-8", "replace")
        err = proc.stderr.decode("utf-8", "replace")
        self.assertEqual(proc.returncode, 0, "redis-benchmark failed:\n%s\n%s" % (out, err))
        for text in (out, err):
            self.assertNotRegex(text, r"(?i)error|\bERR\b|WRONGTYPE",
                                "errors in redis-benchmark output:\n%s\n%s" % (out, err))
        rows = list(csv.reader(io.StringIO(out)))
        self.assertEqual([r[0] for r in rows[1:]], SUITE_NAMES)
        for row in rows[1:]:
            self.assertGreater(float(row[1]), 0, row)
        self.check_data()

    def check_data(self):
        # LPUSH and RPUSH add 2n, LPOP and RPOP take 2n; the LRANGE tests
        # push n more (plus the 600 the suite pushes before its LRANGEs)
        self.assertEqual(self.r.cmd("TYPE", "mylist"), "list")
        self.assertGreaterEqual(self.r.cmd("LLEN", "mylist"), SUITE_REQUESTS)
        # SADD adds one member (no -r: one name), SPOP takes it back
        self.assertIn(self.r.cmd("TYPE", "myset"), ("set", "none"))
        self.assertEqual(self.r.cmd("TYPE", "myhash"), "hash")
        self.assertEqual(len(self.r.cmd("HGET", "myhash", "element:__rand_int__")), 3)
        self.assertIn(self.r.cmd("TYPE", "myzset"), ("zset", "none"))
        # with -P, redis-benchmark may send a few more than -n
        self.assertGreaterEqual(int(self.r.cmd("GET", "counter:__rand_int__")), SUITE_REQUESTS)

    def test_default_suite_without_pipelining(self):
        self.run_suite(1)

    def test_default_suite_with_pipelining(self):
        self.run_suite(16)


if __name__ == "__main__":
    unittest.main()
