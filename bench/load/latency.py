#!/usr/bin/python3
"""Latency at the same throughput, side by side (issue 12's p99 goal):
redis-server and shardis serve the same fixed-rate SET:GET load (1:10 by
default, 50 connections, 100k keys of 32 bytes, prefilled), and the report
gives each one's latency percentiles and CPU per request at each rate.

The load is bench/load/latgen.c, compiled here with cc: an open-loop
generator that sends each connection's requests on a fixed schedule and
measures each latency from the time the request was due (a server or
client that falls behind pays for the wait, as in wrk2; no coordinated
omission). redis-benchmark cannot hold a rate: with it every server gets a
different throughput. If memtier_benchmark is on PATH, each point is run
with it too (`--rate-limiting`, per connection), its p50/p99/p99.9 in the
same table; otherwise the report says it was skipped.

Rounds alternate the servers (REPEAT rounds, medians), since this machine's
noise moves a figure by tens of percent from one minute to the next.

    bench/load/latency.py
    RATES="20000 60000" REPEAT=1 SECS=3 bench/load/latency.py   (a quick run)

Environment (defaults in brackets):
  SHARDIS_BIN   shardis binary [build/src/shardis-server]
  REDIS_BIN     redis-server binary [redis-server]
  BENCH_PORT    loopback port [7793]
  SERVER_CPUS   CPUs the servers are pinned to [1]; the load runs on CPU 0
  CONFIGS       which servers, space-separated names from: redis, shardis
                (defaults), shardis-nobatch (io-batch-wait-us 0), shardis2
                (2 shards) [redis shardis shardis-nobatch]
  RATES         requests per second, space-separated [20000 50000 80000]
  CONNS         connections [50]
  SECS, WARM    seconds measured, seconds of warm-up before [5, 1]
  KEYS, VALUE   keyspace and value size [100000, 32]
  RATIO         SET:GET [1:10]
  REPEAT        rounds [3]
  RESULTS_DIR   where the .md goes [bench/results]
"""

import datetime
import os
import shutil
import statistics
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from procstat import cpu_ticks  # noqa: E402
from procstat import env_int as _env_int  # noqa: E402
from benchserver import Server  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
HOST = "127.0.0.1"  # loopback only
PCTS = ("p50_us", "p90_us", "p99_us", "p999_us", "max_us")


def die(msg):
    sys.stderr.write("latency: %s\n" % msg)
    sys.exit(1)


def env_int(name, default):
    return _env_int(name, default, "latency")


def build_latgen(tmp):
    exe = os.path.join(tmp, "latgen")
    cc = shutil.which("cc") or shutil.which("gcc")
    if cc is None:
        die("no C compiler (cc) to build latgen")
    subprocess.check_call([cc, "-O2", "-Wall", "-o", exe, os.path.join(HERE, "latgen.c")])
    return exe


def parse_kv(line):
    out = {}
    for part in line.split():
        k, _, v = part.partition("=")
        out[k] = float(v)
    return out


def run_latgen(latgen, port, rate, cfg):
    sets, gets = cfg["ratio"]
    argv = ["taskset", "-c", "0", latgen, "-p", str(port), "-c", str(cfg["conns"]), "-r",
            str(rate), "-t", str(cfg["secs"]), "-w", str(cfg["warm"]), "-k", str(cfg["keys"]),
            "-d", str(cfg["value"]), "-s", str(sets), "-g", str(gets)]
    p = subprocess.run(argv, capture_output=True, text=True, timeout=cfg["secs"] + cfg["warm"] + 60)
    if p.returncode not in (0, 3):
        die("latgen failed: %s" % p.stderr.strip())
    return parse_kv(p.stdout.strip())


def run_memtier(port, rate, cfg):
    """memtier_benchmark at the same rate; its Totals line's percentiles."""
    sets, gets = cfg["ratio"]
    per_conn = max(1, rate // cfg["conns"])
    argv = ["taskset", "-c", "0", "memtier_benchmark", "-s", HOST, "-p", str(port),
            "--protocol=redis", "--threads=1", "--clients=%d" % cfg["conns"],
            "--ratio=%d:%d" % (sets, gets), "--test-time=%d" % cfg["secs"],
            "--rate-limiting=%d" % per_conn, "--key-maximum=%d" % cfg["keys"],
            "--data-size=%d" % cfg["value"], "--key-pattern=R:R", "--hide-histogram",
            "--print-percentiles=50,99,99.9"]
    out = subprocess.run(argv, capture_output=True, text=True,
                         timeout=cfg["secs"] + 60).stdout
    for line in out.splitlines():
        if line.startswith("Totals"):
            f = line.split()
            # Totals ops/s hits/s misses/s avg p50 p99 p99.9 KB/s (latencies in ms)
            return {"rate": float(f[1]), "p50_us": float(f[5]) * 1000,
                    "p99_us": float(f[6]) * 1000, "p999_us": float(f[7]) * 1000}
    die("no Totals line in memtier_benchmark output: %r" % out[-500:])


def measure(name, argv, latgen, rates, cfg, memtier_on):
    """One round for one server: every rate, fresh server, prefilled."""
    srv = Server(name, argv, cfg["port"], cfg["cpus"], "latency")
    res = {}
    try:
        subprocess.check_call(["taskset", "-c", "0", latgen, "-p", str(cfg["port"]), "-P", "-k",
                               str(cfg["keys"]), "-d", str(cfg["value"])],
                              stdout=subprocess.DEVNULL)
        hz = os.sysconf("SC_CLK_TCK")
        for rate in rates:
            c0 = cpu_ticks(srv.proc.pid)
            r = run_latgen(latgen, cfg["port"], rate, cfg)
            c1 = cpu_ticks(srv.proc.pid)
            # CPU of the whole run (warm-up too) over the requests sent in it
            r["cpu_us"] = (c1 - c0) * 1e6 / hz / (rate * (cfg["secs"] + cfg["warm"]))
            if memtier_on:
                r["memtier"] = run_memtier(cfg["port"], rate, cfg)
            res[rate] = r
            print("%-16s %7d/s  p50 %5d  p90 %5d  p99 %5d  p99.9 %5d  max %5d us  cpu %.2f us%s%s" %
                  (name, rate, r["p50_us"], r["p90_us"], r["p99_us"], r["p999_us"], r["max_us"],
                   r["cpu_us"], "  BEHIND" if r["behind"] else "",
                   "  errors %d" % r["errors"] if r["errors"] else ""))
            sys.stdout.flush()
    finally:
        srv.stop()
    return res


def main():
    shardis = os.path.abspath(os.environ.get("SHARDIS_BIN") or
                              os.path.join(ROOT, "build", "src", "shardis-server"))
    redis_bin = os.environ.get("REDIS_BIN", "redis-server")
    ratio = os.environ.get("RATIO", "1:10").split(":")
    cfg = {
        "port": env_int("BENCH_PORT", 7793),
        "cpus": os.environ.get("SERVER_CPUS", "1"),
        "conns": env_int("CONNS", 50),
        "secs": env_int("SECS", 5),
        "warm": env_int("WARM", 1),
        "keys": env_int("KEYS", 100000),
        "value": env_int("VALUE", 32),
        "ratio": (int(ratio[0]), int(ratio[1])),
    }
    rates = [int(x) for x in os.environ.get("RATES", "20000 50000 80000").split()]
    repeat = env_int("REPEAT", 3)
    names = os.environ.get("CONFIGS", "redis shardis shardis-nobatch").split()
    known = {
        "redis": ("redis-server", [redis_bin]),
        "shardis": ("shardis", [shardis, "--shards", "1"]),
        "shardis-nobatch": ("shardis, io-batch-wait-us 0",
                            [shardis, "--shards", "1", "--io-batch-wait-us", "0"]),
        "shardis2": ("shardis, 2 shards", [shardis, "--shards", "2"]),
    }
    for n in names:
        if n not in known:
            die("unknown config %r (known: %s)" % (n, " ".join(known)))
    if "redis" in names and shutil.which(redis_bin) is None:
        die("no %s on PATH (bash deploy/setup.sh installs it)" % redis_bin)
    if not os.access(shardis, os.X_OK):
        die("no shardis binary at %s (set SHARDIS_BIN)" % shardis)
    results_dir = os.environ.get("RESULTS_DIR", os.path.join(ROOT, "bench", "results"))
    memtier_on = shutil.which("memtier_benchmark") is not None
    tmp = tempfile.mkdtemp(prefix="latgen-")
    try:
        latgen = build_latgen(tmp)
        runs = {n: [] for n in names}
        for rnd in range(repeat):
            print("round %d of %d" % (rnd + 1, repeat))
            for n in names:
                runs[n].append(measure(known[n][0], known[n][1], latgen, rates, cfg, memtier_on))
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    report(runs, names, known, rates, cfg, repeat, memtier_on, results_dir)


def median_of(rounds, rate, key, sub=None):
    vals = [(r[rate][sub] if sub else r[rate])[key] for r in rounds]
    return statistics.median(vals)


def report(runs, names, known, rates, cfg, repeat, memtier_on, results_dir):
    try:
        commit = subprocess.check_output(["git", "-C", ROOT, "rev-parse", "--short", "HEAD"],
                                         text=True).strip()
    except (OSError, subprocess.CalledProcessError):
        commit = "unknown"
    date = datetime.date.today().isoformat()
    env = ["%s=%s" % (k, os.environ[k]) for k in
           ("SHARDIS_BIN", "CONFIGS", "RATES", "CONNS", "SECS", "WARM", "KEYS", "VALUE", "RATIO",
            "REPEAT") if k in os.environ]
    md = ["# Latency at the same throughput (%s, commit %s)" % (date, commit), "",
          "Command: `%s`" % " ".join(env + ["bench/load/latency.py"]), "",
          "Open-loop load (bench/load/latgen.c): %d connections, SET:GET %d:%d, %d keys of %d "
          "bytes (prefilled), each rate %d s after %d s of warm-up; latency from the time a "
          "request was due. Servers on CPU %s, the load on CPU 0. Medians of %d rounds, the "
          "servers alternating; load average at the end: %s." %
          (cfg["conns"], cfg["ratio"][0], cfg["ratio"][1], cfg["keys"], cfg["value"],
           cfg["secs"], cfg["warm"], cfg["cpus"], repeat, os.getloadavg()[0]), "",
          "| server | rate (req/s) | p50 (us) | p90 (us) | p99 (us) | p99.9 (us) | max (us) | "
          "CPU per request (us) | p99 ratio to redis |",
          "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |"]
    for rate in rates:
        ref = median_of(runs["redis"], rate, "p99_us") if "redis" in runs else None
        for n in names:
            p = [median_of(runs[n], rate, k) for k in PCTS]
            cpu = median_of(runs[n], rate, "cpu_us")
            ratio = "%.2f" % (p[2] / ref) if ref else "-"
            md.append("| %s | %d | %d | %d | %d | %d | %d | %.2f | %s |" %
                      ((known[n][0], rate) + tuple(int(x) for x in p) + (cpu, ratio)))
    behind = [(n, rate) for n in names for r in runs[n] for rate in rates if r[rate]["behind"]]
    if behind:
        md += ["", "Fell behind (a backlog passed its bound, or the last replies took over "
               "5 s): %s." % ", ".join("%s at %d/s" % (known[n][0], rate) for n, rate in behind)]
    if memtier_on:
        md += ["", "memtier_benchmark at the same rates (`--rate-limiting` per connection), "
               "medians:", "",
               "| server | rate (req/s) | memtier ops/s | p50 (us) | p99 (us) | p99.9 (us) |",
               "| --- | ---: | ---: | ---: | ---: | ---: |"]
        for rate in rates:
            for n in names:
                md.append("| %s | %d | %.0f | %.0f | %.0f | %.0f |" %
                          ((known[n][0], rate) + tuple(median_of(runs[n], rate, k, "memtier")
                                                       for k in ("rate", "p50_us", "p99_us",
                                                                 "p999_us"))))
    else:
        md += ["", "memtier_benchmark is not on PATH: its runs were skipped."]
    md += ["", "Per round (p50 / p99 in us):", ""]
    for n in names:
        for rate in rates:
            md.append("- %s at %d/s: %s" % (known[n][0], rate, ", ".join(
                "%d / %d" % (r[rate]["p50_us"], r[rate]["p99_us"]) for r in runs[n])))
    os.makedirs(results_dir, exist_ok=True)
    path = os.path.join(results_dir, "%s-%s-latency.md" % (date, commit))
    n = 2
    while os.path.exists(path):
        path = os.path.join(results_dir, "%s-%s-latency-%d.md" % (date, commit, n))
        n += 1
    with open(path, "w") as f:
        f.write("\n".join(md) + "\n")
    print("\n".join(md))
    print("wrote", path)
    subprocess.call([sys.executable,  # SVG charts beside it (bench/plot.py), status ignored
                     os.path.join(HERE, "..", "plot.py"), path])


if __name__ == "__main__":
    main()
