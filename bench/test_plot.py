#!/usr/bin/env python3
"""Sanity tests of bench/plot.py: python3 bench/test_plot.py (standard library only)."""

import io
import os
import sys
import tempfile
import unittest
import xml.etree.ElementTree as ET
from contextlib import redirect_stderr, redirect_stdout

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import plot  # noqa: E402

NS = "{http://www.w3.org/2000/svg}"

SIDE_BY_SIDE = """# redis-server vs shardis, side by side

| test | depth | redis rps | shardis rps | redis us/req | shardis us/req | ratio shardis/redis CPU |
| --- | ---: | ---: | ---: | ---: | ---: | ---: |
| set | 1 | 49615.48 | 60295.45 | 14.90 | 8.55 | 0.57 |
| get | 1 | 48971.59 | 50037.53 | 14.60 | 13.85 | 0.95 |
| set | 16 | 638365.81 | 712758.38 | 1.56 | 1.39 | 0.89 |
| get | 16 | 690846.31 | 731796.56 | 1.44 | 1.35 | 0.94 |
"""

LONG = """# Transactions side by side

| server | workload | txn/s | server CPU per txn (us) | ratio to redis-server |
| --- | --- | --- | --- | --- |
| redis-server | multi2 | 68417 | 10.33 | 1.00x |
| redis-server | evalsha2 | 106609 | 9.00 | 1.00x |
| shardis 1 shard | multi2 | 75793 | 6.33 | 0.61x |
| shardis 1 shard | evalsha2 | 129010 | 7.00 | 0.78x |
| shardis 4 shards | multi2 | 45488 | 22.00 | 2.13x |
| shardis 4 shards | evalsha2 | 11146 | 89.33 | 9.93x |
"""

SHARDS = """# Scaling

| shards | workload | ops/s | CPU per op (us) |
| ---: | --- | ---: | ---: |
| 1 | get | 100000 | 5.0 |
| 2 | get | 180000 | 5.5 |
| 4 | get | 330000 | 6.0 |
| 1 | set | 90000 | 6.0 |
| 2 | set | 150000 | 6.5 |
| 4 | set | 300000 | 7.1 |
"""

LATENCY = """# Latency

| server | p50 (ms) | p99 (ms) | p99.9 (ms) |
| --- | ---: | ---: | ---: |
| redis-server | 0.51 | 0.81 | 1.9 |
| shardis | 0.41 | 0.54 | 1.2 |
"""

RAW = """# Raw

```
redis P1 "SET","49615.48","0.522","0.208","0.511","0.607","0.815","5.359"
redis P1 "GET","48971.59","0.521","0.152","0.519","0.599","0.663","3.943"
shardis P1 "SET","60295.45","0.415","0.080","0.407","0.479","0.543","3.119"
shardis P1 "GET","50037.53","0.513","0.112","0.503","0.607","0.735","4.407"
```
"""

UNPLOTTABLE = """# Nothing to see

| server | command | same |
| --- | --- | --- |
| redis-server | `SET k v` | yes |

| a | b |
| --- | --- |
| 1 |
| x | 2 | 3 | 4 |
"""


def parse(svg):
    root = ET.fromstring(svg.encode())
    bars = [e for e in root.iter(NS + "rect") if e.get("class") == "bar"]
    texts = [e.text or "" for e in root.iter(NS + "text")]
    return root, bars, texts


class PlotTest(unittest.TestCase):
    def one(self, md, n=1):
        done, skipped = plot.charts(md, "sample.md")
        self.assertEqual([k for k, _ in done], [n], skipped)
        return parse(done[0][1])

    def test_side_by_side(self):
        root, bars, texts = self.one(SIDE_BY_SIDE)
        self.assertEqual(root.tag, NS + "svg")
        # us/req: 4 rows x 2 servers; ratio: 4 rows; rps is not drawn (compare CPU).
        self.assertEqual(len(bars), 12)
        for label in ("set", "get", "redis", "shardis", "14.9", "8.55", "0.57x"):
            self.assertIn(label, texts)
        self.assertTrue(any("server CPU per request" in t and "depth 16" in t for t in texts))
        self.assertEqual(len([e for e in root.iter(NS + "line") if e.get("class") == "ref"]), 2)
        titles = [e.find(NS + "title").text for e in bars]
        self.assertIn("set: redis = 14.9", titles)
        self.assertNotIn("<script", plot.charts(SIDE_BY_SIDE)[0][0][1])

    def test_long_format(self):
        root, bars, texts = self.one(LONG)
        # CPU: 2 workloads x 3 servers; ratio: 2 workloads x 2 shardis servers (redis is 1.0).
        self.assertEqual(len(bars), 10)
        for label in ("multi2", "evalsha2", "redis-server", "shardis 4 shards", "89.33", "9.93x"):
            self.assertIn(label, texts)
        # 0.61..9.93 spans less than 100x: linear; 6.33..89.33 too.
        self.assertFalse(any("log scale" in t for t in texts))

    def test_bar_lengths_proportional(self):
        _, bars, _ = self.one(LONG)
        w = {e.find(NS + "title").text: float(e.get("width")) for e in bars}
        self.assertAlmostEqual(w["multi2: shardis 4 shards = 22"] / w["multi2: redis-server = 10.33"],
                               22.0 / 10.33, places=2)

    def test_shards_line_chart(self):
        root, bars, texts = self.one(SHARDS)
        self.assertEqual(bars, [])
        points = [e for e in root.iter(NS + "circle") if e.get("class") == "point"]
        self.assertEqual(len(points), 12)  # 2 figures x 2 workloads x 3 shard counts
        self.assertEqual(len([e for e in root.iter(NS + "polyline")]), 4)
        for label in ("1", "2", "4", "get", "set", "330k", "7.1"):
            self.assertIn(label, texts)

    def test_percentiles(self):
        _, bars, texts = self.one(LATENCY)
        self.assertEqual(len(bars), 6)
        for label in ("p50 (ms)", "p99.9 (ms)", "redis-server", "shardis", "1.9"):
            self.assertIn(label, texts)

    def test_redis_benchmark_csv(self):
        _, bars, texts = self.one(RAW)
        self.assertEqual(len(bars), 8)  # 2 tests x 2 servers x (p50, p99)
        for label in ("SET", "GET", "redis p99", "shardis p50", "0.815"):
            self.assertIn(label, texts)

    def test_unplottable_is_skipped(self):
        done, skipped = plot.charts(UNPLOTTABLE, "x.md")
        self.assertEqual(done, [])
        self.assertEqual([n for n, _ in skipped], [1, 2])

    def test_parse_num(self):
        for cell, v in (("1.25", 1.25), ("0.84x", 0.84), ("60.7 %", 60.7), ("-10%", -10.0),
                        ("13.60 (13.30-14.65)", 13.6), ("+5%", 5.0)):
            self.assertEqual(plot.parse_num(cell), v)
        for cell in ("yes", "-", "1000000 x field", "1 shard, -P 1", ""):
            self.assertIsNone(plot.parse_num(cell))

    def test_files_and_cli(self):
        with tempfile.TemporaryDirectory() as d:
            path = os.path.join(d, "2026-01-01-abc-txn.md")
            with open(path, "w") as f:
                f.write(LONG + "\n" + UNPLOTTABLE + "\n" + SIDE_BY_SIDE)
            out, err = io.StringIO(), io.StringIO()
            with redirect_stdout(out), redirect_stderr(err):
                rc = plot.main([path])
            self.assertEqual(rc, 0)
            want = [os.path.join(d, "2026-01-01-abc-txn-%d.svg" % n) for n in (1, 4)]
            self.assertEqual(out.getvalue().split(), want)
            self.assertIn("table 2 skipped", err.getvalue())
            for p in want:
                ET.parse(p)
            with redirect_stdout(io.StringIO()), redirect_stderr(io.StringIO()):
                self.assertEqual(plot.main([os.path.join(d, "missing.md")]), 1)


if __name__ == "__main__":
    unittest.main()
