#!/usr/bin/python3
"""LRU hit rate under a Zipf load, side by side (issue 12): redis-server and
shardis (1 shard, then 2) with the same maxmemory and allkeys-lru serve a
cache-aside load: GET a key drawn from a Zipf distribution over KEYS keys
(rank r has weight 1/r^ZIPF_S, ranks scattered over the key names); on a
miss, SET it (VALUE bytes). Each server starts empty; the first WARM
operations fill it (not counted), then OPS operations are counted.

For each server it reports the hit rate of the counted operations, the
highest used_memory seen (sampled every 50 batches of BATCH requests, and at
the end) against maxmemory, evicted_keys, the keys kept and the RSS, and the
server's CPU per operation (utime+stime from /proc/PID/stat). The key draws
are the same for every server (a fixed seed). The load is pipelined in
batches of BATCH GETs, then the SETs of that batch's misses.

Prints a table and writes it to bench/results/<date>-<shortcommit>-evict-zipf.md
(SVG charts beside it, bench/plot.py).

    bench/load/evict_zipf.py
    OPS=200000 WARM=200000 bench/load/evict_zipf.py   (a quick run)

Environment (defaults in brackets):
  SHARDIS_BIN   shardis binary [build/src/shardis-server]
  REDIS_BIN     redis-server binary [redis-server]
  BENCH_PORT    loopback port [7791]
  SERVER_CPUS   CPUs the server is pinned to [1]; this process runs on CPU 0
  SHARDS        shardis shard counts, space-separated [1 2]
  MAXMEMORY     the limit [32mb]
  POLICY        maxmemory-policy [allkeys-lru]
  KEYS          distinct keys [1000000]
  VALUE         value size in bytes [100]
  ZIPF_S        the Zipf exponent [0.99]
  WARM, OPS     operations before counting, and counted [1000000, 1000000]
  BATCH         GETs per pipeline [200]
  EQUAL_KEYS    1: each shardis count runs again with maxmemory scaled so that
                it keeps as many keys as redis-server kept (a shardis key
                takes less memory: with the same limit it keeps more keys and
                hits more often; the scaled run compares the choice of
                victims alone) [1]
  RESULTS_DIR   where the .md goes [bench/results]
"""

import bisect
import datetime
import itertools
import os
import random
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from procstat import cpu_ticks, rss_kb  # noqa: E402
from procstat import env_int as _env_int  # noqa: E402
from benchserver import Server  # noqa: E402

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
HOST = "127.0.0.1"  # loopback only


def die(msg):
    sys.stderr.write("evict_zipf: %s\n" % msg)
    sys.exit(1)


def env_int(name, default, minimum=1):
    return _env_int(name, default, "evict_zipf", minimum)


def env_float(name, default):
    v = os.environ.get(name, "")
    try:
        return float(v) if v else default
    except ValueError:
        die("%s must be a number, not %r" % (name, v))


def parse_mem(s):
    s = s.strip().lower()
    for suffix, mul in (("gb", 1 << 30), ("mb", 1 << 20), ("kb", 1 << 10), ("b", 1)):
        if s.endswith(suffix):
            return int(float(s[:-len(suffix)]) * mul)
    return int(s)


def zipf_draws(nkeys, s, count, seed):
    """count ranks (0-based) drawn with weight 1/(r+1)^s."""
    cum = list(itertools.accumulate(1.0 / (r + 1) ** s for r in range(nkeys)))
    rnd = random.Random(seed)
    total = cum[-1]
    return [bisect.bisect_left(cum, rnd.random() * total) for _ in range(count)]


def run(srv, keys, draws, warm, value, batch, limit):
    r = srv.r
    pid = srv.proc.pid
    hits = counted = 0
    peak = 0
    c0 = None
    for bi, at in enumerate(range(0, len(draws), batch)):
        if at >= warm and c0 is None:
            c0 = cpu_ticks(pid)
        part = draws[at:at + batch]
        p = r.pipeline(transaction=False)
        for k in part:
            p.get(keys[k])
        got = p.execute()
        p = r.pipeline(transaction=False)
        miss = 0
        for k, v in zip(part, got):
            if v is None:
                p.set(keys[k], value)
                miss += 1
        if miss:
            p.execute()
        if at >= warm:
            counted += len(part)
            hits += len(part) - miss
        if bi % 50 == 0:
            peak = max(peak, int(r.info("memory")["used_memory"]))
    c1 = cpu_ticks(pid)
    mem = r.info("memory")
    peak = max(peak, int(mem["used_memory"]))
    stats = r.info("stats")
    hz = os.sysconf("SC_CLK_TCK")
    return {
        "hit": 100.0 * hits / counted if counted else 0.0,
        "peak": peak,
        "peak_ratio": peak / limit,
        "end_ratio": int(mem["used_memory"]) / limit,
        "evicted": int(stats.get("evicted_keys", 0)),
        "keys": r.dbsize(),
        "rss": rss_kb(pid),
        "cpu_us": (c1 - (c0 or c1)) * 1e6 / hz / counted if counted else 0.0,
    }


def main():
    shardis = os.path.abspath(os.environ.get("SHARDIS_BIN") or
                              os.path.join(ROOT, "build", "src", "shardis-server"))
    redis_bin = os.environ.get("REDIS_BIN", "redis-server")
    port = env_int("BENCH_PORT", 7791)
    cpus = os.environ.get("SERVER_CPUS", "1")
    shard_counts = [int(x) for x in os.environ.get("SHARDS", "1 2").split()]
    maxmemory = os.environ.get("MAXMEMORY", "32mb")
    policy = os.environ.get("POLICY", "allkeys-lru")
    nkeys = env_int("KEYS", 1000000)
    vsize = env_int("VALUE", 100)
    s = env_float("ZIPF_S", 0.99)
    warm = env_int("WARM", 1000000)
    ops = env_int("OPS", 1000000)
    batch = env_int("BATCH", 200)
    results_dir = os.environ.get("RESULTS_DIR", os.path.join(ROOT, "bench", "results"))
    if not os.access(shardis, os.X_OK):
        die("no shardis binary at %s (set SHARDIS_BIN)" % shardis)
    try:
        os.sched_setaffinity(0, {0})
    except OSError:
        pass
    limit = parse_mem(maxmemory)
    # ranks scattered over the names, so that hot keys are not neighbours
    names = ["key:%012d" % i for i in range(nkeys)]
    random.Random(7).shuffle(names)
    draws = zipf_draws(nkeys, s, warm + ops, seed=12)
    value = b"v" * vsize
    configs = [("redis-server", [redis_bin])]
    configs += [("shardis %d shard%s" % (n, "" if n == 1 else "s"),
                 [shardis, "--shards", str(n)]) for n in shard_counts]
    if env_int("EQUAL_KEYS", 1, minimum=0):
        configs += [("shardis %d shard%s, keys as redis" % (n, "" if n == 1 else "s"),
                     [shardis, "--shards", str(n)]) for n in shard_counts]
    rows = []
    kept = {}
    for name, argv in configs:
        srv = Server(name, argv, port, cpus, "evict_zipf")
        run_limit = limit
        if name.endswith(", keys as redis"):
            # used_memory grows with the keys kept: scale the limit by
            # redis-server's keys over this count's keys at the same limit
            plain = name[:-len(", keys as redis")]
            run_limit = int(limit * kept["redis-server"] / kept[plain])
            name += " (maxmemory %d)" % run_limit
        try:
            srv.r.config_set("maxmemory", str(run_limit))
            srv.r.config_set("maxmemory-policy", policy)
            t = time.time()
            res = run(srv, names, draws, warm, value, batch, run_limit)
            res["secs"] = time.time() - t
        finally:
            srv.stop()
        kept[name] = res["keys"]
        rows.append((name, res))
        print("%-18s hit %.2f %%  peak used %.3fx  end %.3fx  evicted %d  keys %d  rss %d kB  "
              "cpu/op %.2f us  (%.0f s)" % (name, res["hit"], res["peak_ratio"], res["end_ratio"],
                                           res["evicted"], res["keys"], res["rss"], res["cpu_us"],
                                           res["secs"]))
        sys.stdout.flush()
    try:
        commit = subprocess.check_output(["git", "-C", ROOT, "rev-parse", "--short", "HEAD"],
                                         text=True).strip()
    except (OSError, subprocess.CalledProcessError):
        commit = "unknown"
    ref = rows[0][1]["hit"]
    date = datetime.date.today().isoformat()
    md = ["# LRU hit rate under a Zipf load (%s, commit %s)" % (date, commit), "",
          "Command: `%s`" % " ".join(["%s=%s" % (k, os.environ[k]) for k in
                                      ("SHARDIS_BIN", "SHARDS", "MAXMEMORY", "KEYS", "VALUE",
                                       "ZIPF_S", "WARM", "OPS", "BATCH")
                                      if k in os.environ] + ["bench/load/evict_zipf.py"]), "",
          "maxmemory %s, %s, %d keys, %d-byte values, Zipf s=%.2f, cache-aside (GET, SET on "
          "a miss), %d operations to warm up, %d counted; server on CPU %s, client on CPU 0." %
          (maxmemory, policy, nkeys, vsize, s, warm, ops, cpus), "",
          "| server | hit rate (%) | points vs redis | peak used_memory / maxmemory | "
          "end used_memory / maxmemory | evicted keys | keys kept | RSS (kB) | "
          "CPU per op (us) |",
          "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |"]
    for name, res in rows:
        md.append("| %s | %.2f | %+.2f | %.3f | %.3f | %d | %d | %d | %.2f |" %
                  (name, res["hit"], res["hit"] - ref, res["peak_ratio"], res["end_ratio"],
                   res["evicted"], res["keys"], res["rss"], res["cpu_us"]))
    md += ["", "Hit rate alone (the goal: within 2 points of redis-server's; the rows "
           "\"keys as redis\" hold as many keys as redis-server did, so they compare the "
           "choice of victims alone):", "",
           "| server | hit rate (%) |", "| --- | ---: |"]
    md += ["| %s | %.2f |" % (name, res["hit"]) for name, res in rows]
    os.makedirs(results_dir, exist_ok=True)
    path = os.path.join(results_dir, "%s-%s-evict-zipf.md" % (date, commit))
    with open(path, "w") as f:
        f.write("\n".join(md) + "\n")
    print("\n".join(md))
    print("wrote", path)
    subprocess.call([sys.executable,  # SVG charts beside it (bench/plot.py), status ignored
                     os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "plot.py"), path])


if __name__ == "__main__":
    main()
