#!/usr/bin/python3
"""Geo side by side: server CPU to load a geo set and per GEOSEARCH query.

For redis-server and shardis (1 shard by default), each pinned to SERVER_CPU
in turn, with the driver pinned to CLIENT_CPU:

  load    GEOADD of MEMBERS points (uniform over a 10 x 10 degree box) into
          one key, BATCH members per GEOADD, DEPTH commands in flight
  search  QUERIES GEOSEARCH key FROMLONLAT lon lat BYRADIUS r km, centres
          uniform inside the box (away from its edges), r chosen so that a
          query finds about HITS members; CLIENTS connections, DEPTH
          queries in flight each

and reports the server's CPU time (utime+stime of the whole process,
/proc/PID/stat) per member loaded and per query, and the ratio to
redis-server. Both servers get the same points and the same queries; the
first 200 replies of each server are compared (the geo set is the same
sorted set on both, so they must be equal). Results go to
bench/results/<date>-<commit>-geo.md.

    bench/load/geo.py
    SHARDIS_BIN=... QUERIES=20000 bench/load/geo.py

Environment (defaults in brackets): SHARDIS_BIN [build/src/shardis-server],
REDIS_BIN [redis-server], SERVER_CPU [1], CLIENT_CPU [0], MEMBERS [1000000],
BATCH [1000], QUERIES [20000], HITS [100], CLIENTS [8], DEPTH [4], SHARDS
["1"], RESULTS_DIR [bench/results].
"""

import datetime
import math
import os
import random
import selectors
import socket
import subprocess
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, os.path.join(ROOT, "bench", "load"))
sys.path.insert(0, os.path.join(ROOT, "tests", "integration"))
from harness import Client, encode_command, parse_reply, Incomplete  # noqa: E402
from txn import (bench_env, cpu_seconds, git_commit, start, server_list)  # noqa: E402
from procstat import env_int as _env_int  # noqa: E402

KEY = "geo"
LON0, LON1, LAT0, LAT1 = 0.0, 10.0, 40.0, 50.0
EARTH_RADIUS_KM = 6372.797560856
COMPARE = 200


def radius_km(members, hits):
    """The radius whose circle holds `hits` of `members` points spread
    uniformly over the box (its area on the sphere)."""
    area = EARTH_RADIUS_KM ** 2 * math.radians(LON1 - LON0) * (
        math.sin(math.radians(LAT1)) - math.sin(math.radians(LAT0)))
    return math.sqrt(hits / (members / area) / math.pi)


def load_commands(members, batch):
    rnd = random.Random(1)
    cmds = []
    for first in range(0, members, batch):
        args = ["GEOADD", KEY]
        for i in range(first, min(first + batch, members)):
            args += ["%.6f" % rnd.uniform(LON0, LON1), "%.6f" % rnd.uniform(LAT0, LAT1), "m%d" % i]
        cmds.append(encode_command(*args))
    return cmds


def query_commands(queries, r):
    rnd = random.Random(2)
    return [encode_command("GEOSEARCH", KEY, "FROMLONLAT", "%.6f" % rnd.uniform(LON0 + 1, LON1 - 1),
                           "%.6f" % rnd.uniform(LAT0 + 1, LAT1 - 1), "BYRADIUS", "%.4f" % r, "km")
            for _ in range(queries)]


def drive(port, cmds, clients, depth, keep):
    """Sends cmds over `clients` connections, `depth` in flight on each.
    Returns (seconds, errors, total array length, the first `keep` replies
    in command order)."""
    sel = selectors.DefaultSelector()
    conns = []
    for i in range(clients):
        s = socket.create_connection(("127.0.0.1", port))
        s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        st = {"sock": s, "todo": list(range(i, len(cmds), clients)), "next": 0, "inflight": [],
              "buf": b""}
        conns.append(st)
        sel.register(s, selectors.EVENT_READ, st)
    errors, hits, kept = 0, 0, {}

    def send_more(st):
        out = []
        while st["next"] < len(st["todo"]) and len(st["inflight"]) < depth:
            idx = st["todo"][st["next"]]
            st["next"] += 1
            st["inflight"].append(idx)
            out.append(cmds[idx])
        if out:
            st["sock"].sendall(b"".join(out))

    t0 = time.time()
    for st in conns:
        send_more(st)
    pending = sum(1 for st in conns if st["inflight"])
    while pending:
        for key, _ in sel.select(timeout=60):
            st = key.data
            data = st["sock"].recv(1 << 20)
            if not data:
                raise RuntimeError("server closed the connection")
            st["buf"] += data
            pos = 0
            while st["inflight"]:
                try:
                    reply, pos = parse_reply(st["buf"], pos)
                except Incomplete:
                    break
                idx = st["inflight"].pop(0)
                if isinstance(reply, Exception):
                    errors += 1
                elif isinstance(reply, list):
                    hits += len(reply)
                if idx < keep:
                    kept[idx] = reply
            st["buf"] = st["buf"][pos:]
            send_more(st)
        pending = sum(1 for st in conns if st["inflight"])
    secs = time.time() - t0
    for st in conns:
        st["sock"].close()
    return secs, errors, hits, [kept.get(i) for i in range(min(keep, len(cmds)))]


def env_int(name, default):
    return _env_int(name, default, "geo")


def main():
    shardis, redis_bin, server_cpu, client_cpu, shard_counts, results_dir = bench_env("1")
    members, batch = env_int("MEMBERS", 1000000), env_int("BATCH", 1000)
    queries, hits_wanted = env_int("QUERIES", 20000), env_int("HITS", 100)
    clients, depth = env_int("CLIENTS", 8), env_int("DEPTH", 4)

    r = radius_km(members, hits_wanted)
    loads = load_commands(members, batch)
    searches = query_commands(queries, r)
    servers = server_list(shardis, redis_bin, shard_counts)
    rows, first = [], None
    for name, argv in servers:
        proc, port = start(argv, server_cpu)
        try:
            cpu0 = cpu_seconds(proc.pid)
            secs, errors, _, _ = drive(port, loads, 1, depth, 0)
            load_cpu = cpu_seconds(proc.pid) - cpu0
            with Client(port) as c:
                card = c.cmd("ZCARD", KEY)
            cpu0 = cpu_seconds(proc.pid)
            qsecs, qerrors, hits, kept = drive(port, searches, clients, depth, COMPARE)
            qcpu = cpu_seconds(proc.pid) - cpu0
        finally:
            proc.terminate()
            proc.wait(30)
        same = "-" if first is None else ("yes" if kept == first else "NO")
        first = kept if first is None else first
        rows.append((name, members / secs, load_cpu / members * 1e6, queries / qsecs,
                     qcpu / queries * 1e6, hits / queries, errors + qerrors, card, same))
        print("%-18s load %8.0f members/s %6.2f us CPU/member | search %7.0f q/s %7.2f us CPU/q"
              " %.1f hits/q | errors %d card %s same %s" % rows[-1], flush=True)

    date = datetime.date.today().isoformat()
    commit = git_commit()
    lines = ["# Geo side by side (%s, commit %s)" % (date, commit), "",
             "- command: `%s`" % " ".join(
                 ["%s=%s" % (k, os.environ[k]) for k in
                  ("SHARDIS_BIN", "MEMBERS", "BATCH", "QUERIES", "HITS", "CLIENTS", "DEPTH", "SHARDS")
                  if k in os.environ] + ["bench/load/geo.py"]),
             "- server pinned to CPU %d, driver (Python, raw RESP) to CPU %d" % (server_cpu, client_cpu),
             "- load: GEOADD of %d members, %d per command, %d commands in flight, one connection"
             % (members, batch, depth),
             "- search: %d GEOSEARCH FROMLONLAT BYRADIUS %.4f km (about %d hits each), %d connections,"
             " %d in flight each" % (queries, r, hits_wanted, clients, depth),
             "- CPU: the server's utime+stime over the phase divided by members / queries; "
             "\"same\": the first %d replies equal redis-server's" % COMPARE, "",
             "| server | load members/s | CPU per member (us) | ratio | queries/s | CPU per query (us)"
             " | ratio | hits per query | errors | same |",
             "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |"]
    base_load, base_q = rows[0][2], rows[0][4]
    for name, lps, lcpu, qps, qcpu, hpq, errors, _, same in rows:
        lines.append("| %s | %.0f | %.2f | %.2fx | %.0f | %.2f | %.2fx | %.1f | %d | %s |" % (
            name, lps, lcpu, lcpu / base_load if base_load else 0, qps, qcpu,
            qcpu / base_q if base_q else 0, hpq, errors, same))
    os.makedirs(results_dir, exist_ok=True)
    path = os.path.join(results_dir, "%s-%s-geo.md" % (date, commit))
    with open(path, "w") as f:
        f.write("\n".join(lines) + "\n")
    print("wrote", path)
    subprocess.call([sys.executable,  # SVG charts beside it (bench/plot.py), status ignored
                     os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "plot.py"), path])


if __name__ == "__main__":
    main()
