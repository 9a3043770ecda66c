"""bench/load/latgen.c, the fixed-rate load behind bench/load/latency.py:
built with cc and run against the server for a second, its figures must
add up (the requests due in the measured span, each answered; no miss
after its prefill; percentiles in order) and the server must have seen
them. Runs against redis-server too (SHARDIS_REFERENCE=redis).
"""
import os
import shutil
import subprocess
import sys
import tempfile
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import ServerTestCase  # noqa: E402

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
SOURCE = os.path.join(ROOT, "bench", "load", "latgen.c")


def parse_kv(line):
    return {k: float(v) for k, _, v in (p.partition("=") for p in line.split())}


@unittest.skipIf(shutil.which("cc") is None, "no C compiler")
class TestLatgen(ServerTestCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.tmp = tempfile.mkdtemp(prefix="latgen-test-")
        cls.exe = os.path.join(cls.tmp, "latgen")
        subprocess.check_call(["cc", "-O2", "-Wall", "-o", cls.exe, SOURCE])

    @classmethod
    def tearDownClass(cls):
        shutil.rmtree(cls.tmp, ignore_errors=True)
        super().tearDownClass()

    def latgen(self, *args):
        p = subprocess.run([self.exe, "-p", str(self.port)] + list(args), capture_output=True,
                           text=True, timeout=60)
        return p.returncode, p.stdout.strip(), p.stderr.strip()

    def calls(self):
        info = self.r.cmd("INFO", "commandstats").decode()
        n = {}
        for line in info.split("\r\n"):
            if line.startswith("cmdstat_"):
                name, _, rest = line.partition(":")
                n[name[len("cmdstat_"):]] = int(rest.split(",")[0].split("=")[1])
        return n

    def test_prefill_then_a_fixed_rate_adds_up(self):
        self.r.cmd("FLUSHALL")
        rc, out, err = self.latgen("-P", "-k", "1000", "-d", "16")
        self.assertEqual((rc, out), (0, "prefilled=1000"), err)
        self.assertEqual(self.r.cmd("DBSIZE"), 1000)
        self.assertEqual(self.r.cmd("GET", "key:000000000999"), b"x" * 16)
        self.r.cmd("CONFIG", "RESETSTAT")
        # 2000 requests a second for 1 s after 0.5 s of warm-up: 3000 sent,
        # the 2000 due after the warm-up counted
        rc, out, err = self.latgen("-c", "10", "-r", "2000", "-t", "1", "-w", "0.5", "-k", "1000",
                                   "-d", "16", "-s", "1", "-g", "10")
        self.assertEqual(rc, 0, err)
        f = parse_kv(out)
        self.assertGreaterEqual(f["requests"], 1990, out)
        self.assertLessEqual(f["requests"], 2000, out)
        self.assertEqual((f["errors"], f["misses"], f["behind"]), (0, 0, 0), out)
        self.assertGreater(f["p50_us"], 0, out)
        self.assertTrue(f["p50_us"] <= f["p90_us"] <= f["p99_us"] <= f["p999_us"] <= f["max_us"],
                        out)
        calls = self.calls()
        sets, gets = calls.get("set", 0), calls.get("get", 0)
        self.assertGreaterEqual(sets + gets, 2990, calls)
        self.assertLessEqual(sets + gets, 3000, calls)
        # SET:GET 1:10
        self.assertAlmostEqual(sets / (sets + gets), 1 / 11, delta=0.01)

    def test_misses_and_errors_are_counted(self):
        self.r.cmd("FLUSHALL")
        # no prefill, GETs only: every reply a null
        rc, out, err = self.latgen("-c", "2", "-r", "400", "-t", "0.5", "-w", "0", "-k", "50",
                                   "-s", "0", "-g", "1")
        self.assertEqual(rc, 0, err)
        f = parse_kv(out)
        self.assertGreaterEqual(f["requests"], 195, out)
        self.assertEqual(f["misses"], f["requests"], out)
        # every key a list: every GET a WRONGTYPE error
        for i in range(50):
            self.r.cmd("RPUSH", "key:%012d" % i, "x")
        rc, out, err = self.latgen("-c", "2", "-r", "400", "-t", "0.5", "-w", "0", "-k", "50",
                                   "-s", "0", "-g", "1")
        self.assertEqual(rc, 0, err)
        f = parse_kv(out)
        self.assertEqual((f["errors"], f["misses"]), (f["requests"], 0), out)

    def test_bad_arguments_and_hosts_are_refused(self):
        rc, _, err = self.latgen("-r", "0")
        self.assertEqual(rc, 2)
        self.assertIn("usage", err)
        p = subprocess.run([self.exe, "-h", "10.0.0.1", "-p", "1"], capture_output=True,
                           text=True, timeout=10)
        self.assertEqual(p.returncode, 2)
        self.assertIn("loopback", p.stderr)


if __name__ == "__main__":
    unittest.main()
