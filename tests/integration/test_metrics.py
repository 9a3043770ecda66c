"""GET /metrics on metrics-port: the Prometheus text exposition format
(0.0.4) of INFO's figures under redis_exporter's names, INFO shards with a
shard label, and per-command latency histograms.

shardis only: Redis has no metrics port, so the whole file is skipped in
reference mode. Uses the real curl (/usr/bin/curl, skipped when absent) and
`promtool check metrics` when /usr/bin/promtool exists.
"""

import math
import os
import re
import socket
import subprocess
import sys
import threading
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import Server, ServerTestCase, encode_command, free_port, reference_mode  # noqa: E402

CURL = "/usr/bin/curl"
PROMTOOL = "/usr/bin/promtool"

NAME_RE = r"[a-zA-Z_:][a-zA-Z0-9_:]*"
SAMPLE_RE = re.compile(r"^(%s)(?:\{(.*)\})? (\S+)$" % NAME_RE)
LABEL_RE = re.compile(r'([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\\n]|\\[\\"n])*)"')
TYPES = ("counter", "gauge", "histogram", "summary", "untyped")
SUFFIXES = {"histogram": ("_bucket", "_sum", "_count"), "summary": ("", "_sum", "_count")}


class ParseError(AssertionError):
    pass


def parse_value(text):
    if text in ("+Inf", "-Inf", "NaN"):
        return float(text.replace("Inf", "inf").replace("NaN", "nan"))
    if not re.fullmatch(r"-?[0-9]+(\.[0-9]+)?([eE][-+]?[0-9]+)?", text):
        raise ParseError("bad value %r" % text)
    return float(text)


def parse_labels(text):
    labels, at = {}, 0
    while at < len(text):
        m = LABEL_RE.match(text, at)
        if not m:
            raise ParseError("bad labels %r" % text)
        if m.group(1) in labels:
            raise ParseError("label %s twice" % m.group(1))
        labels[m.group(1)] = m.group(2)
        at = m.end()
        if at < len(text):
            if text[at] != ",":
                raise ParseError("bad labels %r" % text)
            at += 1
    return labels


def parse_exposition(text):
    """A strict reader: every family has HELP and TYPE before its samples,
    its samples are contiguous and carry its name (with a histogram's or
    summary's suffixes), every sample line is name{labels} value, and no
    series appears twice. Returns {family: {"type", "help", "samples":
    [(name, labels, value)]}}."""
    fams, seen, current = {}, set(), None
    if not text.endswith("\n"):
        raise ParseError("no final newline")
    for line in text[:-1].split("\n"):
        if line.startswith("# HELP "):
            name, _, help_text = line[7:].partition(" ")
            if name in fams:
                raise ParseError("family %s twice" % name)
            fams[name] = {"help": help_text, "type": None, "samples": []}
            current = name
            continue
        if line.startswith("# TYPE "):
            name, _, typ = line[7:].partition(" ")
            if name != current or typ not in TYPES or fams[name]["type"]:
                raise ParseError("bad TYPE line %r" % line)
            fams[name]["type"] = typ
            continue
        m = SAMPLE_RE.match(line)
        if not m or current is None or fams[current]["type"] is None:
            raise ParseError("bad line %r" % line)
        name, labels = m.group(1), parse_labels(m.group(2) or "")
        suffixes = SUFFIXES.get(fams[current]["type"], ("",))
        if name not in [current + s for s in suffixes]:
            raise ParseError("sample %s outside its family %s" % (name, current))
        key = (name, tuple(sorted(labels.items())))
        if key in seen:
            raise ParseError("series %r twice" % (key,))
        seen.add(key)
        fams[current]["samples"].append((name, labels, parse_value(m.group(3))))
    return fams


def value_of(fams, family, name=None, **labels):
    for n, l, v in fams[family]["samples"]:
        if n == (name or family) and all(l.get(k) == x for k, x in labels.items()):
            return v
    raise KeyError("%s %r" % (name or family, labels))


def http_raw(port, data, timeout=5.0, shut=True):
    """Sends data on a fresh connection and reads until the server closes."""
    s = socket.create_connection(("127.0.0.1", port), timeout=timeout)
    try:
        s.sendall(data)
        if shut:
            s.shutdown(socket.SHUT_WR)
        out = b""
        while True:
            chunk = s.recv(65536)
            if not chunk:
                return out
            out += chunk
    finally:
        s.close()


def split_response(raw):
    head, _, body = raw.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    status = int(lines[0].split(" ")[1])
    headers = {}
    for h in lines[1:]:
        k, _, v = h.partition(":")
        headers[k.strip().lower()] = v.strip()
    return status, headers, body


@unittest.skipIf(reference_mode(), "Redis has no metrics port")
class MetricsTest(ServerTestCase):

    @classmethod
    def setUpClass(cls):
        cls.mport = free_port()
        cls.server_args = ("--metrics-port", str(cls.mport))
        super().setUpClass()

    def curl(self, *args):
        if not os.access(CURL, os.X_OK):
            self.skipTest("no %s" % CURL)
        return subprocess.run([CURL, "-s", "--max-time", "10"] + list(args), check=False,
                              capture_output=True, timeout=20)

    def scrape(self):
        p = self.curl("-i", "http://127.0.0.1:%d/metrics" % self.mport)
        self.assertEqual(p.returncode, 0, p.stderr)
        status, headers, body = split_response(p.stdout)
        self.assertEqual(status, 200)
        self.assertEqual(headers["content-type"], "text/plain; version=0.0.4; charset=utf-8")
        self.assertEqual(int(headers["content-length"]), len(body))
        return parse_exposition(body.decode("utf-8"))

    def info(self, section):
        text = self.r.cmd("INFO", section).decode()
        return dict(l.split(":", 1) for l in text.split("\r\n") if ":" in l)

    def test_curl_gets_the_figures_of_info(self):
        pipe = b"".join(encode_command("SET", "k%d" % i, i) for i in range(100))
        self.r.send(pipe)
        self.r.read_replies(100)
        for i in range(30):
            self.r.cmd("GET", "k%d" % i)
        self.r.cmd("GET", "missing")
        self.r.cmd("EXPIRE", "k0", 100)
        fams = self.scrape()
        dbsize = self.r.cmd("DBSIZE")
        stats = self.info("stats")
        self.assertEqual(value_of(fams, "redis_up"), 1)
        self.assertGreaterEqual(value_of(fams, "redis_commands_total", cmd="set"), 100)
        self.assertEqual(fams["redis_commands_total"]["type"], "counter")
        self.assertEqual(value_of(fams, "redis_db_keys", db="db0"), dbsize)
        self.assertEqual(value_of(fams, "redis_db_keys_expiring", db="db0"), 1)
        self.assertEqual(value_of(fams, "redis_keyspace_hits_total"), int(stats["keyspace_hits"]))
        self.assertEqual(value_of(fams, "redis_keyspace_misses_total"),
                         int(stats["keyspace_misses"]))
        self.assertGreater(value_of(fams, "redis_memory_used_bytes"), 0)
        self.assertGreaterEqual(value_of(fams, "redis_connected_clients"), 1)
        self.assertGreater(value_of(fams, "redis_net_input_bytes_total"), 0)
        self.assertGreater(value_of(fams, "redis_commands_processed_total"), 130)
        self.assertGreater(value_of(fams, "redis_commands_duration_seconds_total", cmd="set"), 0)
        self.assertEqual(value_of(fams, "redis_aof_enabled"), 0)
        self.assertEqual(value_of(fams, "redis_rdb_last_bgsave_status"), 1)
        self.assertGreater(value_of(fams, "redis_rdb_last_save_timestamp_seconds"), 1.6e9)
        for fam in ("redis_uptime_in_seconds", "redis_blocked_clients",
                    "redis_expired_keys_total", "redis_evicted_keys_total",
                    "redis_net_output_bytes_total"):
            self.assertIn(fam, fams)
        for name, fam in fams.items():
            if fam["type"] == "counter":
                self.assertTrue(name.endswith("_total"), name)
            self.assertTrue(fam["help"], name)
        info = value_of(fams, "redis_instance_info", role="master")
        self.assertEqual(info, 1)
        self.assertEqual(fams["redis_instance_info"]["samples"][0][1]["tcp_port"],
                         str(self.port))

    def test_per_shard_figures_sum_to_the_whole(self):
        self.r.send(b"".join(encode_command("SET", "s%d" % i, "v") for i in range(64)))
        self.r.read_replies(64)
        fams = self.scrape()
        shards = [l["shard"] for _, l, _ in fams["redis_shard_keys"]["samples"]]
        self.assertEqual(shards, [str(i) for i in range(len(shards))])
        self.assertEqual(float(len(shards)), value_of(fams, "redis_shards"))
        total = sum(v for _, _, v in fams["redis_shard_keys"]["samples"])
        self.assertEqual(total, self.r.cmd("DBSIZE"))
        for fam in ("redis_shard_commands_total", "redis_shard_mailbox_messages_sent_total",
                    "redis_shard_mailbox_messages_received_total", "redis_shard_memory_bytes"):
            self.assertEqual(len(fams[fam]["samples"]), len(shards), fam)
        self.assertGreaterEqual(sum(v for _, _, v in fams["redis_shard_commands_total"]
                                    ["samples"]), 64)

    def test_latency_histograms_are_cumulative(self):
        for i in range(50):
            self.r.cmd("SET", "h%d" % i, "v")
        fams = self.scrape()
        self.assertEqual(fams["redis_latency_usec"]["type"], "histogram")
        by_cmd = {}
        for name, labels, v in fams["redis_latency_usec"]["samples"]:
            by_cmd.setdefault(labels["cmd"], []).append((name, labels, v))
        self.assertIn("set", by_cmd)
        for cmd, samples in by_cmd.items():
            buckets = [(parse_value(l["le"]), v) for n, l, v in samples if n.endswith("_bucket")]
            count = [v for n, _, v in samples if n.endswith("_count")][0]
            self.assertGreater(len(buckets), 10)
            les = [le for le, _ in buckets]
            self.assertEqual(les, sorted(les), cmd)
            self.assertEqual(len(set(les)), len(les))
            self.assertTrue(math.isinf(les[-1]), cmd)
            counts = [v for _, v in buckets]
            self.assertEqual(counts, sorted(counts), cmd)
            self.assertEqual(counts[-1], count, cmd)
        self.assertGreaterEqual(value_of(fams, "redis_latency_usec", "redis_latency_usec_count",
                                         cmd="set"), 50)

    def test_other_paths_and_methods(self):
        for path in ("/", "/metricsx", "/metrics/", "/favicon.ico"):
            p = self.curl("-o", "/dev/null", "-w", "%{http_code}",
                          "http://127.0.0.1:%d%s" % (self.mport, path))
            self.assertEqual(p.stdout, b"404", path)
        for method in ("POST", "PUT", "DELETE", "get"):
            raw = http_raw(self.mport, b"%s /metrics HTTP/1.1\r\nHost: x\r\n\r\n"
                           % method.encode())
            status, headers, _ = split_response(raw)
            self.assertEqual(status, 405, method)
            self.assertEqual(headers["allow"], "GET, HEAD")
        status, headers, body = split_response(
            http_raw(self.mport, b"HEAD /metrics HTTP/1.1\r\nHost: x\r\n\r\n"))
        self.assertEqual(status, 200)
        self.assertEqual(body, b"")
        self.assertGreater(int(headers["content-length"]), 1000)
        # HTTP/1.0 needs no Host; a query string is ignored
        status, _, body = split_response(
            http_raw(self.mport, b"GET /metrics?name[]=redis_up HTTP/1.0\r\n\r\n"))
        self.assertEqual(status, 200)
        self.assertIn(b"\nredis_up 1\n", body)

    def test_bad_requests_get_400_and_close(self):
        bad = [
            b"GARBAGE\r\n\r\n",
            b"GET /metrics\r\n\r\n",
            b"GET  /metrics HTTP/1.1\r\nHost: x\r\n\r\n",
            b"GET /metrics HTTP/1.1\r\n\r\n",  # no Host
            b"GET /metrics HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n",
            b"GET /metrics HTTP/1.1\r\nHost: x\r\nno colon here\r\n\r\n",
            b"GET /metrics HTTP/1.1\r\nHost: x\r\n folded\r\n\r\n",
            b"GET /metrics HTTP/1.1\r\nHost: x\x00y\r\n\r\n",
            b"GET /metrics HTTX/1.1\r\nHost: x\r\n\r\n",
        ]
        for req in bad:
            status, _, _ = split_response(http_raw(self.mport, req))
            self.assertEqual(status, 400, req)
        status, _, _ = split_response(http_raw(self.mport, b"GET /metrics HTTP/2.0\r\n\r\n"))
        self.assertEqual(status, 505)
        # an oversized head: 400, then the server closes (without reading on)
        big = b"GET /metrics HTTP/1.1\r\nHost: x\r\nX-Pad: " + b"a" * 9000 + b"\r\n\r\n"
        status, _, _ = split_response(http_raw(self.mport, big, shut=False))
        self.assertEqual(status, 400)
        self.assertEqual(self.r.cmd("PING"), "PONG")

    def test_a_stalled_client_blocks_nobody_and_times_out(self):
        stalled = socket.create_connection(("127.0.0.1", self.mport), timeout=10)
        try:
            stalled.sendall(b"GET /metr")
            t0 = time.monotonic()
            self.scrape()
            self.assertLess(time.monotonic() - t0, 2.0)
            raw = b""
            while True:
                chunk = stalled.recv(4096)
                if not chunk:
                    break
                raw += chunk
            waited = time.monotonic() - t0
            self.assertEqual(split_response(raw)[0], 408)
            self.assertLess(waited, 8.0)
        finally:
            stalled.close()

    def test_200_concurrent_requests_are_all_answered(self):
        n = 200
        socks = [socket.create_connection(("127.0.0.1", self.mport), timeout=15)
                 for _ in range(n)]
        results = [None] * n

        def read(i):
            s = socks[i]
            out = b""
            try:
                while True:
                    chunk = s.recv(65536)
                    if not chunk:
                        break
                    out += chunk
            finally:
                s.close()
            results[i] = out

        for s in socks:
            s.sendall(b"GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n")
        threads = [threading.Thread(target=read, args=(i,)) for i in range(n)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(30)
        for raw in results:
            status, headers, body = split_response(raw)
            self.assertEqual(status, 200)
            self.assertEqual(int(headers["content-length"]), len(body))
        parse_exposition(results[-1].partition(b"\r\n\r\n")[2].decode())

    def test_garbage_does_not_hurt_the_server(self):
        for junk in (b"\x00" * 100, bytes(range(256)) * 4, b"\r\n" * 3000, b"GET " * 3000):
            try:
                http_raw(self.mport, junk, timeout=8)
            except OSError:
                pass
        self.assertEqual(self.r.cmd("PING"), "PONG")
        self.scrape()

    def test_config_metrics_port_is_immutable(self):
        self.assertEqual(self.r.cmd("CONFIG", "GET", "metrics-port"),
                         [b"metrics-port", str(self.mport).encode()])
        self.assertEqual(self.r.cmd("CONFIG", "GET", "metrics-bind"),
                         [b"metrics-bind", b"127.0.0.1"])
        self.assertError(self.r.cmd("CONFIG", "SET", "metrics-port", "1"),
                         "ERR CONFIG SET failed (possibly related to argument 'metrics-port') - "
                         "can't set immutable config")
        self.assertError(self.r.cmd("CONFIG", "SET", "metrics-bind", "0.0.0.0"),
                         "ERR CONFIG SET failed (possibly related to argument 'metrics-bind') - "
                         "can't set immutable config")

    def test_promtool_accepts_the_text(self):
        if not os.access(PROMTOOL, os.X_OK):
            self.skipTest("no %s" % PROMTOOL)
        self.r.cmd("SET", "a", "1")
        p = self.curl("http://127.0.0.1:%d/metrics" % self.mport)
        check = subprocess.run([PROMTOOL, "check", "metrics"], input=p.stdout,
                               capture_output=True, timeout=20)
        out = (check.stdout + check.stderr).decode()
        # lint notes on unit names redis_exporter chose (_sec, _usec, _ms)
        # are kept for its dashboards; anything else is a failure
        problems = [l for l in out.splitlines()
                    if l.strip() and "abbreviated units" not in l and "non-base" not in l]
        self.assertEqual(problems, [], out)


@unittest.skipIf(reference_mode(), "Redis has no metrics port")
class MetricsOffTest(unittest.TestCase):

    def test_off_by_default_and_a_taken_port_fails_the_start(self):
        srv = Server(args=()).start()
        try:
            from harness import Client
            with Client(srv.port) as c:
                self.assertEqual(c.cmd("CONFIG", "GET", "metrics-port"), [b"metrics-port", b"0"])
        finally:
            srv.stop()
            srv.cleanup()
        taken = socket.socket()
        taken.bind(("127.0.0.1", 0))
        taken.listen(1)
        try:
            bad = Server(args=("--metrics-port", str(taken.getsockname()[1])))
            with self.assertRaises(RuntimeError):
                bad.start()
            bad.cleanup()
        finally:
            taken.close()


if __name__ == "__main__":
    unittest.main()
