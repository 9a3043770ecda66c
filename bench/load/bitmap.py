#!/usr/bin/python3
"""Bitmaps side by side: server CPU per SETBIT and per BITCOUNT of 16 MB.

For redis-server and shardis (1 shard unless SHARDS says more), each pinned
to SERVER_CPU in turn, with the driver pinned to CLIENT_CPU:

  setup     SETBIT bm 134217727 0: a 16 MB bitmap (2^27 bits), untimed
  setbit    OPS SETBIT bm <random offset < 2^27> <random 0/1>, over CLIENTS
            connections keeping DEPTH commands in flight each (connection i
            writes the offsets equal to i modulo CLIENTS)
  bitcount  COUNTS BITCOUNT bm over the whole 16 MB (one connection, DEPTH
            in flight), the popcount of the bytes written by setbit

and reports, per server and workload, operations per second and the
server's CPU time (utime+stime of the whole process, /proc/PID/stat) per
operation, with the ratio to redis-server. Both servers must give the same
BITCOUNT (checked). Results go to bench/results/<date>-<commit>-bitmap.md.

    bench/load/bitmap.py
    SHARDIS_BIN=... OPS=200000 COUNTS=1000 bench/load/bitmap.py

Environment (defaults in brackets): SHARDIS_BIN [build/src/shardis-server],
REDIS_BIN [redis-server], SERVER_CPU [1], CLIENT_CPU [0], CLIENTS [4],
DEPTH [16], OPS SETBITs [200000], COUNTS BITCOUNTs [1000], SHARDS ["1"],
SEED [1], RESULTS_DIR [bench/results].
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

BITS = 1 << 27  # 16 MB


def drive(port, commands, clients, depth):
    """Sends the encoded commands (a list per connection), each connection
    keeping `depth` in flight; returns (replies, seconds, errors, last)."""
    sel = selectors.DefaultSelector()
    conns = []
    for i in range(clients):
        s = socket.create_connection(("127.0.0.1", port))
        s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        st = {"sock": s, "todo": commands[i], "next": 0, "inflight": 0, "buf": b"",
              "done": 0}
        conns.append(st)
        sel.register(s, selectors.EVENT_READ, st)
    errors, last = 0, None

    def send_more(st):
        n = min(depth - st["inflight"], len(st["todo"]) - st["next"])
        if n > 0:
            st["sock"].sendall(b"".join(st["todo"][st["next"]:st["next"] + n]))
            st["next"] += n
            st["inflight"] += n

    t0 = time.time()
    for st in conns:
        send_more(st)
    while any(st["inflight"] for st in conns):
        for key, _ in sel.select(timeout=30):
            st = key.data
            data = st["sock"].recv(1 << 16)
            if not data:
                raise RuntimeError("server closed the connection")
            st["buf"] += data
            pos = 0
            while st["inflight"]:
                try:
                    last, pos = parse_reply(st["buf"], pos)
                except Incomplete:
                    break
                st["inflight"] -= 1
                st["done"] += 1
                errors += isinstance(last, Exception)
            st["buf"] = st["buf"][pos:]
            send_more(st)
    secs = time.time() - t0
    for st in conns:
        st["sock"].close()
    return sum(st["done"] for st in conns), secs, errors, last


def workloads(ops, counts, clients, seed):
    # connection i writes only offsets congruent to i, so the final bitmap
    # does not depend on how the connections interleave
    rnd = random.Random(seed)
    per = [[encode_command("SETBIT", "bm", rnd.randrange(BITS // clients) * clients + i,
                           rnd.randrange(2)) for _ in range(ops // clients)]
           for i in range(clients)]
    return [("setbit", per, clients), ("bitcount", [[encode_command("BITCOUNT", "bm")] * counts],
                                       1)]


def main():
    shardis, redis_bin, server_cpu, client_cpu, shard_counts, results_dir = bench_env("1")
    clients = int(os.environ.get("CLIENTS", "4"))
    depth = int(os.environ.get("DEPTH", "16"))
    ops = int(os.environ.get("OPS", "200000"))
    counts = int(os.environ.get("COUNTS", "1000"))
    seed = int(os.environ.get("SEED", "1"))

    servers = server_list(shardis, redis_bin, shard_counts)
    loads = workloads(ops, counts, clients, seed)
    rows, answers = [], {}
    for name, argv in servers:
        proc, port = start(argv, server_cpu)
        try:
            with Client(port) as c:
                c.cmd("SETBIT", "bm", BITS - 1, 0)
                assert c.cmd("STRLEN", "bm") == BITS // 8
            for kind, cmds, nconn in loads:
                cpu0 = cpu_seconds(proc.pid)
                done, secs, errors, last = drive(port, cmds, nconn, depth)
                cpu = cpu_seconds(proc.pid) - cpu0
                if kind == "bitcount":
                    answers[name] = last
                rows.append((name, kind, done / secs, cpu / done * 1e6, errors))
                print("%-18s %-9s %9.0f ops/s  %9.2f us CPU/op  errors %d" %
                      (name, kind, done / secs, cpu / done * 1e6, errors), flush=True)
        finally:
            proc.terminate()
            proc.wait(10)
    if len(set(answers.values())) != 1:
        raise SystemExit("BITCOUNT differs between servers: %r" % answers)

    date = datetime.date.today().isoformat()
    commit = git_commit()
    lines = ["# Bitmaps side by side (%s, commit %s)" % (date, commit), "",
             "- command: `%s`" % " ".join(
                 ["%s=%s" % (k, os.environ[k]) for k in
                  ("SHARDIS_BIN", "OPS", "COUNTS", "CLIENTS", "DEPTH", "SHARDS")
                  if k in os.environ] + ["bench/load/bitmap.py"]),
             "- server pinned to CPU %d, driver (Python, raw RESP) to CPU %d; a 16 MB bitmap"
             " (2^27 bits) made by SETBIT bm 134217727 0 first (untimed)" %
             (server_cpu, client_cpu),
             "- setbit: %d SETBITs at random offsets < 2^27 (seed %d), %d connections, %d in"
             " flight each; bitcount: %d BITCOUNTs of the whole 16 MB, one connection,"
             " %d in flight (every server answered %s)" %
             (ops, seed, clients, depth, counts, depth, next(iter(answers.values()))),
             "- CPU/op: the server's utime+stime over the run divided by operations", ""]
    lines += ratio_table(rows, "ops/s", "op")
    write_results(results_dir, "%s-%s-bitmap.md" % (date, commit), lines)


if __name__ == "__main__":
    main()
