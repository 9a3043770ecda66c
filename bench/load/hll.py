#!/usr/bin/python3
"""HyperLogLog side by side: server CPU per PFADD and per PFCOUNT.

For redis-server and shardis (SHARDS, 1 by default), each pinned to
SERVER_CPU in turn, this drives with CLIENTS connections (the driver pinned
to CLIENT_CPU), each keeping DEPTH commands in flight, over KEYS keys:

  pfadd     PFADD of ELEMS random elements to a random key (each key ends
            with about OPS*ELEMS/KEYS elements: sparse first, then dense)
  pfcount   PFCOUNT of a random key (the cache is fresh after the first
            count of each key: the cached path)
  mixed     PFADD of ELEMS new elements then PFCOUNT of the same key, so
            most counts recompute (the histogram and estimator path)

and reports, per server and workload, operations per second and the
server's CPU time (utime+stime of the whole process, /proc/PID/stat) per
operation, with the ratio to redis-server's. Results go to
bench/results/<date>-<commit>-hll.md.

    bench/load/hll.py
    SHARDIS_BIN=/tmp/b/src/shardis-server OPS=50000 bench/load/hll.py

Environment (defaults in brackets): SHARDIS_BIN [build/src/shardis-server],
REDIS_BIN [redis-server], SERVER_CPU [1], CLIENT_CPU [0], CLIENTS [8],
DEPTH [4], OPS commands per workload [40000], KEYS [200], ELEMS [3],
SHARDS ["1"], WORKLOADS ["pfadd pfcount mixed"], RESULTS_DIR
[bench/results].
"""

import datetime
import os
import random
import selectors
import socket
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, os.path.join(ROOT, "bench", "load"))
sys.path.insert(0, os.path.join(ROOT, "tests", "integration"))
from harness import Client, encode_command, parse_reply, Incomplete  # noqa: E402
from txn import (bench_env, cpu_seconds, git_commit, ratio_table, server_list,  # noqa: E402
                 start, write_results)


def one_op(kind, rnd, nkeys, elems):
    key = "hll:%d" % rnd.randrange(nkeys)
    adds = ["e:%d" % rnd.getrandbits(48) for _ in range(elems)]
    if kind == "pfadd":
        return [("PFADD", key, *adds)]
    if kind == "pfcount":
        return [("PFCOUNT", key)]
    return [("PFADD", key, *adds), ("PFCOUNT", key)]


def drive(port, kind, ops, clients, depth, nkeys, elems, seed):
    """Each connection keeps `depth` operations in flight; returns
    (commands done, seconds, error replies)."""
    sel = selectors.DefaultSelector()
    conns = []
    per = ops // clients
    for i in range(clients):
        s = socket.create_connection(("127.0.0.1", port))
        s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        st = {"sock": s, "rnd": random.Random(seed * 1000 + i), "left": per, "inflight": [],
              "buf": b"", "done": 0}
        conns.append(st)
        sel.register(s, selectors.EVENT_READ, st)
    errors = 0

    def send_more(st):
        out = []
        while st["left"] > 0 and len(st["inflight"]) < depth:
            cmds = one_op(kind, st["rnd"], nkeys, elems)
            st["inflight"].append(len(cmds))
            st["left"] -= 1
            out += [encode_command(*c) for c in cmds]
        if out:
            st["sock"].sendall(b"".join(out))

    t0 = time.monotonic()
    for st in conns:
        send_more(st)
    pending = sum(1 for st in conns if st["inflight"])
    while pending:
        for key, _ in sel.select(timeout=30):
            st = key.data
            data = st["sock"].recv(1 << 16)
            if not data:
                raise RuntimeError("server closed the connection")
            st["buf"] += data
            pos = 0
            while st["inflight"]:
                try:
                    p = pos
                    replies = []
                    for _ in range(st["inflight"][0]):
                        r, p = parse_reply(st["buf"], p)
                        replies.append(r)
                except Incomplete:
                    break
                pos = p
                st["done"] += st["inflight"].pop(0)
                errors += sum(1 for r in replies if isinstance(r, Exception))
            st["buf"] = st["buf"][pos:]
            send_more(st)
        pending = sum(1 for st in conns if st["inflight"])
    secs = time.monotonic() - t0
    for st in conns:
        st["sock"].close()
    return sum(st["done"] for st in conns), secs, errors


def cpu_model():
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return "unknown CPU"


def main():
    shardis, redis_bin, server_cpu, client_cpu, shard_counts, results_dir = bench_env("1")
    clients = int(os.environ.get("CLIENTS", "8"))
    depth = int(os.environ.get("DEPTH", "4"))
    ops = int(os.environ.get("OPS", "40000"))
    nkeys = int(os.environ.get("KEYS", "200"))
    elems = int(os.environ.get("ELEMS", "3"))
    workloads = os.environ.get("WORKLOADS", "pfadd pfcount mixed").split()

    servers = server_list(shardis, redis_bin, shard_counts)
    rows = []
    for name, argv in servers:
        proc, port = start(argv, server_cpu)
        try:
            with Client(port) as c:
                c.cmd("FLUSHALL")
            for w, kind in enumerate(workloads):
                cpu0 = cpu_seconds(proc.pid)
                done, secs, errors = drive(port, kind, ops, clients, depth, nkeys, elems, w)
                cpu = cpu_seconds(proc.pid) - cpu0
                rows.append((name, kind, done / secs, cpu / done * 1e6, errors))
                print("%-18s %-8s %9.0f cmd/s  %7.2f us CPU/cmd  errors %d" %
                      (name, kind, done / secs, cpu / done * 1e6, errors), flush=True)
            with Client(port) as c:
                dense = sum(1 for i in range(nkeys)
                            if c.cmd("PFDEBUG", "ENCODING", "hll:%d" % i) == "dense")
            print("%-18s %d of %d keys dense at the end" % (name, dense, nkeys), flush=True)
        finally:
            proc.terminate()
            proc.wait(10)

    date = datetime.date.today().isoformat()
    commit = git_commit()
    lines = ["# HyperLogLog side by side (%s, commit %s)" % (date, commit), "",
             "- machine: %s, %d CPUs, kernel %s" % (cpu_model(), os.cpu_count(),
                                                    os.uname().release),
             "- command: `%s`" % " ".join(
                 ["%s=%s" % (k, os.environ[k]) for k in
                  ("SHARDIS_BIN", "OPS", "CLIENTS", "DEPTH", "KEYS", "ELEMS", "SHARDS",
                   "WORKLOADS") if k in os.environ] + ["bench/load/hll.py"]),
             "- server pinned to CPU %d, driver (Python, raw RESP) to CPU %d; %d connections,"
             " %d operations in flight each, %d operations per workload over %d keys,"
             " %d random elements per PFADD" %
             (server_cpu, client_cpu, clients, depth, ops, nkeys, elems),
             "- workloads run in order on one server: pfadd, then pfcount (cached counts),"
             " then mixed (PFADD + PFCOUNT: counts recomputed)",
             "- CPU/cmd: the server's utime+stime over the run divided by commands"
             " (mixed counts PFADD and PFCOUNT each as one)", ""]
    lines += ratio_table(rows, "cmd/s", "cmd")
    write_results(results_dir, "%s-%s-hll.md" % (date, commit), lines)


if __name__ == "__main__":
    main()
